/*
 * workload.c: see workload.h.
 */
#include "workload.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "generator.h"
#include "murmur2.h"

enum { RECENT = 1024, PAYLOAD_MAX = 256, KEY_MAX = 48 };

/* The pipeline's clock_skew.max_ahead_ms (eos_harness.c): an event time
 * further ahead of its receipt time is read as the receipt time. */
static const int64_t MAX_AHEAD_MS = 60000;

typedef struct gen {
    uint64_t state;
    /* Recent well-formed payloads, for duplicates. */
    char recent[RECENT][PAYLOAD_MAX];
    int recent_merchant[RECENT];
    uint64_t recent_id[RECENT];
    int64_t recent_t[RECENT]; /* event time as written */
    size_t n_recent;
} gen;

/* xorshift64*: small, and the same sequence for a seed on every platform. */
static uint64_t next_random(gen *g)
{
    return tm_rand_next(&g->state);
}

static int64_t below(gen *g, int64_t n)
{
    return (int64_t)(next_random(g) % (uint64_t)n);
}

/* A merchant, 1..m: the square of a uniform draw, so that low numbers are
 * much busier (a few big merchants, a long tail). */
static int pick_merchant(gen *g, int m)
{
    double u = (double)(next_random(g) >> 11) / 9007199254740992.0;
    int i = (int)(u * u * m);
    return (i < m ? i : m - 1) + 1;
}

/* Appends the event time t, as epoch ms or as an RFC 3339 string. */
static int put_time(gen *g, char *buf, size_t len, int64_t t)
{
    if (below(g, 2))
        return snprintf(buf, len, "%lld", (long long)t);
    time_t secs = (time_t)(t / 1000);
    struct tm utc;
    gmtime_r(&secs, &utc);
    char text[40];
    strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
    return snprintf(buf, len, "\"%s.%03dZ\"", text, (int)(t % 1000));
}

/* A well-formed order at event time t. */
static void order(gen *g, char *buf, size_t len, uint64_t seed, uint64_t id, int merchant,
                  int64_t t)
{
    char when[48];
    put_time(g, when, sizeof when, t);
    int amount = 100 + (int)below(g, 49900); /* 1.00 .. 499.99 */
    snprintf(buf, len,
             "{\"order_id\":\"o-%llu-%llu\",\"merchant\":\"m-%03d\",\"amount\":%d.%02d,"
             "\"currency\":\"EUR\",\"event_time\":%s}",
             (unsigned long long)seed, (unsigned long long)id, merchant, amount / 100, amount % 100,
             when);
}

/* Binary bytes: a NUL early on, and bytes that are not UTF-8. */
enum { BINARY_LEN = 200, BINARY_NUL_AT = 8 };

/* A malformed record into buf; returns its length, or -1 for a null
 * value. Its bytes may hold NULs. */
static long malformed(gen *g, char *buf, size_t len, uint64_t seed, uint64_t id, int merchant,
                      int64_t t)
{
    switch (below(g, 6)) {
    case 0: /* cut off: not JSON */
        return snprintf(buf, len,
                        "{\"order_id\":\"o-%llu-%llu\",\"merchant\":\"m-%03d\",\"amount\":",
                        (unsigned long long)seed, (unsigned long long)id, merchant);
    case 1: /* no event time */
        return snprintf(buf, len,
                        "{\"order_id\":\"o-%llu-%llu\",\"merchant\":\"m-%03d\",\"amount\":12.5,"
                        "\"currency\":\"EUR\"}",
                        (unsigned long long)seed, (unsigned long long)id, merchant);
    case 2: /* the amount as a string */
        return snprintf(
            buf, len,
            "{\"order_id\":\"o-%llu-%llu\",\"merchant\":\"m-%03d\",\"amount\":\"12,50\","
            "\"currency\":\"EUR\",\"event_time\":%lld}",
            (unsigned long long)seed, (unsigned long long)id, merchant, (long long)t);
    case 3: { /* a valid order, then a NUL and more: not one JSON text */
        int n = snprintf(buf, len,
                         "{\"order_id\":\"o-%llu-%llu\",\"merchant\":\"m-%03d\",\"amount\":1.5,"
                         "\"currency\":\"EUR\",\"event_time\":%lld}",
                         (unsigned long long)seed, (unsigned long long)id, merchant, (long long)t);
        cr_assert(n > 0 && (size_t)n + 8 <= len);
        memcpy(buf + n, "\0{\"t\":1}", 8);
        return n + 8;
    }
    case 4: /* binary */
        cr_assert(BINARY_LEN <= len);
        for (size_t i = 0; i < BINARY_LEN; i++)
            buf[i] = (char)(0x80 | next_random(g));
        buf[BINARY_NUL_AT] = '\0';
        return BINARY_LEN;
    default: /* a null value */
        return -1;
    }
}

static void remember(gen *g, const char *payload, int merchant, uint64_t id, int64_t t)
{
    size_t slot = g->n_recent++ % RECENT;
    snprintf(g->recent[slot], sizeof g->recent[slot], "%s", payload);
    g->recent_merchant[slot] = merchant;
    g->recent_id[slot] = id;
    g->recent_t[slot] = t;
}

/* The event time t of a record received at ts, as the pipeline reads it. */
static int64_t clamped(int64_t t, int64_t ts)
{
    return t > ts + MAX_AHEAD_MS ? ts : t;
}

/* Writes s[0..n) as a JSON string as kcat -J does: quotes, backslashes and
 * control bytes (NUL included) escaped, every other byte as it is. */
static void put_json_string(FILE *f, const char *s, size_t n)
{
    tm_buf b = {0};
    tm_buf_put_json_string(&b, s, n);
    fwrite(b.data, 1, b.len, f);
    tm_buf_free(&b);
}

void tm_workload_write(const char *path, const tm_workload_options *o, tm_workload_stats *stats)
{
    const int merchants = o->merchants > 0 ? o->merchants : 48;
    const char *topic = o->topic ? o->topic : "orders";
    const int64_t interval = o->interval_ms > 0 ? o->interval_ms : 10;
    const int64_t disorder = o->max_disorder_ms > 0 ? o->max_disorder_ms : 1500;
    int64_t ts = o->start_ms > 0 ? o->start_ms : 1763600000000;
    cr_assert(o->partitions >= 1 && o->partitions <= TM_WORKLOAD_MAX_PARTITIONS,
              "workload: partitions %d out of range", (int)o->partitions);

    gen *g = calloc(1, sizeof *g);
    /* Each merchant's first partition (-1: none yet), and whether it has
     * had records on another. */
    int32_t *first_part = malloc(((size_t)merchants + 1) * sizeof *first_part);
    bool *split = calloc((size_t)merchants + 1, sizeof *split);
    cr_assert(g && first_part && split);
    for (int m = 0; m <= merchants; m++)
        first_part[m] = -1;
    g->state = o->seed * 0x9E3779B97F4A7C15ull + 1;
    tm_workload_stats st = {0};
    int64_t offsets[TM_WORKLOAD_MAX_PARTITIONS] = {0};
    FILE *f = fopen(path, "w");
    cr_assert(f, "workload: cannot write %s: %s", path, strerror(errno));

    char payload[PAYLOAD_MAX], key[KEY_MAX];
    uint64_t id = 0;
    /* The largest event time of the lines so far that carry one, as read
     * (duplicates included: a source task counts them, SEMANTICS 10). */
    int64_t max_t = INT64_MIN;
    st.first_ts = ts;
    for (size_t i = 0; i < o->events; i++) {
        /* Receipt time: strictly increasing, interval on average. */
        if (i > 0)
            ts += 1 + below(g, 2 * interval - 1);
        int64_t roll = below(g, 1000);
        int merchant;
        uint64_t key_id;      /* the order id in the record */
        long payload_len = 0; /* -1: a null value */
        if (roll < 20 && g->n_recent > 0) {
            size_t n = g->n_recent < RECENT ? g->n_recent : RECENT;
            size_t slot = (size_t)below(g, (int64_t)n);
            payload_len = snprintf(payload, sizeof payload, "%s", g->recent[slot]);
            merchant = g->recent_merchant[slot];
            key_id = g->recent_id[slot];
            int64_t t = clamped(g->recent_t[slot], ts);
            max_t = t > max_t ? t : max_t;
            st.duplicates++;
        } else {
            merchant = pick_merchant(g, merchants);
            key_id = id;
            if (roll < 30) {
                payload_len = malformed(g, payload, sizeof payload, o->seed, id++, merchant, ts);
                st.malformed++;
            } else {
                int64_t t;
                if (roll < 35) {
                    t = ts + 3600 * 1000;
                    st.skewed++;
                } else if (roll < 65) {
                    t = ts - 2500 - below(g, 9001);
                    st.late++;
                } else {
                    t = ts - below(g, disorder + 1);
                    st.on_time++;
                }
                order(g, payload, sizeof payload, o->seed, id, merchant, t);
                payload_len = (long)strlen(payload);
                remember(g, payload, merchant, id, t);
                id++;
                int64_t read_t = clamped(t, ts);
                if (max_t != INT64_MIN && max_t - read_t > st.max_behind_ms)
                    st.max_behind_ms = max_t - read_t;
                max_t = read_t > max_t ? read_t : max_t;
            }
        }
        int32_t p;
        if (o->key_by_order) {
            snprintf(key, sizeof key, "o-%llu-%llu", (unsigned long long)o->seed,
                     (unsigned long long)key_id);
            p = tm_murmur2_partition(key, strlen(key), o->partitions);
        } else {
            snprintf(key, sizeof key, "m-%03d", merchant);
            p = (int32_t)(merchant % o->partitions);
        }
        if (first_part[merchant] < 0)
            first_part[merchant] = p;
        else if (first_part[merchant] != p && !split[merchant]) {
            split[merchant] = true;
            st.split_merchants++;
        }
        fprintf(f, "{\"topic\":");
        put_json_string(f, topic, strlen(topic));
        fprintf(f, ",\"partition\":%d,\"offset\":%lld,\"ts\":%lld,\"key\":", (int)p,
                (long long)offsets[p]++, (long long)ts);
        put_json_string(f, key, strlen(key));
        fputs(",\"payload\":", f);
        if (payload_len >= 0)
            put_json_string(f, payload, (size_t)payload_len);
        else
            fputs("null", f);
        fputs("}\n", f);
        st.per_partition[p]++;
        st.lines++;
    }
    st.last_ts = ts;
    cr_assert(fclose(f) == 0, "workload: cannot write %s: %s", path, strerror(errno));
    free(g);
    free(first_part);
    free(split);
    if (stats)
        *stats = st;
}
