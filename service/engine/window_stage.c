/*
 * window_stage.c: see window_stage.h.
 */
#include "window_stage.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "num.h"

/* Carries the sink into the window module's emit callback. */
typedef struct emit_ctx {
    tm_window_stage *st;
    const tm_engine_sink *sink;
} emit_ctx;

static void emit_window(void *ctx, const tm_window_result *r)
{
    emit_ctx *c = ctx;
    if (r->tombstone)
        c->st->stats->tombstones++;
    else
        c->st->stats->emissions[r->trigger]++;
    c->sink->result(c->sink->ctx, c->st->partition, r);
}

/* Dedup memory is reclaimed in expiry buckets of 1/16 of the TTL (at least
 * 1 ms, at most a minute): entries outlive their expiry by at most that,
 * about 6% more memory, for sequential reclaiming. */
static int64_t dedup_bucket_ms(const tm_config *cfg)
{
    int64_t b = cfg->dedup_ttl_ms / 16;
    return b < 1 ? 1 : b > 60000 ? 60000 : b;
}

void tm_window_stage_init(tm_window_stage *st, const tm_config *cfg, int32_t partition,
                          tm_engine_stats *stats)
{
    st->cfg = cfg;
    st->partition = partition;
    st->stats = stats;
    tm_dedup_init(&st->dedup, dedup_bucket_ms(cfg));
    st->windows = tm_windows_new(cfg);
}

void tm_window_stage_destroy(tm_window_stage *st)
{
    tm_dedup_destroy(&st->dedup);
    tm_windows_free(st->windows);
}

/* SEMANTICS 4: returns false when the record is a duplicate, and holds its
 * key otherwise. ev->t is the event time as decoded (part of the key), t the
 * time after clamping (which sets the expiry). */
static bool admit_dedup(tm_window_stage *st, const tm_event *ev, int64_t t, int64_t watermark)
{
    const tm_config *cfg = st->cfg;
    if (!cfg->dedup_enabled)
        return true;
    tm_dedup_hash h =
        tm_dedup_hash_of(ev->id, ev->id_len, cfg->dedup_key == TM_DEDUP_ID_EVENT_TIME, ev->t);
    if (tm_dedup_holds(&st->dedup, h, watermark)) {
        st->stats->duplicates++;
        return false;
    }
    int64_t expiry = tm_sat_add(t, cfg->dedup_ttl_ms);
    /* An entry that would already be expired is not worth holding. */
    if (expiry > watermark)
        tm_dedup_hold(&st->dedup, h, expiry, watermark);
    return true;
}

bool tm_window_stage_add(tm_window_stage *st, const tm_record *rec, const tm_event *ev, int64_t t,
                         int64_t watermark, const tm_engine_sink *sink)
{
    if (!admit_dedup(st, ev, t, watermark))
        return false;
    emit_ctx c = {st, sink};
    tm_add_result added = tm_windows_add(st->windows, ev->key, ev->key_len, t, ev->values,
                                         watermark, emit_window, &c);
    if (added == TM_ADD_TOO_LATE) {
        st->stats->too_late++;
        if (st->cfg->late_action == TM_LATE_DROP)
            st->stats->late_dropped++;
        else
            sink->late(sink->ctx, st->partition, rec, watermark);
    } else {
        st->stats->accepted++;
        if (added == TM_ADD_LATE)
            st->stats->late_accepted++;
    }
    return true;
}

void tm_window_stage_advance(tm_window_stage *st, int64_t watermark, const tm_engine_sink *sink)
{
    emit_ctx c = {st, sink};
    st->stats->windows_expired += tm_windows_advance(st->windows, watermark, emit_window, &c);
    st->stats->dedup_released += tm_dedup_expire(&st->dedup, watermark);
}
