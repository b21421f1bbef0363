/*
 * golden_compare.h: compares outputs in the replay envelope by meaning, as
 * the worked examples define it: the main output per source partition is
 * the same sequence (same key; payloads equal as JSON values, numbers
 * within a relative 1e-9; null is a tombstone); the late and dead-letter
 * outputs hold the same records, paired by their tidemark.source header:
 * same topic, partition, key, payload (by meaning when both are JSON, else
 * the same bytes) and every header with the same value, except the
 * free-text tidemark.detail.
 *
 * Used by the golden tests (replay against expected files) and the
 * exactly-once tests (the live service's committed output against replay).
 * Failures are Criterion assertions naming the case.
 */
#ifndef TM_GOLDEN_COMPARE_H
#define TM_GOLDEN_COMPARE_H

#include <stddef.h>

/* Compares output.jsonl, late.jsonl and dlq.jsonl of got_dir with those of
 * want_dir; name labels the failure messages. */
void tm_golden_compare_dirs(const char *name, const char *got_dir, const char *want_dir);

/* What tm_golden_compare_latest saw. */
typedef struct tm_golden_latest {
    size_t windows;         /* output keys with a latest revision (not a tombstone) */
    size_t got_revised;     /* of them, revised (latest revision > 0) in got_dir */
    size_t want_revised;    /* ... in want_dir */
    long got_max, want_max; /* the largest revision in each */
} tm_golden_latest;

/*
 * The comparison for a repartitioning pipeline run live (SEMANTICS 10-11):
 * a window task's watermark trails replay's by up to a commit interval, and
 * the events of different source tasks meet it in another interleaving, so
 * a window may be emitted more or fewer times than replay emits it, and an
 * emission other than the last may hold other events. What must hold,
 * with an allowed lateness that no record exceeds:
 * - the main output read as a table (the latest record of each key; a
 *   tombstone removes the key) holds the same keys as replay's, each in
 *   the same partition with an equal payload (as JSON, numbers within a
 *   relative 1e-9: sums add in another order), except "revision" and
 *   "trigger", which say how often and why it was emitted;
 * - in each of the two outputs, every key's records carry revisions 0, 1,
 *   2, ... in the order of its partition: none missing or repeated (for
 *   windows that never merge: a merged session continues from the largest
 *   revision of the sessions it merged, SEMANTICS 7);
 * - the late and dead-letter outputs hold the same records, as
 *   tm_golden_compare_dirs compares them.
 * Failures are Criterion assertions; *out (may be NULL) gets the counts.
 */
void tm_golden_compare_latest(const char *name, const char *got_dir, const char *want_dir,
                              tm_golden_latest *out);

/* Compares a `replay --batch` run in got_dir with the expected files:
 * batch.jsonl with want_batch, the same lines in the same order, each
 * equal as a JSON value (numbers within a relative 1e-9); dlq.jsonl with
 * want_dlq, as above. */
void tm_golden_compare_batch(const char *name, const char *got_dir, const char *want_batch,
                             const char *want_dlq);

#endif
