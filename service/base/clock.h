/*
 * clock.h: processing time, deadlines and sleeping.
 */
#ifndef TM_CLOCK_H
#define TM_CLOCK_H

#include <stdint.h>

/* The wall clock (CLOCK_REALTIME) in Unix milliseconds: processing time. */
int64_t tm_wall_clock_ms(void);

/* A monotonic clock (CLOCK_MONOTONIC) in milliseconds: for deadlines and
 * durations, which must not jump with the wall clock. */
int64_t tm_monotonic_ms(void);

/* Sleeps ms milliseconds (a signal may end it early). */
void tm_sleep_ms(int64_t ms);

#endif
