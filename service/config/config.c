/*
 * config.c: loads a tm_config from a JSON file, the environment and
 * command-line overrides (config.h). This file holds the public API and
 * runs the loader's phases; config_private.h lists the files that do them.
 *
 * Invariants:
 * - Every option is one row of opts[] (config_options.c). Option names, environment
 *   names, defaults, bounds, the help text and the validation all derive
 *   from that row; no other code spells an option's rules.
 * - Loading runs in two phases. Gathering: each source (defaults, file,
 *   environment, overrides, in that order) only records which raw value it
 *   supplies for which option, a later source replacing an earlier one.
 *   Applying: each winning raw value is then parsed and checked exactly
 *   once, with the name of the source that supplied it in any error. So a
 *   bad value in the file that the environment overrides is never reported.
 * - Defaults are text parsed like an override, so a default can never
 *   escape the checks a user value gets.
 * - A returned config is complete and consistent: dependent defaults are
 *   filled in (dedup.ttl_ms, output.late_topic, output.dlq_topic), the
 *   window offset is normalised, and cross-option rules hold. Consumers
 *   never re-validate it.
 * - Every error message starts with "config" and names the key (or the
 *   environment variable, or the file) it is about.
 */
#include "config_private.h"

#include "alloc.h"
#include "err.h"
#include "num.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- errors ----------------------------------------------------------- */

/* "config: <key><origin>: <message>": the one shape of a value error. */
__attribute__((format(printf, 4, 5))) int config_key_fail(loader *L, const char *key,
                                                          const char *origin, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return tm_seterr(L->errstr, L->errlen, TM_ECONFIG, "config: %s%s: %s", key, origin, msg);
}

const char *config_json_type_name(const cJSON *j)
{
    if (cJSON_IsString(j))
        return "a string";
    if (cJSON_IsNumber(j))
        return "a number";
    if (cJSON_IsBool(j))
        return "a bool";
    if (cJSON_IsArray(j))
        return "a list";
    if (cJSON_IsObject(j))
        return "an object";
    return "null";
}

/* ---- public API ---------------------------------------------------------- */

int tm_config_load(tm_config **out, const char *path, char *const *envp,
                   const char *const *overrides, size_t n_overrides, char *errstr, size_t errlen)
{
    loader L = {.errstr = errstr, .errlen = errlen};
    cJSON *root = NULL;
    int rc = 0;
    L.cfg = tm_xcalloc(1, sizeof *L.cfg);
    size_t n_opts;
    config_options(&n_opts); /* for its length: one slot per row */
    L.slots = tm_xcalloc(n_opts, sizeof *L.slots);
    config_load_defaults(&L);
    if (path)
        rc = config_load_file(&L, path, &root);
    if (rc == 0 && envp)
        rc = config_load_env(&L, envp);
    if (rc == 0 && overrides)
        rc = config_load_overrides(&L, overrides, n_overrides);
    if (rc == 0)
        rc = config_apply_all(&L);
    if (rc == 0)
        rc = config_resolve(&L);
    cJSON_Delete(root);
    free(L.kafka_src);
    free(L.slots);
    if (rc != 0) {
        tm_config_free(L.cfg);
        return rc;
    }
    *out = L.cfg;
    return 0;
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
