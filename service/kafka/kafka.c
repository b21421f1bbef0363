/*
 * kafka.c: see kafka.h. The only file that includes librdkafka.
 *
 * Invariants:
 * - Input offsets are committed only inside producer transactions
 *   (send_offsets_to_transaction): the consumer never commits or stores an
 *   offset itself, so a committed input offset always comes with the
 *   outputs, changelog records and checkpoints of the records before it.
 * - txn_open is true from a successful begin until a successful commit or
 *   abort.
 * - changelog_committed[p] moves only when a commit succeeds, to the
 *   offset after the last changelog record of partition p delivered in a
 *   committed transaction. changelog_pending[p] is the same plus the
 *   delivery reports of the open transaction, and falls back to
 *   changelog_committed[p] on abort. commit_transaction flushes, and the
 *   flush serves every delivery report, so both are exact once the commit
 *   returns.
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
 * - Once fatal is set it stays set, and every poll_batch returns FATAL.
 * - Rebalance, delivery-report and error callbacks run on the runner's
 *   thread, inside poll_batch (consumer) or produce, commit and abort
 *   (producer). Only the log callback runs on librdkafka's own threads, and
 *   it touches nothing but the thread-safe logger.
 */
#include "kafka.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "common.h"
#include "log.h"

/* Metadata, topic creation, init_transactions, send_offsets, seek and
 * watermark queries: long enough for a broker restart or a coordinator
 * move, short enough that a wrong bootstrap address fails visibly. */
#define OP_TIMEOUT_MS 30000
/* A changelog read that gets nothing (no record, no end of partition) for
 * this long fails. */
#define RESTORE_IDLE_MS 30000
/* How long produce waits for the queue to drain when it is full. */
#define QUEUE_FULL_POLL_MS 10
/* CreateTopics: a broker answers in well under a second; this bounds a
 * cluster whose controller is unreachable. */
#define CREATE_TIMEOUT_MS 10000
/* Best-effort abort of a transaction left open at close. */
#define CLOSE_ABORT_TIMEOUT_MS 5000
/* transaction.timeout.ms is max(this, 10 x commit_interval_ms) unless set. */
#define MIN_TXN_TIMEOUT_MS 60000

/* The delivery-report opaque of changelog records: only its address is
 * used, to tell them from output records. */
static char changelog_tag;

typedef struct out_topic {
    char *name;
    rd_kafka_topic_t *rkt;
} out_topic;

typedef struct out_limit {
    const char *topic; /* borrowed from the config, or changelog_topic */
    size_t max_bytes;
} out_limit;

struct tm_kafka {
    const tm_config *cfg;
    tm_kafka_rebalance rb;
    bool has_rb;
    char *client_id; /* <application_id>-<instance_id> */

    rd_kafka_t *consumer;
    rd_kafka_t *producer;
    rd_kafka_t *restore; /* created by the first read_changelog */

    /* Handles of the input topics on the consumer, by topic index: a
     * message's topic is found by comparing pointers, and holding the
     * handles keeps those pointers from being reused. */
    rd_kafka_topic_t **in_rkt;

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
    int64_t *changelog_pending;
    int64_t *changelog_committed;

    int txn_timeout_ms;
    bool reset_earliest; /* auto.offset.reset is earliest (else latest) */
    bool txn_open;
    bool closing; /* tm_kafka_close runs: no rebalance callbacks */
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
};

/* ---- small helpers -------------------------------------------------------- */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* Milliseconds left until deadline, clamped to [0, INT_MAX-ish]. */
static int remaining_ms(int64_t deadline)
{
    int64_t left = deadline - now_ms();
    if (left < 0)
        return 0;
    return left > 1000000000 ? 1000000000 : (int)left;
}

/* A formatted string in new memory (the caller frees it). */
static char *xprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *xprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    assert(n >= 0);
    char *s = tm_xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

/* Records an unrecoverable state: from now on every poll returns FATAL
 * with this message. The first reason wins. */
static void set_fatal(tm_kafka *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void set_fatal(tm_kafka *k, const char *fmt, ...)
{
    if (k->fatal)
        return;
    va_list ap;
    va_start(ap, fmt);
    tm_vformat(k->fatal_msg, sizeof k->fatal_msg, fmt, ap);
    va_end(ap);
    k->fatal = true;
    TM_LOG(TM_LOG_ERROR, "kafka", "%s", k->fatal_msg);
}

/* What a fencing error means for an operator ("" for other errors): the
 * transactional.id and group.instance.id both derive from the instance id,
 * so another process started with this one's id took over. */
static const char *fenced_hint(rd_kafka_resp_err_t err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR__FENCED:
    case RD_KAFKA_RESP_ERR_PRODUCER_FENCED:
    case RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH:
    case RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID:
        return " (fenced: another instance started with the same instance id and took over; "
               "every instance needs its own --instance-id)";
    default:
        return "";
    }
}

/* ---- callbacks -------------------------------------------------------------- */

/* librdkafka logs with syslog levels (0 emerg .. 7 debug). */
static tm_log_level log_level_of(int syslog_level)
{
    if (syslog_level <= 3)
        return TM_LOG_ERROR;
    if (syslog_level == 4)
        return TM_LOG_WARN;
    if (syslog_level <= 6)
        return TM_LOG_INFO;
    return TM_LOG_DEBUG;
}

/* Runs on librdkafka's threads: the logger is thread-safe. */
static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    TM_LOG(log_level_of(level), "kafka", "%s: %s: %s", rd_kafka_name(rk), fac, buf);
}

/* Client-level errors (all brokers down, authentication). librdkafka
 * recovers from all but the fatal ones by itself; those surface again on
 * the next poll or transactional call, which classifies them. */
static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)opaque;
    tm_log_level level = err == RD_KAFKA_RESP_ERR__FATAL ? TM_LOG_ERROR : TM_LOG_WARN;
    TM_LOG(level, "kafka", "%s: %s: %s", rd_kafka_name(rk),
           rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

/* Remembers the delivered end of each changelog partition, and the first
 * failed delivery of the transaction (librdkafka then fails the commit as
 * abortable; the message says why). */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    tm_kafka *k = opaque;
    (void)rk;
    if (m->err) {
        if (!k->dr_error[0]) {
            snprintf(k->dr_error, sizeof k->dr_error, "%s [%d]: %s", rd_kafka_topic_name(m->rkt),
                     (int)m->partition, rd_kafka_err2str(m->err));
            TM_LOG(TM_LOG_WARN, "kafka", "delivery failed: %s", k->dr_error);
        }
        return;
    }
    if (m->_private != &changelog_tag || m->partition < 0 || m->partition >= k->n_changelog ||
        m->offset < 0)
        return;
    if (m->offset + 1 > k->changelog_pending[m->partition])
        k->changelog_pending[m->partition] = m->offset + 1;
}

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

/* Eager assignment: the runner restores the tasks and says where each
 * input partition starts; then the consumer starts fetching there. */
static void apply_assign(tm_kafka *k, rd_kafka_topic_partition_list_t *parts)
{
    const tm_config *cfg = k->cfg;
    size_t n, nt = cfg->n_input_topics;
    int32_t *tasks = tasks_of(parts, &n);
    int64_t *start = tm_xmalloc((n * nt > 0 ? n * nt : 1) * sizeof *start);
    for (size_t i = 0; i < n * nt; i++)
        start[i] = TM_KAFKA_OFFSET_STORED;

    TM_LOG(TM_LOG_INFO, "kafka", "assigned %zu task(s) (%d partition(s))", n, parts->cnt);
    if (n > 0 && tasks[n - 1] >= k->n_changelog)
        set_fatal(k,
                  "kafka: input partition %d has no changelog partition (%s has %d): add "
                  "partitions to the changelog topic",
                  (int)tasks[n - 1], k->changelog_topic, (int)k->n_changelog);
    bool stopped = false;
    if (!k->fatal && k->has_rb) {
        int rc = k->rb.assigned(k->rb.ctx, tasks, n, start);
        stopped = rc == TM_ESTOPPED;
        if (rc < 0 && !stopped)
            set_fatal(k, "kafka: restoring the assigned tasks failed: %s", tm_strerror(rc));
    }
    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *p = &parts->elems[i];
        int ti = tm_config_topic_index(cfg, p->topic);
        int64_t off = ti < 0 ? -1 : start[task_slot(tasks, n, p->partition) * nt + (size_t)ti];
        /* With no checkpoint: the group's committed offset, else
         * auto.offset.reset (librdkafka's fallback for OFFSET_STORED). */
        p->offset = off >= 0 ? off : RD_KAFKA_OFFSET_STORED;
    }
    /* Stopped during the restore: the tasks are not there to consume for;
     * the process is about to leave the group. */
    bool take = !k->fatal && !stopped;
    rd_kafka_resp_err_t err = rd_kafka_assign(k->consumer, take ? parts : NULL);
    if (err)
        set_fatal(k, "kafka: assign: %s", rd_kafka_err2str(err));
    free(start);
    free(k->owned);
    k->owned = tasks;
    k->n_owned = take && !err ? n : 0;
}

static void apply_revoke(tm_kafka *k, rd_kafka_topic_partition_list_t *parts)
{
    if (rd_kafka_assignment_lost(k->consumer))
        TM_LOG(TM_LOG_WARN, "kafka",
               "assignment lost (session timeout or poll interval exceeded): the open "
               "transaction can no longer commit its offsets");
    TM_LOG(TM_LOG_INFO, "kafka", "revoking %d partition(s)", parts->cnt);
    if (k->has_rb) {
        size_t n;
        int32_t *tasks = tasks_of(parts, &n);
        k->rb.revoked(k->rb.ctx, tasks, n);
        free(tasks);
    }
    k->n_owned = 0;
    rd_kafka_resp_err_t err = rd_kafka_assign(k->consumer, NULL);
    if (err)
        set_fatal(k, "kafka: unassign: %s", rd_kafka_err2str(err));
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
        k->n_owned = 0;
        rd_kafka_assign(rk, NULL);
        return;
    }
    if (k->rb_parts) {
        /* librdkafka waits for the answer to one event before the next. */
        set_fatal(k, "kafka: a rebalance (%s) arrived before the previous one was applied",
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

/* ---- configuration ------------------------------------------------------ */

static int conf_set(rd_kafka_conf_t *conf, const char *key, const char *value, char *errstr,
                    size_t errlen)
{
    char msg[512];
    if (rd_kafka_conf_set(conf, key, value, msg, sizeof msg) != RD_KAFKA_CONF_OK)
        return tm_seterr(errstr, errlen, TM_ECONFIG, "config: kafka.%s: %s", key, msg);
    return 0;
}

/* Sets a property exactly-once depends on, whatever the user said. */
static int conf_force(rd_kafka_conf_t *conf, const tm_config *cfg, const char *key,
                      const char *value, char *errstr, size_t errlen)
{
    const char *user = tm_config_kafka(cfg, key);
    if (user && strcmp(user, value) != 0)
        TM_LOG(TM_LOG_WARN, "kafka", "kafka.%s=%s ignored: tidemark needs %s=%s", key, user, key,
               value);
    return conf_set(conf, key, value, errstr, errlen);
}

/* Sets a default the user may override (under any of its names). */
static int conf_default(rd_kafka_conf_t *conf, const tm_config *cfg, const char *key,
                        const char *alias, const char *value, char *errstr, size_t errlen)
{
    if (tm_config_kafka(cfg, key) || (alias && tm_config_kafka(cfg, alias)))
        return 0;
    return conf_set(conf, key, value, errstr, errlen);
}

/* A conf with the user's kafka.* properties and tidemark's callbacks. */
static int base_conf(tm_kafka *k, rd_kafka_conf_t **out, char *errstr, size_t errlen)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    for (size_t i = 0; i < k->cfg->n_kafka; i++) {
        int rc = conf_set(conf, k->cfg->kafka[i].key, k->cfg->kafka[i].value, errstr, errlen);
        if (rc) {
            rd_kafka_conf_destroy(conf);
            return rc;
        }
    }
    rd_kafka_conf_set_log_cb(conf, on_log);
    rd_kafka_conf_set_error_cb(conf, on_error);
    rd_kafka_conf_set_opaque(conf, k);
    *out = conf;
    return 0;
}

/* Creates a client from conf (consumed either way). */
static int new_client(rd_kafka_t **out, rd_kafka_type_t type, rd_kafka_conf_t *conf,
                      const char *what, char *errstr, size_t errlen)
{
    char msg[512];
    rd_kafka_t *rk = rd_kafka_new(type, conf, msg, sizeof msg);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        return tm_seterr(errstr, errlen, TM_ECONFIG, "config: kafka: %s: %s", what, msg);
    }
    *out = rk;
    return 0;
}

static int open_consumer(tm_kafka *k, char *errstr, size_t errlen)
{
    const tm_config *cfg = k->cfg;
    rd_kafka_conf_t *conf;
    int rc = base_conf(k, &conf, errstr, errlen);
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
        rc = conf_force(conf, cfg, forced[i].key, forced[i].value, errstr, errlen);
    if (!rc)
        rc = conf_default(conf, cfg, "auto.offset.reset", NULL, "earliest", errstr, errlen);
    /* Static membership (KIP-345): a restarted instance (the same
     * instance id: the StatefulSet's pod name) takes its partitions back
     * at once, without a rebalance and without waiting for its old
     * session to time out. */
    if (!rc && cfg->static_membership)
        rc = conf_default(conf, cfg, "group.instance.id", NULL, k->client_id, errstr, errlen);
    if (!rc)
        rc = conf_default(conf, cfg, "client.id", NULL, k->client_id, errstr, errlen);
    /* librdkafka's default (1000 ms) idles the consumer for a second each
     * time its fetch queue is full, which a service catching up (after a
     * restart, or with a backlog) hits constantly: measured 0.21M -> 0.54M
     * events/s end to end on a 32-partition backlog. */
    if (!rc)
        rc = conf_default(conf, cfg, "fetch.queue.backoff.ms", NULL, "10", errstr, errlen);
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
    rc = new_client(&k->consumer, RD_KAFKA_CONSUMER, conf, "consumer", errstr, errlen);
    if (rc)
        return rc;
    /* Rebalance and error events are served by consumer_poll. */
    rd_kafka_poll_set_consumer(k->consumer);
    k->in_rkt = tm_xcalloc(cfg->n_input_topics ? cfg->n_input_topics : 1, sizeof *k->in_rkt);
    for (size_t i = 0; i < cfg->n_input_topics; i++) {
        k->in_rkt[i] = rd_kafka_topic_new(k->consumer, cfg->input_topics[i], NULL);
        if (!k->in_rkt[i])
            return tm_seterr(errstr, errlen, TM_ECONFIG, "config: input.topics[%zu]: '%s': %s", i,
                             cfg->input_topics[i], rd_kafka_err2str(rd_kafka_last_error()));
    }
    return 0;
}

/* The producer's configuration: checked now (most refused properties are
 * refused here, before anything connects), the client made once the
 * topics' record limits are known (make_producer). */
static int producer_conf(tm_kafka *k, const char *instance_id, rd_kafka_conf_t **out, char *errstr,
                         size_t errlen)
{
    const tm_config *cfg = k->cfg;
    rd_kafka_conf_t *conf;
    int rc = base_conf(k, &conf, errstr, errlen);
    if (rc)
        return rc;
    char txn_timeout[32];
    int64_t t = cfg->commit_interval_ms > MIN_TXN_TIMEOUT_MS / 10 ? cfg->commit_interval_ms * 10
                                                                  : MIN_TXN_TIMEOUT_MS;
    snprintf(txn_timeout, sizeof txn_timeout, "%lld", (long long)t);
    char *txn_id = xprintf("%s-%s", cfg->application_id, instance_id);
    rc = conf_force(conf, cfg, "transactional.id", txn_id, errstr, errlen);
    if (!rc)
        rc = conf_force(conf, cfg, "enable.idempotence", "true", errstr, errlen);
    if (!rc)
        rc = conf_default(conf, cfg, "linger.ms", "queue.buffering.max.ms", "5", errstr, errlen);
    if (!rc)
        rc = conf_default(conf, cfg, "transaction.timeout.ms", NULL, txn_timeout, errstr, errlen);
    if (!rc)
        rc = conf_default(conf, cfg, "client.id", NULL, k->client_id, errstr, errlen);
    free(txn_id);
    if (rc) {
        rd_kafka_conf_destroy(conf);
        return rc;
    }
    /* The API timeout of commit and abort: as long as the broker would let
     * the transaction live. */
    char value[32];
    size_t sz = sizeof value;
    int64_t ms = 0;
    if (rd_kafka_conf_get(conf, "transaction.timeout.ms", value, &sz) != RD_KAFKA_CONF_OK ||
        tm_parse_i64(value, &ms) != 0 || ms <= 0 || ms > 1000000000)
        ms = MIN_TXN_TIMEOUT_MS;
    k->txn_timeout_ms = (int)ms;
    sz = sizeof value;
    if (rd_kafka_conf_get(conf, "message.max.bytes", value, &sz) != RD_KAFKA_CONF_OK ||
        tm_parse_i64(value, &ms) != 0 || ms <= 0)
        ms = TM_PRODUCER_MAX_BYTES_DEFAULT;
    k->producer_max_bytes = (size_t)ms;
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    *out = conf;
    return 0;
}

/* The changelog reader: a plain consumer that is assigned partitions by
 * hand, never joins the group and never commits. */
static int open_restore(tm_kafka *k, char *errstr, size_t errlen)
{
    rd_kafka_conf_t *conf;
    int rc = base_conf(k, &conf, errstr, errlen);
    if (rc)
        return rc;
    char *group = xprintf("%s-restore", k->cfg->application_id);
    char *client = xprintf("%s-restore", k->client_id);
    struct {
        const char *key, *value;
    } props[] = {
        /* assign() needs a group.id, though nothing is ever committed. */
        {"group.id", group},
        {"isolation.level", "read_committed"},
        {"enable.partition.eof", "true"},
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        /* Start at the log start if `from` was deleted. */
        {"auto.offset.reset", "earliest"},
        {"allow.auto.create.topics", "false"},
        {"client.id", client},
    };
    for (size_t i = 0; i < sizeof props / sizeof props[0] && !rc; i++)
        rc = conf_set(conf, props[i].key, props[i].value, errstr, errlen);
    /* Reaching the end should not wait out a long fetch. */
    if (!rc)
        rc = conf_default(conf, k->cfg, "fetch.wait.max.ms", NULL, "100", errstr, errlen);
    /* A restore reads faster than it applies now and then (a store write):
     * when the prefetched queue is full, fetching pauses for this long,
     * 1 s by default, which left the reader idle most of a large restore. */
    if (!rc)
        rc = conf_default(conf, k->cfg, "fetch.queue.backoff.ms", NULL, "10", errstr, errlen);
    free(group);
    free(client);
    if (rc) {
        rd_kafka_conf_destroy(conf);
        return rc;
    }
    rc = new_client(&k->restore, RD_KAFKA_CONSUMER, conf, "changelog reader", errstr, errlen);
    if (rc)
        return rc;
    rd_kafka_poll_set_consumer(k->restore);
    return 0;
}

/* ---- topics ------------------------------------------------------------- */

/*
 * Looks up topic (rkt, on rk: a consumer, which never creates topics):
 * *partitions is its partition count, 0 if it does not exist; *brokers the
 * cluster's broker count. Transient failures are retried until deadline.
 */
static int topic_partitions(rd_kafka_t *rk, rd_kafka_topic_t *rkt, int64_t deadline,
                            int *partitions, int *brokers, char *errstr, size_t errlen)
{
    *partitions = 0;
    for (;;) {
        const rd_kafka_metadata_t *md = NULL;
        rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, remaining_ms(deadline));
        if (!err && md->topic_cnt == 1) {
            err = md->topics[0].err;
            *partitions = err ? 0 : md->topics[0].partition_cnt;
            *brokers = md->broker_cnt;
        }
        if (md)
            rd_kafka_metadata_destroy(md);
        if (!err || err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
            return 0;
        if (now_ms() >= deadline ||
            (err != RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE && err != RD_KAFKA_RESP_ERR__TRANSPORT &&
             err != RD_KAFKA_RESP_ERR__TIMED_OUT))
            return tm_seterr(errstr, errlen, TM_EKAFKA,
                             "kafka: metadata of topic '%s': %s (check kafka.bootstrap.servers)",
                             rd_kafka_topic_name(rkt), rd_kafka_err2str(err));
        sleep_ms(100);
    }
}

/* An admin request: sends it on rk with opts, its result to q. */
typedef void (*admin_send_fn)(rd_kafka_t *rk, void *request, const rd_kafka_AdminOptions_t *opts,
                              rd_kafka_queue_t *q);

/*
 * Sends one admin request (op) and waits for its result: the event (the
 * caller destroys it, and reads the per-item results), or NULL with a
 * message "kafka: <what>: <why>" when the request as a whole failed or
 * timed out.
 */
static rd_kafka_event_t *admin_call(rd_kafka_t *rk, rd_kafka_admin_op_t op, admin_send_fn send,
                                    void *request, const char *what, char *errstr, size_t errlen)
{
    char msg[256];
    rd_kafka_AdminOptions_t *opts = rd_kafka_AdminOptions_new(rk, op);
    rd_kafka_AdminOptions_set_request_timeout(opts, CREATE_TIMEOUT_MS, msg, sizeof msg);
    /* Only the operations that take one accept it; the others refuse. */
    (void)rd_kafka_AdminOptions_set_operation_timeout(opts, CREATE_TIMEOUT_MS, msg, sizeof msg);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    send(rk, request, opts, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, CREATE_TIMEOUT_MS + 5000);
    if (!ev || rd_kafka_event_error(ev)) {
        tm_seterr(errstr, errlen, TM_EKAFKA, "kafka: %s: %s", what,
                  ev ? rd_kafka_event_error_string(ev) : "timed out");
        if (ev)
            rd_kafka_event_destroy(ev);
        ev = NULL;
    }
    rd_kafka_queue_destroy(q);
    rd_kafka_AdminOptions_destroy(opts);
    return ev;
}

static void send_create_topic(rd_kafka_t *rk, void *request, const rd_kafka_AdminOptions_t *opts,
                              rd_kafka_queue_t *q)
{
    rd_kafka_CreateTopics(rk, (rd_kafka_NewTopic_t **)request, 1, opts, q);
}

static void send_delete_topic(rd_kafka_t *rk, void *request, const rd_kafka_AdminOptions_t *opts,
                              rd_kafka_queue_t *q)
{
    rd_kafka_DeleteTopics(rk, (rd_kafka_DeleteTopic_t **)request, 1, opts, q);
}

static void send_delete_group(rd_kafka_t *rk, void *request, const rd_kafka_AdminOptions_t *opts,
                              rd_kafka_queue_t *q)
{
    rd_kafka_DeleteGroups(rk, (rd_kafka_DeleteGroup_t **)request, 1, opts, q);
}

/* The request is a describe_request: resources and their count. */
typedef struct describe_request {
    rd_kafka_ConfigResource_t **res;
    size_t n;
} describe_request;

static void send_describe_configs(rd_kafka_t *rk, void *request,
                                  const rd_kafka_AdminOptions_t *opts, rd_kafka_queue_t *q)
{
    describe_request *d = request;
    rd_kafka_DescribeConfigs(rk, d->res, d->n, opts, q);
}

/* Creates the compacted changelog topic; "already exists" is success (a
 * peer instance won the race). */
static int create_changelog(tm_kafka *k, int partitions, int replication, char *errstr,
                            size_t errlen)
{
    char msg[512];
    int rc = 0;
    rd_kafka_NewTopic_t *nt =
        rd_kafka_NewTopic_new(k->changelog_topic, partitions, replication, msg, sizeof msg);
    if (!nt)
        return tm_seterr(errstr, errlen, TM_EKAFKA, "kafka: changelog topic '%s': %s",
                         k->changelog_topic, msg);
    /* Compaction keeps the changelog near the size of the state itself
     * (one record per live window and dedup batch, and the checkpoint),
     * which is what a restore from an empty store reads. Kafka never
     * compacts the active segment, and by default rolls it only at 1 GiB
     * or after 7 days, and cleans a log only once half of it is dirty; a
     * changelog rewritten every commit interval would then restore up to
     * twice the state plus a gigabyte. So: segments of 64 MiB or 10
     * minutes, and a cleaning pass once 10% is dirty. Tombstones stay for
     * 7 days (delete.retention.ms): a store that was away for less than
     * that still sees every deletion in the tail it replays. */
    static const char *const changelog_configs[][2] = {
        {"cleanup.policy", "compact"},
        {"segment.bytes", "67108864"},
        {"segment.ms", "600000"},
        {"min.cleanable.dirty.ratio", "0.1"},
        {"delete.retention.ms", "604800000"},
    };
    for (size_t i = 0; i < sizeof changelog_configs / sizeof changelog_configs[0]; i++)
        rd_kafka_NewTopic_set_config(nt, changelog_configs[i][0], changelog_configs[i][1]);
    char what[320];
    snprintf(what, sizeof what, "creating changelog topic '%s'", k->changelog_topic);
    rd_kafka_event_t *ev = admin_call(k->consumer, RD_KAFKA_ADMIN_OP_CREATETOPICS,
                                      send_create_topic, &nt, what, errstr, errlen);
    if (!ev) {
        rc = TM_EKAFKA;
    } else {
        size_t cnt = 0;
        const rd_kafka_topic_result_t **res =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &cnt);
        rd_kafka_resp_err_t err =
            cnt == 1 ? rd_kafka_topic_result_error(res[0]) : RD_KAFKA_RESP_ERR__BAD_MSG;
        if (err && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
            rc = tm_seterr(errstr, errlen, TM_EKAFKA, "kafka: %s: %s", what,
                           cnt == 1 && rd_kafka_topic_result_error_string(res[0])
                               ? rd_kafka_topic_result_error_string(res[0])
                               : rd_kafka_err2str(err));
        else
            TM_LOG(TM_LOG_INFO, "kafka",
                   "created changelog topic %s (%d partitions, replication %d, compacted: "
                   "segments of 64 MiB or 10 min, cleaned at 10%% dirty)",
                   k->changelog_topic, partitions, replication);
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_NewTopic_destroy(nt);
    return rc;
}

/*
 * Makes sure the changelog topic exists with a partition for every input
 * partition: creates it if missing (partitions = the most any input topic
 * has, replication min(3, brokers)), refuses one that is too small.
 */
static int ensure_changelog(tm_kafka *k, char *errstr, size_t errlen)
{
    const tm_config *cfg = k->cfg;
    int64_t deadline = now_ms() + OP_TIMEOUT_MS;
    int max_parts = 0, brokers = 1, parts = 0, rc;

    for (size_t i = 0; i < cfg->n_input_topics; i++) {
        rc =
            topic_partitions(k->consumer, k->in_rkt[i], deadline, &parts, &brokers, errstr, errlen);
        if (rc)
            return rc;
        if (parts == 0)
            return tm_seterr(errstr, errlen, TM_EKAFKA, "kafka: input topic '%s' does not exist",
                             cfg->input_topics[i]);
        if (i > 0 && parts != max_parts)
            TM_LOG(TM_LOG_WARN, "kafka",
                   "input topics are not co-partitioned ('%s' has %d partitions, '%s' %d): a "
                   "task sees only the topics that have its partition",
                   cfg->input_topics[i], parts, cfg->input_topics[0], max_parts);
        if (parts > max_parts)
            max_parts = parts;
    }

    /* A consumer-side handle, only for the metadata queries. */
    rd_kafka_topic_t *meta = rd_kafka_topic_new(k->consumer, k->changelog_topic, NULL);
    if (!meta)
        return tm_seterr(errstr, errlen, TM_ECONFIG, "config: changelog topic '%s': %s",
                         k->changelog_topic, rd_kafka_err2str(rd_kafka_last_error()));
    rc = topic_partitions(k->consumer, meta, deadline, &parts, &brokers, errstr, errlen);
    if (!rc && parts == 0) {
        rc = create_changelog(k, max_parts, brokers < 3 ? brokers : 3, errstr, errlen);
        /* Metadata lags creation: wait until the topic shows. */
        while (!rc && parts == 0 && now_ms() < deadline) {
            rc = topic_partitions(k->consumer, meta, deadline, &parts, &brokers, errstr, errlen);
            if (!rc && parts == 0)
                sleep_ms(100);
        }
        if (!rc && parts == 0)
            rc = tm_seterr(errstr, errlen, TM_EKAFKA,
                           "kafka: changelog topic '%s' not visible after creating it",
                           k->changelog_topic);
    }
    rd_kafka_topic_destroy(meta);
    if (rc)
        return rc;
    if (parts < max_parts)
        return tm_seterr(errstr, errlen, TM_EKAFKA,
                         "kafka: changelog topic '%s' has %d partitions, fewer than the %d of the "
                         "input topics: add partitions to it",
                         k->changelog_topic, parts, max_parts);
    k->n_changelog = parts;
    k->changelog_pending = tm_xmalloc((size_t)parts * sizeof *k->changelog_pending);
    k->changelog_committed = tm_xmalloc((size_t)parts * sizeof *k->changelog_committed);
    for (int i = 0; i < parts; i++)
        k->changelog_pending[i] = k->changelog_committed[i] = -1;
    return 0;
}

/* ---- record limits ------------------------------------------------------ */

/* Kafka's default max.message.bytes, assumed for a topic whose configs
 * cannot be read (DescribeConfigs denied, or not supported). */
#define KAFKA_DEFAULT_MAX_MESSAGE_BYTES 1048588

/* The topics tidemark writes to: results, late, dead letters, changelog. */
static size_t out_topics(const tm_kafka *k, const char *names[4])
{
    names[0] = k->cfg->output_topic;
    names[1] = k->cfg->late_topic;
    names[2] = k->cfg->dlq_topic;
    names[3] = k->changelog_topic;
    return 4;
}

/* The max.message.bytes of one described topic, or 0 when it has none. */
static size_t described_max_bytes(const rd_kafka_ConfigResource_t *res)
{
    size_t n = 0;
    const rd_kafka_ConfigEntry_t **entries = rd_kafka_ConfigResource_configs(res, &n);
    for (size_t i = 0; i < n; i++) {
        const char *v = rd_kafka_ConfigEntry_value(entries[i]);
        int64_t bytes;
        if (strcmp(rd_kafka_ConfigEntry_name(entries[i]), "max.message.bytes") == 0 && v &&
            tm_parse_i64(v, &bytes) == 0 && bytes > 0)
            return (size_t)bytes;
    }
    return 0;
}

/*
 * Reads max.message.bytes of every topic tidemark writes to
 * (DescribeConfigs). A topic whose configs cannot be read is assumed to
 * have Kafka's default, with a warning: the service still starts where the
 * ACLs deny DescribeConfigs.
 */
static void describe_limits(tm_kafka *k, const char *const *names, size_t n, size_t *topic_max)
{
    char failed[256] = "";
    describe_request req = {tm_xcalloc(n, sizeof *req.res), n};
    for (size_t i = 0; i < n; i++) {
        req.res[i] = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, names[i]);
        topic_max[i] = 0;
    }
    rd_kafka_event_t *ev =
        admin_call(k->consumer, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, send_describe_configs, &req,
                   "DescribeConfigs", failed, sizeof failed);
    size_t cnt = 0;
    const rd_kafka_ConfigResource_t **got =
        ev ? rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev),
                                                       &cnt)
           : NULL;
    for (size_t i = 0; i < n; i++) {
        const char *why = ev ? "not in the answer" : failed;
        for (size_t j = 0; j < cnt; j++) {
            if (strcmp(rd_kafka_ConfigResource_name(got[j]), names[i]) != 0)
                continue;
            why = rd_kafka_ConfigResource_error(got[j])
                      ? rd_kafka_ConfigResource_error_string(got[j])
                      : NULL;
            if (!why)
                topic_max[i] = described_max_bytes(got[j]);
            if (!why && topic_max[i] == 0)
                why = "no max.message.bytes in its configs";
        }
        if (why) {
            TM_LOG(TM_LOG_WARN, "kafka",
                   "cannot read max.message.bytes of topic %s (%s): assuming Kafka's default %d",
                   names[i], why, KAFKA_DEFAULT_MAX_MESSAGE_BYTES);
            topic_max[i] = KAFKA_DEFAULT_MAX_MESSAGE_BYTES;
        }
    }
    if (ev)
        rd_kafka_event_destroy(ev);
    for (size_t i = 0; i < n; i++)
        rd_kafka_ConfigResource_destroy(req.res[i]);
    free(req.res);
}

/* The largest record tidemark may write to each topic it writes to, and
 * batch.size in pconf lowered to the smallest topic limit (*lowered: a
 * broker refuses a whole batch larger than the topic's max.message.bytes,
 * and librdkafka does not split one). Refuses a topic too small for the
 * records tidemark must be able to write (needed[i]). */
static int set_record_limits(tm_kafka *k, rd_kafka_conf_t *pconf, const size_t *needed,
                             bool *lowered, char *errstr, size_t errlen)
{
    const char *names[4];
    size_t n = out_topics(k, names), topic_max[4];
    describe_limits(k, names, n, topic_max);
    k->limits = tm_xcalloc(n, sizeof *k->limits);
    k->n_limits = n;
    size_t smallest = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        size_t limit = topic_max[i] < k->producer_max_bytes ? topic_max[i] : k->producer_max_bytes;
        k->limits[i] = (out_limit){names[i], limit};
        if (topic_max[i] < smallest)
            smallest = topic_max[i];
        if (limit < needed[i])
            return tm_seterr(errstr, errlen, TM_ECONFIG,
                             "config: topic '%s' takes records of at most %zu bytes (its "
                             "max.message.bytes %zu, the producer's message.max.bytes %zu); "
                             "tidemark needs %zu for the largest record it may write there: "
                             "raise the topic's max.message.bytes",
                             names[i], limit, topic_max[i], k->producer_max_bytes, needed[i]);
    }
    char batch[32];
    size_t sz = sizeof batch;
    int64_t current = 0;
    if (rd_kafka_conf_get(pconf, "batch.size", batch, &sz) == RD_KAFKA_CONF_OK &&
        tm_parse_i64(batch, &current) == 0 && current > 0 && (size_t)current > smallest) {
        snprintf(batch, sizeof batch, "%zu", smallest);
        TM_LOG(TM_LOG_INFO, "kafka", "batch.size lowered to %s: the smallest max.message.bytes",
               batch);
        *lowered = true;
        return conf_set(pconf, "batch.size", batch, errstr, errlen);
    }
    return 0;
}

size_t tm_kafka_record_limit(const tm_kafka *k, const char *topic)
{
    for (size_t i = 0; i < k->n_limits; i++)
        if (strcmp(k->limits[i].topic, topic) == 0)
            return k->limits[i].max_bytes;
    return k->producer_max_bytes;
}

size_t tm_kafka_changelog_record_limit(const tm_kafka *k)
{
    return tm_kafka_record_limit(k, k->changelog_topic);
}

/* ---- open and close ------------------------------------------------------ */

/* init_transactions fences the previous incarnation of our
 * transactional.id (aborting what it left open). A retriable failure (a
 * coordinator not yet available) is resumed until the deadline. */
static int init_transactions(tm_kafka *k, char *errstr, size_t errlen)
{
    int64_t deadline = now_ms() + OP_TIMEOUT_MS;
    int64_t backoff = 100;
    for (;;) {
        rd_kafka_error_t *error = rd_kafka_init_transactions(k->producer, remaining_ms(deadline));
        if (!error)
            return 0;
        bool retry = rd_kafka_error_is_retriable(error) && !rd_kafka_error_is_fatal(error) &&
                     now_ms() + backoff < deadline;
        if (!retry) {
            int rc = tm_seterr(errstr, errlen, TM_EKAFKA, "kafka: init_transactions: %s%s",
                               rd_kafka_error_string(error),
                               rd_kafka_error_is_fatal(error) ? " (fatal)" : "");
            rd_kafka_error_destroy(error);
            return rc;
        }
        TM_LOG(TM_LOG_WARN, "kafka", "init_transactions: %s: retrying",
               rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
        sleep_ms(backoff);
        backoff = backoff * 2 > 1000 ? 1000 : backoff * 2;
    }
}

static bool has_bootstrap(const tm_config *cfg)
{
    return tm_config_kafka(cfg, "bootstrap.servers") ||
           tm_config_kafka(cfg, "metadata.broker.list");
}

static int no_bootstrap(char *errstr, size_t errlen)
{
    return tm_seterr(errstr, errlen, TM_ECONFIG,
                     "config: kafka.bootstrap.servers is required (host:port,...)");
}

int tm_kafka_open(tm_kafka **out, const tm_config *cfg, const char *instance_id,
                  const tm_kafka_rebalance *rb, const tm_kafka_needs *needs, char *errstr,
                  size_t errlen)
{
    assert(out && cfg && instance_id);
    if (!has_bootstrap(cfg))
        return no_bootstrap(errstr, errlen);
    tm_kafka *k = tm_xcalloc(1, sizeof *k);
    k->cfg = cfg;
    if (rb) {
        assert(rb->assigned && rb->revoked);
        k->rb = *rb;
        k->has_rb = true;
    }
    k->client_id = xprintf("%s-%s", cfg->application_id, instance_id);
    k->changelog_topic = xprintf("%s-changelog", cfg->application_id);
    k->reset_earliest = true;

    /* The producer first: most refused properties are refused by it (acks,
     * idempotence), before the consumer connects anywhere. A copy of its
     * configuration remakes it (before it has connected) when a topic's
     * record limit lowers its batch size. */
    rd_kafka_conf_t *pconf = NULL, *spare = NULL;
    int rc = producer_conf(k, instance_id, &pconf, errstr, errlen);
    if (!rc) {
        spare = rd_kafka_conf_dup(pconf);
        rc = new_client(&k->producer, RD_KAFKA_PRODUCER, pconf, "producer", errstr, errlen);
    }
    if (!rc)
        rc = open_consumer(k, errstr, errlen);
    if (!rc)
        rc = ensure_changelog(k, errstr, errlen);
    bool remake = false;
    if (!rc) {
        const tm_kafka_needs none = {0};
        const tm_kafka_needs *nd = needs ? needs : &none;
        size_t needed[4] = {nd->output_bytes, nd->side_bytes, nd->side_bytes, nd->changelog_bytes};
        rc = set_record_limits(k, spare, needed, &remake, errstr, errlen);
    }
    if (!rc && remake) {
        rd_kafka_destroy(k->producer);
        k->producer = NULL;
        rc = new_client(&k->producer, RD_KAFKA_PRODUCER, spare, "producer", errstr, errlen);
        spare = NULL; /* consumed */
    }
    if (spare)
        rd_kafka_conf_destroy(spare);
    if (!rc) {
        k->changelog_rkt = rd_kafka_topic_new(k->producer, k->changelog_topic, NULL);
        if (!k->changelog_rkt)
            rc = tm_seterr(errstr, errlen, TM_EKAFKA, "kafka: changelog topic '%s': %s",
                           k->changelog_topic, rd_kafka_err2str(rd_kafka_last_error()));
    }
    if (!rc)
        rc = init_transactions(k, errstr, errlen);
    if (rc) {
        tm_kafka_close(k);
        return rc;
    }
    TM_LOG(TM_LOG_INFO, "kafka", "ready: transactional.id %s, changelog %s (%d partitions)",
           k->client_id, k->changelog_topic, (int)k->n_changelog);
    *out = k;
    return 0;
}

int tm_kafka_open_admin(tm_kafka **out, const tm_config *cfg, char *errstr, size_t errlen)
{
    assert(out && cfg);
    if (!has_bootstrap(cfg))
        return no_bootstrap(errstr, errlen);
    tm_kafka *k = tm_xcalloc(1, sizeof *k);
    k->cfg = cfg;
    /* Its own client and group ids: never mistaken for an instance's. */
    k->client_id = xprintf("%s-admin", cfg->application_id);
    k->changelog_topic = xprintf("%s-changelog", cfg->application_id);
    int rc = open_restore(k, errstr, errlen);
    if (rc) {
        tm_kafka_close(k);
        return rc;
    }
    *out = k;
    return 0;
}

int tm_kafka_topic_partitions(tm_kafka *k, const char *topic, int *partitions, char *errstr,
                              size_t errlen)
{
    rd_kafka_topic_t *meta = rd_kafka_topic_new(k->restore, topic, NULL);
    if (!meta)
        return tm_seterr(errstr, errlen, TM_ECONFIG, "config: topic '%s': %s", topic,
                         rd_kafka_err2str(rd_kafka_last_error()));
    int brokers = 0;
    int rc = topic_partitions(k->restore, meta, now_ms() + OP_TIMEOUT_MS, partitions, &brokers,
                              errstr, errlen);
    rd_kafka_topic_destroy(meta);
    return rc;
}

int tm_kafka_open_changelog_reader(tm_kafka **out, const tm_config *cfg, char *errstr,
                                   size_t errlen)
{
    tm_kafka *k;
    int rc = tm_kafka_open_admin(&k, cfg, errstr, errlen);
    if (rc)
        return rc;
    int parts = 0;
    rc = tm_kafka_topic_partitions(k, k->changelog_topic, &parts, errstr, errlen);
    if (!rc && parts == 0)
        rc = tm_seterr(errstr, errlen, TM_EKAFKA,
                       "kafka: changelog topic '%s' does not exist (tidemark run creates it)",
                       k->changelog_topic);
    k->n_changelog = parts;
    if (rc) {
        tm_kafka_close(k);
        return rc;
    }
    *out = k;
    return 0;
}

int tm_kafka_delete_topic(tm_kafka *k, const char *topic, char *errstr, size_t errlen)
{
    char what[320];
    snprintf(what, sizeof what, "deleting topic '%s'", topic);
    rd_kafka_DeleteTopic_t *dt = rd_kafka_DeleteTopic_new(topic);
    rd_kafka_event_t *ev = admin_call(k->restore, RD_KAFKA_ADMIN_OP_DELETETOPICS, send_delete_topic,
                                      &dt, what, errstr, errlen);
    int rc = ev ? 0 : TM_EKAFKA;
    if (ev) {
        size_t cnt = 0;
        const rd_kafka_topic_result_t **res =
            rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &cnt);
        rd_kafka_resp_err_t err =
            cnt == 1 ? rd_kafka_topic_result_error(res[0]) : RD_KAFKA_RESP_ERR__BAD_MSG;
        if (err && err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
            rc = tm_seterr(errstr, errlen, TM_EKAFKA, "kafka: %s: %s", what, rd_kafka_err2str(err));
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_DeleteTopic_destroy(dt);
    return rc;
}

int tm_kafka_delete_group(tm_kafka *k, const char *group, bool *found, bool *has_members,
                          char *errstr, size_t errlen)
{
    char what[320];
    snprintf(what, sizeof what, "deleting consumer group '%s'", group);
    *found = false;
    *has_members = false;
    rd_kafka_DeleteGroup_t *dg = rd_kafka_DeleteGroup_new(group);
    rd_kafka_event_t *ev = admin_call(k->restore, RD_KAFKA_ADMIN_OP_DELETEGROUPS, send_delete_group,
                                      &dg, what, errstr, errlen);
    int rc = ev ? 0 : TM_EKAFKA;
    if (ev) {
        size_t cnt = 0;
        const rd_kafka_group_result_t **res =
            rd_kafka_DeleteGroups_result_groups(rd_kafka_event_DeleteGroups_result(ev), &cnt);
        const rd_kafka_error_t *error = cnt == 1 ? rd_kafka_group_result_error(res[0]) : NULL;
        rd_kafka_resp_err_t err = cnt != 1 ? RD_KAFKA_RESP_ERR__BAD_MSG
                                  : error  ? rd_kafka_error_code(error)
                                           : RD_KAFKA_RESP_ERR_NO_ERROR;
        *found = err == RD_KAFKA_RESP_ERR_NO_ERROR;
        *has_members = err == RD_KAFKA_RESP_ERR_NON_EMPTY_GROUP;
        if (*has_members)
            rc = tm_seterr(errstr, errlen, TM_EKAFKA,
                           "kafka: consumer group '%s' has active members: stop every instance "
                           "of the application first",
                           group);
        else if (err && err != RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND)
            rc = tm_seterr(errstr, errlen, TM_EKAFKA, "kafka: %s: %s", what,
                           error ? rd_kafka_error_string(error) : rd_kafka_err2str(err));
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_DeleteGroup_destroy(dg);
    return rc;
}

int32_t tm_kafka_changelog_partitions(const tm_kafka *k)
{
    return k->n_changelog;
}

void tm_kafka_close(tm_kafka *k)
{
    if (!k)
        return;
    tm_kafka_release_batch(k);
    k->closing = true;
    if (k->rb_parts) {
        /* The group waits for an answer to the event kept for the next
         * poll: there is none; hold nothing. */
        rd_kafka_assign(k->consumer, NULL);
        rd_kafka_topic_partition_list_destroy(k->rb_parts);
    }
    if (k->consumer) {
        /* Leaves the group; the revoke it triggers only unassigns. */
        rd_kafka_consumer_close(k->consumer);
        for (size_t i = 0; k->in_rkt && i < k->cfg->n_input_topics; i++)
            if (k->in_rkt[i])
                rd_kafka_topic_destroy(k->in_rkt[i]);
        rd_kafka_destroy(k->consumer);
    }
    if (k->restore) {
        rd_kafka_consumer_close(k->restore);
        rd_kafka_destroy(k->restore);
    }
    if (k->producer) {
        char why[256];
        if (k->txn_open && !rd_kafka_fatal_error(k->producer, why, sizeof why)) {
            rd_kafka_error_t *error =
                rd_kafka_abort_transaction(k->producer, CLOSE_ABORT_TIMEOUT_MS);
            if (error) {
                TM_LOG(TM_LOG_WARN, "kafka", "abort at close: %s", rd_kafka_error_string(error));
                rd_kafka_error_destroy(error);
            }
        }
        for (size_t i = 0; i < k->n_outs; i++) {
            rd_kafka_topic_destroy(k->outs[i].rkt);
            free(k->outs[i].name);
        }
        if (k->changelog_rkt)
            rd_kafka_topic_destroy(k->changelog_rkt);
        rd_kafka_destroy(k->producer);
    }
    free(k->outs);
    free(k->owned);
    free(k->limits);
    free(k->in_rkt);
    free(k->batch);
    free(k->changelog_pending);
    free(k->changelog_committed);
    free(k->changelog_topic);
    free(k->client_id);
    free(k);
}

int tm_kafka_subscribe(tm_kafka *k, char *errstr, size_t errlen)
{
    const tm_config *cfg = k->cfg;
    rd_kafka_topic_partition_list_t *topics =
        rd_kafka_topic_partition_list_new((int)cfg->n_input_topics);
    for (size_t i = 0; i < cfg->n_input_topics; i++)
        rd_kafka_topic_partition_list_add(topics, cfg->input_topics[i], RD_KAFKA_PARTITION_UA);
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
        set_fatal(k, "kafka: producer: %s%s", why, fenced_hint(err));
    if (!k->fatal && (err = rd_kafka_fatal_error(k->consumer, why, sizeof why)))
        set_fatal(k, "kafka: consumer: %s%s", why, fenced_hint(err));
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
        set_fatal(k, "kafka: consumer: %s", rd_kafka_message_errstr(m));
        return;
    default:
        TM_LOG(TM_LOG_WARN, "kafka", "consumer: %s%s%s [%d]: %s", rd_kafka_err2name(m->err),
               m->rkt ? " " : "", m->rkt ? rd_kafka_topic_name(m->rkt) : "", (int)m->partition,
               rd_kafka_message_errstr(m));
    }
}

/* Index of the input topic of rkt: pointer compare against the handles
 * held since open, the name as a fallback. */
static int topic_index_of(const tm_kafka *k, const rd_kafka_topic_t *rkt)
{
    for (size_t i = 0; i < k->cfg->n_input_topics; i++)
        if (k->in_rkt[i] == rkt)
            return (int)i;
    return tm_config_topic_index(k->cfg, rd_kafka_topic_name(rkt));
}

static bool owns(const tm_kafka *k, int32_t task)
{
    return k->n_owned > 0 && bsearch(&task, k->owned, k->n_owned, sizeof task, cmp_i32);
}

static bool fill_record(const tm_kafka *k, tm_record *r, const rd_kafka_message_t *m)
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
    r->topic = k->cfg->input_topics[ti];
    r->topic_index = (size_t)ti;
    r->partition = m->partition;
    r->offset = m->offset;
    r->ts = rd_kafka_message_timestamp(m, &tstype); /* -1 if the record has none */
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
    int64_t deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
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
    assert(topic_index < k->cfg->n_input_topics);
    rd_kafka_topic_partition_list_t *one = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(one, k->cfg->input_topics[topic_index], task)->offset =
        offset;
    /* librdkafka cannot seek to OFFSET_STORED: resolve it first. */
    int rc = offset == TM_KAFKA_OFFSET_STORED ? resolve_stored(k, one, errstr, errlen) : 0;
    if (!rc) {
        rd_kafka_error_t *error = rd_kafka_seek_partitions(k->consumer, one, OP_TIMEOUT_MS);
        if (error) {
            rc = tm_seterr(errstr, errlen, TM_EKAFKA, "kafka: seek %s [%d]: %s",
                           k->cfg->input_topics[topic_index], (int)task,
                           rd_kafka_error_string(error));
            rd_kafka_error_destroy(error);
        } else if (one->elems[0].err) {
            rc = tm_seterr(errstr, errlen, TM_EKAFKA, "kafka: seek %s [%d]: %s",
                           k->cfg->input_topics[topic_index], (int)task,
                           rd_kafka_err2str(one->elems[0].err));
        }
    }
    rd_kafka_topic_partition_list_destroy(one);
    return rc;
}

/* ---- the transaction ------------------------------------------------------ */

/*
 * Classifies a transactional API error as examples/transactions.c does:
 * fatal, then abortable, then retriable. A timed-out commit or abort is
 * fatal (timeout_fatal): without KIP-890 a request of this transaction
 * still in flight could land in the next one. Takes the error.
 */
static tm_kafka_status txn_status(tm_kafka *k, rd_kafka_error_t *error, const char *what,
                                  bool timeout_fatal, char *errstr, size_t errlen)
{
    if (!error)
        return TM_KAFKA_OK;
    rd_kafka_resp_err_t code = rd_kafka_error_code(error);
    bool timed_out =
        code == RD_KAFKA_RESP_ERR__TIMED_OUT || code == RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE;
    tm_kafka_status st;
    if (rd_kafka_error_is_fatal(error))
        st = TM_KAFKA_FATAL;
    else if (rd_kafka_error_txn_requires_abort(error))
        st = TM_KAFKA_ABORTABLE;
    else if (timeout_fatal && timed_out)
        st = TM_KAFKA_FATAL;
    else if (rd_kafka_error_is_retriable(error))
        st = TM_KAFKA_RETRIABLE;
    else
        st = TM_KAFKA_FATAL;
    bool dr = st == TM_KAFKA_ABORTABLE && k->dr_error[0];
    tm_seterr(errstr, errlen, st == TM_KAFKA_FATAL ? TM_EFATAL : TM_EKAFKA, "kafka: %s: %s%s%s%s%s",
              what, rd_kafka_error_string(error), dr ? " (first failed delivery: " : "",
              dr ? k->dr_error : "", dr ? ")" : "", st == TM_KAFKA_FATAL ? fenced_hint(code) : "");
    if (st == TM_KAFKA_FATAL)
        set_fatal(k, "kafka: %s: %s%s", what, rd_kafka_error_string(error), fenced_hint(code));
    rd_kafka_error_destroy(error);
    return st;
}

tm_kafka_status tm_kafka_begin(tm_kafka *k, char *errstr, size_t errlen)
{
    tm_kafka_status st = txn_status(k, rd_kafka_begin_transaction(k->producer), "begin_transaction",
                                    false, errstr, errlen);
    if (st == TM_KAFKA_OK) {
        k->txn_open = true;
        k->dr_error[0] = '\0';
    }
    return st;
}

/* The producer handle of topic, made on first use. */
static rd_kafka_topic_t *out_topic_of(tm_kafka *k, const char *topic)
{
    for (size_t i = 0; i < k->n_outs; i++)
        if (strcmp(k->outs[i].name, topic) == 0)
            return k->outs[i].rkt;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(k->producer, topic, NULL);
    if (!rkt)
        return NULL;
    k->outs = tm_xrealloc(k->outs, (k->n_outs + 1) * sizeof *k->outs);
    k->outs[k->n_outs].name = tm_xstrdup(topic);
    k->outs[k->n_outs++].rkt = rkt;
    return rkt;
}

/* Classifies a producev error (a rd_kafka_resp_err_t, not an
 * rd_kafka_error_t). */
static tm_kafka_status produce_status(tm_kafka *k, rd_kafka_resp_err_t err, const char *topic,
                                      int32_t partition, char *errstr, size_t errlen)
{
    char why[512];
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        rd_kafka_resp_err_t fatal_err = rd_kafka_fatal_error(k->producer, why, sizeof why);
        set_fatal(k, "kafka: produce to %s [%d]: %s%s", topic, (int)partition, why,
                  fenced_hint(fatal_err));
        tm_seterr(errstr, errlen, TM_EFATAL, "%s", k->fatal_msg);
        return TM_KAFKA_FATAL;
    }
    /* __STATE inside a transaction: it failed and must be aborted. */
    tm_kafka_status st =
        err == RD_KAFKA_RESP_ERR__STATE && k->txn_open ? TM_KAFKA_ABORTABLE : TM_KAFKA_FATAL;
    tm_seterr(errstr, errlen, st == TM_KAFKA_FATAL ? TM_EFATAL : TM_EKAFKA,
              "kafka: produce to %s [%d]: %s%s", topic, (int)partition, rd_kafka_err2str(err),
              fenced_hint(err));
    if (st == TM_KAFKA_FATAL)
        set_fatal(k, "kafka: produce to %s [%d]: %s%s", topic, (int)partition,
                  rd_kafka_err2str(err), fenced_hint(err));
    return st;
}

static tm_kafka_status produce_to(tm_kafka *k, rd_kafka_topic_t *rkt, int32_t partition,
                                  const void *key, size_t key_len, const void *value,
                                  size_t value_len, const tm_header *headers, size_t n_headers,
                                  void *opaque, char *errstr, size_t errlen)
{
    rd_kafka_headers_t *hdrs = NULL;
    if (n_headers > 0) {
        hdrs = rd_kafka_headers_new(n_headers);
        for (size_t i = 0; i < n_headers; i++)
            rd_kafka_header_add(hdrs, headers[i].name, -1, headers[i].value,
                                headers[i].value ? -1 : 0);
    }
    rd_kafka_resp_err_t err;
    for (;;) {
        err = rd_kafka_producev(k->producer, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(partition),
                                RD_KAFKA_V_KEY(key, key_len),
                                RD_KAFKA_V_VALUE((void *)value, value_len),
                                RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            break;
        /* Serve delivery reports until there is room. */
        rd_kafka_poll(k->producer, QUEUE_FULL_POLL_MS);
    }
    if (!err)
        return TM_KAFKA_OK; /* librdkafka owns hdrs now */
    if (hdrs)
        rd_kafka_headers_destroy(hdrs);
    return produce_status(k, err, rd_kafka_topic_name(rkt), partition, errstr, errlen);
}

tm_kafka_status tm_kafka_produce(tm_kafka *k, const char *topic, int32_t partition, const void *key,
                                 size_t key_len, const void *value, size_t value_len,
                                 const tm_header *headers, size_t n_headers, char *errstr,
                                 size_t errlen)
{
    rd_kafka_topic_t *rkt = out_topic_of(k, topic);
    if (!rkt) {
        set_fatal(k, "kafka: topic '%s': %s", topic, rd_kafka_err2str(rd_kafka_last_error()));
        tm_seterr(errstr, errlen, TM_EFATAL, "%s", k->fatal_msg);
        return TM_KAFKA_FATAL;
    }
    return produce_to(k, rkt, partition, key, key_len, value, value_len, headers, n_headers, NULL,
                      errstr, errlen);
}

tm_kafka_status tm_kafka_produce_changelog(tm_kafka *k, int32_t task, const void *key,
                                           size_t key_len, const void *value, size_t value_len,
                                           char *errstr, size_t errlen)
{
    if (task < 0 || task >= k->n_changelog) {
        set_fatal(k, "kafka: task %d has no changelog partition (%s has %d)", (int)task,
                  k->changelog_topic, (int)k->n_changelog);
        tm_seterr(errstr, errlen, TM_EFATAL, "%s", k->fatal_msg);
        return TM_KAFKA_FATAL;
    }
    return produce_to(k, k->changelog_rkt, task, key, key_len, value, value_len, NULL, 0,
                      &changelog_tag, errstr, errlen);
}

tm_kafka_status tm_kafka_send_offsets(tm_kafka *k, const int32_t *tasks, size_t n,
                                      const int64_t *next_offsets, char *errstr, size_t errlen)
{
    const tm_config *cfg = k->cfg;
    size_t nt = cfg->n_input_topics;
    rd_kafka_topic_partition_list_t *offsets = rd_kafka_topic_partition_list_new((int)(n * nt));
    for (size_t j = 0; j < n; j++)
        for (size_t i = 0; i < nt; i++)
            if (next_offsets[j * nt + i] >= 0) /* < 0: nothing consumed yet */
                rd_kafka_topic_partition_list_add(offsets, cfg->input_topics[i], tasks[j])->offset =
                    next_offsets[j * nt + i];
    tm_kafka_status st = TM_KAFKA_OK;
    if (offsets->cnt > 0) {
        /* The member's generation: a zombie's offsets are refused (KIP-447). */
        rd_kafka_consumer_group_metadata_t *md = rd_kafka_consumer_group_metadata(k->consumer);
        rd_kafka_error_t *error =
            rd_kafka_send_offsets_to_transaction(k->producer, offsets, md, OP_TIMEOUT_MS);
        rd_kafka_consumer_group_metadata_destroy(md);
        st = txn_status(k, error, "send_offsets_to_transaction", false, errstr, errlen);
    }
    rd_kafka_topic_partition_list_destroy(offsets);
    return st;
}

tm_kafka_status tm_kafka_commit(tm_kafka *k, char *errstr, size_t errlen)
{
    rd_kafka_error_t *error = rd_kafka_commit_transaction(k->producer, k->txn_timeout_ms);
    /* The commit's flush served the delivery reports; serve any left. */
    rd_kafka_poll(k->producer, 0);
    tm_kafka_status st = txn_status(k, error, "commit_transaction", true, errstr, errlen);
    if (st == TM_KAFKA_OK) {
        k->txn_open = false;
        memcpy(k->changelog_committed, k->changelog_pending,
               (size_t)k->n_changelog * sizeof *k->changelog_pending);
    }
    return st;
}

tm_kafka_status tm_kafka_abort(tm_kafka *k, char *errstr, size_t errlen)
{
    rd_kafka_error_t *error = rd_kafka_abort_transaction(k->producer, k->txn_timeout_ms);
    rd_kafka_poll(k->producer, 0);
    /* Nothing delivered in this transaction will ever be committed. */
    memcpy(k->changelog_pending, k->changelog_committed,
           (size_t)k->n_changelog * sizeof *k->changelog_pending);
    tm_kafka_status st = txn_status(k, error, "abort_transaction", true, errstr, errlen);
    if (st == TM_KAFKA_OK) {
        k->txn_open = false;
        k->dr_error[0] = '\0';
    }
    return st;
}

int64_t tm_kafka_changelog_end(const tm_kafka *k, int32_t task)
{
    if (task < 0 || task >= k->n_changelog)
        return -1;
    return k->changelog_committed[task];
}

int64_t tm_kafka_consumer_lag(tm_kafka *k, size_t topic_index, int32_t partition)
{
    const char *topic = k->cfg->input_topics[topic_index];
    int64_t low, high;
    /* Cached from fetch responses: no request, cheap enough per scrape. */
    if (rd_kafka_get_watermark_offsets(k->consumer, topic, partition, &low, &high) !=
            RD_KAFKA_RESP_ERR_NO_ERROR ||
        high < 0)
        return -1;
    rd_kafka_topic_partition_list_t *pos = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(pos, topic, partition);
    int64_t lag = -1;
    if (rd_kafka_position(k->consumer, pos) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        pos->elems[0].offset >= 0)
        lag = high > pos->elems[0].offset ? high - pos->elems[0].offset : 0;
    rd_kafka_topic_partition_list_destroy(pos);
    return lag;
}

/* ---- restore ------------------------------------------------------------ */

static bool stopped(tm_stop_flag *stop)
{
    return stop && *stop;
}

static int ensure_restore(tm_kafka *k, char *errstr, size_t errlen)
{
    return k->restore ? 0 : open_restore(k, errstr, errlen);
}

/* index[p]: the position in parts of changelog partition p, -1 for none;
 * the caller frees it. A message finds its part in constant time, however
 * many partitions one read spans. */
static ssize_t *part_index(const tm_kafka *k, const tm_changelog_part *parts, size_t n)
{
    ssize_t *index = tm_xmalloc((size_t)(k->n_changelog > 0 ? k->n_changelog : 1) * sizeof *index);
    for (int32_t p = 0; p < k->n_changelog; p++)
        index[p] = -1;
    for (size_t i = 0; i < n; i++) {
        assert(parts[i].task >= 0 && parts[i].task < k->n_changelog && index[parts[i].task] < 0);
        index[parts[i].task] = (ssize_t)i;
    }
    return index;
}

static int check_tasks(const tm_kafka *k, const tm_changelog_part *parts, size_t n, char *errstr,
                       size_t errlen)
{
    for (size_t i = 0; i < n; i++)
        if (parts[i].task < 0 || parts[i].task >= k->n_changelog)
            return tm_seterr(errstr, errlen, TM_EINVAL,
                             "kafka: task %d has no changelog partition (%s has %d)",
                             (int)parts[i].task, k->changelog_topic, (int)k->n_changelog);
    return 0;
}

/* The result of one ListOffsets event into parts (start or end, by
 * `earliest`). Returns 0, or a negative tm_err with the first error. */
static int take_offsets(tm_kafka *k, rd_kafka_event_t *ev, tm_changelog_part *parts, size_t n,
                        const ssize_t *index, bool earliest, char *errstr, size_t errlen)
{
    if (rd_kafka_event_error(ev))
        return tm_seterr(errstr, errlen, TM_EKAFKA, "kafka: changelog %s: list offsets: %s",
                         k->changelog_topic, rd_kafka_event_error_string(ev));
    size_t cnt = 0;
    const rd_kafka_ListOffsetsResultInfo_t **infos =
        rd_kafka_ListOffsets_result_infos(rd_kafka_event_ListOffsets_result(ev), &cnt);
    size_t got = 0;
    for (size_t j = 0; j < cnt; j++) {
        const rd_kafka_topic_partition_t *tp =
            rd_kafka_ListOffsetsResultInfo_topic_partition(infos[j]);
        if (tp->err)
            return tm_seterr(errstr, errlen, TM_EKAFKA, "kafka: changelog %s [%d]: %s offset: %s",
                             k->changelog_topic, (int)tp->partition, earliest ? "start" : "end",
                             rd_kafka_err2str(tp->err));
        if (tp->partition < 0 || tp->partition >= k->n_changelog || index[tp->partition] < 0)
            continue;
        tm_changelog_part *p = &parts[index[tp->partition]];
        *(earliest ? &p->start : &p->end) = tp->offset;
        got++;
    }
    if (got != n)
        return tm_seterr(errstr, errlen, TM_EKAFKA,
                         "kafka: changelog %s: list offsets answered %zu of %zu partitions",
                         k->changelog_topic, got, n);
    return 0;
}

/* One ListOffsets request (the earliest offsets, or the latest with
 * read_committed: the last stable offsets) for every part, waited for in
 * 100 ms steps so that *stop is seen. */
static int list_offsets(tm_kafka *k, tm_changelog_part *parts, size_t n, const ssize_t *index,
                        bool earliest, int64_t deadline, tm_stop_flag *stop, char *errstr,
                        size_t errlen)
{
    char msg[512];
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)n);
    for (size_t i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(list, k->changelog_topic, parts[i].task)->offset =
            earliest ? RD_KAFKA_OFFSET_SPEC_EARLIEST : RD_KAFKA_OFFSET_SPEC_LATEST;
    rd_kafka_AdminOptions_t *opts =
        rd_kafka_AdminOptions_new(k->restore, RD_KAFKA_ADMIN_OP_LISTOFFSETS);
    rd_kafka_error_t *error =
        rd_kafka_AdminOptions_set_isolation_level(opts, RD_KAFKA_ISOLATION_LEVEL_READ_COMMITTED);
    if (error) /* only for a wrong option type: a bug */
        tm_die("ListOffsets options: %s", rd_kafka_error_string(error));
    rd_kafka_AdminOptions_set_request_timeout(opts, remaining_ms(deadline), msg, sizeof msg);
    rd_kafka_queue_t *q = rd_kafka_queue_new(k->restore);
    rd_kafka_ListOffsets(k->restore, list, opts, q);
    rd_kafka_event_t *ev = NULL;
    while (!ev && !stopped(stop) && now_ms() < deadline)
        ev = rd_kafka_queue_poll(q, 100);
    int rc = ev ? take_offsets(k, ev, parts, n, index, earliest, errstr, errlen)
             : stopped(stop)
                 ? TM_ESTOPPED
                 : tm_seterr(errstr, errlen, TM_EKAFKA,
                             "kafka: changelog %s: list offsets: timed out", k->changelog_topic);
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_AdminOptions_destroy(opts);
    rd_kafka_topic_partition_list_destroy(list);
    return rc;
}

/* Errors are retried until the deadline: a leader moving or a broker
 * restarting answers with one for a while. */
int tm_kafka_changelog_offsets(tm_kafka *k, tm_changelog_part *parts, size_t n, tm_stop_flag *stop,
                               char *errstr, size_t errlen)
{
    assert(k && (parts || n == 0));
    int rc = check_tasks(k, parts, n, errstr, errlen);
    if (rc == 0)
        rc = ensure_restore(k, errstr, errlen);
    if (rc < 0 || n == 0)
        return rc;
    ssize_t *index = part_index(k, parts, n);
    int64_t deadline = now_ms() + OP_TIMEOUT_MS;
    for (;;) {
        rc = list_offsets(k, parts, n, index, true, deadline, stop, errstr, errlen);
        if (rc == 0)
            rc = list_offsets(k, parts, n, index, false, deadline, stop, errstr, errlen);
        if (rc == 0 || rc == TM_ESTOPPED || now_ms() + 100 >= deadline)
            break;
        TM_LOG(TM_LOG_WARN, "kafka", "%s; retrying", errstr);
        sleep_ms(100);
    }
    free(index);
    return rc;
}

/* Handles one message of the changelog reader for part p (index i): a
 * record goes to fn, and the end of the partition moves next past
 * trailing markers and aborted records (never delivered). Returns 0 or
 * fn's error. */
static int restore_one(const rd_kafka_message_t *m, tm_changelog_part *p, size_t i,
                       tm_changelog_fn fn, void *ctx)
{
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        if (m->offset > p->next)
            p->next = m->offset < p->end ? m->offset : p->end;
        return 0;
    }
    if (m->offset >= p->end) {
        p->next = p->end; /* committed after we looked: not ours to read */
        return 0;
    }
    p->next = m->offset + 1;
    int r =
        fn(ctx, i, m->key, m->key ? m->key_len : 0, m->payload, m->payload ? m->len : 0, m->offset);
    return r < 0 ? r : 0;
}

/* A consumer error: local ones (a lost connection) are retried by
 * librdkafka, a broker's or a fatal one fails the read. */
static int restore_error(tm_kafka *k, const rd_kafka_message_t *m, char *errstr, size_t errlen)
{
    TM_LOG(TM_LOG_WARN, "kafka", "changelog %s [%d]: %s", k->changelog_topic, (int)m->partition,
           rd_kafka_message_errstr(m));
    if (m->err == RD_KAFKA_RESP_ERR__FATAL || m->err > 0)
        return tm_seterr(errstr, errlen, TM_EKAFKA, "kafka: changelog %s [%d]: %s",
                         k->changelog_topic, (int)m->partition, rd_kafka_message_errstr(m));
    return 0;
}

/* Assigns every part that has something to read at its from; returns how
 * many, or a negative tm_err. */
static int assign_parts(tm_kafka *k, tm_changelog_part *parts, size_t n, char *errstr,
                        size_t errlen)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)n);
    for (size_t i = 0; i < n; i++) {
        parts[i].next = parts[i].from;
        if (parts[i].from < parts[i].end)
            rd_kafka_topic_partition_list_add(list, k->changelog_topic, parts[i].task)->offset =
                parts[i].from;
    }
    int cnt = list->cnt;
    rd_kafka_resp_err_t err = cnt > 0 ? rd_kafka_assign(k->restore, list) : 0;
    rd_kafka_topic_partition_list_destroy(list);
    if (err)
        return tm_seterr(errstr, errlen, TM_EKAFKA, "kafka: changelog %s: assign: %s",
                         k->changelog_topic, rd_kafka_err2str(err));
    return cnt;
}

int tm_kafka_read_changelogs(tm_kafka *k, tm_changelog_part *parts, size_t n, tm_changelog_fn fn,
                             void *ctx, tm_stop_flag *stop, char *errstr, size_t errlen)
{
    assert(k && fn && (parts || n == 0));
    int rc = check_tasks(k, parts, n, errstr, errlen);
    if (rc == 0)
        rc = ensure_restore(k, errstr, errlen);
    int left = rc < 0 ? rc : assign_parts(k, parts, n, errstr, errlen);
    if (left <= 0)
        return left;
    ssize_t *index = part_index(k, parts, n);
    int64_t idle_deadline = now_ms() + RESTORE_IDLE_MS;
    while (left > 0 && rc == 0) {
        if (stopped(stop)) {
            rc = TM_ESTOPPED;
            break;
        }
        if (now_ms() > idle_deadline) {
            rc = tm_seterr(errstr, errlen, TM_EKAFKA,
                           "kafka: changelog %s: no progress for %d ms with %d partition(s) "
                           "left to read",
                           k->changelog_topic, RESTORE_IDLE_MS, left);
            break;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(k->restore, 100);
        if (!m)
            continue;
        ssize_t i = m->partition >= 0 && m->partition < k->n_changelog ? index[m->partition] : -1;
        if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            rc = restore_error(k, m, errstr, errlen);
        } else if (i >= 0 && parts[i].next < parts[i].end) {
            int64_t before = parts[i].next;
            rc = restore_one(m, &parts[i], (size_t)i, fn, ctx);
            if (parts[i].next != before)
                idle_deadline = now_ms() + RESTORE_IDLE_MS;
            left -= parts[i].next >= parts[i].end;
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_assign(k->restore, NULL);
    free(index);
    return rc;
}

/* tm_kafka_read_changelog's fn, behind tm_kafka_read_changelogs'. */
typedef struct one_reader {
    int (*fn)(void *ctx, const void *key, size_t key_len, const void *value, size_t value_len,
              int64_t offset);
    void *ctx;
} one_reader;

static int read_one(void *ctx, size_t part, const void *key, size_t key_len, const void *value,
                    size_t value_len, int64_t offset)
{
    (void)part;
    const one_reader *r = ctx;
    return r->fn(r->ctx, key, key_len, value, value_len, offset);
}

int64_t tm_kafka_read_changelog(tm_kafka *k, int32_t task, int64_t from,
                                int (*fn)(void *ctx, const void *key, size_t key_len,
                                          const void *value, size_t value_len, int64_t offset),
                                void *ctx, char *errstr, size_t errlen)
{
    assert(k && fn && from >= 0);
    tm_changelog_part part = {.task = task};
    int rc = tm_kafka_changelog_offsets(k, &part, 1, NULL, errstr, errlen);
    if (rc < 0)
        return rc;
    part.from = from < part.start ? part.start : from;
    one_reader r = {fn, ctx};
    rc = tm_kafka_read_changelogs(k, &part, 1, read_one, &r, NULL, errstr, errlen);
    return rc < 0 ? rc : part.end;
}

/* ---- the demo's in-process cluster ---------------------------------------- */

struct tm_kafka_cluster {
    rd_kafka_t *owner; /* the mock cluster lives in this handle's threads */
    rd_kafka_mock_cluster_t *mock;
};

int tm_kafka_cluster_start(tm_kafka_cluster **out, int brokers, char *errstr, size_t errlen)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* The owner handle only hosts the cluster: keep it quiet. */
    rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
    rd_kafka_t *owner = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!owner) {
        rd_kafka_conf_destroy(conf);
        return tm_seterr(errstr, errlen, TM_EKAFKA, "kafka: mock cluster: %s", err);
    }
    rd_kafka_mock_cluster_t *mock = rd_kafka_mock_cluster_new(owner, brokers);
    if (!mock) {
        rd_kafka_destroy(owner);
        return tm_seterr(errstr, errlen, TM_EKAFKA, "kafka: cannot start a mock cluster");
    }
    tm_kafka_cluster *c = tm_xcalloc(1, sizeof *c);
    c->owner = owner;
    c->mock = mock;
    *out = c;
    return TM_OK;
}

const char *tm_kafka_cluster_bootstrap(const tm_kafka_cluster *c)
{
    return rd_kafka_mock_cluster_bootstraps(c->mock);
}

int tm_kafka_cluster_create_topic(tm_kafka_cluster *c, const char *topic, int partitions,
                                  char *errstr, size_t errlen)
{
    rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(c->mock, topic, partitions, 1);
    if (e)
        return tm_seterr(errstr, errlen, TM_EKAFKA, "kafka: creating topic '%s': %s", topic,
                         rd_kafka_err2str(e));
    return TM_OK;
}

void tm_kafka_cluster_stop(tm_kafka_cluster *c)
{
    if (!c)
        return;
    rd_kafka_mock_cluster_destroy(c->mock);
    rd_kafka_destroy(c->owner);
    free(c);
}

struct tm_kafka_loader {
    rd_kafka_t *producer;
};

int tm_kafka_loader_open(tm_kafka_loader **out, const char *bootstrap, char *errstr, size_t errlen)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof err) !=
            RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "linger.ms", "5", err, sizeof err) != RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        return tm_seterr(errstr, errlen, TM_EKAFKA, "kafka: loader: %s", err);
    }
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!p) {
        rd_kafka_conf_destroy(conf);
        return tm_seterr(errstr, errlen, TM_EKAFKA, "kafka: loader: %s", err);
    }
    tm_kafka_loader *l = tm_xcalloc(1, sizeof *l);
    l->producer = p;
    *out = l;
    return TM_OK;
}

int tm_kafka_loader_send(tm_kafka_loader *l, const char *topic, int32_t partition, const void *key,
                         size_t key_len, const void *value, size_t value_len, int64_t ts,
                         char *errstr, size_t errlen)
{
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            l->producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
            RD_KAFKA_V_KEY(key, key_len), RD_KAFKA_V_VALUE((void *)(uintptr_t)value, value_len),
            RD_KAFKA_V_TIMESTAMP(ts), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        rd_kafka_poll(l->producer, 0);
        if (!e)
            return TM_OK;
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            return tm_seterr(errstr, errlen, TM_EKAFKA, "kafka: loader: %s", rd_kafka_err2str(e));
        rd_kafka_poll(l->producer, 10); /* the local queue is full: let it drain */
    }
}

void tm_kafka_loader_close(tm_kafka_loader *l)
{
    if (!l)
        return;
    rd_kafka_flush(l->producer, 10000);
    rd_kafka_destroy(l->producer);
    free(l);
}
