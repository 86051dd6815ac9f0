/*
 * merkle.c - RFC 9162 hashing, compact ranges, proof generation over a node callback and
 * proof verification. No I/O, no allocation; the only shared state is the SHA-256 method
 * fetched once from OpenSSL.
 */
#include "ledger/merkle.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

static EVP_MD *merkle__md;
static pthread_once_t merkle__once = PTHREAD_ONCE_INIT;

static void merkle__fetch(void)
{
    merkle__md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

void wk_sha256(const void *a, size_t alen, const void *b, size_t blen, const void *c, size_t clen,
               uint8_t out[WK_HASH_LEN])
{
    pthread_once(&merkle__once, merkle__fetch);
    WK_PANIC_IF(!merkle__md);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    WK_PANIC_IF(!ctx);
    unsigned int n = 0;
    int ok = EVP_DigestInit_ex2(ctx, merkle__md, NULL);
    if (ok && alen)
        ok = EVP_DigestUpdate(ctx, a, alen);
    if (ok && blen)
        ok = EVP_DigestUpdate(ctx, b, blen);
    if (ok && clen)
        ok = EVP_DigestUpdate(ctx, c, clen);
    if (ok)
        ok = EVP_DigestFinal_ex(ctx, out, &n);
    EVP_MD_CTX_free(ctx);
    WK_PANIC_IF(!ok || n != WK_HASH_LEN);
}

void wk_merkle_leaf_hash(const void *data, size_t len, uint8_t out[WK_HASH_LEN])
{
    static const uint8_t prefix = 0x00;
    wk_sha256(&prefix, 1, data, len, NULL, 0, out);
}

void wk_merkle_node_hash(const uint8_t left[WK_HASH_LEN], const uint8_t right[WK_HASH_LEN],
                         uint8_t out[WK_HASH_LEN])
{
    static const uint8_t prefix = 0x01;
    wk_sha256(&prefix, 1, left, WK_HASH_LEN, right, WK_HASH_LEN, out);
}

void wk_merkle_empty_root(uint8_t out[WK_HASH_LEN])
{
    wk_sha256(NULL, 0, NULL, 0, NULL, 0, out);
}

/* ---- compact range ---- */

void wk_merkle_range_init(wk_merkle_range *r)
{
    r->size = 0;
    r->n = 0;
}

void wk_merkle_range_push(wk_merkle_range *r, const uint8_t leaf_hash[WK_HASH_LEN])
{
    WK_PANIC_IF(r->n >= 64);
    memcpy(r->h[r->n++], leaf_hash, WK_HASH_LEN);
    /* Each trailing 1 bit of the old size is a perfect subtree that now has a right
     * sibling of equal size: merge them. */
    for (uint64_t s = r->size; s & 1; s >>= 1) {
        wk_merkle_node_hash(r->h[r->n - 2], r->h[r->n - 1], r->h[r->n - 2]);
        r->n--;
    }
    r->size++;
    WK_ASSERT(r->n == __builtin_popcountll(r->size));
}

void wk_merkle_range_root(const wk_merkle_range *r, uint8_t out[WK_HASH_LEN])
{
    if (r->n == 0) {
        wk_merkle_empty_root(out);
        return;
    }
    uint8_t acc[WK_HASH_LEN];
    memcpy(acc, r->h[r->n - 1], WK_HASH_LEN);
    for (int i = r->n - 2; i >= 0; i--)
        wk_merkle_node_hash(r->h[i], acc, acc);
    memcpy(out, acc, WK_HASH_LEN);
}

/* ---- proof generation ---- */

/* Largest power of two strictly less than n (n >= 2). */
static uint64_t merkle__split(uint64_t n)
{
    WK_ASSERT(n >= 2);
    uint64_t k = UINT64_C(1) << (63 - __builtin_clzll(n - 1));
    return k;
}

wk_err wk_merkle_subtree_root(wk_merkle_node_fn fn, void *ctx, uint64_t start, uint64_t end,
                              uint8_t out[WK_HASH_LEN], wk_diag *d)
{
    uint8_t blocks[64][WK_HASH_LEN];
    int nb = 0;
    uint64_t pos = start;
    if (end <= start)
        return wk_diag_set(d, WK_EINTERNAL, "merkle: empty subtree range");
    while (pos < end) {
        /* The largest aligned perfect block starting at pos that fits. */
        uint32_t level = pos ? (uint32_t)__builtin_ctzll(pos) : 63;
        while (level > 0 && (level >= 64 || (UINT64_C(1) << level) > end - pos))
            level--;
        wk_err e = fn(ctx, level, pos >> level, blocks[nb], d);
        if (e)
            return e;
        nb++;
        pos += UINT64_C(1) << level;
        WK_ASSERT(nb <= 64);
    }
    for (int i = nb - 2; i >= 0; i--)
        wk_merkle_node_hash(blocks[i], blocks[nb - 1], blocks[nb - 1]);
    memcpy(out, blocks[nb - 1], WK_HASH_LEN);
    return WK_OK;
}

wk_err wk_merkle_root(wk_merkle_node_fn fn, void *ctx, uint64_t size, uint8_t out[WK_HASH_LEN],
                      wk_diag *d)
{
    if (size == 0) {
        wk_merkle_empty_root(out);
        return WK_OK;
    }
    return wk_merkle_subtree_root(fn, ctx, 0, size, out, d);
}

static void merkle__reverse(uint8_t proof[][WK_HASH_LEN], size_t n)
{
    uint8_t t[WK_HASH_LEN];
    for (size_t i = 0; i < n / 2; i++) {
        memcpy(t, proof[i], WK_HASH_LEN);
        memcpy(proof[i], proof[n - 1 - i], WK_HASH_LEN);
        memcpy(proof[n - 1 - i], t, WK_HASH_LEN);
    }
}

wk_err wk_merkle_inclusion_proof(wk_merkle_node_fn fn, void *ctx, uint64_t index, uint64_t size,
                                 uint8_t proof[][WK_HASH_LEN], size_t *n, wk_diag *d)
{
    uint64_t s = 0, e = size;
    size_t k = 0;
    *n = 0;
    if (index >= size)
        return wk_diag_set(d, WK_EINVAL, "leaf index %llu is not below tree size %llu",
                           (unsigned long long)index, (unsigned long long)size);
    /* Walk down from the root; the sibling collected at each step is the element the RFC
     * recursion appends after the sub-proof, so reverse at the end (leaf to root). */
    while (e - s > 1) {
        uint64_t split = merkle__split(e - s);
        wk_err err;
        if (index < s + split) {
            err = wk_merkle_subtree_root(fn, ctx, s + split, e, proof[k], d);
            e = s + split;
        } else {
            err = wk_merkle_subtree_root(fn, ctx, s, s + split, proof[k], d);
            s = s + split;
        }
        if (err)
            return err;
        k++;
        WK_ASSERT(k <= WK_MERKLE_PROOF_MAX);
    }
    merkle__reverse(proof, k);
    *n = k;
    return WK_OK;
}

wk_err wk_merkle_consistency_proof(wk_merkle_node_fn fn, void *ctx, uint64_t size1,
                                   uint64_t size2, uint8_t proof[][WK_HASH_LEN], size_t *n,
                                   wk_diag *d)
{
    uint64_t s = 0, e = size2, m = size1;
    bool complete = true; /* the RFC's b: the sub-tree is the whole old tree */
    size_t k = 0;
    wk_err err;
    *n = 0;
    if (size1 == 0 || size1 > size2)
        return wk_diag_set(d, WK_EINVAL, "no consistency proof from size %llu to %llu",
                           (unsigned long long)size1, (unsigned long long)size2);
    while (m != e - s) {
        uint64_t split = merkle__split(e - s);
        if (m <= split) {
            err = wk_merkle_subtree_root(fn, ctx, s + split, e, proof[k], d);
            e = s + split;
        } else {
            err = wk_merkle_subtree_root(fn, ctx, s, s + split, proof[k], d);
            s = s + split;
            m -= split;
            complete = false;
        }
        if (err)
            return err;
        k++;
        WK_ASSERT(k < WK_MERKLE_PROOF_MAX);
    }
    if (!complete) {
        err = wk_merkle_subtree_root(fn, ctx, s, e, proof[k], d);
        if (err)
            return err;
        k++;
    }
    merkle__reverse(proof, k);
    *n = k;
    return WK_OK;
}

/* ---- verification (RFC 9162 2.1.3.2 and 2.1.4.2) ---- */

wk_err wk_merkle_verify_inclusion(uint64_t index, uint64_t size,
                                  const uint8_t leaf_hash[WK_HASH_LEN],
                                  const uint8_t proof[][WK_HASH_LEN], size_t n,
                                  const uint8_t root[WK_HASH_LEN], wk_diag *d)
{
    uint8_t r[WK_HASH_LEN];
    if (index >= size)
        return wk_diag_set(d, WK_ECRYPTO, "inclusion: leaf index %llu not below tree size %llu",
                           (unsigned long long)index, (unsigned long long)size);
    uint64_t fn = index, sn = size - 1;
    memcpy(r, leaf_hash, WK_HASH_LEN);
    for (size_t i = 0; i < n; i++) {
        if (sn == 0)
            return wk_diag_set(d, WK_ECRYPTO, "inclusion: proof has too many hashes (%zu)", n);
        if ((fn & 1) || fn == sn) {
            wk_merkle_node_hash(proof[i], r, r);
            if (!(fn & 1))
                while (!(fn & 1) && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
        } else {
            wk_merkle_node_hash(r, proof[i], r);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0)
        return wk_diag_set(d, WK_ECRYPTO, "inclusion: proof has too few hashes (%zu)", n);
    if (memcmp(r, root, WK_HASH_LEN))
        return wk_diag_set(d, WK_ECRYPTO, "inclusion: computed root does not match");
    return WK_OK;
}

wk_err wk_merkle_verify_consistency(uint64_t size1, uint64_t size2,
                                    const uint8_t root1[WK_HASH_LEN],
                                    const uint8_t root2[WK_HASH_LEN],
                                    const uint8_t proof[][WK_HASH_LEN], size_t n, wk_diag *d)
{
    uint8_t fr[WK_HASH_LEN], sr[WK_HASH_LEN];
    if (size1 == 0)
        return wk_diag_set(d, WK_ECRYPTO, "consistency: proof from the empty tree");
    if (size2 < size1)
        return wk_diag_set(d, WK_ECRYPTO, "consistency: size %llu is below %llu",
                           (unsigned long long)size2, (unsigned long long)size1);
    if (size1 == size2) {
        if (n != 0)
            return wk_diag_set(d, WK_ECRYPTO, "consistency: equal sizes need an empty proof");
        if (memcmp(root1, root2, WK_HASH_LEN))
            return wk_diag_set(d, WK_ECRYPTO, "consistency: equal sizes, different roots");
        return WK_OK;
    }
    if (n == 0)
        return wk_diag_set(d, WK_ECRYPTO, "consistency: empty proof");
    bool pow2 = (size1 & (size1 - 1)) == 0;
    /* With size1 a power of two the path starts with root1 (implicitly prepended). */
    size_t total = n + (pow2 ? 1 : 0);
    uint64_t fn = size1 - 1, sn = size2 - 1;
    while (fn & 1) {
        fn >>= 1;
        sn >>= 1;
    }
    const uint8_t *first = pow2 ? root1 : proof[0];
    memcpy(fr, first, WK_HASH_LEN);
    memcpy(sr, first, WK_HASH_LEN);
    for (size_t i = 1; i < total; i++) {
        const uint8_t *c = proof[pow2 ? i - 1 : i];
        if (sn == 0)
            return wk_diag_set(d, WK_ECRYPTO, "consistency: proof has too many hashes (%zu)", n);
        if ((fn & 1) || fn == sn) {
            wk_merkle_node_hash(c, fr, fr);
            wk_merkle_node_hash(c, sr, sr);
            if (!(fn & 1))
                while (!(fn & 1) && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
        } else {
            wk_merkle_node_hash(sr, c, sr);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0)
        return wk_diag_set(d, WK_ECRYPTO, "consistency: proof has too few hashes (%zu)", n);
    if (memcmp(fr, root1, WK_HASH_LEN))
        return wk_diag_set(d, WK_ECRYPTO, "consistency: old root does not match");
    if (memcmp(sr, root2, WK_HASH_LEN))
        return wk_diag_set(d, WK_ECRYPTO, "consistency: new root does not match");
    return WK_OK;
}
