/*
 * verify_push.h: `tidemark verify --push-gateway URL`: the figures of a
 * run, pushed to a Prometheus Pushgateway in the text format, so that a
 * verify run on a schedule (a CronJob, which Prometheus cannot scrape)
 * feeds the alerts (deploy/METRICS.md "verify (pushed)").
 *
 * The group is URL/metrics/job/tidemark_verify/application/<application_id>
 * (application_id is [A-Za-z0-9._-], config.h: safe in a URL path as it
 * is). The push is a POST, which replaces only the families it carries:
 * tidemark_verify_last_success_timestamp_seconds is pushed by successful
 * runs only, and a failed run, which does not carry it, leaves the last
 * success's in place, so `time() - tidemark_verify_last_success_timestamp_seconds`
 * is the age of the last success (a PUT would replace the whole group and
 * drop it at the first failure). A run that ended before its comparison
 * (a Kafka or spill error) pushes only its time and success 0: the
 * figures and range left in the group stay those of the last comparison
 * that completed, a consistent set.
 */
#ifndef TM_VERIFY_PUSH_H
#define TM_VERIFY_PUSH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "verify.h"

/* What one run of verify did. */
typedef struct tm_verify_push_run {
    int64_t from_ms, to_ms;           /* its range */
    const tm_verify_summary *summary; /* its figures; NULL: no comparison completed */
    bool input_complete;              /* with summary */
    bool success;                     /* it exits 0 */
    int64_t now_ms;                   /* its end (wall clock) */
} tm_verify_push_run;

/* Appends the Prometheus text (format 0.0.4) of run to b. */
void tm_verify_push_text(tm_buf *b, const tm_verify_push_run *run);

/* Checks the --push-gateway URL before the run (plain http:// only):
 * 0, or TM_EINVAL with a message. */
int tm_verify_push_check_url(const char *url, char *errstr, size_t errlen);

/* POSTs run's text to the group of application_id under url. Returns 0,
 * or TM_EINVAL (a bad URL) or TM_EIO (the Pushgateway unreachable, slow
 * or refusing) with a message. Borrows everything. */
int tm_verify_push(const char *url, const char *application_id, const tm_verify_push_run *run,
                   char *errstr, size_t errlen);

#endif
