/*
 * utf8.h: UTF-8 validity (RFC 3629: no overlong forms, no surrogates,
 * nothing above U+10FFFF) and encoding, for the strict JSON check and for
 * the replay envelope, which writes a byte string as text only when it is
 * valid UTF-8.
 */
#ifndef TM_UTF8_H
#define TM_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A UTF-8 continuation byte, 10xxxxxx. */
static inline bool tm_utf8_is_cont(unsigned char c)
{
    return (c & 0xC0) == 0x80;
}

/* The length (2-4) of the valid multi-byte sequence at p[0..left), or 0
 * when there is none (p[0] must be >= 0x80). */
size_t tm_utf8_seq_len(const unsigned char *p, size_t left);

/* True when s[0..n) is valid UTF-8 (NUL bytes included: U+0000 is valid). */
bool tm_utf8_valid(const char *s, size_t n);

/* Appends the UTF-8 encoding (1-4 bytes) of code point cp <= 0x10FFFF to
 * out; returns the byte count. */
size_t tm_utf8_encode(uint32_t cp, unsigned char out[4]);

#endif
