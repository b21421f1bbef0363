/*
 * clock.c: see clock.h.
 */
#include "clock.h"

#include <time.h>

static int64_t clock_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t tm_wall_clock_ms(void)
{
    return clock_ms(CLOCK_REALTIME);
}

int64_t tm_monotonic_ms(void)
{
    return clock_ms(CLOCK_MONOTONIC);
}

void tm_sleep_ms(int64_t ms)
{
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}
