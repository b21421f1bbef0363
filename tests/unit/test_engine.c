/*
 * Unit tests of engine.c: the per-record order of SEMANTICS 7 (clock skew,
 * dedup before windows, late output, watermark), and a property test:
 * shuffling arrival order within the out-of-orderness bound does not change
 * the results, of one task or of a repartitioned pipeline (repartition.h).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "emissions.h"
#include "engine.h"
#include "generator.h"
#include "repartition.h"

/* ---- helpers ---- */

typedef struct harness {
    tm_config *cfg;
    tm_engine *e;
    tm_test_lines out;
    tm_engine_sink sink;
    int64_t offset;
} harness;

static void harness_open(harness *h, const char *config_json)
{
    memset(h, 0, sizeof *h);
    h->cfg = tm_test_config(config_json);
    char err[256];
    cr_assert_eq(tm_engine_open(&h->e, h->cfg, 0, 0, err, sizeof err), 0, "%s", err);
    h->out.cfg = h->cfg;
    h->sink = tm_test_lines_sink(&h->out);
}

static void harness_close(harness *h)
{
    tm_engine_close(h->e);
    tm_config_free(h->cfg);
    tm_test_lines_free(&h->out);
}

/* Offers one record on topic index `topic` with receipt time ts at
 * processing time now. */
static void feed_at(harness *h, size_t topic, int64_t ts, int64_t now, const char *value)
{
    tm_record rec = {.topic = h->cfg->input_topics[topic],
                     .topic_index = topic,
                     .partition = 0,
                     .offset = h->offset++,
                     .ts = ts,
                     .value = value,
                     .value_len = value ? strlen(value) : 0};
    tm_engine_process(h->e, &rec, now, &h->sink);
}

/* The same at processing time ts. */
static void feed(harness *h, size_t topic, int64_t ts, const char *value)
{
    feed_at(h, topic, ts, ts, value);
}

/* The output is one result, starting with prefix, holding aggregate agg. */
static void assert_one_result(const harness *h, const char *prefix, const char *agg)
{
    cr_assert_eq(h->out.n, 1);
    cr_assert(strstr(h->out.v[0], prefix) == h->out.v[0], "%s", h->out.v[0]);
    cr_assert(strstr(h->out.v[0], agg), "%s", h->out.v[0]);
}

/* A macro, not a variable, so that snprintf's format stays a literal. */
#define BASE_CONFIG                                                                                \
    "{\"application_id\":\"t\",\"input\":{\"topics\":[\"in\"],"                                    \
    "\"event_time\":{\"pointer\":\"/t\",\"format\":\"epoch_ms\"},\"group_by\":\"/k\","             \
    "\"event_id\":\"/id\"},\"watermark\":{\"max_out_of_orderness_ms\":10},"                        \
    "\"window\":{\"type\":\"tumbling\",\"size_ms\":100},\"allowed_lateness_ms\":50,"               \
    "\"aggregations\":[{\"name\":\"s\",\"op\":\"sum\",\"pointer\":\"/a\"}],"                       \
    "%s\"output\":{\"topic\":\"out\"}}"

#define DEDUP_ON "\"dedup\":{\"enabled\":true},"

static void open_with(harness *h, const char *extra)
{
    char json[2048];
    snprintf(json, sizeof json, BASE_CONFIG, extra);
    harness_open(h, json);
}

/* ---- the per-record rules ---- */

Test(engine, duplicate_of_a_too_late_event_is_a_duplicate_not_a_second_late_record)
{
    /* Within the ttl: the too-late event's key is held (5 + 1000 > W). */
    harness h;
    open_with(&h, "\"dedup\":{\"enabled\":true,\"ttl_ms\":1000},");
    feed(&h, 0, 0, "{\"k\":\"x\",\"t\":500,\"a\":1,\"id\":\"a\"}"); /* W = 490 */
    feed(&h, 0, 1, "{\"k\":\"x\",\"t\":5,\"a\":1,\"id\":\"late\"}");
    feed(&h, 0, 2, "{\"k\":\"x\",\"t\":5,\"a\":1,\"id\":\"late\"}");
    const tm_engine_stats *st = tm_engine_stats_of(h.e);
    cr_assert_eq(st->too_late, 1);
    cr_assert_eq(st->duplicates, 1);
    cr_assert_eq(h.out.n, 1);
    cr_assert_str_eq(h.out.v[0], "L0 1 490");
    harness_close(&h);
}

Test(engine, dedup_entry_not_held_when_already_expired)
{
    /* ttl 20: an event at 5 with W = 490 would expire at 25 <= W. */
    harness h;
    open_with(&h, "\"late\":{\"action\":\"drop\"},\"dedup\":{\"enabled\":true,\"ttl_ms\":20},");
    feed(&h, 0, 0, "{\"k\":\"x\",\"t\":500,\"a\":1,\"id\":\"a\"}");
    size_t held = tm_engine_dedup_entries(h.e);
    feed(&h, 0, 1, "{\"k\":\"x\",\"t\":5,\"a\":1,\"id\":\"b\"}");
    cr_assert_eq(tm_engine_dedup_entries(h.e), held);
    feed(&h, 0, 2, "{\"k\":\"x\",\"t\":5,\"a\":1,\"id\":\"b\"}");
    const tm_engine_stats *st = tm_engine_stats_of(h.e);
    cr_assert_eq(st->duplicates, 0, "not held, so not a duplicate");
    cr_assert_eq(st->too_late, 2);
    cr_assert_eq(st->late_dropped, 2);
    cr_assert_eq(h.out.n, 0, "late.action=drop writes no late output");
    harness_close(&h);
}

Test(engine, clock_skew_clamps_to_receipt_time_and_counts)
{
    harness h;
    open_with(&h, DEDUP_ON "\"clock_skew\":{\"max_ahead_ms\":1000},");
    feed(&h, 0, 100, "{\"k\":\"x\",\"t\":1100,\"a\":1,\"id\":\"ok\"}");   /* t = ts + M: kept */
    feed(&h, 0, 1095, "{\"k\":\"x\",\"t\":5000,\"a\":2,\"id\":\"fut\"}"); /* -> 1095 */
    const tm_engine_stats *st = tm_engine_stats_of(h.e);
    cr_assert_eq(st->clamped, 1);
    cr_assert_eq(tm_engine_watermark(h.e), 1090, "max_t stays 1100: the clamped t is 1095");
    feed(&h, 0, 1200, "{\"k\":\"x\",\"t\":1200,\"a\":4,\"id\":\"next\"}");
    assert_one_result(&h, "R0 x@1000 ", "\"s\":2");
    harness_close(&h);
}

Test(engine, clock_skew_dead_letter_and_dead_letters_do_not_move_the_watermark)
{
    harness h;
    open_with(&h, DEDUP_ON "\"clock_skew\":{\"max_ahead_ms\":1000,\"action\":\"dlq\"},");
    feed(&h, 0, 100, "{\"k\":\"x\",\"t\":5000,\"a\":1,\"id\":\"fut\"}");
    feed(&h, 0, 100, "");
    feed(&h, 0, 100, NULL);
    feed(&h, 0, 100, "{\"k\":\"x\",\"t\":50}");
    cr_assert_eq(h.out.n, 4);
    cr_assert_str_eq(h.out.v[0], "D0 0 clock_skew");
    cr_assert_str_eq(h.out.v[1], "D0 1 empty_value");
    cr_assert_str_eq(h.out.v[2], "D0 2 empty_value");
    cr_assert_str_eq(h.out.v[3], "D0 3 missing_event_id");
    cr_assert_eq(tm_engine_watermark(h.e), INT64_MIN);
    cr_assert_eq(tm_engine_stats_of(h.e)->dead_letters[TM_DLQ_CLOCK_SKEW], 1);
    harness_close(&h);
}

/* Year 9999 in Unix ms: a forged event time, with a forged receipt time. */
#define FORGED "253402300799000"

Test(engine, wall_guard_clamps_a_forged_record_to_the_processing_time)
{
    /* The receipt time is forged too, so clock_skew.max_ahead_ms passes
     * it; the processing time (1000) does not. */
    harness h;
    open_with(&h, DEDUP_ON "\"clock_skew\":{\"max_ahead_ms\":1000,"
                           "\"max_ahead_of_wall_ms\":500},");
    feed_at(&h, 0, 1000, 1000, "{\"k\":\"x\",\"t\":1020,\"a\":1,\"id\":\"a\"}");
    feed_at(&h, 0, 253402300799000, 1050,
            "{\"k\":\"x\",\"t\":" FORGED ",\"a\":2,\"id\":\"forged\"}"); /* -> 1050 */
    const tm_engine_stats *st = tm_engine_stats_of(h.e);
    cr_assert_eq(st->ahead_of_wall, 1);
    cr_assert_eq(st->clamped, 0, "counted apart from clamps to the receipt time");
    cr_assert_eq(tm_engine_watermark(h.e), 1040, "the clamped t is 1050");
    /* t = now + M exactly: kept as it is. */
    feed_at(&h, 0, 1550, 1550, "{\"k\":\"x\",\"t\":2050,\"a\":4,\"id\":\"edge\"}");
    cr_assert_eq(st->ahead_of_wall, 1);
    cr_assert_eq(tm_engine_watermark(h.e), 2040);
    cr_assert_eq(st->too_late, 0);
    assert_one_result(&h, "R0 x@1000 ", "\"s\":3"); /* the forged record counts at 1050 */
    harness_close(&h);
}

Test(engine, wall_guard_dead_letters_with_clock_skew_dlq)
{
    harness h;
    open_with(&h, DEDUP_ON "\"clock_skew\":{\"max_ahead_of_wall_ms\":500,\"action\":\"dlq\"},");
    feed_at(&h, 0, 253402300799000, 1000,
            "{\"k\":\"x\",\"t\":" FORGED ",\"a\":2,\"id\":\"forged\"}");
    cr_assert_eq(h.out.n, 1);
    cr_assert_str_eq(h.out.v[0], "D0 0 clock_skew");
    const tm_engine_stats *st = tm_engine_stats_of(h.e);
    cr_assert_eq(st->dead_letters[TM_DLQ_CLOCK_SKEW], 1);
    cr_assert_eq(st->ahead_of_wall, 1);
    cr_assert_eq(tm_engine_watermark(h.e), INT64_MIN, "a dead letter moves no watermark");
    feed_at(&h, 0, 1000, 1000, "{\"k\":\"x\",\"t\":900,\"a\":1,\"id\":\"ok\"}");
    cr_assert_eq(st->accepted, 1);
    cr_assert_eq(tm_engine_watermark(h.e), 890);
    harness_close(&h);
}

Test(engine, without_the_wall_guard_a_forged_record_moves_the_watermark)
{
    /* The hole the guard closes: SEMANTICS 3 alone compares with the
     * (forged) receipt time. */
    harness h;
    open_with(&h, DEDUP_ON "\"clock_skew\":{\"max_ahead_ms\":1000},");
    feed_at(&h, 0, 253402300799000, 1000,
            "{\"k\":\"x\",\"t\":" FORGED ",\"a\":2,\"id\":\"forged\"}");
    cr_assert_eq(tm_engine_watermark(h.e), 253402300799000 - 10);
    feed_at(&h, 0, 1600, 1600, "{\"k\":\"x\",\"t\":1600,\"a\":4,\"id\":\"next\"}");
    cr_assert_eq(tm_engine_stats_of(h.e)->too_late, 1);
    cr_assert_eq(tm_engine_stats_of(h.e)->ahead_of_wall, 0);
    harness_close(&h);
}

/* Event and receipt times at the int64 limits with every duration at the
 * limit of integer options (2^53): the sums saturate (issue 9; the
 * sanitizer build fails on any overflow). */
Test(engine, extreme_times_with_durations_at_the_limit)
{
    harness h;
    harness_open(&h, "{\"application_id\":\"t\",\"input\":{\"topics\":[\"in\"],"
                     "\"event_time\":{\"pointer\":\"/t\"},\"group_by\":\"/k\","
                     "\"event_id\":\"/id\"},"
                     "\"watermark\":{\"max_out_of_orderness_ms\":9007199254740992,"
                     "\"idle_timeout_ms\":9007199254740992},"
                     "\"window\":{\"type\":\"hopping\",\"size_ms\":9007199254740992,"
                     "\"advance_ms\":4503599627370496,\"offset_ms\":-9007199254740991},"
                     "\"allowed_lateness_ms\":9007199254740992,"
                     "\"dedup\":{\"enabled\":true,\"ttl_ms\":9007199254740992},"
                     "\"clock_skew\":{\"max_ahead_ms\":9007199254740992,"
                     "\"max_ahead_of_wall_ms\":9007199254740992},"
                     "\"output\":{\"topic\":\"out\"}}");
    /* The largest epoch_ms below 2^63 that a JSON number holds. */
    feed(&h, 0, INT64_MAX, "{\"k\":\"x\",\"t\":9223372036854774784,\"id\":\"a\"}");
    cr_assert_eq(tm_engine_watermark(h.e), 9223372036854774784 - 9007199254740992);
    feed(&h, 0, INT64_MIN, "{\"k\":\"x\",\"t\":-9223372036854775808,\"id\":\"b\"}");
    feed(&h, 0, INT64_MIN, "{\"k\":\"x\",\"t\":\"9999-12-31T23:59:59.999Z\",\"id\":\"c\"}");
    feed(&h, 0, INT64_MAX, "{\"k\":\"x\",\"t\":9223372036854774784,\"id\":\"a\"}");
    tm_engine_tick(h.e, INT64_MAX, &h.sink);
    const tm_engine_stats *st = tm_engine_stats_of(h.e);
    cr_assert_eq(st->accepted, 1);
    cr_assert_eq(st->duplicates, 1, "held until t + ttl, saturated at INT64_MAX");
    cr_assert_eq(st->clamped, 1, "year 9999 is ahead of receipt time INT64_MIN + M");
    cr_assert_eq(st->ahead_of_wall, 0, "now + M saturates at INT64_MAX");
    cr_assert_eq(st->too_late, 2, "t = INT64_MIN (one as decoded, one clamped), far behind W");
    cr_assert_eq(tm_engine_window_count(h.e), 2, "two hopping windows, open until INT64_MAX");
    harness_close(&h);
}

Test(engine, idle_topic_releases_the_watermark_on_tick)
{
    harness h;
    harness_open(&h, "{\"application_id\":\"t\",\"input\":{\"topics\":[\"a\",\"b\"],"
                     "\"event_time\":{\"pointer\":\"/t\",\"format\":\"epoch_ms\"}},"
                     "\"watermark\":{\"max_out_of_orderness_ms\":0,\"idle_timeout_ms\":1000},"
                     "\"window\":{\"type\":\"tumbling\",\"size_ms\":100},"
                     "\"aggregations\":[{\"name\":\"n\",\"op\":\"count\"}],"
                     "\"output\":{\"topic\":\"out\"}}");
    feed(&h, 0, 10, "{\"t\":5}");
    feed(&h, 0, 20, "{\"t\":150}");
    cr_assert_eq(h.out.n, 0, "topic b has no record and is not idle yet");
    tm_engine_tick(h.e, 999, &h.sink);
    cr_assert_eq(h.out.n, 0);
    tm_engine_tick(h.e, 1000, &h.sink); /* b idle since the task start (0) */
    cr_assert_eq(h.out.n, 1);
    cr_assert(strstr(h.out.v[0], "R0 @0 {") == h.out.v[0], "%s", h.out.v[0]);
    cr_assert_eq(tm_engine_watermark(h.e), 150);
    harness_close(&h);
}

/* ---- property: bounded shuffles do not change the results ---- */

static uint64_t rng;
static uint64_t rnd(void)
{
    return tm_rand_next(&rng);
}

typedef struct event {
    size_t topic;      /* input topic index */
    int32_t partition; /* input partition (repartitioned runs) */
    int64_t t;
    int64_t arrival; /* t + a delay within [0, D): sorting by it shuffles */
    char value[160];
} event;

static int by_arrival(const void *a, const void *b)
{
    const event *x = a, *y = b;
    if (x->arrival != y->arrival)
        return (x->arrival > y->arrival) - (x->arrival < y->arrival);
    return (x->t > y->t) - (x->t < y->t);
}

static int by_time(const void *a, const void *b)
{
    const event *x = a, *y = b;
    return (x->t > y->t) - (x->t < y->t);
}

/* The input topics of a property run, how W combines them, and how many
 * input partitions feed a repartitioned pipeline of how many window tasks
 * (0: one task, no repartitioning). The bound holds for any combination:
 * an event arriving after event j has t > t_j - D, above the watermark of
 * j's source (a partition, or a source task), and a combined W is never
 * above the largest source. */
typedef struct sources {
    const char *topics_json;
    size_t n_topics;
    const char *combine_json; /* appended to the watermark object */
    int32_t partitions;       /* source tasks, repartitioned; 0: one task */
    int32_t window_tasks;     /* R, the window tasks */
} sources;

/* Runs the events in array order through one task (src->partitions 0) or
 * a repartitioned pipeline; returns the collected output. Receipt time is
 * the arrival time, so processing time never idles anything. */
static tm_test_lines run_events(const char *config_json, const sources *src, const event *ev,
                                size_t n)
{
    harness h;
    harness_open(&h, config_json);
    tm_repartition *p = NULL;
    if (src->partitions > 0) {
        int32_t parts[16];
        cr_assert_leq(src->partitions, 16);
        for (int32_t i = 0; i < src->partitions; i++)
            parts[i] = i;
        char err[256];
        cr_assert_eq(tm_repartition_open(&p, h.cfg, parts, (size_t)src->partitions,
                                         src->window_tasks, 0, err, sizeof err),
                     0, "%s", err);
    }
    for (size_t i = 0; i < n; i++) {
        if (!p) {
            feed(&h, ev[i].topic, ev[i].arrival, ev[i].value);
            continue;
        }
        tm_record rec = {.topic = h.cfg->input_topics[ev[i].topic],
                         .topic_index = ev[i].topic,
                         .partition = ev[i].partition,
                         .offset = (int64_t)i,
                         .ts = ev[i].arrival,
                         .value = ev[i].value,
                         .value_len = strlen(ev[i].value)};
        tm_repartition_process(p, &rec, ev[i].arrival, &h.sink);
    }
    tm_repartition_close(p);
    tm_test_lines out = h.out;
    h.out = (tm_test_lines){0};
    harness_close(&h);
    return out;
}

/* The lines of l whose first word (the emitting partition, "R0") is
 * word, in order: the output per partition is what must not change
 * (window tasks fire in ascending r, so another arrival order may
 * interleave two partitions' results differently). */
static tm_test_lines lines_of(const tm_test_lines *l, const char *word)
{
    tm_test_lines out = {0};
    size_t n = strlen(word);
    for (size_t i = 0; i < l->n; i++)
        if (strncmp(l->v[i], word, n) == 0 && l->v[i][n] == ' ') {
            out.v = realloc(out.v, (out.n + 1) * sizeof *out.v);
            out.v[out.n++] = l->v[i];
        }
    return out;
}

/* Results equal line by line, numbers compared within a relative 1e-9
 * (sums may round differently in another order). */
static void assert_same_results(const tm_test_lines *a, const tm_test_lines *b, uint64_t seed)
{
    cr_assert_eq(a->n, b->n, "seed %llu: %zu vs %zu results", (unsigned long long)seed, a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        const char *x = a->v[i], *y = b->v[i];
        while (*x && *y) {
            if ((*x >= '0' && *x <= '9') || *x == '-') {
                char *ex, *ey;
                double dx = strtod(x, &ex), dy = strtod(y, &ey);
                cr_assert(fabs(dx - dy) <= 1e-9 * fmax(1, fmax(fabs(dx), fabs(dy))),
                          "seed %llu line %zu:\n%s\n%s", (unsigned long long)seed, i, a->v[i],
                          b->v[i]);
                x = ex;
                y = ey;
                continue;
            }
            cr_assert_eq(*x, *y, "seed %llu line %zu:\n%s\n%s", (unsigned long long)seed, i,
                         a->v[i], b->v[i]);
            x++;
            y++;
        }
        cr_assert(!*x && !*y, "seed %llu line %zu differs in length", (unsigned long long)seed, i);
    }
}

static const sources one_topic = {"[\"in\"]", 1, "", 0, 0};
/* k = ceil(0.5 x 3) = 2: the median topic's watermark. */
static const sources three_topics_quantile = {"[\"a\",\"b\",\"c\"]", 3,
                                              ",\"combine\":\"quantile\",\"quantile\":0.5", 0, 0};
/* Four input partitions (events spread at random, not by key) into three
 * window tasks; and two topics of three partitions each into five, with
 * the source tasks combined by a quantile. */
static const sources repartitioned = {"[\"in\"]", 1, "", 4, 3};
static const sources repartitioned_topics_quantile = {
    "[\"a\",\"b\"]", 2, ",\"combine\":\"quantile\",\"quantile\":0.6", 3, 5};

/* Every partition's results equal, line by line (assert_same_results). */
static void assert_same_per_partition(const tm_test_lines *a, const tm_test_lines *b, uint64_t seed,
                                      int32_t partitions)
{
    for (int32_t r = 0; r < (partitions > 0 ? partitions : 1); r++) {
        char word[16];
        snprintf(word, sizeof word, "R%d", (int)r);
        tm_test_lines x = lines_of(a, word), y = lines_of(b, word);
        assert_same_results(&x, &y, seed);
        free(x.v);
        free(y.v);
    }
    cr_assert_eq(a->n, b->n, "seed %llu: %zu vs %zu lines", (unsigned long long)seed, a->n, b->n);
}

static void check_shuffles(const char *window_json, int64_t d, const sources *src)
{
    char config[2048];
    snprintf(config, sizeof config,
             "{\"application_id\":\"p\",\"input\":{\"topics\":%s,"
             "\"event_time\":{\"pointer\":\"/t\",\"format\":\"epoch_ms\"},"
             "\"group_by\":[\"/k\",\"/r\"],\"event_id\":\"/id\"},"
             "\"watermark\":{\"max_out_of_orderness_ms\":%lld%s},\"window\":%s,"
             "\"allowed_lateness_ms\":0,\"aggregations\":[{\"name\":\"n\",\"op\":\"count\"},"
             "{\"name\":\"s\",\"op\":\"sum\",\"pointer\":\"/a\"},"
             "{\"name\":\"lo\",\"op\":\"min\",\"pointer\":\"/a\"},"
             "{\"name\":\"hi\",\"op\":\"max\",\"pointer\":\"/a\"},"
             "{\"name\":\"avg\",\"op\":\"avg\",\"pointer\":\"/a\"}],"
             "\"dedup\":{\"enabled\":true},\"output\":{\"topic\":\"out\"}}",
             src->topics_json, (long long)d, src->combine_json, window_json);
    enum { N = 3000 };
    event *ev = calloc(N, sizeof *ev);
    for (uint64_t seed = 1; seed <= 20; seed++) {
        rng = seed * 0x9e3779b97f4a7c15ull;
        int64_t t = -5000; /* negative times too */
        for (size_t i = 0; i < N; i++) {
            t += (int64_t)(rnd() % 40);
            bool dup = i > 0 && rnd() % 50 == 0;
            if (dup) {
                /* A byte-identical re-send of the previous event. */
                ev[i] = ev[i - 1];
            } else {
                /* One topic draws nothing: its workload stays as it was. */
                ev[i].topic = src->n_topics > 1 ? (size_t)(rnd() % src->n_topics) : 0;
                ev[i].partition =
                    src->partitions > 1 ? (int32_t)(rnd() % (uint64_t)src->partitions) : 0;
                ev[i].t = t;
                snprintf(ev[i].value, sizeof ev[i].value,
                         "{\"k\":\"m%d\",\"r\":%d,\"t\":%lld,\"a\":%d.%02d,\"id\":\"e%zu\"}",
                         (int)(rnd() % 7), (int)(rnd() % 2), (long long)t, (int)(rnd() % 1000),
                         (int)(rnd() % 100), i);
            }
        }
        qsort(ev, N, sizeof *ev, by_time);
        for (size_t i = 0; i < N; i++)
            ev[i].arrival = ev[i].t;
        tm_test_lines in_order = run_events(config, src, ev, N);
        /* An event arriving after event j has t > t_j - D >= W: never late,
         * not even touching a fired session (the bound is strict). */
        for (size_t i = 0; i < N; i++)
            ev[i].arrival = ev[i].t + (int64_t)(rnd() % (uint64_t)d);
        qsort(ev, N, sizeof *ev, by_arrival);
        tm_test_lines shuffled = run_events(config, src, ev, N);
        cr_assert_gt(in_order.n, 10, "the workload must produce results");
        assert_same_per_partition(&in_order, &shuffled, seed, src->window_tasks);
        tm_test_lines_free(&in_order);
        tm_test_lines_free(&shuffled);
    }
    free(ev);
}

Test(engine_property, tumbling_results_do_not_depend_on_bounded_disorder)
{
    check_shuffles("{\"type\":\"tumbling\",\"size_ms\":500}", 300, &one_topic);
}

Test(engine_property, hopping_results_do_not_depend_on_bounded_disorder)
{
    check_shuffles("{\"type\":\"hopping\",\"size_ms\":600,\"advance_ms\":200}", 300, &one_topic);
}

Test(engine_property, session_results_do_not_depend_on_bounded_disorder)
{
    check_shuffles("{\"type\":\"session\",\"gap_ms\":60}", 300, &one_topic);
}

Test(engine_property, quantile_over_topics_results_do_not_depend_on_bounded_disorder)
{
    check_shuffles("{\"type\":\"tumbling\",\"size_ms\":500}", 300, &three_topics_quantile);
    check_shuffles("{\"type\":\"session\",\"gap_ms\":60}", 300, &three_topics_quantile);
}

/* A repartitioned pipeline: source tasks over input partitions that hold
 * every merchant, window tasks per murmur2(group key). */
Test(engine_property, repartitioned_results_do_not_depend_on_bounded_disorder)
{
    check_shuffles("{\"type\":\"tumbling\",\"size_ms\":500}", 300, &repartitioned);
    check_shuffles("{\"type\":\"hopping\",\"size_ms\":600,\"advance_ms\":200}", 300,
                   &repartitioned);
    check_shuffles("{\"type\":\"session\",\"gap_ms\":60}", 300, &repartitioned);
    check_shuffles("{\"type\":\"tumbling\",\"size_ms\":500}", 300, &repartitioned_topics_quantile);
    check_shuffles("{\"type\":\"session\",\"gap_ms\":60}", 300, &repartitioned_topics_quantile);
}
