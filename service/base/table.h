/*
 * table.h: an open-addressing hash table of fixed-size entries.
 *
 * Each entry starts with its uint64_t hash (never 0; 0 marks an empty
 * slot); the rest of the entry is the caller's. Linear probing with
 * backward-shift deletion, so there are no tombstones and lookups stay short
 * however many entries come and go (dedup keys churn constantly).
 *
 * Entry pointers are valid until the next insert or remove.
 */
#ifndef TM_TABLE_H
#define TM_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tm_table {
    unsigned char *slots;
    size_t entry_size;
    size_t cap; /* a power of two */
    size_t len;
} tm_table;

/* Compares an entry whose hash matched with the looked-up key. */
typedef bool (*tm_table_eq)(const void *entry, const void *key);

void tm_table_init(tm_table *t, size_t entry_size);
void tm_table_destroy(tm_table *t);

/* The entry with this hash for which eq(entry, key) holds, or NULL. */
void *tm_table_find(const tm_table *t, uint64_t hash, tm_table_eq eq, const void *key);

/* Adds an entry with this hash (the caller has checked it is absent) and
 * returns it with its hash set and the rest zeroed, for the caller to fill. */
void *tm_table_insert(tm_table *t, uint64_t hash);

/* Removes an entry returned by find or insert. */
void tm_table_remove(tm_table *t, void *entry);

/* Iteration: the i-th slot, for i < t->cap, or NULL when empty. */
void *tm_table_slot(const tm_table *t, size_t i);

#endif
