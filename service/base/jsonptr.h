/*
 * jsonptr.h: RFC 6901 JSON Pointers, compiled once into tokens.
 *
 * A pointer is parsed when the decoder opens, never per record: resolving
 * it then is a walk over precomputed tokens with no allocation and no
 * unescaping. Resolution itself lives in decode.c, the only module that may
 * see cJSON trees.
 *
 * Invariants of a compiled pointer: text is a copy of the configured text;
 * every token name is unescaped ("~1" -> "/", "~0" -> "~") and
 * NUL-terminated; is_index is true exactly when the name is an RFC 6901
 * array index ("0", or a digit 1-9 followed by digits) whose value fits in
 * size_t. "-" (the element after the last) is never an index here, since a
 * record can never hold that element.
 */
#ifndef TM_JSONPTR_H
#define TM_JSONPTR_H

#include <stdbool.h>
#include <stddef.h>

typedef struct tm_jsonptr_token {
    char *name;    /* unescaped reference token, NUL-terminated */
    size_t len;    /* strlen(name) */
    bool is_index; /* name is a valid array index */
    size_t index;  /* its value when is_index */
} tm_jsonptr_token;

typedef struct tm_jsonptr {
    char *text; /* the pointer as configured, for messages */
    tm_jsonptr_token *tokens;
    size_t n_tokens; /* 0 for "", the whole document */
} tm_jsonptr;

/*
 * Compiles text (copied; the caller keeps its string) into *p. Returns 0, or
 * TM_ECONFIG with a message in errstr when text is not a JSON Pointer: it
 * must be "" or start with '/', and every '~' must be followed by '0' or
 * '1'. On failure *p is left empty (safe to pass to tm_jsonptr_free).
 */
int tm_jsonptr_compile(tm_jsonptr *p, const char *text, char *errstr, size_t errlen);

/* Frees what tm_jsonptr_compile allocated and empties *p; an empty or
 * zero-initialised pointer is a no-op. */
void tm_jsonptr_free(tm_jsonptr *p);

#endif
