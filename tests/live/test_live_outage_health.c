/*
 * /healthz and /readyz while the loop waits on the broker (issue 9) for
 * several times health.stall_timeout_ms: through an outage of the only
 * broker (a checkpoint's offsets and commit, an abort, a restore), and
 * while the broker refuses to take records (a produce waiting for room in
 * its full queue). Waiting on the broker is alive: /healthz must answer
 * 200 throughout, and /readyz 503 saying what the loop waits for. Read
 * with real HTTP requests against a real `tidemark run` on the test
 * broker.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "eos_harness.h"
#include "http_get.h"
#include "proc.h"

TestSuite(live, .fini = tm_eos_teardown);

enum { STALL_MS = 1000 };

/* When /readyz said "waiting for the broker: <what>" during a watch. */
typedef struct waits {
    int64_t first, last; /* ms since the watch started; -1: never */
    int probes;
} waits;

/* Probes /healthz and /readyz every 100 ms for ms: /healthz must answer
 * 200 each time, and /readyz, when it names a wait on the broker, 503.
 * Stops early once /readyz has named `what` for longer than twice the
 * stall timeout (what NULL: never; then any wait on the broker counts,
 * and so does a restore, which reads the changelog from the broker). */
static waits watch(tm_eos *e, int port, int64_t ms, const char *what)
{
    waits w = {-1, -1, 0};
    char want[96];
    snprintf(want, sizeof want, "waiting for the broker: %s", what ? what : "");
    tm_buf h = {0}, body = {0};
    int64_t t0 = tm_test_now_ms();
    while (tm_test_now_ms() - t0 < ms) {
        int live = tm_http_request(port, "GET", "/healthz", &h, &body);
        cr_assert_eq(live, 200, "GET /healthz %lld ms into the wait: %d %s",
                     (long long)(tm_test_now_ms() - t0), live, body.data ? body.data : "");
        int ready = tm_http_request(port, "GET", "/readyz", &h, &body);
        if (strstr(body.data, "waiting for the broker: "))
            cr_assert_eq(ready, 503, "GET /readyz: %d %s", ready, body.data);
        if (strstr(body.data, want) || (!what && strcmp(body.data, "restoring\n") == 0)) {
            w.last = tm_test_now_ms() - t0;
            if (w.first < 0)
                w.first = w.last;
        }
        w.probes++;
        if (what && w.first >= 0 && w.last - w.first > 2 * STALL_MS)
            break;
        tm_eos_sleep(e, 100);
    }
    tm_buf_free(&h);
    tm_buf_free(&body);
    printf("live %s: %d probes; /readyz said \"%s\"%s from %lld to %lld ms\n", e->name, w.probes,
           want, what ? "" : " or \"restoring\"", (long long)w.first, (long long)w.last);
    return w;
}

/* The loop waited on the broker for longer than the stall timeout. */
static void waited_long(const waits *w)
{
    cr_assert_geq(w->first, 0, "/readyz never said what the loop waits for");
    cr_assert_gt(w->last - w->first, 2 * STALL_MS,
                 "the loop waited on the broker for less than the stall timeout (%lld to %lld ms)",
                 (long long)w->first, (long long)w->last);
}

Test(live, a_broker_outage_is_alive_and_not_ready, .timeout = 240)
{
    /* A checkpoint with work falls due within commit_interval_ms (2 s) of
     * the outage's start and waits on the broker; without work (nothing
     * consumed since the last, as happens under load), the group session
     * (6 s) times out: the assignment is lost, the transaction aborted and
     * the tasks restored from their checkpoint, which waits on the broker
     * too ("restoring"). Either lasts until the broker is back: several
     * stall timeouts. */
    enum { EVENTS = 12000, RATE = 800, OUTAGE_MS = 10000 };
    tm_eos *e = tm_eos_setup(&(tm_eos_options){.name = "outagehealth", .brokers = 1});
    tm_eos_write_input(e, EVENTS, 9);
    tm_eos_instance *a = tm_eos_instance_add(e, "a");
    a->metrics_port = tm_test_free_port();
    a->sets[0] = "health.stall_timeout_ms=1000";
    a->sets[1] = "commit_interval_ms=2000";
    /* A transaction begun just before the outage stays open through it:
     * with the harness's 10 s timeout the broker aborted it (and fenced
     * the producer: an exit, the restart's business, not this test's)
     * whenever the outage outlasted the transaction's remaining time, as
     * happened on a loaded machine. */
    a->sets[2] = "kafka.transaction.timeout.ms=60000";
    tm_eos_feed(e, 0, EVENTS, RATE);
    tm_eos_start(e, a);
    tm_eos_wait_restored(e, a, 60000);
    tm_eos_wait_http(e, a->metrics_port, "/readyz", 200, 60000);
    tm_eos_sleep(e, 1000); /* records consumed: the next checkpoint has work */
    cr_assert(!tm_feeder_finished(e->feeder), "the input ran out before the outage");

    tm_test_broker_command(e->broker, "down 1");
    waits w = watch(e, a->metrics_port, OUTAGE_MS, NULL);
    tm_test_broker_command(e->broker, "up 1");
    waited_long(&w);

    /* After the outage: ready again, and the input all processed. */
    tm_eos_wait_http(e, a->metrics_port, "/readyz", 200, 60000);
    tm_eos_wait_done(e, 180000);
    tm_eos_stop(e, a);
    tm_eos_verify(e);
    tm_eos_pass(e);
}

/* The broker answers Produce requests with a retriable error for seconds
 * (NOT_ENOUGH_REPLICAS, 16 times, with the producer's growing backoff),
 * while the producer's queue holds 5 records: the loop's first turn
 * produces more than that (results, late and dead-letter records of a
 * backlog), so it waits in produce for room until the broker takes them. */
Test(live, a_produce_waiting_for_the_broker_is_alive_and_not_ready, .timeout = 240)
{
    tm_eos *e = tm_eos_setup(&(tm_eos_options){.name = "producewait", .brokers = 1});
    tm_eos_write_input(e, 4000, 10);
    tm_eos_load_input(e);
    tm_eos_instance *a = tm_eos_instance_add(e, "a");
    a->metrics_port = tm_test_free_port();
    a->sets[0] = "health.stall_timeout_ms=1000";
    a->sets[1] = "kafka.queue.buffering.max.messages=5";
    /* The 16 refusals take about 13 s with the backoff (longer under
     * ASan): the transaction must outlive them, else the broker aborts it
     * and fences the producer (test_kafka covers that). */
    a->sets[2] = "kafka.transaction.timeout.ms=60000";
    tm_eos_start(e, a);
    tm_eos_wait_http(e, a->metrics_port, "/healthz", 200, 60000);
    /* API 0 = Produce, error 19 = NOT_ENOUGH_REPLICAS: retried. */
    tm_test_broker_command(e->broker, "fail 0 19 16");
    waits w = watch(e, a->metrics_port, 60000, "produce");
    waited_long(&w);
    tm_eos_wait_done(e, 180000);
    tm_eos_stop(e, a);
    tm_eos_verify(e);
    tm_eos_pass(e);
}
