/* meter_fuzz.c - libFuzzer driver for the meter core's frame input. The input is a series
 * of records [op][len][len bytes]: op's low bit chooses between stepping time/inputs and
 * handing the bytes to wk_meter_receive as one wire frame. Checks the core's invariants
 * after each record: tariff registers sum to the total, remainders below one Wh, every
 * reply and polled frame encodes, the event queue stays bounded. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "meter/meter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The key the seed corpus' authenticated frames were built with (fuzz/corpus/meter). */
static const uint8_t KEY[4] = {0x00, 0x11, 0x22, 0x33};

static void check(const wk_meter *m)
{
    if (m->fwd_wh[1] + m->fwd_wh[2] + m->fwd_wh[3] + m->fwd_wh[4] != m->fwd_wh[0] ||
        m->fwd_rem_wms >= 3600000 || m->rev_rem_wms >= 3600000 ||
        m->ev_count > WK_METER_EVENTS_MAX || m->relay > WK_METER_RELAY_CLOSE_PERMITTED)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static wk_meter m;
    wk_meter_config cfg;
    static const uint8_t addr[6] = {0x12, 0x90, 0x78, 0x56, 0x34, 0x12};
    wk_meter_config_default(&cfg, addr, KEY, sizeof KEY);
    if (size > 0 && (data[0] & 0x80))
        cfg.auth_mode = WK_METER_AUTH_PLAIN;
    cfg.report_interval_s = 60;
    /* 2026-01-01 00:00:00 +08:00: the seed commands have deadlines in 2026 */
    int64_t t = INT64_C(1767196800) * 1000;
    wk_meter_inputs in = {500, 2200, true, false, false, false};
    if (wk_meter_init(&m, &cfg, t, &in) != WK_OK)
        __builtin_trap();
    size_t off = 1;
    while (off + 2 <= size) {
        uint8_t op = data[off], len = data[off + 1];
        off += 2;
        if (len > size - off)
            len = (uint8_t)(size - off);
        const uint8_t *p = data + off;
        off += len;
        if (op & 1) {
            wk_dlt645_frame reply;
            bool has = false;
            wk_dlt645_reason why;
            if (wk_meter_receive(&m, t, p, len, &reply, &has, &why) == WK_OK && has) {
                uint8_t wire[WK_DLT645_WIRE_MAX];
                size_t n;
                if (wk_dlt645_encode(&reply, 0, wire, sizeof wire, &n) != WK_OK)
                    __builtin_trap();
            }
        } else {
            t += (int64_t)(op >> 1) * 7919;
            in.power_w = len ? (int32_t)((int8_t)p[0]) * 100 : 0;
            in.mains = !(op & 0x02);
            in.button = op & 0x04;
            in.cover_open = op & 0x08;
            wk_meter_step(&m, t, &in);
        }
        wk_dlt645_frame out;
        int guard = 0;
        while (wk_meter_poll(&m, &out)) {
            uint8_t wire[WK_DLT645_WIRE_MAX];
            size_t n;
            if (wk_dlt645_encode(&out, 0, wire, sizeof wire, &n) != WK_OK || ++guard > 64)
                __builtin_trap();
        }
        check(&m);
    }
    return 0;
}
