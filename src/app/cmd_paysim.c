/*
 * cmd_paysim.c - `wattkeeper paysim`: a stand-in for WeChat Pay and Alipay, for the demo
 * and the tests (the real channels are not reachable from here). It is NOT a channel:
 * it holds sandbox keys that serve is configured to trust, and builds notifications the
 * way the channels do (sandbox.c), which serve checks with the same verifiers that check
 * real ones.
 *
 *   paysim keys --dir DIR       sandbox key pairs + APIv3 key, and DIR/pay.ini with the
 *                               [pay] section serve needs to trust them (first start only:
 *                               existing keys are kept)
 *   paysim notify --dir DIR --channel wechat|alipay --order NO --amount-fen N --txn ID
 *                 [--state S] [--url URL [--attempts N] [--retry-ms MS]] [--out PREFIX]
 *                               one signed notification: posted to URL (re-signed for every
 *                               attempt, as the channels do, until acknowledged), and/or
 *                               written to PREFIX.body + PREFIX.headers (curl -H @file)
 *   paysim serve --dir DIR [--port N] [--notify-url URL] [--drop-notify]
 *                               the channel's HTTP side: a confirm page (GET /sim/confirm),
 *                               the payer's confirmation (POST /sim/pay, which notifies
 *                               serve unless --drop-notify: a lost notification), and the
 *                               order query (GET /v3/pay/transactions/out-trade-no/...),
 *                               checking the merchant's request signature and signing
 *                               its answers like WeChat Pay; refunds (POST
 *                               /v3/refund/domestic/refunds, alipay.trade.refund on
 *                               /gateway.do) of what it processed, deduplicated by
 *                               out_refund_no / out_request_no like the channels;
 *                               every payment and refund is appended to DIR/processed.tsv;
 *                               alipay.trade.precreate answers a signed qr_code that opens
 *                               the confirm page
 *   paysim bill --dir DIR --channel wechat|alipay --date YYYY-MM-DD --out FILE
 *                               the channel's daily bill (Beijing day) of DIR/processed.tsv:
 *                               WeChat tradebill CSV (BOM, CRLF, backticks, summary), Alipay
 *                               business bill (GBK, '#' preamble and footer, TAB padding)
 */
#include <curl/curl.h>
#include <iconv.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "app/args.h"
#include "app/cli.h"
#include "api/http.h"
#include "core/civil.h"
#include "core/mem.h"
#include "core/units.h"
#include "pay/pay.h"

#define SIM_MCHID "1900000001"
#define SIM_APPID "wxsandbox0000001"
#define SIM_PUBKEY_ID "PUB_KEY_ID_0100SANDBOX00000001"
#define SIM_MERCHANT_SERIAL "5A1DB0C0FFEE0001"
#define SIM_ALIPAY_APP "2021000000000001"
#define SIM_ALIPAY_SELLER "2088000000000001"

static void sim__path(char *out, size_t cap, const char *dir, const char *name)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

static int sim__keys(const char *dir)
{
    char p1[1024], p2[1024], p3[1024];
    wk_diag d = {{0}};
    mkdir(dir, 0700);
    const char *names[][2] = {{"wechat-private.pem", "wechat-public.pem"},
                              {"alipay-private.pem", "alipay-public.pem"},
                              {"merchant-private.pem", "merchant-public.pem"},
                              {"alipay-app-private.pem", "alipay-app-public.pem"}};
    for (int i = 0; i < 4; i++) {
        sim__path(p1, sizeof p1, dir, names[i][0]);
        sim__path(p2, sizeof p2, dir, names[i][1]);
        if (access(p1, F_OK) == 0)
            continue; /* keys of an earlier start are kept */
        wk_pay_privkey *k;
        if (wk_pay_privkey_generate(&k, &d) || wk_pay_privkey_save(k, p1, p2, &d)) {
            fprintf(stderr, "wattkeeper paysim: %s\n", d.msg);
            return 1;
        }
        wk_pay_privkey_free(k);
    }
    sim__path(p3, sizeof p3, dir, "wechat-apiv3.key");
    if (access(p3, F_OK) != 0) {
        static const char abc[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        uint8_t r[32];
        char key[33];
        if (RAND_bytes(r, sizeof r) != 1)
            return 1;
        for (int i = 0; i < 32; i++)
            key[i] = abc[r[i] % (sizeof abc - 1)];
        key[32] = 0;
        FILE *f = fopen(p3, "w");
        if (!f || fprintf(f, "%s\n", key) < 0 || fclose(f)) {
            fprintf(stderr, "wattkeeper paysim: %s: cannot write\n", p3);
            return 1;
        }
        chmod(p3, 0600);
    }
    sim__path(p1, sizeof p1, dir, "pay.ini");
    FILE *f = fopen(p1, "w");
    if (!f)
        return 1;
    fprintf(f,
            "; sandbox channels of `wattkeeper paysim` - NOT real merchant keys\n"
            "[pay]\nwechat_mchid = %s\nwechat_appid = %s\nwechat_apiv3_key_file = %s/wechat-apiv3.key\n"
            "wechat_pubkey_file = %s/wechat-public.pem\nwechat_pubkey_id = %s\n"
            "wechat_api_base = http://127.0.0.1:9300\nwechat_merchant_key_file = %s/merchant-private.pem\n"
            "wechat_merchant_serial = %s\n"
            "alipay_app_id = %s\nalipay_seller_id = %s\nalipay_public_key = %s/alipay-public.pem\n"
            "alipay_gateway = http://127.0.0.1:9300/gateway.do\nalipay_app_private_key = %s/alipay-app-private.pem\n",
            SIM_MCHID, SIM_APPID, dir, dir, SIM_PUBKEY_ID, dir, SIM_MERCHANT_SERIAL, SIM_ALIPAY_APP, SIM_ALIPAY_SELLER,
            dir, dir);
    if (fclose(f))
        return 1;
    printf("%s\n", p1);
    return 0;
}

typedef struct sim_resp {
    char buf[512];
    size_t n;
} sim_resp;

static size_t sim__write(char *p, size_t size, size_t nmemb, void *ctx)
{
    sim_resp *b = ctx;
    size_t n = size * nmemb, room = sizeof b->buf - 1 - b->n, take = n < room ? n : room;
    memcpy(b->buf + b->n, p, take);
    b->n += take;
    b->buf[b->n] = 0;
    return n;
}

/* Builds one notification (fresh timestamp, nonces, signature). */
static int sim__build(const char *dir, wk_pay_channel ch, const wk_pay_payment *p, const char *state,
                      char *body, size_t cap, char hdr[6][600], int *nh)
{
    char path[1024];
    wk_diag d = {{0}};
    wk_pay_privkey *k = NULL;
    sim__path(path, sizeof path, dir, ch == WK_PAY_WECHAT ? "wechat-private.pem" : "alipay-private.pem");
    if (wk_pay_privkey_load(path, &k, &d)) {
        fprintf(stderr, "wattkeeper paysim: %s\n", d.msg);
        return 1;
    }
    int rc = 1;
    if (ch == WK_PAY_WECHAT) {
        wk_pay_wechat_cfg c = {.apiv3_key_len = 32};
        snprintf(c.mchid, sizeof c.mchid, SIM_MCHID);
        snprintf(c.appid, sizeof c.appid, SIM_APPID);
        sim__path(path, sizeof path, dir, "wechat-apiv3.key");
        FILE *f = fopen(path, "r");
        char key[64] = "";
        if (!f || !fgets(key, sizeof key, f) || strlen(key) < 32) {
            if (f)
                fclose(f);
            fprintf(stderr, "wattkeeper paysim: %s: no APIv3 key\n", path);
            goto done;
        }
        fclose(f);
        memcpy(c.apiv3_key, key, 32);
        char nonce[33], sig[512];
        int64_t ts = (int64_t)time(NULL);
        if (wk_pay_wechat_sign_notification(&c, k, p, state, ts, body, cap, nonce, sig, &d)) {
            fprintf(stderr, "wattkeeper paysim: %s\n", d.msg);
            goto done;
        }
        *nh = 0;
        snprintf(hdr[(*nh)++], 600, "Content-Type: application/json");
        snprintf(hdr[(*nh)++], 600, "Wechatpay-Timestamp: %lld", (long long)ts);
        snprintf(hdr[(*nh)++], 600, "Wechatpay-Nonce: %s", nonce);
        snprintf(hdr[(*nh)++], 600, "Wechatpay-Serial: %s", SIM_PUBKEY_ID);
        snprintf(hdr[(*nh)++], 600, "Wechatpay-Signature-Type: WECHATPAY2-SHA256-RSA2048");
        snprintf(hdr[(*nh)++], 600, "Wechatpay-Signature: %s", sig);
    } else {
        wk_pay_alipay_cfg c = {0};
        snprintf(c.app_id, sizeof c.app_id, SIM_ALIPAY_APP);
        snprintf(c.seller_id, sizeof c.seller_id, SIM_ALIPAY_SELLER);
        char iso[40], when[32];
        wk_time_format((int64_t)time(NULL), 8 * 3600, iso, sizeof iso); /* Beijing time */
        snprintf(when, sizeof when, "%.10s %.8s", iso, iso + 11);
        if (wk_pay_alipay_sign_notification(&c, k, p, state, when, body, cap, &d)) {
            fprintf(stderr, "wattkeeper paysim: %s\n", d.msg);
            goto done;
        }
        *nh = 0;
        snprintf(hdr[(*nh)++], 600, "Content-Type: application/x-www-form-urlencoded; charset=utf-8");
    }
    rc = 0;
done:
    wk_pay_privkey_free(k);
    return rc;
}

static int sim__notify(wk_opt *o, size_t n)
{
    const char *dir = wk_args_get(o, n, "dir"), *chs = wk_args_get(o, n, "channel"),
               *order = wk_args_get(o, n, "order"), *amount = wk_args_get(o, n, "amount-fen"),
               *txn = wk_args_get(o, n, "txn"), *state = wk_args_get(o, n, "state"),
               *url = wk_args_get(o, n, "url"), *out = wk_args_get(o, n, "out"),
               *attempts_s = wk_args_get(o, n, "attempts"), *retry_s = wk_args_get(o, n, "retry-ms");
    wk_pay_channel ch;
    int64_t amount_fen, attempts = 1, retry_ms = 1000;
    if (!dir || !order || !amount || !txn || (!url && !out) || wk_pay_channel_parse(chs, &ch, NULL) ||
        wk_dec_parse_str(amount, 0, &amount_fen, NULL) || amount_fen <= 0 ||
        (attempts_s && (wk_dec_parse_str(attempts_s, 0, &attempts, NULL) || attempts < 1 || attempts > 100)) ||
        (retry_s && (wk_dec_parse_str(retry_s, 0, &retry_ms, NULL) || retry_ms < 0 || retry_ms > 600000)) ||
        strlen(order) >= WK_PAY_OUT_TRADE_NO_MAX || strlen(txn) >= WK_PAY_ID_MAX) {
        fputs("wattkeeper paysim notify: needs --dir, --channel wechat|alipay, --order, --amount-fen N,\n"
              "  --txn ID and --url URL and/or --out PREFIX (see --help)\n",
              stderr);
        return 2;
    }
    if (!state)
        state = ch == WK_PAY_WECHAT ? "SUCCESS" : "TRADE_SUCCESS";
    wk_pay_payment p = {.channel = ch, .amount_fen = amount_fen};
    snprintf(p.out_trade_no, sizeof p.out_trade_no, "%s", order);
    snprintf(p.txn_id, sizeof p.txn_id, "%s", txn);
    static char body[WK_PAY_BODY_MAX];
    char hdr[6][600];
    int nh = 0;
    if (out) {
        if (sim__build(dir, ch, &p, state, body, sizeof body, hdr, &nh))
            return 1;
        char path[1024];
        snprintf(path, sizeof path, "%s.body", out);
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(body, 1, strlen(body), f) != strlen(body) || fclose(f))
            return 1;
        snprintf(path, sizeof path, "%s.headers", out);
        f = fopen(path, "w");
        if (!f)
            return 1;
        for (int i = 0; i < nh; i++)
            fprintf(f, "%s\n", hdr[i]);
        if (fclose(f))
            return 1;
    }
    if (!url)
        return 0;
    for (int64_t i = 0; i < attempts; i++) {
        if (i)
            usleep((useconds_t)(retry_ms * 1000));
        if (sim__build(dir, ch, &p, state, body, sizeof body, hdr, &nh))
            return 1;
        CURL *c = curl_easy_init();
        struct curl_slist *h = NULL;
        for (int j = 0; j < nh; j++)
            h = curl_slist_append(h, hdr[j]);
        sim_resp r = {.n = 0};
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sim__write);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L); /* WeChat's answer deadline */
        CURLcode cr = curl_easy_perform(c);
        long status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl_slist_free_all(h);
        curl_easy_cleanup(c);
        /* what each channel counts as acknowledged */
        bool acked = cr == CURLE_OK && (ch == WK_PAY_WECHAT ? (status == 200 || status == 204)
                                                            : !strcmp(r.buf, "success"));
        printf("attempt %lld: %s HTTP %ld %s%s\n", (long long)i + 1, acked ? "acknowledged" : "not acknowledged",
               status, cr == CURLE_OK ? "" : curl_easy_strerror(cr), r.buf);
        fflush(stdout);
        if (acked)
            return 0;
    }
    return 1;
}

/* ---- paysim serve: the channel's HTTP side ---- */

#define SIM_ORDERS_MAX 4096

typedef struct sim_order {
    char no[WK_PAY_OUT_TRADE_NO_MAX];
    char txn[WK_PAY_ID_MAX]; /* "" until paid */
    int64_t amount_fen;
    char notify_url[600];    /* from the prepay request */
    bool alipay;
} sim_order;

#define SIM_REFUNDS_MAX 1024

typedef struct sim_refund {
    char out_refund_no[WK_PAY_ID_MAX];
    char refund_id[WK_PAY_ID_MAX]; /* WeChat's refund_id; Alipay: "" (the request number names it) */
    char no[WK_PAY_OUT_TRADE_NO_MAX];
    int64_t amount_fen;
    int64_t at_s;
    bool alipay;
} sim_refund;

typedef struct sim_server {
    const char *dir, *notify_url;
    bool drop_notify;
    wk_pay_privkey *platform;       /* signs answers and notifications */
    wk_pay_pubkey *merchant;        /* verifies the merchant's requests */
    wk_pay_privkey *alipay;         /* signs Alipay answers */
    wk_pay_pubkey *alipay_app;      /* verifies the app's Alipay requests */
    pthread_mutex_t mu;
    sim_order orders[SIM_ORDERS_MAX]; /* prepaid and paid orders */
    size_t n;
    sim_refund refunds[SIM_REFUNDS_MAX]; /* accepted refunds */
    size_t n_refunds;
    int64_t next_refund;
    int64_t next_txn;
    int port;
} sim_server;

/* The order of that number (sv->mu held), or NULL. */
static sim_order *sim__find(sim_server *sv, const char *no)
{
    for (size_t i = 0; i < sv->n; i++)
        if (!strcmp(sv->orders[i].no, no))
            return &sv->orders[i];
    return NULL;
}

/* Appends one processed event to DIR/processed.tsv (sv->mu held), what `paysim bill`
 * writes the daily bills from:
 *   P <channel> <unix_s> <txn> <out_trade_no> <amount_fen>
 *   R <channel> <unix_s> <txn> <out_trade_no> <amount_fen> <refund_id> <out_refund_no> */
static void sim__journal(sim_server *sv, char kind, bool alipay, const char *txn, const char *no, int64_t fen,
                         const char *refund_id, const char *out_refund_no)
{
    char path[1024], line[512];
    snprintf(path, sizeof path, "%s/processed.tsv", sv->dir);
    int n = kind == 'P' ? snprintf(line, sizeof line, "P\t%s\t%lld\t%s\t%s\t%lld\n", alipay ? "alipay" : "wechat",
                                   (long long)time(NULL), txn, no, (long long)fen)
                        : snprintf(line, sizeof line, "R\t%s\t%lld\t%s\t%s\t%lld\t%s\t%s\n", alipay ? "alipay" : "wechat",
                                   (long long)time(NULL), txn, no, (long long)fen, refund_id[0] ? refund_id : "-",
                                   out_refund_no);
    FILE *f = n > 0 && (size_t)n < sizeof line ? fopen(path, "a") : NULL;
    if (!f || fputs(line, f) < 0)
        fprintf(stderr, "paysim: cannot append to %s\n", path);
    if (f)
        fclose(f);
}

static volatile sig_atomic_t sim__stop;
static void sim__on_signal(int sig)
{
    (void)sig;
    sim__stop = 1;
}

/* Answers with body signed as WeChat signs API answers (Wechatpay-* headers). */
static int sim__signed(sim_server *sv, wk_http_resp *resp, int status, const char *body)
{
    char nonce[33], ts[24], sig[512];
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    uint8_t r[32];
    if (RAND_bytes(r, sizeof r) != 1)
        return -1;
    for (int i = 0; i < 32; i++)
        nonce[i] = abc[r[i] % (sizeof abc - 1)];
    nonce[32] = 0;
    snprintf(ts, sizeof ts, "%lld", (long long)time(NULL));
    size_t cap = strlen(body) + 128;
    char *msg = wk_malloc(cap);
    if (!msg)
        return -1;
    int ml = snprintf(msg, cap, "%s\n%s\n%s\n", ts, nonce, body);
    wk_diag d;
    wk_err e = wk_pay_rsa_sign(sv->platform, msg, (size_t)ml, sig, sizeof sig, &d);
    wk_free(msg);
    if (e || wk_http_resp_header(resp, "Wechatpay-Timestamp", ts) || wk_http_resp_header(resp, "Wechatpay-Nonce", nonce) ||
        wk_http_resp_header(resp, "Wechatpay-Signature", sig) ||
        wk_http_resp_header(resp, "Wechatpay-Serial", SIM_PUBKEY_ID))
        return -1;
    return wk_http_resp_json(resp, status, body) ? -1 : 0;
}

/* Checks the merchant's Authorization header over "METHOD\npath?query\nts\nnonce\nbody\n". */
static bool sim__merchant_ok(sim_server *sv, const char *auth, const char *method, const char *path_query,
                             const char *body)
{
    if (!auth || strncmp(auth, "WECHATPAY2-SHA256-RSA2048 ", 26))
        return false;
    char nonce[72] = "", sig[700] = "", ts[32] = "";
    const char *keys[] = {"nonce_str=\"", "signature=\"", "timestamp=\""};
    char *outs[] = {nonce, sig, ts};
    size_t caps[] = {sizeof nonce, sizeof sig, sizeof ts};
    for (int i = 0; i < 3; i++) {
        const char *p = strstr(auth, keys[i]);
        const char *q = p ? strchr(p + strlen(keys[i]), '"') : NULL;
        if (!q)
            return false;
        p += strlen(keys[i]);
        snprintf(outs[i], caps[i], "%.*s", (int)(q - p), p);
    }
    char msg[4096];
    int ml = snprintf(msg, sizeof msg, "%s\n%s\n%s\n%s\n%s\n", method, path_query, ts, nonce, body);
    if (ml < 0 || (size_t)ml >= sizeof msg)
        return false;
    wk_diag d;
    return wk_pay_rsa_verify(sv->merchant, msg, (size_t)ml, sig, strlen(sig), &d) == WK_OK;
}

/* GET /v3/pay/transactions/out-trade-no/{no}?mchid=... */
static int sim__query(wk_http_req *req, wk_http_resp *resp, void *ctx)
{
    sim_server *sv = ctx;
    const char *no = wk_http_req_path_rest(req), *mchid = wk_http_req_query(req, "mchid");
    char pq[512];
    snprintf(pq, sizeof pq, "%s?mchid=%s", wk_http_req_path(req), mchid ? mchid : "");
    if (!sim__merchant_ok(sv, wk_http_req_header(req, "Authorization"), "GET", pq, ""))
        return sim__signed(sv, resp, 401, "{\"code\":\"SIGN_ERROR\",\"message\":\"bad merchant signature\"}");
    if (!mchid || strcmp(mchid, SIM_MCHID))
        return sim__signed(sv, resp, 400, "{\"code\":\"PARAM_ERROR\",\"message\":\"mchid\"}");
    wk_pay_payment p = {.channel = WK_PAY_WECHAT};
    bool paid = false;
    bool known = false;
    pthread_mutex_lock(&sv->mu);
    sim_order *o = sim__find(sv, no);
    if (o) {
        known = true;
        paid = o->txn[0] != 0;
        snprintf(p.txn_id, sizeof p.txn_id, "%s", o->txn);
        p.amount_fen = o->amount_fen;
    }
    pthread_mutex_unlock(&sv->mu);
    if (!known)
        return sim__signed(sv, resp, 404, "{\"code\":\"ORDER_NOT_EXIST\",\"message\":\"order does not exist\"}");
    snprintf(p.out_trade_no, sizeof p.out_trade_no, "%s", no);
    wk_pay_wechat_cfg c = {0};
    snprintf(c.mchid, sizeof c.mchid, SIM_MCHID);
    snprintf(c.appid, sizeof c.appid, SIM_APPID);
    char json[1024];
    if (wk_pay_wechat_transaction_json(&c, &p, paid ? "SUCCESS" : "NOTPAY", json, sizeof json) < 0)
        return -1;
    return sim__signed(sv, resp, 200, json);
}

/* GET /sim/confirm?order=...&amount_fen=...: the page where the payer confirms. */
static int sim__confirm_page(wk_http_req *req, wk_http_resp *resp, void *ctx)
{
    sim_server *sv = ctx;
    const char *no = wk_http_req_query(req, "order"), *amount = wk_http_req_query(req, "amount_fen");
    int64_t fen;
    if (!no || !amount || wk_dec_parse_str(amount, 0, &fen, NULL) || fen <= 0 || strlen(no) >= WK_PAY_OUT_TRADE_NO_MAX)
        return wk_http_resp_error(resp, 400, "invalid", "order and amount_fen are required", NULL) ? -1 : 0;
    for (const char *q = no; *q; q++)
        if (!((*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z')))
            return wk_http_resp_error(resp, 400, "invalid", "order: letters and digits only", "order") ? -1 : 0;
    pthread_mutex_lock(&sv->mu);
    sim_order *o = sim__find(sv, no);
    bool alipay = o && o->alipay; /* an Alipay precreate: the payer pays with Alipay */
    pthread_mutex_unlock(&sv->mu);
    char page[2048];
    int n = snprintf(page, sizeof page,
                     "<!doctype html><html><head><meta charset=\"utf-8\"><title>paysim</title></head><body>"
                     "<p><b>SANDBOX</b> - wattkeeper paysim, not a real payment.</p>"
                     "<p>%s order %s: pay <b>%lld.%02lld</b> yuan?</p>"
                     "<form method=\"post\" action=\"/sim/pay\"><input type=\"hidden\" name=\"order\" value=\"%s\">"
                     "<input type=\"hidden\" name=\"amount_fen\" value=\"%lld\">"
                     "<input type=\"hidden\" name=\"channel\" value=\"%s\">"
                     "<button type=\"submit\">Confirm payment</button></form></body></html>",
                     alipay ? "Alipay" : "WeChat Pay", no, (long long)(fen / 100), (long long)(fen % 100), no,
                     (long long)fen, alipay ? "alipay" : "wechat");
    return wk_http_resp_body(resp, "text/html; charset=utf-8", page, (size_t)n) ? -1 : 0;
}

/* POST /sim/pay (form: order, amount_fen): the payer confirmed; notify unless dropped. */
static int sim__pay(wk_http_req *req, wk_http_resp *resp, void *ctx)
{
    sim_server *sv = ctx;
    size_t len;
    const char *body = wk_http_req_body(req, &len);
    wk_pay_form f;
    wk_diag d = {{0}};
    if (wk_pay_form_parse(body, len, &f, &d))
        return wk_http_resp_error(resp, 400, "invalid", d.msg, NULL) ? -1 : 0;
    const char *no = wk_pay_form_get(&f, "order"), *amount = wk_pay_form_get(&f, "amount_fen");
    bool drop = sv->drop_notify || wk_pay_form_get(&f, "drop_notify") != NULL; /* play a lost notification */
    const char *chs = wk_pay_form_get(&f, "channel");
    bool alipay = chs && !strcmp(chs, "alipay");
    int64_t fen;
    if (!no || !amount || wk_dec_parse_str(amount, 0, &fen, NULL) || fen <= 0 || strlen(no) >= WK_PAY_OUT_TRADE_NO_MAX) {
        wk_pay_form_free(&f);
        return wk_http_resp_error(resp, 400, "invalid", "order and amount_fen are required", NULL) ? -1 : 0;
    }
    wk_pay_payment p = {.channel = WK_PAY_WECHAT, .amount_fen = fen};
    snprintf(p.out_trade_no, sizeof p.out_trade_no, "%s", no);
    wk_pay_form_free(&f);
    char notify_url[600] = "";
    pthread_mutex_lock(&sv->mu);
    sim_order *o = sim__find(sv, p.out_trade_no);
    if (!o && sv->n < SIM_ORDERS_MAX) {
        o = &sv->orders[sv->n++];
        memset(o, 0, sizeof *o);
        snprintf(o->no, sizeof o->no, "%s", p.out_trade_no);
        o->amount_fen = fen;
    }
    if (o && !o->txn[0]) {
        alipay = alipay || o->alipay; /* an Alipay precreate stays an Alipay payment */
        o->alipay = alipay;
        if (alipay)
            snprintf(o->txn, sizeof o->txn, "2026000022001400%012lld", (long long)++sv->next_txn);
        else
            snprintf(o->txn, sizeof o->txn, "4200009900%018lld", (long long)++sv->next_txn);
        sim__journal(sv, 'P', alipay, o->txn, o->no, o->amount_fen, NULL, NULL);
    }
    if (o) {
        alipay = o->alipay;
        snprintf(p.txn_id, sizeof p.txn_id, "%s", o->txn);
        p.amount_fen = o->amount_fen; /* what the prepay asked for */
        snprintf(notify_url, sizeof notify_url, "%s", o->notify_url);
    }
    pthread_mutex_unlock(&sv->mu);
    if (!p.txn_id[0])
        return wk_http_resp_error(resp, 503, "full", "paysim remembers at most 4096 orders", NULL) ? -1 : 0;
    if (!notify_url[0] && sv->notify_url)
        snprintf(notify_url, sizeof notify_url, "%s", sv->notify_url);
    const char *result = "not sent (--drop-notify)";
    p.channel = alipay ? WK_PAY_ALIPAY : WK_PAY_WECHAT;
    for (int attempt = 0; notify_url[0] && !drop && attempt < 3; attempt++) {
        static char nb[WK_PAY_BODY_MAX]; /* one confirmation at a time: under sv->mu below */
        char hdr[6][600];
        int nh = 0;
        if (attempt)
            sleep(1); /* WeChat waits 15 s; the sandbox is quicker */
        result = "not acknowledged";
        pthread_mutex_lock(&sv->mu);
        int built = sim__build(sv->dir, p.channel, &p, alipay ? "TRADE_SUCCESS" : "SUCCESS", nb, sizeof nb,
                               hdr, &nh);
        CURL *c = built ? NULL : curl_easy_init();
        struct curl_slist *h = NULL;
        for (int j = 0; c && j < nh; j++)
            h = curl_slist_append(h, hdr[j]);
        sim_resp r = {.n = 0};
        long status = 0;
        if (c) {
            curl_easy_setopt(c, CURLOPT_URL, notify_url);
            curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, nb);
            curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sim__write);
            curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
            curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
            curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
            if (curl_easy_perform(c) == CURLE_OK)
                curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        }
        curl_slist_free_all(h);
        curl_easy_cleanup(c);
        pthread_mutex_unlock(&sv->mu);
        /* WeChat acknowledges with 200/204, Alipay with the body "success" */
        if (alipay ? status == 200 && !strcmp(r.buf, "success") : status == 200 || status == 204) {
            result = "acknowledged";
            break;
        }
    }
    char out[256];
    snprintf(out, sizeof out, "{\"out_trade_no\":\"%s\",\"transaction_id\":\"%s\",\"notification\":\"%s\"}",
             p.out_trade_no, p.txn_id, result);
    return wk_http_resp_json(resp, 200, out) ? -1 : 0;
}

/* POST /v3/pay/transactions/native: the merchant's prepay; answers a code_url that opens
 * the confirm page. */
static int sim__prepay(wk_http_req *req, wk_http_resp *resp, void *ctx)
{
    sim_server *sv = ctx;
    size_t len;
    const char *body = wk_http_req_body(req, &len);
    if (!sim__merchant_ok(sv, wk_http_req_header(req, "Authorization"), "POST", wk_http_req_path(req), body))
        return sim__signed(sv, resp, 401, "{\"code\":\"SIGN_ERROR\",\"message\":\"bad merchant signature\"}");
    json_error_t je;
    json_t *j = json_loadb(body, len, 0, &je);
    const char *no = json_string_value(json_object_get(j, "out_trade_no")),
               *mchid = json_string_value(json_object_get(j, "mchid")),
               *appid = json_string_value(json_object_get(j, "appid")),
               *url = json_string_value(json_object_get(j, "notify_url"));
    json_t *total = json_object_get(json_object_get(j, "amount"), "total");
    int rc;
    if (!no || !url || !mchid || !appid || strcmp(mchid, SIM_MCHID) || strcmp(appid, SIM_APPID) ||
        !json_is_integer(total) || json_integer_value(total) <= 0 || strlen(no) >= WK_PAY_OUT_TRADE_NO_MAX ||
        strlen(url) >= sizeof sv->orders[0].notify_url) {
        rc = sim__signed(sv, resp, 400, "{\"code\":\"PARAM_ERROR\",\"message\":\"bad prepay request\"}");
    } else {
        int64_t fen = json_integer_value(total);
        pthread_mutex_lock(&sv->mu);
        sim_order *o = sim__find(sv, no);
        if (!o && sv->n < SIM_ORDERS_MAX) {
            o = &sv->orders[sv->n++];
            memset(o, 0, sizeof *o);
            snprintf(o->no, sizeof o->no, "%s", no);
        }
        if (o && !o->txn[0]) {
            o->amount_fen = fen;
            snprintf(o->notify_url, sizeof o->notify_url, "%s", url);
        }
        pthread_mutex_unlock(&sv->mu);
        char out[400];
        snprintf(out, sizeof out, "{\"code_url\":\"http://127.0.0.1:%d/sim/confirm?order=%s&amount_fen=%lld\"}", sv->port,
                 no, (long long)fen);
        rc = o ? sim__signed(sv, resp, 200, out)
               : sim__signed(sv, resp, 503, "{\"code\":\"SYSTEM_ERROR\",\"message\":\"full\"}");
    }
    json_decref(j);
    return rc;
}

/* Accepts a refund of order no (sv->mu held): an earlier refund with out_refund_no is
 * answered again (the channels deduplicate by it; a different order or amount is a
 * conflict: NULL with *why), the order must be paid through the channel and the amount fit
 * what is left of it. */
static sim_refund *sim__refund(sim_server *sv, bool alipay, const char *no, const char *out_refund_no,
                               int64_t amount_fen, const char **why)
{
    int64_t refunded = 0;
    for (size_t i = 0; i < sv->n_refunds; i++) {
        sim_refund *r = &sv->refunds[i];
        if (r->alipay == alipay && !strcmp(r->out_refund_no, out_refund_no)) {
            if (strcmp(r->no, no) || r->amount_fen != amount_fen) {
                *why = "out_refund_no used for another refund";
                return NULL;
            }
            return r;
        }
        if (!strcmp(r->no, no))
            refunded += r->amount_fen;
    }
    sim_order *o = sim__find(sv, no);
    if (!o || !o->txn[0] || o->alipay != alipay) {
        *why = "order not paid";
        return NULL;
    }
    if (amount_fen <= 0 || amount_fen > o->amount_fen - refunded) {
        *why = "refund amount exceeds what is left";
        return NULL;
    }
    if (sv->n_refunds >= SIM_REFUNDS_MAX || strlen(out_refund_no) >= WK_PAY_ID_MAX) {
        *why = "full";
        return NULL;
    }
    sim_refund *r = &sv->refunds[sv->n_refunds++];
    memset(r, 0, sizeof *r);
    snprintf(r->out_refund_no, sizeof r->out_refund_no, "%s", out_refund_no);
    snprintf(r->no, sizeof r->no, "%s", no);
    if (!alipay)
        snprintf(r->refund_id, sizeof r->refund_id, "5030000000%018lld", (long long)++sv->next_refund);
    r->amount_fen = amount_fen;
    r->at_s = (int64_t)time(NULL);
    r->alipay = alipay;
    sim__journal(sv, 'R', alipay, o->txn, no, amount_fen, r->refund_id, out_refund_no);
    return r;
}

/* POST /v3/refund/domestic/refunds: the merchant's refund request, answered SUCCESS. */
static int sim__wechat_refund(wk_http_req *req, wk_http_resp *resp, void *ctx)
{
    sim_server *sv = ctx;
    size_t len;
    const char *body = wk_http_req_body(req, &len);
    if (!sim__merchant_ok(sv, wk_http_req_header(req, "Authorization"), "POST", wk_http_req_path(req), body))
        return sim__signed(sv, resp, 401, "{\"code\":\"SIGN_ERROR\",\"message\":\"bad merchant signature\"}");
    json_error_t je;
    json_t *j = json_loadb(body, len, 0, &je);
    const char *no = json_string_value(json_object_get(j, "out_trade_no")),
               *orn = json_string_value(json_object_get(j, "out_refund_no")),
               *cur = json_string_value(json_object_get(json_object_get(j, "amount"), "currency"));
    json_t *amt = json_object_get(json_object_get(j, "amount"), "refund"),
           *total = json_object_get(json_object_get(j, "amount"), "total");
    int rc;
    if (!no || !orn || !json_is_integer(amt) || !json_is_integer(total) || !cur || strcmp(cur, "CNY")) {
        rc = sim__signed(sv, resp, 400, "{\"code\":\"PARAM_ERROR\",\"message\":\"bad refund request\"}");
    } else {
        const char *why = NULL;
        char out[1024];
        pthread_mutex_lock(&sv->mu);
        sim_order *o = sim__find(sv, no);
        sim_refund *r = o && o->amount_fen != json_integer_value(total)
                            ? NULL
                            : sim__refund(sv, false, no, orn, json_integer_value(amt), &why);
        if (r)
            snprintf(out, sizeof out,
                     "{\"refund_id\":\"%s\",\"out_refund_no\":\"%s\",\"transaction_id\":\"%s\",\"out_trade_no\":\"%s\","
                     "\"channel\":\"ORIGINAL\",\"user_received_account\":\"\u652f\u4ed8\u7528\u6237\u96f6\u94b1\","
                     "\"status\":\"SUCCESS\",\"amount\":{\"total\":%lld,\"refund\":%lld,\"payer_total\":%lld,"
                     "\"payer_refund\":%lld,\"settlement_refund\":%lld,\"settlement_total\":%lld,"
                     "\"discount_refund\":0,\"currency\":\"CNY\"}}",
                     r->refund_id, r->out_refund_no, o->txn, r->no, (long long)o->amount_fen, (long long)r->amount_fen,
                     (long long)o->amount_fen, (long long)r->amount_fen, (long long)r->amount_fen,
                     (long long)o->amount_fen);
        else
            snprintf(out, sizeof out, "{\"code\":\"%s\",\"message\":\"%s\"}",
                     !o ? "RESOURCE_NOT_EXISTS" : "INVALID_REQUEST", why ? why : "amount.total differs");
        pthread_mutex_unlock(&sv->mu);
        rc = sim__signed(sv, resp, r ? 200 : !o ? 404 : 400, out);
    }
    json_decref(j);
    return rc;
}

/* Answers Alipay-style: {"<method>_response": {...}, "sign": RSA2 over the exact object}. */
static int sim__alipay_answer_as(sim_server *sv, wk_http_resp *resp, const char *member, const char *inner)
{
    char sig[512], out[2048];
    wk_diag d;
    if (wk_pay_rsa_sign(sv->alipay, inner, strlen(inner), sig, sizeof sig, &d))
        return -1;
    snprintf(out, sizeof out, "{\"%s\":%s,\"sign\":\"%s\"}", member, inner, sig);
    return wk_http_resp_json(resp, 200, out) ? -1 : 0;
}

static int sim__alipay_answer(sim_server *sv, wk_http_resp *resp, const char *inner)
{
    return sim__alipay_answer_as(sv, resp, "alipay_trade_query_response", inner);
}

/* alipay.trade.refund with biz_content j: the refund answered like Alipay. */
static int sim__alipay_refund(sim_server *sv, wk_http_resp *resp, json_t *j)
{
    const char *no = json_string_value(json_object_get(j, "out_trade_no")),
               *orn = json_string_value(json_object_get(j, "out_request_no")),
               *amt = json_string_value(json_object_get(j, "refund_amount"));
    int64_t fen = 0;
    char inner[1024];
    if (!no || !amt || wk_dec_parse_str(amt, 2, &fen, NULL) || fen <= 0)
        return sim__alipay_answer_as(sv, resp, "alipay_trade_refund_response",
                                     "{\"code\":\"40002\",\"msg\":\"Invalid Arguments\"}");
    const char *why = NULL;
    pthread_mutex_lock(&sv->mu);
    sim_refund *r = sim__refund(sv, true, no, orn ? orn : no, fen, &why);
    sim_order *o = sim__find(sv, no);
    if (r) {
        int64_t total = 0;
        for (size_t i = 0; i < sv->n_refunds; i++)
            if (sv->refunds[i].alipay && !strcmp(sv->refunds[i].no, no))
                total += sv->refunds[i].amount_fen;
        snprintf(inner, sizeof inner,
                 "{\"code\":\"10000\",\"msg\":\"Success\",\"trade_no\":\"%s\",\"out_trade_no\":\"%s\","
                 "\"buyer_logon_id\":\"159****5620\",\"fund_change\":\"Y\",\"refund_fee\":\"%lld.%02lld\"}",
                 o->txn, no, (long long)(total / 100), (long long)(total % 100));
    } else {
        snprintf(inner, sizeof inner,
                 "{\"code\":\"40004\",\"msg\":\"Business Failed\",\"sub_code\":\"%s\",\"sub_msg\":\"%s\"}",
                 !o ? "ACQ.TRADE_NOT_EXIST" : "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", why ? why : "");
    }
    pthread_mutex_unlock(&sv->mu);
    return sim__alipay_answer_as(sv, resp, "alipay_trade_refund_response", inner);
}

/* POST /gateway.do: alipay.trade.query, the app's RSA2 request signature checked. */
static int sim__gateway(wk_http_req *req, wk_http_resp *resp, void *ctx)
{
    sim_server *sv = ctx;
    size_t len;
    const char *body = wk_http_req_body(req, &len);
    wk_pay_form f;
    wk_diag d = {{0}};
    if (wk_pay_form_parse(body, len, &f, &d))
        return sim__alipay_answer(sv, resp, "{\"code\":\"40002\",\"msg\":\"Invalid Arguments\"}");
    char s[4096];
    size_t n;
    const char *sign = wk_pay_form_get(&f, "sign"), *method = wk_pay_form_get(&f, "method"),
               *app = wk_pay_form_get(&f, "app_id"), *biz = wk_pay_form_get(&f, "biz_content");
    int rc;
    if (!sign || wk_pay_alipay_sign_string(&f, true, s, sizeof s, &n, &d) ||
        wk_pay_rsa_verify(sv->alipay_app, s, n, sign, strlen(sign), &d)) {
        rc = sim__alipay_answer(sv, resp, "{\"code\":\"40002\",\"msg\":\"Invalid Arguments\",\"sub_code\":"
                                          "\"isv.invalid-signature\"}");
    } else if (method && !strcmp(method, "alipay.trade.precreate") && app && !strcmp(app, SIM_ALIPAY_APP) && biz) {
        json_error_t je;
        json_t *j = json_loads(biz, 0, &je);
        const char *no = json_string_value(json_object_get(j, "out_trade_no")),
                   *amt = json_string_value(json_object_get(j, "total_amount")),
                   *url = wk_pay_form_get(&f, "notify_url");
        int64_t fen = 0;
        char inner[1024];
        sim_order *o = NULL;
        if (no && amt && !wk_dec_parse_str(amt, 2, &fen, NULL) && fen > 0 && strlen(no) < WK_PAY_OUT_TRADE_NO_MAX &&
            (!url || strlen(url) < sizeof sv->orders[0].notify_url)) {
            pthread_mutex_lock(&sv->mu);
            o = sim__find(sv, no);
            if (!o && sv->n < SIM_ORDERS_MAX) {
                o = &sv->orders[sv->n++];
                memset(o, 0, sizeof *o);
                snprintf(o->no, sizeof o->no, "%s", no);
            }
            if (o && !o->txn[0]) {
                o->amount_fen = fen;
                o->alipay = true;
                snprintf(o->notify_url, sizeof o->notify_url, "%s", url ? url : "");
            }
            pthread_mutex_unlock(&sv->mu);
        }
        if (o)
            snprintf(inner, sizeof inner,
                     "{\"code\":\"10000\",\"msg\":\"Success\",\"out_trade_no\":\"%s\",\"qr_code\":"
                     "\"http://127.0.0.1:%d/sim/confirm?order=%s&amount_fen=%lld\"}",
                     no, sv->port, no, (long long)fen);
        else
            snprintf(inner, sizeof inner, "{\"code\":\"40002\",\"msg\":\"Invalid Arguments\"}");
        json_decref(j);
        rc = sim__alipay_answer_as(sv, resp, "alipay_trade_precreate_response", inner);
    } else if (method && !strcmp(method, "alipay.trade.refund") && app && !strcmp(app, SIM_ALIPAY_APP) && biz) {
        json_error_t je;
        json_t *j = json_loads(biz, 0, &je);
        rc = sim__alipay_refund(sv, resp, j);
        json_decref(j);
    } else if (!method || strcmp(method, "alipay.trade.query") || !app || strcmp(app, SIM_ALIPAY_APP) || !biz) {
        rc = sim__alipay_answer(sv, resp, "{\"code\":\"40002\",\"msg\":\"Invalid Arguments\"}");
    } else {
        json_error_t je;
        json_t *j = json_loads(biz, 0, &je);
        const char *no = json_string_value(json_object_get(j, "out_trade_no"));
        char inner[1024];
        pthread_mutex_lock(&sv->mu);
        sim_order *o = no ? sim__find(sv, no) : NULL;
        if (o && o->alipay && o->txn[0])
            snprintf(inner, sizeof inner,
                     "{\"code\":\"10000\",\"msg\":\"Success\",\"trade_no\":\"%s\",\"out_trade_no\":\"%s\","
                     "\"trade_status\":\"TRADE_SUCCESS\",\"total_amount\":\"%lld.%02lld\"}",
                     o->txn, o->no, (long long)(o->amount_fen / 100), (long long)(o->amount_fen % 100));
        else
            snprintf(inner, sizeof inner,
                     "{\"code\":\"40004\",\"msg\":\"Business Failed\",\"sub_code\":\"ACQ.TRADE_NOT_EXIST\"}");
        pthread_mutex_unlock(&sv->mu);
        json_decref(j);
        rc = sim__alipay_answer(sv, resp, inner);
    }
    wk_pay_form_free(&f);
    return rc;
}

static int sim__serve(wk_opt *o, size_t n)
{
    static sim_server sv;
    sv.dir = wk_args_get(o, n, "dir");
    sv.notify_url = wk_args_get(o, n, "notify-url");
    sv.drop_notify = wk_args_get(o, n, "drop-notify") != NULL;
    const char *port_s = wk_args_get(o, n, "port");
    int64_t port = 0;
    if (!sv.dir || (port_s && (wk_dec_parse_str(port_s, 0, &port, NULL) || port < 0 || port > 65535))) {
        fputs("wattkeeper paysim serve: needs --dir DIR [--port N] [--notify-url URL] [--drop-notify]\n", stderr);
        return 2;
    }
    char path[1024];
    wk_diag d = {{0}};
    snprintf(path, sizeof path, "%s/wechat-private.pem", sv.dir);
    if (wk_pay_privkey_load(path, &sv.platform, &d)) {
        fprintf(stderr, "wattkeeper paysim: %s (run paysim keys first)\n", d.msg);
        return 1;
    }
    snprintf(path, sizeof path, "%s/merchant-public.pem", sv.dir);
    if (wk_pay_pubkey_load(path, &sv.merchant, NULL, 0, &d)) {
        fprintf(stderr, "wattkeeper paysim: %s\n", d.msg);
        wk_pay_privkey_free(sv.platform);
        return 1;
    }
    snprintf(path, sizeof path, "%s/alipay-private.pem", sv.dir);
    wk_err e1 = wk_pay_privkey_load(path, &sv.alipay, &d);
    snprintf(path, sizeof path, "%s/alipay-app-public.pem", sv.dir);
    if (e1 || wk_pay_pubkey_load(path, &sv.alipay_app, NULL, 0, &d)) {
        fprintf(stderr, "wattkeeper paysim: %s\n", d.msg);
        wk_pay_privkey_free(sv.platform);
        wk_pay_privkey_free(sv.alipay);
        wk_pay_pubkey_free(sv.merchant);
        return 1;
    }
    pthread_mutex_init(&sv.mu, NULL);
    wk_http_opts ho = wk_http_opts_default();
    ho.host = "127.0.0.1";
    ho.port = (uint16_t)port;
    const wk_http_route routes[] = {
        {"GET", "/v3/pay/transactions/out-trade-no/*", sim__query, &sv, 0, "query"},
        {"GET", "/sim/confirm", sim__confirm_page, &sv, 0, "confirm"},
        {"POST", "/sim/pay", sim__pay, &sv, 4096, "pay"},
        {"POST", "/v3/pay/transactions/native", sim__prepay, &sv, 8192, "prepay"},
        {"POST", "/gateway.do", sim__gateway, &sv, 8192, "alipay gateway"},
        {"POST", "/v3/refund/domestic/refunds", sim__wechat_refund, &sv, 8192, "refund"},
    };
    wk_http *h = NULL;
    int rc = 1;
    if (wk_http_start(&ho, routes, sizeof routes / sizeof routes[0], &h, &d)) {
        fprintf(stderr, "wattkeeper paysim: %s\n", d.msg);
        goto done;
    }
    sv.port = wk_http_port(h);
    printf("paysim (SANDBOX, not a payment channel) http://127.0.0.1:%d/\n", sv.port);
    fflush(stdout);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = sim__on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    while (!sim__stop)
        usleep(100000);
    rc = 0;
done:
    wk_http_stop(h);
    wk_pay_privkey_free(sv.platform);
    wk_pay_pubkey_free(sv.merchant);
    wk_pay_privkey_free(sv.alipay);
    wk_pay_pubkey_free(sv.alipay_app);
    pthread_mutex_destroy(&sv.mu);
    return rc;
}

/* ---- paysim bill: the daily bill files of what paysim serve processed ---- */

typedef struct sim_bill {
    char *buf; /* wk_malloc'd, UTF-8 */
    size_t n, cap;
    bool overflow;
} sim_bill;

static void sim__bprintf(sim_bill *b, const char *fmt, ...) WK_PRINTF(2, 3);
static void sim__bprintf(sim_bill *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = b->overflow ? -1 : vsnprintf(b->buf + b->n, b->cap - b->n, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= b->cap - b->n)
        b->overflow = true;
    else
        b->n += (size_t)n;
}

/* "12.34" / "-0.50" for fen. */
static const char *sim__yuan(int64_t fen, char *buf, size_t cap)
{
    int64_t a = fen < 0 ? -fen : fen;
    snprintf(buf, cap, "%s%lld.%02lld", fen < 0 ? "-" : "", (long long)(a / 100), (long long)(a % 100));
    return buf;
}

static int sim__bill(wk_opt *o, size_t n)
{
    const char *dir = wk_args_get(o, n, "dir"), *chs = wk_args_get(o, n, "channel"),
               *date = wk_args_get(o, n, "date"), *out = wk_args_get(o, n, "out");
    wk_pay_channel ch;
    int64_t day;
    wk_diag d = {{0}};
    if (!dir || !out || !date || wk_pay_channel_parse(chs, &ch, &d) || wk_date_parse(date, strlen(date), &day, &d)) {
        fputs("wattkeeper paysim bill: needs --dir DIR --channel wechat|alipay --date YYYY-MM-DD --out FILE\n", stderr);
        return 2;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/processed.tsv", dir);
    FILE *in = fopen(path, "r");
    sim_bill b = {.cap = 4u << 20};
    b.buf = wk_malloc(b.cap);
    if (!b.buf) {
        if (in)
            fclose(in);
        return 1;
    }
    b.buf[0] = 0;
    const bool ali = ch == WK_PAY_ALIPAY;
    if (!ali) {
        sim__bprintf(&b, "\xef\xbb\xbf\xe4\xba\xa4\xe6\x98\x93\xe6\x97\xb6\xe9\x97\xb4"); /* BOM + 交易时间 */
        sim__bprintf(&b, ",公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,"
                         "货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,"
                         "商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注\r\n");
    } else {
        sim__bprintf(&b, "#支付宝业务明细查询\n#账号：[%s]\n#起始日期：[%s 00:00:00]   终止日期：[%s 23:59:59]\n"
                         "#-----------------------------------------业务明细列表----------------------------------------\n"
                         "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,"
                         "订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,"
                         "券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注\n",
                     SIM_ALIPAY_SELLER, date, date);
    }
    int64_t n_pay = 0, n_ref = 0, pay_fen = 0, ref_fen = 0;
    char line[512];
    while (in && fgets(line, sizeof line, in)) {
        char *f[8] = {0};
        size_t nf = 0;
        for (char *p = line; nf < 8;) {
            f[nf++] = p;
            char *t = strpbrk(p, "\t\n");
            if (!t)
                break;
            bool end = *t == '\n';
            *t = 0;
            if (end)
                break;
            p = t + 1;
        }
        int64_t ts, fen;
        bool refund = f[0] && !strcmp(f[0], "R");
        if (nf < (refund ? 8u : 6u) || strcmp(f[1], chs) || wk_dec_parse_str(f[2], 0, &ts, NULL) ||
            wk_dec_parse_str(f[5], 0, &fen, NULL))
            continue;
        int64_t local = ts + 8 * 3600, rday = local >= 0 ? local / 86400 : (local - 86399) / 86400;
        if (rday != day)
            continue;
        char iso[40], when[24], a[32];
        wk_time_format(ts, 8 * 3600, iso, sizeof iso);
        snprintf(when, sizeof when, "%.10s %.8s", iso, iso + 11);
        sim__yuan(refund ? -fen : fen, a, sizeof a);
        if (!ali && !refund)
            sim__bprintf(&b,
                         "`%s,`%s,`%s,`0,`,`%s,`%s,`oSandboxPayer,`NATIVE,`SUCCESS,`OTHERS,`CNY,`%s,`0.00,`0,`0,`0.00,"
                         "`0.00,`,`,`\xe7\x94\xb5\xe8\xb4\xb9,`,`0.00000,`0.60%%,`%s,`0.00,`\r\n",
                         when, SIM_APPID, SIM_MCHID, f[3], f[4], a, a);
        else if (!ali)
            sim__bprintf(&b,
                         "`%s,`%s,`%s,`0,`,`%s,`%s,`oSandboxPayer,`NATIVE,`REFUND,`OTHERS,`CNY,`0.00,`0.00,`%s,`%s,`%s,"
                         "`0.00,`ORIGINAL,`SUCCESS,`\xe7\x94\xb5\xe8\xb4\xb9,`,`0.00000,`0.60%%,`0.00,`%s,`\r\n",
                         when, SIM_APPID, SIM_MCHID, f[3], f[4], f[6], f[7], a + 1, a + 1);
        else
            sim__bprintf(&b, "%s\t,%s\t,%s,电费,%s,%s,,,,,buyer,%s,%s,0.00,0.00,0.00,0.00,0.00,,0.00,0.00,%s%s,0.00,0.00,\n",
                         f[3], f[4], refund ? "退款" : "交易", when, when, a, a, refund ? f[7] : "", refund ? "\t" : "");
        if (refund)
            n_ref++, ref_fen += fen;
        else
            n_pay++, pay_fen += fen;
    }
    if (in)
        fclose(in);
    char a1[32], a2[32];
    if (!ali) {
        sim__bprintf(&b, "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\r\n");
        sim__bprintf(&b, "`%lld,`%s,`%s,`0.00,`0.00000,`%s,`%s\r\n", (long long)(n_pay + n_ref),
                     sim__yuan(pay_fen, a1, sizeof a1), sim__yuan(ref_fen, a2, sizeof a2), a1, a2);
    } else {
        sim__bprintf(&b, "#-----------------------------------------业务明细列表结束------------------------------------\n"
                         "#交易合计：%lld笔，商家实收共%s元，商家优惠共0.00元\n",
                     (long long)n_pay, sim__yuan(pay_fen, a1, sizeof a1));
        sim__bprintf(&b, "#退款合计：%lld笔，商家实收退款共%s元，商家优惠退款共0.00元\n#导出时间：[%s 09:00:00]\n",
                     (long long)n_ref, sim__yuan(-ref_fen, a2, sizeof a2), date);
    }
    int rc = 1;
    char *gbk = NULL;
    const char *data = b.buf;
    size_t len = b.n;
    if (b.overflow) {
        fputs("wattkeeper paysim bill: more than 4 MiB of rows\n", stderr);
        goto done;
    }
    if (ali) { /* Alipay sends GBK */
        iconv_t cd = iconv_open("GB18030", "UTF-8");
        size_t cap = b.n * 2 + 16, left = cap, inl = b.n;
        gbk = cd != (iconv_t)-1 ? wk_malloc(cap) : NULL;
        char *ip = b.buf, *op = gbk;
        if (!gbk || iconv(cd, &ip, &inl, &op, &left) == (size_t)-1) {
            fputs("wattkeeper paysim bill: GBK conversion failed\n", stderr);
            if (cd != (iconv_t)-1)
                iconv_close(cd);
            goto done;
        }
        iconv_close(cd);
        data = gbk;
        len = cap - left;
    }
    FILE *w = fopen(out, "wb");
    if (!w || fwrite(data, 1, len, w) != len) {
        fprintf(stderr, "wattkeeper paysim bill: cannot write %s\n", out);
        if (w)
            fclose(w);
        goto done;
    }
    if (fclose(w) == 0) {
        printf("%s bill %s: %lld payments, %lld refunds -> %s\n", chs, date, (long long)n_pay, (long long)n_ref, out);
        rc = 0;
    }
done:
    wk_free(gbk);
    wk_free(b.buf);
    return rc;
}

int wk_cmd_paysim(int argc, char **argv)
{
    static const char usage[] =
        "usage: wattkeeper paysim keys --dir DIR\n"
        "       wattkeeper paysim notify --dir DIR --channel wechat|alipay --order OUT_TRADE_NO\n"
        "                        --amount-fen N --txn CHANNEL_TXN_ID [--state STATE]\n"
        "                        [--url URL [--attempts N] [--retry-ms MS]] [--out PREFIX]\n"
        "       wattkeeper paysim serve --dir DIR [--port N] [--notify-url URL] [--drop-notify]\n"
        "       wattkeeper paysim bill --dir DIR --channel wechat|alipay --date YYYY-MM-DD --out FILE\n";
    if (argc < 2 || !strcmp(argv[1], "--help")) {
        fputs(usage, argc < 2 ? stderr : stdout);
        if (argc >= 2)
            puts("A sandbox stand-in for WeChat Pay and Alipay (docs/payments.md): sandbox keys that\n"
                 "serve is configured to trust, and notifications signed the way the channels sign\n"
                 "them. Not a payment channel; production keys come from the merchant platforms.");
        return argc < 2 ? 2 : 0;
    }
    wk_opt o[] = {{"dir", true, NULL},      {"channel", true, NULL},  {"order", true, NULL},
                  {"amount-fen", true, NULL}, {"txn", true, NULL},    {"state", true, NULL},
                  {"url", true, NULL},      {"out", true, NULL},      {"attempts", true, NULL},
                  {"retry-ms", true, NULL}, {"port", true, NULL},      {"notify-url", true, NULL},
                  {"drop-notify", false, NULL}, {"date", true, NULL}};
    size_t n = sizeof o / sizeof o[0];
    wk_args a;
    if (!wk_args_parse("paysim", argc, argv, 2, o, n, &a) || a.n_pos) {
        fputs(usage, stderr);
        return 2;
    }
    if (!strcmp(argv[1], "keys")) {
        const char *dir = wk_args_get(o, n, "dir");
        if (!dir) {
            fputs(usage, stderr);
            return 2;
        }
        return sim__keys(dir);
    }
    if (!strcmp(argv[1], "notify"))
        return sim__notify(o, n);
    if (!strcmp(argv[1], "serve"))
        return sim__serve(o, n);
    if (!strcmp(argv[1], "bill"))
        return sim__bill(o, n);
    fputs(usage, stderr);
    return 2;
}
