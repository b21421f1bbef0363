/*
 * batch_spill.h: the bounded-memory plan of batch.h, for the tests and
 * the benchmark: decoded events written compactly into n temporary files
 * (runs) chosen by a hash of the group key, then each run read back and
 * fed through a batch on its own, so that memory holds one run's windows
 * and dedup keys, never every record. A sketch of what tidemark verify
 * needs; the order of events within a run is the order they were added.
 */
#ifndef TM_TEST_BATCH_SPILL_H
#define TM_TEST_BATCH_SPILL_H

#include <stddef.h>

#include "batch.h"

typedef struct tm_test_spill tm_test_spill;

/* n_runs > 0 runs of events with n_values aggregation inputs each, in
 * temporary files (removed when closed). A failure fails the test. */
tm_test_spill *tm_test_spill_new(size_t n_runs, size_t n_values);
void tm_test_spill_free(tm_test_spill *s);

/* Writes ev (key bytes, time, dedup hash, values) to its run. */
void tm_test_spill_add(tm_test_spill *s, const tm_batch_event *ev);

/* Feeds run r's events to b (tm_batch_add_event), in the order added. */
void tm_test_spill_drain(tm_test_spill *s, size_t r, tm_batch *b);

/* Bytes written to the runs. */
size_t tm_test_spill_bytes(const tm_test_spill *s);

#endif
