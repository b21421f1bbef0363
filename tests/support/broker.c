/*
 * broker.c: see broker.h.
 */
#include "broker.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"

/* Starting a cluster, and answering a command, take milliseconds; these
 * are bounds for a loaded machine. */
enum { START_TIMEOUT_MS = 20000, COMMAND_TIMEOUT_MS = 10000, STOP_TIMEOUT_MS = 20000 };

struct tm_test_broker {
    pid_t pid;
    int in_fd;  /* its standard input: commands */
    int out_fd; /* its standard output: BOOTSTRAP=, then replies */
    char bootstrap[1024];
};

/* Reads one line from fd (without newline) before the deadline, a byte at
 * a time so that nothing after the line is consumed. */
static void read_line(tm_test_broker *b, char *buf, size_t len, int64_t timeout_ms,
                      const char *what)
{
    size_t n = 0;
    int64_t deadline = tm_test_now_ms() + timeout_ms;
    for (;;) {
        int64_t left = deadline - tm_test_now_ms();
        cr_assert(left > 0, "test broker: no %s within %lld ms", what, (long long)timeout_ms);
        struct pollfd pfd = {.fd = b->out_fd, .events = POLLIN};
        int r = poll(&pfd, 1, left > 100 ? 100 : (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        cr_assert(r >= 0, "test broker: poll: %s", strerror(errno));
        if (r == 0)
            continue;
        char c;
        ssize_t got = read(b->out_fd, &c, 1);
        if (got < 0 && errno == EINTR)
            continue;
        cr_assert(got == 1, "test broker: standard output closed before the %s (%s)", what,
                  got == 0 ? "EOF" : strerror(errno));
        if (c == '\n')
            break;
        cr_assert(n + 1 < len, "test broker: %s longer than %zu bytes", what, len);
        buf[n++] = c;
    }
    buf[n] = '\0';
}

tm_test_broker *tm_test_broker_start(const char *const *args, const char *log_path)
{
    const char *bin = getenv("TIDEMARK_TEST_BROKER");
    cr_assert(bin && *bin, "TIDEMARK_TEST_BROKER is not set (ctest sets it)");
    size_t n = 0;
    while (args && args[n])
        n++;
    char **argv = calloc(n + 2, sizeof *argv);
    cr_assert(argv);
    argv[0] = (char *)bin;
    for (size_t i = 0; i < n; i++)
        argv[i + 1] = (char *)args[i];

    tm_test_broker *b = calloc(1, sizeof *b);
    cr_assert(b);
    const tm_proc_io io = {.log_path = log_path, .stdin_fd = &b->in_fd, .stdout_fd = &b->out_fd};
    b->pid = tm_proc_spawn(argv, &io);
    free(argv);

    char line[sizeof b->bootstrap + 16];
    read_line(b, line, sizeof line, START_TIMEOUT_MS, "BOOTSTRAP= line");
    cr_assert(strncmp(line, "BOOTSTRAP=", 10) == 0 && line[10],
              "test broker: first line is not BOOTSTRAP=...: %s", line);
    size_t len = strlen(line + 10);
    cr_assert(len < sizeof b->bootstrap, "test broker: bootstrap list too long");
    memcpy(b->bootstrap, line + 10, len + 1);
    return b;
}

const char *tm_test_broker_bootstrap(const tm_test_broker *b)
{
    return b->bootstrap;
}

pid_t tm_test_broker_pid(const tm_test_broker *b)
{
    return b->pid;
}

void tm_test_broker_command_reply(tm_test_broker *b, const char *command, char *reply,
                                  size_t reply_len)
{
    char line[256];
    cr_assert(b->in_fd >= 0, "test broker: the control channel is closed");
    int len = snprintf(line, sizeof line, "%s\n", command);
    cr_assert(len > 0 && (size_t)len < sizeof line, "test broker: command too long");
    /* The pipe never holds more than a few commands: one write is enough,
     * and SIGPIPE (the broker died) is turned into an error below. */
    void (*old)(int) = signal(SIGPIPE, SIG_IGN);
    ssize_t w = write(b->in_fd, line, (size_t)len);
    signal(SIGPIPE, old);
    cr_assert(w == len, "test broker: cannot send '%s': %s", command,
              w < 0 ? strerror(errno) : "short write");
    read_line(b, reply, reply_len, COMMAND_TIMEOUT_MS, "command reply");
}

void tm_test_broker_command(tm_test_broker *b, const char *command)
{
    char reply[256];
    tm_test_broker_command_reply(b, command, reply, sizeof reply);
    cr_assert_str_eq(reply, "ok", "test broker: '%s': %s", command, reply);
}

void tm_test_broker_close_control(tm_test_broker *b)
{
    if (b->in_fd >= 0)
        close(b->in_fd);
    b->in_fd = -1;
}

int tm_test_broker_stop(tm_test_broker *b)
{
    int status = 0;
    if (!b)
        return 0;
    if (!tm_proc_signal_wait(b->pid, SIGTERM, STOP_TIMEOUT_MS, &status))
        status = -1;
    if (b->in_fd >= 0)
        close(b->in_fd);
    close(b->out_fd);
    free(b);
    return status;
}
