/*
 * engine.c: see engine.h. The per-record order is SEMANTICS 7's:
 * decode -> clock skew (and the wall-clock guard) (intake) -> dedup ->
 * windows, with W as it was before the record (window_stage) -> max_t, W,
 * fire, expire. A paired task splits it where SEMANTICS 10 does: its
 * source half (source_task) up to max_t, its window half (window_task)
 * from dedup on; both count into the task's totals.
 */
#include "engine.h"

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "err.h"
#include "intake.h"
#include "source_task.h"
#include "window_stage.h"
#include "window_task.h"

struct tm_engine {
    const tm_config *cfg;
    tm_engine_stats stats;
    /* A single-stage task: */
    tm_intake *intake;
    tm_window_stage stage;
    tm_watermark wm;
    /* A paired task (source NULL otherwise): */
    tm_source_task *source;
    tm_window_task *window;
    tm_watermark_source *view; /* the window half's, n_sources */
    size_t n_sources;
    tm_watermark_source mark;      /* the source half's, as of the last tick */
    tm_watermark_source published; /* the mark last taken, if any_published */
    bool any_published;
};

int tm_engine_open(tm_engine **out, const tm_config *cfg, int32_t partition, int64_t start_time,
                   char *errstr, size_t errlen)
{
    tm_engine *e = tm_xcalloc(1, sizeof *e);
    int rc = tm_intake_open(&e->intake, cfg, &e->stats, errstr, errlen);
    if (rc < 0) {
        free(e);
        return rc;
    }
    e->cfg = cfg;
    tm_histogram_init(&e->stats.event_time_lag, &tm_event_time_lag_bounds);
    tm_window_stage_init(&e->stage, cfg, partition, &e->stats);
    tm_watermark_init(&e->wm, cfg->n_input_topics, cfg->max_out_of_orderness_ms,
                      cfg->idle_timeout_ms, cfg->watermark_quantile, start_time);
    *out = e;
    return TM_OK;
}

int tm_engine_open_paired(tm_engine **out, const tm_config *cfg, int32_t partition,
                          size_t n_sources, int64_t start_time, char *errstr, size_t errlen)
{
    assert(n_sources > 0 && partition >= 0 && (size_t)partition < n_sources);
    tm_engine *e = tm_xcalloc(1, sizeof *e);
    e->cfg = cfg;
    tm_histogram_init(&e->stats.event_time_lag, &tm_event_time_lag_bounds);
    int rc = tm_source_task_open(&e->source, cfg, partition, start_time, &e->stats, errstr, errlen);
    if (rc < 0) {
        free(e);
        return rc;
    }
    e->window = tm_window_task_open(cfg, partition, n_sources, TM_WATERMARK_MIN, &e->stats);
    e->n_sources = n_sources;
    e->view = tm_xmalloc(n_sources * sizeof *e->view);
    for (size_t i = 0; i < n_sources; i++)
        e->view[i] = (tm_watermark_source){TM_WATERMARK_MIN, false};
    e->mark = tm_source_task_advance(e->source, start_time);
    *out = e;
    return TM_OK;
}

void tm_engine_close(tm_engine *e)
{
    if (!e)
        return;
    if (e->source) {
        tm_source_task_close(e->source);
        tm_window_task_close(e->window);
        free(e->view);
    } else {
        tm_intake_close(e->intake);
        tm_window_stage_destroy(&e->stage);
        tm_watermark_destroy(&e->wm);
    }
    free(e);
}

bool tm_engine_paired(const tm_engine *e)
{
    return e->source != NULL;
}

size_t tm_engine_task_topics(const tm_config *cfg)
{
    return cfg->n_input_topics + (tm_config_repartitions(cfg) ? 1 : 0);
}

/* The dedup and windows of the task, whichever kind it is. */
static tm_window_stage *stage_of(tm_engine *e)
{
    return e->window ? tm_window_task_stage(e->window) : &e->stage;
}

/* The same for the read-only accessors (the cast lets them share it). */
static const tm_window_stage *stage_of_const(const tm_engine *e)
{
    return stage_of((tm_engine *)e);
}

static tm_watermark *clock_of(tm_engine *e)
{
    return e->source ? tm_source_task_clock(e->source) : &e->wm;
}

void tm_engine_tick(tm_engine *e, int64_t now, const tm_engine_sink *sink)
{
    if (e->source)
        e->mark = tm_source_task_advance(e->source, now);
    else
        tm_window_stage_advance(&e->stage, tm_watermark_advance(&e->wm, now), sink);
}

void tm_engine_process(tm_engine *e, const tm_record *rec, int64_t now, const tm_engine_sink *sink)
{
    assert(!e->source && rec->topic_index < e->cfg->n_input_topics);
    e->stats.records++;
    tm_watermark_touch(&e->wm, rec->topic_index, now);
    tm_event ev;
    int64_t t;
    if (!tm_intake_decode(e->intake, rec, now, sink, &ev, &t))
        return;
    if (!tm_window_stage_add(&e->stage, rec, &ev, t, e->wm.task_watermark, sink))
        return;
    tm_watermark_observe(&e->wm, rec->topic_index, t);
    tm_engine_tick(e, now, sink);
}

int64_t tm_engine_watermark(const tm_engine *e)
{
    return e->window ? tm_window_task_watermark(e->window) : e->wm.task_watermark;
}

/* ---- paired tasks ---- */

bool tm_engine_forward(tm_engine *e, const tm_record *rec, int64_t now, const tm_engine_sink *sink,
                       tm_event *ev, int64_t *t)
{
    assert(e->source);
    bool forwarded = tm_source_task_process(e->source, rec, now, sink, ev, t);
    e->mark = tm_source_task_advance(e->source, now);
    return forwarded;
}

void tm_engine_receive_event(tm_engine *e, const tm_record *rec, const tm_event *ev, int64_t t,
                             const tm_engine_sink *sink)
{
    assert(e->window);
    tm_window_task_process(e->window, rec, ev, t, sink);
}

void tm_engine_receive_mark(tm_engine *e, int32_t source, tm_watermark_source mark,
                            const tm_engine_sink *sink)
{
    assert(e->window && source >= 0 && (size_t)source < e->n_sources);
    tm_watermark_source *v = &e->view[source];
    /* A source task's watermark never goes down (SEMANTICS 5); a record
     * from before a restore of that source cannot lower the view. */
    if (mark.watermark > v->watermark)
        v->watermark = mark.watermark;
    v->idle = mark.idle;
    tm_window_task_advance(e->window, e->view, sink);
}

tm_watermark_source tm_engine_source_mark(const tm_engine *e)
{
    assert(e->source);
    return e->mark;
}

bool tm_engine_mark_due(const tm_engine *e)
{
    /* Never published: the first checkpoint publishes, so that every
     * window task hears of every source, idle or not. */
    return e->source && (!e->any_published || e->mark.watermark != e->published.watermark ||
                         e->mark.idle != e->published.idle);
}

tm_watermark_source tm_engine_take_mark(tm_engine *e)
{
    assert(e->source);
    e->published = e->mark;
    e->any_published = true;
    return e->mark;
}

const tm_watermark_source *tm_engine_sources(const tm_engine *e, size_t *n_sources)
{
    *n_sources = e->n_sources;
    return e->view;
}

/* ---- both kinds ---- */

const tm_engine_stats *tm_engine_stats_of(const tm_engine *e)
{
    return &e->stats;
}

size_t tm_engine_window_count(const tm_engine *e)
{
    return tm_windows_count(stage_of_const(e)->windows);
}

size_t tm_engine_dedup_entries(const tm_engine *e)
{
    return tm_dedup_size(&stage_of_const(e)->dedup);
}

void tm_engine_track_changes(tm_engine *e)
{
    tm_windows_track_changes(stage_of(e)->windows);
    tm_dedup_track_changes(&stage_of(e)->dedup);
}

void tm_engine_drain_windows(tm_engine *e, tm_window_change_fn fn, void *ctx)
{
    tm_windows_drain_changes(stage_of(e)->windows, fn, ctx);
}

const tm_dedup_admitted *tm_engine_drain_dedup(tm_engine *e, size_t *n)
{
    return tm_dedup_drain_admitted(&stage_of(e)->dedup, n);
}

void tm_engine_set_paused(tm_engine *e, size_t topic_index, bool paused, int64_t now)
{
    if (paused)
        tm_watermark_pause(clock_of(e), topic_index, now);
    else
        tm_watermark_resume(clock_of(e), topic_index, now);
}

const tm_watermark *tm_engine_clock(const tm_engine *e)
{
    return clock_of((tm_engine *)e); /* read-only: see stage_of_const */
}

void tm_engine_restore_window(tm_engine *e, const tm_window_state *st)
{
    tm_windows_restore(stage_of(e)->windows, st);
}

void tm_engine_restore_dedup(tm_engine *e, tm_dedup_hash h, int64_t expiry)
{
    tm_dedup_restore(&stage_of(e)->dedup, h, expiry);
}

void tm_engine_restore_clock(tm_engine *e, const tm_partition_clock *parts, int64_t watermark)
{
    tm_watermark *wm = clock_of(e);
    memcpy(wm->parts, parts, wm->n_parts * sizeof *parts);
    if (e->window)
        tm_window_task_restore_watermark(e->window, watermark);
    else
        wm->task_watermark = watermark;
}

void tm_engine_restore_pairing(tm_engine *e, int64_t source_watermark,
                               tm_watermark_source published, const tm_watermark_source *view)
{
    assert(e->source);
    tm_source_task_clock(e->source)->task_watermark = source_watermark;
    e->published = e->mark = published;
    e->any_published = true;
    memcpy(e->view, view, e->n_sources * sizeof *view);
}
