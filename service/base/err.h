/*
 * err.h: error codes and error text.
 *
 * Errors are negative ints from one X-macro table; 0 is success. A message
 * reaches the caller through an (errstr, errlen) pair, filled by tm_seterr.
 */
#ifndef TM_ERR_H
#define TM_ERR_H

#include <stdarg.h>
#include <stddef.h>

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

#endif
