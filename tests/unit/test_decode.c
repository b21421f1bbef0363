/*
 * test_decode.c: record value -> event or dead-letter reason (SEMANTICS 2).
 *
 * Every test starts from base_config() (auto time at /ts, group_by
 * /merchant, count + sum of /amount, dedup off), changes what it needs in
 * the global cfg, and opens the decoder with use(). Values are handed to
 * the decoder in exactly-sized heap copies, without a NUL after them, so
 * that ASan catches any read past the end.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "config.h"
#include "decode.h"
#include "err.h"

static tm_config cfg;
static tm_decoder *dec;
static tm_event ev;
static char detail[256];

static tm_agg_spec base_aggs[] = {
    {"orders", TM_AGG_COUNT, NULL},
    {"gmv", TM_AGG_SUM, "/amount"},
};
static char *base_group[] = {"/merchant"};

static void base_config(void)
{
    memset(&cfg, 0, sizeof cfg);
    cfg.event_time_pointer = "/ts";
    cfg.event_time_format = TM_TIME_AUTO;
    cfg.group_mode = TM_GROUP_POINTER;
    cfg.group_pointers = base_group;
    cfg.n_group_pointers = 1;
    cfg.aggs = base_aggs;
    cfg.n_aggs = 2;
}

static void setup(void)
{
    base_config();
    dec = NULL;
}

static void teardown(void)
{
    tm_decoder_close(dec);
    dec = NULL;
}

TestSuite(decode, .init = setup, .fini = teardown);

/* (Re)opens the decoder on the current cfg. */
static void use(void)
{
    char err[256] = "";
    tm_decoder_close(dec);
    dec = NULL;
    cr_assert_eq(tm_decoder_open(&dec, &cfg, err, sizeof err), TM_OK, "open: %s", err);
}

static tm_dlq_reason decode_bytes_key(const char *key, size_t key_len, const char *value,
                                      size_t len)
{
    if (!dec)
        use();
    char *copy = value ? tm_xmalloc(len) : NULL;
    if (value)
        memcpy(copy, value, len);
    memset(&ev, 0, sizeof ev);
    memset(detail, 'x', sizeof detail);
    tm_dlq_reason r = tm_decode(dec, key, key_len, copy, len, &ev, detail, sizeof detail);
    free(copy); /* the event must not point into the value */
    cr_assert(memchr(detail, '\0', sizeof detail) != NULL, "detail not terminated");
    return r;
}

static tm_dlq_reason decode_bytes(const char *value, size_t len)
{
    return decode_bytes_key(NULL, 0, value, len);
}

static tm_dlq_reason decode(const char *json)
{
    return decode_bytes(json, strlen(json));
}

#define expect_reason(json, reason)                                                                \
    do {                                                                                           \
        tm_dlq_reason r_ = decode(json);                                                           \
        cr_assert_eq(r_, reason, "%s: got %s (%s), want %s", json, tm_dlq_reason_name(r_), detail, \
                     tm_dlq_reason_name(reason));                                                  \
    } while (0)

#define expect_ok(json) expect_reason(json, TM_DLQ_NONE)

static void expect_key(const char *json, const char *key)
{
    expect_ok(json);
    cr_assert_eq(ev.key_len, strlen(key), "%s: key length %zu", json, ev.key_len);
    cr_assert(memcmp(ev.key, key, ev.key_len) == 0, "%s: key '%.*s', want '%s'", json,
              (int)ev.key_len, ev.key, key);
}

/* Decodes {"ts": <ts_json>, "merchant": "m", "amount": 1}. */
static tm_dlq_reason decode_time(const char *ts_json)
{
    char json[512];
    snprintf(json, sizeof json, "{\"ts\":%s,\"merchant\":\"m\",\"amount\":1}", ts_json);
    return decode(json);
}

static void expect_time(const char *ts_json, int64_t want)
{
    tm_dlq_reason r = decode_time(ts_json);
    cr_assert_eq(r, TM_DLQ_NONE, "%s: %s", ts_json, detail);
    cr_assert_eq(ev.t, want, "%s: t = %lld, want %lld", ts_json, (long long)ev.t, (long long)want);
}

static void expect_bad_time(const char *ts_json)
{
    tm_dlq_reason r = decode_time(ts_json);
    cr_assert_eq(r, TM_DLQ_INVALID_EVENT_TIME, "%s: got %s (%s)", ts_json, tm_dlq_reason_name(r),
                 detail);
}

/* ---- reason names ---- */

Test(decode, reason_names)
{
    cr_assert_str_eq(tm_dlq_reason_name(TM_DLQ_NONE), "");
    cr_assert_str_eq(tm_dlq_reason_name(TM_DLQ_EMPTY_VALUE), "empty_value");
    cr_assert_str_eq(tm_dlq_reason_name(TM_DLQ_INVALID_JSON), "invalid_json");
    cr_assert_str_eq(tm_dlq_reason_name(TM_DLQ_MISSING_EVENT_TIME), "missing_event_time");
    cr_assert_str_eq(tm_dlq_reason_name(TM_DLQ_INVALID_EVENT_TIME), "invalid_event_time");
    cr_assert_str_eq(tm_dlq_reason_name(TM_DLQ_INVALID_KEY), "invalid_key");
    cr_assert_str_eq(tm_dlq_reason_name(TM_DLQ_MISSING_EVENT_ID), "missing_event_id");
    cr_assert_str_eq(tm_dlq_reason_name(TM_DLQ_MISSING_FIELD), "missing_field");
    cr_assert_str_eq(tm_dlq_reason_name(TM_DLQ_INVALID_FIELD_TYPE), "invalid_field_type");
    cr_assert_str_eq(tm_dlq_reason_name(TM_DLQ_CLOCK_SKEW), "clock_skew");
    cr_assert_str_eq(tm_dlq_reason_name((tm_dlq_reason)99), "unknown");
}

/* ---- the happy path ---- */

Test(decode, typical_record)
{
    cfg.dedup_enabled = true;
    cfg.event_id_pointer = "/order_id";
    expect_ok("{\"order_id\":\"o-123456\",\"merchant\":\"m-042\",\"amount\":12.5,"
              "\"ts\":1700000000123,\"currency\":\"EUR\"}");
    cr_assert_eq(ev.t, 1700000000123);
    cr_assert_eq(ev.key_len, 5);
    cr_assert(memcmp(ev.key, "m-042", 5) == 0);
    cr_assert_eq(ev.id_len, 8);
    cr_assert(memcmp(ev.id, "o-123456", 8) == 0);
    cr_assert_eq(ev.values[0], 0.0, "count has no value");
    cr_assert_eq(ev.values[1], 12.5);
    cr_assert_str_eq(detail, "", "no detail on success");
}

Test(decode, many_records_reuse_the_decoder)
{
    char json[128];
    for (int i = 0; i < 20000; i++) {
        snprintf(json, sizeof json, "{\"ts\":%d,\"merchant\":\"m%d\",\"amount\":%d.5}", i, i % 7,
                 i);
        expect_ok(json);
        char key[16];
        snprintf(key, sizeof key, "m%d", i % 7);
        cr_assert_eq(ev.t, i);
        cr_assert_eq(ev.key_len, strlen(key));
        cr_assert(memcmp(ev.key, key, ev.key_len) == 0);
        cr_assert_eq(ev.values[1], i + 0.5);
    }
}

Test(decode, whitespace_around_and_inside)
{
    expect_ok(" \t\r\n{ \"ts\" : 5 , \"merchant\" : \"m\" , \"amount\" : 1 } \n\t\r ");
    cr_assert_eq(ev.t, 5);
}

Test(decode, utf8_bom_is_skipped)
{
    expect_ok("\xEF\xBB\xBF{\"ts\":5,\"merchant\":\"m\",\"amount\":1}");
}

/* ---- empty_value ---- */

Test(decode, empty_value)
{
    cr_assert_eq(decode_bytes(NULL, 0), TM_DLQ_EMPTY_VALUE);
    cr_assert_str_eq(detail, "value is null");
    cr_assert_eq(decode_bytes(NULL, 5), TM_DLQ_EMPTY_VALUE);
    cr_assert_eq(decode_bytes("{}", 0), TM_DLQ_EMPTY_VALUE);
    cr_assert_str_eq(detail, "value is empty");
}

Test(decode, detail_may_be_absent_or_tiny)
{
    use();
    const char *v = "[1]";
    tm_event e;
    cr_assert_eq(tm_decode(dec, NULL, 0, v, 3, &e, NULL, 0), TM_DLQ_INVALID_JSON);
    char one[1] = {'x'};
    cr_assert_eq(tm_decode(dec, NULL, 0, v, 3, &e, one, 1), TM_DLQ_INVALID_JSON);
    cr_assert_eq(one[0], '\0');
    char small[8];
    cr_assert_eq(tm_decode(dec, NULL, 0, v, 3, &e, small, sizeof small), TM_DLQ_INVALID_JSON);
    cr_assert_eq(strlen(small), 7, "truncated and terminated");
}

/* ---- invalid_json ---- */

Test(decode, not_an_object)
{
    const char *values[] = {"[1]", "5", "\"s\"", "null", "true", "false", "[]", "-1.5e3"};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++)
        expect_reason(values[i], TM_DLQ_INVALID_JSON);
    decode("[1]");
    cr_assert_str_eq(detail, "value is an array, expected a JSON object");
    decode("null");
    cr_assert_str_eq(detail, "value is null, expected a JSON object");
}

Test(decode, trailing_garbage)
{
    const char *ok = "{\"ts\":5,\"merchant\":\"m\",\"amount\":1}";
    expect_ok(ok);
    const char *values[] = {
        "{\"ts\":5,\"merchant\":\"m\",\"amount\":1}x",
        "{\"ts\":5,\"merchant\":\"m\",\"amount\":1}}",
        "{\"ts\":5,\"merchant\":\"m\",\"amount\":1} {}",
        "{\"ts\":5,\"merchant\":\"m\",\"amount\":1},",
        "{\"ts\":5,\"merchant\":\"m\",\"amount\":1}\x01",
        "{\"ts\":5,\"merchant\":\"m\",\"amount\":1}\f",
    };
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++)
        expect_reason(values[i], TM_DLQ_INVALID_JSON);
    decode(values[0]);
    cr_assert_str_eq(detail, "invalid JSON at byte 34: unexpected data after the value");
}

Test(decode, embedded_nul)
{
    static const char v1[] = "{\"ts\":5,\"merchant\":\"m\",\"amount\":1}\0";
    cr_assert_eq(decode_bytes(v1, sizeof v1 - 1), TM_DLQ_INVALID_JSON);
    static const char v2[] = "{\"ts\":5,\"merchant\":\"m\0\",\"amount\":1}";
    cr_assert_eq(decode_bytes(v2, sizeof v2 - 1), TM_DLQ_INVALID_JSON);
    static const char v3[] = "\0{\"ts\":5,\"merchant\":\"m\",\"amount\":1}";
    cr_assert_eq(decode_bytes(v3, sizeof v3 - 1), TM_DLQ_INVALID_JSON);
}

Test(decode, syntax_errors)
{
    const char *values[] = {
        "{",
        "}",
        "{\"a\"}",
        "{\"a\":}",
        "{\"a\" 1}",
        "{a:1}",
        "{'a':1}",
        "{\"a\":1,}",
        "{\"a\":[1,]}",
        "{\"a\":[1 2]}",
        "{\"a\":1 \"b\":2}",
        "{,}",
        "{\"a\":tru}",
        "{\"a\":nul}",
        "{\"a\":True}",
        "{\"a\":NaN}",
        "{\"a\":Infinity}",
        "{\"a\":\"unterminated}",
        "{\"a\":\"x\\\"}",
        " ",
        "\n",
    };
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++)
        expect_reason(values[i], TM_DLQ_INVALID_JSON);
}

Test(decode, strict_numbers)
{
    const char *bad[] = {"01",  "-01",  "1.",   ".5",  "-",     "+1", "1e",
                         "1e+", "1.e5", "0x10", "--1", "1.5.5", "- 1"};
    char json[128];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(json, sizeof json, "{\"x\":%s}", bad[i]);
        expect_reason(json, TM_DLQ_INVALID_JSON);
    }
    const char *good[] = {"0", "-0", "0.5", "-0.5e-3", "1E5", "1e+5", "123456789", "0e0"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        snprintf(json, sizeof json, "{\"ts\":1,\"merchant\":\"m\",\"amount\":1,\"x\":%s}", good[i]);
        expect_ok(json);
    }
}

Test(decode, number_length_limit)
{
    /* 63 characters are fine, 64 are not (cJSON's limit, documented). */
    char json[256];
    char num[80];
    memset(num, '1', 63);
    num[63] = '\0';
    snprintf(json, sizeof json, "{\"ts\":1,\"merchant\":\"m\",\"amount\":1,\"x\":%s}", num);
    expect_ok(json);
    memset(num, '1', 64);
    num[64] = '\0';
    snprintf(json, sizeof json, "{\"ts\":1,\"merchant\":\"m\",\"amount\":1,\"x\":%s}", num);
    expect_reason(json, TM_DLQ_INVALID_JSON);
    cr_assert(strstr(detail, "63") != NULL, "%s", detail);
}

Test(decode, strings_strict)
{
    const char *bad[] = {
        "\"a\nb\"", /* raw control character */
        "\"a\tb\"",
        "\"\\x\"",   /* unknown escape */
        "\"\\u12\"", /* short \u */
        "\"\\u12g4\"",
        "\"\\ud800\"",          /* lone high surrogate */
        "\"\\ud800\\u0041\"",   /* high surrogate + non-low */
        "\"\\udc00\"",          /* lone low surrogate */
        "\"\\u0000\"",          /* unsupported (cJSON would truncate) */
        "\"\xC0\xAF\"",         /* overlong */
        "\"\xE0\x80\xAF\"",     /* overlong */
        "\"\xED\xA0\x80\"",     /* UTF-16 surrogate in UTF-8 */
        "\"\xF4\x90\x80\x80\"", /* above U+10FFFF */
        "\"\xF5\x80\x80\x80\"",
        "\"\x80\"", /* lone continuation */
        "\"\xC3\"", /* truncated sequence */
        "\"\xE2\x82\"",
        "\"\xFF\"",
    };
    char json[128];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(json, sizeof json, "{\"ts\":1,\"merchant\":\"m\",\"amount\":1,\"x\":%s}", bad[i]);
        expect_reason(json, TM_DLQ_INVALID_JSON);
    }
    decode("{\"x\":\"\\u0000\"}");
    cr_assert(strstr(detail, "\\u0000") != NULL, "%s", detail);
    const char *good[] = {
        "\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t\"",
        "\"\\u00e9\\u20AC\\ud83d\\ude00\"",
        "\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\"", /* é € 😀 */
        "\"\xEF\xBF\xBF\xF4\x8F\xBF\xBF\"",         /* U+FFFF, U+10FFFF */
        "\"\x7F\"",                                 /* DEL needs no escape */
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        snprintf(json, sizeof json, "{\"ts\":1,\"merchant\":\"m\",\"amount\":1,\"x\":%s}", good[i]);
        expect_ok(json);
    }
}

/* Builds {"ts":1,"merchant":"m","amount":1,"deep":[[[...]]]} with n arrays. */
static char *nested(size_t n, char open, char close)
{
    const char *head = "{\"ts\":1,\"merchant\":\"m\",\"amount\":1,\"deep\":";
    size_t hl = strlen(head);
    char *s = tm_xmalloc(hl + 2 * n + 2);
    memcpy(s, head, hl);
    memset(s + hl, open, n);
    memset(s + hl + n, close, n);
    s[hl + 2 * n] = '}';
    s[hl + 2 * n + 1] = '\0';
    return s;
}

Test(decode, nesting_limit)
{
    /* The record object is level 1: 999 more arrays make 1000 levels. */
    char *s = nested(999, '[', ']');
    expect_ok(s);
    free(s);
    s = nested(1000, '[', ']');
    expect_reason(s, TM_DLQ_INVALID_JSON);
    cr_assert(strstr(detail, "nesting") != NULL, "%s", detail);
    free(s);
}

Test(decode, very_deep_input_does_not_overflow_the_stack)
{
    size_t n = 1000000;
    char *s = tm_xmalloc(n);
    memset(s, '[', n);
    cr_assert_eq(decode_bytes(s, n), TM_DLQ_INVALID_JSON);
    memset(s, '{', 1);
    for (size_t i = 1; i + 5 < n; i += 5)
        memcpy(s + i, "\"a\":{", 5);
    cr_assert_eq(decode_bytes(s, n), TM_DLQ_INVALID_JSON);
    free(s);
}

Test(decode, huge_record_then_small_ones)
{
    /* Over the arena's retained size: served by overflow chunks. */
    size_t n_items = 200000;
    tm_buf b = {0};
    tm_buf_puts(&b, "{\"ts\":7,\"merchant\":\"big\",\"amount\":2,\"items\":[");
    for (size_t i = 0; i < n_items; i++)
        tm_buf_printf(&b, "%s{\"sku\":\"s%zu\",\"q\":%zu}", i ? "," : "", i, i);
    tm_buf_puts(&b, "]}");
    for (int round = 0; round < 3; round++) {
        cr_assert_eq(decode_bytes(b.data, b.len), TM_DLQ_NONE, "%s", detail);
        cr_assert_eq(ev.t, 7);
        cr_assert_eq(ev.key_len, 3);
        expect_ok("{\"ts\":8,\"merchant\":\"small\",\"amount\":3}");
        cr_assert_eq(ev.t, 8);
        cr_assert_eq(ev.values[1], 3.0);
    }
    tm_buf_free(&b);
}

/* ---- missing_event_time / invalid_event_time ---- */

Test(decode, missing_event_time)
{
    expect_reason("{\"merchant\":\"m\",\"amount\":1}", TM_DLQ_MISSING_EVENT_TIME);
    cr_assert_str_eq(detail, "event time /ts not found");
    expect_reason("{}", TM_DLQ_MISSING_EVENT_TIME);
    expect_reason("{\"TS\":1}", TM_DLQ_MISSING_EVENT_TIME); /* case-sensitive */
}

Test(decode, event_time_null_is_invalid_not_missing)
{
    expect_bad_time("null");
}

Test(decode, epoch_ms)
{
    cfg.event_time_format = TM_TIME_EPOCH_MS;
    use();
    expect_time("1700000000123", 1700000000123);
    expect_time("0", 0);
    expect_time("-0", 0);
    expect_time("1.9", 1);
    expect_time("-1.1", -2);
    expect_time("-1", -1);
    expect_time("1.7e12", 1700000000000);
    expect_time("-9223372036854775808", INT64_MIN);
    expect_time("9223372036854774784", 9223372036854774784); /* largest double < 2^63 */
    expect_bad_time("9223372036854775808");                  /* 2^63 */
    expect_bad_time("1e19");
    expect_bad_time("-1e19");
    expect_bad_time("1e400");
    expect_bad_time("-1e400");
    expect_bad_time("\"1700000000123\"");
    expect_bad_time("\"2026-11-20T10:00:00Z\"");
    expect_bad_time("true");
    expect_bad_time("{}");
    expect_bad_time("[1]");
    decode_time("\"x\"");
    cr_assert_str_eq(detail, "event time /ts is a string, expected a number (format epoch_ms)");
}

Test(decode, epoch_s)
{
    cfg.event_time_format = TM_TIME_EPOCH_S;
    use();
    expect_time("1700000000", 1700000000000);
    expect_time("1700000000.123", 1700000000123); /* floor(v*1000) alone gives ...122 */
    expect_time("1700000000.1239", 1700000000123);
    expect_time("1700000000.9999", 1700000000999);
    expect_time("-1.5", -1500);
    expect_time("-1.0005", -1001);
    expect_time("1.0005", 1000);
    expect_time("0.001", 1);
    expect_time("0.0009", 0);
    expect_time("-0.0009", -1);
    expect_time("1.9", 1900);
    expect_time("-1.1", -1100);
    expect_time("1e9", 1000000000000);
    expect_bad_time("1e16"); /* 1e19 ms > int64 */
    expect_bad_time("1e400");
    expect_bad_time("\"1700000000\"");
    decode_time("1e400");
    cr_assert(strstr(detail, "out of range") != NULL, "%s", detail);
}

Test(decode, epoch_s_every_millisecond_of_a_second)
{
    /* Every text with 3 decimals reads exactly, whatever the rounding of
     * the double. */
    cfg.event_time_format = TM_TIME_EPOCH_S;
    use();
    char ts[64];
    for (int ms = 0; ms < 1000; ms++) {
        snprintf(ts, sizeof ts, "1700000000.%03d", ms);
        expect_time(ts, 1700000000000 + ms);
        snprintf(ts, sizeof ts, "-1700000000.%03d", ms);
        expect_time(ts, -1700000000000 - ms);
    }
}

Test(decode, rfc3339)
{
    cfg.event_time_format = TM_TIME_RFC3339;
    use();
    expect_time("\"2026-11-20T10:00:00.123Z\"", 1795168800123);
    expect_time("\"2026-11-20T10:00:00+02:00\"", 1795161600000);
    expect_time("\"2026-11-20T10:00:00-05:30\"", 1795188600000);
    expect_time("\"2026-11-20T10:00:00.1Z\"", 1795168800100);
    expect_time("\"2026-11-20T10:00:00.123456789Z\"", 1795168800123);
    expect_time("\"1969-12-31T23:59:59.500Z\"", -500);
    expect_time("\"2024-02-29T12:00:00Z\"", 1709208000000);
    expect_time("\"2026-11-20t10:00:00z\"", 1795168800000);
    expect_time("\"2026-11-20 10:00:00Z\"", 1795168800000);
    expect_time("\"2026-11-20T10:00:00\\u002e5Z\"", 1795168800500); /* escaped '.' */
    expect_bad_time("\"2023-02-29T00:00:00Z\"");
    expect_bad_time("\"2026-02-30T00:00:00Z\"");
    expect_bad_time("\"2026-13-01T00:00:00Z\"");
    expect_bad_time("\"2026-11-20T10:00:00\"");
    expect_bad_time("\"abc\"");
    expect_bad_time("\"\"");
    expect_bad_time("1700000000123");
    expect_bad_time("null");
    decode_time("\"abc\"");
    cr_assert_str_eq(detail, "event time /ts 'abc' is not RFC 3339");
    decode_time("5");
    cr_assert_str_eq(detail, "event time /ts is a number, expected a string (format rfc3339)");
}

Test(decode, rfc3339_detail_is_bounded_and_printable)
{
    cfg.event_time_format = TM_TIME_RFC3339;
    use();
    tm_buf ts = {0};
    tm_buf_putc(&ts, '"');
    for (int i = 0; i < 40; i++)
        tm_buf_puts(&ts, "\\u00e9"); /* é: two bytes each in UTF-8 */
    tm_buf_puts(&ts, "\\n\"");
    expect_bad_time(ts.data);
    tm_buf_free(&ts);
    cr_assert(strlen(detail) < 120, "%s", detail);
    cr_assert(strstr(detail, "...") != NULL, "%s", detail);
    /* Cut at a character boundary: 32 whole é, no half. */
    cr_assert(strstr(detail, "'\xC3\xA9") != NULL);
    cr_assert(strstr(detail, "\xC3\xA9...") != NULL, "%s", detail);
    expect_bad_time("\"a\\nb\\u0001\"");
    cr_assert_str_eq(detail, "event time /ts 'a?b?' is not RFC 3339");
}

Test(decode, auto_format)
{
    expect_time("1700000000123", 1700000000123);
    expect_time("1.9", 1);
    expect_time("\"2026-11-20T10:00:00.123Z\"", 1795168800123);
    expect_bad_time("true");
    expect_bad_time("false");
    expect_bad_time("null");
    expect_bad_time("{}");
    expect_bad_time("[]");
    expect_bad_time("\"1700000000123\"");
    decode_time("true");
    cr_assert_str_eq(detail,
                     "event time /ts is a bool, expected a number or a string (format auto)");
}

/* ---- JSON pointers ---- */

Test(decode, pointer_escapes)
{
    cfg.event_time_pointer = "/a~1b/m~0n";
    use();
    expect_ok("{\"a/b\":{\"m~n\":42},\"merchant\":\"m\",\"amount\":1}");
    cr_assert_eq(ev.t, 42);
    expect_reason("{\"a\":{\"b\":{\"m~n\":42}},\"merchant\":\"m\",\"amount\":1}",
                  TM_DLQ_MISSING_EVENT_TIME);

    cfg.event_time_pointer = "/~01";
    use();
    expect_ok("{\"~1\":3,\"merchant\":\"m\",\"amount\":1}");
    cr_assert_eq(ev.t, 3);
    expect_reason("{\"/\":3,\"merchant\":\"m\",\"amount\":1}", TM_DLQ_MISSING_EVENT_TIME);
}

Test(decode, pointer_array_indexes)
{
    cfg.event_time_pointer = "/arr/2";
    use();
    expect_ok("{\"arr\":[10,11,12],\"merchant\":\"m\",\"amount\":1}");
    cr_assert_eq(ev.t, 12);
    expect_reason("{\"arr\":[10,11],\"merchant\":\"m\",\"amount\":1}", TM_DLQ_MISSING_EVENT_TIME);
    expect_reason("{\"arr\":{\"2\":5},\"merchant\":\"m\",\"amount\":1}", TM_DLQ_NONE);
    cr_assert_eq(ev.t, 5, "on an object, a number token is a member name");

    cfg.event_time_pointer = "/arr/0";
    use();
    expect_ok("{\"arr\":[10],\"merchant\":\"m\",\"amount\":1}");
    cr_assert_eq(ev.t, 10);
    expect_reason("{\"arr\":[],\"merchant\":\"m\",\"amount\":1}", TM_DLQ_MISSING_EVENT_TIME);

    cfg.event_time_pointer = "/arr/01";
    use();
    expect_reason("{\"arr\":[10,11],\"merchant\":\"m\",\"amount\":1}", TM_DLQ_MISSING_EVENT_TIME);

    cfg.event_time_pointer = "/arr/-";
    use();
    expect_reason("{\"arr\":[10,11],\"merchant\":\"m\",\"amount\":1}", TM_DLQ_MISSING_EVENT_TIME);
    expect_ok("{\"arr\":{\"-\":4},\"merchant\":\"m\",\"amount\":1}");

    cfg.event_time_pointer = "/arr/99999999999999999999999";
    use();
    expect_reason("{\"arr\":[1],\"merchant\":\"m\",\"amount\":1}", TM_DLQ_MISSING_EVENT_TIME);
}

Test(decode, pointer_nesting_and_scalars)
{
    cfg.event_time_pointer = "/a/b/c";
    use();
    expect_ok("{\"a\":{\"b\":{\"c\":9}},\"merchant\":\"m\",\"amount\":1}");
    cr_assert_eq(ev.t, 9);
    expect_reason("{\"a\":{\"b\":5},\"merchant\":\"m\",\"amount\":1}", TM_DLQ_MISSING_EVENT_TIME);
    expect_reason("{\"a\":{\"b\":\"c\"},\"merchant\":\"m\",\"amount\":1}",
                  TM_DLQ_MISSING_EVENT_TIME);
    expect_reason("{\"a\":null,\"merchant\":\"m\",\"amount\":1}", TM_DLQ_MISSING_EVENT_TIME);
}

Test(decode, pointer_whole_document_and_empty_name)
{
    cfg.event_time_pointer = "";
    use();
    expect_reason("{\"merchant\":\"m\",\"amount\":1}", TM_DLQ_INVALID_EVENT_TIME);
    cr_assert_str_eq(detail,
                     "event time \"\" is an object, expected a number or a string (format auto)");

    cfg.event_time_pointer = "/";
    use();
    expect_ok("{\"\":77,\"merchant\":\"m\",\"amount\":1}");
    cr_assert_eq(ev.t, 77);
}

Test(decode, pointer_member_names_with_escapes_and_unicode)
{
    cfg.event_time_pointer = "/caf\xC3\xA9";
    use();
    expect_ok("{\"caf\\u00e9\":1,\"merchant\":\"m\",\"amount\":1}");
    expect_ok("{\"caf\xC3\xA9\":1,\"merchant\":\"m\",\"amount\":1}");
    cfg.event_time_pointer = "/a\"b";
    use();
    expect_ok("{\"a\\\"b\":1,\"merchant\":\"m\",\"amount\":1}");
}

Test(decode, duplicate_members_last_wins)
{
    expect_ok("{\"ts\":1,\"ts\":2,\"merchant\":\"a\",\"amount\":1,\"merchant\":\"b\"}");
    cr_assert_eq(ev.t, 2);
    cr_assert_eq(ev.key_len, 1);
    cr_assert_eq(ev.key[0], 'b');
}

Test(decode, bad_pointers_fail_open)
{
    const char *bad[] = {"ts", "/a~2", "/a~"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        base_config();
        cfg.event_time_pointer = (char *)bad[i];
        tm_decoder *d = (tm_decoder *)0x1;
        char err[256] = "";
        cr_assert_eq(tm_decoder_open(&d, &cfg, err, sizeof err), TM_ECONFIG, "%s", bad[i]);
        cr_assert_eq(d, (tm_decoder *)0x1, "*out untouched on failure");
        cr_assert(strstr(err, "input.event_time.pointer") != NULL, "%s", err);
    }
    base_config();
    static tm_agg_spec aggs[] = {{"orders", TM_AGG_COUNT, NULL}, {"gmv", TM_AGG_SUM, "amount"}};
    cfg.aggs = aggs;
    tm_decoder *d = NULL;
    char err[256] = "";
    cr_assert_eq(tm_decoder_open(&d, &cfg, err, sizeof err), TM_ECONFIG);
    cr_assert(strstr(err, "gmv") != NULL, "%s", err);
    cr_assert_null(d);
}

Test(decode, incomplete_config_fails_open)
{
    tm_decoder *d = NULL;
    char err[256] = "";
    cfg.event_time_pointer = NULL;
    cr_assert_eq(tm_decoder_open(&d, &cfg, err, sizeof err), TM_ECONFIG);
    base_config();
    cfg.dedup_enabled = true; /* without input.event_id */
    cr_assert_eq(tm_decoder_open(&d, &cfg, err, sizeof err), TM_ECONFIG);
    cr_assert(strstr(err, "input.event_id") != NULL, "%s", err);
    base_config();
    cfg.group_mode = TM_GROUP_LIST;
    cfg.n_group_pointers = 0;
    cr_assert_eq(tm_decoder_open(&d, &cfg, err, sizeof err), TM_ECONFIG);
    cr_assert_null(d);
    tm_decoder_close(NULL);
}

/* ---- whole-record parsing vs parsing by slots ---- */

/* The decoder parses only the members pointers start with, unless a
 * top-level name has an escape or a pointer is "" (decode.c). These pin
 * that both ways give the same answers. */

Test(decode, escaped_top_level_name_parses_whole)
{
    cfg.dedup_enabled = true;
    cfg.event_id_pointer = "/id";
    use();
    const char *plain = "{\"ts\":5,\"merchant\":\"m\",\"amount\":2.5,\"id\":7,\"x\":[1,{}]}";
    const char *escaped =
        "{\"t\\u0073\":5,\"merchant\":\"m\",\"amount\":2.5,\"id\":7,\"\\u0078\":[1,{}]}";
    for (int i = 0; i < 2; i++) {
        expect_ok(i ? escaped : plain);
        cr_assert_eq(ev.t, 5);
        cr_assert_eq(ev.key_len, 1);
        cr_assert_eq(ev.key[0], 'm');
        cr_assert_eq(ev.id_len, 2);
        cr_assert(memcmp(ev.id, "#7", 2) == 0);
        cr_assert_eq(ev.values[1], 2.5);
    }
}

Test(decode, escaped_names_and_duplicates_on_both_paths)
{
    /* The last duplicate wins whether or not names are escaped. */
    expect_ok("{\"ts\":1,\"t\\u0073\":2,\"merchant\":\"m\",\"amount\":1}");
    cr_assert_eq(ev.t, 2);
    expect_ok("{\"t\\u0073\":1,\"ts\":2,\"merchant\":\"m\",\"amount\":1}");
    cr_assert_eq(ev.t, 2);
    expect_ok("{\"ts\":1,\"merchant\":\"m\",\"amount\":1,\"ts\":3}");
    cr_assert_eq(ev.t, 3);
}

Test(decode, members_nested_and_spaced)
{
    /* Slot values are cut from the record text: whitespace and nesting
     * around them must not matter. */
    cfg.event_time_pointer = "/a/b/1";
    use();
    expect_ok("{ \"merchant\" : \"m\" ,\n\"a\"\t:\t{ \"b\" : [ 0 , 42 ] } , \"amount\" : 1 }");
    cr_assert_eq(ev.t, 42);
    expect_ok("{\"merchant\":\"m\",\"amount\":1,\"a\":{\"b\":[0,43]}}");
    cr_assert_eq(ev.t, 43);
}

Test(decode, shared_first_tokens)
{
    /* Several pointers under one member: parsed once, read many times. */
    static tm_agg_spec aggs[] = {
        {"a", TM_AGG_SUM, "/o/x"},
        {"b", TM_AGG_MAX, "/o/y"},
        {"c", TM_AGG_MIN, "/o/x"},
    };
    static char *group[] = {"/o/k"};
    cfg.event_time_pointer = "/o/t";
    cfg.group_pointers = group;
    cfg.aggs = aggs;
    cfg.n_aggs = 3;
    use();
    expect_ok("{\"o\":{\"t\":9,\"k\":\"g\",\"x\":1.5,\"y\":-2}}");
    cr_assert_eq(ev.t, 9);
    cr_assert_eq(ev.key[0], 'g');
    cr_assert_eq(ev.values[0], 1.5);
    cr_assert_eq(ev.values[1], -2.0);
    cr_assert_eq(ev.values[2], 1.5);
}

Test(decode, whole_document_pointer_parses_whole)
{
    /* A "" pointer always reads the record object itself, so it can only
     * fail; the checks before it still resolve from the whole record. */
    static tm_agg_spec aggs[] = {{"all", TM_AGG_SUM, ""}};
    cfg.aggs = aggs;
    cfg.n_aggs = 1;
    use();
    expect_reason("{\"ts\":1,\"merchant\":\"m\"}", TM_DLQ_INVALID_FIELD_TYPE);
    cr_assert_str_eq(detail, "aggregation 'all': \"\" is an object, expected a number");
    expect_reason("{\"ts\":1,\"merchant\":{}}", TM_DLQ_INVALID_KEY);
    expect_reason("{\"ts\":1,\"ts\":\"x\",\"merchant\":\"m\"}", TM_DLQ_INVALID_EVENT_TIME);
}

/* ---- group keys ---- */

Test(decode, key_string_is_raw_bytes)
{
    expect_key("{\"ts\":1,\"merchant\":\"m-042\",\"amount\":1}", "m-042");
    expect_key("{\"ts\":1,\"merchant\":\"a\\\"b\\\\c\\n\\u00e9\",\"amount\":1}",
               "a\"b\\c\n\xC3\xA9");
    expect_key("{\"ts\":1,\"merchant\":\"\",\"amount\":1}", "");
}

Test(decode, key_number_shortest_text)
{
    expect_key("{\"ts\":1,\"merchant\":5,\"amount\":1}", "5");
    expect_key("{\"ts\":1,\"merchant\":5.0,\"amount\":1}", "5");
    expect_key("{\"ts\":1,\"merchant\":1.5,\"amount\":1}", "1.5");
    expect_key("{\"ts\":1,\"merchant\":-0,\"amount\":1}", "0");
    expect_key("{\"ts\":1,\"merchant\":0.1,\"amount\":1}", "0.1");
    expect_key("{\"ts\":1,\"merchant\":1e21,\"amount\":1}", "1e+21");
    expect_key("{\"ts\":1,\"merchant\":12345678901234567890,\"amount\":1}",
               "1.2345678901234567e+19");
    expect_key("{\"ts\":1,\"merchant\":-42,\"amount\":1}", "-42");
    expect_reason("{\"ts\":1,\"merchant\":1e400,\"amount\":1}", TM_DLQ_INVALID_KEY);
    cr_assert_str_eq(detail, "group_by /merchant is a number out of range");
}

Test(decode, key_bool)
{
    expect_key("{\"ts\":1,\"merchant\":true,\"amount\":1}", "true");
    expect_key("{\"ts\":1,\"merchant\":false,\"amount\":1}", "false");
}

Test(decode, key_invalid)
{
    expect_reason("{\"ts\":1,\"amount\":1}", TM_DLQ_INVALID_KEY);
    cr_assert_str_eq(detail, "group_by /merchant not found");
    expect_reason("{\"ts\":1,\"merchant\":null,\"amount\":1}", TM_DLQ_INVALID_KEY);
    cr_assert_str_eq(detail, "group_by /merchant is null, expected a string, number or bool");
    expect_reason("{\"ts\":1,\"merchant\":{},\"amount\":1}", TM_DLQ_INVALID_KEY);
    expect_reason("{\"ts\":1,\"merchant\":[\"m\"],\"amount\":1}", TM_DLQ_INVALID_KEY);
}

/* A group key of TM_GROUP_KEY_MAX bytes is taken; one byte more is
 * invalid_key (its results could not be written within a broker's record
 * limit). */
Test(decode, key_longer_than_the_limit_is_invalid)
{
    size_t n = TM_GROUP_KEY_MAX + 1;
    char *json = malloc(n + 64), *key = malloc(n + 1);
    memset(key, 'm', n);
    key[n] = '\0';
    snprintf(json, n + 64, "{\"ts\":1,\"merchant\":\"%s\",\"amount\":1}", key);
    expect_reason(json, TM_DLQ_INVALID_KEY);
    cr_assert_str_eq(detail, "the group key is 16385 bytes, more than the 16384 tidemark takes");
    key[n - 1] = '\0';
    snprintf(json, n + 64, "{\"ts\":1,\"merchant\":\"%s\",\"amount\":1}", key);
    expect_key(json, key);
    free(json);
    free(key);
}

static char *list2[] = {"/merchant", "/region"};
static char *list3[] = {"/merchant", "/n", "/flag"};

Test(decode, key_list)
{
    cfg.group_mode = TM_GROUP_LIST;
    cfg.group_pointers = list2;
    cfg.n_group_pointers = 2;
    use();
    expect_key("{\"ts\":1,\"merchant\":\"m1\",\"region\":\"eu\",\"amount\":1}", "[\"m1\",\"eu\"]");
    expect_key("{\"ts\":1,\"merchant\":\"a\\\"b\",\"region\":\"c\\\\d\\n\",\"amount\":1}",
               "[\"a\\\"b\",\"c\\\\d\\n\"]");
    expect_key("{\"ts\":1,\"merchant\":\"\\u00e9\",\"region\":\"\",\"amount\":1}",
               "[\"\xC3\xA9\",\"\"]");

    cfg.group_pointers = list3;
    cfg.n_group_pointers = 3;
    use();
    expect_key("{\"ts\":1,\"merchant\":\"m1\",\"n\":5,\"flag\":true,\"amount\":1}",
               "[\"m1\",5,true]");
    expect_key("{\"ts\":1,\"merchant\":\"m1\",\"n\":-1.5e-7,\"flag\":false,\"amount\":1}",
               "[\"m1\",-1.5e-07,false]");
}

Test(decode, key_list_one_part)
{
    cfg.group_mode = TM_GROUP_LIST;
    use();
    expect_key("{\"ts\":1,\"merchant\":\"m1\",\"amount\":1}", "[\"m1\"]");
}

Test(decode, key_list_bad_part)
{
    cfg.group_mode = TM_GROUP_LIST;
    cfg.group_pointers = list2;
    cfg.n_group_pointers = 2;
    use();
    expect_reason("{\"ts\":1,\"merchant\":\"m1\",\"amount\":1}", TM_DLQ_INVALID_KEY);
    cr_assert_str_eq(detail, "group_by[1] /region not found");
    expect_reason("{\"ts\":1,\"merchant\":{},\"region\":\"eu\",\"amount\":1}", TM_DLQ_INVALID_KEY);
    cr_assert_str_eq(detail,
                     "group_by[0] /merchant is an object, expected a string, number or bool");
    expect_reason("{\"ts\":1,\"merchant\":\"m\",\"region\":null,\"amount\":1}", TM_DLQ_INVALID_KEY);
    expect_reason("{\"ts\":1,\"merchant\":\"m\",\"region\":1e999,\"amount\":1}",
                  TM_DLQ_INVALID_KEY);
}

Test(decode, key_record_key)
{
    cfg.group_mode = TM_GROUP_RECORD_KEY;
    cfg.group_pointers = NULL;
    cfg.n_group_pointers = 0;
    use();
    const char *v = "{\"ts\":1,\"amount\":1}";
    cr_assert_eq(decode_bytes_key("k1", 2, v, strlen(v)), TM_DLQ_NONE);
    cr_assert_eq(ev.key_len, 2);
    cr_assert(memcmp(ev.key, "k1", 2) == 0);
    cr_assert_eq(decode_bytes_key(NULL, 0, v, strlen(v)), TM_DLQ_NONE);
    cr_assert_eq(ev.key_len, 0, "null key -> \"\"");
    cr_assert_not_null(ev.key);
    cr_assert_eq(decode_bytes_key("a\0b", 3, v, strlen(v)), TM_DLQ_NONE);
    cr_assert_eq(ev.key_len, 3, "bytes kept, NUL included");
    cr_assert(memcmp(ev.key, "a\0b", 3) == 0);
    cr_assert_eq(decode_bytes_key("", 0, v, strlen(v)), TM_DLQ_NONE);
    cr_assert_eq(ev.key_len, 0);
}

Test(decode, record_key_not_utf8_is_invalid_key)
{
    cfg.group_mode = TM_GROUP_RECORD_KEY;
    cfg.n_group_pointers = 0;
    use();
    const char *v = "{\"ts\":1,\"amount\":1}";
    cr_assert_eq(decode_bytes_key("\xff\xfe", 2, v, strlen(v)), TM_DLQ_INVALID_KEY,
                 "a result could not carry this key as JSON text");
    cr_assert_str_eq(detail, "group_by $record_key: the record key is not valid UTF-8");
    cr_assert_eq(decode_bytes_key("caf\xc3\xa9", 5, v, strlen(v)), TM_DLQ_NONE, "UTF-8 is a key");
    cr_assert_eq(ev.key_len, 5);
}

Test(decode, record_key_is_copied)
{
    cfg.group_mode = TM_GROUP_RECORD_KEY;
    cfg.n_group_pointers = 0;
    use();
    char key[] = "abc";
    const char *v = "{\"ts\":1,\"amount\":1}";
    cr_assert_eq(decode_bytes_key(key, 3, v, strlen(v)), TM_DLQ_NONE);
    key[0] = 'X';
    cr_assert(memcmp(ev.key, "abc", 3) == 0, "the event owns its key bytes");
}

Test(decode, key_global)
{
    cfg.group_mode = TM_GROUP_GLOBAL;
    cfg.group_pointers = NULL;
    cfg.n_group_pointers = 0;
    use();
    expect_key("{\"ts\":1,\"amount\":1}", "");
    cr_assert_not_null(ev.key);
}

/* ---- event id ---- */

Test(decode, event_id)
{
    cfg.dedup_enabled = true;
    cfg.event_id_pointer = "/id";
    use();
    expect_ok("{\"ts\":1,\"merchant\":\"m\",\"amount\":1,\"id\":\"abc\"}");
    cr_assert_eq(ev.id_len, 3);
    cr_assert(memcmp(ev.id, "abc", 3) == 0);
    expect_ok("{\"ts\":1,\"merchant\":\"m\",\"amount\":1,\"id\":\"1\"}");
    cr_assert_eq(ev.id_len, 1);
    cr_assert(memcmp(ev.id, "1", 1) == 0);
    expect_ok("{\"ts\":1,\"merchant\":\"m\",\"amount\":1,\"id\":1}");
    cr_assert_eq(ev.id_len, 2);
    cr_assert(memcmp(ev.id, "#1", 2) == 0, "number ids differ from string ids");
    expect_ok("{\"ts\":1,\"merchant\":\"m\",\"amount\":1,\"id\":1.5e300}");
    cr_assert(memcmp(ev.id, "#1.5e+300", ev.id_len) == 0);
    expect_ok("{\"ts\":1,\"merchant\":\"m\",\"amount\":1,\"id\":\"\"}");
    cr_assert_eq(ev.id_len, 0);
    cr_assert_not_null(ev.id);
}

Test(decode, event_id_missing)
{
    cfg.dedup_enabled = true;
    cfg.event_id_pointer = "/id";
    use();
    expect_reason("{\"ts\":1,\"merchant\":\"m\",\"amount\":1}", TM_DLQ_MISSING_EVENT_ID);
    cr_assert_str_eq(detail, "event_id /id not found");
    const char *bad[] = {"null", "true", "{}", "[1]", "1e400"};
    char json[128];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(json, sizeof json, "{\"ts\":1,\"merchant\":\"m\",\"amount\":1,\"id\":%s}", bad[i]);
        expect_reason(json, TM_DLQ_MISSING_EVENT_ID);
    }
    decode("{\"ts\":1,\"merchant\":\"m\",\"amount\":1,\"id\":null}");
    cr_assert_str_eq(detail, "event_id /id is null, expected a string or number");
}

Test(decode, event_id_ignored_without_dedup)
{
    cfg.dedup_enabled = false;
    cfg.event_id_pointer = "/id";
    use();
    expect_ok("{\"ts\":1,\"merchant\":\"m\",\"amount\":1}");
    cr_assert_null(ev.id);
    cr_assert_eq(ev.id_len, 0);
}

/* ---- aggregation fields ---- */

static tm_agg_spec agg3[] = {
    {"orders", TM_AGG_COUNT, NULL},
    {"gmv", TM_AGG_SUM, "/amount"},
    {"avg_q", TM_AGG_AVG, "/q"},
    {"lo", TM_AGG_MIN, "/amount"},
};

Test(decode, aggregation_values)
{
    cfg.aggs = agg3;
    cfg.n_aggs = 4;
    use();
    expect_ok("{\"ts\":1,\"merchant\":\"m\",\"amount\":-2.25,\"q\":3}");
    cr_assert_eq(ev.values[0], 0.0);
    cr_assert_eq(ev.values[1], -2.25);
    cr_assert_eq(ev.values[2], 3.0);
    cr_assert_eq(ev.values[3], -2.25);
}

Test(decode, aggregation_errors)
{
    cfg.aggs = agg3;
    cfg.n_aggs = 4;
    use();
    expect_reason("{\"ts\":1,\"merchant\":\"m\",\"q\":3}", TM_DLQ_MISSING_FIELD);
    cr_assert_str_eq(detail, "aggregation 'gmv': /amount not found");
    expect_reason("{\"ts\":1,\"merchant\":\"m\",\"amount\":\"12.5\",\"q\":3}",
                  TM_DLQ_INVALID_FIELD_TYPE);
    cr_assert_str_eq(detail, "aggregation 'gmv': /amount is a string, expected a number");
    expect_reason("{\"ts\":1,\"merchant\":\"m\",\"amount\":null,\"q\":3}",
                  TM_DLQ_INVALID_FIELD_TYPE);
    expect_reason("{\"ts\":1,\"merchant\":\"m\",\"amount\":true,\"q\":3}",
                  TM_DLQ_INVALID_FIELD_TYPE);
    expect_reason("{\"ts\":1,\"merchant\":\"m\",\"amount\":[1],\"q\":3}",
                  TM_DLQ_INVALID_FIELD_TYPE);
    expect_reason("{\"ts\":1,\"merchant\":\"m\",\"amount\":1e400,\"q\":3}",
                  TM_DLQ_INVALID_FIELD_TYPE);
    cr_assert_str_eq(detail, "aggregation 'gmv': /amount is a number out of range");
    /* Aggregations are checked in order: the first failure wins. */
    expect_reason("{\"ts\":1,\"merchant\":\"m\",\"amount\":\"x\"}", TM_DLQ_INVALID_FIELD_TYPE);
    expect_reason("{\"ts\":1,\"merchant\":\"m\",\"amount\":1,\"q\":\"x\"}",
                  TM_DLQ_INVALID_FIELD_TYPE);
    cr_assert(strstr(detail, "avg_q") != NULL, "%s", detail);
}

Test(decode, count_only_needs_no_field)
{
    static tm_agg_spec count_only[] = {{"n", TM_AGG_COUNT, NULL}};
    cfg.aggs = count_only;
    cfg.n_aggs = 1;
    use();
    expect_ok("{\"ts\":1,\"merchant\":\"m\"}");
    cfg.n_aggs = 0;
    cfg.aggs = NULL;
    use();
    expect_ok("{\"ts\":1,\"merchant\":\"m\"}");
}

/* ---- order of the checks ---- */

Test(decode, precedence)
{
    cfg.dedup_enabled = true;
    cfg.event_id_pointer = "/id";
    use();
    /* invalid JSON beats everything after it */
    expect_reason("{\"merchant\":{}", TM_DLQ_INVALID_JSON);
    /* missing time beats a bad key, id and fields */
    expect_reason("{\"merchant\":{}}", TM_DLQ_MISSING_EVENT_TIME);
    /* bad time beats a bad key */
    expect_reason("{\"ts\":\"x\",\"merchant\":{}}", TM_DLQ_INVALID_EVENT_TIME);
    /* bad key beats a missing id */
    expect_reason("{\"ts\":1,\"merchant\":{}}", TM_DLQ_INVALID_KEY);
    /* missing id beats a missing field */
    expect_reason("{\"ts\":1,\"merchant\":\"m\"}", TM_DLQ_MISSING_EVENT_ID);
    /* then the fields */
    expect_reason("{\"ts\":1,\"merchant\":\"m\",\"id\":1}", TM_DLQ_MISSING_FIELD);
    expect_ok("{\"ts\":1,\"merchant\":\"m\",\"id\":1,\"amount\":1}");
}

/* ---- threads: each decoder has its own arena ---- */

typedef struct worker_arg {
    int id;
    int failures;
} worker_arg;

static void *worker(void *p)
{
    worker_arg *w = p;
    tm_decoder *d = NULL;
    char err[128];
    if (tm_decoder_open(&d, &cfg, err, sizeof err) != TM_OK) {
        w->failures++;
        return NULL;
    }
    char json[128], key[32], det[128];
    for (int i = 0; i < 20000; i++) {
        snprintf(key, sizeof key, "w%d-%d", w->id, i);
        int n = snprintf(json, sizeof json, "{\"ts\":%d,\"merchant\":\"%s\",\"amount\":%d}", i, key,
                         w->id);
        tm_event e;
        if (tm_decode(d, NULL, 0, json, (size_t)n, &e, det, sizeof det) != TM_DLQ_NONE ||
            e.t != i || e.key_len != strlen(key) || memcmp(e.key, key, e.key_len) != 0 ||
            e.values[1] != w->id)
            w->failures++;
    }
    tm_decoder_close(d);
    return NULL;
}

Test(decode, decoders_on_threads)
{
    pthread_t th[4];
    worker_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (worker_arg){.id = i, .failures = 0};
        cr_assert_eq(pthread_create(&th[i], NULL, worker, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(args[i].failures, 0, "worker %d", i);
    }
}

/* Numbers are read without strtod where that can be exact; every value
 * must be the very double strtod gives, fast path or not. */
Test(decode, numbers_read_exactly_as_strtod)
{
    static const char *const numbers[] = {
        "0",
        "-0",
        "0.1",
        "12.34",
        "-7.25",
        "1e22",
        "1e23",
        "1E-22",
        "1e-23",
        "123456789012345678",
        "9007199254740993",
        "12345678901234567890123",
        "0.000001234",
        "4.35e+5",
        "2.5E-3",
        "1.7976931348623157e308",
        "4.9e-324",
        "123.456e2",
        "-0.0000000000000000000000001",
        "99999999999999999999e-20",
    };
    char json[160];
    for (size_t i = 0; i < sizeof numbers / sizeof *numbers; i++) {
        snprintf(json, sizeof json, "{\"ts\":1,\"merchant\":\"m\",\"amount\":%s}", numbers[i]);
        expect_ok(json);
        double want = strtod(numbers[i], NULL);
        cr_assert(memcmp(&ev.values[1], &want, sizeof want) == 0, "%s: got %.17g, want %.17g",
                  numbers[i], ev.values[1], want);
    }
}
