/* term.h - dist/'s internals over the external term format (term.c). */
#ifndef HIVE_DIST_TERM_H
#define HIVE_DIST_TERM_H

#include <stddef.h>

#include <hive/term.h>

/* hive__term_check - data[0..len) starts with one well-formed term (no
 * version byte) that lies wholly inside it; its end goes to *end (may be
 * NULL). 0 or -EINVAL. Any thread. */
int hive__term_check(const void *data, size_t len, size_t *end);

#endif
