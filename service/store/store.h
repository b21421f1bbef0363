/*
 * store.h: the LMDB state store of one task.
 *
 * The store is a key/value mirror of the task's compacted changelog
 * partition: the same keys, the same values, a deleted key where the
 * changelog has a tombstone, plus the changelog offset it has applied up
 * to. It knows nothing of windows or dedup; changelog.c gives the bytes
 * their meaning. It is a cache of the changelog (the truth, in Kafka):
 * written after each committed transaction, possibly without fsync, and
 * rebuilt from the changelog when missing or corrupt.
 *
 * One LMDB environment per task under <dir>/<application_id>/<partition>/.
 * Only this module includes <lmdb.h>. A store is used by one thread at a
 * time: no transaction outlives a call, so a store may pass from one thread
 * to another between calls (the restore's workers, then the runner), given
 * the hand-over synchronises (a join, a mutex); no pointer into LMDB memory
 * is handed out beyond a callback's duration.
 *
 * What an open store costs, so that an instance can own thousands:
 * TM_STORE_FDS file descriptors, no thread-local key (LMDB's per-environment
 * pthread key, of which a process has only PTHREAD_KEYS_MAX = 1024, is
 * turned off), and address space for its map: 64 MiB at first, doubling
 * whenever the data does not fit.
 */
#ifndef TM_STORE_H
#define TM_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "records.h"

typedef struct tm_store tm_store;

/* File descriptors an open store holds (LMDB 0.9: the data file, the lock
 * file, and a second handle on the data file for its meta pages). */
enum { TM_STORE_FDS = 3 };

/* Raises the soft limit on open files (RLIMIT_NOFILE) to the hard limit:
 * the soft limit is often 1024, a few hundred stores. Called once at start;
 * a failure is not an error (tm_store_check_fds names the limit). */
void tm_store_raise_fd_limit(void);

/* Whether n_stores stores can be open at once, with room for the rest of
 * the process (Kafka connections, the HTTP server). Returns 0, or TM_ESTORE
 * with a message naming both counts and the limit. */
int tm_store_check_fds(size_t n_stores, char *errstr, size_t errlen);

/*
 * Opens (creating if missing) the store of task `partition` under
 * dir/app_id/partition/. sync: whether commits fsync (off by default in
 * the service: the changelog is the truth). A store that LMDB cannot open
 * (corrupt files, incompatible format) is wiped and recreated empty, and
 * *wiped is set, so that the caller restores it from the changelog.
 * Returns 0 and writes *out, or a negative tm_err with a message.
 */
int tm_store_open(tm_store **out, const char *dir, const char *app_id, int32_t partition, bool sync,
                  bool *wiped, char *errstr, size_t errlen);

/* Closes the environment; NULL is a no-op. */
void tm_store_close(tm_store *s);

/* The changelog offset the store has applied up to (the next offset to
 * read), or 0 for a new store. */
int64_t tm_store_applied_offset(const tm_store *s);

/* Applies changes in order and records applied_offset, in one write
 * transaction. Returns 0 or a negative tm_err with a message. */
int tm_store_apply(tm_store *s, const tm_kv_change *changes, size_t n, int64_t applied_offset,
                   char *errstr, size_t errlen);

/* Calls fn for every key/value in key order, inside one short read
 * transaction; the bytes are valid only during the call. fn returns 0 to go
 * on, non-zero to stop. Returns 0 after the last key, fn's non-zero value
 * if it stopped, or a negative tm_err with a message (so fn should stop
 * with a positive value or a tm_err of its own). */
int tm_store_scan(tm_store *s,
                  int (*fn)(void *ctx, const void *key, size_t key_len, const void *value,
                            size_t value_len),
                  void *ctx, char *errstr, size_t errlen);

/* Bytes the environment uses on disk (for metrics). */
uint64_t tm_store_bytes(const tm_store *s);

/* Deletes every key and resets the applied offset to 0. Returns 0 or a
 * negative tm_err with a message. */
int tm_store_clear(tm_store *s, char *errstr, size_t errlen);

/*
 * Removes the stores of every task of app_id under dir (dir/app_id/ and
 * everything tidemark put in it), for `tidemark reset`; a missing directory
 * is no error. *removed: the task directories removed. A file tidemark did
 * not write makes it fail, naming the directory. No store of app_id may be
 * open in any process.
 */
int tm_store_remove_all(const char *dir, const char *app_id, size_t *removed, char *errstr,
                        size_t errlen);

#endif
