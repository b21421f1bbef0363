/*
 * verify_range.c: see verify_range.h.
 */
#include "verify_range.h"

#include <assert.h>

#define HOUR_MS (60 * 60 * 1000)

/* Rounds down to a multiple of unit, also below 0 (C's division rounds
 * toward 0): a wall clock before the epoch is a test's, not a crash. */
static int64_t floor_to(int64_t t, int64_t unit)
{
    int64_t r = t % unit;
    return r < 0 ? t - r - unit : t - r;
}

void tm_verify_last_closed_hour(int64_t now_ms, int64_t allowed_lateness_ms,
                                int64_t max_out_of_orderness_ms, int64_t *from, int64_t *to)
{
    assert(allowed_lateness_ms >= 0 && max_out_of_orderness_ms >= 0);
    int64_t latest_end =
        now_ms - allowed_lateness_ms - max_out_of_orderness_ms - TM_VERIFY_RANGE_SLACK_MS;
    *to = floor_to(latest_end, HOUR_MS);
    *from = *to - HOUR_MS;
}
