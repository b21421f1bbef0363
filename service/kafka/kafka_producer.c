/*
 * kafka_producer.c: the transactional producer (transactional.id
 * <application_id>-<instance_id>, stable across restarts): its
 * configuration, init_transactions, begin, commit and abort, producing
 * outputs and changelog records (and, for kafka_repartition.c, any
 * record), delivery reports, the input offsets sent
 * into the transaction, and how its errors are classified.
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
 */
#include "kafka_handle.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "err.h"
#include "log.h"
#include "num.h"

/* How long produce waits for the queue to drain when it is full. */
#define QUEUE_FULL_POLL_MS 10
/* transaction.timeout.ms is max(this, 10 x commit_interval_ms) unless set. */
#define MIN_TXN_TIMEOUT_MS 60000

/* The delivery-report opaque of changelog records: only its address is
 * used, to tell them from output records. */
static char changelog_tag;

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

/* The producer's configuration: checked now (most refused properties are
 * refused here, before anything connects), the client made once the
 * topics' record limits are known (tm_kafka_open). */
int tm_kafka_producer_conf(tm_kafka *k, const char *instance_id, int64_t txn_timeout_ms,
                           rd_kafka_conf_t **out, char *errstr, size_t errlen)
{
    const tm_config *cfg = k->cfg;
    rd_kafka_conf_t *conf;
    int rc = tm_kafka_base_conf(k, &conf, errstr, errlen);
    if (rc)
        return rc;
    char txn_timeout[32];
    int64_t t = txn_timeout_ms                                      ? txn_timeout_ms
                : cfg->commit_interval_ms > MIN_TXN_TIMEOUT_MS / 10 ? cfg->commit_interval_ms * 10
                                                                    : MIN_TXN_TIMEOUT_MS;
    snprintf(txn_timeout, sizeof txn_timeout, "%lld", (long long)t);
    char *txn_id = tm_kafka_xprintf("%s-%s", cfg->application_id, instance_id);
    rc = tm_kafka_conf_force(conf, cfg, "transactional.id", txn_id, errstr, errlen);
    if (!rc)
        rc = tm_kafka_conf_force(conf, cfg, "enable.idempotence", "true", errstr, errlen);
    if (!rc)
        rc = tm_kafka_conf_default(conf, cfg, "linger.ms", "queue.buffering.max.ms", "5", errstr,
                                   errlen);
    if (!rc)
        rc = tm_kafka_conf_default(conf, cfg, "transaction.timeout.ms", NULL, txn_timeout, errstr,
                                   errlen);
    if (!rc)
        rc = tm_kafka_conf_default(conf, cfg, "client.id", NULL, k->client_id, errstr, errlen);
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

/* init_transactions fences the previous incarnation of our
 * transactional.id (aborting what it left open). A retriable failure (a
 * coordinator not yet available) is resumed until the deadline. */
int tm_kafka_init_transactions(tm_kafka *k, char *errstr, size_t errlen)
{
    int64_t deadline = tm_monotonic_ms() + OP_TIMEOUT_MS;
    int64_t backoff = 100;
    for (;;) {
        rd_kafka_error_t *error = rd_kafka_init_transactions(k->producer, remaining_ms(deadline));
        if (!error)
            return 0;
        bool retry = rd_kafka_error_is_retriable(error) && !rd_kafka_error_is_fatal(error) &&
                     tm_monotonic_ms() + backoff < deadline;
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
        tm_sleep_ms(backoff);
        backoff = backoff * 2 > 1000 ? 1000 : backoff * 2;
    }
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
              dr ? k->dr_error : "", dr ? ")" : "",
              st == TM_KAFKA_FATAL ? tm_kafka_fenced_hint(k, code) : "");
    if (st == TM_KAFKA_FATAL)
        tm_kafka_set_fatal(k, "%s: %s%s", what, rd_kafka_error_string(error),
                           tm_kafka_fenced_hint(k, code));
    rd_kafka_error_destroy(error);
    return st;
}

tm_kafka_status tm_kafka_begin(tm_kafka *k, char *errstr, size_t errlen)
{
    tm_kafka_status st = txn_status(k, rd_kafka_begin_transaction(k->producer), "begin_transaction",
                                    false, errstr, errlen);
    if (st == TM_KAFKA_OK) {
        k->txn_open = true;
        k->txn_began_ms = tm_monotonic_ms();
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
        tm_kafka_set_fatal(k, "produce to %s [%d]: %s%s", topic, (int)partition, why,
                           tm_kafka_fenced_hint(k, fatal_err));
        tm_seterr(errstr, errlen, TM_EFATAL, "%s", k->fatal_msg);
        return TM_KAFKA_FATAL;
    }
    /* __STATE inside a transaction: it failed and must be aborted. */
    tm_kafka_status st =
        err == RD_KAFKA_RESP_ERR__STATE && k->txn_open ? TM_KAFKA_ABORTABLE : TM_KAFKA_FATAL;
    tm_seterr(errstr, errlen, st == TM_KAFKA_FATAL ? TM_EFATAL : TM_EKAFKA,
              "kafka: produce to %s [%d]: %s%s", topic, (int)partition, rd_kafka_err2str(err),
              tm_kafka_fenced_hint(k, err));
    if (st == TM_KAFKA_FATAL)
        tm_kafka_set_fatal(k, "produce to %s [%d]: %s%s", topic, (int)partition,
                           rd_kafka_err2str(err), tm_kafka_fenced_hint(k, err));
    return st;
}

tm_kafka_status tm_kafka_produce_to(tm_kafka *k, rd_kafka_topic_t *rkt, int32_t partition,
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
    bool waited = false;
    for (;;) {
        err = rd_kafka_producev(k->producer, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(partition),
                                RD_KAFKA_V_KEY(key, key_len),
                                RD_KAFKA_V_VALUE((void *)value, value_len),
                                RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            break;
        /* Serve delivery reports until there is room: as long as the
         * broker takes to acknowledge (during an outage, until the queued
         * records time out with the transaction). */
        if (!waited && k->wait.fn)
            k->wait.fn(k->wait.ctx, "produce");
        waited = true;
        rd_kafka_poll(k->producer, QUEUE_FULL_POLL_MS);
    }
    if (waited && k->wait.fn)
        k->wait.fn(k->wait.ctx, NULL);
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
        tm_kafka_set_fatal(k, "topic '%s': %s", topic, rd_kafka_err2str(rd_kafka_last_error()));
        tm_seterr(errstr, errlen, TM_EFATAL, "%s", k->fatal_msg);
        return TM_KAFKA_FATAL;
    }
    return tm_kafka_produce_to(k, rkt, partition, key, key_len, value, value_len, headers,
                               n_headers, NULL, errstr, errlen);
}

tm_kafka_status tm_kafka_produce_changelog(tm_kafka *k, int32_t task, const void *key,
                                           size_t key_len, const void *value, size_t value_len,
                                           char *errstr, size_t errlen)
{
    if (task < 0 || task >= k->n_changelog) {
        tm_kafka_set_fatal(k, "task %d has no changelog partition (%s has %d)", (int)task,
                           k->changelog_topic, (int)k->n_changelog);
        tm_seterr(errstr, errlen, TM_EFATAL, "%s", k->fatal_msg);
        return TM_KAFKA_FATAL;
    }
    return tm_kafka_produce_to(k, k->changelog_rkt, task, key, key_len, value, value_len, NULL, 0,
                               &changelog_tag, errstr, errlen);
}

tm_kafka_status tm_kafka_send_offsets(tm_kafka *k, const int32_t *tasks, size_t n,
                                      const int64_t *next_offsets, char *errstr, size_t errlen)
{
    size_t nt = k->n_consumed;
    rd_kafka_topic_partition_list_t *offsets = rd_kafka_topic_partition_list_new((int)(n * nt));
    for (size_t j = 0; j < n; j++)
        for (size_t i = 0; i < nt; i++)
            if (next_offsets[j * nt + i] >= 0) /* < 0: nothing consumed yet */
                rd_kafka_topic_partition_list_add(offsets, k->consumed[i], tasks[j])->offset =
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
    /* A handle without changelog partitions (backfill's) tracks none. */
    if (st == TM_KAFKA_OK && k->changelog_pending)
        memcpy(k->changelog_committed, k->changelog_pending,
               (size_t)k->n_changelog * sizeof *k->changelog_pending);
    if (st == TM_KAFKA_OK)
        k->txn_open = false;
    return st;
}

tm_kafka_status tm_kafka_abort(tm_kafka *k, char *errstr, size_t errlen)
{
    rd_kafka_error_t *error = rd_kafka_abort_transaction(k->producer, k->txn_timeout_ms);
    rd_kafka_poll(k->producer, 0);
    /* Nothing delivered in this transaction will ever be committed. */
    if (k->changelog_pending)
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
