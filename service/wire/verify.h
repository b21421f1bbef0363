/*
 * verify.h: the comparison of `tidemark verify` (SEMANTICS 12), apart from
 * Kafka: the caller hands it the late output's records (their
 * tidemark.source), the input records and the output topic's records, and
 * it compares the output read as a table with the batch results of every
 * window inside [from, to) (start >= from, end <= to).
 *
 * How a window is judged: E is its batch result over every input record
 * handed in, B its batch result over the same records less those the late
 * output holds (matched by their source topic/partition/offset) and less
 * the records repeating a late one's dedup key (live counted neither: the
 * repeat was a duplicate of a dropped record, or too late too), T the
 * table's latest revision of it (a tombstone removes it). T equal to E:
 * equal. Else T equal to B (both may be absent): explained, since adding
 * the late records to T gives E. Else unexplained. Equal means the same
 * end, count and every aggregate within a relative 1e-9 (sums add in
 * another order live).
 *
 * Sessions are judged per key: live, a session that expired before the
 * next event of its key came is not merged with it, where the batch
 * merges them (and a too-late record can bridge two sessions in E only).
 * So when a key's sessions in T add up (counts and sums added, min and max
 * combined, avg through its sum) to its sessions in E or in B, every
 * differing session of the key is explained; otherwise every one is
 * unexplained. One by one they cannot be judged: without a late record a
 * batch session can start later (B's start is not E's), so B's session
 * would have no E or T window to be judged with, and a table that lost it
 * would pass as explained. A key with a batch session (of E or B)
 * that crosses a bound of the range (starts before from or ends after
 * to) cannot be compared whole: its sessions inside the range are what
 * live split off a session the range cuts, or not. Its differing
 * windows are unjudged, neither explained nor unexplained (a wider range
 * judges them; backfill writes nothing for them).
 *
 * Bounded memory: input events are decoded as they come (tm_batch_decode)
 * and written compactly to one of n_buckets spill files under a private
 * temporary directory, chosen by a hash of the group key; output records
 * go to the bucket of their group key likewise. tm_verify_finish then
 * takes the buckets one at a time: memory holds one bucket's windows and
 * dedup keys (two batches), its table and its late events. What stays in
 * memory for the whole run is the set of late sources (one string per
 * record of the late output). Events whose time cannot touch a window
 * inside the range are not spilled (tm_verify_pad).
 */
#ifndef TM_VERIFY_H
#define TM_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "batch.h"
#include "config.h"

typedef struct tm_verify tm_verify;

/* How far before from (and after to) in event time the input's events
 * can belong to or chain with a window inside the range: a session gap
 * (sessions chain), 0 otherwise. An input record whose receipt time is
 * before from - pad - the clock-skew allowance cannot hold such an event:
 * where the reading of the input may start. */
int64_t tm_verify_pad(const tm_config *cfg);
int64_t tm_verify_read_from(const tm_config *cfg, int64_t from);

/* The most spill buckets: two open files each. */
#define TM_VERIFY_MAX_BUCKETS 16384
/* The fewest that tm_verify_buckets_for picks. */
#define TM_VERIFY_MIN_BUCKETS 64
/* Input records a bucket is sized for: the finish holds one bucket's
 * windows, dedup keys and table in memory, about 7 MiB with tumbling
 * windows and 14 MiB with sessions for this many records (the README's
 * bench_verify figures). */
#define TM_VERIFY_BUCKET_RECORDS 16384

/* The buckets for about `records` input records, so that memory stays one
 * bucket's whatever the range: one per TM_VERIFY_BUCKET_RECORDS, at least
 * TM_VERIFY_MIN_BUCKETS, at most TM_VERIFY_MAX_BUCKETS and as many as
 * max_open_files (the hard limit of open files; 0: none) has room for. */
size_t tm_verify_buckets_for(int64_t records, uint64_t max_open_files);
/* tm_verify_buckets_for under this process's hard limit of open files. */
size_t tm_verify_buckets_for_process(int64_t records);

/* Creates a verification of cfg (borrowed) over [from, to) with n_buckets
 * (at most TM_VERIFY_MAX_BUCKETS) buckets of spill files in a new
 * directory under tmp_dir. The soft limit of open files is raised (up to
 * the hard one) when two per bucket do not fit under it. Returns 0 or a
 * negative tm_err with a message (TM_ECONFIG: the limit is too low). */
int tm_verify_open(tm_verify **out, const tm_config *cfg, int64_t from, int64_t to,
                   const char *tmp_dir, size_t n_buckets, char *errstr, size_t errlen);

/* Removes the spill files. NULL is a no-op. */
void tm_verify_close(tm_verify *v);

/* One record of the late output: its tidemark.source header
 * (<topic>/<partition>/<offset>). All of them before the first input. */
void tm_verify_late(tm_verify *v, const char *source, size_t len);

/* One input record. Returns 0 or TM_EIO (a spill write failed). */
int tm_verify_input(tm_verify *v, const tm_record *rec);

/* One record of the output topic, from partition, each partition's in
 * order (value NULL: a tombstone). A key without '@<start>' is ignored.
 * Returns 0 or TM_EIO. */
int tm_verify_output(tm_verify *v, int32_t partition, const char *key, size_t key_len,
                     const char *value, size_t value_len);

typedef enum {
    TM_VERIFY_EQUAL,
    TM_VERIFY_EXPLAINED,
    TM_VERIFY_UNEXPLAINED,
    TM_VERIFY_UNJUDGED, /* sessions: the key's batch session crosses a bound */
} tm_verify_verdict;

/* "equal", "explained", "unexplained" or "unjudged". */
const char *tm_verify_verdict_name(tm_verify_verdict v);

/* A window judged. Expected is E, actual T; has_* false for an absent
 * one. Aggregates in the order of cfg->aggs, as the output writes them
 * (count, sum, min, max, avg); expected_acc holds E's accumulators as
 * tm_window_result.acc does, to write E as a result (backfill).
 * actual_count -1: an output value that could not be read (its window is
 * kept by its start alone). actual_revision: T's revision (-1 when it
 * could not be read). actual_partition: the output partition of T's
 * record; input_partition: that of the first input record of the group
 * key handed in (-1: none), where a result of the key belongs when the
 * table has none (live, without repartitioning, a result goes to its
 * input record's partition). late: the sources of the late records of
 * the window's group key with an event time inside it. */
typedef struct tm_verify_window {
    const char *key;
    size_t key_len;
    int64_t start, end;
    tm_verify_verdict verdict;
    bool has_expected, has_actual;
    int64_t expected_count, actual_count;
    const double *expected, *actual;
    const double *expected_acc;
    int64_t actual_revision;
    int32_t actual_partition, input_partition;
    const char *const *late;
    size_t n_late;
} tm_verify_window;

typedef struct tm_verify_summary {
    uint64_t input_records; /* handed in */
    uint64_t late_records;
    uint64_t output_records;
    uint64_t dead_letters; /* input records batch decoding rejected */
    uint64_t windows;      /* windows inside the range, in E or T */
    uint64_t equal, explained, unexplained;
    uint64_t unjudged; /* sessions of keys whose batch session crosses a bound */
} tm_verify_summary;

typedef void (*tm_verify_window_fn)(void *ctx, const tm_verify_window *w);

/* Compares bucket by bucket: each window inside the range, equal or not,
 * goes to fn (by bucket, then group key bytes, then start; n_late is 0
 * for an equal one). progress (may be NULL) is called with progress_ctx
 * after each bucket with the number done. Returns 0 or a
 * negative tm_err with a message. */
int tm_verify_finish(tm_verify *v, tm_verify_window_fn fn, void *ctx,
                     void (*progress)(void *ctx, size_t done, size_t n), void *progress_ctx,
                     tm_verify_summary *out, char *errstr, size_t errlen);

#endif
