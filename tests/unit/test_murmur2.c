/*
 * test_murmur2.c: Kafka's default partitioner hash against the Java
 * client's own expectations (UtilsTest.testMurmur2 in Apache Kafka's
 * clients, and further short keys whose hashes Kafka's Utils.murmur2
 * gives), and the partition it picks (toPositive, then modulo).
 */
#include "murmur2.h"

#include <criterion/criterion.h>
#include <librdkafka/rdkafka.h>
#include <stdint.h>
#include <string.h>

typedef struct known {
    const char *key;
    int32_t hash;
} known;

/* UtilsTest.testMurmur2, then the hashes of "1".."12345" that Akka's
 * Kafka-compatible sharding checks against the same function. */
static const known cases[] = {
    {"21", -973932308},
    {"foobar", -790332482},
    {"a-little-bit-long-string", -985981536},
    {"a-little-bit-longer-string", -1486304829},
    {"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
    {"abc", 479470107},
    {"1", -1993445489},
    {"12", 126087238},
    {"123", -267702483},
    {"1234", -1614185708},
    {"12345", -1188365604},
};

Test(murmur2, matches_kafka_utils_murmur2)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_expect_eq(tm_murmur2(cases[i].key, strlen(cases[i].key)), cases[i].hash,
                     "murmur2(\"%s\") = %d, Kafka says %d", cases[i].key,
                     tm_murmur2(cases[i].key, strlen(cases[i].key)), cases[i].hash);
}

/* {'a','b','c'} as a byte array, as UtilsTest passes it. */
Test(murmur2, byte_array_equals_string)
{
    const unsigned char abc[] = {'a', 'b', 'c'};
    cr_assert_eq(tm_murmur2(abc, sizeof abc), 479470107);
}

/* The partition is the hash with its sign bit cleared, modulo the count:
 * Kafka's Utils.toPositive(murmur2(key)) % numPartitions. The hash of
 * "foobar" is negative, so a plain abs() or a signed modulo would differ. */
Test(murmur2, partition_is_to_positive_modulo)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint32_t positive = (uint32_t)cases[i].hash & 0x7fffffffu;
        for (int32_t n = 1; n <= 7; n++)
            cr_expect_eq(tm_murmur2_partition(cases[i].key, strlen(cases[i].key), n),
                         (int32_t)(positive % (uint32_t)n), "key %s over %d partitions",
                         cases[i].key, n);
    }
    /* -790332482 & 0x7fffffff = 1357151166, and 1357151166 mod 3 = 0,
     * whereas -790332482 % 3 would be -2 and |-790332482| % 3 = 2. */
    cr_assert_eq(tm_murmur2_partition("foobar", 6, 3), 0);
}

/* Every length 0-40 (each tail case, several body blocks) of keys with
 * bytes above 0x7f (UTF-8 group keys, which Java reads as negative bytes
 * and masks) and NULs, against librdkafka's murmur2 partitioner, which
 * the Java-compatible "murmur2_random" partitioner uses for keyed
 * records. The empty key is the global group key "". */
Test(murmur2, agrees_with_librdkafka_on_any_bytes)
{
    unsigned char key[40];
    uint32_t x = 12345;
    for (size_t round = 0; round < 50; round++) {
        for (size_t i = 0; i < sizeof key; i++) {
            x = x * 1103515245u + 12345u;
            key[i] = (unsigned char)(x >> 16);
        }
        key[round % sizeof key] = 0xe9;
        key[(round * 7) % sizeof key] = 0;
        for (size_t n = 0; n <= sizeof key; n++)
            for (int32_t parts = 1; parts <= 64; parts *= 4)
                cr_assert_eq(tm_murmur2_partition(key, n, parts),
                             rd_kafka_msg_partitioner_murmur2(NULL, key, n, parts, NULL, NULL),
                             "round %zu, %zu bytes, %d partitions", round, n, parts);
    }
}
