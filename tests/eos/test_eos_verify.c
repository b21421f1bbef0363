/*
 * tidemark verify on the test broker (SEMANTICS 12, issue 11): the live
 * service runs over the workload (late and too-late records, duplicates,
 * dead letters); verify over the windows every task has fired reports no
 * unexplained window, and as explained exactly the windows of the late
 * output's records (each naming them; tumbling windows, where those
 * windows can be computed here), exit 0. Then the output is damaged: a
 * wrong revision of one window, a tombstone for another; verify finds
 * exactly those two, unexplained, and exits 1. tidemark backfill then
 * refuses a range reaching windows the live application may still change
 * (exit 2, naming one), prints with --dry-run what it would write,
 * repairs the range (a revision with trigger backfill for every differing
 * window, in the partition of the window's table record; a tombstone for
 * a table window the batch lacks), writes nothing the second time, and
 * verify then finds every window equal. Once the first records of an
 * input partition are deleted (retention), verify says the input no
 * longer holds the range and exits 1, and backfill refuses it. The same
 * with sessions, which live splits where the batch merges (verify.h).
 */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "alloc.h"
#include "eos_harness.h"
#include "kafka_io.h"
#include "rfc3339.h"

TestSuite(eos, .fini = tm_eos_teardown);

enum { WINDOW_MS = 5000, MAX_KEYS = 20000 };

/* A set of strings, small: linear search. */
typedef struct strset {
    char **v;
    size_t n;
} strset;

static bool strset_has(const strset *s, const char *x)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], x) == 0)
            return true;
    return false;
}

static void strset_add(strset *s, const char *x)
{
    if (strset_has(s, x))
        return;
    s->v = tm_xrealloc(s->v, (s->n + 1) * sizeof *s->v);
    s->v[s->n++] = tm_xstrdup(x);
}

static void strset_free(strset *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
}

/* Whether s holds a window ("<key>@<start>") of the group key of window
 * id: damage goes to keys verify found nothing on (with sessions, a key's
 * windows are judged together). */
static bool same_group_key(const char *a, const char *b)
{
    size_t n = (size_t)(strrchr(a, '@') - a);
    return strncmp(a, b, n + 1) == 0;
}

static bool has_key_of(const strset *s, const char *id)
{
    for (size_t i = 0; i < s->n; i++)
        if (same_group_key(id, s->v[i]))
            return true;
    return false;
}

/* The output table: the latest record of each key, with its partition. */
typedef struct table {
    char *key[MAX_KEYS];
    char *payload[MAX_KEYS]; /* NULL: tombstone */
    int partition[MAX_KEYS];
    size_t n;
} table;

static cJSON *read_line(FILE *f, char **line, size_t *cap)
{
    if (getline(line, cap, f) < 0)
        return NULL;
    cJSON *doc = cJSON_Parse(*line);
    cr_assert(doc, "not JSON: %s", *line);
    return doc;
}

static void load_table(table *t, const char *path)
{
    FILE *f = fopen(path, "r");
    cr_assert(f, "%s", path);
    char *line = NULL;
    size_t cap = 0;
    cJSON *doc;
    while ((doc = read_line(f, &line, &cap))) {
        const char *key = cJSON_GetObjectItem(doc, "key")->valuestring;
        const cJSON *payload = cJSON_GetObjectItem(doc, "payload");
        size_t i = 0;
        while (i < t->n && strcmp(t->key[i], key) != 0)
            i++;
        if (i == t->n) {
            cr_assert_lt(t->n, (size_t)MAX_KEYS);
            t->key[t->n++] = tm_xstrdup(key);
        } else {
            free(t->payload[i]);
        }
        t->payload[i] = cJSON_IsString(payload) ? tm_xstrdup(payload->valuestring) : NULL;
        t->partition[i] = cJSON_GetObjectItem(doc, "partition")->valueint;
        cJSON_Delete(doc);
    }
    free(line);
    fclose(f);
}

static void table_free(table *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->key[i]);
        free(t->payload[i]);
    }
}

static int64_t member_i64(const char *json, const char *name)
{
    cJSON *doc = cJSON_Parse(json);
    cr_assert(doc);
    int64_t v = (int64_t)cJSON_GetObjectItem(doc, name)->valuedouble;
    cJSON_Delete(doc);
    return v;
}

/* What one verify run reported. */
typedef struct report {
    int exit_code;
    int64_t windows, equal, explained, unexplained;
    strset explained_windows, unexplained_windows; /* "<key>@<start>" */
    size_t late_named;
    bool input_complete;
} report;

static void run_verify(tm_eos *e, const char *name, int64_t from, int64_t to, bool exact_late,
                       report *r)
{
    char f[32], t[32], log[TM_EOS_PATH + 64];
    snprintf(f, sizeof f, "%" PRId64, from);
    snprintf(t, sizeof t, "%" PRId64, to);
    const char *args[] = {"verify", "--config", e->config_path, "--from", f,
                          "--to",   t,          "--json",       NULL};
    int status = tm_eos_cli(e, name, args, log, sizeof log);
    cr_assert(WIFEXITED(status), "verify did not exit");
    memset(r, 0, sizeof *r);
    r->exit_code = WEXITSTATUS(status);
    /* The report's lines, without progress and log lines (stderr). */
    FILE *in = fopen(log, "r");
    cr_assert(in);
    char *line = NULL, *json = tm_xstrdup("");
    size_t cap = 0;
    while (getline(&line, &cap, in) >= 0) {
        if (strncmp(line, "{\"divergent\"", 12) != 0 && strncmp(line, "{\"key\"", 6) != 0 &&
            strncmp(line, "],\"from\"", 8) != 0)
            continue;
        json = tm_xrealloc(json, strlen(json) + strlen(line) + 1);
        strcat(json, line);
    }
    free(line);
    fclose(in);
    cJSON *doc = cJSON_Parse(json);
    cr_assert(doc, "no JSON report in %s", log);
    r->windows = (int64_t)cJSON_GetObjectItem(doc, "windows")->valuedouble;
    r->equal = (int64_t)cJSON_GetObjectItem(doc, "equal")->valuedouble;
    r->explained = (int64_t)cJSON_GetObjectItem(doc, "explained")->valuedouble;
    r->unexplained = (int64_t)cJSON_GetObjectItem(doc, "unexplained")->valuedouble;
    r->input_complete = cJSON_IsTrue(cJSON_GetObjectItem(doc, "input_complete"));
    const cJSON *w;
    cJSON_ArrayForEach(w, cJSON_GetObjectItem(doc, "divergent"))
    {
        char id[256];
        snprintf(id, sizeof id, "%s@%" PRId64, cJSON_GetObjectItem(w, "key")->valuestring,
                 (int64_t)cJSON_GetObjectItem(w, "window_start")->valuedouble);
        bool explained = strcmp(cJSON_GetObjectItem(w, "verdict")->valuestring, "explained") == 0;
        size_t n_late = (size_t)cJSON_GetArraySize(cJSON_GetObjectItem(w, "late"));
        r->late_named += n_late;
        /* A session may differ without a late record of its own: split
         * live where the batch merged it (verify.h). */
        if (explained && exact_late)
            cr_assert_gt(n_late, 0u, "explained window %s names no late record", id);
        strset_add(explained ? &r->explained_windows : &r->unexplained_windows, id);
    }
    cJSON_Delete(doc);
    free(json);
    printf("eos %s: %s: %" PRId64 " windows, %" PRId64 " equal, %" PRId64 " explained, %" PRId64
           " unexplained, exit %d\n",
           e->name, name, r->windows, r->equal, r->explained, r->unexplained, r->exit_code);
}

/* What one backfill run reported. */
typedef struct backfill_report {
    int exit_code;
    int64_t windows, equal, revisions, tombstones;
    bool written;
    size_t records_printed; /* --dry-run's lines */
    char log[TM_EOS_PATH + 64];
} backfill_report;

/* options: up to two more arguments, NULL-ended (NULL: none). */
static void run_backfill(tm_eos *e, const char *name, int64_t from, int64_t to,
                         const char *const *options, backfill_report *r)
{
    char f[32], t[32];
    snprintf(f, sizeof f, "%" PRId64, from);
    snprintf(t, sizeof t, "%" PRId64, to);
    const char *args[] = {"backfill", "--config", e->config_path, "--from", f,   "--to",
                          t,          "--json",   NULL,           NULL,     NULL};
    for (size_t i = 0; options && options[i]; i++) {
        cr_assert_lt(i, 2u);
        args[8 + i] = options[i];
    }
    memset(r, 0, sizeof *r);
    int status = tm_eos_cli(e, name, args, r->log, sizeof r->log);
    cr_assert(WIFEXITED(status), "backfill did not exit");
    r->exit_code = WEXITSTATUS(status);
    FILE *in = fopen(r->log, "r");
    cr_assert(in);
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, in) >= 0) {
        if (strncmp(line, "{\"partition\"", 12) == 0) {
            cJSON *rec = cJSON_Parse(line);
            cr_assert(rec, "not JSON: %s", line);
            cJSON_Delete(rec);
            r->records_printed++;
        }
        if (strncmp(line, "{\"from\"", 7) != 0)
            continue;
        cJSON *doc = cJSON_Parse(line);
        cr_assert(doc, "not JSON: %s", line);
        r->windows = (int64_t)cJSON_GetObjectItem(doc, "windows")->valuedouble;
        r->equal = (int64_t)cJSON_GetObjectItem(doc, "equal")->valuedouble;
        r->revisions = (int64_t)cJSON_GetObjectItem(doc, "revisions")->valuedouble;
        r->tombstones = (int64_t)cJSON_GetObjectItem(doc, "tombstones")->valuedouble;
        r->written = cJSON_IsTrue(cJSON_GetObjectItem(doc, "written"));
        cJSON_Delete(doc);
    }
    free(line);
    fclose(in);
    printf("eos %s: %s: %" PRId64 " windows, %" PRId64 " equal, %" PRId64 " revisions, %" PRId64
           " tombstones, exit %d\n",
           e->name, name, r->windows, r->equal, r->revisions, r->tombstones, r->exit_code);
}

/* The pipeline's allowed lateness, from its configuration. */
static int64_t allowed_lateness(const tm_eos *e)
{
    FILE *f = fopen(e->config_path, "r");
    cr_assert(f);
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    cJSON *doc = cJSON_Parse(buf);
    cr_assert(doc, "%s", e->config_path);
    const cJSON *l = cJSON_GetObjectItem(doc, "allowed_lateness_ms");
    cr_assert(cJSON_IsNumber(l));
    int64_t ms = (int64_t)l->valuedouble;
    cJSON_Delete(doc);
    return ms;
}

/* Checks the output topic after the backfill: as many records with
 * trigger backfill as it reported revisions, each in the partition of
 * its key's live records (before), and the damaged windows corrected. */
static void check_backfilled(tm_eos *e, const table *before, const backfill_report *b,
                             const char *wrong_key, int64_t wrong_revision)
{
    char path[TM_EOS_PATH + 32];
    snprintf(path, sizeof path, "%s/backfilled.jsonl", e->dir);
    tm_kafka_io_dump(tm_test_broker_bootstrap(e->broker), "gmv", path);
    FILE *f = fopen(path, "r");
    cr_assert(f, "%s", path);
    char *line = NULL;
    size_t cap = 0;
    cJSON *doc;
    int64_t backfilled = 0;
    bool wrong_fixed = false;
    while ((doc = read_line(f, &line, &cap))) {
        const cJSON *payload = cJSON_GetObjectItem(doc, "payload");
        cJSON *v = cJSON_IsString(payload) ? cJSON_Parse(payload->valuestring) : NULL;
        const cJSON *trigger = v ? cJSON_GetObjectItem(v, "trigger") : NULL;
        if (trigger && strcmp(trigger->valuestring, "backfill") == 0) {
            backfilled++;
            const char *key = cJSON_GetObjectItem(doc, "key")->valuestring;
            int partition = cJSON_GetObjectItem(doc, "partition")->valueint;
            for (size_t i = 0; i < before->n; i++)
                if (same_group_key(key, before->key[i]))
                    cr_assert_eq(before->partition[i], partition,
                                 "%s backfilled into partition %d, its live records are in %d", key,
                                 partition, before->partition[i]);
            if (strcmp(key, wrong_key) == 0) {
                cr_assert_eq((int64_t)cJSON_GetObjectItem(v, "revision")->valuedouble,
                             wrong_revision + 1);
                wrong_fixed = true;
            }
        }
        cJSON_Delete(v);
        cJSON_Delete(doc);
    }
    free(line);
    fclose(f);
    cr_assert_eq(backfilled, b->revisions);
    cr_assert(wrong_fixed, "no backfill revision of the damaged window %s", wrong_key);
}

static void report_free(report *r)
{
    strset_free(&r->explained_windows);
    strset_free(&r->unexplained_windows);
}

/* The windows of the late output's records inside [from, to). */
static void late_windows(const char *path, int64_t from, int64_t to, strset *out, size_t *records)
{
    FILE *f = fopen(path, "r");
    cr_assert(f, "%s", path);
    char *line = NULL;
    size_t cap = 0;
    cJSON *doc;
    while ((doc = read_line(f, &line, &cap))) {
        cJSON *ev = cJSON_Parse(cJSON_GetObjectItem(doc, "payload")->valuestring);
        cr_assert(ev);
        const cJSON *et = cJSON_GetObjectItem(ev, "event_time");
        int64_t t = 0;
        if (cJSON_IsNumber(et))
            t = (int64_t)et->valuedouble;
        else
            cr_assert_eq(tm_rfc3339_parse(et->valuestring, strlen(et->valuestring), &t), 0);
        int64_t start = t - t % WINDOW_MS;
        if (start >= from && start + WINDOW_MS <= to) {
            char id[256];
            snprintf(id, sizeof id, "%s@%" PRId64, cJSON_GetObjectItem(ev, "merchant")->valuestring,
                     start);
            strset_add(out, id);
            (*records)++;
        }
        cJSON_Delete(ev);
        cJSON_Delete(doc);
    }
    free(line);
    fclose(f);
}

/* The test for a window type; exact_late: the windows of the late
 * records can be computed here (tumbling 5 s), else only their number of
 * sources is checked (sessions). */
static void verify_test(const char *name, tm_eos_window window, bool exact_late)
{
    tm_eos *e = tm_eos_setup(&(tm_eos_options){.name = name, .window = window});
    tm_eos_instance *a = tm_eos_run_once(e, 6000, 23);
    (void)a;
    tm_eos_verify(e); /* the live output equals replay; dumps it into live/ */

    char path[TM_EOS_PATH + 32];
    snprintf(path, sizeof path, "%s/live/output.jsonl", e->dir);
    table *t = tm_xcalloc(1, sizeof *t);
    load_table(t, path);
    /* The range: windows every task has fired, i.e. ending no later than
     * the last window end of the partition that got least far. */
    int64_t from = INT64_MAX, to = INT64_MAX;
    int64_t last_end[64];
    for (int p = 0; p < 64; p++)
        last_end[p] = INT64_MIN;
    for (size_t i = 0; i < t->n; i++) {
        if (!t->payload[i])
            continue;
        int64_t s = member_i64(t->payload[i], "window_start");
        int64_t end = member_i64(t->payload[i], "window_end");
        from = s < from ? s : from;
        if (end > last_end[t->partition[i]])
            last_end[t->partition[i]] = end;
    }
    for (int p = 0; p < e->partitions; p++)
        to = last_end[p] < to ? last_end[p] : to;
    /* Every task's watermark has passed its last fired end, so windows
     * ending an allowed lateness earlier are expired everywhere: a range
     * backfill takes (rounded down to a window bound). */
    int64_t lateness = allowed_lateness(e);
    to -= lateness + WINDOW_MS - 1;
    to -= to % WINDOW_MS;
    cr_assert(from < to);

    strset want_explained = {0};
    size_t late_in_range = 0;
    snprintf(path, sizeof path, "%s/live/late.jsonl", e->dir);
    if (exact_late) {
        late_windows(path, from, to, &want_explained, &late_in_range);
        cr_assert_gt(want_explained.n, 0u,
                     "no too-late record in the range: the test proves little");
    }

    report r;
    run_verify(e, "verify1.log", from, to, exact_late, &r);
    cr_assert_eq(r.exit_code, 0);
    cr_assert(r.input_complete);
    cr_assert_eq(r.unexplained, 0);
    cr_assert_gt(r.equal, 100);
    cr_assert_gt(r.explained, 0);
    if (exact_late) {
        cr_assert_eq((size_t)r.explained, want_explained.n);
        for (size_t i = 0; i < want_explained.n; i++)
            cr_assert(strset_has(&r.explained_windows, want_explained.v[i]), "not explained: %s",
                      want_explained.v[i]);
        cr_assert_eq(r.late_named, late_in_range);
    } else {
        cr_assert_leq(r.late_named, e->live_late);
        for (size_t i = 0; i < r.explained_windows.n; i++)
            strset_add(&want_explained, r.explained_windows.v[i]);
    }
    int64_t windows = r.windows;
    report_free(&r);

    /* Damage two windows inside the range, of keys with no explained
     * window (equal ones): one gets a revision with another count, one a
     * tombstone. */
    size_t damaged[2];
    size_t n_damaged = 0;
    for (size_t i = 0; i < t->n && n_damaged < 2; i++) {
        if (!t->payload[i] || has_key_of(&want_explained, t->key[i]))
            continue;
        int64_t s = member_i64(t->payload[i], "window_start");
        if (s >= from && member_i64(t->payload[i], "window_end") <= to)
            damaged[n_damaged++] = i;
    }
    cr_assert_eq(n_damaged, 2u);
    int64_t wrong_revision = member_i64(t->payload[damaged[0]], "revision") + 1;
    snprintf(path, sizeof path, "%s/damage.jsonl", e->dir);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    cJSON *wrong = cJSON_Parse(t->payload[damaged[0]]);
    cJSON *count = cJSON_GetObjectItem(wrong, "count");
    cJSON_SetNumberValue(count, count->valuedouble + 1);
    cJSON *rev = cJSON_GetObjectItem(wrong, "revision");
    cJSON_SetNumberValue(rev, rev->valuedouble + 1);
    char *wrong_text = cJSON_PrintUnformatted(wrong);
    cJSON *line = cJSON_CreateObject();
    cJSON_AddStringToObject(line, "topic", "gmv");
    cJSON_AddNumberToObject(line, "ts", (double)e->workload.last_ts);
    cJSON_AddNumberToObject(line, "partition", t->partition[damaged[0]]);
    cJSON_AddStringToObject(line, "key", t->key[damaged[0]]);
    cJSON_AddStringToObject(line, "payload", wrong_text);
    char *text = cJSON_PrintUnformatted(line);
    fprintf(f, "%s\n", text);
    free(text);
    cJSON_Delete(line);
    line = cJSON_CreateObject();
    cJSON_AddStringToObject(line, "topic", "gmv");
    cJSON_AddNumberToObject(line, "ts", (double)e->workload.last_ts);
    cJSON_AddNumberToObject(line, "partition", t->partition[damaged[1]]);
    cJSON_AddStringToObject(line, "key", t->key[damaged[1]]);
    cJSON_AddNullToObject(line, "payload");
    text = cJSON_PrintUnformatted(line);
    fprintf(f, "%s\n", text);
    free(text);
    cJSON_Delete(line);
    free(wrong_text);
    cJSON_Delete(wrong);
    cr_assert_eq(fclose(f), 0);
    cr_assert_eq(tm_kafka_io_load(tm_test_broker_bootstrap(e->broker), path, "gmv"), 2u);

    run_verify(e, "verify2.log", from, to, exact_late, &r);
    cr_assert_eq(r.exit_code, 1);
    cr_assert_eq(r.unexplained, 2);
    cr_assert_eq(r.windows, windows);
    cr_assert_eq((size_t)r.explained, want_explained.n);
    cr_assert(strset_has(&r.unexplained_windows, t->key[damaged[0]]), "%s", t->key[damaged[0]]);
    cr_assert(strset_has(&r.unexplained_windows, t->key[damaged[1]]), "%s", t->key[damaged[1]]);
    cr_assert(r.input_complete);
    int64_t differing = r.explained + r.unexplained;
    report_free(&r);

    /* Backfill. A range reaching windows the live application may still
     * change (the last ones are not even fired) is refused, naming one. */
    backfill_report b;
    run_backfill(e, "backfill-live.log", from, to + 86400000, NULL, &b);
    cr_assert_eq(b.exit_code, 2);
    cr_assert(tm_eos_file_contains(b.log, "may still change live"), "see %s", b.log);
    /* --force takes it: a dry run over it plans the range's records and
     * more (the windows not yet fired, which the table lacks). */
    run_backfill(e, "backfill-forced.log", from, to + 86400000,
                 (const char *[]){"--force", "--dry-run", NULL}, &b);
    cr_assert_eq(b.exit_code, 0, "see %s", b.log);
    cr_assert_gt(b.revisions, differing);
    cr_assert_eq(b.records_printed, (size_t)(b.revisions + b.tombstones));
    /* --dry-run prints the records: every differing window, the damaged
     * two and the explained ones. */
    run_backfill(e, "backfill-dry.log", from, to, (const char *[]){"--dry-run", NULL}, &b);
    cr_assert_eq(b.exit_code, 0, "see %s", b.log);
    cr_assert(!b.written);
    cr_assert_eq(b.records_printed, (size_t)(b.revisions + b.tombstones));
    cr_assert_eq(b.windows - b.equal, differing);
    cr_assert_eq(b.revisions + b.tombstones, differing, "one record per differing window");
    cr_assert_geq(b.revisions, 2);
    int64_t dry_revisions = b.revisions, dry_tombstones = b.tombstones;
    run_backfill(e, "backfill.log", from, to, NULL, &b);
    cr_assert_eq(b.exit_code, 0, "see %s", b.log);
    cr_assert(b.written);
    cr_assert_eq(b.revisions, dry_revisions);
    cr_assert_eq(b.tombstones, dry_tombstones);
    check_backfilled(e, t, &b, t->key[damaged[0]], wrong_revision);
    /* A second run writes nothing, and verify finds every window equal. */
    run_backfill(e, "backfill-again.log", from, to, NULL, &b);
    cr_assert_eq(b.exit_code, 0, "see %s", b.log);
    cr_assert_eq(b.revisions + b.tombstones, 0);
    cr_assert(!b.written);
    cr_assert_eq(b.equal, b.windows);
    run_verify(e, "verify-backfilled.log", from, to, exact_late, &r);
    cr_assert_eq(r.exit_code, 0);
    cr_assert_eq(r.unexplained, 0);
    cr_assert_eq(r.explained, 0);
    cr_assert_eq(r.equal, r.windows);
    report_free(&r);

    /* Retention: the first records of an input partition deleted, verify
     * says the input no longer holds the whole range, and fails. */
    tm_kafka_probe_delete_records(e->probe, "orders", 0, 10);
    run_verify(e, "verify3.log", from, to, exact_late, &r);
    cr_assert_eq(r.exit_code, 1);
    cr_assert(!r.input_complete);
    report_free(&r);
    run_backfill(e, "backfill-retention.log", from, to, NULL, &b);
    cr_assert_eq(b.exit_code, 2);
    cr_assert(tm_eos_file_contains(b.log, "no longer hold"), "see %s", b.log);
    strset_free(&want_explained);
    table_free(t);
    free(t);
    tm_eos_pass(e);
}

Test(eos, verify_explains_the_late_records_and_finds_a_damaged_output)
{
    verify_test("verify", TM_EOS_TUMBLING, true);
}

Test(eos, verify_sessions)
{
    verify_test("verify-sessions", TM_EOS_SESSION, false);
}
