/*
 * merkle.h - RFC 9162 (RFC 6962) Merkle tree hashing, proofs and their verification.
 *
 *   leaf hash  = SHA-256(0x00 || data)
 *   node hash  = SHA-256(0x01 || left || right)
 *   MTH({})    = SHA-256("")
 *   MTH(D[n])  = node(MTH(D[0:k]), MTH(D[k:n])), k = largest power of two < n
 *
 * Pure: no I/O, no allocation, no globals except OpenSSL's SHA-256 implementation. Proof
 * generation reads hashes of perfect subtrees through a caller-supplied callback (the
 * ledger serves them from the database, tests from an array), so producing a proof costs
 * O(log n) callback calls whatever the tree size. Verification follows RFC 9162 sections
 * 2.1.3.2 and 2.1.4.2 exactly and rejects every malformed proof (wrong length included).
 */
#ifndef WK_LEDGER_MERKLE_H
#define WK_LEDGER_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define WK_HASH_LEN 32
#define WK_MERKLE_PROOF_MAX 64 /* hashes in any proof of a tree of < 2^63 leaves */

/* SHA-256 of the concatenation of up to three byte strings (NULL/0 parts are skipped).
 * Cannot fail: panics if OpenSSL cannot allocate a digest context. */
void wk_sha256(const void *a, size_t alen, const void *b, size_t blen, const void *c, size_t clen,
               uint8_t out[WK_HASH_LEN]);

void wk_merkle_leaf_hash(const void *data, size_t len, uint8_t out[WK_HASH_LEN]);
void wk_merkle_node_hash(const uint8_t left[WK_HASH_LEN], const uint8_t right[WK_HASH_LEN],
                         uint8_t out[WK_HASH_LEN]);
void wk_merkle_empty_root(uint8_t out[WK_HASH_LEN]);

/* Compact range: the roots of the perfect subtrees covering leaves [0, size), enough to
 * append and to compute the root in O(log n) memory. Used to rebuild a whole tree by
 * streaming its leaves (ledger verify) and in tests. */
typedef struct wk_merkle_range {
    uint64_t size;
    int n;
    uint8_t h[64][WK_HASH_LEN];
} wk_merkle_range;

void wk_merkle_range_init(wk_merkle_range *r);
void wk_merkle_range_push(wk_merkle_range *r, const uint8_t leaf_hash[WK_HASH_LEN]);
/* Root of the leaves pushed so far (the empty-tree hash when none). */
void wk_merkle_range_root(const wk_merkle_range *r, uint8_t out[WK_HASH_LEN]);

/* Hash of the perfect subtree at `level` (0 = leaves) with position `index` at that level,
 * i.e. MTH of leaves [index << level, (index + 1) << level). Returns WK_OK or an error that
 * is passed through unchanged. */
typedef wk_err (*wk_merkle_node_fn)(void *ctx, uint32_t level, uint64_t index,
                                    uint8_t out[WK_HASH_LEN], wk_diag *d);

/* MTH of leaves [start, end) where start is a multiple of the largest power of two not
 * above end - start (true of every range the RFC recursion visits). */
wk_err wk_merkle_subtree_root(wk_merkle_node_fn fn, void *ctx, uint64_t start, uint64_t end,
                              uint8_t out[WK_HASH_LEN], wk_diag *d) WK_MUST_CHECK;

/* Root of the first `size` leaves. */
wk_err wk_merkle_root(wk_merkle_node_fn fn, void *ctx, uint64_t size, uint8_t out[WK_HASH_LEN],
                      wk_diag *d) WK_MUST_CHECK;

/* Inclusion proof (leaf to root order) of leaf `index` in the tree of `size` leaves.
 * proof must hold WK_MERKLE_PROOF_MAX hashes; *n receives the count. WK_EINVAL if
 * index >= size. */
wk_err wk_merkle_inclusion_proof(wk_merkle_node_fn fn, void *ctx, uint64_t index, uint64_t size,
                                 uint8_t proof[][WK_HASH_LEN], size_t *n,
                                 wk_diag *d) WK_MUST_CHECK;

/* Consistency proof from size1 to size2 (0 < size1 <= size2), RFC 6962 PROOF(m, D[n]). */
wk_err wk_merkle_consistency_proof(wk_merkle_node_fn fn, void *ctx, uint64_t size1,
                                   uint64_t size2, uint8_t proof[][WK_HASH_LEN], size_t *n,
                                   wk_diag *d) WK_MUST_CHECK;

/* RFC 9162 2.1.3.2: WK_OK when proof shows leaf_hash at index in the tree of `size` with
 * this root; WK_ECRYPTO (with d saying why) otherwise. */
wk_err wk_merkle_verify_inclusion(uint64_t index, uint64_t size,
                                  const uint8_t leaf_hash[WK_HASH_LEN],
                                  const uint8_t proof[][WK_HASH_LEN], size_t n,
                                  const uint8_t root[WK_HASH_LEN], wk_diag *d) WK_MUST_CHECK;

/* RFC 9162 2.1.4.2: WK_OK when the tree of size2/root2 extends the one of size1/root1.
 * size1 = 0 is rejected (a proof from the empty tree is meaningless). */
wk_err wk_merkle_verify_consistency(uint64_t size1, uint64_t size2,
                                    const uint8_t root1[WK_HASH_LEN],
                                    const uint8_t root2[WK_HASH_LEN],
                                    const uint8_t proof[][WK_HASH_LEN], size_t n,
                                    wk_diag *d) WK_MUST_CHECK;

#endif
