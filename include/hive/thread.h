/* hive/thread.h - foreign threads as pseudo-processes.
 *
 * An embedding server's own thread can attach to the runtime: it gets a pid
 * and a mailbox, so hive processes can reply to it, and hive_receive() on it
 * blocks the OS thread (not a worker) until a message comes. Any thread can
 * send and spawn without attaching; attaching is for getting answers back.
 */
#ifndef HIVE_THREAD_H
#define HIVE_THREAD_H

#include <hive/process.h>
#include <hive/visibility.h>

#ifdef __cplusplus
extern "C" {
#endif

/* hive_thread_attach - make the calling foreign thread a pseudo-process;
 * its pid to *pid (may be NULL). 0, -EALREADY (already attached), -EPERM (a
 * worker, or the runtime is not running), -EAGAIN, -ENOMEM. */
HIVE_API int hive_thread_attach(hive_pid_t *pid);
/* hive_thread_detach - end the pseudo-process (reason normal): its name is
 * released and unread messages freed. 0 or -EPERM (not attached). Call it
 * before the runtime stops and before the thread exits. A stop ends every
 * attachment: a thread blocked in a receive (a call, a task await) then
 * returns -ESHUTDOWN, and its later calls find it detached (-EPERM). */
HIVE_API int hive_thread_detach(void);

#ifdef __cplusplus
}
#endif
#endif
