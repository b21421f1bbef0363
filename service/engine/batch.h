/*
 * batch.h: batch results (SEMANTICS 12): what a set of input records
 * aggregates to with no watermark, lateness or idleness. Each record is
 * decoded and skew-checked as a task does it (intake: SEMANTICS 2-3, dead
 * letters alike), deduplicated without any TTL (SEMANTICS 4), and counted
 * in every window it belongs to (SEMANTICS 6, by the window module's own
 * assignment and aggregation), however late it comes; a key's sessions are
 * those all its events form together.
 *
 * How it reuses the engine: the windows are a tm_windows whose watermark
 * stays minus infinity while events arrive (so no window is ever late, too
 * late or fired) and jumps to plus infinity at tm_batch_finish (so every
 * window fires once, revision 0, and is released). Dedup is a tm_dedup
 * whose keys never expire before tm_batch_finish.
 *
 * Invariants and choices:
 * - Batch results are per group key: the result of a key's window depends
 *   on that key's records only. Dedup is therefore scoped to the group key
 *   (a dedup key is held per group key): a real duplicate repeats its
 *   event, group key included (SEMANTICS 10); an id that two group keys
 *   share counts once in each. So any split of the records by group key
 *   (by window task, by a hash into spill runs) gives the same results,
 *   run by run, as one batch over all of them; repartitioning never
 *   changes them.
 * - Of records with the same dedup key, the first offered counts (their
 *   values, when they differ, are the first's).
 * - The clock-skew rule is SEMANTICS 3's, against the receipt time. The
 *   wall-clock guard (clock_skew.max_ahead_of_wall_ms) compares with a
 *   processing time, which a set of records does not have: it does not
 *   apply here.
 * - A result's accumulators are those the live windows would have over the
 *   same events in the same order; sums over another order can differ in
 *   the last bits.
 *
 * Bounded memory (tidemark verify): a batch holds one window per (key,
 * window) and one 128-bit hash per distinct dedup key until
 * tm_batch_finish, which emits and releases everything and leaves the
 * batch empty for another run. A caller with more records than memory
 * splits them by group key: it decodes each record (tm_batch_decode),
 * keeps the compact tm_batch_event (group key, event time, dedup hash,
 * values) in spill runs chosen by a hash of the group key (files or an
 * LMDB store), then feeds each run through tm_batch_add_event and
 * tm_batch_finish in turn. Memory is then one run's windows and dedup
 * keys, and by the first invariant the results are exact.
 */
#ifndef TM_BATCH_H
#define TM_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "decode.h"
#include "dedup.h"
#include "task_io.h"
#include "window.h"

/* A decoded event, as a batch counts it and as a spill run would keep
 * it. */
typedef struct tm_batch_event {
    const char *key; /* group key bytes */
    size_t key_len;
    int64_t t;            /* event time after the clock-skew rule */
    tm_dedup_hash dedup;  /* the dedup key's hash, scoped to the group key
                             (zero when dedup is off) */
    const double *values; /* one per aggregation (count: unused) */
} tm_batch_event;

typedef struct tm_batch tm_batch;

/* Creates a batch for cfg (borrowed, must outlive it). Returns 0 and
 * writes *out, or a negative tm_err with a message in errstr. */
int tm_batch_open(tm_batch **out, const tm_config *cfg, char *errstr, size_t errlen);

/* NULL is a no-op. */
void tm_batch_close(tm_batch *b);

/*
 * Decodes rec (SEMANTICS 2-3): returns true with its event in *ev (the
 * pointers valid until the next decode); or false when rec went to
 * sink->dead_letter (the only callback of the sink used).
 */
bool tm_batch_decode(tm_batch *b, const tm_record *rec, const tm_engine_sink *sink,
                     tm_batch_event *ev);

/* Counts ev in its windows unless its dedup key was counted before in this
 * run (returns false: a duplicate). ev is copied as needed. */
bool tm_batch_add_event(tm_batch *b, const tm_batch_event *ev);

/* tm_batch_decode, then tm_batch_add_event. */
void tm_batch_add(tm_batch *b, const tm_record *rec, const tm_engine_sink *sink);

/*
 * Emits the batch result of every window of the run to emit, ordered by
 * end, then start, then group key bytes (revision 0, trigger watermark:
 * both meaningless here), then releases the windows and dedup keys: the
 * next event starts a new run.
 */
void tm_batch_finish(tm_batch *b, tm_emit_fn emit, void *ctx);

/* Windows and dedup keys held by the run. */
size_t tm_batch_window_count(const tm_batch *b);
size_t tm_batch_dedup_entries(const tm_batch *b);

/* Totals since the batch was opened, in the engine's fields: records
 * (offered to tm_batch_decode), dead_letters by reason, clamped,
 * duplicates, accepted (events counted) and emissions[TM_TRIGGER_WATERMARK]
 * (results emitted). The others mean nothing here (event_time_lag is
 * measured from no processing time). */
const tm_engine_stats *tm_batch_stats(const tm_batch *b);

#endif
