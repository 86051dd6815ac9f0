/*
 * rating_bench.c - interval ratings per second on one core. Each scenario rates 15-minute
 * intervals for a population of accounts (round robin, so states do not all sit in L1),
 * through the same wk_rate_interval() the head-end and `wattkeeper rate` use. Prints the
 * median of 5 runs per scenario.
 *
 *   rating_bench [SOURCE_DIR] [ACCOUNTS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/civil.h"
#include "core/mem.h"
#include "core/rating.h"
#include "proto/tariff_json.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static wk_tariff *load(const char *root, const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/examples/tariffs/%s.json", root, name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(1);
    }
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    wk_tariff *t = wk_calloc(1, sizeof *t);
    wk_diag d;
    if (!t || wk_tariff_json_parse(buf, n, t, &d)) {
        fprintf(stderr, "%s: %s\n", path, t ? d.msg : "oom");
        exit(1);
    }
    return t;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct scenario {
    const char *name;
    const char *tariff;
    int registers; /* intervals carry TOU register energies */
    int explain;   /* produce explanation lines */
} scenario;

static double run(const wk_tariff *t, const scenario *sc, int accounts, int64_t intervals)
{
    wk_rate_state *st = wk_calloc((size_t)accounts, sizeof *st);
    static wk_rate_result res;
    int64_t t0 = wk_days_from_civil(2026, 1, 1) * 86400 - 8 * 3600;
    int64_t sink = 0;
    wk_diag d;
    double start = now_s();
    for (int64_t i = 0; i < intervals; i++) {
        int a = (int)(i % accounts);
        int64_t k = i / accounts;
        wk_interval iv = {.from_s = t0 + k * 900, .to_s = t0 + (k + 1) * 900,
                          .energy_wh = 100 + (i * 7919) % 400};
        if (sc->registers) {
            iv.has_slots = true;
            iv.slot_wh[WK_SLOT_PEAK] = iv.energy_wh * 2 / 3;
            iv.slot_wh[WK_SLOT_VALLEY] = iv.energy_wh - iv.slot_wh[WK_SLOT_PEAK];
        }
        if (wk_rate_interval(t, NULL, &st[a], &iv, sc->explain ? &res : NULL, &d)) {
            fprintf(stderr, "%s: %s\n", sc->name, d.msg);
            exit(1);
        }
        sink += st[a].charged_fen;
    }
    double el = now_s() - start;
    if (sink == 42)
        puts("");
    wk_free(st);
    return (double)intervals / el;
}

int main(int argc, char **argv)
{
    const char *root = argc > 1 ? argv[1] : ".";
    int accounts = argc > 2 ? atoi(argv[2]) : 10000;
    const scenario scs[] = {
        {"TOU registers, chronological tiers (head-end path)", "zhejiang-residential", 1, 0},
        {"no registers, split by TOU slot time", "zhejiang-residential", 0, 0},
        {"flat tiered (Beijing)", "beijing-residential", 0, 0},
        {"TOU registers, proportional tiers (Shanghai)", "shanghai-residential", 1, 0},
        {"TOU registers + explanation lines", "zhejiang-residential", 1, 1},
    };
    printf("rating_bench: %d accounts, 15-minute intervals, median of 5 runs, one core\n",
           accounts);
    for (size_t s = 0; s < sizeof scs / sizeof scs[0]; s++) {
        wk_tariff *t = load(root, scs[s].tariff);
        /* calibrate to about 0.5 s per run */
        int64_t n = 200000;
        double rate = run(t, &scs[s], accounts, n);
        n = (int64_t)(rate * 0.5) / accounts * accounts + accounts;
        double r[5];
        for (int i = 0; i < 5; i++)
            r[i] = run(t, &scs[s], accounts, n);
        qsort(r, 5, sizeof r[0], cmp_d);
        printf("  %-52s %7.2f M ratings/s  (%.0f ns each; min %.2f max %.2f)\n", scs[s].name,
               r[2] / 1e6, 1e9 / r[2], r[0] / 1e6, r[4] / 1e6);
        wk_free(t);
    }
    return 0;
}
