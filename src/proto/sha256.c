/*
 * sha256.c - SHA-256 and HMAC-SHA256 in portable C99 for the meter core (see sha256.h).
 * Invariant: buf_len < 64 between calls. Never allocates, never reads a clock.
 */
#include "proto/sha256.h"

#include <string.h>

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
    0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
    0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
    0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
    0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
    0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha256__block(uint32_t h[8], const uint8_t *p)
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = hh + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + K[i] +
                      w[i];
        uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        hh = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += hh;
}

void wk_sha256_init(wk_sha256 *s)
{
    static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(s->h, iv, sizeof iv);
    s->total_bytes = 0;
    s->buf_len = 0;
}

void wk_sha256_update(wk_sha256 *s, const void *data, size_t len)
{
    const uint8_t *p = data;
    s->total_bytes += len;
    while (len > 0) {
        if (s->buf_len == 0 && len >= WK_SHA256_BLOCK) {
            sha256__block(s->h, p);
            p += WK_SHA256_BLOCK;
            len -= WK_SHA256_BLOCK;
            continue;
        }
        size_t take = WK_SHA256_BLOCK - s->buf_len;
        if (take > len)
            take = len;
        memcpy(s->buf + s->buf_len, p, take);
        s->buf_len += (uint32_t)take;
        p += take;
        len -= take;
        if (s->buf_len == WK_SHA256_BLOCK) {
            sha256__block(s->h, s->buf);
            s->buf_len = 0;
        }
    }
}

void wk_sha256_final(wk_sha256 *s, uint8_t out[WK_SHA256_LEN])
{
    uint64_t bits = s->total_bytes * 8;
    uint8_t pad = 0x80;
    wk_sha256_update(s, &pad, 1);
    pad = 0;
    while (s->buf_len != 56)
        wk_sha256_update(s, &pad, 1);
    uint8_t len_be[8];
    for (int i = 0; i < 8; i++)
        len_be[i] = (uint8_t)(bits >> (56 - 8 * i));
    wk_sha256_update(s, len_be, 8);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(s->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)s->h[i];
    }
}

void wk_sha256_digest(const void *data, size_t len, uint8_t out[WK_SHA256_LEN])
{
    wk_sha256 s;
    wk_sha256_init(&s);
    wk_sha256_update(&s, data, len);
    wk_sha256_final(&s, out);
}

void wk_hmac_sha256(const uint8_t *key, size_t key_len, const void *msg1, size_t len1,
                    const void *msg2, size_t len2, uint8_t out[WK_SHA256_LEN])
{
    uint8_t k[WK_SHA256_BLOCK];
    uint8_t pad[WK_SHA256_BLOCK];
    uint8_t inner[WK_SHA256_LEN];
    wk_sha256 s;

    memset(k, 0, sizeof k);
    if (key_len > WK_SHA256_BLOCK)
        wk_sha256_digest(key, key_len, k);
    else if (key_len > 0)
        memcpy(k, key, key_len);

    for (int i = 0; i < WK_SHA256_BLOCK; i++)
        pad[i] = (uint8_t)(k[i] ^ 0x36);
    wk_sha256_init(&s);
    wk_sha256_update(&s, pad, sizeof pad);
    wk_sha256_update(&s, msg1, len1);
    wk_sha256_update(&s, msg2, len2);
    wk_sha256_final(&s, inner);

    for (int i = 0; i < WK_SHA256_BLOCK; i++)
        pad[i] = (uint8_t)(k[i] ^ 0x5c);
    wk_sha256_init(&s);
    wk_sha256_update(&s, pad, sizeof pad);
    wk_sha256_update(&s, inner, sizeof inner);
    wk_sha256_final(&s, out);
}

int wk_mem_equal_ct(const uint8_t *a, const uint8_t *b, size_t n)
{
    uint8_t diff = 0;
    for (size_t i = 0; i < n; i++)
        diff |= (uint8_t)(a[i] ^ b[i]);
    return diff == 0;
}
