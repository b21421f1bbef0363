/*
 * verify.c: see verify.h. A bucket's input spill holds, per event: a late
 * flag (byte), the input partition (int32), key length (size_t), t, dedup
 * hash, the values, the key bytes, and for a late one the source's length
 * (size_t) and bytes. Its output spill holds, per record: the partition
 * (int32), key length, value length (SIZE_MAX: a tombstone), key bytes,
 * value bytes. The machine's own layout: the files never leave the
 * process.
 */
#include "verify.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "err.h"
#include "hash.h"
#include "json_check.h"
#include "output.h"
#include "table.h"

/* Any hash of the group key will do: one seed for input and output. */
#define BUCKET_SEED 0x7665726966ull
/* Another for the bucket's table of key homes, which must not see only
 * the hashes of one bucket's residue. */
#define HOME_SEED 0x686f6d65ull

/* A window of E, B or T. */
typedef struct win {
    char *key;
    size_t key_len;
    int64_t start, end;
    int64_t count; /* -1: an output value that could not be read */
    double *aggs;
    double *acc;       /* E and B: the accumulators (in aggs' allocation) */
    uint64_t seq;      /* T: the order read, the latest wins */
    int64_t revision;  /* T: -1 when it could not be read */
    int32_t partition; /* T: the output partition of its record */
    bool tombstone;    /* T only */
} win;

typedef struct win_list {
    win *v;
    size_t n, cap;
} win_list;

/* A late event of the bucket being compared. */
typedef struct late_event {
    char *key;
    size_t key_len;
    int64_t t;
    char *source;
} late_event;

struct tm_verify {
    const tm_config *cfg;
    int64_t from, to, pad;
    tm_batch *decoder;
    char *dir;
    FILE **in_runs, **out_runs;
    size_t n_buckets;
    char **late; /* sources, sorted before the first input */
    size_t n_late, cap_late;
    bool late_sorted;
    tm_buf src;   /* the source of the input record being spilled */
    tm_buf spill; /* the spill record being built (spill_begin) */
    /* The aggregations' names as the output writes them between quotes
     * (JSON-escaped), by cfg->aggs index: what an output value holds. */
    tm_buf *agg_names;
    tm_verify_summary sum;
};

int64_t tm_verify_pad(const tm_config *cfg)
{
    return cfg->window_type == TM_WINDOW_SESSION ? cfg->window_gap_ms : 0;
}

int64_t tm_verify_read_from(const tm_config *cfg, int64_t from)
{
    /* A record's event time is at most its receipt time + the skew
     * allowance (SEMANTICS 3: later ones are clamped or dead letters). */
    int64_t ahead = cfg->clock_skew_enabled ? cfg->clock_skew_max_ahead_ms : 0;
    return from - tm_verify_pad(cfg) - ahead;
}

const char *tm_verify_verdict_name(tm_verify_verdict v)
{
    switch (v) {
    case TM_VERIFY_EQUAL:
        return "equal";
    case TM_VERIFY_EXPLAINED:
        return "explained";
    case TM_VERIFY_UNEXPLAINED:
        return "unexplained";
    case TM_VERIFY_UNJUDGED:
        return "unjudged";
    }
    return "?";
}

static FILE *open_run(const char *dir, const char *kind, size_t i, char *errstr, size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s-%zu", dir, kind, i);
    FILE *f = fopen(path, "w+");
    if (!f)
        tm_seterr(errstr, errlen, TM_EIO, "cannot create spill file %s: %s", path, strerror(errno));
    return f;
}

/* Spill files a bucket keeps open (input and output), and a margin for
 * what the process has open besides (Kafka's sockets, stdio). */
#define FILES_PER_BUCKET 2
#define OTHER_FILES 256

size_t tm_verify_buckets_for(int64_t records, uint64_t max_open_files)
{
    uint64_t n = records > 0
                     ? ((uint64_t)records + TM_VERIFY_BUCKET_RECORDS - 1) / TM_VERIFY_BUCKET_RECORDS
                     : 0;
    if (n < TM_VERIFY_MIN_BUCKETS)
        n = TM_VERIFY_MIN_BUCKETS;
    if (n > TM_VERIFY_MAX_BUCKETS)
        n = TM_VERIFY_MAX_BUCKETS;
    uint64_t room =
        max_open_files > OTHER_FILES ? (max_open_files - OTHER_FILES) / FILES_PER_BUCKET : 1;
    if (max_open_files && n > room)
        n = room ? room : 1;
    return (size_t)n;
}

size_t tm_verify_buckets_for_process(int64_t records)
{
    struct rlimit lim;
    bool limited = getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_max != RLIM_INFINITY;
    return tm_verify_buckets_for(records, limited ? (uint64_t)lim.rlim_max : 0);
}

/* Makes room for the spill files. */
static int fit_open_files(size_t n_buckets, char *errstr, size_t errlen)
{
    rlim_t need = (rlim_t)(FILES_PER_BUCKET * n_buckets + OTHER_FILES);
    struct rlimit lim;
    if (getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur == RLIM_INFINITY ||
        lim.rlim_cur >= need)
        return TM_OK;
    if (lim.rlim_max != RLIM_INFINITY && lim.rlim_max < need)
        return tm_seterr(errstr, errlen, TM_ECONFIG,
                         "%zu spill buckets need %llu open files, and the limit is %llu "
                         "(ulimit -n): use fewer buckets",
                         n_buckets, (unsigned long long)need, (unsigned long long)lim.rlim_max);
    lim.rlim_cur = need;
    if (setrlimit(RLIMIT_NOFILE, &lim) != 0)
        return tm_seterr(errstr, errlen, TM_ECONFIG,
                         "%zu spill buckets need %llu open files: raising the limit failed: %s",
                         n_buckets, (unsigned long long)need, strerror(errno));
    return TM_OK;
}

int tm_verify_open(tm_verify **out, const tm_config *cfg, int64_t from, int64_t to,
                   const char *tmp_dir, size_t n_buckets, char *errstr, size_t errlen)
{
    tm_verify *v = tm_xcalloc(1, sizeof *v);
    v->cfg = cfg;
    v->from = from;
    v->to = to;
    v->pad = tm_verify_pad(cfg);
    v->n_buckets = n_buckets ? n_buckets : 1;
    v->agg_names = tm_xcalloc(cfg->n_aggs ? cfg->n_aggs : 1, sizeof *v->agg_names);
    tm_buf quoted = {0};
    for (size_t i = 0; i < cfg->n_aggs; i++) {
        tm_buf_reset(&quoted);
        tm_buf_put_json_string(&quoted, cfg->aggs[i].name, strlen(cfg->aggs[i].name));
        tm_buf_append(&v->agg_names[i], quoted.data + 1, quoted.len - 2);
    }
    tm_buf_free(&quoted);
    int rc = fit_open_files(v->n_buckets, errstr, errlen);
    if (rc == TM_OK)
        rc = tm_batch_open(&v->decoder, cfg, errstr, errlen);
    if (rc < 0) {
        tm_verify_close(v);
        return rc;
    }
    size_t n = strlen(tmp_dir) + sizeof "/tidemark-verify-XXXXXX";
    v->dir = tm_xmalloc(n);
    snprintf(v->dir, n, "%s/tidemark-verify-XXXXXX", tmp_dir);
    if (!mkdtemp(v->dir)) {
        rc = tm_seterr(errstr, errlen, TM_EIO, "cannot create a directory under %s: %s", tmp_dir,
                       strerror(errno));
        free(v->dir);
        v->dir = NULL;
        tm_verify_close(v);
        return rc;
    }
    v->in_runs = tm_xcalloc(v->n_buckets, sizeof *v->in_runs);
    v->out_runs = tm_xcalloc(v->n_buckets, sizeof *v->out_runs);
    for (size_t i = 0; i < v->n_buckets; i++) {
        v->in_runs[i] = open_run(v->dir, "input", i, errstr, errlen);
        v->out_runs[i] = v->in_runs[i] ? open_run(v->dir, "output", i, errstr, errlen) : NULL;
        if (!v->out_runs[i]) {
            tm_verify_close(v);
            return TM_EIO;
        }
    }
    *out = v;
    return TM_OK;
}

void tm_verify_close(tm_verify *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->n_buckets && v->in_runs; i++) {
        char path[4096];
        const char *kinds[2] = {"input", "output"};
        FILE *files[2] = {v->in_runs[i], v->out_runs[i]};
        for (int k = 0; k < 2; k++) {
            if (!files[k])
                continue;
            fclose(files[k]);
            snprintf(path, sizeof path, "%s/%s-%zu", v->dir, kinds[k], i);
            unlink(path);
        }
    }
    if (v->dir)
        rmdir(v->dir);
    free(v->dir);
    free(v->in_runs);
    free(v->out_runs);
    for (size_t i = 0; i < v->n_late; i++)
        free(v->late[i]);
    free(v->late);
    tm_batch_close(v->decoder);
    for (size_t i = 0; v->agg_names && i < v->cfg->n_aggs; i++)
        tm_buf_free(&v->agg_names[i]);
    free(v->agg_names);
    tm_buf_free(&v->src);
    tm_buf_free(&v->spill);
    free(v);
}

void tm_verify_late(tm_verify *v, const char *source, size_t len)
{
    v->late = tm_grow(v->late, &v->cap_late, v->n_late + 1, sizeof *v->late);
    char *s = tm_xmalloc(len + 1);
    memcpy(s, source, len);
    s[len] = 0;
    v->late[v->n_late++] = s;
    v->sum.late_records++;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void on_dead_letter(void *ctx, const tm_record *rec, tm_dlq_reason reason,
                           const char *detail)
{
    (void)rec;
    (void)reason;
    (void)detail;
    tm_verify *v = ctx;
    v->sum.dead_letters++;
}

/* The last '@' of an output key (before the window start), or NULL. */
static const char *last_at(const char *key, size_t len)
{
    for (size_t i = len; i > 0; i--)
        if (key[i - 1] == '@')
            return key + i - 1;
    return NULL;
}

static size_t bucket_of(const tm_verify *v, const char *key, size_t key_len)
{
    return tm_hash64(key, key_len, BUCKET_SEED) % v->n_buckets;
}

/* A spill record is built whole in v->spill, then written with one fwrite:
 * a call per field cost more than the fields' bytes (about 900
 * instructions a record in six or seven calls). */
static tm_buf *spill_begin(tm_verify *v)
{
    tm_buf_reset(&v->spill);
    return &v->spill;
}

static void spill_put(tm_buf *r, const void *p, size_t n)
{
    tm_buf_append(r, p, n);
}

static int spill_end(tm_verify *v, FILE *f)
{
    return fwrite(v->spill.data, 1, v->spill.len, f) == v->spill.len ? TM_OK : TM_EIO;
}

/* rec's source, <topic>/<partition>/<offset> as the late output's
 * tidemark.source header writes it, into b: built by hand, as snprintf
 * for every input record cost about 1,400 instructions. */
static void put_source(tm_buf *b, const tm_record *rec)
{
    tm_buf_reset(b);
    tm_buf_puts(b, rec->topic);
    tm_buf_putc(b, '/');
    tm_buf_put_i64(b, rec->partition);
    tm_buf_putc(b, '/');
    tm_buf_put_i64(b, rec->offset);
}

static bool get(FILE *f, void *p, size_t n)
{
    return n == 0 || fread(p, 1, n, f) == n;
}

/* Copies n bytes from p to out; returns the bytes after them. */
static const unsigned char *take(const unsigned char *p, void *out, size_t n)
{
    memcpy(out, p, n);
    return p + n;
}

int tm_verify_input(tm_verify *v, const tm_record *rec)
{
    if (!v->late_sorted) {
        if (v->n_late)
            qsort(v->late, v->n_late, sizeof *v->late, cmp_str);
        v->late_sorted = true;
    }
    v->sum.input_records++;
    const tm_engine_sink sink = {.ctx = v, .dead_letter = on_dead_letter};
    tm_batch_event ev;
    if (!tm_batch_decode(v->decoder, rec, &sink, &ev))
        return TM_OK;
    /* Events further out cannot reach a window inside the range, nor chain
     * a session into one (verify.h). */
    if (ev.t < v->from - v->pad || ev.t >= v->to + v->pad)
        return TM_OK;
    /* The source is needed only to look it up among the late ones: with
     * none, no record is late. */
    uint8_t late = 0;
    if (v->n_late) {
        put_source(&v->src, rec);
        const char *src = v->src.data;
        late = bsearch(&src, v->late, v->n_late, sizeof *v->late, cmp_str) != NULL;
    }
    tm_buf *r = spill_begin(v);
    spill_put(r, &late, 1);
    spill_put(r, &rec->partition, sizeof rec->partition);
    spill_put(r, &ev.key_len, sizeof ev.key_len);
    spill_put(r, &ev.t, sizeof ev.t);
    spill_put(r, &ev.dedup, sizeof ev.dedup);
    spill_put(r, ev.values, v->cfg->n_aggs * sizeof *ev.values);
    spill_put(r, ev.key, ev.key_len);
    if (late) {
        size_t src_len = v->src.len;
        spill_put(r, &src_len, sizeof src_len);
        spill_put(r, v->src.data, src_len);
    }
    return spill_end(v, v->in_runs[bucket_of(v, ev.key, ev.key_len)]);
}

int tm_verify_output(tm_verify *v, int32_t partition, const char *key, size_t key_len,
                     const char *value, size_t value_len)
{
    v->sum.output_records++;
    const char *at = key ? last_at(key, key_len) : NULL;
    if (!at)
        return TM_OK;
    size_t vlen = value ? value_len : SIZE_MAX;
    tm_buf *r = spill_begin(v);
    spill_put(r, &partition, sizeof partition);
    spill_put(r, &key_len, sizeof key_len);
    spill_put(r, &vlen, sizeof vlen);
    spill_put(r, key, key_len);
    if (value)
        spill_put(r, value, value_len);
    return spill_end(v, v->out_runs[bucket_of(v, key, (size_t)(at - key))]);
}

/* ---- one bucket ---- */

/* A group key's first input partition in a bucket (verify.h's
 * input_partition), in a tm_table. */
typedef struct key_home {
    uint64_t hash;
    int32_t partition;
    /* Sessions: the key's windows starting before cut_lo or ending after
     * cut_hi overlap a batch session that crosses a bound of the range
     * (verify.h); INT64_MIN and INT64_MAX when none does. */
    int64_t cut_lo, cut_hi;
    char *key;
    size_t key_len;
} key_home;

typedef struct key_ref {
    const char *key;
    size_t len;
} key_ref;

typedef struct bucket {
    tm_verify *v;
    win_list e, b, t;
    tm_table homes;            /* of key_home */
    tm_json_members top, aggs; /* an output value's members, and its aggregates' */
    late_event *late;
    size_t n_late, cap_late;
    tm_dedup_hash *late_hashes; /* of the late events, sorted */
    size_t n_late_hashes, cap_late_hashes;
    win_list *collect; /* where tm_batch_finish's results go */
} bucket;

static void win_list_free(win_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].key);
        free(l->v[i].aggs);
    }
    free(l->v);
    *l = (win_list){0};
}

static win *win_push(win_list *l, const char *key, size_t key_len, size_t n_aggs)
{
    l->v = tm_grow(l->v, &l->cap, l->n + 1, sizeof *l->v);
    win *w = &l->v[l->n++];
    size_t n = n_aggs ? n_aggs : 1;
    *w = (win){.key = tm_xmalloc(key_len + 1),
               .key_len = key_len,
               .aggs = tm_xcalloc(2 * n, sizeof(double)),
               .revision = -1,
               .partition = -1};
    w->acc = w->aggs + n;
    memcpy(w->key, key, key_len);
    w->key[key_len] = 0;
    return w;
}

static bool inside(const tm_verify *v, int64_t start, int64_t end)
{
    return start >= v->from && end <= v->to;
}

static uint64_t home_hash(const char *key, size_t len)
{
    uint64_t h = tm_hash64(key, len, HOME_SEED);
    return h ? h : 1; /* 0 marks an empty slot */
}

static bool home_eq(const void *entry, const void *key)
{
    const key_home *e = entry;
    const key_ref *k = key;
    return e->key_len == k->len && memcmp(e->key, k->key, k->len) == 0;
}

static key_home *find_home(const bucket *bk, const char *key, size_t len)
{
    key_ref ref = {key, len};
    return tm_table_find(&bk->homes, home_hash(key, len), home_eq, &ref);
}

/* Remembers partition as key's home unless it has one. */
static void note_home(bucket *bk, const char *key, size_t len, int32_t partition)
{
    if (find_home(bk, key, len))
        return;
    uint64_t h = home_hash(key, len);
    key_home *e = tm_table_insert(&bk->homes, h);
    e->partition = partition;
    e->cut_lo = INT64_MIN;
    e->cut_hi = INT64_MAX;
    e->key = tm_xmalloc(len ? len : 1);
    memcpy(e->key, key, len);
    e->key_len = len;
}

/* Narrows the key's scope (key_home) around a batch session r that
 * overlaps the range without being inside it. A batch result's key has a
 * home: its events were read. */
static void note_crossing(bucket *bk, const tm_window_result *r)
{
    key_home *e = find_home(bk, r->key, r->key_len);
    if (e && r->start < bk->v->from && r->end > e->cut_lo)
        e->cut_lo = r->end;
    if (e && r->end > bk->v->to && r->start < e->cut_hi)
        e->cut_hi = r->start;
}

/* A batch result inside the range, with its aggregates as the output
 * writes them. */
static void on_batch_result(void *ctx, const tm_window_result *r)
{
    bucket *bk = ctx;
    const tm_config *cfg = bk->v->cfg;
    if (r->tombstone)
        return;
    if (!inside(bk->v, r->start, r->end)) {
        /* Fixed windows outside are outside for the table too; a session
         * overlapping the range is cut by it (verify.h). */
        if (cfg->window_type == TM_WINDOW_SESSION && r->start < bk->v->to && r->end > bk->v->from)
            note_crossing(bk, r);
        return;
    }
    win *w = win_push(bk->collect, r->key, r->key_len, cfg->n_aggs);
    w->start = r->start;
    w->end = r->end;
    w->count = r->count;
    for (size_t i = 0; i < cfg->n_aggs; i++) {
        w->acc[i] = r->acc[i];
        w->aggs[i] = tm_output_aggregate(&cfg->aggs[i], r->acc[i], r->count);
    }
}

static int spill_error(char *errstr, size_t errlen, const char *what)
{
    return tm_seterr(errstr, errlen, TM_EIO, "reading back a spill file of %s failed", what);
}

static int cmp_hash(const void *pa, const void *pb)
{
    const tm_dedup_hash *a = pa, *b = pb;
    if (a->hi != b->hi)
        return a->hi < b->hi ? -1 : 1;
    return (a->lo > b->lo) - (a->lo < b->lo);
}

/* Whether ev repeats a late event's dedup key: the live service counted
 * neither (the late one came first and was dropped, the repeat was a
 * duplicate of it, or too late as well), so B leaves both out. */
static bool repeats_late(const bucket *bk, const tm_batch_event *ev)
{
    bool dedup = ev->dedup.lo || ev->dedup.hi;
    return dedup && bk->n_late_hashes &&
           bsearch(&ev->dedup, bk->late_hashes, bk->n_late_hashes, sizeof *bk->late_hashes,
                   cmp_hash);
}

/* Reads the bucket's input events: with full NULL, only the dedup keys of
 * its late events (the first pass); else feeds them to E's batch (full)
 * and B's (nolate), keeping its late events. */
static int read_input(bucket *bk, FILE *f, tm_batch *full, tm_batch *nolate, char *errstr,
                      size_t errlen)
{
    /* Without late records there are no late dedup keys to collect. */
    if (!full && bk->v->n_late == 0)
        return TM_OK;
    const tm_config *cfg = bk->v->cfg;
    double *values = tm_xcalloc(cfg->n_aggs ? cfg->n_aggs : 1, sizeof *values);
    char *key = NULL;
    size_t key_cap = 0;
    tm_batch_event ev = {.values = values};
    uint8_t late;
    int32_t partition;
    /* The fixed-size head of a record is read with one fread, then taken
     * apart: a call per field cost more than the bytes. */
    size_t head_len = sizeof late + sizeof partition + sizeof ev.key_len + sizeof ev.t +
                      sizeof ev.dedup + cfg->n_aggs * sizeof *values;
    unsigned char *head = tm_xmalloc(head_len);
    size_t got = 0;
    int rc = TM_OK;
    if (fflush(f) != 0 || fseek(f, 0, SEEK_SET) != 0)
        rc = spill_error(errstr, errlen, "input");
    while (rc == TM_OK && (got = fread(head, 1, head_len, f)) == head_len) {
        const unsigned char *p = head;
        p = take(p, &late, sizeof late);
        p = take(p, &partition, sizeof partition);
        p = take(p, &ev.key_len, sizeof ev.key_len);
        p = take(p, &ev.t, sizeof ev.t);
        p = take(p, &ev.dedup, sizeof ev.dedup);
        take(p, values, cfg->n_aggs * sizeof *values);
        key = tm_grow(key, &key_cap, ev.key_len + 1, 1);
        bool ok = get(f, key, ev.key_len);
        ev.key = key;
        size_t src_len = 0;
        if (ok && late && !full) {
            ok = get(f, &src_len, sizeof src_len) && fseek(f, (long)src_len, SEEK_CUR) == 0;
            bk->late_hashes = tm_grow(bk->late_hashes, &bk->cap_late_hashes, bk->n_late_hashes + 1,
                                      sizeof *bk->late_hashes);
            bk->late_hashes[bk->n_late_hashes++] = ev.dedup;
        } else if (ok && late) {
            ok = get(f, &src_len, sizeof src_len);
            bk->late = tm_grow(bk->late, &bk->cap_late, bk->n_late + 1, sizeof *bk->late);
            late_event *le = &bk->late[bk->n_late++];
            *le = (late_event){.key = tm_xmalloc(ev.key_len + 1),
                               .key_len = ev.key_len,
                               .t = ev.t,
                               .source = tm_xcalloc(1, src_len + 1)};
            memcpy(le->key, key, ev.key_len);
            ok = ok && get(f, le->source, src_len);
        }
        if (!ok) {
            rc = spill_error(errstr, errlen, "input");
            break;
        }
        if (!full)
            continue;
        note_home(bk, key, ev.key_len, partition);
        tm_batch_add_event(full, &ev);
        if (!late && !repeats_late(bk, &ev))
            tm_batch_add_event(nolate, &ev);
    }
    /* A record cut short in its head is a broken spill, as one cut short
     * further on is. */
    if (rc == TM_OK && (ferror(f) || (got != 0 && got != head_len)))
        rc = spill_error(errstr, errlen, "input");
    if (!full && bk->n_late_hashes)
        qsort(bk->late_hashes, bk->n_late_hashes, sizeof *bk->late_hashes, cmp_hash);
    free(head);
    free(key);
    free(values);
    return rc;
}

/* The member of m named name (its JSON-escaped bytes), or NULL. */
static const tm_json_member *member_named(const tm_json_members *m, const char *name, size_t len)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->v[i].name_len == len && memcmp(m->v[i].name, name, len) == 0)
            return &m->v[i];
    return NULL;
}

/* A member's number as cJSON reads it (strtod), or false for another
 * type; tm_json_check bounds a number's text. */
static bool member_number(const tm_json_member *m, double *out)
{
    if (!m || m->value_len == 0 || m->value_len > TM_JSON_MAX_NUMBER_LEN ||
        (m->value[0] != '-' && (m->value[0] < '0' || m->value[0] > '9')))
        return false;
    char text[TM_JSON_MAX_NUMBER_LEN + 1];
    memcpy(text, m->value, m->value_len);
    text[m->value_len] = 0;
    *out = strtod(text, NULL);
    return true;
}

static bool number_named(const tm_json_members *m, const char *name, double *out)
{
    return member_number(member_named(m, name, strlen(name)), out);
}

/* T's window of one output record: start from the key, the rest from the
 * value (count -1 when it cannot be read). The value is tidemark's own
 * (output.h): the strict check's members are enough, without a tree (a
 * tree per record was half of a sessions verify's time); aggregation
 * names are matched in the escaped form the output writes. */
static void read_output_value(bucket *bk, win *w, const char *value, size_t len)
{
    const tm_verify *v = bk->v;
    tm_json_check_result res;
    double end = 0, count = 0, revision = -1;
    bool ok = tm_json_check(value, len, &bk->top, &res) == TM_OK && res.first == '{' &&
              number_named(&bk->top, "window_end", &end) && number_named(&bk->top, "count", &count);
    if (ok && !number_named(&bk->top, "revision", &revision))
        revision = -1;
    const tm_json_member *aggs = ok ? member_named(&bk->top, "aggregates", 10) : NULL;
    ok = aggs && tm_json_check(aggs->value, aggs->value_len, &bk->aggs, &res) == TM_OK &&
         res.first == '{';
    for (size_t i = 0; ok && i < v->cfg->n_aggs; i++)
        ok = member_number(member_named(&bk->aggs, v->agg_names[i].data, v->agg_names[i].len),
                           &w->aggs[i]);
    w->end = (int64_t)end;
    w->count = ok ? (int64_t)count : -1;
    w->revision = (int64_t)revision;
}

static int read_output(bucket *bk, FILE *f, char *errstr, size_t errlen)
{
    const tm_config *cfg = bk->v->cfg;
    char *buf = NULL;
    size_t cap = 0;
    size_t key_len, value_len;
    int32_t partition;
    uint64_t seq = 0;
    int rc = TM_OK;
    if (fflush(f) != 0 || fseek(f, 0, SEEK_SET) != 0)
        rc = spill_error(errstr, errlen, "output");
    while (rc == TM_OK && fread(&partition, sizeof partition, 1, f) == 1) {
        bool ok = get(f, &key_len, sizeof key_len) && get(f, &value_len, sizeof value_len);
        size_t n = key_len + (value_len == SIZE_MAX ? 0 : value_len);
        buf = ok ? tm_grow(buf, &cap, n + 1, 1) : buf;
        if (!ok || !get(f, buf, n)) {
            rc = spill_error(errstr, errlen, "output");
            break;
        }
        const char *at = last_at(buf, key_len);
        win *w = win_push(&bk->t, buf, (size_t)(at - buf), cfg->n_aggs);
        char num[32];
        size_t num_len = key_len - (size_t)(at - buf) - 1;
        snprintf(num, sizeof num, "%.*s", (int)(num_len < 31 ? num_len : 31), at + 1);
        w->start = strtoll(num, NULL, 10);
        w->seq = seq++;
        w->partition = partition;
        w->tombstone = value_len == SIZE_MAX;
        if (!w->tombstone)
            read_output_value(bk, w, buf + key_len, value_len);
    }
    if (rc == TM_OK && ferror(f))
        rc = spill_error(errstr, errlen, "output");
    free(buf);
    return rc;
}

static int cmp_key(const win *a, const win *b)
{
    size_t n = a->key_len < b->key_len ? a->key_len : b->key_len;
    int c = n ? memcmp(a->key, b->key, n) : 0;
    if (c)
        return c;
    return (a->key_len > b->key_len) - (a->key_len < b->key_len);
}

static int cmp_key_start(const win *a, const win *b)
{
    int c = cmp_key(a, b);
    return c ? c : (a->start > b->start) - (a->start < b->start);
}

static int cmp_win(const void *pa, const void *pb)
{
    const win *a = pa, *b = pb;
    int c = cmp_key_start(a, b);
    return c ? c : (a->seq > b->seq) - (a->seq < b->seq);
}

/* qsort wants a non-NULL base even for no elements. */
static void sort_wins(win_list *l)
{
    if (l->n)
        qsort(l->v, l->n, sizeof *l->v, cmp_win);
}

/* Sorts T and keeps each window's latest record, dropping tombstoned and
 * out-of-range windows. */
static void table_latest(tm_verify *v, win_list *t)
{
    sort_wins(t);
    size_t out = 0;
    for (size_t i = 0; i < t->n; i++) {
        bool last = i + 1 == t->n || cmp_key_start(&t->v[i], &t->v[i + 1]) != 0;
        /* An unreadable value (count -1) has no end: kept by its start,
         * to be reported, not skipped. */
        const win *w = &t->v[i];
        bool keep = last && !w->tombstone &&
                    (w->count < 0 ? w->start >= v->from : inside(v, w->start, w->end));
        if (keep) {
            t->v[out++] = t->v[i];
            continue;
        }
        free(t->v[i].key);
        free(t->v[i].aggs);
    }
    t->n = out;
}

static bool same_number(double a, double b)
{
    if (a == b)
        return true;
    return fabs(a - b) <= 1e-9 * fmax(fabs(a), fabs(b));
}

/* Whether two windows (either may be NULL: absent) hold the same result. */
static bool same_result(const tm_config *cfg, const win *a, const win *b)
{
    if (!a || !b)
        return !a && !b;
    if (a->end != b->end || a->count != b->count || a->count < 0)
        return false;
    for (size_t i = 0; i < cfg->n_aggs; i++)
        if (!same_number(a->aggs[i], b->aggs[i]))
            return false;
    return true;
}

/* The window of l at *i with w's key and start, advancing *i past the
 * smaller ones; NULL when l has none. */
static win *find(win_list *l, size_t *i, const win *w)
{
    while (*i < l->n && cmp_key_start(&l->v[*i], w) < 0)
        (*i)++;
    return *i < l->n && cmp_key_start(&l->v[*i], w) == 0 ? &l->v[*i] : NULL;
}

/* What compare_key knows of a key, for each of its windows. */
typedef struct key_facts {
    const key_home *home; /* NULL: no input record of the key was read */
    bool by_key;          /* sessions: a differing window's verdict is the key's */
    bool explained;       /* by_key: the key's sessions add up */
} key_facts;

static void report(bucket *bk, const win *e, const win *t, tm_verify_verdict verdict,
                   const key_facts *kf, tm_verify_window_fn fn, void *ctx)
{
    const win *w = e ? e : t;
    const char **late = NULL;
    size_t n_late = 0, cap = 0;
    for (size_t i = 0; verdict != TM_VERIFY_EQUAL && i < bk->n_late; i++) {
        const late_event *le = &bk->late[i];
        if (le->key_len == w->key_len && memcmp(le->key, w->key, w->key_len) == 0 &&
            le->t >= w->start && le->t < w->end) {
            late = tm_grow(late, &cap, n_late + 1, sizeof *late);
            late[n_late++] = le->source;
        }
    }
    tm_verify_window out = {
        .key = w->key,
        .key_len = w->key_len,
        .start = w->start,
        .end = e ? e->end : t->end,
        .verdict = verdict,
        .has_expected = e != NULL,
        .has_actual = t != NULL,
        .expected_count = e ? e->count : 0,
        .actual_count = t ? t->count : 0,
        .expected = e ? e->aggs : NULL,
        .actual = t ? t->aggs : NULL,
        .expected_acc = e ? e->acc : NULL,
        .actual_revision = t ? t->revision : -1,
        .actual_partition = t ? t->partition : -1,
        .input_partition = kf->home ? kf->home->partition : -1,
        .late = late,
        .n_late = n_late,
    };
    if (fn)
        fn(ctx, &out);
    free(late);
}

/* Judges one window (verify.h) given its E, B and T (any may be NULL);
 * unjudged: it overlaps a batch session the range cuts. */
static void judge(bucket *bk, const win *e, const win *b, const win *t, const key_facts *kf,
                  bool unjudged, tm_verify_window_fn fn, void *ctx)
{
    tm_verify_summary *s = &bk->v->sum;
    const tm_config *cfg = bk->v->cfg;
    s->windows++;
    bool explained = kf->by_key ? kf->explained : same_result(cfg, b, t);
    tm_verify_verdict verdict = same_result(cfg, e, t) ? TM_VERIFY_EQUAL
                                : unjudged             ? TM_VERIFY_UNJUDGED
                                : explained            ? TM_VERIFY_EXPLAINED
                                                       : TM_VERIFY_UNEXPLAINED;
    if (verdict == TM_VERIFY_EQUAL)
        s->equal++;
    else if (verdict == TM_VERIFY_UNJUDGED)
        s->unjudged++;
    else if (verdict == TM_VERIFY_EXPLAINED)
        s->explained++;
    else
        s->unexplained++;
    report(bk, e, t, verdict, kf, fn, ctx);
}

/* A key's windows in one of E, B, T: a view into the sorted list. */
static win_list key_view(const win_list *l, size_t *i, const win *key)
{
    while (*i < l->n && cmp_key(&l->v[*i], key) < 0)
        (*i)++;
    size_t first = *i;
    while (*i < l->n && cmp_key(&l->v[*i], key) == 0)
        (*i)++;
    return (win_list){.v = l->v + first, .n = *i - first};
}

/* A key's windows added up: counts and sums add, min and max combine,
 * avg adds back its sum (avg x count). */
static void key_totals(const tm_config *cfg, const win_list *l, win *out)
{
    out->count = 0;
    for (size_t i = 0; i < l->n; i++) {
        const win *w = &l->v[i];
        for (size_t a = 0; a < cfg->n_aggs; a++) {
            double x = w->aggs[a];
            double *acc = &out->aggs[a];
            switch (cfg->aggs[a].op) {
            case TM_AGG_MIN:
                *acc = i == 0 || x < *acc ? x : *acc;
                break;
            case TM_AGG_MAX:
                *acc = i == 0 || x > *acc ? x : *acc;
                break;
            case TM_AGG_AVG:
                *acc = (i ? *acc : 0) + x * (double)w->count;
                break;
            case TM_AGG_COUNT:
            case TM_AGG_SUM:
                *acc = (i ? *acc : 0) + x;
                break;
            }
        }
        /* An unreadable window (-1) makes the total unreadable. */
        out->count = w->count < 0 || out->count < 0 ? -1 : out->count + w->count;
    }
}

/* Sessions (verify.h): whether T's sessions of a key hold, together, what
 * E's or B's hold, though split or merged otherwise. */
static bool sessions_add_up(const tm_config *cfg, const win_list *e, const win_list *b,
                            const win_list *t)
{
    size_t n = cfg->n_aggs ? cfg->n_aggs : 1;
    double *mem = tm_xcalloc(3 * n, sizeof *mem);
    win te = {.aggs = mem}, tb = {.aggs = mem + n}, tt = {.aggs = mem + 2 * n};
    key_totals(cfg, e, &te);
    key_totals(cfg, b, &tb);
    key_totals(cfg, t, &tt);
    bool same = same_result(cfg, &tt, &te) || same_result(cfg, &tt, &tb);
    free(mem);
    return same;
}

/* The windows of l inside the key's scope (key_home's cut): shallow
 * copies, to free with free(v) alone. */
static win_list in_scope(const win_list *l, int64_t lo, int64_t hi)
{
    win_list out = {.v = tm_xcalloc(l->n ? l->n : 1, sizeof *out.v)};
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].start >= lo && l->v[i].end <= hi)
            out.v[out.n++] = l->v[i];
    return out;
}

/* One key's windows, merged by start; B is looked up alongside. */
static void compare_key(bucket *bk, win_list *e, win_list *b, win_list *t, tm_verify_window_fn fn,
                        void *ctx)
{
    /* Sessions are judged by key (verify.h): one by one, a session only B
     * has (a late record moved its batch session's start) would never be
     * judged, and a table that lost it would pass as explained. The key is
     * judged on its windows clear of a batch session the range cuts; the
     * others, when they differ, are unjudged. */
    const win *k = e->n ? &e->v[0] : &t->v[0];
    key_facts kf = {.home = find_home(bk, k->key, k->key_len),
                    .by_key = bk->v->cfg->window_type == TM_WINDOW_SESSION};
    int64_t lo = kf.home ? kf.home->cut_lo : INT64_MIN, hi = kf.home ? kf.home->cut_hi : INT64_MAX;
    if (kf.by_key) {
        win_list es = in_scope(e, lo, hi), bs = in_scope(b, lo, hi), ts = in_scope(t, lo, hi);
        kf.explained = sessions_add_up(bk->v->cfg, &es, &bs, &ts);
        free(es.v);
        free(bs.v);
        free(ts.v);
    }
    size_t ie = 0, ib = 0, it = 0;
    while (ie < e->n || it < t->n) {
        win *we = ie < e->n ? &e->v[ie] : NULL;
        win *wt = it < t->n ? &t->v[it] : NULL;
        int c = !we ? 1 : !wt ? -1 : cmp_key_start(we, wt);
        win *wb = find(b, &ib, c <= 0 ? we : wt);
        const win *w = c <= 0 ? we : wt;
        bool cut = (c >= 0 && wt->end > hi) || w->start < lo || (c <= 0 && we->end > hi);
        judge(bk, c <= 0 ? we : NULL, wb, c >= 0 ? wt : NULL, &kf, cut, fn, ctx);
        ie += c <= 0;
        it += c >= 0;
    }
}

static void compare(bucket *bk, tm_verify_window_fn fn, void *ctx)
{
    sort_wins(&bk->e);
    sort_wins(&bk->b);
    table_latest(bk->v, &bk->t);
    size_t ie = 0, ib = 0, it = 0;
    /* Key by key, the smallest of E's and T's next. */
    while (ie < bk->e.n || it < bk->t.n) {
        const win *we = ie < bk->e.n ? &bk->e.v[ie] : NULL;
        const win *wt = it < bk->t.n ? &bk->t.v[it] : NULL;
        const win *key = !we ? wt : !wt ? we : cmp_key(we, wt) <= 0 ? we : wt;
        win k = *key; /* the views below move past key itself */
        win_list e = key_view(&bk->e, &ie, &k);
        win_list b = key_view(&bk->b, &ib, &k);
        win_list t = key_view(&bk->t, &it, &k);
        compare_key(bk, &e, &b, &t, fn, ctx);
    }
}

static void bucket_free(bucket *bk)
{
    win_list_free(&bk->e);
    win_list_free(&bk->b);
    win_list_free(&bk->t);
    for (size_t i = 0; i < bk->n_late; i++) {
        free(bk->late[i].key);
        free(bk->late[i].source);
    }
    free(bk->late);
    free(bk->late_hashes);
    for (size_t i = 0; i < bk->homes.cap; i++) {
        key_home *h = tm_table_slot(&bk->homes, i);
        if (h)
            free(h->key);
    }
    tm_table_destroy(&bk->homes);
    tm_json_members_free(&bk->top);
    tm_json_members_free(&bk->aggs);
}

int tm_verify_finish(tm_verify *v, tm_verify_window_fn fn, void *ctx,
                     void (*progress)(void *ctx, size_t done, size_t n), void *progress_ctx,
                     tm_verify_summary *out, char *errstr, size_t errlen)
{
    tm_batch *full = NULL, *nolate = NULL;
    int rc = tm_batch_open(&full, v->cfg, errstr, errlen);
    if (rc == TM_OK)
        rc = tm_batch_open(&nolate, v->cfg, errstr, errlen);
    for (size_t i = 0; i < v->n_buckets && rc == TM_OK; i++) {
        bucket bk = {.v = v};
        tm_table_init(&bk.homes, sizeof(key_home));
        rc = read_input(&bk, v->in_runs[i], NULL, NULL, errstr, errlen);
        if (rc == TM_OK)
            rc = read_input(&bk, v->in_runs[i], full, nolate, errstr, errlen);
        bk.collect = &bk.e;
        tm_batch_finish(full, on_batch_result, &bk);
        bk.collect = &bk.b;
        tm_batch_finish(nolate, on_batch_result, &bk);
        if (rc == TM_OK)
            rc = read_output(&bk, v->out_runs[i], errstr, errlen);
        if (rc == TM_OK)
            compare(&bk, fn, ctx);
        bucket_free(&bk);
        if (rc == TM_OK && progress)
            progress(progress_ctx, i + 1, v->n_buckets);
    }
    tm_batch_close(full);
    tm_batch_close(nolate);
    if (out)
        *out = v->sum;
    return rc;
}
