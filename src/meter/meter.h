/*
 * meter.h - the Wattkeeper meter firmware core: energy registers, TOU, relay state machine,
 * DL/T 645 request handling, authenticated relay commands, edge anomaly detection, event
 * and periodic report frames.
 *
 * Portable C99 that builds freestanding for a Cortex-M4 (scripts/meter-size): no malloc,
 * no OS calls, no clock reads, no globals; all state is one wk_meter struct the caller
 * owns (a few hundred bytes). Time and measurements are parameters: the firmware (or the
 * simulator) calls wk_meter_step with its RTC reading and the metrology inputs, hands
 * received frames to wk_meter_receive, and drains outgoing frames with wk_meter_poll.
 *
 * Time: now_ms is the meter's own RTC in Unix milliseconds (it may be skewed); a broadcast
 * time (08) adjusts it by at most WK_METER_TIME_STEP_MAX_S per frame. Local time (TOU slots,
 * deadlines, dates) is RTC + cfg.utc_offset_s.
 *
 * Energy: integer Wh, integrated exactly from W x ms with the remainder carried, so no
 * energy is lost or invented however the steps are cut. Each Wh completed is added to the
 * total and to the TOU register of the slot in which it completed: t1+t2+t3+t4 == total
 * always. Wire registers are floor(Wh / 10) in 0.01 kWh.
 */
#ifndef WK_METER_METER_H
#define WK_METER_METER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "proto/dlt645.h"

#define WK_METER_TOU_SLOTS 48       /* half-hour slots of the local day */
#define WK_METER_EVENTS_MAX 8       /* pending event frames; the oldest is dropped beyond */
#define WK_METER_TIME_STEP_MAX_S 300 /* largest clock correction a broadcast may make */

typedef enum wk_meter_auth {
    WK_METER_AUTH_MAC = 0,   /* Wattkeeper meters: PA 99, counter, HMAC-SHA256/64 */
    WK_METER_AUTH_PLAIN = 1, /* ordinary meters: password level + 3-byte password */
} wk_meter_auth;

typedef enum wk_meter_relay {
    WK_METER_RELAY_CLOSED = 0,
    WK_METER_RELAY_TRIPPED = 1,         /* open by command */
    WK_METER_RELAY_CLOSE_PERMITTED = 2, /* open, closes when the button is held */
} wk_meter_relay;

/* Edge event codes (field `code` of the event record DI 03 A0 00 01). */
typedef enum wk_meter_event_code {
    WK_METER_EV_OUTAGE = 1,   /* phase 1 = power lost, 0 = restored */
    WK_METER_EV_COVER = 2,    /* terminal cover opened / closed */
    WK_METER_EV_MAGNET = 3,   /* magnetic field detected / gone */
    WK_METER_EV_BYPASS = 4,   /* current drawn while the relay is open */
    WK_METER_EV_OVERLOAD = 5, /* sustained load far above the meter's own baseline */
    WK_METER_EV_REVERSE = 6,  /* sustained reverse (export) energy */
    WK_METER_EV_COUNT_ = 7
} wk_meter_event_code;

typedef struct wk_meter_config {
    uint8_t addr[6];          /* wire order */
    uint8_t auth_mode;        /* wk_meter_auth */
    uint8_t key_len;          /* 1..32 in MAC mode */
    uint8_t key[32];
    uint8_t password_level;   /* plain mode: the PA the meter accepts */
    uint8_t password[3];      /* plain mode: P0..P2 */
    int32_t utc_offset_s;     /* local time = UTC + this (China: 28800) */
    uint32_t report_interval_s; /* periodic 0001FF00 report; 0 = none */
    uint8_t tou[WK_METER_TOU_SLOTS]; /* tariff 1..4 (sharp, peak, flat, valley) per slot */
    int32_t bypass_w;          /* |power| above this while open = bypass (default 20) */
    int32_t reverse_w;         /* export above this = reverse (default 20) */
    uint32_t anomaly_sustain_s; /* bypass/reverse must last this long (default 60) */
    uint32_t overload_pct;     /* overload = load > baseline * pct / 100 ... (default 400) */
    int32_t overload_min_w;    /* ... and > this (default 3000) */
    uint32_t overload_sustain_s; /* overload must last this long (default 600) */
    uint32_t button_hold_ms;   /* close-permit: hold the button this long (default 3000) */
} wk_meter_config;

typedef struct wk_meter_inputs {
    int32_t power_w;     /* active power seen by the metrology: + import, - export */
    uint16_t voltage_dv; /* 0.1 V */
    bool mains;          /* false = power outage (no energy, no reports) */
    bool cover_open;
    bool magnet;
    bool button;         /* the relay button is held down */
} wk_meter_inputs;

typedef struct wk_meter_event {
    uint32_t time_s;   /* meter RTC, Unix seconds */
    uint32_t fwd_wh;   /* forward total at the event */
    int32_t power_w;
    uint16_t seq;
    uint8_t code;
    uint8_t phase;     /* 1 = started, 0 = ended */
} wk_meter_event;

typedef struct wk_meter_stats {
    uint32_t frames_in;        /* frames handed to wk_meter_receive */
    uint32_t frames_bad;       /* undecodable */
    uint32_t frames_ignored;   /* other address, replies, broadcasts without reply */
    uint32_t commands_ok;      /* 1C and 14 executed */
    uint32_t commands_rejected;
    uint32_t events;           /* events raised */
    uint32_t events_dropped;   /* lost to a full queue */
} wk_meter_stats;

typedef struct wk_meter {
    wk_meter_config cfg;
    wk_meter_inputs in;     /* in force since last_ms */
    int64_t last_ms;        /* RTC of the last step */
    int32_t clock_adjust_s; /* added to the RTC by broadcast time */
    uint32_t fwd_wh[5];     /* total, t1..t4 */
    uint32_t rev_wh;
    uint32_t fwd_rem_wms;   /* remainders in W*ms, < 3,600,000 */
    uint32_t rev_rem_wms;
    uint32_t last_counter;  /* last accepted command counter */
    int32_t money_fen[7];   /* remaining, overdraft money, alarm1, alarm2, overdraft limit,
                               hoarding limit, close threshold (written by 14) */
    /* anomaly detection */
    int32_t baseline_w;     /* EMA of half-hour average power */
    uint16_t baseline_slots;
    int64_t slot_wms;       /* import energy of the current half-hour slot, W*ms */
    int64_t slot_start_ms;
    int64_t cond_since_ms[WK_METER_EV_COUNT_]; /* -1 = condition not present */
    uint8_t ev_active;      /* bit per code: event currently started */
    int64_t button_since_ms;
    int64_t next_report_s;
    uint8_t relay;          /* wk_meter_relay */
    bool guarantee;
    bool alarm;
    uint8_t pending;        /* WK_METER_PENDING_* */
    uint16_t event_seq;
    uint8_t ev_head, ev_count;
    wk_meter_event events[WK_METER_EVENTS_MAX];
    wk_meter_stats stats;
} wk_meter;

/* Fills cfg with defaults (MAC mode, +08:00, 900 s reports, a common TOU table) for the
 * given address and key. Cannot fail. */
void wk_meter_config_default(wk_meter_config *cfg, const uint8_t addr[6], const uint8_t *key,
                             size_t key_len);

/* Starts a meter at RTC now_ms with all registers at zero, relay closed, inputs `in`.
 * WK_EINVAL for an invalid address, key length or TOU entry; m is then unusable. */
wk_err wk_meter_init(wk_meter *m, const wk_meter_config *cfg, int64_t now_ms,
                     const wk_meter_inputs *in) WK_MUST_CHECK;

/* Sets the energy registers (commissioning an exchanged meter, tests). */
void wk_meter_set_registers(wk_meter *m, const uint32_t fwd_wh[5], uint32_t rev_wh);

/* Advances to RTC now_ms: integrates the inputs in force since the last step, then takes
 * `in` as the new inputs (button, anomalies, outage), and schedules reports. A now_ms
 * earlier than the last step integrates nothing (the RTC never runs backwards for
 * energy). Cannot fail. */
void wk_meter_step(wk_meter *m, int64_t now_ms, const wk_meter_inputs *in);

/* Handles one received wire frame at RTC now_ms. Returns WK_OK with *has_reply telling
 * whether *reply must be sent (a reply is also produced for rejected commands: the error
 * reply). Returns WK_EINVAL for a frame that does not decode or is not for this meter
 * (*why says which); nothing changes then. */
wk_err wk_meter_receive(wk_meter *m, int64_t now_ms, const uint8_t *wire, size_t len,
                        wk_dlt645_frame *reply, bool *has_reply, wk_dlt645_reason *why);

/* Same for an already decoded frame. */
wk_err wk_meter_handle(wk_meter *m, int64_t now_ms, const wk_dlt645_frame *req,
                       wk_dlt645_frame *reply, bool *has_reply, wk_dlt645_reason *why);

/* Takes the next unsolicited frame to send (events first, then status word 3 after a
 * relay change, then the periodic report). Returns false when there is none. */
bool wk_meter_poll(wk_meter *m, wk_dlt645_frame *out);

/* Observers. */
uint16_t wk_meter_status3(const wk_meter *m);
bool wk_meter_relay_open(const wk_meter *m);
/* Meter local clock now (RTC + adjustment), Unix seconds. */
int64_t wk_meter_clock_s(const wk_meter *m, int64_t now_ms);

#endif
