/* error.c - hive_strerror: names for the negative errno codes hive returns. */
#include <string.h>

#include <hive/actor.h>
#include <hive/error.h>

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
    case -EIO: return "EIO: input/output error";
    case -ENOSYS: return "ENOSYS: not supported on this platform";
    case -ECONNRESET: return "ECONNRESET: the other process ended during the call (see its reason)";
    case -EOPNOTSUPP: return "EOPNOTSUPP: request not supported by the receiver";
    case -EPROTO: return "EPROTO: malformed reply";
    case -EDEADLK: return "EDEADLK: a call to the caller itself would never return";
    case -HIVE_EINIT: return "HIVE_EINIT: the actor's init failed (see the reason)";
    default: return err < 0 ? "unknown hive error" : "not an error code";
    }
}
