/*
 * Tests of the test broker's classic consumer groups as patched by
 * tests/broker/patches/0005-mock-static-membership.patch: static membership
 * (KIP-345), leaving, and how long a rebalance waits, with plain librdkafka
 * consumers configured as tidemark's (classic protocol, eager, range
 * assignor, automatic assignment in the rebalance callback).
 *
 * Every test starts its own 3-broker cluster (Criterion runs each test in
 * its own process), with one 4-partition topic. Every wait polls against a
 * deadline. The bounds on restart and rebalance times are the behaviour
 * under test (seconds on Kafka, session.timeout.ms on the unpatched mock),
 * not speed measurements: they are far from both. (No Criterion .timeout:
 * with it, Criterion 2.4's runner leaks, which fails the Asan build.)
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "proc.h"

#define TOPIC "t"
#define PARTITIONS 4
#define ALL_PARTITIONS ((1 << PARTITIONS) - 1)
#define OP_TIMEOUT_MS 10000
/* A first join into an empty group waits the initial rebalance delay (the
 * mock's and Kafka's group.initial.rebalance.delay.ms: 3 s) for more
 * members; JOIN_TIMEOUT_MS leaves slack for a loaded machine. */
#define INITIAL_DELAY_MS 3000
#define JOIN_TIMEOUT_MS 15000
/* Kafka hands a restarted static member its partitions at once, and ends
 * a rebalance as soon as every member has rejoined, which they do when
 * their next heartbeat (librdkafka's default heartbeat.interval.ms: 3 s)
 * tells them of it; the unpatched mock took session.timeout.ms - 1 s
 * (44 s by default) for either. */
#define PROMPT_MS 5000
#define HEARTBEAT_MS 3000
#define LEAVE_GROUP_API_KEY 13

/* The cluster of the current test, owned by a client made for it
 * (test.mock.num.brokers): three brokers, so that the group coordinator
 * and the partition leaders are spread as in a real cluster. */
static rd_kafka_t *cluster_rk;
static rd_kafka_mock_cluster_t *mcluster;
static const char *bootstraps;

/* A client configuration of the pairs in kv ({name, value}, ...,
 * {NULL}); a pair with a NULL value is left at librdkafka's default. */
static rd_kafka_conf_t *conf_of(const char *const (*kv)[2])
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char errstr[256];

    for (; kv[0][0]; kv++)
        if (kv[0][1])
            cr_assert_eq(rd_kafka_conf_set(conf, kv[0][0], kv[0][1], errstr, sizeof(errstr)),
                         RD_KAFKA_CONF_OK, "%s=%s: %s", kv[0][0], kv[0][1], errstr);
    return conf;
}

static void cluster_start(void)
{
    const char *const kv[][2] = {
        {"test.mock.num.brokers", "3"},
        {"log_level", "3"},
        {NULL},
    };
    char errstr[256];

    cluster_rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf_of(kv), errstr, sizeof(errstr));
    cr_assert_not_null(cluster_rk, "%s", errstr);
    mcluster = rd_kafka_handle_mock_cluster(cluster_rk);
    cr_assert_not_null(mcluster);
    cr_assert_eq(rd_kafka_mock_topic_create(mcluster, TOPIC, PARTITIONS, 3),
                 RD_KAFKA_RESP_ERR_NO_ERROR);
    bootstraps = rd_kafka_mock_cluster_bootstraps(mcluster);
}

static void cluster_stop(void)
{
    if (cluster_rk)
        rd_kafka_destroy(cluster_rk); /* and its cluster */
    cluster_rk = NULL;
}

TestSuite(groups, .init = cluster_start, .fini = cluster_stop);

/*
 * Members
 */

/* A consumer in the group, and what its rebalance callback saw. */
typedef struct member {
    rd_kafka_t *rk;
    int assigns; /* ASSIGN_PARTITIONS callbacks */
    int revokes; /* REVOKE_PARTITIONS callbacks */
} member;

/* How a member is configured; 0 / NULL: librdkafka's default. */
typedef struct member_opts {
    const char *instance_id; /* group.instance.id: a static member */
    int session_timeout_ms;
    int heartbeat_ms;
} member_opts;

/* tidemark's callback, reduced to counting: eager, so everything is
 * revoked before a rebalance and the new assignment taken as a whole. */
static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    member *m = opaque;

    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        m->assigns++;
        rd_kafka_assign(rk, parts);
    } else {
        m->revokes++;
        rd_kafka_assign(rk, NULL);
    }
}

/* value as a config value in buf, or NULL (the default) if 0. */
static const char *int_value(char *buf, size_t size, int value)
{
    if (!value)
        return NULL;
    snprintf(buf, size, "%d", value);
    return buf;
}

/* Starts m: a consumer subscribed to TOPIC in group. */
static void member_start(member *m, const char *group, const member_opts *o)
{
    char session[16], heartbeat[16], errstr[256];
    const char *const kv[][2] = {
        {"bootstrap.servers", bootstraps},
        {"group.id", group},
        {"partition.assignment.strategy", "range"},
        {"enable.auto.commit", "false"},
        /* A fenced consumer logs its fatal error: expected here. */
        {"log_level", "2"},
        {"group.instance.id", o->instance_id},
        {"session.timeout.ms", int_value(session, sizeof(session), o->session_timeout_ms)},
        {"heartbeat.interval.ms", int_value(heartbeat, sizeof(heartbeat), o->heartbeat_ms)},
        {NULL},
    };
    rd_kafka_conf_t *conf = conf_of(kv);
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);

    memset(m, 0, sizeof(*m));
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    rd_kafka_conf_set_opaque(conf, m);
    m->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    cr_assert_not_null(m->rk, "%s", errstr);
    rd_kafka_poll_set_consumer(m->rk);
    rd_kafka_topic_partition_list_add(topics, TOPIC, RD_KAFKA_PARTITION_UA);
    cr_assert_eq(rd_kafka_subscribe(m->rk, topics), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(topics);
}

/* Ends m as SIGKILL would: no commit, no LeaveGroup, connections cut. */
static void member_kill(member *m)
{
    rd_kafka_destroy_flags(m->rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    m->rk = NULL;
}

/* Ends m cleanly: rd_kafka_consumer_close() (a LeaveGroup unless static). */
static void member_close(member *m)
{
    rd_kafka_consumer_close(m->rk);
    rd_kafka_destroy(m->rk);
    m->rk = NULL;
}

/* Serves m's callbacks for up to ms (the topic is empty: nothing but
 * events and errors arrive). */
static void member_poll(member *m, int ms)
{
    rd_kafka_message_t *msg = rd_kafka_consumer_poll(m->rk, ms);

    if (msg)
        rd_kafka_message_destroy(msg);
}

/* The partitions of TOPIC assigned to m, as a bit mask. */
static int assigned(const member *m)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    int i, mask = 0;

    cr_assert_eq(rd_kafka_assignment(m->rk, &parts), RD_KAFKA_RESP_ERR_NO_ERROR);
    for (i = 0; i < parts->cnt; i++)
        mask |= 1 << parts->elems[i].partition;
    rd_kafka_topic_partition_list_destroy(parts);
    return mask;
}

static int popcount(int mask)
{
    int n = 0;

    for (; mask; mask &= mask - 1)
        n++;
    return n;
}

/* Polls the n members until each has an even share of the partitions
 * assigned or timeout_ms passes. Returns the time it took, or -1. */
static int64_t settle(member **ms, int n, int64_t timeout_ms)
{
    int64_t start = tm_test_now_ms();

    while (tm_test_now_ms() - start < timeout_ms) {
        int i, done = 1;

        for (i = 0; i < n; i++) {
            member_poll(ms[i], 20);
            if (popcount(assigned(ms[i])) != PARTITIONS / n)
                done = 0;
        }
        if (done)
            return tm_test_now_ms() - start;
    }
    return -1;
}

/* Asserts that the n members settle on even shares within timeout_ms;
 * returns the time it took. */
static int64_t expect_settled(member **ms, int n, int64_t timeout_ms, const char *what)
{
    int64_t took = settle(ms, n, timeout_ms);

    cr_assert_geq(took, 0, "%s: %d member(s) without %d partition(s) each after %lld ms", what, n,
                  PARTITIONS / n, (long long)timeout_ms);
    cr_log_info("%s: %lld ms", what, (long long)took);
    return took;
}

/* Commits offset 0 of partition 0 for m, synchronously: succeeds only
 * while m is a member of the group's current generation. */
static rd_kafka_resp_err_t commit_offset(member *m)
{
    rd_kafka_topic_partition_list_t *offsets = rd_kafka_topic_partition_list_new(1);
    rd_kafka_resp_err_t err;

    rd_kafka_topic_partition_list_add(offsets, TOPIC, 0)->offset = 0;
    err = rd_kafka_commit(m->rk, offsets, 0);
    rd_kafka_topic_partition_list_destroy(offsets);
    return err;
}

/* LeaveGroup requests the cluster received since request tracking began. */
static size_t leave_group_requests(void)
{
    rd_kafka_mock_request_t **reqs;
    size_t cnt, i, leaves = 0;

    reqs = rd_kafka_mock_get_requests(mcluster, &cnt);
    for (i = 0; i < cnt; i++)
        if (rd_kafka_mock_request_api_key(reqs[i]) == LEAVE_GROUP_API_KEY)
            leaves++;
    rd_kafka_mock_request_destroy_array(reqs, cnt);
    return leaves;
}

/*
 * Static membership (KIP-345)
 */

Test(groups, static_member_restart_gets_its_partitions_at_once)
{
    const member_opts o = {.instance_id = "i-0"};
    member a, a2, *ms[1];

    member_start(&a, "g-restart", &o);
    ms[0] = &a;
    expect_settled(ms, 1, JOIN_TIMEOUT_MS, "first join");

    /* SIGKILL and an immediate restart, with the default 45 s session
     * timeout: the new process takes over the member, no rebalance. */
    member_kill(&a);
    member_start(&a2, "g-restart", &o);
    ms[0] = &a2;
    expect_settled(ms, 1, PROMPT_MS, "static member restart to assignment");
    cr_expect_eq(a2.assigns, 1);
    cr_expect_eq(a2.revokes, 0);
    cr_expect_eq(commit_offset(&a2), RD_KAFKA_RESP_ERR_NO_ERROR);

    member_close(&a2);
}

Test(groups, static_member_replaced_other_member_keeps_assignment)
{
    const member_opts oa = {.instance_id = "i-0"};
    const member_opts ob = {.instance_id = "i-1", .heartbeat_ms = 100};
    member a, a2, b, *ms[2] = {&a, &b};
    int mask_a, mask_b, i;

    member_start(&a, "g-replace", &oa);
    member_start(&b, "g-replace", &ob);
    expect_settled(ms, 2, JOIN_TIMEOUT_MS, "first join");
    mask_a = assigned(&a);
    mask_b = assigned(&b);
    cr_assert_eq(mask_a | mask_b, ALL_PARTITIONS);
    cr_assert_eq(b.assigns, 1);
    cr_assert_eq(b.revokes, 0);

    member_kill(&a);
    member_start(&a2, "g-replace", &oa);
    ms[0] = &a2;
    expect_settled(ms, 2, PROMPT_MS, "static member restart to assignment, with another member");
    cr_expect_eq(assigned(&a2), mask_a, "the restarted member got other partitions");

    /* No rebalance: b, heartbeating every 100 ms, would have been told of
     * one within a few heartbeats, and revoked its partitions. */
    for (i = 0; i < 10; i++)
        member_poll(&b, 100);
    cr_expect_eq(assigned(&b), mask_b);
    cr_expect_eq(b.assigns, 1, "b was assigned again");
    cr_expect_eq(b.revokes, 0, "b's partitions were revoked");
    /* Both are members of the generation b joined in. */
    cr_expect_eq(commit_offset(&b), RD_KAFKA_RESP_ERR_NO_ERROR);
    cr_expect_eq(commit_offset(&a2), RD_KAFKA_RESP_ERR_NO_ERROR);

    member_close(&a2);
    member_close(&b);
}

/* A transactional producer, initialised. */
static rd_kafka_t *txn_producer(const char *txnid)
{
    const char *const kv[][2] = {
        {"bootstrap.servers", bootstraps},
        {"transactional.id", txnid},
        {"log_level", "2"},
        {NULL},
    };
    char errstr[256];
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, conf_of(kv), errstr, sizeof(errstr));
    rd_kafka_error_t *error;

    cr_assert_not_null(p, "%s", errstr);
    error = rd_kafka_init_transactions(p, OP_TIMEOUT_MS);
    cr_assert_null(error, "init_transactions: %s", error ? rd_kafka_error_string(error) : "");
    return p;
}

/* Sends offset 0 of partition 0 to p's transaction with the group
 * metadata md; the error, or NULL. */
static rd_kafka_error_t *send_offset(rd_kafka_t *p, const rd_kafka_consumer_group_metadata_t *md)
{
    rd_kafka_topic_partition_list_t *offsets = rd_kafka_topic_partition_list_new(1);
    rd_kafka_error_t *error;

    rd_kafka_topic_partition_list_add(offsets, TOPIC, 0)->offset = 0;
    error = rd_kafka_send_offsets_to_transaction(p, offsets, md, OP_TIMEOUT_MS);
    rd_kafka_topic_partition_list_destroy(offsets);
    return error;
}

/* Asserts that m has failed with the fatal FENCED_INSTANCE_ID. */
static void expect_fenced(member *m)
{
    char errstr[256] = "";

    cr_expect_eq(rd_kafka_fatal_error(m->rk, errstr, sizeof(errstr)),
                 RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID, "fatal error: %s", errstr);
}

Test(groups, replaced_instance_is_fenced_on_heartbeat)
{
    const member_opts o = {.instance_id = "i-0", .heartbeat_ms = 100};
    member a, a2, *ms[1] = {&a};
    int64_t deadline;

    member_start(&a, "g-fence-hb", &o);
    expect_settled(ms, 1, JOIN_TIMEOUT_MS, "first join");

    /* A second process with the same group.instance.id while the first
     * still runs (a misconfiguration, or a zombie): the newer one wins. */
    member_start(&a2, "g-fence-hb", &o);
    ms[0] = &a2;
    expect_settled(ms, 1, PROMPT_MS, "second instance to assignment");

    deadline = tm_test_now_ms() + PROMPT_MS;
    while (!rd_kafka_fatal_error(a.rk, NULL, 0) && tm_test_now_ms() < deadline)
        member_poll(&a, 50);
    expect_fenced(&a);

    /* The newer one goes on as a member of the same generation. */
    cr_expect_eq(popcount(assigned(&a2)), PARTITIONS);
    cr_expect_eq(commit_offset(&a2), RD_KAFKA_RESP_ERR_NO_ERROR);
    cr_expect_eq(a2.revokes, 0);

    member_close(&a);
    member_close(&a2);
}

Test(groups, replaced_instance_is_fenced_on_commit)
{
    /* No heartbeat before the commit below: the commit meets the fence. */
    const member_opts o = {.instance_id = "i-0", .heartbeat_ms = 30000};
    const member_opts o2 = {.instance_id = "i-0"};
    member a, a2, *ms[1] = {&a};
    rd_kafka_consumer_group_metadata_t *md_old, *md_new;
    rd_kafka_t *p = txn_producer("tx-fence");
    rd_kafka_error_t *error;

    member_start(&a, "g-fence-commit", &o);
    expect_settled(ms, 1, JOIN_TIMEOUT_MS, "first join");
    md_old = rd_kafka_consumer_group_metadata(a.rk);

    member_start(&a2, "g-fence-commit", &o2);
    ms[0] = &a2;
    expect_settled(ms, 1, PROMPT_MS, "second instance to assignment");

    /* OffsetCommit by the replaced member: fenced, fatally. */
    cr_expect_eq(commit_offset(&a), RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID);
    expect_fenced(&a);

    /* TxnOffsetCommit with the replaced member's metadata (KIP-447): the
     * transaction must abort; the producer itself is not fenced. */
    error = rd_kafka_begin_transaction(p);
    cr_assert_null(error, "begin_transaction: %s", error ? rd_kafka_error_string(error) : "");
    error = send_offset(p, md_old);
    cr_assert_not_null(error, "offsets with a replaced member's metadata accepted");
    cr_expect_eq(rd_kafka_error_code(error), RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID, "%s",
                 rd_kafka_error_string(error));
    cr_expect(rd_kafka_error_txn_requires_abort(error), "%s", rd_kafka_error_string(error));
    rd_kafka_error_destroy(error);
    error = rd_kafka_abort_transaction(p, OP_TIMEOUT_MS);
    cr_assert_null(error, "abort_transaction: %s", error ? rd_kafka_error_string(error) : "");

    /* The current member's metadata is accepted. */
    md_new = rd_kafka_consumer_group_metadata(a2.rk);
    error = rd_kafka_begin_transaction(p);
    cr_assert_null(error, "begin_transaction: %s", error ? rd_kafka_error_string(error) : "");
    error = send_offset(p, md_new);
    cr_expect_null(error, "current member: %s", error ? rd_kafka_error_string(error) : "");
    if (error)
        rd_kafka_error_destroy(error);
    error = rd_kafka_commit_transaction(p, OP_TIMEOUT_MS);
    cr_expect_null(error, "commit_transaction: %s", error ? rd_kafka_error_string(error) : "");
    if (error)
        rd_kafka_error_destroy(error);
    cr_expect_eq(commit_offset(&a2), RD_KAFKA_RESP_ERR_NO_ERROR);

    rd_kafka_consumer_group_metadata_destroy(md_old);
    rd_kafka_consumer_group_metadata_destroy(md_new);
    rd_kafka_destroy(p);
    member_close(&a);
    member_close(&a2);
}

Test(groups, static_member_gone_for_good_removed_after_session_timeout)
{
    /* Kafka's smallest session timeout (group.min.session.timeout.ms). */
    const member_opts oa = {.instance_id = "i-0", .session_timeout_ms = 6000, .heartbeat_ms = 500};
    const member_opts ob = {.instance_id = "i-1", .session_timeout_ms = 6000, .heartbeat_ms = 500};
    member a, b, *ms[2] = {&a, &b};
    int mask_b, i;
    int64_t closed;

    member_start(&a, "g-gone", &oa);
    member_start(&b, "g-gone", &ob);
    expect_settled(ms, 2, JOIN_TIMEOUT_MS, "first join");
    mask_b = assigned(&b);

    /* A static member closing sends no LeaveGroup (librdkafka follows
     * KIP-345): the group cannot tell a restart from an exit. */
    rd_kafka_mock_start_request_tracking(mcluster);
    member_close(&a);
    closed = tm_test_now_ms();
    cr_expect_eq(leave_group_requests(), 0, "a static member sent LeaveGroup");
    rd_kafka_mock_stop_request_tracking(mcluster);

    /* Its partitions stay its own for the session timeout... */
    for (i = 0; i < 30; i++)
        member_poll(&b, 100);
    cr_expect_eq(assigned(&b), mask_b);
    cr_expect_eq(b.revokes, 0, "rebalanced %lld ms after a static member closed",
                 (long long)(tm_test_now_ms() - closed));

    /* ... then it is removed and the group rebalances. */
    ms[0] = &b;
    expect_settled(ms, 1, 6000 + JOIN_TIMEOUT_MS, "survivor after the session timeout");
    cr_expect_geq(tm_test_now_ms() - closed, 6000 - 500, "removed before its session timed out");
    cr_expect_eq(b.revokes, 1);

    member_close(&b);
}

/*
 * Leaving, and how long a rebalance waits
 */

Test(groups, dynamic_member_leave_rebalances_at_once)
{
    const member_opts o = {0};
    member a, b, *ms[2] = {&a, &b};

    member_start(&a, "g-leave", &o);
    member_start(&b, "g-leave", &o);
    expect_settled(ms, 2, JOIN_TIMEOUT_MS, "first join");

    /* LeaveGroup: b learns of the rebalance with its next heartbeat and
     * is alone in it, so it ends when b rejoins. */
    rd_kafka_mock_start_request_tracking(mcluster);
    member_close(&a);
    cr_expect_eq(leave_group_requests(), 1);
    rd_kafka_mock_stop_request_tracking(mcluster);
    ms[0] = &b;
    expect_settled(ms, 1, HEARTBEAT_MS + PROMPT_MS, "survivor after a member left");

    member_close(&b);
}

Test(groups, consumer_restarted_after_close_assigned_after_initial_delay_only)
{
    const member_opts o = {0};
    member a, a2, *ms[1] = {&a};

    member_start(&a, "g-close", &o);
    expect_settled(ms, 1, JOIN_TIMEOUT_MS, "first join");
    member_close(&a);

    /* The group is empty again: the new consumer's join is a first join. */
    member_start(&a2, "g-close", &o);
    ms[0] = &a2;
    expect_settled(ms, 1, INITIAL_DELAY_MS + PROMPT_MS, "restart after close to assignment");

    member_close(&a2);
}

Test(groups, rebalance_ends_when_all_members_rejoined)
{
    const member_opts o = {0};
    member a, b, *ms[2] = {&a, &b};

    member_start(&a, "g-grow", &o);
    ms[0] = &a;
    expect_settled(ms, 1, JOIN_TIMEOUT_MS, "first join");

    /* A second member: a rejoins at its next heartbeat, and then every
     * member has joined. */
    member_start(&b, "g-grow", &o);
    ms[0] = &a;
    ms[1] = &b;
    expect_settled(ms, 2, HEARTBEAT_MS + PROMPT_MS, "second member to assignment");
    cr_expect_eq(a.revokes, 1);

    member_close(&a);
    member_close(&b);
}

/*
 * LeaveGroup v3+ (KIP-345), which librdkafka does not send: how an
 * administrator removes static members (Kafka's AdminClient
 * removeMembersFromConsumerGroup). Spoken over a plain socket.
 */

/* A Kafka protocol message being written or read. */
typedef struct wire {
    unsigned char b[512];
    size_t of;
} wire;

static void put(wire *w, const void *p, size_t n)
{
    cr_assert_leq(w->of + n, sizeof(w->b), "request too long");
    memcpy(w->b + w->of, p, n);
    w->of += n;
}

static void put_i16(wire *w, int v)
{
    uint16_t n = htons((uint16_t)v);
    put(w, &n, 2);
}

static void put_i32(wire *w, int32_t v)
{
    uint32_t n = htonl((uint32_t)v);
    put(w, &n, 4);
}

/* A nullable string: int16 length (-1: NULL), bytes. */
static void put_str(wire *w, const char *s)
{
    put_i16(w, s ? (int)strlen(s) : -1);
    if (s)
        put(w, s, strlen(s));
}

static void get(wire *w, void *p, size_t n)
{
    cr_assert_leq(w->of + n, sizeof(w->b), "response too short");
    memcpy(p, w->b + w->of, n);
    w->of += n;
}

static int get_i16(wire *w)
{
    uint16_t n;
    get(w, &n, 2);
    return (int16_t)ntohs(n);
}

static int32_t get_i32(wire *w)
{
    uint32_t n;
    get(w, &n, 4);
    return (int32_t)ntohl(n);
}

static void skip_str(wire *w)
{
    int len = get_i16(w);

    if (len > 0) {
        cr_assert_leq(w->of + (size_t)len, sizeof(w->b), "response too short");
        w->of += (size_t)len;
    }
}

/* Reads exactly n bytes (10 s timeout per read). */
static void recv_all(int fd, void *p, size_t n)
{
    size_t got = 0;

    while (got < n) {
        ssize_t r = recv(fd, (char *)p + got, n - got, 0);
        cr_assert_gt(r, 0, "LeaveGroup response: connection closed or timed out");
        got += (size_t)r;
    }
}

/* Sends LeaveGroup v3 for the members ({member id, group instance id})
 * of group to the broker at hostport (host:port); their error codes go to
 * errs. Returns the top-level error code. */
static int leave_group_v3_to(const char *hostport, const char *group,
                             const char *const (*leaving)[2], int n, int *errs)
{
    struct sockaddr_in addr = {.sin_family = AF_INET};
    struct timeval tv = {10, 0};
    char host[64];
    const char *colon = strrchr(hostport, ':');
    wire req = {.of = 4}, resp = {.of = 0};
    uint32_t size;
    int fd, err, i;

    cr_assert(colon && (size_t)(colon - hostport) < sizeof(host), "broker address %s", hostport);
    snprintf(host, sizeof(host), "%.*s", (int)(colon - hostport), hostport);
    cr_assert_eq(inet_pton(AF_INET, host, &addr.sin_addr), 1, "broker host %s", host);
    addr.sin_port = htons((uint16_t)strtol(colon + 1, NULL, 10));
    fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0, "socket");
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    cr_assert_eq(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0, "connect %s", hostport);

    put_i16(&req, LEAVE_GROUP_API_KEY);
    put_i16(&req, 3);               /* ApiVersion */
    put_i32(&req, 1);               /* CorrelationId */
    put_str(&req, "tidemark-test"); /* ClientId */
    put_str(&req, group);
    put_i32(&req, n);
    for (i = 0; i < n; i++) {
        put_str(&req, leaving[i][0]);
        put_str(&req, leaving[i][1]);
    }
    size = htonl((uint32_t)(req.of - 4));
    memcpy(req.b, &size, 4);
    cr_assert_eq(send(fd, req.b, req.of, MSG_NOSIGNAL), (ssize_t)req.of, "send LeaveGroup");

    recv_all(fd, &size, 4);
    size = ntohl(size);
    cr_assert(size > 0 && size <= sizeof(resp.b), "response size %u", size);
    recv_all(fd, resp.b, size);
    close(fd);
    cr_assert_eq(get_i32(&resp), 1, "CorrelationId");
    get_i32(&resp); /* ThrottleTimeMs */
    err = get_i16(&resp);
    if (err)
        return err;
    cr_assert_eq(get_i32(&resp), n, "member results");
    for (i = 0; i < n; i++) {
        skip_str(&resp); /* MemberId */
        skip_str(&resp); /* GroupInstanceId */
        errs[i] = get_i16(&resp);
    }
    return 0;
}

/* leave_group_v3_to() the group's coordinator, whichever broker it is. */
static int leave_group_v3(const char *group, const char *const (*leaving)[2], int n, int *errs)
{
    char hostport[64];
    const char *p = bootstraps;

    while (*p) {
        size_t len = strcspn(p, ",");
        int err;

        cr_assert_lt(len, sizeof(hostport));
        snprintf(hostport, sizeof(hostport), "%.*s", (int)len, p);
        err = leave_group_v3_to(hostport, group, leaving, n, errs);
        if (err != RD_KAFKA_RESP_ERR_NOT_COORDINATOR)
            return err;
        p += len + (p[len] == ',');
    }
    cr_assert_fail("no broker is the coordinator of %s", group);
    return -1;
}

Test(groups, leave_group_v3_removes_static_members_by_instance_id)
{
    const member_opts oa = {.instance_id = "i-0"};
    const member_opts ob = {.instance_id = "i-1", .heartbeat_ms = 100};
    const char *const leaving[][2] = {
        {"not-its-member-id", "i-1"}, /* another member id than i-1's: fenced */
        {"", "i-9"},                  /* no such instance */
        {"", "i-0"},                  /* by its instance id alone: removed */
    };
    int errs[3], err;
    member a, b, *ms[2] = {&a, &b};

    member_start(&a, "g-admin", &oa);
    member_start(&b, "g-admin", &ob);
    expect_settled(ms, 2, JOIN_TIMEOUT_MS, "first join");

    /* A static member gone for good, removed without waiting for its
     * session to time out (45 s). */
    member_kill(&a);
    err = leave_group_v3("g-admin", leaving, 3, errs);
    cr_assert_eq(err, RD_KAFKA_RESP_ERR_NO_ERROR, "LeaveGroup v3: %s",
                 rd_kafka_err2str((rd_kafka_resp_err_t)err));
    cr_expect_eq(errs[0], RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID);
    cr_expect_eq(errs[1], RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID);
    cr_expect_eq(errs[2], RD_KAFKA_RESP_ERR_NO_ERROR);
    ms[0] = &b;
    expect_settled(ms, 1, PROMPT_MS, "survivor after an administrator removed a static member");

    member_close(&b);
}
