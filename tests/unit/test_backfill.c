/*
 * Unit tests of backfill.c (SEMANTICS 12) on windows judged by verify.c:
 * a window the table holds wrong gets the batch result as the table's
 * revision + 1 with trigger backfill, in the partition of the table's
 * record; a window the table lacks gets revision 0 where the live service
 * would write it (its input partition without repartitioning, murmur2 of
 * the group key with it); a table window the batch lacks gets a
 * tombstone; an equal one gets nothing. And which windows the live
 * application may still change.
 */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "backfill.h"
#include "emissions.h"
#include "murmur2.h"
#include "verify.h"

#define CONFIG(mode)                                                                               \
    "{\"application_id\":\"t\",\"input\":{\"topics\":[\"in\"],"                                    \
    "\"event_time\":{\"pointer\":\"/t\",\"format\":\"epoch_ms\"},\"group_by\":\"/k\"},"            \
    "\"repartition\":{\"mode\":\"" mode "\"},"                                                     \
    "\"watermark\":{\"max_out_of_orderness_ms\":0},"                                               \
    "\"window\":{\"type\":\"tumbling\",\"size_ms\":100},\"allowed_lateness_ms\":50,"               \
    "\"aggregations\":[{\"name\":\"s\",\"op\":\"sum\",\"pointer\":\"/a\"},"                        \
    "{\"name\":\"m\",\"op\":\"avg\",\"pointer\":\"/a\"}],"                                         \
    "\"output\":{\"topic\":\"out\"}}"

enum { TASKS = 4, MAX_RECORDS = 8 };

/* The records planned, by group key. */
typedef struct planned {
    const tm_config *cfg;
    struct {
        tm_backfill_kind kind;
        int32_t partition;
        char key[64];
        char value[512];
    } r[MAX_RECORDS];
    size_t n, judged;
} planned;

static void on_window(void *ctx, const tm_verify_window *w)
{
    planned *p = ctx;
    tm_buf key = {0}, value = {0};
    int32_t partition = -1;
    p->judged++;
    tm_backfill_kind kind = tm_backfill_record(p->cfg, w, TASKS, &key, &value, &partition);
    if (kind != TM_BACKFILL_NONE) {
        cr_assert_lt(p->n, (size_t)MAX_RECORDS);
        p->r[p->n].kind = kind;
        p->r[p->n].partition = partition;
        snprintf(p->r[p->n].key, sizeof p->r[0].key, "%.*s", (int)key.len, key.data);
        snprintf(p->r[p->n].value, sizeof p->r[0].value, "%.*s", (int)value.len,
                 value.data ? value.data : "");
        p->n++;
    }
    tm_buf_free(&key);
    tm_buf_free(&value);
}

static void input(tm_verify *v, int32_t partition, int64_t offset, const char *k, int t, double a)
{
    char value[160];
    snprintf(value, sizeof value, "{\"k\":\"%s\",\"t\":%d,\"a\":%g}", k, t, a);
    tm_record rec = {.topic = "in",
                     .partition = partition,
                     .offset = offset,
                     .ts = t,
                     .value = value,
                     .value_len = strlen(value)};
    cr_assert_eq(tm_verify_input(v, &rec), 0);
}

static void output(tm_verify *v, int32_t partition, const char *k, int start, int revision,
                   int count, double s)
{
    char key[64], value[256];
    snprintf(key, sizeof key, "%s@%d", k, start);
    snprintf(value, sizeof value,
             "{\"key\":\"%s\",\"window_start\":%d,\"window_end\":%d,\"revision\":%d,"
             "\"trigger\":\"watermark\",\"count\":%d,\"aggregates\":{\"s\":%g,\"m\":%g}}",
             k, start, start + 100, revision, count, s, s / count);
    cr_assert_eq(tm_verify_output(v, partition, key, strlen(key), value, strlen(value)), 0);
}

/* Judges the table below against its input under cfg. */
static void plan(const char *config, planned *p)
{
    tm_config *cfg = tm_test_config(config);
    *p = (planned){.cfg = cfg};
    tm_verify *v;
    char err[256];
    cr_assert_eq(tm_verify_open(&v, cfg, 0, 300, "/tmp", 4, err, sizeof err), 0, "%s", err);
    input(v, 2, 0, "x", 10, 1);
    input(v, 2, 1, "x", 20, 3);
    input(v, 1, 0, "y", 110, 5);
    input(v, 3, 0, "z", 210, 2);
    output(v, 2, "x", 0, 4, 1, 1);   /* wrong: 1 of its 2 events */
    output(v, 3, "z", 200, 0, 1, 2); /* equal */
    output(v, 0, "w", 0, 1, 1, 7);   /* no input: the batch lacks it */
    /* y@100 is missing from the table. */
    tm_verify_summary sum;
    cr_assert_eq(tm_verify_finish(v, on_window, p, NULL, NULL, &sum, err, sizeof err), 0, "%s",
                 err);
    cr_assert_eq(p->judged, 4u);
    cr_assert_eq(sum.equal, 1u);
    tm_verify_close(v);
    p->cfg = NULL;
    tm_config_free(cfg);
}

static size_t find(const planned *p, const char *key)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->r[i].key, key) == 0)
            return i;
    cr_assert_fail("no record for %s", key);
    return 0;
}

static void check_value(const char *text, int start, int revision, int count, double s)
{
    cJSON *v = cJSON_Parse(text);
    cr_assert(v, "%s", text);
    cr_assert_eq(cJSON_GetObjectItem(v, "window_start")->valueint, start);
    cr_assert_eq(cJSON_GetObjectItem(v, "window_end")->valueint, start + 100);
    cr_assert_eq(cJSON_GetObjectItem(v, "revision")->valueint, revision);
    cr_assert_str_eq(cJSON_GetObjectItem(v, "trigger")->valuestring, "backfill");
    cr_assert_eq(cJSON_GetObjectItem(v, "count")->valueint, count);
    const cJSON *aggs = cJSON_GetObjectItem(v, "aggregates");
    cr_assert_float_eq(cJSON_GetObjectItem(aggs, "s")->valuedouble, s, 1e-12);
    cr_assert_float_eq(cJSON_GetObjectItem(aggs, "m")->valuedouble, s / count, 1e-12);
    cJSON_Delete(v);
}

Test(backfill, writes_a_revision_a_new_window_and_a_tombstone_and_skips_the_equal)
{
    planned p;
    plan(CONFIG("never"), &p);
    cr_assert_eq(p.n, 3u);
    size_t x = find(&p, "x@0");
    cr_assert_eq(p.r[x].kind, TM_BACKFILL_REVISION);
    cr_assert_eq(p.r[x].partition, 2, "the table record's partition");
    check_value(p.r[x].value, 0, 5, 2, 4);
    size_t y = find(&p, "y@100");
    cr_assert_eq(p.r[y].kind, TM_BACKFILL_REVISION);
    cr_assert_eq(p.r[y].partition, 1, "its input records' partition");
    check_value(p.r[y].value, 100, 0, 1, 5);
    size_t w = find(&p, "w@0");
    cr_assert_eq(p.r[w].kind, TM_BACKFILL_TOMBSTONE);
    cr_assert_eq(p.r[w].partition, 0);
    cr_assert_str_eq(p.r[w].value, "");
}

Test(backfill, a_missing_window_goes_to_its_window_task_when_repartitioning)
{
    planned p;
    plan(CONFIG("always"), &p);
    cr_assert_eq(p.n, 3u);
    size_t y = find(&p, "y@100");
    cr_assert_eq(p.r[y].partition, tm_murmur2_partition("y", 1, TASKS));
    /* A window the table holds stays in its partition. */
    cr_assert_eq(p.r[find(&p, "x@0")].partition, 2);
}

Test(backfill, a_window_is_live_until_the_watermark_passes_its_end_plus_the_lateness)
{
    tm_config *cfg = tm_test_config(CONFIG("never"));
    cr_assert(tm_backfill_window_live(cfg, 100, 149));
    cr_assert_not(tm_backfill_window_live(cfg, 100, 150));
    cr_assert(tm_backfill_window_live(cfg, 100, INT64_MIN), "a task without a watermark");
    cr_assert(tm_backfill_window_live(cfg, INT64_MAX - 10, INT64_MAX - 1), "saturates");
    tm_config_free(cfg);
}

Test(backfill, an_unjudged_session_is_left_as_it_is)
{
    tm_config *cfg = tm_test_config(CONFIG("never"));
    double acc[2] = {2, 2};
    tm_verify_window w = {.key = "c",
                          .key_len = 1,
                          .start = 60,
                          .end = 78,
                          .verdict = TM_VERIFY_UNJUDGED,
                          .has_actual = true,
                          .actual_count = 2,
                          .actual = acc,
                          .actual_revision = 0,
                          .actual_partition = 1,
                          .input_partition = 1};
    tm_buf key = {0}, value = {0};
    int32_t partition = -1;
    cr_assert_eq(tm_backfill_record(cfg, &w, TASKS, &key, &value, &partition), TM_BACKFILL_NONE);
    w.verdict = TM_VERIFY_UNEXPLAINED;
    cr_assert_eq(tm_backfill_record(cfg, &w, TASKS, &key, &value, &partition),
                 TM_BACKFILL_TOMBSTONE, "the same window judged: the batch lacks it");
    tm_buf_free(&key);
    tm_buf_free(&value);
    tm_config_free(cfg);
}
