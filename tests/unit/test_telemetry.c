/*
 * Telemetry over real HTTP requests: /healthz and /readyz through every
 * state the runner reports, and /metrics from real engines: counters add
 * up across a task's rebuilds, gauges follow only the owned tasks.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "clock.h"
#include "engine.h"
#include "http_get.h"
#include "prom_text.h"
#include "telemetry.h"

typedef struct fixture {
    tm_config *cfg;
    tm_telemetry *t;
    int port;
    tm_buf headers, body;
} fixture;

enum { MAX_SETS = 4 };

/* The demo's configuration with up to MAX_SETS more --set overrides. */
static void setup_with(fixture *f, const char *const *sets, size_t n_sets)
{
    char path[512], err[512], port[32];
    const char *src = getenv("TIDEMARK_SOURCE_DIR");
    cr_assert(src, "TIDEMARK_SOURCE_DIR is not set (ctest sets it)");
    snprintf(path, sizeof path, "%s/deploy/demo/config.json", src);
    f->port = tm_test_free_port();
    snprintf(port, sizeof port, "metrics.port=%d", f->port);
    const char *ov[2 + MAX_SETS] = {port, "health.stall_timeout_ms=1000"};
    cr_assert_leq(n_sets, MAX_SETS);
    for (size_t i = 0; i < n_sets; i++)
        ov[2 + i] = sets[i];
    cr_assert_eq(tm_config_load(&f->cfg, path, NULL, ov, 2 + n_sets, err, sizeof err), 0, "%s",
                 err);
    cr_assert_eq(tm_telemetry_open(&f->t, f->cfg, err, sizeof err), 0, "%s", err);
    cr_assert_eq(tm_http_request(f->port, "GET", "/healthz", &f->headers, &f->body), 200,
                 "serving on the chosen port");
}

static void setup(fixture *f)
{
    setup_with(f, NULL, 0);
}

static void teardown(fixture *f)
{
    tm_telemetry_close(f->t);
    tm_config_free(f->cfg);
    tm_buf_free(&f->headers);
    tm_buf_free(&f->body);
}

static int get(fixture *f, const char *path)
{
    return tm_http_request(f->port, "GET", path, &f->headers, &f->body);
}

Test(telemetry, health_follows_the_loop)
{
    fixture f = {0};
    setup(&f);
    int64_t now = tm_wall_clock_ms();
    cr_assert_eq(get(&f, "/healthz"), 200, "alive while starting up");
    cr_assert_eq(get(&f, "/readyz"), 503);
    cr_assert_str_eq(f.body.data, "no tasks assigned\n");

    tm_telemetry_restoring(f.t, true);
    tm_telemetry_polled(f.t, now, 2);
    cr_assert_eq(get(&f, "/readyz"), 503);
    cr_assert_str_eq(f.body.data, "restoring\n");
    tm_telemetry_restoring(f.t, false);
    cr_assert_eq(get(&f, "/readyz"), 200);
    cr_assert_str_eq(f.body.data, "ready\n");

    /* The loop alive (retrying a broker call) but not polling: alive, not
     * ready. Stall timeout 1000 ms. */
    tm_telemetry_polled(f.t, now - 5000, 2);
    tm_telemetry_alive(f.t, now);
    cr_assert_eq(get(&f, "/healthz"), 200);
    cr_assert_eq(get(&f, "/readyz"), 503);
    cr_assert(strstr(f.body.data, "stalled"), "%s", f.body.data);

    /* The loop stuck. */
    tm_telemetry_alive(f.t, now - 5000);
    cr_assert_eq(get(&f, "/healthz"), 503);
    cr_assert(strstr(f.body.data, "has not turned"), "%s", f.body.data);

    /* Waiting on the broker for longer than the stall timeout: alive, not
     * ready, saying what for; once the wait is over, a stall is a stall. */
    tm_telemetry_waiting(f.t, "commit", now - 5000);
    cr_assert_eq(get(&f, "/healthz"), 200, "%s", f.body.data);
    cr_assert_eq(get(&f, "/readyz"), 503);
    cr_assert_str_eq(f.body.data, "waiting for the broker: commit\n");
    /* A restore waiting on the broker: alive, and "restoring" says more. */
    tm_telemetry_restoring(f.t, true);
    tm_telemetry_waiting(f.t, "restore: reading the changelog", now - 5000);
    cr_assert_eq(get(&f, "/healthz"), 200, "%s", f.body.data);
    cr_assert_eq(get(&f, "/readyz"), 503);
    cr_assert_str_eq(f.body.data, "restoring\n");
    tm_telemetry_restoring(f.t, false);
    tm_telemetry_waiting(f.t, NULL, now - 5000);
    cr_assert_eq(get(&f, "/healthz"), 503);
    cr_assert(strstr(f.body.data, "has not turned"), "%s", f.body.data);

    tm_telemetry_polled(f.t, tm_wall_clock_ms(), 2);
    cr_assert_eq(get(&f, "/readyz"), 200);
    tm_telemetry_stopping(f.t);
    cr_assert_eq(get(&f, "/readyz"), 503);
    cr_assert_str_eq(f.body.data, "stopping\n");

    cr_assert_eq(get(&f, "/nope"), 404);
    cr_assert_eq(tm_http_request(f.port, "POST", "/metrics", &f.headers, &f.body), 405);
    teardown(&f);
}

static void no_result(void *ctx, int32_t partition, const tm_window_result *r)
{
    (void)ctx, (void)partition, (void)r;
}
static void no_late(void *ctx, int32_t partition, const tm_record *rec, int64_t watermark)
{
    (void)ctx, (void)partition, (void)rec, (void)watermark;
}
static void no_dead_letter(void *ctx, const tm_record *rec, tm_dlq_reason reason,
                           const char *detail)
{
    (void)ctx, (void)rec, (void)reason, (void)detail;
}

/* Offers one record of partition 0 to e, received at now. */
static void offer(tm_engine *e, const char *value, int64_t now)
{
    static const tm_engine_sink sink = {NULL, no_result, no_late, no_dead_letter};
    tm_record rec = {.topic = "orders", .ts = now, .value = value, .value_len = strlen(value)};
    tm_engine_process(e, &rec, now, &sink);
}

/* Publishes one task of partition 0 backed by e. */
static void publish(fixture *f, tm_engine *e, const uint64_t *consumed, int64_t now)
{
    const int64_t lag[] = {7};
    tm_task_view v = {.partition = 0,
                      .engine = e,
                      .consumed = consumed,
                      .consumer_lag = lag,
                      .state_bytes = 4096};
    tm_telemetry_publish(f->t, e ? &v : NULL, e ? 1 : 0, now);
}

static double metric(fixture *f, const char *name, const char *labels)
{
    size_t n = 0;
    double v = tm_prom_sum(f->body.data, name, labels, &n);
    cr_assert_gt(n, 0, "no sample of %s{%s}", name, labels ? labels : "");
    return v;
}

Test(telemetry, counters_survive_a_rebuild_and_gauges_follow_the_tasks)
{
    fixture f = {0};
    setup(&f);
    char err[256];
    int64_t now = 1700000000000;
    tm_engine *e = NULL;
    cr_assert_eq(tm_engine_open(&e, f.cfg, 0, now, err, sizeof err), 0, "%s", err);
    offer(e, "{\"order_id\":\"a\",\"merchant\":\"m\",\"amount\":1,\"event_time\":1699999999000}",
          now);
    offer(e, "{\"order_id\":\"a\",\"merchant\":\"m\",\"amount\":1,\"event_time\":1699999999000}",
          now);
    offer(e, "not json", now);
    offer(e, "{\"order_id\":\"b\",\"merchant\":\"m\",\"amount\":1,\"event_time\":1699990000000}",
          now);
    uint64_t consumed[] = {4};
    publish(&f, e, consumed, now);
    cr_assert_eq(get(&f, "/metrics"), 200);
    cr_assert(strstr(f.headers.data, "text/plain; version=0.0.4"), "%s", f.headers.data);
    tm_prom_check_format(f.body.data);
    cr_assert_float_eq(metric(&f, "tidemark_records_consumed_total", "topic=\"orders\""), 4, 0);
    cr_assert_float_eq(metric(&f, "tidemark_duplicate_records_total", NULL), 1, 0);
    cr_assert_float_eq(metric(&f, "tidemark_dead_letters_total", "reason=\"invalid_json\""), 1, 0);
    cr_assert_float_eq(metric(&f, "tidemark_too_late_records_total", NULL), 1, 0);
    cr_assert_float_eq(metric(&f, "tidemark_event_time_lag_seconds_count", NULL), 3, 0);
    /* Lags 1 s, 1 s and 10000 s: two at or under le=1, all three under 21600. */
    cr_assert_float_eq(metric(&f, "tidemark_event_time_lag_seconds_bucket", "le=\"1\""), 2, 0);
    cr_assert_float_eq(metric(&f, "tidemark_event_time_lag_seconds_bucket", "le=\"21600\""), 3, 0);
    cr_assert_float_eq(metric(&f, "tidemark_event_time_lag_seconds_sum", NULL), 10002, 1e-6);
    /* W = 1699999999000 - D (2000 ms) */
    cr_assert_float_eq(metric(&f, "tidemark_watermark_seconds", "partition=\"0\""), 1699999997,
                       1e-3);
    cr_assert_float_eq(metric(&f, "tidemark_watermark_lag_seconds", NULL), 3, 1e-3);
    cr_assert_float_eq(metric(&f, "tidemark_open_windows", NULL), 1, 0);
    cr_assert_float_eq(metric(&f, "tidemark_dedup_entries", NULL), 1, 0);
    cr_assert_float_eq(metric(&f, "tidemark_consumer_lag_records", NULL), 7, 0);
    cr_assert_float_eq(metric(&f, "tidemark_state_bytes", NULL), 4096, 0);
    cr_assert_float_eq(metric(&f, "tidemark_assigned_tasks", NULL), 1, 0);
    /* A pipeline that does not repartition declares the repartition
     * families (the metric set is the same for every configuration) with
     * no samples. */
    const char *repartition[] = {
        "tidemark_source_task_watermark_seconds",    "tidemark_source_task_idle",
        "tidemark_repartition_lag_records",          "tidemark_repartition_records_consumed_total",
        "tidemark_repartition_routed_records_total", "tidemark_repartition_foreign_records_total"};
    for (size_t i = 0; i < sizeof repartition / sizeof repartition[0]; i++) {
        size_t n_samples = 1;
        tm_prom_sum(f.body.data, repartition[i], NULL, &n_samples);
        cr_assert(tm_prom_has_family(f.body.data, repartition[i]), "%s", repartition[i]);
        cr_assert_eq(n_samples, 0, "%s without repartitioning", repartition[i]);
    }

    /* An abort rebuilds the task: its engine's counters start again, the
     * exported ones go on. */
    tm_task_view old = {.partition = 0, .engine = e, .consumed = consumed};
    tm_telemetry_retire(f.t, &old);
    tm_engine_close(e);
    cr_assert_eq(tm_engine_open(&e, f.cfg, 0, now, err, sizeof err), 0, "%s", err);
    offer(e, "not json either", now);
    uint64_t consumed_again[] = {1};
    publish(&f, e, consumed_again, now + 1000);
    cr_assert_eq(get(&f, "/metrics"), 200);
    cr_assert_float_eq(metric(&f, "tidemark_records_consumed_total", NULL), 5, 0);
    cr_assert_float_eq(metric(&f, "tidemark_dead_letters_total", "reason=\"invalid_json\""), 2, 0);
    cr_assert_float_eq(metric(&f, "tidemark_duplicate_records_total", NULL), 1, 0);

    /* Revoked: the counters stay, the task's gauges go. */
    tm_task_view gone = {.partition = 0, .engine = e, .consumed = consumed_again};
    tm_telemetry_retire(f.t, &gone);
    tm_engine_close(e);
    publish(&f, NULL, NULL, now + 2000);
    cr_assert_eq(get(&f, "/metrics"), 200);
    tm_prom_check_format(f.body.data);
    cr_assert_float_eq(metric(&f, "tidemark_records_consumed_total", NULL), 5, 0);
    size_t n = 1;
    tm_prom_sum(f.body.data, "tidemark_open_windows", NULL, &n);
    cr_assert_eq(n, 0, "a revoked task's gauges are gone");
    cr_assert_float_eq(metric(&f, "tidemark_assigned_tasks", NULL), 0, 0);

    tm_telemetry_committed(f.t, 30, now);
    tm_telemetry_committed(f.t, 3000, now + 5000);
    tm_telemetry_aborted(f.t);
    publish(&f, NULL, NULL, now + 6000);
    cr_assert_eq(get(&f, "/metrics"), 200);
    cr_assert_float_eq(metric(&f, "tidemark_transactions_committed_total", NULL), 2, 0);
    cr_assert_float_eq(metric(&f, "tidemark_transactions_aborted_total", NULL), 1, 0);
    cr_assert_float_eq(metric(&f, "tidemark_checkpoint_duration_seconds_bucket", "le=\"0.05\""), 1,
                       0);
    cr_assert_float_eq(metric(&f, "tidemark_checkpoint_duration_seconds_sum", NULL), 3.03, 1e-9);
    cr_assert_float_eq(metric(&f, "tidemark_last_checkpoint_timestamp_seconds", NULL),
                       (double)(now + 5000) / 1000, 1e-3);
    cr_assert_float_eq(metric(&f, "tidemark_commit_interval_seconds", NULL), 0.1, 1e-12);
    teardown(&f);
}

Test(telemetry, restores_count_the_records_replayed_and_the_foreign_ones_skipped)
{
    fixture f = {0};
    setup(&f);
    tm_telemetry_restored(f.t, 3, 100, 2, 50);
    tm_telemetry_restored(f.t, 3, 10, 1, 5);
    publish(&f, NULL, NULL, 1700000000000);
    cr_assert_eq(get(&f, "/metrics"), 200);
    tm_prom_check_format(f.body.data);
    cr_assert_float_eq(metric(&f, "tidemark_restore_records_total", "partition=\"3\""), 110, 0);
    cr_assert_float_eq(metric(&f, "tidemark_changelog_foreign_records_total", "partition=\"3\""), 3,
                       0);
    teardown(&f);
}

/* ---- each task's view of its watermark's sources ---- */

static const tm_engine_sink quiet = {NULL, no_result, no_late, no_dead_letter};

/* Offers one order of partition 0 of input topic `topic` (its index i)
 * with event time t, received at now. */
static void offer_on(tm_engine *e, const char *topic, size_t i, int64_t t, int64_t now)
{
    char value[160];
    snprintf(value, sizeof value,
             "{\"order_id\":\"%s-%lld\",\"merchant\":\"m\",\"amount\":1,\"event_time\":%lld}",
             topic, (long long)t, (long long)t);
    tm_record rec = {
        .topic = topic, .topic_index = i, .ts = now, .value = value, .value_len = strlen(value)};
    tm_engine_process(e, &rec, now, &quiet);
}

/* The per-source gauge `name` of task 0's source "<topic>/0", which must
 * be exposed exactly once. */
static double source_gauge(fixture *f, const char *name, const char *topic)
{
    char labels[96];
    snprintf(labels, sizeof labels, "partition=\"0\",source=\"%s/0\"", topic);
    size_t n = 0;
    double v = tm_prom_sum(f->body.data, name, labels, &n);
    cr_assert_eq(n, 1, "%zu samples of %s{%s}", n, name, labels);
    return v;
}

static bool source_exposed(fixture *f, const char *name, const char *topic)
{
    char labels[96];
    snprintf(labels, sizeof labels, "source=\"%s/0\"", topic);
    size_t n = 0;
    tm_prom_sum(f->body.data, name, labels, &n);
    return n > 0;
}

/* Publishes task 0 backed by e at now and scrapes it. */
static void publish_and_scrape(fixture *f, tm_engine *e, int64_t now)
{
    const uint64_t consumed[3] = {0};
    const int64_t lag[3] = {-1, -1, -1};
    tm_task_view v = {.partition = 0, .engine = e, .consumed = consumed, .consumer_lag = lag};
    tm_telemetry_publish(f->t, &v, 1, now);
    cr_assert_eq(get(f, "/metrics"), 200);
    tm_prom_check_format(f->body.data);
}

/* Three input topics, min combine: while refunds has no record it holds
 * W (at minus infinity: no watermark gauge); once it has gone idle,
 * payments, ten minutes behind orders, holds W, and W is its watermark. */
Test(telemetry, each_source_of_a_task_with_the_one_holding_w_back)
{
    fixture f = {0};
    const char *sets[] = {"input.topics=orders,payments,refunds",
                          "watermark.idle_timeout_ms=60000"};
    setup_with(&f, sets, 2);
    char err[256];
    int64_t start = 1700000000000, t = start - 1000;
    tm_engine *e = NULL;
    cr_assert_eq(tm_engine_open(&e, f.cfg, 0, start, err, sizeof err), 0, "%s", err);
    offer_on(e, "orders", 0, t, start);
    offer_on(e, "payments", 1, t - 600000, start);
    publish_and_scrape(&f, e, start);
    cr_assert_eq(source_gauge(&f, "tidemark_watermark_source_holding", "refunds"), 1);
    cr_assert_eq(source_gauge(&f, "tidemark_watermark_source_holding", "payments"), 0);
    cr_assert_eq(source_gauge(&f, "tidemark_watermark_source_holding", "orders"), 0);
    cr_assert_eq(source_gauge(&f, "tidemark_watermark_source_idle", "refunds"), 0);
    cr_assert_not(source_exposed(&f, "tidemark_watermark_source_seconds", "refunds"),
                  "no watermark before the source's first event");

    /* A minute later (the idle timeout) payments and orders have new
     * records, refunds none. (Payments first: a record on orders alone
     * would find the other two idle and raise W to its watermark.) */
    int64_t now = start + 60000;
    offer_on(e, "payments", 1, t - 540000, now);
    offer_on(e, "orders", 0, t + 60000, now);
    tm_engine_tick(e, now, &quiet);
    publish_and_scrape(&f, e, now);
    cr_assert_eq(source_gauge(&f, "tidemark_watermark_source_idle", "refunds"), 1);
    cr_assert_eq(source_gauge(&f, "tidemark_watermark_source_idle", "payments"), 0);
    cr_assert_eq(source_gauge(&f, "tidemark_watermark_source_idle", "orders"), 0);
    cr_assert_eq(source_gauge(&f, "tidemark_watermark_source_holding", "refunds"), 0);
    cr_assert_eq(source_gauge(&f, "tidemark_watermark_source_holding", "payments"), 1);
    cr_assert_eq(source_gauge(&f, "tidemark_watermark_source_holding", "orders"), 0);
    /* D = 2000 ms (the demo's max_out_of_orderness_ms). */
    cr_assert_float_eq(source_gauge(&f, "tidemark_watermark_source_seconds", "orders"),
                       (double)(t + 60000 - 2000) / 1000, 1e-3);
    double held = source_gauge(&f, "tidemark_watermark_source_seconds", "payments");
    cr_assert_float_eq(held, (double)(t - 540000 - 2000) / 1000, 1e-3);
    cr_assert_float_eq(metric(&f, "tidemark_watermark_seconds", "partition=\"0\""), held, 1e-3,
                       "W is the holding source's watermark");
    size_t n = 0;
    tm_prom_sum(f.body.data, "tidemark_watermark_source_idle", NULL, &n);
    cr_assert_eq(n, 3, "one series per source");

    /* Revoked: the task's sources are gone with it. */
    tm_engine_close(e);
    tm_telemetry_publish(f.t, NULL, 0, now);
    cr_assert_eq(get(&f, "/metrics"), 200);
    const char *families[] = {"tidemark_watermark_source_seconds", "tidemark_watermark_source_idle",
                              "tidemark_watermark_source_holding"};
    for (size_t i = 0; i < 3; i++) {
        tm_prom_sum(f.body.data, families[i], NULL, &n);
        cr_assert_eq(n, 0, "%s of a revoked task", families[i]);
    }
    teardown(&f);
}

/* With watermark.combine=quantile the holder is the source at the
 * quantile's rank, not the one furthest behind: q = 0.5 over three
 * sources takes the middle one. */
Test(telemetry, a_quantile_watermark_is_held_by_the_source_at_its_rank)
{
    fixture f = {0};
    const char *sets[] = {"input.topics=orders,payments,refunds", "watermark.combine=quantile",
                          "watermark.quantile=0.5"};
    setup_with(&f, sets, 3);
    char err[256];
    int64_t now = 1700000000000;
    tm_engine *e = NULL;
    cr_assert_eq(tm_engine_open(&e, f.cfg, 0, now, err, sizeof err), 0, "%s", err);
    offer_on(e, "orders", 0, now - 1000, now);
    offer_on(e, "payments", 1, now - 900000, now);
    offer_on(e, "refunds", 2, now - 300000, now);
    publish_and_scrape(&f, e, now);
    cr_assert_eq(source_gauge(&f, "tidemark_watermark_source_holding", "orders"), 0);
    cr_assert_eq(source_gauge(&f, "tidemark_watermark_source_holding", "payments"), 0);
    cr_assert_eq(source_gauge(&f, "tidemark_watermark_source_holding", "refunds"), 1);
    cr_assert_float_eq(metric(&f, "tidemark_watermark_seconds", "partition=\"0\""),
                       source_gauge(&f, "tidemark_watermark_source_seconds", "refunds"), 1e-3);
    tm_engine_close(e);
    teardown(&f);
}

/* ---- paired tasks (repartitioning, SEMANTICS 10-11) ---- */

/* Forwards one order of input partition orders/<partition> with event
 * time t, received at now, through e's source half. */
static void forward(tm_engine *e, int32_t partition, int64_t t, int64_t now)
{
    char value[160];
    snprintf(value, sizeof value,
             "{\"order_id\":\"o-%lld\",\"merchant\":\"m\",\"amount\":1,\"event_time\":%lld}",
             (long long)t, (long long)t);
    tm_record rec = {.topic = "orders",
                     .partition = partition,
                     .ts = now,
                     .value = value,
                     .value_len = strlen(value)};
    tm_event ev;
    int64_t at;
    cr_assert(tm_engine_forward(e, &rec, now, &quiet, &ev, &at), "the order decodes");
}

/* Source task s's watermark record reaches e's window half. */
static void mark(tm_engine *e, int32_t s, int64_t watermark, bool idle)
{
    tm_engine_receive_mark(e, s, (tm_watermark_source){watermark, idle}, &quiet);
}

/* Publishes paired task 1 backed by e (its arrays: input topic orders,
 * then the repartition topic) at now and scrapes it. */
static void publish_paired(fixture *f, tm_engine *e, const uint64_t consumed[2],
                           const int64_t lag[2], int64_t now)
{
    tm_task_view v = {.partition = 1, .engine = e, .consumed = consumed, .consumer_lag = lag};
    tm_telemetry_publish(f->t, &v, 1, now);
    cr_assert_eq(get(f, "/metrics"), 200);
    tm_prom_check_format(f->body.data);
}

/* The per-source gauge `name` of task 1's source task s, which must be
 * exposed exactly once; NAN when it is not exposed at all. */
static double source_task_gauge(fixture *f, const char *name, int s)
{
    char labels[96];
    snprintf(labels, sizeof labels, "partition=\"1\",source=\"source-task:%d\"", s);
    size_t n = 0;
    double v = tm_prom_sum(f->body.data, name, labels, &n);
    cr_assert_leq(n, 1, "%zu samples of %s{%s}", n, name, labels);
    return n == 1 ? v : NAN;
}

/* Paired task 1 of three: the sources of its watermark are the source
 * tasks as its window half last heard of them, the one not heard of yet
 * holds W back, an idle one is left out; its input partition's gauges
 * and its own source watermark are its source half's; the repartition
 * topic has its lag, its consumed records and the events routed to each
 * window task. */
Test(telemetry, a_paired_task_shows_its_source_tasks_and_the_repartition_topic)
{
    fixture f = {0};
    const char *sets[] = {"repartition.mode=always"};
    setup_with(&f, sets, 1);
    char err[256];
    int64_t now = 1700000000000;
    tm_engine *e = NULL;
    cr_assert_eq(tm_engine_open_paired(&e, f.cfg, 1, 3, now, err, sizeof err), 0, "%s", err);
    forward(e, 1, now - 1000, now);
    mark(e, 0, now - 60000, false);
    mark(e, 2, now - 5000, false);
    const uint64_t consumed[2] = {4, 9};
    const int64_t lag[2] = {2, 5};
    const uint64_t routed[3] = {3, 0, 7};
    tm_telemetry_repartition(f.t, routed, 3, 2);
    publish_paired(&f, e, consumed, lag, now);

    /* Source task 1 has not been heard of: it holds W at minus infinity. */
    cr_assert_eq(source_task_gauge(&f, "tidemark_watermark_source_holding", 1), 1);
    cr_assert_eq(source_task_gauge(&f, "tidemark_watermark_source_holding", 0), 0);
    cr_assert_eq(source_task_gauge(&f, "tidemark_watermark_source_holding", 2), 0);
    cr_assert(isnan(source_task_gauge(&f, "tidemark_watermark_source_seconds", 1)),
              "no watermark before the source's first record");
    cr_assert_float_eq(source_task_gauge(&f, "tidemark_watermark_source_seconds", 0),
                       (double)(now - 60000) / 1000, 1e-3);
    cr_assert_float_eq(source_task_gauge(&f, "tidemark_watermark_source_seconds", 2),
                       (double)(now - 5000) / 1000, 1e-3);
    size_t n = 1;
    tm_prom_sum(f.body.data, "tidemark_watermark_seconds", NULL, &n);
    cr_assert_eq(n, 0, "W is at minus infinity");
    tm_prom_sum(f.body.data, "tidemark_watermark_source_idle", "source=\"orders/", &n);
    cr_assert_eq(n, 0, "a paired task's sources are not its input partitions");
    /* Its source half: its input partition's watermark, and its own
     * (one partition: the same value), D = 2000 ms. */
    double source_half = (double)(now - 1000 - 2000) / 1000;
    cr_assert_float_eq(
        metric(&f, "tidemark_partition_watermark_seconds", "topic=\"orders\",partition=\"1\""),
        source_half, 1e-3);
    cr_assert_float_eq(metric(&f, "tidemark_source_task_watermark_seconds", "partition=\"1\""),
                       source_half, 1e-3);
    cr_assert_eq(metric(&f, "tidemark_source_task_idle", "partition=\"1\""), 0);
    /* The input topic's series count input records only; the repartition
     * topic has its own. */
    cr_assert_eq(tm_prom_sum(f.body.data, "tidemark_records_consumed_total", NULL, &n), 4);
    cr_assert_eq(n, 1);
    cr_assert_eq(tm_prom_sum(f.body.data, "tidemark_consumer_lag_records", NULL, &n), 2);
    cr_assert_eq(n, 1);
    cr_assert_eq(metric(&f, "tidemark_repartition_lag_records", "partition=\"1\""), 5);
    cr_assert_eq(metric(&f, "tidemark_repartition_records_consumed_total", "partition=\"1\""), 9);
    cr_assert_eq(metric(&f, "tidemark_repartition_routed_records_total", "window_task=\"0\""), 3);
    cr_assert_eq(metric(&f, "tidemark_repartition_routed_records_total", "window_task=\"1\""), 0);
    cr_assert_eq(metric(&f, "tidemark_repartition_routed_records_total", "window_task=\"2\""), 7);
    cr_assert_eq(tm_prom_sum(f.body.data, "tidemark_repartition_routed_records_total", NULL, &n),
                 10);
    cr_assert_eq(n, 3, "one series per window task");
    cr_assert_eq(metric(&f, "tidemark_repartition_foreign_records_total", NULL), 2);

    /* Source task 1 reports; source task 0 has gone idle: left out, and
     * source task 1, the slower of the other two, holds W at its value. */
    mark(e, 1, now - 30000, false);
    mark(e, 0, now - 60000, true);
    publish_paired(&f, e, consumed, lag, now + 1000);
    cr_assert_eq(source_task_gauge(&f, "tidemark_watermark_source_idle", 0), 1);
    cr_assert_eq(source_task_gauge(&f, "tidemark_watermark_source_idle", 1), 0);
    cr_assert_eq(source_task_gauge(&f, "tidemark_watermark_source_idle", 2), 0);
    cr_assert_eq(source_task_gauge(&f, "tidemark_watermark_source_holding", 0), 0);
    cr_assert_eq(source_task_gauge(&f, "tidemark_watermark_source_holding", 1), 1);
    cr_assert_eq(source_task_gauge(&f, "tidemark_watermark_source_holding", 2), 0);
    double held = source_task_gauge(&f, "tidemark_watermark_source_seconds", 1);
    cr_assert_float_eq(held, (double)(now - 30000) / 1000, 1e-3);
    cr_assert_float_eq(metric(&f, "tidemark_watermark_seconds", "partition=\"1\""), held, 1e-3,
                       "W is the holding source's watermark");
    tm_prom_sum(f.body.data, "tidemark_watermark_source_holding", NULL, &n);
    cr_assert_eq(n, 3, "one series per source task");

    /* Rebuilt after an abort: the repartition topic's count goes on. */
    tm_task_view old = {.partition = 1, .engine = e, .consumed = consumed};
    tm_telemetry_retire(f.t, &old);
    tm_engine_close(e);
    cr_assert_eq(tm_engine_open_paired(&e, f.cfg, 1, 3, now, err, sizeof err), 0, "%s", err);
    const uint64_t consumed_again[2] = {0, 1};
    publish_paired(&f, e, consumed_again, lag, now + 2000);
    cr_assert_eq(metric(&f, "tidemark_repartition_records_consumed_total", "partition=\"1\""), 10);
    cr_assert_eq(metric(&f, "tidemark_records_consumed_total", NULL), 4);

    /* Revoked: the counters stay, the task's gauges go. */
    tm_task_view gone = {.partition = 1, .engine = e, .consumed = consumed_again};
    tm_telemetry_retire(f.t, &gone);
    tm_engine_close(e);
    tm_telemetry_publish(f.t, NULL, 0, now + 3000);
    cr_assert_eq(get(&f, "/metrics"), 200);
    cr_assert_eq(metric(&f, "tidemark_repartition_records_consumed_total", "partition=\"1\""), 10);
    const char *gauges[] = {"tidemark_source_task_watermark_seconds", "tidemark_source_task_idle",
                            "tidemark_repartition_lag_records", "tidemark_watermark_source_idle"};
    for (size_t i = 0; i < sizeof gauges / sizeof gauges[0]; i++) {
        tm_prom_sum(f.body.data, gauges[i], NULL, &n);
        cr_assert_eq(n, 0, "%s of a revoked task", gauges[i]);
    }
    teardown(&f);
}

/* A paired task's window half combines its source tasks with
 * watermark.quantile too: q = 0.5 over three takes the middle one. */
Test(telemetry, a_paired_task_with_a_quantile_is_held_by_the_source_task_at_its_rank)
{
    fixture f = {0};
    const char *sets[] = {"repartition.mode=always", "watermark.combine=quantile",
                          "watermark.quantile=0.5"};
    setup_with(&f, sets, 3);
    char err[256];
    int64_t now = 1700000000000;
    tm_engine *e = NULL;
    cr_assert_eq(tm_engine_open_paired(&e, f.cfg, 1, 3, now, err, sizeof err), 0, "%s", err);
    mark(e, 0, now - 1000, false);
    mark(e, 1, now - 900000, false);
    mark(e, 2, now - 300000, false);
    const uint64_t consumed[2] = {0};
    const int64_t lag[2] = {-1, -1};
    publish_paired(&f, e, consumed, lag, now);
    cr_assert_eq(source_task_gauge(&f, "tidemark_watermark_source_holding", 0), 0);
    cr_assert_eq(source_task_gauge(&f, "tidemark_watermark_source_holding", 1), 0);
    cr_assert_eq(source_task_gauge(&f, "tidemark_watermark_source_holding", 2), 1);
    cr_assert_float_eq(metric(&f, "tidemark_watermark_seconds", "partition=\"1\""),
                       source_task_gauge(&f, "tidemark_watermark_source_seconds", 2), 1e-3);
    size_t n = 1;
    tm_prom_sum(f.body.data, "tidemark_repartition_lag_records", NULL, &n);
    cr_assert_eq(n, 0, "no lag known yet: no sample");
    tm_engine_close(e);
    teardown(&f);
}

/* One wait on the broker longer than health.max_broker_wait_ms is a stuck
 * client, not a wait: /healthz fails and says so. */
Test(telemetry, a_broker_wait_past_the_maximum_is_stuck)
{
    fixture f = {0};
    const char *sets[] = {"health.max_broker_wait_ms=3000"};
    setup_with(&f, sets, 1);
    int64_t now = tm_wall_clock_ms();
    tm_telemetry_polled(f.t, now, 2);
    tm_telemetry_waiting(f.t, "commit", now - 2000);
    cr_assert_eq(get(&f, "/healthz"), 200, "past the stall timeout, within the maximum: %s",
                 f.body.data);
    tm_telemetry_waiting(f.t, "commit", now - 4000);
    cr_assert_eq(get(&f, "/healthz"), 503);
    cr_assert(strstr(f.body.data, "stuck: waiting for the broker (commit)"), "%s", f.body.data);
    teardown(&f);
}
