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

#include "alloc.h"
#include "eos_harness.h"
#include "kafka_io.h"
#include "rfc3339.h"
#include "verify.h"
#include "verify_cli.h"

TestSuite(eos, .fini = tm_eos_teardown);

enum { WINDOW_MS = 5000 };

/* Whether s holds a window ("<key>@<start>") of the group key of window
 * id: damage goes to keys verify found nothing on (with sessions, a key's
 * windows are judged together). */
static bool same_group_key(const char *a, const char *b)
{
    size_t n = (size_t)(strrchr(a, '@') - a);
    return strncmp(a, b, n + 1) == 0;
}

static bool has_key_of(const tm_vcli_strset *s, const char *id)
{
    for (size_t i = 0; i < s->n; i++)
        if (same_group_key(id, s->v[i]))
            return true;
    return false;
}

/* Checks the output topic after the backfill: as many records with
 * trigger backfill as it reported revisions, each in the partition of
 * its key's live records (before), and the damaged windows corrected. */
static void check_backfilled(tm_eos *e, const tm_vcli_table *before,
                             const tm_vcli_backfill_report *b, const char *wrong_key,
                             int64_t wrong_revision)
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
    while ((doc = tm_vcli_read_line(f, &line, &cap))) {
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

/* The windows of the late output's records inside [from, to). */
static void late_windows(const char *path, int64_t from, int64_t to, tm_vcli_strset *out,
                         size_t *records)
{
    FILE *f = fopen(path, "r");
    cr_assert(f, "%s", path);
    char *line = NULL;
    size_t cap = 0;
    cJSON *doc;
    while ((doc = tm_vcli_read_line(f, &line, &cap))) {
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
            tm_vcli_strset_add(out, id);
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
    tm_vcli_table *t = tm_xcalloc(1, sizeof *t);
    tm_vcli_table_load(t, path);
    /* The range: windows every task's watermark has expired. */
    int64_t from, to;
    tm_vcli_table_range(e, t, WINDOW_MS, &from, &to);

    tm_vcli_strset want_explained = {0};
    size_t late_in_range = 0;
    snprintf(path, sizeof path, "%s/live/late.jsonl", e->dir);
    if (exact_late) {
        late_windows(path, from, to, &want_explained, &late_in_range);
        cr_assert_gt(want_explained.n, 0u,
                     "no too-late record in the range: the test proves little");
    }

    tm_vcli_report r;
    tm_vcli_verify(e, "verify1.log", from, to, exact_late, &r);
    cr_assert_eq(r.exit_code, 0);
    cr_assert(r.input_complete);
    /* The buckets are picked from the offsets to read, counted before
     * reading: the input's records (a plain producer wrote them, no
     * transaction markers), few enough for the fewest buckets. */
    cr_assert_eq(r.span_records, r.input_records,
                 "offsets counted %" PRId64 ", records read %" PRId64, r.span_records,
                 r.input_records);
    cr_assert_eq(r.buckets, TM_VERIFY_MIN_BUCKETS);
    cr_assert_eq(r.unexplained, 0);
    cr_assert_gt(r.equal, 100);
    cr_assert_gt(r.explained, 0);
    if (exact_late) {
        cr_assert_eq((size_t)r.explained, want_explained.n);
        for (size_t i = 0; i < want_explained.n; i++)
            cr_assert(tm_vcli_strset_has(&r.explained_windows, want_explained.v[i]),
                      "not explained: %s", want_explained.v[i]);
        cr_assert_eq(r.late_named, late_in_range);
    } else {
        cr_assert_leq(r.late_named, e->live_late);
        for (size_t i = 0; i < r.explained_windows.n; i++)
            tm_vcli_strset_add(&want_explained, r.explained_windows.v[i]);
    }
    int64_t windows = r.windows;
    tm_vcli_report_free(&r);

    /* Damage two windows inside the range, of keys with no explained
     * window (equal ones): one gets a revision with another count, one a
     * tombstone. */
    size_t damaged[2];
    size_t n_damaged = 0;
    for (size_t i = 0; i < t->n && n_damaged < 2; i++) {
        if (!t->payload[i] || has_key_of(&want_explained, t->key[i]))
            continue;
        int64_t s = tm_vcli_i64(t->payload[i], "window_start");
        if (s >= from && tm_vcli_i64(t->payload[i], "window_end") <= to)
            damaged[n_damaged++] = i;
    }
    cr_assert_eq(n_damaged, 2u);
    int64_t wrong_revision = tm_vcli_i64(t->payload[damaged[0]], "revision") + 1;
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

    tm_vcli_verify(e, "verify2.log", from, to, exact_late, &r);
    cr_assert_eq(r.exit_code, 1);
    cr_assert_eq(r.unexplained, 2);
    cr_assert_eq(r.windows, windows);
    cr_assert_eq((size_t)r.explained, want_explained.n);
    cr_assert(tm_vcli_strset_has(&r.unexplained_windows, t->key[damaged[0]]), "%s",
              t->key[damaged[0]]);
    cr_assert(tm_vcli_strset_has(&r.unexplained_windows, t->key[damaged[1]]), "%s",
              t->key[damaged[1]]);
    cr_assert(r.input_complete);
    /* Backfill writes the explained and unexplained windows; sessions of a
     * key the range cuts stay unjudged and as they are. */
    int64_t differing = r.explained + r.unexplained, unjudged = r.unjudged;
    tm_vcli_report_free(&r);

    /* Backfill. A range reaching windows the live application may still
     * change (the last ones are not even fired) is refused, naming one. */
    tm_vcli_backfill_report b;
    tm_vcli_backfill(e, "backfill-live.log", from, to + 86400000, NULL, &b);
    cr_assert_eq(b.exit_code, 2);
    cr_assert(tm_eos_file_contains(b.log, "may still change live"), "see %s", b.log);
    /* So is any range of an application without a changelog (it never
     * ran, or was reset): no watermark says what it has expired. */
    tm_vcli_backfill(e, "backfill-no-changelog.log", from, to,
                     (const char *[]){"--set", "application_id=never-ran", NULL}, &b);
    cr_assert_eq(b.exit_code, 2);
    cr_assert(tm_eos_file_contains(b.log, "cannot read the live watermark"), "see %s", b.log);
    /* --force takes it: a dry run over it plans the range's records and
     * more (the windows not yet fired, which the table lacks). */
    tm_vcli_backfill(e, "backfill-forced.log", from, to + 86400000,
                     (const char *[]){"--force", "--dry-run", NULL}, &b);
    cr_assert_eq(b.exit_code, 0, "see %s", b.log);
    cr_assert_gt(b.revisions, differing);
    cr_assert_eq(b.records_printed, (size_t)(b.revisions + b.tombstones));
    /* --dry-run prints the records: every differing window, the damaged
     * two and the explained ones. */
    tm_vcli_backfill(e, "backfill-dry.log", from, to, (const char *[]){"--dry-run", NULL}, &b);
    cr_assert_eq(b.exit_code, 0, "see %s", b.log);
    cr_assert(!b.written);
    cr_assert_eq(b.records_printed, (size_t)(b.revisions + b.tombstones));
    cr_assert_eq(b.windows - b.equal, differing + unjudged);
    cr_assert_eq(b.unjudged, unjudged);
    cr_assert_eq(b.revisions + b.tombstones, differing, "one record per differing window");
    cr_assert_geq(b.revisions, 2);
    int64_t dry_revisions = b.revisions, dry_tombstones = b.tombstones;
    tm_vcli_backfill(e, "backfill.log", from, to, NULL, &b);
    cr_assert_eq(b.exit_code, 0, "see %s", b.log);
    cr_assert(b.written);
    cr_assert_eq(b.revisions, dry_revisions);
    cr_assert_eq(b.tombstones, dry_tombstones);
    check_backfilled(e, t, &b, t->key[damaged[0]], wrong_revision);
    /* A second run writes nothing, and verify finds every window equal. */
    tm_vcli_backfill(e, "backfill-again.log", from, to, NULL, &b);
    cr_assert_eq(b.exit_code, 0, "see %s", b.log);
    cr_assert_eq(b.revisions + b.tombstones, 0);
    cr_assert(!b.written);
    cr_assert_eq(b.equal + b.unjudged, b.windows);
    tm_vcli_verify(e, "verify-backfilled.log", from, to, exact_late, &r);
    cr_assert_eq(r.exit_code, 0);
    cr_assert_eq(r.unexplained, 0);
    cr_assert_eq(r.explained, 0);
    cr_assert_eq(r.equal + r.unjudged, r.windows);
    if (!exact_late)
        printf("eos %s: %" PRId64 " sessions unjudged (their key's batch session crosses a "
               "bound)\n",
               e->name, r.unjudged);
    else
        cr_assert_eq(r.unjudged, 0, "tumbling windows are never unjudged");
    tm_vcli_report_free(&r);

    /* Retention: the first records of an input partition deleted, verify
     * says the input no longer holds the whole range, and fails. */
    tm_kafka_probe_delete_records(e->probe, "orders", 0, 10);
    tm_vcli_verify(e, "verify3.log", from, to, exact_late, &r);
    cr_assert_eq(r.exit_code, 1);
    cr_assert(!r.input_complete);
    tm_vcli_report_free(&r);
    tm_vcli_backfill(e, "backfill-retention.log", from, to, NULL, &b);
    cr_assert_eq(b.exit_code, 2);
    cr_assert(tm_eos_file_contains(b.log, "no longer hold"), "see %s", b.log);
    tm_vcli_strset_free(&want_explained);
    tm_vcli_table_free(t);
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
