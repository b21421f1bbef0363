/*
 * output.c: see output.h.
 */
#include "output.h"

#include <assert.h>
#include <string.h>

#include "buf.h"
#include "decode.h"
#include "side_record.h"

void tm_output_key(tm_buf *b, const tm_window_result *r)
{
    tm_buf_append(b, r->key, r->key_len);
    tm_buf_putc(b, '@');
    tm_buf_put_i64(b, r->start);
}

double tm_output_aggregate(const tm_agg_spec *spec, double acc, int64_t count)
{
    switch (spec->op) {
    case TM_AGG_COUNT:
        return (double)count;
    case TM_AGG_AVG:
        return acc / (double)count;
    case TM_AGG_SUM:
    case TM_AGG_MIN:
    case TM_AGG_MAX:
        break;
    }
    return acc;
}

void tm_output_aggregate_member(tm_buf *b, const tm_config *cfg, size_t i, double value)
{
    const tm_agg_spec *spec = &cfg->aggs[i];
    if (i)
        tm_buf_putc(b, ',');
    tm_buf_put_json_string(b, spec->name, strlen(spec->name));
    tm_buf_putc(b, ':');
    /* An integral value (a count, always) is written as an integer. */
    tm_buf_put_double(b, value);
}

/* ,"window_start":S,"window_end":E */
static void put_window(tm_buf *b, const tm_window_result *r)
{
    tm_buf_puts(b, ",\"window_start\":");
    tm_buf_put_i64(b, r->start);
    tm_buf_puts(b, ",\"window_end\":");
    tm_buf_put_i64(b, r->end);
}

/* The members every result form ends with: ,"count":N,"aggregates":{...}}. */
static void put_count_and_aggregates(tm_buf *b, const tm_config *cfg, const tm_window_result *r)
{
    tm_buf_puts(b, ",\"count\":");
    tm_buf_put_i64(b, r->count);
    tm_buf_puts(b, ",\"aggregates\":{");
    for (size_t i = 0; i < cfg->n_aggs; i++)
        tm_output_aggregate_member(b, cfg, i,
                                   tm_output_aggregate(&cfg->aggs[i], r->acc[i], r->count));
    tm_buf_puts(b, "}}");
}

void tm_output_value(tm_buf *b, const tm_config *cfg, const tm_window_result *r)
{
    assert(!r->tombstone && r->count > 0);
    tm_buf_puts(b, "{\"key\":");
    tm_buf_put_json_string(b, r->key, r->key_len);
    put_window(b, r);
    tm_buf_puts(b, ",\"revision\":");
    tm_buf_put_i64(b, r->revision);
    tm_buf_puts(b, ",\"trigger\":\"");
    tm_buf_puts(b, tm_trigger_name(r->trigger));
    tm_buf_putc(b, '"');
    put_count_and_aggregates(b, cfg, r);
}

void tm_output_batch_line(tm_buf *b, tm_buf *scratch, const tm_config *cfg,
                          const tm_window_result *r)
{
    tm_buf_reset(scratch);
    tm_output_key(scratch, r);
    tm_buf_puts(b, "{\"key\":");
    tm_buf_put_json_string(b, scratch->data, scratch->len);
    put_window(b, r);
    put_count_and_aggregates(b, cfg, r);
    tm_buf_putc(b, '\n');
}

/* JSON escapes a byte in at most 6 bytes (\u00XX); an int64 or a shortest
 * double takes at most 24 characters. */
enum { ESCAPED_MAX = 6, NUMBER_MAX = 24, VALUE_FIXED = 256 };

size_t tm_output_max_bytes(const tm_config *cfg)
{
    size_t key = TM_GROUP_KEY_MAX + 1 + NUMBER_MAX; /* <group key>@<start> */
    size_t value = VALUE_FIXED + 2 + ESCAPED_MAX * TM_GROUP_KEY_MAX;
    for (size_t i = 0; i < cfg->n_aggs; i++)
        value += 4 + ESCAPED_MAX * strlen(cfg->aggs[i].name) + NUMBER_MAX;
    return tm_record_wire_bytes(key, value, NULL, 0);
}
