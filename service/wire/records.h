/*
 * records.h: the record types that cross layers: a Kafka header, and one
 * change of a task's state (a changelog record as the store applies it).
 * The input record the engine consumes is tm_record (engine.h).
 */
#ifndef TM_RECORDS_H
#define TM_RECORDS_H

#include <stddef.h>

/* One record header; both strings are NUL-terminated. */
typedef struct tm_header {
    const char *name;
    const char *value;
} tm_header;

/* One change: put key -> value, or delete key when value is NULL. */
typedef struct tm_kv_change {
    const void *key;
    size_t key_len;
    const void *value; /* NULL: delete */
    size_t value_len;
} tm_kv_change;

#endif
