/*
 * reset.c: see reset.h.
 *
 * Order matters: the consumer group goes first because Kafka refuses to
 * delete a group with active members, which makes a reset beside running
 * instances fail before anything is gone. Then the topics (their records
 * are the state), then this machine's stores, which are only a cache of
 * the changelog.
 */
#include "reset.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "clock.h"
#include "err.h"
#include "kafka.h"
#include "num.h"
#include "store.h"

/* The internal topics of an application, in deletion order. */
static const char *const topic_suffixes[] = {"-changelog", "-repartition"};
#define N_TOPICS (sizeof topic_suffixes / sizeof topic_suffixes[0])

typedef struct plan {
    tm_buf topics[N_TOPICS];
    int partitions[N_TOPICS]; /* 0: the topic does not exist */
} plan;

static int make_plan(tm_kafka *k, const tm_config *cfg, plan *p, FILE *out, char *errstr,
                     size_t errlen)
{
    fprintf(out, "tidemark reset: application '%s'\n", cfg->application_id);
    for (size_t i = 0; i < N_TOPICS; i++) {
        tm_buf_printf(&p->topics[i], "%s%s", cfg->application_id, topic_suffixes[i]);
        int rc = tm_kafka_topic_partitions(k, p->topics[i].data, &p->partitions[i], errstr, errlen);
        if (rc < 0)
            return rc;
        if (p->partitions[i] > 0)
            fprintf(out, "  topic %s (%d partitions): delete\n", p->topics[i].data,
                    p->partitions[i]);
        else
            fprintf(out, "  topic %s: does not exist\n", p->topics[i].data);
    }
    fprintf(out, "  consumer group %s and its committed input offsets: delete\n",
            cfg->application_id);
    fprintf(out, "  local state directory %s/%s: delete\n", cfg->state_dir, cfg->application_id);
    return TM_OK;
}

/* librdkafka's default session.timeout.ms. */
#define DEFAULT_SESSION_TIMEOUT_MS 45000
/* How often a group with members is tried again. */
#define RETRY_MS 1000

/*
 * Deletes the consumer group. A static member (static_membership, the
 * default) does not leave the group when it stops, so right after the
 * instances stop the group still has members until their sessions expire:
 * wait for that (kafka.session.timeout.ms, and a little more), saying so.
 * A running instance keeps its session alive, and the wait then ends in
 * the refusal.
 */
static int delete_group(tm_kafka *k, const tm_config *cfg, bool *found, FILE *out, char *errstr,
                        size_t errlen)
{
    const char *v = tm_config_kafka(cfg, "session.timeout.ms");
    int64_t session_ms = DEFAULT_SESSION_TIMEOUT_MS;
    if (v && (tm_parse_i64(v, &session_ms) < 0 || session_ms <= 0))
        session_ms = DEFAULT_SESSION_TIMEOUT_MS;
    int64_t deadline = tm_wall_clock_ms() + session_ms + 5000;
    bool told = false;
    for (;;) {
        bool members = false;
        int rc = tm_kafka_delete_group(k, cfg->application_id, found, &members, errstr, errlen);
        if (rc == TM_OK || !members || tm_wall_clock_ms() >= deadline)
            return rc;
        if (!told)
            fprintf(out,
                    "consumer group %s still has members: waiting up to %lld s for the "
                    "sessions of stopped instances to expire (kafka.session.timeout.ms)\n",
                    cfg->application_id, (long long)(session_ms / 1000 + 5));
        fflush(out);
        told = true;
        tm_sleep_ms(RETRY_MS);
    }
}

static int execute(tm_kafka *k, const tm_config *cfg, const plan *p, FILE *out, char *errstr,
                   size_t errlen)
{
    bool found;
    int rc = delete_group(k, cfg, &found, out, errstr, errlen);
    if (rc < 0)
        return rc;
    fprintf(out, "deleted consumer group %s%s\n", cfg->application_id,
            found ? "" : " (it did not exist)");
    for (size_t i = 0; i < N_TOPICS; i++) {
        if (p->partitions[i] == 0)
            continue;
        rc = tm_kafka_delete_topic(k, p->topics[i].data, errstr, errlen);
        if (rc < 0)
            return rc;
        fprintf(out, "deleted topic %s\n", p->topics[i].data);
    }
    size_t removed;
    rc = tm_store_remove_all(cfg->state_dir, cfg->application_id, &removed, errstr, errlen);
    if (rc < 0)
        return rc;
    fprintf(out, "deleted %zu task store(s) under %s/%s\n", removed, cfg->state_dir,
            cfg->application_id);
    fprintf(out,
            "reset done: the next start of '%s' reads its inputs from where "
            "kafka.auto.offset.reset points (default: the beginning), with empty state; "
            "delete the state volumes of instances on other machines as well\n",
            cfg->application_id);
    return TM_OK;
}

int tm_reset_run(const tm_config *cfg, bool confirmed, FILE *out, char *errstr, size_t errlen)
{
    tm_kafka *k = NULL;
    plan p = {0};
    int rc = tm_kafka_open_admin(&k, cfg, errstr, errlen);
    if (rc == TM_OK)
        rc = make_plan(k, cfg, &p, out, errstr, errlen);
    if (rc == TM_OK && !confirmed)
        rc = tm_seterr(errstr, errlen, TM_EINVAL,
                       "nothing deleted: add --yes to delete the above (stop every instance of "
                       "the application first)");
    if (rc == TM_OK)
        rc = execute(k, cfg, &p, out, errstr, errlen);
    for (size_t i = 0; i < N_TOPICS; i++)
        tm_buf_free(&p.topics[i]);
    tm_kafka_close(k);
    return rc;
}
