/*
 * Unit tests of watermark.c: per-partition watermarks, idleness and
 * monotonicity, and the combination of sources (min and quantile).
 */
#include <criterion/criterion.h>

#include "watermark.h"

Test(watermark, minus_infinity_before_first_event)
{
    tm_watermark wm;
    tm_watermark_init(&wm, 1, 10, 0, 1, 0);
    cr_assert_eq(tm_watermark_advance(&wm, 0), TM_WATERMARK_MIN);
    tm_watermark_observe(&wm, 0, 100);
    cr_assert_eq(tm_watermark_advance(&wm, 0), 90);
    tm_watermark_destroy(&wm);
}

Test(watermark, minimum_over_partitions_and_never_down)
{
    tm_watermark wm;
    tm_watermark_init(&wm, 2, 0, 0, 1, 0);
    tm_watermark_observe(&wm, 0, 100);
    cr_assert_eq(tm_watermark_advance(&wm, 0), TM_WATERMARK_MIN,
                 "a partition without events holds W at minus infinity");
    tm_watermark_observe(&wm, 1, 50);
    cr_assert_eq(tm_watermark_advance(&wm, 0), 50);
    tm_watermark_observe(&wm, 1, 40); /* max_t does not go down */
    cr_assert_eq(tm_watermark_advance(&wm, 0), 50);
    tm_watermark_destroy(&wm);
}

Test(watermark, idle_partition_is_ignored_at_exactly_the_timeout)
{
    tm_watermark wm;
    tm_watermark_init(&wm, 2, 0, 1000, 1, 0);
    tm_watermark_touch(&wm, 0, 500);
    tm_watermark_observe(&wm, 0, 100);
    /* Partition 1 never had a record: idle counting from the task start. */
    cr_assert_eq(tm_watermark_advance(&wm, 999), TM_WATERMARK_MIN);
    cr_assert(tm_watermark_is_idle(&wm, 1, 1000));
    cr_assert_eq(tm_watermark_advance(&wm, 1000), 100);
    tm_watermark_destroy(&wm);
}

Test(watermark, all_idle_takes_the_maximum)
{
    tm_watermark wm;
    tm_watermark_init(&wm, 2, 5, 10, 1, 0);
    tm_watermark_observe(&wm, 0, 100);
    tm_watermark_observe(&wm, 1, 300);
    cr_assert_eq(tm_watermark_advance(&wm, 0), 95);
    cr_assert_eq(tm_watermark_advance(&wm, 10), 295);
    /* A record wakes partition 0 up; W stays (never down). */
    tm_watermark_touch(&wm, 0, 11);
    cr_assert_eq(tm_watermark_advance(&wm, 11), 295);
    tm_watermark_destroy(&wm);
}

Test(watermark, zero_timeout_disables_idleness)
{
    tm_watermark wm;
    tm_watermark_init(&wm, 2, 0, 0, 1, 0);
    tm_watermark_observe(&wm, 0, 100);
    cr_assert_eq(tm_watermark_advance(&wm, INT64_MAX / 2), TM_WATERMARK_MIN);
    tm_watermark_destroy(&wm);
}

Test(watermark, saturates_at_extreme_times)
{
    tm_watermark wm;
    tm_watermark_init(&wm, 1, 1000, 0, 1, 0);
    tm_watermark_observe(&wm, 0, INT64_MIN + 1);
    cr_assert_eq(tm_watermark_advance(&wm, 0), TM_WATERMARK_MIN);
    tm_watermark_destroy(&wm);
}

/* ---- tm_watermark_combine (SEMANTICS 11) ---- */

enum { MAX_SOURCES = 128 };

/* Non-idle sources, and scratch space for combining them. */
typedef struct active {
    tm_watermark_source src[MAX_SOURCES];
    int64_t scratch[MAX_SOURCES];
} active;

/* n non-idle sources with watermarks w. */
static void active_of(active *a, const int64_t *w, size_t n)
{
    cr_assert_leq(n, MAX_SOURCES);
    for (size_t i = 0; i < n; i++)
        a->src[i] = (tm_watermark_source){.watermark = w[i], .idle = false};
}

/* Combines n non-idle sources with watermarks w. */
static int64_t combine_active(const int64_t *w, size_t n, double q)
{
    active a;
    active_of(&a, w, n);
    return tm_watermark_combine(a.src, n, q, a.scratch);
}

Test(watermark_combine, q_one_is_the_minimum)
{
    const int64_t w[] = {70, 20, 90, 40};
    cr_assert_eq(combine_active(w, 4, 1.0), 20);
}

Test(watermark_combine, q_085_over_eight_takes_the_second_smallest)
{
    /* n = 8, k = ceil(0.85 x 8) = 7: w(8 - 7 + 1) = w2 ascending, the largest
     * value 7 of the 8 sources have reached. The sources are not in order,
     * and the one at 10 is the straggler that no longer holds W back. */
    const int64_t w[] = {800, 300, 10, 700, 500, 200, 600, 400};
    cr_assert_eq(combine_active(w, 8, 0.85), 200);
    cr_assert_eq(combine_active(w, 8, 1.0), 10, "min holds W at the straggler");
}

Test(watermark_combine, quantile_boundaries_over_four)
{
    const int64_t w[] = {40, 10, 30, 20};
    /* k = ceil(q x 4): 1 -> w4 (the max), 2 -> w3, 3 -> w2, 4 -> w1. */
    cr_assert_eq(combine_active(w, 4, 0.25), 40);
    cr_assert_eq(combine_active(w, 4, 0.26), 30);
    cr_assert_eq(combine_active(w, 4, 0.5), 30);
    cr_assert_eq(combine_active(w, 4, 0.51), 20);
    cr_assert_eq(combine_active(w, 4, 0.75), 20);
    cr_assert_eq(combine_active(w, 4, 0.76), 10);
    cr_assert_eq(combine_active(w, 4, 1e-9), 40, "any q > 0 needs one source: the max");
}

Test(watermark_combine, decimal_q_times_n_that_is_whole_is_not_rounded_up)
{
    /* 0.07 x 100 is 7.000000000000001 in binary floating point; the decimal
     * means k = 7, so w(100 - 7 + 1) = w94 (the value 93 here), not w93. */
    int64_t w[100];
    for (size_t i = 0; i < 100; i++)
        w[i] = (int64_t)(99 - i); /* 99 .. 0: w_j ascending is j - 1 */
    cr_assert_eq(combine_active(w, 100, 0.07), 93);
    cr_assert_eq(combine_active(w, 100, 0.3), 70);  /* k = 30: w71 */
    cr_assert_eq(combine_active(w, 100, 0.29), 71); /* k = 29: w72 */
}

Test(watermark_combine, idle_sources_are_left_out)
{
    /* Non-idle: 50, 30, 10 (the 1000 is idle): q = 0.5 -> k = ceil(1.5) = 2
     * of 3 -> w2 = 30; with the idle one counted it would be 50. */
    tm_watermark_source src[] = {{.watermark = 50, .idle = false},
                                 {.watermark = 1000, .idle = true},
                                 {.watermark = 10, .idle = false},
                                 {.watermark = 30, .idle = false}};
    int64_t scratch[4];
    cr_assert_eq(tm_watermark_combine(src, 4, 0.5, scratch), 30);
    cr_assert_eq(tm_watermark_combine(src, 4, 1.0, scratch), 10);
    cr_assert_eq(src[1].watermark, 1000, "the sources are not changed");
}

Test(watermark_combine, every_source_idle_takes_the_maximum)
{
    tm_watermark_source src[] = {{.watermark = 50, .idle = true},
                                 {.watermark = TM_WATERMARK_MIN, .idle = true},
                                 {.watermark = 70, .idle = true}};
    int64_t scratch[3];
    cr_assert_eq(tm_watermark_combine(src, 3, 1.0, scratch), 70);
    cr_assert_eq(tm_watermark_combine(src, 3, 0.5, scratch), 70);
}

Test(watermark_combine, ties_count_once_per_source)
{
    /* Ascending 5, 5, 5, 9: k = ceil(0.5 x 4) = 2 -> w3 = 5 (three sources
     * have reached 5, only one 9); k = 1 -> w4 = 9. */
    const int64_t w[] = {5, 9, 5, 5};
    cr_assert_eq(combine_active(w, 4, 0.5), 5);
    cr_assert_eq(combine_active(w, 4, 0.25), 9);
}

Test(watermark_combine, one_source_is_its_watermark_for_every_q)
{
    const int64_t w[] = {42};
    cr_assert_eq(combine_active(w, 1, 1.0), 42);
    cr_assert_eq(combine_active(w, 1, 0.01), 42);
    const int64_t none[] = {TM_WATERMARK_MIN};
    cr_assert_eq(combine_active(none, 1, 0.5), TM_WATERMARK_MIN);
}

Test(watermark, quantile_task_watermark_passes_a_straggler_and_never_goes_down)
{
    tm_watermark wm;
    /* Three partitions, D = 0, idle after 100, q = 0.6: k = ceil(0.6 x 3) = 2
     * -> w2 of the non-idle ones. */
    tm_watermark_init(&wm, 3, 0, 100, 0.6, 0);
    tm_watermark_observe(&wm, 0, 100);
    tm_watermark_observe(&wm, 1, 200);
    cr_assert_eq(tm_watermark_advance(&wm, 0), 100,
                 "a partition without events is w1 and no longer holds W back");
    tm_watermark_observe(&wm, 2, 10); /* the straggler */
    cr_assert_eq(tm_watermark_advance(&wm, 0), 100, "min would be 10");
    tm_watermark_observe(&wm, 2, 150);
    cr_assert_eq(tm_watermark_advance(&wm, 0), 150);
    /* Partition 1 (200) goes idle: w2 of {100, 150} with k = ceil(1.2) = 2
     * is 100, below W. */
    tm_watermark_touch(&wm, 0, 100);
    tm_watermark_touch(&wm, 2, 100);
    cr_assert(tm_watermark_is_idle(&wm, 1, 100));
    cr_assert_eq(tm_watermark_advance(&wm, 100), 150, "W never goes down");
    tm_watermark_destroy(&wm);
}

/* Alignment (SEMANTICS 11): a paused partition holds W back however long
 * it is paused, where an unpaused one as silent goes idle. */
Test(watermark, paused_partition_is_not_idle)
{
    tm_watermark wm;
    tm_watermark_init(&wm, 2, 0, 10, 1, 0);
    tm_watermark_observe(&wm, 0, 300);
    tm_watermark_observe(&wm, 1, 100);
    tm_watermark_pause(&wm, 1, 5);
    cr_assert(tm_watermark_is_paused(&wm, 1));
    cr_assert(tm_watermark_is_idle(&wm, 0, 1000));
    cr_assert_not(tm_watermark_is_idle(&wm, 1, 1000));
    cr_assert_eq(tm_watermark_advance(&wm, 1000), 100);
    tm_watermark_destroy(&wm);
}

/* Resuming keeps the silence before the pause and skips the pause: 4 ms
 * silent, paused from 4 to 100, idle 6 ms later (timeout 10). Pausing
 * again while paused, or resuming while not paused, changes nothing. */
Test(watermark, paused_time_does_not_count_towards_idleness)
{
    tm_watermark wm;
    tm_watermark_init(&wm, 1, 0, 10, 1, 0);
    tm_watermark_pause(&wm, 0, 4);
    tm_watermark_pause(&wm, 0, 50);
    tm_watermark_resume(&wm, 0, 100);
    tm_watermark_resume(&wm, 0, 103);
    cr_assert_not(tm_watermark_is_paused(&wm, 0));
    cr_assert_not(tm_watermark_is_idle(&wm, 0, 105));
    cr_assert(tm_watermark_is_idle(&wm, 0, 106));
    tm_watermark_destroy(&wm);
}

/* A record that arrives while paused restarts the idle clock at the
 * resume: nothing of the silence before it is kept. */
Test(watermark, record_during_pause_restarts_the_idle_clock)
{
    tm_watermark wm;
    tm_watermark_init(&wm, 1, 0, 10, 1, 0);
    tm_watermark_pause(&wm, 0, 8);
    tm_watermark_touch(&wm, 0, 50);
    cr_assert_not(tm_watermark_is_idle(&wm, 0, 1000));
    tm_watermark_resume(&wm, 0, 100);
    cr_assert_not(tm_watermark_is_idle(&wm, 0, 109));
    cr_assert(tm_watermark_is_idle(&wm, 0, 110));
    tm_watermark_destroy(&wm);
}

/* ---- tm_watermark_holding: which source holds W back ---- */

/* The index tm_watermark_holding finds among n non-idle sources w: always
 * a source whose watermark is the combined one. */
static size_t holding_active(const int64_t *w, size_t n, double q)
{
    active a;
    active_of(&a, w, n);
    size_t holding = tm_watermark_holding(a.src, n, q, a.scratch);
    cr_assert_lt(holding, n);
    cr_assert_eq(w[holding], tm_watermark_combine(a.src, n, q, a.scratch));
    return holding;
}

Test(watermark_holding, held_by_the_source_at_the_rank_of_q)
{
    /* Ascending 10 (#3), 20 (#1), 30 (#0), 40 (#2): q = 0.5 -> k = 2 -> w3
     * = 30, source 0; q = 0.25 -> k = 1 -> the maximum, source 2; q = 1
     * (min) -> the smallest, source 3. */
    const int64_t w[] = {30, 20, 40, 10};
    cr_assert_eq(holding_active(w, 4, 0.5), 0);
    cr_assert_eq(holding_active(w, 4, 0.25), 2);
    cr_assert_eq(holding_active(w, 4, 1.0), 3);
}

Test(watermark_holding, a_tie_goes_to_the_lowest_index)
{
    const int64_t w[] = {9, 5, 5, 5};
    cr_assert_eq(holding_active(w, 4, 1.0), 1);
    cr_assert_eq(holding_active(w, 4, 0.5), 1);
    cr_assert_eq(holding_active(w, 4, 0.25), 0);
    const int64_t none[] = {TM_WATERMARK_MIN, TM_WATERMARK_MIN};
    cr_assert_eq(holding_active(none, 2, 1.0), 0, "no events anywhere: the first source");
}

Test(watermark_holding, an_idle_source_never_holds_w_while_another_is_active)
{
    /* The idle source 0 has the smallest watermark, and ties with the
     * active minimum of source 2: neither makes it the holder. */
    tm_watermark_source src[] = {{.watermark = 10, .idle = true},
                                 {.watermark = 50, .idle = false},
                                 {.watermark = 10, .idle = false},
                                 {.watermark = TM_WATERMARK_MIN, .idle = true}};
    int64_t scratch[4];
    cr_assert_eq(tm_watermark_holding(src, 4, 1.0, scratch), 2);
    cr_assert_eq(tm_watermark_holding(src, 4, 0.5, scratch), 1);
}

Test(watermark_holding, every_source_idle_is_held_by_the_maximum)
{
    tm_watermark_source src[] = {{.watermark = 50, .idle = true},
                                 {.watermark = 70, .idle = true},
                                 {.watermark = TM_WATERMARK_MIN, .idle = true},
                                 {.watermark = 70, .idle = true}};
    int64_t scratch[4];
    cr_assert_eq(tm_watermark_holding(src, 4, 1.0, scratch), 1);
    cr_assert_eq(tm_watermark_holding(src, 4, 0.5, scratch), 1);
}
