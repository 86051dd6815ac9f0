/*
 * tariff.c - validation and look-ups over the tariff model of tariff.h. Pure functions
 * over a caller-owned struct: no I/O, no allocation, no clock.
 */
#include "core/tariff.h"

#include <string.h>

#include "core/civil.h"

static const char *const slot_names[WK_SLOT_N] = {"sharp", "peak", "flat", "valley",
                                                  "deep_valley"};

const char *wk_slot_name(wk_slot s)
{
    return (unsigned)s < WK_SLOT_N ? slot_names[s] : "?";
}

int wk_slot_from_name(const char *name)
{
    for (int i = 0; i < WK_SLOT_N; i++)
        if (!strcmp(name, slot_names[i]))
            return i;
    return -1;
}

int wk_tariff_version_at(const wk_tariff *t, int64_t t_s)
{
    for (int i = t->n_versions - 1; i >= 0; i--)
        if (t_s >= t->versions[i].effective_from_s)
            return t_s < t->versions[i].effective_to_s ? i : -1;
    return -1;
}

int64_t wk_tariff_local_day(const wk_tariff_version *v, int64_t t_s, int32_t *sec_of_day)
{
    int64_t local = t_s + v->utc_offset_s;
    int64_t day = wk_floor_div(local, 86400);
    if (sec_of_day)
        *sec_of_day = (int32_t)(local - day * 86400);
    return day;
}

static int tariff__in_season(const wk_season *s, int month, int mmdd)
{
    if (s->month_mask & (1u << month))
        return 1;
    if (s->from_mmdd == 0)
        return 0;
    if (s->from_mmdd <= s->to_mmdd)
        return mmdd >= s->from_mmdd && mmdd <= s->to_mmdd;
    return mmdd >= s->from_mmdd || mmdd <= s->to_mmdd; /* wraps the year end */
}

int wk_tariff_season(const wk_tariff_version *v, int64_t day)
{
    wk_date d = wk_civil_from_days(day);
    int mmdd = d.month * 100 + d.day;
    for (int i = 0; i < v->n_seasons; i++)
        if (tariff__in_season(&v->seasons[i], d.month, mmdd))
            return i;
    return -1;
}

static int tariff__find_day(const int64_t *days, int n, int64_t day)
{
    int lo = 0, hi = n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        if (days[mid] == day)
            return mid;
        if (days[mid] < day)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

const wk_slot_map *wk_tariff_day_map(const wk_tariff_version *v, int64_t day)
{
    int si = wk_tariff_season(v, day);
    WK_PANIC_IF(si < 0); /* validation proved every day has a season */
    const wk_season *s = &v->seasons[si];
    int fi = tariff__find_day(v->flag_days, v->n_flag_days, day);
    if (fi >= 0) {
        for (int f = 0; f < v->n_flags; f++)
            if ((v->flag_day_mask[fi] & (1u << f)) && s->map[WK_DAY_FLAG0 + f] >= 0)
                return &v->maps[s->map[WK_DAY_FLAG0 + f]];
    }
    int type = WK_DAY_WORKDAY;
    if (tariff__find_day(v->holidays, v->n_holidays, day) >= 0)
        type = WK_DAY_HOLIDAY;
    else if (wk_weekday(day) >= 5 && tariff__find_day(v->workdays, v->n_workdays, day) < 0)
        type = WK_DAY_WEEKEND;
    /* fall back: holiday -> weekend -> workday */
    if (type == WK_DAY_HOLIDAY && s->map[WK_DAY_HOLIDAY] < 0)
        type = WK_DAY_WEEKEND;
    if (type == WK_DAY_WEEKEND && s->map[WK_DAY_WEEKEND] < 0)
        type = WK_DAY_WORKDAY;
    return &v->maps[s->map[type]];
}

wk_slot wk_slot_map_at(const wk_slot_map *map, int minute, int *range_end_min)
{
    int i = 0;
    while (i + 1 < map->n && map->start_min[i + 1] <= minute)
        i++;
    if (range_end_min)
        *range_end_min = i + 1 < map->n ? map->start_min[i + 1] : 1440;
    return (wk_slot)map->slot[i];
}

static int64_t tariff__local_midnight_s(const wk_tariff_version *v, int32_t y, int32_t m, int32_t d)
{
    return wk_days_from_civil(y, m, d) * 86400 - v->utc_offset_s;
}

void wk_tariff_cycle(const wk_tariff_version *v, int64_t t_s, int64_t *start_s, int64_t *end_s)
{
    wk_date d = wk_civil_from_days(wk_tariff_local_day(v, t_s, NULL));
    int sd = v->settlement_day ? v->settlement_day : 1;
    if (v->cycle == WK_CYCLE_ANNUAL) {
        int sm = v->settlement_month ? v->settlement_month : 1;
        int32_t y = (d.month > sm || (d.month == sm && d.day >= sd)) ? d.year : d.year - 1;
        *start_s = tariff__local_midnight_s(v, y, sm, sd);
        *end_s = tariff__local_midnight_s(v, y + 1, sm, sd);
        return;
    }
    int32_t y = d.year, m = d.month;
    if (d.day < sd) {
        m -= 1;
        if (m == 0) {
            m = 12;
            y -= 1;
        }
    }
    *start_s = tariff__local_midnight_s(v, y, m, sd);
    *end_s = m == 12 ? tariff__local_midnight_s(v, y + 1, 1, sd)
                     : tariff__local_midnight_s(v, y, m + 1, sd);
}

/* Local day number of the first day of cycle month i (0..11) after the cycle start. */
static int64_t tariff__cycle_month_day(int64_t start_day, int i)
{
    wk_date d = wk_civil_from_days(start_day);
    int32_t m0 = d.month - 1 + i;
    return wk_days_from_civil(d.year + m0 / 12, m0 % 12 + 1, d.day);
}

void wk_tariff_thresholds(const wk_tariff_version *v, const wk_rate_terms *terms,
                          int64_t cycle_start_s, int64_t cycle_end_s, uint8_t *n_tiers,
                          int64_t thresholds_wh[WK_TIERS_MAX - 1], int *months_served)
{
    *n_tiers = v->n_tiers;
    const int64_t *base = v->thresholds_wh;
    int64_t start_day = wk_tariff_local_day(v, cycle_start_s, NULL);
    if (v->cycle == WK_CYCLE_MONTHLY) {
        const wk_season *s = &v->seasons[wk_tariff_season(v, start_day)];
        if (s->n_thresholds)
            base = s->thresholds_wh;
    }
    if (terms && terms->n_override)
        base = terms->override_wh;
    int months = 12;
    if (v->cycle == WK_CYCLE_ANNUAL && terms &&
        ((terms->service_start_s > cycle_start_s && terms->service_start_s < cycle_end_s) ||
         (terms->service_end_s > cycle_start_s && terms->service_end_s < cycle_end_s))) {
        int cutoff = v->proration_cutoff_day ? v->proration_cutoff_day : 15;
        int64_t in_day = terms->service_start_s > cycle_start_s
                             ? wk_tariff_local_day(v, terms->service_start_s, NULL)
                             : INT64_MIN;
        int64_t out_day = (terms->service_end_s > cycle_start_s &&
                           terms->service_end_s < cycle_end_s)
                              ? wk_tariff_local_day(v, terms->service_end_s - 1, NULL)
                              : INT64_MAX;
        months = 0;
        for (int i = 0; i < 12; i++) {
            int64_t m_first = tariff__cycle_month_day(start_day, i);
            int64_t m_next = tariff__cycle_month_day(start_day, i + 1);
            if (in_day >= m_next || out_day < m_first)
                continue; /* not in service at all that month */
            if (in_day >= m_first && in_day - m_first + 1 > cutoff)
                continue; /* moved in after the cut-off day */
            if (out_day < m_next - 1 && out_day - m_first + 1 <= cutoff)
                continue; /* moved out by the cut-off day */
            months++;
        }
    }
    if (months_served)
        *months_served = months;
    for (int k = 0; k + 1 < v->n_tiers; k++)
        thresholds_wh[k] = (base[k] * months * 2 + 12) / 24; /* T * m / 12, half-up */
}

/* ---- validation ---- */

static wk_err tariff__validate_version(const wk_tariff_version *v, int vi, wk_diag *d)
{
    if (v->n_tiers < 1 || v->n_tiers > WK_TIERS_MAX)
        return wk_diag_set(d, WK_EINVAL, "versions[%d]: %d tiers, expected 1..%d", vi, v->n_tiers,
                           WK_TIERS_MAX);
    if (v->cycle == WK_CYCLE_NONE && v->n_tiers != 1)
        return wk_diag_set(d, WK_EINVAL, "versions[%d]: tiers.cycle \"none\" takes no thresholds",
                           vi);
    if (v->cycle != WK_CYCLE_NONE && v->n_tiers < 2)
        return wk_diag_set(d, WK_EINVAL,
                           "versions[%d]: tiers.thresholds_kwh is empty; use cycle \"none\" "
                           "for a tariff without tiers",
                           vi);
    if (v->settlement_day < 1 || v->settlement_day > 28)
        return wk_diag_set(d, WK_EINVAL, "versions[%d]: settlement day %d, expected 1..28", vi,
                           v->settlement_day);
    if (v->cycle == WK_CYCLE_ANNUAL && (v->settlement_month < 1 || v->settlement_month > 12))
        return wk_diag_set(d, WK_EINVAL, "versions[%d]: settlement month %d, expected 1..12", vi,
                           v->settlement_month);
    if (v->proration_cutoff_day < 1 || v->proration_cutoff_day > 31)
        return wk_diag_set(d, WK_EINVAL, "versions[%d]: proration_cutoff_day %d, expected 1..31",
                           vi, v->proration_cutoff_day);
    for (int k = 0; k + 1 < v->n_tiers; k++) {
        if (v->thresholds_wh[k] <= (k ? v->thresholds_wh[k - 1] : 0) ||
            v->thresholds_wh[k] > WK_THRESHOLD_MAX_WH)
            return wk_diag_set(d, WK_EINVAL,
                               "versions[%d]: tiers.thresholds_kwh[%d] must be greater than the "
                               "previous threshold (and than 0) and at most 10000000 kWh",
                               vi, k);
    }
    for (int k = 0; k < v->n_tiers; k++)
        for (int s = 0; s < WK_SLOT_N; s++)
            if (v->price_uyuan[k][s] < -1 || v->price_uyuan[k][s] > WK_PRICE_MAX_UYUAN ||
                (v->price_uyuan[k][s] == -1) != (v->price_uyuan[0][s] == -1))
                return wk_diag_set(d, WK_EINVAL,
                                   "versions[%d]: price of %s in tier %d must be 0..20 yuan/kWh "
                                   "and given for every tier",
                                   vi, wk_slot_name((wk_slot)s), k + 1);
    if (v->n_maps < 1)
        return wk_diag_set(d, WK_EINVAL, "versions[%d]: no slot map", vi);
    for (int m = 0; m < v->n_maps; m++) {
        const wk_slot_map *map = &v->maps[m];
        if (map->n < 1 || map->start_min[0] != 0)
            return wk_diag_set(d, WK_EINVAL, "versions[%d].maps.%s: must start at 00:00", vi,
                               map->name);
        for (int i = 0; i < map->n; i++) {
            if (i && map->start_min[i] <= map->start_min[i - 1])
                return wk_diag_set(d, WK_EINVAL, "versions[%d].maps.%s: ranges out of order",
                                   vi, map->name);
            if (map->start_min[i] >= 1440 || map->slot[i] >= WK_SLOT_N)
                return wk_diag_set(d, WK_EINVAL, "versions[%d].maps.%s: bad range %d", vi,
                                   map->name, i);
            if (v->price_uyuan[0][map->slot[i]] < 0)
                return wk_diag_set(d, WK_EINVAL,
                                   "versions[%d].maps.%s: slot %s has no price in prices", vi,
                                   map->name, wk_slot_name((wk_slot)map->slot[i]));
        }
    }
    if (v->n_seasons < 1)
        return wk_diag_set(d, WK_EINVAL, "versions[%d]: no season", vi);
    for (int s = 0; s < v->n_seasons; s++) {
        const wk_season *se = &v->seasons[s];
        for (int t = 0; t < WK_DAYTYPES_N; t++)
            if (se->map[t] >= v->n_maps)
                return wk_diag_set(d, WK_EINVAL, "versions[%d].seasons[%d]: bad map index", vi,
                                   s);
        if (se->map[WK_DAY_WORKDAY] < 0)
            return wk_diag_set(d, WK_EINVAL, "versions[%d].seasons[%d] (%s): days.workday missing",
                               vi, s, se->name);
        if (se->n_thresholds && se->n_thresholds + 1 != v->n_tiers)
            return wk_diag_set(d, WK_EINVAL,
                               "versions[%d].seasons[%d] (%s): %d thresholds, expected %d", vi, s,
                               se->name, se->n_thresholds, v->n_tiers - 1);
        if (se->n_thresholds && v->cycle != WK_CYCLE_MONTHLY)
            return wk_diag_set(d, WK_EINVAL,
                               "versions[%d].seasons[%d] (%s): seasonal thresholds need a "
                               "monthly cycle",
                               vi, s, se->name);
        for (int k = 0; k < se->n_thresholds; k++)
            if (se->thresholds_wh[k] <= (k ? se->thresholds_wh[k - 1] : 0) ||
                se->thresholds_wh[k] > WK_THRESHOLD_MAX_WH)
                return wk_diag_set(d, WK_EINVAL,
                                   "versions[%d].seasons[%d] (%s): thresholds_kwh[%d] must "
                                   "increase",
                                   vi, s, se->name, k);
    }
    /* every day of a leap year in exactly one season */
    for (int m = 1; m <= 12; m++) {
        for (int day = 1; day <= wk_days_in_month(2024, m); day++) {
            int hits = 0;
            for (int s = 0; s < v->n_seasons; s++)
                hits += tariff__in_season(&v->seasons[s], m, m * 100 + day);
            if (hits != 1)
                return wk_diag_set(d, WK_EINVAL,
                                   "versions[%d].seasons: %02d-%02d is in %d seasons, expected "
                                   "exactly 1",
                                   vi, m, day, hits);
        }
    }
    const int64_t *lists[3] = {v->holidays, v->workdays, v->flag_days};
    const int ns[3] = {v->n_holidays, v->n_workdays, v->n_flag_days};
    const char *names[3] = {"holidays", "workdays", "flags"};
    for (int l = 0; l < 3; l++)
        for (int i = 1; i < ns[l]; i++)
            if (lists[l][i] <= lists[l][i - 1])
                return wk_diag_set(d, WK_EINVAL,
                                   "versions[%d].calendar.%s: dates must be sorted and unique",
                                   vi, names[l]);
    return WK_OK;
}

wk_err wk_tariff_validate(const wk_tariff *t, wk_diag *d)
{
    if (t->n_versions < 1 || t->n_versions > WK_VERSIONS_MAX)
        return wk_diag_set(d, WK_EINVAL, "versions: %d given, expected 1..%d", t->n_versions,
                           WK_VERSIONS_MAX);
    for (int i = 0; i < t->n_versions; i++) {
        const wk_tariff_version *v = &t->versions[i];
        if (v->effective_to_s <= v->effective_from_s)
            return wk_diag_set(d, WK_EINVAL,
                               "versions[%d]: effective_to must be after effective_from", i);
        if (i && v->effective_from_s != t->versions[i - 1].effective_to_s)
            return wk_diag_set(d, WK_EINVAL,
                               "versions[%d]: effective_from must equal the effective_to of "
                               "versions[%d] (versions must be in order without gaps or overlaps)",
                               i, i - 1);
        wk_err e = tariff__validate_version(v, i, d);
        if (e)
            return e;
    }
    return WK_OK;
}
