/*
 * restore.h: rebuilding tasks from their state stores and the changelog
 * (DESIGN "Exactly-once": recovery), many tasks at once.
 *
 * For the tasks of one assignment: open each task's LMDB store; take the
 * offsets of all their changelog partitions in one request; read every
 * partition's tail, from the offset its store has applied up to the last
 * stable offset as of the start of the read, in one pass over all of them
 * (read_committed), writing each tail into its store as it arrives
 * together with the offset applied; then rebuild each task's engine from
 * its store. Opening and rebuilding, the CPU-bound steps, run on worker
 * threads, a task on one thread at a time.
 *
 * A changelog partition that ends before its store's applied offset was
 * recreated (deleted, e.g. by an application reset): the store holds state
 * that no longer exists, so it is wiped and restored from the changelog.
 *
 * A record of the changelog that is not tidemark's (changelog.h: a
 * mistaken producer wrote it) is skipped, with a warning naming its
 * partition and offset, and counted; one that is tidemark's but that this
 * binary cannot read fails the restore, naming its offset and the ways
 * out.
 *
 * A stop request ends a restore within about 100 ms while it reads (the
 * read checks it before each record and every 100 ms while it waits), and
 * within a few thousand records while it rebuilds: what was read is
 * applied to the stores with the offset after the last record read, so
 * the next restore goes on from there.
 */
#ifndef TM_RESTORE_H
#define TM_RESTORE_H

#include "stop_flag.h"
#include <stddef.h>
#include <stdint.h>

#include "changelog.h"
#include "config.h"
#include "engine.h"
#include "kafka.h"
#include "store.h"
#include "telemetry.h"

/* A restored task; the caller owns everything in it. */
typedef struct tm_restored_task {
    int32_t partition;
    tm_store *store;
    tm_changelog *changelog;
    tm_engine *engine;     /* tracking changes for the next checkpoint */
    int64_t *next_offsets; /* per topic of tm_engine_task_topics: the checkpoint's, -1 none */
    uint64_t records;      /* changelog records read (tidemark's) */
    uint64_t foreign;      /* records skipped as not tidemark's (changelog.h) */
} tm_restored_task;

/* Where a restore's time went (the log's summary line says the same). */
typedef struct tm_restore_stats {
    int64_t open_ms;    /* opening the stores */
    int64_t read_ms;    /* the offsets, and the changelog read and written into the stores */
    int64_t rebuild_ms; /* the engines, from the stores */
    uint64_t records;   /* changelog records read */
    uint64_t bytes;     /* their keys and values */
} tm_restore_stats;

typedef struct tm_restore_options {
    /* Told that the process is alive (every few thousand records) and
     * each task's restore; NULL: none. Borrowed. */
    tm_telemetry *telemetry;
    tm_stop_flag *stop;      /* non-zero: stop (SIGTERM); NULL: never */
    size_t open_stores;      /* stores the caller already holds (file descriptors) */
    unsigned threads;        /* worker threads, 0: one per online CPU */
    tm_restore_stats *stats; /* filled on success; NULL: not wanted */
} tm_restore_options;

/*
 * Restores the tasks partitions[0..n) (distinct, none of them open in this
 * process) into out[0..n). Returns 0; TM_ESTOPPED when o->stop was set
 * (out untouched, the stores keep what was read); or a negative tm_err
 * with a message (out untouched). Borrows cfg and k; k's changelog reader
 * is used by this thread only.
 */
int tm_restore_tasks(const tm_config *cfg, tm_kafka *k, const int32_t *partitions, size_t n,
                     const tm_restore_options *o, tm_restored_task *out, char *errstr,
                     size_t errlen);

/* Closes what t holds and zeroes it. */
void tm_restored_task_close(tm_restored_task *t);

#endif
