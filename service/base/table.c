/*
 * table.c: see table.h. Load factor at most 1/2: linear probing degrades
 * sharply above that, and entries are small.
 */
#include "table.h"

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

enum { TABLE_MIN_CAP = 16 };

static inline unsigned char *slot_at(const tm_table *t, size_t i)
{
    return t->slots + i * t->entry_size;
}

static inline uint64_t slot_hash(const unsigned char *slot)
{
    uint64_t h;
    memcpy(&h, slot, sizeof h);
    return h;
}

void tm_table_init(tm_table *t, size_t entry_size)
{
    assert(entry_size >= sizeof(uint64_t));
    t->entry_size = entry_size;
    t->cap = TABLE_MIN_CAP;
    t->len = 0;
    t->slots = tm_xcalloc(t->cap, entry_size);
}

void tm_table_destroy(tm_table *t)
{
    free(t->slots);
    t->slots = NULL;
    t->cap = t->len = 0;
}

void *tm_table_find(const tm_table *t, uint64_t hash, tm_table_eq eq, const void *key)
{
    size_t mask = t->cap - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
        unsigned char *s = slot_at(t, i);
        uint64_t h = slot_hash(s);
        if (h == 0)
            return NULL;
        if (h == hash && eq(s, key))
            return s;
    }
}

static unsigned char *place(tm_table *t, uint64_t hash)
{
    size_t mask = t->cap - 1;
    size_t i = hash & mask;
    while (slot_hash(slot_at(t, i)) != 0)
        i = (i + 1) & mask;
    return slot_at(t, i);
}

static void grow(tm_table *t)
{
    unsigned char *old = t->slots;
    size_t old_cap = t->cap;
    t->cap *= 2;
    t->slots = tm_xcalloc(t->cap, t->entry_size);
    for (size_t i = 0; i < old_cap; i++) {
        unsigned char *s = old + i * t->entry_size;
        uint64_t h = slot_hash(s);
        if (h != 0)
            memcpy(place(t, h), s, t->entry_size);
    }
    free(old);
}

void *tm_table_insert(tm_table *t, uint64_t hash)
{
    assert(hash != 0);
    if ((t->len + 1) * 2 > t->cap)
        grow(t);
    unsigned char *s = place(t, hash);
    memset(s, 0, t->entry_size);
    memcpy(s, &hash, sizeof hash);
    t->len++;
    return s;
}

void tm_table_remove(tm_table *t, void *entry)
{
    size_t mask = t->cap - 1;
    size_t hole = (size_t)((unsigned char *)entry - t->slots) / t->entry_size;
    assert(hole < t->cap && slot_hash(entry) != 0);
    /* Backward shift: move later members of the probe run into the hole
     * when their home slot does not lie cyclically in (hole, i]. */
    for (size_t i = (hole + 1) & mask;; i = (i + 1) & mask) {
        unsigned char *s = slot_at(t, i);
        uint64_t h = slot_hash(s);
        if (h == 0)
            break;
        size_t home = h & mask;
        bool stays = hole <= i ? (hole < home && home <= i) : (hole < home || home <= i);
        if (stays)
            continue;
        memcpy(slot_at(t, hole), s, t->entry_size);
        hole = i;
    }
    memset(slot_at(t, hole), 0, t->entry_size);
    t->len--;
}

void *tm_table_slot(const tm_table *t, size_t i)
{
    assert(i < t->cap);
    unsigned char *s = slot_at(t, i);
    return slot_hash(s) ? s : NULL;
}
