/*
 * runner.c: see runner.h.
 *
 * Invariants:
 * - At most one transaction is open; everything produced between two
 *   commits (results, late and dead records, changelog, checkpoint, input
 *   offsets) commits or aborts together.
 * - A task's store only ever holds committed state: it is written after
 *   the commit that made its changes visible.
 * - Every polled record belongs to a task this instance owns:
 *   tm_kafka_poll_batch applies a rebalance between batches, and records
 *   fetched after an assignment start at the restored checkpoint.
 */
#include "runner.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "changelog.h"
#include "clock.h"
#include "engine.h"
#include "err.h"
#include "kafka.h"
#include "log.h"
#include "num.h"
#include "output.h"
#include "repartition_io.h"
#include "repartition_record.h"
#include "restore.h"
#include "side_record.h"
#include "stop_flag.h"
#include "store.h"
#include "telemetry.h"

enum { BATCH_MAX = 4096, POLL_MAX_MS = 100 };

typedef struct task {
    int32_t partition;
    tm_engine *engine;
    tm_changelog *changelog;
    tm_store *store;
    /* Per consumed topic (tm_kafka_consumed_topics: the input topics, then
     * the repartition topic of a paired task): */
    int64_t *next_offsets;       /* the next offset to consume, -1 none */
    int64_t *first_offsets;      /* the first consumed since restore, -1 */
    uint64_t *consumed;          /* records consumed since restore */
    const tm_kv_change *pending; /* the open checkpoint's changes (the changelog's) */
    size_t n_pending;
} task;

/* A main-output record of the open transaction, kept for the observer. */
typedef struct observed {
    int32_t partition;
    size_t key_off, key_len, value_off, value_len;
    bool tombstone;
} observed;

struct tm_runner {
    const tm_config *cfg;
    tm_runner_options opt;
    tm_kafka *kafka;
    tm_telemetry *telemetry;
    task *tasks; /* ascending partition */
    size_t n_tasks;
    size_t n_topics;           /* tm_kafka_consumed_topics */
    tm_repartition_io *repart; /* paired tasks' (engine.h); NULL: single-stage */
    tm_stop_flag *stop;        /* tm_runner_run's; restores check it */
    bool stopped_in_restore;   /* a restore ended on *stop */
    bool in_txn;
    bool dirty;              /* something to checkpoint since the last commit */
    const char *waiting_for; /* what the loop waits on the broker for, NULL: nothing */
    int64_t last_commit_ms;
    /* The first failure inside a callback (produce), acted on after it. */
    tm_kafka_status status;
    char status_msg[512];
    /* A restore refused the configuration (tm_changelog_restore_record's
     * TM_ECONFIG), or an assignment found an output topic missing or too
     * small: the process exits with it (status 2), not as a fatal
     * Kafka error, since a restart would be refused again. */
    bool refused;
    char refused_msg[1024];
    tm_buf key, value;
    tm_record *batch;
    tm_buf observed_bytes;
    observed *observed;
    size_t n_observed, cap_observed;
};

/* ---- tasks ---- */

static task *find_task(tm_runner *r, int32_t partition)
{
    size_t lo = 0, hi = r->n_tasks;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (r->tasks[mid].partition < partition)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < r->n_tasks && r->tasks[lo].partition == partition ? &r->tasks[lo] : NULL;
}

/* The view of t that telemetry reads; consumer_lag is left NULL. */
static tm_task_view view_of(const task *t)
{
    return (tm_task_view){.partition = t->partition,
                          .engine = t->engine,
                          .consumed = t->consumed,
                          .state_bytes = t->store ? tm_store_bytes(t->store) : 0};
}

static void task_close(tm_runner *r, task *t)
{
    if (t->engine) {
        tm_task_view v = view_of(t);
        tm_telemetry_retire(r->telemetry, &v);
    }
    tm_engine_close(t->engine);
    tm_changelog_free(t->changelog);
    tm_store_close(t->store);
    free(t->next_offsets);
    free(t->first_offsets);
    free(t->consumed);
    memset(t, 0, sizeof *t);
}

static int cmp_task(const void *a, const void *b)
{
    int32_t x = ((const task *)a)->partition, y = ((const task *)b)->partition;
    return (x > y) - (x < y);
}

/* A task from a restore, taking what it holds: its inputs start at the
 * checkpoint's offsets. */
static void task_init(const tm_runner *r, task *t, const tm_restored_task *rt)
{
    size_t n_topics = r->n_topics;
    *t = (task){.partition = rt->partition,
                .engine = rt->engine,
                .changelog = rt->changelog,
                .store = rt->store,
                .next_offsets = rt->next_offsets,
                .first_offsets = tm_xmalloc((n_topics + 1) * sizeof(int64_t)),
                .consumed = tm_xcalloc(n_topics + 1, sizeof(uint64_t))};
    for (size_t i = 0; i < n_topics; i++)
        t->first_offsets[i] = -1;
}

/* Restores the tasks `partitions` (none of them owned) all at once
 * (restore.h) and adds them to r->tasks, which stays in ascending
 * partition order. Returns 0, TM_ESTOPPED (SIGTERM during the restore:
 * no task added), or a negative tm_err with a message. */
static int restore_tasks(tm_runner *r, const int32_t *partitions, size_t n, char *errstr,
                         size_t errlen)
{
    tm_restored_task *got = tm_xcalloc(n + 1, sizeof *got);
    const tm_restore_options o = {
        .telemetry = r->telemetry, .stop = r->stop, .open_stores = r->n_tasks};
    int rc = tm_restore_tasks(r->cfg, r->kafka, partitions, n, &o, got, errstr, errlen);
    if (rc == TM_OK) {
        r->tasks = tm_xrealloc(r->tasks, (r->n_tasks + n + 1) * sizeof *r->tasks);
        for (size_t j = 0; j < n; j++)
            task_init(r, &r->tasks[r->n_tasks++], &got[j]);
        qsort(r->tasks, r->n_tasks, sizeof *r->tasks, cmp_task);
    }
    free(got);
    return rc;
}

/* ---- producing ---- */

/* Keeps the first failure; the loop acts on it after the callback. */
static void note_status(tm_runner *r, tm_kafka_status st, const char *msg)
{
    if (st == TM_KAFKA_OK || r->status == TM_KAFKA_FATAL)
        return;
    if (r->status == TM_KAFKA_OK || st == TM_KAFKA_FATAL) {
        r->status = st;
        snprintf(r->status_msg, sizeof r->status_msg, "%s", msg);
    }
}

static void observe(tm_runner *r, int32_t partition, const tm_window_result *res)
{
    if (!r->opt.observer)
        return;
    r->observed = tm_grow(r->observed, &r->cap_observed, r->n_observed + 1, sizeof *r->observed);
    observed *o = &r->observed[r->n_observed++];
    o->partition = partition;
    o->key_off = r->observed_bytes.len;
    o->key_len = r->key.len;
    tm_buf_append(&r->observed_bytes, r->key.data, r->key.len);
    o->value_off = r->observed_bytes.len;
    o->value_len = res->tombstone ? 0 : r->value.len;
    o->tombstone = res->tombstone;
    if (!res->tombstone)
        tm_buf_append(&r->observed_bytes, r->value.data, r->value.len);
}

static void on_result(void *ctx, int32_t partition, const tm_window_result *res)
{
    tm_runner *r = ctx;
    char err[256];
    tm_buf_reset(&r->key);
    tm_buf_reset(&r->value);
    tm_output_key(&r->key, res);
    if (!res->tombstone)
        tm_output_value(&r->value, r->cfg, res);
    tm_kafka_status st = tm_kafka_produce(r->kafka, r->cfg->output_topic, partition, r->key.data,
                                          r->key.len, res->tombstone ? NULL : r->value.data,
                                          r->value.len, NULL, 0, err, sizeof err);
    note_status(r, st, err);
    observe(r, partition, res);
    r->dirty = true;
}

/* Produces a late or dead-letter record into the open transaction. */
static void produce_side_record(tm_runner *r, const char *topic, int32_t partition,
                                const tm_side_record *s)
{
    char err[256];
    note_status(r,
                tm_kafka_produce(r->kafka, topic, partition, s->key, s->key_len, s->value,
                                 s->value_len, s->headers, s->n_headers, err, sizeof err),
                err);
}

static void on_late(void *ctx, int32_t partition, const tm_record *rec, int64_t watermark)
{
    tm_runner *r = ctx;
    tm_side_record s;
    tm_side_record_late(&s, rec, watermark, tm_kafka_record_limit(r->kafka, r->cfg->late_topic));
    produce_side_record(r, r->cfg->late_topic, partition, &s);
}

static void on_dead_letter(void *ctx, const tm_record *rec, tm_dlq_reason reason,
                           const char *detail)
{
    tm_runner *r = ctx;
    tm_side_record s;
    tm_side_record_dead_letter(&s, rec, reason, detail,
                               tm_kafka_record_limit(r->kafka, r->cfg->dlq_topic));
    produce_side_record(r, r->cfg->dlq_topic, rec->partition, &s);
}

/* ---- transactions ---- */

/* From now the loop waits on the broker for `what` (NULL: no longer):
 * alive, not ready (telemetry.h). */
static void waiting(tm_runner *r, const char *what)
{
    r->waiting_for = what;
    tm_telemetry_waiting(r->telemetry, what, tm_wall_clock_ms());
}

/* tm_kafka_wait's: a wait inside a Kafka call (a full produce queue),
 * maybe inside one of the runner's own (a checkpoint's): when it ends, the
 * runner's goes on. */
static void on_kafka_wait(void *ctx, const char *what)
{
    tm_runner *r = ctx;
    tm_telemetry_waiting(r->telemetry, what ? what : r->waiting_for, tm_wall_clock_ms());
}

static int fatal(const char *what, const char *msg, char *errstr, size_t errlen)
{
    return tm_seterr(errstr, errlen, TM_EFATAL, "%s: %s", what, msg);
}

/* Begins a transaction unless one is open; retriable errors are retried
 * (a broker outage), for as long as it takes. */
static int ensure_txn(tm_runner *r, char *errstr, size_t errlen)
{
    char err[512];
    while (!r->in_txn) {
        tm_kafka_status st = tm_kafka_begin(r->kafka, err, sizeof err);
        if (st == TM_KAFKA_OK) {
            r->in_txn = true;
            break;
        }
        if (st != TM_KAFKA_RETRIABLE) {
            waiting(r, NULL);
            return fatal("begin_transaction", err, errstr, errlen);
        }
        TM_LOG(TM_LOG_WARN, "runner", "begin_transaction: %s; retrying", err);
        waiting(r, "begin_transaction");
        tm_sleep_ms(200);
    }
    waiting(r, NULL);
    return TM_OK;
}

static void notify_observer(tm_runner *r)
{
    for (size_t i = 0; i < r->n_observed; i++) {
        const observed *o = &r->observed[i];
        r->opt.observer(r->opt.observer_ctx, o->partition, r->observed_bytes.data + o->key_off,
                        o->key_len, o->tombstone ? NULL : r->observed_bytes.data + o->value_off,
                        o->value_len);
    }
    r->n_observed = 0;
    tm_buf_reset(&r->observed_bytes);
}

/* Moves t's next offsets past the transaction markers that follow the
 * last records it processed (tm_kafka_position: every record handed out
 * has been processed when a checkpoint is taken). Without it the group's
 * committed offset of a transactionally written partition (the
 * repartition topic, an input written by transactions) would stay one
 * short of its end forever, and lag monitors outside tidemark would show
 * it. */
static void past_markers(tm_runner *r, task *t)
{
    for (size_t i = 0; i < r->n_topics; i++) {
        if (t->next_offsets[i] < 0)
            continue;
        int64_t at = tm_kafka_position(r->kafka, i, t->partition);
        if (at > t->next_offsets[i])
            t->next_offsets[i] = at;
    }
}

/* Produces every task's checkpoint (changelog records) and the input
 * offsets into the open transaction. */
static tm_kafka_status produce_checkpoint(tm_runner *r, char *err, size_t errlen)
{
    size_t n_topics = r->n_topics;
    int32_t *parts = tm_xcalloc(r->n_tasks + 1, sizeof *parts);
    int64_t *offsets = tm_xcalloc(r->n_tasks * n_topics + 1, sizeof *offsets);
    tm_kafka_status st = TM_KAFKA_OK;
    for (size_t i = 0; i < r->n_tasks && st == TM_KAFKA_OK; i++) {
        task *t = &r->tasks[i];
        /* SEMANTICS 11: a source task publishes its watermark and idle
         * flag at each checkpoint in which they changed, in the same
         * transaction (and before the checkpoint record that says it did). */
        if (tm_engine_mark_due(t->engine))
            st = tm_repartition_io_publish(r->repart, t->partition, tm_engine_take_mark(t->engine),
                                           err, errlen);
        past_markers(r, t);
        tm_changelog_collect(t->changelog, t->engine, t->next_offsets, &t->pending, &t->n_pending);
        for (size_t j = 0; j < t->n_pending && st == TM_KAFKA_OK; j++) {
            const tm_kv_change *c = &t->pending[j];
            st = tm_kafka_produce_changelog(r->kafka, t->partition, c->key, c->key_len, c->value,
                                            c->value_len, err, errlen);
        }
        parts[i] = t->partition;
        memcpy(&offsets[i * n_topics], t->next_offsets, n_topics * sizeof *offsets);
    }
    if (st == TM_KAFKA_OK)
        st = tm_kafka_send_offsets(r->kafka, parts, r->n_tasks, offsets, err, errlen);
    free(parts);
    free(offsets);
    return st;
}

/* After a commit: the repartition records the window tasks have now
 * consumed for good are deleted (kafka.h: the purge). */
static void purge_consumed(tm_runner *r)
{
    if (!r->repart)
        return;
    int32_t *parts = tm_xcalloc(r->n_tasks + 1, sizeof *parts);
    int64_t *below = tm_xcalloc(r->n_tasks + 1, sizeof *below);
    size_t n = 0;
    for (size_t i = 0; i < r->n_tasks; i++) {
        int64_t next = r->tasks[i].next_offsets[r->cfg->n_input_topics];
        if (next >= 0) {
            parts[n] = r->tasks[i].partition;
            below[n++] = next;
        }
    }
    tm_kafka_purge_repartition(r->kafka, parts, below, n);
    free(parts);
    free(below);
}

/* After a commit: the stores apply what the changelog now holds. */
static int apply_to_stores(tm_runner *r, char *errstr, size_t errlen)
{
    for (size_t i = 0; i < r->n_tasks; i++) {
        task *t = &r->tasks[i];
        int64_t end = tm_kafka_changelog_end(r->kafka, t->partition);
        int rc = tm_store_apply(t->store, t->pending, t->n_pending, end, errstr, errlen);
        if (rc < 0)
            return rc;
        t->n_pending = 0;
    }
    return TM_OK;
}

static int abort_and_rewind(tm_runner *r, const char *why, char *errstr, size_t errlen);

/* One checkpoint: DESIGN steps 1-3. */
static int checkpoint(tm_runner *r, char *errstr, size_t errlen)
{
    char err[512];
    int64_t t0 = tm_wall_clock_ms();
    /* Producing waits for room in the queue, send_offsets and the commit
     * for the coordinator: all of it waits on the broker during an outage. */
    waiting(r, "commit");
    tm_kafka_status st = produce_checkpoint(r, err, sizeof err);
    if (st == TM_KAFKA_OK)
        st = tm_kafka_commit(r->kafka, err, sizeof err);
    waiting(r, NULL);
    if (st == TM_KAFKA_FATAL)
        return fatal("checkpoint", err, errstr, errlen);
    if (st != TM_KAFKA_OK)
        return abort_and_rewind(r, err, errstr, errlen);
    r->in_txn = false;
    r->dirty = false;
    r->last_commit_ms = tm_wall_clock_ms();
    tm_telemetry_committed(r->telemetry, r->last_commit_ms - t0, r->last_commit_ms);
    purge_consumed(r);
    int rc = apply_to_stores(r, errstr, errlen);
    if (rc < 0)
        return rc;
    if (r->opt.observer)
        notify_observer(r);
    TM_LOG(TM_LOG_DEBUG, "runner", "checkpoint committed in %lld ms",
           (long long)(r->last_commit_ms - t0));
    return TM_OK;
}

/* Rebuilds every task from its last checkpoint, in one restore, and puts
 * its inputs back there. */
static int rewind_tasks(tm_runner *r, char *errstr, size_t errlen)
{
    size_t n = r->n_tasks, n_topics = r->n_topics;
    /* The rebuilt engines start resumed: so do their inputs (alignment
     * pauses again at the next turn what is still ahead). */
    int rc = tm_kafka_resume_all(r->kafka, errstr, errlen);
    if (rc < 0)
        return rc;
    int32_t *partitions = tm_xmalloc((n + 1) * sizeof *partitions);
    int64_t *first = tm_xmalloc((n * n_topics + 1) * sizeof *first);
    for (size_t j = 0; j < n; j++) {
        partitions[j] = r->tasks[j].partition;
        memcpy(&first[j * n_topics], r->tasks[j].first_offsets, n_topics * sizeof *first);
        task_close(r, &r->tasks[j]);
    }
    r->n_tasks = 0;
    /* The tasks come back in the same (ascending) order: task j is
     * partitions[j]. */
    rc = restore_tasks(r, partitions, n, errstr, errlen);
    for (size_t j = 0; rc == TM_OK && j < n; j++) {
        task *t = &r->tasks[j];
        for (size_t i = 0; rc == TM_OK && i < n_topics; i++) {
            /* Without a checkpoint, back to the first offset consumed since
             * the task started; nothing consumed: nothing to rewind. */
            int64_t f = first[j * n_topics + i];
            int64_t to = t->next_offsets[i] >= 0 ? t->next_offsets[i] : f;
            waiting(r, "seek");
            if (to >= 0)
                rc = tm_kafka_seek(r->kafka, i, t->partition, to, errstr, errlen);
            waiting(r, NULL);
            t->first_offsets[i] = f;
        }
    }
    free(partitions);
    free(first);
    return rc;
}

static int abort_and_rewind(tm_runner *r, const char *why, char *errstr, size_t errlen)
{
    char err[512];
    TM_LOG(TM_LOG_WARN, "runner", "aborting the transaction: %s", why);
    waiting(r, "abort");
    tm_kafka_status st = tm_kafka_abort(r->kafka, err, sizeof err);
    waiting(r, NULL);
    if (st != TM_KAFKA_OK)
        return fatal("abort_transaction", err, errstr, errlen);
    tm_telemetry_aborted(r->telemetry);
    r->in_txn = false;
    r->dirty = false;
    r->status = TM_KAFKA_OK;
    r->n_observed = 0;
    tm_buf_reset(&r->observed_bytes);
    tm_telemetry_restoring(r->telemetry, true);
    int rc = rewind_tasks(r, errstr, errlen);
    if (rc < 0)
        return rc;
    tm_telemetry_restoring(r->telemetry, false);
    return TM_OK;
}

/* ---- rebalance ---- */

/* Refuses (TM_ECONFIG) an output topic too small for the tasks up to
 * `last` (partitions added to the inputs since the start), or missing.
 * When the cluster does not answer, the first record produced there finds
 * out: a warning, not a reason to give the tasks up. */
static int check_outputs(tm_runner *r, int32_t last, char *errstr, size_t errlen)
{
    waiting(r, "output topics");
    int rc = tm_kafka_check_output_topics(r->kafka, last + 1, errstr, errlen);
    waiting(r, NULL);
    if (rc == TM_EKAFKA) {
        TM_LOG(TM_LOG_WARN, "runner", "output topics not checked: %s", errstr);
        rc = TM_OK;
    }
    return rc;
}

static int on_assigned(void *ctx, const int32_t *parts, size_t n, int64_t *start_offsets)
{
    tm_runner *r = ctx;
    char err[512];
    size_t n_topics = r->n_topics;
    tm_telemetry_restoring(r->telemetry, true);
    /* tasks ascending: the last needs the most partitions */
    if (n > 0 && check_outputs(r, parts[n - 1], err, sizeof err) < 0) {
        r->refused = true;
        snprintf(r->refused_msg, sizeof r->refused_msg, "%s", err);
        TM_LOG(TM_LOG_ERROR, "runner", "%s", err);
        note_status(r, TM_KAFKA_FATAL, err);
        return TM_EFATAL;
    }
    int32_t *fresh = tm_xmalloc((n + 1) * sizeof *fresh);
    size_t n_fresh = 0;
    for (size_t j = 0; j < n; j++)
        if (!find_task(r, parts[j]))
            fresh[n_fresh++] = parts[j];
    int rc = restore_tasks(r, fresh, n_fresh, err, sizeof err);
    free(fresh);
    if (rc == TM_ESTOPPED) {
        r->stopped_in_restore = true;
        return rc;
    }
    if (rc == TM_ECONFIG && !r->refused) {
        r->refused = true;
        snprintf(r->refused_msg, sizeof r->refused_msg, "%s", err);
    }
    if (rc < 0) {
        TM_LOG(TM_LOG_ERROR, "runner", "restore failed: %s", err);
        note_status(r, TM_KAFKA_FATAL, err);
        return TM_EFATAL;
    }
    tm_telemetry_restoring(r->telemetry, false);
    for (size_t j = 0; j < n; j++) {
        const task *t = find_task(r, parts[j]);
        for (size_t i = 0; i < n_topics; i++)
            if (t->next_offsets[i] >= 0)
                start_offsets[j * n_topics + i] = t->next_offsets[i];
    }
    TM_LOG(TM_LOG_INFO, "runner", "assigned %zu tasks", n);
    return TM_OK;
}

static void on_revoked(void *ctx, const int32_t *parts, size_t n)
{
    tm_runner *r = ctx;
    char err[512];
    if (r->in_txn && r->status == TM_KAFKA_OK) {
        /* A lost assignment's offsets would be refused after the changelog
         * records were written: abort at once (the tasks go back to their
         * last checkpoint, and the new owner starts from there). */
        int rc = tm_kafka_assignment_lost(r->kafka)
                     ? abort_and_rewind(r, "the assignment was lost", err, sizeof err)
                     : checkpoint(r, err, sizeof err);
        /* Stopped while an abort rebuilt the tasks: they are closed. */
        if (rc == TM_ESTOPPED)
            r->stopped_in_restore = true;
        else if (rc < 0)
            note_status(r, TM_KAFKA_FATAL, err);
    }
    for (size_t j = 0; j < n; j++) {
        task *t = find_task(r, parts[j]);
        if (!t)
            continue;
        task_close(r, t);
        size_t at = (size_t)(t - r->tasks);
        memmove(&r->tasks[at], &r->tasks[at + 1], (r->n_tasks - at - 1) * sizeof *r->tasks);
        r->n_tasks--;
    }
    TM_LOG(TM_LOG_INFO, "runner", "revoked %zu tasks", n);
}

/* ---- the loop ---- */

/* A record of a paired task (engine.h): an input record goes through the
 * source half to the repartition topic, a repartition record to the window
 * half. */
static void process_paired(tm_runner *r, task *t, const tm_record *rec, int64_t now,
                           const tm_engine_sink *sink)
{
    char err[512];
    if (rec->topic_index == r->cfg->n_input_topics) {
        int rc = tm_repartition_io_receive(r->repart, t->engine, rec, sink, err, sizeof err);
        if (rc < 0)
            note_status(r, TM_KAFKA_FATAL, err);
        return;
    }
    tm_event ev;
    int64_t time;
    if (tm_engine_forward(t->engine, rec, now, sink, &ev, &time))
        note_status(r, tm_repartition_io_forward(r->repart, rec, &ev, time, err, sizeof err), err);
}

static void process_batch(tm_runner *r, ssize_t n, int64_t now)
{
    const tm_engine_sink sink = {r, on_result, on_late, on_dead_letter};
    for (ssize_t i = 0; i < n; i++) {
        const tm_record *rec = &r->batch[i];
        task *t = find_task(r, rec->partition);
        /* Skipping the record would lose it; a restart restores from the
         * checkpoint instead. */
        if (!t)
            tm_die("a record of partition %d, which this instance does not own",
                   (int)rec->partition);
        if (r->repart)
            process_paired(r, t, rec, now, &sink);
        else
            tm_engine_process(t->engine, rec, now, &sink);
        t->next_offsets[rec->topic_index] = rec->offset + 1;
        t->consumed[rec->topic_index]++;
        if (t->first_offsets[rec->topic_index] < 0)
            t->first_offsets[rec->topic_index] = rec->offset;
    }
    if (n > 0)
        r->dirty = true;
}

/* Idleness moves with the wall clock: recompute every watermark. */
static void tick(tm_runner *r, int64_t now)
{
    const tm_engine_sink sink = {r, on_result, on_late, on_dead_letter};
    for (size_t i = 0; i < r->n_tasks; i++) {
        int64_t before = tm_engine_watermark(r->tasks[i].engine);
        tm_engine_tick(r->tasks[i].engine, now, &sink);
        /* A paired task's source half has a new mark to publish. */
        if (tm_engine_watermark(r->tasks[i].engine) != before ||
            tm_engine_mark_due(r->tasks[i].engine))
            r->dirty = true;
    }
}

/* Watermark alignment (SEMANTICS 11): pauses every input partition whose
 * watermark is more than watermark.alignment.max_drift_ms ahead of the
 * smallest task watermark of the owned tasks, and resumes the others; the
 * engines learn it too, so that paused time is not idle time. The input
 * that sets the smallest W is not ahead of it, so it is read on, and
 * partitions with no watermark yet are never paused. Returns 0 or a
 * negative tm_err (fatal). */
static int align(tm_runner *r, int64_t now, char *errstr, size_t errlen)
{
    int64_t drift = r->cfg->alignment_max_drift_ms;
    if (drift <= 0 || r->n_tasks == 0)
        return TM_OK;
    int64_t slowest = INT64_MAX;
    for (size_t k = 0; k < r->n_tasks; k++) {
        int64_t w = tm_engine_watermark(r->tasks[k].engine);
        if (w < slowest)
            slowest = w;
    }
    int64_t limit = tm_sat_add(slowest, drift);
    for (size_t k = 0; k < r->n_tasks; k++) {
        task *t = &r->tasks[k];
        const tm_watermark *wm = tm_engine_clock(t->engine);
        for (size_t i = 0; i < r->cfg->n_input_topics; i++) {
            bool ahead = tm_watermark_partition(wm, i) > limit;
            char err[512];
            int rc = tm_kafka_set_paused(r->kafka, i, t->partition, ahead, err, sizeof err);
            if (rc < 0)
                return fatal("alignment", err, errstr, errlen);
            if (rc > 0 && ahead)
                tm_telemetry_paused(r->telemetry);
            tm_engine_set_paused(t->engine, i, ahead, now);
        }
    }
    return TM_OK;
}

int tm_runner_open(tm_runner **out, const tm_config *cfg, const tm_runner_options *opt,
                   char *errstr, size_t errlen)
{
    tm_runner *r = tm_xcalloc(1, sizeof *r);
    r->cfg = cfg;
    r->opt = *opt;
    r->batch = tm_xcalloc(BATCH_MAX, sizeof *r->batch);
    /* Thousands of tasks need thousands of descriptors (store.h). */
    tm_store_raise_fd_limit();
    /* First, so that the probes answer while the cluster is joined. */
    int rc = tm_telemetry_open(&r->telemetry, cfg, errstr, errlen);
    const tm_kafka_rebalance rb = {r, on_assigned, on_revoked};
    bool repartitions = tm_config_repartitions(cfg);
    const tm_kafka_needs needs = {
        .output_bytes = tm_output_max_bytes(cfg),
        .side_bytes = TM_SIDE_RECORD_MIN_LIMIT,
        .changelog_bytes = tm_changelog_max_fixed_bytes(cfg),
        /* Paired tasks (engine.h): window task p with source task p. */
        .repartition_partitions = repartitions ? TM_KAFKA_INPUT_PARTITIONS : 0,
        .repartition_overhead_bytes = repartitions ? tm_repartition_max_overhead_bytes(cfg) : 0};
    if (rc == TM_OK)
        rc = tm_kafka_open(&r->kafka, cfg, opt->instance_id, &rb, &needs, errstr, errlen);
    if (rc == TM_OK) {
        tm_kafka_set_wait(r->kafka, &(tm_kafka_wait){on_kafka_wait, r});
        r->n_topics = tm_kafka_consumed_topics(r->kafka);
        if (repartitions)
            r->repart = tm_repartition_io_new(cfg, r->kafka);
        rc = tm_kafka_subscribe(r->kafka, errstr, errlen);
    }
    if (rc < 0) {
        tm_runner_close(r);
        return rc;
    }
    *out = r;
    return TM_OK;
}

/* Publishes the metrics of every owned task. */
static void publish(tm_runner *r, int64_t now)
{
    size_t n_topics = r->n_topics;
    tm_task_view *views = tm_xcalloc(r->n_tasks + 1, sizeof *views);
    int64_t *lags = tm_xcalloc(r->n_tasks * n_topics + 1, sizeof *lags);
    tm_kafka_lag_refresh(r->kafka);
    for (size_t k = 0; k < r->n_tasks; k++) {
        views[k] = view_of(&r->tasks[k]);
        for (size_t i = 0; i < n_topics; i++)
            lags[k * n_topics + i] = tm_kafka_consumer_lag(r->kafka, i, r->tasks[k].partition);
        views[k].consumer_lag = &lags[k * n_topics];
    }
    /* Input topics only, the ones tm_kafka_timestamp_types knows: the
     * repartition topic's timestamps are tidemark's own. */
    for (size_t i = 0; i < r->cfg->n_input_topics; i++)
        tm_telemetry_timestamp_types(r->telemetry, i, tm_kafka_timestamp_types(r->kafka, i));
    /* The paired tasks' traffic through the repartition topic. */
    if (r->repart) {
        size_t n_windows = (size_t)tm_kafka_repartition_partitions(r->kafka);
        uint64_t *routed = tm_xcalloc(n_windows + 1, sizeof *routed);
        for (size_t w = 0; w < n_windows; w++)
            routed[w] = tm_repartition_io_routed(r->repart, (int32_t)w);
        tm_telemetry_repartition(r->telemetry, routed, n_windows,
                                 tm_repartition_io_foreign(r->repart));
        free(routed);
    }
    tm_telemetry_publish(r->telemetry, views, r->n_tasks, now);
    free(views);
    free(lags);
}

/* One turn: poll, process, tick, and checkpoint when it is time. */
static int turn(tm_runner *r, char *errstr, size_t errlen)
{
    char err[512];
    int rc = ensure_txn(r, errstr, errlen);
    if (rc < 0)
        return rc;
    int64_t due = r->last_commit_ms + r->cfg->commit_interval_ms;
    int64_t wait = due - tm_wall_clock_ms();
    int timeout = wait < 0 ? 0 : wait > POLL_MAX_MS ? POLL_MAX_MS : (int)wait;
    tm_kafka_status st = TM_KAFKA_OK;
    ssize_t n = tm_kafka_poll_batch(r->kafka, r->batch, BATCH_MAX, timeout, &st, err, sizeof err);
    if (n < 0 && st == TM_KAFKA_FATAL && r->refused)
        return tm_seterr(errstr, errlen, TM_ECONFIG, "%s", r->refused_msg);
    if (n < 0 && st == TM_KAFKA_FATAL)
        return fatal("consumer", err, errstr, errlen);
    int64_t now = tm_wall_clock_ms();
    tm_telemetry_polled(r->telemetry, now, r->n_tasks);
    if (n > 0 && r->status == TM_KAFKA_OK)
        process_batch(r, n, now);
    tm_kafka_release_batch(r->kafka);
    if (r->status == TM_KAFKA_OK) {
        tick(r, now);
        rc = align(r, now, errstr, errlen);
        if (rc < 0)
            return rc;
    }
    if (tm_telemetry_due(r->telemetry, now))
        publish(r, now);
    if (r->status == TM_KAFKA_FATAL) /* the message names its module */
        return tm_seterr(errstr, errlen, TM_EFATAL, "%s", r->status_msg);
    if (r->status == TM_KAFKA_ABORTABLE)
        return abort_and_rewind(r, r->status_msg, errstr, errlen);
    if (now < due)
        return TM_OK;
    if (r->dirty)
        return checkpoint(r, errstr, errlen);
    r->last_commit_ms = now; /* nothing happened: no checkpoint needed */
    return TM_OK;
}

int tm_runner_run(tm_runner *r, tm_stop_flag *stop, char *errstr, size_t errlen)
{
    r->stop = stop;
    r->last_commit_ms = tm_wall_clock_ms();
    int rc = TM_OK;
    while (rc == TM_OK && !*stop)
        rc = turn(r, errstr, errlen);
    tm_telemetry_stopping(r->telemetry);
    if (rc == TM_OK && r->in_txn && r->dirty)
        rc = checkpoint(r, errstr, errlen);
    /* A stopped restore kept in the stores what it had read and left no
     * task half-built; nothing was consumed since the last commit. */
    if (rc == TM_ESTOPPED || (rc == TM_OK && r->stopped_in_restore)) {
        TM_LOG(TM_LOG_INFO, "runner", "stopped during restore");
        return TM_OK;
    }
    if (rc == TM_OK)
        TM_LOG(TM_LOG_INFO, "runner", "stopped cleanly");
    return rc;
}

void tm_runner_close(tm_runner *r)
{
    if (!r)
        return;
    /* No callbacks run here: tm_runner_run has committed the last checkpoint. */
    tm_kafka_close(r->kafka);
    for (size_t i = 0; i < r->n_tasks; i++)
        task_close(r, &r->tasks[i]);
    tm_telemetry_close(r->telemetry);
    tm_repartition_io_free(r->repart);
    free(r->tasks);
    free(r->batch);
    free(r->observed);
    tm_buf_free(&r->observed_bytes);
    tm_buf_free(&r->key);
    tm_buf_free(&r->value);
    free(r);
}
