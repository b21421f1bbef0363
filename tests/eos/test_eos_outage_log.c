/*
 * What `tidemark run` logs during a broker outage: an idle instance (its
 * input processed, its tasks restored) loses its only broker for 4 s (less
 * than the group session: no rebalance, nothing blocks the loop). The
 * lines saying that all brokers are down must be logged while the outage
 * lasts (not when a client is next used, nor at shutdown, with those
 * times), and once per client (the consumer, the producer and the
 * changelog reader), not once per reconnection attempt.
 */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdint.h>

#include "eos_harness.h"
#include "log_lines.h"

TestSuite(eos, .fini = tm_eos_teardown);

Test(eos, an_outage_is_logged_while_it_lasts_and_once_per_client)
{
    tm_eos *e = tm_eos_setup(&(tm_eos_options){.name = "outage-log", .brokers = 1});
    tm_eos_write_input(e, 500, 1);
    tm_eos_load_input(e);
    tm_eos_instance *a = tm_eos_instance_add(e, "a");
    /* The harness's 6 s session is not enough: after the 4 s outage the
     * clients reconnect with librdkafka's growing backoff (up to 10 s),
     * and under load the session timed out before the first heartbeat got
     * through, which is a rebalance this test is not about. */
    a->sets[0] = "kafka.session.timeout.ms=30000";
    tm_eos_start(e, a);
    tm_eos_wait_done(e, 120000);

    int64_t down = tm_log_lines_now_ms();
    tm_test_broker_command(e->broker, "down 1");
    tm_eos_sleep(e, 4000);
    tm_test_broker_command(e->broker, "up 1");
    /* A line queued during the outage would come out from now on. */
    int64_t up = tm_log_lines_now_ms() + 1000;
    tm_eos_sleep(e, 3000);
    tm_eos_stop(e, a);

    bool within;
    int n = tm_log_lines_count(a->log_path, "kafka", "brokers are down", down, up, &within);
    cr_expect(within, "a line of the outage was logged after it (see above)");
    cr_expect_eq(n, 3, "%d lines of all brokers down in %s", n, a->log_path);
    tm_eos_pass(e);
}
