/*
 * config_fingerprint.c: the state fingerprint (config.h): the values of the
 * options flagged F_STATE in the option table, as "key=value" lines, and
 * the diff of two fingerprints that a refused restart reports.
 */
#include "config_loader.h"

#include "buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Whether option o takes part in cfg's state: window keys of its window
 * type only, dedup keys only with dedup on, repartition keys only when the
 * pipeline repartitions (window tasks per repartition partition), so that
 * a pipeline that does not keeps the fingerprint it had before they
 * existed. */
static bool shapes_state(const opt *o, const tm_config *cfg)
{
    if (!(o->flags & F_STATE))
        return false;
    if (o->windows && !(o->windows & WIN(cfg->window_type)))
        return false;
    bool dedup_detail = strncmp(o->name, "dedup.", 6) == 0 && strcmp(o->name, "dedup.enabled") != 0;
    if ((dedup_detail || strcmp(o->name, "input.event_id") == 0) && !cfg->dedup_enabled)
        return false;
    if (strncmp(o->name, "repartition.", 12) == 0 && !tm_config_repartitions(cfg))
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
    case T_FRACTION:
        tm_buf_printf(b, "%.17g", *(const double *)f);
        break;
    case T_BOOL:
        tm_buf_puts(b, *(const bool *)f ? "true" : "false");
        break;
    case T_ENUM: {
        int v;
        memcpy(&v, f, sizeof v);
        /* The resolved mode: auto and always make the same state. */
        if (o->off == offsetof(tm_config, repartition_mode))
            v = TM_REPARTITION_ALWAYS;
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
                          config_agg_ops[cfg->aggs[i].op],
                          cfg->aggs[i].pointer ? cfg->aggs[i].pointer : "");
        break;
    case T_KAFKA:
        break;
    }
}

void tm_config_state_fingerprint(const tm_config *cfg, tm_buf *out)
{
    size_t n_opts;
    const opt *opts = config_options(&n_opts);
    tm_buf_reset(out);
    for (size_t i = 0; i < n_opts; i++) {
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
