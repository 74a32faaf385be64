/* main.c - the smallest program a user of an installed hive writes: it sees
 * only <hive/hive.h> and links only the installed library. tests/consumer/run.sh
 * builds it through find_package(hive) and through pkg-config and checks what
 * it prints. */
#include <hive/hive.h>

#include <stdio.h>

int main(void)
{
    hive_config_t cfg;
    hive_config_init(&cfg);
    int rc = hive_runtime_start(NULL, NULL);
    if (rc != 0) {
        fprintf(stderr, "hive_runtime_start: %s\n", hive_strerror(rc));
        return 1;
    }
    int workers = hive_runtime_workers();
    rc = hive_runtime_stop();
    printf("workers>0: %s\nstop: %d\n%s\n", workers > 0 ? "yes" : "no", rc, hive_strerror(-ESRCH));
    return workers > 0 && rc == 0 ? 0 : 1;
}
