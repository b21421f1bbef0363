/*
 * task_io.h: what a task of the engine takes in and gives out: the input
 * record, the sink of its emissions and its running totals. Shared by the
 * single-stage task (engine.h) and the two stages of a repartitioned
 * pipeline (source_task.h, window_task.h).
 */
#ifndef TM_TASK_IO_H
#define TM_TASK_IO_H

#include <stddef.h>
#include <stdint.h>

#include "decode.h"
#include "histogram.h"
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
    /* Non-zero: the original key (value) of this many bytes was too large
     * to travel through the repartition topic (repartition_record.h) and
     * key (value) is NULL; a late record of it says so by reference. */
    size_t key_dropped_bytes;
    size_t value_dropped_bytes;
} tm_record;

/* Where emissions go. Every callback borrows its arguments for the
 * duration of the call. */
typedef struct tm_engine_sink {
    void *ctx;
    /* A window result or tombstone of the task with this partition. */
    void (*result)(void *ctx, int32_t partition, const tm_window_result *r);
    /* A too-late record of the task with this partition (with
     * repartitioning, a window task's: not rec's own partition), with the
     * watermark at that moment. */
    void (*late)(void *ctx, int32_t partition, const tm_record *rec, int64_t watermark);
    void (*dead_letter)(void *ctx, const tm_record *rec, tm_dlq_reason reason, const char *detail);
} tm_engine_sink;

/* Running totals of one task, for metrics and tests. With
 * repartitioning, a source task counts records, dead letters, clock skew
 * and event-time lag; a window task the rest. */
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

#endif
