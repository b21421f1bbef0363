/*
 * telemetry.h: what the live service tells its operators: the metrics of
 * deploy/METRICS.md on GET /metrics, and its health on GET /healthz
 * (liveness) and GET /readyz (readiness), served on metrics.port.
 *
 * Threading: the runner's thread records events and publishes a rendered
 * snapshot of the metrics; the HTTP thread only copies that snapshot and
 * reads the health state, both under one mutex. A scrape never waits for
 * the service loop, so it answers even while the loop is stuck (and then
 * /healthz says so).
 */
#ifndef TM_TELEMETRY_H
#define TM_TELEMETRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "engine.h"

/* One task as the runner sees it, for a publication. The arrays have one
 * entry per topic the task consumes (tm_engine_task_topics): the input
 * topics, then, for a paired task (tm_engine_paired), the repartition
 * topic. */
typedef struct tm_task_view {
    int32_t partition;
    const tm_engine *engine;
    const uint64_t *consumed;    /* records consumed by this incarnation */
    const int64_t *consumer_lag; /* -1 unknown */
    uint64_t state_bytes;
} tm_task_view;

typedef struct tm_telemetry tm_telemetry;

/* Creates the telemetry of cfg and, unless metrics.port is 0, starts the
 * HTTP server. Returns 0 and writes *out, or TM_EIO with a message naming
 * metrics.port. */
int tm_telemetry_open(tm_telemetry **out, const tm_config *cfg, char *errstr, size_t errlen);

/* Stops the server; NULL is a no-op. */
void tm_telemetry_close(tm_telemetry *t);

/* ---- health (the runner's thread) ---- */

/* The loop is alive at now: it turned, or retried a broker call. */
void tm_telemetry_alive(tm_telemetry *t, int64_t now);
/* From now the loop waits on the broker for `what` (a static string:
 * "commit", "restore: ...", ...); NULL: it no longer waits. While it
 * waits it is alive (/healthz 200) and not ready (/readyz 503 "waiting for
 * the broker: <what>", or "restoring" during a restore), however long the
 * wait: each has its own timeout. */
void tm_telemetry_waiting(tm_telemetry *t, const char *what, int64_t now);
/* The consumer polled at now, owning n_tasks tasks. */
void tm_telemetry_polled(tm_telemetry *t, int64_t now, size_t n_tasks);
/* Tasks are being restored (between on and off, not ready). */
void tm_telemetry_restoring(tm_telemetry *t, bool on);
/* Shutting down: not ready from now on. */
void tm_telemetry_stopping(tm_telemetry *t);

/* ---- events (the runner's thread) ---- */

void tm_telemetry_committed(tm_telemetry *t, int64_t duration_ms, int64_t now);
void tm_telemetry_aborted(tm_telemetry *t);
/* Watermark alignment paused an input partition. */
void tm_telemetry_paused(tm_telemetry *t);
/* A task restored: the changelog records it replayed, and those it
 * skipped as not tidemark's (restore.h). */
void tm_telemetry_restored(tm_telemetry *t, int32_t partition, uint64_t records, uint64_t foreign,
                           int64_t duration_ms);
/* A task's engine goes away (revoked, or rebuilt after an abort): its
 * counters are added to the partition's totals, so they stay monotonic. */
void tm_telemetry_retire(tm_telemetry *t, const tm_task_view *task);

/* The Kafka timestamp types (bits 1u << tm_ts_type, kafka.h) that input
 * topic `topic` (its index) has delivered so far, for the next
 * publication. */
void tm_telemetry_timestamp_types(tm_telemetry *t, size_t topic, unsigned types);

/* The repartition topic's traffic of this instance's paired tasks
 * (repartition_io.h), for the next publication: routed[r] events written
 * to window task r (r < n_windows, R; copied), and `foreign` records read
 * from it and skipped as not tidemark's. Both are the process's running
 * totals. */
void tm_telemetry_repartition(tm_telemetry *t, const uint64_t *routed, size_t n_windows,
                              uint64_t foreign);

/* ---- publication (the runner's thread) ---- */

/* Whether a publication is due at now (at most one per 250 ms). */
bool tm_telemetry_due(const tm_telemetry *t, int64_t now);
/* Renders the metrics of the owned tasks at now and publishes them. */
void tm_telemetry_publish(tm_telemetry *t, const tm_task_view *tasks, size_t n, int64_t now);

#endif
