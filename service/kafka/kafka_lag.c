/*
 * kafka_lag.c: the consumer lag of every owned input partition, from the
 * assignment on: the end of the partition (its high watermark) minus where
 * the consumer stands.
 *
 * The consumer knows both only once it has fetched from a partition (the
 * high watermark of the last fetch response) and handed a record out (its
 * position); a consumer stuck before its first fetch would show no lag at
 * all. So on assignment each partition's start is kept (the checkpoint's
 * offset the runner gave, else the group's committed offset, else the log
 * start or end that auto.offset.reset points to), and its end is listed
 * (ListOffsets) until a fetch answers it. The listings are asynchronous:
 * tm_kafka_lag_refresh takes their answers and asks again, never waiting,
 * so the loop is not held up by a slow or unreachable broker (a
 * query_watermark_offsets per partition would block a round trip each).
 */
#include "kafka_handle.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "alloc.h"
#include "log.h"

/* How often a partition without a fetched high watermark is listed again. */
#define LAG_REFRESH_MS 1000
/* The committed offsets of an assignment: one request; on no answer the
 * start stays unknown until the consumer's position is. */
#define LAG_COMMITTED_TIMEOUT_MS 5000

/* lag_start values besides an offset: unknown, or to be taken from the
 * log start or the end as listed (auto.offset.reset with no commit). */
enum { START_UNKNOWN = -1, START_EARLIEST = -2, START_LATEST = -3 };

/* Opaque of a listing's options: which offsets it asked for. */
static char earliest_tag, latest_tag;

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

ssize_t tm_kafka_owned_slot(const tm_kafka *k, size_t topic_index, int32_t task)
{
    const int32_t *hit =
        k->n_owned ? bsearch(&task, k->owned, k->n_owned, sizeof task, cmp_i32) : NULL;
    return hit ? (ssize_t)((size_t)(hit - k->owned) * k->n_consumed + topic_index) : -1;
}

/* The high watermark of the last fetch response, -1 before one. */
static int64_t fetched_end(tm_kafka *k, const char *topic, int32_t partition)
{
    int64_t low, high;
    if (rd_kafka_get_watermark_offsets(k->consumer, topic, partition, &low, &high) !=
        RD_KAFKA_RESP_ERR_NO_ERROR)
        return -1;
    return high;
}

/* Asks for the log start (earliest) of the partitions whose start is
 * START_EARLIEST, or for the end of those not fetched yet; the answer
 * comes to lag_q. */
static void ask(tm_kafka *k, bool earliest)
{
    size_t nt = k->n_consumed;
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(0);
    for (size_t j = 0; j < k->n_owned; j++)
        for (size_t i = 0; i < nt; i++) {
            const char *topic = k->consumed[i];
            bool want = earliest ? k->lag_start[j * nt + i] == START_EARLIEST
                                 : fetched_end(k, topic, k->owned[j]) < 0;
            if (want)
                rd_kafka_topic_partition_list_add(list, topic, k->owned[j])->offset =
                    earliest ? RD_KAFKA_OFFSET_SPEC_EARLIEST : RD_KAFKA_OFFSET_SPEC_LATEST;
        }
    if (list->cnt > 0) {
        char msg[256];
        rd_kafka_AdminOptions_t *opts =
            rd_kafka_AdminOptions_new(k->consumer, RD_KAFKA_ADMIN_OP_LISTOFFSETS);
        rd_kafka_AdminOptions_set_request_timeout(opts, OP_TIMEOUT_MS, msg, sizeof msg);
        rd_kafka_AdminOptions_set_opaque(opts, earliest ? &earliest_tag : &latest_tag);
        rd_kafka_ListOffsets(k->consumer, list, opts, k->lag_q);
        rd_kafka_AdminOptions_destroy(opts);
        k->lag_asking++;
    }
    rd_kafka_topic_partition_list_destroy(list);
}

/* Takes one listing's answer: the partitions still owned get their end,
 * or their start. A failed listing is asked again at the next refresh. */
static void take(tm_kafka *k, rd_kafka_event_t *ev)
{
    bool earliest = rd_kafka_event_opaque(ev) == &earliest_tag;
    size_t cnt = 0;
    const rd_kafka_ListOffsets_result_t *res = rd_kafka_event_ListOffsets_result(ev);
    const rd_kafka_ListOffsetsResultInfo_t **infos =
        res && !rd_kafka_event_error(ev) ? rd_kafka_ListOffsets_result_infos(res, &cnt) : NULL;
    if (rd_kafka_event_error(ev))
        TM_LOG(TM_LOG_DEBUG, "kafka", "listing input offsets for the lag: %s",
               rd_kafka_event_error_string(ev));
    for (size_t n = 0; n < cnt; n++) {
        const rd_kafka_topic_partition_t *tp =
            rd_kafka_ListOffsetsResultInfo_topic_partition(infos[n]);
        int ti = tm_kafka_consumed_index(k, tp->topic);
        ssize_t s = ti < 0 ? -1 : tm_kafka_owned_slot(k, (size_t)ti, tp->partition);
        if (s < 0 || tp->err || tp->offset < 0)
            continue;
        if (earliest && k->lag_start[s] == START_EARLIEST)
            k->lag_start[s] = tp->offset;
        if (!earliest) {
            k->lag_end[s] = tp->offset;
            if (k->lag_start[s] == START_LATEST)
                k->lag_start[s] = tp->offset;
        }
    }
}

void tm_kafka_lag_refresh(tm_kafka *k)
{
    rd_kafka_event_t *ev;
    while (k->lag_q && (ev = rd_kafka_queue_poll(k->lag_q, 0))) {
        if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_LISTOFFSETS_RESULT) {
            take(k, ev);
            k->lag_asking--;
        }
        rd_kafka_event_destroy(ev);
    }
    int64_t now = tm_monotonic_ms();
    if (!k->lag_q || k->lag_asking > 0 || now - k->lag_asked_ms < LAG_REFRESH_MS)
        return;
    k->lag_asked_ms = now;
    ask(k, true);
    ask(k, false);
}

/* The group's committed offsets of the slots whose start is unknown yet
 * (no checkpoint); without one, where auto.offset.reset points. */
static void resolve_committed(tm_kafka *k)
{
    size_t nt = k->n_consumed;
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(0);
    for (size_t j = 0; j < k->n_owned; j++)
        for (size_t i = 0; i < nt; i++)
            if (k->lag_start[j * nt + i] == START_UNKNOWN)
                rd_kafka_topic_partition_list_add(list, k->consumed[i], k->owned[j]);
    rd_kafka_resp_err_t err = list->cnt > 0
                                  ? rd_kafka_committed(k->consumer, list, LAG_COMMITTED_TIMEOUT_MS)
                                  : RD_KAFKA_RESP_ERR_NO_ERROR;
    if (err)
        TM_LOG(TM_LOG_WARN, "kafka", "committed offsets for the lag: %s", rd_kafka_err2str(err));
    for (int n = 0; !err && n < list->cnt; n++) {
        const rd_kafka_topic_partition_t *tp = &list->elems[n];
        ssize_t s =
            tm_kafka_owned_slot(k, (size_t)tm_kafka_consumed_index(k, tp->topic), tp->partition);
        if (tp->err)
            continue;
        k->lag_start[s] = tp->offset >= 0     ? tp->offset
                          : k->reset_earliest ? START_EARLIEST
                                              : START_LATEST;
    }
    rd_kafka_topic_partition_list_destroy(list);
}

void tm_kafka_lag_assigned(tm_kafka *k, const int64_t *start)
{
    size_t n = k->n_owned * k->n_consumed;
    free(k->lag_start);
    free(k->lag_end);
    k->lag_start = tm_xmalloc((n + 1) * sizeof *k->lag_start);
    k->lag_end = tm_xmalloc((n + 1) * sizeof *k->lag_end);
    for (size_t s = 0; s < n; s++) {
        k->lag_start[s] = start[s] >= 0 ? start[s] : START_UNKNOWN;
        k->lag_end[s] = -1;
    }
    if (!k->lag_q)
        k->lag_q = rd_kafka_queue_new(k->consumer);
    resolve_committed(k);
    k->lag_asked_ms = INT64_MIN / 2; /* ask at the next refresh */
}

int64_t tm_kafka_consumer_lag(tm_kafka *k, size_t topic_index, int32_t partition)
{
    ssize_t s = tm_kafka_owned_slot(k, topic_index, partition);
    if (s < 0)
        return -1;
    const char *topic = k->consumed[topic_index];
    int64_t end = fetched_end(k, topic, partition);
    if (end < 0)
        end = k->lag_end[s];
    int64_t at = tm_kafka_position(k, topic_index, partition);
    if (at < 0)
        at = k->lag_start[s]; /* nothing handed out yet: where it starts */
    if (end < 0 || at < 0)
        return -1;
    return end > at ? end - at : 0;
}
