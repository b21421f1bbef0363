/*
 * Watermark alignment (SEMANTICS 11, watermark.alignment.max_drift_ms): a
 * catch-up from far behind on two co-partitioned input topics whose event
 * times lie hours apart. The task watermark W is the minimum over both, so
 * every window of the topic ahead stays open until the other catches up.
 * Without alignment the service reads the topic ahead through and holds
 * all of its windows; with alignment it pauses that topic once it is more
 * than the drift ahead of W, so at most the windows of one batch stay
 * open, and it resumes the topic as the other catches up. Read over real
 * HTTP from a real `tidemark run`; with alignment, the output is then
 * checked against replay (exactly once: pausing loses no record and reads
 * none twice).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "eos_harness.h"
#include "http_get.h"
#include "kafka_io.h"
#include "proc.h"
#include "prom_text.h"

TestSuite(live, .fini = tm_eos_teardown);

/* The harness's pipeline: tumbling 5 s windows, D = 2 s, L = 3 s. */
enum {
    WINDOW_MS = 5000,
    D_MS = 2000,
    LATENESS_MS = 3000,
    DRIFT_MS = 60000,
    /* The runner's largest batch (runner.c BATCH_MAX): alignment acts
     * between batches, so one batch of the topic ahead is read past the
     * drift at most. */
    BATCH_MAX = 4096,
    /* One record a second on both topics: a batch spans BATCH_MAX s. */
    STEP_MS = 1000,
    SLOW_FIRST = 3600,   /* orders over [0, 1 h) */
    SLOW_SECOND = 15600, /* orders over [1 h, 5.33 h): both end together */
    FAST = 12000         /* payments over [2 h, 5.33 h) */
};

/* Event times: T0 plus an offset; receipt times come after all of them. */
static const int64_t T0 = 1763600000000LL;
static const int64_t HOUR = 3600000LL;

/* The windows alignment lets stay in state. Before a batch, payments'
 * largest event time is at most A + D past W; one batch takes it up to
 * BATCH_MAX records (seconds) further; a window leaves the state once W
 * passes its end plus the allowed lateness. So every window held meets
 * [W - L, W + A + D + BATCH_MAX s]. */
static const double BOUND =
    (double)(BATCH_MAX * STEP_MS + DRIFT_MS + D_MS + LATENESS_MS) / WINDOW_MS + 2;

static size_t line_no;

/* Writes one input line to f and to the whole input (for replay): an
 * event of merchant m1 at t with id, or with id NULL a value that is
 * not JSON (a dead letter). */
static void write_line(FILE *f, FILE *all, const char *topic, int64_t t, const char *id)
{
    char line[512];
    long long ts = (long long)(T0 + 8 * HOUR + (int64_t)line_no++);
    if (id)
        snprintf(line, sizeof line,
                 "{\"topic\": \"%s\", \"partition\": 0, \"ts\": %lld, \"key\": \"m1\", "
                 "\"payload\": \"{\\\"order_id\\\": \\\"%s\\\", \\\"merchant\\\": "
                 "\\\"m1\\\", \\\"amount\\\": 1.5, \\\"event_time\\\": %lld}\"}\n",
                 topic, ts, id, (long long)t);
    else
        snprintf(line, sizeof line,
                 "{\"topic\": \"%s\", \"partition\": 0, \"ts\": %lld, \"key\": \"m1\", "
                 "\"payload\": \"not json\"}\n",
                 topic, ts);
    cr_assert(fputs(line, f) >= 0 && fputs(line, all) >= 0);
}

/* Writes to path, and appends to the whole input, the events of topic
 * from first_t on, one every step_ms, count of them. */
static void write_events(tm_eos *e, const char *path, const char *topic, int64_t first_t,
                         int64_t step_ms, int count)
{
    FILE *f = fopen(path, "w"), *all = fopen(e->input_path, "a");
    cr_assert(f && all, "cannot write %s: %s", path, strerror(errno));
    for (int i = 0; i < count; i++) {
        char id[64];
        int64_t t = first_t + i * step_ms;
        snprintf(id, sizeof id, "%s-%lld", topic, (long long)t);
        write_line(f, all, topic, t, id);
    }
    cr_assert(fclose(f) == 0 && fclose(all) == 0);
}

static void load(tm_eos *e, const char *path)
{
    tm_kafka_io_load(tm_test_broker_bootstrap(e->broker), path, "orders");
}

/* Two input topics: orders (the harness's) and payments, co-partitioned. */
static tm_eos *setup(const char *name)
{
    tm_eos *e = tm_eos_setup(&(tm_eos_options){.name = name, .brokers = 1, .partitions = 1});
    tm_kafka_probe_create_topic(e->probe, "payments", 1, NULL, NULL);
    tm_buf cfg = {0};
    FILE *f = fopen(e->config_path, "r");
    cr_assert(f);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        tm_buf_append(&cfg, chunk, n);
    fclose(f);
    tm_buf_append(&cfg, "", 1);
    const char *from = "\"topics\": [\"orders\"]";
    char *at = strstr(cfg.data, from);
    cr_assert(at, "no input topics in %s", e->config_path);
    f = fopen(e->config_path, "w");
    cr_assert(f);
    fprintf(f, "%.*s\"topics\": [\"orders\", \"payments\"]%s", (int)(at - cfg.data), cfg.data,
            at + strlen(from));
    cr_assert(fclose(f) == 0);
    tm_buf_free(&cfg);
    /* The whole input, in the order replay reads it. */
    f = fopen(e->input_path, "w");
    cr_assert(f && fclose(f) == 0);
    return e;
}

/* One scrape: open windows, records consumed of each topic, whether
 * payments is paused (-1: no series), pauses and aborts so far. */
typedef struct scrape {
    double open_windows, orders, payments, paused, pauses, aborted;
    double lag; /* both topics' consumer lag; -1: not both known */
} scrape;

static scrape scrape_once(int port)
{
    tm_buf h = {0}, m = {0};
    scrape s = {.paused = -1};
    int status = tm_http_request(port, "GET", "/metrics", &h, &m);
    if (status == 200) {
        size_t n = 0;
        s.open_windows = tm_prom_sum(m.data, "tidemark_open_windows", NULL, NULL);
        s.orders = tm_prom_sum(m.data, "tidemark_records_consumed_total", "topic=\"orders\"", NULL);
        s.payments =
            tm_prom_sum(m.data, "tidemark_records_consumed_total", "topic=\"payments\"", NULL);
        double p = tm_prom_sum(m.data, "tidemark_input_paused", "topic=\"payments\"", &n);
        s.paused = n ? p : -1;
        s.pauses = tm_prom_sum(m.data, "tidemark_input_pauses_total", NULL, NULL);
        s.aborted = tm_prom_sum(m.data, "tidemark_transactions_aborted_total", NULL, NULL);
        double lag = tm_prom_sum(m.data, "tidemark_consumer_lag_records", NULL, &n);
        s.lag = n == 2 ? lag : -1;
    }
    tm_buf_free(&h);
    tm_buf_free(&m);
    return s;
}

/* Scrapes until done(last) holds, keeping the largest open-window count
 * seen in *peak; fails after 120 s. */
static scrape scrape_until(tm_eos *e, int port, bool (*done)(const scrape *), double *peak,
                           const char *what)
{
    int64_t deadline = tm_test_now_ms() + 120000;
    for (;;) {
        scrape s = scrape_once(port);
        if (s.open_windows > *peak)
            *peak = s.open_windows;
        if (done(&s))
            return s;
        cr_assert_lt(tm_test_now_ms(), deadline,
                     "%s: orders %.0f, payments %.0f consumed, lag %.0f, paused %.0f, %.0f open "
                     "windows",
                     what, s.orders, s.payments, s.lag, s.paused, s.open_windows);
        tm_eos_sleep(e, 20);
    }
}

static bool first_orders_read_payments_paused(const scrape *s)
{
    return s->orders == SLOW_FIRST && s->paused == 1;
}

static bool first_orders_and_all_payments_read(const scrape *s)
{
    return s->orders == SLOW_FIRST && s->payments == FAST;
}

/* After an abort the records consumed count those read again: read to the
 * end is every record counted and no lag left. */
static bool all_read(const scrape *s)
{
    return s->orders >= SLOW_FIRST + SLOW_SECOND && s->lag == 0;
}

static bool all_read_and_two_more(const scrape *s)
{
    return s->orders >= SLOW_FIRST + SLOW_SECOND + 2 && s->lag == 0;
}

/* payments far ahead, then the first hour of orders: the slow topic. */
static void load_first(tm_eos *e)
{
    char fast[TM_EOS_PATH + 32], slow[TM_EOS_PATH + 32];
    snprintf(fast, sizeof fast, "%s/fast.jsonl", e->dir);
    snprintf(slow, sizeof slow, "%s/slow1.jsonl", e->dir);
    write_events(e, fast, "payments", T0 + 2 * HOUR, STEP_MS, FAST);
    write_events(e, slow, "orders", T0, STEP_MS, SLOW_FIRST);
    load(e, fast);
    load(e, slow);
}

Test(live, alignment_bounds_the_open_windows_of_a_catch_up, .timeout = 280)
{
    tm_eos *e = setup("align");
    load_first(e);
    tm_eos_instance *a = tm_eos_instance_add(e, "a");
    a->metrics_port = tm_test_free_port();
    a->sets[0] = "watermark.alignment.max_drift_ms=60000";
    tm_eos_start(e, a);

    /* The first hour of orders is read; payments, hours ahead, waits. */
    double peak = 0;
    scrape s = scrape_until(e, a->metrics_port, first_orders_read_payments_paused, &peak,
                            "first hour of orders");
    cr_assert_lt(s.payments, FAST, "payments read through despite alignment");
    cr_assert_geq(s.pauses, 1);
    cr_assert_leq(peak, BOUND, "%.0f windows open with alignment (bound %.0f)", peak, BOUND);

    /* The next checkpoint's TxnOffsetCommit is refused (ILLEGAL_GENERATION):
     * an abort rebuilds the task and rewinds its inputs, payments paused. */
    tm_test_broker_command(e->broker, "fail 28 22 1");
    /* orders catches up: payments is resumed and paused as orders goes on,
     * and both are read to their end (the same event time: with idleness
     * off, records more than the drift ahead of the other's last would
     * wait for more of it), the open windows staying bounded all along. */
    char slow2[TM_EOS_PATH + 32];
    snprintf(slow2, sizeof slow2, "%s/slow2.jsonl", e->dir);
    write_events(e, slow2, "orders", T0 + HOUR, STEP_MS, SLOW_SECOND);
    load(e, slow2);
    s = scrape_until(e, a->metrics_port, all_read, &peak, "catch-up");
    printf("alignment: at most %.0f windows open (bound %.0f), %.0f pauses\n", peak, BOUND,
           s.pauses);
    cr_assert_eq(s.paused, 0, "payments still paused once orders is ahead of it");
    cr_assert_geq(s.aborted, 1, "no abort");
    cr_assert_leq(peak, BOUND, "%.0f windows open with alignment (bound %.0f)", peak, BOUND);

    /* A record too late and a dead letter, once the watermark is final
     * (their side records carry it), for a non-trivial comparison. */
    char tail[TM_EOS_PATH + 32];
    snprintf(tail, sizeof tail, "%s/tail.jsonl", e->dir);
    FILE *f = fopen(tail, "w"), *all = fopen(e->input_path, "a");
    cr_assert(f && all);
    write_line(f, all, "orders", T0, "too-late");
    write_line(f, all, "orders", T0, NULL);
    cr_assert(fclose(f) == 0 && fclose(all) == 0);
    load(e, tail);
    scrape_until(e, a->metrics_port, all_read_and_two_more, &peak, "tail");
    tm_eos_wait_done(e, 120000);
    tm_eos_stop(e, a);
    tm_eos_verify(e);
    tm_eos_pass(e);
}

/* The same catch-up without alignment: payments is read through and every
 * window of it stays open, far more than alignment allows. */
Test(live, without_alignment_the_open_windows_grow, .timeout = 280)
{
    tm_eos *e = setup("noalign");
    load_first(e);
    tm_eos_instance *a = tm_eos_instance_add(e, "a");
    a->metrics_port = tm_test_free_port();
    tm_eos_start(e, a);
    double peak = 0;
    scrape s = scrape_until(e, a->metrics_port, first_orders_and_all_payments_read, &peak,
                            "first hour of orders and payments");
    cr_assert_eq(s.paused, 0);
    cr_assert_eq(s.pauses, 0);
    /* Every 5 s window of payments' 12000 s, at most the last one of
     * orders closed. */
    cr_assert_geq(s.open_windows, (double)FAST * STEP_MS / WINDOW_MS,
                  "%.0f windows open without alignment", s.open_windows);
    cr_assert_gt(s.open_windows, 2 * BOUND);
    tm_eos_stop(e, a);
    tm_eos_pass(e);
}
