/*
 * config_loader.c: see config_loader.h. The messages every phase of the
 * loader writes: a value error's one shape, the JSON type names.
 */
#include "config_loader.h"

#include <stdarg.h>
#include <stdio.h>

#include "err.h"

/* "config: <key><origin>: <message>": the one shape of a value error. */
__attribute__((format(printf, 4, 5))) int config_key_fail(loader *L, const char *key,
                                                          const char *origin, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return tm_seterr(L->errstr, L->errlen, TM_ECONFIG, "config: %s%s: %s", key, origin, msg);
}

const char *config_json_type_name(const cJSON *j)
{
    if (cJSON_IsString(j))
        return "a string";
    if (cJSON_IsNumber(j))
        return "a number";
    if (cJSON_IsBool(j))
        return "a bool";
    if (cJSON_IsArray(j))
        return "a list";
    if (cJSON_IsObject(j))
        return "an object";
    return "null";
}
