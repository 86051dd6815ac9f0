/*
 * tariff.h - the tariff model: effective-dated versions of tiered and time-of-use prices,
 * and the pure look-ups the rating engine needs (which version is in force, which slot a
 * local minute falls in, which billing cycle a moment belongs to, which thresholds apply).
 *
 * A tariff is data (see docs/tariffs.md and src/proto/tariff_json.c, which builds this
 * struct from JSON); nothing here knows a province's prices. Invariants established by
 * wk_tariff_validate() and relied on everywhere else: versions are sorted and contiguous;
 * every map covers 00:00-24:00 exactly once; every day of the year belongs to exactly one
 * season; every slot a map uses has a price in every tier; thresholds strictly increase.
 *
 * No I/O, no allocation (the caller owns the struct), no clock: time is a parameter.
 */
#ifndef WK_CORE_TARIFF_H
#define WK_CORE_TARIFF_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"

/* Time-of-use slot kinds, in the order of a meter's TOU registers t1..t4 (sharp, peak,
 * flat, valley), plus deep valley which no DL/T 645 register carries. */
typedef enum wk_slot {
    WK_SLOT_SHARP = 0,
    WK_SLOT_PEAK,
    WK_SLOT_FLAT,
    WK_SLOT_VALLEY,
    WK_SLOT_DEEP,
    WK_SLOT_N
} wk_slot;

typedef enum wk_cycle {
    WK_CYCLE_NONE = 0, /* no tiers; the billing (rounding) period is the calendar month */
    WK_CYCLE_MONTHLY,  /* tiers accumulate per month from the settlement day */
    WK_CYCLE_ANNUAL,   /* tiers accumulate per year from the settlement date */
} wk_cycle;

typedef enum wk_alloc {
    WK_ALLOC_CHRONOLOGICAL = 0, /* each interval priced at the tier in force (prepaid meters) */
    WK_ALLOC_PROPORTIONAL,      /* each tier's kWh split over slots by the cycle's slot shares */
} wk_alloc;

#define WK_TIERS_MAX 7
#define WK_MAP_RANGES_MAX 96
#define WK_MAPS_MAX 16
#define WK_SEASONS_MAX 12
#define WK_FLAGS_MAX 4
#define WK_DAYS_MAX 512
#define WK_VERSIONS_MAX 16
#define WK_NAME_MAX 32
#define WK_NOTE_MAX 512
#define WK_PRICE_MAX_UYUAN 20000000     /* 20 yuan/kWh: anything above is a typo */
#define WK_THRESHOLD_MAX_WH 10000000000 /* 10 GWh */

/* Day types a season maps to a slot map. Flags (e.g. "hot" for >= 35 C days) follow. */
enum { WK_DAY_WORKDAY = 0, WK_DAY_WEEKEND, WK_DAY_HOLIDAY, WK_DAY_FLAG0 };
#define WK_DAYTYPES_N (WK_DAY_FLAG0 + WK_FLAGS_MAX)

typedef struct wk_slot_map {
    char name[WK_NAME_MAX];
    uint16_t n;                             /* ranges, sorted; range i is [start_min[i], next) */
    uint16_t start_min[WK_MAP_RANGES_MAX]; /* start_min[0] == 0 */
    uint8_t slot[WK_MAP_RANGES_MAX];
} wk_slot_map;

typedef struct wk_season {
    char name[WK_NAME_MAX];
    uint16_t month_mask;      /* bit m (1..12) set: the season holds that whole month */
    uint16_t from_mmdd;       /* or a recurring date range, MMDD, inclusive, may wrap the */
    uint16_t to_mmdd;         /* year end; 0/0 = no range */
    int8_t map[WK_DAYTYPES_N]; /* slot map index per day type; -1 = fall back (see .c) */
    uint8_t n_thresholds;     /* > 0: the season's own tier thresholds (monthly cycles) */
    int64_t thresholds_wh[WK_TIERS_MAX - 1];
} wk_season;

typedef struct wk_tariff_version {
    int64_t effective_from_s; /* Unix seconds, inclusive */
    int64_t effective_to_s;   /* exclusive; INT64_MAX when open-ended */
    int32_t utc_offset_s;     /* local time of the calendar = UTC + offset */
    char unverified[WK_NOTE_MAX]; /* non-empty: figures that must be checked before use */

    wk_cycle cycle;
    uint8_t settlement_month; /* annual cycles: 1..12 */
    uint8_t settlement_day;   /* 1..28 */
    wk_alloc allocation;
    uint8_t proration_cutoff_day; /* a partial month of service counts if it starts by then */
    uint8_t n_tiers;              /* 1..WK_TIERS_MAX */
    int64_t thresholds_wh[WK_TIERS_MAX - 1]; /* cumulative kWh at which tier k+1 starts */

    /* price[tier][slot] in micro-yuan per kWh; -1 = slot not priced in this version */
    int64_t price_uyuan[WK_TIERS_MAX][WK_SLOT_N];

    uint8_t n_maps;
    wk_slot_map maps[WK_MAPS_MAX];
    uint8_t n_seasons;
    wk_season seasons[WK_SEASONS_MAX];

    uint8_t n_flags;
    char flag_names[WK_FLAGS_MAX][WK_NAME_MAX];
    uint16_t n_holidays, n_workdays, n_flag_days;
    int64_t holidays[WK_DAYS_MAX];  /* sorted local day numbers */
    int64_t workdays[WK_DAYS_MAX];  /* weekend days worked (adjusted working days) */
    int64_t flag_days[WK_DAYS_MAX]; /* sorted; flag_day_mask[i] holds the flags of that day */
    uint8_t flag_day_mask[WK_DAYS_MAX];
} wk_tariff_version;

typedef struct wk_tariff {
    char name[64];
    char source[WK_NOTE_MAX];
    uint8_t n_versions;
    wk_tariff_version versions[WK_VERSIONS_MAX];
} wk_tariff;

/* Name of a slot ("sharp", "peak", "flat", "valley", "deep_valley") and its inverse
 * (-1 if unknown). */
const char *wk_slot_name(wk_slot s);
int wk_slot_from_name(const char *name);

/* Checks every invariant listed at the top of this file. On failure writes which version,
 * map, season or key is wrong and what was expected into d. */
wk_err wk_tariff_validate(const wk_tariff *t, wk_diag *d) WK_MUST_CHECK;

/* Index of the version in force at t_s, or -1 if none. */
int wk_tariff_version_at(const wk_tariff *t, int64_t t_s);

/* Local day number (days since 1970-01-01 in the version's local time) and second of day. */
int64_t wk_tariff_local_day(const wk_tariff_version *v, int64_t t_s, int32_t *sec_of_day);

/* The season holding local day `day`, or -1 (cannot happen after validation). */
int wk_tariff_season(const wk_tariff_version *v, int64_t day);

/* The slot map in force on local day `day` (season + day type: flag > holiday > adjusted
 * workday > weekend/workday). */
const wk_slot_map *wk_tariff_day_map(const wk_tariff_version *v, int64_t day);

/* Slot of minute-of-day m in map, and the minute at which the range holding m ends. */
wk_slot wk_slot_map_at(const wk_slot_map *map, int minute, int *range_end_min);

/* Billing cycle holding t_s under version v: [*start_s, *end_s). */
void wk_tariff_cycle(const wk_tariff_version *v, int64_t t_s, int64_t *start_s, int64_t *end_s);

/* Per-account terms that change thresholds. */
typedef struct wk_rate_terms {
    int64_t service_start_s; /* 0 = none; move-in inside a cycle prorates annual thresholds */
    int64_t service_end_s;   /* 0 = none; move-out (exclusive) likewise */
    uint8_t n_override;      /* > 0: the account's own base thresholds (e.g. family size) */
    int64_t override_wh[WK_TIERS_MAX - 1];
} wk_rate_terms;

/* Effective tier thresholds for the cycle starting at cycle_start_s under version v and
 * the account's terms: the season's or version's thresholds (or the override), prorated
 * by months of service for annual cycles (T * m / 12, half-up to the Wh). Writes the
 * number of tiers and the n_tiers-1 thresholds. */
void wk_tariff_thresholds(const wk_tariff_version *v, const wk_rate_terms *terms,
                          int64_t cycle_start_s, int64_t cycle_end_s, uint8_t *n_tiers,
                          int64_t thresholds_wh[WK_TIERS_MAX - 1], int *months_served);

#endif
