/*
 * The contracts in proto/ against records tidemark really wrote:
 *
 * - live: `tidemark run` on the test broker over a workload with late,
 *   duplicated, malformed and clock-skewed records; the committed output,
 *   late and dead-letter topics (keys, values, headers) and the changelog
 *   as `tidemark changelog` decodes it, each record valid against its
 *   schema, with non-trivial counts of every kind;
 * - replay: `tidemark replay` on every worked example of
 *   tests/golden/examples, each line valid against the replay envelope;
 *   `tidemark replay --batch` too, each batch result valid against its
 *   schema and each dead letter against the envelope;
 * - the validator itself: records mutated away from the contract are
 *   rejected (so that the tests above can fail).
 *
 * Validation is tests/proto/validate.py (python3 + jsonschema), one run
 * per file; its report goes to the test's output.
 */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "eos_harness.h"
#include "kafka_io.h"
#include "proc.h"

enum { PATH_LEN = 1024, RUN_TIMEOUT_MS = 120000 };

static const char *source_dir(void)
{
    const char *s = getenv("TIDEMARK_SOURCE_DIR");
    cr_assert(s && *s, "TIDEMARK_SOURCE_DIR is not set (ctest sets it)");
    return s;
}

static const char *tidemark_binary(void)
{
    const char *s = getenv("TIDEMARK_BINARY");
    cr_assert(s && *s, "TIDEMARK_BINARY is not set (ctest sets it)");
    return s;
}

static void path_join(char *buf, const char *a, const char *b)
{
    int n = snprintf(buf, PATH_LEN, "%s/%s", a, b);
    cr_assert(n > 0 && n < PATH_LEN, "path too long: %s/%s", a, b);
}

static void print_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        fwrite(buf, 1, n, stderr);
    fclose(f);
}

/*
 * Runs argv (argv[0] a path) to its exit, bounded: standard output into
 * out_path (NULL: into log_path with standard error), standard error
 * appended to log_path. Returns the exit status; a signal or a timeout
 * fails the test.
 */
static int run(char *const argv[], const char *out_path, const char *log_path)
{
    int out_fd = -1;
    const tm_proc_io io = {.log_path = log_path, .stdout_fd = out_path ? &out_fd : NULL};
    pid_t pid = tm_proc_spawn(argv, &io);
    if (out_path) {
        FILE *out = fopen(out_path, "w");
        cr_assert(out, "cannot write %s: %s", out_path, strerror(errno));
        char buf[65536];
        ssize_t n;
        while ((n = read(out_fd, buf, sizeof buf)) != 0) {
            cr_assert(n > 0 || errno == EINTR, "reading %s's output: %s", argv[0], strerror(errno));
            if (n > 0)
                cr_assert_eq(fwrite(buf, 1, (size_t)n, out), (size_t)n, "cannot write %s",
                             out_path);
        }
        close(out_fd);
        cr_assert_eq(fclose(out), 0, "cannot write %s", out_path);
    }
    int status;
    if (!tm_proc_wait(pid, RUN_TIMEOUT_MS, &status)) {
        tm_proc_kill(pid);
        cr_assert_fail("%s did not exit within %d ms (log %s)", argv[0], RUN_TIMEOUT_MS, log_path);
    }
    cr_assert(WIFEXITED(status), "%s: %s (log %s)", argv[0], tm_proc_status_str(status), log_path);
    return WEXITSTATUS(status);
}

/* validate.py's exit status for jsonl against proto/<schema>; its report
 * goes to report (a path). */
static int validate(const char *schema, const char *jsonl, char *report)
{
    char script[PATH_LEN], schema_path[PATH_LEN], proto[PATH_LEN];
    path_join(script, source_dir(), "tests/proto/validate.py");
    path_join(proto, source_dir(), "proto");
    path_join(schema_path, proto, schema);
    snprintf(report, PATH_LEN, "%s.validation", jsonl);
    unlink(report);
    char *argv[] = {script, schema_path, (char *)jsonl, NULL};
    return run(argv, NULL, report);
}

static void assert_valid(const char *schema, const char *jsonl)
{
    char report[PATH_LEN];
    int rc = validate(schema, jsonl, report);
    if (rc != 0)
        print_file(report);
    cr_assert_eq(rc, 0, "%s: records invalid against %s (report above)", jsonl, schema);
}

/* A record the contract must refuse: validate.py says invalid (1), not
 * valid (0) and not a failure of its own (2). */
static void assert_rejected(const char *schema, const char *jsonl, const char *what)
{
    char report[PATH_LEN];
    int rc = validate(schema, jsonl, report);
    if (rc != 1)
        print_file(report);
    cr_assert_eq(rc, 1, "%s: validate.py exited %d for %s", schema, rc, what);
}

/* ---- reading JSON lines ---- */

/* Calls fn on every line of path, parsed (a line that is not JSON fails
 * the test); returns the line count. */
static size_t each_line(const char *path, void (*fn)(void *ctx, const cJSON *doc), void *ctx)
{
    FILE *f = fopen(path, "r");
    cr_assert(f, "cannot open %s: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0, n = 0;
    while (getline(&line, &cap, f) > 0) {
        cJSON *doc = cJSON_Parse(line);
        cr_assert(doc, "%s:%zu: not JSON", path, n + 1);
        fn(ctx, doc);
        cJSON_Delete(doc);
        n++;
    }
    free(line);
    fclose(f);
    return n;
}

static const char *string_member(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Distinct values of a string (at most MAX_DISTINCT). */
enum { MAX_DISTINCT = 32 };
typedef struct distinct {
    char *v[MAX_DISTINCT];
    size_t n;
} distinct;

static void distinct_add(distinct *d, const char *s)
{
    for (size_t i = 0; i < d->n; i++)
        if (strcmp(d->v[i], s) == 0)
            return;
    cr_assert_lt(d->n, MAX_DISTINCT);
    d->v[d->n++] = strdup(s);
}

static void distinct_free(distinct *d)
{
    for (size_t i = 0; i < d->n; i++)
        free(d->v[i]);
}

/* Output records: results and tombstones. */
typedef struct result_counts {
    size_t values, tombstones;
} result_counts;

static void count_result(void *ctx, const cJSON *doc)
{
    result_counts *c = ctx;
    if (string_member(doc, "payload"))
        c->values++;
    else
        c->tombstones++;
}

/* Batch results: the sum of their counts. */
static void count_events(void *ctx, const cJSON *doc)
{
    const cJSON *count = cJSON_GetObjectItemCaseSensitive(doc, "count");
    cr_assert(cJSON_IsNumber(count), "a batch result without a count");
    *(double *)ctx += count->valuedouble;
}

static void count_reason(void *ctx, const cJSON *doc)
{
    const char *reason =
        string_member(cJSON_GetObjectItemCaseSensitive(doc, "headers"), "tidemark.reason");
    cr_assert(reason, "a record without tidemark.reason");
    distinct_add(ctx, reason);
}

/* Changelog lines by kind, tombstones apart, and by partition. */
typedef struct changelog_counts {
    size_t window, window_fired, window_tombstone, dedup, dedup_tombstone, checkpoint;
    size_t per_partition[TM_WORKLOAD_MAX_PARTITIONS];
} changelog_counts;

static void count_changelog(void *ctx, const cJSON *doc)
{
    changelog_counts *c = ctx;
    const char *kind = string_member(doc, "kind");
    bool tombstone = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "tombstone"));
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(doc, "partition");
    cr_assert(kind && cJSON_IsNumber(p) && p->valueint >= 0 &&
              p->valueint < TM_WORKLOAD_MAX_PARTITIONS);
    c->per_partition[p->valueint]++;
    if (strcmp(kind, "window") == 0 && tombstone)
        c->window_tombstone++;
    else if (strcmp(kind, "window") == 0) {
        c->window++;
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "fired")))
            c->window_fired++;
    } else if (strcmp(kind, "dedup") == 0 && tombstone)
        c->dedup_tombstone++;
    else if (strcmp(kind, "dedup") == 0)
        c->dedup++;
    else if (strcmp(kind, "checkpoint") == 0)
        c->checkpoint++;
    else
        cr_assert_fail("unknown kind '%s'", kind);
}

/* ---- `tidemark changelog` ---- */

/* Runs `tidemark changelog --config config [--partition partition]`,
 * its output into out_path; returns its exit status. */
static int changelog_cli(const tm_eos *e, const char *partition, const char *out_path)
{
    char log[PATH_LEN];
    snprintf(log, sizeof log, "%s.log", out_path);
    char *argv[] = {
        (char *)tidemark_binary(),        "changelog",       "--config", (char *)e->config_path,
        partition ? "--partition" : NULL, (char *)partition, NULL};
    int rc = run(argv, out_path, log);
    if (rc != 0)
        print_file(log);
    return rc;
}

TestSuite(proto, .fini = tm_eos_teardown);

Test(proto, live_records_meet_the_contracts)
{
    tm_eos *e = tm_eos_setup(&(tm_eos_options){.name = "proto"});
    tm_eos_write_input(e, 5000, 11);
    tm_eos_instance *a = tm_eos_instance_add(e, "a");
    tm_eos_start(e, a);
    tm_eos_wait_restored(e, a, 60000);
    /* Fed over a few seconds to a running service, not preloaded: many
     * checkpoints, so that windows and dedup batches written by one are
     * tombstoned by a later one (a checkpoint coalesces what lives and
     * dies within it). */
    tm_eos_feed(e, 0, SIZE_MAX, 500);
    tm_eos_wait_done(e, 120000);
    tm_eos_stop(e, a);
    /* Dumps the three output topics into live/ (and checks them against
     * replay, by meaning). */
    tm_eos_verify(e);

    char live[PATH_LEN], output[PATH_LEN], late[PATH_LEN], dlq[PATH_LEN];
    path_join(live, e->dir, "live");
    path_join(output, live, "output.jsonl");
    path_join(late, live, "late.jsonl");
    path_join(dlq, live, "dlq.jsonl");
    assert_valid("window-result.schema.json", output);
    assert_valid("late-record.schema.json", late);
    assert_valid("dead-letter.schema.json", dlq);

    result_counts results = {0};
    distinct late_reasons = {0}, dlq_reasons = {0};
    each_line(output, count_result, &results);
    size_t n_late = each_line(late, count_reason, &late_reasons);
    size_t n_dlq = each_line(dlq, count_reason, &dlq_reasons);
    printf("proto: %zu results, %zu late, %zu dead letters (%zu reasons)\n", results.values, n_late,
           n_dlq, dlq_reasons.n);
    cr_assert_gt(results.values, 100, "results: %zu", results.values);
    cr_assert_gt(n_late, 5, "late records: %zu", n_late);
    cr_assert_eq(late_reasons.n, 1, "late records have one reason, too_late");
    cr_assert_geq(dlq_reasons.n, 3, "dead letters of %zu reason(s); the workload makes four",
                  dlq_reasons.n);
    distinct_free(&late_reasons);
    distinct_free(&dlq_reasons);

    /* The changelog, decoded by the real CLI: every record of the topic
     * (a tombstone too), valid, with every kind present. */
    char changelog[PATH_LEN], topic_dump[PATH_LEN];
    path_join(changelog, e->dir, "changelog.jsonl");
    path_join(topic_dump, e->dir, "changelog-topic.jsonl");
    cr_assert_eq(changelog_cli(e, NULL, changelog), 0, "tidemark changelog failed");
    assert_valid("changelog.schema.json", changelog);
    changelog_counts cc = {0};
    size_t n_changelog = each_line(changelog, count_changelog, &cc);
    size_t n_topic =
        tm_kafka_io_dump(tm_test_broker_bootstrap(e->broker), e->changelog_topic, topic_dump);
    printf("proto: changelog %zu records: %zu windows (%zu fired; +%zu tombstones), %zu dedup "
           "batches (+%zu tombstones), %zu checkpoints\n",
           n_changelog, cc.window, cc.window_fired, cc.window_tombstone, cc.dedup,
           cc.dedup_tombstone, cc.checkpoint);
    cr_assert_eq(n_changelog, n_topic, "tidemark changelog printed %zu of the topic's %zu records",
                 n_changelog, n_topic);
    cr_assert_gt(cc.window, 0);
    cr_assert_gt(cc.window_fired, 0, "no fired window outlived a checkpoint");
    cr_assert_gt(cc.window_tombstone, 0);
    cr_assert_gt(cc.dedup, 0);
    cr_assert_gt(cc.dedup_tombstone, 0);
    cr_assert_geq(cc.checkpoint, (size_t)e->partitions, "a checkpoint per task at least");

    /* --partition: that partition only, all of it; one past the end is a
     * usage error. */
    char one[PATH_LEN];
    path_join(one, e->dir, "changelog-1.jsonl");
    cr_assert_eq(changelog_cli(e, "1", one), 0);
    changelog_counts c1 = {0};
    size_t n_one = each_line(one, count_changelog, &c1);
    cr_assert_eq(n_one, c1.per_partition[1], "records of other partitions with --partition 1");
    cr_assert_eq(n_one, cc.per_partition[1]);
    char past[16];
    snprintf(past, sizeof past, "%d", e->partitions);
    cr_assert_eq(changelog_cli(e, past, one), 2, "--partition %s of %d partitions", past,
                 e->partitions);

    /* A record a mistaken producer wrote to the changelog is reported and
     * skipped, not a failure: restore skips it too. */
    char foreign[PATH_LEN], foreign_log[PATH_LEN + 8];
    path_join(foreign, e->dir, "foreign.jsonl");
    FILE *f = fopen(foreign, "w");
    cr_assert_not_null(f);
    fprintf(f, "{\"partition\":1,\"ts\":0,\"key\":\"order-17\",\"payload\":\"{\\\"id\\\":17}\"}\n");
    cr_assert_eq(fclose(f), 0);
    cr_assert_eq(tm_kafka_io_load(tm_test_broker_bootstrap(e->broker), foreign, e->changelog_topic),
                 1);
    cr_assert_eq(changelog_cli(e, "1", one), 0, "a foreign record made tidemark changelog fail");
    cr_assert_eq(each_line(one, count_changelog, &(changelog_counts){0}), n_one,
                 "the foreign record was printed as state, or state was lost");
    snprintf(foreign_log, sizeof foreign_log, "%s.log", one);
    cr_assert(tm_eos_file_contains(foreign_log, "not a record of tidemark's"), "not reported");
    tm_eos_pass(e);
}

/* ---- replay ---- */

/* `tidemark replay` (with batch, --batch) of example `name` under
 * examples into out_dir. */
static void replay_example(const char *examples, const char *name, const char *out_dir, bool batch)
{
    char dir[PATH_LEN], config[PATH_LEN], input[PATH_LEN], log[PATH_LEN];
    path_join(dir, examples, name);
    path_join(config, dir, "config.json");
    path_join(input, dir, "input.jsonl");
    snprintf(log, sizeof log, "%s.log", out_dir);
    char *argv[] = {(char *)tidemark_binary(),
                    "replay",
                    "--config",
                    config,
                    "--input",
                    input,
                    "--output-dir",
                    (char *)out_dir,
                    batch ? "--batch" : NULL,
                    NULL};
    int rc = run(argv, NULL, log);
    if (rc != 0)
        print_file(log);
    cr_assert_eq(rc, 0, "tidemark replay of %s", name);
}

/* A fresh temporary directory (removed by the caller). */
static void temp_dir(char *buf, const char *what)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(buf, PATH_LEN, "%s/tidemark-proto-%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", what);
    cr_assert(mkdtemp(buf), "mkdtemp: %s", strerror(errno));
}

static const char *const REPLAY_FILES[3][2] = {{"output.jsonl", "window-result.schema.json"},
                                               {"late.jsonl", "late-record.schema.json"},
                                               {"dlq.jsonl", "dead-letter.schema.json"}};

/* Replays (with batch, replay --batch) every worked example into a
 * folder of a temporary directory and calls check on it; returns how
 * many. */
static size_t each_example(bool batch, void (*check)(void *ctx, const char *out), void *ctx)
{
    char examples[PATH_LEN], tmp[PATH_LEN];
    snprintf(examples, sizeof examples, "%s/tests/golden/examples", source_dir());
    temp_dir(tmp, batch ? "batch" : "replay");
    DIR *d = opendir(examples);
    cr_assert(d, "cannot open %s: %s", examples, strerror(errno));
    size_t cases = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        char dir[PATH_LEN], config[PATH_LEN], out[PATH_LEN];
        path_join(dir, examples, de->d_name);
        path_join(config, dir, "config.json");
        if (de->d_name[0] == '.' || access(config, R_OK) != 0)
            continue;
        path_join(out, tmp, de->d_name);
        replay_example(examples, de->d_name, out, batch);
        check(ctx, out);
        cases++;
    }
    closedir(d);
    tm_eos_rm_rf(tmp);
    return cases;
}

/* Every line is an envelope, and of its file's kind; counts the lines. */
static void check_replay(void *ctx, const char *out)
{
    char file[PATH_LEN];
    for (size_t i = 0; i < 3; i++) {
        path_join(file, out, REPLAY_FILES[i][0]);
        assert_valid("replay-envelope.schema.json", file);
        assert_valid(REPLAY_FILES[i][1], file);
        result_counts ignored = {0};
        *(size_t *)ctx += each_line(file, count_result, &ignored);
    }
}

Test(proto, replay_output_meets_the_envelope)
{
    size_t lines = 0;
    cr_assert_geq(each_example(false, check_replay, &lines), 4, "expected the worked examples");
    cr_assert_gt(lines, 100, "replay wrote %zu lines", lines);
}

/* What replay --batch wrote over the worked examples. */
typedef struct batch_counts {
    size_t lines;
    double events; /* the sum of the results' counts */
    distinct reasons;
} batch_counts;

static void check_batch(void *ctx, const char *out)
{
    batch_counts *c = ctx;
    char file[PATH_LEN];
    path_join(file, out, "batch.jsonl");
    assert_valid("batch-result.schema.json", file);
    c->lines += each_line(file, count_events, &c->events);
    path_join(file, out, "dlq.jsonl");
    assert_valid("replay-envelope.schema.json", file);
    assert_valid("dead-letter.schema.json", file);
    each_line(file, count_reason, &c->reasons);
}

Test(proto, replay_batch_output_meets_its_schema)
{
    batch_counts c = {0};
    cr_assert_geq(each_example(true, check_batch, &c), 4, "expected the worked examples");
    cr_assert_gt(c.lines, 100, "replay --batch wrote %zu batch results", c.lines);
    cr_assert_gt(c.events, (double)c.lines, "batch results of more than one event each");
    cr_assert_geq(c.reasons.n, 3, "dead letters of %zu reasons", c.reasons.n);
    distinct_free(&c.reasons);
}

/* ---- the validator rejects what breaks the contract ---- */

enum {
    BASE_RESULT,
    BASE_LATE,
    BASE_DLQ,
    BASE_WINDOW,
    BASE_DEDUP,
    BASE_CHECKPOINT,
    BASE_BATCH,
    N_BASES
};

/* The changelog's valid records, as `tidemark changelog` prints them. */
static const char *const CHANGELOG_BASES[] = {
    "{\"partition\":0,\"offset\":7,\"kind\":\"window\",\"key\":\"m-001\",\"window_start\":5000,"
    "\"window_end\":10000,\"count\":2,\"revision\":-1,\"fired\":false,"
    "\"accumulators\":[0,30.5,20,30.5]}",
    "{\"partition\":0,\"offset\":8,\"kind\":\"dedup\",\"seq\":3,\"max_expiry\":20000,"
    "\"keys\":[{\"hash\":\"0123456789abcdef0123456789abcdef\",\"expiry\":20000}]}",
    "{\"partition\":0,\"offset\":9,\"kind\":\"checkpoint\",\"seq\":3,"
    "\"watermark\":-9223372036854775808,\"inputs\":[{\"next_offset\":-1,"
    "\"max_event_time\":-9223372036854775808,\"last_record_time\":1763600000000}]}",
};

/* One change to a valid record: member of the record (in: NULL), of its
 * headers ("headers") or of the JSON value in its payload ("payload") set
 * to the JSON text value, or removed (value NULL). */
typedef struct mutation {
    int base;
    const char *in, *member, *value;
} mutation;

static const mutation MUTATIONS[] = {
    {BASE_RESULT, "payload", "trigger", "\"timer\""},
    {BASE_RESULT, "payload", "count", NULL},
    {BASE_RESULT, "payload", "count", "0"},
    {BASE_RESULT, "payload", "revision", "-1"},
    {BASE_RESULT, "payload", "window_start", "\"0\""},
    {BASE_RESULT, "payload", "extra", "1"},
    {BASE_RESULT, "payload", "aggregates", "{}"},
    {BASE_RESULT, NULL, "key", "\"x\""},
    {BASE_RESULT, NULL, "payload", "\"{\\\"key\\\":\""},
    {BASE_RESULT, "headers", "tidemark.reason", "\"too_late\""},
    {BASE_LATE, "headers", "tidemark.reason", "\"late\""},
    {BASE_LATE, "headers", "tidemark.watermark", "\"12.5\""},
    {BASE_LATE, "headers", "tidemark.source", "\"orders/0\""},
    {BASE_LATE, "headers", "tidemark.detail", "\"why\""},
    {BASE_LATE, NULL, "payload", "null"},
    {BASE_LATE, NULL, "payload_encoding", "\"base64\""},
    {BASE_DLQ, "headers", "tidemark.reason", "\"bad_value\""},
    {BASE_DLQ, "headers", "tidemark.detail", NULL},
    {BASE_DLQ, "headers", "tidemark.detail", "\"\""},
    {BASE_DLQ, NULL, "offset", "3"},
    {BASE_DLQ, NULL, "partition", "-1"},
    {BASE_DLQ, NULL, "payload_encoding", "\"hex\""},
    {BASE_DLQ, NULL, "key_encoding", "null"},
    {BASE_WINDOW, NULL, "count", "0"},
    {BASE_WINDOW, NULL, "fired", "1"},
    {BASE_WINDOW, NULL, "tombstone", "true"},
    {BASE_WINDOW, NULL, "kind", "\"windows\""},
    {BASE_DEDUP, NULL, "keys", "[{\"hash\":\"0123\",\"expiry\":1}]"},
    {BASE_DEDUP, NULL, "keys", "[]"},
    {BASE_CHECKPOINT, NULL, "watermark", "1e30"},
    {BASE_CHECKPOINT, NULL, "inputs",
     "[{\"next_offset\":-2,\"max_event_time\":0,"
     "\"last_record_time\":0}]"},
    {BASE_CHECKPOINT, NULL, "offset", NULL},
    {BASE_BATCH, NULL, "count", "0"},
    {BASE_BATCH, NULL, "revision", "0"},
    {BASE_BATCH, NULL, "aggregates", NULL},
    {BASE_BATCH, NULL, "key", "\"x\""},
    {BASE_BATCH, NULL, "window_end", "\"100\""},
};

static const char *schema_of(int base)
{
    static const char *const schemas[N_BASES] = {
        "window-result.schema.json", "late-record.schema.json", "dead-letter.schema.json",
        "changelog.schema.json",     "changelog.schema.json",   "changelog.schema.json",
        "batch-result.schema.json"};
    return schemas[base];
}

/* The first line of path, without its newline (malloc'd). */
static char *first_line(const char *path)
{
    FILE *f = fopen(path, "r");
    cr_assert(f, "cannot open %s", path);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, f);
    fclose(f);
    cr_assert_gt(n, 1, "%s is empty", path);
    line[strcspn(line, "\n")] = '\0';
    return line;
}

static void set_member(cJSON *o, const char *member, const char *value)
{
    cJSON_DeleteItemFromObjectCaseSensitive(o, member);
    if (value) {
        cJSON *v = cJSON_Parse(value);
        cr_assert(v, "bad mutation value %s", value);
        cJSON_AddItemToObject(o, member, v);
    }
}

/* base with the mutation applied, as one line (malloc'd). */
static char *mutate(const char *base, const mutation *m)
{
    cJSON *doc = cJSON_Parse(base);
    cr_assert(doc);
    if (m->in && strcmp(m->in, "payload") == 0) {
        cJSON *value = cJSON_Parse(string_member(doc, "payload"));
        cr_assert(value, "the base's payload is not JSON");
        set_member(value, m->member, m->value);
        char *text = cJSON_PrintUnformatted(value);
        cJSON_ReplaceItemInObjectCaseSensitive(doc, "payload", cJSON_CreateString(text));
        cJSON_free(text);
        cJSON_Delete(value);
    } else {
        set_member(m->in ? cJSON_GetObjectItemCaseSensitive(doc, m->in) : doc, m->member, m->value);
    }
    char *line = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    return line;
}

static void write_line(const char *path, const char *line)
{
    FILE *f = fopen(path, "w");
    cr_assert(f, "cannot write %s", path);
    fprintf(f, "%s\n", line);
    cr_assert_eq(fclose(f), 0);
}

Test(proto, validator_rejects_mutated_records)
{
    char examples[PATH_LEN], tmp[PATH_LEN], out[PATH_LEN], file[PATH_LEN];
    snprintf(examples, sizeof examples, "%s/tests/golden/examples", source_dir());
    temp_dir(tmp, "mutations");
    path_join(out, tmp, "tiny");
    replay_example(examples, "tiny", out, false);

    /* Real records of each kind (tiny has one of each), and the changelog's. */
    char *bases[N_BASES];
    for (int i = 0; i < 3; i++) {
        path_join(file, out, REPLAY_FILES[i][0]);
        bases[i] = first_line(file);
    }
    for (int i = BASE_WINDOW; i <= BASE_CHECKPOINT; i++)
        bases[i] = strdup(CHANGELOG_BASES[i - BASE_WINDOW]);
    path_join(out, tmp, "tiny-batch");
    replay_example(examples, "tiny", out, true);
    path_join(file, out, "batch.jsonl");
    bases[BASE_BATCH] = first_line(file);

    /* Each base is valid as it is: a rejection below is the mutation's. */
    for (int i = 0; i < N_BASES; i++) {
        char name[32];
        snprintf(name, sizeof name, "base-%d.jsonl", i);
        path_join(file, tmp, name);
        write_line(file, bases[i]);
        assert_valid(schema_of(i), file);
    }
    for (size_t i = 0; i < sizeof MUTATIONS / sizeof MUTATIONS[0]; i++) {
        const mutation *m = &MUTATIONS[i];
        char *line = mutate(bases[m->base], m);
        char name[32];
        snprintf(name, sizeof name, "mutation-%zu.jsonl", i);
        path_join(file, tmp, name);
        write_line(file, line);
        char what[1024];
        snprintf(what, sizeof what, "%s%s%s = %s: %s", m->in ? m->in : "", m->in ? "." : "",
                 m->member, m->value ? m->value : "(removed)", line);
        assert_rejected(schema_of(m->base), file, what);
        if (m->base <= BASE_DLQ)
            assert_rejected("replay-envelope.schema.json", file, what);
        cJSON_free(line);
    }
    for (int i = 0; i < N_BASES; i++)
        free(bases[i]);
    tm_eos_rm_rf(tmp);
}
