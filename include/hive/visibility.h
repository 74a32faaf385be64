/* hive/visibility.h - HIVE_API marks the symbols the shared library exports.
 * Everything else in libhive is built with hidden visibility. */
#ifndef HIVE_VISIBILITY_H
#define HIVE_VISIBILITY_H

#if defined(__GNUC__)
#define HIVE_API __attribute__((visibility("default")))
#else
#define HIVE_API
#endif

#endif
