/*
 * fuzz_repartition_record.c: libFuzzer target for tm_repartition_decode.
 *
 * The first input byte picks the configuration's aggregation count (0-5),
 * the second the Kafka key: 0xff a null key, else that many bytes (at most
 * what is left) of the rest; what follows is the record value. Key and
 * value are handed over exactly sized, so that ASan sees any over-read.
 *
 * Beyond "never crashes", every result is checked:
 * - a status is one of the map's, and FOREIGN exactly when
 *   tm_repartition_is_ours says no;
 * - an accepted record encodes back to exactly the value it was read from
 *   (the format has one spelling per record), whose measured size is its
 *   size, and its borrowed bytes lie inside the key and value;
 * - AGGS is a well-formed record: decoded with its own count, it is
 *   accepted.
 *
 * Build: `cmake --preset fuzz && cmake --build --preset fuzz` (the target
 * links instrumented copies of the wire layer and the layers below it).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "repartition_record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An exactly sized copy of n bytes (a 1-byte allocation for n == 0, never
 * read). */
static char *exact_copy(const uint8_t *p, size_t n)
{
    char *c = malloc(n ? n : 1);
    if (!c)
        abort();
    if (n)
        memcpy(c, p, n);
    return c;
}

/* Aborts unless [p, p + n) lies inside [base, base + len); reads each byte
 * so that ASan checks it is live. */
static void check_inside(const char *p, size_t n, const char *base, size_t len)
{
    if (n == 0)
        return;
    if (!p || p < base || (size_t)(p - base) > len || n > len - (size_t)(p - base))
        abort();
    volatile char sink = 0;
    for (size_t i = 0; i < n; i++)
        sink ^= p[i];
    (void)sink;
}

static void check_event(const tm_repartition_event *ev, const char *key, size_t key_len,
                        const char *value, size_t value_len)
{
    if (!ev->group_key || ev->group_key_len > key_len)
        abort();
    check_inside(ev->group_key, ev->group_key_len, key, key_len);
    check_inside(ev->topic, ev->topic_len, value, value_len);
    if (ev->id)
        check_inside(ev->id, ev->id_len, value, value_len);
    if (ev->key.data)
        check_inside(ev->key.data, ev->key.len, value, value_len);
    if (ev->value.data)
        check_inside(ev->value.data, ev->value.len, value, value_len);
    if (tm_repartition_event_value_bytes(ev) != value_len)
        abort();
}

/* A record accepted from value encodes back to value, byte for byte. */
static void check_encodes_back(const tm_repartition_record *rec, const char *value,
                               size_t value_len)
{
    tm_buf b = {0};
    tm_repartition_status s = rec->kind == TM_REPARTITION_EVENT
                                  ? tm_repartition_encode_event(&b, &rec->event)
                                  : tm_repartition_encode_watermark(&b, &rec->watermark);
    if (s != TM_REPARTITION_OK || b.len != value_len || memcmp(b.data, value, value_len) != 0)
        abort();
    tm_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t n_aggs = data[0] % 6;
    bool null_key = data[1] == 0xff;
    size_t key_len = null_key ? 0 : data[1];
    if (key_len > size - 2)
        key_len = size - 2;
    size_t value_len = size - 2 - key_len;
    char *key = exact_copy(data + 2, key_len);
    char *value = exact_copy(data + 2 + key_len, value_len);
    const char *key_arg = null_key ? NULL : key;
    const char *value_arg = value_len ? value : NULL;

    double values[5];
    tm_repartition_record rec;
    tm_repartition_status s =
        tm_repartition_decode(key_arg, key_len, value_arg, value_len, n_aggs, values, &rec);
    if ((unsigned)s > TM_REPARTITION_AGGS || !tm_repartition_status_text(s))
        abort();
    if ((s == TM_REPARTITION_FOREIGN) == tm_repartition_is_ours(value_arg, value_len))
        abort();
    if (s == TM_REPARTITION_OK) {
        if (rec.kind == TM_REPARTITION_EVENT)
            check_event(&rec.event, key, key_len, value, value_len);
        else if (rec.kind != TM_REPARTITION_WATERMARK)
            abort();
        check_encodes_back(&rec, value, value_len);
    } else if (s == TM_REPARTITION_AGGS) {
        size_t n = rec.event.n_values;
        if (rec.kind != TM_REPARTITION_EVENT || n == n_aggs || n > value_len / 8)
            abort();
        double *own = malloc((n ? n : 1) * sizeof *own);
        if (!own)
            abort();
        if (tm_repartition_decode(key_arg, key_len, value_arg, value_len, n, own, &rec) !=
            TM_REPARTITION_OK)
            abort();
        check_event(&rec.event, key, key_len, value, value_len);
        check_encodes_back(&rec, value, value_len);
        free(own);
    }
    free(key);
    free(value);
    return 0;
}
