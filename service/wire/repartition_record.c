/*
 * repartition_record.c: see repartition_record.h for the record format.
 *
 * Invariant: tm_repartition_decode of what tm_repartition_encode_event or
 * tm_repartition_encode_watermark wrote gives back the same fields; every
 * other byte string is refused or read without reading past its end.
 */
#include "repartition_record.h"

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "decode.h"
#include "side_record.h"

_Static_assert(TM_REPARTITION_FORMAT_VERSION >= 1 &&
                   TM_REPARTITION_FORMAT_VERSION <= TM_REPARTITION_FORMAT_VERSION_MAX,
               "a version byte must stay below every printable character");

/* The parts of an event value (repartition_record.h), in order. */
enum {
    HEAD = 1 + 1 + 4,        /* version, kind, source */
    EVENT_FIXED = 8 + 8 + 8, /* t, t as decoded, receipt time */
    ORIGIN_FIXED = 4 + 8,    /* partition, offset */
    N_VALUES = 4,            /* the count of values, then 8 bytes each */
    TOPIC_LEN = 1,           /* then the topic name */
    BYTES_HEAD = 1 + 4,      /* an id, key or value: its state and length */
    N_BYTES_FIELDS = 3,      /* the event id, the original key and value */
    WATERMARK_FIELDS = 8 + 1 /* watermark, idle */
};
_Static_assert(HEAD + EVENT_FIXED + ORIGIN_FIXED + N_VALUES + TOPIC_LEN +
                       N_BYTES_FIELDS * BYTES_HEAD ==
                   TM_REPARTITION_EVENT_FIXED_BYTES,
               "the fixed part of an event value");
_Static_assert(HEAD + WATERMARK_FIELDS == TM_REPARTITION_WATERMARK_BYTES, "a watermark value");

/* The state byte of an id, key or value. An event id is never dropped. */
enum { BYTES_NULL = 0, BYTES_PRESENT = 1, BYTES_DROPPED = 2 };

const char *tm_repartition_status_text(tm_repartition_status s)
{
    switch (s) {
#define TM_REPARTITION_STATUS_CASE(name, text)                                                     \
    case TM_REPARTITION_##name:                                                                    \
        return text;
        TM_REPARTITION_STATUS_MAP(TM_REPARTITION_STATUS_CASE)
#undef TM_REPARTITION_STATUS_CASE
    }
    return "unknown status";
}

/* ---- sizes ---- */

/* The bytes an original key or value adds to the value besides its head. */
static size_t carried(const tm_repartition_bytes *b)
{
    return b->data && !b->dropped ? b->len : 0;
}

size_t tm_repartition_event_value_bytes(const tm_repartition_event *ev)
{
    return TM_REPARTITION_EVENT_FIXED_BYTES + 8 * ev->n_values + ev->topic_len +
           (ev->id ? ev->id_len : 0) + carried(&ev->key) + carried(&ev->value);
}

size_t tm_repartition_event_wire_bytes(const tm_repartition_event *ev)
{
    return tm_record_wire_bytes(ev->group_key_len, tm_repartition_event_value_bytes(ev), NULL, 0);
}

size_t tm_repartition_required_bytes(const tm_repartition_event *ev)
{
    tm_repartition_event bare = *ev;
    bare.key = (tm_repartition_bytes){.dropped = true};
    bare.value = (tm_repartition_bytes){.dropped = true};
    return tm_repartition_event_wire_bytes(&bare);
}

size_t tm_repartition_max_overhead_bytes(const tm_config *cfg)
{
    return tm_record_wire_bytes(
        TM_GROUP_KEY_MAX,
        TM_REPARTITION_EVENT_FIXED_BYTES + 8 * cfg->n_aggs + TM_REPARTITION_TOPIC_MAX, NULL, 0);
}

/* Drops b (keeping its size) when it carries bytes. */
static void drop(tm_repartition_bytes *b)
{
    if (b->data && !b->dropped)
        *b = (tm_repartition_bytes){.len = b->len, .dropped = true};
}

bool tm_repartition_fit(tm_repartition_event *ev, size_t max_bytes)
{
    if (tm_repartition_event_wire_bytes(ev) <= max_bytes)
        return true;
    drop(&ev->value);
    if (tm_repartition_event_wire_bytes(ev) <= max_bytes)
        return true;
    drop(&ev->key);
    return tm_repartition_event_wire_bytes(ev) <= max_bytes;
}

/* ---- writing ---- */

/* Appends the low `bytes` bytes of v, big-endian, in place: an event
 * value has about twenty such fields, and each through tm_buf_append (a
 * reserve, a memcpy call and the NUL: about 55 instructions) cost as much
 * as the rest of forwarding an event. tm_repartition_encode_event reserves
 * the whole value first, so the reserve here is a compare. */
static void put_be(tm_buf *b, uint64_t v, int bytes)
{
    if (b->cap - b->len < (size_t)bytes + 1)
        tm_buf_reserve(b, (size_t)bytes);
    unsigned char *out = (unsigned char *)b->data + b->len;
    for (int i = 0; i < bytes; i++)
        out[i] = (unsigned char)(v >> (8 * (bytes - 1 - i)));
    b->len += (size_t)bytes;
    b->data[b->len] = '\0';
}

static void put_f64(tm_buf *b, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    put_be(b, bits, 8);
}

static void put_head(tm_buf *b, tm_repartition_kind kind, int32_t source)
{
    put_be(b, TM_REPARTITION_FORMAT_VERSION, 1);
    put_be(b, (uint64_t)kind, 1);
    put_be(b, (uint64_t)(uint32_t)source, 4);
}

/* An id, key or value: its state, its length (the original's when
 * dropped, 0 when null), its bytes (when present). */
static void put_bytes(tm_buf *b, const tm_repartition_bytes *v)
{
    uint8_t state = v->dropped ? BYTES_DROPPED : v->data ? BYTES_PRESENT : BYTES_NULL;
    put_be(b, state, 1);
    put_be(b, state == BYTES_NULL ? 0 : v->len, 4);
    if (state == BYTES_PRESENT)
        tm_buf_append(b, v->data, v->len);
}

/* Whether a length fits the 4 bytes of its field. */
static bool fits_u32(size_t n)
{
    return (uint64_t)n <= UINT32_MAX;
}

/* The bounds of tm_repartition_event that its value's fields hold. */
static bool event_encodable(const tm_repartition_event *ev)
{
    if (ev->source < 0 || ev->partition < 0 || ev->offset < 0 || !ev->topic || ev->topic_len == 0 ||
        ev->topic_len > TM_REPARTITION_TOPIC_MAX || ev->group_key_len > TM_GROUP_KEY_MAX ||
        !fits_u32(ev->n_values) || (ev->id && !fits_u32(ev->id_len)) || !fits_u32(ev->key.len) ||
        !fits_u32(ev->value.len))
        return false;
    for (size_t i = 0; i < ev->n_values; i++)
        if (!isfinite(ev->values[i]))
            return false;
    return true;
}

tm_repartition_status tm_repartition_encode_event(tm_buf *out, const tm_repartition_event *ev)
{
    if (!event_encodable(ev))
        return TM_REPARTITION_BAD_FIELD;
    tm_buf_reserve(out, tm_repartition_event_value_bytes(ev));
    put_head(out, TM_REPARTITION_EVENT, ev->source);
    put_be(out, (uint64_t)ev->t, 8);
    put_be(out, (uint64_t)ev->t_decoded, 8);
    put_be(out, (uint64_t)ev->ts, 8);
    put_be(out, (uint64_t)(uint32_t)ev->partition, 4);
    put_be(out, (uint64_t)ev->offset, 8);
    put_be(out, ev->n_values, 4);
    for (size_t i = 0; i < ev->n_values; i++)
        put_f64(out, ev->values[i]);
    put_be(out, ev->topic_len, 1);
    tm_buf_append(out, ev->topic, ev->topic_len);
    put_bytes(out, &(tm_repartition_bytes){.data = ev->id, .len = ev->id_len});
    put_bytes(out, &ev->key);
    put_bytes(out, &ev->value);
    return TM_REPARTITION_OK;
}

tm_repartition_status tm_repartition_encode_watermark(tm_buf *out,
                                                      const tm_repartition_watermark *w)
{
    if (w->source < 0)
        return TM_REPARTITION_BAD_FIELD;
    put_head(out, TM_REPARTITION_WATERMARK, w->source);
    put_be(out, (uint64_t)w->watermark, 8);
    put_be(out, w->idle ? 1 : 0, 1);
    return TM_REPARTITION_OK;
}

/* ---- reading ---- */

bool tm_repartition_is_ours(const void *value, size_t value_len)
{
    const unsigned char *v = value;
    return v && value_len > 0 && v[0] >= 1 && v[0] <= TM_REPARTITION_FORMAT_VERSION_MAX;
}

/* A cursor over a value: every take checks that its bytes are there. */
typedef struct reader {
    const unsigned char *p;
    size_t left;
} reader;

static bool take_be(reader *r, int bytes, uint64_t *v)
{
    if (r->left < (size_t)bytes)
        return false;
    *v = 0;
    for (int i = 0; i < bytes; i++)
        *v = (*v << 8) | r->p[i];
    r->p += bytes;
    r->left -= (size_t)bytes;
    return true;
}

/* n bytes, borrowed. */
static bool take_span(reader *r, size_t n, const char **at)
{
    if (r->left < n)
        return false;
    *at = (const char *)r->p;
    r->p += n;
    r->left -= n;
    return true;
}

static tm_repartition_status take_i32_nonneg(reader *r, int32_t *out)
{
    uint64_t v;
    if (!take_be(r, 4, &v))
        return TM_REPARTITION_TRUNCATED;
    if (v > INT32_MAX)
        return TM_REPARTITION_BAD_FIELD;
    *out = (int32_t)v;
    return TM_REPARTITION_OK;
}

static tm_repartition_status take_i64(reader *r, int64_t *out)
{
    uint64_t v;
    if (!take_be(r, 8, &v))
        return TM_REPARTITION_TRUNCATED;
    *out = (int64_t)v;
    return TM_REPARTITION_OK;
}

/* An id, key or value (put_bytes); may_drop: the dropped state is allowed. */
static tm_repartition_status take_bytes(reader *r, bool may_drop, tm_repartition_bytes *out)
{
    uint64_t state, len;
    if (!take_be(r, 1, &state) || !take_be(r, 4, &len))
        return TM_REPARTITION_TRUNCATED;
    *out = (tm_repartition_bytes){.len = (size_t)len};
    switch (state) {
    case BYTES_NULL:
        return len == 0 ? TM_REPARTITION_OK : TM_REPARTITION_BAD_FIELD;
    case BYTES_PRESENT:
        if (!take_span(r, (size_t)len, &out->data))
            return TM_REPARTITION_TRUNCATED;
        /* A present empty field still needs a non-NULL pointer. */
        if (len == 0)
            out->data = "";
        return TM_REPARTITION_OK;
    case BYTES_DROPPED:
        out->dropped = true;
        return may_drop ? TM_REPARTITION_OK : TM_REPARTITION_BAD_FIELD;
    default:
        return TM_REPARTITION_BAD_FIELD;
    }
}

#define TRY(expr)                                                                                  \
    do {                                                                                           \
        tm_repartition_status s_ = (expr);                                                         \
        if (s_ != TM_REPARTITION_OK)                                                               \
            return s_;                                                                             \
    } while (0)

/* The values: n of them, each finite; stored into values only when n is
 * the configuration's n_aggs. */
static tm_repartition_status take_values(reader *r, size_t n_aggs, double *values,
                                         tm_repartition_event *ev)
{
    uint64_t n;
    if (!take_be(r, 4, &n))
        return TM_REPARTITION_TRUNCATED;
    if (n > r->left / 8)
        return TM_REPARTITION_TRUNCATED;
    ev->n_values = (size_t)n;
    for (size_t i = 0; i < ev->n_values; i++) {
        uint64_t bits = 0;
        double v;
        take_be(r, 8, &bits); /* there: n fits what is left */
        memcpy(&v, &bits, sizeof v);
        if (!isfinite(v))
            return TM_REPARTITION_BAD_FIELD;
        if (ev->n_values == n_aggs)
            values[i] = v;
    }
    ev->values = ev->n_values == n_aggs ? values : NULL;
    return TM_REPARTITION_OK;
}

static tm_repartition_status take_event(reader *r, const void *key, size_t key_len, size_t n_aggs,
                                        double *values, tm_repartition_event *ev)
{
    /* A null key is the empty group key (a producer may send either). */
    if (!key)
        key_len = 0;
    if (key_len > TM_GROUP_KEY_MAX)
        return TM_REPARTITION_BAD_FIELD;
    ev->group_key = key ? key : "";
    ev->group_key_len = key_len;
    TRY(take_i64(r, &ev->t));
    TRY(take_i64(r, &ev->t_decoded));
    TRY(take_i64(r, &ev->ts));
    TRY(take_i32_nonneg(r, &ev->partition));
    TRY(take_i64(r, &ev->offset));
    if (ev->offset < 0)
        return TM_REPARTITION_BAD_FIELD;
    TRY(take_values(r, n_aggs, values, ev));
    uint64_t topic_len;
    if (!take_be(r, 1, &topic_len))
        return TM_REPARTITION_TRUNCATED;
    if (topic_len == 0 || topic_len > TM_REPARTITION_TOPIC_MAX)
        return TM_REPARTITION_BAD_FIELD;
    ev->topic_len = (size_t)topic_len;
    if (!take_span(r, ev->topic_len, &ev->topic))
        return TM_REPARTITION_TRUNCATED;
    tm_repartition_bytes id;
    TRY(take_bytes(r, false, &id));
    ev->id = id.data;
    ev->id_len = id.len;
    TRY(take_bytes(r, true, &ev->key));
    TRY(take_bytes(r, true, &ev->value));
    return TM_REPARTITION_OK;
}

static tm_repartition_status take_watermark(reader *r, tm_repartition_watermark *w)
{
    TRY(take_i64(r, &w->watermark));
    uint64_t idle;
    if (!take_be(r, 1, &idle))
        return TM_REPARTITION_TRUNCATED;
    if (idle > 1)
        return TM_REPARTITION_BAD_FIELD;
    w->idle = idle == 1;
    return TM_REPARTITION_OK;
}

tm_repartition_status tm_repartition_decode(const void *key, size_t key_len, const void *value,
                                            size_t value_len, size_t n_aggs, double *values,
                                            tm_repartition_record *out)
{
    memset(out, 0, sizeof *out);
    if (!tm_repartition_is_ours(value, value_len))
        return TM_REPARTITION_FOREIGN;
    reader r = {value, value_len};
    uint64_t version, kind;
    take_be(&r, 1, &version);
    if (version != TM_REPARTITION_FORMAT_VERSION)
        return TM_REPARTITION_VERSION;
    if (!take_be(&r, 1, &kind))
        return TM_REPARTITION_TRUNCATED;
    int32_t source;
    switch (kind) {
    case TM_REPARTITION_EVENT:
        TRY(take_i32_nonneg(&r, &source));
        out->kind = TM_REPARTITION_EVENT;
        out->event.source = source;
        TRY(take_event(&r, key, key_len, n_aggs, values, &out->event));
        break;
    case TM_REPARTITION_WATERMARK:
        TRY(take_i32_nonneg(&r, &source));
        out->kind = TM_REPARTITION_WATERMARK;
        out->watermark.source = source;
        TRY(take_watermark(&r, &out->watermark));
        break;
    default:
        return TM_REPARTITION_KIND;
    }
    if (r.left != 0)
        return TM_REPARTITION_TRAILING;
    if (out->kind == TM_REPARTITION_EVENT && out->event.n_values != n_aggs)
        return TM_REPARTITION_AGGS;
    return TM_REPARTITION_OK;
}
