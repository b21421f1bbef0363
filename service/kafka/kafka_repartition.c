/*
 * kafka_repartition.c: the repartition topic <application_id>-repartition
 * (SEMANTICS 10-11, proto/README.md "The repartition topic"): created when
 * missing and checked when it exists, produced to inside the open
 * transaction, and purged below the offsets the window tasks committed
 * (DeleteRecords, asynchronously).
 *
 * Invariants:
 * - A purge only ever deletes below an offset a committed transaction
 *   consumed past: the caller passes committed offsets, and the broker
 *   never moves a log start offset back.
 * - At most one DeleteRecords request is in flight (purge_asking); what is
 *   asked meanwhile is kept in purge_wanted and sent with the next one.
 */
#include "kafka_handle.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "err.h"
#include "log.h"

/* A failed purge is asked again at most this often. */
#define PURGE_RETRY_MS 1000

int tm_kafka_ensure_repartition(tm_kafka *k, int32_t partitions, size_t overhead_bytes,
                                rd_kafka_conf_t *pconf, bool *remake, char *errstr, size_t errlen)
{
    const tm_config *cfg = k->cfg;
    int64_t deadline = tm_monotonic_ms() + OP_TIMEOUT_MS;
    k->repartition_topic = tm_kafka_xprintf("%s-repartition", cfg->application_id);

    /* An event carries its input record whole when it fits: the topic must
     * take the largest record an input topic takes, plus the event. */
    size_t *in_max = tm_xcalloc(cfg->n_input_topics, sizeof *in_max), largest = 0;
    tm_kafka_describe_limits(k, (const char *const *)cfg->input_topics, cfg->n_input_topics,
                             in_max);
    for (size_t i = 0; i < cfg->n_input_topics; i++)
        if (in_max[i] > largest)
            largest = in_max[i];
    free(in_max);
    size_t wanted = largest + overhead_bytes;
    if (wanted > TM_PRODUCER_MAX_BYTES_MAX)
        wanted = TM_PRODUCER_MAX_BYTES_MAX;
    k->repartition_wanted_bytes = wanted;

    char max_bytes[32];
    snprintf(max_bytes, sizeof max_bytes, "%zu", wanted);
    /* Each record is read once, by the window task that owns its
     * partition, and deleted once a transaction has committed that task's
     * offset past it (tm_kafka_purge_repartition, as Kafka Streams does
     * with its repartition topics). So no deletion by age
     * (retention.ms=-1): a window task down for longer than any retention
     * must still find its events, or their windows would silently lack
     * them. Never compacted: the key (the group key) has no compaction
     * meaning. Segments of 50 MiB (Kafka Streams' choice for these
     * topics): a purge moves the log start offset at once, but the disk is
     * freed a whole segment at a time, and the default 1 GiB segments
     * would keep up to 1 GiB per partition of consumed records. */
    const char *const configs[][2] = {
        {"cleanup.policy", "delete"},
        {"retention.ms", "-1"},
        {"segment.bytes", "52428800"},
        {"max.message.bytes", max_bytes},
    };
    char shape[128];
    snprintf(shape, sizeof shape,
             "records deleted once consumed, never by age; max.message.bytes %zu", wanted);
    const tm_kafka_new_topic nt = {
        .topic = k->repartition_topic,
        .kind = "repartition",
        .partitions = partitions,
        .configs = configs,
        .n_configs = sizeof configs / sizeof configs[0],
        .shape = shape,
    };
    int parts = 0;
    int rc = tm_kafka_ensure_topic(k, &nt, deadline, &parts, errstr, errlen);
    if (rc)
        return rc;
    /* r = murmur2(group key) mod R: with another count, events would meet
     * window tasks that do not own their keys. */
    if (parts != partitions)
        return tm_seterr(errstr, errlen, TM_ECONFIG,
                         "kafka: repartition topic '%s' has %d partitions, but the application "
                         "repartitions into %d (one per input partition: were partitions added "
                         "to the input?); its events would reach window tasks that do not own "
                         "their keys: stop every instance and run `tidemark reset`, which deletes "
                         "the topic and the state, so that the next start creates it with %d",
                         k->repartition_topic, parts, (int)partitions, (int)partitions);
    k->n_repartition = partitions;
    k->purge_wanted = tm_xmalloc((size_t)partitions * sizeof *k->purge_wanted);
    k->purge_sent = tm_xmalloc((size_t)partitions * sizeof *k->purge_sent);
    k->purge_done = tm_xmalloc((size_t)partitions * sizeof *k->purge_done);
    for (int32_t r = 0; r < partitions; r++)
        k->purge_wanted[r] = k->purge_sent[r] = k->purge_done[r] = -1;

    /* The producer refuses a record over its message.max.bytes; raise it
     * to the topic's, unless the user chose one (the limit is then the
     * smaller: tm_kafka_check_repartition_limit). */
    if (!tm_config_kafka(cfg, "message.max.bytes") && wanted > k->producer_max_bytes) {
        rc = tm_kafka_conf_set(pconf, "message.max.bytes", max_bytes, errstr, errlen);
        if (rc)
            return rc;
        TM_LOG(TM_LOG_INFO, "kafka",
               "producer message.max.bytes raised to %zu for the repartition topic's records",
               wanted);
        k->producer_max_bytes = wanted;
        *remake = true;
    }
    return 0;
}

void tm_kafka_check_repartition_limit(const tm_kafka *k)
{
    size_t limit = tm_kafka_record_limit(k, k->repartition_topic);
    /* Not refused: every event still travels whole (its group key, times,
     * id and values; a topic too small for those is refused by the record
     * limits), only the copy of its input record that a too-late event's
     * late record carries goes by reference, as when the late topic itself
     * takes less than the input (side_record.h). A refusal would turn an
     * input topic's raised limit into an outage at the next restart. */
    if (limit < k->repartition_wanted_bytes)
        TM_LOG(TM_LOG_WARN, "kafka",
               "repartition topic %s takes records of at most %zu bytes (its max.message.bytes, "
               "or the producer's message.max.bytes %zu), less than the %zu an event of the "
               "largest input record needs: larger input records travel by reference, and a "
               "late record of one lacks its value (tidemark.source locates it); raise the "
               "topic's max.message.bytes to %zu (and kafka.message.max.bytes, if set)",
               k->repartition_topic, limit, k->producer_max_bytes, k->repartition_wanted_bytes,
               k->repartition_wanted_bytes);
}

int tm_kafka_open_repartition(tm_kafka *k, char *errstr, size_t errlen)
{
    k->repartition_rkt = rd_kafka_topic_new(k->producer, k->repartition_topic, NULL);
    if (!k->repartition_rkt)
        return tm_seterr(errstr, errlen, TM_EKAFKA, "kafka: repartition topic '%s': %s",
                         k->repartition_topic, rd_kafka_err2str(rd_kafka_last_error()));
    k->purge_q = rd_kafka_queue_new(k->consumer);
    return 0;
}

void tm_kafka_close_repartition(tm_kafka *k)
{
    if (k->purge_q)
        rd_kafka_queue_destroy(k->purge_q);
    if (k->repartition_rkt)
        rd_kafka_topic_destroy(k->repartition_rkt);
    free(k->purge_wanted);
    free(k->purge_sent);
    free(k->purge_done);
    free(k->repartition_topic);
}

const char *tm_kafka_repartition_topic(const tm_kafka *k)
{
    return k->repartition_topic;
}

int32_t tm_kafka_repartition_partitions(const tm_kafka *k)
{
    return k->n_repartition;
}

size_t tm_kafka_repartition_record_limit(const tm_kafka *k)
{
    return tm_kafka_record_limit(k, k->repartition_topic);
}

tm_kafka_status tm_kafka_produce_repartition(tm_kafka *k, int32_t partition, const void *key,
                                             size_t key_len, const void *value, size_t value_len,
                                             char *errstr, size_t errlen)
{
    if (!k->repartition_rkt || partition < 0 || partition >= k->n_repartition) {
        tm_kafka_set_fatal(k, "no repartition partition %d (%s has %d)", (int)partition,
                           k->repartition_topic ? k->repartition_topic : "the repartition topic",
                           (int)k->n_repartition);
        tm_seterr(errstr, errlen, TM_EFATAL, "%s", k->fatal_msg);
        return TM_KAFKA_FATAL;
    }
    return tm_kafka_produce_to(k, k->repartition_rkt, partition, key, key_len, value, value_len,
                               NULL, 0, NULL, errstr, errlen);
}

/* ---- purging ------------------------------------------------------------- */

/* Takes the answer of the purge in flight: the partitions deleted below
 * their offset are done; the others are asked again. */
static void take_purge(tm_kafka *k, rd_kafka_event_t *ev)
{
    const rd_kafka_DeleteRecords_result_t *res = rd_kafka_event_DeleteRecords_result(ev);
    const rd_kafka_topic_partition_list_t *got =
        res && !rd_kafka_event_error(ev) ? rd_kafka_DeleteRecords_result_offsets(res) : NULL;
    char failure[256] = "";
    if (!got)
        snprintf(failure, sizeof failure, "%s",
                 rd_kafka_event_error(ev) ? rd_kafka_event_error_string(ev) : "no answer");
    for (int i = 0; got && i < got->cnt; i++) {
        const rd_kafka_topic_partition_t *tp = &got->elems[i];
        int32_t r = tp->partition;
        if (r < 0 || r >= k->n_repartition)
            continue;
        if (tp->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE) {
            /* Beyond the partition's end: the topic was recreated under
             * us (a reset). Asking again would fail forever. */
            TM_LOG(TM_LOG_WARN, "kafka",
                   "purging %s [%d] below %lld: beyond its end (recreated?): not asked again",
                   k->repartition_topic, (int)r, (long long)k->purge_sent[r]);
            k->purge_wanted[r] = k->purge_done[r];
        } else if (tp->err) {
            if (!failure[0])
                snprintf(failure, sizeof failure, "[%d]: %s", (int)r, rd_kafka_err2str(tp->err));
        } else if (tp->offset > k->purge_done[r]) {
            k->purge_done[r] = tp->offset;
        }
    }
    /* A broker outage fails every purge until it ends: say so once, and
     * once when it works again. */
    if (failure[0] && !k->purge_failing)
        TM_LOG(TM_LOG_WARN, "kafka",
               "purging consumed records of %s: %s (asked again every second; until then the "
               "topic keeps them)",
               k->repartition_topic, failure);
    else if (!failure[0] && k->purge_failing)
        TM_LOG(TM_LOG_INFO, "kafka", "purging consumed records of %s works again",
               k->repartition_topic);
    k->purge_failing = failure[0] != '\0';
}

/* Sends one DeleteRecords request for every partition asked further than
 * the broker confirmed. */
static void ask_purge(tm_kafka *k)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(0);
    for (int32_t r = 0; r < k->n_repartition; r++) {
        k->purge_sent[r] = -1;
        if (k->purge_wanted[r] > k->purge_done[r]) {
            rd_kafka_topic_partition_list_add(list, k->repartition_topic, r)->offset =
                k->purge_wanted[r];
            k->purge_sent[r] = k->purge_wanted[r];
        }
    }
    if (list->cnt > 0) {
        char msg[256];
        rd_kafka_AdminOptions_t *opts =
            rd_kafka_AdminOptions_new(k->consumer, RD_KAFKA_ADMIN_OP_DELETERECORDS);
        rd_kafka_AdminOptions_set_request_timeout(opts, OP_TIMEOUT_MS, msg, sizeof msg);
        rd_kafka_DeleteRecords_t *del = rd_kafka_DeleteRecords_new(list);
        rd_kafka_DeleteRecords(k->consumer, &del, 1, opts, k->purge_q);
        rd_kafka_DeleteRecords_destroy(del);
        rd_kafka_AdminOptions_destroy(opts);
        k->purge_asking = true;
    }
    rd_kafka_topic_partition_list_destroy(list);
}

void tm_kafka_purge_repartition(tm_kafka *k, const int32_t *partitions, const int64_t *below,
                                size_t n)
{
    if (!k->purge_q)
        return;
    for (size_t i = 0; i < n; i++) {
        int32_t r = partitions[i];
        if (r >= 0 && r < k->n_repartition && below[i] > k->purge_wanted[r])
            k->purge_wanted[r] = below[i];
    }
    rd_kafka_event_t *ev;
    while ((ev = rd_kafka_queue_poll(k->purge_q, 0))) {
        if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_DELETERECORDS_RESULT) {
            take_purge(k, ev);
            k->purge_asking = false;
            k->purge_asked_ms = tm_monotonic_ms();
        }
        rd_kafka_event_destroy(ev);
    }
    if (k->purge_asking ||
        (k->purge_failing && tm_monotonic_ms() - k->purge_asked_ms < PURGE_RETRY_MS))
        return;
    ask_purge(k);
}

int64_t tm_kafka_repartition_purged(const tm_kafka *k, int32_t partition)
{
    if (partition < 0 || partition >= k->n_repartition)
        return -1;
    return k->purge_done[partition];
}
