/*
 * source_task.c: see source_task.h.
 */
#include "source_task.h"

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "alloc.h"
#include "err.h"
#include "intake.h"
#include "murmur2.h"

struct tm_source_task {
    const tm_config *cfg;
    int32_t partition;
    tm_intake *intake;
    tm_watermark wm;        /* one part per input topic */
    tm_engine_stats *stats; /* &own or the caller's */
    tm_engine_stats own;
};

int32_t tm_route(const char *key, size_t key_len, int32_t n_window_tasks)
{
    return tm_murmur2_partition(key, key_len, n_window_tasks);
}

int tm_source_task_open(tm_source_task **out, const tm_config *cfg, int32_t partition,
                        int64_t start_time, tm_engine_stats *stats, char *errstr, size_t errlen)
{
    tm_source_task *s = tm_xcalloc(1, sizeof *s);
    s->stats = stats ? stats : &s->own;
    int rc = tm_intake_open(&s->intake, cfg, s->stats, errstr, errlen);
    if (rc < 0) {
        free(s);
        return rc;
    }
    s->cfg = cfg;
    s->partition = partition;
    if (!stats)
        tm_histogram_init(&s->own.event_time_lag, &tm_event_time_lag_bounds);
    /* SEMANTICS 11: a source task's watermark is its SEMANTICS 5 task
     * watermark, the minimum over its partitions (q = 1); the configured
     * combination applies where the window tasks combine the source
     * tasks. */
    tm_watermark_init(&s->wm, cfg->n_input_topics, cfg->max_out_of_orderness_ms,
                      cfg->idle_timeout_ms, 1, start_time);
    *out = s;
    return TM_OK;
}

void tm_source_task_close(tm_source_task *s)
{
    if (!s)
        return;
    tm_intake_close(s->intake);
    tm_watermark_destroy(&s->wm);
    free(s);
}

bool tm_source_task_process(tm_source_task *s, const tm_record *rec, int64_t now,
                            const tm_engine_sink *sink, tm_event *ev, int64_t *t)
{
    assert(rec->topic_index < s->cfg->n_input_topics);
    s->stats->records++;
    tm_watermark_touch(&s->wm, rec->topic_index, now);
    if (!tm_intake_decode(s->intake, rec, now, sink, ev, t))
        return false;
    tm_watermark_observe(&s->wm, rec->topic_index, *t);
    return true;
}

tm_watermark_source tm_source_task_advance(tm_source_task *s, int64_t now)
{
    tm_watermark_source src = {tm_watermark_advance(&s->wm, now), true};
    for (size_t i = 0; i < s->wm.n_parts && src.idle; i++)
        src.idle = tm_watermark_is_idle(&s->wm, i, now);
    return src;
}

int32_t tm_source_task_partition(const tm_source_task *s)
{
    return s->partition;
}

const tm_engine_stats *tm_source_task_stats(const tm_source_task *s)
{
    return s->stats;
}

tm_watermark *tm_source_task_clock(tm_source_task *s)
{
    return &s->wm;
}
