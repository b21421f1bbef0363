/*
 * json_alloc.h: where cJSON's memory comes from: process-wide cJSON
 * allocation hooks that take memory from a per-thread bump arena while one
 * is set, and from malloc otherwise, so that decoding a record allocates
 * nothing in steady state (the details and caveats are in json_alloc.c).
 */
#ifndef TM_JSON_ALLOC_H
#define TM_JSON_ALLOC_H

#include <stddef.h>

typedef struct tm_json_arena_chunk tm_json_arena_chunk;

/* A bump arena for the cJSON nodes of one record at a time. Its fields
 * are private to json_alloc.c; it is a complete type so that a decoder
 * can hold one by value. */
typedef struct tm_json_arena {
    unsigned char *base; /* the retained block */
    size_t cap;
    size_t used;
    tm_json_arena_chunk *chunks; /* overflow of the current record, newest first */
    size_t chunk_used;           /* bytes used in chunks, to size the next block */
} tm_json_arena;

/* Installs the hooks, once per process (later calls do nothing). The
 * first call must not race with another thread's use of cJSON. */
void tm_json_alloc_install(void);

/* Makes a the current arena of this thread (NULL: none), for the hooks.
 * Borrows a until it is unset. */
void tm_json_arena_use(tm_json_arena *a);

/* Sets up an empty arena with its first retained block. */
void tm_json_arena_init(tm_json_arena *a);

/* Releases everything the arena holds; a may be initialised again. */
void tm_json_arena_free(tm_json_arena *a);

/* Starts a new record: everything allocated before is released at once. */
void tm_json_arena_reset(tm_json_arena *a);

/* n bytes, 16-aligned, valid until the next reset or free; NULL only for
 * an absurd n (more than SIZE_MAX / 4). */
void *tm_json_arena_alloc(tm_json_arena *a, size_t n);

#endif
