/*
 * prom.c: see prom.h.
 */
#include "prom.h"

#include "buf.h"

#include <stdbool.h>
#include <string.h>

/* Escapes \ and newline, and " too inside label values. */
static void put_escaped(tm_buf *b, const char *s, bool quote)
{
    for (; *s; s++) {
        if (*s == '\\')
            tm_buf_puts(b, "\\\\");
        else if (*s == '\n')
            tm_buf_puts(b, "\\n");
        else if (quote && *s == '"')
            tm_buf_puts(b, "\\\"");
        else
            tm_buf_putc(b, *s);
    }
}

void tm_prom_family(tm_buf *b, const char *name, const char *type, const char *help)
{
    tm_buf_printf(b, "# HELP %s ", name);
    put_escaped(b, help, false);
    tm_buf_printf(b, "\n# TYPE %s %s\n", name, type);
}

/* name{labels[,extra="value"]} */
static void put_series(tm_buf *b, const char *name, const char *suffix, const tm_prom_label *labels,
                       size_t n_labels, const tm_prom_label *extra)
{
    tm_buf_puts(b, name);
    tm_buf_puts(b, suffix);
    if (n_labels == 0 && !extra)
        return;
    tm_buf_putc(b, '{');
    for (size_t i = 0; i < n_labels + (extra != NULL); i++) {
        const tm_prom_label *l = i < n_labels ? &labels[i] : extra;
        if (i > 0)
            tm_buf_putc(b, ',');
        tm_buf_printf(b, "%s=\"", l->name);
        put_escaped(b, l->value, true);
        tm_buf_putc(b, '"');
    }
    tm_buf_putc(b, '}');
}

static void put_value(tm_buf *b, double v)
{
    tm_buf_putc(b, ' ');
    tm_buf_put_double(b, v);
    tm_buf_putc(b, '\n');
}

void tm_prom_sample(tm_buf *b, const char *name, const tm_prom_label *labels, size_t n_labels,
                    double value)
{
    put_series(b, name, "", labels, n_labels, NULL);
    put_value(b, value);
}

void tm_prom_histogram(tm_buf *b, const char *name, const tm_prom_label *labels, size_t n_labels,
                       const tm_histogram *h, double scale)
{
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= h->bounds->n; i++) {
        cumulative += h->buckets[i];
        tm_buf le = {0};
        if (i < h->bounds->n)
            tm_buf_put_double(&le, (double)h->bounds->le[i] * scale);
        else
            tm_buf_puts(&le, "+Inf");
        put_series(b, name, "_bucket", labels, n_labels, &(tm_prom_label){"le", le.data});
        put_value(b, (double)cumulative);
        tm_buf_free(&le);
    }
    put_series(b, name, "_sum", labels, n_labels, NULL);
    put_value(b, h->sum * scale);
    put_series(b, name, "_count", labels, n_labels, NULL);
    put_value(b, (double)h->count);
}
