/* valgrind.h - RUNNING_ON_VALGRIND from valgrind's own header when it is
 * installed (a client request: a few no-op instructions natively, true
 * under valgrind), else 0. For code that must act otherwise under a tool
 * that replaces malloc and free (mailbox/alloc.c) and for tests. */
#ifndef HIVE_MAILBOX_VALGRIND_H
#define HIVE_MAILBOX_VALGRIND_H

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define HIVE_VALGRIND_DETECTABLE 1
#endif
#endif
#ifndef HIVE_VALGRIND_DETECTABLE
#define HIVE_VALGRIND_DETECTABLE 0 /* built without the header: cannot tell */
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

#endif
