/*
 * test_util.h - helpers shared by the C tests: loading the shipped example tariffs and a
 * small seeded PRNG for property tests (xorshift64*, reproducible across platforms).
 */
#ifndef WK_TEST_UTIL_H
#define WK_TEST_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/tariff.h"
#include "proto/tariff_json.h"

static inline wk_tariff *tu_load_tariff(const char *name)
{
    const char *root = getenv("WK_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/examples/tariffs/%s.json", root ? root : ".", name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        abort();
    }
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    wk_tariff *t = wk_calloc(1, sizeof *t);
    wk_diag d;
    if (wk_tariff_json_parse(buf, n, t, &d)) {
        fprintf(stderr, "%s: %s\n", path, d.msg);
        abort();
    }
    return t;
}

static inline wk_tariff *tu_parse_tariff(const char *json, wk_diag *d)
{
    wk_tariff *t = wk_calloc(1, sizeof *t);
    if (wk_tariff_json_parse(json, strlen(json), t, d)) {
        wk_free(t);
        return NULL;
    }
    return t;
}

typedef struct tu_rng {
    uint64_t s;
} tu_rng;

static inline uint64_t tu_next(tu_rng *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * UINT64_C(2685821657736338717);
}

/* uniform in [0, n) for n > 0 (tiny modulo bias is irrelevant here) */
static inline int64_t tu_below(tu_rng *r, int64_t n)
{
    return (int64_t)(tu_next(r) % (uint64_t)n);
}

#endif
