/* hive/message.h - sending and receiving messages.
 *
 * A message is {tag, payload}. The payload is either bytes copied into the
 * message (small ones inline in the message node) or a pointer whose
 * ownership moves to the receiver. Between any pair of processes, order is
 * kept. Sending to a pid that is dead or never existed does nothing and
 * returns -ESRCH (Erlang's silent send, with the fact reported).
 *
 * Receiving takes the oldest message that matches (all, a tag, several
 * tags, or a predicate); the messages it skips stay queued, in order.
 * A received message belongs to the receiver until hive_msg_free().
 */
#ifndef HIVE_MESSAGE_H
#define HIVE_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hive/process.h>
#include <hive/visibility.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HIVE_INFINITY ((int64_t)-1)

/* Tag ranges.
 *   [0, HIVE_TAG_SUBJECT_BASE)                 free for the user's own tags
 *   [HIVE_TAG_SUBJECT_BASE, HIVE_TAG_ALIAS_BASE) subjects' tags (hive_subject_new)
 *   [HIVE_TAG_ALIAS_BASE, HIVE_TAG_RESERVED)    reply aliases (hive_call, tasks):
 *       a message with an alias tag reaches its process only while the alias
 *       is active, so a reply that comes after its call timed out is dropped
 *   [HIVE_TAG_RESERVED, UINT64_MAX]             hive's own (EXIT, DOWN, system
 *       messages); hive_send refuses them */
#define HIVE_TAG_SUBJECT_BASE UINT64_C(0x4000000000000000)
#define HIVE_TAG_ALIAS_BASE UINT64_C(0xC000000000000000)
#define HIVE_TAG_RESERVED UINT64_C(0xFFFFFFFFFFFFFF00)

typedef struct hive_msg hive_msg_t;

/* hive_send - copy len bytes of data (data may be NULL when len is 0) into a
 * message {tag, bytes} for `to`. Any thread. 0, -ESRCH (no such process),
 * -EMSGSIZE (len over max_message_size), -EINVAL, -ENOMEM, -EPERM (runtime
 * not running). */
HIVE_API int hive_send(hive_pid_t to, uint64_t tag, const void *data, size_t len);

/* hive_send_ptr - send the pointer itself: on success its ownership moves to
 * the receiver (hive_msg_take_ptr), and if the receiver dies with the message
 * unread, dtor(ptr) runs (dtor may be NULL). On failure the caller still
 * owns ptr. Same errors as hive_send. */
HIVE_API int hive_send_ptr(hive_pid_t to, uint64_t tag, void *ptr, void (*dtor)(void *));

/* Receive. timeout_ms: 0 = poll, HIVE_INFINITY = wait for ever, else
 * milliseconds. A process or an attached thread (hive/thread.h). 0 with
 * *out set, -ETIMEDOUT, -EINVAL (out NULL), -EPERM (not a process),
 * -ENOMEM (a process must wait with a timeout and no timer could be made;
 * nothing was taken), -ESHUTDOWN (an attached thread whose wait another
 * thread's hive_runtime_stop ended; the thread is detached from then on). */
HIVE_API int hive_receive(int64_t timeout_ms, hive_msg_t **out);
/* The oldest message with this tag. */
HIVE_API int hive_receive_tag(uint64_t tag, int64_t timeout_ms, hive_msg_t **out);
/* A selector: the oldest message whose tag is any of tags[0..n). */
HIVE_API int hive_receive_tags(const uint64_t *tags, size_t n, int64_t timeout_ms,
                               hive_msg_t **out);
/* The oldest message for which match(msg, ctx) is true. match runs in the
 * receiver and must not call hive. */
typedef bool (*hive_match_fn_t)(const hive_msg_t *msg, void *ctx);
HIVE_API int hive_receive_match(hive_match_fn_t match, void *ctx, int64_t timeout_ms,
                                hive_msg_t **out);

/* A received message. */
HIVE_API uint64_t hive_msg_tag(const hive_msg_t *m);
HIVE_API hive_pid_t hive_msg_from(const hive_msg_t *m);   /* HIVE_PID_NONE if unknown */
HIVE_API const void *hive_msg_data(const hive_msg_t *m);  /* bytes (8-byte aligned), or NULL */
HIVE_API size_t hive_msg_size(const hive_msg_t *m);       /* bytes; 0 for pointers */
/* The pointer of a hive_send_ptr message, now the caller's (its dtor will
 * not run); NULL for a bytes message or when already taken. */
HIVE_API void *hive_msg_take_ptr(hive_msg_t *m);
/* Free a received message (runs the dtor of an untaken pointer). Only the
 * process that received it may free it; messages a process still holds
 * when it ends are freed with it (a killed process cannot free them). */
HIVE_API void hive_msg_free(hive_msg_t *m);

#ifdef __cplusplus
}
#endif
#endif
