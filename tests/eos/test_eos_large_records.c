/*
 * Records within the broker's limits (the crash loop a real broker found:
 * a changelog record of a backlog's dedup keys over max.message.bytes).
 *
 * The test broker enforces Kafka's limits (tests/broker, patch 0004). The
 * changelog topic is created up front with max.message.bytes=65536, so
 * that catching up a preloaded backlog with default service settings
 * admits, in one checkpoint, many more dedup keys than one record takes
 * (about 2,700 here; about 41,000 under Kafka's default limit, which this
 * machine's backlog would not reach as reliably): tidemark must split them.
 * The brokers take records up to 4 MiB, so the input holds values of 2 MB,
 * over the producer's 1,000,000-byte limit: their late and dead-letter
 * copies must be written by reference. The output equals replay, which
 * does the same.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "eos_harness.h"
#include "proc.h"

TestSuite(eos, .fini = tm_eos_teardown);

enum { BIG = 2000000, PARTITIONS = 2 };

/* The next offset of each partition in the input file (its lines give
 * them), so that appended lines continue them. */
static void next_offsets(const char *path, long long *next)
{
    FILE *f = fopen(path, "r");
    cr_assert(f, "%s", path);
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        const char *p = strstr(line, "\"partition\":"), *o = strstr(line, "\"offset\":");
        cr_assert(p && o, "a line without partition or offset");
        int part = atoi(p + 12);
        long long off = atoll(o + 9);
        cr_assert(part >= 0 && part < PARTITIONS);
        if (off + 1 > next[part])
            next[part] = off + 1;
    }
    free(line);
    fclose(f);
}

/* Appends, on each partition, a malformed value of BIG bytes (a dead
 * letter) and a valid order of about BIG bytes from 1970 (too late). */
static void append_big_records(tm_eos *e)
{
    long long next[PARTITIONS] = {0};
    next_offsets(e->input_path, next);
    FILE *f = fopen(e->input_path, "a");
    cr_assert(f);
    char *pad = malloc(BIG + 1);
    memset(pad, 'x', BIG);
    pad[BIG] = '\0';
    for (int p = 0; p < PARTITIONS; p++) {
        fprintf(f,
                "{\"partition\":%d,\"offset\":%lld,\"ts\":1800000000000,\"key\":\"big\","
                "\"payload\":\"%s\"}\n",
                p, next[p]++, pad);
        fprintf(f,
                "{\"partition\":%d,\"offset\":%lld,\"ts\":1800000000000,\"key\":\"big\","
                "\"payload\":\"{\\\"order_id\\\":\\\"big-%d\\\",\\\"merchant\\\":\\\"m-001\\\","
                "\\\"amount\\\":1,\\\"event_time\\\":1000,\\\"pad\\\":\\\"%s\\\"}\"}\n",
                p, next[p]++, p, pad);
    }
    free(pad);
    cr_assert(fclose(f) == 0);
    e->workload.lines += 2 * PARTITIONS;
}

/* Lines of path holding needle, and also needle2 unless it is NULL. */
static size_t count_containing(const char *path, const char *needle, const char *needle2)
{
    FILE *f = fopen(path, "r");
    cr_assert(f, "%s", path);
    char *line = NULL;
    size_t cap = 0, n = 0;
    while (getline(&line, &cap, f) > 0)
        n += strstr(line, needle) && (!needle2 || strstr(line, needle2));
    free(line);
    fclose(f);
    return n;
}

Test(eos, a_backlog_and_huge_values_stay_within_the_record_limits)
{
    enum { EVENTS = 40000 };
    tm_eos *e = tm_eos_setup(&(tm_eos_options){
        .name = "large",
        .partitions = PARTITIONS,
        .broker_args = {"--message-max-bytes", "4194304", NULL},
    });
    tm_kafka_probe_create_topic(e->probe, e->changelog_topic, PARTITIONS, "max.message.bytes",
                                "65536");
    tm_eos_write_input(e, EVENTS, 21);
    append_big_records(e);
    tm_eos_load_input(e);

    tm_eos_instance *a = tm_eos_instance_add(e, "a");
    tm_eos_start(e, a);
    tm_eos_wait_done(e, 240000);
    tm_eos_stop(e, a);
    tm_eos_verify(e);

    /* Every copy of a 2 MB value went by reference, live and in replay. */
    char path[TM_EOS_PATH + 32];
    const char *const files[] = {"live/dlq.jsonl", "live/late.jsonl", "replay/dlq.jsonl",
                                 "replay/late.jsonl"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", e->dir, files[i]);
        cr_assert_eq(count_containing(path, "\"tidemark.value_bytes\"", NULL), PARTITIONS,
                     "%s: %d records by reference expected", files[i], PARTITIONS);
        cr_assert_eq(count_containing(path, "xxxxxxxxxx", NULL), 0, "%s: a big value was copied",
                     files[i]);
    }

    /* The changelog: more dedup records than checkpoints, so some
     * checkpoint's keys were split (the broker refused nothing). */
    char log[TM_EOS_PATH];
    const char *args[] = {"changelog", "--config", e->config_path, NULL};
    int status = tm_eos_cli(e, "changelog.jsonl", args, log, sizeof log);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "tidemark changelog: %s",
              tm_proc_status_str(status));
    size_t dedup = count_containing(log, "\"kind\":\"dedup\"", "\"keys\"");
    size_t checkpoints = count_containing(log, "\"kind\":\"checkpoint\"", NULL);
    printf("eos %s: changelog: %zu checkpoints, %zu dedup records\n", e->name, checkpoints, dedup);
    fflush(stdout);
    cr_assert_gt(dedup, checkpoints, "no checkpoint needed more than one dedup record");
    tm_eos_pass(e);
}
