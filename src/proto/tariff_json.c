/*
 * tariff_json.c - parser of the JSON tariff format into wk_tariff (see docs/tariffs.md).
 * Every value is checked where it is read, with its path in the message; the structural
 * invariants are then proved by wk_tariff_validate(). Decimal values are strings (or JSON
 * integers), never JSON reals, so that no binary floating point touches a price.
 */
#include "proto/tariff_json.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/civil.h"
#include "core/units.h"
#include "proto/json.h"

#define PATH_MAX_LEN 160

static wk_err tj__str(json_t *obj, const char *key, const char *path, bool required,
                      const char **out, wk_diag *d)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        if (required)
            return wk_diag_set(d, WK_EINVAL, "%s: missing key \"%s\"", path, key);
        *out = NULL;
        return WK_OK;
    }
    if (!json_is_string(v))
        return wk_diag_set(d, WK_EINVAL, "%s.%s: expected a string", path, key);
    *out = json_string_value(v);
    return WK_OK;
}

static wk_err tj__dec(json_t *v, const char *path, int scale, int64_t *out, wk_diag *d)
{
    if (json_is_integer(v)) {
        int64_t x = json_integer_value(v);
        int64_t m = 1;
        for (int i = 0; i < scale; i++)
            m *= 10;
        if (wk_mul_i64(x, m, out))
            return wk_diag_set(d, WK_ERANGE, "%s: value too large", path);
        return WK_OK;
    }
    if (json_is_real(v))
        return wk_diag_set(d, WK_EINVAL,
                           "%s: write decimals as strings, e.g. \"0.5380\" (a JSON number with "
                           "a fraction is not exact)",
                           path);
    if (!json_is_string(v))
        return wk_diag_set(d, WK_EINVAL, "%s: expected a decimal string like \"0.5380\"", path);
    wk_diag sub;
    if (wk_dec_parse(json_string_value(v), json_string_length(v), scale, out, &sub))
        return wk_diag_set(d, WK_EINVAL, "%s: %s", path, sub.msg);
    return WK_OK;
}

static wk_err tj__int(json_t *obj, const char *key, const char *path, int lo, int hi, int dflt,
                      int *out, wk_diag *d)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        *out = dflt;
        return WK_OK;
    }
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return wk_diag_set(d, WK_EINVAL, "%s.%s: expected an integer %d..%d", path, key, lo, hi);
    *out = (int)json_integer_value(v);
    return WK_OK;
}

static wk_err tj__thresholds(json_t *arr, const char *path, uint8_t *n, int64_t *out, wk_diag *d)
{
    if (!json_is_array(arr))
        return wk_diag_set(d, WK_EINVAL, "%s: expected an array of kWh", path);
    if (json_array_size(arr) > WK_TIERS_MAX - 1)
        return wk_diag_set(d, WK_ELIMIT, "%s: at most %d thresholds", path, WK_TIERS_MAX - 1);
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        char p[PATH_MAX_LEN];
        snprintf(p, sizeof p, "%s[%zu]", path, i);
        wk_err e = tj__dec(v, p, WK_SCALE_KWH, &out[i], d);
        if (e)
            return e;
        if (out[i] <= (i ? out[i - 1] : 0))
            return wk_diag_set(d, WK_EINVAL,
                               "%s: thresholds must be positive and strictly increasing", p);
    }
    *n = (uint8_t)json_array_size(arr);
    return WK_OK;
}

static wk_err tj__hhmm(json_t *v, const char *path, int *minute, wk_diag *d)
{
    const char *s = json_is_string(v) ? json_string_value(v) : "";
    if (strlen(s) != 5 || s[2] != ':' || s[0] < '0' || s[0] > '2' || s[1] < '0' || s[1] > '9' ||
        s[3] < '0' || s[3] > '5' || s[4] < '0' || s[4] > '9')
        return wk_diag_set(d, WK_EINVAL, "%s: expected a time of day like \"08:00\"", path);
    int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
    if (h > 24 || (h == 24 && m != 0))
        return wk_diag_set(d, WK_EINVAL, "%s: \"%s\" is not a time of day (00:00..24:00)", path,
                           s);
    *minute = h * 60 + m;
    return WK_OK;
}

static void tj__fmt_min(int m, char *buf, size_t n)
{
    snprintf(buf, n, "%02d:%02d", m / 60, m % 60);
}

static wk_err tj__maps(json_t *maps, const char *path, wk_tariff_version *v, wk_diag *d)
{
    if (!json_is_object(maps) || json_object_size(maps) == 0)
        return wk_diag_set(d, WK_EINVAL, "%s: expected an object of named slot maps", path);
    if (json_object_size(maps) > WK_MAPS_MAX)
        return wk_diag_set(d, WK_ELIMIT, "%s: at most %d maps", path, WK_MAPS_MAX);
    const char *name;
    json_t *ranges;
    json_object_foreach(maps, name, ranges)
    {
        wk_slot_map *m = &v->maps[v->n_maps++];
        char mp[PATH_MAX_LEN];
        snprintf(mp, sizeof mp, "%s.%s", path, name);
        if (strlen(name) >= WK_NAME_MAX)
            return wk_diag_set(d, WK_EINVAL, "%s: name longer than %d", mp, WK_NAME_MAX - 1);
        memcpy(m->name, name, strlen(name) + 1);
        if (!json_is_array(ranges) || json_array_size(ranges) == 0)
            return wk_diag_set(d, WK_EINVAL, "%s: expected an array of {from, to, slot}", mp);
        if (json_array_size(ranges) > WK_MAP_RANGES_MAX)
            return wk_diag_set(d, WK_ELIMIT, "%s: at most %d ranges", mp, WK_MAP_RANGES_MAX);
        int prev_to = 0;
        size_t i;
        json_t *r;
        json_array_foreach(ranges, i, r)
        {
            char rp[PATH_MAX_LEN], a[8], b[8];
            snprintf(rp, sizeof rp, "%s[%zu]", mp, i);
            static const char *const keys[] = {"from", "to", "slot", NULL};
            int from, to;
            const char *slot;
            wk_err e = wk_json_check_keys(r, rp, keys, d);
            if (!e)
                e = tj__hhmm(json_object_get(r, "from"), rp, &from, d);
            if (!e)
                e = tj__hhmm(json_object_get(r, "to"), rp, &to, d);
            if (!e)
                e = tj__str(r, "slot", rp, true, &slot, d);
            if (e)
                return e;
            int s = wk_slot_from_name(slot);
            if (s < 0)
                return wk_diag_set(d, WK_EINVAL,
                                   "%s.slot: unknown slot \"%s\" (expected sharp, peak, flat, "
                                   "valley or deep_valley)",
                                   rp, slot);
            if (to <= from)
                return wk_diag_set(d, WK_EINVAL, "%s: \"to\" must be after \"from\"", rp);
            tj__fmt_min(prev_to, a, sizeof a);
            tj__fmt_min(from, b, sizeof b);
            if (from > prev_to)
                return wk_diag_set(d, WK_EINVAL,
                                   "%s: gap: starts at %s but the previous range ended at %s", rp,
                                   b, a);
            if (from < prev_to)
                return wk_diag_set(d, WK_EINVAL,
                                   "%s: overlap: starts at %s but the previous range ends at %s",
                                   rp, b, a);
            m->start_min[m->n] = (uint16_t)from;
            m->slot[m->n] = (uint8_t)s;
            m->n++;
            prev_to = to;
        }
        if (prev_to != 1440)
            return wk_diag_set(d, WK_EINVAL, "%s: the last range must end at 24:00", mp);
    }
    return WK_OK;
}

static int tj__map_index(const wk_tariff_version *v, const char *name)
{
    for (int i = 0; i < v->n_maps; i++)
        if (!strcmp(v->maps[i].name, name))
            return i;
    return -1;
}

static wk_err tj__mmdd(json_t *v, const char *path, uint16_t *out, wk_diag *d)
{
    const char *s = json_is_string(v) ? json_string_value(v) : "";
    char full[16];
    int64_t day;
    snprintf(full, sizeof full, "2024-%s", s);
    if (strlen(s) != 5 || wk_date_parse(full, strlen(full), &day, NULL))
        return wk_diag_set(d, WK_EINVAL, "%s: expected a month-day like \"07-01\"", path);
    *out = (uint16_t)((s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[3] - '0') * 10 + (s[4] - '0'));
    return WK_OK;
}

static wk_err tj__seasons(json_t *seasons, const char *path, wk_tariff_version *v, wk_diag *d)
{
    if (!json_is_array(seasons) || json_array_size(seasons) == 0)
        return wk_diag_set(d, WK_EINVAL, "%s: expected a non-empty array", path);
    if (json_array_size(seasons) > WK_SEASONS_MAX)
        return wk_diag_set(d, WK_ELIMIT, "%s: at most %d seasons", path, WK_SEASONS_MAX);
    size_t i;
    json_t *js;
    json_array_foreach(seasons, i, js)
    {
        char sp[PATH_MAX_LEN];
        snprintf(sp, sizeof sp, "%s[%zu]", path, i);
        static const char *const keys[] = {"name", "months", "dates", "days", "thresholds_kwh",
                                           NULL};
        wk_season *s = &v->seasons[v->n_seasons++];
        const char *name;
        wk_err e = wk_json_check_keys(js, sp, keys, d);
        if (!e)
            e = tj__str(js, "name", sp, true, &name, d);
        if (e)
            return e;
        snprintf(s->name, sizeof s->name, "%s", name);
        for (int t = 0; t < WK_DAYTYPES_N; t++)
            s->map[t] = -1;
        json_t *months = json_object_get(js, "months"), *dates = json_object_get(js, "dates");
        if (!months == !dates)
            return wk_diag_set(d, WK_EINVAL, "%s: give exactly one of \"months\" or \"dates\"",
                               sp);
        if (months) {
            size_t k;
            json_t *m;
            if (!json_is_array(months))
                return wk_diag_set(d, WK_EINVAL, "%s.months: expected an array of 1..12", sp);
            json_array_foreach(months, k, m)
            {
                if (!json_is_integer(m) || json_integer_value(m) < 1 || json_integer_value(m) > 12)
                    return wk_diag_set(d, WK_EINVAL, "%s.months[%zu]: expected a month 1..12", sp,
                                       k);
                s->month_mask |= (uint16_t)(1u << json_integer_value(m));
            }
        } else {
            char dp[PATH_MAX_LEN];
            snprintf(dp, sizeof dp, "%s.dates", sp);
            static const char *const dkeys[] = {"from", "to", NULL};
            e = wk_json_check_keys(dates, dp, dkeys, d);
            if (!e)
                e = tj__mmdd(json_object_get(dates, "from"), dp, &s->from_mmdd, d);
            if (!e)
                e = tj__mmdd(json_object_get(dates, "to"), dp, &s->to_mmdd, d);
            if (e)
                return e;
        }
        json_t *days = json_object_get(js, "days");
        char dp[PATH_MAX_LEN];
        snprintf(dp, sizeof dp, "%s.days", sp);
        if (!json_is_object(days))
            return wk_diag_set(d, WK_EINVAL,
                               "%s: expected an object like {\"workday\": \"map name\"}", dp);
        const char *type;
        json_t *mapname;
        json_object_foreach(days, type, mapname)
        {
            int slot_idx = -1;
            if (!strcmp(type, "workday"))
                slot_idx = WK_DAY_WORKDAY;
            else if (!strcmp(type, "weekend"))
                slot_idx = WK_DAY_WEEKEND;
            else if (!strcmp(type, "holiday"))
                slot_idx = WK_DAY_HOLIDAY;
            else
                for (int f = 0; f < v->n_flags; f++)
                    if (!strcmp(type, v->flag_names[f]))
                        slot_idx = WK_DAY_FLAG0 + f;
            if (slot_idx < 0)
                return wk_diag_set(d, WK_EINVAL,
                                   "%s: unknown day type \"%s\" (expected workday, weekend, "
                                   "holiday or a flag declared in calendar.flags)",
                                   dp, type);
            int mi = json_is_string(mapname) ? tj__map_index(v, json_string_value(mapname)) : -1;
            if (mi < 0)
                return wk_diag_set(d, WK_EINVAL, "%s.%s: expected the name of a map in maps", dp,
                                   type);
            s->map[slot_idx] = (int8_t)mi;
        }
        json_t *thr = json_object_get(js, "thresholds_kwh");
        if (thr) {
            char tp[PATH_MAX_LEN];
            snprintf(tp, sizeof tp, "%s.thresholds_kwh", sp);
            e = tj__thresholds(thr, tp, &s->n_thresholds, s->thresholds_wh, d);
            if (e)
                return e;
        }
    }
    return WK_OK;
}

static int tj__cmp_day(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static wk_err tj__dates(json_t *arr, const char *path, int64_t *out, uint16_t *n, wk_diag *d)
{
    if (!json_is_array(arr))
        return wk_diag_set(d, WK_EINVAL, "%s: expected an array of dates", path);
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (*n >= WK_DAYS_MAX)
            return wk_diag_set(d, WK_ELIMIT, "%s: at most %d dates", path, WK_DAYS_MAX);
        const char *s = json_is_string(v) ? json_string_value(v) : "";
        wk_diag sub;
        if (wk_date_parse(s, strlen(s), &out[*n], &sub))
            return wk_diag_set(d, WK_EINVAL, "%s[%zu]: %s", path, i,
                               json_is_string(v) ? sub.msg : "expected a date string");
        (*n)++;
    }
    return WK_OK;
}

static wk_err tj__calendar(json_t *cal, const char *path, wk_tariff_version *v, wk_diag *d)
{
    static const char *const keys[] = {"holidays", "workdays", "flags", NULL};
    char p[PATH_MAX_LEN];
    wk_err e = wk_json_check_keys(cal, path, keys, d);
    if (e)
        return e;
    json_t *h = json_object_get(cal, "holidays"), *w = json_object_get(cal, "workdays"),
           *f = json_object_get(cal, "flags");
    snprintf(p, sizeof p, "%s.holidays", path);
    if (h && (e = tj__dates(h, p, v->holidays, &v->n_holidays, d)))
        return e;
    snprintf(p, sizeof p, "%s.workdays", path);
    if (w && (e = tj__dates(w, p, v->workdays, &v->n_workdays, d)))
        return e;
    qsort(v->holidays, v->n_holidays, sizeof v->holidays[0], tj__cmp_day);
    qsort(v->workdays, v->n_workdays, sizeof v->workdays[0], tj__cmp_day);
    if (f) {
        snprintf(p, sizeof p, "%s.flags", path);
        if (!json_is_object(f))
            return wk_diag_set(d, WK_EINVAL, "%s: expected {\"flag name\": [dates]}", p);
        if (json_object_size(f) > WK_FLAGS_MAX)
            return wk_diag_set(d, WK_ELIMIT, "%s: at most %d flags", p, WK_FLAGS_MAX);
        const char *name;
        json_t *dates;
        int64_t days[WK_DAYS_MAX];
        json_object_foreach(f, name, dates)
        {
            if (strlen(name) >= WK_NAME_MAX || !strcmp(name, "workday") ||
                !strcmp(name, "weekend") || !strcmp(name, "holiday"))
                return wk_diag_set(d, WK_EINVAL, "%s: bad flag name \"%s\"", p, name);
            int fi = v->n_flags++;
            snprintf(v->flag_names[fi], WK_NAME_MAX, "%s", name);
            uint16_t n = 0;
            char fp[PATH_MAX_LEN];
            snprintf(fp, sizeof fp, "%s.%s", p, name);
            if ((e = tj__dates(dates, fp, days, &n, d)))
                return e;
            for (int i = 0; i < n; i++) {
                int j = 0;
                while (j < v->n_flag_days && v->flag_days[j] != days[i])
                    j++;
                if (j == v->n_flag_days) {
                    if (v->n_flag_days >= WK_DAYS_MAX)
                        return wk_diag_set(d, WK_ELIMIT, "%s: at most %d flagged days", p,
                                           WK_DAYS_MAX);
                    v->flag_days[v->n_flag_days++] = days[i];
                }
                v->flag_day_mask[j] |= (uint8_t)(1u << fi);
            }
        }
        /* sort days and masks together */
        for (int i = 1; i < v->n_flag_days; i++)
            for (int j = i; j > 0 && v->flag_days[j - 1] > v->flag_days[j]; j--) {
                int64_t td = v->flag_days[j];
                v->flag_days[j] = v->flag_days[j - 1];
                v->flag_days[j - 1] = td;
                uint8_t tm = v->flag_day_mask[j];
                v->flag_day_mask[j] = v->flag_day_mask[j - 1];
                v->flag_day_mask[j - 1] = tm;
            }
    }
    return WK_OK;
}

static wk_err tj__prices(json_t *prices, const char *path, wk_tariff_version *v, wk_diag *d)
{
    static const char *const keys[] = {"matrix", "additive", NULL};
    wk_err e = wk_json_check_keys(prices, path, keys, d);
    if (e)
        return e;
    json_t *matrix = json_object_get(prices, "matrix"), *add = json_object_get(prices, "additive");
    if (!matrix == !add)
        return wk_diag_set(d, WK_EINVAL, "%s: give exactly one of \"matrix\" or \"additive\"",
                           path);
    for (int k = 0; k < WK_TIERS_MAX; k++)
        for (int s = 0; s < WK_SLOT_N; s++)
            v->price_uyuan[k][s] = -1;
    char p[PATH_MAX_LEN];
    const char *slot;
    json_t *val;
    if (matrix) {
        snprintf(p, sizeof p, "%s.matrix", path);
        if (!json_is_object(matrix) || json_object_size(matrix) == 0)
            return wk_diag_set(d, WK_EINVAL, "%s: expected {\"slot\": [price per tier]}", p);
        json_object_foreach(matrix, slot, val)
        {
            int s = wk_slot_from_name(slot);
            if (s < 0)
                return wk_diag_set(d, WK_EINVAL,
                                   "%s: unknown slot \"%s\" (expected sharp, peak, flat, valley "
                                   "or deep_valley)",
                                   p, slot);
            if (!json_is_array(val) || json_array_size(val) != v->n_tiers)
                return wk_diag_set(d, WK_EINVAL, "%s.%s: expected %d prices, one per tier", p,
                                   slot, v->n_tiers);
            for (int k = 0; k < v->n_tiers; k++) {
                char ep[PATH_MAX_LEN];
                snprintf(ep, sizeof ep, "%s.%s[%d]", p, slot, k);
                if ((e = tj__dec(json_array_get(val, (size_t)k), ep, WK_SCALE_PRICE,
                                 &v->price_uyuan[k][s], d)))
                    return e;
                if (v->price_uyuan[k][s] < 0 || v->price_uyuan[k][s] > WK_PRICE_MAX_UYUAN)
                    return wk_diag_set(d, WK_ERANGE, "%s: price must be 0..20 yuan/kWh", ep);
            }
        }
        return WK_OK;
    }
    snprintf(p, sizeof p, "%s.additive", path);
    static const char *const akeys[] = {"base", "tier_increments", NULL};
    if ((e = wk_json_check_keys(add, p, akeys, d)))
        return e;
    json_t *base = json_object_get(add, "base"), *inc = json_object_get(add, "tier_increments");
    if (!json_is_object(base) || json_object_size(base) == 0)
        return wk_diag_set(d, WK_EINVAL, "%s.base: expected {\"slot\": price}", p);
    if (!json_is_array(inc) || json_array_size(inc) != v->n_tiers)
        return wk_diag_set(d, WK_EINVAL, "%s.tier_increments: expected %d increments, one per tier",
                           p, v->n_tiers);
    int64_t incs[WK_TIERS_MAX];
    for (int k = 0; k < v->n_tiers; k++) {
        char ep[PATH_MAX_LEN];
        snprintf(ep, sizeof ep, "%s.tier_increments[%d]", p, k);
        if ((e = tj__dec(json_array_get(inc, (size_t)k), ep, WK_SCALE_PRICE, &incs[k], d)))
            return e;
    }
    json_object_foreach(base, slot, val)
    {
        char ep[PATH_MAX_LEN];
        snprintf(ep, sizeof ep, "%s.base.%s", p, slot);
        int s = wk_slot_from_name(slot);
        if (s < 0)
            return wk_diag_set(d, WK_EINVAL, "%s: unknown slot \"%s\"", ep, slot);
        int64_t b;
        if ((e = tj__dec(val, ep, WK_SCALE_PRICE, &b, d)))
            return e;
        for (int k = 0; k < v->n_tiers; k++) {
            v->price_uyuan[k][s] = b + incs[k];
            if (v->price_uyuan[k][s] < 0 || v->price_uyuan[k][s] > WK_PRICE_MAX_UYUAN)
                return wk_diag_set(d, WK_ERANGE,
                                   "%s: price plus tier_increments[%d] must be 0..20 yuan/kWh",
                                   ep, k);
        }
    }
    return WK_OK;
}

static wk_err tj__tiers(json_t *tiers, const char *path, wk_tariff_version *v, wk_diag *d)
{
    static const char *const keys[] = {"cycle",          "settlement_month",     "settlement_day",
                                       "thresholds_kwh", "allocation",           "proration_cutoff_day",
                                       NULL};
    wk_err e = wk_json_check_keys(tiers, path, keys, d);
    if (e)
        return e;
    const char *cycle, *alloc;
    if ((e = tj__str(tiers, "cycle", path, true, &cycle, d)))
        return e;
    if (!strcmp(cycle, "none"))
        v->cycle = WK_CYCLE_NONE;
    else if (!strcmp(cycle, "monthly"))
        v->cycle = WK_CYCLE_MONTHLY;
    else if (!strcmp(cycle, "annual"))
        v->cycle = WK_CYCLE_ANNUAL;
    else
        return wk_diag_set(d, WK_EINVAL, "%s.cycle: \"%s\", expected none, monthly or annual",
                           path, cycle);
    if ((e = tj__str(tiers, "allocation", path, false, &alloc, d)))
        return e;
    if (!alloc || !strcmp(alloc, "chronological"))
        v->allocation = WK_ALLOC_CHRONOLOGICAL;
    else if (!strcmp(alloc, "proportional"))
        v->allocation = WK_ALLOC_PROPORTIONAL;
    else
        return wk_diag_set(d, WK_EINVAL,
                           "%s.allocation: \"%s\", expected chronological or proportional", path,
                           alloc);
    int sm, sd, cut;
    if ((e = tj__int(tiers, "settlement_month", path, 1, 12, 1, &sm, d)) ||
        (e = tj__int(tiers, "settlement_day", path, 1, 28, 1, &sd, d)) ||
        (e = tj__int(tiers, "proration_cutoff_day", path, 1, 31, 15, &cut, d)))
        return e;
    v->settlement_month = (uint8_t)sm;
    v->settlement_day = (uint8_t)sd;
    v->proration_cutoff_day = (uint8_t)cut;
    json_t *thr = json_object_get(tiers, "thresholds_kwh");
    uint8_t n = 0;
    if (thr) {
        char p[PATH_MAX_LEN];
        snprintf(p, sizeof p, "%s.thresholds_kwh", path);
        if ((e = tj__thresholds(thr, p, &n, v->thresholds_wh, d)))
            return e;
    } else if (v->cycle != WK_CYCLE_NONE) {
        return wk_diag_set(d, WK_EINVAL, "%s: missing key \"thresholds_kwh\"", path);
    }
    v->n_tiers = (uint8_t)(n + 1);
    return WK_OK;
}

static wk_err tj__version(json_t *jv, const char *path, wk_tariff_version *v, int64_t *to_s,
                          wk_diag *d)
{
    static const char *const keys[] = {"effective_from", "effective_to", "utc_offset", "unverified",
                                       "comment",        "tiers",        "prices",     "maps",
                                       "seasons",        "calendar",     NULL};
    wk_err e = wk_json_check_keys(jv, path, keys, d);
    if (e)
        return e;
    const char *from, *to, *off, *unv, *comment;
    if ((e = tj__str(jv, "effective_from", path, true, &from, d)) ||
        (e = tj__str(jv, "effective_to", path, false, &to, d)) ||
        (e = tj__str(jv, "utc_offset", path, false, &off, d)) ||
        (e = tj__str(jv, "unverified", path, false, &unv, d)) ||
        (e = tj__str(jv, "comment", path, false, &comment, d)))
        return e;
    wk_diag sub;
    int32_t o;
    if (off && wk_offset_parse(off, strlen(off), &v->utc_offset_s, &sub))
        return wk_diag_set(d, WK_EINVAL, "%s.utc_offset: %s", path, sub.msg);
    if (!off)
        v->utc_offset_s = 8 * 3600;
    if (wk_time_parse(from, strlen(from), &v->effective_from_s, &o, &sub))
        return wk_diag_set(d, WK_EINVAL, "%s.effective_from: %s", path, sub.msg);
    *to_s = 0;
    if (to && wk_time_parse(to, strlen(to), to_s, &o, &sub))
        return wk_diag_set(d, WK_EINVAL, "%s.effective_to: %s", path, sub.msg);
    if (unv) {
        if (!*unv)
            return wk_diag_set(d, WK_EINVAL,
                               "%s.unverified: say which figures are unverified (or omit it)",
                               path);
        snprintf(v->unverified, sizeof v->unverified, "%s", unv);
    }
    char p[PATH_MAX_LEN];
    json_t *tiers = json_object_get(jv, "tiers");
    snprintf(p, sizeof p, "%s.tiers", path);
    if (!tiers)
        return wk_diag_set(d, WK_EINVAL, "%s: missing key \"tiers\"", path);
    if ((e = tj__tiers(tiers, p, v, d)))
        return e;
    json_t *prices = json_object_get(jv, "prices");
    snprintf(p, sizeof p, "%s.prices", path);
    if (!prices)
        return wk_diag_set(d, WK_EINVAL, "%s: missing key \"prices\"", path);
    if ((e = tj__prices(prices, p, v, d)))
        return e;
    json_t *cal = json_object_get(jv, "calendar");
    snprintf(p, sizeof p, "%s.calendar", path);
    if (cal && (e = tj__calendar(cal, p, v, d)))
        return e;
    json_t *maps = json_object_get(jv, "maps"), *seasons = json_object_get(jv, "seasons");
    if (!maps != !seasons)
        return wk_diag_set(d, WK_EINVAL,
                           "%s: give both \"maps\" and \"seasons\", or neither (a tariff without "
                           "time-of-use is priced in the flat slot all day)",
                           path);
    if (!maps) {
        v->n_maps = 1;
        snprintf(v->maps[0].name, WK_NAME_MAX, "all-day");
        v->maps[0].n = 1;
        v->maps[0].slot[0] = WK_SLOT_FLAT;
        v->n_seasons = 1;
        snprintf(v->seasons[0].name, WK_NAME_MAX, "all-year");
        v->seasons[0].month_mask = 0x1ffe;
        for (int t = 0; t < WK_DAYTYPES_N; t++)
            v->seasons[0].map[t] = -1;
        v->seasons[0].map[WK_DAY_WORKDAY] = 0;
        return WK_OK;
    }
    snprintf(p, sizeof p, "%s.maps", path);
    if ((e = tj__maps(maps, p, v, d)))
        return e;
    snprintf(p, sizeof p, "%s.seasons", path);
    return tj__seasons(seasons, p, v, d);
}

wk_err wk_tariff_json_parse(const char *buf, size_t len, wk_tariff *t, wk_diag *d)
{
    json_error_t jerr;
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return wk_diag_set(d, WK_EINVAL, "line %d column %d: %s", jerr.line, jerr.column,
                           jerr.text);
    memset(t, 0, sizeof *t);
    wk_err e;
    static const char *const keys[] = {"name", "source", "comment", "versions", NULL};
    const char *name, *source, *comment;
    if ((e = wk_json_check_keys(root, "(top level)", keys, d)) ||
        (e = tj__str(root, "name", "(top level)", true, &name, d)) ||
        (e = tj__str(root, "source", "(top level)", true, &source, d)) ||
        (e = tj__str(root, "comment", "(top level)", false, &comment, d)))
        goto done;
    snprintf(t->name, sizeof t->name, "%s", name);
    snprintf(t->source, sizeof t->source, "%s", source);
    json_t *versions = json_object_get(root, "versions");
    if (!json_is_array(versions) || json_array_size(versions) == 0) {
        e = wk_diag_set(d, WK_EINVAL, "versions: expected a non-empty array");
        goto done;
    }
    if (json_array_size(versions) > WK_VERSIONS_MAX) {
        e = wk_diag_set(d, WK_ELIMIT, "versions: at most %d", WK_VERSIONS_MAX);
        goto done;
    }
    int64_t to_s[WK_VERSIONS_MAX];
    size_t i;
    json_t *jv;
    json_array_foreach(versions, i, jv)
    {
        char p[PATH_MAX_LEN];
        snprintf(p, sizeof p, "versions[%zu]", i);
        if ((e = tj__version(jv, p, &t->versions[i], &to_s[i], d)))
            goto done;
        t->n_versions++;
    }
    /* effective_to defaults to the next version's start; the last one is open-ended */
    for (i = 0; i < t->n_versions; i++) {
        if (to_s[i])
            t->versions[i].effective_to_s = to_s[i];
        else
            t->versions[i].effective_to_s =
                i + 1 < t->n_versions ? t->versions[i + 1].effective_from_s : INT64_MAX;
    }
    e = wk_tariff_validate(t, d);
done:
    json_decref(root);
    return e;
}
