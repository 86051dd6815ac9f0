/*
 * readings.c - register readings to intervals (see readings.h). Pure.
 */
#include "core/readings.h"

#include <string.h>

#include "core/units.h"

static const char *const reg_names[5] = {"t1_kwh", "t2_kwh", "t3_kwh", "t4_kwh", "total_kwh"};

static wk_err readings__delta(int64_t prev, int64_t cur, int64_t mod, bool marked, int which,
                              int64_t *delta, bool *wrapped, wk_diag *d)
{
    char a[32], b[32];
    if (cur < 0 || cur >= mod)
        return wk_diag_set(d, WK_ERANGE, "%s %s is outside the register range 0..%s", reg_names[which],
                           wk_dec_format(cur, 3, 2, a, sizeof a),
                           wk_dec_format(mod - 10, 3, 2, b, sizeof b));
    if (cur >= prev) {
        *delta = cur - prev;
        return WK_OK;
    }
    bool automatic = prev >= mod - mod / 100 && cur < mod / 100;
    if (!marked && !automatic)
        return wk_diag_set(d, WK_EINVAL,
                           "%s decreased from %s to %s without a rollover or exchange record",
                           reg_names[which], wk_dec_format(prev, 3, 2, a, sizeof a),
                           wk_dec_format(cur, 3, 2, b, sizeof b));
    *delta = cur + mod - prev;
    *wrapped = true;
    return WK_OK;
}

wk_err wk_reading_interval(const wk_reading *prev, const wk_reading *cur, int64_t mod,
                           wk_interval *iv, bool *empty, wk_diag *d)
{
    memset(iv, 0, sizeof *iv);
    *empty = false;
    if (cur->time_s < prev->time_s)
        return wk_diag_set(d, WK_EINVAL, "time goes backwards (earlier than the previous reading)");
    if (cur->event == WK_READ_EXCHANGE) {
        *empty = cur->time_s == prev->time_s;
        iv->from_s = prev->time_s;
        iv->to_s = cur->time_s;
        return WK_OK;
    }
    if (cur->time_s == prev->time_s)
        return wk_diag_set(d, WK_EINVAL, "duplicate timestamp (same time as the previous reading)");
    if (cur->has_tou != prev->has_tou)
        return wk_diag_set(d, WK_EINVAL, "TOU registers present in one reading but not the other");
    bool marked = cur->event == WK_READ_ROLLOVER, wrapped = false;
    int64_t total;
    wk_err e = readings__delta(prev->total_wh, cur->total_wh, mod, marked, 4, &total, &wrapped, d);
    if (e)
        return e;
    iv->from_s = prev->time_s;
    iv->to_s = cur->time_s;
    iv->energy_wh = total;
    if (cur->has_tou) {
        int64_t tou[4], sum = 0;
        for (int i = 0; i < 4; i++) {
            if ((e = readings__delta(prev->tou_wh[i], cur->tou_wh[i], mod, marked, i, &tou[i],
                                     &wrapped, d)))
                return e;
            sum += tou[i];
        }
        int64_t diff = sum > total ? sum - total : total - sum;
        if (diff > 40 + total / 100)
            return wk_diag_set(d, WK_EINVAL,
                               "TOU registers advanced by %lld Wh in total but total_kwh by %lld "
                               "Wh (expected them to agree within 40 Wh + 1 %%)",
                               (long long)sum, (long long)total);
        if (sum > 0 && total > 0) {
            int64_t split[4];
            wk_split_largest_remainder(total, tou, 4, split);
            for (int i = 0; i < 4; i++)
                iv->slot_wh[i] = split[i]; /* t1..t4 are WK_SLOT_SHARP..WK_SLOT_VALLEY */
            iv->has_slots = true;
        }
    }
    if (marked && !wrapped)
        return wk_diag_set(d, WK_EINVAL, "marked as rollover but no register decreased");
    return WK_OK;
}
