/*
 * replay.c: see replay.h.
 */
#include "replay.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc.h"
#include "batch.h"
#include "buf.h"
#include "engine.h"
#include "envelope.h"
#include "err.h"
#include "output.h"
#include "repartition.h"
#include "side_record.h"

/* One batch result, kept until the run's end to be written in order:
 * start, group key bytes, then the line (key bytes, then line bytes). */
typedef struct batch_line {
    int64_t start;
    size_t key_len;
    size_t line_len;
    char bytes[];
} batch_line;

/* One task (a source task, with repartitioning), and the offset the next
 * record of each of its topics gets when its line has none (the count of
 * earlier records: kcat always writes offsets, hand-written inputs often
 * don't). */
typedef struct replay_task {
    int32_t partition;
    tm_engine *engine;    /* without repartitioning; else NULL */
    int64_t *next_offset; /* one per input topic */
} replay_task;

typedef struct replay {
    const tm_config *cfg;
    replay_task *tasks; /* ascending partition */
    size_t n_tasks;
    /* With repartitioning: the two stages, the tasks above being the
     * source tasks, all known before the first record (SEMANTICS 10). */
    tm_repartition *pipeline;
    /* With --batch (tm_replay_batch): the batch results instead of the
     * tasks' engines, and its lines until they are sorted. */
    tm_batch *batch;
    batch_line **batch_lines;
    size_t n_batch_lines, cap_batch_lines;
    int64_t start_time;
    FILE *out[3]; /* output (batch.jsonl with --batch), late (not with --batch), dlq */
    tm_buf line;  /* the output line being built */
    tm_buf key;   /* scratch for the output key */
    tm_buf value; /* scratch for the output value */
    tm_replay_summary summary;
    int write_errno; /* first write error, reported at the end */
    /* The record limit the live service's producer would have (replay
     * knows no topic's own limit): oversized late and dead-letter copies
     * are written by reference, as live. */
    size_t max_record_bytes;
} replay;

enum { OUT_RESULTS, OUT_LATE, OUT_DLQ };
static const char *const out_names[3] = {"output.jsonl", "late.jsonl", "dlq.jsonl"};
static const char *const batch_out_names[3] = {"batch.jsonl", NULL, "dlq.jsonl"};

static void write_line(replay *r, int which)
{
    if (fwrite(r->line.data, 1, r->line.len, r->out[which]) != r->line.len && !r->write_errno)
        r->write_errno = errno ? errno : EIO;
    tm_buf_reset(&r->line);
}

static void on_result(void *ctx, int32_t partition, const tm_window_result *res)
{
    replay *r = ctx;
    tm_buf_reset(&r->key);
    tm_buf_reset(&r->value);
    tm_output_key(&r->key, res);
    if (!res->tombstone)
        tm_output_value(&r->value, r->cfg, res);
    tm_envelope_write(&r->line, r->cfg->output_topic, partition, r->key.data, r->key.len,
                      res->tombstone ? NULL : r->value.data, r->value.len, NULL, 0);
    write_line(r, OUT_RESULTS);
    r->summary.results++;
}

static void write_side_record(replay *r, const char *topic, int32_t partition,
                              const tm_side_record *s, int which)
{
    tm_envelope_write(&r->line, topic, partition, s->key, s->key_len, s->value, s->value_len,
                      s->headers, s->n_headers);
    write_line(r, which);
}

static void on_late(void *ctx, int32_t partition, const tm_record *rec, int64_t watermark)
{
    replay *r = ctx;
    tm_side_record s;
    tm_side_record_late(&s, rec, watermark, r->max_record_bytes);
    write_side_record(r, r->cfg->late_topic, partition, &s, OUT_LATE);
    r->summary.late++;
}

static void on_dead_letter(void *ctx, const tm_record *rec, tm_dlq_reason reason,
                           const char *detail)
{
    replay *r = ctx;
    tm_side_record s;
    tm_side_record_dead_letter(&s, rec, reason, detail, r->max_record_bytes);
    write_side_record(r, r->cfg->dlq_topic, rec->partition, &s, OUT_DLQ);
    r->summary.dead++;
}

/* The task of a partition, created on its first record (with
 * repartitioning, by the scan before the first), with an engine when the
 * pipeline does not repartition. */
static replay_task *task_for(replay *r, int32_t partition, char *errstr, size_t errlen)
{
    size_t i = 0;
    while (i < r->n_tasks && r->tasks[i].partition < partition)
        i++;
    if (i < r->n_tasks && r->tasks[i].partition == partition)
        return &r->tasks[i];
    tm_engine *engine = NULL;
    if (!r->batch && !tm_config_repartitions(r->cfg) &&
        tm_engine_open(&engine, r->cfg, partition, r->start_time, errstr, errlen) < 0)
        return NULL;
    r->tasks = tm_xrealloc(r->tasks, (r->n_tasks + 1) * sizeof *r->tasks);
    memmove(&r->tasks[i + 1], &r->tasks[i], (r->n_tasks - i) * sizeof *r->tasks);
    r->n_tasks++;
    r->tasks[i] =
        (replay_task){partition, engine, tm_xcalloc(r->cfg->n_input_topics, sizeof(int64_t))};
    return &r->tasks[i];
}

static bool is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return false;
    return true;
}

/* Turns a parsed line into a record; TM_EPARSE for an unknown topic. */
static int to_record(replay *r, const tm_envelope *env, replay_task *task, tm_record *rec,
                     char *errstr, size_t errlen)
{
    const char *topic = env->topic ? env->topic : r->cfg->input_topics[0];
    int idx = tm_config_topic_index(r->cfg, topic);
    if (idx < 0)
        return tm_seterr(errstr, errlen, TM_EPARSE, "topic '%s' is not one of input.topics", topic);
    int64_t *next = &task->next_offset[idx];
    *rec = (tm_record){
        .topic = topic,
        .topic_index = (size_t)idx,
        .partition = env->partition,
        .offset = env->has_offset ? env->offset : *next,
        .ts = env->ts,
        .key = env->key,
        .key_len = env->key_len,
        .value = env->payload,
        .value_len = env->payload_len,
    };
    *next = rec->offset + 1;
    return TM_OK;
}

static int open_outputs(replay *r, const char *dir, char *errstr, size_t errlen)
{
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return tm_seterr(errstr, errlen, TM_EIO, "cannot create output directory %s: %s", dir,
                         strerror(errno));
    const char *const *names = r->batch ? batch_out_names : out_names;
    for (int i = 0; i < 3; i++) {
        char path[4096];
        if (!names[i])
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        r->out[i] = fopen(path, "w");
        if (!r->out[i])
            return tm_seterr(errstr, errlen, TM_EIO, "cannot write %s: %s", path, strerror(errno));
    }
    return TM_OK;
}

/* Reads the input's records, one non-blank line at a time. */
typedef struct line_reader {
    FILE *in;
    FILE *copy; /* when not NULL, every line read is written here too */
    const char *path;
    tm_envelope env; /* the last record read */
    char *line;
    size_t cap;
    uint64_t lineno;
} line_reader;

/* Reads the next record into rd->env: returns 1, or 0 at the end of the
 * input, or a negative tm_err with the message (naming the line) in
 * errstr. */
static int next_record(line_reader *rd, char *errstr, size_t errlen)
{
    ssize_t n;
    char why[256];
    while ((n = getline(&rd->line, &rd->cap, rd->in)) >= 0) {
        rd->lineno++;
        if (rd->copy && fwrite(rd->line, 1, (size_t)n, rd->copy) != (size_t)n)
            return tm_seterr(errstr, errlen, TM_EIO, "%s: cannot keep a copy of it: %s", rd->path,
                             strerror(errno));
        if (is_blank(rd->line, (size_t)n))
            continue;
        int rc = tm_envelope_parse(&rd->env, rd->line, (size_t)n, why, sizeof why);
        if (rc < 0)
            return tm_seterr(errstr, errlen, rc, "%s:%llu: %s", rd->path,
                             (unsigned long long)rd->lineno, why);
        return 1;
    }
    if (ferror(rd->in))
        return tm_seterr(errstr, errlen, TM_EIO, "%s: read error: %s", rd->path, strerror(errno));
    return 0;
}

static void line_reader_free(line_reader *rd)
{
    free(rd->line);
    tm_envelope_clear(&rd->env);
}

/* Runs every line of in through the tasks. */
static int replay_lines(replay *r, FILE *in, const char *input_path, char *errstr, size_t errlen)
{
    const tm_engine_sink sink = {r, on_result, on_late, on_dead_letter};
    line_reader rd = {.in = in, .path = input_path};
    const tm_envelope *env = &rd.env;
    int64_t now = 0;
    int rc;
    char why[256];
    while ((rc = next_record(&rd, errstr, errlen)) > 0) {
        if (r->summary.lines++ == 0) {
            r->start_time = env->ts;
            now = env->ts;
        }
        if (env->ts > now)
            now = env->ts;
        replay_task *task = task_for(r, env->partition, why, sizeof why);
        tm_record rec;
        rc = task ? to_record(r, env, task, &rec, why, sizeof why) : TM_ECONFIG;
        if (rc < 0) {
            tm_seterr(errstr, errlen, rc, "%s:%llu: %s", input_path, (unsigned long long)rd.lineno,
                      why);
            break;
        }
        if (r->batch) {
            tm_batch_add(r->batch, &rec, &sink);
            continue;
        }
        if (r->pipeline) {
            tm_repartition_process(r->pipeline, &rec, now, &sink);
            continue;
        }
        tm_engine_process(task->engine, &rec, now, &sink);
        for (size_t i = 0; i < r->n_tasks; i++)
            tm_engine_tick(r->tasks[i].engine, now, &sink);
    }
    line_reader_free(&rd);
    return rc < 0 ? rc : TM_OK;
}

/* With repartitioning the source tasks are the partition numbers of the
 * whole input, and R is by default its largest + 1 (SEMANTICS 9-10), both
 * known before the first record: a first pass over the input collects
 * them (a malformed line fails here, named by its number), and the records
 * are read again from the start. An input that cannot be read twice (a
 * pipe) is copied into a temporary file as the first pass reads it, and
 * *again is where the second pass reads: in, or that copy. */
static int scan_partitions(replay *r, FILE *in, const char *input_path, int64_t *first_ts,
                           FILE **again, char *errstr, size_t errlen)
{
    line_reader rd = {.in = in, .path = input_path};
    *again = in;
    if (fseek(in, 0, SEEK_CUR) != 0) {
        rd.copy = *again = tmpfile();
        if (!rd.copy)
            return tm_seterr(errstr, errlen, TM_EIO,
                             "%s: cannot be read twice, and no temporary file for a copy: %s",
                             input_path, strerror(errno));
    }
    int rc;
    while ((rc = next_record(&rd, errstr, errlen)) > 0) {
        if (r->n_tasks == 0)
            *first_ts = rd.env.ts;
        task_for(r, rd.env.partition, NULL, 0);
    }
    line_reader_free(&rd);
    if (rc == 0 && (fflush(*again) != 0 || fseek(*again, 0, SEEK_SET) != 0))
        rc = tm_seterr(errstr, errlen, TM_EIO, "%s: cannot read it again: %s", input_path,
                       strerror(errno));
    return rc < 0 ? rc : TM_OK;
}

/* The source tasks of the input's partition numbers, and R window tasks:
 * repartition.partitions, else the largest partition number + 1. An
 * empty input has no tasks at all. *again: as scan_partitions says. */
static int open_pipeline(replay *r, FILE *in, const char *input_path, FILE **again, char *errstr,
                         size_t errlen)
{
    int64_t first_ts = 0;
    int rc = scan_partitions(r, in, input_path, &first_ts, again, errstr, errlen);
    if (rc < 0 || r->n_tasks == 0)
        return rc;
    int32_t last = r->tasks[r->n_tasks - 1].partition;
    int64_t n_window_tasks =
        r->cfg->repartition_partitions ? r->cfg->repartition_partitions : (int64_t)last + 1;
    if (n_window_tasks > INT32_MAX)
        return tm_seterr(errstr, errlen, TM_EPARSE,
                         "%s: partition %d leaves no room for the default "
                         "repartition.partitions (the largest partition number + 1): set it",
                         input_path, (int)last);
    int32_t *partitions = tm_xcalloc(r->n_tasks, sizeof *partitions);
    for (size_t i = 0; i < r->n_tasks; i++)
        partitions[i] = r->tasks[i].partition;
    /* Every task starts at the receipt time of the input's first line. */
    rc = tm_repartition_open(&r->pipeline, r->cfg, partitions, r->n_tasks, (int32_t)n_window_tasks,
                             first_ts, errstr, errlen);
    free(partitions);
    return rc;
}

/* Keeps a batch result's line for write_batch. */
static void on_batch_result(void *ctx, const tm_window_result *res)
{
    replay *r = ctx;
    tm_buf_reset(&r->line);
    tm_output_batch_line(&r->line, &r->key, r->cfg, res);
    batch_line *l = tm_xmalloc(sizeof *l + res->key_len + r->line.len);
    l->start = res->start;
    l->key_len = res->key_len;
    l->line_len = r->line.len;
    memcpy(l->bytes, res->key, res->key_len);
    memcpy(l->bytes + res->key_len, r->line.data, r->line.len);
    r->batch_lines =
        tm_grow(r->batch_lines, &r->cap_batch_lines, r->n_batch_lines + 1, sizeof *r->batch_lines);
    r->batch_lines[r->n_batch_lines++] = l;
    tm_buf_reset(&r->line);
}

static int cmp_batch_line(const void *pa, const void *pb)
{
    const batch_line *a = *(batch_line *const *)pa, *b = *(batch_line *const *)pb;
    if (a->start != b->start)
        return a->start < b->start ? -1 : 1;
    size_t n = a->key_len < b->key_len ? a->key_len : b->key_len;
    int c = n ? memcmp(a->bytes, b->bytes, n) : 0;
    return c ? c : (a->key_len > b->key_len) - (a->key_len < b->key_len);
}

/* Writes the batch results ordered by window start, then group key bytes
 * (the order the specification's worked examples list them in; the batch
 * emits them by end first, which differs for sessions). */
static void write_batch(replay *r)
{
    tm_batch_finish(r->batch, on_batch_result, r);
    qsort(r->batch_lines, r->n_batch_lines, sizeof *r->batch_lines, cmp_batch_line);
    for (size_t i = 0; i < r->n_batch_lines; i++) {
        batch_line *l = r->batch_lines[i];
        tm_buf_append(&r->line, l->bytes + l->key_len, l->line_len);
        write_line(r, OUT_RESULTS);
        r->summary.results++;
    }
}

static int close_outputs(replay *r, const char *dir, char *errstr, size_t errlen)
{
    int rc = TM_OK;
    for (int i = 0; i < 3; i++) {
        if (r->out[i] && fclose(r->out[i]) != 0 && !r->write_errno)
            r->write_errno = errno;
        r->out[i] = NULL;
    }
    if (r->write_errno)
        rc = tm_seterr(errstr, errlen, TM_EIO, "writing to %s: %s", dir, strerror(r->write_errno));
    return rc;
}

/* tm_replay_run, or with batch tm_replay_batch. */
static int run(const tm_config *cfg, const char *input_path, const char *output_dir, bool batch,
               tm_replay_summary *summary, char *errstr, size_t errlen)
{
    replay r = {.cfg = cfg, .max_record_bytes = tm_config_producer_max_bytes(cfg)};
    int rc = batch ? tm_batch_open(&r.batch, cfg, errstr, errlen) : TM_OK;
    if (rc < 0)
        return rc;
    FILE *in = fopen(input_path, "r");
    if (!in) {
        rc = tm_seterr(errstr, errlen, TM_EIO, "cannot read %s: %s", input_path, strerror(errno));
        goto out;
    }
    rc = open_outputs(&r, output_dir, errstr, errlen);
    if (rc < 0)
        goto out_in;
    /* The records, read again (with repartitioning): in, or its copy.
     * Batch results are per group key (batch.h): no repartitioning. */
    FILE *records = in;
    if (!batch && tm_config_repartitions(cfg))
        rc = open_pipeline(&r, in, input_path, &records, errstr, errlen);
    if (rc == TM_OK)
        rc = replay_lines(&r, records, input_path, errstr, errlen);
    if (rc == TM_OK && batch)
        write_batch(&r);
    if (records != in)
        fclose(records);
    int crc = close_outputs(&r, output_dir, rc < 0 ? NULL : errstr, errlen);
    if (rc == TM_OK)
        rc = crc;
    r.summary.tasks = r.n_tasks;
    if (summary)
        *summary = r.summary;
out_in:
    fclose(in);
out:
    for (int i = 0; i < 3; i++)
        if (r.out[i])
            fclose(r.out[i]);
    tm_repartition_close(r.pipeline);
    for (size_t i = 0; i < r.n_tasks; i++) {
        tm_engine_close(r.tasks[i].engine);
        free(r.tasks[i].next_offset);
    }
    free(r.tasks);
    tm_batch_close(r.batch);
    for (size_t i = 0; i < r.n_batch_lines; i++)
        free(r.batch_lines[i]);
    free(r.batch_lines);
    tm_buf_free(&r.line);
    tm_buf_free(&r.key);
    tm_buf_free(&r.value);
    return rc;
}

int tm_replay_run(const tm_config *cfg, const char *input_path, const char *output_dir,
                  tm_replay_summary *summary, char *errstr, size_t errlen)
{
    return run(cfg, input_path, output_dir, false, summary, errstr, errlen);
}

int tm_replay_batch(const tm_config *cfg, const char *input_path, const char *output_dir,
                    tm_replay_summary *summary, char *errstr, size_t errlen)
{
    return run(cfg, input_path, output_dir, true, summary, errstr, errlen);
}
