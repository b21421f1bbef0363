/*
 * heap.c: see heap.h. Invariant: cmp(parent, child) <= 0 for every pair.
 */
#include "heap.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static inline void *at(const tm_heap *h, size_t i)
{
    return h->items + i * h->elem_size;
}

/* Writes elem at index i and reports its new position. */
static void put(tm_heap *h, size_t i, const void *elem)
{
    memcpy(at(h, i), elem, h->elem_size);
    if (h->moved)
        h->moved(at(h, i), i);
}

void tm_heap_init(tm_heap *h, size_t elem_size, tm_heap_cmp cmp, tm_heap_moved moved)
{
    memset(h, 0, sizeof *h);
    h->elem_size = elem_size;
    h->cmp = cmp;
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
        if (h->cmp(at(h, parent), tmp) <= 0)
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
        if (child + 1 < h->len && h->cmp(at(h, child + 1), at(h, child)) < 0)
            child++;
        if (h->cmp(tmp, at(h, child)) <= 0)
            break;
        put(h, i, at(h, child));
        i = child;
    }
    return i;
}

void tm_heap_push(tm_heap *h, const void *elem)
{
    if (h->len == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 64;
        h->items = tm_xrealloc(h->items, h->cap * h->elem_size);
    }
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
