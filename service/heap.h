/*
 * heap.h: a binary min-heap of fixed-size elements.
 *
 * Elements are copied in; an optional moved() callback tells the caller
 * where an element now sits, so that it can be removed from the middle
 * later (windows leave the firing queue when a session merge swallows
 * them). Without the callback only the top is ever removed (dedup expiry).
 */
#ifndef TM_HEAP_H
#define TM_HEAP_H

#include <stdbool.h>
#include <stddef.h>

/* Negative, zero or positive as a orders before, with or after b. */
typedef int (*tm_heap_cmp)(const void *a, const void *b);
/* Element elem now sits at index pos. */
typedef void (*tm_heap_moved)(void *elem, size_t pos);

typedef struct tm_heap {
    unsigned char *items;
    size_t elem_size;
    size_t len;
    size_t cap;
    tm_heap_cmp cmp;
    tm_heap_moved moved; /* may be NULL */
} tm_heap;

#define TM_HEAP_NONE ((size_t)-1) /* "not in the heap", for positions */

void tm_heap_init(tm_heap *h, size_t elem_size, tm_heap_cmp cmp, tm_heap_moved moved);
void tm_heap_destroy(tm_heap *h);
/* Copies elem in. */
void tm_heap_push(tm_heap *h, const void *elem);
/* The smallest element, or NULL when empty; valid until the next change. */
void *tm_heap_top(const tm_heap *h);
/* Removes the element at pos (0 = the top). */
void tm_heap_remove(tm_heap *h, size_t pos);

#endif
