/*
 * order.c - top-up orders and the exactly-once credit of verified channel payments.
 *
 * Owns the tables pay_order and pay_payment (component "pay"). Invariants, enforced by
 * the database rather than by checks in C: an order's state only moves forward
 * (created -> paid -> credited, created -> closed | expired; trigger pay_order_forward),
 * and a channel transaction is recorded at most once (UNIQUE(channel, txn_id)). The credit
 * itself is one transaction of wk_headend_credit_with, whose ledger transfer id is derived
 * from the channel transaction id, so a retry, the query path and reconciliation all
 * collapse to the same credit. Runs on the thread that owns the store.
 */
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "headend/headend.h"
#include "ledger/ledger.h"
#include "pay/pay.h"
#include "proto/encoding.h"

static const char pay__v1_sqlite[] =
    "CREATE TABLE pay_order ("
    "  id INTEGER PRIMARY KEY,"
    "  out_trade_no TEXT NOT NULL UNIQUE,"
    "  account_id INTEGER NOT NULL,"
    "  channel TEXT NOT NULL CHECK (channel IN ('wechat', 'alipay')),"
    "  amount_fen INTEGER NOT NULL CHECK (amount_fen > 0),"
    "  state TEXT NOT NULL CHECK (state IN ('created', 'paid', 'credited', 'closed', 'expired')),"
    "  created_ms INTEGER NOT NULL,"
    "  updated_ms INTEGER NOT NULL,"
    "  expires_ms INTEGER NOT NULL"
    ") STRICT;"
    "CREATE INDEX pay_order_state ON pay_order (state, expires_ms);"
    "CREATE TRIGGER pay_order_forward BEFORE UPDATE OF state ON pay_order"
    " WHEN NOT ((OLD.state = 'created' AND NEW.state IN ('paid', 'credited', 'closed', 'expired'))"
    "        OR (OLD.state = 'paid' AND NEW.state = 'credited'))"
    " BEGIN SELECT RAISE(ABORT, 'pay_order: state only moves forward'); END;"
    "CREATE TABLE pay_payment ("
    "  id INTEGER PRIMARY KEY,"
    "  channel TEXT NOT NULL,"
    "  txn_id TEXT NOT NULL,"
    "  out_trade_no TEXT NOT NULL,"
    "  order_id INTEGER NOT NULL REFERENCES pay_order(id),"
    "  amount_fen INTEGER NOT NULL CHECK (amount_fen > 0),"
    "  transfer_id BLOB NOT NULL,"
    "  source TEXT NOT NULL,"
    "  late INTEGER NOT NULL DEFAULT 0,"
    "  received_ms INTEGER NOT NULL,"
    "  UNIQUE (channel, txn_id)"
    ") STRICT;";

static const char pay__v2_sqlite[] =
    "CREATE TABLE pay_counter ("
    "  id INTEGER PRIMARY KEY,"
    "  kind TEXT NOT NULL CHECK (kind IN ('payment', 'refund', 'settlement')),"
    "  account_id INTEGER NOT NULL,"
    "  method TEXT NOT NULL,"
    "  amount_fen INTEGER NOT NULL CHECK (amount_fen >= 0),"
    "  operator TEXT NOT NULL CHECK (length(operator) > 0),"
    "  reason TEXT NOT NULL CHECK (length(reason) > 0),"
    "  transfer_id BLOB UNIQUE,"
    "  created_ms INTEGER NOT NULL"
    ") STRICT;";

static const char pay__v3_sqlite[] =
    "CREATE TABLE pay_refund ("
    "  id INTEGER PRIMARY KEY,"
    "  channel TEXT NOT NULL CHECK (channel IN ('wechat', 'alipay')),"
    "  refund_id TEXT NOT NULL CHECK (length(refund_id) > 0),"
    "  out_refund_no TEXT NOT NULL UNIQUE,"
    "  out_trade_no TEXT NOT NULL,"
    "  account_id INTEGER NOT NULL,"
    "  amount_fen INTEGER NOT NULL CHECK (amount_fen > 0),"
    "  status TEXT NOT NULL,"
    "  operator TEXT NOT NULL CHECK (length(operator) > 0),"
    "  reason TEXT NOT NULL CHECK (length(reason) > 0),"
    "  transfer_id BLOB NOT NULL UNIQUE,"
    "  created_ms INTEGER NOT NULL,"
    "  updated_ms INTEGER NOT NULL,"
    "  UNIQUE (channel, refund_id)"
    ") STRICT;"
    "CREATE INDEX pay_refund_order ON pay_refund (out_trade_no);"
    "CREATE TABLE pay_notice ("
    "  id INTEGER PRIMARY KEY,"
    "  channel TEXT NOT NULL CHECK (channel IN ('wechat', 'alipay')),"
    "  kind TEXT NOT NULL CHECK (length(kind) > 0),"
    "  ref TEXT NOT NULL CHECK (length(ref) > 0),"
    "  out_trade_no TEXT NOT NULL,"
    "  amount_fen INTEGER NOT NULL CHECK (amount_fen >= 0),"
    "  received_ms INTEGER NOT NULL,"
    "  UNIQUE (channel, kind, ref)"
    ") STRICT;";

static const char pay__v4_sqlite[] =
    "ALTER TABLE pay_counter ADD COLUMN payment_id INTEGER REFERENCES pay_counter(id);"
    "CREATE INDEX pay_counter_payment ON pay_counter (payment_id);"
    "CREATE INDEX pay_counter_account ON pay_counter (account_id, kind);"
    "CREATE TABLE pay_recon ("
    "  id INTEGER PRIMARY KEY,"
    "  channel TEXT NOT NULL CHECK (channel IN ('wechat', 'alipay')),"
    "  day_min INTEGER," /* the bill's first and last day; NULL for a bill without rows */
    "  day_max INTEGER,"
    "  bill_payments INTEGER NOT NULL,"
    "  bill_refunds INTEGER NOT NULL,"
    "  matched INTEGER NOT NULL,"
    "  credited_from_bill INTEGER NOT NULL,"
    "  unattributable INTEGER NOT NULL,"
    "  unknown_to_channel INTEGER NOT NULL,"
    "  amount_mismatch INTEGER NOT NULL,"
    "  refunds_unmatched INTEGER NOT NULL,"
    "  company_id INTEGER,"
    "  user_id INTEGER,"
    "  created_ms INTEGER NOT NULL"
    ") STRICT;"
    "CREATE TABLE pay_recon_line ("
    "  id INTEGER PRIMARY KEY,"
    "  recon_id INTEGER NOT NULL REFERENCES pay_recon(id),"
    "  kind TEXT NOT NULL CHECK (length(kind) > 0),"
    "  txn_id TEXT,"
    "  out_trade_no TEXT,"
    "  account_id INTEGER,"
    "  amount_fen INTEGER,"
    "  detail TEXT NOT NULL"
    ") STRICT;"
    "CREATE INDEX pay_recon_line_recon ON pay_recon_line (recon_id);";

static const wk_migration pay__migrations[] = {
    {1, "orders and channel payments", pay__v1_sqlite, NULL},
    {2, "counter payments, refunds, settlements", pay__v2_sqlite, NULL},
    {3, "channel refunds, non-payment notifications", pay__v3_sqlite, NULL},
    {4, "counter refunds of a payment, card method, stored reconciliations", pay__v4_sqlite, NULL},
};

const wk_schema wk_pay_schema = {"pay", pay__migrations,
                                 sizeof pay__migrations / sizeof pay__migrations[0]};

static const char *const pay__states[] = {NULL, "created", "paid", "credited", "closed", "expired"};

const char *wk_pay_order_state_str(wk_pay_order_state s)
{
    return s >= WK_PAY_CREATED && s <= WK_PAY_EXPIRED ? pay__states[s] : NULL;
}

void wk_pay_transfer_id(wk_pay_channel c, const char *txn_id, uint8_t id[16])
{
    char buf[WK_PAY_ID_MAX + 16];
    const char *ch = wk_pay_channel_str(c);
    int n = snprintf(buf, sizeof buf, "%s:%s", ch ? ch : "?", txn_id);
    uint8_t out[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    /* cannot fail for SHA-256 over a bounded buffer; WK_PANIC_IF guards the invariant */
    WK_PANIC_IF(EVP_Digest(buf, n > 0 && (size_t)n < sizeof buf ? (size_t)n : strlen(buf), out, &len,
                           EVP_sha256(), NULL) != 1 || len != 32);
    memcpy(id, out, 16);
}

wk_err wk_pay_clearing_account(wk_ledger *lg, wk_pay_channel c, int64_t *id, wk_diag *d)
{
    char name[32];
    snprintf(name, sizeof name, "clearing:%s", wk_pay_channel_str(c));
    wk_account a;
    wk_err e = wk_ledger_account_find(lg, name, &a, d);
    if (e == WK_OK) {
        *id = a.id;
        return WK_OK;
    }
    if (e != WK_ENOTFOUND)
        return e;
    return wk_ledger_account_add(lg, name, WK_ACCOUNT_CLEARING, NULL, id, d);
}

wk_err wk_pay_order_create(wk_store *st, int64_t account_id, wk_pay_channel channel,
                           int64_t amount_fen, const wk_pay_limits *lim, int64_t now_ms,
                           wk_pay_order *out, wk_diag *d)
{
    memset(out, 0, sizeof *out);
    if (!wk_pay_channel_str(channel))
        return wk_diag_set(d, WK_EINVAL, "channel: expected wechat or alipay");
    if (amount_fen < lim->min_fen || amount_fen > lim->max_fen)
        return wk_diag_set(d, WK_ERANGE, "amount_fen: %lld outside %lld..%lld", (long long)amount_fen,
                           (long long)lim->min_fen, (long long)lim->max_fen);
    wk_stmt *s;
    bool row = false;
    wk_err e = wk_store_prepare(st, "SELECT status FROM account WHERE id = ?", &s, d);
    if (e)
        return e;
    if (!(e = wk_stmt_bind_i64(s, 1, account_id)))
        e = wk_stmt_step(s, &row, d);
    if (!e && !row)
        e = wk_diag_set(d, WK_ENOTFOUND, "account_id: account %lld does not exist", (long long)account_id);
    if (!e) {
        size_t n;
        const char *status = wk_stmt_text(s, 0, &n);
        if (n != 4 || memcmp(status, "open", 4))
            e = wk_diag_set(d, WK_ECONFLICT, "account_id: account %lld is closed", (long long)account_id);
    }
    wk_stmt_reset(s);
    if (e)
        return e;
    uint8_t rnd[15];
    if (RAND_bytes(rnd, sizeof rnd) != 1)
        return wk_diag_set(d, WK_EIO, "out_trade_no: no randomness");
    char hex[31];
    wk_hex_encode(rnd, sizeof rnd, hex, sizeof hex);
    snprintf(out->out_trade_no, sizeof out->out_trade_no, "WK%s", hex);
    out->account_id = account_id;
    out->channel = channel;
    out->amount_fen = amount_fen;
    out->state = WK_PAY_CREATED;
    out->created_ms = now_ms;
    out->expires_ms = now_ms + lim->ttl_ms;
    if ((e = wk_store_begin(st, d)))
        return e;
    if ((e = wk_store_prepare(st,
                              "INSERT INTO pay_order (out_trade_no, account_id, channel, amount_fen,"
                              " state, created_ms, updated_ms, expires_ms)"
                              " VALUES (?, ?, ?, ?, 'created', ?, ?, ?)",
                              &s, d)))
        goto fail;
    const char *ch = wk_pay_channel_str(channel);
    if (!(e = wk_stmt_bind_text(s, 1, out->out_trade_no, strlen(out->out_trade_no))) &&
        !(e = wk_stmt_bind_i64(s, 2, account_id)) && !(e = wk_stmt_bind_text(s, 3, ch, strlen(ch))) &&
        !(e = wk_stmt_bind_i64(s, 4, amount_fen)) && !(e = wk_stmt_bind_i64(s, 5, now_ms)) &&
        !(e = wk_stmt_bind_i64(s, 6, now_ms)) && !(e = wk_stmt_bind_i64(s, 7, out->expires_ms)))
        e = wk_stmt_step(s, &row, d);
    wk_stmt_reset(s);
    if (e)
        goto fail;
    return wk_store_commit(st, d);
fail:
    wk_store_rollback(st);
    return e;
}

wk_err wk_pay_order_get(wk_store *st, const char *out_trade_no, wk_pay_order *out, wk_diag *d)
{
    memset(out, 0, sizeof *out);
    wk_stmt *s;
    bool row = false;
    wk_err e = wk_store_prepare(st,
                                "SELECT id, out_trade_no, account_id, channel, amount_fen, state,"
                                " created_ms, expires_ms FROM pay_order WHERE out_trade_no = ?",
                                &s, d);
    if (e)
        return e;
    if (!(e = wk_stmt_bind_text(s, 1, out_trade_no, strlen(out_trade_no))))
        e = wk_stmt_step(s, &row, d);
    if (!e && !row)
        e = wk_diag_set(d, WK_ENOTFOUND, "out_trade_no: no order %.40s", out_trade_no);
    if (!e) {
        size_t n;
        out->id = wk_stmt_i64(s, 0);
        const char *t = wk_stmt_text(s, 1, &n);
        snprintf(out->out_trade_no, sizeof out->out_trade_no, "%.*s", (int)n, t);
        out->account_id = wk_stmt_i64(s, 2);
        t = wk_stmt_text(s, 3, &n);
        out->channel = n == 6 && !memcmp(t, "wechat", 6) ? WK_PAY_WECHAT : WK_PAY_ALIPAY;
        out->amount_fen = wk_stmt_i64(s, 4);
        t = wk_stmt_text(s, 5, &n);
        for (int i = WK_PAY_CREATED; i <= WK_PAY_EXPIRED; i++)
            if (strlen(pay__states[i]) == n && !memcmp(pay__states[i], t, n))
                out->state = (wk_pay_order_state)i;
        out->created_ms = wk_stmt_i64(s, 6);
        out->expires_ms = wk_stmt_i64(s, 7);
    }
    wk_stmt_reset(s);
    return e;
}

wk_err wk_pay_order_expire(wk_store *st, int64_t now_ms, int64_t *n, wk_diag *d)
{
    *n = 0;
    wk_err e = wk_store_begin(st, d);
    if (e)
        return e;
    wk_stmt *s;
    bool row;
    if ((e = wk_store_prepare(st,
                              "UPDATE pay_order SET state = 'expired', updated_ms = ?"
                              " WHERE state = 'created' AND expires_ms <= ?",
                              &s, d)))
        goto fail;
    if (!(e = wk_stmt_bind_i64(s, 1, now_ms)) && !(e = wk_stmt_bind_i64(s, 2, now_ms)))
        e = wk_stmt_step(s, &row, d);
    wk_stmt_reset(s);
    if (e)
        goto fail;
    *n = wk_store_changes(st);
    return wk_store_commit(st, d);
fail:
    wk_store_rollback(st);
    return e;
}

typedef struct pay_hook {
    const wk_pay_payment *p;
    const wk_pay_order *o;
    const char *source;
    const uint8_t *tid;
    int64_t now_ms;
    bool duplicate;
} pay_hook;

/* In the credit's transaction: the payment row (the database arbitrates duplicates), then
 * the order forward. */
static wk_err pay__hook(void *ctx, wk_store *st, wk_diag *d)
{
    pay_hook *h = ctx;
    bool late = h->o->state == WK_PAY_CLOSED || h->o->state == WK_PAY_EXPIRED;
    wk_stmt *s;
    bool row;
    wk_err e = wk_store_prepare(st,
                                "INSERT INTO pay_payment (channel, txn_id, out_trade_no, order_id,"
                                " amount_fen, transfer_id, source, late, received_ms)"
                                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                &s, d);
    if (e)
        return e;
    const char *ch = wk_pay_channel_str(h->p->channel);
    if (!(e = wk_stmt_bind_text(s, 1, ch, strlen(ch))) &&
        !(e = wk_stmt_bind_text(s, 2, h->p->txn_id, strlen(h->p->txn_id))) &&
        !(e = wk_stmt_bind_text(s, 3, h->p->out_trade_no, strlen(h->p->out_trade_no))) &&
        !(e = wk_stmt_bind_i64(s, 4, h->o->id)) && !(e = wk_stmt_bind_i64(s, 5, h->p->amount_fen)) &&
        !(e = wk_stmt_bind_blob(s, 6, h->tid, 16)) &&
        !(e = wk_stmt_bind_text(s, 7, h->source, strlen(h->source))) &&
        !(e = wk_stmt_bind_i64(s, 8, late)) && !(e = wk_stmt_bind_i64(s, 9, h->now_ms)))
        e = wk_stmt_step(s, &row, d);
    wk_stmt_reset(s);
    if (e == WK_EEXIST) {
        h->duplicate = true;
        return wk_diag_set(d, WK_EEXIST, "%s transaction %s was credited before", ch, h->p->txn_id);
    }
    if (e)
        return e;
    if (late)
        return WK_OK; /* a closed/expired order keeps its state; the money is still credited */
    if ((e = wk_store_prepare(st,
                              "UPDATE pay_order SET state = 'credited', updated_ms = ?"
                              " WHERE id = ? AND state IN ('created', 'paid')",
                              &s, d)))
        return e;
    if (!(e = wk_stmt_bind_i64(s, 1, h->now_ms)) && !(e = wk_stmt_bind_i64(s, 2, h->o->id)))
        e = wk_stmt_step(s, &row, d);
    wk_stmt_reset(s);
    if (!e && wk_store_changes(st) != 1)
        e = wk_diag_set(d, WK_ECONFLICT, "order %s: already credited by another transaction",
                        h->o->out_trade_no);
    return e;
}

wk_err wk_pay_credit(wk_headend *hd, const wk_pay_payment *p, const char *source, int64_t now_ms,
                     bool *duplicate, wk_diag *d)
{
    *duplicate = false;
    wk_store *st = wk_headend_store(hd);
    wk_pay_order o;
    wk_err e = wk_pay_order_get(st, p->out_trade_no, &o, d);
    if (e)
        return e;
    uint8_t tid[16];
    wk_pay_transfer_id(p->channel, p->txn_id, tid);
    /* a duplicate delivery is recognised before the business checks: it changes nothing */
    wk_stmt *s;
    bool row = false;
    if ((e = wk_store_prepare(st, "SELECT amount_fen FROM pay_payment WHERE channel = ? AND txn_id = ?",
                              &s, d)))
        return e;
    const char *ch = wk_pay_channel_str(p->channel);
    if (!(e = wk_stmt_bind_text(s, 1, ch, strlen(ch))) &&
        !(e = wk_stmt_bind_text(s, 2, p->txn_id, strlen(p->txn_id))))
        e = wk_stmt_step(s, &row, d);
    int64_t had = row ? wk_stmt_i64(s, 0) : 0;
    wk_stmt_reset(s);
    if (e)
        return e;
    if (row) {
        if (had != p->amount_fen)
            return wk_diag_set(d, WK_ECONFLICT, "amount_fen: %s transaction %s was credited with %lld, now %lld",
                               ch, p->txn_id, (long long)had, (long long)p->amount_fen);
        *duplicate = true;
        return WK_OK;
    }
    if (o.channel != p->channel)
        return wk_diag_set(d, WK_ECONFLICT, "channel: order %s was made for %s", o.out_trade_no,
                           wk_pay_channel_str(o.channel));
    if (o.amount_fen != p->amount_fen)
        return wk_diag_set(d, WK_ECONFLICT, "amount_fen: order %s is %lld fen, the payment %lld",
                           o.out_trade_no, (long long)o.amount_fen, (long long)p->amount_fen);
    int64_t clearing;
    if ((e = wk_pay_clearing_account(wk_headend_ledger(hd), p->channel, &clearing, d)))
        return e;
    pay_hook h = {.p = p, .o = &o, .source = source, .tid = tid, .now_ms = now_ms};
    char reason[128];
    snprintf(reason, sizeof reason, "top-up %s %.64s", ch, p->txn_id);
    bool existed = false;
    e = wk_headend_credit_with(hd, o.account_id, p->amount_fen, tid, clearing, reason, now_ms, pay__hook, &h,
                               &existed, d);
    if (e == WK_EEXIST && h.duplicate) {
        *duplicate = true; /* a concurrent delivery committed first */
        return WK_OK;
    }
    return e;
}
