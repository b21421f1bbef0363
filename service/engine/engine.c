/*
 * engine.c: see engine.h. The per-record order is SEMANTICS 7's:
 * decode -> clock skew (and the wall-clock guard) (intake) -> dedup ->
 * windows, with W as it was before the record (window_stage) -> max_t, W,
 * fire, expire.
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
#include "window_stage.h"

struct tm_engine {
    const tm_config *cfg;
    tm_intake *intake;
    tm_window_stage stage;
    tm_watermark wm;
    tm_engine_stats stats;
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

void tm_engine_close(tm_engine *e)
{
    if (!e)
        return;
    tm_intake_close(e->intake);
    tm_window_stage_destroy(&e->stage);
    tm_watermark_destroy(&e->wm);
    free(e);
}

void tm_engine_tick(tm_engine *e, int64_t now, const tm_engine_sink *sink)
{
    tm_window_stage_advance(&e->stage, tm_watermark_advance(&e->wm, now), sink);
}

void tm_engine_process(tm_engine *e, const tm_record *rec, int64_t now, const tm_engine_sink *sink)
{
    assert(rec->topic_index < e->cfg->n_input_topics);
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
    return e->wm.task_watermark;
}

const tm_engine_stats *tm_engine_stats_of(const tm_engine *e)
{
    return &e->stats;
}

size_t tm_engine_window_count(const tm_engine *e)
{
    return tm_windows_count(e->stage.windows);
}

size_t tm_engine_dedup_entries(const tm_engine *e)
{
    return tm_dedup_size(&e->stage.dedup);
}

void tm_engine_track_changes(tm_engine *e)
{
    tm_windows_track_changes(e->stage.windows);
    tm_dedup_track_changes(&e->stage.dedup);
}

void tm_engine_drain_windows(tm_engine *e, tm_window_change_fn fn, void *ctx)
{
    tm_windows_drain_changes(e->stage.windows, fn, ctx);
}

const tm_dedup_admitted *tm_engine_drain_dedup(tm_engine *e, size_t *n)
{
    return tm_dedup_drain_admitted(&e->stage.dedup, n);
}

void tm_engine_set_paused(tm_engine *e, size_t topic_index, bool paused, int64_t now)
{
    if (paused)
        tm_watermark_pause(&e->wm, topic_index, now);
    else
        tm_watermark_resume(&e->wm, topic_index, now);
}

const tm_watermark *tm_engine_clock(const tm_engine *e)
{
    return &e->wm;
}

void tm_engine_restore_window(tm_engine *e, const tm_window_state *st)
{
    tm_windows_restore(e->stage.windows, st);
}

void tm_engine_restore_dedup(tm_engine *e, tm_dedup_hash h, int64_t expiry)
{
    tm_dedup_restore(&e->stage.dedup, h, expiry);
}

void tm_engine_restore_clock(tm_engine *e, const tm_partition_clock *parts, int64_t watermark)
{
    memcpy(e->wm.parts, parts, e->wm.n_parts * sizeof *parts);
    e->wm.task_watermark = watermark;
}
