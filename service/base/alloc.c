/*
 * alloc.c: see alloc.h.
 */
#include "alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

void *tm_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        tm_die("out of memory allocating %zu bytes", n);
    return p;
}

void *tm_xcalloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        tm_die("out of memory allocating %zu x %zu bytes", count, size);
    return p;
}

void *tm_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        tm_die("out of memory reallocating %zu bytes", n);
    return q;
}

char *tm_xmemdup0(const void *p, size_t n)
{
    char *copy = tm_xmalloc(n + 1);
    memcpy(copy, p, n);
    copy[n] = '\0';
    return copy;
}

char *tm_xstrdup(const char *s)
{
    return tm_xmemdup0(s, strlen(s));
}

void *tm_grow(void *ptr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return ptr;
    size_t n = *cap ? *cap : 16;
    while (n < need && n <= SIZE_MAX / 2)
        n *= 2;
    if (n < need || n > SIZE_MAX / elem)
        tm_die("out of memory: %zu elements of %zu bytes", n, elem);
    ptr = tm_xrealloc(ptr, n * elem);
    *cap = n;
    return ptr;
}
