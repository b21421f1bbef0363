/*
 * Unit tests of repartition_record.c: event and watermark records read
 * back exactly what was written (nulls, empty and binary bytes, the
 * longest fields, extreme numbers), their measured size is their size,
 * and every other byte string is refused with the right status: every
 * truncation, trailing bytes, another version or kind, impossible fields,
 * another aggregation count. Records are decoded from exactly sized heap
 * copies, so that ASan sees any read past the end.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "decode.h"
#include "repartition_record.h"
#include "side_record.h"
#include "watermark.h"

/* An exactly sized heap copy of n bytes (NULL for n == 0), so that ASan
 * catches a read past the end. */
static char *exact_copy(const void *p, size_t n)
{
    if (n == 0)
        return NULL;
    char *c = malloc(n);
    cr_assert_not_null(c);
    memcpy(c, p, n);
    return c;
}

/* Decodes key/value from exact copies; out's pointers stay valid until
 * the next call. */
static char *held_key, *held_value;
static tm_repartition_status decode_copy(const void *key, size_t key_len, const void *value,
                                         size_t value_len, size_t n_aggs, double *values,
                                         tm_repartition_record *out)
{
    free(held_key);
    free(held_value);
    held_key = exact_copy(key, key_len);
    held_value = exact_copy(value, value_len);
    return tm_repartition_decode(held_key, key_len, held_value, value_len, n_aggs, values, out);
}

static void release_copies(void)
{
    free(held_key);
    free(held_value);
    held_key = held_value = NULL;
}

TestSuite(repartition_record, .fini = release_copies);

static const double VALUES[] = {0, 12.5, -0.0, 4.9406564584124654e-324, 1.7976931348623157e308};
enum { N_VALUES = sizeof VALUES / sizeof VALUES[0] };

/* An event with binary (NUL-holding) group key, id, key and value. */
static tm_repartition_event sample_event(void)
{
    return (tm_repartition_event){
        .source = 3,
        .t = 1763600000000,
        .t_decoded = 1763600009999,
        .ts = 1763600000123,
        .topic = "orders",
        .topic_len = 6,
        .partition = 3,
        .offset = 4711,
        .group_key = "m\0-1",
        .group_key_len = 4,
        .id = "o\0\xff",
        .id_len = 3,
        .values = VALUES,
        .n_values = N_VALUES,
        .key = {.data = "k\0\x80", .len = 3},
        .value = {.data = "{\"a\":1}\0\xfe", .len = 9},
    };
}

static void assert_same_bytes(const char *what, const char *a, size_t a_len, const char *b,
                              size_t b_len)
{
    cr_assert_eq(a_len, b_len, "%s: %zu bytes, wrote %zu", what, a_len, b_len);
    if (b_len > 0)
        cr_assert(a && memcmp(a, b, b_len) == 0, "%s differs", what);
}

static void assert_same_original(const char *what, tm_repartition_bytes got,
                                 tm_repartition_bytes sent)
{
    cr_assert_eq(got.dropped, sent.dropped, "%s: dropped", what);
    cr_assert_eq(got.data == NULL, sent.data == NULL || sent.dropped, "%s: null", what);
    cr_assert_eq(got.len, sent.data || sent.dropped ? sent.len : 0, "%s: length", what);
    if (got.data)
        cr_assert(memcmp(got.data, sent.data, sent.len) == 0, "%s: bytes", what);
}

/* Encodes ev, checks the measured sizes, decodes it back and checks every
 * field. */
static void assert_round_trip(const tm_repartition_event *ev)
{
    tm_buf b = {0};
    cr_assert_eq(tm_repartition_encode_event(&b, ev), TM_REPARTITION_OK);
    cr_assert_eq(b.len, tm_repartition_event_value_bytes(ev));
    cr_assert_eq(tm_repartition_event_wire_bytes(ev),
                 tm_record_wire_bytes(ev->group_key_len, b.len, NULL, 0));
    cr_assert(tm_repartition_is_ours(b.data, b.len));

    double values[N_VALUES + 1];
    tm_repartition_record rec;
    cr_assert_eq(
        decode_copy(ev->group_key, ev->group_key_len, b.data, b.len, ev->n_values, values, &rec),
        TM_REPARTITION_OK);
    const tm_repartition_event *got = &rec.event;
    cr_assert_eq(rec.kind, TM_REPARTITION_EVENT);
    cr_assert_eq(got->source, ev->source);
    cr_assert_eq(got->t, ev->t);
    cr_assert_eq(got->t_decoded, ev->t_decoded);
    cr_assert_eq(got->ts, ev->ts);
    cr_assert_eq(got->partition, ev->partition);
    cr_assert_eq(got->offset, ev->offset);
    assert_same_bytes("topic", got->topic, got->topic_len, ev->topic, ev->topic_len);
    assert_same_bytes("group key", got->group_key, got->group_key_len, ev->group_key,
                      ev->group_key_len);
    cr_assert_not_null(got->group_key);
    cr_assert_eq(got->id == NULL, ev->id == NULL, "the id's presence");
    if (ev->id)
        assert_same_bytes("id", got->id, got->id_len, ev->id, ev->id_len);
    cr_assert_eq(got->n_values, ev->n_values);
    /* Bit patterns, so that -0 and denormals count. */
    if (ev->n_values > 0)
        cr_assert(memcmp(got->values, ev->values, ev->n_values * sizeof(double)) == 0);
    assert_same_original("key", got->key, ev->key);
    assert_same_original("value", got->value, ev->value);
    tm_buf_free(&b);
}

Test(repartition_record, an_event_with_binary_bytes_reads_back_exactly)
{
    tm_repartition_event ev = sample_event();
    assert_round_trip(&ev);
}

Test(repartition_record, nulls_and_empty_bytes_read_back_as_they_were)
{
    tm_repartition_event ev = sample_event();
    /* Null key and value, no id (dedup off), no aggregations, the empty
     * group key. */
    ev.key = (tm_repartition_bytes){0};
    ev.value = (tm_repartition_bytes){0};
    ev.id = NULL;
    ev.id_len = 0;
    ev.values = NULL;
    ev.n_values = 0;
    ev.group_key = "";
    ev.group_key_len = 0;
    assert_round_trip(&ev);

    /* Empty but not null: a present id, key and value of zero bytes. */
    ev.key = (tm_repartition_bytes){.data = "", .len = 0};
    ev.value = (tm_repartition_bytes){.data = "", .len = 0};
    ev.id = "";
    assert_round_trip(&ev);
    tm_buf b = {0};
    tm_repartition_encode_event(&b, &ev);
    tm_repartition_record rec;
    cr_assert_eq(tm_repartition_decode(NULL, 0, b.data, b.len, 0, NULL, &rec), TM_REPARTITION_OK);
    cr_assert_not_null(rec.event.id, "an empty id is an id");
    cr_assert_not_null(rec.event.key.data, "an empty key is not a null key");
    cr_assert_not_null(rec.event.value.data, "an empty value is not a null value");
    /* A null Kafka key is the empty group key. */
    cr_assert_not_null(rec.event.group_key);
    cr_assert_eq(rec.event.group_key_len, 0);
    tm_buf_free(&b);
}

Test(repartition_record, the_longest_fields_and_extreme_numbers_read_back)
{
    char topic[TM_REPARTITION_TOPIC_MAX], group_key[TM_GROUP_KEY_MAX];
    memset(topic, 't', sizeof topic);
    for (size_t i = 0; i < sizeof group_key; i++)
        group_key[i] = (char)(i % 256);
    size_t big = 1 << 20;
    char *value = malloc(big);
    for (size_t i = 0; i < big; i++)
        value[i] = (char)(i * 7 % 256);

    tm_repartition_event ev = sample_event();
    ev.source = INT32_MAX;
    ev.partition = INT32_MAX;
    ev.offset = INT64_MAX;
    ev.t = INT64_MIN;
    ev.t_decoded = INT64_MAX;
    ev.ts = -1;
    ev.topic = topic;
    ev.topic_len = sizeof topic;
    ev.group_key = group_key;
    ev.group_key_len = sizeof group_key;
    ev.id = value;
    ev.id_len = big / 2;
    ev.key = (tm_repartition_bytes){.data = value, .len = big / 3};
    ev.value = (tm_repartition_bytes){.data = value, .len = big};
    assert_round_trip(&ev);
    cr_assert_eq(tm_repartition_event_value_bytes(&ev), TM_REPARTITION_EVENT_FIXED_BYTES +
                                                            8 * N_VALUES + sizeof topic + big / 2 +
                                                            big / 3 + big);
    free(value);
}

Test(repartition_record, watermark_records_read_back)
{
    const tm_repartition_watermark cases[] = {
        {.source = 0, .watermark = TM_WATERMARK_MIN, .idle = false},
        {.source = 7, .watermark = 1763600000000, .idle = true},
        {.source = INT32_MAX, .watermark = INT64_MAX, .idle = false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tm_buf b = {0};
        cr_assert_eq(tm_repartition_encode_watermark(&b, &cases[i]), TM_REPARTITION_OK);
        cr_assert_eq(b.len, TM_REPARTITION_WATERMARK_BYTES);
        tm_repartition_record rec;
        /* The key of a watermark record is not read. */
        cr_assert_eq(decode_copy("junk", 4, b.data, b.len, 3, NULL, &rec), TM_REPARTITION_OK);
        cr_assert_eq(rec.kind, TM_REPARTITION_WATERMARK);
        cr_assert_eq(rec.watermark.source, cases[i].source);
        cr_assert_eq(rec.watermark.watermark, cases[i].watermark);
        cr_assert_eq(rec.watermark.idle, cases[i].idle);
        tm_buf_free(&b);
    }
}

/* The bytes the layout table of proto/README.md gives for its example:
 * source 2, t 1000 (decoded 1500, clamped), receipt time 1005, input
 * orders/2/7, aggregations count and sum (0, 12.5), id "o1", key "k",
 * value {}; group key "m1" is the Kafka key. */
static const unsigned char README_EVENT[] = {
    0x01, 0x65, 0x00, 0x00, 0x00, 0x02,             /* version, kind, source */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xe8, /* t */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0xdc, /* t as decoded */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xed, /* receipt time */
    0x00, 0x00, 0x00, 0x02,                         /* partition */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, /* offset */
    0x00, 0x00, 0x00, 0x02,                         /* n */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* 0.0 */
    0x40, 0x29, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* 12.5 */
    0x06, 'o',  'r',  'd',  'e',  'r',  's',        /* topic */
    0x01, 0x00, 0x00, 0x00, 0x02, 'o',  '1',        /* id */
    0x01, 0x00, 0x00, 0x00, 0x01, 'k',              /* key */
    0x01, 0x00, 0x00, 0x00, 0x02, '{',  '}',        /* value */
};
static const unsigned char README_WATERMARK[] = {
    0x01, 0x77, 0x00, 0x00, 0x00, 0x02,             /* version, kind, source */
    0x00, 0x00, 0x01, 0x9a, 0x9e, 0xc0, 0x64, 0x00, /* watermark 1763600000000 */
    0x01,                                           /* idle */
};

Test(repartition_record, the_documented_example_is_what_is_written)
{
    static const double v[] = {0, 12.5};
    tm_repartition_event ev = {
        .source = 2,
        .t = 1000,
        .t_decoded = 1500,
        .ts = 1005,
        .topic = "orders",
        .topic_len = 6,
        .partition = 2,
        .offset = 7,
        .group_key = "m1",
        .group_key_len = 2,
        .id = "o1",
        .id_len = 2,
        .values = v,
        .n_values = 2,
        .key = {.data = "k", .len = 1},
        .value = {.data = "{}", .len = 2},
    };
    tm_buf b = {0};
    cr_assert_eq(tm_repartition_encode_event(&b, &ev), TM_REPARTITION_OK);
    assert_same_bytes("event", b.data, b.len, (const char *)README_EVENT, sizeof README_EVENT);
    tm_buf_reset(&b);
    tm_repartition_watermark w = {.source = 2, .watermark = 1763600000000, .idle = true};
    cr_assert_eq(tm_repartition_encode_watermark(&b, &w), TM_REPARTITION_OK);
    assert_same_bytes("watermark", b.data, b.len, (const char *)README_WATERMARK,
                      sizeof README_WATERMARK);
    tm_buf_free(&b);
}

Test(repartition_record, every_truncation_is_refused)
{
    tm_repartition_event ev = sample_event();
    tm_buf b = {0};
    tm_repartition_encode_event(&b, &ev);
    tm_repartition_watermark w = {.source = 1, .watermark = 5, .idle = true};
    tm_buf wb = {0};
    tm_repartition_encode_watermark(&wb, &w);
    const tm_buf *records[] = {&b, &wb};
    double values[N_VALUES];
    for (size_t r = 0; r < 2; r++) {
        for (size_t n = 0; n < records[r]->len; n++) {
            tm_repartition_record rec;
            tm_repartition_status s = decode_copy(ev.group_key, ev.group_key_len, records[r]->data,
                                                  n, N_VALUES, values, &rec);
            cr_assert_eq(s, n == 0 ? TM_REPARTITION_FOREIGN : TM_REPARTITION_TRUNCATED,
                         "record %zu cut to %zu of %zu bytes: %s", r, n, records[r]->len,
                         tm_repartition_status_text(s));
        }
    }
    tm_buf_free(&b);
    tm_buf_free(&wb);
}

Test(repartition_record, trailing_bytes_are_refused)
{
    tm_repartition_event ev = sample_event();
    tm_buf b = {0};
    tm_repartition_encode_event(&b, &ev);
    tm_repartition_watermark w = {.source = 1, .watermark = 5};
    tm_buf wb = {0};
    tm_repartition_encode_watermark(&wb, &w);
    tm_buf *records[] = {&b, &wb};
    double values[N_VALUES];
    for (size_t r = 0; r < 2; r++) {
        for (int extra = 1; extra <= 9; extra++) {
            tm_buf_append(records[r], "\0", 1);
            tm_repartition_record rec;
            cr_assert_eq(decode_copy(ev.group_key, ev.group_key_len, records[r]->data,
                                     records[r]->len, N_VALUES, values, &rec),
                         TM_REPARTITION_TRAILING, "record %zu with %d more bytes", r, extra);
        }
    }
    tm_buf_free(&b);
    tm_buf_free(&wb);
}

Test(repartition_record, foreign_records_other_versions_and_kinds_are_told_apart)
{
    tm_repartition_watermark w = {.source = 1, .watermark = 5};
    tm_buf b = {0};
    tm_repartition_encode_watermark(&b, &w);
    tm_repartition_record rec;

    cr_assert_not(tm_repartition_is_ours(NULL, 0), "a null value");
    cr_assert_not(tm_repartition_is_ours("", 0), "an empty value");
    cr_assert_not(tm_repartition_is_ours("{\"a\":1}", 7), "JSON text");
    cr_assert_eq(tm_repartition_decode(NULL, 0, NULL, 0, 0, NULL, &rec), TM_REPARTITION_FOREIGN);
    cr_assert_eq(decode_copy(NULL, 0, "{\"a\":1}", 7, 0, NULL, &rec), TM_REPARTITION_FOREIGN);

    for (int v = 0; v < 256; v++) {
        b.data[0] = (char)v;
        tm_repartition_status want = v == TM_REPARTITION_FORMAT_VERSION ? TM_REPARTITION_OK
                                     : v >= 1 && v <= TM_REPARTITION_FORMAT_VERSION_MAX
                                         ? TM_REPARTITION_VERSION
                                         : TM_REPARTITION_FOREIGN;
        cr_assert_eq(tm_repartition_is_ours(b.data, b.len), want != TM_REPARTITION_FOREIGN,
                     "version byte %d", v);
        cr_assert_eq(decode_copy(NULL, 0, b.data, b.len, 0, NULL, &rec), want, "version byte %d",
                     v);
    }
    b.data[0] = TM_REPARTITION_FORMAT_VERSION;
    for (int k = 0; k < 256; k++) {
        b.data[1] = (char)k;
        tm_repartition_status s = decode_copy(NULL, 0, b.data, b.len, 0, NULL, &rec);
        if (k == TM_REPARTITION_WATERMARK)
            cr_assert_eq(s, TM_REPARTITION_OK);
        else if (k == TM_REPARTITION_EVENT)
            cr_assert_eq(s, TM_REPARTITION_TRUNCATED, "a watermark's bytes read as an event");
        else
            cr_assert_eq(s, TM_REPARTITION_KIND, "kind byte %d", k);
    }
    tm_buf_free(&b);
}

/* The offsets of the sample event's fields (proto/README.md). */
enum {
    AT_SOURCE = 2,
    AT_PARTITION = 30,
    AT_OFFSET = 34,
    AT_N = 42,
    AT_VALUES = 46,
    AT_TOPIC_LEN = AT_VALUES + 8 * N_VALUES,
    AT_ID = AT_TOPIC_LEN + 1 + 6,
    AT_KEY = AT_ID + 5 + 3,
    AT_VALUE = AT_KEY + 5 + 3,
};

/* The sample event with its byte at `at` set to `byte`, decoded. */
static tm_repartition_status decode_mutated(size_t at, unsigned char byte)
{
    tm_repartition_event ev = sample_event();
    tm_buf b = {0};
    tm_repartition_encode_event(&b, &ev);
    cr_assert_lt(at, b.len);
    b.data[at] = (char)byte;
    double values[N_VALUES];
    tm_repartition_record rec;
    tm_repartition_status s =
        decode_copy(ev.group_key, ev.group_key_len, b.data, b.len, N_VALUES, values, &rec);
    tm_buf_free(&b);
    return s;
}

Test(repartition_record, impossible_fields_are_refused)
{
    /* The sample's layout is where the table says. */
    cr_assert_eq(decode_mutated(AT_TOPIC_LEN + 1, 'O'), TM_REPARTITION_OK);
    cr_assert_eq(decode_mutated(AT_ID + 5, 'x'), TM_REPARTITION_OK);
    cr_assert_eq(decode_mutated(AT_VALUE + 5 + 8, 'x'), TM_REPARTITION_OK);

    cr_assert_eq(decode_mutated(AT_SOURCE, 0x80), TM_REPARTITION_BAD_FIELD, "negative source");
    cr_assert_eq(decode_mutated(AT_PARTITION, 0xff), TM_REPARTITION_BAD_FIELD,
                 "negative partition");
    cr_assert_eq(decode_mutated(AT_OFFSET, 0x80), TM_REPARTITION_BAD_FIELD, "negative offset");
    /* 0x7ff0... is +infinity, 0x7ff8... a NaN. */
    cr_assert_eq(decode_mutated(AT_VALUES + 8, 0x7f), TM_REPARTITION_OK, "still finite");
    tm_repartition_event ev = sample_event();
    double nan_values[N_VALUES];
    memcpy(nan_values, VALUES, sizeof VALUES);
    nan_values[1] = NAN;
    ev.values = nan_values;
    tm_buf b = {0};
    cr_assert_eq(tm_repartition_encode_event(&b, &ev), TM_REPARTITION_BAD_FIELD);
    cr_assert_eq(b.len, 0, "nothing is written");
    ev.values = VALUES;
    tm_repartition_encode_event(&b, &ev);
    static const unsigned char inf[8] = {0x7f, 0xf0};
    memcpy(b.data + AT_VALUES + 8, inf, 8);
    tm_repartition_record rec;
    double values[N_VALUES];
    cr_assert_eq(decode_copy(ev.group_key, ev.group_key_len, b.data, b.len, N_VALUES, values, &rec),
                 TM_REPARTITION_BAD_FIELD, "an infinite value");
    tm_buf_free(&b);

    cr_assert_eq(decode_mutated(AT_TOPIC_LEN, 0), TM_REPARTITION_BAD_FIELD, "empty topic");
    cr_assert_eq(decode_mutated(AT_TOPIC_LEN, TM_REPARTITION_TOPIC_MAX + 1),
                 TM_REPARTITION_BAD_FIELD, "topic name too long");
    cr_assert_eq(decode_mutated(AT_ID, 2), TM_REPARTITION_BAD_FIELD, "a dropped id");
    cr_assert_eq(decode_mutated(AT_ID, 0), TM_REPARTITION_BAD_FIELD, "a null id with a length");
    cr_assert_eq(decode_mutated(AT_KEY, 3), TM_REPARTITION_BAD_FIELD, "state 3");
    cr_assert_eq(decode_mutated(AT_VALUE, 0xff), TM_REPARTITION_BAD_FIELD, "state 255");
    /* A length past the end, and a huge aggregation count. */
    cr_assert_eq(decode_mutated(AT_VALUE + 1, 1), TM_REPARTITION_TRUNCATED);
    cr_assert_eq(decode_mutated(AT_N, 0xff), TM_REPARTITION_TRUNCATED);

    tm_repartition_watermark w = {.source = 1, .watermark = 5};
    tm_repartition_encode_watermark(&b, &w);
    b.data[TM_REPARTITION_WATERMARK_BYTES - 1] = 2;
    cr_assert_eq(decode_copy(NULL, 0, b.data, b.len, 0, NULL, &rec), TM_REPARTITION_BAD_FIELD,
                 "idle 2");
    tm_buf_free(&b);

    /* A group key longer than decode allows. */
    ev = sample_event();
    tm_repartition_encode_event(&b, &ev);
    char *long_key = calloc(1, TM_GROUP_KEY_MAX + 1);
    cr_assert_eq(decode_copy(long_key, TM_GROUP_KEY_MAX + 1, b.data, b.len, N_VALUES, values, &rec),
                 TM_REPARTITION_BAD_FIELD);
    free(long_key);
    tm_buf_free(&b);
}

Test(repartition_record, events_that_break_a_bound_are_not_written)
{
    char topic[TM_REPARTITION_TOPIC_MAX + 1];
    memset(topic, 't', sizeof topic);
    tm_repartition_event cases[7];
    for (size_t i = 0; i < 7; i++)
        cases[i] = sample_event();
    cases[0].topic_len = 0;
    cases[1].topic = topic;
    cases[1].topic_len = sizeof topic;
    cases[2].group_key_len = TM_GROUP_KEY_MAX + 1;
    cases[3].partition = -1;
    cases[4].offset = -1;
    cases[5].source = -1;
    cases[6].topic = NULL;
    for (size_t i = 0; i < 7; i++) {
        tm_buf b = {0};
        cr_assert_eq(tm_repartition_encode_event(&b, &cases[i]), TM_REPARTITION_BAD_FIELD,
                     "case %zu", i);
        cr_assert_eq(b.len, 0, "case %zu", i);
    }
    tm_buf b = {0};
    tm_repartition_watermark w = {.source = -1};
    cr_assert_eq(tm_repartition_encode_watermark(&b, &w), TM_REPARTITION_BAD_FIELD);
    cr_assert_eq(b.len, 0);
}

Test(repartition_record, another_aggregation_count_is_named)
{
    tm_repartition_event ev = sample_event();
    tm_buf b = {0};
    tm_repartition_encode_event(&b, &ev);
    double values[N_VALUES + 1] = {-7, -7, -7, -7, -7, -7};
    tm_repartition_record rec;
    for (size_t n_aggs = 0; n_aggs <= N_VALUES + 1; n_aggs++) {
        if (n_aggs == N_VALUES)
            continue;
        tm_repartition_status s =
            decode_copy(ev.group_key, ev.group_key_len, b.data, b.len, n_aggs, values, &rec);
        cr_assert_eq(s, TM_REPARTITION_AGGS, "configured %zu: %s", n_aggs,
                     tm_repartition_status_text(s));
        cr_assert_eq(rec.event.n_values, N_VALUES, "the record's count, for the message");
        cr_assert_eq(values[0], -7, "the caller's values are untouched");
    }
    cr_assert_str_eq(tm_repartition_status_text(TM_REPARTITION_AGGS),
                     "another number of aggregations than the configuration's");
    tm_buf_free(&b);
}

Test(repartition_record, a_record_too_large_for_the_limit_goes_by_reference)
{
    size_t big = 4000;
    char *value = malloc(big);
    memset(value, 'v', big);
    char key[1500];
    memset(key, 'k', sizeof key);
    tm_repartition_event ev = sample_event();
    ev.key = (tm_repartition_bytes){.data = key, .len = sizeof key};
    ev.value = (tm_repartition_bytes){.data = value, .len = big};
    size_t whole = tm_repartition_event_wire_bytes(&ev);
    size_t required = tm_repartition_required_bytes(&ev);
    cr_assert_eq(whole, required + sizeof key + big);

    /* Fits: nothing dropped. */
    tm_repartition_event e1 = ev;
    cr_assert(tm_repartition_fit(&e1, whole));
    cr_assert_eq(e1.value.data, value);
    cr_assert_eq(e1.key.data, key);

    /* One byte less: the value goes, the key stays. */
    tm_repartition_event e2 = ev;
    cr_assert(tm_repartition_fit(&e2, whole - 1));
    cr_assert(e2.value.dropped);
    cr_assert_null(e2.value.data);
    cr_assert_eq(e2.value.len, big, "the dropped value's size is kept");
    cr_assert_eq(e2.key.data, key);
    cr_assert_leq(tm_repartition_event_wire_bytes(&e2), whole - 1);
    assert_round_trip(&e2);

    /* Smaller than the event without its value: the key goes too. */
    tm_repartition_event e3 = ev;
    cr_assert(tm_repartition_fit(&e3, required + sizeof key - 1));
    cr_assert(e3.value.dropped && e3.key.dropped);
    cr_assert_eq(e3.key.len, sizeof key);
    cr_assert_eq(tm_repartition_event_wire_bytes(&e3), required);
    assert_round_trip(&e3);

    /* Below what the event itself needs: it cannot travel. */
    tm_repartition_event e4 = ev;
    cr_assert_not(tm_repartition_fit(&e4, required - 1));

    /* A null original is not "dropped". */
    tm_repartition_event e5 = ev;
    e5.value = (tm_repartition_bytes){0};
    cr_assert(tm_repartition_fit(&e5, required));
    cr_assert_not(e5.value.dropped);
    cr_assert(e5.key.dropped);
    free(value);
}

Test(repartition_record, the_overhead_bounds_every_event_of_a_configuration)
{
    tm_config cfg = {.n_aggs = N_VALUES};
    char topic[TM_REPARTITION_TOPIC_MAX], group_key[TM_GROUP_KEY_MAX];
    memset(topic, 't', sizeof topic);
    memset(group_key, 'g', sizeof group_key);
    tm_repartition_event ev = sample_event();
    ev.topic = topic;
    ev.topic_len = sizeof topic;
    ev.group_key = group_key;
    ev.group_key_len = sizeof group_key;
    ev.id = NULL;
    size_t original = ev.key.len + ev.value.len;
    cr_assert_eq(tm_repartition_event_wire_bytes(&ev),
                 tm_repartition_max_overhead_bytes(&cfg) + original);
    ev.id = "abc";
    cr_assert_eq(tm_repartition_event_wire_bytes(&ev),
                 tm_repartition_max_overhead_bytes(&cfg) + original + 3);
}
