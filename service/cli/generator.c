/*
 * generator.c: see generator.h. The mix, per record: 2% duplicates of one
 * of the last 64 events, 1% malformed (three kinds), 0.5% stamped an hour
 * ahead, 3% late by 3-20 s (some past the allowed lateness of the demo
 * pipeline), the rest up to 1.5 s out of order. Event times alternate
 * between epoch milliseconds and RFC 3339 strings, as mixed clients do.
 */
#include "generator.h"

#include "alloc.h"
#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { RECENT = 64 };

struct tm_generator {
    uint64_t state;
    int32_t partitions;
    int merchants;
    uint64_t next_id;
    char recent[RECENT][200]; /* payloads, for duplicates */
    int recent_merchant[RECENT];
    size_t n_recent;
    char key[32];
    tm_buf payload;
};

static uint64_t next_random(tm_generator *g)
{
    return tm_rand_next(&g->state);
}

static uint64_t below(tm_generator *g, uint64_t n)
{
    return next_random(g) % n;
}

tm_generator *tm_generator_new(uint64_t seed, int32_t partitions, int merchants)
{
    tm_generator *g = tm_xcalloc(1, sizeof *g);
    g->state = seed ? seed : 1;
    g->partitions = partitions;
    g->merchants = merchants;
    return g;
}

void tm_generator_free(tm_generator *g)
{
    if (!g)
        return;
    tm_buf_free(&g->payload);
    free(g);
}

static void put_time(tm_generator *g, int64_t t)
{
    if (below(g, 2)) {
        tm_buf_put_i64(&g->payload, t);
        return;
    }
    time_t secs = (time_t)(t / 1000);
    struct tm utc;
    gmtime_r(&secs, &utc);
    char text[40];
    strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
    tm_buf_printf(&g->payload, "\"%s.%03dZ\"", text, (int)(t % 1000));
}

static void set_key(tm_generator *g, int merchant, tm_generated *out)
{
    int n = snprintf(g->key, sizeof g->key, "m-%03d", merchant);
    out->key = g->key;
    out->key_len = (size_t)n;
    out->partition = (int32_t)(merchant % g->partitions);
}

static void remember(tm_generator *g, int merchant)
{
    size_t slot = g->n_recent++ % RECENT;
    snprintf(g->recent[slot], sizeof g->recent[slot], "%s", g->payload.data);
    g->recent_merchant[slot] = merchant;
}

static void malformed(tm_generator *g, int merchant)
{
    static const char *const tails[] = {
        "\"amount\":",           /* cut off: invalid JSON */
        "\"currency\":\"EUR\"}", /* no event time */
        "\"amount\":\"12,50\"}", /* an amount that is a string */
    };
    tm_buf_printf(&g->payload, "{\"order_id\":\"o-%llu\",\"merchant\":\"m-%03d\",",
                  (unsigned long long)g->next_id++, merchant);
    tm_buf_puts(&g->payload, tails[below(g, 3)]);
}

void tm_generator_next(tm_generator *g, int64_t now_ms, tm_generated *out)
{
    tm_buf_reset(&g->payload);
    uint64_t roll = below(g, 1000);
    if (roll < 20 && g->n_recent > 0) {
        size_t slot = (size_t)below(g, g->n_recent < RECENT ? g->n_recent : RECENT);
        tm_buf_puts(&g->payload, g->recent[slot]);
        set_key(g, g->recent_merchant[slot], out);
    } else {
        int merchant = (int)below(g, (uint64_t)g->merchants) + 1;
        set_key(g, merchant, out);
        if (roll < 30) {
            malformed(g, merchant);
        } else {
            int64_t t = now_ms - (int64_t)below(g, 1500);
            if (roll < 35)
                t = now_ms + 3600 * 1000;
            else if (roll < 65)
                t = now_ms - 3000 - (int64_t)below(g, 17000);
            tm_buf_printf(&g->payload,
                          "{\"order_id\":\"o-%llu\",\"merchant\":\"m-%03d\","
                          "\"amount\":%d.%02d,\"currency\":\"EUR\",\"event_time\":",
                          (unsigned long long)g->next_id++, merchant, 5 + (int)below(g, 245),
                          (int)below(g, 100));
            put_time(g, t);
            tm_buf_putc(&g->payload, '}');
            remember(g, merchant);
        }
    }
    out->payload = g->payload.data;
    out->payload_len = g->payload.len;
}

uint64_t tm_rand_next(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 2685821657736338717ull;
}
