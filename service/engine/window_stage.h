/*
 * window_stage.h: the steps of an event after its intake (SEMANTICS 4,
 * 6-7): dedup, then the windows; and firing and expiry as the watermark
 * rises. The watermark itself is the caller's: the single-stage task
 * computes it from its input partitions, a window task of a repartitioned
 * pipeline combines it from the source tasks (SEMANTICS 11).
 */
#ifndef TM_WINDOW_STAGE_H
#define TM_WINDOW_STAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "decode.h"
#include "dedup.h"
#include "task_io.h"
#include "window.h"

typedef struct tm_window_stage {
    const tm_config *cfg;
    int32_t partition; /* its emissions' partition */
    tm_dedup dedup;
    tm_windows *windows;
    tm_engine_stats *stats; /* borrowed: the owning task's totals */
} tm_window_stage;

/* Borrows cfg and stats, which must outlive the stage. */
void tm_window_stage_init(tm_window_stage *st, const tm_config *cfg, int32_t partition,
                          tm_engine_stats *stats);
void tm_window_stage_destroy(tm_window_stage *st);

/*
 * The event ev of record rec, with event time t after clamping, against
 * the watermark W as it was before the record (SEMANTICS 4, then 7 steps
 * 1-2): returns false for a duplicate (counted, nothing else happens);
 * else adds it to its windows (emitting late_event revisions) or sends rec
 * to the late output, and returns true.
 */
bool tm_window_stage_add(tm_window_stage *st, const tm_record *rec, const tm_event *ev, int64_t t,
                         int64_t watermark, const tm_engine_sink *sink);

/* Fires every window that watermark has reached, then expires windows and
 * dedup entries (SEMANTICS 7 step 3, after W was recomputed). */
void tm_window_stage_advance(tm_window_stage *st, int64_t watermark, const tm_engine_sink *sink);

#endif
