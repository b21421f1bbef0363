/*
 * backfill.c: see backfill.h.
 */
#include "backfill.h"

#include "murmur2.h"
#include "output.h"
#include "window.h"

/* Where a record of w goes (backfill.h). */
static int32_t partition_of(const tm_config *cfg, const tm_verify_window *w, int32_t n_tasks)
{
    if (w->has_actual && w->actual_partition >= 0)
        return w->actual_partition;
    if (!tm_config_repartitions(cfg) && w->input_partition >= 0)
        return w->input_partition;
    return tm_murmur2_partition(w->key, w->key_len, n_tasks > 0 ? n_tasks : 1);
}

tm_backfill_kind tm_backfill_record(const tm_config *cfg, const tm_verify_window *w,
                                    int32_t n_tasks, tm_buf *key, tm_buf *value, int32_t *partition)
{
    tm_buf_reset(key);
    tm_buf_reset(value);
    /* Unjudged: the range cuts a batch session of the key, so its
     * sessions inside are not the whole story (verify.h). */
    if (w->verdict == TM_VERIFY_EQUAL || w->verdict == TM_VERIFY_UNJUDGED ||
        (!w->has_expected && !w->has_actual))
        return TM_BACKFILL_NONE;
    tm_window_result r = {
        .key = w->key,
        .key_len = w->key_len,
        .start = w->start,
        .end = w->end,
        .tombstone = !w->has_expected,
        /* An unreadable revision (-1) is followed by 0 like a missing one. */
        .revision = w->has_actual ? w->actual_revision + 1 : 0,
        .trigger = TM_TRIGGER_BACKFILL,
        .count = w->expected_count,
        .acc = w->expected_acc,
    };
    tm_output_key(key, &r);
    if (!r.tombstone)
        tm_output_value(value, cfg, &r);
    *partition = partition_of(cfg, w, n_tasks);
    return r.tombstone ? TM_BACKFILL_TOMBSTONE : TM_BACKFILL_REVISION;
}

bool tm_backfill_window_live(const tm_config *cfg, int64_t end, int64_t live_watermark)
{
    /* Saturating: a watermark of INT64_MIN (a task that has none yet)
     * leaves every window live. */
    int64_t expiry =
        end > INT64_MAX - cfg->allowed_lateness_ms ? INT64_MAX : end + cfg->allowed_lateness_ms;
    return expiry > live_watermark;
}
