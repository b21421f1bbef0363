/*
 * log_limit.h: keeps a line repeated many times from flooding the log. The
 * first line of a kind is logged; repeats of it within a window after that
 * are only counted, and the first one after the window is logged again
 * with the count of those suppressed in between.
 *
 * A kind is its key (the text of the line, say) with every run of digits
 * taken as one digit: "1/1 brokers are down" and "2/2 brokers are down"
 * are one kind, as are lines that differ in a duration or a count (or in
 * the number of a client: "producer-1" and "producer-4"). The
 * limiter remembers TM_LOG_LIMIT_SLOTS kinds; a new kind takes the slot of
 * the kind seen longest ago, whose count of repeats is then never
 * reported. An outage brings a few dozen kinds (per client and broker). Keys longer than
 * TM_LOG_LIMIT_KEY_MAX - 1 bytes are compared on that prefix.
 *
 * The time is the caller's (tm_monotonic_ms() in the service; tests pass
 * their own). Not thread-safe: a caller on several threads locks around
 * tm_log_limit_admit.
 */
#ifndef TM_LOG_LIMIT_H
#define TM_LOG_LIMIT_H

#include <stdbool.h>
#include <stdint.h>

#define TM_LOG_LIMIT_SLOTS 64
#define TM_LOG_LIMIT_KEY_MAX 512

typedef struct tm_log_limit_slot {
    char key[TM_LOG_LIMIT_KEY_MAX]; /* "" marks a free slot */
    int64_t logged_ms;              /* when this kind was last logged */
    int64_t seen_ms;                /* when it last came, logged or not */
    uint64_t suppressed;            /* repeats since then */
} tm_log_limit_slot;

/* Zero-initialised plus a window: tm_log_limit l = {.window_ms = 10000}. */
typedef struct tm_log_limit {
    int64_t window_ms;
    tm_log_limit_slot slot[TM_LOG_LIMIT_SLOTS];
} tm_log_limit;

/* Whether a line of kind key, seen at now_ms, is to be logged. If so,
 * *suppressed is how many repeats of it were suppressed since it was last
 * logged (0 for the first); if not, the line is counted. */
bool tm_log_limit_admit(tm_log_limit *l, const char *key, int64_t now_ms, uint64_t *suppressed);

#endif
