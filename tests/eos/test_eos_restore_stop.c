/*
 * SIGTERM during a long restore: an instance processes most of an input
 * with many merchants in hour-long windows, checkpointing every 10 ms
 * (about every event changes a window that no other event of its
 * checkpoint did, so the changelog holds about a record an event, and
 * the state a window for most merchants), and stops cleanly; its state directory is removed, so
 * that the restart restores the whole changelog. While that restore reads (its log reports the
 * read's progress; /readyz answers "restoring"), SIGTERM: the instance must exit 0 within 2 s and
 * say that it stopped during the restore, keeping in its stores what it had read. The next start
 * restores the rest, from where the stores are, and then takes the rest of the input. The output
 * must equal replay.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "buf.h"
#include "eos_harness.h"
#include "http_get.h"
#include "proc.h"

TestSuite(eos, .fini = tm_eos_teardown);

enum { STOP_BOUND_MS = 2000 };

/* /readyz's answer (status, and the body's first line into body). */
static int readyz(int port, char *body, size_t len)
{
    tm_buf h = {0}, b = {0};
    int status = tm_http_request(port, "GET", "/readyz", &h, &b);
    snprintf(body, len, "%.*s", b.data ? (int)strcspn(b.data, "\n") : 0, b.data ? b.data : "");
    tm_buf_free(&h);
    tm_buf_free(&b);
    return status;
}

/* Changelog records the stopped restore kept, from its log line. */
static unsigned long long kept_records(const tm_eos_instance *in)
{
    FILE *f = fopen(in->log_path, "r");
    cr_assert(f, "no log %s", in->log_path);
    char *line = NULL;
    size_t cap = 0;
    unsigned long long kept = 0;
    bool found = false;
    while (getline(&line, &cap, f) > 0) {
        const char *at = strstr(line, "changelog records read are kept");
        const char *the = at ? strstr(line, "ms: the ") : NULL;
        if (the && sscanf(the, "ms: the %llu", &kept) == 1)
            found = true;
    }
    free(line);
    fclose(f);
    cr_assert(found, "no 'changelog records read are kept' in %s", in->log_path);
    return kept;
}

/* The restore must still read 100 ms after the test saw it start (it
 * takes about 1.5 s in a release build on two cores). Under ASan the
 * first run is several times slower, so the changelog is smaller: 125,000
 * events restored in 280 ms on an idle machine, too close to the 300 ms
 * the test once waited; twice that leaves room. */
#if defined(__SANITIZE_ADDRESS__)
enum { EVENTS = 250000 };
#else
enum { EVENTS = 500000 };
#endif

/* Polls /readyz until it says "restoring" (bounded), into body. */
static void wait_restoring(tm_eos *e, int port, char *body, size_t len)
{
    int64_t deadline = tm_test_now_ms() + 30000;
    while (!(readyz(port, body, len) == 503 && strcmp(body, "restoring") == 0)) {
        cr_assert_lt(tm_test_now_ms(), deadline, "no restore seen (/readyz: '%s')", body);
        tm_eos_sleep(e, 10);
    }
}

Test(eos, sigterm_during_restore)
{
    enum { TAIL = 5000, PARTITIONS = 16, MERCHANTS = 100000 };
    tm_eos *e = tm_eos_setup(&(tm_eos_options){.name = "restore-stop",
                                               .partitions = PARTITIONS,
                                               .merchants = MERCHANTS,
                                               .window = TM_EOS_TUMBLING_HOUR});
    tm_eos_write_input(e, EVENTS + TAIL, 11);
    tm_eos_instance *a = tm_eos_instance_add(e, "a");
    a->metrics_port = tm_test_free_port();

    /* Checkpoints ten times as often as the harness's: fewer changes of a
     * window coalesce, and the changelog gets about a record an event. */
    a->sets[0] = "commit_interval_ms=10";
    tm_eos_feed(e, 0, EVENTS, 0);
    tm_eos_start(e, a);
    tm_eos_wait_done(e, 180000);
    tm_eos_stop(e, a);
    tm_eos_rm_rf(a->state_dir);
    a->sets[0] = NULL;

    /* The restore of the whole changelog, stopped while it reads. */
    tm_eos_start(e, a);
    tm_eos_wait_log(e, a, "assigned", 60000);
    char body[128];
    wait_restoring(e, a->metrics_port, body, sizeof body);
    tm_eos_sleep(e, 100);
    cr_assert(readyz(a->metrics_port, body, sizeof body) == 503 && strcmp(body, "restoring") == 0,
              "the restore ended before the test could stop it (/readyz: '%s')", body);
    int status;
    int64_t t0 = tm_test_now_ms();
    bool exited = tm_proc_signal_wait(a->pid, SIGTERM, 30000, &status);
    int64_t took = tm_test_now_ms() - t0;
    a->pid = 0;
    cr_assert(exited && WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "SIGTERM during the restore: %s; log %s",
              exited ? tm_proc_status_str(status) : "hung", a->log_path);
    cr_assert_leq(took, STOP_BOUND_MS, "exit took %lld ms after SIGTERM, more than %d",
                  (long long)took, STOP_BOUND_MS);
    cr_assert(tm_eos_log_contains(a, "stopped during restore"), "log %s", a->log_path);
    unsigned long long kept = kept_records(a);
    printf("eos %s: SIGTERM during the restore: exit 0 in %lld ms, %llu changelog records kept\n",
           e->name, (long long)took, kept);

    /* The rest of the restore; then the second half. */
    tm_eos_start(e, a);
    tm_eos_wait_restored(e, a, 120000);
    tm_eos_restore r[PARTITIONS];
    int n = tm_eos_restores(a, r, PARTITIONS);
    cr_assert_eq(n, PARTITIONS);
    size_t records = 0, windows = 0;
    int resumed = 0;
    for (int i = 0; i < n; i++) {
        records += r[i].records;
        windows += r[i].windows;
        resumed += r[i].from > 0;
    }
    printf("eos %s: restart: %zu changelog records replayed, %d of %d tasks resumed past offset "
           "0, %zu windows\n",
           e->name, records, resumed, n, windows);
    cr_assert(kept == 0 || resumed > 0, "%llu records were kept, yet every task restored from 0",
              kept);
    cr_assert_gt(windows, 0);

    tm_eos_feed(e, EVENTS, TAIL, 0);
    tm_eos_wait_done(e, 180000);
    tm_eos_stop(e, a);
    tm_eos_verify(e);
    tm_eos_pass(e);
}
