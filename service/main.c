/*
 * main.c: the tidemark command line.
 *
 * Exit codes: 0 success; 2 bad arguments, bad configuration or unreadable
 * or malformed input (the message names the key or the line); 1 anything
 * else.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "config.h"
#include "replay.h"

extern char **environ;

enum { EXIT_USAGE = 2 };

static void usage(FILE *f)
{
    fputs("usage: tidemark <command> [options]\n"
          "\n"
          "commands:\n"
          "  replay --config FILE --input IN.jsonl --output-dir DIR [--set KEY=VALUE]...\n"
          "      run the engine offline over records in the replay envelope and\n"
          "      write output.jsonl, late.jsonl and dlq.jsonl into DIR\n"
          "\n"
          "options:\n"
          "  --set KEY=VALUE   override a configuration key (dotted name); beats\n"
          "                    the file and TIDEMARK_* environment variables\n"
          "  --help            this text and the configuration reference\n"
          "  --version         print the version\n"
          "\n"
          "exit status: 0 ok, 2 bad arguments, configuration or input, 1 other errors\n",
          f);
}

typedef struct replay_args {
    const char *config;
    const char *input;
    const char *output_dir;
    const char **overrides;
    size_t n_overrides;
} replay_args;

/* Parses `replay` options; returns 0 or prints the problem and returns 2. */
static int parse_replay_args(int argc, char **argv, replay_args *a)
{
    a->overrides = tm_xcalloc((size_t)argc, sizeof *a->overrides);
    for (int i = 0; i < argc; i++) {
        const char *opt = argv[i];
        const char **dst = NULL;
        if (strcmp(opt, "--config") == 0)
            dst = &a->config;
        else if (strcmp(opt, "--input") == 0)
            dst = &a->input;
        else if (strcmp(opt, "--output-dir") == 0)
            dst = &a->output_dir;
        else if (strcmp(opt, "--set") == 0)
            dst = &a->overrides[a->n_overrides++];
        if (!dst) {
            fprintf(stderr, "tidemark replay: unknown option '%s'\n", opt);
            return EXIT_USAGE;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "tidemark replay: %s needs a value\n", opt);
            return EXIT_USAGE;
        }
        *dst = argv[++i];
    }
    const char *missing = !a->config       ? "--config"
                          : !a->input      ? "--input"
                          : !a->output_dir ? "--output-dir"
                                           : NULL;
    if (missing) {
        fprintf(stderr, "tidemark replay: %s is required (see tidemark --help)\n", missing);
        return EXIT_USAGE;
    }
    return 0;
}

static int cmd_replay(int argc, char **argv)
{
    replay_args a = {0};
    int status = parse_replay_args(argc, argv, &a);
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
    int rc = tm_replay_run(cfg, a.input, a.output_dir, &s, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "tidemark replay: %s\n", err);
        status = (rc == TM_EIO || rc == TM_EPARSE || rc == TM_ECONFIG) ? EXIT_USAGE : 1;
        goto out;
    }
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
    fprintf(stderr, "tidemark: unknown command '%s' (see tidemark --help)\n", cmd);
    return EXIT_USAGE;
}
