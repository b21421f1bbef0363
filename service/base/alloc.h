/*
 * alloc.h: checked allocation and the growable array.
 *
 * tidemark is a restartable service, not a library: an allocation failure
 * aborts the process (Kubernetes restarts it, the changelog restores state),
 * so callers never check allocation results.
 */
#ifndef TM_ALLOC_H
#define TM_ALLOC_H

#include <stddef.h>

/* Allocation that aborts on failure. The returned memory is owned by the
 * caller and released with free(). */
void *tm_xmalloc(size_t n);
void *tm_xcalloc(size_t count, size_t size);
void *tm_xrealloc(void *p, size_t n);
char *tm_xstrdup(const char *s);
/* A copy of the n bytes at p (NUL bytes included) with a NUL after them. */
char *tm_xmemdup0(const void *p, size_t n);

/* The growable array: returns ptr, an array of *cap elements of elem bytes,
 * reallocated if need be to hold at least need elements, *cap doubling
 * (from 16). Use as `v = tm_grow(v, &cap, n + 1, sizeof *v)` before
 * appending the element n. Aborts when out of memory, like tm_xrealloc. */
void *tm_grow(void *ptr, size_t *cap, size_t need, size_t elem);

#endif
