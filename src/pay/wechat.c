/*
 * wechat.c - WeChat Pay API v3 payment notifications: authentication of the raw request
 * (probe signatures, time window, key by Wechatpay-Serial, RSA-SHA256 over
 * "ts\nnonce\nbody\n"), AES-256-GCM decryption of the resource with the APIv3 key, and
 * the business checks of the decrypted transaction. Pure: no clock, no database, no
 * logging; the body is never re-serialised before verification.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "pay/pay.h"

#define WECHAT__PROBE "WECHATPAY/SIGNTEST/"
#define WECHAT__SIGTYPE "WECHATPAY2-SHA256-RSA2048"

static wk_err wechat__i64(const char *s, int64_t *out)
{
    if (!s || !*s || strlen(s) > 18)
        return WK_EINVAL;
    int64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return WK_EINVAL;
        v = v * 10 + (*p - '0');
    }
    *out = v;
    return WK_OK;
}

wk_err wk_pay_wechat_authenticate(const wk_pay_wechat_cfg *c, const wk_pay_wechat_headers *h,
                                  const char *body, size_t len, int64_t now_s, wk_diag *d)
{
    if (!h->signature || !*h->signature)
        return wk_diag_set(d, WK_EINVAL, "Wechatpay-Signature: missing");
    if (!strncmp(h->signature, WECHAT__PROBE, strlen(WECHAT__PROBE)))
        return wk_diag_set(d, WK_ECRYPTO, "Wechatpay-Signature: a signature probe (WECHATPAY/SIGNTEST/) never verifies");
    if (h->signature_type && strcmp(h->signature_type, WECHAT__SIGTYPE))
        return wk_diag_set(d, WK_ECRYPTO, "Wechatpay-Signature-Type: only " WECHAT__SIGTYPE " is accepted");
    int64_t ts;
    if (wechat__i64(h->timestamp, &ts))
        return wk_diag_set(d, WK_EINVAL, "Wechatpay-Timestamp: missing or not decimal seconds");
    int64_t skew = now_s > ts ? now_s - ts : ts - now_s;
    if (skew >= c->window_s)
        return wk_diag_set(d, WK_ERANGE, "Wechatpay-Timestamp: %lld s away from now, window %lld s",
                           (long long)skew, (long long)c->window_s);
    if (!h->nonce || !*h->nonce || strlen(h->nonce) > 64)
        return wk_diag_set(d, WK_EINVAL, "Wechatpay-Nonce: missing or longer than 64");
    if (!h->serial || !*h->serial)
        return wk_diag_set(d, WK_EINVAL, "Wechatpay-Serial: missing");
    const wk_pay_pubkey *k = NULL;
    for (size_t i = 0; i < c->n_keys && !k; i++)
        if (!strcmp(c->serials[i], h->serial))
            k = c->keys[i];
    if (!k)
        return wk_diag_set(d, WK_ECRYPTO, "Wechatpay-Serial: %.64s names no configured key", h->serial);
    if (len > WK_PAY_BODY_MAX)
        return wk_diag_set(d, WK_ELIMIT, "body: longer than %d bytes", WK_PAY_BODY_MAX);
    size_t tl = strlen(h->timestamp), nl = strlen(h->nonce);
    size_t mlen = tl + 1 + nl + 1 + len + 1;
    char *msg = wk_malloc(mlen);
    if (!msg)
        return wk_diag_set(d, WK_ENOMEM, "body: out of memory");
    memcpy(msg, h->timestamp, tl);
    msg[tl] = '\n';
    memcpy(msg + tl + 1, h->nonce, nl);
    msg[tl + 1 + nl] = '\n';
    if (len)
        memcpy(msg + tl + 1 + nl + 1, body, len);
    msg[mlen - 1] = '\n';
    wk_err e = wk_pay_rsa_verify(k, msg, mlen, h->signature, strlen(h->signature), d);
    wk_free(msg);
    if (e)
        wk_diag_prefix(d, "Wechatpay-Signature");
    return e;
}

static const char *wechat__str(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

wk_err wk_pay_wechat_decrypt(const wk_pay_wechat_cfg *c, const char *body, size_t len,
                             char *event_type, size_t event_cap, char *out, size_t cap,
                             size_t *n, wk_diag *d)
{
    json_error_t je;
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    wk_err e = WK_OK;
    json_t *r = json_object_get(j, "resource");
    const char *alg = wechat__str(r, "algorithm"), *ct = wechat__str(r, "ciphertext"),
               *nonce = wechat__str(r, "nonce"), *aad = wechat__str(r, "associated_data"),
               *ev = wechat__str(j, "event_type");
    if (!json_is_object(j) || !json_is_object(r)) {
        e = wk_diag_set(d, WK_EINVAL, "body: expected a JSON object with a resource object");
    } else if (!alg || strcmp(alg, "AEAD_AES_256_GCM")) {
        e = wk_diag_set(d, WK_ECRYPTO, "resource.algorithm: only AEAD_AES_256_GCM is accepted");
    } else if (!ct || !nonce) {
        e = wk_diag_set(d, WK_EINVAL, "resource: ciphertext and nonce are required");
    } else {
        if (event_type && event_cap)
            snprintf(event_type, event_cap, "%s", ev ? ev : "");
        e = wk_pay_aes_gcm_decrypt(c->apiv3_key, c->apiv3_key_len, nonce, strlen(nonce), aad ? aad : "",
                                   aad ? strlen(aad) : 0, ct, strlen(ct), out, cap, n, d);
        if (e)
            wk_diag_prefix(d, "resource");
    }
    json_decref(j);
    return e;
}

static wk_err wechat__copy(char *dst, size_t cap, const char *v, const char *field, wk_diag *d)
{
    if (!v || !*v || strlen(v) >= cap)
        return wk_diag_set(d, WK_EINVAL, "%s: missing or longer than %zu", field, cap - 1);
    snprintf(dst, cap, "%s", v);
    return WK_OK;
}

wk_err wk_pay_wechat_transaction(const wk_pay_wechat_cfg *c, const char *json, size_t len,
                                 wk_pay_payment *out, wk_diag *d)
{
    memset(out, 0, sizeof *out);
    out->channel = WK_PAY_WECHAT;
    json_error_t je;
    json_t *j = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    wk_err e = WK_OK;
    if (!json_is_object(j)) {
        e = wk_diag_set(d, WK_EINVAL, "transaction: not a JSON object");
        goto done;
    }
    json_t *amount = json_object_get(j, "amount");
    json_t *total = json_object_get(amount, "total");
    const char *mchid = wechat__str(j, "mchid"), *appid = wechat__str(j, "appid"),
               *currency = wechat__str(amount, "currency");
    /* state and order first: a query answer for an unpaid order has no transaction yet */
    if ((e = wechat__copy(out->status, sizeof out->status, wechat__str(j, "trade_state"), "trade_state", d)) ||
        (e = wechat__copy(out->out_trade_no, sizeof out->out_trade_no, wechat__str(j, "out_trade_no"),
                          "out_trade_no", d)))
        goto done;
    if (!mchid || strcmp(mchid, c->mchid)) {
        e = wk_diag_set(d, WK_ECONFLICT, "mchid: not our merchant id");
        goto done;
    }
    if (!appid || strcmp(appid, c->appid)) {
        e = wk_diag_set(d, WK_ECONFLICT, "appid: not our app id");
        goto done;
    }
    if (strcmp(out->status, "SUCCESS")) {
        e = wk_diag_set(d, WK_ECONFLICT, "trade_state: %s is not a payment", out->status);
        goto done;
    }
    if ((e = wechat__copy(out->txn_id, sizeof out->txn_id, wechat__str(j, "transaction_id"), "transaction_id", d)))
        goto done;
    if (!json_is_integer(total) || json_integer_value(total) <= 0) {
        e = wk_diag_set(d, WK_EINVAL, "amount.total: expected a positive integer of fen");
        goto done;
    }
    out->amount_fen = json_integer_value(total);
    if (currency && strcmp(currency, "CNY"))
        e = wk_diag_set(d, WK_ECONFLICT, "amount.currency: only CNY is accepted");
done:
    json_decref(j);
    return e;
}

wk_err wk_pay_wechat_refund_notice(const wk_pay_wechat_cfg *c, const char *json, size_t len,
                                   wk_pay_channel_refund *out, wk_diag *d)
{
    memset(out, 0, sizeof *out);
    out->channel = WK_PAY_WECHAT;
    json_error_t je;
    json_t *j = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    wk_err e = WK_OK;
    if (!json_is_object(j)) {
        e = wk_diag_set(d, WK_EINVAL, "refund: not a JSON object");
        goto done;
    }
    const char *mchid = wechat__str(j, "mchid");
    json_t *refund = json_object_get(json_object_get(j, "amount"), "refund");
    if (!mchid || strcmp(mchid, c->mchid)) {
        e = wk_diag_set(d, WK_ECONFLICT, "mchid: not our merchant id");
        goto done;
    }
    if ((e = wechat__copy(out->refund_id, sizeof out->refund_id, wechat__str(j, "refund_id"), "refund_id", d)) ||
        (e = wechat__copy(out->out_refund_no, sizeof out->out_refund_no, wechat__str(j, "out_refund_no"),
                          "out_refund_no", d)) ||
        (e = wechat__copy(out->out_trade_no, sizeof out->out_trade_no, wechat__str(j, "out_trade_no"),
                          "out_trade_no", d)) ||
        (e = wechat__copy(out->status, sizeof out->status, wechat__str(j, "refund_status"), "refund_status", d)))
        goto done;
    if (!json_is_integer(refund) || json_integer_value(refund) <= 0) {
        e = wk_diag_set(d, WK_EINVAL, "amount.refund: expected a positive integer of fen");
        goto done;
    }
    out->amount_fen = json_integer_value(refund);
done:
    json_decref(j);
    return e;
}
