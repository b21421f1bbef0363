/*
 * tidemark verify --push-gateway (service/cli/verify_push.h) against a
 * real HTTP server acting as the Pushgateway (tests/support/fake_http.h):
 * the method, the group's path and every line of the body, for a
 * successful run, a failed one and one that ended before its comparison;
 * a Pushgateway that refuses the push or cannot be reached is an error
 * message, and an https URL is refused before any run. The families are
 * those of deploy/METRICS.md's "verify (pushed)", and only those.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "fake_http.h"
#include "http_get.h"
#include "prom_text.h"
#include "verify_push.h"

static const tm_verify_summary SUMMARY = {
    .input_records = 6000,
    .late_records = 75,
    .output_records = 625,
    .dead_letters = 63,
    .windows = 561,
    .equal = 500,
    .explained = 59,
    .unexplained = 2,
};

/* A run over [2026-12-04T15:00Z, 16:00Z) ending at 16:21:30.5Z. */
static tm_verify_push_run a_run(const tm_verify_summary *s, bool success)
{
    return (tm_verify_push_run){.from_ms = 1796396400000,
                                .to_ms = 1796400000000,
                                .summary = s,
                                .input_complete = true,
                                .success = success,
                                .now_ms = 1796401290500};
}

/* The body's sample lines (not the # comments), each with its '\n'. */
static void samples(const char *body, tm_buf *out)
{
    for (const char *line = body; *line;) {
        size_t n = strcspn(line, "\n");
        if (line[0] != '#')
            tm_buf_append(out, line, n + (line[n] == '\n'));
        line += n + (line[n] == '\n');
    }
    tm_buf_putc(out, '\0');
}

/* Pushes run and returns the request the server received (owned by s). */
static const char *push(tm_fake_http *s, const char *prefix, const tm_verify_push_run *run)
{
    char url[128], err[512] = "";
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", tm_fake_http_port(s), prefix);
    cr_assert_eq(tm_verify_push(url, "orders-per-merchant", run, err, sizeof err), 0, "%s", err);
    const char *req = tm_fake_http_request(s, 0, 2000);
    cr_assert(req, "the Pushgateway got no request");
    return req;
}

Test(verify_push, a_successful_run_posts_every_figure_and_its_success)
{
    tm_fake_http *s = tm_fake_http_start(200, "", false);
    tm_verify_push_run run = a_run(&SUMMARY, true);
    const char *req = push(s, "/gateway/", &run);
    /* POST, so that a later failed run leaves this success's timestamp. */
    const char *line = "POST /gateway/metrics/job/tidemark_verify/application/orders-per-merchant "
                       "HTTP/1.1\r\n";
    cr_assert(strncmp(req, line, strlen(line)) == 0, "%s", req);
    cr_assert(strstr(req, "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"), "%s",
              req);
    const char *body = strstr(req, "\r\n\r\n") + 4;
    tm_buf got = {0};
    samples(body, &got);
    cr_assert_str_eq(got.data, "tidemark_verify_windows{verdict=\"equal\"} 500\n"
                               "tidemark_verify_windows{verdict=\"explained\"} 59\n"
                               "tidemark_verify_windows{verdict=\"unexplained\"} 2\n"
                               "tidemark_verify_windows{verdict=\"unjudged\"} 0\n"
                               "tidemark_verify_input_records 6000\n"
                               "tidemark_verify_late_records 75\n"
                               "tidemark_verify_output_records 625\n"
                               "tidemark_verify_dead_letters 63\n"
                               "tidemark_verify_input_complete 1\n"
                               "tidemark_verify_range_from_seconds 1796396400\n"
                               "tidemark_verify_range_to_seconds 1796400000\n"
                               "tidemark_verify_last_run_timestamp_seconds 1796401290.5\n"
                               "tidemark_verify_success 1\n"
                               "tidemark_verify_last_success_timestamp_seconds 1796401290.5\n");
    cr_assert(strstr(body, "# TYPE tidemark_verify_windows gauge\n"), "%s", body);
    cr_assert(strstr(body, "# HELP tidemark_verify_last_success_timestamp_seconds "), "%s", body);
    tm_buf_free(&got);
    tm_fake_http_stop(s);
}

Test(verify_push, every_family_is_documented_and_every_documented_one_pushed)
{
    tm_buf text = {0};
    tm_verify_push_run run = a_run(&SUMMARY, true);
    tm_verify_push_text(&text, &run);
    tm_prom_matches_doc(text.data, "deploy/METRICS.md", "## verify (pushed)\n", NULL);
    tm_buf_free(&text);
}

Test(verify_push, a_failed_run_pushes_no_success_timestamp)
{
    tm_fake_http *s = tm_fake_http_start(200, "", false);
    tm_verify_push_run run = a_run(&SUMMARY, false);
    run.input_complete = false;
    const char *body = strstr(push(s, "", &run), "\r\n\r\n") + 4;
    cr_assert(strstr(body, "\ntidemark_verify_windows{verdict=\"unexplained\"} 2\n"), "%s", body);
    cr_assert(strstr(body, "\ntidemark_verify_input_complete 0\n"), "%s", body);
    cr_assert(strstr(body, "\ntidemark_verify_success 0\n"), "%s", body);
    cr_assert(strstr(body, "\ntidemark_verify_last_run_timestamp_seconds 1796401290.5\n"), "%s",
              body);
    cr_assert_null(strstr(body, "last_success"), "%s", body);
    tm_fake_http_stop(s);
}

Test(verify_push, a_run_without_a_comparison_pushes_only_its_time_and_failure)
{
    tm_fake_http *s = tm_fake_http_start(200, "", false);
    tm_verify_push_run run = a_run(NULL, false);
    const char *req = push(s, "", &run);
    cr_assert(
        strncmp(req, "POST /metrics/job/tidemark_verify/application/orders-per-merchant ", 66) == 0,
        "%s", req);
    tm_buf got = {0};
    samples(strstr(req, "\r\n\r\n") + 4, &got);
    cr_assert_str_eq(got.data, "tidemark_verify_last_run_timestamp_seconds 1796401290.5\n"
                               "tidemark_verify_success 0\n");
    tm_buf_free(&got);
    tm_fake_http_stop(s);
}

Test(verify_push, a_refusing_or_absent_pushgateway_is_an_error_message)
{
    tm_fake_http *s = tm_fake_http_start(400, "pushed metrics are invalid or inconsistent", false);
    char url[128], err[512] = "";
    snprintf(url, sizeof url, "http://127.0.0.1:%d", tm_fake_http_port(s));
    tm_verify_push_run run = a_run(&SUMMARY, true);
    cr_assert_eq(tm_verify_push(url, "app", &run, err, sizeof err), TM_EIO);
    cr_assert(strstr(err, "400") && strstr(err, "pushed metrics are invalid"), "%s", err);
    tm_fake_http_stop(s);

    snprintf(url, sizeof url, "http://127.0.0.1:%d", tm_test_free_port());
    cr_assert_eq(tm_verify_push(url, "app", &run, err, sizeof err), TM_EIO);
    cr_assert(strstr(err, "Connection refused"), "%s", err);
}

Test(verify_push, https_is_refused_before_the_run)
{
    char err[512] = "";
    cr_assert_eq(tm_verify_push_check_url("https://pushgateway:9091", err, sizeof err), TM_EINVAL);
    cr_assert(strstr(err, "https is not supported"), "%s", err);
    cr_assert_eq(tm_verify_push_check_url("http://pushgateway.monitoring:9091", err, sizeof err),
                 0);
}
