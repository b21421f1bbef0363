/*
 * task_io.c: see task_io.h.
 */
#include "task_io.h"

#include <stddef.h>

void tm_engine_stats_add(tm_engine_stats *dst, const tm_engine_stats *src)
{
    dst->records += src->records;
    dst->accepted += src->accepted;
    dst->late_accepted += src->late_accepted;
    dst->too_late += src->too_late;
    dst->late_dropped += src->late_dropped;
    dst->duplicates += src->duplicates;
    dst->clamped += src->clamped;
    dst->ahead_of_wall += src->ahead_of_wall;
    for (size_t i = 0; i < TM_DLQ_COUNT_; i++)
        dst->dead_letters[i] += src->dead_letters[i];
    for (size_t i = 0; i < sizeof dst->emissions / sizeof dst->emissions[0]; i++)
        dst->emissions[i] += src->emissions[i];
    dst->tombstones += src->tombstones;
    dst->windows_expired += src->windows_expired;
    dst->dedup_released += src->dedup_released;
    tm_histogram_add(&dst->event_time_lag, &src->event_time_lag);
}
