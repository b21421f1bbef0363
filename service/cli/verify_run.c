/*
 * verify_run.c: see verify_run.h. The order of reading: the late topic
 * first (verify.h wants every late source before the first input), then
 * each input topic, then the output topic; each from the receipt time
 * where events of the range can start (tm_verify_read_from) to its end.
 * Divergent windows are written as they are found (a JSON report lists
 * them first and its figures after), so the report needs no memory of
 * its own.
 */
#include "verify_run.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "kafka.h"
#include "output.h"
#include "verify.h"

/* Progress on stderr every this many records. */
#define PROGRESS_EVERY 1000000

/* The reading (tm_verify_read). */
typedef struct reading {
    const tm_verify_options *opt;
    tm_verify *v;
    const char *topic;
    size_t topic_index;
    uint64_t read;
} reading;

static void progress_line(reading *r, const char *what)
{
    if (r->opt->progress)
        fprintf(r->opt->progress, "tidemark %s: %s: %" PRIu64 " records read\n", r->opt->command,
                what, r->read);
}

static void count_read(reading *r)
{
    if (++r->read % PROGRESS_EVERY == 0)
        progress_line(r, r->topic);
}

static int on_late(void *ctx, const tm_kafka_read_record *rec)
{
    reading *r = ctx;
    count_read(r);
    /* A late record without its source cannot be matched to an input
     * record: it explains nothing. */
    if (rec->source)
        tm_verify_late(r->v, rec->source, rec->source_len);
    return 0;
}

static int on_input(void *ctx, const tm_kafka_read_record *rec)
{
    reading *r = ctx;
    count_read(r);
    tm_record in = {
        .topic = r->topic,
        .topic_index = r->topic_index,
        .partition = rec->partition,
        .offset = rec->offset,
        .ts = rec->ts,
        .key = rec->key,
        .key_len = rec->key_len,
        .value = rec->value,
        .value_len = rec->value_len,
    };
    return tm_verify_input(r->v, &in);
}

static int on_output(void *ctx, const tm_kafka_read_record *rec)
{
    reading *r = ctx;
    count_read(r);
    return tm_verify_output(r->v, rec->partition, rec->key, rec->key_len, rec->value,
                            rec->value_len);
}

/* Reads topic from from_ts through fn. */
static int read_topic(reading *r, tm_kafka *k, const char *topic, size_t topic_index,
                      int64_t from_ts, tm_kafka_read_fn fn, bool *truncated, char *errstr,
                      size_t errlen)
{
    r->topic = topic;
    r->topic_index = topic_index;
    int rc = tm_kafka_read_topic(k, topic, from_ts, fn, r, truncated, errstr, errlen);
    progress_line(r, topic);
    return rc;
}

/* The spill buckets: opt's, else as many as the input records the range
 * reads need for memory to stay one bucket's (tm_verify_buckets_for),
 * counted before reading by the offsets the reads span. */
static int choose_buckets(tm_kafka *k, const tm_config *cfg, const tm_verify_options *opt,
                          int64_t read_from, size_t *buckets, char *errstr, size_t errlen)
{
    *buckets = opt->buckets;
    if (opt->buckets)
        return 0;
    int64_t records = 0;
    for (size_t i = 0; i < cfg->n_input_topics; i++) {
        int64_t n = 0;
        int rc = tm_kafka_span_from(k, cfg->input_topics[i], read_from, &n, errstr, errlen);
        if (rc < 0)
            return rc;
        records += n;
    }
    *buckets = tm_verify_buckets_for_process(records);
    if (opt->progress)
        fprintf(opt->progress,
                "tidemark %s: at most %" PRId64 " input records to read: %zu spill buckets\n",
                opt->command, records, *buckets);
    return 0;
}

int tm_verify_read(tm_verify **out, tm_kafka *k, const tm_config *cfg, const tm_verify_options *opt,
                   bool *truncated, char *errstr, size_t errlen)
{
    reading r = {.opt = opt};
    int64_t read_from = tm_verify_read_from(cfg, opt->from);
    size_t buckets = 0;
    int rc = choose_buckets(k, cfg, opt, read_from, &buckets, errstr, errlen);
    if (rc == 0)
        rc = tm_verify_open(&r.v, cfg, opt->from, opt->to, opt->tmp_dir, buckets, errstr, errlen);
    *truncated = false;
    /* With late.action drop there is no late output (the topic need not
     * exist): nothing explains a too-late record's window. */
    if (rc == 0 && cfg->late_action == TM_LATE_EMIT)
        rc = read_topic(&r, k, cfg->late_topic, 0, read_from, on_late, NULL, errstr, errlen);
    for (size_t i = 0; rc == 0 && i < cfg->n_input_topics; i++)
        rc = read_topic(&r, k, cfg->input_topics[i], i, read_from, on_input, truncated, errstr,
                        errlen);
    if (rc == 0)
        rc = read_topic(&r, k, cfg->output_topic, 0, read_from, on_output, NULL, errstr, errlen);
    if (rc < 0) {
        tm_verify_close(r.v);
        return rc;
    }
    *out = r.v;
    return 0;
}

/* The report (tm_verify_run). */
typedef struct run {
    const tm_config *cfg;
    const tm_verify_options *opt;
    size_t divergent;
    tm_buf line;
} run;

static void put_side(tm_buf *b, const tm_config *cfg, bool has, int64_t count, const double *aggs)
{
    if (!has) {
        tm_buf_puts(b, "null");
        return;
    }
    tm_buf_puts(b, "{\"count\":");
    tm_buf_put_i64(b, count);
    tm_buf_puts(b, ",\"aggregates\":{");
    for (size_t i = 0; i < cfg->n_aggs; i++)
        tm_output_aggregate_member(b, cfg, i, aggs[i]);
    tm_buf_puts(b, "}}");
}

static void put_side_text(tm_buf *b, const tm_config *cfg, bool has, int64_t count,
                          const double *aggs)
{
    if (!has) {
        tm_buf_puts(b, "none");
        return;
    }
    tm_buf_puts(b, "count ");
    tm_buf_put_i64(b, count);
    for (size_t i = 0; i < cfg->n_aggs; i++) {
        tm_buf_printf(b, " %s=", cfg->aggs[i].name);
        tm_buf_put_double(b, aggs[i]);
    }
}

static void on_window(void *ctx, const tm_verify_window *w)
{
    run *r = ctx;
    if (w->verdict == TM_VERIFY_EQUAL)
        return;
    /* For people, the verdict padded to one width. */
    static const char *const label[] = {
        [TM_VERIFY_EXPLAINED] = "explained  ",
        [TM_VERIFY_UNEXPLAINED] = "UNEXPLAINED",
        [TM_VERIFY_UNJUDGED] = "unjudged   ",
    };
    tm_buf *b = &r->line;
    tm_buf_reset(b);
    if (r->opt->json) {
        tm_buf_puts(b, r->divergent ? ",\n" : "\n");
        tm_buf_puts(b, "{\"key\":");
        tm_buf_put_json_string(b, w->key, w->key_len);
        tm_buf_printf(b,
                      ",\"window_start\":%" PRId64 ",\"window_end\":%" PRId64
                      ",\"verdict\":\"%s\",\"expected\":",
                      w->start, w->end, tm_verify_verdict_name(w->verdict));
        put_side(b, r->cfg, w->has_expected, w->expected_count, w->expected);
        tm_buf_puts(b, ",\"actual\":");
        put_side(b, r->cfg, w->has_actual, w->actual_count, w->actual);
        tm_buf_puts(b, ",\"late\":[");
        for (size_t i = 0; i < w->n_late; i++) {
            if (i)
                tm_buf_putc(b, ',');
            tm_buf_put_json_string(b, w->late[i], strlen(w->late[i]));
        }
        tm_buf_puts(b, "]}");
    } else {
        tm_buf_printf(b, "%s ", label[w->verdict]);
        tm_buf_append(b, w->key, w->key_len);
        tm_buf_printf(b, " [%" PRId64 ", %" PRId64 "): expected ", w->start, w->end);
        put_side_text(b, r->cfg, w->has_expected, w->expected_count, w->expected);
        tm_buf_puts(b, "; actual ");
        put_side_text(b, r->cfg, w->has_actual, w->actual_count, w->actual);
        if (w->n_late)
            tm_buf_puts(b, "; late:");
        for (size_t i = 0; i < w->n_late; i++)
            tm_buf_printf(b, " %s", w->late[i]);
        tm_buf_putc(b, '\n');
    }
    fwrite(b->data, 1, b->len, r->opt->out);
    r->divergent++;
}

void tm_verify_progress(void *ctx, size_t done, size_t n)
{
    const tm_verify_options *opt = ctx;
    if (opt->progress)
        fprintf(opt->progress, "tidemark %s: compared %zu/%zu buckets\n", opt->command, done, n);
}

int tm_verify_run(const tm_config *cfg, const tm_verify_options *opt, bool *ok, char *errstr,
                  size_t errlen)
{
    run r = {.cfg = cfg, .opt = opt};
    tm_kafka *k = NULL;
    tm_verify *v = NULL;
    bool truncated = false;
    int rc = tm_kafka_open_admin(&k, cfg, errstr, errlen);
    if (rc == 0)
        rc = tm_verify_read(&v, k, cfg, opt, &truncated, errstr, errlen);
    tm_verify_summary s = {0};
    if (rc == 0) {
        if (opt->json)
            fputs("{\"divergent\":[", opt->out);
        rc =
            tm_verify_finish(v, on_window, &r, tm_verify_progress, (void *)opt, &s, errstr, errlen);
    }
    if (rc == 0 && opt->json)
        fprintf(opt->out,
                "%s],\"from\":%" PRId64 ",\"to\":%" PRId64 ",\"windows\":%" PRIu64
                ",\"equal\":%" PRIu64 ",\"explained\":%" PRIu64 ",\"unexplained\":%" PRIu64
                ",\"unjudged\":%" PRIu64 ",\"input_records\":%" PRIu64 ",\"late_records\":%" PRIu64
                ",\"output_records\":%" PRIu64 ",\"dead_letters\":%" PRIu64
                ",\"input_complete\":%s}\n",
                r.divergent ? "\n" : "", opt->from, opt->to, s.windows, s.equal, s.explained,
                s.unexplained, s.unjudged, s.input_records, s.late_records, s.output_records,
                s.dead_letters, truncated ? "false" : "true");
    else if (rc == 0)
        fprintf(opt->out,
                "%" PRIu64 " windows in [%" PRId64 ", %" PRId64 "): %" PRIu64 " equal, %" PRIu64
                " explained by late records, %" PRIu64 " unexplained (%" PRIu64 " input, %" PRIu64
                " late, %" PRIu64 " output records read)\n%s%s",
                s.windows, opt->from, opt->to, s.equal, s.explained, s.unexplained, s.input_records,
                s.late_records, s.output_records,
                s.unjudged ? "some sessions were not judged: a batch session of their key crosses "
                             "a bound of the range (widen it to judge them)\n"
                           : "",
                truncated ? "the input topics no longer hold the whole range (retention): "
                            "windows near its start may be judged on missing records\n"
                          : "");
    if (rc == 0 && fflush(opt->out) != 0)
        rc = tm_seterr(errstr, errlen, TM_EIO, "cannot write the report");
    *ok = rc == 0 && s.unexplained == 0 && !truncated;
    if (rc == 0 && opt->summary)
        *opt->summary = s;
    if (rc == 0 && opt->input_complete)
        *opt->input_complete = !truncated;
    tm_verify_close(v);
    tm_kafka_close(k);
    tm_buf_free(&r.line);
    return rc;
}
