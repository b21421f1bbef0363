/*
 * hash.c: a multiply-fold hash in the style of wyhash: 8 bytes per step,
 * each step a 64x64->128 multiply whose halves are xor-folded.
 */
#include "hash.h"

#include <string.h>

static const uint64_t P0 = 0xa0761d6478bd642full;
static const uint64_t P1 = 0xe7037ed1a0b428dbull;
static const uint64_t P2 = 0x8ebc6af09c88c6e3ull;
static const uint64_t P3 = 0x589965cc75374cc3ull;

static inline uint64_t fold_mul(uint64_t a, uint64_t b)
{
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static inline uint64_t nonzero(uint64_t h)
{
    return h ? h : 1;
}

uint64_t tm_hash64(const void *p, size_t n, uint64_t seed)
{
    const unsigned char *s = p;
    uint64_t h = fold_mul(seed ^ P0, P1) ^ (uint64_t)n;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = fold_mul(w ^ P1, h ^ P2);
        s += 8;
        n -= 8;
    }
    uint64_t tail = 0;
    memcpy(&tail, s, n); /* n < 8 here; the rest of tail stays zero */
    h = fold_mul(tail ^ P3, h ^ P0 ^ (uint64_t)n);
    return nonzero(fold_mul(h, P1 ^ P3));
}

uint64_t tm_hash_combine(uint64_t h, uint64_t v)
{
    return nonzero(fold_mul(h ^ P2, v ^ P3));
}
