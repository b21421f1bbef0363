/*
 * Unit tests of envelope.c: keys and payloads are bytes. Any bytes
 * (NULs, invalid UTF-8, every byte value) written to the envelope read
 * back exactly; valid UTF-8 travels as a JSON string with \u0000, anything
 * else as base64 with its "<field>_encoding" flag; input lines as kcat -J
 * writes them (raw bytes in strings) keep every byte; a bad encoding or bad
 * base64 is an error naming the field.
 */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "envelope.h"
#include "err.h"

static tm_envelope env;

static void clear_env(void)
{
    tm_envelope_clear(&env);
}

TestSuite(envelope, .fini = clear_env);

/* Parses a line that must be valid. */
static void parse_ok(const char *line, size_t len)
{
    char err[256] = "";
    cr_assert_eq(tm_envelope_parse(&env, line, len, err, sizeof err), TM_OK, "%s: %.*s", err,
                 (int)len, line);
}

/* Writes key and payload as an output line, turns it into an input line
 * (a "ts" added) and parses it back into env; returns the line. */
static void round_trip(tm_buf *line, const char *key, size_t key_len, const char *payload,
                       size_t payload_len)
{
    tm_buf out = {0};
    tm_envelope_write(&out, "t", 1, key, key_len, payload, payload_len, NULL, 0);
    cr_assert(out.len > 0 && out.data[0] == '{');
    tm_buf_reset(line);
    tm_buf_puts(line, "{\"ts\":5,");
    tm_buf_append(line, out.data + 1, out.len - 1);
    tm_buf_free(&out);
    parse_ok(line->data, line->len);
    cr_assert_eq(env.partition, 1);
    cr_assert_eq(env.ts, 5);
}

static void assert_bytes(const char *got, size_t got_len, const char *want, size_t want_len,
                         const char *what)
{
    cr_assert_not_null(got, "%s is null", what);
    cr_assert_eq(got_len, want_len, "%s: %zu bytes, expected %zu", what, got_len, want_len);
    cr_assert(memcmp(got, want, want_len) == 0, "%s: other bytes", what);
}

Test(envelope, utf8_with_nuls_travels_as_a_json_string_with_u0000)
{
    static const char key[] = "k\0ey", payload[] = "{\"a\":1}\0tail \xc3\xa9\n";
    tm_buf line = {0};
    round_trip(&line, key, sizeof key - 1, payload, sizeof payload - 1);
    cr_assert(strstr(line.data, "\"k\\u0000ey\""), "%s", line.data);
    cr_assert(strstr(line.data, "{\\\"a\\\":1}\\u0000tail"), "%s", line.data);
    cr_assert_null(strstr(line.data, "_encoding"), "%s", line.data);
    assert_bytes(env.key, env.key_len, key, sizeof key - 1, "key");
    assert_bytes(env.payload, env.payload_len, payload, sizeof payload - 1, "payload");
    tm_buf_free(&line);
}

Test(envelope, any_bytes_round_trip_as_base64_with_the_flag)
{
    char payload[1930], key[256];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (char)(i * 37 + 11);
    payload[50] = '\0';
    for (size_t i = 0; i < sizeof key; i++)
        key[i] = (char)(255 - i);
    tm_buf line = {0};
    round_trip(&line, key, sizeof key, payload, sizeof payload);
    cr_assert(strstr(line.data, "\"key_encoding\":\"base64\""), "%s", line.data);
    cr_assert(strstr(line.data, "\"payload_encoding\":\"base64\""), "%s", line.data);
    assert_bytes(env.key, env.key_len, key, sizeof key, "key");
    assert_bytes(env.payload, env.payload_len, payload, sizeof payload, "payload");
    /* Every length modulo 3 (base64 padding of 0, 1 and 2 characters). */
    for (size_t n = 1; n <= 4; n++) {
        round_trip(&line, NULL, 0, payload + 51, n);
        cr_assert_null(env.key);
        assert_bytes(env.payload, env.payload_len, payload + 51, n, "short payload");
    }
    tm_buf_free(&line);
}

Test(envelope, null_and_empty_stay_apart)
{
    tm_buf line = {0};
    round_trip(&line, "", 0, NULL, 0);
    cr_assert_not_null(env.key, "an empty key is not null");
    cr_assert_eq(env.key_len, 0);
    cr_assert_null(env.payload);
    cr_assert(strstr(line.data, "\"key\":\"\",\"payload\":null"), "%s", line.data);
    tm_buf_free(&line);
}

Test(envelope, kcat_lines_keep_raw_bytes_and_every_escape)
{
    /* kcat -J copies bytes of invalid UTF-8 into its strings as they are
     * and escapes control bytes; a surrogate pair is one code point. */
    static const char line[] =
        "{\"partition\":0,\"offset\":7,\"ts\":9,\"key\":\"\xff\\u0000\","
        "\"payload\":\"a\\u0000\\\"\\\\\\/\\b\\f\\n\\r\\t\xfe\\ud83d\\ude00\"}";
    static const char payload[] = "a\0\"\\/\b\f\n\r\t\xfe\xf0\x9f\x98\x80";
    parse_ok(line, sizeof line - 1);
    cr_assert(env.has_offset && env.offset == 7);
    assert_bytes(env.key, env.key_len, "\xff\0", 2, "key");
    assert_bytes(env.payload, env.payload_len, payload, sizeof payload - 1, "payload");
}

Test(envelope, base64_input_with_the_flag)
{
    static const char line[] =
        "{\"partition\":2,\"ts\":1,\"key\":\"//4=\",\"key_encoding\":\"base64\","
        "\"payload\":\"AGJ5dGVz\",\"payload_encoding\":\"base64\"}";
    parse_ok(line, sizeof line - 1);
    assert_bytes(env.key, env.key_len, "\xff\xfe", 2, "key");
    assert_bytes(env.payload, env.payload_len, "\0bytes", 6, "payload");
    /* A null encoding is no encoding; a member named like the field only
     * inside a nested object is not the field. */
    static const char plain[] = "{\"partition\":0,\"ts\":1,\"h\":{\"payload\":\"x\"},"
                                "\"payload\":\"//4=\",\"payload_encoding\":null}";
    parse_ok(plain, sizeof plain - 1);
    assert_bytes(env.payload, env.payload_len, "//4=", 4, "payload");
}

/* Parses a line that must fail, with a message holding want. */
static void parse_fails(const char *line, const char *want)
{
    char err[256] = "";
    cr_assert_eq(tm_envelope_parse(&env, line, strlen(line), err, sizeof err), TM_EPARSE, "%s",
                 line);
    cr_assert(strstr(err, want), "%s: the error '%s' does not say '%s'", line, err, want);
}

Test(envelope, bad_encodings_name_the_field)
{
    parse_fails(
        "{\"partition\":0,\"ts\":1,\"payload\":\"AGJ5dGV\",\"payload_encoding\":\"base64\"}",
        "\"payload\" is not valid base64");
    parse_fails("{\"partition\":0,\"ts\":1,\"payload\":\"AG=5\",\"payload_encoding\":\"base64\"}",
                "\"payload\" is not valid base64");
    parse_fails("{\"partition\":0,\"ts\":1,\"key\":\"a b=\",\"key_encoding\":\"base64\"}",
                "\"key\" is not valid base64");
    parse_fails("{\"partition\":0,\"ts\":1,\"payload\":\"x\",\"payload_encoding\":\"hex\"}",
                "\"payload_encoding\" must be \"base64\"");
    parse_fails("{\"partition\":0,\"ts\":1,\"key\":\"x\",\"key_encoding\":64}",
                "\"key_encoding\" must be \"base64\"");
    parse_fails("{\"partition\":0,\"ts\":1,\"payload\":17}",
                "\"payload\" must be a string or null");
    parse_fails("{\"partition\":0,\"ts\":1,\"key\":[\"x\"]}", "\"key\" must be a string or null");
}

Test(envelope, a_cut_line_never_gives_other_bytes)
{
    /* Every prefix of a line (in a buffer of its exact size, so that a read
     * past it is caught under ASan) gives the payload whole, or none. */
    static const char line[] = "{\"partition\":0,\"h\":[\"a\",{\"b\":\"}\"}],\"key\":null,"
                               "\"payload\":\"x\\u0000\\\"y\",\"payload_encoding\":null}";
    static const char want[] = "x\0\"y";
    for (size_t n = 0; n < sizeof line; n++) {
        char *cut = malloc(n ? n : 1);
        cr_assert(cut);
        memcpy(cut, line, n);
        tm_buf buf = {0};
        const char *bytes = NULL;
        size_t len = 0;
        char err[128];
        int rc = tm_envelope_bytes(cut, n, "payload", &buf, &bytes, &len, err, sizeof err);
        cr_assert(rc == TM_OK || rc == TM_EPARSE, "prefix %zu: %d", n, rc);
        if (rc == TM_OK && bytes)
            assert_bytes(bytes, len, want, sizeof want - 1, "payload of a prefix");
        tm_buf_free(&buf);
        free(cut);
    }
}
