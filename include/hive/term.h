/* hive/term.h - Erlang terms: encoding and decoding (over erl_interface's ei).
 *
 * Messages between hive and Erlang nodes are Erlang terms in the external
 * term format (a version byte 131, then one term). A hive_term_buf_t builds
 * one, a value at a time, in prefix order: a tuple's header, then its
 * elements; a list's header, its elements, then its tail (hive_term_put_nil
 * for a proper list); a map's header, then key, value, key, value...
 *
 *     hive_term_buf_t b;
 *     hive_term_buf_init(&b);               // {ok, 42, <<"hi">>}
 *     hive_term_put_tuple(&b, 3);
 *     hive_term_put_atom(&b, "ok");
 *     hive_term_put_long(&b, 42);
 *     hive_term_put_binary(&b, "hi", 2);
 *     ... b.data, b.len ...
 *     hive_term_buf_free(&b);
 *
 * A hive_term_reader_t reads one back. hive_term_reader_init checks the whole
 * buffer first (every length against the bytes present, nesting at most
 * HIVE_TERM_MAX_DEPTH deep, exactly one term and nothing after it): bytes
 * from the network that are truncated or garbage are refused with -EINVAL
 * there, and the get functions after it never read outside the buffer. A get
 * of the wrong type returns -EINVAL and leaves the reader where it was.
 *
 * Types: atoms (UTF-8, at most 255 characters), integers (those that fit in
 * a long long; bigger ones give -ERANGE), floats, binaries, tuples, lists,
 * maps, pids. Other types (references, ports, funs, bit strings) are
 * accepted by the check and can be skipped (hive_term_skip).
 *
 * Thread rules: a buffer or reader belongs to one thread at a time; there is
 * no shared state. Any thread.
 */
#ifndef HIVE_TERM_H
#define HIVE_TERM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hive/error.h>
#include <hive/visibility.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HIVE_TERM_MAX_DEPTH 128
#define HIVE_NODE_NAME_MAX 255 /* bytes of "alive@host" */

/* An Erlang pid: the node it lives on, and its numbers on that node. A
 * value; it may outlive the process it names (sending to it then does
 * nothing, as in Erlang). */
typedef struct hive_rpid {
    char node[HIVE_NODE_NAME_MAX + 1];
    uint32_t num;
    uint32_t serial;
    uint32_t creation;
} hive_rpid_t;

typedef struct hive_term_buf {
    char *data; /* the encoded bytes (version byte first) */
    size_t len; /* bytes used */
    size_t cap; /* bytes allocated */
} hive_term_buf_t;

/* hive_term_buf_init - an empty term buffer holding the version byte. 0 or
 * -ENOMEM (-EINVAL for NULL). */
HIVE_API int hive_term_buf_init(hive_term_buf_t *b);
/* hive_term_buf_free - release the bytes; b may be initialised again. */
HIVE_API void hive_term_buf_free(hive_term_buf_t *b);

/* Each appends one value (or header): 0, -EINVAL (NULL, an atom longer than
 * 255 characters or not valid for ei, a size over 2^32-1), -ENOMEM. */
HIVE_API int hive_term_put_atom(hive_term_buf_t *b, const char *utf8);
HIVE_API int hive_term_put_long(hive_term_buf_t *b, long long v);
HIVE_API int hive_term_put_double(hive_term_buf_t *b, double v);
HIVE_API int hive_term_put_binary(hive_term_buf_t *b, const void *data, size_t len);
HIVE_API int hive_term_put_tuple(hive_term_buf_t *b, size_t arity);
HIVE_API int hive_term_put_list(hive_term_buf_t *b, size_t n); /* n > 0; then the tail */
HIVE_API int hive_term_put_nil(hive_term_buf_t *b);            /* [] */
HIVE_API int hive_term_put_map(hive_term_buf_t *b, size_t pairs);
HIVE_API int hive_term_put_pid(hive_term_buf_t *b, const hive_rpid_t *pid);
/* Typed helpers for the common shapes. {Atom, Long}, {Atom, Binary}. */
HIVE_API int hive_term_put_tagged_long(hive_term_buf_t *b, const char *tag, long long v);
HIVE_API int hive_term_put_tagged_binary(hive_term_buf_t *b, const char *tag,
                                         const void *data, size_t len);

typedef enum hive_term_type {
    HIVE_TERM_ATOM = 1,
    HIVE_TERM_INTEGER,
    HIVE_TERM_FLOAT,
    HIVE_TERM_BINARY,
    HIVE_TERM_TUPLE,
    HIVE_TERM_LIST,   /* a non-empty list */
    HIVE_TERM_NIL,    /* [] */
    HIVE_TERM_STRING, /* a list of bytes as Erlang sends it ("abc", [1,2]) */
    HIVE_TERM_MAP,
    HIVE_TERM_PID,
    HIVE_TERM_OTHER,  /* reference, port, fun, bit string */
} hive_term_type_t;

typedef struct hive_term_reader {
    const char *data;
    size_t len;
    size_t index; /* next byte to read */
} hive_term_reader_t;

/* hive_term_reader_init - check data[0..len) (see above) and place the
 * reader on its term. 0 or -EINVAL (the reader is then unusable). */
HIVE_API int hive_term_reader_init(hive_term_reader_t *r, const void *data, size_t len);
/* hive_term_reader_at_end - every byte has been read. */
HIVE_API bool hive_term_reader_at_end(const hive_term_reader_t *r);

/* hive_term_peek - the type of the next value, and its size where it has
 * one (atom: bytes; binary, string: bytes; tuple: arity; list: elements
 * before the tail; map: pairs; else 0). size may be NULL. 0 or -EINVAL (at
 * the end). */
HIVE_API int hive_term_peek(const hive_term_reader_t *r, hive_term_type_t *type, size_t *size);

/* The gets: 0, -EINVAL (another type, or at the end), as noted. */
/* An atom, as UTF-8 into buf (NUL-terminated): -ENOSPC if cap is too small. */
HIVE_API int hive_term_get_atom(hive_term_reader_t *r, char *buf, size_t cap);
/* -ERANGE for an integer outside long long. */
HIVE_API int hive_term_get_long(hive_term_reader_t *r, long long *v);
HIVE_API int hive_term_get_double(hive_term_reader_t *r, double *v);
/* A binary: *data points into the reader's buffer (valid while it is). */
HIVE_API int hive_term_get_binary(hive_term_reader_t *r, const void **data, size_t *len);
HIVE_API int hive_term_get_tuple(hive_term_reader_t *r, size_t *arity);
/* A list header: *n elements follow, then the tail. [] reads as n = 0 with
 * no tail. A STRING is refused (use hive_term_get_string). */
HIVE_API int hive_term_get_list(hive_term_reader_t *r, size_t *n);
/* A STRING (list of bytes) or [] into buf, NUL-terminated; -ENOSPC. */
HIVE_API int hive_term_get_string(hive_term_reader_t *r, char *buf, size_t cap);
HIVE_API int hive_term_get_map(hive_term_reader_t *r, size_t *pairs);
HIVE_API int hive_term_get_pid(hive_term_reader_t *r, hive_rpid_t *pid);
/* hive_term_skip - step over the next value, whatever it is. */
HIVE_API int hive_term_skip(hive_term_reader_t *r);
/* hive_term_get_tagged - the next value is a tuple {tag, ...} of `arity`
 * elements whose first is the atom `tag`: consume the header and the tag
 * (the reader is on the second element). Otherwise -EINVAL, the reader
 * unmoved. */
HIVE_API int hive_term_get_tagged(hive_term_reader_t *r, const char *tag, size_t arity);

/* hive_term_format - a readable rendering of the term (Erlang's syntax, for
 * logs and tests) into buf, truncated to cap and NUL-terminated; the reader
 * does not move. 0 or -EINVAL. */
HIVE_API int hive_term_format(const hive_term_reader_t *r, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
