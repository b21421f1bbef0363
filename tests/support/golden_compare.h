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

/* Compares output.jsonl, late.jsonl and dlq.jsonl of got_dir with those of
 * want_dir; name labels the failure messages. */
void tm_golden_compare_dirs(const char *name, const char *got_dir, const char *want_dir);

#endif
