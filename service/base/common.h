/*
 * common.h: error codes, checked allocation and a growable text buffer.
 *
 * tidemark is a restartable service, not a library: an allocation failure
 * aborts the process (Kubernetes restarts it, the changelog restores state),
 * so callers never check allocation results.
 *
 * Errors are negative ints from one X-macro table; 0 is success.
 */
#ifndef TM_COMMON_H
#define TM_COMMON_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TM_VERSION "0.1.0"

/* A stop request (SIGTERM): set by a signal handler, read by the service
 * loop and by restore worker threads. A lock-free atomic may be written
 * from a signal handler (C11 7.14.1.1) and, unlike volatile
 * sig_atomic_t, read from other threads without a data race. */
typedef atomic_int tm_stop_flag;
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "tm_stop_flag must be lock-free");

#define TM_ERRNO_MAP(X)                                                                            \
    X(INVAL, "invalid argument")                                                                   \
    X(CONFIG, "invalid configuration")                                                             \
    X(IO, "input/output error")                                                                    \
    X(PARSE, "malformed input")                                                                    \
    X(NOTFOUND, "not found")                                                                       \
    X(STORE, "state store error")                                                                  \
    X(KAFKA, "kafka error")                                                                        \
    X(FATAL, "fatal error")                                                                        \
    X(STOPPED, "stopped on request")

typedef enum {
    TM_OK = 0,
#define TM_ERR_ENUM(name, msg) TM_E##name,
    TM_ERR_FIRST_ = -100,
    TM_ERRNO_MAP(TM_ERR_ENUM) /* TM_EINVAL, ... TM_ESTOPPED */
#undef TM_ERR_ENUM
    TM_ERR_LAST_
} tm_err;

/* Returns a static, human-readable message for a tm_err (or "unknown error"). */
const char *tm_strerror(int err);

/* Allocation that aborts on failure. The returned memory is owned by the
 * caller and released with free(). */
void *tm_xmalloc(size_t n);
void *tm_xcalloc(size_t count, size_t size);
void *tm_xrealloc(void *p, size_t n);
char *tm_xstrdup(const char *s);
/* A copy of the n bytes at p (NUL bytes included) with a NUL after them. */
char *tm_xmemdup0(const void *p, size_t n);

/* The growable array: returns ptr, an array of *cap elements of elem bytes,
 * reallocated if need be to hold at least need elements, *cap doubling
 * (from 16). Use as `v = tm_grow(v, &cap, n + 1, sizeof *v)` before
 * appending the element n. Aborts when out of memory, like tm_xrealloc. */
void *tm_grow(void *ptr, size_t *cap, size_t need, size_t elem);

/* Prints "tidemark: <message>" on stderr and aborts. For broken invariants
 * and exhausted memory only. */
__attribute__((noreturn, format(printf, 1, 2))) void tm_die(const char *fmt, ...);

/* vsnprintf into buf, when buf is non-NULL and len > 0: the one place that
 * fills a caller's message buffer. */
__attribute__((format(printf, 3, 0))) void tm_vformat(char *buf, size_t len, const char *fmt,
                                                      va_list ap);

/* Writes a formatted message into errstr (if non-NULL) and returns err:
 * the one way error text reaches a caller's errstr/errlen pair. */
__attribute__((format(printf, 4, 5))) int tm_seterr(char *errstr, size_t errlen, int err,
                                                    const char *fmt, ...);

/*
 * tm_buf: a growable byte buffer for building text (JSON output, /metrics).
 * Always NUL-terminated after the first append; len excludes the NUL.
 * A zero-initialised tm_buf is empty and valid.
 */
typedef struct tm_buf {
    char *data;
    size_t len;
    size_t cap;
} tm_buf;

void tm_buf_reserve(tm_buf *b, size_t extra);
void tm_buf_append(tm_buf *b, const void *data, size_t n);
void tm_buf_puts(tm_buf *b, const char *s);
void tm_buf_putc(tm_buf *b, char c);
__attribute__((format(printf, 2, 3))) void tm_buf_printf(tm_buf *b, const char *fmt, ...);
void tm_buf_put_i64(tm_buf *b, int64_t v);
/* Appends a decimal text that reads back as exactly v: integers without a
 * fraction, other values in the fewest of 15..17 significant digits (the
 * shortest form for every normal double). Non-finite values are written as
 * null, since JSON has no other spelling for them. */
void tm_buf_put_double(tm_buf *b, double v);
/* Appends s[0..n) as a JSON string literal, quotes included. Invalid UTF-8
 * bytes are copied through unchanged; control characters are escaped. */
void tm_buf_put_json_string(tm_buf *b, const char *s, size_t n);
void tm_buf_reset(tm_buf *b);
void tm_buf_free(tm_buf *b);

/* The next number of a xorshift64* sequence (*state: non-zero): small,
 * fast and the same for a seed; for workloads and tests, never for anything
 * that must be unpredictable. */
uint64_t tm_rand_next(uint64_t *state);

/* The wall clock (CLOCK_REALTIME) in Unix milliseconds: processing time. */
int64_t tm_wall_clock_ms(void);

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
