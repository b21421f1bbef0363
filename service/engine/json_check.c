/*
 * json_check.c: the strict RFC 8259 check (json_check.h).
 *
 * "Valid JSON" means RFC 8259, checked here rather than by cJSON, which is
 * lenient (it takes any byte <= 0x20 as whitespace, leading zeros, raw
 * control characters in strings, invalid UTF-8). Two documented limits on
 * top of RFC 8259 come from cJSON: strings may not contain \u0000 (cJSON
 * strings are NUL-terminated, so "a\u0000b" would silently become "a"),
 * and a number may not be longer than 63 characters (cJSON's buffer).
 * Both are invalid_json with a detail that says so. A leading UTF-8 BOM
 * is skipped (RFC 8259 section 8.1 allows it; cJSON and Jackson do too).
 */
#include "json_check.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "err.h"
#include "json_string.h"
#include "utf8.h"

/* cJSON refuses deeper nesting; checking the same limit first keeps every
 * deep input on the iterative path and its message precise. It is also
 * Jackson's default (StreamReadConstraints, 1000). */
#define TM_JSON_MAX_DEPTH CJSON_NESTING_LIMIT
_Static_assert(TM_JSON_MAX_DEPTH == 1000, "update the nesting message in jc_push");

/* The member vector is reused across records, so that recording members
 * allocates nothing in steady state; trimmed back after a record with more
 * than MEMBERS_MAX_KEEP members, like the decoder's arena. */
#define MEMBERS_MAX_KEEP 1024

/* An iterative checker: the container kinds of the open levels are a bit
 * stack, so nesting costs no C stack. Fails with a static message and the
 * byte offset of the problem. */
typedef struct json_check {
    const unsigned char *p, *begin, *end;
    const char *err;
    size_t depth;
    uint64_t is_object[(TM_JSON_MAX_DEPTH + 63) / 64];
    tm_json_members *members; /* the top-level members, recorded on the way */
    bool escaped_name;        /* some top-level name holds a backslash escape */
} json_check;

/* Records why the check failed; jc->p stays at the offending byte. */
static bool jc_fail(json_check *jc, const char *msg)
{
    jc->err = msg;
    return false;
}

/* RFC 8259 whitespace only (cJSON would take any byte <= 0x20). */
static bool is_ws(unsigned char c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

/* Called between all tokens; compact JSON has no whitespace at all, so the
 * common case is the first test. */
static inline void jc_skip_ws(json_check *jc)
{
    const unsigned char *p = jc->p, *end = jc->end;
    if (p < end && ' ' < *p) /* (operand order keeps clang-format 14 from misparsing) */
        return;
    while (p < end && is_ws(*p))
        p++;
    jc->p = p;
}

/* One "\u" escape, or a surrogate pair of them (cJSON rejects unpaired
 * surrogates; saying so here gives a better message). */
static bool jc_u_escape(json_check *jc)
{
    if (jc->end - jc->p < 6)
        return jc_fail(jc, "truncated \\u escape");
    long v = tm_json_hex4(jc->p + 2);
    if (v < 0)
        return jc_fail(jc, "bad hex digit in \\u escape");
    if (v == 0)
        return jc_fail(jc, "\\u0000 in a string is not supported");
    if (v >= 0xDC00 && v <= 0xDFFF)
        return jc_fail(jc, "unpaired UTF-16 surrogate escape");
    jc->p += 6;
    if (v < 0xD800 || v > 0xDBFF)
        return true;
    if (jc->end - jc->p < 6 || jc->p[0] != '\\' || jc->p[1] != 'u')
        return jc_fail(jc, "unpaired UTF-16 surrogate escape");
    long lo = tm_json_hex4(jc->p + 2);
    if (lo < 0xDC00 || lo > 0xDFFF)
        return jc_fail(jc, "unpaired UTF-16 surrogate escape");
    jc->p += 6;
    return true;
}

/* A backslash escape inside a string (RFC 8259 section 7). */
static bool jc_escape(json_check *jc)
{
    if (jc->end - jc->p < 2)
        return jc_fail(jc, "unterminated string");
    switch (jc->p[1]) {
    case '"':
    case '\\':
    case '/':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't':
        jc->p += 2;
        return true;
    case 'u':
        return jc_u_escape(jc);
    default:
        return jc_fail(jc, "invalid escape in string");
    }
}

/* One multi-byte UTF-8 sequence (RFC 3629 table 4: no overlong forms, no
 * surrogates, nothing above U+10FFFF). */
static bool jc_utf8(json_check *jc)
{
    size_t n = tm_utf8_seq_len(jc->p, (size_t)(jc->end - jc->p));
    if (!n)
        return jc_fail(jc, "invalid UTF-8");
    jc->p += n;
    return true;
}

/* Bytes that a string may hold as they are: printable ASCII except '"' and
 * '\\'. A table makes the hot loop one load and test per byte. */
static const unsigned char plain_byte[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x00 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x10 */
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x20 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x30 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x40 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, /* 0x50 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x60 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x70 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x80 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x90 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0xA0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0xB0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0xC0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0xD0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0xE0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0xF0 */
};

/* A string starting at the opening quote. Plain ASCII is the hot loop. */
static bool jc_string(json_check *jc)
{
    jc->p++;
    for (;;) {
        const unsigned char *p = jc->p, *end = jc->end;
        while (p < end && plain_byte[*p])
            p++;
        jc->p = p;
        if (jc->p >= jc->end)
            return jc_fail(jc, "unterminated string");
        unsigned char c = *jc->p;
        if (c == '"') {
            jc->p++;
            return true;
        }
        if (c < 0x20)
            return jc_fail(jc, "control character in string");
        if (!(c == '\\' ? jc_escape(jc) : jc_utf8(jc)))
            return false;
    }
}

/* Whether the next byte exists and is a digit. */
static bool is_digit_byte(const json_check *jc)
{
    return jc->p < jc->end && *jc->p >= '0' && *jc->p <= '9';
}

/* Skips a run of digits (possibly empty). */
static void jc_digits(json_check *jc)
{
    while (is_digit_byte(jc))
        jc->p++;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool jc_number(json_check *jc)
{
    const unsigned char *start = jc->p;
    if (*jc->p == '-')
        jc->p++;
    if (!is_digit_byte(jc))
        return jc_fail(jc, "invalid number");
    if (*jc->p++ != '0')
        jc_digits(jc);
    if (jc->p < jc->end && *jc->p == '.') {
        jc->p++;
        if (!is_digit_byte(jc))
            return jc_fail(jc, "invalid number");
        jc_digits(jc);
    }
    if (jc->p < jc->end && (*jc->p == 'e' || *jc->p == 'E')) {
        jc->p++;
        if (jc->p < jc->end && (*jc->p == '+' || *jc->p == '-'))
            jc->p++;
        if (!is_digit_byte(jc))
            return jc_fail(jc, "invalid number");
        jc_digits(jc);
    }
    if (jc->p - start > TM_JSON_MAX_NUMBER_LEN)
        return jc_fail(jc, "number longer than 63 characters is not supported");
    return true;
}

/* true, false or null. */
static bool jc_literal(json_check *jc, const char *word, size_t n)
{
    if ((size_t)(jc->end - jc->p) < n || memcmp(jc->p, word, n) != 0)
        return jc_fail(jc, "invalid literal");
    jc->p += n;
    return true;
}

/* Opens a level at '{' or '[' (consumed), bounded by the depth limit. */
static bool jc_push(json_check *jc, bool object)
{
    if (jc->depth >= TM_JSON_MAX_DEPTH)
        return jc_fail(jc, "nesting deeper than 1000 levels");
    uint64_t bit = (uint64_t)1 << (jc->depth % 64);
    if (object)
        jc->is_object[jc->depth / 64] |= bit;
    else
        jc->is_object[jc->depth / 64] &= ~bit;
    jc->depth++;
    jc->p++;
    return true;
}

/* Whether the innermost open level is an object (else an array). */
static bool jc_top_is_object(const json_check *jc)
{
    size_t i = jc->depth - 1;
    return (jc->is_object[i / 64] >> (i % 64)) & 1;
}

/* True while the check is directly inside the record object: where the
 * members that pointers start from are recorded. */
static bool jc_at_top_object(const json_check *jc)
{
    return jc->depth == 1 && jc_top_is_object(jc);
}

/* Starts recording a top-level member at its name (quotes included). */
static void jc_record_name(json_check *jc, const unsigned char *start, const unsigned char *stop)
{
    tm_json_members *m = jc->members;
    m->v = tm_grow(m->v, &m->cap, m->n + 1, sizeof *m->v);
    size_t len = (size_t)(stop - start) - 2;
    m->v[m->n++] = (tm_json_member){.name = (const char *)start + 1, .name_len = len};
    if (memchr(start + 1, '\\', len))
        jc->escaped_name = true;
}

/* A member name and its colon, with the whitespace around them. */
static bool jc_member_name(json_check *jc)
{
    jc_skip_ws(jc);
    if (jc->p >= jc->end || *jc->p != '"')
        return jc_fail(jc, "expected a member name");
    const unsigned char *start = jc->p;
    if (!jc_string(jc))
        return false;
    if (jc_at_top_object(jc))
        jc_record_name(jc, start, jc->p);
    jc_skip_ws(jc);
    if (jc->p >= jc->end || *jc->p != ':')
        return jc_fail(jc, "expected ':'");
    jc->p++;
    return true;
}

/* Reads the start of a value. *opened says whether it was '{' or '[' and
 * left a new level open (and, for an object, read its first name). */
static bool jc_value_start(json_check *jc, bool *opened)
{
    *opened = false;
    jc_skip_ws(jc);
    if (jc->p >= jc->end)
        return jc_fail(jc, "expected a value");
    if (jc_at_top_object(jc))
        jc->members->v[jc->members->n - 1].value = (const char *)jc->p;
    switch (*jc->p) {
    case '{':
        if (!jc_push(jc, true))
            return false;
        jc_skip_ws(jc);
        if (jc->p < jc->end && *jc->p == '}') {
            jc->p++;
            jc->depth--;
            return true;
        }
        *opened = true;
        return jc_member_name(jc);
    case '[':
        if (!jc_push(jc, false))
            return false;
        jc_skip_ws(jc);
        if (jc->p < jc->end && *jc->p == ']') {
            jc->p++;
            jc->depth--;
            return true;
        }
        *opened = true;
        return true;
    case '"':
        return jc_string(jc);
    case 't':
        return jc_literal(jc, "true", 4);
    case 'f':
        return jc_literal(jc, "false", 5);
    case 'n':
        return jc_literal(jc, "null", 4);
    default:
        if (*jc->p == '-' || (*jc->p >= '0' && *jc->p <= '9'))
            return jc_number(jc);
        return jc_fail(jc, "expected a value");
    }
}

/* After a complete value: closes every level that ends here. Returns with
 * *more set when a ',' asks for another value at the current level. */
static bool jc_value_end(json_check *jc, bool *more)
{
    *more = false;
    while (jc->depth > 0) {
        if (jc_at_top_object(jc)) { /* a top-level member's value ends here */
            tm_json_member *m = &jc->members->v[jc->members->n - 1];
            m->value_len = (size_t)((const char *)jc->p - m->value);
        }
        jc_skip_ws(jc);
        if (jc->p >= jc->end)
            return jc_fail(jc, "unexpected end of input");
        bool object = jc_top_is_object(jc);
        unsigned char c = *jc->p;
        if (c != ',' && c != (object ? '}' : ']'))
            return jc_fail(jc, object ? "expected ',' or '}'" : "expected ',' or ']'");
        jc->p++;
        if (c == ',') {
            *more = true;
            return object ? jc_member_name(jc) : true;
        }
        jc->depth--;
    }
    return true;
}

/* Checks that value[0..len) is exactly one RFC 8259 JSON text (optionally
 * after a UTF-8 BOM). On success *first is the first byte of the value,
 * which tells its type, and, for an object, members holds its members in
 * order. */
static bool json_check_text(json_check *jc, const char *value, size_t len, tm_json_members *members,
                            unsigned char *first)
{
    jc->begin = (const unsigned char *)value;
    jc->p = jc->begin;
    jc->end = jc->begin + len;
    jc->err = NULL;
    jc->depth = 0;
    jc->members = members;
    jc->members->n = 0;
    jc->escaped_name = false;
    if (len >= 3 && memcmp(value, "\xEF\xBB\xBF", 3) == 0)
        jc->p += 3;
    jc_skip_ws(jc);
    *first = jc->p < jc->end ? *jc->p : 0;
    bool opened = true, more = true;
    while (opened || more) {
        if (!jc_value_start(jc, &opened))
            return false;
        if (!opened && !jc_value_end(jc, &more))
            return false;
    }
    jc_skip_ws(jc);
    if (jc->p != jc->end)
        return jc_fail(jc, "unexpected data after the value");
    return true;
}

void tm_json_members_free(tm_json_members *m)
{
    free(m->v);
    memset(m, 0, sizeof *m);
}

int tm_json_check(const char *value, size_t len, tm_json_members *members,
                  tm_json_check_result *res)
{
    if (members->cap > MEMBERS_MAX_KEEP) /* grown by the previous record */
        tm_json_members_free(members);
    json_check jc;
    bool ok = json_check_text(&jc, value, len, members, &res->first);
    res->err = ok ? NULL : jc.err;
    res->err_offset = ok ? 0 : (size_t)(jc.p - jc.begin);
    res->escaped_name = jc.escaped_name;
    return ok ? TM_OK : TM_EPARSE;
}
