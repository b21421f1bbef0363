/*
 * test_kafka_log.c: what the kafka layer logs (service/kafka/kafka_conf.c,
 * kafka_handle.c) against the test broker: fatal messages, and the lines
 * of an outage, which must come out while it lasts and not repeat.
 *
 * The test's standard error (where the logger writes) goes to a file for
 * the test's duration; the lines are read back from it.
 */
#include "kafka.h"

#include "broker.h"
#include "config.h"
#include "eos_harness.h"
#include "log.h"
#include "log_lines.h"
#include "proc.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CONFIG_JSON                                                                                \
    "{\"application_id\":\"app\",\"input\":{\"topics\":[\"in\"],"                                  \
    "\"event_time\":{\"pointer\":\"/t\"}},\"output\":{\"topic\":\"out\"},"                         \
    "\"window\":{\"type\":\"tumbling\",\"size_ms\":1000}}"

static tm_test_broker *broker;
static char log_path[] = "/tmp/tm_test_kafka_log_XXXXXX";
static int saved_stderr = -1;

static void teardown(void)
{
    tm_test_broker_stop(broker);
    tm_proc_kill_all();
    unlink(log_path);
}

TestSuite(kafka_log, .fini = teardown);

/* Standard error into log_path until release_stderr. */
static void capture_stderr(void)
{
    int fd = mkstemp(log_path);
    cr_assert_geq(fd, 0);
    fflush(stderr);
    saved_stderr = dup(STDERR_FILENO);
    cr_assert_geq(dup2(fd, STDERR_FILENO), 0);
    close(fd);
}

static void release_stderr(void)
{
    fflush(stderr);
    dup2(saved_stderr, STDERR_FILENO);
    close(saved_stderr);
}

static tm_config *start(void)
{
    /* tm_kafka_open checks the output, late and dead-letter topics. */
    const char *args[] = {
        "--brokers",  "1",       "--topic",   "in:1",    "--topic",         "out:1", "--topic",
        "app-late:1", "--topic", "app-dlq:1", "--topic", "app-changelog:1", NULL};
    broker = tm_test_broker_start(args, NULL);
    char path[] = "/tmp/tm_test_kafka_log_cfg_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    size_t len = strlen(CONFIG_JSON);
    cr_assert_eq(write(fd, CONFIG_JSON, len), (ssize_t)len);
    close(fd);
    char bs[640];
    snprintf(bs, sizeof bs, "kafka.bootstrap.servers=%s", tm_test_broker_bootstrap(broker));
    const char *ov[] = {bs};
    tm_config *cfg = NULL;
    char err[512];
    int rc = tm_config_load(&cfg, path, NULL, ov, 1, err, sizeof err);
    unlink(path);
    cr_assert_eq(rc, 0, "config: %s", err);
    return cfg;
}

static tm_kafka *open_ok(const tm_config *cfg)
{
    tm_kafka *k = NULL;
    char err[512];
    int rc = tm_kafka_open(&k, cfg, "i0", NULL, NULL, err, sizeof err);
    cr_assert_eq(rc, 0, "tm_kafka_open: %s", err);
    return k;
}

/* Polls as the runner does, for ms. */
static void poll_for(tm_kafka *k, int64_t ms)
{
    tm_record recs[8];
    tm_kafka_status st;
    char err[512];
    int64_t end = tm_test_now_ms() + ms;
    while (tm_test_now_ms() < end) {
        ssize_t n = tm_kafka_poll_batch(k, recs, 8, 100, &st, err, sizeof err);
        cr_assert_geq(n, 0, "poll_batch: %s", err);
        tm_kafka_release_batch(k);
    }
}

static int no_record(void *ctx, const void *key, size_t key_len, const void *value,
                     size_t value_len, int64_t offset)
{
    (void)ctx, (void)key, (void)key_len, (void)value, (void)value_len, (void)offset;
    return 0;
}

Test(kafka_log, a_fatal_message_names_its_module_once)
{
    tm_config *cfg = start();
    tm_kafka *k = open_ok(cfg);
    capture_stderr();
    char err[512];
    tm_kafka_status st = tm_kafka_produce_changelog(k, 7, "k", 1, "v", 1, err, sizeof err);
    release_stderr();
    cr_expect_eq(st, TM_KAFKA_FATAL);
    cr_expect_str_eq(err, "kafka: task 7 has no changelog partition (app-changelog has 1)");
    cr_expect(tm_eos_file_contains(log_path, "\"level\":\"error\",\"module\":\"kafka\","
                                             "\"msg\":\"task 7 has no changelog partition "
                                             "(app-changelog has 1)\"}"),
              "the log line of the fatal error is not in %s", log_path);
    tm_kafka_close(k);
    tm_config_free(cfg);
}

/* Every client of the handle (consumer, producer, changelog reader) loses
 * its broker for a while; the handle is polled as the runner polls it. The
 * clients' error lines come out during the outage, not when they are next
 * used or at close, and each at most once per client. */
Test(kafka_log, an_outage_is_logged_while_it_lasts_and_once)
{
    tm_config *cfg = start();
    tm_kafka *k = open_ok(cfg);
    char err[512];
    /* Makes the changelog reader, as a restore would. */
    cr_assert_geq(tm_kafka_read_changelog(k, 0, 0, no_record, NULL, err, sizeof err), 0, "%s", err);
    tm_log_threshold = TM_LOG_WARN;
    capture_stderr();
    int64_t down = tm_log_lines_now_ms();
    tm_test_broker_command(broker, "down 1");
    poll_for(k, 6000);
    tm_test_broker_command(broker, "up 1");
    /* Errors queued during the outage would be served now, or at close. */
    int64_t up = tm_log_lines_now_ms() + 1000;
    poll_for(k, 3000);
    tm_kafka_close(k);
    release_stderr();

    bool within;
    int n = tm_log_lines_count(log_path, "kafka", "brokers are down", down, up, &within);
    cr_expect(within, "a line of the outage was logged after it (see above)");
    /* The consumer, the producer and the changelog reader: one each. */
    cr_expect_eq(n, 3, "%d lines of all brokers down", n);
    tm_config_free(cfg);
}
