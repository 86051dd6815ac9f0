/*
 * sha256.h - freestanding SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104).
 *
 * Used by the meter core, which has no OpenSSL: no allocation, no libc beyond
 * memcpy/memset, state in caller-owned structs. The host side may use OpenSSL instead;
 * tests/proto/sha256_test.c checks both agree. Not constant-time against cache attacks
 * (it has no secret-dependent table lookups or branches, which is enough for a meter).
 */
#ifndef WK_PROTO_SHA256_H
#define WK_PROTO_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define WK_SHA256_LEN 32
#define WK_SHA256_BLOCK 64

typedef struct wk_sha256 {
    uint32_t h[8];
    uint64_t total_bytes;
    uint8_t buf[WK_SHA256_BLOCK];
    uint32_t buf_len;
} wk_sha256;

/* Starts a hash. Cannot fail. */
void wk_sha256_init(wk_sha256 *s);
/* Adds len bytes (data may be NULL when len is 0). Cannot fail. */
void wk_sha256_update(wk_sha256 *s, const void *data, size_t len);
/* Writes the 32-byte digest; s must be re-initialised before reuse. */
void wk_sha256_final(wk_sha256 *s, uint8_t out[WK_SHA256_LEN]);
/* One-shot digest. */
void wk_sha256_digest(const void *data, size_t len, uint8_t out[WK_SHA256_LEN]);

/* HMAC-SHA256 of the concatenation msg1 || msg2 (either may be empty) under key (any
 * length; keys longer than 64 bytes are hashed first as RFC 2104 says). Cannot fail. */
void wk_hmac_sha256(const uint8_t *key, size_t key_len, const void *msg1, size_t len1,
                    const void *msg2, size_t len2, uint8_t out[WK_SHA256_LEN]);

/* Compares n bytes in time independent of where they differ. Returns 1 if equal. */
int wk_mem_equal_ct(const uint8_t *a, const uint8_t *b, size_t n);

#endif
