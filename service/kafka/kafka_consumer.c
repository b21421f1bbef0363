/*
 * kafka_consumer.c: the group consumer (read_committed, range assignment,
 * static membership): subscribing, rebalances, batches of records, and
 * seeking back to a checkpoint.
 *
 * Invariants:
 * - The messages behind the records handed out by poll_batch are held in
 *   batch[] until release_batch or the next poll_batch.
 * - A rebalance is applied between two batches, never inside one: the
 *   rebalance callback only keeps the event (librdkafka delivers no other
 *   until it is answered), poll_batch stops gathering once one is kept, and
 *   the next poll_batch applies it (the runner's revoked or assigned, then
 *   rd_kafka_assign) before it reads again. So every record handed out
 *   belongs to the assignment in force, and a record fetched after an
 *   assignment is never thrown away once the consumer has moved past it.
 * - owned[] holds the tasks of the assignment in force. A record of another
 *   partition (fetched for the previous assignment, dequeued before
 *   librdkafka marked it outdated) is dropped: its next owner reads it
 *   again from the committed offset.
 */
#include "kafka_handle.h"

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "clock.h"
#include "err.h"
#include "log.h"

/* ---- rebalances ------------------------------------------------------------ */

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* The distinct partition numbers of parts, ascending: the task numbers.
 * The caller frees the array. */
static int32_t *tasks_of(const rd_kafka_topic_partition_list_t *parts, size_t *n)
{
    size_t cnt = parts->cnt > 0 ? (size_t)parts->cnt : 0;
    int32_t *tasks = tm_xmalloc((cnt ? cnt : 1) * sizeof *tasks);
    for (size_t i = 0; i < cnt; i++)
        tasks[i] = parts->elems[i].partition;
    qsort(tasks, cnt, sizeof *tasks, cmp_i32);
    size_t out = 0;
    for (size_t i = 0; i < cnt; i++)
        if (out == 0 || tasks[out - 1] != tasks[i])
            tasks[out++] = tasks[i];
    *n = out;
    return tasks;
}

static size_t task_slot(const int32_t *tasks, size_t n, int32_t task)
{
    const int32_t *hit = bsearch(&task, tasks, n, sizeof *tasks, cmp_i32);
    assert(hit);
    return (size_t)(hit - tasks);
}

int tm_kafka_consumed_index(const tm_kafka *k, const char *topic)
{
    for (size_t i = 0; i < k->n_consumed; i++)
        if (strcmp(k->consumed[i], topic) == 0)
            return (int)i;
    return -1;
}

/* The repartition partitions of parts without a checkpoint start at the
 * group's committed offset, else at the beginning, whatever
 * auto.offset.reset says: it is the user's choice for the input topics,
 * and "latest" would skip events the source tasks have committed. */
static void start_repartition_at_committed(tm_kafka *k, rd_kafka_topic_partition_list_t *parts)
{
    rd_kafka_topic_partition_list_t *stored = rd_kafka_topic_partition_list_new(0);
    for (int i = 0; i < parts->cnt; i++)
        if (parts->elems[i].offset == RD_KAFKA_OFFSET_STORED &&
            strcmp(parts->elems[i].topic, k->repartition_topic) == 0)
            rd_kafka_topic_partition_list_add(stored, k->repartition_topic,
                                              parts->elems[i].partition);
    rd_kafka_resp_err_t err = stored->cnt > 0
                                  ? rd_kafka_committed(k->consumer, stored, OP_TIMEOUT_MS)
                                  : RD_KAFKA_RESP_ERR_NO_ERROR;
    for (int i = 0; !err && i < stored->cnt; i++) {
        const rd_kafka_topic_partition_t *c = &stored->elems[i];
        if (c->err) {
            err = c->err;
            break;
        }
        rd_kafka_topic_partition_t *p =
            rd_kafka_topic_partition_list_find(parts, c->topic, c->partition);
        p->offset = c->offset >= 0 ? c->offset : RD_KAFKA_OFFSET_BEGINNING;
    }
    /* A restart asks again; starting anywhere else could skip events. */
    if (err)
        tm_kafka_set_fatal(k, "committed offsets of %s: %s", k->repartition_topic,
                           rd_kafka_err2str(err));
    rd_kafka_topic_partition_list_destroy(stored);
}

/* Eager assignment: the runner restores the tasks and says where each
 * input partition starts; then the consumer starts fetching there. */
static void apply_assign(tm_kafka *k, rd_kafka_topic_partition_list_t *parts)
{
    size_t n, nt = k->n_consumed;
    int32_t *tasks = tasks_of(parts, &n);
    int64_t *start = tm_xmalloc((n * nt > 0 ? n * nt : 1) * sizeof *start);
    for (size_t i = 0; i < n * nt; i++)
        start[i] = TM_KAFKA_OFFSET_STORED;

    TM_LOG(TM_LOG_INFO, "kafka", "assigned %zu task(s) (%d partition(s))", n, parts->cnt);
    if (n > 0 && tasks[n - 1] >= k->n_changelog)
        tm_kafka_set_fatal(k,
                           "input partition %d has no changelog partition (%s has %d): add "
                           "partitions to the changelog topic",
                           (int)tasks[n - 1], k->changelog_topic, (int)k->n_changelog);
    bool stopped = false;
    if (!k->fatal && k->has_rb) {
        int rc = k->rb.assigned(k->rb.ctx, tasks, n, start);
        stopped = rc == TM_ESTOPPED;
        if (rc < 0 && !stopped)
            tm_kafka_set_fatal(k, "restoring the assigned tasks failed: %s", tm_strerror(rc));
    }
    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *p = &parts->elems[i];
        int ti = tm_kafka_consumed_index(k, p->topic);
        int64_t off = ti < 0 ? -1 : start[task_slot(tasks, n, p->partition) * nt + (size_t)ti];
        /* With no checkpoint: the group's committed offset, else
         * auto.offset.reset (librdkafka's fallback for OFFSET_STORED). */
        p->offset = off >= 0 ? off : RD_KAFKA_OFFSET_STORED;
    }
    if (!k->fatal && k->repartition_topic)
        start_repartition_at_committed(k, parts);
    /* Stopped during the restore: the tasks are not there to consume for;
     * the process is about to leave the group. */
    bool take = !k->fatal && !stopped;
    rd_kafka_resp_err_t err = rd_kafka_assign(k->consumer, take ? parts : NULL);
    if (err)
        tm_kafka_set_fatal(k, "assign: %s", rd_kafka_err2str(err));
    free(k->owned);
    k->owned = tasks;
    k->n_owned = take && !err ? n : 0;
    tm_kafka_lag_assigned(k, start);
    tm_kafka_pause_assigned(k);
    free(start);
}

bool tm_kafka_assignment_lost(const tm_kafka *k)
{
    return rd_kafka_assignment_lost(k->consumer);
}

static void apply_revoke(tm_kafka *k, rd_kafka_topic_partition_list_t *parts)
{
    if (tm_kafka_assignment_lost(k)) {
        k->lost_at_ms = tm_monotonic_ms();
        TM_LOG(TM_LOG_WARN, "kafka",
               "assignment lost (session timeout or poll interval exceeded): the open "
               "transaction can no longer commit its offsets and is aborted");
    }
    TM_LOG(TM_LOG_INFO, "kafka", "revoking %d partition(s)", parts->cnt);
    if (k->has_rb) {
        size_t n;
        int32_t *tasks = tasks_of(parts, &n);
        k->rb.revoked(k->rb.ctx, tasks, n);
        free(tasks);
    }
    /* librdkafka keeps an application's pause on a partition across an
     * unassign and a new assignment (rdkafka_assignment.c resets only its
     * own): resume what is given up, so that a later assignment of it
     * starts resumed as tm_kafka_set_paused says. */
    char why[256];
    if (tm_kafka_resume_all(k, why, sizeof why) < 0)
        TM_LOG(TM_LOG_WARN, "kafka", "%s", why);
    k->n_owned = 0;
    rd_kafka_resp_err_t err = rd_kafka_assign(k->consumer, NULL);
    if (err)
        tm_kafka_set_fatal(k, "unassign: %s", rd_kafka_err2str(err));
}

/* Applies the rebalance event the callback kept, if any (see the
 * invariants): called by poll_batch after the previous batch was handed
 * out and processed. */
static void apply_rebalance(tm_kafka *k)
{
    rd_kafka_topic_partition_list_t *parts = k->rb_parts;
    if (!parts)
        return;
    k->rb_parts = NULL;
    if (k->rb_event == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
        apply_assign(k, parts);
    else
        apply_revoke(k, parts);
    rd_kafka_topic_partition_list_destroy(parts);
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    tm_kafka *k = opaque;
    if (k->closing) {
        /* consumer_close's own revoke: the runner has finished. */
        rd_kafka_assign(rk, NULL);
        return;
    }
    if (err != RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS &&
        err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
        /* An assignor failure: hold nothing, the group rebalances again. */
        TM_LOG(TM_LOG_ERROR, "kafka", "rebalance failed: %s", rd_kafka_err2str(err));
        char why[256];
        if (tm_kafka_resume_all(k, why, sizeof why) < 0) /* as apply_revoke does */
            TM_LOG(TM_LOG_WARN, "kafka", "%s", why);
        k->n_owned = 0;
        rd_kafka_assign(rk, NULL);
        return;
    }
    if (k->rb_parts) {
        /* librdkafka waits for the answer to one event before the next. */
        tm_kafka_set_fatal(k, "a rebalance (%s) arrived before the previous one was applied",
                           rd_kafka_err2str(err));
        return;
    }
    k->rb_event = err;
    k->rb_parts = rd_kafka_topic_partition_list_copy(parts);
    /* Ends the consumer call's wait now (it would otherwise wait out its
     * timeout for records before poll_batch could apply the event). */
    rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(rk);
    rd_kafka_queue_yield(q);
    rd_kafka_queue_destroy(q);
}

/* A handle for consumed topic i (its name set). */
static int open_consumed(tm_kafka *k, size_t i, char *errstr, size_t errlen)
{
    k->in_rkt[i] = rd_kafka_topic_new(k->consumer, k->consumed[i], NULL);
    if (!k->in_rkt[i])
        return tm_seterr(errstr, errlen, TM_EKAFKA, "kafka: topic '%s': %s", k->consumed[i],
                         rd_kafka_err2str(rd_kafka_last_error()));
    return 0;
}

int tm_kafka_open_consumer(tm_kafka *k, char *errstr, size_t errlen)
{
    const tm_config *cfg = k->cfg;
    rd_kafka_conf_t *conf;
    int rc = tm_kafka_base_conf(k, &conf, errstr, errlen);
    if (rc)
        return rc;
    /* Offsets are committed only by the producer's transactions. */
    struct {
        const char *key, *value;
    } forced[] = {
        {"group.id", cfg->application_id},
        {"isolation.level", "read_committed"},
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        /* The classic protocol, eager: rebalances revoke everything (the
         * callbacks use assign, not incremental_assign), and range keeps
         * partition p of every input topic on one member. */
        {"group.protocol", "classic"},
        {"partition.assignment.strategy", "range"},
        /* Metadata queries for the changelog must not create it. */
        {"allow.auto.create.topics", "false"},
    };
    for (size_t i = 0; i < sizeof forced / sizeof forced[0] && !rc; i++)
        rc = tm_kafka_conf_force(conf, cfg, forced[i].key, forced[i].value, errstr, errlen);
    if (!rc)
        rc =
            tm_kafka_conf_default(conf, cfg, "auto.offset.reset", NULL, "earliest", errstr, errlen);
    /* Static membership (KIP-345): a restarted instance (the same
     * instance id: the StatefulSet's pod name) takes its partitions back
     * at once, without a rebalance and without waiting for its old
     * session to time out. */
    if (!rc && cfg->static_membership)
        rc = tm_kafka_conf_default(conf, cfg, "group.instance.id", NULL, k->client_id, errstr,
                                   errlen);
    if (!rc)
        rc = tm_kafka_conf_default(conf, cfg, "client.id", NULL, k->client_id, errstr, errlen);
    /* librdkafka's default (1000 ms) idles the consumer for a second each
     * time its fetch queue is full, which a service catching up (after a
     * restart, or with a backlog) hits constantly: measured 0.21M -> 0.54M
     * events/s end to end on a 32-partition backlog. */
    if (!rc)
        rc = tm_kafka_conf_default(conf, cfg, "fetch.queue.backoff.ms", NULL, "10", errstr, errlen);
    if (rc) {
        rd_kafka_conf_destroy(conf);
        return rc;
    }
    char reset[32];
    size_t sz = sizeof reset;
    if (rd_kafka_conf_get(conf, "auto.offset.reset", reset, &sz) == RD_KAFKA_CONF_OK)
        k->reset_earliest = strcmp(reset, "smallest") == 0 || strcmp(reset, "earliest") == 0 ||
                            strcmp(reset, "beginning") == 0;
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    rc = tm_kafka_new_client(&k->consumer, RD_KAFKA_CONSUMER, conf, "consumer", errstr, errlen);
    if (rc)
        return rc;
    /* Rebalance and error events are served by consumer_poll. */
    rd_kafka_poll_set_consumer(k->consumer);
    k->in_ts_types =
        tm_xcalloc(cfg->n_input_topics ? cfg->n_input_topics : 1, sizeof *k->in_ts_types);
    /* Room for the repartition topic after the inputs. */
    k->consumed = tm_xcalloc(cfg->n_input_topics + 1, sizeof *k->consumed);
    k->in_rkt = tm_xcalloc(cfg->n_input_topics + 1, sizeof *k->in_rkt);
    for (size_t i = 0; i < cfg->n_input_topics; i++) {
        k->consumed[i] = cfg->input_topics[i];
        rc = open_consumed(k, i, errstr, errlen);
        if (rc)
            return rc;
        k->n_consumed++;
    }
    return 0;
}

int tm_kafka_consume_repartition(tm_kafka *k, char *errstr, size_t errlen)
{
    k->consumed[k->n_consumed] = k->repartition_topic;
    int rc = open_consumed(k, k->n_consumed, errstr, errlen);
    if (!rc)
        k->n_consumed++;
    return rc;
}

size_t tm_kafka_consumed_topics(const tm_kafka *k)
{
    return k->n_consumed;
}

int tm_kafka_subscribe(tm_kafka *k, char *errstr, size_t errlen)
{
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new((int)k->n_consumed);
    for (size_t i = 0; i < k->n_consumed; i++)
        rd_kafka_topic_partition_list_add(topics, k->consumed[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(k->consumer, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (err)
        return tm_seterr(errstr, errlen, TM_EKAFKA, "kafka: subscribe: %s", rd_kafka_err2str(err));
    return 0;
}

/* ---- consuming ------------------------------------------------------------ */

/* True (with the message in errstr) once either client is in a state it
 * cannot leave: fenced, or a fatal idempotence or group error. */
static bool is_fatal(tm_kafka *k, char *errstr, size_t errlen)
{
    char why[512];
    rd_kafka_resp_err_t err;
    if (!k->fatal && (err = rd_kafka_fatal_error(k->producer, why, sizeof why)))
        tm_kafka_set_fatal(k, "producer: %s%s", why, tm_kafka_fenced_hint(k, err));
    if (!k->fatal && (err = rd_kafka_fatal_error(k->consumer, why, sizeof why)))
        tm_kafka_set_fatal(k, "consumer: %s%s", why, tm_kafka_fenced_hint(k, err));
    if (k->fatal)
        tm_seterr(errstr, errlen, TM_EFATAL, "%s", k->fatal_msg);
    return k->fatal;
}

/* Handles a consumer event that is not a record: the end of a partition
 * is no news; lost brokers and the like are retried by librdkafka; a fatal
 * error or a refused authorization ends the service. */
static void consumer_event(tm_kafka *k, const rd_kafka_message_t *m)
{
    switch (m->err) {
    case RD_KAFKA_RESP_ERR__PARTITION_EOF:
        return;
    case RD_KAFKA_RESP_ERR__FATAL:
        return; /* is_fatal picks it up with librdkafka's reason */
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
        tm_kafka_set_fatal(k, "consumer: %s", rd_kafka_message_errstr(m));
        return;
    default:
        TM_LOG(TM_LOG_WARN, "kafka", "consumer: %s%s%s [%d]: %s", rd_kafka_err2name(m->err),
               m->rkt ? " " : "", m->rkt ? rd_kafka_topic_name(m->rkt) : "", (int)m->partition,
               rd_kafka_message_errstr(m));
    }
}

/* Index of the consumed topic of rkt: pointer compare against the
 * handles held since open, the name as a fallback. */
static int topic_index_of(const tm_kafka *k, const rd_kafka_topic_t *rkt)
{
    for (size_t i = 0; i < k->n_consumed; i++)
        if (k->in_rkt[i] == rkt)
            return (int)i;
    return tm_kafka_consumed_index(k, rd_kafka_topic_name(rkt));
}

static bool owns(const tm_kafka *k, int32_t task)
{
    return k->n_owned > 0 && bsearch(&task, k->owned, k->n_owned, sizeof task, cmp_i32);
}

/* ---- timestamp types --------------------------------------------------------- */

const char *tm_ts_type_name(tm_ts_type t)
{
    static const char *const names[TM_TS_TYPE_COUNT_] = {"create_time", "log_append_time", "none"};
    return t < TM_TS_TYPE_COUNT_ ? names[t] : "?";
}

unsigned tm_kafka_timestamp_types(const tm_kafka *k, size_t topic_index)
{
    assert(topic_index < k->cfg->n_input_topics);
    return k->in_ts_types[topic_index];
}

/* Keeps the timestamp type of a record of input topic ti. The receipt
 * time is the Kafka timestamp, and unless the broker sets it
 * (LogAppendTime) it is the producer's clock: one record with a forged
 * timestamp and event time passes clock_skew.max_ahead_ms and moves the
 * watermark. Said once per topic, at the first such record. */
static void note_timestamp_type(tm_kafka *k, size_t ti, rd_kafka_timestamp_type_t type)
{
    tm_ts_type t = type == RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME ? TM_TS_LOG_APPEND_TIME
                   : type == RD_KAFKA_TIMESTAMP_CREATE_TIME   ? TM_TS_CREATE_TIME
                                                              : TM_TS_NONE;
    unsigned seen = k->in_ts_types[ti], trusted = 1u << TM_TS_LOG_APPEND_TIME;
    if (seen & (1u << t))
        return;
    k->in_ts_types[ti] = seen | (1u << t);
    if (t != TM_TS_LOG_APPEND_TIME && !(seen & ~trusted))
        TM_LOG(TM_LOG_WARN, "kafka",
               "input topic %s: records arrive with %s timestamps, so the receipt time is the "
               "producer's clock and the clock-skew guard (clock_skew.max_ahead_ms) trusts "
               "producer clocks: a record with a wrong timestamp can move the watermark. Set "
               "message.timestamp.type=LogAppendTime on the topic (or "
               "clock_skew.max_ahead_of_wall_ms)",
               k->cfg->input_topics[ti], t == TM_TS_CREATE_TIME ? "CreateTime" : "no");
}

static bool fill_record(tm_kafka *k, tm_record *r, const rd_kafka_message_t *m)
{
    int ti = topic_index_of(k, m->rkt);
    if (ti < 0) {
        TM_LOG(TM_LOG_WARN, "kafka", "record of unexpected topic %s skipped",
               rd_kafka_topic_name(m->rkt));
        return false;
    }
    if (!owns(k, m->partition)) {
        TM_LOG(TM_LOG_DEBUG, "kafka", "%s [%d] offset %lld: fetched before a revoke, dropped",
               rd_kafka_topic_name(m->rkt), (int)m->partition, (long long)m->offset);
        return false;
    }
    rd_kafka_timestamp_type_t tstype;
    r->topic = k->consumed[ti];
    r->topic_index = (size_t)ti;
    r->partition = m->partition;
    r->offset = m->offset;
    r->ts = rd_kafka_message_timestamp(m, &tstype); /* -1 if the record has none */
    /* The repartition topic's timestamps are tidemark's own. */
    if ((size_t)ti < k->cfg->n_input_topics)
        note_timestamp_type(k, (size_t)ti, tstype);
    r->key = m->key;
    r->key_len = m->key ? m->key_len : 0;
    r->value = m->payload;
    r->value_len = m->payload ? m->len : 0;
    return true;
}

ssize_t tm_kafka_poll_batch(tm_kafka *k, tm_record *recs, size_t max, int timeout_ms,
                            tm_kafka_status *status, char *errstr, size_t errlen)
{
    assert(k && status && (recs || max == 0));
    tm_kafka_release_batch(k);
    *status = TM_KAFKA_OK;
    if (max > k->cap_batch) {
        k->batch = tm_xrealloc(k->batch, max * sizeof *k->batch);
        k->cap_batch = max;
    }
    apply_rebalance(k);
    tm_kafka_serve_queues(k);
    int64_t deadline = tm_monotonic_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    for (;;) {
        if (is_fatal(k, errstr, errlen)) {
            tm_kafka_release_batch(k);
            *status = TM_KAFKA_FATAL;
            return -1;
        }
        if (k->n_batch >= max)
            break;
        int wait = k->n_batch == 0 ? remaining_ms(deadline) : 0;
        /* Many messages per call: one rd_kafka_consumer_poll per message
         * cost 13% of the service's main thread. The consumer queue also
         * serves the rebalance callbacks. */
        rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(k->consumer);
        rd_kafka_message_t **got = &k->batch[k->n_batch];
        ssize_t n = rd_kafka_consume_batch_queue(q, wait, got, max - k->n_batch);
        rd_kafka_queue_destroy(q);
        /* Keep the records, compacting in place (never ahead of reading). */
        for (ssize_t i = 0; i < n; i++) {
            rd_kafka_message_t *m = got[i];
            if (m->err) {
                consumer_event(k, m);
                rd_kafka_message_destroy(m);
            } else if (!fill_record(k, &recs[k->n_batch], m)) {
                rd_kafka_message_destroy(m);
            } else {
                k->batch[k->n_batch++] = m;
            }
        }
        /* A kept rebalance ends the batch: the next poll applies it, after
         * the runner has processed these records. */
        if (k->rb_parts || (n <= 0 && (k->n_batch > 0 || wait == 0)))
            break;
    }
    return (ssize_t)k->n_batch;
}

void tm_kafka_release_batch(tm_kafka *k)
{
    for (size_t i = 0; i < k->n_batch; i++)
        rd_kafka_message_destroy(k->batch[i]);
    k->n_batch = 0;
}

int64_t tm_kafka_position(tm_kafka *k, size_t topic_index, int32_t task)
{
    assert(topic_index < k->n_consumed);
    rd_kafka_topic_partition_list_t *one = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(one, k->consumed[topic_index], task);
    int64_t at = rd_kafka_position(k->consumer, one) == RD_KAFKA_RESP_ERR_NO_ERROR
                     ? one->elems[0].offset
                     : -1;
    rd_kafka_topic_partition_list_destroy(one);
    return at >= 0 ? at : -1;
}

/* The group's committed offset of one partition, else where
 * auto.offset.reset points. */
static int resolve_stored(tm_kafka *k, rd_kafka_topic_partition_list_t *one, char *errstr,
                          size_t errlen)
{
    rd_kafka_resp_err_t err = rd_kafka_committed(k->consumer, one, OP_TIMEOUT_MS);
    if (!err)
        err = one->elems[0].err;
    if (err)
        return tm_seterr(errstr, errlen, TM_EKAFKA, "kafka: committed offset of %s [%d]: %s",
                         one->elems[0].topic, (int)one->elems[0].partition, rd_kafka_err2str(err));
    if (one->elems[0].offset < 0)
        one->elems[0].offset = k->reset_earliest ? RD_KAFKA_OFFSET_BEGINNING : RD_KAFKA_OFFSET_END;
    return 0;
}

int tm_kafka_seek(tm_kafka *k, size_t topic_index, int32_t task, int64_t offset, char *errstr,
                  size_t errlen)
{
    assert(topic_index < k->n_consumed);
    const char *topic = k->consumed[topic_index];
    rd_kafka_topic_partition_list_t *one = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(one, topic, task)->offset = offset;
    /* librdkafka cannot seek to OFFSET_STORED: resolve it first. */
    int rc = offset == TM_KAFKA_OFFSET_STORED ? resolve_stored(k, one, errstr, errlen) : 0;
    if (!rc) {
        rd_kafka_error_t *error = rd_kafka_seek_partitions(k->consumer, one, OP_TIMEOUT_MS);
        if (error) {
            rc = tm_seterr(errstr, errlen, TM_EKAFKA, "kafka: seek %s [%d]: %s", topic, (int)task,
                           rd_kafka_error_string(error));
            rd_kafka_error_destroy(error);
        } else if (one->elems[0].err) {
            rc = tm_seterr(errstr, errlen, TM_EKAFKA, "kafka: seek %s [%d]: %s", topic, (int)task,
                           rd_kafka_err2str(one->elems[0].err));
        }
    }
    rd_kafka_topic_partition_list_destroy(one);
    return rc;
}
