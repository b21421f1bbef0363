/*
 * The metrics and health endpoints of a real `tidemark run` against the
 * test broker, read with real HTTP requests: /healthz while it starts,
 * /readyz once its tasks are restored, and /metrics after it has processed
 * a workload with late, duplicated, malformed and skewed records, checked
 * against what the service really committed, against `promtool check
 * metrics` (Prometheus's own linter of names and format), and against the
 * tables of deploy/METRICS.md and README.md (both ways, so none drifts).
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cJSON.h>

#include "buf.h"
#include "eos_harness.h"
#include "http_get.h"
#include "proc.h"
#include "prom_text.h"

TestSuite(live, .fini = tm_eos_teardown);

/* GET /metrics until the published totals include every input record
 * (the service publishes at most every 250 ms). */
static void scrape_settled(tm_eos *e, int port, double records, tm_buf *headers, tm_buf *body)
{
    int64_t deadline = tm_test_now_ms() + 10000;
    for (;;) {
        cr_assert_eq(tm_http_request(port, "GET", "/metrics", headers, body), 200);
        double consumed = tm_prom_sum(body->data, "tidemark_records_consumed_total", NULL, NULL);
        if (consumed == records)
            return;
        cr_assert_lt(tm_test_now_ms(), deadline, "records consumed %.0f, want %.0f", consumed,
                     records);
        tm_eos_sleep(e, 100);
    }
}

static double sum(const tm_buf *body, const char *name, const char *labels, size_t *n)
{
    return tm_prom_sum(body->data, name, labels, n);
}

/* `promtool check metrics` on the exposition: exit 0 and no finding. */
static void promtool_check(tm_eos *e, const tm_buf *body)
{
    char in[TM_EOS_PATH + 16], out[TM_EOS_PATH + 16], cmd[3 * TM_EOS_PATH];
    snprintf(in, sizeof in, "%s/metrics.txt", e->dir);
    snprintf(out, sizeof out, "%s/promtool.txt", e->dir);
    FILE *f = fopen(in, "w");
    cr_assert(f && fwrite(body->data, 1, body->len, f) == body->len);
    fclose(f);
    snprintf(cmd, sizeof cmd, "promtool check metrics < '%s' > '%s' 2>&1", in, out);
    int status = system(cmd);
    char findings[4096] = "";
    f = fopen(out, "r");
    cr_assert(f);
    size_t n = fread(findings, 1, sizeof findings - 1, f);
    findings[n] = '\0';
    fclose(f);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "promtool check metrics: %s",
              findings);
}

/* Every metric of the tables in the document `doc` (relative to the
 * source tree) is exposed, and every family exposed is in them: those of
 * `tidemark run`, before the metrics verify pushes. */
static void matches_reference(const tm_buf *body, const char *doc)
{
    tm_prom_matches_doc(body->data, doc, NULL, "## verify (pushed)\n");
}

/* Every line of the log is one JSON object with exactly time, level,
 * module and msg, and librdkafka's own lines are among them. */
static void check_log(const char *path)
{
    FILE *f = fopen(path, "r");
    cr_assert(f, "cannot read %s", path);
    char *line = NULL;
    size_t cap = 0, lines = 0, librdkafka = 0;
    while (getline(&line, &cap, f) > 0) {
        lines++;
        cJSON *doc = cJSON_Parse(line);
        cr_assert(cJSON_IsObject(doc), "not a JSON object: %s", line);
        cr_assert_eq(cJSON_GetArraySize(doc), 4, "%s", line);
        const char *keys[] = {"time", "level", "module", "msg"};
        for (size_t k = 0; k < 4; k++)
            cr_assert(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(doc, keys[k])),
                      "no string %s: %s", keys[k], line);
        const char *level = cJSON_GetObjectItemCaseSensitive(doc, "level")->valuestring;
        cr_assert(strcmp(level, "debug") == 0 || strcmp(level, "info") == 0 ||
                      strcmp(level, "warn") == 0 || strcmp(level, "error") == 0,
                  "%s", line);
        const char *time = cJSON_GetObjectItemCaseSensitive(doc, "time")->valuestring;
        cr_assert(strlen(time) == 24 && time[10] == 'T' && time[23] == 'Z', "%s", line);
        const char *msg = cJSON_GetObjectItemCaseSensitive(doc, "msg")->valuestring;
        if (strcmp(cJSON_GetObjectItemCaseSensitive(doc, "module")->valuestring, "kafka") == 0 &&
            strstr(msg, "#consumer-") && strstr(msg, "CGRP"))
            librdkafka++;
        cJSON_Delete(doc);
    }
    free(line);
    fclose(f);
    cr_assert_gt(lines, 10);
    cr_assert_gt(librdkafka, 0, "no librdkafka consumer-group line in %s", path);
}

Test(live, metrics_and_health_of_a_running_service, .timeout = 280)
{
    tm_eos *e = tm_eos_setup(&(tm_eos_options){.name = "metrics"});
    tm_eos_write_input(e, 4000, 3);
    tm_eos_load_input(e);
    tm_eos_instance *a = tm_eos_instance_add(e, "a");
    a->metrics_port = tm_test_free_port();
    /* librdkafka's consumer-group debug lines, routed into the log. */
    a->sets[0] = "log.level=debug";
    a->sets[1] = "kafka.debug=cgrp";
    tm_eos_start(e, a);
    tm_eos_wait_http(e, a->metrics_port, "/healthz", 200, 30000);
    tm_eos_wait_restored(e, a, 60000);
    tm_eos_wait_http(e, a->metrics_port, "/readyz", 200, 30000);
    tm_eos_wait_done(e, 120000);

    tm_buf h = {0}, m = {0};
    scrape_settled(e, a->metrics_port, (double)e->workload.lines, &h, &m);
    cr_assert(strstr(h.data, "Content-Type: text/plain; version=0.0.4"), "%s", h.data);
    tm_eos_verify(e); /* the committed output equals replay; its counts are e->live_* */

    size_t n;
    double dead = sum(&m, "tidemark_dead_letters_total", NULL, NULL);
    cr_assert_eq(dead, (double)e->live_dead);
    cr_assert_eq(sum(&m, "tidemark_too_late_records_total", NULL, NULL) -
                     sum(&m, "tidemark_late_dropped_records_total", NULL, NULL),
                 (double)e->live_late);
    cr_assert_eq(sum(&m, "tidemark_window_emissions_total", NULL, NULL) +
                     sum(&m, "tidemark_window_tombstones_total", NULL, NULL),
                 (double)e->live_results);
    cr_assert_gt(sum(&m, "tidemark_duplicate_records_total", NULL, NULL), 0);
    cr_assert_gt(sum(&m, "tidemark_late_accepted_records_total", NULL, NULL), 0);
    /* Every record that decoded has an event-time lag (clock-skew dead
     * letters decoded; the other reasons did not). */
    double skew = sum(&m, "tidemark_dead_letters_total", "reason=\"clock_skew\"", NULL);
    cr_assert_eq(sum(&m, "tidemark_event_time_lag_seconds_count", NULL, NULL),
                 (double)e->workload.lines - dead + skew);

    double committed = sum(&m, "tidemark_transactions_committed_total", NULL, NULL);
    cr_assert_gt(committed, 0);
    cr_assert_eq(sum(&m, "tidemark_transactions_aborted_total", NULL, NULL), 0);
    cr_assert_eq(sum(&m, "tidemark_checkpoint_duration_seconds_count", NULL, NULL), committed);
    cr_assert_eq(sum(&m, "tidemark_ready", NULL, NULL), 1);
    cr_assert_eq(sum(&m, "tidemark_assigned_tasks", NULL, NULL), (double)e->partitions);
    cr_assert_eq(sum(&m, "tidemark_restore_duration_seconds_count", NULL, NULL),
                 (double)e->partitions);

    /* Per task and per input partition: one series each, all consumed. */
    const char *per_task[] = {"tidemark_watermark_seconds", "tidemark_watermark_lag_seconds",
                              "tidemark_open_windows",      "tidemark_dedup_entries",
                              "tidemark_state_bytes",       "tidemark_restore_records_total"};
    for (size_t i = 0; i < sizeof per_task / sizeof per_task[0]; i++) {
        sum(&m, per_task[i], NULL, &n);
        cr_assert_eq(n, (size_t)e->partitions, "%s: %zu series", per_task[i], n);
    }
    cr_assert_gt(sum(&m, "tidemark_state_bytes", NULL, NULL), 0);
    cr_assert_eq(sum(&m, "tidemark_consumer_lag_records", "topic=\"orders\"", &n), 0);
    cr_assert_eq(n, (size_t)e->partitions);
    sum(&m, "tidemark_partition_idle", "topic=\"orders\"", &n);
    cr_assert_eq(n, (size_t)e->partitions);
    /* Each task's one source (input partition orders/p) holds its W,
     * which is that source's watermark. */
    cr_assert_eq(sum(&m, "tidemark_watermark_source_holding", "source=\"orders/", &n),
                 (double)e->partitions);
    cr_assert_eq(n, (size_t)e->partitions);
    cr_assert_eq(sum(&m, "tidemark_watermark_source_idle", "source=\"orders/", &n), 0);
    cr_assert_eq(n, (size_t)e->partitions);
    cr_assert_float_eq(sum(&m, "tidemark_watermark_source_seconds", "source=\"orders/", &n),
                       sum(&m, "tidemark_watermark_seconds", NULL, NULL), 1e-3);
    cr_assert_eq(n, (size_t)e->partitions);

    promtool_check(e, &m);
    matches_reference(&m, "deploy/METRICS.md");
    matches_reference(&m, "README.md");
    cr_assert_eq(tm_http_request(a->metrics_port, "GET", "/healthz", &h, &m), 200);
    tm_buf_free(&h);
    tm_buf_free(&m);
    tm_eos_stop(e, a);
    check_log(a->log_path);
    tm_eos_pass(e);
}

/* Lines of the file at path that contain needle. */
static size_t count_lines(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    cr_assert(f, "cannot read %s", path);
    char *line = NULL;
    size_t cap = 0, n = 0;
    while (getline(&line, &cap, f) > 0)
        n += strstr(line, needle) != NULL;
    free(line);
    fclose(f);
    return n;
}

/* Year 9999 in Unix ms: a forged receipt time and event time. */
#define FORGED_MS 253402300799000LL

/* One input line: order `id` of merchant m<p> on partition p, with event
 * time t and Kafka timestamp ts. */
static void write_order(FILE *f, int p, int64_t ts, const char *id, int64_t t)
{
    fprintf(f,
            "{\"partition\":%d,\"ts\":%lld,\"key\":\"m%d\",\"payload\":"
            "\"{\\\"order_id\\\":\\\"%s\\\",\\\"merchant\\\":\\\"m%d\\\","
            "\\\"event_time\\\":%lld,\\\"amount\\\":1}\"}\n",
            p, (long long)ts, p, id, p, (long long)t);
}

/* Writes the input of the timestamp test: on each of two partitions, 20
 * orders a second apart from now on, stamped (CreateTime) with their
 * event time; after the 10th of partition 0, one order whose timestamp and
 * event time are both year 9999. Returns the line count. */
static size_t write_timestamp_input(const tm_eos *e, int64_t now)
{
    FILE *f = fopen(e->input_path, "w");
    cr_assert(f);
    size_t lines = 0;
    for (int i = 0; i < 20; i++)
        for (int p = 0; p < 2; p++) {
            char id[32];
            snprintf(id, sizeof id, "o%d-%d", i, p);
            write_order(f, p, now + i * 1000, id, now + i * 1000);
            lines++;
            if (i == 9 && p == 0) {
                write_order(f, 0, FORGED_MS, "forged", FORGED_MS);
                lines++;
            }
        }
    cr_assert(fclose(f) == 0);
    return lines;
}

/* Records with producer timestamps (CreateTime: the test broker, like
 * librdkafka's mock cluster it is built on, keeps the producer's timestamp
 * and has no LogAppendTime) are reported once in the log and in
 * tidemark_input_timestamp_type; and with clock_skew.max_ahead_of_wall_ms
 * a record whose timestamp and event time are both forged (year 9999),
 * which clock_skew.max_ahead_ms lets through, goes to the dead letters
 * instead of moving the watermark to 9999 and every later record to the
 * late topic. */
Test(live, create_time_is_reported_and_the_wall_guard_stops_a_forged_record, .timeout = 200)
{
    tm_eos *e = tm_eos_setup(&(tm_eos_options){.name = "tstype", .brokers = 1, .partitions = 2});
    int64_t now = tm_test_now_ms();
    size_t lines = write_timestamp_input(e, now);
    cr_assert_eq(tm_kafka_io_load(tm_test_broker_bootstrap(e->broker), e->input_path, "orders"),
                 lines);
    tm_eos_instance *a = tm_eos_instance_add(e, "a");
    a->metrics_port = tm_test_free_port();
    a->sets[0] = "clock_skew.max_ahead_of_wall_ms=3600000";
    a->sets[1] = "clock_skew.action=dlq";
    tm_eos_start(e, a);
    tm_eos_wait_done(e, 120000);

    tm_buf h = {0}, m = {0};
    scrape_settled(e, a->metrics_port, (double)lines, &h, &m);
    cr_assert_eq(sum(&m, "tidemark_wall_clock_skew_records_total", NULL, NULL), 1);
    cr_assert_eq(sum(&m, "tidemark_dead_letters_total", "reason=\"clock_skew\"", NULL), 1);
    cr_assert_eq(sum(&m, "tidemark_too_late_records_total", NULL, NULL), 0);
    cr_assert_lt(sum(&m, "tidemark_watermark_seconds", "partition=\"0\"", NULL),
                 (double)(now + 3600000) / 1000.0, "the watermark went to the forged time");
    size_t n;
    cr_assert_eq(sum(&m, "tidemark_input_timestamp_type", "type=\"create_time\"", &n), 1);
    cr_assert_eq(n, 1, "one series per input topic and type");
    cr_assert_eq(sum(&m, "tidemark_input_timestamp_type", "type=\"log_append_time\"", NULL), 0);
    cr_assert_eq(sum(&m, "tidemark_input_timestamp_type", "type=\"none\"", NULL), 0);
    tm_buf_free(&h);
    tm_buf_free(&m);
    tm_eos_stop(e, a);
    cr_assert_eq(count_lines(a->log_path, "message.timestamp.type=LogAppendTime"), 1,
                 "one warning for the topic, whatever its partitions and records");
    cr_assert(tm_eos_file_contains(a->log_path, "input topic orders: records arrive with "
                                                "CreateTime timestamps"));
    tm_eos_pass(e);
}

/* A taken metrics port ends `tidemark run` at once with an error naming
 * metrics.port, before it contacts any broker. */
Test(live, a_taken_metrics_port_is_an_error_naming_the_key)
{
    char path[1024], log[] = "/tmp/tidemark-port-XXXXXX", state[64], port[32];
    const char *src = getenv("TIDEMARK_SOURCE_DIR"), *bin = getenv("TIDEMARK_BINARY");
    cr_assert(src && bin, "TIDEMARK_SOURCE_DIR and TIDEMARK_BINARY are set by ctest");
    snprintf(path, sizeof path, "%s/deploy/demo/config.json", src);
    int fd = mkstemp(log);
    cr_assert(fd >= 0);
    close(fd);
    int taken = socket(AF_INET6, SOCK_STREAM, 0), p = tm_test_free_port();
    struct sockaddr_in6 addr = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)p)};
    cr_assert_eq(bind(taken, (struct sockaddr *)&addr, sizeof addr), 0);
    cr_assert_eq(listen(taken, 1), 0);
    snprintf(port, sizeof port, "metrics.port=%d", p);
    snprintf(state, sizeof state, "state.dir=%s.state", log);
    char *argv[] = {
        (char *)bin, "run",   "--config", path,    "--set",
        port,        "--set", state,      "--set", "kafka.bootstrap.servers=127.0.0.1:1",
        NULL};
    pid_t pid = tm_proc_spawn(argv, &(tm_proc_io){.log_path = log});
    int status;
    cr_assert(tm_proc_wait(pid, 10000, &status), "tidemark run did not exit");
    close(taken);
    FILE *f = fopen(log, "r");
    char text[4096] = "";
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    unlink(log);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1, "%s: %s", tm_proc_status_str(status),
              text);
    cr_assert(strstr(text, "metrics.port") && strstr(text, "in use"), "%s", text);
}

/* ---- a repartitioned pipeline (SEMANTICS 10-11) ---- */

/* Whether the window tasks have read the repartition topic to its end and
 * heard every source task's last watermark: every input record counted,
 * each window task's repartition lag 0, and each window task's view of
 * source task s equal to s's own watermark. */
static bool repartition_settled(const tm_buf *body, double records, int partitions)
{
    size_t n;
    if (sum(body, "tidemark_records_consumed_total", NULL, NULL) != records)
        return false;
    if (sum(body, "tidemark_repartition_lag_records", NULL, &n) != 0 || n != (size_t)partitions)
        return false;
    for (int s = 0; s < partitions; s++) {
        char task[32], source[48];
        snprintf(task, sizeof task, "partition=\"%d\"", s);
        snprintf(source, sizeof source, "source=\"source-task:%d\"", s);
        size_t n_own, n_views;
        double own = sum(body, "tidemark_source_task_watermark_seconds", task, &n_own);
        double views = sum(body, "tidemark_watermark_source_seconds", source, &n_views);
        if (n_own != 1 || n_views != (size_t)partitions || fabs(views - own * partitions) > 1e-3)
            return false;
    }
    return true;
}

/* The one sample of name{labels}. */
static double one(const tm_buf *body, const char *name, const char *labels)
{
    size_t n;
    double v = sum(body, name, labels, &n);
    cr_assert_eq(n, 1, "%zu samples of %s{%s}", n, name, labels ? labels : "");
    return v;
}

/* A `tidemark run` of a repartitioned pipeline (paired tasks, one
 * instance owning all of them): each window task's watermark comes from
 * the source tasks, `source="source-task:<s>"`, each as the source task
 * itself published it; what the source tasks routed to each window task is
 * what that task read from the repartition topic, besides the watermark
 * records every source task wrote to every window task; the input
 * partitions' series stay about the source halves. (Whether the output
 * equals replay's is not this test's concern.) The timeout is the first
 * test's: with 200 or 240 s, LeakSanitizer (asan preset) reports 48 bytes
 * leaked inside Criterion 2.4.1's runner when the two run side by side. */
Test(live, metrics_of_a_repartitioned_pipeline, .timeout = 280)
{
    tm_eos *e = tm_eos_setup(&(tm_eos_options){.name = "rpmetrics", .brokers = 1});
    tm_eos_write_input(e, 2000, 7);
    tm_eos_load_input(e);
    tm_eos_instance *a = tm_eos_instance_add(e, "a");
    a->metrics_port = tm_test_free_port();
    /* The harness's configuration groups by a pointer with
     * repartition.mode never. */
    a->sets[0] = "repartition.mode=always";
    tm_eos_start(e, a);
    tm_eos_wait_restored(e, a, 60000);
    tm_eos_wait_done(e, 120000);

    tm_buf h = {0}, m = {0};
    int parts = e->partitions;
    double lines = (double)e->workload.lines;
    int64_t deadline = tm_test_now_ms() + 10000;
    for (;;) {
        cr_assert_eq(tm_http_request(a->metrics_port, "GET", "/metrics", &h, &m), 200);
        if (repartition_settled(&m, lines, parts))
            break;
        cr_assert_lt(tm_test_now_ms(), deadline, "not settled:\n%s", m.data);
        tm_eos_sleep(e, 100);
    }
    size_t n;
    /* No abort: nothing was routed twice. */
    cr_assert_eq(one(&m, "tidemark_transactions_aborted_total", NULL), 0);
    /* Every input record that decoded was routed (dead letters stay in
     * the source task), one series per window task. */
    double dead = sum(&m, "tidemark_dead_letters_total", NULL, NULL);
    cr_assert_gt(dead, 0);
    cr_assert_eq(sum(&m, "tidemark_repartition_routed_records_total", NULL, &n), lines - dead);
    cr_assert_eq(n, (size_t)parts);
    /* Each window task read the events routed to it and the same number
     * of watermark records: at least one from each source task. */
    double marks = -1;
    for (int r = 0; r < parts; r++) {
        char window[32], task[32];
        snprintf(window, sizeof window, "window_task=\"%d\"", r);
        snprintf(task, sizeof task, "partition=\"%d\"", r);
        double routed = one(&m, "tidemark_repartition_routed_records_total", window);
        cr_assert_gt(routed, 0, "window task %d got no event", r);
        double read = one(&m, "tidemark_repartition_records_consumed_total", task);
        if (marks < 0)
            marks = read - routed;
        cr_assert_eq(read - routed, marks, "window task %d: %.0f read, %.0f routed", r, read,
                     routed);
    }
    cr_assert_geq(marks, parts, "a watermark record from each source task");
    cr_assert_eq(one(&m, "tidemark_repartition_foreign_records_total", NULL), 0);

    /* Each window task's sources are the source tasks, none idle, and the
     * one with the smallest watermark holds every window task's W. */
    cr_assert_eq(sum(&m, "tidemark_watermark_source_holding", "source=\"source-task:", &n), parts);
    cr_assert_eq(n, (size_t)(parts * parts));
    cr_assert_eq(sum(&m, "tidemark_watermark_source_idle", "source=\"source-task:", &n), 0);
    cr_assert_eq(n, (size_t)(parts * parts));
    sum(&m, "tidemark_watermark_source_idle", NULL, &n);
    cr_assert_eq(n, (size_t)(parts * parts), "no source is an input partition");
    double slowest = INFINITY;
    for (int s = 0; s < parts; s++) {
        char task[32], input[64];
        snprintf(task, sizeof task, "partition=\"%d\"", s);
        snprintf(input, sizeof input, "topic=\"orders\",partition=\"%d\"", s);
        double own = one(&m, "tidemark_source_task_watermark_seconds", task);
        /* One input topic: the source task's watermark is its partition's. */
        cr_assert_float_eq(own, one(&m, "tidemark_partition_watermark_seconds", input), 1e-3);
        cr_assert_eq(one(&m, "tidemark_source_task_idle", task), 0);
        slowest = fmin(slowest, own);
    }
    cr_assert_float_eq(sum(&m, "tidemark_watermark_seconds", NULL, &n), slowest * parts, 1e-3);
    cr_assert_eq(n, (size_t)parts);
    /* The input partitions' series: the source halves, input records only. */
    cr_assert_eq(sum(&m, "tidemark_consumer_lag_records", "topic=\"orders\"", &n), 0);
    cr_assert_eq(n, (size_t)parts);
    sum(&m, "tidemark_consumer_lag_records", NULL, &n);
    cr_assert_eq(n, (size_t)parts, "the repartition topic's lag is not among the input's");

    promtool_check(e, &m);
    matches_reference(&m, "deploy/METRICS.md");
    matches_reference(&m, "README.md");
    tm_buf_free(&h);
    tm_buf_free(&m);
    tm_eos_stop(e, a);
    tm_eos_pass(e);
}
