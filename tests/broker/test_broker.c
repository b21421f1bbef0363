/*
 * Tests of the test broker itself: librdkafka's mock cluster as patched by
 * tests/broker/patches/, exercised with plain librdkafka clients, and the
 * tidemark-test-broker launcher.
 *
 * Every test starts its own cluster (Criterion runs each test in its own
 * process) and is bounded in time: every wait is a poll against a deadline
 * or a librdkafka call with a timeout. (No Criterion .timeout: with it,
 * Criterion 2.4's runner leaks, which fails the Asan build; ctest has a
 * TIMEOUT as the last resort.)
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "proc.h"

#ifndef TIDEMARK_TEST_BROKER_BIN
#define TIDEMARK_TEST_BROKER_BIN "./tidemark-test-broker"
#endif

#define TOPIC "t"
#define OP_TIMEOUT_MS 10000

/* The cluster of the current test. */
static rd_kafka_t *cluster_rk;
static rd_kafka_mock_cluster_t *mcluster;
static char bootstraps[512];

static void conf_set(rd_kafka_conf_t *conf, const char *name, const char *value)
{
    char errstr[256];
    cr_assert_eq(rd_kafka_conf_set(conf, name, value, errstr, sizeof(errstr)), RD_KAFKA_CONF_OK,
                 "%s=%s: %s", name, value, errstr);
}

static void cluster_start(void)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char errstr[256];

    conf_set(conf, "log_level", "3");
    cluster_rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    cr_assert_not_null(cluster_rk, "%s", errstr);
    /* Three brokers, so that coordinators and partition leaders are
     * spread over several brokers, as in a real cluster. */
    mcluster = rd_kafka_mock_cluster_new(cluster_rk, 3);
    cr_assert_not_null(mcluster);
    cr_assert_eq(rd_kafka_mock_topic_create(mcluster, TOPIC, 2, 3), RD_KAFKA_RESP_ERR_NO_ERROR);
    snprintf(bootstraps, sizeof(bootstraps), "%s", rd_kafka_mock_cluster_bootstraps(mcluster));
}

static void cluster_stop(void)
{
    if (mcluster)
        rd_kafka_mock_cluster_destroy(mcluster);
    if (cluster_rk)
        rd_kafka_destroy(cluster_rk);
    mcluster = NULL;
    cluster_rk = NULL;
}

TestSuite(broker, .init = cluster_start, .fini = cluster_stop);

/*
 * Clients
 */

/* A transactional producer, initialised. txn_timeout_ms 0: default. */
static rd_kafka_t *txn_producer(const char *txnid, int txn_timeout_ms)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char errstr[256], tmo[32];
    rd_kafka_t *p;
    rd_kafka_error_t *error;

    conf_set(conf, "bootstrap.servers", bootstraps);
    conf_set(conf, "transactional.id", txnid);
    conf_set(conf, "linger.ms", "0");
    conf_set(conf, "log_level", "2");
    if (txn_timeout_ms > 0) {
        snprintf(tmo, sizeof(tmo), "%d", txn_timeout_ms);
        conf_set(conf, "transaction.timeout.ms", tmo);
    }
    p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    cr_assert_not_null(p, "%s", errstr);
    error = rd_kafka_init_transactions(p, OP_TIMEOUT_MS);
    cr_assert_null(error, "init_transactions(%s): %s", txnid,
                   error ? rd_kafka_error_string(error) : "");
    return p;
}

/* A plain (non-transactional) producer. */
static rd_kafka_t *plain_producer(void)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char errstr[256];
    rd_kafka_t *p;

    conf_set(conf, "bootstrap.servers", bootstraps);
    conf_set(conf, "linger.ms", "0");
    p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    cr_assert_not_null(p, "%s", errstr);
    return p;
}

/* Produces one record to topic and waits until it is in the log. */
static void produce_to(rd_kafka_t *p, const char *topic, int32_t partition, const char *value)
{
    rd_kafka_resp_err_t err =
        rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                          RD_KAFKA_V_VALUE((void *)value, strlen(value)),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    cr_assert_eq(err, RD_KAFKA_RESP_ERR_NO_ERROR, "produce %s: %s", value, rd_kafka_err2str(err));
    cr_assert_eq(rd_kafka_flush(p, OP_TIMEOUT_MS), RD_KAFKA_RESP_ERR_NO_ERROR, "flush %s", value);
}

/* Produces one record to TOPIC. */
static void produce(rd_kafka_t *p, int32_t partition, const char *value)
{
    produce_to(p, TOPIC, partition, value);
}

static void begin(rd_kafka_t *p)
{
    rd_kafka_error_t *error = rd_kafka_begin_transaction(p);
    cr_assert_null(error, "begin_transaction: %s", error ? rd_kafka_error_string(error) : "");
}

static void commit(rd_kafka_t *p)
{
    rd_kafka_error_t *error = rd_kafka_commit_transaction(p, OP_TIMEOUT_MS);
    cr_assert_null(error, "commit_transaction: %s", error ? rd_kafka_error_string(error) : "");
}

static void abort_txn(rd_kafka_t *p)
{
    rd_kafka_error_t *error = rd_kafka_abort_transaction(p, OP_TIMEOUT_MS);
    cr_assert_null(error, "abort_transaction: %s", error ? rd_kafka_error_string(error) : "");
}

/* A consumer with the given isolation level; group may be NULL. */
static rd_kafka_t *consumer(const char *isolation, const char *group)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char errstr[256];
    rd_kafka_t *c;

    conf_set(conf, "bootstrap.servers", bootstraps);
    conf_set(conf, "isolation.level", isolation);
    conf_set(conf, "enable.partition.eof", "true");
    conf_set(conf, "enable.auto.commit", "false");
    conf_set(conf, "auto.offset.reset", "earliest");
    conf_set(conf, "fetch.wait.max.ms", "100");
    /* assign() needs a group.id even when nothing is committed. */
    conf_set(conf, "group.id", group ? group : "tidemark-broker-test");
    c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    cr_assert_not_null(c, "%s", errstr);
    return c;
}

static void assign_topic_from_start(rd_kafka_t *c, const char *topic, int32_t partition)
{
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, topic, partition)->offset = RD_KAFKA_OFFSET_BEGINNING;
    cr_assert_eq(rd_kafka_assign(c, parts), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(parts);
}

static void assign_from_start(rd_kafka_t *c, int32_t partition)
{
    assign_topic_from_start(c, TOPIC, partition);
}

/* Appends value to the comma-separated list in buf. */
static void append_n(char *buf, size_t bufsz, const char *value, size_t len)
{
    size_t used = strlen(buf);

    cr_assert_lt(used + len + 2, bufsz, "list buffer too small");
    snprintf(buf + used, bufsz - used, "%s%.*s", used ? "," : "", (int)len, value);
}

static void append(char *buf, size_t bufsz, const char *value)
{
    append_n(buf, bufsz, value, strlen(value));
}

/* Consumes until the next partition EOF; the values read, comma-separated,
 * go to out. */
static void read_to_eof(rd_kafka_t *c, char *out, size_t outsz)
{
    int64_t deadline = tm_test_now_ms() + OP_TIMEOUT_MS;

    out[0] = '\0';
    while (tm_test_now_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            rd_kafka_message_destroy(m);
            return;
        }
        cr_assert_eq(m->err, RD_KAFKA_RESP_ERR_NO_ERROR, "consume: %s", rd_kafka_message_errstr(m));
        append_n(out, outsz, (const char *)m->payload, m->len);
        rd_kafka_message_destroy(m);
    }
    cr_assert_fail("no partition EOF within %dms (read so far: %s)", OP_TIMEOUT_MS, out);
}

/* Reads a partition from the beginning to its end under isolation. */
static void read_all(const char *isolation, int32_t partition, char *out, size_t outsz)
{
    rd_kafka_t *c = consumer(isolation, NULL);
    assign_from_start(c, partition);
    read_to_eof(c, out, outsz);
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
}

static void expect_partition(int32_t partition, const char *committed, const char *uncommitted)
{
    static char buf[8192];

    read_all("read_committed", partition, buf, sizeof(buf));
    cr_expect_str_eq(buf, committed, "read_committed [%d]", (int)partition);
    read_all("read_uncommitted", partition, buf, sizeof(buf));
    cr_expect_str_eq(buf, uncommitted, "read_uncommitted [%d]", (int)partition);
}

/* High watermark as seen by a consumer with the given isolation level
 * (ListOffsets: the last stable offset under read_committed). */
static int64_t high_offset(const char *isolation, int32_t partition)
{
    rd_kafka_t *c = consumer(isolation, NULL);
    int64_t lo = -1, hi = -1;
    rd_kafka_resp_err_t err =
        rd_kafka_query_watermark_offsets(c, TOPIC, partition, &lo, &hi, OP_TIMEOUT_MS);
    cr_assert_eq(err, RD_KAFKA_RESP_ERR_NO_ERROR, "query_watermark_offsets: %s",
                 rd_kafka_err2str(err));
    rd_kafka_destroy(c);
    return hi;
}

/* Asserts that p has been fenced: committing fails, fatally. */
static void expect_fenced(rd_kafka_t *p)
{
    rd_kafka_error_t *error = rd_kafka_commit_transaction(p, OP_TIMEOUT_MS);
    char errstr[256];

    cr_assert_not_null(error, "commit by a fenced producer succeeded");
    cr_expect(rd_kafka_error_is_fatal(error), "expected a fatal error, got %s",
              rd_kafka_error_string(error));
    rd_kafka_error_destroy(error);
    cr_expect_eq(rd_kafka_fatal_error(p, errstr, sizeof(errstr)), RD_KAFKA_RESP_ERR__FENCED,
                 "fatal error: %s", errstr);
}

/*
 * Visibility of committed and aborted transactions
 */

Test(broker, committed_txn_visible_to_both_isolation_levels)
{
    rd_kafka_t *p = txn_producer("tx-commit", 0);

    begin(p);
    produce(p, 0, "c1");
    produce(p, 1, "c2");
    produce(p, 0, "c3");
    commit(p);

    expect_partition(0, "c1,c3", "c1,c3");
    expect_partition(1, "c2", "c2");
    /* c1, c3, COMMIT marker */
    cr_expect_eq(high_offset("read_committed", 0), 3);
    cr_expect_eq(high_offset("read_uncommitted", 0), 3);
    rd_kafka_destroy(p);
}

Test(broker, aborted_txn_hidden_from_read_committed)
{
    rd_kafka_t *p = txn_producer("tx-abort", 0);

    begin(p);
    produce(p, 0, "a");
    commit(p);

    begin(p);
    produce(p, 0, "x");
    produce(p, 1, "y");
    produce(p, 0, "z");
    abort_txn(p);

    begin(p);
    produce(p, 0, "b");
    commit(p);

    expect_partition(0, "a,b", "a,x,z,b");
    expect_partition(1, "", "y");
    rd_kafka_destroy(p);
}

Test(broker, interleaved_txns_only_the_aborted_one_is_dropped)
{
    rd_kafka_t *px = txn_producer("tx-x", 0);
    rd_kafka_t *py = txn_producer("tx-y", 0);
    rd_kafka_t *pn = plain_producer();

    begin(px);
    begin(py);
    produce(px, 0, "x1");
    produce(py, 0, "y1");
    produce(pn, 0, "n1");
    produce(px, 0, "x2");
    produce(py, 0, "y2");
    abort_txn(py);
    commit(px);

    expect_partition(0, "x1,n1,x2", "x1,y1,n1,x2,y2");
    rd_kafka_destroy(px);
    rd_kafka_destroy(py);
    rd_kafka_destroy(pn);
}

Test(broker, many_txns_read_in_multi_batch_fetches)
{
    rd_kafka_t *p = txn_producer("tx-many", 0);
    rd_kafka_t *pn = plain_producer();
    static char committed[8192], uncommitted[8192];
    char v[32];
    int i, j;

    /* 30 transactions of 3 batches each, every third aborted, with a
     * non-transactional record after each: a read from the start gets
     * many batches, control batches and aborted ranges per Fetch. */
    committed[0] = uncommitted[0] = '\0';
    for (i = 0; i < 30; i++) {
        int aborted = i % 3 == 1;

        begin(p);
        for (j = 0; j < 3; j++) {
            snprintf(v, sizeof(v), "t%d.%d", i, j);
            produce(p, 0, v);
            append(uncommitted, sizeof(uncommitted), v);
            if (!aborted)
                append(committed, sizeof(committed), v);
        }
        if (aborted)
            abort_txn(p);
        else
            commit(p);

        snprintf(v, sizeof(v), "n%d", i);
        produce(pn, 0, v);
        append(uncommitted, sizeof(uncommitted), v);
        append(committed, sizeof(committed), v);
    }

    expect_partition(0, committed, uncommitted);

    /* 150 batches (90 records, 30 control, 30 plain), read in far
     * fewer Fetch requests than one per batch. */
    {
        static char buf[8192];
        rd_kafka_mock_request_t **reqs;
        size_t cnt, k, fetches = 0;

        rd_kafka_mock_start_request_tracking(mcluster);
        read_all("read_committed", 0, buf, sizeof(buf));
        reqs = rd_kafka_mock_get_requests(mcluster, &cnt);
        rd_kafka_mock_stop_request_tracking(mcluster);
        for (k = 0; k < cnt; k++)
            if (rd_kafka_mock_request_api_key(reqs[k]) == 1 /* Fetch */)
                fetches++;
        rd_kafka_mock_request_destroy_array(reqs, cnt);
        cr_expect_str_eq(buf, committed);
        cr_expect_lt(fetches, 30, "%zu Fetch requests", fetches);
    }

    rd_kafka_destroy(p);
    rd_kafka_destroy(pn);
}

/*
 * Patch 0009: an idempotent (not transactional) producer whose answer is
 * lost retries its batch with the same sequence numbers; as Kafka does,
 * the broker acknowledges the retry without writing the records twice.
 * The leader of partition 0 answers the first Produce 3 s late, after
 * the client's 1 s socket timeout: the records are in the log, the client
 * does not know, and retries on a new connection (against 0001-0008 the
 * log then holds the record twice).
 */
/* Kafka's Produce request (the public headers do not name API keys). */
#define API_PRODUCE 0

Test(broker, idempotent_retry_after_a_lost_answer_is_written_once)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char errstr[256];
    static char buf[8192];

    cr_assert_eq(rd_kafka_mock_partition_set_leader(mcluster, TOPIC, 0, 1),
                 RD_KAFKA_RESP_ERR_NO_ERROR);
    cr_assert_eq(rd_kafka_mock_broker_push_request_error_rtts(mcluster, 1, API_PRODUCE, 1,
                                                              RD_KAFKA_RESP_ERR_NO_ERROR, 3000),
                 RD_KAFKA_RESP_ERR_NO_ERROR);
    conf_set(conf, "bootstrap.servers", bootstraps);
    conf_set(conf, "enable.idempotence", "true");
    conf_set(conf, "linger.ms", "0");
    conf_set(conf, "socket.timeout.ms", "1000");
    conf_set(conf, "message.timeout.ms", "20000");
    conf_set(conf, "log_level", "2");
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    cr_assert_not_null(p, "%s", errstr);
    rd_kafka_resp_err_t err = rd_kafka_producev(
        p, RD_KAFKA_V_TOPIC(TOPIC), RD_KAFKA_V_PARTITION(0), RD_KAFKA_V_VALUE("once", 4),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    cr_assert_eq(err, RD_KAFKA_RESP_ERR_NO_ERROR, "%s", rd_kafka_err2str(err));
    cr_assert_eq(rd_kafka_flush(p, 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
    /* The late answer is in, too: nothing else arrives. */
    rd_kafka_poll(p, 3500);
    rd_kafka_destroy(p);
    read_all("read_uncommitted", 0, buf, sizeof(buf));
    cr_expect_str_eq(buf, "once", "the retried batch was written again");
    cr_expect_eq(high_offset("read_uncommitted", 0), 1);
}

Test(broker, open_txn_holds_read_committed_at_last_stable_offset)
{
    rd_kafka_t *p = txn_producer("tx-open", 0);
    rd_kafka_t *pn = plain_producer();
    rd_kafka_t *c;
    char buf[256];

    begin(p);
    produce(p, 0, "a"); /* offset 0, COMMIT marker at 1 */
    commit(p);

    begin(p);
    produce(p, 0, "o1"); /* offset 2: the last stable offset */
    produce(pn, 0, "n"); /* offset 3, after the open transaction */

    cr_expect_eq(high_offset("read_committed", 0), 2);
    cr_expect_eq(high_offset("read_uncommitted", 0), 4);

    c = consumer("read_committed", NULL);
    assign_from_start(c, 0);
    read_to_eof(c, buf, sizeof(buf));
    cr_expect_str_eq(buf, "a", "read_committed before commit");

    read_all("read_uncommitted", 0, buf, sizeof(buf));
    cr_expect_str_eq(buf, "a,o1,n");

    commit(p); /* COMMIT marker at 4 */

    /* The same consumer now moves past the last stable offset. */
    read_to_eof(c, buf, sizeof(buf));
    cr_expect_str_eq(buf, "o1,n", "read_committed after commit");
    cr_expect_eq(high_offset("read_committed", 0), 5);

    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    rd_kafka_destroy(p);
    rd_kafka_destroy(pn);
}

/*
 * TxnOffsetCommit
 */

static void send_offset(rd_kafka_t *p, const char *group, int64_t offset)
{
    rd_kafka_topic_partition_list_t *offsets = rd_kafka_topic_partition_list_new(1);
    rd_kafka_consumer_group_metadata_t *cgmd = rd_kafka_consumer_group_metadata_new(group);
    rd_kafka_error_t *error;

    rd_kafka_topic_partition_list_add(offsets, TOPIC, 0)->offset = offset;
    error = rd_kafka_send_offsets_to_transaction(p, offsets, cgmd, OP_TIMEOUT_MS);
    cr_assert_null(error, "send_offsets_to_transaction: %s",
                   error ? rd_kafka_error_string(error) : "");
    rd_kafka_consumer_group_metadata_destroy(cgmd);
    rd_kafka_topic_partition_list_destroy(offsets);
}

/* The group's committed offset for partition 0 as seen by a consumer with
 * the given isolation level, or the error (negative) if there is none. */
static int64_t committed_offset(const char *isolation, const char *group, int timeout_ms,
                                rd_kafka_resp_err_t *errp)
{
    rd_kafka_t *c = consumer(isolation, group);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
    int64_t offset;

    rd_kafka_topic_partition_list_add(parts, TOPIC, 0);
    *errp = rd_kafka_committed(c, parts, timeout_ms);
    if (!*errp)
        *errp = parts->elems[0].err;
    offset = parts->elems[0].offset;
    rd_kafka_topic_partition_list_destroy(parts);
    rd_kafka_destroy(c);
    return offset;
}

Test(broker, txn_offsets_stored_on_commit_discarded_on_abort)
{
    rd_kafka_t *p = txn_producer("tx-offsets", 0);
    rd_kafka_resp_err_t err;
    int64_t off;

    /* Committed with the transaction. */
    begin(p);
    produce(p, 1, "out1");
    send_offset(p, "g1", 5);
    off = committed_offset("read_uncommitted", "g1", OP_TIMEOUT_MS, &err);
    cr_expect_eq(err, RD_KAFKA_RESP_ERR_NO_ERROR);
    cr_expect_eq(off, RD_KAFKA_OFFSET_INVALID, "offset visible before commit: %lld",
                 (long long)off);
    commit(p);
    off = committed_offset("read_committed", "g1", OP_TIMEOUT_MS, &err);
    cr_expect_eq(err, RD_KAFKA_RESP_ERR_NO_ERROR, "%s", rd_kafka_err2str(err));
    cr_expect_eq(off, 5);

    /* Discarded with the transaction. */
    begin(p);
    send_offset(p, "g1", 9);
    abort_txn(p);
    off = committed_offset("read_committed", "g1", OP_TIMEOUT_MS, &err);
    cr_expect_eq(err, RD_KAFKA_RESP_ERR_NO_ERROR);
    cr_expect_eq(off, 5, "aborted offset stored: %lld", (long long)off);

    /* Offsets only, no records: still a transaction. */
    begin(p);
    send_offset(p, "g1", 7);
    commit(p);
    off = committed_offset("read_committed", "g1", OP_TIMEOUT_MS, &err);
    cr_expect_eq(err, RD_KAFKA_RESP_ERR_NO_ERROR);
    cr_expect_eq(off, 7);

    rd_kafka_destroy(p);
}

Test(broker, pending_txn_offset_is_unstable_for_read_committed)
{
    rd_kafka_t *p = txn_producer("tx-unstable", 0);
    rd_kafka_resp_err_t err;
    int64_t off;

    begin(p);
    send_offset(p, "g2", 3);
    commit(p);

    begin(p);
    send_offset(p, "g2", 8);
    /* read_uncommitted: the stable offset; read_committed (which asks
     * for RequireStable) keeps getting UNSTABLE_OFFSET_COMMIT. */
    off = committed_offset("read_uncommitted", "g2", OP_TIMEOUT_MS, &err);
    cr_expect_eq(err, RD_KAFKA_RESP_ERR_NO_ERROR);
    cr_expect_eq(off, 3);
    off = committed_offset("read_committed", "g2", 1500, &err);
    cr_expect_neq(err, RD_KAFKA_RESP_ERR_NO_ERROR, "read_committed got offset %lld while pending",
                  (long long)off);
    commit(p);
    off = committed_offset("read_committed", "g2", OP_TIMEOUT_MS, &err);
    cr_expect_eq(err, RD_KAFKA_RESP_ERR_NO_ERROR);
    cr_expect_eq(off, 8);

    rd_kafka_destroy(p);
}

/* A consumer subscribed to TOPIC in group (classic protocol). */
static rd_kafka_t *group_member(const char *group)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
    char errstr[256];
    rd_kafka_t *c;

    conf_set(conf, "bootstrap.servers", bootstraps);
    conf_set(conf, "group.id", group);
    conf_set(conf, "isolation.level", "read_committed");
    conf_set(conf, "enable.auto.commit", "false");
    conf_set(conf, "heartbeat.interval.ms", "100");
    /* Short, so that a member that is gone is noticed soon (a rebalance
     * itself ends once every member has rejoined, patch 0005). */
    conf_set(conf, "session.timeout.ms", "3000");
    c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    cr_assert_not_null(c, "%s", errstr);
    rd_kafka_poll_set_consumer(c);
    rd_kafka_topic_partition_list_add(topics, TOPIC, RD_KAFKA_PARTITION_UA);
    cr_assert_eq(rd_kafka_subscribe(c, topics), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(topics);
    return c;
}

static int assigned_cnt(rd_kafka_t *c)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    int cnt;

    cr_assert_eq(rd_kafka_assignment(c, &parts), RD_KAFKA_RESP_ERR_NO_ERROR);
    cnt = parts->cnt;
    rd_kafka_topic_partition_list_destroy(parts);
    return cnt;
}

/* Polls the members until each has `want` partitions assigned. */
static void wait_assignment(rd_kafka_t **members, int n, int want)
{
    int64_t deadline = tm_test_now_ms() + 30000;

    while (tm_test_now_ms() < deadline) {
        int i, done = 1;
        for (i = 0; i < n; i++) {
            rd_kafka_message_t *m = rd_kafka_consumer_poll(members[i], 20);
            if (m)
                rd_kafka_message_destroy(m);
            if (assigned_cnt(members[i]) != want)
                done = 0;
        }
        if (done)
            return;
    }
    cr_assert_fail("group did not settle on %d partition(s) per member", want);
}

static rd_kafka_error_t *send_offset_md(rd_kafka_t *p, const rd_kafka_consumer_group_metadata_t *md,
                                        int64_t offset)
{
    rd_kafka_topic_partition_list_t *offsets = rd_kafka_topic_partition_list_new(1);
    rd_kafka_error_t *error;

    rd_kafka_topic_partition_list_add(offsets, TOPIC, 0)->offset = offset;
    error = rd_kafka_send_offsets_to_transaction(p, offsets, md, OP_TIMEOUT_MS);
    rd_kafka_topic_partition_list_destroy(offsets);
    return error;
}

Test(broker, txn_offsets_from_a_stale_generation_are_rejected)
{
    rd_kafka_t *p = txn_producer("tx-kip447", 0);
    rd_kafka_t *members[2];
    rd_kafka_consumer_group_metadata_t *md_old, *md_new;
    rd_kafka_error_t *error;
    rd_kafka_resp_err_t err;

    rd_kafka_mock_group_initial_rebalance_delay_ms(mcluster, 0);

    /* One member: both partitions. Its metadata commits. */
    members[0] = group_member("g5");
    wait_assignment(members, 1, 2);
    md_old = rd_kafka_consumer_group_metadata(members[0]);
    begin(p);
    error = send_offset_md(p, md_old, 2);
    cr_assert_null(error, "current generation: %s", error ? rd_kafka_error_string(error) : "");
    commit(p);

    /* A second member joins: a new generation. */
    members[1] = group_member("g5");
    wait_assignment(members, 2, 1);

    /* A producer still holding the old generation is rejected, and
     * must abort; the transaction is not fatal. */
    begin(p);
    error = send_offset_md(p, md_old, 6);
    cr_assert_not_null(error, "stale generation accepted");
    cr_expect(rd_kafka_error_txn_requires_abort(error), "expected an abortable error, got %s",
              rd_kafka_error_string(error));
    cr_expect_eq(rd_kafka_error_code(error), RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION, "%s",
                 rd_kafka_error_string(error));
    rd_kafka_error_destroy(error);
    abort_txn(p);
    cr_expect_eq(committed_offset("read_committed", "g5", OP_TIMEOUT_MS, &err), 2);

    /* With the current generation it works again. */
    md_new = rd_kafka_consumer_group_metadata(members[0]);
    begin(p);
    error = send_offset_md(p, md_new, 6);
    cr_assert_null(error, "current generation: %s", error ? rd_kafka_error_string(error) : "");
    commit(p);
    cr_expect_eq(committed_offset("read_committed", "g5", OP_TIMEOUT_MS, &err), 6);

    rd_kafka_consumer_group_metadata_destroy(md_old);
    rd_kafka_consumer_group_metadata_destroy(md_new);
    rd_kafka_consumer_close(members[0]);
    rd_kafka_consumer_close(members[1]);
    rd_kafka_destroy(members[0]);
    rd_kafka_destroy(members[1]);
    rd_kafka_destroy(p);
}

/*
 * Fencing and timeout
 */

Test(broker, reinit_aborts_open_txn_and_fences_old_producer)
{
    rd_kafka_t *a = txn_producer("tx-fence", 0);
    rd_kafka_t *b;
    rd_kafka_resp_err_t err;

    begin(a);
    produce(a, 0, "z1");
    send_offset(a, "g3", 4);

    /* A new incarnation of the same transactional.id. */
    b = txn_producer("tx-fence", 0);

    /* A's transaction was aborted: records and offsets. */
    expect_partition(0, "", "z1");
    cr_expect_eq(committed_offset("read_committed", "g3", OP_TIMEOUT_MS, &err),
                 RD_KAFKA_OFFSET_INVALID);

    /* A is fenced. */
    expect_fenced(a);

    /* B works. */
    begin(b);
    produce(b, 0, "b1");
    commit(b);
    expect_partition(0, "b1", "z1,b1");

    rd_kafka_destroy(a);
    rd_kafka_destroy(b);
}

Test(broker, hanging_txn_aborted_after_timeout)
{
    rd_kafka_t *p = txn_producer("tx-hang", 2000);
    rd_kafka_t *q;
    int64_t deadline;
    rd_kafka_resp_err_t err;

    begin(p);
    produce(p, 0, "h1"); /* offset 0 */
    send_offset(p, "g4", 1);
    cr_expect_eq(high_offset("read_committed", 0), 0);

    /* The broker aborts it after 2s: ABORT marker at offset 1. */
    deadline = tm_test_now_ms() + OP_TIMEOUT_MS;
    while (high_offset("read_committed", 0) != 2 && tm_test_now_ms() < deadline)
        tm_test_sleep_ms(100);
    cr_assert_eq(high_offset("read_committed", 0), 2, "transaction not aborted by the broker");
    expect_partition(0, "", "h1");
    cr_expect_eq(committed_offset("read_committed", "g4", OP_TIMEOUT_MS, &err),
                 RD_KAFKA_OFFSET_INVALID, "offset of the timed-out transaction stored");

    /* The producer that left it open is fenced... */
    expect_fenced(p);

    /* ... and the transactional.id can be used again. */
    q = txn_producer("tx-hang", 0);
    begin(q);
    produce(q, 0, "h2");
    commit(q);
    expect_partition(0, "h2", "h1,h2");

    rd_kafka_destroy(p);
    rd_kafka_destroy(q);
}

/*
 * CreateTopics (0003)
 */

/*
 * 0006 (the client library): a coordinator request honours its timeout.
 * Without the patch the TxnOffsetCommit of send_offsets_to_transaction()
 * waits for a group coordinator that stays down until a broker state
 * changes to or from UP, i.e. forever here, past the API's timeout (the
 * test's own timeout then fails it).
 */
Test(broker, send_offsets_with_the_group_coordinator_down_times_out, .timeout = 60)
{
    const char *txnid = "coord-down-txn", *group = "coord-down-group";
    /* The transaction coordinator stays up; the group's goes down. */
    cr_assert_eq(rd_kafka_mock_coordinator_set(mcluster, "transaction", txnid, 1),
                 RD_KAFKA_RESP_ERR_NO_ERROR);
    cr_assert_eq(rd_kafka_mock_coordinator_set(mcluster, "group", group, 2),
                 RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_t *p = txn_producer(txnid, 0);
    begin(p);
    rd_kafka_mock_broker_set_down(mcluster, 2);

    rd_kafka_topic_partition_list_t *offsets = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(offsets, TOPIC, 0)->offset = 1;
    rd_kafka_consumer_group_metadata_t *md = rd_kafka_consumer_group_metadata_new(group);
    rd_kafka_error_t *error = rd_kafka_send_offsets_to_transaction(p, offsets, md, 3000);
    rd_kafka_consumer_group_metadata_destroy(md);
    rd_kafka_topic_partition_list_destroy(offsets);

    cr_assert_not_null(error, "send_offsets_to_transaction succeeded with the coordinator down");
    cr_expect_eq(rd_kafka_error_code(error), RD_KAFKA_RESP_ERR__TIMED_OUT, "%s",
                 rd_kafka_error_string(error));
    cr_expect(rd_kafka_error_txn_requires_abort(error), "not abortable: %s",
              rd_kafka_error_string(error));
    rd_kafka_error_destroy(error);

    rd_kafka_mock_broker_set_up(mcluster, 2);
    abort_txn(p);
    rd_kafka_destroy(p);
}

static rd_kafka_NewTopic_t *new_topic(const char *name, int partitions, int replication)
{
    char errstr[256];
    rd_kafka_NewTopic_t *nt =
        rd_kafka_NewTopic_new(name, partitions, replication, errstr, sizeof(errstr));
    cr_assert_not_null(nt, "NewTopic %s: %s", name, errstr);
    return nt;
}

static void topic_config(rd_kafka_NewTopic_t *nt, const char *name, const char *value)
{
    cr_assert_eq(rd_kafka_NewTopic_set_config(nt, name, value), RD_KAFKA_RESP_ERR_NO_ERROR);
}

/* CreateTopics of the cnt topics (destroyed here) through rk; the
 * per-topic errors go to errs[] (librdkafka puts the results in request
 * order), their messages to msgs[] if not NULL. The request as a whole
 * must succeed. */
static void create_topics(rd_kafka_t *rk, rd_kafka_NewTopic_t **nts, size_t cnt, int validate_only,
                          rd_kafka_resp_err_t *errs, char (*msgs)[256])
{
    rd_kafka_AdminOptions_t *opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    const rd_kafka_topic_result_t **res;
    rd_kafka_event_t *ev;
    char errstr[256];
    size_t i, rcnt = 0;

    cr_assert_eq(
        rd_kafka_AdminOptions_set_operation_timeout(opts, OP_TIMEOUT_MS, errstr, sizeof(errstr)),
        RD_KAFKA_RESP_ERR_NO_ERROR, "%s", errstr);
    cr_assert_eq(
        rd_kafka_AdminOptions_set_request_timeout(opts, OP_TIMEOUT_MS, errstr, sizeof(errstr)),
        RD_KAFKA_RESP_ERR_NO_ERROR, "%s", errstr);
    cr_assert_eq(
        rd_kafka_AdminOptions_set_validate_only(opts, validate_only, errstr, sizeof(errstr)),
        RD_KAFKA_RESP_ERR_NO_ERROR, "%s", errstr);
    rd_kafka_CreateTopics(rk, nts, cnt, opts, q);
    ev = rd_kafka_queue_poll(q, OP_TIMEOUT_MS + 5000);
    cr_assert_not_null(ev, "no CreateTopics result in time");
    cr_assert_eq(rd_kafka_event_error(ev), RD_KAFKA_RESP_ERR_NO_ERROR, "CreateTopics: %s",
                 rd_kafka_event_error_string(ev));
    res = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &rcnt);
    cr_assert_eq(rcnt, cnt, "%zu topic results for %zu topics", rcnt, cnt);
    for (i = 0; i < cnt; i++) {
        errs[i] = rd_kafka_topic_result_error(res[i]);
        if (msgs)
            snprintf(msgs[i], sizeof(msgs[i]), "%s",
                     rd_kafka_topic_result_error_string(res[i])
                         ? rd_kafka_topic_result_error_string(res[i])
                         : "");
    }
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_AdminOptions_destroy(opts);
    for (i = 0; i < cnt; i++)
        rd_kafka_NewTopic_destroy(nts[i]);
}

/* Creates one topic; returns its error (message in msg if not NULL). */
static rd_kafka_resp_err_t create_topic(rd_kafka_t *rk, rd_kafka_NewTopic_t *nt, int validate_only,
                                        char msg[256])
{
    rd_kafka_resp_err_t err;
    char msgs[1][256];

    create_topics(rk, &nt, 1, validate_only, &err, msgs);
    if (msg)
        snprintf(msg, 256, "%s", msgs[0]);
    return err;
}

/* Partition count of topic in the cluster's metadata (all topics, so that
 * asking does not auto-create it), or -1 if it is not there. The replicas
 * and leader of partition `partition` go to replicas[] (up to 8) and
 * *leader if not NULL. */
static int topic_partitions(rd_kafka_t *rk, const char *topic, int32_t partition, int32_t *replicas,
                            int *replica_cnt, int32_t *leader)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, NULL, &md, OP_TIMEOUT_MS);
    int i, j, cnt = -1;

    cr_assert_eq(err, RD_KAFKA_RESP_ERR_NO_ERROR, "metadata: %s", rd_kafka_err2str(err));
    for (i = 0; i < md->topic_cnt; i++) {
        const struct rd_kafka_metadata_topic *t = &md->topics[i];
        if (strcmp(t->topic, topic))
            continue;
        cr_assert_eq(t->err, RD_KAFKA_RESP_ERR_NO_ERROR, "%s: %s", topic, rd_kafka_err2str(t->err));
        cnt = t->partition_cnt;
        for (j = 0; j < t->partition_cnt; j++) {
            const struct rd_kafka_metadata_partition *mp = &t->partitions[j];
            if (mp->id != partition)
                continue;
            if (replica_cnt) {
                *replica_cnt = mp->replica_cnt;
                memcpy(replicas, mp->replicas,
                       sizeof(*replicas) * (size_t)(mp->replica_cnt < 8 ? mp->replica_cnt : 8));
            }
            if (leader)
                *leader = mp->leader;
        }
    }
    rd_kafka_metadata_destroy(md);
    return cnt;
}

static void read_topic(const char *topic, int32_t partition, char *out, size_t outsz)
{
    rd_kafka_t *c = consumer("read_committed", NULL);
    assign_topic_from_start(c, topic, partition);
    read_to_eof(c, out, outsz);
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
}

Test(broker, create_topics_creates_a_usable_topic)
{
    rd_kafka_t *p = plain_producer();
    rd_kafka_t *tp;
    rd_kafka_NewTopic_t *nt = new_topic("ct", 3, 2);
    int32_t replicas[8], leader = -1;
    int replica_cnt = 0, i;
    char buf[256], msg[256];

    /* The admin client finds a controller: a broker of the cluster. */
    cr_expect_eq(rd_kafka_controllerid(p, OP_TIMEOUT_MS), 1);

    topic_config(nt, "cleanup.policy", "compact");
    cr_assert_eq(create_topic(p, nt, 0, msg), RD_KAFKA_RESP_ERR_NO_ERROR, "%s", msg);

    /* In metadata at once, with the partitions and replicas asked for. */
    for (i = 0; i < 3; i++) {
        cr_assert_eq(topic_partitions(p, "ct", i, replicas, &replica_cnt, &leader), 3);
        cr_expect_eq(replica_cnt, 2, "partition %d: %d replicas", i, replica_cnt);
        cr_expect(leader == replicas[0] || leader == replicas[1], "partition %d: leader %d", i,
                  (int)leader);
    }

    /* Producible and consumable, plainly and in a transaction. */
    produce_to(p, "ct", 2, "v2");
    produce_to(p, "ct", 0, "v0");
    tp = txn_producer("tx-ct", 0);
    begin(tp);
    produce_to(tp, "ct", 2, "x2");
    commit(tp);
    read_topic("ct", 2, buf, sizeof(buf));
    cr_expect_str_eq(buf, "v2,x2");
    read_topic("ct", 0, buf, sizeof(buf));
    cr_expect_str_eq(buf, "v0");
    read_topic("ct", 1, buf, sizeof(buf));
    cr_expect_str_eq(buf, "");

    rd_kafka_destroy(tp);
    rd_kafka_destroy(p);
}

Test(broker, create_topics_existing_topic_already_exists)
{
    rd_kafka_t *p = plain_producer();
    char msg[256];

    cr_assert_eq(create_topic(p, new_topic("ce", 3, 1), 0, msg), RD_KAFKA_RESP_ERR_NO_ERROR, "%s",
                 msg);
    cr_expect_eq(create_topic(p, new_topic("ce", 5, 1), 0, msg),
                 RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS);
    cr_expect_str_eq(msg, "Topic 'ce' already exists.");
    cr_expect_eq(topic_partitions(p, "ce", 0, NULL, NULL, NULL), 3, "the second create changed it");

    /* Also one created through the mock API (as the launcher does). */
    cr_expect_eq(create_topic(p, new_topic(TOPIC, 2, 1), 0, NULL),
                 RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS);
    /* ... and validate_only says so too. */
    cr_expect_eq(create_topic(p, new_topic("ce", 3, 1), 1, NULL),
                 RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS);

    rd_kafka_destroy(p);
}

Test(broker, create_topics_validate_only_creates_nothing)
{
    rd_kafka_t *p = plain_producer();
    char msg[256];

    cr_expect_eq(create_topic(p, new_topic("cv", 2, 3), 1, msg), RD_KAFKA_RESP_ERR_NO_ERROR, "%s",
                 msg);
    cr_expect_eq(topic_partitions(p, "cv", 0, NULL, NULL, NULL), -1, "validate_only created it");

    /* It validates all the same. */
    cr_expect_eq(create_topic(p, new_topic("cv", 0, 1), 1, NULL),
                 RD_KAFKA_RESP_ERR_INVALID_PARTITIONS);
    cr_expect_eq(create_topic(p, new_topic("cv", 1, 4), 1, NULL),
                 RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR);
    cr_expect_eq(topic_partitions(p, "cv", 0, NULL, NULL, NULL), -1);

    /* The real thing then works. */
    cr_expect_eq(create_topic(p, new_topic("cv", 2, 3), 0, msg), RD_KAFKA_RESP_ERR_NO_ERROR, "%s",
                 msg);
    cr_expect_eq(topic_partitions(p, "cv", 0, NULL, NULL, NULL), 2);

    rd_kafka_destroy(p);
}

Test(broker, create_topics_invalid_topics_rejected_valid_ones_created)
{
    rd_kafka_t *p = plain_producer();
    rd_kafka_NewTopic_t *nts[7];
    rd_kafka_resp_err_t errs[7];
    char msgs[7][256];
    const char *names[7] = {"c-p0", "c-rf4", "c-rf0", "c/bad", "c-cfg", "c-null", "c-ok"};
    const rd_kafka_resp_err_t want[7] = {
        RD_KAFKA_RESP_ERR_INVALID_PARTITIONS,
        RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR,
        RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR,
        RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION,
        RD_KAFKA_RESP_ERR_INVALID_CONFIG,
        RD_KAFKA_RESP_ERR_INVALID_CONFIG,
        RD_KAFKA_RESP_ERR_NO_ERROR,
    };
    int i;

    /* One request: each topic gets its own answer. */
    nts[0] = new_topic(names[0], 0, 1);
    nts[1] = new_topic(names[1], 1, 4); /* 3 brokers */
    nts[2] = new_topic(names[2], 1, 0);
    nts[3] = new_topic(names[3], 1, 1);
    nts[4] = new_topic(names[4], 1, 1);
    topic_config(nts[4], "cleanup.policy", "compact,bogus");
    nts[5] = new_topic(names[5], 1, 1);
    topic_config(nts[5], "retention.ms", NULL);
    nts[6] = new_topic(names[6], 2, 3);
    topic_config(nts[6], "cleanup.policy", "compact, delete");
    create_topics(p, nts, 7, 0, errs, msgs);

    for (i = 0; i < 7; i++) {
        cr_expect_eq(errs[i], want[i], "%s: %s (%s), expected %s", names[i],
                     rd_kafka_err2name(errs[i]), msgs[i], rd_kafka_err2name(want[i]));
        if (want[i])
            cr_expect_neq(msgs[i][0], '\0', "%s: no error message", names[i]);
        cr_expect_eq(topic_partitions(p, names[i], 0, NULL, NULL, NULL), want[i] ? -1 : 2, "%s",
                     names[i]);
    }
    cr_expect_str_eq(msgs[0], "Number of partitions was set to an invalid non-positive value.");
    cr_expect(strstr(msgs[1], "only 3 broker(s)") != NULL, "%s", msgs[1]);

    rd_kafka_destroy(p);
}

Test(broker, create_topics_defaults_and_replica_assignment)
{
    rd_kafka_t *p = plain_producer();
    rd_kafka_NewTopic_t *nt;
    int32_t replicas[8], leader = -1;
    int32_t r0[] = {3, 1}, r1[] = {2, 3}, bad[] = {1, 9};
    int replica_cnt = 0;
    char errstr[256], msg[256], buf[64];

    /* -1, -1: the cluster defaults (the mock's 4 partitions, replication
     * factor min(3, brokers)). */
    cr_expect_eq(create_topic(p, new_topic("c-def", -1, -1), 0, msg), RD_KAFKA_RESP_ERR_NO_ERROR,
                 "%s", msg);
    cr_expect_eq(topic_partitions(p, "c-def", 0, replicas, &replica_cnt, NULL), 4);
    cr_expect_eq(replica_cnt, 3);

    /* A manual assignment: its replicas, the first one leading. */
    nt = new_topic("c-asg", 2, -1);
    cr_assert_eq(rd_kafka_NewTopic_set_replica_assignment(nt, 0, r0, 2, errstr, sizeof(errstr)),
                 RD_KAFKA_RESP_ERR_NO_ERROR, "%s", errstr);
    cr_assert_eq(rd_kafka_NewTopic_set_replica_assignment(nt, 1, r1, 2, errstr, sizeof(errstr)),
                 RD_KAFKA_RESP_ERR_NO_ERROR, "%s", errstr);
    cr_expect_eq(create_topic(p, nt, 0, msg), RD_KAFKA_RESP_ERR_NO_ERROR, "%s", msg);
    cr_expect_eq(topic_partitions(p, "c-asg", 0, replicas, &replica_cnt, &leader), 2);
    cr_expect(replica_cnt == 2 && replicas[0] == 3 && replicas[1] == 1 && leader == 3,
              "partition 0: %d replicas, leader %d", replica_cnt, (int)leader);
    cr_expect_eq(topic_partitions(p, "c-asg", 1, replicas, &replica_cnt, &leader), 2);
    cr_expect(replica_cnt == 2 && replicas[0] == 2 && replicas[1] == 3 && leader == 2,
              "partition 1: %d replicas, leader %d", replica_cnt, (int)leader);
    produce_to(p, "c-asg", 1, "a1");
    read_topic("c-asg", 1, buf, sizeof(buf));
    cr_expect_str_eq(buf, "a1");

    /* A broker that does not exist. */
    nt = new_topic("c-asg9", 1, -1);
    cr_assert_eq(rd_kafka_NewTopic_set_replica_assignment(nt, 0, bad, 2, errstr, sizeof(errstr)),
                 RD_KAFKA_RESP_ERR_NO_ERROR, "%s", errstr);
    cr_expect_eq(create_topic(p, nt, 0, msg), RD_KAFKA_RESP_ERR_INVALID_REPLICA_ASSIGNMENT, "%s",
                 msg);
    cr_expect_eq(topic_partitions(p, "c-asg9", 0, NULL, NULL, NULL), -1);

    rd_kafka_destroy(p);
}

Test(broker, create_topics_counts_only_brokers_that_are_up)
{
    rd_kafka_t *p;
    char msg[256];

    /* Broker 1, the controller, goes down: another one takes over, and
     * only two brokers can hold replicas. */
    cr_assert_eq(rd_kafka_mock_broker_set_down(mcluster, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
    p = plain_producer();
    cr_expect_eq(rd_kafka_controllerid(p, OP_TIMEOUT_MS), 2);
    cr_expect_eq(create_topic(p, new_topic("c-down", 1, 3), 0, msg),
                 RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR, "%s", msg);
    cr_expect_eq(create_topic(p, new_topic("c-down", 1, 2), 0, msg), RD_KAFKA_RESP_ERR_NO_ERROR,
                 "%s", msg);
    cr_expect_eq(topic_partitions(p, "c-down", 0, NULL, NULL, NULL), 1);
    rd_kafka_destroy(p);
}

/*
 * The launcher
 */

/* Starts the launcher with args; its stdout is *outfd. */
static pid_t launch(const char *const *args, int *outfd, int quiet)
{
    int fds[2];
    pid_t pid;
    const char *argv[16];
    int i, n = 0;

    /* ctest sets TIDEMARK_TEST_BROKER; the build defines the path too. */
    argv[n++] =
        getenv("TIDEMARK_TEST_BROKER") ? getenv("TIDEMARK_TEST_BROKER") : TIDEMARK_TEST_BROKER_BIN;
    for (i = 0; args[i] && n < 15; i++)
        argv[n++] = args[i];
    argv[n] = NULL;

    cr_assert_eq(pipe(fds), 0);
    pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        if (quiet) {
            int devnull = open("/dev/null", O_WRONLY);
            dup2(devnull, STDERR_FILENO);
        }
        close(fds[0]);
        close(fds[1]);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    *outfd = fds[0];
    return pid;
}

/* Reads the first line of fd, within the deadline. */
static void read_line(int fd, char *buf, size_t bufsz)
{
    size_t len = 0;
    int64_t deadline = tm_test_now_ms() + OP_TIMEOUT_MS;

    while (len + 1 < bufsz) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int64_t left = deadline - tm_test_now_ms();
        ssize_t r;

        cr_assert_gt(left, 0, "no line from the launcher in time");
        if (poll(&pfd, 1, (int)left) <= 0)
            continue;
        r = read(fd, buf + len, 1);
        if (r <= 0)
            break;
        if (buf[len] == '\n')
            break;
        len++;
    }
    buf[len] = '\0';
}

/* Waits for pid to exit; returns its wait status. */
static int wait_exit(pid_t pid)
{
    int64_t deadline = tm_test_now_ms() + OP_TIMEOUT_MS;
    int status;

    while (tm_test_now_ms() < deadline) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return status;
        tm_test_sleep_ms(20);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    cr_assert_fail("launcher did not exit in time");
    return -1;
}

Test(launcher, serves_transactions_until_sigterm)
{
    const char *args[] = {"--brokers", "2", "--topic", "lt:2", "--topic", TOPIC ":1", NULL};
    char line[512];
    rd_kafka_t *p;
    int fd, status;
    pid_t pid = launch(args, &fd, 0);

    read_line(fd, line, sizeof(line));
    cr_assert(strncmp(line, "BOOTSTRAP=", 10) == 0, "first line: %s", line);
    cr_assert(strchr(line + 10, ',') != NULL, "expected two brokers: %s", line);
    snprintf(bootstraps, sizeof(bootstraps), "%s", line + 10);

    p = txn_producer("tx-launcher", 0);
    begin(p);
    produce(p, 0, "l1");
    abort_txn(p);
    begin(p);
    produce(p, 0, "l2");
    commit(p);
    expect_partition(0, "l2", "l1,l2");
    rd_kafka_destroy(p);

    cr_assert_eq(kill(pid, SIGTERM), 0);
    status = wait_exit(pid);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit status %d", status);
    close(fd);
}

Test(launcher, sigint_exits_zero)
{
    const char *args[] = {NULL};
    char line[512];
    int fd, status;
    pid_t pid = launch(args, &fd, 0);

    read_line(fd, line, sizeof(line));
    cr_assert(strncmp(line, "BOOTSTRAP=127.0.0.1:", 20) == 0, "first line: %s", line);
    cr_assert_eq(kill(pid, SIGINT), 0);
    status = wait_exit(pid);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit status %d", status);
    close(fd);
}

Test(launcher, bad_arguments_exit_2)
{
    const char *const bad[][3] = {
        {"--brokers", "0", NULL},  {"--brokers", "x", NULL},        {"--topic", "nopart", NULL},
        {"--topic", "t:0", NULL},  {"--topic", "bad/name:1", NULL}, {"--bogus", NULL, NULL},
        {"--brokers", NULL, NULL},
    };
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char line[512];
        int fd, status;
        pid_t pid = launch(bad[i], &fd, 1);

        status = wait_exit(pid);
        cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 2, "%s %s: exit status %d", bad[i][0],
                  bad[i][1] ? bad[i][1] : "", status);
        read_line(fd, line, sizeof(line));
        cr_expect_str_eq(line, "", "stdout for bad args");
        close(fd);
    }
}
