/*
 * envelope.h: the replay envelope (SEMANTICS 9): one JSON object a line,
 * as `kcat -C -J` writes it, for input; the same shape with headers for
 * output.
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
    void *doc_; /* the parsed document the strings point into */
} tm_envelope;

/* Parses one line. Returns 0, or TM_EPARSE with the problem in errstr
 * (naming the field). env must be zeroed before its first use. */
int tm_envelope_parse(tm_envelope *env, const char *line, size_t len, char *errstr, size_t errlen);

void tm_envelope_clear(tm_envelope *env);

/* Appends one output line (with its newline) to b: {"topic","partition",
 * "key","payload","headers"}. A NULL key or payload is written as null. */
void tm_envelope_write(tm_buf *b, const char *topic, int32_t partition, const char *key,
                       size_t key_len, const char *payload, size_t payload_len,
                       const tm_header *headers, size_t n_headers);

#endif
