/*
 * Unit tests of changelog_json.c: the records a real engine checkpoint
 * writes (changelog.c) render as the documented JSON members, exactly;
 * tombstones render as tombstones; and bytes that cannot be read are a
 * clear error that leaves the output untouched.
 */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "changelog.h"
#include "changelog_json.h"
#include "emissions.h"
#include "engine.h"
#include "err.h"

/* Tumbling 1 s windows, no disorder or lateness (a window expires as it
 * fires), dedup with a 5 s TTL: two events make every kind of record. */
/* The live service's single-stage tasks: repartition.mode never. */
static const char *CONFIG =
    "{\"application_id\":\"j\",\"input\":{\"topics\":[\"in\"],"
    "\"event_time\":{\"pointer\":\"/t\",\"format\":\"epoch_ms\"},\"group_by\":\"/k\","
    "\"event_id\":\"/id\"},\"watermark\":{\"max_out_of_orderness_ms\":0},"
    "\"window\":{\"type\":\"tumbling\",\"size_ms\":1000},\"allowed_lateness_ms\":0,"
    "\"aggregations\":[{\"name\":\"n\",\"op\":\"count\"},"
    "{\"name\":\"s\",\"op\":\"sum\",\"pointer\":\"/a\"}],"
    "\"dedup\":{\"enabled\":true,\"ttl_ms\":5000},\"output\":{\"topic\":\"out\"},"
    "\"repartition\":{\"mode\":\"never\"}}";

typedef struct fixture {
    tm_config *cfg;
    tm_engine *engine;
    tm_changelog *cl;
    tm_test_lines lines;
    int64_t offset;
} fixture;

static void open_fixture(fixture *f)
{
    char err[256];
    f->cfg = tm_test_config(CONFIG);
    cr_assert_eq(tm_engine_open(&f->engine, f->cfg, 0, 0, err, sizeof err), 0, "%s", err);
    tm_engine_track_changes(f->engine);
    f->cl = tm_changelog_new(f->cfg);
    f->lines = (tm_test_lines){.cfg = f->cfg};
}

static void close_fixture(fixture *f)
{
    tm_test_lines_free(&f->lines);
    tm_changelog_free(f->cl);
    tm_engine_close(f->engine);
    tm_config_free(f->cfg);
}

/* One event with event time = receipt time = processing time t. */
static void feed(fixture *f, const char *id, int64_t t, const char *amount)
{
    char value[128];
    snprintf(value, sizeof value, "{\"k\":\"m1\",\"t\":%lld,\"a\":%s,\"id\":\"%s\"}", (long long)t,
             amount, id);
    tm_engine_sink sink = tm_test_lines_sink(&f->lines);
    tm_record rec = {
        .topic = "in", .offset = f->offset++, .ts = t, .value = value, .value_len = strlen(value)};
    tm_engine_process(f->engine, &rec, t, &sink);
}

/* The JSON members of every record of the next checkpoint, in order. */
static size_t checkpoint(fixture *f, char out[][1024], size_t max)
{
    const tm_kv_change *c;
    size_t n;
    tm_changelog_collect(f->cl, f->engine, &f->offset, &c, &n);
    cr_assert_leq(n, max);
    for (size_t i = 0; i < n; i++) {
        tm_buf b = {0};
        char err[128];
        cr_assert_eq(tm_changelog_json_members(&b, c[i].key, c[i].key_len, c[i].value,
                                               c[i].value_len, err, sizeof err),
                     0, "record %zu: %s", i, err);
        snprintf(out[i], sizeof out[i], "%s", b.data);
        tm_buf_free(&b);
    }
    return n;
}

/* The dedup record's one key: "hash" is 32 lowercase hex digits. */
static void assert_dedup(const char *got, const char *prefix, const char *suffix)
{
    size_t pre = strlen(prefix), suf = strlen(suffix), len = strlen(got);
    cr_assert(len == pre + 32 + suf && strncmp(got, prefix, pre) == 0 &&
                  strcmp(got + pre + 32, suffix) == 0,
              "got %s", got);
    for (size_t i = pre; i < pre + 32; i++)
        cr_assert(strchr("0123456789abcdef", got[i]), "hash digit '%c' in %s", got[i], got);
}

/* The fixture's state fingerprint, as a checkpoint renders it. */
#define FIXTURE_STATE                                                                              \
    ",\"state\":\"input.topics=in\\ninput.group_by=/k\\ninput.event_id=/id\\n"                     \
    "window.type=tumbling\\nwindow.size_ms=1000\\nwindow.offset_ms=0\\n"                           \
    "aggregations=n:count:,s:sum:/a\\ndedup.enabled=true\\ndedup.key=id+event_time\\n"             \
    "dedup.ttl_ms=5000\\n\""

Test(changelog_json, every_kind_renders_exactly)
{
    fixture f = {0};
    open_fixture(&f);
    char rec[8][1024];

    feed(&f, "e1", 1500, "12.5");
    size_t n = checkpoint(&f, rec, 8);
    cr_assert_eq(n, 3, "a window, a dedup batch, the checkpoint");
    cr_assert_str_eq(rec[0], "\"kind\":\"window\",\"key\":\"m1\",\"window_start\":1000,"
                             "\"window_end\":2000,\"count\":1,\"revision\":-1,\"fired\":false,"
                             "\"accumulators\":[0,12.5]");
    assert_dedup(rec[1], "\"kind\":\"dedup\",\"seq\":0,\"max_expiry\":6500,\"keys\":[{\"hash\":\"",
                 "\",\"expiry\":6500}]");
    cr_assert_str_eq(rec[2], "\"kind\":\"checkpoint\",\"seq\":0,\"watermark\":1500,\"inputs\":"
                             "[{\"next_offset\":1,\"max_event_time\":1500,"
                             "\"last_record_time\":1500}]" FIXTURE_STATE);

    /* The watermark passes the first window's end (it fires and expires at
     * once) and the first batch's expiry: both are tombstoned. */
    feed(&f, "e2", 8000, "1");
    n = checkpoint(&f, rec, 8);
    cr_assert_eq(n, 5, "got %zu records", n);
    cr_assert_str_eq(rec[0], "\"kind\":\"window\",\"key\":\"m1\",\"window_start\":1000,"
                             "\"tombstone\":true");
    cr_assert_str_eq(rec[1], "\"kind\":\"window\",\"key\":\"m1\",\"window_start\":8000,"
                             "\"window_end\":9000,\"count\":1,\"revision\":-1,\"fired\":false,"
                             "\"accumulators\":[0,1]");
    assert_dedup(rec[2], "\"kind\":\"dedup\",\"seq\":1,\"max_expiry\":13000,\"keys\":[{\"hash\":\"",
                 "\",\"expiry\":13000}]");
    cr_assert_str_eq(rec[3], "\"kind\":\"dedup\",\"seq\":0,\"tombstone\":true");
    cr_assert_str_eq(rec[4], "\"kind\":\"checkpoint\",\"seq\":1,\"watermark\":8000,\"inputs\":"
                             "[{\"next_offset\":2,\"max_event_time\":8000,"
                             "\"last_record_time\":8000}]" FIXTURE_STATE);
    cr_assert_eq(f.lines.n, 1, "the first window fired once");
    close_fixture(&f);
}

/* Renders key/value (value NULL: a tombstone) and expects a failure that
 * names why, with the output untouched. */
static void assert_unreadable(const void *key, size_t key_len, const void *value, size_t value_len,
                              const char *why)
{
    tm_buf b = {0};
    tm_buf_puts(&b, "before");
    char err[256] = "";
    cr_assert_eq(tm_changelog_json_members(&b, key, key_len, value, value_len, err, sizeof err),
                 TM_EPARSE, "expected '%s', rendered %s", why, b.data);
    cr_assert(strstr(err, why), "expected '%s' in '%s'", why, err);
    cr_assert_str_eq(b.data, "before");
    tm_buf_free(&b);
}

Test(changelog_json, unreadable_records_are_errors)
{
    fixture f = {0};
    open_fixture(&f);
    feed(&f, "e1", 1500, "12.5");
    const tm_kv_change *c;
    size_t n;
    tm_changelog_collect(f.cl, f.engine, &f.offset, &c, &n);
    cr_assert_eq(n, 3);
    const tm_kv_change *window = &c[0], *dedup = &c[1], *ckpt = &c[2];
    char bytes[512];

    assert_unreadable("x", 1, "", 0, "unknown kind");
    assert_unreadable("", 0, NULL, 0, "unknown kind");
    assert_unreadable("w\0\0\0", 4, NULL, 0, "short key");
    assert_unreadable("d\0\0\0\0\0\0\0\0\0", 10, NULL, 0, "bad key");
    assert_unreadable("c", 1, NULL, 0, "tombstone of the checkpoint");
    for (const tm_kv_change *r = window; r <= ckpt; r++) {
        cr_assert_lt(r->value_len + 1, sizeof bytes);
        memcpy(bytes, r->value, r->value_len);
        unsigned char version = (unsigned char)bytes[0];
        bytes[0] = 0x7f;
        assert_unreadable(r->key, r->key_len, bytes, r->value_len, "unknown version");
        bytes[0] = (char)version;
        assert_unreadable(r->key, r->key_len, bytes, r->value_len - 1, "truncated or oversized");
        bytes[r->value_len] = 0;
        assert_unreadable(r->key, r->key_len, bytes, r->value_len + 1, "truncated or oversized");
        assert_unreadable(r->key, r->key_len, bytes, 0, "unknown version");
    }
    /* A count of dedup keys that the bytes do not hold. */
    memcpy(bytes, dedup->value, dedup->value_len);
    bytes[1] = 2;
    assert_unreadable(dedup->key, dedup->key_len, bytes, dedup->value_len,
                      "truncated or oversized");
    close_fixture(&f);
}
