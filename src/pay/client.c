/*
 * client.c - the WeChat Pay API v3 client side: the merchant's request signature
 * (Authorization: WECHATPAY2-SHA256-RSA2048 ...) and the order query used for orders
 * stuck in created (lost notifications), and the Native prepay that yields the code_url
 * the payer opens. The response is verified with the same
 * authenticator as notifications. Blocking (libcurl, 5 s timeout): call it from an HTTP
 * thread or a job, never from serve's main loop.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/rand.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/civil.h"
#include "core/mem.h"
#include "core/units.h"
#include "pay/pay.h"

wk_err wk_pay_wechat_authorization(const char *mchid, const wk_pay_privkey *k, const char *serial,
                                   const char *method, const char *path_query, const char *body, int64_t ts_s,
                                   char *out, size_t cap, wk_diag *d)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    uint8_t r[32];
    char nonce[33];
    if (RAND_bytes(r, sizeof r) != 1)
        return wk_diag_set(d, WK_EIO, "nonce: no randomness");
    for (int i = 0; i < 32; i++)
        nonce[i] = abc[r[i] % (sizeof abc - 1)];
    nonce[32] = 0;
    size_t bl = body ? strlen(body) : 0, mcap = strlen(method) + strlen(path_query) + bl + 96;
    char *msg = wk_malloc(mcap);
    if (!msg)
        return wk_diag_set(d, WK_ENOMEM, "request: out of memory");
    int ml = snprintf(msg, mcap, "%s\n%s\n%lld\n%s\n%s\n", method, path_query, (long long)ts_s, nonce, body ? body : "");
    char sig[512];
    wk_err e = wk_pay_rsa_sign(k, msg, (size_t)ml, sig, sizeof sig, d);
    wk_free(msg);
    if (e)
        return e;
    int n = snprintf(out, cap,
                     "WECHATPAY2-SHA256-RSA2048 mchid=\"%s\",nonce_str=\"%s\",signature=\"%s\",timestamp=\"%lld\","
                     "serial_no=\"%s\"",
                     mchid, nonce, sig, (long long)ts_s, serial);
    if (n < 0 || (size_t)n >= cap)
        return wk_diag_set(d, WK_ELIMIT, "Authorization: longer than %zu", cap - 1);
    return WK_OK;
}

typedef struct client_resp {
    char body[WK_PAY_BODY_MAX + 1];
    size_t n;
    bool overflow;
    char ts[32], nonce[72], sig[700], serial[72];
} client_resp;

static size_t client__body(char *p, size_t size, size_t nmemb, void *ctx)
{
    client_resp *r = ctx;
    size_t n = size * nmemb;
    if (r->n + n > WK_PAY_BODY_MAX) {
        r->overflow = true;
        return 0;
    }
    memcpy(r->body + r->n, p, n);
    r->n += n;
    r->body[r->n] = 0;
    return n;
}

/* Keeps the Wechatpay-* response headers (case-insensitive names). */
static size_t client__header(char *p, size_t size, size_t nmemb, void *ctx)
{
    client_resp *r = ctx;
    size_t n = size * nmemb;
    static const struct {
        const char *name;
        size_t off, cap;
    } want[] = {{"wechatpay-timestamp:", offsetof(client_resp, ts), sizeof r->ts},
                {"wechatpay-nonce:", offsetof(client_resp, nonce), sizeof r->nonce},
                {"wechatpay-signature:", offsetof(client_resp, sig), sizeof r->sig},
                {"wechatpay-serial:", offsetof(client_resp, serial), sizeof r->serial}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        size_t l = strlen(want[i].name);
        if (n > l && !strncasecmp(p, want[i].name, l)) {
            size_t a = l, b = n;
            while (a < b && p[a] == ' ')
                a++;
            while (b > a && (p[b - 1] == '\r' || p[b - 1] == '\n' || p[b - 1] == ' '))
                b--;
            char *dst = (char *)r + want[i].off;
            snprintf(dst, want[i].cap, "%.*s", (int)(b - a), p + a);
        }
    }
    return n;
}

/* One signed API call: method path (with query) and optional JSON body; the answer's
 * signature is verified before anything of it is used. *status receives the HTTP status. */
static wk_err client__call(const wk_pay_channels *ch, const char *method, const char *path, const char *body,
                           int64_t now_s, client_resp *r, long *status, wk_diag *d)
{
    char url[1400], auth[1200], auth_h[1300];
    snprintf(url, sizeof url, "%s%s", ch->api_base, path);
    wk_err e = wk_pay_wechat_authorization(ch->wechat.mchid, ch->merchant_key, ch->merchant_serial, method, path,
                                           body ? body : "", now_s, auth, sizeof auth, d);
    if (e)
        return e;
    snprintf(auth_h, sizeof auth_h, "Authorization: %s", auth);
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, auth_h);
    h = curl_slist_append(h, "Accept: application/json");
    h = curl_slist_append(h, "Content-Type: application/json");
    CURLcode cr = CURLE_FAILED_INIT;
    if (c && h) {
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        if (body)
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, client__body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, client__header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        cr = curl_easy_perform(c);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (cr != CURLE_OK || r->overflow)
        return wk_diag_set(d, WK_EIO, "%s %s: %s", method, url, r->overflow ? "response too long" : curl_easy_strerror(cr));
    /* every answer is signed, errors too: verify before believing any of it */
    wk_pay_wechat_headers hd = {.timestamp = r->ts, .nonce = r->nonce, .signature = r->sig, .serial = r->serial};
    if ((e = wk_pay_wechat_authenticate(&ch->wechat, &hd, r->body, r->n, now_s, d)))
        wk_diag_prefix(d, "%s answer", method);
    return e;
}

static wk_err client__otn_ok(const char *out_trade_no, wk_diag *d)
{
    size_t n = 0;
    for (const char *p = out_trade_no; *p; p++, n++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' ||
              *p == '-'))
            return wk_diag_set(d, WK_EINVAL, "out_trade_no: unexpected character");
    return n && n < WK_PAY_OUT_TRADE_NO_MAX ? WK_OK : wk_diag_set(d, WK_EINVAL, "out_trade_no: 1..32 characters");
}

wk_err wk_pay_wechat_query(const wk_pay_channels *ch, const char *out_trade_no, int64_t now_s, wk_pay_payment *out,
                           bool *paid, wk_diag *d)
{
    *paid = false;
    memset(out, 0, sizeof *out);
    if (!ch->wechat_on || !ch->merchant_key)
        return wk_diag_set(d, WK_EINVAL, "[pay] wechat_merchant_key_file: no merchant key, no queries");
    wk_err e = client__otn_ok(out_trade_no, d);
    if (e)
        return e;
    char path[256];
    snprintf(path, sizeof path, "/v3/pay/transactions/out-trade-no/%s?mchid=%s", out_trade_no, ch->wechat.mchid);
    client_resp *r = wk_calloc(1, sizeof *r);
    if (!r)
        return wk_diag_set(d, WK_ENOMEM, "query: out of memory");
    long status = 0;
    if ((e = client__call(ch, "GET", path, NULL, now_s, r, &status, d)))
        goto done;
    if (status == 404) {
        e = wk_diag_set(d, WK_ENOTFOUND, "out_trade_no: WeChat Pay does not know order %s", out_trade_no);
        goto done;
    }
    if (status != 200) {
        e = wk_diag_set(d, WK_EIO, "query: HTTP %ld: %.200s", status, r->body);
        goto done;
    }
    e = wk_pay_wechat_transaction(&ch->wechat, r->body, r->n, out, d);
    if (e == WK_ECONFLICT && !strncmp(d->msg, "trade_state", 11) && out->status[0]) {
        e = WK_OK; /* known and not paid (NOTPAY, CLOSED, ...) */
    } else if (!e) {
        *paid = true;
    }
    if (!e && strcmp(out->out_trade_no, out_trade_no)) {
        *paid = false;
        e = wk_diag_set(d, WK_ECONFLICT, "out_trade_no: the answer is about order %s", out->out_trade_no);
    }
done:
    wk_free(r);
    return e;
}

wk_err wk_pay_wechat_prepay(const wk_pay_channels *ch, const char *notify_base_url, const char *out_trade_no,
                            int64_t amount_fen, int64_t now_s, char *code_url, size_t cap, wk_diag *d)
{
    if (!ch->wechat_on || !ch->merchant_key)
        return wk_diag_set(d, WK_EINVAL, "[pay] wechat_merchant_key_file: no merchant key, no prepay");
    if (!notify_base_url || !*notify_base_url)
        return wk_diag_set(d, WK_EINVAL, "[pay] notify_base_url: required for prepay");
    wk_err e = client__otn_ok(out_trade_no, d);
    if (e)
        return e;
    char body[1024];
    int n = snprintf(body, sizeof body,
                     "{\"appid\":\"%s\",\"mchid\":\"%s\",\"description\":\"\u7535\u8d39\u5145\u503c\","
                     "\"out_trade_no\":\"%s\",\"notify_url\":\"%s/pay/wechat/notify\","
                     "\"amount\":{\"total\":%lld,\"currency\":\"CNY\"}}",
                     ch->wechat.appid, ch->wechat.mchid, out_trade_no, notify_base_url, (long long)amount_fen);
    if (n < 0 || (size_t)n >= sizeof body)
        return wk_diag_set(d, WK_ELIMIT, "prepay: request too long");
    client_resp *r = wk_calloc(1, sizeof *r);
    if (!r)
        return wk_diag_set(d, WK_ENOMEM, "prepay: out of memory");
    long status = 0;
    if ((e = client__call(ch, "POST", "/v3/pay/transactions/native", body, now_s, r, &status, d)))
        goto done;
    json_error_t je;
    json_t *j = status == 200 ? json_loadb(r->body, r->n, 0, &je) : NULL;
    json_t *u = json_object_get(j, "code_url");
    if (!json_is_string(u) || json_string_length(u) == 0 || json_string_length(u) >= cap)
        e = wk_diag_set(d, WK_EIO, "prepay: HTTP %ld without a usable code_url: %.200s", status, r->body);
    else
        snprintf(code_url, cap, "%s", json_string_value(u));
    json_decref(j);
done:
    wk_free(r);
    return e;
}

/* ---- Alipay ---- */

wk_err wk_pay_json_member_raw(const char *json, size_t len, const char *name, size_t *start, size_t *vlen,
                              wk_diag *d)
{
    char key[80];
    int kl = snprintf(key, sizeof key, "\"%s\"", name);
    if (kl < 0 || (size_t)kl >= sizeof key)
        return wk_diag_set(d, WK_EINVAL, "%s: name too long", name);
    /* top level only: depth 1, outside strings */
    int depth = 0;
    bool str = false;
    for (size_t i = 0; i < len; i++) {
        char c = json[i];
        if (str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                str = false;
            continue;
        }
        if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            depth--;
        } else if (c == '"') {
            if (depth == 1 && i + (size_t)kl <= len && !memcmp(json + i, key, (size_t)kl)) {
                size_t j = i + (size_t)kl;
                while (j < len && (json[j] == ' ' || json[j] == '\n' || json[j] == '\r' || json[j] == '\t'))
                    j++;
                if (j < len && json[j] == ':') {
                    j++;
                    while (j < len && (json[j] == ' ' || json[j] == '\n' || json[j] == '\r' || json[j] == '\t'))
                        j++;
                    if (j >= len || json[j] != '{')
                        return wk_diag_set(d, WK_EINVAL, "%s: not an object", name);
                    int dd = 0;
                    bool s2 = false;
                    for (size_t k = j; k < len; k++) {
                        char x = json[k];
                        if (s2) {
                            if (x == '\\')
                                k++;
                            else if (x == '"')
                                s2 = false;
                        } else if (x == '"') {
                            s2 = true;
                        } else if (x == '{') {
                            dd++;
                        } else if (x == '}' && --dd == 0) {
                            *start = j;
                            *vlen = k + 1 - j;
                            return WK_OK;
                        }
                    }
                    return wk_diag_set(d, WK_EINVAL, "%s: unbalanced", name);
                }
            }
            str = true;
        }
    }
    return wk_diag_set(d, WK_EINVAL, "%s: absent", name);
}

/* Appends "&key=" + percent-encoded value. */
static bool client__param(char *out, size_t cap, size_t *o, const char *key, const char *val)
{
    static const char hex[] = "0123456789ABCDEF";
    int n = snprintf(out + *o, cap - *o, "%s%s=", *o ? "&" : "", key);
    if (n < 0 || (size_t)n >= cap - *o)
        return false;
    *o += (size_t)n;
    for (const unsigned char *p = (const unsigned char *)val; *p; p++) {
        if (*o + 4 > cap)
            return false;
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
            *p == '_' || *p == '.') {
            out[(*o)++] = (char)*p;
        } else {
            out[(*o)++] = '%';
            out[(*o)++] = hex[*p >> 4];
            out[(*o)++] = hex[*p & 15];
        }
    }
    out[*o] = 0;
    return true;
}

/* Beijing time "YYYY-MM-DD HH:MM:SS" as Alipay's timestamp parameter. */
static void client__alipay_ts(int64_t now_s, char ts[32])
{
    char iso[40];
    wk_time_format(now_s, 8 * 3600, iso, sizeof iso);
    snprintf(ts, 32, "%.10s %.8s", iso, iso + 11);
}

/* One Alipay gateway call: kv (n pairs, keys in byte order, sign excluded) is signed RSA2
 * with the app key (the signing string is the same pairs unencoded), posted form-encoded
 * to alipay_gateway, and the answer's `sign` is verified over the exact bytes of the member
 * `response_name` with Alipay's public key before anything in it is read. On success *root
 * (caller json_decrefs) holds the whole answer and *resp the verified member. `what` names
 * the call in messages. */
static wk_err client__alipay_call(const wk_pay_channels *ch, const char *what, const char *const (*kv)[2],
                                  size_t n, const char *response_name, json_t **root, json_t **resp,
                                  wk_diag *d)
{
    char form[4096], s[2048], sig[512];
    size_t o = 0, so = 0;
    *root = NULL;
    *resp = NULL;
    for (size_t i = 0; i < n; i++) {
        int w = snprintf(s + so, sizeof s - so, "%s%s=%s", i ? "&" : "", kv[i][0], kv[i][1]);
        if (!client__param(form, sizeof form, &o, kv[i][0], kv[i][1]) || w < 0 || (size_t)w >= sizeof s - so)
            return wk_diag_set(d, WK_ELIMIT, "%s: request too long", what);
        so += (size_t)w;
    }
    wk_err e = wk_pay_rsa_sign(ch->alipay_app_key, s, so, sig, sizeof sig, d);
    if (e)
        return e;
    if (!client__param(form, sizeof form, &o, "sign", sig))
        return wk_diag_set(d, WK_ELIMIT, "%s: request too long", what);
    client_resp *r = wk_calloc(1, sizeof *r);
    if (!r)
        return wk_diag_set(d, WK_ENOMEM, "%s: out of memory", what);
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/x-www-form-urlencoded;charset=utf-8");
    CURLcode cr = CURLE_FAILED_INIT;
    long status = 0;
    if (c && h) {
        curl_easy_setopt(c, CURLOPT_URL, ch->alipay_gateway);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, form);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, client__body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        cr = curl_easy_perform(c);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    size_t at, vl;
    json_error_t je;
    json_t *j = NULL;
    if (cr != CURLE_OK || r->overflow || status != 200) {
        e = wk_diag_set(d, WK_EIO, "%s %s: %s (HTTP %ld)", what, ch->alipay_gateway,
                        r->overflow ? "response too long" : curl_easy_strerror(cr), status);
    } else if (!(e = wk_pay_json_member_raw(r->body, r->n, response_name, &at, &vl, d))) {
        j = json_loadb(r->body, r->n, JSON_REJECT_DUPLICATES, &je);
        const char *sign = json_string_value(json_object_get(j, "sign"));
        if (!sign || wk_pay_rsa_verify(ch->alipay.key, r->body + at, vl, sign, strlen(sign), d))
            e = wk_diag_set(d, WK_ECRYPTO, "%s answer: the signature does not verify", what);
    }
    wk_free(r);
    if (e) {
        json_decref(j);
        return e;
    }
    *root = j;
    *resp = json_object_get(j, response_name);
    return WK_OK;
}

wk_err wk_pay_alipay_query(const wk_pay_channels *ch, const char *out_trade_no, int64_t now_s, wk_pay_payment *out,
                           bool *paid, wk_diag *d)
{
    *paid = false;
    memset(out, 0, sizeof *out);
    out->channel = WK_PAY_ALIPAY;
    if (!ch->alipay_on || !ch->alipay_app_key)
        return wk_diag_set(d, WK_EINVAL, "[pay] alipay_app_private_key: no app key, no queries");
    wk_err e = client__otn_ok(out_trade_no, d);
    if (e)
        return e;
    char ts[32], biz[128];
    client__alipay_ts(now_s, ts);
    snprintf(biz, sizeof biz, "{\"out_trade_no\":\"%s\"}", out_trade_no);
    const char *const kv[][2] = {{"app_id", ch->alipay.app_id}, {"biz_content", biz}, {"charset", "utf-8"},
                                 {"method", "alipay.trade.query"}, {"sign_type", "RSA2"}, {"timestamp", ts},
                                 {"version", "1.0"}};
    json_t *j, *resp;
    if ((e = client__alipay_call(ch, "query", kv, sizeof kv / sizeof kv[0], "alipay_trade_query_response", &j,
                                 &resp, d)))
        return e;
    const char *code = json_string_value(json_object_get(resp, "code")),
               *sub = json_string_value(json_object_get(resp, "sub_code")),
               *status_s = json_string_value(json_object_get(resp, "trade_status")),
               *trade_no = json_string_value(json_object_get(resp, "trade_no")),
               *otn = json_string_value(json_object_get(resp, "out_trade_no")),
               *total = json_string_value(json_object_get(resp, "total_amount"));
    if (code && !strcmp(code, "40004") && sub && !strcmp(sub, "ACQ.TRADE_NOT_EXIST")) {
        e = wk_diag_set(d, WK_ENOTFOUND, "out_trade_no: Alipay does not know order %s", out_trade_no);
        goto done;
    }
    if (!code || strcmp(code, "10000") || !status_s || !otn || strcmp(otn, out_trade_no) ||
        strlen(status_s) >= sizeof out->status) {
        e = wk_diag_set(d, WK_EIO, "query: unexpected answer (code %.20s)", code ? code : "none");
        goto done;
    }
    snprintf(out->status, sizeof out->status, "%s", status_s);
    snprintf(out->out_trade_no, sizeof out->out_trade_no, "%s", otn);
    if (strcmp(status_s, "TRADE_SUCCESS") && strcmp(status_s, "TRADE_FINISHED"))
        goto done; /* known, not paid */
    int64_t fen;
    if (!trade_no || !*trade_no || strlen(trade_no) >= sizeof out->txn_id || !total ||
        wk_dec_parse_str(total, 2, &fen, NULL) || fen <= 0) {
        e = wk_diag_set(d, WK_EINVAL, "query: trade_no or total_amount missing or malformed");
        goto done;
    }
    snprintf(out->txn_id, sizeof out->txn_id, "%s", trade_no);
    out->amount_fen = fen;
    *paid = true;
done:
    json_decref(j);
    return e;
}

/* ---- refunds ---- */

wk_err wk_pay_wechat_refund(const wk_pay_channels *ch, const char *out_trade_no, const char *out_refund_no,
                            int64_t amount_fen, int64_t total_fen, const char *reason, int64_t now_s,
                            wk_pay_channel_refund *out, wk_diag *d)
{
    memset(out, 0, sizeof *out);
    out->channel = WK_PAY_WECHAT;
    if (!ch->wechat_on || !ch->merchant_key)
        return wk_diag_set(d, WK_EINVAL, "[pay] wechat_merchant_key_file: no merchant key, no refunds");
    wk_err e = client__otn_ok(out_trade_no, d);
    if (e)
        return e;
    if (!out_refund_no || !*out_refund_no || strlen(out_refund_no) >= WK_PAY_ID_MAX)
        return wk_diag_set(d, WK_EINVAL, "out_refund_no: 1..63 characters");
    if (amount_fen <= 0 || amount_fen > total_fen)
        return wk_diag_set(d, WK_ERANGE, "amount_fen: must be within 1..%lld", (long long)total_fen);
    json_t *req = json_pack("{s:s, s:s, s:s, s:{s:I, s:I, s:s}}", "out_trade_no", out_trade_no, "out_refund_no",
                            out_refund_no, "reason", reason ? reason : "", "amount", "refund", (json_int_t)amount_fen,
                            "total", (json_int_t)total_fen, "currency", "CNY");
    char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (!body)
        return wk_diag_set(d, WK_ENOMEM, "refund: out of memory");
    client_resp *r = wk_calloc(1, sizeof *r);
    json_t *j = NULL;
    if (!r) {
        e = wk_diag_set(d, WK_ENOMEM, "refund: out of memory");
        goto done;
    }
    long status = 0;
    if ((e = client__call(ch, "POST", "/v3/refund/domestic/refunds", body, now_s, r, &status, d)))
        goto done;
    json_error_t je;
    j = json_loadb(r->body, r->n, JSON_REJECT_DUPLICATES, &je);
    if (status != 200) {
        e = wk_diag_set(d, WK_EIO, "refund: HTTP %ld %s: %.200s", status,
                        json_string_value(json_object_get(j, "code")) ? json_string_value(json_object_get(j, "code"))
                                                                       : "",
                        json_string_value(json_object_get(j, "message")) ? json_string_value(json_object_get(j, "message"))
                                                                          : r->body);
        goto done;
    }
    const char *rid = json_string_value(json_object_get(j, "refund_id")),
               *orn = json_string_value(json_object_get(j, "out_refund_no")),
               *otn = json_string_value(json_object_get(j, "out_trade_no")),
               *st = json_string_value(json_object_get(j, "status"));
    json_t *amt = json_object_get(json_object_get(j, "amount"), "refund");
    if (!rid || !*rid || strlen(rid) >= sizeof out->refund_id) {
        e = wk_diag_set(d, WK_EINVAL, "refund_id: missing or malformed in the answer");
    } else if (!orn || strcmp(orn, out_refund_no)) {
        e = wk_diag_set(d, WK_ECONFLICT, "out_refund_no: the answer is about refund %.64s", orn ? orn : "(none)");
    } else if (!otn || strcmp(otn, out_trade_no)) {
        e = wk_diag_set(d, WK_ECONFLICT, "out_trade_no: the answer is about order %.40s", otn ? otn : "(none)");
    } else if (!json_is_integer(amt) || json_integer_value(amt) != amount_fen) {
        e = wk_diag_set(d, WK_ECONFLICT, "amount.refund: the answer's amount differs from the request's");
    } else if (!st || (strcmp(st, "SUCCESS") && strcmp(st, "PROCESSING"))) {
        e = wk_diag_set(d, WK_EIO, "status: refund %s is %.30s", rid, st ? st : "(none)");
    } else {
        snprintf(out->refund_id, sizeof out->refund_id, "%s", rid);
        snprintf(out->out_refund_no, sizeof out->out_refund_no, "%s", orn);
        snprintf(out->out_trade_no, sizeof out->out_trade_no, "%s", otn);
        snprintf(out->status, sizeof out->status, "%s", st);
        out->amount_fen = amount_fen;
    }
done:
    json_decref(j);
    free(body);
    wk_free(r);
    return e;
}

wk_err wk_pay_alipay_refund(const wk_pay_channels *ch, const char *out_trade_no, const char *out_refund_no,
                            int64_t amount_fen, const char *reason, int64_t now_s, wk_pay_channel_refund *out,
                            wk_diag *d)
{
    memset(out, 0, sizeof *out);
    out->channel = WK_PAY_ALIPAY;
    if (!ch->alipay_on || !ch->alipay_app_key)
        return wk_diag_set(d, WK_EINVAL, "[pay] alipay_app_private_key: no app key, no refunds");
    wk_err e = client__otn_ok(out_trade_no, d);
    if (e)
        return e;
    if (!out_refund_no || !*out_refund_no || strlen(out_refund_no) >= WK_PAY_ID_MAX)
        return wk_diag_set(d, WK_EINVAL, "out_refund_no: 1..63 characters");
    if (amount_fen <= 0)
        return wk_diag_set(d, WK_ERANGE, "amount_fen: must be positive");
    char yuan[32], ts[32];
    snprintf(yuan, sizeof yuan, "%lld.%02lld", (long long)(amount_fen / 100), (long long)(amount_fen % 100));
    client__alipay_ts(now_s, ts);
    json_t *bj = json_pack("{s:s, s:s, s:s, s:s}", "out_trade_no", out_trade_no, "refund_amount", yuan,
                           "out_request_no", out_refund_no, "refund_reason", reason ? reason : "");
    char *biz = bj ? json_dumps(bj, JSON_COMPACT) : NULL;
    json_decref(bj);
    if (!biz)
        return wk_diag_set(d, WK_ENOMEM, "refund: out of memory");
    const char *const kv[][2] = {{"app_id", ch->alipay.app_id}, {"biz_content", biz}, {"charset", "utf-8"},
                                 {"method", "alipay.trade.refund"}, {"sign_type", "RSA2"}, {"timestamp", ts},
                                 {"version", "1.0"}};
    json_t *j = NULL, *resp;
    if ((e = client__alipay_call(ch, "refund", kv, sizeof kv / sizeof kv[0], "alipay_trade_refund_response", &j,
                                 &resp, d)))
        goto done;
    const char *code = json_string_value(json_object_get(resp, "code")),
               *sub = json_string_value(json_object_get(resp, "sub_code")),
               *trade_no = json_string_value(json_object_get(resp, "trade_no")),
               *otn = json_string_value(json_object_get(resp, "out_trade_no")),
               *fc = json_string_value(json_object_get(resp, "fund_change")),
               *fee = json_string_value(json_object_get(resp, "refund_fee"));
    int64_t fee_fen = 0;
    if (!code || strcmp(code, "10000")) {
        e = wk_diag_set(d, WK_EIO, "refund: Alipay refused: %.20s %.60s", code ? code : "(no code)", sub ? sub : "");
    } else if (!otn || strcmp(otn, out_trade_no)) {
        e = wk_diag_set(d, WK_ECONFLICT, "out_trade_no: the answer is about order %.40s", otn ? otn : "(none)");
    } else if (!trade_no || !*trade_no || strlen(trade_no) + strlen(out_refund_no) + 2 > sizeof out->refund_id) {
        e = wk_diag_set(d, WK_EINVAL, "trade_no: missing or too long in the answer");
    } else if (!fc || strcmp(fc, "Y")) {
        e = wk_diag_set(d, WK_EIO, "fund_change: Alipay moved no money for request %s", out_refund_no);
    } else if (!fee || wk_dec_parse_str(fee, 2, &fee_fen, NULL) || fee_fen < amount_fen) {
        e = wk_diag_set(d, WK_ECONFLICT, "refund_fee: the answer's refunded total is below the request");
    } else {
        snprintf(out->refund_id, sizeof out->refund_id, "%s:%s", trade_no, out_refund_no);
        snprintf(out->out_refund_no, sizeof out->out_refund_no, "%s", out_refund_no);
        snprintf(out->out_trade_no, sizeof out->out_trade_no, "%s", otn);
        snprintf(out->status, sizeof out->status, "SUCCESS");
        out->amount_fen = amount_fen;
    }
done:
    json_decref(j);
    free(biz);
    return e;
}

/* ---- Alipay precreate (QR) ---- */

wk_err wk_pay_alipay_precreate(const wk_pay_channels *ch, const char *notify_base_url, const char *out_trade_no,
                               int64_t amount_fen, int64_t now_s, char *qr_code, size_t cap, wk_diag *d)
{
    if (!ch->alipay_on || !ch->alipay_app_key)
        return wk_diag_set(d, WK_EINVAL, "[pay] alipay_app_private_key: no app key, no precreate");
    if (!notify_base_url || !*notify_base_url)
        return wk_diag_set(d, WK_EINVAL, "[pay] notify_base_url: required for precreate");
    wk_err e = client__otn_ok(out_trade_no, d);
    if (e)
        return e;
    if (amount_fen <= 0)
        return wk_diag_set(d, WK_ERANGE, "amount_fen: must be positive");
    char yuan[32], ts[32], notify[600], biz[512];
    snprintf(yuan, sizeof yuan, "%lld.%02lld", (long long)(amount_fen / 100), (long long)(amount_fen % 100));
    client__alipay_ts(now_s, ts);
    int nn = snprintf(notify, sizeof notify, "%s/pay/alipay/notify", notify_base_url);
    int bn = snprintf(biz, sizeof biz,
                      "{\"out_trade_no\":\"%s\",\"total_amount\":\"%s\",\"subject\":\"\xe7\x94\xb5\xe8\xb4\xb9\xe5\x85\x85"
                      "\xe5\x80\xbc\"}",
                      out_trade_no, yuan);
    if (nn < 0 || (size_t)nn >= sizeof notify || bn < 0 || (size_t)bn >= sizeof biz)
        return wk_diag_set(d, WK_ELIMIT, "precreate: request too long");
    /* keys in byte order: the signing string is the same sequence, unencoded */
    const char *const kv[][2] = {{"app_id", ch->alipay.app_id}, {"biz_content", biz},
                                 {"charset", "utf-8"},          {"method", "alipay.trade.precreate"},
                                 {"notify_url", notify},       {"sign_type", "RSA2"},
                                 {"timestamp", ts},            {"version", "1.0"}};
    json_t *j, *resp;
    if ((e = client__alipay_call(ch, "precreate", kv, sizeof kv / sizeof kv[0], "alipay_trade_precreate_response",
                                 &j, &resp, d)))
        return e;
    const char *code = json_string_value(json_object_get(resp, "code")),
               *sub = json_string_value(json_object_get(resp, "sub_code")),
               *otn = json_string_value(json_object_get(resp, "out_trade_no")),
               *qr = json_string_value(json_object_get(resp, "qr_code"));
    if (!code || strcmp(code, "10000"))
        e = wk_diag_set(d, WK_EIO, "precreate: Alipay refused: %.20s %.60s", code ? code : "(no code)", sub ? sub : "");
    else if (!otn || strcmp(otn, out_trade_no))
        e = wk_diag_set(d, WK_ECONFLICT, "out_trade_no: the answer is about order %.40s", otn ? otn : "(none)");
    else if (!qr || !*qr || strlen(qr) >= cap)
        e = wk_diag_set(d, WK_EIO, "qr_code: missing or longer than %zu", cap - 1);
    else
        snprintf(qr_code, cap, "%s", qr);
    json_decref(j);
    return e;
}
