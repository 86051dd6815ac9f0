/*
 * verify_test.c - the notification verifiers against the reference's test vectors
 * (payments-ledger.md §1.7, §2.4: W1 WeChat SDK notification, W2/W3 AES-GCM, W4
 * TRANSACTION.SUCCESS, A1 Alipay payment notification, A2 gateway message) and every
 * rejection the issue lists: bad signature, wrong serial/key, timestamp outside the
 * window, probe signature, tampered body, wrong mchid/appid/app_id/seller, undecryptable
 * resource, non-paying trade states.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pay/pay.h"

/* wechatpay-go core/notify/notify_test.go: the SDK's self-signed test certificate */
static const char W_CERT[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIDVzCCAj+gAwIBAgIJANfOWdH1ItcBMA0GCSqGSIb3DQEBCwUAMEIxCzAJBgNV\n"
    "BAYTAlhYMRUwEwYDVQQHDAxEZWZhdWx0IENpdHkxHDAaBgNVBAoME0RlZmF1bHQg\n"
    "Q29tcGFueSBMdGQwHhcNMjEwNDI3MDg1NTIzWhcNMzEwNDI1MDg1NTIzWjBCMQsw\n"
    "CQYDVQQGEwJYWDEVMBMGA1UEBwwMRGVmYXVsdCBDaXR5MRwwGgYDVQQKDBNEZWZh\n"
    "dWx0IENvbXBhbnkgTHRkMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n"
    "2VCTd91fnUn73Xy9DLvt/V62TVxRTEEstVdeRaZ3B3leO0pldE806mXO4RwdHXag\n"
    "HQ4vGeZN0yqm++rDsGK+U3AH7kejyD2pXshNP9Cq5YwbptiLGtjcquw4HNxJQUOm\n"
    "DeJf2vg6byms9RUipiq4SzbJKqJFlUpbuIPDpSpWz10PYmyCNeDGUUK65E5h2B83\n"
    "4uxl1zNLYQCrkdBzb8oUxwYeP5a2DNxmjL5lsJML7DGr5znsevnoqGRwTm9fxCGf\n"
    "y8wus7hwKz6clt3Whmmda7UAdb1c08hEQFVRbF14AR73xbnd8N0obCWJPCbzMCtk\n"
    "aSef4FdEEgEXJiw0VAJT8wIDAQABo1AwTjAdBgNVHQ4EFgQUT1c7nd/SUO76HSoZ\n"
    "umNUJv1R5PwwHwYDVR0jBBgwFoAUT1c7nd/SUO76HSoZumNUJv1R5PwwDAYDVR0T\n"
    "BAUwAwEB/zANBgkqhkiG9w0BAQsFAAOCAQEAfTjxKRQMzNB/U6ZoCUS+BSNfa2Oh\n"
    "0plMN6ZuzwiVVZwg1jywvv5yv04koS7Pd4i9E4gt9ZBUQXlpq+A3oOCEEHNRR6b2\n"
    "kyazGRM7s0OP5X21WrbpSmKmU6K7hkfx30yYs08LVs/Q8DIhvaj1FCFeJzUCzYn/\n"
    "fHMq4tsbKO0dKAeydPM/nrUZBmaYQVKMVOORGLFjFKVO7JV6Kq/R86ouhjEPgJOe\n"
    "2xulNBUcjicqtZlBdEh/PWCYP2SpGVDclKm8jeo175T3EVAkdKzzmfpxtMmnMlmq\n"
    "cTJOU9TxuGvNASMtjj7pYIerTx+xgZDXEVBWFW9PjJ0TV06tCRsgSHItgg==\n"
    "-----END CERTIFICATE-----\n";

static const char W1_SIG[] =
    "tJHIiIS9eB2hAYstmAmbbD3ZE5LiIm/Ug5tuL4fC0YOFRWIHV39UFIZXC0e9Wl6lBu6sKvkqDkzpqzBsVHyXF"
    "lbYZTOQrVdG4b6LfTnK4mikv9++ixJMd3vTf2yCqvBkh98zs3Ds5zsYQakzbcwhmw4fMJs4nPLws28H0UW9FjDR//rxELLwXvV1VEA1I"
    "BLX70xptjL8hrfUjEE8kkry6yNJTHZRU8CAc7qHli2Ng1V1qb9ARbK8A3ThmFmPQvRGrapI/jS2laKKgYUmfdEdkNO6B2Cke5e8VTxY4"
    "06ArAmQ90GAihDwIcb16TQMnzCMBoutnwZKNiKRACrFmtxw2Q==";
static const char W1_BODY[] =
    "{\"id\":\"3119dfba-e649-5eec-ab1e-3412bc4d2e17\",\"create_time\":\"2021-06-24T16:37:26+08:00\","
    "\"resource_type\":\"encrypt-resource\",\"event_type\":\"PAYSCORE.USER_OPEN_SERVICE\",\"summary\":"
    "\"\xe7\xad\xbe\xe7\xba\xa6\xe6\x88\x90\xe5\x8a\x9f\",\"resource\":{\"original_type\":\"payscore\","
    "\"algorithm\":\"AEAD_AES_256_GCM\",\"ciphertext\":\"YDS3lKPaC4Y52Gf3uhft5qUBlIa8b428AWTtTauHQfQrRw+X1Wpi"
    "uHIDy0vo1Vd6VEq67aVyqPdDYMkRVSDaZL3iZttevRMOoPKMifozg6XPWjIZumks/GpT48lI4NizyeaqLBokNebthah3o1H76qSl"
    "O9NkDjp9bzmKLEYYH9TEklFUpsvPqOTOcgSLgh21YJXYR7dEBXFgRLiNIKRgO5JdXh1hccRUAlyVWxE54PXpnQ==\","
    "\"associated_data\":\"payscore\",\"nonce\":\"Kj7QIyUiYx1q\"}}";
static const char W1_PLAIN[] =
    "{\"mchid\":\"1234567890\",\"appid\":\"054aa7d7a2a54ab5898df65bd96f001c\",\"create_time\":"
    "\"2020-06-30T12:12:00+08:00\",\"out_contract_code\":\"21640bdbd08e473e828f3206a2741c6e\"}";

static const char W4_SIG[] =
    "H/xFnZWXIVTCSMTbSW0INEe95/F+mA08YYSlR/oliG60K8+fZia4F1HKqOkrDw+PUu35FE6VzWMY/+2qYn/HL20tGgAQyVSTCSeP"
    "xSbn79vVDXHywvo1eRDAmyKHaRYv0VBscdoVntd5rfE4FnnMpEqk441zVz05GtFAwvkFzDK7NRNV3LuPnpqGcoom7M0gVbGMaLYT"
    "lKkmIPZL8qvTIUd87kVQjnSOL1Nc0xgeg23AI7DmQdSrP4PoACDWfipll3h5O0TRQu9VlHetLKqc819o0Wxq0VgFn8wkWU1fzCtH"
    "5IHadCzV+V05BDXcsF3g8473c2XFhZV7DB0uVzbuaw==";
static const char W4_BODY[] =
    "{\"id\":\"EV-2024010112000500001\",\"create_time\":\"2024-01-01T12:00:06+08:00\",\"resource_type\":"
    "\"encrypt-resource\",\"event_type\":\"TRANSACTION.SUCCESS\",\"summary\":\"\xe6\x94\xaf\xe4\xbb\x98\xe6\x88\x90\xe5\x8a\x9f\","
    "\"resource\":{\"original_type\":\"transaction\",\"algorithm\":\"AEAD_AES_256_GCM\",\"ciphertext\":"
    "\"LYUKn3qlhLs+EMh+tyF3lJzj+CpOP4J2r7281BieiORPGu1SQya9roNCRpLrpmBBwyFr9bgF2Dcl6yFJZ+GPjRtz5DDt9XF+87+q"
    "36CD3CNPDxsI2eeRkKPIiLxfO6hiAhP8c6GRMQDAX6MvA10sqz/AMMo+mmXN7NWZp1Futnqgk6jVW9MWP9U5do1QC/53TccWUD2Y"
    "+npbfdwQywoGcsuYeHheE3hSdPMG8OAZVIq0kNv4x0FBR2KVdQc2AICowKo2PCTRsrkXqELKSwY8182jQ+8GYemYCSGqR27k2bOi"
    "G9b3Opx3EJSV8+x6aTQgIM/3riDeTv8sKEPnOJKLRGZ7fweznZnpc3T2dttM91Ps1wRXoVz2VO5HHK1V6uEBBgHg8A4RLCQjg2lN"
    "bP72oR7b7AAfZno88LQu3YECyRxe7WiKz/6u2FudjXamNtKvXBnczPP9/P9FZZQ3EAPWiW8oKMMqUjg3S2sgvMFGuym1gJqRc3UV"
    "yGhAAabyGCcUExYFTEthtusBEJbRfdKAUGdqpFkdn+uXZSeQn4eJLqZP6ysjEoQ5tpqdtj6NIkRxEQ/QzETClHzacU12RYt2aVwU"
    "Ukw=\",\"associated_data\":\"transaction\",\"nonce\":\"0123456789ab\"}}";
static const char W4_PLAIN[] =
    "{\"mchid\":\"1900000109\",\"appid\":\"wxd678efh567hg6787\",\"out_trade_no\":\"RC20240101000001\","
    "\"transaction_id\":\"4200000000202401010000000001\",\"trade_type\":\"JSAPI\",\"trade_state\":\"SUCCESS\","
    "\"trade_state_desc\":\"\xe6\x94\xaf\xe4\xbb\x98\xe6\x88\x90\xe5\x8a\x9f\",\"bank_type\":\"OTHERS\",\"attach\":"
    "\"meter=0001-2345\",\"success_time\":\"2024-01-01T12:00:05+08:00\",\"payer\":{\"openid\":"
    "\"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o\"},\"amount\":{\"total\":5000,\"payer_total\":5000,\"currency\":\"CNY\","
    "\"payer_currency\":\"CNY\"}}";

typedef struct wfx {
    wk_pay_wechat_cfg c;
    wk_pay_pubkey *cert;
} wfx;

static int wsetup(void **state)
{
    wfx *f = calloc(1, sizeof *f);
    wk_diag d;
    char serial[64];
    if (wk_pay_pubkey_parse(W_CERT, strlen(W_CERT), &f->cert, serial, sizeof serial, &d))
        fail_msg("cert: %s", d.msg);
    assert_string_equal(serial, "D7CE59D1F522D701"); /* BN_bn2hex of the serial */
    f->c.keys[0] = f->cert;
    snprintf(f->c.serials[0], sizeof f->c.serials[0], "%s", serial);
    f->c.n_keys = 1;
    f->c.window_s = 300;
    memcpy(f->c.apiv3_key, "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb", 32);
    f->c.apiv3_key_len = 32;
    snprintf(f->c.mchid, sizeof f->c.mchid, "1900000109");
    snprintf(f->c.appid, sizeof f->c.appid, "wxd678efh567hg6787");
    *state = f;
    return 0;
}

static int wteardown(void **state)
{
    wfx *f = *state;
    wk_pay_pubkey_free(f->cert);
    free(f);
    return 0;
}

static wk_err auth(wfx *f, const char *ts, const char *nonce, const char *sig, const char *serial,
                   const char *body, size_t len, int64_t now)
{
    wk_pay_wechat_headers h = {.timestamp = ts, .nonce = nonce, .signature = sig, .serial = serial};
    wk_diag d = {{0}};
    wk_err e = wk_pay_wechat_authenticate(&f->c, &h, body, len, now, &d);
    if (e)
        print_message("  rejected: %s\n", d.msg);
    return e;
}

static void test_w1_sdk_notification(void **state)
{
    wfx *f = *state;
    const char *ts = "1624523846", *nonce = "EcZ9Cmy4Xyx1i6RlJQzLcCyEqDa26NBz";
    assert_int_equal(strlen(W1_SIG), 344);
    assert_int_equal(auth(f, ts, nonce, W1_SIG, "D7CE59D1F522D701", W1_BODY, strlen(W1_BODY), 1624523846), WK_OK);
    /* the SDK vector's APIv3 key is 16 bytes: AES-128-GCM */
    wk_pay_wechat_cfg c = f->c;
    memcpy(c.apiv3_key, "testMchAPIv3Key0", 16);
    c.apiv3_key_len = 16;
    char ev[64], out[1024];
    size_t n;
    wk_diag d;
    assert_int_equal(wk_pay_wechat_decrypt(&c, W1_BODY, strlen(W1_BODY), ev, sizeof ev, out, sizeof out, &n, &d),
                     WK_OK);
    assert_string_equal(ev, "PAYSCORE.USER_OPEN_SERVICE");
    assert_int_equal(n, strlen(W1_PLAIN));
    assert_string_equal(out, W1_PLAIN);
    /* with the 32-byte key it does not decrypt */
    assert_int_equal(wk_pay_wechat_decrypt(&f->c, W1_BODY, strlen(W1_BODY), ev, sizeof ev, out, sizeof out, &n, &d),
                     WK_ECRYPTO);
}

static void test_w2_w3_aes_gcm(void **state)
{
    (void)state;
    const uint8_t *k2 = (const uint8_t *)"a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb";
    const char *ct2 = "ulwSiIajGClcvcOYvOQ7+l+0PAbzzwI=";
    char out[256];
    size_t n;
    wk_diag d;
    assert_int_equal(wk_pay_aes_gcm_decrypt(k2, 32, "uluk4a9R25RW", 12, "associatedData", 14, ct2, strlen(ct2),
                                            out, sizeof out, &n, &d),
                     WK_OK);
    assert_int_equal(n, 7);
    assert_string_equal(out, "message");
    /* W2 negatives: AAD, nonce, 128 zero bytes */
    assert_int_equal(wk_pay_aes_gcm_decrypt(k2, 32, "uluk4a9R25RW", 12, "bad-associatedData", 18, ct2,
                                            strlen(ct2), out, sizeof out, &n, &d),
                     WK_ECRYPTO);
    assert_int_equal(wk_pay_aes_gcm_decrypt(k2, 32, "bad-4a9R25RW", 12, "associatedData", 14, ct2, strlen(ct2),
                                            out, sizeof out, &n, &d),
                     WK_ECRYPTO);
    char zeros[200];
    uint8_t z[128] = {0};
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < sizeof z; i += 3) {
        uint32_t w = (uint32_t)z[i] << 16 | (i + 1 < sizeof z ? (uint32_t)z[i + 1] << 8 : 0) |
                     (i + 2 < sizeof z ? z[i + 2] : 0);
        zeros[o++] = b64[w >> 18 & 63];
        zeros[o++] = b64[w >> 12 & 63];
        zeros[o++] = i + 1 < sizeof z ? b64[w >> 6 & 63] : '=';
        zeros[o++] = i + 2 < sizeof z ? b64[w & 63] : '=';
    }
    assert_int_equal(wk_pay_aes_gcm_decrypt(k2, 32, "uluk4a9R25RW", 12, "associatedData", 14, zeros, o, out,
                                            sizeof out, &n, &d),
                     WK_ECRYPTO);
    /* W3: AES-128 util vector and its negatives */
    const char *ct3 = "FsdXzxryWfKwvLJKf8LG/ToRPTRh8RN9wROC";
    const char *aad3 = "Dl56FrqWQJF1t9LtC3vEUsniZKvbqdR8";
    assert_int_equal(wk_pay_aes_gcm_decrypt((const uint8_t *)"testAPIv3Key0000", 16, "wCq51qZv4Yfg", 12, aad3,
                                            strlen(aad3), ct3, strlen(ct3), out, sizeof out, &n, &d),
                     WK_OK);
    assert_string_equal(out, "Hello World");
    assert_int_equal(wk_pay_aes_gcm_decrypt((const uint8_t *)"testAPIv3Key1111", 16, "wCq51qZv4Yfg", 12, aad3,
                                            strlen(aad3), ct3, strlen(ct3), out, sizeof out, &n, &d),
                     WK_ECRYPTO);
    assert_int_equal(wk_pay_aes_gcm_decrypt((const uint8_t *)"not a aes key", 13, "wCq51qZv4Yfg", 12, aad3,
                                            strlen(aad3), ct3, strlen(ct3), out, sizeof out, &n, &d),
                     WK_ECRYPTO);
    assert_int_equal(wk_pay_aes_gcm_decrypt((const uint8_t *)"testAPIv3Key0000", 16, "wCq51qZv4Yfg", 12, aad3,
                                            strlen(aad3), "invalid cipher", 14, out, sizeof out, &n, &d),
                     WK_ECRYPTO);
    assert_int_equal(wk_pay_aes_gcm_decrypt((const uint8_t *)"testAPIv3Key0000", 16, "wCq51qZv4Yfg", 12, aad3,
                                            strlen(aad3), "SGVsbG8gV29ybGQK", 16, out, sizeof out, &n, &d),
                     WK_ECRYPTO);
}

static void test_w4_transaction_success(void **state)
{
    wfx *f = *state;
    const char *ts = "1704081606", *nonce = "5K8264ILTKCH16CQ2502SI8ZNMTM67VS";
    const int64_t now = 1704081606;
    assert_int_equal(strlen(W4_BODY), 917);
    wk_pay_wechat_headers h = {.timestamp = ts, .nonce = nonce, .signature = W4_SIG,
                               .serial = "D7CE59D1F522D701", .signature_type = "WECHATPAY2-SHA256-RSA2048"};
    wk_diag d = {{0}};
    assert_int_equal(wk_pay_wechat_authenticate(&f->c, &h, W4_BODY, strlen(W4_BODY), now, &d), WK_OK);
    /* 299 s of skew still passes, 300 and 301 do not (Go SDK: reject at >= 300) */
    assert_int_equal(auth(f, ts, nonce, W4_SIG, "D7CE59D1F522D701", W4_BODY, strlen(W4_BODY), now + 299), WK_OK);
    assert_int_equal(auth(f, ts, nonce, W4_SIG, "D7CE59D1F522D701", W4_BODY, strlen(W4_BODY), now + 300), WK_ERANGE);
    assert_int_equal(auth(f, ts, nonce, W4_SIG, "D7CE59D1F522D701", W4_BODY, strlen(W4_BODY), now - 301), WK_ERANGE);
    char ev[64], out[2048];
    size_t n;
    assert_int_equal(wk_pay_wechat_decrypt(&f->c, W4_BODY, strlen(W4_BODY), ev, sizeof ev, out, sizeof out, &n, &d),
                     WK_OK);
    assert_string_equal(ev, "TRANSACTION.SUCCESS");
    assert_string_equal(out, W4_PLAIN);
    wk_pay_payment p;
    assert_int_equal(wk_pay_wechat_transaction(&f->c, out, n, &p, &d), WK_OK);
    assert_string_equal(p.txn_id, "4200000000202401010000000001");
    assert_string_equal(p.out_trade_no, "RC20240101000001");
    assert_int_equal(p.amount_fen, 5000);
    assert_int_equal(p.channel, WK_PAY_WECHAT);
}

static void test_w4_rejections(void **state)
{
    wfx *f = *state;
    const char *ts = "1704081606", *nonce = "5K8264ILTKCH16CQ2502SI8ZNMTM67VS";
    const int64_t now = 1704081606;
    const char *ser = "D7CE59D1F522D701";
    size_t len = strlen(W4_BODY);
    char body[1024];
    /* tampered body: one more newline, re-serialised with a space, one byte changed */
    snprintf(body, sizeof body, "%s\n", W4_BODY);
    assert_int_equal(auth(f, ts, nonce, W4_SIG, ser, body, len + 1, now), WK_ECRYPTO);
    snprintf(body, sizeof body, "%s", W4_BODY);
    body[6] = ' ';
    assert_int_equal(auth(f, ts, nonce, W4_SIG, ser, body, len, now), WK_ECRYPTO);
    /* timestamp + 1 (inside the window, but signed) */
    assert_int_equal(auth(f, "1704081607", nonce, W4_SIG, ser, W4_BODY, len, now), WK_ECRYPTO);
    /* bad signature: one base64 character changed */
    char sig[400];
    snprintf(sig, sizeof sig, "%s", W4_SIG);
    sig[10] = sig[10] == 'A' ? 'B' : 'A';
    assert_int_equal(auth(f, ts, nonce, sig, ser, W4_BODY, len, now), WK_ECRYPTO);
    /* probe signature */
    assert_int_equal(auth(f, ts, nonce, "WECHATPAY/SIGNTEST/ZmFrZQ==", ser, W4_BODY, len, now), WK_ECRYPTO);
    /* unknown serial, and a known key id that did not sign */
    assert_int_equal(auth(f, ts, nonce, W4_SIG, "5157F09EFDC096DE15EBE81A47057A7232F1B8E1", W4_BODY, len, now),
                     WK_ECRYPTO);
    wk_pay_privkey *other;
    wk_diag d;
    assert_int_equal(wk_pay_privkey_generate(&other, &d), WK_OK);
    char pem[] = "/tmp/wk-pay-verify-XXXXXX";
    int fd = mkstemp(pem);
    assert_true(fd >= 0);
    assert_int_equal(wk_pay_privkey_save(other, NULL, pem, &d), WK_OK);
    wk_pay_pubkey *pk;
    assert_int_equal(wk_pay_pubkey_load(pem, &pk, NULL, 0, &d), WK_OK);
    unlink(pem);
    f->c.keys[1] = pk;
    snprintf(f->c.serials[1], sizeof f->c.serials[1], "PUB_KEY_ID_0000000000000024101100397200000006");
    f->c.n_keys = 2;
    assert_int_equal(auth(f, ts, nonce, W4_SIG, f->c.serials[1], W4_BODY, len, now), WK_ECRYPTO);
    /* the other key signs its own notification: accepted by serial, rejected under the cert's serial */
    wk_pay_payment p = {.channel = WK_PAY_WECHAT, .amount_fen = 5000};
    snprintf(p.txn_id, sizeof p.txn_id, "4200000000202401010000000002");
    snprintf(p.out_trade_no, sizeof p.out_trade_no, "RC20240101000002");
    char nb[4096], nn[33], ns[512], tsb[24];
    assert_int_equal(wk_pay_wechat_sign_notification(&f->c, other, &p, "SUCCESS", now, nb, sizeof nb, nn, ns, &d),
                     WK_OK);
    snprintf(tsb, sizeof tsb, "%lld", (long long)now);
    assert_int_equal(auth(f, tsb, nn, ns, f->c.serials[1], nb, strlen(nb), now), WK_OK);
    assert_int_equal(auth(f, tsb, nn, ns, ser, nb, strlen(nb), now), WK_ECRYPTO);
    /* missing headers, signature type */
    assert_int_equal(auth(f, NULL, nn, ns, f->c.serials[1], nb, strlen(nb), now), WK_EINVAL);
    assert_int_equal(auth(f, tsb, nn, NULL, f->c.serials[1], nb, strlen(nb), now), WK_EINVAL);
    wk_pay_wechat_headers h = {.timestamp = tsb, .nonce = nn, .signature = ns, .serial = f->c.serials[1],
                               .signature_type = "WECHATPAY2-SM2-WITH-SM3"};
    assert_int_equal(wk_pay_wechat_authenticate(&f->c, &h, nb, strlen(nb), now, &d), WK_ECRYPTO);
    /* decrypts and passes the business checks */
    char ev[64], out[2048];
    size_t n;
    wk_pay_payment q;
    assert_int_equal(wk_pay_wechat_decrypt(&f->c, nb, strlen(nb), ev, sizeof ev, out, sizeof out, &n, &d), WK_OK);
    assert_int_equal(wk_pay_wechat_transaction(&f->c, out, n, &q, &d), WK_OK);
    assert_string_equal(q.txn_id, p.txn_id);
    /* wrong mchid / appid / non-paying trade state */
    wk_pay_wechat_cfg c2 = f->c;
    snprintf(c2.mchid, sizeof c2.mchid, "1900000110");
    assert_int_equal(wk_pay_wechat_transaction(&c2, out, n, &q, &d), WK_ECONFLICT);
    assert_non_null(strstr(d.msg, "mchid"));
    c2 = f->c;
    snprintf(c2.appid, sizeof c2.appid, "wx0000000000000000");
    assert_int_equal(wk_pay_wechat_transaction(&c2, out, n, &q, &d), WK_ECONFLICT);
    assert_non_null(strstr(d.msg, "appid"));
    const char *states[] = {"NOTPAY", "CLOSED", "REFUND", "REVOKED", "USERPAYING", "PAYERROR"};
    for (size_t i = 0; i < sizeof states / sizeof states[0]; i++) {
        assert_int_equal(wk_pay_wechat_sign_notification(&f->c, other, &p, states[i], now, nb, sizeof nb, nn, ns, &d),
                         WK_OK);
        assert_int_equal(wk_pay_wechat_decrypt(&f->c, nb, strlen(nb), ev, sizeof ev, out, sizeof out, &n, &d), WK_OK);
        assert_int_equal(wk_pay_wechat_transaction(&f->c, out, n, &q, &d), WK_ECONFLICT);
        assert_non_null(strstr(d.msg, "trade_state"));
    }
    /* undecryptable resource: wrong APIv3 key; wrong algorithm */
    c2 = f->c;
    memcpy(c2.apiv3_key, "b7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb", 32);
    assert_int_equal(wk_pay_wechat_decrypt(&c2, W4_BODY, len, ev, sizeof ev, out, sizeof out, &n, &d), WK_ECRYPTO);
    snprintf(body, sizeof body, "%s", W4_BODY);
    char *alg = strstr(body, "AEAD_AES_256_GCM");
    memcpy(alg, "AEAD_SM4_GCM_XYZ", 16); /* still valid JSON, another algorithm */
    assert_int_equal(wk_pay_wechat_decrypt(&f->c, body, len, ev, sizeof ev, out, sizeof out, &n, &d), WK_ECRYPTO);
    /* a refund notification: authentic, event REFUND.SUCCESS, AAD "refund"; its facts parse
     * and are never a transaction */
    wk_pay_channel_refund rf = {.channel = WK_PAY_WECHAT, .amount_fen = 1500}, rq;
    snprintf(rf.refund_id, sizeof rf.refund_id, "50300000000000000001");
    snprintf(rf.out_refund_no, sizeof rf.out_refund_no, "RF-1");
    snprintf(rf.out_trade_no, sizeof rf.out_trade_no, "%s", p.out_trade_no);
    snprintf(rf.status, sizeof rf.status, "SUCCESS");
    assert_int_equal(wk_pay_wechat_sign_refund_notification(&f->c, other, &rf, 5000, now, nb, sizeof nb, nn, ns, &d),
                     WK_OK);
    assert_int_equal(auth(f, tsb, nn, ns, f->c.serials[1], nb, strlen(nb), now), WK_OK);
    assert_int_equal(wk_pay_wechat_decrypt(&f->c, nb, strlen(nb), ev, sizeof ev, out, sizeof out, &n, &d), WK_OK);
    assert_string_equal(ev, "REFUND.SUCCESS");
    assert_int_not_equal(wk_pay_wechat_transaction(&f->c, out, n, &q, &d), WK_OK);
    assert_int_equal(wk_pay_wechat_refund_notice(&f->c, out, n, &rq, &d), WK_OK);
    assert_string_equal(rq.refund_id, rf.refund_id);
    assert_string_equal(rq.out_refund_no, "RF-1");
    assert_string_equal(rq.out_trade_no, p.out_trade_no);
    assert_string_equal(rq.status, "SUCCESS");
    assert_int_equal(rq.amount_fen, 1500);
    c2 = f->c;
    snprintf(c2.mchid, sizeof c2.mchid, "1900000110");
    assert_int_equal(wk_pay_wechat_refund_notice(&c2, out, n, &rq, &d), WK_ECONFLICT);
    assert_non_null(strstr(d.msg, "mchid"));
    assert_int_equal(wk_pay_wechat_refund_notice(&f->c, "{\"mchid\":\"x\"}", 13, &rq, &d), WK_ECONFLICT);
    char rj[256];
    int rl = snprintf(rj, sizeof rj, "{\"mchid\":\"%s\",\"refund_id\":\"1\",\"out_refund_no\":\"R\","
                      "\"out_trade_no\":\"O\",\"refund_status\":\"SUCCESS\",\"amount\":{\"refund\":0}}", f->c.mchid);
    assert_int_equal(wk_pay_wechat_refund_notice(&f->c, rj, (size_t)rl, &rq, &d), WK_EINVAL);
    assert_non_null(strstr(d.msg, "amount.refund"));
    /* tampered refund notification */
    char *st = strstr(nb, "REFUND.SUCCESS");
    st[7] = 'X';
    assert_int_equal(auth(f, tsb, nn, ns, f->c.serials[1], nb, strlen(nb), now), WK_ECRYPTO);
    wk_pay_pubkey_free(pk);
    wk_pay_privkey_free(other);
    f->c.n_keys = 1;
}

/* ---- Alipay ---- */

static const char A1_KEY[] =
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAqObrdC7hrgAVM98tK0nv3hSQRGGKT4lBsQjHiGjeYZjOPIPHR5knm2jnnz/YGIXI"
    "ofVHkA/tAlBAd5DrY7YpvI4tP5EONLtZKC2ghBMx7McI2wRD0xiqzxOQr1FuhZGJ8/AUokBzJrzY+aGX2xcOrxFYRlFilvVLTXg4LWjR1tdP"
    "kO6+i7wQZAIVMClPkwVRZEbaERRHlKqTzv2gGv5rDU8gRoe1LeaN+6BlbTqHWkQcNCUNrA8C6l17XAXGKDsm/9TFWwO8EPHHHCaQdjtV5/Fd"
    "cWIt+L8SR1ss7EXTjYDFtxcKVv9rEoY1lX8T4mX+GbXfZHraG5NCF1+XioL5JwIDAQAB";
static const char A1_SIGN[] =
    "QfTb8tqE1BMhS5qAnXtvsF3/jBkEvu9q9en0pdbBUDDjvKycZhQb7h8GDs4FKfi049PynaNuatxSgLb/nLWZpXyyh0LEWdK2S6Ri7nPwrVgO"
    "s08zugLO20vOQz44y3ti2Ncm8/wZts1Fr2gZ7pShnVX3d1B50hbsXnObT1r/U8ONNQjWXd0HIul4TG+Q3fm3svmSvFEy0WnzuhcyHPX5Gm4E"
    "LNctL6Qd5YniGJFNcc7kopHYtI/XD9YCKCH6Ct02rzUs9i11C9CsadtZn+WhxF26Dqt9sGEFajkJ8cxUTLi8+VCpLHsgPE8P0y095uQcDdK0"
    "YjCh4x7wVSov+lrmOQ==";
static const char A1_CONTENT[] =
    "app_id=2019073166072302&auth_app_id=2019073166072302&buyer_id=2088102534368455&buyer_logon_id=xud***@126.com"
    "&buyer_pay_amount=0.10&charset=utf-8&fund_bill_list=[{\"amount\":\"0.10\",\"fundChannel\":\"ALIPAYACCOUNT\"}]"
    "&gmt_create=2019-08-15 15:56:22&gmt_payment=2019-08-15 15:56:24&invoice_amount=0.10"
    "&notify_id=2019081500222155624068450559358070&notify_time=2019-08-15 15:56:25&notify_type=trade_status_sync"
    "&out_trade_no=20190815155618536-564-57&point_amount=0.00&receipt_amount=0.10"
    "&seller_email=z97-yuquerevenue@service.aliyun.com&seller_id=2088531891668739"
    "&subject=\xe8\xaf\xad\xe9\x9b\x80\xe7\xa9\xba\xe9\x97\xb4 500\xe4\xba\xba\xe8\xa7\x84\xe6\xa8\xa1"
    "&total_amount=0.10&trade_no=2019081522001468450512505578&trade_status=TRADE_SUCCESS&version=1.0";

/* Percent-encodes every byte outside [A-Za-z0-9] of s (a space as '+'). */
static void enc(char *out, size_t cap, size_t *o, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        assert_true(*o + 4 < cap);
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')) {
            out[(*o)++] = (char)*p;
        } else if (*p == ' ') {
            out[(*o)++] = '+';
        } else {
            out[(*o)++] = '%';
            out[(*o)++] = hex[*p >> 4];
            out[(*o)++] = hex[*p & 15];
        }
    }
    out[*o] = 0;
}

/* Turns "k=v&k=v..." (raw values, no '&' inside) into a form body in reverse order with
 * extra parameters appended (sign_type, sign, an empty one). */
static void form_body(const char *content, const char *extra_k[], const char *extra_v[], size_t n_extra,
                      char *out, size_t cap)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", content);
    char *parts[64];
    size_t np = 0;
    for (char *p = tmp; p && *p;) {
        parts[np++] = p;
        char *amp = strchr(p, '&');
        if (amp)
            *amp++ = 0;
        p = amp;
    }
    size_t o = 0;
    out[0] = 0;
    for (size_t i = 0; i < n_extra; i++) {
        if (o)
            out[o++] = '&';
        enc(out, cap, &o, extra_k[i]);
        out[o++] = '=';
        enc(out, cap, &o, extra_v[i]);
    }
    for (size_t i = np; i-- > 0;) {
        char *eq = strchr(parts[i], '=');
        *eq = 0;
        out[o++] = '&';
        enc(out, cap, &o, parts[i]);
        out[o++] = '=';
        enc(out, cap, &o, eq + 1);
    }
}

static void test_a1_payment_notification(void **state)
{
    (void)state;
    wk_pay_pubkey *k;
    wk_diag d = {{0}};
    assert_int_equal(wk_pay_pubkey_parse(A1_KEY, strlen(A1_KEY), &k, NULL, 0, &d), WK_OK);
    assert_int_equal(strlen(A1_CONTENT), 680);
    const char *ek[] = {"sign", "sign_type", "empty_param"}, *ev[] = {A1_SIGN, "RSA2", ""};
    char body[8192];
    form_body(A1_CONTENT, ek, ev, 3, body, sizeof body);
    wk_pay_form f;
    assert_int_equal(wk_pay_form_parse(body, strlen(body), &f, &d), WK_OK);
    char s[4096];
    size_t n;
    assert_int_equal(wk_pay_alipay_sign_string(&f, false, s, sizeof s, &n, &d), WK_OK);
    assert_string_equal(s, A1_CONTENT);
    /* keeping sign_type (695 bytes) must fail */
    char s2[4096];
    assert_int_equal(wk_pay_alipay_sign_string(&f, true, s2, sizeof s2, &n, &d), WK_OK);
    assert_int_equal(n, 695);
    assert_int_equal(wk_pay_rsa_verify(k, s2, n, A1_SIGN, strlen(A1_SIGN), &d), WK_ECRYPTO);
    /* the full check: signature verifies; app_id/seller match the notification's */
    wk_pay_alipay_cfg c = {.key = k};
    snprintf(c.app_id, sizeof c.app_id, "2019073166072302");
    snprintf(c.seller_id, sizeof c.seller_id, "2088531891668739");
    wk_pay_payment p;
    assert_int_equal(wk_pay_alipay_verify(&c, &f, &p, &d), WK_OK);
    assert_string_equal(p.txn_id, "2019081522001468450512505578");
    assert_string_equal(p.out_trade_no, "20190815155618536-564-57");
    assert_int_equal(p.amount_fen, 10);
    /* wrong app_id, wrong seller */
    snprintf(c.app_id, sizeof c.app_id, "2019073166072303");
    assert_int_equal(wk_pay_alipay_verify(&c, &f, &p, &d), WK_ECONFLICT);
    assert_non_null(strstr(d.msg, "app_id"));
    snprintf(c.app_id, sizeof c.app_id, "2019073166072302");
    snprintf(c.seller_id, sizeof c.seller_id, "2088531891668740");
    assert_int_equal(wk_pay_alipay_verify(&c, &f, &p, &d), WK_ECONFLICT);
    assert_non_null(strstr(d.msg, "seller_id"));
    snprintf(c.seller_id, sizeof c.seller_id, "2088531891668739");
    wk_pay_form_free(&f);
    /* tampered amount: signature fails */
    char content[1024];
    snprintf(content, sizeof content, "%s", A1_CONTENT);
    char *amt = strstr(content, "total_amount=0.10");
    amt[13] = '9';
    form_body(content, ek, ev, 3, body, sizeof body);
    assert_int_equal(wk_pay_form_parse(body, strlen(body), &f, &d), WK_OK);
    assert_int_equal(wk_pay_alipay_verify(&c, &f, &p, &d), WK_ECRYPTO);
    wk_pay_form_free(&f);
    /* double decoding would turn %2B into a space: the subject of A1 has none, so check the
     * decoder directly: "a%2Bb+c" decodes once to "a+b c" */
    assert_int_equal(wk_pay_form_parse("x=a%2Bb+c&y=%25", 15, &f, &d), WK_OK);
    assert_string_equal(wk_pay_form_get(&f, "x"), "a+b c");
    assert_string_equal(wk_pay_form_get(&f, "y"), "%");
    wk_pay_form_free(&f);
    assert_int_equal(wk_pay_form_parse("x=%2", 4, &f, &d), WK_EINVAL);
    assert_int_equal(wk_pay_form_parse("x=%zz", 5, &f, &d), WK_EINVAL);
    assert_int_equal(wk_pay_form_parse("x=1&x=2", 7, &f, &d), WK_EEXIST);
    assert_int_equal(wk_pay_form_parse("=1", 2, &f, &d), WK_EINVAL);
    wk_pay_pubkey_free(k);
}

static const char A2_KEY[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAk6DCsBIUhWriFohzRV8F\n"
    "ic6oQWNnLKKILNk97VU5qcHEuxYzCujKoyva5gy1170mFJw4IcgJF8AyS7iDUwzA\n"
    "wF4Pp9CpWxDhUhe7mdQJhjBmvTcPLGFFrzlj6unO5lAcbdwaxPUtSxOaNxPJGrTK\n"
    "/wnKQSbjTMMltp1J68q2Tfgrsn/NdZ6lrxO9rvmky8kowqaH5NjntyHO59jCGabM\n"
    "j5sI14z8N61wB/QuIJrDuzIPMPrSNbq0cOWcSCDG09oUHTp9fk7suDB8UiFcmVTX\n"
    "OvK3d4HbeX8V9YsEMxrwxEoYgRRj6K2qrC6oxw480cqf2ueumCmHg6xrcgkyXK81\n"
    "hwIDAQAB\n"
    "-----END PUBLIC KEY-----\n";
static const char A2_SIGN[] =
    "MsK5SCw8oqLw4f0hiNSd5OVGXxBY3wnQeT8vn5PklJSZFWSZbK4hQbNvkp4ZezeXQH514cEv0ul6Qow8yh6e6yM06LfEL+EZjcpZ0nxz"
    "FGRNQ5qq2AUc1OaXQdk92AGvxh+Iq4NGpPQFBd4D8EBJa3NJd8+czMfQskceosOQFqUtLQMYa5DPs+VpN7VM5BdXjaVIuKn5d9Wm2B9d"
    "I9ObIM+YRySDkZZPv14DVmUvcrcqJfOR8aHvtSd7B4l92wUQPQgQKNcOQho7xOHS/Bk+Y74AZL2y7TkNmdDoq9OGsThuF5tDW9rI9nVw"
    "XxOtsuB+bstra+W7aw9x9DvkKgdSRw==";
static const char A2_CONTENT[] =
    "app_id=2017122801303261&charset=UTF-8&commodity_order_id=2019030800000018079639"
    "&contactor=\xe6\x8a\x80\xe6\x9c\xaf\xe6\x94\xaf\xe6\x8c\x81\xe6\xb5\x8b\xe8\xaf\x95\xe7\x9a\x84\xe5\x85\xac\xe5\x8f\xb8"
    "&merchant_pid=2088721996721370&method=alipay.open.servicemarket.order.notify"
    "&name=\xe6\x8a\x80\xe6\x9c\xaf\xe6\x94\xaf\xe6\x8c\x81\xe6\xb5\x8b\xe8\xaf\x95\xe7\x9a\x84\xe5\x85\xac\xe5\x8f\xb8"
    "&notify_id=2019030800222102023008121054923345&notify_time=2019-03-08 10:20:23"
    "&notify_type=servicemarket_order_notify&order_item_num=1&order_ticket=29b1c37d99ab48c5bd5bdaeaeaefbB37"
    "&order_time=2019-03-08 10:20:08&phone=17826894615&service_code=58621634&sign_type=RSA2"
    "&timestamp=2019-03-08 10:20:23&title=\xe9\xba\xa6\xe7\xa6\xbe\xe5\x95\x86\xe5\x9f\x8e\xe6\xa8\xa1\xe7\x89\x88"
    "&total_price=0.00&version=1.0";

static void test_a2_gateway_message(void **state)
{
    (void)state;
    wk_pay_pubkey *k;
    wk_diag d = {{0}};
    assert_int_equal(wk_pay_pubkey_parse(A2_KEY, strlen(A2_KEY), &k, NULL, 0, &d), WK_OK);
    const char *ek[] = {"sign"}, *ev[] = {A2_SIGN};
    char body[8192], s[4096];
    size_t n;
    form_body(A2_CONTENT, ek, ev, 1, body, sizeof body);
    wk_pay_form f;
    assert_int_equal(wk_pay_form_parse(body, strlen(body), &f, &d), WK_OK);
    /* V2 keeps sign_type: 575 bytes, verifies */
    assert_int_equal(wk_pay_alipay_sign_string(&f, true, s, sizeof s, &n, &d), WK_OK);
    assert_int_equal(n, 575);
    assert_string_equal(s, A2_CONTENT);
    assert_int_equal(wk_pay_rsa_verify(k, s, n, A2_SIGN, strlen(A2_SIGN), &d), WK_OK);
    /* without sign_type it fails */
    assert_int_equal(wk_pay_alipay_sign_string(&f, false, s, sizeof s, &n, &d), WK_OK);
    assert_int_equal(wk_pay_rsa_verify(k, s, n, A2_SIGN, strlen(A2_SIGN), &d), WK_ECRYPTO);
    wk_pay_form_free(&f);
    /* service_code changed fails */
    char content[1024];
    snprintf(content, sizeof content, "%s", A2_CONTENT);
    char *sc = strstr(content, "service_code=58621634");
    char changed[1100];
    snprintf(changed, sizeof changed, "%.*s58621634111%s", (int)(sc - content + 13), content, sc + 21);
    form_body(changed, ek, ev, 1, body, sizeof body);
    assert_int_equal(wk_pay_form_parse(body, strlen(body), &f, &d), WK_OK);
    assert_int_equal(wk_pay_alipay_sign_string(&f, true, s, sizeof s, &n, &d), WK_OK);
    assert_int_equal(wk_pay_rsa_verify(k, s, n, A2_SIGN, strlen(A2_SIGN), &d), WK_ECRYPTO);
    wk_pay_form_free(&f);
    wk_pay_pubkey_free(k);
}

static void test_alipay_sandbox_rejections(void **state)
{
    (void)state;
    wk_pay_privkey *sk, *other;
    wk_diag d = {{0}};
    assert_int_equal(wk_pay_privkey_generate(&sk, &d), WK_OK);
    assert_int_equal(wk_pay_privkey_generate(&other, &d), WK_OK);
    char pem[] = "/tmp/wk-pay-ali-XXXXXX";
    int fd = mkstemp(pem);
    assert_true(fd >= 0);
    assert_int_equal(wk_pay_privkey_save(sk, NULL, pem, &d), WK_OK);
    wk_pay_alipay_cfg c = {0};
    assert_int_equal(wk_pay_pubkey_load(pem, &c.key, NULL, 0, &d), WK_OK);
    unlink(pem);
    snprintf(c.app_id, sizeof c.app_id, "2021000000000001");
    snprintf(c.seller_id, sizeof c.seller_id, "2088000000000099");
    wk_pay_payment p = {.channel = WK_PAY_ALIPAY, .amount_fen = 12345}, q;
    snprintf(p.txn_id, sizeof p.txn_id, "2024010122001400000000000001");
    snprintf(p.out_trade_no, sizeof p.out_trade_no, "WK0123456789");
    char body[4096];
    wk_pay_form f;
    assert_int_equal(wk_pay_alipay_sign_notification(&c, sk, &p, "TRADE_SUCCESS", "2024-01-01 12:00:00", body,
                                                     sizeof body, &d),
                     WK_OK);
    assert_int_equal(wk_pay_form_parse(body, strlen(body), &f, &d), WK_OK);
    assert_int_equal(wk_pay_alipay_verify(&c, &f, &q, &d), WK_OK);
    assert_int_equal(q.amount_fen, 12345);
    assert_string_equal(wk_pay_form_get(&f, "subject"), "\xe7\x94\xb5\xe8\xb4\xb9\xe5\x85\x85\xe5\x80\xbc top-up+1");
    wk_pay_form_free(&f);
    assert_int_equal(wk_pay_alipay_sign_notification(&c, sk, &p, "TRADE_FINISHED", "2024-01-01 12:00:00", body,
                                                     sizeof body, &d),
                     WK_OK);
    assert_int_equal(wk_pay_form_parse(body, strlen(body), &f, &d), WK_OK);
    assert_int_equal(wk_pay_alipay_verify(&c, &f, &q, &d), WK_OK);
    wk_pay_form_free(&f);
    const char *states[] = {"WAIT_BUYER_PAY", "TRADE_CLOSED"};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(wk_pay_alipay_sign_notification(&c, sk, &p, states[i], "2024-01-01 12:00:00", body,
                                                         sizeof body, &d),
                         WK_OK);
        assert_int_equal(wk_pay_form_parse(body, strlen(body), &f, &d), WK_OK);
        assert_int_equal(wk_pay_alipay_verify(&c, &f, &q, &d), WK_ECONFLICT);
        assert_non_null(strstr(d.msg, "trade_status"));
        /* authentic: the facts to record (not to credit) */
        assert_string_equal(q.status, states[i]);
        assert_string_equal(q.out_trade_no, p.out_trade_no);
        assert_string_equal(q.txn_id, p.txn_id);
        assert_int_equal(q.amount_fen, 0);
        wk_pay_form_free(&f);
    }
    /* not our seller: no facts */
    wk_pay_alipay_cfg c3 = c;
    snprintf(c3.seller_id, sizeof c3.seller_id, "2088000000000001");
    assert_int_equal(wk_pay_form_parse(body, strlen(body), &f, &d), WK_OK);
    assert_int_equal(wk_pay_alipay_verify(&c3, &f, &q, &d), WK_ECONFLICT);
    assert_string_equal(q.status, "");
    wk_pay_form_free(&f);
    /* signed by a key we do not trust */
    assert_int_equal(wk_pay_alipay_sign_notification(&c, other, &p, "TRADE_SUCCESS", "2024-01-01 12:00:00", body,
                                                     sizeof body, &d),
                     WK_OK);
    assert_int_equal(wk_pay_form_parse(body, strlen(body), &f, &d), WK_OK);
    assert_int_equal(wk_pay_alipay_verify(&c, &f, &q, &d), WK_ECRYPTO);
    assert_string_equal(q.status, "");
    wk_pay_form_free(&f);
    /* sign_type RSA (SHA1) refused; missing sign */
    assert_int_equal(wk_pay_form_parse("sign=abc&sign_type=RSA&app_id=1", 31, &f, &d), WK_OK);
    assert_int_equal(wk_pay_alipay_verify(&c, &f, &q, &d), WK_ECRYPTO);
    wk_pay_form_free(&f);
    assert_int_equal(wk_pay_form_parse("sign_type=RSA2&app_id=1", 23, &f, &d), WK_OK);
    assert_int_equal(wk_pay_alipay_verify(&c, &f, &q, &d), WK_EINVAL);
    wk_pay_form_free(&f);
    wk_pay_pubkey_free(c.key);
    wk_pay_privkey_free(sk);
    wk_pay_privkey_free(other);
}

static void test_json_member_raw(void **state)
{
    (void)state;
    /* the signed bytes of alipay_trade_query_response are taken verbatim, whatever they hold */
    const char *j = "{\"x\":{\"alipay_trade_query_response\":1},\"alipay_trade_query_response\" : "
                    "{\"a\":\"}\\\"{\",\"b\":{\"c\":[1,{}]}},\"sign\":\"s\"}";
    size_t at, n;
    wk_diag d;
    assert_int_equal(wk_pay_json_member_raw(j, strlen(j), "alipay_trade_query_response", &at, &n, &d), WK_OK);
    assert_int_equal(n, strlen("{\"a\":\"}\\\"{\",\"b\":{\"c\":[1,{}]}}"));
    assert_memory_equal(j + at, "{\"a\":\"}\\\"{\",\"b\":{\"c\":[1,{}]}}", n);
    assert_int_equal(wk_pay_json_member_raw(j, strlen(j), "nope", &at, &n, &d), WK_EINVAL);
    const char *unbalanced = "{\"r\":{\"a\":{}";
    assert_int_equal(wk_pay_json_member_raw(unbalanced, strlen(unbalanced), "r", &at, &n, &d), WK_EINVAL);
    const char *scalar = "{\"r\":\"x\"}";
    assert_int_equal(wk_pay_json_member_raw(scalar, strlen(scalar), "r", &at, &n, &d), WK_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_w1_sdk_notification, wsetup, wteardown),
        cmocka_unit_test(test_w2_w3_aes_gcm),
        cmocka_unit_test_setup_teardown(test_w4_transaction_success, wsetup, wteardown),
        cmocka_unit_test_setup_teardown(test_w4_rejections, wsetup, wteardown),
        cmocka_unit_test(test_a1_payment_notification),
        cmocka_unit_test(test_a2_gateway_message),
        cmocka_unit_test(test_alipay_sandbox_rejections),
        cmocka_unit_test(test_json_member_raw),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
