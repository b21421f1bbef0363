/*
 * verify_cli.h: `tidemark verify` and `tidemark backfill` (SEMANTICS 12)
 * as the exactly-once tests run them (tm_eos_cli, --json), their reports
 * read back; the output topic read as a table (the latest record of each
 * key); and a range of windows that every task's watermark has expired,
 * which backfill takes without --force.
 *
 * Functions that cannot go on fail the test with a Criterion assertion.
 */
#ifndef TM_TEST_VERIFY_CLI_H
#define TM_TEST_VERIFY_CLI_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "eos_harness.h"

/* A set of strings, small: linear search. Zeroed: empty. */
typedef struct tm_vcli_strset {
    char **v;
    size_t n;
} tm_vcli_strset;

bool tm_vcli_strset_has(const tm_vcli_strset *s, const char *x);
/* Copies x in, unless s holds it already. */
void tm_vcli_strset_add(tm_vcli_strset *s, const char *x);
void tm_vcli_strset_free(tm_vcli_strset *s);

/* The next line of f parsed as JSON (the caller deletes it), or NULL at
 * the end; *line and *cap as getline's. Fails the test on a line that is
 * not JSON. */
cJSON *tm_vcli_read_line(FILE *f, char **line, size_t *cap);

/* The number member name of the JSON object text json. */
int64_t tm_vcli_i64(const char *json, const char *name);

enum { TM_VCLI_MAX_KEYS = 20000 };

/* The output table: the latest record of each key, with its partition. */
typedef struct tm_vcli_table {
    char *key[TM_VCLI_MAX_KEYS];
    char *payload[TM_VCLI_MAX_KEYS]; /* NULL: tombstone */
    int partition[TM_VCLI_MAX_KEYS];
    size_t n;
} tm_vcli_table;

/* Reads a dump of the output topic (tm_kafka_io_dump) at path into t
 * (zeroed before the first load; a later load updates it). */
void tm_vcli_table_load(tm_vcli_table *t, const char *path);
void tm_vcli_table_free(tm_vcli_table *t);

/*
 * The range [*from, *to) of a table: from the earliest window start, to
 * the windows every task's watermark has expired. Each task's watermark
 * has passed the last window end it fired, so, with the lowest of those
 * ends over e's partitions, windows ending an allowed lateness earlier
 * are expired everywhere (rounded down to a multiple of window_ms, the
 * bound of a tumbling window of that size). Fails the test unless
 * from < to.
 */
void tm_vcli_table_range(const tm_eos *e, const tm_vcli_table *t, int64_t window_ms, int64_t *from,
                         int64_t *to);

/* The pipeline's allowed lateness, from e's configuration file. */
int64_t tm_vcli_lateness(const tm_eos *e);

/* What one verify run reported. */
typedef struct tm_vcli_report {
    int exit_code;
    int64_t windows, equal, explained, unexplained;
    int64_t unjudged; /* sessions of a key the range cuts (verify.h) */
    tm_vcli_strset explained_windows, unexplained_windows; /* "<key>@<start>" */
    size_t late_named;
    bool input_complete;
    int64_t input_records; /* read from the input topics */
    /* The progress line's count of offsets to read and the spill buckets
     * picked for them (-1: no such line, --buckets given). */
    int64_t span_records, buckets;
} tm_vcli_report;

/*
 * Runs `tidemark verify --config <e's> --from --to --json` (output in
 * <dir>/log_name), reads its report into *r and prints its figures.
 * exact_late: every explained window must name a late record (not so
 * with sessions, which live splits where the batch merges).
 */
void tm_vcli_verify(tm_eos *e, const char *log_name, int64_t from, int64_t to, bool exact_late,
                    tm_vcli_report *r);
void tm_vcli_report_free(tm_vcli_report *r);

/* What one backfill run reported. */
typedef struct tm_vcli_backfill_report {
    int exit_code;
    int64_t windows, equal, unjudged, revisions, tombstones;
    bool written;
    size_t records_printed; /* --dry-run's lines */
    char log[TM_EOS_PATH + 64];
} tm_vcli_backfill_report;

/* Runs `tidemark backfill --config <e's> --from --to --json [options]`
 * (options: up to two more arguments, NULL-ended; NULL: none), reads its
 * summary into *r and prints it. */
void tm_vcli_backfill(tm_eos *e, const char *log_name, int64_t from, int64_t to,
                      const char *const *options, tm_vcli_backfill_report *r);

#endif
