/* test_term.c - hive/term.h: every type round-trips through a buffer; a get
 * of the wrong type fails and leaves the reader where it was; truncated
 * buffers (every prefix of a valid term), flipped bytes, hostile lengths
 * and deep nesting are refused with -EINVAL and never read outside the
 * buffer (run it under ASan: `make test-asan`). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <hive/term.h>

/* {ok, -5, 1234567890123, 2.5, <<"bin">>, [a, 7 | []], #{k => "str"}, Pid, ''} */
static void build_all(hive_term_buf_t *b, const hive_rpid_t *pid)
{
    assert_int_equal(hive_term_buf_init(b), 0);
    assert_int_equal(hive_term_put_tuple(b, 9), 0);
    assert_int_equal(hive_term_put_atom(b, "ok"), 0);
    assert_int_equal(hive_term_put_long(b, -5), 0);
    assert_int_equal(hive_term_put_long(b, 1234567890123LL), 0);
    assert_int_equal(hive_term_put_double(b, 2.5), 0);
    assert_int_equal(hive_term_put_binary(b, "bin", 3), 0);
    assert_int_equal(hive_term_put_list(b, 2), 0);
    assert_int_equal(hive_term_put_atom(b, "a"), 0);
    assert_int_equal(hive_term_put_long(b, 7), 0);
    assert_int_equal(hive_term_put_nil(b), 0);
    assert_int_equal(hive_term_put_map(b, 1), 0);
    assert_int_equal(hive_term_put_atom(b, "k"), 0);
    assert_int_equal(hive_term_put_binary(b, "str", 3), 0);
    assert_int_equal(hive_term_put_pid(b, pid), 0);
    assert_int_equal(hive_term_put_atom(b, "h\xc3\xa9llo"), 0); /* UTF-8 */
}

static hive_rpid_t some_pid(void)
{
    hive_rpid_t p;
    memset(&p, 0, sizeof p);
    strcpy(p.node, "erl@host");
    p.num = 77;
    p.serial = 3;
    p.creation = 1700000001u;
    return p;
}

static void round_trip_every_type(void **state)
{
    hive_rpid_t pid = some_pid();
    hive_term_buf_t b;
    build_all(&b, &pid);
    hive_term_reader_t r;
    assert_int_equal(hive_term_reader_init(&r, b.data, b.len), 0);
    size_t n;
    char atom[256];
    long long v;
    double d;
    const void *bin;
    hive_term_type_t t;
    assert_int_equal(hive_term_peek(&r, &t, &n), 0);
    assert_int_equal(t, HIVE_TERM_TUPLE);
    assert_int_equal(n, 9);
    assert_int_equal(hive_term_get_tuple(&r, &n), 0);
    assert_int_equal(n, 9);
    /* Wrong type: refused, reader unmoved. */
    size_t at = r.index;
    assert_int_equal(hive_term_get_long(&r, &v), -EINVAL);
    assert_int_equal(r.index, at);
    assert_int_equal(hive_term_get_atom(&r, atom, 2), -ENOSPC);
    assert_int_equal(r.index, at);
    assert_int_equal(hive_term_get_atom(&r, atom, sizeof atom), 0);
    assert_string_equal(atom, "ok");
    assert_int_equal(hive_term_get_long(&r, &v), 0);
    assert_int_equal(v, -5);
    assert_int_equal(hive_term_get_long(&r, &v), 0);
    assert_int_equal(v, 1234567890123LL);
    assert_int_equal(hive_term_get_double(&r, &d), 0);
    assert_true(d == 2.5);
    assert_int_equal(hive_term_get_binary(&r, &bin, &n), 0);
    assert_int_equal(n, 3);
    assert_memory_equal(bin, "bin", 3);
    assert_int_equal(hive_term_get_list(&r, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(hive_term_get_atom(&r, atom, sizeof atom), 0);
    assert_string_equal(atom, "a");
    assert_int_equal(hive_term_get_long(&r, &v), 0);
    assert_int_equal(v, 7);
    assert_int_equal(hive_term_peek(&r, &t, NULL), 0);
    assert_int_equal(t, HIVE_TERM_NIL);
    assert_int_equal(hive_term_get_list(&r, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(hive_term_get_map(&r, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(hive_term_skip(&r), 0); /* the key */
    assert_int_equal(hive_term_get_binary(&r, &bin, &n), 0);
    assert_memory_equal(bin, "str", 3);
    hive_rpid_t back;
    assert_int_equal(hive_term_get_pid(&r, &back), 0);
    assert_string_equal(back.node, pid.node);
    assert_int_equal(back.num, pid.num);
    assert_int_equal(back.serial, pid.serial);
    assert_int_equal(back.creation, pid.creation);
    assert_int_equal(hive_term_get_atom(&r, atom, sizeof atom), 0);
    assert_string_equal(atom, "h\xc3\xa9llo");
    assert_true(hive_term_reader_at_end(&r));
    /* Past the end: refused. */
    assert_int_equal(hive_term_get_long(&r, &v), -EINVAL);
    assert_int_equal(hive_term_skip(&r), -EINVAL);
    hive_term_buf_free(&b);
}

static void typed_helpers_and_format(void **state)
{
    hive_term_buf_t b;
    assert_int_equal(hive_term_buf_init(&b), 0);
    assert_int_equal(hive_term_put_tagged_long(&b, "count", 42), 0);
    hive_term_reader_t r;
    assert_int_equal(hive_term_reader_init(&r, b.data, b.len), 0);
    char s[64];
    assert_int_equal(hive_term_format(&r, s, sizeof s), 0);
    assert_string_equal(s, "{count, 42}"); /* ei_s_print_term's spacing */
    assert_int_equal(hive_term_get_tagged(&r, "other", 2), -EINVAL);
    assert_int_equal(r.index, 1);
    assert_int_equal(hive_term_get_tagged(&r, "count", 3), -EINVAL);
    assert_int_equal(hive_term_get_tagged(&r, "count", 2), 0);
    long long v;
    assert_int_equal(hive_term_get_long(&r, &v), 0);
    assert_int_equal(v, 42);
    hive_term_buf_free(&b);
    /* Bad arguments. */
    assert_int_equal(hive_term_buf_init(NULL), -EINVAL);
    assert_int_equal(hive_term_buf_init(&b), 0);
    assert_int_equal(hive_term_put_atom(&b, NULL), -EINVAL);
    assert_int_equal(hive_term_put_list(&b, 0), -EINVAL);
    assert_int_equal(hive_term_put_binary(&b, NULL, 3), -EINVAL);
    hive_rpid_t p;
    memset(&p, 'x', sizeof p); /* node not terminated */
    assert_int_equal(hive_term_put_pid(&b, &p), -EINVAL);
    hive_term_buf_free(&b);
}

static void big_integers_and_strings(void **state)
{
    /* 2^70 as SMALL_BIG_EXT: checked fine, but does not fit a long long. */
    unsigned char big[] = {131, 'n', 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x40};
    hive_term_reader_t r;
    assert_int_equal(hive_term_reader_init(&r, big, sizeof big), 0);
    long long v;
    assert_int_equal(hive_term_get_long(&r, &v), -ERANGE);
    /* "abc" as Erlang sends it (STRING_EXT). */
    unsigned char str[] = {131, 'k', 0, 3, 'a', 'b', 'c'};
    assert_int_equal(hive_term_reader_init(&r, str, sizeof str), 0);
    size_t n;
    assert_int_equal(hive_term_get_list(&r, &n), -EINVAL);
    char s[4];
    assert_int_equal(hive_term_get_string(&r, s, 3), -ENOSPC);
    assert_int_equal(hive_term_get_string(&r, s, sizeof s), 0);
    assert_string_equal(s, "abc");
}

/* Every proper prefix of a valid term is refused; so is trailing garbage. */
static void truncated_buffers_are_refused(void **state)
{
    hive_rpid_t pid = some_pid();
    hive_term_buf_t b;
    build_all(&b, &pid);
    hive_term_reader_t r;
    for (size_t len = 0; len < b.len; len++) {
        /* A fresh heap copy of exactly len bytes, so ASan sees any overread. */
        char *copy = malloc(len ? len : 1);
        memcpy(copy, b.data, len);
        assert_int_equal(hive_term_reader_init(&r, copy, len), -EINVAL);
        free(copy);
    }
    char *longer = malloc(b.len + 1);
    memcpy(longer, b.data, b.len);
    longer[b.len] = 'j';
    assert_int_equal(hive_term_reader_init(&r, longer, b.len + 1), -EINVAL);
    free(longer);
    hive_term_buf_free(&b);
}

/* Hostile headers: lengths beyond the buffer, huge arities, bad version,
 * unknown tags, nesting deeper than HIVE_TERM_MAX_DEPTH. */
static void hostile_headers_are_refused(void **state)
{
    hive_term_reader_t r;
    unsigned char bin[] = {131, 'm', 0xff, 0xff, 0xff, 0xff, 'x'};
    assert_int_equal(hive_term_reader_init(&r, bin, sizeof bin), -EINVAL);
    unsigned char tup[] = {131, 'i', 0x7f, 0xff, 0xff, 0xff, 'j'};
    assert_int_equal(hive_term_reader_init(&r, tup, sizeof tup), -EINVAL);
    unsigned char map[] = {131, 't', 0, 0, 0, 1, 'j'}; /* a key, no value */
    assert_int_equal(hive_term_reader_init(&r, map, sizeof map), -EINVAL);
    unsigned char atom[] = {131, 'v', 0x10, 0x00, 'a'};
    assert_int_equal(hive_term_reader_init(&r, atom, sizeof atom), -EINVAL);
    unsigned char ver[] = {130, 'j'};
    assert_int_equal(hive_term_reader_init(&r, ver, sizeof ver), -EINVAL);
    unsigned char unknown[] = {131, 'P', 0, 0, 0, 0};
    assert_int_equal(hive_term_reader_init(&r, unknown, sizeof unknown), -EINVAL);
    unsigned char pid[] = {131, 'X', 'w', 200, 'a'}; /* node atom cut short */
    assert_int_equal(hive_term_reader_init(&r, pid, sizeof pid), -EINVAL);
    unsigned char ref[] = {131, 'Z', 0, 200, 'w', 1, 'a', 0, 0, 0, 0};
    assert_int_equal(hive_term_reader_init(&r, ref, sizeof ref), -EINVAL);
    assert_int_equal(hive_term_reader_init(&r, NULL, 4), -EINVAL);

    /* [[[[...]]]] nested deeper than allowed, then just within it. */
    size_t deep = HIVE_TERM_MAX_DEPTH + 10;
    unsigned char *d = malloc(1 + deep * 6 + 1 + deep);
    size_t i = 0;
    d[i++] = 131;
    for (size_t k = 0; k < deep; k++) {
        d[i++] = 'l';
        d[i++] = 0, d[i++] = 0, d[i++] = 0, d[i++] = 1;
    }
    d[i++] = 'j';
    for (size_t k = 0; k < deep; k++)
        d[i++] = 'j';
    assert_int_equal(hive_term_reader_init(&r, d, i), -EINVAL);
    i = 0;
    d[i++] = 131;
    for (size_t k = 0; k < HIVE_TERM_MAX_DEPTH; k++) {
        d[i++] = 'l';
        d[i++] = 0, d[i++] = 0, d[i++] = 0, d[i++] = 1;
    }
    d[i++] = 'j';
    for (size_t k = 0; k < HIVE_TERM_MAX_DEPTH; k++)
        d[i++] = 'j';
    assert_int_equal(hive_term_reader_init(&r, d, i), 0);
    free(d);
}

/* Random mutations of a valid term: whatever the checker accepts can be
 * walked to the end by skip and formatted, never crashing (ASan watches). */
static void mutated_buffers_never_crash(void **state)
{
    hive_rpid_t pid = some_pid();
    hive_term_buf_t b;
    build_all(&b, &pid);
    unsigned seed = 12345;
    int accepted = 0, refused = 0;
    for (int round = 0; round < 20000; round++) {
        char *m = malloc(b.len);
        memcpy(m, b.data, b.len);
        int flips = 1 + rand_r(&seed) % 3;
        for (int f = 0; f < flips; f++)
            m[rand_r(&seed) % b.len] = (char)rand_r(&seed);
        hive_term_reader_t r;
        if (hive_term_reader_init(&r, m, b.len) == 0) {
            accepted++;
            char s[512];
            hive_term_format(&r, s, sizeof s);
            assert_int_equal(hive_term_skip(&r), 0);
            assert_true(hive_term_reader_at_end(&r));
        } else {
            refused++;
        }
        free(m);
    }
    assert_true(refused > 0);
    hive_term_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip_every_type),
        cmocka_unit_test(typed_helpers_and_format),
        cmocka_unit_test(big_integers_and_strings),
        cmocka_unit_test(truncated_buffers_are_refused),
        cmocka_unit_test(hostile_headers_are_refused),
        cmocka_unit_test(mutated_buffers_never_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
