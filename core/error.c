/* error.c - hive_strerror: names for the negative errno codes hive returns.
 *
 * The codes hive itself chooses get a sentence that says what they mean in
 * hive (ESRCH is a dead pid, ECONNRESET a callee that died mid-call). Calls
 * that wrap the OS (hive_io_*, the node's sockets) also hand on whatever
 * errno the kernel gave (-EPIPE, -ECONNABORTED, ...): those get the C
 * library's name and description, "EPIPE: broken pipe", from a table built
 * once, so the string is static as hive/error.h promises and no caller ever
 * reads "unknown" for a code a hive call really returned (the dist benchmark
 * once printed "unknown hive error epmd refused ..." for -ECONNREFUSED). */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <hive/actor.h>
#include <hive/error.h>

/* Linux's errno values end at 133 (EHWPOISON); room for a few more. */
#define OS_CODES 160

static char os_text[OS_CODES][96];
static pthread_once_t os_once = PTHREAD_ONCE_INIT;

static void os_fill(void)
{
    for (int e = 1; e < OS_CODES; e++) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
        const char *name = strerrorname_np(e), *desc = strerrordesc_np(e);
        if (!name || !desc)
            continue;
        int n = snprintf(os_text[e], sizeof os_text[e], "%s: %s", name, desc);
        /* "EPIPE: Broken pipe" -> "EPIPE: broken pipe", as the others read */
        size_t at = strlen(name) + 2;
        if (n > 0 && at < sizeof os_text[e])
            os_text[e][at] = (char)tolower((unsigned char)os_text[e][at]);
#endif
    }
}

static const char *os_error(int code)
{
    if (code <= 0 || code >= OS_CODES)
        return NULL;
    pthread_once(&os_once, os_fill);
    return os_text[code][0] ? os_text[code] : NULL;
}

HIVE_API const char *hive_strerror(int err)
{
    switch (err) {
    case 0: return "OK: success";
    case -EINVAL: return "EINVAL: invalid argument";
    case -ESRCH: return "ESRCH: no such process";
    case -ENOMEM: return "ENOMEM: out of memory or over a configured limit";
    case -ETIMEDOUT: return "ETIMEDOUT: timed out";
    case -EALREADY: return "EALREADY: already in that state";
    case -EBUSY: return "EBUSY: resource busy (name taken)";
    case -EPERM: return "EPERM: not allowed from this thread or state";
    case -ENOENT: return "ENOENT: no such file or name";
    case -EMSGSIZE: return "EMSGSIZE: message larger than the configured maximum";
    case -EAGAIN: return "EAGAIN: try again";
    case -ECANCELED: return "ECANCELED: cancelled";
    case -ESHUTDOWN: return "ESHUTDOWN: the runtime stopped during the wait";
    case -EIO: return "EIO: input/output error";
    case -ENOSYS: return "ENOSYS: not supported on this platform";
    case -ECONNRESET:
        return "ECONNRESET: the other side ended (a called process died during the call - see "
               "its reason - or a peer reset the connection)";
    case -ECONNREFUSED:
        return "ECONNREFUSED: connection refused (is the peer node or epmd running?)";
    case -EADDRINUSE: return "EADDRINUSE: address or port already in use";
    case -EBADF: return "EBADF: not an open file descriptor";
    case -EEXIST: return "EEXIST: already there (an fd already watched, a name taken)";
    case -ENOSPC: return "ENOSPC: the buffer given is too small";
    case -ERANGE: return "ERANGE: value out of range (an integer outside long long)";
    case -ENAMETOOLONG: return "ENAMETOOLONG: name too long";
    case -EOPNOTSUPP: return "EOPNOTSUPP: request not supported by the receiver";
    case -EPROTO: return "EPROTO: malformed reply";
    case -EDEADLK: return "EDEADLK: a call to the caller itself would never return";
    case -HIVE_EINIT: return "HIVE_EINIT: the actor's init failed (see the reason)";
    }
    if (err > 0)
        return "not an error code (hive errors are negative)";
    const char *os = err > -OS_CODES ? os_error(-err) : NULL;
    return os ? os : "unknown error code";
}
