/*
 * verify_push.c: see verify_push.h.
 */
#include "verify_push.h"

#include <stdio.h>
#include <string.h>

#include "err.h"
#include "http_client.h"
#include "prom.h"

/* A Pushgateway answers in milliseconds; the connect bound covers a host
 * that drops packets, the whole one a gateway that accepts and stalls. A
 * run that took an hour can spare half a minute to report it. */
#define CONNECT_TIMEOUT_MS 5000
#define TIMEOUT_MS 30000

static void gauge(tm_buf *b, const char *name, const char *help, double value)
{
    tm_prom_family(b, name, "gauge", help);
    tm_prom_sample(b, name, NULL, 0, value);
}

static void figures(tm_buf *b, const tm_verify_push_run *r)
{
    const tm_verify_summary *s = r->summary;
    static const char windows[] = "tidemark_verify_windows";
    tm_prom_family(b, windows, "gauge",
                   "Windows inside the range of the last completed verify run, by verdict.");
    const struct {
        const char *verdict;
        uint64_t n;
    } verdicts[] = {{"equal", s->equal},
                    {"explained", s->explained},
                    {"unexplained", s->unexplained},
                    {"unjudged", s->unjudged}};
    for (size_t i = 0; i < sizeof verdicts / sizeof *verdicts; i++)
        tm_prom_sample(b, windows, &(tm_prom_label){"verdict", verdicts[i].verdict}, 1,
                       (double)verdicts[i].n);
    gauge(b, "tidemark_verify_input_records", "Input records the last completed verify run read.",
          (double)s->input_records);
    gauge(b, "tidemark_verify_late_records",
          "Late-topic records the last completed verify run read.", (double)s->late_records);
    gauge(b, "tidemark_verify_output_records",
          "Output-topic records the last completed verify run read.", (double)s->output_records);
    gauge(b, "tidemark_verify_dead_letters",
          "Input records the last completed verify run could not decode.", (double)s->dead_letters);
    gauge(b, "tidemark_verify_input_complete",
          "1 when the input topics still held the whole range of the last completed run.",
          r->input_complete ? 1 : 0);
    gauge(b, "tidemark_verify_range_from_seconds",
          "Start of the range of the last completed verify run (event time, Unix seconds).",
          (double)r->from_ms / 1000);
    gauge(b, "tidemark_verify_range_to_seconds",
          "End of the range of the last completed verify run (event time, Unix seconds).",
          (double)r->to_ms / 1000);
}

void tm_verify_push_text(tm_buf *b, const tm_verify_push_run *r)
{
    if (r->summary)
        figures(b, r);
    double now = (double)r->now_ms / 1000;
    gauge(b, "tidemark_verify_last_run_timestamp_seconds",
          "When the last verify run ended (Unix seconds).", now);
    gauge(b, "tidemark_verify_success", "1 when the last verify run exited 0.", r->success ? 1 : 0);
    if (r->success)
        gauge(b, "tidemark_verify_last_success_timestamp_seconds",
              "When the last verify run that exited 0 ended (Unix seconds).", now);
}

int tm_verify_push_check_url(const char *url, char *errstr, size_t errlen)
{
    tm_http_url u;
    return tm_http_url_parse(url, &u, errstr, errlen);
}

int tm_verify_push(const char *url, const char *application_id, const tm_verify_push_run *run,
                   char *errstr, size_t errlen)
{
    tm_http_url u;
    int rc = tm_http_url_parse(url, &u, errstr, errlen);
    if (rc < 0)
        return rc;
    size_t used = strlen(u.path);
    int n = snprintf(u.path + used, sizeof u.path - used,
                     "/metrics/job/tidemark_verify/application/%s", application_id);
    if (n < 0 || (size_t)n >= sizeof u.path - used)
        return tm_seterr(errstr, errlen, TM_EINVAL, "'%s': the path is too long", url);
    tm_buf body = {0};
    tm_verify_push_text(&body, run);
    tm_http_client_request req = {
        .method = "POST",
        .url = &u,
        .content_type = TM_PROM_CONTENT_TYPE,
        .body = body.data,
        .body_len = body.len,
        .connect_timeout_ms = CONNECT_TIMEOUT_MS,
        .timeout_ms = TIMEOUT_MS,
    };
    rc = tm_http_send(&req, errstr, errlen);
    tm_buf_free(&body);
    return rc;
}
