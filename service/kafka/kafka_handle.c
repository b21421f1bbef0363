/*
 * kafka_handle.c: see kafka_handle.h. What every file of the kafka layer
 * uses: the fatal state, formatted names, what a fencing error means.
 *
 * Invariant: once fatal is set it stays set, and every poll_batch returns
 * FATAL.
 */
#include "kafka_handle.h"

#include <assert.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

#include "alloc.h"
#include "clock.h"
#include "err.h"
#include "log.h"

#define FATAL_PREFIX "kafka: "
/* How long after a lost assignment a static-membership fence is taken for
 * the aftermath of that loss rather than another instance (a rejoin
 * follows the loss within a few heartbeats). */
#define LOST_FENCE_WINDOW_MS 60000

/* A formatted string in new memory (the caller frees it). */
char *tm_kafka_xprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    assert(n >= 0);
    char *s = tm_xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

/* Records an unrecoverable state: from now on every poll returns FATAL
 * with this message. The first reason wins. The message is for callers,
 * whose messages name their module ("kafka: ..."); the log line has the
 * module in its own field, so it gets the message without it (it read
 * "kafka: kafka: produce ..." when callers wrote the prefix). */
void tm_kafka_set_fatal(tm_kafka *k, const char *fmt, ...)
{
    if (k->fatal)
        return;
    char msg[sizeof k->fatal_msg - sizeof FATAL_PREFIX + 1];
    va_list ap;
    va_start(ap, fmt);
    tm_vformat(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(k->fatal_msg, sizeof k->fatal_msg, FATAL_PREFIX "%s", msg);
    k->fatal = true;
    TM_LOG(TM_LOG_ERROR, "kafka", "%s", msg);
}

/* What a fencing error means for an operator ("" for other errors). The
 * broker fences a producer for one of two reasons: another process took
 * over its transactional.id (it and group.instance.id both derive from
 * the instance id), or its transaction outlived transaction.timeout.ms
 * (the broker then aborts it and bumps the epoch, which happens when the
 * broker took records too slowly for that long); the open transaction's
 * age says which is likely. */
const char *tm_kafka_fenced_hint(const tm_kafka *k, rd_kafka_resp_err_t err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR__FENCED:
    case RD_KAFKA_RESP_ERR_PRODUCER_FENCED:
    case RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH:
    case RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID:
        if (err != RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID && k->txn_open &&
            tm_monotonic_ms() - k->txn_began_ms >= k->txn_timeout_ms)
            return " (fenced: the transaction was open longer than transaction.timeout.ms "
                   "because the broker did not take its records, so the broker aborted it; "
                   "a restart restores the last checkpoint and retries)";
        /* librdkafka rejoins a static member whose session timed out in a
         * way the coordinator can take for a replacement (librdkafka issue
         * #3437): then nobody else has the instance id. */
        if (err == RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID && k->lost_at_ms > 0 &&
            tm_monotonic_ms() - k->lost_at_ms < LOST_FENCE_WINDOW_MS)
            return " (fenced after this instance's own group session timed out, as librdkafka "
                   "can be when the coordinator was unreachable; a restart rejoins the group)";
        return " (fenced: another instance started with the same instance id and took over; "
               "every instance needs its own --instance-id)";
    default:
        return "";
    }
}
