/*
 * Histograms and the Prometheus text writer: bucket boundaries, cumulative
 * buckets, scaling to seconds, label escaping, and a whole exposition
 * read back by the test parser.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "buf.h"
#include "histogram.h"
#include "prom.h"
#include "prom_text.h"

static const int64_t le3[] = {10, 100, 1000};
static const tm_histogram_bounds three = {le3, 3};

Test(histogram, bounds_are_inclusive_and_the_last_bucket_is_open)
{
    tm_histogram h;
    tm_histogram_init(&h, &three);
    const int64_t samples[] = {-5, 10, 11, 100, 1000, 1001, INT64_MAX};
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++)
        tm_histogram_observe(&h, samples[i]);
    cr_assert_eq(h.buckets[0], 2); /* -5, 10 */
    cr_assert_eq(h.buckets[1], 2); /* 11, 100 */
    cr_assert_eq(h.buckets[2], 1); /* 1000 */
    cr_assert_eq(h.buckets[3], 2); /* 1001, max */
    cr_assert_eq(h.count, 7);
}

Test(histogram, add_sums_every_field)
{
    tm_histogram a, b;
    tm_histogram_init(&a, &three);
    tm_histogram_init(&b, &three);
    tm_histogram_observe(&a, 5);
    tm_histogram_observe(&b, 50);
    tm_histogram_observe(&b, 5000);
    tm_histogram_add(&a, &b);
    cr_assert_eq(a.count, 3);
    cr_assert_float_eq(a.sum, 5055.0, 1e-9);
    cr_assert_eq(a.buckets[0] + a.buckets[1] + a.buckets[3], 3);
}

Test(prom, histogram_is_cumulative_and_scaled)
{
    tm_histogram h;
    tm_histogram_init(&h, &three);
    tm_histogram_observe(&h, 5);
    tm_histogram_observe(&h, 500);
    tm_histogram_observe(&h, 5000);
    tm_buf b = {0};
    tm_prom_family(&b, "x_seconds", "histogram", "X.");
    tm_prom_histogram(&b, "x_seconds", &(tm_prom_label){"partition", "3"}, 1, &h, 0.001);
    const char *want = "# HELP x_seconds X.\n"
                       "# TYPE x_seconds histogram\n"
                       "x_seconds_bucket{partition=\"3\",le=\"0.01\"} 1\n"
                       "x_seconds_bucket{partition=\"3\",le=\"0.1\"} 1\n"
                       "x_seconds_bucket{partition=\"3\",le=\"1\"} 2\n"
                       "x_seconds_bucket{partition=\"3\",le=\"+Inf\"} 3\n"
                       "x_seconds_sum{partition=\"3\"} 5.505\n"
                       "x_seconds_count{partition=\"3\"} 3\n";
    cr_assert_str_eq(b.data, want);
    cr_assert_eq(tm_prom_check_format(b.data), 1);
    tm_buf_free(&b);
}

Test(prom, label_values_and_help_are_escaped)
{
    tm_buf b = {0};
    tm_prom_family(&b, "y_total", "counter", "a \\ b\nc \"q\"");
    tm_prom_sample(&b, "y_total", &(tm_prom_label){"topic", "we\"ird\\\n"}, 1, 2);
    tm_prom_sample(&b, "y_total", NULL, 0, 0.25);
    cr_assert_str_eq(b.data, "# HELP y_total a \\\\ b\\nc \"q\"\n"
                             "# TYPE y_total counter\n"
                             "y_total{topic=\"we\\\"ird\\\\\\n\"} 2\n"
                             "y_total 0.25\n");
    cr_assert_float_eq(tm_prom_sum(b.data, "y_total", NULL, NULL), 2.25, 1e-12);
    tm_buf_free(&b);
}
