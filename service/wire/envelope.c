/*
 * envelope.c: see envelope.h. Input lines are parsed with cJSON (the one
 * JSON parser of the project); output lines are written directly, since
 * their shape is fixed.
 */
#include "envelope.h"

#include "buf.h"
#include "err.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>

void tm_envelope_clear(tm_envelope *env)
{
    cJSON_Delete(env->doc_);
    memset(env, 0, sizeof *env);
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

/* A string-or-null field: sets *s (NULL for null or absent). */
static bool get_nullable_string(const cJSON *doc, const char *name, const char **s, size_t *len)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, name);
    *s = NULL;
    *len = 0;
    if (!v || cJSON_IsNull(v))
        return true;
    if (!cJSON_IsString(v))
        return false;
    *s = v->valuestring;
    *len = strlen(v->valuestring);
    return true;
}

int tm_envelope_parse(tm_envelope *env, const char *line, size_t len, char *errstr, size_t errlen)
{
    tm_envelope_clear(env);
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
    if (!get_nullable_string(doc, "key", &env->key, &env->key_len))
        return tm_seterr(errstr, errlen, TM_EPARSE, "\"key\" must be a string or null");
    if (!get_nullable_string(doc, "payload", &env->payload, &env->payload_len))
        return tm_seterr(errstr, errlen, TM_EPARSE, "\"payload\" must be a string or null");
    return TM_OK;
}

static void put_nullable(tm_buf *b, const char *s, size_t len)
{
    if (s)
        tm_buf_put_json_string(b, s, len);
    else
        tm_buf_puts(b, "null");
}

void tm_envelope_write(tm_buf *b, const char *topic, int32_t partition, const char *key,
                       size_t key_len, const char *payload, size_t payload_len,
                       const tm_header *headers, size_t n_headers)
{
    tm_buf_puts(b, "{\"topic\":");
    tm_buf_put_json_string(b, topic, strlen(topic));
    tm_buf_puts(b, ",\"partition\":");
    tm_buf_put_i64(b, partition);
    tm_buf_puts(b, ",\"key\":");
    put_nullable(b, key, key_len);
    tm_buf_puts(b, ",\"payload\":");
    put_nullable(b, payload, payload_len);
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
