/*
 * Exactly-once, the baseline: one instance of `tidemark run` processes a
 * fixed input (the workload generator's order events, 5,000 over 4
 * partitions) with nothing going wrong; its committed output, read with
 * read_committed, must equal `replay` of the same input, by meaning, and
 * its dead letters byte for byte: the hostile values (a valid order
 * followed by a NUL and more, binary bytes that are not UTF-8) are
 * invalid_json with every byte in both.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "eos_harness.h"

TestSuite(eos, .fini = tm_eos_teardown);

/* Lines of the file dir/sub/name that contain every one of two needles. */
static size_t lines_with(const tm_eos *e, const char *sub, const char *name, const char *a,
                         const char *b)
{
    char path[TM_EOS_PATH + 64];
    snprintf(path, sizeof path, "%s/%s/%s", e->dir, sub, name);
    FILE *f = fopen(path, "r");
    cr_assert(f, "cannot open %s", path);
    char *line = NULL;
    size_t cap = 0, n = 0;
    while (getline(&line, &cap, f) > 0)
        n += strstr(line, a) && strstr(line, b);
    free(line);
    fclose(f);
    return n;
}

Test(eos, equality)
{
    tm_eos *e = tm_eos_setup(&(tm_eos_options){.name = "equality"});
    tm_eos_run_once(e, 5000, 1);
    tm_eos_verify(e);
    /* The hostile values are in the comparison, whole: a valid order, the
     * NUL (escaped) and what follows it; binary bytes as base64. */
    static const char *const sides[] = {"live", "replay"};
    for (int i = 0; i < 2; i++) {
        cr_assert_gt(lines_with(e, sides[i], "dlq.jsonl", "}\\u0000{", "\"invalid_json\""), 0,
                     "%s: no dead letter of a value with a NUL after valid JSON", sides[i]);
        cr_assert_gt(
            lines_with(e, sides[i], "dlq.jsonl", "\"payload_encoding\":\"base64\"", "invalid_json"),
            0, "%s: no dead letter of a binary value", sides[i]);
    }
    tm_eos_pass(e);
}
