/*
 * source_task.h: a source task of a repartitioned pipeline (SEMANTICS
 * 10): partition number p of every input topic. It decodes each record
 * (dead letters are its own, on partition p), applies the clock-skew rule,
 * keeps max_t, last-record time and idleness of its partitions (SEMANTICS
 * 5) and hands each event on, with the window task it goes to. It cannot
 * know duplicates, so max_t counts every decoded record.
 */
#ifndef TM_SOURCE_TASK_H
#define TM_SOURCE_TASK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "decode.h"
#include "task_io.h"
#include "watermark.h"

typedef struct tm_source_task tm_source_task;

/* The window task of a group key among n_window_tasks > 0: Kafka's
 * default partitioner over the key's bytes (SEMANTICS 10), so a producer
 * keying its records by the group key puts them where tidemark does. */
int32_t tm_route(const char *key, size_t key_len, int32_t n_window_tasks);

/* Creates the source task of partition number `partition`, started at
 * processing time start_time, counting into stats (borrowed: a task that
 * runs it with a window task shares its totals; NULL: its own). Borrows
 * cfg, which must outlive it. Returns 0 and writes *out, or a negative
 * tm_err with a message in errstr. */
int tm_source_task_open(tm_source_task **out, const tm_config *cfg, int32_t partition,
                        int64_t start_time, tm_engine_stats *stats, char *errstr, size_t errlen);

/* NULL is a no-op. */
void tm_source_task_close(tm_source_task *s);

/*
 * Takes one record of this task at processing time now: returns true with
 * the event in *ev (valid until the next call) and its event time after
 * clamping in *t, counted in its partition's max_t; or false when it went
 * to the sink's dead letters.
 */
bool tm_source_task_process(tm_source_task *s, const tm_record *rec, int64_t now,
                            const tm_engine_sink *sink, tm_event *ev, int64_t *t);

/* Its watermark and idle flag as a source of the window tasks at
 * processing time now (SEMANTICS 11): its SEMANTICS 5 task watermark over
 * its partitions (min, never going down), idle when all of them are. */
tm_watermark_source tm_source_task_advance(tm_source_task *s, int64_t now);

int32_t tm_source_task_partition(const tm_source_task *s);
/* Its partitions' clocks and task watermark (a checkpoint's, a restore's,
 * alignment's pauses). */
tm_watermark *tm_source_task_clock(tm_source_task *s);
const tm_engine_stats *tm_source_task_stats(const tm_source_task *s);

#endif
