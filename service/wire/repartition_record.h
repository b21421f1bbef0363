/*
 * repartition_record.h: the records of the repartition topic
 * <application_id>-repartition (SEMANTICS 10-11, proto/README.md "The
 * repartition topic"), and their codec.
 *
 * A source task (input partition number p) writes two kinds of record to
 * the window task r that owns partition r of the topic:
 *
 *   event      one decoded input record: the event the window step needs
 *              (event time after clamping and as decoded, event id, one
 *              double per aggregation) and the original record (topic,
 *              partition, offset, receipt time, key, value) for the late
 *              output. Kafka key: the group key bytes.
 *   watermark  the source task's watermark and idle flag, to every
 *              partition, at each checkpoint where they changed. Kafka key:
 *              null.
 *
 * The value is binary, not JSON: the window task must not parse JSON a
 * second time. It starts with a format version byte (1 to
 * TM_REPARTITION_FORMAT_VERSION_MAX, below every printable character, as the
 * changelog's: text never passes for one) and a kind byte; integers are
 * fixed-width big-endian, doubles their IEEE-754 bit pattern (big-endian),
 * and every variable-length field has an explicit length. The group key is
 * the Kafka key and is not repeated in the value.
 *
 * Why the group key as the key: the source task picks partition r itself
 * (murmur2 of the group key, SEMANTICS 10), which is what Kafka's default
 * partitioner does with that key, so the topic stays inspectable (kcat
 * shows each event under its group key) and any producer keyed the same
 * way agrees with tidemark. The topic is cleanup.policy=delete, so the key
 * has no compaction meaning.
 *
 * Record sizes. Every record tidemark writes fits a limit (side_record.h):
 * the producer's message.max.bytes and the topic's max.message.bytes. An
 * event record is the original key and value plus an overhead: at most
 * tm_repartition_max_overhead_bytes(cfg) plus the event id's length. The
 * live service creates the topic with max.message.bytes = the input
 * topics' limit + that overhead (and needs the producer to allow as much);
 * an event that still does not fit (a larger input limit than assumed, a
 * long event id) goes by reference: tm_repartition_fit drops the original
 * value, then the original key, keeping their sizes, exactly as a late
 * record written straight from the input does (side_record.h). The window
 * task then writes its late record by reference too: the dropped sizes
 * become tidemark.value_bytes / tidemark.key_bytes, and tidemark.source
 * still locates the original. Only when an event's own part (group key,
 * id, values, topic) exceeds the limit can it not travel:
 * tm_repartition_fit says so, and the live service must treat it as a
 * configuration error (the limit is below tm_repartition_required_bytes).
 *
 * The codec holds no state; decoding borrows the bytes it reads.
 */
#ifndef TM_REPARTITION_RECORD_H
#define TM_REPARTITION_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"

/* The format this binary writes and reads. */
#define TM_REPARTITION_FORMAT_VERSION 1
/* Version bytes are 1..TM_REPARTITION_FORMAT_VERSION_MAX (0x01-0x1f): whose
 * record it is, below. */
#define TM_REPARTITION_FORMAT_VERSION_MAX 31
/* Kafka's longest topic name. */
#define TM_REPARTITION_TOPIC_MAX 249

/* The kind byte, the second byte of every value. */
typedef enum {
    TM_REPARTITION_EVENT = 'e',     /* 0x65 */
    TM_REPARTITION_WATERMARK = 'w', /* 0x77 */
} tm_repartition_kind;

/* Bytes of an event value besides its values (8 each), topic name, event
 * id, original key and original value; a watermark value's bytes. */
enum { TM_REPARTITION_EVENT_FIXED_BYTES = 62, TM_REPARTITION_WATERMARK_BYTES = 15 };

/* An original key or value: bytes, a Kafka null, or dropped (too large to
 * travel: len is then the original's size, data NULL). */
typedef struct tm_repartition_bytes {
    const char *data; /* NULL: null or dropped */
    size_t len;       /* 0 when null */
    bool dropped;
} tm_repartition_bytes;

/* One event record: what tm_repartition_encode_event writes, and what
 * tm_repartition_decode reads back (pointing into the record's bytes). */
typedef struct tm_repartition_event {
    int32_t source;        /* the source task: input partition number p */
    int64_t t;             /* event time after the source task's clamping */
    int64_t t_decoded;     /* event time as decoded (the "id+event_time" dedup key) */
    int64_t ts;            /* receipt time of the original record */
    const char *topic;     /* the original's input topic, not NUL-terminated */
    size_t topic_len;      /* 1..TM_REPARTITION_TOPIC_MAX */
    int32_t partition;     /* the original's partition (>= 0) */
    int64_t offset;        /* the original's offset (>= 0) */
    const char *group_key; /* the Kafka key; not NUL-terminated */
    size_t group_key_len;  /* <= TM_GROUP_KEY_MAX */
    const char *id;        /* the event id (decode.h), NULL when dedup is off */
    size_t id_len;
    const double *values; /* one per aggregation, in config order; finite */
    size_t n_values;
    tm_repartition_bytes key, value; /* the original record's */
} tm_repartition_event;

/* One watermark record. */
typedef struct tm_repartition_watermark {
    int32_t source;    /* the source task */
    int64_t watermark; /* its task watermark; TM_WATERMARK_MIN: none yet */
    bool idle;         /* every partition of the source task is idle */
} tm_repartition_watermark;

typedef struct tm_repartition_record {
    tm_repartition_kind kind;
    tm_repartition_event event;         /* kind == TM_REPARTITION_EVENT */
    tm_repartition_watermark watermark; /* kind == TM_REPARTITION_WATERMARK */
} tm_repartition_record;

/* What encoding or decoding found. */
#define TM_REPARTITION_STATUS_MAP(X)                                                               \
    X(OK, "ok")                                                                                    \
    X(FOREIGN, "not a tidemark record (null value, or no format version byte)")                    \
    X(VERSION, "a format version this tidemark does not read")                                     \
    X(KIND, "an unknown record kind")                                                              \
    X(TRUNCATED, "truncated: shorter than its fields say")                                         \
    X(TRAILING, "bytes after the last field")                                                      \
    X(BAD_FIELD, "a field with an impossible value")                                               \
    X(AGGS, "another number of aggregations than the configuration's")

typedef enum {
#define TM_REPARTITION_STATUS_ENUM(name, text) TM_REPARTITION_##name,
    TM_REPARTITION_STATUS_MAP(TM_REPARTITION_STATUS_ENUM)
#undef TM_REPARTITION_STATUS_ENUM
} tm_repartition_status;

/* A static text for a status, for messages. */
const char *tm_repartition_status_text(tm_repartition_status s);

/* ---- writing ---- */

/* The exact bytes of ev's value as tm_repartition_encode_event writes it. */
size_t tm_repartition_event_value_bytes(const tm_repartition_event *ev);

/* An upper bound of the bytes ev's record takes in a batch of its own
 * (tm_record_wire_bytes of its key and value): what the limits must take. */
size_t tm_repartition_event_wire_bytes(const tm_repartition_event *ev);

/* tm_repartition_event_wire_bytes of ev with its original key and value
 * dropped: the smallest limit that takes ev. */
size_t tm_repartition_required_bytes(const tm_repartition_event *ev);

/* The bytes an event record under cfg takes beyond its original key and
 * value and its event id, at most (longest topic name and group key):
 * what to add to the input topics' limit for the repartition topic's. */
size_t tm_repartition_max_overhead_bytes(const tm_config *cfg);

/* Drops ev's original value, then its original key, until ev's record
 * fits max_bytes (tm_repartition_event_wire_bytes); the dropped ones keep
 * their sizes. Returns whether it fits. */
bool tm_repartition_fit(tm_repartition_event *ev, size_t max_bytes);

/* Appends ev's value to out. Returns TM_REPARTITION_OK, or
 * TM_REPARTITION_BAD_FIELD (and appends nothing) when ev breaks a bound
 * stated in tm_repartition_event (a length that does not fit its field,
 * a negative source, partition or offset, a value that is not finite), so
 * that no record is written that a window task would refuse. */
tm_repartition_status tm_repartition_encode_event(tm_buf *out, const tm_repartition_event *ev);

/* Appends w's value to out (its key is null). BAD_FIELD for a negative
 * source. */
tm_repartition_status tm_repartition_encode_watermark(tm_buf *out,
                                                      const tm_repartition_watermark *w);

/* ---- reading ---- */

/*
 * Whose record it is. The repartition topic is tidemark's own, but a
 * mistaken producer can write to it. A record is tidemark's when its value
 * is not null and starts with a version byte 1..TM_REPARTITION_FORMAT_VERSION_MAX;
 * any other is foreign (a window task skips and counts it). A record of
 * tidemark's that tm_repartition_decode refuses was written by another
 * version of tidemark, or damaged: the window task must stop, naming the
 * status, rather than skip events.
 */
bool tm_repartition_is_ours(const void *value, size_t value_len);

/*
 * Decodes one record (key may be NULL: a null key, the empty group key for
 * an event; a watermark record's key is not read). n_aggs is the
 * configuration's aggregation count, and values has room for n_aggs
 * doubles: an event's values are written there and out->event.values
 * points at them. The rest of *out points into key and value.
 *
 * Never reads outside the given bytes. Returns TM_REPARTITION_OK, or the
 * first problem found; the record is checked whole, so AGGS means a
 * well-formed record written under another configuration, and then
 * out->event.n_values is the record's count (values is left untouched).
 */
tm_repartition_status tm_repartition_decode(const void *key, size_t key_len, const void *value,
                                            size_t value_len, size_t n_aggs, double *values,
                                            tm_repartition_record *out);

#endif
