/*
 * verify_run.h: `tidemark verify` (SEMANTICS 12): reads the input topics,
 * the late topic and the output topic with a plain consumer (no group
 * membership: it runs beside live instances), compares the output read as
 * a table with the batch results of every window inside [from, to)
 * (wire/verify.h), and prints the figures and each divergent window.
 */
#ifndef TM_VERIFY_RUN_H
#define TM_VERIFY_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "kafka.h"
#include "verify.h"

typedef struct tm_verify_options {
    const char *command; /* "verify" or "backfill": progress lines name it */
    int64_t from, to;    /* epoch ms, from < to */
    bool json;           /* one JSON report on out, else text for people */
    FILE *out;           /* the report */
    FILE *progress;      /* progress lines (NULL: none) */
    const char *tmp_dir; /* where the spill files go */
    size_t buckets;      /* spill buckets (0: from the input's size) */
    /* Where a completed comparison's figures go (NULL: not wanted), for
     * --push-gateway: the summary and whether the input held the range. */
    tm_verify_summary *summary;
    bool *input_complete;
} tm_verify_options;

/*
 * Runs the verification. Returns 0 with *ok true when no window is
 * unexplained and the input topics still held the whole range, false
 * otherwise; or a negative tm_err with a message (TM_ECONFIG: the
 * configuration does not fit the cluster). Borrows cfg.
 */
int tm_verify_run(const tm_config *cfg, const tm_verify_options *opt, bool *ok, char *errstr,
                  size_t errlen);

/*
 * The reading verify and backfill share: opens a verification of cfg over
 * [opt->from, opt->to) and reads into it, with k (tm_kafka_open_admin),
 * the late output, the input topics and the output topic, from where
 * events of the range can start (tm_verify_read_from), in the order
 * verify.h wants. *truncated: the input topics no longer hold the whole
 * range (retention). Returns 0 and *out (tm_verify_finish compares it),
 * or a negative tm_err with a message.
 */
int tm_verify_read(tm_verify **out, tm_kafka *k, const tm_config *cfg, const tm_verify_options *opt,
                   bool *truncated, char *errstr, size_t errlen);

/* tm_verify_finish's progress with a tm_verify_options as its ctx: a line
 * per bucket compared on opt->progress. */
void tm_verify_progress(void *ctx, size_t done, size_t n);

#endif
