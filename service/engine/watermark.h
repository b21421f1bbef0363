/*
 * watermark.h: per-partition event-time watermarks and the task watermark
 * (SEMANTICS 5), combined from its sources as SEMANTICS 11 says.
 *
 * Invariants:
 * - A partition's max_t only rises; its watermark is max_t - D, or
 *   TM_WATERMARK_MIN before its first accepted or late record.
 * - The task watermark W combines the partitions (the sources) with
 *   tm_watermark_combine: the q-quantile over non-idle partitions (q = 1,
 *   watermark.combine = min: their minimum), the maximum over all when
 *   every partition is idle; and W never goes down.
 * - Processing time is passed in, never read from a clock here, so replay
 *   and tests are deterministic.
 * - A paused partition (watermark alignment, SEMANTICS 11) is not idle
 *   because it is paused: the time it spends paused does not count towards
 *   the idle timeout.
 */
#ifndef TM_WATERMARK_H
#define TM_WATERMARK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Minus infinity: the watermark before any event. */
#define TM_WATERMARK_MIN INT64_MIN

typedef struct tm_partition_clock {
    int64_t max_t;            /* largest accepted/late event time, or MIN */
    int64_t last_record_time; /* processing time of the last record */
} tm_partition_clock;

/* One source of a combined watermark (SEMANTICS 11): an input partition,
 * or (with repartitioning) a source task. */
typedef struct tm_watermark_source {
    int64_t watermark;
    bool idle;
} tm_watermark_source;

/*
 * Combines n > 0 sources (SEMANTICS 11): with the non-idle sources'
 * watermarks ascending, w1 <= ... <= wm, returns w(m - k + 1) with
 * k = ceil(q * m), the largest value at least k of them have reached; q = 1
 * is their minimum. With every source idle, the maximum over all. q is in
 * (0, 1]. scratch has room for n values; the sources are not changed.
 * O(n) for q = 1, else O(n log n).
 */
int64_t tm_watermark_combine(const tm_watermark_source *sources, size_t n, double q,
                             int64_t *scratch);

typedef struct tm_watermark {
    tm_partition_clock *parts; /* one per input topic */
    size_t n_parts;
    int64_t max_out_of_orderness_ms;
    int64_t idle_timeout_ms; /* 0 disables idleness */
    double quantile;         /* q of tm_watermark_combine; 1 = min */
    int64_t task_watermark;  /* W */
    /* tm_watermark_advance's working space, n_parts each. */
    tm_watermark_source *sources;
    int64_t *scratch;
    /* Per partition: the processing time its pause began, or
     * TM_WATERMARK_MIN while it is not paused. Live only: not part of a
     * checkpoint. */
    int64_t *paused_since;
} tm_watermark;

/* Initialises a task's watermark for n_parts partitions (one per input
 * topic), combined with quantile q in (0, 1] (1 = min); start_time is the
 * processing time at which the task started. */
void tm_watermark_init(tm_watermark *wm, size_t n_parts, int64_t max_out_of_orderness_ms,
                       int64_t idle_timeout_ms, double q, int64_t start_time);
void tm_watermark_destroy(tm_watermark *wm);

/* A record of any kind arrived on partition part at processing time now. */
void tm_watermark_touch(tm_watermark *wm, size_t part, int64_t now);

/* An accepted or late event with (clamped) time t arrived on part. */
void tm_watermark_observe(tm_watermark *wm, size_t part, int64_t t);

/* The watermark of one partition, ignoring idleness. */
int64_t tm_watermark_partition(const tm_watermark *wm, size_t part);

/* Whether part is idle at processing time now. */
bool tm_watermark_is_idle(const tm_watermark *wm, size_t part, int64_t now);

/* Consumption of part was paused (alignment) at processing time now: its
 * idle clock stops. A no-op when it already is paused. */
void tm_watermark_pause(tm_watermark *wm, size_t part, int64_t now);

/* Consumption of part resumed at now: its idle clock goes on from where
 * the pause stopped it. A no-op when it is not paused. */
void tm_watermark_resume(tm_watermark *wm, size_t part, int64_t now);

bool tm_watermark_is_paused(const tm_watermark *wm, size_t part);

/* Recomputes W at processing time now (W never goes down); returns it. */
int64_t tm_watermark_advance(tm_watermark *wm, int64_t now);

/*
 * The source that holds the combined watermark back (SEMANTICS 11, for the
 * metrics): the index of a source whose watermark is the value
 * tm_watermark_combine(sources, n, q, scratch) returns, taken among the
 * non-idle sources (among all of them when every source is idle); of
 * several with that value, the lowest index, so that the answer is the
 * same on every call. Same arguments and cost as tm_watermark_combine.
 */
size_t tm_watermark_holding(const tm_watermark_source *sources, size_t n, double q,
                            int64_t *scratch);

#endif
