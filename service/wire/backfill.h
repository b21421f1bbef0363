/*
 * backfill.h: what `tidemark backfill` (SEMANTICS 12) writes for a window
 * verify.h has judged, and when it must not write at all. Apart from
 * Kafka, so that the rules are tested on their own.
 *
 * - A window whose table entry equals its batch result gets nothing: a
 *   second backfill over the same range writes nothing. Nor does an
 *   unjudged one (a session of a key the range cuts, verify.h).
 * - One the batch has gets its batch result as a new revision (the
 *   table's + 1, or 0 when the table lacks it) with trigger backfill.
 * - One the table has and the batch lacks gets a tombstone.
 * The record goes to the output partition of the table's record of the
 * window, so that the output stays a table (one partition per key). A
 * window the table lacks goes where the live service would write it: with
 * repartitioning, window task murmur2(group key) mod R; without, the
 * partition of its input records (the first one read).
 */
#ifndef TM_BACKFILL_H
#define TM_BACKFILL_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "verify.h"

typedef enum {
    TM_BACKFILL_NONE,      /* equal: nothing to write */
    TM_BACKFILL_REVISION,  /* a result with trigger backfill */
    TM_BACKFILL_TOMBSTONE, /* the key removed from the table */
} tm_backfill_kind;

/* The record for w: its kind, and (unless NONE) the output record key in
 * key, the value in value (tombstone: left empty) and the partition,
 * with n_tasks the live task count (the input partition count, R). key
 * and value are reset first. */
tm_backfill_kind tm_backfill_record(const tm_config *cfg, const tm_verify_window *w,
                                    int32_t n_tasks, tm_buf *key, tm_buf *value,
                                    int32_t *partition);

/* Whether the live application may still change a window ending at end:
 * it is not expired while end + allowed lateness is beyond the live
 * watermark (the lowest of the tasks' checkpointed watermarks: any task
 * may still get an event of any window without repartitioning, and a
 * checkpoint is never ahead of its task). */
bool tm_backfill_window_live(const tm_config *cfg, int64_t end, int64_t live_watermark);

#endif
