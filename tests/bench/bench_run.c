/*
 * bench_run: the live service (`tidemark run`) end to end on the test
 * broker (tests/broker): throughput, then latency. Not a test: run by hand
 * (README "Benchmarks").
 *
 * Phase 1, throughput. The workload of bench_engine (--events N order
 * events, default 1,000,000, over --keys 10,000 merchants; tumbling 60 s
 * windows, 2 s out-of-orderness, 30 s allowed lateness, dedup on; 3% late
 * events, half of them too late; 2% duplicates), keyed by merchant into
 * --partitions 4 input partitions (a merchant's events stay on one
 * partition, in order). The test broker used to keep only about 5 MB per
 * partition (librdkafka's mock cluster dropped the oldest data beyond
 * that); since patch 0004 it keeps whole partitions unless started with
 * --retention-bytes, but the feeder still bounds the unconsumed input, so
 * that the broker's memory stays small. By default an input producer in
 * this process pre-fills each partition up to about 3.5 MB and then keeps
 * it there while the service runs: it never gets
 * more than that ahead of the group's committed offset, which trails what
 * the service has fetched. It reports how much of the time it waited for
 * the service (the service is the bottleneck when it waits; its own CPU is
 * in the bench's CPU figure). --preload produces everything before the
 * service starts instead, and fails if the broker dropped any of it (use
 * it with fewer events or more partitions).
 *
 * Then one `tidemark run` instance (commit_interval_ms 100) starts, and
 * the bench polls, every 10 ms, its log and the group's committed offsets:
 *   - start = the log says "assigned N tasks" (restore done: consumption
 *     starts);
 *   - first = the committed offsets first move (the first checkpoint);
 *   - end = the committed offsets equal the input's end offsets on every
 *     partition (the last checkpoint has committed).
 * Reported: events / (end - start), and (events committed after the first
 * checkpoint) / (end - first); the CPU time the service (and its main
 * thread, the engine's), the broker and the bench used meanwhile; and the
 * records in the output, late and dead-letter topics (read_committed),
 * against an in-process engine run over the same partitioned records, and
 * window by window against the batch result (tally_verdict).
 *
 * --repartition: the same events keyed by order id and spread over the
 * partitions as a Kafka producer would (murmur2 of the key), aggregated by
 * merchant with repartition.mode unset (auto): the service runs paired
 * tasks, source task p forwarding each event through
 * <application_id>-repartition to window task murmur2(merchant) mod R (R =
 * --partitions). Then end = the input's committed offsets at its end
 * offsets and then the repartition topic's at its own (the window tasks
 * have consumed and committed everything: repartition_consumed); the
 * in-process reference is replay's repartitioned pipeline (repartition.h),
 * whose totals of results and late records differ from the service's (its
 * window tasks learn the watermark later), so the windows compare by
 * meaning only. The latency phase repartitions too: an event reaches its
 * result through two commits, the source task's and the window task's.
 *
 * Phase 2, latency. A fresh broker, application and topics (one partition
 * each); window size S (--window-ms, default 1000), max_out_of_orderness
 * 0: event i of one merchant has event time i*S + S/2 (one event per
 * window; event times unrelated to the wall clock), so event i+1 closes
 * window i. Events are produced at --rate per second (default 200) for
 * --seconds (default 20) by a producer with linger.ms=0; a read_committed
 * consumer in a thread of this process records when each window result
 * becomes readable.
 *   latency(i) = readable(result of window i) - append(event i+1)
 * where append is taken two ways, reported side by side: the delivery
 * report's arrival (the broker has appended the record: the latency from
 * it is a slight underestimate) and the send time, just before produce()
 * (before the append: an overestimate). Both differ by the produce round
 * trip, well under a millisecond on loopback.
 *
 * The mock broker answers a Fetch that finds no data after the full
 * fetch.wait.max.ms, never earlier when data arrives (a real broker
 * returns as soon as data arrives): with librdkafka's default 500 ms, every
 * caught-up consumer would add up to 500 ms. The service and the latency
 * consumer therefore run with kafka.fetch.wait.max.ms = --fetch-wait-ms
 * (default 5), which bounds that artefact at 5 ms per hop.
 *
 * Everything (broker, service, load generator) shares the machine's cores.
 * Children are killed and the temporary directory removed on every exit
 * (--keep keeps the directory). --perf FILE records the service process
 * with `perf record` during phase 1.
 *
 * Paths: $TIDEMARK_BINARY and $TIDEMARK_TEST_BROKER, defaulting to the
 * build tree's (compile definitions).
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "broker.h"
#include "buf.h"
#include "config.h"
#include "engine.h"
#include "generator.h"
#include "kafka_io.h"
#include "murmur2.h"
#include "num.h"
#include "proc.h"
#include "repartition.h"
#include "source_task.h"
#include "support.h"

#ifndef TIDEMARK_BINARY_PATH
#define TIDEMARK_BINARY_PATH ""
#endif
#ifndef TIDEMARK_TEST_BROKER_PATH
#define TIDEMARK_TEST_BROKER_PATH ""
#endif

enum {
    POLL_MS = 10,              /* the throughput phase's polling period */
    START_TIMEOUT_MS = 60000,  /* spawn -> "assigned" */
    STOP_TIMEOUT_MS = 30000,   /* SIGTERM -> exit */
    FLUSH_TIMEOUT_MS = 300000, /* preload acknowledged */
    COUNT_TIMEOUT_MS = 120000, /* reading a topic to its end */
    DRAIN_TIMEOUT_MS = 30000   /* latency: last result after the last event */
};

typedef struct options {
    size_t events, keys;
    int partitions, brokers;
    int64_t commit_ms, fetch_wait_ms;
    double rate, seconds;
    int64_t window_ms;
    bool throughput, latency, keep, preload;
    bool repartition; /* input keyed by order id, repartition.mode auto */
    const char *perf; /* perf record output of the throughput phase */
    const char *raw;  /* per-event latency timings */
} options;

/* ---- time, CPU ---- */

static double ms_between(int64_t a_ns, int64_t b_ns)
{
    return (double)(b_ns - a_ns) / 1e6;
}

/* User + system CPU seconds from a /proc stat file; -1 if gone. */
static double stat_cpu_s(const char *path)
{
    char buf[2048];
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    /* After the comm: state(3) ... utime(14) stime(15). */
    unsigned long long ut = 0, st = 0;
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* Of process pid (every thread). */
static double proc_cpu_s(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    return stat_cpu_s(path);
}

/* Of the main thread of process pid (tidemark's runner: the engine). */
static double main_thread_cpu_s(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task/%d/stat", (int)pid, (int)pid);
    return stat_cpu_s(path);
}

static double self_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* Seconds the main thread of process pid has been runnable but waiting
 * for a CPU (the run queue: the machine's cores busy with others), from
 * the scheduler's statistics (the second field of schedstat: ns); -1 if
 * the kernel keeps none. */
static double main_thread_runqueue_s(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task/%d/schedstat", (int)pid, (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    unsigned long long run = 0, wait = 0;
    int got = fscanf(f, "%llu %llu", &run, &wait);
    fclose(f);
    return got == 2 ? (double)wait / 1e9 : -1;
}

typedef struct cpu_snap {
    double service, service_main, service_main_queued, broker, self;
} cpu_snap;

static cpu_snap cpu_now(pid_t service, pid_t broker)
{
    return (cpu_snap){proc_cpu_s(service), main_thread_cpu_s(service),
                      main_thread_runqueue_s(service), proc_cpu_s(broker), self_cpu_s()};
}

/* ---- files and logs ---- */

static void join(char *out, size_t len, const char *a, const char *b)
{
    int n = snprintf(out, len, "%s/%s", a, b);
    if (n < 0 || (size_t)n >= len)
        tm_bench_fail("path too long: %s/%s", a, b);
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    tm_buf b = {0};
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        tm_buf_append(&b, chunk, n);
    fclose(f);
    tm_buf_putc(&b, '\0');
    return b.data;
}

static bool log_contains(const char *path, const char *needle)
{
    char *text = read_file(path);
    bool found = text && strstr(text, needle);
    free(text);
    return found;
}

static void print_log_tail(const char *path, int lines)
{
    char *text = read_file(path);
    if (!text)
        return;
    size_t len = strlen(text);
    const char *p = text + len;
    int seen = 0;
    while (p > text && seen <= lines)
        if (*--p == '\n')
            seen++;
    fprintf(stderr, "---- the end of %s ----\n%s---- end ----\n", path, p == text ? p : p + 1);
    free(text);
}

/* ---- the service ---- */

typedef struct service {
    pid_t pid;
    char log[600];
} service;

static const char *tidemark_binary(void)
{
    const char *bin = getenv("TIDEMARK_BINARY");
    return bin && *bin ? bin : TIDEMARK_BINARY_PATH;
}

static void service_start(service *s, const char *config, const char *id, const char *log)
{
    snprintf(s->log, sizeof s->log, "%s", log);
    char *argv[] = {(char *)tidemark_binary(), "run",      "--config", (char *)config,
                    "--instance-id",           (char *)id, NULL};
    const tm_proc_io io = {.log_path = s->log};
    s->pid = tm_proc_spawn(argv, &io);
    printf("  started: %s run --config %s --instance-id %s (pid %d, log %s)\n", argv[0], config, id,
           (int)s->pid, s->log);
}

static void service_check(const service *s)
{
    int status;
    if (tm_proc_exited(s->pid, &status)) {
        print_log_tail(s->log, 30);
        tm_bench_fail("tidemark run exited by itself: %s", tm_proc_status_str(status));
    }
}

static void service_wait_assigned(const service *s)
{
    int64_t deadline = tm_bench_now_ns() + (int64_t)START_TIMEOUT_MS * 1000000;
    while (!log_contains(s->log, "\"module\":\"runner\",\"msg\":\"assigned ")) {
        tm_bench_check_interrupt();
        service_check(s);
        if (tm_bench_now_ns() > deadline) {
            print_log_tail(s->log, 30);
            tm_bench_fail("tidemark run: no \"assigned\" within %d ms", START_TIMEOUT_MS);
        }
        tm_test_sleep_ms(POLL_MS);
    }
}

static void service_stop(service *s)
{
    int status = 0;
    bool exited = tm_proc_signal_wait(s->pid, SIGTERM, STOP_TIMEOUT_MS, &status);
    if (!exited || !WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
        !log_contains(s->log, "stopped cleanly")) {
        print_log_tail(s->log, 30);
        tm_bench_fail("tidemark run did not stop cleanly: %s",
                      tm_proc_status_str(exited ? status : -1));
    }
    s->pid = 0;
}

/* ---- configuration ---- */

static void write_config(const char *path, const char *app, const char *in, const char *out,
                         const char *late, const char *dlq, const char *window, int64_t ooo_ms,
                         int64_t lateness_ms, int64_t dedup_ttl_ms, const char *state_dir,
                         const char *bootstrap, const options *o)
{
    FILE *f = fopen(path, "w");
    if (!f)
        tm_bench_fail("cannot write %s: %s", path, strerror(errno));
    fprintf(
        f,
        "{\n"
        "  \"application_id\": \"%s\",\n"
        "  \"input\": {\"topics\": [\"%s\"],\n"
        "            \"event_time\": {\"pointer\": \"/event_time\", \"format\": \"epoch_ms\"},\n"
        "            \"group_by\": \"/merchant\", \"event_id\": \"/order_id\"},\n"
        "  \"watermark\": {\"max_out_of_orderness_ms\": %lld, \"idle_timeout_ms\": 0},\n"
        "%s"
        "  \"window\": %s,\n"
        "  \"allowed_lateness_ms\": %lld,\n"
        "  \"aggregations\": [\n"
        "    {\"name\": \"orders\", \"op\": \"count\"},\n"
        "    {\"name\": \"gmv\", \"op\": \"sum\", \"pointer\": \"/amount\"},\n"
        "    {\"name\": \"max_amount\", \"op\": \"max\", \"pointer\": \"/amount\"}\n"
        "  ],\n"
        "  \"dedup\": {\"enabled\": true, \"ttl_ms\": %lld},\n"
        "  \"output\": {\"topic\": \"%s\", \"late_topic\": \"%s\", \"dlq_topic\": \"%s\"},\n"
        "  \"state.dir\": \"%s\",\n"
        "  \"commit_interval_ms\": %lld,\n"
        "  \"metrics.port\": 0,\n"
        "  \"log.level\": \"info\",\n"
        "  \"kafka\": {\n"
        "    \"bootstrap.servers\": \"%s\",\n"
        "    \"fetch.wait.max.ms\": %lld,\n"
        "    \"session.timeout.ms\": 6000,\n"
        "    \"heartbeat.interval.ms\": 1000\n"
        "  }\n"
        "}\n",
        app, in, (long long)ooo_ms,
        /* Unset, repartition.mode is auto: with a pointer as group_by,
         * the service repartitions (SEMANTICS 10). */
        o->repartition ? "" : "  \"repartition\": {\"mode\": \"never\"},\n", window,
        (long long)lateness_ms, (long long)dedup_ttl_ms, out, late, dlq, state_dir,
        (long long)o->commit_ms, bootstrap, (long long)o->fetch_wait_ms);
    if (fclose(f) != 0)
        tm_bench_fail("cannot write %s", path);
}

/* ---- Kafka clients ---- */

static void conf_set(rd_kafka_conf_t *conf, const char *name, const char *value)
{
    char err[256];
    if (rd_kafka_conf_set(conf, name, value, err, sizeof err) != RD_KAFKA_CONF_OK)
        tm_bench_fail("librdkafka: %s=%s: %s", name, value, err);
}

static rd_kafka_t *new_client(rd_kafka_type_t type, rd_kafka_conf_t *conf, const char *bootstrap,
                              const char *const *props)
{
    char err[512];
    conf_set(conf, "bootstrap.servers", bootstrap);
    conf_set(conf, "log_level", "3");
    for (size_t i = 0; props && props[i]; i += 2)
        conf_set(conf, props[i], props[i + 1]);
    rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof err);
    if (!rk)
        tm_bench_fail("rd_kafka_new: %s", err);
    return rk;
}

/* Sum of the log start offsets (low watermarks) of topic's partitions
 * 0..parts-1: records the broker dropped (retention); -1 if it does not
 * answer. */
static int64_t log_start_sum(rd_kafka_t *rk, const char *topic, int parts)
{
    int64_t sum = 0;
    for (int p = 0; p < parts; p++) {
        int64_t lo = 0, hi = 0;
        if (rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 10000))
            return -1;
        sum += lo;
    }
    return sum;
}

/* A record read by scan_topic. */
typedef void (*on_record_fn)(void *ctx, const rd_kafka_message_t *m);

/* Counts the records of topic's partitions 0..parts-1, read with
 * read_committed from the beginning to the last stable offset, and hands
 * each to on_record (NULL: none); *dropped: log_start_sum. */
static size_t scan_topic(const char *bootstrap, const char *topic, int parts, int64_t *dropped,
                         on_record_fn on_record, void *ctx)
{
    static const char *const props[] = {"group.id",
                                        "bench-run-count",
                                        "isolation.level",
                                        "read_committed",
                                        "enable.auto.commit",
                                        "false",
                                        "enable.partition.eof",
                                        "true",
                                        "fetch.wait.max.ms",
                                        "10",
                                        NULL};
    rd_kafka_t *rk = new_client(RD_KAFKA_CONSUMER, rd_kafka_conf_new(), bootstrap, props);
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(parts);
    for (int p = 0; p < parts; p++)
        rd_kafka_topic_partition_list_add(list, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_resp_err_t e = rd_kafka_assign(rk, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (e)
        tm_bench_fail("count %s: assign: %s", topic, rd_kafka_err2str(e));
    *dropped = log_start_sum(rk, topic, parts);
    bool *eof = tm_xcalloc((size_t)parts, sizeof *eof);
    int n_eof = 0;
    size_t count = 0;
    int64_t deadline = tm_bench_now_ns() + (int64_t)COUNT_TIMEOUT_MS * 1000000;
    while (n_eof < parts) {
        tm_bench_check_interrupt();
        if (tm_bench_now_ns() > deadline)
            tm_bench_fail("count %s: not at the end within %d ms", topic, COUNT_TIMEOUT_MS);
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (m->partition >= 0 && m->partition < parts && !eof[m->partition]) {
                eof[m->partition] = true;
                n_eof++;
            }
        } else if (!m->err) {
            count++;
            if (on_record)
                on_record(ctx, m);
        } else if (rd_kafka_fatal_error(rk, NULL, 0)) {
            tm_bench_fail("count %s: %s", topic, rd_kafka_message_errstr(m));
        }
        rd_kafka_message_destroy(m);
    }
    free(eof);
    rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    return count;
}

/* ---- phase 1: throughput ---- */

typedef struct event {
    char *payload;
    uint32_t len;
    int32_t partition;
    int32_t merchant;
    bool duplicate; /* a byte-for-byte copy of an earlier event */
    int64_t offset; /* in its partition */
    int64_t ts;     /* receipt time (CreateTime) */
    int64_t t;      /* event time */
    int64_t cents;  /* the amount in cents */
    char key[16];   /* the record key: "m-NNNNN", or the order id "o-NNNNNNNNNN" (--repartition) */
} event;

/* A fixed seed gives the same workload on every run. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    return tm_rand_next(&rng_state);
}

static double rnd_unit(void)
{
    return (double)(rnd() >> 11) / 9007199254740992.0;
}

enum { WINDOW_MS = 60000, OUT_OF_ORDER_MS = 2000, LATENESS_MS = 30000 };

/*
 * bench_engine's generator: receipt time advances 0.5 ms per record; an
 * on-time event trails it by less than the out-of-orderness bound; 3% are
 * stamped up to 3 s before the start of the window the watermark is in
 * (already fired: about half within the allowed lateness); 2% repeat one
 * of the last 1000 originals byte for byte, with its key (so on its
 * partition, after it). Keyed by merchant, a partition per merchant
 * (merchant mod partitions: a merchant's events stay on one partition, in
 * order); with --repartition keyed by order id and partitioned as a Kafka
 * producer would (murmur2), so a merchant's events are on every partition.
 */
static event *generate(const options *o)
{
    event *ev = tm_xcalloc(o->events, sizeof *ev);
    int64_t *next_offset = tm_xcalloc((size_t)o->partitions, sizeof *next_offset);
    const int64_t base = 1700000000000;
    size_t originals = 0;
    char buf[256];
    for (size_t i = 0; i < o->events; i++) {
        int64_t ts = base + (int64_t)(i / 2);
        double roll = rnd_unit();
        if (roll < 0.02 && originals > 0) {
            size_t back = 1 + rnd() % (originals < 1000 ? originals : 1000);
            ev[i] = ev[i - back];
            ev[i].payload = tm_xstrdup(ev[i - back].payload);
            ev[i].duplicate = true;
        } else {
            int64_t t = ts - (int64_t)(rnd() % OUT_OF_ORDER_MS);
            if (roll < 0.05) {
                int64_t wm = ts - OUT_OF_ORDER_MS;
                t = wm - wm % WINDOW_MS - 1 - (int64_t)(rnd() % 3000);
            }
            size_t merchant = (size_t)(rnd() % o->keys);
            int64_t cents = (int64_t)(rnd() % 100000);
            int n = snprintf(buf, sizeof buf,
                             "{\"order_id\":\"o-%010zu\",\"merchant\":\"m-%05zu\",\"amount\":%.2f,"
                             "\"event_time\":%lld,\"currency\":\"EUR\",\"channel\":\"web\"}",
                             i, merchant, (double)cents / 100.0, (long long)t);
            ev[i] = (event){.payload = tm_xmemdup0(buf, (size_t)n),
                            .len = (uint32_t)n,
                            .merchant = (int32_t)merchant,
                            .t = t,
                            .cents = cents};
            if (o->repartition) {
                /* --events is at most 10^9: ten digits, as in the payload */
                snprintf(ev[i].key, sizeof ev[i].key, "o-%010u", (unsigned)i);
                ev[i].partition =
                    tm_murmur2_partition(ev[i].key, strlen(ev[i].key), (int32_t)o->partitions);
            } else {
                snprintf(ev[i].key, sizeof ev[i].key, "m-%05zu", merchant % 100000);
                ev[i].partition = (int32_t)(merchant % (size_t)o->partitions);
            }
            originals++;
        }
        ev[i].offset = next_offset[ev[i].partition]++;
        ev[i].ts = ts;
    }
    free(next_offset);
    return ev;
}

typedef struct counts {
    uint64_t results, late, dead;
} counts;

static void count_result(void *ctx, int32_t partition, const tm_window_result *r)
{
    (void)partition;
    (void)r;
    ((counts *)ctx)->results++;
}

static void count_late(void *ctx, int32_t partition, const tm_record *rec, int64_t w)
{
    (void)partition;
    (void)rec;
    (void)w;
    ((counts *)ctx)->late++;
}

static void count_dead(void *ctx, const tm_record *rec, tm_dlq_reason why, const char *detail)
{
    (void)rec;
    (void)why;
    (void)detail;
    ((counts *)ctx)->dead++;
}

static tm_record record_of(const event *e, const char *topic)
{
    return (tm_record){.topic = topic,
                       .partition = e->partition,
                       .offset = e->offset,
                       .ts = e->ts,
                       .key = e->key,
                       .key_len = strlen(e->key),
                       .value = e->payload,
                       .value_len = e->len};
}

/* The engine in-process over the same records: without repartitioning,
 * what the service should produce, one engine per partition over them in
 * the same order; with it, replay's two stages (repartition.h) over them
 * in the order generated (the service's window tasks see another order and
 * a later watermark: phase_throughput says what compares). Returns the
 * time in seconds. */
static double reference(const char *config_path, const char *topic, const event *ev,
                        const options *o, counts *out, tm_engine_stats *stats)
{
    char err[512];
    tm_config *cfg = NULL;
    if (tm_config_load(&cfg, config_path, NULL, NULL, 0, err, sizeof err) < 0)
        tm_bench_fail("%s", err);
    *out = (counts){0};
    *stats = (tm_engine_stats){0};
    tm_engine_sink sink = {out, count_result, count_late, count_dead};
    int np = o->partitions;
    double secs;
    if (o->repartition) {
        int32_t *sources = tm_xcalloc((size_t)np, sizeof *sources);
        for (int p = 0; p < np; p++)
            sources[p] = p;
        tm_repartition *rp = NULL;
        if (tm_repartition_open(&rp, cfg, sources, (size_t)np, np, ev[0].ts, err, sizeof err) < 0)
            tm_bench_fail("repartitioned pipeline: %s", err);
        int64_t t0 = tm_bench_now_ns();
        for (size_t i = 0; i < o->events; i++) {
            tm_record r = record_of(&ev[i], topic);
            tm_repartition_process(rp, &r, ev[i].ts, &sink);
        }
        secs = (double)(tm_bench_now_ns() - t0) / 1e9;
        tm_repartition_stats(rp, stats);
        tm_repartition_close(rp);
        free(sources);
    } else {
        tm_engine **e = tm_xcalloc((size_t)np, sizeof *e);
        for (int p = 0; p < np; p++)
            if (tm_engine_open(&e[p], cfg, p, ev[0].ts, err, sizeof err) < 0)
                tm_bench_fail("engine: %s", err);
        int64_t t0 = tm_bench_now_ns();
        for (size_t i = 0; i < o->events; i++) {
            tm_record r = record_of(&ev[i], topic);
            tm_engine_process(e[ev[i].partition], &r, ev[i].ts, &sink);
        }
        secs = (double)(tm_bench_now_ns() - t0) / 1e9;
        for (int p = 0; p < np; p++) {
            const tm_engine_stats *s = tm_engine_stats_of(e[p]);
            stats->accepted += s->accepted;
            stats->late_accepted += s->late_accepted;
            stats->too_late += s->too_late;
            stats->duplicates += s->duplicates;
            tm_engine_close(e[p]);
        }
        free(e);
    }
    tm_config_free(cfg);
    return secs;
}

/* ---- the output by meaning ---- */

/*
 * What each window (merchant, start) of the workload holds and what the
 * service wrote about it. The batch result (SEMANTICS 12) of a window is
 * over its deduplicated events (no duplicate is ever missed here: each
 * follows its original within 1000 events, well inside the dedup TTL);
 * each of them is either in the window's last revision or in the late
 * output, whatever the watermark was when it arrived. That holds for the
 * service with or without repartitioning, while which events are too late,
 * and which revisions there are, depend on when a window task learns the
 * sources' watermarks (live: at their checkpoints; replay: at once).
 */
typedef struct window_tally {
    int64_t events, cents;    /* the deduplicated events in it, their amounts */
    int64_t late, late_cents; /* of them, those in the late output */
    int64_t records;          /* result records */
    int64_t revision, count;  /* the last revision's, if records > 0 */
    double gmv;               /* the last revision's "gmv" */
} window_tally;

typedef struct tally {
    const options *o;
    const event *ev;
    window_tally *w; /* [merchant * n_windows + window index] */
    size_t n_windows;
    int64_t first_start; /* of window index 0 */
    int64_t *fired_end;  /* per output partition: the largest end of a result, 0 none */
    size_t unreadable;   /* records that name no window or event of the workload */
} tally;

static int64_t window_start(int64_t t)
{
    return t - (t % WINDOW_MS + WINDOW_MS) % WINDOW_MS;
}

static void tally_init(tally *ta, const options *o, const event *ev)
{
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (size_t i = 0; i < o->events; i++) {
        int64_t s = window_start(ev[i].t);
        lo = s < lo ? s : lo;
        hi = s > hi ? s : hi;
    }
    *ta = (tally){.o = o,
                  .ev = ev,
                  .n_windows = (size_t)((hi - lo) / WINDOW_MS) + 1,
                  .first_start = lo,
                  .fired_end = tm_xcalloc((size_t)o->partitions, sizeof(int64_t))};
    ta->w = tm_xcalloc(o->keys * ta->n_windows, sizeof *ta->w);
    for (size_t i = 0; i < o->events; i++) {
        if (ev[i].duplicate)
            continue;
        window_tally *w = &ta->w[(size_t)ev[i].merchant * ta->n_windows +
                                 (size_t)((window_start(ev[i].t) - lo) / WINDOW_MS)];
        w->events++;
        w->cents += ev[i].cents;
    }
}

/* The cell of (merchant, start); NULL outside the workload. */
static window_tally *tally_at(tally *ta, int64_t merchant, int64_t start)
{
    if (merchant < 0 || (size_t)merchant >= ta->o->keys || start < ta->first_start ||
        (start - ta->first_start) % WINDOW_MS != 0 ||
        (size_t)((start - ta->first_start) / WINDOW_MS) >= ta->n_windows)
        return NULL;
    return &ta->w[(size_t)merchant * ta->n_windows +
                  (size_t)((start - ta->first_start) / WINDOW_MS)];
}

/* The output partition of a merchant's windows: its input partition's
 * task, or with repartitioning the window task its key routes to. */
static int32_t window_partition(const options *o, size_t merchant)
{
    if (!o->repartition)
        return (int32_t)(merchant % (size_t)o->partitions);
    char key[32];
    int n = snprintf(key, sizeof key, "m-%05zu", merchant);
    return tm_route(key, (size_t)n, (int32_t)o->partitions);
}

/* A result: key "m-NNNNN@<start>", value SEMANTICS 8. */
static void tally_result(void *ctx, const rd_kafka_message_t *m)
{
    tally *ta = ctx;
    char key[64];
    size_t kl = m->key_len < sizeof key - 1 ? m->key_len : sizeof key - 1;
    memcpy(key, m->key ? m->key : "", m->key ? kl : 0);
    key[m->key ? kl : 0] = '\0';
    char *at = strchr(key, '@');
    int64_t merchant = -1, start = 0;
    window_tally *w = NULL;
    if (at && strncmp(key, "m-", 2) == 0) {
        *at = '\0';
        if (tm_parse_i64(key + 2, &merchant) == 0 && tm_parse_i64(at + 1, &start) == 0)
            w = tally_at(ta, merchant, start);
    }
    cJSON *doc = w && m->payload ? cJSON_ParseWithLength(m->payload, m->len) : NULL;
    const cJSON *rev = cJSON_GetObjectItemCaseSensitive(doc, "revision");
    const cJSON *count = cJSON_GetObjectItemCaseSensitive(doc, "count");
    const cJSON *gmv = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(doc, "aggregates"), "gmv");
    if (!cJSON_IsNumber(rev) || !cJSON_IsNumber(count) || !cJSON_IsNumber(gmv) ||
        m->partition < 0 || m->partition >= ta->o->partitions) {
        ta->unreadable++;
    } else {
        if (w->records == 0 || rev->valuedouble > (double)w->revision) {
            w->revision = (int64_t)rev->valuedouble;
            w->count = (int64_t)count->valuedouble;
            w->gmv = gmv->valuedouble;
        }
        w->records++;
        int64_t end = start + WINDOW_MS;
        if (end > ta->fired_end[m->partition])
            ta->fired_end[m->partition] = end;
    }
    cJSON_Delete(doc);
}

/* A late record: the original value, whose order id "o-<i>" is event i. */
static void tally_late(void *ctx, const rd_kafka_message_t *m)
{
    tally *ta = ctx;
    static const char prefix[] = "{\"order_id\":\"o-";
    const size_t pl = sizeof prefix - 1, digits = 10;
    char id[16];
    int64_t i = -1;
    if (m->payload && m->len > pl + digits && memcmp(m->payload, prefix, pl) == 0) {
        memcpy(id, (const char *)m->payload + pl, digits);
        id[digits] = '\0';
        if (tm_parse_i64(id, &i) != 0)
            i = -1;
    }
    const event *e = i >= 0 && (size_t)i < ta->o->events ? &ta->ev[i] : NULL;
    window_tally *w = e && !e->duplicate ? tally_at(ta, e->merchant, window_start(e->t)) : NULL;
    if (!w) {
        ta->unreadable++;
        return;
    }
    w->late++;
    w->late_cents += e->cents;
}

/* Compares, in every window that has fired (its end at most the largest
 * end its output partition emitted: the task's final watermark passed
 * it), the last revision's count and gmv plus the late records' with the
 * batch result, and that its revisions are 0..n-1 once each. Windows
 * beyond are still open at the end (never fired), and not compared.
 * Prints the verdict; returns the windows that differ. */
static size_t tally_verdict(const tally *ta)
{
    size_t fired = 0, open = 0, differ = 0;
    char first[256] = "";
    for (size_t m = 0; m < ta->o->keys; m++) {
        int32_t part = window_partition(ta->o, m);
        for (size_t k = 0; k < ta->n_windows; k++) {
            const window_tally *w = &ta->w[m * ta->n_windows + k];
            int64_t start = ta->first_start + (int64_t)k * WINDOW_MS;
            if (w->events == 0 && w->records == 0 && w->late == 0)
                continue;
            if (w->records == 0 && start + WINDOW_MS > ta->fired_end[part]) {
                open++;
                continue;
            }
            fired++;
            int64_t count = w->records ? w->count : 0;
            int64_t cents = w->records ? llround(w->gmv * 100) : 0;
            bool ok = count + w->late == w->events && cents + w->late_cents == w->cents &&
                      (w->records == 0 || w->records == w->revision + 1);
            if (!ok && differ++ == 0)
                snprintf(first, sizeof first,
                         "m-%05zu@%lld: %lld deduplicated events (%lld cents); %lld result "
                         "records, the last revision %lld: count %lld, gmv %.2f; %lld late (%lld "
                         "cents)",
                         m, (long long)start, (long long)w->events, (long long)w->cents,
                         (long long)w->records, (long long)(w->records ? w->revision : -1),
                         (long long)count, w->records ? w->gmv : 0.0, (long long)w->late,
                         (long long)w->late_cents);
        }
    }
    printf("  by window: %zu fired; in %zu of them the last revision's count and gmv plus the "
           "late records' are the batch result over the deduplicated events, with revisions "
           "0..n-1 once each; %zu still open at the end (not compared); %zu records naming no "
           "window or event of the workload\n",
           fired, fired - differ, open, ta->unreadable);
    if (differ || ta->unreadable)
        printf("  WARNING: %zu windows differ from the batch result%s%s\n", differ,
               differ ? "; the first: " : "", first);
    return differ + ta->unreadable;
}

static void tally_free(tally *ta)
{
    free(ta->w);
    free(ta->fired_end);
}

/*
 * The input producer. Fed whole up front, 1,000,000 events would sit in
 * the test broker's memory (about 160 MB; it used to drop the oldest data
 * beyond 5 MB a partition). So by default the events are fed while the
 * service runs,
 * with each partition's unconsumed data bounded: at most `cap` records
 * produced beyond the group's committed offset (which trails what the
 * service has fetched), about 3.5 MB. The feeder pre-fills up to the
 * bound before the service starts, then keeps it full. With --preload
 * (cap 0) everything is produced before the service starts, and a moved
 * log start offset is an error.
 */
typedef struct feeder {
    const char *bootstrap, *topic;
    const event *ev;
    size_t n;
    int64_t cap;               /* per partition; 0: unbounded */
    _Atomic int64_t *progress; /* per partition: the committed offset (main thread) */
    int64_t *produced;         /* per partition (the feeder's) */
    atomic_size_t sent;
    atomic_size_t failed;
    atomic_bool stop, filled;
    _Atomic int64_t blocked_ns;    /* time spent waiting for the service */
    _Atomic int64_t waiting_since; /* 0: not waiting */
    char error[256];
    double secs;
    pthread_t thread;
} feeder;

static void feeder_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    feeder *f = opaque;
    if (m->err && atomic_fetch_add(&f->failed, 1) == 0)
        snprintf(f->error, sizeof f->error, "%s", rd_kafka_err2str(m->err));
}

static void feed(feeder *f)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_dr_msg_cb(conf, feeder_dr);
    rd_kafka_conf_set_opaque(conf, f);
    static const char *const props[] = {"enable.idempotence",
                                        "true",
                                        "linger.ms",
                                        "10",
                                        "batch.num.messages",
                                        "10000",
                                        "queue.buffering.max.messages",
                                        "500000",
                                        "message.timeout.ms",
                                        "300000",
                                        NULL};
    rd_kafka_t *rk = new_client(RD_KAFKA_PRODUCER, conf, f->bootstrap, props);
    int64_t t0 = tm_bench_now_ns();
    for (size_t i = 0; i < f->n && !atomic_load(&f->stop) && !tm_bench_interrupted(); i++) {
        const event *e = &f->ev[i];
        int32_t p = e->partition;
        if (f->cap > 0 && f->produced[p] - atomic_load(&f->progress[p]) >= f->cap) {
            atomic_store(&f->filled, true);
            int64_t w0 = tm_bench_now_ns();
            atomic_store(&f->waiting_since, w0);
            while (f->produced[p] - atomic_load(&f->progress[p]) >= f->cap &&
                   !atomic_load(&f->stop) && !tm_bench_interrupted())
                rd_kafka_poll(rk, 1);
            atomic_fetch_add(&f->blocked_ns, tm_bench_now_ns() - w0);
            atomic_store(&f->waiting_since, 0);
        }
        for (;;) {
            rd_kafka_resp_err_t err =
                rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(f->topic), RD_KAFKA_V_PARTITION(p),
                                  RD_KAFKA_V_KEY(e->key, strlen(e->key)),
                                  RD_KAFKA_V_VALUE(e->payload, e->len), RD_KAFKA_V_TIMESTAMP(e->ts),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
            if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL && !atomic_load(&f->stop) &&
                !tm_bench_interrupted()) {
                rd_kafka_poll(rk, 5);
                continue;
            }
            if (err && atomic_fetch_add(&f->failed, 1) == 0)
                snprintf(f->error, sizeof f->error, "produce: %s", rd_kafka_err2str(err));
            break;
        }
        f->produced[p]++;
        atomic_store(&f->sent, i + 1);
        if (i % 1024 == 0)
            rd_kafka_poll(rk, 0);
    }
    atomic_store(&f->filled, true);
    int64_t deadline = tm_bench_now_ns() + (int64_t)FLUSH_TIMEOUT_MS * 1000000;
    while (rd_kafka_outq_len(rk) > 0 && !atomic_load(&f->stop) && !tm_bench_interrupted() &&
           tm_bench_now_ns() < deadline)
        rd_kafka_flush(rk, 100);
    if (rd_kafka_outq_len(rk) > 0 && atomic_fetch_add(&f->failed, 1) == 0)
        snprintf(f->error, sizeof f->error, "%d records not acknowledged", rd_kafka_outq_len(rk));
    f->secs = (double)(tm_bench_now_ns() - t0) / 1e9;
    rd_kafka_destroy(rk);
}

static void *feeder_main(void *arg)
{
    feeder *f = arg;
    feed(f);
    return NULL;
}

/* The time the feeder has waited for the service until t. */
static int64_t feeder_blocked_at(feeder *f, int64_t t)
{
    int64_t since = atomic_load(&f->waiting_since);
    return atomic_load(&f->blocked_ns) + (since ? t - since : 0);
}

static void feeder_check(feeder *f)
{
    if (atomic_load(&f->failed) > 0)
        tm_bench_fail("input producer: %zu failures, the first: %s", atomic_load(&f->failed),
                      f->error);
}

static tm_test_broker *start_broker(const options *o, const char *log, const char *const *topics,
                                    size_t n_topics, int parts)
{
    char brokers[16];
    snprintf(brokers, sizeof brokers, "%d", o->brokers);
    const char **args = tm_xcalloc(2 * n_topics + 3, sizeof *args);
    char **specs = tm_xcalloc(n_topics, sizeof *specs);
    size_t a = 0;
    args[a++] = "--brokers";
    args[a++] = brokers;
    for (size_t i = 0; i < n_topics; i++) {
        char spec[300];
        snprintf(spec, sizeof spec, "%s:%d", topics[i], parts);
        specs[i] = tm_xstrdup(spec);
        args[a++] = "--topic";
        args[a++] = specs[i];
    }
    args[a] = NULL;
    tm_test_broker *b = tm_test_broker_start(args, log);
    for (size_t i = 0; i < n_topics; i++)
        free(specs[i]);
    free(specs);
    free(args);
    return b;
}

/* About what one record costs in the test broker's per-partition budget
 * (measured: a 124-byte value without a key takes 159 bytes). */
enum { RECORD_OVERHEAD = 36, RETENTION_BYTES = 5 * 1024 * 1024, FEED_BYTES = 3584 * 1024 };

/* perf: $PERF, else the first `perf` on $PATH, else /usr/bin/perf. */
static const char *perf_binary(void)
{
    static char found[1024];
    const char *env = getenv("PERF");
    if (env && *env)
        return env;
    const char *path = getenv("PATH");
    while (path && *path) {
        const char *colon = strchr(path, ':');
        size_t len = colon ? (size_t)(colon - path) : strlen(path);
        int n = snprintf(found, sizeof found, "%.*s/perf", (int)len, path);
        if (n > 0 && (size_t)n < sizeof found && access(found, X_OK) == 0)
            return found;
        path = colon ? colon + 1 : NULL;
    }
    return "/usr/bin/perf";
}

/* The files and names of one phase, under its own directory. */
typedef struct phase_paths {
    char dir[600], config[700], state[700], broker_log[700], log[700], app[128], changelog[160];
} phase_paths;

static void phase_setup(phase_paths *p, const char *name, const char *app_prefix)
{
    join(p->dir, sizeof p->dir, tm_bench_dir(), name);
    if (mkdir(p->dir, 0755) != 0)
        tm_bench_fail("mkdir %s: %s", p->dir, strerror(errno));
    join(p->config, sizeof p->config, p->dir, "config.json");
    join(p->state, sizeof p->state, p->dir, "state");
    join(p->broker_log, sizeof p->broker_log, p->dir, "broker.log");
    join(p->log, sizeof p->log, p->dir, "tidemark.log");
    snprintf(p->app, sizeof p->app, "%s-%s", app_prefix, strrchr(tm_bench_dir(), '-') + 1);
    snprintf(p->changelog, sizeof p->changelog, "%s-changelog", p->app);
}

/*
 * Whether the window tasks have consumed and committed everything in the
 * repartition topic: no transaction open on it (on every partition the
 * last stable offset is the high watermark), and the group's committed
 * offset at least one below the high watermark. A transaction's records
 * on a partition are followed by its commit marker, which takes an offset
 * but is never delivered: the service commits past it (the high
 * watermark) once its consumer has read it, else the offset after the
 * last record (the marker's, the high watermark - 1). End offsets are
 * read first: a transaction that began since then has not committed.
 */
static bool repartition_consumed(tm_kafka_probe *probe, const char *topic, int n,
                                 int64_t *committed, int64_t *hwm, int64_t *lso)
{
    if (tm_kafka_probe_end_offsets(probe, topic, n, hwm, lso) != 0 ||
        tm_kafka_probe_committed(probe, topic, n, committed) != 0)
        return false;
    for (int r = 0; r < n; r++)
        if (lso[r] != hwm[r] || (hwm[r] > 0 && committed[r] < hwm[r] - 1))
            return false;
    return true;
}

static void phase_throughput(const options *o)
{
    phase_paths paths;
    phase_setup(&paths, "throughput", "bench-tp");
    const char *dir = paths.dir, *config = paths.config, *state = paths.state,
               *broker_log = paths.broker_log, *log = paths.log, *app = paths.app,
               *changelog = paths.changelog;
    const char *in = "orders", *out = "gmv", *late = "orders-late", *dlq = "orders-dlq";
    int np = o->partitions;
    char repartition[200];
    snprintf(repartition, sizeof repartition, "%s-repartition", app);

    printf("\n== throughput: %zu events, %zu keys, %d partitions, tumbling 60 s, "
           "out-of-orderness 2 s, lateness 30 s, dedup on, commit interval %lld ms, %s\n",
           o->events, o->keys, np, (long long)o->commit_ms,
           o->repartition ? "keyed by order id, repartitioned (repartition.mode auto)"
                          : "keyed by merchant (repartition.mode never)");
    fflush(stdout);
    int64_t t0 = tm_bench_now_ns();
    event *ev = generate(o);
    size_t bytes = 0;
    for (size_t i = 0; i < o->events; i++)
        bytes += ev[i].len + strlen(ev[i].key);
    double per_record = (double)bytes / (double)o->events + RECORD_OVERHEAD;
    printf("  generated in %.2f s (%.0f bytes of key and value per event on average)\n",
           (double)(tm_bench_now_ns() - t0) / 1e9, (double)bytes / (double)o->events);

    const char *const topics[] = {in, out, late, dlq, changelog};
    tm_test_broker *broker = start_broker(o, broker_log, topics, 5, np);
    const char *bootstrap = tm_test_broker_bootstrap(broker);
    pid_t broker_pid = tm_test_broker_pid(broker);
    printf("  broker: %d broker(s) at %s (pid %d)\n", o->brokers, bootstrap, (int)broker_pid);
    write_config(config, app, in, out, late, dlq, "{\"type\": \"tumbling\", \"size_ms\": 60000}",
                 OUT_OF_ORDER_MS, LATENESS_MS, 2 * (OUT_OF_ORDER_MS + LATENESS_MS), state,
                 bootstrap, o);

    counts want;
    tm_engine_stats wst;
    double engine_s = reference(config, in, ev, o, &want, &wst);
    printf("  in-process %s over the same partitioned records: %.0f events/s; "
           "%llu accepted (%llu late), %llu too late, %llu duplicates -> %llu results\n",
           o->repartition ? "repartitioned pipeline (replay's: repartition.h)" : "engine",
           (double)o->events / engine_s, (unsigned long long)wst.accepted,
           (unsigned long long)wst.late_accepted, (unsigned long long)wst.too_late,
           (unsigned long long)wst.duplicates, (unsigned long long)want.results);

    int64_t *end = tm_xcalloc((size_t)np, sizeof *end);
    for (size_t i = 0; i < o->events; i++)
        end[ev[i].partition]++;
    feeder f = {.bootstrap = bootstrap,
                .topic = in,
                .ev = ev,
                .n = o->events,
                .cap = o->preload ? 0 : (int64_t)((double)FEED_BYTES / per_record),
                .progress = tm_xcalloc((size_t)np, sizeof(_Atomic int64_t)),
                .produced = tm_xcalloc((size_t)np, sizeof(int64_t))};
    for (int p = 0; p < np; p++)
        atomic_init(&f.progress[p], 0);
    atomic_init(&f.sent, 0);
    atomic_init(&f.failed, 0);
    atomic_init(&f.stop, false);
    atomic_init(&f.filled, false);
    atomic_init(&f.blocked_ns, 0);
    atomic_init(&f.waiting_since, 0);
    tm_kafka_probe *probe = tm_kafka_probe_new(bootstrap, app);
    if (o->preload) {
        feed(&f);
        tm_bench_check_interrupt();
        feeder_check(&f);
        printf("  preloaded into '%s' in %.2f s (%.0f records/s)\n", in, f.secs,
               (double)o->events / f.secs);
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_t *rk = new_client(RD_KAFKA_CONSUMER, conf, bootstrap, NULL);
        int64_t dropped = log_start_sum(rk, in, np);
        rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
        if (dropped != 0)
            tm_bench_fail(
                "the test broker dropped the first %lld records of '%s' (it keeps about %d MB "
                "per partition): use fewer --events, more --partitions, or no --preload",
                (long long)dropped, in, RETENTION_BYTES >> 20);
    } else {
        int rc = pthread_create(&f.thread, NULL, feeder_main, &f);
        if (rc != 0)
            tm_bench_fail("pthread_create: %s", strerror(rc));
        int64_t deadline = tm_bench_now_ns() + (int64_t)FLUSH_TIMEOUT_MS * 1000000;
        while (!atomic_load(&f.filled)) {
            tm_bench_check_interrupt();
            if (tm_bench_now_ns() > deadline)
                tm_bench_fail("the input producer did not fill its window in time");
            tm_test_sleep_ms(POLL_MS);
        }
        feeder_check(&f);
        printf("  feeding '%s' while the service runs, at most %lld records per partition "
               "beyond the committed offset (about %.1f MB; the test broker keeps about %d MB "
               "per partition); %zu produced before the start\n",
               in, (long long)f.cap, (double)f.cap * per_record / 1048576.0, RETENTION_BYTES >> 20,
               atomic_load(&f.sent));
    }
    fflush(stdout);

    service svc;
    int64_t t_spawn = tm_bench_now_ns();
    service_start(&svc, config, "bench", log);
    pid_t perf = 0;
    if (o->perf) {
        char pid_s[16], perf_log[700];
        snprintf(pid_s, sizeof pid_s, "%d", (int)svc.pid);
        join(perf_log, sizeof perf_log, dir, "perf.log");
        char *argv[] = {
            (char *)perf_binary(), "record", "-F",  "999", "--call-graph", "dwarf,16384", "-o",
            (char *)o->perf,       "-p",     pid_s, NULL};
        const tm_proc_io io = {.log_path = perf_log};
        perf = tm_proc_spawn(argv, &io);
        printf("  %s record -F 999 --call-graph dwarf,16384 -o %s -p %s (pid %d)\n", argv[0],
               o->perf, pid_s, (int)perf);
    }
    fflush(stdout);

    /* Poll: the log for "assigned", then the committed offsets (with
     * repartitioning, the repartition topic's too, once the input's are at
     * its end). */
    int64_t *committed = tm_xcalloc((size_t)np, sizeof *committed);
    int64_t *rp_committed = tm_xcalloc((size_t)np, sizeof *rp_committed);
    int64_t *rp_hwm = tm_xcalloc((size_t)np, sizeof *rp_hwm);
    int64_t *rp_lso = tm_xcalloc((size_t)np, sizeof *rp_lso);
    int64_t budget_ms = 120000 + (int64_t)(o->events / 5); /* at least 5k events/s */
    int64_t deadline = t_spawn + budget_ms * 1000000;
    int64_t t_assigned = 0, t_first = 0, t_input = 0, t_end = 0, first_sum = 0, blocked0 = 0,
            blocked1 = 0;
    cpu_snap c0 = {0}, c1 = {0};
    while (!t_end) {
        tm_bench_check_interrupt();
        service_check(&svc);
        feeder_check(&f);
        int64_t now = tm_bench_now_ns();
        if (now > deadline) {
            print_log_tail(svc.log, 20);
            if (t_input)
                for (int r = 0; r < np; r++)
                    fprintf(stderr,
                            "bench_run: %s [%d]: committed %lld, high watermark %lld, last stable "
                            "offset %lld\n",
                            repartition, r, (long long)rp_committed[r], (long long)rp_hwm[r],
                            (long long)rp_lso[r]);
            tm_bench_fail("not done within %lld ms of the start", (long long)budget_ms);
        }
        if (!t_assigned) {
            if (log_contains(svc.log, "\"module\":\"runner\",\"msg\":\"assigned ")) {
                t_assigned = now;
                c0 = cpu_now(svc.pid, broker_pid);
                blocked0 = feeder_blocked_at(&f, now);
            }
        } else if (tm_kafka_probe_committed(probe, in, np, committed) == 0) {
            int64_t sum = 0;
            bool done = true;
            for (int p = 0; p < np; p++) {
                sum += committed[p] > 0 ? committed[p] : 0;
                done = done && committed[p] == end[p];
                if (committed[p] > 0)
                    atomic_store(&f.progress[p], committed[p]);
            }
            int64_t at = tm_bench_now_ns();
            if (!t_first && sum > 0) {
                t_first = at;
                first_sum = sum;
            }
            if (done && !t_input)
                t_input = at;
            if (done && o->repartition)
                done = repartition_consumed(probe, repartition, np, rp_committed, rp_hwm, rp_lso);
            if (done) {
                t_end = tm_bench_now_ns();
                c1 = cpu_now(svc.pid, broker_pid);
                blocked1 = feeder_blocked_at(&f, t_end);
                break;
            }
        }
        tm_test_sleep_ms(POLL_MS);
    }
    int64_t blocked_ns = blocked1 - blocked0;
    if (!o->preload) {
        pthread_join(f.thread, NULL);
        feeder_check(&f);
    }
    if (perf) {
        int status;
        if (!tm_proc_signal_wait(perf, SIGINT, 60000, &status))
            fprintf(stderr, "bench_run: perf did not stop in time (killed)\n");
    }
    service_stop(&svc);

    int64_t drop_in = 0, drop_out = 0, drop_late = 0, drop_dlq = 0;
    tally ta;
    tally_init(&ta, o, ev);
    size_t got_in = o->preload ? scan_topic(bootstrap, in, np, &drop_in, NULL, NULL) : 0;
    size_t got_results = scan_topic(bootstrap, out, np, &drop_out, tally_result, &ta);
    size_t got_late = scan_topic(bootstrap, late, np, &drop_late, tally_late, &ta);
    size_t got_dead = scan_topic(bootstrap, dlq, np, &drop_dlq, NULL, NULL);
    tm_kafka_probe_free(probe);
    tm_test_broker_stop(broker);

    double run_s = (double)(t_end - t_assigned) / 1e9;
    double steady_s = (double)(t_end - t_first) / 1e9;
    printf("  startup (spawn -> \"assigned\"): %.0f ms\n", ms_between(t_spawn, t_assigned));
    printf("  first checkpoint committed %.0f ms after \"assigned\" (%lld events)\n",
           ms_between(t_assigned, t_first), (long long)first_sum);
    printf("THROUGHPUT  %.0f events/s  (%zu events, \"assigned\" -> last checkpoint committed: "
           "%.3f s)\n",
           (double)o->events / run_s, o->events, run_s);
    if (steady_s > 0)
        printf("            %.0f events/s  from the first checkpoint on (%lld events in %.3f s)\n",
               (double)((int64_t)o->events - first_sum) / steady_s,
               (long long)((int64_t)o->events - first_sum), steady_s);
    if (o->repartition)
        printf("            the input committed (the source tasks done) %.3f s after \"assigned\", "
               "the repartition topic consumed and committed (the window tasks done) %.0f ms "
               "later\n",
               (double)(t_input - t_assigned) / 1e9, ms_between(t_input, t_end));
    printf("  CPU meanwhile (of %.3f s wall, %ld cores): tidemark %.2f s (%.0f%% of a core; its "
           "main thread, the engine's, %.0f%%), broker %.2f s (%.0f%%), bench %.2f s (%.0f%%, "
           "the input producer included)\n",
           run_s, sysconf(_SC_NPROCESSORS_ONLN), c1.service - c0.service,
           100 * (c1.service - c0.service) / run_s,
           100 * (c1.service_main - c0.service_main) / run_s, c1.broker - c0.broker,
           100 * (c1.broker - c0.broker) / run_s, c1.self - c0.self,
           100 * (c1.self - c0.self) / run_s);
    /* What the main thread did when it was not running: queued for a
     * core, or blocked (in a poll with nothing to read, or waiting on the
     * broker in a commit). */
    double queued = c1.service_main_queued - c0.service_main_queued;
    if (c0.service_main_queued >= 0 && c1.service_main_queued >= 0)
        printf("  tidemark's main thread: on a core %.0f%% of the time, runnable but waiting for "
               "a core %.0f%%, blocked %.0f%% (polling an empty queue, or waiting on the broker "
               "in a commit)\n",
               100 * (c1.service_main - c0.service_main) / run_s, 100 * queued / run_s,
               100 * (run_s - (c1.service_main - c0.service_main) - queued) / run_s);
    if (!o->preload)
        printf("  the input producer waited for the service %.0f%% of the time (100%%: the "
               "service is the bottleneck, never starved)\n",
               100 * (double)blocked_ns / (double)(t_end - t_assigned));
    printf("  output (read_committed): %zu results in '%s' (%s %llu), %zu in '%s' "
           "(%s %llu), %zu in '%s' (expected %llu)\n",
           got_results, out, o->repartition ? "replay's" : "expected",
           (unsigned long long)want.results, got_late, late,
           o->repartition ? "replay's" : "expected", (unsigned long long)want.late, got_dead, dlq,
           (unsigned long long)want.dead);
    if (o->repartition)
        printf("  (a window task learns a source's watermark at the source's checkpoints, up to "
               "a commit interval (here tens of thousands of events) after replay would: it fires "
               "later, revises and judges events too late at other moments than replay, so results "
               "and "
               "late records do not compare as totals; the windows compare by meaning:)\n");
    size_t differ = tally_verdict(&ta);
    tally_free(&ta);
    for (size_t i = 0; i < o->events; i++)
        free(ev[i].payload);
    free(ev);
    if (o->preload)
        printf("  input read back: %zu records\n", got_in);
    if (drop_in || drop_out || drop_late || drop_dlq)
        printf("  WARNING: the test broker dropped records (retention): %lld of '%s', %lld of "
               "'%s', %lld of '%s', %lld of '%s'\n",
               (long long)drop_in, in, (long long)drop_out, out, (long long)drop_late, late,
               (long long)drop_dlq, dlq);
    bool totals_differ = o->repartition
                             ? (int64_t)got_dead + drop_dlq != (int64_t)want.dead
                             : (int64_t)got_results + drop_out != (int64_t)want.results ||
                                   (int64_t)got_late + drop_late != (int64_t)want.late ||
                                   (int64_t)got_dead + drop_dlq != (int64_t)want.dead;
    if (totals_differ || differ)
        printf("  WARNING: the output differs from the in-process engine's\n");
    fflush(stdout);
    free(end);
    free(committed);
    free(rp_committed);
    free(rp_hwm);
    free(rp_lso);
    free(f.progress);
    free(f.produced);
}

/* ---- phase 2: latency ---- */

static const int64_t LAT_BASE = 1700000000000;
static const char *const LAT_KEY = "m-00042";

typedef struct lat_consumer {
    const char *bootstrap, *topic;
    int64_t window_ms, fetch_wait_ms;
    size_t n;              /* windows 0..n-1 */
    int64_t *readable_ns;  /* per window: when its result was first read; 0 none */
    atomic_size_t results; /* distinct windows read */
    atomic_size_t others;  /* records that are not a first result */
    atomic_bool stop;
    atomic_bool failed;
    char error[256];
    pthread_t thread;
} lat_consumer;

static void *lat_consume(void *arg)
{
    lat_consumer *c = arg;
    char fw[24];
    snprintf(fw, sizeof fw, "%lld", (long long)c->fetch_wait_ms);
    const char *const props[] = {"group.id",
                                 "bench-run-latency",
                                 "isolation.level",
                                 "read_committed",
                                 "enable.auto.commit",
                                 "false",
                                 "fetch.wait.max.ms",
                                 fw,
                                 "fetch.error.backoff.ms",
                                 "5",
                                 NULL};
    rd_kafka_t *rk = new_client(RD_KAFKA_CONSUMER, rd_kafka_conf_new(), c->bootstrap, props);
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, c->topic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_resp_err_t e = rd_kafka_assign(rk, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (e) {
        snprintf(c->error, sizeof c->error, "assign: %s", rd_kafka_err2str(e));
        atomic_store(&c->failed, true);
    }
    size_t prefix = strlen(LAT_KEY) + 1;
    while (!e && !atomic_load(&c->stop)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 50);
        if (!m)
            continue;
        int64_t t = tm_bench_now_ns();
        if (m->err) {
            if (rd_kafka_fatal_error(rk, NULL, 0)) {
                snprintf(c->error, sizeof c->error, "%s", rd_kafka_message_errstr(m));
                atomic_store(&c->failed, true);
                rd_kafka_message_destroy(m);
                break;
            }
        } else {
            /* Key "<LAT_KEY>@<window start>". */
            char key[64];
            size_t kl = m->key_len < sizeof key - 1 ? m->key_len : sizeof key - 1;
            memcpy(key, m->key ? m->key : "", m->key ? kl : 0);
            key[m->key ? kl : 0] = '\0';
            int64_t start = 0;
            bool ours = strlen(key) > prefix && strncmp(key, LAT_KEY, prefix - 1) == 0 &&
                        key[prefix - 1] == '@' && tm_parse_i64(key + prefix, &start) == 0 &&
                        start >= LAT_BASE && (start - LAT_BASE) % c->window_ms == 0;
            size_t i = ours ? (size_t)((start - LAT_BASE) / c->window_ms) : SIZE_MAX;
            if (i < c->n && c->readable_ns[i] == 0) {
                c->readable_ns[i] = t;
                atomic_fetch_add(&c->results, 1);
            } else {
                atomic_fetch_add(&c->others, 1);
            }
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    return NULL;
}

typedef struct lat_producer {
    int64_t *ack_ns;
    atomic_size_t acked, failed;
    char error[256];
} lat_producer;

static void lat_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    lat_producer *p = opaque;
    int64_t t = tm_bench_now_ns();
    size_t i = (size_t)(uintptr_t)m->_private;
    if (m->err) {
        if (atomic_fetch_add(&p->failed, 1) == 0)
            snprintf(p->error, sizeof p->error, "%s", rd_kafka_err2str(m->err));
        return;
    }
    p->ack_ns[i] = t;
    atomic_fetch_add(&p->acked, 1);
}

/* Nearest-rank percentile of sorted v[0..n-1]. */
static double percentile(const double *v, size_t n, double q)
{
    size_t rank = (size_t)ceil(q * (double)n);
    return v[rank > 0 ? rank - 1 : 0];
}

static void report_latency(const char *what, double *v, size_t n)
{
    qsort(v, n, sizeof *v, tm_bench_cmp_double);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += v[i];
    printf("  from %-28s p50 %6.1f ms  p90 %6.1f ms  p99 %6.1f ms  max %6.1f ms  "
           "(min %.1f, mean %.1f, n %zu)\n",
           what, percentile(v, n, 0.50), percentile(v, n, 0.90), percentile(v, n, 0.99), v[n - 1],
           v[0], sum / (double)n, n);
}

static void phase_latency(const options *o)
{
    phase_paths paths;
    phase_setup(&paths, "latency", "bench-lat");
    const char *config = paths.config, *state = paths.state, *broker_log = paths.broker_log,
               *log = paths.log, *app = paths.app, *changelog = paths.changelog;
    const char *in = "lat-orders", *out = "lat-gmv", *late = "lat-late", *dlq = "lat-dlq";
    size_t n = (size_t)llround(o->rate * o->seconds);
    if (n < 2)
        tm_bench_fail("--rate x --seconds must give at least 2 events");

    printf("\n== latency: %zu events at %.0f/s (%.1f s), one per %lld ms window "
           "(max_out_of_orderness 0), 1 partition, commit interval %lld ms, "
           "fetch.wait.max.ms %lld, %s\n",
           n, o->rate, o->seconds, (long long)o->window_ms, (long long)o->commit_ms,
           (long long)o->fetch_wait_ms,
           o->repartition ? "repartitioned (repartition.mode auto)" : "repartition.mode never");
    const char *const topics[] = {in, out, late, dlq, changelog};
    tm_test_broker *broker = start_broker(o, broker_log, topics, 5, 1);
    const char *bootstrap = tm_test_broker_bootstrap(broker);
    char window[96];
    snprintf(window, sizeof window, "{\"type\": \"tumbling\", \"size_ms\": %lld}",
             (long long)o->window_ms);
    write_config(config, app, in, out, late, dlq, window, 0, 0, 60000, state, bootstrap, o);

    lat_consumer cons = {.bootstrap = bootstrap,
                         .topic = out,
                         .window_ms = o->window_ms,
                         .fetch_wait_ms = o->fetch_wait_ms,
                         .n = n,
                         .readable_ns = tm_xcalloc(n, sizeof(int64_t))};
    atomic_init(&cons.results, 0);
    atomic_init(&cons.others, 0);
    atomic_init(&cons.stop, false);
    atomic_init(&cons.failed, false);
    int rc = pthread_create(&cons.thread, NULL, lat_consume, &cons);
    if (rc != 0)
        tm_bench_fail("pthread_create: %s", strerror(rc));

    /* The producer is connected (and has its producer id) before the
     * first event: its start-up is not part of any latency. */
    lat_producer prod = {.ack_ns = tm_xcalloc(n, sizeof(int64_t))};
    atomic_init(&prod.acked, 0);
    atomic_init(&prod.failed, 0);
    int64_t *send_ns = tm_xcalloc(n, sizeof *send_ns);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_dr_msg_cb(conf, lat_dr);
    rd_kafka_conf_set_opaque(conf, &prod);
    static const char *const props[] = {"linger.ms",          "0",    "acks", "all",
                                        "enable.idempotence", "true", NULL};
    rd_kafka_t *rk = new_client(RD_KAFKA_PRODUCER, conf, bootstrap, props);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, in, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t me = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
    if (me)
        tm_bench_fail("latency: producer metadata: %s", rd_kafka_err2str(me));
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);

    service svc;
    service_start(&svc, config, "bench", log);
    service_wait_assigned(&svc);
    tm_test_sleep_ms(1000); /* let the first fetches settle */

    cpu_snap c0 = cpu_now(svc.pid, tm_test_broker_pid(broker));
    int64_t t0 = tm_bench_now_ns();
    double period_ns = 1e9 / o->rate;
    for (size_t i = 0; i < n; i++) {
        int64_t due = t0 + (int64_t)((double)i * period_ns);
        for (int64_t now = tm_bench_now_ns(); now < due; now = tm_bench_now_ns()) {
            int64_t left_ms = (due - now) / 1000000;
            rd_kafka_poll(rk, left_ms > 0 ? (int)(left_ms > 10 ? 10 : left_ms) : 0);
        }
        if (i % 64 == 0) {
            tm_bench_check_interrupt();
            service_check(&svc);
        }
        char value[256];
        int64_t et = LAT_BASE + (int64_t)i * o->window_ms + o->window_ms / 2;
        int len = snprintf(value, sizeof value,
                           "{\"order_id\":\"l-%010zu\",\"merchant\":\"%s\",\"amount\":%zu.%02zu,"
                           "\"event_time\":%lld,\"currency\":\"EUR\",\"channel\":\"web\"}",
                           i, LAT_KEY, 1 + i % 500, i % 100, (long long)et);
        send_ns[i] = tm_bench_now_ns();
        rd_kafka_resp_err_t e = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(in), RD_KAFKA_V_PARTITION(0),
            RD_KAFKA_V_KEY(LAT_KEY, strlen(LAT_KEY)), RD_KAFKA_V_VALUE(value, (size_t)len),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE((void *)(uintptr_t)i),
            RD_KAFKA_V_END);
        if (e)
            tm_bench_fail("latency: produce: %s", rd_kafka_err2str(e));
        rd_kafka_poll(rk, 0);
    }
    double send_s = (double)(tm_bench_now_ns() - t0) / 1e9;
    int64_t deadline = tm_bench_now_ns() + (int64_t)DRAIN_TIMEOUT_MS * 1000000;
    while (rd_kafka_outq_len(rk) > 0 && tm_bench_now_ns() < deadline)
        rd_kafka_flush(rk, 100);
    if (rd_kafka_outq_len(rk) > 0 || atomic_load(&prod.failed) > 0)
        tm_bench_fail("latency: %d records not acknowledged, %zu failed (%s)",
                      rd_kafka_outq_len(rk), atomic_load(&prod.failed), prod.error);
    rd_kafka_destroy(rk);

    /* Windows 0..n-2 close; the last one stays open. */
    while (atomic_load(&cons.results) < n - 1 && tm_bench_now_ns() < deadline &&
           !atomic_load(&cons.failed)) {
        tm_bench_check_interrupt();
        service_check(&svc);
        tm_test_sleep_ms(10);
    }
    cpu_snap c1 = cpu_now(svc.pid, tm_test_broker_pid(broker));
    double wall_s = (double)(tm_bench_now_ns() - t0) / 1e9;
    atomic_store(&cons.stop, true);
    pthread_join(cons.thread, NULL);
    if (atomic_load(&cons.failed))
        tm_bench_fail("latency consumer: %s", cons.error);
    service_stop(&svc);
    tm_test_broker_stop(broker);

    double *from_ack = tm_xcalloc(n, sizeof *from_ack);
    double *from_send = tm_xcalloc(n, sizeof *from_send);
    double *ack_rtt = tm_xcalloc(n, sizeof *ack_rtt);
    size_t m = 0, missing = 0;
    FILE *raw = NULL;
    if (o->raw && !(raw = fopen(o->raw, "w")))
        tm_bench_fail("cannot write %s: %s", o->raw, strerror(errno));
    if (raw)
        fprintf(raw, "# window i: send(i+1) ack(i+1) readable(i), ms since the first send\n");
    for (size_t i = 0; i + 1 < n; i++) {
        if (!cons.readable_ns[i] || !prod.ack_ns[i + 1]) {
            missing++;
            continue;
        }
        from_ack[m] = ms_between(prod.ack_ns[i + 1], cons.readable_ns[i]);
        from_send[m] = ms_between(send_ns[i + 1], cons.readable_ns[i]);
        ack_rtt[m] = ms_between(send_ns[i + 1], prod.ack_ns[i + 1]);
        if (raw)
            fprintf(raw, "%zu %.3f %.3f %.3f\n", i, ms_between(t0, send_ns[i + 1]),
                    ms_between(t0, prod.ack_ns[i + 1]), ms_between(t0, cons.readable_ns[i]));
        m++;
    }
    if (raw && fclose(raw) != 0)
        tm_bench_fail("cannot write %s", o->raw);
    printf("  produced %zu events in %.2f s (%.1f/s); %zu results read, %zu other records, "
           "%zu windows without a result\n",
           n, send_s, (double)n / send_s, atomic_load(&cons.results), atomic_load(&cons.others),
           missing);
    printf("  CPU meanwhile (of %.2f s wall): tidemark %.2f s (%.0f%% of a core), broker %.2f s "
           "(%.0f%%)\n",
           wall_s, c1.service - c0.service, 100 * (c1.service - c0.service) / wall_s,
           c1.broker - c0.broker, 100 * (c1.broker - c0.broker) / wall_s);
    if (m == 0)
        tm_bench_fail("latency: no result read");
    printf("LATENCY  append of event i+1 -> result of window i readable (read_committed):\n");
    report_latency("the delivery report:", from_ack, m);
    report_latency("the send (before produce()):", from_send, m);
    printf("  (the produce round trip itself, send -> delivery report:)\n");
    report_latency("send to delivery report:", ack_rtt, m);
    qsort(from_ack, m, sizeof *from_ack, tm_bench_cmp_double);
    /* Repartitioned, an event's way to a result takes two commits: the
     * source task's (the event and the source's watermark in the
     * repartition topic), then the window task's (the result). */
    int commits = o->repartition ? 2 : 1;
    double goal = (double)(commits * o->commit_ms) + 50;
    printf("  goal: p99 <= commit interval%s + 50 ms = %.0f ms: %s (p99 %.1f ms from the delivery "
           "report)\n",
           commits == 2 ? " x 2" : "", goal,
           percentile(from_ack, m, 0.99) <= goal ? "met" : "NOT met",
           percentile(from_ack, m, 0.99));
    fflush(stdout);
    free(from_ack);
    free(from_send);
    free(ack_rtt);
    free(send_ns);
    free(prod.ack_ns);
    free(cons.readable_ns);
}

/* ---- main ---- */

static void usage(void)
{
    fprintf(stderr,
            "usage: bench_run [--events N] [--keys N] [--partitions N] [--brokers N]\n"
            "                 [--commit-interval-ms MS] [--fetch-wait-ms MS]\n"
            "                 [--rate PER_S] [--seconds S] [--window-ms MS]\n"
            "                 [--throughput-only | --latency-only] [--preload] [--repartition]\n"
            "                 [--perf FILE] [--raw FILE] [--keep]\n"
            "defaults: 1000000 events, 10000 keys, 4 partitions, 1 broker, commit interval 100,\n"
            "fetch wait 5, latency 200 events/s for 20 s in 1000 ms windows;\n"
            "--repartition: the input keyed by order id, repartition.mode auto\n");
    exit(2);
}

static options parse_options(int argc, char **argv)
{
    options o = {.events = 1000000,
                 .keys = 10000,
                 .partitions = 4,
                 .brokers = 1,
                 .commit_ms = 100,
                 .fetch_wait_ms = 5,
                 .rate = 200,
                 .seconds = 20,
                 .window_ms = 1000,
                 .throughput = true,
                 .latency = true};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--throughput-only") == 0) {
            o.latency = false;
            continue;
        }
        if (strcmp(a, "--latency-only") == 0) {
            o.throughput = false;
            continue;
        }
        if (strcmp(a, "--preload") == 0) {
            o.preload = true;
            continue;
        }
        if (strcmp(a, "--keep") == 0) {
            o.keep = true;
            continue;
        }
        if (strcmp(a, "--repartition") == 0) {
            o.repartition = true;
            continue;
        }
        if (i + 1 >= argc)
            usage();
        const char *v = argv[++i];
        if (strcmp(a, "--perf") == 0) {
            o.perf = v;
            continue;
        }
        if (strcmp(a, "--raw") == 0) {
            o.raw = v;
            continue;
        }
        int64_t x = 0;
        if (tm_parse_i64(v, &x) != 0 || x <= 0 || x > 1000000000)
            usage();
        if (strcmp(a, "--events") == 0)
            o.events = (size_t)x;
        else if (strcmp(a, "--keys") == 0)
            o.keys = (size_t)x;
        else if (strcmp(a, "--partitions") == 0 && x <= 64)
            o.partitions = (int)x;
        else if (strcmp(a, "--brokers") == 0 && x <= 16)
            o.brokers = (int)x;
        else if (strcmp(a, "--commit-interval-ms") == 0 && x <= 60000)
            o.commit_ms = x;
        else if (strcmp(a, "--fetch-wait-ms") == 0 && x <= 10000)
            o.fetch_wait_ms = x;
        else if (strcmp(a, "--rate") == 0)
            o.rate = (double)x;
        else if (strcmp(a, "--seconds") == 0)
            o.seconds = (double)x;
        else if (strcmp(a, "--window-ms") == 0)
            o.window_ms = x;
        else
            usage();
    }
    if (!o.throughput && !o.latency)
        usage();
    return o;
}

/* The two executables: the environment's, else the build tree's. */
static void find_binaries(void)
{
    const char *bin = tidemark_binary();
    if (!*bin || access(bin, X_OK) != 0)
        tm_bench_fail(
            "no tidemark executable at '%s': set TIDEMARK_BINARY or build the tidemark target",
            bin);
    const char *broker = getenv("TIDEMARK_TEST_BROKER");
    if (!broker || !*broker) {
        broker = TIDEMARK_TEST_BROKER_PATH;
        setenv("TIDEMARK_TEST_BROKER", broker, 1); /* for tests/support/broker.c */
    }
    if (!*broker || access(broker, X_OK) != 0)
        tm_bench_fail("no tidemark-test-broker at '%s': set TIDEMARK_TEST_BROKER or build the "
                      "tidemark_test_broker target",
                      broker);
}

int main(int argc, char **argv)
{
    options o = parse_options(argc, argv);
    find_binaries();
    tm_bench_start("bench_run", o.keep);

    printf("bench_run: tidemark %s, test broker %s, directory %s, %ld online CPUs (shared by the "
           "broker, the service and this load generator)\n",
           tidemark_binary(), getenv("TIDEMARK_TEST_BROKER"), tm_bench_dir(),
           sysconf(_SC_NPROCESSORS_ONLN));
    if (o.throughput)
        phase_throughput(&o);
    if (o.latency)
        phase_latency(&o);
    return 0;
}
