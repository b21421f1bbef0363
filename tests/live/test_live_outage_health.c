/*
 * /healthz and /readyz through a broker outage (issue 9): while the only
 * broker is down for several times health.stall_timeout_ms, the loop waits
 * on it (a checkpoint's offsets and commit, an abort, a restore). Waiting
 * on the broker is alive: /healthz must answer 200 throughout, and
 * /readyz 503 saying what the loop waits for. Read with real HTTP
 * requests against a real `tidemark run` on the test broker.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "eos_harness.h"
#include "http_get.h"
#include "proc.h"

TestSuite(live, .fini = tm_eos_teardown);

/* Waits (bounded, checking the instances) until GET path answers want. */
static void wait_status(tm_eos *e, int port, const char *path, int want)
{
    tm_buf h = {0}, body = {0};
    int64_t deadline = tm_test_now_ms() + 60000;
    int got;
    while ((got = tm_http_request(port, "GET", path, &h, &body)) != want) {
        cr_assert_lt(tm_test_now_ms(), deadline, "GET %s: %d (%s), want %d", path, got,
                     body.data ? body.data : "", want);
        tm_eos_sleep(e, 100);
    }
    tm_buf_free(&h);
    tm_buf_free(&body);
}

Test(live, a_broker_outage_is_alive_and_not_ready, .timeout = 240)
{
    /* A checkpoint with work falls due within commit_interval_ms (2 s) of
     * the outage's start; one without (nothing consumed since the last)
     * at the latest when the group session (6 s) times out and the revoke
     * commits. Either then waits on the broker until it is back: several
     * stall timeouts. */
    enum { EVENTS = 12000, RATE = 800, STALL_MS = 1000, OUTAGE_MS = 10000 };
    tm_eos *e = tm_eos_setup(&(tm_eos_options){.name = "outagehealth", .brokers = 1});
    tm_eos_write_input(e, EVENTS, 9);
    tm_eos_instance *a = tm_eos_instance_add(e, "a");
    a->metrics_port = tm_test_free_port();
    a->sets[0] = "health.stall_timeout_ms=1000";
    a->sets[1] = "commit_interval_ms=2000";
    tm_eos_feed(e, 0, EVENTS, RATE);
    tm_eos_start(e, a);
    tm_eos_wait_restored(e, a, 60000);
    wait_status(e, a->metrics_port, "/readyz", 200);
    tm_eos_sleep(e, 1000); /* records consumed: the next checkpoint has work */
    cr_assert(!tm_feeder_finished(e->feeder), "the input ran out before the outage");

    tm_test_broker_command(e->broker, "down 1");
    int64_t t0 = tm_test_now_ms(), first_wait = -1, last_wait = -1;
    tm_buf h = {0}, body = {0};
    int probes = 0;
    char seen[256] = "";
    while (tm_test_now_ms() - t0 < OUTAGE_MS) {
        int live = tm_http_request(a->metrics_port, "GET", "/healthz", &h, &body);
        cr_assert_eq(live, 200, "GET /healthz %lld ms into the outage: %d %s",
                     (long long)(tm_test_now_ms() - t0), live, body.data ? body.data : "");
        int ready = tm_http_request(a->metrics_port, "GET", "/readyz", &h, &body);
        if (strstr(body.data, "waiting for the broker: ")) {
            cr_assert_eq(ready, 503, "GET /readyz: %d %s", ready, body.data);
            snprintf(seen, sizeof seen, "%s", body.data);
            last_wait = tm_test_now_ms() - t0;
            if (first_wait < 0)
                first_wait = last_wait;
        }
        probes++;
        tm_eos_sleep(e, 100);
    }
    tm_test_broker_command(e->broker, "up 1");
    printf("live %s: %d probes during the outage; /readyz said \"%.*s\" from %lld to %lld ms\n",
           e->name, probes, (int)strcspn(seen, "\n"), seen, (long long)first_wait,
           (long long)last_wait);
    cr_assert_geq(first_wait, 0, "/readyz never said what the loop waits for");
    cr_assert_gt(last_wait - first_wait, 2 * STALL_MS,
                 "the loop waited on the broker for less than the stall timeout (%lld to %lld ms)",
                 (long long)first_wait, (long long)last_wait);
    tm_buf_free(&h);
    tm_buf_free(&body);

    /* After the outage: ready again, and the input all processed. */
    wait_status(e, a->metrics_port, "/readyz", 200);
    tm_eos_wait_done(e, 180000);
    tm_eos_stop(e, a);
    tm_eos_verify(e);
    tm_eos_pass(e);
}
