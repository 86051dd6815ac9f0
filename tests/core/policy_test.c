/*
 * policy_test.c - the balance policy: warnings once per crossing with hysteresis, trip at
 * the floor but not in friendly hours, close on credit, emergency credit, vacant units and
 * power guarantees.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/civil.h"
#include "core/policy.h"

#define CST (8 * 3600)

static int64_t at(int y, int m, int d, int h, int mi)
{
    return wk_days_from_civil(y, m, d) * 86400 + h * 3600 + mi * 60 - CST;
}

static wk_policy community(void)
{
    wk_policy p = {.warn_fen = {2000, 500}, .hysteresis_fen = 300, .close_margin_fen = 0,
                   .emergency_fen = 1000, .friendly_from_min = 20 * 60,
                   .friendly_to_min = 8 * 60, .friendly_weekends = true,
                   .utc_offset_s = CST};
    p.holidays[p.n_holidays++] = wk_days_from_civil(2026, 10, 1);
    return p;
}

/* A wallet draining from 30 yuan to -1 yuan on a Wednesday morning: warn 1 once, warn 2
 * once, trip at zero; a credit closes; a second drain warns again. */
static void test_drain_and_credit(void **state)
{
    (void)state;
    wk_policy p = community();
    wk_diag d;
    assert_int_equal(wk_policy_validate(&p, &d), WK_OK);
    wk_policy_account a = {.balance_fen = 3000};
    int64_t now = at(2026, 11, 25, 10, 0); /* a Wednesday, 10:00 */
    int warn1 = 0, warn2 = 0, trips = 0;
    for (int64_t bal = 3000; bal >= -100; bal -= 37) {
        a.balance_fen = bal;
        wk_policy_decision out;
        wk_policy_decide(&p, &a, now, &out);
        a.warned_level = out.warned_level;
        warn1 += out.warn_level == 1;
        warn2 += out.warn_level == 2;
        if (out.relay == WK_ACT_TRIP) {
            trips++;
            assert_true(bal <= 0);
            a.relay = WK_RELAY_TRIPPED;
        } else {
            assert_true(out.relay == WK_ACT_NONE);
        }
    }
    assert_int_equal(warn1, 1);
    assert_int_equal(warn2, 1);
    assert_int_equal(trips, 1);
    /* top-up to 1.00: closes, no warning re-sent (still below level 2 + hysteresis) */
    a.balance_fen = 100;
    wk_policy_decision out;
    wk_policy_decide(&p, &a, now, &out);
    assert_int_equal(out.relay, WK_ACT_CLOSE);
    assert_int_equal(out.warn_level, 0);
    a.relay = WK_RELAY_CLOSED;
    a.warned_level = out.warned_level;
    /* recover to 50.00 (re-arms both), then drain again: both warnings once more */
    a.balance_fen = 5000;
    wk_policy_decide(&p, &a, now, &out);
    a.warned_level = out.warned_level;
    assert_int_equal(a.warned_level, 0);
    a.balance_fen = 1999;
    wk_policy_decide(&p, &a, now, &out);
    assert_int_equal(out.warn_level, 1);
    a.warned_level = out.warned_level;
    /* hovering around level 1 without passing the hysteresis: no repeat */
    a.balance_fen = 2200;
    wk_policy_decide(&p, &a, now, &out);
    a.warned_level = out.warned_level;
    a.balance_fen = 1990;
    wk_policy_decide(&p, &a, now, &out);
    assert_int_equal(out.warn_level, 0);
}

static void test_friendly_hours(void **state)
{
    (void)state;
    wk_policy p = community();
    wk_policy_account a = {.balance_fen = -5};
    wk_policy_decision out;
    /* Wednesday 21:30: night, deferred until Thursday 08:00 */
    wk_policy_decide(&p, &a, at(2026, 11, 25, 21, 30), &out);
    assert_int_equal(out.relay, WK_ACT_DEFER_TRIP);
    assert_int_equal(out.retry_at_s, at(2026, 11, 26, 8, 0));
    assert_non_null(strstr(out.why, "friendly hours"));
    /* Friday 19:59 trips; Friday 20:00 defers until Monday 08:00 (weekend) */
    wk_policy_decide(&p, &a, at(2026, 11, 27, 19, 59), &out);
    assert_int_equal(out.relay, WK_ACT_TRIP);
    wk_policy_decide(&p, &a, at(2026, 11, 27, 20, 0), &out);
    assert_int_equal(out.relay, WK_ACT_DEFER_TRIP);
    assert_int_equal(out.retry_at_s, at(2026, 11, 30, 8, 0));
    /* National Day (a Thursday, listed holiday) at noon: deferred to Friday 08:00 */
    wk_policy_decide(&p, &a, at(2026, 10, 1, 12, 0), &out);
    assert_int_equal(out.relay, WK_ACT_DEFER_TRIP);
    assert_int_equal(out.retry_at_s, at(2026, 10, 2, 8, 0));
    /* no friendly hours configured: trips at night */
    wk_policy none = {.utc_offset_s = CST};
    wk_policy_decide(&none, &a, at(2026, 11, 25, 23, 0), &out);
    assert_int_equal(out.relay, WK_ACT_TRIP);
}

static void test_overdraft_and_emergency(void **state)
{
    (void)state;
    wk_policy p = community();
    wk_policy_account a = {.balance_fen = -300, .overdraft_floor_fen = -500};
    wk_policy_decision out;
    int64_t now = at(2026, 11, 25, 10, 0);
    wk_policy_decide(&p, &a, now, &out);
    assert_int_equal(out.relay, WK_ACT_NONE); /* still 2.00 above the overdraft floor */
    assert_int_equal(out.available_fen, 200);
    a.balance_fen = -500;
    wk_policy_decide(&p, &a, now, &out);
    assert_int_equal(out.relay, WK_ACT_TRIP);
    a.relay = WK_RELAY_TRIPPED;
    wk_diag d;
    assert_int_equal(wk_policy_take_emergency(&p, &a, &d), WK_OK);
    a.emergency_taken = true; /* floor drops by 10.00 */
    wk_policy_decide(&p, &a, now, &out);
    assert_int_equal(out.relay, WK_ACT_CLOSE);
    assert_int_equal(out.available_fen, 1000);
    assert_int_equal(wk_policy_take_emergency(&p, &a, &d), WK_ECONFLICT);
    assert_non_null(strstr(d.msg, "already taken"));
    wk_policy_account rich = {.balance_fen = 100000};
    assert_int_equal(wk_policy_take_emergency(&p, &rich, &d), WK_ECONFLICT);
}

static void test_vacant_and_guarantee(void **state)
{
    (void)state;
    wk_policy p = community();
    int64_t now = at(2026, 11, 25, 22, 0); /* night: friendly, but vacant trips anyway */
    wk_policy_account a = {.balance_fen = 50000, .vacant = true};
    wk_policy_decision out;
    wk_policy_decide(&p, &a, now, &out);
    assert_int_equal(out.relay, WK_ACT_TRIP);
    assert_int_equal(out.warn_level, 0);
    /* guarantee: negative balance, tripped relay -> close, and no trip while it lasts */
    wk_policy_account g = {.balance_fen = -9999, .relay = WK_RELAY_TRIPPED,
                           .guarantee_until_s = now + 3600};
    wk_policy_decide(&p, &g, at(2026, 11, 25, 10, 0), &out);
    assert_int_equal(out.relay, WK_ACT_CLOSE);
    g.relay = WK_RELAY_CLOSED;
    wk_policy_decide(&p, &g, now + 3599, &out);
    assert_int_equal(out.relay, WK_ACT_NONE);
    wk_policy_decide(&p, &g, at(2026, 11, 26, 10, 0), &out); /* expired */
    assert_int_equal(out.relay, WK_ACT_TRIP);
}

static void test_days_left_and_validation(void **state)
{
    (void)state;
    wk_policy p = {.warn_fen = {0, 0}, .warn_days = {7, 2}, .utc_offset_s = CST};
    wk_policy_account a = {.balance_fen = 1000, .daily_cost_fen = 150}; /* 6 days */
    wk_policy_decision out;
    wk_policy_decide(&p, &a, 0, &out);
    assert_int_equal(out.days_left, 6);
    assert_int_equal(out.warn_level, 1);
    a.balance_fen = 299; /* 1 day */
    a.warned_level = 1;
    wk_policy_decide(&p, &a, 0, &out);
    assert_int_equal(out.warn_level, 2);
    wk_diag d;
    wk_policy bad = {.warn_fen = {100, 200}};
    assert_int_equal(wk_policy_validate(&bad, &d), WK_EINVAL);
    bad = (wk_policy){.friendly_from_min = 1500};
    assert_int_equal(wk_policy_validate(&bad, &d), WK_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_drain_and_credit),
        cmocka_unit_test(test_friendly_hours),
        cmocka_unit_test(test_overdraft_and_emergency),
        cmocka_unit_test(test_vacant_and_guarantee),
        cmocka_unit_test(test_days_left_and_validation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
