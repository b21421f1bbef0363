/*
 * Unit tests of dedup.c: holding, expiry at exactly W == expiry, and the
 * two key kinds.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "dedup.h"

Test(dedup, holds_until_w_reaches_expiry)
{
    tm_dedup d;
    tm_dedup_init(&d);
    tm_dedup_hash h = tm_dedup_hash_of("a", 1, false, 0);
    tm_dedup_hold(&d, h, 100);
    cr_assert(tm_dedup_holds(&d, h));
    cr_assert_eq(tm_dedup_expire(&d, 99), 0);
    cr_assert(tm_dedup_holds(&d, h), "W = expiry - 1 keeps the entry");
    cr_assert_eq(tm_dedup_expire(&d, 100), 1);
    cr_assert_not(tm_dedup_holds(&d, h), "W = expiry releases it");
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
    /* Exercises table growth and backward-shift deletion under churn. */
    tm_dedup d;
    tm_dedup_init(&d);
    char id[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(id, sizeof id, "id-%d", i);
        tm_dedup_hash h = tm_dedup_hash_of(id, strlen(id), false, 0);
        cr_assert_not(tm_dedup_holds(&d, h));
        tm_dedup_hold(&d, h, i);
        if (i % 100 == 99)
            tm_dedup_expire(&d, i - 5000);
    }
    for (int i = 0; i < 20000; i++) {
        snprintf(id, sizeof id, "id-%d", i);
        bool held = tm_dedup_holds(&d, tm_dedup_hash_of(id, strlen(id), false, 0));
        /* The last expiry ran at W = 19999 - 5000. */
        cr_assert_eq(held, i > 14999, "id %d held=%d", i, held);
    }
    cr_assert_eq(tm_dedup_expire(&d, 1 << 30), 5000);
    cr_assert_eq(tm_dedup_size(&d), 0);
    tm_dedup_destroy(&d);
}
