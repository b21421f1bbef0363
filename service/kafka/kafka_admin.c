/*
 * kafka_admin.c: the cluster's metadata and administration: topic
 * partition counts, the admin request helper, the changelog topic
 * (created compacted, checked against the input topics), the record limits
 * of the topics tidemark writes (DescribeConfigs), and deleting a topic or
 * a consumer group (`tidemark reset`).
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
#include "num.h"

/* CreateTopics: a broker answers in well under a second; this bounds a
 * cluster whose controller is unreachable. */
#define CREATE_TIMEOUT_MS 10000

/* ---- topics ------------------------------------------------------------- */

/*
 * Looks up topic (rkt, on rk: a consumer, which never creates topics):
 * *partitions is its partition count, 0 if it does not exist; *brokers the
 * cluster's broker count. Transient failures are retried until deadline.
 */
static int topic_partitions(rd_kafka_t *rk, rd_kafka_topic_t *rkt, int64_t deadline,
                            int *partitions, int *brokers, char *errstr, size_t errlen)
{
    *partitions = 0;
    for (;;) {
        const rd_kafka_metadata_t *md = NULL;
        rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, remaining_ms(deadline));
        if (!err && md->topic_cnt == 1) {
            err = md->topics[0].err;
            *partitions = err ? 0 : md->topics[0].partition_cnt;
            *brokers = md->broker_cnt;
        }
        if (md)
            rd_kafka_metadata_destroy(md);
        if (!err || err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
            return 0;
        if (tm_monotonic_ms() >= deadline ||
            (err != RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE && err != RD_KAFKA_RESP_ERR__TRANSPORT &&
             err != RD_KAFKA_RESP_ERR__TIMED_OUT))
            return tm_seterr(errstr, errlen, TM_EKAFKA,
                             "kafka: metadata of topic '%s': %s (check kafka.bootstrap.servers)",
                             rd_kafka_topic_name(rkt), rd_kafka_err2str(err));
        tm_sleep_ms(100);
    }
}

/* An admin request: sends it on rk with opts, its result to q. */
typedef void (*admin_send_fn)(rd_kafka_t *rk, void *request, const rd_kafka_AdminOptions_t *opts,
                              rd_kafka_queue_t *q);

/*
 * Sends one admin request (op) and waits for its result: the event (the
 * caller destroys it, and reads the per-item results), or NULL with a
 * message "kafka: <what>: <why>" when the request as a whole failed or
 * timed out.
 */
static rd_kafka_event_t *admin_call(rd_kafka_t *rk, rd_kafka_admin_op_t op, admin_send_fn send,
                                    void *request, const char *what, char *errstr, size_t errlen)
{
    char msg[256];
    rd_kafka_AdminOptions_t *opts = rd_kafka_AdminOptions_new(rk, op);
    rd_kafka_AdminOptions_set_request_timeout(opts, CREATE_TIMEOUT_MS, msg, sizeof msg);
    /* Only the operations that take one accept it; the others refuse. */
    (void)rd_kafka_AdminOptions_set_operation_timeout(opts, CREATE_TIMEOUT_MS, msg, sizeof msg);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    send(rk, request, opts, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, CREATE_TIMEOUT_MS + 5000);
    if (!ev || rd_kafka_event_error(ev)) {
        tm_seterr(errstr, errlen, TM_EKAFKA, "kafka: %s: %s", what,
                  ev ? rd_kafka_event_error_string(ev) : "timed out");
        if (ev)
            rd_kafka_event_destroy(ev);
        ev = NULL;
    }
    rd_kafka_queue_destroy(q);
    rd_kafka_AdminOptions_destroy(opts);
    return ev;
}

static void send_create_topic(rd_kafka_t *rk, void *request, const rd_kafka_AdminOptions_t *opts,
                              rd_kafka_queue_t *q)
{
    rd_kafka_CreateTopics(rk, (rd_kafka_NewTopic_t **)request, 1, opts, q);
}

static void send_delete_topic(rd_kafka_t *rk, void *request, const rd_kafka_AdminOptions_t *opts,
                              rd_kafka_queue_t *q)
{
    rd_kafka_DeleteTopics(rk, (rd_kafka_DeleteTopic_t **)request, 1, opts, q);
}

static void send_delete_group(rd_kafka_t *rk, void *request, const rd_kafka_AdminOptions_t *opts,
                              rd_kafka_queue_t *q)
{
    rd_kafka_DeleteGroups(rk, (rd_kafka_DeleteGroup_t **)request, 1, opts, q);
}

/* The request is a describe_request: resources and their count. */
typedef struct describe_request {
    rd_kafka_ConfigResource_t **res;
    size_t n;
} describe_request;

static void send_describe_configs(rd_kafka_t *rk, void *request,
                                  const rd_kafka_AdminOptions_t *opts, rd_kafka_queue_t *q)
{
    describe_request *d = request;
    rd_kafka_DescribeConfigs(rk, d->res, d->n, opts, q);
}

/* Creates nt_spec's topic; "already exists" is success (a peer instance
 * won the race). */
static int create_topic(tm_kafka *k, const tm_kafka_new_topic *nt_spec, int replication,
                        char *errstr, size_t errlen)
{
    char msg[512];
    int rc = 0;
    rd_kafka_NewTopic_t *nt =
        rd_kafka_NewTopic_new(nt_spec->topic, nt_spec->partitions, replication, msg, sizeof msg);
    if (!nt)
        return tm_seterr(errstr, errlen, TM_EKAFKA, "kafka: %s topic '%s': %s", nt_spec->kind,
                         nt_spec->topic, msg);
    for (size_t i = 0; i < nt_spec->n_configs; i++)
        rd_kafka_NewTopic_set_config(nt, nt_spec->configs[i][0], nt_spec->configs[i][1]);
    char what[320];
    snprintf(what, sizeof what, "creating %s topic '%s'", nt_spec->kind, nt_spec->topic);
    rd_kafka_event_t *ev = admin_call(k->consumer, RD_KAFKA_ADMIN_OP_CREATETOPICS,
                                      send_create_topic, &nt, what, errstr, errlen);
    if (!ev) {
        rc = TM_EKAFKA;
    } else {
        size_t cnt = 0;
        const rd_kafka_topic_result_t **res =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &cnt);
        rd_kafka_resp_err_t err =
            cnt == 1 ? rd_kafka_topic_result_error(res[0]) : RD_KAFKA_RESP_ERR__BAD_MSG;
        if (err && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
            rc = tm_seterr(errstr, errlen, TM_EKAFKA, "kafka: %s: %s", what,
                           cnt == 1 && rd_kafka_topic_result_error_string(res[0])
                               ? rd_kafka_topic_result_error_string(res[0])
                               : rd_kafka_err2str(err));
        else
            TM_LOG(TM_LOG_INFO, "kafka", "created %s topic %s (%d partitions, replication %d, %s)",
                   nt_spec->kind, nt_spec->topic, nt_spec->partitions, replication, nt_spec->shape);
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_NewTopic_destroy(nt);
    return rc;
}

int tm_kafka_ensure_topic(tm_kafka *k, const tm_kafka_new_topic *nt, int64_t deadline,
                          int *partitions, char *errstr, size_t errlen)
{
    /* A consumer-side handle, only for the metadata queries. */
    rd_kafka_topic_t *meta = rd_kafka_topic_new(k->consumer, nt->topic, NULL);
    if (!meta)
        return tm_seterr(errstr, errlen, TM_ECONFIG, "config: %s topic '%s': %s", nt->kind,
                         nt->topic, rd_kafka_err2str(rd_kafka_last_error()));
    int parts = 0, brokers = 1;
    int rc = topic_partitions(k->consumer, meta, deadline, &parts, &brokers, errstr, errlen);
    if (!rc && parts == 0) {
        rc = create_topic(k, nt, brokers < 3 ? brokers : 3, errstr, errlen);
        /* Metadata lags creation: wait until the topic shows. */
        while (!rc && parts == 0 && tm_monotonic_ms() < deadline) {
            rc = topic_partitions(k->consumer, meta, deadline, &parts, &brokers, errstr, errlen);
            if (!rc && parts == 0)
                tm_sleep_ms(100);
        }
        if (!rc && parts == 0)
            rc = tm_seterr(errstr, errlen, TM_EKAFKA,
                           "kafka: %s topic '%s' not visible after creating it", nt->kind,
                           nt->topic);
    }
    rd_kafka_topic_destroy(meta);
    *partitions = parts;
    return rc;
}

/*
 * Makes sure the changelog topic exists with a partition for every input
 * partition: creates it if missing (partitions = the most any input topic
 * has, replication min(3, brokers)), refuses one that is too small.
 */
int tm_kafka_ensure_changelog(tm_kafka *k, char *errstr, size_t errlen)
{
    const tm_config *cfg = k->cfg;
    int64_t deadline = tm_monotonic_ms() + OP_TIMEOUT_MS;
    int max_parts = 0, brokers = 1, parts = 0, rc;

    for (size_t i = 0; i < cfg->n_input_topics; i++) {
        rc =
            topic_partitions(k->consumer, k->in_rkt[i], deadline, &parts, &brokers, errstr, errlen);
        if (rc)
            return rc;
        if (parts == 0)
            return tm_seterr(errstr, errlen, TM_EKAFKA, "kafka: input topic '%s' does not exist",
                             cfg->input_topics[i]);
        if (i > 0 && parts != max_parts)
            TM_LOG(TM_LOG_WARN, "kafka",
                   "input topics are not co-partitioned ('%s' has %d partitions, '%s' %d): a "
                   "task sees only the topics that have its partition",
                   cfg->input_topics[i], parts, cfg->input_topics[0], max_parts);
        if (parts > max_parts)
            max_parts = parts;
    }

    /* Compaction keeps the changelog near the size of the state itself
     * (one record per live window and dedup batch, and the checkpoint),
     * which is what a restore from an empty store reads. Kafka never
     * compacts the active segment, and by default rolls it only at 1 GiB
     * or after 7 days, and cleans a log only once half of it is dirty; a
     * changelog rewritten every commit interval would then restore up to
     * twice the state plus a gigabyte. So: segments of 64 MiB or 10
     * minutes, and a cleaning pass once 10% is dirty. Tombstones stay for
     * 7 days (delete.retention.ms): a store that was away for less than
     * that still sees every deletion in the tail it replays. */
    static const char *const changelog_configs[][2] = {
        {"cleanup.policy", "compact"},
        {"segment.bytes", "67108864"},
        {"segment.ms", "600000"},
        {"min.cleanable.dirty.ratio", "0.1"},
        {"delete.retention.ms", "604800000"},
    };
    const tm_kafka_new_topic nt = {
        .topic = k->changelog_topic,
        .kind = "changelog",
        .partitions = max_parts,
        .configs = changelog_configs,
        .n_configs = sizeof changelog_configs / sizeof changelog_configs[0],
        .shape = "compacted: segments of 64 MiB or 10 min, cleaned at 10% dirty",
    };
    rc = tm_kafka_ensure_topic(k, &nt, deadline, &parts, errstr, errlen);
    if (rc)
        return rc;
    if (parts < max_parts)
        return tm_seterr(errstr, errlen, TM_EKAFKA,
                         "kafka: changelog topic '%s' has %d partitions, fewer than the %d of the "
                         "input topics: add partitions to it",
                         k->changelog_topic, parts, max_parts);
    k->n_changelog = parts;
    k->n_input = max_parts;
    k->changelog_pending = tm_xmalloc((size_t)parts * sizeof *k->changelog_pending);
    k->changelog_committed = tm_xmalloc((size_t)parts * sizeof *k->changelog_committed);
    for (int i = 0; i < parts; i++)
        k->changelog_pending[i] = k->changelog_committed[i] = -1;
    return 0;
}

/* ---- output topics ------------------------------------------------------ */

/*
 * Results, late and dead-letter records go to the partition of the input
 * record they come from (the task's), so each topic tidemark writes them
 * to must exist with at least `needed` partitions. Checked at open and on
 * every assignment, so that a missing or too small topic is refused at
 * once (TM_ECONFIG, naming the option, the topic, what it has and what is
 * needed) rather than when its first record is produced. The late topic is
 * not checked with late.action=drop: nothing is written to it.
 */
int tm_kafka_check_output_topics(tm_kafka *k, int32_t needed, char *errstr, size_t errlen)
{
    const tm_config *cfg = k->cfg;
    const struct {
        const char *key, *topic;
        bool used;
    } outs[] = {{"output.topic", cfg->output_topic, true},
                {"output.late_topic", cfg->late_topic, cfg->late_action == TM_LATE_EMIT},
                {"output.dlq_topic", cfg->dlq_topic, true}};
    int64_t deadline = tm_monotonic_ms() + OP_TIMEOUT_MS;
    for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++) {
        if (!outs[i].used)
            continue;
        rd_kafka_topic_t *meta = rd_kafka_topic_new(k->consumer, outs[i].topic, NULL);
        if (!meta)
            return tm_seterr(errstr, errlen, TM_ECONFIG, "config: %s: '%s': %s", outs[i].key,
                             outs[i].topic, rd_kafka_err2str(rd_kafka_last_error()));
        int parts = 0, brokers = 0;
        int rc = topic_partitions(k->consumer, meta, deadline, &parts, &brokers, errstr, errlen);
        rd_kafka_topic_destroy(meta);
        if (rc)
            return rc;
        if (parts == 0)
            return tm_seterr(errstr, errlen, TM_ECONFIG,
                             "config: %s: topic '%s' does not exist; tidemark needs it with at "
                             "least %d partitions (one per input partition): create it",
                             outs[i].key, outs[i].topic, (int)needed);
        if (parts < needed)
            return tm_seterr(errstr, errlen, TM_ECONFIG,
                             "config: %s: topic '%s' has %d partitions; tidemark needs at least "
                             "%d (one per input partition: records go to their input record's "
                             "partition): add partitions to it",
                             outs[i].key, outs[i].topic, parts, (int)needed);
    }
    return 0;
}

/* ---- record limits ------------------------------------------------------ */

/* Kafka's default max.message.bytes, assumed for a topic whose configs
 * cannot be read (DescribeConfigs denied, or not supported). */
#define KAFKA_DEFAULT_MAX_MESSAGE_BYTES 1048588

/* The topics tidemark writes to: results, late, dead letters, changelog,
 * and the repartition topic when there is one. */
static size_t out_topics(const tm_kafka *k, const char *names[TM_KAFKA_OUT_TOPICS])
{
    names[0] = k->cfg->output_topic;
    names[1] = k->cfg->late_topic;
    names[2] = k->cfg->dlq_topic;
    names[3] = k->changelog_topic;
    names[4] = k->repartition_topic;
    return k->repartition_topic ? 5 : 4;
}

/* The max.message.bytes of one described topic, or 0 when it has none. */
static size_t described_max_bytes(const rd_kafka_ConfigResource_t *res)
{
    size_t n = 0;
    const rd_kafka_ConfigEntry_t **entries = rd_kafka_ConfigResource_configs(res, &n);
    for (size_t i = 0; i < n; i++) {
        const char *v = rd_kafka_ConfigEntry_value(entries[i]);
        int64_t bytes;
        if (strcmp(rd_kafka_ConfigEntry_name(entries[i]), "max.message.bytes") == 0 && v &&
            tm_parse_i64(v, &bytes) == 0 && bytes > 0)
            return (size_t)bytes;
    }
    return 0;
}

/*
 * Reads max.message.bytes of the named topics (DescribeConfigs). A topic
 * whose configs cannot be read is assumed to have Kafka's default, with a
 * warning: the service still starts where the ACLs deny DescribeConfigs.
 */
void tm_kafka_describe_limits(tm_kafka *k, const char *const *names, size_t n, size_t *topic_max)
{
    char failed[256] = "";
    describe_request req = {tm_xcalloc(n, sizeof *req.res), n};
    for (size_t i = 0; i < n; i++) {
        req.res[i] = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, names[i]);
        topic_max[i] = 0;
    }
    rd_kafka_event_t *ev =
        admin_call(k->consumer, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, send_describe_configs, &req,
                   "DescribeConfigs", failed, sizeof failed);
    size_t cnt = 0;
    const rd_kafka_ConfigResource_t **got =
        ev ? rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev),
                                                       &cnt)
           : NULL;
    for (size_t i = 0; i < n; i++) {
        const char *why = ev ? "not in the answer" : failed;
        for (size_t j = 0; j < cnt; j++) {
            if (strcmp(rd_kafka_ConfigResource_name(got[j]), names[i]) != 0)
                continue;
            why = rd_kafka_ConfigResource_error(got[j])
                      ? rd_kafka_ConfigResource_error_string(got[j])
                      : NULL;
            if (!why)
                topic_max[i] = described_max_bytes(got[j]);
            if (!why && topic_max[i] == 0)
                why = "no max.message.bytes in its configs";
        }
        if (why) {
            TM_LOG(TM_LOG_WARN, "kafka",
                   "cannot read max.message.bytes of topic %s (%s): assuming Kafka's default %d",
                   names[i], why, KAFKA_DEFAULT_MAX_MESSAGE_BYTES);
            topic_max[i] = KAFKA_DEFAULT_MAX_MESSAGE_BYTES;
        }
    }
    if (ev)
        rd_kafka_event_destroy(ev);
    for (size_t i = 0; i < n; i++)
        rd_kafka_ConfigResource_destroy(req.res[i]);
    free(req.res);
}

/* The largest record tidemark may write to each topic it writes to, and
 * batch.size in pconf lowered to the smallest topic limit (*lowered: a
 * broker refuses a whole batch larger than the topic's max.message.bytes,
 * and librdkafka does not split one). Refuses a topic too small for the
 * records tidemark must be able to write (needed[i]). */
int tm_kafka_set_record_limits(tm_kafka *k, rd_kafka_conf_t *pconf, const size_t *needed,
                               bool *lowered, char *errstr, size_t errlen)
{
    const char *names[TM_KAFKA_OUT_TOPICS];
    size_t topic_max[TM_KAFKA_OUT_TOPICS], n = out_topics(k, names);
    tm_kafka_describe_limits(k, names, n, topic_max);
    k->limits = tm_xcalloc(n, sizeof *k->limits);
    k->n_limits = n;
    size_t smallest = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        size_t limit = topic_max[i] < k->producer_max_bytes ? topic_max[i] : k->producer_max_bytes;
        k->limits[i] = (out_limit){names[i], limit};
        if (topic_max[i] < smallest)
            smallest = topic_max[i];
        if (limit < needed[i])
            return tm_seterr(errstr, errlen, TM_ECONFIG,
                             "config: topic '%s' takes records of at most %zu bytes (its "
                             "max.message.bytes %zu, the producer's message.max.bytes %zu); "
                             "tidemark needs %zu for the largest record it may write there: "
                             "raise the topic's max.message.bytes",
                             names[i], limit, topic_max[i], k->producer_max_bytes, needed[i]);
    }
    char batch[32];
    size_t sz = sizeof batch;
    int64_t current = 0;
    if (rd_kafka_conf_get(pconf, "batch.size", batch, &sz) == RD_KAFKA_CONF_OK &&
        tm_parse_i64(batch, &current) == 0 && current > 0 && (size_t)current > smallest) {
        snprintf(batch, sizeof batch, "%zu", smallest);
        TM_LOG(TM_LOG_INFO, "kafka", "batch.size lowered to %s: the smallest max.message.bytes",
               batch);
        *lowered = true;
        return tm_kafka_conf_set(pconf, "batch.size", batch, errstr, errlen);
    }
    return 0;
}

size_t tm_kafka_record_limit(const tm_kafka *k, const char *topic)
{
    for (size_t i = 0; i < k->n_limits; i++)
        if (strcmp(k->limits[i].topic, topic) == 0)
            return k->limits[i].max_bytes;
    return k->producer_max_bytes;
}

size_t tm_kafka_changelog_record_limit(const tm_kafka *k)
{
    return tm_kafka_record_limit(k, k->changelog_topic);
}

int tm_kafka_topic_partitions(tm_kafka *k, const char *topic, int *partitions, char *errstr,
                              size_t errlen)
{
    rd_kafka_topic_t *meta = rd_kafka_topic_new(k->restore, topic, NULL);
    if (!meta)
        return tm_seterr(errstr, errlen, TM_ECONFIG, "config: topic '%s': %s", topic,
                         rd_kafka_err2str(rd_kafka_last_error()));
    int brokers = 0;
    int rc = topic_partitions(k->restore, meta, tm_monotonic_ms() + OP_TIMEOUT_MS, partitions,
                              &brokers, errstr, errlen);
    rd_kafka_topic_destroy(meta);
    return rc;
}

int tm_kafka_delete_topic(tm_kafka *k, const char *topic, char *errstr, size_t errlen)
{
    char what[320];
    snprintf(what, sizeof what, "deleting topic '%s'", topic);
    rd_kafka_DeleteTopic_t *dt = rd_kafka_DeleteTopic_new(topic);
    rd_kafka_event_t *ev = admin_call(k->restore, RD_KAFKA_ADMIN_OP_DELETETOPICS, send_delete_topic,
                                      &dt, what, errstr, errlen);
    int rc = ev ? 0 : TM_EKAFKA;
    if (ev) {
        size_t cnt = 0;
        const rd_kafka_topic_result_t **res =
            rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &cnt);
        rd_kafka_resp_err_t err =
            cnt == 1 ? rd_kafka_topic_result_error(res[0]) : RD_KAFKA_RESP_ERR__BAD_MSG;
        if (err && err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
            rc = tm_seterr(errstr, errlen, TM_EKAFKA, "kafka: %s: %s", what, rd_kafka_err2str(err));
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_DeleteTopic_destroy(dt);
    return rc;
}

int tm_kafka_delete_group(tm_kafka *k, const char *group, bool *found, bool *has_members,
                          char *errstr, size_t errlen)
{
    char what[320];
    snprintf(what, sizeof what, "deleting consumer group '%s'", group);
    *found = false;
    *has_members = false;
    rd_kafka_DeleteGroup_t *dg = rd_kafka_DeleteGroup_new(group);
    rd_kafka_event_t *ev = admin_call(k->restore, RD_KAFKA_ADMIN_OP_DELETEGROUPS, send_delete_group,
                                      &dg, what, errstr, errlen);
    int rc = ev ? 0 : TM_EKAFKA;
    if (ev) {
        size_t cnt = 0;
        const rd_kafka_group_result_t **res =
            rd_kafka_DeleteGroups_result_groups(rd_kafka_event_DeleteGroups_result(ev), &cnt);
        const rd_kafka_error_t *error = cnt == 1 ? rd_kafka_group_result_error(res[0]) : NULL;
        rd_kafka_resp_err_t err = cnt != 1 ? RD_KAFKA_RESP_ERR__BAD_MSG
                                  : error  ? rd_kafka_error_code(error)
                                           : RD_KAFKA_RESP_ERR_NO_ERROR;
        *found = err == RD_KAFKA_RESP_ERR_NO_ERROR;
        *has_members = err == RD_KAFKA_RESP_ERR_NON_EMPTY_GROUP;
        if (*has_members)
            rc = tm_seterr(errstr, errlen, TM_EKAFKA,
                           "kafka: consumer group '%s' has active members: stop every instance "
                           "of the application first",
                           group);
        else if (err && err != RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND)
            rc = tm_seterr(errstr, errlen, TM_EKAFKA, "kafka: %s: %s", what,
                           error ? rd_kafka_error_string(error) : rd_kafka_err2str(err));
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_DeleteGroup_destroy(dg);
    return rc;
}
