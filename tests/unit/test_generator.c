/*
 * Unit tests of generator.c: deterministic for a seed, a merchant always on
 * the same partition, and the mix it documents, checked through the real
 * decoder with the demo pipeline's configuration.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "decode.h"
#include "generator.h"

Test(generator, same_seed_same_records)
{
    tm_generator *a = tm_generator_new(42, 4, 20), *b = tm_generator_new(42, 4, 20);
    tm_generated x, y;
    for (int i = 0; i < 1000; i++) {
        tm_generator_next(a, 1000000 + i, &x);
        tm_generator_next(b, 1000000 + i, &y);
        cr_assert_eq(x.partition, y.partition);
        cr_assert_eq(x.payload_len, y.payload_len);
        cr_assert(memcmp(x.payload, y.payload, x.payload_len) == 0);
    }
    tm_generator_free(a);
    tm_generator_free(b);
}

Test(generator, the_documented_mix)
{
    char path[512], err[512];
    const char *src = getenv("TIDEMARK_SOURCE_DIR");
    cr_assert(src, "TIDEMARK_SOURCE_DIR is not set (ctest sets it)");
    snprintf(path, sizeof path, "%s/deploy/demo/config.json", src);
    tm_config *cfg = NULL;
    cr_assert_eq(tm_config_load(&cfg, path, NULL, NULL, 0, err, sizeof err), 0, "%s", err);
    tm_decoder *dec = NULL;
    cr_assert_eq(tm_decoder_open(&dec, cfg, err, sizeof err), 0, "%s", err);

    enum { N = 100000 };
    tm_generator *g = tm_generator_new(7, 4, 30);
    int partition_of[31];
    memset(partition_of, -1, sizeof partition_of);
    size_t dead = 0, ahead = 0, late = 0;
    for (int64_t i = 0; i < N; i++) {
        int64_t now = 1767261600000 + i;
        tm_generated r;
        tm_generator_next(g, now, &r);
        int merchant = (int)strtol(r.key + 2, NULL, 10);
        cr_assert(merchant >= 1 && merchant <= 30);
        if (partition_of[merchant] < 0)
            partition_of[merchant] = r.partition;
        cr_assert_eq(r.partition, partition_of[merchant], "a merchant moved partition");
        tm_event ev;
        char detail[256];
        if (tm_decode(dec, r.key, r.key_len, r.payload, r.payload_len, &ev, detail,
                      sizeof detail) != TM_DLQ_NONE) {
            dead++;
            continue;
        }
        ahead += ev.t > now + 60000;
        late += ev.t < now - 3000;
    }
    /* Documented: 1% malformed, 0.5% an hour ahead, 3% late (duplicates
     * repeat one of these, so the shares hold). */
    cr_assert(dead > N / 200 && dead < N / 50, "malformed: %zu", dead);
    cr_assert(ahead > N / 400 && ahead < N / 100, "ahead: %zu", ahead);
    cr_assert(late > N / 50 && late < N / 20, "late: %zu", late);
    tm_generator_free(g);
    tm_decoder_close(dec);
    tm_config_free(cfg);
}
