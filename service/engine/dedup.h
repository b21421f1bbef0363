/*
 * dedup.h: the held dedup keys of one task, with expiry (SEMANTICS 4).
 *
 * Invariants:
 * - A key is held while its entry is present and the task watermark is
 *   below its expiry: tm_dedup_holds answers exactly "W < expiry", so a key
 *   is released exactly when W reaches its expiry (W >= expiry), whether or
 *   not its memory has been reclaimed yet.
 * - Memory is reclaimed by expiry bucket (bucket_ms wide): once W passes a
 *   whole bucket, its entries go in one sequential sweep. An entry outlives
 *   its expiry by less than one bucket width. (A per-entry expiry heap cost
 *   a cache miss per level on every release: most of the dedup cost.)
 * - Keys are kept as 128-bit hashes of the dedup key bytes, not the bytes:
 *   memory per entry is fixed and small (see hash.h for the collision
 *   argument).
 */
#ifndef TM_DEDUP_H
#define TM_DEDUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "heap.h"
#include "table.h"

typedef struct tm_dedup_hash {
    uint64_t lo, hi;
} tm_dedup_hash;

typedef struct dedup_bucket dedup_bucket;

/* A key held since the last checkpoint, for the changelog. */
typedef struct tm_dedup_admitted {
    tm_dedup_hash h;
    int64_t expiry;
} tm_dedup_admitted;

typedef struct tm_dedup {
    tm_table held;      /* entries (hash, expiry), keyed by hash.lo */
    tm_table buckets;   /* bucket number -> bucket */
    tm_heap order;      /* buckets, lowest number first */
    dedup_bucket *last; /* the bucket of the latest hold (most holds reuse it) */
    int64_t bucket_ms;
    bool track;                  /* record holds in admitted */
    tm_dedup_admitted *admitted; /* holds since the last tm_dedup_drain_admitted */
    size_t n_admitted, cap_admitted;
} tm_dedup;

/* bucket_ms > 0: the expiry granularity of reclaiming memory. */
void tm_dedup_init(tm_dedup *d, int64_t bucket_ms);
void tm_dedup_destroy(tm_dedup *d);

/* The dedup hash of an id, and for "id+event_time" of the event time as
 * decoded (with_time). */
tm_dedup_hash tm_dedup_hash_of(const char *id, size_t id_len, bool with_time, int64_t t);

/* Whether h is held at the given watermark. */
bool tm_dedup_holds(const tm_dedup *d, tm_dedup_hash h, int64_t watermark);

/* Holds h until the watermark reaches expiry (> watermark). h must not be
 * held at watermark (an expired entry of h may still be present: it is
 * renewed). */
void tm_dedup_hold(tm_dedup *d, tm_dedup_hash h, int64_t expiry, int64_t watermark);

/* From now on, record holds for tm_dedup_drain_admitted. */
void tm_dedup_track_changes(tm_dedup *d);

/* The keys held since the last call (*n of them; valid until the next
 * hold), then forgets them. */
const tm_dedup_admitted *tm_dedup_drain_admitted(tm_dedup *d, size_t *n);

/* Holds h from saved state (restore); not recorded as admitted. */
void tm_dedup_restore(tm_dedup *d, tm_dedup_hash h, int64_t expiry);

/* Reclaims the entries of every bucket that lies wholly at or below the
 * watermark; returns how many entries were removed. */
size_t tm_dedup_expire(tm_dedup *d, int64_t watermark);

/* Entries in memory: the held ones, plus expired ones not yet reclaimed. */
size_t tm_dedup_size(const tm_dedup *d);

#endif
