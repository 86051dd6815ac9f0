/*
 * profile.c - household and shop load shapes for the simulator (see profile.h). Integer
 * arithmetic only, so a seed reproduces a run exactly on every machine.
 */
#include "sim/profile.h"

void wk_rng_seed(wk_rng *r, uint64_t seed)
{
    r->s = seed * 0x9E3779B97F4A7C15u + 0x2545F4914F6CDD1Du;
    if (r->s == 0)
        r->s = 1;
}

uint64_t wk_rng_next(wk_rng *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 0x2545F4914F6CDD1Du;
}

uint32_t wk_rng_below(wk_rng *r, uint32_t n) { return (uint32_t)((wk_rng_next(r) >> 32) % n); }

bool wk_rng_chance_ppm(wk_rng *r, uint32_t ppm) { return wk_rng_below(r, 1000000) < ppm; }

/* Load in per mille of the unit's scale, by local hour. */
static const uint16_t home_weekday[24] = {120, 100, 90,  90,  90,  110, 250, 450,
                                          350, 200, 180, 200, 260, 200, 180, 200,
                                          260, 400, 700, 900, 1000, 850, 500, 220};
static const uint16_t home_weekend[24] = {150, 120, 100, 90,  90,  100, 150, 250,
                                          450, 550, 550, 600, 650, 550, 500, 500,
                                          550, 650, 800, 950, 1000, 900, 600, 280};
static const uint16_t shop_day[24] = {60,  60,  60,  60,  60,  60,  60,  80,
                                      300, 800, 900, 950, 1000, 950, 900, 900,
                                      950, 1000, 1000, 950, 900, 500, 100, 60};

void wk_sim_profile_init(wk_sim_profile *p, wk_rng *r, uint32_t vacant_pct, uint32_t shop_pct,
                         uint32_t anomalous_pct)
{
    uint32_t d = wk_rng_below(r, 100);
    p->kind = d < vacant_pct ? WK_SIM_VACANT
              : d < vacant_pct + shop_pct ? WK_SIM_SHOP
                                          : WK_SIM_HOME;
    p->scale_w = p->kind == WK_SIM_SHOP ? 2000 + (int32_t)wk_rng_below(r, 6000)
                                        : 600 + (int32_t)wk_rng_below(r, 1800);
    p->anomaly = WK_SIM_NORMAL;
    if (p->kind != WK_SIM_VACANT && wk_rng_below(r, 100) < anomalous_pct)
        p->anomaly = (uint8_t)(WK_SIM_SOLAR + wk_rng_below(r, 4));
    p->spike_w = 0;
    p->spike_until_s = 0;
    p->special_until_s = 0;
    p->cover = p->magnet = false;
}

void wk_sim_profile_step(wk_sim_profile *p, wk_rng *r, int64_t local_s, uint32_t step_s,
                         bool relay_open, int32_t *power_w, bool *cover, bool *magnet)
{
    int64_t day = local_s >= 0 ? local_s / 86400 : (local_s - 86399) / 86400;
    int hour = (int)((local_s - day * 86400) / 3600);
    int wd = (int)((day + 3) % 7); /* 0 = Monday (1970-01-01 was a Thursday) */
    bool weekend = wd >= 5;
    int32_t w;
    if (p->kind == WK_SIM_VACANT) {
        w = 2 + (int32_t)wk_rng_below(r, 8); /* standby: a fridge left off, a router */
    } else {
        const uint16_t *shape = p->kind == WK_SIM_SHOP ? shop_day
                                : weekend              ? home_weekend
                                                       : home_weekday;
        w = p->scale_w * shape[hour] / 1000;
        w += (int32_t)wk_rng_below(r, (uint32_t)(p->scale_w / 10 + 1)); /* jitter */
        /* appliance spikes: kettle, washer, AC; about 3 per hour of activity */
        uint32_t ppm_per_s = p->kind == WK_SIM_SHOP ? 400 : 800 * shape[hour] / 1000 + 50;
        if (local_s >= p->spike_until_s) {
            p->spike_w = 0;
            if (wk_rng_chance_ppm(r, ppm_per_s * step_s)) {
                p->spike_w = 800 + (int32_t)wk_rng_below(r, 2200);
                p->spike_until_s = local_s + 60 + wk_rng_below(r, 1200);
            }
        }
        w += p->spike_w;
    }
    switch (p->anomaly) {
    case WK_SIM_SOLAR:
        if (hour >= 10 && hour < 15)
            w -= 1500; /* net export */
        break;
    case WK_SIM_TAMPER:
        if (local_s >= p->special_until_s) {
            p->cover = p->magnet = false;
            if (wk_rng_chance_ppm(r, 20 * step_s)) { /* about twice a day */
                p->cover = wk_rng_below(r, 2) == 0;
                p->magnet = !p->cover;
                p->special_until_s = local_s + 120 + wk_rng_below(r, 600);
            }
        }
        break;
    case WK_SIM_OVERLOAD:
        if (local_s < p->special_until_s)
            w += 7000;
        else if (wk_rng_chance_ppm(r, 10 * step_s))
            p->special_until_s = local_s + 3600 + wk_rng_below(r, 3 * 3600);
        break;
    default: break;
    }
    if (relay_open && p->anomaly != WK_SIM_BYPASS && w > 0)
        w = 0; /* no voltage behind an open relay (export of solar still flows: keep it) */
    if (relay_open && p->anomaly == WK_SIM_SOLAR)
        w = 0;
    *power_w = w;
    *cover = p->cover;
    *magnet = p->magnet;
}
