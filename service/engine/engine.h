/*
 * engine.h: one task of the engine (SEMANTICS 1-7): the decoder, dedup,
 * windows and watermark of one partition number across the input topics,
 * for a pipeline that does not repartition (repartition.mode never;
 * repartition.h runs the two stages of one that does, from the same
 * parts: intake, window_stage).
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
#include "task_io.h"
#include "watermark.h"
#include "window.h"

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
