/*
 * log_lines.h: reading tidemark's log (log.h: one JSON object a line,
 * starting with its "time") back in a test: which lines of a module
 * contain some text, and whether they were logged within a time range.
 */
#ifndef TM_TEST_LOG_LINES_H
#define TM_TEST_LOG_LINES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The wall clock in Unix milliseconds. */
int64_t tm_log_lines_now_ms(void);

/* The lines of module in the log at path that contain needle: returns how
 * many, and *within: whether all of them were logged in [from_ms, to_ms)
 * (each one outside is printed as a Criterion warning). Fails the test if
 * the file cannot be read. */
int tm_log_lines_count(const char *path, const char *module, const char *needle, int64_t from_ms,
                       int64_t to_ms, bool *within);

#endif
