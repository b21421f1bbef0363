/*
 * Unit tests of watermark.c: per-partition watermarks, idleness and
 * monotonicity.
 */
#include <criterion/criterion.h>

#include "watermark.h"

Test(watermark, minus_infinity_before_first_event)
{
    tm_watermark wm;
    tm_watermark_init(&wm, 1, 10, 0, 0);
    cr_assert_eq(tm_watermark_advance(&wm, 0), TM_WATERMARK_MIN);
    tm_watermark_observe(&wm, 0, 100);
    cr_assert_eq(tm_watermark_advance(&wm, 0), 90);
    tm_watermark_destroy(&wm);
}

Test(watermark, minimum_over_partitions_and_never_down)
{
    tm_watermark wm;
    tm_watermark_init(&wm, 2, 0, 0, 0);
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
    tm_watermark_init(&wm, 2, 0, 1000, 0);
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
    tm_watermark_init(&wm, 2, 5, 10, 0);
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
    tm_watermark_init(&wm, 2, 0, 0, 0);
    tm_watermark_observe(&wm, 0, 100);
    cr_assert_eq(tm_watermark_advance(&wm, INT64_MAX / 2), TM_WATERMARK_MIN);
    tm_watermark_destroy(&wm);
}

Test(watermark, saturates_at_extreme_times)
{
    tm_watermark wm;
    tm_watermark_init(&wm, 1, 1000, 0, 0);
    tm_watermark_observe(&wm, 0, INT64_MIN + 1);
    cr_assert_eq(tm_watermark_advance(&wm, 0), TM_WATERMARK_MIN);
    tm_watermark_destroy(&wm);
}

/* Alignment (SEMANTICS 11): a paused partition holds W back however long
 * it is paused, where an unpaused one as silent goes idle. */
Test(watermark, paused_partition_is_not_idle)
{
    tm_watermark wm;
    tm_watermark_init(&wm, 2, 0, 10, 0);
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
    tm_watermark_init(&wm, 1, 0, 10, 0);
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
    tm_watermark_init(&wm, 1, 0, 10, 0);
    tm_watermark_pause(&wm, 0, 8);
    tm_watermark_touch(&wm, 0, 50);
    cr_assert_not(tm_watermark_is_idle(&wm, 0, 1000));
    tm_watermark_resume(&wm, 0, 100);
    cr_assert_not(tm_watermark_is_idle(&wm, 0, 109));
    cr_assert(tm_watermark_is_idle(&wm, 0, 110));
    tm_watermark_destroy(&wm);
}
