/*
 * bill.c - the channels' daily bills and the reconciliation against our payments.
 *
 * Parsing is pure (bytes in, rows out): WeChat's trade bill CSV (BOM, CRLF, backtick
 * prefixes, header by name, summary row used as a checksum) and Alipay's business bill
 * (GBK converted with iconv, '#' lines, tab padding, 交易合计 footer as a checksum).
 * Reconciliation reads pay_payment and credits what the channel was paid but we never
 * credited through wk_pay_credit, i.e. with the same deterministic transfer id as the
 * notification: a second run, or the notification arriving later, books nothing more.
 */
#include <iconv.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/civil.h"
#include "core/mem.h"
#include "core/units.h"
#include "headend/headend.h"
#include "pay/pay.h"

#define BILL__COLS 40

/* Splits line[0..len) at ',' into trimmed fields (backtick, spaces, tabs removed). The
 * fields are written NUL-terminated into buf (len+1 bytes). Returns the field count. */
static size_t bill__split(const char *line, size_t len, char *buf, char *f[BILL__COLS])
{
    size_t n = 0, o = 0, i = 0;
    while (i <= len && n < BILL__COLS) {
        size_t j = i;
        while (j < len && line[j] != ',')
            j++;
        size_t a = i, b = j;
        while (a < b && (line[a] == ' ' || line[a] == '\t' || line[a] == '`'))
            a++;
        while (b > a && (line[b - 1] == ' ' || line[b - 1] == '\t' || line[b - 1] == '\r'))
            b--;
        f[n++] = buf + o;
        memcpy(buf + o, line + a, b - a);
        o += b - a;
        buf[o++] = 0;
        i = j + 1;
    }
    return n;
}

static int bill__col(char *f[], size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(f[i], name))
            return (int)i;
    return -1;
}

static wk_err bill__push(wk_pay_bill *b, const wk_pay_bill_row *r, wk_diag *d)
{
    if (b->n == WK_PAY_BILL_ROWS_MAX)
        return wk_diag_set(d, WK_ELIMIT, "bill: more than %d rows", WK_PAY_BILL_ROWS_MAX);
    if ((b->n & (b->n - 1)) == 0) { /* grow at powers of two */
        size_t cap = b->n ? b->n * 2 : 64;
        wk_pay_bill_row *nr = wk_realloc(b->rows, cap * sizeof *nr);
        if (!nr)
            return wk_diag_set(d, WK_ENOMEM, "bill: out of memory");
        b->rows = nr;
    }
    b->rows[b->n++] = *r;
    if (b->n == 1 || r->day < b->day_min)
        b->day_min = r->day;
    if (b->n == 1 || r->day > b->day_max)
        b->day_max = r->day;
    return WK_OK;
}

static wk_err bill__copy(char *dst, size_t cap, const char *v, size_t line, const char *col, wk_diag *d)
{
    if (strlen(v) >= cap)
        return wk_diag_set(d, WK_EINVAL, "line %zu: %s longer than %zu", line, col, cap - 1);
    snprintf(dst, cap, "%s", v);
    return WK_OK;
}

static wk_err bill__day(const char *v, size_t line, int64_t *day, wk_diag *d)
{
    if (strlen(v) < 10 || wk_date_parse(v, 10, day, NULL))
        return wk_diag_set(d, WK_EINVAL, "line %zu: time '%.32s' is not YYYY-MM-DD HH:MM:SS", line, v);
    return WK_OK;
}

static wk_err bill__yuan(const char *v, size_t line, const char *col, int64_t *fen, wk_diag *d)
{
    if (wk_dec_parse_str(v, 2, fen, NULL))
        return wk_diag_set(d, WK_EINVAL, "line %zu: %s '%.32s' is not yuan with 2 decimals", line, col, v);
    return WK_OK;
}

static wk_err bill__wechat(const char *text, size_t len, wk_pay_bill *b, wk_diag *d)
{
    if (len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3))
        text += 3, len -= 3;
    char *buf = wk_malloc(len + 1);
    if (!buf)
        return wk_diag_set(d, WK_ENOMEM, "bill: out of memory");
    char *f[BILL__COLS];
    int c_time = -1, c_txn = -1, c_otn = -1, c_state = -1, c_amount = -1, c_refund_id = -1, c_refund = -1;
    bool header = false, summary_next = false, summary_seen = false;
    int64_t sum_fen = 0;
    wk_err e = WK_OK;
    size_t line = 0;
    for (size_t i = 0; i < len && !e;) {
        size_t j = i;
        while (j < len && text[j] != '\n')
            j++;
        line++;
        size_t n = bill__split(text + i, j - i, buf, f);
        i = j + 1;
        if (n == 1 && !f[0][0])
            continue;
        if (!header) {
            c_time = bill__col(f, n, "交易时间");
            c_txn = bill__col(f, n, "微信订单号");
            c_otn = bill__col(f, n, "商户订单号");
            c_state = bill__col(f, n, "交易状态");
            c_amount = bill__col(f, n, "订单金额");
            if (c_amount < 0)
                c_amount = bill__col(f, n, "应结订单金额");
            c_refund_id = bill__col(f, n, "微信退款单号");
            c_refund = bill__col(f, n, "退款金额");
            if (c_time < 0 || c_txn < 0 || c_otn < 0 || c_state < 0 || c_amount < 0) {
                e = wk_diag_set(d, WK_EINVAL, "line %zu: not a WeChat trade bill header (交易时间, 微信订单号, "
                                              "商户订单号, 交易状态, 订单金额)", line);
                break;
            }
            header = true;
            continue;
        }
        if (!strcmp(f[0], "总交易单数")) {
            summary_next = true;
            int c_total = bill__col(f, n, "订单总金额");
            if (c_total < 0)
                c_total = bill__col(f, n, "应结订单总金额");
            c_state = c_total; /* reused: the column of the total in the summary row */
            continue;
        }
        if (summary_next) {
            /* the count is float-formatted ("45.0") */
            int64_t count, total;
            char *dot = strchr(f[0], '.');
            if (dot)
                *dot = 0;
            if (wk_dec_parse_str(f[0], 0, &count, NULL) || c_state < 0 || (size_t)c_state >= n ||
                wk_dec_parse_str(f[c_state], 2, &total, NULL)) {
                e = wk_diag_set(d, WK_EINVAL, "line %zu: unreadable summary row", line);
                break;
            }
            if ((size_t)count != b->n || total != sum_fen)
                e = wk_diag_set(d, WK_EINVAL, "line %zu: summary says %lld rows / %lld fen, the rows are %zu / %lld",
                                line, (long long)count, (long long)total, b->n, (long long)sum_fen);
            summary_next = false;
            summary_seen = true;
            continue;
        }
        int need = c_time > c_txn ? c_time : c_txn;
        need = need > c_otn ? need : c_otn;
        need = need > c_amount ? need : c_amount;
        if ((size_t)need >= n) {
            e = wk_diag_set(d, WK_EINVAL, "line %zu: %zu columns, the header has more", line, n);
            break;
        }
        wk_pay_bill_row r = {0};
        int64_t amount;
        if ((e = bill__copy(r.txn_id, sizeof r.txn_id, f[c_txn], line, "微信订单号", d)) ||
            (e = bill__copy(r.out_trade_no, sizeof r.out_trade_no, f[c_otn], line, "商户订单号", d)) ||
            (e = bill__day(f[c_time], line, &r.day, d)) || (e = bill__yuan(f[c_amount], line, "订单金额", &amount, d)))
            break;
        sum_fen += amount;
        if (!strcmp(f[c_state], "REFUND")) {
            r.refund = true;
            if (c_refund < 0 || (size_t)c_refund >= n || c_refund_id < 0 || (size_t)c_refund_id >= n) {
                e = wk_diag_set(d, WK_EINVAL, "line %zu: a refund row without 退款金额/微信退款单号", line);
                break;
            }
            if ((e = bill__yuan(f[c_refund], line, "退款金额", &r.amount_fen, d)) ||
                (e = bill__copy(r.refund_id, sizeof r.refund_id, f[c_refund_id], line, "微信退款单号", d)))
                break;
        } else if (!strcmp(f[c_state], "SUCCESS")) {
            r.amount_fen = amount;
        } else {
            continue; /* other states carry no money */
        }
        e = bill__push(b, &r, d);
    }
    if (!e && !header)
        e = wk_diag_set(d, WK_EINVAL, "bill: no header line");
    if (!e && !summary_seen)
        e = wk_diag_set(d, WK_EINVAL, "bill: no summary row (总交易单数): truncated?");
    wk_free(buf);
    return e;
}

static wk_err bill__alipay(const char *text, size_t len, wk_pay_bill *b, wk_diag *d)
{
    char *buf = wk_malloc(len + 1);
    if (!buf)
        return wk_diag_set(d, WK_ENOMEM, "bill: out of memory");
    char *f[BILL__COLS];
    int c_txn = -1, c_otn = -1, c_kind = -1, c_amount = -1, c_time = -1, c_refund_id = -1;
    int64_t footer_count = -1, trades = 0;
    wk_err e = WK_OK;
    size_t line = 0;
    for (size_t i = 0; i < len && !e;) {
        size_t j = i;
        while (j < len && text[j] != '\n')
            j++;
        line++;
        const char *l = text + i;
        size_t ll = j - i;
        i = j + 1;
        if (ll && l[0] == '#') {
            static const char tag[] = "#交易合计：";
            if (ll > sizeof tag - 1 && !memcmp(l, tag, sizeof tag - 1)) {
                int64_t v = 0;
                for (size_t k = sizeof tag - 1; k < ll && l[k] >= '0' && l[k] <= '9'; k++)
                    v = v * 10 + (l[k] - '0');
                footer_count = v;
            }
            continue;
        }
        size_t n = bill__split(l, ll, buf, f);
        if (n == 1 && !f[0][0])
            continue;
        if (c_txn < 0) {
            c_txn = bill__col(f, n, "支付宝交易号");
            c_otn = bill__col(f, n, "商户订单号");
            c_kind = bill__col(f, n, "业务类型");
            c_amount = bill__col(f, n, "订单金额（元）");
            c_time = bill__col(f, n, "完成时间");
            c_refund_id = bill__col(f, n, "退款批次号/请求号");
            if (c_txn < 0 || c_otn < 0 || c_kind < 0 || c_amount < 0 || c_time < 0) {
                e = wk_diag_set(d, WK_EINVAL, "line %zu: not an Alipay business bill header (支付宝交易号, 商户订单号, "
                                              "业务类型, 订单金额（元）, 完成时间)", line);
                c_txn = -1;
                break;
            }
            continue;
        }
        int need = c_txn;
        int cols[] = {c_otn, c_kind, c_amount, c_time};
        for (int k = 0; k < 4; k++)
            need = cols[k] > need ? cols[k] : need;
        if ((size_t)need >= n) {
            e = wk_diag_set(d, WK_EINVAL, "line %zu: %zu columns, the header has more", line, n);
            break;
        }
        wk_pay_bill_row r = {0};
        int64_t amount;
        if ((e = bill__copy(r.txn_id, sizeof r.txn_id, f[c_txn], line, "支付宝交易号", d)) ||
            (e = bill__copy(r.out_trade_no, sizeof r.out_trade_no, f[c_otn], line, "商户订单号", d)) ||
            (e = bill__day(f[c_time], line, &r.day, d)) ||
            (e = bill__yuan(f[c_amount], line, "订单金额（元）", &amount, d)))
            break;
        if (!strcmp(f[c_kind], "退款")) {
            r.refund = true;
            r.amount_fen = amount < 0 ? -amount : amount;
            if (c_refund_id >= 0 && (size_t)c_refund_id < n &&
                (e = bill__copy(r.refund_id, sizeof r.refund_id, f[c_refund_id], line, "退款批次号", d)))
                break;
        } else if (!strcmp(f[c_kind], "交易")) {
            r.amount_fen = amount;
            trades++;
        } else {
            continue;
        }
        e = bill__push(b, &r, d);
    }
    if (!e && c_txn < 0)
        e = wk_diag_set(d, WK_EINVAL, "bill: no header line");
    if (!e && footer_count >= 0 && footer_count != trades)
        e = wk_diag_set(d, WK_EINVAL, "bill: 交易合计 says %lld trades, the rows have %lld", (long long)footer_count,
                        (long long)trades);
    wk_free(buf);
    return e;
}

/* Alipay bills are GBK: converted to UTF-8 when the text does not already hold the UTF-8
 * header. *out is wk_malloc'd (or NULL when no conversion was needed). */
static wk_err bill__gbk(const char *text, size_t len, char **out, size_t *out_len, wk_diag *d)
{
    *out = NULL;
    static const char hdr[] = "支付宝交易号";
    for (size_t i = 0; i + sizeof hdr - 1 <= len; i++)
        if (!memcmp(text + i, hdr, sizeof hdr - 1))
            return WK_OK;
    iconv_t cd = iconv_open("UTF-8", "GB18030");
    if (cd == (iconv_t)-1)
        return wk_diag_set(d, WK_EIO, "bill: no GBK converter");
    size_t cap = len * 2 + 16;
    char *buf = wk_malloc(cap);
    if (!buf) {
        iconv_close(cd);
        return wk_diag_set(d, WK_ENOMEM, "bill: out of memory");
    }
    char *in = (char *)text, *o = buf;
    size_t il = len, ol = cap;
    size_t r = iconv(cd, &in, &il, &o, &ol);
    iconv_close(cd);
    if (r == (size_t)-1) {
        wk_free(buf);
        return wk_diag_set(d, WK_EINVAL, "bill: neither UTF-8 nor GBK at byte %zu", len - il);
    }
    *out = buf;
    *out_len = cap - ol;
    return WK_OK;
}

wk_err wk_pay_bill_parse(wk_pay_channel c, const char *text, size_t len, wk_pay_bill *out, wk_diag *d)
{
    memset(out, 0, sizeof *out);
    out->channel = c;
    wk_err e;
    if (c == WK_PAY_WECHAT) {
        e = bill__wechat(text, len, out, d);
    } else {
        char *conv;
        size_t cl = 0;
        if ((e = bill__gbk(text, len, &conv, &cl, d)))
            return e;
        e = bill__alipay(conv ? conv : text, conv ? cl : len, out, d);
        wk_free(conv);
    }
    if (e)
        wk_pay_bill_free(out);
    return e;
}

void wk_pay_bill_free(wk_pay_bill *b)
{
    wk_free(b->rows);
    b->rows = NULL;
    b->n = 0;
}

static void recon__line(wk_pay_recon_report *rep, const char *fmt, ...) WK_PRINTF(2, 3);
static void recon__line(wk_pay_recon_report *rep, const char *fmt, ...)
{
    size_t used = strlen(rep->lines);
    if (used + 1 >= sizeof rep->lines)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rep->lines + used, sizeof rep->lines - used, fmt, ap);
    va_end(ap);
}

typedef struct recon_ours {
    char txn_id[WK_PAY_ID_MAX];
    int64_t amount_fen;
    bool seen;
} recon_ours;

static int recon__cmp(const void *a, const void *b)
{
    return strcmp(((const recon_ours *)a)->txn_id, ((const recon_ours *)b)->txn_id);
}

/* The amount booked in pay_refund for a bill's refund row, or -1: WeChat names the refund
 * by 微信退款单号 (our refund_id); Alipay by 退款批次号/请求号 (our out_request_no), booked
 * as "<trade_no>:<out_request_no>". */
static wk_err recon__refund_booked(wk_store *st, wk_pay_channel c, const wk_pay_bill_row *r, int64_t *booked,
                                   wk_diag *d)
{
    char id[2 * WK_PAY_ID_MAX + 2];
    *booked = -1;
    if (!r->refund_id[0])
        return WK_OK;
    if (c == WK_PAY_ALIPAY)
        snprintf(id, sizeof id, "%s:%s", r->txn_id, r->refund_id);
    else
        snprintf(id, sizeof id, "%s", r->refund_id);
    const char *chs = wk_pay_channel_str(c);
    wk_stmt *s;
    bool row = false;
    wk_err e = wk_store_prepare(st, "SELECT amount_fen FROM pay_refund WHERE channel = ? AND refund_id = ?", &s, d);
    if (e)
        return e;
    if (!(e = wk_stmt_bind_text(s, 1, chs, strlen(chs))) && !(e = wk_stmt_bind_text(s, 2, id, strlen(id))))
        e = wk_stmt_step(s, &row, d);
    if (!e && row)
        *booked = wk_stmt_i64(s, 0);
    wk_stmt_reset(s);
    return e;
}

wk_err wk_pay_reconcile(wk_headend *hd, const wk_pay_bill *b, int64_t now_ms, wk_pay_recon_report *rep,
                        wk_diag *d)
{
    memset(rep, 0, sizeof *rep);
    if (!b->n)
        return WK_OK;
    wk_store *st = wk_headend_store(hd);
    const char *ch = wk_pay_channel_str(b->channel);
    /* our payments received on the bill's (Beijing) days */
    const int64_t cst_ms = INT64_C(8) * 3600 * 1000, day_ms = INT64_C(86400000);
    int64_t from = b->day_min * day_ms - cst_ms, to = (b->day_max + 1) * day_ms - cst_ms;
    size_t cap = 1024, n = 0;
    recon_ours *ours = wk_malloc(cap * sizeof *ours);
    if (!ours)
        return wk_diag_set(d, WK_ENOMEM, "reconcile: out of memory");
    wk_stmt *s;
    wk_err e = wk_store_prepare(st,
                                "SELECT txn_id, amount_fen FROM pay_payment WHERE channel = ? AND received_ms >= ?"
                                " AND received_ms < ?",
                                &s, d);
    if (e)
        goto done;
    bool row = false;
    if (!(e = wk_stmt_bind_text(s, 1, ch, strlen(ch))) && !(e = wk_stmt_bind_i64(s, 2, from)) &&
        !(e = wk_stmt_bind_i64(s, 3, to)))
        while (!(e = wk_stmt_step(s, &row, d)) && row) {
            if (n == cap) {
                recon_ours *nr = wk_realloc(ours, 2 * cap * sizeof *nr);
                if (!nr) {
                    e = wk_diag_set(d, WK_ENOMEM, "reconcile: out of memory");
                    break;
                }
                ours = nr;
                cap *= 2;
            }
            size_t l;
            const char *t = wk_stmt_text(s, 0, &l);
            snprintf(ours[n].txn_id, sizeof ours[n].txn_id, "%.*s", (int)l, t);
            ours[n].amount_fen = wk_stmt_i64(s, 1);
            ours[n].seen = false;
            n++;
        }
    wk_stmt_reset(s);
    if (e)
        goto done;
    qsort(ours, n, sizeof *ours, recon__cmp);
    for (size_t i = 0; i < b->n && !e; i++) {
        const wk_pay_bill_row *r = &b->rows[i];
        if (r->refund) {
            rep->bill_refunds++;
            int64_t booked = -1;
            if ((e = recon__refund_booked(st, b->channel, r, &booked, d)))
                break;
            if (booked == r->amount_fen) {
                rep->matched++;
            } else {
                rep->refunds_unmatched++;
                recon__line(rep, "refund_unmatched txn=%s refund=%s amount_fen=%lld booked_fen=%lld\n", r->txn_id,
                            r->refund_id, (long long)r->amount_fen, (long long)booked);
            }
            continue;
        }
        rep->bill_payments++;
        recon_ours key;
        snprintf(key.txn_id, sizeof key.txn_id, "%s", r->txn_id);
        recon_ours *m = bsearch(&key, ours, n, sizeof *ours, recon__cmp);
        bool dup = false;
        if (!m) {
            /* maybe received outside the bill's days: ask the payment table directly */
            wk_pay_payment p = {.channel = b->channel, .amount_fen = r->amount_fen};
            snprintf(p.txn_id, sizeof p.txn_id, "%s", r->txn_id);
            snprintf(p.out_trade_no, sizeof p.out_trade_no, "%s", r->out_trade_no);
            snprintf(p.status, sizeof p.status, "BILL");
            wk_diag cd = {{0}};
            wk_err ce = wk_pay_credit(hd, &p, "reconcile", now_ms, &dup, &cd);
            if (ce == WK_OK && !dup) {
                rep->credited_from_bill++;
                recon__line(rep, "paid_not_credited txn=%s order=%s amount_fen=%lld: credited now\n", r->txn_id,
                            r->out_trade_no, (long long)r->amount_fen);
            } else if (ce == WK_OK) {
                rep->matched++;
            } else if (ce == WK_ECONFLICT && !strncmp(cd.msg, "amount_fen", 10)) {
                rep->amount_mismatch++;
                recon__line(rep, "amount_mismatch txn=%s order=%s bill_fen=%lld: %s\n", r->txn_id,
                            r->out_trade_no, (long long)r->amount_fen, cd.msg);
            } else if (ce == WK_ENOTFOUND || ce == WK_ECONFLICT) {
                rep->unattributable++;
                recon__line(rep, "unattributable txn=%s order=%s amount_fen=%lld: %s\n",
                            r->txn_id, r->out_trade_no, (long long)r->amount_fen, cd.msg);
            } else {
                e = ce;
                *d = cd;
            }
            continue;
        }
        m->seen = true;
        if (m->amount_fen != r->amount_fen) {
            rep->amount_mismatch++;
            recon__line(rep, "amount_mismatch txn=%s order=%s bill_fen=%lld ours_fen=%lld\n", r->txn_id,
                        r->out_trade_no, (long long)r->amount_fen, (long long)m->amount_fen);
        } else {
            rep->matched++;
        }
    }
    for (size_t i = 0; i < n && !e; i++)
        if (!ours[i].seen) {
            rep->unknown_to_channel++;
            recon__line(rep, "unknown_to_channel txn=%s amount_fen=%lld: credited here, not in the bill\n",
                        ours[i].txn_id, (long long)ours[i].amount_fen);
        }
done:
    wk_free(ours);
    return e;
}

/* ---- stored reconciliation runs ---- */

/* One discrepancy line: "<kind> key=value ...[: text]". */
typedef struct recon_line {
    char kind[32], txn[WK_PAY_ID_MAX], order[WK_PAY_OUT_TRADE_NO_MAX];
    int64_t amount_fen;
    bool has_amount;
} recon_line;

static void recon__parse_line(const char *p, size_t len, recon_line *l)
{
    memset(l, 0, sizeof *l);
    size_t i = 0, k = 0;
    while (i < len && p[i] != ' ' && p[i] != ':' && k + 1 < sizeof l->kind)
        l->kind[k++] = p[i++];
    while (i < len && p[i] != ':') {
        while (i < len && p[i] == ' ')
            i++;
        size_t start = i;
        while (i < len && p[i] != ' ' && p[i] != ':')
            i++;
        const char *tok = p + start;
        size_t tl = i - start;
        const char *eq = memchr(tok, '=', tl);
        if (!eq)
            continue;
        size_t kl = (size_t)(eq - tok), vl = tl - kl - 1;
        const char *v = eq + 1;
        if (kl == 3 && !memcmp(tok, "txn", 3))
            snprintf(l->txn, sizeof l->txn, "%.*s", (int)vl, v);
        else if (kl == 5 && !memcmp(tok, "order", 5))
            snprintf(l->order, sizeof l->order, "%.*s", (int)vl, v);
        else if (!l->has_amount && ((kl == 10 && !memcmp(tok, "amount_fen", 10)) ||
                                    (kl == 8 && !memcmp(tok, "bill_fen", 8)))) {
            int64_t n = 0;
            bool ok = vl > 0 && vl < 19;
            for (size_t j = 0; ok && j < vl; j++) {
                ok = v[j] >= '0' && v[j] <= '9';
                n = n * 10 + (v[j] - '0');
            }
            if (ok) {
                l->amount_fen = n;
                l->has_amount = true;
            }
        }
    }
}

/* The account a line touches: through its order, else its channel transaction. */
static wk_err recon__line_account(wk_store *st, wk_pay_channel c, const recon_line *l, int64_t *account, wk_diag *d)
{
    *account = 0;
    wk_stmt *s;
    bool row = false;
    const char *chs = wk_pay_channel_str(c);
    wk_err e = wk_store_prepare(st,
                                "SELECT account_id FROM pay_order WHERE out_trade_no = ?1"
                                " UNION ALL SELECT o.account_id FROM pay_payment p JOIN pay_order o ON o.id = p.order_id"
                                " WHERE p.channel = ?2 AND p.txn_id = ?3 LIMIT 1",
                                &s, d);
    if (e)
        return e;
    if (!(e = wk_stmt_bind_text(s, 1, l->order, strlen(l->order))) && !(e = wk_stmt_bind_text(s, 2, chs, strlen(chs))) &&
        !(e = wk_stmt_bind_text(s, 3, l->txn, strlen(l->txn))))
        e = wk_stmt_step(s, &row, d);
    if (!e && row)
        *account = wk_stmt_i64(s, 0);
    wk_stmt_reset(s);
    return e;
}

static wk_err recon__bind_opt(wk_stmt *s, int i, const char *t)
{
    return t[0] ? wk_stmt_bind_text(s, i, t, strlen(t)) : wk_stmt_bind_null(s, i);
}

wk_err wk_pay_recon_store(wk_store *st, const wk_pay_bill *b, const wk_pay_recon_report *rep, int64_t company_id,
                          int64_t user_id, int64_t now_ms, wk_pay_hook hook, void *hook_ctx, int64_t *id, wk_diag *d)
{
    *id = 0;
    const char *chs = wk_pay_channel_str(b->channel);
    if (!chs)
        return wk_diag_set(d, WK_EINVAL, "channel: unknown");
    wk_err e = wk_store_begin(st, d);
    if (e)
        return e;
    wk_stmt *s;
    bool row;
    if ((e = wk_store_prepare(st,
                              "INSERT INTO pay_recon (channel, day_min, day_max, bill_payments, bill_refunds, matched,"
                              " credited_from_bill, unattributable, unknown_to_channel, amount_mismatch,"
                              " refunds_unmatched, company_id, user_id, created_ms)"
                              " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                              &s, d)))
        goto fail;
    const int64_t v[] = {b->day_min,         b->day_max,         rep->bill_payments,      rep->bill_refunds,
                         rep->matched,       rep->credited_from_bill, rep->unattributable, rep->unknown_to_channel,
                         rep->amount_mismatch, rep->refunds_unmatched};
    e = wk_stmt_bind_text(s, 1, chs, strlen(chs));
    for (int i = 0; !e && i < (int)(sizeof v / sizeof v[0]); i++)
        e = i < 2 && !b->n ? wk_stmt_bind_null(s, i + 2) : wk_stmt_bind_i64(s, i + 2, v[i]);
    if (!e)
        e = company_id > 0 ? wk_stmt_bind_i64(s, 12, company_id) : wk_stmt_bind_null(s, 12);
    if (!e)
        e = user_id > 0 ? wk_stmt_bind_i64(s, 13, user_id) : wk_stmt_bind_null(s, 13);
    if (!e)
        e = wk_stmt_bind_i64(s, 14, now_ms);
    row = false;
    if (!e)
        e = wk_stmt_step(s, &row, d);
    if (!e && row)
        *id = wk_stmt_i64(s, 0);
    wk_stmt_reset(s);
    if (!e && !*id)
        e = wk_diag_set(d, WK_EINTERNAL, "pay_recon: no id");
    if (e)
        goto fail;
    for (const char *p = rep->lines; *p && !e;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (len) {
            recon_line l;
            recon__parse_line(p, len, &l);
            int64_t account = 0;
            if ((e = recon__line_account(st, b->channel, &l, &account, d)))
                break;
            if ((e = wk_store_prepare(st,
                                      "INSERT INTO pay_recon_line (recon_id, kind, txn_id, out_trade_no, account_id,"
                                      " amount_fen, detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
                                      &s, d)))
                break;
            const char *kind = l.kind[0] ? l.kind : "?";
            if (!(e = wk_stmt_bind_i64(s, 1, *id)) && !(e = wk_stmt_bind_text(s, 2, kind, strlen(kind))) &&
                !(e = recon__bind_opt(s, 3, l.txn)) && !(e = recon__bind_opt(s, 4, l.order)) &&
                !(e = account ? wk_stmt_bind_i64(s, 5, account) : wk_stmt_bind_null(s, 5)) &&
                !(e = l.has_amount ? wk_stmt_bind_i64(s, 6, l.amount_fen) : wk_stmt_bind_null(s, 6)) &&
                !(e = wk_stmt_bind_text(s, 7, p, len)))
                e = wk_stmt_step(s, &row, d);
            wk_stmt_reset(s);
        }
        p = nl ? nl + 1 : p + len;
    }
    if (e)
        goto fail;
    if (hook && (e = hook(hook_ctx, st, d)))
        goto fail;
    return wk_store_commit(st, d);
fail:
    wk_store_rollback(st);
    return e;
}
