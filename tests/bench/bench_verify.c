/*
 * bench_verify: the comparison of `tidemark verify` (SEMANTICS 12,
 * service/wire/verify.h) over generated records, fed as verify_run.c feeds
 * it once it has read them from Kafka: the late output's sources
 * (tm_verify_late), the input records (tm_verify_input), the output topic
 * (tm_verify_output), then tm_verify_finish. One thread; no Kafka, no
 * transactions: the batch path, decode, spill and aggregate.
 *
 * Workload (defaults; see --help): --records 1,000,000 records from the
 * demo's generator (service/cli/generator.h: order events over --keys
 * 10,000 merchants on 4 partitions, 3% late by up to 20 s, 2% duplicates,
 * 1% malformed, 0.5% an hour ahead), received 1 ms apart; the demo's
 * pipeline (group by merchant, dedup on id + event time, clock skew
 * clamped at 60 s, count/sum/avg/max; watermark 2 s behind, allowed
 * lateness 5 s) with tumbling 60 s windows, or sessions with a 5 s gap
 * (--window session). The range covers every event.
 *
 * What the live service would have written, made cheaply beforehand:
 * - the late output: the records too late for the live service by the
 *   watermark rule (a window whose end + allowed lateness the watermark,
 *   the largest event time so far less 2 s, has passed; for sessions the
 *   event's own gap), named by their source "orders/<partition>/<offset>";
 * - the output topic: the batch results without those records and without
 *   the records repeating their dedup keys (verify.h's B), as the service
 *   formats them (output.h); every 20th window first as an earlier
 *   revision with one event fewer; and DAMAGE_EVERY-th windows damaged
 *   (one more event and gmv + 1000, or a tombstone), which verify must
 *   find unexplained (with sessions, a known exception: check()), every
 *   other differing window explained.
 *
 * Each run is a child process (tests/bench/support.h), so its memory is
 * measured from the same start. Reported: input records/s of the intake
 * (the three kinds of records handed in, spilled), of the finish (buckets
 * read back, aggregated, compared) and of both; the spill's bytes on disk;
 * the peak RSS (getrusage's ru_maxrss: the child's, the generated records
 * included) and its growth over the run (VmHWM less the VmRSS at the start;
 * the parent's free pages are returned first, malloc_trim, so the child's
 * allocations show).
 *
 * --end-to-end, instead: the test broker started (TIDEMARK_TEST_BROKER)
 * with the workload preloaded (late output with its tidemark.source
 * headers, the input on 4 partitions, the output topic), then `tidemark
 * verify --json` (TIDEMARK_BINARY; buckets as it picks them) over the
 * range: input records/s from its start to its exit, its CPU time and its
 * peak RSS. Its exit must be 1 with the damaged windows unexplained.
 */
#define _GNU_SOURCE /* nftw, malloc_trim */

#include <ftw.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <malloc.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "batch.h"
#include "broker.h"
#include "buf.h"
#include "config.h"
#include "emissions.h"
#include "generator.h"
#include "output.h"
#include "proc.h"
#include "support.h"
#include "verify.h"

#ifndef TIDEMARK_BINARY_PATH
#define TIDEMARK_BINARY_PATH ""
#endif
#ifndef TIDEMARK_TEST_BROKER_PATH
#define TIDEMARK_TEST_BROKER_PATH ""
#endif

/* The demo pipeline's figures, in CONFIG_JSON too. */
#define PARTITIONS 4
#define WINDOW_MS 60000
#define GAP_MS 5000
#define OUT_OF_ORDER_MS 2000
#define LATENESS_MS 5000

/* Every REVISED_EVERY-th result also has an earlier revision; every
 * DAMAGE_EVERY-th is damaged. */
#define REVISED_EVERY 20
#define DAMAGE_EVERY 10000

/* The demo pipeline (support.h), its output member here. */
#define CONFIG_JSON                                                                                \
    TM_BENCH_PIPELINE_JSON_HEAD "\"output\":{\"topic\":\"gmv\",\"late_topic\":\"bench-late\"}%s}"

typedef struct options {
    size_t records;
    int keys;
    size_t buckets; /* 0: as tidemark verify picks them */
    int runs;
    bool sessions;
    bool end_to_end;
} options;

/* The buckets of a run: o's, else as tidemark verify picks them for the
 * input records (tm_verify_buckets_for; the end-to-end run lets it). */
static size_t buckets_of(const options *o, size_t records)
{
    return o->buckets ? o->buckets : tm_verify_buckets_for((int64_t)records, 0);
}

/* Strings kept end to end in one buffer, each NUL-terminated; an offset
 * of SIZE_MAX is a NULL (a tombstone's value). */
typedef struct strings {
    tm_buf bytes;
    size_t *at;
    size_t *len;
    size_t n, cap, cap_len;
} strings;

static void strings_add(strings *s, const char *p, size_t n)
{
    s->at = tm_grow(s->at, &s->cap, s->n + 1, sizeof *s->at);
    s->len = tm_grow(s->len, &s->cap_len, s->n + 1, sizeof *s->len);
    s->at[s->n] = p ? s->bytes.len : SIZE_MAX;
    s->len[s->n++] = n;
    if (p) {
        tm_buf_append(&s->bytes, p, n);
        tm_buf_putc(&s->bytes, 0);
    }
}

static const char *strings_get(const strings *s, size_t i)
{
    return s->at[i] == SIZE_MAX ? NULL : s->bytes.data + s->at[i];
}

static void strings_free(strings *s)
{
    tm_buf_free(&s->bytes);
    free(s->at);
    free(s->len);
}

typedef struct workload {
    int64_t from, to;
    tm_record *records;
    tm_buf payloads;
    size_t n;
    strings late;        /* sources */
    strings out_keys;    /* output records, in order */
    strings out_values;  /* NULL: a tombstone */
    size_t windows;      /* results of B */
    size_t damaged;      /* windows verify must find unexplained */
    uint64_t dead_batch; /* dead letters of the batch over all records */
} workload;

static void records_generate(const options *o, workload *w)
{
    w->records = tm_xcalloc(o->records, sizeof *w->records);
    w->n = o->records;
    size_t *at = tm_xcalloc(o->records, sizeof *at);
    int64_t next_offset[PARTITIONS] = {0};
    tm_generator *g = tm_generator_new(42, PARTITIONS, o->keys);
    const int64_t base = 1763600000000;
    for (size_t i = 0; i < o->records; i++) {
        tm_generated rec;
        tm_generator_next(g, base + (int64_t)i, &rec);
        at[i] = w->payloads.len;
        tm_buf_append(&w->payloads, rec.payload, rec.payload_len);
        w->records[i] = (tm_record){.topic = "orders",
                                    .partition = rec.partition,
                                    .offset = next_offset[rec.partition]++,
                                    .ts = base + (int64_t)i,
                                    .key = NULL,
                                    .value_len = rec.payload_len};
    }
    /* The buffer has stopped moving: point into it. */
    for (size_t i = 0; i < o->records; i++)
        w->records[i].value = w->payloads.data + at[i];
    free(at);
    tm_generator_free(g);
    /* Every event is within an hour (an hour ahead is clamped to 60 s,
     * late is 20 s at most) of its receipt: a range of whole hours around
     * the receipts holds every window. */
    const int64_t hour = 3600000;
    w->from = (base / hour - 1) * hour;
    w->to = ((base + (int64_t)o->records) / hour + 2) * hour;
}

static void on_dead(void *ctx, const tm_record *rec, tm_dlq_reason why, const char *detail)
{
    (void)rec;
    (void)why;
    (void)detail;
    uint64_t *dead = ctx;
    (*dead)++;
}

static int cmp_hash(const void *pa, const void *pb)
{
    const tm_dedup_hash *a = pa, *b = pb;
    if (a->hi != b->hi)
        return a->hi < b->hi ? -1 : 1;
    return (a->lo > b->lo) - (a->lo < b->lo);
}

/* Whether an event of time t is too late live (the header's rule). */
static bool too_late(const options *o, int64_t t, int64_t max_t)
{
    int64_t end = o->sessions ? t + GAP_MS : (t / WINDOW_MS + 1) * WINDOW_MS;
    return max_t - OUT_OF_ORDER_MS >= end + LATENESS_MS;
}

/* The late output, and in *late_of which records it holds; returns the
 * sorted dedup hashes of those records (their count in *n_hashes). */
static tm_dedup_hash *late_generate(const options *o, const tm_config *cfg, workload *w,
                                    bool *late_of, size_t *n_hashes)
{
    tm_batch *b = NULL;
    char err[256];
    if (tm_batch_open(&b, cfg, err, sizeof err) < 0)
        tm_bench_fail("%s", err);
    tm_engine_sink sink = {.ctx = &w->dead_batch, .dead_letter = on_dead};
    tm_dedup_hash *hashes = NULL;
    size_t n = 0, cap = 0;
    int64_t max_t = INT64_MIN;
    char source[96];
    for (size_t i = 0; i < w->n; i++) {
        tm_batch_event ev;
        if (!tm_batch_decode(b, &w->records[i], &sink, &ev))
            continue;
        late_of[i] = max_t != INT64_MIN && too_late(o, ev.t, max_t);
        max_t = ev.t > max_t ? ev.t : max_t;
        if (!late_of[i])
            continue;
        const tm_record *r = &w->records[i];
        int len = snprintf(source, sizeof source, "%s/%d/%lld", r->topic, (int)r->partition,
                           (long long)r->offset);
        strings_add(&w->late, source, (size_t)len);
        hashes = tm_grow(hashes, &cap, n + 1, sizeof *hashes);
        hashes[n++] = ev.dedup;
    }
    if (n)
        qsort(hashes, n, sizeof *hashes, cmp_hash);
    tm_batch_close(b);
    *n_hashes = n;
    return hashes;
}

/* Where B's results go while the output topic is written. */
typedef struct output_ctx {
    const tm_config *cfg;
    workload *w;
    tm_buf key, value;
    double *acc;
} output_ctx;

static void output_add(output_ctx *c, const tm_window_result *r, bool tombstone)
{
    tm_buf_reset(&c->key);
    tm_buf_reset(&c->value);
    tm_output_key(&c->key, r);
    if (!tombstone)
        tm_output_value(&c->value, c->cfg, r);
    strings_add(&c->w->out_keys, c->key.data, c->key.len);
    strings_add(&c->w->out_values, tombstone ? NULL : c->value.data, c->value.len);
}

static void on_result(void *ctx, const tm_window_result *r)
{
    output_ctx *c = ctx;
    size_t i = c->w->windows++;
    tm_window_result v = *r;
    memcpy(c->acc, r->acc, c->cfg->n_aggs * sizeof *c->acc);
    v.acc = c->acc;
    if (i % REVISED_EVERY == 0 && r->count > 1) {
        v.count = r->count - 1;
        output_add(c, &v, false);
        v.revision = 1;
        v.count = r->count;
    }
    bool damaged = i % DAMAGE_EVERY == DAMAGE_EVERY / 2;
    bool tombstone = damaged && (i / DAMAGE_EVERY) % 2 == 1;
    if (damaged && !tombstone) {
        v.count++;
        c->acc[1] += 1000; /* gmv, a sum */
    }
    c->w->damaged += damaged;
    output_add(c, &v, tombstone);
}

/* The output topic: B's results over every record neither late nor
 * repeating a late one's dedup key. */
static void output_generate(const tm_config *cfg, workload *w, const bool *late_of,
                            const tm_dedup_hash *hashes, size_t n_hashes)
{
    tm_batch *b = NULL;
    char err[256];
    if (tm_batch_open(&b, cfg, err, sizeof err) < 0)
        tm_bench_fail("%s", err);
    uint64_t dead = 0;
    tm_engine_sink sink = {.ctx = &dead, .dead_letter = on_dead};
    for (size_t i = 0; i < w->n; i++) {
        tm_batch_event ev;
        if (late_of[i] || !tm_batch_decode(b, &w->records[i], &sink, &ev))
            continue;
        bool dedup = ev.dedup.lo || ev.dedup.hi;
        if (dedup && n_hashes && bsearch(&ev.dedup, hashes, n_hashes, sizeof *hashes, cmp_hash))
            continue;
        tm_batch_add_event(b, &ev);
    }
    output_ctx c = {.cfg = cfg, .w = w, .acc = tm_xcalloc(cfg->n_aggs, sizeof(double))};
    tm_batch_finish(b, on_result, &c);
    tm_batch_close(b);
    tm_buf_free(&c.key);
    tm_buf_free(&c.value);
    free(c.acc);
}

static workload generate(const options *o, const tm_config *cfg)
{
    workload w = {0};
    records_generate(o, &w);
    bool *late_of = tm_xcalloc(w.n, sizeof *late_of);
    size_t n_hashes = 0;
    tm_dedup_hash *hashes = late_generate(o, cfg, &w, late_of, &n_hashes);
    output_generate(cfg, &w, late_of, hashes, n_hashes);
    free(hashes);
    free(late_of);
    return w;
}

static void workload_free(workload *w)
{
    free(w->records);
    tm_buf_free(&w->payloads);
    strings_free(&w->late);
    strings_free(&w->out_keys);
    strings_free(&w->out_values);
}

/* What a child reports. */
typedef struct outcome {
    double intake_s, finish_s;
    tm_verify_summary sum;
    uint64_t differing; /* windows handed to on_window not equal */
    uint64_t spill_bytes;
    long rss_start_kib, rss_peak_kib, maxrss_kib;
} outcome;

/* The spill files' bytes: nftw keeps no context, hence a static. */
static uint64_t g_dir_bytes;

static int add_size(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)path;
    (void)ftw;
    if (flag == FTW_F)
        g_dir_bytes += (uint64_t)st->st_size;
    return 0;
}

/* Every window judged comes here, as to verify_run.c's, which writes a
 * line for each one not equal: counted instead. */
static void on_window(void *ctx, const tm_verify_window *w)
{
    outcome *out = ctx;
    out->differing += w->verdict != TM_VERIFY_EQUAL;
}

typedef struct measure_ctx {
    const tm_config *cfg;
    const workload *w;
    size_t buckets;
} measure_ctx;

static void run_verify(void *ctx, void *result)
{
    const measure_ctx *m = ctx;
    const workload *w = m->w;
    outcome *out = result;
    memset(out, 0, sizeof *out);
    out->rss_start_kib = tm_bench_status_kib("VmRSS");
    char err[256];
    tm_verify *v = NULL;
    int64_t t0 = tm_bench_now_ns();
    if (tm_verify_open(&v, m->cfg, w->from, w->to, tm_bench_dir(), m->buckets, err, sizeof err) < 0)
        tm_bench_fail("%s", err);
    for (size_t i = 0; i < w->late.n; i++)
        tm_verify_late(v, strings_get(&w->late, i), w->late.len[i]);
    for (size_t i = 0; i < w->n; i++)
        if (tm_verify_input(v, &w->records[i]) < 0)
            tm_bench_fail("tm_verify_input failed");
    for (size_t i = 0; i < w->out_keys.n; i++)
        if (tm_verify_output(v, 0, strings_get(&w->out_keys, i), w->out_keys.len[i],
                             strings_get(&w->out_values, i), w->out_values.len[i]) < 0)
            tm_bench_fail("tm_verify_output failed");
    int64_t t1 = tm_bench_now_ns();
    /* The spill is on disk by the finish (stdio buffers flushed at its
     * start): counted from the directory, as a user would see it, after
     * the finish and before the close removes it. */
    if (tm_verify_finish(v, on_window, out, NULL, NULL, &out->sum, err, sizeof err) < 0)
        tm_bench_fail("%s", err);
    int64_t t2 = tm_bench_now_ns();
    g_dir_bytes = 0;
    nftw(tm_bench_dir(), add_size, 16, FTW_PHYS);
    out->spill_bytes = g_dir_bytes;
    out->rss_peak_kib = tm_bench_status_kib("VmHWM");
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    out->maxrss_kib = ru.ru_maxrss;
    tm_verify_close(v);
    out->intake_s = (double)(t1 - t0) / 1e9;
    out->finish_s = (double)(t2 - t1) / 1e9;
}

/* Prints best and median input records/s of secs[0..n) (sorted here). */
static void print_rate(const char *what, double *secs, int n, size_t records)
{
    qsort(secs, (size_t)n, sizeof *secs, tm_bench_cmp_double);
    printf("  %-7s best %7.0f records/s (%.3f s), median %7.0f records/s\n", what,
           (double)records / secs[0], secs[0], (double)records / secs[n / 2]);
}

/* Fails unless verify's figures are the workload's: every damaged
 * window unexplained, and only those; with sessions, judged by key
 * (verify.h), the other differing sessions of a damaged key as well, so
 * at least those. */
static bool verdicts_found(const options *opt, uint64_t unexplained, size_t damaged)
{
    return opt->sessions ? unexplained >= damaged : unexplained == damaged;
}

static void check(const options *opt, const workload *w, const outcome *o)
{
    const tm_verify_summary *s = &o->sum;
    if (s->input_records != w->n || !verdicts_found(opt, s->unexplained, w->damaged) ||
        s->dead_letters != w->dead_batch || s->output_records != w->out_keys.n ||
        o->differing != s->explained + s->unexplained)
        tm_bench_fail("verify disagrees with the workload: %" PRIu64 " input (%zu), %" PRIu64
                      " unexplained (%zu damaged), %" PRIu64 " dead letters (%" PRIu64 "), %" PRIu64
                      " output records (%zu)",
                      s->input_records, w->n, s->unexplained, w->damaged, s->dead_letters,
                      w->dead_batch, s->output_records, w->out_keys.n);
}

static options parse_options(int argc, char **argv)
{
    options o = {1000000, 10000, 0, 3, false, false};
    for (int i = 1; i < argc; i++) {
        int64_t v = 0;
        if (tm_bench_window_arg(argc, argv, &i, &o.sessions))
            continue;
        if (strcmp(argv[i], "--end-to-end") == 0)
            o.end_to_end = true;
        else if (tm_bench_count_arg(argc, argv, &i, "--records", &v))
            o.records = (size_t)v;
        else if (tm_bench_count_arg(argc, argv, &i, "--keys", &v))
            o.keys = (int)v;
        else if (tm_bench_count_arg(argc, argv, &i, "--buckets", &v))
            o.buckets = (size_t)v;
        else if (tm_bench_count_arg(argc, argv, &i, "--runs", &v))
            o.runs = (int)v;
        else
            goto usage;
        continue;
    usage:
        fprintf(stderr, "usage: bench_verify [--records N] [--keys N] [--buckets N] [--runs N] "
                        "[--window tumbling|session] [--end-to-end]\n");
        exit(2);
    }
    return o;
}

/* ---- in process ---- */

static void in_process(const options *o, const tm_config *cfg, const workload *w)
{
    measure_ctx m = {cfg, w, buckets_of(o, w->n)};
    double *secs = tm_xcalloc(3 * (size_t)o->runs, sizeof *secs);
    double *intake = secs, *finish = secs + o->runs, *total = secs + 2 * o->runs;
    outcome first = {0};
    long max_peak = 0, max_growth = 0;
    for (int i = 0; i < o->runs; i++) {
        tm_bench_check_interrupt();
        outcome r;
        tm_bench_in_child(run_verify, &m, &r, sizeof r);
        check(o, w, &r);
        intake[i] = r.intake_s;
        finish[i] = r.finish_s;
        total[i] = r.intake_s + r.finish_s;
        if (i == 0)
            first = r;
        max_peak = r.maxrss_kib > max_peak ? r.maxrss_kib : max_peak;
        long growth = r.rss_peak_kib - r.rss_start_kib;
        max_growth = growth > max_growth ? growth : max_growth;
    }
    printf("verdicts: %" PRIu64 " windows, %" PRIu64 " equal, %" PRIu64 " explained, %" PRIu64
           " unexplained (%zu damaged); %" PRIu64 " dead letters\n",
           first.sum.windows, first.sum.equal, first.sum.explained, first.sum.unexplained,
           w->damaged, first.sum.dead_letters);
    printf("input records/s over %d runs:\n", o->runs);
    print_rate("intake", intake, o->runs, w->n);
    print_rate("finish", finish, o->runs, w->n);
    print_rate("total", total, o->runs, w->n);
    printf("memory: peak RSS %.1f MiB (ru_maxrss, the generated records included), growth over "
           "the run +%.1f MiB; spill %.1f MiB on disk\n",
           (double)max_peak / 1024.0, (double)max_growth / 1024.0,
           (double)first.spill_bytes / (1024.0 * 1024.0));
    free(secs);
}

/* ---- end to end: `tidemark verify` on the test broker ---- */

static const char *path_of(const char *env, const char *built)
{
    const char *p = getenv(env);
    p = p && *p ? p : built;
    if (!*p || access(p, X_OK) != 0)
        tm_bench_fail("no executable at '%s': set %s or build it", p, env);
    return p;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    uint64_t *failed = opaque;
    *failed += m->err != RD_KAFKA_RESP_ERR_NO_ERROR;
}

/* One record (value NULL: a tombstone; source non-NULL: the late
 * output's header), waiting while the producer's queue is full. */
static void produce(rd_kafka_t *rk, const char *topic, int32_t partition, const char *key,
                    size_t key_len, const char *value, size_t value_len, int64_t ts,
                    const char *source)
{
    for (;;) {
        rd_kafka_resp_err_t err =
            source ? rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                                       RD_KAFKA_V_VALUE((void *)value, value_len),
                                       RD_KAFKA_V_TIMESTAMP(ts),
                                       RD_KAFKA_V_HEADER("tidemark.source", source, -1),
                                       RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END)
                   : rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                                       RD_KAFKA_V_KEY((void *)key, key_len),
                                       RD_KAFKA_V_VALUE((void *)value, value_len),
                                       RD_KAFKA_V_TIMESTAMP(ts),
                                       RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
            return;
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            tm_bench_fail("produce to %s: %s", topic, rd_kafka_err2str(err));
        rd_kafka_poll(rk, 10);
    }
}

/* The late output, the input and the output topic, as the live service
 * would have left them (fresh topics: input offsets are the workload's). */
static void preload(const char *bootstrap, const workload *w)
{
    char err[512];
    uint64_t failed = 0;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const char *props[] = {"bootstrap.servers",
                           bootstrap,
                           "enable.idempotence",
                           "true",
                           "linger.ms",
                           "20",
                           "log_level",
                           "3",
                           NULL};
    for (size_t i = 0; props[i]; i += 2)
        if (rd_kafka_conf_set(conf, props[i], props[i + 1], err, sizeof err) != RD_KAFKA_CONF_OK)
            tm_bench_fail("librdkafka: %s", err);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, &failed);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk)
        tm_bench_fail("rd_kafka_new: %s", err);
    static const char late_value[] = "{}"; /* verify reads the header alone */
    for (size_t i = 0; i < w->late.n; i++)
        produce(rk, "bench-late", 0, NULL, 0, late_value, sizeof late_value - 1, 0,
                strings_get(&w->late, i));
    for (size_t i = 0; i < w->n; i++) {
        const tm_record *r = &w->records[i];
        produce(rk, r->topic, r->partition, NULL, 0, r->value, r->value_len, r->ts, NULL);
    }
    for (size_t i = 0; i < w->out_keys.n; i++)
        produce(rk, "gmv", 0, strings_get(&w->out_keys, i), w->out_keys.len[i],
                strings_get(&w->out_values, i), w->out_values.len[i], 0, NULL);
    rd_kafka_flush(rk, 600000);
    if (rd_kafka_outq_len(rk) != 0 || failed)
        tm_bench_fail("preload: %d records not delivered, %" PRIu64 " failed",
                      rd_kafka_outq_len(rk), failed);
    rd_kafka_destroy(rk);
}

/* A number after "<name>": in the JSON report in the file at path. */
static uint64_t report_number(const char *path, const char *name)
{
    FILE *f = fopen(path, "r");
    if (!f)
        tm_bench_fail("cannot read %s", path);
    char line[4096], key[64];
    snprintf(key, sizeof key, "\"%s\":", name);
    uint64_t v = UINT64_MAX;
    while (v == UINT64_MAX && fgets(line, sizeof line, f)) {
        const char *p = strstr(line, key);
        if (p)
            v = strtoull(p + strlen(key), NULL, 10);
    }
    fclose(f);
    if (v == UINT64_MAX)
        tm_bench_fail("no %s in the report %s", name, path);
    return v;
}

/* How often the end-to-end run reads verify's VmHWM. */
#define RSS_POLL_MS 10

/* tidemark verify over the workload preloaded into the test broker: its
 * wall time from spawn to exit, its CPU and its peak RSS. */
static void end_to_end(const options *o, const char *window, const workload *w)
{
    const char *bin = path_of("TIDEMARK_BINARY", TIDEMARK_BINARY_PATH);
    setenv("TIDEMARK_TEST_BROKER", path_of("TIDEMARK_TEST_BROKER", TIDEMARK_TEST_BROKER_PATH),
           1); /* for tests/support/broker.c */
    char log[600], config[600], report[600];
    snprintf(log, sizeof log, "%s/broker.log", tm_bench_dir());
    const char *args[] = {"--topic", "orders:4",     "--topic", "gmv:1",
                          "--topic", "bench-late:1", NULL};
    tm_test_broker *b = tm_test_broker_start(args, log);
    int64_t t0 = tm_bench_now_ns();
    preload(tm_test_broker_bootstrap(b), w);
    printf("end to end: preloaded %zu records in %.1f s\n", w->n + w->late.n + w->out_keys.n,
           (double)(tm_bench_now_ns() - t0) / 1e9);
    snprintf(config, sizeof config, "%s/verify.json", tm_bench_dir());
    char kafka[512], json[4096];
    snprintf(kafka, sizeof kafka, ",\"kafka\":{\"bootstrap.servers\":\"%s\"}",
             tm_test_broker_bootstrap(b));
    snprintf(json, sizeof json, CONFIG_JSON, window, kafka);
    FILE *f = fopen(config, "w");
    if (!f || fputs(json, f) < 0 || fclose(f) != 0)
        tm_bench_fail("cannot write %s", config);
    char from[32], to[32];
    snprintf(from, sizeof from, "%" PRId64, w->from);
    snprintf(to, sizeof to, "%" PRId64, w->to);
    snprintf(report, sizeof report, "%s/verify.log", tm_bench_dir());
    char buckets[32];
    snprintf(buckets, sizeof buckets, "%zu", o->buckets);
    char *argv[12] = {(char *)bin, "verify", "--config", config,  "--from",
                      from,        "--to",   to,         "--json"};
    size_t argc = 9;
    if (o->buckets) { /* else verify picks them */
        argv[argc++] = "--buckets";
        argv[argc++] = buckets;
    }
    argv[argc] = NULL;
    const tm_proc_io io = {.log_path = report};
    t0 = tm_bench_now_ns();
    pid_t pid = tm_proc_spawn(argv, &io);
    /* Its peak RSS, polled: the children's ru_maxrss would be ours, as
     * the child shared our memory until its exec. VmHWM only grows, so
     * the last reading misses at most the last poll interval. */
    int status = 0;
    long hwm_kib = 0;
    while (!tm_proc_wait(pid, RSS_POLL_MS, &status)) {
        long kib = tm_bench_pid_status_kib(pid, "VmHWM");
        hwm_kib = kib > hwm_kib ? kib : hwm_kib;
        if (tm_bench_now_ns() - t0 > (int64_t)3600 * 1000000000)
            tm_bench_fail("tidemark verify did not finish within an hour (%s)", report);
    }
    double secs = (double)(tm_bench_now_ns() - t0) / 1e9;
    /* Its CPU: the only child reaped so far. */
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    /* Exit 1: the damaged windows are unexplained, as they must be. */
    uint64_t input = report_number(report, "input_records");
    uint64_t unexplained = report_number(report, "unexplained");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 1 || input != w->n ||
        !verdicts_found(o, unexplained, w->damaged))
        tm_bench_fail("tidemark verify: %s, %" PRIu64 " input records (%zu), %" PRIu64
                      " unexplained (%zu damaged); see %s",
                      tm_proc_status_str(status), input, w->n, unexplained, w->damaged, report);
    double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                 (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    printf("end to end: tidemark verify read %zu records and judged them in %.2f s: %.0f input "
           "records/s; CPU %.2f s (%.0f input records per CPU second); max RSS %.1f MiB\n",
           w->n + w->late.n + w->out_keys.n, secs, (double)w->n / secs, cpu, (double)w->n / cpu,
           (double)hwm_kib / 1024.0);
    tm_test_broker_stop(b);
}

int main(int argc, char **argv)
{
    options o = parse_options(argc, argv);
    tm_bench_start("bench_verify", false);
    const char *window = o.sessions ? "{\"type\":\"session\",\"gap_ms\":5000}"
                                    : "{\"type\":\"tumbling\",\"size_ms\":60000}";
    char json[2048];
    snprintf(json, sizeof json, CONFIG_JSON, window, "");
    tm_config *cfg = tm_test_config(json);
    workload w = generate(&o, cfg);
    /* The batches that made the output topic are freed but their pages
     * still resident: a child would reuse them, and its growth would not
     * show. */
    malloc_trim(0);
    printf("bench_verify: %zu input records, %d keys, %s, %zu buckets; %zu late, %zu output "
           "records (%zu windows, %zu damaged)\n",
           w.n, o.keys, o.sessions ? "sessions (gap 5 s)" : "tumbling 60 s", buckets_of(&o, w.n),
           w.late.n, w.out_keys.n, w.windows, w.damaged);
    fflush(stdout);
    if (o.end_to_end)
        end_to_end(&o, window, &w);
    else
        in_process(&o, cfg, &w);
    workload_free(&w);
    tm_config_free(cfg);
    return 0;
}
