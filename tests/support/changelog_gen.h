/*
 * changelog_gen.h: changelogs written by the service's own code, for the
 * restore's tests and benchmark (tests/unit/test_restore.c,
 * tests/bench/bench_restore.c).
 *
 * One engine per task is fed generated order events: event i of task p
 * has merchant and order id "<p>-<i>", so each opens its own window and
 * holds its own dedup key, and an event time inside one hour-long window,
 * which never fires (no result, late or dead record: the state only
 * grows). Every per_checkpoint events per task a checkpoint is collected
 * (tm_changelog_collect) and produced through the service's transactional
 * producer (tm_kafka), one transaction per round of checkpoints of all
 * tasks, as `tidemark run` does. The engines then hold what a restore of
 * the changelog must bring back.
 *
 * Failures are Criterion assertions.
 */
#ifndef TM_TEST_CHANGELOG_GEN_H
#define TM_TEST_CHANGELOG_GEN_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "engine.h"

/* The pipeline of the generated events: application app_id, input topic
 * `topic` (it must exist, with a partition per task), output topics gmv,
 * gmv-late and gmv-dlq (which should exist: otherwise their record limits
 * are not known, a warning), state under state_dir, the broker at
 * bootstrap. The caller frees it. */
tm_config *tm_changelog_gen_config(const char *app_id, const char *topic, const char *state_dir,
                                   const char *bootstrap);

typedef struct tm_changelog_gen tm_changelog_gen;

/* Opens the service's Kafka clients for cfg (creating the changelog topic,
 * one partition per input partition) and an engine per task 0..tasks-1.
 * Borrows cfg. */
tm_changelog_gen *tm_changelog_gen_open(const tm_config *cfg, int tasks);

/* Feeds `events` more events, spread evenly over the tasks, and produces
 * a checkpoint every per_checkpoint of them per task (and one for the
 * rest). */
void tm_changelog_gen_write(tm_changelog_gen *g, size_t events, size_t per_checkpoint);

/* Task p's engine: what a restore must bring back. */
const tm_engine *tm_changelog_gen_engine(const tm_changelog_gen *g, int p);

/* Events fed to task p: its checkpoint's next input offset. */
int64_t tm_changelog_gen_events(const tm_changelog_gen *g, int p);

/* Changelog records produced so far to task p's partition, and the bytes
 * of all records' keys and values. */
uint64_t tm_changelog_gen_records(const tm_changelog_gen *g, int p);
uint64_t tm_changelog_gen_bytes(const tm_changelog_gen *g);

/* Closes the engines and the clients; NULL is a no-op. */
void tm_changelog_gen_close(tm_changelog_gen *g);

#endif
