/*
 * fuzz_decode.c: libFuzzer target for tm_decode.
 *
 * The first input byte picks one of three hand-built configurations (time
 * format auto / rfc3339 / epoch_s, with dedup on, a composite or single
 * group_by and sum/avg/min aggregations over nested, escaped and array
 * pointers); the rest is the record value, handed over exactly sized (no
 * NUL after it) so that ASan sees any over-read. Beyond "never crashes",
 * the target checks the decode.h contract on every result.
 *
 * It also compares decode.c's two parse paths: a record is normally parsed
 * by slots (only the members the pointers start with), and whole when a
 * top-level member name holds an escape. For a value starting with '{',
 * the same record with a member "\u0041":0 added in front (a name no
 * pointer starts with) must decode to exactly the same result, through the
 * whole-record path, on a second decoder.
 *
 * Build: `cmake --preset fuzz && cmake --build --preset fuzz` (the target
 * links instrumented copies of the engine, config and base layers only).
 */
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "decode.h"
#include "err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define N_CONFIGS 3

static char *group_list[] = {"/merchant", "/region", "/a~1b/0"};
static char *group_one[] = {"/m~0n"};

static tm_agg_spec aggs_a[] = {
    {"orders", TM_AGG_COUNT, NULL},
    {"gmv", TM_AGG_SUM, "/amount"},
    {"avg_q", TM_AGG_AVG, "/items/0/q"},
};
static tm_agg_spec aggs_b[] = {
    {"lo", TM_AGG_MIN, "/x/-"},
    {"hi", TM_AGG_MAX, "/"}, /* the member named "" */
    {"n", TM_AGG_COUNT, NULL},
};

static tm_config configs[N_CONFIGS];
static tm_decoder *decoders[N_CONFIGS];
static tm_decoder *twins[N_CONFIGS]; /* same configs, for the whole path */

/* Builds the configurations and decoders once per process. */
static void setup(void)
{
    for (int i = 0; i < N_CONFIGS; i++) {
        tm_config *c = &configs[i];
        memset(c, 0, sizeof *c);
        c->dedup_enabled = true;
        c->event_id_pointer = i == 1 ? "/id/~1" : "/id";
        c->event_time_pointer = i == 2 ? "/t/1" : "/ts";
        c->event_time_format = i == 0 ? TM_TIME_AUTO : i == 1 ? TM_TIME_RFC3339 : TM_TIME_EPOCH_S;
        c->group_mode = i == 2 ? TM_GROUP_POINTER : TM_GROUP_LIST;
        c->group_pointers = i == 2 ? group_one : group_list;
        c->n_group_pointers = i == 2 ? 1 : 3;
        c->aggs = i == 1 ? aggs_b : aggs_a;
        c->n_aggs = 3;
        char err[256];
        if (tm_decoder_open(&decoders[i], c, err, sizeof err) != TM_OK ||
            tm_decoder_open(&twins[i], c, err, sizeof err) != TM_OK)
            tm_die("fuzz_decode: %s", err);
    }
}

/* The tm_event contract of decode.h, checked on every success. */
static void check_event(const tm_config *c, const tm_event *ev)
{
    if (!ev->key || (c->dedup_enabled && !ev->id))
        abort();
    /* Touch every byte so ASan checks the ranges are live. */
    volatile char sink = 0;
    for (size_t i = 0; i < ev->key_len; i++)
        sink ^= ev->key[i];
    for (size_t i = 0; i < ev->id_len; i++)
        sink ^= ev->id[i];
    (void)sink;
    for (size_t i = 0; i < c->n_aggs; i++) {
        if (!isfinite(ev->values[i]))
            abort();
        if (c->aggs[i].op == TM_AGG_COUNT && ev->values[i] != 0)
            abort();
    }
}

/* value with "\u0041":0 added as its first member; value[0] is '{'. */
static char *with_escaped_member(const char *value, size_t len, size_t *out_len)
{
    static const char extra[] = "\"\\u0041\":0";
    size_t i = 1;
    while (i < len && (value[i] == ' ' || value[i] == '\t' || value[i] == '\n' || value[i] == '\r'))
        i++;
    bool empty = i < len && value[i] == '}';
    size_t n = len + sizeof extra - 1 + (empty ? 0 : 1);
    char *out = malloc(n);
    if (!out)
        abort();
    out[0] = '{';
    memcpy(out + 1, extra, sizeof extra - 1);
    size_t at = sizeof extra;
    if (!empty)
        out[at++] = ',';
    memcpy(out + at, value + 1, len - 1);
    *out_len = n;
    return out;
}

/* Same reason, and on success the same event, byte for byte. */
static void check_same(const tm_config *c, tm_dlq_reason r1, const tm_event *a, tm_dlq_reason r2,
                       const tm_event *b)
{
    if (r1 != r2)
        abort();
    if (r1 != TM_DLQ_NONE)
        return;
    if (a->t != b->t || a->key_len != b->key_len || memcmp(a->key, b->key, a->key_len) != 0 ||
        a->id_len != b->id_len || (a->id_len && memcmp(a->id, b->id, a->id_len) != 0) ||
        memcmp(a->values, b->values, c->n_aggs * sizeof *a->values) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        setup();
        ready = 1;
    }
    if (size == 0)
        return 0;
    int which = data[0] % N_CONFIGS;
    size_t len = size - 1;
    char *value = malloc(len ? len : 1);
    if (!value)
        abort();
    memcpy(value, data + 1, len);

    tm_event ev;
    char detail[200];
    memset(detail, 'x', sizeof detail);
    tm_dlq_reason r = tm_decode(decoders[which], (const char *)data, size > 4 ? 4 : size, value,
                                len, &ev, detail, sizeof detail);
    if (memchr(detail, '\0', sizeof detail) == NULL)
        abort();
    if (r == TM_DLQ_NONE)
        check_event(&configs[which], &ev);
    else if (r >= TM_DLQ_COUNT_ || r == TM_DLQ_CLOCK_SKEW || detail[0] == '\0')
        abort(); /* every failure explains itself; clock_skew is not decided here */

    if (len > 0 && value[0] == '{') {
        size_t len2;
        char *value2 = with_escaped_member(value, len, &len2);
        tm_event ev2;
        tm_dlq_reason r2 = tm_decode(twins[which], (const char *)data, size > 4 ? 4 : size, value2,
                                     len2, &ev2, detail, sizeof detail);
        check_same(&configs[which], r, &ev, r2, &ev2);
        free(value2);
    }
    free(value);
    return 0;
}
