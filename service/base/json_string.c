/*
 * json_string.c: see json_string.h.
 */
#include "json_string.h"

#include <stdint.h>
#include <string.h>

#include "utf8.h"

long tm_json_hex4(const unsigned char *p)
{
    long v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char c = p[i];
        int h = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

size_t tm_json_string_end(const char *s, size_t n)
{
    if (n == 0 || s[0] != '"')
        return 0;
    for (size_t i = 1; i < n; i++) {
        if (s[i] == '\\')
            i++; /* the escaped byte is never the closing quote */
        else if (s[i] == '"')
            return i + 1;
    }
    return 0;
}

/* Reads the \u escape at p (p[0] == '\\', p[1] == 'u', 6 bytes there) and
 * the low surrogate escape after a high one; the code point into *cp and
 * the escape's length, or 0 if bad. */
static size_t u_escape(const unsigned char *p, const unsigned char *end, uint32_t *cp)
{
    long hi = tm_json_hex4(p + 2);
    if (hi < 0 || (hi >= 0xDC00 && hi <= 0xDFFF))
        return 0;
    if (hi < 0xD800 || hi > 0xDBFF) {
        *cp = (uint32_t)hi;
        return 6;
    }
    if (end - p < 12 || p[6] != '\\' || p[7] != 'u')
        return 0;
    long lo = tm_json_hex4(p + 8);
    if (lo < 0xDC00 || lo > 0xDFFF)
        return 0;
    *cp = 0x10000 + (((uint32_t)hi - 0xD800) << 10) + ((uint32_t)lo - 0xDC00);
    return 12;
}

bool tm_json_string_decode(const char *lit, size_t n, tm_buf *out)
{
    if (tm_json_string_end(lit, n) != n)
        return false;
    const unsigned char *p = (const unsigned char *)lit + 1,
                        *end = (const unsigned char *)lit + n - 1;
    tm_buf_reserve(out, n);
    while (p < end) {
        const unsigned char *bs = memchr(p, '\\', (size_t)(end - p));
        if (!bs)
            bs = end;
        tm_buf_append(out, p, (size_t)(bs - p));
        p = bs;
        if (p == end)
            break;
        /* tm_json_string_end saw the escaped byte before the closing quote. */
        static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
        const char *simple = p[1] ? strchr(from, p[1]) : NULL;
        if (simple) {
            tm_buf_putc(out, to[simple - from]);
            p += 2;
            continue;
        }
        uint32_t cp;
        size_t len = p[1] == 'u' && end - p >= 6 ? u_escape(p, end, &cp) : 0;
        if (!len)
            return false;
        unsigned char utf8[4];
        tm_buf_append(out, utf8, tm_utf8_encode(cp, utf8));
        p += len;
    }
    return true;
}
