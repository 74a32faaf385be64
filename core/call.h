/* call.h - the call machinery shared by actors, tasks and system messages. */
#ifndef HIVE_CORE_CALL_H
#define HIVE_CORE_CALL_H

#include <hive/link.h>
#include <hive/subject.h>

/* System messages to actors (core/actor.c): a reserved tag, so no user send
 * can forge one and a process that is not an actor simply never reads it. */
#define HIVE__TAG_SYSTEM (HIVE_TAG_RESERVED + 3)

/* An actor's subject: the first subject its process makes (actor.c). */
#define HIVE__ACTOR_SUBJECT_TAG (HIVE_TAG_SUBJECT_BASE + 1)

/* What a call, an actor start and a task await wait for: a reply on
 * `alias`, or the DOWN of the monitor `ref` of the process that should send
 * it; with ref 0, the EXIT of `linked` instead (a starter linked to the
 * process and receiving EXITs as messages, as OTP's proc_lib:start_link
 * waits: no monitor needed). */
typedef struct hive__reply_wait {
    uint64_t alias;
    hive_ref_t ref;
    hive_pid_t linked;
} hive__reply_wait_t;
/* Receive the oldest message that is that reply or that DOWN (EXIT); as
 * hive__receive otherwise. */
int hive__await_reply(const hive__reply_wait_t *w, int64_t timeout_ms, hive_msg_t **out);
/* Receive (and free) the DOWN of monitor ref; its contents to *out (may be
 * NULL). 0, or hive__receive's error (-ETIMEDOUT). */
int hive__await_down(hive_ref_t ref, int64_t timeout_ms, hive_down_info_t *out);
/* The same for the EXIT message from the linked process pid (the caller
 * receives EXITs as messages: it traps exits, or it is a thread). */
int hive__await_exit(hive_pid_t pid, int64_t timeout_ms, hive_exit_info_t *out);

/* Call s with the message m (built by the caller, tag = s.tag; ownership
 * moves here whatever happens): hive_call's steps and results. */
int hive__call_msg(hive_subject_t s, hive_msg_t *m, int64_t timeout_ms, hive_msg_t **reply,
                   hive_reason_t *why);

#endif
