/*
 * engine.h: one task of the engine (SEMANTICS 1-7): the decoder, dedup,
 * windows and watermark of one partition number across the input topics.
 *
 * The engine is pure and deterministic: it never reads a clock or does
 * I/O. Records and processing time go in; emissions come out through a
 * sink, in the order SEMANTICS 7 defines. The offline replay and the live
 * service drive the same code.
 */
#ifndef TM_ENGINE_H
#define TM_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "decode.h"
#include "dedup.h"
#include "histogram.h"
#include "watermark.h"
#include "window.h"

/* One input record. The bytes are borrowed for the duration of the call.
 * A NULL key or value is a Kafka null. */
typedef struct tm_record {
    const char *topic;
    size_t topic_index; /* index of topic in cfg->input_topics */
    int32_t partition;
    int64_t offset;
    int64_t ts; /* receipt time (the Kafka record timestamp) */
    const char *key;
    size_t key_len;
    const char *value;
    size_t value_len;
} tm_record;

/* Where emissions go. Every callback borrows its arguments for the
 * duration of the call. */
typedef struct tm_engine_sink {
    void *ctx;
    /* A window result or tombstone of the task with this partition. */
    void (*result)(void *ctx, int32_t partition, const tm_window_result *r);
    /* A too-late record, with the watermark at that moment. */
    void (*late)(void *ctx, const tm_record *rec, int64_t watermark);
    void (*dead_letter)(void *ctx, const tm_record *rec, tm_dlq_reason reason, const char *detail);
} tm_engine_sink;

/* Running totals of one task, for metrics and tests. */
typedef struct tm_engine_stats {
    uint64_t records;       /* every record offered */
    uint64_t accepted;      /* into at least one window */
    uint64_t late_accepted; /* of accepted: into a window that had fired */
    uint64_t too_late;      /* into no window (late output or dropped) */
    uint64_t late_dropped;  /* of too_late: dropped by late.action=drop */
    uint64_t duplicates;
    uint64_t clamped; /* clock skew clamped to the receipt time */
    /* Event time beyond processing time + clock_skew.max_ahead_of_wall_ms
     * (clamped to the processing time, or dead-lettered as clock_skew). */
    uint64_t ahead_of_wall;
    uint64_t dead_letters[TM_DLQ_COUNT_];
    uint64_t emissions[2]; /* by tm_trigger */
    uint64_t tombstones;
    uint64_t windows_expired;
    uint64_t dedup_released; /* dedup entries reclaimed from memory */
    /* Processing time minus event time of every decoded record, in ms
     * (tm_event_time_lag_bounds; negative for a clock ahead). */
    tm_histogram event_time_lag;
} tm_engine_stats;

/* dst += src, field by field (a task's totals across its rebuilds). */
void tm_engine_stats_add(tm_engine_stats *dst, const tm_engine_stats *src);

typedef struct tm_engine tm_engine;

/* Creates the task for partition number `partition`, started at processing
 * time start_time. Borrows cfg, which must outlive the engine. Returns 0
 * and writes *out, or a negative tm_err with a message in errstr. */
int tm_engine_open(tm_engine **out, const tm_config *cfg, int32_t partition, int64_t start_time,
                   char *errstr, size_t errlen);

/* NULL is a no-op. */
void tm_engine_close(tm_engine *e);

/* Processes one record of this task at processing time now (SEMANTICS 7
 * steps 1-3). */
void tm_engine_process(tm_engine *e, const tm_record *rec, int64_t now, const tm_engine_sink *sink);

/* Recomputes the watermark at processing time now and fires and expires
 * what is due (SEMANTICS 7 step 3 alone): idleness moves with time. */
void tm_engine_tick(tm_engine *e, int64_t now, const tm_engine_sink *sink);

int64_t tm_engine_watermark(const tm_engine *e);

/* Consumption of input topic topic_index is paused (or resumed) as of
 * processing time now (watermark alignment, SEMANTICS 11): paused time is
 * not idle time. Idempotent. */
void tm_engine_set_paused(tm_engine *e, size_t topic_index, bool paused, int64_t now);
const tm_engine_stats *tm_engine_stats_of(const tm_engine *e);
size_t tm_engine_window_count(const tm_engine *e);
size_t tm_engine_dedup_entries(const tm_engine *e);

/* ---- checkpoints (the live service's changelog; see changelog.h) ---- */

/* From now on, record the state changes that checkpoints collect. */
void tm_engine_track_changes(tm_engine *e);

/* Windows changed since the last call (see tm_windows_drain_changes). */
void tm_engine_drain_windows(tm_engine *e, tm_window_change_fn fn, void *ctx);

/* Dedup keys held since the last call (see tm_dedup_drain_admitted). */
const tm_dedup_admitted *tm_engine_drain_dedup(tm_engine *e, size_t *n);

/* The watermark state: per input topic max event time and last record
 * time, and the task watermark. Borrowed. */
const tm_watermark *tm_engine_clock(const tm_engine *e);

/* Restore, into a freshly opened engine: windows and dedup keys, then the
 * watermark state (parts: one per input topic). */
void tm_engine_restore_window(tm_engine *e, const tm_window_state *st);
void tm_engine_restore_dedup(tm_engine *e, tm_dedup_hash h, int64_t expiry);
void tm_engine_restore_clock(tm_engine *e, const tm_partition_clock *parts, int64_t watermark);

#endif
