/*
 * refund.c - channel refunds (WeChat /v3/refund/domestic/refunds, Alipay
 * alipay.trade.refund), the store side: the checks before the channel is asked and the
 * exactly-once booking of the channel's verified answer.
 *
 * Owns the table pay_refund (component "pay", migration 3). A channel refund is booked
 * at most once: UNIQUE(channel, refund_id) for the channel's refund id and UNIQUE
 * out_refund_no for ours, and the ledger transfer wallet -> clearing:<channel> has an id
 * derived from the channel's refund id (SHA-256("refund:<channel>:" || refund_id)), so a
 * repeated request, a refund notification and reconciliation collapse to one booking.
 * Runs on the thread that owns the store; the channel call itself (client.c) runs on an
 * HTTP thread between wk_pay_refund_check and wk_pay_refund_book.
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "headend/headend.h"
#include "ledger/ledger.h"
#include "pay/pay.h"

void wk_pay_refund_transfer_id(wk_pay_channel c, const char *refund_id, uint8_t id[16])
{
    char buf[WK_PAY_ID_MAX + 32];
    int n = snprintf(buf, sizeof buf, "refund:%s:%s", wk_pay_channel_str(c), refund_id);
    uint8_t out[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    WK_PANIC_IF(n < 0 || (size_t)n >= sizeof buf);
    WK_PANIC_IF(EVP_Digest(buf, (size_t)n, out, &len, EVP_sha256(), NULL) != 1 || len != 32);
    memcpy(id, out, 16);
}

/* Our refund number: 1..64 of [0-9A-Za-z_|*@-], as both channels allow. */
static wk_err refund__no_ok(const char *no, wk_diag *d)
{
    size_t n = 0;
    for (const char *p = no; *p; p++, n++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' ||
              *p == '-' || *p == '|' || *p == '*' || *p == '@'))
            return wk_diag_set(d, WK_EINVAL, "out_refund_no: unexpected character");
    return n && n < WK_PAY_ID_MAX ? WK_OK : wk_diag_set(d, WK_EINVAL, "out_refund_no: 1..63 characters");
}

/* The refund row of out_refund_no, if any: *found, and its channel refund id. */
static wk_err refund__find(wk_store *st, const char *out_refund_no, bool *found, wk_pay_channel_refund *r,
                           wk_diag *d)
{
    wk_stmt *s;
    *found = false;
    wk_err e = wk_store_prepare(st,
                                "SELECT refund_id, out_trade_no, amount_fen, status FROM pay_refund"
                                " WHERE out_refund_no = ?",
                                &s, d);
    if (e)
        return e;
    if (!(e = wk_stmt_bind_text(s, 1, out_refund_no, strlen(out_refund_no))))
        e = wk_stmt_step(s, found, d);
    if (!e && *found && r) {
        size_t n;
        const char *t = wk_stmt_text(s, 0, &n);
        snprintf(r->refund_id, sizeof r->refund_id, "%.*s", (int)n, t);
        t = wk_stmt_text(s, 1, &n);
        snprintf(r->out_trade_no, sizeof r->out_trade_no, "%.*s", (int)n, t);
        r->amount_fen = wk_stmt_i64(s, 2);
        t = wk_stmt_text(s, 3, &n);
        snprintf(r->status, sizeof r->status, "%.*s", (int)n, t);
        snprintf(r->out_refund_no, sizeof r->out_refund_no, "%s", out_refund_no);
    }
    wk_stmt_reset(s);
    return e;
}

/* Sum of the refunds booked against an order. */
static wk_err refund__sum(wk_store *st, const char *out_trade_no, int64_t *sum, wk_diag *d)
{
    wk_stmt *s;
    bool row = false;
    wk_err e = wk_store_prepare(st, "SELECT COALESCE(SUM(amount_fen), 0) FROM pay_refund WHERE out_trade_no = ?", &s,
                                d);
    if (e)
        return e;
    if (!(e = wk_stmt_bind_text(s, 1, out_trade_no, strlen(out_trade_no))))
        e = wk_stmt_step(s, &row, d);
    *sum = !e && row ? wk_stmt_i64(s, 0) : 0;
    wk_stmt_reset(s);
    return e;
}

/* The wallet ledger account of a head-end account. */
static wk_err refund__wallet(wk_store *st, int64_t account_id, int64_t *wallet, wk_diag *d)
{
    wk_stmt *s;
    bool row = false;
    wk_err e = wk_store_prepare(st, "SELECT wallet_account_id FROM account WHERE id = ?", &s, d);
    if (e)
        return e;
    if (!(e = wk_stmt_bind_i64(s, 1, account_id)))
        e = wk_stmt_step(s, &row, d);
    if (!e && !row)
        e = wk_diag_set(d, WK_ENOTFOUND, "account_id: account %lld does not exist", (long long)account_id);
    if (!e)
        *wallet = wk_stmt_i64(s, 0);
    wk_stmt_reset(s);
    return e;
}

/* Checks shared by check and book: the order is credited, the amount fits what is left
 * of it, and the wallet holds it. Fills *o. */
static wk_err refund__facts(wk_headend *hd, const char *otn, int64_t amount_fen, wk_pay_order *o, wk_diag *d)
{
    char out_trade_no[WK_PAY_OUT_TRADE_NO_MAX]; /* otn may point into *o */
    if (!otn || strlen(otn) >= sizeof out_trade_no)
        return wk_diag_set(d, WK_ENOTFOUND, "out_trade_no: no such order");
    snprintf(out_trade_no, sizeof out_trade_no, "%s", otn);
    wk_store *st = wk_headend_store(hd);
    wk_err e = wk_pay_order_get(st, out_trade_no, o, d);
    if (e)
        return e;
    if (o->state != WK_PAY_CREDITED)
        return wk_diag_set(d, WK_ECONFLICT, "out_trade_no: order %s is %s, not credited", out_trade_no,
                           wk_pay_order_state_str(o->state));
    int64_t sum, wallet;
    if ((e = refund__sum(st, out_trade_no, &sum, d)) || (e = refund__wallet(st, o->account_id, &wallet, d)))
        return e;
    if (amount_fen <= 0 || amount_fen > o->amount_fen - sum)
        return wk_diag_set(d, WK_ERANGE, "amount_fen: %lld fen left to refund on order %s",
                           (long long)(o->amount_fen - sum), out_trade_no);
    wk_account w;
    if ((e = wk_ledger_account_get(wk_headend_ledger(hd), wallet, &w, d)))
        return e;
    if (w.balance_fen < amount_fen)
        return wk_diag_set(d, WK_ECONFLICT, "amount_fen: the wallet holds %lld fen", (long long)w.balance_fen);
    return WK_OK;
}

wk_err wk_pay_refund_check(wk_headend *hd, const char *otn, const char *out_refund_no, int64_t amount_fen,
                           int64_t now_ms, wk_pay_order *o, wk_pay_channel_refund *booked, bool *existed, wk_diag *d)
{
    *existed = false;
    char out_trade_no[WK_PAY_OUT_TRADE_NO_MAX]; /* otn may point into *o */
    if (!otn || strlen(otn) >= sizeof out_trade_no)
        return wk_diag_set(d, WK_ENOTFOUND, "out_trade_no: no such order");
    snprintf(out_trade_no, sizeof out_trade_no, "%s", otn);
    wk_err e = refund__no_ok(out_refund_no, d);
    if (e || (e = wk_headend_flush(hd, now_ms, d)))
        return e;
    if ((e = refund__find(wk_headend_store(hd), out_refund_no, existed, booked, d)))
        return e;
    if (*existed) {
        if (strcmp(booked->out_trade_no, out_trade_no) || booked->amount_fen != amount_fen)
            return wk_diag_set(d, WK_ECONFLICT, "out_refund_no: %s was used for another refund", out_refund_no);
        return wk_pay_order_get(wk_headend_store(hd), out_trade_no, o, d);
    }
    return refund__facts(hd, out_trade_no, amount_fen, o, d);
}

wk_err wk_pay_refund_book(wk_headend *hd, const wk_pay_channel_refund *r, const char *operator_name,
                          const char *reason, int64_t now_ms, bool *existed, wk_diag *d)
{
    return wk_pay_refund_book_with(hd, r, operator_name, reason, now_ms, NULL, NULL, existed, d);
}

wk_err wk_pay_refund_book_with(wk_headend *hd, const wk_pay_channel_refund *r, const char *operator_name,
                               const char *reason, int64_t now_ms, wk_pay_hook hook, void *hook_ctx, bool *existed,
                               wk_diag *d)
{
    *existed = false;
    if (!r->refund_id[0] || strlen(r->refund_id) >= WK_PAY_ID_MAX)
        return wk_diag_set(d, WK_EINVAL, "refund_id: required");
    if (!operator_name || !*operator_name || strlen(operator_name) > 128)
        return wk_diag_set(d, WK_EINVAL, "operator: required, at most 128 bytes");
    if (!reason || !*reason || strlen(reason) > 200)
        return wk_diag_set(d, WK_EINVAL, "reason: required, at most 200 bytes");
    wk_err e = refund__no_ok(r->out_refund_no, d);
    wk_store *st = wk_headend_store(hd);
    wk_ledger *lg = wk_headend_ledger(hd);
    int64_t clearing;
    if (e || (e = wk_pay_clearing_account(lg, r->channel, &clearing, d)) || (e = wk_headend_flush(hd, now_ms, d)) ||
        (e = wk_store_begin(st, d)))
        return e;
    wk_pay_channel_refund old;
    bool dup = false;
    if ((e = refund__find(st, r->out_refund_no, &dup, &old, d)))
        goto fail;
    if (dup) { /* booked before: the same refund, or a conflict */
        wk_store_rollback(st);
        if (strcmp(old.refund_id, r->refund_id))
            return wk_diag_set(d, WK_ECONFLICT, "out_refund_no: booked with channel refund %s", old.refund_id);
        *existed = true;
        return WK_OK;
    }
    wk_pay_order o;
    if ((e = refund__facts(hd, r->out_trade_no, r->amount_fen, &o, d)))
        goto fail;
    if (o.channel != r->channel) {
        e = wk_diag_set(d, WK_ECONFLICT, "channel: order %s was paid through %s", r->out_trade_no,
                        wk_pay_channel_str(o.channel));
        goto fail;
    }
    int64_t wallet;
    if ((e = refund__wallet(st, o.account_id, &wallet, d)))
        goto fail;
    uint8_t tid[16];
    wk_pay_refund_transfer_id(r->channel, r->refund_id, tid);
    wk_stmt *s;
    bool row;
    if ((e = wk_store_prepare(st,
                              "INSERT INTO pay_refund (channel, refund_id, out_refund_no, out_trade_no, account_id,"
                              " amount_fen, status, operator, reason, transfer_id, created_ms, updated_ms)"
                              " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                              &s, d)))
        goto fail;
    const char *chs = wk_pay_channel_str(r->channel);
    if (!(e = wk_stmt_bind_text(s, 1, chs, strlen(chs))) &&
        !(e = wk_stmt_bind_text(s, 2, r->refund_id, strlen(r->refund_id))) &&
        !(e = wk_stmt_bind_text(s, 3, r->out_refund_no, strlen(r->out_refund_no))) &&
        !(e = wk_stmt_bind_text(s, 4, r->out_trade_no, strlen(r->out_trade_no))) &&
        !(e = wk_stmt_bind_i64(s, 5, o.account_id)) && !(e = wk_stmt_bind_i64(s, 6, r->amount_fen)) &&
        !(e = wk_stmt_bind_text(s, 7, r->status, strlen(r->status))) &&
        !(e = wk_stmt_bind_text(s, 8, operator_name, strlen(operator_name))) &&
        !(e = wk_stmt_bind_text(s, 9, reason, strlen(reason))) && !(e = wk_stmt_bind_blob(s, 10, tid, 16)) &&
        !(e = wk_stmt_bind_i64(s, 11, now_ms)) && !(e = wk_stmt_bind_i64(s, 12, now_ms)))
        e = wk_stmt_step(s, &row, d);
    wk_stmt_reset(s);
    if (e) {
        if (e == WK_ECONFLICT || e == WK_EEXIST)
            e = wk_diag_set(d, WK_ECONFLICT, "refund_id: channel refund %s is booked already", r->refund_id);
        goto fail;
    }
    char why[300];
    snprintf(why, sizeof why, "%s refund %s of order %s by %s: %s", chs, r->refund_id, r->out_trade_no,
             operator_name, reason);
    wk_transfer t = {.debit_account_id = wallet, .credit_account_id = clearing, .amount_fen = r->amount_fen,
                     .reason = why};
    memcpy(t.id, tid, 16);
    wk_transfer_result res;
    if ((e = wk_ledger_transfer(lg, &t, &res, d)))
        goto fail;
    if (res.existed) {
        e = wk_diag_set(d, WK_ECONFLICT, "refund_id: channel refund %s is booked already", r->refund_id);
        goto fail;
    }
    if (hook && (e = hook(hook_ctx, st, d)))
        goto fail;
    return wk_store_commit(st, d);
fail:
    wk_store_rollback(st);
    return e;
}

wk_err wk_pay_notice_record(wk_store *st, wk_pay_channel c, const char *kind, const char *ref,
                            const char *out_trade_no, int64_t amount_fen, int64_t now_ms, bool *duplicate,
                            bool *refund_known, wk_diag *d)
{
    *duplicate = false;
    *refund_known = false;
    const char *chs = wk_pay_channel_str(c);
    if (!chs)
        return wk_diag_set(d, WK_EINVAL, "channel: unknown");
    if (!kind || !*kind || strlen(kind) >= 64)
        return wk_diag_set(d, WK_EINVAL, "kind: required, at most 63 bytes");
    if (!ref || !*ref || strlen(ref) >= WK_PAY_ID_MAX)
        return wk_diag_set(d, WK_EINVAL, "ref: required, at most %d bytes", WK_PAY_ID_MAX - 1);
    if (!out_trade_no || strlen(out_trade_no) >= WK_PAY_OUT_TRADE_NO_MAX)
        return wk_diag_set(d, WK_EINVAL, "out_trade_no: at most %d bytes", WK_PAY_OUT_TRADE_NO_MAX - 1);
    if (amount_fen < 0)
        return wk_diag_set(d, WK_ERANGE, "amount_fen: negative");
    wk_err e = wk_store_begin(st, d);
    if (e)
        return e;
    wk_stmt *s;
    bool row;
    if ((e = wk_store_prepare(st,
                              "INSERT INTO pay_notice (channel, kind, ref, out_trade_no, amount_fen, received_ms)"
                              " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (channel, kind, ref) DO NOTHING",
                              &s, d)))
        goto fail;
    if (!(e = wk_stmt_bind_text(s, 1, chs, strlen(chs))) && !(e = wk_stmt_bind_text(s, 2, kind, strlen(kind))) &&
        !(e = wk_stmt_bind_text(s, 3, ref, strlen(ref))) &&
        !(e = wk_stmt_bind_text(s, 4, out_trade_no, strlen(out_trade_no))) &&
        !(e = wk_stmt_bind_i64(s, 5, amount_fen)) && !(e = wk_stmt_bind_i64(s, 6, now_ms)))
        e = wk_stmt_step(s, &row, d);
    wk_stmt_reset(s);
    if (e)
        goto fail;
    if (wk_store_changes(st) == 0) {
        *duplicate = true;
        wk_store_rollback(st);
        return WK_OK;
    }
    if (!strcmp(kind, "REFUND.SUCCESS")) {
        if ((e = wk_store_prepare(st,
                                  "UPDATE pay_refund SET status = 'SUCCESS', updated_ms = ?"
                                  " WHERE channel = ? AND refund_id = ?",
                                  &s, d)))
            goto fail;
        if (!(e = wk_stmt_bind_i64(s, 1, now_ms)) && !(e = wk_stmt_bind_text(s, 2, chs, strlen(chs))) &&
            !(e = wk_stmt_bind_text(s, 3, ref, strlen(ref))))
            e = wk_stmt_step(s, &row, d);
        wk_stmt_reset(s);
        if (e)
            goto fail;
        *refund_known = wk_store_changes(st) > 0;
    } else if (!strcmp(kind, "TRADE_CLOSED")) {
        if ((e = wk_store_prepare(st,
                                  "UPDATE pay_order SET state = 'closed', updated_ms = ?"
                                  " WHERE out_trade_no = ? AND channel = ? AND state = 'created'",
                                  &s, d)))
            goto fail;
        if (!(e = wk_stmt_bind_i64(s, 1, now_ms)) &&
            !(e = wk_stmt_bind_text(s, 2, out_trade_no, strlen(out_trade_no))) &&
            !(e = wk_stmt_bind_text(s, 3, chs, strlen(chs))))
            e = wk_stmt_step(s, &row, d);
        wk_stmt_reset(s);
        if (e)
            goto fail;
    }
    return wk_store_commit(st, d);
fail:
    wk_store_rollback(st);
    return e;
}
