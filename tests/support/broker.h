/*
 * broker.h: the test broker (tests/broker/README.md) as a child process of
 * a test: started with its arguments, its BOOTSTRAP= line read, control
 * commands (`down <id>`, `up <id>`) sent on its standard input, stopped
 * with SIGTERM. The process is tracked by proc.h, so a failing test's
 * teardown (tm_proc_kill_all) kills it too.
 */
#ifndef TM_TEST_BROKER_H
#define TM_TEST_BROKER_H

#include <sys/types.h>

typedef struct tm_test_broker tm_test_broker;

/*
 * Starts the launcher ($TIDEMARK_TEST_BROKER) with args (NULL-terminated,
 * e.g. {"--brokers", "3", "--topic", "orders:4", NULL}); its standard error
 * goes to log_path (NULL: inherited). Waits (bounded) for the BOOTSTRAP=
 * line. Returns a handle the caller owns (tm_test_broker_stop); fails the
 * test on any problem.
 */
tm_test_broker *tm_test_broker_start(const char *const *args, const char *log_path);

/* The bootstrap servers ("127.0.0.1:port,..."); borrowed from b. */
const char *tm_test_broker_bootstrap(const tm_test_broker *b);

pid_t tm_test_broker_pid(const tm_test_broker *b);

/*
 * Sends one control command line (without newline, e.g. "down 2") and
 * waits (bounded) for its reply line; fails the test unless it is "ok".
 */
void tm_test_broker_command(tm_test_broker *b, const char *command);

/* Like tm_test_broker_command, but returns the reply (into reply, without
 * newline) instead of checking it. */
void tm_test_broker_command_reply(tm_test_broker *b, const char *command, char *reply,
                                  size_t reply_len);

/* Closes our end of its standard input (end of file for the control
 * channel; the broker serves on). Later commands fail the test. */
void tm_test_broker_close_control(tm_test_broker *b);

/*
 * SIGTERM, waits (bounded) for the exit and frees b; returns the wait
 * status (-1: it had to be killed). NULL is a no-op returning 0.
 */
int tm_test_broker_stop(tm_test_broker *b);

#endif
