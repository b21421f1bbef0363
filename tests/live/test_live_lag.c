/*
 * Consumer lag from the assignment on (issue 9): with records waiting in
 * every input partition and a consumer that cannot fetch yet (the broker
 * answers its first Fetch requests with NOT_LEADER_OR_FOLLOWER, and it
 * backs off for seconds after each), `tidemark_consumer_lag_records` has a
 * series for every assigned partition before any record is consumed,
 * equal to the records waiting there; and once everything is processed,
 * 0 for each. Read over real HTTP from a real `tidemark run`.
 */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "eos_harness.h"
#include "http_get.h"
#include "proc.h"
#include "prom_text.h"

TestSuite(live, .fini = tm_eos_teardown);

enum { PARTITIONS = 4 };

/* The lag of every input partition in one scrape (-1: no series), the
 * series there are, and the records consumed so far; false while the
 * server does not answer yet. */
static bool scrape_lags(int port, double lag[PARTITIONS], size_t *series, double *consumed)
{
    tm_buf h = {0}, m = {0};
    *series = 0;
    *consumed = 0;
    int status = tm_http_request(port, "GET", "/metrics", &h, &m);
    if (status < 0)
        return false;
    cr_assert_eq(status, 200);
    for (int p = 0; p < PARTITIONS; p++) {
        char labels[64];
        size_t n = 0;
        snprintf(labels, sizeof labels, "topic=\"orders\",partition=\"%d\"", p);
        double v = tm_prom_sum(m.data, "tidemark_consumer_lag_records", labels, &n);
        lag[p] = n ? v : -1;
        *series += n;
    }
    *consumed = tm_prom_sum(m.data, "tidemark_records_consumed_total", NULL, NULL);
    tm_buf_free(&h);
    tm_buf_free(&m);
    return true;
}

Test(live, consumer_lag_of_every_partition_from_the_assignment_on, .timeout = 240)
{
    tm_eos *e =
        tm_eos_setup(&(tm_eos_options){.name = "lag", .brokers = 1, .partitions = PARTITIONS});
    tm_eos_write_input(e, 3000, 5);
    tm_eos_load_input(e);
    int64_t end[PARTITIONS];
    cr_assert_eq(tm_kafka_probe_end_offsets(e->probe, "orders", PARTITIONS, end, NULL), 0);
    /* API 1 = Fetch, error 6 = NOT_LEADER_OR_FOLLOWER: retried after
     * fetch.error.backoff.ms. */
    tm_test_broker_command(e->broker, "fail 1 6 8");
    tm_eos_instance *a = tm_eos_instance_add(e, "a");
    a->metrics_port = tm_test_free_port();
    a->sets[0] = "kafka.fetch.error.backoff.ms=3000";
    tm_eos_start(e, a);

    double lag[PARTITIONS];
    size_t series = 0;
    double consumed;
    int64_t deadline = tm_test_now_ms() + 60000;
    for (;;) {
        scrape_lags(a->metrics_port, lag, &series, &consumed);
        if (series == PARTITIONS) {
            cr_assert_eq(consumed, 0, "records consumed before the lag was first seen");
            break;
        }
        cr_assert_eq(consumed, 0, "records consumed, and %zu of %d partitions have a lag", series,
                     PARTITIONS);
        cr_assert_lt(tm_test_now_ms(), deadline, "%zu of %d partitions have a lag", series,
                     PARTITIONS);
        tm_eos_sleep(e, 50);
    }
    for (int p = 0; p < PARTITIONS; p++)
        cr_assert_eq(lag[p], (double)end[p], "partition %d: lag %.0f, %lld records waiting", p,
                     lag[p], (long long)end[p]);

    tm_eos_wait_done(e, 120000);
    deadline = tm_test_now_ms() + 10000;
    double total;
    do {
        cr_assert_lt(tm_test_now_ms(), deadline, "lag not 0 after the input was processed");
        tm_eos_sleep(e, 100);
        cr_assert(scrape_lags(a->metrics_port, lag, &series, &consumed));
        total = lag[0] + lag[1] + lag[2] + lag[3];
    } while (series != PARTITIONS || total != 0);
    tm_eos_stop(e, a);
    tm_eos_pass(e);
}
