/*
 * workload.h: a seeded generator of realistic order events, written as an
 * input file in the replay envelope (SEMANTICS 9), one record a line:
 *
 *     {"topic":"orders","partition":2,"offset":17,"ts":1763600000123,
 *      "key":"m-014","payload":"{\"order_id\":\"o-7-123\",...}"}
 *
 * Receipt times ("ts") strictly increase down the file. Offsets count from
 * 0 per partition, as a fresh topic assigns them when the file is produced
 * in order (tests/support/kafka_io.h), so that replay names the same
 * tidemark.source as the live service. Keys are merchants, and a merchant
 * is always on the same partition (merchant number mod partitions); some
 * merchants are much busier than others. With key_by_order, keys are order
 * ids instead ("o-<seed>-<n>", a duplicate's that of its original) and a
 * record goes where Kafka's default partitioner puts its key (murmur2 of
 * the key, mod partitions): a merchant's events spread over every
 * partition, the input that needs repartitioning (SEMANTICS 10). Either
 * way a partition's records are in file order.
 *
 * The mix (of lines; rounded by chance):
 * - on time, up to max_disorder_ms behind its receipt time: out of order
 *   within the watermark bound (watermark.max_out_of_orderness_ms should
 *   be larger);
 * - ~3% late: 2.5 to 11.5 s behind, so that with a bound of 2 s and an
 *   allowed lateness of 3 s some refire a window and some are too late;
 * - ~2% duplicates: an earlier event (up to about 1000 events back) sent
 *   again, byte for byte, later;
 * - ~1% malformed: not JSON (cut off), no event time, the amount as a
 *   string, a valid order followed by a NUL byte and more (invalid JSON:
 *   a reader that stops at the NUL sees a valid order), 200 binary bytes
 *   (a NUL, no valid UTF-8), or a null value; the bytes are written as
 *   kcat -J writes them (control bytes escaped, \u0000 included, other
 *   bytes as they are), so the file is not valid UTF-8;
 * - ~0.5% clock-skewed: stamped an hour into the future (clamped to the
 *   receipt time by clock_skew.max_ahead_ms = 60000).
 * Event times alternate at random between epoch milliseconds and RFC 3339
 * strings.
 */
#ifndef TM_TEST_WORKLOAD_H
#define TM_TEST_WORKLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { TM_WORKLOAD_MAX_PARTITIONS = 64 };

typedef struct tm_workload_options {
    uint64_t seed;
    size_t events;           /* lines to write */
    int32_t partitions;      /* 1..TM_WORKLOAD_MAX_PARTITIONS */
    int merchants;           /* 0: 48 */
    const char *topic;       /* NULL: "orders" */
    int64_t start_ms;        /* receipt time of the first line; 0: 1763600000000 */
    int64_t interval_ms;     /* mean receipt-time step; 0: 10 */
    int64_t max_disorder_ms; /* on-time events' delay bound; 0: 1500 */
    bool key_by_order;       /* keys are order ids, partitioned by murmur2 (above) */
} tm_workload_options;

typedef struct tm_workload_stats {
    size_t lines;
    size_t on_time, late, duplicates, malformed, skewed;
    size_t per_partition[TM_WORKLOAD_MAX_PARTITIONS]; /* lines per partition */
    int64_t first_ts, last_ts;
    /* The most an event (not a duplicate, not malformed) falls behind the
     * largest event time of the lines before it (clamped at 60 s ahead of
     * its receipt time, as the pipeline's clock_skew does): with
     * max_out_of_orderness_ms + allowed_lateness_ms at least this, no
     * watermark computed from the lines before an event (SEMANTICS 5 and
     * 11: it is at most their largest event time minus the bound) makes it
     * too late, whatever order the tasks see them in. */
    int64_t max_behind_ms;
    /* Merchants whose records are on more than one partition (0 unless
     * key_by_order). */
    size_t split_merchants;
} tm_workload_stats;

/*
 * Writes the workload for o into the file at path (created or truncated)
 * and fills *stats (may be NULL). Deterministic for the options. Fails the
 * test (Criterion assertion) if the file cannot be written.
 */
void tm_workload_write(const char *path, const tm_workload_options *o, tm_workload_stats *stats);

#endif
