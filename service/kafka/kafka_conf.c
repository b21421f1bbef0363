/*
 * kafka_conf.c: the configuration every librdkafka client of a tm_kafka
 * starts from: the config's kafka.* properties passed through as they are
 * (a property librdkafka refuses is an error naming it), the properties
 * exactly-once forces and the defaults a user may override, tidemark's log
 * and error callbacks, and the client made from it.
 */
#include "kafka_handle.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "log_limit.h"

/* ---- callbacks -------------------------------------------------------------- */

/* librdkafka logs with syslog levels (0 emerg .. 7 debug). */
static tm_log_level log_level_of(int syslog_level)
{
    if (syslog_level <= 3)
        return TM_LOG_ERROR;
    if (syslog_level == 4)
        return TM_LOG_WARN;
    if (syslog_level <= 6)
        return TM_LOG_INFO;
    return TM_LOG_DEBUG;
}

/* While a broker is unreachable librdkafka repeats some lines hundreds of
 * times (582 identical _ALL_BROKERS_DOWN errors in 2 ms were seen): each
 * line once per window, then with the count of its repeats. One limiter
 * for the process: the lines name their client, so clients do not hide
 * each other's. */
#define REPEAT_WINDOW_MS 10000

static tm_log_limit repeats = {.window_ms = REPEAT_WINDOW_MS};
static pthread_mutex_t repeats_lock = PTHREAD_MUTEX_INITIALIZER;

/* Logs msg unless it repeats a line logged less than the window ago. Lines
 * below the threshold are neither logged nor counted. */
static void log_limited(tm_log_level level, const char *msg)
{
    if (level < tm_log_threshold)
        return;
    uint64_t suppressed;
    pthread_mutex_lock(&repeats_lock);
    bool admit = tm_log_limit_admit(&repeats, msg, tm_monotonic_ms(), &suppressed);
    pthread_mutex_unlock(&repeats_lock);
    if (!admit)
        return;
    if (suppressed > 0)
        TM_LOG(level, "kafka", "%s (%llu repeats of this line suppressed since it was last logged)",
               msg, (unsigned long long)suppressed);
    else
        TM_LOG(level, "kafka", "%s", msg);
}

/* Runs on librdkafka's threads: the limiter is locked, the logger is
 * thread-safe. */
static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    char msg[1024];
    snprintf(msg, sizeof msg, "%s: %s: %s", rd_kafka_name(rk), fac, buf);
    log_limited(log_level_of(level), msg);
}

/* Client-level errors (all brokers down, authentication), on the
 * runner's thread, or the background thread for the changelog reader:
 * the limiter is locked, the logger is thread-safe. librdkafka
 * recovers from all but the fatal ones by itself; those surface again on
 * the next poll or transactional call, which classifies them. */
static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)opaque;
    tm_log_level level = err == RD_KAFKA_RESP_ERR__FATAL ? TM_LOG_ERROR : TM_LOG_WARN;
    char msg[1024];
    snprintf(msg, sizeof msg, "%s: %s: %s", rd_kafka_name(rk),
             rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
    log_limited(level, msg);
}

/* Error events wait in a client's queue until the client is polled, and
 * are logged then, with that time. The producer is polled by produce,
 * commit and abort only, so an outage's errors came out after it, or at
 * close; poll_batch, which the runner calls all the time, serves it too.
 * (The changelog reader's are served in the background:
 * kafka_changelog_reader.c.) */
void tm_kafka_serve_queues(tm_kafka *k)
{
    if (k->producer)
        rd_kafka_poll(k->producer, 0);
}

/* ---- configuration ------------------------------------------------------ */

int tm_kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value, char *errstr,
                      size_t errlen)
{
    char msg[512];
    if (rd_kafka_conf_set(conf, key, value, msg, sizeof msg) != RD_KAFKA_CONF_OK)
        return tm_seterr(errstr, errlen, TM_ECONFIG, "config: kafka.%s: %s", key, msg);
    return 0;
}

/* Sets a property exactly-once depends on, whatever the user said. */
int tm_kafka_conf_force(rd_kafka_conf_t *conf, const tm_config *cfg, const char *key,
                        const char *value, char *errstr, size_t errlen)
{
    const char *user = tm_config_kafka(cfg, key);
    if (user && strcmp(user, value) != 0)
        TM_LOG(TM_LOG_WARN, "kafka", "kafka.%s=%s ignored: tidemark needs %s=%s", key, user, key,
               value);
    return tm_kafka_conf_set(conf, key, value, errstr, errlen);
}

/* Sets a default the user may override (under any of its names). */
int tm_kafka_conf_default(rd_kafka_conf_t *conf, const tm_config *cfg, const char *key,
                          const char *alias, const char *value, char *errstr, size_t errlen)
{
    if (tm_config_kafka(cfg, key) || (alias && tm_config_kafka(cfg, alias)))
        return 0;
    return tm_kafka_conf_set(conf, key, value, errstr, errlen);
}

/* A conf with the user's kafka.* properties and tidemark's callbacks. */
int tm_kafka_base_conf(tm_kafka *k, rd_kafka_conf_t **out, char *errstr, size_t errlen)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    for (size_t i = 0; i < k->cfg->n_kafka; i++) {
        int rc =
            tm_kafka_conf_set(conf, k->cfg->kafka[i].key, k->cfg->kafka[i].value, errstr, errlen);
        if (rc) {
            rd_kafka_conf_destroy(conf);
            return rc;
        }
    }
    rd_kafka_conf_set_log_cb(conf, on_log);
    rd_kafka_conf_set_error_cb(conf, on_error);
    rd_kafka_conf_set_opaque(conf, k);
    *out = conf;
    return 0;
}

/* Creates a client from conf (consumed either way). */
int tm_kafka_new_client(rd_kafka_t **out, rd_kafka_type_t type, rd_kafka_conf_t *conf,
                        const char *what, char *errstr, size_t errlen)
{
    char msg[512];
    rd_kafka_t *rk = rd_kafka_new(type, conf, msg, sizeof msg);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        return tm_seterr(errstr, errlen, TM_ECONFIG, "config: kafka: %s: %s", what, msg);
    }
    *out = rk;
    return 0;
}
