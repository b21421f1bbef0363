/*
 * changelog_gen.c: see changelog_gen.h.
 */
#include "changelog_gen.h"

#include <criterion/criterion.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "alloc.h"
#include "buf.h"
#include "changelog.h"
#include "emissions.h"
#include "kafka.h"

struct tm_changelog_gen {
    const tm_config *cfg;
    int tasks;
    tm_kafka *producer;
    tm_engine **engines;
    tm_changelog **changelogs;
    size_t *events;    /* fed to each engine */
    uint64_t *records; /* produced to each partition */
    uint64_t bytes;
};

tm_config *tm_changelog_gen_config(const char *app_id, const char *topic, const char *state_dir,
                                   const char *bootstrap)
{
    tm_buf json = {0};
    tm_buf_printf(&json,
                  "{\"application_id\": \"%s\",\n"
                  " \"input\": {\"topics\": [\"%s\"], \"event_time\": {\"pointer\": "
                  "\"/event_time\"},\n"
                  "           \"group_by\": \"/merchant\", \"event_id\": \"/order_id\"},\n"
                  " \"watermark\": {\"max_out_of_orderness_ms\": 2000, \"idle_timeout_ms\": 0},\n"
                  " \"repartition\": {\"mode\": \"never\"},\n"
                  " \"window\": {\"type\": \"tumbling\", \"size_ms\": 3600000},\n"
                  " \"aggregations\": [{\"name\": \"orders\", \"op\": \"count\"},\n"
                  "                  {\"name\": \"gmv\", \"op\": \"sum\", \"pointer\": "
                  "\"/amount\"}],\n"
                  " \"dedup\": {\"enabled\": true, \"key\": \"id\", \"ttl_ms\": 86400000},\n"
                  " \"output\": {\"topic\": \"gmv\", \"late_topic\": \"gmv-late\", "
                  "\"dlq_topic\": \"gmv-dlq\"},\n"
                  " \"state.dir\": \"%s\",\n"
                  " \"metrics.port\": 0,\n"
                  " \"kafka\": {\"bootstrap.servers\": \"%s\"}}\n",
                  app_id, topic, state_dir, bootstrap);
    tm_config *cfg = tm_test_config(json.data);
    tm_buf_free(&json);
    return cfg;
}

tm_changelog_gen *tm_changelog_gen_open(const tm_config *cfg, int tasks)
{
    tm_changelog_gen *g = tm_xcalloc(1, sizeof *g);
    char err[1024];
    g->cfg = cfg;
    g->tasks = tasks;
    int rc = tm_kafka_open(&g->producer, cfg, "changelog-generator", NULL, NULL, err, sizeof err);
    cr_assert_eq(rc, 0, "%s", err);
    g->engines = tm_xcalloc((size_t)tasks, sizeof *g->engines);
    g->changelogs = tm_xcalloc((size_t)tasks, sizeof *g->changelogs);
    g->events = tm_xcalloc((size_t)tasks, sizeof *g->events);
    g->records = tm_xcalloc((size_t)tasks, sizeof *g->records);
    for (int p = 0; p < tasks; p++) {
        cr_assert_eq(tm_engine_open(&g->engines[p], cfg, p, 0, err, sizeof err), 0, "%s", err);
        tm_engine_track_changes(g->engines[p]);
        g->changelogs[p] = tm_changelog_new(cfg);
        tm_changelog_set_record_limit(g->changelogs[p],
                                      tm_kafka_changelog_record_limit(g->producer));
    }
    return g;
}

static void no_result(void *ctx, int32_t partition, const tm_window_result *r)
{
    (void)ctx, (void)partition, (void)r;
    cr_assert_fail("a window fired: the generated event times keep them all open");
}

static void no_late(void *ctx, int32_t partition, const tm_record *rec, int64_t watermark)
{
    (void)ctx, (void)partition, (void)rec, (void)watermark;
    cr_assert_fail("a late record: the generated event times are in order");
}

static void no_dead_letter(void *ctx, const tm_record *rec, tm_dlq_reason reason,
                           const char *detail)
{
    (void)ctx, (void)rec, (void)reason;
    cr_assert_fail("a dead letter: %s", detail);
}

/* n more events into task p's engine (see changelog_gen.h). */
static void feed(tm_changelog_gen *g, int p, size_t n)
{
    static const int64_t T0 = 1700000000000; /* a multiple of an hour: a window's start */
    const tm_engine_sink sink = {NULL, no_result, no_late, no_dead_letter};
    char value[160];
    for (size_t k = 0; k < n; k++) {
        size_t i = g->events[p]++;
        int64_t t = T0 + (int64_t)(i % 1000000);
        int len = snprintf(value, sizeof value,
                           "{\"event_time\":%lld,\"merchant\":\"%d-%zu\",\"order_id\":\"%d-%zu\","
                           "\"amount\":%zu.25}",
                           (long long)t, p, i, p, i, i % 500);
        tm_record rec = {.topic = g->cfg->input_topics[0],
                         .partition = p,
                         .offset = (int64_t)i,
                         .ts = t,
                         .value = value,
                         .value_len = (size_t)len};
        tm_engine_process(g->engines[p], &rec, t, &sink);
    }
}

static void expect_ok(tm_kafka_status st, const char *what, const char *err)
{
    cr_assert_eq(st, TM_KAFKA_OK, "%s: %s", what, err);
}

/* Task p's checkpoint, produced into the open transaction. */
static void checkpoint(tm_changelog_gen *g, int p)
{
    char err[512] = "";
    int64_t next = (int64_t)g->events[p];
    const tm_kv_change *c;
    size_t n;
    tm_changelog_collect(g->changelogs[p], g->engines[p], &next, &c, &n);
    for (size_t k = 0; k < n; k++) {
        expect_ok(tm_kafka_produce_changelog(g->producer, p, c[k].key, c[k].key_len, c[k].value,
                                             c[k].value_len, err, sizeof err),
                  "produce", err);
        g->bytes += c[k].key_len + c[k].value_len;
    }
    g->records[p] += n;
}

void tm_changelog_gen_write(tm_changelog_gen *g, size_t events, size_t per_checkpoint)
{
    char err[512] = "";
    size_t per_task = events / (size_t)g->tasks;
    for (size_t done = 0; done < per_task; done += per_checkpoint) {
        size_t n = per_task - done < per_checkpoint ? per_task - done : per_checkpoint;
        expect_ok(tm_kafka_begin(g->producer, err, sizeof err), "begin", err);
        for (int p = 0; p < g->tasks; p++) {
            feed(g, p, n);
            checkpoint(g, p);
        }
        expect_ok(tm_kafka_commit(g->producer, err, sizeof err), "commit", err);
    }
}

const tm_engine *tm_changelog_gen_engine(const tm_changelog_gen *g, int p)
{
    return g->engines[p];
}

int64_t tm_changelog_gen_events(const tm_changelog_gen *g, int p)
{
    return (int64_t)g->events[p];
}

uint64_t tm_changelog_gen_records(const tm_changelog_gen *g, int p)
{
    return g->records[p];
}

uint64_t tm_changelog_gen_bytes(const tm_changelog_gen *g)
{
    return g->bytes;
}

void tm_changelog_gen_close(tm_changelog_gen *g)
{
    if (!g)
        return;
    for (int p = 0; p < g->tasks; p++) {
        tm_engine_close(g->engines[p]);
        tm_changelog_free(g->changelogs[p]);
    }
    tm_kafka_close(g->producer);
    free(g->engines);
    free(g->changelogs);
    free(g->events);
    free(g->records);
    free(g);
}
