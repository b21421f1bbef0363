/*
 * test_table.c: the open-addressing table (table.c) and the hash behind it
 * (hash.c). Deletion is backward shift: a removal must leave every probe
 * run without a hole, or a later lookup stops short and misses an entry
 * that is there. The tests drive the table with a fixed-seed random
 * sequence of inserts, removals and lookups against a plain array (the
 * reference model), with hashes that collide on purpose and whose home
 * slots sit at the end of the table, so that probe runs wrap around.
 */
#include "table.h"

#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "hash.h"

typedef struct entry {
    uint64_t hash;
    uint32_t key;
    uint32_t value;
} entry;

static bool entry_eq(const void *e, const void *key)
{
    return ((const entry *)e)->key == *(const uint32_t *)key;
}

/* A hash whose low bits (the home slot at every capacity up to 2^32) are
 * one of the last four slots: every key collides with a quarter of the
 * others and their probe run wraps from the table's end to its start. */
static uint64_t colliding_hash(uint32_t key)
{
    return ((uint64_t)key << 32) | (0xffffffffu - key % 4);
}

static uint64_t real_hash(uint32_t key)
{
    return tm_hash64(&key, sizeof key, 7);
}

static entry *find(const tm_table *t, uint64_t (*hash)(uint32_t), uint32_t key)
{
    return tm_table_find(t, hash(key), entry_eq, &key);
}

static void insert(tm_table *t, uint64_t (*hash)(uint32_t), uint32_t key, uint32_t value)
{
    entry *e = tm_table_insert(t, hash(key));
    cr_assert_eq(e->hash, hash(key));
    cr_assert_eq(e->key, 0, "insert returns a zeroed entry");
    e->key = key;
    e->value = value;
}

static void remove_key(tm_table *t, uint64_t (*hash)(uint32_t), uint32_t key)
{
    entry *e = find(t, hash, key);
    cr_assert_not_null(e, "key %u to remove is missing", key);
    tm_table_remove(t, e);
}

/* Linear probing's invariant: from an entry's home slot to the slot it
 * sits in, no slot is empty (a lookup would stop at the hole). Also counts
 * the entries, which must be t->len. */
static void check_probe_runs(const tm_table *t)
{
    size_t mask = t->cap - 1, n = 0;
    for (size_t i = 0; i < t->cap; i++) {
        const entry *e = tm_table_slot(t, i);
        if (!e)
            continue;
        n++;
        for (size_t j = e->hash & mask; j != i; j = (j + 1) & mask)
            cr_assert_not_null(tm_table_slot(t, j),
                               "key %u in slot %zu: empty slot %zu between it and its home %zu",
                               e->key, i, j, (size_t)(e->hash & mask));
    }
    cr_assert_eq(n, t->len, "%zu entries in the slots, len %zu", n, t->len);
    cr_assert_leq(t->len * 2, t->cap, "load above 1/2: %zu of %zu", t->len, t->cap);
}

enum { KEYS = 600, STEPS = 20000 };

/* The model: value[k] when present[k]. */
typedef struct model {
    bool present[KEYS];
    uint32_t value[KEYS];
    size_t n;
} model;

static void check_against(const tm_table *t, uint64_t (*hash)(uint32_t), const model *m)
{
    cr_assert_eq(t->len, m->n);
    for (uint32_t k = 0; k < KEYS; k++) {
        const entry *e = find(t, hash, k);
        if (!m->present[k]) {
            cr_assert_null(e, "removed key %u still found", k);
            continue;
        }
        cr_assert_not_null(e, "key %u missing", k);
        cr_assert_eq(e->value, m->value[k], "key %u: value %u, expected %u", k, e->value,
                     m->value[k]);
    }
    check_probe_runs(t);
}

static uint64_t next_random(uint64_t *s)
{
    /* xorshift64: fixed seed, the same sequence on every run */
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Random inserts and removals, biased towards inserts in the first half
 * (the table grows) and removals in the second (it empties: removals on
 * a large, sparse table), checked against the model as it goes. */
static void random_against_model(uint64_t (*hash)(uint32_t))
{
    tm_table t;
    tm_table_init(&t, sizeof(entry));
    static model m;
    memset(&m, 0, sizeof m);
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    size_t grown = 0, removed = 0, reinserted = 0, cap = t.cap;
    bool was_removed[KEYS] = {false};
    for (uint32_t step = 0; step < STEPS; step++) {
        uint32_t k = (uint32_t)(next_random(&seed) % KEYS);
        unsigned insert_pct = step < STEPS / 2 ? 70 : 30;
        bool want_insert = next_random(&seed) % 100 < insert_pct;
        if (want_insert && !m.present[k]) {
            insert(&t, hash, k, step);
            m.present[k] = true;
            m.value[k] = step;
            m.n++;
            reinserted += was_removed[k];
        } else if (!want_insert && m.present[k]) {
            remove_key(&t, hash, k);
            m.present[k] = false;
            m.n--;
            removed++;
            was_removed[k] = true;
        }
        grown += t.cap != cap;
        cap = t.cap;
        if (step % 97 == 0)
            check_against(&t, hash, &m);
    }
    check_against(&t, hash, &m);
    /* The sequence did what it is meant to exercise. */
    cr_assert_geq(grown, 4, "the table grew %zu times", grown);
    cr_assert_gt(removed, 1000);
    cr_assert_gt(reinserted, 500);
    for (uint32_t k = 0; k < KEYS; k++)
        if (m.present[k]) {
            remove_key(&t, hash, k);
            m.present[k] = false;
            m.n--;
        }
    check_against(&t, hash, &m);
    cr_assert_eq(t.len, 0);
    tm_table_destroy(&t);
}

Test(table, random_ops_with_colliding_wrapping_hashes)
{
    random_against_model(colliding_hash);
}

Test(table, random_ops_with_real_hashes)
{
    random_against_model(real_hash);
}

/* One probe run of keys sharing a home slot: removing any one of them
 * keeps the others found, and the removed one can come back. */
Test(table, remove_from_a_probe_run_then_reinsert)
{
    enum { RUN = 6 };
    for (uint32_t victim = 0; victim < RUN; victim++) {
        tm_table t;
        tm_table_init(&t, sizeof(entry));
        /* Keys 0, 4, 8, ...: the same home slot (the last one). */
        for (uint32_t i = 0; i < RUN; i++)
            insert(&t, colliding_hash, i * 4, i);
        remove_key(&t, colliding_hash, victim * 4);
        cr_assert_null(find(&t, colliding_hash, victim * 4));
        for (uint32_t i = 0; i < RUN; i++)
            if (i != victim) {
                const entry *e = find(&t, colliding_hash, i * 4);
                cr_assert_not_null(e, "key %u lost after removing key %u", i * 4, victim * 4);
                cr_assert_eq(e->value, i);
            }
        check_probe_runs(&t);
        insert(&t, colliding_hash, victim * 4, 100 + victim);
        cr_assert_eq(find(&t, colliding_hash, victim * 4)->value, 100 + victim);
        cr_assert_eq(t.len, RUN);
        check_probe_runs(&t);
        tm_table_destroy(&t);
    }
}

/* An entry that sits in its home slot must not be moved into an earlier
 * hole: with homes 15 (key 0) and 14 (key 1) then 15 again (key 4), a
 * removal of key 0 must bring key 4 back to slot 15, key 1 staying in 14. */
Test(table, backward_shift_keeps_entries_at_home)
{
    tm_table t;
    tm_table_init(&t, sizeof(entry));
    cr_assert_eq(t.cap, 16);
    insert(&t, colliding_hash, 0, 0); /* home 15, slot 15 */
    insert(&t, colliding_hash, 1, 1); /* home 14, slot 14 */
    insert(&t, colliding_hash, 4, 4); /* home 15, wraps to slot 0 */
    insert(&t, colliding_hash, 5, 5); /* home 14, slot 1 */
    cr_assert_eq(((entry *)tm_table_slot(&t, 0))->key, 4);
    cr_assert_eq(((entry *)tm_table_slot(&t, 1))->key, 5);
    remove_key(&t, colliding_hash, 0);
    cr_assert_eq(((entry *)tm_table_slot(&t, 14))->key, 1, "key 1 left its home slot");
    cr_assert_eq(((entry *)tm_table_slot(&t, 15))->key, 4, "key 4 not shifted back");
    cr_assert_eq(((entry *)tm_table_slot(&t, 0))->key, 5, "key 5 not shifted back");
    cr_assert_null(tm_table_slot(&t, 1));
    check_probe_runs(&t);
    tm_table_destroy(&t);
}

/* Growth rehashes every entry: all are found at the new capacity, with
 * their values, and the load stays at most 1/2. */
Test(table, growth_keeps_every_entry)
{
    tm_table t;
    tm_table_init(&t, sizeof(entry));
    size_t caps = 0, cap = t.cap;
    for (uint32_t k = 0; k < 5000; k++) {
        insert(&t, real_hash, k, k * 3);
        if (t.cap != cap) {
            cr_assert_eq(t.cap, cap * 2, "capacity %zu after %zu", t.cap, cap);
            cap = t.cap;
            caps++;
            for (uint32_t j = 0; j <= k; j++)
                cr_assert_eq(find(&t, real_hash, j)->value, j * 3);
        }
    }
    cr_assert_geq(caps, 9);
    check_probe_runs(&t);
    tm_table_destroy(&t);
}

Test(hash, deterministic_seeded_and_length_sensitive)
{
    const char text[] = "merchant-42|1763599944903|o101-67";
    uint64_t h = tm_hash64(text, sizeof text - 1, 1);
    cr_assert_eq(h, tm_hash64(text, sizeof text - 1, 1));
    cr_assert_neq(h, tm_hash64(text, sizeof text - 1, 2), "the seed is ignored");
    /* Every prefix (across the 8-byte steps and the tail) hashes apart,
     * and bytes past n are not read into the hash. */
    uint64_t seen[sizeof text];
    for (size_t n = 0; n < sizeof text; n++) {
        char copy[sizeof text];
        memcpy(copy, text, sizeof text);
        memset(copy + n, 'x', sizeof text - n);
        seen[n] = tm_hash64(text, n, 1);
        cr_assert_eq(seen[n], tm_hash64(copy, n, 1), "length %zu reads past its end", n);
        cr_assert_neq(seen[n], 0);
        for (size_t m = 0; m < n; m++)
            cr_assert_neq(seen[m], seen[n], "prefixes of %zu and %zu bytes collide", m, n);
    }
    cr_assert_neq(tm_hash_combine(h, 1), tm_hash_combine(h, 2));
    cr_assert_neq(tm_hash_combine(h, 1), tm_hash_combine(h + 1, 1));
}
