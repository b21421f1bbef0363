/*
 * prom.h: writing the Prometheus text exposition format (version 0.0.4):
 * one "# HELP" and "# TYPE" header per family, then its samples.
 *
 * Label values and help texts are escaped as the format requires; names
 * are the caller's constants and are not checked.
 */
#ifndef TM_PROM_H
#define TM_PROM_H

#include <stddef.h>

#include "buf.h"
#include "histogram.h"

#define TM_PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

typedef struct tm_prom_label {
    const char *name;
    const char *value;
} tm_prom_label;

/* The header of a family; type is "counter", "gauge" or "histogram". */
void tm_prom_family(tm_buf *b, const char *name, const char *type, const char *help);

/* One sample: name{labels} value. */
void tm_prom_sample(tm_buf *b, const char *name, const tm_prom_label *labels, size_t n_labels,
                    double value);

/* The samples of one histogram: name_bucket{labels,le=...} (cumulative),
 * name_sum and name_count. Bounds and sum are multiplied by scale (0.001
 * turns milliseconds into the seconds Prometheus names use). */
void tm_prom_histogram(tm_buf *b, const char *name, const tm_prom_label *labels, size_t n_labels,
                       const tm_histogram *h, double scale);

#endif
