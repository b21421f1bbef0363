/*
 * test_config.c: config.c, the gate every setting passes: the shipped
 * example configs load; defaults (including the dependent ones) resolve as
 * documented; the layering file < environment < overrides holds; kafka.*
 * passes through; and every kind of mistake is refused with a message that
 * names the key (or variable) at fault.
 */
#include "config.h"

#include "alloc.h"
#include "buf.h"
#include "err.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The smallest valid file (tumbling); tests append or replace parts. */
#define BASE                                                                                       \
    "\"application_id\":\"app\",\"input\":{\"topics\":[\"in\"],"                                   \
    "\"event_time\":{\"pointer\":\"/t\"}},\"output\":{\"topic\":\"out\"}"
#define TUMBLING "\"window\":{\"type\":\"tumbling\",\"size_ms\":1000}"
#define MIN_JSON "{" BASE "," TUMBLING "}"

typedef struct result {
    int rc;
    tm_config *cfg; /* NULL unless rc == 0 */
    char err[512];
} result;

/* Writes text to a new file under /tmp; the caller unlinks and frees. */
static char *write_tmp(const char *text)
{
    char *path = tm_xstrdup("/tmp/tm_test_config_XXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0, "mkstemp failed");
    size_t n = strlen(text);
    cr_assert_eq(write(fd, text, n), (ssize_t)n);
    close(fd);
    return path;
}

/* Loads json (NULL = no file) with env and overrides. */
static result load(const char *json, char *const *env, const char *const *ov, size_t n_ov)
{
    result r = {.rc = 0, .cfg = NULL};
    char *path = json ? write_tmp(json) : NULL;
    r.rc = tm_config_load(&r.cfg, path, env, ov, n_ov, r.err, sizeof r.err);
    if (path) {
        unlink(path);
        free(path);
    }
    if (r.rc != 0)
        cr_assert_null(r.cfg, "*out must be untouched on failure");
    return r;
}

static tm_config *load_ok(const char *json, char *const *env, const char *const *ov, size_t n_ov)
{
    result r = load(json, env, ov, n_ov);
    cr_assert_eq(r.rc, 0, "expected success, got %d: %s", r.rc, r.err);
    return r.cfg;
}

/* Expects TM_ECONFIG with every needle in the message. */
static void expect_err(const char *json, char *const *env, const char *const *ov, size_t n_ov,
                       const char *needle1, const char *needle2)
{
    result r = load(json, env, ov, n_ov);
    cr_assert_eq(r.rc, TM_ECONFIG, "expected TM_ECONFIG for %s, got %d (%s)", json ? json : "",
                 r.rc, r.err);
    cr_assert(strncmp(r.err, "config", 6) == 0, "message '%s' must start with config", r.err);
    cr_assert(strstr(r.err, needle1), "message '%s' lacks '%s'", r.err, needle1);
    if (needle2)
        cr_assert(strstr(r.err, needle2), "message '%s' lacks '%s'", r.err, needle2);
}

static void expect_file_err(const char *json, const char *needle1, const char *needle2)
{
    expect_err(json, NULL, NULL, 0, needle1, needle2);
}

static void expect_override_err(const char *ov, const char *needle1, const char *needle2)
{
    const char *ovs[] = {ov};
    expect_err(MIN_JSON, NULL, ovs, 1, needle1, needle2);
}

/* The repository: $TIDEMARK_SOURCE_DIR (set by ctest), else two levels
 * above this file (a by-hand build from the repository root). */
static void source_dir(char *buf, size_t n)
{
    const char *env = getenv("TIDEMARK_SOURCE_DIR");
    if (env && *env) {
        snprintf(buf, n, "%s", env);
        return;
    }
    snprintf(buf, n, "%s", __FILE__);
    for (int up = 0; up < 3; up++) {
        char *slash = strrchr(buf, '/');
        if (!slash) {
            snprintf(buf, n, ".");
            return;
        }
        *slash = '\0';
    }
    if (!buf[0])
        snprintf(buf, n, "/");
}

/* ---- the shipped examples ------------------------------------------------ */

Test(config, every_example_config_loads)
{
    char root[1024], dir[1200], path[1500];
    source_dir(root, sizeof root);
    snprintf(dir, sizeof dir, "%s/tests/golden/examples", root);
    DIR *d = opendir(dir);
    cr_assert_not_null(
        d, "examples folder %s is missing (set TIDEMARK_SOURCE_DIR to the repository)", dir);
    int loaded = 0;
    for (struct dirent *e = readdir(d); e; e = readdir(d)) {
        struct stat st;
        snprintf(path, sizeof path, "%s/%s/config.json", dir, e->d_name);
        if (e->d_name[0] == '.' || stat(path, &st) != 0)
            continue;
        tm_config *cfg = NULL;
        char err[512] = "";
        int rc = tm_config_load(&cfg, path, NULL, NULL, 0, err, sizeof err);
        cr_assert_eq(rc, 0, "%s: %s", path, err);
        tm_config_free(cfg);
        loaded++;
    }
    closedir(d);
    cr_assert_geq(loaded, 4, "expected the 4 examples in %s, loaded %d", dir, loaded);
}

Test(config, tiny_example_values)
{
    char root[1024], path[1200];
    source_dir(root, sizeof root);
    snprintf(path, sizeof path, "%s/tests/golden/examples/tiny/config.json", root);
    tm_config *cfg = NULL;
    char err[512] = "";
    cr_assert_eq(tm_config_load(&cfg, path, NULL, NULL, 0, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(cfg->application_id, "t");
    cr_assert_eq(cfg->event_time_format, TM_TIME_EPOCH_MS);
    cr_assert_eq(cfg->group_mode, TM_GROUP_POINTER);
    cr_assert_str_eq(cfg->group_pointers[0], "/k");
    cr_assert_str_eq(cfg->event_id_pointer, "/id");
    cr_assert_eq(cfg->max_out_of_orderness_ms, 10);
    cr_assert_eq(cfg->allowed_lateness_ms, 50);
    cr_assert_eq(cfg->window_size_ms, 100);
    cr_assert_eq(cfg->n_aggs, 2);
    cr_assert_str_eq(cfg->aggs[1].name, "amt");
    cr_assert_eq(cfg->aggs[1].op, TM_AGG_SUM);
    cr_assert_str_eq(cfg->aggs[1].pointer, "/a");
    cr_assert_null(cfg->aggs[0].pointer);
    cr_assert(cfg->dedup_enabled);
    cr_assert_eq(cfg->dedup_key, TM_DEDUP_ID_EVENT_TIME);
    cr_assert_eq(cfg->dedup_ttl_ms, 120, "2 x (10 + 50)");
    cr_assert_str_eq(cfg->late_topic, "late");
    tm_config_free(cfg);
}

/* ---- defaults ------------------------------------------------------------ */

Test(config, defaults_resolved)
{
    tm_config *cfg = load_ok(MIN_JSON, NULL, NULL, 0);
    cr_assert_str_eq(cfg->application_id, "app");
    cr_assert_eq(cfg->n_input_topics, 1);
    cr_assert_str_eq(cfg->input_topics[0], "in");
    cr_assert_str_eq(cfg->event_time_pointer, "/t");
    cr_assert_eq(cfg->event_time_format, TM_TIME_AUTO);
    cr_assert_eq(cfg->group_mode, TM_GROUP_GLOBAL);
    cr_assert_eq(cfg->n_group_pointers, 0);
    cr_assert_null(cfg->event_id_pointer);
    cr_assert_eq(cfg->max_out_of_orderness_ms, 0);
    cr_assert_eq(cfg->idle_timeout_ms, 0);
    cr_assert_eq(cfg->watermark_combine, TM_COMBINE_MIN);
    cr_assert_eq(cfg->watermark_quantile, 1.0, "min combines with q = 1");
    cr_assert_eq(cfg->window_type, TM_WINDOW_TUMBLING);
    cr_assert_eq(cfg->window_offset_ms, 0);
    cr_assert_eq(cfg->allowed_lateness_ms, 0);
    cr_assert_eq(cfg->n_aggs, 0);
    cr_assert_not(cfg->dedup_enabled);
    cr_assert_eq(cfg->dedup_key, TM_DEDUP_ID_EVENT_TIME);
    cr_assert_not(cfg->clock_skew_enabled);
    cr_assert_eq(cfg->clock_skew_action, TM_SKEW_CLAMP);
    cr_assert_eq(cfg->clock_skew_max_ahead_of_wall_ms, 0, "the wall-clock guard is off");
    cr_assert_eq(cfg->late_action, TM_LATE_EMIT);
    cr_assert_str_eq(cfg->output_topic, "out");
    cr_assert_str_eq(cfg->late_topic, "app-late");
    cr_assert_str_eq(cfg->dlq_topic, "app-dlq");
    cr_assert_str_eq(cfg->state_dir, "/var/lib/tidemark");
    cr_assert_eq(cfg->commit_interval_ms, 100);
    cr_assert_eq(cfg->metrics_port, 9464);
    cr_assert_str_eq(cfg->log_level, "info");
    cr_assert_eq(cfg->n_kafka, 0);
    tm_config_free(cfg);
}

Test(config, dedup_ttl_default_is_twice_d_plus_l)
{
    tm_config *cfg = load_ok("{" BASE "," TUMBLING ",\"input.event_id\":\"/id\","
                             "\"watermark\":{\"max_out_of_orderness_ms\":2000},"
                             "\"allowed_lateness_ms\":5000,\"dedup\":{\"enabled\":true}}",
                             NULL, NULL, 0);
    cr_assert_eq(cfg->dedup_ttl_ms, 14000);
    tm_config_free(cfg);

    const char *ov[] = {"dedup.ttl_ms=77"};
    cfg = load_ok("{" BASE "," TUMBLING ",\"allowed_lateness_ms\":5000}", NULL, ov, 1);
    cr_assert_eq(cfg->dedup_ttl_ms, 77, "an explicit ttl wins");
    tm_config_free(cfg);
}

Test(config, dedup_ttl_zero_default_needs_explicit_ttl)
{
    const char *json = "{" BASE "," TUMBLING ",\"input.event_id\":\"/id\","
                       "\"dedup\":{\"enabled\":true}}";
    expect_file_err(json, "dedup.ttl_ms", "required");
    const char *ov[] = {"dedup.ttl_ms=1000"};
    tm_config *cfg = load_ok(json, NULL, ov, 1);
    cr_assert_eq(cfg->dedup_ttl_ms, 1000);
    tm_config_free(cfg);
    /* Without dedup the TTL is unused, so D = L = 0 is fine. */
    cfg = load_ok(MIN_JSON, NULL, NULL, 0);
    cr_assert_eq(cfg->dedup_ttl_ms, 0);
    tm_config_free(cfg);
}

/* 2 x (D + L), capped at the limit of every integer option (2^53). */
Test(config, dedup_ttl_default_is_capped_at_the_limit)
{
    const char *ov[] = {"watermark.max_out_of_orderness_ms=9007199254740992",
                        "allowed_lateness_ms=1"};
    tm_config *cfg = load_ok(MIN_JSON, NULL, ov, 2);
    cr_assert_eq(cfg->dedup_ttl_ms, (int64_t)1 << 53);
    tm_config_free(cfg);
}

Test(config, clock_skew_enabled_when_max_ahead_set)
{
    tm_config *cfg =
        load_ok("{" BASE "," TUMBLING ",\"clock_skew\":{\"max_ahead_ms\":0,\"action\":\"dlq\"}}",
                NULL, NULL, 0);
    cr_assert(cfg->clock_skew_enabled);
    cr_assert_eq(cfg->clock_skew_max_ahead_ms, 0);
    cr_assert_eq(cfg->clock_skew_action, TM_SKEW_DLQ);
    tm_config_free(cfg);
}

Test(config, json_null_means_unset)
{
    tm_config *cfg = load_ok("{" BASE "," TUMBLING ",\"clock_skew\":{\"max_ahead_ms\":null},"
                             "\"input.group_by\":null,\"log\":null}",
                             NULL, NULL, 0);
    cr_assert_not(cfg->clock_skew_enabled);
    cr_assert_eq(cfg->group_mode, TM_GROUP_GLOBAL);
    tm_config_free(cfg);
}

Test(config, dotted_keys_in_file_equal_nested)
{
    tm_config *cfg = load_ok("{" BASE ",\"window.type\":\"tumbling\",\"window\":{\"size_ms\":5},"
                             "\"watermark.idle_timeout_ms\":7}",
                             NULL, NULL, 0);
    cr_assert_eq(cfg->window_size_ms, 5);
    cr_assert_eq(cfg->idle_timeout_ms, 7);
    tm_config_free(cfg);
}

/* watermark.alignment.max_drift_ms: off by default, >= 0, and not part of
 * the state fingerprint (alignment changes when records are read, not the
 * state), so turning it on keeps the checkpoints. */
Test(config, alignment_drift_is_checked_and_not_state_shaping)
{
    tm_config *off = load_ok(MIN_JSON, NULL, NULL, 0);
    cr_assert_eq(off->alignment_max_drift_ms, 0);
    tm_config *on =
        load_ok("{" BASE "," TUMBLING ",\"watermark\":{\"alignment\":{\"max_drift_ms\":60000}}}",
                NULL, NULL, 0);
    cr_assert_eq(on->alignment_max_drift_ms, 60000);
    tm_buf a = {0}, b = {0};
    tm_config_state_fingerprint(off, &a);
    tm_config_state_fingerprint(on, &b);
    cr_assert(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    tm_buf_free(&a);
    tm_buf_free(&b);
    tm_config_free(off);
    tm_config_free(on);
    expect_override_err("watermark.alignment.max_drift_ms=-1", "watermark.alignment.max_drift_ms",
                        NULL);
}

/* ---- windows --------------------------------------------------------------- */

Test(config, window_types)
{
    tm_config *cfg = load_ok("{" BASE ",\"window\":{\"type\":\"hopping\",\"size_ms\":1000,"
                             "\"advance_ms\":250,\"offset_ms\":-10}}",
                             NULL, NULL, 0);
    cr_assert_eq(cfg->window_type, TM_WINDOW_HOPPING);
    cr_assert_eq(cfg->window_advance_ms, 250);
    cr_assert_eq(cfg->window_offset_ms, 240, "offset is normalised mod advance");
    tm_config_free(cfg);

    cfg = load_ok("{" BASE ",\"window\":{\"type\":\"tumbling\",\"size_ms\":1000,"
                  "\"offset_ms\":2500}}",
                  NULL, NULL, 0);
    cr_assert_eq(cfg->window_offset_ms, 500, "offset is normalised mod size");
    tm_config_free(cfg);

    cfg = load_ok("{" BASE ",\"window\":{\"type\":\"session\",\"gap_ms\":1500}}", NULL, NULL, 0);
    cr_assert_eq(cfg->window_type, TM_WINDOW_SESSION);
    cr_assert_eq(cfg->window_gap_ms, 1500);
    tm_config_free(cfg);
}

Test(config, window_key_errors)
{
    expect_file_err("{" BASE ",\"window\":{\"type\":\"hopping\",\"size_ms\":1000}}",
                    "config: window.advance_ms: required", "hopping");
    expect_file_err("{" BASE ",\"window\":{\"type\":\"tumbling\",\"size_ms\":1000,"
                    "\"gap_ms\":5}}",
                    "config: window.gap_ms: not allowed", "tumbling");
    expect_file_err("{" BASE ",\"window\":{\"type\":\"tumbling\",\"size_ms\":1000,"
                    "\"advance_ms\":5}}",
                    "window.advance_ms: not allowed", NULL);
    expect_file_err("{" BASE ",\"window\":{\"type\":\"session\",\"gap_ms\":1,\"size_ms\":5}}",
                    "window.size_ms: not allowed", "session");
    expect_file_err("{" BASE ",\"window\":{\"type\":\"session\",\"gap_ms\":1,\"offset_ms\":0}}",
                    "window.offset_ms: not allowed", NULL);
    expect_file_err("{" BASE ",\"window\":{\"type\":\"session\"}}", "window.gap_ms: required",
                    NULL);
    expect_file_err("{" BASE ",\"window\":{\"type\":\"tumbling\"}}", "window.size_ms: required",
                    NULL);
    expect_file_err("{" BASE ",\"window\":{\"size_ms\":1}}", "config: window.type: required", NULL);
    expect_file_err("{" BASE ",\"window\":{\"type\":\"hopping\",\"size_ms\":10,"
                    "\"advance_ms\":20}}",
                    "window.advance_ms: must be <= window.size_ms", "(got 20)");
    expect_file_err("{" BASE ",\"window\":{\"type\":\"hopping\",\"size_ms\":1000000,"
                    "\"advance_ms\":1}}",
                    "window.advance_ms: too small", NULL);
    expect_file_err("{" BASE ",\"window\":{\"type\":\"sliding\",\"size_ms\":1}}",
                    "config: window.type: unknown value 'sliding' (expected tumbling, hopping, "
                    "session)",
                    NULL);
}

/* ---- watermark.combine and watermark.quantile ---------------------------- */

Test(config, watermark_quantile_from_every_source)
{
    tm_config *cfg = load_ok("{" BASE "," TUMBLING ",\"watermark\":{\"combine\":\"quantile\","
                             "\"quantile\":0.85}}",
                             NULL, NULL, 0);
    cr_assert_eq(cfg->watermark_combine, TM_COMBINE_QUANTILE);
    cr_assert_eq(cfg->watermark_quantile, 0.85);
    tm_config_free(cfg);
    char *env[] = {"TIDEMARK_WATERMARK_COMBINE=quantile", "TIDEMARK_WATERMARK_QUANTILE=1", NULL};
    cfg = load_ok(MIN_JSON, env, NULL, 0);
    cr_assert_eq(cfg->watermark_quantile, 1.0);
    tm_config_free(cfg);
    const char *ov[] = {"watermark.combine=quantile", "watermark.quantile=0.5"};
    cfg = load_ok(MIN_JSON, env, ov, 2);
    cr_assert_eq(cfg->watermark_combine, TM_COMBINE_QUANTILE);
    cr_assert_eq(cfg->watermark_quantile, 0.5);
    tm_config_free(cfg);
}

Test(config, watermark_quantile_errors_name_the_key)
{
    expect_file_err("{" BASE "," TUMBLING ",\"watermark\":{\"combine\":\"quantile\"}}",
                    "config: watermark.quantile: required when watermark.combine is quantile",
                    NULL);
    expect_file_err("{" BASE "," TUMBLING ",\"watermark\":{\"quantile\":0.5}}",
                    "config: watermark.quantile: not allowed when watermark.combine is min",
                    "only for quantile");
    expect_file_err("{" BASE "," TUMBLING ",\"watermark\":{\"combine\":\"median\"}}",
                    "config: watermark.combine: unknown value 'median' (expected min, quantile)",
                    NULL);
    static const char *const bad_json[] = {"0", "-0.5", "1.5", "1e300"};
    for (size_t i = 0; i < sizeof bad_json / sizeof bad_json[0]; i++) {
        char json[512];
        snprintf(json, sizeof json,
                 "{" BASE "," TUMBLING ",\"watermark\":{\"combine\":\"quantile\","
                 "\"quantile\":%s}}",
                 bad_json[i]);
        expect_file_err(json, "config: watermark.quantile: must be in (0, 1]", "(got ");
    }
    expect_file_err("{" BASE "," TUMBLING ",\"watermark\":{\"combine\":\"quantile\","
                    "\"quantile\":\"0.5\"}}",
                    "config: watermark.quantile: expected a number (got a string)", NULL);
    static const char *const bad_text[] = {"watermark.quantile=nan", "watermark.quantile=0",
                                           "watermark.quantile=1.0000001",
                                           "watermark.quantile=inf"};
    for (size_t i = 0; i < sizeof bad_text / sizeof bad_text[0]; i++) {
        const char *ov[] = {"watermark.combine=quantile", bad_text[i]};
        expect_err(MIN_JSON, NULL, ov, 2, "config: watermark.quantile", "must be in (0, 1]");
    }
    const char *junk[] = {"watermark.combine=quantile", "watermark.quantile=0.5x"};
    expect_err(MIN_JSON, NULL, junk, 2, "config: watermark.quantile",
               "expected a number (got '0.5x')");
    char *env[] = {"TIDEMARK_WATERMARK_COMBINE=quantile", "TIDEMARK_WATERMARK_QUANTILE=2", NULL};
    expect_err(MIN_JSON, env, NULL, 0, "watermark.quantile", "TIDEMARK_WATERMARK_QUANTILE");
}

Test(config, watermark_combine_does_not_shape_the_state)
{
    /* W is stored and never goes down, whatever combined it: a restart with
     * another combination restores the same state. */
    tm_config *a = load_ok(MIN_JSON, NULL, NULL, 0);
    const char *ov[] = {"watermark.combine=quantile", "watermark.quantile=0.5"};
    tm_config *b = load_ok(MIN_JSON, NULL, ov, 2);
    tm_buf fa = {0}, fb = {0};
    tm_config_state_fingerprint(a, &fa);
    tm_config_state_fingerprint(b, &fb);
    cr_assert_eq(fa.len, fb.len);
    cr_assert_eq(memcmp(fa.data, fb.data, fa.len), 0);
    cr_assert_null(strstr(fa.data, "watermark"), "%s", fa.data);
    tm_buf_free(&fa);
    tm_buf_free(&fb);
    tm_config_free(a);
    tm_config_free(b);
}

/* ---- repartition.mode and repartition.partitions ------------------------ */

/* auto resolves by group_by (SEMANTICS 10): never for "$record_key",
 * always for a pointer, a list of pointers or no group_by; always and
 * never are taken as they are. */
Test(config, repartition_mode_resolves_auto_by_group_by)
{
    static const struct {
        const char *group_by; /* NULL: none */
        const char *mode;     /* NULL: the default */
        bool repartitions;
    } cases[] = {
        {NULL, NULL, true},
        {"\"/m\"", NULL, true},
        {"[\"/m\",\"/r\"]", NULL, true},
        {"\"$record_key\"", NULL, false},
        {"\"$record_key\"", "always", true},
        {"\"/m\"", "never", false},
        {NULL, "never", false},
        {"\"/m\"", "auto", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char json[512];
        snprintf(json, sizeof json,
                 "{\"application_id\":\"app\",\"input\":{\"topics\":[\"in\"],"
                 "\"event_time\":{\"pointer\":\"/t\"}%s%s},\"output\":{\"topic\":\"out\"},"
                 "" TUMBLING "%s%s%s}",
                 cases[i].group_by ? ",\"group_by\":" : "",
                 cases[i].group_by ? cases[i].group_by : "",
                 cases[i].mode ? ",\"repartition\":{\"mode\":\"" : "",
                 cases[i].mode ? cases[i].mode : "", cases[i].mode ? "\"}" : "");
        tm_config *cfg = load_ok(json, NULL, NULL, 0);
        cr_expect_eq(tm_config_repartitions(cfg), cases[i].repartitions, "case %zu: %s", i, json);
        cr_expect_eq(cfg->repartition_partitions, 0, "unset: the input partition count");
        tm_config_free(cfg);
    }
    const char *ov[] = {"repartition.mode=never", "repartition.partitions=12"};
    tm_config *cfg = load_ok(MIN_JSON, NULL, ov, 2);
    cr_assert_eq(cfg->repartition_mode, TM_REPARTITION_NEVER);
    cr_assert_eq(cfg->repartition_partitions, 12);
    tm_config_free(cfg);
}

Test(config, repartition_errors_name_the_key)
{
    expect_file_err("{" BASE "," TUMBLING ",\"repartition\":{\"mode\":\"sometimes\"}}",
                    "config: repartition.mode: unknown value 'sometimes'", "auto, always, never");
    expect_file_err("{" BASE "," TUMBLING ",\"repartition\":{\"partitions\":0}}",
                    "config: repartition.partitions", NULL);
    expect_file_err("{" BASE "," TUMBLING ",\"repartition\":{\"partitions\":\"3\"}}",
                    "config: repartition.partitions", NULL);
    expect_override_err("repartition.partitions=-1", "repartition.partitions", NULL);
    expect_override_err("repartition.partitions=2147483648", "repartition.partitions", NULL);
    char *env[] = {"TIDEMARK_REPARTITION_MODE=maybe", NULL};
    expect_err(MIN_JSON, env, NULL, 0, "repartition.mode", "TIDEMARK_REPARTITION_MODE");
}

/* Window tasks are per repartition partition, so a repartitioning
 * pipeline's fingerprint holds the resolved mode and R; one that does not
 * repartition keeps the fingerprint it had before these keys existed. */
Test(config, repartition_shapes_the_state)
{
    const char *never[] = {"repartition.mode=never"};
    const char *never_r[] = {"repartition.mode=never", "repartition.partitions=3"};
    const char *autom[] = {"repartition.mode=auto"};
    const char *always[] = {"repartition.mode=always"};
    const char *r3[] = {"repartition.partitions=3"};
    tm_config *c_never = load_ok(MIN_JSON, NULL, never, 1);
    tm_config *c_never_r = load_ok(MIN_JSON, NULL, never_r, 2);
    tm_config *c_auto = load_ok(MIN_JSON, NULL, autom, 1);
    tm_config *c_always = load_ok(MIN_JSON, NULL, always, 1);
    tm_config *c_r3 = load_ok(MIN_JSON, NULL, r3, 1);
    tm_buf f_never = {0}, f_never_r = {0}, f_auto = {0}, f_always = {0}, f_r3 = {0};
    tm_config_state_fingerprint(c_never, &f_never);
    tm_config_state_fingerprint(c_never_r, &f_never_r);
    tm_config_state_fingerprint(c_auto, &f_auto);
    tm_config_state_fingerprint(c_always, &f_always);
    tm_config_state_fingerprint(c_r3, &f_r3);
    cr_assert_null(strstr(f_never.data, "repartition"), "%s", f_never.data);
    cr_assert_str_eq(f_never.data, f_never_r.data);
    cr_assert(strstr(f_auto.data, "repartition.mode=always\n"), "%s", f_auto.data);
    cr_assert_str_eq(f_auto.data, f_always.data, "auto and always make the same state");
    cr_assert(strstr(f_r3.data, "repartition.partitions=3\n"), "%s", f_r3.data);
    tm_buf diff = {0};
    cr_assert_eq(
        tm_config_fingerprint_diff(f_never.data, f_never.len, f_auto.data, f_auto.len, &diff), 2,
        "%s", diff.data);
    cr_assert(strstr(diff.data, "repartition.mode (was unset, now always)"), "%s", diff.data);
    tm_buf_free(&diff);
    tm_buf_free(&f_never);
    tm_buf_free(&f_never_r);
    tm_buf_free(&f_auto);
    tm_buf_free(&f_always);
    tm_buf_free(&f_r3);
    tm_config_free(c_never);
    tm_config_free(c_never_r);
    tm_config_free(c_auto);
    tm_config_free(c_always);
    tm_config_free(c_r3);
}

/* ---- errors name the key ------------------------------------------------- */

Test(config, unknown_keys)
{
    expect_file_err("{" BASE "," TUMBLING ",\"watermark\":{\"idle_timeout\":0}}",
                    "config: unknown key 'watermark.idle_timeout'",
                    "did you mean 'watermark.idle_timeout_ms'");
    expect_file_err("{" BASE "," TUMBLING ",\"bogus\":{\"x\":1}}", "unknown key 'bogus'", NULL);
    expect_file_err("{" BASE "," TUMBLING ",\"input.event_time.zone\":\"UTC\"}",
                    "unknown key 'input.event_time.zone'", NULL);
    expect_override_err("window.sizems=5", "unknown key 'window.sizems'", "override");
    expect_override_err("no_equals_sign", "override 'no_equals_sign': expected key=value", NULL);
    expect_override_err("=5", "expected key=value", NULL);
}

Test(config, wrong_json_types)
{
    expect_file_err("{" BASE ",\"window\":{\"type\":\"tumbling\",\"size_ms\":\"1000\"}}",
                    "config: window.size_ms: expected an integer (got a string)", NULL);
    expect_file_err("{" BASE ",\"window\":{\"type\":\"tumbling\",\"size_ms\":1.5}}",
                    "window.size_ms: expected an integer", NULL);
    expect_file_err("{" BASE ",\"window\":{\"type\":\"tumbling\",\"size_ms\":1e300}}",
                    "window.size_ms: out of range", NULL);
    expect_file_err("{" BASE "," TUMBLING ",\"dedup\":{\"enabled\":1}}",
                    "config: dedup.enabled: expected true or false (got a number)", NULL);
    expect_file_err("{" BASE "," TUMBLING ",\"watermark\":5}",
                    "config: watermark: expected an object", NULL);
    expect_file_err("{" BASE "," TUMBLING ",\"window\":[]}", "window: expected an object", NULL);
    expect_file_err("{\"application_id\":7,\"input\":{\"topics\":[\"in\"],\"event_time\":"
                    "{\"pointer\":\"/t\"}},\"output\":{\"topic\":\"out\"}," TUMBLING "}",
                    "config: application_id: expected a string (got a number)", NULL);
    expect_file_err("{\"application_id\":\"a\",\"input\":{\"topics\":\"in\",\"event_time\":"
                    "{\"pointer\":\"/t\"}},\"output\":{\"topic\":\"out\"}," TUMBLING "}",
                    "config: input.topics: expected a list of strings (got a string)", NULL);
    expect_file_err("{\"application_id\":\"a\",\"input\":{\"topics\":[\"in\",3],\"event_time\":"
                    "{\"pointer\":\"/t\"}},\"output\":{\"topic\":\"out\"}," TUMBLING "}",
                    "config: input.topics[1]: expected a string", NULL);
    expect_file_err("{" BASE "," TUMBLING ",\"input.group_by\":{\"a\":1}}",
                    "input.group_by: expected a JSON pointer", NULL);
    expect_file_err("{" BASE "," TUMBLING ",\"aggregations\":{}}", "aggregations: expected a list",
                    NULL);
    expect_file_err("{" BASE "," TUMBLING ",\"input.event_time.format\":1}",
                    "input.event_time.format: expected a string", NULL);
}

Test(config, out_of_bounds)
{
    expect_file_err("{" BASE ",\"window\":{\"type\":\"tumbling\",\"size_ms\":-5}}",
                    "config: window.size_ms: must be > 0 (got -5)", NULL);
    expect_file_err("{" BASE "," TUMBLING ",\"watermark\":{\"max_out_of_orderness_ms\":-1}}",
                    "config: watermark.max_out_of_orderness_ms: must be >= 0 (got -1)", NULL);
    expect_override_err("commit_interval_ms=0",
                        "commit_interval_ms (from override): must be between 1 and 60000 "
                        "(got 0)",
                        NULL);
    expect_override_err("commit_interval_ms=60001", "between 1 and 60000", NULL);
    expect_override_err("metrics.port=65536", "metrics.port", "between 0 and 65535");
    expect_override_err("allowed_lateness_ms=-3", "allowed_lateness_ms", "must be >= 0");
    expect_override_err("dedup.ttl_ms=0", "dedup.ttl_ms", "must be > 0");
    expect_override_err("clock_skew.max_ahead_ms=-1", "clock_skew.max_ahead_ms", ">= 0");
    expect_override_err("clock_skew.max_ahead_of_wall_ms=-1", "clock_skew.max_ahead_of_wall_ms",
                        ">= 0");
    expect_override_err("window.size_ms=99999999999999999999", "window.size_ms", "out of range");
    expect_override_err("window.size_ms=12x", "window.size_ms", "expected an integer");
}

/* Issue 9: 2^53 bounds every integer option whether the file, the
 * environment or an override sets it (the environment and overrides took
 * any int64, and window.size_ms above 2^62 overflowed in the engine). */
Test(config, one_integer_limit_for_every_source)
{
#define OVER "9007199254740994" /* 2^53 + 2: exact as a JSON number too */
#define LIMIT_MSG "out of range: every integer option is between -2^53 and 2^53"
    expect_file_err("{" BASE ",\"window\":{\"type\":\"tumbling\",\"size_ms\":" OVER "}}",
                    "config: window.size_ms: " LIMIT_MSG, "(got 9007199254740994)");
    char *env[] = {"TIDEMARK_WINDOW_SIZE_MS=" OVER, NULL};
    expect_err(MIN_JSON, env, NULL, 0,
               "config: window.size_ms (from TIDEMARK_WINDOW_SIZE_MS): " LIMIT_MSG,
               "(got 9007199254740994)");
    expect_override_err("window.size_ms=" OVER,
                        "config: window.size_ms (from override): " LIMIT_MSG, NULL);
    expect_override_err("window.size_ms=4611686018427387905", "window.size_ms", LIMIT_MSG);
    expect_override_err("window.offset_ms=-9007199254740993", "window.offset_ms", LIMIT_MSG);
    char *env2[] = {"TIDEMARK_DEDUP_TTL_MS=9223372036854775807", NULL};
    expect_err(MIN_JSON, env2, NULL, 0, "dedup.ttl_ms (from TIDEMARK_DEDUP_TTL_MS)", LIMIT_MSG);
    expect_override_err("clock_skew.max_ahead_of_wall_ms=" OVER, "clock_skew.max_ahead_of_wall_ms",
                        LIMIT_MSG);
    char *env3[] = {"TIDEMARK_WATERMARK_IDLE_TIMEOUT_MS=-99999999999999999999", NULL};
    expect_err(MIN_JSON, env3, NULL, 0, "watermark.idle_timeout_ms", LIMIT_MSG);
#undef OVER
#undef LIMIT_MSG

    /* The limit itself is accepted from every source. */
    const int64_t limit = (int64_t)1 << 53;
    char *at[] = {"TIDEMARK_WATERMARK_MAX_OUT_OF_ORDERNESS_MS=9007199254740992", NULL};
    const char *ov[] = {"allowed_lateness_ms=9007199254740992",
                        "window.offset_ms=-9007199254740992"};
    tm_config *cfg = load_ok("{" BASE ",\"window\":{\"type\":\"tumbling\",\"size_ms\":"
                             "9007199254740992}}",
                             at, ov, 2);
    cr_assert_eq(cfg->window_size_ms, limit);
    cr_assert_eq(cfg->max_out_of_orderness_ms, limit);
    cr_assert_eq(cfg->allowed_lateness_ms, limit);
    cr_assert_eq(cfg->window_offset_ms, 0, "-2^53 mod 2^53");
    tm_config_free(cfg);
}

Test(config, missing_required)
{
    expect_file_err("{" TUMBLING ",\"output\":{\"topic\":\"o\"},\"application_id\":\"a\","
                    "\"input\":{\"event_time\":{\"pointer\":\"/t\"}}}",
                    "config: input.topics: required", NULL);
    expect_file_err("{" TUMBLING ",\"output\":{\"topic\":\"o\"},\"application_id\":\"a\","
                    "\"input\":{\"topics\":[\"in\"]}}",
                    "config: input.event_time.pointer: required", NULL);
    expect_file_err("{" TUMBLING ",\"output\":{\"topic\":\"o\"},\"input\":{\"topics\":[\"in\"],"
                    "\"event_time\":{\"pointer\":\"/t\"}}}",
                    "config: application_id: required", NULL);
    expect_file_err("{" TUMBLING ",\"application_id\":\"a\",\"input\":{\"topics\":[\"in\"],"
                    "\"event_time\":{\"pointer\":\"/t\"}}}",
                    "config: output.topic: required", NULL);
    expect_file_err("{" TUMBLING ",\"application_id\":\"a\",\"output\":{\"topic\":\"o\"},"
                    "\"input\":{\"topics\":[],\"event_time\":{\"pointer\":\"/t\"}}}",
                    "config: input.topics: must not be empty", NULL);
    expect_file_err("{" BASE "," TUMBLING ",\"dedup\":{\"enabled\":true}}",
                    "config: input.event_id: required when dedup.enabled", NULL);
    /* No file at all: every required key is missing. */
    expect_err(NULL, NULL, NULL, 0, "application_id: required", NULL);
}

Test(config, bad_enums)
{
    expect_override_err("input.event_time.format=iso",
                        "config: input.event_time.format (from override): unknown value 'iso' "
                        "(expected epoch_ms, epoch_s, rfc3339, auto)",
                        NULL);
    expect_override_err("dedup.key=event_time", "dedup.key", "expected id, id+event_time");
    expect_override_err("clock_skew.action=drop", "clock_skew.action", "expected clamp, dlq");
    expect_override_err("late.action=dlq", "late.action", "expected emit, drop");
    expect_override_err("log.level=verbose", "log.level", "expected debug, info, warn, error");
    expect_override_err("dedup.enabled=yes", "dedup.enabled", "expected true or false");
}

Test(config, bad_aggregations)
{
    const char *head = "{" BASE "," TUMBLING ",\"aggregations\":";
    char json[1024];
    struct {
        const char *aggs, *needle;
    } cases[] = {
        {"[{\"name\":\"n\",\"op\":\"count\"},{\"name\":\"m\",\"op\":\"median\",\"pointer\":\"/"
         "a\"}]",
         "config: aggregations[1].op: unknown op 'median' (expected count, sum, min, max, avg)"},
        {"[{\"name\":\"n\",\"op\":\"count\",\"pointer\":\"/a\"}]",
         "config: aggregations[0].pointer: not allowed for op count"},
        {"[{\"name\":\"s\",\"op\":\"sum\"}]", "config: aggregations[0].pointer: required"},
        {"[{\"name\":\"s\",\"op\":\"sum\",\"pointer\":\"a\"}]",
         "config: aggregations[0].pointer: not a JSON pointer"},
        {"[{\"name\":\"x\",\"op\":\"count\"},{\"name\":\"x\",\"op\":\"max\",\"pointer\":\"/a\"}]",
         "config: aggregations[1].name: duplicate name 'x'"},
        {"[{\"name\":\"\",\"op\":\"count\"}]", "config: aggregations[0].name: must not be empty"},
        {"[{\"op\":\"count\"}]", "config: aggregations[0].name: required"},
        {"[{\"name\":\"n\"}]", "config: aggregations[0].op: required"},
        {"[{\"name\":\"n\",\"op\":\"count\",\"field\":\"/a\"}]",
         "config: unknown key 'aggregations[0].field'"},
        {"[{\"name\":\"n\",\"op\":\"count\",\"name\":\"m\"}]",
         "config: duplicate key 'aggregations[0].name'"},
        {"[\"count\"]", "config: aggregations[0]: expected an object"},
        {"[{\"name\":5,\"op\":\"count\"}]", "config: aggregations[0].name: expected a string"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(json, sizeof json, "%s%s}", head, cases[i].aggs);
        expect_file_err(json, cases[i].needle, NULL);
    }
}

Test(config, aggregations_parse)
{
    tm_config *cfg = load_ok(
        "{" BASE "," TUMBLING ",\"aggregations\":[{\"name\":\"n\",\"op\":\"count\"},"
        "{\"name\":\"s\",\"op\":\"sum\",\"pointer\":\"/a\"},{\"name\":\"lo\",\"op\":\"min\","
        "\"pointer\":\"/a\"},{\"name\":\"hi\",\"op\":\"max\",\"pointer\":\"/a~1b\"},"
        "{\"name\":\"mean\",\"op\":\"avg\",\"pointer\":\"/x/0\"}]}",
        NULL, NULL, 0);
    cr_assert_eq(cfg->n_aggs, 5);
    tm_agg_op ops[] = {TM_AGG_COUNT, TM_AGG_SUM, TM_AGG_MIN, TM_AGG_MAX, TM_AGG_AVG};
    for (size_t i = 0; i < 5; i++)
        cr_assert_eq(cfg->aggs[i].op, ops[i], "aggs[%zu]", i);
    cr_assert_str_eq(cfg->aggs[3].pointer, "/a~1b");
    tm_config_free(cfg);
    cfg = load_ok("{" BASE "," TUMBLING ",\"aggregations\":[]}", NULL, NULL, 0);
    cr_assert_eq(cfg->n_aggs, 0, "an empty list is allowed (count only)");
    tm_config_free(cfg);
}

Test(config, bad_pointers)
{
    expect_override_err("input.event_time.pointer=t",
                        "config: input.event_time.pointer (from override): not a JSON pointer",
                        "(got 't')");
    expect_override_err("input.event_time.pointer=/a~2", "input.event_time.pointer",
                        "'~' must be followed by '0' or '1'");
    expect_override_err("input.event_time.pointer=/a~", "input.event_time.pointer", "'~'");
    expect_override_err("input.event_id=id", "input.event_id", "not a JSON pointer");
    expect_override_err("input.group_by=m", "input.group_by", "not a JSON pointer");
    expect_override_err("input.group_by=/a,b", "config: input.group_by[1]", "not a JSON pointer");
    expect_file_err("{" BASE "," TUMBLING ",\"input\":{\"group_by\":[\"/a\",\"$record_key\"]}}",
                    "config: input.group_by[1]: not a JSON pointer", NULL);
    /* "" is the whole document: a valid pointer. */
    const char *ov[] = {"input.event_time.pointer="};
    tm_config *cfg = load_ok(MIN_JSON, NULL, ov, 1);
    cr_assert_str_eq(cfg->event_time_pointer, "");
    tm_config_free(cfg);
}

Test(config, names_and_topics)
{
    expect_override_err("application_id=my app", "application_id", "A-Z a-z 0-9 . _ -");
    expect_override_err("application_id=", "application_id", "must not be empty");
    expect_override_err("output.topic=a/b", "output.topic", "Kafka topic name");
    expect_override_err("output.topic=..", "output.topic", "not valid");
    expect_override_err("output.topic=in", "config: output.topic: must not be an input topic",
                        NULL);
    expect_override_err("output.late_topic=out", "output.late_topic",
                        "must differ from output.topic");
    expect_override_err("output.dlq_topic=in", "output.dlq_topic", "input topic");
    expect_override_err("input.topics=a,b,a", "config: input.topics[2]: duplicate topic 'a'", NULL);
    expect_override_err("input.topics=a,,b", "input.topics[1] (from override): must not be empty",
                        NULL);
    expect_override_err("input.topics=", "input.topics", "must not be empty");
    expect_override_err("state.dir=", "state.dir", "must not be empty");
    char long_id[300];
    snprintf(long_id, sizeof long_id, "application_id=%0245d", 0);
    expect_override_err(long_id, "application_id", "too long");
}

/* Issue 9: every topic named after application_id must be a valid Kafka
 * topic name; 240-249 characters used to pass and the changelog topic
 * failed at run time. */
Test(config, application_id_leaves_room_for_every_derived_topic)
{
    char id[300], ov[320];
    memset(id, 'a', 237);
    id[237] = '\0';
    snprintf(ov, sizeof ov, "application_id=%s", id);
    const char *ok[] = {ov};
    tm_config *cfg = load_ok(MIN_JSON, NULL, ok, 1);
    cr_assert_eq(strlen(cfg->application_id), 237);
    tm_config_free(cfg);
    snprintf(ov, sizeof ov, "application_id=%sb", id);
    expect_override_err(ov, "config: application_id (from override): too long (238 characters)",
                        "'<application_id>-repartition' would have 250");
    memset(id, 'a', 240);
    id[240] = '\0';
    snprintf(ov, sizeof ov, "application_id=%s", id);
    expect_override_err(ov, "application_id",
                        "its topic '<application_id>-changelog' would have 250, and a Kafka topic "
                        "name has at most 249 (so application_id at most 237)");
}

/* The broker checks group.instance.id like a topic name, when the
 * consumer joins: a bad override is refused at startup instead. */
Test(config, group_instance_id_override_follows_kafka_rules)
{
    expect_override_err("kafka.group.instance.id=pod 1", "config: kafka.group.instance.id",
                        "may contain only A-Z a-z 0-9 . _ -");
    expect_override_err("kafka.group.instance.id=..", "kafka.group.instance.id", "'..'");
    const char *ok[] = {"kafka.group.instance.id=pod-1"};
    tm_config_free(load_ok(MIN_JSON, NULL, ok, 1));
}

/* The instance id of tidemark run: "<application_id>-<instance id>" is
 * the group.instance.id (issue 9: a 40 KB id was a transport failure). */
Test(config, instance_id_makes_a_valid_group_instance_id)
{
    tm_config *cfg = load_ok(MIN_JSON, NULL, NULL, 0); /* application_id "app" */
    char err[512] = "";
    cr_assert_eq(tm_config_check_instance_id(cfg, "tidemark-0.eu_1", err, sizeof err), 0, "%s",
                 err);
    char id[40001];
    memset(id, 'x', sizeof id - 1);
    id[sizeof id - 1] = '\0';
    cr_assert_eq(tm_config_check_instance_id(cfg, id, err, sizeof err), TM_ECONFIG);
    cr_assert(strstr(err, "group.instance.id '<application_id>-<instance id>' (40004 characters) "
                          "invalid: too long"),
              "%s", err);
    cr_assert(strstr(err, "1-245 characters"), "249 - strlen(\"app-\"): %s", err);
    id[245] = '\0';
    cr_assert_eq(tm_config_check_instance_id(cfg, id, err, sizeof err), 0, "%s", err);
    id[245] = 'x';
    id[246] = '\0';
    cr_assert_eq(tm_config_check_instance_id(cfg, id, err, sizeof err), TM_ECONFIG);
    cr_assert_eq(tm_config_check_instance_id(cfg, "pod/1", err, sizeof err), TM_ECONFIG);
    cr_assert(strstr(err, "may contain only"), "%s", err);
    cr_assert_eq(tm_config_check_instance_id(cfg, "", err, sizeof err), TM_ECONFIG);
    cr_assert(strstr(err, "must not be empty"), "%s", err);
    tm_config_free(cfg);
}

/* Issue 9: cJSON stops at 1000 levels without saying why; a deep file
 * was "invalid JSON near line 1, column 1005". */
Test(config, nesting_too_deep_is_named)
{
    const size_t depth = 100000;
    char *json = tm_xmalloc(depth * 2 + 16);
    size_t n = (size_t)sprintf(json, "{\"x\":");
    memset(json + n, '[', depth);
    memset(json + n + depth, ']', depth);
    strcpy(json + n + 2 * depth, "}");
    expect_file_err(json, "nesting deeper than 1000 levels at line 1, column 1005", NULL);
    /* At the limit: parsed, and refused only as an unknown key. */
    n = (size_t)sprintf(json, "{\"x\":");
    memset(json + n, '[', 999);
    memset(json + n + 999, ']', 999);
    strcpy(json + n + 2 * 999, "}");
    expect_file_err(json, "unknown key 'x'", NULL);
    /* The same in JSON text from the environment or an override. */
    memcpy(json, "aggregations=", 13);
    memset(json + 13, '[', depth);
    json[13 + depth] = '\0';
    expect_override_err(json, "aggregations (from override): nesting deeper than 1000 levels",
                        "at character 1001 of the text");
    free(json);
}

Test(config, duplicate_keys_in_file)
{
    expect_file_err("{" BASE "," TUMBLING ",\"watermark\":{\"idle_timeout_ms\":1},"
                    "\"watermark.idle_timeout_ms\":2}",
                    "config: duplicate key 'watermark.idle_timeout_ms'", NULL);
    expect_file_err("{" BASE "," TUMBLING ",\"kafka\":{\"acks\":\"all\",\"acks\":\"1\"}}",
                    "duplicate key 'kafka.acks'", NULL);
}

Test(config, file_errors)
{
    result r = load("{\n \"application_id\": \"a\",\n \"input\": {,\n}\n", NULL, NULL, 0);
    cr_assert_eq(r.rc, TM_ECONFIG);
    cr_assert(strstr(r.err, "invalid JSON near line 3"), "%s", r.err);
    cr_assert(strstr(r.err, "config file /tmp/tm_test_config_"), "%s", r.err);

    expect_file_err("", "invalid JSON near line 1", NULL);
    expect_file_err("{\"a\":\"[[[\",\n \"b\":[[1]] x}", "invalid JSON near line 2", NULL);
    expect_file_err(MIN_JSON " trailing", "invalid JSON", NULL);
    expect_file_err("[1,2]", "expected a JSON object at the top level", NULL);

    tm_config *cfg = NULL;
    char err[256] = "";
    int rc = tm_config_load(&cfg, "/nonexistent/tidemark.json", NULL, NULL, 0, err, sizeof err);
    cr_assert_eq(rc, TM_EIO);
    cr_assert_null(cfg);
    cr_assert(strstr(err, "config file /nonexistent/tidemark.json: cannot open"), "%s", err);
}

/* ---- layering ------------------------------------------------------------- */

Test(config, env_overrides_file)
{
    char *env[] = {"PATH=/bin",
                   "TIDEMARK_WATERMARK_IDLE_TIMEOUT_MS=5000",
                   "TIDEMARK_INPUT_TOPICS=a, b",
                   "TIDEMARK_DEDUP_ENABLED=true",
                   "TIDEMARK_INPUT_EVENT_ID=/id",
                   "TIDEMARK_DEDUP_KEY=id",
                   "TIDEMARK_DEDUP_TTL_MS=60000",
                   "TIDEMARK_AGGREGATIONS=[{\"name\":\"n\",\"op\":\"count\"}]",
                   "TIDEMARK_INPUT_GROUP_BY=[\"/a\",\"/b\"]",
                   "TIDEMARK_LOG_LEVEL=debug",
                   "TIDEMARK_CLOCK_SKEW_MAX_AHEAD_MS=",
                   NULL};
    tm_config *cfg =
        load_ok("{" BASE "," TUMBLING ",\"watermark\":{\"idle_timeout_ms\":0},"
                "\"aggregations\":[{\"name\":\"x\",\"op\":\"max\",\"pointer\":\"/x\"}]}",
                env, NULL, 0);
    cr_assert_eq(cfg->idle_timeout_ms, 5000);
    cr_assert_eq(cfg->n_input_topics, 2);
    cr_assert_str_eq(cfg->input_topics[0], "a");
    cr_assert_str_eq(cfg->input_topics[1], "b");
    cr_assert(cfg->dedup_enabled);
    cr_assert_eq(cfg->dedup_key, TM_DEDUP_ID);
    cr_assert_eq(cfg->dedup_ttl_ms, 60000);
    cr_assert_eq(cfg->n_aggs, 1);
    cr_assert_str_eq(cfg->aggs[0].name, "n");
    cr_assert_eq(cfg->group_mode, TM_GROUP_LIST);
    cr_assert_eq(cfg->n_group_pointers, 2);
    cr_assert_str_eq(cfg->group_pointers[1], "/b");
    cr_assert_str_eq(cfg->log_level, "debug");
    cr_assert_not(cfg->clock_skew_enabled, "an empty variable counts as unset");
    tm_config_free(cfg);
}

Test(config, overrides_beat_env)
{
    char *env[] = {"TIDEMARK_WATERMARK_IDLE_TIMEOUT_MS=5000", "TIDEMARK_WINDOW_SIZE_MS=30", NULL};
    const char *ov[] = {"watermark.idle_timeout_ms=7000", "window.size_ms=40", "window.size_ms=50"};
    tm_config *cfg = load_ok(MIN_JSON, env, ov, 3);
    cr_assert_eq(cfg->idle_timeout_ms, 7000);
    cr_assert_eq(cfg->window_size_ms, 50, "the last override wins");
    tm_config_free(cfg);
}

Test(config, everything_from_overrides_without_file)
{
    const char *ov[] = {"application_id=x",    "input.topics=t1,t2", "input.event_time.pointer=/t",
                        "window.type=session", "window.gap_ms=10",   "output.topic=o"};
    tm_config *cfg = load_ok(NULL, NULL, ov, 6);
    cr_assert_eq(cfg->window_type, TM_WINDOW_SESSION);
    cr_assert_eq(tm_config_topic_index(cfg, "t1"), 0);
    cr_assert_eq(tm_config_topic_index(cfg, "t2"), 1);
    cr_assert_eq(tm_config_topic_index(cfg, "t3"), -1);
    tm_config_free(cfg);
}

Test(config, bad_value_in_lower_layer_is_not_reported_when_overridden)
{
    char *env[] = {"TIDEMARK_WINDOW_SIZE_MS=100", NULL};
    tm_config *cfg =
        load_ok("{" BASE ",\"window\":{\"type\":\"tumbling\",\"size_ms\":-1}}", env, NULL, 0);
    cr_assert_eq(cfg->window_size_ms, 100);
    tm_config_free(cfg);
}

Test(config, env_errors_name_the_variable_and_key)
{
    char *env[] = {"TIDEMARK_WINDOW_SIZE_MS=-5", NULL};
    expect_err(MIN_JSON, env, NULL, 0,
               "config: window.size_ms (from TIDEMARK_WINDOW_SIZE_MS): must be > 0 (got -5)", NULL);
    char *env2[] = {"TIDEMARK_AGGREGATIONS=n:count", NULL};
    expect_err(MIN_JSON, env2, NULL, 0, "aggregations (from TIDEMARK_AGGREGATIONS)",
               "expected JSON text");
    char *env3[] = {"TIDEMARK_AGGREGATIONS=[{\"name\":", NULL};
    expect_err(MIN_JSON, env3, NULL, 0, "aggregations", "invalid JSON text");
    char *env4[] = {"TIDEMARK_WINDOW_GAP_MS=5", NULL};
    expect_err(MIN_JSON, env4, NULL, 0, "window.gap_ms (from TIDEMARK_WINDOW_GAP_MS)",
               "not allowed");
}

Test(config, unknown_tidemark_env_rejected)
{
    char *env[] = {"TIDEMARK_WINDOW_SIZE=5", NULL};
    expect_err(MIN_JSON, env, NULL, 0, "unknown environment variable TIDEMARK_WINDOW_SIZE",
               "did you mean TIDEMARK_WINDOW_SIZE_MS");
    char *env2[] = {"TIDEMARK_NOPE=", NULL};
    expect_err(MIN_JSON, env2, NULL, 0, "TIDEMARK_NOPE", NULL);
    char *env3[] = {"TIDEMARK_KAFKA_=x", NULL};
    expect_err(MIN_JSON, env3, NULL, 0, "TIDEMARK_KAFKA_", "empty librdkafka property");
    /* A test's variable is unknown to the service like any other. */
    char *env4[] = {"TIDEMARK_SOURCE_DIR=/src", NULL};
    expect_err(MIN_JSON, env4, NULL, 0, "unknown environment variable TIDEMARK_SOURCE_DIR", NULL);
    /* The build's non-config variables, and other prefixes, pass. */
    char *ok[] = {"TIDEMARK_DEPS_DIR=/d", "TIDEMARK_JOBS=2", "TIDEMARKX=1", "HOME=/root", NULL};
    tm_config_free(load_ok(MIN_JSON, ok, NULL, 0));
}

Test(config, group_by_forms)
{
    struct {
        const char *file_value, *env_value;
        tm_group_mode mode;
        size_t n;
    } cases[] = {
        {"\"/m\"", "/m", TM_GROUP_POINTER, 1},
        {"\"$record_key\"", "$record_key", TM_GROUP_RECORD_KEY, 0},
        {"[\"/m\",\"/r\"]", "/m, /r", TM_GROUP_LIST, 2},
        {"[\"/m\"]", "[\"/m\"]", TM_GROUP_LIST, 1},
        {"\"/a,b\"", "\"/a,b\"", TM_GROUP_POINTER, 1},
    };
    char json[512], envv[128];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(json, sizeof json, "{" BASE "," TUMBLING ",\"input.group_by\":%s}",
                 cases[i].file_value);
        tm_config *cfg = load_ok(json, NULL, NULL, 0);
        cr_assert_eq(cfg->group_mode, cases[i].mode, "file case %zu", i);
        cr_assert_eq(cfg->n_group_pointers, cases[i].n, "file case %zu", i);
        tm_config_free(cfg);
        snprintf(envv, sizeof envv, "TIDEMARK_INPUT_GROUP_BY=%s", cases[i].env_value);
        char *env[] = {envv, NULL};
        cfg = load_ok(MIN_JSON, env, NULL, 0);
        cr_assert_eq(cfg->group_mode, cases[i].mode, "env case %zu", i);
        cr_assert_eq(cfg->n_group_pointers, cases[i].n, "env case %zu", i);
        tm_config_free(cfg);
    }
    expect_file_err("{" BASE "," TUMBLING ",\"input.group_by\":[]}", "input.group_by",
                    "must not be an empty list");
}

/* ---- kafka passthrough ---------------------------------------------------- */

Test(config, kafka_passthrough)
{
    char *env[] = {"TIDEMARK_KAFKA_CLIENT_ID=from-env", "TIDEMARK_KAFKA_ACKS=1", NULL};
    const char *ov[] = {"kafka.linger.ms=9", "kafka.new.prop=x"};
    tm_config *cfg = load_ok("{" BASE "," TUMBLING
                             ",\"kafka\":{\"bootstrap.servers\":\"b:9092\",\"acks\":\"all\","
                             "\"linger\":{\"ms\":5},\"enable.idempotence\":true,"
                             "\"big\":12345678901,\"frac\":0.5},"
                             "\"kafka.socket.timeout.ms\":30000}",
                             env, ov, 2);
    const char *want[][2] = {
        {"bootstrap.servers", "b:9092"},
        {"acks", "1"},
        {"linger.ms", "9"},
        {"enable.idempotence", "true"},
        {"big", "12345678901"},
        {"frac", "0.5"},
        {"socket.timeout.ms", "30000"},
        {"client.id", "from-env"},
        {"new.prop", "x"},
    };
    cr_assert_eq(cfg->n_kafka, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < cfg->n_kafka; i++) {
        cr_assert_str_eq(cfg->kafka[i].key, want[i][0], "kafka[%zu]", i);
        cr_assert_str_eq(cfg->kafka[i].value, want[i][1], "kafka[%zu]", i);
    }
    tm_config_free(cfg);

    expect_file_err("{" BASE "," TUMBLING ",\"kafka\":{\"x\":[1]}}",
                    "config: kafka.x: expected a string, number or bool", NULL);
    expect_file_err("{" BASE "," TUMBLING ",\"kafka\":\"b:9092\"}",
                    "config: kafka: expected an object", NULL);
}

/* ---- help ------------------------------------------------------------------- */

Test(config, help_lists_every_option)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cr_assert_not_null(f);
    tm_config_print_help(f);
    fclose(f);
    const char *names[] = {"application_id",
                           "input.topics",
                           "input.event_time.pointer",
                           "input.event_time.format",
                           "input.group_by",
                           "input.event_id",
                           "watermark.max_out_of_orderness_ms",
                           "watermark.idle_timeout_ms",
                           "watermark.combine",
                           "watermark.quantile",
                           "window.type",
                           "window.size_ms",
                           "window.advance_ms",
                           "window.offset_ms",
                           "window.gap_ms",
                           "allowed_lateness_ms",
                           "aggregations",
                           "dedup.enabled",
                           "dedup.key",
                           "dedup.ttl_ms",
                           "clock_skew.max_ahead_ms",
                           "clock_skew.action",
                           "clock_skew.max_ahead_of_wall_ms",
                           "late.action",
                           "output.topic",
                           "output.late_topic",
                           "output.dlq_topic",
                           "state.dir",
                           "commit_interval_ms",
                           "metrics.port",
                           "log.level",
                           "kafka.*"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        cr_assert(strstr(text, names[i]), "help lacks %s", names[i]);
    cr_assert(strstr(text, "epoch_ms|epoch_s|rfc3339|auto"));
    cr_assert(strstr(text, "number in (0, 1]"));
    free(text);
}

Test(config, free_null_is_noop)
{
    tm_config_free(NULL);
}
