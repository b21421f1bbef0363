/*
 * json_alloc.c: cJSON's allocation hooks and the arena they allocate from
 * (json_alloc.h).
 *
 * Memory for cJSON. cJSON allocates every node and string through global
 * hooks (cJSON_InitHooks), which tm_decoder_open installs once per process.
 * The hooks consult a thread-local "current arena", set only while
 * tm_decode runs cJSON_ParseWithLength on this thread:
 *   malloc_fn: from the current arena if one is set, else malloc();
 *   free_fn:   ignores pointers inside the current arena's blocks (the arena
 *              is reset wholesale at the next tm_decode), else free().
 * With no arena set the hooks are plain malloc/free, so other cJSON users
 * (config.c), on any thread, before or after a decoder opens, are
 * unaffected. Trees parsed in the arena are never passed to cJSON_Delete
 * after the arena is unset. cJSON's realloc hook is dropped when custom
 * hooks are installed; cJSON then prints by malloc+copy, which is only
 * slower. Caveats for the rest of the service: never call cJSON_InitHooks
 * elsewhere, and keep LC_NUMERIC "C" (cJSON parses numbers with the
 * locale's decimal point).
 */
#include "json_alloc.h"

#include "alloc.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Bump allocation granule: cJSON nodes hold doubles and pointers. */
#define ARENA_ALIGN 16
/* First size of the retained block: a few typical records' worth. */
#define ARENA_INITIAL 8192
/* The retained block grows to fit the largest record seen, up to this; a
 * single larger record borrows overflow chunks that are freed right after,
 * so one huge value does not pin its memory for the process lifetime. */
#define ARENA_MAX_KEEP ((size_t)1 << 20)
/* Smallest overflow chunk, so that overflow is not one malloc per node. */
#define ARENA_MIN_CHUNK ((size_t)64 << 10)

struct tm_json_arena_chunk {
    struct tm_json_arena_chunk *next;
    size_t cap;
    size_t used;
    _Alignas(ARENA_ALIGN) unsigned char data[];
};

static _Thread_local tm_json_arena *tl_arena;

static bool in_range(const void *p, const void *base, size_t cap)
{
    uintptr_t u = (uintptr_t)p, b = (uintptr_t)base;
    return u >= b && u - b < cap;
}

static bool arena_owns(const tm_json_arena *a, const void *p)
{
    if (in_range(p, a->base, a->cap))
        return true;
    for (const tm_json_arena_chunk *c = a->chunks; c; c = c->next) {
        if (in_range(p, c->data, c->cap))
            return true;
    }
    return false;
}

/* The slow path: the retained block is full for this record. */
static void *arena_alloc_chunk(tm_json_arena *a, size_t n)
{
    tm_json_arena_chunk *c = a->chunks;
    if (!c || c->cap - c->used < n) {
        size_t cap = c ? c->cap * 2 : ARENA_MIN_CHUNK;
        if (cap < n)
            cap = n;
        c = tm_xmalloc(sizeof *c + cap);
        c->cap = cap;
        c->used = 0;
        c->next = a->chunks;
        a->chunks = c;
    }
    void *p = c->data + c->used;
    c->used += n;
    a->chunk_used += n;
    return p;
}

/* cJSON's requests are bounded by the input length, so the NULL below is
 * unreachable in practice; cJSON would turn it into a parse failure. */
void *tm_json_arena_alloc(tm_json_arena *a, size_t n)
{
    if (n > SIZE_MAX / 4)
        return NULL;
    n = n ? (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1) : ARENA_ALIGN;
    if (a->cap - a->used >= n) {
        void *p = a->base + a->used;
        a->used += n;
        return p;
    }
    return arena_alloc_chunk(a, n);
}

/* Starts a new record: frees overflow chunks, and grows the retained block
 * if the last record needed more (up to ARENA_MAX_KEEP). */
void tm_json_arena_reset(tm_json_arena *a)
{
    size_t need = a->used + a->chunk_used;
    while (a->chunks) {
        tm_json_arena_chunk *next = a->chunks->next;
        free(a->chunks);
        a->chunks = next;
    }
    if (need > a->cap && a->cap < ARENA_MAX_KEEP) {
        size_t cap = a->cap;
        while (cap < need && cap < ARENA_MAX_KEEP)
            cap *= 2;
        free(a->base);
        a->base = tm_xmalloc(cap);
        a->cap = cap;
    }
    a->used = 0;
    a->chunk_used = 0;
}

void tm_json_arena_init(tm_json_arena *a)
{
    memset(a, 0, sizeof *a);
    a->base = tm_xmalloc(ARENA_INITIAL);
    a->cap = ARENA_INITIAL;
}

/* Releases everything, at decoder close. */
void tm_json_arena_free(tm_json_arena *a)
{
    tm_json_arena_reset(a);
    free(a->base);
    memset(a, 0, sizeof *a);
}

/* cJSON's malloc: the arena while tm_decode parses on this thread, the
 * system allocator for everyone else. */
static void *hook_malloc(size_t n)
{
    tm_json_arena *a = tl_arena;
    return a ? tm_json_arena_alloc(a, n) : malloc(n);
}

/* cJSON's free: only a failed parse frees inside the arena (cJSON
 * deletes its partial tree), and that memory goes with the next reset. */
static void hook_free(void *p)
{
    tm_json_arena *a = tl_arena;
    if (a && arena_owns(a, p))
        return; /* released by the next tm_json_arena_reset */
    free(p);
}

/* The hooks are process-wide and cJSON_InitHooks is not thread-safe, so
 * they are installed exactly once. The first tm_decoder_open must not race
 * with another thread's use of cJSON (config loading runs before decoders
 * are opened, so it does not). */
static pthread_once_t hooks_once = PTHREAD_ONCE_INIT;

static void install_hooks(void)
{
    cJSON_Hooks hooks = {.malloc_fn = hook_malloc, .free_fn = hook_free};
    cJSON_InitHooks(&hooks);
}

void tm_json_alloc_install(void)
{
    pthread_once(&hooks_once, install_hooks);
}

void tm_json_arena_use(tm_json_arena *a)
{
    tl_arena = a;
}
