/*
 * rfc3339.c: strict RFC 3339 date-time parsing (grammar and decisions in
 * rfc3339.h).
 *
 * Invariants: never reads outside s[0..n); all arithmetic is on int64 with
 * operands bounded by the 4-digit year, so nothing can overflow; a text is
 * accepted only if every field is in range, so each accepted text names
 * exactly one instant.
 */
#include "rfc3339.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "num.h"

/* The fixed-width prefix "YYYY-MM-DDThh:mm:ss". */
#define RFC3339_PREFIX_LEN 19

/* The parsed fields, before range checks. */
typedef struct rfc3339_fields {
    int year, month, day, hour, minute, second;
    int64_t frac_ms;    /* the fraction's first 3 digits, in ms */
    int offset_sign;    /* +1 or -1 */
    int offset_minutes; /* magnitude of the offset */
} rfc3339_fields;

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Reads width digits at s into *out; false if any is not a digit. */
static bool read_digits(const char *s, int width, int *out)
{
    int v = 0;
    for (int i = 0; i < width; i++) {
        if (!is_digit(s[i]))
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

static bool is_leap_year(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap_year(y) ? 29 : days[m - 1];
}

/* Howard Hinnant's days_from_civil: exact for the whole proleptic
 * Gregorian calendar, with eras of 400 years so that negative years and
 * dates before 1970 need no special case. */
int64_t tm_days_from_civil(int64_t year, int month, int day)
{
    int64_t y = month <= 2 ? year - 1 : year;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;                         /* [0, 399] */
    int64_t mp = month > 2 ? month - 3 : month + 9;      /* March = 0 */
    int64_t doy = (153 * mp + 2) / 5 + day - 1;          /* [0, 365] */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; /* [0, 146096] */
    return era * 146097 + doe - 719468;
}

/* "YYYY-MM-DDThh:mm:ss": digits and separators at fixed positions. */
static bool parse_prefix(const char *s, rfc3339_fields *f)
{
    char sep = s[10];
    return read_digits(s, 4, &f->year) && s[4] == '-' && read_digits(s + 5, 2, &f->month) &&
           s[7] == '-' && read_digits(s + 8, 2, &f->day) &&
           (sep == 'T' || sep == 't' || sep == ' ') && read_digits(s + 11, 2, &f->hour) &&
           s[13] == ':' && read_digits(s + 14, 2, &f->minute) && s[16] == ':' &&
           read_digits(s + 17, 2, &f->second);
}

/* ".digits" at s[*i..n), if present: keeps the first three digits as
 * milliseconds (padding shorter fractions) and skips the rest, which is
 * truncation of the written value. */
static bool parse_fraction(const char *s, size_t n, size_t *i, rfc3339_fields *f)
{
    f->frac_ms = 0;
    if (*i >= n || s[*i] != '.')
        return true;
    size_t start = ++*i;
    int64_t scale = 100;
    while (*i < n && is_digit(s[*i])) {
        f->frac_ms += (s[*i] - '0') * scale;
        scale /= 10; /* becomes 0 after the third digit: later digits add nothing */
        ++*i;
    }
    return *i > start; /* RFC 3339: time-secfrac = "." 1*DIGIT */
}

/* "Z", "z" or "+hh:mm" / "-hh:mm", which must end the text. */
static bool parse_offset(const char *s, size_t n, size_t i, rfc3339_fields *f)
{
    if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
        f->offset_sign = 1;
        f->offset_minutes = 0;
        return i + 1 == n;
    }
    int oh = 0, om = 0;
    if (n - i != 6 || (s[i] != '+' && s[i] != '-') || !read_digits(s + i + 1, 2, &oh) ||
        s[i + 3] != ':' || !read_digits(s + i + 4, 2, &om) || oh > 23 || om > 59)
        return false;
    f->offset_sign = s[i] == '-' ? -1 : 1;
    f->offset_minutes = oh * 60 + om;
    return true;
}

static bool fields_in_range(const rfc3339_fields *f)
{
    return f->month >= 1 && f->month <= 12 && f->day >= 1 &&
           f->day <= days_in_month(f->year, f->month) && f->hour <= 23 && f->minute <= 59 &&
           f->second <= 60;
}

/* Combines checked fields into ms since the epoch; false for a leap second
 * that is not at 23:59:60 UTC. */
static bool fields_to_ms(const rfc3339_fields *f, int64_t *out_ms)
{
    bool leap = f->second == 60;
    int64_t days = tm_days_from_civil(f->year, f->month, f->day);
    int64_t local_s = days * 86400 + f->hour * 3600 + f->minute * 60 + (leap ? 59 : f->second);
    int64_t utc_s = local_s - (int64_t)f->offset_sign * f->offset_minutes * 60;
    if (leap && tm_floor_div(utc_s, 86400) * 86400 + 86399 != utc_s)
        return false;
    *out_ms = utc_s * 1000 + f->frac_ms;
    return true;
}

int tm_rfc3339_parse(const char *s, size_t n, int64_t *out_ms)
{
    rfc3339_fields f;
    size_t i = RFC3339_PREFIX_LEN;
    if (n < RFC3339_PREFIX_LEN + 1 || !parse_prefix(s, &f) || !parse_fraction(s, n, &i, &f) ||
        !parse_offset(s, n, i, &f) || !fields_in_range(&f) || !fields_to_ms(&f, out_ms))
        return TM_EPARSE;
    return TM_OK;
}
