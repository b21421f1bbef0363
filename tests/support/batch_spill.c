/*
 * batch_spill.c: see batch_spill.h. A run is a temporary file of
 * records: key length (size_t), t, dedup hash, the values, then the key
 * bytes, in the machine's own layout (the file never leaves the process).
 */
#include "batch_spill.h"

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "hash.h"

struct tm_test_spill {
    FILE **runs;
    size_t n_runs;
    size_t n_values;
    size_t bytes;
};

tm_test_spill *tm_test_spill_new(size_t n_runs, size_t n_values)
{
    tm_test_spill *s = tm_xcalloc(1, sizeof *s);
    s->runs = tm_xcalloc(n_runs, sizeof *s->runs);
    for (size_t r = 0; r < n_runs; r++) {
        s->runs[r] = tmpfile();
        cr_assert(s->runs[r], "no temporary file for run %zu", r);
    }
    s->n_runs = n_runs;
    s->n_values = n_values;
    return s;
}

void tm_test_spill_free(tm_test_spill *s)
{
    if (!s)
        return;
    for (size_t r = 0; r < s->n_runs; r++)
        fclose(s->runs[r]);
    free(s->runs);
    free(s);
}

static void put(tm_test_spill *s, FILE *f, const void *p, size_t n)
{
    cr_assert_eq(fwrite(p, 1, n, f), n, "spill write failed");
    s->bytes += n;
}

void tm_test_spill_add(tm_test_spill *s, const tm_batch_event *ev)
{
    /* Any hash of the group key will do; the window tasks' murmur2 too. */
    FILE *f = s->runs[tm_hash64(ev->key, ev->key_len, 0x7370696c6cull) % s->n_runs];
    put(s, f, &ev->key_len, sizeof ev->key_len);
    put(s, f, &ev->t, sizeof ev->t);
    put(s, f, &ev->dedup, sizeof ev->dedup);
    put(s, f, ev->values, s->n_values * sizeof *ev->values);
    put(s, f, ev->key, ev->key_len);
}

static void get(FILE *f, void *p, size_t n)
{
    cr_assert_eq(fread(p, 1, n, f), n, "spill read failed");
}

void tm_test_spill_drain(tm_test_spill *s, size_t r, tm_batch *b)
{
    FILE *f = s->runs[r];
    cr_assert_eq(fflush(f), 0);
    rewind(f);
    double *values = tm_xcalloc(s->n_values, sizeof *values);
    char *key = NULL;
    size_t key_cap = 0;
    tm_batch_event ev = {.values = values};
    while (fread(&ev.key_len, sizeof ev.key_len, 1, f) == 1) {
        get(f, &ev.t, sizeof ev.t);
        get(f, &ev.dedup, sizeof ev.dedup);
        get(f, values, s->n_values * sizeof *values);
        key = tm_grow(key, &key_cap, ev.key_len + 1, 1);
        get(f, key, ev.key_len);
        ev.key = key;
        tm_batch_add_event(b, &ev);
    }
    cr_assert(!ferror(f), "spill read failed");
    free(key);
    free(values);
}

size_t tm_test_spill_bytes(const tm_test_spill *s)
{
    return s->bytes;
}
