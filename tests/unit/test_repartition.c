/*
 * test_repartition.c: the two stages of a repartitioned pipeline
 * (SEMANTICS 10-11): routing by Kafka's partitioner, the source task
 * (decoding, its partitions' watermark and idleness, duplicates counted in
 * max_t), the window task (its combined watermark: min, quantile, every
 * source idle, never down) and the pipeline's delivery; and that one
 * source into one window task computes exactly what a single-stage task
 * does (the stages share its code).
 */
#include <criterion/criterion.h>
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
#include "murmur2.h"
#include "repartition.h"
#include "source_task.h"
#include "watermark.h"
#include "window_task.h"

#define CONFIG(topics, extra)                                                                      \
    "{\"application_id\":\"r\",\"input\":{\"topics\":" topics ","                                  \
    "\"event_time\":{\"pointer\":\"/t\",\"format\":\"epoch_ms\"},\"group_by\":\"/k\","             \
    "\"event_id\":\"/id\"},\"window\":{\"type\":\"tumbling\",\"size_ms\":100},"                    \
    "\"aggregations\":[{\"name\":\"n\",\"op\":\"count\"}],\"dedup\":{\"enabled\":true,\"ttl_ms\":" \
    "1000},"                                                                                       \
    "\"output\":{\"topic\":\"out\"}" extra "}"

static tm_record record(const tm_config *cfg, size_t topic, int32_t partition, int64_t offset,
                        int64_t ts, const char *value)
{
    return (tm_record){.topic = cfg->input_topics[topic],
                       .topic_index = topic,
                       .partition = partition,
                       .offset = offset,
                       .ts = ts,
                       .value = value,
                       .value_len = value ? strlen(value) : 0};
}

/* A config, and a sink collecting emissions as lines (emissions.h). */
typedef struct fixture {
    tm_config *cfg;
    tm_test_lines out;
    tm_engine_sink sink;
} fixture;

static void fixture_open(fixture *f, const char *config_json)
{
    f->cfg = tm_test_config(config_json);
    f->out = (tm_test_lines){.cfg = f->cfg};
    f->sink = tm_test_lines_sink(&f->out);
}

static void fixture_close(fixture *f)
{
    tm_test_lines_free(&f->out);
    tm_config_free(f->cfg);
}

/* ---- routing ---- */

/* An event goes to the window task Kafka's default partitioner picks for
 * its group key's bytes, so a producer keying by the group key agrees. */
Test(repartition, routes_by_kafka_partitioner_of_the_group_key)
{
    cr_assert_eq(tm_route("foobar", 6, 3), 0, "Kafka: toPositive(-790332482) %% 3 = 0");
    cr_assert_eq(tm_route("21", 2, 7), (int32_t)((uint32_t)-973932308 & 0x7fffffffu) % 7);
    fixture f;
    fixture_open(&f, CONFIG("[\"in\"]", ""));
    int32_t one = 0;
    tm_repartition *p = NULL;
    char err[256], value[128];
    cr_assert_eq(tm_repartition_open(&p, f.cfg, &one, 1, 5, 0, err, sizeof err), 0, "%s", err);
    for (int i = 0; i < 40; i++) {
        snprintf(value, sizeof value, "{\"k\":\"merchant-%d\",\"t\":10,\"id\":\"%d\"}", i, i);
        tm_record rec = record(f.cfg, 0, 0, i, 0, value);
        tm_repartition_process(p, &rec, 0, &f.sink);
    }
    tm_record fire = record(f.cfg, 0, 0, 40, 0, "{\"k\":\"x\",\"t\":1000,\"id\":\"x\"}");
    tm_repartition_process(p, &fire, 0, &f.sink);
    cr_assert_eq(f.out.n, 40);
    bool used[5] = {false};
    for (size_t i = 0; i < f.out.n; i++) {
        int r = -1, key_len = 0;
        char key[64];
        cr_assert_eq(sscanf(f.out.v[i], "R%d %63[^@]@%n", &r, key, &key_len), 2, "%s", f.out.v[i]);
        cr_assert_eq(r, tm_route(key, strlen(key), 5), "%s", f.out.v[i]);
        cr_assert_eq(r, tm_murmur2_partition(key, strlen(key), 5));
        used[r] = true;
    }
    for (int r = 0; r < 5; r++)
        cr_assert(used[r], "40 keys reach every one of 5 window tasks (r %d)", r);
    tm_repartition_close(p);
    fixture_close(&f);
}

/* ---- the source task ---- */

/* It cannot know duplicates: both copies come out as events and count in
 * max_t; a dead letter comes out nowhere but the sink, on its partition,
 * and does not count. */
Test(repartition, source_task_counts_duplicates_not_dead_letters)
{
    fixture f;
    fixture_open(&f, CONFIG("[\"in\"]", ""));
    tm_source_task *s = NULL;
    char err[256];
    cr_assert_eq(tm_source_task_open(&s, f.cfg, 7, 0, NULL, err, sizeof err), 0, "%s", err);
    tm_event ev;
    int64_t t = 0;
    tm_record a = record(f.cfg, 0, 7, 0, 0, "{\"k\":\"m\",\"t\":50,\"id\":\"1\"}");
    cr_assert(tm_source_task_process(s, &a, 0, &f.sink, &ev, &t));
    cr_assert_eq(t, 50);
    cr_assert_eq(ev.key_len, 1);
    cr_assert_eq(tm_source_task_advance(s, 0).watermark, 50);
    tm_record dup = record(f.cfg, 0, 7, 1, 0, "{\"k\":\"m\",\"t\":50,\"id\":\"1\"}");
    cr_assert(tm_source_task_process(s, &dup, 0, &f.sink, &ev, &t), "a duplicate is an event here");
    tm_record bad = record(f.cfg, 0, 7, 2, 0, "{\"k\":\"m\",\"t\":900}");
    cr_assert_not(tm_source_task_process(s, &bad, 0, &f.sink, &ev, &t));
    cr_assert_eq(f.out.n, 1);
    cr_assert_str_eq(f.out.v[0], "D7 2 missing_event_id");
    cr_assert_eq(tm_source_task_advance(s, 0).watermark, 50, "a dead letter moves no max_t");
    cr_assert_eq(tm_source_task_stats(s)->records, 3);
    cr_assert_eq(tm_source_task_stats(s)->dead_letters[TM_DLQ_MISSING_EVENT_ID], 1);
    tm_source_task_close(s);
    fixture_close(&f);
}

/* Over two co-partitioned topics: its watermark is the minimum over its
 * non-idle partitions (SEMANTICS 5, whatever watermark.combine says: that
 * is for the window tasks), and it is idle only when both are. */
Test(repartition, source_task_watermark_and_idleness_over_its_partitions)
{
    fixture f;
    fixture_open(&f, CONFIG("[\"a\",\"b\"]",
                            ",\"watermark\":{\"idle_timeout_ms\":100,\"combine\":\"quantile\","
                            "\"quantile\":0.5}"));
    tm_source_task *s = NULL;
    char err[256];
    cr_assert_eq(tm_source_task_open(&s, f.cfg, 0, 0, NULL, err, sizeof err), 0, "%s", err);
    tm_event ev;
    int64_t t;
    tm_record ra = record(f.cfg, 0, 0, 0, 10, "{\"k\":\"m\",\"t\":500,\"id\":\"1\"}");
    tm_record rb = record(f.cfg, 1, 0, 0, 20, "{\"k\":\"m\",\"t\":200,\"id\":\"2\"}");
    cr_assert(tm_source_task_process(s, &ra, 10, &f.sink, &ev, &t));
    cr_assert(tm_source_task_process(s, &rb, 20, &f.sink, &ev, &t));
    tm_watermark_source w = tm_source_task_advance(s, 20);
    cr_assert_eq(w.watermark, 200, "the minimum, not the 0.5-quantile (500)");
    cr_assert_not(w.idle);
    /* At 115 topic a (last record at 10) is idle, b (20) is not: W is b's,
     * but never down: 200 stays. */
    w = tm_source_task_advance(s, 115);
    cr_assert_eq(w.watermark, 200);
    cr_assert_not(w.idle, "idle only when every partition is");
    tm_record rb2 = record(f.cfg, 1, 0, 1, 116, "{\"k\":\"m\",\"t\":300,\"id\":\"3\"}");
    cr_assert(tm_source_task_process(s, &rb2, 116, &f.sink, &ev, &t));
    w = tm_source_task_advance(s, 116);
    cr_assert_eq(w.watermark, 300, "a is idle: b alone");
    cr_assert_not(w.idle);
    w = tm_source_task_advance(s, 216);
    cr_assert(w.idle, "both silent for 100 ms");
    cr_assert_eq(w.watermark, 500, "all idle: the largest");
    tm_source_task_close(s);
    fixture_close(&f);
}

/* ---- the window task ---- */

/* SEMANTICS 11 over the source tasks: min over the non-idle; every source
 * idle: the largest; never down; with a quantile, the largest value
 * ceil(q x n) sources have reached. */
Test(repartition, window_task_combines_the_source_tasks)
{
    fixture min, q;
    fixture_open(&min, CONFIG("[\"in\"]", ""));
    fixture_open(&q,
                 CONFIG("[\"in\"]", ",\"watermark\":{\"combine\":\"quantile\",\"quantile\":0.75}"));
    tm_window_task *w = tm_window_task_open(min.cfg, 2, 3, TM_WATERMARK_MIN, NULL);
    tm_watermark_source src[3] = {{300, false}, {100, false}, {TM_WATERMARK_MIN, true}};
    tm_window_task_advance(w, src, &min.sink);
    cr_assert_eq(tm_window_task_watermark(w), 100, "the idle source is left out");
    src[2] = (tm_watermark_source){50, false};
    tm_window_task_advance(w, src, &min.sink);
    cr_assert_eq(tm_window_task_watermark(w), 100, "never down");
    tm_watermark_source idle[3] = {{300, true}, {100, true}, {700, true}};
    tm_window_task_advance(w, idle, &min.sink);
    cr_assert_eq(tm_window_task_watermark(w), 700, "every source idle: the largest");
    tm_window_task_close(w);
    /* k = ceil(0.75 x 4) = 3: the largest value three sources reached. */
    w = tm_window_task_open(q.cfg, 0, 4, TM_WATERMARK_MIN, NULL);
    tm_watermark_source four[4] = {{10, false}, {400, false}, {300, false}, {200, false}};
    tm_window_task_advance(w, four, &q.sink);
    cr_assert_eq(tm_window_task_watermark(w), 200);
    tm_window_task_close(w);
    fixture_close(&min);
    fixture_close(&q);
}

/* A record is judged against the W its window task has before the record;
 * too late goes to the late output on the window task's partition, with
 * the record's own source in it. */
Test(repartition, window_task_emits_results_and_late_records_on_its_partition)
{
    fixture f;
    fixture_open(&f, CONFIG("[\"in\"]", ""));
    tm_window_task *w = tm_window_task_open(f.cfg, 4, 1, TM_WATERMARK_MIN, NULL);
    tm_event ev = {.t = 30, .key = "m", .key_len = 1, .id = "1", .id_len = 1};
    double values[1] = {0};
    ev.values = values;
    tm_record rec = record(f.cfg, 0, 1, 9, 0, "{}");
    tm_window_task_process(w, &rec, &ev, 30, &f.sink);
    tm_watermark_source src = {150, false};
    tm_window_task_advance(w, &src, &f.sink);
    cr_assert_eq(f.out.n, 1);
    cr_assert(strncmp(f.out.v[0], "R4 m@0 ", 7) == 0, "%s", f.out.v[0]);
    ev.id = "2";
    ev.t = 60;
    tm_record late = record(f.cfg, 0, 1, 10, 0, "{}");
    tm_window_task_process(w, &late, &ev, 60, &f.sink);
    cr_assert_eq(f.out.n, 2);
    cr_assert_str_eq(f.out.v[1], "L4 10 150");
    tm_window_task_process(w, &late, &ev, 60, &f.sink);
    cr_assert_eq(f.out.n, 2, "a duplicate, even of a too-late event, is dropped");
    cr_assert_eq(tm_window_task_stats(w)->duplicates, 1);
    cr_assert_eq(tm_window_task_stats(w)->too_late, 1);
    tm_window_task_close(w);
    fixture_close(&f);
}

/* ---- the pipeline ---- */

/* One source into one window task is the single-stage task: the same
 * lines, record for record, on a workload with disorder, late and too-late
 * records, dead letters and clock skew (dedup off: with it the source
 * task's max_t also counts duplicates, which the single-stage task does
 * not). */
Test(repartition, one_source_one_window_task_is_the_single_stage_task)
{
    tm_config *cfg = tm_test_config(
        "{\"application_id\":\"r\",\"input\":{\"topics\":[\"orders\"],"
        "\"event_time\":{\"pointer\":\"/event_time\",\"format\":\"auto\"},"
        "\"group_by\":\"/merchant\"},\"watermark\":{\"max_out_of_orderness_ms\":2000},"
        "\"window\":{\"type\":\"session\",\"gap_ms\":3000},\"allowed_lateness_ms\":4000,"
        "\"aggregations\":[{\"name\":\"gmv\",\"op\":\"sum\",\"pointer\":\"/amount\"}],"
        "\"clock_skew\":{\"max_ahead_ms\":60000},\"output\":{\"topic\":\"out\"}}");
    tm_test_lines single = {.cfg = cfg}, staged = {.cfg = cfg};
    tm_engine_sink s1 = tm_test_lines_sink(&single), s2 = tm_test_lines_sink(&staged);
    tm_engine *e = NULL;
    tm_repartition *p = NULL;
    int32_t zero = 0;
    char err[256];
    cr_assert_eq(tm_engine_open(&e, cfg, 0, 0, err, sizeof err), 0, "%s", err);
    cr_assert_eq(tm_repartition_open(&p, cfg, &zero, 1, 1, 0, err, sizeof err), 0, "%s", err);
    tm_generator *g = tm_generator_new(42, 1, 9);
    for (int64_t i = 0; i < 5000; i++) {
        tm_generated r;
        int64_t now = 1763600000000 + i * 7;
        tm_generator_next(g, now, &r);
        tm_record rec = {.topic = "orders",
                         .partition = 0,
                         .offset = i,
                         .ts = now,
                         .key = r.key,
                         .key_len = r.key_len,
                         .value = r.payload,
                         .value_len = r.payload_len};
        tm_engine_process(e, &rec, now, &s1);
        tm_repartition_process(p, &rec, now, &s2);
    }
    cr_assert_gt(single.n, 50, "%zu results", single.n);
    cr_assert_eq(single.n, staged.n);
    for (size_t i = 0; i < single.n; i++)
        cr_assert_str_eq(single.v[i], staged.v[i], "line %zu", i);
    cr_assert_eq(tm_repartition_watermark(p), tm_engine_watermark(e));
    tm_engine_stats sum;
    tm_repartition_stats(p, &sum);
    const tm_engine_stats *one = tm_engine_stats_of(e);
    cr_assert_eq(sum.records, one->records);
    cr_assert_eq(sum.accepted, one->accepted);
    cr_assert_eq(sum.too_late, one->too_late);
    cr_assert_eq(sum.clamped, one->clamped);
    cr_assert_eq(sum.late_accepted, one->late_accepted);
    cr_assert_eq(sum.tombstones, one->tombstones);
    cr_assert_gt(sum.too_late, 0);
    cr_assert_gt(sum.late_accepted, 0);
    cr_assert_gt(sum.tombstones, 0);
    cr_assert_gt(sum.dead_letters[TM_DLQ_INVALID_JSON] + sum.dead_letters[TM_DLQ_EMPTY_VALUE], 0);
    tm_generator_free(g);
    tm_repartition_close(p);
    tm_engine_close(e);
    tm_test_lines_free(&single);
    tm_test_lines_free(&staged);
    tm_config_free(cfg);
}

/* Delivery: a record on one source moves W for every window task at
 * once, and they fire in ascending r, whichever received the record. */
Test(repartition, delivery_reaches_every_window_task_in_ascending_r)
{
    fixture f;
    fixture_open(&f, CONFIG("[\"in\"]", ""));
    int32_t parts[2] = {0, 3};
    tm_repartition *p = NULL;
    char err[256];
    cr_assert_eq(tm_repartition_open(&p, f.cfg, parts, 2, 3, 0, err, sizeof err), 0, "%s", err);
    /* murmur2 over 3: "f" -> 0, "a" -> 1, "b" -> 2. */
    cr_assert(tm_route("f", 1, 3) == 0 && tm_route("a", 1, 3) == 1 && tm_route("b", 1, 3) == 2);
    const char *const in[][2] = {
        {"3", "{\"k\":\"b\",\"t\":10,\"id\":\"1\"}"},  {"0", "{\"k\":\"a\",\"t\":20,\"id\":\"2\"}"},
        {"3", "{\"k\":\"f\",\"t\":30,\"id\":\"3\"}"},  {"0", "{\"k\":\"b\",\"t\":40,\"id\":\"4\"}"},
        {"3", "{\"k\":\"a\",\"t\":150,\"id\":\"5\"}"},
    };
    for (int i = 0; i < 5; i++) {
        tm_record rec = record(f.cfg, 0, atoi(in[i][0]), i, 0, in[i][1]);
        tm_repartition_process(p, &rec, 0, &f.sink);
        cr_assert_eq(f.out.n, 0, "source 0 holds W at 40 - 0 = 40 < 100");
    }
    tm_record last = record(f.cfg, 0, 0, 5, 0, "{\"k\":\"x\",\"t\":120,\"id\":\"6\"}");
    tm_repartition_process(p, &last, 0, &f.sink);
    cr_assert_eq(tm_repartition_watermark(p), 120);
    cr_assert_eq(f.out.n, 3);
    cr_assert(strncmp(f.out.v[0], "R0 f@0 ", 7) == 0, "%s", f.out.v[0]);
    cr_assert(strncmp(f.out.v[1], "R1 a@0 ", 7) == 0, "%s", f.out.v[1]);
    cr_assert(strncmp(f.out.v[2], "R2 b@0 ", 7) == 0, "%s", f.out.v[2]);
    cr_assert(strstr(f.out.v[2], "\"count\":2"), "b's records from both sources: %s", f.out.v[2]);
    tm_repartition_close(p);
    fixture_close(&f);
}
