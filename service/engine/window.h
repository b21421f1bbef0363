/*
 * window.h: the open windows of one task: assignment, aggregation, firing,
 * lateness, revisions and session merging (SEMANTICS 6 and 7).
 *
 * Invariants, with W the task watermark passed in and L the allowed
 * lateness:
 * - After tm_windows_advance(W), every window with end <= W has fired, and
 *   no window with end + L <= W is held (it is expired: released, silent).
 * - A window's revision is -1 until its first emission, then rises by
 *   exactly 1 per emission; a merged session continues from the largest
 *   revision of the sessions it swallowed.
 * - The sessions of one key are disjoint and do not touch: touching
 *   sessions are merged when the event that joins them arrives.
 * - Emissions for one W step are ordered by end, then start, then key bytes.
 */
#ifndef TM_WINDOW_H
#define TM_WINDOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* Why a result was written. The engine emits the first two only (its
 * emission counters have room for those); `tidemark backfill` writes the
 * third (SEMANTICS 12). */
typedef enum { TM_TRIGGER_WATERMARK, TM_TRIGGER_LATE_EVENT, TM_TRIGGER_BACKFILL } tm_trigger;

/* "watermark", "late_event" or "backfill". */
const char *tm_trigger_name(tm_trigger t);

/*
 * One emission. For a tombstone only key, start and end are meaningful.
 * acc holds one accumulator per aggregation (count: unused; sum and avg:
 * the sum; min, max: the extreme). Borrowed: valid during the callback.
 */
typedef struct tm_window_result {
    const char *key;
    size_t key_len;
    int64_t start;
    int64_t end;
    bool tombstone;
    int64_t revision;
    tm_trigger trigger;
    int64_t count;
    const double *acc;
} tm_window_result;

typedef void (*tm_emit_fn)(void *ctx, const tm_window_result *r);

/* What became of an event offered to the windows. */
typedef enum {
    TM_ADD_ON_TIME, /* into windows none of which had fired */
    TM_ADD_LATE,    /* into at least one window that had already fired */
    TM_ADD_TOO_LATE /* into no window: every one of them had expired */
} tm_add_result;

typedef struct tm_windows tm_windows;

/* Creates the window set of one task. Borrows cfg. */
tm_windows *tm_windows_new(const tm_config *cfg);
/* NULL is a no-op. */
void tm_windows_free(tm_windows *ws);

/*
 * SEMANTICS 7 step 1 for one event with group key key[0..key_len), event
 * time t (after clamping) and aggregation inputs values, at the task
 * watermark as it was before the record. Emissions caused at once (late refires,
 * tombstones of merged-away sessions) go to emit.
 */
tm_add_result tm_windows_add(tm_windows *ws, const char *key, size_t key_len, int64_t t,
                             const double *values, int64_t watermark, tm_emit_fn emit, void *ctx);

/* SEMANTICS 7 step 3 after the task watermark W moved to watermark: fires
 * what is due, in order, then expires. Returns the number of windows
 * expired. */
size_t tm_windows_advance(tm_windows *ws, int64_t watermark, tm_emit_fn emit, void *ctx);

/* Number of windows held (fired or not). */
size_t tm_windows_count(const tm_windows *ws);

/* ---- checkpoints (the live service's changelog) ---- */

/* The saved state of one window. Borrowed: valid during the callback. */
typedef struct tm_window_state {
    const char *key;
    size_t key_len;
    int64_t start;
    int64_t end;
    int64_t count;
    int64_t revision; /* -1: never emitted */
    bool fired;
    const double *acc; /* cfg->n_aggs accumulators */
} tm_window_state;

/* One changed window; deleted: only key and start are set. */
typedef void (*tm_window_change_fn)(void *ctx, const tm_window_state *st, bool deleted);

/* From now on, record which windows change (replay does not pay for it). */
void tm_windows_track_changes(tm_windows *ws);

/* Reports every window changed since the last call (deletions first, then
 * the current state of each changed window) and forgets them. */
void tm_windows_drain_changes(tm_windows *ws, tm_window_change_fn fn, void *ctx);

/* Re-creates a window from its saved state (restore). No window with the
 * same key and start may exist. Not reported as a change. */
void tm_windows_restore(tm_windows *ws, const tm_window_state *st);

#endif
