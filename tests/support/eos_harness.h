/*
 * eos_harness.h: the scaffolding of the exactly-once tests (tests/eos/;
 * DESIGN "Verifying exactly-once"): one temporary directory, one test
 * broker and one application per test; instances of `tidemark run` started,
 * killed and stopped as child processes; a wait for "done"; and the
 * verification: the committed output, read with read_committed, against
 * `replay` of the same input, compared by meaning (golden_compare.h).
 *
 * A test:
 *
 *     TestSuite(eos, .fini = tm_eos_teardown);
 *     Test(eos, x) {
 *         tm_eos *e = tm_eos_setup(&(tm_eos_options){.name = "x", ...});
 *         tm_eos_write_input(e, 5000, 1);
 *         tm_eos_load_input(e);
 *         tm_eos_instance *a = tm_eos_instance_add(e, "a");
 *         tm_eos_start(e, a);
 *         tm_eos_wait_done(e, 120000);
 *         tm_eos_stop(e, a);
 *         tm_eos_verify(e);
 *         tm_eos_pass(e);
 *     }
 *
 * (tm_eos_run_once does the steps from write_input to stop.)
 *
 * tm_eos_teardown kills whatever is still running, stops the broker, and
 * removes the temporary directory after tm_eos_pass, or keeps it (and
 * prints its path) after a failure, or always with TIDEMARK_EOS_KEEP=1 in
 * the environment. Every wait is bounded.
 *
 * "Done" (tm_eos_wait_done): the feeder (if any) has every input record
 * acknowledged; the group's committed offset of every input partition
 * equals the partition's end offset; no transaction is open on any output
 * or changelog partition (last stable offset = high watermark); and those
 * topics' high watermarks have not moved for a second. A repartitioning
 * pipeline (tm_eos_options.repartition) also needs the repartition topic
 * `<application_id>-repartition`, which the group consumes too: it must
 * exist, no transaction may be open on it, its high watermarks are
 * watched with the others, and past the group's committed offset of each
 * of its partitions there must be nothing but transaction markers (read
 * with read_committed; tm_eos_repartition_short says whether the
 * committed offsets are the end offsets). Its log start offset moves as
 * the service deletes consumed records: nothing below the committed
 * offsets is read.
 */
#ifndef TM_TEST_EOS_HARNESS_H
#define TM_TEST_EOS_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "broker.h"
#include "golden_compare.h"
#include "kafka_io.h"
#include "replay.h"
#include "workload.h"

enum {
    TM_EOS_MAX_INSTANCES = 4,
    TM_EOS_PATH = 512,
    TM_EOS_MAX_SETS = 4,
    TM_EOS_MAX_BROKER_ARGS = 4
};

/* Tumbling 5 s, hopping 10 s every 5 s, sessions with a 1 s gap, or
 * tumbling 1 h (every merchant's window stays open for long: a large
 * state). */
typedef enum {
    TM_EOS_TUMBLING,
    TM_EOS_HOPPING,
    TM_EOS_SESSION,
    TM_EOS_TUMBLING_HOUR
} tm_eos_window;

typedef struct tm_eos_options {
    const char *name;     /* short, [a-z0-9-]: in the application id and the directory */
    int brokers;          /* 0: 3 */
    int partitions;       /* of every topic; 0: 4 */
    tm_eos_window window; /* the pipeline's window (default tumbling 5 s) */
    int merchants;        /* the workload's keys; 0: its default (48) */
    /* A repartitioning pipeline (SEMANTICS 10-11): input keyed by order id
     * (workload.h key_by_order: a merchant's events on every partition),
     * repartition.mode left to its default (auto), an allowed lateness
     * that no record of the workload exceeds (15 s, checked), the
     * repartition topic in "done", and tm_golden_compare_latest as the
     * comparison. Tumbling or hopping windows: the revision check assumes
     * windows that never merge. */
    bool repartition;
    /* More launcher arguments (tests/broker/README.md), NULL-ended. */
    const char *broker_args[TM_EOS_MAX_BROKER_ARGS + 1];
} tm_eos_options;

typedef struct tm_eos_instance {
    char id[32];          /* names its state directory and logs */
    char instance_id[32]; /* its --instance-id; "" (the default): id */
    char state_dir[TM_EOS_PATH];
    char log_path[TM_EOS_PATH];        /* the current (last) incarnation's log */
    int metrics_port;                  /* metrics.port; 0 (the default): no HTTP server */
    const char *sets[TM_EOS_MAX_SETS]; /* more KEY=VALUE overrides; NULL-ended if fewer */
    pid_t pid;                         /* 0: not running */
    int runs;                          /* incarnations started */
    int unexpected_exits;              /* exits the test did not cause (supervised) */
} tm_eos_instance;

typedef struct tm_eos {
    char name[64];
    char dir[TM_EOS_PATH];
    char config_path[TM_EOS_PATH];
    char input_path[TM_EOS_PATH];
    char app_id[128];
    char changelog_topic[160];
    char repartition_topic[160]; /* <application_id>-repartition */
    int partitions;
    int brokers;
    int merchants;
    tm_eos_window window;
    bool repartition;
    const char *broker_args[TM_EOS_MAX_BROKER_ARGS + 1]; /* the options' */
    tm_test_broker *broker;
    tm_kafka_probe *probe;
    tm_feeder *feeder; /* the running feeder, if any */
    tm_workload_stats workload;
    tm_eos_instance inst[TM_EOS_MAX_INSTANCES];
    int n_inst;
    /* Restart an instance that exits non-zero by itself (as Kubernetes
     * would, DESIGN "Errors"), instead of failing; a crash by a signal
     * always fails. */
    bool supervise;
    tm_replay_summary replay; /* filled by tm_eos_verify */
    tm_golden_latest latest;  /* tm_eos_verify's, when repartitioning */
    size_t live_results, live_late, live_dead;
    int64_t t0;
    bool passed;
} tm_eos;

/* Creates the temporary directory, starts the broker (topics orders,
 * gmv, orders-late, orders-dlq, each with `partitions` partitions) and
 * writes the configuration. The harness owns the result. */
tm_eos *tm_eos_setup(const tm_eos_options *o);

/* Stops the broker and starts a new, empty one with the same topics (the
 * changelog deleted with the rest, as by an application reset): the
 * configuration names its address; started instances keep the old one
 * until restarted. */
void tm_eos_replace_broker(tm_eos *e);

/* The Criterion .fini: see above. */
void tm_eos_teardown(void);

/* Marks the test passed (the directory is removed at teardown) and prints
 * its duration. */
void tm_eos_pass(tm_eos *e);

/* Writes the workload (workload.h; events lines, seeded) to input.jsonl
 * and keeps its statistics in e->workload. */
void tm_eos_write_input(tm_eos *e, size_t events, uint64_t seed);

/* Produces all of input.jsonl now (and waits for the acknowledgements). */
void tm_eos_load_input(tm_eos *e);

/* The simplest run: writes `events` input events (seed), loads them all,
 * starts instance "a", waits until done (at most 120 s) and stops it.
 * Returns "a" (stopped, its state kept). */
tm_eos_instance *tm_eos_run_once(tm_eos *e, size_t events, uint64_t seed);

/* Starts a feeder of lines [first, first + count) of input.jsonl at
 * rate_per_s (0: at once) in the background; tm_eos_wait_done waits for it
 * and tm_eos_join_feeder checks it. */
void tm_eos_feed(tm_eos *e, size_t first, size_t count, double rate_per_s);
void tm_eos_join_feeder(tm_eos *e, int64_t timeout_ms);

/* A new instance with id `id` and its own state directory (a pod with its
 * own disk). Not started. */
tm_eos_instance *tm_eos_instance_add(tm_eos *e, const char *id);

/* Starts an incarnation of in: `tidemark run --config C --instance-id ID
 * --set state.dir=... --set metrics.port=...` plus in->sets, output to
 * <dir>/<id>.<n>.log. */
void tm_eos_start(tm_eos *e, tm_eos_instance *in);

/* SIGKILL, and reap. */
void tm_eos_kill(tm_eos *e, tm_eos_instance *in);

/* SIGTERM; fails the test unless it exits 0 within the bound. */
void tm_eos_stop(tm_eos *e, tm_eos_instance *in);

/* Runs `tidemark args...` (args NULL-terminated, e.g. {"reset", "--config",
 * e->config_path, NULL}) to completion (bounded), its stdout and stderr in
 * <dir>/<log_name>, whose path goes to log_path; returns the wait status. */
int tm_eos_cli(tm_eos *e, const char *log_name, const char *const *args, char *log_path,
               size_t log_path_len);

/* Waits (bounded) for in to exit by itself, without checking the other
 * instances, and fails the test unless it exited with code; why names the
 * exit in the failure message. */
void tm_eos_expect_exit(tm_eos *e, tm_eos_instance *in, int code, int64_t timeout_ms,
                        const char *why);

/* Fails the test if a started instance has exited by itself (with its
 * log's tail on stderr), or restarts it when e->supervise allows. */
void tm_eos_check_instances(tm_eos *e);

/* Waits (bounded; checking the instances meanwhile) until the current
 * incarnation's log holds a line containing needle; fails the test on
 * timeout. */
void tm_eos_wait_log(tm_eos *e, tm_eos_instance *in, const char *needle, int64_t timeout_ms);

/* Whether the current incarnation's log holds a line containing needle. */
bool tm_eos_log_contains(const tm_eos_instance *in, const char *needle);
/* Whether the file at path holds a line containing needle. */
bool tm_eos_file_contains(const char *path, const char *needle);

/* A restore, as the runner logs it ("task N restored in T ms: W windows,
 * K dedup keys, R changelog records replayed from offset F"). */
typedef struct tm_eos_restore {
    int task;
    int64_t ms;
    size_t windows, dedup_keys, records;
    int64_t from;
} tm_eos_restore;

/* The restores in the current incarnation's log, in order: up to max
 * into out; returns how many there are. */
int tm_eos_restores(const tm_eos_instance *in, tm_eos_restore *out, int max);

/* A restore's summary line ("restored N task(s) in T ms (stores opened in
 * A ms, changelog read into them in B ms, engines rebuilt in C ms): R
 * changelog records, ..."). */
typedef struct tm_eos_restore_summary {
    int tasks;
    int64_t ms, open_ms, read_ms, rebuild_ms;
    unsigned long long records;
} tm_eos_restore_summary;

/* The last restore summary in the current incarnation's log into *out;
 * false if there is none yet. */
bool tm_eos_restore_summary_of(const tm_eos_instance *in, tm_eos_restore_summary *out);

/* The task count of the last assignment in the current incarnation's log
 * (the Kafka module's "assigned N task(s)", logged before the restores),
 * or -1 if none yet. */
int tm_eos_log_assigned(const tm_eos_instance *in);

/* Waits (bounded; checking the instances) until the current incarnation
 * has been assigned tasks and has logged a restore for each of them. */
void tm_eos_wait_restored(tm_eos *e, tm_eos_instance *in, int64_t timeout_ms);

/* Waits (bounded; checking the instances) until GET path on 127.0.0.1:port
 * answers status want; fails the test with the last answer on timeout. */
void tm_eos_wait_http(tm_eos *e, int port, const char *path, int want, int64_t timeout_ms);

/* Sleeps ms, checking the instances every 100 ms. */
void tm_eos_sleep(tm_eos *e, int64_t ms);

/* Waits until done (see above), at most timeout_ms; fails the test with
 * the offsets on timeout. */
void tm_eos_wait_done(tm_eos *e, int64_t timeout_ms);

/* Current committed offsets of the input topic into out[partitions]. */
void tm_eos_committed(tm_eos *e, int64_t *out);

/* The sum of the group's committed offsets of the input partitions (none
 * committed counts 0): how far the application has got. */
int64_t tm_eos_committed_total(tm_eos *e);

/* Waits (at most timeout_ms, checking the instances) until the current
 * incarnation's log has its assignment, polling every millisecond: a
 * restore on the test broker takes tens of milliseconds, and a kill meant
 * to land inside it must not miss it. */
void tm_eos_wait_assigned(tm_eos *e, tm_eos_instance *in, int64_t timeout_ms);

/* Fails the test unless `to` restored every task p < n_tasks with
 * from[p] set (another instance's, taken over) from the changelog, with
 * at least one changelog record (printed, one line a task). */
void tm_eos_expect_restored(tm_eos *e, const tm_eos_instance *to, const bool *from, int n_tasks);

/* The tasks in's current incarnation has restored (its log) into
 * tasks[0..n_tasks); returns how many. */
int tm_eos_restored_tasks(const tm_eos_instance *in, bool *tasks, int n_tasks);

/* Partitions with an open transaction (last stable offset below the high
 * watermark) among those "done" watches: outputs, changelog and, when
 * repartitioning, the repartition topic. Polls (at most 30 s) until the
 * broker answers. */
int tm_eos_open_transactions(tm_eos *e);

/* Changelog partitions with a transaction open (a checkpoint written and
 * not committed: the service writes changelog records only in a
 * checkpoint, right before committing it); 0 before the service has
 * created the topic. Polls (at most 30 s) until the broker answers. */
int tm_eos_changelog_open(tm_eos *e);

/*
 * Holds the next commit open, for a kill to land inside it: the broker
 * answers the next EndTxn requests with CONCURRENT_TRANSACTIONS (what a
 * coordinator answers while it still completes the previous transaction;
 * the client retries with backoff), so the transaction of the next
 * checkpoint stays open, its changelog records written, for about 1.5 s.
 * Returns true once a changelog partition shows it open (last stable
 * offset below the high watermark); false if none did within timeout_ms
 * (no input left to checkpoint). Only the service sends EndTxn (the
 * tests' producers are not transactional); refusals a kill leaves over
 * delay the next incarnation's first commit.
 */
bool tm_eos_hold_commit(tm_eos *e, int64_t timeout_ms);

/* Repartition partitions whose group's committed offset is not the end
 * offset (the contract of live repartitioning wants none, once done).
 * Polls (at most 30 s) until the broker answers. */
int tm_eos_repartition_short(tm_eos *e);

/*
 * Dumps the three output topics into <dir>/live, replays input.jsonl
 * in-process into <dir>/replay, compares them by meaning, and checks that
 * the output is not trivial (results > 100, late > 0, dead letters > 0).
 * When repartitioning: tm_golden_compare_latest instead, no late record in
 * either (none is too late), and replay must have revised a window.
 */
void tm_eos_verify(tm_eos *e);

/* The end of a test whose last instance is in: waits until done (at most
 * timeout_ms), stops it, verifies the output and marks the test passed. */
void tm_eos_finish(tm_eos *e, tm_eos_instance *in, int64_t timeout_ms);

/* Removes path and everything under it (rm -rf); fails the test on error. */
void tm_eos_rm_rf(const char *path);

/* A uniform random integer in [lo, hi] from the test's own generator
 * (seeded by tm_eos_seed). */
int64_t tm_eos_random(int64_t lo, int64_t hi);
void tm_eos_seed(uint64_t seed);

/* A positive integer from the environment variable name, else def. */
long tm_eos_env_long(const char *name, long def);

#endif
