/*
 * changelog.h: a task's state as changelog records, and back.
 *
 * The changelog topic is compacted, so every record is keyed by the piece
 * of state it holds, and the latest record of a key is that state:
 *
 *   key "w" <start: int64 BE> <group key bytes>   one window
 *       value: version 1, end, count, revision (int64 LE), fired (u8),
 *              n_aggs (u32 LE), n_aggs accumulators (IEEE double LE);
 *       tombstone: the window expired or was merged away
 *   key "d" <seq: int64 BE>                       the dedup keys one
 *       checkpoint admitted: version 1, n (u32 LE), max expiry (int64 LE),
 *       n x (hash lo, hash hi, expiry) (u64, u64, int64 LE); tombstoned
 *       once the watermark passes its max expiry
 *   key "c"                                       the checkpoint: version 1,
 *       seq, W (int64 LE), n_topics (u32 LE), and per input topic: next
 *       input offset, max event time, last record time (int64 LE)
 *
 * Coalescing (DESIGN "Performance"): one record per changed window per
 * checkpoint and one for all dedup keys of a checkpoint, not one per event.
 * The store (LMDB) holds the same keys and values.
 *
 * A tm_changelog belongs to one task and one thread.
 */
#ifndef TM_CHANGELOG_H
#define TM_CHANGELOG_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "engine.h"
#include "store.h"

typedef struct tm_changelog tm_changelog;

/* Creates the changelog codec of one task. Borrows cfg. */
tm_changelog *tm_changelog_new(const tm_config *cfg);
/* NULL is a no-op. */
void tm_changelog_free(tm_changelog *cl);

/*
 * A checkpoint: the changes of engine e since the last checkpoint, as
 * key/value changes in the order they must be applied (deleted windows,
 * changed windows, the new dedup batch, tombstones of expired dedup
 * batches, the checkpoint record with next_offsets: one per input topic,
 * -1 for nothing consumed). *changes is owned by cl and valid until the
 * next call.
 */
void tm_changelog_collect(tm_changelog *cl, tm_engine *e, const int64_t *next_offsets,
                          const tm_kv_change **changes, size_t *n);

/* Restore, step 1: feed every record in order (the store's contents, then
 * the changelog's tail); value NULL is a tombstone. Copies the bytes. */
void tm_changelog_load(tm_changelog *cl, const void *key, size_t key_len, const void *value,
                       size_t value_len);

/*
 * Restore, step 2: rebuilds the state loaded so far into a freshly opened
 * engine e, writes the checkpoint's next input offsets into next_offsets
 * (one per input topic; -1 without a checkpoint) and forgets what was
 * loaded. Returns 0, or TM_ESTORE with a message when a record cannot be
 * read (written by an incompatible version or another configuration).
 */
int tm_changelog_restore(tm_changelog *cl, tm_engine *e, int64_t *next_offsets, char *errstr,
                         size_t errlen);

#endif
