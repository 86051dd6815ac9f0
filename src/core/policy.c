/*
 * policy.c - the balance policy (see policy.h). Pure functions of their arguments.
 */
#include "core/policy.h"

#include <stdio.h>

#include "core/civil.h"
#include "core/units.h"

wk_err wk_policy_validate(const wk_policy *p, wk_diag *d)
{
    if (p->warn_fen[1] > p->warn_fen[0])
        return wk_diag_set(d, WK_EINVAL, "warn level 2 (%lld fen) must not exceed level 1 (%lld)",
                           (long long)p->warn_fen[1], (long long)p->warn_fen[0]);
    if (p->warn_days[0] < 0 || p->warn_days[1] < 0 ||
        (p->warn_days[1] && p->warn_days[1] > p->warn_days[0]))
        return wk_diag_set(d, WK_EINVAL, "warn days must be >= 0 and level 2 <= level 1");
    if (p->hysteresis_fen < 0 || p->close_margin_fen < 0 || p->emergency_fen < 0)
        return wk_diag_set(d, WK_EINVAL,
                           "hysteresis, close margin and emergency credit must be >= 0");
    if (p->friendly_from_min < 0 || p->friendly_from_min > 1440 || p->friendly_to_min < 0 ||
        p->friendly_to_min > 1440)
        return wk_diag_set(d, WK_EINVAL, "friendly hours must be within 00:00..24:00");
    if (p->n_holidays > WK_POLICY_HOLIDAYS_MAX)
        return wk_diag_set(d, WK_ELIMIT, "at most %d holidays", WK_POLICY_HOLIDAYS_MAX);
    for (int i = 1; i < p->n_holidays; i++)
        if (p->holidays[i] <= p->holidays[i - 1])
            return wk_diag_set(d, WK_EINVAL, "holidays must be sorted and unique");
    return WK_OK;
}

static bool policy__rest_day(const wk_policy *p, int64_t day)
{
    if (p->friendly_weekends && wk_weekday(day) >= 5)
        return true;
    for (int i = 0; i < p->n_holidays; i++)
        if (p->holidays[i] == day)
            return true;
    return false;
}

/* Is local minute m of a working day inside the friendly window? */
static bool policy__friendly_minute(const wk_policy *p, int m)
{
    int a = p->friendly_from_min, b = p->friendly_to_min;
    if (a == b)
        return false;
    return a < b ? (m >= a && m < b) : (m >= a || m < b);
}

bool wk_policy_friendly(const wk_policy *p, int64_t now_s, int64_t *end_s)
{
    /* walk forward minute-block by block until not friendly (bounded: 40 days) */
    int64_t local = now_s + p->utc_offset_s;
    int64_t day = wk_floor_div(local, 86400);
    int m = (int)((local - day * 86400) / 60);
    bool friendly = policy__rest_day(p, day) || policy__friendly_minute(p, m);
    if (!friendly)
        return false;
    if (end_s) {
        int64_t t = local - (local % 60 + 60) % 60;
        for (int steps = 0; steps < 40 * 1440; steps++) {
            t += 60;
            int64_t dd = wk_floor_div(t, 86400);
            int mm = (int)((t - dd * 86400) / 60);
            if (!policy__rest_day(p, dd) && !policy__friendly_minute(p, mm))
                break;
        }
        *end_s = t - p->utc_offset_s;
    }
    return true;
}

static uint8_t policy__level(const wk_policy *p, int64_t balance, int32_t days_left)
{
    uint8_t lvl = 0;
    for (int i = 0; i < 2; i++) {
        bool by_amount = balance <= p->warn_fen[i];
        bool by_days = p->warn_days[i] > 0 && days_left >= 0 && days_left <= p->warn_days[i];
        if (by_amount || by_days)
            lvl = (uint8_t)(i + 1);
    }
    return lvl;
}

void wk_policy_decide(const wk_policy *p, const wk_policy_account *a, int64_t now_s,
                      wk_policy_decision *out)
{
    char b[32], f[32];
    *out = (wk_policy_decision){.relay = WK_ACT_NONE, .days_left = -1};
    int64_t floor = a->overdraft_floor_fen - (a->emergency_taken ? p->emergency_fen : 0);
    out->available_fen = a->balance_fen - floor;
    if (a->daily_cost_fen > 0)
        out->days_left =
            a->balance_fen <= 0 ? 0 : (int32_t)(a->balance_fen / a->daily_cost_fen);
    wk_dec_format(a->balance_fen, 2, 2, b, sizeof b);
    wk_dec_format(floor, 2, 2, f, sizeof f);

    /* warnings: once per crossing, re-armed above level + hysteresis */
    uint8_t lvl = a->vacant ? 0 : policy__level(p, a->balance_fen, out->days_left);
    out->warned_level = a->warned_level;
    while (out->warned_level > lvl &&
           a->balance_fen > p->warn_fen[out->warned_level - 1] + p->hysteresis_fen)
        out->warned_level--; /* recovered enough: re-arm */
    if (lvl > out->warned_level) {
        out->warn_level = lvl;
        out->warned_level = lvl;
    }

    bool guarded = a->guarantee_until_s > now_s;
    if (a->vacant) {
        out->relay = a->relay == WK_RELAY_CLOSED ? WK_ACT_TRIP : WK_ACT_NONE;
        snprintf(out->why, sizeof out->why, "unit is vacant: relay stays tripped");
        return;
    }
    if (guarded) {
        out->relay = a->relay == WK_RELAY_TRIPPED ? WK_ACT_CLOSE : WK_ACT_NONE;
        snprintf(out->why, sizeof out->why, "power guarantee active; balance %s", b);
        return;
    }
    if (out->available_fen <= 0) {
        if (a->relay == WK_RELAY_TRIPPED) {
            snprintf(out->why, sizeof out->why, "balance %s at or below floor %s; already tripped",
                     b, f);
            return;
        }
        int64_t end;
        if (wk_policy_friendly(p, now_s, &end)) {
            out->relay = WK_ACT_DEFER_TRIP;
            out->retry_at_s = end;
            snprintf(out->why, sizeof out->why,
                     "balance %s at or below floor %s, but friendly hours: trip deferred", b, f);
        } else {
            out->relay = WK_ACT_TRIP;
            snprintf(out->why, sizeof out->why, "balance %s at or below floor %s: trip", b, f);
        }
        return;
    }
    if (a->relay == WK_RELAY_TRIPPED && out->available_fen > p->close_margin_fen) {
        out->relay = WK_ACT_CLOSE;
        snprintf(out->why, sizeof out->why, "balance %s above floor %s: close", b, f);
        return;
    }
    snprintf(out->why, sizeof out->why, "balance %s, floor %s%s", b, f,
             out->warn_level ? ": warn" : ": no action");
}

wk_err wk_policy_take_emergency(const wk_policy *p, const wk_policy_account *a, wk_diag *d)
{
    if (p->emergency_fen <= 0)
        return wk_diag_set(d, WK_ECONFLICT, "emergency credit is not offered in this community");
    if (a->vacant)
        return wk_diag_set(d, WK_ECONFLICT, "the unit is vacant");
    if (a->emergency_taken)
        return wk_diag_set(d, WK_ECONFLICT,
                           "emergency credit was already taken; it is offered again after the "
                           "next top-up");
    if (a->balance_fen > p->warn_fen[0])
        return wk_diag_set(d, WK_ECONFLICT,
                           "emergency credit is offered only at or below the first warning level");
    return WK_OK;
}
