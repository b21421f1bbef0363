/*
 * dedup.c: see dedup.h.
 */
#include "dedup.h"

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "hash.h"
#include "num.h"

typedef struct dedup_entry {
    uint64_t lo; /* the table hash */
    uint64_t hi;
    int64_t expiry;
} dedup_entry;

/* The hashes held with an expiry in [number * bucket_ms, (number + 1) *
 * bucket_ms). An entry renewed later also stays listed in its old bucket;
 * the sweep checks the entry's current expiry before removing it. */
struct dedup_bucket {
    int64_t number;
    tm_dedup_hash *hashes;
    size_t n, cap;
};

typedef struct bucket_slot {
    uint64_t hash;
    dedup_bucket *bucket;
} bucket_slot;

typedef struct bucket_ref {
    int64_t number; /* the heap priority */
    dedup_bucket *bucket;
} bucket_ref;

static bool entry_eq(const void *entry, const void *key)
{
    return ((const dedup_entry *)entry)->hi == ((const tm_dedup_hash *)key)->hi;
}

static bool bucket_eq(const void *slot, const void *number)
{
    return ((const bucket_slot *)slot)->bucket->number == *(const int64_t *)number;
}

static uint64_t bucket_hash(int64_t number)
{
    return tm_hash_combine(0x6275636b6574ull, (uint64_t)number);
}

void tm_dedup_init(tm_dedup *d, int64_t bucket_ms)
{
    assert(bucket_ms > 0);
    memset(d, 0, sizeof *d);
    d->bucket_ms = bucket_ms;
    tm_table_init(&d->held, sizeof(dedup_entry));
    tm_table_init(&d->buckets, sizeof(bucket_slot));
    tm_heap_init(&d->order, sizeof(bucket_ref), NULL, NULL);
}

void tm_dedup_destroy(tm_dedup *d)
{
    bucket_ref *refs = (bucket_ref *)(void *)d->order.items;
    for (size_t i = 0; i < d->order.len; i++) {
        free(refs[i].bucket->hashes);
        free(refs[i].bucket);
    }
    free(d->admitted);
    tm_table_destroy(&d->held);
    tm_table_destroy(&d->buckets);
    tm_heap_destroy(&d->order);
}

tm_dedup_hash tm_dedup_hash_of(const char *id, size_t id_len, bool with_time, int64_t t)
{
    /* Two independent seeds give two independent 64-bit halves. */
    uint64_t lo = tm_hash64(id, id_len, 0x7469646d61726b31ull);
    uint64_t hi = tm_hash64(id, id_len, 0x646564757073ull);
    if (with_time) {
        lo = tm_hash_combine(lo, (uint64_t)t);
        hi = tm_hash_combine(hi ^ 0x5bd1e995ull, (uint64_t)t);
    }
    return (tm_dedup_hash){lo, hi};
}

bool tm_dedup_holds(const tm_dedup *d, tm_dedup_hash h, int64_t watermark)
{
    const dedup_entry *e = tm_table_find(&d->held, h.lo, entry_eq, &h);
    return e && e->expiry > watermark;
}

static dedup_bucket *bucket_for(tm_dedup *d, int64_t expiry)
{
    int64_t number = tm_floor_div(expiry, d->bucket_ms);
    if (d->last && d->last->number == number)
        return d->last;
    uint64_t h = bucket_hash(number);
    bucket_slot *slot = tm_table_find(&d->buckets, h, bucket_eq, &number);
    if (!slot) {
        dedup_bucket *b = tm_xcalloc(1, sizeof *b);
        b->number = number;
        slot = tm_table_insert(&d->buckets, h);
        slot->bucket = b;
        bucket_ref ref = {number, b};
        tm_heap_push(&d->order, &ref);
    }
    d->last = slot->bucket;
    return d->last;
}

/* Holds h until expiry, renewing an expired entry of h if present. */
static void hold(tm_dedup *d, tm_dedup_hash h, int64_t expiry)
{
    dedup_entry *e = tm_table_find(&d->held, h.lo, entry_eq, &h);
    if (!e) {
        e = tm_table_insert(&d->held, h.lo);
        e->hi = h.hi;
    }
    e->expiry = expiry;
    dedup_bucket *b = bucket_for(d, expiry);
    b->hashes = tm_grow(b->hashes, &b->cap, b->n + 1, sizeof *b->hashes);
    b->hashes[b->n++] = h;
}

void tm_dedup_hold(tm_dedup *d, tm_dedup_hash h, int64_t expiry, int64_t watermark)
{
    assert(expiry > watermark && !tm_dedup_holds(d, h, watermark));
    (void)watermark; /* only the precondition reads it */
    hold(d, h, expiry);
    if (!d->track)
        return;
    d->admitted = tm_grow(d->admitted, &d->cap_admitted, d->n_admitted + 1, sizeof *d->admitted);
    d->admitted[d->n_admitted++] = (tm_dedup_admitted){h, expiry};
}

void tm_dedup_track_changes(tm_dedup *d)
{
    d->track = true;
}

const tm_dedup_admitted *tm_dedup_drain_admitted(tm_dedup *d, size_t *n)
{
    *n = d->n_admitted;
    d->n_admitted = 0;
    return d->admitted;
}

void tm_dedup_restore(tm_dedup *d, tm_dedup_hash h, int64_t expiry)
{
    hold(d, h, expiry);
}

/* The largest expiry a bucket can hold, (number + 1) * bucket_ms - 1: the
 * first bucket starts below INT64_MIN unless bucket_ms divides it, so
 * number * bucket_ms would overflow there; the last bucket saturates. */
static int64_t bucket_last_ms(const tm_dedup *d, int64_t number)
{
    if (number >= INT64_MAX / d->bucket_ms)
        return INT64_MAX;
    return (number + 1) * d->bucket_ms - 1;
}

size_t tm_dedup_expire(tm_dedup *d, int64_t watermark)
{
    size_t removed = 0;
    for (bucket_ref *top = tm_heap_top(&d->order);
         top && bucket_last_ms(d, top->number) <= watermark; top = tm_heap_top(&d->order)) {
        dedup_bucket *b = top->bucket;
        for (size_t i = 0; i < b->n; i++) {
            dedup_entry *e = tm_table_find(&d->held, b->hashes[i].lo, entry_eq, &b->hashes[i]);
            /* Absent or renewed (held again with a later expiry): skip. */
            if (e && e->expiry <= watermark) {
                tm_table_remove(&d->held, e);
                removed++;
            }
        }
        tm_table_remove(&d->buckets,
                        tm_table_find(&d->buckets, bucket_hash(b->number), bucket_eq, &b->number));
        tm_heap_remove(&d->order, 0);
        if (d->last == b)
            d->last = NULL;
        free(b->hashes);
        free(b);
    }
    return removed;
}

size_t tm_dedup_size(const tm_dedup *d)
{
    return d->held.len;
}
