/*
 * test_base.c: the small base modules every other module leans on (buf,
 * num, alloc, err): the
 * shortest round-trip number text and JSON string escaping of the output
 * records, and the saturating and flooring integer arithmetic of event
 * times that come from untrusted input; and the allocation helpers
 * (tm_grow, tm_xmemdup0).
 */
#include "alloc.h"
#include "buf.h"
#include "err.h"
#include "num.h"

#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Returns tm_buf_put_double's text for v in a static buffer. */
static const char *dbl(double v)
{
    static char out[64];
    tm_buf b = {0};
    tm_buf_put_double(&b, v);
    cr_assert_lt(b.len, sizeof out);
    memcpy(out, b.data, b.len + 1);
    tm_buf_free(&b);
    return out;
}

static const char *json_str(const char *s, size_t n)
{
    static char out[256];
    tm_buf b = {0};
    tm_buf_put_json_string(&b, s, n);
    cr_assert_lt(b.len, sizeof out);
    cr_assert_eq(strlen(b.data), b.len, "len must match the NUL-terminated text");
    memcpy(out, b.data, b.len + 1);
    tm_buf_free(&b);
    return out;
}

/* Significant digits of a %g-style number text: "0.0125" -> 3, "1e+21" -> 1. */
static int sig_digits(const char *s)
{
    int n = 0;
    bool leading = true;
    for (; *s && *s != 'e'; s++) {
        if (*s < '0' || *s > '9')
            continue;
        if (leading && *s == '0')
            continue;
        leading = false;
        n++;
    }
    return n;
}

Test(common, double_shortest_text)
{
    cr_expect_str_eq(dbl(0.1), "0.1");
    cr_expect_str_eq(dbl(-3.0), "-3");
    cr_expect_str_eq(dbl(0.0), "0");
    cr_expect_str_eq(dbl(2.5), "2.5");
    cr_expect_str_eq(dbl(1e21), "1e+21");
    cr_expect_str_eq(dbl(1.0 / 3.0), "0.3333333333333333");
    cr_expect_str_eq(dbl(0.1 + 0.2), "0.30000000000000004");
    cr_expect_str_eq(dbl(9007199254740991.0), "9007199254740991");
}

Test(common, double_round_trips)
{
    const double values[] = {0.1,
                             1e21,
                             -3.0,
                             1.0 / 3.0,
                             -1.0 / 3.0,
                             1e-7,
                             123456.789,
                             DBL_MAX,
                             -DBL_MAX,
                             DBL_MIN,
                             5e-324,
                             9007199254740993.0,
                             4503599627370495.5,
                             1e300 * 1e-10,
                             0.000001,
                             299792458.0,
                             -2.2250738585072014e-308};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        const char *s = dbl(values[i]);
        char *end = NULL;
        double back = strtod(s, &end);
        cr_expect_eq(*end, '\0', "trailing junk in %s", s);
        cr_expect(back == values[i], "%.17g printed as %s reads back as %.17g", values[i], s, back);
        /* Shortest for normal doubles: one significant digit fewer must not
         * read back (a subnormal may print longer, still exact). */
        int digits = sig_digits(s);
        if (digits > 1 && strpbrk(s, ".e") && fabs(values[i]) >= DBL_MIN) {
            char shorter[512];
            snprintf(shorter, sizeof shorter, "%.*g", digits - 1, values[i]);
            cr_expect(strtod(shorter, NULL) != values[i], "%s is not shortest: %s reads back", s,
                      shorter);
        }
    }
}

Test(common, double_non_finite_is_null)
{
    cr_expect_str_eq(dbl(NAN), "null");
    cr_expect_str_eq(dbl(INFINITY), "null");
    cr_expect_str_eq(dbl(-INFINITY), "null");
}

Test(common, json_string_escaping)
{
    cr_expect_str_eq(json_str("", 0), "\"\"");
    cr_expect_str_eq(json_str("plain", 5), "\"plain\"");
    cr_expect_str_eq(json_str("a\"b\\c", 5), "\"a\\\"b\\\\c\"");
    cr_expect_str_eq(json_str("l1\nl2\r\t", 7), "\"l1\\nl2\\r\\t\"");
    cr_expect_str_eq(json_str("\x01\x1f", 2), "\"\\u0001\\u001f\"");
    /* \b and \f as JSON.stringify and json.dumps write them. */
    cr_expect_str_eq(json_str("\b\f", 2), "\"\\b\\f\"");
    /* An embedded NUL is data, not the end of the string. */
    cr_expect_str_eq(json_str("a\0b", 3), "\"a\\u0000b\"");
    /* '/' and DEL need no escape; UTF-8 (valid or not) is copied through. */
    cr_expect_str_eq(json_str("a/b\x7f", 4), "\"a/b\x7f\"");
    cr_expect_str_eq(json_str("\xc3\xa9\xff", 3), "\"\xc3\xa9\xff\"");
}

Test(common, json_string_appends)
{
    tm_buf b = {0};
    tm_buf_puts(&b, "{\"k\":");
    tm_buf_put_json_string(&b, "v", 1);
    tm_buf_putc(&b, ',');
    tm_buf_put_i64(&b, INT64_MIN);
    tm_buf_putc(&b, '}');
    cr_expect_str_eq(b.data, "{\"k\":\"v\",-9223372036854775808}");
    tm_buf_free(&b);
}

Test(common, floor_div)
{
    cr_expect_eq(tm_floor_div(7, 2), 3);
    cr_expect_eq(tm_floor_div(-7, 2), -4);
    cr_expect_eq(tm_floor_div(-8, 2), -4);
    cr_expect_eq(tm_floor_div(-1, 1000), -1);
    cr_expect_eq(tm_floor_div(0, 1000), 0);
    cr_expect_eq(tm_floor_div(-1000, 1000), -1);
    cr_expect_eq(tm_floor_div(-1001, 1000), -2);
    cr_expect_eq(tm_floor_div(INT64_MIN, 1), INT64_MIN);
    cr_expect_eq(tm_floor_div(INT64_MIN, 1000), INT64_MIN / 1000 - 1);
    cr_expect_eq(tm_floor_div(INT64_MAX, 1000), INT64_MAX / 1000);
}

Test(common, saturating_add_sub)
{
    cr_expect_eq(tm_sat_add(1, 2), 3);
    cr_expect_eq(tm_sat_add(INT64_MAX, 1), INT64_MAX);
    cr_expect_eq(tm_sat_add(INT64_MAX - 5, 10), INT64_MAX);
    cr_expect_eq(tm_sat_add(INT64_MIN, -1), INT64_MIN);
    cr_expect_eq(tm_sat_add(INT64_MIN, INT64_MAX), -1);
    cr_expect_eq(tm_sat_sub(5, 7), -2);
    cr_expect_eq(tm_sat_sub(INT64_MIN, 1), INT64_MIN);
    cr_expect_eq(tm_sat_sub(INT64_MAX, -1), INT64_MAX);
    cr_expect_eq(tm_sat_sub(0, INT64_MIN), INT64_MAX);
    cr_expect_eq(tm_sat_sub(-1, INT64_MIN), INT64_MAX);
}

Test(common, parse_i64_accepts)
{
    int64_t v = 0;
    cr_expect_eq(tm_parse_i64("0", &v), TM_OK);
    cr_expect_eq(v, 0);
    cr_expect_eq(tm_parse_i64("-42", &v), TM_OK);
    cr_expect_eq(v, -42);
    cr_expect_eq(tm_parse_i64("9223372036854775807", &v), TM_OK);
    cr_expect_eq(v, INT64_MAX);
    cr_expect_eq(tm_parse_i64("-9223372036854775808", &v), TM_OK);
    cr_expect_eq(v, INT64_MIN);
}

Test(common, parse_i64_rejects)
{
    static const char *const junk[] = {
        "",
        "-",
        "+",
        "12a",
        "a12",
        "1.5",
        "1e3",
        "0x10",
        "1 ",
        " 1",
        "\t1",
        "--1",
        "1-",
        "9223372036854775808",
        "-9223372036854775809",
        "99999999999999999999999",
    };
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
        int64_t v = 12345;
        cr_expect_eq(tm_parse_i64(junk[i], &v), TM_EINVAL, "accepted \"%s\"", junk[i]);
        cr_expect_eq(v, 12345, "wrote *out for \"%s\"", junk[i]);
    }
    int64_t v = 0;
    cr_expect_eq(tm_parse_i64(NULL, &v), TM_EINVAL);
}

Test(common, strerror_table)
{
    cr_expect_str_eq(tm_strerror(TM_OK), "success");
    cr_expect_str_eq(tm_strerror(TM_EINVAL), "invalid argument");
    cr_expect_str_eq(tm_strerror(TM_EFATAL), "fatal error");
    cr_expect_str_eq(tm_strerror(1), "unknown error");
    cr_expect_lt(TM_EINVAL, 0);
    cr_expect_lt(TM_EFATAL, 0);
}

Test(common, seterr_formats_and_returns)
{
    char err[16];
    cr_expect_eq(tm_seterr(err, sizeof err, TM_ECONFIG, "bad %s", "key"), TM_ECONFIG);
    cr_expect_str_eq(err, "bad key");
    /* Truncated, still terminated. */
    tm_seterr(err, sizeof err, TM_ECONFIG, "%s", "0123456789abcdefghij");
    cr_expect_str_eq(err, "0123456789abcde");
    cr_expect_eq(tm_seterr(NULL, 0, TM_EIO, "ignored"), TM_EIO);
}

Test(common, buf_printf_grows)
{
    tm_buf b = {0};
    for (int i = 0; i < 1000; i++)
        tm_buf_printf(&b, "%d,", i % 10);
    cr_expect_eq(b.len, 2000u);
    cr_expect_eq(strlen(b.data), b.len);
    tm_buf_reset(&b);
    cr_expect_eq(b.len, 0u);
    cr_expect_str_eq(b.data, "");
    tm_buf_free(&b);
    tm_buf_free(&b); /* freeing twice is harmless: the buffer is zeroed */
}

Test(common, grow_doubles_and_keeps_contents)
{
    int *v = NULL;
    size_t cap = 0;
    v = tm_grow(v, &cap, 1, sizeof *v);
    cr_assert_eq(cap, 16, "the first allocation holds 16");
    for (int i = 0; i < 16; i++)
        v[i] = i;
    int *same = tm_grow(v, &cap, 16, sizeof *v);
    cr_assert_eq(same, v, "no reallocation while it fits");
    cr_assert_eq(cap, 16);
    v = tm_grow(v, &cap, 17, sizeof *v);
    cr_assert_eq(cap, 32, "doubles");
    v = tm_grow(v, &cap, 100, sizeof *v);
    cr_assert_eq(cap, 128, "doubles until need fits");
    for (int i = 0; i < 16; i++)
        cr_assert_eq(v[i], i, "contents kept across growth");
    v[99] = 99; /* the whole capacity is writable (ASan checks) */
    free(v);
}

Test(common, memdup0_keeps_nul_bytes)
{
    char *p = tm_xmemdup0("a\0b", 3);
    cr_assert_eq(memcmp(p, "a\0b\0", 4), 0, "bytes past a NUL are copied, and a NUL added");
    free(p);
}
