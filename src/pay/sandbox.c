/*
 * sandbox.c - the channels' side of a notification, for `wattkeeper paysim` and the
 * tests: RSA key pairs, RSA-SHA256 signing, WeChat's AES-256-GCM resource encryption and
 * envelope, Alipay's form body with its RSA2 signature. Nothing here runs in the
 * production path; the notifications it builds go through the same verifiers as real
 * ones (wechat.c, alipay.c).
 */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/mem.h"
#include "pay/pay.h"
#include "proto/encoding.h"

struct wk_pay_privkey {
    EVP_PKEY *pkey;
};

wk_err wk_pay_privkey_generate(wk_pay_privkey **out, wk_diag *d)
{
    *out = NULL;
    EVP_PKEY *pk = EVP_RSA_gen(2048);
    if (!pk)
        return wk_diag_set(d, WK_ECRYPTO, "key: RSA generation failed");
    if (!(*out = wk_malloc(sizeof **out))) {
        EVP_PKEY_free(pk);
        return wk_diag_set(d, WK_ENOMEM, "key: out of memory");
    }
    (*out)->pkey = pk;
    return WK_OK;
}

wk_err wk_pay_privkey_load(const char *path, wk_pay_privkey **out, wk_diag *d)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return wk_diag_set(d, WK_EIO, "%s: cannot open", path);
    EVP_PKEY *pk = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (!pk)
        return wk_diag_set(d, WK_ECRYPTO, "%s: not a PEM private key", path);
    if (!(*out = wk_malloc(sizeof **out))) {
        EVP_PKEY_free(pk);
        return wk_diag_set(d, WK_ENOMEM, "key: out of memory");
    }
    (*out)->pkey = pk;
    return WK_OK;
}

wk_err wk_pay_privkey_save(const wk_pay_privkey *k, const char *priv_path, const char *pub_path,
                           wk_diag *d)
{
    if (priv_path) {
        int fd = open(priv_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
        if (!f) {
            if (fd >= 0)
                close(fd);
            return wk_diag_set(d, WK_EIO, "%s: cannot create", priv_path);
        }
        int ok = PEM_write_PrivateKey(f, k->pkey, NULL, NULL, 0, NULL, NULL) == 1;
        if (fclose(f) || !ok)
            return wk_diag_set(d, WK_EIO, "%s: write failed", priv_path);
    }
    if (pub_path) {
        FILE *f = fopen(pub_path, "wb");
        if (!f)
            return wk_diag_set(d, WK_EIO, "%s: cannot create", pub_path);
        int ok = PEM_write_PUBKEY(f, k->pkey) == 1;
        if (fclose(f) || !ok)
            return wk_diag_set(d, WK_EIO, "%s: write failed", pub_path);
    }
    return WK_OK;
}

void wk_pay_privkey_free(wk_pay_privkey *k)
{
    if (!k)
        return;
    EVP_PKEY_free(k->pkey);
    wk_free(k);
}

wk_err wk_pay_rsa_sign(const wk_pay_privkey *k, const void *msg, size_t len, char *sig, size_t cap,
                       wk_diag *d)
{
    uint8_t raw[512];
    size_t n = sizeof raw;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, k->pkey) == 1 &&
             EVP_DigestSign(ctx, raw, &n, msg, len) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return wk_diag_set(d, WK_ECRYPTO, "sign: RSA signing failed");
    if (wk_base64_len(n) + 1 > cap)
        return wk_diag_set(d, WK_ELIMIT, "sign: buffer too small");
    wk_base64_encode(raw, n, sig, cap);
    return WK_OK;
}

int wk_pay_wechat_transaction_json(const wk_pay_wechat_cfg *c, const wk_pay_payment *p, const char *trade_state,
                                   char *out, size_t cap)
{
    int n = snprintf(out, cap,
                     "{\"mchid\":\"%s\",\"appid\":\"%s\",\"out_trade_no\":\"%s\",\"transaction_id\":\"%s\","
                     "\"trade_type\":\"NATIVE\",\"trade_state\":\"%s\",\"trade_state_desc\":\"sandbox\","
                     "\"bank_type\":\"OTHERS\",\"attach\":\"\",\"success_time\":\"2024-01-01T12:00:05+08:00\","
                     "\"payer\":{\"openid\":\"sandbox-payer\"},\"amount\":{\"total\":%lld,\"payer_total\":%lld,"
                     "\"currency\":\"CNY\",\"payer_currency\":\"CNY\"}}",
                     c->mchid, c->appid, p->out_trade_no, p->txn_id, trade_state, (long long)p->amount_fen,
                     (long long)p->amount_fen);
    return n < 0 || (size_t)n >= cap ? -1 : n;
}

static void sandbox__random_text(char *out, size_t n)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    uint8_t r[64];
    WK_PANIC_IF(n > sizeof r || RAND_bytes(r, (int)n) != 1);
    for (size_t i = 0; i < n; i++)
        out[i] = abc[r[i] % (sizeof abc - 1)];
    out[n] = 0;
}

/* Encrypts plain as a WeChat resource (AAD = original_type), wraps it in an envelope of
 * event_type and signs "ts\nnonce\nbody\n". */
static wk_err sandbox__wechat_event(const wk_pay_wechat_cfg *c, const wk_pay_privkey *k, const char *event_type,
                                    const char *original_type, const char *plain, int pl, int64_t ts_s, char *body,
                                    size_t cap, char *nonce, char *sig, wk_diag *d)
{
    char gcm_nonce[13];
    sandbox__random_text(gcm_nonce, 12);
    uint8_t ct[1024 + 16];
    int l1 = 0, l2 = 0;
    if (pl < 0 || pl > 1024)
        return wk_diag_set(d, WK_ELIMIT, "resource: too long");
    EVP_CIPHER_CTX *cx = EVP_CIPHER_CTX_new();
    const EVP_CIPHER *alg = c->apiv3_key_len == 16 ? EVP_aes_128_gcm() : EVP_aes_256_gcm();
    int ok = cx && (c->apiv3_key_len == 16 || c->apiv3_key_len == 32) &&
             EVP_EncryptInit_ex(cx, alg, NULL, c->apiv3_key, (const unsigned char *)gcm_nonce) == 1 &&
             EVP_EncryptUpdate(cx, NULL, &l1, (const unsigned char *)original_type, (int)strlen(original_type)) == 1 &&
             EVP_EncryptUpdate(cx, ct, &l1, (const unsigned char *)plain, pl) == 1 &&
             EVP_EncryptFinal_ex(cx, ct + l1, &l2) == 1 &&
             EVP_CIPHER_CTX_ctrl(cx, EVP_CTRL_GCM_GET_TAG, 16, ct + l1 + l2) == 1;
    EVP_CIPHER_CTX_free(cx);
    if (!ok)
        return wk_diag_set(d, WK_ECRYPTO, "resource: encryption failed");
    char ct64[1500];
    wk_base64_encode(ct, (size_t)(l1 + l2 + 16), ct64, sizeof ct64);
    char evid[24];
    sandbox__random_text(evid, 16);
    int bl = snprintf(body, cap,
                      "{\"id\":\"EV-%s\",\"create_time\":\"2024-01-01T12:00:06+08:00\",\"resource_type\":"
                      "\"encrypt-resource\",\"event_type\":\"%s\",\"summary\":\"sandbox\","
                      "\"resource\":{\"original_type\":\"%s\",\"algorithm\":\"AEAD_AES_256_GCM\","
                      "\"ciphertext\":\"%s\",\"associated_data\":\"%s\",\"nonce\":\"%s\"}}",
                      evid, event_type, original_type, ct64, original_type, gcm_nonce);
    if (bl < 0 || (size_t)bl >= cap)
        return wk_diag_set(d, WK_ELIMIT, "body: buffer too small");
    sandbox__random_text(nonce, 32);
    size_t mcap = (size_t)bl + 128;
    char *msg = wk_malloc(mcap);
    if (!msg)
        return wk_diag_set(d, WK_ENOMEM, "body: out of memory");
    int ml = snprintf(msg, mcap, "%lld\n%s\n%s\n", (long long)ts_s, nonce, body);
    wk_err e = wk_pay_rsa_sign(k, msg, (size_t)ml, sig, 512, d);
    wk_free(msg);
    return e;
}

wk_err wk_pay_wechat_sign_notification(const wk_pay_wechat_cfg *c, const wk_pay_privkey *k,
                                       const wk_pay_payment *p, const char *trade_state,
                                       int64_t ts_s, char *body, size_t cap, char *nonce,
                                       char *sig, wk_diag *d)
{
    char plain[1024];
    int pl = wk_pay_wechat_transaction_json(c, p, trade_state, plain, sizeof plain);
    if (pl < 0)
        return wk_diag_set(d, WK_ELIMIT, "transaction: too long");
    return sandbox__wechat_event(c, k, "TRANSACTION.SUCCESS", "transaction", plain, pl, ts_s, body, cap, nonce, sig,
                                 d);
}

wk_err wk_pay_wechat_sign_refund_notification(const wk_pay_wechat_cfg *c, const wk_pay_privkey *k,
                                              const wk_pay_channel_refund *r, int64_t total_fen, int64_t ts_s,
                                              char *body, size_t cap, char *nonce, char *sig, wk_diag *d)
{
    char plain[1024], ev[48];
    int pl = snprintf(plain, sizeof plain,
                      "{\"mchid\":\"%s\",\"out_trade_no\":\"%s\",\"transaction_id\":\"\",\"out_refund_no\":\"%s\","
                      "\"refund_id\":\"%s\",\"refund_status\":\"%s\",\"success_time\":\"2024-01-01T12:00:06+08:00\","
                      "\"user_received_account\":\"sandbox\",\"amount\":{\"total\":%lld,\"refund\":%lld,"
                      "\"payer_total\":%lld,\"payer_refund\":%lld}}",
                      c->mchid, r->out_trade_no, r->out_refund_no, r->refund_id, r->status, (long long)total_fen,
                      (long long)r->amount_fen, (long long)total_fen, (long long)r->amount_fen);
    if (pl < 0 || (size_t)pl >= sizeof plain)
        return wk_diag_set(d, WK_ELIMIT, "refund: too long");
    int el = snprintf(ev, sizeof ev, "REFUND.%s", r->status);
    if (el < 0 || (size_t)el >= sizeof ev)
        return wk_diag_set(d, WK_EINVAL, "status: too long");
    return sandbox__wechat_event(c, k, ev, "refund", plain, pl, ts_s, body, cap, nonce, sig, d);
}

/* Appends "&key=" + percent-encoded value (everything but unreserved characters). */
static bool sandbox__param(char *out, size_t cap, size_t *o, const char *key, const char *val)
{
    static const char hex[] = "0123456789ABCDEF";
    int n = snprintf(out + *o, cap - *o, "%s%s=", *o ? "&" : "", key);
    if (n < 0 || (size_t)n >= cap - *o)
        return false;
    *o += (size_t)n;
    for (const unsigned char *p = (const unsigned char *)val; *p; p++) {
        if (*o + 4 > cap)
            return false;
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~') {
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

wk_err wk_pay_alipay_sign_notification(const wk_pay_alipay_cfg *c, const wk_pay_privkey *k,
                                       const wk_pay_payment *p, const char *trade_status,
                                       const char *notify_time, char *body, size_t cap, wk_diag *d)
{
    char amount[32], nid[40];
    snprintf(amount, sizeof amount, "%lld.%02lld", (long long)(p->amount_fen / 100),
             (long long)(p->amount_fen % 100));
    sandbox__random_text(nid, 32);
    const char *kv[][2] = {
        {"app_id", c->app_id},         {"auth_app_id", c->app_id},
        {"buyer_id", "2088000000000001"}, {"charset", "utf-8"},
        {"gmt_payment", notify_time},  {"notify_id", nid},
        {"notify_time", notify_time},  {"notify_type", "trade_status_sync"},
        {"out_trade_no", p->out_trade_no}, {"receipt_amount", amount},
        {"seller_id", c->seller_id},   {"subject", "电费充值 top-up+1"},
        {"total_amount", amount},      {"trade_no", p->txn_id},
        {"trade_status", trade_status}, {"version", "1.0"},
    };
    size_t n = sizeof kv / sizeof kv[0];
    /* the signing string: these keys are already in byte order and none is empty */
    char s[2048];
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int w = snprintf(s + o, sizeof s - o, "%s%s=%s", i ? "&" : "", kv[i][0], kv[i][1]);
        if (w < 0 || (size_t)w >= sizeof s - o)
            return wk_diag_set(d, WK_ELIMIT, "sign string: too long");
        o += (size_t)w;
    }
    char sig[512];
    wk_err e = wk_pay_rsa_sign(k, s, o, sig, sizeof sig, d);
    if (e)
        return e;
    size_t bo = 0;
    body[0] = 0;
    for (size_t i = n; i-- > 0;) /* reverse order: the verifier must sort */
        if (!sandbox__param(body, cap, &bo, kv[i][0], kv[i][1]))
            return wk_diag_set(d, WK_ELIMIT, "body: buffer too small");
    if (!sandbox__param(body, cap, &bo, "sign_type", "RSA2") || !sandbox__param(body, cap, &bo, "sign", sig))
        return wk_diag_set(d, WK_ELIMIT, "body: buffer too small");
    return WK_OK;
}
