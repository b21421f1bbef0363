/*
 * kafka_handle.h: what the files of service/kafka/ share: the tm_kafka
 * handle, the operation timeout, deadlines, and the functions one
 * file defines for the others. Only the .c files of service/kafka/ include
 * it; the rest of the service sees kafka.h.
 *
 * The files, one job each:
 *   kafka.c                   opening the handle (service, admin), closing it
 *   kafka_handle.c            the fatal state, formatted names, fencing hints
 *   kafka_conf.c              the kafka.* passthrough, forced and default
 *                             properties, the log and error callbacks
 *   kafka_admin.c             metadata, admin requests, creating topics, the
 *                             changelog topic, record limits, topic and
 *                             group deletion
 *   kafka_consumer.c          the group consumer: rebalances, batches, seek
 *   kafka_lag.c               consumer lag of the owned partitions, from assignment on
 *   kafka_pause.c             pausing owned input partitions (watermark alignment)
 *   kafka_producer.c          the transactional producer
 *   kafka_repartition.c       the repartition topic: created and checked,
 *                             produced to, purged below committed offsets
 *   kafka_changelog_reader.c  the changelog reader (restore)
 *   kafka_reader.c            reading whole topics by time (verify)
 *
 * Invariant: rebalance, delivery-report and error callbacks run on the
 * runner's thread, inside poll_batch (consumer, and the producer's queue)
 * or produce, commit and abort (producer). The log callback, and the error
 * callback of the changelog reader, run on librdkafka's own threads, and
 * touch nothing but the repeat limiter (locked) and the thread-safe
 * logger.
 */
#ifndef TM_KAFKA_HANDLE_H
#define TM_KAFKA_HANDLE_H

#include "kafka.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "clock.h"
#include "config.h"

/* Metadata, topic creation, init_transactions, send_offsets, seek and
 * watermark queries: long enough for a broker restart or a coordinator
 * move, short enough that a wrong bootstrap address fails visibly. */
#define OP_TIMEOUT_MS 30000

typedef struct out_topic {
    char *name;
    rd_kafka_topic_t *rkt;
} out_topic;

typedef struct out_limit {
    const char *topic; /* borrowed from the config, changelog_topic or repartition_topic */
    size_t max_bytes;
} out_limit;

/* The topics tidemark writes to, at most: results, late, dead letters,
 * changelog, repartition. */
#define TM_KAFKA_OUT_TOPICS 5

struct tm_kafka {
    const tm_config *cfg;
    tm_kafka_rebalance rb;
    bool has_rb;
    tm_kafka_wait wait; /* fn NULL: nobody to tell */
    char *client_id;    /* <application_id>-<instance_id> */

    rd_kafka_t *consumer;
    rd_kafka_t *producer;
    rd_kafka_t *restore; /* created by the first read_changelog */

    /* The topics the group consumer reads, by topic index: the input
     * topics (cfg->input_topics order), then the repartition topic when
     * the application has one (index n_input_topics; room for it is
     * allocated with the inputs). consumed[i] is borrowed from the config
     * or repartition_topic. */
    const char **consumed;
    size_t n_consumed;
    /* Their handles on the consumer, by topic index: a message's topic is
     * found by comparing pointers, and holding the handles keeps those
     * pointers from being reused. */
    rd_kafka_topic_t **in_rkt;
    /* Per input topic: the timestamp types seen (tm_kafka_timestamp_types). */
    unsigned *in_ts_types;

    /* Producer topic handles, so produce skips librdkafka's name lookup. */
    out_topic *outs;
    size_t n_outs;

    /* The largest record each topic tidemark writes takes
     * (side_record.h's measure): min(the producer's message.max.bytes,
     * the topic's max.message.bytes). */
    size_t producer_max_bytes;
    out_limit *limits;
    size_t n_limits;

    char *changelog_topic;
    rd_kafka_topic_t *changelog_rkt;
    int32_t n_changelog; /* partitions of the changelog topic */
    int32_t n_input;     /* partitions of the largest input topic, as of open */
    int64_t *changelog_pending;
    int64_t *changelog_committed;

    /* The repartition topic (kafka_repartition.c); NULL when the
     * application has none. */
    char *repartition_topic;
    rd_kafka_topic_t *repartition_rkt;
    int32_t n_repartition;           /* its partitions: R */
    size_t repartition_wanted_bytes; /* the largest input limit + the event overhead */
    /* Purging (DeleteRecords), by partition: the offset to delete below
     * as asked, as sent in the request in flight, and as the broker last
     * confirmed (its log start offset); -1: none. One request at a time
     * answers to purge_q. */
    int64_t *purge_wanted, *purge_sent, *purge_done;
    rd_kafka_queue_t *purge_q;
    bool purge_asking;
    bool purge_failing;     /* the last answer was a failure (logged once) */
    int64_t purge_asked_ms; /* tm_monotonic_ms() of the last answer */

    int txn_timeout_ms;
    bool reset_earliest; /* auto.offset.reset is earliest (else latest) */
    bool txn_open;
    int64_t txn_began_ms; /* tm_monotonic_ms() at begin_transaction */
    int64_t lost_at_ms;   /* tm_monotonic_ms() of the last lost assignment, 0 none */
    bool closing;         /* tm_kafka_close runs: no rebalance callbacks */
    /* The rebalance event kept by the callback for the next poll_batch:
     * ASSIGN_PARTITIONS or REVOKE_PARTITIONS with a copy of its partitions;
     * rb_parts is NULL when none waits. */
    rd_kafka_resp_err_t rb_event;
    rd_kafka_topic_partition_list_t *rb_parts;
    int32_t *owned; /* the tasks of the assignment in force, ascending */
    size_t n_owned;
    bool fatal;
    char fatal_msg[512];
    char dr_error[256]; /* the first failed delivery of the open transaction */

    rd_kafka_message_t **batch;
    size_t n_batch, cap_batch;

    /* Alignment (kafka_pause.c), by owned[j] and consumed topic i at
     * [j * n_consumed + i]: paused by tidemark. */
    bool *paused;

    /* Consumer lag (kafka_lag.c), by owned[j] and consumed topic i at
     * [j * n_consumed + i]: where consumption starts, and the end as
     * last listed (-1: not yet); listings in flight answer to lag_q. */
    int64_t *lag_start, *lag_end;
    rd_kafka_queue_t *lag_q;
    int lag_asking;
    int64_t lag_asked_ms;
};

/* ---- deadlines ------------------------------------------------------------ */

/* Milliseconds left until deadline (tm_monotonic_ms), clamped to
 * [0, INT_MAX-ish]: librdkafka's timeouts are ints. */
static inline int remaining_ms(int64_t deadline)
{
    int64_t left = deadline - tm_monotonic_ms();
    if (left < 0)
        return 0;
    return left > 1000000000 ? 1000000000 : (int)left;
}

/* ---- kafka_handle.c ------------------------------------------------------ */

char *tm_kafka_xprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* fmt without the "kafka: " that the stored message gets. */
void tm_kafka_set_fatal(tm_kafka *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *tm_kafka_fenced_hint(const tm_kafka *k, rd_kafka_resp_err_t err);

/* ---- kafka_conf.c --------------------------------------------------------- */

int tm_kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value, char *errstr,
                      size_t errlen);
int tm_kafka_conf_force(rd_kafka_conf_t *conf, const tm_config *cfg, const char *key,
                        const char *value, char *errstr, size_t errlen);
int tm_kafka_conf_default(rd_kafka_conf_t *conf, const tm_config *cfg, const char *key,
                          const char *alias, const char *value, char *errstr, size_t errlen);
int tm_kafka_base_conf(tm_kafka *k, rd_kafka_conf_t **out, char *errstr, size_t errlen);
int tm_kafka_new_client(rd_kafka_t **out, rd_kafka_type_t type, rd_kafka_conf_t *conf,
                        const char *what, char *errstr, size_t errlen);
void tm_kafka_serve_queues(tm_kafka *k);

/* ---- kafka_admin.c -------------------------------------------------------- */

int tm_kafka_ensure_changelog(tm_kafka *k, char *errstr, size_t errlen);

/* A topic tidemark creates when it is missing. */
typedef struct tm_kafka_new_topic {
    const char *topic;
    const char *kind; /* for messages: "changelog", "repartition" */
    int partitions;
    const char *const (*configs)[2]; /* name, value */
    size_t n_configs;
    const char *shape; /* for the log line: how it is configured */
} tm_kafka_new_topic;

/* Makes sure nt->topic exists: creates it if missing (replication
 * min(3, brokers)) and waits until metadata shows it. *partitions: the
 * count it has (an existing topic's may differ from nt->partitions).
 * Transient failures are retried until deadline. */
int tm_kafka_ensure_topic(tm_kafka *k, const tm_kafka_new_topic *nt, int64_t deadline,
                          int *partitions, char *errstr, size_t errlen);
/* max.message.bytes of each names[i] into topic_max[i] (Kafka's default,
 * with a warning, where DescribeConfigs does not tell). */
void tm_kafka_describe_limits(tm_kafka *k, const char *const *names, size_t n, size_t *topic_max);
int tm_kafka_set_record_limits(tm_kafka *k, rd_kafka_conf_t *pconf, const size_t *needed,
                               bool *lowered, char *errstr, size_t errlen);

/* ---- kafka_consumer.c ----------------------------------------------------- */

int tm_kafka_open_consumer(tm_kafka *k, char *errstr, size_t errlen);
/* Once the repartition topic is known (tm_kafka_ensure_repartition): it
 * is consumed too, after the input topics. */
int tm_kafka_consume_repartition(tm_kafka *k, char *errstr, size_t errlen);
/* Index of the consumed topic named topic, -1 for none. */
int tm_kafka_consumed_index(const tm_kafka *k, const char *topic);

/* ---- kafka_lag.c ---------------------------------------------------------- */

/* The tasks owned[] were assigned, their partitions starting at
 * start[j * n_consumed + i] (< 0: the group's committed offset, else
 * auto.offset.reset): from now on they have a lag. */
void tm_kafka_lag_assigned(tm_kafka *k, const int64_t *start);
/* The slot of (consumed topic i, owned task) in the arrays kept by
 * owned[j] and consumed topic (lag_start, lag_end, paused): j * n_consumed + i;
 * -1 when the task is not owned. */
ssize_t tm_kafka_owned_slot(const tm_kafka *k, size_t topic_index, int32_t task);

/* ---- kafka_pause.c --------------------------------------------------------- */

/* After an assignment (owned[] set): every owned partition is resumed. */
void tm_kafka_pause_assigned(tm_kafka *k);

/* ---- kafka_producer.c ----------------------------------------------------- */

/* The transactional producer's configuration: transactional.id
 * <application_id>-<instance_id>; transaction.timeout.ms txn_timeout_ms
 * unless kafka.* sets it (0: ten commit intervals, at least a minute). */
int tm_kafka_producer_conf(tm_kafka *k, const char *instance_id, int64_t txn_timeout_ms,
                           rd_kafka_conf_t **out, char *errstr, size_t errlen);
int tm_kafka_init_transactions(tm_kafka *k, char *errstr, size_t errlen);
/* Produces one record to partition of rkt in the open transaction:
 * waits while the queue is full, classifies the error; opaque is the
 * delivery report's. */
tm_kafka_status tm_kafka_produce_to(tm_kafka *k, rd_kafka_topic_t *rkt, int32_t partition,
                                    const void *key, size_t key_len, const void *value,
                                    size_t value_len, const tm_header *headers, size_t n_headers,
                                    void *opaque, char *errstr, size_t errlen);

/* ---- kafka_repartition.c --------------------------------------------------- */

/* See kafka.h (tm_kafka_needs): called by tm_kafka_open before the record
 * limits are set. Creates or checks the repartition topic with
 * `partitions` partitions, for events of at most the input topics' limit +
 * overhead_bytes, and raises the producer's message.max.bytes in pconf to
 * that unless kafka.message.max.bytes is set (*remake: pconf changed). */
int tm_kafka_ensure_repartition(tm_kafka *k, int32_t partitions, size_t overhead_bytes,
                                rd_kafka_conf_t *pconf, bool *remake, char *errstr, size_t errlen);
/* After the record limits are set: warns when the repartition topic takes
 * less than an event of the largest input record (it then goes by
 * reference). */
void tm_kafka_check_repartition_limit(const tm_kafka *k);
/* The producer's handle of the repartition topic, once the producer is
 * final. */
int tm_kafka_open_repartition(tm_kafka *k, char *errstr, size_t errlen);
/* At close: what the repartition topic holds. */
void tm_kafka_close_repartition(tm_kafka *k);

/* ---- kafka_changelog_reader.c --------------------------------------------- */

int tm_kafka_open_restore(tm_kafka *k, char *errstr, size_t errlen);

#endif
