/*
 * Unit tests of side_record.c: late and dead-letter records carry the
 * source record and their headers, and a source too large for the target
 * topic is written by reference (value, then key, dropped and said so),
 * always within the limit.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "side_record.h"

/* The value of header name, or NULL. */
static const char *header(const tm_side_record *s, const char *name)
{
    for (size_t i = 0; i < s->n_headers; i++)
        if (strcmp(s->headers[i].name, name) == 0)
            return s->headers[i].value;
    return NULL;
}

static size_t wire_bytes(const tm_side_record *s)
{
    return tm_record_wire_bytes(s->key_len, s->value_len, s->headers, s->n_headers);
}

static tm_record record_of(const char *key, size_t key_len, const char *value, size_t value_len)
{
    return (tm_record){.topic = "orders",
                       .partition = 3,
                       .offset = 42,
                       .key = key,
                       .key_len = key_len,
                       .value = value,
                       .value_len = value_len};
}

Test(side_record, late_and_dead_letter_records_carry_the_source_and_headers)
{
    tm_record rec = record_of("k1", 2, "{\"a\":1}", 7);
    tm_side_record s;
    tm_side_record_late(&s, &rec, 1234, TM_PRODUCER_MAX_BYTES_DEFAULT);
    cr_assert_eq(s.key, rec.key);
    cr_assert_eq(s.value, rec.value);
    cr_assert_eq(s.value_len, 7);
    cr_assert_eq(s.n_headers, 3);
    cr_assert_str_eq(header(&s, "tidemark.reason"), "too_late");
    cr_assert_str_eq(header(&s, "tidemark.watermark"), "1234");
    cr_assert_str_eq(header(&s, "tidemark.source"), "orders/3/42");
    cr_assert_null(header(&s, "tidemark.value_bytes"));

    tm_side_record_dead_letter(&s, &rec, TM_DLQ_INVALID_JSON, "not JSON",
                               TM_PRODUCER_MAX_BYTES_DEFAULT);
    cr_assert_eq(s.n_headers, 3);
    cr_assert_str_eq(header(&s, "tidemark.reason"), "invalid_json");
    cr_assert_str_eq(header(&s, "tidemark.source"), "orders/3/42");
    cr_assert_str_eq(header(&s, "tidemark.detail"), "not JSON");
    cr_assert_eq(s.value, rec.value);
}

Test(side_record, a_value_too_large_is_written_by_reference)
{
    enum { LIMIT = 4096 };
    char *big = malloc(LIMIT);
    memset(big, 'x', LIMIT);
    tm_record rec = record_of("k1", 2, big, LIMIT);
    tm_side_record s;
    tm_side_record_dead_letter(&s, &rec, TM_DLQ_INVALID_JSON, "not JSON", LIMIT);
    cr_assert_null(s.value, "the value is dropped");
    cr_assert_eq(s.value_len, 0);
    cr_assert_eq(s.key, rec.key, "the key still fits");
    cr_assert_str_eq(header(&s, "tidemark.value_bytes"), "4096");
    cr_assert_null(header(&s, "tidemark.key_bytes"));
    cr_assert_str_eq(header(&s, "tidemark.source"), "orders/3/42");
    cr_assert_leq(wire_bytes(&s), LIMIT);

    /* Exactly at the limit: kept whole. */
    tm_record small = record_of("k1", 2, big, 100);
    tm_side_record_late(&s, &small, 7, LIMIT);
    size_t exact = wire_bytes(&s);
    tm_side_record_late(&s, &small, 7, exact);
    cr_assert_eq(s.value_len, 100, "a record of exactly the limit is kept");
    tm_side_record_late(&s, &small, 7, exact - 1);
    cr_assert_null(s.value, "one byte over: dropped");
    free(big);
}

Test(side_record, a_key_too_large_is_dropped_too)
{
    enum { LIMIT = TM_SIDE_RECORD_MIN_LIMIT };
    char *big = malloc(3 * LIMIT);
    memset(big, 'k', 3 * LIMIT);
    tm_record rec = record_of(big, 2 * LIMIT, big, LIMIT);
    tm_side_record s;
    tm_side_record_late(&s, &rec, 1, LIMIT);
    cr_assert_null(s.value);
    cr_assert_null(s.key);
    cr_assert_str_eq(header(&s, "tidemark.value_bytes"), "2048");
    cr_assert_str_eq(header(&s, "tidemark.key_bytes"), "4096");
    cr_assert_leq(wire_bytes(&s), LIMIT, "headers alone fit the smallest accepted limit");
    free(big);
}

/* An event that crossed the repartition topic by reference (its original
 * value, then key, too large for it: repartition_record.h) arrives with
 * them dropped: its late record refers to the original the same way as one
 * too large for the late topic, with the original sizes. */
Test(side_record, an_original_dropped_on_the_way_is_written_by_reference)
{
    tm_record rec = record_of("k1", 2, NULL, 0);
    rec.value_dropped_bytes = 2000000;
    tm_side_record s;
    tm_side_record_late(&s, &rec, 7, TM_PRODUCER_MAX_BYTES_DEFAULT);
    cr_assert_null(s.value);
    cr_assert_str_eq(header(&s, "tidemark.value_bytes"), "2000000");
    cr_assert_eq(s.key, rec.key, "the key travelled");
    cr_assert_null(header(&s, "tidemark.key_bytes"));

    tm_record both = record_of(NULL, 0, NULL, 0);
    both.value_dropped_bytes = 2000000;
    both.key_dropped_bytes = 1500000;
    tm_side_record_late(&s, &both, 7, TM_SIDE_RECORD_MIN_LIMIT);
    cr_assert_null(s.value);
    cr_assert_null(s.key);
    cr_assert_str_eq(header(&s, "tidemark.value_bytes"), "2000000");
    cr_assert_str_eq(header(&s, "tidemark.key_bytes"), "1500000");
    cr_assert_eq(s.n_headers, 5, "each size said once");
    cr_assert_leq(wire_bytes(&s), TM_SIDE_RECORD_MIN_LIMIT);
}
