/*
 * rules_test.c - the pure rules of src/notify/rules.c: names, days-left wording, yuan text,
 * quiet hours (inside, outside, over midnight, none), backoff (doubling, cap, no overflow)
 * and the webhook signature against a vector computed independently (Python hmac).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "notify/notify.h"

static void test_names(void **state)
{
    (void)state;
    wk_notify_kind k;
    assert_true(wk_notify_kind_of_event("warn1", &k));
    assert_int_equal(k, WK_NK_WARN1);
    assert_true(wk_notify_kind_of_event("decide_trip", &k));
    assert_string_equal(wk_notify_kind_name(k), "trip");
    assert_true(wk_notify_kind_of_event("foreign_command", &k));
    assert_true(wk_notify_kind_staff(k));
    assert_false(wk_notify_kind_staff(WK_NK_CREDIT));
    assert_false(wk_notify_kind_of_event("online", &k));
    assert_false(wk_notify_kind_of_event("trip", &k)); /* template name, not an event */
    wk_notify_channel c;
    assert_int_equal(wk_notify_channel_parse("wechat", &c), WK_OK);
    assert_int_equal(c, WK_NC_WECHAT);
    assert_int_equal(wk_notify_channel_parse("fax", &c), WK_EINVAL);
    wk_notify_lang l;
    assert_int_equal(wk_notify_lang_parse("zh-CN", &l), WK_OK);
    assert_int_equal(l, WK_NL_ZH);
    assert_int_equal(wk_notify_lang_parse("zh", &l), WK_EINVAL);
}

static void test_days_left(void **state)
{
    (void)state;
    char b[48];
    assert_string_equal(wk_notify_days_left_text(WK_NL_EN, -1, b, sizeof b), "");
    assert_string_equal(wk_notify_days_left_text(WK_NL_EN, 0, b, sizeof b), "Less than a day left at your usage.");
    assert_string_equal(wk_notify_days_left_text(WK_NL_EN, 1, b, sizeof b), "About 1 day left at your usage.");
    assert_string_equal(wk_notify_days_left_text(WK_NL_EN, 12, b, sizeof b), "About 12 days left at your usage.");
    assert_string_equal(wk_notify_days_left_text(WK_NL_ZH, 0, b, sizeof b), "按目前用量可用不足1天。");
    assert_string_equal(wk_notify_days_left_text(WK_NL_ZH, 3, b, sizeof b), "按目前用量约可用3天。");
    assert_string_equal(wk_notify_days_left_text(WK_NL_ZH, -5, b, sizeof b), "");
}

static void test_yuan(void **state)
{
    (void)state;
    char b[32];
    assert_string_equal(wk_notify_yuan(0, b, sizeof b), "0.00");
    assert_string_equal(wk_notify_yuan(5, b, sizeof b), "0.05");
    assert_string_equal(wk_notify_yuan(123456, b, sizeof b), "1234.56");
    assert_string_equal(wk_notify_yuan(-7, b, sizeof b), "-0.07");
    assert_string_equal(wk_notify_yuan(INT64_MIN, b, sizeof b), "-92233720368547758.08");
}

#define T_2330 INT64_C(1795793400000) /* 2026-11-27 23:30 +08:00 */
#define T_0700 INT64_C(1795820400000) /* 2026-11-28 07:00 +08:00 */
#define T_1200 INT64_C(1795752000000) /* 2026-11-27 12:00 +08:00 */
#define T_0200 INT64_C(1795802400000) /* 2026-11-28 02:00 +08:00 */
#define CST (8 * 3600)

static void test_quiet_hours(void **state)
{
    (void)state;
    /* 22:00-07:00 over midnight */
    assert_int_equal(wk_notify_quiet_until(T_2330, 22 * 60, 7 * 60, CST), T_0700);
    assert_int_equal(wk_notify_quiet_until(T_0200, 22 * 60, 7 * 60, CST), T_0700);
    assert_int_equal(wk_notify_quiet_until(T_1200, 22 * 60, 7 * 60, CST), T_1200);
    assert_int_equal(wk_notify_quiet_until(T_0700, 22 * 60, 7 * 60, CST), T_0700); /* end is open */
    /* 11:00-13:00 inside a day */
    assert_int_equal(wk_notify_quiet_until(T_1200, 11 * 60, 13 * 60, CST), T_1200 + 3600000);
    assert_int_equal(wk_notify_quiet_until(T_2330, 11 * 60, 13 * 60, CST), T_2330);
    /* none */
    assert_int_equal(wk_notify_quiet_until(T_2330, 0, 0, CST), T_2330);
    assert_int_equal(wk_notify_quiet_until(T_2330, 22 * 60, 22 * 60, CST), T_2330);
    /* the same instant in UTC terms: 15:30 UTC is outside 22:00-07:00 UTC */
    assert_int_equal(wk_notify_quiet_until(T_2330, 22 * 60, 7 * 60, 0), T_2330);
}

static void test_backoff(void **state)
{
    (void)state;
    assert_int_equal(wk_notify_backoff_ms(1, 200, 2000), 200);
    assert_int_equal(wk_notify_backoff_ms(2, 200, 2000), 400);
    assert_int_equal(wk_notify_backoff_ms(4, 200, 2000), 1600);
    assert_int_equal(wk_notify_backoff_ms(5, 200, 2000), 2000);
    assert_int_equal(wk_notify_backoff_ms(1000000, 200, 2000), 2000);
    assert_int_equal(wk_notify_backoff_ms(70, INT64_MAX / 4, INT64_MAX), INT64_MAX);
    assert_int_equal(wk_notify_backoff_ms(0, 200, 2000), 200);
    for (int32_t n = 1; n < 100; n++)
        assert_true(wk_notify_backoff_ms(n + 1, 3, 100000) >= wk_notify_backoff_ms(n, 3, 100000));
}

static void test_signature(void **state)
{
    (void)state;
    const char body[] = "{\"a\":1}";
    char sig[80];
    wk_notify_sign("secret", 1700000000, body, strlen(body), sig, sizeof sig);
    assert_string_equal(sig, "v1=49f24e537407743fa4a0242bb63b94b9a47ee99cbbe071ccd8a22550ae411686");
    assert_true(wk_notify_verify("secret", 1700000000, body, strlen(body), sig));
    assert_false(wk_notify_verify("secret", 1700000001, body, strlen(body), sig));
    assert_false(wk_notify_verify("Secret", 1700000000, body, strlen(body), sig));
    assert_false(wk_notify_verify("secret", 1700000000, body, strlen(body) - 1, sig));
    sig[10] ^= 1;
    assert_false(wk_notify_verify("secret", 1700000000, body, strlen(body), sig));
    assert_false(wk_notify_verify("secret", 1700000000, body, strlen(body), NULL));
    assert_false(wk_notify_verify("secret", 1700000000, body, strlen(body), "v1=00"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),       cmocka_unit_test(test_days_left),
        cmocka_unit_test(test_yuan),        cmocka_unit_test(test_quiet_hours),
        cmocka_unit_test(test_backoff),     cmocka_unit_test(test_signature),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
