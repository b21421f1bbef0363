/*
 * config.c: a loaded tm_config (config.h): freeing it, and the questions
 * the rest of the service asks it. Loading is config_load.c.
 */
#include "config_loader.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "num.h"

void config_free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void config_free_aggs(tm_agg_spec *aggs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(aggs[i].name);
        free(aggs[i].pointer);
    }
    free(aggs);
}

void tm_config_free(tm_config *cfg)
{
    if (!cfg)
        return;
    free(cfg->application_id);
    config_free_strv(cfg->input_topics, cfg->n_input_topics);
    free(cfg->event_time_pointer);
    config_free_strv(cfg->group_pointers, cfg->n_group_pointers);
    free(cfg->event_id_pointer);
    config_free_aggs(cfg->aggs, cfg->n_aggs);
    free(cfg->output_topic);
    free(cfg->late_topic);
    free(cfg->dlq_topic);
    free(cfg->state_dir);
    free(cfg->log_level);
    for (size_t i = 0; i < cfg->n_kafka; i++) {
        free(cfg->kafka[i].key);
        free(cfg->kafka[i].value);
    }
    free(cfg->kafka);
    free(cfg);
}

int tm_config_topic_index(const tm_config *cfg, const char *topic)
{
    for (size_t i = 0; i < cfg->n_input_topics; i++)
        if (strcmp(cfg->input_topics[i], topic) == 0)
            return (int)i;
    return -1;
}

bool tm_config_repartitions(const tm_config *cfg)
{
    if (cfg->repartition_mode == TM_REPARTITION_AUTO)
        return cfg->group_mode != TM_GROUP_RECORD_KEY;
    return cfg->repartition_mode == TM_REPARTITION_ALWAYS;
}

const char *tm_config_kafka(const tm_config *cfg, const char *key)
{
    const char *v = NULL;
    for (size_t i = 0; i < cfg->n_kafka; i++)
        if (strcmp(cfg->kafka[i].key, key) == 0)
            v = cfg->kafka[i].value; /* one per key is kept; last wins anyway */
    return v;
}

size_t tm_config_producer_max_bytes(const tm_config *cfg)
{
    const char *v = tm_config_kafka(cfg, "message.max.bytes");
    int64_t n;
    /* librdkafka refuses values outside its range when the live service
     * starts; replay, which never starts a client, keeps the default. */
    if (!v || tm_parse_i64(v, &n) < 0 || n < TM_PRODUCER_MAX_BYTES_MIN ||
        n > TM_PRODUCER_MAX_BYTES_MAX)
        return TM_PRODUCER_MAX_BYTES_DEFAULT;
    return (size_t)n;
}

/* "<application_id>-<instance id>" is the group.instance.id (with static
 * membership), the transactional.id and the client.id: the strictest
 * rule among them is the broker's for group.instance.id, a topic name's.
 * Kafka sets no limit on transactional.id or client.id beyond its
 * protocol's 32767-byte strings (a longer client.id breaks every request
 * header, which shows as a transport failure). */
int tm_config_check_instance_id(const tm_config *cfg, const char *instance_id, char *errstr,
                                size_t errlen)
{
    if (instance_id[0] == '\0')
        return tm_seterr(errstr, errlen, TM_ECONFIG, "must not be empty");
    tm_buf name = {0};
    tm_buf_printf(&name, "%s-%s", cfg->application_id, instance_id);
    const char *problem = config_check_kafka_name(name.data);
    size_t room = CONFIG_KAFKA_NAME_MAX - strlen(cfg->application_id) - 1;
    int rc = 0;
    if (problem)
        rc = tm_seterr(errstr, errlen, TM_ECONFIG,
                       "makes the group.instance.id '<application_id>-<instance id>' (%zu "
                       "characters) invalid: %s (so the instance id may have 1-%zu characters of "
                       "A-Z a-z 0-9 . _ -)",
                       name.len, problem, room);
    tm_buf_free(&name);
    return rc;
}
