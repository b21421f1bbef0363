/*
 * test_kafka.c: the kafka layer (service/kafka/) against the test broker
 * (tests/broker: librdkafka's mock cluster, patched to be faithful to
 * transactions). Every test starts its own tidemark-test-broker process
 * (TIDEMARK_TEST_BROKER), reads its BOOTSTRAP= line, and stops it with
 * SIGTERM in the suite's fini, so a failed assertion never leaves a broker
 * behind. Plain librdkafka clients play the outside world: the producer of
 * the input, and read_committed readers of outputs and committed offsets.
 *
 * Every wait is bounded (deadlines, librdkafka timeouts); no Criterion
 * .timeout (it leaks under ASan, see tests/broker/README.md). A group join
 * costs the mock's 3 s initial rebalance delay.
 */
#include "kafka.h"
#include "kafka_handle.h"

#include "clock.h"
#include "config.h"
#include "err.h"
#include "log.h"
#include "proc.h"
#include "stop_flag.h"

#include <criterion/criterion.h>
#include <librdkafka/rdkafka.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define WAIT_MS 20000

static pid_t broker_pid = -1;
static int broker_out = -1;
static char bootstrap[600];

/* ---- the broker ------------------------------------------------------------ */

/* Reads the launcher's first line into bootstrap. */
static void read_bootstrap(int fd)
{
    char line[600];
    size_t len = 0;
    int64_t deadline = tm_test_now_ms() + 10000;
    while (len + 1 < sizeof line) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int64_t left = deadline - tm_test_now_ms();
        cr_assert_gt(left, 0, "no BOOTSTRAP line from the test broker in time");
        if (poll(&pfd, 1, (int)left) <= 0)
            continue;
        ssize_t r = read(fd, line + len, 1);
        cr_assert_gt(r, 0, "test broker closed its output");
        if (line[len] == '\n')
            break;
        len++;
    }
    line[len] = '\0';
    cr_assert(strncmp(line, "BOOTSTRAP=", 10) == 0, "first line: %s", line);
    snprintf(bootstrap, sizeof bootstrap, "%s", line + 10);
}

/* Starts a one-broker cluster with the given NAME:PARTITIONS topics, and
 * the configuration's late and dead-letter topics with as many partitions
 * as "out" (tm_kafka_open refuses output topics that are missing). */
static void broker_start(const char *const *topics)
{
    const char *path = getenv("TIDEMARK_TEST_BROKER");
    cr_assert_not_null(path, "TIDEMARK_TEST_BROKER is not set (run through ctest)");
    static char late[32], dlq[32];
    char *argv[32];
    int n = 0;
    argv[n++] = (char *)path;
    argv[n++] = "--brokers";
    argv[n++] = "1";
    for (size_t i = 0; topics[i] && n < 26; i++) {
        argv[n++] = "--topic";
        argv[n++] = (char *)topics[i];
        if (strncmp(topics[i], "out:", 4) == 0) {
            snprintf(late, sizeof late, "app-late:%s", topics[i] + 4);
            snprintf(dlq, sizeof dlq, "app-dlq:%s", topics[i] + 4);
            argv[n++] = "--topic";
            argv[n++] = late;
            argv[n++] = "--topic";
            argv[n++] = dlq;
        }
    }
    argv[n] = NULL;

    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addclose(&fa, fds[1]);
    int rc = posix_spawn(&broker_pid, path, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    cr_assert_eq(rc, 0, "posix_spawn %s: %s", path, strerror(rc));
    broker_out = fds[0];
    read_bootstrap(broker_out);
}

static void broker_stop(void)
{
    if (broker_pid > 0) {
        int status;
        kill(broker_pid, SIGTERM);
        int64_t deadline = tm_test_now_ms() + 10000;
        while (waitpid(broker_pid, &status, WNOHANG) == 0) {
            if (tm_test_now_ms() > deadline) {
                kill(broker_pid, SIGKILL);
                waitpid(broker_pid, &status, 0);
                break;
            }
            tm_test_sleep_ms(20);
        }
        broker_pid = -1;
    }
    if (broker_out >= 0)
        close(broker_out);
    broker_out = -1;
}

static void quiet(void)
{
    /* librdkafka's informational lines would drown the test output. */
    tm_log_threshold = TM_LOG_ERROR;
}

TestSuite(kafka, .init = quiet, .fini = broker_stop);

/* ---- configuration ----------------------------------------------------- */

#define BASE_JSON                                                                                  \
    "{\"application_id\":\"app\",\"input\":{\"topics\":[\"in\"],"                                  \
    "\"event_time\":{\"pointer\":\"/t\"}},\"output\":{\"topic\":\"out\"},"                         \
    "\"window\":{\"type\":\"tumbling\",\"size_ms\":1000}}"

/* Loads the base config with "kafka.bootstrap.servers" set to the
 * running broker (if any) plus extra overrides. */
static int load_config(tm_config **cfg, const char *const *extra, size_t n_extra, char *err,
                       size_t errlen)
{
    char path[] = "/tmp/tm_test_kafka_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    size_t len = strlen(BASE_JSON);
    cr_assert_eq(write(fd, BASE_JSON, len), (ssize_t)len);
    close(fd);

    char bs[640];
    const char *ov[8];
    size_t n = 0;
    if (bootstrap[0]) {
        snprintf(bs, sizeof bs, "kafka.bootstrap.servers=%s", bootstrap);
        ov[n++] = bs;
    }
    for (size_t i = 0; i < n_extra && n < 8; i++)
        ov[n++] = extra[i];
    int rc = tm_config_load(cfg, path, NULL, ov, n, err, errlen);
    unlink(path);
    return rc;
}

static tm_config *config(void)
{
    tm_config *cfg = NULL;
    char err[512];
    int rc = load_config(&cfg, NULL, 0, err, sizeof err);
    cr_assert_eq(rc, 0, "config: %s", err);
    return cfg;
}

static tm_kafka *open_ok(const tm_config *cfg, const char *instance, const tm_kafka_rebalance *rb)
{
    tm_kafka *k = NULL;
    char err[512];
    int rc = tm_kafka_open(&k, cfg, instance, rb, NULL, err, sizeof err);
    cr_assert_eq(rc, 0, "tm_kafka_open: %d %s", rc, err);
    cr_assert_not_null(k);
    return k;
}

/* ---- the outside world: plain librdkafka clients ------------------------- */

static void conf_set(rd_kafka_conf_t *conf, const char *name, const char *value)
{
    char err[256];
    cr_assert_eq(rd_kafka_conf_set(conf, name, value, err, sizeof err), RD_KAFKA_CONF_OK, "%s: %s",
                 name, err);
}

/* Produces (key, value) pairs to topic/partition, non-transactionally; a
 * NULL key or value is a Kafka null. */
static void produce_plain(const char *topic, int32_t partition, const char *const *kv, size_t n)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char err[256];
    conf_set(conf, "bootstrap.servers", bootstrap);
    conf_set(conf, "linger.ms", "0");
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    cr_assert_not_null(p, "%s", err);
    for (size_t i = 0; i < n; i++) {
        const char *key = kv[2 * i], *value = kv[2 * i + 1];
        rd_kafka_resp_err_t e =
            rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                              RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
                              RD_KAFKA_V_VALUE((void *)value, value ? strlen(value) : 0),
                              RD_KAFKA_V_TIMESTAMP(1700000000000 + (int64_t)i),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        cr_assert_eq(e, RD_KAFKA_RESP_ERR_NO_ERROR, "%s", rd_kafka_err2str(e));
    }
    cr_assert_eq(rd_kafka_flush(p, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(p);
}

/* The committed offset of group "app" for in [partition]; under
 * read_committed (RequireStable) it waits out offsets pending in an open
 * transaction. RD_KAFKA_OFFSET_INVALID when none. */
static int64_t committed_as(const char *isolation, int32_t partition)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char err[256];
    conf_set(conf, "bootstrap.servers", bootstrap);
    conf_set(conf, "group.id", "app");
    conf_set(conf, "isolation.level", isolation);
    rd_kafka_t *c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    cr_assert_not_null(c, "%s", err);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, "in", partition);
    rd_kafka_resp_err_t e = rd_kafka_committed(c, parts, 10000);
    cr_assert_eq(e, RD_KAFKA_RESP_ERR_NO_ERROR, "committed: %s", rd_kafka_err2str(e));
    cr_assert_eq(parts->elems[0].err, RD_KAFKA_RESP_ERR_NO_ERROR);
    int64_t off = parts->elems[0].offset;
    rd_kafka_topic_partition_list_destroy(parts);
    rd_kafka_destroy(c);
    return off;
}

static int64_t committed(int32_t partition)
{
    return committed_as("read_committed", partition);
}

/* Reads topic [partition] from the start with read_committed; values
 * comma-separated into out ("null" for a null value), and the number of
 * headers of the first record into *first_headers. */
static void read_committed_values(const char *topic, int32_t partition, char *out, size_t outsz,
                                  size_t *first_headers)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char err[256];
    conf_set(conf, "bootstrap.servers", bootstrap);
    conf_set(conf, "group.id", "test-reader");
    conf_set(conf, "isolation.level", "read_committed");
    conf_set(conf, "enable.partition.eof", "true");
    conf_set(conf, "enable.auto.commit", "false");
    conf_set(conf, "fetch.wait.max.ms", "100");
    rd_kafka_t *c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    cr_assert_not_null(c, "%s", err);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, topic, partition)->offset = RD_KAFKA_OFFSET_BEGINNING;
    cr_assert_eq(rd_kafka_assign(c, parts), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(parts);
    out[0] = '\0';
    if (first_headers)
        *first_headers = 0;
    bool first = true, eof = false;
    int64_t deadline = tm_test_now_ms() + WAIT_MS;
    while (!eof && tm_test_now_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            eof = true;
        } else {
            cr_assert_eq(m->err, RD_KAFKA_RESP_ERR_NO_ERROR, "%s", rd_kafka_message_errstr(m));
            size_t used = strlen(out);
            snprintf(out + used, outsz - used, "%s%.*s", used ? "," : "",
                     m->payload ? (int)m->len : 4, m->payload ? (const char *)m->payload : "null");
            rd_kafka_headers_t *h = NULL;
            if (first && first_headers && rd_kafka_message_headers(m, &h) == 0)
                *first_headers = rd_kafka_header_cnt(h);
            first = false;
        }
        rd_kafka_message_destroy(m);
    }
    cr_assert(eof, "no end of %s [%d] in time (read: %s)", topic, (int)partition, out);
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
}

/* ---- the rebalance callbacks of the tests -------------------------------- */

typedef struct rebalance_log {
    int32_t tasks[8];
    size_t n_tasks;
    int assigned, revoked;
    int32_t start_task;  /* -1: none */
    int64_t start_at;    /* where input partition start_task starts */
    int assigned_result; /* what assigned returns */
} rebalance_log;

static int on_assigned(void *ctx, const int32_t *tasks, size_t n, int64_t *start_offsets)
{
    rebalance_log *log = ctx;
    log->assigned++;
    log->n_tasks = n < 8 ? n : 8;
    memcpy(log->tasks, tasks, log->n_tasks * sizeof *tasks);
    for (size_t j = 0; j < n; j++) {
        cr_expect_eq(start_offsets[j], TM_KAFKA_OFFSET_STORED, "start offsets are prefilled");
        if (tasks[j] == log->start_task)
            start_offsets[j] = log->start_at; /* one input topic: index j * 1 + 0 */
    }
    return log->assigned_result;
}

static void on_revoked(void *ctx, const int32_t *tasks, size_t n)
{
    (void)tasks;
    (void)n;
    ((rebalance_log *)ctx)->revoked++;
}

static tm_kafka_rebalance rebalance_of(rebalance_log *log)
{
    tm_kafka_rebalance rb = {.ctx = log, .assigned = on_assigned, .revoked = on_revoked};
    return rb;
}

/* A record copied out of a batch. */
typedef struct got {
    int32_t partition;
    int64_t offset, ts;
    size_t topic_index;
    char topic[16];
    bool null_key, null_value;
    char key[16], value[16];
} got;

/* Polls until `want` records arrived (copied to out) or the deadline. */
static size_t poll_records(tm_kafka *k, got *out, size_t want)
{
    tm_record recs[16];
    size_t n = 0;
    int64_t deadline = tm_test_now_ms() + WAIT_MS;
    while (n < want && tm_test_now_ms() < deadline) {
        tm_kafka_status st;
        char err[512];
        ssize_t r = tm_kafka_poll_batch(k, recs, 16, 200, &st, err, sizeof err);
        cr_assert_geq(r, 0, "poll_batch: status %d: %s", (int)st, err);
        for (ssize_t i = 0; i < r && n < want; i++, n++) {
            const tm_record *rec = &recs[i];
            got *g = &out[n];
            g->partition = rec->partition;
            g->offset = rec->offset;
            g->ts = rec->ts;
            g->topic_index = rec->topic_index;
            snprintf(g->topic, sizeof g->topic, "%s", rec->topic);
            g->null_key = rec->key == NULL;
            g->null_value = rec->value == NULL;
            snprintf(g->key, sizeof g->key, "%.*s", (int)rec->key_len, rec->key ? rec->key : "");
            snprintf(g->value, sizeof g->value, "%.*s", (int)rec->value_len,
                     rec->value ? rec->value : "");
        }
        tm_kafka_release_batch(k);
    }
    return n;
}

/* Polls until the group assigned us (the mock delays the first join by 3 s). */
static void wait_assigned(tm_kafka *k, rebalance_log *log)
{
    tm_record recs[4];
    int64_t deadline = tm_test_now_ms() + WAIT_MS;
    while (log->assigned == 0 && tm_test_now_ms() < deadline) {
        tm_kafka_status st;
        char err[512];
        ssize_t r = tm_kafka_poll_batch(k, recs, 4, 200, &st, err, sizeof err);
        cr_assert_geq(r, 0, "poll_batch: %s", err);
        tm_kafka_release_batch(k);
    }
    cr_assert_gt(log->assigned, 0, "no assignment in time");
}

/* A changelog record as read back. */
typedef struct restored {
    char text[512];
    size_t n;
    int64_t last; /* offset of the last record */
} restored;

static int on_changelog(void *ctx, const void *key, size_t key_len, const void *value,
                        size_t value_len, int64_t offset)
{
    restored *r = ctx;
    size_t used = strlen(r->text);
    snprintf(r->text + used, sizeof r->text - used, "%s%.*s=%.*s@%lld", used ? "," : "",
             (int)key_len, key ? (const char *)key : "", value ? (int)value_len : 4,
             value ? (const char *)value : "null", (long long)offset);
    r->n++;
    r->last = offset;
    return 0;
}

static int refuse(void *ctx, const void *key, size_t key_len, const void *value, size_t value_len,
                  int64_t offset)
{
    (void)ctx, (void)key, (void)key_len, (void)value, (void)value_len, (void)offset;
    return TM_ESTORE;
}

static int64_t read_changelog(tm_kafka *k, int32_t task, int64_t from, restored *r)
{
    char err[512];
    memset(r, 0, sizeof *r);
    int64_t next = tm_kafka_read_changelog(k, task, from, on_changelog, r, err, sizeof err);
    cr_assert_geq(next, 0, "read_changelog: %s", err);
    return next;
}

#define EXPECT_OK(call)                                                                            \
    do {                                                                                           \
        char err_[512] = "";                                                                       \
        tm_kafka_status st_ = (call);                                                              \
        cr_assert_eq(st_, TM_KAFKA_OK, "%s: status %d: %s", #call, (int)st_, err_);                \
    } while (0)
#define ERR err_, sizeof err_

static void changelog_put(tm_kafka *k, int32_t task, const char *key, const char *value)
{
    EXPECT_OK(tm_kafka_produce_changelog(k, task, key, strlen(key), value,
                                         value ? strlen(value) : 0, ERR));
}

/* ---- tests ----------------------------------------------------------------- */

/* Opens instance i0 (the handle keeps a copy of the callbacks),
 * subscribes, and waits for its assignment. */
static tm_kafka *open_assigned(const tm_config *cfg, rebalance_log *log)
{
    tm_kafka_rebalance rb = rebalance_of(log);
    tm_kafka *k = open_ok(cfg, "i0", &rb);
    char err[512];
    cr_assert_eq(tm_kafka_subscribe(k, err, sizeof err), 0, "%s", err);
    wait_assigned(k, log);
    return k;
}

Test(kafka, bad_kafka_property_is_a_config_error_naming_it)
{
    const char *cases[][2] = {
        {"kafka.no.such.property=1", "kafka.no.such.property"},
        {"kafka.linger.ms=soon", "kafka.linger.ms"},
        {"kafka.acks=1", "acks"}, /* refused next to transactional.id */
    };
    snprintf(bootstrap, sizeof bootstrap, "127.0.0.1:1"); /* never contacted */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tm_config *cfg = NULL;
        char err[512];
        const char *ov[] = {cases[i][0]};
        cr_assert_eq(load_config(&cfg, ov, 1, err, sizeof err), 0, "%s", err);
        tm_kafka *k = NULL;
        int rc = tm_kafka_open(&k, cfg, "i0", NULL, NULL, err, sizeof err);
        cr_expect_eq(rc, TM_ECONFIG, "%s: rc %d (%s)", cases[i][0], rc, err);
        cr_expect_null(k);
        cr_expect(strstr(err, cases[i][1]) != NULL, "'%s' does not name %s", err, cases[i][1]);
        tm_config_free(cfg);
    }

    /* No bootstrap servers at all. */
    bootstrap[0] = '\0';
    tm_config *cfg = config();
    tm_kafka *k = NULL;
    char err[512];
    cr_expect_eq(tm_kafka_open(&k, cfg, "i0", NULL, NULL, err, sizeof err), TM_ECONFIG);
    cr_expect(strstr(err, "kafka.bootstrap.servers") != NULL, "%s", err);
    tm_config_free(cfg);
}

Test(kafka, open_with_changelog_and_init_transactions)
{
    const char *topics[] = {"in:2", "out:2", "app-changelog:2", NULL};
    broker_start(topics);
    tm_config *cfg = config();
    tm_kafka *k = open_ok(cfg, "i0", NULL);

    cr_expect_eq(tm_kafka_changelog_end(k, 0), -1);
    cr_expect_eq(tm_kafka_changelog_end(k, 1), -1);
    cr_expect_eq(tm_kafka_changelog_end(k, 2), -1, "no such task");

    /* An empty transaction commits. */
    EXPECT_OK(tm_kafka_begin(k, ERR));
    EXPECT_OK(tm_kafka_commit(k, ERR));

    /* Restoring an empty changelog partition reads nothing. */
    restored r;
    cr_expect_eq(read_changelog(k, 0, 0, &r), 0);
    cr_expect_eq(r.n, 0);
    /* An applied offset beyond the end (topic recreated): nothing read,
     * and the end says so. */
    cr_expect_eq(read_changelog(k, 1, 7, &r), 0);
    cr_expect_eq(r.n, 0);

    tm_kafka_close(k);
    tm_config_free(cfg);
}

Test(kafka, changelog_with_too_few_partitions_is_refused)
{
    const char *topics[] = {"in:2", "out:2", "app-changelog:1", NULL};
    broker_start(topics);
    tm_config *cfg = config();
    tm_kafka *k = NULL;
    char err[512];
    int rc = tm_kafka_open(&k, cfg, "i0", NULL, NULL, err, sizeof err);
    cr_expect_eq(rc, TM_EKAFKA, "rc %d: %s", rc, err);
    cr_expect_null(k);
    cr_expect(strstr(err, "app-changelog") && strstr(err, "fewer"), "%s", err);
    tm_config_free(cfg);
}

Test(kafka, missing_input_topic_is_an_error)
{
    const char *topics[] = {"out:2", "app-changelog:2", NULL};
    broker_start(topics);
    tm_config *cfg = config();
    tm_kafka *k = NULL;
    char err[512];
    cr_expect_eq(tm_kafka_open(&k, cfg, "i0", NULL, NULL, err, sizeof err), TM_EKAFKA, "%s", err);
    cr_expect(strstr(err, "'in' does not exist"), "%s", err);
    tm_config_free(cfg);
}

/*
 * A missing changelog topic is created (compacted, one partition per input
 * partition) with CreateTopics. The mock cluster does not implement
 * CreateTopics, so against it the open fails, and must say which topic
 * and why; a broker that creates it must end up with 2 partitions.
 */
Test(kafka, missing_changelog_is_created_or_named)
{
    const char *topics[] = {"in:2", "out:2", NULL};
    broker_start(topics);
    tm_config *cfg = config();
    tm_kafka *k = NULL;
    char err[512];
    int rc = tm_kafka_open(&k, cfg, "i0", NULL, NULL, err, sizeof err);
    if (rc == 0) {
        cr_expect_eq(tm_kafka_changelog_end(k, 1), -1);
        restored r;
        cr_expect_eq(read_changelog(k, 1, 0, &r), 0, "partition 1 exists and is empty");
        tm_kafka_close(k);
    } else {
        cr_expect_eq(rc, TM_EKAFKA, "%s", err);
        cr_expect(strstr(err, "creating changelog topic 'app-changelog'"), "%s", err);
    }
    tm_config_free(cfg);
}

Test(kafka, poll_gets_records_from_the_start_offsets_of_the_rebalance)
{
    const char *topics[] = {"in:2", "out:2", "app-changelog:2", NULL};
    broker_start(topics);
    const char *p0[] = {"k0", "v0", NULL, "v1", "k2", NULL, "k3", "v3", "k4", "v4"};
    const char *p1[] = {"a0", "w0", "a1", "w1", "a2", "w2", "a3", "w3", "a4", "w4"};
    produce_plain("in", 0, p0, 5);
    produce_plain("in", 1, p1, 5);

    tm_config *cfg = config();
    rebalance_log log = {.start_task = 1, .start_at = 3};
    tm_kafka_rebalance rb = rebalance_of(&log);
    tm_kafka *k = open_ok(cfg, "i0", &rb);
    char err[512];
    cr_assert_eq(tm_kafka_subscribe(k, err, sizeof err), 0, "%s", err);

    got g[16];
    cr_assert_eq(tm_kafka_timestamp_types(k, 0), 0, "no record yet");
    size_t n = poll_records(k, g, 7);
    cr_assert_eq(n, 7, "got %zu of 7 records", n);
    /* The producer set the timestamps (CreateTime: the test broker has no
     * LogAppendTime). */
    cr_assert_eq(tm_kafka_timestamp_types(k, 0), 1u << TM_TS_CREATE_TIME);
    cr_expect_eq(log.assigned, 1);
    cr_assert_eq(log.n_tasks, 2);
    cr_expect_eq(log.tasks[0], 0);
    cr_expect_eq(log.tasks[1], 1);

    /* Partition 0 from the start (no committed offset: earliest),
     * partition 1 from offset 3, each in order. */
    int64_t next[2] = {0, 3};
    for (size_t i = 0; i < n; i++) {
        int32_t p = g[i].partition;
        cr_assert(p == 0 || p == 1);
        cr_expect_eq(g[i].offset, next[p], "partition %d: offset %lld, expected %lld", (int)p,
                     (long long)g[i].offset, (long long)next[p]);
        next[p] = g[i].offset + 1;
        cr_expect_str_eq(g[i].topic, "in");
        cr_expect_eq(g[i].topic_index, 0);
        cr_expect_eq(g[i].ts, 1700000000000 + g[i].offset);
        const char *const *src = p == 0 ? p0 : p1;
        const char *key = src[2 * g[i].offset], *value = src[2 * g[i].offset + 1];
        cr_expect_eq(g[i].null_key, key == NULL, "offset %lld key", (long long)g[i].offset);
        cr_expect_eq(g[i].null_value, value == NULL, "offset %lld value", (long long)g[i].offset);
        if (key)
            cr_expect_str_eq(g[i].key, key);
        if (value)
            cr_expect_str_eq(g[i].value, value);
    }
    cr_expect_eq(next[0], 5);
    cr_expect_eq(next[1], 5);

    /* Rewind partition 0 to offset 3: records 3 and 4 again. */
    cr_assert_eq(tm_kafka_seek(k, 0, 0, 3, err, sizeof err), 0, "%s", err);
    n = poll_records(k, g, 2);
    cr_assert_eq(n, 2);
    cr_expect(g[0].partition == 0 && g[0].offset == 3 && g[1].offset == 4);

    /* Rewind partition 1 to "no checkpoint": nothing committed, so the
     * start (auto.offset.reset=earliest). */
    cr_assert_eq(tm_kafka_seek(k, 0, 1, TM_KAFKA_OFFSET_STORED, err, sizeof err), 0, "%s", err);
    n = poll_records(k, g, 5);
    cr_assert_eq(n, 5);
    for (size_t i = 0; i < n; i++)
        cr_expect(g[i].partition == 1 && g[i].offset == (int64_t)i, "got [%d] %lld",
                  (int)g[i].partition, (long long)g[i].offset);

    tm_kafka_close(k);
    cr_expect_eq(log.revoked, 0, "close does not call the rebalance callbacks");
    tm_config_free(cfg);
}

Test(kafka, commit_makes_outputs_changelog_and_offsets_visible_together)
{
    const char *topics[] = {"in:2", "out:2", "app-changelog:2", NULL};
    broker_start(topics);
    tm_config *cfg = config();
    rebalance_log log = {.start_task = -1};
    tm_kafka *k = open_assigned(cfg, &log);
    char err[512];

    const tm_header hdrs[] = {{"tidemark.window", "0"}, {"tidemark.null", NULL}};
    const int32_t tasks[] = {0, 1};
    const int64_t offsets[] = {5, 2}; /* next offsets of in [0] and in [1] */

    EXPECT_OK(tm_kafka_begin(k, ERR));
    EXPECT_OK(tm_kafka_produce(k, "out", 0, "wk", 2, "r1", 2, hdrs, 2, ERR));
    EXPECT_OK(tm_kafka_produce(k, "out", 0, NULL, 0, NULL, 0, NULL, 0, ERR)); /* tombstone */
    changelog_put(k, 0, "a", "1");
    changelog_put(k, 0, "b", "2");
    changelog_put(k, 1, "c", NULL);
    EXPECT_OK(tm_kafka_send_offsets(k, tasks, 2, offsets, ERR));
    /* Nothing is visible before the commit. */
    cr_expect_eq(committed_as("read_uncommitted", 0), RD_KAFKA_OFFSET_INVALID);
    EXPECT_OK(tm_kafka_commit(k, ERR));

    /* a@0 b@1 (COMMIT marker @2); c@0 (marker @1). */
    cr_expect_eq(tm_kafka_changelog_end(k, 0), 2);
    cr_expect_eq(tm_kafka_changelog_end(k, 1), 1);
    restored r;
    cr_expect_eq(read_changelog(k, 0, 0, &r), 3, "reads past the marker");
    cr_expect_str_eq(r.text, "a=1@0,b=2@1");
    cr_expect_eq(read_changelog(k, 1, 0, &r), 2);
    cr_expect_str_eq(r.text, "c=null@0");
    cr_expect_eq(tm_kafka_read_changelog(k, 0, 0, refuse, NULL, err, sizeof err), TM_ESTORE,
                 "fn's error stops the read and is returned");
    cr_expect_eq(committed(0), 5);
    cr_expect_eq(committed(1), 2);
    char values[256];
    size_t n_headers = 0;
    read_committed_values("out", 0, values, sizeof values, &n_headers);
    cr_expect_str_eq(values, "r1,null");
    cr_expect_eq(n_headers, 2);

    /* A second transaction: the end is exact again (d@3 after the marker
     * at 2), and a restore from the applied offset reads only the tail. */
    const int64_t offsets2[] = {9, -1}; /* -1: nothing consumed, skipped */
    EXPECT_OK(tm_kafka_begin(k, ERR));
    changelog_put(k, 0, "d", "4");
    EXPECT_OK(tm_kafka_send_offsets(k, tasks, 2, offsets2, ERR));
    EXPECT_OK(tm_kafka_commit(k, ERR));
    cr_expect_eq(tm_kafka_changelog_end(k, 0), 4);
    cr_expect_eq(tm_kafka_changelog_end(k, 1), 1, "untouched partition keeps its end");
    cr_expect_eq(read_changelog(k, 0, 2, &r), 5);
    cr_expect_str_eq(r.text, "d=4@3");
    cr_expect_eq(read_changelog(k, 0, 5, &r), 5, "at the end: nothing");
    cr_expect_eq(r.n, 0);
    cr_expect_eq(committed(0), 9);
    cr_expect_eq(committed(1), 2);

    tm_kafka_close(k);
    tm_config_free(cfg);
}

/* What the multi-partition read saw, by part. */
typedef struct parts_seen {
    char text[3][256];
    size_t n;
    tm_stop_flag *stop_after_first; /* set when the first record arrives */
} parts_seen;

static int on_part(void *ctx, size_t part, const void *key, size_t key_len, const void *value,
                   size_t value_len, int64_t offset)
{
    parts_seen *s = ctx;
    cr_assert_lt(part, 3);
    char *t = s->text[part];
    size_t used = strlen(t);
    snprintf(t + used, sizeof s->text[part] - used, "%s%.*s=%.*s@%lld", used ? "," : "",
             (int)key_len, (const char *)key, value ? (int)value_len : 4,
             value ? (const char *)value : "null", (long long)offset);
    if (s->n++ == 0 && s->stop_after_first)
        *s->stop_after_first = 1;
    return 0;
}

Test(kafka, changelogs_are_read_at_once_up_to_their_last_stable_offsets)
{
    const char *topics[] = {"in:3", "out:3", "app-changelog:3", NULL};
    broker_start(topics);
    tm_config *cfg = config();
    tm_kafka *k = open_ok(cfg, "i0", NULL);
    char err[512];

    EXPECT_OK(tm_kafka_begin(k, ERR));
    changelog_put(k, 0, "a", "1");  /* @0 */
    changelog_put(k, 0, "b", "2");  /* @1, COMMIT @2 */
    changelog_put(k, 1, "c", NULL); /* @0, COMMIT @1 */
    EXPECT_OK(tm_kafka_commit(k, ERR));
    /* An open transaction holds partition 0's last stable offset at 3. */
    EXPECT_OK(tm_kafka_begin(k, ERR));
    changelog_put(k, 0, "x", "9");

    tm_changelog_part parts[3] = {{.task = 0}, {.task = 1}, {.task = 2}};
    cr_assert_eq(tm_kafka_changelog_offsets(k, parts, 3, NULL, err, sizeof err), 0, "%s", err);
    int64_t end[3] = {3, 2, 0};
    for (int i = 0; i < 3; i++) {
        cr_expect_eq(parts[i].start, 0, "part %d", i);
        cr_expect_eq(parts[i].end, end[i], "part %d: end %lld", i, (long long)parts[i].end);
    }
    /* The records committed after the offsets were taken are not read. */
    EXPECT_OK(tm_kafka_commit(k, ERR));

    parts[0].from = 1;
    parts_seen seen = {0};
    cr_assert_eq(tm_kafka_read_changelogs(k, parts, 3, on_part, &seen, NULL, err, sizeof err), 0,
                 "%s", err);
    cr_expect_str_eq(seen.text[0], "b=2@1");
    cr_expect_str_eq(seen.text[1], "c=null@0");
    cr_expect_str_eq(seen.text[2], "");
    for (int i = 0; i < 3; i++)
        cr_expect_eq(parts[i].next, end[i], "part %d: next %lld", i, (long long)parts[i].next);

    /* Stopped before the read: nothing is read, and next stays at from. */
    tm_stop_flag stop = 1;
    memset(&seen, 0, sizeof seen);
    parts[0].from = 0;
    cr_expect_eq(tm_kafka_read_changelogs(k, parts, 3, on_part, &seen, &stop, err, sizeof err),
                 TM_ESTOPPED);
    cr_expect_eq(seen.n, 0);
    cr_expect(parts[0].next == 0 && parts[1].next == 0 && parts[2].next == 0);

    /* Stopped by the first record: next is just after it, the rest is
     * left for the next read. */
    stop = 0;
    seen.stop_after_first = &stop;
    cr_expect_eq(tm_kafka_read_changelogs(k, parts, 3, on_part, &seen, &stop, err, sizeof err),
                 TM_ESTOPPED);
    cr_expect_eq(seen.n, 1);
    cr_expect(strcmp(seen.text[0], "a=1@0") == 0 ? parts[0].next == 1 && parts[1].next == 0
                                                 : parts[1].next == 1 && parts[0].next == 0,
              "read %s | %s; next %lld %lld", seen.text[0], seen.text[1], (long long)parts[0].next,
              (long long)parts[1].next);

    /* A task the changelog lacks is an error naming it. */
    tm_changelog_part bad = {.task = 3};
    cr_expect_eq(tm_kafka_changelog_offsets(k, &bad, 1, NULL, err, sizeof err), TM_EINVAL);
    cr_expect(strstr(err, "task 3"), "%s", err);

    tm_kafka_close(k);
    tm_config_free(cfg);
}

Test(kafka, abort_hides_records_and_offsets)
{
    const char *topics[] = {"in:2", "out:2", "app-changelog:2", NULL};
    broker_start(topics);
    tm_config *cfg = config();
    rebalance_log log = {.start_task = -1};
    tm_kafka *k = open_assigned(cfg, &log);
    const int32_t tasks[] = {0, 1};

    const int64_t first[] = {1, 1};
    EXPECT_OK(tm_kafka_begin(k, ERR));
    changelog_put(k, 0, "a", "1"); /* @0, marker @1 */
    EXPECT_OK(tm_kafka_send_offsets(k, tasks, 2, first, ERR));
    EXPECT_OK(tm_kafka_commit(k, ERR));

    /* x may or may not reach the log before the abort purges it. */
    const int64_t second[] = {7, 7};
    EXPECT_OK(tm_kafka_begin(k, ERR));
    changelog_put(k, 0, "x", "9");
    EXPECT_OK(tm_kafka_produce(k, "out", 1, "k", 1, "lost", 4, NULL, 0, ERR));
    EXPECT_OK(tm_kafka_send_offsets(k, tasks, 2, second, ERR));
    EXPECT_OK(tm_kafka_abort(k, ERR));

    cr_expect_eq(tm_kafka_changelog_end(k, 0), 1, "an abort leaves the end alone");
    restored r;
    int64_t end = read_changelog(k, 0, 0, &r);
    cr_expect(end == 2 || end == 4, "end %lld: a@0 COMMIT@1 [x@2 ABORT@3]", (long long)end);
    cr_expect_str_eq(r.text, "a=1@0");
    cr_expect_eq(committed(0), 1);
    cr_expect_eq(committed(1), 1);
    char values[256];
    read_committed_values("out", 1, values, sizeof values, NULL);
    cr_expect_str_eq(values, "");

    /* The next transaction goes on from there. */
    EXPECT_OK(tm_kafka_begin(k, ERR));
    changelog_put(k, 0, "y", "2"); /* @end */
    EXPECT_OK(tm_kafka_commit(k, ERR));
    cr_expect_eq(tm_kafka_changelog_end(k, 0), end + 1, "exact: y's offset + 1");
    cr_expect_eq(read_changelog(k, 0, 1, &r), end + 2, "and its COMMIT marker");
    cr_expect_eq(r.n, 1);
    cr_expect_eq(r.last, end);
    cr_expect(strncmp(r.text, "y=2@", 4) == 0, "%s", r.text);

    tm_kafka_close(k);
    tm_config_free(cfg);
}

Test(kafka, a_new_incarnation_fences_the_old_one)
{
    const char *topics[] = {"in:2", "out:2", "app-changelog:2", NULL};
    broker_start(topics);
    tm_config *cfg = config();
    tm_kafka *old = open_ok(cfg, "i0", NULL);

    EXPECT_OK(tm_kafka_begin(old, ERR));
    changelog_put(old, 0, "z", "1");
    EXPECT_OK(tm_kafka_produce(old, "out", 0, "k", 1, "zombie", 6, NULL, 0, ERR));

    /* The same instance id again: init_transactions aborts the open
     * transaction and fences the old producer. */
    tm_kafka *new = open_ok(cfg, "i0", NULL);
    char err[512];
    tm_kafka_status st = tm_kafka_commit(old, err, sizeof err);
    cr_expect_eq(st, TM_KAFKA_FATAL, "status %d: %s", (int)st, err);
    cr_expect_eq(tm_kafka_changelog_end(old, 0), -1);
    tm_record recs[4];
    cr_expect_eq(tm_kafka_poll_batch(old, recs, 4, 0, &st, err, sizeof err), -1);
    cr_expect_eq(st, TM_KAFKA_FATAL, "a fenced handle polls FATAL");

    EXPECT_OK(tm_kafka_begin(new, ERR));
    changelog_put(new, 0, "n", "2");
    EXPECT_OK(tm_kafka_commit(new, ERR));
    restored r;
    int64_t end = read_changelog(new, 0, 0, &r);
    cr_expect_eq(r.n, 1, "only the new incarnation's record: %s", r.text);
    cr_expect(strncmp(r.text, "n=2@", 4) == 0, "%s", r.text);
    cr_expect_eq(tm_kafka_changelog_end(new, 0), r.last + 1);
    cr_expect_eq(end, r.last + 2);
    char values[256];
    read_committed_values("out", 0, values, sizeof values, NULL);
    cr_expect_str_eq(values, "");

    tm_kafka_close(old);
    tm_kafka_close(new);
    tm_config_free(cfg);
}

/* The broker aborts a transaction open longer than transaction.timeout.ms
 * and fences its producer (as Kafka's coordinator does): the error says
 * that, not that another instance took over. */
Test(kafka, a_transaction_outliving_its_timeout_is_fenced_and_says_why)
{
    const char *topics[] = {"in:2", "out:2", "app-changelog:2", NULL};
    broker_start(topics);
    const char *ov[] = {"kafka.transaction.timeout.ms=1000"};
    tm_config *cfg = NULL;
    char err[512];
    cr_assert_eq(load_config(&cfg, ov, 1, err, sizeof err), 0, "%s", err);
    tm_kafka *k = open_ok(cfg, "i0", NULL);

    EXPECT_OK(tm_kafka_begin(k, ERR));
    changelog_put(k, 0, "z", "1");
    tm_sleep_ms(2500);
    tm_kafka_status st = tm_kafka_commit(k, err, sizeof err);
    cr_expect_eq(st, TM_KAFKA_FATAL, "status %d: %s", (int)st, err);
    cr_expect(strstr(err, "open longer than transaction.timeout.ms"), "%s", err);
    cr_expect(!strstr(err, "same instance id"), "%s", err);

    tm_kafka_close(k);
    tm_config_free(cfg);
}

/* Fencing names its likely cause: another instance with the same id, or
 * (FENCED_INSTANCE_ID soon after this instance's own assignment was lost)
 * the rejoin after a session timeout, which librdkafka can get fenced. */
Test(kafka, a_static_fence_after_a_lost_session_is_not_blamed_on_another_instance)
{
    tm_kafka k = {0};
    cr_expect(strstr(tm_kafka_fenced_hint(&k, RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID),
                     "another instance started with the same instance id"));
    k.lost_at_ms = tm_monotonic_ms() - 1000;
    const char *hint = tm_kafka_fenced_hint(&k, RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID);
    cr_expect(strstr(hint, "own group session timed out"), "%s", hint);
    cr_expect(strstr(tm_kafka_fenced_hint(&k, RD_KAFKA_RESP_ERR__FENCED),
                     "another instance started with the same instance id"),
              "a producer fence is not about the group session");
    cr_expect_str_empty(tm_kafka_fenced_hint(&k, RD_KAFKA_RESP_ERR__TRANSPORT));
}

Test(kafka, a_failed_restore_makes_the_next_poll_fatal)
{
    const char *topics[] = {"in:2", "out:2", "app-changelog:2", NULL};
    broker_start(topics);
    tm_config *cfg = config();
    rebalance_log log = {.start_task = -1, .assigned_result = TM_ESTORE};
    tm_kafka_rebalance rb = rebalance_of(&log);
    tm_kafka *k = open_ok(cfg, "i0", &rb);
    char err[512];
    cr_assert_eq(tm_kafka_subscribe(k, err, sizeof err), 0, "%s", err);

    tm_record recs[4];
    tm_kafka_status st = TM_KAFKA_OK;
    ssize_t r = 0;
    int64_t deadline = tm_test_now_ms() + WAIT_MS;
    while (r >= 0 && tm_test_now_ms() < deadline) {
        r = tm_kafka_poll_batch(k, recs, 4, 200, &st, err, sizeof err);
        tm_kafka_release_batch(k);
    }
    cr_expect_eq(log.assigned, 1);
    cr_expect_eq(r, -1);
    cr_expect_eq(st, TM_KAFKA_FATAL);
    cr_expect(strstr(err, "state store error"), "%s", err);

    tm_kafka_close(k);
    tm_config_free(cfg);
}

/* A member that commits its positions when its tasks are revoked, as the
 * runner does. */
typedef struct member {
    tm_kafka *k;
    int64_t next[2]; /* next offset of in [0], in [1]; -1 = nothing read */
    int32_t tasks[2];
    size_t n_tasks;
    int assigned, revoked;
    tm_kafka_status revoke_commit;
    got recs[16];
    size_t n_recs;
} member;

static int member_assigned(void *ctx, const int32_t *tasks, size_t n, int64_t *start_offsets)
{
    member *m = ctx;
    (void)start_offsets; /* no checkpoints: the group's committed offsets */
    m->assigned++;
    m->n_tasks = n < 2 ? n : 2;
    memcpy(m->tasks, tasks, m->n_tasks * sizeof *tasks);
    return 0;
}

static void member_revoked(void *ctx, const int32_t *tasks, size_t n)
{
    member *m = ctx;
    char err[512];
    int64_t offsets[2];
    m->revoked++;
    for (size_t j = 0; j < n; j++)
        offsets[j] = tasks[j] < 2 ? m->next[tasks[j]] : -1;
    m->revoke_commit = tm_kafka_begin(m->k, err, sizeof err);
    if (m->revoke_commit == TM_KAFKA_OK)
        m->revoke_commit = tm_kafka_send_offsets(m->k, tasks, n, offsets, err, sizeof err);
    if (m->revoke_commit == TM_KAFKA_OK)
        m->revoke_commit = tm_kafka_commit(m->k, err, sizeof err);
    cr_expect_eq(m->revoke_commit, TM_KAFKA_OK, "commit on revoke: %s", err);
    m->n_tasks = 0;
}

/* One poll of a member, keeping what it read. */
static void member_poll(member *m)
{
    tm_record recs[8];
    tm_kafka_status st;
    char err[512];
    ssize_t r = tm_kafka_poll_batch(m->k, recs, 8, 100, &st, err, sizeof err);
    cr_assert_geq(r, 0, "poll_batch: %s", err);
    for (ssize_t i = 0; i < r && m->n_recs < 16; i++) {
        got *g = &m->recs[m->n_recs++];
        g->partition = recs[i].partition;
        g->offset = recs[i].offset;
        m->next[recs[i].partition] = recs[i].offset + 1;
    }
    tm_kafka_release_batch(m->k);
}

Test(kafka, a_joining_member_takes_a_task_from_the_committed_offset)
{
    const char *topics[] = {"in:2", "out:2", "app-changelog:2", NULL};
    broker_start(topics);
    const char *kv[] = {"k", "1", "k", "2", "k", "3"};
    produce_plain("in", 0, kv, 3);
    produce_plain("in", 1, kv, 3);

    /* The mock waits session.timeout.ms - 1 s for members to rejoin. */
    const char *ov[] = {"kafka.session.timeout.ms=6000", "kafka.heartbeat.interval.ms=300"};
    tm_config *cfg = NULL;
    char err[512];
    cr_assert_eq(load_config(&cfg, ov, 2, err, sizeof err), 0, "%s", err);
    member a = {.next = {-1, -1}}, b = {.next = {-1, -1}};
    tm_kafka_rebalance rb_a = {.ctx = &a, .assigned = member_assigned, .revoked = member_revoked};
    tm_kafka_rebalance rb_b = {.ctx = &b, .assigned = member_assigned, .revoked = member_revoked};

    a.k = open_ok(cfg, "i0", &rb_a);
    cr_assert_eq(tm_kafka_subscribe(a.k, err, sizeof err), 0, "%s", err);
    int64_t deadline = tm_test_now_ms() + WAIT_MS;
    while (a.n_recs < 6 && tm_test_now_ms() < deadline)
        member_poll(&a);
    cr_assert_eq(a.n_recs, 6, "a read %zu of 6", a.n_recs);
    cr_expect_eq(a.n_tasks, 2);

    b.k = open_ok(cfg, "i1", &rb_b);
    cr_assert_eq(tm_kafka_subscribe(b.k, err, sizeof err), 0, "%s", err);
    deadline = tm_test_now_ms() + WAIT_MS;
    while ((a.assigned < 2 || b.assigned < 1) && tm_test_now_ms() < deadline) {
        member_poll(&a);
        member_poll(&b);
    }
    cr_assert(a.assigned == 2 && b.assigned == 1, "assignments: a %d, b %d", a.assigned,
              b.assigned);
    cr_expect_eq(a.revoked, 1);
    cr_expect_eq(a.revoke_commit, TM_KAFKA_OK);
    cr_expect_eq(committed(0), 3);
    cr_expect_eq(committed(1), 3);
    /* range: the first member (by id) gets partition 0 of "in". */
    cr_assert_eq(a.n_tasks, 1);
    cr_assert_eq(b.n_tasks, 1);
    cr_expect_neq(a.tasks[0], b.tasks[0]);

    /* b's task starts at the committed offset: only the new record. */
    member *owner = b.tasks[0] == 1 ? &b : &a;
    size_t before = owner->n_recs;
    const char *more[] = {"k", "4"};
    produce_plain("in", 1, more, 1);
    deadline = tm_test_now_ms() + WAIT_MS;
    while (owner->n_recs == before && tm_test_now_ms() < deadline) {
        member_poll(&a);
        member_poll(&b);
    }
    cr_assert_eq(owner->n_recs, before + 1);
    cr_expect_eq(owner->recs[before].partition, 1);
    cr_expect_eq(owner->recs[before].offset, 3);
    cr_expect_eq(b.n_recs, owner == &b ? 1 : 0, "b read nothing twice");

    tm_kafka_close(a.k);
    tm_kafka_close(b.k);
    tm_config_free(cfg);
}

/* ---- a rebalance inside one long poll ------------------------------------ */

/* A member that, like the runner, starts a task it gets back at its own
 * checkpoint (restart_at), not where it had read to. */
typedef struct rejoiner {
    tm_kafka *k;
    int64_t restart_at; /* -1: the group's committed offset */
    int32_t task;       /* the first task of the latest assignment */
    atomic_int assigned, revoked;
    atomic_int stop; /* ends poll_in_thread */
} rejoiner;

static int rejoiner_assigned(void *ctx, const int32_t *tasks, size_t n, int64_t *start_offsets)
{
    rejoiner *m = ctx;
    for (size_t j = 0; j < n; j++)
        if (m->assigned > 0 && m->restart_at >= 0)
            start_offsets[j] = m->restart_at; /* one input topic */
    m->task = n > 0 ? tasks[0] : -1;
    m->assigned++;
    return 0;
}

static void rejoiner_revoked(void *ctx, const int32_t *tasks, size_t n)
{
    (void)tasks, (void)n;
    ((rejoiner *)ctx)->revoked++;
}

/* Polls m->k until m->stop: the joining member, on its own thread. */
static void *poll_in_thread(void *arg)
{
    rejoiner *m = arg;
    tm_record recs[16];
    while (!m->stop) {
        tm_kafka_status st;
        char err[512];
        if (tm_kafka_poll_batch(m->k, recs, 16, 100, &st, err, sizeof err) < 0)
            break;
        tm_kafka_release_batch(m->k);
    }
    return NULL;
}

/* The revoke, the new assignment and the fetch from its start offsets
 * can all happen inside one long consumer call: the records fetched for
 * the new assignment are delivered, from the start offset on, none lost. */
Test(kafka, records_fetched_in_the_poll_that_assigns_them_are_kept)
{
    enum { RECORDS = 20, RESTART_AT = 5 };
    const char *topics[] = {"in:2", "out:2", "app-changelog:2", NULL};
    broker_start(topics);
    const char *kv[2 * RECORDS];
    for (size_t i = 0; i < RECORDS; i++)
        kv[2 * i] = "k", kv[2 * i + 1] = "v";
    produce_plain("in", 0, kv, RECORDS);
    produce_plain("in", 1, kv, RECORDS);

    const char *ov[] = {"kafka.session.timeout.ms=6000", "kafka.heartbeat.interval.ms=300"};
    tm_config *cfg = NULL;
    char err[512];
    cr_assert_eq(load_config(&cfg, ov, 2, err, sizeof err), 0, "%s", err);
    rejoiner a = {.restart_at = RESTART_AT}, b = {.restart_at = -1};
    tm_kafka_rebalance rb_a = {&a, rejoiner_assigned, rejoiner_revoked};
    tm_kafka_rebalance rb_b = {&b, rejoiner_assigned, rejoiner_revoked};
    a.k = open_ok(cfg, "i0", &rb_a);
    cr_assert_eq(tm_kafka_subscribe(a.k, err, sizeof err), 0, "%s", err);
    got g[2 * RECORDS];
    cr_assert_eq(poll_records(a.k, g, 2 * RECORDS), 2 * RECORDS, "a read everything first");

    b.k = open_ok(cfg, "i1", &rb_b);
    cr_assert_eq(tm_kafka_subscribe(b.k, err, sizeof err), 0, "%s", err);
    pthread_t thread;
    cr_assert_eq(pthread_create(&thread, NULL, poll_in_thread, &b), 0);

    /* Long polls: the whole rebalance and the first fetch of a's new
     * assignment fit in one (which returns once it holds them all). */
    int64_t next = RESTART_AT;
    int64_t deadline = tm_test_now_ms() + WAIT_MS;
    tm_record recs[RECORDS - RESTART_AT];
    while ((a.assigned < 2 || next < RECORDS) && tm_test_now_ms() < deadline) {
        tm_kafka_status st;
        ssize_t r =
            tm_kafka_poll_batch(a.k, recs, RECORDS - RESTART_AT, 8000, &st, err, sizeof err);
        cr_assert_geq(r, 0, "poll_batch: %s", err);
        for (ssize_t i = 0; i < r; i++) {
            cr_assert_eq(a.assigned, 2, "a record before the new assignment");
            cr_assert_eq(recs[i].partition, a.task);
            cr_assert_eq(recs[i].offset, next, "offset %lld of task %d, expected %lld",
                         (long long)recs[i].offset, (int)a.task, (long long)next);
            next++;
        }
        tm_kafka_release_batch(a.k);
    }
    b.stop = 1;
    pthread_join(thread, NULL);
    cr_expect_eq(a.revoked, 1);
    cr_assert_eq(a.assigned, 2, "a was assigned %d times", (int)a.assigned);
    cr_expect_eq(b.assigned, 1);
    cr_expect_eq(next, RECORDS, "a read task %d from %d to %lld only", (int)a.task, RESTART_AT,
                 (long long)next);

    tm_kafka_close(a.k);
    tm_kafka_close(b.k);
    tm_config_free(cfg);
}

/* ---- reading whole topics (verify's reader) --------------------------------- */

/* The offsets read, per partition of a 2-partition topic. */
typedef struct offsets_read {
    int64_t offsets[2][8];
    size_t n[2];
} offsets_read;

static int note_offset(void *ctx, const tm_kafka_read_record *r)
{
    offsets_read *o = ctx;
    cr_assert(r->partition >= 0 && r->partition < 2 && o->n[r->partition] < 8);
    o->offsets[r->partition][o->n[r->partition]++] = r->offset;
    return 0;
}

/*
 * tm_kafka_read_topic starts each partition at the first record whose
 * timestamp is at least from_ts, where offsets-for-times leads (the test
 * broker answers it as Kafka does, tests/broker/patches/0008); a
 * partition with no record that late is not read at all. produce_plain
 * stamps its i-th record 1700000000000 + i.
 */
Test(kafka, read_topic_starts_where_offsets_for_times_leads)
{
    const char *topics[] = {"in:2", "out:2", "app-changelog:2", NULL};
    broker_start(topics);
    const char *kv[] = {"k", "0", "k", "1", "k", "2", "k", "3", "k", "4"};
    produce_plain("in", 0, kv, 5);
    produce_plain("in", 1, kv, 2);
    tm_config *cfg = config();
    tm_kafka *k = NULL;
    char err[512];
    cr_assert_eq(tm_kafka_open_admin(&k, cfg, err, sizeof err), 0, "%s", err);

    offsets_read seen = {0};
    bool truncated = false; /* only ever set */
    cr_assert_eq(tm_kafka_read_topic(k, "in", 1700000000003, note_offset, &seen, &truncated, err,
                                     sizeof err),
                 0, "%s", err);
    cr_expect_not(truncated);
    cr_expect_eq(seen.n[0], 2, "partition 0 from offset 3: %zu records", seen.n[0]);
    cr_expect_eq(seen.offsets[0][0], 3);
    cr_expect_eq(seen.offsets[0][1], 4);
    cr_expect_eq(seen.n[1], 0, "partition 1 holds nothing that late: %zu records", seen.n[1]);
    int64_t span = -1;
    cr_assert_eq(tm_kafka_span_from(k, "in", 1700000000003, &span, err, sizeof err), 0, "%s", err);
    cr_expect_eq(span, 2, "the offsets that read spans, counted before it: %lld", (long long)span);
    cr_assert_eq(tm_kafka_span_from(k, "in", INT64_MIN, &span, err, sizeof err), 0, "%s", err);
    cr_expect_eq(span, 7);
    cr_expect_eq(tm_kafka_span_from(k, "nope", INT64_MIN, &span, err, sizeof err), TM_EKAFKA);
    cr_expect(strstr(err, "'nope' does not exist"), "%s", err);

    /* INT64_MIN: every partition from its log start. */
    seen = (offsets_read){0};
    truncated = false;
    cr_assert_eq(
        tm_kafka_read_topic(k, "in", INT64_MIN, note_offset, &seen, &truncated, err, sizeof err), 0,
        "%s", err);
    cr_expect_eq(seen.n[0], 5);
    cr_expect_eq(seen.n[1], 2);
    cr_expect_eq(seen.offsets[0][0], 0);
    cr_expect_not(truncated);
    tm_kafka_close(k);
    tm_config_free(cfg);
}
