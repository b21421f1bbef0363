/*
 * kafka_io.h: moving records in the replay envelope (SEMANTICS 9) between
 * files and a broker, and watching a consumer group, for the exactly-once
 * tests:
 *
 * - load: each line of an input file becomes one record (its partition,
 *   key, payload as the value, null -> null value, "ts" as the CreateTime
 *   timestamp), produced in file order by an idempotent, non-transactional
 *   producer, so that a fresh topic gives partition p's records offsets
 *   0, 1, 2, ... in file order (what the workload's "offset" fields say);
 *   optionally paced, in a background thread (a feeder);
 * - dump: a topic read with read_committed into a file of
 *   {"topic","partition","key","payload","headers"} lines, headers an object
 *   of strings: what replay writes, so that golden_compare.h compares them;
 * - probe: the group's committed offsets and topics' end offsets.
 *
 * Functions that cannot go on fail the test with a Criterion assertion,
 * except the feeder's thread, which keeps its error for tm_feeder_join.
 */
#ifndef TM_TEST_KAFKA_IO_H
#define TM_TEST_KAFKA_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Produces every line of the file at path (topic: the line's, else
 * default_topic) and waits until all are acknowledged. Returns the count. */
size_t tm_kafka_io_load(const char *bootstrap, const char *path, const char *default_topic);

/* ---- the feeder: a load in a background thread ---- */

typedef struct tm_feeder tm_feeder;

/*
 * Starts producing lines [first, first + count) of the file at path
 * (count SIZE_MAX: to the end) at rate_per_s lines a second (0: as fast as
 * possible), in a thread. Borrows nothing: the strings are copied. The
 * caller joins it (tm_feeder_join) or stops it (tm_feeder_stop).
 */
tm_feeder *tm_feeder_start(const char *bootstrap, const char *path, const char *default_topic,
                           size_t first, size_t count, double rate_per_s);

/* Lines produced so far (handed to the producer, not yet acknowledged). */
size_t tm_feeder_sent(const tm_feeder *f);

/* True once every line is acknowledged (or the feeder failed). */
bool tm_feeder_finished(const tm_feeder *f);

/* Waits (bounded by timeout_ms) for the feeder to finish, frees it, and
 * fails the test if it failed or timed out. Returns the lines produced. */
size_t tm_feeder_join(tm_feeder *f, int64_t timeout_ms);

/* Teardown: tells the feeder to stop, joins and frees it; no checks. NULL
 * is a no-op. */
void tm_feeder_stop(tm_feeder *f);

/* ---- dump ---- */

/* Reads every partition of topic from the beginning to its last stable
 * offset with read_committed and writes the records to path, one envelope
 * a line. Returns the count. */
size_t tm_kafka_io_dump(const char *bootstrap, const char *topic, const char *path);

/* ---- probe ---- */

typedef struct tm_kafka_probe tm_kafka_probe;

/* A probe for group `group` (never joins it, never commits). */
tm_kafka_probe *tm_kafka_probe_new(const char *bootstrap, const char *group);
void tm_kafka_probe_free(tm_kafka_probe *p);

/* Partition count of topic (0: no such topic; -1: no answer in time). */
int tm_kafka_probe_partitions(tm_kafka_probe *p, const char *topic);

/* Deletes the records of topic's partition below offset (DeleteRecords),
 * as retention would; fails the test unless the broker does. */
void tm_kafka_probe_delete_records(tm_kafka_probe *p, const char *topic, int32_t partition,
                                   int64_t below);

/* Creates topic (CreateTopics, the cluster's replication) with one topic
 * config (config NULL: none); fails the test on any error. */
void tm_kafka_probe_create_topic(tm_kafka_probe *p, const char *topic, int partitions,
                                 const char *config, const char *value);

/*
 * The group's committed offsets of topic's partitions 0..n-1 into out (-1:
 * none). Returns 0, or -1 when the broker did not answer in time (a
 * transient state, e.g. a broker down): the caller polls again.
 */
int tm_kafka_probe_committed(tm_kafka_probe *p, const char *topic, int n, int64_t *out);

/*
 * Partitions 0..n-1 of topic: high watermarks (read_uncommitted) into hwm
 * and last stable offsets (read_committed) into lso; either may be NULL.
 * Returns 0, or -1 when the broker did not answer in time.
 */
int tm_kafka_probe_end_offsets(tm_kafka_probe *p, const char *topic, int n, int64_t *hwm,
                               int64_t *lso);

/*
 * Whether a read_committed consumer finds a record (not a transaction
 * marker, not an aborted record) in partition of topic at an offset in
 * [from, to): 1 yes, 0 no (the offsets in between hold only markers and
 * aborted records), -1 when the broker did not answer in time. A consumer
 * that commits the offset after the last record it read stops short of
 * the end offset by the marker of a transaction that wrote it.
 */
int tm_kafka_probe_has_records(tm_kafka_probe *p, const char *topic, int32_t partition,
                               int64_t from, int64_t to);

#endif
