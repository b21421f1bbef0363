/*
 * test_log_limit.c: the repeated-line limiter (service/base/log_limit.c),
 * with the clock passed in by the test.
 */
#include "log_limit.h"

#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define WINDOW 10000

static tm_log_limit limiter = {.window_ms = WINDOW};

static bool admit(const char *key, int64_t now, uint64_t *suppressed)
{
    return tm_log_limit_admit(&limiter, key, now, suppressed);
}

Test(log_limit, repeats_within_the_window_are_counted_and_reported_after_it)
{
    uint64_t n = 99;
    cr_expect(admit("all brokers down", 1000, &n));
    cr_expect_eq(n, 0);
    for (int i = 0; i < 581; i++)
        cr_expect_not(admit("all brokers down", 1000 + i % 3, &n));
    cr_expect_not(admit("all brokers down", 1000 + WINDOW - 1, &n));
    cr_expect(admit("all brokers down", 1000 + WINDOW, &n));
    cr_expect_eq(n, 582, "suppressed %llu", (unsigned long long)n);
    /* The count starts over from the line just logged. */
    cr_expect_not(admit("all brokers down", 1000 + WINDOW + 5, &n));
    cr_expect(admit("all brokers down", 1000 + 3 * WINDOW, &n));
    cr_expect_eq(n, 1);
}

Test(log_limit, different_lines_are_limited_apart)
{
    uint64_t n;
    cr_expect(admit("a", 0, &n));
    cr_expect(admit("b", 1, &n));
    cr_expect_not(admit("a", 2, &n));
    cr_expect_not(admit("b", 3, &n));
    cr_expect(admit("c", 4, &n));
    cr_expect_eq(n, 0);
}

/* "line aa", "line ab", ...: distinct without digits. */
static const char *line(int i)
{
    static char key[16];
    snprintf(key, sizeof key, "line %c%c", 'a' + i / 26, 'a' + i % 26);
    return key;
}

Test(log_limit, a_new_line_takes_the_slot_of_the_line_seen_longest_ago)
{
    uint64_t n;
    for (int i = 0; i < TM_LOG_LIMIT_SLOTS; i++)
        cr_expect(admit(line(i), i, &n));
    /* line 0 keeps repeating: seen last, though logged first. */
    cr_expect_not(admit(line(0), 100, &n), "every slot still holds its line");
    cr_expect(admit("one more", 101, &n));
    /* line 1 was seen longest ago: forgotten, so logged again at once;
     * the others, line 0 first, are still limited. */
    cr_expect(admit(line(1), 102, &n));
    cr_expect_eq(n, 0);
    cr_expect_not(admit(line(0), 103, &n));
    cr_expect_not(admit(line(TM_LOG_LIMIT_SLOTS - 1), 104, &n));
}

Test(log_limit, long_lines_are_compared_on_their_prefix)
{
    char a[TM_LOG_LIMIT_KEY_MAX + 40], b[TM_LOG_LIMIT_KEY_MAX + 40];
    memset(a, 'x', sizeof a - 1);
    a[sizeof a - 1] = '\0';
    memcpy(b, a, sizeof b);
    b[sizeof b - 2] = 'y';
    uint64_t n;
    cr_expect(admit(a, 0, &n));
    cr_expect_not(admit(b, 1, &n));
}

Test(log_limit, lines_that_differ_only_in_numbers_are_one_kind)
{
    uint64_t n;
    cr_expect(admit("producer-1: 1/1 brokers are down", 0, &n));
    cr_expect_not(admit("producer-1: 2/2 brokers are down", 1, &n));
    cr_expect_not(admit("producer-1: 0/12 brokers are down", 2, &n));
    cr_expect(admit("consumer-1: 1/1 brokers are down", 3, &n), "another client, another kind");
    cr_expect(admit("producer-1: 2/2 brokers are down", WINDOW, &n));
    cr_expect_eq(n, 2);
}
