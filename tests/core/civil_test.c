/* civil_test.c - calendar arithmetic and ISO 8601 parsing of src/core/civil.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/civil.h"

static void test_roundtrip_days(void **state)
{
    (void)state;
    /* every day from 1900 to 2200 survives days -> civil -> days, and weekdays advance */
    int64_t from = wk_days_from_civil(1900, 1, 1), to = wk_days_from_civil(2200, 12, 31);
    int prev_wd = wk_weekday(from - 1);
    for (int64_t z = from; z <= to; z++) {
        wk_date d = wk_civil_from_days(z);
        assert_int_equal(wk_days_from_civil(d.year, d.month, d.day), z);
        assert_true(d.day >= 1 && d.day <= wk_days_in_month(d.year, d.month));
        int wd = wk_weekday(z);
        assert_int_equal(wd, (prev_wd + 1) % 7);
        prev_wd = wd;
    }
    assert_int_equal(wk_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(wk_weekday(wk_days_from_civil(2026, 11, 27)), 4); /* a Friday */
    assert_int_equal(wk_days_in_month(2024, 2), 29);
    assert_int_equal(wk_days_in_month(2100, 2), 28);
}

static void test_time_parse(void **state)
{
    (void)state;
    int64_t t = 0;
    int32_t off = 0;
    wk_diag d = {{0}};
    const char *s = "2026-07-01T08:00:00+08:00";
    assert_int_equal(wk_time_parse(s, strlen(s), &t, &off, &d), WK_OK);
    assert_int_equal(t, wk_days_from_civil(2026, 7, 1) * 86400);
    assert_int_equal(off, 8 * 3600);
    char buf[32];
    assert_string_equal(wk_time_format(t, off, buf, sizeof buf), s);
    assert_string_equal(wk_time_format(INT64_MIN, 3600, buf, sizeof buf), "(time out of range)");
    assert_string_equal(wk_time_format(INT64_MAX, 0, buf, sizeof buf), "(time out of range)");
    s = "2026-07-01 00:30Z";
    assert_int_equal(wk_time_parse(s, strlen(s), &t, &off, &d), WK_OK);
    assert_int_equal(t, wk_days_from_civil(2026, 7, 1) * 86400 + 1800);
    const char *bad[] = {"2026-07-01T08:00:00", "2026-02-30T00:00+08:00", "2026-07-01T24:00+08:00",
                         "2026-7-01T08:00+08:00", "2026-07-01T08:00+0800", "garbage"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        d.msg[0] = 0;
        assert_int_equal(wk_time_parse(bad[i], strlen(bad[i]), &t, &off, &d), WK_EINVAL);
        assert_true(strlen(d.msg) > 0);
    }
    int64_t days;
    assert_int_equal(wk_date_parse("2024-02-29", 10, &days, &d), WK_OK);
    assert_int_equal(wk_date_parse("2023-02-29", 10, &days, &d), WK_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_days),
        cmocka_unit_test(test_time_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
