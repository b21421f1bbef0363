/*
 * One instance owning 2,000 tasks on the test broker: the input topic,
 * the outputs and the changelog with 2,000 partitions, one event in each
 * input partition (so that every task holds a window). The instance must
 * restore all of them (2,000 LMDB stores open at once: descriptors, no
 * thread-local key per store, address space), become ready, commit every
 * input offset, and stop with exit 0; then restore them again twice: from
 * its stores (warm), and from the changelog alone after its state
 * directory is removed. Each restore brings back every task's window. The
 * restore times are printed (README "Benchmarks" reports them); they are
 * bounded only by the waits.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "eos_harness.h"
#include "http_get.h"
#include "proc.h"

TestSuite(live, .fini = tm_eos_teardown);

enum { TASKS = 2000, WAIT_MS = 240000 };

/* One order event in each input partition, in the replay envelope. */
static void write_input(const tm_eos *e)
{
    FILE *f = fopen(e->input_path, "w");
    cr_assert(f, "cannot write %s: %s", e->input_path, strerror(errno));
    for (int p = 0; p < TASKS; p++)
        fprintf(f,
                "{\"topic\":\"orders\",\"partition\":%d,\"ts\":1763600000000,\"key\":\"m-%d\","
                "\"payload\":\"{\\\"order_id\\\":\\\"o-%d\\\",\\\"merchant\\\":\\\"m-%d\\\","
                "\\\"amount\\\":12.5,\\\"event_time\\\":1763600000000}\"}\n",
                p, p, p, p);
    cr_assert(fclose(f) == 0);
}

/* Waits (bounded) until every input partition's committed offset is 1. */
static void wait_committed(tm_eos *e)
{
    int64_t *committed = calloc(TASKS, sizeof *committed);
    cr_assert(committed);
    int64_t deadline = tm_test_now_ms() + WAIT_MS;
    int done = 0;
    while (done < TASKS) {
        cr_assert(tm_test_now_ms() < deadline, "%d of %d input partitions committed in time", done,
                  TASKS);
        tm_eos_sleep(e, 200);
        done = 0;
        if (tm_kafka_probe_committed(e->probe, "orders", TASKS, committed) == 0)
            for (int p = 0; p < TASKS; p++)
                done += committed[p] == 1;
    }
    free(committed);
}

/* Waits until the current incarnation has restored its tasks; checks that
 * each came back with `windows` windows, from `from` (-1: any offset);
 * prints and returns the restore's summary. */
static tm_eos_restore_summary restored(tm_eos *e, tm_eos_instance *in, const char *what,
                                       size_t windows, int64_t from)
{
    tm_eos_wait_restored(e, in, WAIT_MS);
    tm_eos_restore_summary s;
    cr_assert(tm_eos_restore_summary_of(in, &s), "no restore summary in %s", in->log_path);
    cr_assert_eq(s.tasks, TASKS, "one restore of %d tasks, not %d", TASKS, s.tasks);
    tm_eos_restore *r = calloc(TASKS + 1, sizeof *r);
    cr_assert(r);
    int n = tm_eos_restores(in, r, TASKS + 1);
    cr_assert_eq(n, TASKS);
    bool *seen = calloc(TASKS, sizeof *seen);
    cr_assert(seen);
    for (int i = 0; i < n; i++) {
        cr_assert(r[i].task >= 0 && r[i].task < TASKS && !seen[r[i].task], "task %d twice",
                  r[i].task);
        seen[r[i].task] = true;
        cr_assert_eq(r[i].windows, windows, "%s: task %d restored %zu windows", what, r[i].task,
                     r[i].windows);
        cr_assert(from < 0 || r[i].from == from, "%s: task %d restored from offset %lld", what,
                  r[i].task, (long long)r[i].from);
    }
    free(seen);
    free(r);
    printf("live %s: %s restore of %d tasks in %lld ms (stores opened in %lld ms, changelog read "
           "into them in %lld ms, engines rebuilt in %lld ms), %llu changelog records\n",
           e->name, what, s.tasks, (long long)s.ms, (long long)s.open_ms, (long long)s.read_ms,
           (long long)s.rebuild_ms, s.records);
    fflush(stdout);
    return s;
}

Test(live, two_thousand_tasks_on_one_instance)
{
    tm_eos *e =
        tm_eos_setup(&(tm_eos_options){.name = "many-tasks", .partitions = TASKS, .brokers = 1});
    write_input(e);
    cr_assert_eq(tm_kafka_io_load(tm_test_broker_bootstrap(e->broker), e->input_path, "orders"),
                 TASKS);
    tm_eos_instance *a = tm_eos_instance_add(e, "a");
    a->metrics_port = tm_test_free_port();

    /* New: empty stores, an empty changelog. Then every event processed,
     * committed, and a window per task in the changelog. */
    tm_eos_start(e, a);
    restored(e, a, "new", 0, 0);
    wait_committed(e);
    tm_buf h = {0}, body = {0};
    cr_assert_eq(tm_http_request(a->metrics_port, "GET", "/readyz", &h, &body), 200, "%s",
                 body.data ? body.data : "");
    tm_buf_free(&h);
    tm_buf_free(&body);
    tm_eos_stop(e, a);

    /* Warm: every store holds its task's state; nothing left to read. */
    tm_eos_start(e, a);
    tm_eos_restore_summary warm = restored(e, a, "warm", 1, -1);
    cr_assert_eq(warm.records, 0, "the stores were current, yet %llu records were read",
                 warm.records);
    tm_eos_stop(e, a);

    /* From the changelog alone. */
    tm_eos_rm_rf(a->state_dir);
    tm_eos_start(e, a);
    tm_eos_restore_summary cold = restored(e, a, "changelog", 1, 0);
    cr_assert_geq(cold.records, TASKS);
    tm_eos_stop(e, a);
    tm_eos_pass(e);
}
