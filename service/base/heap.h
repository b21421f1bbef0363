/*
 * heap.h: a binary min-heap of fixed-size elements ordered by an int64
 * priority.
 *
 * Every element starts with its int64_t priority, compared inline (the heap
 * is on the per-event path: dedup expiry, window firing and expiry); an
 * optional tie() callback orders elements of equal priority. Elements are
 * copied in; an optional moved() callback tells the caller where an element
 * now sits, so that it can be removed from the middle later (windows leave
 * the firing queue when a session merge swallows them). Without it only the
 * top is ever removed (dedup expiry).
 */
#ifndef TM_HEAP_H
#define TM_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Negative, zero or positive as a orders before, with or after b, for two
 * elements of equal priority. */
typedef int (*tm_heap_tie)(const void *a, const void *b);
/* Element elem now sits at index pos. */
typedef void (*tm_heap_moved)(void *elem, size_t pos);

typedef struct tm_heap {
    unsigned char *items;
    size_t elem_size;
    size_t len;
    size_t cap;
    tm_heap_tie tie;     /* may be NULL: equal priorities in any order */
    tm_heap_moved moved; /* may be NULL */
} tm_heap;

#define TM_HEAP_NONE ((size_t)-1) /* "not in the heap", for positions */

/* elem_size includes the leading int64_t priority. */
void tm_heap_init(tm_heap *h, size_t elem_size, tm_heap_tie tie, tm_heap_moved moved);
void tm_heap_destroy(tm_heap *h);
/* Copies elem in. */
void tm_heap_push(tm_heap *h, const void *elem);
/* The smallest element, or NULL when empty; valid until the next change. */
void *tm_heap_top(const tm_heap *h);
/* Removes the element at pos (0 = the top). */
void tm_heap_remove(tm_heap *h, size_t pos);

#endif
