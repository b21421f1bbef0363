/*
 * Unit tests of restore.c against the test broker (tests/broker), with
 * changelogs written by the service's own code (changelog_gen.h) and LMDB
 * stores under a fresh /tmp directory per test: tasks restored together
 * come back as the engines that wrote their changelogs had them, and a
 * second restore reads only the new tail; a changelog deleted and created
 * again (an application reset) wipes the stores ahead of it; a stop
 * request before the read leaves the stores as they were; too few file
 * descriptors for the tasks is an error naming the counts.
 *
 * Every wait is bounded (librdkafka timeouts, the broker's start); no
 * Criterion .timeout (it leaks under ASan).
 */
#include <criterion/criterion.h>
#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "broker.h"
#include "changelog_gen.h"
#include "err.h"
#include "kafka.h"
#include "log.h"
#include "proc.h"
#include "restore.h"
#include "stop_flag.h"

enum { TASKS = 3 };

static char dir[64];
static tm_test_broker *broker;

static void setup(void)
{
    /* librdkafka's informational lines would drown the test output. */
    tm_log_threshold = TM_LOG_ERROR;
    snprintf(dir, sizeof dir, "/tmp/tm_restore_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
    tm_test_broker_stop(broker);
    broker = NULL;
    tm_proc_kill_all();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}

TestSuite(restore, .init = setup, .fini = teardown);

/* The broker with the generator's topics and the changelog, TASKS
 * partitions each, and the pipeline's configuration (state under dir). */
static tm_config *start(void)
{
    const char *args[] = {
        "--brokers",  "1",       "--topic",   "orders:3", "--topic",         "gmv:3", "--topic",
        "gmv-late:3", "--topic", "gmv-dlq:3", "--topic",  "app-changelog:3", NULL};
    broker = tm_test_broker_start(args, NULL);
    char state[96];
    snprintf(state, sizeof state, "%s/state", dir);
    return tm_changelog_gen_config("app", "orders", state, tm_test_broker_bootstrap(broker));
}

static tm_kafka *reader(const tm_config *cfg)
{
    tm_kafka *k = NULL;
    char err[512];
    cr_assert_eq(tm_kafka_open_changelog_reader(&k, cfg, err, sizeof err), 0, "%s", err);
    return k;
}

/* Restores tasks 0..TASKS-1 into out; returns tm_restore_tasks's code. */
static int restore_all(const tm_config *cfg, tm_stop_flag *stop, tm_restored_task *out, char *err,
                       size_t errlen)
{
    const int32_t partitions[TASKS] = {0, 1, 2};
    tm_kafka *k = reader(cfg);
    const tm_restore_options o = {.stop = stop};
    int rc = tm_restore_tasks(cfg, k, partitions, TASKS, &o, out, err, errlen);
    tm_kafka_close(k);
    return rc;
}

/* Restores every task and checks it against the generator's engine: the
 * same windows and dedup keys, the checkpoint's next input offset, the
 * changelog records read (records[p]; -1: any) and the foreign records
 * skipped (foreign[p]; NULL: none). */
static void check_restore(const tm_config *cfg, const tm_changelog_gen *g, const int64_t *records,
                          const int64_t *foreign)
{
    tm_restored_task out[TASKS];
    char err[512];
    cr_assert_eq(restore_all(cfg, NULL, out, err, sizeof err), 0, "%s", err);
    for (int p = 0; p < TASKS; p++) {
        const tm_engine *want = tm_changelog_gen_engine(g, p);
        cr_assert_eq(out[p].partition, p);
        cr_assert_eq(tm_engine_window_count(out[p].engine), tm_engine_window_count(want), "task %d",
                     p);
        cr_assert_eq(tm_engine_dedup_entries(out[p].engine), tm_engine_dedup_entries(want),
                     "task %d", p);
        cr_assert_eq(tm_engine_watermark(out[p].engine), tm_engine_watermark(want), "task %d", p);
        cr_assert_eq(out[p].next_offsets[0], tm_changelog_gen_events(g, p), "task %d", p);
        cr_assert(records[p] < 0 || out[p].records == (uint64_t)records[p],
                  "task %d: %llu records read, expected %lld", p,
                  (unsigned long long)out[p].records, (long long)records[p]);
        cr_assert_eq(out[p].foreign, foreign ? (uint64_t)foreign[p] : 0, "task %d", p);
        tm_restored_task_close(&out[p]);
    }
}

/* The changelog records the generator has written to each task. */
static void records_of(const tm_changelog_gen *g, int64_t *records)
{
    for (int p = 0; p < TASKS; p++)
        records[p] = (int64_t)tm_changelog_gen_records(g, p);
}

Test(restore, tasks_come_back_as_written_and_a_second_restore_reads_only_the_tail)
{
    tm_config *cfg = start();
    tm_changelog_gen *g = tm_changelog_gen_open(cfg, TASKS);
    tm_changelog_gen_write(g, 3000, 400);
    int64_t before[TASKS], records[TASKS];
    records_of(g, before);
    for (int p = 0; p < TASKS; p++)
        cr_assert_gt(before[p], 1000, "windows, dedup batches and checkpoints");
    check_restore(cfg, g, before, NULL);

    tm_changelog_gen_write(g, 300, 400);
    records_of(g, records);
    for (int p = 0; p < TASKS; p++)
        records[p] -= before[p];
    check_restore(cfg, g, records, NULL);

    tm_changelog_gen_close(g);
    tm_config_free(cfg);
}

/* An application reset deletes the changelog; the stores of a pod it
 * missed are ahead of the new one, and hold state that no longer exists:
 * the restore must give the new changelog's state, not the old one's
 * (nor both). */
Test(restore, stores_ahead_of_a_recreated_changelog_are_wiped)
{
    tm_config *cfg = start();
    tm_changelog_gen *old = tm_changelog_gen_open(cfg, TASKS);
    tm_changelog_gen_write(old, 3000, 400);
    const int64_t any[TASKS] = {-1, -1, -1};
    check_restore(cfg, old, any, NULL);
    tm_changelog_gen_close(old);

    char err[512];
    tm_kafka *admin = NULL;
    cr_assert_eq(tm_kafka_open_admin(&admin, cfg, err, sizeof err), 0, "%s", err);
    cr_assert_eq(tm_kafka_delete_topic(admin, "app-changelog", err, sizeof err), 0, "%s", err);
    tm_kafka_close(admin);

    /* A new changelog (created again by the generator's clients), shorter
     * than the stores' applied offsets. */
    tm_changelog_gen *fresh = tm_changelog_gen_open(cfg, TASKS);
    tm_changelog_gen_write(fresh, 300, 400);
    int64_t records[TASKS];
    records_of(fresh, records);
    check_restore(cfg, fresh, records, NULL);
    tm_changelog_gen_close(fresh);
    tm_config_free(cfg);
}

Test(restore, a_stop_requested_before_the_read_leaves_the_stores_as_they_were)
{
    tm_config *cfg = start();
    tm_changelog_gen *g = tm_changelog_gen_open(cfg, TASKS);
    tm_changelog_gen_write(g, 600, 400);
    tm_stop_flag stop = 1;
    tm_restored_task out[TASKS];
    memset(out, 0, sizeof out);
    char err[512];
    cr_assert_eq(restore_all(cfg, &stop, out, err, sizeof err), TM_ESTOPPED);
    for (int p = 0; p < TASKS; p++)
        cr_assert(!out[p].store && !out[p].engine, "out is left untouched");
    /* Nothing was applied: the next restore reads every record. */
    int64_t records[TASKS];
    records_of(g, records);
    check_restore(cfg, g, records, NULL);
    tm_changelog_gen_close(g);
    tm_config_free(cfg);
}

Test(restore, too_few_file_descriptors_for_the_tasks_is_an_error_naming_the_counts)
{
    tm_config *cfg = start();
    tm_kafka *k = reader(cfg);
    struct rlimit rl;
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    rl.rlim_cur = 300; /* this test's process only: Criterion forks each test */
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    const int32_t partitions[TASKS] = {0, 1, 2};
    const tm_restore_options o = {.open_stores = 12}; /* 15 tasks: 45 + 256 > 300 */
    tm_restored_task out[TASKS];
    char err[512];
    cr_assert_eq(tm_restore_tasks(cfg, k, partitions, TASKS, &o, out, err, sizeof err), TM_ESTORE);
    cr_assert(strstr(err, "15 tasks need about 301 open files") && strstr(err, "is 300"), "%s",
              err);
    tm_kafka_close(k);
    tm_config_free(cfg);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk, (void)opaque;
    cr_assert_eq(m->err, 0, "delivery: %s", rd_kafka_err2str(m->err));
    *(int64_t *)m->_private = m->offset;
}

/* Writes one record to partition p of the changelog with a plain
 * producer, as a mistaken application would; returns its offset. */
static int64_t produce_raw(int32_t p, const char *key, const void *value, size_t value_len)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    cr_assert_eq(rd_kafka_conf_set(conf, "bootstrap.servers", tm_test_broker_bootstrap(broker), err,
                                   sizeof err),
                 RD_KAFKA_CONF_OK, "%s", err);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    cr_assert_not_null(rk, "%s", err);
    int64_t offset = -1;
    rd_kafka_resp_err_t e = rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC("app-changelog"), RD_KAFKA_V_PARTITION(p),
        RD_KAFKA_V_KEY(key, strlen(key)), RD_KAFKA_V_VALUE((void *)value, value_len),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(&offset), RD_KAFKA_V_END);
    cr_assert_eq(e, 0, "produce: %s", rd_kafka_err2str(e));
    cr_assert_eq(rd_kafka_flush(rk, 10000), 0, "flush");
    rd_kafka_destroy(rk);
    cr_assert_geq(offset, 0);
    return offset;
}

/* Records another application wrote to the changelog, between tidemark's:
 * one with a key of no kind of tidemark's, one with a checkpoint's key and
 * a text value. Both are skipped and counted; the state is as written. */
Test(restore, foreign_records_in_the_changelog_are_skipped_and_counted)
{
    tm_config *cfg = start();
    tm_changelog_gen *g = tm_changelog_gen_open(cfg, TASKS);
    tm_changelog_gen_write(g, 600, 200);
    produce_raw(1, "order-17", "{\"id\":17}", 9);
    produce_raw(1, "c", "{}", 2);
    tm_changelog_gen_write(g, 600, 200);
    int64_t records[TASKS];
    records_of(g, records);
    const int64_t foreign[TASKS] = {0, 2, 0};
    check_restore(cfg, g, records, foreign);
    tm_changelog_gen_close(g);
    tm_config_free(cfg);
}

/* A record of tidemark's (a checkpoint's key and version byte) cut short:
 * the restore fails, naming the record's partition and offset, what this
 * binary reads and the ways out. */
Test(restore, an_unreadable_tidemark_record_fails_naming_its_offset)
{
    tm_config *cfg = start();
    tm_changelog_gen *g = tm_changelog_gen_open(cfg, TASKS);
    tm_changelog_gen_write(g, 600, 200);
    const unsigned char cut[] = {2, 0, 0, 0};
    int64_t at = produce_raw(2, "c", cut, sizeof cut);
    tm_restored_task out[TASKS];
    char err[1024];
    cr_assert_eq(restore_all(cfg, NULL, out, err, sizeof err), TM_ESTORE, "%s", err);
    char where[64];
    snprintf(where, sizeof where, "changelog app-changelog [2] offset %lld: ", (long long)at);
    cr_expect(strstr(err, where), "%s", err);
    cr_expect(strstr(err, "truncated or oversized"), "%s", err);
    cr_expect(strstr(err, "checkpoints of versions 1 to 3"), "%s", err);
    cr_expect(strstr(err, "tidemark reset"), "%s", err);
    tm_changelog_gen_close(g);
    tm_config_free(cfg);
}

/* A store filled before restores screened records can hold a foreign one:
 * it is skipped when the engine is rebuilt from the store. */
Test(restore, a_foreign_record_already_in_a_store_is_skipped)
{
    tm_config *cfg = start();
    tm_changelog_gen *g = tm_changelog_gen_open(cfg, TASKS);
    tm_changelog_gen_write(g, 600, 200);
    const int64_t any[TASKS] = {-1, -1, -1};
    check_restore(cfg, g, any, NULL);
    tm_store *s = NULL;
    char err[512];
    bool wiped;
    cr_assert_eq(tm_store_open(&s, cfg->state_dir, "app", 0, false, &wiped, err, sizeof err), 0,
                 "%s", err);
    const tm_kv_change foreign = {"order-17", 8, "{\"id\":17}", 9};
    cr_assert_eq(tm_store_apply(s, &foreign, 1, tm_store_applied_offset(s), err, sizeof err), 0,
                 "%s", err);
    tm_store_close(s);
    const int64_t none[TASKS] = {0, 0, 0};
    check_restore(cfg, g, none, NULL);
    tm_changelog_gen_close(g);
    tm_config_free(cfg);
}
