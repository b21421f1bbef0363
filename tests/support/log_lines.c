/*
 * log_lines.c: see log_lines.h. Times are compared as the logger writes
 * them ("time":"YYYY-MM-DDTHH:MM:SS.mmmZ"), which sort as text.
 */
#include "log_lines.h"

#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t tm_log_lines_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The logger's "time" field for ms. */
static void stamp(int64_t ms, char *out, size_t len)
{
    time_t s = (time_t)(ms / 1000);
    struct tm utc;
    gmtime_r(&s, &utc);
    char day[32];
    strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &utc);
    snprintf(out, len, "{\"time\":\"%s.%03dZ\"", day, (int)(ms % 1000));
}

int tm_log_lines_count(const char *path, const char *module, const char *needle, int64_t from_ms,
                       int64_t to_ms, bool *within)
{
    char from[64], to[64], mod[128];
    stamp(from_ms, from, sizeof from);
    stamp(to_ms, to, sizeof to);
    snprintf(mod, sizeof mod, "\"module\":\"%s\"", module);
    size_t tlen = strlen(from);
    FILE *f = fopen(path, "r");
    cr_assert(f, "cannot read %s", path);
    char *line = NULL;
    size_t cap = 0;
    int n = 0;
    *within = true;
    while (getline(&line, &cap, f) > 0) {
        if (!strstr(line, mod) || !strstr(line, needle))
            continue;
        n++;
        if (strncmp(line, from, tlen) < 0 || strncmp(line, to, tlen) >= 0) {
            *within = false;
            cr_log_warn("logged outside [%s, %s): %s", from + 1, to + 1, line);
        }
    }
    free(line);
    fclose(f);
    return n;
}
