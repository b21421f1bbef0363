/*
 * output.h: the main output record of a window result (SEMANTICS 8), shared
 * by replay and the live service so that both write the same bytes.
 */
#ifndef TM_OUTPUT_H
#define TM_OUTPUT_H

#include <stddef.h>

#include "buf.h"
#include "config.h"
#include "window.h"

/* Appends the record key "<group key>@<window start>" to b. */
void tm_output_key(tm_buf *b, const tm_window_result *r);

/* The value an aggregation's output holds for its accumulator acc over
 * count events (count: count itself; avg: acc / count; else acc). */
double tm_output_aggregate(const tm_agg_spec *spec, double acc, int64_t count);

/* Appends member i of an aggregates object to b: a comma unless i is 0,
 * the aggregation's name, and its value (tm_output_aggregate's; an
 * integral one, as a count always is, written as an integer). */
void tm_output_aggregate_member(tm_buf *b, const tm_config *cfg, size_t i, double value);

/* Appends the JSON value of a (non-tombstone) result to b:
 * {"key","window_start","window_end","revision","trigger","count",
 *  "aggregates":{name: value...}}; count aggregations are integers, avg is
 * the field's sum over the window's count. */
void tm_output_value(tm_buf *b, const tm_config *cfg, const tm_window_result *r);

/* Appends one line of a batch result (SEMANTICS 12) to b, newline
 * included: {"key" (the record key above, as a JSON string),
 * "window_start","window_end","count","aggregates":{...}}, the aggregates
 * as in the value above. scratch is working space. */
void tm_output_batch_line(tm_buf *b, tm_buf *scratch, const tm_config *cfg,
                          const tm_window_result *r);

/* An upper bound of the bytes (tm_record_wire_bytes) of any result record
 * under cfg: a group key of TM_GROUP_KEY_MAX bytes, each escaped as \u00XX
 * in the value, and every number at its longest. */
size_t tm_output_max_bytes(const tm_config *cfg);

#endif
