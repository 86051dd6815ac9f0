/*
 * policy.h - the balance policy: given an account's balance and state, the community's
 * rules and the time, decide whether to warn, trip or close the relay, and say why.
 *
 * Pure and deterministic: no clock, no I/O; the head-end calls it after every deduction and
 * every credit and acts on the decision (notification outbox, command queue). Rules:
 *   - vacant units stay tripped; a power guarantee keeps a unit closed until it expires;
 *   - the relay trips when the balance reaches the trip floor (overdraft limit, lowered by
 *     emergency credit once taken), but never inside friendly hours (nights, weekends,
 *     holidays as configured): then the trip is deferred and the decision says until when;
 *   - a tripped relay closes as soon as the balance is above the floor plus the close margin;
 *   - two warning levels by amount and/or estimated days left, each sent once per crossing
 *     and re-armed only when the balance recovers above the level plus a hysteresis.
 */
#ifndef WK_CORE_POLICY_H
#define WK_CORE_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"

#define WK_POLICY_HOLIDAYS_MAX 64

typedef struct wk_policy {
    int64_t warn_fen[2];      /* level 1 and level 2 (lower) amounts; level 2 <= level 1 */
    int32_t warn_days[2];     /* or: estimated days left at or below this (0 = off) */
    int64_t hysteresis_fen;   /* re-arm a level when balance > level + this */
    int64_t close_margin_fen; /* close when available credit > this (>= 0) */
    int64_t emergency_fen;    /* emergency credit a resident may take once per top-up */
    int32_t friendly_from_min; /* friendly hours [from, to) in local minutes; may wrap midnight; */
    int32_t friendly_to_min;   /* from == to: no friendly hours */
    bool friendly_weekends;
    int32_t utc_offset_s;
    uint16_t n_holidays;
    int64_t holidays[WK_POLICY_HOLIDAYS_MAX]; /* local day numbers, sorted */
} wk_policy;

typedef enum wk_relay {
    WK_RELAY_CLOSED = 0, /* power on */
    WK_RELAY_TRIPPED,    /* power off */
} wk_relay;

typedef struct wk_policy_account {
    int64_t balance_fen;
    int64_t overdraft_floor_fen; /* <= 0: the balance may go this far below zero */
    wk_relay relay;
    bool vacant;
    bool emergency_taken;         /* since the last top-up */
    int64_t guarantee_until_s;    /* power guarantee (staff, e.g. medical need); 0 = none */
    int64_t daily_cost_fen;       /* recent average cost per day, for days left; 0 = unknown */
    uint8_t warned_level;         /* 0, 1 or 2: the last warning sent and not yet re-armed */
} wk_policy_account;

typedef enum wk_relay_action {
    WK_ACT_NONE = 0,
    WK_ACT_TRIP,
    WK_ACT_CLOSE,
    WK_ACT_DEFER_TRIP, /* would trip, but friendly hours: retry at .retry_at_s */
} wk_relay_action;

typedef struct wk_policy_decision {
    wk_relay_action relay;
    uint8_t warn_level;     /* 1 or 2: send this warning now; 0 = none */
    uint8_t warned_level;   /* the account's new warned_level to store */
    int64_t available_fen;  /* balance above the trip floor */
    int32_t days_left;      /* -1 when unknown */
    int64_t retry_at_s;     /* for WK_ACT_DEFER_TRIP: end of the friendly period */
    char why[192];          /* one line for the decision log */
} wk_policy_decision;

/* Checks a policy for consistency (levels ordered, minutes in range, holidays sorted). */
wk_err wk_policy_validate(const wk_policy *p, wk_diag *d) WK_MUST_CHECK;

/* Decides what to do now. Cannot fail; out is fully written. */
void wk_policy_decide(const wk_policy *p, const wk_policy_account *a, int64_t now_s,
                      wk_policy_decision *out);

/* True inside friendly hours (no trip); *end_s receives when they end. */
bool wk_policy_friendly(const wk_policy *p, int64_t now_s, int64_t *end_s);

/* A resident asks for emergency credit: allowed once until the next top-up, only when the
 * account is at or below warning level 1 and not vacant. On success the caller books the
 * extra floor and stores emergency_taken. WK_ECONFLICT with the reason otherwise. */
wk_err wk_policy_take_emergency(const wk_policy *p, const wk_policy_account *a,
                                wk_diag *d) WK_MUST_CHECK;

#endif
