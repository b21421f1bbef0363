/*
 * engine.c: see engine.h. The per-record order is SEMANTICS 7's:
 * decode -> clock skew (and the wall-clock guard) -> dedup -> windows (with W as it was before the
 * record) -> max_t, W, fire, expire.
 */
#include "engine.h"

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "err.h"
#include "num.h"

struct tm_engine {
    const tm_config *cfg;
    int32_t partition;
    tm_decoder *decoder;
    tm_dedup dedup;
    tm_windows *windows;
    tm_watermark wm;
    tm_engine_stats stats;
};

/* Carries the sink into the window module's emit callback. */
typedef struct emit_ctx {
    tm_engine *e;
    const tm_engine_sink *sink;
} emit_ctx;

static void emit_window(void *ctx, const tm_window_result *r)
{
    emit_ctx *c = ctx;
    if (r->tombstone)
        c->e->stats.tombstones++;
    else
        c->e->stats.emissions[r->trigger]++;
    c->sink->result(c->sink->ctx, c->e->partition, r);
}

/* Dedup memory is reclaimed in expiry buckets of 1/16 of the TTL (at least
 * 1 ms, at most a minute): entries outlive their expiry by at most that,
 * about 6% more memory, for sequential reclaiming. */
static int64_t dedup_bucket_ms(const tm_config *cfg)
{
    int64_t b = cfg->dedup_ttl_ms / 16;
    return b < 1 ? 1 : b > 60000 ? 60000 : b;
}

int tm_engine_open(tm_engine **out, const tm_config *cfg, int32_t partition, int64_t start_time,
                   char *errstr, size_t errlen)
{
    tm_decoder *decoder = NULL;
    int rc = tm_decoder_open(&decoder, cfg, errstr, errlen);
    if (rc < 0)
        return rc;
    tm_engine *e = tm_xcalloc(1, sizeof *e);
    e->cfg = cfg;
    e->partition = partition;
    e->decoder = decoder;
    tm_histogram_init(&e->stats.event_time_lag, &tm_event_time_lag_bounds);
    tm_dedup_init(&e->dedup, dedup_bucket_ms(cfg));
    e->windows = tm_windows_new(cfg);
    tm_watermark_init(&e->wm, cfg->n_input_topics, cfg->max_out_of_orderness_ms,
                      cfg->idle_timeout_ms, cfg->watermark_quantile, start_time);
    *out = e;
    return TM_OK;
}

void tm_engine_close(tm_engine *e)
{
    if (!e)
        return;
    tm_decoder_close(e->decoder);
    tm_dedup_destroy(&e->dedup);
    tm_windows_free(e->windows);
    tm_watermark_destroy(&e->wm);
    free(e);
}

static void dead_letter(tm_engine *e, const tm_record *rec, tm_dlq_reason reason,
                        const char *detail, const tm_engine_sink *sink)
{
    e->stats.dead_letters[reason]++;
    sink->dead_letter(sink->ctx, rec, reason, detail);
}

/* clock_skew.action for an event time more than max_ahead ms past ref (the
 * time named ref_name): clamps *t to ref, or sends the record to the dead
 * letters and returns false. */
static bool act_on_skew(tm_engine *e, const tm_record *rec, int64_t *t, int64_t ref,
                        int64_t max_ahead, const char *ref_name, const tm_engine_sink *sink)
{
    if (e->cfg->clock_skew_action == TM_SKEW_CLAMP) {
        *t = ref;
        return true;
    }
    char detail[160];
    snprintf(detail, sizeof detail, "event time %lld is more than %lld ms ahead of the %s %lld",
             (long long)*t, (long long)max_ahead, ref_name, (long long)ref);
    dead_letter(e, rec, TM_DLQ_CLOCK_SKEW, detail, sink);
    return false;
}

/* SEMANTICS 3: returns false when the record went to the dead letters. */
static bool apply_clock_skew(tm_engine *e, const tm_record *rec, int64_t *t,
                             const tm_engine_sink *sink)
{
    const tm_config *cfg = e->cfg;
    if (!cfg->clock_skew_enabled || *t <= tm_sat_add(rec->ts, cfg->clock_skew_max_ahead_ms))
        return true;
    if (cfg->clock_skew_action == TM_SKEW_CLAMP)
        e->stats.clamped++;
    return act_on_skew(e, rec, t, rec->ts, cfg->clock_skew_max_ahead_ms, "receipt time", sink);
}

/* The same test against the processing time now (not in SEMANTICS 3): the
 * receipt time is the producer's own timestamp unless the topic uses
 * LogAppendTime, so a producer with a wrong clock passes SEMANTICS 3's
 * check with any event time. Returns false when the record went to the
 * dead letters. */
static bool apply_wall_guard(tm_engine *e, const tm_record *rec, int64_t *t, int64_t now,
                             const tm_engine_sink *sink)
{
    int64_t max_ahead = e->cfg->clock_skew_max_ahead_of_wall_ms;
    if (max_ahead == 0 || *t <= tm_sat_add(now, max_ahead))
        return true;
    e->stats.ahead_of_wall++;
    return act_on_skew(e, rec, t, now, max_ahead, "processing time", sink);
}

/* SEMANTICS 4: returns false when the record is a duplicate, and holds its
 * key otherwise. ev->t is the event time as decoded (part of the key), t the
 * time after clamping (which sets the expiry). */
static bool admit_dedup(tm_engine *e, const tm_event *ev, int64_t t)
{
    const tm_config *cfg = e->cfg;
    if (!cfg->dedup_enabled)
        return true;
    tm_dedup_hash h =
        tm_dedup_hash_of(ev->id, ev->id_len, cfg->dedup_key == TM_DEDUP_ID_EVENT_TIME, ev->t);
    if (tm_dedup_holds(&e->dedup, h, e->wm.task_watermark)) {
        e->stats.duplicates++;
        return false;
    }
    int64_t expiry = tm_sat_add(t, cfg->dedup_ttl_ms);
    /* An entry that would already be expired is not worth holding. */
    if (expiry > e->wm.task_watermark)
        tm_dedup_hold(&e->dedup, h, expiry, e->wm.task_watermark);
    return true;
}

void tm_engine_tick(tm_engine *e, int64_t now, const tm_engine_sink *sink)
{
    int64_t watermark = tm_watermark_advance(&e->wm, now);
    emit_ctx c = {e, sink};
    e->stats.windows_expired += tm_windows_advance(e->windows, watermark, emit_window, &c);
    e->stats.dedup_released += tm_dedup_expire(&e->dedup, watermark);
}

void tm_engine_process(tm_engine *e, const tm_record *rec, int64_t now, const tm_engine_sink *sink)
{
    assert(rec->topic_index < e->cfg->n_input_topics);
    e->stats.records++;
    tm_watermark_touch(&e->wm, rec->topic_index, now);

    tm_event ev;
    char detail[256];
    tm_dlq_reason reason = tm_decode(e->decoder, rec->key, rec->key_len, rec->value, rec->value_len,
                                     &ev, detail, sizeof detail);
    if (reason != TM_DLQ_NONE) {
        dead_letter(e, rec, reason, detail, sink);
        return;
    }
    tm_histogram_observe(&e->stats.event_time_lag, tm_sat_sub(now, ev.t));
    int64_t t = ev.t;
    if (!apply_clock_skew(e, rec, &t, sink) || !apply_wall_guard(e, rec, &t, now, sink))
        return;
    if (!admit_dedup(e, &ev, t))
        return;

    int64_t watermark_before = e->wm.task_watermark;
    emit_ctx c = {e, sink};
    tm_add_result added = tm_windows_add(e->windows, ev.key, ev.key_len, t, ev.values,
                                         watermark_before, emit_window, &c);
    if (added == TM_ADD_TOO_LATE) {
        e->stats.too_late++;
        if (e->cfg->late_action == TM_LATE_DROP)
            e->stats.late_dropped++;
        else
            sink->late(sink->ctx, rec, watermark_before);
    } else {
        e->stats.accepted++;
        if (added == TM_ADD_LATE)
            e->stats.late_accepted++;
    }
    tm_watermark_observe(&e->wm, rec->topic_index, t);
    tm_engine_tick(e, now, sink);
}

void tm_engine_stats_add(tm_engine_stats *dst, const tm_engine_stats *src)
{
    dst->records += src->records;
    dst->accepted += src->accepted;
    dst->late_accepted += src->late_accepted;
    dst->too_late += src->too_late;
    dst->late_dropped += src->late_dropped;
    dst->duplicates += src->duplicates;
    dst->clamped += src->clamped;
    dst->ahead_of_wall += src->ahead_of_wall;
    for (size_t i = 0; i < TM_DLQ_COUNT_; i++)
        dst->dead_letters[i] += src->dead_letters[i];
    for (size_t i = 0; i < sizeof dst->emissions / sizeof dst->emissions[0]; i++)
        dst->emissions[i] += src->emissions[i];
    dst->tombstones += src->tombstones;
    dst->windows_expired += src->windows_expired;
    dst->dedup_released += src->dedup_released;
    tm_histogram_add(&dst->event_time_lag, &src->event_time_lag);
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
    return tm_windows_count(e->windows);
}

size_t tm_engine_dedup_entries(const tm_engine *e)
{
    return tm_dedup_size(&e->dedup);
}

void tm_engine_track_changes(tm_engine *e)
{
    tm_windows_track_changes(e->windows);
    tm_dedup_track_changes(&e->dedup);
}

void tm_engine_drain_windows(tm_engine *e, tm_window_change_fn fn, void *ctx)
{
    tm_windows_drain_changes(e->windows, fn, ctx);
}

const tm_dedup_admitted *tm_engine_drain_dedup(tm_engine *e, size_t *n)
{
    return tm_dedup_drain_admitted(&e->dedup, n);
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
    tm_windows_restore(e->windows, st);
}

void tm_engine_restore_dedup(tm_engine *e, tm_dedup_hash h, int64_t expiry)
{
    tm_dedup_restore(&e->dedup, h, expiry);
}

void tm_engine_restore_clock(tm_engine *e, const tm_partition_clock *parts, int64_t watermark)
{
    memcpy(e->wm.parts, parts, e->wm.n_parts * sizeof *parts);
    e->wm.task_watermark = watermark;
}
