/*
 * profile.h - load profiles of simulated households and shops: a daily shape by hour for
 * weekdays and weekends, random appliance spikes, vacant units near zero, and a few
 * anomalous units (solar export, tampering, sustained overload, bypass while tripped).
 * Pure functions of (profile, time, PRNG): no I/O, no clock, reproducible from a seed.
 */
#ifndef WK_SIM_PROFILE_H
#define WK_SIM_PROFILE_H

#include <stdbool.h>
#include <stdint.h>

/* xorshift64* PRNG; state must not be 0. */
typedef struct wk_rng {
    uint64_t s;
} wk_rng;

void wk_rng_seed(wk_rng *r, uint64_t seed);
uint64_t wk_rng_next(wk_rng *r);
/* Uniform in [0, n) (n > 0). */
uint32_t wk_rng_below(wk_rng *r, uint32_t n);
/* True with probability ppm / 1,000,000. */
bool wk_rng_chance_ppm(wk_rng *r, uint32_t ppm);

typedef enum wk_sim_kind { WK_SIM_HOME, WK_SIM_SHOP, WK_SIM_VACANT } wk_sim_kind;

typedef enum wk_sim_anomaly {
    WK_SIM_NORMAL,
    WK_SIM_SOLAR,    /* exports around noon: reverse energy */
    WK_SIM_TAMPER,   /* opens the cover / applies a magnet now and then */
    WK_SIM_OVERLOAD, /* runs a heavy load for hours now and then */
    WK_SIM_BYPASS,   /* keeps drawing current when the relay is open */
} wk_sim_anomaly;

typedef struct wk_sim_profile {
    uint8_t kind;       /* wk_sim_kind */
    uint8_t anomaly;    /* wk_sim_anomaly */
    int32_t scale_w;    /* typical peak load of this unit */
    int32_t spike_w;    /* current appliance spike */
    int64_t spike_until_s;
    int64_t special_until_s; /* tamper / overload episode end */
    bool cover, magnet;
} wk_sim_profile;

/* Draws a unit: vacant_pct % vacant, shop_pct % shops, anomalous_pct % anomalous. */
void wk_sim_profile_init(wk_sim_profile *p, wk_rng *r, uint32_t vacant_pct, uint32_t shop_pct,
                         uint32_t anomalous_pct);

/* Inputs of the unit at local time (seconds since the epoch in local time), for a step of
 * step_s seconds since the last call. relay_open: the meter's relay is open (the load sees
 * no voltage unless it bypasses the meter). Writes power (W), cover and magnet. */
void wk_sim_profile_step(wk_sim_profile *p, wk_rng *r, int64_t local_s, uint32_t step_s,
                         bool relay_open, int32_t *power_w, bool *cover, bool *magnet);

#endif
