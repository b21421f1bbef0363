/*
 * murmur2.h: Kafka's default partitioner (the Java client's
 * Utils.murmur2 and DefaultPartitioner / BuiltInPartitioner for a keyed
 * record), so that tidemark routes a group key to the partition a Kafka
 * producer that keys its records by it would choose (SEMANTICS 10).
 */
#ifndef TM_MURMUR2_H
#define TM_MURMUR2_H

#include <stddef.h>
#include <stdint.h>

/* MurmurHash2 (32-bit) of p[0..n) with Kafka's seed 0x9747b28c, bit for
 * bit the Java client's Utils.murmur2 (a Java int: negative values are
 * those with the top bit set). */
int32_t tm_murmur2(const void *p, size_t n);

/* The partition of a key among n_partitions > 0:
 * (murmur2(key) & 0x7fffffff) mod n_partitions, Kafka's toPositive. */
int32_t tm_murmur2_partition(const void *key, size_t n, int32_t n_partitions);

#endif
