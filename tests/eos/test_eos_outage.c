/*
 * Exactly-once through broker outages: while an instance works through
 * input that keeps arriving, first one of the three brokers goes down for
 * 5 s, then all three do. The service may exit non-zero on an outage it
 * cannot ride out (a timed-out commit is fatal by design), and is then
 * restarted as Kubernetes would; the output must equal replay either way.
 *
 * An outage of every broker may cost the instance its group generation
 * (its consumer rejoins and the open transaction's offsets are refused as
 * fenced), or be ridden out by librdkafka's retries, depending on where
 * the loop stood: both happen. So that the abort path is exercised on
 * every run, the coordinator then also answers one TxnOffsetCommit with
 * ILLEGAL_GENERATION (the test broker's `fail` command), as it does for a
 * member whose generation moved on: the transaction must be aborted and
 * every task rewound to its last checkpoint. The test requires that to
 * have happened (the runner's "aborting the transaction" followed by a
 * restore, in one incarnation's log) and the output to equal replay.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eos_harness.h"

TestSuite(eos, .fini = tm_eos_teardown);

static void outage(tm_eos *e, const int *brokers, int n, int64_t ms)
{
    char cmd[32];
    for (int i = 0; i < n; i++) {
        snprintf(cmd, sizeof cmd, "down %d", brokers[i]);
        tm_test_broker_command(e->broker, cmd);
    }
    printf("eos %s: %d broker(s) down for %lld ms\n", e->name, n, (long long)ms);
    fflush(stdout);
    tm_eos_sleep(e, ms);
    for (int i = 0; i < n; i++) {
        snprintf(cmd, sizeof cmd, "up %d", brokers[i]);
        tm_test_broker_command(e->broker, cmd);
    }
}

/* Aborts followed by a rewind (the restore of the tasks) in the logs of
 * every incarnation of in; *aborts counts the aborts alone. */
static int aborts_rewound(const tm_eos *e, const tm_eos_instance *in, int *aborts)
{
    int rewound = 0;
    *aborts = 0;
    for (int run = 1; run <= in->runs; run++) {
        char path[TM_EOS_PATH + 64];
        snprintf(path, sizeof path, "%s/%s.%d.log", e->dir, in->id, run);
        FILE *f = fopen(path, "r");
        cr_assert(f, "cannot read %s", path);
        char *line = NULL;
        size_t cap = 0;
        bool pending = false;
        while (getline(&line, &cap, f) > 0) {
            if (strstr(line, "\"module\":\"runner\"") &&
                strstr(line, "aborting the transaction: ")) {
                ++*aborts;
                pending = true;
            } else if (pending && strstr(line, "\"module\":\"restore\"") &&
                       strstr(line, " task(s) in ")) {
                rewound++;
                pending = false;
            }
        }
        free(line);
        fclose(f);
    }
    return rewound;
}

Test(eos, broker_outage)
{
    enum { EVENTS = 20000, RATE = 800 };
    tm_eos *e = tm_eos_setup(&(tm_eos_options){.name = "outage", .brokers = 3});
    e->supervise = true;
    tm_eos_write_input(e, EVENTS, 4);
    tm_eos_instance *a = tm_eos_instance_add(e, "a");
    /* The default transaction timeout (the harness shortens it so that a
     * killed instance's transaction ends soon): a transaction open through
     * the 5 s outage and librdkafka's reconnect backoff after it must
     * still be abortable, or the broker fences the producer and the abort
     * path this test is for is not taken. */
    a->sets[0] = "kafka.transaction.timeout.ms=60000";
    tm_eos_feed(e, 0, EVENTS, RATE);
    tm_eos_start(e, a);
    tm_eos_wait_restored(e, a, 60000);

    tm_eos_sleep(e, 1500);
    static const int one[] = {2}, all[] = {1, 2, 3};
    outage(e, one, 1, 5000);
    tm_eos_sleep(e, 3000);
    cr_assert(!tm_feeder_finished(e->feeder), "the input ran out before the second outage");
    outage(e, all, 3, 5000);
    /* API 28 = TxnOffsetCommit, error 22 = ILLEGAL_GENERATION: abortable. */
    tm_test_broker_command(e->broker, "fail 28 22 1");
    cr_assert(!tm_feeder_finished(e->feeder), "the input ran out before the refused commit");

    tm_eos_wait_done(e, 180000);
    tm_eos_stop(e, a);
    int aborts, rewound = aborts_rewound(e, a, &aborts);
    printf("eos %s: %d restart(s) after exits the test did not cause; %d abort(s), %d followed "
           "by a rewind\n",
           e->name, a->unexpected_exits, aborts, rewound);
    cr_assert_geq(rewound, 1,
                  "no transaction was aborted and rewound through the outages (%d "
                  "abort(s)); logs %s/%s.*.log",
                  aborts, e->dir, a->id);
    tm_eos_verify(e);
    tm_eos_pass(e);
}
