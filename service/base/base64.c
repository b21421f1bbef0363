/*
 * base64.c: see base64.h.
 */
#include "base64.h"

#include <stdint.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void tm_base64_encode(tm_buf *b, const void *data, size_t n)
{
    const unsigned char *p = data;
    tm_buf_reserve(b, (n + 2) / 3 * 4);
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        char quad[4] = {alphabet[v >> 18], alphabet[v >> 12 & 63],
                        i + 1 < n ? alphabet[v >> 6 & 63] : '=',
                        i + 2 < n ? alphabet[v & 63] : '='};
        tm_buf_append(b, quad, sizeof quad);
    }
}

/* The 6-bit value of a base64 character, or -1. */
static int sextet(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

bool tm_base64_decode(tm_buf *b, const char *s, size_t n)
{
    if (n % 4 != 0)
        return false;
    tm_buf_reserve(b, n / 4 * 3);
    for (size_t i = 0; i < n; i += 4) {
        bool last = i + 4 == n;
        /* '=' may stand only for the last one or two characters. */
        size_t pad = last && s[i + 3] == '=' ? (s[i + 2] == '=' ? 2 : 1) : 0;
        uint32_t v = 0;
        for (size_t j = 0; j < 4; j++) {
            int x = j < 4 - pad ? sextet((unsigned char)s[i + j]) : 0;
            if (x < 0)
                return false;
            v = v << 6 | (uint32_t)x;
        }
        unsigned char bytes[3] = {(unsigned char)(v >> 16), (unsigned char)(v >> 8),
                                  (unsigned char)v};
        tm_buf_append(b, bytes, 3 - pad);
    }
    return true;
}
