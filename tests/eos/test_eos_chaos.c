/*
 * Exactly-once under SIGKILL: one instance works through input that keeps
 * arriving and is killed with SIGKILL again and again at random instants,
 * each time restarted at once with the same instance id (a pod restarted
 * on the same disk). The kills land in three phases, in turn:
 * - early: 150-1500 ms after the process started (opening its clients,
 *   fencing the previous incarnation, joining the group);
 * - restore: as soon as the assignment is logged (restoring its tasks);
 * - working: 150-1500 ms after all its tasks are restored (mid-batch,
 *   mid-commit, between the commit and the store write).
 * Then it finishes, stops cleanly, and the output must equal replay.
 *
 * Environment (the CI defaults keep the test well under ctest's 300 s):
 *   TIDEMARK_CHAOS_EVENTS  input events (default 20000; the full run 100000)
 *   TIDEMARK_CHAOS_KILLS   SIGKILLs (default 8; the full run 20 or more)
 *   TIDEMARK_CHAOS_SEED    the kill schedule's seed (default: from the clock)
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "eos_harness.h"
#include "proc.h"

TestSuite(eos, .fini = tm_eos_teardown);

typedef enum { EARLY, RESTORE, WORKING } phase;

static const char *const phase_names[] = {"early", "restore", "working"};

static int64_t committed_total(tm_eos *e)
{
    int64_t c[TM_WORKLOAD_MAX_PARTITIONS], sum = 0;
    tm_eos_committed(e, c);
    for (int p = 0; p < e->partitions; p++)
        sum += c[p] > 0 ? c[p] : 0;
    return sum;
}

Test(eos, chaos_sigkill)
{
    const long events = tm_eos_env_long("TIDEMARK_CHAOS_EVENTS", 20000);
    const long kills = tm_eos_env_long("TIDEMARK_CHAOS_KILLS", 8);
    const long seed =
        tm_eos_env_long("TIDEMARK_CHAOS_SEED", (long)(time(NULL) ^ getpid()) & 0x7fffffff);
    tm_eos_seed((uint64_t)seed);

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

    int by_phase[3] = {0}, restores_cut = 0;
    for (long k = 0; k < kills; k++) {
        phase ph = (phase)(k % 4 == 0 ? EARLY : k % 4 == 2 ? RESTORE : WORKING);
        int64_t delay = 0;
        if (ph == EARLY) {
            delay = tm_eos_random(150, 1500);
            tm_eos_sleep(e, delay);
        } else if (ph == RESTORE) {
            tm_eos_wait_log(e, a, "assigned", 60000);
        } else {
            tm_eos_wait_restored(e, a, 60000);
            delay = tm_eos_random(150, 1500);
            tm_eos_sleep(e, delay);
        }
        tm_eos_kill(e, a);
        by_phase[ph]++;
        char note[64] = "";
        if (ph == RESTORE) {
            int restored = tm_eos_restores(a, NULL, 0);
            snprintf(note, sizeof note, ", %d of %d tasks restored", restored,
                     tm_eos_log_assigned(a));
            restores_cut += restored < tm_eos_log_assigned(a);
        }
        printf("eos %s: kill %ld/%ld (%s, +%lld ms%s) at %.1f s: %lld of %zu input records "
               "committed\n",
               e->name, k + 1, kills, phase_names[ph], (long long)delay, note,
               (double)(tm_test_now_ms() - t0) / 1000.0, (long long)committed_total(e),
               tm_feeder_sent(e->feeder));
        fflush(stdout);
        tm_eos_start(e, a);
    }

    tm_eos_wait_done(e, 240000);
    tm_eos_stop(e, a);
    double secs = (double)(tm_test_now_ms() - t0) / 1000.0;
    tm_eos_verify(e);
    printf("eos %s: %ld events, %ld SIGKILLs (%d early, %d at the assignment of which %d cut a "
           "restore short, %d while working), %d incarnations, %.1f s from the first start to "
           "the clean stop\n",
           e->name, events, kills, by_phase[EARLY], by_phase[RESTORE], restores_cut,
           by_phase[WORKING], a->runs, secs);
    tm_eos_pass(e);
}
