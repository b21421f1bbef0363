/*
 * batch.c: see batch.h. The per-record order is a task's (SEMANTICS 7):
 * intake (decode, clock skew) -> dedup -> windows, with the watermark at
 * minus infinity until tm_batch_finish moves it to plus infinity.
 */
#include "batch.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "alloc.h"
#include "err.h"
#include "hash.h"
#include "intake.h"
#include "watermark.h"

/* The watermark of tm_batch_finish: every window has end <= it (ends
 * saturate there), so every window fires and expires, and so does every
 * dedup key (held until it). */
#define BATCH_END INT64_MAX

/* The processing time batch passes to the intake: none. The wall-clock
 * guard compares event times with now + max_ahead_of_wall_ms, which
 * saturates here, so it never applies (batch.h). */
#define NO_PROCESSING_TIME INT64_MAX

/* The dedup memory is reclaimed only by tm_batch_finish, at once: one
 * bucket is enough, any width does. */
#define DEDUP_BUCKET_MS INT64_MAX

struct tm_batch {
    const tm_config *cfg;
    tm_intake *intake;
    tm_dedup dedup;
    tm_windows *windows;
    tm_engine_stats stats;
};

int tm_batch_open(tm_batch **out, const tm_config *cfg, char *errstr, size_t errlen)
{
    tm_batch *b = tm_xcalloc(1, sizeof *b);
    tm_histogram_init(&b->stats.event_time_lag, &tm_event_time_lag_bounds);
    int rc = tm_intake_open(&b->intake, cfg, &b->stats, errstr, errlen);
    if (rc < 0) {
        free(b);
        return rc;
    }
    b->cfg = cfg;
    tm_dedup_init(&b->dedup, DEDUP_BUCKET_MS);
    b->windows = tm_windows_new(cfg);
    *out = b;
    return TM_OK;
}

void tm_batch_close(tm_batch *b)
{
    if (!b)
        return;
    tm_intake_close(b->intake);
    tm_dedup_destroy(&b->dedup);
    tm_windows_free(b->windows);
    free(b);
}

/* The dedup hash of ev's id, scoped to its group key (batch.h): the
 * group key's own two 64-bit hashes, with its length mixed in (tm_hash64
 * lets the length cancel below 8 bytes), folded into the halves. */
static tm_dedup_hash scoped_dedup_hash(const tm_config *cfg, const tm_event *ev)
{
    tm_dedup_hash h =
        tm_dedup_hash_of(ev->id, ev->id_len, cfg->dedup_key == TM_DEDUP_ID_EVENT_TIME, ev->t);
    uint64_t len = (uint64_t)ev->key_len;
    h.lo = tm_hash_combine(h.lo,
                           tm_hash_combine(tm_hash64(ev->key, ev->key_len, 0x6261746368ull), len));
    h.hi = tm_hash_combine(h.hi,
                           tm_hash_combine(tm_hash64(ev->key, ev->key_len, 0x73636f7065ull), len));
    return h;
}

bool tm_batch_decode(tm_batch *b, const tm_record *rec, const tm_engine_sink *sink,
                     tm_batch_event *ev)
{
    b->stats.records++;
    tm_event dec;
    int64_t t;
    if (!tm_intake_decode(b->intake, rec, NO_PROCESSING_TIME, sink, &dec, &t))
        return false;
    *ev = (tm_batch_event){.key = dec.key, .key_len = dec.key_len, .t = t, .values = dec.values};
    if (b->cfg->dedup_enabled)
        ev->dedup = scoped_dedup_hash(b->cfg, &dec);
    return true;
}

/* No window emits before tm_batch_finish (the watermark is minus
 * infinity): an emission here would be a broken invariant. */
static void emit_none(void *ctx, const tm_window_result *r)
{
    (void)ctx;
    (void)r;
    tm_die("batch: a window emitted before the end of its run");
}

bool tm_batch_add_event(tm_batch *b, const tm_batch_event *ev)
{
    if (b->cfg->dedup_enabled) {
        if (tm_dedup_holds(&b->dedup, ev->dedup, TM_WATERMARK_MIN)) {
            b->stats.duplicates++;
            return false;
        }
        tm_dedup_hold(&b->dedup, ev->dedup, BATCH_END, TM_WATERMARK_MIN);
    }
    tm_windows_add(b->windows, ev->key, ev->key_len, ev->t, ev->values, TM_WATERMARK_MIN, emit_none,
                   NULL);
    b->stats.accepted++;
    return true;
}

void tm_batch_add(tm_batch *b, const tm_record *rec, const tm_engine_sink *sink)
{
    tm_batch_event ev;
    if (tm_batch_decode(b, rec, sink, &ev))
        tm_batch_add_event(b, &ev);
}

/* Counts each result on its way to the caller's emit. */
typedef struct finish_ctx {
    tm_batch *b;
    tm_emit_fn emit;
    void *ctx;
} finish_ctx;

static void emit_result(void *ctx, const tm_window_result *r)
{
    finish_ctx *f = ctx;
    f->b->stats.emissions[TM_TRIGGER_WATERMARK]++;
    f->emit(f->ctx, r);
}

void tm_batch_finish(tm_batch *b, tm_emit_fn emit, void *ctx)
{
    finish_ctx f = {b, emit, ctx};
    tm_windows_advance(b->windows, BATCH_END, emit_result, &f);
    tm_dedup_expire(&b->dedup, BATCH_END);
}

size_t tm_batch_window_count(const tm_batch *b)
{
    return tm_windows_count(b->windows);
}

size_t tm_batch_dedup_entries(const tm_batch *b)
{
    return tm_dedup_size(&b->dedup);
}

const tm_engine_stats *tm_batch_stats(const tm_batch *b)
{
    return &b->stats;
}
