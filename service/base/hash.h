/*
 * hash.h: fast non-cryptographic hashing of byte strings.
 *
 * Used for table lookups (64 bits) and for dedup keys, which are held as
 * 128-bit hashes (two independent 64-bit hashes) so that a collision, which
 * would drop a real event as a duplicate, is out of reach in practice
 * (about 2^-64 for a billion keys held at once).
 */
#ifndef TM_HASH_H
#define TM_HASH_H

#include <stddef.h>
#include <stdint.h>

/* 64-bit hash of p[0..n) with a seed; never returns 0 (0 marks an empty
 * table slot).
 *
 * Known weakness, kept on purpose: below 8 bytes the length is mixed in
 * twice and cancels, so "a" and "a\0" hash equal. Nothing depends on it
 * today: tables compare key bytes on a hash match, and a dedup id is a
 * JSON string or number, which cannot hold a NUL (json_check refuses
 * \u0000). Changing the function changes the dedup hashes that changelogs
 * hold, so it needs a new state format, not a quiet fix. */
uint64_t tm_hash64(const void *p, size_t n, uint64_t seed);

/* Mixes a 64-bit value into a hash (for composite keys like key+start). */
uint64_t tm_hash_combine(uint64_t h, uint64_t v);

#endif
