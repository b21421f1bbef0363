/*
 * config_options.c: the option table (config_loader.h), the choices of
 * its enum options and the checks of its string options, and lookup by
 * name.
 *
 * Every option is one row of opts[] below, and all of its rules derive from
 * that row (config.c states the loader's invariants).
 */
#include "config_loader.h"

#include "jsonptr.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Enum options are stored through memcpy of an int at an offset in
 * tm_config, and the choices arrays below list names in enum order. Both
 * break silently if config.h changes, so pin them here. */
_Static_assert(sizeof(tm_time_format) == sizeof(int), "enum size");
_Static_assert(sizeof(tm_window_type) == sizeof(int), "enum size");
_Static_assert(sizeof(tm_dedup_key) == sizeof(int), "enum size");
_Static_assert(sizeof(tm_skew_action) == sizeof(int), "enum size");
_Static_assert(sizeof(tm_late_action) == sizeof(int), "enum size");
_Static_assert(sizeof(tm_watermark_combine_mode) == sizeof(int), "enum size");
_Static_assert(sizeof(tm_repartition_mode) == sizeof(int), "enum size");
_Static_assert(TM_TIME_EPOCH_MS == 0 && TM_TIME_EPOCH_S == 1 && TM_TIME_RFC3339 == 2 &&
                   TM_TIME_AUTO == 3,
               "time_formats[] order");
_Static_assert(TM_WINDOW_TUMBLING == 0 && TM_WINDOW_HOPPING == 1 && TM_WINDOW_SESSION == 2,
               "config_window_types[] order");
_Static_assert(TM_AGG_COUNT == 0 && TM_AGG_SUM == 1 && TM_AGG_MIN == 2 && TM_AGG_MAX == 3 &&
                   TM_AGG_AVG == 4,
               "config_agg_ops[] order");
_Static_assert(TM_DEDUP_ID == 0 && TM_DEDUP_ID_EVENT_TIME == 1, "dedup_keys[] order");
_Static_assert(TM_SKEW_CLAMP == 0 && TM_SKEW_DLQ == 1, "skew_actions[] order");
_Static_assert(TM_LATE_EMIT == 0 && TM_LATE_DROP == 1, "late_actions[] order");
_Static_assert(TM_COMBINE_MIN == 0 && TM_COMBINE_QUANTILE == 1, "watermark_combines[] order");
_Static_assert(TM_REPARTITION_AUTO == 0 && TM_REPARTITION_ALWAYS == 1 && TM_REPARTITION_NEVER == 2,
               "config_repartition_modes[] order");

#define TOPIC_MAX CONFIG_KAFKA_NAME_MAX

/* The topics named after application_id: the changelog, the repartition
 * topic (kept free for a later version, so that no pipeline's name stops
 * fitting then), and the default late and dead-letter topics. The longest
 * suffix sets application_id's limit, 249 - 12 = 237 characters. */
static const char *const derived_topics[] = {"-changelog", "-repartition", "-late", "-dlq", NULL};

#define FIELD(f) offsetof(tm_config, f)

static const char *const time_formats[] = {"epoch_ms", "epoch_s", "rfc3339", "auto", NULL};
const char *const config_window_types[] = {"tumbling", "hopping", "session", NULL};
const char *const config_agg_ops[] = {"count", "sum", "min", "max", "avg", NULL};
static const char *const dedup_keys[] = {"id", "id+event_time", NULL};
static const char *const skew_actions[] = {"clamp", "dlq", NULL};
static const char *const late_actions[] = {"emit", "drop", NULL};
const char *const config_watermark_combines[] = {"min", "quantile", NULL};
const char *const config_repartition_modes[] = {"auto", "always", "never", NULL};
static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};

/* Only ASCII letters and digits: isalnum() would follow the locale. */
static bool is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

static bool all_name_chars(const char *s)
{
    for (; *s; s++)
        if (!is_name_char(*s))
            return false;
    return true;
}

/* RFC 6901, by the same compiler the decoder uses, so that a typo fails at
 * startup instead of sending every record to the dead-letter topic. The
 * message lives in thread-local storage until the next call. */
const char *config_check_pointer(const char *s)
{
    static _Thread_local char why[192];
    tm_jsonptr p;
    int rc = tm_jsonptr_compile(&p, s, why, sizeof why);
    tm_jsonptr_free(&p);
    return rc < 0 ? why : NULL;
}

/* Kafka's own topic name rules, checked early so that replay (which never
 * talks to Kafka) accepts exactly the configs the live service accepts. */
const char *config_check_kafka_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0)
        return "must not be empty";
    if (n > TOPIC_MAX)
        return "too long: a Kafka topic name has at most 249 characters";
    if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return "'.' and '..' are not valid Kafka topic names";
    if (!all_name_chars(s))
        return "a Kafka topic name may contain only A-Z a-z 0-9 . _ -";
    return NULL;
}

/* application_id names the consumer group (group.id: Kafka sets no limit
 * on it beyond its protocol's 32767-byte strings), the state directory and
 * the derived topics, so it takes the strictest of their rules: every
 * derived topic name must be valid. The message lives in thread-local
 * storage until the next call. */
static const char *check_app_id(const char *s)
{
    static _Thread_local char why[320];
    if (s[0] == '\0')
        return "must not be empty";
    if (!all_name_chars(s))
        return "may contain only A-Z a-z 0-9 . _ -";
    size_t n = strlen(s);
    for (size_t i = 0; derived_topics[i]; i++) {
        size_t derived = n + strlen(derived_topics[i]);
        if (derived <= TOPIC_MAX)
            continue;
        snprintf(why, sizeof why,
                 "too long (%zu characters): its topic '<application_id>%s' would have %zu, and "
                 "a Kafka topic name has at most %d (so application_id at most %d)",
                 n, derived_topics[i], derived, TOPIC_MAX, TOPIC_MAX - (int)strlen("-repartition"));
        return why;
    }
    return NULL;
}

static const char *check_nonempty(const char *s)
{
    return s[0] ? NULL : "must not be empty";
}

static const opt opts[] = {
    {.name = "application_id",
     .type = T_STRING,
     .flags = F_REQUIRED,
     .check = check_app_id,
     .off = FIELD(application_id),
     .help = "Names this pipeline; the group id and the changelog, late and DLQ topic "
             "names derive from it. 1-237 of [A-Za-z0-9._-]"},
    {.name = "input.topics",
     .type = T_LIST,
     .flags = F_REQUIRED | F_STATE,
     .check = config_check_kafka_name,
     .off = FIELD(input_topics),
     .off_n = FIELD(n_input_topics),
     .help = "Input topics (non-empty, co-partitioned)."},
    {.name = "input.event_time.pointer",
     .type = T_STRING,
     .flags = F_REQUIRED,
     .check = config_check_pointer,
     .off = FIELD(event_time_pointer),
     .help = "RFC 6901 JSON pointer to the event time in each record value."},
    {.name = "input.event_time.format",
     .type = T_ENUM,
     .def = "auto",
     .choices = time_formats,
     .off = FIELD(event_time_format),
     .help = "How to read the event time: epoch_ms, epoch_s, rfc3339, or auto "
             "(number -> epoch_ms, string -> rfc3339)."},
    {.name = "input.group_by",
     .flags = F_STATE,
     .type = T_GROUP_BY,
     .def_help = "(none: one global key)",
     .help = "Group key: a JSON pointer, a list of pointers, or \"$record_key\"."},
    {.name = "input.event_id",
     .flags = F_STATE,
     .type = T_STRING,
     .check = config_check_pointer,
     .off = FIELD(event_id_pointer),
     .def_help = "(none)",
     .help = "JSON pointer to the event id; required when dedup.enabled."},
    {.name = "watermark.max_out_of_orderness_ms",
     .type = T_INT,
     .def = "0",
     .min = 0,
     .max = INT64_MAX,
     .off = FIELD(max_out_of_orderness_ms),
     .help = "D: a partition's watermark is its largest event time minus D."},
    {.name = "watermark.idle_timeout_ms",
     .type = T_INT,
     .def = "0",
     .min = 0,
     .max = INT64_MAX,
     .off = FIELD(idle_timeout_ms),
     .help = "A partition silent this long stops holding the watermark back; 0 = never."},
    {.name = "watermark.combine",
     .type = T_ENUM,
     .def = "min",
     .choices = config_watermark_combines,
     .off = FIELD(watermark_combine),
     .help = "How the task watermark combines its partitions' watermarks: min (the "
             "slowest non-idle one), or quantile (see watermark.quantile)."},
    {.name = "watermark.quantile",
     .type = T_FRACTION,
     .off = FIELD(watermark_quantile),
     .def_help = "(required: quantile)",
     .help = "q: with watermark.combine = quantile, W is the largest watermark that "
             "ceil(q x n) of the n non-idle partitions have reached; 1 = min."},
    {.name = "watermark.alignment.max_drift_ms",
     .type = T_INT,
     .def = "0",
     .min = 0,
     .max = INT64_MAX,
     .off = FIELD(alignment_max_drift_ms),
     .help = "Live: pause reading an input partition whose watermark is more than this far "
             "ahead of the smallest task watermark of the instance; 0 = off."},
    {.name = "repartition.mode",
     .type = T_ENUM,
     .def = "auto",
     .flags = F_STATE,
     .choices = config_repartition_modes,
     .off = FIELD(repartition_mode),
     .help = "auto (never with group_by \"$record_key\", always otherwise), always (source "
             "tasks route events by murmur2(group key) to window tasks), or never (the input is "
             "already partitioned by the group key)."},
    {.name = "repartition.partitions",
     .type = T_INT,
     .flags = F_STATE,
     .min = 1,
     .max = INT32_MAX,
     .off = FIELD(repartition_partitions),
     .def_help = "(the input partition count)",
     .help = "R, the number of window tasks when repartitioning."},
    {.name = "window.type",
     .type = T_ENUM,
     .flags = F_REQUIRED | F_STATE,
     .choices = config_window_types,
     .off = FIELD(window_type),
     .help = "tumbling, hopping or session."},
    {.name = "window.size_ms",
     .flags = F_STATE,
     .type = T_INT,
     .min = 1,
     .max = INT64_MAX,
     .off = FIELD(window_size_ms),
     .windows = WIN_SIZED,
     .req_windows = WIN_SIZED,
     .def_help = "(required: tumbling, hopping)",
     .help = "Window length."},
    {.name = "window.advance_ms",
     .flags = F_STATE,
     .type = T_INT,
     .min = 1,
     .max = INT64_MAX,
     .off = FIELD(window_advance_ms),
     .windows = WIN(TM_WINDOW_HOPPING),
     .req_windows = WIN(TM_WINDOW_HOPPING),
     .def_help = "(required: hopping)",
     .help = "Distance between hopping window starts; <= window.size_ms."},
    {.name = "window.offset_ms",
     .flags = F_STATE,
     .type = T_INT,
     .def = "0",
     .min = INT64_MIN,
     .max = INT64_MAX,
     .off = FIELD(window_offset_ms),
     .windows = WIN_SIZED,
     .help = "Shifts window starts; any value, normalised into [0, size) "
             "(tumbling) or [0, advance) (hopping)."},
    {.name = "window.gap_ms",
     .flags = F_STATE,
     .type = T_INT,
     .min = 1,
     .max = INT64_MAX,
     .off = FIELD(window_gap_ms),
     .windows = WIN(TM_WINDOW_SESSION),
     .req_windows = WIN(TM_WINDOW_SESSION),
     .def_help = "(required: session)",
     .help = "Session gap: an event opens [t, t + gap)."},
    {.name = "allowed_lateness_ms",
     .type = T_INT,
     .def = "0",
     .min = 0,
     .max = INT64_MAX,
     .off = FIELD(allowed_lateness_ms),
     .help = "L: a fired window still takes (and re-emits for) events until W >= end + L."},
    {.name = "aggregations",
     .flags = F_STATE,
     .type = T_AGGS,
     .def_help = "[] (count only)",
     .help = "List of {name, op, pointer}; op count|sum|min|max|avg; "
             "pointer required except for count."},
    {.name = "dedup.enabled",
     .flags = F_STATE,
     .type = T_BOOL,
     .def = "false",
     .off = FIELD(dedup_enabled),
     .help = "Drop records whose dedup key was seen within dedup.ttl_ms."},
    {.name = "dedup.key",
     .flags = F_STATE,
     .type = T_ENUM,
     .def = "id+event_time",
     .choices = dedup_keys,
     .off = FIELD(dedup_key),
     .help = "Dedup key: the event id, or the pair (id, event time)."},
    {.name = "dedup.ttl_ms",
     .flags = F_STATE,
     .type = T_INT,
     .min = 1,
     .max = INT64_MAX,
     .off = FIELD(dedup_ttl_ms),
     .def_help = "2 x (D + L)",
     .help = "How long (in event time) a dedup key is held; D and L as above."},
    {.name = "clock_skew.max_ahead_ms",
     .type = T_INT,
     .min = 0,
     .max = INT64_MAX,
     .off = FIELD(clock_skew_max_ahead_ms),
     .def_help = "(none: no check)",
     .help = "M: an event time beyond receipt time + M is from the future."},
    {.name = "clock_skew.action",
     .type = T_ENUM,
     .def = "clamp",
     .choices = skew_actions,
     .off = FIELD(clock_skew_action),
     .help = "Future events: clamp (use receipt time) or dlq."},
    {.name = "clock_skew.max_ahead_of_wall_ms",
     .type = T_INT,
     .def = "0",
     .min = 0,
     .max = INT64_MAX,
     .off = FIELD(clock_skew_max_ahead_of_wall_ms),
     .help = "An event time beyond processing time + this is from the future too (producer "
             "clocks are not trusted); clock_skew.action applies. 0: no check."},
    {.name = "late.action",
     .type = T_ENUM,
     .def = "emit",
     .choices = late_actions,
     .off = FIELD(late_action),
     .help = "Too-late events: emit to output.late_topic, or drop."},
    {.name = "output.topic",
     .type = T_STRING,
     .flags = F_REQUIRED,
     .check = config_check_kafka_name,
     .off = FIELD(output_topic),
     .help = "Window results (key <group key>@<window start>)."},
    {.name = "output.late_topic",
     .type = T_STRING,
     .check = config_check_kafka_name,
     .off = FIELD(late_topic),
     .def_help = "<application_id>-late",
     .help = "Too-late records, with tidemark.* headers."},
    {.name = "output.dlq_topic",
     .type = T_STRING,
     .check = config_check_kafka_name,
     .off = FIELD(dlq_topic),
     .def_help = "<application_id>-dlq",
     .help = "Dead letters, with tidemark.* headers."},
    {.name = "state.dir",
     .type = T_STRING,
     .def = "/var/lib/tidemark",
     .check = check_nonempty,
     .off = FIELD(state_dir),
     .help = "Directory of the local state store."},
    {.name = "commit_interval_ms",
     .type = T_INT,
     .def = "100",
     .min = 1,
     .max = 60000,
     .off = FIELD(commit_interval_ms),
     .help = "How often a transaction is committed."},
    {.name = "metrics.port",
     .type = T_INT,
     .def = "9464",
     .min = 0,
     .max = 65535,
     .off = FIELD(metrics_port),
     .help = "HTTP port of /metrics, /healthz and /readyz; 0 = disabled."},
    {.name = "health.stall_timeout_ms",
     .type = T_INT,
     .def = "60000",
     .min = 1000,
     .max = 3600000,
     .off = FIELD(stall_timeout_ms),
     .help = "/healthz and /readyz fail once the service loop has not turned (or the "
             "consumer not polled) for this long."},
    {.name = "health.max_broker_wait_ms",
     .type = T_INT,
     .def = "3600000",
     .min = 1000,
     .max = 86400000,
     .off = FIELD(max_broker_wait_ms),
     .help = "/healthz fails once one wait on the broker has lasted this long: every broker "
             "call ends by its own timeout well before, so the client is stuck."},
    {.name = "log.level",
     .type = T_STRING,
     .def = "info",
     .choices = log_levels,
     .off = FIELD(log_level),
     .help = "debug, info, warn or error."},
    {.name = "static_membership",
     .type = T_BOOL,
     .def = "true",
     .off = FIELD(static_membership),
     .help = "Join the consumer group as a static member (group.instance.id = "
             "<application_id>-<instance id>): a restarted instance takes its tasks back at "
             "once, without a rebalance; an instance gone for good holds its tasks until "
             "kafka.session.timeout.ms. kafka.group.instance.id overrides the id."},
    {.name = "kafka.*",
     .type = T_KAFKA,
     .def_help = "(librdkafka's)",
     .help = "Passed to librdkafka as is, e.g. kafka.bootstrap.servers."},
};

#define N_OPTS (sizeof opts / sizeof opts[0])

const opt *config_options(size_t *n)
{
    *n = N_OPTS;
    return opts;
}

/* Writes "a, b, c" (sep ", ") or "a|b|c" into buf: for messages and help. */
void config_join_choices(const char *const *choices, const char *sep, char *buf, size_t n)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; choices[i] && used < n; i++) {
        int w = snprintf(buf + used, n - used, "%s%s", i ? sep : "", choices[i]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

/* ---- option lookup ---------------------------------------------------- */

const opt *config_find_opt(const char *name, size_t len)
{
    for (size_t i = 0; i < N_OPTS; i++) {
        const opt *o = &opts[i];
        if (o->type != T_KAFKA && strlen(o->name) == len && memcmp(o->name, name, len) == 0)
            return o;
    }
    return NULL;
}

slot *config_slot_of(loader *L, const opt *o)
{
    return &L->slots[o - opts];
}
