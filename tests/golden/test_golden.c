/*
 * Golden tests: runs replay over every case folder (config.json,
 * input.jsonl, expected/{output,late,dlq}.jsonl) and compares by meaning
 * (tests/support/golden_compare.h); then `replay --batch` over the same
 * input against expected/batch.jsonl and the same dead letters (or
 * expected/batch_dlq.jsonl, where a case's stream has dead letters the
 * batch does not: the wall-clock guard). Every case has batch results.
 *
 * Cases: tests/golden/cases/ (ours) and tests/golden/examples/ (the
 * specification's worked examples; compared with ../shared/examples/ when
 * the specification is checked out beside the repository). The v1
 * examples run with repartition.mode=never, as the examples' README says:
 * their configs (the specification's, byte for byte) leave the mode to
 * its v2 default.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "golden_compare.h"
#include "replay.h"

enum { MAX_CASES = 64 };

/* The specification's v1 examples: their inputs are partitioned by the
 * group key, their expected outputs those of repartition.mode never. */
static const char *const v1_examples[] = {"tiny", "tumbling", "session", "multitopic"};
static const char *const v2_examples[] = {"repartition", "quantile", "repartition-session"};
#define N_OF(a) (sizeof(a) / sizeof(a)[0])

/* Removes a replay's output folder and its files (a batch run's too). */
static void remove_outputs(const char *out_dir)
{
    static const char *const files[] = {"output.jsonl", "late.jsonl", "dlq.jsonl", "batch.jsonl"};
    char path[4096];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", out_dir, files[i]);
        unlink(path);
    }
    rmdir(out_dir);
}

/* Replays the case in dir under its config.json and the n_ov overrides
 * ("key=value", as --set takes them). */
static void run_case(const char *dir, const char *name, const char *const *ov, size_t n_ov)
{
    /* Sized so that the longest folder (run_cases_under's 1024) fits. */
    char path[4096], out_dir[2048], want_dir[2048], err[1024];
    snprintf(path, sizeof path, "%s/config.json", dir);
    tm_config *cfg = NULL;
    cr_assert_eq(tm_config_load(&cfg, path, NULL, ov, n_ov, err, sizeof err), 0, "%s: %s", name,
                 err);
    snprintf(out_dir, sizeof out_dir, "/tmp/tidemark-golden-%d-%s", (int)getpid(), name);
    snprintf(path, sizeof path, "%s/input.jsonl", dir);
    int rc = tm_replay_run(cfg, path, out_dir, NULL, err, sizeof err);
    cr_assert_eq(rc, 0, "%s: replay failed: %s", name, err);
    snprintf(want_dir, sizeof want_dir, "%s/expected", dir);
    tm_golden_compare_dirs(name, out_dir, want_dir);
    remove_outputs(out_dir);

    snprintf(out_dir, sizeof out_dir, "/tmp/tidemark-golden-batch-%d-%s", (int)getpid(), name);
    rc = tm_replay_batch(cfg, path, out_dir, NULL, err, sizeof err);
    cr_assert_eq(rc, 0, "%s: replay --batch failed: %s", name, err);
    char want_batch[2200], want_dlq[2200];
    struct stat st;
    snprintf(want_batch, sizeof want_batch, "%s/batch.jsonl", want_dir);
    cr_assert(stat(want_batch, &st) == 0, "%s: no expected/batch.jsonl", name);
    snprintf(want_dlq, sizeof want_dlq, "%s/batch_dlq.jsonl", want_dir);
    if (stat(want_dlq, &st) != 0)
        snprintf(want_dlq, sizeof want_dlq, "%s/dlq.jsonl", want_dir);
    char label[300];
    snprintf(label, sizeof label, "%s (batch)", name);
    tm_golden_compare_batch(label, out_dir, want_batch, want_dlq);
    remove_outputs(out_dir);
    tm_config_free(cfg);
}

/* The folders under root (entries that are not folders, like a
 * README.md, are not cases): with a config.json into cases, the others
 * into without_config (at most MAX_CASES of each). */
typedef struct case_list {
    char cases[MAX_CASES][256];
    size_t n_cases;
    char without_config[MAX_CASES][256];
    size_t n_without_config;
} case_list;

static void list_cases(const char *root, case_list *out)
{
    memset(out, 0, sizeof *out);
    DIR *d = opendir(root);
    cr_assert(d, "case folder %s is missing", root);
    struct dirent *e;
    while ((e = readdir(d))) {
        char dir[1024], cfg[1100];
        if (e->d_name[0] == '.')
            continue;
        snprintf(dir, sizeof dir, "%s/%s", root, e->d_name);
        struct stat st;
        if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
            continue;
        snprintf(cfg, sizeof cfg, "%s/config.json", dir);
        bool has_config = stat(cfg, &st) == 0;
        char(*names)[256] = has_config ? out->cases : out->without_config;
        size_t *n = has_config ? &out->n_cases : &out->n_without_config;
        cr_assert_lt(*n, MAX_CASES, "more than %d folders in %s", MAX_CASES, root);
        snprintf(names[(*n)++], sizeof names[0], "%s", e->d_name);
    }
    closedir(d);
}

static bool is_one_of(const char *name, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(name, names[i]) == 0)
            return true;
    return false;
}

/* Runs every case folder under root, those named in never_names with
 * repartition.mode=never; returns how many. A folder without a
 * config.json fails the run: it would otherwise be skipped silently (a
 * misnamed config.json, a case half added). */
static size_t run_cases_under(const char *root, const char *const *never_names, size_t n_never)
{
    static const char *const never[] = {"repartition.mode=never"};
    static case_list l;
    list_cases(root, &l);
    cr_assert_eq(l.n_without_config, 0, "%s/%s: a case folder without config.json", root,
                 l.without_config[0]);
    for (size_t i = 0; i < l.n_cases; i++) {
        char dir[1024];
        snprintf(dir, sizeof dir, "%s/%s", root, l.cases[i]);
        bool v1 = is_one_of(l.cases[i], never_names, n_never);
        run_case(dir, l.cases[i], never, v1 ? 1 : 0);
    }
    return l.n_cases;
}

static const char *source_dir(void)
{
    const char *s = getenv("TIDEMARK_SOURCE_DIR");
    cr_assert(s, "TIDEMARK_SOURCE_DIR is not set (ctest sets it)");
    return s;
}

/* Whether the files at a and b hold the same bytes. */
static bool same_bytes(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    cr_assert(fa && fb, "cannot read %s or %s", a, b);
    int ca, cb;
    do {
        ca = fgetc(fa);
        cb = fgetc(fb);
    } while (ca == cb && ca != EOF);
    fclose(fa);
    fclose(fb);
    return ca == cb;
}

Test(golden, shared_examples)
{
    static const char *const files[] = {"config.json",           "input.jsonl",
                                        "expected/output.jsonl", "expected/late.jsonl",
                                        "expected/dlq.jsonl",    "expected/batch.jsonl"};
    char root[4096], spec[4096];
    snprintf(root, sizeof root, "%s/tests/golden/examples", source_dir());
    snprintf(spec, sizeof spec, "%s/../shared/examples", source_dir());
    cr_assert_eq(run_cases_under(root, v1_examples, N_OF(v1_examples)),
                 N_OF(v1_examples) + N_OF(v2_examples), "expected the seven worked examples");
    struct stat st;
    if (stat(spec, &st) != 0)
        return; /* a checkout without the specification beside it */
    for (size_t i = 0; i < N_OF(v1_examples) + N_OF(v2_examples); i++)
        for (size_t j = 0; j < N_OF(files); j++) {
            const char *example =
                i < N_OF(v1_examples) ? v1_examples[i] : v2_examples[i - N_OF(v1_examples)];
            char ours[8300], theirs[8300];
            snprintf(ours, sizeof ours, "%s/%s/%s", root, example, files[j]);
            snprintf(theirs, sizeof theirs, "%s/%s/%s", spec, example, files[j]);
            cr_assert(same_bytes(ours, theirs), "%s differs from the specification's %s", ours,
                      theirs);
        }
}

Test(golden, own_cases)
{
    char root[4096];
    snprintf(root, sizeof root, "%s/tests/golden/cases", source_dir());
    cr_assert_geq(run_cases_under(root, NULL, 0), 1, "no golden cases found in %s", root);
}

/* list_cases tells a case from a folder without config.json, and passes
 * over files. */
Test(golden, folder_without_config_is_reported)
{
    char root[] = "/tmp/tidemark-golden-list-XXXXXX", path[256];
    cr_assert(mkdtemp(root), "mkdtemp");
    static const char *const made[] = {"with", "with/config.json", "without", "without/input.jsonl",
                                       "README.md"};
    for (size_t i = 0; i < sizeof made / sizeof made[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", root, made[i]);
        if (strchr(made[i], '.')) {
            FILE *f = fopen(path, "w");
            cr_assert(f, "cannot write %s", path);
            fclose(f);
        } else {
            cr_assert_eq(mkdir(path, 0755), 0, "mkdir %s", path);
        }
    }
    static case_list l;
    list_cases(root, &l);
    for (size_t i = sizeof made / sizeof made[0]; i-- > 0;) {
        snprintf(path, sizeof path, "%s/%s", root, made[i]);
        remove(path);
    }
    rmdir(root);
    cr_assert_eq(l.n_cases, 1);
    cr_assert_str_eq(l.cases[0], "with");
    cr_assert_eq(l.n_without_config, 1);
    cr_assert_str_eq(l.without_config[0], "without");
}

/* A repartitioning replay reads its input twice (the partition numbers
 * first: the source tasks and R); a pipe, which cannot be read twice, is
 * copied as it is read, with the same results as the file. */
Test(golden, repartitioned_replay_reads_a_pipe)
{
    char dir[4096], path[4200], err[1024];
    snprintf(dir, sizeof dir, "%s/tests/golden/cases/repartition_global_key", source_dir());
    snprintf(path, sizeof path, "%s/input.jsonl", dir);
    FILE *f = fopen(path, "r");
    cr_assert(f, "cannot read %s", path);
    char text[8192];
    size_t n = fread(text, 1, sizeof text, f);
    fclose(f);
    cr_assert(n > 0 && n < sizeof text);
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    cr_assert_eq(write(fds[1], text, n), (ssize_t)n, "the input fits the pipe's buffer");
    close(fds[1]);
    cr_assert_eq(dup2(fds[0], 0), 0);
    close(fds[0]);
    snprintf(path, sizeof path, "%s/config.json", dir);
    tm_config *cfg = NULL;
    cr_assert_eq(tm_config_load(&cfg, path, NULL, NULL, 0, err, sizeof err), 0, "%s", err);
    char out_dir[256];
    snprintf(out_dir, sizeof out_dir, "/tmp/tidemark-golden-pipe-%d", (int)getpid());
    cr_assert_eq(tm_replay_run(cfg, "/dev/stdin", out_dir, NULL, err, sizeof err), 0, "%s", err);
    snprintf(path, sizeof path, "%s/expected", dir);
    tm_golden_compare_dirs("a pipe", out_dir, path);
    remove_outputs(out_dir);
    tm_config_free(cfg);
}
