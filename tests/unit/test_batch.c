/*
 * Unit tests of batch.c: batch results (SEMANTICS 12) record by record
 * (every dead-letter reason, lateness that does not matter, dedup without
 * TTL per group key, clock skew without the wall-clock guard, sessions,
 * the order of tm_batch_finish, runs), and two properties over random
 * inputs in random order: the results equal a brute-force reference
 * written from the specification's definitions, and splitting the events
 * by group key into separate runs (what verify will do to bound memory)
 * changes nothing.
 */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "batch.h"
#include "batch_spill.h"
#include "buf.h"
#include "config.h"
#include "emissions.h"
#include "generator.h"
#include "output.h"

/* ---- helpers ---- */

typedef struct harness {
    tm_config *cfg;
    tm_batch *b;
    tm_test_lines dead; /* "D<partition> <offset> <reason>" */
    tm_test_lines results;
    tm_engine_sink sink;
    int64_t offset;
} harness;

static void harness_open(harness *h, const char *config_json)
{
    memset(h, 0, sizeof *h);
    h->cfg = tm_test_config(config_json);
    char err[256];
    cr_assert_eq(tm_batch_open(&h->b, h->cfg, err, sizeof err), 0, "%s", err);
    h->dead.cfg = h->cfg;
    h->sink = tm_test_lines_sink(&h->dead);
}

static void harness_close(harness *h)
{
    tm_batch_close(h->b);
    tm_config_free(h->cfg);
    tm_test_lines_free(&h->dead);
    tm_test_lines_free(&h->results);
}

static void feed(harness *h, int64_t ts, const char *value)
{
    tm_record rec = {.topic = h->cfg->input_topics[0],
                     .offset = h->offset++,
                     .ts = ts,
                     .value = value,
                     .value_len = value ? strlen(value) : 0};
    tm_batch_add(h->b, &rec, &h->sink);
}

/* Each result as its batch.jsonl line, without the newline. */
static void on_result(void *ctx, const tm_window_result *r)
{
    harness *h = ctx;
    tm_buf line = {0}, scratch = {0};
    tm_output_batch_line(&line, &scratch, h->cfg, r);
    line.data[--line.len] = '\0';
    h->results.v = tm_xrealloc(h->results.v, (h->results.n + 1) * sizeof *h->results.v);
    h->results.v[h->results.n++] = tm_xstrdup(line.data);
    tm_buf_free(&line);
    tm_buf_free(&scratch);
}

static void finish(harness *h)
{
    tm_batch_finish(h->b, on_result, h);
}

static void assert_results(const harness *h, const char *const *want, size_t n)
{
    for (size_t i = 0; i < h->results.n && i < n; i++)
        cr_assert_str_eq(h->results.v[i], want[i], "result #%zu", i);
    cr_assert_eq(h->results.n, n, "%zu results, expected %zu", h->results.n, n);
}

#define N_OF(a) (sizeof(a) / sizeof(a)[0])

/* A macro, not a variable, so that snprintf's format stays a literal:
 * the window and the extra members are filled in. */
#define CONFIG                                                                                     \
    "{\"application_id\":\"t\",\"input\":{\"topics\":[\"in\"],"                                    \
    "\"event_time\":{\"pointer\":\"/t\",\"format\":\"epoch_ms\"},\"group_by\":\"/k\","             \
    "\"event_id\":\"/id\"},\"watermark\":{\"max_out_of_orderness_ms\":0},"                         \
    "\"window\":%s,\"allowed_lateness_ms\":0,"                                                     \
    "\"aggregations\":[{\"name\":\"s\",\"op\":\"sum\",\"pointer\":\"/a\"}],"                       \
    "%s\"output\":{\"topic\":\"out\"}}"

#define TUMBLING_100 "{\"type\":\"tumbling\",\"size_ms\":100}"

static void open_with(harness *h, const char *window, const char *extra)
{
    char json[2048];
    snprintf(json, sizeof json, CONFIG, window, extra);
    harness_open(h, json);
}

/* ---- record by record ---- */

Test(batch, every_dead_letter_reason_in_table_order_and_nothing_counted)
{
    harness h;
    open_with(&h, TUMBLING_100,
              "\"dedup\":{\"enabled\":true,\"ttl_ms\":1},"
              "\"clock_skew\":{\"max_ahead_ms\":1000,\"action\":\"dlq\"},");
    feed(&h, 0, NULL);
    feed(&h, 0, "");
    feed(&h, 0, "{\"k\":\"x\",\"t\":5,\"a\":1,\"id\":\"1\"} x");
    feed(&h, 0, "{\"k\":\"x\",\"a\":1,\"id\":\"1\"}");
    feed(&h, 0, "{\"k\":\"x\",\"t\":\"soon\",\"a\":1,\"id\":\"1\"}");
    feed(&h, 0, "{\"k\":[1],\"t\":5,\"a\":1,\"id\":\"1\"}");
    feed(&h, 0, "{\"k\":\"x\",\"t\":5,\"a\":1,\"id\":null}");
    feed(&h, 0, "{\"k\":\"x\",\"t\":5,\"id\":\"1\"}");
    feed(&h, 0, "{\"k\":\"x\",\"t\":5,\"a\":\"1\",\"id\":\"1\"}");
    feed(&h, 0, "{\"k\":\"x\",\"t\":1001,\"a\":1,\"id\":\"1\"}");
    /* Each a dead letter for its first failing check, as a task's. */
    static const char *const reasons[] = {
        "empty_value",        "empty_value", "invalid_json",     "missing_event_time",
        "invalid_event_time", "invalid_key", "missing_event_id", "missing_field",
        "invalid_field_type", "clock_skew"};
    cr_assert_eq(h.dead.n, N_OF(reasons));
    for (size_t i = 0; i < N_OF(reasons); i++) {
        char want[64];
        snprintf(want, sizeof want, "D0 %zu %s", i, reasons[i]);
        cr_assert_str_eq(h.dead.v[i], want);
    }
    const tm_engine_stats *st = tm_batch_stats(h.b);
    cr_assert_eq(st->records, N_OF(reasons));
    cr_assert_eq(st->dead_letters[TM_DLQ_EMPTY_VALUE], 2);
    for (int r = TM_DLQ_INVALID_JSON; r < TM_DLQ_COUNT_; r++)
        cr_assert_eq(st->dead_letters[r], 1, "%s", tm_dlq_reason_name((tm_dlq_reason)r));
    cr_assert_eq(st->accepted, 0);
    finish(&h);
    cr_assert_eq(h.results.n, 0, "a dead letter is in no window");
    harness_close(&h);
}

Test(batch, every_record_counts_in_every_window_however_late)
{
    /* Arrival order newest first: to a stream with L = 0 all but the
     * first would be too late. */
    harness h;
    open_with(&h, "{\"type\":\"hopping\",\"size_ms\":100,\"advance_ms\":50}", "");
    feed(&h, 0, "{\"k\":\"x\",\"t\":1000,\"a\":1}");
    feed(&h, 1, "{\"k\":\"x\",\"t\":120,\"a\":2}");
    feed(&h, 2, "{\"k\":\"x\",\"t\":60,\"a\":4}");
    feed(&h, 3, "{\"k\":\"x\",\"t\":-30,\"a\":8}");
    cr_assert_eq(tm_batch_window_count(h.b), 7);
    finish(&h);
    /* By end, then start: [-100,0) [-50,50) [0,100) [50,150) [100,200)
     * [950,1050) [1000,1100). */
    static const char *const want[] = {
        "{\"key\":\"x@-100\",\"window_start\":-100,\"window_end\":0,\"count\":1,"
        "\"aggregates\":{\"s\":8}}",
        "{\"key\":\"x@-50\",\"window_start\":-50,\"window_end\":50,\"count\":1,"
        "\"aggregates\":{\"s\":8}}",
        "{\"key\":\"x@0\",\"window_start\":0,\"window_end\":100,\"count\":1,"
        "\"aggregates\":{\"s\":4}}",
        "{\"key\":\"x@50\",\"window_start\":50,\"window_end\":150,\"count\":2,"
        "\"aggregates\":{\"s\":6}}",
        "{\"key\":\"x@100\",\"window_start\":100,\"window_end\":200,\"count\":1,"
        "\"aggregates\":{\"s\":2}}",
        "{\"key\":\"x@950\",\"window_start\":950,\"window_end\":1050,\"count\":1,"
        "\"aggregates\":{\"s\":1}}",
        "{\"key\":\"x@1000\",\"window_start\":1000,\"window_end\":1100,\"count\":1,"
        "\"aggregates\":{\"s\":1}}",
    };
    assert_results(&h, want, N_OF(want));
    harness_close(&h);
}

Test(batch, sessions_of_all_events_of_a_key_emitted_by_end_then_start_then_key)
{
    harness h;
    open_with(&h, "{\"type\":\"session\",\"gap_ms\":10}", "");
    /* a: 30 and 0 alone, then 20 and 10 chain them (touching counts):
     * [0,40). b: [3,13). c: [3,13) as well, after b by key. */
    feed(&h, 0, "{\"k\":\"a\",\"t\":30,\"a\":1}");
    feed(&h, 0, "{\"k\":\"a\",\"t\":0,\"a\":2}");
    feed(&h, 0, "{\"k\":\"c\",\"t\":3,\"a\":4}");
    feed(&h, 0, "{\"k\":\"b\",\"t\":3,\"a\":8}");
    cr_assert_eq(tm_batch_window_count(h.b), 4);
    feed(&h, 0, "{\"k\":\"a\",\"t\":20,\"a\":16}");
    feed(&h, 0, "{\"k\":\"a\",\"t\":10,\"a\":32}");
    cr_assert_eq(tm_batch_window_count(h.b), 3);
    finish(&h);
    static const char *const want[] = {
        "{\"key\":\"b@3\",\"window_start\":3,\"window_end\":13,\"count\":1,"
        "\"aggregates\":{\"s\":8}}",
        "{\"key\":\"c@3\",\"window_start\":3,\"window_end\":13,\"count\":1,"
        "\"aggregates\":{\"s\":4}}",
        "{\"key\":\"a@0\",\"window_start\":0,\"window_end\":40,\"count\":4,"
        "\"aggregates\":{\"s\":51}}",
    };
    assert_results(&h, want, N_OF(want));
    harness_close(&h);
}

Test(batch, dedup_has_no_ttl_and_is_scoped_to_the_group_key)
{
    /* ttl 1 ms: to a stream, the key would be released at once. */
    harness h;
    open_with(&h, TUMBLING_100, "\"dedup\":{\"enabled\":true,\"ttl_ms\":1},");
    feed(&h, 0, "{\"k\":\"x\",\"t\":5,\"a\":1,\"id\":\"1\"}");
    feed(&h, 0, "{\"k\":\"x\",\"t\":900000,\"a\":2,\"id\":\"2\"}");
    feed(&h, 0, "{\"k\":\"x\",\"t\":5,\"a\":4,\"id\":\"1\"}");  /* a duplicate */
    feed(&h, 0, "{\"k\":\"y\",\"t\":5,\"a\":8,\"id\":\"1\"}");  /* another group key */
    feed(&h, 0, "{\"k\":\"x\",\"t\":6,\"a\":16,\"id\":\"1\"}"); /* another time: id+event_time */
    feed(&h, 0, "{\"k\":\"x\",\"t\":5,\"a\":32,\"id\":1}");     /* the number 1 is not "1" */
    const tm_engine_stats *st = tm_batch_stats(h.b);
    cr_assert_eq(st->duplicates, 1);
    cr_assert_eq(st->accepted, 5);
    cr_assert_eq(tm_batch_dedup_entries(h.b), 5);
    finish(&h);
    static const char *const want[] = {
        "{\"key\":\"x@0\",\"window_start\":0,\"window_end\":100,\"count\":3,"
        "\"aggregates\":{\"s\":49}}",
        "{\"key\":\"y@0\",\"window_start\":0,\"window_end\":100,\"count\":1,"
        "\"aggregates\":{\"s\":8}}",
        "{\"key\":\"x@900000\",\"window_start\":900000,\"window_end\":900100,\"count\":1,"
        "\"aggregates\":{\"s\":2}}",
    };
    assert_results(&h, want, N_OF(want));
    harness_close(&h);
}

Test(batch, dedup_on_the_id_alone)
{
    harness h;
    open_with(&h, TUMBLING_100, "\"dedup\":{\"enabled\":true,\"key\":\"id\",\"ttl_ms\":1},");
    feed(&h, 0, "{\"k\":\"x\",\"t\":5,\"a\":1,\"id\":\"1\"}");
    feed(&h, 0, "{\"k\":\"x\",\"t\":500,\"a\":2,\"id\":\"1\"}"); /* the same id: a duplicate */
    feed(&h, 0, "{\"k\":\"y\",\"t\":500,\"a\":4,\"id\":\"1\"}"); /* but not under y */
    cr_assert_eq(tm_batch_stats(h.b)->duplicates, 1);
    finish(&h);
    static const char *const want[] = {
        "{\"key\":\"x@0\",\"window_start\":0,\"window_end\":100,\"count\":1,"
        "\"aggregates\":{\"s\":1}}",
        "{\"key\":\"y@500\",\"window_start\":500,\"window_end\":600,\"count\":1,"
        "\"aggregates\":{\"s\":4}}",
    };
    assert_results(&h, want, N_OF(want));
    harness_close(&h);
}

Test(batch, receipt_time_skew_clamps_and_the_wall_clock_guard_does_not_apply)
{
    harness h;
    open_with(&h, TUMBLING_100,
              "\"clock_skew\":{\"max_ahead_ms\":1000,\"max_ahead_of_wall_ms\":1},");
    feed(&h, 50, "{\"k\":\"x\",\"t\":5000,\"a\":1}");   /* 5000 > 50 + 1000: clamped to 50 */
    feed(&h, 5000, "{\"k\":\"x\",\"t\":6000,\"a\":2}"); /* a forged pair: kept as it is */
    const tm_engine_stats *st = tm_batch_stats(h.b);
    cr_assert_eq(st->clamped, 1);
    cr_assert_eq(st->ahead_of_wall, 0);
    finish(&h);
    static const char *const want[] = {
        "{\"key\":\"x@0\",\"window_start\":0,\"window_end\":100,\"count\":1,"
        "\"aggregates\":{\"s\":1}}",
        "{\"key\":\"x@6000\",\"window_start\":6000,\"window_end\":6100,\"count\":1,"
        "\"aggregates\":{\"s\":2}}",
    };
    assert_results(&h, want, N_OF(want));
    harness_close(&h);
}

Test(batch, finish_releases_the_run_and_the_next_run_starts_empty)
{
    harness h;
    open_with(&h, TUMBLING_100, "\"dedup\":{\"enabled\":true,\"ttl_ms\":1},");
    feed(&h, 0, "{\"k\":\"x\",\"t\":5,\"a\":1,\"id\":\"1\"}");
    finish(&h);
    cr_assert_eq(h.results.n, 1);
    cr_assert_eq(tm_batch_window_count(h.b), 0);
    cr_assert_eq(tm_batch_dedup_entries(h.b), 0);
    /* A new run knows nothing of the last: the same record counts again. */
    feed(&h, 0, "{\"k\":\"x\",\"t\":5,\"a\":1,\"id\":\"1\"}");
    finish(&h);
    cr_assert_eq(h.results.n, 2);
    cr_assert_str_eq(h.results.v[0], h.results.v[1]);
    const tm_engine_stats *st = tm_batch_stats(h.b);
    cr_assert_eq(st->duplicates, 0);
    cr_assert_eq(st->emissions[TM_TRIGGER_WATERMARK], 2);
    harness_close(&h);
}

/* Event times at the int64 limits: window ends saturate, and finish at
 * plus infinity still emits every window (the sanitizer build fails on
 * any overflow). */
Test(batch, extreme_times_are_emitted)
{
    harness h;
    open_with(&h,
              "{\"type\":\"hopping\",\"size_ms\":9007199254740992,"
              "\"advance_ms\":4503599627370496}",
              "");
    feed(&h, 0, "{\"k\":\"x\",\"t\":9223372036854774784,\"a\":1}");
    feed(&h, 0, "{\"k\":\"x\",\"t\":-9223372036854775808,\"a\":2}");
    finish(&h);
    cr_assert_eq(h.results.n, 3, "two windows of the largest time, one of the smallest");
    cr_assert(strstr(h.results.v[2], "\"window_end\":9223372036854775807"), "%s", h.results.v[2]);
    cr_assert(strstr(h.results.v[0], "\"window_start\":-9223372036854775808"), "%s",
              h.results.v[0]);
    harness_close(&h);
}

/* ---- properties over random inputs ---- */

enum { N_EVENTS = 400, N_KEYS = 7, N_SPLITS = 3 };

/* One result, comparable. Sums of small integers are exact as doubles, so
 * any order of addition gives the same value. */
typedef struct row {
    char key[16];
    int64_t start, end, count;
    double acc[3];
} row;

typedef struct rows {
    row *v;
    size_t n;
    size_t n_aggs;
} rows;

static void rows_push(rows *r, const char *key, size_t key_len, int64_t start, int64_t end,
                      int64_t count, const double *acc)
{
    r->v = tm_xrealloc(r->v, (r->n + 1) * sizeof *r->v);
    row *x = &r->v[r->n++];
    memset(x, 0, sizeof *x);
    cr_assert_lt(key_len, sizeof x->key);
    memcpy(x->key, key, key_len);
    x->start = start;
    x->end = end;
    x->count = count;
    memcpy(x->acc, acc, r->n_aggs * sizeof *acc);
}

static void collect_row(void *ctx, const tm_window_result *r)
{
    rows *out = ctx;
    rows_push(out, r->key, r->key_len, r->start, r->end, r->count, r->acc);
}

static int cmp_row(const void *pa, const void *pb)
{
    const row *a = pa, *b = pb;
    int c = strcmp(a->key, b->key);
    if (c)
        return c;
    return (a->start > b->start) - (a->start < b->start);
}

static void assert_same_rows(rows *got, rows *want, const char *what)
{
    qsort(got->v, got->n, sizeof *got->v, cmp_row);
    qsort(want->v, want->n, sizeof *want->v, cmp_row);
    cr_assert_eq(got->n, want->n, "%s: %zu results, expected %zu", what, got->n, want->n);
    for (size_t i = 0; i < got->n; i++) {
        const row *g = &got->v[i], *w = &want->v[i];
        cr_assert(strcmp(g->key, w->key) == 0 && g->start == w->start && g->end == w->end &&
                      g->count == w->count && memcmp(g->acc, w->acc, sizeof g->acc) == 0,
                  "%s: #%zu %s@%lld..%lld n %lld s %g, expected %s@%lld..%lld n %lld s %g", what, i,
                  g->key, (long long)g->start, (long long)g->end, (long long)g->count, g->acc[0],
                  w->key, (long long)w->start, (long long)w->end, (long long)w->count, w->acc[0]);
    }
}

/* A generated event: a few ids repeat (whole records, as a producer's
 * retry does), and ids repeat across keys too. */
typedef struct gen_event {
    char key[16];
    int64_t t;
    int id;
    int value;
} gen_event;

static uint64_t rng;

static void generate(gen_event *ev, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && tm_rand_next(&rng) % 8 == 0) {
            ev[i] = ev[tm_rand_next(&rng) % i]; /* a duplicate */
            continue;
        }
        snprintf(ev[i].key, sizeof ev[i].key, "k%d", (int)(tm_rand_next(&rng) % N_KEYS));
        ev[i].t = (int64_t)(tm_rand_next(&rng) % 3000) - 500;
        ev[i].id = (int)(tm_rand_next(&rng) % 300);
        ev[i].value = (int)(tm_rand_next(&rng) % 100) - 50;
    }
    /* Any order: a full shuffle. */
    for (size_t i = n; i > 1; i--) {
        size_t j = tm_rand_next(&rng) % i;
        gen_event tmp = ev[i - 1];
        ev[i - 1] = ev[j];
        ev[j] = tmp;
    }
}

#define PROPERTY_CONFIG                                                                            \
    "{\"application_id\":\"t\",\"input\":{\"topics\":[\"in\"],"                                    \
    "\"event_time\":{\"pointer\":\"/t\",\"format\":\"epoch_ms\"},\"group_by\":\"/k\","             \
    "\"event_id\":\"/id\"},\"window\":%s,\"allowed_lateness_ms\":0,"                               \
    "\"aggregations\":[{\"name\":\"s\",\"op\":\"sum\",\"pointer\":\"/v\"},"                        \
    "{\"name\":\"lo\",\"op\":\"min\",\"pointer\":\"/v\"},"                                         \
    "{\"name\":\"hi\",\"op\":\"max\",\"pointer\":\"/v\"}],"                                        \
    "\"dedup\":{\"enabled\":true,\"ttl_ms\":1},\"output\":{\"topic\":\"out\"}}"

static char *payload_of(const gen_event *e)
{
    char buf[160];
    snprintf(buf, sizeof buf, "{\"k\":\"%s\",\"t\":%lld,\"id\":\"e%d\",\"v\":%d}", e->key,
             (long long)e->t, e->id, e->value);
    return tm_xstrdup(buf);
}

/* Whether e repeats an earlier event's dedup key (id + event time) under
 * the same group key: the reference's dedup, by definition. */
static bool seen_before(const gen_event *ev, size_t i)
{
    for (size_t j = 0; j < i; j++)
        if (ev[j].id == ev[i].id && ev[j].t == ev[i].t && strcmp(ev[j].key, ev[i].key) == 0)
            return true;
    return false;
}

static void fold(double *acc, int64_t *count, int value)
{
    double v = value;
    acc[0] = *count ? acc[0] + v : v;
    acc[1] = *count && acc[1] < v ? acc[1] : v;
    acc[2] = *count && acc[2] > v ? acc[2] : v;
    ++*count;
}

/* SEMANTICS 6 for tumbling/hopping by brute force: every window [k*A,
 * k*A+S) with k*A <= t < k*A + S, counted per (key, start). */
static rows reference_fixed(const gen_event *ev, size_t n, int64_t size, int64_t advance)
{
    rows out = {.n_aggs = 3};
    for (int64_t start = -1000 - size; start < 3000; start += advance) {
        for (int k = 0; k < N_KEYS; k++) {
            char key[16];
            snprintf(key, sizeof key, "k%d", k);
            double acc[3] = {0};
            int64_t count = 0;
            for (size_t i = 0; i < n; i++)
                if (strcmp(ev[i].key, key) == 0 && start <= ev[i].t && ev[i].t < start + size &&
                    !seen_before(ev, i))
                    fold(acc, &count, ev[i].value);
            if (count)
                rows_push(&out, key, strlen(key), start, start + size, count, acc);
        }
    }
    return out;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* SEMANTICS 6 for sessions, from the definition: a key's event intervals
 * [t, t+G), sorted by start, merged while the next one starts at or
 * before the merged end (touching counts). */
static rows reference_sessions(const gen_event *ev, size_t n, int64_t gap)
{
    rows out = {.n_aggs = 3};
    int64_t *ts = tm_xcalloc(n, sizeof *ts);
    for (int k = 0; k < N_KEYS; k++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", k);
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (strcmp(ev[i].key, key) == 0 && !seen_before(ev, i))
                ts[m++] = ev[i].t;
        qsort(ts, m, sizeof *ts, cmp_i64);
        for (size_t a = 0; a < m;) {
            int64_t start = ts[a], end = ts[a] + gap;
            size_t b = a + 1;
            while (b < m && ts[b] <= end)
                end = ts[b++] + gap;
            double acc[3] = {0};
            int64_t count = 0;
            for (size_t i = 0; i < n; i++)
                if (strcmp(ev[i].key, key) == 0 && start <= ev[i].t && ev[i].t < end &&
                    !seen_before(ev, i))
                    fold(acc, &count, ev[i].value);
            rows_push(&out, key, strlen(key), start, end, count, acc);
            a = b;
        }
    }
    free(ts);
    return out;
}

/* The records through one batch. */
static rows run_whole(const tm_config *cfg, const gen_event *ev, size_t n)
{
    tm_batch *b = NULL;
    char err[256];
    cr_assert_eq(tm_batch_open(&b, cfg, err, sizeof err), 0, "%s", err);
    tm_test_lines dead = {.cfg = cfg};
    tm_engine_sink sink = tm_test_lines_sink(&dead);
    for (size_t i = 0; i < n; i++) {
        char *p = payload_of(&ev[i]);
        tm_record rec = {.topic = "in", .offset = (int64_t)i, .value = p, .value_len = strlen(p)};
        tm_batch_add(b, &rec, &sink);
        free(p);
    }
    cr_assert_eq(dead.n, 0);
    rows out = {.n_aggs = 3};
    tm_batch_finish(b, collect_row, &out);
    tm_batch_close(b);
    tm_test_lines_free(&dead);
    return out;
}

/* Verify's plan (batch.h): decode every record, spill the events into
 * N_SPLITS runs by a hash of the group key, then one run after the other
 * through one batch. */
static rows run_split(const tm_config *cfg, const gen_event *ev, size_t n)
{
    tm_batch *b = NULL;
    char err[256];
    cr_assert_eq(tm_batch_open(&b, cfg, err, sizeof err), 0, "%s", err);
    tm_test_lines dead = {.cfg = cfg};
    tm_engine_sink sink = tm_test_lines_sink(&dead);
    tm_test_spill *spill = tm_test_spill_new(N_SPLITS, cfg->n_aggs);
    for (size_t i = 0; i < n; i++) {
        char *p = payload_of(&ev[i]);
        tm_record rec = {.topic = "in", .offset = (int64_t)i, .value = p, .value_len = strlen(p)};
        tm_batch_event e;
        cr_assert(tm_batch_decode(b, &rec, &sink, &e));
        tm_test_spill_add(spill, &e);
        free(p);
    }
    rows out = {.n_aggs = 3};
    size_t runs_with_results = 0;
    for (size_t r = 0; r < N_SPLITS; r++) {
        size_t before = out.n;
        tm_test_spill_drain(spill, r, b);
        tm_batch_finish(b, collect_row, &out);
        runs_with_results += out.n > before;
    }
    cr_assert_gt(runs_with_results, 1, "the keys spread over several runs");
    tm_test_spill_free(spill);
    tm_batch_close(b);
    tm_test_lines_free(&dead);
    return out;
}

static void check_window(const char *window_json, int kind, int64_t a, int64_t b)
{
    char json[2048];
    snprintf(json, sizeof json, PROPERTY_CONFIG, window_json);
    tm_config *cfg = tm_test_config(json);
    gen_event *ev = tm_xcalloc(N_EVENTS, sizeof *ev);
    for (uint64_t seed = 1; seed <= 5; seed++) {
        rng = seed * 0x9e3779b97f4a7c15ull;
        generate(ev, N_EVENTS);
        rows want =
            kind == 0 ? reference_fixed(ev, N_EVENTS, a, b) : reference_sessions(ev, N_EVENTS, a);
        rows whole = run_whole(cfg, ev, N_EVENTS);
        rows split = run_split(cfg, ev, N_EVENTS);
        assert_same_rows(&whole, &want, "one batch against the reference");
        assert_same_rows(&split, &want, "split by group key against the reference");
        free(want.v);
        free(whole.v);
        free(split.v);
    }
    free(ev);
    tm_config_free(cfg);
}

Test(batch_property, tumbling_equals_the_reference_in_any_order_and_split)
{
    check_window("{\"type\":\"tumbling\",\"size_ms\":250}", 0, 250, 250);
}

Test(batch_property, hopping_equals_the_reference_in_any_order_and_split)
{
    check_window("{\"type\":\"hopping\",\"size_ms\":300,\"advance_ms\":100}", 0, 300, 100);
}

Test(batch_property, sessions_equal_the_reference_in_any_order_and_split)
{
    check_window("{\"type\":\"session\",\"gap_ms\":40}", 1, 40, 0);
}
