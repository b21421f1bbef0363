/*
 * `tidemark verify --last-closed-hour --push-gateway URL`, the binary end
 * to end: against the test broker's empty topics, verify picks the last
 * closed hour (verify_range.h, from the configuration's lateness and
 * out-of-orderness), compares (no window: exit 0) and POSTs its figures
 * to a real HTTP server acting as the Pushgateway; the pushed range is the
 * report's. A Pushgateway that answers 500 is reported on stderr and the
 * exit status stays the verdict's (0).
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "clock.h"
#include "config.h"
#include "eos_harness.h"
#include "fake_http.h"
#include "verify_range.h"

TestSuite(live, .fini = tm_eos_teardown);

/* The integer after "name": in the file at path (the JSON report). */
static int64_t report_value(const char *path, const char *name)
{
    FILE *f = fopen(path, "r");
    cr_assert(f);
    char *text = calloc(1, 1 << 20);
    size_t n = fread(text, 1, (1 << 20) - 1, f);
    fclose(f);
    text[n] = '\0';
    char key[64];
    snprintf(key, sizeof key, "\"%s\":", name);
    const char *at = strstr(text, key);
    cr_assert(at, "no %s in %s", key, path);
    int64_t v = strtoll(at + strlen(key), NULL, 10);
    free(text);
    return v;
}

/* Runs verify --last-closed-hour --json --push-gateway at gateway's port;
 * returns its exit code and its log path in log. */
static int run_verify(tm_eos *e, const char *log_name, const tm_fake_http *gateway, char *log,
                      size_t log_len)
{
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", tm_fake_http_port(gateway));
    const char *args[] = {
        "verify", "--config", e->config_path, "--last-closed-hour", "--json", "--push-gateway",
        url,      NULL};
    int status = tm_eos_cli(e, log_name, args, log, log_len);
    cr_assert(WIFEXITED(status), "verify did not exit");
    return WEXITSTATUS(status);
}

Test(live, verify_pushes_the_last_closed_hours_figures, .timeout = 180)
{
    tm_eos *e = tm_eos_setup(&(tm_eos_options){.name = "vpush", .brokers = 1, .partitions = 2});
    tm_config *cfg = NULL;
    char err[512], log[TM_EOS_PATH];
    char *const no_env[] = {NULL};
    cr_assert_eq(tm_config_load(&cfg, e->config_path, no_env, NULL, 0, err, sizeof err), 0, "%s",
                 err);

    tm_fake_http *gateway = tm_fake_http_start(200, "", false);
    int64_t before = tm_wall_clock_ms();
    cr_assert_eq(run_verify(e, "verify1.log", gateway, log, sizeof log), 0, "see %s", log);
    int64_t after = tm_wall_clock_ms();

    /* The range: the last closed hour at some instant of the run. */
    int64_t from = report_value(log, "from"), to = report_value(log, "to");
    int64_t from_lo, to_lo, from_hi, to_hi;
    tm_verify_last_closed_hour(before, cfg->allowed_lateness_ms, cfg->max_out_of_orderness_ms,
                               &from_lo, &to_lo);
    tm_verify_last_closed_hour(after, cfg->allowed_lateness_ms, cfg->max_out_of_orderness_ms,
                               &from_hi, &to_hi);
    cr_assert((from == from_lo && to == to_lo) || (from == from_hi && to == to_hi),
              "range [%" PRId64 ", %" PRId64 ")", from, to);
    cr_assert_eq(to - from, 3600000);

    const char *req = tm_fake_http_request(gateway, 0, 5000);
    cr_assert(req, "nothing pushed; see %s", log);
    char line[256];
    snprintf(line, sizeof line, "POST /metrics/job/tidemark_verify/application/%s HTTP/1.1\r\n",
             cfg->application_id);
    cr_assert(strncmp(req, line, strlen(line)) == 0, "%s", req);
    const char *const needles[] = {"\ntidemark_verify_windows{verdict=\"unexplained\"} 0\n",
                                   "\ntidemark_verify_input_complete 1\n",
                                   "\ntidemark_verify_success 1\n",
                                   "\ntidemark_verify_last_success_timestamp_seconds "};
    for (size_t i = 0; i < sizeof needles / sizeof *needles; i++)
        cr_assert(strstr(req, needles[i]), "no '%s' in %s", needles[i], req);
    char want[128];
    snprintf(want, sizeof want, "\ntidemark_verify_range_from_seconds %" PRId64 "\n", from / 1000);
    cr_assert(strstr(req, want), "no '%s' in %s", want, req);
    snprintf(want, sizeof want, "\ntidemark_verify_range_to_seconds %" PRId64 "\n", to / 1000);
    cr_assert(strstr(req, want), "no '%s' in %s", want, req);
    tm_fake_http_stop(gateway);

    /* A Pushgateway that fails: said on stderr, the verdict's exit 0 kept. */
    gateway = tm_fake_http_start(500, "storage full", false);
    cr_assert_eq(run_verify(e, "verify2.log", gateway, log, sizeof log), 0, "see %s", log);
    cr_assert(tm_fake_http_request(gateway, 0, 5000));
    cr_assert(tm_eos_file_contains(log, "tidemark verify: push to http://127.0.0.1:"), "see %s",
              log);
    cr_assert(tm_eos_file_contains(log, "500 Fake'") && tm_eos_file_contains(log, "storage full"),
              "see %s", log);
    tm_fake_http_stop(gateway);
    tm_config_free(cfg);
    tm_eos_pass(e);
}
