/*
 * Exactly-once with live repartitioning (SEMANTICS 10-11): the input is
 * keyed by order id (tm_eos_options.repartition: Kafka's partitioner
 * spreads every merchant's events over all four partitions), the pipeline
 * groups by merchant with repartition.mode left to auto, so `tidemark run`
 * sends each decoded event through `<application_id>-repartition` to the
 * window task that owns its merchant. Task n of an instance is source task
 * n (input partition n) and window task n (repartition partition n).
 *
 * Live, a window task's watermark trails replay's by up to a commit
 * interval and meets the source tasks' events in another interleaving, so
 * the output is compared as the contract states it: with an allowed
 * lateness that no record exceeds, the latest revision of every window
 * equals replay's, every window's revisions are 0, 1, 2, ... with none
 * missing or repeated, and the dead letters equal replay's
 * (tm_golden_compare_latest).
 *
 * The cases:
 * - equality: 5,000 events loaded up front, one instance;
 * - chaos: one instance SIGKILLed at random instants while input keeps
 *   arriving, each time restarted with the same instance id (restart k
 *   not before k slots of 5 s after the first start, so that the kills
 *   spread over the input and each incarnation starts with a backlog); the
 *   kills rotate through three phases: early (150-1500 ms after the
 *   process started), restore (as soon as the assignment is logged) and
 *   transaction (150-1500 ms after its tasks are restored, inside a
 *   checkpoint that the broker holds open: tm_eos_hold_commit); at least
 *   one kill must have left a transaction open;
 * - failover: instances a and b share the input; once both have committed,
 *   a is SIGKILLed for good and b restores a's tasks and finishes;
 * - scale: 1 -> 2 -> 1 instances while input arrives: b joins and takes
 *   some tasks, then stops with SIGTERM (a static member: its tasks move
 *   after its session times out) and a takes them back, with stores that
 *   b's work left behind;
 * - partitions: repartition.partitions other than the input partition
 *   count is refused (exit 2, naming repartition.partitions); set to the
 *   input partition count, the same application runs.
 *
 * Environment, for the chaos case only (TIDEMARK_EOS_* stays out of the
 * service's environment):
 *   TIDEMARK_EOS_EVENTS  input events (default 8000, 3000 under ASan)
 *   TIDEMARK_EOS_KILLS   SIGKILLs (default 3, at least 3: one a phase)
 *   TIDEMARK_EOS_SEED    the kill schedule's seed (default: from the clock;
 *                        printed at the start and in the failure message)
 * The on-demand run (tests/eos/README.md), without ctest's 300 s limit:
 *   TIDEMARK_EOS_EVENTS=100000 TIDEMARK_EOS_KILLS=20 \
 *       build/release/tests/test_eos_repartition --filter 'eos/chaos*' --verbose
 * (with TIDEMARK_BINARY and TIDEMARK_TEST_BROKER set as ctest sets them).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "eos_harness.h"
#include "proc.h"

TestSuite(eos, .fini = tm_eos_teardown);

/* Under ASan the service is several times slower: the same cases on less
 * input, fed more slowly. */
#if defined(__SANITIZE_ADDRESS__)
enum { CHAOS_EVENTS = 3000, FAILOVER_RATE = 400, SCALE_RATE = 250 };
#else
enum { CHAOS_EVENTS = 8000, FAILOVER_RATE = 800, SCALE_RATE = 500 };
#endif

/* ---- helpers ---- */

/* Waits (bounded) until the group's committed input offsets have moved on,
 * since the call, for a task in mine and for a task in others: both
 * owners commit. */
static void wait_both_commit(tm_eos *e, const bool *mine, const bool *others, const char *what)
{
    int64_t before[TM_WORKLOAD_MAX_PARTITIONS], now[TM_WORKLOAD_MAX_PARTITIONS];
    tm_eos_committed(e, before);
    int64_t deadline = tm_test_now_ms() + 60000;
    for (;;) {
        bool mine_moved = false, others_moved = false;
        tm_eos_committed(e, now);
        for (int p = 0; p < e->partitions; p++) {
            mine_moved |= mine[p] && now[p] > before[p];
            others_moved |= others[p] && now[p] > before[p];
        }
        if (mine_moved && others_moved)
            return;
        cr_assert(tm_test_now_ms() < deadline, "%s did not both commit within 60 s", what);
        tm_eos_sleep(e, 100);
    }
}

/* Waits (bounded) until in's last assignment holds want tasks, then for
 * tm_eos_wait_restored (which counts the restores of the incarnation's
 * earlier assignments too: "done" is what shows the tasks at work). */
static void wait_assignment(tm_eos *e, tm_eos_instance *in, int want, int64_t timeout_ms)
{
    int64_t deadline = tm_test_now_ms() + timeout_ms;
    while (tm_eos_log_assigned(in) != want) {
        cr_assert(tm_test_now_ms() < deadline,
                  "instance %s: no assignment of %d task(s) within %lld ms (last: %d)", in->id,
                  want, (long long)timeout_ms, tm_eos_log_assigned(in));
        tm_eos_sleep(e, 100);
    }
    tm_eos_wait_restored(e, in, timeout_ms);
}

/* Starts b beside an instance that owns every task and waits until b has
 * restored its share, which must be some but not all: a_tasks and
 * b_tasks get the split. Returns b's task count. */
static int join_second(tm_eos *e, tm_eos_instance *b, bool *a_tasks, bool *b_tasks)
{
    const int np = e->partitions;
    tm_eos_start(e, b);
    tm_eos_wait_restored(e, b, 60000);
    int nb = tm_eos_log_assigned(b);
    cr_assert(nb > 0 && nb < np, "b owns %d of %d tasks", nb, np);
    cr_assert_eq(tm_eos_restored_tasks(b, b_tasks, np), nb);
    for (int p = 0; p < np; p++)
        a_tasks[p] = !b_tasks[p];
    return nb;
}

/* ---- (a) equality ---- */

Test(eos, repartition_equality)
{
    tm_eos *e = tm_eos_setup(&(tm_eos_options){.name = "rp-equality", .repartition = true});
    tm_eos_run_once(e, 5000, 21);
    /* The service made the topic with R = the input partition count. */
    cr_assert_eq(tm_kafka_probe_partitions(e->probe, e->repartition_topic), e->partitions);
    tm_eos_verify(e);
    /* The contract of live repartitioning: once done, the group's
     * committed offset of every repartition partition is its end offset,
     * past the marker of the transaction that wrote its last record (as
     * the consumer's position is), so that the group's lag on the topic
     * is 0. "Done" itself accepts markers past the committed offsets, so
     * that the rest is checked either way. */
    int short_parts = tm_eos_repartition_short(e);
    cr_assert_eq(short_parts, 0,
                 "the group's committed offsets of %d repartition partition(s) stop short of the "
                 "end offset (by transaction markers only: see the 'done' line)",
                 short_parts);
    tm_eos_pass(e);
}

/* ---- (b) chaos ---- */

typedef enum { EARLY, RESTORE, TRANSACTION, PHASES } phase;

/* Restart k (from 1) waits until k slots after the first start. */
enum { SLOT_MS = 5000 };

static const char *const phase_names[] = {"early", "restore", "transaction"};

Test(eos, chaos_repartition)
{
    const long events = tm_eos_env_long("TIDEMARK_EOS_EVENTS", CHAOS_EVENTS);
    const long kills = tm_eos_env_long("TIDEMARK_EOS_KILLS", PHASES);
    const long seed =
        tm_eos_env_long("TIDEMARK_EOS_SEED", (long)(time(NULL) ^ getpid()) & 0x7fffffff);
    tm_eos_seed((uint64_t)seed);
    cr_assert_geq(kills, PHASES, "TIDEMARK_EOS_KILLS=%ld: at least one kill a phase", kills);

    tm_eos *e = tm_eos_setup(
        &(tm_eos_options){.name = "rp-chaos", .window = TM_EOS_HOPPING, .repartition = true});
    printf("eos %s: %ld events, %ld kills, seed %ld (TIDEMARK_EOS_SEED=%ld repeats the "
           "schedule)\n",
           e->name, events, kills, seed, seed);
    tm_eos_write_input(e, (size_t)events, 23);
    /* A kill and the restart's rejoin take 2-4 s (the same instance id: a
     * static member rejoins at once), less than a slot. The input arrives
     * over two slots more than there are kills, so that every kill lands
     * while there is work, the last one included (the transaction phase
     * needs a checkpoint to hold open), with a slot to spare for a loaded
     * machine's slow restarts. */
    tm_eos_feed(e, 0, (size_t)events,
                (double)events * 1000.0 / ((double)(kills + 2) * (double)SLOT_MS));
    tm_eos_instance *a = tm_eos_instance_add(e, "a");
    int64_t t0 = tm_test_now_ms();
    tm_eos_start(e, a);

    int restores_cut = 0, transactions_cut = 0;
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
            held = tm_eos_hold_commit(e, 30000);
        }
        tm_eos_kill(e, a);
        int assigned = tm_eos_log_assigned(a), restored = tm_eos_restores(a, NULL, 0);
        bool restore_cut = assigned > 0 && restored < assigned;
        /* Only an incarnation that has restored its tasks has fenced its
         * predecessor (whose open transaction, if any, is aborted then):
         * a transaction open now is this one's. */
        int open = assigned > 0 && !restore_cut ? tm_eos_open_transactions(e) : 0;
        restores_cut += restore_cut;
        transactions_cut += open > 0;
        char tasks[64] = "not assigned yet";
        if (assigned >= 0)
            snprintf(tasks, sizeof tasks, "%d of %d tasks restored", restored, assigned);
        printf("eos %s: kill %ld/%ld (%s, +%lld ms%s; %s; %d partition(s) with a transaction "
               "open%s) at %.1f s: %lld of %zu input records committed\n",
               e->name, k + 1, kills, phase_names[ph], (long long)delay,
               held ? ", a commit held open" : "", tasks, open,
               restore_cut ? ", cut a restore" : "", (double)(tm_test_now_ms() - t0) / 1000.0,
               (long long)tm_eos_committed_total(e), tm_feeder_sent(e->feeder));
        fflush(stdout);
        /* Down until its slot, as a pod waits to be restarted. */
        int64_t slot = t0 + (k + 1) * SLOT_MS, now = tm_test_now_ms();
        if (now < slot)
            tm_eos_sleep(e, slot - now);
        tm_eos_start(e, a);
    }
    tm_eos_wait_done(e, 240000);
    tm_eos_stop(e, a);
    double secs = (double)(tm_test_now_ms() - t0) / 1000.0;
    tm_eos_verify(e);
    printf("eos %s: %ld events, %ld SIGKILLs (%d cut a restore short, %d left a transaction "
           "open), %d incarnations, %.1f s from the first start to the clean stop\n",
           e->name, events, kills, restores_cut, transactions_cut, a->runs, secs);
    cr_assert_geq(transactions_cut, 1, "no kill left a transaction open (TIDEMARK_EOS_SEED=%ld)",
                  seed);
    tm_eos_pass(e);
}

/* ---- (c) failover ---- */

Test(eos, repartition_failover)
{
    enum { SECONDS = 20 };
    const int events = FAILOVER_RATE * SECONDS;
    tm_eos *e = tm_eos_setup(&(tm_eos_options){.name = "rp-failover", .repartition = true});
    tm_eos_write_input(e, (size_t)events, 25);
    tm_eos_instance *a = tm_eos_instance_add(e, "a"), *b = tm_eos_instance_add(e, "b");
    const int np = e->partitions;
    bool a_tasks[TM_WORKLOAD_MAX_PARTITIONS], b_tasks[TM_WORKLOAD_MAX_PARTITIONS];

    tm_eos_feed(e, 0, (size_t)events, FAILOVER_RATE);
    /* a first, with every task; then b joins and takes some. */
    tm_eos_start(e, a);
    tm_eos_wait_restored(e, a, 60000);
    int nb = join_second(e, b, a_tasks, b_tasks);
    wait_both_commit(e, a_tasks, b_tasks, "a and b");

    bool fed = tm_feeder_finished(e->feeder);
    printf("eos %s: b owns %d of %d tasks; both committed; killing a (%s)\n", e->name, nb, np,
           fed ? "the input is all sent" : "input still arriving");
    cr_assert(!fed, "the input ran out before the failover: feed more slowly");
    tm_eos_kill(e, a);

    /* b restores a's tasks (their source and window state) from the
     * changelog: it never had them. */
    int64_t t_kill = tm_test_now_ms();
    wait_assignment(e, b, np, 90000);
    printf("eos %s: b took a's tasks over %.1f s after the kill\n", e->name,
           (double)(tm_test_now_ms() - t_kill) / 1000.0);
    tm_eos_expect_restored(e, b, a_tasks, np);
    tm_eos_finish(e, b, 180000);
}

/* ---- (d) scale 1 -> 2 -> 1 ---- */

Test(eos, repartition_scale_out_and_in)
{
    enum { SECONDS = 30 };
    const int events = SCALE_RATE * SECONDS;
    tm_eos *e = tm_eos_setup(&(tm_eos_options){.name = "rp-scale", .repartition = true});
    tm_eos_write_input(e, (size_t)events, 27);
    tm_eos_instance *a = tm_eos_instance_add(e, "a"), *b = tm_eos_instance_add(e, "b");
    const int np = e->partitions;
    bool a_tasks[TM_WORKLOAD_MAX_PARTITIONS], b_tasks[TM_WORKLOAD_MAX_PARTITIONS];
    int64_t t0 = tm_test_now_ms();

    tm_eos_feed(e, 0, (size_t)events, SCALE_RATE);
    tm_eos_start(e, a);
    wait_assignment(e, a, np, 60000);

    /* 1 -> 2: b joins and takes some tasks; a keeps the others. */
    int nb = join_second(e, b, a_tasks, b_tasks);
    wait_assignment(e, a, np - nb, 60000);
    wait_both_commit(e, a_tasks, b_tasks, "a and b");
    printf("eos %s: scaled out at %.1f s: b owns %d of %d tasks, both committed\n", e->name,
           (double)(tm_test_now_ms() - t0) / 1000.0, nb, np);

    /* 2 -> 1: b stops (a static member: its tasks stay unowned until its
     * session times out), and a takes them back; its stores of them are
     * as a left them, behind the changelog that b wrote. */
    tm_eos_stop(e, b);
    wait_assignment(e, a, np, 60000);
    printf("eos %s: scaled in at %.1f s: a owns every task again\n", e->name,
           (double)(tm_test_now_ms() - t0) / 1000.0);
    fflush(stdout);
    cr_assert(!tm_feeder_finished(e->feeder), "the input ran out before the scale-in");
    tm_eos_finish(e, a, 180000);
}

/* ---- (e) repartition.partitions ---- */

Test(eos, repartition_partitions_must_match_the_input)
{
    tm_eos *e = tm_eos_setup(&(tm_eos_options){.name = "rp-partitions", .repartition = true});
    tm_eos_write_input(e, 3000, 29);
    tm_eos_load_input(e);
    tm_eos_instance *a = tm_eos_instance_add(e, "a");
    char other[64], same[64];
    snprintf(other, sizeof other, "repartition.partitions=%d", e->partitions - 1);
    snprintf(same, sizeof same, "repartition.partitions=%d", e->partitions);

    a->sets[0] = other;
    tm_eos_start(e, a);
    tm_eos_expect_exit(e, a, 2, 60000, "repartition.partitions other than the input's");
    cr_assert(tm_eos_log_contains(a, "repartition.partitions"),
              "the refusal does not name repartition.partitions; log %s", a->log_path);

    /* Equal to the input partition count, as the default is: it runs. */
    a->sets[0] = same;
    tm_eos_start(e, a);
    tm_eos_finish(e, a, 120000);
}

/* These cases each run a broker and instances of the service against it.
 * Criterion would run them in parallel, a job per core; on two cores,
 * where ctest runs other executables at the same time, the instances
 * would starve each other into session timeouts. One case at a time
 * (CRITERION_JOBS or --jobs still choose otherwise). */
int main(int argc, char *argv[])
{
    struct criterion_test_set *tests = criterion_initialize();
    criterion_options.jobs = 1;
    int result = 0;
    if (criterion_handle_args(argc, argv, true))
        result = !criterion_run_all_tests(tests);
    criterion_finalize(tests);
    return result;
}
