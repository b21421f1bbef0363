/*
 * restore.c: see restore.h.
 *
 * Invariants:
 * - A job's tail chunk holds, in order, the records of its changelog
 *   partition read after the store's applied offset and below the read's
 *   next offset for it (parts[i].next: after the last record read, or past
 *   trailing markers). So applying the chunk with that next offset leaves
 *   the store exactly the changelog's state as of it, at any moment of the
 *   read, including a stop.
 * - A job (its store, codec and engine) is used by one thread at a time:
 *   the reading thread during the read, one worker in a parallel step; the
 *   workers are joined before the next step.
 * - On any outcome but success every job is released: the caller gets
 *   restored tasks or nothing.
 */
#include "restore.h"

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "clock.h"
#include "err.h"
#include "log.h"

/* A tail chunk is applied to its store once it holds this much: big enough
 * to spread a write transaction's cost, small enough to bound memory. */
#define CHUNK_BYTES ((size_t)4 << 20)
/* And every chunk once all of them hold this much (thousands of tasks, each
 * with a small chunk). */
#define ALL_CHUNKS_BYTES ((size_t)64 << 20)
/* A long restore tells the health endpoint that the process is alive this
 * often (records), and logs how far the read is at most this often (ms). */
enum { ALIVE_EVERY_RECORDS = 4096, PROGRESS_EVERY_MS = 1000 };

typedef struct chunk {
    tm_buf bytes;
    tm_kv_change *changes; /* key and value: offsets into bytes until applied */
    bool *tombstone;
    size_t n, cap;
} chunk;

typedef struct job {
    tm_restored_task t; /* what the caller gets */
    int64_t applied;    /* the store's applied offset */
    int64_t from;       /* where the read of its changelog started */
    chunk tail;
    int64_t done_ms; /* when its rebuild ended, since the restore started */
    int rc;
    char err[512];
} job;

typedef struct restore {
    const tm_config *cfg;
    const tm_restore_options *o;
    job *jobs;
    size_t n;
    tm_changelog_part *parts;
    size_t buffered; /* bytes in every chunk */
    tm_restore_stats stats;
    int64_t t0;
    size_t record_limit;   /* the changelog's, for the codecs; 0: unknown */
    size_t n_sources;      /* paired tasks' (engine.h) source count; 0: single-stage */
    char err[512];         /* a failure inside the read's callback */
    int64_t last_progress; /* when the read's progress was last logged */
    /* The parallel steps. */
    void (*step)(struct restore *rs, job *j);
    atomic_size_t next_job;
} restore;

static bool stop_requested(const restore *rs)
{
    return rs->o->stop && *rs->o->stop;
}

/* Counts a record; every ALIVE_EVERY_RECORDS, the process is alive. The
 * counter is the caller's (one per thread). */
static void progress(const restore *rs, uint64_t *n)
{
    if (++*n % ALIVE_EVERY_RECORDS == 0 && rs->o->telemetry)
        tm_telemetry_alive(rs->o->telemetry, tm_wall_clock_ms());
}

/* The restore waits on the broker for what (NULL: no longer). */
static void waiting(const restore *rs, const char *what)
{
    if (rs->o->telemetry)
        tm_telemetry_waiting(rs->o->telemetry, what, tm_wall_clock_ms());
}

/* ---- worker threads ---- */

static void *worker(void *arg)
{
    restore *rs = arg;
    for (size_t i = atomic_fetch_add(&rs->next_job, 1); i < rs->n;
         i = atomic_fetch_add(&rs->next_job, 1))
        rs->step(rs, &rs->jobs[i]);
    return NULL;
}

static size_t thread_count(const restore *rs)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t want = rs->o->threads ? rs->o->threads : cpus > 0 ? (size_t)cpus : 1;
    return want < rs->n ? want : rs->n;
}

/* Runs step on every job, on this thread and up to thread_count() - 1
 * more (fewer if they cannot be created: the work gets done all the
 * same). Returns the first job's error, TM_ESTOPPED before any other. */
static int run_parallel(restore *rs, void (*step)(restore *rs, job *j), char *errstr, size_t errlen)
{
    rs->step = step;
    atomic_store(&rs->next_job, 0);
    size_t n_threads = thread_count(rs), started = 0;
    pthread_t *threads = tm_xcalloc(n_threads, sizeof *threads);
    while (started + 1 < n_threads && pthread_create(&threads[started], NULL, worker, rs) == 0)
        started++;
    worker(rs);
    for (size_t t = 0; t < started; t++)
        pthread_join(threads[t], NULL);
    free(threads);
    const job *failed = NULL;
    for (size_t i = 0; i < rs->n; i++) {
        const job *j = &rs->jobs[i];
        if (j->rc == TM_ESTOPPED)
            return TM_ESTOPPED;
        if (j->rc < 0 && !failed)
            failed = j;
    }
    return failed ? tm_seterr(errstr, errlen, failed->rc, "task %d: %s", (int)failed->t.partition,
                              failed->err)
                  : TM_OK;
}

/* ---- tail chunks ---- */

static void chunk_add(chunk *c, const void *key, size_t key_len, const void *value,
                      size_t value_len)
{
    size_t cap = c->cap;
    c->changes = tm_grow(c->changes, &c->cap, c->n + 1, sizeof *c->changes);
    if (c->cap != cap) /* the two arrays share one capacity */
        c->tombstone = tm_xrealloc(c->tombstone, c->cap * sizeof *c->tombstone);
    /* Offsets for now: the buffer moves while it grows. */
    c->changes[c->n] = (tm_kv_change){.key = (void *)(uintptr_t)c->bytes.len,
                                      .key_len = key_len,
                                      .value = (void *)(uintptr_t)(c->bytes.len + key_len),
                                      .value_len = value ? value_len : 0};
    c->tombstone[c->n++] = value == NULL;
    tm_buf_append(&c->bytes, key, key_len);
    if (value)
        tm_buf_append(&c->bytes, value, value_len);
}

static void chunk_free(chunk *c)
{
    tm_buf_free(&c->bytes);
    free(c->changes);
    free(c->tombstone);
    memset(c, 0, sizeof *c);
}

/* Applies job i's chunk to its store with the read's next offset for it
 * (see the invariants), and empties the chunk. Nothing to do when the
 * chunk is empty and the offset has not moved. */
static int apply_chunk(restore *rs, size_t i, char *errstr, size_t errlen)
{
    job *j = &rs->jobs[i];
    chunk *c = &j->tail;
    int64_t to = rs->parts[i].next;
    if (c->n == 0 && to <= j->applied)
        return TM_OK;
    for (size_t k = 0; k < c->n; k++) {
        c->changes[k].key = c->bytes.data + (uintptr_t)c->changes[k].key;
        c->changes[k].value =
            c->tombstone[k] ? NULL : c->bytes.data + (uintptr_t)c->changes[k].value;
    }
    int rc = tm_store_apply(j->t.store, c->changes, c->n, to, errstr, errlen);
    rs->buffered -= c->bytes.len;
    tm_buf_reset(&c->bytes);
    c->n = 0;
    if (rc == TM_OK)
        j->applied = to;
    return rc;
}

static int apply_all_chunks(restore *rs, char *errstr, size_t errlen)
{
    int rc = TM_OK;
    for (size_t i = 0; i < rs->n && rc == TM_OK; i++)
        rc = apply_chunk(rs, i, errstr, errlen);
    return rc;
}

/* ---- the steps ---- */

/* Step 1 (parallel): the store. */
static void open_job(restore *rs, job *j)
{
    bool wiped = false;
    j->rc = tm_store_open(&j->t.store, rs->cfg->state_dir, rs->cfg->application_id, j->t.partition,
                          false, &wiped, j->err, sizeof j->err);
    if (j->rc < 0)
        return;
    if (wiped)
        TM_LOG(TM_LOG_WARN, "restore",
               "task %d: state store was unreadable; rebuilding it from the changelog",
               (int)j->t.partition);
    j->applied = tm_store_applied_offset(j->t.store);
}

/* Step 2: where each read starts, given the partition's offsets. A
 * partition that ends before the store's applied offset was recreated:
 * the store's state no longer exists, so it is wiped. One whose first
 * records are gone is read from its start (the best there is). */
static int plan_job(restore *rs, job *j, tm_changelog_part *p, char *errstr, size_t errlen)
{
    if (p->end < j->applied) {
        TM_LOG(TM_LOG_WARN, "restore",
               "task %d: changelog %s-changelog [%d] ends at %lld, before the offset %lld its "
               "state store has applied: the changelog was recreated; wiping the store and "
               "restoring from the changelog",
               (int)j->t.partition, rs->cfg->application_id, (int)p->task, (long long)p->end,
               (long long)j->applied);
        int rc = tm_store_clear(j->t.store, errstr, errlen);
        if (rc < 0)
            return rc;
        j->applied = 0;
    }
    if (j->applied < p->start)
        TM_LOG(TM_LOG_WARN, "restore",
               "task %d: changelog %s-changelog [%d] starts at %lld: offsets %lld..%lld are gone",
               (int)j->t.partition, rs->cfg->application_id, (int)p->task, (long long)p->start,
               (long long)j->applied, (long long)(p->start - 1));
    p->from = j->applied > p->start ? j->applied : p->start;
    j->from = p->from;
    return TM_OK;
}

/* Logs how far the read is, once a PROGRESS_EVERY_MS: a restore of
 * millions of records takes seconds, during which the log would say
 * nothing. */
static void log_progress(restore *rs)
{
    int64_t now = tm_wall_clock_ms();
    if (now - rs->last_progress < PROGRESS_EVERY_MS)
        return;
    rs->last_progress = now;
    int64_t done = 0, all = 0;
    for (size_t i = 0; i < rs->n; i++) {
        done += rs->parts[i].next - rs->parts[i].from;
        all += rs->parts[i].end - rs->parts[i].from;
    }
    TM_LOG(TM_LOG_INFO, "restore",
           "restoring %zu task(s): %llu changelog records read so far, %lld of %lld offsets", rs->n,
           (unsigned long long)rs->stats.records, (long long)done, (long long)all);
}

/* Up to 40 bytes of key for a message, anything but printable ASCII as
 * '?' (a foreign key may be binary). */
static void key_excerpt(const void *key, size_t key_len, char out[41])
{
    const unsigned char *k = key;
    size_t n = key_len < 40 ? key_len : 40;
    for (size_t i = 0; i < n; i++)
        out[i] = k[i] >= 0x20 && k[i] < 0x7f && k[i] != '\'' ? (char)k[i] : '?';
    out[n] = '\0';
}

/* Whether the read keeps a record: 1 for a record of tidemark's that this
 * binary reads, 0 for a foreign one (skipped, counted, logged), or a
 * negative tm_err with rs->err naming the record and the ways out. */
static int screen(restore *rs, job *j, const void *key, size_t key_len, const void *value,
                  size_t value_len, int64_t offset)
{
    const char *topic = rs->cfg->application_id;
    char excerpt[41];
    key_excerpt(key, key_len, excerpt);
    if (!tm_changelog_is_ours(key, key_len, value, value_len)) {
        j->t.foreign++;
        TM_LOG(TM_LOG_WARN, "restore",
               "changelog %s-changelog [%d] offset %lld: not a tidemark record (key '%s%s', %zu "
               "value bytes); skipped. Only tidemark should write to its changelog: find the "
               "producer that does",
               topic, (int)j->t.partition, (long long)offset, excerpt, key_len > 40 ? "..." : "",
               value_len);
        return 0;
    }
    const char *why = tm_changelog_check(key, key_len, value, value_len);
    if (!why)
        return 1;
    tm_seterr(rs->err, sizeof rs->err, TM_ESTORE,
              "changelog %s-changelog [%d] offset %lld: a tidemark record (key '%s%s') that this "
              "tidemark cannot read: %s (it reads %s). If a newer tidemark wrote it, run that "
              "version. If it is damaged, task %d cannot be restored: `tidemark reset --config "
              "<config> --yes` deletes the state of every task (changelog, consumer group, state "
              "directory) and the application starts afresh from its input",
              topic, (int)j->t.partition, (long long)offset, excerpt, key_len > 40 ? "..." : "",
              why, tm_changelog_versions_read(), (int)j->t.partition);
    return TM_ESTORE;
}

/* Step 3: the read's callback, on the reading thread. A skipped record is
 * not applied, but the read's next offset moves past it all the same. */
static int on_record(void *ctx, size_t part, const void *key, size_t key_len, const void *value,
                     size_t value_len, int64_t offset)
{
    restore *rs = ctx;
    job *j = &rs->jobs[part];
    int keep = screen(rs, j, key, key_len, value, value_len, offset);
    if (keep <= 0)
        return keep;
    size_t before = j->tail.bytes.len;
    chunk_add(&j->tail, key, key_len, value, value_len);
    rs->buffered += j->tail.bytes.len - before;
    rs->stats.bytes += j->tail.bytes.len - before;
    j->t.records++;
    progress(rs, &rs->stats.records);
    if (rs->stats.records % ALIVE_EVERY_RECORDS == 0)
        log_progress(rs);
    if (j->tail.bytes.len >= CHUNK_BYTES)
        return apply_chunk(rs, part, rs->err, sizeof rs->err);
    if (rs->buffered >= ALL_CHUNKS_BYTES)
        return apply_all_chunks(rs, rs->err, sizeof rs->err);
    return TM_OK;
}

typedef struct loader {
    const restore *rs;
    job *j;
    uint64_t n;
} loader;

/* The store's records, in key order, straight into the engine. */
static int load_stored(void *ctx, const void *key, size_t key_len, const void *value,
                       size_t value_len)
{
    loader *ld = ctx;
    job *j = ld->j;
    /* A store filled before restores screened records may hold a foreign
     * one: skipped here too, so that it does not fail every restore. */
    if (!tm_changelog_is_ours(key, key_len, value, value_len)) {
        char excerpt[41];
        key_excerpt(key, key_len, excerpt);
        TM_LOG(TM_LOG_WARN, "restore",
               "task %d: state store holds a record that is not "
               "tidemark's (key '%s'); skipped",
               (int)j->t.partition, excerpt);
        return TM_OK;
    }
    int rc = tm_changelog_restore_record(j->t.changelog, j->t.engine, key, key_len, value,
                                         value_len, j->t.next_offsets, j->err, sizeof j->err);
    progress(ld->rs, &ld->n);
    if (rc == TM_OK && ld->n % ALIVE_EVERY_RECORDS == 0 && stop_requested(ld->rs))
        rc = TM_ESTOPPED;
    return rc;
}

/* Step 4 (parallel): the engine, from the store, which now holds the
 * changelog up to the read's end: each key once, in key order, as
 * tm_changelog_restore_record wants them. */
static void rebuild_job(restore *rs, job *j)
{
    if (stop_requested(rs)) {
        j->rc = TM_ESTOPPED;
        return;
    }
    const tm_config *cfg = rs->cfg;
    j->rc = rs->n_sources > 0
                ? tm_engine_open_paired(&j->t.engine, cfg, j->t.partition, rs->n_sources,
                                        tm_wall_clock_ms(), j->err, sizeof j->err)
                : tm_engine_open(&j->t.engine, cfg, j->t.partition, tm_wall_clock_ms(), j->err,
                                 sizeof j->err);
    if (j->rc < 0)
        return;
    tm_engine_track_changes(j->t.engine);
    j->t.changelog = tm_changelog_new(cfg);
    if (rs->record_limit > 0)
        tm_changelog_set_record_limit(j->t.changelog, rs->record_limit);
    size_t n_topics = tm_engine_task_topics(cfg);
    j->t.next_offsets = tm_xmalloc((n_topics + 1) * sizeof *j->t.next_offsets);
    for (size_t i = 0; i < n_topics; i++)
        j->t.next_offsets[i] = -1;
    loader ld = {.rs = rs, .j = j};
    j->rc = tm_store_scan(j->t.store, load_stored, &ld, j->err, sizeof j->err);
    j->done_ms = tm_wall_clock_ms() - rs->t0;
}

/* ---- the whole ---- */

static void release_job(job *j)
{
    tm_restored_task_close(&j->t);
    chunk_free(&j->tail);
}

/* Steps 2 and 3: the offsets, the plans, the read, and the last chunks
 * (also when stopped: what was read is kept). */
static int read_tails(restore *rs, tm_kafka *k, char *errstr, size_t errlen)
{
    for (size_t i = 0; i < rs->n; i++)
        rs->parts[i].task = rs->jobs[i].t.partition;
    rs->last_progress = tm_wall_clock_ms();
    waiting(rs, "restore: changelog offsets");
    int rc = tm_kafka_changelog_offsets(k, rs->parts, rs->n, rs->o->stop, errstr, errlen);
    waiting(rs, NULL);
    for (size_t i = 0; i < rs->n && rc == TM_OK; i++)
        rc = plan_job(rs, &rs->jobs[i], &rs->parts[i], errstr, errlen);
    if (rc < 0)
        return rc;
    /* The read waits on fetches (it gives up after 30 s without progress);
     * applying what it read in between is bounded by the chunk sizes. */
    waiting(rs, "restore: reading the changelog");
    rc = tm_kafka_read_changelogs(k, rs->parts, rs->n, on_record, rs, rs->o->stop, errstr, errlen);
    waiting(rs, NULL);
    if (rc < 0 && rs->err[0])
        return tm_seterr(errstr, errlen, rc, "%s", rs->err); /* on_record's */
    if (rc == TM_OK || rc == TM_ESTOPPED) {
        int applied = apply_all_chunks(rs, errstr, errlen);
        rc = applied < 0 ? applied : rc;
    }
    return rc;
}

static void report(const restore *rs, tm_restored_task *out)
{
    for (size_t i = 0; i < rs->n; i++) {
        const job *j = &rs->jobs[i];
        if (rs->o->telemetry)
            tm_telemetry_restored(rs->o->telemetry, j->t.partition, j->t.records, j->t.foreign,
                                  j->done_ms);
        TM_LOG(TM_LOG_INFO, "restore",
               "task %d restored in %lld ms: %zu windows, %zu dedup keys, %llu changelog records "
               "replayed from offset %lld",
               (int)j->t.partition, (long long)j->done_ms, tm_engine_window_count(j->t.engine),
               tm_engine_dedup_entries(j->t.engine), (unsigned long long)j->t.records,
               (long long)j->from);
        out[i] = j->t;
    }
    const tm_restore_stats *st = &rs->stats;
    TM_LOG(TM_LOG_INFO, "restore",
           "restored %zu task(s) in %lld ms (stores opened in %lld ms, changelog read into them "
           "in %lld ms, engines rebuilt in %lld ms): %llu changelog records, %llu bytes",
           rs->n, (long long)(st->open_ms + st->read_ms + st->rebuild_ms), (long long)st->open_ms,
           (long long)st->read_ms, (long long)st->rebuild_ms, (unsigned long long)st->records,
           (unsigned long long)st->bytes);
    if (rs->o->stats)
        *rs->o->stats = *st;
}

int tm_restore_tasks(const tm_config *cfg, tm_kafka *k, const int32_t *partitions, size_t n,
                     const tm_restore_options *o, tm_restored_task *out, char *errstr,
                     size_t errlen)
{
    assert(cfg && k && o && (n == 0 || (partitions && out)));
    /* The codecs split dedup keys to what the changelog topic takes; a
     * handle without a producer (a changelog reader) knows no limit, and
     * its codecs keep the configuration's. */
    restore rs = {.cfg = cfg,
                  .o = o,
                  .n = n,
                  .t0 = tm_wall_clock_ms(),
                  .record_limit = tm_kafka_changelog_record_limit(k)};
    /* A repartitioned pipeline's tasks are paired, one per partition of
     * the repartition topic (kafka.h: TM_KAFKA_INPUT_PARTITIONS). */
    if (tm_config_repartitions(cfg)) {
        int32_t r = tm_kafka_repartition_partitions(k);
        if (r <= 0)
            return tm_seterr(errstr, errlen, TM_EINVAL,
                             "restore: a repartitioned pipeline without a repartition topic");
        rs.n_sources = (size_t)r;
    }
    int rc = tm_store_check_fds(o->open_stores + n, errstr, errlen);
    if (rc < 0 || n == 0)
        return rc;
    rs.jobs = tm_xcalloc(n, sizeof *rs.jobs);
    rs.parts = tm_xcalloc(n, sizeof *rs.parts);
    for (size_t i = 0; i < n; i++)
        rs.jobs[i].t.partition = partitions[i];
    rc = run_parallel(&rs, open_job, errstr, errlen);
    int64_t t1 = tm_wall_clock_ms();
    rs.stats.open_ms = t1 - rs.t0;
    if (rc == TM_OK)
        rc = read_tails(&rs, k, errstr, errlen);
    int64_t t2 = tm_wall_clock_ms();
    rs.stats.read_ms = t2 - t1;
    if (rc == TM_OK)
        rc = run_parallel(&rs, rebuild_job, errstr, errlen);
    rs.stats.rebuild_ms = tm_wall_clock_ms() - t2;
    if (rc == TM_OK) {
        for (size_t i = 0; i < n; i++)
            chunk_free(&rs.jobs[i].tail);
        report(&rs, out);
    } else {
        if (rc == TM_ESTOPPED) {
            tm_seterr(errstr, errlen, rc, "restore stopped on request");
            TM_LOG(TM_LOG_INFO, "restore",
                   "restore of %zu task(s) stopped after %lld ms: the %llu changelog records "
                   "read are kept in their stores",
                   n, (long long)(tm_wall_clock_ms() - rs.t0),
                   (unsigned long long)rs.stats.records);
        }
        for (size_t i = 0; i < n; i++)
            release_job(&rs.jobs[i]);
    }
    free(rs.jobs);
    free(rs.parts);
    return rc;
}

void tm_restored_task_close(tm_restored_task *t)
{
    tm_engine_close(t->engine);
    tm_changelog_free(t->changelog);
    tm_store_close(t->store);
    free(t->next_offsets);
    memset(t, 0, sizeof *t);
}
