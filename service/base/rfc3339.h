/*
 * rfc3339.h: RFC 3339 date-time text -> milliseconds since the Unix epoch.
 *
 * Accepted, exactly (RFC 3339 section 5.6 "date-time"):
 *
 *   YYYY-MM-DD <sep> hh:mm:ss [.fraction] <offset>
 *
 * - YYYY 0000-9999 in the proleptic Gregorian calendar; MM 01-12; DD valid
 *   for that month, with Feb 29 only in leap years (divisible by 4, except
 *   centuries not divisible by 400).
 * - <sep> is 'T', 't' or a single space (the section 5.6 note allows lower
 *   case and a space).
 * - hh 00-23, mm 00-59, ss 00-59, or 60 for a leap second (below).
 * - fraction: one or more digits, any number; truncated to milliseconds
 *   (".1239" -> 123 ms). Truncating the written digits always moves toward
 *   the past, so for times before 1970 it is floor, as for later ones:
 *   1969-12-31T23:59:59.5009Z -> -500.
 * - <offset>: 'Z', 'z', or +hh:mm / -hh:mm with hh 00-23 and mm 00-59
 *   ("-00:00" is UTC). An offset is required.
 * - A leap second (ss = 60) is accepted only where one can occur, at
 *   23:59:60 UTC once the offset is applied, and is read as 23:59:59 with
 *   its fraction kept (Unix time has no leap seconds; java.time's
 *   ISO_INSTANT does the same).
 *
 * Nothing else: no missing seconds, no "+0200", no surrounding spaces.
 */
#ifndef TM_RFC3339_H
#define TM_RFC3339_H

#include <stddef.h>
#include <stdint.h>

/* Parses s[0..n) (no NUL needed; s may be NULL when n is 0). Returns 0 and
 * writes *out_ms, or TM_EPARSE and leaves *out_ms untouched. */
int tm_rfc3339_parse(const char *s, size_t n, int64_t *out_ms);

/* Days from 1970-01-01 to year-month-day (proleptic Gregorian; negative
 * before 1970). Exposed for tests. */
int64_t tm_days_from_civil(int64_t year, int month, int day);

#endif
