/*
 * envelope.h: the replay envelope (SEMANTICS 9): one JSON object a line,
 * as `kcat -C -J` writes it, for input; the same shape with headers for
 * output.
 *
 * Keys and payloads are bytes, not C strings (proto/README.md, "Bytes in
 * the envelope"):
 *
 * - a JSON string stands for its bytes, every escape honoured ("\u0000" is
 *   a NUL byte) and any raw byte kept as it is (kcat -J copies bytes of
 *   invalid UTF-8 into its strings unescaped);
 * - with "key_encoding":"base64" (or "payload_encoding"), the string is
 *   the RFC 4648 base64 of the bytes;
 * - tidemark writes a key or payload that is valid UTF-8 as a JSON string
 *   (control characters, NUL included, escaped), and any other one as
 *   base64 with its *_encoding member, so a JSON parser that keeps strings
 *   with their length gets back exactly the bytes.
 */
#ifndef TM_ENVELOPE_H
#define TM_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "records.h"

/* A parsed input line. Strings are owned by the envelope and live until
 * tm_envelope_clear or the next parse into it. NULL key/payload = null. */
typedef struct tm_envelope {
    const char *topic; /* NULL when absent */
    int32_t partition;
    bool has_offset;
    int64_t offset;
    int64_t ts;
    const char *key;
    size_t key_len;
    const char *payload;
    size_t payload_len;
    void *doc_;          /* the parsed document topic points into */
    tm_buf key_buf_;     /* the decoded key bytes */
    tm_buf payload_buf_; /* the decoded payload bytes */
} tm_envelope;

/* Parses one line. Returns 0, or TM_EPARSE with the problem in errstr
 * (naming the field). env must be zeroed before its first use; the bytes
 * stay valid until the next parse into it or tm_envelope_clear. */
int tm_envelope_parse(tm_envelope *env, const char *line, size_t len, char *errstr, size_t errlen);

/* Frees what env holds; it is zeroed (and reusable) afterwards. */
void tm_envelope_clear(tm_envelope *env);

/*
 * The bytes of the byte-string member `name` ("key", "payload") of the
 * envelope line[0..len), honouring "<name>_encoding". Decodes into buf
 * (reset first) and sets *bytes and *n; *bytes is NULL for null or
 * absent.
 * Returns 0, or TM_EPARSE with the problem, naming the member, in errstr.
 */
int tm_envelope_bytes(const char *line, size_t len, const char *name, tm_buf *buf,
                      const char **bytes, size_t *n, char *errstr, size_t errlen);

/* Appends one output line (with its newline) to b: {"topic","partition",
 * "key","payload","headers"}. A NULL key or payload is written as null,
 * one that is not valid UTF-8 as base64 followed by "key_encoding" or
 * "payload_encoding": "base64". */
void tm_envelope_write(tm_buf *b, const char *topic, int32_t partition, const char *key,
                       size_t key_len, const char *payload, size_t payload_len,
                       const tm_header *headers, size_t n_headers);

#endif
