/*
 * bench_restore: restoring tasks from the changelog on the test broker
 * (tests/broker), what a restart or a rebalance waits for (restore.h). Not
 * a test: run by hand (README "Benchmarks").
 *
 * For --tasks 1 and 4 (each a fresh application): a changelog holding
 * --events open windows and as many held dedup keys (default 1,000,000
 * each), spread evenly over the tasks, written by the service's own code:
 * one engine per task fed generated events (a new merchant and a new order
 * id each, so each event opens a window and holds a dedup key; event times
 * inside one hour-long window, which never fires), a checkpoint collected
 * (tm_changelog_collect) every --checkpoint-events events per task, and
 * produced with the service's transactional producer (tm_kafka), one
 * transaction per round of checkpoints, as `tidemark run` does. Then,
 * timed, with a new changelog reader each time (as after a restart):
 *
 *   empty  tm_restore_tasks into an empty state directory: the whole
 *          changelog is read, written into LMDB, and the engines rebuilt;
 *   warm   --tail more events (new windows and keys) checkpointed, then
 *          restored again over the stores of the first restore: only the
 *          tail is read, the rest is loaded from LMDB.
 *
 * Each restore is checked against the generating engines: the same number
 * of windows and of dedup keys in every task. Reported: the time, its
 * parts (stores opened, changelog read into them, engines rebuilt), the
 * changelog records and bytes read, and records and keys restored per
 * second. --threads sets the restore's worker threads (default: one per
 * online CPU).
 *
 * The test broker keeps about 5 MB per partition unless patched (it drops
 * the oldest records beyond that; 1,000,000 windows and keys are about
 * 105 MB): the bench checks that every changelog partition still starts
 * at offset 0, and fails otherwise.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker.h"
#include "changelog.h"
#include "common.h"
#include "config.h"
#include "engine.h"
#include "kafka.h"
#include "log.h"
#include "restore.h"
#include "support.h"

#ifndef TIDEMARK_TEST_BROKER_PATH
#define TIDEMARK_TEST_BROKER_PATH ""
#endif

enum { MAX_TASKS = 64 };

typedef struct options {
    size_t events, tail, checkpoint_events;
    int tasks[4];
    size_t n_tasks;
    unsigned threads;
    bool keep;
} options;

static void usage(void)
{
    fprintf(stderr, "usage: bench_restore [--events N] [--tail N] [--checkpoint-events N] "
                    "[--tasks 1,4] [--threads N] [--keep]\n");
    exit(2);
}

static size_t parse_size(const char *s)
{
    int64_t v;
    if (!s || tm_parse_i64(s, &v) < 0 || v <= 0)
        usage();
    return (size_t)v;
}

static options parse_options(int argc, char **argv)
{
    options o = {.events = 1000000,
                 .tail = 10000,
                 .checkpoint_events = 10000,
                 .tasks = {1, 4},
                 .n_tasks = 2};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--keep") == 0) {
            o.keep = true;
            continue;
        }
        i++;
        if (strcmp(a, "--events") == 0) {
            o.events = parse_size(v);
        } else if (strcmp(a, "--tail") == 0) {
            o.tail = parse_size(v);
        } else if (strcmp(a, "--checkpoint-events") == 0) {
            o.checkpoint_events = parse_size(v);
        } else if (strcmp(a, "--threads") == 0) {
            o.threads = (unsigned)parse_size(v);
        } else if (strcmp(a, "--tasks") == 0 && v) {
            o.n_tasks = 0;
            for (char *p = (char *)v, *end; *p && o.n_tasks < 4; p = *end ? end + 1 : end) {
                long t = strtol(p, &end, 10);
                if (end == p || t < 1 || t > MAX_TASKS || (*end && *end != ','))
                    usage();
                o.tasks[o.n_tasks++] = (int)t;
            }
        } else {
            usage();
        }
    }
    return o;
}

/* ---- one application: its configuration, its generating engines ---- */

typedef struct app {
    int tasks;
    char name[64], topic[64], config_path[600], state_dir[600];
    tm_config *cfg;
    tm_kafka *producer;
    tm_engine *engines[MAX_TASKS];
    tm_changelog *changelogs[MAX_TASKS];
    size_t generated[MAX_TASKS]; /* events fed to each engine */
    uint64_t records, bytes;     /* changelog records produced */
} app;

static void write_config(app *a, const char *bootstrap)
{
    FILE *f = fopen(a->config_path, "w");
    if (!f)
        tm_bench_fail("cannot write %s: %s", a->config_path, strerror(errno));
    fprintf(f,
            "{\"application_id\": \"%s\",\n"
            " \"input\": {\"topics\": [\"%s\"], \"event_time\": {\"pointer\": \"/event_time\"},\n"
            "           \"group_by\": \"/merchant\", \"event_id\": \"/order_id\"},\n"
            " \"watermark\": {\"max_out_of_orderness_ms\": 2000, \"idle_timeout_ms\": 0},\n"
            " \"window\": {\"type\": \"tumbling\", \"size_ms\": 3600000},\n"
            " \"aggregations\": [{\"name\": \"orders\", \"op\": \"count\"},\n"
            "                  {\"name\": \"gmv\", \"op\": \"sum\", \"pointer\": \"/amount\"}],\n"
            " \"dedup\": {\"enabled\": true, \"key\": \"id\", \"ttl_ms\": 86400000},\n"
            " \"output\": {\"topic\": \"gmv\"},\n"
            " \"state.dir\": \"%s\",\n"
            " \"metrics.port\": 0,\n"
            " \"kafka\": {\"bootstrap.servers\": \"%s\"}}\n",
            a->name, a->topic, a->state_dir, bootstrap);
    if (fclose(f) != 0)
        tm_bench_fail("cannot write %s", a->config_path);
}

static void app_open(app *a, int tasks, const char *bootstrap)
{
    char err[1024];
    a->tasks = tasks;
    snprintf(a->name, sizeof a->name, "restore%d-%s", tasks, strrchr(tm_bench_dir(), '-') + 1);
    snprintf(a->topic, sizeof a->topic, "orders%d", tasks);
    snprintf(a->config_path, sizeof a->config_path, "%s/%s.json", tm_bench_dir(), a->name);
    snprintf(a->state_dir, sizeof a->state_dir, "%s/state-%s", tm_bench_dir(), a->name);
    write_config(a, bootstrap);
    if (tm_config_load(&a->cfg, a->config_path, NULL, NULL, 0, err, sizeof err) < 0)
        tm_bench_fail("%s", err);
    /* Creates the changelog topic, one partition per input partition. */
    if (tm_kafka_open(&a->producer, a->cfg, "generator", NULL, NULL, err, sizeof err) < 0)
        tm_bench_fail("%s", err);
    for (int p = 0; p < tasks; p++) {
        if (tm_engine_open(&a->engines[p], a->cfg, p, 0, err, sizeof err) < 0)
            tm_bench_fail("engine: %s", err);
        tm_engine_track_changes(a->engines[p]);
        a->changelogs[p] = tm_changelog_new(a->cfg);
        tm_changelog_set_record_limit(a->changelogs[p],
                                      tm_kafka_changelog_record_limit(a->producer));
    }
}

static void app_close(app *a)
{
    for (int p = 0; p < a->tasks; p++) {
        tm_engine_close(a->engines[p]);
        tm_changelog_free(a->changelogs[p]);
    }
    tm_kafka_close(a->producer);
    tm_config_free(a->cfg);
}

static void ignore_result(void *ctx, int32_t partition, const tm_window_result *r)
{
    (void)ctx, (void)partition, (void)r;
    tm_bench_fail("a window fired: the generated event times should keep them all open");
}

static void ignore_late(void *ctx, const tm_record *rec, int64_t watermark)
{
    (void)ctx, (void)rec, (void)watermark;
    tm_bench_fail("a late record: the generated event times are in order");
}

static void ignore_dead(void *ctx, const tm_record *rec, tm_dlq_reason reason, const char *detail)
{
    (void)ctx, (void)rec, (void)reason;
    tm_bench_fail("a dead letter: %s", detail);
}

/* Feeds n new events to task p's engine: event i (counting every event of
 * the task) has merchant and order id "<p>-<i>", and an event time inside
 * the first window. */
static void feed(app *a, int p, size_t n)
{
    static const int64_t T0 = 1700000000000; /* a window start: a multiple of an hour */
    const tm_engine_sink sink = {NULL, ignore_result, ignore_late, ignore_dead};
    char value[160];
    for (size_t k = 0; k < n; k++) {
        size_t i = a->generated[p]++;
        int64_t t = T0 + (int64_t)(i % 1000000);
        int len = snprintf(value, sizeof value,
                           "{\"event_time\":%lld,\"merchant\":\"%d-%zu\",\"order_id\":\"%d-%zu\","
                           "\"amount\":%zu.25}",
                           (long long)t, p, i, p, i, i % 500);
        tm_record rec = {.topic = a->topic,
                         .partition = p,
                         .offset = (int64_t)i,
                         .ts = t,
                         .value = value,
                         .value_len = (size_t)len};
        tm_engine_process(a->engines[p], &rec, t, &sink);
    }
}

static void expect_ok(tm_kafka_status st, const char *what, const char *err)
{
    if (st != TM_KAFKA_OK)
        tm_bench_fail("%s: %s", what, err);
}

/* --events (or a tail) more events spread over the tasks, checkpointed
 * every --checkpoint-events per task: one transaction per round. */
static void generate(app *a, size_t events, size_t per_checkpoint)
{
    char err[512];
    size_t per_task = events / (size_t)a->tasks;
    for (size_t done = 0; done < per_task; done += per_checkpoint) {
        tm_bench_check_interrupt();
        size_t n = per_task - done < per_checkpoint ? per_task - done : per_checkpoint;
        expect_ok(tm_kafka_begin(a->producer, err, sizeof err), "begin", err);
        for (int p = 0; p < a->tasks; p++) {
            feed(a, p, n);
            int64_t next = (int64_t)a->generated[p];
            const tm_kv_change *c;
            size_t nc;
            tm_changelog_collect(a->changelogs[p], a->engines[p], &next, &c, &nc);
            for (size_t k = 0; k < nc; k++) {
                expect_ok(tm_kafka_produce_changelog(a->producer, p, c[k].key, c[k].key_len,
                                                     c[k].value, c[k].value_len, err, sizeof err),
                          "produce", err);
                a->bytes += c[k].key_len + c[k].value_len;
            }
            a->records += nc;
        }
        expect_ok(tm_kafka_commit(a->producer, err, sizeof err), "commit", err);
    }
}

/* Fails unless every changelog partition still starts at offset 0. */
static void check_kept(const app *a, tm_kafka *reader)
{
    char err[512];
    tm_changelog_part parts[MAX_TASKS];
    for (int p = 0; p < a->tasks; p++)
        parts[p] = (tm_changelog_part){.task = p};
    if (tm_kafka_changelog_offsets(reader, parts, (size_t)a->tasks, NULL, err, sizeof err) < 0)
        tm_bench_fail("%s", err);
    for (int p = 0; p < a->tasks; p++)
        if (parts[p].start != 0)
            tm_bench_fail("the test broker dropped the first %lld records of changelog partition "
                          "%d (it keeps about 5 MB per partition unless patched): use fewer "
                          "--events or more --tasks",
                          (long long)parts[p].start, p);
}

/* One timed restore of every task of a, checked against the generating
 * engines. */
static void restore(const app *a, const options *o, const char *what)
{
    char err[1024];
    tm_kafka *reader = NULL;
    if (tm_kafka_open_changelog_reader(&reader, a->cfg, err, sizeof err) < 0)
        tm_bench_fail("%s", err);
    check_kept(a, reader);
    int32_t partitions[MAX_TASKS];
    tm_restored_task out[MAX_TASKS];
    for (int p = 0; p < a->tasks; p++)
        partitions[p] = p;
    tm_restore_stats st;
    const tm_restore_options ro = {.threads = o->threads, .stats = &st};
    int64_t t0 = tm_bench_now_ns();
    if (tm_restore_tasks(a->cfg, reader, partitions, (size_t)a->tasks, &ro, out, err, sizeof err) <
        0)
        tm_bench_fail("restore: %s", err);
    double secs = (double)(tm_bench_now_ns() - t0) / 1e9;
    size_t windows = 0, keys = 0;
    for (int p = 0; p < a->tasks; p++) {
        size_t w = tm_engine_open_windows(out[p].engine),
               d = tm_engine_dedup_entries(out[p].engine);
        if (w != tm_engine_open_windows(a->engines[p]) ||
            d != tm_engine_dedup_entries(a->engines[p]))
            tm_bench_fail("task %d restored %zu windows and %zu dedup keys, expected %zu and %zu",
                          p, w, d, tm_engine_open_windows(a->engines[p]),
                          tm_engine_dedup_entries(a->engines[p]));
        windows += w;
        keys += d;
        tm_restored_task_close(&out[p]);
    }
    tm_kafka_close(reader);
    printf("%d task%s  %-5s  %7zu windows + %7zu dedup keys  %8llu records %6.1f MB read  "
           "%6.2f s (stores %.2f, read %.2f, rebuild %.2f)  %7.0f records/s  %8.0f keys/s\n",
           a->tasks, a->tasks == 1 ? " " : "s", what, windows, keys, (unsigned long long)st.records,
           (double)st.bytes / 1e6, secs, (double)st.open_ms / 1e3, (double)st.read_ms / 1e3,
           (double)st.rebuild_ms / 1e3, (double)st.records / secs, (double)(windows + keys) / secs);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    options o = parse_options(argc, argv);
    tm_bench_start("bench_restore", o.keep);
    tm_log_threshold = TM_LOG_WARN;
    const char *broker = getenv("TIDEMARK_TEST_BROKER");
    if (!broker || !*broker)
        setenv("TIDEMARK_TEST_BROKER", TIDEMARK_TEST_BROKER_PATH, 1);

    char log[600], topics[4][32];
    snprintf(log, sizeof log, "%s/broker.log", tm_bench_dir());
    const char *args[16] = {"--brokers", "1"};
    size_t n_args = 2;
    for (size_t i = 0; i < o.n_tasks; i++) {
        snprintf(topics[i], sizeof topics[i], "orders%d:%d", o.tasks[i], o.tasks[i]);
        args[n_args++] = "--topic";
        args[n_args++] = topics[i];
    }
    tm_test_broker *b = tm_test_broker_start(args, log);
    printf("bench_restore: %zu events (windows and dedup keys), tail %zu, a checkpoint every %zu "
           "events per task, %u restore threads (0: one per CPU), %ld online CPUs, directory %s\n",
           o.events, o.tail, o.checkpoint_events, o.threads, sysconf(_SC_NPROCESSORS_ONLN),
           tm_bench_dir());
    for (size_t i = 0; i < o.n_tasks; i++) {
        app a = {0};
        app_open(&a, o.tasks[i], tm_test_broker_bootstrap(b));
        int64_t t0 = tm_bench_now_ns();
        generate(&a, o.events, o.checkpoint_events);
        printf("%d task%s  changelog written: %llu records, %.1f MB, in %.1f s\n", a.tasks,
               a.tasks == 1 ? " " : "s", (unsigned long long)a.records, (double)a.bytes / 1e6,
               (double)(tm_bench_now_ns() - t0) / 1e9);
        restore(&a, &o, "empty");
        generate(&a, o.tail, o.checkpoint_events);
        restore(&a, &o, "warm");
        app_close(&a);
    }
    tm_test_broker_stop(b);
    return 0;
}
