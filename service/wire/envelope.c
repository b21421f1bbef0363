/*
 * envelope.c: see envelope.h. Input lines are parsed with cJSON (the one
 * JSON parser of the project), except the key and payload: cJSON's
 * NUL-terminated strings would cut them at the first NUL, so their
 * literals are found in the line and decoded with their length. Output
 * lines are written directly, since their shape is fixed.
 */
#include "envelope.h"

#include "base64.h"
#include "buf.h"
#include "err.h"
#include "json_string.h"
#include "utf8.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

void tm_envelope_clear(tm_envelope *env)
{
    cJSON_Delete(env->doc_);
    tm_buf_free(&env->key_buf_);
    tm_buf_free(&env->payload_buf_);
    memset(env, 0, sizeof *env);
}

/* The encoding member that says a byte string is base64. */
static const char BASE64[] = "base64";

/* Whitespace as cJSON skips it (any byte up to the space), so that this
 * scan and cJSON's parse see the same members. */
static size_t skip_ws(const char *s, size_t i, size_t n)
{
    while (i < n && (unsigned char)s[i] <= ' ')
        i++;
    return i;
}

/* The end of the JSON value at s[i] (a string, a container, or a scalar
 * up to the next ',' or '}' of its level), or 0 if s[i..n) holds none. */
static size_t value_end(const char *s, size_t i, size_t n)
{
    size_t depth = 0;
    while (i < n) {
        char c = s[i];
        if (c == '"') {
            size_t len = tm_json_string_end(s + i, n - i);
            if (!len)
                return 0;
            i += len;
            if (depth == 0)
                return i;
            continue;
        }
        if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            if (depth == 0)
                return i;
            if (--depth == 0)
                return i + 1;
        } else if (c == ',' && depth == 0) {
            return i;
        }
        i++;
    }
    return depth == 0 ? i : 0;
}

/* Whether the name literal lit[0..n) (quotes included) spells name. */
static bool name_is(const char *lit, size_t n, const char *name)
{
    size_t want = strlen(name);
    if (!memchr(lit, '\\', n))
        return n == want + 2 && memcmp(lit + 1, name, want) == 0;
    tm_buf decoded = {0};
    bool eq = tm_json_string_decode(lit, n, &decoded) && decoded.len == want &&
              memcmp(decoded.data, name, want) == 0;
    tm_buf_free(&decoded);
    return eq;
}

/* A member's JSON text, trailing whitespace excluded; NULL: absent. */
typedef struct span {
    const char *v;
    size_t n;
} span;

/* One pass over the object in s[0..n): the JSON text of the first
 * top-level member named field, and of the one named field + "_encoding"
 * (the first, as cJSON_GetObjectItemCaseSensitive finds it). Members
 * after a malformed part are not seen; cJSON has refused such a line. */
static void find_members(const char *s, size_t n, const char *field, span *value, span *encoding)
{
    char encoding_name[64];
    snprintf(encoding_name, sizeof encoding_name, "%s_encoding", field);
    *value = *encoding = (span){NULL, 0};
    size_t i = skip_ws(s, 0, n);
    if (i >= n || s[i] != '{')
        return;
    for (i = skip_ws(s, i + 1, n); i < n && s[i] == '"';) {
        size_t name_len = tm_json_string_end(s + i, n - i);
        if (!name_len)
            return;
        size_t colon = skip_ws(s, i + name_len, n);
        if (colon >= n || s[colon] != ':')
            return;
        size_t start = skip_ws(s, colon + 1, n), end = value_end(s, start, n);
        if (!end)
            return;
        span *slot = !value->v && name_is(s + i, name_len, field)              ? value
                     : !encoding->v && name_is(s + i, name_len, encoding_name) ? encoding
                                                                               : NULL;
        if (slot) {
            size_t last = end;
            while (last > start && (unsigned char)s[last - 1] <= ' ')
                last--;
            *slot = (span){s + start, last - start};
        }
        i = skip_ws(s, end, n);
        if (i >= n || s[i] != ',')
            return;
        i = skip_ws(s, i + 1, n);
    }
}

static bool is_null(span m)
{
    return !m.v || (m.n == 4 && memcmp(m.v, "null", 4) == 0);
}

/* Whether the encoding member says base64: false when absent or null; -1
 * (an error in errstr) for any other value. */
static int is_base64(span encoding, const char *field, tm_buf *scratch, char *errstr, size_t errlen)
{
    if (is_null(encoding))
        return 0;
    tm_buf_reset(scratch);
    if (!tm_json_string_decode(encoding.v, encoding.n, scratch) || scratch->len != strlen(BASE64) ||
        memcmp(scratch->data, BASE64, scratch->len) != 0)
        return tm_seterr(errstr, errlen, TM_EPARSE, "\"%s_encoding\" must be \"%s\" or null", field,
                         BASE64);
    return 1;
}

int tm_envelope_bytes(const char *line, size_t len, const char *name, tm_buf *buf,
                      const char **bytes, size_t *n, char *errstr, size_t errlen)
{
    *bytes = NULL;
    *n = 0;
    span value, encoding;
    find_members(line, len, name, &value, &encoding);
    int base64 = is_base64(encoding, name, buf, errstr, errlen);
    if (base64 < 0)
        return TM_EPARSE;
    if (is_null(value))
        return TM_OK;
    tm_buf_reset(buf);
    if (value.n == 0 || value.v[0] != '"')
        return tm_seterr(errstr, errlen, TM_EPARSE, "\"%s\" must be a string or null", name);
    if (!tm_json_string_decode(value.v, value.n, buf))
        return tm_seterr(errstr, errlen, TM_EPARSE, "\"%s\" is not a valid JSON string", name);
    if (base64) {
        tm_buf decoded = {0};
        bool ok = tm_base64_decode(&decoded, buf->data, buf->len);
        tm_buf_free(buf);
        *buf = decoded;
        if (!ok)
            return tm_seterr(errstr, errlen, TM_EPARSE,
                             "\"%s\" is not valid base64 (\"%s_encoding\" is \"%s\")", name, name,
                             BASE64);
    }
    *bytes = buf->data ? buf->data : "";
    *n = buf->len;
    return TM_OK;
}

/* Reads an integral JSON number into *out; false if absent or not one. */
static bool get_int(const cJSON *doc, const char *name, int64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, name);
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
        fabs(v->valuedouble) > 9007199254740992.0)
        return false;
    *out = (int64_t)v->valuedouble;
    return true;
}

int tm_envelope_parse(tm_envelope *env, const char *line, size_t len, char *errstr, size_t errlen)
{
    /* The byte buffers are kept across lines: no allocation per line. */
    tm_buf key_buf = env->key_buf_, payload_buf = env->payload_buf_;
    cJSON_Delete(env->doc_);
    *env = (tm_envelope){.key_buf_ = key_buf, .payload_buf_ = payload_buf};
    cJSON *doc = cJSON_ParseWithLength(line, len);
    if (!cJSON_IsObject(doc)) {
        cJSON_Delete(doc);
        return tm_seterr(errstr, errlen, TM_EPARSE, "not a JSON object");
    }
    env->doc_ = doc;
    const cJSON *topic = cJSON_GetObjectItemCaseSensitive(doc, "topic");
    if (topic && !cJSON_IsString(topic))
        return tm_seterr(errstr, errlen, TM_EPARSE, "\"topic\" must be a string");
    env->topic = topic ? topic->valuestring : NULL;
    int64_t partition;
    if (!get_int(doc, "partition", &partition) || partition < 0 || partition > INT32_MAX)
        return tm_seterr(errstr, errlen, TM_EPARSE, "\"partition\" must be a non-negative integer");
    env->partition = (int32_t)partition;
    if (!get_int(doc, "ts", &env->ts))
        return tm_seterr(errstr, errlen, TM_EPARSE, "\"ts\" must be an integer (ms)");
    if (cJSON_GetObjectItemCaseSensitive(doc, "offset")) {
        if (!get_int(doc, "offset", &env->offset) || env->offset < 0)
            return tm_seterr(errstr, errlen, TM_EPARSE,
                             "\"offset\" must be a non-negative integer");
        env->has_offset = true;
    }
    int rc = tm_envelope_bytes(line, len, "key", &env->key_buf_, &env->key, &env->key_len, errstr,
                               errlen);
    if (rc == TM_OK)
        rc = tm_envelope_bytes(line, len, "payload", &env->payload_buf_, &env->payload,
                               &env->payload_len, errstr, errlen);
    return rc;
}

/* Writes ,"name":<bytes> : null, a JSON string when valid UTF-8, else
 * base64 and its encoding member. */
static void put_bytes(tm_buf *b, const char *name, const char *s, size_t len)
{
    tm_buf_printf(b, ",\"%s\":", name);
    if (!s) {
        tm_buf_puts(b, "null");
    } else if (tm_utf8_valid(s, len)) {
        tm_buf_put_json_string(b, s, len);
    } else {
        tm_buf_putc(b, '"');
        tm_base64_encode(b, s, len);
        tm_buf_printf(b, "\",\"%s_encoding\":\"%s\"", name, BASE64);
    }
}

void tm_envelope_write(tm_buf *b, const char *topic, int32_t partition, const char *key,
                       size_t key_len, const char *payload, size_t payload_len,
                       const tm_header *headers, size_t n_headers)
{
    tm_buf_puts(b, "{\"topic\":");
    tm_buf_put_json_string(b, topic, strlen(topic));
    tm_buf_puts(b, ",\"partition\":");
    tm_buf_put_i64(b, partition);
    put_bytes(b, "key", key, key_len);
    put_bytes(b, "payload", payload, payload_len);
    tm_buf_puts(b, ",\"headers\":{");
    for (size_t i = 0; i < n_headers; i++) {
        if (i)
            tm_buf_putc(b, ',');
        tm_buf_put_json_string(b, headers[i].name, strlen(headers[i].name));
        tm_buf_putc(b, ':');
        tm_buf_put_json_string(b, headers[i].value, strlen(headers[i].value));
    }
    tm_buf_puts(b, "}}\n");
}
