/*
 * prom_text.h: reading the Prometheus text format in tests: sums of the
 * samples of one metric, and a structural check of a whole exposition.
 */
#ifndef TM_TEST_PROM_TEXT_H
#define TM_TEST_PROM_TEXT_H

#include <stddef.h>

/* The sum of the samples of metric `name` (exactly: name_bucket is
 * another metric) whose label set contains `labels` as a substring (NULL
 * or "": every sample), and how many there were in *count (may be NULL). */
double tm_prom_sum(const char *text, const char *name, const char *labels, size_t *count);

/* Checks the exposition line by line: every sample is `name[{labels}]
 * value` with a number for value, and belongs to a family declared before
 * it by "# HELP" and "# TYPE" lines (histogram samples: _bucket, _sum,
 * _count). Fails the test (Criterion assertion) naming the first bad
 * line. Returns the number of families. */
size_t tm_prom_check_format(const char *text);

/* Whether a family of that name is declared ("# TYPE name ..."). */
int tm_prom_has_family(const char *text, const char *name);

/* The exposition text against the reference tables of the Markdown file
 * doc (relative to $TIDEMARK_SOURCE_DIR): every metric of a row "|
 * `tidemark_...` |" between the heading lines start (NULL: the file's
 * start; not included) and stop (NULL: its end) is a family of text, and
 * text has no other family. Fails the test otherwise. */
void tm_prom_matches_doc(const char *text, const char *doc, const char *start, const char *stop);

#endif
