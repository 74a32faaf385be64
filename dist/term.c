/* term.c - Erlang external term format: encoding and decoding over ei.
 *
 * Encoding appends through ei_x_encode_* on an ei_x_buff made from the
 * hive_term_buf_t's fields (same three facts: bytes, capacity, used).
 *
 * Decoding: ei's decoders take no buffer length, so on their own they read
 * past the end of a truncated term. term_check() therefore walks the whole
 * buffer once, with every length checked against the bytes present and the
 * nesting bounded (HIVE_TERM_MAX_DEPTH, so a hostile term cannot exhaust a
 * fiber's stack), and refuses anything it does not know. After it succeeds
 * every value starting before the end lies wholly inside the buffer, so the
 * ei decoders called by the gets are safe; a get checks index < len first.
 * Invariant kept by every get: on failure r->index is unchanged.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <ei.h>

#include <hive/term.h>

#include "dist/term.h"

#define NEW_FLOAT 'F'
#define VERSION_MAGIC 131
#define BINARY_MAX 0xffffffffu

/* ---- encoding ----------------------------------------------------------- */

typedef int (*put_fn)(ei_x_buff *x, const void *a, long long n);

/* Run one ei_x_encode step on b. ei_x_buff's sizes are ints: refuse buffers
 * that would not fit. */
static int put(hive_term_buf_t *b, put_fn fn, const void *a, long long n)
{
    if (!b || !b->data)
        return -EINVAL;
    if (b->cap > INT_MAX / 2)
        return -ENOMEM;
    ei_x_buff x = {.buff = b->data, .buffsz = (int)b->cap, .index = (int)b->len};
    int rc = fn(&x, a, n);
    /* ei_x_* reallocs x.buff (with realloc) when it grows: keep the new one
     * even on failure, so nothing leaks and nothing dangles. */
    b->data = x.buff;
    b->cap = (size_t)x.buffsz;
    if (rc < 0) {
        return -EINVAL;
    }
    b->len = (size_t)x.index;
    return 0;
}

int hive_term_buf_init(hive_term_buf_t *b)
{
    if (!b)
        return -EINVAL;
    ei_x_buff x;
    if (ei_x_new_with_version(&x) < 0)
        return -ENOMEM;
    b->data = x.buff;
    b->cap = (size_t)x.buffsz;
    b->len = (size_t)x.index;
    return 0;
}

void hive_term_buf_free(hive_term_buf_t *b)
{
    if (!b)
        return;
    if (b->data) {
        ei_x_buff x = {.buff = b->data, .buffsz = (int)b->cap, .index = (int)b->len};
        ei_x_free(&x);
    }
    b->data = NULL;
    b->len = b->cap = 0;
}

static int f_atom(ei_x_buff *x, const void *a, long long n)
{
    return ei_x_encode_atom_len_as(x, a, (int)n, ERLANG_UTF8, ERLANG_UTF8);
}
static int f_long(ei_x_buff *x, const void *a, long long n) { return ei_x_encode_longlong(x, n); }
static int f_double(ei_x_buff *x, const void *a, long long n)
{
    return ei_x_encode_double(x, *(const double *)a);
}
static int f_binary(ei_x_buff *x, const void *a, long long n)
{
    return ei_x_encode_binary(x, a, (long)n);
}
static int f_tuple(ei_x_buff *x, const void *a, long long n)
{
    return ei_x_encode_tuple_header(x, (long)n);
}
static int f_list(ei_x_buff *x, const void *a, long long n)
{
    return ei_x_encode_list_header(x, (long)n);
}
static int f_map(ei_x_buff *x, const void *a, long long n)
{
    return ei_x_encode_map_header(x, (long)n);
}
static int f_pid(ei_x_buff *x, const void *a, long long n)
{
    const hive_rpid_t *p = a;
    erlang_pid e;
    memset(&e, 0, sizeof e);
    memcpy(e.node, p->node, sizeof p->node);
    e.num = p->num;
    e.serial = p->serial;
    e.creation = p->creation;
    return ei_x_encode_pid(x, &e);
}

int hive_term_put_atom(hive_term_buf_t *b, const char *utf8)
{
    if (!utf8)
        return -EINVAL;
    size_t n = strlen(utf8);
    /* ei counts the limit in characters (255) but its buffer in bytes. */
    if (n > MAXATOMLEN_UTF8 - 1)
        return -EINVAL;
    return put(b, f_atom, utf8, (long long)n);
}

int hive_term_put_long(hive_term_buf_t *b, long long v) { return put(b, f_long, NULL, v); }
int hive_term_put_double(hive_term_buf_t *b, double v) { return put(b, f_double, &v, 0); }

int hive_term_put_binary(hive_term_buf_t *b, const void *data, size_t len)
{
    if ((!data && len) || len > BINARY_MAX || len > INT_MAX / 2)
        return -EINVAL;
    return put(b, f_binary, data ? data : "", (long long)len);
}

int hive_term_put_tuple(hive_term_buf_t *b, size_t arity)
{
    return arity > BINARY_MAX ? -EINVAL : put(b, f_tuple, NULL, (long long)arity);
}

int hive_term_put_list(hive_term_buf_t *b, size_t n)
{
    return n == 0 || n > BINARY_MAX ? -EINVAL : put(b, f_list, NULL, (long long)n);
}

int hive_term_put_nil(hive_term_buf_t *b) { return put(b, f_list, NULL, 0); }

int hive_term_put_map(hive_term_buf_t *b, size_t pairs)
{
    return pairs > BINARY_MAX ? -EINVAL : put(b, f_map, NULL, (long long)pairs);
}

int hive_term_put_pid(hive_term_buf_t *b, const hive_rpid_t *pid)
{
    if (!pid || !memchr(pid->node, 0, sizeof pid->node) || !strchr(pid->node, '@'))
        return -EINVAL;
    return put(b, f_pid, pid, 0);
}

int hive_term_put_tagged_long(hive_term_buf_t *b, const char *tag, long long v)
{
    int rc = hive_term_put_tuple(b, 2);
    if (!rc)
        rc = hive_term_put_atom(b, tag);
    return rc ? rc : hive_term_put_long(b, v);
}

int hive_term_put_tagged_binary(hive_term_buf_t *b, const char *tag, const void *data,
                                size_t len)
{
    int rc = hive_term_put_tuple(b, 2);
    if (!rc)
        rc = hive_term_put_atom(b, tag);
    return rc ? rc : hive_term_put_binary(b, data, len);
}

/* ---- checking ----------------------------------------------------------- */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* need(n): n more bytes are present at *i. */
#define NEED(n)                                   \
    do {                                          \
        if ((size_t)(n) > len - *i)               \
            return -EINVAL;                       \
    } while (0)

static int check(const unsigned char *b, size_t len, size_t *i, int depth);

/* An atom (as a pid's or port's node). */
static int check_atom(const unsigned char *b, size_t len, size_t *i)
{
    NEED(1);
    unsigned char tag = b[(*i)++];
    size_t n;
    switch (tag) {
    case ERL_ATOM_EXT:
    case ERL_ATOM_UTF8_EXT:
        NEED(2);
        n = (size_t)b[*i] << 8 | b[*i + 1];
        *i += 2;
        break;
    case ERL_SMALL_ATOM_EXT:
    case ERL_SMALL_ATOM_UTF8_EXT:
        NEED(1);
        n = b[(*i)++];
        break;
    default:
        return -EINVAL;
    }
    /* ei decodes into MAXATOMLEN_UTF8 bytes; a latin-1 byte may take two. */
    if (n > (tag == ERL_ATOM_UTF8_EXT || tag == ERL_SMALL_ATOM_UTF8_EXT ? MAXATOMLEN_UTF8 - 1
                                                                         : 255))
        return -EINVAL;
    NEED(n);
    *i += n;
    return 0;
}

static int check(const unsigned char *b, size_t len, size_t *i, int depth)
{
    if (depth > HIVE_TERM_MAX_DEPTH)
        return -EINVAL;
    NEED(1);
    unsigned char tag = b[*i];
    uint32_t n;
    switch (tag) {
    case ERL_ATOM_EXT:
    case ERL_ATOM_UTF8_EXT:
    case ERL_SMALL_ATOM_EXT:
    case ERL_SMALL_ATOM_UTF8_EXT:
        return check_atom(b, len, i);
    }
    (*i)++;
    switch (tag) {
    case ERL_SMALL_INTEGER_EXT:
        NEED(1);
        *i += 1;
        return 0;
    case ERL_INTEGER_EXT:
        NEED(4);
        *i += 4;
        return 0;
    case ERL_FLOAT_EXT:
        NEED(31);
        *i += 31;
        return 0;
    case NEW_FLOAT:
        NEED(8);
        *i += 8;
        return 0;
    case ERL_NIL_EXT:
        return 0;
    case ERL_STRING_EXT:
        NEED(2);
        n = (uint32_t)b[*i] << 8 | b[*i + 1];
        *i += 2;
        NEED(n);
        *i += n;
        return 0;
    case ERL_BINARY_EXT:
        NEED(4);
        n = be32(b + *i);
        *i += 4;
        NEED(n);
        *i += n;
        return 0;
    case ERL_BIT_BINARY_EXT:
        NEED(5);
        n = be32(b + *i);
        *i += 5;
        NEED(n);
        *i += n;
        return 0;
    case ERL_SMALL_BIG_EXT:
    case ERL_LARGE_BIG_EXT:
        if (tag == ERL_SMALL_BIG_EXT) {
            NEED(1);
            n = b[(*i)++];
        } else {
            NEED(4);
            n = be32(b + *i);
            *i += 4;
        }
        NEED((size_t)n + 1); /* sign byte, digits */
        *i += (size_t)n + 1;
        return 0;
    case ERL_SMALL_TUPLE_EXT:
    case ERL_LARGE_TUPLE_EXT:
    case ERL_LIST_EXT:
    case ERL_MAP_EXT: {
        if (tag == ERL_SMALL_TUPLE_EXT) {
            NEED(1);
            n = b[(*i)++];
        } else {
            NEED(4);
            n = be32(b + *i);
            *i += 4;
        }
        size_t items = tag == ERL_MAP_EXT ? 2 * (size_t)n : (size_t)n;
        if (tag == ERL_LIST_EXT)
            items += 1; /* the tail */
        /* Each element takes at least one byte: a count beyond the bytes
         * left is refused before the loop, so it cannot run long. */
        NEED(items);
        for (size_t k = 0; k < items; k++) {
            int rc = check(b, len, i, depth + 1);
            if (rc)
                return rc;
        }
        return 0;
    }
    case ERL_PID_EXT:
    case ERL_NEW_PID_EXT:
        if (check_atom(b, len, i))
            return -EINVAL;
        NEED(tag == ERL_PID_EXT ? 9 : 12);
        *i += tag == ERL_PID_EXT ? 9 : 12;
        return 0;
    case ERL_PORT_EXT:
    case ERL_NEW_PORT_EXT:
    case ERL_V4_PORT_EXT: {
        if (check_atom(b, len, i))
            return -EINVAL;
        size_t k = tag == ERL_PORT_EXT ? 5 : tag == ERL_NEW_PORT_EXT ? 8 : 12;
        NEED(k);
        *i += k;
        return 0;
    }
    case ERL_REFERENCE_EXT:
        if (check_atom(b, len, i))
            return -EINVAL;
        NEED(5);
        *i += 5;
        return 0;
    case ERL_NEW_REFERENCE_EXT:
    case ERL_NEWER_REFERENCE_EXT: {
        NEED(2);
        n = (uint32_t)b[*i] << 8 | b[*i + 1];
        *i += 2;
        if (n > 5) /* ei's erlang_ref holds at most 5 words */
            return -EINVAL;
        if (check_atom(b, len, i))
            return -EINVAL;
        size_t k = (tag == ERL_NEW_REFERENCE_EXT ? 1 : 4) + 4 * (size_t)n;
        NEED(k);
        *i += k;
        return 0;
    }
    case ERL_EXPORT_EXT:
        if (check_atom(b, len, i) || check_atom(b, len, i))
            return -EINVAL;
        return check(b, len, i, depth + 1);
    case ERL_NEW_FUN_EXT: {
        /* Size (4 bytes) counts the whole fun after the tag, itself
         * included: skip by it. */
        NEED(4);
        n = be32(b + *i);
        if (n < 4)
            return -EINVAL;
        NEED(n);
        *i += n;
        return 0;
    }
    default:
        return -EINVAL; /* unknown, compressed (80), atom cache refs, ... */
    }
}

int hive__term_check(const void *data, size_t len, size_t *end)
{
    size_t i = 0;
    int rc = check(data, len, &i, 0);
    if (!rc && end)
        *end = i;
    return rc;
}

/* ---- decoding ----------------------------------------------------------- */

int hive_term_reader_init(hive_term_reader_t *r, const void *data, size_t len)
{
    if (!r)
        return -EINVAL;
    r->data = data;
    r->len = 0;
    r->index = 0;
    if (!data || len < 2 || len > INT_MAX || ((const unsigned char *)data)[0] != VERSION_MAGIC)
        return -EINVAL;
    size_t i = 1;
    if (check(data, len, &i, 0) || i != len)
        return -EINVAL;
    r->len = len;
    r->index = 1;
    return 0;
}

bool hive_term_reader_at_end(const hive_term_reader_t *r) { return !r || r->index >= r->len; }

/* Start a get: the reader has a value left; its index as ei's int. */
static int at(const hive_term_reader_t *r, int *idx)
{
    if (!r || !r->data || r->index >= r->len)
        return -EINVAL;
    *idx = (int)r->index;
    return 0;
}

int hive_term_peek(const hive_term_reader_t *r, hive_term_type_t *type, size_t *size)
{
    int idx;
    if (at(r, &idx) || !type)
        return -EINVAL;
    int t, s;
    if (ei_get_type(r->data, &idx, &t, &s) < 0)
        return -EINVAL;
    hive_term_type_t ty;
    switch (t) {
    case ERL_ATOM_EXT:
    case ERL_SMALL_ATOM_EXT:
    case ERL_ATOM_UTF8_EXT:
    case ERL_SMALL_ATOM_UTF8_EXT: ty = HIVE_TERM_ATOM; break;
    case ERL_SMALL_INTEGER_EXT:
    case ERL_INTEGER_EXT:
    case ERL_SMALL_BIG_EXT:
    case ERL_LARGE_BIG_EXT: ty = HIVE_TERM_INTEGER; s = 0; break;
    case ERL_FLOAT_EXT:
    case NEW_FLOAT: ty = HIVE_TERM_FLOAT; s = 0; break;
    case ERL_BINARY_EXT: ty = HIVE_TERM_BINARY; break;
    case ERL_SMALL_TUPLE_EXT:
    case ERL_LARGE_TUPLE_EXT: ty = HIVE_TERM_TUPLE; break;
    case ERL_LIST_EXT: ty = HIVE_TERM_LIST; break;
    case ERL_NIL_EXT: ty = HIVE_TERM_NIL; s = 0; break;
    case ERL_STRING_EXT: ty = HIVE_TERM_STRING; break;
    case ERL_MAP_EXT: ty = HIVE_TERM_MAP; break;
    case ERL_PID_EXT:
    case ERL_NEW_PID_EXT: ty = HIVE_TERM_PID; s = 0; break;
    default: ty = HIVE_TERM_OTHER; s = 0; break;
    }
    *type = ty;
    if (size)
        *size = s < 0 ? 0 : (size_t)s;
    return 0;
}

static bool is(const hive_term_reader_t *r, hive_term_type_t want)
{
    hive_term_type_t t;
    return hive_term_peek(r, &t, NULL) == 0 && t == want;
}

int hive_term_get_atom(hive_term_reader_t *r, char *buf, size_t cap)
{
    int idx;
    if (at(r, &idx) || !buf || !is(r, HIVE_TERM_ATOM))
        return -EINVAL;
    char tmp[MAXATOMLEN_UTF8];
    erlang_char_encoding enc;
    if (ei_decode_atom_as(r->data, &idx, tmp, sizeof tmp, ERLANG_UTF8, &enc, NULL) < 0)
        return -EINVAL;
    size_t n = strlen(tmp);
    if (n + 1 > cap)
        return -ENOSPC;
    memcpy(buf, tmp, n + 1);
    r->index = (size_t)idx;
    return 0;
}

int hive_term_get_long(hive_term_reader_t *r, long long *v)
{
    int idx;
    if (at(r, &idx) || !v || !is(r, HIVE_TERM_INTEGER))
        return -EINVAL;
    EI_LONGLONG x;
    if (ei_decode_longlong(r->data, &idx, &x) < 0)
        return -ERANGE;
    *v = x;
    r->index = (size_t)idx;
    return 0;
}

int hive_term_get_double(hive_term_reader_t *r, double *v)
{
    int idx;
    if (at(r, &idx) || !v || ei_decode_double(r->data, &idx, v) < 0)
        return -EINVAL;
    r->index = (size_t)idx;
    return 0;
}

int hive_term_get_binary(hive_term_reader_t *r, const void **data, size_t *len)
{
    int idx;
    if (at(r, &idx) || !data || !len || !is(r, HIVE_TERM_BINARY))
        return -EINVAL;
    /* BINARY_EXT: tag, 4-byte length, bytes (checked by term_check). */
    const unsigned char *p = (const unsigned char *)r->data + idx;
    *len = be32(p + 1);
    *data = p + 5;
    r->index = (size_t)idx + 5 + *len;
    return 0;
}

int hive_term_get_tuple(hive_term_reader_t *r, size_t *arity)
{
    int idx, a;
    if (at(r, &idx) || !arity || ei_decode_tuple_header(r->data, &idx, &a) < 0)
        return -EINVAL;
    *arity = (size_t)a;
    r->index = (size_t)idx;
    return 0;
}

int hive_term_get_list(hive_term_reader_t *r, size_t *n)
{
    int idx, a;
    if (at(r, &idx) || !n || ei_decode_list_header(r->data, &idx, &a) < 0)
        return -EINVAL;
    *n = (size_t)a;
    r->index = (size_t)idx;
    return 0;
}

int hive_term_get_string(hive_term_reader_t *r, char *buf, size_t cap)
{
    int idx;
    size_t size;
    hive_term_type_t t;
    if (at(r, &idx) || !buf || hive_term_peek(r, &t, &size) ||
        (t != HIVE_TERM_STRING && t != HIVE_TERM_NIL))
        return -EINVAL;
    if (size + 1 > cap)
        return -ENOSPC;
    if (ei_decode_string(r->data, &idx, buf) < 0)
        return -EINVAL;
    r->index = (size_t)idx;
    return 0;
}

int hive_term_get_map(hive_term_reader_t *r, size_t *pairs)
{
    int idx, a;
    if (at(r, &idx) || !pairs || ei_decode_map_header(r->data, &idx, &a) < 0)
        return -EINVAL;
    *pairs = (size_t)a;
    r->index = (size_t)idx;
    return 0;
}

int hive_term_get_pid(hive_term_reader_t *r, hive_rpid_t *pid)
{
    int idx;
    erlang_pid e;
    if (at(r, &idx) || !pid || ei_decode_pid(r->data, &idx, &e) < 0)
        return -EINVAL;
    size_t n = strlen(e.node);
    if (n > HIVE_NODE_NAME_MAX)
        return -EINVAL;
    memcpy(pid->node, e.node, n + 1);
    pid->num = e.num;
    pid->serial = e.serial;
    pid->creation = e.creation;
    r->index = (size_t)idx;
    return 0;
}

int hive_term_skip(hive_term_reader_t *r)
{
    int idx;
    if (at(r, &idx))
        return -EINVAL;
    /* Our own walker, not ei_skip_term: it knows where the value ends
     * without trusting anything but the checked bytes. */
    size_t i = r->index;
    if (check((const unsigned char *)r->data, r->len, &i, 0))
        return -EINVAL;
    r->index = i;
    return 0;
}

int hive_term_get_tagged(hive_term_reader_t *r, const char *tag, size_t arity)
{
    if (!r || !tag || arity == 0)
        return -EINVAL;
    size_t start = r->index, a;
    char atom[MAXATOMLEN_UTF8];
    if (hive_term_get_tuple(r, &a) || a != arity || hive_term_get_atom(r, atom, sizeof atom) ||
        strcmp(atom, tag) != 0) {
        r->index = start;
        return -EINVAL;
    }
    return 0;
}

int hive_term_format(const hive_term_reader_t *r, char *buf, size_t cap)
{
    int idx;
    if (at(r, &idx) || !buf || cap == 0)
        return -EINVAL;
    char *s = NULL;
    if (ei_s_print_term(&s, r->data, &idx) < 0) {
        free(s);
        return -EINVAL;
    }
    size_t n = strlen(s);
    if (n >= cap)
        n = cap - 1;
    memcpy(buf, s, n);
    buf[n] = 0;
    free(s);
    return 0;
}
