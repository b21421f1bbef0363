/*
 * Restarts with default group settings (librdkafka's session.timeout.ms
 * 45 s and heartbeat 3 s, not the harness's short ones): an instance
 * SIGKILLed and restarted at once with the same instance id, as Kubernetes
 * restarts a StatefulSet pod, owns its tasks again within 5 s (static
 * membership: no rebalance, no wait for the dead session); so does one
 * stopped with SIGTERM (a rolling restart keeps the assignment). The
 * output equals replay.
 */
#include <criterion/criterion.h>
#include <stdio.h>

#include "eos_harness.h"
#include "proc.h"

TestSuite(eos, .fini = tm_eos_teardown);

enum { OWNED_AGAIN_MS = 5000, KILLS = 3 };

/* Starts in and returns the milliseconds until it owns and has restored
 * its tasks. */
static int64_t restart_ms(tm_eos *e, tm_eos_instance *in)
{
    int64_t t0 = tm_test_now_ms();
    tm_eos_start(e, in);
    tm_eos_wait_restored(e, in, 120000);
    return tm_test_now_ms() - t0;
}

Test(eos, restart_owns_its_tasks_within_5_s_with_default_settings)
{
    enum { EVENTS = 12000, RATE = 600 };
    tm_eos *e = tm_eos_setup(&(tm_eos_options){.name = "restart"});
    tm_eos_write_input(e, EVENTS, 11);
    tm_eos_instance *a = tm_eos_instance_add(e, "a");
    a->sets[0] = "kafka.session.timeout.ms=45000";
    a->sets[1] = "kafka.heartbeat.interval.ms=3000";

    tm_eos_feed(e, 0, EVENTS, RATE);
    tm_eos_start(e, a);
    tm_eos_wait_restored(e, a, 60000);
    int64_t took[KILLS + 1];
    for (int k = 0; k < KILLS; k++) {
        tm_eos_sleep(e, 500 + 400 * k); /* owned, working, mid-transaction */
        tm_eos_kill(e, a);
        took[k] = restart_ms(e, a);
        printf("eos %s: SIGKILL %d: tasks owned again %lld ms after the restart\n", e->name, k + 1,
               (long long)took[k]);
    }
    tm_eos_sleep(e, 1000);
    tm_eos_stop(e, a);
    took[KILLS] = restart_ms(e, a);
    printf("eos %s: SIGTERM: tasks owned again %lld ms after the restart\n", e->name,
           (long long)took[KILLS]);
    fflush(stdout);
    for (int k = 0; k <= KILLS; k++)
        cr_assert_leq(took[k], OWNED_AGAIN_MS, "restart %d: tasks owned again after %lld ms", k + 1,
                      (long long)took[k]);
    cr_assert(!tm_feeder_finished(e->feeder), "the input ran out before the restarts: feed slower");

    tm_eos_finish(e, a, 180000);
}
