/*
 * test_kafka_repartition.c: the repartition topic of the kafka layer
 * (service/kafka/kafka_repartition.c) against the test broker: created
 * with R partitions and its configs (read back with DescribeConfigs), an
 * existing one with another partition count or too small for an event
 * refused, records produced in the transaction (visible read_committed
 * once committed, never when aborted), and purged below a committed
 * offset. Plain librdkafka clients play the outside world.
 *
 * Every wait is bounded (deadlines, librdkafka timeouts); no Criterion
 * .timeout (it leaks under ASan, see tests/broker/README.md).
 */
#include "kafka.h"

#include "broker.h"
#include "config.h"
#include "err.h"
#include "kafka_io.h"
#include "log.h"
#include "proc.h"
#include "reset.h"

#include <criterion/criterion.h>
#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WAIT_MS 20000
/* What the tests say an event adds to its input record. */
#define OVERHEAD 20000
/* The launcher's topics take Kafka's default max.message.bytes. */
#define KAFKA_DEFAULT_MAX_MESSAGE_BYTES 1048588

static tm_test_broker *broker;
static tm_config *cfg;
static char state_dir[] = "/tmp/tm_test_kafka_repartition_state_XXXXXX";

static void quiet(void)
{
    /* librdkafka's informational lines would drown the test output. */
    tm_log_threshold = TM_LOG_ERROR;
}

static void teardown(void)
{
    tm_config_free(cfg);
    cfg = NULL;
    rmdir(state_dir); /* empty: no test writes a store */
    if (broker)
        tm_test_broker_stop(broker);
    broker = NULL;
}

TestSuite(kafka_repartition, .init = quiet, .fini = teardown);

/* A one-broker cluster with the input, output, late and dead-letter
 * topics (2 partitions each), the extra launcher arguments (NULL-ended),
 * and the configuration of application "app" on it. */
static void start(const char *const *extra)
{
    const char *args[24] = {"--brokers", "1",       "--topic",    "in:2",    "--topic",
                            "out:2",     "--topic", "app-late:2", "--topic", "app-dlq:2"};
    size_t n = 10;
    for (size_t i = 0; extra && extra[i] && n < 23; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    broker = tm_test_broker_start(args, NULL);

    char path[] = "/tmp/tm_test_kafka_repartition_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    const char *json = "{\"application_id\":\"app\",\"input\":{\"topics\":[\"in\"],"
                       "\"event_time\":{\"pointer\":\"/t\"}},\"output\":{\"topic\":\"out\"},"
                       "\"window\":{\"type\":\"tumbling\",\"size_ms\":1000}}";
    cr_assert_eq(write(fd, json, strlen(json)), (ssize_t)strlen(json));
    close(fd);
    char bs[640], sd[64], err[512];
    cr_assert_not_null(mkdtemp(state_dir));
    snprintf(bs, sizeof bs, "kafka.bootstrap.servers=%s", tm_test_broker_bootstrap(broker));
    snprintf(sd, sizeof sd, "state.dir=%s", state_dir);
    const char *ov[] = {bs, sd};
    int rc = tm_config_load(&cfg, path, NULL, ov, 2, err, sizeof err);
    unlink(path);
    cr_assert_eq(rc, 0, "config: %s", err);
}

/* tm_kafka_open with a repartition topic of r partitions: its result,
 * the handle in *k, the message in err. */
static int open_with(int32_t r, tm_kafka **k, char err[512])
{
    tm_kafka_needs needs = {.repartition_partitions = r, .repartition_overhead_bytes = OVERHEAD};
    *k = NULL;
    return tm_kafka_open(k, cfg, "i0", NULL, &needs, err, 512);
}

static tm_kafka *open_ok(int32_t r)
{
    tm_kafka *k;
    char err[512];
    int rc = open_with(r, &k, err);
    cr_assert_eq(rc, 0, "tm_kafka_open: %d %s", rc, err);
    return k;
}

/* ---- the outside world ---------------------------------------------------- */

static rd_kafka_t *client(rd_kafka_type_t type, const char *const *kv)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char err[256];
    cr_assert_eq(rd_kafka_conf_set(conf, "bootstrap.servers", tm_test_broker_bootstrap(broker), err,
                                   sizeof err),
                 RD_KAFKA_CONF_OK, "%s", err);
    for (; kv && kv[0]; kv += 2)
        cr_assert_eq(rd_kafka_conf_set(conf, kv[0], kv[1], err, sizeof err), RD_KAFKA_CONF_OK,
                     "%s: %s", kv[0], err);
    rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof err);
    cr_assert_not_null(rk, "%s", err);
    return rk;
}

/* topic's partition count, 0 when it does not exist (the probe is a
 * consumer, which creates no topic by asking for it). */
static int partitions_of(const char *topic)
{
    tm_kafka_probe *p = tm_kafka_probe_new(tm_test_broker_bootstrap(broker), "test-probe");
    int n = tm_kafka_probe_partitions(p, topic);
    tm_kafka_probe_free(p);
    cr_assert_geq(n, 0, "no metadata of %s in time", topic);
    return n;
}

/* The value of topic config `name` (DescribeConfigs) into value. */
static void topic_config(const char *topic, const char *name, char *value, size_t len)
{
    rd_kafka_t *rk = client(RD_KAFKA_PRODUCER, NULL);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_ConfigResource_t *res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic);
    rd_kafka_DescribeConfigs(rk, &res, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, WAIT_MS);
    cr_assert_not_null(ev, "no DescribeConfigs answer in time");
    cr_assert_eq(rd_kafka_event_error(ev), 0, "%s", rd_kafka_event_error_string(ev));
    size_t n = 0, m = 0;
    const rd_kafka_ConfigResource_t **got =
        rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev), &n);
    cr_assert_eq(n, 1);
    const rd_kafka_ConfigEntry_t **entries = rd_kafka_ConfigResource_configs(got[0], &m);
    value[0] = '\0';
    for (size_t i = 0; i < m; i++)
        if (strcmp(rd_kafka_ConfigEntry_name(entries[i]), name) == 0)
            snprintf(value, len, "%s",
                     rd_kafka_ConfigEntry_value(entries[i]) ? rd_kafka_ConfigEntry_value(entries[i])
                                                            : "(null)");
    rd_kafka_event_destroy(ev);
    rd_kafka_ConfigResource_destroy(res);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
}

/* The records of app-repartition [r], read_committed from its log start,
 * as envelope lines (tm_kafka_io_dump) into out. */
static void read_committed_lines(int32_t r, char *out, size_t len)
{
    char path[] = "/tmp/tm_test_kafka_repartition_dump_XXXXXX", line[512], mark[32];
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    tm_kafka_io_dump(tm_test_broker_bootstrap(broker), "app-repartition", path);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    snprintf(mark, sizeof mark, "\"partition\":%d,", (int)r);
    out[0] = '\0';
    while (fgets(line, sizeof line, f))
        if (strstr(line, mark))
            snprintf(out + strlen(out), len - strlen(out), "%s", line);
    fclose(f);
    unlink(path);
}

static int64_t low_watermark(int32_t r)
{
    rd_kafka_t *c = client(RD_KAFKA_CONSUMER, NULL);
    int64_t lo = -1, hi = -1;
    rd_kafka_resp_err_t err =
        rd_kafka_query_watermark_offsets(c, "app-repartition", r, &lo, &hi, WAIT_MS);
    cr_assert_eq(err, 0, "%s", rd_kafka_err2str(err));
    rd_kafka_destroy(c);
    return lo;
}

#define ERR err, sizeof err
#define EXPECT_OK(call)                                                                            \
    do {                                                                                           \
        tm_kafka_status st_ = (call);                                                              \
        cr_assert_eq(st_, TM_KAFKA_OK, "%s: %d %s", #call, st_, err);                              \
    } while (0)

/* A record of app-repartition as tm_kafka_io_dump writes it (key: JSON). */
#define LINE(r, key, value)                                                                        \
    "{\"topic\":\"app-repartition\",\"partition\":" #r ",\"key\":" key ",\"payload\":\"" value     \
    "\",\"headers\":{}}\n"

static void produce(tm_kafka *k, int32_t r, const char *key, const char *value)
{
    char err[512];
    EXPECT_OK(
        tm_kafka_produce_repartition(k, r, key, key ? strlen(key) : 0, value, strlen(value), ERR));
}

/* ---- the tests ---------------------------------------------------------- */

Test(kafka_repartition, missing_topic_is_created_with_r_partitions_and_its_configs)
{
    start(NULL);
    tm_kafka *k = open_ok(3);
    cr_expect_str_eq(tm_kafka_repartition_topic(k), "app-repartition");
    cr_expect_eq(tm_kafka_repartition_partitions(k), 3);
    cr_expect_eq(partitions_of("app-repartition"), 3);

    char v[64];
    topic_config("app-repartition", "cleanup.policy", v, sizeof v);
    cr_expect_str_eq(v, "delete");
    topic_config("app-repartition", "retention.ms", v, sizeof v);
    cr_expect_str_eq(v, "-1");
    topic_config("app-repartition", "max.message.bytes", v, sizeof v);
    cr_expect_eq(strtoll(v, NULL, 10), KAFKA_DEFAULT_MAX_MESSAGE_BYTES + OVERHEAD, "%s", v);
    /* The producer's message.max.bytes (1000000 by default) was raised to
     * the topic's: an event of the largest input record fits. */
    cr_expect_eq(tm_kafka_repartition_record_limit(k), KAFKA_DEFAULT_MAX_MESSAGE_BYTES + OVERHEAD);
    cr_expect_eq(tm_kafka_record_limit(k, "out"), KAFKA_DEFAULT_MAX_MESSAGE_BYTES);
    tm_kafka_close(k);

    /* Opened again, the existing topic is taken as it is. */
    k = open_ok(3);
    cr_expect_eq(tm_kafka_repartition_partitions(k), 3);
    tm_kafka_close(k);
}

Test(kafka_repartition, no_topic_without_repartitioning)
{
    start(NULL);
    tm_kafka *k = open_ok(0);
    cr_expect_null(tm_kafka_repartition_topic(k));
    cr_expect_eq(partitions_of("app-repartition"), 0);
    /* Without it, the producer keeps librdkafka's message.max.bytes. */
    cr_expect_eq(tm_kafka_record_limit(k, "out"), 1000000);
    tm_kafka_close(k);
}

Test(kafka_repartition, another_partition_count_is_refused_naming_the_topic_and_both_counts)
{
    const char *extra[] = {"--topic", "app-repartition:2", NULL};
    start(extra);
    tm_kafka *k;
    char err[512];
    int rc = open_with(3, &k, err);
    cr_expect_eq(rc, TM_ECONFIG, "rc %d: %s", rc, err);
    cr_expect_null(k);
    cr_expect(strstr(err, "one per input partition") && strstr(err, "'app-repartition'") &&
                  strstr(err, "has 2 partitions") && strstr(err, "into 3") &&
                  strstr(err, "tidemark reset"),
              "%s", err);
}

/* The live service's count (TM_KAFKA_INPUT_PARTITIONS): one repartition
 * partition per input partition, consumed after the input topics; a
 * configured repartition.partitions other than that is refused, naming
 * the key. */
Test(kafka_repartition, the_live_count_is_the_input_partition_count)
{
    start(NULL);
    tm_kafka *k = open_ok(TM_KAFKA_INPUT_PARTITIONS);
    cr_expect_eq(tm_kafka_repartition_partitions(k), 2);
    cr_expect_eq(tm_kafka_consumed_topics(k), 2, "the input topic, then the repartition topic");
    tm_kafka_close(k);
    cr_assert_eq(partitions_of("app-repartition"), 2);
    cfg->repartition_partitions = 3;
    char err[512];
    cr_assert_eq(open_with(TM_KAFKA_INPUT_PARTITIONS, &k, err), TM_ECONFIG, "%s", err);
    cr_expect(strstr(err, "config: repartition.partitions: 3") && strstr(err, "(2)"), "%s", err);
    cfg->repartition_partitions = 2; /* the count it would be anyway */
    k = open_ok(TM_KAFKA_INPUT_PARTITIONS);
    tm_kafka_close(k);
}

Test(kafka_repartition, reset_deletes_the_topic_so_that_the_next_start_creates_it_with_r)
{
    start(NULL);
    tm_kafka *k = open_ok(2);
    tm_kafka_close(k);
    cr_assert_eq(partitions_of("app-repartition"), 2);

    /* R changed (repartition.partitions, or the input partition count):
     * refused until the reset. */
    char err[512];
    cr_assert_eq(open_with(3, &k, err), TM_ECONFIG, "%s", err);
    FILE *out = tmpfile();
    cr_assert_not_null(out);
    int rc = tm_reset_run(cfg, true, out, err, sizeof err);
    fclose(out);
    cr_assert_eq(rc, 0, "reset: %d %s", rc, err);
    cr_expect_eq(partitions_of("app-repartition"), 0);
    k = open_ok(3);
    cr_expect_eq(partitions_of("app-repartition"), 3);
    tm_kafka_close(k);
}

Test(kafka_repartition, a_topic_too_small_for_the_largest_input_record_is_taken_with_a_warning)
{
    /* Created before tidemark, with the broker's default limit: no room for
     * an event of a record of that size. */
    const char *extra[] = {"--topic", "app-repartition:2", NULL};
    start(extra);
    char path[] = "/tmp/tm_test_kafka_repartition_log_XXXXXX", log[8192] = "";
    int fd = mkstemp(path), saved = dup(STDERR_FILENO);
    cr_assert(fd >= 0 && saved >= 0);
    tm_log_threshold = TM_LOG_WARN;
    dup2(fd, STDERR_FILENO);
    tm_kafka *k = open_ok(2);
    dup2(saved, STDERR_FILENO);
    close(saved);
    tm_log_threshold = TM_LOG_ERROR;
    ssize_t n = pread(fd, log, sizeof log - 1, 0);
    close(fd);
    unlink(path);
    log[n > 0 ? n : 0] = '\0';

    /* Events of larger input records go by reference within the topic's
     * limit, which the warning names with what an event of the largest
     * input record needs. */
    cr_expect_eq(tm_kafka_repartition_record_limit(k), KAFKA_DEFAULT_MAX_MESSAGE_BYTES);
    cr_expect(strstr(log, "\"warn\"") && strstr(log, "app-repartition") &&
                  strstr(log, "at most 1048588 bytes") && strstr(log, "1068588"),
              "%s", log);
    tm_kafka_close(k);
}

Test(kafka_repartition, an_existing_topic_too_small_for_an_event_is_refused)
{
    /* Every topic of this cluster takes 10000 bytes, less than an event's
     * own part (OVERHEAD): none could travel. */
    const char *extra[] = {"--message-max-bytes", "10000", "--topic", "app-repartition:2", NULL};
    start(extra);
    tm_kafka *k;
    char err[512];
    int rc = open_with(2, &k, err);
    cr_expect_eq(rc, TM_ECONFIG, "rc %d: %s", rc, err);
    cr_expect(strstr(err, "'app-repartition'") && strstr(err, "10000"), "%s", err);
}

Test(kafka_repartition, records_are_visible_once_committed_never_when_aborted)
{
    start(NULL);
    tm_kafka *k = open_ok(2);
    char err[512], got[512];

    EXPECT_OK(tm_kafka_begin(k, ERR));
    produce(k, 1, "m1", "e1");
    produce(k, 1, NULL, "w1"); /* a watermark record: null key */
    produce(k, 0, "m2", "e2");
    EXPECT_OK(tm_kafka_commit(k, ERR));
    EXPECT_OK(tm_kafka_begin(k, ERR));
    produce(k, 1, "m1", "aborted");
    EXPECT_OK(tm_kafka_abort(k, ERR));
    EXPECT_OK(tm_kafka_begin(k, ERR));
    produce(k, 1, "m3", "e3");
    EXPECT_OK(tm_kafka_commit(k, ERR));

    read_committed_lines(1, got, sizeof got);
    cr_expect_str_eq(got, LINE(1, "\"m1\"", "e1") LINE(1, "null", "w1") LINE(1, "\"m3\"", "e3"));
    read_committed_lines(0, got, sizeof got);
    cr_expect_str_eq(got, LINE(0, "\"m2\"", "e2"));

    /* A partition the topic does not have is a bug of the caller. */
    EXPECT_OK(tm_kafka_begin(k, ERR));
    cr_expect_eq(tm_kafka_produce_repartition(k, 2, "k", 1, "v", 1, ERR), TM_KAFKA_FATAL);
    cr_expect(strstr(err, "app-repartition") && strstr(err, "2"), "%s", err);
    tm_kafka_close(k);
}

Test(kafka_repartition, purge_deletes_below_the_committed_offset)
{
    start(NULL);
    tm_kafka *k = open_ok(2);
    char err[512], got[512];

    EXPECT_OK(tm_kafka_begin(k, ERR));
    for (int i = 0; i < 5; i++) {
        char v[16];
        snprintf(v, sizeof v, "e%d", i);
        produce(k, 0, "m", v);
    }
    EXPECT_OK(tm_kafka_commit(k, ERR));
    cr_expect_eq(low_watermark(0), 0);
    cr_expect_eq(tm_kafka_repartition_purged(k, 0), -1);

    /* A window task committed offset 3 in partition 0. */
    const int32_t parts[] = {0};
    const int64_t below[] = {3};
    tm_kafka_purge_repartition(k, parts, below, 1);
    int64_t deadline = tm_test_now_ms() + WAIT_MS;
    while (tm_kafka_repartition_purged(k, 0) < 3) {
        cr_assert_lt(tm_test_now_ms(), deadline, "no purge answer in time");
        tm_test_sleep_ms(20);
        tm_kafka_purge_repartition(k, NULL, NULL, 0);
    }
    cr_expect_eq(tm_kafka_repartition_purged(k, 0), 3);
    cr_expect_eq(tm_kafka_repartition_purged(k, 1), -1, "partition 1 was not asked");
    cr_expect_eq(low_watermark(0), 3);
    read_committed_lines(0, got, sizeof got);
    cr_expect_str_eq(got, LINE(0, "\"m\"", "e3") LINE(0, "\"m\"", "e4"));
    tm_kafka_close(k);
}
