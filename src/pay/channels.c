/*
 * channels.c - the payment channels as configured in [pay]: merchant ids, the APIv3 key
 * and the verification keys read from the files the config names. Read once at start-up;
 * the result is immutable and shared by the HTTP threads.
 */
#include <stdio.h>
#include <string.h>

#include "core/mem.h"
#include "pay/pay.h"
#include "proto/config.h"

static wk_err channels__apiv3(const char *path, wk_pay_wechat_cfg *w, wk_diag *d)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return wk_diag_set(d, WK_EIO, "[pay] wechat_apiv3_key_file: cannot open %s", path);
    char buf[80];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        n--;
    if (n != 32)
        return wk_diag_set(d, WK_EINVAL, "[pay] wechat_apiv3_key_file: %s must hold the 32-character APIv3 key",
                           path);
    memcpy(w->apiv3_key, buf, 32);
    w->apiv3_key_len = 32;
    return WK_OK;
}

wk_err wk_pay_channels_load(const wk_config *c, wk_pay_channels **out, wk_diag *d)
{
    *out = NULL;
    if (c->pay.min_amount_fen > c->pay.max_amount_fen)
        return wk_diag_set(d, WK_EINVAL, "[pay] min_amount: above max_amount");
    wk_pay_channels *p = wk_calloc(1, sizeof *p);
    if (!p)
        return wk_diag_set(d, WK_ENOMEM, "[pay]: out of memory");
    p->limits = (wk_pay_limits){c->pay.min_amount_fen, c->pay.max_amount_fen, c->pay.order_ttl_ms};
    wk_err e = WK_OK;
    if (c->pay.wechat_mchid[0]) {
        wk_pay_wechat_cfg *w = &p->wechat;
        p->wechat_on = true;
        snprintf(w->mchid, sizeof w->mchid, "%s", c->pay.wechat_mchid);
        snprintf(w->appid, sizeof w->appid, "%s", c->pay.wechat_appid);
        w->window_s = c->pay.notify_window_ms / 1000;
        if (!c->pay.wechat_appid[0]) {
            e = wk_diag_set(d, WK_EINVAL, "[pay] wechat_appid: required when wechat_mchid is set");
            goto fail;
        }
        if ((e = channels__apiv3(c->pay.wechat_apiv3_key_file, w, d)))
            goto fail;
        if (c->pay.wechat_platform_cert[0]) {
            if ((e = wk_pay_pubkey_load(c->pay.wechat_platform_cert, &w->keys[w->n_keys], w->serials[w->n_keys],
                                        sizeof w->serials[0], d))) {
                wk_diag_prefix(d, "[pay] wechat_platform_cert");
                goto fail;
            }
            if (!w->serials[w->n_keys][0]) {
                wk_pay_pubkey_free(w->keys[w->n_keys]);
                w->keys[w->n_keys] = NULL;
                e = wk_diag_set(d, WK_EINVAL, "[pay] wechat_platform_cert: expected a PEM certificate");
                goto fail;
            }
            w->n_keys++;
        }
        if (c->pay.wechat_pubkey_file[0]) {
            if (!c->pay.wechat_pubkey_id[0]) {
                e = wk_diag_set(d, WK_EINVAL, "[pay] wechat_pubkey_id: required with wechat_pubkey_file");
                goto fail;
            }
            if ((e = wk_pay_pubkey_load(c->pay.wechat_pubkey_file, &w->keys[w->n_keys], NULL, 0, d))) {
                wk_diag_prefix(d, "[pay] wechat_pubkey_file");
                goto fail;
            }
            snprintf(w->serials[w->n_keys], sizeof w->serials[0], "%s", c->pay.wechat_pubkey_id);
            w->n_keys++;
        }
        snprintf(p->api_base, sizeof p->api_base, "%s", c->pay.wechat_api_base);
        snprintf(p->notify_base_url, sizeof p->notify_base_url, "%s", c->pay.notify_base_url);
        if (c->pay.wechat_merchant_key_file[0]) {
            if (!c->pay.wechat_merchant_serial[0]) {
                e = wk_diag_set(d, WK_EINVAL, "[pay] wechat_merchant_serial: required with wechat_merchant_key_file");
                goto fail;
            }
            snprintf(p->merchant_serial, sizeof p->merchant_serial, "%s", c->pay.wechat_merchant_serial);
            if ((e = wk_pay_privkey_load(c->pay.wechat_merchant_key_file, &p->merchant_key, d))) {
                wk_diag_prefix(d, "[pay] wechat_merchant_key_file");
                goto fail;
            }
        }
        if (!w->n_keys) {
            e = wk_diag_set(d, WK_EINVAL, "[pay] wechat_platform_cert: a platform certificate or "
                                          "wechat_pubkey_file is required");
            goto fail;
        }
    }
    if (c->pay.alipay_app_id[0]) {
        p->alipay_on = true;
        snprintf(p->alipay.app_id, sizeof p->alipay.app_id, "%s", c->pay.alipay_app_id);
        snprintf(p->alipay.seller_id, sizeof p->alipay.seller_id, "%s", c->pay.alipay_seller_id);
        if (!c->pay.alipay_seller_id[0]) {
            e = wk_diag_set(d, WK_EINVAL, "[pay] alipay_seller_id: required when alipay_app_id is set");
            goto fail;
        }
        if ((e = wk_pay_pubkey_load(c->pay.alipay_public_key, &p->alipay.key, NULL, 0, d))) {
            wk_diag_prefix(d, "[pay] alipay_public_key");
            goto fail;
        }
        snprintf(p->alipay_gateway, sizeof p->alipay_gateway, "%s", c->pay.alipay_gateway);
        if (c->pay.alipay_app_private_key[0] &&
            (e = wk_pay_privkey_load(c->pay.alipay_app_private_key, &p->alipay_app_key, d))) {
            wk_diag_prefix(d, "[pay] alipay_app_private_key");
            goto fail;
        }
    }
    *out = p;
    return WK_OK;
fail:
    wk_pay_channels_free(p);
    return e;
}

void wk_pay_channels_free(wk_pay_channels *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->wechat.n_keys; i++)
        wk_pay_pubkey_free(p->wechat.keys[i]);
    wk_pay_pubkey_free(p->alipay.key);
    wk_pay_privkey_free(p->merchant_key);
    wk_pay_privkey_free(p->alipay_app_key);
    memset(p->wechat.apiv3_key, 0, sizeof p->wechat.apiv3_key);
    wk_free(p);
}
