/*
 * rating_test.c - the rating engine against bills worked by hand from the reference tables
 * (shared/reference/tariffs-forecast.md 1.2 and 8), and property tests: split invariance to
 * the fen and monotonic cumulative charges over thousands of seeded random splits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/civil.h"
#include "core/rating.h"
#include "core/readings.h"
#include "core/units.h"
#include "test_util.h"

#define CST (8 * 3600)

/* Local (UTC+8) midnight of a date plus hours, in Unix seconds. */
static int64_t at(int y, int m, int d, int h)
{
    return wk_days_from_civil(y, m, d) * 86400 + h * 3600 - CST;
}

static int64_t rate_flat(const wk_tariff *t, const wk_rate_terms *terms, wk_rate_state *st,
                         int64_t from, int64_t to, int64_t wh, wk_rate_result *res)
{
    wk_interval iv = {.from_s = from, .to_s = to, .energy_wh = wh};
    wk_diag d = {{0}};
    wk_err e = wk_rate_interval(t, terms, st, &iv, res, &d);
    if (e)
        fail_msg("rating failed: %s", d.msg);
    return res->deduction_fen;
}

static int64_t rate_tou(const wk_tariff *t, wk_rate_state *st, int64_t from, int64_t to,
                        int64_t peak_wh, int64_t valley_wh, wk_rate_result *res)
{
    wk_interval iv = {.from_s = from, .to_s = to, .energy_wh = peak_wh + valley_wh,
                      .has_slots = true};
    iv.slot_wh[WK_SLOT_PEAK] = peak_wh;
    iv.slot_wh[WK_SLOT_VALLEY] = valley_wh;
    wk_diag d = {{0}};
    if (wk_rate_interval(t, NULL, st, &iv, res, &d))
        fail_msg("rating failed: %s", d.msg);
    return res->deduction_fen;
}

static wk_rate_result res;

/* Zhejiang, 3000 kWh in a year: 2760 x 0.538 + 240 x 0.588 = 1626.00 */
static void test_zhejiang_flat_year(void **state)
{
    (void)state;
    wk_tariff *t = tu_load_tariff("zhejiang-residential-flat");
    wk_rate_state st = {0};
    assert_int_equal(rate_flat(t, NULL, &st, at(2026, 1, 1, 0), at(2026, 12, 31, 0), 3000000, &res),
                     162600);
    assert_int_equal(res.n_lines, 2);
    assert_int_equal(res.lines[0].energy_wh, 2760000);
    assert_int_equal(res.lines[1].energy_wh, 240000);
    assert_int_equal(res.lines[1].price_uyuan_per_kwh, 588000);
    wk_free(t);
}

/* A reading exactly at a threshold stays in the lower tier; one more Wh is tier 2. */
static void test_threshold_exact(void **state)
{
    (void)state;
    wk_tariff *t = tu_load_tariff("zhejiang-residential-flat");
    wk_rate_state st = {0};
    assert_int_equal(rate_flat(t, NULL, &st, at(2026, 1, 1, 0), at(2026, 6, 1, 0), 2760000, &res),
                     148488); /* 2760 x 0.538 = 1484.88 */
    assert_int_equal(res.n_lines, 1);
    assert_int_equal(rate_flat(t, NULL, &st, at(2026, 6, 1, 0), at(2026, 6, 2, 0), 1, &res), 0);
    assert_int_equal(res.n_lines, 1);
    assert_int_equal(res.lines[0].tier, 1); /* 0-based: tier 2 */
    assert_int_equal(res.lines[0].amount_nyuan, 588000);
    wk_free(t);
}

/* Beijing, 5000 kWh in a year: 2880 x 0.4883 + 1920 x 0.5383 + 200 x 0.7883 = 2597.50 */
static void test_beijing_year(void **state)
{
    (void)state;
    wk_tariff *t = tu_load_tariff("beijing-residential");
    wk_rate_state st = {0};
    assert_int_equal(rate_flat(t, NULL, &st, at(2026, 1, 1, 0), at(2026, 12, 1, 0), 5000000, &res),
                     259750);
    assert_int_equal(res.n_lines, 3);
    wk_free(t);
}

/* Beijing annual cycle reset on 1 Jan. 2800 kWh in 2025 up to 1 Dec, then 400 kWh evenly
 * from 1 Dec to 31 Jan (61 days): 400 x 31/61 = 203.279 kWh fall in 2025 (80 kWh tier 1,
 * 123.279 kWh tier 2), 196.721 kWh in the new cycle at tier 1.
 *   2025: 1367.24 + 80 x 0.4883 + 123.279 x 0.5383 = 1472.6650857 -> 1472.67: +105.43
 *   2026: 196.721 x 0.4883 = 96.0588643 -> 96.06
 * deduction of the interval = 105.43 + 96.06 = 201.49 */
static void test_beijing_cycle_reset(void **state)
{
    (void)state;
    wk_tariff *t = tu_load_tariff("beijing-residential");
    wk_rate_state st = {0};
    assert_int_equal(rate_flat(t, NULL, &st, at(2025, 1, 1, 0), at(2025, 12, 1, 0), 2800000, &res),
                     136724);
    assert_int_equal(rate_flat(t, NULL, &st, at(2025, 12, 1, 0), at(2026, 1, 31, 0), 400000, &res),
                     20149);
    assert_int_equal(res.cycles_closed, 1);
    assert_int_equal(st.energy_total_wh, 196721);
    assert_int_equal(st.charged_fen, 9606);
    wk_free(t);
}

/* Guangzhou, 700 kWh in a summer month: 260 x 0.589 + 340 x 0.639 + 100 x 0.889 = 459.30;
 * the same 700 kWh in a non-summer month: 200 x 0.589 + 200 x 0.639 + 300 x 0.889 = 512.30 */
static void test_guangzhou_seasonal_month(void **state)
{
    (void)state;
    wk_tariff *t = tu_load_tariff("guangdong-residential");
    wk_rate_state st = {0};
    assert_int_equal(rate_flat(t, NULL, &st, at(2026, 7, 1, 0), at(2026, 8, 1, 0), 700000, &res),
                     45930);
    assert_int_equal(res.cycles_closed, 1);
    memset(&st, 0, sizeof st);
    assert_int_equal(rate_flat(t, NULL, &st, at(2026, 1, 1, 0), at(2026, 2, 1, 0), 700000, &res),
                     51230);
    /* two months in one interval: split by time, each month with its own thresholds */
    memset(&st, 0, sizeof st);
    /* April (30 d) + May (31 d), 610 kWh: 300 kWh in April (200 x 0.589 + 100 x 0.639 =
     * 181.70), 310 kWh in May (260 x 0.589 + 50 x 0.639 = 185.09) */
    assert_int_equal(rate_flat(t, NULL, &st, at(2026, 4, 1, 0), at(2026, 6, 1, 0), 610000, &res),
                     18170 + 18509);
    wk_free(t);
}

/* Shanghai TOU, 4000 kWh in a year (2500 peak, 1500 valley), proportional split:
 * 1950 x 0.617 + 1170 x 0.307 + 550 x 0.677 + 330 x 0.337 = 2045.90 */
static void test_shanghai_proportional(void **state)
{
    (void)state;
    wk_tariff *t = tu_load_tariff("shanghai-residential");
    wk_rate_state st = {0};
    assert_int_equal(rate_tou(t, &st, at(2026, 1, 1, 0), at(2026, 12, 1, 0), 2500000, 1500000, &res),
                     204590);
    int64_t want[2][WK_SLOT_N] = {{0, 1950000, 0, 1170000, 0}, {0, 550000, 0, 330000, 0}};
    for (int i = 0; i < res.n_lines; i++)
        assert_int_equal(res.lines[i].energy_wh, want[res.lines[i].tier][res.lines[i].slot]);
    assert_int_equal(res.n_lines, 4);
    wk_free(t);
}

/* Zhejiang TOU household crossing 2760 kWh in July (registers: peak 67.40, valley 44.94):
 * tier 1 takes the first 60 kWh split 67.40 : 44.94 -> 35.998 peak + 24.002 valley,
 * tier 2 the other 52.34 -> 31.402 peak + 20.938 valley.
 * 35.998 x 0.568 + 24.002 x 0.288 + 31.402 x 0.618 + 20.938 x 0.338 = 53.84292 -> 53.84
 * (after 1620 x 0.568 + 1080 x 0.288 = 1231.20 for the first 2700 kWh) */
static void test_zhejiang_tou_crossing(void **state)
{
    (void)state;
    wk_tariff *t = tu_load_tariff("zhejiang-residential");
    wk_rate_state st = {0};
    assert_int_equal(rate_tou(t, &st, at(2026, 1, 1, 0), at(2026, 7, 1, 0), 1620000, 1080000, &res),
                     123120);
    assert_int_equal(rate_tou(t, &st, at(2026, 7, 1, 0), at(2026, 7, 15, 0), 67400, 44940, &res),
                     5384);
    assert_int_equal(res.charge_nyuan, INT64_C(53842920000));
    int64_t want[2][WK_SLOT_N] = {{0, 35998, 0, 24002, 0}, {0, 31402, 0, 20938, 0}};
    assert_int_equal(res.n_lines, 4);
    for (int i = 0; i < res.n_lines; i++)
        assert_int_equal(res.lines[i].energy_wh, want[res.lines[i].tier][res.lines[i].slot]);
    wk_free(t);
}

/* Guangdong commercial, 1 kWh per hour for a whole day.
 * July (sharp season): valley 8 x 0.247 + flat 9 x 0.65 + peak 4 x 1.105 + sharp 3 x
 * 1.38125 = 1.976 + 5.85 + 4.42 + 4.14375 = 16.38975 -> 16.39
 * an ordinary June day: valley 8 x 0.247 + flat 9 x 0.65 + peak 7 x 1.105 = 15.561 -> 15.56
 * a June day flagged hot (>= 35 C): as in July, 16.39 */
static void test_guangdong_sharp_peak(void **state)
{
    (void)state;
    wk_tariff *t = tu_load_tariff("guangdong-commercial-tou");
    wk_rate_state st = {0};
    assert_int_equal(rate_flat(t, NULL, &st, at(2026, 7, 15, 0), at(2026, 7, 16, 0), 24000, &res),
                     1639);
    int64_t by_slot[WK_SLOT_N] = {0};
    for (int i = 0; i < res.n_lines; i++)
        by_slot[res.lines[i].slot] += res.lines[i].energy_wh;
    assert_int_equal(by_slot[WK_SLOT_SHARP], 3000);
    assert_int_equal(by_slot[WK_SLOT_PEAK], 4000);
    assert_int_equal(by_slot[WK_SLOT_FLAT], 9000);
    assert_int_equal(by_slot[WK_SLOT_VALLEY], 8000);
    memset(&st, 0, sizeof st);
    assert_int_equal(rate_flat(t, NULL, &st, at(2026, 6, 17, 0), at(2026, 6, 18, 0), 24000, &res),
                     1556);
    memset(&st, 0, sizeof st);
    assert_int_equal(rate_flat(t, NULL, &st, at(2026, 6, 20, 0), at(2026, 6, 21, 0), 24000, &res),
                     1639);
    wk_free(t);
}

/* Move-in on 1 Sep in Zhejiang: thresholds 2760 x 4/12 = 920, 4800 x 4/12 = 1600;
 * 1000 kWh by the year end: 920 x 0.538 + 80 x 0.588 = 542.00. A move-in on 20 Sep (after
 * the cut-off day 15) counts 3 months: 690 / 1200. */
static void test_move_in_proration(void **state)
{
    (void)state;
    wk_tariff *t = tu_load_tariff("zhejiang-residential-flat");
    wk_rate_terms terms = {.service_start_s = at(2026, 9, 1, 0)};
    wk_rate_state st = {0};
    assert_int_equal(
        rate_flat(t, &terms, &st, at(2026, 9, 1, 0), at(2026, 12, 31, 0), 1000000, &res), 54200);
    assert_int_equal(st.thresholds_wh[0], 920000);
    assert_int_equal(st.thresholds_wh[1], 1600000);
    assert_int_equal(st.months_served, 4);
    terms.service_start_s = at(2026, 9, 20, 0);
    memset(&st, 0, sizeof st);
    rate_flat(t, &terms, &st, at(2026, 9, 20, 0), at(2026, 10, 1, 0), 1000, &res);
    assert_int_equal(st.thresholds_wh[0], 690000);
    assert_int_equal(st.thresholds_wh[1], 1200000);
    /* move-out on 10 Mar (by the cut-off): Jan + Feb = 2 months -> 460 / 800 */
    wk_rate_terms out = {.service_end_s = at(2026, 3, 10, 0)};
    memset(&st, 0, sizeof st);
    rate_flat(t, &out, &st, at(2026, 1, 1, 0), at(2026, 2, 1, 0), 1000, &res);
    assert_int_equal(st.thresholds_wh[0], 460000);
    /* the next year has full thresholds again */
    memset(&st, 0, sizeof st);
    terms.service_start_s = at(2026, 9, 1, 0);
    rate_flat(t, &terms, &st, at(2027, 1, 1, 0), at(2027, 2, 1, 0), 1000, &res);
    assert_int_equal(st.thresholds_wh[0], 2760000);
    wk_free(t);
}

/* A price change mid-interval splits the energy at the effective time. */
static void test_version_change(void **state)
{
    (void)state;
    const char *json =
        "{\"name\":\"two\",\"source\":\"test\",\"versions\":["
        "{\"effective_from\":\"2026-01-01T00:00:00+08:00\",\"tiers\":{\"cycle\":\"none\"},"
        "\"prices\":{\"matrix\":{\"flat\":[\"0.5\"]}}},"
        "{\"effective_from\":\"2026-07-01T00:00:00+08:00\",\"tiers\":{\"cycle\":\"none\"},"
        "\"prices\":{\"matrix\":{\"flat\":[\"0.6\"]}}}]}";
    wk_diag d;
    wk_tariff *t = tu_parse_tariff(json, &d);
    assert_non_null(t);
    wk_rate_state st = {0};
    /* 24 kWh from 30 Jun 12:00 to 1 Jul 12:00: 12 x 0.5 + 12 x 0.6 = 13.20, over two
     * monthly billing periods (6.00 + 7.20) */
    assert_int_equal(rate_flat(t, NULL, &st, at(2026, 6, 30, 12), at(2026, 7, 1, 12), 24000, &res),
                     1320);
    assert_int_equal(res.n_lines, 2);
    assert_int_equal(res.lines[0].version, 0);
    assert_int_equal(res.lines[1].version, 1);
    /* before the first version: an error naming the time */
    memset(&st, 0, sizeof st);
    wk_interval iv = {.from_s = at(2025, 12, 31, 0), .to_s = at(2026, 1, 2, 0), .energy_wh = 5};
    wk_rate_state before = st;
    assert_int_equal(wk_rate_interval(t, NULL, &st, &iv, &res, &d), WK_ENOTFOUND);
    assert_non_null(strstr(d.msg, "2025-12-31"));
    assert_memory_equal(&st, &before, sizeof st); /* unchanged on error */
    wk_free(t);
}

/* A meter without TOU registers: 21:00-23:00, 2 kWh, Zhejiang TOU: 1 kWh peak (until 22:00)
 * + 1 kWh valley = 0.568 + 0.288 = 0.856 -> 0.86 */
static void test_time_split_without_registers(void **state)
{
    (void)state;
    wk_tariff *t = tu_load_tariff("zhejiang-residential");
    wk_rate_state st = {0};
    assert_int_equal(rate_flat(t, NULL, &st, at(2026, 3, 2, 21), at(2026, 3, 2, 23), 2000, &res), 86);
    assert_int_equal(res.n_lines, 2);
    assert_int_equal(res.lines[0].energy_wh, 1000);
    /* a meter with registers that puts energy in a slot the tariff does not price (a
     * four-period meter on a peak/valley tariff) is rated by the tariff's time map, exactly
     * like a meter without registers, and says so; billing never stalls on it */
    wk_interval iv = {.from_s = at(2026, 3, 3, 0), .to_s = at(2026, 3, 4, 0), .energy_wh = 24000,
                      .has_slots = true};
    iv.slot_wh[WK_SLOT_SHARP] = 4000;
    iv.slot_wh[WK_SLOT_FLAT] = 10000;
    iv.slot_wh[WK_SLOT_VALLEY] = 10000;
    wk_rate_state st2 = st;
    wk_rate_result res2;
    wk_diag d;
    assert_int_equal(wk_rate_interval(t, NULL, &st, &iv, &res, &d), WK_OK);
    assert_true(res.by_clock);
    wk_interval plain = {.from_s = iv.from_s, .to_s = iv.to_s, .energy_wh = iv.energy_wh};
    assert_int_equal(wk_rate_interval(t, NULL, &st2, &plain, &res2, &d), WK_OK);
    assert_false(res2.by_clock);
    assert_int_equal(res.deduction_fen, res2.deduction_fen);
    assert_int_equal(res.n_lines, res2.n_lines);
    for (int k = 0; k < res.n_lines; k++) {
        assert_int_equal(res.lines[k].slot, res2.lines[k].slot);
        assert_int_equal(res.lines[k].tier, res2.lines[k].tier);
        assert_int_equal(res.lines[k].energy_wh, res2.lines[k].energy_wh);
        assert_int_equal(res.lines[k].amount_nyuan, res2.lines[k].amount_nyuan);
    }
    /* 08:00-22:00 peak (14 h of 24), the rest valley: 14,000 Wh + 10,000 Wh */
    assert_int_equal(res.n_lines, 2);
    assert_int_equal(res.lines[0].energy_wh + res.lines[1].energy_wh, 24000);
    /* registers for priced slots are still used as they are */
    wk_interval regs = {.from_s = iv.to_s, .to_s = iv.to_s + 86400, .energy_wh = 3000, .has_slots = true};
    regs.slot_wh[WK_SLOT_VALLEY] = 3000;
    assert_int_equal(wk_rate_interval(t, NULL, &st, &regs, &res, &d), WK_OK);
    assert_false(res.by_clock);
    assert_int_equal(res.n_lines, 1);
    assert_int_equal(res.lines[0].slot, WK_SLOT_VALLEY);
    wk_free(t);
}

/* Register rollover at 999999.99 kWh and a meter exchange. */
static void test_rollover_exchange(void **state)
{
    (void)state;
    wk_reading a = {.time_s = 1000, .total_wh = 999990000}, b = {.time_s = 2000, .total_wh = 10000};
    wk_interval iv;
    bool empty;
    wk_diag d;
    assert_int_equal(wk_reading_interval(&a, &b, WK_REGISTER_MODULUS_WH, &iv, &empty, &d), WK_OK);
    assert_int_equal(iv.energy_wh, 20000); /* 999990.00 -> 10.00 is 20 kWh */
    /* a decrease in the middle of the range is an error unless marked */
    a.total_wh = 500000000;
    assert_int_equal(wk_reading_interval(&a, &b, WK_REGISTER_MODULUS_WH, &iv, &empty, &d),
                     WK_EINVAL);
    assert_non_null(strstr(d.msg, "decreased from 500000.00 to 10.00"));
    b.event = WK_READ_ROLLOVER;
    assert_int_equal(wk_reading_interval(&a, &b, WK_REGISTER_MODULUS_WH, &iv, &empty, &d), WK_OK);
    assert_int_equal(iv.energy_wh, 500010000);
    /* exchange: the new meter's first reading carries no energy */
    b.event = WK_READ_EXCHANGE;
    b.total_wh = 0;
    assert_int_equal(wk_reading_interval(&a, &b, WK_REGISTER_MODULUS_WH, &iv, &empty, &d), WK_OK);
    assert_int_equal(iv.energy_wh, 0);
    b.time_s = a.time_s;
    assert_int_equal(wk_reading_interval(&a, &b, WK_REGISTER_MODULUS_WH, &iv, &empty, &d), WK_OK);
    assert_true(empty);
    /* time backwards and duplicates */
    wk_reading c = {.time_s = 999, .total_wh = 500000000};
    assert_int_equal(wk_reading_interval(&a, &c, WK_REGISTER_MODULUS_WH, &iv, &empty, &d), WK_EINVAL);
    c.time_s = 1000;
    assert_int_equal(wk_reading_interval(&a, &c, WK_REGISTER_MODULUS_WH, &iv, &empty, &d), WK_EINVAL);
    assert_non_null(strstr(d.msg, "duplicate"));
}

/* ---- property tests ---- */

static const char *const all_tariffs[] = {"zhejiang-residential", "zhejiang-residential-flat",
                                          "beijing-residential",  "shanghai-residential",
                                          "guangdong-residential", "guangdong-commercial-tou"};

/* Constant power (an integer number of Wh per second) read at random times over two years:
 * the deductions of any split add up to the one-shot bill of the same consumption, to the
 * fen, and never go negative. Exercises slots, tiers, cycles and seasons of every tariff. */
static void test_property_split_invariance_time(void **state)
{
    (void)state;
    tu_rng rng = {UINT64_C(0x9E3779B97F4A7C15)};
    int64_t t0 = at(2025, 1, 1, 0), span = at(2027, 1, 1, 0) - t0;
    for (size_t ti = 0; ti < sizeof all_tariffs / sizeof all_tariffs[0]; ti++) {
        wk_tariff *t = tu_load_tariff(all_tariffs[ti]);
        for (int trial = 0; trial < 300; trial++) {
            int64_t power = 1 + tu_below(&rng, 3); /* Wh per second */
            int64_t len = 3600 + tu_below(&rng, span - 3600);
            int64_t start = t0 + tu_below(&rng, span - len + 1);
            wk_rate_state one = {0}, many = {0};
            int64_t want = rate_flat(t, NULL, &one, start, start + len, power * len, &res);
            int64_t got = 0, cur = start;
            int pieces = 1 + (int)tu_below(&rng, 40);
            for (int p = 0; p < pieces && cur < start + len; p++) {
                int64_t next = p == pieces - 1 ? start + len
                                               : cur + 1 + tu_below(&rng, start + len - cur);
                int64_t dfen = rate_flat(t, NULL, &many, cur, next, power * (next - cur), &res);
                assert_true(dfen >= 0);
                got += dfen;
                cur = next;
            }
            if (got != want)
                fail_msg("%s trial %d: split bill %lld != one-shot %lld", all_tariffs[ti], trial,
                         (long long)got, (long long)want);
            assert_int_equal(many.charge_nyuan, one.charge_nyuan);
        }
        wk_free(t);
    }
}

/* Proportional allocation depends only on the cycle's per-slot totals: random register
 * paths inside one year give the one-shot bill to the fen, and the cumulative deducted
 * amount never decreases. */
static void test_property_proportional_registers(void **state)
{
    (void)state;
    tu_rng rng = {42};
    wk_tariff *t = tu_load_tariff("shanghai-residential");
    for (int trial = 0; trial < 2000; trial++) {
        int n = 1 + (int)tu_below(&rng, 30);
        int64_t step = (at(2026, 12, 31, 0) - at(2026, 1, 1, 0)) / n;
        wk_rate_state many = {0}, one = {0};
        int64_t got = 0, peak = 0, valley = 0;
        for (int i = 0; i < n; i++) {
            int64_t p = tu_below(&rng, 600000), v = tu_below(&rng, 400000);
            int64_t dfen = rate_tou(t, &many, at(2026, 1, 1, 0) + i * step,
                                    at(2026, 1, 1, 0) + (i + 1) * step, p, v, &res);
            assert_true(dfen >= 0);
            got += dfen;
            peak += p;
            valley += v;
        }
        int64_t want = rate_tou(t, &one, at(2026, 1, 1, 0), at(2026, 1, 1, 0) + n * step, peak,
                                valley, &res);
        assert_int_equal(got, want);
    }
    wk_free(t);
}

/* Chronological allocation with registers: the deductions always add up to the rounded
 * exact cycle charge (no fen is lost or made by rounding each deduction), each deduction is
 * non-negative, and the explanation lines add up to each interval's exact charge. */
static void test_property_chronological_registers(void **state)
{
    (void)state;
    tu_rng rng = {7};
    wk_tariff *t = tu_load_tariff("zhejiang-residential");
    for (int trial = 0; trial < 2000; trial++) {
        wk_rate_state st = {0};
        int n = 1 + (int)tu_below(&rng, 50);
        int64_t got = 0, step = 86400 * 7;
        for (int i = 0; i < n; i++) {
            int64_t p = tu_below(&rng, 150000), v = tu_below(&rng, 100000);
            int64_t dfen = rate_tou(t, &st, at(2026, 1, 1, 0) + i * step,
                                    at(2026, 1, 1, 0) + (i + 1) * step, p, v, &res);
            assert_true(dfen >= 0);
            int64_t sum = 0;
            for (int k = 0; k < res.n_lines; k++) {
                assert_int_equal(res.lines[k].amount_nyuan,
                                 res.lines[k].energy_wh * res.lines[k].price_uyuan_per_kwh);
                sum += res.lines[k].amount_nyuan;
            }
            assert_int_equal(sum, res.charge_nyuan);
            got += dfen;
        }
        assert_int_equal(got, wk_nyuan_to_fen(st.charge_nyuan));
    }
    wk_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zhejiang_flat_year),
        cmocka_unit_test(test_threshold_exact),
        cmocka_unit_test(test_beijing_year),
        cmocka_unit_test(test_beijing_cycle_reset),
        cmocka_unit_test(test_guangzhou_seasonal_month),
        cmocka_unit_test(test_shanghai_proportional),
        cmocka_unit_test(test_zhejiang_tou_crossing),
        cmocka_unit_test(test_guangdong_sharp_peak),
        cmocka_unit_test(test_move_in_proration),
        cmocka_unit_test(test_version_change),
        cmocka_unit_test(test_time_split_without_registers),
        cmocka_unit_test(test_rollover_exchange),
        cmocka_unit_test(test_property_split_invariance_time),
        cmocka_unit_test(test_property_proportional_registers),
        cmocka_unit_test(test_property_chronological_registers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
