/*
 * kafka.c: see kafka.h. Opening the handle for the service (the producer,
 * the consumer, the changelog and repartition topics, record limits,
 * init_transactions), for administration or for reading the changelog,
 * and closing it.
 */
#include "kafka_handle.h"

#include <assert.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "err.h"
#include "log.h"

/* Best-effort abort of a transaction left open at close. */
#define CLOSE_ABORT_TIMEOUT_MS 5000

/* ---- open and close ------------------------------------------------------ */

static bool has_bootstrap(const tm_config *cfg)
{
    return tm_config_kafka(cfg, "bootstrap.servers") ||
           tm_config_kafka(cfg, "metadata.broker.list");
}

static int no_bootstrap(char *errstr, size_t errlen)
{
    return tm_seterr(errstr, errlen, TM_ECONFIG,
                     "config: kafka.bootstrap.servers is required (host:port,...)");
}

int tm_kafka_open(tm_kafka **out, const tm_config *cfg, const char *instance_id,
                  const tm_kafka_rebalance *rb, const tm_kafka_needs *needs, char *errstr,
                  size_t errlen)
{
    assert(out && cfg && instance_id);
    if (!has_bootstrap(cfg))
        return no_bootstrap(errstr, errlen);
    tm_kafka *k = tm_xcalloc(1, sizeof *k);
    k->cfg = cfg;
    if (rb) {
        assert(rb->assigned && rb->revoked);
        k->rb = *rb;
        k->has_rb = true;
    }
    k->client_id = tm_kafka_xprintf("%s-%s", cfg->application_id, instance_id);
    k->changelog_topic = tm_kafka_xprintf("%s-changelog", cfg->application_id);
    k->reset_earliest = true;

    /* The producer first: most refused properties are refused by it (acks,
     * idempotence), before the consumer connects anywhere. A copy of its
     * configuration remakes it (before it has connected) when a topic's
     * record limit lowers its batch size. */
    rd_kafka_conf_t *pconf = NULL, *spare = NULL;
    int rc = tm_kafka_producer_conf(k, instance_id, 0, &pconf, errstr, errlen);
    if (!rc) {
        spare = rd_kafka_conf_dup(pconf);
        rc =
            tm_kafka_new_client(&k->producer, RD_KAFKA_PRODUCER, pconf, "producer", errstr, errlen);
    }
    if (!rc)
        rc = tm_kafka_open_consumer(k, errstr, errlen);
    if (!rc)
        rc = tm_kafka_ensure_changelog(k, errstr, errlen);
    if (!rc)
        rc = tm_kafka_check_output_topics(k, k->n_input, errstr, errlen);
    bool remake = false;
    const tm_kafka_needs none = {0};
    const tm_kafka_needs *nd = needs ? needs : &none;
    int32_t r_parts = nd->repartition_partitions == TM_KAFKA_INPUT_PARTITIONS
                          ? k->n_input
                          : nd->repartition_partitions;
    /* Task p is source task p and window task p: R other than the input
     * partition count would give window tasks no source task to share an
     * assignment with. */
    if (!rc && nd->repartition_partitions == TM_KAFKA_INPUT_PARTITIONS &&
        cfg->repartition_partitions != 0 && cfg->repartition_partitions != r_parts)
        rc = tm_seterr(errstr, errlen, TM_ECONFIG,
                       "config: repartition.partitions: %lld, but the live service repartitions "
                       "into as many partitions as the input has (%d): window task p runs with "
                       "source task p; remove repartition.partitions (replay takes any count)",
                       (long long)cfg->repartition_partitions, (int)r_parts);
    if (!rc && r_parts > 0)
        rc = tm_kafka_ensure_repartition(k, r_parts, nd->repartition_overhead_bytes, spare, &remake,
                                         errstr, errlen);
    if (!rc) {
        size_t needed[TM_KAFKA_OUT_TOPICS] = {nd->output_bytes, nd->side_bytes, nd->side_bytes,
                                              nd->changelog_bytes, nd->repartition_overhead_bytes};
        rc = tm_kafka_set_record_limits(k, spare, needed, &remake, errstr, errlen);
    }
    if (!rc && k->repartition_topic)
        tm_kafka_check_repartition_limit(k);
    if (!rc && k->repartition_topic)
        rc = tm_kafka_consume_repartition(k, errstr, errlen);
    if (!rc && remake) {
        rd_kafka_destroy(k->producer);
        k->producer = NULL;
        rc =
            tm_kafka_new_client(&k->producer, RD_KAFKA_PRODUCER, spare, "producer", errstr, errlen);
        spare = NULL; /* consumed */
    }
    if (spare)
        rd_kafka_conf_destroy(spare);
    if (!rc) {
        k->changelog_rkt = rd_kafka_topic_new(k->producer, k->changelog_topic, NULL);
        if (!k->changelog_rkt)
            rc = tm_seterr(errstr, errlen, TM_EKAFKA, "kafka: changelog topic '%s': %s",
                           k->changelog_topic, rd_kafka_err2str(rd_kafka_last_error()));
    }
    if (!rc && k->repartition_topic)
        rc = tm_kafka_open_repartition(k, errstr, errlen);
    if (!rc)
        rc = tm_kafka_init_transactions(k, errstr, errlen);
    if (rc) {
        tm_kafka_close(k);
        return rc;
    }
    TM_LOG(TM_LOG_INFO, "kafka", "ready: transactional.id %s, changelog %s (%d partitions)",
           k->client_id, k->changelog_topic, (int)k->n_changelog);
    *out = k;
    return 0;
}

int tm_kafka_open_admin(tm_kafka **out, const tm_config *cfg, char *errstr, size_t errlen)
{
    assert(out && cfg);
    if (!has_bootstrap(cfg))
        return no_bootstrap(errstr, errlen);
    tm_kafka *k = tm_xcalloc(1, sizeof *k);
    k->cfg = cfg;
    /* Its own client and group ids: never mistaken for an instance's. */
    k->client_id = tm_kafka_xprintf("%s-admin", cfg->application_id);
    k->changelog_topic = tm_kafka_xprintf("%s-changelog", cfg->application_id);
    int rc = tm_kafka_open_restore(k, errstr, errlen);
    if (rc) {
        tm_kafka_close(k);
        return rc;
    }
    *out = k;
    return 0;
}

/* A backfill's one transaction may hold many records: the most a broker
 * allows by default (transaction.max.timeout.ms, 15 minutes). */
#define BACKFILL_TXN_TIMEOUT_MS 900000

int tm_kafka_open_backfill(tm_kafka **out, const tm_config *cfg, char *errstr, size_t errlen)
{
    tm_kafka *k = NULL;
    int rc = tm_kafka_open_admin(&k, cfg, errstr, errlen);
    if (rc)
        return rc;
    free(k->client_id);
    k->client_id = tm_kafka_xprintf("%s-backfill", cfg->application_id);
    rd_kafka_conf_t *conf = NULL;
    rc = tm_kafka_producer_conf(k, "backfill", BACKFILL_TXN_TIMEOUT_MS, &conf, errstr, errlen);
    if (!rc)
        rc = tm_kafka_new_client(&k->producer, RD_KAFKA_PRODUCER, conf, "producer", errstr, errlen);
    if (!rc)
        rc = tm_kafka_init_transactions(k, errstr, errlen);
    if (rc) {
        tm_kafka_close(k);
        return rc;
    }
    *out = k;
    return 0;
}

void tm_kafka_set_wait(tm_kafka *k, const tm_kafka_wait *wait)
{
    k->wait = *wait;
}

int32_t tm_kafka_changelog_partitions(const tm_kafka *k)
{
    return k->n_changelog;
}

void tm_kafka_close(tm_kafka *k)
{
    if (!k)
        return;
    tm_kafka_release_batch(k);
    k->closing = true;
    if (k->rb_parts) {
        /* The group waits for an answer to the event kept for the next
         * poll: there is none; hold nothing. */
        rd_kafka_assign(k->consumer, NULL);
        rd_kafka_topic_partition_list_destroy(k->rb_parts);
    }
    if (k->lag_q)
        rd_kafka_queue_destroy(k->lag_q);
    tm_kafka_close_repartition(k);
    if (k->consumer) {
        /* Leaves the group; the revoke it triggers only unassigns. */
        rd_kafka_consumer_close(k->consumer);
        for (size_t i = 0; k->in_rkt && i < k->n_consumed; i++)
            if (k->in_rkt[i])
                rd_kafka_topic_destroy(k->in_rkt[i]);
        rd_kafka_destroy(k->consumer);
    }
    if (k->restore) {
        rd_kafka_consumer_close(k->restore);
        rd_kafka_destroy(k->restore);
    }
    if (k->producer) {
        char why[256];
        if (k->txn_open && !rd_kafka_fatal_error(k->producer, why, sizeof why)) {
            rd_kafka_error_t *error =
                rd_kafka_abort_transaction(k->producer, CLOSE_ABORT_TIMEOUT_MS);
            if (error) {
                TM_LOG(TM_LOG_WARN, "kafka", "abort at close: %s", rd_kafka_error_string(error));
                rd_kafka_error_destroy(error);
            }
        }
        for (size_t i = 0; i < k->n_outs; i++) {
            rd_kafka_topic_destroy(k->outs[i].rkt);
            free(k->outs[i].name);
        }
        if (k->changelog_rkt)
            rd_kafka_topic_destroy(k->changelog_rkt);
        rd_kafka_destroy(k->producer);
    }
    free(k->outs);
    free(k->owned);
    free(k->lag_start);
    free(k->lag_end);
    free(k->paused);
    free(k->limits);
    free(k->in_rkt);
    free(k->consumed);
    free(k->in_ts_types);
    free(k->batch);
    free(k->changelog_pending);
    free(k->changelog_committed);
    free(k->changelog_topic);
    free(k->client_id);
    free(k);
}

int tm_kafka_open_changelog_reader(tm_kafka **out, const tm_config *cfg, char *errstr,
                                   size_t errlen)
{
    tm_kafka *k;
    int rc = tm_kafka_open_admin(&k, cfg, errstr, errlen);
    if (rc)
        return rc;
    int parts = 0;
    rc = tm_kafka_topic_partitions(k, k->changelog_topic, &parts, errstr, errlen);
    if (!rc && parts == 0)
        rc = tm_seterr(errstr, errlen, TM_EKAFKA,
                       "kafka: changelog topic '%s' does not exist (tidemark run creates it)",
                       k->changelog_topic);
    k->n_changelog = parts;
    if (rc) {
        tm_kafka_close(k);
        return rc;
    }
    *out = k;
    return 0;
}
