/*
 * buf.c: see buf.h.
 */
#include "buf.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "err.h"

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
