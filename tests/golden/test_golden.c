/*
 * Golden tests: runs replay over every case folder (config.json,
 * input.jsonl, expected/{output,late,dlq}.jsonl) and compares by meaning
 * (tests/support/golden_compare.h).
 *
 * Cases: tests/golden/cases/ (ours) and ../shared/examples/ (the project's
 * worked examples, beside the checkout).
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "config.h"
#include "golden_compare.h"
#include "replay.h"

static void run_case(const char *dir, const char *name)
{
    /* Sized so that the longest folder (run_cases_under's 1024) fits. */
    char path[4096], out_dir[2048], want_dir[2048], err[1024];
    snprintf(path, sizeof path, "%s/config.json", dir);
    tm_config *cfg = NULL;
    cr_assert_eq(tm_config_load(&cfg, path, NULL, NULL, 0, err, sizeof err), 0, "%s: %s", name,
                 err);
    snprintf(out_dir, sizeof out_dir, "/tmp/tidemark-golden-%d-%s", (int)getpid(), name);
    snprintf(path, sizeof path, "%s/input.jsonl", dir);
    int rc = tm_replay_run(cfg, path, out_dir, NULL, err, sizeof err);
    cr_assert_eq(rc, 0, "%s: replay failed: %s", name, err);
    snprintf(want_dir, sizeof want_dir, "%s/expected", dir);
    tm_golden_compare_dirs(name, out_dir, want_dir);
    static const char *const files[] = {"output.jsonl", "late.jsonl", "dlq.jsonl"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", out_dir, files[i]);
        unlink(path);
    }
    rmdir(out_dir);
    tm_config_free(cfg);
}

/* Runs every case folder under root; returns how many. */
static int run_cases_under(const char *root)
{
    DIR *d = opendir(root);
    cr_assert(d, "case folder %s is missing", root);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char dir[1024], cfg[1100];
        if (e->d_name[0] == '.')
            continue;
        snprintf(dir, sizeof dir, "%s/%s", root, e->d_name);
        snprintf(cfg, sizeof cfg, "%s/config.json", dir);
        struct stat st;
        if (stat(cfg, &st) != 0)
            continue;
        run_case(dir, e->d_name);
        n++;
    }
    closedir(d);
    return n;
}

static const char *source_dir(void)
{
    const char *s = getenv("TIDEMARK_SOURCE_DIR");
    cr_assert(s, "TIDEMARK_SOURCE_DIR is not set (ctest sets it)");
    return s;
}

Test(golden, shared_examples)
{
    char root[4096];
    snprintf(root, sizeof root, "%s/../shared/examples", source_dir());
    cr_assert_geq(run_cases_under(root), 4, "expected the four worked examples");
}

Test(golden, own_cases)
{
    char root[4096];
    snprintf(root, sizeof root, "%s/tests/golden/cases", source_dir());
    cr_assert_geq(run_cases_under(root), 1, "no golden cases found in %s", root);
}
