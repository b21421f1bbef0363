/*
 * repartition_io.c: see repartition_io.h.
 */
#include "repartition_io.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "err.h"
#include "log.h"
#include "repartition_record.h"
#include "source_task.h"

struct tm_repartition_io {
    const tm_config *cfg;
    tm_kafka *kafka;
    int32_t n_windows; /* R */
    size_t max_bytes;  /* the largest record the topic takes, looked up once */
    tm_buf value;
    double *values;                           /* a decoded event's, n_aggs */
    char topic[TM_REPARTITION_TOPIC_MAX + 1]; /* a decoded event's, NUL-terminated */
    uint64_t *routed;                         /* per window task */
    uint64_t foreign;
};

tm_repartition_io *tm_repartition_io_new(const tm_config *cfg, tm_kafka *k)
{
    tm_repartition_io *io = tm_xcalloc(1, sizeof *io);
    io->cfg = cfg;
    io->kafka = k;
    io->n_windows = tm_kafka_repartition_partitions(k);
    io->max_bytes = tm_kafka_repartition_record_limit(k);
    io->values = tm_xcalloc(cfg->n_aggs + 1, sizeof *io->values);
    io->routed = tm_xcalloc((size_t)io->n_windows + 1, sizeof *io->routed);
    return io;
}

void tm_repartition_io_free(tm_repartition_io *io)
{
    if (!io)
        return;
    tm_buf_free(&io->value);
    free(io->values);
    free(io->routed);
    free(io);
}

static tm_repartition_bytes original(const char *data, size_t len)
{
    return (tm_repartition_bytes){.data = data, .len = data ? len : 0};
}

tm_kafka_status tm_repartition_io_forward(tm_repartition_io *io, const tm_record *rec,
                                          const tm_event *ev, int64_t t, char *errstr,
                                          size_t errlen)
{
    tm_repartition_event re = {
        .source = rec->partition,
        .t = t,
        .t_decoded = ev->t,
        .ts = rec->ts,
        .topic = rec->topic,
        .topic_len = strlen(rec->topic),
        .partition = rec->partition,
        .offset = rec->offset,
        .group_key = ev->key,
        .group_key_len = ev->key_len,
        .id = ev->id,
        .id_len = ev->id ? ev->id_len : 0,
        .values = ev->values,
        .n_values = io->cfg->n_aggs,
        .key = original(rec->key, rec->key_len),
        .value = original(rec->value, rec->value_len),
    };
    if (!tm_repartition_fit(&re, io->max_bytes)) {
        tm_seterr(errstr, errlen, TM_ECONFIG,
                  "kafka: an event of %s [%d] offset %lld needs %zu bytes in the repartition "
                  "topic %s, which takes %zu: raise its max.message.bytes (and "
                  "kafka.message.max.bytes, if set)",
                  rec->topic, (int)rec->partition, (long long)rec->offset,
                  tm_repartition_required_bytes(&re), tm_kafka_repartition_topic(io->kafka),
                  io->max_bytes);
        return TM_KAFKA_FATAL;
    }
    tm_buf_reset(&io->value);
    tm_repartition_status st = tm_repartition_encode_event(&io->value, &re);
    if (st != TM_REPARTITION_OK) {
        /* The engine hands out nothing a bound refuses: a bug, not input. */
        tm_seterr(errstr, errlen, TM_EFATAL, "repartition: event of %s [%d] offset %lld: %s",
                  rec->topic, (int)rec->partition, (long long)rec->offset,
                  tm_repartition_status_text(st));
        return TM_KAFKA_FATAL;
    }
    int32_t r = tm_route(ev->key, ev->key_len, io->n_windows);
    io->routed[r]++;
    return tm_kafka_produce_repartition(io->kafka, r, ev->key, ev->key_len, io->value.data,
                                        io->value.len, errstr, errlen);
}

tm_kafka_status tm_repartition_io_publish(tm_repartition_io *io, int32_t source,
                                          tm_watermark_source mark, char *errstr, size_t errlen)
{
    const tm_repartition_watermark w = {
        .source = source, .watermark = mark.watermark, .idle = mark.idle};
    tm_buf_reset(&io->value);
    tm_repartition_encode_watermark(&io->value, &w);
    tm_kafka_status st = TM_KAFKA_OK;
    for (int32_t r = 0; r < io->n_windows && st == TM_KAFKA_OK; r++)
        st = tm_kafka_produce_repartition(io->kafka, r, NULL, 0, io->value.data, io->value.len,
                                          errstr, errlen);
    return st;
}

/* The input record an event came from, as the window half's late output
 * needs it (an original too large to travel arrives dropped, with its
 * size: the late record then refers to it). */
static tm_record original_record(tm_repartition_io *io, const tm_repartition_event *re)
{
    memcpy(io->topic, re->topic, re->topic_len);
    io->topic[re->topic_len] = '\0';
    int ti = tm_config_topic_index(io->cfg, io->topic);
    return (tm_record){.topic = io->topic,
                       .topic_index = ti < 0 ? 0 : (size_t)ti,
                       .partition = re->partition,
                       .offset = re->offset,
                       .ts = re->ts,
                       .key = re->key.data,
                       .key_len = re->key.data ? re->key.len : 0,
                       .value = re->value.data,
                       .value_len = re->value.data ? re->value.len : 0,
                       .key_dropped_bytes = re->key.dropped ? re->key.len : 0,
                       .value_dropped_bytes = re->value.dropped ? re->value.len : 0};
}

int tm_repartition_io_receive(tm_repartition_io *io, tm_engine *e, const tm_record *rec,
                              const tm_engine_sink *sink, char *errstr, size_t errlen)
{
    if (!tm_repartition_is_ours(rec->value, rec->value_len)) {
        io->foreign++;
        TM_LOG(TM_LOG_WARN, "runner",
               "%s [%d] offset %lld: not a tidemark record (a producer other than tidemark "
               "wrote to the repartition topic): skipped",
               rec->topic, (int)rec->partition, (long long)rec->offset);
        return 1;
    }
    tm_repartition_record got;
    tm_repartition_status st = tm_repartition_decode(
        rec->key, rec->key_len, rec->value, rec->value_len, io->cfg->n_aggs, io->values, &got);
    int32_t source = got.kind == TM_REPARTITION_EVENT ? got.event.source : got.watermark.source;
    /* Live, the sources are as many as the window tasks (R). */
    if (st == TM_REPARTITION_OK && source >= io->n_windows)
        st = TM_REPARTITION_BAD_FIELD; /* from a pipeline with more input partitions */
    if (st != TM_REPARTITION_OK)
        return tm_seterr(errstr, errlen, TM_ESTORE,
                         "repartition topic %s [%d] offset %lld: %s; it was written by another "
                         "version or configuration of this application: stop every instance and "
                         "run `tidemark reset`",
                         rec->topic, (int)rec->partition, (long long)rec->offset,
                         tm_repartition_status_text(st));
    if (got.kind == TM_REPARTITION_WATERMARK) {
        tm_engine_receive_mark(
            e, source, (tm_watermark_source){got.watermark.watermark, got.watermark.idle}, sink);
        return TM_OK;
    }
    const tm_repartition_event *re = &got.event;
    const tm_event ev = {.t = re->t_decoded,
                         .key = re->group_key,
                         .key_len = re->group_key_len,
                         .id = re->id,
                         .id_len = re->id_len,
                         .values = re->values};
    const tm_record orig = original_record(io, re);
    tm_engine_receive_event(e, &orig, &ev, re->t, sink);
    return TM_OK;
}

uint64_t tm_repartition_io_routed(const tm_repartition_io *io, int32_t r)
{
    return r >= 0 && r < io->n_windows ? io->routed[r] : 0;
}

uint64_t tm_repartition_io_foreign(const tm_repartition_io *io)
{
    return io->foreign;
}
