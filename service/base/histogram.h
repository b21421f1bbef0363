/*
 * histogram.h: a histogram with fixed bucket bounds, as Prometheus exposes
 * them (cumulative "le" buckets, a sum and a count).
 *
 * Samples are int64 in the unit of the bounds (milliseconds here). The
 * bounds are static arrays shared by every histogram of one kind, so
 * histograms of a kind can be added together.
 */
#ifndef TM_HISTOGRAM_H
#define TM_HISTOGRAM_H

#include <stddef.h>
#include <stdint.h>

enum { TM_HISTOGRAM_MAX_BOUNDS = 16 };

typedef struct tm_histogram_bounds {
    const int64_t *le; /* ascending upper bounds, inclusive; +Inf is implied */
    size_t n;          /* <= TM_HISTOGRAM_MAX_BOUNDS */
} tm_histogram_bounds;

typedef struct tm_histogram {
    const tm_histogram_bounds *bounds;
    uint64_t buckets[TM_HISTOGRAM_MAX_BOUNDS + 1]; /* per bucket, not cumulative; last: +Inf */
    uint64_t count;
    double sum;
} tm_histogram;

/* The kinds tidemark records, in milliseconds. */
extern const tm_histogram_bounds tm_event_time_lag_bounds;   /* 100 ms .. 3 days */
extern const tm_histogram_bounds tm_commit_duration_bounds;  /* 5 ms .. 10 s */
extern const tm_histogram_bounds tm_restore_duration_bounds; /* 50 ms .. 5 min */

void tm_histogram_init(tm_histogram *h, const tm_histogram_bounds *bounds);
void tm_histogram_observe(tm_histogram *h, int64_t v);
/* dst += src; both of the same bounds. */
void tm_histogram_add(tm_histogram *dst, const tm_histogram *src);

#endif
