/*
 * generator.h: realistic order events for `tidemark demo`: mostly on time
 * and a little out of order, some late (a mobile app syncing), some too
 * late, duplicates (at-least-once upstream), malformed records and clients
 * whose clock runs an hour ahead. Deterministic for a seed.
 */
#ifndef TM_GENERATOR_H
#define TM_GENERATOR_H

#include <stddef.h>
#include <stdint.h>

typedef struct tm_generator tm_generator;

/* One record to produce. payload is NULL for a null value. Borrowed from the
 * generator until the next call. */
typedef struct tm_generated {
    int32_t partition;
    const char *key; /* the merchant: records of a merchant share a partition */
    size_t key_len;
    const char *payload;
    size_t payload_len;
} tm_generated;

/* merchants > 0, partitions > 0. */
tm_generator *tm_generator_new(uint64_t seed, int32_t partitions, int merchants);
void tm_generator_free(tm_generator *g);

/* The next record, received at processing time now_ms. */
void tm_generator_next(tm_generator *g, int64_t now_ms, tm_generated *out);

/* The next number of a xorshift64* sequence (*state: non-zero): small,
 * fast and the same for a seed; for workloads and tests, never for anything
 * that must be unpredictable. */
uint64_t tm_rand_next(uint64_t *state);

#endif
