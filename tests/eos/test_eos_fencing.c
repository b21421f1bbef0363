/*
 * Two instances started with the same instance id (a misconfiguration, or
 * a node partition where the old pod lives on): the second fences the
 * first, whose producer (same transactional.id) and group membership (same
 * group.instance.id) are taken over. The first exits 1 with a log line that
 * says so; nothing is lost or duplicated: the output equals replay.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <sys/wait.h>

#include "eos_harness.h"
#include "proc.h"

TestSuite(eos, .fini = tm_eos_teardown);

Test(eos, a_second_instance_with_the_same_id_fences_the_first)
{
    enum { EVENTS = 10000, RATE = 800 };
    tm_eos *e = tm_eos_setup(&(tm_eos_options){.name = "fencing"});
    tm_eos_write_input(e, EVENTS, 5);
    tm_eos_instance *first = tm_eos_instance_add(e, "first");
    tm_eos_instance *second = tm_eos_instance_add(e, "second");
    /* One --instance-id, two pods (each its own disk). */
    snprintf(first->instance_id, sizeof first->instance_id, "same");
    snprintf(second->instance_id, sizeof second->instance_id, "same");

    tm_eos_feed(e, 0, EVENTS, RATE);
    tm_eos_start(e, first);
    tm_eos_wait_restored(e, first, 60000);
    tm_eos_sleep(e, 1000);
    tm_eos_start(e, second);

    tm_eos_expect_exit(e, first, 1, 60000, "the fenced instance");
    cr_assert(tm_eos_log_contains(first, "another instance started with the same instance id"),
              "the fenced instance's log must say why; log %s", first->log_path);
    printf("eos %s: the first instance was fenced and exited 1\n", e->name);
    fflush(stdout);
    cr_assert(!tm_feeder_finished(e->feeder), "the input ran out before the fencing: feed slower");

    tm_eos_wait_restored(e, second, 60000);
    tm_eos_finish(e, second, 180000);
}
