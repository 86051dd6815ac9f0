/*
 * crypto.c - the payment channels' primitives on OpenSSL 3 EVP: RSA public keys from
 * certificates, PEM or bare SPKI base64; RSASSA-PKCS1-v1_5/SHA-256 verification of a
 * base64 signature; AEAD_AES_256_GCM decryption of WeChat resources. No I/O except
 * wk_pay_pubkey_load reading its file; no state.
 */
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>

#include "core/mem.h"
#include "pay/pay.h"
#include "proto/encoding.h"

/* Whether needle occurs in text[0..len) (memmem is not POSIX). */
static bool crypto__contains(const char *text, size_t len, const char *needle)
{
    size_t m = strlen(needle);
    for (size_t i = 0; i + m <= len; i++)
        if (!memcmp(text + i, needle, m))
            return true;
    return false;
}

struct wk_pay_pubkey {
    EVP_PKEY *pkey;
};

const char *wk_pay_channel_str(wk_pay_channel c)
{
    switch (c) {
    case WK_PAY_WECHAT:
        return "wechat";
    case WK_PAY_ALIPAY:
        return "alipay";
    }
    return NULL;
}

wk_err wk_pay_channel_parse(const char *s, wk_pay_channel *c, wk_diag *d)
{
    if (s && !strcmp(s, "wechat"))
        *c = WK_PAY_WECHAT;
    else if (s && !strcmp(s, "alipay"))
        *c = WK_PAY_ALIPAY;
    else
        return wk_diag_set(d, WK_EINVAL, "channel: expected wechat or alipay");
    return WK_OK;
}

static wk_err crypto__serial(X509 *x, char *serial, size_t cap, wk_diag *d)
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    wk_err e = WK_OK;
    if (!hex)
        e = wk_diag_set(d, WK_ECRYPTO, "certificate: unreadable serial");
    else if (strlen(hex) + 1 > cap)
        e = wk_diag_set(d, WK_ELIMIT, "certificate: serial longer than %zu", cap - 1);
    else
        snprintf(serial, cap, "%s", hex);
    OPENSSL_free(hex);
    BN_free(bn);
    return e;
}

wk_err wk_pay_pubkey_parse(const char *text, size_t len, wk_pay_pubkey **out, char *serial,
                           size_t serial_cap, wk_diag *d)
{
    *out = NULL;
    if (serial && serial_cap)
        serial[0] = 0;
    EVP_PKEY *pk = NULL;
    wk_err e = WK_OK;
    if (len > 65536)
        return wk_diag_set(d, WK_ELIMIT, "key: longer than 64 KiB");
    BIO *b = BIO_new_mem_buf(text, (int)len);
    if (!b)
        return wk_diag_set(d, WK_ENOMEM, "key: out of memory");
    if (crypto__contains(text, len, "BEGIN CERTIFICATE")) {
        X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
        if (!x) {
            e = wk_diag_set(d, WK_ECRYPTO, "key: the certificate does not parse");
            goto done;
        }
        pk = X509_get_pubkey(x);
        if (serial && serial_cap)
            e = crypto__serial(x, serial, serial_cap, d);
        X509_free(x);
    } else if (crypto__contains(text, len, "BEGIN PUBLIC KEY")) {
        pk = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
    } else {
        /* bare base64 of the SPKI DER, whitespace allowed around it */
        size_t i = 0, j = len;
        while (i < j && (text[i] == ' ' || text[i] == '\n' || text[i] == '\r' || text[i] == '\t'))
            i++;
        while (j > i && (text[j - 1] == ' ' || text[j - 1] == '\n' || text[j - 1] == '\r' ||
                         text[j - 1] == '\t'))
            j--;
        uint8_t der[4096];
        size_t n;
        if (wk_base64_decode(text + i, j - i, der, sizeof der, &n) == WK_OK) {
            const unsigned char *p = der;
            pk = d2i_PUBKEY(NULL, &p, (long)n);
        }
    }
    if (e)
        goto done;
    if (!pk) {
        e = wk_diag_set(d, WK_ECRYPTO, "key: not a PEM certificate, PEM public key or base64 SPKI");
        goto done;
    }
    if (EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA || EVP_PKEY_get_bits(pk) < 2048) {
        e = wk_diag_set(d, WK_ECRYPTO, "key: expected an RSA key of at least 2048 bits");
        goto done;
    }
    *out = wk_malloc(sizeof **out);
    if (!*out) {
        e = wk_diag_set(d, WK_ENOMEM, "key: out of memory");
        goto done;
    }
    (*out)->pkey = pk;
    pk = NULL;
done:
    EVP_PKEY_free(pk);
    BIO_free(b);
    return e;
}

wk_err wk_pay_pubkey_load(const char *path, wk_pay_pubkey **out, char *serial, size_t serial_cap,
                          wk_diag *d)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return wk_diag_set(d, WK_EIO, "%s: cannot open", path);
    char *buf = wk_malloc(65537);
    if (!buf) {
        fclose(f);
        return wk_diag_set(d, WK_ENOMEM, "%s: out of memory", path);
    }
    size_t n = fread(buf, 1, 65537, f);
    fclose(f);
    wk_err e;
    if (n > 65536)
        e = wk_diag_set(d, WK_ELIMIT, "%s: longer than 64 KiB", path);
    else if ((e = wk_pay_pubkey_parse(buf, n, out, serial, serial_cap, d)))
        wk_diag_prefix(d, "%s", path);
    wk_free(buf);
    return e;
}

void wk_pay_pubkey_free(wk_pay_pubkey *k)
{
    if (!k)
        return;
    EVP_PKEY_free(k->pkey);
    wk_free(k);
}

wk_err wk_pay_rsa_verify(const wk_pay_pubkey *k, const void *msg, size_t len, const char *sig_b64,
                         size_t sig_len, wk_diag *d)
{
    uint8_t sig[1024];
    size_t n;
    if (!k || !sig_b64 || sig_len == 0 || sig_len > 1400 ||
        wk_base64_decode(sig_b64, sig_len, sig, sizeof sig, &n))
        return wk_diag_set(d, WK_ECRYPTO, "signature: not base64 of an RSA signature");
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx)
        return wk_diag_set(d, WK_ENOMEM, "signature: out of memory");
    int ok = EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, k->pkey) == 1 &&
             EVP_DigestVerify(ctx, sig, n, msg, len) == 1;
    EVP_MD_CTX_free(ctx);
    return ok ? WK_OK : wk_diag_set(d, WK_ECRYPTO, "signature: does not verify");
}

wk_err wk_pay_aes_gcm_decrypt(const uint8_t *key, size_t key_len, const char *nonce,
                              size_t nonce_len, const char *aad, size_t aad_len,
                              const char *ct_b64, size_t ct_len, char *out, size_t cap,
                              size_t *n, wk_diag *d)
{
    const EVP_CIPHER *alg = key_len == 32 ? EVP_aes_256_gcm() : key_len == 16 ? EVP_aes_128_gcm() : NULL;
    if (!alg)
        return wk_diag_set(d, WK_ECRYPTO, "key: expected 32 bytes (APIv3 key)");
    if (nonce_len != 12)
        return wk_diag_set(d, WK_ECRYPTO, "nonce: expected 12 bytes");
    if (ct_len > 4 * ((WK_PAY_BODY_MAX + 2) / 3))
        return wk_diag_set(d, WK_ELIMIT, "ciphertext: too long");
    uint8_t *ct = wk_malloc(WK_PAY_BODY_MAX + 4);
    if (!ct)
        return wk_diag_set(d, WK_ENOMEM, "ciphertext: out of memory");
    size_t m = 0;
    wk_err e = WK_OK;
    EVP_CIPHER_CTX *cx = NULL;
    if (wk_base64_decode(ct_b64, ct_len, ct, WK_PAY_BODY_MAX + 4, &m) || m < 16) {
        e = wk_diag_set(d, WK_ECRYPTO, "ciphertext: not base64 of ciphertext and a 16-byte tag");
        goto done;
    }
    size_t body = m - 16;
    if (body + 1 > cap) {
        e = wk_diag_set(d, WK_ELIMIT, "ciphertext: plaintext longer than %zu", cap - 1);
        goto done;
    }
    cx = EVP_CIPHER_CTX_new();
    int l1 = 0, l2 = 0;
    if (!cx || EVP_DecryptInit_ex(cx, alg, NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(cx, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) != 1 ||
        EVP_DecryptInit_ex(cx, NULL, NULL, key, (const unsigned char *)nonce) != 1 ||
        (aad_len && EVP_DecryptUpdate(cx, NULL, &l1, (const unsigned char *)aad, (int)aad_len) != 1) ||
        EVP_DecryptUpdate(cx, (unsigned char *)out, &l1, ct, (int)body) != 1 ||
        EVP_CIPHER_CTX_ctrl(cx, EVP_CTRL_GCM_SET_TAG, 16, ct + body) != 1 ||
        EVP_DecryptFinal_ex(cx, (unsigned char *)out + l1, &l2) != 1) {
        memset(out, 0, body < cap ? body : cap);
        e = wk_diag_set(d, WK_ECRYPTO, "ciphertext: does not decrypt (key, nonce, AAD or tag wrong)");
        goto done;
    }
    *n = (size_t)l1 + (size_t)l2;
    out[*n] = 0;
done:
    EVP_CIPHER_CTX_free(cx);
    wk_free(ct);
    return e;
}
