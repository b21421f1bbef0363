/*
 * config.c: loads a tm_config from a JSON file, the environment and
 * command-line overrides (config.h).
 *
 * Invariants:
 * - Every option is one row of opts[] below. Option names, environment
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
#include "config.h"

#include "jsonptr.h"

#include "alloc.h"
#include "buf.h"
#include "err.h"
#include "num.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Enum options are stored through memcpy of an int at an offset in
 * tm_config, and the choices arrays below list names in enum order. Both
 * break silently if config.h changes, so pin them here. */
_Static_assert(sizeof(tm_time_format) == sizeof(int), "enum size");
_Static_assert(sizeof(tm_window_type) == sizeof(int), "enum size");
_Static_assert(sizeof(tm_dedup_key) == sizeof(int), "enum size");
_Static_assert(sizeof(tm_skew_action) == sizeof(int), "enum size");
_Static_assert(sizeof(tm_late_action) == sizeof(int), "enum size");
_Static_assert(TM_TIME_EPOCH_MS == 0 && TM_TIME_EPOCH_S == 1 && TM_TIME_RFC3339 == 2 &&
                   TM_TIME_AUTO == 3,
               "time_formats[] order");
_Static_assert(TM_WINDOW_TUMBLING == 0 && TM_WINDOW_HOPPING == 1 && TM_WINDOW_SESSION == 2,
               "window_types[] order");
_Static_assert(TM_AGG_COUNT == 0 && TM_AGG_SUM == 1 && TM_AGG_MIN == 2 && TM_AGG_MAX == 3 &&
                   TM_AGG_AVG == 4,
               "agg_ops[] order");
_Static_assert(TM_DEDUP_ID == 0 && TM_DEDUP_ID_EVENT_TIME == 1, "dedup_keys[] order");
_Static_assert(TM_SKEW_CLAMP == 0 && TM_SKEW_DLQ == 1, "skew_actions[] order");
_Static_assert(TM_LATE_EMIT == 0 && TM_LATE_DROP == 1, "late_actions[] order");

#define ENV_PREFIX "TIDEMARK_"
#define ENV_KAFKA_PREFIX "TIDEMARK_KAFKA_"
#define KAFKA_PREFIX "kafka."
#define RECORD_KEY "$record_key"

/* Kafka's limit on topic names. */
#define TOPIC_MAX 249
/* application_id is at most this long so that the default topics
 * "<application_id>-late" / "-dlq" are always valid topic names. */
#define APP_ID_MAX (TOPIC_MAX - 5)
/* A config file is a few kilobytes; anything this big is a wrong path. */
#define FILE_MAX ((size_t)16 << 20)
/* A hopping event belongs to ceil(size/advance) windows; beyond this the
 * per-event cost is almost surely a typo (advance in s, size in ms). */
#define HOP_WINDOWS_MAX 10000
/* JSON numbers are doubles: only integers up to 2^53 are exact. */
#define JSON_INT_MAX 9007199254740992.0

/*
 * TIDEMARK_* variables that are not options: the build's, which developers
 * export in the shells they also run tidemark from, so the strict
 * unknown-variable check must not trip on them. The tests' own variables
 * are not here: the tests keep them out of the environment of the
 * tidemark they run (tests/support/proc.h).
 */
static const char *const env_allow[] = {
    "TIDEMARK_DEPS_DIR", /* CMake, deploy/install-deps.sh: where third-party sources live */
    "TIDEMARK_JOBS",     /* deploy/install-deps.sh, tests/run.sh: build parallelism */
    NULL,
};

/* ---- the option table ------------------------------------------------ */

typedef enum {
    T_STRING,   /* a string; optional check() and/or choices */
    T_INT,      /* an int64 within [min, max] */
    T_BOOL,     /* true or false */
    T_ENUM,     /* one of choices, stored as its index (= the enum value) */
    T_LIST,     /* a list of strings; check() applies to each item */
    T_GROUP_BY, /* a pointer, a list of pointers or "$record_key" */
    T_AGGS,     /* a list of {name, op, pointer} */
    T_KAFKA     /* kafka.*: free-form passthrough; the row is for --help */
} opt_type;

enum {
    F_REQUIRED = 1u,
    /* Shapes the state a task keeps (windows, dedup keys, what a task
     * owns): a restore under another value would bring back state of
     * another shape, so it is in tm_config_state_fingerprint. */
    F_STATE = 2u
};

#define WIN(t) (1u << (t))
#define WIN_SIZED (WIN(TM_WINDOW_TUMBLING) | WIN(TM_WINDOW_HOPPING))
#define FIELD(f) offsetof(tm_config, f)

/* Returns NULL when s is acceptable, else the problem (no value in it: the
 * caller appends "(got '...')"). */
typedef const char *(*str_check)(const char *s);

typedef struct opt {
    const char *name; /* dotted key, e.g. "watermark.idle_timeout_ms" */
    opt_type type;
    const char *def;            /* default as text, parsed like an override; or NULL */
    const char *def_help;       /* what --help shows when def is NULL */
    int64_t min, max;           /* T_INT bounds, inclusive */
    const char *const *choices; /* T_ENUM names; restricts a T_STRING too */
    str_check check;            /* T_STRING value / T_LIST item check */
    size_t off;                 /* field in tm_config (T_LIST: the char **) */
    size_t off_n;               /* T_LIST: the size_t count field */
    unsigned flags;
    unsigned windows;     /* window types the key is valid for; 0 = all */
    unsigned req_windows; /* window types that require the key */
    const char *help;
} opt;

static const char *const time_formats[] = {"epoch_ms", "epoch_s", "rfc3339", "auto", NULL};
static const char *const window_types[] = {"tumbling", "hopping", "session", NULL};
static const char *const agg_ops[] = {"count", "sum", "min", "max", "avg", NULL};
static const char *const dedup_keys[] = {"id", "id+event_time", NULL};
static const char *const skew_actions[] = {"clamp", "dlq", NULL};
static const char *const late_actions[] = {"emit", "drop", NULL};
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
static const char *check_pointer(const char *s)
{
    static _Thread_local char why[192];
    tm_jsonptr p;
    int rc = tm_jsonptr_compile(&p, s, why, sizeof why);
    tm_jsonptr_free(&p);
    return rc < 0 ? why : NULL;
}

/* Kafka's own topic name rules, checked early so that replay (which never
 * talks to Kafka) accepts exactly the configs the live service accepts. */
static const char *check_topic(const char *s)
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

/* application_id names the consumer group, the state directory and the
 * default topics, so it takes the strictest of their character sets. */
static const char *check_app_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0)
        return "must not be empty";
    if (n > APP_ID_MAX)
        return "too long: at most 244 characters, so that '<application_id>-late' is a valid "
               "topic name";
    if (!all_name_chars(s))
        return "may contain only A-Z a-z 0-9 . _ -";
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
     .help = "Names this pipeline; the default late/DLQ topic names derive from it. "
             "[A-Za-z0-9._-]+"},
    {.name = "input.topics",
     .type = T_LIST,
     .flags = F_REQUIRED | F_STATE,
     .check = check_topic,
     .off = FIELD(input_topics),
     .off_n = FIELD(n_input_topics),
     .help = "Input topics (non-empty, co-partitioned)."},
    {.name = "input.event_time.pointer",
     .type = T_STRING,
     .flags = F_REQUIRED,
     .check = check_pointer,
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
     .check = check_pointer,
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
    {.name = "window.type",
     .type = T_ENUM,
     .flags = F_REQUIRED | F_STATE,
     .choices = window_types,
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
    {.name = "late.action",
     .type = T_ENUM,
     .def = "emit",
     .choices = late_actions,
     .off = FIELD(late_action),
     .help = "Too-late events: emit to output.late_topic, or drop."},
    {.name = "output.topic",
     .type = T_STRING,
     .flags = F_REQUIRED,
     .check = check_topic,
     .off = FIELD(output_topic),
     .help = "Window results (key <group key>@<window start>)."},
    {.name = "output.late_topic",
     .type = T_STRING,
     .check = check_topic,
     .off = FIELD(late_topic),
     .def_help = "<application_id>-late",
     .help = "Too-late records, with tidemark.* headers."},
    {.name = "output.dlq_topic",
     .type = T_STRING,
     .check = check_topic,
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

/* ---- gathering state --------------------------------------------------- */

/* Sources in precedence order: a later one replaces an earlier one. */
typedef enum { SRC_NONE, SRC_DEFAULT, SRC_FILE, SRC_ENV, SRC_OVERRIDE } src_kind;

/* The winning raw value of one option. */
typedef struct slot {
    src_kind src;
    const cJSON *json; /* SRC_FILE: borrowed from the parsed file */
    const char *text;  /* other sources: borrowed from opts/envp/overrides */
    char origin[96];   /* "" for the file, else " (from ...)": for messages */
} slot;

typedef struct loader {
    tm_config *cfg;      /* being built; freed by the caller on error */
    slot *slots;         /* one per opts[] row */
    src_kind *kafka_src; /* parallel to cfg->kafka: who set each property */
    char *errstr;
    size_t errlen;
} loader;

static void *field(tm_config *cfg, size_t off)
{
    return (char *)cfg + off;
}

static bool is_user_set(const slot *s)
{
    return s->src >= SRC_FILE;
}

/* ---- errors ----------------------------------------------------------- */

/* "config: <key><origin>: <message>": the one shape of a value error. */
__attribute__((format(printf, 4, 5))) static int key_fail(loader *L, const char *key,
                                                          const char *origin, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return tm_seterr(L->errstr, L->errlen, TM_ECONFIG, "config: %s%s: %s", key, origin, msg);
}

/* Writes "a, b, c" (sep ", ") or "a|b|c" into buf: for messages and help. */
static void join_choices(const char *const *choices, const char *sep, char *buf, size_t n)
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

static const char *json_type_name(const cJSON *j)
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

/* Edit distance, for "did you mean": most unknown keys are typos. Names
 * longer than the buffers get no suggestion. */
static size_t edit_distance(const char *a, size_t na, const char *b, size_t nb)
{
    size_t prev[65], cur[65];
    if (na > 64 || nb > 64)
        return SIZE_MAX;
    for (size_t j = 0; j <= nb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= na; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= nb; j++) {
            size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1] ? 1u : 0u);
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, (nb + 1) * sizeof prev[0]);
    }
    return prev[nb];
}

/* The environment variable of an option: "TIDEMARK_" + upper(name), with
 * '.' and '+' as '_' (so both are valid in a shell name). */
static void env_name(const opt *o, char *buf, size_t n)
{
    size_t i = (size_t)snprintf(buf, n, "%s", ENV_PREFIX);
    for (const char *p = o->name; *p && i + 1 < n; p++, i++) {
        char c = *p;
        if (c == '.' || c == '+')
            c = '_';
        else if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        buf[i] = c;
    }
    buf[i < n ? i : n - 1] = '\0';
}

/* The option name (or env name) closest to key, if close enough to be a
 * likely typo; else NULL. Writes into buf. */
static const char *suggest(const char *key, size_t klen, bool env, char *buf, size_t n)
{
    size_t best = 2 * 3 + 1; /* accept edit distances up to 3 */
    const char *found = NULL;
    char cand[96];
    for (size_t i = 0; i < N_OPTS; i++) {
        if (opts[i].type == T_KAFKA)
            continue;
        if (env)
            env_name(&opts[i], cand, sizeof cand);
        else
            snprintf(cand, sizeof cand, "%s", opts[i].name);
        size_t d = edit_distance(key, klen, cand, strlen(cand));
        /* On a tie, prefer a name that extends the key: a forgotten
         * suffix ("_ms") is the commonest slip. */
        size_t score = d == SIZE_MAX ? d : 2 * d + (strncmp(cand, key, klen) != 0);
        if (score < best) {
            best = score;
            snprintf(buf, n, "%s", cand);
            found = buf;
        }
    }
    return found;
}

static int unknown_key(loader *L, const char *key, size_t klen, const char *origin)
{
    char hint[96];
    const char *s = suggest(key, klen, false, hint, sizeof hint);
    return tm_seterr(L->errstr, L->errlen, TM_ECONFIG, "config: unknown key '%.*s'%s%s%s%s",
                     (int)klen, key, origin, s ? " (did you mean '" : "", s ? s : "",
                     s ? "'?)" : "");
}

/* ---- option lookup ---------------------------------------------------- */

static const opt *find_opt(const char *name, size_t len)
{
    for (size_t i = 0; i < N_OPTS; i++) {
        const opt *o = &opts[i];
        if (o->type != T_KAFKA && strlen(o->name) == len && memcmp(o->name, name, len) == 0)
            return o;
    }
    return NULL;
}

static const opt *find_opt_by_env(const char *name, size_t len)
{
    char buf[96];
    for (size_t i = 0; i < N_OPTS; i++) {
        if (opts[i].type == T_KAFKA)
            continue;
        env_name(&opts[i], buf, sizeof buf);
        if (strlen(buf) == len && memcmp(buf, name, len) == 0)
            return &opts[i];
    }
    return NULL;
}

/* True when name is a group of options ("watermark", "input.event_time"):
 * a JSON object under that key is descended into. */
static bool is_group(const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < N_OPTS; i++)
        if (opts[i].type != T_KAFKA && strncmp(opts[i].name, name, n) == 0 &&
            opts[i].name[n] == '.')
            return true;
    return false;
}

static bool is_kafka_key(const char *name)
{
    return strcmp(name, "kafka") == 0 || strncmp(name, KAFKA_PREFIX, strlen(KAFKA_PREFIX)) == 0;
}

static slot *slot_of(loader *L, const opt *o)
{
    return &L->slots[o - opts];
}

/* ---- gathering: kafka passthrough -------------------------------------- */

/*
 * Records librdkafka property prop = value (copied). A later source
 * replaces the value in place, so properties keep the order in which they
 * first appeared; the same property twice in the file is an error, since
 * one of the two would be silently ignored.
 */
static int kafka_set(loader *L, const char *prop, size_t plen, const char *value, src_kind src)
{
    tm_config *cfg = L->cfg;
    if (plen == 0)
        return tm_seterr(L->errstr, L->errlen, TM_ECONFIG,
                         "config: kafka.: empty librdkafka property name");
    for (size_t i = 0; i < cfg->n_kafka; i++) {
        if (strlen(cfg->kafka[i].key) != plen || memcmp(cfg->kafka[i].key, prop, plen) != 0)
            continue;
        if (src == SRC_FILE && L->kafka_src[i] == SRC_FILE)
            return tm_seterr(L->errstr, L->errlen, TM_ECONFIG, "config: duplicate key 'kafka.%.*s'",
                             (int)plen, prop);
        free(cfg->kafka[i].value);
        cfg->kafka[i].value = tm_xstrdup(value);
        L->kafka_src[i] = src;
        return 0;
    }
    cfg->kafka = tm_xrealloc(cfg->kafka, (cfg->n_kafka + 1) * sizeof *cfg->kafka);
    L->kafka_src = tm_xrealloc(L->kafka_src, (cfg->n_kafka + 1) * sizeof *L->kafka_src);
    cfg->kafka[cfg->n_kafka].key = tm_xmemdup0(prop, plen);
    cfg->kafka[cfg->n_kafka].value = tm_xstrdup(value);
    L->kafka_src[cfg->n_kafka++] = src;
    return 0;
}

/* librdkafka takes every property as a string: numbers become their
 * integer text (their shortest text when not integral), bools true/false. */
static int kafka_from_json(loader *L, const char *name, const cJSON *j)
{
    tm_buf b = {0};
    if (cJSON_IsString(j)) {
        tm_buf_puts(&b, j->valuestring);
    } else if (cJSON_IsBool(j)) {
        tm_buf_puts(&b, cJSON_IsTrue(j) ? "true" : "false");
    } else if (cJSON_IsNumber(j)) {
        double v = j->valuedouble;
        bool fits = v >= -9223372036854775808.0 && v < 9223372036854775808.0;
        if (fits && (double)(int64_t)v == v)
            tm_buf_put_i64(&b, (int64_t)v);
        else
            tm_buf_put_double(&b, v);
    } else {
        return key_fail(L, name, "", "expected a string, number or bool (got %s)",
                        json_type_name(j));
    }
    const char *prop = name + strlen(KAFKA_PREFIX);
    int rc = kafka_set(L, prop, strlen(prop), b.data, SRC_FILE);
    tm_buf_free(&b);
    return rc;
}

/* ---- gathering: the file ---------------------------------------------- */

static void set_slot(loader *L, const opt *o, src_kind src, const cJSON *json, const char *text,
                     const char *origin)
{
    slot *s = slot_of(L, o);
    s->src = src;
    s->json = json;
    s->text = text;
    snprintf(s->origin, sizeof s->origin, "%s", origin);
}

static int walk_object(loader *L, const cJSON *obj, tm_buf *name);

/* One member of a JSON object, its dotted name in name->data. JSON null
 * means "not set", so a templated file can leave an option out. */
static int walk_member(loader *L, const cJSON *c, tm_buf *name)
{
    const char *n = name->data;
    if (cJSON_IsNull(c))
        return 0;
    if (is_kafka_key(n)) {
        if (cJSON_IsObject(c))
            return walk_object(L, c, name);
        if (strcmp(n, "kafka") == 0)
            return key_fail(L, n, "", "expected an object of librdkafka properties (got %s)",
                            json_type_name(c));
        return kafka_from_json(L, n, c);
    }
    const opt *o = find_opt(n, name->len);
    if (o) {
        if (slot_of(L, o)->src == SRC_FILE)
            return tm_seterr(L->errstr, L->errlen, TM_ECONFIG, "config: duplicate key '%s'", n);
        set_slot(L, o, SRC_FILE, c, NULL, "");
        return 0;
    }
    if (!is_group(n))
        return unknown_key(L, n, name->len, "");
    if (!cJSON_IsObject(c))
        return key_fail(L, n, "", "expected an object (got %s)", json_type_name(c));
    return walk_object(L, c, name);
}

/*
 * Flattens nested objects into dotted names: {"a":{"b":1}} and {"a.b":1}
 * both set "a.b". name holds the prefix; it is restored before returning.
 */
static int walk_object(loader *L, const cJSON *obj, tm_buf *name)
{
    size_t base = name->len;
    int rc = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, obj)
    {
        name->len = base;
        if (base)
            tm_buf_putc(name, '.');
        tm_buf_puts(name, c->string);
        rc = walk_member(L, c, name);
        if (rc)
            break;
    }
    name->len = base;
    if (name->data)
        name->data[base] = '\0';
    return rc;
}

static int read_file(loader *L, const char *path, tm_buf *b)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return tm_seterr(L->errstr, L->errlen, TM_EIO, "config file %s: cannot open: %s", path,
                         strerror(errno));
    int rc = 0;
    char chunk[4096];
    for (;;) {
        size_t n = fread(chunk, 1, sizeof chunk, f);
        if (n == 0)
            break;
        if (b->len + n > FILE_MAX) {
            rc = tm_seterr(L->errstr, L->errlen, TM_ECONFIG, "config file %s: larger than 16 MiB",
                           path);
            break;
        }
        tm_buf_append(b, chunk, n);
    }
    if (rc == 0 && ferror(f))
        rc = tm_seterr(L->errstr, L->errlen, TM_EIO, "config file %s: cannot read: %s", path,
                       strerror(errno));
    fclose(f);
    tm_buf_append(b, "", 0); /* data is non-NULL and NUL-terminated from here */
    return rc;
}

/* Line and column (1-based) of at in text, to point at a JSON error. */
static void text_position(const char *text, const char *at, size_t *line, size_t *col)
{
    *line = 1;
    *col = 1;
    for (const char *p = text; p < at && *p; p++) {
        if (*p == '\n') {
            ++*line;
            *col = 1;
        } else {
            ++*col;
        }
    }
}

static int parse_file(loader *L, const char *path, const tm_buf *b, cJSON **root)
{
    if (strlen(b->data) != b->len)
        return tm_seterr(L->errstr, L->errlen, TM_ECONFIG, "config file %s: contains a NUL byte",
                         path);
    const char *end = NULL;
    *root = cJSON_ParseWithOpts(b->data, &end, 1);
    if (!*root) {
        size_t line, col;
        text_position(b->data, end ? end : b->data + b->len, &line, &col);
        return tm_seterr(L->errstr, L->errlen, TM_ECONFIG,
                         "config file %s: invalid JSON near line %zu, column %zu", path, line, col);
    }
    if (!cJSON_IsObject(*root))
        return tm_seterr(L->errstr, L->errlen, TM_ECONFIG,
                         "config file %s: expected a JSON object at the top level", path);
    return 0;
}

/* The file's values stay borrowed from *root until applied; the caller
 * frees *root after that. */
static int load_file(loader *L, const char *path, cJSON **root)
{
    tm_buf b = {0};
    tm_buf name = {0};
    int rc = read_file(L, path, &b);
    if (rc == 0)
        rc = parse_file(L, path, &b, root);
    if (rc == 0)
        rc = walk_object(L, *root, &name);
    tm_buf_free(&name);
    tm_buf_free(&b);
    return rc;
}

/* ---- gathering: environment and overrides ------------------------------ */

static bool env_allowed(const char *name, size_t len)
{
    for (size_t i = 0; env_allow[i]; i++)
        if (strlen(env_allow[i]) == len && memcmp(env_allow[i], name, len) == 0)
            return true;
    return false;
}

/* TIDEMARK_KAFKA_BOOTSTRAP_SERVERS -> bootstrap.servers: shell names have
 * no dots, and librdkafka property names have no underscores. */
static int env_kafka(loader *L, const char *name, size_t len, const char *value)
{
    size_t skip = strlen(ENV_KAFKA_PREFIX);
    if (len == skip)
        return tm_seterr(L->errstr, L->errlen, TM_ECONFIG,
                         "config: environment variable %.*s: empty librdkafka property name",
                         (int)len, name);
    if (value[0] == '\0')
        return 0;
    char *prop = tm_xmemdup0(name + skip, len - skip);
    for (char *p = prop; *p; p++) {
        if (*p == '_')
            *p = '.';
        else if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    }
    int rc = kafka_set(L, prop, len - skip, value, SRC_ENV);
    free(prop);
    return rc;
}

static int unknown_env(loader *L, const char *name, size_t len)
{
    char hint[96];
    const char *s = suggest(name, len, true, hint, sizeof hint);
    return tm_seterr(L->errstr, L->errlen, TM_ECONFIG,
                     "config: unknown environment variable %.*s (no such option%s%s%s)", (int)len,
                     name, s ? "; did you mean " : "", s ? s : "", s ? "?" : "");
}

/*
 * One "NAME=value" entry. Only TIDEMARK_* names are ours; among them an
 * unknown name is an error, since a misspelt variable would otherwise be
 * silently ignored. An empty value counts as unset, so a deployment
 * template can leave a variable blank.
 */
static int load_env_var(loader *L, const char *entry)
{
    const char *eq = strchr(entry, '=');
    if (strncmp(entry, ENV_PREFIX, strlen(ENV_PREFIX)) != 0 || !eq)
        return 0;
    size_t len = (size_t)(eq - entry);
    const char *value = eq + 1;
    if (env_allowed(entry, len))
        return 0;
    if (len >= strlen(ENV_KAFKA_PREFIX) &&
        strncmp(entry, ENV_KAFKA_PREFIX, strlen(ENV_KAFKA_PREFIX)) == 0)
        return env_kafka(L, entry, len, value);
    const opt *o = find_opt_by_env(entry, len);
    if (!o)
        return unknown_env(L, entry, len);
    if (value[0] == '\0')
        return 0;
    char origin[96];
    snprintf(origin, sizeof origin, " (from %.*s)", (int)len, entry);
    set_slot(L, o, SRC_ENV, NULL, value, origin);
    return 0;
}

static int load_env(loader *L, char *const *envp)
{
    for (char *const *e = envp; *e; e++) {
        int rc = load_env_var(L, *e);
        if (rc)
            return rc;
    }
    return 0;
}

/* "key=value" with a dotted key; unlike the environment, an empty value
 * is a value (the empty string), since it was typed on purpose. */
static int load_override(loader *L, const char *ov)
{
    const char *eq = strchr(ov, '=');
    if (!eq || eq == ov)
        return tm_seterr(L->errstr, L->errlen, TM_ECONFIG,
                         "config: override '%s': expected key=value", ov);
    size_t len = (size_t)(eq - ov);
    size_t kp = strlen(KAFKA_PREFIX);
    if (len >= kp && strncmp(ov, KAFKA_PREFIX, kp) == 0)
        return kafka_set(L, ov + kp, len - kp, eq + 1, SRC_OVERRIDE);
    const opt *o = find_opt(ov, len);
    if (!o)
        return unknown_key(L, ov, len, " (from override)");
    set_slot(L, o, SRC_OVERRIDE, NULL, eq + 1, " (from override)");
    return 0;
}

static int load_overrides(loader *L, const char *const *ovs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int rc = load_override(L, ovs[i]);
        if (rc)
            return rc;
    }
    return 0;
}

static void load_defaults(loader *L)
{
    for (size_t i = 0; i < N_OPTS; i++)
        if (opts[i].def)
            set_slot(L, &opts[i], SRC_DEFAULT, NULL, opts[i].def, " (default)");
}

/* ---- applying: scalar values ------------------------------------------- */

static int slot_string(loader *L, const opt *o, const slot *s, const char **out)
{
    if (!s->json) {
        *out = s->text;
        return 0;
    }
    if (!cJSON_IsString(s->json))
        return key_fail(L, o->name, s->origin, "expected a string (got %s)",
                        json_type_name(s->json));
    *out = s->json->valuestring;
    return 0;
}

/* JSON numbers are doubles: accept only integers that a double holds
 * exactly, so that what the user wrote is what the engine gets. */
static int json_int(loader *L, const char *key, const char *origin, const cJSON *j, int64_t *out)
{
    if (!cJSON_IsNumber(j))
        return key_fail(L, key, origin, "expected an integer (got %s)", json_type_name(j));
    double v = j->valuedouble;
    if (!(v >= -JSON_INT_MAX && v <= JSON_INT_MAX))
        return key_fail(L, key, origin, "out of range (got %.17g)", v);
    if ((double)(int64_t)v != v)
        return key_fail(L, key, origin, "expected an integer (got %.17g)", v);
    *out = (int64_t)v;
    return 0;
}

static int check_bounds(loader *L, const opt *o, const slot *s, int64_t v)
{
    if (v >= o->min && v <= o->max)
        return 0;
    if (o->max == INT64_MAX && o->min == 1)
        return key_fail(L, o->name, s->origin, "must be > 0 (got %" PRId64 ")", v);
    if (o->max == INT64_MAX)
        return key_fail(L, o->name, s->origin, "must be >= %" PRId64 " (got %" PRId64 ")", o->min,
                        v);
    return key_fail(L, o->name, s->origin,
                    "must be between %" PRId64 " and %" PRId64 " (got %" PRId64 ")", o->min, o->max,
                    v);
}

static int apply_int(loader *L, const opt *o, const slot *s)
{
    int64_t v = 0;
    int rc = 0;
    if (s->json)
        rc = json_int(L, o->name, s->origin, s->json, &v);
    else if (tm_parse_i64(s->text, &v) != 0)
        rc = key_fail(L, o->name, s->origin, "expected an integer (got '%.100s')", s->text);
    if (rc == 0)
        rc = check_bounds(L, o, s, v);
    if (rc == 0)
        *(int64_t *)field(L->cfg, o->off) = v;
    return rc;
}

static int apply_bool(loader *L, const opt *o, const slot *s)
{
    bool v;
    if (s->json && cJSON_IsBool(s->json))
        v = cJSON_IsTrue(s->json);
    else if (s->json)
        return key_fail(L, o->name, s->origin, "expected true or false (got %s)",
                        json_type_name(s->json));
    else if (strcmp(s->text, "true") == 0 || strcmp(s->text, "false") == 0)
        v = s->text[0] == 't';
    else
        return key_fail(L, o->name, s->origin, "expected true or false (got '%.100s')", s->text);
    *(bool *)field(L->cfg, o->off) = v;
    return 0;
}

static int choice_index(const char *const *choices, const char *v)
{
    for (int i = 0; choices[i]; i++)
        if (strcmp(choices[i], v) == 0)
            return i;
    return -1;
}

static int bad_choice(loader *L, const char *key, const char *origin, const char *what,
                      const char *v, const char *const *choices)
{
    char list[160];
    join_choices(choices, ", ", list, sizeof list);
    return key_fail(L, key, origin, "unknown %s '%.100s' (expected %s)", what, v, list);
}

static int apply_enum(loader *L, const opt *o, const slot *s)
{
    const char *v = NULL;
    int rc = slot_string(L, o, s, &v);
    if (rc)
        return rc;
    int idx = choice_index(o->choices, v);
    if (idx < 0)
        return bad_choice(L, o->name, s->origin, "value", v, o->choices);
    memcpy(field(L->cfg, o->off), &idx, sizeof idx);
    return 0;
}

/* Runs a string check; key may be an item name like "input.topics[1]". */
static int run_check(loader *L, str_check check, const char *key, const char *origin, const char *v)
{
    const char *problem = check ? check(v) : NULL;
    if (problem)
        return key_fail(L, key, origin, "%s (got '%.100s')", problem, v);
    return 0;
}

static int apply_string(loader *L, const opt *o, const slot *s)
{
    const char *v = NULL;
    int rc = slot_string(L, o, s, &v);
    if (rc)
        return rc;
    if (o->choices && choice_index(o->choices, v) < 0)
        return bad_choice(L, o->name, s->origin, "value", v, o->choices);
    rc = run_check(L, o->check, o->name, s->origin, v);
    if (rc)
        return rc;
    char **dst = field(L->cfg, o->off);
    free(*dst);
    *dst = tm_xstrdup(v);
    return 0;
}

/* ---- applying: structured values ---------------------------------------- */

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* "a, b,c" -> ["a","b","c"]: the environment/override form of a list.
 * Items are trimmed; "" is the empty list. */
static cJSON *split_commas(const char *text)
{
    cJSON *arr = cJSON_CreateArray();
    if (!arr)
        tm_die("out of memory");
    const char *p = text;
    while (is_space(*p))
        p++;
    if (*p == '\0')
        return arr;
    for (;;) {
        const char *end = strchr(p, ',');
        const char *stop = end ? end : p + strlen(p);
        const char *a = p, *b = stop;
        while (a < b && is_space(*a))
            a++;
        while (b > a && is_space(b[-1]))
            b--;
        char *item = tm_xmemdup0(a, (size_t)(b - a));
        cJSON *node = cJSON_CreateString(item);
        free(item);
        if (!node)
            tm_die("out of memory");
        cJSON_AddItemToArray(arr, node);
        if (!end)
            return arr;
        p = end + 1;
    }
}

/*
 * The JSON view of a structured option's value. From the file it is the
 * node itself. From text: JSON when it starts with '[' or '{' (or '"' for
 * group_by, to name one pointer that contains a comma), else a
 * comma-separated list; aggregations only take JSON. *owned is what the
 * caller must cJSON_Delete (NULL when borrowed).
 */
static int slot_json(loader *L, const opt *o, const slot *s, cJSON **owned, const cJSON **out)
{
    *owned = NULL;
    if (s->json) {
        *out = s->json;
        return 0;
    }
    const char *t = s->text;
    while (is_space(*t))
        t++;
    bool json = *t == '[' || *t == '{' || (o->type == T_GROUP_BY && *t == '"');
    if (!json && o->type == T_AGGS)
        return key_fail(L, o->name, s->origin,
                        "expected JSON text, e.g. [{\"name\":\"n\",\"op\":\"count\"}]");
    if (json) {
        *owned = cJSON_ParseWithOpts(t, NULL, 1); /* 1: no trailing junk */
        if (!*owned)
            return key_fail(L, o->name, s->origin, "invalid JSON text '%.100s'", s->text);
    } else {
        *owned = split_commas(t);
    }
    /* A single group_by item is one pointer, not a one-element list. */
    if (o->type == T_GROUP_BY && cJSON_IsArray(*owned) && !json &&
        cJSON_GetArraySize(*owned) == 1) {
        cJSON *one = cJSON_DetachItemFromArray(*owned, 0);
        cJSON_Delete(*owned);
        *owned = one;
    }
    *out = *owned;
    return 0;
}

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* Reads a JSON list of strings, each passing check, into a new array. */
static int json_strv(loader *L, const char *key, const char *origin, const cJSON *arr,
                     str_check check, char ***out, size_t *n_out)
{
    if (!cJSON_IsArray(arr))
        return key_fail(L, key, origin, "expected a list of strings (got %s)", json_type_name(arr));
    size_t n = (size_t)cJSON_GetArraySize(arr), i = 0;
    char **v = tm_xcalloc(n, sizeof *v);
    int rc = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, arr)
    {
        char item[160];
        snprintf(item, sizeof item, "%s[%zu]", key, i);
        if (!cJSON_IsString(c))
            rc = key_fail(L, item, origin, "expected a string (got %s)", json_type_name(c));
        if (rc == 0)
            rc = run_check(L, check, item, origin, c->valuestring);
        if (rc)
            break;
        v[i++] = tm_xstrdup(c->valuestring);
    }
    if (rc) {
        free_strv(v, i);
        return rc;
    }
    *out = v;
    *n_out = n;
    return 0;
}

static int apply_list(loader *L, const opt *o, const slot *s)
{
    cJSON *owned = NULL;
    const cJSON *j = NULL;
    char **v = NULL;
    size_t n = 0;
    int rc = slot_json(L, o, s, &owned, &j);
    if (rc == 0)
        rc = json_strv(L, o->name, s->origin, j, o->check, &v, &n);
    if (rc == 0 && n == 0) {
        free(v);
        rc = key_fail(L, o->name, s->origin, "must not be empty");
    }
    if (rc == 0) {
        char ***dst = field(L->cfg, o->off);
        size_t *dst_n = field(L->cfg, o->off_n);
        free_strv(*dst, *dst_n);
        *dst = v;
        *dst_n = n;
    }
    cJSON_Delete(owned);
    return rc;
}

static int group_by_from_json(loader *L, const opt *o, const slot *s, const cJSON *j)
{
    tm_config *cfg = L->cfg;
    if (cJSON_IsString(j) && strcmp(j->valuestring, RECORD_KEY) == 0) {
        cfg->group_mode = TM_GROUP_RECORD_KEY;
        return 0;
    }
    if (cJSON_IsString(j)) {
        int rc = run_check(L, check_pointer, o->name, s->origin, j->valuestring);
        if (rc)
            return rc;
        cfg->group_mode = TM_GROUP_POINTER;
        cfg->group_pointers = tm_xcalloc(1, sizeof *cfg->group_pointers);
        cfg->group_pointers[0] = tm_xstrdup(j->valuestring);
        cfg->n_group_pointers = 1;
        return 0;
    }
    if (!cJSON_IsArray(j))
        return key_fail(L, o->name, s->origin,
                        "expected a JSON pointer, a list of pointers or \"$record_key\" "
                        "(got %s)",
                        json_type_name(j));
    int rc = json_strv(L, o->name, s->origin, j, check_pointer, &cfg->group_pointers,
                       &cfg->n_group_pointers);
    if (rc == 0 && cfg->n_group_pointers == 0)
        rc = key_fail(L, o->name, s->origin, "must not be an empty list");
    if (rc == 0)
        cfg->group_mode = TM_GROUP_LIST;
    return rc;
}

static int apply_group_by(loader *L, const opt *o, const slot *s)
{
    cJSON *owned = NULL;
    const cJSON *j = NULL;
    int rc = slot_json(L, o, s, &owned, &j);
    if (rc == 0)
        rc = group_by_from_json(L, o, s, j);
    cJSON_Delete(owned);
    return rc;
}

/* One string member of an aggregation object. */
static int agg_string(loader *L, const char *key, const char *origin, const cJSON *j,
                      const char **out)
{
    if (!cJSON_IsString(j))
        return key_fail(L, key, origin, "expected a string (got %s)", json_type_name(j));
    *out = j->valuestring;
    return 0;
}

/* The members of aggregations[i]: name, op, pointer; null = absent; any
 * other key is an error, like everywhere else. */
static int agg_members(loader *L, const char *item, const char *origin, const cJSON *obj,
                       const char *v[3])
{
    static const char *const keys[] = {"name", "op", "pointer", NULL};
    const cJSON *c;
    char key[200];
    cJSON_ArrayForEach(c, obj)
    {
        snprintf(key, sizeof key, "%s.%s", item, c->string);
        int k = choice_index(keys, c->string);
        if (k < 0)
            return tm_seterr(L->errstr, L->errlen, TM_ECONFIG,
                             "config: unknown key '%s'%s (expected name, op, pointer)", key,
                             origin);
        if (v[k])
            return tm_seterr(L->errstr, L->errlen, TM_ECONFIG, "config: duplicate key '%s'%s", key,
                             origin);
        if (cJSON_IsNull(c))
            continue;
        int rc = agg_string(L, key, origin, c, &v[k]);
        if (rc)
            return rc;
    }
    return 0;
}

/* Checks aggregations[i] (named item) and fills *a; the earlier specs
 * (aggs[0..i)) are for the unique-name rule. */
static int agg_from_json(loader *L, const char *item, const char *origin, const cJSON *obj,
                         const tm_agg_spec *aggs, size_t i, tm_agg_spec *a)
{
    const char *v[3] = {NULL, NULL, NULL}; /* name, op, pointer */
    char key[200];
    if (!cJSON_IsObject(obj))
        return key_fail(L, item, origin, "expected an object {name, op, pointer} (got %s)",
                        json_type_name(obj));
    int rc = agg_members(L, item, origin, obj, v);
    if (rc)
        return rc;
    snprintf(key, sizeof key, "%s.name", item);
    if (!v[0] || !v[0][0])
        return key_fail(L, key, origin, v[0] ? "must not be empty" : "required");
    for (size_t k = 0; k < i; k++)
        if (strcmp(aggs[k].name, v[0]) == 0)
            return key_fail(L, key, origin, "duplicate name '%.100s' (also aggregations[%zu])",
                            v[0], k);
    snprintf(key, sizeof key, "%s.op", item);
    if (!v[1])
        return key_fail(L, key, origin, "required");
    int op = choice_index(agg_ops, v[1]);
    if (op < 0)
        return bad_choice(L, key, origin, "op", v[1], agg_ops);
    snprintf(key, sizeof key, "%s.pointer", item);
    if (op == TM_AGG_COUNT && v[2])
        return key_fail(L, key, origin, "not allowed for op count");
    if (op != TM_AGG_COUNT && !v[2])
        return key_fail(L, key, origin, "required for op %s", v[1]);
    rc = v[2] ? run_check(L, check_pointer, key, origin, v[2]) : 0;
    if (rc)
        return rc;
    a->name = tm_xstrdup(v[0]);
    a->op = (tm_agg_op)op;
    a->pointer = v[2] ? tm_xstrdup(v[2]) : NULL;
    return 0;
}

static void free_aggs(tm_agg_spec *aggs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(aggs[i].name);
        free(aggs[i].pointer);
    }
    free(aggs);
}

static int aggs_from_json(loader *L, const opt *o, const slot *s, const cJSON *arr)
{
    if (!cJSON_IsArray(arr))
        return key_fail(L, o->name, s->origin, "expected a list of {name, op, pointer} (got %s)",
                        json_type_name(arr));
    size_t n = (size_t)cJSON_GetArraySize(arr), i = 0;
    tm_agg_spec *aggs = tm_xcalloc(n, sizeof *aggs);
    int rc = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, arr)
    {
        char item[64];
        snprintf(item, sizeof item, "%s[%zu]", o->name, i);
        rc = agg_from_json(L, item, s->origin, c, aggs, i, &aggs[i]);
        if (rc)
            break;
        i++;
    }
    if (rc) {
        free_aggs(aggs, i);
        return rc;
    }
    L->cfg->aggs = aggs;
    L->cfg->n_aggs = n;
    return 0;
}

static int apply_aggs(loader *L, const opt *o, const slot *s)
{
    cJSON *owned = NULL;
    const cJSON *j = NULL;
    int rc = slot_json(L, o, s, &owned, &j);
    if (rc == 0)
        rc = aggs_from_json(L, o, s, j);
    cJSON_Delete(owned);
    return rc;
}

static int apply_slot(loader *L, const opt *o, const slot *s)
{
    switch (o->type) {
    case T_STRING:
        return apply_string(L, o, s);
    case T_INT:
        return apply_int(L, o, s);
    case T_BOOL:
        return apply_bool(L, o, s);
    case T_ENUM:
        return apply_enum(L, o, s);
    case T_LIST:
        return apply_list(L, o, s);
    case T_GROUP_BY:
        return apply_group_by(L, o, s);
    case T_AGGS:
        return apply_aggs(L, o, s);
    case T_KAFKA:
        return 0; /* gathered straight into cfg->kafka */
    }
    tm_die("config: option %s has no type", o->name);
}

/* Each option is applied once: structured options (lists, group_by,
 * aggregations) have no default, so nothing is ever replaced. */
static int apply_all(loader *L)
{
    for (size_t i = 0; i < N_OPTS; i++) {
        if (L->slots[i].src == SRC_NONE)
            continue;
        int rc = apply_slot(L, &opts[i], &L->slots[i]);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- resolving: cross-option rules -------------------------------------- */

static void window_names(unsigned mask, char *buf, size_t n)
{
    const char *names[4] = {NULL, NULL, NULL, NULL};
    size_t k = 0;
    for (int t = 0; window_types[t]; t++)
        if (mask & WIN(t))
            names[k++] = window_types[t];
    join_choices(names, ", ", buf, n);
}

/* Required keys, and keys that mean nothing for the chosen window type
 * (a gap with tumbling windows is a mistake, not a harmless extra). Rows
 * are checked in table order, and window.type precedes the window keys. */
static int check_presence(loader *L)
{
    unsigned wt = WIN(L->cfg->window_type);
    const char *wname = window_types[L->cfg->window_type];
    char types[64];
    for (size_t i = 0; i < N_OPTS; i++) {
        const opt *o = &opts[i];
        const slot *s = &L->slots[i];
        if (s->src == SRC_NONE && (o->flags & F_REQUIRED))
            return key_fail(L, o->name, "", "required");
        if (s->src == SRC_NONE && (o->req_windows & wt))
            return key_fail(L, o->name, "", "required when window.type is %s", wname);
        if (is_user_set(s) && o->windows && !(o->windows & wt)) {
            window_names(o->windows, types, sizeof types);
            return key_fail(L, o->name, s->origin,
                            "not allowed when window.type is %s (only for %s)", wname, types);
        }
    }
    return 0;
}

/* Window starts are offset + k * period, so any offset is equivalent to
 * offset mod period: store that, and the engine may rely on
 * 0 <= offset < period. */
static int resolve_window(loader *L)
{
    tm_config *cfg = L->cfg;
    if (cfg->window_type == TM_WINDOW_SESSION)
        return 0;
    int64_t period = cfg->window_size_ms;
    if (cfg->window_type == TM_WINDOW_HOPPING) {
        int64_t size = cfg->window_size_ms, adv = cfg->window_advance_ms;
        if (adv > size)
            return key_fail(L, "window.advance_ms", "",
                            "must be <= window.size_ms (%" PRId64 ") (got %" PRId64 ")", size, adv);
        int64_t per_event = size / adv + (size % adv != 0);
        if (per_event > HOP_WINDOWS_MAX)
            return key_fail(L, "window.advance_ms", "",
                            "too small: each event would be in %" PRId64
                            " windows (window.size_ms / window.advance_ms must be <= %d)",
                            per_event, HOP_WINDOWS_MAX);
        period = adv;
    }
    int64_t r = cfg->window_offset_ms % period;
    cfg->window_offset_ms = r < 0 ? r + period : r;
    return 0;
}

/* The dedup TTL default, 2 x (D + L) (saturating), is 0 when D = L = 0:
 * a key that expires at once dedups nothing, so then the user must choose
 * a TTL rather than get a silent no-op. */
static int resolve_dedup(loader *L)
{
    tm_config *cfg = L->cfg;
    if (cfg->dedup_enabled && !cfg->event_id_pointer)
        return key_fail(L, "input.event_id", "", "required when dedup.enabled is true");
    if (slot_of(L, find_opt("dedup.ttl_ms", strlen("dedup.ttl_ms")))->src != SRC_NONE)
        return 0;
    int64_t sum = tm_sat_add(cfg->max_out_of_orderness_ms, cfg->allowed_lateness_ms);
    cfg->dedup_ttl_ms = tm_sat_add(sum, sum);
    if (cfg->dedup_enabled && cfg->dedup_ttl_ms == 0)
        return key_fail(L, "dedup.ttl_ms", "",
                        "required when dedup.enabled is true and "
                        "watermark.max_out_of_orderness_ms and allowed_lateness_ms are both 0 "
                        "(the default, 2 x their sum, would be 0)");
    return 0;
}

/* Writing an output into an input topic would feed results back in as
 * events; sharing the results topic with raw late/dead records would
 * corrupt the compacted window table. Both are configuration mistakes. */
static int check_topic_use(loader *L, const char *key, const char *topic)
{
    const tm_config *cfg = L->cfg;
    if (tm_config_topic_index(cfg, topic) >= 0)
        return key_fail(L, key, "", "must not be an input topic (got '%s')", topic);
    if (strcmp(key, "output.topic") != 0 && strcmp(topic, cfg->output_topic) == 0)
        return key_fail(L, key, "", "must differ from output.topic (got '%s')", topic);
    return 0;
}

static int resolve_topics(loader *L)
{
    tm_config *cfg = L->cfg;
    for (size_t i = 1; i < cfg->n_input_topics; i++)
        if (tm_config_topic_index(cfg, cfg->input_topics[i]) != (int)i)
            return tm_seterr(L->errstr, L->errlen, TM_ECONFIG,
                             "config: input.topics[%zu]: duplicate topic '%s'", i,
                             cfg->input_topics[i]);
    tm_buf b = {0};
    if (!cfg->late_topic) {
        tm_buf_printf(&b, "%s-late", cfg->application_id);
        cfg->late_topic = tm_xstrdup(b.data);
    }
    if (!cfg->dlq_topic) {
        tm_buf_reset(&b);
        tm_buf_printf(&b, "%s-dlq", cfg->application_id);
        cfg->dlq_topic = tm_xstrdup(b.data);
    }
    tm_buf_free(&b);
    int rc = check_topic_use(L, "output.topic", cfg->output_topic);
    if (rc == 0)
        rc = check_topic_use(L, "output.late_topic", cfg->late_topic);
    if (rc == 0)
        rc = check_topic_use(L, "output.dlq_topic", cfg->dlq_topic);
    return rc;
}

static int resolve(loader *L)
{
    int rc = check_presence(L);
    if (rc == 0)
        rc = resolve_window(L);
    if (rc == 0)
        rc = resolve_dedup(L);
    if (rc == 0)
        rc = resolve_topics(L);
    if (rc == 0) {
        const opt *o = find_opt("clock_skew.max_ahead_ms", strlen("clock_skew.max_ahead_ms"));
        L->cfg->clock_skew_enabled = slot_of(L, o)->src != SRC_NONE;
    }
    return rc;
}

/* ---- public API ---------------------------------------------------------- */

int tm_config_load(tm_config **out, const char *path, char *const *envp,
                   const char *const *overrides, size_t n_overrides, char *errstr, size_t errlen)
{
    loader L = {.errstr = errstr, .errlen = errlen};
    cJSON *root = NULL;
    int rc = 0;
    L.cfg = tm_xcalloc(1, sizeof *L.cfg);
    L.slots = tm_xcalloc(N_OPTS, sizeof *L.slots);
    load_defaults(&L);
    if (path)
        rc = load_file(&L, path, &root);
    if (rc == 0 && envp)
        rc = load_env(&L, envp);
    if (rc == 0 && overrides)
        rc = load_overrides(&L, overrides, n_overrides);
    if (rc == 0)
        rc = apply_all(&L);
    if (rc == 0)
        rc = resolve(&L);
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
    free_strv(cfg->input_topics, cfg->n_input_topics);
    free(cfg->event_time_pointer);
    free_strv(cfg->group_pointers, cfg->n_group_pointers);
    free(cfg->event_id_pointer);
    free_aggs(cfg->aggs, cfg->n_aggs);
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

/* ---- the state fingerprint --------------------------------------------- */

/* Whether option o takes part in cfg's state: window keys of its window
 * type only, dedup keys only with dedup on. */
static bool shapes_state(const opt *o, const tm_config *cfg)
{
    if (!(o->flags & F_STATE))
        return false;
    if (o->windows && !(o->windows & WIN(cfg->window_type)))
        return false;
    bool dedup_detail = strncmp(o->name, "dedup.", 6) == 0 && strcmp(o->name, "dedup.enabled") != 0;
    if ((dedup_detail || strcmp(o->name, "input.event_id") == 0) && !cfg->dedup_enabled)
        return false;
    return true;
}

/* Option o's value in cfg, as one line of text. */
static void put_value(tm_buf *b, const opt *o, const tm_config *cfg)
{
    const void *f = (const char *)cfg + o->off;
    switch (o->type) {
    case T_STRING: {
        const char *v = *(char *const *)f;
        tm_buf_puts(b, v ? v : "");
        break;
    }
    case T_INT:
        tm_buf_put_i64(b, *(const int64_t *)f);
        break;
    case T_BOOL:
        tm_buf_puts(b, *(const bool *)f ? "true" : "false");
        break;
    case T_ENUM: {
        int v;
        memcpy(&v, f, sizeof v);
        tm_buf_puts(b, o->choices[v]);
        break;
    }
    case T_LIST: {
        char *const *items = *(char *const *const *)f;
        size_t n = *(const size_t *)((const char *)cfg + o->off_n);
        for (size_t i = 0; i < n; i++)
            tm_buf_printf(b, "%s%s", i ? "," : "", items[i]);
        break;
    }
    case T_GROUP_BY:
        if (cfg->group_mode == TM_GROUP_RECORD_KEY)
            tm_buf_puts(b, RECORD_KEY);
        for (size_t i = 0; i < cfg->n_group_pointers; i++)
            tm_buf_printf(b, "%s%s", i ? "," : "", cfg->group_pointers[i]);
        break;
    case T_AGGS:
        for (size_t i = 0; i < cfg->n_aggs; i++)
            tm_buf_printf(b, "%s%s:%s:%s", i ? "," : "", cfg->aggs[i].name,
                          agg_ops[cfg->aggs[i].op],
                          cfg->aggs[i].pointer ? cfg->aggs[i].pointer : "");
        break;
    case T_KAFKA:
        break;
    }
}

void tm_config_state_fingerprint(const tm_config *cfg, tm_buf *out)
{
    tm_buf_reset(out);
    for (size_t i = 0; i < N_OPTS; i++) {
        if (!shapes_state(&opts[i], cfg))
            continue;
        tm_buf_printf(out, "%s=", opts[i].name);
        put_value(out, &opts[i], cfg);
        tm_buf_putc(out, '\n');
    }
}

/* The value of key in a fingerprint (its length in *len), or NULL. */
static const char *fingerprint_value(const char *fp, size_t fp_len, const char *key, size_t key_len,
                                     size_t *len)
{
    const char *end = fp + fp_len;
    for (const char *line = fp; line < end;) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        const char *stop = nl ? nl : end;
        if ((size_t)(stop - line) > key_len && memcmp(line, key, key_len) == 0 &&
            line[key_len] == '=') {
            *len = (size_t)(stop - line) - key_len - 1;
            return line + key_len + 1;
        }
        line = nl ? nl + 1 : end;
    }
    return NULL;
}

/* Appends "key (was A, now B)" for key's line in old/new when they differ
 * ("unset" for a key one side lacks). Returns whether they differ. */
static bool diff_key(tm_buf *out, const char *key, size_t key_len, const char *old, size_t old_len,
                     const char *new, size_t new_len)
{
    size_t a_len = 0, b_len = 0;
    const char *a = fingerprint_value(old, old_len, key, key_len, &a_len);
    const char *b = fingerprint_value(new, new_len, key, key_len, &b_len);
    if ((!a && !b) || (a && b && a_len == b_len && memcmp(a, b, a_len) == 0))
        return false;
    tm_buf_printf(out, "%s%.*s (was %.*s, now %.*s)", out->len ? "; " : "", (int)key_len, key,
                  a ? (int)a_len : 5, a ? a : "unset", b ? (int)b_len : 5, b ? b : "unset");
    return true;
}

/* Calls diff_key for every key of fp that `seen` does not hold. */
static size_t diff_keys_of(tm_buf *out, const char *fp, size_t fp_len, const char *old,
                           size_t old_len, const char *new, size_t new_len, const char *seen,
                           size_t seen_len)
{
    size_t n = 0;
    const char *end = fp + fp_len;
    for (const char *line = fp; line < end;) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        const char *stop = nl ? nl : end;
        const char *eq = memchr(line, '=', (size_t)(stop - line));
        size_t key_len = eq ? (size_t)(eq - line) : (size_t)(stop - line);
        size_t ignored;
        if (!seen || !fingerprint_value(seen, seen_len, line, key_len, &ignored))
            n += diff_key(out, line, key_len, old, old_len, new, new_len);
        line = nl ? nl + 1 : end;
    }
    return n;
}

size_t tm_config_fingerprint_diff(const char *old, size_t old_len, const char *new, size_t new_len,
                                  tm_buf *out)
{
    /* The new configuration's keys, then those only the old one had. */
    size_t n = diff_keys_of(out, new, new_len, old, old_len, new, new_len, NULL, 0);
    return n + diff_keys_of(out, old, old_len, old, old_len, new, new_len, new, new_len);
}

static void type_text(const opt *o, char *buf, size_t n)
{
    switch (o->type) {
    case T_INT:
        if (o->min == INT64_MIN)
            snprintf(buf, n, "int64");
        else if (o->max != INT64_MAX)
            snprintf(buf, n, "int64 %" PRId64 "..%" PRId64, o->min, o->max);
        else if (o->min == 1)
            snprintf(buf, n, "int64 > 0");
        else
            snprintf(buf, n, "int64 >= %" PRId64, o->min);
        return;
    case T_ENUM:
        join_choices(o->choices, "|", buf, n);
        return;
    case T_STRING:
        if (o->choices)
            join_choices(o->choices, "|", buf, n);
        else
            snprintf(buf, n, "%s", o->check == check_pointer ? "JSON pointer" : "string");
        return;
    case T_BOOL:
        snprintf(buf, n, "bool");
        return;
    case T_LIST:
        snprintf(buf, n, "list of strings");
        return;
    case T_GROUP_BY:
        snprintf(buf, n, "pointer|list|$record_key");
        return;
    case T_AGGS:
        snprintf(buf, n, "list of objects");
        return;
    case T_KAFKA:
        snprintf(buf, n, "string|number|bool");
        return;
    }
}

void tm_config_print_help(void *file)
{
    FILE *f = file;
    char type[96];
    fprintf(f, "%-34s %-29s %-30s %s\n", "OPTION", "TYPE", "DEFAULT", "DESCRIPTION");
    for (size_t i = 0; i < N_OPTS; i++) {
        const opt *o = &opts[i];
        const char *def = o->def                    ? o->def
                          : o->def_help             ? o->def_help
                          : (o->flags & F_REQUIRED) ? "(required)"
                                                    : "(none)";
        type_text(o, type, sizeof type);
        fprintf(f, "%-34s %-29s %-30s %s%s\n", o->name, type, def, o->help,
                o->flags & F_STATE ? " [state]" : "");
    }
    fputs("\nSources, later wins: the JSON file (nested objects, e.g. "
          "{\"window\":{\"size_ms\":60000}}),\n"
          "then environment variables TIDEMARK_<OPTION> (upper case, '.' -> '_', e.g.\n"
          "TIDEMARK_WINDOW_SIZE_MS; TIDEMARK_KAFKA_BOOTSTRAP_SERVERS -> "
          "kafka.bootstrap.servers),\n"
          "then --set key=value overrides. Lists from the environment or overrides are\n"
          "comma-separated, or JSON text starting with '['. Unknown keys and unknown\n"
          "TIDEMARK_* variables are errors.\n"
          "\n"
          "[state]: the key shapes the state an application keeps; a restart with another\n"
          "value refuses to start (exit 2) rather than restore state of another shape:\n"
          "use a new application_id, or delete the state with tidemark reset. Every other\n"
          "key may change between restarts.\n",
          f);
}
