/*
 * engine.h: one task of the engine (SEMANTICS 1-7): the decoder, dedup,
 * windows and watermark of one partition number across the input topics,
 * for a pipeline that does not repartition (repartition.mode never;
 * repartition.h runs the two stages of one that does, from the same
 * parts: intake, window_stage).
 *
 * A paired task is the live service's unit of a repartitioned pipeline
 * (SEMANTICS 10-11): source task p and window task p, which an instance
 * owns together (partition p of the input topics and of the repartition
 * topic). The two halves meet only through the repartition topic: the
 * source half hands each event out (tm_engine_forward) for the caller to
 * write to window task r; the window half takes the events and watermark
 * records the caller reads from partition p (tm_engine_receive_event,
 * tm_engine_receive_mark). They share the task's totals and checkpoint.
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

/* Creates paired task p (see above) of a pipeline with n_sources source
 * tasks (the input partition count, which is also the window task count
 * R). As tm_engine_open otherwise. */
int tm_engine_open_paired(tm_engine **out, const tm_config *cfg, int32_t partition,
                          size_t n_sources, int64_t start_time, char *errstr, size_t errlen);

/* NULL is a no-op. */
void tm_engine_close(tm_engine *e);

/* Whether e is a paired task. */
bool tm_engine_paired(const tm_engine *e);

/* The topics whose records a task of cfg takes: the input topics (topic
 * index < cfg->n_input_topics), then, for a repartitioned pipeline, the
 * repartition topic (index cfg->n_input_topics); a checkpoint keeps the
 * next offset of each. */
size_t tm_engine_task_topics(const tm_config *cfg);

/* Processes one record of this task at processing time now (SEMANTICS 7
 * steps 1-3). Not for a paired task. */
void tm_engine_process(tm_engine *e, const tm_record *rec, int64_t now, const tm_engine_sink *sink);

/* Recomputes the watermark at processing time now and fires and expires
 * what is due (SEMANTICS 7 step 3 alone): idleness moves with time. A
 * paired task recomputes its source half's watermark and idle flag only
 * (its window half's W moves with the watermark records it receives). */
void tm_engine_tick(tm_engine *e, int64_t now, const tm_engine_sink *sink);

/* The task's W (a paired task's: its window half's). */
int64_t tm_engine_watermark(const tm_engine *e);

/* ---- paired tasks ---- */

/* An input record of the source half at processing time now (SEMANTICS
 * 10): returns true with the decoded event in *ev (valid until the next
 * call) and its event time after clamping in *t, for the caller to write
 * to window task tm_route(ev->key, ...); false when it went to the sink's
 * dead letters. */
bool tm_engine_forward(tm_engine *e, const tm_record *rec, int64_t now, const tm_engine_sink *sink,
                       tm_event *ev, int64_t *t);

/* An event of the window half (read from the repartition topic): ev of
 * the original input record rec, event time t after the source task's
 * clamping, judged against the W the task has now (SEMANTICS 4, 7 steps
 * 1-2). */
void tm_engine_receive_event(tm_engine *e, const tm_record *rec, const tm_event *ev, int64_t t,
                             const tm_engine_sink *sink);

/* A watermark record of source task `source` (< n_sources): its view of
 * that source becomes {watermark (never lower than seen before), idle};
 * W = max(W, the combination of the view), then fire and expire
 * (SEMANTICS 11, 7 step 3). */
void tm_engine_receive_mark(tm_engine *e, int32_t source, tm_watermark_source mark,
                            const tm_engine_sink *sink);

/* The source half's watermark and idle flag as of the last tick or
 * forwarded record, and whether they differ from what was last taken
 * (published to every window task). */
tm_watermark_source tm_engine_source_mark(const tm_engine *e);
bool tm_engine_mark_due(const tm_engine *e);
/* The same, now taken: a checkpoint publishes it. */
tm_watermark_source tm_engine_take_mark(tm_engine *e);

/* The window half's view of every source (n_sources of them). */
const tm_watermark_source *tm_engine_sources(const tm_engine *e, size_t *n_sources);

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
 * time, and the task watermark (a paired task's: its source half's).
 * Borrowed. */
const tm_watermark *tm_engine_clock(const tm_engine *e);

/* Restore, into a freshly opened engine: the watermark state (parts: one
 * per input topic; watermark: tm_engine_watermark's), then windows and
 * dedup keys. */
void tm_engine_restore_window(tm_engine *e, const tm_window_state *st);
void tm_engine_restore_dedup(tm_engine *e, tm_dedup_hash h, int64_t expiry);
void tm_engine_restore_clock(tm_engine *e, const tm_partition_clock *parts, int64_t watermark);
/* And of a paired task: its source half's watermark, the mark last
 * published, and the window half's view (n_sources of them). */
void tm_engine_restore_pairing(tm_engine *e, int64_t source_watermark,
                               tm_watermark_source published, const tm_watermark_source *view);

#endif
