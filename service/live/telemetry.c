/*
 * telemetry.c: see telemetry.h. The metric names, types and meanings are
 * documented in deploy/METRICS.md; keep the two in step (the alert rules
 * and the dashboard are checked against that file).
 */
#include "telemetry.h"

#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "clock.h"
#include "err.h"
#include "http.h"
#include "kafka.h"
#include "log.h"
#include "num.h"
#include "prom.h"
#include "version.h"

enum { PUBLISH_EVERY_MS = 250 };

/* What a partition has counted over the life of the process, from the
 * engines that have gone away. */
typedef struct totals {
    int32_t partition;
    tm_engine_stats stats;
    /* Per input topic, then the repartition topic's (a paired task's;
     * tm_task_view). */
    uint64_t *consumed;
    uint64_t restore_records;
    uint64_t foreign_records; /* changelog records restores skipped */
} totals;

struct tm_telemetry {
    const tm_config *cfg;
    tm_http *http;

    /* Written by the runner's thread, read by both under lock. */
    pthread_mutex_t lock;
    tm_buf published; /* the rendered metrics */
    int64_t last_alive, last_poll;
    size_t n_tasks;
    bool restoring, stopping;
    const char *waiting; /* what the loop waits on the broker for; NULL: nothing */

    /* The runner's thread only. */
    totals *totals; /* ascending partition */
    size_t n_totals;
    tm_histogram commit_duration, restore_duration;
    uint64_t committed, aborted;
    uint64_t pauses;    /* input partitions paused by watermark alignment */
    unsigned *ts_types; /* per input topic (tm_telemetry_timestamp_types) */
    /* tm_telemetry_repartition's: per window task, and the foreign count. */
    uint64_t *routed;
    size_t n_windows;
    uint64_t repartition_foreign;
    int64_t last_commit; /* Unix ms, 0 none yet */
    int64_t last_publish;
    tm_buf render; /* the next publication, swapped with `published` */
};

/* ---- health ---- */

typedef struct health {
    bool alive;
    const char *not_ready; /* NULL when ready */
    const char *waiting;   /* set: not_ready is "waiting for the broker", for this */
} health;

/* Under lock. Waiting on the broker is alive: the loop goes on as soon as
 * the broker answers, and a liveness probe that restarted it would only
 * restart the wait. Every such wait ends by its own timeout (at most about
 * 2 x transaction.timeout.ms + 30 s, for a checkpoint), so one that lasts
 * health.max_broker_wait_ms is a stuck client (librdkafka has had such
 * bugs: tests/broker/patches/0006), and a restart is the way out. */
static health health_at(const tm_telemetry *t, int64_t now)
{
    int64_t stall = t->cfg->stall_timeout_ms;
    int64_t limit =
        t->waiting && t->cfg->max_broker_wait_ms > stall ? t->cfg->max_broker_wait_ms : stall;
    health h = {.alive = now - t->last_alive <= limit};
    /* A restore waits on the broker too; "restoring" says more. */
    if (t->stopping)
        h.not_ready = "stopping";
    else if (t->restoring)
        h.not_ready = "restoring";
    else if (t->waiting) {
        h.not_ready = "waiting for the broker";
        h.waiting = t->waiting;
    } else if (t->n_tasks == 0)
        h.not_ready = "no tasks assigned";
    else if (now - t->last_poll > stall)
        h.not_ready = "stalled: the consumer has not polled";
    return h;
}

static void handle(void *ctx, const char *path, tm_http_response *res)
{
    tm_telemetry *t = ctx;
    int64_t now = tm_wall_clock_ms();
    pthread_mutex_lock(&t->lock);
    health h = health_at(t, now);
    if (strcmp(path, "/metrics") == 0) {
        res->content_type = TM_PROM_CONTENT_TYPE;
        tm_buf_append(&res->body, t->published.data, t->published.len);
    } else if (strcmp(path, "/healthz") == 0) {
        res->status = h.alive ? 200 : 503;
        if (h.alive)
            tm_buf_puts(&res->body, "ok\n");
        else if (t->waiting)
            tm_buf_printf(&res->body,
                          "stuck: waiting for the broker (%s) for %lld ms, "
                          "health.max_broker_wait_ms is %lld\n",
                          t->waiting, (long long)(now - t->last_alive),
                          (long long)t->cfg->max_broker_wait_ms);
        else
            tm_buf_printf(&res->body, "stalled: the service loop has not turned for %lld ms\n",
                          (long long)(now - t->last_alive));
    } else if (strcmp(path, "/readyz") == 0) {
        res->status = h.not_ready ? 503 : 200;
        tm_buf_printf(&res->body, "%s%s%s\n", h.not_ready ? h.not_ready : "ready",
                      h.not_ready && h.waiting ? ": " : "",
                      h.not_ready && h.waiting ? h.waiting : "");
    } else {
        res->status = 404;
        tm_buf_puts(&res->body, "not found: try /metrics, /healthz or /readyz\n");
    }
    pthread_mutex_unlock(&t->lock);
}

void tm_telemetry_alive(tm_telemetry *t, int64_t now)
{
    pthread_mutex_lock(&t->lock);
    t->last_alive = now;
    pthread_mutex_unlock(&t->lock);
}

void tm_telemetry_waiting(tm_telemetry *t, const char *what, int64_t now)
{
    pthread_mutex_lock(&t->lock);
    t->waiting = what;
    t->last_alive = now;
    pthread_mutex_unlock(&t->lock);
}

void tm_telemetry_polled(tm_telemetry *t, int64_t now, size_t n_tasks)
{
    pthread_mutex_lock(&t->lock);
    t->last_alive = t->last_poll = now;
    t->n_tasks = n_tasks;
    pthread_mutex_unlock(&t->lock);
}

void tm_telemetry_restoring(tm_telemetry *t, bool on)
{
    pthread_mutex_lock(&t->lock);
    t->restoring = on;
    pthread_mutex_unlock(&t->lock);
}

void tm_telemetry_stopping(tm_telemetry *t)
{
    pthread_mutex_lock(&t->lock);
    t->stopping = true;
    pthread_mutex_unlock(&t->lock);
}

/* ---- events ---- */

static totals *totals_of(tm_telemetry *t, int32_t partition)
{
    size_t at = 0;
    while (at < t->n_totals && t->totals[at].partition < partition)
        at++;
    if (at < t->n_totals && t->totals[at].partition == partition)
        return &t->totals[at];
    t->totals = tm_xrealloc(t->totals, (t->n_totals + 1) * sizeof *t->totals);
    memmove(&t->totals[at + 1], &t->totals[at], (t->n_totals - at) * sizeof *t->totals);
    t->n_totals++;
    totals *tot = &t->totals[at];
    memset(tot, 0, sizeof *tot);
    tot->partition = partition;
    tm_histogram_init(&tot->stats.event_time_lag, &tm_event_time_lag_bounds);
    tot->consumed = tm_xcalloc(t->cfg->n_input_topics + 1, sizeof *tot->consumed);
    return tot;
}

void tm_telemetry_committed(tm_telemetry *t, int64_t duration_ms, int64_t now)
{
    tm_histogram_observe(&t->commit_duration, duration_ms);
    t->committed++;
    t->last_commit = now;
}

void tm_telemetry_aborted(tm_telemetry *t)
{
    t->aborted++;
}

void tm_telemetry_paused(tm_telemetry *t)
{
    t->pauses++;
}

void tm_telemetry_restored(tm_telemetry *t, int32_t partition, uint64_t records, uint64_t foreign,
                           int64_t duration_ms)
{
    tm_histogram_observe(&t->restore_duration, duration_ms);
    totals_of(t, partition)->restore_records += records;
    totals_of(t, partition)->foreign_records += foreign;
}

/* The topics a task consumes: the length of its view's arrays. */
static size_t topics_of(const tm_config *cfg, const tm_task_view *task)
{
    return cfg->n_input_topics + (tm_engine_paired(task->engine) ? 1 : 0);
}

void tm_telemetry_retire(tm_telemetry *t, const tm_task_view *task)
{
    totals *tot = totals_of(t, task->partition);
    tm_engine_stats_add(&tot->stats, tm_engine_stats_of(task->engine));
    for (size_t i = 0; i < topics_of(t->cfg, task); i++)
        tot->consumed[i] += task->consumed[i];
}

/* ---- rendering ---- */

/* The label sets of one publication: per task ("partition") and per input
 * partition ("topic", "partition"). */
typedef struct labels {
    char partition[16];
    tm_prom_label task[1];
    tm_prom_label input[2];
} labels;

static void labels_of(labels *l, const tm_config *cfg, int32_t partition, size_t topic)
{
    snprintf(l->partition, sizeof l->partition, "%d", (int)partition);
    l->task[0] = (tm_prom_label){"partition", l->partition};
    l->input[0] = (tm_prom_label){"topic", cfg->input_topics[topic]};
    l->input[1] = (tm_prom_label){"partition", l->partition};
}

static const tm_task_view *view_of(const tm_task_view *tasks, size_t n, int32_t partition)
{
    for (size_t i = 0; i < n; i++)
        if (tasks[i].partition == partition)
            return &tasks[i];
    return NULL;
}

/* A partition's counters: its totals plus its live engine's, if owned. */
static tm_engine_stats counters_of(const totals *tot, const tm_task_view *live)
{
    tm_engine_stats s = tot->stats;
    if (live)
        tm_engine_stats_add(&s, tm_engine_stats_of(live->engine));
    return s;
}

static const char *dlq_label(size_t i)
{
    return tm_dlq_reason_name((tm_dlq_reason)i);
}
static const char *trigger_label(size_t i)
{
    return tm_trigger_name((tm_trigger)i);
}

/* One per-task counter family of the restores' totals: field is the
 * offset of a uint64_t in struct totals. */
static void restore_counter(tm_buf *b, const tm_config *cfg, const tm_telemetry *t,
                            const char *name, const char *help, size_t field)
{
    labels l;
    tm_prom_family(b, name, "counter", help);
    for (size_t p = 0; p < t->n_totals; p++) {
        labels_of(&l, cfg, t->totals[p].partition, 0);
        const uint64_t *v = (const uint64_t *)(const void *)((const char *)&t->totals[p] + field);
        tm_prom_sample(b, name, l.task, 1, (double)*v);
    }
}

/* A counter family of the engine's counters, over every partition ever
 * owned: the uint64_t at `off` in tm_engine_stats, or with a second label
 * the array there, indexed by that label's values [first, first + count). */
typedef struct counter_family {
    const char *name, *help;
    size_t off;
    const char *label; /* NULL: a scalar counter */
    const char *(*label_of)(size_t i);
    size_t first, count;
} counter_family;

#define SCALAR(name, help, field)                                                                  \
    {                                                                                              \
        name, help, offsetof(tm_engine_stats, field), NULL, NULL, 0, 1                             \
    }

static const counter_family counter_families[] = {
    SCALAR("tidemark_late_accepted_records_total",
           "Records accepted into a window that had already fired.", late_accepted),
    SCALAR("tidemark_too_late_records_total",
           "Records too late for every window (late topic, or dropped).", too_late),
    SCALAR("tidemark_late_dropped_records_total", "Too-late records dropped (late.action=drop).",
           late_dropped),
    SCALAR("tidemark_duplicate_records_total", "Records dropped as duplicates.", duplicates),
    SCALAR("tidemark_clamped_records_total",
           "Records from the future whose event time was clamped to the receipt time.", clamped),
    SCALAR("tidemark_wall_clock_skew_records_total",
           "Records whose event time was more than clock_skew.max_ahead_of_wall_ms ahead of the "
           "processing time (clamped to it, or dead-lettered as clock_skew).",
           ahead_of_wall),
    {"tidemark_dead_letters_total", "Records sent to the dead-letter topic, by reason.",
     offsetof(tm_engine_stats, dead_letters), "reason", dlq_label, TM_DLQ_NONE + 1,
     TM_DLQ_COUNT_ - TM_DLQ_NONE - 1},
    {"tidemark_window_emissions_total", "Window results emitted, by trigger.",
     offsetof(tm_engine_stats, emissions), "trigger", trigger_label, 0, 2},
    SCALAR("tidemark_window_tombstones_total", "Tombstones emitted (sessions merged away).",
           tombstones),
};

static double counter_value(const counter_family *cf, const tm_engine_stats *s, size_t i)
{
    const uint64_t *at = (const uint64_t *)(const void *)((const char *)s + cf->off);
    return (double)at[i];
}

static void render_counters(tm_telemetry *t, tm_buf *b, const tm_task_view *tasks, size_t n)
{
    const tm_config *cfg = t->cfg;
    labels l;
    tm_prom_family(b, "tidemark_records_consumed_total", "counter",
                   "Input records consumed and offered to the engine.");
    for (size_t p = 0; p < t->n_totals; p++) {
        const totals *tot = &t->totals[p];
        const tm_task_view *live = view_of(tasks, n, tot->partition);
        for (size_t i = 0; i < cfg->n_input_topics; i++) {
            labels_of(&l, cfg, tot->partition, i);
            tm_prom_sample(b, "tidemark_records_consumed_total", l.input, 2,
                           (double)(tot->consumed[i] + (live ? live->consumed[i] : 0)));
        }
    }
    /* Each partition's counters, summed once for every family below. */
    tm_engine_stats *sums = tm_xcalloc(t->n_totals + 1, sizeof *sums);
    for (size_t p = 0; p < t->n_totals; p++)
        sums[p] = counters_of(&t->totals[p], view_of(tasks, n, t->totals[p].partition));
    for (size_t f = 0; f < sizeof counter_families / sizeof counter_families[0]; f++) {
        const counter_family *cf = &counter_families[f];
        tm_prom_family(b, cf->name, "counter", cf->help);
        for (size_t p = 0; p < t->n_totals; p++) {
            labels_of(&l, cfg, t->totals[p].partition, 0);
            for (size_t i = cf->first; i < cf->first + cf->count; i++) {
                tm_prom_label two[2] = {l.task[0], {cf->label, cf->label ? cf->label_of(i) : ""}};
                tm_prom_sample(b, cf->name, two, cf->label ? 2 : 1, counter_value(cf, &sums[p], i));
            }
        }
    }
    tm_prom_family(b, "tidemark_event_time_lag_seconds", "histogram",
                   "Processing time minus event time of every decoded record.");
    for (size_t p = 0; p < t->n_totals; p++) {
        labels_of(&l, cfg, t->totals[p].partition, 0);
        tm_prom_histogram(b, "tidemark_event_time_lag_seconds", l.task, 1, &sums[p].event_time_lag,
                          0.001);
    }
    free(sums);
    restore_counter(b, cfg, t, "tidemark_restore_records_total",
                    "Changelog records replayed while restoring the task.",
                    offsetof(totals, restore_records));
    restore_counter(b, cfg, t, "tidemark_changelog_foreign_records_total",
                    "Changelog records restores skipped as not tidemark's.",
                    offsetof(totals, foreign_records));
}

/* Event time (Unix ms) as Prometheus seconds. */
static double seconds(int64_t ms)
{
    return (double)ms / 1000.0;
}

static bool paused_at(const tm_watermark *wm, size_t part, int64_t now)
{
    (void)now;
    return tm_watermark_is_paused(wm, part);
}

/* A 0/1 gauge of every owned input partition: flag(its task's watermark
 * state, topic index, now). */
static void input_flags(tm_buf *b, const tm_config *cfg, const tm_task_view *tasks, size_t n,
                        int64_t now, const char *name, const char *help,
                        bool (*flag)(const tm_watermark *, size_t, int64_t))
{
    labels l;
    tm_prom_family(b, name, "gauge", help);
    for (size_t k = 0; k < n; k++) {
        const tm_watermark *wm = tm_engine_clock(tasks[k].engine);
        for (size_t i = 0; i < cfg->n_input_topics; i++) {
            labels_of(&l, cfg, tasks[k].partition, i);
            tm_prom_sample(b, name, l.input, 2, flag(wm, i, now) ? 1 : 0);
        }
    }
}

static void render_task_gauges(tm_telemetry *t, tm_buf *b, const tm_task_view *tasks, size_t n,
                               int64_t now)
{
    const tm_config *cfg = t->cfg;
    labels l;
    tm_prom_family(b, "tidemark_consumer_lag_records", "gauge",
                   "End of the input partition (high watermark) minus the consumer's position.");
    for (size_t k = 0; k < n; k++)
        for (size_t i = 0; i < cfg->n_input_topics; i++)
            if (tasks[k].consumer_lag[i] >= 0) {
                labels_of(&l, cfg, tasks[k].partition, i);
                tm_prom_sample(b, "tidemark_consumer_lag_records", l.input, 2,
                               (double)tasks[k].consumer_lag[i]);
            }
    tm_prom_family(b, "tidemark_partition_watermark_seconds", "gauge",
                   "The input partition's watermark: its largest event time minus "
                   "max_out_of_orderness.");
    for (size_t k = 0; k < n; k++) {
        const tm_watermark *wm = tm_engine_clock(tasks[k].engine);
        for (size_t i = 0; i < cfg->n_input_topics; i++)
            if (wm->parts[i].max_t != TM_WATERMARK_MIN) {
                labels_of(&l, cfg, tasks[k].partition, i);
                tm_prom_sample(b, "tidemark_partition_watermark_seconds", l.input, 2,
                               seconds(tm_watermark_partition(wm, i)));
            }
    }
    input_flags(b, cfg, tasks, n, now, "tidemark_partition_idle",
                "1 while the input partition is idle and does not hold the watermark back.",
                tm_watermark_is_idle);
    input_flags(b, cfg, tasks, n, now, "tidemark_input_paused",
                "1 while watermark alignment pauses reading the input partition.", paused_at);
    tm_prom_family(b, "tidemark_watermark_seconds", "gauge",
                   "The task watermark (event time, Unix seconds).");
    for (size_t k = 0; k < n; k++) {
        int64_t watermark = tm_engine_watermark(tasks[k].engine);
        if (watermark == TM_WATERMARK_MIN)
            continue;
        labels_of(&l, cfg, tasks[k].partition, 0);
        tm_prom_sample(b, "tidemark_watermark_seconds", l.task, 1, seconds(watermark));
    }
    tm_prom_family(b, "tidemark_watermark_lag_seconds", "gauge", "Now minus the task watermark.");
    for (size_t k = 0; k < n; k++) {
        int64_t watermark = tm_engine_watermark(tasks[k].engine);
        if (watermark == TM_WATERMARK_MIN)
            continue;
        labels_of(&l, cfg, tasks[k].partition, 0);
        tm_prom_sample(b, "tidemark_watermark_lag_seconds", l.task, 1,
                       seconds(tm_sat_sub(now, watermark)));
    }
    tm_prom_family(b, "tidemark_open_windows", "gauge", "Windows held in state.");
    for (size_t k = 0; k < n; k++) {
        labels_of(&l, cfg, tasks[k].partition, 0);
        tm_prom_sample(b, "tidemark_open_windows", l.task, 1,
                       (double)tm_engine_window_count(tasks[k].engine));
    }
    tm_prom_family(b, "tidemark_dedup_entries", "gauge", "Dedup keys held in state.");
    for (size_t k = 0; k < n; k++) {
        labels_of(&l, cfg, tasks[k].partition, 0);
        tm_prom_sample(b, "tidemark_dedup_entries", l.task, 1,
                       (double)tm_engine_dedup_entries(tasks[k].engine));
    }
    tm_prom_family(b, "tidemark_state_bytes", "gauge", "Bytes of the task's LMDB store in use.");
    for (size_t k = 0; k < n; k++) {
        labels_of(&l, cfg, tasks[k].partition, 0);
        tm_prom_sample(b, "tidemark_state_bytes", l.task, 1, (double)tasks[k].state_bytes);
    }
}

/* ---- the watermark's sources (SEMANTICS 11) ---- */

/* One task's sources at a publication, as its engine combines them: a
 * single-stage task's input partitions (its clock), or a paired task's
 * source tasks (its window half's view: what their last watermark records
 * said). */
typedef struct task_sources {
    tm_watermark_source *src; /* n, owned */
    size_t n;
    size_t holding; /* tm_watermark_holding's: the one W's value comes from */
    bool paired;
} task_sources;

static void sources_of(task_sources *ts, const tm_config *cfg, const tm_engine *e, int64_t now)
{
    ts->paired = tm_engine_paired(e);
    if (ts->paired) {
        const tm_watermark_source *view = tm_engine_sources(e, &ts->n);
        ts->src = tm_xcalloc(ts->n + 1, sizeof *ts->src);
        memcpy(ts->src, view, ts->n * sizeof *view);
    } else {
        const tm_watermark *wm = tm_engine_clock(e);
        ts->n = cfg->n_input_topics;
        ts->src = tm_xcalloc(ts->n + 1, sizeof *ts->src);
        for (size_t i = 0; i < ts->n; i++)
            ts->src[i] = (tm_watermark_source){tm_watermark_partition(wm, i),
                                               tm_watermark_is_idle(wm, i, now)};
    }
    /* Both kinds combine with watermark.quantile (1 for min), as the
     * engine does. */
    int64_t *scratch = tm_xcalloc(ts->n + 1, sizeof *scratch);
    ts->holding = tm_watermark_holding(ts->src, ts->n, cfg->watermark_quantile, scratch);
    free(scratch);
}

/* One sample of a per-source family: task `partition`, and its source i
 * named "<topic>/<p>" for the input partition (topic, p) (a Kafka topic
 * name has no '/' and at most 249 characters), or "source-task:<s>" for
 * source task s (a topic name has no ':' either, so the two never meet). */
static void source_sample(tm_buf *b, const char *name, const tm_config *cfg, int32_t partition,
                          const task_sources *ts, size_t i, double v)
{
    labels l;
    char source[288];
    labels_of(&l, cfg, partition, 0);
    if (ts->paired)
        snprintf(source, sizeof source, "source-task:%zu", i);
    else
        snprintf(source, sizeof source, "%s/%s", cfg->input_topics[i], l.partition);
    tm_prom_label two[2] = {l.task[0], {"source", source}};
    tm_prom_sample(b, name, two, 2, v);
}

/* Each owned task's view of its sources at now: their watermarks, idle
 * flags and the one that holds W back. */
static void render_watermark_sources(tm_telemetry *t, tm_buf *b, const tm_task_view *tasks,
                                     size_t n, int64_t now)
{
    const tm_config *cfg = t->cfg;
    task_sources *ts = tm_xcalloc(n + 1, sizeof *ts);
    for (size_t k = 0; k < n; k++)
        sources_of(&ts[k], cfg, tasks[k].engine, now);
    tm_prom_family(b, "tidemark_watermark_source_seconds", "gauge",
                   "The watermark of one source of the task (event time, Unix seconds).");
    for (size_t k = 0; k < n; k++)
        for (size_t i = 0; i < ts[k].n; i++)
            if (ts[k].src[i].watermark != TM_WATERMARK_MIN)
                source_sample(b, "tidemark_watermark_source_seconds", cfg, tasks[k].partition,
                              &ts[k], i, seconds(ts[k].src[i].watermark));
    tm_prom_family(b, "tidemark_watermark_source_idle", "gauge",
                   "1 while the source is idle and left out of the task watermark.");
    for (size_t k = 0; k < n; k++)
        for (size_t i = 0; i < ts[k].n; i++)
            source_sample(b, "tidemark_watermark_source_idle", cfg, tasks[k].partition, &ts[k], i,
                          ts[k].src[i].idle ? 1 : 0);
    tm_prom_family(b, "tidemark_watermark_source_holding", "gauge",
                   "1 for the one source of the task whose watermark is the combined one "
                   "(watermark.combine): it holds the task watermark back.");
    for (size_t k = 0; k < n; k++)
        for (size_t i = 0; i < ts[k].n; i++)
            source_sample(b, "tidemark_watermark_source_holding", cfg, tasks[k].partition, &ts[k],
                          i, ts[k].holding == i ? 1 : 0);
    for (size_t k = 0; k < n; k++)
        free(ts[k].src);
    free(ts);
}

/* ---- repartitioning (SEMANTICS 10): the two halves of paired tasks ---- */

void tm_telemetry_repartition(tm_telemetry *t, const uint64_t *routed, size_t n_windows,
                              uint64_t foreign)
{
    if (!t->routed || n_windows != t->n_windows) {
        t->routed = tm_xrealloc(t->routed, (n_windows + 1) * sizeof *t->routed);
        t->n_windows = n_windows;
    }
    memcpy(t->routed, routed, n_windows * sizeof *routed);
    t->repartition_foreign = foreign;
}

/* A paired task's source half (its own watermark, which it publishes to
 * every window task), and the repartition topic: what each window task
 * read, how far behind it is, and what this instance's source tasks
 * routed. The families are there for every pipeline (the metric set does
 * not depend on the configuration); their samples only when it
 * repartitions. */
static void render_repartition(tm_telemetry *t, tm_buf *b, const tm_task_view *tasks, size_t n)
{
    const tm_config *cfg = t->cfg;
    size_t nt = cfg->n_input_topics;
    labels l;
    tm_prom_family(b, "tidemark_source_task_watermark_seconds", "gauge",
                   "The watermark of the task's source half (event time, Unix seconds), which it "
                   "publishes to every window task at the next checkpoint in which it changed.");
    for (size_t k = 0; k < n; k++) {
        if (!tm_engine_paired(tasks[k].engine))
            continue;
        tm_watermark_source mark = tm_engine_source_mark(tasks[k].engine);
        if (mark.watermark == TM_WATERMARK_MIN)
            continue;
        labels_of(&l, cfg, tasks[k].partition, 0);
        tm_prom_sample(b, "tidemark_source_task_watermark_seconds", l.task, 1,
                       seconds(mark.watermark));
    }
    tm_prom_family(b, "tidemark_source_task_idle", "gauge",
                   "1 while every input partition of the task's source half is idle.");
    for (size_t k = 0; k < n; k++)
        if (tm_engine_paired(tasks[k].engine)) {
            labels_of(&l, cfg, tasks[k].partition, 0);
            tm_prom_sample(b, "tidemark_source_task_idle", l.task, 1,
                           tm_engine_source_mark(tasks[k].engine).idle ? 1 : 0);
        }
    tm_prom_family(b, "tidemark_repartition_lag_records", "gauge",
                   "End of the task's partition of the repartition topic minus the consumer's "
                   "position.");
    for (size_t k = 0; k < n; k++)
        if (tm_engine_paired(tasks[k].engine) && tasks[k].consumer_lag[nt] >= 0) {
            labels_of(&l, cfg, tasks[k].partition, 0);
            tm_prom_sample(b, "tidemark_repartition_lag_records", l.task, 1,
                           (double)tasks[k].consumer_lag[nt]);
        }
    bool repartitions = tm_config_repartitions(cfg);
    tm_prom_family(b, "tidemark_repartition_records_consumed_total", "counter",
                   "Records the window task read from its partition of the repartition topic.");
    for (size_t p = 0; repartitions && p < t->n_totals; p++) {
        const totals *tot = &t->totals[p];
        const tm_task_view *live = view_of(tasks, n, tot->partition);
        bool paired = live && tm_engine_paired(live->engine);
        labels_of(&l, cfg, tot->partition, 0);
        tm_prom_sample(b, "tidemark_repartition_records_consumed_total", l.task, 1,
                       (double)(tot->consumed[nt] + (paired ? live->consumed[nt] : 0)));
    }
    tm_prom_family(b, "tidemark_repartition_routed_records_total", "counter",
                   "Events this instance's source tasks wrote to the window task's partition of "
                   "the repartition topic.");
    for (size_t r = 0; r < t->n_windows; r++) {
        char window[24];
        snprintf(window, sizeof window, "%zu", r);
        tm_prom_sample(b, "tidemark_repartition_routed_records_total",
                       &(tm_prom_label){"window_task", window}, 1, (double)t->routed[r]);
    }
    tm_prom_family(b, "tidemark_repartition_foreign_records_total", "counter",
                   "Records of the repartition topic skipped as not tidemark's.");
    if (repartitions)
        tm_prom_sample(b, "tidemark_repartition_foreign_records_total", NULL, 0,
                       (double)t->repartition_foreign);
}

static void render_process(tm_telemetry *t, tm_buf *b, size_t n_tasks, bool ready)
{
    tm_prom_family(b, "tidemark_build_info", "gauge", "Always 1; the version is a label.");
    tm_prom_sample(b, "tidemark_build_info", &(tm_prom_label){"version", TM_VERSION}, 1, 1);
    tm_prom_family(b, "tidemark_ready", "gauge", "1 when /readyz answers 200.");
    tm_prom_sample(b, "tidemark_ready", NULL, 0, ready ? 1 : 0);
    tm_prom_family(b, "tidemark_assigned_tasks", "gauge", "Tasks this instance owns.");
    tm_prom_sample(b, "tidemark_assigned_tasks", NULL, 0, (double)n_tasks);
    tm_prom_family(b, "tidemark_commit_interval_seconds", "gauge",
                   "The configured commit_interval_ms, in seconds.");
    tm_prom_sample(b, "tidemark_commit_interval_seconds", NULL, 0,
                   seconds(t->cfg->commit_interval_ms));
    tm_prom_family(b, "tidemark_checkpoint_duration_seconds", "histogram",
                   "Time to produce a checkpoint and commit its transaction.");
    tm_prom_histogram(b, "tidemark_checkpoint_duration_seconds", NULL, 0, &t->commit_duration,
                      0.001);
    tm_prom_family(b, "tidemark_last_checkpoint_timestamp_seconds", "gauge",
                   "Unix time of the last committed checkpoint (0: none yet).");
    tm_prom_sample(b, "tidemark_last_checkpoint_timestamp_seconds", NULL, 0,
                   seconds(t->last_commit));
    tm_prom_family(b, "tidemark_transactions_committed_total", "counter",
                   "Transactions committed.");
    tm_prom_sample(b, "tidemark_transactions_committed_total", NULL, 0, (double)t->committed);
    tm_prom_family(b, "tidemark_transactions_aborted_total", "counter",
                   "Transactions aborted (each rewinds every task to its last checkpoint).");
    tm_prom_sample(b, "tidemark_transactions_aborted_total", NULL, 0, (double)t->aborted);
    tm_prom_family(b, "tidemark_input_pauses_total", "counter",
                   "Input partitions paused by watermark alignment.");
    tm_prom_sample(b, "tidemark_input_pauses_total", NULL, 0, (double)t->pauses);
    tm_prom_family(b, "tidemark_restore_duration_seconds", "histogram",
                   "Time to restore one task (store scan plus changelog tail).");
    tm_prom_histogram(b, "tidemark_restore_duration_seconds", NULL, 0, &t->restore_duration, 0.001);
}

void tm_telemetry_timestamp_types(tm_telemetry *t, size_t topic, unsigned types)
{
    t->ts_types[topic] = types;
}

/* Per input topic and timestamp type: 1 once a record of that type came. */
static void render_timestamp_types(tm_telemetry *t, tm_buf *b)
{
    tm_prom_family(b, "tidemark_input_timestamp_type", "gauge",
                   "1 when the input topic has delivered records with this timestamp type "
                   "(create_time: the receipt time is the producer's clock).");
    for (size_t i = 0; i < t->cfg->n_input_topics; i++)
        for (size_t k = 0; k < TM_TS_TYPE_COUNT_; k++) {
            tm_prom_label l[2] = {{"topic", t->cfg->input_topics[i]},
                                  {"type", tm_ts_type_name((tm_ts_type)k)}};
            tm_prom_sample(b, "tidemark_input_timestamp_type", l, 2, (t->ts_types[i] >> k) & 1u);
        }
}

bool tm_telemetry_due(const tm_telemetry *t, int64_t now)
{
    return now - t->last_publish >= PUBLISH_EVERY_MS;
}

void tm_telemetry_publish(tm_telemetry *t, const tm_task_view *tasks, size_t n, int64_t now)
{
    /* Every owned partition has totals, so the counters cover it. */
    for (size_t k = 0; k < n; k++)
        totals_of(t, tasks[k].partition);
    pthread_mutex_lock(&t->lock);
    bool ready = health_at(t, now).not_ready == NULL;
    pthread_mutex_unlock(&t->lock);

    tm_buf_reset(&t->render);
    render_process(t, &t->render, n, ready);
    render_counters(t, &t->render, tasks, n);
    render_task_gauges(t, &t->render, tasks, n, now);
    render_watermark_sources(t, &t->render, tasks, n, now);
    render_repartition(t, &t->render, tasks, n);
    render_timestamp_types(t, &t->render);

    pthread_mutex_lock(&t->lock);
    tm_buf swap = t->published;
    t->published = t->render;
    t->render = swap;
    pthread_mutex_unlock(&t->lock);
    t->last_publish = now;
}

/* ---- lifecycle ---- */

int tm_telemetry_open(tm_telemetry **out, const tm_config *cfg, char *errstr, size_t errlen)
{
    tm_telemetry *t = tm_xcalloc(1, sizeof *t);
    t->cfg = cfg;
    t->ts_types = tm_xcalloc(cfg->n_input_topics + 1, sizeof *t->ts_types);
    pthread_mutex_init(&t->lock, NULL);
    tm_histogram_init(&t->commit_duration, &tm_commit_duration_bounds);
    tm_histogram_init(&t->restore_duration, &tm_restore_duration_bounds);
    /* Start-up (joining the cluster, init_transactions) counts as alive
     * for one stall timeout. */
    t->last_alive = t->last_poll = tm_wall_clock_ms();
    /* Something to scrape before the first publication. */
    tm_telemetry_publish(t, NULL, 0, t->last_alive);
    if (cfg->metrics_port > 0) {
        char err[256];
        if (tm_http_start(&t->http, (int)cfg->metrics_port, handle, t, err, sizeof err) < 0) {
            tm_telemetry_close(t);
            return tm_seterr(errstr, errlen, TM_EIO, "metrics.port: %s", err);
        }
        TM_LOG(TM_LOG_INFO, "telemetry", "serving /metrics, /healthz and /readyz on port %d",
               tm_http_port(t->http));
    }
    *out = t;
    return TM_OK;
}

void tm_telemetry_close(tm_telemetry *t)
{
    if (!t)
        return;
    tm_http_stop(t->http); /* no handler runs after this */
    for (size_t i = 0; i < t->n_totals; i++)
        free(t->totals[i].consumed);
    free(t->totals);
    free(t->ts_types);
    free(t->routed);
    tm_buf_free(&t->published);
    tm_buf_free(&t->render);
    pthread_mutex_destroy(&t->lock);
    free(t);
}
