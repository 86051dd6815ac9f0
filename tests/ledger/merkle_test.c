/*
 * merkle_test.c - src/ledger/merkle.c against the RFC 6962 / transparency-dev vectors
 * (payments-ledger.md 3.4), every tampering of a proof we can think of, and a property test
 * (every proof generated for every index/size pair up to 70 leaves verifies; every
 * mutation of it fails).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/merkle.h"
#include "proto/encoding.h"

static const char *const LEAVES[8] = {"", "00", "10", "2021", "3031", "40414243",
                                      "5051525354555657", "606162636465666768696a6b6c6d6e6f"};
static const char *const LEAF_HASHES[8] = {
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
    "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
    "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1"};
static const char *const ROOTS[9] = {
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"};
#define H_5F "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"
#define H_6B "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"
#define H_CA "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"
#define H_0E "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"
#define H_83 "837dbb152e9b079010717e84e865da4ebc0fa198a806d59d31bf15accef22d0e"

static void hex(const char *s, uint8_t *out, size_t cap, size_t *n)
{
    size_t got = 0;
    assert_int_equal(wk_hex_decode(s, strlen(s), out, cap, &got), WK_OK);
    if (n)
        *n = got;
}

static void hash_of(const char *s, uint8_t out[WK_HASH_LEN])
{
    size_t n = 0;
    hex(s, out, WK_HASH_LEN, &n);
    assert_int_equal(n, WK_HASH_LEN);
}

/* In-memory tree: leaf hashes, nodes computed on demand (the callback contract). */
typedef struct mem_tree {
    size_t n;
    uint8_t (*leaves)[WK_HASH_LEN];
    int calls;
} mem_tree;

static void mth(const mem_tree *t, uint64_t start, uint64_t end, uint8_t out[WK_HASH_LEN])
{
    if (end - start == 1) {
        memcpy(out, t->leaves[start], WK_HASH_LEN);
        return;
    }
    uint64_t k = 1;
    while (k * 2 < end - start)
        k *= 2;
    uint8_t l[WK_HASH_LEN], r[WK_HASH_LEN];
    mth(t, start, start + k, l);
    mth(t, start + k, end, r);
    wk_merkle_node_hash(l, r, out);
}

static wk_err mem_node(void *ctx, uint32_t level, uint64_t idx, uint8_t out[WK_HASH_LEN], wk_diag *d)
{
    mem_tree *t = ctx;
    uint64_t start = idx << level, end = (idx + 1) << level;
    t->calls++;
    if (end > t->n)
        return wk_diag_set(d, WK_EINTERNAL, "node beyond the tree");
    mth(t, start, end, out);
    return WK_OK;
}

static mem_tree vec_tree(void)
{
    static uint8_t leaves[8][WK_HASH_LEN];
    for (int i = 0; i < 8; i++) {
        uint8_t data[16];
        size_t n = 0;
        hex(LEAVES[i], data, sizeof data, &n);
        wk_merkle_leaf_hash(data, n, leaves[i]);
    }
    return (mem_tree){8, leaves, 0};
}

static void test_hasher(void **state)
{
    (void)state;
    uint8_t h[WK_HASH_LEN], want[WK_HASH_LEN];
    wk_merkle_empty_root(h);
    hash_of(ROOTS[0], want);
    assert_memory_equal(h, want, WK_HASH_LEN);
    wk_merkle_leaf_hash("L123456", 7, h);
    hash_of("395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56", want);
    assert_memory_equal(h, want, WK_HASH_LEN);
    static const uint8_t one = 1;
    wk_sha256(&one, 1, "N123", 4, "N456", 4, h);
    hash_of("aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb", want);
    assert_memory_equal(h, want, WK_HASH_LEN);
    for (int i = 0; i < 8; i++) {
        uint8_t data[16];
        size_t n = 0;
        hex(LEAVES[i], data, sizeof data, &n);
        wk_merkle_leaf_hash(data, n, h);
        hash_of(LEAF_HASHES[i], want);
        assert_memory_equal(h, want, WK_HASH_LEN);
    }
}

static void test_roots(void **state)
{
    (void)state;
    mem_tree t = vec_tree();
    wk_merkle_range r;
    wk_merkle_range_init(&r);
    uint8_t h[WK_HASH_LEN], want[WK_HASH_LEN];
    wk_merkle_range_root(&r, h);
    hash_of(ROOTS[0], want);
    assert_memory_equal(h, want, WK_HASH_LEN);
    for (size_t n = 1; n <= 8; n++) {
        wk_merkle_range_push(&r, t.leaves[n - 1]);
        hash_of(ROOTS[n], want);
        wk_merkle_range_root(&r, h);
        assert_memory_equal(h, want, WK_HASH_LEN);
        assert_int_equal(wk_merkle_root(mem_node, &t, n, h, NULL), WK_OK);
        assert_memory_equal(h, want, WK_HASH_LEN);
    }
}

typedef struct inc_vec {
    uint64_t index, size;
    const char *proof[4];
} inc_vec;

static const inc_vec INCLUSION[] = {
    {0, 1, {NULL}},
    {0, 8, {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7", H_5F, H_6B, NULL}},
    {5, 8, {"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b", H_CA,
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7", NULL}},
    {2, 3, {"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125", NULL}},
    {1, 5, {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d", H_5F,
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b", NULL}},
};

typedef struct cons_vec {
    uint64_t size1, size2;
    const char *proof[5];
} cons_vec;

static const cons_vec CONSISTENCY[] = {
    {1, 1, {NULL}},
    {1, 8, {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7", H_5F, H_6B, NULL}},
    {6, 8, {H_0E, H_CA, "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7", NULL}},
    {2, 5, {H_5F, "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b", NULL}},
    {6, 7, {H_0E, "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7", NULL}},
    {3, 7, {"0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
            "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125", H_83, NULL}},
    {4, 8, {H_6B, NULL}},
};

static size_t load_proof(const char *const *src, uint8_t proof[][WK_HASH_LEN])
{
    size_t n = 0;
    while (src[n]) {
        hash_of(src[n], proof[n]);
        n++;
    }
    return n;
}

/* Every mutation of a valid inclusion proof must fail. */
static void inclusion_tampered(uint64_t index, uint64_t size, const uint8_t leaf[WK_HASH_LEN],
                               uint8_t proof[][WK_HASH_LEN], size_t n, const uint8_t root[WK_HASH_LEN])
{
    uint8_t p2[WK_MERKLE_PROOF_MAX + 1][WK_HASH_LEN];
    uint8_t bad[WK_HASH_LEN];
    wk_diag d;
    assert_int_equal(wk_merkle_verify_inclusion(index, size, leaf, proof, n, root, &d), WK_OK);
    /* wrong index */
    if (index + 1 < size)
        assert_int_not_equal(wk_merkle_verify_inclusion(index + 1, size, leaf, proof, n, root, &d), WK_OK);
    if (index > 0)
        assert_int_not_equal(wk_merkle_verify_inclusion(index - 1, size, leaf, proof, n, root, &d), WK_OK);
    if ((index ^ 2) < size)
        assert_int_not_equal(wk_merkle_verify_inclusion(index ^ 2, size, leaf, proof, n, root, &d), WK_OK);
    assert_int_not_equal(wk_merkle_verify_inclusion(size, size, leaf, proof, n, root, &d), WK_OK);
    /* wrong size */
    assert_int_not_equal(wk_merkle_verify_inclusion(index, size * 2, leaf, proof, n, root, &d), WK_OK);
    if (size / 2 > index)
        assert_int_not_equal(wk_merkle_verify_inclusion(index, size / 2, leaf, proof, n, root, &d), WK_OK);
    assert_int_not_equal(wk_merkle_verify_inclusion(index, 0, leaf, proof, n, root, &d), WK_OK);
    /* wrong leaf, wrong root */
    memcpy(bad, leaf, WK_HASH_LEN);
    bad[0] ^= 8;
    assert_int_not_equal(wk_merkle_verify_inclusion(index, size, bad, proof, n, root, &d), WK_OK);
    memcpy(bad, root, WK_HASH_LEN);
    bad[31] ^= 1;
    assert_int_not_equal(wk_merkle_verify_inclusion(index, size, leaf, proof, n, bad, &d), WK_OK);
    /* extra element at the end and at the front, the root appended */
    memcpy(p2, proof, n * WK_HASH_LEN);
    memset(p2[n], 0x5a, WK_HASH_LEN);
    assert_int_not_equal(wk_merkle_verify_inclusion(index, size, leaf, p2, n + 1, root, &d), WK_OK);
    memcpy(p2[n], root, WK_HASH_LEN);
    assert_int_not_equal(wk_merkle_verify_inclusion(index, size, leaf, p2, n + 1, root, &d), WK_OK);
    memset(p2[0], 0x5a, WK_HASH_LEN);
    memcpy(p2[1], proof, n * WK_HASH_LEN);
    assert_int_not_equal(wk_merkle_verify_inclusion(index, size, leaf, p2, n + 1, root, &d), WK_OK);
    /* each element removed, each element with bit 3 flipped */
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        for (size_t j = 0; j < n; j++)
            if (j != i)
                memcpy(p2[k++], proof[j], WK_HASH_LEN);
        assert_int_not_equal(wk_merkle_verify_inclusion(index, size, leaf, p2, n - 1, root, &d), WK_OK);
        memcpy(p2, proof, n * WK_HASH_LEN);
        p2[i][i % WK_HASH_LEN] ^= 8;
        assert_int_not_equal(wk_merkle_verify_inclusion(index, size, leaf, p2, n, root, &d), WK_OK);
    }
}

static void test_inclusion_vectors(void **state)
{
    (void)state;
    mem_tree t = vec_tree();
    for (size_t v = 0; v < sizeof INCLUSION / sizeof INCLUSION[0]; v++) {
        const inc_vec *iv = &INCLUSION[v];
        uint8_t want[WK_MERKLE_PROOF_MAX][WK_HASH_LEN], got[WK_MERKLE_PROOF_MAX][WK_HASH_LEN];
        uint8_t root[WK_HASH_LEN];
        size_t nw = load_proof(iv->proof, want), ng = 99;
        assert_int_equal(wk_merkle_inclusion_proof(mem_node, &t, iv->index, iv->size, got, &ng, NULL), WK_OK);
        assert_int_equal(ng, nw);
        if (nw)
            assert_memory_equal(got, want, nw * WK_HASH_LEN);
        hash_of(ROOTS[iv->size], root);
        inclusion_tampered(iv->index, iv->size, t.leaves[iv->index], want, nw, root);
    }
    uint8_t got[WK_MERKLE_PROOF_MAX][WK_HASH_LEN];
    size_t ng;
    wk_diag d;
    assert_int_equal(wk_merkle_inclusion_proof(mem_node, &t, 8, 8, got, &ng, &d), WK_EINVAL);
}

static void consistency_tampered(uint64_t s1, uint64_t s2, const uint8_t r1[WK_HASH_LEN],
                                 const uint8_t r2[WK_HASH_LEN], uint8_t proof[][WK_HASH_LEN], size_t n)
{
    uint8_t p2[WK_MERKLE_PROOF_MAX + 1][WK_HASH_LEN];
    wk_diag d;
    assert_int_equal(wk_merkle_verify_consistency(s1, s2, r1, r2, proof, n, &d), WK_OK);
    /* proof from size 0 is always rejected, even to size 0 */
    assert_int_not_equal(wk_merkle_verify_consistency(0, s2, r1, r2, proof, n, &d), WK_OK);
    assert_int_not_equal(wk_merkle_verify_consistency(0, 0, r1, r1, proof, 0, &d), WK_OK);
    /* reversed sizes, swapped roots, wrong sizes */
    if (s1 != s2) {
        assert_int_not_equal(wk_merkle_verify_consistency(s2, s1, r2, r1, proof, n, &d), WK_OK);
        assert_int_not_equal(wk_merkle_verify_consistency(s1, s2, r2, r1, proof, n, &d), WK_OK);
        assert_int_not_equal(wk_merkle_verify_consistency(s1, s2, r1, r2, proof, 0, &d), WK_OK);
        assert_int_not_equal(wk_merkle_verify_consistency(s1, s1, r1, r1, proof, n, &d), WK_OK);
    }
    if (s1 > 1)
        assert_int_not_equal(wk_merkle_verify_consistency(s1 - 1, s2, r1, r2, proof, n, &d), WK_OK);
    assert_int_not_equal(wk_merkle_verify_consistency(s1, s2 * 2, r1, r2, proof, n, &d), WK_OK);
    /* extra and missing elements, flipped bits */
    memcpy(p2, proof, n * WK_HASH_LEN);
    memset(p2[n], 0x33, WK_HASH_LEN);
    assert_int_not_equal(wk_merkle_verify_consistency(s1, s2, r1, r2, p2, n + 1, &d), WK_OK);
    memset(p2[0], 0x33, WK_HASH_LEN);
    memcpy(p2[1], proof, n * WK_HASH_LEN);
    assert_int_not_equal(wk_merkle_verify_consistency(s1, s2, r1, r2, p2, n + 1, &d), WK_OK);
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        for (size_t j = 0; j < n; j++)
            if (j != i)
                memcpy(p2[k++], proof[j], WK_HASH_LEN);
        assert_int_not_equal(wk_merkle_verify_consistency(s1, s2, r1, r2, p2, n - 1, &d), WK_OK);
        memcpy(p2, proof, n * WK_HASH_LEN);
        p2[i][7] ^= 8;
        assert_int_not_equal(wk_merkle_verify_consistency(s1, s2, r1, r2, p2, n, &d), WK_OK);
    }
}

static void test_consistency_vectors(void **state)
{
    (void)state;
    mem_tree t = vec_tree();
    for (size_t v = 0; v < sizeof CONSISTENCY / sizeof CONSISTENCY[0]; v++) {
        const cons_vec *cv = &CONSISTENCY[v];
        uint8_t want[WK_MERKLE_PROOF_MAX][WK_HASH_LEN], got[WK_MERKLE_PROOF_MAX][WK_HASH_LEN];
        uint8_t r1[WK_HASH_LEN], r2[WK_HASH_LEN];
        size_t nw = load_proof(cv->proof, want), ng = 99;
        assert_int_equal(wk_merkle_consistency_proof(mem_node, &t, cv->size1, cv->size2, got, &ng, NULL), WK_OK);
        assert_int_equal(ng, nw);
        if (nw)
            assert_memory_equal(got, want, nw * WK_HASH_LEN);
        hash_of(ROOTS[cv->size1], r1);
        hash_of(ROOTS[cv->size2], r2);
        consistency_tampered(cv->size1, cv->size2, r1, r2, want, nw);
    }
    uint8_t got[WK_MERKLE_PROOF_MAX][WK_HASH_LEN];
    size_t ng;
    assert_int_equal(wk_merkle_consistency_proof(mem_node, &t, 0, 8, got, &ng, NULL), WK_EINVAL);
    assert_int_equal(wk_merkle_consistency_proof(mem_node, &t, 5, 4, got, &ng, NULL), WK_EINVAL);
}

/* Every index/size pair up to N leaves: generated proofs verify; mutations fail; roots from
 * the callback equal the compact range's; proof generation costs O(log n) callbacks. */
static void test_property(void **state)
{
    (void)state;
    enum { N = 70 };
    static uint8_t leaves[N][WK_HASH_LEN];
    uint8_t roots[N + 1][WK_HASH_LEN];
    wk_merkle_range r;
    wk_merkle_range_init(&r);
    wk_merkle_range_root(&r, roots[0]);
    for (int i = 0; i < N; i++) {
        uint8_t data[4] = {(uint8_t)i, (uint8_t)(i * 7), 0xab, (uint8_t)(i >> 8)};
        wk_merkle_leaf_hash(data, sizeof data, leaves[i]);
        wk_merkle_range_push(&r, leaves[i]);
        wk_merkle_range_root(&r, roots[i + 1]);
    }
    mem_tree t = {N, leaves, 0};
    for (uint64_t size = 1; size <= N; size++) {
        uint8_t h[WK_HASH_LEN];
        assert_int_equal(wk_merkle_root(mem_node, &t, size, h, NULL), WK_OK);
        assert_memory_equal(h, roots[size], WK_HASH_LEN);
        for (uint64_t i = 0; i < size; i++) {
            uint8_t p[WK_MERKLE_PROOF_MAX][WK_HASH_LEN];
            size_t n = 0;
            t.calls = 0;
            assert_int_equal(wk_merkle_inclusion_proof(mem_node, &t, i, size, p, &n, NULL), WK_OK);
            assert_true(t.calls <= 2 * 7 + 1);
            inclusion_tampered(i, size, leaves[i], p, n, roots[size]);
        }
        for (uint64_t m = 1; m <= size; m++) {
            uint8_t p[WK_MERKLE_PROOF_MAX][WK_HASH_LEN];
            size_t n = 0;
            assert_int_equal(wk_merkle_consistency_proof(mem_node, &t, m, size, p, &n, NULL), WK_OK);
            consistency_tampered(m, size, roots[m], roots[size], p, n);
            if (m < size) /* a proof between other trees fails */
                assert_int_not_equal(wk_merkle_verify_consistency(m, size, roots[m], roots[size - 1], p, n, NULL), WK_OK);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hasher),
        cmocka_unit_test(test_roots),
        cmocka_unit_test(test_inclusion_vectors),
        cmocka_unit_test(test_consistency_vectors),
        cmocka_unit_test(test_property),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
