/*
 * num.c: see num.h.
 */
#include "num.h"

#include <errno.h>
#include <stdlib.h>

#include "err.h"

int tm_parse_i64(const char *s, int64_t *out)
{
    /* strtoll would skip leading white space; a config value must not. */
    if (!s || !(*s == '-' || *s == '+' || (*s >= '0' && *s <= '9')))
        return TM_EINVAL;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end != '\0' || end == s)
        return TM_EINVAL;
    *out = (int64_t)v;
    return TM_OK;
}

int64_t tm_sat_add(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r))
        return b > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

int64_t tm_sat_sub(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_sub_overflow(a, b, &r))
        return b < 0 ? INT64_MAX : INT64_MIN;
    return r;
}

int64_t tm_floor_div(int64_t n, int64_t d)
{
    int64_t q = n / d;
    if ((n % d != 0) && ((n < 0) != (d < 0)))
        q--;
    return q;
}
