/*
 * config_loader.h: what the files of service/config/ share: the option
 * table's row type, the loader's state, and the functions one file defines
 * for the others. Only the .c files of service/config/ include it; the rest
 * of the service sees config.h.
 *
 * The files, one job each:
 *   config_load.c         tm_config_load: runs the phases below (and states
 *                         the loader's invariants)
 *   config.c              a loaded config: freeing it, its queries
 *   config_loader.c       the value-error messages every phase shares
 *   config_options.c      the option table, its choices and string checks,
 *                         lookup by name
 *   config_gather.c       gathering: defaults, the file, the environment,
 *                         overrides, the kafka.* passthrough
 *   config_apply.c        applying each winning value, then resolving the
 *                         cross-option rules
 *   config_fingerprint.c  the state fingerprint and its diff
 *   config_help.c         --help
 */
#ifndef TM_CONFIG_LOADER_H
#define TM_CONFIG_LOADER_H

#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "buf.h"

#define RECORD_KEY "$record_key"

/* ---- the option table ------------------------------------------------ */

typedef enum {
    T_STRING,   /* a string; optional check() and/or choices */
    T_INT,      /* an int64 within [min, max] */
    T_FRACTION, /* a number in (0, 1], stored as a double */
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

/* ---- config_options.c ---------------------------------------------------- */

/* The option table, in the order --help lists it; *n gets its length. */
const opt *config_options(size_t *n);

/* Choice names in enum order (tm_agg_op, tm_window_type,
 * tm_watermark_combine_mode, tm_repartition_mode). */
extern const char *const config_agg_ops[];
extern const char *const config_window_types[];
extern const char *const config_watermark_combines[];
extern const char *const config_repartition_modes[];

/* The string check of JSON pointer options (the other checks stay private
 * to the table). */
const char *config_check_pointer(const char *s);
#define CONFIG_KAFKA_NAME_MAX 249

/* Kafka's rule for a topic name (1-249 characters of A-Z a-z 0-9 . _ -,
 * not "." or ".."), which its brokers also apply to group.instance.id
 * (JoinGroupRequest.validateGroupInstanceId): NULL or the problem. */
const char *config_check_kafka_name(const char *s);
void config_join_choices(const char *const *choices, const char *sep, char *buf, size_t n);
const opt *config_find_opt(const char *name, size_t len);
/* The loader's slot of a row of the table. */
slot *config_slot_of(loader *L, const opt *o);

/* ---- config.c ------------------------------------------------------------ */

/* A value error ("config: <key><origin>: ..."): writes the message and
 * returns TM_ECONFIG for the caller to pass on. The JSON type names such
 * messages use. */
int config_key_fail(loader *L, const char *key, const char *origin, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
const char *config_json_type_name(const cJSON *j);

/* ---- config_gather.c ----------------------------------------------------- */

/* The gathering phase, one source each, called in this order: a later
 * source replaces an earlier one. Those that can fail return 0 or a negative
 * tm_err, with the message in L->errstr. */
void config_load_defaults(loader *L);
int config_load_file(loader *L, const char *path, cJSON **root);
int config_load_env(loader *L, char *const *envp);
int config_load_overrides(loader *L, const char *const *ovs, size_t n);
/* Where text nests deeper than cJSON parses (CJSON_NESTING_LIMIT), or
 * NULL: cJSON gives up there with no reason, which would read as a syntax
 * error. Brackets inside strings do not count. */
const char *config_json_too_deep(const char *text);

/* ---- config_apply.c ------------------------------------------------------ */

/* The applying phase, then the cross-option rules and dependent defaults. */
int config_apply_all(loader *L);
int config_resolve(loader *L);

/* ---- config.c ------------------------------------------------------------ */

/* Free what applying builds (a failed apply frees its part; tm_config_free
 * the rest). */
void config_free_strv(char **v, size_t n);
void config_free_aggs(tm_agg_spec *aggs, size_t n);

#endif
