/*
 * test_rfc3339.c: the RFC 3339 reader on its own. Expected instants were
 * computed independently with Python's datetime.
 */
#include <criterion/criterion.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "alloc.h"
#include "err.h"
#include "rfc3339.h"

/* Parses a C string; the buffer handed over has no NUL after the text, so
 * ASan would catch a read past the end. */
static int parse(const char *s, int64_t *out)
{
    size_t n = strlen(s);
    char *copy = tm_xmalloc(n);
    memcpy(copy, s, n);
    int rc = tm_rfc3339_parse(copy, n, out);
    free(copy);
    return rc;
}

static void expect_ms(const char *s, int64_t want)
{
    int64_t got = 0;
    cr_assert_eq(parse(s, &got), TM_OK, "'%s' rejected", s);
    cr_assert_eq(got, want, "'%s': got %lld, want %lld", s, (long long)got, (long long)want);
}

static void expect_bad(const char *s)
{
    int64_t got = 12345;
    cr_assert_eq(parse(s, &got), TM_EPARSE, "'%s' accepted as %lld", s, (long long)got);
    cr_assert_eq(got, 12345, "output written on failure");
}

Test(rfc3339, utc_and_fractions)
{
    expect_ms("1970-01-01T00:00:00Z", 0);
    expect_ms("2026-11-20T10:00:00.123Z", 1795168800123);
    expect_ms("2026-11-20T10:00:00.1Z", 1795168800100);
    expect_ms("2026-11-20T10:00:00.12Z", 1795168800120);
    expect_ms("2026-11-20T10:00:00.123456789Z", 1795168800123);
    expect_ms("2026-11-20T10:00:00.1239Z", 1795168800123); /* truncated, not rounded */
    expect_ms("2026-11-20T10:00:00.000000000000000000000001Z", 1795168800000);
    expect_ms("2023-11-14T22:13:20.123Z", 1700000000123);
}

Test(rfc3339, offsets)
{
    expect_ms("2026-11-20T10:00:00+02:00", 1795161600000);
    expect_ms("2026-11-20T10:00:00-05:30", 1795188600000);
    expect_ms("2026-11-20T10:00:00+00:00", 1795168800000);
    expect_ms("2026-11-20T10:00:00-00:00", 1795168800000);
    expect_ms("1970-01-01T00:00:00+23:59", -86340000);
    expect_ms("1970-01-01T00:00:00-23:59", 86340000);
    expect_ms("2026-11-20T12:00:00.5+02:00", 1795168800500);
}

Test(rfc3339, before_1970)
{
    expect_ms("1969-12-31T23:59:59.500Z", -500);
    expect_ms("1969-12-31T23:59:59.5009Z", -500); /* floor of -499.1 */
    expect_ms("1969-12-31T23:59:59.999Z", -1);
    expect_ms("1900-01-01T00:00:00Z", -2208988800000);
    expect_ms("0001-01-01T00:00:00Z", -62135596800000);
    expect_ms("0000-01-01T00:00:00Z", -62167219200000);
    expect_ms("9999-12-31T23:59:59.999Z", 253402300799999);
}

Test(rfc3339, leap_years)
{
    expect_ms("2024-02-29T12:00:00Z", 1709208000000);
    expect_ms("2000-02-29T00:00:00Z", 951782400000);
    expect_bad("2023-02-29T00:00:00Z");
    expect_bad("2100-02-29T00:00:00Z"); /* century, not divisible by 400 */
    expect_bad("2024-02-30T00:00:00Z");
}

Test(rfc3339, field_ranges)
{
    expect_bad("2026-13-01T00:00:00Z");
    expect_bad("2026-00-01T00:00:00Z");
    expect_bad("2026-01-00T00:00:00Z");
    expect_bad("2026-01-32T00:00:00Z");
    expect_bad("2026-04-31T00:00:00Z");
    expect_bad("2026-01-01T24:00:00Z");
    expect_bad("2026-01-01T00:60:00Z");
    expect_bad("2026-01-01T00:00:61Z");
    expect_bad("2026-01-01T00:00:00+24:00");
    expect_bad("2026-01-01T00:00:00+01:60");
}

Test(rfc3339, separators_and_case)
{
    expect_ms("2026-11-20t10:00:00.123z", 1795168800123);
    expect_ms("2026-11-20 10:00:00.123Z", 1795168800123);
    expect_bad("2026-11-20_10:00:00Z");
    expect_bad("2026-11-20T10:00:00.123 Z");
}

Test(rfc3339, leap_second)
{
    /* Read as 23:59:59 UTC, fraction kept. */
    expect_ms("2016-12-31T23:59:60Z", 1483228799000);
    expect_ms("2016-12-31T23:59:60.5Z", 1483228799500);
    expect_ms("2017-01-01T00:59:60+01:00", 1483228799000);
    expect_ms("2016-12-31T18:29:60-05:30", 1483228799000);
    expect_bad("2016-12-31T22:59:60Z");
    expect_bad("2016-12-31T23:58:60Z");
    expect_bad("2016-12-31T23:59:60+01:00"); /* 22:59:60 UTC */
}

Test(rfc3339, malformed)
{
    const char *bad[] = {
        "",
        "2026",
        "2026-11-20",
        "2026-11-20T10:00Z",
        "2026-11-20T10:00:00", /* no offset */
        "2026-11-20T10:00:00+0200",
        "2026-11-20T10:00:00+02",
        "2026-11-20T10:00:00+02:00:00",
        "2026-11-20T10:00:00.Z", /* fraction needs a digit */
        "2026-11-20T10:00:00,5Z",
        "2026-11-20T10:00:00ZZ",
        " 2026-11-20T10:00:00Z",
        "2026-11-20T10:00:00Z ",
        "26-11-20T10:00:00Z",
        "+2026-11-20T10:00:00Z",
        "2026-1-20T10:00:00Z",
        "2026/11/20T10:00:00Z",
        "2026-11-20T1a:00:00Z",
        "abc",
        "2026-11-20T10:00:00.12a3Z",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_bad(bad[i]);
}

Test(rfc3339, embedded_nul_rejected)
{
    int64_t out = 0;
    cr_assert_eq(tm_rfc3339_parse("2026-11-20T10:00:00Z\0", 21, &out), TM_EPARSE);
    cr_assert_eq(tm_rfc3339_parse("2026-11-20T10:00:00\0Z", 21, &out), TM_EPARSE);
    cr_assert_eq(tm_rfc3339_parse(NULL, 0, &out), TM_EPARSE);
}

Test(rfc3339, days_from_civil)
{
    cr_assert_eq(tm_days_from_civil(1970, 1, 1), 0);
    cr_assert_eq(tm_days_from_civil(1969, 12, 31), -1);
    cr_assert_eq(tm_days_from_civil(2000, 3, 1), 11017);
    cr_assert_eq(tm_days_from_civil(0, 1, 1), -719528);
}
