/*
 * histogram.c: see histogram.h.
 */
#include "histogram.h"

#include <assert.h>
#include <string.h>

#define BOUNDS(name, ...)                                                                          \
    static const int64_t name##_le[] = {__VA_ARGS__};                                              \
    const tm_histogram_bounds name = {name##_le, sizeof name##_le / sizeof name##_le[0]}

/* Event-time lag spans sub-second live traffic to a phone syncing days
 * later; the top buckets tell the late ones apart. */
BOUNDS(tm_event_time_lag_bounds, 100, 500, 1000, 5000, 15000, 60000, 300000, 900000, 3600000,
       21600000, 86400000, 259200000);
/* Around the default commit interval of 100 ms; above 10 s the
 * transaction is close to timing out anyway. */
BOUNDS(tm_commit_duration_bounds, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000);
BOUNDS(tm_restore_duration_bounds, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000,
       300000);

void tm_histogram_init(tm_histogram *h, const tm_histogram_bounds *bounds)
{
    assert(bounds->n <= TM_HISTOGRAM_MAX_BOUNDS);
    memset(h, 0, sizeof *h);
    h->bounds = bounds;
}

void tm_histogram_observe(tm_histogram *h, int64_t v)
{
    size_t i = 0;
    while (i < h->bounds->n && v > h->bounds->le[i])
        i++;
    h->buckets[i]++;
    h->count++;
    h->sum += (double)v;
}

void tm_histogram_add(tm_histogram *dst, const tm_histogram *src)
{
    assert(dst->bounds == src->bounds);
    for (size_t i = 0; i <= dst->bounds->n; i++)
        dst->buckets[i] += src->buckets[i];
    dst->count += src->count;
    dst->sum += src->sum;
}
