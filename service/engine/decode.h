/*
 * decode.h: turns a record's value into an event, or into a dead-letter
 * reason (SEMANTICS 2).
 *
 * Invariants: decoding never crashes and never reads outside the given
 * bytes, whatever the input; the checks run in the order of the reason table
 * and the first failure wins. Clock skew (the last reason) is not decided
 * here: it needs the receipt time and lives in the engine.
 */
#ifndef TM_DECODE_H
#define TM_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define TM_DLQ_REASON_MAP(X)                                                                       \
    X(NONE, "")                                                                                    \
    X(EMPTY_VALUE, "empty_value")                                                                  \
    X(INVALID_JSON, "invalid_json")                                                                \
    X(MISSING_EVENT_TIME, "missing_event_time")                                                    \
    X(INVALID_EVENT_TIME, "invalid_event_time")                                                    \
    X(INVALID_KEY, "invalid_key")                                                                  \
    X(MISSING_EVENT_ID, "missing_event_id")                                                        \
    X(MISSING_FIELD, "missing_field")                                                              \
    X(INVALID_FIELD_TYPE, "invalid_field_type")                                                    \
    X(CLOCK_SKEW, "clock_skew")

typedef enum {
#define TM_DLQ_ENUM(name, text) TM_DLQ_##name,
    TM_DLQ_REASON_MAP(TM_DLQ_ENUM) /* one enumerator per reason */
#undef TM_DLQ_ENUM
    TM_DLQ_COUNT_
} tm_dlq_reason;

/* The longest group key (bytes) a record may have; a longer one is
 * invalid_key. */
#define TM_GROUP_KEY_MAX 16384

/* The reason code as written in the tidemark.reason header ("" for NONE). */
const char *tm_dlq_reason_name(tm_dlq_reason r);

/*
 * A decoded event. The pointers are owned by the decoder and stay valid
 * until its next tm_decode call or tm_decoder_close.
 */
typedef struct tm_event {
    int64_t t;       /* event time as decoded, before any clamping */
    const char *key; /* group key bytes (SEMANTICS 2), not NUL-terminated */
    size_t key_len;
    const char *id;       /* event id text, present when cfg->dedup_enabled */
    size_t id_len;        /* a string id is its bytes; a number id is its
                             shortest JSON text prefixed by '#', so that the
                             string "1" and the number 1 are different ids */
    const double *values; /* one per aggregation, in cfg->aggs order;
                             unused (0) for count */
} tm_event;

typedef struct tm_decoder tm_decoder;

/* Creates a decoder for cfg. Borrows cfg, which must outlive the decoder.
 * Returns 0 and writes *out, or a negative tm_err with a message in errstr.
 * A decoder is used by one thread at a time. */
int tm_decoder_open(tm_decoder **out, const tm_config *cfg, char *errstr, size_t errlen);

/* Frees the decoder; NULL is a no-op. */
void tm_decoder_close(tm_decoder *d);

/*
 * Decodes one record value. record_key is the Kafka record key (NULL for a
 * null key), used for "$record_key" grouping. Returns TM_DLQ_NONE and fills
 * *ev, or a reason, with a human-readable explanation in detail (always
 * NUL-terminated when detail_len > 0).
 */
tm_dlq_reason tm_decode(tm_decoder *d, const char *record_key, size_t record_key_len,
                        const char *value, size_t value_len, tm_event *ev, char *detail,
                        size_t detail_len);

#endif
