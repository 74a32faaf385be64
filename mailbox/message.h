/* message.h - message nodes: what a mailbox holds.
 *
 * A message is one allocation: the queue link, the header and, for bytes
 * messages, the payload copied right after the header (so a small message
 * is one cache-friendly block and a send is one allocation). A pointer
 * message carries the sender's pointer and an optional destructor that runs
 * if nobody takes the pointer, in the payload's place.
 *
 * Ownership: the sender builds the node and gives it to exactly one mailbox;
 * from then on only the receiving process touches it, until hive_msg_free()
 * (or the mailbox's owner is reclaimed, see core/process.c).
 */
#ifndef HIVE_MAILBOX_MESSAGE_H
#define HIVE_MAILBOX_MESSAGE_H

#include <hive/message.h>

#include <stdint.h>
#include <string.h>

#include "mailbox/alloc.h"
#include "mailbox/mpsc.h"

/* Kinds. Signals travel in the mailbox with the messages, so a pair of
 * processes sees messages and signals in the order they were sent; the
 * receiver turns them into EXIT / DOWN messages or acts on them. */
enum {
    HIVE__MSG_BYTES = 0,
    HIVE__MSG_PTR = 1,
    HIVE__MSG_SIG_LINK_EXIT = 2, /* a linked process ended; data: hive_exit_info_t */
    HIVE__MSG_SIG_EXIT = 3,      /* hive_send_exit / hive_kill; data: hive_exit_info_t */
    HIVE__MSG_SIG_DOWN = 4,      /* a monitored process ended; data: hive_down_info_t */
};

/* Messages a process has received and not yet freed: freed with it if it
 * dies holding them (a killed process runs no more code to free them). */
typedef struct hive__msg_list {
    struct hive_msg *head;
} hive__msg_list_t;

/* 56 bytes of header: with up to 8 bytes of payload a message is one
 * 64-byte allocation, one cache line to carry across cores. The held list
 * is an hlist (Linux's): pprev points at the previous node's next, or at
 * the list's head, so unlinking needs no pointer to the list. */
struct hive_msg {
    hive__mpsc_node_t node;     /* first: mailbox link */
    struct hive_msg *next;      /* the receiver's skipped list, then its held list */
    struct hive_msg **pprev;    /* held list: whatever points at us; NULL = not held */
    uint64_t tag;
    hive_pid_t from;
    uint64_t reply;             /* a call's reply alias (core/actor.c), else 0 */
    uint32_t kind;              /* HIVE__MSG_* */
    uint32_t len;               /* HIVE__MSG_BYTES: payload bytes */
    /* HIVE__MSG_BYTES: the payload (8-byte aligned); HIVE__MSG_PTR: a
     * hive__msg_ptr_t. */
    _Alignas(8) unsigned char data[];
};

/* A pointer message's payload. */
typedef struct hive__msg_ptr {
    void *ptr;                  /* NULL once taken */
    void (*dtor)(void *);
} hive__msg_ptr_t;

static inline hive_msg_t *hive__msg_of(hive__mpsc_node_t *n) { return (hive_msg_t *)(void *)n; }

/* A new node's header: not queued, not held, not a call. */
static inline void hive__msg_init(hive_msg_t *m, uint64_t tag, hive_pid_t from, uint32_t kind,
                                  uint32_t len)
{
    m->next = NULL;
    m->pprev = NULL;
    m->tag = tag;
    m->from = from;
    m->reply = 0;
    m->kind = kind;
    m->len = len;
}

/* Node memory: message nodes, and other small blocks made and freed once
 * per message (a call's wait timer). A block of up to HIVE__MSG_CACHED_MAX
 * bytes is rounded up to its class (64, 96 or 128 bytes) wherever it is
 * made, and a worker thread keeps freed blocks of each class in a small
 * cache of its own (message.c): a message received and freed on the worker
 * that sends the next one costs no allocator call. Free with the size it
 * was allocated with. Any thread may call these; only threads that called
 * hive__msg_cache_attach() cache. NULL when out of memory. */
#define HIVE__MSG_CACHED_MAX 128
void *hive__msg_alloc(size_t size);
void hive__msg_dealloc(void *p, size_t size);
/* The calling thread caches from now on / frees what it cached and stops
 * (a worker, at its start and its end). */
void hive__msg_cache_attach(void);
void hive__msg_cache_detach(void);
/* Nodes the calling thread holds in its cache / all threads' spare nodes
 * in the shared depot (tests). */
size_t hive__msg_cache_count(void);
size_t hive__msg_depot_count(void);
/* Batches the calling thread has taken from the depot (tests). */
size_t hive__msg_depot_taken(void);

/* Copy n bytes between buffers that do not overlap. Up to 32 bytes (most
 * messages: a count, a pointer, a small struct) inline, as two possibly
 * overlapping moves of a word size: the C library's memcpy is a call, and
 * glibc's AVX-512 variant moves short lengths with masked vector loads and
 * stores, which cost ~20 cycles each on this AMD EPYC. With an 8-byte
 * payload inline, actor_cast on one worker went 23 -> 16 ns and actor_call
 * 135 -> 125 (alternating builds, 3 rounds). */
/* n bytes (w <= n <= 2w) as a w-byte move at each end, possibly
 * overlapping. w is a constant wherever this is inlined: the moves are
 * plain loads and stores. */
__attribute__((always_inline)) static inline void hive__msg_copy_ends(unsigned char *d,
                                                                    const unsigned char *s,
                                                                    size_t n, size_t w)
{
    unsigned char a[16], b[16];
    memcpy(a, s, w);
    memcpy(b, s + n - w, w);
    memcpy(d, a, w);
    memcpy(d + n - w, b, w);
}

static inline void hive__msg_copy(void *restrict d, const void *restrict s, size_t n)
{
    unsigned char *dd = d;
    const unsigned char *ss = s;
    if (n > 32) {
        memcpy(d, s, n);
    } else if (n >= 16) {
        hive__msg_copy_ends(dd, ss, n, 16);
    } else if (n >= 8) {
        hive__msg_copy_ends(dd, ss, n, 8);
    } else if (n >= 4) {
        hive__msg_copy_ends(dd, ss, n, 4);
    } else if (n) {
        unsigned char a = ss[0], b = ss[n / 2], c = ss[n - 1];
        dd[0] = a;
        dd[n / 2] = b;
        dd[n - 1] = c;
    }
}

/* NULL when out of memory. Inline: it is most of a send. */
static inline hive_msg_t *hive__msg_new_bytes(uint64_t tag, hive_pid_t from, const void *data,
                                              size_t len)
{
    hive_msg_t *m = hive__msg_alloc(sizeof *m + len);
    if (!m)
        return NULL;
    hive__msg_init(m, tag, from, HIVE__MSG_BYTES, (uint32_t)len);
    hive__msg_copy(m->data, data, len);
    return m;
}
hive_msg_t *hive__msg_new_ptr(uint64_t tag, hive_pid_t from, void *ptr, void (*dtor)(void *));
/* Put a received message on its receiver's held list (the receiver only). */
void hive__msg_hold(hive__msg_list_t *l, hive_msg_t *m);
/* Free every message still held (the owner is dead). */
void hive__msg_free_held(hive__msg_list_t *l);

/* Free a message that was never delivered: unlike hive_msg_free, a pointer
 * message's dtor does not run (the sender keeps ownership on failure). */
void hive__msg_discard(hive_msg_t *m);

#endif
