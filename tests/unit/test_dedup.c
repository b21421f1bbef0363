/*
 * Unit tests of dedup.c: holding, release at exactly W == expiry, renewal,
 * reclaiming by bucket, and the two key kinds.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "dedup.h"

Test(dedup, held_until_w_reaches_expiry)
{
    tm_dedup d;
    tm_dedup_init(&d, 10);
    tm_dedup_hash h = tm_dedup_hash_of("a", 1, false, 0);
    tm_dedup_hold(&d, h, 100, 0);
    cr_assert(tm_dedup_holds(&d, h, 0));
    cr_assert(tm_dedup_holds(&d, h, 99), "W = expiry - 1 holds it");
    cr_assert_not(tm_dedup_holds(&d, h, 100), "W = expiry releases it");
    tm_dedup_destroy(&d);
}

Test(dedup, memory_reclaimed_when_w_passes_the_whole_bucket)
{
    tm_dedup d;
    tm_dedup_init(&d, 10);
    tm_dedup_hold(&d, tm_dedup_hash_of("a", 1, false, 0), 100, 0); /* bucket [100, 110) */
    tm_dedup_hold(&d, tm_dedup_hash_of("b", 1, false, 0), 105, 0);
    tm_dedup_hold(&d, tm_dedup_hash_of("c", 1, false, 0), 110, 0); /* bucket [110, 120) */
    cr_assert_eq(tm_dedup_expire(&d, 108), 0, "bucket [100,110) is not wholly past");
    cr_assert_eq(tm_dedup_size(&d), 3);
    cr_assert_eq(tm_dedup_expire(&d, 109), 2);
    cr_assert_eq(tm_dedup_size(&d), 1);
    cr_assert(tm_dedup_holds(&d, tm_dedup_hash_of("c", 1, false, 0), 109));
    cr_assert_eq(tm_dedup_expire(&d, 1000), 1);
    cr_assert_eq(tm_dedup_size(&d), 0);
    tm_dedup_destroy(&d);
}

Test(dedup, an_expired_entry_not_yet_reclaimed_is_renewed)
{
    tm_dedup d;
    tm_dedup_init(&d, 1000);
    tm_dedup_hash h = tm_dedup_hash_of("a", 1, false, 0);
    tm_dedup_hold(&d, h, 100, 0);
    cr_assert_not(tm_dedup_holds(&d, h, 150));
    tm_dedup_hold(&d, h, 2500, 150); /* renewed in bucket [2000, 3000) */
    cr_assert_eq(tm_dedup_size(&d), 1);
    /* Sweeping the old bucket must not drop the renewed entry. */
    cr_assert_eq(tm_dedup_expire(&d, 1999), 0);
    cr_assert(tm_dedup_holds(&d, h, 1999));
    cr_assert_not(tm_dedup_holds(&d, h, 2500));
    cr_assert_eq(tm_dedup_expire(&d, 2999), 1);
    tm_dedup_destroy(&d);
}

Test(dedup, negative_and_extreme_expiries)
{
    tm_dedup d;
    tm_dedup_init(&d, 7);
    tm_dedup_hash a = tm_dedup_hash_of("a", 1, false, 0), b = tm_dedup_hash_of("b", 1, false, 0);
    tm_dedup_hold(&d, a, -15, INT64_MIN);
    tm_dedup_hold(&d, b, INT64_MAX, INT64_MIN);
    cr_assert(tm_dedup_holds(&d, a, -16));
    cr_assert_not(tm_dedup_holds(&d, a, -15));
    cr_assert_eq(tm_dedup_expire(&d, -16), 0, "bucket [-21, -14) is not wholly past");
    cr_assert_eq(tm_dedup_expire(&d, -15), 1);
    cr_assert_eq(tm_dedup_expire(&d, INT64_MAX - 1), 0);
    cr_assert(tm_dedup_holds(&d, b, INT64_MAX - 1));
    tm_dedup_destroy(&d);
}

/* The bucket of INT64_MIN + 1 starts below INT64_MIN when the bucket width
 * does not divide INT64_MIN: its last ms must not overflow (issue 9). */
Test(dedup, the_lowest_bucket_is_reclaimed)
{
    tm_dedup d;
    tm_dedup_init(&d, 3);
    tm_dedup_hash a = tm_dedup_hash_of("a", 1, false, 0);
    tm_dedup_restore(&d, a, INT64_MIN + 1);
    cr_assert_eq(tm_dedup_expire(&d, INT64_MIN), 0, "INT64_MIN + 1 is not past");
    cr_assert(tm_dedup_holds(&d, a, INT64_MIN));
    cr_assert_eq(tm_dedup_expire(&d, INT64_MIN + 1), 1, "its bucket ends at INT64_MIN + 1");
    cr_assert_eq(tm_dedup_size(&d), 0);
    tm_dedup_destroy(&d);
}

Test(dedup, id_and_event_time_key_distinguishes_times)
{
    tm_dedup_hash a = tm_dedup_hash_of("x", 1, true, 5);
    tm_dedup_hash b = tm_dedup_hash_of("x", 1, true, 6);
    tm_dedup_hash c = tm_dedup_hash_of("x", 1, false, 5);
    tm_dedup_hash d = tm_dedup_hash_of("x", 1, false, 6);
    cr_assert(a.lo != b.lo || a.hi != b.hi);
    cr_assert(c.lo == d.lo && c.hi == d.hi, "an id-only key ignores the time");
}

Test(dedup, many_keys_churn)
{
    /* Exercises table growth, backward-shift deletion and many buckets. */
    tm_dedup d;
    tm_dedup_init(&d, 64);
    char id[32];
    int64_t w = INT64_MIN;
    for (int i = 0; i < 20000; i++) {
        snprintf(id, sizeof id, "id-%d", i);
        tm_dedup_hash h = tm_dedup_hash_of(id, strlen(id), false, 0);
        cr_assert_not(tm_dedup_holds(&d, h, w));
        tm_dedup_hold(&d, h, i + 5000, w);
        if (i % 100 == 99) {
            w = i;
            tm_dedup_expire(&d, w);
        }
    }
    for (int i = 0; i < 20000; i++) {
        snprintf(id, sizeof id, "id-%d", i);
        bool held = tm_dedup_holds(&d, tm_dedup_hash_of(id, strlen(id), false, 0), w);
        cr_assert_eq(held, i + 5000 > 19999, "id %d held=%d", i, held);
    }
    /* Reclaimed up to the last bucket wholly <= 19999, i.e. [19904, 19968). */
    cr_assert_eq(tm_dedup_size(&d), 20000 - (19968 - 5000), "size %zu", tm_dedup_size(&d));
    tm_dedup_expire(&d, INT64_MAX);
    cr_assert_eq(tm_dedup_size(&d), 0);
    tm_dedup_destroy(&d);
}
