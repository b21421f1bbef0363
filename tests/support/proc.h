/*
 * proc.h: child processes of a test (the test broker, `tidemark run`),
 * spawned with posix_spawn and tracked, so that a failing test still kills
 * them: tm_proc_kill_all() from a Criterion .fini, and from an atexit
 * handler that the first spawn installs.
 *
 * Every wait is bounded: a deadline, polled every few milliseconds.
 * Functions that cannot go on (spawn failed) fail the test with a Criterion
 * assertion. Used from the test's main thread only.
 */
#ifndef TM_TEST_PROC_H
#define TM_TEST_PROC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Monotonic milliseconds, and a sleep. */
int64_t tm_test_now_ms(void);
void tm_test_sleep_ms(int64_t ms);

/* How a spawned child's standard streams are set up. */
typedef struct tm_proc_io {
    const char *log_path; /* stdout and stderr appended here; NULL: inherited */
    int *stdin_fd;        /* non-NULL: stdin is a pipe, our end written here */
    int *stdout_fd;       /* non-NULL: stdout is a pipe, our end written here */
    char *const *envp;    /* the environment; NULL: tm_proc_child_env() */
} tm_proc_io;

/*
 * The environment for a child: ours without the TIDEMARK_* variables.
 * tidemark refuses TIDEMARK_* names that are not its options, and ctest,
 * tests/run.sh and the eos tests set several (TIDEMARK_BINARY, ...) for
 * the tests themselves. A NULL-terminated array pointing into environ;
 * free the array, not the strings.
 */
char **tm_proc_child_env(void);

/*
 * Spawns argv[0] (a path) with argv (NULL-terminated) and the environment
 * io->envp (default: tm_proc_child_env()). Without a stdin pipe, stdin is /dev/null. Our pipe ends
 * are close-on-exec (no other child inherits them); the caller owns them. Tracks the child until it
 * is reaped. Returns its pid; fails the test if it cannot spawn.
 */
pid_t tm_proc_spawn(char *const argv[], const tm_proc_io *io);

/* Reaps pid if it has exited: returns true and writes its wait status. */
bool tm_proc_exited(pid_t pid, int *status);

/* Waits up to timeout_ms for pid to exit: true and its wait status, or
 * false (still running). */
bool tm_proc_wait(pid_t pid, int64_t timeout_ms, int *status);

/* Sends sig, then waits up to timeout_ms; on timeout SIGKILLs and reaps
 * it and returns false. *status: the wait status. */
bool tm_proc_signal_wait(pid_t pid, int sig, int64_t timeout_ms, int *status);

/* SIGKILL, and reap. No-op for a pid already reaped. */
void tm_proc_kill(pid_t pid);

/* SIGKILLs and reaps every tracked child still running (teardown). */
void tm_proc_kill_all(void);

/* "exit 3", "signal 9": a wait status in words (static buffer). */
const char *tm_proc_status_str(int status);

#endif
