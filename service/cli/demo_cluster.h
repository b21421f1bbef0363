/*
 * demo_cluster.h: the Kafka cluster and the event source of `tidemark
 * demo`, both inside the process.
 */
#ifndef TM_DEMO_CLUSTER_H
#define TM_DEMO_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

/* A Kafka cluster inside this process: librdkafka's mock cluster with the
 * project's transaction patches (tests/broker/README.md), for `tidemark
 * demo`. Not for production. */
typedef struct tm_demo_cluster tm_demo_cluster;

int tm_demo_cluster_start(tm_demo_cluster **out, int brokers, char *errstr, size_t errlen);
/* "host:port,...": valid until the cluster stops. */
const char *tm_demo_cluster_bootstrap(const tm_demo_cluster *c);
int tm_demo_cluster_create_topic(tm_demo_cluster *c, const char *topic, int partitions,
                                 char *errstr, size_t errlen);
/* NULL is a no-op. */
void tm_demo_cluster_stop(tm_demo_cluster *c);

/* A plain (non-transactional) producer feeding input topics: the demo's
 * event source. Usable from another thread than the runner's. */
typedef struct tm_demo_loader tm_demo_loader;

int tm_demo_loader_open(tm_demo_loader **out, const char *bootstrap, char *errstr, size_t errlen);
/* Produces one record with timestamp ts (copies the bytes). */
int tm_demo_loader_send(tm_demo_loader *l, const char *topic, int32_t partition, const void *key,
                        size_t key_len, const void *value, size_t value_len, int64_t ts,
                        char *errstr, size_t errlen);
/* Flushes and closes; NULL is a no-op. */
void tm_demo_loader_close(tm_demo_loader *l);

#endif
