/*
 * Exactly-once under SIGKILL: one instance works through input that keeps
 * arriving and is killed with SIGKILL again and again at random instants,
 * each time restarted at once with the same instance id (a pod restarted
 * on the same disk). The kills land in four phases, in turn:
 * - early: 150-1500 ms after the process started (opening its clients,
 *   fencing the previous incarnation, joining the group);
 * - working: 150-1500 ms after all its tasks are restored (mid-batch,
 *   mid-commit, between the commit and the store write);
 * - restore: as soon as the assignment is logged (restoring its tasks);
 * - commit: 150-1500 ms after the restore, inside a checkpoint: the broker
 *   holds the next commit open (tm_eos_hold_commit refuses its EndTxn a
 *   few times, as a busy coordinator does) and the kill lands as soon as
 *   the probe sees its changelog records written and not committed.
 * Then it finishes, stops cleanly, and the output must equal replay.
 *
 * Each kill is classified by what it cut short: a restore (the log shows
 * fewer tasks restored than assigned) or a commit (after the kill, a
 * changelog partition still has an open transaction: the service writes
 * changelog records only in a checkpoint, right before committing it). The
 * test requires at least one of each, or it would pass without having
 * killed the service where exactly-once is hardest to keep.
 *
 * Environment (the CI defaults keep the test well under ctest's 300 s):
 *   TIDEMARK_CHAOS_EVENTS  input events (default 20000; the full run 100000)
 *   TIDEMARK_CHAOS_KILLS   SIGKILLs (default 8, at least 4; the full run 20 or more)
 *   TIDEMARK_CHAOS_SEED    the kill schedule's seed (default: from the clock;
 *                          printed at the start and in every failure)
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "eos_harness.h"
#include "proc.h"

TestSuite(eos, .fini = tm_eos_teardown);

typedef enum { EARLY, WORKING, RESTORE, COMMIT, PHASES } phase;

static const char *const phase_names[] = {"early", "working", "restore", "commit"};

Test(eos, chaos_sigkill)
{
    const long events = tm_eos_env_long("TIDEMARK_CHAOS_EVENTS", 20000);
    const long kills = tm_eos_env_long("TIDEMARK_CHAOS_KILLS", 8);
    const long seed =
        tm_eos_env_long("TIDEMARK_CHAOS_SEED", (long)(time(NULL) ^ getpid()) & 0x7fffffff);
    tm_eos_seed((uint64_t)seed);
    cr_assert_geq(kills, PHASES, "TIDEMARK_CHAOS_KILLS=%ld: at least one kill a phase", kills);

    tm_eos *e = tm_eos_setup(&(tm_eos_options){.name = "chaos", .window = TM_EOS_HOPPING});
    printf("eos %s: %ld events, %ld kills, seed %ld (TIDEMARK_CHAOS_SEED=%ld repeats the "
           "schedule)\n",
           e->name, events, kills, seed, seed);
    tm_eos_write_input(e, (size_t)events, 5);
    /* A restart costs about 11 s on the test broker (the group waits out
     * the dead member's session, then a rebalance delay): spread the input
     * over about 9 s a kill, so that the kills land while there is work. */
    double rate = (double)events / ((double)kills * 9.0);
    tm_eos_feed(e, 0, (size_t)events, rate);
    tm_eos_instance *a = tm_eos_instance_add(e, "a");
    int64_t t0 = tm_test_now_ms();
    tm_eos_start(e, a);

    int by_phase[PHASES] = {0}, restores_cut = 0, commits_cut = 0;
    for (long k = 0; k < kills; k++) {
        phase ph = (phase)(k % PHASES);
        int64_t delay = 0;
        bool held = false; /* a commit was held open for the kill */
        if (ph == EARLY) {
            delay = tm_eos_random(150, 1500);
            tm_eos_sleep(e, delay);
        } else if (ph == RESTORE) {
            tm_eos_wait_assigned(e, a, 60000);
        } else {
            tm_eos_wait_restored(e, a, 60000);
            delay = tm_eos_random(150, 1500);
            tm_eos_sleep(e, delay);
            /* None within 30 s (no input left): the kill lands anyway
             * and counts for what it cut. */
            if (ph == COMMIT)
                held = tm_eos_hold_commit(e, 30000);
        }
        tm_eos_kill(e, a);
        by_phase[ph]++;
        int assigned = tm_eos_log_assigned(a), restored = tm_eos_restores(a, NULL, 0);
        bool restore_cut = assigned > 0 && restored < assigned;
        /* Only an incarnation that has restored its tasks can have been
         * committing; by then it has also fenced its predecessor, whose
         * open transaction (if any) is aborted and cannot be taken for
         * this one's. */
        bool commit_cut = assigned > 0 && !restore_cut && tm_eos_changelog_open(e) > 0;
        restores_cut += restore_cut;
        commits_cut += commit_cut;
        char tasks[64] = "not assigned yet";
        if (assigned >= 0)
            snprintf(tasks, sizeof tasks, "%d of %d tasks restored", restored, assigned);
        printf("eos %s: kill %ld/%ld (%s, +%lld ms%s; %s%s) at %.1f s: %lld of %zu input records "
               "committed\n",
               e->name, k + 1, kills, phase_names[ph], (long long)delay,
               held ? ", a commit held open" : "", tasks,
               restore_cut  ? ", cut a restore"
               : commit_cut ? ", cut a commit"
                            : "",
               (double)(tm_test_now_ms() - t0) / 1000.0, (long long)tm_eos_committed_total(e),
               tm_feeder_sent(e->feeder));
        fflush(stdout);
        tm_eos_start(e, a);
    }
    tm_eos_wait_done(e, 240000);
    tm_eos_stop(e, a);
    double secs = (double)(tm_test_now_ms() - t0) / 1000.0;
    tm_eos_verify(e);
    printf("eos %s: %ld events, %ld SIGKILLs (%d early, %d working, %d at the assignment, %d "
           "at a checkpoint; %d cut a restore short, %d a commit), %d incarnations, %.1f s from "
           "the first start to the clean stop\n",
           e->name, events, kills, by_phase[EARLY], by_phase[WORKING], by_phase[RESTORE],
           by_phase[COMMIT], restores_cut, commits_cut, a->runs, secs);
    cr_assert_geq(restores_cut, 1, "no kill landed mid-restore (TIDEMARK_CHAOS_SEED=%ld)", seed);
    cr_assert_geq(commits_cut, 1, "no kill landed mid-commit (TIDEMARK_CHAOS_SEED=%ld)", seed);
    tm_eos_pass(e);
}
