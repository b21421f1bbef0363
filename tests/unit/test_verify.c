/*
 * Unit tests of verify.c (SEMANTICS 12): a table of output records
 * against the batch results of the input, with a late output: equal,
 * explained and unexplained windows (a wrong revision, a tombstoned
 * window, a window without input, one all of whose records were late),
 * the late records named, windows outside the range ignored, and the same
 * verdicts whatever the number of spill buckets; a late record's
 * duplicate left out of B; sessions split live where the batch merges
 * them, judged per key.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "alloc.h"
#include "config.h"
#include "emissions.h"
#include "err.h"
#include "output.h"
#include "verify.h"

#define CONFIG                                                                                     \
    "{\"application_id\":\"t\",\"input\":{\"topics\":[\"in\"],"                                    \
    "\"event_time\":{\"pointer\":\"/t\",\"format\":\"epoch_ms\"},\"group_by\":\"/k\"},"            \
    "\"watermark\":{\"max_out_of_orderness_ms\":0},"                                               \
    "\"window\":{\"type\":\"tumbling\",\"size_ms\":100},\"allowed_lateness_ms\":0,"                \
    "\"aggregations\":[{\"name\":\"s\",\"op\":\"sum\",\"pointer\":\"/a\"}],"                       \
    "\"output\":{\"topic\":\"out\"}}"

/* Divergent windows as "<key>@<start> <explained|unexplained> E<count>/<s>
 * T<count>/<s> late=<sources>", '-' for an absent side. */
typedef struct seen {
    char lines[16][512];
    size_t n;
} seen;

static void on_divergent(void *ctx, const tm_verify_window *w)
{
    seen *s = ctx;
    if (w->verdict == TM_VERIFY_EQUAL)
        return;
    cr_assert_lt(s->n, 16u);
    char e[64] = "-", t[64] = "-", late[128] = "";
    if (w->has_expected)
        snprintf(e, sizeof e, "%lld/%g", (long long)w->expected_count, w->expected[0]);
    if (w->has_actual)
        snprintf(t, sizeof t, "%lld/%g", (long long)w->actual_count, w->actual[0]);
    for (size_t i = 0; i < w->n_late; i++) {
        strcat(late, i ? "," : "");
        strcat(late, w->late[i]);
    }
    snprintf(s->lines[s->n++], sizeof s->lines[0], "%.*s@%lld %s E%s T%s late=%s", (int)w->key_len,
             w->key, (long long)w->start, tm_verify_verdict_name(w->verdict), e, t, late);
}

static void input_id(tm_verify *v, int64_t offset, const char *k, int t, double a, const char *id)
{
    char value[160];
    snprintf(value, sizeof value, "{\"k\":\"%s\",\"t\":%d,\"a\":%g,\"id\":\"%s\"}", k, t, a, id);
    tm_record rec = {
        .topic = "in", .offset = offset, .ts = t, .value = value, .value_len = strlen(value)};
    cr_assert_eq(tm_verify_input(v, &rec), 0);
}

static void input(tm_verify *v, int64_t offset, const char *k, int t, double a)
{
    input_id(v, offset, k, t, a, "");
}

static void output_end(tm_verify *v, const char *k, int start, int end, int count, double s)
{
    char key[64], value[256];
    snprintf(key, sizeof key, "%s@%d", k, start);
    snprintf(value, sizeof value,
             "{\"key\":\"%s\",\"window_start\":%d,\"window_end\":%d,\"revision\":0,"
             "\"trigger\":\"watermark\",\"count\":%d,\"aggregates\":{\"s\":%g}}",
             k, start, end, count, s);
    cr_assert_eq(tm_verify_output(v, 0, key, strlen(key), count ? value : NULL, strlen(value)), 0);
}

static void output(tm_verify *v, const char *k, int start, int count, double s)
{
    output_end(v, k, start, start + 100, count, s);
}

/* A verification of cfg over [0, to) with n_buckets buckets under /tmp. */
static tm_verify *open_verify(const tm_config *cfg, int64_t to, size_t n_buckets)
{
    tm_verify *v = NULL;
    char err[256];
    cr_assert_eq(tm_verify_open(&v, cfg, 0, to, "/tmp", n_buckets, err, sizeof err), 0, "%s", err);
    return v;
}

/* Runs verify over [from, to) and returns its summary; *s gets the
 * divergent windows. */
static tm_verify_summary finish(tm_verify *v, seen *s)
{
    tm_verify_summary sum;
    char err[256];
    cr_assert_eq(tm_verify_finish(v, on_divergent, s, NULL, NULL, &sum, err, sizeof err), 0, "%s",
                 err);
    return sum;
}

static void run(size_t n_buckets)
{
    tm_config *cfg = tm_test_config(CONFIG);
    tm_verify *v = open_verify(cfg, 300, n_buckets);
    tm_verify_late(v, "in/0/3", 6);
    tm_verify_late(v, "in/0/7", 6);
    input(v, 0, "x", 10, 1);
    input(v, 1, "x", 20, 2);
    input(v, 2, "y", 110, 5);
    input(v, 3, "y", 150, 1); /* late */
    input(v, 4, "z", 210, 3);
    input(v, 5, "w", 250, 4);
    input(v, 6, "x", 350, 9); /* its window ends after the range */
    input(v, 7, "v", 20, 1);  /* late, its window's only record */
    output(v, "x", 0, 1, 1);
    output(v, "x", 0, 2, 3); /* the latest revision counts */
    output(v, "y", 100, 1, 5);
    output(v, "z", 200, 1, 4); /* a wrong revision */
    output(v, "w", 200, 1, 4);
    output(v, "w", 200, 0, 0);                                            /* tombstone */
    output(v, "u", 0, 1, 1);                                              /* no input */
    output(v, "x", 300, 5, 5);                                            /* outside the range */
    cr_assert_eq(tm_verify_output(v, 0, "t@10", 4, "{\"count\":", 9), 0); /* unreadable */
    seen s = {0};
    tm_verify_summary sum = finish(v, &s);
    cr_assert_eq(sum.input_records, 8u);
    cr_assert_eq(sum.late_records, 2u);
    cr_assert_eq(sum.output_records, 9u);
    cr_assert_eq(sum.windows, 7u);
    cr_assert_eq(sum.equal, 1u);
    cr_assert_eq(sum.explained, 2u);
    cr_assert_eq(sum.unexplained, 4u);
    static const char *const want[] = {
        "t@10 unexplained E- T-1/0 late=",       "u@0 unexplained E- T1/1 late=",
        "v@0 explained E1/1 T- late=in/0/7",     "w@200 unexplained E1/4 T- late=",
        "y@100 explained E2/6 T1/5 late=in/0/3", "z@200 unexplained E1/3 T1/4 late=",
    };
    /* Reported by bucket: compare as a set. */
    cr_assert_eq(s.n, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < s.n; i++) {
        bool found = false;
        for (size_t j = 0; j < s.n; j++)
            found = found || strcmp(s.lines[j], want[i]) == 0;
        cr_assert(found, "missing: %s", want[i]);
    }
    tm_verify_close(v);
    tm_config_free(cfg);
}

Test(verify, verdicts_with_one_bucket)
{
    run(1);
}

Test(verify, verdicts_with_many_buckets)
{
    run(7);
}

Test(verify, read_from_covers_a_session_gap_and_the_skew_allowance)
{
    tm_config *cfg = tm_test_config(
        "{\"application_id\":\"t\",\"input\":{\"topics\":[\"in\"],"
        "\"event_time\":{\"pointer\":\"/t\",\"format\":\"epoch_ms\"},\"group_by\":\"/k\"},"
        "\"watermark\":{\"max_out_of_orderness_ms\":0},"
        "\"window\":{\"type\":\"session\",\"gap_ms\":50},\"allowed_lateness_ms\":0,"
        "\"clock_skew\":{\"max_ahead_ms\":7,\"action\":\"clamp\"},"
        "\"aggregations\":[{\"name\":\"n\",\"op\":\"count\"}],\"output\":{\"topic\":\"out\"}}");
    cr_assert_eq(tm_verify_pad(cfg), 50);
    cr_assert_eq(tm_verify_read_from(cfg, 1000), 1000 - 50 - 7);
    tm_config_free(cfg);
}

/* CONFIG with window w, more input members (extra) and more top-level
 * members (top, each followed by a comma). */
static tm_config *config_with(const char *w, const char *extra, const char *top)
{
    char json[1024];
    snprintf(json, sizeof json,
             "{\"application_id\":\"t\",\"input\":{\"topics\":[\"in\"],"
             "\"event_time\":{\"pointer\":\"/t\",\"format\":\"epoch_ms\"},"
             "\"group_by\":\"/k\"%s},\"watermark\":{\"max_out_of_orderness_ms\":0},"
             "\"window\":%s,\"allowed_lateness_ms\":0,"
             "\"aggregations\":[{\"name\":\"s\",\"op\":\"sum\",\"pointer\":\"/a\"}],"
             "%s\"output\":{\"topic\":\"out\"}}",
             extra, w, top);
    return tm_test_config(json);
}

Test(verify, a_late_records_duplicate_is_left_out_of_b)
{
    tm_config *cfg = config_with("{\"type\":\"tumbling\",\"size_ms\":100}", ",\"event_id\":\"/id\"",
                                 "\"dedup\":{\"enabled\":true,\"ttl_ms\":1},");
    tm_verify *v = open_verify(cfg, 100, 3);
    tm_verify_late(v, "in/0/1", 6);
    input_id(v, 0, "x", 10, 1, "a");
    input_id(v, 1, "x", 20, 2, "d"); /* too late live */
    input_id(v, 2, "x", 20, 2, "d"); /* its duplicate: not counted live either */
    output(v, "x", 0, 1, 1);
    seen s = {0};
    tm_verify_summary sum = finish(v, &s);
    cr_assert_eq(sum.windows, 1u);
    cr_assert_eq(sum.explained, 1u, "%s", s.n ? s.lines[0] : "");
    cr_assert_str_eq(s.lines[0], "x@0 explained E2/3 T1/1 late=in/0/1");
    tm_verify_close(v);
    tm_config_free(cfg);
}

Test(verify, sessions_split_live_are_judged_per_key)
{
    tm_config *cfg = config_with("{\"type\":\"session\",\"gap_ms\":10}", "", "");
    tm_verify *v = open_verify(cfg, 1000, 2);
    /* The batch merges them into [0, 18); live, the first session expired
     * before the second event came. */
    input(v, 0, "y", 0, 1);
    input(v, 1, "y", 8, 2);
    output_end(v, "y", 0, 10, 1, 1);
    output_end(v, "y", 8, 18, 1, 2);
    /* Another key whose sessions do not add up: unexplained. */
    input(v, 2, "z", 0, 1);
    input(v, 3, "z", 8, 2);
    output_end(v, "z", 0, 10, 1, 1);
    seen s = {0};
    tm_verify_summary sum = finish(v, &s);
    cr_assert_eq(sum.windows, 3u);
    cr_assert_eq(sum.explained, 2u);
    cr_assert_eq(sum.unexplained, 1u);
    for (size_t i = 0; i < s.n; i++)
        cr_assert_eq(strstr(s.lines[i], "unexplained") != NULL, s.lines[i][0] == 'z', "%s",
                     s.lines[i]);
    tm_verify_close(v);
    tm_config_free(cfg);
}

Test(verify, a_lost_session_is_unexplained_though_a_late_record_moved_its_batch_start)
{
    tm_config *cfg = config_with("{\"type\":\"session\",\"gap_ms\":15}", "", "");
    tm_verify *v = open_verify(cfg, 1000, 2);
    tm_verify_late(v, "in/0/0", 6);
    /* E: [0, 35) with the too-late record at 0; B: [12, 35) without it. */
    input(v, 0, "x", 0, 1); /* too late live */
    input(v, 1, "x", 12, 2);
    input(v, 2, "x", 20, 3);
    /* Live wrote B's session, then the table lost it (a tombstone). Judged
     * one window at a time, E's [0, 35) (absent from B and T alike) would
     * pass as explained and B's [12, 35) would never be judged. */
    output_end(v, "x", 12, 35, 2, 5);
    output(v, "x", 12, 0, 0);
    seen s = {0};
    tm_verify_summary sum = finish(v, &s);
    cr_assert_eq(sum.windows, 1u);
    cr_assert_eq(sum.unexplained, 1u, "%s", s.n ? s.lines[0] : "");
    cr_assert_str_eq(s.lines[0], "x@0 unexplained E3/6 T- late=in/0/0");
    tm_verify_close(v);
    tm_config_free(cfg);
}

Test(verify, many_buckets_raise_the_open_file_limit)
{
    tm_config *cfg = tm_test_config(CONFIG);
    struct rlimit lim;
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &lim), 0);
    /* A soft limit too low for 600 buckets, raised by tm_verify_open. */
    cr_assert(lim.rlim_max == RLIM_INFINITY || lim.rlim_max >= 1500, "hard limit %llu",
              (unsigned long long)lim.rlim_max);
    struct rlimit low = {.rlim_cur = 512, .rlim_max = lim.rlim_max};
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
    tm_verify *v = open_verify(cfg, 300, 600);
    input(v, 0, "x", 10, 1);
    output(v, "x", 0, 1, 1);
    seen s = {0};
    tm_verify_summary sum = finish(v, &s);
    cr_assert_eq(sum.equal, 1u);
    tm_verify_close(v);
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &low), 0);
    cr_assert_geq(low.rlim_cur, 1200u);
    /* More than the hard limit allows: refused, naming the limit. */
    if (lim.rlim_max != RLIM_INFINITY && lim.rlim_max < 2 * TM_VERIFY_MAX_BUCKETS) {
        char err[256];
        cr_assert_eq(
            tm_verify_open(&v, cfg, 0, 300, "/tmp", TM_VERIFY_MAX_BUCKETS, err, sizeof err),
            TM_ECONFIG);
        cr_assert(strstr(err, "use fewer buckets"), "%s", err);
    }
    tm_config_free(cfg);
}

/* The buckets picked from the records to read: one per
 * TM_VERIFY_BUCKET_RECORDS, within [TM_VERIFY_MIN_BUCKETS,
 * TM_VERIFY_MAX_BUCKETS], and no more than the hard limit of open files
 * has room for (two each, 256 kept for the rest). */
Test(verify, buckets_follow_the_records_to_read)
{
    const int64_t per = TM_VERIFY_BUCKET_RECORDS;
    cr_assert_eq(tm_verify_buckets_for(0, 0), TM_VERIFY_MIN_BUCKETS);
    cr_assert_eq(tm_verify_buckets_for(1000000, 0), TM_VERIFY_MIN_BUCKETS);
    cr_assert_eq(tm_verify_buckets_for(100 * per, 0), 100u);
    cr_assert_eq(tm_verify_buckets_for(100 * per + 1, 0), 101u);
    cr_assert_eq(tm_verify_buckets_for(4000000, 0), 245u);
    cr_assert_eq(tm_verify_buckets_for(INT64_MAX, 0), TM_VERIFY_MAX_BUCKETS);
    /* 1256 open files hold 500 buckets. */
    cr_assert_eq(tm_verify_buckets_for(4000000, 1256), 245u);
    cr_assert_eq(tm_verify_buckets_for(600 * per, 1256), 500u);
    cr_assert_eq(tm_verify_buckets_for(0, 300), 22u, "under the fewest when the limit says so");
    cr_assert_eq(tm_verify_buckets_for(0, 100), 1u);
}

Test(verify, output_values_are_read_as_written_whatever_the_member_order_or_escapes)
{
    /* An aggregation name that the output escapes. */
    tm_config *cfg = tm_test_config(
        "{\"application_id\":\"t\",\"input\":{\"topics\":[\"in\"],"
        "\"event_time\":{\"pointer\":\"/t\",\"format\":\"epoch_ms\"},\"group_by\":\"/k\"},"
        "\"watermark\":{\"max_out_of_orderness_ms\":0},"
        "\"window\":{\"type\":\"tumbling\",\"size_ms\":100},\"allowed_lateness_ms\":0,"
        "\"aggregations\":[{\"name\":\"g\\\"m\\\\\",\"op\":\"sum\",\"pointer\":\"/a\"}],"
        "\"output\":{\"topic\":\"out\"}}");
    tm_verify *v = open_verify(cfg, 300, 2);
    input(v, 0, "x", 10, 2);
    input(v, 1, "y", 110, 3);
    input(v, 2, "z", 210, 4);
    /* x: as the live service writes it. */
    double acc = 2;
    tm_window_result r = {.key = "x", .key_len = 1, .end = 100, .count = 1, .acc = &acc};
    tm_buf value = {0};
    tm_output_value(&value, cfg, &r);
    cr_assert_eq(tm_verify_output(v, 0, "x@0", 3, value.data, value.len), 0);
    /* y: members in another order, with blanks. */
    const char *y = "{ \"aggregates\" : {\"g\\\"m\\\\\" : 3.0}, \"count\": 1, \"window_end\": 200,"
                    " \"revision\": 2, \"window_start\": 100, \"key\": \"y\" }";
    cr_assert_eq(tm_verify_output(v, 0, "y@100", 5, y, strlen(y)), 0);
    /* z: a null aggregate (a non-finite sum) cannot be read. */
    const char *z =
        "{\"window_end\":300,\"count\":1,\"revision\":0,\"aggregates\":{\"g\\\"m\\\\\":null}}";
    cr_assert_eq(tm_verify_output(v, 0, "z@200", 5, z, strlen(z)), 0);
    seen s = {0};
    tm_verify_summary sum = finish(v, &s);
    cr_assert_eq(sum.windows, 3u);
    cr_assert_eq(sum.equal, 2u, "%s", s.n ? s.lines[0] : "");
    cr_assert_str_eq(s.lines[0], "z@200 unexplained E1/4 T-1/0 late=");
    tm_buf_free(&value);
    tm_verify_close(v);
    tm_config_free(cfg);
}

Test(verify, sessions_a_bound_of_the_range_cuts_are_unjudged_and_the_rest_judged)
{
    tm_config *cfg = config_with("{\"type\":\"session\",\"gap_ms\":10}", "", "");
    tm_verify *v = open_verify(cfg, 100, 2);
    input(v, 0, "c", 10, 1);
    input(v, 1, "c", 20, 1); /* batch [10, 30) */
    for (int i = 0; i < 6; i++)
        input(v, 2 + i, "c", 60 + 8 * i, 1); /* batch [60, 110): the bound cuts it */
    output_end(v, "c", 10, 30, 1, 1);        /* wrong: one event lost */
    /* Live split [60, 110): [60, 78) expired before the next event. What
     * that part should hold cannot be told from inside the range. */
    output_end(v, "c", 60, 78, 2, 2);
    seen s = {0};
    tm_verify_summary sum = finish(v, &s);
    cr_assert_eq(sum.windows, 2u);
    cr_assert_eq(sum.unexplained, 1u);
    cr_assert_eq(sum.unjudged, 1u);
    cr_assert_str_eq(s.lines[0], "c@10 unexplained E2/2 T1/1 late=");
    cr_assert_str_eq(s.lines[1], "c@60 unjudged E- T2/2 late=");
    tm_verify_close(v);
    tm_config_free(cfg);
}
