/*
 * config_gather.c: the gathering phase of tm_config_load (config.c): each
 * source (defaults, the JSON file, TIDEMARK_* environment variables,
 * overrides) records which raw value it supplies for which option in the
 * loader's slots, a later source replacing an earlier one; config_apply.c
 * parses and checks each winning value. kafka.* properties are the
 * exception: they go straight into cfg->kafka as text, for librdkafka.
 */
#include "config_loader.h"

#include "alloc.h"
#include "buf.h"
#include "err.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENV_PREFIX "TIDEMARK_"
#define ENV_KAFKA_PREFIX "TIDEMARK_KAFKA_"
#define KAFKA_PREFIX "kafka."
/* A config file is a few kilobytes; anything this big is a wrong path. */
#define FILE_MAX ((size_t)16 << 20)

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

/* ---- unknown keys ------------------------------------------------------ */

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
    size_t n_opts;
    const opt *opts = config_options(&n_opts);
    size_t best = 2 * 3 + 1; /* accept edit distances up to 3 */
    const char *found = NULL;
    char cand[96];
    for (size_t i = 0; i < n_opts; i++) {
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

/* ---- option lookup ------------------------------------------------------ */

static const opt *find_opt_by_env(const char *name, size_t len)
{
    size_t n_opts;
    const opt *opts = config_options(&n_opts);
    char buf[96];
    for (size_t i = 0; i < n_opts; i++) {
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
    size_t n_opts;
    const opt *opts = config_options(&n_opts);
    size_t n = strlen(name);
    for (size_t i = 0; i < n_opts; i++)
        if (opts[i].type != T_KAFKA && strncmp(opts[i].name, name, n) == 0 &&
            opts[i].name[n] == '.')
            return true;
    return false;
}

static bool is_kafka_key(const char *name)
{
    return strcmp(name, "kafka") == 0 || strncmp(name, KAFKA_PREFIX, strlen(KAFKA_PREFIX)) == 0;
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
        return config_key_fail(L, name, "", "expected a string, number or bool (got %s)",
                               config_json_type_name(j));
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
    slot *s = config_slot_of(L, o);
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
            return config_key_fail(L, n, "", "expected an object of librdkafka properties (got %s)",
                                   config_json_type_name(c));
        return kafka_from_json(L, n, c);
    }
    const opt *o = config_find_opt(n, name->len);
    if (o) {
        if (config_slot_of(L, o)->src == SRC_FILE)
            return tm_seterr(L->errstr, L->errlen, TM_ECONFIG, "config: duplicate key '%s'", n);
        set_slot(L, o, SRC_FILE, c, NULL, "");
        return 0;
    }
    if (!is_group(n))
        return unknown_key(L, n, name->len, "");
    if (!cJSON_IsObject(c))
        return config_key_fail(L, n, "", "expected an object (got %s)", config_json_type_name(c));
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

const char *config_json_too_deep(const char *text)
{
    size_t depth = 0;
    bool in_string = false;
    for (const char *p = text; *p; p++) {
        if (in_string) {
            if (*p == '\\' && p[1])
                p++;
            else if (*p == '"')
                in_string = false;
        } else if (*p == '"') {
            in_string = true;
        } else if (*p == '[' || *p == '{') {
            if (++depth > CJSON_NESTING_LIMIT)
                return p;
        } else if ((*p == ']' || *p == '}') && depth > 0) {
            depth--;
        }
    }
    return NULL;
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
        const char *deep = config_json_too_deep(b->data);
        if (deep && (!end || deep <= end)) {
            text_position(b->data, deep, &line, &col);
            return tm_seterr(L->errstr, L->errlen, TM_ECONFIG,
                             "config file %s: nesting deeper than %d levels at line %zu, "
                             "column %zu",
                             path, CJSON_NESTING_LIMIT, line, col);
        }
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
int config_load_file(loader *L, const char *path, cJSON **root)
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

int config_load_env(loader *L, char *const *envp)
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
    const opt *o = config_find_opt(ov, len);
    if (!o)
        return unknown_key(L, ov, len, " (from override)");
    set_slot(L, o, SRC_OVERRIDE, NULL, eq + 1, " (from override)");
    return 0;
}

int config_load_overrides(loader *L, const char *const *ovs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int rc = load_override(L, ovs[i]);
        if (rc)
            return rc;
    }
    return 0;
}

void config_load_defaults(loader *L)
{
    size_t n_opts;
    const opt *opts = config_options(&n_opts);
    for (size_t i = 0; i < n_opts; i++)
        if (opts[i].def)
            set_slot(L, &opts[i], SRC_DEFAULT, NULL, opts[i].def, " (default)");
}
