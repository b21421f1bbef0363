/*
 * intake.h: the first steps of a record in a task (SEMANTICS 2-3):
 * decoding, and the clock-skew rule (with the optional wall-clock guard).
 * A record comes out as an event with its event time after clamping, or
 * goes to the dead letters. The single-stage task and a source task of a
 * repartitioned pipeline run it alike.
 */
#ifndef TM_INTAKE_H
#define TM_INTAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "decode.h"
#include "task_io.h"

typedef struct tm_intake tm_intake;

/* Creates the intake of a task for cfg (borrowed, must outlive it),
 * counting into stats (borrowed: the owning task's totals). Returns 0 and
 * writes *out, or a negative tm_err with a message in errstr. */
int tm_intake_open(tm_intake **out, const tm_config *cfg, tm_engine_stats *stats, char *errstr,
                   size_t errlen);

/* NULL is a no-op. */
void tm_intake_close(tm_intake *in);

/*
 * Decodes rec at processing time now and applies the clock-skew rules
 * (now = INT64_MAX: no processing time, as for batch results; the
 * wall-clock guard, which compares with it, then never applies).
 * Returns true with the event in *ev (valid until the next call) and its
 * event time after clamping in *t; or false when the record went to the
 * sink's dead letters.
 */
bool tm_intake_decode(tm_intake *in, const tm_record *rec, int64_t now, const tm_engine_sink *sink,
                      tm_event *ev, int64_t *t);

#endif
