/*
 * rating.h - turns metered energy into exact charges under a tariff.
 *
 * The unit of work is an interval between two register readings of one meter: its energy
 * (Wh) and, when the meter has TOU registers, the energy per slot. The engine keeps, per
 * account, the cumulative state of the current billing cycle (energy per slot, exact
 * charge in nano-yuan, fen already deducted). A deduction is
 *
 *     round_half_up_to_fen(cycle charge after) - fen already deducted in the cycle,
 *
 * so the deductions of a cycle always add up to its rounded one-shot bill, whatever the
 * reading times. Intervals are cut at tariff-version changes and cycle boundaries (energy
 * shared by time, exactly), and for meters without TOU registers also at slot changes (the
 * interval's energy is assumed uniform in time). Inside one piece, energy crossing a tier
 * threshold is split over the slots in proportion, largest remainder on the Wh.
 *
 * Every deduction comes with lines (version, slot, tier, kWh, unit price, amount) whose
 * amounts add up to the change of the exact cycle charge. Pure: no I/O, no allocation.
 */
#ifndef WK_CORE_RATING_H
#define WK_CORE_RATING_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "core/tariff.h"

#define WK_RATE_LINES_MAX 64

typedef struct wk_rate_line {
    uint8_t version;
    uint8_t slot;  /* wk_slot */
    uint8_t tier;  /* 0-based */
    int64_t energy_wh; /* may be negative in a proportional re-split, see docs/tariffs.md */
    int64_t price_uyuan_per_kwh;
    int64_t amount_nyuan; /* energy_wh * price, exact */
} wk_rate_line;

/* Cumulative state of one account's current billing cycle. Zero-initialise before use. */
typedef struct wk_rate_state {
    bool in_cycle;
    int8_t version; /* version of the last piece rated */
    int64_t cycle_start_s, cycle_end_s;
    uint8_t n_tiers;
    int64_t thresholds_wh[WK_TIERS_MAX - 1];
    int months_served;
    int64_t energy_wh[WK_SLOT_N]; /* this cycle, per slot */
    int64_t energy_total_wh;
    int64_t charge_nyuan; /* exact cumulative charge of the cycle */
    int64_t charged_fen;  /* deducted so far in the cycle == round(charge) after each call */
    /* cache of the last local day's slot map (meters without TOU registers) */
    int64_t map_day_plus1; /* 0 = empty */
    int8_t map_version;
    int8_t map_index;
} wk_rate_state;

/* One interval of consumption. */
typedef struct wk_interval {
    int64_t from_s, to_s; /* from_s < to_s */
    int64_t energy_wh;    /* >= 0 */
    bool has_slots;       /* the meter's TOU registers gave the energy per slot */
    int64_t slot_wh[WK_SLOT_N]; /* when has_slots: sums to energy_wh */
} wk_interval;

typedef struct wk_rate_result {
    int64_t deduction_fen;   /* sum over the cycles the interval touched */
    int64_t charge_nyuan;    /* exact charge of this interval (sum of line amounts) */
    int cycles_closed;       /* cycle boundaries crossed */
    bool by_clock;           /* the registers named a slot the tariff does not price: the
                                total was split by the tariff's own time map instead */
    int n_lines;
    wk_rate_line lines[WK_RATE_LINES_MAX]; /* merged by (version, slot, tier) */
} wk_rate_result;

/* Rates one interval, advancing *st. terms may be NULL. out may be NULL when no
 * explanation is wanted (the hot path). Registers for a slot the tariff does not price
 * are not an error: the interval is rated by the tariff's time map (out->by_clock). On
 * error (no version in force, overflow, more than WK_RATE_LINES_MAX distinct lines) writes
 * why into d and leaves *st unchanged. */
wk_err wk_rate_interval(const wk_tariff *t, const wk_rate_terms *terms, wk_rate_state *st,
                        const wk_interval *iv, wk_rate_result *out, wk_diag *d) WK_MUST_CHECK;

/* Splits `total` over n parts in proportion to weights (sum of weights > 0) by largest
 * remainder, ties to the lower index. Exported for the readings layer and the tests. */
void wk_split_largest_remainder(int64_t total, const int64_t *weights, int n, int64_t *out);

#endif
