/*
 * golden_compare.c: see golden_compare.h.
 */
#include "golden_compare.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "buf.h"
#include "envelope.h"

/* One line: its document, and its text, where the key and payload bytes
 * are read (cJSON would cut them at a NUL). */
typedef struct line {
    cJSON *doc;
    char *text;
    size_t len;
} line;

typedef struct lines {
    line *items;
    size_t n;
} lines;

static lines read_jsonl(const char *path)
{
    lines l = {0};
    FILE *f = fopen(path, "r");
    cr_assert(f, "cannot open %s", path);
    char *buf = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&buf, &cap, f)) > 0) {
        if (n == 1 && buf[0] == '\n')
            continue;
        cJSON *doc = cJSON_ParseWithLength(buf, (size_t)n);
        cr_assert(doc, "%s: unparsable line: %s", path, buf);
        l.items = realloc(l.items, (l.n + 1) * sizeof *l.items);
        char *text = malloc((size_t)n); /* (strndup would stop at a NUL byte) */
        cr_assert(text, "out of memory");
        memcpy(text, buf, (size_t)n);
        l.items[l.n++] = (line){doc, text, (size_t)n};
    }
    free(buf);
    fclose(f);
    return l;
}

static void free_lines(lines *l)
{
    for (size_t i = 0; i < l->n; i++) {
        cJSON_Delete(l->items[i].doc);
        free(l->items[i].text);
    }
    free(l->items);
}

/* JSON equality with a relative tolerance on numbers. */
static bool json_equal(const cJSON *a, const cJSON *b)
{
    if (cJSON_IsNumber(a) && cJSON_IsNumber(b)) {
        double x = a->valuedouble, y = b->valuedouble;
        double scale = fmax(fabs(x), fabs(y));
        return fabs(x - y) <= 1e-9 * (scale > 1 ? scale : 1);
    }
    if ((a->type & 0xff) != (b->type & 0xff))
        return false;
    if (cJSON_IsString(a))
        return strcmp(a->valuestring, b->valuestring) == 0;
    if (cJSON_IsObject(a)) {
        if (cJSON_GetArraySize(a) != cJSON_GetArraySize(b))
            return false;
        const cJSON *x;
        cJSON_ArrayForEach(x, a)
        {
            const cJSON *y = cJSON_GetObjectItemCaseSensitive(b, x->string);
            if (!y || !json_equal(x, y))
                return false;
        }
        return true;
    }
    if (cJSON_IsArray(a)) {
        if (cJSON_GetArraySize(a) != cJSON_GetArraySize(b))
            return false;
        for (const cJSON *x = a->child, *y = b->child; x; x = x->next, y = y->next)
            if (!json_equal(x, y))
                return false;
        return true;
    }
    return true; /* null, true, false: the type says it all */
}

static const char *str_field(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int partition_of(const cJSON *o)
{
    return cJSON_GetObjectItemCaseSensitive(o, "partition")->valueint;
}

/* The bytes of a line's key or payload (envelope.h: escapes, NULs and the
 * base64 encoding honoured), decoded into buf; NULL for null. */
static const char *bytes_field(const line *l, const char *name, tm_buf *buf, size_t *n)
{
    const char *bytes;
    char err[256];
    cr_assert(tm_envelope_bytes(l->text, l->len, name, buf, &bytes, n, err, sizeof err) == 0,
              "%s in %.*s", err, (int)l->len, l->text);
    return bytes;
}

/* bytes[0..n) parsed as one JSON text, or NULL: a NUL byte or anything
 * after the value makes it no JSON (cJSON would stop at either). */
static cJSON *parse_exactly(const char *bytes, size_t n)
{
    const char *end = NULL;
    if (memchr(bytes, '\0', n))
        return NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(bytes, n, &end, false);
    while (j && end < bytes + n && (*end == ' ' || *end == '\n' || *end == '\r' || *end == '\t'))
        end++;
    if (j && end != bytes + n) {
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}

/* Two lines' key (or payload) bytes are the same: both null, or the same
 * bytes; with as_json, equal as JSON values when both are JSON. */
static bool bytes_equal(const line *a, const line *b, const char *name, bool as_json)
{
    tm_buf ba = {0}, bb = {0};
    size_t na, nb;
    const char *pa = bytes_field(a, name, &ba, &na), *pb = bytes_field(b, name, &bb, &nb);
    bool eq;
    if (!pa || !pb) {
        eq = !pa && !pb;
    } else {
        cJSON *ja = as_json ? parse_exactly(pa, na) : NULL;
        cJSON *jb = as_json ? parse_exactly(pb, nb) : NULL;
        eq = ja && jb ? json_equal(ja, jb) : !ja && !jb && na == nb && memcmp(pa, pb, na) == 0;
        cJSON_Delete(ja);
        cJSON_Delete(jb);
    }
    tm_buf_free(&ba);
    tm_buf_free(&bb);
    return eq;
}

/* Payloads equal as JSON values (results always are JSON), else byte for
 * byte: a dead letter's payload is often no JSON at all (cut off, binary,
 * JSON followed by more bytes), and then only its exact bytes say it is
 * the source record's. Both null: both tombstones (or both written by
 * reference). */
static bool payload_equal(const line *a, const line *b)
{
    return bytes_equal(a, b, "payload", true);
}

static void compare_results(const char *name, const lines *got, const lines *want)
{
    /* Per source partition, the same sequence. */
    int max_part = -1;
    for (size_t i = 0; i < want->n; i++)
        max_part = partition_of(want->items[i].doc) > max_part ? partition_of(want->items[i].doc)
                                                               : max_part;
    for (size_t i = 0; i < got->n; i++)
        max_part =
            partition_of(got->items[i].doc) > max_part ? partition_of(got->items[i].doc) : max_part;
    for (int p = 0; p <= max_part; p++) {
        size_t gi = 0, wi = 0, seq = 0;
        for (;; seq++) {
            while (gi < got->n && partition_of(got->items[gi].doc) != p)
                gi++;
            while (wi < want->n && partition_of(want->items[wi].doc) != p)
                wi++;
            if (gi >= got->n || wi >= want->n)
                break;
            const line *gl = &got->items[gi++], *wl = &want->items[wi++];
            const cJSON *g = gl->doc, *w = wl->doc;
            cr_assert(bytes_equal(gl, wl, "key", false),
                      "%s: partition %d result #%zu: key %s, expected %s", name, p, seq,
                      str_field(g, "key"), str_field(w, "key"));
            cr_assert(payload_equal(gl, wl), "%s: partition %d result #%zu (%s):\n got %s\nwant %s",
                      name, p, seq, str_field(w, "key"), str_field(g, "payload"),
                      str_field(w, "payload"));
            cr_assert_str_eq(str_field(g, "topic"), str_field(w, "topic"), "%s: topic", name);
        }
        cr_assert(gi >= got->n && wi >= want->n, "%s: partition %d: %s results after #%zu", name, p,
                  gi < got->n ? "unexpected extra" : "missing", seq);
    }
}

/* The free-text detail of a dead letter (its wording may change; the
 * reason header carries the meaning). */
static const char *const FREE_TEXT_HEADER = "tidemark.detail";

/* Two side records are the same record: topic, partition, key, payload
 * (payload_equal) and every header but the free-text detail, with the
 * same value. On a difference, *what names it. */
static bool side_equal(const line *la, const line *lb, const char **what)
{
    const cJSON *a = la->doc, *b = lb->doc;
    *what = "topic";
    if (strcmp(str_field(a, "topic"), str_field(b, "topic")) != 0)
        return false;
    *what = "partition";
    if (partition_of(a) != partition_of(b))
        return false;
    *what = "key";
    if (!bytes_equal(la, lb, "key", false))
        return false;
    *what = "payload";
    if (!payload_equal(la, lb))
        return false;
    const cJSON *ha = cJSON_GetObjectItemCaseSensitive(a, "headers"),
                *hb = cJSON_GetObjectItemCaseSensitive(b, "headers");
    const cJSON *h;
    /* Each header of either side has its twin in the other. */
    for (int side = 0; side < 2; side++) {
        const cJSON *mine = side ? hb : ha, *theirs = side ? ha : hb;
        cJSON_ArrayForEach(h, mine)
        {
            if (strcmp(h->string, FREE_TEXT_HEADER) == 0)
                continue;
            *what = h->string;
            const cJSON *twin = cJSON_GetObjectItemCaseSensitive(theirs, h->string);
            if (!twin || !cJSON_IsString(h) || !cJSON_IsString(twin) ||
                strcmp(h->valuestring, twin->valuestring) != 0)
                return false;
        }
    }
    *what = NULL;
    return true;
}

/* Orders side records by their tidemark.source header ("topic/partition/
 * offset"; a source record gives at most one late or dead-letter record),
 * so that two outputs whose partitions' tasks interleaved differently pair
 * up. */
static int by_source(const void *x, const void *y)
{
    const cJSON *a = ((const line *)x)->doc, *b = ((const line *)y)->doc;
    return strcmp(str_field(cJSON_GetObjectItemCaseSensitive(a, "headers"), "tidemark.source"),
                  str_field(cJSON_GetObjectItemCaseSensitive(b, "headers"), "tidemark.source"));
}

static void compare_side(const char *name, const char *what, const lines *got, const lines *want)
{
    const lines *both[2] = {got, want};
    for (int i = 0; i < 2; i++)
        for (size_t j = 0; j < both[i]->n; j++) {
            const cJSON *h = cJSON_GetObjectItemCaseSensitive(both[i]->items[j].doc, "headers");
            cr_assert(str_field(h, "tidemark.source") && str_field(h, "tidemark.reason"),
                      "%s: %s: a record without tidemark.source/reason headers", name, what);
        }
    for (int i = 0; i < 2; i++)
        if (both[i]->n > 1) /* an empty file has no items array for qsort */
            qsort(both[i]->items, both[i]->n, sizeof *both[i]->items, by_source);
    for (size_t i = 0; i < got->n || i < want->n; i++) {
        const char *differs = "the record";
        if (i < got->n && i < want->n && side_equal(&got->items[i], &want->items[i], &differs))
            continue;
        /* The lines as written: cJSON would print a key or payload cut at
         * its first NUL. */
        const line *g = i < got->n ? &got->items[i] : NULL,
                   *w = i < want->n ? &want->items[i] : NULL;
        cr_log_error("%s: %s #%zu (by source): %s differs:\n got %.*s\nwant %.*s", name, what, i,
                     differs, g ? (int)g->len : 4, g ? g->text : "none", w ? (int)w->len : 4,
                     w ? w->text : "none");
        cr_assert_fail("%s: %s #%zu (by source): %s differs", name, what, i, differs);
    }
}

void tm_golden_compare_dirs(const char *name, const char *got_dir, const char *want_dir)
{
    static const char *const files[] = {"output.jsonl", "late.jsonl", "dlq.jsonl"};
    char a[4096], b[4096];
    for (int i = 0; i < 3; i++) {
        snprintf(a, sizeof a, "%s/%s", got_dir, files[i]);
        snprintf(b, sizeof b, "%s/%s", want_dir, files[i]);
        lines got = read_jsonl(a), want = read_jsonl(b);
        if (i == 0)
            compare_results(name, &got, &want);
        else
            compare_side(name, files[i], &got, &want);
        free_lines(&got);
        free_lines(&want);
    }
}

/* ---- the latest revision of each window (tm_golden_compare_latest) ---- */

/* A main-output record: its key bytes, partition, place in the file, and
 * its payload (NULL: a tombstone). */
typedef struct result {
    char *key;
    size_t key_len;
    int partition;
    size_t index;
    cJSON *payload;
} result;

static int key_cmp(const result *a, const result *b)
{
    size_t n = a->key_len < b->key_len ? a->key_len : b->key_len;
    int c = memcmp(a->key, b->key, n);
    if (c == 0 && a->key_len != b->key_len)
        c = a->key_len < b->key_len ? -1 : 1;
    return c;
}

static int by_key_then_index(const void *x, const void *y)
{
    const result *a = x, *b = y;
    int c = key_cmp(a, b);
    return c ? c : a->index < b->index ? -1 : a->index > b->index;
}

static bool same_key(const result *a, const result *b)
{
    return key_cmp(a, b) == 0;
}

/* One side's main output: its records, and the latest of each key that
 * is not a tombstone (the table). */
typedef struct table {
    result *rows; /* every record, by key, then file order */
    size_t n;
    const result **latest; /* the last record of each key, by key */
    size_t n_keys;
    size_t revised;
    long max_revision;
} table;

/* Reads the main output of one side into a table, checking that every key
 * stays in one partition and that its revisions are 0, 1, 2, ... */
static table read_table(const char *name, const char *side, const lines *l)
{
    table t = {0};
    t.max_revision = -1;
    t.rows = calloc(l->n ? l->n : 1, sizeof *t.rows);
    t.latest = calloc(l->n ? l->n : 1, sizeof *t.latest);
    cr_assert(t.rows && t.latest, "out of memory");
    for (size_t i = 0; i < l->n; i++) {
        const line *ln = &l->items[i];
        result *r = &t.rows[t.n++];
        tm_buf kb = {0}, pb = {0};
        size_t kn, pn;
        const char *k = bytes_field(ln, "key", &kb, &kn), *p = bytes_field(ln, "payload", &pb, &pn);
        cr_assert(k, "%s: %s output line %zu has a null key", name, side, i + 1);
        r->key = malloc(kn ? kn : 1);
        cr_assert(r->key, "out of memory");
        memcpy(r->key, k, kn);
        r->key_len = kn;
        r->partition = partition_of(ln->doc);
        r->index = i;
        if (p) {
            r->payload = parse_exactly(p, pn);
            cr_assert(cJSON_IsObject(r->payload),
                      "%s: %s output line %zu: payload is no JSON object", name, side, i + 1);
        }
        tm_buf_free(&kb);
        tm_buf_free(&pb);
    }
    if (t.n > 1)
        qsort(t.rows, t.n, sizeof *t.rows, by_key_then_index);
    for (size_t i = 0; i < t.n;) {
        size_t j = i;
        long next = 0;
        for (; j < t.n && same_key(&t.rows[i], &t.rows[j]); j++) {
            const result *r = &t.rows[j];
            cr_assert_eq(r->partition, t.rows[i].partition,
                         "%s: %s output: window %.*s in partitions %d and %d", name, side,
                         (int)r->key_len, r->key, t.rows[i].partition, r->partition);
            if (!r->payload)
                continue;
            const cJSON *rev = cJSON_GetObjectItemCaseSensitive(r->payload, "revision");
            cr_assert(cJSON_IsNumber(rev) && rev->valuedouble == (double)next,
                      "%s: %s output: window %.*s: revision %g (-1: none) after %ld revision(s) "
                      "(line %zu): each window's revisions must be 0, 1, 2, ...",
                      name, side, (int)r->key_len, r->key,
                      cJSON_IsNumber(rev) ? rev->valuedouble : -1.0, next, r->index + 1);
            next++;
        }
        const result *last = &t.rows[j - 1];
        if (last->payload) {
            t.latest[t.n_keys++] = last;
            t.revised += next > 1;
            t.max_revision = next - 1 > t.max_revision ? next - 1 : t.max_revision;
        }
        i = j;
    }
    return t;
}

static void free_table(table *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->rows[i].key);
        cJSON_Delete(t->rows[i].payload);
    }
    free(t->rows);
    free(t->latest);
}

/* A result's payload without what depends on when it was emitted. */
static cJSON *timeless(const cJSON *payload)
{
    cJSON *c = cJSON_Duplicate(payload, true);
    cr_assert(c, "out of memory");
    cJSON_DeleteItemFromObjectCaseSensitive(c, "revision");
    cJSON_DeleteItemFromObjectCaseSensitive(c, "trigger");
    return c;
}

static void compare_latest(const char *name, const lines *got_l, const lines *want_l,
                           tm_golden_latest *out)
{
    table got = read_table(name, "live", got_l), want = read_table(name, "replay", want_l);
    size_t gi = 0, wi = 0;
    while (gi < got.n_keys || wi < want.n_keys) {
        const result *g = gi < got.n_keys ? got.latest[gi] : NULL,
                     *w = wi < want.n_keys ? want.latest[wi] : NULL;
        int c = !g ? 1 : !w ? -1 : key_cmp(g, w);
        const result *one = c < 0 ? g : w;
        cr_assert(c == 0, "%s: window %.*s is only in the %s output", name, (int)one->key_len,
                  one->key, c < 0 ? "live" : "replay");
        cr_assert_eq(g->partition, w->partition, "%s: window %.*s: partition %d, expected %d", name,
                     (int)g->key_len, g->key, g->partition, w->partition);
        cJSON *a = timeless(g->payload), *b = timeless(w->payload);
        bool eq = json_equal(a, b);
        if (!eq) {
            char *ga = cJSON_PrintUnformatted(g->payload), *wa = cJSON_PrintUnformatted(w->payload);
            cr_log_error("%s: window %.*s, latest revision:\n got %s\nwant %s", name,
                         (int)g->key_len, g->key, ga, wa);
            free(ga);
            free(wa);
        }
        cJSON_Delete(a);
        cJSON_Delete(b);
        cr_assert(eq, "%s: window %.*s: the latest revision differs from replay's", name,
                  (int)g->key_len, g->key);
        gi++;
        wi++;
    }
    if (out)
        *out = (tm_golden_latest){.windows = want.n_keys,
                                  .got_revised = got.revised,
                                  .want_revised = want.revised,
                                  .got_max = got.max_revision,
                                  .want_max = want.max_revision};
    free_table(&got);
    free_table(&want);
}

void tm_golden_compare_latest(const char *name, const char *got_dir, const char *want_dir,
                              tm_golden_latest *out)
{
    static const char *const files[] = {"output.jsonl", "late.jsonl", "dlq.jsonl"};
    char a[4096], b[4096];
    for (int i = 0; i < 3; i++) {
        snprintf(a, sizeof a, "%s/%s", got_dir, files[i]);
        snprintf(b, sizeof b, "%s/%s", want_dir, files[i]);
        lines got = read_jsonl(a), want = read_jsonl(b);
        if (i == 0)
            compare_latest(name, &got, &want, out);
        else
            compare_side(name, files[i], &got, &want);
        free_lines(&got);
        free_lines(&want);
    }
}

void tm_golden_compare_batch(const char *name, const char *got_dir, const char *want_batch,
                             const char *want_dlq)
{
    char a[4096];
    snprintf(a, sizeof a, "%s/batch.jsonl", got_dir);
    lines got = read_jsonl(a), want = read_jsonl(want_batch);
    for (size_t i = 0; i < got.n || i < want.n; i++) {
        const line *g = i < got.n ? &got.items[i] : NULL, *w = i < want.n ? &want.items[i] : NULL;
        if (g && w && json_equal(g->doc, w->doc))
            continue;
        cr_assert_fail("%s: batch result #%zu differs:\n got %.*s\nwant %.*s", name, i,
                       g ? (int)g->len : 4, g ? g->text : "none", w ? (int)w->len : 4,
                       w ? w->text : "none");
    }
    free_lines(&got);
    free_lines(&want);
    snprintf(a, sizeof a, "%s/dlq.jsonl", got_dir);
    got = read_jsonl(a);
    want = read_jsonl(want_dlq);
    compare_side(name, "dlq.jsonl", &got, &want);
    free_lines(&got);
    free_lines(&want);
}
