/*
 * murmur2.c: see murmur2.h. Unsigned 32-bit arithmetic throughout (Java's
 * int wraps the same way, and its >>> is an unsigned shift); the tail
 * bytes are read as Java reads a byte[] element: signed, then masked to
 * 8 bits, which is the unsigned byte.
 */
#include "murmur2.h"

#include <stddef.h>
#include <stdint.h>

#define MURMUR2_SEED 0x9747b28cu
#define MURMUR2_M 0x5bd1e995u
#define MURMUR2_R 24

int32_t tm_murmur2(const void *p, size_t n)
{
    const unsigned char *b = p;
    /* Java: int h = seed ^ length, with length an int. */
    uint32_t h = MURMUR2_SEED ^ (uint32_t)n;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        /* Little-endian, whatever the host's byte order. */
        uint32_t k = (uint32_t)b[i] | (uint32_t)b[i + 1] << 8 | (uint32_t)b[i + 2] << 16 |
                     (uint32_t)b[i + 3] << 24;
        k *= MURMUR2_M;
        k ^= k >> MURMUR2_R;
        k *= MURMUR2_M;
        h *= MURMUR2_M;
        h ^= k;
    }
    switch (n - i) {
    case 3:
        h ^= (uint32_t)b[i + 2] << 16;
        /* fall through */
    case 2:
        h ^= (uint32_t)b[i + 1] << 8;
        /* fall through */
    case 1:
        h ^= (uint32_t)b[i];
        h *= MURMUR2_M;
    }
    h ^= h >> 13;
    h *= MURMUR2_M;
    h ^= h >> 15;
    /* Two's complement, as Java's int holds it. */
    return (int32_t)(h > INT32_MAX ? (int64_t)h - 4294967296LL : (int64_t)h);
}

int32_t tm_murmur2_partition(const void *key, size_t n, int32_t n_partitions)
{
    uint32_t positive = (uint32_t)tm_murmur2(key, n) & 0x7fffffffu;
    return (int32_t)(positive % (uint32_t)n_partitions);
}
