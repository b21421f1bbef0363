/*
 * buf.h: tm_buf, a growable byte buffer for building text, and the JSON
 * writers (numbers that read back exactly, escaped strings).
 */
#ifndef TM_BUF_H
#define TM_BUF_H

#include <stddef.h>
#include <stdint.h>

/*
 * A growable byte buffer for building text (JSON output, /metrics).
 * Always NUL-terminated after the first append; len excludes the NUL.
 * A zero-initialised tm_buf is empty and valid.
 */
typedef struct tm_buf {
    char *data;
    size_t len;
    size_t cap;
} tm_buf;

void tm_buf_reserve(tm_buf *b, size_t extra);
void tm_buf_append(tm_buf *b, const void *data, size_t n);
void tm_buf_puts(tm_buf *b, const char *s);
void tm_buf_putc(tm_buf *b, char c);
__attribute__((format(printf, 2, 3))) void tm_buf_printf(tm_buf *b, const char *fmt, ...);
void tm_buf_put_i64(tm_buf *b, int64_t v);
/* Appends a decimal text that reads back as exactly v: integers without a
 * fraction, other values in the fewest of 15..17 significant digits (the
 * shortest form for every normal double). Non-finite values are written as
 * null, since JSON has no other spelling for them. */
void tm_buf_put_double(tm_buf *b, double v);
/* Appends s[0..n) as a JSON string literal, quotes included. Invalid UTF-8
 * bytes are copied through unchanged; control characters are escaped. */
void tm_buf_put_json_string(tm_buf *b, const char *s, size_t n);
void tm_buf_reset(tm_buf *b);
void tm_buf_free(tm_buf *b);

#endif
