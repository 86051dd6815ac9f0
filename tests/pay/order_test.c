/*
 * order_test.c - orders and the exactly-once credit against a real store, ledger and
 * head-end (in memory): a payment credits the wallet once from clearing:<channel>; a
 * duplicate changes nothing; amount, channel and unknown-order rejections change nothing;
 * order states only move forward (enforced by the database); a payment that arrives for an
 * expired order is still credited; the ledger verifies after all of it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "headend/headend.h"
#include "pay/pay.h"

typedef struct fx {
    wk_store *st;
    wk_ledger *lg;
    wk_headend *hd;
    int64_t now_ms;
} fx;

static wk_err publish(void *ctx, const char *address, const uint8_t *frame, size_t len)
{
    (void)ctx, (void)address, (void)frame, (void)len;
    return WK_OK;
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    wk_diag d = {{0}};
    const wk_schema *schemas[] = {&wk_ledger_schema, &wk_headend_schema, &wk_pay_schema};
    assert_int_equal(wk_store_open(":memory:", NULL, schemas, 3, &f->st, &d), WK_OK);
    wk_ledger_opts lo = {0};
    assert_int_equal(wk_ledger_open(f->st, &lo, NULL, &f->lg, &d), WK_OK);
    char tdir[1024];
    snprintf(tdir, sizeof tdir, "%s/examples/tariffs", getenv("WK_SOURCE_DIR"));
    wk_headend_opts o = {.tariff_dir = tdir, .report_interval_s = 60, .gap_intervals = 3,
                         .offline_after_s = 600, .command_deadline_s = 30, .command_retries = 3,
                         .command_retry_base_ms = 2000, .batch_max = 64,
                         .policy = {.warn_fen = {2000, 500}, .hysteresis_fen = 300}};
    if (wk_headend_open(f->st, f->lg, &o, publish, f, &f->hd, &d))
        fail_msg("open: %s", d.msg);
    const char *seed =
        "{\"communities\": [{\"name\": \"Lakeside\", \"tariff\": \"zhejiang-residential-flat\","
        " \"buildings\": [{\"name\": \"B1\", \"units\": [{\"name\": \"S01\", \"kind\": \"shop\","
        " \"meter\": {\"address\": \"330100000042\", \"close_mode\": \"direct\"},"
        " \"account\": {\"holder\": \"Tea shop\", \"kind\": \"tenant\", \"balance\": \"30.00\"}}]}]}]}";
    f->now_ms = INT64_C(1764032400000);
    uint8_t master[32] = {1};
    if (wk_headend_seed(f->hd, seed, strlen(seed), master, sizeof master, f->now_ms, &d))
        fail_msg("seed: %s", d.msg);
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

static int64_t balance(fx *f, const char *name)
{
    wk_account a;
    wk_diag d;
    if (wk_ledger_account_find(f->lg, name, &a, &d))
        return INT64_MIN;
    return a.balance_fen;
}

static int64_t count(fx *f, const char *sql)
{
    wk_stmt *s;
    wk_diag d;
    bool row;
    assert_int_equal(wk_store_prepare(f->st, sql, &s, &d), WK_OK);
    assert_int_equal(wk_stmt_step(s, &row, &d), WK_OK);
    int64_t v = wk_stmt_i64(s, 0);
    wk_stmt_reset(s);
    return v;
}

static const wk_pay_limits LIM = {.min_fen = 100, .max_fen = 500000, .ttl_ms = 3600000};
#define WALLET "wallet:Lakeside/B1/S01#1"

static void test_credit_once(void **state)
{
    fx *f = *state;
    wk_diag d = {{0}};
    wk_pay_order o;
    assert_int_equal(wk_pay_order_create(f->st, 1, WK_PAY_WECHAT, 5000, &LIM, f->now_ms, &o, &d), WK_OK);
    assert_int_equal(strlen(o.out_trade_no), 32);
    assert_int_equal(o.state, WK_PAY_CREATED);
    /* limits, unknown account: nothing created */
    assert_int_equal(wk_pay_order_create(f->st, 1, WK_PAY_WECHAT, 99, &LIM, f->now_ms, &o, &d), WK_ERANGE);
    assert_non_null(strstr(d.msg, "amount_fen"));
    assert_int_equal(wk_pay_order_create(f->st, 1, WK_PAY_WECHAT, 500001, &LIM, f->now_ms, &o, &d), WK_ERANGE);
    assert_int_equal(wk_pay_order_create(f->st, 99, WK_PAY_WECHAT, 5000, &LIM, f->now_ms, &o, &d), WK_ENOTFOUND);
    assert_int_equal(count(f, "SELECT count(*) FROM pay_order"), 1);
    wk_pay_order o1;
    assert_int_equal(wk_pay_order_create(f->st, 1, WK_PAY_WECHAT, 5000, &LIM, f->now_ms, &o1, &d), WK_OK);

    wk_pay_payment p = {.channel = WK_PAY_WECHAT, .amount_fen = 5000};
    snprintf(p.txn_id, sizeof p.txn_id, "4200000000202401010000000001");
    snprintf(p.out_trade_no, sizeof p.out_trade_no, "%s", o1.out_trade_no);
    int64_t w0 = balance(f, WALLET);
    bool dup = true;
    /* rejections first: nothing changes */
    wk_pay_payment bad = p;
    bad.amount_fen = 4999;
    assert_int_equal(wk_pay_credit(f->hd, &bad, "notify", f->now_ms, &dup, &d), WK_ECONFLICT);
    assert_non_null(strstr(d.msg, "amount_fen"));
    bad = p;
    bad.channel = WK_PAY_ALIPAY;
    assert_int_equal(wk_pay_credit(f->hd, &bad, "notify", f->now_ms, &dup, &d), WK_ECONFLICT);
    assert_non_null(strstr(d.msg, "channel"));
    bad = p;
    snprintf(bad.out_trade_no, sizeof bad.out_trade_no, "WK-NO-SUCH-ORDER");
    assert_int_equal(wk_pay_credit(f->hd, &bad, "notify", f->now_ms, &dup, &d), WK_ENOTFOUND);
    assert_int_equal(balance(f, WALLET), w0);
    assert_int_equal(count(f, "SELECT count(*) FROM pay_payment"), 0);

    assert_int_equal(wk_pay_credit(f->hd, &p, "notify", f->now_ms, &dup, &d), WK_OK);
    assert_false(dup);
    assert_int_equal(balance(f, WALLET), w0 + 5000);
    assert_int_equal(balance(f, "clearing:wechat"), -5000);
    wk_pay_order g;
    assert_int_equal(wk_pay_order_get(f->st, o1.out_trade_no, &g, &d), WK_OK);
    assert_int_equal(g.state, WK_PAY_CREDITED);
    /* duplicates: the same notification, and the query path with the same transaction */
    for (int i = 0; i < 5; i++) {
        assert_int_equal(wk_pay_credit(f->hd, &p, i % 2 ? "query" : "notify", f->now_ms, &dup, &d), WK_OK);
        assert_true(dup);
    }
    assert_int_equal(balance(f, WALLET), w0 + 5000);
    assert_int_equal(count(f, "SELECT count(*) FROM pay_payment"), 1);
    /* a different amount for a recorded transaction is a conflict, not a duplicate */
    bad = p;
    bad.amount_fen = 6000;
    assert_int_equal(wk_pay_credit(f->hd, &bad, "notify", f->now_ms, &dup, &d), WK_ECONFLICT);
    /* a second transaction for an order already credited does not credit it twice */
    wk_pay_payment p2 = p;
    snprintf(p2.txn_id, sizeof p2.txn_id, "4200000000202401010000000002");
    assert_int_equal(wk_pay_credit(f->hd, &p2, "notify", f->now_ms, &dup, &d), WK_ECONFLICT);
    assert_int_equal(balance(f, WALLET), w0 + 5000);
    /* the database refuses a backwards state */
    assert_int_not_equal(wk_store_exec(f->st, "UPDATE pay_order SET state = 'created' WHERE state = 'credited'", &d),
                         WK_OK);
    assert_int_equal(wk_pay_order_get(f->st, o1.out_trade_no, &g, &d), WK_OK);
    assert_int_equal(g.state, WK_PAY_CREDITED);
    /* the transfer id is the channel's: same id from any path */
    uint8_t a[16], b[16];
    wk_pay_transfer_id(WK_PAY_WECHAT, p.txn_id, a);
    wk_pay_transfer_id(WK_PAY_ALIPAY, p.txn_id, b);
    assert_memory_not_equal(a, b, 16);
    wk_leaf_record r;
    assert_int_equal(wk_ledger_transfer_get(f->lg, a, &r, &d), WK_OK);
    wk_ledger_verify_report rep;
    assert_int_equal(wk_ledger_verify(f->st, NULL, &rep, &d), WK_OK);
}

static void test_expired_order_still_credited(void **state)
{
    fx *f = *state;
    wk_diag d = {{0}};
    wk_pay_order o;
    assert_int_equal(wk_pay_order_create(f->st, 1, WK_PAY_ALIPAY, 12345, &LIM, f->now_ms, &o, &d), WK_OK);
    int64_t n;
    assert_int_equal(wk_pay_order_expire(f->st, f->now_ms + LIM.ttl_ms - 1, &n, &d), WK_OK);
    assert_int_equal(n, 0);
    assert_int_equal(wk_pay_order_expire(f->st, f->now_ms + LIM.ttl_ms, &n, &d), WK_OK);
    assert_int_equal(n, 1);
    wk_pay_order g;
    assert_int_equal(wk_pay_order_get(f->st, o.out_trade_no, &g, &d), WK_OK);
    assert_int_equal(g.state, WK_PAY_EXPIRED);
    int64_t w0 = balance(f, WALLET);
    wk_pay_payment p = {.channel = WK_PAY_ALIPAY, .amount_fen = 12345};
    snprintf(p.txn_id, sizeof p.txn_id, "2024010122001400000000000001");
    snprintf(p.out_trade_no, sizeof p.out_trade_no, "%s", o.out_trade_no);
    bool dup;
    assert_int_equal(wk_pay_credit(f->hd, &p, "notify", f->now_ms + LIM.ttl_ms + 1, &dup, &d), WK_OK);
    assert_false(dup);
    assert_int_equal(balance(f, WALLET), w0 + 12345);
    assert_int_equal(count(f, "SELECT late FROM pay_payment"), 1);
    assert_int_equal(wk_pay_order_get(f->st, o.out_trade_no, &g, &d), WK_OK);
    assert_int_equal(g.state, WK_PAY_EXPIRED); /* never backwards */
    assert_int_equal(wk_pay_credit(f->hd, &p, "notify", f->now_ms + LIM.ttl_ms + 2, &dup, &d), WK_OK);
    assert_true(dup);
    assert_int_equal(balance(f, WALLET), w0 + 12345);
}

static void test_failed_transaction_changes_nothing(void **state)
{
    fx *f = *state;
    wk_diag d = {{0}};
    wk_pay_order o;
    assert_int_equal(wk_pay_order_create(f->st, 1, WK_PAY_WECHAT, 700, &LIM, f->now_ms, &o, &d), WK_OK);
    int64_t w0 = balance(f, WALLET);
    /* an injected failure inside the credit's transaction (as the integration test does) */
    assert_int_equal(wk_store_exec(f->st,
                                   "CREATE TRIGGER inject BEFORE INSERT ON pay_payment"
                                   " BEGIN SELECT RAISE(ABORT, 'injected'); END;",
                                   &d),
                     WK_OK);
    wk_pay_payment p = {.channel = WK_PAY_WECHAT, .amount_fen = 700};
    snprintf(p.txn_id, sizeof p.txn_id, "4200000000202401010000000077");
    snprintf(p.out_trade_no, sizeof p.out_trade_no, "%s", o.out_trade_no);
    bool dup;
    assert_int_not_equal(wk_pay_credit(f->hd, &p, "notify", f->now_ms, &dup, &d), WK_OK);
    assert_int_equal(balance(f, WALLET), w0);
    wk_pay_order g;
    assert_int_equal(wk_pay_order_get(f->st, o.out_trade_no, &g, &d), WK_OK);
    assert_int_equal(g.state, WK_PAY_CREATED);
    assert_int_equal(wk_store_exec(f->st, "DROP TRIGGER inject", &d), WK_OK);
    /* the retry credits */
    assert_int_equal(wk_pay_credit(f->hd, &p, "notify", f->now_ms, &dup, &d), WK_OK);
    assert_false(dup);
    assert_int_equal(balance(f, WALLET), w0 + 700);
}

static void test_counter_refund_settlement(void **state)
{
    fx *f = *state;
    wk_diag d = {{0}};
    int64_t w0 = balance(f, WALLET);
    uint8_t id1[16] = {1, 2, 3}, id2[16] = {4, 5, 6}, id3[16] = {7, 8, 9};
    bool existed;
    /* operator and reason are required; nothing booked */
    assert_int_equal(wk_pay_counter_payment(f->hd, 1, 2000, WK_PAY_CASH, "", "top-up", id1, f->now_ms, &existed, &d),
                     WK_EINVAL);
    assert_non_null(strstr(d.msg, "operator"));
    assert_int_equal(wk_pay_counter_payment(f->hd, 1, 2000, WK_PAY_CASH, "li", NULL, id1, f->now_ms, &existed, &d),
                     WK_EINVAL);
    assert_int_equal(balance(f, WALLET), w0);
    assert_int_equal(wk_pay_counter_payment(f->hd, 1, 2000, WK_PAY_CASH, "li", "paid at the office", id1, f->now_ms,
                                            &existed, &d),
                     WK_OK);
    assert_false(existed);
    assert_int_equal(wk_pay_counter_payment(f->hd, 1, 2000, WK_PAY_CASH, "li", "paid at the office", id1, f->now_ms,
                                            &existed, &d),
                     WK_OK);
    assert_true(existed);
    assert_int_equal(balance(f, WALLET), w0 + 2000);
    assert_int_equal(balance(f, "counter:cash"), -2000);
    assert_int_equal(count(f, "SELECT count(*) FROM pay_counter WHERE kind = 'payment' AND operator = 'li'"), 1);
    /* refunds: more than the balance is refused, nothing booked */
    assert_int_equal(wk_pay_refund(f->hd, 1, w0 + 2001, WK_PAY_CASH, "li", "too much", id2, f->now_ms, &existed, &d),
                     WK_ECONFLICT);
    assert_int_equal(balance(f, WALLET), w0 + 2000);
    assert_int_equal(count(f, "SELECT count(*) FROM pay_counter WHERE kind = 'refund'"), 0);
    assert_int_equal(wk_pay_refund(f->hd, 1, 500, WK_PAY_CASH, "li", "overpaid", id2, f->now_ms, &existed, &d), WK_OK);
    assert_int_equal(wk_pay_refund(f->hd, 1, 500, WK_PAY_CASH, "li", "overpaid", id2, f->now_ms, &existed, &d), WK_OK);
    assert_true(existed);
    assert_int_equal(balance(f, WALLET), w0 + 1500);
    assert_int_equal(balance(f, "refund:cash"), 500);
    /* move-out: the remainder is refunded and the account closed; nothing more after */
    int64_t settled;
    assert_int_equal(wk_pay_settle(f->hd, 1, WK_PAY_CASH, 0, "li", "moved out", f->now_ms, &settled, &d), WK_OK);
    assert_int_equal(settled, w0 + 1500);
    assert_int_equal(balance(f, WALLET), 0);
    assert_int_equal(balance(f, "refund:cash"), 500 + w0 + 1500);
    assert_int_equal(count(f, "SELECT count(*) FROM account WHERE id = 1 AND status = 'closed'"), 1);
    assert_int_equal(wk_pay_settle(f->hd, 1, WK_PAY_CASH, 0, "li", "again", f->now_ms, &settled, &d), WK_ECONFLICT);
    assert_int_equal(wk_pay_counter_payment(f->hd, 1, 100, WK_PAY_CASH, "li", "late", id3, f->now_ms, &existed, &d),
                     WK_ECONFLICT);
    wk_pay_order o;
    assert_int_equal(wk_pay_order_create(f->st, 1, WK_PAY_WECHAT, 5000, &LIM, f->now_ms, &o, &d), WK_ECONFLICT);
    wk_ledger_verify_report rep;
    assert_int_equal(wk_ledger_verify(f->st, NULL, &rep, &d), WK_OK);
}

static wk_err hook_count(void *ctx, wk_store *st, wk_diag *d)
{
    (void)st, (void)d;
    (*(int *)ctx)++;
    return WK_OK;
}

static wk_err hook_fail(void *ctx, wk_store *st, wk_diag *d)
{
    (void)ctx, (void)st;
    return wk_diag_set(d, WK_EIO, "audit: injected failure");
}

/* Counter payments with a hook (the staff audit row) and refunds of one counter payment:
 * the hook runs once per booking inside its transaction (its failure books nothing), a
 * refund never exceeds what is left of its payment, repeats book once. */
static void test_counter_hooks_and_refund_of(void **state)
{
    fx *f = *state;
    wk_diag d = {{0}};
    int64_t w0 = balance(f, WALLET), row = 0, r1 = 0, r2 = 0;
    uint8_t p1[16] = {0x11}, k1[16] = {0x21}, k2[16] = {0x22}, k3[16] = {0x23};
    bool existed;
    int calls = 0;
    assert_int_equal(wk_pay_counter_payment_with(f->hd, 1, 3000, WK_PAY_CARD, "li", "card", p1, f->now_ms, hook_fail,
                                                 NULL, &row, &existed, &d),
                     WK_EIO);
    assert_int_equal(balance(f, WALLET), w0);
    assert_int_equal(count(f, "SELECT count(*) FROM pay_counter"), 0);
    assert_int_equal(wk_pay_counter_payment_with(f->hd, 1, 3000, WK_PAY_CARD, "li", "card", p1, f->now_ms, hook_count,
                                                 &calls, &row, &existed, &d),
                     WK_OK);
    assert_false(existed);
    assert_int_equal(calls, 1);
    assert_true(row > 0);
    assert_int_equal(balance(f, "counter:card"), -3000);
    int64_t again = 0;
    assert_int_equal(wk_pay_counter_payment_with(f->hd, 1, 3000, WK_PAY_CARD, "li", "card", p1, f->now_ms, hook_count,
                                                 &calls, &again, &existed, &d),
                     WK_OK);
    assert_true(existed);
    assert_int_equal(calls, 1); /* not run for a repeat */
    assert_int_equal(again, row);
    /* the same id for another amount is a conflict, nothing booked */
    assert_int_equal(wk_pay_counter_payment_with(f->hd, 1, 3001, WK_PAY_CARD, "li", "card", p1, f->now_ms, NULL, NULL,
                                                 NULL, &existed, &d),
                     WK_ECONFLICT);
    assert_int_equal(balance(f, WALLET), w0 + 3000);
    /* refunds of that payment: at most 3000 in all, with the payment's method */
    assert_int_equal(wk_pay_counter_refund_of(f->hd, row, 3001, "li", "x", k1, f->now_ms, NULL, NULL, &r1, &existed, &d),
                     WK_ERANGE);
    assert_non_null(strstr(d.msg, "amount_fen"));
    assert_int_equal(wk_pay_counter_refund_of(f->hd, row, 1000, "li", "x", k1, f->now_ms, hook_fail, NULL, &r1,
                                              &existed, &d),
                     WK_EIO);
    assert_int_equal(count(f, "SELECT count(*) FROM pay_counter WHERE kind = 'refund'"), 0);
    assert_int_equal(wk_pay_counter_refund_of(f->hd, row, 1000, "li", "x", k1, f->now_ms, hook_count, &calls, &r1,
                                              &existed, &d),
                     WK_OK);
    assert_int_equal(calls, 2);
    assert_int_equal(wk_pay_counter_refund_of(f->hd, row, 1000, "li", "x", k1, f->now_ms, hook_count, &calls, &r2,
                                              &existed, &d),
                     WK_OK);
    assert_true(existed);
    assert_int_equal(r2, r1);
    assert_int_equal(calls, 2);
    assert_int_equal(balance(f, "refund:card"), 1000);
    assert_int_equal(count(f, "SELECT count(*) FROM pay_counter WHERE kind = 'refund' AND payment_id IS NOT NULL"), 1);
    assert_int_equal(wk_pay_counter_refund_of(f->hd, row, 2001, "li", "x", k2, f->now_ms, NULL, NULL, NULL, &existed, &d),
                     WK_ERANGE);
    assert_int_equal(wk_pay_counter_refund_of(f->hd, row, 2000, "li", "x", k2, f->now_ms, NULL, NULL, NULL, &existed, &d),
                     WK_OK);
    assert_int_equal(wk_pay_counter_refund_of(f->hd, row, 1, "li", "x", k3, f->now_ms, NULL, NULL, NULL, &existed, &d),
                     WK_ERANGE);
    assert_int_equal(wk_pay_counter_refund_of(f->hd, 999, 1, "li", "x", k3, f->now_ms, NULL, NULL, NULL, &existed, &d),
                     WK_ENOTFOUND);
    /* a refund is no payment to refund */
    assert_int_equal(wk_pay_counter_refund_of(f->hd, r1, 1, "li", "x", k3, f->now_ms, NULL, NULL, NULL, &existed, &d),
                     WK_ENOTFOUND);
    assert_int_equal(balance(f, WALLET), w0);
    wk_ledger_verify_report rep;
    assert_int_equal(wk_ledger_verify(f->st, NULL, &rep, &d), WK_OK);
}

/* A stored reconciliation run: counts, one line per discrepancy with its account found
 * through the order, a hook failure stores nothing. */
static void test_recon_store(void **state)
{
    fx *f = *state;
    wk_diag d = {{0}};
    wk_pay_order o;
    assert_int_equal(wk_pay_order_create(f->st, 1, WK_PAY_WECHAT, 700, &LIM, f->now_ms, &o, &d), WK_OK);
    wk_pay_bill_row rows[1] = {{.amount_fen = 700, .day = 20400}};
    wk_pay_bill b = {.channel = WK_PAY_WECHAT, .n = 1, .rows = rows, .day_min = 20400, .day_max = 20401};
    wk_pay_recon_report rep = {.bill_payments = 3, .matched = 1, .credited_from_bill = 1, .unattributable = 1};
    snprintf(rep.lines, sizeof rep.lines,
             "paid_not_credited txn=4200001 order=%s amount_fen=700: credited now\n"
             "unattributable txn=4200002 order=WKNOSUCH amount_fen=900: no order\n",
             o.out_trade_no);
    int64_t id = 0;
    assert_int_equal(wk_pay_recon_store(f->st, &b, &rep, 7, 0, f->now_ms, hook_fail, NULL, &id, &d), WK_EIO);
    assert_int_equal(count(f, "SELECT count(*) FROM pay_recon"), 0);
    int calls = 0;
    assert_int_equal(wk_pay_recon_store(f->st, &b, &rep, 7, 0, f->now_ms, hook_count, &calls, &id, &d), WK_OK);
    assert_int_equal(calls, 1);
    assert_true(id > 0);
    assert_int_equal(count(f, "SELECT count(*) FROM pay_recon WHERE company_id = 7 AND user_id IS NULL"
                              " AND day_min = 20400 AND day_max = 20401 AND bill_payments = 3 AND matched = 1"),
                     1);
    assert_int_equal(count(f, "SELECT count(*) FROM pay_recon_line WHERE kind = 'paid_not_credited'"
                              " AND account_id = 1 AND amount_fen = 700 AND txn_id = '4200001'"),
                     1);
    assert_int_equal(count(f, "SELECT count(*) FROM pay_recon_line WHERE kind = 'unattributable'"
                              " AND account_id IS NULL AND amount_fen = 900 AND out_trade_no = 'WKNOSUCH'"),
                     1);
    /* a bill without rows stores no days */
    wk_pay_bill empty = {.channel = WK_PAY_ALIPAY};
    wk_pay_recon_report none = {0};
    assert_int_equal(wk_pay_recon_store(f->st, &empty, &none, 0, 0, f->now_ms, NULL, NULL, &id, &d), WK_OK);
    assert_int_equal(count(f, "SELECT count(*) FROM pay_recon WHERE channel = 'alipay' AND day_min IS NULL"
                              " AND company_id IS NULL"),
                     1);
}

/* Channel refunds, store side: checks change nothing, a booking happens once, the channel's
 * refund id and our refund number are each booked at most once. */
static void test_channel_refund_booked_once(void **state)
{
    fx *f = *state;
    wk_diag d = {{0}};
    wk_pay_order o, oc;
    assert_int_equal(wk_pay_order_create(f->st, 1, WK_PAY_WECHAT, 5000, &LIM, f->now_ms, &o, &d), WK_OK);
    assert_int_equal(wk_pay_order_create(f->st, 1, WK_PAY_WECHAT, 2000, &LIM, f->now_ms, &oc, &d), WK_OK);
    wk_pay_channel_refund booked;
    bool existed = true;
    /* not credited yet */
    assert_int_equal(wk_pay_refund_check(f->hd, o.out_trade_no, "R1", 100, f->now_ms, &o, &booked, &existed, &d),
                     WK_ECONFLICT);
    assert_non_null(strstr(d.msg, "out_trade_no"));
    wk_pay_payment p = {.channel = WK_PAY_WECHAT, .amount_fen = 5000};
    snprintf(p.txn_id, sizeof p.txn_id, "4200000000202401010000000077");
    snprintf(p.out_trade_no, sizeof p.out_trade_no, "%s", o.out_trade_no);
    bool dup;
    assert_int_equal(wk_pay_credit(f->hd, &p, "notify", f->now_ms, &dup, &d), WK_OK);
    int64_t w0 = balance(f, WALLET), c0 = balance(f, "clearing:wechat");
    wk_pay_order got;
    assert_int_equal(wk_pay_refund_check(f->hd, o.out_trade_no, "R1", 5001, f->now_ms, &got, &booked, &existed, &d),
                     WK_ERANGE);
    assert_non_null(strstr(d.msg, "amount_fen"));
    assert_int_equal(wk_pay_refund_check(f->hd, o.out_trade_no, "R 1", 100, f->now_ms, &got, &booked, &existed, &d),
                     WK_EINVAL);
    assert_non_null(strstr(d.msg, "out_refund_no"));
    assert_int_equal(wk_pay_refund_check(f->hd, "WK-NO-SUCH", "R1", 100, f->now_ms, &got, &booked, &existed, &d),
                     WK_ENOTFOUND);
    assert_int_equal(wk_pay_refund_check(f->hd, o.out_trade_no, "R1", 1500, f->now_ms, &got, &booked, &existed, &d),
                     WK_OK);
    assert_false(existed);
    assert_int_equal(got.amount_fen, 5000);

    wk_pay_channel_refund r = {.channel = WK_PAY_WECHAT, .amount_fen = 1500};
    snprintf(r.refund_id, sizeof r.refund_id, "50300000000000000001");
    snprintf(r.out_refund_no, sizeof r.out_refund_no, "R1");
    snprintf(r.out_trade_no, sizeof r.out_trade_no, "%s", o.out_trade_no);
    snprintf(r.status, sizeof r.status, "SUCCESS");
    /* rejections change nothing */
    assert_int_equal(wk_pay_refund_book(f->hd, &r, "", "x", f->now_ms, &existed, &d), WK_EINVAL);
    assert_non_null(strstr(d.msg, "operator"));
    wk_pay_channel_refund bad = r;
    bad.channel = WK_PAY_ALIPAY;
    assert_int_equal(wk_pay_refund_book(f->hd, &bad, "li", "x", f->now_ms, &existed, &d), WK_ECONFLICT);
    assert_non_null(strstr(d.msg, "channel"));
    bad = r;
    bad.amount_fen = 5001;
    assert_int_equal(wk_pay_refund_book(f->hd, &bad, "li", "x", f->now_ms, &existed, &d), WK_ERANGE);
    assert_int_equal(count(f, "SELECT count(*) FROM pay_refund"), 0);
    assert_int_equal(balance(f, WALLET), w0);

    assert_int_equal(wk_pay_refund_book(f->hd, &r, "li", "tenant asked", f->now_ms, &existed, &d), WK_OK);
    assert_false(existed);
    assert_int_equal(balance(f, WALLET), w0 - 1500);
    assert_int_equal(balance(f, "clearing:wechat"), c0 + 1500);
    /* the same refund again: existed, nothing booked */
    assert_int_equal(wk_pay_refund_book(f->hd, &r, "li", "tenant asked", f->now_ms, &existed, &d), WK_OK);
    assert_true(existed);
    assert_int_equal(balance(f, WALLET), w0 - 1500);
    assert_int_equal(wk_pay_refund_check(f->hd, o.out_trade_no, "R1", 1500, f->now_ms, &got, &booked, &existed, &d),
                     WK_OK);
    assert_true(existed);
    assert_string_equal(booked.refund_id, r.refund_id);
    /* our number with another channel refund id, or the channel's id under another number */
    bad = r;
    snprintf(bad.refund_id, sizeof bad.refund_id, "50300000000000000002");
    assert_int_equal(wk_pay_refund_book(f->hd, &bad, "li", "x", f->now_ms, &existed, &d), WK_ECONFLICT);
    assert_non_null(strstr(d.msg, "out_refund_no"));
    bad = r;
    snprintf(bad.out_refund_no, sizeof bad.out_refund_no, "R2");
    bad.amount_fen = 100;
    assert_int_equal(wk_pay_refund_book(f->hd, &bad, "li", "x", f->now_ms, &existed, &d), WK_ECONFLICT);
    assert_non_null(strstr(d.msg, "refund_id"));
    assert_int_equal(count(f, "SELECT count(*) FROM pay_refund"), 1);
    assert_int_equal(balance(f, WALLET), w0 - 1500);
    /* what is left of the order: 3500 */
    assert_int_equal(wk_pay_refund_check(f->hd, o.out_trade_no, "R3", 3501, f->now_ms, &got, &booked, &existed, &d),
                     WK_ERANGE);
    assert_int_equal(wk_pay_refund_check(f->hd, o.out_trade_no, "R3", 3500, f->now_ms, &got, &booked, &existed, &d),
                     WK_OK);
    /* the refund's notifications: REFUND.SUCCESS confirms the row, recorded once, books nothing */
    int64_t transfers = count(f, "SELECT count(*) FROM ledger_transfer");
    assert_int_equal(count(f, "UPDATE pay_refund SET status = 'PROCESSING' RETURNING 1"), 1);
    bool dupn = true, known = false;
    assert_int_equal(wk_pay_notice_record(f->st, WK_PAY_WECHAT, "REFUND.SUCCESS", r.refund_id, o.out_trade_no, 1500,
                                          f->now_ms, &dupn, &known, &d),
                     WK_OK);
    assert_false(dupn);
    assert_true(known);
    assert_int_equal(count(f, "SELECT count(*) FROM pay_refund WHERE status = 'SUCCESS'"), 1);
    assert_int_equal(wk_pay_notice_record(f->st, WK_PAY_WECHAT, "REFUND.SUCCESS", r.refund_id, o.out_trade_no, 1500,
                                          f->now_ms, &dupn, &known, &d),
                     WK_OK);
    assert_true(dupn);
    assert_int_equal(count(f, "SELECT count(*) FROM pay_notice"), 1);
    /* a refund we never booked: recorded, nothing matched */
    assert_int_equal(wk_pay_notice_record(f->st, WK_PAY_WECHAT, "REFUND.SUCCESS", "50399", o.out_trade_no, 10,
                                          f->now_ms, &dupn, &known, &d),
                     WK_OK);
    assert_false(known);
    assert_int_equal(wk_pay_notice_record(f->st, WK_PAY_WECHAT, "", "x", "", 0, f->now_ms, &dupn, &known, &d),
                     WK_EINVAL);
    assert_non_null(strstr(d.msg, "kind"));
    /* TRADE_CLOSED closes an order still created, leaves a credited one alone */
    assert_int_equal(wk_pay_notice_record(f->st, WK_PAY_WECHAT, "TRADE_CLOSED", oc.out_trade_no, oc.out_trade_no, 0,
                                          f->now_ms, &dupn, &known, &d),
                     WK_OK);
    assert_int_equal(wk_pay_order_get(f->st, oc.out_trade_no, &got, &d), WK_OK);
    assert_int_equal(got.state, WK_PAY_CLOSED);
    assert_int_equal(wk_pay_notice_record(f->st, WK_PAY_WECHAT, "TRADE_CLOSED", p.txn_id, o.out_trade_no, 0,
                                          f->now_ms, &dupn, &known, &d),
                     WK_OK);
    assert_int_equal(wk_pay_order_get(f->st, o.out_trade_no, &got, &d), WK_OK);
    assert_int_equal(got.state, WK_PAY_CREDITED);
    assert_int_equal(count(f, "SELECT count(*) FROM ledger_transfer"), transfers);
    assert_int_equal(balance(f, WALLET), w0 - 1500);

    uint8_t a[16], b[16];
    wk_pay_refund_transfer_id(WK_PAY_WECHAT, "x", a);
    wk_pay_refund_transfer_id(WK_PAY_ALIPAY, "x", b);
    assert_memory_not_equal(a, b, 16);
    wk_pay_transfer_id(WK_PAY_WECHAT, "x", b);
    assert_memory_not_equal(a, b, 16);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_credit_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expired_order_still_credited, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_transaction_changes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_counter_refund_settlement, setup, teardown),
        cmocka_unit_test_setup_teardown(test_channel_refund_booked_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_counter_hooks_and_refund_of, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recon_store, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
