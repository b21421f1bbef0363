/*
 * window_task.c: see window_task.h.
 */
#include "window_task.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "alloc.h"

struct tm_window_task {
    tm_window_stage stage;
    double quantile;
    size_t n_sources;
    int64_t *scratch; /* tm_watermark_combine's, n_sources */
    int64_t watermark;
    tm_engine_stats *stats; /* &own or the caller's */
    tm_engine_stats own;
};

tm_window_task *tm_window_task_open(const tm_config *cfg, int32_t r, size_t n_sources,
                                    int64_t watermark, tm_engine_stats *stats)
{
    tm_window_task *w = tm_xcalloc(1, sizeof *w);
    w->stats = stats ? stats : &w->own;
    if (!stats)
        tm_histogram_init(&w->own.event_time_lag, &tm_event_time_lag_bounds);
    tm_window_stage_init(&w->stage, cfg, r, w->stats);
    w->quantile = cfg->watermark_quantile;
    w->n_sources = n_sources;
    w->scratch = tm_xcalloc(n_sources, sizeof *w->scratch);
    w->watermark = watermark;
    return w;
}

void tm_window_task_close(tm_window_task *w)
{
    if (!w)
        return;
    tm_window_stage_destroy(&w->stage);
    free(w->scratch);
    free(w);
}

void tm_window_task_process(tm_window_task *w, const tm_record *rec, const tm_event *ev, int64_t t,
                            const tm_engine_sink *sink)
{
    tm_window_stage_add(&w->stage, rec, ev, t, w->watermark, sink);
}

void tm_window_task_advance(tm_window_task *w, const tm_watermark_source *sources,
                            const tm_engine_sink *sink)
{
    int64_t combined = tm_watermark_combine(sources, w->n_sources, w->quantile, w->scratch);
    if (combined > w->watermark)
        w->watermark = combined;
    tm_window_stage_advance(&w->stage, w->watermark, sink);
}

int64_t tm_window_task_watermark(const tm_window_task *w)
{
    return w->watermark;
}

const tm_engine_stats *tm_window_task_stats(const tm_window_task *w)
{
    return w->stats;
}

void tm_window_task_restore_watermark(tm_window_task *w, int64_t watermark)
{
    w->watermark = watermark;
}

tm_window_stage *tm_window_task_stage(tm_window_task *w)
{
    return &w->stage;
}

size_t tm_window_task_window_count(const tm_window_task *w)
{
    return tm_windows_count(w->stage.windows);
}
