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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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

long tm_bench_pid_status_kib(pid_t pid, const char *field)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[256];
    long v = -1;
    size_t n = strlen(field);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0 && line[n] == ':')
            v = strtol(line + n + 1, NULL, 10);
    fclose(f);
    return v;
}

long tm_bench_status_kib(const char *field)
{
    long v = tm_bench_pid_status_kib(getpid(), field);
    if (v < 0)
        tm_bench_fail("no %s in /proc/self/status", field);
    return v;
}

void tm_bench_in_child(void (*fn)(void *ctx, void *out), void *ctx, void *out, size_t out_size)
{
    int fds[2];
    if (pipe(fds) != 0)
        tm_bench_fail("pipe: %s", strerror(errno));
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        tm_bench_fail("fork: %s", strerror(errno));
    if (pid == 0) {
        close(fds[0]);
        fn(ctx, out);
        /* _exit: the parent's exit handlers (its directory) are not the
         * child's to run. */
        _exit(write(fds[1], out, out_size) == (ssize_t)out_size ? 0 : 1);
    }
    close(fds[1]);
    ssize_t got = read(fds[0], out, out_size);
    close(fds[0]);
    int ws;
    if (waitpid(pid, &ws, 0) != pid || !WIFEXITED(ws) || WEXITSTATUS(ws) != 0 ||
        got != (ssize_t)out_size)
        tm_bench_fail("a measuring child failed");
}

bool tm_bench_count_arg(int argc, char **argv, int *i, const char *name, int64_t *value)
{
    if (strcmp(argv[*i], name) != 0 || *i + 1 >= argc)
        return false;
    /* The library links nothing of the service's: strtoll, whole text. */
    char *end = NULL;
    errno = 0;
    long long v = strtoll(argv[*i + 1], &end, 10);
    if (errno || end == argv[*i + 1] || *end || v < 1 || v > INT32_MAX)
        return false;
    *value = v;
    ++*i;
    return true;
}

bool tm_bench_window_arg(int argc, char **argv, int *i, bool *sessions)
{
    if (strcmp(argv[*i], "--window") != 0 || *i + 1 >= argc)
        return false;
    const char *w = argv[*i + 1];
    if (strcmp(w, "session") != 0 && strcmp(w, "tumbling") != 0)
        return false;
    *sessions = strcmp(w, "session") == 0;
    ++*i;
    return true;
}

int tm_bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
