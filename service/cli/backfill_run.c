/*
 * backfill_run.c: see backfill_run.h. The records to write are planned
 * during the comparison into a spill file (a misconfiguration can make
 * every window of a long range differ), and written only once the whole
 * range has been judged, since a refusal may come from its last window.
 * A plan entry: the partition (int32), key length, value length
 * (SIZE_MAX: a tombstone), key bytes, value bytes.
 */
#include "backfill_run.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "backfill.h"
#include "buf.h"
#include "changelog.h"
#include "err.h"
#include "kafka.h"
#include "verify.h"

/* The live watermark (backfill.h): the lowest task watermark, and the
 * task that has it. */
typedef struct live_mark {
    int64_t watermark;
    int32_t task;
    int64_t task_watermark; /* the task's latest checkpoint's, while reading it */
} live_mark;

static int on_changelog_record(void *ctx, const void *key, size_t key_len, const void *value,
                               size_t value_len, int64_t offset)
{
    (void)offset;
    live_mark *m = ctx;
    tm_changelog_key k;
    tm_changelog_checkpoint c;
    /* The compacted topic's latest checkpoint record is the task's; any
     * other record (a window, dedup keys, a foreign one) says nothing of
     * the watermark. */
    if (!value || tm_changelog_parse_key(key, key_len, &k) || k.kind != TM_CHANGELOG_CHECKPOINT ||
        tm_changelog_parse_checkpoint(value, value_len, &c))
        return 0;
    m->task_watermark = c.watermark;
    return 0;
}

/* The reading handle: with force an admin handle; else one that reads the
 * changelog too, whose absence is a refusal. */
static int open_reader(tm_kafka **k, const tm_config *cfg, bool force, char *errstr, size_t errlen)
{
    if (force)
        return tm_kafka_open_admin(k, cfg, errstr, errlen);
    int rc = tm_kafka_open_changelog_reader(k, cfg, errstr, errlen);
    if (rc == 0)
        return 0;
    /* Without a changelog nothing tells how far the live application got:
     * refused like a window it may still change. */
    char why[512];
    snprintf(why, sizeof why, "%s", errstr);
    return tm_seterr(errstr, errlen, TM_ECONFIG,
                     "cannot read the live watermark (%s): the live application may still "
                     "change any window; --force backfills anyway",
                     why);
}

/* Reads every task's latest checkpoint (k: a changelog reader) into *m. */
static int read_live_watermark(tm_kafka *k, live_mark *m, char *errstr, size_t errlen)
{
    int rc = 0;
    *m = (live_mark){.watermark = INT64_MAX, .task = -1};
    int32_t n = tm_kafka_changelog_partitions(k);
    for (int32_t task = 0; task < n && rc == 0; task++) {
        m->task_watermark = INT64_MIN;
        int64_t end = tm_kafka_read_changelog(k, task, 0, on_changelog_record, m, errstr, errlen);
        if (end < 0)
            rc = (int)end;
        else if (m->task_watermark < m->watermark) {
            m->watermark = m->task_watermark;
            m->task = task;
        }
    }
    return rc;
}

/* The comparison's callback state. */
typedef struct planner {
    const tm_config *cfg;
    const tm_backfill_options *opt;
    live_mark live;
    int32_t n_tasks;
    FILE *plan;
    bool plan_failed;
    uint64_t revisions, tombstones;
    tm_buf key, value;
    /* The first window of the range the live application may change. */
    bool refused;
    tm_buf refused_key;
    int64_t refused_start, refused_end;
} planner;

static bool put(FILE *f, const void *p, size_t n)
{
    return n == 0 || fwrite(p, 1, n, f) == n;
}

static bool get(FILE *f, void *p, size_t n)
{
    return n == 0 || fread(p, 1, n, f) == n;
}

static void on_window(void *ctx, const tm_verify_window *w)
{
    planner *p = ctx;
    if (!p->opt->force && !p->refused &&
        tm_backfill_window_live(p->cfg, w->end, p->live.watermark)) {
        p->refused = true;
        tm_buf_append(&p->refused_key, w->key, w->key_len);
        p->refused_start = w->start;
        p->refused_end = w->end;
    }
    int32_t partition = 0;
    tm_backfill_kind kind =
        tm_backfill_record(p->cfg, w, p->n_tasks, &p->key, &p->value, &partition);
    if (kind == TM_BACKFILL_NONE)
        return;
    size_t vlen = kind == TM_BACKFILL_TOMBSTONE ? SIZE_MAX : p->value.len;
    bool ok = put(p->plan, &partition, sizeof partition) &&
              put(p->plan, &p->key.len, sizeof p->key.len) && put(p->plan, &vlen, sizeof vlen) &&
              put(p->plan, p->key.data, p->key.len) &&
              (kind == TM_BACKFILL_TOMBSTONE || put(p->plan, p->value.data, p->value.len));
    if (!ok)
        p->plan_failed = true;
    if (kind == TM_BACKFILL_TOMBSTONE)
        p->tombstones++;
    else
        p->revisions++;
}

/* Hands each planned record to fn (0 to go on); returns 0, fn's error or
 * TM_EIO. */
typedef int (*plan_fn)(void *ctx, int32_t partition, const char *key, size_t key_len,
                       const char *value, size_t value_len);

static int replay_plan(FILE *plan, plan_fn fn, void *ctx, char *errstr, size_t errlen)
{
    int32_t partition;
    size_t key_len, value_len;
    char *buf = NULL;
    size_t cap = 0;
    int rc = 0;
    if (fflush(plan) != 0 || fseek(plan, 0, SEEK_SET) != 0)
        rc = TM_EIO;
    while (rc == 0 && fread(&partition, sizeof partition, 1, plan) == 1) {
        bool ok = get(plan, &key_len, sizeof key_len) && get(plan, &value_len, sizeof value_len);
        size_t n = key_len + (value_len == SIZE_MAX ? 0 : value_len);
        buf = ok ? tm_grow(buf, &cap, n + 1, 1) : buf;
        if (!ok || !get(plan, buf, n)) {
            rc = TM_EIO;
            break;
        }
        rc = fn(ctx, partition, buf, key_len, value_len == SIZE_MAX ? NULL : buf + key_len,
                value_len == SIZE_MAX ? 0 : value_len);
    }
    if (rc == 0 && ferror(plan))
        rc = TM_EIO;
    free(buf);
    if (rc == TM_EIO)
        return tm_seterr(errstr, errlen, TM_EIO, "reading back the backfill's plan file failed");
    return rc;
}

/* --dry-run: one JSON line per record. */
static int print_record(void *ctx, int32_t partition, const char *key, size_t key_len,
                        const char *value, size_t value_len)
{
    planner *p = ctx;
    tm_buf *b = &p->key;
    tm_buf_reset(b);
    tm_buf_printf(b, "{\"partition\":%d,\"key\":", (int)partition);
    tm_buf_put_json_string(b, key, key_len);
    tm_buf_puts(b, ",\"value\":");
    if (value)
        tm_buf_append(b, value, value_len); /* the value is JSON itself */
    else
        tm_buf_puts(b, "null");
    tm_buf_puts(b, "}\n");
    fwrite(b->data, 1, b->len, p->opt->range.out);
    return 0;
}

typedef struct writer {
    const tm_config *cfg;
    tm_kafka *k;
    char *errstr;
    size_t errlen;
} writer;

static int produce_record(void *ctx, int32_t partition, const char *key, size_t key_len,
                          const char *value, size_t value_len)
{
    writer *w = ctx;
    tm_kafka_status st = tm_kafka_produce(w->k, w->cfg->output_topic, partition, key, key_len,
                                          value, value_len, NULL, 0, w->errstr, w->errlen);
    return st == TM_KAFKA_OK ? 0 : TM_EKAFKA;
}

/* Writes the plan in one transaction; on any failure aborts it, so that
 * nothing is written. */
static int write_plan(planner *p, char *errstr, size_t errlen)
{
    tm_kafka *k = NULL;
    int rc = tm_kafka_open_backfill(&k, p->cfg, errstr, errlen);
    if (rc < 0)
        return rc;
    writer w = {.cfg = p->cfg, .k = k, .errstr = errstr, .errlen = errlen};
    if (p->opt->range.progress)
        fprintf(p->opt->range.progress,
                "tidemark backfill: writing %" PRIu64 " records to %s in one transaction\n",
                p->revisions + p->tombstones, p->cfg->output_topic);
    rc = tm_kafka_begin(k, errstr, errlen) == TM_KAFKA_OK ? 0 : TM_EKAFKA;
    if (rc == 0)
        rc = replay_plan(p->plan, produce_record, &w, errstr, errlen);
    if (rc == 0 && tm_kafka_commit(k, errstr, errlen) != TM_KAFKA_OK)
        rc = TM_EKAFKA;
    if (rc < 0) {
        char ignored[256];
        /* The first error is the one to report; closing aborts a
         * transaction the abort could not. */
        tm_kafka_abort(k, ignored, sizeof ignored);
    }
    tm_kafka_close(k);
    return rc;
}

/* A private plan file under dir, gone once closed. */
static FILE *open_plan(const char *dir, char *errstr, size_t errlen)
{
    size_t n = strlen(dir) + sizeof "/tidemark-backfill-XXXXXX";
    char *path = tm_xmalloc(n);
    snprintf(path, n, "%s/tidemark-backfill-XXXXXX", dir);
    int fd = mkstemp(path);
    FILE *f = fd >= 0 ? fdopen(fd, "w+") : NULL;
    if (!f)
        tm_seterr(errstr, errlen, TM_EIO, "cannot create a plan file under %s: %s", dir,
                  strerror(errno));
    if (fd >= 0)
        unlink(path);
    if (fd >= 0 && !f)
        close(fd);
    free(path);
    return f;
}

static void print_summary(const planner *p, const tm_verify_summary *s, bool written)
{
    const tm_backfill_options *opt = p->opt;
    FILE *out = opt->range.out;
    if (opt->range.json) {
        fprintf(out,
                "{\"from\":%" PRId64 ",\"to\":%" PRId64 ",\"windows\":%" PRIu64
                ",\"equal\":%" PRIu64 ",\"explained\":%" PRIu64 ",\"unexplained\":%" PRIu64
                ",\"unjudged\":%" PRIu64 ",\"revisions\":%" PRIu64 ",\"tombstones\":%" PRIu64
                ",\"dry_run\":%s,\"written\":%s}\n",
                opt->range.from, opt->range.to, s->windows, s->equal, s->explained, s->unexplained,
                s->unjudged, p->revisions, p->tombstones, opt->dry_run ? "true" : "false",
                written ? "true" : "false");
        return;
    }
    fprintf(out,
            "%" PRIu64 " windows in [%" PRId64 ", %" PRId64 "): %" PRIu64 " equal, %" PRIu64
            " differ (%" PRIu64 " explained by late records, %" PRIu64 " unexplained, %" PRIu64
            " unjudged)\n",
            s->windows, opt->range.from, opt->range.to, s->equal, s->windows - s->equal,
            s->explained, s->unexplained, s->unjudged);
    if (s->unjudged)
        fprintf(out,
                "%" PRIu64 " sessions left as they are: a batch session of their key "
                "crosses a bound of the range (backfill a wider range to correct them)\n",
                s->unjudged);
    const char *verb = opt->dry_run ? "would write" : written ? "wrote" : "wrote nothing:";
    if (p->revisions + p->tombstones == 0)
        fprintf(out, "nothing to write: the table holds the batch results\n");
    else
        fprintf(out,
                "%s %" PRIu64 " revisions (trigger backfill) and %" PRIu64 " tombstones to %s%s\n",
                verb, p->revisions, p->tombstones, p->cfg->output_topic,
                opt->dry_run ? " (dry run)" : " in one transaction");
}

/* The refusal of a window the live application may still change. */
static int refusal(const planner *p, char *errstr, size_t errlen)
{
    char mark[96];
    if (p->live.watermark == INT64_MIN)
        snprintf(mark, sizeof mark, "task %d has no watermark yet", (int)p->live.task);
    else
        snprintf(mark, sizeof mark, "the live watermark is %" PRId64 ", task %d's checkpoint",
                 p->live.watermark, (int)p->live.task);
    return tm_seterr(errstr, errlen, TM_ECONFIG,
                     "window %.*s@%" PRId64 " [%" PRId64 ", %" PRId64
                     ") may still change live: its end + allowed lateness (%" PRId64
                     " ms) is beyond the watermark (%s); backfill a range that ends earlier, "
                     "wait, or --force",
                     (int)p->refused_key.len, p->refused_key.data, p->refused_start,
                     p->refused_start, p->refused_end, p->cfg->allowed_lateness_ms, mark);
}

int tm_backfill_run(const tm_config *cfg, const tm_backfill_options *opt, char *errstr,
                    size_t errlen)
{
    planner p = {.cfg = cfg, .opt = opt, .live = {.watermark = INT64_MAX, .task = -1}};
    tm_kafka *k = NULL;
    int rc = open_reader(&k, cfg, opt->force, errstr, errlen);
    if (rc == 0 && !opt->force)
        rc = read_live_watermark(k, &p.live, errstr, errlen);
    int n_tasks = 0;
    for (size_t i = 0; rc == 0 && i < cfg->n_input_topics; i++) {
        int n = 0;
        rc = tm_kafka_topic_partitions(k, cfg->input_topics[i], &n, errstr, errlen);
        n_tasks = n > n_tasks ? n : n_tasks;
    }
    tm_verify *v = NULL;
    bool truncated = false;
    if (rc == 0)
        rc = tm_verify_read(&v, k, cfg, &opt->range, &truncated, errstr, errlen);
    tm_kafka_close(k);
    if (rc == 0 && truncated && !opt->force)
        rc = tm_seterr(errstr, errlen, TM_ECONFIG,
                       "the input topics no longer hold the whole range (retention): the batch "
                       "results would miss the deleted records; backfill a later range, or "
                       "--force");
    p.n_tasks = n_tasks;
    if (rc == 0)
        p.plan = open_plan(opt->range.tmp_dir, errstr, errlen);
    if (rc == 0 && !p.plan)
        rc = TM_EIO;
    tm_verify_summary s = {0};
    if (rc == 0)
        rc = tm_verify_finish(v, on_window, &p, tm_verify_progress, (void *)&opt->range, &s, errstr,
                              errlen);
    if (rc == 0 && p.plan_failed)
        rc = tm_seterr(errstr, errlen, TM_EIO, "writing the backfill's plan file failed");
    if (rc == 0 && p.refused)
        rc = refusal(&p, errstr, errlen);
    bool written = false;
    if (rc == 0 && opt->dry_run)
        rc = replay_plan(p.plan, print_record, &p, errstr, errlen);
    else if (rc == 0 && p.revisions + p.tombstones > 0) {
        rc = write_plan(&p, errstr, errlen);
        written = rc == 0;
    }
    if (rc == 0)
        print_summary(&p, &s, written);
    if (rc == 0 && fflush(opt->range.out) != 0)
        rc = tm_seterr(errstr, errlen, TM_EIO, "cannot write the report");
    if (p.plan)
        fclose(p.plan);
    tm_verify_close(v);
    tm_buf_free(&p.key);
    tm_buf_free(&p.value);
    tm_buf_free(&p.refused_key);
    return rc;
}
