/*
 * kafka_reader.c: reading whole topics for `tidemark verify` with the
 * admin handle's plain consumer (kafka.h, tm_kafka_read_topic):
 * partitions assigned by hand at offsets-for-times, read to the last
 * stable offset listed first.
 */
#include "kafka_handle.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "err.h"
#include "log.h"

/* A read that gets nothing (no record, no end of partition) for this long
 * fails. */
#define READ_IDLE_MS 30000

/* One partition being read: from next to end (exclusive). */
typedef struct read_part {
    int64_t next, end;
} read_part;

/* Lists each partition's log start and end, and where from_ts leads. */
static int start_offsets(tm_kafka *k, const char *topic, int n, int64_t from_ts, read_part *parts,
                         bool *truncated, char *errstr, size_t errlen)
{
    rd_kafka_topic_partition_list_t *times = rd_kafka_topic_partition_list_new(n);
    int64_t *start = tm_xcalloc((size_t)n, sizeof *start);
    int rc = 0;
    for (int p = 0; p < n && rc == 0; p++) {
        rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(k->restore, topic, p, &start[p],
                                                                   &parts[p].end, OP_TIMEOUT_MS);
        if (err)
            rc = tm_seterr(errstr, errlen, TM_EKAFKA, "kafka: %s [%d]: listing offsets: %s", topic,
                           p, rd_kafka_err2str(err));
        rd_kafka_topic_partition_list_add(times, topic, p)->offset = from_ts;
    }
    /* Kafka reads a negative time as a special offset (-1 latest, -2
     * earliest): a time before the epoch is the log start. */
    if (from_ts < 0)
        from_ts = INT64_MIN;
    if (rc == 0 && from_ts != INT64_MIN) {
        rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(k->restore, times, OP_TIMEOUT_MS);
        if (err)
            rc = tm_seterr(errstr, errlen, TM_EKAFKA, "kafka: %s: offsets for times: %s", topic,
                           rd_kafka_err2str(err));
    }
    for (int p = 0; p < n && rc == 0; p++) {
        int64_t at = from_ts == INT64_MIN ? start[p] : times->elems[p].offset;
        /* -1: no record that late below the end (Kafka answers a
         * read_committed lookup below the last stable offset): nothing
         * to read. */
        parts[p].next = at < 0 ? parts[p].end : at;
        /* A read that begins at a log start above 0 may miss deleted
         * records of the time asked for; so may one of a log that
         * retention emptied. */
        if (truncated && start[p] > 0 && parts[p].next <= start[p])
            *truncated = true;
    }
    rd_kafka_topic_partition_list_destroy(times);
    free(start);
    return rc;
}

static int deliver(const rd_kafka_message_t *m, const char *topic, tm_kafka_read_fn fn, void *ctx)
{
    tm_kafka_read_record r = {
        .topic = topic,
        .partition = m->partition,
        .offset = m->offset,
        .ts = rd_kafka_message_timestamp(m, NULL),
        .key = m->key,
        .key_len = m->key ? m->key_len : 0,
        .value = m->payload,
        .value_len = m->payload ? m->len : 0,
    };
    rd_kafka_headers_t *hdrs = NULL;
    const void *val = NULL;
    size_t size = 0;
    if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        rd_kafka_header_get_last(hdrs, "tidemark.source", &val, &size) ==
            RD_KAFKA_RESP_ERR_NO_ERROR &&
        val) {
        r.source = val;
        r.source_len = size;
    }
    return fn(ctx, &r);
}

/* Where a read of topic from from_ts begins and ends, a read_part per
 * partition into *parts (to free) and their number into *n. */
static int plan_read(tm_kafka *k, const char *topic, int64_t from_ts, read_part **parts, int *n,
                     bool *truncated, char *errstr, size_t errlen)
{
    *parts = NULL;
    *n = 0;
    int rc = tm_kafka_topic_partitions(k, topic, n, errstr, errlen);
    if (rc == 0 && *n == 0)
        rc = tm_seterr(errstr, errlen, TM_EKAFKA, "kafka: topic '%s' does not exist", topic);
    if (rc < 0)
        return rc;
    *parts = tm_xcalloc((size_t)*n, sizeof **parts);
    return start_offsets(k, topic, *n, from_ts, *parts, truncated, errstr, errlen);
}

int tm_kafka_span_from(tm_kafka *k, const char *topic, int64_t from_ts, int64_t *offsets,
                       char *errstr, size_t errlen)
{
    read_part *parts = NULL;
    int n = 0;
    int rc = plan_read(k, topic, from_ts, &parts, &n, NULL, errstr, errlen);
    *offsets = 0;
    for (int p = 0; p < n && rc == 0; p++)
        *offsets += parts[p].end > parts[p].next ? parts[p].end - parts[p].next : 0;
    free(parts);
    return rc;
}

int tm_kafka_read_topic(tm_kafka *k, const char *topic, int64_t from_ts, tm_kafka_read_fn fn,
                        void *ctx, bool *truncated, char *errstr, size_t errlen)
{
    read_part *parts = NULL;
    int n = 0;
    int rc = plan_read(k, topic, from_ts, &parts, &n, truncated, errstr, errlen);
    if (!parts)
        return rc;
    rd_kafka_topic_partition_list_t *assign = rd_kafka_topic_partition_list_new(n);
    size_t open = 0;
    for (int p = 0; p < n && rc == 0; p++)
        if (parts[p].next < parts[p].end) {
            rd_kafka_topic_partition_list_add(assign, topic, p)->offset = parts[p].next;
            open++;
        }
    if (rc == 0 && open) {
        rd_kafka_resp_err_t err = rd_kafka_assign(k->restore, assign);
        if (err)
            rc = tm_seterr(errstr, errlen, TM_EKAFKA, "kafka: assigning %s: %s", topic,
                           rd_kafka_err2str(err));
    }
    int64_t idle_since = tm_monotonic_ms();
    while (rc == 0 && open) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(k->restore, 200);
        if (!m) {
            if (tm_monotonic_ms() - idle_since > READ_IDLE_MS)
                rc = tm_seterr(errstr, errlen, TM_EKAFKA,
                               "kafka: reading %s: nothing for %d ms (brokers down?)", topic,
                               READ_IDLE_MS);
            continue;
        }
        idle_since = tm_monotonic_ms();
        read_part *p = m->partition >= 0 && m->partition < n ? &parts[m->partition] : NULL;
        bool was_open = p && p->next < p->end;
        if (!p) {
            /* Not a partition this read assigned. */
        } else if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            /* Past trailing transaction markers and aborted records. */
            p->next = m->offset > p->next ? m->offset : p->next;
        } else if (m->err) {
            TM_LOG(TM_LOG_WARN, "kafka", "%s [%d]: %s", topic, (int)m->partition,
                   rd_kafka_message_errstr(m));
            if (m->err == RD_KAFKA_RESP_ERR__FATAL || m->err > 0)
                rc = tm_seterr(errstr, errlen, TM_EKAFKA, "kafka: %s [%d]: %s", topic,
                               (int)m->partition, rd_kafka_message_errstr(m));
        } else if (m->offset < p->end) {
            p->next = m->offset + 1;
            rc = deliver(m, topic, fn, ctx);
        } else {
            p->next = p->end; /* committed after the end was listed */
        }
        if (was_open && p->next >= p->end)
            open--;
        rd_kafka_message_destroy(m);
    }
    rd_kafka_assign(k->restore, NULL);
    rd_kafka_topic_partition_list_destroy(assign);
    free(parts);
    return rc;
}
