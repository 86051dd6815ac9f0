/*
 * cmd_rate.c - `wattkeeper rate --tariff FILE.json --readings FILE.csv [--json]`: rates
 * cumulative register readings and prints every deduction with the lines that explain it,
 * and the total. The input is checked completely before anything is printed, so a
 * rejected file prints only the error.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/args.h"
#include "app/cli.h"
#include "app/util.h"
#include "core/civil.h"
#include "core/mem.h"
#include "core/rating.h"
#include "core/readings.h"
#include "core/units.h"
#include "proto/readings_csv.h"
#include "proto/tariff_json.h"

#define TARIFF_FILE_MAX (4u << 20)
#define READINGS_FILE_MAX (512u << 20)

static void rate__usage(FILE *f)
{
    fprintf(f,
            "usage: wattkeeper rate --tariff FILE.json --readings FILE.csv [--json]\n"
            "                       [--move-in TIME] [--move-out TIME] [--thresholds KWH,KWH..]\n"
            "                       [--register-max KWH]\n\n"
            "Rates cumulative register readings (CSV header time,meter,total_kwh[,t1_kwh,t2_kwh,\n"
            "t3_kwh,t4_kwh][,event]) under a tariff and prints each deduction, its explanation\n"
            "and the total. --move-in/--move-out prorate annual tier thresholds by months of\n"
            "service; --thresholds replaces the tariff's base thresholds for this account\n"
            "(e.g. a large family); --register-max is the register's largest value (default\n"
            "999999.99 kWh). See docs/tariffs.md.\n");
}


static int rate__cmp(const void *a, const void *b)
{
    const wk_csv_row *x = *(const wk_csv_row *const *)a, *y = *(const wk_csv_row *const *)b;
    int c = strcmp(x->meter, y->meter);
    return c ? c : (x->line > y->line) - (x->line < y->line);
}

static json_t *rate__line_json(const wk_tariff *t, const wk_rate_line *l)
{
    char e[32], p[32], a[32];
    (void)t;
    return json_pack("{s:i, s:s, s:i, s:s, s:s, s:s}", "version", l->version, "slot",
                     wk_slot_name((wk_slot)l->slot), "tier", l->tier + 1, "energy_kwh",
                     wk_dec_format(l->energy_wh, 3, 3, e, sizeof e), "price_yuan_per_kwh",
                     wk_dec_format(l->price_uyuan_per_kwh, 6, 4, p, sizeof p), "amount_yuan",
                     wk_dec_format(l->amount_nyuan, 9, 2, a, sizeof a));
}

int wk_cmd_rate(int argc, char **argv)
{
    enum { O_TARIFF, O_READINGS, O_JSON, O_MOVE_IN, O_MOVE_OUT, O_THRESHOLDS, O_REGMAX, O_HELP };
    wk_opt o[] = {[O_TARIFF] = {"tariff", true, NULL},         [O_READINGS] = {"readings", true, NULL},
                  [O_JSON] = {"json", false, NULL},            [O_MOVE_IN] = {"move-in", true, NULL},
                  [O_MOVE_OUT] = {"move-out", true, NULL},     [O_THRESHOLDS] = {"thresholds", true, NULL},
                  [O_REGMAX] = {"register-max", true, NULL},   [O_HELP] = {"help", false, NULL}};
    wk_args args;
    if (!wk_args_parse("rate", argc, argv, 1, o, sizeof o / sizeof o[0], &args) || args.n_pos) {
        rate__usage(stderr);
        return 2;
    }
    if (o[O_HELP].value) {
        rate__usage(stdout);
        return 0;
    }
    const char *tariff_path = o[O_TARIFF].value, *readings_path = o[O_READINGS].value,
               *move_in = o[O_MOVE_IN].value, *move_out = o[O_MOVE_OUT].value,
               *thresholds = o[O_THRESHOLDS].value, *regmax = o[O_REGMAX].value;
    int as_json = o[O_JSON].value != NULL;
    if (!tariff_path || !readings_path) {
        rate__usage(stderr);
        return 2;
    }

    int rc = 1;
    char *tbuf = NULL, *rbuf = NULL;
    size_t tlen, rlen, n = 0;
    wk_csv_row *rows = NULL;
    const wk_csv_row **order = NULL;
    wk_rate_result *res = NULL;
    wk_diag d = {{0}};
    wk_tariff *t = wk_calloc(1, sizeof *t);
    wk_rate_terms terms = {0};
    int64_t modulus = WK_REGISTER_MODULUS_WH;
    if (!t || !(res = wk_malloc(sizeof *res))) {
        fprintf(stderr, "wattkeeper rate: out of memory\n");
        goto done;
    }
    /* account terms */
    int32_t off;
    if (move_in && wk_time_parse(move_in, strlen(move_in), &terms.service_start_s, &off, &d)) {
        fprintf(stderr, "wattkeeper rate: --move-in: %s\n", d.msg);
        rc = 2;
        goto done;
    }
    if (move_out && wk_time_parse(move_out, strlen(move_out), &terms.service_end_s, &off, &d)) {
        fprintf(stderr, "wattkeeper rate: --move-out: %s\n", d.msg);
        rc = 2;
        goto done;
    }
    if (thresholds) {
        const char *p = thresholds;
        while (*p) {
            const char *c = strchr(p, ',');
            size_t l = c ? (size_t)(c - p) : strlen(p);
            if (terms.n_override == WK_TIERS_MAX - 1 ||
                wk_dec_parse(p, l, WK_SCALE_KWH, &terms.override_wh[terms.n_override], &d) ||
                terms.override_wh[terms.n_override] <=
                    (terms.n_override ? terms.override_wh[terms.n_override - 1] : 0)) {
                fprintf(stderr,
                        "wattkeeper rate: --thresholds: expected up to %d increasing kWh values "
                        "like 3000,5000\n",
                        WK_TIERS_MAX - 1);
                rc = 2;
                goto done;
            }
            terms.n_override++;
            p = c ? c + 1 : p + l;
        }
    }
    if (regmax) {
        if (wk_dec_parse_str(regmax, WK_SCALE_KWH, &modulus, &d) || modulus <= 0 ||
            modulus > INT64_C(1000000000000)) {
            fprintf(stderr, "wattkeeper rate: --register-max: expected kWh like 999999.99\n");
            rc = 2;
            goto done;
        }
        modulus += 10; /* registers count in 0.01 kWh steps: max + 1 step wraps to 0 */
    }

    if (wk_app_read_file(tariff_path, TARIFF_FILE_MAX, &tbuf, &tlen, &d) ||
        wk_tariff_json_parse(tbuf, tlen, t, &d)) {
        fprintf(stderr, "wattkeeper rate: %s: %s\n", tariff_path, d.msg);
        goto done;
    }
    if (terms.n_override && terms.n_override + 1 != t->versions[0].n_tiers) {
        fprintf(stderr, "wattkeeper rate: --thresholds: %d values, but the tariff has %d tiers\n",
                terms.n_override, t->versions[0].n_tiers);
        rc = 2;
        goto done;
    }
    if (wk_app_read_file(readings_path, READINGS_FILE_MAX, &rbuf, &rlen, &d) ||
        wk_readings_csv_parse(rbuf, rlen, &rows, &n, &d)) {
        fprintf(stderr, "wattkeeper rate: %s: %s\n", readings_path, d.msg);
        goto done;
    }
    order = wk_malloc((n ? n : 1) * sizeof *order);
    if (!order) {
        fprintf(stderr, "wattkeeper rate: out of memory\n");
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        order[i] = &rows[i];
    qsort(order, n, sizeof *order, rate__cmp);

    /* pass 0 checks everything without output; pass 1 prints. Rating is deterministic. */
    int64_t total_fen = 0;
    size_t n_deductions = 0, n_meters = 0;
    json_t *jlines = NULL, *root = NULL;
    for (int pass = 0; pass < 2; pass++) {
        total_fen = 0;
        n_deductions = n_meters = 0;
        if (pass == 1) {
            if (as_json) {
                jlines = json_array();
                root = json_object();
            } else {
                printf("tariff %s\nsource: %s\n", t->name, t->source);
            }
            for (int v = 0; v < t->n_versions; v++)
                if (t->versions[v].unverified[0])
                    fprintf(stderr, "wattkeeper rate: warning: %s version %d is unverified: %s\n",
                            t->name, v, t->versions[v].unverified);
        }
        wk_rate_state st;
        for (size_t i = 0; i < n; i++) {
            const wk_csv_row *cur = order[i];
            if (i == 0 || strcmp(cur->meter, order[i - 1]->meter)) {
                memset(&st, 0, sizeof st);
                st.version = -1;
                n_meters++;
                if (pass == 1 && !as_json)
                    printf("\nmeter %s\n", cur->meter);
                continue; /* the first reading is the baseline */
            }
            const wk_csv_row *prev = order[i - 1];
            wk_interval iv;
            bool empty;
            if (wk_reading_interval(&prev->r, &cur->r, modulus, &iv, &empty, &d) ||
                (!empty && wk_rate_interval(t, &terms, &st, &iv, res, &d))) {
                fprintf(stderr, "wattkeeper rate: %s: line %d: %s\n", readings_path, cur->line,
                        d.msg);
                goto done;
            }
            if (empty)
                continue;
            total_fen += res->deduction_fen;
            n_deductions++;
            if (pass == 0)
                continue;
            char a[32], b[32], e[32], y[32], c[32];
            wk_time_format(iv.from_s, prev->r.offset_s, a, sizeof a);
            wk_time_format(iv.to_s, cur->r.offset_s, b, sizeof b);
            wk_dec_format(iv.energy_wh, 3, 3, e, sizeof e);
            wk_dec_format(res->deduction_fen, 2, 2, y, sizeof y);
            wk_dec_format(res->charge_nyuan, 9, 2, c, sizeof c);
            if (as_json) {
                json_t *ex = json_array();
                for (int k = 0; k < res->n_lines; k++)
                    json_array_append_new(ex, rate__line_json(t, &res->lines[k]));
                json_array_append_new(
                    jlines, json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:b, s:b, s:o}", "meter",
                                      cur->meter, "from", a, "to", b, "energy_kwh", e,
                                      "deduction_fen", (json_int_t)res->deduction_fen,
                                      "deduction_yuan", y, "exact_charge_yuan", c, "cycle_closed",
                                      res->cycles_closed > 0, "by_clock", res->by_clock, "explain", ex));
                continue;
            }
            printf("  %s .. %s  %s kWh  deduction %s yuan%s\n", a, b, e, y,
                   res->cycles_closed ? "  (billing cycle closed)" : "");
            if (res->by_clock)
                printf("      note: the meter's TOU registers name a slot this tariff does not price;"
                       " split by the tariff's own time map\n");
            for (int k = 0; k < res->n_lines; k++) {
                const wk_rate_line *l = &res->lines[k];
                char le[32], lp[32], la[32];
                printf("      %-11s tier %d  %12s kWh x %s = %s\n",
                       wk_slot_name((wk_slot)l->slot), l->tier + 1,
                       wk_dec_format(l->energy_wh, 3, 3, le, sizeof le),
                       wk_dec_format(l->price_uyuan_per_kwh, 6, 4, lp, sizeof lp),
                       wk_dec_format(l->amount_nyuan, 9, 2, la, sizeof la));
            }
            if (res->n_lines > 1 || res->charge_nyuan % WK_NYUAN_PER_FEN)
                printf("      exact %s; cycle charge rounded half-up to the fen -> %s\n", c, y);
        }
    }
    char tot[32];
    wk_dec_format(total_fen, 2, 2, tot, sizeof tot);
    if (as_json) {
        json_object_set_new(root, "tariff", json_string(t->name));
        json_object_set_new(root, "total_fen", json_integer(total_fen));
        json_object_set_new(root, "total_yuan", json_string(tot));
        json_object_set_new(root, "meters", json_integer((json_int_t)n_meters));
        json_object_set_new(root, "lines", jlines);
        char *s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (s) {
            puts(s);
            free(s);
        }
        json_decref(root);
    } else {
        printf("\ntotal %s yuan (%lld fen) in %zu deductions for %zu meter%s\n", tot,
               (long long)total_fen, n_deductions, n_meters, n_meters == 1 ? "" : "s");
    }
    rc = 0;
done:
    wk_free(order);
    wk_free(rows);
    wk_free(rbuf);
    wk_free(tbuf);
    wk_free(res);
    wk_free(t);
    return rc;
}
