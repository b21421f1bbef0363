/*
 * changelog.c: see changelog.h for the record format.
 *
 * Invariants: a checkpoint's records, applied in order to the store or to
 * a compacted topic, leave exactly the task's state at that checkpoint;
 * restore reads them back into an engine that then behaves as the one that
 * wrote them (same windows, same held dedup keys, same watermark state).
 */
#include "changelog.h"

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "decode.h"
#include "err.h"
#include "side_record.h"

/* Window and dedup records are at version 1; the checkpoint record at 2
 * (1 plus the state fingerprint), or 3 for a paired task (2 plus the
 * pairing: changelog.h), and version 1 checkpoints are still read. */
enum { FORMAT_VERSION = 1, CHECKPOINT_VERSION = 2, PAIRED_CHECKPOINT_VERSION = 3 };
_Static_assert(FORMAT_VERSION == 1 && CHECKPOINT_VERSION == 2 && PAIRED_CHECKPOINT_VERSION == 3,
               "tm_changelog_versions_read names the versions");
_Static_assert(PAIRED_CHECKPOINT_VERSION <= TM_CHANGELOG_VERSION_MAX,
               "a version byte must stay below every printable character");

/* The fixed parts of the values and keys (changelog.h). */
enum {
    WINDOW_HEAD = 1 + 8 + 8 + 8 + 1 + 4, /* version, end, count, revision, fired, n_aggs */
    WINDOW_ACC = 8,
    DEDUP_HEAD = 1 + 4 + 8,          /* version, n, max expiry */
    DEDUP_ENTRY = 8 + 8 + 8,         /* hash lo, hash hi, expiry */
    CHECKPOINT_HEAD = 1 + 8 + 8 + 4, /* version, seq, W, n_topics */
    CHECKPOINT_INPUT = 8 + 8 + 8,    /* next offset, max_t, last record time */
    CHECKPOINT_FP_LEN = 4,           /* v2: the fingerprint's length, then its bytes */
    /* v3: repartition offset, source watermark, published mark, n_sources */
    PAIRING_HEAD = 8 + 8 + 8 + 1 + 4,
    PAIRING_SOURCE = 8 + 1, /* a source's watermark and idle flag */
    KEY_PREFIX = 1 + 8      /* kind, then a window's start or a batch's seq */
};

/* A record of the checkpoint being built: offsets into cl->bytes, since
 * the buffer moves while it grows. */
typedef struct pending_change {
    size_t key_off, key_len;
    size_t value_off, value_len;
    bool tombstone;
} pending_change;

/* A dedup batch record that is live in the changelog. */
typedef struct dedup_batch {
    int64_t seq;
    int64_t max_expiry;
} dedup_batch;

/* A record being restored: borrowed bytes. */
typedef struct record {
    const unsigned char *key;
    size_t key_len;
    const void *value;
    size_t value_len;
} record;

struct tm_changelog {
    const tm_config *cfg;
    size_t max_record_bytes; /* what the changelog topic takes (side_record.h) */
    tm_buf fingerprint;      /* tm_config_state_fingerprint of cfg */
    int64_t seq;             /* of the next record key that needs one (dedup, checkpoint) */
    tm_buf bytes;
    pending_change *pending;
    size_t n_pending, cap_pending;
    tm_kv_change *changes;
    size_t cap_changes;
    dedup_batch *batches;
    size_t n_batches, cap_batches;
};

tm_changelog *tm_changelog_new(const tm_config *cfg)
{
    tm_changelog *cl = tm_xcalloc(1, sizeof *cl);
    cl->cfg = cfg;
    cl->max_record_bytes = tm_config_producer_max_bytes(cfg);
    tm_config_state_fingerprint(cfg, &cl->fingerprint);
    return cl;
}

size_t tm_changelog_max_fixed_bytes(const tm_config *cfg)
{
    tm_buf fp = {0};
    tm_config_state_fingerprint(cfg, &fp);
    size_t window = tm_record_wire_bytes(KEY_PREFIX + TM_GROUP_KEY_MAX,
                                         WINDOW_HEAD + WINDOW_ACC * cfg->n_aggs, NULL, 0);
    size_t checkpoint = tm_record_wire_bytes(
        1, CHECKPOINT_HEAD + CHECKPOINT_INPUT * cfg->n_input_topics + CHECKPOINT_FP_LEN + fp.len,
        NULL, 0);
    size_t dedup = tm_record_wire_bytes(KEY_PREFIX, DEDUP_HEAD + DEDUP_ENTRY, NULL, 0);
    tm_buf_free(&fp);
    size_t most = window > checkpoint ? window : checkpoint;
    return most > dedup ? most : dedup;
}

void tm_changelog_set_record_limit(tm_changelog *cl, size_t max_record_bytes)
{
    cl->max_record_bytes = max_record_bytes;
}

void tm_changelog_free(tm_changelog *cl)
{
    if (!cl)
        return;
    tm_buf_free(&cl->bytes);
    tm_buf_free(&cl->fingerprint);
    free(cl->pending);
    free(cl->changes);
    free(cl->batches);
    free(cl);
}

/* ---- writing ---- */

static void put_u8(tm_buf *b, uint8_t v)
{
    tm_buf_append(b, &v, 1);
}

static void put_le(tm_buf *b, uint64_t v, int bytes)
{
    unsigned char out[8];
    for (int i = 0; i < bytes; i++)
        out[i] = (unsigned char)(v >> (8 * i));
    tm_buf_append(b, out, (size_t)bytes);
}

static void put_i64(tm_buf *b, int64_t v)
{
    put_le(b, (uint64_t)v, 8);
}

/* Big-endian in keys, so that keys sort by their number. */
static void put_i64_be(tm_buf *b, int64_t v)
{
    unsigned char out[8];
    for (int i = 0; i < 8; i++)
        out[i] = (unsigned char)((uint64_t)v >> (56 - 8 * i));
    tm_buf_append(b, out, 8);
}

static void put_f64(tm_buf *b, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    put_le(b, bits, 8);
}

/* Starts a record: its key is written next, then begin_value, then its
 * value (none for a tombstone). */
static pending_change *begin_record(tm_changelog *cl)
{
    cl->pending = tm_grow(cl->pending, &cl->cap_pending, cl->n_pending + 1, sizeof *cl->pending);
    pending_change *p = &cl->pending[cl->n_pending++];
    *p = (pending_change){.key_off = cl->bytes.len};
    return p;
}

static void begin_value(tm_changelog *cl, pending_change *p)
{
    p->key_len = cl->bytes.len - p->key_off;
    p->value_off = cl->bytes.len;
}

static void end_record(tm_changelog *cl, pending_change *p, bool tombstone)
{
    p->tombstone = tombstone;
    p->value_len = cl->bytes.len - p->value_off;
}

static void put_window_key(tm_buf *b, const char *key, size_t key_len, int64_t start)
{
    put_u8(b, 'w');
    put_i64_be(b, start);
    tm_buf_append(b, key, key_len);
}

static void on_window(void *ctx, const tm_window_state *st, bool deleted)
{
    tm_changelog *cl = ctx;
    pending_change *p = begin_record(cl);
    put_window_key(&cl->bytes, st->key, st->key_len, st->start);
    begin_value(cl, p);
    if (!deleted) {
        put_u8(&cl->bytes, FORMAT_VERSION);
        put_i64(&cl->bytes, st->end);
        put_i64(&cl->bytes, st->count);
        put_i64(&cl->bytes, st->revision);
        put_u8(&cl->bytes, st->fired);
        put_le(&cl->bytes, cl->cfg->n_aggs, 4);
        for (size_t i = 0; i < cl->cfg->n_aggs; i++)
            put_f64(&cl->bytes, st->acc[i]);
    }
    end_record(cl, p, deleted);
}

static void add_batch(tm_changelog *cl, int64_t seq, int64_t max_expiry)
{
    cl->batches = tm_grow(cl->batches, &cl->cap_batches, cl->n_batches + 1, sizeof *cl->batches);
    cl->batches[cl->n_batches++] = (dedup_batch){seq, max_expiry};
}

static void put_dedup_key(tm_buf *b, int64_t seq)
{
    put_u8(b, 'd');
    put_i64_be(b, seq);
}

/* The dedup keys one record holds: as many as fit the changelog topic's
 * record limit (a real broker refuses a larger record, and a checkpoint
 * after a backlog can admit hundreds of thousands of keys). */
static size_t dedup_keys_per_record(const tm_changelog *cl)
{
    size_t fixed = TM_RECORD_FRAMING_BYTES + KEY_PREFIX + DEDUP_HEAD;
    size_t n = cl->max_record_bytes > fixed ? (cl->max_record_bytes - fixed) / DEDUP_ENTRY : 0;
    /* tm_kafka refuses a changelog topic too small for one key. */
    return n > 0 ? n : 1;
}

/* One dedup batch record of keys a[0..n), keyed by seq. */
static void put_dedup_batch(tm_changelog *cl, int64_t seq, const tm_dedup_admitted *a, size_t n)
{
    int64_t max_expiry = INT64_MIN;
    for (size_t i = 0; i < n; i++)
        max_expiry = a[i].expiry > max_expiry ? a[i].expiry : max_expiry;
    pending_change *p = begin_record(cl);
    put_dedup_key(&cl->bytes, seq);
    begin_value(cl, p);
    put_u8(&cl->bytes, FORMAT_VERSION);
    put_le(&cl->bytes, n, 4);
    put_i64(&cl->bytes, max_expiry);
    for (size_t i = 0; i < n; i++) {
        put_le(&cl->bytes, a[i].h.lo, 8);
        put_le(&cl->bytes, a[i].h.hi, 8);
        put_i64(&cl->bytes, a[i].expiry);
    }
    end_record(cl, p, false);
    add_batch(cl, seq, max_expiry);
}

/* The dedup keys this checkpoint admitted, in as few records as fit: the
 * first keyed by the checkpoint's seq, the others by the seqs after it,
 * which the next checkpoint skips. Returns how many seqs it used (at
 * least one: the checkpoint's own). */
static int64_t collect_dedup(tm_changelog *cl, tm_engine *e)
{
    size_t n;
    const tm_dedup_admitted *a = tm_engine_drain_dedup(e, &n);
    size_t per = dedup_keys_per_record(cl);
    int64_t used = 0;
    for (size_t i = 0; i < n; i += per)
        put_dedup_batch(cl, cl->seq + used++, a + i, n - i < per ? n - i : per);
    return used > 0 ? used : 1;
}

/* Tombstones the dedup batches whose every key the watermark released. */
static void expire_batches(tm_changelog *cl, int64_t w)
{
    size_t kept = 0;
    for (size_t i = 0; i < cl->n_batches; i++) {
        if (cl->batches[i].max_expiry > w) {
            cl->batches[kept++] = cl->batches[i];
            continue;
        }
        pending_change *p = begin_record(cl);
        put_dedup_key(&cl->bytes, cl->batches[i].seq);
        begin_value(cl, p);
        end_record(cl, p, true);
    }
    cl->n_batches = kept;
}

static void put_source(tm_buf *b, tm_watermark_source s)
{
    put_i64(b, s.watermark);
    put_u8(b, s.idle);
}

/* A paired task's part of its checkpoint (changelog.h). */
static void put_pairing(tm_buf *b, const tm_engine *e, int64_t repartition_offset)
{
    size_t n;
    const tm_watermark_source *view = tm_engine_sources(e, &n);
    put_i64(b, repartition_offset);
    put_i64(b, tm_engine_clock(e)->task_watermark);
    put_source(b, tm_engine_source_mark(e));
    put_le(b, n, 4);
    for (size_t i = 0; i < n; i++)
        put_source(b, view[i]);
}

static void collect_checkpoint(tm_changelog *cl, const tm_engine *e, const int64_t *next_offsets)
{
    const tm_watermark *wm = tm_engine_clock(e);
    bool paired = tm_engine_paired(e);
    pending_change *p = begin_record(cl);
    put_u8(&cl->bytes, 'c');
    begin_value(cl, p);
    put_u8(&cl->bytes, paired ? PAIRED_CHECKPOINT_VERSION : CHECKPOINT_VERSION);
    put_i64(&cl->bytes, cl->seq);
    put_i64(&cl->bytes, tm_engine_watermark(e));
    put_le(&cl->bytes, wm->n_parts, 4);
    for (size_t i = 0; i < wm->n_parts; i++) {
        put_i64(&cl->bytes, next_offsets[i]);
        put_i64(&cl->bytes, wm->parts[i].max_t);
        put_i64(&cl->bytes, wm->parts[i].last_record_time);
    }
    put_le(&cl->bytes, cl->fingerprint.len, 4);
    tm_buf_append(&cl->bytes, cl->fingerprint.data, cl->fingerprint.len);
    if (paired)
        put_pairing(&cl->bytes, e, next_offsets[wm->n_parts]);
    end_record(cl, p, false);
}

void tm_changelog_collect(tm_changelog *cl, tm_engine *e, const int64_t *next_offsets,
                          const tm_kv_change **changes, size_t *n)
{
    tm_buf_reset(&cl->bytes);
    cl->n_pending = 0;
    tm_engine_drain_windows(e, on_window, cl);
    int64_t seqs = collect_dedup(cl, e);
    expire_batches(cl, tm_engine_watermark(e));
    collect_checkpoint(cl, e, next_offsets);
    cl->seq += seqs;

    /* The buffer has stopped moving: point the changes into it. */
    if (cl->n_pending > cl->cap_changes) {
        cl->cap_changes = cl->n_pending;
        cl->changes = tm_xrealloc(cl->changes, cl->cap_changes * sizeof *cl->changes);
    }
    for (size_t i = 0; i < cl->n_pending; i++) {
        const pending_change *p = &cl->pending[i];
        cl->changes[i] = (tm_kv_change){
            .key = cl->bytes.data + p->key_off,
            .key_len = p->key_len,
            .value = p->tombstone ? NULL : cl->bytes.data + p->value_off,
            .value_len = p->value_len,
        };
    }
    *changes = cl->changes;
    *n = cl->n_pending;
}

/* ---- reading records ---- */

static const char *const UNKNOWN_VERSION = "unknown version";
static const char *const TRUNCATED = "truncated or oversized";

/* Reads `bytes` little-endian bytes at *p and moves *p past them; the
 * caller has checked that they are there. */
static uint64_t take_le(const unsigned char **p, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v |= (uint64_t)(*p)[i] << (8 * i);
    *p += bytes;
    return v;
}

static int64_t take_i64(const unsigned char **p)
{
    return (int64_t)take_le(p, 8);
}

static int64_t get_i64_be(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return (int64_t)v;
}

/* The first byte of a value is its format version. */
static bool version_ok(const unsigned char *p, size_t len)
{
    return len > 0 && p[0] == FORMAT_VERSION;
}

/* A value of len >= head bytes is its head and exactly n parts. */
static const char *sized(size_t len, size_t head, uint64_t n, size_t part)
{
    return (len - head) % part == 0 && (len - head) / part == n ? NULL : TRUNCATED;
}

const char *tm_changelog_parse_key(const void *key, size_t key_len, tm_changelog_key *out)
{
    const unsigned char *k = key;
    *out = (tm_changelog_key){.kind = TM_CHANGELOG_CHECKPOINT};
    switch (key_len ? k[0] : 0) {
    case 'w':
        if (key_len < KEY_PREFIX)
            return "short key";
        out->kind = TM_CHANGELOG_WINDOW;
        out->start = get_i64_be(k + 1);
        out->group_key = (const char *)k + KEY_PREFIX;
        out->group_key_len = key_len - KEY_PREFIX;
        return NULL;
    case 'd':
        if (key_len != KEY_PREFIX)
            return "bad key";
        out->kind = TM_CHANGELOG_DEDUP;
        out->seq = get_i64_be(k + 1);
        return NULL;
    case 'c':
        return key_len == 1 ? NULL : "bad key";
    default:
        return "unknown kind";
    }
}

const char *tm_changelog_parse_window(const void *value, size_t value_len, tm_changelog_window *out)
{
    const unsigned char *p = value;
    if (!version_ok(p, value_len))
        return UNKNOWN_VERSION;
    if (value_len < WINDOW_HEAD)
        return TRUNCATED;
    p++;
    out->end = take_i64(&p);
    out->count = take_i64(&p);
    out->revision = take_i64(&p);
    out->fired = take_le(&p, 1) != 0;
    out->n_aggs = (uint32_t)take_le(&p, 4);
    out->acc_bytes_ = p;
    return sized(value_len, WINDOW_HEAD, out->n_aggs, WINDOW_ACC);
}

double tm_changelog_window_acc(const tm_changelog_window *w, size_t i)
{
    assert(i < w->n_aggs);
    const unsigned char *p = w->acc_bytes_ + i * WINDOW_ACC;
    uint64_t bits = take_le(&p, 8);
    double v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

const char *tm_changelog_parse_dedup(const void *value, size_t value_len, tm_changelog_dedup *out)
{
    const unsigned char *p = value;
    if (!version_ok(p, value_len))
        return UNKNOWN_VERSION;
    if (value_len < DEDUP_HEAD)
        return TRUNCATED;
    p++;
    out->n = (uint32_t)take_le(&p, 4);
    out->max_expiry = take_i64(&p);
    out->entry_bytes_ = p;
    return sized(value_len, DEDUP_HEAD, out->n, DEDUP_ENTRY);
}

void tm_changelog_dedup_entry(const tm_changelog_dedup *d, size_t i, tm_dedup_hash *h,
                              int64_t *expiry)
{
    assert(i < d->n);
    const unsigned char *p = d->entry_bytes_ + i * DEDUP_ENTRY;
    h->lo = take_le(&p, 8);
    h->hi = take_le(&p, 8);
    *expiry = take_i64(&p);
}

static tm_watermark_source take_source(const unsigned char **p)
{
    tm_watermark_source s;
    s.watermark = take_i64(p);
    s.idle = **p != 0;
    (*p)++;
    return s;
}

/* The pairing of a version 3 checkpoint: len bytes at p. */
static const char *parse_pairing(const unsigned char *p, size_t len, tm_changelog_checkpoint *out)
{
    if (len < PAIRING_HEAD)
        return TRUNCATED;
    out->repartition_offset = take_i64(&p);
    out->source_watermark = take_i64(&p);
    out->published = take_source(&p);
    out->n_sources = (uint32_t)take_le(&p, 4);
    out->source_bytes_ = p;
    return sized(len, PAIRING_HEAD, out->n_sources, PAIRING_SOURCE);
}

const char *tm_changelog_parse_checkpoint(const void *value, size_t value_len,
                                          tm_changelog_checkpoint *out)
{
    out->paired = false;
    const unsigned char *p = value;
    if (value_len == 0 ||
        (p[0] != FORMAT_VERSION && p[0] != CHECKPOINT_VERSION && p[0] != PAIRED_CHECKPOINT_VERSION))
        return UNKNOWN_VERSION;
    bool v2 = p[0] != FORMAT_VERSION;
    out->paired = p[0] == PAIRED_CHECKPOINT_VERSION;
    if (value_len < CHECKPOINT_HEAD)
        return TRUNCATED;
    p++;
    out->seq = take_i64(&p);
    out->watermark = take_i64(&p);
    out->n_topics = (uint32_t)take_le(&p, 4);
    out->input_bytes_ = p;
    out->fingerprint = NULL;
    out->fingerprint_len = 0;
    if (!v2)
        return sized(value_len, CHECKPOINT_HEAD, out->n_topics, CHECKPOINT_INPUT);
    /* The inputs, then the fingerprint's length and bytes. */
    size_t inputs = (size_t)out->n_topics * CHECKPOINT_INPUT;
    if ((value_len - CHECKPOINT_HEAD) / CHECKPOINT_INPUT < out->n_topics ||
        value_len - CHECKPOINT_HEAD - inputs < CHECKPOINT_FP_LEN)
        return TRUNCATED;
    p += inputs;
    size_t fp_len = (size_t)take_le(&p, CHECKPOINT_FP_LEN);
    size_t rest = value_len - CHECKPOINT_HEAD - inputs - CHECKPOINT_FP_LEN;
    if (out->paired ? rest < fp_len : rest != fp_len)
        return TRUNCATED;
    out->fingerprint = (const char *)p;
    out->fingerprint_len = fp_len;
    return out->paired ? parse_pairing(p + fp_len, rest - fp_len, out) : NULL;
}

tm_watermark_source tm_changelog_checkpoint_source(const tm_changelog_checkpoint *c, size_t i)
{
    assert(c->paired && i < c->n_sources);
    const unsigned char *p = c->source_bytes_ + i * PAIRING_SOURCE;
    return take_source(&p);
}

tm_changelog_input tm_changelog_checkpoint_input(const tm_changelog_checkpoint *c, size_t i)
{
    assert(i < c->n_topics);
    const unsigned char *p = c->input_bytes_ + i * CHECKPOINT_INPUT;
    tm_changelog_input in;
    in.next_offset = take_i64(&p);
    in.max_t = take_i64(&p);
    in.last_record_time = take_i64(&p);
    return in;
}

/* ---- whose record ---- */

bool tm_changelog_is_ours(const void *key, size_t key_len, const void *value, size_t value_len)
{
    tm_changelog_key k;
    if (tm_changelog_parse_key(key, key_len, &k))
        return false;
    if (!value)
        return true;
    const unsigned char *v = value;
    return value_len > 0 && v[0] >= 1 && v[0] <= TM_CHANGELOG_VERSION_MAX;
}

const char *tm_changelog_check(const void *key, size_t key_len, const void *value, size_t value_len)
{
    tm_changelog_key k;
    const char *why = tm_changelog_parse_key(key, key_len, &k);
    if (why || !value)
        return why;
    switch (k.kind) {
    case TM_CHANGELOG_WINDOW: {
        tm_changelog_window w;
        return tm_changelog_parse_window(value, value_len, &w);
    }
    case TM_CHANGELOG_DEDUP: {
        tm_changelog_dedup d;
        return tm_changelog_parse_dedup(value, value_len, &d);
    }
    default: {
        tm_changelog_checkpoint c;
        return tm_changelog_parse_checkpoint(value, value_len, &c);
    }
    }
}

const char *tm_changelog_versions_read(void)
{
    return "window and dedup records of version 1, checkpoints of versions 1 to 3";
}

/* ---- restoring ---- */

static int bad_record(const record *l, const char *why, char *errstr, size_t errlen)
{
    return tm_seterr(errstr, errlen, TM_ESTORE,
                     "changelog record '%c' (%zu key bytes) cannot be read: %s; the state was "
                     "written by another version or configuration: restart with a new "
                     "application_id, or delete the changelog topic and state directory",
                     l->key_len ? l->key[0] : '?', l->key_len, why);
}

/* Refuses state built under other values of the keys that shape it. */
static int check_fingerprint(const tm_changelog *cl, const tm_changelog_checkpoint *c, char *errstr,
                             size_t errlen)
{
    if (!c->fingerprint) /* a version 1 checkpoint: nothing to compare with */
        return TM_OK;
    tm_buf changed = {0};
    size_t n = tm_config_fingerprint_diff(c->fingerprint, c->fingerprint_len, cl->fingerprint.data,
                                          cl->fingerprint.len, &changed);
    int rc = TM_OK;
    if (n > 0)
        rc = tm_seterr(errstr, errlen, TM_ECONFIG,
                       "config: the state of application_id '%s' was built with another "
                       "configuration: %.*s. These keys shape the state, which cannot be "
                       "restored under new values: go back to the old values, or start afresh "
                       "under a new application_id, or delete this application's state with "
                       "`tidemark reset --config <this config> --yes`",
                       cl->cfg->application_id, (int)changed.len, changed.data);
    tm_buf_free(&changed);
    return rc;
}

static int restore_checkpoint(tm_changelog *cl, tm_engine *e, const record *l,
                              int64_t *next_offsets, char *errstr, size_t errlen)
{
    size_t n_topics = cl->cfg->n_input_topics;
    tm_changelog_checkpoint c;
    const char *why = tm_changelog_parse_checkpoint(l->value, l->value_len, &c);
    if (why)
        return bad_record(l, why, errstr, errlen);
    int rc = check_fingerprint(cl, &c, errstr, errlen);
    if (rc < 0)
        return rc;
    if (c.n_topics != n_topics)
        return bad_record(l, "input.topics has changed", errstr, errlen);
    /* The fingerprint holds repartition.mode: a change of it is refused
     * above, whatever the reason for this one. */
    if (c.paired != tm_engine_paired(e))
        return bad_record(l, "repartitioning has been turned on or off", errstr, errlen);
    size_t n_sources = 0;
    if (c.paired)
        tm_engine_sources(e, &n_sources);
    if (c.paired && c.n_sources != n_sources)
        return bad_record(l, "the input partition count has changed", errstr, errlen);
    tm_partition_clock *parts = tm_xcalloc(n_topics, sizeof *parts);
    for (size_t i = 0; i < n_topics; i++) {
        tm_changelog_input in = tm_changelog_checkpoint_input(&c, i);
        next_offsets[i] = in.next_offset;
        parts[i].max_t = in.max_t;
        parts[i].last_record_time = in.last_record_time;
    }
    tm_engine_restore_clock(e, parts, c.watermark);
    free(parts);
    if (c.paired) {
        tm_watermark_source *view = tm_xcalloc(n_sources, sizeof *view);
        for (size_t i = 0; i < n_sources; i++)
            view[i] = tm_changelog_checkpoint_source(&c, i);
        tm_engine_restore_pairing(e, c.source_watermark, c.published, view);
        free(view);
        next_offsets[n_topics] = c.repartition_offset;
    }
    cl->seq = c.seq + 1;
    return TM_OK;
}

static int restore_window(tm_changelog *cl, tm_engine *e, const record *l,
                          const tm_changelog_key *k, char *errstr, size_t errlen)
{
    tm_changelog_window w;
    const char *why = tm_changelog_parse_window(l->value, l->value_len, &w);
    if (why)
        return bad_record(l, why, errstr, errlen);
    if (w.n_aggs != cl->cfg->n_aggs)
        return bad_record(l, "the aggregations have changed", errstr, errlen);
    /* An empty window is never written: it is deleted instead. */
    if (w.count <= 0)
        return bad_record(l, "an empty window", errstr, errlen);
    double *acc = tm_xcalloc(cl->cfg->n_aggs, sizeof *acc);
    for (size_t i = 0; i < cl->cfg->n_aggs; i++)
        acc[i] = tm_changelog_window_acc(&w, i);
    tm_window_state st = {.key = k->group_key,
                          .key_len = k->group_key_len,
                          .start = k->start,
                          .end = w.end,
                          .count = w.count,
                          .revision = w.revision,
                          .fired = w.fired,
                          .acc = acc};
    tm_engine_restore_window(e, &st);
    free(acc);
    return TM_OK;
}

/* Holds the batch's keys that the restored watermark has not released,
 * and keeps the batch for a tombstone once it has released them all. */
static int restore_dedup(tm_changelog *cl, tm_engine *e, const record *l, const tm_changelog_key *k,
                         char *errstr, size_t errlen)
{
    tm_changelog_dedup d;
    const char *why = tm_changelog_parse_dedup(l->value, l->value_len, &d);
    if (why)
        return bad_record(l, why, errstr, errlen);
    int64_t watermark = tm_engine_watermark(e);
    for (size_t i = 0; i < d.n; i++) {
        tm_dedup_hash h;
        int64_t expiry;
        tm_changelog_dedup_entry(&d, i, &h, &expiry);
        if (expiry > watermark)
            tm_engine_restore_dedup(e, h, expiry);
    }
    add_batch(cl, k->seq, d.max_expiry);
    /* Never reuse a live batch's key. */
    if (k->seq >= cl->seq)
        cl->seq = k->seq + 1;
    return TM_OK;
}

int tm_changelog_restore_record(tm_changelog *cl, tm_engine *e, const void *key, size_t key_len,
                                const void *value, size_t value_len, int64_t *next_offsets,
                                char *errstr, size_t errlen)
{
    const record l = {key, key_len, value, value_len};
    tm_changelog_key k;
    const char *why = tm_changelog_parse_key(key, key_len, &k);
    if (why)
        return bad_record(&l, why, errstr, errlen);
    switch (k.kind) {
    case TM_CHANGELOG_CHECKPOINT:
        return restore_checkpoint(cl, e, &l, next_offsets, errstr, errlen);
    case TM_CHANGELOG_WINDOW:
        return restore_window(cl, e, &l, &k, errstr, errlen);
    default:
        return restore_dedup(cl, e, &l, &k, errstr, errlen);
    }
}
