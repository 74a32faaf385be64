/* embed_server.c - a server's own threads handing requests to hive.
 *
 * The shape an embedding server has: it owns its threads (here: 4 "request
 * handler" threads standing in for an HTTP server's pool), and hive runs the
 * business logic as processes. Each handler thread attaches to the runtime
 * (hive_thread_attach), sends a request to a named hive process and blocks
 * on hive_receive for the reply - blocking its own thread, never a worker.
 *
 * The hive side is a tiny key/value store: one process owns the table (no
 * locks: only it touches the data) and answers {get, put} requests with the
 * sender's pid from the message.
 *
 * Build: part of the hive build (examples/), or against an installed hive:
 *   cc embed_server.c $(pkg-config --cflags --libs hive) -o embed_server
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <hive/hive.h>

enum { TAG_PUT = 1, TAG_GET, TAG_REPLY, TAG_QUIT };

typedef struct request {
    int key;
    long value;
} request_t;

#define KEYS 64

/* The store: a process that owns its state and serves requests in order. */
static void kv_store(void *arg)
{
    long table[KEYS] = {0};
    hive_msg_t *m;
    while (hive_receive(HIVE_INFINITY, &m) == 0) {
        uint64_t tag = hive_msg_tag(m);
        request_t rq;
        if (tag == TAG_QUIT) {
            hive_msg_free(m);
            return;
        }
        if (hive_msg_size(m) == sizeof rq) {
            memcpy(&rq, hive_msg_data(m), sizeof rq);
            int k = ((rq.key % KEYS) + KEYS) % KEYS;
            if (tag == TAG_PUT)
                table[k] += rq.value;
            rq.value = table[k];
            hive_send(hive_msg_from(m), TAG_REPLY, &rq, sizeof rq);
        }
        hive_msg_free(m);
    }
}

/* One round trip from a server thread: send, then wait for the reply. */
static int call(int tag, int key, long value, long *out)
{
    request_t rq = {key, value};
    int rc = hive_send_named("kv", (uint64_t)tag, &rq, sizeof rq);
    if (rc != 0)
        return rc;
    hive_msg_t *m;
    if ((rc = hive_receive_tag(TAG_REPLY, 5000, &m)) != 0)
        return rc;
    memcpy(&rq, hive_msg_data(m), sizeof rq);
    hive_msg_free(m);
    *out = rq.value;
    return 0;
}

static void *handler_thread(void *arg)
{
    long id = (long)(intptr_t)arg, v;
    if (hive_thread_attach(NULL) != 0)
        return (void *)1;
    for (int i = 0; i < 1000; i++) {
        if (call(TAG_PUT, (int)id, 1, &v) != 0) {
            hive_thread_detach();
            return (void *)1;
        }
    }
    hive_thread_detach();
    return NULL;
}

int main(void)
{
    hive_diag_t diag;
    int rc = hive_runtime_start(NULL, &diag); /* defaults, HIVE_* env, $HIVE_CONFIG */
    if (rc != 0) {
        fprintf(stderr, "hive: %s\n", diag.message);
        return 1;
    }
    hive_pid_t kv;
    if ((rc = hive_spawn(kv_store, NULL, &kv)) != 0 || (rc = hive_register("kv", kv)) != 0) {
        fprintf(stderr, "starting the store: %s\n", hive_strerror(rc));
        return 1;
    }

    pthread_t th[4];
    for (long i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, handler_thread, (void *)(intptr_t)i);
    int failed = 0;
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(th[i], &r);
        failed += r != NULL;
    }

    /* Read back the totals from this thread too. */
    hive_thread_attach(NULL);
    long total = 0, v;
    for (int k = 0; k < 4; k++)
        if (call(TAG_GET, k, 0, &v) == 0)
            total += v;
    hive_send(kv, TAG_QUIT, NULL, 0);
    hive_thread_detach();
    hive_runtime_stop();

    printf("4 server threads x 1000 requests: total %ld (%s)\n", total,
           !failed && total == 4000 ? "ok" : "WRONG");
    return !failed && total == 4000 ? 0 : 1;
}
