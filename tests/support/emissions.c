/*
 * emissions.c: see emissions.h.
 */
#include "emissions.h"

#include <criterion/criterion.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "output.h"

tm_config *tm_test_config(const char *json)
{
    char path[] = "/tmp/tidemark-test-config-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, json, strlen(json)), (ssize_t)strlen(json));
    close(fd);
    tm_config *cfg = NULL;
    char err[512];
    int rc = tm_config_load(&cfg, path, NULL, NULL, 0, err, sizeof err);
    unlink(path);
    cr_assert_eq(rc, 0, "config: %s", err);
    return cfg;
}

static void push(tm_test_lines *l, tm_buf *b)
{
    l->v = tm_xrealloc(l->v, (l->n + 1) * sizeof *l->v);
    l->v[l->n++] = tm_xstrdup(b->data);
    tm_buf_free(b);
}

static void on_result(void *ctx, int32_t partition, const tm_window_result *r)
{
    tm_test_lines *l = ctx;
    tm_buf b = {0};
    tm_buf_printf(&b, "R%d ", (int)partition);
    tm_output_key(&b, r);
    tm_buf_putc(&b, ' ');
    if (r->tombstone)
        tm_buf_puts(&b, "null");
    else
        tm_output_value(&b, l->cfg, r);
    push(l, &b);
}

static void on_late(void *ctx, int32_t partition, const tm_record *rec, int64_t w)
{
    tm_buf b = {0};
    tm_buf_printf(&b, "L%d %lld %lld", (int)partition, (long long)rec->offset, (long long)w);
    push(ctx, &b);
}

static void on_dead(void *ctx, const tm_record *rec, tm_dlq_reason why, const char *detail)
{
    (void)detail;
    tm_buf b = {0};
    tm_buf_printf(&b, "D%d %lld %s", (int)rec->partition, (long long)rec->offset,
                  tm_dlq_reason_name(why));
    push(ctx, &b);
}

tm_engine_sink tm_test_lines_sink(tm_test_lines *l)
{
    return (tm_engine_sink){l, on_result, on_late, on_dead};
}

void tm_test_lines_free(tm_test_lines *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}
