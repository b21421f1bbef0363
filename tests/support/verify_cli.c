/*
 * verify_cli.c: see verify_cli.h.
 */
#include "verify_cli.h"

#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "alloc.h"

bool tm_vcli_strset_has(const tm_vcli_strset *s, const char *x)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], x) == 0)
            return true;
    return false;
}

void tm_vcli_strset_add(tm_vcli_strset *s, const char *x)
{
    if (tm_vcli_strset_has(s, x))
        return;
    s->v = tm_xrealloc(s->v, (s->n + 1) * sizeof *s->v);
    s->v[s->n++] = tm_xstrdup(x);
}

void tm_vcli_strset_free(tm_vcli_strset *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
}

cJSON *tm_vcli_read_line(FILE *f, char **line, size_t *cap)
{
    if (getline(line, cap, f) < 0)
        return NULL;
    cJSON *doc = cJSON_Parse(*line);
    cr_assert(doc, "not JSON: %s", *line);
    return doc;
}

int64_t tm_vcli_i64(const char *json, const char *name)
{
    cJSON *doc = cJSON_Parse(json);
    cr_assert(doc);
    const cJSON *v = cJSON_GetObjectItem(doc, name);
    cr_assert(cJSON_IsNumber(v), "no number %s in %s", name, json);
    int64_t n = (int64_t)v->valuedouble;
    cJSON_Delete(doc);
    return n;
}

void tm_vcli_table_load(tm_vcli_table *t, const char *path)
{
    FILE *f = fopen(path, "r");
    cr_assert(f, "%s", path);
    char *line = NULL;
    size_t cap = 0;
    cJSON *doc;
    while ((doc = tm_vcli_read_line(f, &line, &cap))) {
        const char *key = cJSON_GetObjectItem(doc, "key")->valuestring;
        const cJSON *payload = cJSON_GetObjectItem(doc, "payload");
        size_t i = 0;
        while (i < t->n && strcmp(t->key[i], key) != 0)
            i++;
        if (i == t->n) {
            cr_assert_lt(t->n, (size_t)TM_VCLI_MAX_KEYS);
            t->key[t->n++] = tm_xstrdup(key);
        } else {
            free(t->payload[i]);
        }
        t->payload[i] = cJSON_IsString(payload) ? tm_xstrdup(payload->valuestring) : NULL;
        t->partition[i] = cJSON_GetObjectItem(doc, "partition")->valueint;
        cJSON_Delete(doc);
    }
    free(line);
    fclose(f);
}

void tm_vcli_table_free(tm_vcli_table *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->key[i]);
        free(t->payload[i]);
    }
}

void tm_vcli_table_range(const tm_eos *e, const tm_vcli_table *t, int64_t window_ms, int64_t *from,
                         int64_t *to)
{
    cr_assert_leq(e->partitions, TM_WORKLOAD_MAX_PARTITIONS);
    int64_t last_end[TM_WORKLOAD_MAX_PARTITIONS];
    for (int p = 0; p < TM_WORKLOAD_MAX_PARTITIONS; p++)
        last_end[p] = INT64_MIN;
    *from = INT64_MAX;
    for (size_t i = 0; i < t->n; i++) {
        if (!t->payload[i])
            continue;
        int64_t s = tm_vcli_i64(t->payload[i], "window_start");
        int64_t end = tm_vcli_i64(t->payload[i], "window_end");
        *from = s < *from ? s : *from;
        if (end > last_end[t->partition[i]])
            last_end[t->partition[i]] = end;
    }
    *to = INT64_MAX;
    for (int p = 0; p < e->partitions; p++)
        *to = last_end[p] < *to ? last_end[p] : *to;
    cr_assert_neq(*to, INT64_MIN, "a partition fired no window");
    *to -= tm_vcli_lateness(e) + window_ms - 1;
    *to -= *to % window_ms;
    cr_assert_lt(*from, *to);
}

int64_t tm_vcli_lateness(const tm_eos *e)
{
    FILE *f = fopen(e->config_path, "r");
    cr_assert(f);
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    cJSON *doc = cJSON_Parse(buf);
    cr_assert(doc, "%s", e->config_path);
    const cJSON *l = cJSON_GetObjectItem(doc, "allowed_lateness_ms");
    cr_assert(cJSON_IsNumber(l));
    int64_t ms = (int64_t)l->valuedouble;
    cJSON_Delete(doc);
    return ms;
}

/* A report's integer member, which must be there. */
static int64_t report_i64(const cJSON *doc, const char *name)
{
    const cJSON *v = cJSON_GetObjectItem(doc, name);
    cr_assert(cJSON_IsNumber(v), "the report has no number %s", name);
    return (int64_t)v->valuedouble;
}

void tm_vcli_verify(tm_eos *e, const char *log_name, int64_t from, int64_t to, bool exact_late,
                    tm_vcli_report *r)
{
    char f[32], t[32], log[TM_EOS_PATH + 64];
    snprintf(f, sizeof f, "%" PRId64, from);
    snprintf(t, sizeof t, "%" PRId64, to);
    const char *args[] = {"verify", "--config", e->config_path, "--from", f,
                          "--to",   t,          "--json",       NULL};
    int status = tm_eos_cli(e, log_name, args, log, sizeof log);
    cr_assert(WIFEXITED(status), "verify did not exit");
    memset(r, 0, sizeof *r);
    r->exit_code = WEXITSTATUS(status);
    /* The report's lines, without progress and log lines (stderr); of
     * those, the buckets picked. */
    FILE *in = fopen(log, "r");
    cr_assert(in);
    char *line = NULL, *json = tm_xstrdup("");
    size_t cap = 0;
    r->span_records = r->buckets = -1;
    while (getline(&line, &cap, in) >= 0) {
        (void)sscanf(line,
                     "tidemark verify: at most %" SCNd64 " input records to read: %" SCNd64
                     " spill buckets",
                     &r->span_records, &r->buckets);
        if (strncmp(line, "{\"divergent\"", 12) != 0 && strncmp(line, "{\"key\"", 6) != 0 &&
            strncmp(line, "],\"from\"", 8) != 0)
            continue;
        json = tm_xrealloc(json, strlen(json) + strlen(line) + 1);
        strcat(json, line);
    }
    free(line);
    fclose(in);
    cJSON *doc = cJSON_Parse(json);
    cr_assert(doc, "no JSON report in %s", log);
    r->windows = report_i64(doc, "windows");
    r->equal = report_i64(doc, "equal");
    r->explained = report_i64(doc, "explained");
    r->unexplained = report_i64(doc, "unexplained");
    r->unjudged = report_i64(doc, "unjudged");
    r->input_complete = cJSON_IsTrue(cJSON_GetObjectItem(doc, "input_complete"));
    r->input_records = report_i64(doc, "input_records");
    const cJSON *w;
    cJSON_ArrayForEach(w, cJSON_GetObjectItem(doc, "divergent"))
    {
        char id[256];
        snprintf(id, sizeof id, "%s@%" PRId64, cJSON_GetObjectItem(w, "key")->valuestring,
                 (int64_t)cJSON_GetObjectItem(w, "window_start")->valuedouble);
        bool explained = strcmp(cJSON_GetObjectItem(w, "verdict")->valuestring, "explained") == 0;
        size_t n_late = (size_t)cJSON_GetArraySize(cJSON_GetObjectItem(w, "late"));
        r->late_named += n_late;
        if (explained && exact_late)
            cr_assert_gt(n_late, 0u, "explained window %s names no late record", id);
        tm_vcli_strset_add(explained ? &r->explained_windows : &r->unexplained_windows, id);
    }
    cJSON_Delete(doc);
    free(json);
    printf("eos %s: %s: %" PRId64 " windows, %" PRId64 " equal, %" PRId64 " explained, %" PRId64
           " unexplained, exit %d\n",
           e->name, log_name, r->windows, r->equal, r->explained, r->unexplained, r->exit_code);
    fflush(stdout);
}

void tm_vcli_report_free(tm_vcli_report *r)
{
    tm_vcli_strset_free(&r->explained_windows);
    tm_vcli_strset_free(&r->unexplained_windows);
}

void tm_vcli_backfill(tm_eos *e, const char *log_name, int64_t from, int64_t to,
                      const char *const *options, tm_vcli_backfill_report *r)
{
    char f[32], t[32];
    snprintf(f, sizeof f, "%" PRId64, from);
    snprintf(t, sizeof t, "%" PRId64, to);
    const char *args[] = {"backfill", "--config", e->config_path, "--from", f,   "--to",
                          t,          "--json",   NULL,           NULL,     NULL};
    for (size_t i = 0; options && options[i]; i++) {
        cr_assert_lt(i, 2u, "at most two more arguments");
        args[8 + i] = options[i];
    }
    memset(r, 0, sizeof *r);
    int status = tm_eos_cli(e, log_name, args, r->log, sizeof r->log);
    cr_assert(WIFEXITED(status), "backfill did not exit");
    r->exit_code = WEXITSTATUS(status);
    FILE *in = fopen(r->log, "r");
    cr_assert(in);
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, in) >= 0) {
        if (strncmp(line, "{\"partition\"", 12) == 0) {
            cJSON *rec = cJSON_Parse(line);
            cr_assert(rec, "not JSON: %s", line);
            cJSON_Delete(rec);
            r->records_printed++;
        }
        if (strncmp(line, "{\"from\"", 7) != 0)
            continue;
        cJSON *doc = cJSON_Parse(line);
        cr_assert(doc, "not JSON: %s", line);
        r->windows = report_i64(doc, "windows");
        r->equal = report_i64(doc, "equal");
        r->revisions = report_i64(doc, "revisions");
        r->tombstones = report_i64(doc, "tombstones");
        r->unjudged = report_i64(doc, "unjudged");
        r->written = cJSON_IsTrue(cJSON_GetObjectItem(doc, "written"));
        cJSON_Delete(doc);
    }
    free(line);
    fclose(in);
    printf("eos %s: %s: %" PRId64 " windows, %" PRId64 " equal, %" PRId64 " revisions, %" PRId64
           " tombstones, exit %d\n",
           e->name, log_name, r->windows, r->equal, r->revisions, r->tombstones, r->exit_code);
    fflush(stdout);
}
