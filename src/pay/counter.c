/*
 * counter.c - money handled by staff at the property office: counter payments (cash,
 * bank transfer), refunds paid out at the counter, and the move-out settlement that
 * refunds or carries over the remainder and closes the account.
 *
 * Every action is a ledger transfer (never an edit) plus a pay_counter row naming the
 * operator and the reason, in one transaction; payments and refunds are idempotent by
 * their 128-bit id. Runs on the thread that owns the store (serve's main loop).
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "headend/headend.h"
#include "ledger/ledger.h"
#include "pay/pay.h"

static const char *counter__method(wk_pay_method m)
{
    return m == WK_PAY_CASH ? "cash" : m == WK_PAY_BANK_TRANSFER ? "bank_transfer" : m == WK_PAY_CARD ? "card" : NULL;
}

const char *wk_pay_method_str(wk_pay_method m)
{
    return counter__method(m);
}

wk_err wk_pay_method_parse(const char *s, wk_pay_method *m, wk_diag *d)
{
    if (s && !strcmp(s, "cash"))
        *m = WK_PAY_CASH;
    else if (s && !strcmp(s, "bank_transfer"))
        *m = WK_PAY_BANK_TRANSFER;
    else if (s && !strcmp(s, "card"))
        *m = WK_PAY_CARD;
    else
        return wk_diag_set(d, WK_EINVAL, "method: expected cash, bank_transfer or card");
    return WK_OK;
}

/* Finds or creates the ledger account "<prefix>:<method>" of the given kind. */
static wk_err counter__account(wk_ledger *lg, const char *prefix, wk_pay_method m, wk_account_kind kind,
                               int64_t *id, wk_diag *d)
{
    char name[64];
    snprintf(name, sizeof name, "%s:%s", prefix, counter__method(m));
    wk_account a;
    wk_err e = wk_ledger_account_find(lg, name, &a, d);
    if (e == WK_OK)
        *id = a.id;
    else if (e == WK_ENOTFOUND)
        e = wk_ledger_account_add(lg, name, kind, NULL, id, d);
    return e;
}

static wk_err counter__check(int64_t amount_fen, wk_pay_method m, const char *op, const char *reason, wk_diag *d)
{
    if (amount_fen <= 0 || amount_fen > WK_LEDGER_AMOUNT_MAX_FEN)
        return wk_diag_set(d, WK_ERANGE, "amount_fen: must be positive");
    if (!counter__method(m))
        return wk_diag_set(d, WK_EINVAL, "method: expected cash, bank_transfer or card");
    if (!op || !*op || strlen(op) > 128)
        return wk_diag_set(d, WK_EINVAL, "operator: required, at most 128 bytes");
    if (!reason || !*reason || strlen(reason) > 200)
        return wk_diag_set(d, WK_EINVAL, "reason: required, at most 200 bytes");
    return WK_OK;
}

typedef struct counter_row {
    const char *kind, *method, *op, *reason;
    int64_t account_id, amount_fen, now_ms;
    const uint8_t *tid; /* NULL for a settlement without a transfer */
    int64_t payment_id; /* refunds of a counter payment; 0 = none */
    /* the caller's hook, run after a new row (not for a repeated id) */
    wk_pay_hook hook;
    void *hook_ctx;
    /* outputs */
    bool inserted;
    int64_t row_id;
} counter_row;

/* The pay_counter row; a repeated id is ignored here (the ledger then says existed). */
static wk_err counter__insert(void *ctx, wk_store *st, wk_diag *d)
{
    counter_row *r = ctx;
    wk_stmt *s;
    bool row;
    wk_err e = wk_store_prepare(st,
                                "INSERT INTO pay_counter (kind, account_id, method, amount_fen, operator, reason,"
                                " transfer_id, created_ms, payment_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                                " ON CONFLICT (transfer_id) DO NOTHING",
                                &s, d);
    if (e)
        return e;
    if (!(e = wk_stmt_bind_text(s, 1, r->kind, strlen(r->kind))) && !(e = wk_stmt_bind_i64(s, 2, r->account_id)) &&
        !(e = wk_stmt_bind_text(s, 3, r->method, strlen(r->method))) &&
        !(e = wk_stmt_bind_i64(s, 4, r->amount_fen)) && !(e = wk_stmt_bind_text(s, 5, r->op, strlen(r->op))) &&
        !(e = wk_stmt_bind_text(s, 6, r->reason, strlen(r->reason))) &&
        !(e = r->tid ? wk_stmt_bind_blob(s, 7, r->tid, 16) : wk_stmt_bind_null(s, 7)) &&
        !(e = wk_stmt_bind_i64(s, 8, r->now_ms)) &&
        !(e = r->payment_id ? wk_stmt_bind_i64(s, 9, r->payment_id) : wk_stmt_bind_null(s, 9)))
        e = wk_stmt_step(s, &row, d);
    wk_stmt_reset(s);
    if (e)
        return e;
    r->inserted = wk_store_changes(st) == 1;
    if (r->tid) {
        if ((e = wk_store_prepare(st, "SELECT id, kind, account_id, amount_fen FROM pay_counter WHERE transfer_id = ?",
                                  &s, d)))
            return e;
        row = false;
        if (!(e = wk_stmt_bind_blob(s, 1, r->tid, 16)))
            e = wk_stmt_step(s, &row, d);
        if (!e && row) {
            size_t n;
            const char *k = wk_stmt_text(s, 1, &n);
            r->row_id = wk_stmt_i64(s, 0);
            if (!r->inserted && (n != strlen(r->kind) || memcmp(k, r->kind, n) ||
                                 wk_stmt_i64(s, 2) != r->account_id || wk_stmt_i64(s, 3) != r->amount_fen))
                e = wk_diag_set(d, WK_ECONFLICT, "id: used for another counter booking");
        }
        wk_stmt_reset(s);
        if (e)
            return e;
    }
    if (r->inserted && r->hook)
        return r->hook(r->hook_ctx, st, d);
    return WK_OK;
}

wk_err wk_pay_counter_payment_with(wk_headend *hd, int64_t account_id, int64_t amount_fen, wk_pay_method method,
                                   const char *operator_name, const char *reason, const uint8_t id[16], int64_t now_ms,
                                   wk_pay_hook hook, void *hook_ctx, int64_t *row_id, bool *existed, wk_diag *d)
{
    *existed = false;
    wk_err e = counter__check(amount_fen, method, operator_name, reason, d);
    int64_t from;
    if (e || (e = counter__account(wk_headend_ledger(hd), "counter", method, WK_ACCOUNT_CLEARING, &from, d)))
        return e;
    counter_row r = {"payment", counter__method(method), operator_name, reason, account_id, amount_fen, now_ms, id,
                     .hook = hook, .hook_ctx = hook_ctx};
    char why[300];
    snprintf(why, sizeof why, "counter %s by %s: %s", r.method, operator_name, reason);
    e = wk_headend_credit_with(hd, account_id, amount_fen, id, from, why, now_ms, counter__insert, &r, existed, d);
    if (!e && row_id)
        *row_id = r.row_id;
    return e;
}

wk_err wk_pay_counter_payment(wk_headend *hd, int64_t account_id, int64_t amount_fen, wk_pay_method method,
                              const char *operator_name, const char *reason, const uint8_t id[16], int64_t now_ms,
                              bool *existed, wk_diag *d)
{
    return wk_pay_counter_payment_with(hd, account_id, amount_fen, method, operator_name, reason, id, now_ms, NULL,
                                       NULL, NULL, existed, d);
}

typedef struct counter_acct {
    int64_t wallet_id;
    bool open;
} counter_acct;

static wk_err counter__acct(wk_store *st, int64_t account_id, counter_acct *a, wk_diag *d)
{
    wk_stmt *s;
    bool row = false;
    wk_err e = wk_store_prepare(st, "SELECT wallet_account_id, status FROM account WHERE id = ?", &s, d);
    if (e)
        return e;
    if (!(e = wk_stmt_bind_i64(s, 1, account_id)))
        e = wk_stmt_step(s, &row, d);
    if (!e && !row)
        e = wk_diag_set(d, WK_ENOTFOUND, "account_id: account %lld does not exist", (long long)account_id);
    if (!e) {
        size_t n;
        a->wallet_id = wk_stmt_i64(s, 0);
        const char *t = wk_stmt_text(s, 1, &n);
        a->open = n == 4 && !memcmp(t, "open", 4);
    }
    wk_stmt_reset(s);
    return e;
}

/* The counter payment a refund is for, in the refund's transaction: its account and
 * method, and what is left of it after the refunds booked against it. */
static wk_err counter__payment(wk_store *st, int64_t payment_id, int64_t *account_id, wk_pay_method *method,
                               int64_t *left_fen, wk_diag *d)
{
    wk_stmt *s;
    bool row = false;
    wk_err e = wk_store_prepare(st,
                                "SELECT p.account_id, p.method, p.amount_fen - COALESCE((SELECT SUM(r.amount_fen)"
                                " FROM pay_counter r WHERE r.kind = 'refund' AND r.payment_id = p.id), 0)"
                                " FROM pay_counter p WHERE p.id = ? AND p.kind = 'payment'",
                                &s, d);
    if (e)
        return e;
    if (!(e = wk_stmt_bind_i64(s, 1, payment_id)))
        e = wk_stmt_step(s, &row, d);
    if (!e && !row)
        e = wk_diag_set(d, WK_ENOTFOUND, "payment_id: no counter payment %lld", (long long)payment_id);
    if (!e) {
        size_t n;
        const char *m = wk_stmt_text(s, 1, &n);
        char buf[32];
        snprintf(buf, sizeof buf, "%.*s", (int)n, m);
        *account_id = wk_stmt_i64(s, 0);
        *left_fen = wk_stmt_i64(s, 2);
        if (wk_pay_method_parse(buf, method, d))
            e = wk_diag_set(d, WK_ECONFLICT, "payment_id: payment %lld has method %s", (long long)payment_id, buf);
    }
    wk_stmt_reset(s);
    return e;
}

/* A counter refund (of payment_id when > 0), with hook; see wk_pay_refund. */
static wk_err counter__refund(wk_headend *hd, int64_t account_id, int64_t payment_id, int64_t amount_fen,
                              wk_pay_method method, const char *operator_name, const char *reason,
                              const uint8_t id[16], int64_t now_ms, wk_pay_hook hook, void *hook_ctx,
                              int64_t *row_id, bool *existed, wk_diag *d)
{
    *existed = false;
    wk_err e = counter__check(amount_fen, payment_id ? WK_PAY_CASH : method, operator_name, reason, d);
    wk_ledger *lg = wk_headend_ledger(hd);
    wk_store *st = wk_headend_store(hd);
    if (e || (e = wk_headend_flush(hd, now_ms, d)) || (e = wk_store_begin(st, d)))
        return e;
    int64_t to, left = 0;
    if (payment_id && (e = counter__payment(st, payment_id, &account_id, &method, &left, d)))
        goto fail;
    if ((e = counter__account(lg, "refund", method, WK_ACCOUNT_REFUND, &to, d)))
        goto fail;
    counter_acct a;
    if ((e = counter__acct(st, account_id, &a, d)))
        goto fail;
    counter_row r = {"refund", counter__method(method), operator_name, reason, account_id, amount_fen, now_ms, id,
                     .payment_id = payment_id, .hook = hook, .hook_ctx = hook_ctx};
    if (payment_id && amount_fen > left) {
        /* a repeat of a booked refund is recognised below; a new one must fit */
        wk_stmt *s;
        bool row = false;
        if ((e = wk_store_prepare(st, "SELECT 1 FROM pay_counter WHERE transfer_id = ?", &s, d)))
            goto fail;
        if (!(e = wk_stmt_bind_blob(s, 1, id, 16)))
            e = wk_stmt_step(s, &row, d);
        wk_stmt_reset(s);
        if (!e && !row)
            e = wk_diag_set(d, WK_ERANGE, "amount_fen: %lld fen left to refund on this payment", (long long)left);
        if (e)
            goto fail;
    }
    if ((e = counter__insert(&r, st, d)))
        goto fail;
    char why[300];
    snprintf(why, sizeof why, "refund %s by %s: %s", r.method, operator_name, reason);
    wk_transfer t = {.debit_account_id = a.wallet_id, .credit_account_id = to, .amount_fen = amount_fen,
                     .reason = why};
    memcpy(t.id, id, 16);
    wk_transfer_result res;
    if ((e = wk_ledger_transfer(lg, &t, &res, d)))
        goto fail; /* the wallet's floor: no over-refund */
    *existed = res.existed;
    if (row_id)
        *row_id = r.row_id;
    return wk_store_commit(st, d);
fail:
    wk_store_rollback(st);
    return e;
}

wk_err wk_pay_refund(wk_headend *hd, int64_t account_id, int64_t amount_fen, wk_pay_method method,
                     const char *operator_name, const char *reason, const uint8_t id[16], int64_t now_ms,
                     bool *existed, wk_diag *d)
{
    return counter__refund(hd, account_id, 0, amount_fen, method, operator_name, reason, id, now_ms, NULL, NULL, NULL,
                           existed, d);
}

wk_err wk_pay_counter_refund_of(wk_headend *hd, int64_t payment_id, int64_t amount_fen, const char *operator_name,
                                const char *reason, const uint8_t id[16], int64_t now_ms, wk_pay_hook hook,
                                void *hook_ctx, int64_t *row_id, bool *existed, wk_diag *d)
{
    if (payment_id <= 0)
        return wk_diag_set(d, WK_ENOTFOUND, "payment_id: no such counter payment");
    return counter__refund(hd, 0, payment_id, amount_fen, WK_PAY_CASH, operator_name, reason, id, now_ms, hook,
                           hook_ctx, row_id, existed, d);
}

/* The settlement's transfer id: SHA-256("settle:" account) - one settlement per account. */
static void counter__settle_id(int64_t account_id, uint8_t id[16])
{
    char buf[48];
    int n = snprintf(buf, sizeof buf, "settle:%lld", (long long)account_id);
    uint8_t out[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    WK_PANIC_IF(EVP_Digest(buf, (size_t)n, out, &len, EVP_sha256(), NULL) != 1 || len != 32);
    memcpy(id, out, 16);
}

wk_err wk_pay_settle(wk_headend *hd, int64_t account_id, wk_pay_method method, int64_t carry_to_account,
                     const char *operator_name, const char *reason, int64_t now_ms, int64_t *settled_fen, wk_diag *d)
{
    return wk_pay_settle_with(hd, account_id, method, carry_to_account, operator_name, reason, now_ms, NULL, NULL,
                              settled_fen, d);
}

wk_err wk_pay_settle_with(wk_headend *hd, int64_t account_id, wk_pay_method method, int64_t carry_to_account,
                          const char *operator_name, const char *reason, int64_t now_ms,
                          wk_err (*hook)(void *ctx, wk_store *st, wk_diag *d), void *hook_ctx, int64_t *settled_fen,
                          wk_diag *d)
{
    *settled_fen = 0;
    wk_err e = counter__check(1, method, operator_name, reason, d);
    wk_ledger *lg = wk_headend_ledger(hd);
    wk_store *st = wk_headend_store(hd);
    int64_t refund_to = 0;
    if (e || (!carry_to_account && (e = counter__account(lg, "refund", method, WK_ACCOUNT_REFUND, &refund_to, d))))
        return e;
    if (carry_to_account == account_id)
        return wk_diag_set(d, WK_EINVAL, "carry_to_account: the same account");
    if ((e = wk_headend_flush(hd, now_ms, d)) || (e = wk_store_begin(st, d)))
        return e;
    counter_acct a, b;
    if ((e = counter__acct(st, account_id, &a, d)))
        goto fail;
    if (!a.open) {
        e = wk_diag_set(d, WK_ECONFLICT, "account_id: account %lld is already closed", (long long)account_id);
        goto fail;
    }
    if (carry_to_account) {
        if ((e = counter__acct(st, carry_to_account, &b, d)))
            goto fail;
        if (!b.open) {
            e = wk_diag_set(d, WK_ECONFLICT, "carry_to_account: account %lld is closed", (long long)carry_to_account);
            goto fail;
        }
    }
    wk_account w;
    if ((e = wk_ledger_account_get(lg, a.wallet_id, &w, d)))
        goto fail;
    if (w.balance_fen < 0) {
        e = wk_diag_set(d, WK_ECONFLICT, "balance: %lld fen owed; take a counter payment first",
                        (long long)-w.balance_fen);
        goto fail;
    }
    uint8_t tid[16];
    counter__settle_id(account_id, tid);
    counter_row r = {"settlement", carry_to_account ? "carry_over" : counter__method(method), operator_name, reason,
                     account_id, w.balance_fen, now_ms, w.balance_fen ? tid : NULL, .payment_id = 0};
    if ((e = counter__insert(&r, st, d)))
        goto fail;
    if (w.balance_fen > 0) {
        char why[300];
        snprintf(why, sizeof why, "move-out settlement (%s) by %s: %s", r.method, operator_name, reason);
        wk_transfer t = {.debit_account_id = a.wallet_id,
                         .credit_account_id = carry_to_account ? b.wallet_id : refund_to,
                         .amount_fen = w.balance_fen,
                         .reason = why};
        memcpy(t.id, tid, 16);
        if ((e = wk_ledger_transfer(lg, &t, NULL, d)))
            goto fail;
    }
    wk_stmt *s;
    bool row;
    if ((e = wk_store_prepare(st, "UPDATE account SET status = 'closed' WHERE id = ? AND status = 'open'", &s, d)))
        goto fail;
    if (!(e = wk_stmt_bind_i64(s, 1, account_id)))
        e = wk_stmt_step(s, &row, d);
    wk_stmt_reset(s);
    if (e || (hook && (e = hook(hook_ctx, st, d))))
        goto fail;
    if ((e = wk_store_commit(st, d)))
        return e;
    *settled_fen = w.balance_fen;
    return WK_OK;
fail:
    wk_store_rollback(st);
    return e;
}
