/*
 * window_task.h: a window task of a repartitioned pipeline (SEMANTICS
 * 10): dedup and windows (SEMANTICS 4, 6-7) for the group keys that route
 * to its partition r, under a watermark combined from the source tasks
 * (SEMANTICS 11). Its results, tombstones and late records are emitted on
 * partition r.
 */
#ifndef TM_WINDOW_TASK_H
#define TM_WINDOW_TASK_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "decode.h"
#include "task_io.h"
#include "watermark.h"
#include "window_stage.h"

typedef struct tm_window_task tm_window_task;

/* Creates window task r, combining n_sources > 0 sources, with W =
 * watermark (TM_WATERMARK_MIN for a task that exists from the start),
 * counting into stats (borrowed: a task that runs it with a source task
 * shares its totals; NULL: its own). Borrows cfg, which must outlive it. */
tm_window_task *tm_window_task_open(const tm_config *cfg, int32_t r, size_t n_sources,
                                    int64_t watermark, tm_engine_stats *stats);

/* NULL is a no-op. */
void tm_window_task_close(tm_window_task *w);

/* An event a source task forwarded (ev, with event time t after
 * clamping, of record rec), judged against the task's W as it is
 * (SEMANTICS 4, 7 steps 1-2). */
void tm_window_task_process(tm_window_task *w, const tm_record *rec, const tm_event *ev, int64_t t,
                            const tm_engine_sink *sink);

/* The sources' current watermarks and idle flags (n_sources of them):
 * W = max(W, their combination by watermark.combine), then fire and
 * expire (SEMANTICS 7 step 3). */
void tm_window_task_advance(tm_window_task *w, const tm_watermark_source *sources,
                            const tm_engine_sink *sink);

int64_t tm_window_task_watermark(const tm_window_task *w);
/* Sets W (a restore, into a fresh task). */
void tm_window_task_restore_watermark(tm_window_task *w, int64_t watermark);
/* Its dedup and windows (a checkpoint's changes, a restore). */
tm_window_stage *tm_window_task_stage(tm_window_task *w);
const tm_engine_stats *tm_window_task_stats(const tm_window_task *w);
size_t tm_window_task_window_count(const tm_window_task *w);

#endif
