/*
 * tidemark verify --last-closed-hour's range (service/cli/verify_range.h):
 * the latest whole hour whose end + allowed lateness + out-of-orderness +
 * the slack has passed, at and around the boundaries.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "rfc3339.h"
#include "verify_range.h"

#define HOUR (60 * 60 * 1000LL)

static int64_t at(const char *t)
{
    int64_t ms;
    cr_assert_eq(tm_rfc3339_parse(t, strlen(t), &ms), 0, "%s", t);
    return ms;
}

static void expect(int64_t now, int64_t lateness, int64_t ooo, const char *from, const char *to)
{
    int64_t f = 0, t = 0;
    tm_verify_last_closed_hour(now, lateness, ooo, &f, &t);
    cr_assert_eq(f, at(from), "from %lld, expected %s", (long long)f, from);
    cr_assert_eq(t, at(to), "to %lld, expected %s", (long long)t, to);
}

Test(verify_range, the_last_hour_whose_results_are_final)
{
    /* The chart's defaults: 5 s lateness, 2 s out-of-orderness. At 16:22
     * the hour to 16:00 has been final since 16:05:07. */
    expect(at("2026-12-04T16:22:00Z"), 5000, 2000, "2026-12-04T15:00:00Z", "2026-12-04T16:00:00Z");
    /* At 16:05:06.999 it is not yet: the hour before. */
    expect(at("2026-12-04T16:05:06.999Z"), 5000, 2000, "2026-12-04T14:00:00Z",
           "2026-12-04T15:00:00Z");
    /* At 16:05:07 exactly, it is. */
    expect(at("2026-12-04T16:05:07Z"), 5000, 2000, "2026-12-04T15:00:00Z", "2026-12-04T16:00:00Z");
    /* No delays configured: the slack alone. */
    expect(at("2026-12-04T16:05:00Z"), 0, 0, "2026-12-04T15:00:00Z", "2026-12-04T16:00:00Z");
    expect(at("2026-12-04T16:04:59.999Z"), 0, 0, "2026-12-04T14:00:00Z", "2026-12-04T15:00:00Z");
}

Test(verify_range, long_lateness_moves_it_back_by_whole_hours)
{
    /* 2 h of allowed lateness and 10 min of out-of-orderness: at 16:22 the
     * latest end is 14:07, so the hour to 14:00. */
    expect(at("2026-12-04T16:22:00Z"), 2 * HOUR, 10 * 60 * 1000, "2026-12-04T13:00:00Z",
           "2026-12-04T14:00:00Z");
    /* Across midnight. */
    expect(at("2026-12-05T00:30:00Z"), 2 * HOUR, 0, "2026-12-04T21:00:00Z", "2026-12-04T22:00:00Z");
}

Test(verify_range, whole_hours_also_before_the_epoch)
{
    int64_t f, t;
    tm_verify_last_closed_hour(0, 0, 0, &f, &t);
    cr_assert_eq(t, -HOUR, "rounded down, not toward 0");
    cr_assert_eq(f, -2 * HOUR);
    cr_assert_eq(TM_VERIFY_RANGE_SLACK_MS, 5 * 60 * 1000);
}
