/*
 * bench_engine: engine throughput on a generated workload, and replay end
 * to end on the same data.
 *
 * Workload (defaults; see --help): 1,000,000 order events over 10,000
 * merchant keys, tumbling 60 s windows, 2 s out-of-orderness, 30 s allowed
 * lateness, dedup on (id+event_time), 3% late events (stamped in the window
 * before the watermark's: about half still within the allowed lateness, so
 * they re-emit their window, half too late), 2% duplicates re-sent shortly
 * after their original.
 *
 * Figure 1, "engine": records already in memory go through
 * tm_engine_process (decode, dedup, windows, watermark, firing) and every
 * emission is formatted into its output key and JSON value; no file I/O.
 * Figure 2, "replay": tidemark replay over the same records written as a
 * JSONL file (envelope parsing and output writing included; the file is in
 * the page cache).
 *
 * Each figure is the best and the median of --runs runs.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "config.h"
#include "engine.h"
#include "envelope.h"
#include "err.h"
#include "generator.h"
#include "output.h"
#include "replay.h"
#include "support.h"

typedef struct workload {
    tm_record *records;
    char **payloads;
    size_t n;
} workload;

typedef struct options {
    size_t events;
    size_t keys;
    int runs;
    bool engine_only; /* skip the replay figure (for profiling) */
} options;

/* A fixed seed gives the same workload on every run. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    return tm_rand_next(&rng_state);
}

static double rnd_unit(void)
{
    return (double)(rnd() >> 11) / 9007199254740992.0;
}

static const char *const CONFIG_JSON =
    "{\"application_id\":\"bench\",\"input\":{\"topics\":[\"orders\"],"
    "\"event_time\":{\"pointer\":\"/event_time\",\"format\":\"epoch_ms\"},"
    "\"group_by\":\"/merchant\",\"event_id\":\"/order_id\"},"
    "\"watermark\":{\"max_out_of_orderness_ms\":2000,\"idle_timeout_ms\":0},"
    "\"window\":{\"type\":\"tumbling\",\"size_ms\":60000},\"allowed_lateness_ms\":30000,"
    "\"aggregations\":[{\"name\":\"orders\",\"op\":\"count\"},"
    "{\"name\":\"gmv\",\"op\":\"sum\",\"pointer\":\"/amount\"},"
    "{\"name\":\"max_amount\",\"op\":\"max\",\"pointer\":\"/amount\"}],"
    "\"dedup\":{\"enabled\":true},\"output\":{\"topic\":\"gmv\"},"
    "\"repartition\":{\"mode\":\"never\"}}";

static char *make_payload(uint64_t id, size_t merchant, double amount, int64_t t)
{
    char buf[256];
    int n = snprintf(buf, sizeof buf,
                     "{\"order_id\":\"o-%010llu\",\"merchant\":\"m-%05zu\",\"amount\":%.2f,"
                     "\"event_time\":%lld,\"currency\":\"EUR\",\"channel\":\"web\"}",
                     (unsigned long long)id, merchant, amount, (long long)t);
    return tm_xmemdup0(buf, (size_t)n);
}

enum { WINDOW_MS = 60000, OUT_OF_ORDER_MS = 2000 };

/* Builds the records in arrival order. Receipt time advances 0.5 ms per
 * record; an on-time event's time trails it by less than the
 * out-of-orderness bound; a late one is stamped up to 3 s before the start
 * of the window the watermark is in, so its window has already fired. */
static workload generate(const options *o)
{
    workload w = {tm_xcalloc(o->events, sizeof(tm_record)), tm_xcalloc(o->events, sizeof(char *)),
                  o->events};
    const int64_t base = 1700000000000;
    size_t originals = 0;
    for (size_t i = 0; i < o->events; i++) {
        int64_t ts = base + (int64_t)(i / 2);
        double roll = rnd_unit();
        if (roll < 0.02 && originals > 0) {
            /* A duplicate: one of the last 1000 originals, byte for byte. */
            size_t back = 1 + rnd() % (originals < 1000 ? originals : 1000);
            w.payloads[i] = tm_xstrdup(w.payloads[i - back]);
        } else {
            int64_t t = ts - (int64_t)(rnd() % OUT_OF_ORDER_MS);
            if (roll < 0.05) {
                int64_t wm = ts - OUT_OF_ORDER_MS;
                t = wm - wm % WINDOW_MS - 1 - (int64_t)(rnd() % 3000);
            }
            size_t merchant = rnd() % o->keys;
            double amount = (double)(rnd() % 100000) / 100.0;
            w.payloads[i] = make_payload(i, merchant, amount, t);
            originals++;
        }
        w.records[i] = (tm_record){.topic = "orders",
                                   .partition = 0,
                                   .offset = (int64_t)i,
                                   .ts = ts,
                                   .value = w.payloads[i],
                                   .value_len = strlen(w.payloads[i])};
    }
    return w;
}

typedef struct format_sink {
    const tm_config *cfg;
    tm_buf key, value;
    uint64_t results, late, dead;
} format_sink;

static void on_result(void *ctx, int32_t partition, const tm_window_result *r)
{
    (void)partition;
    format_sink *s = ctx;
    tm_buf_reset(&s->key);
    tm_buf_reset(&s->value);
    tm_output_key(&s->key, r);
    if (!r->tombstone)
        tm_output_value(&s->value, s->cfg, r);
    s->results++;
}

static void on_late(void *ctx, int32_t partition, const tm_record *rec, int64_t w)
{
    (void)partition;
    (void)rec;
    (void)w;
    ((format_sink *)ctx)->late++;
}

static void on_dead(void *ctx, const tm_record *rec, tm_dlq_reason why, const char *detail)
{
    (void)rec;
    (void)why;
    (void)detail;
    ((format_sink *)ctx)->dead++;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double run_engine(const tm_config *cfg, const workload *w, bool report)
{
    tm_engine *e = NULL;
    char err[256];
    if (tm_engine_open(&e, cfg, 0, w->records[0].ts, err, sizeof err) < 0)
        tm_die("engine: %s", err);
    format_sink fs = {.cfg = cfg};
    tm_engine_sink sink = {&fs, on_result, on_late, on_dead};
    double t0 = now_s();
    for (size_t i = 0; i < w->n; i++)
        tm_engine_process(e, &w->records[i], w->records[i].ts, &sink);
    double secs = now_s() - t0;
    if (report) {
        const tm_engine_stats *st = tm_engine_stats_of(e);
        printf("  workload: %zu records: %llu accepted (%llu late), %llu too late, "
               "%llu duplicates; %llu results emitted\n",
               w->n, (unsigned long long)st->accepted, (unsigned long long)st->late_accepted,
               (unsigned long long)st->too_late, (unsigned long long)st->duplicates,
               (unsigned long long)fs.results);
    }
    tm_buf_free(&fs.key);
    tm_buf_free(&fs.value);
    tm_engine_close(e);
    return secs;
}

static void write_input(const workload *w, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        tm_die("cannot write %s", path);
    tm_buf line = {0};
    for (size_t i = 0; i < w->n; i++) {
        const tm_record *r = &w->records[i];
        tm_buf_reset(&line);
        tm_buf_printf(&line,
                      "{\"topic\":\"orders\",\"partition\":0,\"offset\":%lld,\"ts\":%lld,"
                      "\"key\":null,\"payload\":",
                      (long long)r->offset, (long long)r->ts);
        tm_buf_put_json_string(&line, r->value, r->value_len);
        tm_buf_puts(&line, "}\n");
        fwrite(line.data, 1, line.len, f);
    }
    tm_buf_free(&line);
    fclose(f);
}

static double run_replay(const tm_config *cfg, const char *input, const char *out_dir)
{
    char err[512];
    double t0 = now_s();
    if (tm_replay_run(cfg, input, out_dir, NULL, err, sizeof err) < 0)
        tm_die("replay: %s", err);
    return now_s() - t0;
}

static void report(const char *what, double *secs, int runs, size_t events)
{
    qsort(secs, (size_t)runs, sizeof *secs, tm_bench_cmp_double);
    printf("%-7s best %.0f events/s (%.3f s), median %.0f events/s over %d runs\n", what,
           (double)events / secs[0], secs[0], (double)events / secs[runs / 2], runs);
}

static options parse_options(int argc, char **argv)
{
    options o = {1000000, 10000, 5, false};
    for (int i = 1; i < argc; i++) {
        int64_t v = 0;
        if (strcmp(argv[i], "--engine-only") == 0)
            o.engine_only = true;
        else if (tm_bench_count_arg(argc, argv, &i, "--events", &v))
            o.events = (size_t)v;
        else if (tm_bench_count_arg(argc, argv, &i, "--keys", &v))
            o.keys = (size_t)v;
        else if (tm_bench_count_arg(argc, argv, &i, "--runs", &v))
            o.runs = (int)v;
        else
            goto usage;
        continue;
    usage:
        fprintf(stderr, "usage: bench_engine [--events N] [--keys N] [--runs N] [--engine-only]\n");
        exit(2);
    }
    return o;
}

int main(int argc, char **argv)
{
    options o = parse_options(argc, argv);
    char dir[] = "/tmp/tidemark-bench-XXXXXX", cfg_path[64], input[64], err[512];
    if (!mkdtemp(dir))
        tm_die("mkdtemp failed");
    snprintf(cfg_path, sizeof cfg_path, "%s/config.json", dir);
    snprintf(input, sizeof input, "%s/input.jsonl", dir);
    FILE *f = fopen(cfg_path, "w");
    fputs(CONFIG_JSON, f);
    fclose(f);
    tm_config *cfg = NULL;
    if (tm_config_load(&cfg, cfg_path, NULL, NULL, 0, err, sizeof err) < 0)
        tm_die("%s", err);

    printf("bench_engine: %zu events, %zu keys, tumbling 60 s, lateness 30 s, dedup on\n", o.events,
           o.keys);
    workload w = generate(&o);
    double *secs = tm_xcalloc((size_t)o.runs, sizeof *secs);
    for (int r = 0; r < o.runs; r++)
        secs[r] = run_engine(cfg, &w, r == 0);
    report("engine", secs, o.runs, o.events);

    if (!o.engine_only) {
        write_input(&w, input);
        for (int r = 0; r < o.runs; r++)
            secs[r] = run_replay(cfg, input, dir);
        report("replay", secs, o.runs, o.events);
    }

    static const char *const outs[] = {"output.jsonl", "late.jsonl", "dlq.jsonl"};
    for (size_t i = 0; i < 3; i++) {
        char p[128];
        snprintf(p, sizeof p, "%s/%s", dir, outs[i]);
        unlink(p);
    }
    unlink(input);
    unlink(cfg_path);
    rmdir(dir);
    for (size_t i = 0; i < w.n; i++)
        free(w.payloads[i]);
    free(w.payloads);
    free(w.records);
    free(secs);
    tm_config_free(cfg);
    return 0;
}
