/*
 * test_jsonptr.c: compiling RFC 6901 pointers into tokens. Resolution
 * against documents is tested through the decoder (test_decode.c).
 */
#include <criterion/criterion.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "jsonptr.h"

static tm_jsonptr compile_ok(const char *text)
{
    tm_jsonptr p;
    char err[256] = "";
    cr_assert_eq(tm_jsonptr_compile(&p, text, err, sizeof err), TM_OK, "'%s': %s", text, err);
    cr_assert_str_eq(p.text, text);
    return p;
}

Test(jsonptr, whole_document)
{
    tm_jsonptr p = compile_ok("");
    cr_assert_eq(p.n_tokens, 0);
    tm_jsonptr_free(&p);
}

Test(jsonptr, plain_tokens)
{
    tm_jsonptr p = compile_ok("/a/bc/");
    cr_assert_eq(p.n_tokens, 3);
    cr_assert_str_eq(p.tokens[0].name, "a");
    cr_assert_str_eq(p.tokens[1].name, "bc");
    cr_assert_str_eq(p.tokens[2].name, ""); /* "/a/bc/" ends with the member "" */
    cr_assert_eq(p.tokens[2].len, 0);
    tm_jsonptr_free(&p);

    p = compile_ok("/");
    cr_assert_eq(p.n_tokens, 1);
    cr_assert_str_eq(p.tokens[0].name, "");
    tm_jsonptr_free(&p);
}

Test(jsonptr, escapes)
{
    tm_jsonptr p = compile_ok("/a~1b/m~0n/~01/~10");
    cr_assert_eq(p.n_tokens, 4);
    cr_assert_str_eq(p.tokens[0].name, "a/b");
    cr_assert_str_eq(p.tokens[1].name, "m~n");
    cr_assert_str_eq(p.tokens[2].name, "~1"); /* not "/": ~0 is decoded last */
    cr_assert_str_eq(p.tokens[3].name, "/0");
    cr_assert_eq(p.tokens[0].len, 3);
    tm_jsonptr_free(&p);
}

Test(jsonptr, array_indexes)
{
    tm_jsonptr p = compile_ok("/0/10/01/-/1x/ 1/18446744073709551616");
    cr_assert_eq(p.n_tokens, 7);
    cr_assert(p.tokens[0].is_index);
    cr_assert_eq(p.tokens[0].index, 0);
    cr_assert(p.tokens[1].is_index);
    cr_assert_eq(p.tokens[1].index, 10);
    cr_assert_not(p.tokens[2].is_index, "leading zero");
    cr_assert_not(p.tokens[3].is_index, "'-' never resolves");
    cr_assert_not(p.tokens[4].is_index);
    cr_assert_not(p.tokens[5].is_index);
    cr_assert_not(p.tokens[6].is_index, "2^64 does not fit");
    cr_assert_str_eq(p.tokens[2].name, "01", "still usable as a member name");
    tm_jsonptr_free(&p);
}

Test(jsonptr, largest_index)
{
    char text[32];
    snprintf(text, sizeof text, "/%zu", (size_t)SIZE_MAX);
    tm_jsonptr p = compile_ok(text);
    cr_assert(p.tokens[0].is_index);
    cr_assert_eq(p.tokens[0].index, SIZE_MAX);
    tm_jsonptr_free(&p);
}

Test(jsonptr, syntax_errors)
{
    const char *bad[] = {"a", "a/b", "/a~", "/a~2", "/~x/b", "~0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tm_jsonptr p;
        char err[256] = "";
        cr_assert_eq(tm_jsonptr_compile(&p, bad[i], err, sizeof err), TM_ECONFIG, "'%s'", bad[i]);
        cr_assert(strstr(err, bad[i]) != NULL, "message names the pointer: %s", err);
        cr_assert_eq(p.n_tokens, 0);
        tm_jsonptr_free(&p); /* safe on a failed compile */
    }
}

Test(jsonptr, free_zeroed_is_noop)
{
    tm_jsonptr p = {0};
    tm_jsonptr_free(&p);
    tm_jsonptr_free(&p);
}
