/*
 * Exactly-once with the local state store lost: an instance processes
 * the first half of the input and stops cleanly; its state directory is
 * removed (a pod rescheduled onto an empty disk); the restarted instance
 * must rebuild every task from the changelog (from offset 0, replaying
 * records), then process the second half. The output must equal replay.
 */
#include <criterion/criterion.h>
#include <stdio.h>

#include "eos_harness.h"

TestSuite(eos, .fini = tm_eos_teardown);

Test(eos, wiped_state)
{
    enum { EVENTS = 10000 };
    tm_eos *e = tm_eos_setup(&(tm_eos_options){.name = "wiped"});
    tm_eos_write_input(e, EVENTS, 2);
    tm_eos_instance *a = tm_eos_instance_add(e, "a");

    tm_eos_feed(e, 0, EVENTS / 2, 0);
    tm_eos_start(e, a);
    tm_eos_wait_done(e, 120000);
    tm_eos_stop(e, a);

    tm_eos_rm_rf(a->state_dir);
    tm_eos_start(e, a);
    tm_eos_wait_restored(e, a, 60000);
    tm_eos_feed(e, EVENTS / 2, EVENTS - EVENTS / 2, 0);
    tm_eos_wait_done(e, 120000);

    /* Every task came back from the changelog alone. */
    tm_eos_restore r[16];
    int n = tm_eos_restores(a, r, 16);
    cr_assert_eq(n, e->partitions, "%d restores logged, expected %d", n, e->partitions);
    size_t records = 0, windows = 0;
    for (int i = 0; i < n && i < 16; i++) {
        printf("eos %s: task %d restored in %lld ms: %zu windows, %zu dedup keys, %zu changelog "
               "records from offset %lld\n",
               e->name, r[i].task, (long long)r[i].ms, r[i].windows, r[i].dedup_keys, r[i].records,
               (long long)r[i].from);
        cr_assert_eq(r[i].from, 0, "task %d restored from offset %lld, expected 0", r[i].task,
                     (long long)r[i].from);
        cr_assert_gt(r[i].records, 0, "task %d: no changelog records replayed", r[i].task);
        records += r[i].records;
        windows += r[i].windows;
    }
    cr_assert_gt(windows, 0, "no window restored");
    printf("eos %s: %zu changelog records replayed, %zu windows restored\n", e->name, records,
           windows);

    tm_eos_stop(e, a);
    tm_eos_verify(e);
    tm_eos_pass(e);
}
