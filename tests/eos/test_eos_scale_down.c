/*
 * Scale-down with static membership: of two instances, one is stopped for
 * good with SIGTERM (as Kubernetes stops a pod it removes). A static member
 * does not leave the group on shutdown, so its tasks stay unowned until its
 * session times out (kafka.session.timeout.ms, 6 s in the harness); then
 * the survivor takes them over, restores them from the changelog, and
 * finishes. The output equals replay.
 */
#include <criterion/criterion.h>
#include <stdio.h>

#include "eos_harness.h"
#include "proc.h"

TestSuite(eos, .fini = tm_eos_teardown);

enum { SESSION_TIMEOUT_MS = 6000 };

Test(eos, a_removed_instance_s_tasks_move_after_the_session_timeout)
{
    enum { EVENTS = 12000, RATE = 600 }; /* 20 s: the input outlasts the session timeout */
    tm_eos *e = tm_eos_setup(&(tm_eos_options){.name = "scale-down"});
    tm_eos_write_input(e, EVENTS, 9);
    tm_eos_instance *a = tm_eos_instance_add(e, "a"), *b = tm_eos_instance_add(e, "b");

    tm_eos_feed(e, 0, EVENTS, RATE);
    tm_eos_start(e, a);
    tm_eos_wait_restored(e, a, 60000);
    tm_eos_start(e, b);
    tm_eos_wait_restored(e, b, 60000);
    int owned_by_b = tm_eos_log_assigned(b);
    cr_assert(owned_by_b > 0 && owned_by_b < e->partitions, "b owns %d of %d tasks", owned_by_b,
              e->partitions);
    tm_eos_sleep(e, 1000);

    int64_t t_stop = tm_test_now_ms();
    tm_eos_stop(e, a);
    /* b's next assignment holds every task, after a's session expired. */
    int64_t deadline = t_stop + 60000;
    while (tm_eos_log_assigned(b) != e->partitions) {
        cr_assert(tm_test_now_ms() < deadline, "b did not take a's tasks within 60 s");
        tm_eos_sleep(e, 100);
    }
    int64_t moved_ms = tm_test_now_ms() - t_stop;
    printf("eos %s: a's tasks moved to b %lld ms after a stopped (session timeout %d ms)\n",
           e->name, (long long)moved_ms, SESSION_TIMEOUT_MS);
    fflush(stdout);
    cr_assert_geq(moved_ms, SESSION_TIMEOUT_MS - 1500,
                  "a static member's tasks must wait for its session to time out (%lld ms)",
                  (long long)moved_ms);
    cr_assert(!tm_feeder_finished(e->feeder), "the input ran out before the scale-down");

    tm_eos_wait_restored(e, b, 60000);
    tm_eos_finish(e, b, 180000);
}
