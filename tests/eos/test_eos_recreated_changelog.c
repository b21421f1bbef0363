/*
 * Exactly-once after the changelog is recreated (deleted and created
 * again, as an application reset does): an instance processes the input
 * and stops cleanly; the cluster is replaced by an empty one (the
 * changelog goes with it) and the same input is loaded into it; the
 * instance restarts on its old state directory. Its stores have applied
 * offsets past the new changelog's end: they hold state that no longer
 * exists, and each must be wiped (with a warning) and restored from the
 * new changelog. Kept, their checkpoints would skip the whole input (no
 * output) and their windows would count the events a second time. The
 * output on the new cluster must equal replay.
 */
#include <criterion/criterion.h>
#include <stdio.h>

#include "eos_harness.h"

TestSuite(eos, .fini = tm_eos_teardown);

Test(eos, recreated_changelog)
{
    enum { EVENTS = 6000 };
    tm_eos *e = tm_eos_setup(&(tm_eos_options){.name = "recreated"});
    tm_eos_instance *a = tm_eos_run_once(e, EVENTS, 5);

    tm_eos_replace_broker(e);
    tm_eos_load_input(e);
    tm_eos_start(e, a);
    tm_eos_wait_restored(e, a, 60000);

    /* Every store was found ahead of the new changelog, wiped, and
     * restored from it (empty). */
    tm_eos_restore r[16];
    int n = tm_eos_restores(a, r, 16);
    cr_assert_eq(n, e->partitions, "%d restores logged, expected %d", n, e->partitions);
    for (int i = 0; i < n; i++) {
        char warning[256];
        snprintf(warning, sizeof warning, "task %d: changelog %s [%d] ends at 0", r[i].task,
                 e->changelog_topic, r[i].task);
        cr_assert(tm_eos_log_contains(a, warning), "no '%s' in %s", warning, a->log_path);
        cr_assert(r[i].from == 0 && r[i].records == 0 && r[i].windows == 0 && r[i].dedup_keys == 0,
                  "task %d: %zu windows, %zu dedup keys, %zu records from offset %lld; expected "
                  "an empty restore from 0",
                  r[i].task, r[i].windows, r[i].dedup_keys, r[i].records, (long long)r[i].from);
    }
    cr_assert(tm_eos_log_contains(a, "the changelog was recreated; wiping the store"));

    tm_eos_wait_done(e, 120000);
    tm_eos_stop(e, a);
    tm_eos_verify(e);
    tm_eos_pass(e);
}
