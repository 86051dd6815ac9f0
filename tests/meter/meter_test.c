/* meter_test.c - src/meter/meter.c: exact energy integration over a long run, TOU
 * registers, the relay state machine, every command rejection (with the reply it gets and
 * proof that nothing changed), reads, broadcast time, reports and anomaly events. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "meter/meter.h"

static const uint8_t ADDR[6] = {0x12, 0x90, 0x78, 0x56, 0x34, 0x12};
static const uint8_t KEY[32] = {0x5A, 1, 2, 3, 4, 5, 6, 7, 8, 9};
static const uint8_t OP[4] = {0x78, 0x56, 0x34, 0x12};
/* 2026-11-23 00:00:00 +08:00 (a Monday), in ms */
static const int64_t T0 = INT64_C(1795363200) * 1000;

static wk_meter_inputs on(int32_t w)
{
    wk_meter_inputs in = {w, 2200, true, false, false, false};
    return in;
}

static void start(wk_meter *m, uint8_t mode)
{
    wk_meter_config c;
    wk_meter_config_default(&c, ADDR, KEY, sizeof KEY);
    c.auth_mode = mode;
    c.password[0] = 0x56; /* password 123456 -> P0 P1 P2 = 56 34 12 */
    c.password[1] = 0x34;
    c.password[2] = 0x12;
    wk_meter_inputs in = on(0);
    assert_int_equal(wk_meter_init(m, &c, T0, &in), WK_OK);
}

/* Sends f to the meter through the wire encoding; returns the reply (must exist). */
static wk_dlt645_frame talk(wk_meter *m, int64_t now_ms, const wk_dlt645_frame *f)
{
    uint8_t wire[WK_DLT645_WIRE_MAX];
    size_t n = 0;
    assert_int_equal(wk_dlt645_encode(f, 2, wire, sizeof wire, &n), WK_OK);
    wk_dlt645_frame reply;
    bool has = false;
    wk_dlt645_reason why;
    assert_int_equal(wk_meter_receive(m, now_ms, wire, n, &reply, &has, &why), WK_OK);
    assert_true(has);
    return reply;
}

static void deadline_in(int64_t now_ms, int64_t secs, wk_dlt645_time *t)
{
    wk_dlt645_time_from_unix(now_ms / 1000 + secs, 8 * 3600, t);
}

static wk_dlt645_frame relay_cmd(int64_t now_ms, uint8_t n1, uint32_t ctr)
{
    wk_dlt645_time dl;
    deadline_in(now_ms, 30, &dl);
    wk_dlt645_frame f;
    wk_dlt645_build_relay_mac(ADDR, KEY, sizeof KEY, OP, n1, &dl, ctr, &f);
    return f;
}

static void expect_ack(const wk_dlt645_frame *r)
{
    assert_int_equal(r->control, 0x9C);
    assert_int_equal(r->len, 0);
}

static void expect_serr(const wk_dlt645_frame *r, uint16_t serr)
{
    assert_int_equal(r->control, 0xDC);
    assert_int_equal(r->len, 2);
    assert_int_equal(r->data[0] | r->data[1] << 8, serr);
}

static int64_t read1(wk_meter *m, int64_t now_ms, uint32_t di, size_t idx)
{
    wk_dlt645_frame f;
    wk_dlt645_build_read(ADDR, di, &f);
    wk_dlt645_frame r = talk(m, now_ms, &f);
    assert_int_equal(r.control, 0x91);
    int64_t v[WK_DLT645_FIELDS_MAX];
    size_t n;
    wk_dlt645_reason why;
    assert_int_equal(wk_dlt645_di_get(r.data), di);
    assert_int_equal(wk_dlt645_values_get(di, r.data + 4, r.len - 4u, v, &n, &why), WK_OK);
    assert_true(idx < n);
    return v[idx];
}

static void drain(wk_meter *m)
{
    wk_dlt645_frame f;
    while (wk_meter_poll(m, &f))
        ;
}

static void test_energy_exact_long_run(void **state)
{
    (void)state;
    static wk_meter m;
    start(&m, WK_METER_AUTH_MAC);
    uint64_t x = 88172645463325252u;
    int64_t t = T0;
    int64_t imp_wms = 0, exp_wms = 0; /* the exact truth */
    int32_t p = 0;
    for (int i = 0; i < 200000; i++) { /* about 400 days */
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int64_t dt = (int64_t)(x % 350000) + 1; /* up to ~6 min, odd ms */
        t += dt;
        if (p > 0)
            imp_wms += (int64_t)p * dt;
        else
            exp_wms += -(int64_t)p * dt;
        p = (int32_t)(x >> 20) % 9000 - 1500; /* -1.5 kW .. 7.5 kW */
        wk_meter_inputs in = on(p);
        wk_meter_step(&m, t, &in);
        if (i % 64 == 0)
            drain(&m);
    }
    assert_int_equal(m.fwd_wh[0], imp_wms / 3600000);
    assert_int_equal(m.fwd_rem_wms, imp_wms % 3600000);
    assert_int_equal(m.rev_wh, exp_wms / 3600000);
    assert_int_equal(m.fwd_wh[1] + m.fwd_wh[2] + m.fwd_wh[3] + m.fwd_wh[4], m.fwd_wh[0]);
    for (int k = 1; k <= 4; k++)
        assert_true(m.fwd_wh[k] > 0);
    assert_true(m.fwd_wh[0] > 1000000); /* more than 1 MWh: the test exercised big values */
    /* the wire registers agree */
    assert_int_equal(read1(&m, t, WK_DI_FWD_TOTAL, 0), m.fwd_wh[0] / 10);
    assert_int_equal(read1(&m, t, WK_DI_REV_TOTAL, 0), m.rev_wh / 10);
}

static void test_tou_registers(void **state)
{
    (void)state;
    static wk_meter m, n;
    start(&m, WK_METER_AUTH_MAC);
    start(&n, WK_METER_AUTH_MAC);
    wk_meter_inputs in = on(1000);
    wk_meter_step(&m, T0, &in);
    wk_meter_step(&n, T0, &in);
    /* m: one step of a whole day; n: 1441 uneven steps. Same registers. */
    wk_meter_step(&m, T0 + 86400000, &in);
    for (int64_t t = T0; t < T0 + 86400000;) {
        t += 59999;
        if (t > T0 + 86400000)
            t = T0 + 86400000;
        wk_meter_step(&n, t, &in);
    }
    /* default table: sharp 19-21 (2 h), peak 8-11, 18-19, 21-23 (6 h), flat 7-8, 11-18
     * (8 h), valley 23-07 (8 h) */
    const uint32_t want[5] = {24000, 2000, 6000, 8000, 8000};
    for (int k = 0; k < 5; k++) {
        assert_int_equal(m.fwd_wh[k], want[k]);
        assert_int_equal(n.fwd_wh[k], want[k]);
        assert_int_equal(read1(&m, T0 + 86400000, WK_DI_FWD_T1 + (uint32_t)(k ? k - 1 : 0) * 0x100,
                               0),
                         want[k ? k : 1] / 10);
    }
    int64_t blk[5];
    for (int k = 0; k < 5; k++)
        blk[k] = read1(&m, T0 + 86400000, WK_DI_FWD_BLOCK, (size_t)k);
    assert_int_equal(blk[0], 2400);
    assert_int_equal(blk[1], 200);
    assert_int_equal(blk[4], 800);
}

static void test_relay_state_machine(void **state)
{
    (void)state;
    static wk_meter m;
    wk_dlt645_frame f, r, out;
    start(&m, WK_METER_AUTH_MAC);
    int64_t t = T0 + 1000;
    assert_false(wk_meter_relay_open(&m));

    f = relay_cmd(t, WK_DLT645_N1_TRIP, 1);
    r = talk(&m, t, &f);
    expect_ack(&r);
    assert_true(wk_meter_relay_open(&m));
    assert_int_equal(read1(&m, t, WK_DI_STATUS3, 0) & 0x50, 0x50);
    /* the relay change is reported with status word 3 */
    assert_true(wk_meter_poll(&m, &out));
    assert_int_equal(wk_dlt645_di_get(out.data), WK_DI_STATUS3);
    assert_false(wk_meter_poll(&m, &out));

    /* close-permit: open until the button is held for 3 s */
    t += 1000;
    f = relay_cmd(t, WK_DLT645_N1_CLOSE_PERMIT, 2);
    r = talk(&m, t, &f);
    expect_ack(&r);
    assert_true(wk_meter_relay_open(&m));
    assert_int_equal(wk_meter_status3(&m) & 0x50, 0x10); /* open, command state close */
    drain(&m);
    wk_meter_inputs in = on(0);
    in.button = true;
    wk_meter_step(&m, t += 1000, &in);
    wk_meter_step(&m, t += 1000, &in);
    in.button = false; /* released after 1 s: nothing */
    wk_meter_step(&m, t += 1000, &in);
    in.button = true;
    wk_meter_step(&m, t += 1000, &in);
    wk_meter_step(&m, t += 2000, &in);
    assert_true(wk_meter_relay_open(&m));
    wk_meter_step(&m, t += 1000, &in);
    assert_false(wk_meter_relay_open(&m));
    assert_true(wk_meter_poll(&m, &out));
    assert_int_equal(wk_dlt645_di_get(out.data), WK_DI_STATUS3);

    /* close-permit while closed changes nothing */
    f = relay_cmd(t, WK_DLT645_N1_CLOSE_PERMIT, 3);
    r = talk(&m, t, &f);
    expect_ack(&r);
    assert_false(wk_meter_relay_open(&m));

    /* trip then direct close */
    f = relay_cmd(t, WK_DLT645_N1_TRIP, 4);
    expect_ack((r = talk(&m, t, &f), &r));
    f = relay_cmd(t, WK_DLT645_N1_CLOSE, 5);
    expect_ack((r = talk(&m, t, &f), &r));
    assert_false(wk_meter_relay_open(&m));

    /* power guarantee: closes, and a trip is refused while it lasts */
    f = relay_cmd(t, WK_DLT645_N1_TRIP, 6);
    expect_ack((r = talk(&m, t, &f), &r));
    f = relay_cmd(t, WK_DLT645_N1_GUARANTEE_ON, 7);
    expect_ack((r = talk(&m, t, &f), &r));
    assert_false(wk_meter_relay_open(&m));
    assert_true(wk_meter_status3(&m) & WK_DLT645_SW3_GUARANTEE);
    f = relay_cmd(t, WK_DLT645_N1_TRIP, 8);
    r = talk(&m, t, &f);
    expect_serr(&r, WK_DLT645_SERR_OTHER);
    assert_false(wk_meter_relay_open(&m));
    f = relay_cmd(t, WK_DLT645_N1_GUARANTEE_OFF, 9);
    expect_ack((r = talk(&m, t, &f), &r));
    f = relay_cmd(t, WK_DLT645_N1_TRIP, 10);
    expect_ack((r = talk(&m, t, &f), &r));
    assert_true(wk_meter_relay_open(&m));

    /* alarm bit */
    f = relay_cmd(t, WK_DLT645_N1_ALARM_ON, 11);
    expect_ack((r = talk(&m, t, &f), &r));
    assert_true(wk_meter_status3(&m) & WK_DLT645_SW3_ALARM);
    f = relay_cmd(t, WK_DLT645_N1_ALARM_OFF, 12);
    expect_ack((r = talk(&m, t, &f), &r));
    assert_false(wk_meter_status3(&m) & WK_DLT645_SW3_ALARM);
    assert_int_equal(m.stats.commands_ok, 11);
    assert_int_equal(m.stats.commands_rejected, 1);
}

/* Everything but the statistics: a rejected command must leave it bit for bit. */
static void assert_unchanged(const wk_meter *a, const wk_meter *b)
{
    wk_meter x = *a, y = *b;
    memset(&x.stats, 0, sizeof x.stats);
    memset(&y.stats, 0, sizeof y.stats);
    assert_memory_equal(&x, &y, sizeof x);
}

static void test_command_rejections(void **state)
{
    (void)state;
    static wk_meter m, before;
    wk_dlt645_frame f, r, out;
    start(&m, WK_METER_AUTH_MAC);
    int64_t t = T0 + 5000;
    f = relay_cmd(t, WK_DLT645_N1_TRIP, 100);
    expect_ack((r = talk(&m, t, &f), &r));
    drain(&m);

    /* bad MAC: one bit of the MAC, of N1, of the counter, or a wrong key */
    const size_t flips[] = {27, 8, 16, 12};
    for (size_t i = 0; i < sizeof flips / sizeof flips[0]; i++) {
        before = m;
        f = relay_cmd(t, WK_DLT645_N1_CLOSE, 101);
        f.data[flips[i]] ^= 0x01;
        r = talk(&m, t, &f);
        expect_serr(&r, WK_DLT645_SERR_MAC);
        assert_unchanged(&m, &before);
    }
    uint8_t other_key[32] = {9};
    wk_dlt645_time dl;
    deadline_in(t, 30, &dl);
    wk_dlt645_build_relay_mac(ADDR, other_key, sizeof other_key, OP, WK_DLT645_N1_CLOSE, &dl, 101,
                              &f);
    before = m;
    expect_serr((r = talk(&m, t, &f), &r), WK_DLT645_SERR_MAC);
    assert_unchanged(&m, &before);
    /* a plain-password command to a MAC meter is unauthenticated */
    static const uint8_t pw[3] = {0x56, 0x34, 0x12};
    wk_dlt645_build_relay_plain(ADDR, 0x02, pw, OP, WK_DLT645_N1_CLOSE, &dl, &f);
    expect_serr((r = talk(&m, t, &f), &r), WK_DLT645_SERR_MAC);
    assert_unchanged(&m, &before);

    /* replayed counter: the same frame again, and an older counter */
    f = relay_cmd(t, WK_DLT645_N1_TRIP, 100);
    expect_serr((r = talk(&m, t, &f), &r), WK_DLT645_SERR_REPEATED);
    assert_unchanged(&m, &before);
    f = relay_cmd(t, WK_DLT645_N1_CLOSE, 99);
    expect_serr((r = talk(&m, t, &f), &r), WK_DLT645_SERR_REPEATED);
    assert_unchanged(&m, &before);

    /* deadline passed (one second ago), valid MAC and fresh counter */
    deadline_in(t, -1, &dl);
    wk_dlt645_build_relay_mac(ADDR, KEY, sizeof KEY, OP, WK_DLT645_N1_CLOSE, &dl, 200, &f);
    expect_serr((r = talk(&m, t, &f), &r), WK_DLT645_SERR_EXPIRED);
    assert_unchanged(&m, &before);
    /* deadline == now is still valid: checked below with counter 201 */

    /* unknown N1 */
    f = relay_cmd(t, 0x55, 202);
    expect_serr((r = talk(&m, t, &f), &r), WK_DLT645_SERR_OTHER);
    assert_unchanged(&m, &before);

    /* malformed: wrong length (MAC computed over what is there, so MAC fails first) */
    f = relay_cmd(t, WK_DLT645_N1_CLOSE, 203);
    f.len = 27;
    expect_serr((r = talk(&m, t, &f), &r), WK_DLT645_SERR_MAC);
    assert_unchanged(&m, &before);

    assert_true(wk_meter_relay_open(&m));
    assert_false(wk_meter_poll(&m, &out)); /* no status frame: nothing changed */
    assert_int_equal(m.stats.commands_rejected, 11);

    /* the rejected counters were not consumed: 201 still works, at its exact deadline */
    deadline_in(t, 0, &dl);
    wk_dlt645_build_relay_mac(ADDR, KEY, sizeof KEY, OP, WK_DLT645_N1_CLOSE, &dl, 201, &f);
    expect_ack((r = talk(&m, t, &f), &r));
    assert_false(wk_meter_relay_open(&m));
}

static void test_plain_password_mode(void **state)
{
    (void)state;
    static wk_meter m, before;
    wk_dlt645_frame f, r;
    start(&m, WK_METER_AUTH_PLAIN);
    int64_t t = T0 + 5000;
    wk_dlt645_time dl;
    deadline_in(t, 60, &dl);
    static const uint8_t good[3] = {0x56, 0x34, 0x12}, bad[3] = {0x57, 0x34, 0x12};
    wk_meter_inputs in = on(0);
    wk_meter_step(&m, t, &in); /* time passing is not a change made by a command */
    before = m;
    wk_dlt645_build_relay_plain(ADDR, 0x02, bad, OP, WK_DLT645_N1_TRIP, &dl, &f);
    r = talk(&m, t, &f);
    /* the reference's "1C refused, ERR = password/unauthorised" reply */
    uint8_t wire[32];
    size_t n;
    assert_int_equal(wk_dlt645_encode(&r, 0, wire, sizeof wire, &n), WK_OK);
    assert_int_equal(n, 13);
    assert_memory_equal(wire, "\x68\x12\x90\x78\x56\x34\x12\x68\xDC\x01\x37\x9A\x16", 13);
    assert_unchanged(&m, &before);
    wk_dlt645_build_relay_plain(ADDR, 0x04, good, OP, WK_DLT645_N1_TRIP, &dl, &f);
    r = talk(&m, t, &f);
    assert_int_equal(r.control, 0xDC);
    assert_int_equal(r.data[0], WK_DLT645_ERR_PASSWORD);
    f = relay_cmd(t, WK_DLT645_N1_TRIP, 1); /* a MAC frame means nothing to a plain meter */
    r = talk(&m, t, &f);
    assert_int_equal(r.data[0], WK_DLT645_ERR_PASSWORD);
    wk_dlt645_time old;
    deadline_in(t, -60, &old);
    wk_dlt645_build_relay_plain(ADDR, 0x02, good, OP, WK_DLT645_N1_TRIP, &old, &f);
    r = talk(&m, t, &f);
    assert_int_equal(r.control, 0xDC);
    assert_int_equal(r.data[0], WK_DLT645_ERR_OTHER);
    wk_dlt645_build_relay_plain(ADDR, 0x02, good, OP, 0x77, &dl, &f);
    r = talk(&m, t, &f);
    assert_int_equal(r.data[0], WK_DLT645_ERR_OTHER);
    assert_unchanged(&m, &before);

    wk_dlt645_build_relay_plain(ADDR, 0x02, good, OP, WK_DLT645_N1_TRIP, &dl, &f);
    expect_ack((r = talk(&m, t, &f), &r));
    assert_true(wk_meter_relay_open(&m));

    /* write a threshold with the password; wrong password refused */
    f.control = WK_DLT645_C_WRITE;
    wk_dlt645_di_put(WK_DI_ALARM1, f.data);
    f.data[4] = 0x02;
    memcpy(f.data + 5, good, 3);
    memcpy(f.data + 8, OP, 4);
    int64_t v = 2000;
    assert_int_equal(wk_dlt645_values_put(WK_DI_ALARM1, &v, 1, f.data + 12), WK_OK);
    f.len = 16;
    r = talk(&m, t, &f);
    assert_int_equal(r.control, 0x94);
    assert_int_equal(read1(&m, t, WK_DI_ALARM1, 0), 2000);
    f.data[5] ^= 1;
    r = talk(&m, t, &f);
    assert_int_equal(r.control, 0xD4);
    assert_int_equal(r.data[0], WK_DLT645_ERR_PASSWORD);
}

static void test_reads_and_addressing(void **state)
{
    (void)state;
    static wk_meter m;
    wk_dlt645_frame f, r;
    start(&m, WK_METER_AUTH_MAC);
    int64_t t = T0 + 3600000;
    wk_meter_inputs in = on(2200);
    wk_meter_step(&m, t, &in);
    assert_int_equal(read1(&m, t, WK_DI_VOLTAGE_A, 0), 2200);
    assert_int_equal(read1(&m, t, WK_DI_CURRENT_A, 0), 10000);    /* 2200 W / 220 V */
    assert_int_equal(read1(&m, t, WK_DI_POWER_TOTAL, 0), 22000);  /* 2.2000 kW */
    assert_int_equal(read1(&m, t, WK_DI_TIME, 0), 10000);         /* 01:00:00 */
    assert_int_equal(read1(&m, t, WK_DI_DATE, 0), 26112301);      /* Monday */
    assert_int_equal(read1(&m, t, WK_DI_COMM_ADDR, 0), 123456789012);

    /* unknown DI -> D1 with ERR "no data" */
    wk_dlt645_build_read(ADDR, 0x0123ABCDu, &f);
    r = talk(&m, t, &f);
    assert_int_equal(r.control, 0xD1);
    assert_int_equal(r.data[0], WK_DLT645_ERR_NO_DATA);
    f.len = 2; /* truncated DI */
    r = talk(&m, t, &f);
    assert_int_equal(r.control, 0xD1);

    /* read address with AA..AA */
    wk_dlt645_build_read_addr(&f);
    r = talk(&m, t, &f);
    assert_int_equal(r.control, 0x93);
    assert_memory_equal(r.data, ADDR, 6);

    /* other meter's address, garbage, bad checksum: rejected with a reason, no reply */
    uint8_t wire[64];
    size_t n;
    bool has = true;
    wk_dlt645_reason why;
    uint8_t other[6];
    assert_int_equal(wk_dlt645_addr_parse("123456789013", other), WK_OK);
    wk_dlt645_build_read(other, WK_DI_FWD_TOTAL, &f);
    assert_int_equal(wk_dlt645_encode(&f, 0, wire, sizeof wire, &n), WK_OK);
    assert_int_equal(wk_meter_receive(&m, t, wire, n, &r, &has, &why), WK_EINVAL);
    assert_false(has);
    assert_int_equal(why, WK_DLT645_R_ADDRESS);
    wire[n - 2] ^= 1;
    assert_int_equal(wk_meter_receive(&m, t, wire, n, &r, &has, &why), WK_EINVAL);
    assert_int_equal(why, WK_DLT645_R_CHECKSUM);
    assert_int_equal(wk_meter_receive(&m, t, wire, 5, &r, &has, &why), WK_EINVAL);
    assert_int_equal(why, WK_DLT645_R_TRUNCATED);

    /* broadcast time: corrects up to 5 minutes, ignores larger jumps, never replies */
    wk_dlt645_time bt;
    wk_dlt645_time_from_unix(t / 1000 + 120, 8 * 3600, &bt);
    wk_dlt645_build_broadcast_time(&bt, &f);
    assert_int_equal(wk_dlt645_encode(&f, 0, wire, sizeof wire, &n), WK_OK);
    assert_int_equal(wk_meter_receive(&m, t, wire, n, &r, &has, &why), WK_OK);
    assert_false(has);
    assert_int_equal(wk_meter_clock_s(&m, t), t / 1000 + 120);
    wk_dlt645_time_from_unix(t / 1000 + 86400, 8 * 3600, &bt);
    wk_dlt645_build_broadcast_time(&bt, &f);
    assert_int_equal(wk_dlt645_encode(&f, 0, wire, sizeof wire, &n), WK_OK);
    assert_int_equal(wk_meter_receive(&m, t, wire, n, &r, &has, &why), WK_OK);
    assert_int_equal(wk_meter_clock_s(&m, t), t / 1000 + 120);
    /* a read sent to broadcast gets no reply */
    wk_dlt645_build_read(f.addr, WK_DI_FWD_TOTAL, &f);
    assert_int_equal(wk_dlt645_encode(&f, 0, wire, sizeof wire, &n), WK_OK);
    assert_int_equal(wk_meter_receive(&m, t, wire, n, &r, &has, &why), WK_OK);
    assert_false(has);
}

static void test_periodic_reports(void **state)
{
    (void)state;
    static wk_meter m;
    start(&m, WK_METER_AUTH_MAC);
    int64_t t = T0 + 7000; /* not aligned: the first report comes at 00:15:00 */
    wk_meter_inputs in = on(1500);
    wk_meter_step(&m, t, &in);
    int reports = 0;
    int64_t last = -1, last_time = 0;
    for (; t < T0 + 6 * 3600000; t += 10000) {
        wk_meter_step(&m, t, &in);
        wk_dlt645_frame f;
        while (wk_meter_poll(&m, &f)) {
            assert_int_equal(wk_dlt645_di_get(f.data), WK_DI_FWD_BLOCK);
            int64_t v[5];
            size_t n;
            wk_dlt645_reason why;
            assert_int_equal(wk_dlt645_values_get(WK_DI_FWD_BLOCK, f.data + 4, f.len - 4u, v, &n,
                                                  &why),
                             WK_OK);
            assert_true(v[0] > last);
            assert_int_equal(v[1] + v[2] + v[3] + v[4] <= v[0], 1);
            if (reports > 0)
                assert_int_equal(t - last_time, 900000);
            last = v[0];
            last_time = t;
            reports++;
        }
    }
    assert_int_equal(reports, 6 * 4 - 1); /* 00:15 .. 05:45 */
    /* no reports while the power is out */
    in.mains = false;
    int before = reports;
    for (int i = 0; i < 400; i++) {
        wk_meter_step(&m, t += 10000, &in);
        wk_dlt645_frame f;
        while (wk_meter_poll(&m, &f))
            if (wk_dlt645_di_get(f.data) == WK_DI_FWD_BLOCK)
                reports++;
    }
    assert_int_equal(reports, before);
}

typedef struct evlist {
    int64_t code[32], phase[32];
    int n;
} evlist;

static void collect(wk_meter *m, evlist *e)
{
    wk_dlt645_frame f;
    while (wk_meter_poll(m, &f)) {
        if (wk_dlt645_di_get(f.data) != WK_DI_EVENT)
            continue;
        int64_t v[6];
        size_t n;
        wk_dlt645_reason why;
        assert_int_equal(wk_dlt645_values_get(WK_DI_EVENT, f.data + 4, f.len - 4u, v, &n, &why),
                         WK_OK);
        assert_true(e->n < 32);
        e->code[e->n] = v[0];
        e->phase[e->n] = v[1];
        e->n++;
    }
}

static bool has_event(const evlist *e, int code, int phase)
{
    for (int i = 0; i < e->n; i++)
        if (e->code[i] == code && e->phase[i] == phase)
            return true;
    return false;
}

static void test_anomaly_events(void **state)
{
    (void)state;
    static wk_meter m;
    evlist e = {.n = 0};
    start(&m, WK_METER_AUTH_MAC);
    m.cfg.report_interval_s = 0;
    int64_t t = T0;
    wk_meter_inputs in = on(400);
    /* two days of a ~400 W household: baseline learned, no events */
    for (int i = 0; i < 2 * 24 * 60; i++)
        wk_meter_step(&m, t += 60000, &in);
    collect(&m, &e);
    assert_int_equal(e.n, 0);
    assert_true(m.baseline_w > 350 && m.baseline_w < 450);

    /* a short 5 kW spike (kettle, 3 min) is not an anomaly */
    in.power_w = 5000;
    for (int i = 0; i < 3; i++)
        wk_meter_step(&m, t += 60000, &in);
    in.power_w = 400;
    wk_meter_step(&m, t += 60000, &in);
    collect(&m, &e);
    assert_int_equal(e.n, 0);
    /* sustained 6 kW for 15 min: overload starts after 10 min */
    in.power_w = 6000;
    for (int i = 0; i < 15; i++)
        wk_meter_step(&m, t += 60000, &in);
    collect(&m, &e);
    assert_true(has_event(&e, WK_METER_EV_OVERLOAD, 1));
    /* a 2-minute dip does not end it (debounced), ten quiet minutes do */
    in.power_w = 400;
    wk_meter_step(&m, t += 60000, &in);
    wk_meter_step(&m, t += 60000, &in);
    in.power_w = 6000;
    wk_meter_step(&m, t += 60000, &in);
    collect(&m, &e);
    assert_false(has_event(&e, WK_METER_EV_OVERLOAD, 0));
    in.power_w = 400;
    for (int i = 0; i < 11; i++)
        wk_meter_step(&m, t += 60000, &in);
    collect(&m, &e);
    assert_true(has_event(&e, WK_METER_EV_OVERLOAD, 0));
    assert_int_equal(e.n, 2);

    /* reverse energy for 2 minutes */
    e.n = 0;
    in.power_w = -800;
    wk_meter_step(&m, t += 30000, &in);
    wk_meter_step(&m, t += 30000, &in);
    collect(&m, &e);
    assert_false(has_event(&e, WK_METER_EV_REVERSE, 1)); /* not yet sustained */
    wk_meter_step(&m, t += 30000, &in);
    collect(&m, &e);
    assert_true(has_event(&e, WK_METER_EV_REVERSE, 1));
    assert_true(m.rev_wh > 0);

    /* bypass: current while the relay is open */
    e.n = 0;
    in.power_w = 0;
    wk_meter_step(&m, t += 1000, &in);
    wk_dlt645_frame f = relay_cmd(t, WK_DLT645_N1_TRIP, 1), r;
    expect_ack((r = talk(&m, t, &f), &r));
    in.power_w = 1200;
    for (int i = 0; i < 3; i++)
        wk_meter_step(&m, t += 30000, &in);
    collect(&m, &e);
    assert_true(has_event(&e, WK_METER_EV_BYPASS, 1));
    assert_true(has_event(&e, WK_METER_EV_REVERSE, 0));

    /* cover, magnet: immediate; outage and restore */
    e.n = 0;
    in.power_w = 0;
    in.cover_open = true;
    in.magnet = true;
    wk_meter_step(&m, t += 1000, &in);
    in.cover_open = false;
    in.magnet = false;
    wk_meter_step(&m, t += 1000, &in);
    in.mains = false;
    wk_meter_step(&m, t += 1000, &in);
    uint32_t frozen = m.fwd_wh[0];
    in.power_w = 3000; /* no energy is registered without mains */
    wk_meter_step(&m, t += 3600000, &in);
    assert_int_equal(m.fwd_wh[0], frozen);
    in.mains = true;
    in.power_w = 0;
    wk_meter_step(&m, t += 1000, &in);
    collect(&m, &e);
    assert_true(has_event(&e, WK_METER_EV_BYPASS, 0));
    assert_true(has_event(&e, WK_METER_EV_COVER, 1));
    assert_true(has_event(&e, WK_METER_EV_COVER, 0));
    assert_true(has_event(&e, WK_METER_EV_MAGNET, 1));
    assert_true(has_event(&e, WK_METER_EV_MAGNET, 0));
    assert_true(has_event(&e, WK_METER_EV_OUTAGE, 1));
    assert_true(has_event(&e, WK_METER_EV_OUTAGE, 0));

    /* the queue is bounded: a flood of events drops the oldest and counts them */
    for (int i = 0; i < 20; i++) {
        in.cover_open = !in.cover_open;
        wk_meter_step(&m, t += 1000, &in);
    }
    assert_int_equal(m.ev_count, WK_METER_EVENTS_MAX);
    assert_true(m.stats.events_dropped >= 12);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_energy_exact_long_run), cmocka_unit_test(test_tou_registers),
        cmocka_unit_test(test_relay_state_machine),   cmocka_unit_test(test_command_rejections),
        cmocka_unit_test(test_plain_password_mode),   cmocka_unit_test(test_reads_and_addressing),
        cmocka_unit_test(test_periodic_reports),      cmocka_unit_test(test_anomaly_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
