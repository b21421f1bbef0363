/*
 * bench_batch: batch results (SEMANTICS 12, service/engine/batch.h) over
 * generated records: what tidemark verify does per window task once the
 * records are read, decode and aggregate (no Kafka, no transactions, no
 * output written).
 *
 * Workload (defaults; see --help): 1,000,000 records from the demo's
 * generator (service/cli/generator.h: order events over 10,000 merchants,
 * 3% late by up to 20 s, 2% duplicates, 1% malformed, 0.5% an hour ahead,
 * event times alternating epoch ms and RFC 3339), received 1 ms apart;
 * the demo's pipeline (group by merchant, dedup on id + event time, clock
 * skew clamped at 60 s, count/sum/avg/max) with tumbling 60 s windows, or
 * sessions with a 5 s gap (--window session).
 *
 * Two modes, each run in a child process of its own so that its memory is
 * measured from the same start:
 * - "one run": every record through tm_batch_add, then tm_batch_finish;
 * - "split K": batch.h's bounded-memory plan: every record decoded
 *   (tm_batch_decode) and its compact event spilled into one of K
 *   temporary files by a hash of the group key (tests/support/
 *   batch_spill.h), then each run read back through tm_batch_add_event
 *   and tm_batch_finish in turn.
 *
 * Reported per mode: records/s (best and median of --repeat runs), the
 * batch's state at its largest (windows and dedup keys held before a
 * finish), and the peak RSS above the child's RSS at its start (the
 * generated records are the parent's, already resident), in MiB; for
 * split, also the bytes spilled (in the page cache, not in the RSS). Both
 * modes must give the same results (count and total of counted events).
 */
#include <inttypes.h>
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
#include "support.h"

typedef struct options {
    size_t records;
    int keys;
    int repeat;
    size_t split; /* K */
    bool sessions;
} options;

/* The demo pipeline (support.h), its output member here. */
#define CONFIG_JSON TM_BENCH_PIPELINE_JSON_HEAD "\"output\":{\"topic\":\"gmv\"}}"

/* The generated records: their values in one buffer. */
typedef struct workload {
    tm_record *records;
    tm_buf bytes;
    size_t n;
} workload;

static workload generate(const options *o)
{
    workload w = {.records = tm_xcalloc(o->records, sizeof(tm_record)), .n = o->records};
    size_t *at = tm_xcalloc(o->records, sizeof *at);
    tm_generator *g = tm_generator_new(42, 1, o->keys);
    const int64_t base = 1763600000000;
    for (size_t i = 0; i < o->records; i++) {
        tm_generated rec;
        tm_generator_next(g, base + (int64_t)i, &rec);
        at[i] = w.bytes.len;
        tm_buf_append(&w.bytes, rec.payload, rec.payload_len);
        w.records[i] = (tm_record){.topic = "orders",
                                   .offset = (int64_t)i,
                                   .ts = base + (int64_t)i,
                                   .value_len = rec.payload_len};
    }
    /* The buffer has stopped moving: point into it. */
    for (size_t i = 0; i < o->records; i++)
        w.records[i].value = w.bytes.data + at[i];
    free(at);
    tm_generator_free(g);
    return w;
}

/* What a child reports. */
typedef struct outcome {
    double secs;
    uint64_t results, counted; /* results, and the sum of their counts */
    uint64_t accepted, duplicates, dead;
    size_t max_windows, max_dedup; /* the batch's state at its largest */
    size_t spill_bytes;
    long rss_start_kib, rss_peak_kib;
} outcome;

static void on_result(void *ctx, const tm_window_result *r)
{
    outcome *out = ctx;
    out->results++;
    out->counted += (uint64_t)r->count;
}

static void on_dead(void *ctx, const tm_record *rec, tm_dlq_reason why, const char *detail)
{
    (void)ctx;
    (void)rec;
    (void)why;
    (void)detail;
}

/* The state held now, as the largest seen so far. */
static void note_state(outcome *out, const tm_batch *b)
{
    if (tm_batch_window_count(b) > out->max_windows)
        out->max_windows = tm_batch_window_count(b);
    if (tm_batch_dedup_entries(b) > out->max_dedup)
        out->max_dedup = tm_batch_dedup_entries(b);
}

static void run_mode(const tm_config *cfg, const workload *w, size_t split, outcome *out)
{
    memset(out, 0, sizeof *out);
    out->rss_start_kib = tm_bench_status_kib("VmRSS");
    tm_batch *b = NULL;
    char err[256];
    if (tm_batch_open(&b, cfg, err, sizeof err) < 0)
        tm_bench_fail("%s", err);
    tm_engine_sink sink = {.dead_letter = on_dead};
    int64_t t0 = tm_bench_now_ns();
    if (split == 0) {
        for (size_t i = 0; i < w->n; i++)
            tm_batch_add(b, &w->records[i], &sink);
        note_state(out, b);
        tm_batch_finish(b, on_result, out);
    } else {
        tm_test_spill *spill = tm_test_spill_new(split, cfg->n_aggs);
        for (size_t i = 0; i < w->n; i++) {
            tm_batch_event ev;
            if (tm_batch_decode(b, &w->records[i], &sink, &ev))
                tm_test_spill_add(spill, &ev);
        }
        out->spill_bytes = tm_test_spill_bytes(spill);
        for (size_t r = 0; r < split; r++) {
            tm_test_spill_drain(spill, r, b);
            note_state(out, b);
            tm_batch_finish(b, on_result, out);
        }
        tm_test_spill_free(spill);
    }
    out->secs = (double)(tm_bench_now_ns() - t0) / 1e9;
    const tm_engine_stats *st = tm_batch_stats(b);
    out->accepted = st->accepted;
    out->duplicates = st->duplicates;
    for (int r = 0; r < TM_DLQ_COUNT_; r++)
        out->dead += st->dead_letters[r];
    out->rss_peak_kib = tm_bench_status_kib("VmHWM");
    tm_batch_close(b);
}

/* What run_mode needs, for tm_bench_in_child. */
typedef struct mode {
    const tm_config *cfg;
    const workload *w;
    size_t split;
} mode;

static void run_mode_child(void *ctx, void *out)
{
    const mode *m = ctx;
    run_mode(m->cfg, m->w, m->split, out);
}

/* Runs a mode in a child (its memory measured from the same start each
 * time: the parent's pages, the records, are already resident in it). */
static outcome run_child(const tm_config *cfg, const workload *w, size_t split)
{
    mode m = {cfg, w, split};
    outcome out;
    tm_bench_in_child(run_mode_child, &m, &out, sizeof out);
    return out;
}

static outcome measure(const char *what, const tm_config *cfg, const workload *w, size_t split,
                       int repeat)
{
    double *secs = tm_xcalloc((size_t)repeat, sizeof *secs);
    outcome first = {0};
    long peak_mib = 0;
    for (int i = 0; i < repeat; i++) {
        outcome o = run_child(cfg, w, split);
        secs[i] = o.secs;
        if (i == 0)
            first = o;
        long mib = (o.rss_peak_kib - o.rss_start_kib) / 1024;
        if (mib > peak_mib)
            peak_mib = mib;
    }
    qsort(secs, (size_t)repeat, sizeof *secs, tm_bench_cmp_double);
    printf("%-10s best %.0f records/s (%.3f s), median %.0f records/s over %d runs\n", what,
           (double)w->n / secs[0], secs[0], (double)w->n / secs[repeat / 2], repeat);
    printf("%-10s state at its largest: %zu windows, %zu dedup keys; peak RSS +%ld MiB", "",
           first.max_windows, first.max_dedup, peak_mib);
    if (split)
        printf(" (spill %.1f MiB)", (double)first.spill_bytes / (1024.0 * 1024.0));
    printf("\n");
    free(secs);
    return first;
}

static options parse_options(int argc, char **argv)
{
    options o = {1000000, 10000, 3, 16, false};
    for (int i = 1; i < argc; i++) {
        int64_t v = 0;
        if (tm_bench_window_arg(argc, argv, &i, &o.sessions))
            continue;
        if (tm_bench_count_arg(argc, argv, &i, "--records", &v))
            o.records = (size_t)v;
        else if (tm_bench_count_arg(argc, argv, &i, "--keys", &v))
            o.keys = (int)v;
        else if (tm_bench_count_arg(argc, argv, &i, "--repeat", &v))
            o.repeat = (int)v;
        else if (tm_bench_count_arg(argc, argv, &i, "--split", &v))
            o.split = (size_t)v;
        else
            goto usage;
        continue;
    usage:
        fprintf(stderr, "usage: bench_batch [--records N] [--keys N] [--repeat N] [--split K] "
                        "[--window tumbling|session]\n");
        exit(2);
    }
    return o;
}

int main(int argc, char **argv)
{
    options o = parse_options(argc, argv);
    tm_bench_start("bench_batch", false);
    char json[2048];
    snprintf(json, sizeof json, CONFIG_JSON,
             o.sessions ? "{\"type\":\"session\",\"gap_ms\":5000}"
                        : "{\"type\":\"tumbling\",\"size_ms\":60000}");
    tm_config *cfg = tm_test_config(json);
    workload w = generate(&o);
    printf("bench_batch: %zu records, %d keys, %s, dedup on\n", o.records, o.keys,
           o.sessions ? "sessions (gap 5 s)" : "tumbling 60 s");
    outcome whole = measure("one run", cfg, &w, 0, o.repeat);
    char label[32];
    snprintf(label, sizeof label, "split %zu", o.split);
    outcome split = measure(label, cfg, &w, o.split, o.repeat);
    printf("  workload: %" PRIu64 " counted, %" PRIu64 " duplicates, %" PRIu64
           " dead letters; %" PRIu64 " results\n",
           whole.accepted, whole.duplicates, whole.dead, whole.results);
    if (whole.results != split.results || whole.counted != split.counted ||
        whole.counted != whole.accepted)
        tm_bench_fail("the modes disagree: %" PRIu64 "/%" PRIu64 " results, %" PRIu64 "/%" PRIu64
                      " counted (%" PRIu64 " accepted)",
                      whole.results, split.results, whole.counted, split.counted, whole.accepted);
    free(w.records);
    tm_buf_free(&w.bytes);
    tm_config_free(cfg);
    return 0;
}
