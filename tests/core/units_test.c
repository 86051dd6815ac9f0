/* units_test.c - exact decimals, rounding and overflow checks of src/core/units.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/units.h"

static void parse_ok(const char *s, int scale, int64_t want)
{
    int64_t v = -777;
    wk_diag d = {{0}};
    assert_int_equal(wk_dec_parse_str(s, scale, &v, &d), WK_OK);
    assert_int_equal(v, want);
}

static void parse_bad(const char *s, int scale, const char *why)
{
    int64_t v = -777;
    wk_diag d = {{0}};
    assert_int_not_equal(wk_dec_parse_str(s, scale, &v, &d), WK_OK);
    assert_int_equal(v, -777); /* untouched on error */
    assert_non_null(strstr(d.msg, why));
}

static void test_parse(void **state)
{
    (void)state;
    parse_ok("0.5380", WK_SCALE_PRICE, 538000);
    parse_ok("0.538", WK_SCALE_PRICE, 538000);
    parse_ok("12.34", WK_SCALE_YUAN, 1234);
    parse_ok("2760", WK_SCALE_KWH, 2760000);
    parse_ok("999999.99", WK_SCALE_KWH, 999999990);
    parse_ok("-3.5", WK_SCALE_YUAN, -350);
    parse_ok("1.2300000", WK_SCALE_YUAN, 123); /* zeros beyond the scale are harmless */
    parse_bad("1.234", WK_SCALE_YUAN, "more than 2 decimal places");
    parse_bad("", 2, "empty");
    parse_bad("1.", 2, "no digit after");
    parse_bad(".5", 2, "not a decimal");
    parse_bad("+1", 2, "not a decimal");
    parse_bad("1e3", 2, "not a decimal");
    parse_bad(" 1", 2, "not a decimal");
    parse_bad("1 ", 2, "not a decimal");
    parse_bad("99999999999999999999", 0, "too large");
    parse_bad("9223372036854775.807", 4, "too large");
}

static void test_format(void **state)
{
    (void)state;
    char b[32];
    assert_string_equal(wk_dec_format(538000, 6, 4, b, sizeof b), "0.5380");
    assert_string_equal(wk_dec_format(162600, 2, 2, b, sizeof b), "1626.00");
    assert_string_equal(wk_dec_format(-5, 2, 2, b, sizeof b), "-0.05");
    assert_string_equal(wk_dec_format(1234500, 3, 0, b, sizeof b), "1234.5");
    assert_string_equal(wk_dec_format(INT64_MIN, 0, 0, b, sizeof b), "-9223372036854775808");
}

static void test_round(void **state)
{
    (void)state;
    assert_int_equal(wk_nyuan_to_fen(4999999), 0);
    assert_int_equal(wk_nyuan_to_fen(5000000), 1); /* half-up */
    assert_int_equal(wk_nyuan_to_fen(15000000), 2);
    assert_int_equal(wk_nyuan_to_fen(-5000000), 0); /* half-up goes towards +inf */
    assert_int_equal(wk_nyuan_to_fen(-5000001), -1);
    assert_int_equal(wk_nyuan_to_fen(INT64_MAX), INT64_MAX / WK_NYUAN_PER_FEN); /* rem .4775807 */
}

static void test_overflow(void **state)
{
    (void)state;
    int64_t out = 42;
    assert_int_equal(wk_add_i64(INT64_MAX, 1, &out), WK_ERANGE);
    assert_int_equal(wk_sub_i64(INT64_MIN, 1, &out), WK_ERANGE);
    assert_int_equal(wk_mul_i64(INT64_MAX / 2 + 1, 2, &out), WK_ERANGE);
    assert_int_equal(out, 42);
    assert_int_equal(wk_charge_nyuan(2760000, 538000, &out), WK_OK);
    assert_int_equal(out, INT64_C(1484880000000)); /* 2760 kWh x 0.538 = 1484.88 yuan */
    assert_int_equal(wk_nyuan_to_fen(out), 148488);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_round),
        cmocka_unit_test(test_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
