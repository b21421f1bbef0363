/*
 * kafka.h: tidemark's Kafka clients: one group consumer (read_committed,
 * range assignment, manual assignment offsets), one transactional producer
 * (transactional.id stable across restarts), a changelog reader, topic
 * administration, and error classification. Implemented by the files of
 * service/kafka/ (kafka_handle.h says which does what), the only layer
 * that includes librdkafka (the demo's in-process cluster aside:
 * service/cli/demo_cluster.c); the rest of the service sees tm_record,
 * tm_header and error classes.
 *
 * Threading: a tm_kafka is used by one thread (the runner's). Rebalance
 * callbacks run on that thread, inside tm_kafka_poll_batch.
 */
#ifndef TM_KAFKA_H
#define TM_KAFKA_H

#include "stop_flag.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "engine.h"
#include "records.h"

/* How a failed Kafka operation must be handled (librdkafka's
 * examples/transactions.c): */
typedef enum {
    TM_KAFKA_OK = 0,
    TM_KAFKA_RETRIABLE, /* try the same call again (e.g. broker down) */
    TM_KAFKA_ABORTABLE, /* abort the transaction, rewind to the checkpoint */
    TM_KAFKA_FATAL      /* fenced or unrecoverable: exit non-zero, restart */
} tm_kafka_status;

/* Offset to start from when a partition has no checkpoint: the group's
 * committed offset, else auto.offset.reset. */
#define TM_KAFKA_OFFSET_STORED INT64_MIN

/* What the runner does on a rebalance. partitions are task numbers: with
 * the range assignor and co-partitioned consumed topics (the input topics,
 * and the repartition topic with as many partitions), an instance owns
 * partition p of every consumed topic or of none. */
typedef struct tm_kafka_rebalance {
    void *ctx;
    /* Tasks were assigned: restore them, and write for each consumed topic
     * i (tm_kafka_consumed_topics) and task j the offset to start at into
     * start_offsets[j * n_consumed + i] (prefilled with
     * TM_KAFKA_OFFSET_STORED).
     * Returns 0; TM_ESTOPPED when a stop was requested during the restore
     * (nothing is assigned: the process is stopping); or another negative
     * tm_err (the service then exits: fatal). */
    int (*assigned)(void *ctx, const int32_t *tasks, size_t n, int64_t *start_offsets);
    /* Tasks are being revoked: finish the current checkpoint (commit) and
     * close them, before the consumer gives the partitions up. When the
     * assignment was lost (tm_kafka_assignment_lost), the checkpoint
     * cannot commit: abort it instead. */
    void (*revoked)(void *ctx, const int32_t *tasks, size_t n);
} tm_kafka_rebalance;

typedef struct tm_kafka tm_kafka;

/* During the revoked callback: whether the group took the assignment away
 * (this member's session timed out, or it polled too late), so that the
 * broker refuses the open transaction's offsets (KIP-447). */
bool tm_kafka_assignment_lost(const tm_kafka *k);

/* Told when a call starts waiting on the broker with no timeout of its
 * own (what: "produce", a full queue) and, with NULL, when it no longer
 * does. Runs on the calling thread. */
typedef struct tm_kafka_wait {
    void (*fn)(void *ctx, const char *what);
    void *ctx;
} tm_kafka_wait;

/* Sets (copies) who is told of waits on the broker. */
void tm_kafka_set_wait(tm_kafka *k, const tm_kafka_wait *wait);

/* The largest records tidemark may have to write (tm_record_wire_bytes),
 * by kind of topic: tm_kafka_open refuses a topic that takes less. */
/* tm_kafka_needs.repartition_partitions: one repartition partition per
 * input partition (the live service's source task p and window task p are
 * one task: kafka.h's rebalance). */
#define TM_KAFKA_INPUT_PARTITIONS (-1)

typedef struct tm_kafka_needs {
    size_t output_bytes;    /* output.topic: the largest result */
    size_t side_bytes;      /* late and dead-letter topics: headers alone */
    size_t changelog_bytes; /* the changelog: the largest window or checkpoint */
    /* The repartition topic (SEMANTICS 10): R, its partition count; 0
     * when the application has none (no repartitioning);
     * TM_KAFKA_INPUT_PARTITIONS: as many as the largest input topic. */
    int32_t repartition_partitions;
    /* What an event record adds to its input record's key and value, at
     * most (tm_repartition_max_overhead_bytes): the topic is made to take
     * the input topics' largest max.message.bytes + this, and refused
     * when it takes less than this (an event's own part must fit). */
    size_t repartition_overhead_bytes;
} tm_kafka_needs;

/*
 * Creates the clients for cfg: kafka.* properties are passed to both
 * librdkafka clients (a property librdkafka refuses is an error naming
 * it); group.id = application_id, isolation.level = read_committed,
 * enable.auto.commit = false, partition.assignment.strategy = range,
 * transactional.id = <application_id>-<instance_id>, and (with
 * cfg->static_membership, unless kafka.group.instance.id is set)
 * group.instance.id = the same. Reads every output topic's
 * max.message.bytes (tm_kafka_record_limit) and refuses one smaller than
 * *needs says (TM_ECONFIG, naming the topic; needs NULL: no minimum), and
 * refuses output topics that are missing or have fewer partitions than the
 * largest input topic (tm_kafka_check_output_topics). Creates the changelog
 * topic <application_id>-changelog (compacted, one partition per input
 * partition) if missing, the repartition topic when needs asks for one
 * (tm_kafka_ensure_repartition: TM_ECONFIG for an existing one with
 * another partition count), and calls init_transactions (which fences a
 * previous incarnation with the same instance_id). The input topics must
 * exist, and an existing changelog must have a partition per input
 * partition. Borrows cfg; copies *rb (NULL: no rebalance callbacks, for a
 * handle that never subscribes). Returns 0 and writes *out, or a negative
 * tm_err with a message: TM_ECONFIG for a property librdkafka refuses
 * (naming kafka.<key>), TM_EKAFKA for the cluster (unreachable, missing
 * topic, changelog not creatable).
 */
int tm_kafka_open(tm_kafka **out, const tm_config *cfg, const char *instance_id,
                  const tm_kafka_rebalance *rb, const tm_kafka_needs *needs, char *errstr,
                  size_t errlen);

/* The largest record (tm_record_wire_bytes) topic takes: the smaller of the
 * producer's message.max.bytes and the topic's max.message.bytes (Kafka's
 * default when it could not be read). */
size_t tm_kafka_record_limit(const tm_kafka *k, const char *topic);
/* The same for the changelog topic. */
size_t tm_kafka_changelog_record_limit(const tm_kafka *k);

/*
 * A handle for tm_kafka_read_changelog only (`tidemark changelog`): one
 * consumer that is assigned changelog partitions by hand, with
 * read_committed. No producer and no group membership, so it neither
 * fences nor disturbs running instances. Fails (TM_EKAFKA) when the
 * changelog topic does not exist; never creates it. Borrows cfg.
 */
int tm_kafka_open_changelog_reader(tm_kafka **out, const tm_config *cfg, char *errstr,
                                   size_t errlen);

/* ---- administration (`tidemark reset`) ---- */

/* A handle for the administration calls below: no producer, no group
 * membership. Borrows cfg. */
int tm_kafka_open_admin(tm_kafka **out, const tm_config *cfg, char *errstr, size_t errlen);

/*
 * A handle for `tidemark backfill`: the admin handle (tm_kafka_read_topic,
 * tm_kafka_topic_partitions) and a transactional producer with
 * transactional.id <application_id>-backfill, so that a backfill left
 * running (or hung) is fenced by the next: tm_kafka_begin,
 * tm_kafka_produce, tm_kafka_commit and tm_kafka_abort work on it, with a
 * transaction timeout of 15 minutes unless kafka.transaction.timeout.ms
 * sets one. No group membership. Borrows cfg.
 */
int tm_kafka_open_backfill(tm_kafka **out, const tm_config *cfg, char *errstr, size_t errlen);

/* *partitions: topic's partition count, 0 when it does not exist. */
int tm_kafka_topic_partitions(tm_kafka *k, const char *topic, int *partitions, char *errstr,
                              size_t errlen);

/* Deletes topic (DeleteTopics); a missing topic is no error. */
int tm_kafka_delete_topic(tm_kafka *k, const char *topic, char *errstr, size_t errlen);

/* Deletes the consumer group and its committed offsets (DeleteGroups);
 * *found says whether it existed. A group with members is refused
 * (TM_EKAFKA, saying to stop the instances first; *has_members set). */
int tm_kafka_delete_group(tm_kafka *k, const char *group, bool *found, bool *has_members,
                          char *errstr, size_t errlen);

/* Checks that every topic tidemark writes results, late and dead-letter
 * records to exists with at least `needed` partitions (records go to
 * their input record's partition); tm_kafka_open checks it for the
 * largest input topic. Returns 0, TM_ECONFIG naming the option, the topic,
 * the partitions it has and those needed, or TM_EKAFKA when the cluster
 * did not answer. */
int tm_kafka_check_output_topics(tm_kafka *k, int32_t needed, char *errstr, size_t errlen);

/* ---- the repartition topic (SEMANTICS 10-11) ---- */

/*
 * tm_kafka_open with needs->repartition_partitions = R > 0 makes sure
 * <application_id>-repartition exists: created when missing with R
 * partitions (replication as the changelog's), cleanup.policy=delete,
 * retention.ms=-1 (records are deleted once consumed: the purge below),
 * segment.bytes=52428800, and max.message.bytes = the input topics' largest
 * + needs->repartition_overhead_bytes; the producer's message.max.bytes is
 * raised to that too unless kafka.message.max.bytes is set. An existing
 * topic with another partition count than R is refused (TM_ECONFIG,
 * naming the topic, its count and R); one that takes less than an event
 * of the largest input record is accepted with a warning (such events go
 * by reference, repartition_record.h), and one that takes less than
 * repartition_overhead_bytes is refused like any topic too small.
 */

/* The repartition topic's name, NULL when the handle has none. */
const char *tm_kafka_repartition_topic(const tm_kafka *k);
/* Its partition count R (0: none). */
int32_t tm_kafka_repartition_partitions(const tm_kafka *k);
/* The largest record (tm_record_wire_bytes) it takes: what
 * tm_repartition_fit must fit an event into. */
size_t tm_kafka_repartition_record_limit(const tm_kafka *k);

/* Produces one encoded repartition record (repartition_record.h: key the
 * group key, or NULL for a watermark) to partition r of the repartition
 * topic, inside the open transaction: it commits with the source task's
 * input offsets sent into the same transaction. As tm_kafka_produce:
 * waits while the producer's queue is full, a failed delivery makes the
 * commit ABORTABLE. r outside 0..R-1 (or no repartition topic) is FATAL. */
tm_kafka_status tm_kafka_produce_repartition(tm_kafka *k, int32_t r, const void *key,
                                             size_t key_len, const void *value, size_t value_len,
                                             char *errstr, size_t errlen);

/*
 * After a commit: deletes the records of repartition partitions[i] below
 * below[i] (DeleteRecords), for the window tasks whose offsets
 * (the next offset to read, as sent into the transaction) that commit
 * made durable. Pass committed offsets only: records below them were
 * consumed by a committed transaction and are never read again.
 * Never waits: one request at a time is in flight, what is asked
 * meanwhile goes with the next one, and each call first takes the answer
 * of the last one (n = 0 only takes answers and sends what is pending).
 * A failed purge (a broker outage) is logged once and asked again at
 * most every second; the records stay until then, which costs disk, not
 * correctness.
 */
void tm_kafka_purge_repartition(tm_kafka *k, const int32_t *partitions, const int64_t *below,
                                size_t n);

/* The log start offset of repartition partition r as the last successful
 * purge of it answered (-1: none yet). */
int64_t tm_kafka_repartition_purged(const tm_kafka *k, int32_t r);

/* Partition count of the changelog topic (one per task). */
int32_t tm_kafka_changelog_partitions(const tm_kafka *k);

/* Leaves the group and closes the clients; aborts a transaction left open.
 * Calls no rebalance callback: finish the last checkpoint and close the
 * tasks before. NULL is a no-op. */
void tm_kafka_close(tm_kafka *k);

/* The topics the group consumer reads: cfg->input_topics (topic index i
 * < cfg->n_input_topics), then the repartition topic when the handle has
 * one (topic index cfg->n_input_topics). tm_record.topic_index,
 * tm_kafka_seek, tm_kafka_send_offsets and tm_kafka_consumer_lag number
 * topics so. */
size_t tm_kafka_consumed_topics(const tm_kafka *k);

/* Subscribes to the consumed topics. */
int tm_kafka_subscribe(tm_kafka *k, char *errstr, size_t errlen);

/*
 * Polls up to max records (waiting at most timeout_ms for the first) into
 * recs. Record bytes stay valid until tm_kafka_release_batch (or the next
 * poll, which releases them). A rebalance is applied at the start of the
 * next call, never inside a batch: first tm_kafka_rebalance's revoked or
 * assigned, then the consumer's new assignment; a rebalance announced
 * during the call ends it early. So every record returned belongs to the
 * tasks the runner owns. Returns the count (0 on timeout), or -1 with
 * *status FATAL once either client is fenced or failed fatally, or a
 * rebalance callback failed.
 */
ssize_t tm_kafka_poll_batch(tm_kafka *k, tm_record *recs, size_t max, int timeout_ms,
                            tm_kafka_status *status, char *errstr, size_t errlen);
void tm_kafka_release_batch(tm_kafka *k);

/* Seeks consumed partition (topic index, task) to offset: rewinding to a
 * checkpoint after an abort. TM_KAFKA_OFFSET_STORED: the group's committed
 * offset, else auto.offset.reset (not while this process has offsets for
 * it pending in an open transaction: that read waits for them). */
int tm_kafka_seek(tm_kafka *k, size_t topic_index, int32_t task, int64_t offset, char *errstr,
                  size_t errlen);

/* ---- watermark alignment (SEMANTICS 11) ---- */

/* Pauses (or resumes) consuming input partition (topic index, task), an
 * owned one, between two batches: no record handed out is lost, and none
 * is handed out twice (kafka_pause.c). Every partition starts resumed on
 * assignment; a revoke resumes what it gives up. Returns 1 when the state
 * changed, 0 when it already was so (or the task is not owned), or a
 * negative tm_err with a message. */
int tm_kafka_set_paused(tm_kafka *k, size_t topic_index, int32_t task, bool paused, char *errstr,
                        size_t errlen);

/* Resumes every owned partition (before rewinding to a checkpoint). */
int tm_kafka_resume_all(tm_kafka *k, char *errstr, size_t errlen);

/* ---- the transaction ---- */

tm_kafka_status tm_kafka_begin(tm_kafka *k, char *errstr, size_t errlen);

/* Produces one record into the open transaction (copies the bytes). A NULL
 * value is a tombstone; partition -1 lets librdkafka's partitioner choose
 * (by key). */
tm_kafka_status tm_kafka_produce(tm_kafka *k, const char *topic, int32_t partition, const void *key,
                                 size_t key_len, const void *value, size_t value_len,
                                 const tm_header *headers, size_t n_headers, char *errstr,
                                 size_t errlen);

/* Produces one record to the changelog partition of task `task`. */
tm_kafka_status tm_kafka_produce_changelog(tm_kafka *k, int32_t task, const void *key,
                                           size_t key_len, const void *value, size_t value_len,
                                           char *errstr, size_t errlen);

/* The consumer's position in owned consumed partition (topic index,
 * task): the offset after the last record handed out, moved past the
 * transaction markers that follow it (a transactional producer's commit
 * marker comes after its last record). -1 when unknown. */
int64_t tm_kafka_position(tm_kafka *k, size_t topic_index, int32_t task);

/* Adds the consumer positions next_offsets[task j * n_consumed + topic i]
 * of the given tasks to the transaction (send_offsets_to_transaction with the
 * consumer group metadata: KIP-447 fencing). */
tm_kafka_status tm_kafka_send_offsets(tm_kafka *k, const int32_t *tasks, size_t n,
                                      const int64_t *next_offsets, char *errstr, size_t errlen);

/* Commits (or aborts) the open transaction. A timed-out commit or abort
 * is FATAL (librdkafka lacks KIP-890: a stale request could land in a later
 * transaction). A failed delivery in the transaction makes the commit
 * ABORTABLE. */
tm_kafka_status tm_kafka_commit(tm_kafka *k, char *errstr, size_t errlen);
tm_kafka_status tm_kafka_abort(tm_kafka *k, char *errstr, size_t errlen);

/* After a commit: the offset after the last changelog record of task
 * `task` committed so far by this process (-1 if none yet). Exact as soon
 * as tm_kafka_commit returns OK; an abort leaves it unchanged. */
int64_t tm_kafka_changelog_end(const tm_kafka *k, int32_t task);

/* ---- timestamp types ---- */

/* The type of an input record's Kafka timestamp, its receipt time: set by
 * the producer (CreateTime, the topic default) or by the broker when it
 * appended the record (message.timestamp.type=LogAppendTime). */
typedef enum {
    TM_TS_CREATE_TIME,
    TM_TS_LOG_APPEND_TIME,
    TM_TS_NONE, /* the record has no timestamp (a pre-0.10 message format) */
    TM_TS_TYPE_COUNT_
} tm_ts_type;

/* "create_time", "log_append_time" or "none". */
const char *tm_ts_type_name(tm_ts_type t);

/* The timestamp types (bits 1u << tm_ts_type) of the records of input
 * topic topic_index consumed so far by this process. The first record of
 * a topic with a type other than LogAppendTime logs a warning (once per
 * topic): the clock-skew guard then trusts producer clocks. */
unsigned tm_kafka_timestamp_types(const tm_kafka *k, size_t topic_index);

/* ---- restore ---- */

/* Consumer lag of an owned consumed partition, from its assignment on: its
 * high watermark minus the consumer's position, as Kafka's own consumers
 * report it. Before the first fetch the end is the one last listed
 * (tm_kafka_lag_refresh), and before the first record handed out the
 * position is where consumption starts (the checkpoint, the group's
 * committed offset, or where auto.offset.reset points); -1 while either is
 * unknown. */
int64_t tm_kafka_consumer_lag(tm_kafka *k, size_t topic_index, int32_t partition);

/* Takes the answers of the offset listings behind tm_kafka_consumer_lag
 * and asks again (every second) for partitions not fetched from yet.
 * Never waits: the listings are asynchronous. */
void tm_kafka_lag_refresh(tm_kafka *k);

/*
 * A restore reads many changelog partitions at once: one query of their
 * offsets, then one read over all of them (one consumer assigned them
 * all), rather than a round of queries, fetches and end-of-partition waits
 * per task.
 */
typedef struct tm_changelog_part {
    int32_t task;  /* in: the task, its changelog partition */
    int64_t start; /* tm_kafka_changelog_offsets: the log start (earlier records are gone) */
    int64_t end;   /* tm_kafka_changelog_offsets: the last stable offset */
    int64_t from;  /* in, for the read: start <= from; from >= end reads nothing */
    int64_t next;  /* the read: the offset to go on from (end once read through) */
} tm_changelog_part;

/*
 * Writes start and end of the changelog partition of every parts[i].task
 * (distinct), as of now: the log start offset and, with read_committed,
 * the last stable offset (every record below it is committed or aborted).
 * One ListOffsets request for each, retried on errors until a 30 s
 * deadline. Returns 0; TM_ESTOPPED once *stop (NULL: never) is set while
 * waiting; or a negative tm_err with a message.
 */
int tm_kafka_changelog_offsets(tm_kafka *k, tm_changelog_part *parts, size_t n, tm_stop_flag *stop,
                               char *errstr, size_t errlen);

/* A changelog record of parts[part] at offset; value NULL for a
 * tombstone. The bytes are borrowed for the call. Returns 0 to go on, or a
 * negative tm_err that stops the read. */
typedef int (*tm_changelog_fn)(void *ctx, size_t part, const void *key, size_t key_len,
                               const void *value, size_t value_len, int64_t offset);

/*
 * Reads every parts[i] from its from to its end at once, with
 * read_committed, calling fn for every record: in offset order within a
 * partition, partitions interleaved. Records at or past end (committed
 * after the offsets were taken) are not read. Sets every next: end for a
 * partition read through (past trailing transaction markers and aborted
 * records), else the offset after the last record passed to fn. Checks
 * *stop (NULL: never) before each record and at least every 100 ms while
 * waiting for fetches. Returns 0; TM_ESTOPPED when *stop was set (fn has
 * seen a prefix of each partition, up to its next); fn's error; or a
 * negative tm_err with a message (a broker error, or no progress for 30 s).
 * Must not be called from inside fn.
 */
int tm_kafka_read_changelogs(tm_kafka *k, tm_changelog_part *parts, size_t n, tm_changelog_fn fn,
                             void *ctx, tm_stop_flag *stop, char *errstr, size_t errlen);

/*
 * The two calls above for the one changelog partition of task `task`
 * (`tidemark changelog`): reads it from max(from, its log start) to its
 * last stable offset, calling fn. Returns that end (below `from` when the
 * partition ends before it: recreated), or a negative tm_err with a
 * message.
 */
int64_t tm_kafka_read_changelog(tm_kafka *k, int32_t task, int64_t from,
                                int (*fn)(void *ctx, const void *key, size_t key_len,
                                          const void *value, size_t value_len, int64_t offset),
                                void *ctx, char *errstr, size_t errlen);

/* ---- reading whole topics (`tidemark verify`, kafka_reader.c) ---- */

/* One record read by tm_kafka_read_topic, borrowed for the call. */
typedef struct tm_kafka_read_record {
    const char *topic;
    int32_t partition;
    int64_t offset;
    int64_t ts;
    const char *key; /* NULL: null */
    size_t key_len;
    const char *value; /* NULL: null (a tombstone) */
    size_t value_len;
    const char *source; /* the tidemark.source header's value, NULL: none */
    size_t source_len;
} tm_kafka_read_record;

/* Returns 0, or a negative tm_err that ends the read with it. */
typedef int (*tm_kafka_read_fn)(void *ctx, const tm_kafka_read_record *r);

/*
 * With a handle of tm_kafka_open_admin (a plain consumer, read_committed,
 * partitions assigned by hand: no group membership, nothing committed, so
 * it runs beside live instances): reads every partition of topic, each in
 * order, from the first record whose timestamp is at least from_ts
 * (offsets-for-times; INT64_MIN: the log start; a partition without such
 * a record is not read) to its end as listed when the read starts (the
 * last stable offset; records committed later are not waited for).
 * *truncated (may be NULL) is set when a partition's log start is above 0
 * and the read would begin at or before it: records of the time asked
 * for may have been deleted (retention). A topic that does not exist is
 * TM_EKAFKA. Returns 0 or a negative tm_err with a message.
 */
int tm_kafka_read_topic(tm_kafka *k, const char *topic, int64_t from_ts, tm_kafka_read_fn fn,
                        void *ctx, bool *truncated, char *errstr, size_t errlen);

/* The offsets tm_kafka_read_topic would read from from_ts, over every
 * partition of topic, into *offsets: an upper bound of its records
 * (transaction markers and aborted records take offsets too), known
 * before reading. A topic that does not exist is TM_EKAFKA. */
int tm_kafka_span_from(tm_kafka *k, const char *topic, int64_t from_ts, int64_t *offsets,
                       char *errstr, size_t errlen);

#endif
