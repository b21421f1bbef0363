/*
 * prom_text.c: see prom_text.h.
 */
#include "prom_text.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

/* One sample line split in place-independent pieces. */
typedef struct sample {
    char name[128];
    char labels[512]; /* between the braces, "" without */
    double value;
} sample;

static bool parse_sample(const char *line, size_t len, sample *s)
{
    size_t i = 0;
    while (i < len && (isalnum((unsigned char)line[i]) || line[i] == '_' || line[i] == ':'))
        i++;
    if (i == 0 || i >= sizeof s->name)
        return false;
    memcpy(s->name, line, i);
    s->name[i] = '\0';
    s->labels[0] = '\0';
    if (i < len && line[i] == '{') {
        const char *close = memchr(line + i, '}', len - i);
        if (!close)
            return false;
        size_t n = (size_t)(close - line) - i - 1;
        if (n >= sizeof s->labels)
            return false;
        memcpy(s->labels, line + i + 1, n);
        s->labels[n] = '\0';
        i = (size_t)(close - line) + 1;
    }
    if (i >= len || line[i] != ' ')
        return false;
    char num[64];
    size_t n = len - i - 1;
    if (n == 0 || n >= sizeof num)
        return false;
    memcpy(num, line + i + 1, n);
    num[n] = '\0';
    char *end;
    s->value = strtod(num, &end);
    return *end == '\0' || strcmp(num, "+Inf") == 0 || strcmp(num, "NaN") == 0;
}

/* The line at *p (without its newline) in *line and *len; advances *p.
 * Returns false at the end of the text. */
static bool next_line(const char **p, const char **line, size_t *len)
{
    if (!*p || !**p)
        return false;
    const char *nl = strchr(*p, '\n');
    *line = *p;
    *len = nl ? (size_t)(nl - *p) : strlen(*p);
    *p = nl ? nl + 1 : NULL;
    return true;
}

double tm_prom_sum(const char *text, const char *name, const char *labels, size_t *count)
{
    double sum = 0;
    size_t n = 0;
    const char *p = text, *line;
    size_t len;
    while (next_line(&p, &line, &len)) {
        sample s;
        if (line[0] == '#' || !parse_sample(line, len, &s) || strcmp(s.name, name) != 0)
            continue;
        if (labels && *labels && !strstr(s.labels, labels))
            continue;
        sum += s.value;
        n++;
    }
    if (count)
        *count = n;
    return sum;
}

int tm_prom_has_family(const char *text, const char *name)
{
    char needle[160];
    snprintf(needle, sizeof needle, "# TYPE %s ", name);
    return strstr(text, needle) != NULL;
}

/* The family a sample belongs to, given the declared type of its base. */
static bool belongs(const char *text, const char *sample_name, char *family, size_t cap)
{
    snprintf(family, cap, "%s", sample_name);
    if (tm_prom_has_family(text, family))
        return true;
    static const char *const suffixes[] = {"_bucket", "_sum", "_count"};
    for (size_t k = 0; k < 3; k++) {
        size_t ln = strlen(sample_name), ls = strlen(suffixes[k]);
        if (ln > ls && strcmp(sample_name + ln - ls, suffixes[k]) == 0) {
            snprintf(family, cap, "%.*s", (int)(ln - ls), sample_name);
            char needle[160];
            snprintf(needle, sizeof needle, "# TYPE %s histogram", family);
            if (strstr(text, needle))
                return true;
        }
    }
    return false;
}

size_t tm_prom_check_format(const char *text)
{
    size_t families = 0;
    char declared[128] = "";
    const char *p = text, *line;
    size_t len;
    while (next_line(&p, &line, &len)) {
        if (len == 0)
            continue;
        if (strncmp(line, "# HELP ", 7) == 0)
            continue;
        if (strncmp(line, "# TYPE ", 7) == 0) {
            sscanf(line + 7, "%127s", declared);
            families++;
            continue;
        }
        sample s;
        cr_assert(parse_sample(line, len, &s), "not a sample line: %.*s", (int)len, line);
        char family[128];
        cr_assert(belongs(text, s.name, family, sizeof family),
                  "sample of an undeclared family: %.*s", (int)len, line);
        cr_assert_str_eq(family, declared, "sample outside its family's block: %.*s", (int)len,
                         line);
    }
    return families;
}

void tm_prom_matches_doc(const char *text, const char *doc, const char *start, const char *stop)
{
    char path[1024];
    const char *src = getenv("TIDEMARK_SOURCE_DIR");
    cr_assert(src, "TIDEMARK_SOURCE_DIR is not set (ctest sets it)");
    snprintf(path, sizeof path, "%s/%s", src, doc);
    FILE *f = fopen(path, "r");
    cr_assert(f, "cannot read %s", path);
    char line[1024];
    size_t documented = 0;
    bool in = start == NULL;
    while (fgets(line, sizeof line, f)) {
        if (stop && strcmp(line, stop) == 0)
            break;
        if (start && strcmp(line, start) == 0)
            in = true;
        char name[128];
        if (!in || sscanf(line, "| `%127[a-z_]` |", name) != 1 ||
            strncmp(name, "tidemark_", 9) != 0)
            continue;
        documented++;
        cr_assert(tm_prom_has_family(text, name), "%s is in %s but not in the text", name, doc);
    }
    fclose(f);
    cr_assert(in, "no heading '%s' in %s", start, doc);
    size_t families = tm_prom_check_format(text);
    cr_assert_eq(families, documented, "%zu families in the text, %zu documented in %s", families,
                 documented, doc);
}
