/*
 * dedup.h: the held dedup keys of one task, with expiry (SEMANTICS 4).
 *
 * Invariants:
 * - A key is held at most once; while held, every record with that key is
 *   a duplicate.
 * - An entry is released exactly when the task watermark reaches its
 *   expiry (W >= expiry), never earlier.
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

typedef struct tm_dedup {
    tm_table held;  /* of dedup entries, keyed by hash.lo */
    tm_heap expiry; /* of (expiry, hash), smallest expiry first */
} tm_dedup;

void tm_dedup_init(tm_dedup *d);
void tm_dedup_destroy(tm_dedup *d);

/* The dedup hash of an id, and for "id+event_time" of the event time as
 * decoded (with_time). */
tm_dedup_hash tm_dedup_hash_of(const char *id, size_t id_len, bool with_time, int64_t t);

bool tm_dedup_holds(const tm_dedup *d, tm_dedup_hash h);

/* Holds h until the watermark reaches expiry. h must not be held. */
void tm_dedup_hold(tm_dedup *d, tm_dedup_hash h, int64_t expiry);

/* Releases every entry with expiry <= w; returns how many. */
size_t tm_dedup_expire(tm_dedup *d, int64_t w);

size_t tm_dedup_size(const tm_dedup *d);

#endif
