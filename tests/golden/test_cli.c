/*
 * Tests of the tidemark command line, run as a real process (the binary
 * ctest passes in TIDEMARK_BINARY): exit status 0/2 and messages that name
 * the key or the line at fault.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc.h"

typedef struct run_result {
    int status; /* exit status, or -1 if it did not exit normally */
    char out[8192];
    char err[8192];
} run_result;

static void slurp(const char *path, char *buf, size_t n)
{
    FILE *f = fopen(path, "r");
    cr_assert(f);
    size_t got = fread(buf, 1, n - 1, f);
    buf[got] = '\0';
    fclose(f);
    unlink(path);
}

/* Runs tidemark with argv (NULL-terminated, without argv[0]). */
static run_result run(const char *const *args)
{
    const char *bin = getenv("TIDEMARK_BINARY");
    cr_assert(bin, "TIDEMARK_BINARY is not set (ctest sets it)");
    const char *argv[32] = {bin};
    for (size_t i = 0; args[i]; i++)
        argv[i + 1] = args[i];
    char out_path[] = "/tmp/tidemark-cli-out-XXXXXX", err_path[] = "/tmp/tidemark-cli-err-XXXXXX";
    int out_fd = mkstemp(out_path), err_fd = mkstemp(err_path);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
    posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
    pid_t pid;
    char **envp = tm_proc_child_env();
    cr_assert_eq(posix_spawn(&pid, bin, &fa, NULL, (char *const *)argv, envp), 0);
    free(envp);
    posix_spawn_file_actions_destroy(&fa);
    int ws;
    cr_assert_eq(waitpid(pid, &ws, 0), pid);
    close(out_fd);
    close(err_fd);
    run_result r;
    r.status = WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
    slurp(out_path, r.out, sizeof r.out);
    slurp(err_path, r.err, sizeof r.err);
    return r;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert(f, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

static char dir[] = "/tmp/tidemark-cli-XXXXXX";
static char cfg_path[128], in_path[128], out_dir[128];

static const char *GOOD_CONFIG =
    "{\"application_id\":\"cli\",\"input\":{\"topics\":[\"in\"],"
    "\"event_time\":{\"pointer\":\"/t\",\"format\":\"epoch_ms\"}},"
    "\"window\":{\"type\":\"tumbling\",\"size_ms\":10},"
    "\"aggregations\":[{\"name\":\"n\",\"op\":\"count\"}],\"output\":{\"topic\":\"out\"}}";

static void setup(void)
{
    cr_assert(mkdtemp(dir));
    snprintf(cfg_path, sizeof cfg_path, "%s/config.json", dir);
    snprintf(in_path, sizeof in_path, "%s/in.jsonl", dir);
    snprintf(out_dir, sizeof out_dir, "%s/out", dir);
    write_file(cfg_path, GOOD_CONFIG);
}

static void teardown(void)
{
    static const char *const files[] = {"out/output.jsonl", "out/late.jsonl", "out/dlq.jsonl",
                                        "out/batch.jsonl",  "config.json",    "in.jsonl"};
    char p[256];
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        unlink(p);
    }
    rmdir(out_dir);
    rmdir(dir);
}

TestSuite(cli, .init = setup, .fini = teardown);

Test(cli, version_and_help)
{
    run_result r = run((const char *[]){"--version", NULL});
    cr_assert_eq(r.status, 0);
    cr_assert(strstr(r.out, "tidemark "), "%s", r.out);
    r = run((const char *[]){"--help", NULL});
    cr_assert_eq(r.status, 0);
    cr_assert(strstr(r.out, "replay"), "%s", r.out);
    cr_assert(strstr(r.out, "watermark.idle_timeout_ms"), "--help lists the config keys");
}

Test(cli, replay_writes_three_files)
{
    write_file(in_path, "{\"partition\":0,\"ts\":1,\"key\":null,\"payload\":\"{\\\"t\\\":1}\"}\n"
                        "{\"partition\":0,\"ts\":2,\"key\":null,\"payload\":\"{\\\"t\\\":25}\"}\n"
                        "{\"partition\":0,\"ts\":3,\"key\":null,\"payload\":\"x\"}\n");
    run_result r = run((const char *[]){"replay", "--config", cfg_path, "--input", in_path,
                                        "--output-dir", out_dir, NULL});
    cr_assert_eq(r.status, 0, "%s", r.err);
    char p[256], buf[4096];
    snprintf(p, sizeof p, "%s/output.jsonl", out_dir);
    FILE *f = fopen(p, "r");
    cr_assert(f);
    cr_assert(fgets(buf, sizeof buf, f));
    fclose(f);
    cr_assert(strstr(buf, "\"key\":\"@0\""), "%s", buf);
    snprintf(p, sizeof p, "%s/dlq.jsonl", out_dir);
    f = fopen(p, "r");
    cr_assert(f && fgets(buf, sizeof buf, f));
    fclose(f);
    cr_assert(strstr(buf, "\"tidemark.reason\":\"invalid_json\""), "%s", buf);
    cr_assert(strstr(buf, "\"tidemark.source\":\"in/0/2\""), "%s", buf);
}

/* Reads the whole file at out_dir/name into buf; false when it is
 * missing. */
static bool read_output(const char *name, char *buf, size_t n)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", out_dir, name);
    FILE *f = fopen(p, "r");
    if (!f)
        return false;
    size_t got = fread(buf, 1, n - 1, f);
    buf[got] = '\0';
    fclose(f);
    return true;
}

Test(cli, replay_batch_writes_batch_results_and_dead_letters)
{
    /* Partition 2^31 - 1: batch results need no R (no repartitioning). */
    write_file(in_path, "{\"partition\":2147483647,\"ts\":1,\"key\":null,"
                        "\"payload\":\"{\\\"t\\\":25}\"}\n"
                        "{\"partition\":0,\"ts\":2,\"key\":null,\"payload\":\"{\\\"t\\\":1}\"}\n"
                        "{\"partition\":0,\"ts\":3,\"key\":null,\"payload\":\"x\"}\n");
    run_result r = run((const char *[]){"replay", "--batch", "--config", cfg_path, "--input",
                                        in_path, "--output-dir", out_dir, NULL});
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.err, "3 records -> 2 batch results, 1 dead letters"), "%s", r.err);
    char buf[4096];
    cr_assert(read_output("batch.jsonl", buf, sizeof buf));
    cr_assert_str_eq(buf, "{\"key\":\"@0\",\"window_start\":0,\"window_end\":10,\"count\":1,"
                          "\"aggregates\":{\"n\":1}}\n"
                          "{\"key\":\"@20\",\"window_start\":20,\"window_end\":30,\"count\":1,"
                          "\"aggregates\":{\"n\":1}}\n");
    cr_assert(read_output("dlq.jsonl", buf, sizeof buf));
    cr_assert(strstr(buf, "\"tidemark.reason\":\"invalid_json\""), "%s", buf);
    cr_assert(strstr(buf, "\"tidemark.source\":\"in/0/1\""), "%s", buf);
    cr_assert(!read_output("output.jsonl", buf, sizeof buf), "no stream output with --batch");
    cr_assert(!read_output("late.jsonl", buf, sizeof buf));
    write_file(in_path, "{\"partition\":0,\"ts\":1,\"key\":null,\"payload\":null}\n"
                        "{\"partition\":0}\n");
    r = run((const char *[]){"replay", "--config", cfg_path, "--batch", "--input", in_path,
                             "--output-dir", out_dir, NULL});
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "in.jsonl:2:"), "%s", r.err);
}

Test(cli, bad_arguments_exit_2)
{
    run_result r = run((const char *[]){"replay", "--config", cfg_path, NULL});
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "--input is required"), "%s", r.err);
    r = run((const char *[]){"replay", "--bogus", "x", NULL});
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "--bogus"), "%s", r.err);
    r = run((const char *[]){"frobnicate", NULL});
    cr_assert_eq(r.status, 2);
    r = run((const char *[]){NULL});
    cr_assert_eq(r.status, 2);
}

Test(cli, verify_range_and_push_gateway_options_exit_2)
{
    /* The range: --from and --to, or --last-closed-hour, never both. */
    run_result r = run((const char *[]){"verify", "--config", cfg_path, "--from", "0", "--to",
                                        "3600000", "--last-closed-hour", NULL});
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "--last-closed-hour chooses the range"), "%s", r.err);
    r = run(
        (const char *[]){"verify", "--config", cfg_path, "--last-closed-hour", "--to", "5", NULL});
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "not both"), "%s", r.err);
    r = run((const char *[]){"verify", "--config", cfg_path, NULL});
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "--from is required"), "%s", r.err);
    /* Plain http only, refused before anything is read. */
    r = run((const char *[]){"verify", "--config", cfg_path, "--last-closed-hour", "--push-gateway",
                             "https://pushgateway:9091", NULL});
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "--push-gateway 'https://pushgateway:9091': https is not supported"),
              "%s", r.err);
    r = run((const char *[]){"verify", "--config", cfg_path, "--last-closed-hour", "--push-gateway",
                             "pushgateway:9091", NULL});
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "expected http://HOST[:PORT][/PATH]"), "%s", r.err);
    r = run((const char *[]){"verify", "--config", cfg_path, "--push-gateway", NULL});
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "--push-gateway needs a value"), "%s", r.err);
    /* Scheduling options are verify's: backfill takes an explicit range. */
    r = run((const char *[]){"backfill", "--config", cfg_path, "--last-closed-hour", NULL});
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "unknown option '--last-closed-hour'"), "%s", r.err);
}

Test(cli, backfill_and_verify_check_their_options)
{
    /* Both take the spill bucket count, checked before anything is read. */
    const char *const cmds[] = {"verify", "backfill"};
    for (size_t i = 0; i < 2; i++) {
        run_result r = run((const char *[]){cmds[i], "--config", cfg_path, "--from", "0", "--to",
                                            "1000", "--buckets", "0", NULL});
        cr_assert_eq(r.status, 2);
        cr_assert(strstr(r.err, "--buckets: expected 1 to 16384, got '0'"), "%s", r.err);
    }
    /* backfill's range is needed and ordered; --force and --dry-run take
     * no value, and verify has neither. */
    run_result r = run((const char *[]){"backfill", "--config", cfg_path, "--from", "0", NULL});
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "--to is required"), "%s", r.err);
    r = run((const char *[]){"backfill", "--config", cfg_path, "--from", "10", "--to", "5",
                             "--force", "--dry-run", NULL});
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "tidemark backfill: --from must be before --to"), "%s", r.err);
    r = run((const char *[]){"verify", "--config", cfg_path, "--from", "0", "--to", "5",
                             "--dry-run", NULL});
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "unknown option '--dry-run'"), "%s", r.err);
}

Test(cli, bad_config_names_the_key_and_exits_2)
{
    write_file(in_path, "");
    write_file(cfg_path, "{\"application_id\":\"cli\",\"input\":{\"topics\":[\"in\"],"
                         "\"event_time\":{\"pointer\":\"/t\"}},"
                         "\"window\":{\"type\":\"tumbling\",\"size_ms\":-5},"
                         "\"output\":{\"topic\":\"out\"}}");
    run_result r = run((const char *[]){"replay", "--config", cfg_path, "--input", in_path,
                                        "--output-dir", out_dir, NULL});
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "window.size_ms"), "%s", r.err);
    write_file(cfg_path, GOOD_CONFIG);
    r = run((const char *[]){"replay", "--config", cfg_path, "--input", in_path, "--output-dir",
                             out_dir, "--set", "window.sise_ms=5", NULL});
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "window.sise_ms"), "%s", r.err);
    r = run((const char *[]){"replay", "--config", cfg_path, "--input", in_path, "--output-dir",
                             out_dir, "--set", "watermark.combine=quantile", NULL});
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "watermark.quantile") && strstr(r.err, "required"), "%s", r.err);
    r = run((const char *[]){"replay", "--config", cfg_path, "--input", in_path, "--output-dir",
                             out_dir, "--set", "watermark.combine=quantile", "--set",
                             "watermark.quantile=1.5", NULL});
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "watermark.quantile") && strstr(r.err, "must be in (0, 1]"), "%s",
              r.err);
}

Test(cli, unreadable_input_exits_2)
{
    char missing[160];
    snprintf(missing, sizeof missing, "%s/nope.jsonl", dir);
    run_result r = run((const char *[]){"replay", "--config", cfg_path, "--input", missing,
                                        "--output-dir", out_dir, NULL});
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "nope.jsonl"), "%s", r.err);
}

Test(cli, malformed_line_names_its_number_and_exits_2)
{
    write_file(in_path, "{\"partition\":0,\"ts\":1,\"key\":null,\"payload\":null}\n"
                        "\n"
                        "{\"partition\":0,\"ts\":\"late\",\"key\":null,\"payload\":null}\n");
    run_result r = run((const char *[]){"replay", "--config", cfg_path, "--input", in_path,
                                        "--output-dir", out_dir, NULL});
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "in.jsonl:3:"), "%s", r.err);
    cr_assert(strstr(r.err, "\"ts\""), "%s", r.err);
    write_file(in_path, "{\"topic\":\"other\",\"partition\":0,\"ts\":1,\"payload\":null}\n");
    r = run((const char *[]){"replay", "--config", cfg_path, "--input", in_path, "--output-dir",
                             out_dir, NULL});
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "in.jsonl:1:") && strstr(r.err, "other"), "%s", r.err);
    write_file(in_path, "not json\n");
    r = run((const char *[]){"replay", "--config", cfg_path, "--input", in_path, "--output-dir",
                             out_dir, NULL});
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "in.jsonl:1:"), "%s", r.err);
    /* Bad base64 in a value the line says is base64 (issue 9). */
    write_file(in_path, "{\"partition\":0,\"ts\":1,\"key\":\"//4=\",\"key_encoding\":\"base64\","
                        "\"payload\":null}\n"
                        "{\"partition\":0,\"ts\":2,\"key\":null,\"payload\":\"e30\","
                        "\"payload_encoding\":\"base64\"}\n");
    r = run((const char *[]){"replay", "--config", cfg_path, "--input", in_path, "--output-dir",
                             out_dir, NULL});
    cr_assert_eq(r.status, 2, "%s", r.err);
    cr_assert(strstr(r.err, "in.jsonl:2:"), "%s", r.err);
    cr_assert(strstr(r.err, "\"payload\" is not valid base64"), "%s", r.err);
}

/* Issue 9: the instance id becomes "<application_id>-<instance id>", the
 * group.instance.id; a 40 KB one was reported as a broker transport
 * failure. It is checked at startup, before any connection. */
Test(cli, bad_instance_id_names_the_option_and_exits_2)
{
    static char id[40001];
    memset(id, 'x', sizeof id - 1);
    run_result r = run((const char *[]){"run", "--config", cfg_path, "--instance-id", id, NULL});
    cr_assert_eq(r.status, 2, "%s", r.err);
    cr_assert(strstr(r.err, "tidemark run: --instance-id 'xxx"), "%s", r.err);
    cr_assert(strstr(r.err, "too long"), "%s", r.err);
    r = run((const char *[]){"run", "--config", cfg_path, "--instance-id", "pod 1", NULL});
    cr_assert_eq(r.status, 2, "%s", r.err);
    cr_assert(strstr(r.err, "--instance-id 'pod 1'"), "%s", r.err);
    cr_assert(strstr(r.err, "may contain only A-Z a-z 0-9 . _ -"), "%s", r.err);
}

/* R defaults to the largest partition number + 1, which for partition
 * 2^31 - 1 is no int32: replay says to set repartition.partitions. */
Test(cli, repartitioned_replay_needs_room_for_r)
{
    write_file(in_path, "{\"partition\":2147483647,\"ts\":1,\"key\":null,\"payload\":null}\n");
    run_result r = run((const char *[]){"replay", "--config", cfg_path, "--input", in_path,
                                        "--output-dir", out_dir, NULL});
    cr_assert_eq(r.status, 2, "%s", r.err);
    cr_assert(strstr(r.err, "repartition.partitions") && strstr(r.err, "2147483647"), "%s", r.err);
    r = run((const char *[]){"replay", "--config", cfg_path, "--input", in_path, "--output-dir",
                             out_dir, "--set", "repartition.partitions=4", NULL});
    cr_assert_eq(r.status, 0, "%s", r.err);
}
