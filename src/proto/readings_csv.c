/*
 * readings_csv.c - strict reader of the readings CSV (see readings_csv.h). No quoting is
 * needed by the format, so a quote character is an error rather than a guess.
 */
#include "proto/readings_csv.h"

#include <string.h>

#include "core/civil.h"
#include "core/mem.h"
#include "core/units.h"

enum { COL_TIME, COL_METER, COL_TOTAL, COL_T1, COL_T2, COL_T3, COL_T4, COL_EVENT, COL_N };
static const char *const col_names[COL_N] = {"time",   "meter",  "total_kwh", "t1_kwh",
                                             "t2_kwh", "t3_kwh", "t4_kwh",    "event"};

typedef struct field {
    const char *p;
    size_t n;
} field;

/* Splits one line (without its newline) at commas; returns the count or -1 if too many. */
static int csv__split(const char *p, size_t n, field *f, int max)
{
    int k = 0;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || p[i] == ',') {
            if (k == max)
                return -1;
            f[k].p = p + start;
            f[k].n = i - start;
            k++;
            start = i + 1;
        }
    }
    return k;
}

wk_err wk_readings_csv_parse(const char *buf, size_t len, wk_csv_row **rows_out, size_t *n_out,
                             wk_diag *d)
{
    wk_csv_row *rows = NULL;
    size_t n = 0, cap = 0;
    int col_of[COL_N], ncols = 0, line = 0;
    wk_err e = WK_OK;
    for (int i = 0; i < COL_N; i++)
        col_of[i] = -1;
    size_t pos = 0;
    if (len >= 3 && !memcmp(buf, "\xEF\xBB\xBF", 3))
        pos = 3; /* UTF-8 BOM from spreadsheet exports */
    while (pos < len) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - buf) : len;
        size_t ll = end - pos;
        const char *lp = buf + pos;
        pos = nl ? end + 1 : len;
        line++;
        if (ll && lp[ll - 1] == '\r')
            ll--;
        if (ll > WK_CSV_LINE_MAX) {
            e = wk_diag_set(d, WK_ELIMIT, "line %d: longer than %d bytes", line, WK_CSV_LINE_MAX);
            goto fail;
        }
        if (memchr(lp, '"', ll) || memchr(lp, '\0', ll)) {
            e = wk_diag_set(d, WK_EINVAL, "line %d: quotes and NUL bytes are not allowed", line);
            goto fail;
        }
        if (ll == 0) {
            if (pos >= len)
                break; /* a final newline */
            e = wk_diag_set(d, WK_EINVAL, "line %d: empty line", line);
            goto fail;
        }
        field f[COL_N + 1];
        int nf = csv__split(lp, ll, f, COL_N);
        if (line == 1) {
            if (nf < 0) {
                e = wk_diag_set(d, WK_EINVAL, "line 1: too many columns in the header");
                goto fail;
            }
            for (int i = 0; i < nf; i++) {
                int c = -1;
                for (int k = 0; k < COL_N; k++)
                    if (strlen(col_names[k]) == f[i].n && !memcmp(col_names[k], f[i].p, f[i].n))
                        c = k;
                if (c < 0 || col_of[c] >= 0) {
                    e = wk_diag_set(d, WK_EINVAL,
                                    "line 1: %s column \"%.*s\" (expected the header "
                                    "time,meter,total_kwh[,t1_kwh,t2_kwh,t3_kwh,t4_kwh][,event])",
                                    c < 0 ? "unknown" : "duplicate", (int)f[i].n, f[i].p);
                    goto fail;
                }
                col_of[c] = i;
            }
            ncols = nf;
            for (int k = COL_TIME; k <= COL_TOTAL; k++)
                if (col_of[k] < 0) {
                    e = wk_diag_set(d, WK_EINVAL, "line 1: missing column %s", col_names[k]);
                    goto fail;
                }
            int tou = (col_of[COL_T1] >= 0) + (col_of[COL_T2] >= 0) + (col_of[COL_T3] >= 0) +
                      (col_of[COL_T4] >= 0);
            if (tou != 0 && tou != 4) {
                e = wk_diag_set(d, WK_EINVAL, "line 1: give all of t1_kwh..t4_kwh or none");
                goto fail;
            }
            continue;
        }
        if (nf != ncols) {
            e = wk_diag_set(d, WK_EINVAL, "line %d: %d fields, expected %d", line,
                            nf < 0 ? ncols + 1 : nf, ncols);
            goto fail;
        }
        if (n == cap) {
            if (cap >= WK_CSV_ROWS_MAX) {
                e = wk_diag_set(d, WK_ELIMIT, "line %d: more than %d readings", line,
                                WK_CSV_ROWS_MAX);
                goto fail;
            }
            size_t ncap = cap ? cap * 2 : 256;
            wk_csv_row *nr = wk_realloc(rows, ncap * sizeof *rows);
            if (!nr) {
                e = wk_diag_set(d, WK_ENOMEM, "line %d: out of memory", line);
                goto fail;
            }
            rows = nr;
            cap = ncap;
        }
        wk_csv_row *r = &rows[n];
        memset(r, 0, sizeof *r);
        r->line = line;
        wk_diag sub;
        field ft = f[col_of[COL_TIME]], fm = f[col_of[COL_METER]];
        if (wk_time_parse(ft.p, ft.n, &r->r.time_s, &r->r.offset_s, &sub)) {
            e = wk_diag_set(d, WK_EINVAL, "line %d: time: %s", line, sub.msg);
            goto fail;
        }
        if (fm.n == 0 || fm.n > WK_METER_ID_MAX) {
            e = wk_diag_set(d, WK_EINVAL, "line %d: meter: expected 1..%d characters", line,
                            WK_METER_ID_MAX);
            goto fail;
        }
        for (size_t i = 0; i < fm.n; i++) {
            char c = fm.p[i];
            if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                  c == '-' || c == '_')) {
                e = wk_diag_set(d, WK_EINVAL, "line %d: meter: \"%.*s\" (expected letters, digits, "
                                "- or _)", line, (int)fm.n, fm.p);
                goto fail;
            }
        }
        memcpy(r->meter, fm.p, fm.n);
        int regs[5] = {COL_TOTAL, COL_T1, COL_T2, COL_T3, COL_T4};
        for (int k = 0; k < 5; k++) {
            if (col_of[regs[k]] < 0)
                continue;
            field fv = f[col_of[regs[k]]];
            int64_t *dst = k == 0 ? &r->r.total_wh : &r->r.tou_wh[k - 1];
            if (wk_dec_parse(fv.p, fv.n, WK_SCALE_KWH, dst, &sub) || *dst < 0) {
                e = wk_diag_set(d, WK_EINVAL, "line %d: %s: %s", line, col_names[regs[k]],
                                *dst < 0 ? "must not be negative" : sub.msg);
                goto fail;
            }
        }
        r->r.has_tou = col_of[COL_T1] >= 0;
        if (col_of[COL_EVENT] >= 0) {
            field fe = f[col_of[COL_EVENT]];
            if (fe.n == 0)
                r->r.event = WK_READ_NORMAL;
            else if (fe.n == 8 && !memcmp(fe.p, "rollover", 8))
                r->r.event = WK_READ_ROLLOVER;
            else if (fe.n == 8 && !memcmp(fe.p, "exchange", 8))
                r->r.event = WK_READ_EXCHANGE;
            else {
                e = wk_diag_set(d, WK_EINVAL,
                                "line %d: event: \"%.*s\" (expected empty, rollover or exchange)",
                                line, (int)fe.n, fe.p);
                goto fail;
            }
        }
        n++;
    }
    if (line == 0) {
        e = wk_diag_set(d, WK_EINVAL, "empty file, expected a header line");
        goto fail;
    }
    *rows_out = rows;
    *n_out = n;
    return WK_OK;
fail:
    wk_free(rows);
    return e;
}
