/*
 * err.c: see err.h.
 */
#include "err.h"

#include <stdio.h>
#include <stdlib.h>

const char *tm_strerror(int err)
{
    switch (err) {
    case TM_OK:
        return "success";
#define TM_ERR_CASE(name, msg)                                                                     \
    case TM_E##name:                                                                               \
        return msg;
        TM_ERRNO_MAP(TM_ERR_CASE)
#undef TM_ERR_CASE
    default:
        return "unknown error";
    }
}

void tm_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("tidemark: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

void tm_vformat(char *buf, size_t len, const char *fmt, va_list ap)
{
    if (buf && len > 0)
        vsnprintf(buf, len, fmt, ap);
}

int tm_seterr(char *errstr, size_t errlen, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tm_vformat(errstr, errlen, fmt, ap);
    va_end(ap);
    return err;
}
