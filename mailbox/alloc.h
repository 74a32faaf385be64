/* alloc.h - the allocation layer every part of hive allocates through.
 *
 * It sits in mailbox/, the lowest layer, because message nodes are its
 * hottest user; sched/ and core/ use it too. Release builds call jemalloc
 * (its own malloc, looked up in its library, and sdallocx: sized free skips
 * the size lookup, and thread caches make a free on another thread cheap)
 * without replacing the program's malloc. Sanitizer builds use libc malloc so ASan sees every block.
 * Every block is freed with the size it was allocated with.
 *
 * Any thread may call any of these. hive__alloc returns NULL on failure (or
 * when a test's failure hook says so); callers turn that into -ENOMEM.
 */
#ifndef HIVE_MAILBOX_ALLOC_H
#define HIVE_MAILBOX_ALLOC_H

#include <stdbool.h>
#include <stddef.h>

void *hive__alloc(size_t size);
void *hive__zalloc(size_t size);
void hive__free(void *p, size_t size);

/* Tests: when set, the hook is asked before each allocation and a true
 * answer makes that allocation fail. Not for production use. */
typedef bool (*hive__alloc_fail_fn)(size_t size);
void hive__alloc_set_fail_hook(hive__alloc_fail_fn fn);

#endif
