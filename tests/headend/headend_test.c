/*
 * headend_test.c - the head-end's main loop against the real meter firmware core (no
 * broker: frames are handed across directly, so delivery faults can be injected exactly).
 *
 * A shop meter draws a steady load; its periodic reports become deductions that must equal
 * the rating engine's result for the same registers, to the fen; warnings come once per
 * level; at zero the relay trips (confirmed by the meter's status word 3) but not inside
 * friendly hours; a credit closes it at once; duplicated and reordered frames charge
 * nothing; a forged command is refused by the meter and recorded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/civil.h"
#include "core/rating.h"
#include "core/readings.h"
#include "headend/headend.h"
#include "meter/meter.h"
#include "proto/dlt645.h"
#include "test_util.h"

#define CST (8 * 3600)
#define ADDR "330100000042"

typedef struct outbox {
    uint8_t frames[64][WK_DLT645_WIRE_MAX];
    size_t lens[64];
    int n;
} outbox;

typedef struct fx {
    wk_store *st;
    wk_ledger *lg;
    wk_headend *hd;
    wk_meter meter;
    wk_meter_inputs in;
    outbox down; /* head-end -> meter */
    int64_t now_ms;
    int warn1, warn2, confirmed, refused, foreign, tou_mismatch;
    uint8_t master[32];
} fx;

static int64_t at(int y, int m, int d, int h, int mi)
{
    return (wk_days_from_civil(y, m, d) * 86400 + h * 3600 + mi * 60 - CST) * 1000;
}

static wk_err publish(void *ctx, const char *address, const uint8_t *frame, size_t len)
{
    fx *f = ctx;
    assert_string_equal(address, ADDR);
    assert_true(f->down.n < 64 && len <= WK_DLT645_WIRE_MAX);
    memcpy(f->down.frames[f->down.n], frame, len);
    f->down.lens[f->down.n++] = len;
    return WK_OK;
}

static void on_event(void *ctx, const char *kind, const char *address, const char *detail)
{
    fx *f = ctx;
    if (getenv("WK_TEST_VERBOSE"))
        fprintf(stderr, "event %s %s %s\n", kind, address, detail);
    f->warn1 += !strcmp(kind, "warn1");
    f->warn2 += !strcmp(kind, "warn2");
    f->confirmed += !strcmp(kind, "confirmed");
    f->refused += !strcmp(kind, "refused");
    f->foreign += !strcmp(kind, "foreign_command");
    f->tou_mismatch += !strcmp(kind, "tou_mismatch");
}

static void up(fx *f, const wk_dlt645_frame *fr)
{
    uint8_t wire[WK_DLT645_WIRE_MAX];
    size_t len;
    wk_diag d = {{0}};
    assert_int_equal(wk_dlt645_encode(fr, 0, wire, sizeof wire, &len), WK_OK);
    if (wk_headend_frame(f->hd, ADDR, wire, len, f->now_ms, &d))
        fail_msg("frame: %s", d.msg);
}

/* Delivers queued down frames to the meter and its replies (and anything it wants to
 * send) back up; then commits. */
static void exchange(fx *f)
{
    wk_diag d = {{0}};
    for (int round = 0; round < 4; round++) {
        outbox q = f->down;
        f->down.n = 0;
        for (int i = 0; i < q.n; i++) {
            wk_dlt645_frame reply;
            bool has;
            wk_dlt645_reason why;
            if (wk_meter_receive(&f->meter, f->now_ms, q.frames[i], q.lens[i], &reply, &has,
                                 &why) == WK_OK &&
                has)
                up(f, &reply);
        }
        wk_dlt645_frame fr;
        while (wk_meter_poll(&f->meter, &fr))
            up(f, &fr);
        if (wk_headend_flush(f->hd, f->now_ms, &d))
            fail_msg("flush: %s", d.msg);
        if (!f->down.n)
            break;
    }
}

/* Advances time by step_ms with the meter drawing f->in, exchanging frames as it goes. */
static void run(fx *f, int64_t until_ms, int64_t step_ms)
{
    wk_diag d = {{0}};
    while (f->now_ms < until_ms) {
        f->now_ms += step_ms;
        /* physics: no current flows through an open relay */
        wk_meter_inputs in = f->in;
        if (wk_meter_relay_open(&f->meter))
            in.power_w = 0;
        wk_meter_step(&f->meter, f->now_ms, &in);
        exchange(f);
        if (wk_headend_tick(f->hd, f->now_ms, &d))
            fail_msg("tick: %s", d.msg);
        exchange(f);
    }
}

static int64_t wallet_fen(fx *f)
{
    wk_account a;
    wk_diag d;
    assert_int_equal(wk_ledger_account_find(f->lg, "wallet:Lakeside/B1/S01#1", &a, &d), WK_OK);
    return a.balance_fen;
}

static int64_t revenue_fen(fx *f)
{
    wk_account a;
    wk_diag d;
    assert_int_equal(wk_ledger_account_find(f->lg, "revenue:Lakeside", &a, &d), WK_OK);
    return a.balance_fen;
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    wk_diag d = {{0}};
    const wk_schema *schemas[] = {&wk_ledger_schema, &wk_headend_schema};
    assert_int_equal(wk_store_open(":memory:", NULL, schemas, 2, &f->st, &d), WK_OK);
    wk_ledger_opts lo = {0};
    assert_int_equal(wk_ledger_open(f->st, &lo, NULL, &f->lg, &d), WK_OK);
    char tdir[1024];
    snprintf(tdir, sizeof tdir, "%s/examples/tariffs", getenv("WK_SOURCE_DIR"));
    wk_headend_opts o = {.tariff_dir = tdir, .report_interval_s = 60, .gap_intervals = 3,
                         .offline_after_s = 600, .command_deadline_s = 30,
                         .command_retries = 3, .command_retry_base_ms = 2000, .batch_max = 64,
                         .policy = {.warn_fen = {2000, 500}, .hysteresis_fen = 300,
                                    .emergency_fen = 1000, .friendly_from_min = 20 * 60,
                                    .friendly_to_min = 8 * 60, .friendly_weekends = true,
                                    .utc_offset_s = CST}};
    if (wk_headend_open(f->st, f->lg, &o, publish, f, &f->hd, &d))
        fail_msg("open: %s", d.msg);
    wk_headend_on_event(f->hd, on_event, f);
    for (int i = 0; i < 32; i++)
        f->master[i] = (uint8_t)(i * 7 + 1);
    const char *seed =
        "{\"communities\": [{\"name\": \"Lakeside\", \"tariff\": \"zhejiang-residential-flat\","
        " \"buildings\": [{\"name\": \"B1\", \"units\": [{\"name\": \"S01\", \"kind\": \"shop\","
        " \"meter\": {\"address\": \"" ADDR "\", \"close_mode\": \"direct\"},"
        " \"account\": {\"holder\": \"Tea shop\", \"kind\": \"tenant\", \"balance\": \"30.00\"}}]}]}]}";
    f->now_ms = at(2026, 11, 25, 9, 0); /* a Wednesday */
    if (wk_headend_seed(f->hd, seed, strlen(seed), f->master, sizeof f->master, f->now_ms, &d))
        fail_msg("seed: %s", d.msg);
    /* seeding twice changes nothing */
    assert_int_equal(wk_headend_seed(f->hd, seed, strlen(seed), f->master, sizeof f->master,
                                     f->now_ms, &d),
                     WK_OK);
    assert_int_equal(wallet_fen(f), 3000);
    /* the meter: same master-derived key, 60 s reports */
    uint8_t addr[6], key[32];
    assert_int_equal(wk_dlt645_addr_parse(ADDR, addr), WK_OK);
    wk_dlt645_key_derive(f->master, sizeof f->master, addr, key);
    wk_meter_config cfg;
    wk_meter_config_default(&cfg, addr, key, sizeof key);
    cfg.report_interval_s = 60;
    f->in = (wk_meter_inputs){.power_w = 0, .voltage_dv = 2200, .mains = true};
    assert_int_equal(wk_meter_init(&f->meter, &cfg, f->now_ms, &f->in), WK_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    wk_headend_close(f->hd);
    wk_ledger_close(f->lg);
    wk_store_close(f->st);
    free(f);
    return 0;
}

/* Sums what the rating engine charges for the stored readings of the meter, with the
 * register deltas multiplied by a current-transformer ratio. */
static int64_t rated_total_ct(fx *f, int64_t ct, const char *tariff);

static int64_t rated_total(fx *f)
{
    return rated_total_ct(f, 1, "zhejiang-residential-flat");
}

/* (by the total register only: for a TOU tariff, the tariff's own time map) */
static int64_t rated_total_ct(fx *f, int64_t ct, const char *tariff)
{
    wk_tariff *t = tu_load_tariff(tariff);
    wk_stmt *s;
    wk_diag d;
    assert_int_equal(wk_store_prepare(f->st,
                                      "SELECT time_s, total_wh FROM reading ORDER BY time_s, total_wh",
                                      &s, &d),
                     WK_OK);
    bool row, first = true;
    wk_reading prev = {0}, cur = {0};
    wk_rate_state rs = {0};
    rs.version = -1;
    int64_t sum = 0;
    while (wk_stmt_step(s, &row, &d) == WK_OK && row) {
        cur.time_s = wk_stmt_i64(s, 0);
        cur.total_wh = wk_stmt_i64(s, 1);
        if (!first) {
            wk_interval iv;
            bool empty;
            wk_rate_result res;
            assert_int_equal(wk_reading_interval(&prev, &cur, WK_REGISTER_MODULUS_WH, &iv, &empty, &d),
                             WK_OK);
            iv.energy_wh *= ct;
            assert_int_equal(wk_rate_interval(t, NULL, &rs, &iv, &res, &d), WK_OK);
            sum += res.deduction_fen;
        }
        first = false;
        prev = cur;
    }
    wk_stmt_reset(s);
    wk_free(t);
    return sum;
}

static wk_err failing_hook(void *ctx, wk_store *st, wk_diag *d)
{
    (void)ctx;
    (void)st;
    return wk_diag_set(d, WK_EEXIST, "payment already recorded");
}

static void test_drain_trip_credit_close(void **state)
{
    fx *f = *state;
    wk_diag d = {{0}};
    f->in.power_w = 20000; /* 20 kW: 10.76 yuan an hour at 0.538 */
    run(f, at(2026, 11, 25, 13, 0), 10000);
    /* deducted exactly what the rating engine says for the same readings */
    int64_t rated = rated_total(f);
    assert_true(rated > 3000);
    assert_int_equal(3000 - wallet_fen(f), rated);
    assert_int_equal(revenue_fen(f), rated);
    assert_int_equal(f->warn1, 1);
    assert_int_equal(f->warn2, 1);
    /* tripped at zero, confirmed by the meter */
    assert_true(wk_meter_relay_open(&f->meter));
    assert_int_equal(f->confirmed, 1);
    /* with the relay open, no more energy: the wallet stays */
    int64_t w = wallet_fen(f);
    run(f, f->now_ms + 600000, 10000);
    assert_int_equal(wallet_fen(f), w);

    /* a credit whose transaction fails (here: the payment hook refuses) books nothing and
     * sends nothing: the close command is published only after a commit */
    uint8_t bad_id[16] = {9, 9, 9};
    bool ex2;
    f->down.n = 0;
    assert_int_equal(wk_headend_credit_with(f->hd, 1, 5000, bad_id, 0, "payment", f->now_ms,
                                            failing_hook, NULL, &ex2, &d),
                     WK_EEXIST);
    assert_int_equal(f->down.n, 0);
    assert_int_equal(wallet_fen(f), w);
    assert_true(wk_meter_relay_open(&f->meter));

    /* a credit closes the relay at once (no timer): the command goes out in the same call */
    uint8_t id[16] = {1, 2, 3};
    bool existed;
    f->down.n = 0;
    assert_int_equal(wk_headend_credit(f->hd, 1, 5000, id, 0, "counter top-up", f->now_ms,
                                       &existed, &d),
                     WK_OK);
    assert_false(existed);
    assert_int_equal(f->down.n, 1);
    exchange(f);
    assert_false(wk_meter_relay_open(&f->meter));
    assert_int_equal(f->confirmed, 2);
    /* the same credit again books nothing and sends nothing */
    assert_int_equal(wk_headend_credit(f->hd, 1, 5000, id, 0, "counter top-up", f->now_ms,
                                       &existed, &d),
                     WK_OK);
    assert_true(existed);
    assert_int_equal(f->down.n, 0);
    assert_int_equal(wallet_fen(f), w + 5000);
    wk_headend_stats st;
    wk_headend_stats_get(f->hd, &st);
    assert_int_equal(st.commands_refused, 0);
}

static void test_duplicates_and_reordering_charge_nothing(void **state)
{
    fx *f = *state;
    wk_diag d = {{0}};
    f->in.power_w = 3000;
    run(f, f->now_ms + 3600000, 10000);
    /* capture three reports, then replay them duplicated and out of order */
    wk_dlt645_frame r[3];
    for (int i = 0; i < 3; i++) {
        f->now_ms += 60000;
        wk_meter_step(&f->meter, f->now_ms, &f->in);
        assert_true(wk_meter_poll(&f->meter, &r[i]));
        wk_dlt645_frame extra;
        while (wk_meter_poll(&f->meter, &extra))
            ;
    }
    up(f, &r[0]);
    up(f, &r[2]);
    up(f, &r[1]); /* older than the last: stale */
    up(f, &r[2]); /* duplicate */
    up(f, &r[0]); /* very old */
    assert_int_equal(wk_headend_flush(f->hd, f->now_ms, &d), WK_OK);
    int64_t after = wallet_fen(f);
    assert_int_equal(3000 - after, rated_total(f));
    wk_headend_stats st;
    wk_headend_stats_get(f->hd, &st);
    assert_true(st.stale >= 2);
    assert_true(st.duplicates >= 1);
    /* the whole batch redelivered again: still nothing */
    for (int i = 0; i < 3; i++)
        up(f, &r[i]);
    assert_int_equal(wk_headend_flush(f->hd, f->now_ms, &d), WK_OK);
    assert_int_equal(wallet_fen(f), after);
}

static void test_friendly_hours_defer_trip(void **state)
{
    fx *f = *state;
    /* start draining at 18:00 on a Wednesday so the money runs out after 20:00 */
    f->now_ms = at(2026, 11, 25, 18, 0);
    wk_meter_step(&f->meter, f->now_ms, &f->in);
    f->in.power_w = 25000; /* 13.45 yuan an hour: 30 yuan last until about 20:14 */
    run(f, at(2026, 11, 25, 23, 0), 20000);
    assert_true(wallet_fen(f) <= 0);
    assert_false(wk_meter_relay_open(&f->meter)); /* friendly hours: no trip */
    /* next morning at 08:00 the deferred trip goes out */
    f->in.power_w = 500;
    run(f, at(2026, 11, 26, 8, 1), 60000);
    assert_true(wk_meter_relay_open(&f->meter));
}

static void test_forged_command_refused(void **state)
{
    fx *f = *state;
    /* a command signed with the wrong key, injected on the meter's down topic */
    uint8_t addr[6], wrong[32] = {9};
    assert_int_equal(wk_dlt645_addr_parse(ADDR, addr), WK_OK);
    wk_dlt645_time dl;
    wk_dlt645_time_from_unix(f->now_ms / 1000 + 30, CST, &dl);
    wk_dlt645_frame cmd, reply;
    uint8_t op[4] = {0};
    wk_dlt645_build_relay_mac(addr, wrong, sizeof wrong, op, WK_DLT645_N1_TRIP, &dl, 999, &cmd);
    uint8_t wire[WK_DLT645_WIRE_MAX];
    size_t len;
    assert_int_equal(wk_dlt645_encode(&cmd, 0, wire, sizeof wire, &len), WK_OK);
    bool has;
    wk_dlt645_reason why;
    assert_int_equal(wk_meter_receive(&f->meter, f->now_ms, wire, len, &reply, &has, &why), WK_OK);
    assert_true(has);
    assert_true(reply.control & WK_DLT645_C_ERROR);
    assert_false(wk_meter_relay_open(&f->meter));
    assert_int_equal(f->meter.stats.commands_rejected, 1);
    /* the refusal reaches the head-end, which never sent that command: recorded as an
     * alarm, nothing else changes */
    up(f, &reply);
    wk_diag d;
    assert_int_equal(wk_headend_flush(f->hd, f->now_ms, &d), WK_OK);
    assert_int_equal(f->foreign, 1);
    wk_headend_stats st;
    wk_headend_stats_get(f->hd, &st);
    assert_int_equal(st.foreign_replies, 1);
    /* genuine commands from the head-end are still obeyed (replays are covered in meter_test) */
    f->in.power_w = 20000;
    run(f, at(2026, 11, 25, 13, 0), 10000); /* drains and trips: a genuine command */
    assert_true(wk_meter_relay_open(&f->meter));
    assert_int_equal(f->meter.stats.commands_rejected, 1);
}

/* A meter that falls silent is polled after gap_intervals reports, marked offline after
 * offline_after; a command for it waits and is re-issued, fresh, when it reports again. */
static void test_silent_meter_polled_and_commands_wait(void **state)
{
    fx *f = *state;
    wk_diag d = {{0}};
    f->in.power_w = 2000;
    run(f, f->now_ms + 600000, 10000); /* ten minutes of normal reports */
    wk_headend_stats st0, st1;
    wk_headend_stats_get(f->hd, &st0);
    /* silence: the meter's frames are lost (time passes, nothing is exchanged) */
    for (int i = 0; i < 20; i++) {
        f->now_ms += 10000;
        f->down.n = 0;
        assert_int_equal(wk_headend_tick(f->hd, f->now_ms, &d), WK_OK);
        for (int k = 0; k < f->down.n; k++) { /* the head-end polls with a read of 0001FF00 */
            wk_dlt645_frame fr;
            wk_dlt645_reason why;
            assert_int_equal(wk_dlt645_decode(f->down.frames[k], f->down.lens[k], &fr, &why), WK_OK);
            assert_int_equal(fr.control, WK_DLT645_C_READ);
            assert_int_equal(wk_dlt645_di_get(fr.data), WK_DI_FWD_BLOCK);
        }
    }
    wk_headend_stats_get(f->hd, &st1);
    assert_true(st1.polls > st0.polls);
    /* past offline_after (600 s) the meter is offline */
    f->now_ms += 700000;
    assert_int_equal(wk_headend_tick(f->hd, f->now_ms, &d), WK_OK);
    /* staff mark the unit vacant: the trip waits for the meter instead of being sent */
    f->down.n = 0;
    assert_int_equal(wk_headend_set_vacant(f->hd, 1, true, "tenant moved out", f->now_ms, &d), WK_OK);
    assert_int_equal(f->down.n, 0);
    assert_false(wk_meter_relay_open(&f->meter));
    /* the meter comes back: the command goes out with a fresh counter and is confirmed */
    int confirmed = f->confirmed;
    f->down.n = 0;
    run(f, f->now_ms + 120000, 10000);
    assert_true(wk_meter_relay_open(&f->meter));
    assert_int_equal(f->confirmed, confirmed + 1);
    /* vacant: readings are stored but nothing is deducted */
    int64_t w = wallet_fen(f);
    run(f, f->now_ms + 600000, 10000);
    assert_int_equal(wallet_fen(f), w);
}

/* A meter behind a current transformer registers 1/ratio of the energy: the head-end
 * charges the register delta times the meter's CT ratio. */
static void test_ct_ratio(void **state)
{
    fx *f = *state;
    wk_diag d = {{0}};
    assert_int_equal(wk_store_exec(f->st, "UPDATE meter SET ct_ratio = 10", &d), WK_OK);
    f->in.power_w = 200; /* the meter sees 200 W: the shop draws 2 kW */
    run(f, f->now_ms + 3 * 3600000, 10000);
    int64_t rated = rated_total_ct(f, 10, "zhejiang-residential-flat");
    assert_true(rated > 300);
    assert_int_equal(3000 - wallet_fen(f), rated);
    assert_true(rated > 9 * rated_total(f)); /* not the raw registers */
}

/* A community's policy overrides the default: here no friendly hours, so the evening
 * trip goes out at once; a malformed override is refused when seeded. */
/* A meter whose TOU table disagrees with the tariff (the meter's default day has "flat"
 * 11:00-18:00; Zhejiang's residential tariff has peak and valley only): billing goes on by
 * the tariff's own time map, exactly as for a meter without registers, and the anomaly is
 * one event, not one per reading. */
static void test_tou_mismatch_rated_by_clock(void **state)
{
    fx *f = *state;
    wk_diag d = {{0}};
    assert_int_equal(wk_store_exec(f->st, "UPDATE community SET tariff = 'zhejiang-residential'", &d),
                     WK_OK);
    f->in.power_w = 2000;
    run(f, f->now_ms + 4 * 3600000LL, 10000); /* 09:00-13:00: peak and (meter) flat */
    int64_t spent = 3000 - wallet_fen(f);
    assert_true(spent > 0);
    assert_int_equal(spent, rated_total_ct(f, 1, "zhejiang-residential"));
    assert_int_equal(f->tou_mismatch, 1);
    wk_stmt *s;
    bool row;
    assert_int_equal(wk_store_prepare(f->st, "SELECT count(*) FROM event WHERE kind = 'tou_mismatch'", &s, &d),
                     WK_OK);
    assert_int_equal(wk_stmt_step(s, &row, &d), WK_OK);
    assert_int_equal(wk_stmt_i64(s, 0), 1);
    wk_stmt_reset(s);
}

/* Move-in: the interval that straddles the opening of a new account (the previous holder's
 * last usage) is stored but charged to nobody; the new holder pays from the first reading
 * after the opening, which the head-end asks the meter for at once. */
static void test_move_in_charges_from_the_opening(void **state)
{
    fx *f = *state;
    wk_diag d = {{0}};
    f->in.power_w = 3000;
    run(f, f->now_ms + 3600000, 10000); /* the first holder's hour */
    int64_t unit = 0, old_acct = 0;
    wk_stmt *s;
    bool row;
    assert_int_equal(wk_store_prepare(f->st, "SELECT unit_id, id FROM account WHERE status = 'open'", &s, &d), WK_OK);
    assert_int_equal(wk_stmt_step(s, &row, &d), WK_OK);
    unit = wk_stmt_i64(s, 0);
    old_acct = wk_stmt_i64(s, 1);
    wk_stmt_reset(s);
    /* 30 s after the last report: move-out and move-in (the meter keeps drawing) */
    f->now_ms += 30000;
    wk_meter_step(&f->meter, f->now_ms, &f->in);
    int64_t wallet = 0, acct = 0;
    assert_int_equal(wk_store_begin(f->st, &d), WK_OK);
    int64_t v[1] = {old_acct};
    assert_int_equal(wk_store_run_i64(f->st, "UPDATE account SET status = 'closed' WHERE id = ?", v, 1, &d), WK_OK);
    wk_headend_account_new na = {.unit_id = unit, .holder = "Noodle bar", .kind = "tenant",
                                 .opened_s = f->now_ms / 1000, .created_s = f->now_ms / 1000};
    assert_int_equal(wk_headend_account_open(f->hd, &na, &acct, &wallet, &d), WK_OK);
    assert_int_equal(wk_store_commit(f->st, &d), WK_OK);
    /* (the read request queued at the opening goes out with the head-end's next commit) */
    bool existed;
    assert_int_equal(wk_headend_credit(f->hd, acct, 5000, (const uint8_t *)"move-in-credit-1", 0, "first top-up",
                                       f->now_ms, &existed, &d),
                     WK_OK);
    run(f, f->now_ms + 1800000, 10000); /* the new holder's half hour */
    /* the first reading after the opening is nobody's; the new holder's readings are the
     * rest, and its wallet paid exactly their rating */
    assert_int_equal(wk_store_prepare(f->st,
                                      "SELECT account_id, deduction_fen FROM reading WHERE time_s >= ?"
                                      " ORDER BY time_s LIMIT 1", &s, &d),
                     WK_OK);
    assert_int_equal(wk_stmt_bind_i64(s, 1, na.created_s), WK_OK);
    assert_int_equal(wk_stmt_step(s, &row, &d), WK_OK);
    assert_true(row);
    assert_true(wk_stmt_is_null(s, 0));
    assert_int_equal(wk_stmt_i64(s, 1), 0);
    wk_stmt_reset(s);
    assert_int_equal(wk_store_prepare(f->st,
                                      "SELECT coalesce(sum(deduction_fen), 0), count(*) FROM reading WHERE account_id = ?",
                                      &s, &d),
                     WK_OK);
    assert_int_equal(wk_stmt_bind_i64(s, 1, acct), WK_OK);
    assert_int_equal(wk_stmt_step(s, &row, &d), WK_OK);
    int64_t charged = wk_stmt_i64(s, 0), n = wk_stmt_i64(s, 1);
    wk_stmt_reset(s);
    assert_true(n > 10 && charged > 0);
    wk_account w;
    assert_int_equal(wk_ledger_account_get(f->lg, wallet, &w, &d), WK_OK);
    assert_int_equal(w.balance_fen, 5000 - charged);
}

static void test_community_policy(void **state)
{
    fx *f = *state;
    wk_diag d = {{0}};
    const char *seed =
        "{\"communities\": [{\"name\": \"Lakeside\", \"tariff\": \"zhejiang-residential-flat\","
        " \"policy\": {\"friendly_from\": \"00:00\", \"friendly_to\": \"00:00\","
        " \"friendly_weekends\": false, \"warn1\": \"25.00\"}, \"buildings\": []}]}";
    assert_int_equal(wk_headend_seed(f->hd, seed, strlen(seed), NULL, 0, f->now_ms, &d), WK_OK);
    const char *bad =
        "{\"communities\": [{\"name\": \"Lakeside\", \"tariff\": \"zhejiang-residential-flat\","
        " \"policy\": {\"warn1\": 25}, \"buildings\": []}]}";
    assert_int_equal(wk_headend_seed(f->hd, bad, strlen(bad), NULL, 0, f->now_ms, &d), WK_EINVAL);
    assert_non_null(strstr(d.msg, "communities[0].policy.warn1"));
    f->now_ms = at(2026, 11, 25, 18, 0);
    wk_meter_step(&f->meter, f->now_ms, &f->in);
    f->in.power_w = 25000; /* the money runs out about 20:14 */
    run(f, at(2026, 11, 25, 21, 0), 20000);
    assert_true(wk_meter_relay_open(&f->meter)); /* no friendly hours in this community */
    assert_int_equal(f->warn1, 1);
}

/* The event rows are the notification outbox: if one cannot be written, the state change
 * that caused it does not commit either (nothing booked, nothing sent). */
static void test_event_write_failure_rolls_back(void **state)
{
    fx *f = *state;
    wk_diag d = {{0}};
    assert_int_equal(wk_store_exec(f->st,
                                   "CREATE TRIGGER no_events BEFORE INSERT ON event"
                                   " BEGIN SELECT RAISE(ABORT, 'disk full'); END;",
                                   &d),
                     WK_OK);
    uint8_t id[16] = {4, 2};
    bool existed;
    f->down.n = 0;
    assert_int_not_equal(wk_headend_credit(f->hd, 1, 5000, id, 0, "top-up", f->now_ms, &existed, &d),
                         WK_OK);
    assert_int_equal(wallet_fen(f), 3000);
    assert_int_equal(f->down.n, 0);
    assert_int_equal(wk_store_exec(f->st, "DROP TRIGGER no_events", &d), WK_OK);
    assert_int_equal(wk_headend_credit(f->hd, 1, 5000, id, 0, "top-up", f->now_ms, &existed, &d),
                     WK_OK);
    assert_false(existed);
    assert_int_equal(wallet_fen(f), 8000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_drain_trip_credit_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicates_and_reordering_charge_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_friendly_hours_defer_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forged_command_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_silent_meter_polled_and_commands_wait, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_ct_ratio, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tou_mismatch_rated_by_clock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_move_in_charges_from_the_opening, setup, teardown),
        cmocka_unit_test_setup_teardown(test_community_policy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_write_failure_rolls_back, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
