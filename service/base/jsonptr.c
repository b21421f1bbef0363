/*
 * jsonptr.c: compiles RFC 6901 JSON Pointers into unescaped tokens.
 *
 * See jsonptr.h for the invariants of a compiled pointer. Everything here
 * runs at startup; the per-record cost of a pointer is only the walk in
 * decode.c.
 */
#include "jsonptr.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "err.h"

/* Checks the whole text before allocating anything, so that compile has a
 * single failure point and never leaves a half-built pointer behind. */
static int check_syntax(const char *text, char *errstr, size_t errlen)
{
    if (text[0] != '\0' && text[0] != '/')
        return tm_seterr(errstr, errlen, TM_ECONFIG,
                         "not a JSON pointer (RFC 6901): '%s' must be empty or start with '/'",
                         text);
    for (const char *c = text; *c; c++) {
        if (*c == '~' && c[1] != '0' && c[1] != '1')
            return tm_seterr(errstr, errlen, TM_ECONFIG,
                             "not a JSON pointer (RFC 6901): in '%s', '~' must be followed by "
                             "'0' or '1'",
                             text);
    }
    return TM_OK;
}

/* RFC 6901 section 4: an array index is "0" or a decimal number without a
 * leading zero. Values beyond size_t cannot address any parsed array, so
 * they are simply not indexes. */
static bool parse_index(const char *name, size_t len, size_t *out)
{
    if (len == 0 || (name[0] == '0' && len > 1))
        return false;
    size_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (name[i] < '0' || name[i] > '9')
            return false;
        size_t digit = (size_t)(name[i] - '0');
        if (v > (SIZE_MAX - digit) / 10)
            return false;
        v = v * 10 + digit;
    }
    *out = v;
    return true;
}

/* Unescapes one reference token src[0..n) ("~1" -> "/", "~0" -> "~"; the
 * order matters per RFC 6901 section 4: "~01" is "~1", not "/"). */
static void compile_token(tm_jsonptr_token *tok, const char *src, size_t n)
{
    char *name = tm_xmalloc(n + 1);
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        if (src[i] == '~') {
            name[len++] = src[i + 1] == '1' ? '/' : '~';
            i++; /* check_syntax guaranteed the escape is complete */
        } else {
            name[len++] = src[i];
        }
    }
    name[len] = '\0';
    tok->name = name;
    tok->len = len;
    tok->is_index = parse_index(name, len, &tok->index);
}

int tm_jsonptr_compile(tm_jsonptr *p, const char *text, char *errstr, size_t errlen)
{
    memset(p, 0, sizeof *p);
    int rc = check_syntax(text, errstr, errlen);
    if (rc != TM_OK)
        return rc;

    size_t n = 0;
    for (const char *c = text; *c; c++)
        n += *c == '/';
    p->text = tm_xstrdup(text);
    p->tokens = n ? tm_xcalloc(n, sizeof *p->tokens) : NULL;
    p->n_tokens = n;

    /* Each token runs from just after a '/' to the next '/' or the end. */
    const char *start = text;
    for (size_t i = 0; i < n; i++) {
        start++; /* skip the '/' */
        const char *stop = strchr(start, '/');
        size_t len = stop ? (size_t)(stop - start) : strlen(start);
        compile_token(&p->tokens[i], start, len);
        start += len;
    }
    return TM_OK;
}

void tm_jsonptr_free(tm_jsonptr *p)
{
    for (size_t i = 0; i < p->n_tokens; i++)
        free(p->tokens[i].name);
    free(p->tokens);
    free(p->text);
    memset(p, 0, sizeof *p);
}
