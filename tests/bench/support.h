/*
 * support.h: what the benchmarks (tests/bench/bench_*.c) share: their exit
 * path, a temporary directory, interruption, a clock, memory figures and
 * measuring in a child process.
 *
 * The benchmarks run outside Criterion but use tests/support, whose checks
 * are Criterion assertions, which outside a Criterion test would write to a
 * runner that is not there, then abort. support.c therefore defines
 * criterion_send_assert and criterion_abort_test in place of Criterion's
 * (an executable's own symbols come first): a failed check prints its
 * message and ends the benchmark through tm_bench_fail, which kills the
 * children. It is linked into the benchmarks only (the tidemark_bench_support
 * library), never into a Criterion test.
 */
#ifndef TM_BENCH_SUPPORT_H
#define TM_BENCH_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Starts a benchmark called name (its messages' prefix): creates the
 * temporary directory $TMPDIR/tidemark-<name>-XXXXXX, removed at exit
 * (after tests/support has killed the children) unless keep; notes SIGINT
 * and SIGTERM (tm_bench_interrupted); ignores SIGPIPE. Fails on error.
 */
void tm_bench_start(const char *name, bool keep);

/* The temporary directory (valid after tm_bench_start). */
const char *tm_bench_dir(void);

/* Prints "<name>: <message>" on stderr and exits 1: the children are
 * killed and the directory removed by the exit handlers. */
__attribute__((noreturn, format(printf, 1, 2))) void tm_bench_fail(const char *fmt, ...);

/* Whether SIGINT or SIGTERM has arrived (any thread may ask). */
bool tm_bench_interrupted(void);

/* tm_bench_fail("interrupted") if tm_bench_interrupted(). */
void tm_bench_check_interrupt(void);

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t tm_bench_now_ns(void);

/* A "<field>: <n> kB" line of /proc/self/status (VmRSS, VmHWM...), in KiB.
 * Fails if it cannot be read. */
long tm_bench_status_kib(const char *field);

/* The same of process pid, or -1 when it cannot be read (the process is
 * gone, or a zombie without memory). */
long tm_bench_pid_status_kib(pid_t pid, const char *field);

/*
 * Runs fn(ctx, out) in a forked child and copies its out_size bytes of
 * *out back into *out: each measurement then starts from the same memory
 * (the parent's pages, e.g. generated records, already resident) and its
 * peak RSS is its own. Fails unless the child exits 0 with its result.
 */
void tm_bench_in_child(void (*fn)(void *ctx, void *out), void *ctx, void *out, size_t out_size);

/* qsort's comparison of doubles, ascending. */
int tm_bench_cmp_double(const void *a, const void *b);

/* The demo pipeline over the generator's orders (bench_batch,
 * bench_verify), up to its output member: a printf format with one %s,
 * the window object; the caller's format goes on with "output". A macro,
 * not a variable, so that snprintf's format stays a literal. */
#define TM_BENCH_PIPELINE_JSON_HEAD                                                                \
    "{\"application_id\":\"bench\",\"input\":{\"topics\":[\"orders\"],"                            \
    "\"event_time\":{\"pointer\":\"/event_time\",\"format\":\"auto\"},"                            \
    "\"group_by\":\"/merchant\",\"event_id\":\"/order_id\"},"                                      \
    "\"watermark\":{\"max_out_of_orderness_ms\":2000},\"window\":%s,"                              \
    "\"allowed_lateness_ms\":5000,"                                                                \
    "\"aggregations\":[{\"name\":\"orders\",\"op\":\"count\"},"                                    \
    "{\"name\":\"gmv\",\"op\":\"sum\",\"pointer\":\"/amount\"},"                                   \
    "{\"name\":\"avg_amount\",\"op\":\"avg\",\"pointer\":\"/amount\"},"                            \
    "{\"name\":\"max_amount\",\"op\":\"max\",\"pointer\":\"/amount\"}],"                           \
    "\"dedup\":{\"enabled\":true},"                                                                \
    "\"clock_skew\":{\"max_ahead_ms\":60000,\"action\":\"clamp\"},"

/* ---- options ---- */

/* Whether argv[*i] is name followed by a count (an integer from 1 to
 * INT32_MAX): then *value holds it and *i is on the count. */
bool tm_bench_count_arg(int argc, char **argv, int *i, const char *name, int64_t *value);

/* Whether argv[*i] is --window followed by tumbling or session: then
 * *sessions says which and *i is on it. */
bool tm_bench_window_arg(int argc, char **argv, int *i, bool *sessions);

#endif
