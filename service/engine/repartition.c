/*
 * repartition.c: see repartition.h.
 */
#include "repartition.h"

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "err.h"
#include "source_task.h"
#include "watermark.h"
#include "window_task.h"

struct tm_repartition {
    const tm_config *cfg;
    tm_source_task **sources; /* ascending partition */
    size_t n_sources;
    tm_watermark_source *marks; /* the sources' last delivery, n_sources */
    int64_t *scratch;           /* tm_watermark_combine's, n_sources */
    int32_t n_window_tasks;
    tm_window_task **windows; /* those created so far, ascending r */
    int32_t *window_r;        /* their r, parallel to windows */
    size_t n_windows;
    int64_t watermark; /* the W of every window task */
};

int tm_repartition_open(tm_repartition **out, const tm_config *cfg, const int32_t *sources,
                        size_t n_sources, int32_t n_window_tasks, int64_t start_time, char *errstr,
                        size_t errlen)
{
    assert(n_sources > 0 && n_window_tasks > 0);
    tm_repartition *p = tm_xcalloc(1, sizeof *p);
    p->cfg = cfg;
    p->sources = tm_xcalloc(n_sources, sizeof *p->sources);
    p->marks = tm_xcalloc(n_sources, sizeof *p->marks);
    p->scratch = tm_xcalloc(n_sources, sizeof *p->scratch);
    p->n_window_tasks = n_window_tasks;
    p->watermark = TM_WATERMARK_MIN;
    for (size_t i = 0; i < n_sources; i++) {
        assert(i == 0 || sources[i - 1] < sources[i]);
        int rc =
            tm_source_task_open(&p->sources[i], cfg, sources[i], start_time, NULL, errstr, errlen);
        if (rc < 0) {
            tm_repartition_close(p);
            return rc;
        }
        p->n_sources++;
    }
    *out = p;
    return TM_OK;
}

void tm_repartition_close(tm_repartition *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_sources; i++)
        tm_source_task_close(p->sources[i]);
    for (size_t i = 0; i < p->n_windows; i++)
        tm_window_task_close(p->windows[i]);
    free(p->sources);
    free(p->marks);
    free(p->scratch);
    free(p->windows);
    free(p->window_r);
    free(p);
}

static tm_source_task *source_of(const tm_repartition *p, int32_t partition)
{
    size_t lo = 0, hi = p->n_sources;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (tm_source_task_partition(p->sources[mid]) < partition)
            lo = mid + 1;
        else
            hi = mid;
    }
    assert(lo < p->n_sources && tm_source_task_partition(p->sources[lo]) == partition);
    return p->sources[lo];
}

/* Window task r, created on the first event routed to it. */
static tm_window_task *window_of(tm_repartition *p, int32_t r)
{
    size_t i = 0;
    while (i < p->n_windows && p->window_r[i] < r)
        i++;
    if (i < p->n_windows && p->window_r[i] == r)
        return p->windows[i];
    p->windows = tm_xrealloc(p->windows, (p->n_windows + 1) * sizeof *p->windows);
    p->window_r = tm_xrealloc(p->window_r, (p->n_windows + 1) * sizeof *p->window_r);
    memmove(&p->windows[i + 1], &p->windows[i], (p->n_windows - i) * sizeof *p->windows);
    memmove(&p->window_r[i + 1], &p->window_r[i], (p->n_windows - i) * sizeof *p->window_r);
    p->n_windows++;
    p->windows[i] = tm_window_task_open(p->cfg, r, p->n_sources, p->watermark, NULL);
    p->window_r[i] = r;
    return p->windows[i];
}

/* SEMANTICS 11's delivery in replay: every source's watermark and idle
 * flag at now reach every window task at once; then each, in ascending r,
 * recomputes W and fires and expires. */
static void deliver(tm_repartition *p, int64_t now, const tm_engine_sink *sink)
{
    for (size_t i = 0; i < p->n_sources; i++)
        p->marks[i] = tm_source_task_advance(p->sources[i], now);
    int64_t combined =
        tm_watermark_combine(p->marks, p->n_sources, p->cfg->watermark_quantile, p->scratch);
    if (combined > p->watermark)
        p->watermark = combined;
    for (size_t i = 0; i < p->n_windows; i++) {
        tm_window_task_advance(p->windows[i], p->marks, sink);
        assert(tm_window_task_watermark(p->windows[i]) == p->watermark);
    }
}

void tm_repartition_process(tm_repartition *p, const tm_record *rec, int64_t now,
                            const tm_engine_sink *sink)
{
    tm_event ev;
    int64_t t;
    if (tm_source_task_process(source_of(p, rec->partition), rec, now, sink, &ev, &t)) {
        int32_t r = tm_route(ev.key, ev.key_len, p->n_window_tasks);
        tm_window_task_process(window_of(p, r), rec, &ev, t, sink);
    }
    deliver(p, now, sink);
}

int64_t tm_repartition_watermark(const tm_repartition *p)
{
    return p->watermark;
}

void tm_repartition_stats(const tm_repartition *p, tm_engine_stats *out)
{
    memset(out, 0, sizeof *out);
    tm_histogram_init(&out->event_time_lag, &tm_event_time_lag_bounds);
    for (size_t i = 0; i < p->n_sources; i++)
        tm_engine_stats_add(out, tm_source_task_stats(p->sources[i]));
    for (size_t i = 0; i < p->n_windows; i++)
        tm_engine_stats_add(out, tm_window_task_stats(p->windows[i]));
}
