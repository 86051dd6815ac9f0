/*
 * note.c - C2SP signed notes with Ed25519 (OpenSSL 3 EVP, one-shot DigestSign/Verify with a
 * NULL digest). Parsing is strict and bounded: names, lines and signature counts all have
 * limits, and nothing is allocated except OpenSSL's short-lived key objects.
 */
#include "ledger/note.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "ledger/merkle.h"
#include "proto/encoding.h"

#define NOTE_ALG_ED25519 0x01
static const char EM_DASH_SP[] = "\xe2\x80\x94 ";

uint32_t wk_note_key_id(const char *name, const uint8_t pub[32])
{
    uint8_t tail[2 + 32];
    uint8_t h[WK_HASH_LEN];
    tail[0] = '\n';
    tail[1] = NOTE_ALG_ED25519;
    memcpy(tail + 2, pub, 32);
    wk_sha256(name, strlen(name), tail, sizeof tail, NULL, 0, h);
    return (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
}

bool wk_note_name_ok(const char *name, size_t len)
{
    if (len == 0 || len > WK_NOTE_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c <= ' ' || c == '+' || c == 0x7f)
            return false;
    }
    return true;
}

static wk_err note__pub_from_seed(const uint8_t seed[32], uint8_t pub[32], wk_diag *d)
{
    wk_err e = WK_OK;
    size_t n = 32;
    EVP_PKEY *pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
    if (!pk || EVP_PKEY_get_raw_public_key(pk, pub, &n) != 1 || n != 32)
        e = wk_diag_set(d, WK_ECRYPTO, "ed25519: cannot derive the public key");
    EVP_PKEY_free(pk);
    return e;
}

wk_err wk_note_signer_generate(const char *name, wk_note_signer *out, wk_diag *d)
{
    memset(out, 0, sizeof *out);
    if (!wk_note_name_ok(name, strlen(name)))
        return wk_diag_set(d, WK_EINVAL, "key name '%s' is empty, too long or has '+'/spaces",
                           name);
    if (RAND_bytes(out->seed, sizeof out->seed) != 1)
        return wk_diag_set(d, WK_ECRYPTO, "no random bytes for a new key");
    wk_err e = note__pub_from_seed(out->seed, out->v.pub, d);
    if (e)
        return e;
    memcpy(out->v.name, name, strlen(name) + 1);
    out->v.key_id = wk_note_key_id(name, out->v.pub);
    return WK_OK;
}

/* Splits "name+hex8+base64" into parts, decodes the 0x01-prefixed 32-byte key. */
static wk_err note__parse_key(const char *s, size_t len, char name[WK_NOTE_NAME_MAX + 1],
                              uint32_t *id, uint8_t key[32], wk_diag *d)
{
    while (len && (s[len - 1] == '\n' || s[len - 1] == '\r'))
        len--;
    const char *p1 = memchr(s, '+', len);
    if (!p1)
        return wk_diag_set(d, WK_EINVAL, "key: expected name+keyid+base64");
    const char *p2 = memchr(p1 + 1, '+', len - (size_t)(p1 + 1 - s));
    if (!p2)
        return wk_diag_set(d, WK_EINVAL, "key: expected name+keyid+base64");
    size_t nlen = (size_t)(p1 - s);
    if (!wk_note_name_ok(s, nlen))
        return wk_diag_set(d, WK_EINVAL, "key: bad key name");
    if (p2 - p1 - 1 != 8)
        return wk_diag_set(d, WK_EINVAL, "key: key id must be 8 hex digits");
    uint8_t idb[4];
    size_t n = 0;
    if (wk_hex_decode(p1 + 1, 8, idb, sizeof idb, &n) != WK_OK)
        return wk_diag_set(d, WK_EINVAL, "key: key id must be 8 hex digits");
    uint8_t raw[33];
    const char *b = p2 + 1;
    size_t blen = len - (size_t)(b - s);
    if (wk_base64_decode(b, blen, raw, sizeof raw, &n) != WK_OK || n != 33)
        return wk_diag_set(d, WK_EINVAL, "key: key data is not base64 of 33 bytes");
    if (raw[0] != NOTE_ALG_ED25519)
        return wk_diag_set(d, WK_EINVAL, "key: algorithm %u is not Ed25519 (1)", raw[0]);
    memcpy(name, s, nlen);
    name[nlen] = '\0';
    *id = (uint32_t)idb[0] << 24 | (uint32_t)idb[1] << 16 | (uint32_t)idb[2] << 8 | idb[3];
    memcpy(key, raw + 1, 32);
    return WK_OK;
}

wk_err wk_note_signer_parse(const char *s, size_t len, wk_note_signer *out, wk_diag *d)
{
    static const char pfx[] = "PRIVATE+KEY+";
    memset(out, 0, sizeof *out);
    if (len < sizeof pfx - 1 || memcmp(s, pfx, sizeof pfx - 1))
        return wk_diag_set(d, WK_EINVAL, "signer key must start with PRIVATE+KEY+");
    wk_err e = note__parse_key(s + sizeof pfx - 1, len - (sizeof pfx - 1), out->v.name,
                               &out->v.key_id, out->seed, d);
    if (e)
        return e;
    e = note__pub_from_seed(out->seed, out->v.pub, d);
    if (e)
        return e;
    if (wk_note_key_id(out->v.name, out->v.pub) != out->v.key_id)
        return wk_diag_set(d, WK_ECRYPTO, "signer key: key id does not match the key");
    return WK_OK;
}

wk_err wk_note_verifier_parse(const char *s, size_t len, wk_note_verifier *out, wk_diag *d)
{
    memset(out, 0, sizeof *out);
    wk_err e = note__parse_key(s, len, out->name, &out->key_id, out->pub, d);
    if (e)
        return e;
    if (wk_note_key_id(out->name, out->pub) != out->key_id)
        return wk_diag_set(d, WK_ECRYPTO, "verifier key: key id does not match the key");
    return WK_OK;
}

static char *note__format(const char *pfx, const char *name, uint32_t id, const uint8_t key[32],
                          char *buf, size_t cap)
{
    uint8_t raw[33];
    char b64[64];
    raw[0] = NOTE_ALG_ED25519;
    memcpy(raw + 1, key, 32);
    wk_base64_encode(raw, sizeof raw, b64, sizeof b64);
    snprintf(buf, cap, "%s%s+%08x+%s", pfx, name, (unsigned)id, b64);
    return buf;
}

char *wk_note_signer_format(const wk_note_signer *k, char *buf, size_t cap)
{
    return note__format("PRIVATE+KEY+", k->v.name, k->v.key_id, k->seed, buf, cap);
}

char *wk_note_verifier_format(const wk_note_verifier *k, char *buf, size_t cap)
{
    return note__format("", k->name, k->key_id, k->pub, buf, cap);
}

wk_err wk_note_sign(const wk_note_signer *k, const char *text, size_t len, char *line,
                    size_t cap, wk_diag *d)
{
    wk_err e = WK_OK;
    uint8_t sig[4 + 64];
    size_t siglen = 64;
    char b64[128];
    EVP_PKEY *pk = NULL;
    EVP_MD_CTX *ctx = NULL;
    if (len == 0 || text[len - 1] != '\n')
        return wk_diag_set(d, WK_EINVAL, "note text must be non-empty and end with a newline");
    if (cap < WK_NOTE_SIGLINE_MAX)
        return wk_diag_set(d, WK_ELIMIT, "note: signature line buffer too small");
    pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, k->seed, 32);
    ctx = EVP_MD_CTX_new();
    if (!pk || !ctx || EVP_DigestSignInit(ctx, NULL, NULL, NULL, pk) != 1 ||
        EVP_DigestSign(ctx, sig + 4, &siglen, (const unsigned char *)text, len) != 1 ||
        siglen != 64) {
        e = wk_diag_set(d, WK_ECRYPTO, "ed25519: signing failed");
        goto fail;
    }
    sig[0] = (uint8_t)(k->v.key_id >> 24);
    sig[1] = (uint8_t)(k->v.key_id >> 16);
    sig[2] = (uint8_t)(k->v.key_id >> 8);
    sig[3] = (uint8_t)k->v.key_id;
    wk_base64_encode(sig, sizeof sig, b64, sizeof b64);
    snprintf(line, cap, "%s%s %s\n", EM_DASH_SP, k->v.name, b64);
fail:
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(pk);
    return e;
}

static bool note__ed25519_ok(const uint8_t pub[32], const char *msg, size_t len,
                             const uint8_t sig[64])
{
    bool ok = false;
    EVP_PKEY *pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, 32);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (pk && ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pk) == 1)
        ok = EVP_DigestVerify(ctx, sig, 64, (const unsigned char *)msg, len) == 1;
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(pk);
    return ok;
}

wk_err wk_note_verify(const char *note, size_t len, const wk_note_verifier *v, size_t *text_len,
                      wk_diag *d)
{
    /* The signature block starts after the last blank line. */
    size_t split = 0;
    bool found = false;
    for (size_t i = len; i >= 2; i--) {
        if (note[i - 1] == '\n' && note[i - 2] == '\n') {
            split = i - 1; /* text = note[0..split), ends with '\n' */
            found = true;
            break;
        }
    }
    if (!found || split == 0)
        return wk_diag_set(d, WK_EINVAL, "note: no blank line before the signatures");
    if (memchr(note, '\0', len))
        return wk_diag_set(d, WK_EINVAL, "note: contains a NUL byte");
    if (len == 0 || note[len - 1] != '\n')
        return wk_diag_set(d, WK_EINVAL, "note: last signature line has no newline");
    size_t pos = split + 1;
    int nsig = 0;
    bool verified = false;
    while (pos < len) {
        const char *line = note + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t ll = (size_t)(nl - line);
        if (++nsig > WK_NOTE_SIG_MAX)
            return wk_diag_set(d, WK_ELIMIT, "note: more than %d signatures", WK_NOTE_SIG_MAX);
        if (ll < 4 || memcmp(line, EM_DASH_SP, 4))
            return wk_diag_set(d, WK_EINVAL, "note: signature line %d must start with an em "
                                             "dash and a space", nsig);
        const char *name = line + 4;
        const char *sp = memchr(name, ' ', ll - 4);
        if (!sp || !wk_note_name_ok(name, (size_t)(sp - name)))
            return wk_diag_set(d, WK_EINVAL, "note: signature line %d has a bad key name", nsig);
        size_t nlen = (size_t)(sp - name);
        uint8_t sig[4 + 64 + 1];
        size_t n = 0;
        wk_err e = wk_base64_decode(sp + 1, ll - 4 - nlen - 1, sig, sizeof sig, &n);
        if (e || n < 5)
            return wk_diag_set(d, WK_EINVAL, "note: signature line %d is not base64 of a key "
                                             "id and a signature", nsig);
        uint32_t id = (uint32_t)sig[0] << 24 | (uint32_t)sig[1] << 16 | (uint32_t)sig[2] << 8 |
                      sig[3];
        if (nlen == strlen(v->name) && !memcmp(name, v->name, nlen) && id == v->key_id) {
            if (n != 68 || !note__ed25519_ok(v->pub, note, split, sig + 4))
                return wk_diag_set(d, WK_ECRYPTO, "note: signature by %s does not verify",
                                   v->name);
            verified = true;
        }
        pos += ll + 1;
    }
    if (!verified)
        return wk_diag_set(d, WK_ECRYPTO, "note: no signature by key %s+%08x", v->name,
                           (unsigned)v->key_id);
    *text_len = split;
    return WK_OK;
}
