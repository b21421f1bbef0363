/*
 * kafka_changelog_reader.c: the changelog reader (restore): a plain
 * consumer with read_committed, assigned changelog partitions by hand,
 * that lists their offsets (ListOffsets) and reads many of them at once.
 */
#include "kafka_handle.h"

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "alloc.h"
#include "err.h"
#include "log.h"
#include "stop_flag.h"

/* A changelog read that gets nothing (no record, no end of partition) for
 * this long fails. */
#define RESTORE_IDLE_MS 30000

/* The reader's main queue carries only client events (errors: all
 * brokers down, ...), no rebalance or commit callbacks, and the reader is
 * read only while it restores: served by the runner, an outage's errors
 * waited there and came out at the next restore or at close, with that
 * time. librdkafka's background thread serves them as they come (the
 * error callback touches only the log). Should that thread not start,
 * consumer_poll serves them, as before. */
static void serve_in_background(rd_kafka_t *rk)
{
    rd_kafka_queue_t *bg = rd_kafka_queue_get_background(rk);
    if (!bg) {
        rd_kafka_poll_set_consumer(rk);
        return;
    }
    rd_kafka_queue_t *main_q = rd_kafka_queue_get_main(rk);
    rd_kafka_queue_forward(main_q, bg);
    rd_kafka_queue_destroy(main_q);
    rd_kafka_queue_destroy(bg);
}

/* The changelog reader: a plain consumer that is assigned partitions by
 * hand, never joins the group and never commits. */
int tm_kafka_open_restore(tm_kafka *k, char *errstr, size_t errlen)
{
    rd_kafka_conf_t *conf;
    int rc = tm_kafka_base_conf(k, &conf, errstr, errlen);
    if (rc)
        return rc;
    char *group = tm_kafka_xprintf("%s-restore", k->cfg->application_id);
    char *client = tm_kafka_xprintf("%s-restore", k->client_id);
    struct {
        const char *key, *value;
    } props[] = {
        /* assign() needs a group.id, though nothing is ever committed. */
        {"group.id", group},
        {"isolation.level", "read_committed"},
        {"enable.partition.eof", "true"},
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        /* Start at the log start if `from` was deleted. */
        {"auto.offset.reset", "earliest"},
        {"allow.auto.create.topics", "false"},
        {"client.id", client},
    };
    for (size_t i = 0; i < sizeof props / sizeof props[0] && !rc; i++)
        rc = tm_kafka_conf_set(conf, props[i].key, props[i].value, errstr, errlen);
    /* Reaching the end should not wait out a long fetch. */
    if (!rc)
        rc = tm_kafka_conf_default(conf, k->cfg, "fetch.wait.max.ms", NULL, "100", errstr, errlen);
    /* A restore reads faster than it applies now and then (a store write):
     * when the prefetched queue is full, fetching pauses for this long,
     * 1 s by default, which left the reader idle most of a large restore. */
    if (!rc)
        rc = tm_kafka_conf_default(conf, k->cfg, "fetch.queue.backoff.ms", NULL, "10", errstr,
                                   errlen);
    free(group);
    free(client);
    if (rc) {
        rd_kafka_conf_destroy(conf);
        return rc;
    }
    rc = tm_kafka_new_client(&k->restore, RD_KAFKA_CONSUMER, conf, "changelog reader", errstr,
                             errlen);
    if (rc)
        return rc;
    serve_in_background(k->restore);
    return 0;
}

/* ---- restore ------------------------------------------------------------ */

static bool stopped(tm_stop_flag *stop)
{
    return stop && *stop;
}

static int ensure_restore(tm_kafka *k, char *errstr, size_t errlen)
{
    return k->restore ? 0 : tm_kafka_open_restore(k, errstr, errlen);
}

/* index[p]: the position in parts of changelog partition p, -1 for none;
 * the caller frees it. A message finds its part in constant time, however
 * many partitions one read spans. */
static ssize_t *part_index(const tm_kafka *k, const tm_changelog_part *parts, size_t n)
{
    ssize_t *index = tm_xmalloc((size_t)(k->n_changelog > 0 ? k->n_changelog : 1) * sizeof *index);
    for (int32_t p = 0; p < k->n_changelog; p++)
        index[p] = -1;
    for (size_t i = 0; i < n; i++) {
        assert(parts[i].task >= 0 && parts[i].task < k->n_changelog && index[parts[i].task] < 0);
        index[parts[i].task] = (ssize_t)i;
    }
    return index;
}

static int check_tasks(const tm_kafka *k, const tm_changelog_part *parts, size_t n, char *errstr,
                       size_t errlen)
{
    for (size_t i = 0; i < n; i++)
        if (parts[i].task < 0 || parts[i].task >= k->n_changelog)
            return tm_seterr(errstr, errlen, TM_EINVAL,
                             "kafka: task %d has no changelog partition (%s has %d)",
                             (int)parts[i].task, k->changelog_topic, (int)k->n_changelog);
    return 0;
}

/* The result of one ListOffsets event into parts (start or end, by
 * `earliest`). Returns 0, or a negative tm_err with the first error. */
static int take_offsets(tm_kafka *k, rd_kafka_event_t *ev, tm_changelog_part *parts, size_t n,
                        const ssize_t *index, bool earliest, char *errstr, size_t errlen)
{
    if (rd_kafka_event_error(ev))
        return tm_seterr(errstr, errlen, TM_EKAFKA, "kafka: changelog %s: list offsets: %s",
                         k->changelog_topic, rd_kafka_event_error_string(ev));
    size_t cnt = 0;
    const rd_kafka_ListOffsetsResultInfo_t **infos =
        rd_kafka_ListOffsets_result_infos(rd_kafka_event_ListOffsets_result(ev), &cnt);
    size_t got = 0;
    for (size_t j = 0; j < cnt; j++) {
        const rd_kafka_topic_partition_t *tp =
            rd_kafka_ListOffsetsResultInfo_topic_partition(infos[j]);
        if (tp->err)
            return tm_seterr(errstr, errlen, TM_EKAFKA, "kafka: changelog %s [%d]: %s offset: %s",
                             k->changelog_topic, (int)tp->partition, earliest ? "start" : "end",
                             rd_kafka_err2str(tp->err));
        if (tp->partition < 0 || tp->partition >= k->n_changelog || index[tp->partition] < 0)
            continue;
        tm_changelog_part *p = &parts[index[tp->partition]];
        *(earliest ? &p->start : &p->end) = tp->offset;
        got++;
    }
    if (got != n)
        return tm_seterr(errstr, errlen, TM_EKAFKA,
                         "kafka: changelog %s: list offsets answered %zu of %zu partitions",
                         k->changelog_topic, got, n);
    return 0;
}

/* One ListOffsets request (the earliest offsets, or the latest with
 * read_committed: the last stable offsets) for every part, waited for in
 * 100 ms steps so that *stop is seen. */
static int list_offsets(tm_kafka *k, tm_changelog_part *parts, size_t n, const ssize_t *index,
                        bool earliest, int64_t deadline, tm_stop_flag *stop, char *errstr,
                        size_t errlen)
{
    char msg[512];
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)n);
    for (size_t i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(list, k->changelog_topic, parts[i].task)->offset =
            earliest ? RD_KAFKA_OFFSET_SPEC_EARLIEST : RD_KAFKA_OFFSET_SPEC_LATEST;
    rd_kafka_AdminOptions_t *opts =
        rd_kafka_AdminOptions_new(k->restore, RD_KAFKA_ADMIN_OP_LISTOFFSETS);
    rd_kafka_error_t *error =
        rd_kafka_AdminOptions_set_isolation_level(opts, RD_KAFKA_ISOLATION_LEVEL_READ_COMMITTED);
    if (error) /* only for a wrong option type: a bug */
        tm_die("ListOffsets options: %s", rd_kafka_error_string(error));
    rd_kafka_AdminOptions_set_request_timeout(opts, remaining_ms(deadline), msg, sizeof msg);
    rd_kafka_queue_t *q = rd_kafka_queue_new(k->restore);
    rd_kafka_ListOffsets(k->restore, list, opts, q);
    rd_kafka_event_t *ev = NULL;
    while (!ev && !stopped(stop) && tm_monotonic_ms() < deadline)
        ev = rd_kafka_queue_poll(q, 100);
    int rc = ev ? take_offsets(k, ev, parts, n, index, earliest, errstr, errlen)
             : stopped(stop)
                 ? TM_ESTOPPED
                 : tm_seterr(errstr, errlen, TM_EKAFKA,
                             "kafka: changelog %s: list offsets: timed out", k->changelog_topic);
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_AdminOptions_destroy(opts);
    rd_kafka_topic_partition_list_destroy(list);
    return rc;
}

/* Errors are retried until the deadline: a leader moving or a broker
 * restarting answers with one for a while. */
int tm_kafka_changelog_offsets(tm_kafka *k, tm_changelog_part *parts, size_t n, tm_stop_flag *stop,
                               char *errstr, size_t errlen)
{
    assert(k && (parts || n == 0));
    int rc = check_tasks(k, parts, n, errstr, errlen);
    if (rc == 0)
        rc = ensure_restore(k, errstr, errlen);
    if (rc < 0 || n == 0)
        return rc;
    ssize_t *index = part_index(k, parts, n);
    int64_t deadline = tm_monotonic_ms() + OP_TIMEOUT_MS;
    for (;;) {
        rc = list_offsets(k, parts, n, index, true, deadline, stop, errstr, errlen);
        if (rc == 0)
            rc = list_offsets(k, parts, n, index, false, deadline, stop, errstr, errlen);
        if (rc == 0 || rc == TM_ESTOPPED || tm_monotonic_ms() + 100 >= deadline)
            break;
        TM_LOG(TM_LOG_WARN, "kafka", "%s; retrying", errstr);
        tm_sleep_ms(100);
    }
    free(index);
    return rc;
}

/* Handles one message of the changelog reader for part p (index i): a
 * record goes to fn, and the end of the partition moves next past
 * trailing markers and aborted records (never delivered). Returns 0 or
 * fn's error. */
static int restore_one(const rd_kafka_message_t *m, tm_changelog_part *p, size_t i,
                       tm_changelog_fn fn, void *ctx)
{
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        if (m->offset > p->next)
            p->next = m->offset < p->end ? m->offset : p->end;
        return 0;
    }
    if (m->offset >= p->end) {
        p->next = p->end; /* committed after we looked: not ours to read */
        return 0;
    }
    p->next = m->offset + 1;
    int r =
        fn(ctx, i, m->key, m->key ? m->key_len : 0, m->payload, m->payload ? m->len : 0, m->offset);
    return r < 0 ? r : 0;
}

/* A consumer error: local ones (a lost connection) are retried by
 * librdkafka, a broker's or a fatal one fails the read. */
static int restore_error(tm_kafka *k, const rd_kafka_message_t *m, char *errstr, size_t errlen)
{
    TM_LOG(TM_LOG_WARN, "kafka", "changelog %s [%d]: %s", k->changelog_topic, (int)m->partition,
           rd_kafka_message_errstr(m));
    if (m->err == RD_KAFKA_RESP_ERR__FATAL || m->err > 0)
        return tm_seterr(errstr, errlen, TM_EKAFKA, "kafka: changelog %s [%d]: %s",
                         k->changelog_topic, (int)m->partition, rd_kafka_message_errstr(m));
    return 0;
}

/* Assigns every part that has something to read at its from; returns how
 * many, or a negative tm_err. */
static int assign_parts(tm_kafka *k, tm_changelog_part *parts, size_t n, char *errstr,
                        size_t errlen)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)n);
    for (size_t i = 0; i < n; i++) {
        parts[i].next = parts[i].from;
        if (parts[i].from < parts[i].end)
            rd_kafka_topic_partition_list_add(list, k->changelog_topic, parts[i].task)->offset =
                parts[i].from;
    }
    int cnt = list->cnt;
    rd_kafka_resp_err_t err = cnt > 0 ? rd_kafka_assign(k->restore, list) : 0;
    rd_kafka_topic_partition_list_destroy(list);
    if (err)
        return tm_seterr(errstr, errlen, TM_EKAFKA, "kafka: changelog %s: assign: %s",
                         k->changelog_topic, rd_kafka_err2str(err));
    return cnt;
}

int tm_kafka_read_changelogs(tm_kafka *k, tm_changelog_part *parts, size_t n, tm_changelog_fn fn,
                             void *ctx, tm_stop_flag *stop, char *errstr, size_t errlen)
{
    assert(k && fn && (parts || n == 0));
    int rc = check_tasks(k, parts, n, errstr, errlen);
    if (rc == 0)
        rc = ensure_restore(k, errstr, errlen);
    int left = rc < 0 ? rc : assign_parts(k, parts, n, errstr, errlen);
    if (left <= 0)
        return left;
    ssize_t *index = part_index(k, parts, n);
    int64_t idle_deadline = tm_monotonic_ms() + RESTORE_IDLE_MS;
    while (left > 0 && rc == 0) {
        if (stopped(stop)) {
            rc = TM_ESTOPPED;
            break;
        }
        if (tm_monotonic_ms() > idle_deadline) {
            rc = tm_seterr(errstr, errlen, TM_EKAFKA,
                           "kafka: changelog %s: no progress for %d ms with %d partition(s) "
                           "left to read",
                           k->changelog_topic, RESTORE_IDLE_MS, left);
            break;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(k->restore, 100);
        if (!m)
            continue;
        ssize_t i = m->partition >= 0 && m->partition < k->n_changelog ? index[m->partition] : -1;
        if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            rc = restore_error(k, m, errstr, errlen);
        } else if (i >= 0 && parts[i].next < parts[i].end) {
            int64_t before = parts[i].next;
            rc = restore_one(m, &parts[i], (size_t)i, fn, ctx);
            if (parts[i].next != before)
                idle_deadline = tm_monotonic_ms() + RESTORE_IDLE_MS;
            left -= parts[i].next >= parts[i].end;
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_assign(k->restore, NULL);
    free(index);
    return rc;
}

/* tm_kafka_read_changelog's fn, behind tm_kafka_read_changelogs'. */
typedef struct one_reader {
    int (*fn)(void *ctx, const void *key, size_t key_len, const void *value, size_t value_len,
              int64_t offset);
    void *ctx;
} one_reader;

static int read_one(void *ctx, size_t part, const void *key, size_t key_len, const void *value,
                    size_t value_len, int64_t offset)
{
    (void)part;
    const one_reader *r = ctx;
    return r->fn(r->ctx, key, key_len, value, value_len, offset);
}

int64_t tm_kafka_read_changelog(tm_kafka *k, int32_t task, int64_t from,
                                int (*fn)(void *ctx, const void *key, size_t key_len,
                                          const void *value, size_t value_len, int64_t offset),
                                void *ctx, char *errstr, size_t errlen)
{
    assert(k && fn && from >= 0);
    tm_changelog_part part = {.task = task};
    int rc = tm_kafka_changelog_offsets(k, &part, 1, NULL, errstr, errlen);
    if (rc < 0)
        return rc;
    part.from = from < part.start ? part.start : from;
    one_reader r = {fn, ctx};
    rc = tm_kafka_read_changelogs(k, &part, 1, read_one, &r, NULL, errstr, errlen);
    return rc < 0 ? rc : part.end;
}
