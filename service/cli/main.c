/*
 * main.c: the tidemark command line.
 *
 * Exit codes: 0 success; 2 bad arguments, bad configuration or unreadable
 * or malformed input (the message names the key or the line); 1 anything
 * else.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <unistd.h>

#include "alloc.h"
#include "backfill_run.h"
#include "buf.h"
#include "changelog.h"
#include "changelog_json.h"
#include "clock.h"
#include "config.h"
#include "demo.h"
#include "err.h"
#include "kafka.h"
#include "log.h"
#include "num.h"
#include "replay.h"
#include "reset.h"
#include "rfc3339.h"
#include "runner.h"
#include "stop_flag.h"
#include "verify_push.h"
#include "verify_range.h"
#include "verify_run.h"
#include "version.h"

extern char **environ;

enum { EXIT_USAGE = 2 };

static void usage(FILE *f)
{
    fputs("usage: tidemark <command> [options]\n"
          "\n"
          "commands:\n"
          "  demo [--seconds N] [--rate EVENTS_PER_S] [--partitions N]\n"
          "      an in-process Kafka cluster, realistic order events, and the live\n"
          "      service on a sample pipeline, printing window results as they commit\n"
          "      (defaults: 30 s, 500 events/s, 2 partitions; Ctrl-C stops early)\n"
          "  run --config FILE [--instance-id ID] [--set KEY=VALUE]...\n"
          "      the live service: consume the input topics, write results, late and\n"
          "      dead-letter records exactly once; ID (default: the host name, which\n"
          "      is the pod name in a StatefulSet) must be stable across restarts\n"
          "  replay --config FILE --input IN.jsonl --output-dir DIR [--batch]\n"
          "         [--set KEY=VALUE]...\n"
          "      run the engine offline over records in the replay envelope and\n"
          "      write output.jsonl, late.jsonl and dlq.jsonl into DIR; with --batch,\n"
          "      write the batch results instead (every record counted in its\n"
          "      windows, no watermark or lateness, dedup without TTL): batch.jsonl,\n"
          "      one window a line by start, then key, and dlq.jsonl\n"
          "  changelog --config FILE [--partition N] [--set KEY=VALUE]...\n"
          "      print the committed changelog records of the application (every\n"
          "      partition, or N only), one JSON object a line with its partition and\n"
          "      offset (proto/changelog.schema.json): a read-only view of the state\n"
          "  reset --config FILE [--yes] [--set KEY=VALUE]...\n"
          "      delete the application's state so that it starts afresh: its changelog\n"
          "      and repartition topics, its consumer group (committed input offsets)\n"
          "      and this machine's state directory; without --yes, only print what it\n"
          "      would delete (exit 2). Stop every instance first\n"
          "  verify --config FILE (--from T1 --to T2 | --last-closed-hour) [--json]\n"
          "         [--push-gateway http://HOST:PORT] [--set KEY=VALUE]...\n"
          "      compare the output topic, read as a table, with the batch results\n"
          "      of every window inside [T1, T2) (epoch ms or RFC 3339), computed\n"
          "      from the input topics; a differing window is explained when the\n"
          "      late topic's records make up the difference. Prints each differing\n"
          "      window and the figures (--json: one JSON report); progress on\n"
          "      stderr. Reads only (no consumer group): runs beside live instances.\n"
          "      Exit 1 when a window is unexplained or the input topics no longer\n"
          "      hold the whole range; spill files go under TMPDIR (default /tmp).\n"
          "      --last-closed-hour: the latest clock hour whose results are final\n"
          "      (its end + allowed_lateness_ms + max_out_of_orderness_ms + 5 min has\n"
          "      passed); --push-gateway: POST the figures to a Prometheus Pushgateway\n"
          "      (a failed push is reported on stderr; the exit status stays the verdict's)\n"
          "      --buckets N (verify and backfill; at most 16384): the spill files;\n"
          "      memory holds one bucket (about 1/N of the range's records) at a time;\n"
          "      by default one per 16384 input records of the range, at least 64\n"
          "  backfill --config FILE --from T1 --to T2 [--dry-run] [--force] [--json]\n"
          "           [--set KEY=VALUE]...\n"
          "      correct the output topic over [T1, T2): compare as verify does, then\n"
          "      write, in one transaction, a new revision (trigger backfill) holding\n"
          "      the batch result of every window whose table entry differs, and a\n"
          "      tombstone for a table window the batch lacks; equal windows are not\n"
          "      written, so a second run writes nothing. Refuses (exit 2, naming the\n"
          "      window) a range with windows the live application may still change\n"
          "      (end + allowed lateness beyond the watermark of its changelog\n"
          "      checkpoints), or that the input topics no longer hold, unless\n"
          "      --force; --dry-run prints the records (JSON lines) and writes nothing\n"
          "\n"
          "options:\n"
          "  --set KEY=VALUE   override a configuration key (dotted name); beats\n"
          "                    the file and TIDEMARK_* environment variables\n"
          "  --help            this text and the configuration reference\n"
          "  --version         print the version\n"
          "\n"
          "exit status: 0 ok (run: stopped by SIGTERM or SIGINT), 2 bad arguments,\n"
          "configuration or input, 1 other errors (run: a fatal Kafka error; restart;\n"
          "changelog: also a record it cannot read, reported and skipped; verify: also an\n"
          "unexplained window or a range the input topics no longer hold; backfill: 2\n"
          "also for a refused range, 1 when the write failed: then nothing was written)\n",
          f);
}

typedef struct cli_args {
    const char *config;
    const char *input;       /* replay */
    const char *output_dir;  /* replay */
    const char *instance_id; /* run */
    const char *partition;   /* changelog */
    const char *from, *to;   /* verify, backfill */
    bool json;               /* verify, backfill */
    const char *gateway;     /* verify --push-gateway */
    const char *buckets;     /* verify, backfill */
    bool last_hour;          /* verify --last-closed-hour */
    bool force, dry_run;     /* backfill */
    bool yes;                /* reset */
    bool batch;              /* replay */
    const char **overrides;
    size_t n_overrides;
} cli_args;

/* Parses the options of `cmd` (replay, run, changelog or reset); returns 0 or
 * prints the problem and returns 2. */
static int parse_args(const char *cmd, int argc, char **argv, cli_args *a)
{
    bool replay = strcmp(cmd, "replay") == 0;
    bool run = strcmp(cmd, "run") == 0;
    bool changelog = strcmp(cmd, "changelog") == 0;
    bool reset = strcmp(cmd, "reset") == 0;
    bool backfill = strcmp(cmd, "backfill") == 0;
    /* backfill takes verify's options (the range) and its own. */
    bool verify = strcmp(cmd, "verify") == 0 || backfill;
    bool verify_only = strcmp(cmd, "verify") == 0; /* scheduling verify's options */
    a->overrides = tm_xcalloc((size_t)argc, sizeof *a->overrides);
    for (int i = 0; i < argc; i++) {
        const char *opt = argv[i];
        const char **dst = NULL;
        if (reset && strcmp(opt, "--yes") == 0) {
            a->yes = true;
            continue;
        }
        if (verify && strcmp(opt, "--json") == 0) {
            a->json = true;
            continue;
        }
        if (verify_only && strcmp(opt, "--last-closed-hour") == 0) {
            a->last_hour = true;
            continue;
        }
        if (backfill && strcmp(opt, "--force") == 0) {
            a->force = true;
            continue;
        }
        if (backfill && strcmp(opt, "--dry-run") == 0) {
            a->dry_run = true;
            continue;
        }
        if (replay && strcmp(opt, "--batch") == 0) {
            a->batch = true;
            continue;
        }
        if (strcmp(opt, "--config") == 0)
            dst = &a->config;
        else if (replay && strcmp(opt, "--input") == 0)
            dst = &a->input;
        else if (replay && strcmp(opt, "--output-dir") == 0)
            dst = &a->output_dir;
        else if (run && strcmp(opt, "--instance-id") == 0)
            dst = &a->instance_id;
        else if (changelog && strcmp(opt, "--partition") == 0)
            dst = &a->partition;
        else if (verify && strcmp(opt, "--from") == 0)
            dst = &a->from;
        else if (verify && strcmp(opt, "--to") == 0)
            dst = &a->to;
        else if (verify_only && strcmp(opt, "--push-gateway") == 0)
            dst = &a->gateway;
        else if (verify && strcmp(opt, "--buckets") == 0)
            dst = &a->buckets;
        else if (strcmp(opt, "--set") == 0)
            dst = &a->overrides[a->n_overrides++];
        if (!dst) {
            fprintf(stderr, "tidemark %s: unknown option '%s'\n", cmd, opt);
            return EXIT_USAGE;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "tidemark %s: %s needs a value\n", cmd, opt);
            return EXIT_USAGE;
        }
        *dst = argv[++i];
    }
    const char *missing = !a->config                            ? "--config"
                          : replay && !a->input                 ? "--input"
                          : replay && !a->output_dir            ? "--output-dir"
                          : verify && !a->from && !a->last_hour ? "--from"
                          : verify && !a->to && !a->last_hour   ? "--to"
                                                                : NULL;
    if (missing) {
        fprintf(stderr, "tidemark %s: %s is required (see tidemark --help)\n", cmd, missing);
        return EXIT_USAGE;
    }
    return 0;
}

static int cmd_replay(int argc, char **argv)
{
    cli_args a = {0};
    int status = parse_args("replay", argc, argv, &a);
    tm_config *cfg = NULL;
    char err[1024];
    if (status)
        goto out;
    if (tm_config_load(&cfg, a.config, environ, a.overrides, a.n_overrides, err, sizeof err) < 0) {
        fprintf(stderr, "tidemark replay: %s\n", err);
        status = EXIT_USAGE;
        goto out;
    }
    tm_replay_summary s;
    int rc = (a.batch ? tm_replay_batch : tm_replay_run)(cfg, a.input, a.output_dir, &s, err,
                                                         sizeof err);
    if (rc < 0) {
        fprintf(stderr, "tidemark replay: %s\n", err);
        status = (rc == TM_EIO || rc == TM_EPARSE || rc == TM_ECONFIG) ? EXIT_USAGE : 1;
        goto out;
    }
    if (a.batch)
        fprintf(stderr,
                "tidemark replay --batch: %llu records -> %llu batch results, %llu dead "
                "letters in %s\n",
                (unsigned long long)s.lines, (unsigned long long)s.results,
                (unsigned long long)s.dead, a.output_dir);
    else
        fprintf(stderr,
                "tidemark replay: %llu records, %zu tasks -> %llu results, %llu late, "
                "%llu dead letters in %s\n",
                (unsigned long long)s.lines, s.tasks, (unsigned long long)s.results,
                (unsigned long long)s.late, (unsigned long long)s.dead, a.output_dir);
out:
    tm_config_free(cfg);
    free(a.overrides);
    return status;
}

static tm_stop_flag stop_requested;

static void request_stop(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* SIGTERM (Kubernetes) and SIGINT finish the current checkpoint and leave
 * the group; a second signal is the same request (the drain is bounded by
 * the transaction timeout). */
static void install_stop_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = request_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
}

static int cmd_run(int argc, char **argv)
{
    cli_args a = {0};
    int status = parse_args("run", argc, argv, &a);
    tm_config *cfg = NULL;
    tm_runner *runner = NULL;
    char err[1024], host[256];
    if (status)
        goto out;
    if (tm_config_load(&cfg, a.config, environ, a.overrides, a.n_overrides, err, sizeof err) < 0) {
        fprintf(stderr, "tidemark run: %s\n", err);
        status = EXIT_USAGE;
        goto out;
    }
    tm_log_parse_level(cfg->log_level, &tm_log_threshold);
    bool from_host = !a.instance_id;
    if (from_host) {
        if (gethostname(host, sizeof host) != 0)
            snprintf(host, sizeof host, "0");
        host[sizeof host - 1] = '\0';
        a.instance_id = host;
    }
    /* Checked before Kafka sees it: a bad id used to surface as a broker
     * refusal or a transport failure, long after startup. */
    if (tm_config_check_instance_id(cfg, a.instance_id, err, sizeof err) < 0) {
        fprintf(stderr, "tidemark run: --instance-id%s '%.100s%s': %s\n",
                from_host ? " (not given: the host name)" : "", a.instance_id,
                strlen(a.instance_id) > 100 ? "..." : "", err);
        status = EXIT_USAGE;
        goto out;
    }
    install_stop_handlers();
    const tm_runner_options opt = {.instance_id = a.instance_id};
    int rc = tm_runner_open(&runner, cfg, &opt, err, sizeof err);
    if (rc == TM_OK)
        rc = tm_runner_run(runner, &stop_requested, err, sizeof err);
    if (rc < 0) {
        TM_LOG(TM_LOG_ERROR, "main", "%s", err);
        status = rc == TM_ECONFIG ? EXIT_USAGE : 1;
    }
out:
    tm_runner_close(runner);
    tm_config_free(cfg);
    free(a.overrides);
    return status;
}

/* `tidemark changelog`: one line per record, in offset order per
 * partition; a record that cannot be read is reported on stderr and
 * skipped, so that one bad record does not hide the rest of the state. A
 * record that is not tidemark's (a mistaken producer's) is reported and
 * skipped too, but is no failure: restore skips it as well
 * (tm_changelog_is_ours), so it is not state that could not be read. */
typedef struct changelog_printer {
    int32_t partition;
    tm_buf line;
    size_t unreadable;
    size_t foreign;
} changelog_printer;

static int print_changelog_record(void *ctx, const void *key, size_t key_len, const void *value,
                                  size_t value_len, int64_t offset)
{
    changelog_printer *p = ctx;
    char why[256];
    if (!tm_changelog_is_ours(key, key_len, value, value_len)) {
        fprintf(stderr,
                "tidemark changelog: partition %d, offset %lld: not a record of tidemark's "
                "(skipped, as restore skips it)\n",
                (int)p->partition, (long long)offset);
        p->foreign++;
        return 0;
    }
    tm_buf_reset(&p->line);
    tm_buf_printf(&p->line, "{\"partition\":%d,\"offset\":%lld,", (int)p->partition,
                  (long long)offset);
    if (tm_changelog_json_members(&p->line, key, key_len, value, value_len, why, sizeof why) < 0) {
        fprintf(stderr, "tidemark changelog: partition %d, offset %lld: %s\n", (int)p->partition,
                (long long)offset, why);
        p->unreadable++;
        return 0;
    }
    tm_buf_puts(&p->line, "}\n");
    fwrite(p->line.data, 1, p->line.len, stdout);
    return 0;
}

/* Prints every record of the partitions [first, last] (read_committed,
 * from the start to the last stable offset); returns 0 or 1. */
static int print_changelog(tm_kafka *k, int32_t first, int32_t last)
{
    changelog_printer p = {0};
    char err[1024];
    int status = 0;
    for (p.partition = first; p.partition <= last && status == 0; p.partition++) {
        if (tm_kafka_read_changelog(k, p.partition, 0, print_changelog_record, &p, err,
                                    sizeof err) < 0) {
            fprintf(stderr, "tidemark changelog: %s\n", err);
            status = 1;
        }
    }
    if (fflush(stdout) != 0) {
        perror("tidemark changelog: stdout");
        status = 1;
    }
    if (p.foreign)
        fprintf(stderr, "tidemark changelog: %zu record(s) not tidemark's were skipped\n",
                p.foreign);
    if (p.unreadable) {
        fprintf(stderr, "tidemark changelog: %zu record(s) could not be read\n", p.unreadable);
        status = 1;
    }
    tm_buf_free(&p.line);
    return status;
}

static int cmd_changelog(int argc, char **argv)
{
    cli_args a = {0};
    int status = parse_args("changelog", argc, argv, &a);
    tm_config *cfg = NULL;
    tm_kafka *k = NULL;
    char err[1024];
    int64_t partition = -1;
    if (status)
        goto out;
    if (a.partition &&
        (tm_parse_i64(a.partition, &partition) < 0 || partition < 0 || partition > INT32_MAX)) {
        fprintf(stderr, "tidemark changelog: --partition: expected a partition number, got '%s'\n",
                a.partition);
        status = EXIT_USAGE;
        goto out;
    }
    if (tm_config_load(&cfg, a.config, environ, a.overrides, a.n_overrides, err, sizeof err) < 0) {
        fprintf(stderr, "tidemark changelog: %s\n", err);
        status = EXIT_USAGE;
        goto out;
    }
    tm_log_parse_level(cfg->log_level, &tm_log_threshold);
    int rc = tm_kafka_open_changelog_reader(&k, cfg, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "tidemark changelog: %s\n", err);
        status = rc == TM_ECONFIG ? EXIT_USAGE : 1;
        goto out;
    }
    int32_t n = tm_kafka_changelog_partitions(k);
    if (partition >= n) {
        fprintf(stderr, "tidemark changelog: --partition %lld: the changelog has %d partition(s)\n",
                (long long)partition, (int)n);
        status = EXIT_USAGE;
        goto out;
    }
    status = partition < 0 ? print_changelog(k, 0, n - 1)
                           : print_changelog(k, (int32_t)partition, (int32_t)partition);
out:
    tm_kafka_close(k);
    tm_config_free(cfg);
    free(a.overrides);
    return status;
}

static int cmd_reset(int argc, char **argv)
{
    cli_args a = {0};
    int status = parse_args("reset", argc, argv, &a);
    tm_config *cfg = NULL;
    char err[1024];
    if (status)
        goto out;
    if (tm_config_load(&cfg, a.config, environ, a.overrides, a.n_overrides, err, sizeof err) < 0) {
        fprintf(stderr, "tidemark reset: %s\n", err);
        status = EXIT_USAGE;
        goto out;
    }
    tm_log_parse_level(cfg->log_level, &tm_log_threshold);
    int rc = tm_reset_run(cfg, a.yes, stdout, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "tidemark reset: %s\n", err);
        status = rc == TM_ECONFIG || rc == TM_EINVAL ? EXIT_USAGE : 1;
    }
out:
    tm_config_free(cfg);
    free(a.overrides);
    return status;
}

/* A time option of verify and backfill: epoch milliseconds or RFC 3339;
 * prints the problem and returns false when it is neither. */
static bool time_option(const char *cmd, const char *name, const char *text, int64_t *out)
{
    if (tm_parse_i64(text, out) == 0 || tm_rfc3339_parse(text, strlen(text), out) == 0)
        return true;
    fprintf(stderr, "tidemark %s: %s: expected epoch milliseconds or RFC 3339, got '%s'\n", cmd,
            name, text);
    return false;
}

/* --push-gateway: the run's figures to the Pushgateway (verify_push.h).
 * A failed push is reported and leaves the exit status the verdict's: the
 * verdict is in the job's log either way, and TidemarkVerifyStale fires
 * when no success reaches the Pushgateway. */
static void push_figures(const char *url, const tm_config *cfg, const tm_verify_options *opt,
                         bool compared, bool success)
{
    tm_verify_push_run run = {.from_ms = opt->from,
                              .to_ms = opt->to,
                              .summary = compared ? opt->summary : NULL,
                              .input_complete = *opt->input_complete,
                              .success = success,
                              .now_ms = tm_wall_clock_ms()};
    char err[1024];
    if (tm_verify_push(url, cfg->application_id, &run, err, sizeof err) < 0)
        fprintf(stderr, "tidemark verify: push to %s: %s\n", url, err);
}

/* What verify and backfill share: their options parsed, the range
 * checked (or chosen: verify's --last-closed-hour), the configuration
 * loaded, the report and spill options set. Returns 0, or the exit status
 * after printing the problem. */
static int range_command(const char *cmd, int argc, char **argv, cli_args *a, tm_config **cfg,
                         tm_verify_options *opt)
{
    char err[1024];
    int status = parse_args(cmd, argc, argv, a);
    *opt = (tm_verify_options){.command = cmd, .out = stdout, .progress = stderr};
    if (status)
        return status;
    if (a->last_hour && (a->from || a->to)) {
        fprintf(stderr,
                "tidemark %s: --last-closed-hour chooses the range: give it or --from and "
                "--to, not both\n",
                cmd);
        return EXIT_USAGE;
    }
    if (!a->last_hour && (!time_option(cmd, "--from", a->from, &opt->from) ||
                          !time_option(cmd, "--to", a->to, &opt->to)))
        return EXIT_USAGE;
    int64_t buckets = 0;
    if (a->buckets && (tm_parse_i64(a->buckets, &buckets) != 0 || buckets < 1 ||
                       buckets > TM_VERIFY_MAX_BUCKETS)) {
        fprintf(stderr, "tidemark %s: --buckets: expected 1 to %d, got '%s'\n", cmd,
                TM_VERIFY_MAX_BUCKETS, a->buckets);
        return EXIT_USAGE;
    }
    opt->buckets = (size_t)buckets;
    if (!a->last_hour && opt->from >= opt->to) {
        fprintf(stderr, "tidemark %s: --from must be before --to\n", cmd);
        return EXIT_USAGE;
    }
    if (tm_config_load(cfg, a->config, environ, a->overrides, a->n_overrides, err, sizeof err) <
        0) {
        fprintf(stderr, "tidemark %s: %s\n", cmd, err);
        return EXIT_USAGE;
    }
    tm_log_parse_level((*cfg)->log_level, &tm_log_threshold);
    if (a->last_hour) {
        tm_verify_last_closed_hour(tm_wall_clock_ms(), (*cfg)->allowed_lateness_ms,
                                   (*cfg)->max_out_of_orderness_ms, &opt->from, &opt->to);
        fprintf(stderr, "tidemark %s: the last closed hour: [%" PRId64 ", %" PRId64 ")\n", cmd,
                opt->from, opt->to);
    }
    const char *tmp = getenv("TMPDIR");
    opt->tmp_dir = tmp && *tmp ? tmp : "/tmp";
    opt->json = a->json;
    /* Whole lines: the report and the progress on stderr may share a file
     * (2>&1) and must not cut into each other's lines. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    return 0;
}

static int cmd_verify(int argc, char **argv)
{
    cli_args a = {0};
    tm_config *cfg = NULL;
    tm_verify_options opt;
    char err[1024];
    tm_verify_summary summary = {0};
    bool input_complete = false;
    int status = range_command("verify", argc, argv, &a, &cfg, &opt);
    if (status)
        goto out;
    if (a.gateway && tm_verify_push_check_url(a.gateway, err, sizeof err) < 0) {
        fprintf(stderr, "tidemark verify: --push-gateway %s\n", err);
        status = EXIT_USAGE;
        goto out;
    }
    if (a.gateway) {
        opt.summary = &summary;
        opt.input_complete = &input_complete;
    }
    bool ok = false;
    int rc = tm_verify_run(cfg, &opt, &ok, err, sizeof err);
    if (a.gateway)
        push_figures(a.gateway, cfg, &opt, rc == 0, rc == 0 && ok);
    if (rc < 0) {
        fprintf(stderr, "tidemark verify: %s\n", err);
        status = rc == TM_ECONFIG ? EXIT_USAGE : 1;
        goto out;
    }
    status = ok ? 0 : 1;
out:
    tm_config_free(cfg);
    free(a.overrides);
    return status;
}

static int cmd_backfill(int argc, char **argv)
{
    cli_args a = {0};
    tm_config *cfg = NULL;
    tm_backfill_options opt = {0};
    char err[1024];
    int status = range_command("backfill", argc, argv, &a, &cfg, &opt.range);
    if (status)
        goto out;
    opt.force = a.force;
    opt.dry_run = a.dry_run;
    int rc = tm_backfill_run(cfg, &opt, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "tidemark backfill: %s\n", err);
        status = rc == TM_ECONFIG ? EXIT_USAGE : 1;
    }
out:
    tm_config_free(cfg);
    free(a.overrides);
    return status;
}

/* Reads a positive integer option value; prints the problem and returns
 * false when it is not one. */
static bool positive_option(const char *name, const char *text, int *out)
{
    int64_t v;
    if (tm_parse_i64(text, &v) < 0 || v <= 0 || v > 1000000) {
        fprintf(stderr, "tidemark demo: %s: expected a positive integer, got '%s'\n", name, text);
        return false;
    }
    *out = (int)v;
    return true;
}

static int cmd_demo(int argc, char **argv)
{
    tm_demo_options opt = {.seconds = 30, .rate = 500, .partitions = 2};
    for (int i = 0; i < argc; i += 2) {
        int *dst = strcmp(argv[i], "--seconds") == 0      ? &opt.seconds
                   : strcmp(argv[i], "--rate") == 0       ? &opt.rate
                   : strcmp(argv[i], "--partitions") == 0 ? &opt.partitions
                                                          : NULL;
        if (!dst || i + 1 >= argc) {
            fprintf(stderr, "tidemark demo: %s '%s' (see tidemark --help)\n",
                    dst ? "missing value for" : "unknown option", argv[i]);
            return EXIT_USAGE;
        }
        if (!positive_option(argv[i], argv[i + 1], dst))
            return EXIT_USAGE;
    }
    install_stop_handlers();
    char err[1024];
    if (tm_demo_run(&opt, &stop_requested, stdout, err, sizeof err) < 0) {
        fprintf(stderr, "tidemark demo: %s\n", err);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        fputs("\nconfiguration keys:\n", stdout);
        tm_config_print_help(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("tidemark %s\n", TM_VERSION);
        return 0;
    }
    if (strcmp(cmd, "replay") == 0)
        return cmd_replay(argc - 2, argv + 2);
    if (strcmp(cmd, "run") == 0)
        return cmd_run(argc - 2, argv + 2);
    if (strcmp(cmd, "demo") == 0)
        return cmd_demo(argc - 2, argv + 2);
    if (strcmp(cmd, "changelog") == 0)
        return cmd_changelog(argc - 2, argv + 2);
    if (strcmp(cmd, "reset") == 0)
        return cmd_reset(argc - 2, argv + 2);
    if (strcmp(cmd, "verify") == 0)
        return cmd_verify(argc - 2, argv + 2);
    if (strcmp(cmd, "backfill") == 0)
        return cmd_backfill(argc - 2, argv + 2);
    fprintf(stderr, "tidemark: unknown command '%s' (see tidemark --help)\n", cmd);
    return EXIT_USAGE;
}
