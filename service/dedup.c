/*
 * dedup.c: see dedup.h.
 */
#include "dedup.h"

#include <assert.h>
#include <string.h>

#include "hash.h"

typedef struct dedup_entry {
    uint64_t lo; /* the table hash */
    uint64_t hi;
} dedup_entry;

typedef struct dedup_expiry {
    int64_t expiry; /* the heap priority */
    tm_dedup_hash h;
} dedup_expiry;

static bool entry_eq(const void *entry, const void *key)
{
    return ((const dedup_entry *)entry)->hi == ((const tm_dedup_hash *)key)->hi;
}

void tm_dedup_init(tm_dedup *d)
{
    tm_table_init(&d->held, sizeof(dedup_entry));
    tm_heap_init(&d->expiry, sizeof(dedup_expiry), NULL, NULL);
}

void tm_dedup_destroy(tm_dedup *d)
{
    tm_table_destroy(&d->held);
    tm_heap_destroy(&d->expiry);
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

bool tm_dedup_holds(const tm_dedup *d, tm_dedup_hash h)
{
    return tm_table_find(&d->held, h.lo, entry_eq, &h) != NULL;
}

void tm_dedup_hold(tm_dedup *d, tm_dedup_hash h, int64_t expiry)
{
    assert(!tm_dedup_holds(d, h));
    dedup_entry *e = tm_table_insert(&d->held, h.lo);
    e->hi = h.hi;
    dedup_expiry x = {expiry, h};
    tm_heap_push(&d->expiry, &x);
}

size_t tm_dedup_expire(tm_dedup *d, int64_t w)
{
    size_t released = 0;
    for (dedup_expiry *x = tm_heap_top(&d->expiry); x && x->expiry <= w;
         x = tm_heap_top(&d->expiry)) {
        dedup_entry *e = tm_table_find(&d->held, x->h.lo, entry_eq, &x->h);
        assert(e);
        tm_table_remove(&d->held, e);
        tm_heap_remove(&d->expiry, 0);
        released++;
    }
    return released;
}

size_t tm_dedup_size(const tm_dedup *d)
{
    return d->held.len;
}
