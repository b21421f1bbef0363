/*
 * json_check.h: a strict RFC 8259 check of one JSON text, run before cJSON
 * sees a record (cJSON is lenient: it takes any byte <= 0x20 as whitespace,
 * leading zeros, raw control characters in strings, invalid UTF-8).
 *
 * Invariants: the check never reads outside the given bytes, needs no NUL
 * terminator and uses no recursion, so no input can exhaust the stack. It
 * accepts only what cJSON parses the same way: on top of RFC 8259 it
 * rejects "\u0000" in strings, numbers longer than TM_JSON_MAX_NUMBER_LEN
 * and nesting deeper than cJSON's limit, each with a message that says so.
 */
#ifndef TM_JSON_CHECK_H
#define TM_JSON_CHECK_H

#include <stdbool.h>
#include <stddef.h>

/* cJSON copies a number into a 64-byte buffer before strtod. */
#define TM_JSON_MAX_NUMBER_LEN 63

/* A top-level member of the record as the check saw it: its name's raw
 * bytes between the quotes and its value's JSON text, both inside the
 * record value. */
typedef struct tm_json_member {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} tm_json_member;

/* The top-level members of the last text checked, in order. Reused across
 * records by its owner; zero-initialised it is empty. */
typedef struct tm_json_members {
    tm_json_member *v;
    size_t n, cap;
} tm_json_members;

/* Frees the members' storage; the vector is empty afterwards. */
void tm_json_members_free(tm_json_members *m);

/* What tm_json_check found besides the members. */
typedef struct tm_json_check_result {
    const char *err;     /* why the text is invalid (static), NULL if valid */
    size_t err_offset;   /* the byte where the check failed */
    unsigned char first; /* the value's first byte, which tells its type */
    bool escaped_name;   /* some top-level name holds a backslash escape */
} tm_json_check_result;

/* Checks that value[0..len) is exactly one RFC 8259 JSON text (optionally
 * after a UTF-8 BOM). Returns TM_OK, or TM_EPARSE with the reason and the
 * offset in *res. For an object, members receives its members in order
 * (pointers into value). */
int tm_json_check(const char *value, size_t len, tm_json_members *members,
                  tm_json_check_result *res);

#endif
