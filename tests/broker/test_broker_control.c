/*
 * Tests of the launcher's control channel (README, "The launcher"):
 * `down <id>` / `up <id>` / `fail <api> <code> <count>` on its standard
 * input, one `ok` a command, errors for anything else, and end of file on standard input leaving
 * the cluster serving. Through tests/support/broker.h, as the exactly-once tests use it. Every wait
 * is bounded.
 */
#include <criterion/criterion.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "broker.h"
#include "proc.h"

TestSuite(launcher_control, .fini = tm_proc_kill_all);

static void count_delivered(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    if (!m->err)
        ++*(int *)opaque;
}

/* Produces one record to each of partitions 0..n-1 of "t" with a plain
 * producer whose records time out after timeout_ms; returns how many
 * were acknowledged. */
static int produce_all(const char *bootstrap, int n, int timeout_ms)
{
    char errstr[256], tmo[32];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    snprintf(tmo, sizeof tmo, "%d", timeout_ms);
    cr_assert(rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, errstr, sizeof errstr) ==
                      RD_KAFKA_CONF_OK &&
                  rd_kafka_conf_set(conf, "message.timeout.ms", tmo, errstr, sizeof errstr) ==
                      RD_KAFKA_CONF_OK &&
                  rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof errstr) ==
                      RD_KAFKA_CONF_OK,
              "%s", errstr);
    int delivered = 0;
    rd_kafka_conf_set_dr_msg_cb(conf, count_delivered);
    rd_kafka_conf_set_opaque(conf, &delivered);
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    cr_assert(p, "%s", errstr);
    for (int i = 0; i < n; i++)
        cr_assert_eq(rd_kafka_producev(p, RD_KAFKA_V_TOPIC("t"), RD_KAFKA_V_PARTITION(i),
                                       RD_KAFKA_V_VALUE("v", 1),
                                       RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_flush(p, timeout_ms + 5000);
    rd_kafka_destroy(p);
    return delivered;
}

static tm_test_broker *start(void)
{
    static const char *const args[] = {"--brokers", "3", "--topic", "t:3", NULL};
    return tm_test_broker_start(args, NULL);
}

Test(launcher_control, down_and_up_reply_ok)
{
    tm_test_broker *b = start();
    const char *bs = tm_test_broker_bootstrap(b);
    cr_assert_eq(produce_all(bs, 3, 5000), 3);

    /* All three down: nothing can be written, the records time out. */
    tm_test_broker_command(b, "down 1");
    tm_test_broker_command(b, "down 2");
    tm_test_broker_command(b, "down 3");
    tm_test_broker_command(b, "down 3"); /* already down: still ok */
    cr_assert_eq(produce_all(bs, 3, 1500), 0, "records written with every broker down");

    tm_test_broker_command(b, "up 1");
    tm_test_broker_command(b, "up 2");
    tm_test_broker_command(b, "up 3");
    cr_assert_eq(produce_all(bs, 3, 10000), 3, "records not written after the brokers came up");

    int status = tm_test_broker_stop(b);
    cr_assert(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s",
              tm_proc_status_str(status));
}

Test(launcher_control, bad_commands_get_errors)
{
    static const char *const bad[] = {"down 0",       "down 4",        "up x",         "down",
                                      "sideways 1",   "up 1 2",        "down -1",      "",
                                      "   ",          "fail 2 29",     "fail x 29 1",  "fail 2 0 1",
                                      "fail 2 29 17", "fail 100 29 1", "fail 2 29 1 1"};
    tm_test_broker *b = start();
    char reply[256];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tm_test_broker_command_reply(b, bad[i], reply, sizeof reply);
        cr_expect(strncmp(reply, "error: ", 7) == 0, "'%s': reply '%s'", bad[i], reply);
    }
    /* Still in step: the next command gets its own reply. */
    tm_test_broker_command(b, "up 2");
    tm_test_broker_stop(b);
}

Test(launcher_control, eof_on_stdin_keeps_serving)
{
    tm_test_broker *b = start();
    tm_test_broker_close_control(b);
    tm_test_sleep_ms(500);
    int status;
    cr_assert(!tm_proc_exited(tm_test_broker_pid(b), &status), "exited on EOF: %s",
              tm_proc_status_str(status));
    cr_assert_eq(produce_all(tm_test_broker_bootstrap(b), 3, 10000), 3);
    status = tm_test_broker_stop(b);
    cr_assert(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s",
              tm_proc_status_str(status));
}

/* `fail 0 29 1`: the next Produce request (API 0), and only that one, is
 * answered TOPIC_AUTHORIZATION_FAILED (29), which a producer does not
 * retry: records are refused, then all go through again. */
Test(launcher_control, fail_answers_the_next_requests_with_an_error)
{
    tm_test_broker *b = start();
    const char *bs = tm_test_broker_bootstrap(b);
    cr_assert_eq(produce_all(bs, 3, 10000), 3, "before the command");
    tm_test_broker_command(b, "fail 0 29 1");
    /* librdkafka fails the topic's queued records with the refused
     * request's: one record or all three, depending on what was in flight. */
    int n = produce_all(bs, 3, 10000);
    cr_expect_lt(n, 3, "a produce request must fail (%d of 3 acknowledged)", n);
    n = produce_all(bs, 3, 10000);
    cr_expect_eq(n, 3, "and only one (%d of 3 acknowledged)", n);
    tm_test_broker_stop(b);
}
