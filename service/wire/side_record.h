/*
 * side_record.h: the late and dead-letter records tidemark writes, built in
 * one place for the live service and for replay, so that the two cannot
 * drift.
 *
 * A side record is the source record's key and value, untouched, with
 * tidemark.* headers (README "Reading a dead letter"):
 *
 *   tidemark.reason     too_late, or the dead-letter reason
 *   tidemark.watermark  late records: W when the record arrived (epoch ms)
 *   tidemark.source     <topic>/<partition>/<offset> of the source record
 *   tidemark.detail     dead letters: a human-readable detail
 *
 * A source record too large to copy within the target topic's record limit
 * (an input topic may take larger records than the late or dead-letter
 * topic) is written by reference: its value is dropped (null), and its key
 * too when the key alone does not fit, and two more headers say so:
 *
 *   tidemark.value_bytes  the dropped value's size
 *   tidemark.key_bytes    the dropped key's size (only when it was dropped)
 *
 * The source header then locates the original in the input topic.
 */
#ifndef TM_SIDE_RECORD_H
#define TM_SIDE_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "decode.h"
#include "engine.h"
#include "envelope.h"

enum { TM_SIDE_RECORD_MAX_HEADERS = 6 };

/* Framing a broker counts on top of a record's key, value and headers:
 * the record batch header (61 bytes) and the record's own varints, with
 * room to spare. A record whose tm_record_wire_bytes is at most a topic's
 * limit is accepted by it. */
enum { TM_RECORD_FRAMING_BYTES = 128 };

/* A topic limit of at least this always takes a side record's headers
 * (source <= 282 bytes, detail < 256, numbers): the key and value are the
 * only parts that may have to be dropped. */
enum { TM_SIDE_RECORD_MIN_LIMIT = 2048 };

/* An upper bound of the bytes a record takes in a batch of its own. */
size_t tm_record_wire_bytes(size_t key_len, size_t value_len, const tm_header *headers,
                            size_t n_headers);

typedef struct tm_side_record {
    const char *key; /* NULL: null (or dropped) */
    size_t key_len;
    const char *value; /* NULL: null (or dropped) */
    size_t value_len;
    tm_header headers[TM_SIDE_RECORD_MAX_HEADERS];
    size_t n_headers;
    /* Storage of the header values built here. */
    char source_[512], watermark_[24], key_bytes_[24], value_bytes_[24];
} tm_side_record;

/*
 * Builds the late record of rec (arrived when the watermark was
 * `watermark`) for a topic that takes records of at most max_bytes
 * (tm_record_wire_bytes). Borrows rec's bytes: *out is valid while rec is.
 */
void tm_side_record_late(tm_side_record *out, const tm_record *rec, int64_t watermark,
                         size_t max_bytes);

/* The same for a dead letter; borrows rec and detail. */
void tm_side_record_dead_letter(tm_side_record *out, const tm_record *rec, tm_dlq_reason reason,
                                const char *detail, size_t max_bytes);

#endif
