/*
 * json_string.h: a JSON string literal as bytes. cJSON keeps strings
 * NUL-terminated, so "a\u0000b" reads back as "a"; where the bytes matter
 * (the replay envelope's key and payload) the literal is decoded here,
 * with its length.
 */
#ifndef TM_JSON_STRING_H
#define TM_JSON_STRING_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* The value of the four hex digits p[0..4) (after "\u"), or -1 if one is
 * not a hex digit. */
long tm_json_hex4(const unsigned char *p);

/* The end of the string literal that starts with the quote at s[0]: the
 * offset just past its closing quote, or 0 if s[0..n) does not hold one. */
size_t tm_json_string_end(const char *s, size_t n);

/*
 * Appends the bytes of the string literal lit[0..n) (quotes included) to
 * out: escapes decoded (\u0000 is a NUL byte, a surrogate pair one code
 * point), any other byte copied as it is (a raw byte of invalid UTF-8, as
 * kcat -J writes it, stays that byte). False, out unspecified, if lit is
 * not exactly one literal or holds a bad escape or an unpaired surrogate.
 */
bool tm_json_string_decode(const char *lit, size_t n, tm_buf *out);

#endif
