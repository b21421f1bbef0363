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
 *   key "c"                                       the checkpoint: version 2,
 *       seq, W (int64 LE), n_topics (u32 LE), and per input topic: next
 *       input offset, max event time, last record time (int64 LE); then
 *       the state fingerprint: its length (u32 LE) and its text
 *       (tm_config_state_fingerprint). Version 1 (no fingerprint) is read.
 *       A paired task's (engine.h) is version 3: version 2's fields (W is
 *       its window half's), then its pairing: the repartition topic's next
 *       offset, the source half's task watermark (int64 LE), the mark last
 *       published (watermark int64 LE, idle u8), n_sources (u32 LE) and
 *       the window half's view of each source (watermark int64 LE, idle
 *       u8).
 *
 * Every record fits the changelog topic's record limit: a checkpoint's
 * dedup keys are split over as many "d" records as needed, each with its
 * own seq.
 *
 * Coalescing (DESIGN "Performance"): one record per changed window per
 * checkpoint and one for all dedup keys of a checkpoint, not one per event.
 * The store (LMDB) holds the same keys and values.
 *
 * A tm_changelog belongs to one task and one thread.
 */
#ifndef TM_CHANGELOG_H
#define TM_CHANGELOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "engine.h"
#include "records.h"

typedef struct tm_changelog tm_changelog;

/* Creates the changelog codec of one task, for records of at most the
 * producer's limit (tm_config_producer_max_bytes). Borrows cfg. */
tm_changelog *tm_changelog_new(const tm_config *cfg);

/* An upper bound of the bytes (tm_record_wire_bytes) of the largest
 * window, checkpoint or single-key dedup record under cfg: the changelog
 * topic must take records this large. */
size_t tm_changelog_max_fixed_bytes(const tm_config *cfg);

/* Lowers the record limit to what the changelog topic takes
 * (tm_record_wire_bytes of each record <= max_record_bytes). */
void tm_changelog_set_record_limit(tm_changelog *cl, size_t max_record_bytes);
/* NULL is a no-op. */
void tm_changelog_free(tm_changelog *cl);

/*
 * A checkpoint: the changes of engine e since the last checkpoint, as
 * key/value changes in the order they must be applied (deleted windows,
 * changed windows, the new dedup batch, tombstones of expired dedup
 * batches, the checkpoint record with next_offsets: one per topic of
 * tm_engine_task_topics, -1 for nothing consumed). *changes is owned by cl and valid until the
 * next call.
 */
void tm_changelog_collect(tm_changelog *cl, tm_engine *e, const int64_t *next_offsets,
                          const tm_kv_change **changes, size_t *n);

/*
 * Restore: rebuilds the state of a freshly opened engine e from one
 * record, as the store holds them (store.h): the latest record of each key
 * once (a tombstoned key not at all), in key order, which brings the
 * checkpoint ("c") before the dedup batches ("d") that need its watermark.
 * The codec must be fresh too (it learns the live dedup batches, to
 * tombstone them later). The checkpoint record writes its next
 * offsets into next_offsets (one per topic of tm_engine_task_topics; the
 * caller starts them at -1: no checkpoint). The bytes are borrowed for the call. Returns 0;
 * TM_ECONFIG with a message naming the changed keys when the checkpoint's
 * state fingerprint differs from cfg's (the state was built for another
 * configuration); TM_ESTORE with a message when the record cannot be read
 * (written by an incompatible version).
 */
int tm_changelog_restore_record(tm_changelog *cl, tm_engine *e, const void *key, size_t key_len,
                                const void *value, size_t value_len, int64_t *next_offsets,
                                char *errstr, size_t errlen);

/*
 * Whose record it is. The changelog is tidemark's own topic, but a
 * mistaken producer can write to it. A record is tidemark's when its key
 * is one of the three kinds above with that kind's length ("w" and at
 * least 8 more bytes, "d" and exactly 8, "c" alone) and its value is null
 * (a tombstone) or starts with a format version byte: 1 to
 * TM_CHANGELOG_VERSION_MAX, below every printable character, so that text
 * (JSON, a string) never passes for one. Any other record is foreign:
 * restore skips it. A record of tidemark's that tm_changelog_check refuses
 * was written by another version of tidemark, or damaged: restore fails.
 */
#define TM_CHANGELOG_VERSION_MAX 31

bool tm_changelog_is_ours(const void *key, size_t key_len, const void *value, size_t value_len);

/* A record of tidemark's: NULL when this binary reads its key and value,
 * else a static text saying why not. */
const char *tm_changelog_check(const void *key, size_t key_len, const void *value,
                               size_t value_len);

/* The versions this binary reads, in words, for messages. */
const char *tm_changelog_versions_read(void);

/*
 * Reading one record, without a configuration: what restore uses, and
 * what renders a record as JSON (changelog_json.h). Each parse function
 * returns NULL, or a static text saying why the bytes cannot be read
 * (written by another version, or damaged). Parsed records point into the
 * bytes they were parsed from.
 */
typedef enum { TM_CHANGELOG_WINDOW, TM_CHANGELOG_DEDUP, TM_CHANGELOG_CHECKPOINT } tm_changelog_kind;

typedef struct tm_changelog_key {
    tm_changelog_kind kind;
    int64_t start;         /* window */
    const char *group_key; /* window */
    size_t group_key_len;
    int64_t seq; /* dedup */
} tm_changelog_key;

const char *tm_changelog_parse_key(const void *key, size_t key_len, tm_changelog_key *out);

/* A window's value; its accumulators are read with tm_changelog_window_acc. */
typedef struct tm_changelog_window {
    int64_t end, count, revision;
    bool fired;
    uint32_t n_aggs;
    const unsigned char *acc_bytes_;
} tm_changelog_window;

const char *tm_changelog_parse_window(const void *value, size_t value_len,
                                      tm_changelog_window *out);
/* Accumulator i < w->n_aggs, in the order of the configuration's
 * aggregations (avg holds the field's sum, count 0). */
double tm_changelog_window_acc(const tm_changelog_window *w, size_t i);

/* A dedup batch's value; its keys are read with tm_changelog_dedup_entry. */
typedef struct tm_changelog_dedup {
    uint32_t n;
    int64_t max_expiry;
    const unsigned char *entry_bytes_;
} tm_changelog_dedup;

const char *tm_changelog_parse_dedup(const void *value, size_t value_len, tm_changelog_dedup *out);
/* Key i < d->n: its hash and expiry. */
void tm_changelog_dedup_entry(const tm_changelog_dedup *d, size_t i, tm_dedup_hash *h,
                              int64_t *expiry);

/* The checkpoint's value; its per-topic part is read with
 * tm_changelog_checkpoint_input. */
typedef struct tm_changelog_checkpoint {
    int64_t seq, watermark;
    uint32_t n_topics;
    const char *fingerprint; /* NULL in a version 1 checkpoint */
    size_t fingerprint_len;
    const unsigned char *input_bytes_;
    /* A paired task's (version 3); its sources are read with
     * tm_changelog_checkpoint_source. */
    bool paired;
    int64_t repartition_offset; /* -1: nothing consumed */
    int64_t source_watermark;
    tm_watermark_source published;
    uint32_t n_sources;
    const unsigned char *source_bytes_;
} tm_changelog_checkpoint;

/* Input topic i < c->n_topics (in input.topics order) at the checkpoint. */
typedef struct tm_changelog_input {
    int64_t next_offset; /* -1: nothing consumed */
    int64_t max_t;
    int64_t last_record_time;
} tm_changelog_input;

const char *tm_changelog_parse_checkpoint(const void *value, size_t value_len,
                                          tm_changelog_checkpoint *out);
tm_changelog_input tm_changelog_checkpoint_input(const tm_changelog_checkpoint *c, size_t i);
/* A paired checkpoint's view of source i < c->n_sources. */
tm_watermark_source tm_changelog_checkpoint_source(const tm_changelog_checkpoint *c, size_t i);

#endif
