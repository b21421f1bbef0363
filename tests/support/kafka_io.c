/*
 * kafka_io.c: see kafka_io.h.
 */
#include "kafka_io.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "buf.h"
#include "envelope.h"
#include "proc.h"
#include "records.h"

/* Bounds for a loaded two-core machine (every wait is bounded). */
enum {
    REQUEST_TIMEOUT_MS = 10000, /* metadata, one request */
    PROBE_TIMEOUT_MS = 5000,    /* one probe query */
    FLUSH_TIMEOUT_MS = 180000,  /* acknowledging every produced record */
    DUMP_TIMEOUT_MS = 120000    /* reading a topic to its end */
};

static char *xstrdup(const char *s)
{
    char *d = s ? strdup(s) : NULL;
    cr_assert(!s || d, "out of memory");
    return d;
}

/* Sets a librdkafka property; returns false with the message in err. */
static bool conf_set(rd_kafka_conf_t *conf, const char *name, const char *value, char *err,
                     size_t errlen)
{
    return rd_kafka_conf_set(conf, name, value, err, errlen) == RD_KAFKA_CONF_OK;
}

/* A client of the given type with the properties (name, value pairs,
 * NULL-terminated); NULL with the message in err. */
static rd_kafka_t *new_client(rd_kafka_type_t type, const char *bootstrap, const char *const *props,
                              rd_kafka_conf_t *conf, char *err, size_t errlen)
{
    if (!conf)
        conf = rd_kafka_conf_new();
    if (!conf_set(conf, "bootstrap.servers", bootstrap, err, errlen) ||
        !conf_set(conf, "log_level", "2", err, errlen) ||
        !conf_set(conf, "log.connection.close", "false", err, errlen)) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    for (size_t i = 0; props && props[i]; i += 2) {
        if (!conf_set(conf, props[i], props[i + 1], err, errlen)) {
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    }
    return rd_kafka_new(type, conf, err, errlen); /* frees conf on success */
}

/* A consumer of committed records from partitions assigned by hand (the
 * group id only for assign(); nothing is committed), with reset as its
 * auto.offset.reset. */
static rd_kafka_t *committed_reader(const char *bootstrap, const char *group, const char *reset,
                                    char *err, size_t errlen)
{
    const char *const props[] = {"group.id",
                                 group,
                                 "isolation.level",
                                 "read_committed",
                                 "enable.partition.eof",
                                 "true",
                                 "enable.auto.commit",
                                 "false",
                                 "auto.offset.reset",
                                 reset,
                                 "fetch.wait.max.ms",
                                 "50",
                                 NULL};
    return new_client(RD_KAFKA_CONSUMER, bootstrap, props, NULL, err, errlen);
}

/* ---- load ---- */

struct tm_feeder {
    char *bootstrap, *path, *topic;
    size_t first, count;
    double rate;
    pthread_t thread;
    bool threaded;
    atomic_size_t sent;
    atomic_size_t failed; /* failed deliveries */
    atomic_bool finished;
    atomic_bool stop;
    char error[512]; /* written by the worker before `finished` */
    char dr_error[256];
};

/* A delivery fails when the broker refused it, or when it landed at
 * another offset than its line planned: replay reads the file with the
 * planned offsets, and every source header and committed offset of the
 * live output would then differ from replay's (a broker that writes a
 * retried batch twice moves every later offset). A line without an
 * offset plans none, and neither does a delivery whose offset the broker
 * did not say. */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    tm_feeder *f = opaque;
    (void)rk;
    int64_t planned = (int64_t)(intptr_t)m->_private - 1; /* -1: none */
    bool moved = !m->err && planned >= 0 && m->offset >= 0 && m->offset != planned;
    if (!m->err && !moved)
        return;
    if (atomic_fetch_add(&f->failed, 1) != 0)
        return;
    if (moved)
        snprintf(f->dr_error, sizeof f->dr_error,
                 "%s [%d]: a line planned at offset %lld was written at %lld (the topic no "
                 "longer matches the file)",
                 rd_kafka_topic_name(m->rkt), (int)m->partition, (long long)planned,
                 (long long)m->offset);
    else
        snprintf(f->dr_error, sizeof f->dr_error, "%s [%d]: %s", rd_kafka_topic_name(m->rkt),
                 (int)m->partition, rd_kafka_err2str(m->err));
}

/* Produces one envelope line (read as replay reads it: the key and value
 * bytes exactly, NULs and base64 included); returns false with f->error
 * set. */
static bool produce_line(tm_feeder *f, rd_kafka_t *rk, const char *line, size_t len, size_t lineno)
{
    tm_envelope env = {0};
    char why[256];
    if (tm_envelope_parse(&env, line, len, why, sizeof why) != 0) {
        snprintf(f->error, sizeof f->error, "%s:%zu: %s", f->path, lineno, why);
        tm_envelope_clear(&env);
        return false;
    }
    const char *t = env.topic ? env.topic : f->topic;
    if (!t) {
        snprintf(f->error, sizeof f->error, "%s:%zu: no topic, and no default topic", f->path,
                 lineno);
        tm_envelope_clear(&env);
        return false;
    }
    for (;;) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(t), RD_KAFKA_V_PARTITION(env.partition),
            RD_KAFKA_V_KEY(env.key, env.key_len),
            RD_KAFKA_V_VALUE((void *)env.payload, env.payload_len), RD_KAFKA_V_TIMESTAMP(env.ts),
            RD_KAFKA_V_OPAQUE((void *)(intptr_t)(env.has_offset ? env.offset + 1 : 0)),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL && !atomic_load(&f->stop)) {
            rd_kafka_poll(rk, 10);
            continue;
        }
        if (err)
            snprintf(f->error, sizeof f->error, "%s:%zu: produce: %s", f->path, lineno,
                     rd_kafka_err2str(err));
        tm_envelope_clear(&env);
        return err == RD_KAFKA_RESP_ERR_NO_ERROR;
    }
}

/* The feeder's work: produce, pace, flush. Sets f->error on failure. */
static void feed(tm_feeder *f)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, f);
    /* message.max.bytes: a test may feed records larger than librdkafka's
     * default (the broker, with its own limits, decides). */
    static const char *const props[] = {
        "enable.idempotence", "true",     "linger.ms", "5", "message.timeout.ms", "180000",
        "message.max.bytes",  "16000000", NULL};
    rd_kafka_t *rk = new_client(RD_KAFKA_PRODUCER, f->bootstrap, props, conf, err, sizeof err);
    if (!rk) {
        snprintf(f->error, sizeof f->error, "producer: %s", err);
        return;
    }
    FILE *in = fopen(f->path, "r");
    if (!in) {
        snprintf(f->error, sizeof f->error, "cannot open %s: %s", f->path, strerror(errno));
        rd_kafka_destroy(rk);
        return;
    }
    char *line = NULL;
    size_t cap = 0, lineno = 0, index = 0, sent = 0;
    ssize_t n;
    int64_t t0 = tm_test_now_ms();
    bool ok = true;
    while (ok && !atomic_load(&f->stop) && (n = getline(&line, &cap, in)) > 0) {
        lineno++;
        if (n == 1 && line[0] == '\n')
            continue;
        size_t i = index++;
        if (i < f->first)
            continue;
        if (i - f->first >= f->count)
            break;
        if (f->rate > 0) {
            int64_t due = t0 + (int64_t)((double)sent * 1000.0 / f->rate);
            for (int64_t now = tm_test_now_ms(); now < due && !atomic_load(&f->stop);
                 now = tm_test_now_ms())
                rd_kafka_poll(rk, due - now > 10 ? 10 : (int)(due - now));
        }
        ok = produce_line(f, rk, line, (size_t)n, lineno);
        if (ok)
            atomic_store(&f->sent, ++sent);
        rd_kafka_poll(rk, 0);
    }
    free(line);
    fclose(in);
    int64_t deadline = tm_test_now_ms() + FLUSH_TIMEOUT_MS;
    while (rd_kafka_outq_len(rk) > 0 && !atomic_load(&f->stop) && tm_test_now_ms() < deadline)
        rd_kafka_flush(rk, 100);
    if (ok && !atomic_load(&f->stop) && rd_kafka_outq_len(rk) > 0)
        snprintf(f->error, sizeof f->error, "%d records not acknowledged within %d ms",
                 rd_kafka_outq_len(rk), FLUSH_TIMEOUT_MS);
    else if (ok && atomic_load(&f->failed) > 0)
        snprintf(f->error, sizeof f->error, "%zu deliveries failed, the first: %s",
                 atomic_load(&f->failed), f->dr_error);
    if (atomic_load(&f->stop))
        rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_destroy(rk);
}

static void *feeder_main(void *arg)
{
    tm_feeder *f = arg;
    feed(f);
    atomic_store(&f->finished, true);
    return NULL;
}

static tm_feeder *feeder_new(const char *bootstrap, const char *path, const char *default_topic,
                             size_t first, size_t count, double rate_per_s)
{
    tm_feeder *f = calloc(1, sizeof *f);
    cr_assert(f, "out of memory");
    f->bootstrap = xstrdup(bootstrap);
    f->path = xstrdup(path);
    f->topic = xstrdup(default_topic);
    f->first = first;
    f->count = count;
    f->rate = rate_per_s;
    atomic_init(&f->sent, 0);
    atomic_init(&f->failed, 0);
    atomic_init(&f->finished, false);
    atomic_init(&f->stop, false);
    return f;
}

static void feeder_free(tm_feeder *f)
{
    free(f->bootstrap);
    free(f->path);
    free(f->topic);
    free(f);
}

size_t tm_kafka_io_load(const char *bootstrap, const char *path, const char *default_topic)
{
    tm_feeder *f = feeder_new(bootstrap, path, default_topic, 0, SIZE_MAX, 0);
    feed(f);
    char error[sizeof f->error];
    snprintf(error, sizeof error, "%s", f->error);
    size_t sent = atomic_load(&f->sent);
    feeder_free(f);
    cr_assert(error[0] == '\0', "load %s: %s", path, error);
    return sent;
}

tm_feeder *tm_feeder_start(const char *bootstrap, const char *path, const char *default_topic,
                           size_t first, size_t count, double rate_per_s)
{
    tm_feeder *f = feeder_new(bootstrap, path, default_topic, first, count, rate_per_s);
    int rc = pthread_create(&f->thread, NULL, feeder_main, f);
    if (rc != 0) {
        feeder_free(f);
        cr_assert_fail("feeder: pthread_create: %s", strerror(rc));
    }
    f->threaded = true;
    return f;
}

size_t tm_feeder_sent(const tm_feeder *f)
{
    return atomic_load(&((tm_feeder *)f)->sent);
}

bool tm_feeder_finished(const tm_feeder *f)
{
    return atomic_load(&((tm_feeder *)f)->finished);
}

size_t tm_feeder_join(tm_feeder *f, int64_t timeout_ms)
{
    int64_t deadline = tm_test_now_ms() + timeout_ms;
    while (!atomic_load(&f->finished) && tm_test_now_ms() < deadline)
        tm_test_sleep_ms(100);
    bool finished = atomic_load(&f->finished);
    if (!finished)
        atomic_store(&f->stop, true);
    pthread_join(f->thread, NULL);
    char error[sizeof f->error];
    snprintf(error, sizeof error, "%s", f->error);
    size_t sent = atomic_load(&f->sent);
    feeder_free(f);
    cr_assert(finished, "feeder: not done within %lld ms (%zu lines sent)", (long long)timeout_ms,
              sent);
    cr_assert(error[0] == '\0', "feeder: %s", error);
    return sent;
}

void tm_feeder_stop(tm_feeder *f)
{
    if (!f)
        return;
    atomic_store(&f->stop, true);
    if (f->threaded)
        pthread_join(f->thread, NULL);
    feeder_free(f);
}

/* ---- dump ---- */

/* Partition count of topic, through rk's metadata; -1 on error. */
static int partition_count(rd_kafka_t *rk, const char *topic, char *err, size_t errlen)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, REQUEST_TIMEOUT_MS);
    int n = -1;
    if (e) {
        snprintf(err, errlen, "metadata: %s", rd_kafka_err2str(e));
    } else if (md->topic_cnt != 1) {
        snprintf(err, errlen, "metadata: %d topics", md->topic_cnt);
    } else if (md->topics[0].err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
        n = 0;
    } else if (md->topics[0].err) {
        snprintf(err, errlen, "metadata: %s", rd_kafka_err2str(md->topics[0].err));
    } else {
        n = md->topics[0].partition_cnt;
    }
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return n;
}

/* Writes m as replay writes a record (envelope.h: the key and value bytes
 * exactly, base64 when not UTF-8), so that golden_compare.h compares them. */
static void write_record(FILE *out, const rd_kafka_message_t *m)
{
    tm_header headers[16];
    size_t n_headers = 0;
    rd_kafka_headers_t *hdrs = NULL;
    if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char *name;
        const void *value;
        size_t size;
        for (size_t i = 0; !rd_kafka_header_get_all(hdrs, i, &name, &value, &size); i++) {
            cr_assert(n_headers < sizeof headers / sizeof *headers, "more than %zu headers",
                      sizeof headers / sizeof *headers);
            /* Header values are text (tidemark's headers); NUL-terminated. */
            char *copy = calloc(1, size + 1);
            cr_assert(copy, "out of memory");
            if (size)
                memcpy(copy, value, size);
            headers[n_headers++] = (tm_header){name, copy};
        }
    }
    tm_buf line = {0};
    tm_envelope_write(&line, rd_kafka_topic_name(m->rkt), m->partition, m->key, m->key_len,
                      m->payload, m->len, headers, n_headers);
    cr_assert(fwrite(line.data, 1, line.len, out) == line.len, "write: %s", strerror(errno));
    tm_buf_free(&line);
    for (size_t i = 0; i < n_headers; i++)
        free((char *)headers[i].value);
}

size_t tm_kafka_io_dump(const char *bootstrap, const char *topic, const char *path)
{
    char err[512];

    rd_kafka_t *rk = committed_reader(bootstrap, "tidemark-test-dump", "earliest", err, sizeof err);
    cr_assert(rk, "dump %s: consumer: %s", topic, err);
    int parts = partition_count(rk, topic, err, sizeof err);
    if (parts < 0) {
        rd_kafka_destroy(rk);
        cr_assert_fail("dump %s: %s", topic, err);
    }
    rd_kafka_topic_partition_list_t *list =
        rd_kafka_topic_partition_list_new(parts > 0 ? parts : 1);
    for (int p = 0; p < parts; p++)
        rd_kafka_topic_partition_list_add(list, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_resp_err_t e = rd_kafka_assign(rk, list);
    rd_kafka_topic_partition_list_destroy(list);
    cr_assert(e == RD_KAFKA_RESP_ERR_NO_ERROR, "dump %s: assign: %s", topic, rd_kafka_err2str(e));

    FILE *out = fopen(path, "w");
    cr_assert(out, "dump: cannot write %s: %s", path, strerror(errno));
    bool *eof = calloc((size_t)parts + 1, sizeof *eof);
    cr_assert(eof, "out of memory");
    int n_eof = 0;
    size_t count = 0;
    int64_t deadline = tm_test_now_ms() + DUMP_TIMEOUT_MS;
    char failure[512] = "";
    while (n_eof < parts && !failure[0]) {
        if (tm_test_now_ms() > deadline) {
            snprintf(failure, sizeof failure, "not at the end of every partition within %d ms",
                     DUMP_TIMEOUT_MS);
            break;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (m->partition >= 0 && m->partition < parts && !eof[m->partition]) {
                eof[m->partition] = true;
                n_eof++;
            }
        } else if (m->err) {
            /* Transient errors (a broker reconnecting) are retried by
             * librdkafka; only a fatal one ends the dump. */
            if (rd_kafka_fatal_error(rk, NULL, 0))
                snprintf(failure, sizeof failure, "%s", rd_kafka_message_errstr(m));
        } else {
            write_record(out, m);
            count++;
        }
        rd_kafka_message_destroy(m);
    }
    free(eof);
    int closed = fclose(out);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    cr_assert(!failure[0], "dump %s: %s", topic, failure);
    cr_assert(closed == 0, "dump: cannot write %s", path);
    return count;
}

/* ---- probe ---- */

struct tm_kafka_probe {
    rd_kafka_t *uncommitted; /* group.id = the group: committed offsets, HWM */
    rd_kafka_t *committed;   /* read_committed: LSO */
    char *bootstrap;         /* for the short-lived reader of has_records */
};

tm_kafka_probe *tm_kafka_probe_new(const char *bootstrap, const char *group)
{
    char err[512];
    tm_kafka_probe *p = calloc(1, sizeof *p);
    cr_assert(p, "out of memory");
    p->bootstrap = strdup(bootstrap);
    cr_assert(p->bootstrap, "out of memory");
    /* read_uncommitted: rd_kafka_committed() then does not ask for stable
     * offsets, so a pending transactional commit does not stall it. */
    const char *const uprops[] = {
        "group.id", group, "isolation.level", "read_uncommitted", "enable.auto.commit",
        "false",    NULL};
    p->uncommitted = new_client(RD_KAFKA_CONSUMER, bootstrap, uprops, NULL, err, sizeof err);
    cr_assert(p->uncommitted, "probe: %s", err);
    static const char *const cprops[] = {"group.id",
                                         "tidemark-test-probe",
                                         "isolation.level",
                                         "read_committed",
                                         "enable.auto.commit",
                                         "false",
                                         NULL};
    p->committed = new_client(RD_KAFKA_CONSUMER, bootstrap, cprops, NULL, err, sizeof err);
    cr_assert(p->committed, "probe: %s", err);
    return p;
}

void tm_kafka_probe_create_topic(tm_kafka_probe *p, const char *topic, int partitions,
                                 const char *config, const char *value)
{
    char err[512];
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, partitions, -1, err, sizeof err);
    cr_assert(nt, "create %s: %s", topic, err);
    if (config)
        rd_kafka_NewTopic_set_config(nt, config, value);
    rd_kafka_queue_t *q = rd_kafka_queue_new(p->uncommitted);
    rd_kafka_CreateTopics(p->uncommitted, &nt, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
    cr_assert(ev, "create %s: no answer within 30 s", topic);
    cr_assert(!rd_kafka_event_error(ev), "create %s: %s", topic, rd_kafka_event_error_string(ev));
    size_t n = 0;
    const rd_kafka_topic_result_t **res =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
    cr_assert(n == 1 && !rd_kafka_topic_result_error(res[0]), "create %s: %s", topic,
              n == 1 ? rd_kafka_topic_result_error_string(res[0]) : "no result");
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
}

void tm_kafka_probe_delete_records(tm_kafka_probe *p, const char *topic, int32_t partition,
                                   int64_t below)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, topic, partition)->offset = below;
    rd_kafka_DeleteRecords_t *del = rd_kafka_DeleteRecords_new(list);
    rd_kafka_queue_t *q = rd_kafka_queue_new(p->uncommitted);
    rd_kafka_DeleteRecords(p->uncommitted, &del, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
    cr_assert(ev, "delete records of %s: no answer within 30 s", topic);
    cr_assert(!rd_kafka_event_error(ev), "delete records of %s: %s", topic,
              rd_kafka_event_error_string(ev));
    const rd_kafka_topic_partition_list_t *got =
        rd_kafka_DeleteRecords_result_offsets(rd_kafka_event_DeleteRecords_result(ev));
    cr_assert(got && got->cnt == 1 && !got->elems[0].err, "delete records of %s [%d]: %s", topic,
              (int)partition, got && got->cnt ? rd_kafka_err2str(got->elems[0].err) : "no result");
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_DeleteRecords_destroy(del);
    rd_kafka_topic_partition_list_destroy(list);
}

void tm_kafka_probe_free(tm_kafka_probe *p)
{
    if (!p)
        return;
    /* Never subscribed: nothing to leave or commit. */
    if (p->uncommitted)
        rd_kafka_destroy_flags(p->uncommitted, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    if (p->committed)
        rd_kafka_destroy_flags(p->committed, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    free(p->bootstrap);
    free(p);
}

int tm_kafka_probe_partitions(tm_kafka_probe *p, const char *topic)
{
    char err[512];
    return partition_count(p->uncommitted, topic, err, sizeof err);
}

int tm_kafka_probe_committed(tm_kafka_probe *p, const char *topic, int n, int64_t *out)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(n > 0 ? n : 1);
    for (int i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(list, topic, i);
    rd_kafka_resp_err_t e = rd_kafka_committed(p->uncommitted, list, PROBE_TIMEOUT_MS);
    int rc = e ? -1 : 0;
    for (int i = 0; i < list->cnt && rc == 0; i++) {
        const rd_kafka_topic_partition_t *tp = &list->elems[i];
        if (tp->err)
            rc = -1;
        else
            out[tp->partition] = tp->offset >= 0 ? tp->offset : -1;
    }
    rd_kafka_topic_partition_list_destroy(list);
    return rc;
}

int tm_kafka_probe_end_offsets(tm_kafka_probe *p, const char *topic, int n, int64_t *hwm,
                               int64_t *lso)
{
    for (int i = 0; i < n; i++) {
        int64_t lo, hi;
        if (hwm) {
            if (rd_kafka_query_watermark_offsets(p->uncommitted, topic, i, &lo, &hi,
                                                 PROBE_TIMEOUT_MS))
                return -1;
            hwm[i] = hi;
        }
        if (lso) {
            if (rd_kafka_query_watermark_offsets(p->committed, topic, i, &lo, &hi,
                                                 PROBE_TIMEOUT_MS))
                return -1;
            lso[i] = hi;
        }
    }
    return 0;
}

int tm_kafka_probe_has_records(tm_kafka_probe *p, const char *topic, int32_t partition,
                               int64_t from, int64_t to)
{
    if (from >= to)
        return 0;
    char err[512];
    /* auto.offset.reset error: from below the log start offset (purged)
     * is no answer, rather than a read from elsewhere. */
    rd_kafka_t *rk =
        committed_reader(p->bootstrap, "tidemark-test-probe-read", "error", err, sizeof err);
    cr_assert(rk, "probe reader: %s", err);
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, topic, partition)->offset = from;
    rd_kafka_resp_err_t e = rd_kafka_assign(rk, list);
    rd_kafka_topic_partition_list_destroy(list);
    cr_assert(e == RD_KAFKA_RESP_ERR_NO_ERROR, "probe reader: assign: %s", rd_kafka_err2str(e));
    int found = -1;
    int64_t deadline = tm_test_now_ms() + PROBE_TIMEOUT_MS;
    while (found < 0 && tm_test_now_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m)
            continue;
        /* Other errors (a reset refused, a broker reconnecting): no
         * answer, unless one comes before the deadline. */
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
            found = 0;
        else if (!m->err)
            found = m->offset < to;
        rd_kafka_message_destroy(m);
    }
    rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    return found;
}
