/*
 * demo_cluster.c: see demo_cluster.h. The one file outside service/kafka/
 * that includes librdkafka: its mock cluster is for the demo only, so the
 * production layer does not carry it.
 */
#include "demo_cluster.h"

#include <stdint.h>
#include <stdlib.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stddef.h>

#include "alloc.h"
#include "err.h"

struct tm_demo_cluster {
    rd_kafka_t *owner; /* the mock cluster lives in this handle's threads */
    rd_kafka_mock_cluster_t *mock;
};

int tm_demo_cluster_start(tm_demo_cluster **out, int brokers, char *errstr, size_t errlen)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* The owner handle only hosts the cluster: keep it quiet. */
    rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
    rd_kafka_t *owner = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!owner) {
        rd_kafka_conf_destroy(conf);
        return tm_seterr(errstr, errlen, TM_EKAFKA, "kafka: mock cluster: %s", err);
    }
    rd_kafka_mock_cluster_t *mock = rd_kafka_mock_cluster_new(owner, brokers);
    if (!mock) {
        rd_kafka_destroy(owner);
        return tm_seterr(errstr, errlen, TM_EKAFKA, "kafka: cannot start a mock cluster");
    }
    tm_demo_cluster *c = tm_xcalloc(1, sizeof *c);
    c->owner = owner;
    c->mock = mock;
    *out = c;
    return TM_OK;
}

const char *tm_demo_cluster_bootstrap(const tm_demo_cluster *c)
{
    return rd_kafka_mock_cluster_bootstraps(c->mock);
}

int tm_demo_cluster_create_topic(tm_demo_cluster *c, const char *topic, int partitions,
                                 char *errstr, size_t errlen)
{
    rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(c->mock, topic, partitions, 1);
    if (e)
        return tm_seterr(errstr, errlen, TM_EKAFKA, "kafka: creating topic '%s': %s", topic,
                         rd_kafka_err2str(e));
    return TM_OK;
}

void tm_demo_cluster_stop(tm_demo_cluster *c)
{
    if (!c)
        return;
    rd_kafka_mock_cluster_destroy(c->mock);
    rd_kafka_destroy(c->owner);
    free(c);
}

struct tm_demo_loader {
    rd_kafka_t *producer;
};

int tm_demo_loader_open(tm_demo_loader **out, const char *bootstrap, char *errstr, size_t errlen)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof err) !=
            RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "linger.ms", "5", err, sizeof err) != RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        return tm_seterr(errstr, errlen, TM_EKAFKA, "kafka: loader: %s", err);
    }
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!p) {
        rd_kafka_conf_destroy(conf);
        return tm_seterr(errstr, errlen, TM_EKAFKA, "kafka: loader: %s", err);
    }
    tm_demo_loader *l = tm_xcalloc(1, sizeof *l);
    l->producer = p;
    *out = l;
    return TM_OK;
}

int tm_demo_loader_send(tm_demo_loader *l, const char *topic, int32_t partition, const void *key,
                        size_t key_len, const void *value, size_t value_len, int64_t ts,
                        char *errstr, size_t errlen)
{
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            l->producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
            RD_KAFKA_V_KEY(key, key_len), RD_KAFKA_V_VALUE((void *)(uintptr_t)value, value_len),
            RD_KAFKA_V_TIMESTAMP(ts), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        rd_kafka_poll(l->producer, 0);
        if (!e)
            return TM_OK;
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            return tm_seterr(errstr, errlen, TM_EKAFKA, "kafka: loader: %s", rd_kafka_err2str(e));
        rd_kafka_poll(l->producer, 10); /* the local queue is full: let it drain */
    }
}

void tm_demo_loader_close(tm_demo_loader *l)
{
    if (!l)
        return;
    rd_kafka_flush(l->producer, 10000);
    rd_kafka_destroy(l->producer);
    free(l);
}
