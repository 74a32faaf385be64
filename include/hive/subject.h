/* hive/subject.h - subjects (typed channels), selectors and calls.
 *
 * A subject is {owner pid, tag}: an address for one kind of message to one
 * process (Gleam's Subject). hive_subject_new() makes a fresh one owned by
 * the caller; anyone may send to it; only its owner receives from it.
 *
 * Typed subjects. C has no generics, but a subject can carry its message
 * type so that sending the wrong type does not compile:
 *
 *     struct add { int n; };
 *     typedef HIVE_SUBJECT_OF(struct add) add_subject_t;
 *     add_subject_t s;
 *     hive_typed_subject_new(&s);
 *     struct add a = {.n = 2};
 *     hive_typed_send(s, &a);            // ok
 *     hive_typed_send(s, &some_other);   // error: _Generic has no match
 *     struct add got;
 *     hive_typed_receive(s, &got, HIVE_INFINITY);
 *
 * The message is copied (sizeof the struct); a typed subject for calls also
 * carries the reply type (HIVE_CALL_SUBJECT_OF, hive_typed_call).
 *
 * Calls. hive_call(subject, request, timeout) sends the request with a
 * fresh reply alias (message.h's tag ranges), monitors the owner, and waits
 * for the reply, a DOWN, or the timeout. The monitor is kept for the
 * caller's next call to the same owner until the caller, an actor, goes
 * idle; its DOWN, outside a call, is dropped by the runtime (the caller
 * never sees it). The callee answers with
 * hive_reply(request, ...). A reply that arrives after the call gave up is
 * dropped by the runtime: it never reaches the caller's mailbox.
 *
 * Selectors receive from several subjects (or tags) at once: the oldest
 * message on any of them, handed to that entry's handler or returned with
 * the entry's index.
 */
#ifndef HIVE_SUBJECT_H
#define HIVE_SUBJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hive/message.h>
#include <hive/process.h>
#include <hive/visibility.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hive_subject {
    hive_pid_t pid;
    uint64_t tag;
} hive_subject_t;

/* A subject for (pid, tag), e.g. a reply address. */
static inline hive_subject_t hive_subject(hive_pid_t pid, uint64_t tag)
{
    hive_subject_t s = {pid, tag};
    return s;
}

/* hive_subject_new - a fresh subject owned by the caller (a tag no other
 * subject of the caller has). A process or attached thread. 0, -EINVAL
 * (out NULL), -EPERM. */
HIVE_API int hive_subject_new(hive_subject_t *out);
/* Send bytes / a pointer to the subject: hive_send / hive_send_ptr to
 * (s.pid, s.tag), the same errors. Any thread. */
HIVE_API int hive_subject_send(hive_subject_t s, const void *data, size_t len);
HIVE_API int hive_subject_send_ptr(hive_subject_t s, void *ptr, void (*dtor)(void *));
/* Receive the oldest message sent to the subject. Its owner only: -EPERM
 * from anyone else. Otherwise as hive_receive. */
HIVE_API int hive_subject_receive(hive_subject_t s, int64_t timeout_ms, hive_msg_t **out);
/* Receive into *out exactly `size` bytes (the typed form). -EMSGSIZE if the
 * oldest message has another size (it is consumed and freed). */
HIVE_API int hive_subject_receive_copy(hive_subject_t s, void *out, size_t size,
                                       int64_t timeout_ms);

/* ---- typed subjects --------------------------------------------------- */

/* A subject type for messages of type T (typedef it once, use it anywhere). */
#define HIVE_SUBJECT_OF(T)                                                              \
    struct {                                                                            \
        hive_subject_t raw;                                                             \
        T *msg_type_;                                                                   \
    }
/* A subject type for calls: requests of type Req, replies of type Rep. */
#define HIVE_CALL_SUBJECT_OF(Req, Rep)                                                  \
    struct {                                                                            \
        hive_subject_t raw;                                                             \
        Req *msg_type_;                                                                 \
        Rep *reply_type_;                                                               \
    }
/* Only a pointer to the subject's own type (const or not) passes. */
#define HIVE_TYPED_PTR_(member, p)                                                      \
    _Generic((p), __typeof__(member): (p), const __typeof__(*(member)) *: (p))
#define hive_typed_subject_new(ts) hive_subject_new(&(ts)->raw)
#define hive_typed_subject(ts, raw_subject) ((void)((ts)->raw = (raw_subject)))
#define hive_typed_send(ts, msgp)                                                       \
    hive_subject_send((ts).raw, HIVE_TYPED_PTR_((ts).msg_type_, msgp), sizeof *(msgp))
#define hive_typed_receive(ts, outp, timeout_ms)                                        \
    hive_subject_receive_copy((ts).raw, _Generic((outp), __typeof__((ts).msg_type_): (outp)), \
                              sizeof *(outp), timeout_ms)
#define hive_typed_call(ts, reqp, replyp, timeout_ms)                                  \
    hive_call_copy((ts).raw, HIVE_TYPED_PTR_((ts).msg_type_, reqp), sizeof *(reqp),      \
                   _Generic((replyp), __typeof__((ts).reply_type_): (replyp)),           \
                   sizeof *(replyp), timeout_ms, NULL)
/* Reply to a request received on a typed call subject. */
#define hive_typed_reply(ts, request_msg, replyp)                                       \
    hive_reply(request_msg, HIVE_TYPED_PTR_((ts).reply_type_, replyp), sizeof *(replyp))

/* ---- calls ------------------------------------------------------------ */

/* hive_call - send `req` (len bytes) to s and wait up to timeout_ms for the
 * reply (*reply, the caller frees it). A process or attached thread.
 *   0          the reply is in *reply
 *   -ETIMEDOUT no reply in time; a reply that comes later is dropped
 *   -ESRCH     s's owner did not exist (why: noproc)
 *   -ECONNRESET s's owner ended during the call; why (may be NULL) gets
 *              its exit reason
 *   -EDEADLK   s is the caller's own (a call to yourself could only hang)
 *   -EINVAL, -EPERM, -ENOMEM, -EMSGSIZE as hive_send */
HIVE_API int hive_call(hive_subject_t s, const void *req, size_t len, int64_t timeout_ms,
                       hive_msg_t **reply, hive_reason_t *why);
/* The same with a pointer request. Its ownership moves to the callee as
 * soon as the request is delivered: on 0, -ETIMEDOUT and -ECONNRESET the
 * callee (or its death) owns it; on any other error it is still yours. */
HIVE_API int hive_call_ptr(hive_subject_t s, void *req, void (*dtor)(void *),
                           int64_t timeout_ms, hive_msg_t **reply, hive_reason_t *why);
/* hive_call, then copy the reply (exactly reply_size bytes, else -EMSGSIZE)
 * into reply_out and free it. */
HIVE_API int hive_call_copy(hive_subject_t s, const void *req, size_t len, void *reply_out,
                            size_t reply_size, int64_t timeout_ms, hive_reason_t *why);

/* hive_reply - answer a request received from hive_call. Any process (the
 * receiver, or whoever it handed the request's reply subject to).
 * 0, -EINVAL (m is not a call request), -ESRCH (the caller is gone: the
 * reply is dropped; a pointer reply stays yours), as hive_send otherwise. */
HIVE_API int hive_reply(const hive_msg_t *request, const void *data, size_t len);
HIVE_API int hive_reply_ptr(const hive_msg_t *request, void *ptr, void (*dtor)(void *));
/* Where a reply to `request` goes ({caller, alias}), for replying later from
 * anywhere with hive_subject_send; -EINVAL if m is not a call request. */
HIVE_API int hive_reply_subject(const hive_msg_t *request, hive_subject_t *out);

/* ---- selectors -------------------------------------------------------- */

typedef struct hive_selector hive_selector_t;
/* A handler: runs in the selecting process with the message, which it may
 * keep (return true) or leave to hive_select to free (return false). */
typedef bool (*hive_select_fn_t)(void *ctx, hive_msg_t *m);

/* A selector (empty). The caller frees it with hive_selector_free. */
HIVE_API int hive_selector_new(hive_selector_t **out);
HIVE_API void hive_selector_free(hive_selector_t *sel);
/* Add a subject the caller owns (-EPERM otherwise) or a plain tag (for
 * HIVE_TAG_DOWN / HIVE_TAG_EXIT, or the caller's own tags), with an optional
 * handler. Returns the entry's index (>= 0), or -EINVAL / -ENOMEM. */
HIVE_API int hive_selector_add(hive_selector_t *sel, hive_subject_t s, hive_select_fn_t fn,
                               void *ctx);
HIVE_API int hive_selector_add_tag(hive_selector_t *sel, uint64_t tag, hive_select_fn_t fn,
                                   void *ctx);
/* Receive the oldest message for any entry. If the entry has a handler, it
 * runs and *out is NULL; otherwise the message goes to *out. Returns the
 * entry's index (>= 0), or -ETIMEDOUT / -EINVAL / -EPERM. out may be NULL
 * when every entry has a handler. */
HIVE_API int hive_select(hive_selector_t *sel, int64_t timeout_ms, hive_msg_t **out);

#ifdef __cplusplus
}
#endif
#endif
