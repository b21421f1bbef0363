/*
 * config_apply.c: the applying phase of tm_config_load (config.c): each
 * winning raw value the gathering phase recorded is parsed and checked
 * exactly once, with the name of its source in any error, and stored in
 * the config; then resolving: the cross-option rules, and the defaults that
 * depend on other options.
 */
#include "config_loader.h"

#include "alloc.h"
#include "buf.h"
#include "err.h"
#include "num.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A hopping event belongs to ceil(size/advance) windows; beyond this the
 * per-event cost is almost surely a typo (advance in s, size in ms). */
#define HOP_WINDOWS_MAX 10000

static void *field(tm_config *cfg, size_t off)
{
    return (char *)cfg + off;
}

static bool is_user_set(const slot *s)
{
    return s->src >= SRC_FILE;
}

/* ---- applying: scalar values ------------------------------------------- */

static int slot_string(loader *L, const opt *o, const slot *s, const char **out)
{
    if (!s->json) {
        *out = s->text;
        return 0;
    }
    if (!cJSON_IsString(s->json))
        return config_key_fail(L, o->name, s->origin, "expected a string (got %s)",
                               config_json_type_name(s->json));
    *out = s->json->valuestring;
    return 0;
}

/* "out of range" for every integer option whichever source set it, so
 * that the file, the environment and an override fail alike; got is the
 * value as given (it may not fit an int64). */
static int beyond_limit(loader *L, const opt *o, const slot *s, const char *got)
{
    return config_key_fail(L, o->name, s->origin,
                           "out of range: every integer option is between -2^53 and 2^53 "
                           "(%" PRId64 ") (got %s)",
                           TM_CONFIG_INT_MAX, got);
}

/* JSON numbers are doubles: accept only integers; a value beyond int64 is
 * reported as given. A double beyond 2^53 is always integral, and the
 * limit check below refuses it. */
static int json_int(loader *L, const opt *o, const slot *s, int64_t *out)
{
    const cJSON *j = s->json;
    if (!cJSON_IsNumber(j))
        return config_key_fail(L, o->name, s->origin, "expected an integer (got %s)",
                               config_json_type_name(j));
    double v = j->valuedouble;
    char got[64];
    snprintf(got, sizeof got, "%.17g", v);
    if (!(v >= -9223372036854775808.0 && v < 9223372036854775808.0))
        return beyond_limit(L, o, s, got);
    if ((double)(int64_t)v != v)
        return config_key_fail(L, o->name, s->origin, "expected an integer (got %s)", got);
    *out = (int64_t)v;
    return 0;
}

/* An integer as text (environment, override, default); digits that do not
 * fit an int64 are out of range, not junk. */
static int text_int(loader *L, const opt *o, const slot *s, int64_t *out)
{
    if (tm_parse_i64(s->text, out) == 0)
        return 0;
    const char *d = s->text + (s->text[0] == '-' || s->text[0] == '+');
    bool digits = *d != '\0' && strspn(d, "0123456789") == strlen(d);
    if (digits)
        return beyond_limit(L, o, s, s->text);
    return config_key_fail(L, o->name, s->origin, "expected an integer (got '%.100s')", s->text);
}

/* The option's own bounds inside the limit every integer option has. */
static int check_bounds(loader *L, const opt *o, const slot *s, int64_t v)
{
    if (v < -TM_CONFIG_INT_MAX || v > TM_CONFIG_INT_MAX) {
        char got[32];
        snprintf(got, sizeof got, "%" PRId64, v);
        return beyond_limit(L, o, s, got);
    }
    if (v >= o->min && v <= o->max)
        return 0;
    if (o->max == INT64_MAX && o->min == 1)
        return config_key_fail(L, o->name, s->origin, "must be > 0 (got %" PRId64 ")", v);
    if (o->max == INT64_MAX)
        return config_key_fail(L, o->name, s->origin, "must be >= %" PRId64 " (got %" PRId64 ")",
                               o->min, v);
    return config_key_fail(L, o->name, s->origin,
                           "must be between %" PRId64 " and %" PRId64 " (got %" PRId64 ")", o->min,
                           o->max, v);
}

static int apply_int(loader *L, const opt *o, const slot *s)
{
    int64_t v = 0;
    int rc = s->json ? json_int(L, o, s, &v) : text_int(L, o, s, &v);
    if (rc == 0)
        rc = check_bounds(L, o, s, v);
    if (rc == 0)
        *(int64_t *)field(L->cfg, o->off) = v;
    return rc;
}

/* A number in (0, 1]: a JSON number from the file, else text strtod reads
 * whole. NaN and infinities fail the range check. */
static int apply_fraction(loader *L, const opt *o, const slot *s)
{
    double v;
    char got[120];
    if (s->json) {
        if (!cJSON_IsNumber(s->json))
            return config_key_fail(L, o->name, s->origin, "expected a number (got %s)",
                                   config_json_type_name(s->json));
        v = s->json->valuedouble;
        snprintf(got, sizeof got, "%.17g", v);
    } else {
        char *end = NULL;
        v = strtod(s->text, &end);
        if (end == s->text || *end != '\0')
            return config_key_fail(L, o->name, s->origin, "expected a number (got '%.100s')",
                                   s->text);
        snprintf(got, sizeof got, "%.100s", s->text);
    }
    if (!(v > 0 && v <= 1))
        return config_key_fail(L, o->name, s->origin, "must be in (0, 1] (got %s)", got);
    *(double *)field(L->cfg, o->off) = v;
    return 0;
}

static int apply_bool(loader *L, const opt *o, const slot *s)
{
    bool v;
    if (s->json && cJSON_IsBool(s->json))
        v = cJSON_IsTrue(s->json);
    else if (s->json)
        return config_key_fail(L, o->name, s->origin, "expected true or false (got %s)",
                               config_json_type_name(s->json));
    else if (strcmp(s->text, "true") == 0 || strcmp(s->text, "false") == 0)
        v = s->text[0] == 't';
    else
        return config_key_fail(L, o->name, s->origin, "expected true or false (got '%.100s')",
                               s->text);
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
    config_join_choices(choices, ", ", list, sizeof list);
    return config_key_fail(L, key, origin, "unknown %s '%.100s' (expected %s)", what, v, list);
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
        return config_key_fail(L, key, origin, "%s (got '%.100s')", problem, v);
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
        return config_key_fail(L, o->name, s->origin,
                               "expected JSON text, e.g. [{\"name\":\"n\",\"op\":\"count\"}]");
    if (json) {
        *owned = cJSON_ParseWithOpts(t, NULL, 1); /* 1: no trailing junk */
        const char *deep = *owned ? NULL : config_json_too_deep(t);
        if (deep)
            return config_key_fail(L, o->name, s->origin,
                                   "nesting deeper than %d levels at character %zu of the text",
                                   CJSON_NESTING_LIMIT, (size_t)(deep - s->text) + 1);
        if (!*owned)
            return config_key_fail(L, o->name, s->origin, "invalid JSON text '%.100s'", s->text);
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

/* Reads a JSON list of strings, each passing check, into a new array. */
static int json_strv(loader *L, const char *key, const char *origin, const cJSON *arr,
                     str_check check, char ***out, size_t *n_out)
{
    if (!cJSON_IsArray(arr))
        return config_key_fail(L, key, origin, "expected a list of strings (got %s)",
                               config_json_type_name(arr));
    size_t n = (size_t)cJSON_GetArraySize(arr), i = 0;
    char **v = tm_xcalloc(n, sizeof *v);
    int rc = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, arr)
    {
        char item[160];
        snprintf(item, sizeof item, "%s[%zu]", key, i);
        if (!cJSON_IsString(c))
            rc = config_key_fail(L, item, origin, "expected a string (got %s)",
                                 config_json_type_name(c));
        if (rc == 0)
            rc = run_check(L, check, item, origin, c->valuestring);
        if (rc)
            break;
        v[i++] = tm_xstrdup(c->valuestring);
    }
    if (rc) {
        config_free_strv(v, i);
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
        rc = config_key_fail(L, o->name, s->origin, "must not be empty");
    }
    if (rc == 0) {
        char ***dst = field(L->cfg, o->off);
        size_t *dst_n = field(L->cfg, o->off_n);
        config_free_strv(*dst, *dst_n);
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
        int rc = run_check(L, config_check_pointer, o->name, s->origin, j->valuestring);
        if (rc)
            return rc;
        cfg->group_mode = TM_GROUP_POINTER;
        cfg->group_pointers = tm_xcalloc(1, sizeof *cfg->group_pointers);
        cfg->group_pointers[0] = tm_xstrdup(j->valuestring);
        cfg->n_group_pointers = 1;
        return 0;
    }
    if (!cJSON_IsArray(j))
        return config_key_fail(L, o->name, s->origin,
                               "expected a JSON pointer, a list of pointers or \"$record_key\" "
                               "(got %s)",
                               config_json_type_name(j));
    int rc = json_strv(L, o->name, s->origin, j, config_check_pointer, &cfg->group_pointers,
                       &cfg->n_group_pointers);
    if (rc == 0 && cfg->n_group_pointers == 0)
        rc = config_key_fail(L, o->name, s->origin, "must not be an empty list");
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
        return config_key_fail(L, key, origin, "expected a string (got %s)",
                               config_json_type_name(j));
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
        return config_key_fail(L, item, origin, "expected an object {name, op, pointer} (got %s)",
                               config_json_type_name(obj));
    int rc = agg_members(L, item, origin, obj, v);
    if (rc)
        return rc;
    snprintf(key, sizeof key, "%s.name", item);
    if (!v[0] || !v[0][0])
        return config_key_fail(L, key, origin, v[0] ? "must not be empty" : "required");
    for (size_t k = 0; k < i; k++)
        if (strcmp(aggs[k].name, v[0]) == 0)
            return config_key_fail(L, key, origin,
                                   "duplicate name '%.100s' (also aggregations[%zu])", v[0], k);
    snprintf(key, sizeof key, "%s.op", item);
    if (!v[1])
        return config_key_fail(L, key, origin, "required");
    int op = choice_index(config_agg_ops, v[1]);
    if (op < 0)
        return bad_choice(L, key, origin, "op", v[1], config_agg_ops);
    snprintf(key, sizeof key, "%s.pointer", item);
    if (op == TM_AGG_COUNT && v[2])
        return config_key_fail(L, key, origin, "not allowed for op count");
    if (op != TM_AGG_COUNT && !v[2])
        return config_key_fail(L, key, origin, "required for op %s", v[1]);
    rc = v[2] ? run_check(L, config_check_pointer, key, origin, v[2]) : 0;
    if (rc)
        return rc;
    a->name = tm_xstrdup(v[0]);
    a->op = (tm_agg_op)op;
    a->pointer = v[2] ? tm_xstrdup(v[2]) : NULL;
    return 0;
}

static int aggs_from_json(loader *L, const opt *o, const slot *s, const cJSON *arr)
{
    if (!cJSON_IsArray(arr))
        return config_key_fail(L, o->name, s->origin,
                               "expected a list of {name, op, pointer} (got %s)",
                               config_json_type_name(arr));
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
        config_free_aggs(aggs, i);
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
    case T_FRACTION:
        return apply_fraction(L, o, s);
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
int config_apply_all(loader *L)
{
    size_t n_opts;
    const opt *opts = config_options(&n_opts);
    for (size_t i = 0; i < n_opts; i++) {
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
    for (int t = 0; config_window_types[t]; t++)
        if (mask & WIN(t))
            names[k++] = config_window_types[t];
    config_join_choices(names, ", ", buf, n);
}

/* Required keys, and keys that mean nothing for the chosen window type
 * (a gap with tumbling windows is a mistake, not a harmless extra). Rows
 * are checked in table order, and window.type precedes the window keys. */
static int check_presence(loader *L)
{
    size_t n_opts;
    const opt *opts = config_options(&n_opts);
    unsigned wt = WIN(L->cfg->window_type);
    const char *wname = config_window_types[L->cfg->window_type];
    char types[64];
    for (size_t i = 0; i < n_opts; i++) {
        const opt *o = &opts[i];
        const slot *s = &L->slots[i];
        if (s->src == SRC_NONE && (o->flags & F_REQUIRED))
            return config_key_fail(L, o->name, "", "required");
        if (s->src == SRC_NONE && (o->req_windows & wt))
            return config_key_fail(L, o->name, "", "required when window.type is %s", wname);
        if (is_user_set(s) && o->windows && !(o->windows & wt)) {
            window_names(o->windows, types, sizeof types);
            return config_key_fail(L, o->name, s->origin,
                                   "not allowed when window.type is %s (only for %s)", wname,
                                   types);
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
            return config_key_fail(L, "window.advance_ms", "",
                                   "must be <= window.size_ms (%" PRId64 ") (got %" PRId64 ")",
                                   size, adv);
        int64_t per_event = size / adv + (size % adv != 0);
        if (per_event > HOP_WINDOWS_MAX)
            return config_key_fail(L, "window.advance_ms", "",
                                   "too small: each event would be in %" PRId64
                                   " windows (window.size_ms / window.advance_ms must be <= %d)",
                                   per_event, HOP_WINDOWS_MAX);
        period = adv;
    }
    int64_t r = cfg->window_offset_ms % period;
    cfg->window_offset_ms = r < 0 ? r + period : r;
    return 0;
}

/* The dedup TTL default, 2 x (D + L), is 0 when D = L = 0: a key that
 * expires at once dedups nothing, so then the user must choose a TTL
 * rather than get a silent no-op. Like a value the user gives, the default
 * is at most 2^53 (D and L are, so the sum does not overflow). */
static int resolve_dedup(loader *L)
{
    tm_config *cfg = L->cfg;
    if (cfg->dedup_enabled && !cfg->event_id_pointer)
        return config_key_fail(L, "input.event_id", "", "required when dedup.enabled is true");
    if (config_slot_of(L, config_find_opt("dedup.ttl_ms", strlen("dedup.ttl_ms")))->src != SRC_NONE)
        return 0;
    int64_t ttl = 2 * (cfg->max_out_of_orderness_ms + cfg->allowed_lateness_ms);
    cfg->dedup_ttl_ms = ttl < TM_CONFIG_INT_MAX ? ttl : TM_CONFIG_INT_MAX;
    if (cfg->dedup_enabled && cfg->dedup_ttl_ms == 0)
        return config_key_fail(
            L, "dedup.ttl_ms", "",
            "required when dedup.enabled is true and "
            "watermark.max_out_of_orderness_ms and allowed_lateness_ms are both 0 "
            "(the default, 2 x their sum, would be 0)");
    return 0;
}

/* watermark.quantile means something with watermark.combine = quantile
 * only: required there, and refused with min, like a window key for
 * another window type: a q the user set but the engine ignores is a
 * mistake (a quantile believed in effect), not a harmless extra. With min
 * the engine combines with q = 1, which is the minimum. */
static int resolve_watermark(loader *L)
{
    tm_config *cfg = L->cfg;
    const slot *s =
        config_slot_of(L, config_find_opt("watermark.quantile", strlen("watermark.quantile")));
    if (cfg->watermark_combine == TM_COMBINE_QUANTILE) {
        if (s->src == SRC_NONE)
            return config_key_fail(L, "watermark.quantile", "",
                                   "required when watermark.combine is quantile");
        return 0;
    }
    if (s->src != SRC_NONE)
        return config_key_fail(L, "watermark.quantile", s->origin,
                               "not allowed when watermark.combine is %s (only for quantile)",
                               config_watermark_combines[cfg->watermark_combine]);
    cfg->watermark_quantile = 1;
    return 0;
}

/* Writing an output into an input topic would feed results back in as
 * events; sharing the results topic with raw late/dead records would
 * corrupt the compacted window table. Both are configuration mistakes. */
static int check_topic_use(loader *L, const char *key, const char *topic)
{
    const tm_config *cfg = L->cfg;
    if (tm_config_topic_index(cfg, topic) >= 0)
        return config_key_fail(L, key, "", "must not be an input topic (got '%s')", topic);
    if (strcmp(key, "output.topic") != 0 && strcmp(topic, cfg->output_topic) == 0)
        return config_key_fail(L, key, "", "must differ from output.topic (got '%s')", topic);
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

/* kafka.group.instance.id replaces the static member id tidemark derives:
 * the broker refuses one that breaks its rule only when the consumer
 * joins, so check it here, like the derived one (tm_config_check_instance_id). */
static int check_group_instance_id(loader *L)
{
    const char *v = tm_config_kafka(L->cfg, "group.instance.id");
    const char *problem = v ? config_check_kafka_name(v) : NULL;
    if (problem)
        return config_key_fail(L, "kafka.group.instance.id", "",
                               "%s (Kafka checks a group.instance.id like a topic name) "
                               "(got '%.100s')",
                               problem, v);
    return 0;
}

int config_resolve(loader *L)
{
    int rc = check_presence(L);
    if (rc == 0)
        rc = resolve_window(L);
    if (rc == 0)
        rc = resolve_watermark(L);
    if (rc == 0)
        rc = resolve_dedup(L);
    if (rc == 0)
        rc = resolve_topics(L);
    if (rc == 0)
        rc = check_group_instance_id(L);
    if (rc == 0) {
        const opt *o =
            config_find_opt("clock_skew.max_ahead_ms", strlen("clock_skew.max_ahead_ms"));
        L->cfg->clock_skew_enabled = config_slot_of(L, o)->src != SRC_NONE;
    }
    return rc;
}
