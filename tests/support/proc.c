/*
 * proc.c: see proc.h.
 */
#include "proc.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

enum { MAX_TRACKED = 64, WAIT_STEP_MS = 5 };

/* Children spawned and not yet reaped. */
static pid_t tracked[MAX_TRACKED];
static bool atexit_installed;

int64_t tm_test_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void tm_test_sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static void track(pid_t pid)
{
    for (size_t i = 0; i < MAX_TRACKED; i++) {
        if (tracked[i] == 0) {
            tracked[i] = pid;
            return;
        }
    }
    kill(pid, SIGKILL);
    cr_assert_fail("more than %d tracked child processes", MAX_TRACKED);
}

static void untrack(pid_t pid)
{
    for (size_t i = 0; i < MAX_TRACKED; i++)
        if (tracked[i] == pid)
            tracked[i] = 0;
}

static bool is_tracked(pid_t pid)
{
    for (size_t i = 0; i < MAX_TRACKED; i++)
        if (tracked[i] == pid)
            return true;
    return false;
}

static void kill_all_at_exit(void)
{
    tm_proc_kill_all();
}

static void set_cloexec(int fd)
{
    int flags = fcntl(fd, F_GETFD);
    cr_assert(flags >= 0 && fcntl(fd, F_SETFD, flags | FD_CLOEXEC) == 0, "fcntl: %s",
              strerror(errno));
}

/* A pipe whose two ends are close-on-exec (the child gets a dup2 copy). */
static void cloexec_pipe(int fds[2])
{
    cr_assert_eq(pipe(fds), 0, "pipe: %s", strerror(errno));
    set_cloexec(fds[0]);
    set_cloexec(fds[1]);
}

char **tm_proc_child_env(void)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **envp = calloc(n + 1, sizeof *envp);
    cr_assert(envp, "out of memory");
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "TIDEMARK_", 9) != 0)
            envp[m++] = environ[i];
    return envp;
}

pid_t tm_proc_spawn(char *const argv[], const tm_proc_io *io)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    int in[2] = {-1, -1}, out[2] = {-1, -1};
    pid_t pid;
    sigset_t none, defaults;

    if (!atexit_installed) {
        atexit(kill_all_at_exit);
        atexit_installed = true;
    }
    cr_assert_eq(posix_spawn_file_actions_init(&fa), 0);
    if (io && io->stdin_fd) {
        cloexec_pipe(in);
        posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
    } else {
        posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    }
    if (io && io->log_path)
        posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, io->log_path,
                                         O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (io && io->stdout_fd) {
        cloexec_pipe(out);
        posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
    }
    if (io && io->log_path) {
        if (io->stdout_fd)
            posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, io->log_path,
                                             O_WRONLY | O_CREAT | O_APPEND, 0644);
        else
            posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
    }

    /* The child starts with no blocked signals and default dispositions for
     * the ones tests send, whatever the test runner set up. */
    cr_assert_eq(posix_spawnattr_init(&attr), 0);
    sigemptyset(&none);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGTERM);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGPIPE);
    sigaddset(&defaults, SIGCHLD);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

    char **child_env = io && io->envp ? NULL : tm_proc_child_env();
    int rc = posix_spawn(&pid, argv[0], &fa, &attr, argv, child_env ? child_env : io->envp);
    free(child_env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (in[0] >= 0)
        close(in[0]);
    if (out[1] >= 0)
        close(out[1]);
    if (rc != 0) {
        if (in[1] >= 0)
            close(in[1]);
        if (out[0] >= 0)
            close(out[0]);
        cr_assert_fail("cannot spawn %s: %s", argv[0], strerror(rc));
    }
    track(pid);
    if (io && io->stdin_fd)
        *io->stdin_fd = in[1];
    if (io && io->stdout_fd)
        *io->stdout_fd = out[0];
    return pid;
}

bool tm_proc_exited(pid_t pid, int *status)
{
    int st = 0;
    if (!is_tracked(pid)) {
        if (status)
            *status = 0;
        return true;
    }
    pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == 0)
        return false;
    untrack(pid);
    if (status)
        *status = r == pid ? st : 0;
    return true;
}

bool tm_proc_wait(pid_t pid, int64_t timeout_ms, int *status)
{
    int64_t deadline = tm_test_now_ms() + timeout_ms;
    for (;;) {
        if (tm_proc_exited(pid, status))
            return true;
        if (tm_test_now_ms() >= deadline)
            return false;
        tm_test_sleep_ms(WAIT_STEP_MS);
    }
}

bool tm_proc_signal_wait(pid_t pid, int sig, int64_t timeout_ms, int *status)
{
    if (!is_tracked(pid)) {
        if (status)
            *status = 0;
        return true;
    }
    kill(pid, sig);
    if (tm_proc_wait(pid, timeout_ms, status))
        return true;
    tm_proc_kill(pid);
    if (status)
        *status = -1;
    return false;
}

void tm_proc_kill(pid_t pid)
{
    int st;
    if (!is_tracked(pid))
        return;
    kill(pid, SIGKILL);
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    untrack(pid);
}

void tm_proc_kill_all(void)
{
    for (size_t i = 0; i < MAX_TRACKED; i++)
        if (tracked[i] != 0)
            tm_proc_kill(tracked[i]);
}

const char *tm_proc_status_str(int status)
{
    static char buf[64];
    if (status < 0)
        snprintf(buf, sizeof buf, "did not exit in time (killed)");
    else if (WIFEXITED(status))
        snprintf(buf, sizeof buf, "exit %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, sizeof buf, "signal %d", WTERMSIG(status));
    else
        snprintf(buf, sizeof buf, "status %d", status);
    return buf;
}
