/*
 * side_record.c: see side_record.h.
 *
 * Invariant: a built side record always fits its limit (given a limit that
 * takes the headers alone, which tm_kafka checks at startup): first the
 * value is dropped, then the key.
 */
#include "side_record.h"

#include <stdio.h>
#include <string.h>

/* Two varint lengths (at most 5 bytes each) frame every header. */
enum { HEADER_FRAMING_BYTES = 10 };

size_t tm_record_wire_bytes(size_t key_len, size_t value_len, const tm_header *headers,
                            size_t n_headers)
{
    size_t n = TM_RECORD_FRAMING_BYTES + key_len + value_len;
    for (size_t i = 0; i < n_headers; i++)
        n += HEADER_FRAMING_BYTES + strlen(headers[i].name) +
             (headers[i].value ? strlen(headers[i].value) : 0);
    return n;
}

static void add_header(tm_side_record *s, const char *name, const char *value)
{
    s->headers[s->n_headers++] = (tm_header){name, value};
}

/* Starts a side record: rec's bytes, and its source header. */
static void begin(tm_side_record *s, const tm_record *rec, const char *reason)
{
    memset(s, 0, sizeof *s);
    s->key = rec->key;
    s->key_len = rec->key_len;
    s->value = rec->value;
    s->value_len = rec->value_len;
    snprintf(s->source_, sizeof s->source_, "%s/%d/%lld", rec->topic, (int)rec->partition,
             (long long)rec->offset);
    add_header(s, "tidemark.reason", reason);
}

static void drop_value(tm_side_record *s, size_t bytes)
{
    snprintf(s->value_bytes_, sizeof s->value_bytes_, "%zu", bytes);
    add_header(s, "tidemark.value_bytes", s->value_bytes_);
    s->value = NULL;
    s->value_len = 0;
}

static void drop_key(tm_side_record *s, size_t bytes)
{
    snprintf(s->key_bytes_, sizeof s->key_bytes_, "%zu", bytes);
    add_header(s, "tidemark.key_bytes", s->key_bytes_);
    s->key = NULL;
    s->key_len = 0;
}

/* Drops the value, then the key, until the record fits max_bytes; each drop
 * leaves a header with the dropped size. What rec had dropped already (an
 * event that crossed the repartition topic by reference) stays dropped,
 * and says so the same way. */
static void fit(tm_side_record *s, const tm_record *rec, size_t max_bytes)
{
    if (rec->value_dropped_bytes)
        drop_value(s, rec->value_dropped_bytes);
    if (rec->key_dropped_bytes)
        drop_key(s, rec->key_dropped_bytes);
    if (tm_record_wire_bytes(s->key_len, s->value_len, s->headers, s->n_headers) <= max_bytes)
        return;
    if (s->value)
        drop_value(s, s->value_len);
    if (s->key && tm_record_wire_bytes(s->key_len, 0, s->headers, s->n_headers) > max_bytes)
        drop_key(s, s->key_len);
}

void tm_side_record_late(tm_side_record *out, const tm_record *rec, int64_t watermark,
                         size_t max_bytes)
{
    begin(out, rec, "too_late");
    snprintf(out->watermark_, sizeof out->watermark_, "%lld", (long long)watermark);
    add_header(out, "tidemark.watermark", out->watermark_);
    add_header(out, "tidemark.source", out->source_);
    fit(out, rec, max_bytes);
}

void tm_side_record_dead_letter(tm_side_record *out, const tm_record *rec, tm_dlq_reason reason,
                                const char *detail, size_t max_bytes)
{
    begin(out, rec, tm_dlq_reason_name(reason));
    add_header(out, "tidemark.source", out->source_);
    add_header(out, "tidemark.detail", detail);
    fit(out, rec, max_bytes);
}
