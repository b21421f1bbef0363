/*
 * Unit tests of changelog.c: an engine restored from the records of any
 * checkpoint continues exactly as the engine that wrote them (same
 * results, byte for byte), for tumbling, hopping and session windows with
 * dedup, lateness, revisions and tombstones; and unreadable records are a
 * clear error.
 */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "changelog.h"
#include "config.h"
#include "emissions.h"
#include "engine.h"
#include "err.h"
#include "generator.h"
#include "side_record.h"

/* The records of all checkpoints so far, in order (a changelog partition
 * before compaction). */
typedef struct log_record {
    char *key, *value;
    size_t key_len, value_len;
} log_record;

typedef struct changelog_log {
    log_record *v;
    size_t n;
} changelog_log;

static void append_changes(changelog_log *log, const tm_kv_change *c, size_t n)
{
    log->v = realloc(log->v, (log->n + n) * sizeof *log->v);
    for (size_t i = 0; i < n; i++) {
        log_record *r = &log->v[log->n++];
        r->key = tm_xmemdup0(c[i].key, c[i].key_len);
        r->key_len = c[i].key_len;
        r->value = c[i].value ? tm_xmemdup0(c[i].value, c[i].value_len) : NULL;
        r->value_len = c[i].value_len;
    }
}

/* Ordering of the records of a log, for the store's view of it. */
typedef struct ranked {
    const log_record *r;
    size_t i; /* position in the log */
} ranked;

/* LMDB's default order (bytes, then the shorter first), then log order. */
static int cmp_ranked(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    size_t n = x->r->key_len < y->r->key_len ? x->r->key_len : y->r->key_len;
    int c = memcmp(x->r->key, y->r->key, n);
    if (c == 0)
        c = (x->r->key_len > y->r->key_len) - (x->r->key_len < y->r->key_len);
    return c != 0 ? c : (x->i > y->i) - (x->i < y->i);
}

/* Restores e from the log's first n records as the store holds them
 * (store.h): the latest record of each key, tombstoned keys left out, in
 * key order. Returns tm_changelog_restore_record's first error (with its
 * message), or 0. */
static int restore_from(tm_changelog *cl, tm_engine *e, const changelog_log *log, size_t n,
                        int64_t *next, char *err, size_t errlen)
{
    ranked *v = calloc(n + 1, sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = (ranked){&log->v[i], i};
    qsort(v, n, sizeof *v, cmp_ranked);
    *next = -1;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const log_record *r = v[i].r, *later = i + 1 < n ? v[i + 1].r : NULL;
        if (!r->value ||
            (later && later->key_len == r->key_len && memcmp(later->key, r->key, r->key_len) == 0))
            continue;
        rc = tm_changelog_restore_record(cl, e, r->key, r->key_len, r->value, r->value_len, next,
                                         err, errlen);
    }
    free(v);
    return rc;
}

static void free_log(changelog_log *log)
{
    for (size_t j = 0; j < log->n; j++) {
        free(log->v[j].key);
        free(log->v[j].value);
    }
    free(log->v);
}

enum { N_EVENTS = 4000, EVERY = 97 };

typedef struct event {
    int64_t ts;
    char value[160];
} event;

/* Mostly ordered events with disorder, late ones and duplicates. */
static event *make_events(uint64_t seed)
{
    event *ev = calloc(N_EVENTS, sizeof *ev);
    uint64_t x = seed * 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < N_EVENTS; i++) {
        uint64_t r = tm_rand_next(&x);
        ev[i].ts = (int64_t)i * 10;
        if (i > 150 && r % 40 == 0) {
            /* A duplicate of one of the last 150 events: across checkpoints. */
            memcpy(ev[i].value, ev[i - 1 - (r >> 33) % 150].value, sizeof ev[i].value);
            continue;
        }
        int64_t t = ev[i].ts - (int64_t)(r % 300);
        if (r % 17 == 0)
            t -= 1500 + (int64_t)(r % 2000); /* late, sometimes too late */
        snprintf(ev[i].value, sizeof ev[i].value,
                 "{\"k\":\"m%d\",\"t\":%lld,\"a\":%d.%d,\"id\":\"e%zu\"}", (int)(r % 5),
                 (long long)t, (int)(r >> 40) % 100, (int)(r >> 20) % 10, i);
    }
    return ev;
}

static void feed(tm_engine *e, const tm_config *cfg, const event *ev, size_t i, tm_test_lines *out)
{
    tm_engine_sink sink = tm_test_lines_sink(out);
    tm_record rec = {.topic = cfg->input_topics[0],
                     .offset = (int64_t)i,
                     .ts = ev[i].ts,
                     .value = ev[i].value,
                     .value_len = strlen(ev[i].value)};
    tm_engine_process(e, &rec, ev[i].ts, &sink);
}

/* Checks the checkpoint's records against the record limit (0: none
 * set) and counts its dedup records into *dedup_records. */
static void check_record_sizes(const tm_kv_change *c, size_t n, size_t limit, size_t *dedup_records)
{
    size_t dedup = 0;
    for (size_t i = 0; i < n; i++) {
        if (c[i].key_len > 0 && ((const char *)c[i].key)[0] == 'd' && c[i].value)
            dedup++;
        size_t bytes = tm_record_wire_bytes(c[i].key_len, c[i].value_len, NULL, 0);
        cr_assert(limit == 0 || bytes <= limit, "a record of %zu bytes over the limit %zu", bytes,
                  limit);
    }
    if (dedup > *dedup_records)
        *dedup_records = dedup;
}

/* A run restored at checkpoint k emitted cont: what the reference emitted
 * after that checkpoint's first from results. */
static void expect_continuation(const tm_test_lines *ref, size_t from, const tm_test_lines *cont,
                                size_t k)
{
    cr_assert_eq(cont->n, ref->n - from, "checkpoint %zu: %zu results, want %zu", k, cont->n,
                 ref->n - from);
    for (size_t i = 0; i < cont->n; i++)
        cr_assert_str_eq(cont->v[i], ref->v[from + i], "checkpoint %zu, result %zu", k, i);
}

/* Records of at most record_limit bytes (0: the default limit). */
static void check_restores(const char *window_json, size_t record_limit)
{
    char json[2048];
    snprintf(json, sizeof json,
             "{\"application_id\":\"c\",\"input\":{\"topics\":[\"in\"],"
             "\"event_time\":{\"pointer\":\"/t\",\"format\":\"epoch_ms\"},\"group_by\":\"/k\","
             "\"event_id\":\"/id\"},\"watermark\":{\"max_out_of_orderness_ms\":300},"
             "\"window\":%s,\"allowed_lateness_ms\":1000,"
             "\"aggregations\":[{\"name\":\"n\",\"op\":\"count\"},"
             "{\"name\":\"s\",\"op\":\"sum\",\"pointer\":\"/a\"},"
             "{\"name\":\"hi\",\"op\":\"max\",\"pointer\":\"/a\"}],"
             "\"dedup\":{\"enabled\":true},\"output\":{\"topic\":\"out\"},"
             "\"repartition\":{\"mode\":\"never\"}}",
             window_json);
    tm_config *cfg = tm_test_config(json);
    event *ev = make_events(7);
    char err[256];

    /* The reference run, checkpointing every EVERY records. */
    tm_engine *a = NULL;
    cr_assert_eq(tm_engine_open(&a, cfg, 0, 0, err, sizeof err), 0, "%s", err);
    tm_engine_track_changes(a);
    tm_changelog *cl = tm_changelog_new(cfg);
    if (record_limit)
        tm_changelog_set_record_limit(cl, record_limit);
    size_t most_dedup_records = 0;
    tm_test_lines ref = {.cfg = cfg};
    changelog_log log = {0};
    size_t log_len_at[N_EVENTS / EVERY + 1], out_len_at[N_EVENTS / EVERY + 1];
    size_t n_ckpt = 0;
    for (size_t i = 0; i < N_EVENTS; i++) {
        feed(a, cfg, ev, i, &ref);
        if ((i + 1) % EVERY == 0) {
            int64_t next = (int64_t)i + 1;
            const tm_kv_change *c;
            size_t n;
            tm_changelog_collect(cl, a, &next, &c, &n);
            check_record_sizes(c, n, record_limit, &most_dedup_records);
            append_changes(&log, c, n);
            log_len_at[n_ckpt] = log.n;
            out_len_at[n_ckpt++] = ref.n;
        }
    }
    cr_assert_gt(ref.n, 50, "the workload must emit");
    if (record_limit)
        cr_assert_gt(most_dedup_records, 1, "the limit must split a checkpoint's dedup keys");

    /* Restore at several checkpoints and continue: the same results. */
    for (size_t k = 0; k < n_ckpt; k += 7) {
        tm_engine *b = NULL;
        cr_assert_eq(tm_engine_open(&b, cfg, 0, 0, err, sizeof err), 0, "%s", err);
        tm_changelog *rc = tm_changelog_new(cfg);
        int64_t next;
        cr_assert_eq(restore_from(rc, b, &log, log_len_at[k], &next, err, sizeof err), 0, "%s",
                     err);
        cr_assert_eq(next, (int64_t)((k + 1) * EVERY), "checkpoint %zu: next offset", k);
        tm_test_lines cont = {.cfg = cfg};
        for (size_t i = (size_t)next; i < N_EVENTS; i++)
            feed(b, cfg, ev, i, &cont);
        expect_continuation(&ref, out_len_at[k], &cont, k);
        tm_test_lines_free(&cont);
        tm_changelog_free(rc);
        tm_engine_close(b);
    }

    free_log(&log);
    tm_test_lines_free(&ref);
    tm_changelog_free(cl);
    tm_engine_close(a);
    free(ev);
    tm_config_free(cfg);
}

Test(changelog, tumbling_restores_exactly)
{
    check_restores("{\"type\":\"tumbling\",\"size_ms\":1000}", 0);
}

/* A changelog topic that takes small records: a checkpoint's dedup keys
 * are split over several records, each within the limit, and restore
 * still brings every key back (a duplicate across checkpoints is caught). */
Test(changelog, dedup_keys_split_over_records_within_the_limit_restore_exactly)
{
    /* About 10 keys a record; a checkpoint of 97 events admits ~90. */
    check_restores("{\"type\":\"tumbling\",\"size_ms\":1000}", 400);
}

Test(changelog, hopping_restores_exactly)
{
    check_restores("{\"type\":\"hopping\",\"size_ms\":1500,\"advance_ms\":500}", 0);
}

Test(changelog, sessions_restore_exactly)
{
    check_restores("{\"type\":\"session\",\"gap_ms\":120}", 0);
}

Test(changelog, unreadable_records_are_a_clear_error)
{
    tm_config *cfg = tm_test_config(
        "{\"application_id\":\"c\",\"input\":{\"topics\":[\"in\"],"
        "\"event_time\":{\"pointer\":\"/t\"}},\"window\":{\"type\":\"tumbling\",\"size_ms\":10},"
        "\"aggregations\":[{\"name\":\"n\",\"op\":\"count\"}],\"output\":{\"topic\":\"out\"}}");
    char err[512];
    tm_engine *e = NULL;
    cr_assert_eq(tm_engine_open(&e, cfg, 0, 0, err, sizeof err), 0);
    tm_changelog *cl = tm_changelog_new(cfg);
    int64_t next = -1;
    cr_assert_eq(tm_changelog_restore_record(cl, e, "c", 1, "\x01short", 6, &next, err, sizeof err),
                 TM_ESTORE);
    cr_assert(strstr(err, "application_id"), "%s", err);
    cr_assert_eq(tm_changelog_restore_record(cl, e, "x", 1, "\x01", 1, &next, err, sizeof err),
                 TM_ESTORE);
    cr_assert(strstr(err, "unknown kind"), "%s", err);
    cr_assert_eq(next, -1, "no checkpoint restored: nothing consumed");
    tm_changelog_free(cl);
    tm_engine_close(e);
    tm_config_free(cfg);
}

/* A checkpoint written under base_window, restored under window_json with
 * the same aggregations: returns the restore's code and message. */
static int restore_under(const char *written_json, const char *restored_json, char *err,
                         size_t errlen)
{
    tm_config *a = tm_test_config(written_json), *b = tm_test_config(restored_json);
    tm_engine *ea = NULL, *eb = NULL;
    cr_assert_eq(tm_engine_open(&ea, a, 0, 0, err, errlen), 0, "%s", err);
    cr_assert_eq(tm_engine_open(&eb, b, 0, 0, err, errlen), 0, "%s", err);
    tm_engine_track_changes(ea);
    tm_changelog *wa = tm_changelog_new(a), *rb = tm_changelog_new(b);
    const tm_kv_change *c;
    size_t n;
    int64_t next = 1;
    tm_changelog_collect(wa, ea, &next, &c, &n);
    changelog_log log = {0};
    append_changes(&log, c, n);
    int rc = restore_from(rb, eb, &log, log.n, &next, err, errlen);
    free_log(&log);
    tm_changelog_free(wa);
    tm_changelog_free(rb);
    tm_engine_close(ea);
    tm_engine_close(eb);
    tm_config_free(a);
    tm_config_free(b);
    return rc;
}

#define STATE_CONFIG(window, lateness, aggs)                                                       \
    "{\"application_id\":\"c\",\"input\":{\"topics\":[\"in\"],"                                    \
    "\"event_time\":{\"pointer\":\"/t\"},\"group_by\":\"/k\"},\"window\":" window                  \
    ",\"allowed_lateness_ms\":" lateness ",\"aggregations\":" aggs                                 \
    ",\"output\":{\"topic\":\"out\"},\"repartition\":{\"mode\":\"never\"}}"

#define TUMBLING_10S "{\"type\":\"tumbling\",\"size_ms\":10000}"
#define COUNT "[{\"name\":\"n\",\"op\":\"count\"}]"

Test(changelog, a_restore_under_a_changed_window_is_refused_naming_the_keys)
{
    char err[2048];
    int rc = restore_under(STATE_CONFIG(TUMBLING_10S, "0", COUNT),
                           STATE_CONFIG("{\"type\":\"tumbling\",\"size_ms\":60000}", "0", COUNT),
                           err, sizeof err);
    cr_assert_eq(rc, TM_ECONFIG, "%s", err);
    cr_assert(strstr(err, "window.size_ms (was 10000, now 60000)"), "%s", err);
    cr_assert(strstr(err, "tidemark reset"), "the way out is named: %s", err);
    cr_assert(strstr(err, "application_id"), "%s", err);

    rc = restore_under(STATE_CONFIG(TUMBLING_10S, "0", COUNT),
                       STATE_CONFIG("{\"type\":\"session\",\"gap_ms\":10000}", "0", COUNT), err,
                       sizeof err);
    cr_assert_eq(rc, TM_ECONFIG, "%s", err);
    cr_assert(strstr(err, "window.type (was tumbling, now session)"), "%s", err);
    cr_assert(strstr(err, "window.gap_ms (was unset, now 10000)"), "%s", err);
    cr_assert(strstr(err, "window.size_ms (was 10000, now unset)"), "%s", err);

    rc = restore_under(
        STATE_CONFIG(TUMBLING_10S, "0", COUNT),
        STATE_CONFIG(TUMBLING_10S, "0",
                     "[{\"name\":\"n\",\"op\":\"count\"},{\"name\":\"s\",\"op\":\"sum\","
                     "\"pointer\":\"/a\"}]"),
        err, sizeof err);
    cr_assert_eq(rc, TM_ECONFIG, "%s", err);
    cr_assert(strstr(err, "aggregations (was n:count:, now n:count:,s:sum:/a)"), "%s", err);
}

Test(changelog, keys_that_do_not_shape_state_may_change)
{
    char err[2048];
    cr_assert_eq(restore_under(STATE_CONFIG(TUMBLING_10S, "0", COUNT),
                               STATE_CONFIG(TUMBLING_10S, "5000", COUNT), err, sizeof err),
                 0, "allowed lateness changed: %s", err);
}

/* A version 1 checkpoint (before the fingerprint) is still read. */
Test(changelog, a_version_1_checkpoint_is_read)
{
    tm_config *cfg = tm_test_config(STATE_CONFIG(TUMBLING_10S, "0", COUNT));
    char err[512];
    tm_engine *e = NULL;
    cr_assert_eq(tm_engine_open(&e, cfg, 0, 0, err, sizeof err), 0);
    /* version 1, seq 4, W 1000, one topic: next offset 7, max_t 3000, last 3000 */
    static const unsigned char v1[] = {1,    4, 0, 0, 0, 0, 0, 0,    0,    0xe8, 3, 0, 0, 0, 0,
                                       0,    0, 1, 0, 0, 0, 7, 0,    0,    0,    0, 0, 0, 0, 0xb8,
                                       0x0b, 0, 0, 0, 0, 0, 0, 0xb8, 0x0b, 0,    0, 0, 0, 0, 0};
    tm_changelog *cl = tm_changelog_new(cfg);
    int64_t next = -1;
    cr_assert_eq(tm_changelog_restore_record(cl, e, "c", 1, v1, sizeof v1, &next, err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(next, 7);
    cr_assert_eq(tm_engine_clock(e)->task_watermark, 1000);
    tm_changelog_free(cl);
    tm_engine_close(e);
    tm_config_free(cfg);
}

/* Whose record (changelog.h): tidemark's keys with a null value or a
 * version byte; anything else is foreign. A record of tidemark's that
 * cannot be read is still tidemark's. */
Test(changelog, tidemark_records_are_told_from_foreign_ones)
{
    const char w[] = "w\0\0\0\0\0\0\0\1m1", d[] = "d\0\0\0\0\0\0\0\1";
    const unsigned char v1[] = {1, 0, 0}, v9[] = {9}, text[] = "{\"id\":17}";
    cr_expect(tm_changelog_is_ours(w, sizeof w - 1, NULL, 0), "a window's tombstone");
    cr_expect(tm_changelog_is_ours(d, sizeof d - 1, v1, sizeof v1), "a dedup batch, cut short");
    cr_expect(tm_changelog_is_ours("c", 1, v9, sizeof v9), "a checkpoint of a later version");
    cr_expect_not(tm_changelog_is_ours("order-17", 8, text, sizeof text - 1), "a foreign key");
    cr_expect_not(tm_changelog_is_ours("c", 1, text, sizeof text - 1), "a text value");
    cr_expect_not(tm_changelog_is_ours("c", 1, "", 0), "an empty value");
    cr_expect_not(tm_changelog_is_ours("d1", 2, NULL, 0), "a dedup key of the wrong length");
    cr_expect_not(tm_changelog_is_ours(NULL, 0, v1, sizeof v1), "no key");
    cr_expect_str_eq(tm_changelog_check("c", 1, v9, sizeof v9), "unknown version");
    cr_expect_str_eq(tm_changelog_check(d, sizeof d - 1, v1, sizeof v1), "truncated or oversized");
    cr_expect_null(tm_changelog_check(w, sizeof w - 1, NULL, 0));
}

/* A paired task (engine.h) of a one-partition pipeline, whose events and
 * marks come straight back to it (its own window task): one record in. */
static void feed_paired(tm_engine *e, const tm_config *cfg, const event *ev, size_t i,
                        tm_test_lines *out, int64_t *repartition_next)
{
    tm_engine_sink sink = tm_test_lines_sink(out);
    tm_record rec = {.topic = cfg->input_topics[0],
                     .offset = (int64_t)i,
                     .ts = ev[i].ts,
                     .value = ev[i].value,
                     .value_len = strlen(ev[i].value)};
    tm_event fwd;
    int64_t t;
    if (tm_engine_forward(e, &rec, ev[i].ts, &sink, &fwd, &t)) {
        tm_engine_receive_event(e, &rec, &fwd, t, &sink);
        ++*repartition_next;
    }
}

/* A checkpoint of a paired task: its mark published (and received: it is
 * its own only source), then its changes. */
static void publish_paired(tm_engine *e, tm_test_lines *out, int64_t *repartition_next)
{
    tm_engine_sink sink = tm_test_lines_sink(out);
    if (tm_engine_mark_due(e)) {
        tm_engine_receive_mark(e, 0, tm_engine_take_mark(e), &sink);
        ++*repartition_next;
    }
}

/* A paired task's checkpoint (version 3) restores its windows, dedup keys,
 * both halves' watermarks, its view of the sources and both next offsets:
 * restored at any checkpoint and fed the rest, it emits what the task that
 * wrote it emitted. */
Test(changelog, a_paired_task_restores_exactly)
{
    tm_config *cfg = tm_test_config(
        "{\"application_id\":\"c\",\"input\":{\"topics\":[\"in\"],"
        "\"event_time\":{\"pointer\":\"/t\",\"format\":\"epoch_ms\"},\"group_by\":\"/k\","
        "\"event_id\":\"/id\"},\"watermark\":{\"max_out_of_orderness_ms\":300},"
        "\"window\":{\"type\":\"tumbling\",\"size_ms\":1000},\"allowed_lateness_ms\":1000,"
        "\"aggregations\":[{\"name\":\"n\",\"op\":\"count\"}],\"dedup\":{\"enabled\":true},"
        "\"output\":{\"topic\":\"out\"}}");
    cr_assert(tm_config_repartitions(cfg));
    cr_assert_eq(tm_engine_task_topics(cfg), 2, "the input topic and the repartition topic");
    event *ev = make_events(11);
    char err[256];
    tm_engine *a = NULL;
    cr_assert_eq(tm_engine_open_paired(&a, cfg, 0, 1, 0, err, sizeof err), 0, "%s", err);
    tm_engine_track_changes(a);
    tm_changelog *cl = tm_changelog_new(cfg);
    tm_test_lines ref = {.cfg = cfg};
    changelog_log log = {0};
    size_t log_len_at[N_EVENTS / EVERY + 1], out_len_at[N_EVENTS / EVERY + 1];
    int64_t rnext_at[N_EVENTS / EVERY + 1], w_at[N_EVENTS / EVERY + 1];
    size_t n_ckpt = 0;
    int64_t rnext = 0;
    for (size_t i = 0; i < N_EVENTS; i++) {
        feed_paired(a, cfg, ev, i, &ref, &rnext);
        if ((i + 1) % EVERY == 0) {
            publish_paired(a, &ref, &rnext);
            int64_t next[2] = {(int64_t)i + 1, rnext};
            const tm_kv_change *c;
            size_t n;
            tm_changelog_collect(cl, a, next, &c, &n);
            append_changes(&log, c, n);
            log_len_at[n_ckpt] = log.n;
            rnext_at[n_ckpt] = rnext;
            w_at[n_ckpt] = tm_engine_watermark(a);
            out_len_at[n_ckpt++] = ref.n;
        }
    }
    cr_assert_gt(ref.n, 50, "the workload must emit");

    for (size_t k = 0; k < n_ckpt; k += 5) {
        tm_engine *b = NULL;
        cr_assert_eq(tm_engine_open_paired(&b, cfg, 0, 1, 0, err, sizeof err), 0, "%s", err);
        tm_changelog *rc = tm_changelog_new(cfg);
        int64_t next[2] = {-1, -1};
        cr_assert_eq(restore_from(rc, b, &log, log_len_at[k], next, err, sizeof err), 0, "%s", err);
        cr_assert_eq(next[0], (int64_t)((k + 1) * EVERY), "checkpoint %zu: input offset", k);
        cr_assert_eq(next[1], rnext_at[k], "checkpoint %zu: repartition offset", k);
        cr_assert_eq(tm_engine_watermark(b), w_at[k], "checkpoint %zu: W", k);
        cr_assert(!tm_engine_mark_due(b), "checkpoint %zu: the restored mark was published", k);
        tm_test_lines cont = {.cfg = cfg};
        int64_t rn = next[1];
        for (size_t i = (size_t)next[0]; i < N_EVENTS; i++) {
            feed_paired(b, cfg, ev, i, &cont, &rn);
            if ((i + 1) % EVERY == 0)
                publish_paired(b, &cont, &rn);
        }
        cr_assert_eq(rn, rnext, "checkpoint %zu: the same repartition records", k);
        expect_continuation(&ref, out_len_at[k], &cont, k);
        tm_test_lines_free(&cont);
        tm_changelog_free(rc);
        tm_engine_close(b);
    }

    /* Into a single-stage task, the same checkpoint is refused. */
    tm_engine *single = NULL;
    cr_assert_eq(tm_engine_open(&single, cfg, 0, 0, err, sizeof err), 0, "%s", err);
    tm_changelog *rc = tm_changelog_new(cfg);
    int64_t next[2];
    cr_assert_eq(restore_from(rc, single, &log, log_len_at[0], next, err, sizeof err), TM_ESTORE);
    cr_assert(strstr(err, "repartitioning has been turned on or off"), "%s", err);
    tm_changelog_free(rc);
    tm_engine_close(single);

    free_log(&log);
    tm_test_lines_free(&ref);
    tm_changelog_free(cl);
    tm_engine_close(a);
    free(ev);
    tm_config_free(cfg);
}
