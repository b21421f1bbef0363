/*
 * heap.c: see heap.h. Invariant: no child orders before its parent.
 */
#include "heap.h"

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

static inline void *at(const tm_heap *h, size_t i)
{
    return h->items + i * h->elem_size;
}

static inline int64_t priority(const void *elem)
{
    int64_t p;
    memcpy(&p, elem, sizeof p);
    return p;
}

/* a orders before b (or with it, when equal is true). */
static inline bool before(const tm_heap *h, const void *a, const void *b, bool equal)
{
    int64_t pa = priority(a), pb = priority(b);
    if (pa != pb)
        return pa < pb;
    int c = h->tie ? h->tie(a, b) : 0;
    return equal ? c <= 0 : c < 0;
}

/* Writes elem at index i and reports its new position. */
static void put(tm_heap *h, size_t i, const void *elem)
{
    memcpy(at(h, i), elem, h->elem_size);
    if (h->moved)
        h->moved(at(h, i), i);
}

void tm_heap_init(tm_heap *h, size_t elem_size, tm_heap_tie tie, tm_heap_moved moved)
{
    assert(elem_size >= sizeof(int64_t));
    memset(h, 0, sizeof *h);
    h->elem_size = elem_size;
    h->tie = tie;
    h->moved = moved;
}

void tm_heap_destroy(tm_heap *h)
{
    free(h->items);
    h->items = NULL;
    h->len = h->cap = 0;
}

/* Moves the element held in tmp up from hole i to its place. */
static size_t sift_up(tm_heap *h, size_t i, const void *tmp)
{
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (before(h, at(h, parent), tmp, true))
            break;
        put(h, i, at(h, parent));
        i = parent;
    }
    return i;
}

static size_t sift_down(tm_heap *h, size_t i, const void *tmp)
{
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= h->len)
            break;
        if (child + 1 < h->len && before(h, at(h, child + 1), at(h, child), false))
            child++;
        if (before(h, tmp, at(h, child), true))
            break;
        put(h, i, at(h, child));
        i = child;
    }
    return i;
}

void tm_heap_push(tm_heap *h, const void *elem)
{
    h->items = tm_grow(h->items, &h->cap, h->len + 1, h->elem_size);
    size_t i = sift_up(h, h->len++, elem);
    put(h, i, elem);
}

void *tm_heap_top(const tm_heap *h)
{
    return h->len ? at(h, 0) : NULL;
}

void tm_heap_remove(tm_heap *h, size_t pos)
{
    assert(pos < h->len);
    h->len--;
    if (pos == h->len)
        return;
    /* Refill the hole with the last element, then restore the order in
     * whichever direction it is broken. */
    unsigned char tmp[64];
    assert(h->elem_size <= sizeof tmp);
    memcpy(tmp, at(h, h->len), h->elem_size);
    size_t i = sift_up(h, pos, tmp);
    if (i == pos)
        i = sift_down(h, pos, tmp);
    put(h, i, tmp);
}
