/*
 * cmd_seed.c - `wattkeeper seed [--db URL] [--master-key SECRET] [--tariff-dir DIR] FILE`:
 * creates communities, buildings, units, meters and accounts from a seed document
 * (docs/headend.md). Idempotent; all or nothing.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "app/args.h"
#include "app/cli.h"
#include "app/db.h"
#include "app/util.h"
#include "core/mem.h"
#include "headend/headend.h"

int wk_cmd_seed(int argc, char **argv)
{
    wk_opt o[] = {{"db", true, NULL}, {"master-key", true, NULL}, {"tariff-dir", true, NULL},
                  {"help", false, NULL}};
    wk_args a;
    const char *usage = "usage: wattkeeper seed [--db URL] [--master-key SECRET] "
                        "[--tariff-dir DIR] FILE.json\n";
    if (!wk_args_parse("seed", argc, argv, 1, o, 4, &a) || (!o[3].value && a.n_pos != 1)) {
        fputs(usage, stderr);
        return 2;
    }
    if (o[3].value) {
        fputs(usage, stdout);
        puts("Creates the registry from a seed file (docs/headend.md). Meter keys not given in\n"
             "the file are derived from the master key, as the simulator derives them.");
        return 0;
    }
    int rc = 1;
    char *buf = NULL;
    size_t len;
    wk_diag d = {{0}};
    wk_store *st = NULL;
    wk_ledger *lg = NULL;
    wk_headend *hd = NULL;
    if (wk_app_read_file(a.pos[0], 16u << 20, &buf, &len, &d)) {
        fprintf(stderr, "wattkeeper seed: %s\n", d.msg);
        goto done;
    }
    if (!wk_app_db_open(o[0].value, &st))
        goto done;
    wk_ledger_opts lo = {0};
    wk_headend_opts ho = {.tariff_dir = o[2].value ? o[2].value : "examples/tariffs",
                          .report_interval_s = 60, .gap_intervals = 3, .offline_after_s = 600,
                          .command_deadline_s = 30, .command_retries = 3,
                          .command_retry_base_ms = 1000, .batch_max = 1,
                          .policy = {.utc_offset_s = 8 * 3600}};
    if (wk_ledger_open(st, &lo, NULL, &lg, &d) ||
        wk_headend_open(st, lg, &ho, NULL, NULL, &hd, &d)) {
        fprintf(stderr, "wattkeeper seed: %s\n", d.msg);
        goto done;
    }
    const char *mk = o[1].value;
    if (wk_headend_seed(hd, buf, len, (const uint8_t *)mk, mk ? strlen(mk) : 0,
                        (int64_t)time(NULL) * 1000, &d)) {
        fprintf(stderr, "wattkeeper seed: %s: %s\n", a.pos[0], d.msg);
        goto done;
    }
    printf("seed: %s applied\n", a.pos[0]);
    rc = 0;
done:
    wk_headend_close(hd);
    wk_ledger_close(lg);
    wk_store_close(st);
    wk_free(buf);
    return rc;
}
