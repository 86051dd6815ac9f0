/*
 * rating.c - the exact rating engine (see rating.h for the model). Integer arithmetic
 * only; 128-bit intermediates where a product of two int64 quantities is divided again.
 */
#include "core/rating.h"

#include <string.h>

#include "core/civil.h"
#include "core/units.h"

#define RATE_ENERGY_MAX_WH INT64_C(10000000000000) /* 10 TWh: beyond any meter */

/* a * b / c, rounded half-up; c > 0, a, b >= 0 */
static int64_t rate__muldiv(int64_t a, int64_t b, int64_t c)
{
    __int128 p = (__int128)a * b;
    return (int64_t)((p * 2 + c) / (2 * (__int128)c));
}

void wk_split_largest_remainder(int64_t total, const int64_t *weights, int n, int64_t *out)
{
    __int128 wsum = 0;
    for (int i = 0; i < n; i++)
        wsum += weights[i];
    WK_ASSERT(wsum > 0 && n <= 16);
    __int128 rem[16];
    int64_t given = 0;
    for (int i = 0; i < n; i++) {
        __int128 q = (__int128)total * weights[i];
        out[i] = (int64_t)(q / wsum);
        rem[i] = q % wsum;
        given += out[i];
    }
    for (int64_t left = total - given; left > 0; left--) {
        int best = -1;
        for (int i = 0; i < n; i++)
            if (weights[i] > 0 && (best < 0 || rem[i] > rem[best]))
                best = i;
        out[best] += 1;
        rem[best] = -1; /* each part gets at most one extra unit */
    }
}

/* Energy of each tier for consumption e starting at cumulative position pos. */
static void rate__tier_portions(int64_t pos, int64_t e, uint8_t n_tiers, const int64_t *thr,
                                int64_t portions[WK_TIERS_MAX])
{
    int64_t lo = 0;
    for (int k = 0; k < n_tiers; k++) {
        int64_t hi = k + 1 < n_tiers ? thr[k] : INT64_MAX;
        int64_t a = pos > lo ? pos : lo;
        int64_t b = pos + e < hi ? pos + e : hi;
        portions[k] = b > a ? b - a : 0;
        lo = hi;
    }
}

/* Splits slot energies over tiers: row k sums to portions[k], column s to slot_wh[s]. */
static void rate__alloc(const int64_t portions[WK_TIERS_MAX], uint8_t n_tiers,
                        const int64_t slot_wh[WK_SLOT_N], int64_t alloc[WK_TIERS_MAX][WK_SLOT_N])
{
    int64_t rem[WK_SLOT_N];
    memcpy(rem, slot_wh, sizeof rem);
    int last = -1;
    for (int k = 0; k < n_tiers; k++)
        if (portions[k] > 0)
            last = k;
    for (int k = 0; k < n_tiers; k++) {
        if (portions[k] == 0 || k == last) {
            if (k == last)
                memcpy(alloc[k], rem, sizeof rem);
            else
                memset(alloc[k], 0, sizeof alloc[k]);
            continue;
        }
        wk_split_largest_remainder(portions[k], rem, WK_SLOT_N, alloc[k]);
        for (int s = 0; s < WK_SLOT_N; s++) {
            rem[s] -= alloc[k][s];
            WK_ASSERT(rem[s] >= 0);
        }
    }
}

static wk_err rate__line(wk_rate_result *out, int version, int slot, int tier, int64_t wh,
                         int64_t price, int64_t amount, wk_diag *d)
{
    if (!out || wh == 0)
        return WK_OK;
    for (int i = 0; i < out->n_lines; i++) {
        wk_rate_line *l = &out->lines[i];
        if (l->version == version && l->slot == slot && l->tier == tier) {
            l->energy_wh += wh;
            l->amount_nyuan += amount;
            return WK_OK;
        }
    }
    if (out->n_lines == WK_RATE_LINES_MAX)
        return wk_diag_set(d, WK_ELIMIT, "more than %d explanation lines in one interval",
                           WK_RATE_LINES_MAX);
    out->lines[out->n_lines++] = (wk_rate_line){(uint8_t)version, (uint8_t)slot, (uint8_t)tier,
                                                wh, price, amount};
    return WK_OK;
}

/* Charge of allocation matrix under version v (amounts only; overflow-checked). */
static wk_err rate__matrix_charge(const wk_tariff_version *v, uint8_t n_tiers,
                                  int64_t alloc[WK_TIERS_MAX][WK_SLOT_N], int64_t *charge)
{
    int64_t c = 0, a;
    for (int k = 0; k < n_tiers; k++)
        for (int s = 0; s < WK_SLOT_N; s++)
            if (alloc[k][s]) {
                if (wk_charge_nyuan(alloc[k][s], v->price_uyuan[k][s], &a) ||
                    wk_add_i64(c, a, &c))
                    return WK_ERANGE;
            }
    *charge = c;
    return WK_OK;
}

/* Rates one piece (inside one version and one cycle) and advances s. */
static wk_err rate__piece(const wk_tariff_version *v, int vi, wk_rate_state *s,
                          const int64_t piece_wh[WK_SLOT_N], int64_t piece_total,
                          wk_rate_result *out, int64_t *charge_nyuan, wk_diag *d)
{
    int64_t portions[WK_TIERS_MAX], alloc[WK_TIERS_MAX][WK_SLOT_N], delta = 0, a;
    if (v->allocation == WK_ALLOC_CHRONOLOGICAL) {
        rate__tier_portions(s->energy_total_wh, piece_total, s->n_tiers, s->thresholds_wh,
                            portions);
        int only = -1;
        for (int k = 0; k < s->n_tiers; k++)
            if (portions[k])
                only = only == -1 ? k : -2;
        if (only >= 0) { /* the common case: the whole piece inside one tier */
            for (int sl = 0; sl < WK_SLOT_N; sl++) {
                if (!piece_wh[sl])
                    continue;
                int64_t p = v->price_uyuan[only][sl];
                if (wk_charge_nyuan(piece_wh[sl], p, &a) || wk_add_i64(delta, a, &delta))
                    goto overflow;
                wk_err e = rate__line(out, vi, sl, only, piece_wh[sl], p, a, d);
                if (e)
                    return e;
            }
            goto booked;
        }
        rate__alloc(portions, s->n_tiers, piece_wh, alloc);
        if (rate__matrix_charge(v, s->n_tiers, alloc, &delta))
            goto overflow;
        for (int k = 0; k < s->n_tiers && out; k++)
            for (int sl = 0; sl < WK_SLOT_N; sl++)
                if (alloc[k][sl]) {
                    int64_t p = v->price_uyuan[k][sl];
                    wk_err e = rate__line(out, vi, sl, k, alloc[k][sl], p, alloc[k][sl] * p, d);
                    if (e)
                        return e;
                }
    } else {
        /* proportional: re-split the whole cycle's energy; the piece's charge is the change */
        int64_t before[WK_TIERS_MAX][WK_SLOT_N], after_wh[WK_SLOT_N], c0, c1;
        rate__tier_portions(0, s->energy_total_wh, s->n_tiers, s->thresholds_wh, portions);
        rate__alloc(portions, s->n_tiers, s->energy_wh, before);
        for (int sl = 0; sl < WK_SLOT_N; sl++)
            after_wh[sl] = s->energy_wh[sl] + piece_wh[sl];
        rate__tier_portions(0, s->energy_total_wh + piece_total, s->n_tiers, s->thresholds_wh,
                            portions);
        rate__alloc(portions, s->n_tiers, after_wh, alloc);
        if (rate__matrix_charge(v, s->n_tiers, before, &c0) ||
            rate__matrix_charge(v, s->n_tiers, alloc, &c1))
            goto overflow;
        delta = c1 - c0;
        for (int k = 0; k < s->n_tiers && out; k++)
            for (int sl = 0; sl < WK_SLOT_N; sl++) {
                int64_t wh = alloc[k][sl] - before[k][sl];
                int64_t p = v->price_uyuan[k][sl];
                wk_err e = rate__line(out, vi, sl, k, wh, p, wh * p, d);
                if (e)
                    return e;
            }
    }
booked:
    for (int sl = 0; sl < WK_SLOT_N; sl++)
        s->energy_wh[sl] += piece_wh[sl];
    s->energy_total_wh += piece_total;
    if (wk_add_i64(s->charge_nyuan, delta, &s->charge_nyuan) ||
        wk_add_i64(*charge_nyuan, delta, charge_nyuan))
        goto overflow;
    return WK_OK;
overflow:
    return wk_diag_set(d, WK_ERANGE, "charge overflows 64 bits");
}

static void rate__start_cycle(const wk_tariff_version *v, const wk_rate_terms *terms,
                              wk_rate_state *s, int64_t start_s, int64_t end_s)
{
    memset(s, 0, sizeof *s);
    s->in_cycle = true;
    s->cycle_start_s = start_s;
    s->cycle_end_s = end_s;
    wk_tariff_thresholds(v, terms, start_s, end_s, &s->n_tiers, s->thresholds_wh,
                         &s->months_served);
}

/* Whether the registers put energy in a slot that a version in force during the interval
 * does not price (tariffs with a single price take any slot: see the loop below). */
static bool rate__registers_unpriced(const wk_tariff *t, const wk_interval *iv)
{
    for (int i = 0; i < t->n_versions; i++) {
        const wk_tariff_version *v = &t->versions[i];
        if (v->effective_to_s <= iv->from_s || v->effective_from_s >= iv->to_s)
            continue;
        int n_priced = 0;
        for (int sl = 0; sl < WK_SLOT_N; sl++)
            n_priced += v->price_uyuan[0][sl] >= 0;
        if (n_priced == 1)
            continue;
        for (int sl = 0; sl < WK_SLOT_N; sl++)
            if (iv->slot_wh[sl] > 0 && v->price_uyuan[0][sl] < 0)
                return true;
    }
    return false;
}

wk_err wk_rate_interval(const wk_tariff *t, const wk_rate_terms *terms, wk_rate_state *st,
                        const wk_interval *iv, wk_rate_result *out, wk_diag *d)
{
    char tb[32];
    if (iv->to_s <= iv->from_s)
        return wk_diag_set(d, WK_EINVAL, "interval must end after it starts");
    if (iv->energy_wh < 0 || iv->energy_wh > RATE_ENERGY_MAX_WH)
        return wk_diag_set(d, WK_ERANGE, "interval energy %lld Wh out of range",
                           (long long)iv->energy_wh);
    if (iv->has_slots) {
        int64_t sum = 0;
        for (int i = 0; i < WK_SLOT_N; i++) {
            if (iv->slot_wh[i] < 0)
                return wk_diag_set(d, WK_EINVAL, "negative slot energy");
            sum += iv->slot_wh[i];
        }
        if (sum != iv->energy_wh)
            return wk_diag_set(d, WK_EINVAL, "slot energies do not add up to the total");
    }
    if (out)
        memset(out, 0, offsetof(wk_rate_result, lines));
    /* A meter whose TOU table disagrees with the tariff (energy in a register for a slot the
     * tariff does not price, e.g. a four-period meter on a peak/valley tariff) is rated by
     * the tariff's own time map from the total, never refused: billing must not stall on a
     * meter's programming. The caller learns it from out->by_clock (an anomaly to fix). */
    wk_interval clock_iv;
    if (iv->has_slots && rate__registers_unpriced(t, iv)) {
        clock_iv = *iv;
        clock_iv.has_slots = false;
        memset(clock_iv.slot_wh, 0, sizeof clock_iv.slot_wh);
        iv = &clock_iv;
        if (out)
            out->by_clock = true;
    }

    wk_rate_state s = *st;
    int64_t deduction = 0, charge = 0, dur = iv->to_s - iv->from_s;
    int64_t done_wh[WK_SLOT_N] = {0}, done_total = 0;
    int closed = 0;
    for (int64_t cur = iv->from_s; cur < iv->to_s;) {
        int vi = s.in_cycle && s.version >= 0 && s.version < t->n_versions &&
                         cur >= t->versions[s.version].effective_from_s &&
                         cur < t->versions[s.version].effective_to_s
                     ? s.version
                     : wk_tariff_version_at(t, cur);
        if (vi < 0)
            return wk_diag_set(d, WK_ENOTFOUND, "no tariff version in force at %s",
                               wk_time_format(cur, t->n_versions ? t->versions[0].utc_offset_s : 0, tb, sizeof tb));
        const wk_tariff_version *v = &t->versions[vi];
        if (!s.in_cycle || cur >= s.cycle_end_s || vi != s.version) {
            int64_t cs, ce;
            wk_tariff_cycle(v, cur, &cs, &ce);
            if (s.in_cycle && cs != s.cycle_start_s) {
                closed++;
                s.in_cycle = false;
            }
            if (!s.in_cycle)
                rate__start_cycle(v, terms, &s, cs, ce);
            else /* version change inside the cycle: tiers continue, thresholds may change */
                wk_tariff_thresholds(v, terms, s.cycle_start_s, s.cycle_end_s, &s.n_tiers,
                                     s.thresholds_wh, &s.months_served);
            s.version = (int8_t)vi;
        }
        int64_t end = iv->to_s;
        if (s.cycle_end_s < end)
            end = s.cycle_end_s;
        if (v->effective_to_s < end)
            end = v->effective_to_s;
        int64_t piece_wh[WK_SLOT_N] = {0}, piece_total = 0;
        if (iv->has_slots) {
            for (int sl = 0; sl < WK_SLOT_N; sl++) {
                int64_t upto = end == iv->to_s ? iv->slot_wh[sl]
                                               : rate__muldiv(iv->slot_wh[sl], end - iv->from_s, dur);
                piece_wh[sl] = upto - done_wh[sl];
                done_wh[sl] = upto;
                piece_total += piece_wh[sl];
            }
        } else {
            int32_t sod;
            int64_t day = wk_tariff_local_day(v, cur, &sod);
            if (s.map_day_plus1 != day + 1 || s.map_version != vi) {
                s.map_day_plus1 = day + 1;
                s.map_version = (int8_t)vi;
                s.map_index = (int8_t)(wk_tariff_day_map(v, day) - v->maps);
            }
            int range_end;
            wk_slot slot = wk_slot_map_at(&v->maps[s.map_index], sod / 60, &range_end);
            int64_t slot_end = cur - sod + (int64_t)range_end * 60;
            if (slot_end < end)
                end = slot_end;
            int64_t upto = end == iv->to_s ? iv->energy_wh
                                           : rate__muldiv(iv->energy_wh, end - iv->from_s, dur);
            piece_total = upto - done_total;
            done_total = upto;
            piece_wh[slot] = piece_total;
        }
        if (iv->has_slots) {
            /* a tariff without time-of-use prices the total, whatever the registers say */
            int priced = -1, n_priced = 0;
            for (int sl = 0; sl < WK_SLOT_N; sl++)
                if (v->price_uyuan[0][sl] >= 0) {
                    priced = sl;
                    n_priced++;
                }
            if (n_priced == 1) {
                memset(piece_wh, 0, sizeof piece_wh);
                piece_wh[priced] = piece_total;
            }
        }
        for (int sl = 0; sl < WK_SLOT_N; sl++)
            if (piece_wh[sl] > 0 && v->price_uyuan[0][sl] < 0)
                return wk_diag_set(d, WK_EINVAL,
                                   "%s energy at %s, but the tariff version in force has no "
                                   "%s price",
                                   wk_slot_name((wk_slot)sl),
                                   wk_time_format(cur, v->utc_offset_s, tb, sizeof tb),
                                   wk_slot_name((wk_slot)sl));
        if (piece_total > 0) {
            wk_err e = rate__piece(v, vi, &s, piece_wh, piece_total, out, &charge, d);
            if (e)
                return e;
        }
        int64_t fen = wk_nyuan_to_fen(s.charge_nyuan);
        deduction += fen - s.charged_fen;
        s.charged_fen = fen;
        cur = end;
    }
    /* a reading exactly at the cycle end closes the cycle now rather than at the next one */
    if (iv->to_s >= s.cycle_end_s) {
        closed++;
        s.in_cycle = false;
    }
    *st = s;
    if (out) {
        out->deduction_fen = deduction;
        out->charge_nyuan = charge;
        out->cycles_closed = closed;
    }
    return WK_OK;
}
