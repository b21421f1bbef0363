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
