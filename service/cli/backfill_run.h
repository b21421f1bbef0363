/*
 * backfill_run.h: `tidemark backfill` (SEMANTICS 12): the reading and
 * comparison of `tidemark verify` over a range, then, for every window of
 * the range whose table entry is not its batch result, the record
 * backfill.h says, all in one Kafka transaction (transactional.id
 * <application_id>-backfill): a crash or a failure writes nothing, and a
 * second run over the same range writes nothing.
 *
 * Refusals (TM_ECONFIG: exit 2), unless force:
 * - a window of the range the live application may still change
 *   (backfill.h): its end + allowed lateness is beyond the lowest of the
 *   tasks' watermarks, read from the latest checkpoint record of each
 *   changelog partition. The message names the window and the task.
 *   Without a changelog topic (the application never ran, or was reset)
 *   there is no watermark to read: refused too.
 * - an input that no longer holds the whole range (retention): the batch
 *   results would miss the deleted records.
 */
#ifndef TM_BACKFILL_RUN_H
#define TM_BACKFILL_RUN_H

#include <stdbool.h>

#include "config.h"
#include "verify_run.h"

typedef struct tm_backfill_options {
    tm_verify_options range; /* the range, report, progress and spill options */
    bool force;              /* skip the refusals */
    bool dry_run;            /* print the records (JSON lines), write nothing */
} tm_backfill_options;

/*
 * Runs the backfill; prints, on opt->range.out, with dry_run each record it
 * would write, then a summary (with range.json a JSON object). Returns 0
 * (written, or nothing to write), TM_ECONFIG with a message for a refusal
 * or a configuration that does not fit the cluster, or another negative
 * tm_err with a message (then nothing was written). Borrows cfg.
 */
int tm_backfill_run(const tm_config *cfg, const tm_backfill_options *opt, char *errstr,
                    size_t errlen);

#endif
