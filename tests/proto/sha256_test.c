/* sha256_test.c - src/proto/sha256.c against FIPS/RFC 4231 vectors and OpenSSL on random
 * inputs of every length up to 300 bytes (crossing the 55/56/64-byte padding edges). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#include "proto/sha256.h"

static void test_vectors(void **state)
{
    (void)state;
    uint8_t d[32];
    static const uint8_t abc[32] = {
        0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
        0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
    wk_sha256_digest("abc", 3, d);
    assert_memory_equal(d, abc, 32);
    /* RFC 4231 test case 2 */
    static const uint8_t tc2[32] = {
        0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e, 0x6a, 0x04, 0x24, 0x26, 0x08, 0x95, 0x75, 0xc7,
        0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27, 0x39, 0x83, 0x9d, 0xec, 0x58, 0xb9, 0x64, 0xec, 0x38, 0x43};
    wk_hmac_sha256((const uint8_t *)"Jefe", 4, "what do ya want ", 16, "for nothing?", 12, d);
    assert_memory_equal(d, tc2, 32);
}

static void test_against_openssl(void **state)
{
    (void)state;
    uint8_t buf[300], key[131], a[32], b[32];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)((x = x * 1103515245u + 12345u) >> 16);
    for (size_t i = 0; i < sizeof key; i++)
        key[i] = (uint8_t)((x = x * 1103515245u + 12345u) >> 16);
    for (size_t n = 0; n <= sizeof buf; n++) {
        wk_sha256_digest(buf, n, a);
        unsigned bl = 0;
        assert_int_equal(EVP_Digest(buf, n, b, &bl, EVP_sha256(), NULL), 1);
        assert_memory_equal(a, b, 32);
        size_t kl = n % sizeof key;
        wk_hmac_sha256(key, kl, buf, n / 3, buf + n / 3, n - n / 3, a);
        assert_non_null(HMAC(EVP_sha256(), key, (int)kl, buf, n, b, &bl));
        assert_memory_equal(a, b, 32);
    }
    assert_true(wk_mem_equal_ct(a, b, 32));
    b[31] ^= 1;
    assert_false(wk_mem_equal_ct(a, b, 32));
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_vectors),
                                       cmocka_unit_test(test_against_openssl)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
