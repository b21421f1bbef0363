/*
 * Tests of the test broker's limits, retention and admin requests (patch
 * 0004, tests/broker/README.md): record batches over max.message.bytes
 * rejected with MESSAGE_TOO_LARGE, whole partitions kept unless a
 * retention.bytes says otherwise, DescribeConfigs, DeleteTopics and
 * DeleteGroups; DeleteRecords (patch 0007); ListOffsets by timestamp (patch
 * 0008); and the launcher's --message-max-bytes and --retention-bytes. Plain librdkafka clients
 * against an in-process 3-broker mock cluster (a new one for each test), or against the launcher.
 *
 * Every wait is bounded (deadlines, librdkafka timeouts); no Criterion
 * .timeout (its runner leaks under ASan).
 */
#include <criterion/criterion.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "broker.h"
#include "proc.h"

#define OP_TIMEOUT_MS 10000

static rd_kafka_t *mock_rk;
static rd_kafka_mock_cluster_t *mcluster;
static char bootstrap[512];

static void set_conf(rd_kafka_conf_t *conf, const char *name, const char *value)
{
    char errstr[256];

    cr_assert_eq(rd_kafka_conf_set(conf, name, value, errstr, sizeof errstr), RD_KAFKA_CONF_OK,
                 "%s=%s: %s", name, value, errstr);
}

/*
 * Clients and the cluster
 */

/* What the delivery reports of a producer said. */
struct deliveries {
    int ok, failed;
    rd_kafka_resp_err_t err; /* of the last failure */
    int64_t offset;          /* of the last success */
};

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct deliveries *d = opaque;

    (void)rk;
    if (m->err) {
        d->failed++;
        d->err = m->err;
    } else {
        d->ok++;
        d->offset = m->offset;
    }
}

/* A client of the cluster at `bootstrap`, with the extra configs in kv
 * (name, value, ..., NULL); a producer reports deliveries to *d. */
static rd_kafka_t *client(rd_kafka_type_t type, const char *const *kv, struct deliveries *d)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char errstr[256];
    rd_kafka_t *rk;

    set_conf(conf, "bootstrap.servers", bootstrap);
    set_conf(conf, "log_level", "2");
    for (; kv && kv[0]; kv += 2)
        set_conf(conf, kv[0], kv[1]);
    if (d) {
        rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
        rd_kafka_conf_set_opaque(conf, d);
    }
    rk = rd_kafka_new(type, conf, errstr, sizeof errstr);
    cr_assert_not_null(rk, "%s", errstr);
    return rk;
}

/* The cluster of a test: a client with test.mock.num.brokers owns a mock
 * cluster, destroyed with it. */
static void start_cluster(void)
{
    const char *kv[] = {"test.mock.num.brokers", "3", NULL};

    mock_rk = client(RD_KAFKA_PRODUCER, kv, NULL);
    mcluster = rd_kafka_handle_mock_cluster(mock_rk);
    cr_assert_not_null(mcluster);
    cr_assert_eq(rd_kafka_mock_topic_create(mcluster, "t", 2, 3), RD_KAFKA_RESP_ERR_NO_ERROR);
    snprintf(bootstrap, sizeof bootstrap, "%s", rd_kafka_mock_cluster_bootstraps(mcluster));
}

static void stop_cluster(void)
{
    if (mock_rk)
        rd_kafka_destroy(mock_rk);
    mock_rk = NULL;
    mcluster = NULL;
}

TestSuite(admin, .init = start_cluster, .fini = stop_cluster);
TestSuite(admin_launcher, .fini = tm_proc_kill_all);

/*
 * Producing
 */

/* A producer that lets records up to 4 MB through (so that the broker
 * decides), reporting to *d. */
static rd_kafka_t *big_producer(struct deliveries *d)
{
    const char *kv[] = {"message.max.bytes", "4000000", "linger.ms", "0", NULL};
    return client(RD_KAFKA_PRODUCER, kv, d);
}

/* Queues a record of `size` bytes (at least 9) whose value starts with
 * its index, zero-padded: "00000042...". */
static void send_record(rd_kafka_t *p, const char *topic, int32_t partition, size_t size, int index)
{
    char *value = malloc(size);
    rd_kafka_resp_err_t err;

    cr_assert_not_null(value);
    memset(value, 'x', size);
    snprintf(value, 9, "%08d", index);
    err = rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                            RD_KAFKA_V_VALUE(value, size), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE),
                            RD_KAFKA_V_END);
    if (err)
        free(value);
    cr_assert_eq(err, RD_KAFKA_RESP_ERR_NO_ERROR, "produce %zu bytes: %s", size,
                 rd_kafka_err2str(err));
}

static void flush(rd_kafka_t *p)
{
    cr_assert_eq(rd_kafka_flush(p, 3 * OP_TIMEOUT_MS), RD_KAFKA_RESP_ERR_NO_ERROR,
                 "records still queued after %d ms", 3 * OP_TIMEOUT_MS);
}

/* Produces one record of `size` bytes and returns its delivery error. */
static rd_kafka_resp_err_t produce_size(rd_kafka_t *p, struct deliveries *d, const char *topic,
                                        size_t size)
{
    int before = d->ok + d->failed, failed = d->failed;

    send_record(p, topic, 0, size, 0);
    flush(p);
    cr_assert_eq(d->ok + d->failed, before + 1, "one delivery report expected");
    return d->failed > failed ? d->err : RD_KAFKA_RESP_ERR_NO_ERROR;
}

/*
 * Reading
 */

static void watermarks(const char *topic, int32_t partition, int64_t *lo, int64_t *hi)
{
    const char *kv[] = {"group.id", "tidemark-admin-test", NULL};
    rd_kafka_t *c = client(RD_KAFKA_CONSUMER, kv, NULL);
    rd_kafka_resp_err_t err =
        rd_kafka_query_watermark_offsets(c, topic, partition, lo, hi, OP_TIMEOUT_MS);

    cr_assert_eq(err, RD_KAFKA_RESP_ERR_NO_ERROR, "watermarks %s: %s", topic,
                 rd_kafka_err2str(err));
    rd_kafka_destroy(c);
}

/* Reads a partition from its start to its end: returns how many records
 * there were, each checked to carry its own offset as its index
 * (send_record); *first: the first offset read. */
static int64_t read_partition(const char *topic, int32_t partition, int64_t *first)
{
    const char *kv[] = {"group.id", "tidemark-admin-test", "enable.partition.eof",
                        "true",     "enable.auto.commit",  "false",
                        NULL};
    rd_kafka_t *c = client(RD_KAFKA_CONSUMER, kv, NULL);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
    int64_t deadline = tm_test_now_ms() + 3 * OP_TIMEOUT_MS, cnt = 0;

    rd_kafka_topic_partition_list_add(parts, topic, partition)->offset = RD_KAFKA_OFFSET_BEGINNING;
    cr_assert_eq(rd_kafka_assign(c, parts), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(parts);
    *first = -1;
    for (;;) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);

        cr_assert_lt(tm_test_now_ms(), deadline, "no end of %s [%d] in time (%lld read)", topic,
                     (int)partition, (long long)cnt);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            rd_kafka_message_destroy(m);
            break;
        }
        cr_assert_eq(m->err, RD_KAFKA_RESP_ERR_NO_ERROR, "consume: %s", rd_kafka_message_errstr(m));
        cr_assert_eq(strtoll((const char *)m->payload, NULL, 10), m->offset,
                     "record at offset %lld has another index", (long long)m->offset);
        if (*first < 0)
            *first = m->offset;
        cnt++;
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    return cnt;
}

/*
 * Admin requests
 */

static rd_kafka_AdminOptions_t *admin_options(rd_kafka_t *rk, rd_kafka_admin_op_t op)
{
    rd_kafka_AdminOptions_t *opts = rd_kafka_AdminOptions_new(rk, op);
    char errstr[256];

    cr_assert_eq(
        rd_kafka_AdminOptions_set_request_timeout(opts, OP_TIMEOUT_MS, errstr, sizeof errstr),
        RD_KAFKA_RESP_ERR_NO_ERROR, "%s", errstr);
    return opts;
}

/* Waits for the result of an admin request on q; the request as a whole
 * must have succeeded. */
static rd_kafka_event_t *admin_result(rd_kafka_queue_t *q)
{
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, OP_TIMEOUT_MS + 5000);

    cr_assert_not_null(ev, "no admin result in time");
    cr_assert_eq(rd_kafka_event_error(ev), RD_KAFKA_RESP_ERR_NO_ERROR, "%s: %s",
                 rd_kafka_event_name(ev), rd_kafka_event_error_string(ev));
    return ev;
}

/* CreateTopics of one topic with one config (name NULL: none); returns
 * its error, its message in msg. */
static rd_kafka_resp_err_t create_topic(rd_kafka_t *rk, const char *topic, int partitions,
                                        const char *name, const char *value, char msg[256])
{
    rd_kafka_AdminOptions_t *opts = admin_options(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    char errstr[256];
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, partitions, 3, errstr, sizeof errstr);
    const rd_kafka_topic_result_t **res;
    rd_kafka_event_t *ev;
    rd_kafka_resp_err_t err;
    size_t cnt = 0;

    cr_assert_not_null(nt, "%s", errstr);
    if (name)
        cr_assert_eq(rd_kafka_NewTopic_set_config(nt, name, value), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_CreateTopics(rk, &nt, 1, opts, q);
    ev = admin_result(q);
    res = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &cnt);
    cr_assert_eq(cnt, 1);
    err = rd_kafka_topic_result_error(res[0]);
    snprintf(msg, 256, "%s",
             rd_kafka_topic_result_error_string(res[0]) ? rd_kafka_topic_result_error_string(res[0])
                                                        : "");
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_AdminOptions_destroy(opts);
    rd_kafka_NewTopic_destroy(nt);
    return err;
}

/* DeleteTopics (groups false) or DeleteGroups of the cnt names; their
 * errors go to errs[] (librdkafka keeps the order of the request). */
static void delete_named(rd_kafka_t *rk, bool groups, const char *const *names, size_t cnt,
                         rd_kafka_resp_err_t *errs)
{
    rd_kafka_AdminOptions_t *opts =
        admin_options(rk, groups ? RD_KAFKA_ADMIN_OP_DELETEGROUPS : RD_KAFKA_ADMIN_OP_DELETETOPICS);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_DeleteTopic_t *topics[8];
    rd_kafka_DeleteGroup_t *dgroups[8];
    const rd_kafka_topic_result_t **tres = NULL;
    const rd_kafka_group_result_t **gres = NULL;
    rd_kafka_event_t *ev;
    size_t i, rcnt = 0;

    cr_assert_leq(cnt, 8);
    for (i = 0; i < cnt; i++) {
        if (groups)
            dgroups[i] = rd_kafka_DeleteGroup_new(names[i]);
        else
            topics[i] = rd_kafka_DeleteTopic_new(names[i]);
    }
    if (groups)
        rd_kafka_DeleteGroups(rk, dgroups, cnt, opts, q);
    else
        rd_kafka_DeleteTopics(rk, topics, cnt, opts, q);
    ev = admin_result(q);
    if (groups)
        gres = rd_kafka_DeleteGroups_result_groups(rd_kafka_event_DeleteGroups_result(ev), &rcnt);
    else
        tres = rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &rcnt);
    cr_assert_eq(rcnt, cnt);
    for (i = 0; i < cnt; i++) {
        const rd_kafka_error_t *error = gres ? rd_kafka_group_result_error(gres[i]) : NULL;

        cr_assert_str_eq(gres ? rd_kafka_group_result_name(gres[i])
                              : rd_kafka_topic_result_name(tres[i]),
                         names[i]);
        errs[i] = gres ? (error ? rd_kafka_error_code(error) : RD_KAFKA_RESP_ERR_NO_ERROR)
                       : rd_kafka_topic_result_error(tres[i]);
    }
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_AdminOptions_destroy(opts);
    if (groups)
        rd_kafka_DeleteGroup_destroy_array(dgroups, cnt);
    else
        rd_kafka_DeleteTopic_destroy_array(topics, cnt);
}

/* The configs of one DescribeConfigs resource. */
struct described {
    rd_kafka_resp_err_t err;
    size_t cnt;
    char names[32][64], values[32][64];
    rd_kafka_ConfigSource_t sources[32];
    size_t synonyms[32];
};

/* DescribeConfigs of one resource (key: only that config; NULL: all). */
static void describe(rd_kafka_t *rk, rd_kafka_ResourceType_t type, const char *name,
                     const char *key, struct described *out)
{
    rd_kafka_AdminOptions_t *opts = admin_options(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_ConfigResource_t *cr = rd_kafka_ConfigResource_new(type, name);
    const rd_kafka_ConfigResource_t **res;
    const rd_kafka_ConfigEntry_t **entries;
    rd_kafka_event_t *ev;
    size_t i, rcnt = 0, ecnt = 0;

    /* DescribeConfigs sends the names only; librdkafka wants a value. */
    if (key)
        cr_assert_eq(rd_kafka_ConfigResource_set_config(cr, key, ""), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_DescribeConfigs(rk, &cr, 1, opts, q);
    ev = admin_result(q);
    res =
        rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev), &rcnt);
    cr_assert_eq(rcnt, 1);
    memset(out, 0, sizeof *out);
    out->err = rd_kafka_ConfigResource_error(res[0]);
    entries = rd_kafka_ConfigResource_configs(res[0], &ecnt);
    cr_assert_leq(ecnt, 32);
    for (i = 0; i < ecnt; i++) {
        const rd_kafka_ConfigEntry_t *e = entries[i];
        size_t scnt = 0;

        snprintf(out->names[i], sizeof out->names[i], "%s", rd_kafka_ConfigEntry_name(e));
        snprintf(out->values[i], sizeof out->values[i], "%s",
                 rd_kafka_ConfigEntry_value(e) ? rd_kafka_ConfigEntry_value(e) : "(null)");
        out->sources[i] = rd_kafka_ConfigEntry_source(e);
        rd_kafka_ConfigEntry_synonyms(e, &scnt);
        out->synonyms[i] = scnt;
    }
    out->cnt = ecnt;
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_AdminOptions_destroy(opts);
    rd_kafka_ConfigResource_destroy(cr);
}

/* Asserts that config name is described with value and source. */
static void expect_config(const struct described *d, const char *name, const char *value,
                          rd_kafka_ConfigSource_t source)
{
    size_t i;

    for (i = 0; i < d->cnt && strcmp(d->names[i], name); i++)
        ;
    cr_assert_lt(i, d->cnt, "no config %s", name);
    cr_expect_str_eq(d->values[i], value, "%s", name);
    cr_expect_eq(d->sources[i], source, "%s: source %s, expected %s", name,
                 rd_kafka_ConfigSource_name(d->sources[i]), rd_kafka_ConfigSource_name(source));
    cr_expect_eq(d->synonyms[i], 1, "%s: %zu synonyms", name, d->synonyms[i]);
}

/* The offset of group committed for topic [0], as OffsetFetch reports it. */
static int64_t committed(const char *group, const char *topic)
{
    const char *kv[] = {"group.id", group, NULL};
    rd_kafka_t *c = client(RD_KAFKA_CONSUMER, kv, NULL);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_resp_err_t err;
    int64_t offset;

    rd_kafka_topic_partition_list_add(parts, topic, 0);
    err = rd_kafka_committed(c, parts, OP_TIMEOUT_MS);
    cr_assert_eq(err, RD_KAFKA_RESP_ERR_NO_ERROR, "committed: %s", rd_kafka_err2str(err));
    cr_assert_eq(parts->elems[0].err, RD_KAFKA_RESP_ERR_NO_ERROR, "committed: %s",
                 rd_kafka_err2str(parts->elems[0].err));
    offset = parts->elems[0].offset;
    rd_kafka_topic_partition_list_destroy(parts);
    rd_kafka_destroy(c);
    return offset;
}

/* Commits offset for group on topic [0], without joining the group. */
static void commit(const char *group, const char *topic, int64_t offset)
{
    const char *kv[] = {"group.id", group, NULL};
    rd_kafka_t *c = client(RD_KAFKA_CONSUMER, kv, NULL);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_resp_err_t err;

    rd_kafka_topic_partition_list_add(parts, topic, 0)->offset = offset;
    err = rd_kafka_commit(c, parts, 0);
    cr_assert_eq(err, RD_KAFKA_RESP_ERR_NO_ERROR, "commit: %s", rd_kafka_err2str(err));
    rd_kafka_topic_partition_list_destroy(parts);
    rd_kafka_destroy(c);
}

/* Whether topic is in the cluster's metadata (all topics, so that asking
 * does not create it). */
static bool in_metadata(rd_kafka_t *rk, const char *topic)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, NULL, &md, OP_TIMEOUT_MS);
    bool found = false;
    int i;

    cr_assert_eq(err, RD_KAFKA_RESP_ERR_NO_ERROR, "metadata: %s", rd_kafka_err2str(err));
    for (i = 0; i < md->topic_cnt; i++)
        found = found || !strcmp(md->topics[i].topic, topic);
    rd_kafka_metadata_destroy(md);
    return found;
}

/*
 * max.message.bytes
 */

Test(admin, batch_over_the_default_limit_is_rejected)
{
    struct deliveries d = {0};
    rd_kafka_t *p = big_producer(&d);
    int64_t lo, hi;

    /* Kafka's default limit is 1 MiB + 12: one record of 1 MB fits in a
     * batch under it, one of 1.1 MB does not. */
    cr_expect_eq(produce_size(p, &d, "t", 1100000), RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
    cr_expect_eq(produce_size(p, &d, "t", 1000000), RD_KAFKA_RESP_ERR_NO_ERROR);
    watermarks("t", 0, &lo, &hi);
    cr_expect_eq(hi, 1, "the rejected batch was appended (high watermark %lld)", (long long)hi);
    cr_expect_eq(d.offset, 0);
    rd_kafka_destroy(p);
}

Test(admin, topic_max_message_bytes_from_create_topics)
{
    struct deliveries d = {0};
    rd_kafka_t *p = big_producer(&d);
    char msg[256];
    int64_t lo, hi;

    cr_assert_eq(create_topic(p, "small", 1, "max.message.bytes", "2000", msg),
                 RD_KAFKA_RESP_ERR_NO_ERROR, "%s", msg);
    cr_expect_eq(produce_size(p, &d, "small", 3000), RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
    cr_expect_eq(produce_size(p, &d, "small", 1000), RD_KAFKA_RESP_ERR_NO_ERROR);
    watermarks("small", 0, &lo, &hi);
    cr_expect_eq(hi, 1);

    /* Values Kafka rejects. */
    cr_expect_eq(create_topic(p, "bad", 1, "max.message.bytes", "2k", msg),
                 RD_KAFKA_RESP_ERR_INVALID_CONFIG);
    cr_expect_str_eq(msg, "Invalid value 2k for configuration max.message.bytes: Not a number "
                          "of type INT");
    cr_expect_eq(create_topic(p, "bad", 1, "max.message.bytes", "-1", msg),
                 RD_KAFKA_RESP_ERR_INVALID_CONFIG);
    cr_expect_str_eq(msg, "Invalid value -1 for configuration max.message.bytes: Value must be "
                          "at least 0");
    cr_expect_eq(create_topic(p, "bad", 1, "retention.bytes", "lots", msg),
                 RD_KAFKA_RESP_ERR_INVALID_CONFIG);
    cr_expect_not(in_metadata(p, "bad"));
    rd_kafka_destroy(p);
}

Test(admin, max_message_bytes_set_through_the_mock_api)
{
    struct deliveries d = {0};
    rd_kafka_t *p = big_producer(&d);

    /* The brokers' message.max.bytes is the default of every topic. */
    cr_assert_eq(rd_kafka_mock_set_message_max_bytes(mcluster, 2000), RD_KAFKA_RESP_ERR_NO_ERROR);
    cr_expect_eq(produce_size(p, &d, "t", 3000), RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
    cr_expect_eq(produce_size(p, &d, "t", 1000), RD_KAFKA_RESP_ERR_NO_ERROR);

    /* A topic's own max.message.bytes wins, until it is removed. */
    cr_assert_eq(rd_kafka_mock_topic_set_config(mcluster, "t", "max.message.bytes", "5000"),
                 RD_KAFKA_RESP_ERR_NO_ERROR);
    cr_expect_eq(produce_size(p, &d, "t", 3000), RD_KAFKA_RESP_ERR_NO_ERROR);
    cr_expect_eq(produce_size(p, &d, "t", 6000), RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
    cr_assert_eq(rd_kafka_mock_topic_set_config(mcluster, "t", "max.message.bytes", NULL),
                 RD_KAFKA_RESP_ERR_NO_ERROR);
    cr_expect_eq(produce_size(p, &d, "t", 3000), RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);

    cr_expect_eq(rd_kafka_mock_topic_set_config(mcluster, "t", "max.message.bytes", "big"),
                 RD_KAFKA_RESP_ERR_INVALID_CONFIG);
    cr_expect_eq(rd_kafka_mock_topic_set_config(mcluster, "nope", "max.message.bytes", "1"),
                 RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
    cr_expect_eq(rd_kafka_mock_set_message_max_bytes(mcluster, -1), RD_KAFKA_RESP_ERR__INVALID_ARG);
    cr_expect_eq(d.ok, 2);
    rd_kafka_destroy(p);
}

Test(admin, oversized_record_makes_the_transaction_abortable)
{
    const char *kv[] = {"transactional.id", "tx-big", "linger.ms", "0", NULL};
    struct deliveries d = {0};
    rd_kafka_t *p = client(RD_KAFKA_PRODUCER, kv, &d);
    rd_kafka_error_t *error;
    int64_t first, lo, hi;
    int attempt;

    cr_assert_eq(rd_kafka_mock_topic_set_config(mcluster, "t", "max.message.bytes", "2000"),
                 RD_KAFKA_RESP_ERR_NO_ERROR);
    error = rd_kafka_init_transactions(p, OP_TIMEOUT_MS);
    cr_assert_null(error, "init_transactions: %s", error ? rd_kafka_error_string(error) : "");

    /* A record that fits (offset 0), then one that does not, each in its
     * own batch. */
    cr_assert_null(rd_kafka_begin_transaction(p));
    send_record(p, "t", 0, 100, 0);
    flush(p);
    send_record(p, "t", 0, 3000, 1);
    flush(p);
    cr_expect_eq(d.ok, 1);
    cr_expect_eq(d.err, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, "delivery: %s",
                 rd_kafka_err2name(d.err));
    error = rd_kafka_commit_transaction(p, OP_TIMEOUT_MS);
    cr_assert_not_null(error, "a transaction with a rejected record committed");
    cr_expect(rd_kafka_error_txn_requires_abort(error), "not abortable: %s",
              rd_kafka_error_string(error));
    cr_expect_not(rd_kafka_error_is_fatal(error), "fatal: %s", rd_kafka_error_string(error));
    rd_kafka_error_destroy(error);
    error = rd_kafka_abort_transaction(p, OP_TIMEOUT_MS);
    cr_assert_null(error, "abort_transaction: %s", error ? rd_kafka_error_string(error) : "");

    /* The producer goes on. The rejected record used up a sequence number
     * that the broker never saw, so the next transaction may fail too
     * (librdkafka: "skipped sequence numbers", abortable, the epoch bumped
     * on abort; Kafka answers OUT_OF_ORDER_SEQUENCE_NUMBER as the mock
     * does); the one after commits. Each record's index is the offset it
     * gets if appended. */
    for (attempt = 0;; attempt++) {
        cr_assert_lt(attempt, 3, "no transaction committed after the rejected record");
        watermarks("t", 0, &lo, &hi);
        cr_assert_null(rd_kafka_begin_transaction(p));
        send_record(p, "t", 0, 100, (int)hi);
        error = rd_kafka_commit_transaction(p, OP_TIMEOUT_MS);
        if (!error)
            break;
        cr_assert(rd_kafka_error_txn_requires_abort(error), "commit_transaction: %s",
                  rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
        error = rd_kafka_abort_transaction(p, OP_TIMEOUT_MS);
        cr_assert_null(error, "abort_transaction: %s", error ? rd_kafka_error_string(error) : "");
    }
    rd_kafka_destroy(p);

    /* read_committed (librdkafka's default) sees only the last record. */
    cr_expect_eq(read_partition("t", 0, &first), 1);
    cr_expect_eq(first, hi);
}

/*
 * Retention
 */

Test(admin, partition_keeps_everything_by_default)
{
    const char *kv[] = {"linger.ms", "5", NULL};
    struct deliveries d = {0};
    rd_kafka_t *p = client(RD_KAFKA_PRODUCER, kv, &d);
    int64_t first, lo, hi, i, n = 1100;

    /* 11 MB in one partition: more than the unpatched mock's 5 MB. */
    for (i = 0; i < n; i++)
        send_record(p, "t", 0, 10000, (int)i);
    flush(p);
    cr_assert_eq(d.ok, n, "%d delivered, %d failed (%s)", d.ok, d.failed, rd_kafka_err2name(d.err));
    rd_kafka_destroy(p);

    watermarks("t", 0, &lo, &hi);
    cr_expect_eq(lo, 0, "log start offset %lld", (long long)lo);
    cr_expect_eq(hi, n);
    cr_expect_eq(read_partition("t", 0, &first), n);
    cr_expect_eq(first, 0);
}

Test(admin, retention_bytes_drops_the_oldest_batches)
{
    struct deliveries d = {0};
    rd_kafka_t *p = client(RD_KAFKA_PRODUCER, NULL, &d);
    int64_t first, kept, lo, hi, i, n = 50;
    char msg[256];

    /* 100 kB a partition, except for topic "u", which keeps everything. */
    rd_kafka_mock_set_retention_bytes(mcluster, 100000);
    cr_assert_eq(create_topic(p, "u", 1, "retention.bytes", "-1", msg), RD_KAFKA_RESP_ERR_NO_ERROR,
                 "%s", msg);
    /* One record a batch (flushed one by one): batches of 10 kB and a
     * few bytes, so that 9 of them fit. */
    for (i = 0; i < n; i++) {
        send_record(p, "t", 0, 10000, (int)i);
        send_record(p, "u", 0, 10000, (int)i);
        flush(p);
    }
    cr_assert_eq(d.ok, 2 * n, "%d delivered, %d failed", d.ok, d.failed);
    rd_kafka_destroy(p);

    watermarks("t", 0, &lo, &hi);
    cr_expect_eq(hi, n);
    cr_expect_eq(lo, n - 9, "log start offset %lld", (long long)lo);
    kept = read_partition("t", 0, &first);
    cr_expect_eq(kept, 9);
    cr_expect_eq(first, n - 9);

    watermarks("u", 0, &lo, &hi);
    cr_expect_eq(lo, 0);
    cr_expect_eq(read_partition("u", 0, &first), n);
}

/*
 * DescribeConfigs
 */

Test(admin, describe_configs_of_topics_and_brokers)
{
    rd_kafka_t *p = client(RD_KAFKA_PRODUCER, NULL, NULL);
    struct described d;
    char msg[256];

    cr_assert_eq(create_topic(p, "dc", 1, "cleanup.policy", "compact", msg),
                 RD_KAFKA_RESP_ERR_NO_ERROR, "%s", msg);
    cr_assert_eq(rd_kafka_mock_topic_set_config(mcluster, "dc", "max.message.bytes", "2000"),
                 RD_KAFKA_RESP_ERR_NO_ERROR);
    cr_assert_eq(rd_kafka_mock_topic_set_config(mcluster, "dc", "flush.ms", "1000"),
                 RD_KAFKA_RESP_ERR_NO_ERROR);

    /* Set on the topic, and Kafka's defaults for the rest. */
    describe(p, RD_KAFKA_RESOURCE_TOPIC, "dc", NULL, &d);
    cr_assert_eq(d.err, RD_KAFKA_RESP_ERR_NO_ERROR, "%s", rd_kafka_err2str(d.err));
    cr_expect_eq(d.cnt, 9, "%zu configs", d.cnt);
    expect_config(&d, "cleanup.policy", "compact", RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG);
    expect_config(&d, "max.message.bytes", "2000", RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG);
    expect_config(&d, "flush.ms", "1000", RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG);
    expect_config(&d, "retention.ms", "604800000", RD_KAFKA_CONFIG_SOURCE_DEFAULT_CONFIG);
    expect_config(&d, "retention.bytes", "-1", RD_KAFKA_CONFIG_SOURCE_DEFAULT_CONFIG);
    expect_config(&d, "segment.bytes", "1073741824", RD_KAFKA_CONFIG_SOURCE_DEFAULT_CONFIG);
    expect_config(&d, "segment.ms", "604800000", RD_KAFKA_CONFIG_SOURCE_DEFAULT_CONFIG);
    expect_config(&d, "min.cleanable.dirty.ratio", "0.5", RD_KAFKA_CONFIG_SOURCE_DEFAULT_CONFIG);
    expect_config(&d, "message.timestamp.type", "CreateTime",
                  RD_KAFKA_CONFIG_SOURCE_DEFAULT_CONFIG);

    /* A topic without configs follows the brokers' settings. */
    describe(p, RD_KAFKA_RESOURCE_TOPIC, "t", NULL, &d);
    expect_config(&d, "cleanup.policy", "delete", RD_KAFKA_CONFIG_SOURCE_DEFAULT_CONFIG);
    expect_config(&d, "max.message.bytes", "1048588", RD_KAFKA_CONFIG_SOURCE_DEFAULT_CONFIG);
    cr_assert_eq(rd_kafka_mock_set_message_max_bytes(mcluster, 3000000),
                 RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_mock_set_retention_bytes(mcluster, 7000000);
    describe(p, RD_KAFKA_RESOURCE_TOPIC, "t", NULL, &d);
    expect_config(&d, "max.message.bytes", "3000000", RD_KAFKA_CONFIG_SOURCE_STATIC_BROKER_CONFIG);
    expect_config(&d, "retention.bytes", "7000000", RD_KAFKA_CONFIG_SOURCE_STATIC_BROKER_CONFIG);

    /* Only the configs asked for. */
    describe(p, RD_KAFKA_RESOURCE_TOPIC, "dc", "segment.ms", &d);
    cr_expect_eq(d.cnt, 1, "%zu configs", d.cnt);
    expect_config(&d, "segment.ms", "604800000", RD_KAFKA_CONFIG_SOURCE_DEFAULT_CONFIG);

    describe(p, RD_KAFKA_RESOURCE_TOPIC, "missing", NULL, &d);
    cr_expect_eq(d.err, RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, "%s", rd_kafka_err2str(d.err));
    cr_expect_eq(d.cnt, 0);
    cr_expect_not(in_metadata(p, "missing"), "describing a topic created it");

    /* A broker describes itself (librdkafka sends the request to it). */
    describe(p, RD_KAFKA_RESOURCE_BROKER, "2", NULL, &d);
    cr_assert_eq(d.err, RD_KAFKA_RESP_ERR_NO_ERROR, "%s", rd_kafka_err2str(d.err));
    expect_config(&d, "message.max.bytes", "3000000", RD_KAFKA_CONFIG_SOURCE_STATIC_BROKER_CONFIG);
    expect_config(&d, "log.retention.bytes", "7000000",
                  RD_KAFKA_CONFIG_SOURCE_STATIC_BROKER_CONFIG);
    rd_kafka_destroy(p);
}

/*
 * DeleteTopics
 */

Test(admin, delete_topics_deletes_topics_and_their_records)
{
    const char *const topics[] = {"gone", "never-was"};
    rd_kafka_resp_err_t errs[2];
    struct deliveries d = {0};
    rd_kafka_t *p = client(RD_KAFKA_PRODUCER, NULL, &d);
    rd_kafka_t *admin = client(RD_KAFKA_PRODUCER, NULL, NULL);
    char msg[256];
    int64_t first, lo, hi;
    int i;

    cr_assert_eq(create_topic(admin, "gone", 2, NULL, NULL, msg), RD_KAFKA_RESP_ERR_NO_ERROR, "%s",
                 msg);
    for (i = 0; i < 3; i++)
        send_record(p, "gone", 0, 100, i);
    flush(p);
    cr_assert_eq(d.ok, 3);
    commit("g-gone", "gone", 3);
    cr_assert_eq(committed("g-gone", "gone"), 3);
    /* The producer goes first: it would ask for the topic's metadata and
     * so create it again (auto-creation, as on a default Kafka). */
    rd_kafka_destroy(p);

    delete_named(admin, false, topics, 2, errs);
    cr_expect_eq(errs[0], RD_KAFKA_RESP_ERR_NO_ERROR, "%s", rd_kafka_err2str(errs[0]));
    cr_expect_eq(errs[1], RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, "%s", rd_kafka_err2str(errs[1]));
    cr_expect_not(in_metadata(admin, "gone"));
    cr_expect(in_metadata(admin, "t"));

    /* The same name again: a new, empty topic, without committed offsets. */
    cr_assert_eq(create_topic(admin, "gone", 1, NULL, NULL, msg), RD_KAFKA_RESP_ERR_NO_ERROR, "%s",
                 msg);
    watermarks("gone", 0, &lo, &hi);
    cr_expect_eq(lo, 0);
    cr_expect_eq(hi, 0);
    cr_expect_eq(committed("g-gone", "gone"), RD_KAFKA_OFFSET_INVALID);
    memset(&d, 0, sizeof d);
    p = client(RD_KAFKA_PRODUCER, NULL, &d);
    send_record(p, "gone", 0, 100, 0);
    flush(p);
    cr_expect_eq(d.ok, 1);
    cr_expect_eq(d.offset, 0);
    cr_expect_eq(read_partition("gone", 0, &first), 1);
    rd_kafka_destroy(p);
    rd_kafka_destroy(admin);
}

/*
 * DeleteRecords (patch 0007)
 */

/* DeleteRecords of "t" [0] below `offset`: the partition's error, and
 * its low watermark afterwards in *low. */
static rd_kafka_resp_err_t delete_records(rd_kafka_t *rk, int64_t offset, int64_t *low)
{
    rd_kafka_AdminOptions_t *opts = admin_options(rk, RD_KAFKA_ADMIN_OP_DELETERECORDS);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, "t", 0)->offset = offset;
    rd_kafka_DeleteRecords_t *del = rd_kafka_DeleteRecords_new(list);
    rd_kafka_DeleteRecords(rk, &del, 1, opts, q);
    rd_kafka_event_t *ev = admin_result(q);
    const rd_kafka_topic_partition_list_t *got =
        rd_kafka_DeleteRecords_result_offsets(rd_kafka_event_DeleteRecords_result(ev));
    cr_assert_eq(got->cnt, 1);
    rd_kafka_resp_err_t err = got->elems[0].err;
    *low = got->elems[0].offset;
    rd_kafka_event_destroy(ev);
    rd_kafka_DeleteRecords_destroy(del);
    rd_kafka_topic_partition_list_destroy(list);
    rd_kafka_queue_destroy(q);
    rd_kafka_AdminOptions_destroy(opts);
    return err;
}

/* What a consumer gets when it fetches "t" [0] from `offset` with
 * auto.offset.reset=error: its first record's offset, or -1 and the
 * error in *err and its text in msg. */
static int64_t fetch_at(int64_t offset, rd_kafka_resp_err_t *err, char msg[256])
{
    const char *kv[] = {"group.id", "tidemark-admin-test", "auto.offset.reset",
                        "error",    "enable.auto.commit",  "false",
                        NULL};
    rd_kafka_t *c = client(RD_KAFKA_CONSUMER, kv, NULL);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
    int64_t deadline = tm_test_now_ms() + 3 * OP_TIMEOUT_MS, got = -1;

    rd_kafka_topic_partition_list_add(parts, "t", 0)->offset = offset;
    cr_assert_eq(rd_kafka_assign(c, parts), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(parts);
    *err = RD_KAFKA_RESP_ERR_NO_ERROR;
    msg[0] = '\0';
    while (got < 0 && !*err) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
        cr_assert_lt(tm_test_now_ms(), deadline, "nothing fetched from offset %lld in time",
                     (long long)offset);
        if (!m)
            continue;
        if (m->err) {
            *err = m->err;
            snprintf(msg, 256, "%s", rd_kafka_message_errstr(m));
        } else {
            got = m->offset;
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    return got;
}

Test(admin, delete_records_moves_the_log_start_offset_as_kafka_does)
{
    struct deliveries d = {0};
    rd_kafka_t *p = client(RD_KAFKA_PRODUCER, NULL, &d);
    rd_kafka_t *admin = client(RD_KAFKA_PRODUCER, NULL, NULL);
    rd_kafka_resp_err_t err;
    int64_t first, lo, hi, low;
    char msg[256];

    /* Offsets 0-2 in one batch, 3 and 4 in batches of their own. */
    for (int i = 0; i < 3; i++)
        send_record(p, "t", 0, 100, i);
    flush(p);
    for (int i = 3; i < 5; i++) {
        send_record(p, "t", 0, 100, i);
        flush(p);
    }
    cr_assert_eq(d.ok, 5);

    /* Inside the first batch: the log starts at 2 exactly. */
    cr_expect_eq(delete_records(admin, 2, &low), RD_KAFKA_RESP_ERR_NO_ERROR);
    cr_expect_eq(low, 2);
    watermarks("t", 0, &lo, &hi);
    cr_expect_eq(lo, 2);
    cr_expect_eq(hi, 5);
    cr_expect_eq(read_partition("t", 0, &first), 3, "offsets 2, 3 and 4 are left");
    cr_expect_eq(first, 2);

    /* Fetching below the log start is out of range; at it, it reads. */
    cr_expect_eq(fetch_at(1, &err, msg), -1);
    cr_expect_eq(err, RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET, "%s", rd_kafka_err2str(err));
    cr_expect(strstr(msg, "Offset out of range"), "%s", msg);
    cr_expect_eq(fetch_at(2, &err, msg), 2, "%s", msg);

    /* Beyond the high watermark: out of range, nothing deleted. Below the
     * log start: nothing changes, the log never starts earlier again. */
    cr_expect_eq(delete_records(admin, 6, &low), RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE);
    cr_expect_eq(delete_records(admin, 1, &low), RD_KAFKA_RESP_ERR_NO_ERROR);
    cr_expect_eq(low, 2);
    watermarks("t", 0, &lo, &hi);
    cr_expect_eq(lo, 2);

    /* -1 is the high watermark: everything goes, appends go on after it. */
    cr_expect_eq(delete_records(admin, -1, &low), RD_KAFKA_RESP_ERR_NO_ERROR);
    cr_expect_eq(low, 5);
    send_record(p, "t", 0, 100, 5);
    flush(p);
    cr_expect_eq(d.offset, 5);
    cr_expect_eq(read_partition("t", 0, &first), 1);
    cr_expect_eq(first, 5);
    rd_kafka_destroy(p);
    rd_kafka_destroy(admin);
}

/*
 * ListOffsets by timestamp (patch 0008)
 */

/* Produces to "t" [0] one record stamped ts (CreateTime). */
static void send_at(rd_kafka_t *p, int64_t ts)
{
    cr_assert_eq(rd_kafka_producev(p, RD_KAFKA_V_TOPIC("t"), RD_KAFKA_V_PARTITION(0),
                                   RD_KAFKA_V_VALUE("v", 1), RD_KAFKA_V_TIMESTAMP(ts),
                                   RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
                 RD_KAFKA_RESP_ERR_NO_ERROR);
}

/* rd_kafka_offsets_for_times() of "t" [0] at ts, by a consumer of that
 * isolation.level. */
static int64_t offset_for_time(int64_t ts, const char *isolation)
{
    const char *kv[] = {"isolation.level", isolation, NULL};
    rd_kafka_t *c = client(RD_KAFKA_CONSUMER, kv, NULL);
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, "t", 0)->offset = ts;
    rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(c, list, OP_TIMEOUT_MS);
    cr_assert_eq(err, RD_KAFKA_RESP_ERR_NO_ERROR, "offsets_for_times: %s", rd_kafka_err2str(err));
    cr_assert_eq(list->elems[0].err, RD_KAFKA_RESP_ERR_NO_ERROR, "offsets_for_times: %s",
                 rd_kafka_err2str(list->elems[0].err));
    int64_t offset = list->elems[0].offset;
    rd_kafka_topic_partition_list_destroy(list);
    rd_kafka_destroy(c);
    return offset;
}

static void txn_ok(rd_kafka_error_t *error, const char *what)
{
    cr_assert_null(error, "%s: %s", what, error ? rd_kafka_error_string(error) : "");
}

Test(admin, offsets_for_times_answer_as_kafka_does)
{
    struct deliveries d = {0};
    rd_kafka_t *p = client(RD_KAFKA_PRODUCER, NULL, &d);
    rd_kafka_t *admin = client(RD_KAFKA_PRODUCER, NULL, NULL);
    int64_t low;

    /* Offsets 0-2 in one batch, stamped out of order as CreateTime may be;
     * offset 3 in a batch of its own. */
    send_at(p, 1000);
    send_at(p, 3000);
    send_at(p, 2000);
    flush(p);
    send_at(p, 5000);
    flush(p);
    cr_assert_eq(d.ok, 4);

    /* The first record whose timestamp is at least the time: inside a
     * batch too, and none that late is -1. */
    cr_expect_eq(offset_for_time(500, "read_uncommitted"), 0);
    cr_expect_eq(offset_for_time(1000, "read_uncommitted"), 0);
    cr_expect_eq(offset_for_time(1001, "read_uncommitted"), 1);
    cr_expect_eq(offset_for_time(2500, "read_uncommitted"), 1);
    cr_expect_eq(offset_for_time(3001, "read_uncommitted"), 3);
    cr_expect_eq(offset_for_time(5000, "read_committed"), 3);
    cr_expect_eq(offset_for_time(5001, "read_uncommitted"), -1);

    /* After DeleteRecords, only records at or above the log start. */
    cr_assert_eq(delete_records(admin, 2, &low), RD_KAFKA_RESP_ERR_NO_ERROR);
    cr_expect_eq(offset_for_time(500, "read_uncommitted"), 2);
    cr_expect_eq(offset_for_time(2500, "read_uncommitted"), 3);

    /* A record of an open transaction (offset 4) answers read_uncommitted
     * only; once committed, read_committed too. */
    const char *kv[] = {"transactional.id", "tx-times", NULL};
    rd_kafka_t *tp = client(RD_KAFKA_PRODUCER, kv, NULL);
    txn_ok(rd_kafka_init_transactions(tp, OP_TIMEOUT_MS), "init_transactions");
    txn_ok(rd_kafka_begin_transaction(tp), "begin_transaction");
    send_at(tp, 9000);
    flush(tp);
    cr_expect_eq(offset_for_time(6000, "read_uncommitted"), 4);
    cr_expect_eq(offset_for_time(6000, "read_committed"), -1);
    txn_ok(rd_kafka_commit_transaction(tp, OP_TIMEOUT_MS), "commit_transaction");
    cr_expect_eq(offset_for_time(6000, "read_committed"), 4);
    cr_expect_eq(offset_for_time(9001, "read_committed"), -1, "the commit marker is no record");
    rd_kafka_destroy(tp);
    rd_kafka_destroy(p);
    rd_kafka_destroy(admin);
}

/*
 * DeleteGroups
 */

/* A consumer in group, subscribed to "t", once it has its assignment. */
static rd_kafka_t *group_member(const char *group)
{
    const char *kv[] = {"group.id", group, "enable.auto.commit", "false", NULL};
    rd_kafka_t *c = client(RD_KAFKA_CONSUMER, kv, NULL);
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_t *assignment = NULL;
    int64_t deadline = tm_test_now_ms() + OP_TIMEOUT_MS;

    rd_kafka_topic_partition_list_add(topics, "t", RD_KAFKA_PARTITION_UA);
    cr_assert_eq(rd_kafka_subscribe(c, topics), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(topics);
    while (!assignment || assignment->cnt == 0) {
        rd_kafka_message_t *m;

        cr_assert_lt(tm_test_now_ms(), deadline, "no assignment in time");
        if (assignment)
            rd_kafka_topic_partition_list_destroy(assignment);
        m = rd_kafka_consumer_poll(c, 100);
        if (m)
            rd_kafka_message_destroy(m);
        cr_assert_eq(rd_kafka_assignment(c, &assignment), RD_KAFKA_RESP_ERR_NO_ERROR);
    }
    rd_kafka_topic_partition_list_destroy(assignment);
    return c;
}

Test(admin, delete_groups_deletes_only_empty_groups)
{
    const char *const groups[] = {"g-empty", "g-active", "g-unknown"};
    rd_kafka_resp_err_t errs[3];
    rd_kafka_t *admin = client(RD_KAFKA_PRODUCER, NULL, NULL);
    rd_kafka_t *member;

    rd_kafka_mock_group_initial_rebalance_delay_ms(mcluster, 0);
    commit("g-empty", "t", 5);
    cr_assert_eq(committed("g-empty", "t"), 5);
    member = group_member("g-active");

    delete_named(admin, true, groups, 3, errs);
    cr_expect_eq(errs[0], RD_KAFKA_RESP_ERR_NO_ERROR, "%s", rd_kafka_err2str(errs[0]));
    cr_expect_eq(errs[1], RD_KAFKA_RESP_ERR_NON_EMPTY_GROUP, "%s", rd_kafka_err2str(errs[1]));
    cr_expect_eq(errs[2], RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND, "%s", rd_kafka_err2str(errs[2]));
    cr_expect_eq(committed("g-empty", "t"), RD_KAFKA_OFFSET_INVALID, "offsets of a deleted group");

    /* Deleted: unknown from now on. */
    delete_named(admin, true, groups, 1, errs);
    cr_expect_eq(errs[0], RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND, "%s", rd_kafka_err2str(errs[0]));

    /* Once its member has left, the other group can go. */
    rd_kafka_consumer_close(member);
    rd_kafka_destroy(member);
    delete_named(admin, true, groups + 1, 1, errs);
    cr_expect_eq(errs[0], RD_KAFKA_RESP_ERR_NO_ERROR, "%s", rd_kafka_err2str(errs[0]));
    rd_kafka_destroy(admin);
}

/*
 * The launcher's flags
 */

Test(admin_launcher, message_max_bytes_and_retention_bytes)
{
    const char *args[] = {
        "--brokers", "2", "--message-max-bytes", "2000", "--retention-bytes", "50000", "--topic",
        "lim:1",     NULL};
    tm_test_broker *b = tm_test_broker_start(args, NULL);
    struct deliveries d = {0};
    rd_kafka_t *p;
    struct described desc;
    int64_t lo, hi;
    int i, status;

    snprintf(bootstrap, sizeof bootstrap, "%s", tm_test_broker_bootstrap(b));
    p = big_producer(&d);
    cr_expect_eq(produce_size(p, &d, "lim", 3000), RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
    for (i = 0; i < 100; i++)
        cr_expect_eq(produce_size(p, &d, "lim", 1000), RD_KAFKA_RESP_ERR_NO_ERROR);
    watermarks("lim", 0, &lo, &hi);
    cr_expect_eq(hi, 100);
    cr_expect_gt(lo, 0, "nothing dropped at 100 kB with --retention-bytes 50000");
    cr_expect_leq((hi - lo) * 1000, 50000);

    describe(p, RD_KAFKA_RESOURCE_TOPIC, "lim", NULL, &desc);
    expect_config(&desc, "max.message.bytes", "2000", RD_KAFKA_CONFIG_SOURCE_STATIC_BROKER_CONFIG);
    expect_config(&desc, "retention.bytes", "50000", RD_KAFKA_CONFIG_SOURCE_STATIC_BROKER_CONFIG);
    rd_kafka_destroy(p);

    status = tm_test_broker_stop(b);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "launcher: %s",
              tm_proc_status_str(status));
}

Test(admin_launcher, bad_limits_exit_2)
{
    const char *const bad[][2] = {
        {"--message-max-bytes", "-1"}, {"--message-max-bytes", "1k"},
        {"--message-max-bytes", NULL}, {"--message-max-bytes", "2147483648"},
        {"--retention-bytes", "-2"},   {"--retention-bytes", "x"},
        {"--retention-bytes", NULL},
    };
    const char *bin =
        getenv("TIDEMARK_TEST_BROKER") ? getenv("TIDEMARK_TEST_BROKER") : TIDEMARK_TEST_BROKER_BIN;
    size_t i;

    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *argv[] = {(char *)bin, (char *)bad[i][0], (char *)bad[i][1], NULL};
        tm_proc_io io = {.log_path = "/dev/null"};
        int status = 0;
        pid_t pid = tm_proc_spawn(argv, &io);

        cr_assert(tm_proc_wait(pid, OP_TIMEOUT_MS, &status), "%s %s: still running", bad[i][0],
                  bad[i][1] ? bad[i][1] : "");
        cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 2, "%s %s: %s", bad[i][0],
                  bad[i][1] ? bad[i][1] : "", tm_proc_status_str(status));
    }
}
