/*
 * num.h: integer helpers: parsing, saturating arithmetic, floor division.
 */
#ifndef TM_NUM_H
#define TM_NUM_H

#include <stdint.h>

/* Parses a whole decimal int64 (optional sign, no spaces). Returns 0 or
 * TM_EINVAL on junk or overflow. */
int tm_parse_i64(const char *s, int64_t *out);

/* Saturating int64 arithmetic: event times come from untrusted input, so
 * t + ttl or t - D must never wrap. */
int64_t tm_sat_add(int64_t a, int64_t b);
int64_t tm_sat_sub(int64_t a, int64_t b);

/* Floor division for a possibly negative numerator and positive d. */
int64_t tm_floor_div(int64_t n, int64_t d);

#endif
