/*
 * stop_flag.h: how a stop request (SIGTERM) reaches loops and threads.
 */
#ifndef TM_STOP_FLAG_H
#define TM_STOP_FLAG_H

#include <stdatomic.h>

/* A stop request (SIGTERM): set by a signal handler, read by the service
 * loop and by restore worker threads. A lock-free atomic may be written
 * from a signal handler (C11 7.14.1.1) and, unlike volatile
 * sig_atomic_t, read from other threads without a data race. */
typedef atomic_int tm_stop_flag;
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "tm_stop_flag must be lock-free");

#endif
