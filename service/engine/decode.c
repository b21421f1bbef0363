/*
 * decode.c: record value -> event, or dead-letter reason (SEMANTICS 2).
 *
 * Pipeline per record, each stage one check of the reason table in order,
 * the first failure wins:
 *
 *   empty_value -> strict JSON check (invalid_json) -> cJSON parse, into
 *   the decoder's arena, of only the top-level members that the pointers
 *   start with (see struct tm_decoder) -> event time -> group key ->
 *   event id -> aggregations
 *
 * Invariants:
 * - Never reads outside value[0..value_len) and needs no NUL terminator.
 *   Deep nesting cannot exhaust the stack: the strict check (json_check.h)
 *   runs first, iteratively, and cJSON only ever sees input it accepted, so
 *   its recursion is bounded by the check's depth limit.
 * - "Valid JSON" means RFC 8259 with two limits from cJSON, checked by
 *   json_check.c rather than by cJSON, which is lenient.
 * - Pointers are compiled once, at open (jsonptr.h). An object with a
 *   duplicate member name resolves to the last one, as in Jackson (Flink),
 *   JavaScript and Python.
 * - No allocation in steady state: cJSON nodes come from a per-decoder bump
 *   arena (json_alloc.h), key and id text go into reused tm_bufs, the member
 *   table is reused, and string keys and ids point straight into the
 *   arena. Everything tm_event points to
 *   lives until the next tm_decode (which resets the arena) or close.
 * - Numbers that overflow a double (1e400 parses as infinity) are never
 *   used: such an event time is invalid_event_time, a key invalid_key, an
 *   id missing_event_id and an aggregation value invalid_field_type.
 *
 * Memory for cJSON: tm_decoder_open installs the process-wide allocation
 * hooks of json_alloc.h, and tm_decode sets the decoder's arena as the
 * thread's current one only while it parses (json_alloc.c lists what the
 * rest of the service must not do to cJSON).
 */
#include "decode.h"

#include <assert.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "err.h"
#include "json_alloc.h"
#include "json_check.h"
#include "jsonptr.h"
#include "rfc3339.h"
#include "utf8.h"

/* How much of a bad event time string a detail quotes. */
#define TM_DETAIL_SNIPPET 64

/* ------------------------------------------------------------------------ */
/* Reason names                                                              */

/* Names from the X-macro table, so that enum and text cannot drift. */
const char *tm_dlq_reason_name(tm_dlq_reason r)
{
    static const char *const names[] = {
#define TM_DLQ_NAME(name, text) text,
        TM_DLQ_REASON_MAP(TM_DLQ_NAME)
#undef TM_DLQ_NAME
    };
    if ((unsigned)r >= (unsigned)TM_DLQ_COUNT_)
        return "unknown";
    return names[r];
}

/* ------------------------------------------------------------------------ */
/* The decoder                                                               */

/* A configured pointer and its slot: the index of its first token among
 * the distinct first tokens of all the decoder's pointers. */
typedef struct dec_ptr {
    tm_jsonptr ptr;
    size_t slot;
} dec_ptr;

/*
 * Parsing only what is needed. Every pointer but "" starts with a member of
 * the record object, and the strict check already found where each member's
 * value lies. So cJSON parses just the values of the members that some
 * pointer starts with (one "slot" per distinct first token), each as a
 * JSON text of its own, and a pointer resolves from its slot's tree with
 * its remaining tokens. Records with unneeded members (most) skip most of
 * cJSON's work. This gives the same result as parsing the whole record,
 * since cJSON parses a value the same wherever it stands, and a member name
 * without a backslash is exactly its raw bytes (it is valid UTF-8 with no
 * NUL, by the check). The whole record is parsed instead when some pointer
 * is "" (the whole document) or some top-level name has an escape.
 */
struct tm_decoder {
    const tm_config *cfg; /* borrowed */
    dec_ptr time;
    dec_ptr *group; /* n_group of them */
    size_t n_group; /* the counts, kept so that close needs no cfg */
    size_t n_aggs;
    dec_ptr id;              /* compiled when dedup is enabled */
    dec_ptr *agg;            /* one per aggregation; empty for count */
    double *values;          /* one per aggregation, handed out in tm_event */
    tm_buf key;              /* composite, number and record keys */
    tm_buf id_text;          /* number ids */
    tm_json_arena arena;     /* cJSON nodes of the current record */
    tm_json_members members; /* top-level members of the current record */

    const tm_jsonptr_token **slot_token; /* first token of each slot */
    const cJSON **slot_node;             /* per record: that member's parsed value */
    size_t n_slots;
    bool whole_doc; /* some pointer is "": always parse the whole record */

    bool sliced;       /* this record was parsed by slots, not whole */
    const cJSON *root; /* the whole record, when not sliced */
};

/* Writes a formatted detail; returns r so that failures are one line. */
__attribute__((format(printf, 4, 5))) static tm_dlq_reason
fail(char *detail, size_t detail_len, tm_dlq_reason r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tm_vformat(detail, detail_len, fmt, ap);
    va_end(ap);
    return r;
}

/* The JSON type of a node, as the details name it. */
static const char *type_name(const cJSON *node)
{
    switch (node->type & 0xFF) {
    case cJSON_False:
    case cJSON_True:
        return "a bool";
    case cJSON_NULL:
        return "null";
    case cJSON_Number:
        return "a number";
    case cJSON_String:
        return "a string";
    case cJSON_Array:
        return "an array";
    case cJSON_Object:
        return "an object";
    default:
        return "an unknown value";
    }
}

/* The pointer as shown in details: "" would vanish in a message. */
static const char *ptr_text(const tm_jsonptr *p)
{
    return p->text[0] ? p->text : "\"\"";
}

/* Object member by name; the last of duplicate names wins (see top). */
static const cJSON *member(const cJSON *obj, const char *name)
{
    const cJSON *found = NULL;
    for (const cJSON *c = obj->child; c; c = c->next) {
        /* The first-byte test skips most strcmp calls. */
        if (c->string[0] == name[0] && strcmp(c->string, name) == 0)
            found = c;
    }
    return found;
}

/* Array element by index; cJSON arrays are lists, so this walks. */
static const cJSON *element(const cJSON *arr, size_t index)
{
    const cJSON *c = arr->child;
    while (c && index-- > 0)
        c = c->next;
    return c;
}

/* RFC 6901 evaluation; NULL when any step does not resolve. A sliced
 * record starts from the pointer's slot, its first token already taken. */
static const cJSON *resolve(const tm_decoder *d, const dec_ptr *dp)
{
    const tm_jsonptr *ptr = &dp->ptr;
    const cJSON *node = d->root;
    size_t i = 0;
    if (d->sliced) {
        assert(ptr->n_tokens > 0 && dp->slot < d->n_slots);
        node = d->slot_node[dp->slot];
        i = 1;
    }
    for (; i < ptr->n_tokens && node; i++) {
        const tm_jsonptr_token *tok = &ptr->tokens[i];
        if (cJSON_IsObject(node))
            node = member(node, tok->name);
        else if (cJSON_IsArray(node) && tok->is_index)
            node = element(node, tok->index);
        else
            node = NULL;
    }
    return node;
}

/* Compiles one configured pointer; what names the option in messages. */
static int compile_ptr(tm_jsonptr *p, const char *text, const char *what, char *errstr,
                       size_t errlen)
{
    if (!text)
        return tm_seterr(errstr, errlen, TM_ECONFIG, "%s: no JSON pointer configured", what);
    char msg[256];
    if (tm_jsonptr_compile(p, text, msg, sizeof msg) != TM_OK)
        return tm_seterr(errstr, errlen, TM_ECONFIG, "%s: %s", what, msg);
    return TM_OK;
}

/* Compiles every pointer of cfg; the decoder is freed by the caller on
 * failure (every field is valid to free at any point). */
static int compile_all(tm_decoder *d, char *errstr, size_t errlen)
{
    const tm_config *cfg = d->cfg;
    int rc = compile_ptr(&d->time.ptr, cfg->event_time_pointer, "input.event_time.pointer", errstr,
                         errlen);
    if (rc == TM_OK && cfg->group_mode == TM_GROUP_POINTER && cfg->n_group_pointers != 1)
        rc = tm_seterr(errstr, errlen, TM_ECONFIG, "input.group_by: expected one pointer");
    if (rc == TM_OK && cfg->group_mode == TM_GROUP_LIST && cfg->n_group_pointers == 0)
        rc = tm_seterr(errstr, errlen, TM_ECONFIG, "input.group_by: empty list");
    bool uses_ptrs = cfg->group_mode == TM_GROUP_POINTER || cfg->group_mode == TM_GROUP_LIST;
    d->n_group = uses_ptrs ? cfg->n_group_pointers : 0;
    d->group = tm_xcalloc(d->n_group, sizeof *d->group);
    for (size_t i = 0; rc == TM_OK && i < d->n_group; i++)
        rc =
            compile_ptr(&d->group[i].ptr, cfg->group_pointers[i], "input.group_by", errstr, errlen);
    if (rc == TM_OK && cfg->dedup_enabled)
        rc = compile_ptr(&d->id.ptr, cfg->event_id_pointer, "input.event_id", errstr, errlen);
    d->n_aggs = cfg->n_aggs;
    d->agg = tm_xcalloc(d->n_aggs, sizeof *d->agg);
    for (size_t i = 0; rc == TM_OK && i < d->n_aggs; i++) {
        if (cfg->aggs[i].op != TM_AGG_COUNT)
            rc = compile_ptr(&d->agg[i].ptr, cfg->aggs[i].pointer, cfg->aggs[i].name, errstr,
                             errlen);
    }
    return rc;
}

/* Gives p the slot of its first token, adding a slot for a new one. */
static void assign_slot(tm_decoder *d, dec_ptr *p)
{
    if (p->ptr.n_tokens == 0) {
        d->whole_doc = true;
        return;
    }
    const tm_jsonptr_token *first = &p->ptr.tokens[0];
    for (p->slot = 0; p->slot < d->n_slots; p->slot++) {
        if (strcmp(d->slot_token[p->slot]->name, first->name) == 0)
            return;
    }
    d->slot_token[d->n_slots++] = first;
}

/* Slots for every pointer a record is read with (see struct tm_decoder).
 * There are at most as many slots as pointers. */
static void assign_slots(tm_decoder *d)
{
    size_t most = 2 + d->n_group + d->n_aggs;
    d->slot_token = tm_xcalloc(most, sizeof *d->slot_token);
    d->slot_node = tm_xcalloc(most, sizeof *d->slot_node);
    assign_slot(d, &d->time);
    for (size_t i = 0; i < d->n_group; i++)
        assign_slot(d, &d->group[i]);
    if (d->cfg->dedup_enabled)
        assign_slot(d, &d->id);
    for (size_t i = 0; i < d->n_aggs; i++) {
        if (d->cfg->aggs[i].op != TM_AGG_COUNT)
            assign_slot(d, &d->agg[i]);
    }
}

int tm_decoder_open(tm_decoder **out, const tm_config *cfg, char *errstr, size_t errlen)
{
    assert(out != NULL && cfg != NULL);
    tm_json_alloc_install();
    tm_decoder *d = tm_xcalloc(1, sizeof *d);
    d->cfg = cfg;
    int rc = compile_all(d, errstr, errlen);
    if (rc != TM_OK) {
        tm_decoder_close(d);
        return rc;
    }
    assign_slots(d);
    d->values = tm_xcalloc(d->n_aggs, sizeof *d->values);
    tm_json_arena_init(&d->arena);
    *out = d;
    return TM_OK;
}

void tm_decoder_close(tm_decoder *d)
{
    if (!d)
        return;
    tm_jsonptr_free(&d->time.ptr);
    for (size_t i = 0; d->group && i < d->n_group; i++)
        tm_jsonptr_free(&d->group[i].ptr);
    free(d->group);
    tm_jsonptr_free(&d->id.ptr);
    for (size_t i = 0; d->agg && i < d->n_aggs; i++)
        tm_jsonptr_free(&d->agg[i].ptr);
    free(d->agg);
    free(d->slot_token);
    free(d->slot_node);
    tm_json_members_free(&d->members);
    free(d->values);
    tm_buf_free(&d->key);
    tm_buf_free(&d->id_text);
    if (d->arena.base)
        tm_json_arena_free(&d->arena);
    free(d);
}

/* ---- event time ---- */

/* The configured format as written in the config, for details. */
static const char *format_name(tm_time_format f)
{
    switch (f) {
    case TM_TIME_EPOCH_MS:
        return "epoch_ms";
    case TM_TIME_EPOCH_S:
        return "epoch_s";
    case TM_TIME_RFC3339:
        return "rfc3339";
    default:
        return "auto";
    }
}

/* -2^63 <= v < 2^63: the doubles that convert to int64 without UB. */
static bool fits_i64(double v)
{
    return v >= -9223372036854775808.0 && v < 9223372036854775808.0;
}

/* epoch_s: the largest n with fl(n / 1000) <= v, fl rounding to the
 * nearest double. Plain floor(v * 1000) is off by one whenever the product
 * rounds down, e.g. 1700000000.123 s is 1700000000.1229999 as a double and
 * v * 1000 = 1700000000122.9998. Since n / 1000 rounds to v exactly when v
 * was written with at most 3 decimals, this is exact for every such text
 * and the floor of the double's value otherwise (it cannot tell apart texts
 * that round to the same double). Starts at floor(v * 1000), which is
 * within one of the answer; beyond 2^53 ms (year 287,000) integers are no
 * longer exact doubles and the floor is kept as is. */
static bool seconds_to_ms(double v, int64_t *out)
{
    double f = floor(v * 1000.0);
    if (!isfinite(v) || !fits_i64(f))
        return false;
    int64_t n = (int64_t)f;
    const int64_t exact = (int64_t)1 << 53;
    if (n > -exact && n < exact - 1) {
        while ((double)(n + 1) / 1000.0 <= v)
            n++;
        while ((double)n / 1000.0 > v)
            n--;
    }
    *out = n;
    return true;
}

/* epoch_ms: floor, so that 1.9 -> 1 and -1.1 -> -2 (SEMANTICS 2). */
static bool millis_to_ms(double v, int64_t *out)
{
    double f = floor(v);
    if (!isfinite(v) || !fits_i64(f))
        return false;
    *out = (int64_t)f;
    return true;
}

/* Quotes at most TM_DETAIL_SNIPPET bytes of s for a detail, cut at a UTF-8
 * character boundary (the text passed the strict check, so it is valid
 * UTF-8) and with control characters replaced: the detail goes into a
 * Kafka header. */
static void snippet(char *out, size_t out_len, const char *s)
{
    size_t n = strnlen(s, TM_DETAIL_SNIPPET + 1);
    bool cut = n > TM_DETAIL_SNIPPET;
    if (cut) {
        n = TM_DETAIL_SNIPPET;
        while (n > 0 && tm_utf8_is_cont((unsigned char)s[n]))
            n--;
    }
    size_t room = out_len - 4; /* "..." and the NUL */
    if (n > room)
        n = room;
    for (size_t i = 0; i < n; i++)
        out[i] = (unsigned char)s[i] < 0x20 ? '?' : s[i];
    memcpy(out + n, cut ? "..." : "", cut ? 4 : 1);
}

/* epoch_ms, epoch_s, or auto with a number. */
static tm_dlq_reason read_time_number(const tm_decoder *d, const cJSON *node, int64_t *t,
                                      char *detail, size_t detail_len)
{
    bool seconds = d->cfg->event_time_format == TM_TIME_EPOCH_S;
    bool ok = seconds ? seconds_to_ms(node->valuedouble, t) : millis_to_ms(node->valuedouble, t);
    if (!ok)
        return fail(detail, detail_len, TM_DLQ_INVALID_EVENT_TIME,
                    "event time %s %.17g is out of range", ptr_text(&d->time.ptr),
                    node->valuedouble);
    return TM_DLQ_NONE;
}

/* rfc3339, or auto with a string. */
static tm_dlq_reason read_time_string(const tm_decoder *d, const cJSON *node, int64_t *t,
                                      char *detail, size_t detail_len)
{
    const char *s = node->valuestring;
    if (tm_rfc3339_parse(s, strlen(s), t) != TM_OK) {
        char quoted[TM_DETAIL_SNIPPET + 4];
        snippet(quoted, sizeof quoted, s);
        return fail(detail, detail_len, TM_DLQ_INVALID_EVENT_TIME,
                    "event time %s '%s' is not RFC 3339", ptr_text(&d->time.ptr), quoted);
    }
    return TM_DLQ_NONE;
}

/* invalid_event_time when the resolved node has the wrong type for the
 * format, or the right type but cannot be read. */
static tm_dlq_reason read_time(const tm_decoder *d, const cJSON *node, int64_t *t, char *detail,
                               size_t detail_len)
{
    tm_time_format fmt = d->cfg->event_time_format;
    bool want_number = fmt == TM_TIME_EPOCH_MS || fmt == TM_TIME_EPOCH_S || fmt == TM_TIME_AUTO;
    bool want_string = fmt == TM_TIME_RFC3339 || fmt == TM_TIME_AUTO;
    if (want_number && cJSON_IsNumber(node))
        return read_time_number(d, node, t, detail, detail_len);
    if (want_string && cJSON_IsString(node))
        return read_time_string(d, node, t, detail, detail_len);
    return fail(detail, detail_len, TM_DLQ_INVALID_EVENT_TIME,
                "event time %s is %s, expected %s (format %s)", ptr_text(&d->time.ptr),
                type_name(node),
                want_number && want_string ? "a number or a string"
                : want_number              ? "a number"
                                           : "a string",
                format_name(fmt));
}

/* ---- group key ---- */

/* SEMANTICS 2: a key part is a string, number or bool; numbers must also
 * be finite to have a JSON text. */
static bool is_key_scalar(const cJSON *node)
{
    return cJSON_IsString(node) || cJSON_IsBool(node) ||
           (cJSON_IsNumber(node) && isfinite(node->valuedouble));
}

/* The invalid_key detail for part i, missing (node NULL) or not a
 * string, finite number or bool. */
static tm_dlq_reason bad_key_part(const tm_decoder *d, size_t i, const cJSON *node, char *detail,
                                  size_t detail_len)
{
    char where[32] = "";
    if (d->cfg->group_mode == TM_GROUP_LIST)
        snprintf(where, sizeof where, "[%zu]", i);
    const char *ptr = ptr_text(&d->group[i].ptr);
    if (!node)
        return fail(detail, detail_len, TM_DLQ_INVALID_KEY, "group_by%s %s not found", where, ptr);
    if (cJSON_IsNumber(node))
        return fail(detail, detail_len, TM_DLQ_INVALID_KEY,
                    "group_by%s %s is a number out of range", where, ptr);
    return fail(detail, detail_len, TM_DLQ_INVALID_KEY,
                "group_by%s %s is %s, expected a string, number or bool", where, ptr,
                type_name(node));
}

/* Appends one part of a composite key as JSON. */
static void put_key_json(tm_buf *b, const cJSON *node)
{
    if (cJSON_IsString(node))
        tm_buf_put_json_string(b, node->valuestring, strlen(node->valuestring));
    else if (cJSON_IsNumber(node))
        tm_buf_put_double(b, node->valuedouble);
    else
        tm_buf_puts(b, cJSON_IsTrue(node) ? "true" : "false");
}

/* A single pointer's key: strings point into the arena, no copy. */
static void single_key(tm_decoder *d, const cJSON *node, tm_event *ev)
{
    if (cJSON_IsString(node)) {
        ev->key = node->valuestring;
        ev->key_len = strlen(node->valuestring);
    } else if (cJSON_IsNumber(node)) {
        tm_buf_reset(&d->key);
        tm_buf_put_double(&d->key, node->valuedouble);
        ev->key = d->key.data;
        ev->key_len = d->key.len;
    } else {
        ev->key = cJSON_IsTrue(node) ? "true" : "false";
        ev->key_len = strlen(ev->key);
    }
}

/* A list of pointers: the compact JSON array text of the parts. */
static tm_dlq_reason list_key(tm_decoder *d, tm_event *ev, char *detail, size_t detail_len)
{
    tm_buf_reset(&d->key);
    tm_buf_putc(&d->key, '[');
    for (size_t i = 0; i < d->n_group; i++) {
        const cJSON *node = resolve(d, &d->group[i]);
        if (!node || !is_key_scalar(node))
            return bad_key_part(d, i, node, detail, detail_len);
        if (i > 0)
            tm_buf_putc(&d->key, ',');
        put_key_json(&d->key, node);
    }
    tm_buf_putc(&d->key, ']');
    ev->key = d->key.data;
    ev->key_len = d->key.len;
    return TM_DLQ_NONE;
}

/* The record key is copied: tm_event's memory belongs to the decoder. It
 * is the group key "as a string" (SEMANTICS 2), and a result carries its
 * group key as a JSON string: bytes that are not UTF-8 have no such text,
 * so they are invalid_key rather than a result no JSON parser reads. */
static tm_dlq_reason record_key(tm_decoder *d, const char *rk, size_t rk_len, tm_event *ev,
                                char *detail, size_t detail_len)
{
    if (rk && !tm_utf8_valid(rk, rk_len))
        return fail(detail, detail_len, TM_DLQ_INVALID_KEY,
                    "group_by $record_key: the record key is not valid UTF-8");
    tm_buf_reset(&d->key);
    tm_buf_append(&d->key, rk ? rk : "", rk ? rk_len : 0);
    ev->key = d->key.data;
    ev->key_len = d->key.len;
    return TM_DLQ_NONE;
}

/* invalid_key, or the group key in ev (SEMANTICS 2). */
static tm_dlq_reason read_key(tm_decoder *d, const char *rk, size_t rk_len, tm_event *ev,
                              char *detail, size_t detail_len)
{
    switch (d->cfg->group_mode) {
    case TM_GROUP_GLOBAL:
        ev->key = "";
        ev->key_len = 0;
        return TM_DLQ_NONE;
    case TM_GROUP_RECORD_KEY:
        return record_key(d, rk, rk_len, ev, detail, detail_len);
    case TM_GROUP_LIST:
        return list_key(d, ev, detail, detail_len);
    case TM_GROUP_POINTER:
    default: {
        const cJSON *node = resolve(d, &d->group[0]);
        if (!node || !is_key_scalar(node))
            return bad_key_part(d, 0, node, detail, detail_len);
        single_key(d, node, ev);
        return TM_DLQ_NONE;
    }
    }
}

/* invalid_key for a group key longer than TM_GROUP_KEY_MAX: every record
 * tidemark writes of its windows (results, changelog) must fit a broker's
 * record limit, and a result's JSON value may hold the key escaped six
 * times over (\u00XX). */
static tm_dlq_reason check_key_size(const tm_event *ev, char *detail, size_t detail_len)
{
    if (ev->key_len <= TM_GROUP_KEY_MAX)
        return TM_DLQ_NONE;
    return fail(detail, detail_len, TM_DLQ_INVALID_KEY,
                "the group key is %zu bytes, more than the %d tidemark takes", ev->key_len,
                TM_GROUP_KEY_MAX);
}

/* ---- event id ---- */

/* missing_event_id, or the id in ev; only called with dedup enabled. */
static tm_dlq_reason read_id(tm_decoder *d, tm_event *ev, char *detail, size_t detail_len)
{
    const char *ptr = ptr_text(&d->id.ptr);
    const cJSON *node = resolve(d, &d->id);
    if (!node)
        return fail(detail, detail_len, TM_DLQ_MISSING_EVENT_ID, "event_id %s not found", ptr);
    if (cJSON_IsString(node)) {
        ev->id = node->valuestring;
        ev->id_len = strlen(node->valuestring);
        return TM_DLQ_NONE;
    }
    if (!cJSON_IsNumber(node))
        return fail(detail, detail_len, TM_DLQ_MISSING_EVENT_ID,
                    "event_id %s is %s, expected a string or number", ptr, type_name(node));
    if (!isfinite(node->valuedouble))
        return fail(detail, detail_len, TM_DLQ_MISSING_EVENT_ID,
                    "event_id %s is a number out of range", ptr);
    /* '#' keeps the number 1 apart from the string "1" (decode.h). */
    tm_buf_reset(&d->id_text);
    tm_buf_putc(&d->id_text, '#');
    tm_buf_put_double(&d->id_text, node->valuedouble);
    ev->id = d->id_text.data;
    ev->id_len = d->id_text.len;
    return TM_DLQ_NONE;
}

/* ---- aggregation values ---- */

/* missing_field / invalid_field_type, aggregation by aggregation in
 * order, or every value in d->values (0 for count). */
static tm_dlq_reason read_values(tm_decoder *d, char *detail, size_t detail_len)
{
    const tm_config *cfg = d->cfg;
    for (size_t i = 0; i < d->n_aggs; i++) {
        d->values[i] = 0;
        if (cfg->aggs[i].op == TM_AGG_COUNT)
            continue;
        const char *name = cfg->aggs[i].name;
        const char *ptr = ptr_text(&d->agg[i].ptr);
        const cJSON *node = resolve(d, &d->agg[i]);
        if (!node)
            return fail(detail, detail_len, TM_DLQ_MISSING_FIELD, "aggregation '%s': %s not found",
                        name, ptr);
        if (!cJSON_IsNumber(node))
            return fail(detail, detail_len, TM_DLQ_INVALID_FIELD_TYPE,
                        "aggregation '%s': %s is %s, expected a number", name, ptr,
                        type_name(node));
        if (!isfinite(node->valuedouble))
            return fail(detail, detail_len, TM_DLQ_INVALID_FIELD_TYPE,
                        "aggregation '%s': %s is a number out of range", name, ptr);
        d->values[i] = node->valuedouble;
    }
    return TM_DLQ_NONE;
}

/* ---- the record ---- */

/* The type of a checked JSON text from its first byte, for the
 * "not an object" detail. */
static const char *json_type_of_first_byte(unsigned char c)
{
    switch (c) {
    case '[':
        return "an array";
    case '"':
        return "a string";
    case 't':
    case 'f':
        return "a bool";
    case 'n':
        return "null";
    default:
        return "a number";
    }
}

/* The last top-level member named like tok (duplicates: the last wins). */
static const tm_json_member *find_member(const tm_json_members *m, const tm_jsonptr_token *tok)
{
    const tm_json_member *found = NULL;
    for (size_t i = 0; i < m->n; i++) {
        if (m->v[i].name_len == tok->len && memcmp(m->v[i].name, tok->name, tok->len) == 0)
            found = &m->v[i];
    }
    return found;
}

/* Powers of ten exactly representable as doubles. */
static const double exact_pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/*
 * Reads a JSON number that the strict check has already validated, without
 * strtod when it can be exact: with a decimal mantissa m <= 2^53 and a
 * power of ten 10^e with |e| <= 22, both are exact doubles, so one IEEE
 * multiplication or division gives the correctly rounded value, the same
 * double strtod returns (Clinger's fast path). Other numbers (long
 * mantissas, large exponents) go to strtod. strtod was most of the cost of
 * decoding a typical record, which has two or three numbers.
 */
static double read_number(const char *s, size_t n)
{
    size_t i = s[0] == '-' ? 1 : 0;
    uint64_t m = 0;
    int digits = 0, exp10 = 0;
    bool fraction = false;
    for (; i < n && s[i] != 'e' && s[i] != 'E'; i++) {
        if (s[i] == '.') {
            fraction = true;
            continue;
        }
        m = m * 10 + (uint64_t)(s[i] - '0');
        exp10 -= fraction;
        if (++digits > 19)
            goto slow; /* m may have wrapped */
    }
    if (i < n) {
        size_t j = i + 1;
        bool neg_exp = s[j] == '-';
        j += s[j] == '-' || s[j] == '+';
        int e = 0;
        for (; j < n; j++) {
            if (e > 1000)
                goto slow;
            e = e * 10 + (s[j] - '0');
        }
        exp10 += neg_exp ? -e : e;
    }
    if (m > ((uint64_t)1 << 53) || exp10 > 22 || exp10 < -22)
        goto slow;
    double v = exp10 >= 0 ? (double)m * exact_pow10[exp10] : (double)m / exact_pow10[-exp10];
    return s[0] == '-' ? -v : v;
slow:;
    char buf[TM_JSON_MAX_NUMBER_LEN + 1]; /* the strict check bounds the length */
    assert(n < sizeof buf);
    memcpy(buf, s, n);
    buf[n] = '\0';
    return strtod(buf, NULL);
}

/*
 * The cJSON node of one top-level member's value, built directly for the
 * common scalars (a number, a string without escapes, a literal) and parsed
 * by cJSON otherwise. The value has passed the strict check. Nodes live in
 * the arena, like everything cJSON allocates during a decode.
 */
static cJSON *member_node(tm_decoder *d, const char *v, size_t n)
{
    switch (v[0]) {
    case '"':
        if (!memchr(v + 1, '\\', n - 2)) {
            char *copy = tm_json_arena_alloc(&d->arena, n - 1);
            memcpy(copy, v + 1, n - 2);
            copy[n - 2] = '\0';
            return cJSON_CreateStringReference(copy);
        }
        break;
    case 't':
        return cJSON_CreateTrue();
    case 'f':
        return cJSON_CreateFalse();
    case 'n':
        return cJSON_CreateNull();
    case '{':
    case '[':
        break;
    default:
        return cJSON_CreateNumber(read_number(v, n));
    }
    return cJSON_ParseWithLength(v, n);
}

/* Parses the value of each slot's member, if the record has it. */
static bool parse_slots(tm_decoder *d)
{
    d->sliced = true;
    d->root = NULL;
    for (size_t s = 0; s < d->n_slots; s++) {
        const tm_json_member *m = find_member(&d->members, d->slot_token[s]);
        d->slot_node[s] = m ? member_node(d, m->value, m->value_len) : NULL;
        if (m && !d->slot_node[s])
            return false;
    }
    return true;
}

/* Parses the whole record, when slots cannot be used. */
static bool parse_whole(tm_decoder *d, const char *value, size_t value_len)
{
    d->sliced = false;
    d->root = cJSON_ParseWithLength(value, value_len);
    return d->root && cJSON_IsObject(d->root);
}

/* empty_value and invalid_json; on success the record is parsed into the
 * decoder's arena, whole or by slots (see struct tm_decoder). */
static tm_dlq_reason parse_value(tm_decoder *d, const char *value, size_t value_len, char *detail,
                                 size_t detail_len)
{
    if (!value)
        return fail(detail, detail_len, TM_DLQ_EMPTY_VALUE, "value is null");
    if (value_len == 0)
        return fail(detail, detail_len, TM_DLQ_EMPTY_VALUE, "value is empty");
    tm_json_check_result jc;
    if (tm_json_check(value, value_len, &d->members, &jc) != TM_OK)
        return fail(detail, detail_len, TM_DLQ_INVALID_JSON, "invalid JSON at byte %zu: %s",
                    jc.err_offset, jc.err);
    if (jc.first != '{')
        return fail(detail, detail_len, TM_DLQ_INVALID_JSON, "value is %s, expected a JSON object",
                    json_type_of_first_byte(jc.first));
    tm_json_arena_reset(&d->arena);
    tm_json_arena_use(&d->arena);
    bool whole = d->whole_doc || jc.escaped_name;
    bool ok = whole ? parse_whole(d, value, value_len) : parse_slots(d);
    tm_json_arena_use(NULL);
    if (!ok) /* not expected after the strict check */
        return fail(detail, detail_len, TM_DLQ_INVALID_JSON, "invalid JSON: rejected by cJSON");
    return TM_DLQ_NONE;
}

tm_dlq_reason tm_decode(tm_decoder *d, const char *record_key_bytes, size_t record_key_len,
                        const char *value, size_t value_len, tm_event *ev, char *detail,
                        size_t detail_len)
{
    assert(d != NULL && ev != NULL);
    if (detail && detail_len > 0)
        detail[0] = '\0';
    tm_event e = {0};
    tm_dlq_reason r = parse_value(d, value, value_len, detail, detail_len);
    if (r != TM_DLQ_NONE)
        return r;

    const cJSON *tnode = resolve(d, &d->time);
    if (!tnode)
        return fail(detail, detail_len, TM_DLQ_MISSING_EVENT_TIME, "event time %s not found",
                    ptr_text(&d->time.ptr));
    r = read_time(d, tnode, &e.t, detail, detail_len);
    if (r == TM_DLQ_NONE)
        r = read_key(d, record_key_bytes, record_key_len, &e, detail, detail_len);
    if (r == TM_DLQ_NONE)
        r = check_key_size(&e, detail, detail_len);
    if (r == TM_DLQ_NONE && d->cfg->dedup_enabled)
        r = read_id(d, &e, detail, detail_len);
    if (r == TM_DLQ_NONE)
        r = read_values(d, detail, detail_len);
    if (r != TM_DLQ_NONE)
        return r;
    e.values = d->values;
    *ev = e;
    return TM_DLQ_NONE;
}
