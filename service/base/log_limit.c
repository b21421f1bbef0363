/*
 * log_limit.c: see log_limit.h. A linear scan over a few dozen slots: it
 * runs only for lines that are logged, which are rare next to records.
 */
#include "log_limit.h"

#include <assert.h>
#include <stdbool.h>
#include <string.h>

/* key with each run of digits as one '0', cut to fit kind. */
static void kind_of(const char *key, char kind[TM_LOG_LIMIT_KEY_MAX])
{
    size_t n = 0;
    for (const char *p = key; *p && n + 1 < TM_LOG_LIMIT_KEY_MAX; p++) {
        bool digit = *p >= '0' && *p <= '9';
        if (digit && n > 0 && kind[n - 1] == '0' && p > key && p[-1] >= '0' && p[-1] <= '9')
            continue;
        kind[n++] = digit ? '0' : *p;
    }
    kind[n] = '\0';
}

/* The slot holding kind, or NULL. */
static tm_log_limit_slot *find(tm_log_limit *l, const char *kind)
{
    for (size_t i = 0; i < TM_LOG_LIMIT_SLOTS; i++) {
        tm_log_limit_slot *s = &l->slot[i];
        if (s->key[0] && strcmp(s->key, kind) == 0)
            return s;
    }
    return NULL;
}

/* A free slot, else the one seen longest ago: a kind that keeps
 * repeating keeps its slot, one-off lines make room. */
static tm_log_limit_slot *take(tm_log_limit *l)
{
    tm_log_limit_slot *stale = &l->slot[0];
    for (size_t i = 0; i < TM_LOG_LIMIT_SLOTS; i++) {
        tm_log_limit_slot *s = &l->slot[i];
        if (!s->key[0])
            return s;
        if (s->seen_ms < stale->seen_ms)
            stale = s;
    }
    return stale;
}

bool tm_log_limit_admit(tm_log_limit *l, const char *key, int64_t now_ms, uint64_t *suppressed)
{
    assert(l && key && suppressed);
    *suppressed = 0;
    /* An empty key would look like a free slot: never limited. */
    if (!key[0])
        return true;
    char kind[TM_LOG_LIMIT_KEY_MAX];
    kind_of(key, kind);
    tm_log_limit_slot *s = find(l, kind);
    if (s)
        s->seen_ms = now_ms;
    if (s && now_ms - s->logged_ms < l->window_ms) {
        s->suppressed++;
        return false;
    }
    if (s) {
        *suppressed = s->suppressed;
    } else {
        s = take(l);
        memcpy(s->key, kind, sizeof kind);
    }
    s->logged_ms = s->seen_ms = now_ms;
    s->suppressed = 0;
    return true;
}
