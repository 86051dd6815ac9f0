/*
 * meter.c - the meter firmware core (see meter.h). Freestanding C99: uses only the DL/T 645
 * codec, SHA-256 and memcpy/memset. Invariants: fwd_wh[1..4] sum to fwd_wh[0]; remainders
 * stay below one Wh; a rejected command changes nothing but the reject counter.
 */
#include "meter/meter.h"

#include <string.h>

#include "proto/sha256.h"

#define WMS_PER_WH 3600000u
#define SLOT_MS (30 * 60 * 1000)
#define PENDING_STATUS 0x01u
#define PENDING_REPORT 0x02u

/* money_fen[] index for the writable money DIs */
static int money_index(uint32_t di)
{
    switch (di) {
    case WK_DI_REMAINING_MONEY: return 0;
    case WK_DI_OVERDRAFT_MONEY: return 1;
    case WK_DI_ALARM1: return 2;
    case WK_DI_ALARM2: return 3;
    case WK_DI_OVERDRAFT_LIMIT: return 4;
    case WK_DI_HOARDING_LIMIT: return 5;
    case WK_DI_CLOSE_THRESHOLD: return 6;
    }
    return -1;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

void wk_meter_config_default(wk_meter_config *cfg, const uint8_t addr[6], const uint8_t *key,
                             size_t key_len)
{
    memset(cfg, 0, sizeof *cfg);
    memcpy(cfg->addr, addr, 6);
    cfg->auth_mode = WK_METER_AUTH_MAC;
    if (key_len > sizeof cfg->key)
        key_len = sizeof cfg->key;
    if (key)
        memcpy(cfg->key, key, key_len);
    cfg->key_len = (uint8_t)key_len;
    cfg->password_level = 0x02;
    cfg->utc_offset_s = 8 * 3600;
    cfg->report_interval_s = 900;
    /* a common 4-rate day: valley 23-07, flat 07-08/11-18, peak 08-11/18-19/21-23, sharp 19-21 */
    for (int s = 0; s < WK_METER_TOU_SLOTS; s++) {
        int h = s / 2;
        uint8_t t = 3;
        if (h >= 23 || h < 7)
            t = 4;
        else if ((h >= 8 && h < 11) || h == 18 || h == 21 || h == 22)
            t = 2;
        else if (h == 19 || h == 20)
            t = 1;
        cfg->tou[s] = t;
    }
    cfg->bypass_w = 20;
    cfg->reverse_w = 20;
    cfg->anomaly_sustain_s = 60;
    cfg->overload_pct = 400;
    cfg->overload_min_w = 3000;
    cfg->overload_sustain_s = 600;
    cfg->button_hold_ms = 3000;
}

int64_t wk_meter_clock_s(const wk_meter *m, int64_t now_ms)
{
    return floor_div(now_ms, 1000) + m->clock_adjust_s;
}

static void schedule_report(wk_meter *m, int64_t clock_s)
{
    if (m->cfg.report_interval_s == 0)
        return;
    int64_t iv = m->cfg.report_interval_s;
    m->next_report_s = (floor_div(clock_s, iv) + 1) * iv;
}

wk_err wk_meter_init(wk_meter *m, const wk_meter_config *cfg, int64_t now_ms,
                     const wk_meter_inputs *in)
{
    if (!wk_dlt645_addr_valid(cfg->addr))
        return WK_EINVAL;
    if (cfg->auth_mode == WK_METER_AUTH_MAC && (cfg->key_len == 0 || cfg->key_len > 32))
        return WK_EINVAL;
    if (cfg->auth_mode > WK_METER_AUTH_PLAIN)
        return WK_EINVAL;
    for (int s = 0; s < WK_METER_TOU_SLOTS; s++)
        if (cfg->tou[s] < 1 || cfg->tou[s] > 4)
            return WK_EINVAL;
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    m->in = *in;
    m->last_ms = now_ms;
    m->relay = WK_METER_RELAY_CLOSED;
    m->slot_start_ms = now_ms;
    m->button_since_ms = -1;
    for (int i = 0; i < WK_METER_EV_COUNT_; i++)
        m->cond_since_ms[i] = -1;
    schedule_report(m, wk_meter_clock_s(m, now_ms));
    return WK_OK;
}

void wk_meter_set_registers(wk_meter *m, const uint32_t fwd_wh[5], uint32_t rev_wh)
{
    memcpy(m->fwd_wh, fwd_wh, sizeof m->fwd_wh);
    m->fwd_wh[0] = fwd_wh[1] + fwd_wh[2] + fwd_wh[3] + fwd_wh[4];
    m->rev_wh = rev_wh;
    m->fwd_rem_wms = m->rev_rem_wms = 0;
}

bool wk_meter_relay_open(const wk_meter *m) { return m->relay != WK_METER_RELAY_CLOSED; }

uint16_t wk_meter_status3(const wk_meter *m)
{
    uint16_t w = WK_DLT645_SW3_REMOTE_ACCOUNT;
    if (m->relay != WK_METER_RELAY_CLOSED)
        w |= WK_DLT645_SW3_RELAY_OPEN;
    if (m->relay == WK_METER_RELAY_TRIPPED)
        w |= WK_DLT645_SW3_RELAY_CMD_TRIP;
    if (m->alarm)
        w |= WK_DLT645_SW3_ALARM;
    if (m->guarantee)
        w |= WK_DLT645_SW3_GUARANTEE;
    if (!m->in.mains)
        w |= 2u << 1; /* power source: battery */
    return w;
}

/* ---- events ---- */

static void raise_event(wk_meter *m, int64_t now_ms, uint8_t code, uint8_t phase)
{
    if (m->ev_count == WK_METER_EVENTS_MAX) { /* drop the oldest */
        m->ev_head = (uint8_t)((m->ev_head + 1) % WK_METER_EVENTS_MAX);
        m->ev_count--;
        m->stats.events_dropped++;
    }
    wk_meter_event *e = &m->events[(m->ev_head + m->ev_count) % WK_METER_EVENTS_MAX];
    e->time_s = (uint32_t)wk_meter_clock_s(m, now_ms);
    e->fwd_wh = m->fwd_wh[0];
    e->power_w = m->in.power_w;
    e->seq = m->event_seq;
    m->event_seq = (uint16_t)((m->event_seq + 1) % 10000);
    e->code = code;
    e->phase = phase;
    m->ev_count++;
    if (phase)
        m->stats.events++;
}

/* Debounces a condition: its event starts once the condition has held for sustain_ms and
 * ends once it has been absent for sustain_ms (0 = at once), so a load hovering around a
 * threshold does not flood the uplink. cond_since_ms is when the condition last changed
 * against the event state (-1: it agrees with it). */
static void track(wk_meter *m, int64_t now_ms, uint8_t code, bool present, int64_t sustain_ms)
{
    uint8_t bit = (uint8_t)(1u << code);
    bool active = (m->ev_active & bit) != 0;
    if (present == active) {
        m->cond_since_ms[code] = -1;
        return;
    }
    if (m->cond_since_ms[code] < 0)
        m->cond_since_ms[code] = now_ms;
    if (now_ms - m->cond_since_ms[code] < sustain_ms)
        return;
    m->cond_since_ms[code] = -1;
    if (present) {
        m->ev_active |= bit;
        raise_event(m, now_ms, code, 1);
    } else {
        m->ev_active = (uint8_t)(m->ev_active & ~bit);
        raise_event(m, now_ms, code, 0);
    }
}

/* ---- energy ---- */

static void add_import(wk_meter *m, int64_t wms, uint8_t tariff)
{
    uint64_t acc = m->fwd_rem_wms + (uint64_t)wms;
    uint32_t wh = (uint32_t)(acc / WMS_PER_WH);
    m->fwd_rem_wms = (uint32_t)(acc % WMS_PER_WH);
    m->fwd_wh[0] += wh;
    m->fwd_wh[tariff] += wh;
}

static void add_export(wk_meter *m, int64_t wms)
{
    uint64_t acc = m->rev_rem_wms + (uint64_t)wms;
    m->rev_wh += (uint32_t)(acc / WMS_PER_WH);
    m->rev_rem_wms = (uint32_t)(acc % WMS_PER_WH);
}

/* The slot boundary logic uses local time in ms. */
static void close_slot(wk_meter *m, int64_t end_ms)
{
    int64_t dur = end_ms - m->slot_start_ms;
    if (dur >= SLOT_MS / 2) { /* only count slots we saw at least half of */
        int64_t avg_w = m->slot_wms / dur;
        if (m->baseline_slots == 0)
            m->baseline_w = (int32_t)avg_w;
        else /* EMA, alpha = 1/64 (about 1.3 days of slots) */
            m->baseline_w = (int32_t)(m->baseline_w + (avg_w - m->baseline_w) / 64);
        if (m->baseline_slots < 0xFFFF)
            m->baseline_slots++;
    }
    m->slot_wms = 0;
    m->slot_start_ms = end_ms;
}

static void integrate(wk_meter *m, int64_t to_ms)
{
    int64_t t = m->last_ms;
    int64_t off_ms = ((int64_t)m->clock_adjust_s + m->cfg.utc_offset_s) * 1000;
    int32_t p = m->in.mains ? m->in.power_w : 0;
    while (t < to_ms) {
        int64_t local = t + off_ms;
        int64_t slot_no = floor_div(local, SLOT_MS);
        int64_t slot_end = (slot_no + 1) * SLOT_MS - off_ms;
        int64_t seg_end = slot_end < to_ms ? slot_end : to_ms;
        int64_t dt = seg_end - t;
        int slot = (int)(slot_no - floor_div(slot_no, WK_METER_TOU_SLOTS) * WK_METER_TOU_SLOTS);
        if (p > 0) {
            add_import(m, (int64_t)p * dt, m->cfg.tou[slot]);
            m->slot_wms += (int64_t)p * dt;
        } else if (p < 0) {
            add_export(m, -(int64_t)p * dt);
        }
        t = seg_end;
        if (t == slot_end)
            close_slot(m, t);
    }
}

void wk_meter_step(wk_meter *m, int64_t now_ms, const wk_meter_inputs *in)
{
    if (now_ms > m->last_ms) {
        integrate(m, now_ms);
        m->last_ms = now_ms;
    }
    now_ms = m->last_ms;
    bool was_mains = m->in.mains;
    m->in = *in;
    const wk_meter_config *c = &m->cfg;
    int64_t sustain = (int64_t)c->anomaly_sustain_s * 1000;

    if (was_mains != in->mains)
        raise_event(m, now_ms, WK_METER_EV_OUTAGE, in->mains ? 0 : 1);
    track(m, now_ms, WK_METER_EV_COVER, in->cover_open, 0);
    track(m, now_ms, WK_METER_EV_MAGNET, in->magnet, 0);
    bool open = m->relay != WK_METER_RELAY_CLOSED;
    int32_t p = in->mains ? in->power_w : 0;
    track(m, now_ms, WK_METER_EV_BYPASS, open && (p > c->bypass_w || -p > c->bypass_w), sustain);
    track(m, now_ms, WK_METER_EV_REVERSE, p < -c->reverse_w, sustain);
    bool learned = m->baseline_slots >= WK_METER_TOU_SLOTS;
    int64_t limit = (int64_t)m->baseline_w * c->overload_pct / 100;
    if (limit < c->overload_min_w)
        limit = c->overload_min_w;
    track(m, now_ms, WK_METER_EV_OVERLOAD, learned && p > limit,
          (int64_t)c->overload_sustain_s * 1000);

    /* close-permitted: the resident holds the button */
    if (in->button && m->relay == WK_METER_RELAY_CLOSE_PERMITTED) {
        if (m->button_since_ms < 0)
            m->button_since_ms = now_ms;
        if (now_ms - m->button_since_ms >= (int64_t)c->button_hold_ms) {
            m->relay = WK_METER_RELAY_CLOSED;
            m->pending |= PENDING_STATUS;
            m->button_since_ms = -1;
        }
    } else {
        m->button_since_ms = in->button ? m->button_since_ms : -1;
    }

    if (c->report_interval_s) {
        int64_t clock_s = wk_meter_clock_s(m, now_ms);
        if (clock_s >= m->next_report_s) {
            if (in->mains)
                m->pending |= PENDING_REPORT;
            schedule_report(m, clock_s);
        }
    }
}

/* ---- requests ---- */

static int64_t bcd_addr_number(const uint8_t a[6])
{
    int64_t v = 0;
    for (int i = 5; i >= 0; i--)
        v = v * 100 + (a[i] >> 4) * 10 + (a[i] & 0x0F);
    return v;
}

/* Values of a readable DI; false for one this meter does not have. */
static bool read_values(const wk_meter *m, int64_t now_ms, uint32_t di, int64_t *v)
{
    const int64_t wire_mod = 100000000;
    int32_t p = m->in.mains ? m->in.power_w : 0;
    int64_t clock_s = wk_meter_clock_s(m, now_ms);
    wk_dlt645_time t;
    int mi = money_index(di);
    if (mi >= 0) {
        v[0] = m->money_fen[mi];
        return v[0] >= 0;
    }
    switch (di) {
    case WK_DI_COMBINED_TOTAL:
    case WK_DI_FWD_TOTAL: v[0] = m->fwd_wh[0] / 10 % wire_mod; return true;
    case WK_DI_FWD_T1:
    case WK_DI_FWD_T2:
    case WK_DI_FWD_T3:
    case WK_DI_FWD_T4: v[0] = m->fwd_wh[(di >> 8) & 0xFF] / 10 % wire_mod; return true;
    case WK_DI_FWD_BLOCK:
        for (int i = 0; i < 5; i++)
            v[i] = m->fwd_wh[i] / 10 % wire_mod;
        return true;
    case WK_DI_REV_TOTAL: v[0] = m->rev_wh / 10 % wire_mod; return true;
    case WK_DI_VOLTAGE_A: v[0] = m->in.mains ? m->in.voltage_dv : 0; return true;
    case 0x0201FF00u:
        v[0] = m->in.mains ? m->in.voltage_dv : 0;
        v[1] = v[2] = 0;
        return true;
    case WK_DI_CURRENT_A:
    case 0x0202FF00u:
        v[0] = m->in.voltage_dv ? (int64_t)p * 10000 / m->in.voltage_dv : 0;
        if (v[0] > 799999 || v[0] < -799999)
            v[0] = v[0] > 0 ? 799999 : -799999;
        v[1] = v[2] = 0;
        return true;
    case WK_DI_POWER_TOTAL:
    case 0x02030100u:
        v[0] = (int64_t)p * 10;
        if (v[0] > 799999 || v[0] < -799999)
            v[0] = v[0] > 0 ? 799999 : -799999;
        return true;
    case WK_DI_POWER_FACTOR: v[0] = 1000; return true;
    case WK_DI_FREQUENCY: v[0] = 5000; return true;
    case WK_DI_DATE:
        wk_dlt645_time_from_unix(clock_s, m->cfg.utc_offset_s, &t);
        /* weekday 0 = Sunday; 1970-01-01 (day 0) was a Thursday */
        v[0] = ((int64_t)(t.year % 100) * 10000 + t.month * 100 + t.day) * 100 +
               (floor_div(clock_s + m->cfg.utc_offset_s, 86400) + 4) % 7;
        return true;
    case WK_DI_TIME:
        wk_dlt645_time_from_unix(clock_s, m->cfg.utc_offset_s, &t);
        v[0] = (int64_t)t.hour * 10000 + t.minute * 100 + t.second;
        return true;
    case WK_DI_COMM_ADDR: v[0] = bcd_addr_number(m->cfg.addr); return true;
    case WK_DI_STATUS3: v[0] = wk_meter_status3(m); return true;
    }
    return false;
}

static void reply_error(const wk_meter *m, uint8_t control, uint16_t serr, uint8_t err,
                        wk_dlt645_frame *reply)
{
    if (m->cfg.auth_mode == WK_METER_AUTH_MAC && (control & WK_DLT645_C_FUNC) == WK_DLT645_C_RELAY)
        wk_dlt645_build_serr(m->cfg.addr, control, serr, reply);
    else
        wk_dlt645_build_error(m->cfg.addr, control, err, reply);
}

static bool plain_password_ok(const wk_meter *m, const uint8_t *pa_p)
{
    return m->cfg.auth_mode == WK_METER_AUTH_PLAIN && pa_p[0] == m->cfg.password_level &&
           wk_mem_equal_ct(pa_p + 1, m->cfg.password, 3);
}

/* Relay command: every check before any change. Returns the SERR (MAC mode) / ERR (plain)
 * to send, 0 when executed. */
static void handle_relay(wk_meter *m, int64_t now_ms, const wk_dlt645_frame *req,
                         wk_dlt645_frame *reply)
{
    wk_dlt645_relay r;
    wk_dlt645_reason why;
    memset(&r, 0, sizeof r);
    uint16_t serr = 0;
    uint8_t err = 0;
    bool mac_mode = m->cfg.auth_mode == WK_METER_AUTH_MAC;

    if (mac_mode) {
        if (req->len < 1 || req->data[0] != WK_DLT645_PA_MAC ||
            !wk_dlt645_relay_mac_ok(req, m->cfg.key, m->cfg.key_len)) {
            serr = WK_DLT645_SERR_MAC;
        } else if (wk_dlt645_relay_parse(req, &r, &why) != WK_OK) {
            serr = WK_DLT645_SERR_OTHER;
        } else if (r.counter <= m->last_counter) {
            serr = WK_DLT645_SERR_REPEATED;
        }
    } else {
        if (req->len < 4 || !plain_password_ok(m, req->data))
            err = WK_DLT645_ERR_PASSWORD;
        else if (wk_dlt645_relay_parse(req, &r, &why) != WK_OK || r.has_mac)
            err = WK_DLT645_ERR_OTHER;
    }
    if (!serr && !err) {
        int64_t deadline_s = wk_dlt645_time_to_unix(&r.deadline, m->cfg.utc_offset_s);
        if (wk_meter_clock_s(m, now_ms) > deadline_s) {
            serr = WK_DLT645_SERR_EXPIRED;
            err = WK_DLT645_ERR_OTHER;
        } else if (!wk_dlt645_n1_name(r.n1)) {
            serr = WK_DLT645_SERR_OTHER;
            err = WK_DLT645_ERR_OTHER;
        } else if (r.n1 == WK_DLT645_N1_TRIP && m->guarantee) {
            serr = WK_DLT645_SERR_OTHER; /* power guarantee: the meter will not trip */
            err = WK_DLT645_ERR_OTHER;
        }
    }
    if (serr || err) {
        m->stats.commands_rejected++;
        reply_error(m, req->control, serr ? serr : WK_DLT645_SERR_OTHER,
                    err ? err : WK_DLT645_ERR_OTHER, reply);
        return;
    }

    uint16_t before = wk_meter_status3(m);
    switch (r.n1) {
    case WK_DLT645_N1_TRIP: m->relay = WK_METER_RELAY_TRIPPED; break;
    case WK_DLT645_N1_CLOSE_PERMIT:
        if (m->relay == WK_METER_RELAY_TRIPPED)
            m->relay = WK_METER_RELAY_CLOSE_PERMITTED;
        break;
    case WK_DLT645_N1_CLOSE: m->relay = WK_METER_RELAY_CLOSED; break;
    case WK_DLT645_N1_ALARM_ON: m->alarm = true; break;
    case WK_DLT645_N1_ALARM_OFF: m->alarm = false; break;
    case WK_DLT645_N1_GUARANTEE_ON:
        m->guarantee = true;
        m->relay = WK_METER_RELAY_CLOSED; /* a protected unit must have power */
        break;
    case WK_DLT645_N1_GUARANTEE_OFF: m->guarantee = false; break;
    }
    if (mac_mode)
        m->last_counter = r.counter;
    if (wk_meter_status3(m) != before)
        m->pending |= PENDING_STATUS;
    m->button_since_ms = -1;
    m->stats.commands_ok++;
    wk_dlt645_build_ack(m->cfg.addr, req->control, reply);
}

/* Write (14): plain-password mode only, money/threshold DIs. */
static void handle_write(wk_meter *m, const wk_dlt645_frame *req, wk_dlt645_frame *reply)
{
    int64_t v[WK_DLT645_FIELDS_MAX];
    size_t nv = 0;
    wk_dlt645_reason why;
    uint8_t err = 0;
    int mi = -1;
    if (req->len < 12 || !plain_password_ok(m, req->data + 4)) {
        err = WK_DLT645_ERR_PASSWORD;
    } else {
        uint32_t di = wk_dlt645_di_get(req->data);
        mi = money_index(di);
        if (mi < 0)
            err = WK_DLT645_ERR_NO_DATA;
        else if (wk_dlt645_values_get(di, req->data + 12, req->len - 12u, v, &nv, &why) != WK_OK)
            err = WK_DLT645_ERR_OTHER;
    }
    if (err) {
        m->stats.commands_rejected++;
        wk_dlt645_build_error(m->cfg.addr, req->control, err, reply);
        return;
    }
    m->money_fen[mi] = (int32_t)v[0];
    m->stats.commands_ok++;
    wk_dlt645_build_ack(m->cfg.addr, req->control, reply);
}

wk_err wk_meter_handle(wk_meter *m, int64_t now_ms, const wk_dlt645_frame *req,
                       wk_dlt645_frame *reply, bool *has_reply, wk_dlt645_reason *why)
{
    *has_reply = false;
    *why = WK_DLT645_R_OK;
    if (!wk_dlt645_addr_matches(m->cfg.addr, req->addr)) {
        m->stats.frames_ignored++;
        *why = WK_DLT645_R_ADDRESS;
        return WK_EINVAL;
    }
    bool broadcast = wk_dlt645_addr_is_broadcast(req->addr);
    bool any = true;
    for (int i = 0; i < 6; i++)
        any = any && req->addr[i] == 0xAA;
    uint8_t c = req->control;
    if (c & WK_DLT645_C_REPLY) { /* another meter's reply: not for us */
        m->stats.frames_ignored++;
        return WK_OK;
    }
    switch (c) {
    case WK_DLT645_C_BROADCAST_TIME: {
        wk_dlt645_time t;
        if (!broadcast || req->len != 6 || wk_dlt645_time_get(req->data, &t) != WK_OK) {
            m->stats.frames_ignored++;
            return WK_OK;
        }
        int64_t target = wk_dlt645_time_to_unix(&t, m->cfg.utc_offset_s);
        int64_t delta = target - wk_meter_clock_s(m, now_ms);
        if (delta > WK_METER_TIME_STEP_MAX_S || delta < -WK_METER_TIME_STEP_MAX_S) {
            m->stats.frames_ignored++; /* too large a jump for an unauthenticated frame */
            return WK_OK;
        }
        wk_meter_inputs same = m->in;
        wk_meter_step(m, now_ms, &same); /* integrate up to now on the old clock */
        m->clock_adjust_s += (int32_t)delta;
        schedule_report(m, wk_meter_clock_s(m, now_ms));
        return WK_OK;
    }
    case WK_DLT645_C_READ_ADDR:
        if (!any) {
            m->stats.frames_ignored++;
            return WK_OK;
        }
        wk_dlt645_build_ack(m->cfg.addr, c, reply);
        memcpy(reply->data, m->cfg.addr, 6);
        reply->len = 6;
        *has_reply = true;
        return WK_OK;
    default: break;
    }
    if (broadcast) { /* only 08 (and freezes) may be broadcast; never reply */
        m->stats.frames_ignored++;
        return WK_OK;
    }
    *has_reply = true;
    switch (c) {
    case WK_DLT645_C_READ: {
        int64_t v[WK_DLT645_FIELDS_MAX];
        uint32_t di = req->len >= 4 ? wk_dlt645_di_get(req->data) : 0xFFFFFFFFu;
        const wk_dlt645_di_info *info = wk_dlt645_di_find(di);
        if (req->len < 4 || !info || !read_values(m, now_ms, di, v) ||
            wk_dlt645_build_read_reply(m->cfg.addr, di, v, info->nfields, reply) != WK_OK)
            wk_dlt645_build_error(m->cfg.addr, c, WK_DLT645_ERR_NO_DATA, reply);
        return WK_OK;
    }
    case WK_DLT645_C_READ_NEXT:
        wk_dlt645_build_error(m->cfg.addr, c, WK_DLT645_ERR_NO_DATA, reply);
        return WK_OK;
    case WK_DLT645_C_WRITE: handle_write(m, req, reply); return WK_OK;
    case WK_DLT645_C_RELAY: {
        wk_meter_inputs same = m->in;
        wk_meter_step(m, now_ms, &same); /* relay changes take effect at now */
        handle_relay(m, now_ms, req, reply);
        return WK_OK;
    }
    }
    wk_dlt645_build_error(m->cfg.addr, c, WK_DLT645_ERR_OTHER, reply);
    return WK_OK;
}

wk_err wk_meter_receive(wk_meter *m, int64_t now_ms, const uint8_t *wire, size_t len,
                        wk_dlt645_frame *reply, bool *has_reply, wk_dlt645_reason *why)
{
    wk_dlt645_frame req;
    m->stats.frames_in++;
    *has_reply = false;
    if (wk_dlt645_decode(wire, len, &req, why) != WK_OK) {
        m->stats.frames_bad++;
        return WK_EINVAL;
    }
    return wk_meter_handle(m, now_ms, &req, reply, has_reply, why);
}

bool wk_meter_poll(wk_meter *m, wk_dlt645_frame *out)
{
    if (m->ev_count > 0) {
        const wk_meter_event *e = &m->events[m->ev_head];
        wk_dlt645_time t;
        wk_dlt645_time_from_unix(e->time_s, m->cfg.utc_offset_s, &t);
        int64_t p = (int64_t)e->power_w * 10;
        if (p > 799999 || p < -799999)
            p = p > 0 ? 799999 : -799999;
        int64_t v[6] = {e->code,
                        e->phase,
                        (((((int64_t)(t.year % 100) * 100 + t.month) * 100 + t.day) * 100 +
                          t.hour) * 100 + t.minute) * 100 + t.second,
                        e->seq,
                        e->fwd_wh / 10 % 100000000,
                        p};
        m->ev_head = (uint8_t)((m->ev_head + 1) % WK_METER_EVENTS_MAX);
        m->ev_count--;
        if (wk_dlt645_build_read_reply(m->cfg.addr, WK_DI_EVENT, v, 6, out) == WK_OK)
            return true;
        /* cannot happen: every field is in range by construction */
    }
    if (m->pending & PENDING_STATUS) {
        m->pending &= (uint8_t)~PENDING_STATUS;
        int64_t w = wk_meter_status3(m);
        return wk_dlt645_build_read_reply(m->cfg.addr, WK_DI_STATUS3, &w, 1, out) == WK_OK;
    }
    if (m->pending & PENDING_REPORT) {
        m->pending &= (uint8_t)~PENDING_REPORT;
        int64_t v[5];
        for (int i = 0; i < 5; i++)
            v[i] = m->fwd_wh[i] / 10 % 100000000;
        return wk_dlt645_build_read_reply(m->cfg.addr, WK_DI_FWD_BLOCK, v, 5, out) == WK_OK;
    }
    return false;
}
