/*
 * intake.c: see intake.h. The order is SEMANTICS 2-3's: decode, then the
 * receipt-time skew check, then the wall-clock guard.
 */
#include "intake.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "alloc.h"
#include "err.h"
#include "num.h"

struct tm_intake {
    const tm_config *cfg;
    tm_decoder *decoder;
    tm_engine_stats *stats;
};

int tm_intake_open(tm_intake **out, const tm_config *cfg, tm_engine_stats *stats, char *errstr,
                   size_t errlen)
{
    tm_decoder *decoder = NULL;
    int rc = tm_decoder_open(&decoder, cfg, errstr, errlen);
    if (rc < 0)
        return rc;
    tm_intake *in = tm_xcalloc(1, sizeof *in);
    in->cfg = cfg;
    in->decoder = decoder;
    in->stats = stats;
    *out = in;
    return TM_OK;
}

void tm_intake_close(tm_intake *in)
{
    if (!in)
        return;
    tm_decoder_close(in->decoder);
    free(in);
}

static void dead_letter(tm_intake *in, const tm_record *rec, tm_dlq_reason reason,
                        const char *detail, const tm_engine_sink *sink)
{
    in->stats->dead_letters[reason]++;
    sink->dead_letter(sink->ctx, rec, reason, detail);
}

/* clock_skew.action for an event time more than max_ahead ms past ref (the
 * time named ref_name): clamps *t to ref, or sends the record to the dead
 * letters and returns false. */
static bool act_on_skew(tm_intake *in, const tm_record *rec, int64_t *t, int64_t ref,
                        int64_t max_ahead, const char *ref_name, const tm_engine_sink *sink)
{
    if (in->cfg->clock_skew_action == TM_SKEW_CLAMP) {
        *t = ref;
        return true;
    }
    char detail[160];
    snprintf(detail, sizeof detail, "event time %lld is more than %lld ms ahead of the %s %lld",
             (long long)*t, (long long)max_ahead, ref_name, (long long)ref);
    dead_letter(in, rec, TM_DLQ_CLOCK_SKEW, detail, sink);
    return false;
}

/* SEMANTICS 3: returns false when the record went to the dead letters. */
static bool apply_clock_skew(tm_intake *in, const tm_record *rec, int64_t *t,
                             const tm_engine_sink *sink)
{
    const tm_config *cfg = in->cfg;
    if (!cfg->clock_skew_enabled || *t <= tm_sat_add(rec->ts, cfg->clock_skew_max_ahead_ms))
        return true;
    if (cfg->clock_skew_action == TM_SKEW_CLAMP)
        in->stats->clamped++;
    return act_on_skew(in, rec, t, rec->ts, cfg->clock_skew_max_ahead_ms, "receipt time", sink);
}

/* The same test against the processing time now (not in SEMANTICS 3): the
 * receipt time is the producer's own timestamp unless the topic uses
 * LogAppendTime, so a producer with a wrong clock passes SEMANTICS 3's
 * check with any event time. Returns false when the record went to the
 * dead letters. */
static bool apply_wall_guard(tm_intake *in, const tm_record *rec, int64_t *t, int64_t now,
                             const tm_engine_sink *sink)
{
    int64_t max_ahead = in->cfg->clock_skew_max_ahead_of_wall_ms;
    if (max_ahead == 0 || *t <= tm_sat_add(now, max_ahead))
        return true;
    in->stats->ahead_of_wall++;
    return act_on_skew(in, rec, t, now, max_ahead, "processing time", sink);
}

bool tm_intake_decode(tm_intake *in, const tm_record *rec, int64_t now, const tm_engine_sink *sink,
                      tm_event *ev, int64_t *t)
{
    char detail[256];
    tm_dlq_reason reason = tm_decode(in->decoder, rec->key, rec->key_len, rec->value,
                                     rec->value_len, ev, detail, sizeof detail);
    if (reason != TM_DLQ_NONE) {
        dead_letter(in, rec, reason, detail, sink);
        return false;
    }
    tm_histogram_observe(&in->stats->event_time_lag, tm_sat_sub(now, ev->t));
    *t = ev->t;
    return apply_clock_skew(in, rec, t, sink) && apply_wall_guard(in, rec, t, now, sink);
}
