/*
 * watermark.c: SEMANTICS 5, see watermark.h for the invariants.
 */
#include "watermark.h"

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "alloc.h"
#include "num.h"

void tm_watermark_init(tm_watermark *wm, size_t n_parts, int64_t max_out_of_orderness_ms,
                       int64_t idle_timeout_ms, int64_t start_time)
{
    assert(n_parts > 0);
    wm->parts = tm_xcalloc(n_parts, sizeof *wm->parts);
    wm->n_parts = n_parts;
    wm->max_out_of_orderness_ms = max_out_of_orderness_ms;
    wm->idle_timeout_ms = idle_timeout_ms;
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
    free(wm->paused_since);
    wm->parts = NULL;
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
    int64_t min_active = INT64_MAX;
    int64_t max_all = TM_WATERMARK_MIN;
    bool any_active = false;
    for (size_t i = 0; i < wm->n_parts; i++) {
        int64_t pw = tm_watermark_partition(wm, i);
        if (pw > max_all)
            max_all = pw;
        if (tm_watermark_is_idle(wm, i, now))
            continue;
        any_active = true;
        if (pw < min_active)
            min_active = pw;
    }
    int64_t computed = any_active ? min_active : max_all;
    if (computed > wm->task_watermark)
        wm->task_watermark = computed;
    return wm->task_watermark;
}
