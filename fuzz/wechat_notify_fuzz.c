/*
 * wechat_notify_fuzz.c - libFuzzer target for the WeChat Pay notification path
 * (src/pay/wechat.c): the bytes are the body. Authentication over arbitrary bytes must
 * fail with a message (the fuzzer cannot forge RSA); the envelope parser and AES-GCM
 * decryption must fail cleanly on anything (no tag forgery); the transaction parser must
 * either fill every field within bounds or fail with a message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pay/pay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char KEY[] =
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAqObrdC7hrgAVM98tK0nv3hSQRGGKT4lBsQjHiGjeYZjOPIPHR5knm2jnnz/YGIXI"
    "ofVHkA/tAlBAd5DrY7YpvI4tP5EONLtZKC2ghBMx7McI2wRD0xiqzxOQr1FuhZGJ8/AUokBzJrzY+aGX2xcOrxFYRlFilvVLTXg4LWjR1tdP"
    "kO6+i7wQZAIVMClPkwVRZEbaERRHlKqTzv2gGv5rDU8gRoe1LeaN+6BlbTqHWkQcNCUNrA8C6l17XAXGKDsm/9TFWwO8EPHHHCaQdjtV5/Fd"
    "cWIt+L8SR1ss7EXTjYDFtxcKVv9rEoY1lX8T4mX+GbXfZHraG5NCF1+XioL5JwIDAQAB";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static wk_pay_wechat_cfg c;
    if (!c.n_keys) {
        wk_diag d0;
        if (wk_pay_pubkey_parse(KEY, strlen(KEY), &c.keys[0], NULL, 0, &d0))
            abort();
        memcpy(c.serials[0], "PUB_KEY_ID_FUZZ", 16);
        c.n_keys = 1;
        c.window_s = 300;
        memcpy(c.apiv3_key, "fuzz-key-not-the-corpus-key-0000", 32); /* no corpus body decrypts */
        c.apiv3_key_len = 32;
        memcpy(c.mchid, "1900000109", 11);
        memcpy(c.appid, "wxd678efh567hg6787", 19);
    }
    const char *body = (const char *)data;
    wk_pay_wechat_headers h = {.timestamp = "1704081606", .nonce = "n", .serial = "PUB_KEY_ID_FUZZ",
                               .signature = "H/xFnZWXIVTCSMTbSW0INEe95/F+mA08YYSlR/oliG60K8+fZia4F1HKqOkrDw+PUu35FE6VzWMY"};
    wk_diag d = {{0}};
    if (wk_pay_wechat_authenticate(&c, &h, body, size, 1704081606, &d) == WK_OK || !d.msg[0])
        abort();
    char ev[64], out[4096];
    size_t n = 0;
    d.msg[0] = 0;
    if (wk_pay_wechat_decrypt(&c, body, size, ev, sizeof ev, out, sizeof out, &n, &d) == WK_OK)
        abort(); /* would mean a GCM tag forged by a fuzzer */
    if (!d.msg[0])
        abort();
    /* the same bytes as a decrypted transaction */
    wk_pay_payment p;
    d.msg[0] = 0;
    wk_err e = wk_pay_wechat_transaction(&c, body, size, &p, &d);
    if (e == WK_OK) {
        if (p.amount_fen <= 0 || !p.txn_id[0] || !p.out_trade_no[0] || strcmp(p.status, "SUCCESS"))
            abort();
    } else if (!d.msg[0]) {
        abort();
    }
    return 0;
}
