/*
 * repartition_io.h: how the live service's paired tasks (engine.h) meet
 * through the repartition topic (SEMANTICS 10-11, repartition_record.h):
 * a source half's event is encoded and written to window task r in the
 * open transaction, its watermark and idle flag to every window task; a
 * record read from the topic is decoded and handed to the window half it
 * belongs to.
 *
 * One per runner, used by its thread only: it keeps the buffers that
 * encoding and decoding reuse, and the counts the metrics show.
 */
#ifndef TM_REPARTITION_IO_H
#define TM_REPARTITION_IO_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "engine.h"
#include "kafka.h"

typedef struct tm_repartition_io tm_repartition_io;

/* For cfg (borrowed), writing and reading through k's repartition topic
 * (borrowed; it must have one). */
tm_repartition_io *tm_repartition_io_new(const tm_config *cfg, tm_kafka *k);
/* NULL is a no-op. */
void tm_repartition_io_free(tm_repartition_io *io);

/* Writes the event ev of input record rec (event time t after clamping)
 * to the window task its group key routes to, in the open transaction.
 * An event whose own part does not fit the topic (repartition_record.h)
 * is FATAL: the topic is too small for this configuration. */
tm_kafka_status tm_repartition_io_forward(tm_repartition_io *io, const tm_record *rec,
                                          const tm_event *ev, int64_t t, char *errstr,
                                          size_t errlen);

/* Writes source task `source`'s mark to every window task, in the open
 * transaction. */
tm_kafka_status tm_repartition_io_publish(tm_repartition_io *io, int32_t source,
                                          tm_watermark_source mark, char *errstr, size_t errlen);

/* Hands rec, a record of the repartition topic's partition e's, to e's
 * window half. Returns 0; 1 when the record is not tidemark's (skipped,
 * counted: repartition_record.h); or TM_ESTORE with a message naming the
 * partition and offset when it is tidemark's but unreadable (another
 * version, or another configuration: its events cannot be skipped). */
int tm_repartition_io_receive(tm_repartition_io *io, tm_engine *e, const tm_record *rec,
                              const tm_engine_sink *sink, char *errstr, size_t errlen);

/* Events written to window task r so far (r < R), and records skipped as
 * not tidemark's. */
uint64_t tm_repartition_io_routed(const tm_repartition_io *io, int32_t r);
uint64_t tm_repartition_io_foreign(const tm_repartition_io *io);

#endif
