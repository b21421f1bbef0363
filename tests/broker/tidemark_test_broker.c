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
 * Control channel: standard input takes one command a line, and each gets
 * one reply line on standard output, in order:
 *
 *     down <broker_id>   take a broker down (connections closed, listener
 *                        stopped, same port kept)      -> "ok"
 *     up <broker_id>     bring it back                 -> "ok"
 *     fail <api_key> <error_code> <count>
 *                        answer the next <count> requests of that API (on
 *                        any broker) with that Kafka error code, as a broker
 *                        does after it lost state (librdkafka's
 *                        rd_kafka_mock_push_request_errors) -> "ok"
 *
 * Anything else, or a broker id that is not in 1..N, gets "error: <why>".
 * End of file on standard input only ends the control channel: the cluster
 * serves on until SIGTERM or SIGINT.
 *
 * Usage: tidemark-test-broker [--brokers N] [--topic NAME:PARTITIONS]...
 *                             [--message-max-bytes N] [--retention-bytes N]
 *
 * --message-max-bytes: the brokers' message.max.bytes, the default
 * max.message.bytes of topics (Kafka's 1048588 if not given); a record batch
 * over its topic's limit is rejected with MESSAGE_TOO_LARGE.
 * --retention-bytes: the brokers' log.retention.bytes, the most a partition
 * keeps before it drops its oldest batches; -1 (default): everything.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
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

/* What the control thread works on. The lock orders commands against the
 * shutdown: once `closing` is set, no command touches the cluster. */
static struct {
    pthread_mutex_t lock;
    rd_kafka_mock_cluster_t *mcluster;
    int brokers;
    int closing;
} control = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: tidemark-test-broker [--brokers N] "
            "[--topic NAME:PARTITIONS]...\n"
            "                            [--message-max-bytes N] "
            "[--retention-bytes N]\n"
            "  --brokers N               number of brokers, 1..%d "
            "(default 1)\n"
            "  --topic NAME:PARTITIONS   create a topic, repeatable\n"
            "  --message-max-bytes N     brokers' message.max.bytes, the "
            "default topic\n"
            "                            max.message.bytes (default "
            "1048588)\n"
            "  --retention-bytes N       brokers' log.retention.bytes, "
            "bytes kept per\n"
            "                            partition (default -1: "
            "unlimited)\n"
            "Prints BOOTSTRAP=host:port,... as the first line of standard "
            "output\nand runs until SIGTERM or SIGINT. Standard input takes "
            "commands, one a line,\neach answered by a line (ok or error: ...): "
            "down <broker_id>, up <broker_id>.\n",
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

/* Parses a decimal number in [min, max] into *out; returns 0, or -1 on
 * failure. */
static int parse_number(const char *s, long long min, long long max, long long *out)
{
    char *end;
    long long v;

    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || end == s || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* Parses a decimal int in [min, max], min >= 0; returns -1 on failure. */
static int parse_int(const char *s, int min, int max)
{
    long long v;

    return parse_number(s, min, max, &v) ? -1 : (int)v;
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

/* Writes one reply line to standard output, flushed. */
static void reply(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void reply(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    fflush(stdout);
}

/* Splits line into up to max words separated by blanks, in place;
 * returns how many words there were (possibly more than max). */
static int split_words(char *line, char **words, int max)
{
    int n = 0;
    char *p = line;

    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\r')
            *p++ = '\0';
        if (*p == '\0')
            return n;
        if (n < max)
            words[n] = p;
        n++;
        while (*p && *p != ' ' && *p != '\t' && *p != '\r')
            p++;
    }
}

/* `fail <api_key> <error_code> <count>`: the next count requests of the
 * API are answered with the error. */
static void run_fail(char **words)
{
    rd_kafka_resp_err_t errs[16];
    int api = parse_int(words[1], 0, 99), code = parse_int(words[2], 1, 32767),
        count = parse_int(words[3], 1, (int)(sizeof errs / sizeof errs[0]));

    if (api < 0 || code < 0 || count < 0) {
        reply("error: expected 'fail <api_key 0..99> <error_code 1..32767> <count 1..16>'");
        return;
    }
    for (int i = 0; i < count; i++)
        errs[i] = (rd_kafka_resp_err_t)code;
    pthread_mutex_lock(&control.lock);
    if (control.closing) {
        pthread_mutex_unlock(&control.lock);
        reply("error: shutting down");
        return;
    }
    rd_kafka_mock_push_request_errors_array(control.mcluster, (int16_t)api, (size_t)count, errs);
    pthread_mutex_unlock(&control.lock);
    reply("ok");
    fprintf(stderr, "tidemark-test-broker: the next %d request(s) of API %d fail with %s\n", count,
            api, rd_kafka_err2name(errs[0]));
}

/* Runs one control command (a line without its newline) and replies. */
static void run_command(char *line)
{
    char *words[4];
    const char *verb, *arg;
    rd_kafka_resp_err_t err;
    int id, n;

    n = split_words(line, words, 4);
    if (n == 0) {
        reply("error: empty command");
        return;
    }
    verb = words[0];
    arg = n > 1 ? words[1] : NULL;
    if (strcmp(verb, "fail") == 0 && n == 4) {
        run_fail(words);
        return;
    }
    if ((strcmp(verb, "down") != 0 && strcmp(verb, "up") != 0) || n != 2) {
        reply("error: unknown command (expected 'down <broker_id>', 'up <broker_id>' or "
              "'fail <api_key> <error_code> <count>')");
        return;
    }
    id = parse_int(arg, 1, control.brokers);
    if (id < 0) {
        reply("error: no broker %s (ids are 1..%d)", arg, control.brokers);
        return;
    }
    pthread_mutex_lock(&control.lock);
    if (control.closing) {
        pthread_mutex_unlock(&control.lock);
        reply("error: shutting down");
        return;
    }
    err = verb[0] == 'd' ? rd_kafka_mock_broker_set_down(control.mcluster, id)
                         : rd_kafka_mock_broker_set_up(control.mcluster, id);
    pthread_mutex_unlock(&control.lock);
    if (err)
        reply("error: %s", rd_kafka_err2str(err));
    else
        reply("ok");
    fprintf(stderr, "tidemark-test-broker: broker %d %s\n", id, verb);
}

/* The control thread: reads commands from standard input until end of
 * file (which stops only this thread). */
static void *control_main(void *arg)
{
    char line[256];

    (void)arg;
    while (fgets(line, sizeof(line), stdin)) {
        size_t len = strlen(line);

        if (len > 0 && line[len - 1] == '\n') {
            line[--len] = '\0';
        } else if (!feof(stdin)) {
            int c;

            /* Too long: drop the rest of the line, refuse it. */
            while ((c = fgetc(stdin)) != EOF && c != '\n')
                ;
            reply("error: command too long");
            continue;
        }
        run_command(line);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    static struct topic_arg topics[MAX_TOPICS];
    int topic_cnt = 0, brokers = 1, i, sig = 0;
    /* message.max.bytes -1: not given, the mock keeps Kafka's default;
     * log.retention.bytes -1: unlimited, the default. */
    long long message_max_bytes = -1, retention_bytes = -1;
    char errstr[512];
    rd_kafka_conf_t *conf;
    rd_kafka_t *rk;
    rd_kafka_mock_cluster_t *mcluster;
    sigset_t sigs;
    pthread_t control_thread;

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
        } else if (!strcmp(a, "--message-max-bytes")) {
            if (++i == argc)
                return bad_args("%s needs a value", a);
            if (parse_number(argv[i], 0, INT32_MAX, &message_max_bytes))
                return bad_args("invalid --message-max-bytes value: %s", argv[i]);
        } else if (!strcmp(a, "--retention-bytes")) {
            if (++i == argc)
                return bad_args("%s needs a value", a);
            if (parse_number(argv[i], -1, LLONG_MAX, &retention_bytes))
                return bad_args("invalid --retention-bytes value: %s", argv[i]);
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

    if (message_max_bytes >= 0)
        rd_kafka_mock_set_message_max_bytes(mcluster, (int32_t)message_max_bytes);
    rd_kafka_mock_set_retention_bytes(mcluster, retention_bytes);

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

    /* The control channel, started after the BOOTSTRAP line so that every
     * reply follows it. Detached: it may sit in a read of standard input
     * when the process exits. */
    control.mcluster = mcluster;
    control.brokers = brokers;
    if (pthread_create(&control_thread, NULL, control_main, NULL) != 0) {
        fprintf(stderr, "tidemark-test-broker: cannot start the control thread\n");
        rd_kafka_mock_cluster_destroy(mcluster);
        rd_kafka_destroy(rk);
        return 1;
    }
    pthread_detach(control_thread);

    while (sig != SIGTERM && sig != SIGINT) {
        if (sigwait(&sigs, &sig) != 0)
            break;
    }

    fprintf(stderr, "tidemark-test-broker: signal %d: shutting down\n", sig);
    pthread_mutex_lock(&control.lock);
    control.closing = 1;
    pthread_mutex_unlock(&control.lock);
    rd_kafka_mock_cluster_destroy(mcluster);
    rd_kafka_destroy(rk);
    return 0;
}
