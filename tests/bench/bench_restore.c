/*
 * bench_restore: restoring tasks from the changelog on the test broker
 * (tests/broker), what a restart or a rebalance waits for (restore.h). Not
 * a test: run by hand (README "Benchmarks").
 *
 * For --tasks 1 and 4 (each a fresh application): a changelog holding
 * --events open windows and as many held dedup keys (default 1,000,000
 * each), spread evenly over the tasks, written by the service's own code
 * (tests/support/changelog_gen.h: an engine per task fed events that each
 * open a window and hold a dedup key, a checkpoint every
 * --checkpoint-events events per task, produced in transactions as
 * `tidemark run` does). Then, timed, with a new changelog reader each
 * time (as after a restart):
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
 * online CPU); --one-by-one restores the tasks with one tm_restore_tasks
 * each (its own offsets query and changelog read), one after another, as
 * the service did before tasks were restored together.
 *
 * The test broker keeps whole partitions (patch 0004; 1,000,000 windows
 * and keys are about 87 MB); builds before it dropped each partition's
 * oldest records past about 5 MB, so the bench checks that every
 * changelog partition still starts at offset 0, and fails otherwise.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker.h"
#include "changelog_gen.h"
#include "config.h"
#include "engine.h"
#include "kafka.h"
#include "log.h"
#include "num.h"
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
    bool keep, one_by_one;
} options;

__attribute__((noreturn)) static void usage(void)
{
    fprintf(stderr, "usage: bench_restore [--events N] [--tail N] [--checkpoint-events N] "
                    "[--tasks 1,4] [--threads N] [--one-by-one] [--keep]\n");
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
        if (strcmp(a, "--one-by-one") == 0) {
            o.one_by_one = true;
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

/* ---- one application: its configuration, its generated changelog ---- */

typedef struct app {
    int tasks;
    tm_config *cfg;
    tm_changelog_gen *gen;
} app;

static void app_open(app *a, int tasks, const char *bootstrap)
{
    char name[64], topic[64], state_dir[600];
    a->tasks = tasks;
    snprintf(name, sizeof name, "restore%d-%s", tasks, strrchr(tm_bench_dir(), '-') + 1);
    snprintf(topic, sizeof topic, "orders%d", tasks);
    snprintf(state_dir, sizeof state_dir, "%s/state-%s", tm_bench_dir(), name);
    a->cfg = tm_changelog_gen_config(name, topic, state_dir, bootstrap);
    a->gen = tm_changelog_gen_open(a->cfg, tasks);
}

static void app_close(app *a)
{
    tm_changelog_gen_close(a->gen);
    tm_config_free(a->cfg);
}

static uint64_t app_records(const app *a)
{
    uint64_t n = 0;
    for (int p = 0; p < a->tasks; p++)
        n += tm_changelog_gen_records(a->gen, p);
    return n;
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
                          "%d (a broker without patch 0004 keeps about 5 MB a partition): use "
                          "fewer --events or more --tasks",
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
    /* One restore of all the tasks, or (--one-by-one) one per task, as
     * before tasks were restored together: the sum of their times. */
    tm_restore_stats st = {0}, one;
    const tm_restore_options ro = {.threads = o->threads, .stats = &one};
    size_t per_call = o->one_by_one ? 1 : (size_t)a->tasks;
    int64_t t0 = tm_bench_now_ns();
    for (size_t first = 0; first < (size_t)a->tasks; first += per_call) {
        if (tm_restore_tasks(a->cfg, reader, &partitions[first], per_call, &ro, &out[first], err,
                             sizeof err) < 0)
            tm_bench_fail("restore: %s", err);
        st.open_ms += one.open_ms;
        st.read_ms += one.read_ms;
        st.rebuild_ms += one.rebuild_ms;
        st.records += one.records;
        st.bytes += one.bytes;
    }
    double secs = (double)(tm_bench_now_ns() - t0) / 1e9;
    size_t windows = 0, keys = 0;
    for (int p = 0; p < a->tasks; p++) {
        const tm_engine *want = tm_changelog_gen_engine(a->gen, p);
        size_t w = tm_engine_window_count(out[p].engine),
               d = tm_engine_dedup_entries(out[p].engine);
        if (w != tm_engine_window_count(want) || d != tm_engine_dedup_entries(want))
            tm_bench_fail("task %d restored %zu windows and %zu dedup keys, expected %zu and %zu",
                          p, w, d, tm_engine_window_count(want), tm_engine_dedup_entries(want));
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
    const char *args[24] = {"--brokers", "1",           "--topic", "gmv:64",
                            "--topic",   "gmv-late:64", "--topic", "gmv-dlq:64"};
    size_t n_args = 8;
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
        tm_changelog_gen_write(a.gen, o.events, o.checkpoint_events);
        printf("%d task%s  changelog written: %llu records, %.1f MB, in %.1f s\n", a.tasks,
               a.tasks == 1 ? " " : "s", (unsigned long long)app_records(&a),
               (double)tm_changelog_gen_bytes(a.gen) / 1e6, (double)(tm_bench_now_ns() - t0) / 1e9);
        restore(&a, &o, "empty");
        tm_changelog_gen_write(a.gen, o.tail, o.checkpoint_events);
        restore(&a, &o, "warm");
        app_close(&a);
    }
    tm_test_broker_stop(b);
    return 0;
}
