/*
 * Unit tests of window.c: assignment, firing and expiry boundaries,
 * revisions, session merging and tombstones.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "window.h"

#define MAX_EMITS 64

typedef struct emitted {
    char key[32];
    int64_t start, end, revision, count;
    bool tombstone;
    tm_trigger trigger;
    double acc[4];
} emitted;

typedef struct recorder {
    emitted e[MAX_EMITS];
    size_t n;
} recorder;

static void record(void *ctx, const tm_window_result *r)
{
    recorder *rec = ctx;
    cr_assert_lt(rec->n, MAX_EMITS);
    emitted *e = &rec->e[rec->n++];
    memset(e, 0, sizeof *e);
    snprintf(e->key, sizeof e->key, "%.*s", (int)r->key_len, r->key);
    e->start = r->start;
    e->end = r->end;
    e->tombstone = r->tombstone;
    if (!r->tombstone) {
        e->revision = r->revision;
        e->count = r->count;
        e->trigger = r->trigger;
        memcpy(e->acc, r->acc, 2 * sizeof(double));
    }
}

static tm_agg_spec aggs[2] = {{"sum", TM_AGG_SUM, "/v"}, {"max", TM_AGG_MAX, "/v"}};

static tm_config cfg_of(tm_window_type type, int64_t size, int64_t advance, int64_t gap,
                        int64_t lateness)
{
    tm_config c;
    memset(&c, 0, sizeof c);
    c.window_type = type;
    c.window_size_ms = size;
    c.window_advance_ms = advance;
    c.window_gap_ms = gap;
    c.allowed_lateness_ms = lateness;
    c.aggs = aggs;
    c.n_aggs = 2;
    return c;
}

static tm_add_result add(tm_windows *ws, const char *key, int64_t t, double v, int64_t w,
                         recorder *r)
{
    double values[2] = {v, v};
    return tm_windows_add(ws, key, strlen(key), t, values, w, record, r);
}

Test(window, tumbling_fires_exactly_at_w_equals_end)
{
    tm_config c = cfg_of(TM_WINDOW_TUMBLING, 100, 0, 0, 50);
    tm_windows *ws = tm_windows_new(&c);
    recorder r = {0};
    cr_assert_eq(add(ws, "k", 5, 1, INT64_MIN, &r), TM_ADD_ON_TIME);
    tm_windows_advance(ws, 99, record, &r);
    cr_assert_eq(r.n, 0, "W = end - 1 must not fire");
    tm_windows_advance(ws, 100, record, &r);
    cr_assert_eq(r.n, 1);
    cr_assert_eq(r.e[0].start, 0);
    cr_assert_eq(r.e[0].end, 100);
    cr_assert_eq(r.e[0].revision, 0);
    cr_assert_eq(r.e[0].trigger, TM_TRIGGER_WATERMARK);
    tm_windows_free(ws);
}

Test(window, lateness_boundary_w_equals_end_plus_l)
{
    tm_config c = cfg_of(TM_WINDOW_TUMBLING, 100, 0, 0, 50);
    tm_windows *ws = tm_windows_new(&c);
    recorder r = {0};
    add(ws, "k", 5, 1, INT64_MIN, &r);
    tm_windows_advance(ws, 149, record, &r);
    cr_assert_eq(tm_windows_count(ws), 1, "W = end + L - 1 keeps the window");
    /* Still accepted one ms before expiry: a late refire. */
    cr_assert_eq(add(ws, "k", 7, 2, 149, &r), TM_ADD_LATE);
    cr_assert_eq(r.n, 2);
    cr_assert_eq(r.e[1].revision, 1);
    cr_assert_eq(r.e[1].trigger, TM_TRIGGER_LATE_EVENT);
    cr_assert_eq(r.e[1].count, 2);
    cr_assert_float_eq(r.e[1].acc[0], 3.0, 1e-12);
    tm_windows_advance(ws, 150, record, &r);
    cr_assert_eq(tm_windows_count(ws), 0, "W = end + L expires");
    cr_assert_eq(add(ws, "k", 7, 2, 150, &r), TM_ADD_TOO_LATE);
    cr_assert_eq(r.n, 2, "expired windows emit nothing");
    tm_windows_free(ws);
}

Test(window, new_window_past_end_fires_at_once)
{
    tm_config c = cfg_of(TM_WINDOW_TUMBLING, 100, 0, 0, 50);
    tm_windows *ws = tm_windows_new(&c);
    recorder r = {0};
    cr_assert_eq(add(ws, "fresh", 10, 4, 120, &r), TM_ADD_LATE);
    cr_assert_eq(r.n, 1);
    cr_assert_eq(r.e[0].revision, 0);
    cr_assert_eq(r.e[0].trigger, TM_TRIGGER_LATE_EVENT);
    tm_windows_advance(ws, 120, record, &r);
    cr_assert_eq(r.n, 1, "an emitted window does not fire again by watermark");
    tm_windows_free(ws);
}

Test(window, negative_times_floor_to_window_start)
{
    tm_config c = cfg_of(TM_WINDOW_TUMBLING, 100, 0, 0, 0);
    c.window_offset_ms = 30;
    tm_windows *ws = tm_windows_new(&c);
    recorder r = {0};
    add(ws, "k", -1, 1, INT64_MIN, &r);  /* [-70, 30) */
    add(ws, "k", -71, 1, INT64_MIN, &r); /* [-170, -70) */
    tm_windows_advance(ws, 1000, record, &r);
    cr_assert_eq(r.n, 2);
    cr_assert_eq(r.e[0].start, -170);
    cr_assert_eq(r.e[0].end, -70);
    cr_assert_eq(r.e[1].start, -70);
    cr_assert_eq(r.e[1].end, 30);
    tm_windows_free(ws);
}

/* A window size beyond 2^62 (a hand-built config: the loader bounds it at
 * 2^53) overflowed working out how many windows hold an event (issue 9);
 * a window whose end passes INT64_MAX ends there. */
Test(window, sizes_and_times_at_the_int64_limits)
{
    const int64_t size = 3 * ((int64_t)1 << 61);
    tm_config c = cfg_of(TM_WINDOW_TUMBLING, size, 0, 0, 0);
    tm_windows *ws = tm_windows_new(&c);
    recorder r = {0};
    cr_assert_eq(add(ws, "k", INT64_MAX - 1, 1, INT64_MIN, &r), TM_ADD_ON_TIME);
    cr_assert_eq(add(ws, "k", -size, 1, INT64_MIN, &r), TM_ADD_ON_TIME);
    tm_windows_advance(ws, 0, record, &r);
    cr_assert_eq(r.n, 1, "only [-size, 0) has ended");
    cr_assert_eq(r.e[0].start, -size);
    cr_assert_eq(r.e[0].end, 0);
    tm_windows_advance(ws, INT64_MAX, record, &r);
    cr_assert_eq(r.n, 2);
    cr_assert_eq(r.e[1].start, size);
    cr_assert_eq(r.e[1].end, INT64_MAX, "[size, 2 x size) saturates at INT64_MAX");
    tm_windows_free(ws);
}

/* Windows that would start before INT64_MIN start there but keep their
 * aligned end: tumbling windows must not overlap (issue 9: the end was
 * start + size from the clipped start). */
Test(window, a_window_clipped_at_int64_min_keeps_its_end)
{
    tm_config c = cfg_of(TM_WINDOW_TUMBLING, 10, 0, 0, 0);
    tm_windows *ws = tm_windows_new(&c);
    recorder r = {0};
    /* INT64_MIN = -9223372036854775808: windows end at ...8 + 10k. */
    cr_assert_eq(add(ws, "k", INT64_MIN, 1, INT64_MIN, &r), TM_ADD_ON_TIME);
    cr_assert_eq(add(ws, "k", INT64_MIN + 8, 1, INT64_MIN, &r), TM_ADD_ON_TIME);
    tm_windows_advance(ws, INT64_MIN + 8, record, &r);
    cr_assert_eq(r.n, 1, "only the clipped window has ended");
    cr_assert_eq(r.e[0].start, INT64_MIN);
    cr_assert_eq(r.e[0].end, INT64_MIN + 8);
    cr_assert_eq(r.e[0].count, 1);
    tm_windows_free(ws);

    /* Hopping, starts 2 mod 4: [MIN - 2, MIN + 8) is clipped to start at
     * MIN, [MIN - 6, MIN + 4) is dropped. */
    c = cfg_of(TM_WINDOW_HOPPING, 10, 4, 0, 0);
    c.window_offset_ms = 2;
    ws = tm_windows_new(&c);
    r.n = 0;
    cr_assert_eq(add(ws, "k", INT64_MIN + 1, 1, INT64_MIN, &r), TM_ADD_ON_TIME);
    cr_assert_eq(add(ws, "k", INT64_MIN + 2, 1, INT64_MIN, &r), TM_ADD_ON_TIME);
    tm_windows_advance(ws, INT64_MAX, record, &r);
    cr_assert_eq(r.n, 2);
    cr_assert_eq(r.e[0].start, INT64_MIN);
    cr_assert_eq(r.e[0].end, INT64_MIN + 8);
    cr_assert_eq(r.e[0].count, 2, "both events are in the clipped window");
    cr_assert_eq(r.e[1].start, INT64_MIN + 2);
    cr_assert_eq(r.e[1].end, INT64_MIN + 12);
    cr_assert_eq(r.e[1].count, 1);
    tm_windows_free(ws);
}

Test(window, hopping_assigns_every_window_in_ascending_start)
{
    tm_config c = cfg_of(TM_WINDOW_HOPPING, 100, 30, 0, 0);
    tm_windows *ws = tm_windows_new(&c);
    recorder r = {0};
    add(ws, "k", 95, 1, INT64_MIN, &r);
    /* Starts 0, 30, 60, 90 contain 95 ([k*30, k*30+100)). */
    cr_assert_eq(tm_windows_count(ws), 4);
    tm_windows_advance(ws, 10000, record, &r);
    cr_assert_eq(r.n, 4);
    for (size_t i = 0; i < 4; i++)
        cr_assert_eq(r.e[i].start, (int64_t)(30 * i));
    tm_windows_free(ws);
}

Test(window, firing_order_end_then_start_then_key)
{
    tm_config c = cfg_of(TM_WINDOW_TUMBLING, 100, 0, 0, 0);
    tm_windows *ws = tm_windows_new(&c);
    recorder r = {0};
    add(ws, "b", 150, 1, INT64_MIN, &r);
    add(ws, "ab", 5, 1, INT64_MIN, &r);
    add(ws, "a", 5, 1, INT64_MIN, &r);
    add(ws, "b", 5, 1, INT64_MIN, &r);
    tm_windows_advance(ws, 200, record, &r);
    cr_assert_eq(r.n, 4);
    cr_assert_str_eq(r.e[0].key, "a");
    cr_assert_str_eq(r.e[1].key, "ab");
    cr_assert_str_eq(r.e[2].key, "b");
    cr_assert_eq(r.e[3].start, 100);
    tm_windows_free(ws);
}

Test(window, sessions_touching_merge)
{
    tm_config c = cfg_of(TM_WINDOW_SESSION, 0, 0, 10, 0);
    tm_windows *ws = tm_windows_new(&c);
    recorder r = {0};
    add(ws, "k", 0, 1, INT64_MIN, &r);  /* [0,10) */
    add(ws, "k", 10, 2, INT64_MIN, &r); /* touches: [0,20) */
    cr_assert_eq(tm_windows_count(ws), 1, "touching sessions merge");
    add(ws, "k", 31, 3, INT64_MIN, &r); /* [31,41): gap of 11 */
    cr_assert_eq(tm_windows_count(ws), 2);
    tm_windows_advance(ws, 100, record, &r);
    cr_assert_eq(r.n, 2);
    cr_assert_eq(r.e[0].start, 0);
    cr_assert_eq(r.e[0].end, 20);
    cr_assert_eq(r.e[0].count, 2);
    cr_assert_float_eq(r.e[0].acc[0], 3.0, 1e-12);
    cr_assert_eq(r.e[1].start, 31);
    tm_windows_free(ws);
}

Test(window, session_merge_of_emitted_sessions_tombstones_and_continues_revision)
{
    tm_config c = cfg_of(TM_WINDOW_SESSION, 0, 0, 10, 100);
    tm_windows *ws = tm_windows_new(&c);
    recorder r = {0};
    add(ws, "k", 0, 1, INT64_MIN, &r);  /* [0,10) */
    add(ws, "k", 30, 2, INT64_MIN, &r); /* [30,40) */
    tm_windows_advance(ws, 40, record, &r);
    cr_assert_eq(r.n, 2);
    add(ws, "k", 30, 5, 40, &r); /* late into [30,40): revision 1 */
    cr_assert_eq(r.n, 3);
    cr_assert_eq(r.e[2].revision, 1);
    /* An event at 15 makes [15,25): touches neither. At 20: [20,30) touches
     * [30,40) only, and the merged session starts at 20: [30,40) is merged
     * away (tombstone) and the new one continues from revision 1. */
    cr_assert_eq(add(ws, "k", 20, 4, 40, &r), TM_ADD_LATE);
    cr_assert_eq(r.n, 5);
    cr_assert(r.e[3].tombstone);
    cr_assert_eq(r.e[3].start, 30);
    cr_assert_eq(r.e[4].start, 20);
    cr_assert_eq(r.e[4].end, 40);
    cr_assert_eq(r.e[4].revision, 2);
    cr_assert_eq(r.e[4].count, 3);
    cr_assert_float_eq(r.e[4].acc[0], 11.0, 1e-12);
    cr_assert_float_eq(r.e[4].acc[1], 5.0, 1e-12);
    /* Bridging [0,10) and [20,40) with an event at 10 ([10,20) touches
     * both): the survivor keeps start 0; [20,40) is tombstoned. */
    add(ws, "k", 10, 1, 40, &r);
    cr_assert_eq(r.n, 7);
    cr_assert(r.e[5].tombstone);
    cr_assert_eq(r.e[5].start, 20);
    cr_assert_eq(r.e[6].start, 0);
    cr_assert_eq(r.e[6].end, 40);
    cr_assert_eq(r.e[6].revision, 3);
    cr_assert_eq(r.e[6].count, 5);
    cr_assert_eq(tm_windows_count(ws), 1);
    tm_windows_free(ws);
}

Test(window, session_extension_past_watermark_refires_later_by_watermark)
{
    tm_config c = cfg_of(TM_WINDOW_SESSION, 0, 0, 10, 100);
    tm_windows *ws = tm_windows_new(&c);
    recorder r = {0};
    add(ws, "k", 0, 1, INT64_MIN, &r);
    tm_windows_advance(ws, 10, record, &r);
    cr_assert_eq(r.n, 1);
    /* Extends [0,10) to [0,15): end > W, so not emitted at once. */
    cr_assert_eq(add(ws, "k", 5, 1, 10, &r), TM_ADD_LATE);
    cr_assert_eq(r.n, 1);
    tm_windows_advance(ws, 15, record, &r);
    cr_assert_eq(r.n, 2);
    cr_assert_eq(r.e[1].revision, 1);
    cr_assert_eq(r.e[1].trigger, TM_TRIGGER_WATERMARK);
    cr_assert_eq(r.e[1].end, 15);
    tm_windows_free(ws);
}

Test(window, session_too_late_changes_nothing)
{
    tm_config c = cfg_of(TM_WINDOW_SESSION, 0, 0, 10, 5);
    tm_windows *ws = tm_windows_new(&c);
    recorder r = {0};
    add(ws, "k", 100, 1, INT64_MIN, &r);
    /* [0,10) alone: W = 15 >= 10 + 5. */
    cr_assert_eq(add(ws, "k", 0, 1, 15, &r), TM_ADD_TOO_LATE);
    cr_assert_eq(tm_windows_count(ws), 1);
    cr_assert_eq(r.n, 0);
    tm_windows_free(ws);
}

/* A key's sessions are a list in start order, found from the last one
 * (window.c): restored in any order, they link by start; an event between
 * two merges with the right ones; expiry takes them from the first. */
Test(window, restored_sessions_link_by_start_whatever_their_order)
{
    tm_config c = cfg_of(TM_WINDOW_SESSION, 0, 0, 10, 0);
    tm_windows *ws = tm_windows_new(&c);
    double acc[2] = {1, 1};
    static const int64_t starts[] = {200, 0, 300, 100};
    for (size_t i = 0; i < 4; i++) {
        tm_window_state st = {"k", 1, starts[i], starts[i] + 10, 1, -1, false, acc};
        tm_windows_restore(ws, &st);
    }
    recorder r = {0};
    /* [105,115) touches [100,110) only; [195,205) [200,210) only. */
    add(ws, "k", 105, 2, INT64_MIN, &r);
    add(ws, "k", 195, 4, INT64_MIN, &r);
    /* [8,18) touches [0,10) only; [290,300) touches [300,310) only. */
    add(ws, "k", 8, 8, INT64_MIN, &r);
    add(ws, "k", 290, 16, INT64_MIN, &r);
    cr_assert_eq(tm_windows_count(ws), 4);
    cr_assert_eq(r.n, 0);
    /* Fired and expired one by one from the first. */
    static const int64_t want_start[] = {0, 100, 195, 290}, want_end[] = {18, 115, 210, 310};
    static const double want_sum[] = {9, 3, 5, 17};
    for (size_t i = 0; i < 4; i++) {
        tm_windows_advance(ws, want_end[i], record, &r);
        cr_assert_eq(r.n, i + 1);
        cr_assert_eq(r.e[i].start, want_start[i]);
        cr_assert_eq(r.e[i].end, want_end[i]);
        cr_assert_eq(r.e[i].count, 2);
        cr_assert_float_eq(r.e[i].acc[0], want_sum[i], 1e-12);
        cr_assert_eq(tm_windows_count(ws), 3 - i);
    }
    /* The key is gone from the index: a new event starts afresh. */
    add(ws, "k", 1000, 1, 310, &r);
    cr_assert_eq(tm_windows_count(ws), 1);
    tm_windows_free(ws);
}
