/*
 * emissions.h: helpers for tests that drive an engine directly: a config
 * from JSON text, and a sink that records every emission as one line of
 * text ("R<partition> <key> <value or null>", "L<partition> <offset>
 * <watermark>", "D<partition> <offset> <reason>"; the partition of the
 * task that emitted it), so that runs compare as string arrays.
 */
#ifndef TM_TEST_EMISSIONS_H
#define TM_TEST_EMISSIONS_H

#include <stddef.h>

#include "config.h"
#include "engine.h"

/* Loads a config from JSON text; a failure fails the test. */
tm_config *tm_test_config(const char *json);

typedef struct tm_test_lines {
    const tm_config *cfg; /* for the output values */
    char **v;
    size_t n;
} tm_test_lines;

/* A sink appending to l. */
tm_engine_sink tm_test_lines_sink(tm_test_lines *l);

void tm_test_lines_free(tm_test_lines *l);

#endif
