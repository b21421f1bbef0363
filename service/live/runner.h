/*
 * runner.h: the live service (`tidemark run`): consume, run the engine,
 * produce results, checkpoint, restore, rebalance, shut down.
 *
 * Exactly-once (DESIGN "Exactly-once"): per commit interval, one Kafka
 * transaction holds the output, late and dead-letter records, the
 * changelog records of every state change since the last checkpoint, one
 * checkpoint record per task and the input offsets; after it commits, each
 * task's LMDB store applies the same changes. A task is restored from its
 * store plus the changelog's tail, and resumes at its checkpoint's offsets.
 * An abortable error aborts the transaction and rebuilds every task from
 * its last checkpoint; a fatal one (fenced, or a timed-out commit) ends the
 * run with an error so that the process restarts.
 */
#ifndef TM_RUNNER_H
#define TM_RUNNER_H

#include "stop_flag.h"
#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* Called after each committed transaction for every main-output record it
 * held (demo and tests); key and value are borrowed, value NULL for a
 * tombstone. */
typedef void (*tm_commit_observer)(void *ctx, int32_t partition, const char *key, size_t key_len,
                                   const char *value, size_t value_len);

typedef struct tm_runner_options {
    const char *instance_id;     /* transactional.id suffix: stable per pod */
    tm_commit_observer observer; /* may be NULL */
    void *observer_ctx;
} tm_runner_options;

typedef struct tm_runner tm_runner;

/* Creates the runner: Kafka clients (changelog topic, init_transactions)
 * and subscription. Borrows cfg. Returns 0 and writes *out, or a negative
 * tm_err with a message. */
int tm_runner_open(tm_runner **out, const tm_config *cfg, const tm_runner_options *opt,
                   char *errstr, size_t errlen);

/*
 * Runs until *stop becomes non-zero (SIGTERM: the current checkpoint is
 * committed, the group left) or a fatal error. Returns 0 after a clean
 * stop, or a negative tm_err with a message.
 */
int tm_runner_run(tm_runner *r, tm_stop_flag *stop, char *errstr, size_t errlen);

/* Closes tasks and clients; NULL is a no-op. */
void tm_runner_close(tm_runner *r);

#endif
