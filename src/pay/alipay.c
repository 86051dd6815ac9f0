/*
 * alipay.c - Alipay asynchronous payment notifications: the form body decoded exactly
 * once, the V1 signing string (sign and sign_type removed, empty values skipped, keys in
 * byte order), RSA2 verification, and the business checks (app_id, seller_id,
 * trade_status, total_amount). Pure: no clock, no database.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/units.h"
#include "pay/pay.h"

static int alipay__hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes s[0..len) into dst (NUL-terminated); returns the bytes written or -1. */
static long alipay__decode(const char *s, size_t len, char *dst)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '+') {
            dst[o++] = ' ';
        } else if (s[i] == '%') {
            if (i + 2 >= len)
                return -1; /* truncated escape */
            int h = alipay__hex(s[i + 1]), l = alipay__hex(s[i + 2]);
            if (h < 0 || l < 0)
                return -1;
            dst[o++] = (char)(h << 4 | l);
            i += 2;
        } else {
            dst[o++] = s[i];
        }
    }
    dst[o] = 0;
    return (long)o;
}

wk_err wk_pay_form_parse(const char *body, size_t len, wk_pay_form *out, wk_diag *d)
{
    memset(out, 0, sizeof *out);
    if (len > WK_PAY_BODY_MAX)
        return wk_diag_set(d, WK_ELIMIT, "body: longer than %d bytes", WK_PAY_BODY_MAX);
    out->buf = wk_malloc(len + 2 * WK_PAY_FORM_MAX + 2);
    if (!out->buf)
        return wk_diag_set(d, WK_ENOMEM, "body: out of memory");
    char *w = out->buf;
    wk_err e = WK_OK;
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && body[j] != '&')
            j++;
        if (j > i) {
            size_t eq = i;
            while (eq < j && body[eq] != '=')
                eq++;
            if (eq == i) {
                e = wk_diag_set(d, WK_EINVAL, "body: a parameter without a name");
                goto fail;
            }
            if (out->n == WK_PAY_FORM_MAX) {
                e = wk_diag_set(d, WK_ELIMIT, "body: more than %d parameters", WK_PAY_FORM_MAX);
                goto fail;
            }
            char *k = w;
            long kn = alipay__decode(body + i, eq - i, k);
            if (kn < 0) {
                e = wk_diag_set(d, WK_EINVAL, "body: malformed %%XX escape in a name");
                goto fail;
            }
            w += kn + 1;
            char *v = w;
            long vn = eq < j ? alipay__decode(body + eq + 1, j - eq - 1, v) : 0;
            if (eq >= j)
                v[0] = 0;
            if (vn < 0) {
                e = wk_diag_set(d, WK_EINVAL, "%s: malformed %%XX escape", k);
                goto fail;
            }
            w += vn + 1;
            if ((size_t)kn != strlen(k)) {
                e = wk_diag_set(d, WK_EINVAL, "body: a NUL byte in a name");
                goto fail;
            }
            if (wk_pay_form_get(out, k)) {
                e = wk_diag_set(d, WK_EEXIST, "%.64s: given twice", k);
                goto fail;
            }
            out->key[out->n] = k;
            out->val[out->n] = v;
            out->n++;
        }
        i = j + 1;
    }
    return WK_OK;
fail:
    wk_pay_form_free(out);
    return e;
}

void wk_pay_form_free(wk_pay_form *f)
{
    wk_free(f->buf);
    memset(f, 0, sizeof *f);
}

const char *wk_pay_form_get(const wk_pay_form *f, const char *key)
{
    for (size_t i = 0; i < f->n; i++)
        if (!strcmp(f->key[i], key))
            return f->val[i];
    return NULL;
}

static int alipay__cmp(const void *a, const void *b)
{
    const char *const *x = a, *const *y = b;
    return strcmp(*x, *y); /* strcmp compares as unsigned char: byte order */
}

wk_err wk_pay_alipay_sign_string(const wk_pay_form *f, bool keep_sign_type, char *out, size_t cap,
                                 size_t *n, wk_diag *d)
{
    const char *keys[WK_PAY_FORM_MAX];
    size_t m = 0;
    for (size_t i = 0; i < f->n; i++) {
        if (!strcmp(f->key[i], "sign") || (!keep_sign_type && !strcmp(f->key[i], "sign_type")))
            continue;
        if (!*f->key[i] || !*f->val[i])
            continue;
        keys[m++] = f->key[i];
    }
    qsort(keys, m, sizeof keys[0], alipay__cmp);
    size_t o = 0;
    for (size_t i = 0; i < m; i++) {
        const char *v = wk_pay_form_get(f, keys[i]);
        size_t kl = strlen(keys[i]), vl = strlen(v);
        if (o + (i ? 1 : 0) + kl + 1 + vl + 1 > cap)
            return wk_diag_set(d, WK_ELIMIT, "sign string: longer than %zu", cap - 1);
        if (i)
            out[o++] = '&';
        memcpy(out + o, keys[i], kl);
        o += kl;
        out[o++] = '=';
        memcpy(out + o, v, vl);
        o += vl;
    }
    if (cap == 0)
        return wk_diag_set(d, WK_ELIMIT, "sign string: no room");
    out[o] = 0;
    *n = o;
    return WK_OK;
}

wk_err wk_pay_alipay_verify(const wk_pay_alipay_cfg *c, const wk_pay_form *f, wk_pay_payment *out,
                            wk_diag *d)
{
    memset(out, 0, sizeof *out);
    out->channel = WK_PAY_ALIPAY;
    const char *sign = wk_pay_form_get(f, "sign"), *st = wk_pay_form_get(f, "sign_type");
    if (!sign || !*sign)
        return wk_diag_set(d, WK_EINVAL, "sign: missing");
    if (!st || strcmp(st, "RSA2"))
        return wk_diag_set(d, WK_ECRYPTO, "sign_type: only RSA2 is accepted");
    char *s = wk_malloc(WK_PAY_BODY_MAX + 1);
    if (!s)
        return wk_diag_set(d, WK_ENOMEM, "sign string: out of memory");
    size_t n;
    wk_err e = wk_pay_alipay_sign_string(f, false, s, WK_PAY_BODY_MAX + 1, &n, d);
    if (!e && (e = wk_pay_rsa_verify(c->key, s, n, sign, strlen(sign), d)))
        wk_diag_prefix(d, "sign");
    wk_free(s);
    if (e)
        return e;
    const char *app = wk_pay_form_get(f, "app_id"), *seller = wk_pay_form_get(f, "seller_id"),
               *status = wk_pay_form_get(f, "trade_status"), *total = wk_pay_form_get(f, "total_amount"),
               *trade_no = wk_pay_form_get(f, "trade_no"), *otn = wk_pay_form_get(f, "out_trade_no");
    if (!app || strcmp(app, c->app_id))
        return wk_diag_set(d, WK_ECONFLICT, "app_id: not our app id");
    if (!seller || strcmp(seller, c->seller_id))
        return wk_diag_set(d, WK_ECONFLICT, "seller_id: not our seller");
    if (!status || (strcmp(status, "TRADE_SUCCESS") && strcmp(status, "TRADE_FINISHED"))) {
        /* authentic, not a payment: the facts for the caller to record (never to credit) */
        if (status && strlen(status) < sizeof out->status && otn && *otn && strlen(otn) < sizeof out->out_trade_no) {
            snprintf(out->status, sizeof out->status, "%s", status);
            snprintf(out->out_trade_no, sizeof out->out_trade_no, "%s", otn);
            if (trade_no && strlen(trade_no) < sizeof out->txn_id)
                snprintf(out->txn_id, sizeof out->txn_id, "%s", trade_no);
        }
        return wk_diag_set(d, WK_ECONFLICT, "trade_status: %.32s is not a payment", status ? status : "(none)");
    }
    if (!trade_no || !*trade_no || strlen(trade_no) >= sizeof out->txn_id)
        return wk_diag_set(d, WK_EINVAL, "trade_no: missing or too long");
    if (!otn || !*otn || strlen(otn) >= sizeof out->out_trade_no)
        return wk_diag_set(d, WK_EINVAL, "out_trade_no: missing or too long");
    int64_t fen;
    if (!total || wk_dec_parse_str(total, 2, &fen, NULL) || fen <= 0)
        return wk_diag_set(d, WK_EINVAL, "total_amount: expected yuan with at most 2 decimals");
    snprintf(out->txn_id, sizeof out->txn_id, "%s", trade_no);
    snprintf(out->out_trade_no, sizeof out->out_trade_no, "%s", otn);
    snprintf(out->status, sizeof out->status, "%s", status);
    out->amount_fen = fen;
    return WK_OK;
}
