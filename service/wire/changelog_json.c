/*
 * changelog_json.c: see changelog_json.h. The bytes are read by
 * changelog.c's parsers, the same ones restore uses, so the JSON form
 * cannot drift from what the service reads back.
 */
#include "changelog_json.h"

#include <inttypes.h>

#include "buf.h"
#include "changelog.h"
#include "err.h"

/* A parsed record: everything is checked before anything is written. */
typedef struct parsed {
    tm_changelog_key key;
    bool tombstone;
    union {
        tm_changelog_window window;
        tm_changelog_dedup dedup;
        tm_changelog_checkpoint checkpoint;
    } v;
} parsed;

static const char *parse(parsed *r, const void *key, size_t key_len, const void *value,
                         size_t value_len)
{
    const char *why = tm_changelog_parse_key(key, key_len, &r->key);
    if (why)
        return why;
    r->tombstone = value == NULL;
    if (r->tombstone)
        /* The service rewrites its checkpoint record, never deletes it. */
        return r->key.kind == TM_CHANGELOG_CHECKPOINT ? "a tombstone of the checkpoint" : NULL;
    if (r->key.kind == TM_CHANGELOG_WINDOW)
        return tm_changelog_parse_window(value, value_len, &r->v.window);
    if (r->key.kind == TM_CHANGELOG_DEDUP)
        return tm_changelog_parse_dedup(value, value_len, &r->v.dedup);
    return tm_changelog_parse_checkpoint(value, value_len, &r->v.checkpoint);
}

static void put_member_i64(tm_buf *b, const char *name, int64_t v)
{
    tm_buf_printf(b, ",\"%s\":", name);
    tm_buf_put_i64(b, v);
}

static void put_window(tm_buf *b, const parsed *r)
{
    const tm_changelog_window *w = &r->v.window;
    tm_buf_puts(b, "\"kind\":\"window\",\"key\":");
    tm_buf_put_json_string(b, r->key.group_key, r->key.group_key_len);
    put_member_i64(b, "window_start", r->key.start);
    if (r->tombstone) {
        tm_buf_puts(b, ",\"tombstone\":true");
        return;
    }
    put_member_i64(b, "window_end", w->end);
    put_member_i64(b, "count", w->count);
    put_member_i64(b, "revision", w->revision);
    tm_buf_puts(b, w->fired ? ",\"fired\":true" : ",\"fired\":false");
    tm_buf_puts(b, ",\"accumulators\":[");
    for (size_t i = 0; i < w->n_aggs; i++) {
        if (i)
            tm_buf_putc(b, ',');
        tm_buf_put_double(b, tm_changelog_window_acc(w, i));
    }
    tm_buf_putc(b, ']');
}

static void put_dedup(tm_buf *b, const parsed *r)
{
    const tm_changelog_dedup *d = &r->v.dedup;
    tm_buf_puts(b, "\"kind\":\"dedup\"");
    put_member_i64(b, "seq", r->key.seq);
    if (r->tombstone) {
        tm_buf_puts(b, ",\"tombstone\":true");
        return;
    }
    put_member_i64(b, "max_expiry", d->max_expiry);
    tm_buf_puts(b, ",\"keys\":[");
    for (size_t i = 0; i < d->n; i++) {
        tm_dedup_hash h;
        int64_t expiry;
        tm_changelog_dedup_entry(d, i, &h, &expiry);
        /* One 128-bit number, high half first: two exact 64-bit halves
         * that JSON numbers (doubles) could not carry. */
        tm_buf_printf(b, "%s{\"hash\":\"%016" PRIx64 "%016" PRIx64 "\",\"expiry\":", i ? "," : "",
                      h.hi, h.lo);
        tm_buf_put_i64(b, expiry);
        tm_buf_putc(b, '}');
    }
    tm_buf_putc(b, ']');
}

static void put_source(tm_buf *b, tm_watermark_source s)
{
    tm_buf_puts(b, "{\"watermark\":");
    tm_buf_put_i64(b, s.watermark);
    tm_buf_puts(b, s.idle ? ",\"idle\":true}" : ",\"idle\":false}");
}

/* A paired task's part of its checkpoint (changelog.h, version 3). */
static void put_pairing(tm_buf *b, const tm_changelog_checkpoint *c)
{
    tm_buf_puts(b, ",\"pairing\":{\"repartition_next_offset\":");
    tm_buf_put_i64(b, c->repartition_offset);
    put_member_i64(b, "source_watermark", c->source_watermark);
    tm_buf_puts(b, ",\"published\":");
    put_source(b, c->published);
    tm_buf_puts(b, ",\"sources\":[");
    for (size_t i = 0; i < c->n_sources; i++) {
        if (i)
            tm_buf_putc(b, ',');
        put_source(b, tm_changelog_checkpoint_source(c, i));
    }
    tm_buf_puts(b, "]}");
}

static void put_checkpoint(tm_buf *b, const parsed *r)
{
    const tm_changelog_checkpoint *c = &r->v.checkpoint;
    tm_buf_puts(b, "\"kind\":\"checkpoint\"");
    put_member_i64(b, "seq", c->seq);
    put_member_i64(b, "watermark", c->watermark);
    tm_buf_puts(b, ",\"inputs\":[");
    for (size_t i = 0; i < c->n_topics; i++) {
        tm_changelog_input in = tm_changelog_checkpoint_input(c, i);
        tm_buf_puts(b, i ? ",{\"next_offset\":" : "{\"next_offset\":");
        tm_buf_put_i64(b, in.next_offset);
        put_member_i64(b, "max_event_time", in.max_t);
        put_member_i64(b, "last_record_time", in.last_record_time);
        tm_buf_putc(b, '}');
    }
    tm_buf_putc(b, ']');
    if (c->fingerprint) {
        tm_buf_puts(b, ",\"state\":");
        tm_buf_put_json_string(b, c->fingerprint, c->fingerprint_len);
    }
    if (c->paired)
        put_pairing(b, c);
}

int tm_changelog_json_members(tm_buf *out, const void *key, size_t key_len, const void *value,
                              size_t value_len, char *errstr, size_t errlen)
{
    parsed r;
    const char *why = parse(&r, key, key_len, value, value_len);
    if (why)
        return tm_seterr(errstr, errlen, TM_EPARSE, "changelog record: %s", why);
    switch (r.key.kind) {
    case TM_CHANGELOG_WINDOW:
        put_window(out, &r);
        break;
    case TM_CHANGELOG_DEDUP:
        put_dedup(out, &r);
        break;
    case TM_CHANGELOG_CHECKPOINT:
        put_checkpoint(out, &r);
        break;
    }
    return TM_OK;
}
