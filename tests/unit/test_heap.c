/*
 * test_heap.c: the binary min-heap (heap.c) against a reference model (a
 * plain array searched for its minimum), under a fixed-seed random
 * sequence of pushes, removals of the top and removals from the middle
 * (by the position the moved() callback reported, as the window firing
 * queue does). Priorities come from a small range, so that the tie()
 * callback decides the order of many elements.
 */
#include "heap.h"

#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

typedef struct elem {
    int64_t priority;
    uint32_t id;
    uint32_t pad;
} elem;

enum { IDS = 400, STEPS = 30000 };

/* Where each id sits in the heap (TM_HEAP_NONE: not in it), as moved()
 * reports it. */
static size_t position[IDS];

static int by_id(const void *a, const void *b)
{
    uint32_t x = ((const elem *)a)->id, y = ((const elem *)b)->id;
    return x < y ? -1 : x > y;
}

static void on_moved(void *e, size_t pos)
{
    position[((elem *)e)->id] = pos;
}

static bool orders_before(const elem *a, const elem *b)
{
    return a->priority != b->priority ? a->priority < b->priority : a->id < b->id;
}

/* No child orders before its parent, and every element is where moved()
 * last said it was. */
static void check_heap(const tm_heap *h)
{
    const elem *items = (const elem *)h->items;
    for (size_t i = 0; i < h->len; i++) {
        cr_assert_eq(position[items[i].id], i, "id %u at %zu, reported at %zu", items[i].id, i,
                     position[items[i].id]);
        if (i > 0)
            cr_assert(!orders_before(&items[i], &items[(i - 1) / 2]),
                      "id %u at %zu orders before its parent", items[i].id, i);
    }
}

static uint64_t next_random(uint64_t *s)
{
    /* xorshift64: fixed seed, the same sequence on every run */
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* The model's smallest element (priority, then id): its id, or IDS when
 * empty. */
static uint32_t model_min(const bool *present, const int64_t *prio)
{
    uint32_t best = IDS;
    for (uint32_t id = 0; id < IDS; id++)
        if (present[id] && (best == IDS || prio[id] < prio[best]))
            best = id; /* ascending ids: the first of equal priorities wins */
    return best;
}

Test(heap, random_ops_against_model)
{
    tm_heap h;
    tm_heap_init(&h, sizeof(elem), by_id, on_moved);
    static bool present[IDS];
    static int64_t prio[IDS];
    memset(present, 0, sizeof present);
    for (size_t i = 0; i < IDS; i++)
        position[i] = TM_HEAP_NONE;
    size_t n = 0, tops = 0, middles = 0;
    uint64_t seed = 0x2545f4914f6cdd1dull;
    for (int step = 0; step < STEPS; step++) {
        uint32_t id = (uint32_t)(next_random(&seed) % IDS);
        uint64_t op = next_random(&seed) % 10;
        if (op < 5 && !present[id]) {
            /* 16 priorities, negative ones included: many ties. */
            elem e = {.priority = (int64_t)(next_random(&seed) % 16) - 8, .id = id};
            tm_heap_push(&h, &e);
            present[id] = true;
            prio[id] = e.priority;
            n++;
        } else if (op < 8 && n > 0) {
            uint32_t want = model_min(present, prio);
            const elem *top = tm_heap_top(&h);
            cr_assert_not_null(top);
            cr_assert_eq(top->id, want, "top id %u (priority %lld), expected %u (%lld)", top->id,
                         (long long)top->priority, want, (long long)prio[want]);
            position[want] = TM_HEAP_NONE;
            tm_heap_remove(&h, 0);
            present[want] = false;
            n--;
            tops++;
        } else if (op >= 8 && present[id]) {
            cr_assert_neq(position[id], TM_HEAP_NONE);
            size_t pos = position[id];
            position[id] = TM_HEAP_NONE;
            tm_heap_remove(&h, pos);
            present[id] = false;
            n--;
            middles++;
        }
        cr_assert_eq(h.len, n);
        if (step % 31 == 0)
            check_heap(&h);
    }
    check_heap(&h);
    cr_assert_gt(tops, 1000);
    cr_assert_gt(middles, 1000);
    /* Draining gives the model's order. */
    elem last = {.priority = INT64_MIN};
    for (; n > 0; n--) {
        const elem *top = tm_heap_top(&h);
        cr_assert_eq(top->id, model_min(present, prio));
        cr_assert(!orders_before(top, &last), "drained out of order");
        last = *top;
        present[top->id] = false;
        tm_heap_remove(&h, 0);
        check_heap(&h);
    }
    cr_assert_null(tm_heap_top(&h));
    tm_heap_destroy(&h);
}

/* Removing the last element, then one whose replacement must move up (the
 * last element orders before the removed one's parent). */
Test(heap, remove_last_and_sift_up)
{
    tm_heap h;
    tm_heap_init(&h, sizeof(elem), by_id, on_moved);
    /* A heap laid out as [1, 10, 2, 11, 12, 3, 4] (ids = priorities). */
    static const int64_t layout[] = {1, 10, 2, 11, 12, 3, 4};
    for (size_t i = 0; i < sizeof layout / sizeof layout[0]; i++)
        tm_heap_push(&h, &(elem){.priority = layout[i], .id = (uint32_t)layout[i]});
    check_heap(&h);
    cr_assert_eq(position[12], 4);
    /* The last element (4) refills position 4 (under 10): it moves up. */
    tm_heap_remove(&h, position[12]);
    check_heap(&h);
    cr_assert_eq(position[4], 1, "4 did not move up past 10");
    tm_heap_remove(&h, h.len - 1);
    check_heap(&h);
    static const int64_t order[] = {1, 2, 4, 10, 11};
    cr_assert_eq(h.len, 5);
    for (size_t i = 0; i < 5; i++) {
        cr_assert_eq(((const elem *)tm_heap_top(&h))->priority, order[i]);
        tm_heap_remove(&h, 0);
    }
    cr_assert_eq(h.len, 0);
    tm_heap_destroy(&h);
}

/* Without tie() and moved() (dedup expiry): pops come out in priority
 * order. */
Test(heap, plain_pops_sorted)
{
    tm_heap h;
    tm_heap_init(&h, sizeof(int64_t), NULL, NULL);
    uint64_t seed = 12345;
    for (int i = 0; i < 1000; i++) {
        int64_t p = (int64_t)(next_random(&seed) % 200);
        tm_heap_push(&h, &p);
    }
    int64_t last = INT64_MIN;
    for (int i = 0; i < 1000; i++) {
        int64_t p;
        memcpy(&p, tm_heap_top(&h), sizeof p);
        cr_assert_geq(p, last);
        last = p;
        tm_heap_remove(&h, 0);
    }
    cr_assert_null(tm_heap_top(&h));
    tm_heap_destroy(&h);
}
