/*
 * eos_harness.c: see eos_harness.h.
 */
#include "eos_harness.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "generator.h"
#include "golden_compare.h"
#include "http_get.h"
#include "proc.h"

/* The pipeline's watermark bound and allowed lateness. A repartitioning
 * pipeline allows a lateness that no record of the workload exceeds
 * (checked against its statistics when the input is written): live, a
 * window task's watermark trails replay's and meets the source tasks'
 * events in another interleaving, so a record's lateness would decide
 * differently; with none too late, every record counts in both. */
enum { BOUND_MS = 2000, LATENESS_MS = 3000, REPARTITION_LATENESS_MS = 15000 };

/* Bounds, for a loaded two-core machine. */
enum {
    STOP_TIMEOUT_MS = 60000, /* SIGTERM to exit: one checkpoint and leaving the group */
    STABLE_MS = 1000,        /* outputs unchanged this long: done */
    POLL_MS = 100,
    LOG_TAIL_LINES = 40
};

static const char *const OUTPUT_TOPIC = "gmv";
static const char *const LATE_TOPIC = "orders-late";
static const char *const DLQ_TOPIC = "orders-dlq";
static const char *const INPUT_TOPIC = "orders";

/* The test's only environment (one test per process: Criterion forks). */
static tm_eos *current;
/* A `tidemark` command other than run (reset, changelog) finishes well
 * within this. */
enum { CLI_TIMEOUT_MS = 60000 };
static uint64_t rng_state = 0x2545F4914F6CDD1Dull;

/* ---- small things ---- */

void tm_eos_seed(uint64_t seed)
{
    rng_state = seed * 0x9E3779B97F4A7C15ull + 1;
}

int64_t tm_eos_random(int64_t lo, int64_t hi)
{
    uint64_t r = tm_rand_next(&rng_state);
    return lo + (int64_t)(r % (uint64_t)(hi - lo + 1));
}

long tm_eos_env_long(const char *name, long def)
{
    const char *s = getenv(name);
    if (!s || !*s)
        return def;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    cr_assert(errno == 0 && *end == '\0' && v > 0, "%s: expected a positive integer, got '%s'",
              name, s);
    return v;
}

/* buf = a/b; fails the test if it does not fit. */
static void join_path(char *buf, size_t len, const char *a, const char *b)
{
    int n = snprintf(buf, len, "%s/%s", a, b);
    cr_assert(n > 0 && (size_t)n < len, "path too long: %s/%s", a, b);
}

static int rm_rf_at(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : -1;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (!d)
            return -1;
        struct dirent *de;
        int rc = 0;
        while (rc == 0 && (de = readdir(d))) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            char child[4096];
            int n = snprintf(child, sizeof child, "%s/%s", path, de->d_name);
            rc = n > 0 && (size_t)n < sizeof child ? rm_rf_at(child) : -1;
        }
        closedir(d);
        return rc == 0 ? rmdir(path) : rc;
    }
    return unlink(path);
}

void tm_eos_rm_rf(const char *path)
{
    cr_assert(rm_rf_at(path) == 0, "rm -rf %s: %s", path, strerror(errno));
}

/* Prints the last lines of a log to stderr. */
static void print_log_tail(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "(no log at %s)\n", path);
        return;
    }
    char *lines[LOG_TAIL_LINES] = {0};
    size_t n = 0;
    char *buf = NULL;
    size_t cap = 0;
    while (getline(&buf, &cap, f) > 0) {
        free(lines[n % LOG_TAIL_LINES]);
        lines[n % LOG_TAIL_LINES] = strdup(buf);
        n++;
    }
    free(buf);
    fclose(f);
    fprintf(stderr, "---- last lines of %s ----\n", path);
    size_t first = n > LOG_TAIL_LINES ? n - LOG_TAIL_LINES : 0;
    for (size_t i = first; i < n; i++)
        fputs(lines[i % LOG_TAIL_LINES] ? lines[i % LOG_TAIL_LINES] : "", stderr);
    fprintf(stderr, "---- end of %s ----\n", path);
    for (size_t i = 0; i < LOG_TAIL_LINES; i++)
        free(lines[i]);
}

/* ---- setup and teardown ---- */

static int lateness_ms(const tm_eos *e)
{
    return e->repartition ? REPARTITION_LATENESS_MS : LATENESS_MS;
}

static const char *window_json(tm_eos_window w)
{
    switch (w) {
    case TM_EOS_HOPPING:
        return "{\"type\":\"hopping\",\"size_ms\":10000,\"advance_ms\":5000}";
    case TM_EOS_SESSION:
        return "{\"type\":\"session\",\"gap_ms\":1000}";
    case TM_EOS_TUMBLING_HOUR:
        return "{\"type\":\"tumbling\",\"size_ms\":3600000}";
    default:
        return "{\"type\":\"tumbling\",\"size_ms\":5000}";
    }
}

/* The pipeline: the workload's order events (workload.h), per merchant,
 * with dedup, clamped clock skew, and all three outputs. Repartitioning
 * off (repartition.mode never), as the workload puts every record of a
 * merchant in one partition, unless the test repartitions: then the
 * default mode (auto: a pointer group_by repartitions), with input keyed
 * by order id. Idleness off: the live watermark's idleness follows the
 * wall clock and replay's the receipt times; without it the two agree. */
static void write_config(tm_eos *e, tm_eos_window w)
{
    FILE *f = fopen(e->config_path, "w");
    cr_assert(f, "cannot write %s: %s", e->config_path, strerror(errno));
    const char *mode = e->repartition ? "" : "  \"repartition\": {\"mode\": \"never\"},\n";
    fprintf(f,
            "{\n"
            "  \"application_id\": \"%s\",\n"
            "  \"input\": {\"topics\": [\"%s\"],\n"
            "            \"event_time\": {\"pointer\": \"/event_time\", \"format\": \"auto\"},\n"
            "            \"group_by\": \"/merchant\", \"event_id\": \"/order_id\"},\n"
            "  \"watermark\": {\"max_out_of_orderness_ms\": %d, \"idle_timeout_ms\": 0},\n"
            "%s"
            "  \"window\": %s,\n"
            "  \"allowed_lateness_ms\": %d,\n"
            "  \"aggregations\": [\n"
            "    {\"name\": \"orders\", \"op\": \"count\"},\n"
            "    {\"name\": \"gmv\", \"op\": \"sum\", \"pointer\": \"/amount\"},\n"
            "    {\"name\": \"max_amount\", \"op\": \"max\", \"pointer\": \"/amount\"},\n"
            "    {\"name\": \"avg_amount\", \"op\": \"avg\", \"pointer\": \"/amount\"}\n"
            "  ],\n"
            "  \"dedup\": {\"enabled\": true, \"key\": \"id+event_time\"},\n"
            "  \"clock_skew\": {\"max_ahead_ms\": 60000, \"action\": \"clamp\"},\n"
            "  \"output\": {\"topic\": \"%s\", \"late_topic\": \"%s\", \"dlq_topic\": \"%s\"},\n"
            "  \"state.dir\": \"%s/state\",\n"
            "  \"commit_interval_ms\": 100,\n"
            "  \"metrics.port\": 0,\n"
            "  \"kafka\": {\n"
            "    \"bootstrap.servers\": \"%s\",\n"
            "    \"session.timeout.ms\": 6000,\n"
            "    \"heartbeat.interval.ms\": 1000,\n"
            "    \"transaction.timeout.ms\": 10000\n"
            "  }\n"
            "}\n",
            e->app_id, INPUT_TOPIC, BOUND_MS, mode, window_json(w), lateness_ms(e), OUTPUT_TOPIC,
            LATE_TOPIC, DLQ_TOPIC, e->dir, tm_test_broker_bootstrap(e->broker));
    cr_assert(fclose(f) == 0, "cannot write %s", e->config_path);
}

/* Starts the test broker with the topics (not the changelog: the service
 * creates it with CreateTopics), its probe, and writes the configuration
 * with its address. */
static void start_broker(tm_eos *e)
{
    char parts[16], brokers_s[16], t_in[64], t_out[64], t_late[64], t_dlq[64];
    char log[TM_EOS_PATH];
    snprintf(parts, sizeof parts, "%d", e->partitions);
    snprintf(brokers_s, sizeof brokers_s, "%d", e->brokers);
    snprintf(t_in, sizeof t_in, "%s:%s", INPUT_TOPIC, parts);
    snprintf(t_out, sizeof t_out, "%s:%s", OUTPUT_TOPIC, parts);
    snprintf(t_late, sizeof t_late, "%s:%s", LATE_TOPIC, parts);
    snprintf(t_dlq, sizeof t_dlq, "%s:%s", DLQ_TOPIC, parts);
    join_path(log, sizeof log, e->dir, "broker.log");
    /* Not the changelog topic: the service creates it (CreateTopics). */
    const char *args[10 + TM_EOS_MAX_BROKER_ARGS + 1] = {"--brokers", brokers_s, "--topic", t_in,
                                                         "--topic",   t_out,     "--topic", t_late,
                                                         "--topic",   t_dlq};
    for (size_t i = 0; i < TM_EOS_MAX_BROKER_ARGS && e->broker_args[i]; i++)
        args[10 + i] = e->broker_args[i];
    e->broker = tm_test_broker_start(args, log);
    e->probe = tm_kafka_probe_new(tm_test_broker_bootstrap(e->broker), e->app_id);
    write_config(e, e->window);
}

void tm_eos_replace_broker(tm_eos *e)
{
    tm_kafka_probe_free(e->probe);
    tm_test_broker_stop(e->broker);
    start_broker(e);
    printf("eos %s: a new, empty broker %s\n", e->name, tm_test_broker_bootstrap(e->broker));
    fflush(stdout);
}

tm_eos *tm_eos_setup(const tm_eos_options *o)
{
    cr_assert(!current, "tm_eos_setup called twice");
    tm_eos *e = calloc(1, sizeof *e);
    cr_assert(e, "out of memory");
    current = e;
    e->t0 = tm_test_now_ms();
    snprintf(e->name, sizeof e->name, "%s", o->name);
    e->partitions = o->partitions > 0 ? o->partitions : 4;
    e->brokers = o->brokers > 0 ? o->brokers : 3;
    e->merchants = o->merchants;
    e->window = o->window;
    e->repartition = o->repartition;
    memcpy(e->broker_args, o->broker_args, sizeof e->broker_args);

    const char *tmp = getenv("TMPDIR");
    char templ[TM_EOS_PATH];
    int tn = snprintf(templ, sizeof templ, "%s/tidemark-eos-%s-XXXXXX", tmp && *tmp ? tmp : "/tmp",
                      e->name);
    cr_assert(tn > 0 && (size_t)tn < sizeof templ, "TMPDIR too long");
    cr_assert(mkdtemp(templ), "mkdtemp %s: %s", templ, strerror(errno));
    snprintf(e->dir, sizeof e->dir, "%s", templ);
    join_path(e->config_path, sizeof e->config_path, e->dir, "config.json");
    join_path(e->input_path, sizeof e->input_path, e->dir, "input.jsonl");
    /* Unique per test run: the directory's random suffix. */
    snprintf(e->app_id, sizeof e->app_id, "eos-%s-%s", e->name, strrchr(e->dir, '-') + 1);
    snprintf(e->changelog_topic, sizeof e->changelog_topic, "%s-changelog", e->app_id);
    snprintf(e->repartition_topic, sizeof e->repartition_topic, "%s-repartition", e->app_id);

    start_broker(e);
    printf("eos %s: directory %s, broker %s\n", e->name, e->dir,
           tm_test_broker_bootstrap(e->broker));
    fflush(stdout);
    return e;
}

void tm_eos_teardown(void)
{
    tm_eos *e = current;
    if (!e)
        return;
    current = NULL;
    tm_feeder_stop(e->feeder);
    for (int i = 0; i < e->n_inst; i++)
        if (e->inst[i].pid > 0)
            tm_proc_kill(e->inst[i].pid);
    tm_kafka_probe_free(e->probe);
    tm_test_broker_stop(e->broker);
    tm_proc_kill_all();
    const char *keep = getenv("TIDEMARK_EOS_KEEP");
    if (e->passed && keep && *keep && strcmp(keep, "0") != 0) {
        fprintf(stderr, "eos %s: kept %s (TIDEMARK_EOS_KEEP)\n", e->name, e->dir);
    } else if (e->passed) {
        rm_rf_at(e->dir);
    } else {
        fprintf(stderr, "eos %s: FAILED; kept %s (logs: *.log, outputs: live/, replay/)\n", e->name,
                e->dir);
    }
    free(e);
}

void tm_eos_pass(tm_eos *e)
{
    e->passed = true;
    printf("eos %s: passed in %.1f s\n", e->name, (double)(tm_test_now_ms() - e->t0) / 1000.0);
    fflush(stdout);
}

/* ---- input ---- */

void tm_eos_write_input(tm_eos *e, size_t events, uint64_t seed)
{
    const tm_workload_options o = {.seed = seed,
                                   .events = events,
                                   .partitions = e->partitions,
                                   .merchants = e->merchants,
                                   .topic = INPUT_TOPIC,
                                   .key_by_order = e->repartition};
    tm_workload_write(e->input_path, &o, &e->workload);
    const tm_workload_stats *s = &e->workload;
    printf("eos %s: input %zu events (%zu on time, %zu late, %zu duplicates, %zu malformed, "
           "%zu clock-skewed) over %.0f s of receipt time; at most %.1f s behind\n",
           e->name, s->lines, s->on_time, s->late, s->duplicates, s->malformed, s->skewed,
           (double)(s->last_ts - s->first_ts) / 1000.0, (double)s->max_behind_ms / 1000.0);
    fflush(stdout);
    if (!e->repartition)
        return;
    printf("eos %s: keyed by order id: %zu merchants on more than one partition\n", e->name,
           s->split_merchants);
    fflush(stdout);
    /* The input must need repartitioning, and no record may be too late
     * (lateness_ms). */
    cr_assert_gt(s->split_merchants, 0, "no merchant's records spread over partitions");
    cr_assert_leq(s->max_behind_ms, BOUND_MS + REPARTITION_LATENESS_MS,
                  "an event %lld ms behind: more than the bound and the allowed lateness",
                  (long long)s->max_behind_ms);
}

void tm_eos_load_input(tm_eos *e)
{
    size_t n = tm_kafka_io_load(tm_test_broker_bootstrap(e->broker), e->input_path, INPUT_TOPIC);
    cr_assert_eq(n, e->workload.lines, "loaded %zu of %zu lines", n, e->workload.lines);
}

void tm_eos_feed(tm_eos *e, size_t first, size_t count, double rate_per_s)
{
    cr_assert(!e->feeder, "a feeder is already running");
    e->feeder = tm_feeder_start(tm_test_broker_bootstrap(e->broker), e->input_path, INPUT_TOPIC,
                                first, count, rate_per_s);
}

void tm_eos_join_feeder(tm_eos *e, int64_t timeout_ms)
{
    if (!e->feeder)
        return;
    tm_feeder *f = e->feeder;
    e->feeder = NULL;
    tm_feeder_join(f, timeout_ms);
}

/* ---- instances ---- */

tm_eos_instance *tm_eos_instance_add(tm_eos *e, const char *id)
{
    cr_assert(e->n_inst < TM_EOS_MAX_INSTANCES, "too many instances");
    tm_eos_instance *in = &e->inst[e->n_inst++];
    snprintf(in->id, sizeof in->id, "%s", id);
    char sub[64];
    snprintf(sub, sizeof sub, "state-%s", id);
    join_path(in->state_dir, sizeof in->state_dir, e->dir, sub);
    return in;
}

void tm_eos_start(tm_eos *e, tm_eos_instance *in)
{
    const char *bin = getenv("TIDEMARK_BINARY");
    cr_assert(bin && *bin, "TIDEMARK_BINARY is not set (ctest sets it)");
    cr_assert(in->pid == 0, "instance %s is already running", in->id);
    in->runs++;
    char name[64], set[TM_EOS_PATH + 16], port[32];
    snprintf(name, sizeof name, "%s.%d.log", in->id, in->runs);
    join_path(in->log_path, sizeof in->log_path, e->dir, name);
    snprintf(set, sizeof set, "state.dir=%s", in->state_dir);
    snprintf(port, sizeof port, "metrics.port=%d", in->metrics_port);
    const char *instance_id = in->instance_id[0] ? in->instance_id : in->id;
    char *argv[10 + 2 * TM_EOS_MAX_SETS + 1] = {
        (char *)bin,         "run",   "--config", e->config_path, "--instance-id",
        (char *)instance_id, "--set", set,        "--set",        port};
    size_t argc = 10;
    for (size_t i = 0; i < TM_EOS_MAX_SETS && in->sets[i]; i++) {
        argv[argc++] = "--set";
        argv[argc++] = (char *)in->sets[i];
    }
    argv[argc] = NULL;
    const tm_proc_io io = {.log_path = in->log_path};
    in->pid = tm_proc_spawn(argv, &io);
}

void tm_eos_kill(tm_eos *e, tm_eos_instance *in)
{
    (void)e;
    if (in->pid > 0)
        tm_proc_kill(in->pid);
    in->pid = 0;
}

void tm_eos_stop(tm_eos *e, tm_eos_instance *in)
{
    (void)e;
    cr_assert(in->pid > 0, "instance %s is not running", in->id);
    int status;
    bool exited = tm_proc_signal_wait(in->pid, SIGTERM, STOP_TIMEOUT_MS, &status);
    in->pid = 0;
    if (!exited || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        print_log_tail(in->log_path);
    cr_assert(exited, "instance %s did not exit within %d ms of SIGTERM (killed); log %s", in->id,
              STOP_TIMEOUT_MS, in->log_path);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "instance %s: SIGTERM: %s, expected exit 0; log %s", in->id,
              tm_proc_status_str(status), in->log_path);
}

int tm_eos_cli(tm_eos *e, const char *log_name, const char *const *args, char *log_path,
               size_t log_path_len)
{
    const char *bin = getenv("TIDEMARK_BINARY");
    cr_assert(bin && *bin, "TIDEMARK_BINARY is not set (ctest sets it)");
    join_path(log_path, log_path_len, e->dir, log_name);
    char *argv[24] = {(char *)bin};
    size_t argc = 1;
    for (size_t i = 0; args[i]; i++) {
        cr_assert(argc < 23, "too many arguments");
        argv[argc++] = (char *)args[i];
    }
    argv[argc] = NULL;
    const tm_proc_io io = {.log_path = log_path};
    pid_t pid = tm_proc_spawn(argv, &io);
    int status;
    bool exited = tm_proc_wait(pid, CLI_TIMEOUT_MS, &status);
    if (!exited)
        print_log_tail(log_path);
    cr_assert(exited, "tidemark %s did not exit within %d ms; log %s", args[0], CLI_TIMEOUT_MS,
              log_path);
    return status;
}

void tm_eos_expect_exit(tm_eos *e, tm_eos_instance *in, int code, int64_t timeout_ms,
                        const char *why)
{
    (void)e;
    cr_assert(in->pid > 0, "instance %s is not running", in->id);
    int status;
    bool exited = tm_proc_wait(in->pid, timeout_ms, &status);
    if (!exited)
        print_log_tail(in->log_path);
    cr_assert(exited, "instance %s did not exit within %lld ms; log %s", in->id,
              (long long)timeout_ms, in->log_path);
    in->pid = 0;
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == code, "%s: %s, want exit %d; log %s", why,
              tm_proc_status_str(status), code, in->log_path);
}

tm_eos_instance *tm_eos_run_once(tm_eos *e, size_t events, uint64_t seed)
{
    tm_eos_write_input(e, events, seed);
    tm_eos_load_input(e);
    tm_eos_instance *a = tm_eos_instance_add(e, "a");
    tm_eos_start(e, a);
    tm_eos_wait_done(e, 120000);
    tm_eos_stop(e, a);
    return a;
}

void tm_eos_check_instances(tm_eos *e)
{
    for (int i = 0; i < e->n_inst; i++) {
        tm_eos_instance *in = &e->inst[i];
        int status;
        if (in->pid <= 0 || !tm_proc_exited(in->pid, &status))
            continue;
        in->pid = 0;
        bool restartable = e->supervise && WIFEXITED(status) && WEXITSTATUS(status) != 0;
        print_log_tail(in->log_path);
        cr_assert(restartable, "instance %s exited by itself: %s; log %s", in->id,
                  tm_proc_status_str(status), in->log_path);
        in->unexpected_exits++;
        printf("eos %s: instance %s exited by itself (%s; log %s): restarting it\n", e->name,
               in->id, tm_proc_status_str(status), in->log_path);
        fflush(stdout);
        tm_eos_start(e, in);
    }
}

bool tm_eos_log_contains(const tm_eos_instance *in, const char *needle)
{
    return tm_eos_file_contains(in->log_path, needle);
}

bool tm_eos_file_contains(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    char *buf = NULL;
    size_t cap = 0;
    bool found = false;
    while (!found && getline(&buf, &cap, f) > 0)
        found = strstr(buf, needle) != NULL;
    free(buf);
    fclose(f);
    return found;
}

void tm_eos_wait_log(tm_eos *e, tm_eos_instance *in, const char *needle, int64_t timeout_ms)
{
    int64_t deadline = tm_test_now_ms() + timeout_ms;
    int runs = in->runs;
    while (!tm_eos_log_contains(in, needle)) {
        tm_eos_check_instances(e);
        cr_assert(in->runs == runs, "instance %s restarted while waiting for '%s'", in->id, needle);
        if (tm_test_now_ms() > deadline) {
            print_log_tail(in->log_path);
            cr_assert_fail("instance %s: no '%s' in its log within %lld ms; log %s", in->id, needle,
                           (long long)timeout_ms, in->log_path);
        }
        tm_test_sleep_ms(20);
    }
}

void tm_eos_wait_http(tm_eos *e, int port, const char *path, int want, int64_t timeout_ms)
{
    tm_buf h = {0}, body = {0};
    int64_t deadline = tm_test_now_ms() + timeout_ms;
    int got;
    while ((got = tm_http_request(port, "GET", path, &h, &body)) != want) {
        cr_assert_lt(tm_test_now_ms(), deadline, "GET %s: %d (%s), want %d", path, got,
                     body.data ? body.data : "", want);
        tm_eos_sleep(e, 100);
    }
    tm_buf_free(&h);
    tm_buf_free(&body);
}

void tm_eos_sleep(tm_eos *e, int64_t ms)
{
    int64_t until = tm_test_now_ms() + ms;
    for (int64_t now = tm_test_now_ms(); now < until; now = tm_test_now_ms()) {
        tm_eos_check_instances(e);
        tm_test_sleep_ms(until - now < POLL_MS ? until - now : POLL_MS);
    }
}

/* ---- done ---- */

void tm_eos_committed(tm_eos *e, int64_t *out)
{
    int64_t deadline = tm_test_now_ms() + 30000;
    while (tm_kafka_probe_committed(e->probe, INPUT_TOPIC, e->partitions, out) != 0) {
        cr_assert(tm_test_now_ms() < deadline, "no committed offsets from the broker in 30 s");
        tm_test_sleep_ms(POLL_MS);
    }
}

/* The topics whose last stable offsets and high watermarks "done" looks
 * at; the repartition topic only when the pipeline repartitions. */
enum { T_OUTPUT, T_LATE, T_DLQ, T_CHANGELOG, T_REPARTITION, WATCHED };

/* What "done" looks at, one sample. */
typedef struct sample {
    int64_t end[TM_WORKLOAD_MAX_PARTITIONS];
    int64_t committed[TM_WORKLOAD_MAX_PARTITIONS];
    /* The group's committed offsets of the repartition topic. */
    int64_t rp_committed[TM_WORKLOAD_MAX_PARTITIONS];
    int64_t hwm[WATCHED][TM_WORKLOAD_MAX_PARTITIONS];
    int64_t lso[WATCHED][TM_WORKLOAD_MAX_PARTITIONS];
    int n[WATCHED]; /* partitions of each (0: not there, or not watched) */
} sample;

/* Takes a sample; false when the broker did not answer (poll again). */
static bool take_sample(tm_eos *e, sample *s)
{
    const char *topics[WATCHED] = {OUTPUT_TOPIC, LATE_TOPIC, DLQ_TOPIC, e->changelog_topic,
                                   e->repartition_topic};
    memset(s, 0, sizeof *s);
    if (tm_kafka_probe_end_offsets(e->probe, INPUT_TOPIC, e->partitions, s->end, NULL) != 0 ||
        tm_kafka_probe_committed(e->probe, INPUT_TOPIC, e->partitions, s->committed) != 0)
        return false;
    for (int t = 0; t < WATCHED; t++) {
        if (t == T_REPARTITION && !e->repartition)
            continue;
        s->n[t] = t >= T_CHANGELOG ? tm_kafka_probe_partitions(e->probe, topics[t]) : e->partitions;
        if (s->n[t] < 0)
            return false;
        cr_assert(s->n[t] <= TM_WORKLOAD_MAX_PARTITIONS, "%s: %d partitions", topics[t], s->n[t]);
        if (tm_kafka_probe_end_offsets(e->probe, topics[t], s->n[t], s->hwm[t], s->lso[t]) != 0)
            return false;
    }
    return s->n[T_REPARTITION] == 0 ||
           tm_kafka_probe_committed(e->probe, e->repartition_topic, s->n[T_REPARTITION],
                                    s->rp_committed) == 0;
}

static bool input_committed(const tm_eos *e, const sample *s)
{
    for (int p = 0; p < e->partitions; p++)
        if (s->committed[p] != s->end[p])
            return false;
    return true;
}

/* Repartition partitions whose committed offset is not their end offset
 * (none committed: -1). */
static int repartition_short(const sample *s)
{
    int n = 0;
    for (int r = 0; r < s->n[T_REPARTITION]; r++)
        n += s->rp_committed[r] != s->hwm[T_REPARTITION][r];
    return n;
}

/*
 * Whether the window tasks have read and committed every event and
 * watermark that the source tasks forwarded: 1 yes, 0 no, -1 no answer.
 * Past the group's committed offset of a repartition partition, there must
 * be no record that read_committed shows: its end offset, or transaction
 * markers only (the service commits the offset after the last record it
 * read, and the marker of the transaction that wrote the record follows
 * it; tests/eos/README.md). The topic is created by the service: until it
 * is, nothing is done. Asks the broker only about partitions short of
 * their end offsets.
 */
static int repartition_consumed(tm_eos *e, const sample *s)
{
    if (s->n[T_REPARTITION] == 0)
        return 0;
    for (int r = 0; r < s->n[T_REPARTITION]; r++) {
        int64_t c = s->rp_committed[r], end = s->hwm[T_REPARTITION][r];
        if (c == end)
            continue;
        int has = tm_kafka_probe_has_records(e->probe, e->repartition_topic, r, c < 0 ? 0 : c, end);
        if (has != 0)
            return has > 0 ? 0 : -1;
    }
    return 1;
}

int tm_eos_repartition_short(tm_eos *e)
{
    sample *s = malloc(sizeof *s);
    cr_assert(s, "out of memory");
    int64_t deadline = tm_test_now_ms() + 30000;
    while (!take_sample(e, s))
        cr_assert(tm_test_now_ms() < deadline, "no offsets from the broker in 30 s");
    int n = repartition_short(s);
    free(s);
    return n;
}

static bool no_open_transaction(const sample *s)
{
    for (int t = 0; t < WATCHED; t++)
        for (int p = 0; p < s->n[t]; p++)
            if (s->lso[t][p] != s->hwm[t][p])
                return false;
    return true;
}

int tm_eos_open_transactions(tm_eos *e)
{
    sample *s = malloc(sizeof *s);
    cr_assert(s, "out of memory");
    int64_t deadline = tm_test_now_ms() + 30000;
    while (!take_sample(e, s))
        cr_assert(tm_test_now_ms() < deadline, "no offsets from the broker in 30 s");
    int open = 0;
    for (int t = 0; t < WATCHED; t++)
        for (int p = 0; p < s->n[t]; p++)
            open += s->lso[t][p] != s->hwm[t][p];
    free(s);
    return open;
}

static void describe(const tm_eos *e, const sample *s, char *buf, size_t len)
{
    size_t used = 0;
    for (int p = 0; p < e->partitions && used < len; p++)
        used +=
            (size_t)snprintf(buf + used, len - used, "%s[%d] committed %lld of %lld", p ? ", " : "",
                             p, (long long)s->committed[p], (long long)s->end[p]);
    for (int r = 0; r < s->n[T_REPARTITION] && used < len; r++)
        used +=
            (size_t)snprintf(buf + used, len - used, "; repartition[%d] committed %lld of %lld", r,
                             (long long)s->rp_committed[r], (long long)s->hwm[T_REPARTITION][r]);
    if (used < len && e->repartition && s->n[T_REPARTITION] == 0)
        used += (size_t)snprintf(buf + used, len - used, "; no repartition topic yet");
    if (used < len)
        snprintf(buf + used, len - used, "; %s",
                 no_open_transaction(s) ? "no open transaction" : "a transaction open");
}

void tm_eos_wait_done(tm_eos *e, int64_t timeout_ms)
{
    int64_t start = tm_test_now_ms(), deadline = start + timeout_ms, stable_since = start;
    sample *buf = calloc(2, sizeof *buf), *s = buf, *last = buf + 1;
    cr_assert(buf, "out of memory");
    bool have_last = false;
    char state[2048] = "no answer from the broker";
    for (;;) {
        tm_eos_check_instances(e);
        int64_t now = tm_test_now_ms();
        if (e->feeder && !tm_feeder_finished(e->feeder)) {
            snprintf(state, sizeof state, "the feeder has sent %zu lines",
                     tm_feeder_sent(e->feeder));
        } else if (take_sample(e, s)) {
            if (!have_last || memcmp(s->hwm, last->hwm, sizeof s->hwm) != 0 ||
                memcmp(s->n, last->n, sizeof s->n) != 0)
                stable_since = now;
            *last = *s;
            have_last = true;
            describe(e, s, state, sizeof state);
            if (input_committed(e, s) && no_open_transaction(s) &&
                now - stable_since >= STABLE_MS &&
                (!e->repartition || repartition_consumed(e, s) == 1))
                break;
        }
        if (now > deadline) {
            free(buf);
            for (int i = 0; i < e->n_inst; i++)
                if (e->inst[i].pid > 0)
                    print_log_tail(e->inst[i].log_path);
            cr_assert_fail("eos %s: not done within %lld ms: %s", e->name, (long long)timeout_ms,
                           state);
        }
        tm_test_sleep_ms(POLL_MS);
    }
    int short_by_markers = repartition_short(s);
    free(buf);
    tm_eos_join_feeder(e, 1000);
    printf("eos %s: done in %.1f s (%s)\n", e->name, (double)(tm_test_now_ms() - start) / 1000.0,
           state);
    if (short_by_markers > 0)
        printf("eos %s: the group's committed offsets of %d repartition partition(s) stop short "
               "of the end offset, by transaction markers only\n",
               e->name, short_by_markers);
    fflush(stdout);
}

/* ---- verification ---- */

static size_t count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    cr_assert(f, "cannot open %s", path);
    size_t n = 0;
    int c;
    while ((c = fgetc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

void tm_eos_finish(tm_eos *e, tm_eos_instance *in, int64_t timeout_ms)
{
    tm_eos_wait_done(e, timeout_ms);
    tm_eos_stop(e, in);
    tm_eos_verify(e);
    tm_eos_pass(e);
}

void tm_eos_verify(tm_eos *e)
{
    char live[TM_EOS_PATH], want[TM_EOS_PATH], path[TM_EOS_PATH + 32], err[1024];
    join_path(live, sizeof live, e->dir, "live");
    join_path(want, sizeof want, e->dir, "replay");
    cr_assert(mkdir(live, 0755) == 0, "mkdir %s: %s", live, strerror(errno));
    const char *bootstrap = tm_test_broker_bootstrap(e->broker);
    join_path(path, sizeof path, live, "output.jsonl");
    e->live_results = tm_kafka_io_dump(bootstrap, OUTPUT_TOPIC, path);
    join_path(path, sizeof path, live, "late.jsonl");
    e->live_late = tm_kafka_io_dump(bootstrap, LATE_TOPIC, path);
    join_path(path, sizeof path, live, "dlq.jsonl");
    e->live_dead = tm_kafka_io_dump(bootstrap, DLQ_TOPIC, path);

    tm_config *cfg = NULL;
    cr_assert(tm_config_load(&cfg, e->config_path, NULL, NULL, 0, err, sizeof err) == 0, "%s", err);
    int rc = tm_replay_run(cfg, e->input_path, want, &e->replay, err, sizeof err);
    tm_config_free(cfg);
    cr_assert(rc == 0, "replay: %s", err);
    join_path(path, sizeof path, want, "output.jsonl");
    cr_assert_eq(count_lines(path), e->replay.results);

    printf("eos %s: live %zu results, %zu late, %zu dead letters; replay %llu, %llu, %llu\n",
           e->name, e->live_results, e->live_late, e->live_dead,
           (unsigned long long)e->replay.results, (unsigned long long)e->replay.late,
           (unsigned long long)e->replay.dead);
    fflush(stdout);
    cr_assert_gt(e->replay.results, 100, "trivial output: %llu results",
                 (unsigned long long)e->replay.results);
    cr_assert_gt(e->replay.dead, 0, "no dead letters");
    if (!e->repartition) {
        tm_golden_compare_dirs(e->name, live, want);
        cr_assert_eq(e->live_results, e->replay.results);
        cr_assert_gt(e->replay.late, 0, "no late records");
        return;
    }
    tm_golden_compare_latest(e->name, live, want, &e->latest);
    const tm_golden_latest *l = &e->latest;
    printf("eos %s: %zu windows, the latest revisions equal; revised: live %zu (up to revision "
           "%ld), replay %zu (up to %ld)\n",
           e->name, l->windows, l->got_revised, l->got_max, l->want_revised, l->want_max);
    fflush(stdout);
    /* Nothing is too late (lateness_ms), in both; and windows are revised
     * (late events refire them), so that the revision check bites. */
    cr_assert_eq(e->replay.late, 0, "replay: %llu records too late",
                 (unsigned long long)e->replay.late);
    cr_assert_eq(e->live_late, 0, "live: %zu records too late", e->live_late);
    cr_assert_gt(l->want_revised, 0, "replay revised no window");
}

/* Calls fn with the message of every line of the current incarnation's
 * log that contains needle (a cheap filter before parsing the JSON); none
 * while there is no log yet. */
static void each_log_msg(const tm_eos_instance *in, const char *needle,
                         void (*fn)(void *ctx, const char *msg), void *ctx)
{
    FILE *f = fopen(in->log_path, "r");
    if (!f)
        return;
    char *buf = NULL;
    size_t cap = 0;
    while (getline(&buf, &cap, f) > 0) {
        if (!strstr(buf, needle))
            continue;
        cJSON *doc = cJSON_Parse(buf);
        const cJSON *msg = doc ? cJSON_GetObjectItemCaseSensitive(doc, "msg") : NULL;
        if (cJSON_IsString(msg))
            fn(ctx, msg->valuestring);
        cJSON_Delete(doc);
    }
    free(buf);
    fclose(f);
}

typedef struct restores {
    tm_eos_restore *out;
    int max, n;
} restores;

static void on_restore(void *ctx, const char *msg)
{
    restores *rs = ctx;
    tm_eos_restore r;
    long long ms, from;
    if (sscanf(msg,
               "task %d restored in %lld ms: %zu windows, %zu dedup keys, %zu changelog "
               "records replayed from offset %lld",
               &r.task, &ms, &r.windows, &r.dedup_keys, &r.records, &from) != 6)
        return;
    r.ms = ms;
    r.from = from;
    if (rs->n < rs->max)
        rs->out[rs->n] = r;
    rs->n++;
}

int tm_eos_restores(const tm_eos_instance *in, tm_eos_restore *out, int max)
{
    restores rs = {out, max, 0};
    each_log_msg(in, "restored in", on_restore, &rs);
    return rs.n;
}

static void on_summary(void *ctx, const char *msg)
{
    tm_eos_restore_summary *out = ctx, r;
    long long ms, open_ms, read_ms, rebuild_ms;
    if (sscanf(msg,
               "restored %d task(s) in %lld ms (stores opened in %lld ms, changelog read into "
               "them in %lld ms, engines rebuilt in %lld ms): %llu changelog records",
               &r.tasks, &ms, &open_ms, &read_ms, &rebuild_ms, &r.records) != 6)
        return;
    r.ms = ms;
    r.open_ms = open_ms;
    r.read_ms = read_ms;
    r.rebuild_ms = rebuild_ms;
    *out = r;
}

bool tm_eos_restore_summary_of(const tm_eos_instance *in, tm_eos_restore_summary *out)
{
    out->tasks = -1;
    each_log_msg(in, "task(s) in", on_summary, out);
    return out->tasks >= 0;
}

static void on_assigned(void *ctx, const char *msg)
{
    int n;
    if (sscanf(msg, "assigned %d task(s)", &n) == 1 && strstr(msg, "task(s)"))
        *(int *)ctx = n;
}

int tm_eos_log_assigned(const tm_eos_instance *in)
{
    int last = -1;
    each_log_msg(in, "assigned", on_assigned, &last);
    return last;
}

void tm_eos_wait_restored(tm_eos *e, tm_eos_instance *in, int64_t timeout_ms)
{
    int64_t deadline = tm_test_now_ms() + timeout_ms;
    int runs = in->runs;
    for (;;) {
        int assigned = tm_eos_log_assigned(in);
        if (assigned > 0 && tm_eos_restores(in, NULL, 0) >= assigned)
            return;
        tm_eos_check_instances(e);
        cr_assert(in->runs == runs, "instance %s restarted while waiting for its restores", in->id);
        if (tm_test_now_ms() > deadline) {
            print_log_tail(in->log_path);
            cr_assert_fail("instance %s: not assigned and restored within %lld ms; log %s", in->id,
                           (long long)timeout_ms, in->log_path);
        }
        tm_test_sleep_ms(20);
    }
}

/* Kafka's EndTxn request and its retriable CONCURRENT_TRANSACTIONS error;
 * four refusals cost the client about 1.5 s of backoff (100 ms doubling). */
enum { API_END_TXN = 26, ERR_CONCURRENT_TRANSACTIONS = 51, END_TXN_REFUSALS = 4 };

int tm_eos_changelog_open(tm_eos *e)
{
    int n = tm_kafka_probe_partitions(e->probe, e->changelog_topic);
    if (n <= 0)
        return 0;
    cr_assert(n <= TM_WORKLOAD_MAX_PARTITIONS, "%s: %d partitions", e->changelog_topic, n);
    int64_t hwm[TM_WORKLOAD_MAX_PARTITIONS], lso[TM_WORKLOAD_MAX_PARTITIONS];
    int64_t deadline = tm_test_now_ms() + 30000;
    while (tm_kafka_probe_end_offsets(e->probe, e->changelog_topic, n, hwm, lso) != 0)
        cr_assert(tm_test_now_ms() < deadline, "no changelog offsets from the broker in 30 s");
    int open = 0;
    for (int p = 0; p < n; p++)
        open += lso[p] < hwm[p];
    return open;
}

bool tm_eos_hold_commit(tm_eos *e, int64_t timeout_ms)
{
    char cmd[64];
    snprintf(cmd, sizeof cmd, "fail %d %d %d", API_END_TXN, ERR_CONCURRENT_TRANSACTIONS,
             END_TXN_REFUSALS);
    tm_test_broker_command(e->broker, cmd);
    int64_t deadline = tm_test_now_ms() + timeout_ms;
    while (tm_test_now_ms() < deadline) {
        if (tm_eos_changelog_open(e) > 0)
            return true;
        tm_eos_check_instances(e);
        tm_test_sleep_ms(5);
    }
    return false;
}

int64_t tm_eos_committed_total(tm_eos *e)
{
    int64_t c[TM_WORKLOAD_MAX_PARTITIONS], sum = 0;
    tm_eos_committed(e, c);
    for (int p = 0; p < e->partitions; p++)
        sum += c[p] > 0 ? c[p] : 0;
    return sum;
}

void tm_eos_wait_assigned(tm_eos *e, tm_eos_instance *in, int64_t timeout_ms)
{
    int64_t deadline = tm_test_now_ms() + timeout_ms;
    while (tm_eos_log_assigned(in) < 0) {
        tm_eos_check_instances(e);
        cr_assert(tm_test_now_ms() < deadline, "instance %s: not assigned within %lld ms", in->id,
                  (long long)timeout_ms);
        tm_test_sleep_ms(1);
    }
}

int tm_eos_restored_tasks(const tm_eos_instance *in, bool *tasks, int n_tasks)
{
    enum { MAX_RESTORES = 256 };
    tm_eos_restore r[MAX_RESTORES];
    int n = tm_eos_restores(in, r, MAX_RESTORES), count = 0;
    for (int i = 0; i < n_tasks; i++)
        tasks[i] = false;
    for (int i = 0; i < n && i < MAX_RESTORES; i++) {
        cr_assert(r[i].task >= 0 && r[i].task < n_tasks, "restore of task %d", r[i].task);
        count += !tasks[r[i].task];
        tasks[r[i].task] = true;
    }
    return count;
}

void tm_eos_expect_restored(tm_eos *e, const tm_eos_instance *to, const bool *from, int n_tasks)
{
    enum { MAX_RESTORES = 256 };
    tm_eos_restore r[MAX_RESTORES];
    int n = tm_eos_restores(to, r, MAX_RESTORES);
    for (int p = 0; p < n_tasks; p++) {
        if (!from[p])
            continue;
        bool seen = false;
        for (int i = 0; i < n && i < MAX_RESTORES; i++) {
            if (r[i].task != p)
                continue;
            seen = true;
            printf("eos %s: %s restored task %d in %lld ms: %zu windows, %zu changelog records "
                   "from offset %lld\n",
                   e->name, to->id, p, (long long)r[i].ms, r[i].windows, r[i].records,
                   (long long)r[i].from);
            cr_assert_gt(r[i].records, 0, "%s restored task %d without changelog records", to->id,
                         p);
        }
        cr_assert(seen, "%s never restored task %d", to->id, p);
    }
}
