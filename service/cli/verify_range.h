/*
 * verify_range.h: the range `tidemark verify --last-closed-hour` checks,
 * for a verify run on a schedule (the Helm chart's CronJob): the latest
 * whole clock hour whose results are final by now.
 */
#ifndef TM_VERIFY_RANGE_H
#define TM_VERIFY_RANGE_H

#include <stdint.h>

/* Beyond the configured delays, how long after an hour's results are due
 * verify waits for them: the time the watermark trails the wall clock (a
 * commit interval, a producer's batching, a consumer's lag). */
#define TM_VERIFY_RANGE_SLACK_MS (5 * 60 * 1000)

/*
 * The latest whole clock hour [from, to) (UTC; to a multiple of an hour
 * since the epoch) with to + allowed_lateness_ms + max_out_of_orderness_ms
 * + TM_VERIFY_RANGE_SLACK_MS <= now_ms: by then the watermark has passed
 * to + allowed lateness, so every window inside the hour has fired and
 * taken its last late record (SEMANTICS 5, 7), and the output holds its
 * final revision. Pure: the caller passes the configuration's values and
 * the wall clock. Durations are >= 0, as the configuration checks them.
 */
void tm_verify_last_closed_hour(int64_t now_ms, int64_t allowed_lateness_ms,
                                int64_t max_out_of_orderness_ms, int64_t *from, int64_t *to);

#endif
