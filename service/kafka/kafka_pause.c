/*
 * kafka_pause.c: pausing and resuming owned input partitions (watermark
 * alignment, SEMANTICS 11).
 *
 * Invariants:
 * - paused[j * n_consumed + i] says whether input topic i of owned[j]
 *   is paused by tidemark; every partition starts resumed on assignment,
 *   and every paused one is resumed before a revoke gives it up, so no
 *   pause outlives the assignment it was made in.
 * - No record is lost or read twice: a pause comes between two batches,
 *   after the runner has processed every record handed out. librdkafka
 *   then discards what it had fetched beyond them (the pause is a version
 *   barrier) and, on resume, fetches again from the position after the
 *   last record handed out (or from the assigned offset when none was).
 */
#include "kafka_handle.h"

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "alloc.h"
#include "err.h"

/* Pauses or resumes one partition in librdkafka. */
static int pause_one(tm_kafka *k, const char *topic, int32_t partition, bool paused, char *errstr,
                     size_t errlen)
{
    rd_kafka_topic_partition_list_t *one = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(one, topic, partition);
    rd_kafka_resp_err_t err = paused ? rd_kafka_pause_partitions(k->consumer, one)
                                     : rd_kafka_resume_partitions(k->consumer, one);
    if (!err)
        err = one->elems[0].err;
    rd_kafka_topic_partition_list_destroy(one);
    if (err)
        return tm_seterr(errstr, errlen, TM_EKAFKA, "kafka: %s %s [%d]: %s",
                         paused ? "pause" : "resume", topic, (int)partition, rd_kafka_err2str(err));
    return 0;
}

int tm_kafka_set_paused(tm_kafka *k, size_t topic_index, int32_t task, bool paused, char *errstr,
                        size_t errlen)
{
    assert(topic_index < k->cfg->n_input_topics);
    ssize_t s = tm_kafka_owned_slot(k, topic_index, task);
    if (s < 0 || k->paused[s] == paused)
        return 0;
    int rc = pause_one(k, k->cfg->input_topics[topic_index], task, paused, errstr, errlen);
    if (rc < 0)
        return rc;
    k->paused[s] = paused;
    return 1;
}

int tm_kafka_resume_all(tm_kafka *k, char *errstr, size_t errlen)
{
    size_t nt = k->cfg->n_input_topics; /* the repartition topic is never paused */
    for (size_t j = 0; j < k->n_owned; j++)
        for (size_t i = 0; i < nt; i++) {
            int rc = tm_kafka_set_paused(k, i, k->owned[j], false, errstr, errlen);
            if (rc < 0)
                return rc;
        }
    return 0;
}

void tm_kafka_pause_assigned(tm_kafka *k)
{
    free(k->paused);
    k->paused = tm_xcalloc(k->n_owned * k->n_consumed + 1, sizeof *k->paused);
}
