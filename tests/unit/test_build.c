/*
 * test_build.c: the binary links the pinned librdkafka built by
 * deploy/install-deps.sh, not some other copy found on the system.
 *
 * The version is checked both at compile time (the header we built against)
 * and at run time (the shared library the dynamic loader actually picked,
 * through the rpath CMake sets).
 */
#include <criterion/criterion.h>
#include <librdkafka/rdkafka.h>

#define TM_PINNED_RDKAFKA_VERSION 0x020f01ff /* 2.15.1 */

Test(build, rdkafka_header_is_pinned_version)
{
    cr_assert_eq(RD_KAFKA_VERSION, TM_PINNED_RDKAFKA_VERSION, "rdkafka.h is 0x%08x",
                 (unsigned)RD_KAFKA_VERSION);
}

Test(build, rdkafka_runtime_is_pinned_version)
{
    cr_assert_eq(rd_kafka_version(), TM_PINNED_RDKAFKA_VERSION, "librdkafka is %s",
                 rd_kafka_version_str());
    cr_assert_str_eq(rd_kafka_version_str(), "2.15.1");
}

Test(build, rdkafka_has_transactions_and_compression)
{
    /* The service needs the transactional producer (always built) and the
     * codecs configure was asked for; a build that silently lost one would
     * only fail against a real broker. */
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    static const char *const codecs[] = {"gzip", "snappy", "lz4", "zstd"};
    for (size_t i = 0; i < sizeof codecs / sizeof codecs[0]; i++) {
        rd_kafka_conf_res_t res =
            rd_kafka_conf_set(conf, "compression.codec", codecs[i], errstr, sizeof errstr);
        cr_expect_eq(res, RD_KAFKA_CONF_OK, "compression.codec=%s: %s", codecs[i], errstr);
    }
    cr_expect_eq(rd_kafka_conf_set(conf, "security.protocol", "sasl_ssl", errstr, sizeof errstr),
                 RD_KAFKA_CONF_OK, "security.protocol=sasl_ssl: %s", errstr);
    rd_kafka_conf_destroy(conf);
}
