/*
 * readings.h - from two consecutive cumulative register readings of one meter to the
 * interval of consumption the rating engine prices: time order, register rollover at the
 * register's modulus, meter exchange, and the split of the energy over TOU slots.
 * Pure; the CSV and MQTT front ends both feed readings through here.
 */
#ifndef WK_CORE_READINGS_H
#define WK_CORE_READINGS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "core/rating.h"

/* 999999.99 kWh registers (8 BCD digits of 0.01 kWh) wrap at 1 000 000 kWh. */
#define WK_REGISTER_MODULUS_WH INT64_C(1000000000)

typedef enum wk_read_event {
    WK_READ_NORMAL = 0,
    WK_READ_ROLLOVER, /* a register wrapped past its maximum since the previous reading */
    WK_READ_EXCHANGE, /* a new meter: this reading is its first register value */
} wk_read_event;

typedef struct wk_reading {
    int64_t time_s;
    int32_t offset_s; /* the offset the time was written with (for printing) */
    int64_t total_wh;
    bool has_tou;
    int64_t tou_wh[4]; /* t1..t4 = sharp, peak, flat, valley */
    uint8_t event;     /* wk_read_event */
} wk_reading;

/* Builds the interval from prev to cur. A rollover is accepted when cur is marked
 * WK_READ_ROLLOVER, or automatically when the register went from the top 1 % of its range
 * to the bottom 1 %; any other decrease is an error. An exchange yields an interval with
 * no energy (*iv->energy_wh == 0). Equal times are an error except for an exchange, where
 * *empty is set and there is nothing to rate. TOU register deltas split the total delta
 * over slots (largest remainder); they must agree with it within 40 Wh + 1 %. */
wk_err wk_reading_interval(const wk_reading *prev, const wk_reading *cur, int64_t modulus_wh,
                           wk_interval *iv, bool *empty, wk_diag *d) WK_MUST_CHECK;

#endif
