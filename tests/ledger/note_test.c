/*
 * note_test.c - src/ledger/note.c against the golang.org/x/mod sumdb/note "PeterNeumann"
 * vector (payments-ledger.md 3.5), key formats, tampering, and leaf/checkpoint encodings of
 * src/ledger/leaf.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "ledger/leaf.h"
#include "ledger/note.h"
#include "proto/encoding.h"

static const char VKEY[] = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
static const char SKEY[] = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
static const char TEXT[] = "If you think cryptography is the answer to your problem,\n"
                           "then you don't know what your problem is.\n";
static const char SIGLINE[] = "\xe2\x80\x94 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

static void test_vector(void **state)
{
    (void)state;
    wk_note_verifier v;
    wk_note_signer s;
    wk_diag d = {{0}};
    char buf[WK_NOTE_KEY_TEXT_MAX], line[WK_NOTE_SIGLINE_MAX], note[1024];
    size_t tl = 0;
    assert_int_equal(wk_note_verifier_parse(VKEY, strlen(VKEY), &v, &d), WK_OK);
    assert_string_equal(v.name, "PeterNeumann");
    assert_int_equal(v.key_id, 0xc74f20a3u);
    assert_int_equal(wk_note_key_id(v.name, v.pub), 0xc74f20a3u);
    assert_int_equal(wk_note_signer_parse(SKEY, strlen(SKEY), &s, &d), WK_OK);
    assert_memory_equal(s.v.pub, v.pub, 32); /* public key derived from the seed */
    assert_string_equal(wk_note_verifier_format(&v, buf, sizeof buf), VKEY);
    assert_string_equal(wk_note_signer_format(&s, buf, sizeof buf), SKEY);
    /* Ed25519 is deterministic: re-signing reproduces the published signature line. */
    assert_int_equal(wk_note_sign(&s, TEXT, strlen(TEXT), line, sizeof line, &d), WK_OK);
    assert_string_equal(line, SIGLINE);
    snprintf(note, sizeof note, "%s\n%s", TEXT, SIGLINE);
    assert_int_equal(wk_note_verify(note, strlen(note), &v, &tl, &d), WK_OK);
    assert_int_equal(tl, strlen(TEXT));
    /* Unknown signers are ignored as long as ours is there. */
    snprintf(note, sizeof note, "%s\n\xe2\x80\x94 Other AAAAAAAA\n%s", TEXT, SIGLINE);
    assert_int_equal(wk_note_verify(note, strlen(note), &v, &tl, &d), WK_OK);
}

static void test_tampered(void **state)
{
    (void)state;
    wk_note_verifier v, other;
    wk_note_signer s2;
    wk_diag d = {{0}};
    char note[1024], line[WK_NOTE_SIGLINE_MAX];
    size_t tl = 0;
    assert_int_equal(wk_note_verifier_parse(VKEY, strlen(VKEY), &v, &d), WK_OK);
    /* text changed */
    snprintf(note, sizeof note, "%s\n%s", "If you think cryptography is the answer!\n", SIGLINE);
    assert_int_equal(wk_note_verify(note, strlen(note), &v, &tl, &d), WK_ECRYPTO);
    /* signature byte changed */
    snprintf(note, sizeof note, "%s\n%s", TEXT, SIGLINE);
    char *p = strstr(note, "x08go");
    p[10] = p[10] == 'A' ? 'B' : 'A';
    assert_int_not_equal(wk_note_verify(note, strlen(note), &v, &tl, &d), WK_OK);
    /* no signature by our key */
    snprintf(note, sizeof note, "%s\n\xe2\x80\x94 Other AAAAAAAA\n", TEXT);
    assert_int_equal(wk_note_verify(note, strlen(note), &v, &tl, &d), WK_ECRYPTO);
    /* a valid signature by another key with our name */
    assert_int_equal(wk_note_signer_generate("PeterNeumann", &s2, &d), WK_OK);
    assert_int_equal(wk_note_sign(&s2, TEXT, strlen(TEXT), line, sizeof line, &d), WK_OK);
    snprintf(note, sizeof note, "%s\n%s", TEXT, line);
    assert_int_equal(wk_note_verify(note, strlen(note), &v, &tl, &d), WK_ECRYPTO);
    other = s2.v;
    assert_int_equal(wk_note_verify(note, strlen(note), &other, &tl, &d), WK_OK);
    /* malformed */
    assert_int_not_equal(wk_note_verify(TEXT, strlen(TEXT), &v, &tl, &d), WK_OK);
    snprintf(note, sizeof note, "%s\n- PeterNeumann abc\n", TEXT);
    assert_int_equal(wk_note_verify(note, strlen(note), &v, &tl, &d), WK_EINVAL);
    snprintf(note, sizeof note, "%s\n%s", TEXT, SIGLINE);
    assert_int_not_equal(wk_note_verify(note, strlen(note) - 1, &v, &tl, &d), WK_OK);
    /* keys: id mismatch, wrong algorithm, bad names */
    static const char bad_id[] = "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    assert_int_not_equal(wk_note_verifier_parse(bad_id, strlen(bad_id), &v, &d), WK_OK);
    static const char bad_alg[] = "PeterNeumann+c74f20a3+AhpC2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    assert_int_not_equal(wk_note_verifier_parse(bad_alg, strlen(bad_alg), &v, &d), WK_OK);
    assert_int_not_equal(wk_note_signer_generate("a b", &s2, &d), WK_OK);
    assert_int_not_equal(wk_note_signer_generate("a+b", &s2, &d), WK_OK);
}

static void test_leaf_roundtrip(void **state)
{
    (void)state;
    wk_leaf_record r, back;
    uint8_t buf[WK_LEAF_MAX];
    size_t n = 0;
    wk_diag d = {{0}};
    memset(&r, 0, sizeof r);
    r.leaf_index = 7;
    for (int i = 0; i < 16; i++)
        r.id[i] = (uint8_t)(i * 17);
    r.debit_account_id = 2;
    r.credit_account_id = 1;
    r.amount_fen = 12345;
    r.flags = 1;
    r.time_s = 1795817384;
    snprintf(r.reason, sizeof r.reason, "%s", "充值 top-up");
    r.reason_len = strlen(r.reason);
    assert_int_equal(wk_leaf_encode(&r, buf, sizeof buf, &n, &d), WK_OK);
    assert_int_equal(n, WK_LEAF_FIXED_LEN + r.reason_len);
    char hx[2 * WK_LEAF_MAX + 1];
    wk_hex_encode(buf, 44, hx, sizeof hx);
    /* version, type, index 7, id, debit 2, credit 1 (fixed layout, big-endian) */
    assert_string_equal(hx, "01010000000000000007"
                            "00112233445566778899aabbccddeeff"
                            "0000000000000002"
                            "0000000000000001"
                            "0000");
    assert_int_equal(wk_leaf_decode(buf, n, &back, &d), WK_OK);
    assert_memory_equal(&back.id, &r.id, 16);
    assert_int_equal(back.amount_fen, 12345);
    assert_string_equal(back.reason, r.reason);
    assert_int_not_equal(wk_leaf_decode(buf, n - 1, &back, &d), WK_OK);
    buf[0] = 2;
    assert_int_not_equal(wk_leaf_decode(buf, n, &back, &d), WK_OK);
    r.amount_fen = 0;
    assert_int_not_equal(wk_leaf_encode(&r, buf, sizeof buf, &n, &d), WK_OK);
    r.amount_fen = 1;
    memcpy(r.reason, "bad\xff", 5);
    r.reason_len = 4;
    assert_int_not_equal(wk_leaf_encode(&r, buf, sizeof buf, &n, &d), WK_OK);
}

static void test_checkpoint_text(void **state)
{
    (void)state;
    wk_checkpoint_body b, back;
    char text[WK_CHECKPOINT_TEXT_MAX];
    size_t n = 0;
    wk_diag d = {{0}};
    memset(&b, 0, sizeof b);
    snprintf(b.origin, sizeof b.origin, "%s", "example.com/log");
    b.tree_size = 6;
    memset(b.root, 0xab, sizeof b.root);
    b.time_s = 1700000000;
    assert_int_equal(wk_checkpoint_format(&b, text, sizeof text, &n, &d), WK_OK);
    assert_string_equal(text, "example.com/log\n6\nq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=\n"
                              "time 1700000000\n");
    assert_int_equal(wk_checkpoint_parse(text, n, &back, &d), WK_OK);
    assert_int_equal(back.tree_size, 6);
    assert_memory_equal(back.root, b.root, 32);
    assert_int_not_equal(wk_checkpoint_parse(text, n - 1, &back, &d), WK_OK);
    static const char lead0[] = "example.com/log\n06\nq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=\ntime 1\n";
    assert_int_not_equal(wk_checkpoint_parse(lead0, strlen(lead0), &back, &d), WK_OK);
}

static void test_base64(void **state)
{
    (void)state;
    uint8_t out[8];
    size_t n = 0;
    char b[16];
    assert_string_equal(wk_base64_encode("f", 1, b, sizeof b), "Zg==");
    assert_string_equal(wk_base64_encode("fo", 2, b, sizeof b), "Zm8=");
    assert_string_equal(wk_base64_encode("foo", 3, b, sizeof b), "Zm9v");
    assert_int_equal(wk_base64_decode("Zm8=", 4, out, sizeof out, &n), WK_OK);
    assert_int_equal(n, 2);
    assert_int_not_equal(wk_base64_decode("Zm9=", 4, out, sizeof out, &n), WK_OK); /* stray bits */
    assert_int_not_equal(wk_base64_decode("Zm8", 3, out, sizeof out, &n), WK_OK);
    assert_int_not_equal(wk_base64_decode("Z=8=", 4, out, sizeof out, &n), WK_OK);
    assert_int_not_equal(wk_base64_decode("Zm 8", 4, out, sizeof out, &n), WK_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vector),       cmocka_unit_test(test_tampered),
        cmocka_unit_test(test_leaf_roundtrip), cmocka_unit_test(test_checkpoint_text),
        cmocka_unit_test(test_base64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
