/*
 * Exactly-once across a failover: instances a and b (their own state
 * directories, as pods with their own disks) share the input in one group.
 * Once both have committed, a is SIGKILLed for good: b must take a's
 * partitions over, restore their state from the changelog (it never had
 * it locally), and finish. The output must equal replay.
 *
 * Session windows: a merge retracts emitted sessions with tombstones, so
 * state restored wrong shows up as a wrong tombstone or revision.
 */
#include <criterion/criterion.h>
#include <stdio.h>

#include "eos_harness.h"
#include "proc.h"

TestSuite(eos, .fini = tm_eos_teardown);

Test(eos, two_instances_failover)
{
    enum { EVENTS = 16000, RATE = 800 };
    tm_eos *e = tm_eos_setup(&(tm_eos_options){.name = "failover", .window = TM_EOS_SESSION});
    tm_eos_write_input(e, EVENTS, 3);
    tm_eos_instance *a = tm_eos_instance_add(e, "a"), *b = tm_eos_instance_add(e, "b");
    const int np = e->partitions;
    bool a_tasks[TM_WORKLOAD_MAX_PARTITIONS], b_tasks[TM_WORKLOAD_MAX_PARTITIONS];
    int64_t before[TM_WORKLOAD_MAX_PARTITIONS], now[TM_WORKLOAD_MAX_PARTITIONS];

    tm_eos_feed(e, 0, EVENTS, RATE);
    /* a first, with every partition; then b joins and takes half. */
    tm_eos_start(e, a);
    tm_eos_wait_restored(e, a, 60000);
    tm_eos_start(e, b);
    /* b's assignment, and all of its restores. */
    int64_t deadline = tm_test_now_ms() + 60000;
    int nb;
    for (;;) {
        int assigned = tm_eos_log_assigned(b);
        nb = tm_eos_restored_tasks(b, b_tasks, np);
        if (assigned > 0 && nb >= assigned)
            break;
        cr_assert(tm_test_now_ms() < deadline, "b was not assigned and restored within 60 s");
        tm_eos_sleep(e, 100);
    }
    cr_assert(nb > 0 && nb < np, "b owns %d of %d tasks", nb, np);
    for (int p = 0; p < np; p++)
        a_tasks[p] = !b_tasks[p];

    /* Both commit: offsets of a's and of b's partitions move on. */
    tm_eos_committed(e, before);
    deadline = tm_test_now_ms() + 60000;
    for (;;) {
        bool a_moved = false, b_moved = false;
        tm_eos_committed(e, now);
        for (int p = 0; p < np; p++) {
            a_moved |= a_tasks[p] && now[p] > before[p];
            b_moved |= b_tasks[p] && now[p] > before[p];
        }
        if (a_moved && b_moved)
            break;
        cr_assert(tm_test_now_ms() < deadline, "a and b did not both commit within 60 s");
        tm_eos_sleep(e, 100);
    }
    bool fed = tm_feeder_finished(e->feeder);
    printf("eos %s: b owns %d of %d tasks; both committed; killing a (%s)\n", e->name, nb, np,
           fed ? "the input is all sent" : "input still arriving");
    cr_assert(!fed, "the input ran out before the failover: feed more slowly");
    tm_eos_kill(e, a);

    /* b restores a's tasks from the changelog. */
    int64_t t_kill = tm_test_now_ms();
    deadline = t_kill + 90000;
    for (;;) {
        bool all[TM_WORKLOAD_MAX_PARTITIONS];
        if (tm_eos_restored_tasks(b, all, np) == np)
            break;
        cr_assert(tm_test_now_ms() < deadline, "b did not take a's tasks over within 90 s");
        tm_eos_sleep(e, 100);
    }
    printf("eos %s: b took a's tasks over %.1f s after the kill\n", e->name,
           (double)(tm_test_now_ms() - t_kill) / 1000.0);
    tm_eos_expect_restored(e, b, a_tasks, np);

    tm_eos_wait_done(e, 180000);
    tm_eos_stop(e, b);
    tm_eos_verify(e);
    tm_eos_pass(e);
}
