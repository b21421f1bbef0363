/*
 * support.c: see support.h.
 */
#define _XOPEN_SOURCE 700 /* nftw */

#include "support.h"

#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/abort.h>
#include <criterion/event.h>
#include <criterion/stats.h>

static char g_name[64] = "bench";
static char g_dir[512];
static bool g_keep;
static volatile sig_atomic_t g_interrupted;

void tm_bench_fail(const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fprintf(stderr, "%s: ", g_name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1); /* atexit: children killed (proc.c), then the directory removed */
}

/* In place of Criterion's (support.h). */
void criterion_send_assert(struct criterion_assert_stats *stats)
{
    if (stats && !stats->passed)
        fprintf(stderr, "%s: %s:%u: %s\n", g_name, stats->file ? stats->file : "?", stats->line,
                stats->message ? stats->message : "");
}

void criterion_abort_test(void)
{
    tm_bench_fail("a tests/support check failed (see above)");
}

bool tm_bench_interrupted(void)
{
    return g_interrupted != 0;
}

void tm_bench_check_interrupt(void)
{
    if (g_interrupted)
        tm_bench_fail("interrupted");
}

static void on_signal(int sig)
{
    (void)sig;
    g_interrupted = 1;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void cleanup_dir(void)
{
    if (!g_dir[0])
        return;
    if (g_keep) {
        fprintf(stderr, "%s: kept %s\n", g_name, g_dir);
        return;
    }
    nftw(g_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void tm_bench_start(const char *name, bool keep)
{
    snprintf(g_name, sizeof g_name, "%s", name);
    g_keep = keep;
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    const char *tmp = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/tidemark-%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", name);
    if (!mkdtemp(g_dir)) {
        int e = errno;
        char dir[sizeof g_dir];
        snprintf(dir, sizeof dir, "%s", g_dir);
        g_dir[0] = '\0';
        tm_bench_fail("mkdtemp %s: %s", dir, strerror(e));
    }
    atexit(cleanup_dir); /* registered before any spawn: runs after the children are killed */
}

const char *tm_bench_dir(void)
{
    return g_dir;
}

int64_t tm_bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
