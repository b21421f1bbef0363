/*
 * window.c: see window.h for the invariants.
 *
 * Each window is one allocation (header, accumulators, key bytes). Windows
 * are found by (key, start) for tumbling and hopping, and by key for
 * sessions: the index holds the key's last session, of a list linked both
 * ways in start order. An event's sessions are looked for from the last
 * one backwards, as events mostly come near the end of event time (in
 * order, or a little late): from the first one, each event walked every
 * session of its key, which batch results (batch.h), where no session
 * expires, made quadratic. Two heaps order them: `due`
 * holds the windows that have not fired yet, by (end, start, key), and
 * `held` holds every window by end, for expiry.
 */
#include "window.h"

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "hash.h"
#include "heap.h"
#include "num.h"
#include "table.h"

typedef struct window {
    int64_t start;
    int64_t end;
    int64_t count;
    int64_t revision; /* -1 until first emitted */
    bool fired;
    size_t due_pos;      /* in ws->due, or TM_HEAP_NONE once fired */
    size_t held_pos;     /* in ws->held */
    struct window *next; /* sessions: the key's next session by start */
    struct window *prev; /* sessions: the key's previous session by start */
    size_t dirty_pos;    /* in ws->dirty, or TM_HEAP_NONE when unchanged */
    bool persisted;      /* a checkpoint has seen it: its deletion is a change */
    char *key;           /* points into this allocation, after acc */
    size_t key_len;
    double acc[]; /* one per aggregation */
} window;

/* Table entry: (key, start) -> window, or for sessions key -> last
 * session of the key. */
typedef struct window_slot {
    uint64_t hash;
    window *win;
} window_slot;

typedef struct window_lookup {
    const char *key;
    size_t key_len;
    int64_t start;
} window_lookup;

/* One window of a tumbling or hopping event, before it is looked up. */
typedef struct window_span {
    int64_t start, end;
} window_span;

struct tm_windows {
    const tm_config *cfg;
    bool sessions;
    int64_t size; /* tumbling: advance == size */
    int64_t advance;
    int64_t offset;
    int64_t gap;
    int64_t lateness;
    tm_table index;
    tm_heap due;
    tm_heap held;
    window_span *spans; /* scratch: one event's windows */
    size_t max_starts;
    double *scratch_acc; /* scratch: a session merge's accumulators */

    /* Changes since the last tm_windows_drain_changes, when tracked. */
    bool track;
    window **dirty;
    size_t n_dirty, cap_dirty;
    window_lookup *deleted; /* keys are copies, owned here */
    size_t n_deleted, cap_deleted;
};

const char *tm_trigger_name(tm_trigger t)
{
    switch (t) {
    case TM_TRIGGER_WATERMARK:
        return "watermark";
    case TM_TRIGGER_LATE_EVENT:
        return "late_event";
    case TM_TRIGGER_BACKFILL:
        return "backfill";
    }
    return "?";
}

/* ---- ordering ---- */

static int cmp_i64(int64_t a, int64_t b)
{
    return (a > b) - (a < b);
}

static int cmp_key(const window *a, const window *b)
{
    size_t n = a->key_len < b->key_len ? a->key_len : b->key_len;
    int c = n ? memcmp(a->key, b->key, n) : 0;
    return c ? c : cmp_i64((int64_t)a->key_len, (int64_t)b->key_len);
}

/* A heap element: the window's end (the priority) and the window. */
typedef struct window_ref {
    int64_t end;
    window *win;
} window_ref;

static void push_ref(tm_heap *h, window *w)
{
    window_ref r = {w->end, w};
    tm_heap_push(h, &r);
}

/* Among windows of equal end, firing goes by start, then key bytes. */
static int due_tie(const void *pa, const void *pb)
{
    const window *a = ((const window_ref *)pa)->win, *b = ((const window_ref *)pb)->win;
    int c = cmp_i64(a->start, b->start);
    return c ? c : cmp_key(a, b);
}

static void due_moved(void *elem, size_t pos)
{
    ((window_ref *)elem)->win->due_pos = pos;
}

static void held_moved(void *elem, size_t pos)
{
    ((window_ref *)elem)->win->held_pos = pos;
}

/* ---- index ---- */

static uint64_t key_hash(const char *key, size_t key_len)
{
    return tm_hash64(key, key_len, 0x77696e646f77ull);
}

static uint64_t lookup_hash(const tm_windows *ws, const window_lookup *k)
{
    uint64_t h = key_hash(k->key, k->key_len);
    /* Sessions are indexed by key alone. */
    return ws->sessions ? h : tm_hash_combine(h, (uint64_t)k->start);
}

static bool slot_eq_key(const void *entry, const void *key)
{
    const window *w = ((const window_slot *)entry)->win;
    const window_lookup *k = key;
    return w->key_len == k->key_len && memcmp(w->key, k->key, k->key_len) == 0;
}

static bool slot_eq_key_start(const void *entry, const void *key)
{
    return slot_eq_key(entry, key) &&
           ((const window_slot *)entry)->win->start == ((const window_lookup *)key)->start;
}

static window_slot *index_find(const tm_windows *ws, const window_lookup *k)
{
    return tm_table_find(&ws->index, lookup_hash(ws, k),
                         ws->sessions ? slot_eq_key : slot_eq_key_start, k);
}

static window_lookup lookup_of(const window *w)
{
    return (window_lookup){w->key, w->key_len, w->start};
}

/* ---- window life cycle ---- */

static size_t n_aggs(const tm_windows *ws)
{
    return ws->cfg->n_aggs;
}

static window *window_new(tm_windows *ws, const char *key, size_t key_len, int64_t start,
                          int64_t end)
{
    size_t acc_bytes = n_aggs(ws) * sizeof(double);
    window *w = tm_xcalloc(1, sizeof *w + acc_bytes + key_len);
    w->start = start;
    w->end = end;
    w->revision = -1;
    w->key = (char *)w->acc + acc_bytes;
    w->key_len = key_len;
    if (key_len)
        memcpy(w->key, key, key_len);
    w->due_pos = TM_HEAP_NONE;
    w->dirty_pos = TM_HEAP_NONE;
    push_ref(&ws->due, w);
    push_ref(&ws->held, w);
    return w;
}

/* Records that w changed since the last checkpoint. */
static void mark_dirty(tm_windows *ws, window *w)
{
    if (!ws->track || w->dirty_pos != TM_HEAP_NONE)
        return;
    ws->dirty = tm_grow(ws->dirty, &ws->cap_dirty, ws->n_dirty + 1, sizeof *ws->dirty);
    w->dirty_pos = ws->n_dirty;
    ws->dirty[ws->n_dirty++] = w;
}

/* Records that w is going away: a deletion for the changelog if a
 * checkpoint has seen it, and no pending change either way. */
static void mark_deleted(tm_windows *ws, window *w)
{
    if (!ws->track)
        return;
    if (w->dirty_pos != TM_HEAP_NONE) {
        window *last = ws->dirty[--ws->n_dirty];
        ws->dirty[w->dirty_pos] = last;
        last->dirty_pos = w->dirty_pos;
    }
    if (!w->persisted)
        return;
    ws->deleted = tm_grow(ws->deleted, &ws->cap_deleted, ws->n_deleted + 1, sizeof *ws->deleted);
    ws->deleted[ws->n_deleted++] =
        (window_lookup){tm_xmemdup0(w->key, w->key_len), w->key_len, w->start};
}

/* Takes w out of both heaps and frees it; the caller has unlinked it from
 * the index. */
static void window_free(tm_windows *ws, window *w)
{
    mark_deleted(ws, w);
    if (w->due_pos != TM_HEAP_NONE)
        tm_heap_remove(&ws->due, w->due_pos);
    tm_heap_remove(&ws->held, w->held_pos);
    free(w);
}

/* Folds one event's values into accumulators acc that already hold count
 * events. */
static void acc_add(const tm_windows *ws, double *acc, int64_t count, const double *values)
{
    for (size_t i = 0; i < n_aggs(ws); i++) {
        double v = values[i];
        switch (ws->cfg->aggs[i].op) {
        case TM_AGG_COUNT:
            break;
        case TM_AGG_SUM:
        case TM_AGG_AVG:
            acc[i] += v;
            break;
        case TM_AGG_MIN:
            if (count == 0 || v < acc[i])
                acc[i] = v;
            break;
        case TM_AGG_MAX:
            if (count == 0 || v > acc[i])
                acc[i] = v;
            break;
        }
    }
}

/* Folds window src's accumulators into acc, which holds count events. */
static void acc_merge(const tm_windows *ws, double *acc, int64_t count, const window *src)
{
    if (count == 0) {
        memcpy(acc, src->acc, n_aggs(ws) * sizeof(double));
        return;
    }
    acc_add(ws, acc, count, src->acc);
}

static void emit_result(const window *w, tm_trigger trigger, tm_emit_fn emit, void *ctx)
{
    tm_window_result r = {
        .key = w->key,
        .key_len = w->key_len,
        .start = w->start,
        .end = w->end,
        .revision = w->revision,
        .trigger = trigger,
        .count = w->count,
        .acc = w->acc,
    };
    emit(ctx, &r);
}

static void emit_tombstone(const window *w, tm_emit_fn emit, void *ctx)
{
    tm_window_result r = {
        .key = w->key, .key_len = w->key_len, .start = w->start, .end = w->end, .tombstone = true};
    emit(ctx, &r);
}

/* Emits w (due by the watermark, or at once for a late event) and marks
 * it fired. */
static void fire_now(tm_windows *ws, window *w, tm_trigger trigger, tm_emit_fn emit, void *ctx)
{
    if (w->due_pos != TM_HEAP_NONE) {
        tm_heap_remove(&ws->due, w->due_pos);
        w->due_pos = TM_HEAP_NONE;
    }
    w->fired = true;
    w->revision++;
    mark_dirty(ws, w);
    emit_result(w, trigger, emit, ctx);
}

/* ---- tumbling and hopping ---- */

/*
 * The windows that contain t, ascending by start; returns how many. With
 * d = t - start (r for the latest window, then r + advance, ... while
 * below size), each end is t + (size - d), so that it stays aligned even
 * when the start does not fit: a window that would start before INT64_MIN
 * starts there (and the ones below it are dropped), and an end past
 * INT64_MAX saturates (issue 9).
 */
static size_t hopping_windows(tm_windows *ws, int64_t t)
{
    int64_t a = ws->advance;
    /* (t - offset) mod a without overflowing for any t. */
    int64_t r = (t % a - ws->offset % a) % a;
    if (r < 0)
        r += a;
    size_t n = 0;
    for (int64_t d = r; n < ws->max_starts; d += a) {
        window_span *w = &ws->spans[n++];
        w->start = tm_sat_sub(t, d);
        w->end = tm_sat_add(t, ws->size - d);
        /* d + a >= size: the last window; written so that it cannot overflow. */
        if (w->start == INT64_MIN || d >= ws->size - a)
            break;
    }
    for (size_t i = 0; i < n / 2; i++) {
        window_span tmp = ws->spans[i];
        ws->spans[i] = ws->spans[n - 1 - i];
        ws->spans[n - 1 - i] = tmp;
    }
    return n;
}

static tm_add_result add_fixed(tm_windows *ws, const char *key, size_t key_len, int64_t t,
                               const double *values, int64_t watermark, tm_emit_fn emit, void *ctx)
{
    size_t n = hopping_windows(ws, t);
    bool any = false, late = false;
    for (size_t i = 0; i < n; i++) {
        int64_t start = ws->spans[i].start, end = ws->spans[i].end;
        if (watermark >= tm_sat_add(end, ws->lateness))
            continue; /* too late for this window */
        window_lookup k = {key, key_len, start};
        window_slot *slot = index_find(ws, &k);
        window *win;
        if (slot) {
            win = slot->win;
        } else {
            win = window_new(ws, key, key_len, start, end);
            window_slot *fresh = tm_table_insert(&ws->index, lookup_hash(ws, &k));
            fresh->win = win;
        }
        acc_add(ws, win->acc, win->count, values);
        win->count++;
        mark_dirty(ws, win);
        any = true;
        if (watermark >= end) {
            late = true;
            fire_now(ws, win, TM_TRIGGER_LATE_EVENT, emit, ctx);
        }
    }
    if (!any)
        return TM_ADD_TOO_LATE;
    return late ? TM_ADD_LATE : TM_ADD_ON_TIME;
}

/* ---- sessions ---- */

static window_slot *session_slot(tm_windows *ws, const char *key, size_t key_len)
{
    window_lookup k = {key, key_len, 0};
    return index_find(ws, &k);
}

static tm_add_result add_session(tm_windows *ws, const char *key, size_t key_len, int64_t t,
                                 const double *values, int64_t watermark, tm_emit_fn emit,
                                 void *ctx)
{
    int64_t s = t, e = tm_sat_add(t, ws->gap);
    window_slot *slot = session_slot(ws, key, key_len);

    /* The sessions this event touches form one run of the sorted list
     * (their starts and ends both ascend): [first, after), those with
     * start <= e and end >= s; before is the one preceding it. */
    window *after = NULL, *at = slot ? slot->win : NULL;
    while (at && at->start > e) {
        after = at;
        at = at->prev;
    }
    window *first = after;
    while (at && at->end >= s) {
        first = at;
        at = at->prev;
    }
    window *before = at;
    int64_t ms = s, me = e;
    int64_t revision = -1;
    for (window *r = first; r != after; r = r->next) {
        if (r->start < ms)
            ms = r->start;
        if (r->end > me)
            me = r->end;
        if (r->revision > revision)
            revision = r->revision;
    }
    if (watermark >= tm_sat_add(me, ws->lateness))
        return TM_ADD_TOO_LATE; /* nothing changes */

    /* Combine the run's accumulators in ascending start order, then add the
     * event. The run's first session survives when it keeps its start (its
     * output key is unchanged); every other one is merged away. */
    double *acc = ws->scratch_acc;
    memset(acc, 0, n_aggs(ws) * sizeof(double));
    int64_t count = 0;
    for (window *x = first; x != after; x = x->next) {
        acc_merge(ws, acc, count, x);
        count += x->count;
    }
    acc_add(ws, acc, count, values);
    count++;

    window *survivor = (first != after && first->start == ms) ? first : NULL;
    bool was_fired = survivor && survivor->fired;
    for (window *x = survivor ? first->next : first; x != after;) {
        window *next = x->next;
        if (x->revision >= 0)
            emit_tombstone(x, emit, ctx);
        window_free(ws, x);
        x = next;
    }
    window *target = survivor;
    if (!target) {
        target = window_new(ws, key, key_len, ms, me);
    } else {
        target->end = me;
        tm_heap_remove(&ws->held, target->held_pos);
        push_ref(&ws->held, target);
    }
    target->prev = before;
    target->next = after;
    target->count = count;
    target->revision = revision;
    memcpy(target->acc, acc, n_aggs(ws) * sizeof(double));
    mark_dirty(ws, target);
    if (before)
        before->next = target;
    if (after)
        after->prev = target;
    else if (slot)
        slot->win = target;
    else
        ((window_slot *)tm_table_insert(&ws->index, key_hash(key, key_len)))->win = target;

    if (watermark >= me) {
        fire_now(ws, target, TM_TRIGGER_LATE_EVENT, emit, ctx);
        return TM_ADD_LATE;
    }
    /* Not due yet: (re)queue it, its end may have moved. */
    if (target->due_pos != TM_HEAP_NONE)
        tm_heap_remove(&ws->due, target->due_pos);
    target->fired = false;
    push_ref(&ws->due, target);
    return was_fired ? TM_ADD_LATE : TM_ADD_ON_TIME;
}

/* ---- firing and expiry ---- */

/* Unlinks an expiring window from the index. Sessions expire in end order,
 * and a key's sessions are disjoint, so an expiring session is always the
 * first of its key; the index holds the last, which changes only when it
 * is the same. */
static void index_unlink(tm_windows *ws, window *w)
{
    window_lookup k = lookup_of(w);
    window_slot *slot = index_find(ws, &k);
    assert(slot && !w->prev && (w->next || slot->win == w));
    if (ws->sessions && w->next)
        w->next->prev = NULL;
    else
        tm_table_remove(&ws->index, slot);
}

size_t tm_windows_advance(tm_windows *ws, int64_t watermark, tm_emit_fn emit, void *ctx)
{
    for (window_ref *top = tm_heap_top(&ws->due); top && top->end <= watermark;
         top = tm_heap_top(&ws->due)) {
        fire_now(ws, top->win, TM_TRIGGER_WATERMARK, emit, ctx);
    }
    size_t expired = 0;
    for (window_ref *top = tm_heap_top(&ws->held);
         top && tm_sat_add(top->end, ws->lateness) <= watermark; top = tm_heap_top(&ws->held)) {
        window *win = top->win;
        assert(win->fired);
        index_unlink(ws, win);
        window_free(ws, win);
        expired++;
    }
    return expired;
}

size_t tm_windows_count(const tm_windows *ws)
{
    return ws->held.len;
}

/* ---- public ---- */

tm_windows *tm_windows_new(const tm_config *cfg)
{
    tm_windows *ws = tm_xcalloc(1, sizeof *ws);
    ws->cfg = cfg;
    ws->sessions = cfg->window_type == TM_WINDOW_SESSION;
    ws->size = cfg->window_size_ms;
    ws->advance = cfg->window_type == TM_WINDOW_HOPPING ? cfg->window_advance_ms : ws->size;
    ws->offset = cfg->window_offset_ms;
    ws->gap = cfg->window_gap_ms;
    ws->lateness = cfg->allowed_lateness_ms;
    tm_table_init(&ws->index, sizeof(window_slot));
    tm_heap_init(&ws->due, sizeof(window_ref), due_tie, due_moved);
    tm_heap_init(&ws->held, sizeof(window_ref), NULL, held_moved);
    if (!ws->sessions) {
        /* ceil(size / advance), without size + advance overflowing. */
        ws->max_starts = (size_t)(ws->size / ws->advance + (ws->size % ws->advance != 0));
        ws->spans = tm_xcalloc(ws->max_starts, sizeof *ws->spans);
    }
    ws->scratch_acc = tm_xcalloc(cfg->n_aggs, sizeof(double));
    return ws;
}

void tm_windows_free(tm_windows *ws)
{
    if (!ws)
        return;
    window_ref *all = (window_ref *)(void *)ws->held.items;
    for (size_t i = 0; i < ws->held.len; i++)
        free(all[i].win);
    tm_table_destroy(&ws->index);
    tm_heap_destroy(&ws->due);
    tm_heap_destroy(&ws->held);
    for (size_t i = 0; i < ws->n_deleted; i++)
        free((char *)ws->deleted[i].key);
    free(ws->deleted);
    free(ws->dirty);
    free(ws->spans);
    free(ws->scratch_acc);
    free(ws);
}

tm_add_result tm_windows_add(tm_windows *ws, const char *key, size_t key_len, int64_t t,
                             const double *values, int64_t watermark, tm_emit_fn emit, void *ctx)
{
    if (ws->sessions)
        return add_session(ws, key, key_len, t, values, watermark, emit, ctx);
    return add_fixed(ws, key, key_len, t, values, watermark, emit, ctx);
}

/* ---- checkpoints ---- */

void tm_windows_track_changes(tm_windows *ws)
{
    ws->track = true;
}

static tm_window_state state_of(const window *w)
{
    return (tm_window_state){w->key,   w->key_len,  w->start, w->end,
                             w->count, w->revision, w->fired, w->acc};
}

void tm_windows_drain_changes(tm_windows *ws, tm_window_change_fn fn, void *ctx)
{
    /* Deletions first: a window deleted and created again under the same
     * key and start since the last checkpoint must end up present. */
    for (size_t i = 0; i < ws->n_deleted; i++) {
        const window_lookup *d = &ws->deleted[i];
        tm_window_state st = {.key = d->key, .key_len = d->key_len, .start = d->start};
        fn(ctx, &st, true);
        free((char *)d->key);
    }
    ws->n_deleted = 0;
    for (size_t i = 0; i < ws->n_dirty; i++) {
        window *w = ws->dirty[i];
        tm_window_state st = state_of(w);
        fn(ctx, &st, false);
        w->dirty_pos = TM_HEAP_NONE;
        w->persisted = true;
    }
    ws->n_dirty = 0;
}

/* Links a restored session into its key's list, which is sorted by start
 * (looked through from the last, where a restore in start order adds). */
static void session_link(tm_windows *ws, window *w)
{
    window_slot *slot = session_slot(ws, w->key, w->key_len);
    if (!slot) {
        ((window_slot *)tm_table_insert(&ws->index, key_hash(w->key, w->key_len)))->win = w;
        return;
    }
    window *after = NULL, *x = slot->win;
    while (x && x->start > w->start) {
        after = x;
        x = x->prev;
    }
    w->prev = x;
    w->next = after;
    if (x)
        x->next = w;
    if (after)
        after->prev = w;
    else
        slot->win = w;
}

void tm_windows_restore(tm_windows *ws, const tm_window_state *st)
{
    window *w = window_new(ws, st->key, st->key_len, st->start, st->end);
    /* window_new queued it by its end; set the rest, then unqueue it from
     * firing if it has fired. */
    w->count = st->count;
    w->revision = st->revision;
    w->fired = st->fired;
    w->persisted = true;
    memcpy(w->acc, st->acc, n_aggs(ws) * sizeof(double));
    if (w->fired) {
        tm_heap_remove(&ws->due, w->due_pos);
        w->due_pos = TM_HEAP_NONE;
    }
    if (ws->sessions) {
        session_link(ws, w);
        return;
    }
    window_lookup k = lookup_of(w);
    ((window_slot *)tm_table_insert(&ws->index, lookup_hash(ws, &k)))->win = w;
}
