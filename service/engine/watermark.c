/*
 * watermark.c: SEMANTICS 5 and the combined watermark of SEMANTICS 11, see
 * watermark.h for the invariants.
 */
#include "watermark.h"

#include <assert.h>
#include <float.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "alloc.h"
#include "num.h"

/* k = ceil(q * m) within [1, m], where a q * m within rounding error of an
 * integer counts as that integer: q is the decimal the user wrote, and
 * 0.07 * 100 is 7.000000000000001 in binary floating point where the
 * decimal means 7 (a decimal q with few digits times a count never lands
 * that close above an integer otherwise). */
static size_t quantile_rank(double q, size_t m)
{
    double x = q * (double)m;
    double below = x - x * 4 * DBL_EPSILON;
    size_t k = below > 0 ? (size_t)below : 0;
    if ((double)k < below)
        k++;
    if (k < 1)
        k = 1;
    return k < m ? k : m;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int64_t tm_watermark_combine(const tm_watermark_source *sources, size_t n, double q,
                             int64_t *scratch)
{
    assert(n > 0 && q > 0 && q <= 1);
    int64_t max_all = TM_WATERMARK_MIN;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (sources[i].watermark > max_all)
            max_all = sources[i].watermark;
        if (!sources[i].idle)
            scratch[m++] = sources[i].watermark;
    }
    if (m == 0)
        return max_all;
    size_t k = quantile_rank(q, m);
    if (k == m) {
        /* The minimum: no need to sort (watermark.combine = min, the
         * default, takes this path on every record). */
        int64_t min = scratch[0];
        for (size_t i = 1; i < m; i++)
            if (scratch[i] < min)
                min = scratch[i];
        return min;
    }
    qsort(scratch, m, sizeof *scratch, cmp_i64);
    return scratch[m - k];
}

void tm_watermark_init(tm_watermark *wm, size_t n_parts, int64_t max_out_of_orderness_ms,
                       int64_t idle_timeout_ms, double q, int64_t start_time)
{
    assert(n_parts > 0 && q > 0 && q <= 1);
    wm->parts = tm_xcalloc(n_parts, sizeof *wm->parts);
    wm->n_parts = n_parts;
    wm->max_out_of_orderness_ms = max_out_of_orderness_ms;
    wm->idle_timeout_ms = idle_timeout_ms;
    wm->quantile = q;
    wm->sources = tm_xcalloc(n_parts, sizeof *wm->sources);
    wm->scratch = tm_xcalloc(n_parts, sizeof *wm->scratch);
    wm->task_watermark = TM_WATERMARK_MIN;
    wm->paused_since = tm_xmalloc(n_parts * sizeof *wm->paused_since);
    for (size_t i = 0; i < n_parts; i++) {
        wm->paused_since[i] = TM_WATERMARK_MIN;
        wm->parts[i].max_t = TM_WATERMARK_MIN;
        /* A partition that never sees a record goes idle counting from the
         * task's start (SEMANTICS 5). */
        wm->parts[i].last_record_time = start_time;
    }
}

void tm_watermark_destroy(tm_watermark *wm)
{
    free(wm->parts);
    free(wm->sources);
    free(wm->scratch);
    free(wm->paused_since);
    wm->parts = NULL;
    wm->sources = NULL;
    wm->scratch = NULL;
    wm->paused_since = NULL;
    wm->n_parts = 0;
}

void tm_watermark_touch(tm_watermark *wm, size_t part, int64_t now)
{
    assert(part < wm->n_parts);
    /* Processing time can step back in the live service (wall clock); the
     * last record time is the latest seen so that idleness is monotone. */
    if (now > wm->parts[part].last_record_time)
        wm->parts[part].last_record_time = now;
}

void tm_watermark_observe(tm_watermark *wm, size_t part, int64_t t)
{
    assert(part < wm->n_parts);
    if (t > wm->parts[part].max_t)
        wm->parts[part].max_t = t;
}

int64_t tm_watermark_partition(const tm_watermark *wm, size_t part)
{
    assert(part < wm->n_parts);
    int64_t max_t = wm->parts[part].max_t;
    if (max_t == TM_WATERMARK_MIN)
        return TM_WATERMARK_MIN;
    return tm_sat_sub(max_t, wm->max_out_of_orderness_ms);
}

/* How long part has been silent by now, paused time not counted: a
 * paused partition's silence stopped growing when its pause began. */
static int64_t silence(const tm_watermark *wm, size_t part, int64_t now)
{
    int64_t until = wm->paused_since[part] != TM_WATERMARK_MIN ? wm->paused_since[part] : now;
    return tm_sat_sub(until, wm->parts[part].last_record_time);
}

bool tm_watermark_is_idle(const tm_watermark *wm, size_t part, int64_t now)
{
    assert(part < wm->n_parts);
    if (wm->idle_timeout_ms <= 0)
        return false;
    return silence(wm, part, now) >= wm->idle_timeout_ms;
}

void tm_watermark_pause(tm_watermark *wm, size_t part, int64_t now)
{
    assert(part < wm->n_parts);
    if (wm->paused_since[part] == TM_WATERMARK_MIN)
        wm->paused_since[part] = now;
}

void tm_watermark_resume(tm_watermark *wm, size_t part, int64_t now)
{
    assert(part < wm->n_parts);
    if (wm->paused_since[part] == TM_WATERMARK_MIN)
        return;
    /* The silence before the pause is kept; the pause itself is skipped by
     * moving the last record time forward by its length. A record during
     * the pause (silence < 0) leaves nothing to keep. */
    int64_t before = silence(wm, part, now);
    wm->paused_since[part] = TM_WATERMARK_MIN;
    int64_t shifted = tm_sat_sub(now, before > 0 ? before : 0);
    if (shifted > wm->parts[part].last_record_time)
        wm->parts[part].last_record_time = shifted;
}

bool tm_watermark_is_paused(const tm_watermark *wm, size_t part)
{
    assert(part < wm->n_parts);
    return wm->paused_since[part] != TM_WATERMARK_MIN;
}

int64_t tm_watermark_advance(tm_watermark *wm, int64_t now)
{
    for (size_t i = 0; i < wm->n_parts; i++) {
        wm->sources[i].watermark = tm_watermark_partition(wm, i);
        wm->sources[i].idle = tm_watermark_is_idle(wm, i, now);
    }
    int64_t combined = tm_watermark_combine(wm->sources, wm->n_parts, wm->quantile, wm->scratch);
    if (combined > wm->task_watermark)
        wm->task_watermark = combined;
    return wm->task_watermark;
}

size_t tm_watermark_holding(const tm_watermark_source *sources, size_t n, double q,
                            int64_t *scratch)
{
    int64_t combined = tm_watermark_combine(sources, n, q, scratch);
    bool any_active = false;
    for (size_t i = 0; i < n; i++)
        any_active = any_active || !sources[i].idle;
    /* The combined value is a watermark of one of the sources it was taken
     * over, so the scan finds one. */
    size_t i = 0;
    while (sources[i].watermark != combined || (any_active && sources[i].idle)) {
        i++;
        assert(i < n);
    }
    return i;
}
