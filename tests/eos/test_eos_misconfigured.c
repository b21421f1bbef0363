/*
 * A misconfigured live pipeline, found by verify and repaired by backfill
 * (SEMANTICS 2, 3 and 12). The producer stamps its orders' event times in
 * epoch milliseconds; the live instance runs with
 * input.event_time.format=epoch_s (one --set), so each event time is read
 * as seconds: a thousand times too large, tens of thousands of years
 * ahead of its receipt time, which the clock-skew guard
 * (clock_skew.max_ahead_ms 60 s, action clamp) clamps to the receipt
 * time. Every event then lands in the window of its receipt time instead
 * of its event time (on-time events are up to 1.5 s behind their receipt
 * time, late ones up to 11.5 s): nothing is late, nothing extra is dead
 * lettered, and the output looks plausible and is wrong. verify with the
 * right configuration (format auto, the harness's) reports the wrong
 * windows as unexplained (there is no late record to explain anything)
 * and exits 1; backfill with it writes exactly the windows computed here
 * as differing (a revision for each batch result the table lacks or
 * disagrees with, a tombstone for each table window the batch lacks);
 * then verify finds every window equal, a second backfill writes nothing,
 * and every batch result of the range, from `replay --batch` of the same
 * input, is the repaired table's latest value.
 *
 * The input: the workload writes each event time as epoch ms or as an RFC
 * 3339 string at random. Here every RFC 3339 time is rewritten as the same
 * instant in epoch ms before the input is loaded (the malformed lines
 * carry numbers where they have a time; a duplicate stays the byte copy
 * of its original). With one global format, no pipeline can misread one
 * producer and read another right: an epoch_s pipeline cannot read RFC
 * 3339 at all (invalid_event_time: dead letters, another symptom with its
 * own story), and no format reads both a producer of seconds and one of
 * milliseconds right. So the input is the milliseconds producer's alone,
 * and the misconfiguration's only effect is the one under test.
 *
 * The range: the misconfigured watermark follows receipt times, which are
 * at or after every (clamped) event time of the workload, so it is ahead
 * of where the right one would be. The range ends where every task's
 * live watermark has expired the windows (tm_vcli_table_range), which
 * backfill's refusal (it reads those watermarks from the changelog)
 * accepts without --force, and starts at the first window of the right
 * results or of the table, whichever is earlier.
 */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "alloc.h"
#include "eos_harness.h"
#include "kafka_io.h"
#include "rfc3339.h"
#include "verify_cli.h"

TestSuite(eos, .fini = tm_eos_teardown);

enum { WINDOW_MS = 5000, EVENTS = 6000, SEED = 29, DONE_MS = 120000 };

/* Rewrites every RFC 3339 event time of the input file as the same
 * instant in epoch ms (see above); returns how many. The file holds no
 * NUL (control bytes are escaped), but bytes that are not UTF-8: lines
 * are copied as bytes. */
static size_t times_as_ms(const tm_eos *e)
{
    /* Inside a line's payload, a JSON string in the envelope. */
    static const char needle[] = "\\\"event_time\\\":\\\"";
    const size_t up_to_colon = sizeof needle - 1 - 2;
    char tmp[TM_EOS_PATH + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", e->input_path);
    FILE *in = fopen(e->input_path, "r");
    FILE *out = fopen(tmp, "w");
    cr_assert(in && out, "%s", tmp);
    char *line = NULL;
    size_t cap = 0, rewritten = 0;
    for (;;) {
        ssize_t n = getline(&line, &cap, in);
        if (n < 0)
            break;
        const char *at = strstr(line, needle);
        if (!at) {
            cr_assert_eq(fwrite(line, 1, (size_t)n, out), (size_t)n);
            continue;
        }
        const char *time = at + sizeof needle - 1;
        const char *close = strstr(time, "\\\"");
        cr_assert(close, "%s", line);
        int64_t t;
        cr_assert_eq(tm_rfc3339_parse(time, (size_t)(close - time), &t), 0, "%s", line);
        fwrite(line, 1, (size_t)(at - line) + up_to_colon, out);
        fprintf(out, "%" PRId64, t);
        fputs(close + 2, out);
        rewritten++;
    }
    free(line);
    fclose(in);
    cr_assert_eq(fclose(out), 0, "%s", tmp);
    cr_assert_eq(rename(tmp, e->input_path), 0, "%s", tmp);
    return rewritten;
}

/* The batch results (replay --batch's batch.jsonl): each line's output
 * key ("<group key>@<start>") and text. */
typedef struct batch {
    char **key, **line;
    size_t n;
} batch;

static void load_batch(batch *b, const char *path)
{
    FILE *f = fopen(path, "r");
    cr_assert(f, "%s", path);
    char *line = NULL;
    size_t cap = 0;
    for (;;) {
        cJSON *doc = tm_vcli_read_line(f, &line, &cap);
        if (!doc)
            break;
        b->key = tm_xrealloc(b->key, (b->n + 1) * sizeof *b->key);
        b->line = tm_xrealloc(b->line, (b->n + 1) * sizeof *b->line);
        b->key[b->n] = tm_xstrdup(cJSON_GetObjectItem(doc, "key")->valuestring);
        b->line[b->n] = tm_xstrdup(line);
        b->n++;
        cJSON_Delete(doc);
    }
    free(line);
    fclose(f);
}

static void batch_free(batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        free(b->key[i]);
        free(b->line[i]);
    }
    free(b->key);
    free(b->line);
}

/* Whether the window of a result (batch line or output value) is inside
 * [from, to). */
static bool inside(const char *json, int64_t from, int64_t to)
{
    return tm_vcli_i64(json, "window_start") >= from && tm_vcli_i64(json, "window_end") <= to;
}

/* The table's latest value of key, NULL when it has none or a tombstone. */
static const char *table_value(const tm_vcli_table *t, const char *key)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->key[i], key) == 0)
            return t->payload[i];
    return NULL;
}

/* Whether an output value holds a batch result: verify's equality (the
 * same end, count and every aggregate within a relative 1e-9; live adds
 * in another order). */
static bool same_result(const char *batch_line, const char *value)
{
    cJSON *want = cJSON_Parse(batch_line);
    cJSON *got = cJSON_Parse(value);
    cr_assert(want && got);
    bool same = tm_vcli_i64(batch_line, "window_end") == tm_vcli_i64(value, "window_end") &&
                tm_vcli_i64(batch_line, "count") == tm_vcli_i64(value, "count");
    const cJSON *got_aggs = cJSON_GetObjectItem(got, "aggregates");
    const cJSON *a;
    cJSON_ArrayForEach(a, cJSON_GetObjectItem(want, "aggregates"))
    {
        const cJSON *g = cJSON_GetObjectItem(got_aggs, a->string);
        cr_assert(cJSON_IsNumber(g), "no aggregate %s in %s", a->string, value);
        double scale = fmax(fabs(a->valuedouble), fabs(g->valuedouble));
        same = same && fabs(a->valuedouble - g->valuedouble) <= 1e-9 * scale;
    }
    cJSON_Delete(want);
    cJSON_Delete(got);
    return same;
}

/* What backfill should do over [from, to), computed from the table and
 * the batch results: revisions (batch results the table lacks or
 * disagrees with), tombstones (table windows the batch lacks), and the
 * batch results inside. */
typedef struct repair {
    int64_t inside, revisions, tombstones;
} repair;

static repair expected_repair(const tm_vcli_table *t, const batch *b, int64_t from, int64_t to)
{
    repair r = {0};
    for (size_t i = 0; i < b->n; i++) {
        if (!inside(b->line[i], from, to))
            continue;
        r.inside++;
        const char *v = table_value(t, b->key[i]);
        if (!v || !same_result(b->line[i], v))
            r.revisions++;
    }
    for (size_t i = 0; i < t->n; i++) {
        if (!t->payload[i] || !inside(t->payload[i], from, to))
            continue;
        bool in_batch = false;
        for (size_t j = 0; j < b->n && !in_batch; j++)
            in_batch = strcmp(b->key[j], t->key[i]) == 0;
        r.tombstones += !in_batch;
    }
    return r;
}

/* Dumps topic into <dir>/<file>; returns the record count. */
static size_t dump(tm_eos *e, const char *topic, const char *file, char *path, size_t len)
{
    snprintf(path, len, "%s/%s", e->dir, file);
    return tm_kafka_io_dump(tm_test_broker_bootstrap(e->broker), topic, path);
}

Test(eos, misconfigured_event_time_is_found_by_verify_and_repaired_by_backfill)
{
    tm_eos *e = tm_eos_setup(&(tm_eos_options){.name = "misconfigured"});
    tm_eos_write_input(e, EVENTS, SEED);
    size_t rewritten = times_as_ms(e);
    printf("eos %s: %zu RFC 3339 event times rewritten as epoch ms\n", e->name, rewritten);
    cr_assert_gt(rewritten, (size_t)EVENTS / 4);
    tm_eos_load_input(e);

    tm_eos_instance *a = tm_eos_instance_add(e, "a");
    a->sets[0] = "input.event_time.format=epoch_s";
    tm_eos_start(e, a);
    tm_eos_wait_done(e, DONE_MS);
    tm_eos_stop(e, a);

    /* Every event was read at its receipt time: none late, and only the
     * malformed lines dead lettered (the same as with the right
     * configuration): the misconfiguration hides from both outputs. */
    char path[TM_EOS_PATH + 64];
    cr_assert_eq(dump(e, "orders-late", "late.jsonl", path, sizeof path), 0u);
    cr_assert_eq(dump(e, "orders-dlq", "dlq.jsonl", path, sizeof path), e->workload.malformed);
    dump(e, "gmv", "live.jsonl", path, sizeof path);
    tm_vcli_table *t = tm_xcalloc(1, sizeof *t);
    tm_vcli_table_load(t, path);

    /* The right results, offline. */
    char batch_dir[TM_EOS_PATH + 32], log[TM_EOS_PATH + 64];
    snprintf(batch_dir, sizeof batch_dir, "%s/batch", e->dir);
    const char *replay_args[] = {"replay",  "--config",    e->config_path,
                                 "--input", e->input_path, "--output-dir",
                                 batch_dir, "--batch",     NULL};
    int status = tm_eos_cli(e, "batch.log", replay_args, log, sizeof log);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "see %s", log);
    snprintf(path, sizeof path, "%s/batch.jsonl", batch_dir);
    batch b = {0};
    load_batch(&b, path);

    /* The live windows follow receipt times: none starts before the
     * window of the first receipt time, where the right results start
     * earlier (late events of the first seconds). */
    int64_t from, to;
    tm_vcli_table_range(e, t, WINDOW_MS, &from, &to);
    int64_t first_ts = e->workload.first_ts;
    cr_assert_eq(from, first_ts - first_ts % WINDOW_MS);
    for (size_t i = 0; i < b.n; i++) {
        int64_t s = tm_vcli_i64(b.line[i], "window_start");
        from = s < from ? s : from;
    }
    cr_assert_lt(from, first_ts - first_ts % WINDOW_MS);
    repair want = expected_repair(t, &b, from, to);
    printf("eos %s: range [%" PRId64 ", %" PRId64 "): %" PRId64 " of %zu batch results, %" PRId64
           " to revise, %" PRId64 " to delete\n",
           e->name, from, to, want.inside, b.n, want.revisions, want.tombstones);
    fflush(stdout);
    /* Most right results are inside, and most differ. */
    cr_assert_gt(want.inside, 100);
    cr_assert_gt(want.inside * 2, (int64_t)b.n);
    cr_assert_gt(want.revisions, 20);

    tm_vcli_report r;
    tm_vcli_verify(e, "verify1.log", from, to, true, &r);
    cr_assert_eq(r.exit_code, 1);
    cr_assert(r.input_complete);
    cr_assert_eq(r.explained, 0, "no late record, nothing to explain");
    cr_assert_eq(r.unexplained, want.revisions + want.tombstones);
    cr_assert_eq(r.windows, want.inside + want.tombstones);
    cr_assert_eq(r.equal, want.inside - want.revisions);
    tm_vcli_report_free(&r);

    tm_vcli_backfill_report f;
    tm_vcli_backfill(e, "backfill.log", from, to, NULL, &f);
    cr_assert_eq(f.exit_code, 0, "see %s", f.log);
    cr_assert(f.written);
    cr_assert_eq(f.revisions, want.revisions);
    cr_assert_eq(f.tombstones, want.tombstones);

    /* Repaired: verify finds every window equal (still no late record to
     * explain one), and a second backfill writes nothing. */
    tm_vcli_verify(e, "verify-backfilled.log", from, to, true, &r);
    cr_assert_eq(r.exit_code, 0);
    cr_assert(r.input_complete);
    cr_assert_eq(r.unexplained, 0);
    cr_assert_eq(r.explained, 0);
    cr_assert_eq(r.windows, want.inside);
    cr_assert_eq(r.equal, r.windows);
    tm_vcli_report_free(&r);
    tm_vcli_backfill(e, "backfill-again.log", from, to, NULL, &f);
    cr_assert_eq(f.exit_code, 0, "see %s", f.log);
    cr_assert_eq(f.revisions + f.tombstones, 0);
    cr_assert(!f.written);

    /* Independently: inside the range, the repaired table is the batch
     * results, window for window; what was right is untouched, what was
     * wrong is a backfill revision. */
    dump(e, "gmv", "backfilled.jsonl", path, sizeof path);
    tm_vcli_table *fixed = tm_xcalloc(1, sizeof *fixed);
    tm_vcli_table_load(fixed, path);
    repair left = expected_repair(fixed, &b, from, to);
    cr_assert_eq(left.revisions + left.tombstones, 0);
    for (size_t i = 0; i < b.n; i++) {
        if (!inside(b.line[i], from, to))
            continue;
        const char *before = table_value(t, b.key[i]);
        const char *after = table_value(fixed, b.key[i]);
        if (before && same_result(b.line[i], before)) {
            cr_assert_str_eq(after, before, "%s rewritten", b.key[i]);
            continue;
        }
        cJSON *v = cJSON_Parse(after);
        cr_assert(v);
        cr_assert_str_eq(cJSON_GetObjectItem(v, "trigger")->valuestring, "backfill", "%s",
                         b.key[i]);
        int64_t revision = (int64_t)cJSON_GetObjectItem(v, "revision")->valuedouble;
        cr_assert_eq(revision, before ? tm_vcli_i64(before, "revision") + 1 : 0, "%s", b.key[i]);
        cJSON_Delete(v);
    }
    tm_vcli_table_free(fixed);
    free(fixed);
    batch_free(&b);
    tm_vcli_table_free(t);
    free(t);
    tm_eos_pass(e);
}
