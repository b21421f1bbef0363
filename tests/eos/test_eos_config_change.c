/*
 * State that refuses a configuration it was not built for, and the way
 * out. After a clean run, a restart with another window size must refuse
 * to start (exit 2), naming the changed key and the ways out, and change
 * nothing. `tidemark reset` without --yes only prints what it would delete
 * (exit 2); with --yes it deletes the changelog topic, the consumer group's
 * offsets and the local state. The restart under the new configuration
 * then starts afresh: empty state, the input from the beginning.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "eos_harness.h"
#include "proc.h"

TestSuite(eos, .fini = tm_eos_teardown);

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

Test(eos, a_changed_window_is_refused_until_reset)
{
    enum { EVENTS = 4000 };
    tm_eos *e = tm_eos_setup(&(tm_eos_options){.name = "config-change"});
    tm_eos_instance *a = tm_eos_run_once(e, EVENTS, 13);
    tm_eos_verify(e);

    /* The harness's tumbling window is 5 s: 10 s is another state shape. */
    a->sets[0] = "window.size_ms=10000";
    tm_eos_start(e, a);
    tm_eos_expect_exit(e, a, 2, 60000, "restart with a changed window");
    cr_assert(tm_eos_log_contains(a, "window.size_ms (was 5000, now 10000)"),
              "the refusal names the key; log %s", a->log_path);
    cr_assert(tm_eos_log_contains(a, "tidemark reset"), "and the way out; log %s", a->log_path);
    cr_assert_gt(tm_kafka_probe_partitions(e->probe, e->changelog_topic), 0);

    char log[TM_EOS_PATH], set_dir[TM_EOS_PATH + 16];
    snprintf(set_dir, sizeof set_dir, "state.dir=%s", a->state_dir);
    const char *dry[] = {"reset", "--config", e->config_path, "--set", set_dir, NULL};
    int status = tm_eos_cli(e, "reset-dry.log", dry, log, sizeof log);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 2, "reset without --yes: %s",
              tm_proc_status_str(status));
    cr_assert(tm_eos_file_contains(log, e->changelog_topic), "the plan names the changelog");
    cr_assert(tm_eos_file_contains(log, "add --yes"), "and says how to confirm; log %s", log);
    cr_assert_gt(tm_kafka_probe_partitions(e->probe, e->changelog_topic), 0,
                 "nothing deleted without --yes");
    char app_dir[TM_EOS_PATH * 2];
    snprintf(app_dir, sizeof app_dir, "%s/%s", a->state_dir, e->app_id);
    cr_assert(exists(app_dir), "the local state is kept without --yes");

    const char *yes[] = {"reset", "--config", e->config_path, "--set", set_dir, "--yes", NULL};
    status = tm_eos_cli(e, "reset.log", yes, log, sizeof log);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "reset --yes: %s; log %s",
              tm_proc_status_str(status), log);
    cr_assert_eq(tm_kafka_probe_partitions(e->probe, e->changelog_topic), 0,
                 "the changelog topic is deleted");
    cr_assert(!exists(app_dir), "the local state is deleted: %s", app_dir);
    int64_t committed[TM_WORKLOAD_MAX_PARTITIONS];
    cr_assert_eq(tm_kafka_probe_committed(e->probe, "orders", e->partitions, committed), 0);
    for (int p = 0; p < e->partitions; p++)
        cr_assert_lt(committed[p], 0, "partition %d: committed offset %lld after the reset", p,
                     (long long)committed[p]);

    /* Afresh: every task restores nothing and the input is read again. */
    tm_eos_start(e, a);
    tm_eos_wait_restored(e, a, 60000);
    tm_eos_restore r[TM_WORKLOAD_MAX_PARTITIONS];
    int n = tm_eos_restores(a, r, TM_WORKLOAD_MAX_PARTITIONS);
    cr_assert_eq(n, e->partitions);
    for (int i = 0; i < n; i++)
        cr_assert(r[i].windows == 0 && r[i].records == 0, "task %d restored %zu windows", r[i].task,
                  r[i].windows);
    tm_eos_wait_done(e, 120000);
    tm_eos_stop(e, a);
    tm_eos_pass(e);
}
