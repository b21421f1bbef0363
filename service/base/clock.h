/*
 * clock.h: processing time.
 */
#ifndef TM_CLOCK_H
#define TM_CLOCK_H

#include <stdint.h>

/* The wall clock (CLOCK_REALTIME) in Unix milliseconds: processing time. */
int64_t tm_wall_clock_ms(void);

#endif
