/*
 * base64.h: RFC 4648 base64 (standard alphabet, '=' padding), how the
 * replay envelope carries a key or value that is not valid UTF-8.
 */
#ifndef TM_BASE64_H
#define TM_BASE64_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* Appends the base64 text of data[0..n) to b (no quotes, no newlines). */
void tm_base64_encode(tm_buf *b, const void *data, size_t n);

/* Appends the bytes that the base64 text s[0..n) stands for to b. Strict:
 * a multiple of 4 characters of the standard alphabet, '=' only as the
 * padding at the end, no whitespace. False (b unspecified) otherwise. */
bool tm_base64_decode(tm_buf *b, const char *s, size_t n);

#endif
