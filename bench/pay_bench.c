/*
 * pay_bench.c - cost of the payment verifiers on this machine: WeChat authentication
 * (RSA-2048 verify over the signed message), resource decryption (AES-256-GCM + JSON) and
 * transaction checks; Alipay form parse + signing string + RSA2 verify; and the credit of
 * a verified payment (one SQLite transaction through the head-end, in memory). Uses the
 * sandbox signer for fresh, valid notifications. Prints one line per measurement.
 * usage: pay_bench [N]   (default 2000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "headend/headend.h"
#include "pay/pay.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static wk_err publish(void *ctx, const char *address, const uint8_t *frame, size_t len)
{
    (void)ctx, (void)address, (void)frame, (void)len;
    return WK_OK;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 2000;
    if (n <= 0 || n > 1000000)
        return 2;
    wk_diag d = {{0}};
    wk_pay_privkey *k;
    if (wk_pay_privkey_generate(&k, &d))
        return 1;
    char pem[] = "/tmp/wk-pay-bench-XXXXXX";
    int fd = mkstemp(pem);
    wk_pay_pubkey *pk = NULL;
    if (fd < 0 || wk_pay_privkey_save(k, NULL, pem, &d) || wk_pay_pubkey_load(pem, &pk, NULL, 0, &d))
        return 1;
    remove(pem);
    wk_pay_wechat_cfg c = {.n_keys = 1, .window_s = 300, .apiv3_key_len = 32};
    c.keys[0] = pk;
    snprintf(c.serials[0], sizeof c.serials[0], "PUB_KEY_ID_BENCH");
    memcpy(c.apiv3_key, "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb", 32);
    snprintf(c.mchid, sizeof c.mchid, "1900000109");
    snprintf(c.appid, sizeof c.appid, "wxd678efh567hg6787");
    wk_pay_payment p = {.channel = WK_PAY_WECHAT, .amount_fen = 5000};
    snprintf(p.txn_id, sizeof p.txn_id, "4200000000202401010000000001");
    snprintf(p.out_trade_no, sizeof p.out_trade_no, "WK0123456789");
    static char body[8192];
    char nonce[33], sig[512], ts[24];
    int64_t t0 = 1704081606;
    if (wk_pay_wechat_sign_notification(&c, k, &p, "SUCCESS", t0, body, sizeof body, nonce, sig, &d))
        return 1;
    snprintf(ts, sizeof ts, "%lld", (long long)t0);
    wk_pay_wechat_headers h = {.timestamp = ts, .nonce = nonce, .signature = sig, .serial = "PUB_KEY_ID_BENCH"};
    double a = now_s();
    for (long i = 0; i < n; i++)
        if (wk_pay_wechat_authenticate(&c, &h, body, strlen(body), t0, &d))
            return 1;
    double b = now_s();
    char ev[64], out[4096];
    size_t m;
    wk_pay_payment q;
    for (long i = 0; i < n; i++)
        if (wk_pay_wechat_decrypt(&c, body, strlen(body), ev, sizeof ev, out, sizeof out, &m, &d) ||
            wk_pay_wechat_transaction(&c, out, m, &q, &d))
            return 1;
    double e = now_s();
    printf("wechat authenticate (RSA-2048 verify): %.1f us/notification (%ld runs)\n", (b - a) / (double)n * 1e6, n);
    printf("wechat decrypt + transaction checks:   %.1f us/notification\n", (e - b) / (double)n * 1e6);
    wk_pay_alipay_cfg ac = {.key = pk};
    snprintf(ac.app_id, sizeof ac.app_id, "2021000000000001");
    snprintf(ac.seller_id, sizeof ac.seller_id, "2088000000000001");
    if (wk_pay_alipay_sign_notification(&ac, k, &p, "TRADE_SUCCESS", "2024-01-01 12:00:00", body, sizeof body, &d))
        return 1;
    a = now_s();
    for (long i = 0; i < n; i++) {
        wk_pay_form f;
        if (wk_pay_form_parse(body, strlen(body), &f, &d) || wk_pay_alipay_verify(&ac, &f, &q, &d))
            return 1;
        wk_pay_form_free(&f);
    }
    b = now_s();
    printf("alipay parse + sign string + RSA2:     %.1f us/notification\n", (b - a) / (double)n * 1e6);
    /* credits: one order + one payment each, SQLite in memory, head-end transaction */
    wk_store *st;
    wk_ledger *lg;
    wk_headend *hd;
    const wk_schema *schemas[] = {&wk_ledger_schema, &wk_headend_schema, &wk_pay_schema};
    wk_ledger_opts lo = {0};
    const char *src = getenv("WK_SOURCE_DIR");
    char tdir[1024];
    snprintf(tdir, sizeof tdir, "%s/examples/tariffs", src ? src : ".");
    wk_headend_opts o = {.tariff_dir = tdir, .report_interval_s = 60, .gap_intervals = 3, .offline_after_s = 600,
                         .command_deadline_s = 30, .command_retries = 3, .command_retry_base_ms = 2000,
                         .batch_max = 64, .policy = {.warn_fen = {2000, 500}, .hysteresis_fen = 300}};
    const char *seed =
        "{\"communities\": [{\"name\": \"L\", \"tariff\": \"zhejiang-residential-flat\", \"buildings\": [{\"name\": "
        "\"B\", \"units\": [{\"name\": \"U\", \"kind\": \"home\", \"meter\": {\"address\": \"330100000042\", "
        "\"close_mode\": \"direct\"}, \"account\": {\"holder\": \"h\", \"kind\": \"resident\", \"balance\": "
        "\"30.00\"}}]}]}]}";
    uint8_t master[32] = {1};
    int64_t ms = INT64_C(1764032400000);
    if (wk_store_open(":memory:", NULL, schemas, 3, &st, &d) || wk_ledger_open(st, &lo, NULL, &lg, &d) ||
        wk_headend_open(st, lg, &o, publish, NULL, &hd, &d) ||
        wk_headend_seed(hd, seed, strlen(seed), master, sizeof master, ms, &d)) {
        fprintf(stderr, "%s\n", d.msg);
        return 1;
    }
    wk_pay_limits lim = {1, 1000000, 3600000};
    long nc = n < 2000 ? n : 2000;
    double credit = 0, dup = 0;
    for (long i = 0; i < nc; i++) {
        wk_pay_order ord;
        bool dupl;
        if (wk_pay_order_create(st, 1, WK_PAY_WECHAT, 100, &lim, ms, &ord, &d))
            return 1;
        wk_pay_payment cp = {.channel = WK_PAY_WECHAT, .amount_fen = 100};
        snprintf(cp.txn_id, sizeof cp.txn_id, "42%026ld", i);
        snprintf(cp.out_trade_no, sizeof cp.out_trade_no, "%s", ord.out_trade_no);
        a = now_s();
        if (wk_pay_credit(hd, &cp, "notify", ms, &dupl, &d) || dupl)
            return 1;
        b = now_s();
        if (wk_pay_credit(hd, &cp, "notify", ms, &dupl, &d) || !dupl)
            return 1;
        credit += b - a;
        dup += now_s() - b;
    }
    printf("credit (SQLite :memory:, one txn):     %.1f us/payment (%ld payments)\n", credit / (double)nc * 1e6, nc);
    printf("duplicate delivery (lookup only):      %.1f us/duplicate\n", dup / (double)nc * 1e6);
    wk_headend_close(hd);
    wk_ledger_close(lg);
    wk_store_close(st);
    wk_pay_pubkey_free(pk);
    wk_pay_privkey_free(k);
    return 0;
}
