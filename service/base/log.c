/*
 * log.c: see log.h. One formatted line is written with a single fputs under
 * the stdio lock, so lines from threads (librdkafka's) never interleave.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "err.h"

tm_log_level tm_log_threshold = TM_LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

int tm_log_parse_level(const char *name, tm_log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (tm_log_level)i;
            return 0;
        }
    }
    return -1;
}

void tm_log_write(tm_log_level level, const char *module, const char *fmt, ...)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct tm utc;
    gmtime_r(&now.tv_sec, &utc);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);

    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    tm_vformat(msg, sizeof msg, fmt, ap);
    va_end(ap);

    tm_buf line = {0};
    tm_buf_printf(&line, "{\"time\":\"%s.%03ldZ\",\"level\":\"%s\",\"module\":", stamp,
                  now.tv_nsec / 1000000, level_names[level]);
    tm_buf_put_json_string(&line, module, strlen(module));
    tm_buf_puts(&line, ",\"msg\":");
    tm_buf_put_json_string(&line, msg, strlen(msg));
    tm_buf_puts(&line, "}\n");
    fputs(line.data, stderr);
    tm_buf_free(&line);
}
