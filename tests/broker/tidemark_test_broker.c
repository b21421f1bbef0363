/*
 * tidemark-test-broker: a Kafka test cluster on loopback.
 *
 * Starts librdkafka's mock cluster (made faithful to transactions by
 * tests/broker/patches/) in this process, prints
 *
 *     BOOTSTRAP=127.0.0.1:port,127.0.0.1:port,...
 *
 * as the first line of standard output, and serves until SIGTERM or SIGINT,
 * then exits 0. Bad arguments: a message on standard error and exit 2.
 *
 * Usage: tidemark-test-broker [--brokers N] [--topic NAME:PARTITIONS]...
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define MAX_BROKERS 16
#define MAX_PARTITIONS 10000
#define MAX_TOPICS 256

struct topic_arg {
    char name[250];
    int partitions;
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: tidemark-test-broker [--brokers N] "
            "[--topic NAME:PARTITIONS]...\n"
            "  --brokers N               number of brokers, 1..%d "
            "(default 1)\n"
            "  --topic NAME:PARTITIONS   create a topic, repeatable\n"
            "Prints BOOTSTRAP=host:port,... as the first line of standard "
            "output\nand runs until SIGTERM or SIGINT.\n",
            MAX_BROKERS);
}

/* Reports a usage error; returns the exit code for it, 2. */
static int bad_args(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int bad_args(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "tidemark-test-broker: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    usage(stderr);
    return 2;
}

/* Parses a decimal int in [min, max]; returns -1 on failure. */
static int parse_int(const char *s, int min, int max)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end != '\0' || v < min || v > max)
        return -1;
    return (int)v;
}

/* Kafka topic names: [a-zA-Z0-9._-], 1..249 characters. */
static int valid_topic_name(const char *s, size_t len)
{
    size_t i;

    if (len == 0 || len > 249)
        return 0;
    for (i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

int main(int argc, char **argv)
{
    static struct topic_arg topics[MAX_TOPICS];
    int topic_cnt = 0, brokers = 1, i, sig = 0;
    char errstr[512];
    rd_kafka_conf_t *conf;
    rd_kafka_t *rk;
    rd_kafka_mock_cluster_t *mcluster;
    sigset_t sigs;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--brokers")) {
            if (++i == argc)
                return bad_args("%s needs a value", a);
            brokers = parse_int(argv[i], 1, MAX_BROKERS);
            if (brokers < 0)
                return bad_args("invalid --brokers value: %s", argv[i]);
        } else if (!strcmp(a, "--topic")) {
            const char *colon;
            size_t len;

            if (++i == argc)
                return bad_args("%s needs a value", a);
            if (topic_cnt == MAX_TOPICS)
                return bad_args("too many topics: %s", argv[i]);
            colon = strrchr(argv[i], ':');
            if (!colon)
                return bad_args("--topic expects NAME:PARTITIONS, not %s", argv[i]);
            len = (size_t)(colon - argv[i]);
            if (!valid_topic_name(argv[i], len))
                return bad_args("invalid topic name in %s", argv[i]);
            memcpy(topics[topic_cnt].name, argv[i], len);
            topics[topic_cnt].name[len] = '\0';
            topics[topic_cnt].partitions = parse_int(colon + 1, 1, MAX_PARTITIONS);
            if (topics[topic_cnt].partitions < 0)
                return bad_args("invalid partition count in --topic %s", argv[i]);
            topic_cnt++;
        } else {
            return bad_args("unknown argument: %s", a);
        }
    }

    /* Block the termination signals before any thread is started, so
     * that every librdkafka thread inherits the mask and sigwait()
     * below receives them. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    if (pthread_sigmask(SIG_BLOCK, &sigs, NULL) != 0) {
        fprintf(stderr, "tidemark-test-broker: pthread_sigmask failed\n");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);

    /* The mock cluster lives inside a client handle. */
    conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "client.id", "tidemark-test-broker", errstr, sizeof(errstr)) !=
            RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "tidemark-test-broker: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        return 1;
    }
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!rk) {
        fprintf(stderr, "tidemark-test-broker: %s\n", errstr);
        return 1;
    }

    mcluster = rd_kafka_mock_cluster_new(rk, brokers);
    if (!mcluster) {
        fprintf(stderr, "tidemark-test-broker: failed to create cluster\n");
        rd_kafka_destroy(rk);
        return 1;
    }

    for (i = 0; i < topic_cnt; i++) {
        rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(
            mcluster, topics[i].name, topics[i].partitions, brokers < 3 ? brokers : 3);
        if (err) {
            fprintf(stderr, "tidemark-test-broker: topic %s: %s\n", topics[i].name,
                    rd_kafka_err2str(err));
            rd_kafka_mock_cluster_destroy(mcluster);
            rd_kafka_destroy(rk);
            return 1;
        }
    }

    printf("BOOTSTRAP=%s\n", rd_kafka_mock_cluster_bootstraps(mcluster));
    fflush(stdout);

    while (sig != SIGTERM && sig != SIGINT) {
        if (sigwait(&sigs, &sig) != 0)
            break;
    }

    fprintf(stderr, "tidemark-test-broker: signal %d: shutting down\n", sig);
    rd_kafka_mock_cluster_destroy(mcluster);
    rd_kafka_destroy(rk);
    return 0;
}
