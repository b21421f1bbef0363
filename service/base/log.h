/*
 * log.h: a level-gated, thread-safe logger writing one JSON object per line
 * on stderr: {"time":"2026-11-21T10:00:00.123Z","level":"info",
 * "module":"runner","msg":"..."}.
 *
 * The level check happens before the arguments are evaluated, so a
 * disabled debug line costs one comparison.
 */
#ifndef TM_LOG_H
#define TM_LOG_H

typedef enum { TM_LOG_DEBUG, TM_LOG_INFO, TM_LOG_WARN, TM_LOG_ERROR } tm_log_level;

/* The current threshold; lines below it are dropped. Default: info. */
extern tm_log_level tm_log_threshold;

/* Parses "debug", "info", "warn" or "error"; returns 0 or -1. */
int tm_log_parse_level(const char *name, tm_log_level *out);

/* Writes one line; use the TM_LOG macro instead. */
__attribute__((format(printf, 3, 4))) void tm_log_write(tm_log_level level, const char *module,
                                                        const char *fmt, ...);

#define TM_LOG(level, module, ...)                                                                 \
    do {                                                                                           \
        if ((level) >= tm_log_threshold)                                                           \
            tm_log_write((level), (module), __VA_ARGS__);                                          \
    } while (0)

#endif
