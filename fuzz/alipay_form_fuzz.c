/*
 * alipay_form_fuzz.c - libFuzzer target for the Alipay notification parser
 * (src/pay/alipay.c): the bytes are the form body. Whatever parses must give a signing
 * string that fits, keys that are unique and non-empty; verification against a fixed
 * key must fail (the fuzzer cannot forge RSA) with a message; errors carry a message. The
 * same bytes go through the raw JSON member extractor (alipay.trade.query answers), whose
 * result must lie inside the input and be a braced object.
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
    static wk_pay_alipay_cfg c;
    if (!c.key) {
        wk_diag d0;
        if (wk_pay_pubkey_parse(KEY, strlen(KEY), &c.key, NULL, 0, &d0))
            abort();
        memcpy(c.app_id, "2019073166072302", 17);
        memcpy(c.seller_id, "2088531891668739", 17);
    }
    wk_diag d = {{0}};
    /* the raw-member extractor used on alipay.trade.query answers */
    size_t at, vl;
    if (wk_pay_json_member_raw((const char *)data, size, "alipay_trade_query_response", &at, &vl, &d) == WK_OK &&
        (at + vl > size || vl < 2 || data[at] != '{' || data[at + vl - 1] != '}'))
        abort();
    wk_pay_form f;
    if (wk_pay_form_parse((const char *)data, size, &f, &d)) {
        if (!d.msg[0])
            abort();
        return 0;
    }
    for (size_t i = 0; i < f.n; i++) {
        if (!f.key[i][0])
            abort();
        for (size_t j = 0; j < i; j++)
            if (!strcmp(f.key[i], f.key[j]))
                abort();
    }
    static char s[WK_PAY_BODY_MAX + 1];
    size_t n;
    if (wk_pay_alipay_sign_string(&f, false, s, sizeof s, &n, &d) || strlen(s) != n)
        abort();
    wk_pay_payment p;
    d.msg[0] = 0;
    if (wk_pay_alipay_verify(&c, &f, &p, &d) == WK_OK || !d.msg[0])
        abort();
    wk_pay_form_free(&f);
    return 0;
}
