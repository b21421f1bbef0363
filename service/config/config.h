/*
 * config.h: the pipeline configuration.
 *
 * Every option is one row of a static table in config_options.c (name, type,
 * default, bounds, help). Sources are layered: the JSON file, then
 * TIDEMARK_* environment variables, then command-line overrides; the later
 * source wins. Unknown keys are rejected, and every error names the key.
 *
 * A loaded tm_config is immutable and is passed down as const tm_config *;
 * there is no global configuration.
 */
#ifndef TM_CONFIG_H
#define TM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Every integer option lies within [-TM_CONFIG_INT_MAX, TM_CONFIG_INT_MAX]
 * (2^53), whichever source sets it: JSON numbers are exact integers up to
 * there, so the file, the environment and overrides accept the same values;
 * and the engine can combine durations (size + advance, D + L, 2 x (D + L))
 * without overflow, leaving only event times, which may be anything an
 * int64 holds, to saturating arithmetic. */
#define TM_CONFIG_INT_MAX ((int64_t)1 << 53)

typedef enum { TM_TIME_EPOCH_MS, TM_TIME_EPOCH_S, TM_TIME_RFC3339, TM_TIME_AUTO } tm_time_format;

typedef enum {
    TM_GROUP_GLOBAL,    /* no group_by: one key, "" */
    TM_GROUP_POINTER,   /* one JSON pointer */
    TM_GROUP_LIST,      /* a list of pointers -> compact JSON array text */
    TM_GROUP_RECORD_KEY /* "$record_key" */
} tm_group_mode;

typedef enum { TM_WINDOW_TUMBLING, TM_WINDOW_HOPPING, TM_WINDOW_SESSION } tm_window_type;

typedef enum { TM_AGG_COUNT, TM_AGG_SUM, TM_AGG_MIN, TM_AGG_MAX, TM_AGG_AVG } tm_agg_op;

typedef enum { TM_DEDUP_ID, TM_DEDUP_ID_EVENT_TIME } tm_dedup_key;

typedef enum { TM_SKEW_CLAMP, TM_SKEW_DLQ } tm_skew_action;

typedef enum { TM_LATE_EMIT, TM_LATE_DROP } tm_late_action;

/* watermark.combine (SEMANTICS 11). */
typedef enum { TM_COMBINE_MIN, TM_COMBINE_QUANTILE } tm_watermark_combine_mode;

/* repartition.mode (SEMANTICS 10); tm_config_repartitions resolves auto. */
typedef enum {
    TM_REPARTITION_AUTO,
    TM_REPARTITION_ALWAYS,
    TM_REPARTITION_NEVER
} tm_repartition_mode;

typedef struct tm_agg_spec {
    char *name;
    tm_agg_op op;
    char *pointer; /* NULL for count */
} tm_agg_spec;

/* A librdkafka property passed through from a "kafka.*" key. */
typedef struct tm_kv {
    char *key;
    char *value;
} tm_kv;

typedef struct tm_config {
    char *application_id;

    /* input.* */
    char **input_topics;
    size_t n_input_topics;
    char *event_time_pointer;
    tm_time_format event_time_format;
    tm_group_mode group_mode;
    char **group_pointers; /* 1 for TM_GROUP_POINTER, n for TM_GROUP_LIST */
    size_t n_group_pointers;
    char *event_id_pointer; /* NULL when not configured */

    /* watermark.* */
    int64_t max_out_of_orderness_ms;
    int64_t idle_timeout_ms; /* 0 disables idleness */
    tm_watermark_combine_mode watermark_combine;
    /* The q the task watermark combines its sources with, in (0, 1]:
     * watermark.quantile with quantile, 1 (the minimum) with min. */
    double watermark_quantile;
    /* Watermark alignment (live): pause an input partition more than this
     * far ahead of the smallest task watermark; 0 disables it. */
    int64_t alignment_max_drift_ms;

    /* repartition.* (SEMANTICS 10) */
    tm_repartition_mode repartition_mode;
    /* R, the window task count; 0 when unset: the input partition count. */
    int64_t repartition_partitions;

    /* window.* */
    tm_window_type window_type;
    int64_t window_size_ms;    /* tumbling, hopping */
    int64_t window_advance_ms; /* hopping */
    int64_t window_offset_ms;  /* tumbling, hopping */
    int64_t window_gap_ms;     /* session */

    int64_t allowed_lateness_ms;

    tm_agg_spec *aggs;
    size_t n_aggs;

    /* dedup.* */
    bool dedup_enabled;
    tm_dedup_key dedup_key;
    int64_t dedup_ttl_ms; /* resolved: the default is 2 x (D + L) */

    /* clock_skew.* */
    bool clock_skew_enabled; /* max_ahead_ms was set */
    int64_t clock_skew_max_ahead_ms;
    tm_skew_action clock_skew_action;
    /* Event time against the processing time (the wall clock live, the
     * largest receipt time so far in replay); 0: no check. */
    int64_t clock_skew_max_ahead_of_wall_ms;

    /* late.* */
    tm_late_action late_action;

    /* output.* */
    char *output_topic;
    char *late_topic;
    char *dlq_topic;

    /* Live service (tidemark run); unused by replay. */
    char *state_dir;
    int64_t commit_interval_ms;
    int64_t metrics_port;
    int64_t stall_timeout_ms;   /* health.stall_timeout_ms */
    int64_t max_broker_wait_ms; /* health.max_broker_wait_ms */
    char *log_level;
    bool static_membership; /* group.instance.id from the instance id */
    tm_kv *kafka;           /* kafka.* passthrough, in file order */
    size_t n_kafka;
} tm_config;

/*
 * Loads a configuration: the JSON file at path (may be NULL for none), then
 * the environment (envp, NULL-terminated "NAME=value" strings; may be NULL),
 * then overrides ("key=value" strings with dotted keys, e.g.
 * "watermark.idle_timeout_ms=5000").
 *
 * On success writes a new config to *out (the caller owns it; release with
 * tm_config_free) and returns 0. On failure returns TM_ECONFIG (or TM_EIO for
 * an unreadable file) and writes a message naming the offending key into
 * errstr; *out is untouched.
 */
int tm_config_load(tm_config **out, const char *path, char *const *envp,
                   const char *const *overrides, size_t n_overrides, char *errstr, size_t errlen);

/* Frees a config; NULL is a no-op. */
void tm_config_free(tm_config *cfg);

/* Writes the option reference (name, type, default, help) to f, for
 * tidemark --help and the README. */
void tm_config_print_help(void *file);

/*
 * The settings that shape the state an application keeps (window type and
 * sizes, offset, gap, aggregations, group key, dedup key and TTL, input
 * topics), as text: one "key=value" line each, in option-table order.
 * Written into every checkpoint, so that a restart under another
 * configuration is refused instead of restoring state of another shape.
 * Replaces out's contents.
 */
void tm_config_state_fingerprint(const tm_config *cfg, tm_buf *out);

/* Appends to out the keys whose values differ between two fingerprints,
 * as "key (was A, now B)" joined by "; "; returns how many. */
size_t tm_config_fingerprint_diff(const char *old, size_t old_len, const char *new, size_t new_len,
                                  tm_buf *out);

/* The value the user gave kafka.<key>, or NULL. */
const char *tm_config_kafka(const tm_config *cfg, const char *key);

/* librdkafka's message.max.bytes: its default and range. */
#define TM_PRODUCER_MAX_BYTES_DEFAULT 1000000
#define TM_PRODUCER_MAX_BYTES_MIN 1000
#define TM_PRODUCER_MAX_BYTES_MAX 1000000000

/* The largest record the producer sends: kafka.message.max.bytes, else
 * librdkafka's default. A topic may take less (its max.message.bytes). */
size_t tm_config_producer_max_bytes(const tm_config *cfg);

/* Checks the instance id of `tidemark run` (--instance-id, else the host
 * name) against the Kafka names made from it: "<application_id>-<instance
 * id>" must be a valid group.instance.id, which Kafka checks like a topic
 * name. Returns 0, or TM_ECONFIG with the problem in errstr (the caller
 * names where the id came from). */
int tm_config_check_instance_id(const tm_config *cfg, const char *instance_id, char *errstr,
                                size_t errlen);

/* Whether the pipeline repartitions (SEMANTICS 10): repartition.mode,
 * with auto resolved to never for group_by "$record_key" (records of a key
 * already share a partition) and to always otherwise (a pointer, a list of
 * pointers, or the one global key). */
bool tm_config_repartitions(const tm_config *cfg);

/* Index of topic in cfg->input_topics, or -1. */
int tm_config_topic_index(const tm_config *cfg, const char *topic);

#endif
