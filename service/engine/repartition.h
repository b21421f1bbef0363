/*
 * repartition.h: the two stages of a repartitioned pipeline (SEMANTICS
 * 10-11) run in one process, delivering as replay does: a source task per
 * input partition number, a window task per repartition partition r, and
 * after each record every source task's new watermark and idle flag reach
 * every window task at once, which then fire and expire in ascending r.
 *
 * Every window task combines the same sources at the same moments, so all
 * have the same W: the largest combination of the sources so far. A window
 * task is created when the first event routes to it, with that W, which is
 * the W it would have had from the start (an input with partition numbers
 * in the millions makes no millions of idle window tasks).
 */
#ifndef TM_REPARTITION_H
#define TM_REPARTITION_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "task_io.h"

typedef struct tm_repartition tm_repartition;

/*
 * Creates the pipeline: a source task for each of the n_sources > 0
 * distinct partition numbers (ascending), started at processing time
 * start_time, and n_window_tasks > 0 window tasks. Borrows cfg, which must
 * outlive it. Returns 0 and writes *out, or a negative tm_err with a
 * message in errstr.
 */
int tm_repartition_open(tm_repartition **out, const tm_config *cfg, const int32_t *sources,
                        size_t n_sources, int32_t n_window_tasks, int64_t start_time, char *errstr,
                        size_t errlen);

/* NULL is a no-op. */
void tm_repartition_close(tm_repartition *p);

/* One record of the source task of rec->partition (one of the sources) at
 * processing time now, then the delivery of every source's watermark. */
void tm_repartition_process(tm_repartition *p, const tm_record *rec, int64_t now,
                            const tm_engine_sink *sink);

/* The W every window task has. */
int64_t tm_repartition_watermark(const tm_repartition *p);

/* The totals of every task, source and window, added up. */
void tm_repartition_stats(const tm_repartition *p, tm_engine_stats *out);

#endif
