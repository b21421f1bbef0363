/*
 * common.c: errors, checked allocation, tm_buf and small integer helpers.
 */
#include "common.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *tm_strerror(int err)
{
    switch (err) {
    case TM_OK:
        return "success";
#define TM_ERR_CASE(name, msg)                                                                     \
    case TM_E##name:                                                                               \
        return msg;
        TM_ERRNO_MAP(TM_ERR_CASE)
#undef TM_ERR_CASE
    default:
        return "unknown error";
    }
}

void tm_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("tidemark: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

void tm_vformat(char *buf, size_t len, const char *fmt, va_list ap)
{
    if (buf && len > 0)
        vsnprintf(buf, len, fmt, ap);
}

int tm_seterr(char *errstr, size_t errlen, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tm_vformat(errstr, errlen, fmt, ap);
    va_end(ap);
    return err;
}

void *tm_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        tm_die("out of memory allocating %zu bytes", n);
    return p;
}

void *tm_xcalloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        tm_die("out of memory allocating %zu x %zu bytes", count, size);
    return p;
}

void *tm_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        tm_die("out of memory reallocating %zu bytes", n);
    return q;
}

char *tm_xmemdup0(const void *p, size_t n)
{
    char *copy = tm_xmalloc(n + 1);
    memcpy(copy, p, n);
    copy[n] = '\0';
    return copy;
}

char *tm_xstrdup(const char *s)
{
    return tm_xmemdup0(s, strlen(s));
}

void *tm_grow(void *ptr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return ptr;
    size_t n = *cap ? *cap : 16;
    while (n < need && n <= SIZE_MAX / 2)
        n *= 2;
    if (n < need || n > SIZE_MAX / elem)
        tm_die("out of memory: %zu elements of %zu bytes", n, elem);
    ptr = tm_xrealloc(ptr, n * elem);
    *cap = n;
    return ptr;
}

void tm_buf_reserve(tm_buf *b, size_t extra)
{
    /* + 1: room for the terminating NUL */
    b->data = tm_grow(b->data, &b->cap, b->len + extra + 1, 1);
}

void tm_buf_append(tm_buf *b, const void *data, size_t n)
{
    tm_buf_reserve(b, n);
    if (n)
        memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void tm_buf_puts(tm_buf *b, const char *s)
{
    tm_buf_append(b, s, strlen(s));
}

void tm_buf_putc(tm_buf *b, char c)
{
    tm_buf_reserve(b, 1);
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
}

void tm_buf_printf(tm_buf *b, const char *fmt, ...)
{
    /* Format into the spare capacity first; only a text longer than that
     * needs a second pass after growing. */
    tm_buf_reserve(b, 64);
    size_t room = b->cap - b->len;
    va_list ap;
    va_start(ap, fmt);
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(b->data + b->len, room, fmt, ap);
    va_end(ap);
    if (n < 0)
        tm_die("tm_buf_printf: bad format '%s'", fmt);
    if ((size_t)n >= room) {
        tm_buf_reserve(b, (size_t)n);
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
    }
    va_end(ap2);
    b->len += (size_t)n;
}

void tm_buf_put_i64(tm_buf *b, int64_t v)
{
    char tmp[24];
    /* Hand-rolled: this runs for every emitted number on the hot path. */
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    size_t i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        tmp[--i] = '-';
    tm_buf_append(b, tmp + i, sizeof tmp - i);
}

void tm_buf_put_double(tm_buf *b, double v)
{
    if (!isfinite(v)) {
        tm_buf_puts(b, "null");
        return;
    }
    /* Integral values within 2^53 print as integers with ".0" dropped:
     * shortest and exact. */
    if (v == floor(v) && fabs(v) < 9007199254740992.0) {
        tm_buf_put_i64(b, (int64_t)v);
        return;
    }
    /* Otherwise the first of %.15g, %.16g, %.17g that reads back as the
     * same double. Every normal double whose shortest form has at most 15
     * digits prints as exactly that form at %.15g (%g drops trailing zeros),
     * so this matches trying 1..17 digits at a fraction of the cost (the
     * output formats a few numbers per window result); only subnormals may
     * come out longer than their shortest form, still exact. */
    char tmp[32];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    tm_buf_puts(b, tmp);
}

void tm_buf_put_json_string(tm_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    tm_buf_reserve(b, n + 2);
    tm_buf_putc(b, '"');
    size_t run = 0; /* start of the pending run of bytes that need no escape */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        tm_buf_append(b, s + run, i - run);
        run = i + 1;
        switch (c) {
        case '"':
            tm_buf_puts(b, "\\\"");
            break;
        case '\\':
            tm_buf_puts(b, "\\\\");
            break;
        case '\n':
            tm_buf_puts(b, "\\n");
            break;
        case '\r':
            tm_buf_puts(b, "\\r");
            break;
        case '\t':
            tm_buf_puts(b, "\\t");
            break;
        case '\b':
            tm_buf_puts(b, "\\b");
            break;
        case '\f':
            tm_buf_puts(b, "\\f");
            break;
        default: {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            tm_buf_append(b, esc, sizeof esc);
        }
        }
    }
    tm_buf_append(b, s + run, n - run);
    tm_buf_putc(b, '"');
}

void tm_buf_reset(tm_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void tm_buf_free(tm_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

uint64_t tm_rand_next(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 2685821657736338717ull;
}

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

int64_t tm_wall_clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
