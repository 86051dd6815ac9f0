/*
 * serve_web_payments.c - the staff payment routes (web API module, see serve_web.h):
 *
 *   GET  /api/v1/payments                 channel and counter payments, newest first
 *   GET  /api/v1/payments/{id}            one payment ("channel-N" or "counter-N")
 *   POST /api/v1/payments/counter         a counter top-up (cash, card, transfer)
 *   POST /api/v1/payments/{id}/refund     refund (part of) a payment: through its channel,
 *                                         or paid out at the counter for counter payments
 *   GET  /api/v1/orders                   top-up orders (GET /api/v1/orders/{no} is in
 *                                         serve_pay.c: admin token, or this module's check)
 *   GET  /api/v1/refunds                  channel and counter refunds, newest first
 *   GET  /api/v1/reconciliations[/{id}]   stored reconciliation runs and their lines
 *   POST /api/v1/reconciliations?channel  a daily bill in, a stored run out
 *
 * Roles: money reads for admin, finance and service; counter top-ups for admin, finance
 * and service; refunds and reconciliations for admin and finance; technicians and
 * residents 403. Tenancy: a payment, order or refund belongs to its account's community;
 * another company's (or an unassigned community's) object answers 404 like a missing one.
 * A reconciliation run is visible to the company whose staff uploaded it and, for runs
 * made with the admin token, to every company; its lines are shown only when they touch
 * an account in the caller's scope (lines naming no account: only to the uploader's
 * company). Every booking writes its audit row inside the booking's transaction; the
 * money code is src/pay (counter.c, refund.c, bill.c) and serve_pay.c's shared functions.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/serve_payments.h"
#include "app/serve_web.h"
#include "core/civil.h"
#include "core/mem.h"
#include "core/units.h"
#include "headend/headend.h"
#include "ledger/ledger.h"
#include "proto/encoding.h"
#include "store/store.h"

#define PW_BODY_MAX 4096
#define PW_BILL_MAX (16u << 20)
#define PW_READ (WK_WEB_ADMIN | WK_WEB_FINANCE | WK_WEB_SERVICE)
#define PW_MONEY (WK_WEB_ADMIN | WK_WEB_FINANCE)

/* One request's inputs and the state carried between its steps. */
typedef struct pw_req {
    /* lists */
    int64_t limit, offset, account;
    int64_t from_ms, to_ms; /* 0 = open */
    const char *channel, *state;
    /* a payment id: source 'c' counter / 'h' channel, and the row id */
    char src;
    int64_t n;
    char id_text[40];
    char out_trade_no[WK_PAY_OUT_TRADE_NO_MAX];
    /* bookings */
    int64_t amount_fen;
    wk_pay_method method;
    char reason[201];
    uint8_t idem[16];
    /* channel refunds: step 2 books what the channel answered */
    bool need_channel, book;
    wk_pay_order o;
    wk_pay_channel_refund r;
    char out_refund_no[WK_PAY_ID_MAX];
    /* reconciliations */
    wk_pay_bill bill;
} pw_req;

/* ---- rows as JSON ---- */

/* Rows as JSON: wk_web_row (serve_web.h). A counter payment's method is named as the API
 * names it (stored bank_transfer -> transfer) by the queries. */
#define PW_METHOD "CASE k.method WHEN 'bank_transfer' THEN 'transfer' ELSE k.method END"

static void pw__collect(wk_web_call *c, wk_stmt *st, const wk_web_col *cols, size_t n, bool one, int64_t limit,
                        int64_t offset)
{
    wk_diag d = {{0}};
    json_t *items = json_array();
    bool row = false;
    wk_err e = items ? WK_OK : WK_ENOMEM;
    while (!e && !(e = wk_stmt_step(st, &row, &d)) && row) {
        json_t *it = wk_web_row(st, cols, n);
        if (!it || json_array_append_new(items, it))
            e = wk_diag_set(&d, WK_ENOMEM, "out of memory");
    }
    wk_stmt_reset(st);
    if (e) {
        json_decref(items);
        wk_web_internal(c, &d);
        return;
    }
    if (one) {
        if (!json_array_size(items))
            wk_web_fail(c, 404, "not_found", NULL, "no such object");
        else
            c->body = json_incref(json_array_get(items, 0));
        json_decref(items);
        return;
    }
    size_t got = json_array_size(items);
    c->body = json_pack("{s:o}", "items", items);
    if (c->body)
        json_object_set_new(c->body, "next_offset",
                            (int64_t)got == limit ? json_integer(offset + limit) : json_null());
    else
        wk_web_fail(c, 500, "internal", NULL, "out of memory");
}

static wk_err pw__bind_opt_i64(wk_stmt *s, int i, int64_t v)
{
    return v ? wk_stmt_bind_i64(s, i, v) : wk_stmt_bind_null(s, i);
}

static wk_err pw__bind_opt_text(wk_stmt *s, int i, const char *v)
{
    return v && *v ? wk_stmt_bind_text(s, i, v, strlen(v)) : wk_stmt_bind_null(s, i);
}

/* Binds the tenancy parameters ?1 (company) and ?2 (assigned staff) and runs the common
 * list filters: ?3 id text, ?4 account, ?5 channel, ?6 from, ?7 to, ?8 limit, ?9 offset. */
static void pw__list(wk_web_call *c, const wk_serve_env *env, const char *sql, const wk_web_col *cols, size_t n,
                     const char *id_text)
{
    pw_req *q = c->arg;
    wk_diag d = {{0}};
    wk_stmt *st;
    if (wk_store_prepare(env->st, sql, &st, &d)) {
        wk_web_internal(c, &d);
        return;
    }
    bool one = id_text != NULL;
    int64_t limit = one ? 1 : q->limit, offset = one ? 0 : q->offset;
    wk_err e = wk_stmt_bind_i64(st, 1, c->sess.user.company_id);
    if (!e)
        e = wk_web_bind_scope_user(st, 2, c);
    if (!e)
        e = pw__bind_opt_text(st, 3, id_text);
    if (!e)
        e = pw__bind_opt_i64(st, 4, one ? 0 : q->account);
    if (!e)
        e = pw__bind_opt_text(st, 5, one ? NULL : q->channel);
    if (!e)
        e = pw__bind_opt_i64(st, 6, one ? 0 : q->from_ms);
    if (!e)
        e = pw__bind_opt_i64(st, 7, one ? 0 : q->to_ms);
    if (!e)
        e = wk_stmt_bind_i64(st, 8, limit);
    if (!e)
        e = wk_stmt_bind_i64(st, 9, offset);
    if (e) {
        wk_stmt_reset(st);
        wk_web_fail(c, 500, "internal", NULL, "bind failed");
        return;
    }
    pw__collect(c, st, cols, n, one, limit, offset);
}

/* The tenancy joins from an account alias "a" to its community "c". */
#define PW_ACCOUNT_JOINS                                                                    \
    " JOIN account a ON a.id = x.account_id JOIN unit u ON u.id = a.unit_id"                \
    " JOIN building b ON b.id = u.building_id JOIN community c ON c.id = b.community_id"
#define PW_SCOPE WK_WEB_SCOPE("c", "?1", "?2")

/* ---- payments ---- */

static const wk_web_col pay_cols[] = {
    {"id", 's'},        {"source", 's'},   {"channel", 's'},      {"method", 'S'},  {"account_id", 'i'},
    {"amount", 'm'},    {"refunded", 'm'}, {"refundable", 'm'},   {"time_ms", 'i'}, {"txn_id", 'S'},
    {"out_trade_no", 'S'}, {"operator", 'S'}, {"reason", 'S'},    {"unit", 's'},    {"holder", 's'},
    {"building", 's'},  {"community", 's'},
};

static const char pay_sql[] =
    "SELECT x.id, x.source, x.channel, x.method, x.account_id, x.amount, x.refunded, x.amount - x.refunded,"
    " x.time_ms, x.txn_id, x.out_trade_no, x.operator, x.reason, u.name, a.holder, b.name, c.name FROM ("
    "  SELECT 'channel-' || p.id AS id, 'channel' AS source, p.channel AS channel, NULL AS method,"
    "   o.account_id AS account_id, p.amount_fen AS amount,"
    "   COALESCE((SELECT SUM(r.amount_fen) FROM pay_refund r WHERE r.out_trade_no = p.out_trade_no), 0) AS refunded,"
    "   p.received_ms AS time_ms, p.txn_id AS txn_id, p.out_trade_no AS out_trade_no, NULL AS operator,"
    "   NULL AS reason FROM pay_payment p JOIN pay_order o ON o.id = p.order_id"
    "  UNION ALL"
    "  SELECT 'counter-' || k.id, 'counter', 'counter', " PW_METHOD ", k.account_id, k.amount_fen,"
    "   COALESCE((SELECT SUM(r.amount_fen) FROM pay_counter r WHERE r.kind = 'refund' AND r.payment_id = k.id), 0),"
    "   k.created_ms, NULL, NULL, k.operator, k.reason FROM pay_counter k WHERE k.kind = 'payment'"
    ") x" PW_ACCOUNT_JOINS
    " WHERE " PW_SCOPE " AND (?3 IS NULL OR x.id = ?3) AND (?4 IS NULL OR x.account_id = ?4)"
    " AND (?5 IS NULL OR x.channel = ?5) AND (?6 IS NULL OR x.time_ms >= ?6) AND (?7 IS NULL OR x.time_ms < ?7)"
    " ORDER BY x.time_ms DESC, x.id DESC LIMIT ?8 OFFSET ?9";

static void pw__op_payments(wk_web_call *c, const wk_serve_env *env)
{
    pw_req *q = c->arg;
    if (!wk_web_role(c, PW_READ, "admin, finance or service"))
        return;
    pw__list(c, env, pay_sql, pay_cols, sizeof pay_cols / sizeof pay_cols[0], q->src ? q->id_text : NULL);
}

/* ---- refunds ---- */

static const wk_web_col ref_cols[] = {
    {"id", 's'},         {"source", 's'},        {"channel", 's'},   {"method", 'S'},    {"account_id", 'i'},
    {"amount", 'm'},     {"time_ms", 'i'},       {"status", 's'},    {"operator", 's'},  {"reason", 's'},
    {"payment_id", 'S'}, {"out_trade_no", 'S'},  {"out_refund_no", 'S'}, {"refund_id", 'S'}, {"unit", 's'},
    {"holder", 's'},
};

static const char ref_sql[] =
    "SELECT x.id, x.source, x.channel, x.method, x.account_id, x.amount, x.time_ms, x.status, x.operator,"
    " x.reason, x.payment_id, x.out_trade_no, x.out_refund_no, x.refund_id, u.name, a.holder FROM ("
    "  SELECT 'channel-' || r.id AS id, 'channel' AS source, r.channel AS channel, NULL AS method,"
    "   r.account_id AS account_id, r.amount_fen AS amount, r.created_ms AS time_ms, r.status AS status,"
    "   r.operator AS operator, r.reason AS reason,"
    "   (SELECT 'channel-' || p.id FROM pay_payment p WHERE p.out_trade_no = r.out_trade_no LIMIT 1) AS payment_id,"
    "   r.out_trade_no AS out_trade_no, r.out_refund_no AS out_refund_no, r.refund_id AS refund_id"
    "   FROM pay_refund r"
    "  UNION ALL"
    "  SELECT 'counter-' || k.id, 'counter', 'counter', " PW_METHOD ", k.account_id, k.amount_fen, k.created_ms,"
    "   'SUCCESS', k.operator, k.reason, CASE WHEN k.payment_id IS NULL THEN NULL ELSE 'counter-' || k.payment_id END,"
    "   NULL, NULL, NULL FROM pay_counter k WHERE k.kind = 'refund'"
    ") x" PW_ACCOUNT_JOINS
    " WHERE " PW_SCOPE " AND (?3 IS NULL OR x.id = ?3) AND (?4 IS NULL OR x.account_id = ?4)"
    " AND (?5 IS NULL OR x.channel = ?5) AND (?6 IS NULL OR x.time_ms >= ?6) AND (?7 IS NULL OR x.time_ms < ?7)"
    " ORDER BY x.time_ms DESC, x.id DESC LIMIT ?8 OFFSET ?9";

static void pw__op_refunds(wk_web_call *c, const wk_serve_env *env)
{
    if (!wk_web_role(c, PW_READ, "admin, finance or service"))
        return;
    pw__list(c, env, ref_sql, ref_cols, sizeof ref_cols / sizeof ref_cols[0], NULL);
}

/* ---- orders ---- */

static const wk_web_col ord_cols[] = {
    {"id", 'i'},         {"out_trade_no", 's'}, {"account_id", 'i'}, {"channel", 's'}, {"amount", 'm'},
    {"state", 's'},      {"created_ms", 'i'},   {"updated_ms", 'i'}, {"expires_ms", 'i'}, {"unit", 's'},
    {"holder", 's'},
};

/* ?1 company, ?2 assigned, ?3 out_trade_no, ?4 account, ?5 channel, ?6 state, ?7 limit, ?8 offset */
static const char ord_sql[] =
    "SELECT x.id, x.out_trade_no, x.account_id, x.channel, x.amount_fen, x.state, x.created_ms, x.updated_ms,"
    " x.expires_ms, u.name, a.holder FROM pay_order x" PW_ACCOUNT_JOINS
    " WHERE " PW_SCOPE " AND (?3 IS NULL OR x.out_trade_no = ?3) AND (?4 IS NULL OR x.account_id = ?4)"
    " AND (?5 IS NULL OR x.channel = ?5) AND (?6 IS NULL OR x.state = ?6)"
    " ORDER BY x.id DESC LIMIT ?7 OFFSET ?8";

static void pw__op_orders(wk_web_call *c, const wk_serve_env *env)
{
    pw_req *q = c->arg;
    if (!wk_web_role(c, PW_READ, "admin, finance or service"))
        return;
    wk_diag d = {{0}};
    wk_stmt *st;
    if (wk_store_prepare(env->st, ord_sql, &st, &d)) {
        wk_web_internal(c, &d);
        return;
    }
    bool one = q->out_trade_no[0] != '\0';
    int64_t limit = one ? 1 : q->limit, offset = one ? 0 : q->offset;
    wk_err e = wk_stmt_bind_i64(st, 1, c->sess.user.company_id);
    if (!e)
        e = wk_web_bind_scope_user(st, 2, c);
    if (!e)
        e = pw__bind_opt_text(st, 3, one ? q->out_trade_no : NULL);
    if (!e)
        e = pw__bind_opt_i64(st, 4, one ? 0 : q->account);
    if (!e)
        e = pw__bind_opt_text(st, 5, one ? NULL : q->channel);
    if (!e)
        e = pw__bind_opt_text(st, 6, one ? NULL : q->state);
    if (!e)
        e = wk_stmt_bind_i64(st, 7, limit);
    if (!e)
        e = wk_stmt_bind_i64(st, 8, offset);
    if (e) {
        wk_stmt_reset(st);
        wk_web_fail(c, 500, "internal", NULL, "bind failed");
        return;
    }
    pw__collect(c, st, ord_cols, sizeof ord_cols / sizeof ord_cols[0], one, limit, offset);
}

/* ---- bookings: errors, audit ---- */

/* Fails c from a pay error: the field is the diagnostic's "<field>: " prefix when known. */
static void pw__fail_pay(wk_web_call *c, wk_err e, const wk_diag *d)
{
    static const char *const fields[] = {"amount_fen", "account_id", "payment_id", "id",       "method",
                                         "reason",     "out_refund_no", "out_trade_no", "refund_id", "channel"};
    const char *field = NULL;
    for (size_t i = 0; i < sizeof fields / sizeof fields[0] && !field; i++) {
        size_t n = strlen(fields[i]);
        if (!strncmp(d->msg, fields[i], n) && d->msg[n] == ':')
            field = fields[i];
    }
    if (field && !strcmp(field, "payment_id"))
        field = NULL; /* the id is in the path */
    switch (e) {
    case WK_EINVAL:
    case WK_ERANGE: wk_web_fail(c, 400, "invalid", field, d->msg); break;
    case WK_ENOTFOUND: wk_web_fail(c, 404, "not_found", NULL, d->msg); break;
    case WK_ECONFLICT:
    case WK_EEXIST: wk_web_fail(c, 409, "conflict", field, d->msg); break;
    default: wk_web_internal(c, d);
    }
}

/* The wallet balance of an account, in the current transaction. */
static wk_err pw__balance(wk_store *st, int64_t account_id, int64_t *fen, wk_diag *d)
{
    wk_stmt *s;
    bool row = false;
    wk_err e = wk_store_prepare(st,
                                "SELECT la.credits_fen - la.debits_fen FROM account a"
                                " JOIN ledger_account la ON la.id = a.wallet_account_id WHERE a.id = ?",
                                &s, d);
    if (e)
        return e;
    if (!(e = wk_stmt_bind_i64(s, 1, account_id)))
        e = wk_stmt_step(s, &row, d);
    *fen = row ? wk_stmt_i64(s, 0) : 0;
    wk_stmt_reset(s);
    if (!e && !row)
        e = wk_diag_set(d, WK_ENOTFOUND, "account_id: account %lld does not exist", (long long)account_id);
    return e;
}

/* The audit row of a booking, written inside its transaction: the wallet before and
 * after (the booking moves it by delta; posted = the transfer is written already). */
typedef struct pw_audit {
    wk_web_call *c;
    const char *action;
    int64_t account_id, delta, now_ms;
    bool posted;
    const char *what; /* e.g. "counter-12" or the refund number */
    const char *method;
    int64_t before, after; /* outputs */
} pw_audit;

static wk_err pw__audit(void *ctx, wk_store *st, wk_diag *d)
{
    pw_audit *a = ctx;
    int64_t now;
    wk_err e = pw__balance(st, a->account_id, &now, d);
    if (e)
        return e;
    a->before = a->posted ? now - a->delta : now;
    a->after = a->before + a->delta;
    pw_req *q = a->c->arg;
    json_t *bj = json_pack("{s:I}", "balance_fen", (json_int_t)a->before);
    json_t *aj = json_pack("{s:I, s:I, s:s}", "balance_fen", (json_int_t)a->after, "amount_fen",
                           (json_int_t)(a->delta < 0 ? -a->delta : a->delta), "ref", a->what ? a->what : "");
    if (aj && a->method)
        json_object_set_new(aj, "method", json_string(a->method));
    char *before = bj ? json_dumps(bj, JSON_COMPACT) : NULL, *after = aj ? json_dumps(aj, JSON_COMPACT) : NULL;
    json_decref(bj);
    json_decref(aj);
    if (!before || !after)
        e = wk_diag_set(d, WK_ENOMEM, "audit: out of memory");
    else
        e = wk_auth_audit(st, &a->c->sess.user, a->action, "account", a->account_id, q->reason, before, after,
                          a->now_ms, d);
    free(before);
    free(after);
    return e;
}

/* The counter row id of a booking by its idempotency key (for the audit's ref). */
static void pw__counter_ref(wk_store *st, const uint8_t id[16], char *out, size_t cap)
{
    wk_stmt *s;
    bool row = false;
    snprintf(out, cap, "counter-?");
    wk_diag d = {{0}};
    if (wk_store_prepare(st, "SELECT id FROM pay_counter WHERE transfer_id = ?", &s, &d))
        return;
    if (!wk_stmt_bind_blob(s, 1, id, 16) && !wk_stmt_step(s, &row, &d) && row)
        snprintf(out, cap, "counter-%lld", (long long)wk_stmt_i64(s, 0));
    wk_stmt_reset(s);
}

typedef struct pw_counter_audit {
    pw_audit a;
    char ref[40];
} pw_counter_audit;

static wk_err pw__audit_counter(void *ctx, wk_store *st, wk_diag *d)
{
    pw_counter_audit *ca = ctx;
    pw_req *q = ca->a.c->arg;
    pw__counter_ref(st, q->idem, ca->ref, sizeof ca->ref);
    ca->a.what = ca->ref;
    return pw__audit(&ca->a, st, d);
}

/* The payment or refund `id` of the given list as the answer, with existed and the
 * wallet before/after when booked now. */
static void pw__answer_booking(wk_web_call *c, const wk_serve_env *env, const char *sql, const wk_web_col *cols,
                               size_t n, const char *id, bool existed, const pw_audit *a)
{
    pw__list(c, env, sql, cols, n, id);
    if (c->status >= 400 || !c->body)
        return;
    json_object_set_new(c->body, "existed", json_boolean(existed));
    if (!existed) {
        json_object_set_new(c->body, "balance_before_fen", json_integer(a->before));
        json_object_set_new(c->body, "balance_after_fen", json_integer(a->after));
    }
    c->status = existed ? 200 : 201;
}

/* ---- POST /api/v1/payments/counter ---- */

static void pw__op_counter(wk_web_call *c, const wk_serve_env *env)
{
    pw_req *q = c->arg;
    if (!wk_web_role(c, PW_READ, "admin, finance or service") ||
        !wk_web_account_visible(c, env, q->account, NULL))
        return;
    pw_counter_audit ca = {.a = {.c = c, .action = "counter_payment", .account_id = q->account,
                                 .delta = q->amount_fen, .now_ms = env->now_ms,
                                 .method = wk_pay_method_str(q->method)}};
    wk_diag d = {{0}};
    int64_t row_id = 0;
    bool existed = false;
    wk_err e = wk_pay_counter_payment_with(env->hd, q->account, q->amount_fen, q->method, c->sess.user.login,
                                           q->reason, q->idem, env->now_ms, pw__audit_counter, &ca, &row_id,
                                           &existed, &d);
    if (e) {
        pw__fail_pay(c, e, &d);
        return;
    }
    char id[40];
    snprintf(id, sizeof id, "counter-%lld", (long long)row_id);
    pw__answer_booking(c, env, pay_sql, pay_cols, sizeof pay_cols / sizeof pay_cols[0], id, existed, &ca.a);
}

/* ---- POST /api/v1/payments/{id}/refund ---- */

/* The payment's account (and, for channel payments, its order number); 404 unless the
 * payment exists and its account is in the caller's scope. */
static bool pw__payment_account(wk_web_call *c, const wk_serve_env *env, int64_t *account)
{
    pw_req *q = c->arg;
    wk_diag d = {{0}};
    wk_stmt *s;
    const char *sql = q->src == 'c' ? "SELECT account_id, NULL FROM pay_counter WHERE id = ? AND kind = 'payment'"
                                    : "SELECT o.account_id, p.out_trade_no FROM pay_payment p"
                                      " JOIN pay_order o ON o.id = p.order_id WHERE p.id = ?";
    if (wk_store_prepare(env->st, sql, &s, &d)) {
        wk_web_internal(c, &d);
        return false;
    }
    bool row = false;
    wk_err e = wk_stmt_bind_i64(s, 1, q->n);
    if (!e)
        e = wk_stmt_step(s, &row, &d);
    if (!e && row) {
        *account = wk_stmt_i64(s, 0);
        if (q->src == 'h') {
            size_t len;
            const char *t = wk_stmt_text(s, 1, &len);
            snprintf(q->out_trade_no, sizeof q->out_trade_no, "%.*s", (int)len, t);
        }
    }
    wk_stmt_reset(s);
    if (e) {
        wk_web_internal(c, &d);
        return false;
    }
    if (!row) {
        wk_web_fail(c, 404, "not_found", NULL, "no such payment");
        return false;
    }
    return wk_web_account_visible(c, env, *account, NULL);
}

/* The channel refund row id of our refund number. */
static void pw__channel_refund_ref(wk_store *st, const char *out_refund_no, char *out, size_t cap)
{
    wk_stmt *s;
    bool row = false;
    wk_diag d = {{0}};
    snprintf(out, cap, "channel-0");
    if (wk_store_prepare(st, "SELECT id FROM pay_refund WHERE out_refund_no = ?", &s, &d))
        return;
    if (!wk_stmt_bind_text(s, 1, out_refund_no, strlen(out_refund_no)) && !wk_stmt_step(s, &row, &d) && row)
        snprintf(out, cap, "channel-%lld", (long long)wk_stmt_i64(s, 0));
    wk_stmt_reset(s);
}

static void pw__op_refund(wk_web_call *c, const wk_serve_env *env)
{
    pw_req *q = c->arg;
    int64_t account = 0;
    if (!wk_web_role(c, PW_MONEY, "admin or finance") || !pw__payment_account(c, env, &account))
        return;
    wk_diag d = {{0}};
    bool existed = false;
    wk_err e;
    char id[40];
    pw_counter_audit ca = {.a = {.c = c, .action = "payment_refund", .account_id = account, .delta = -q->amount_fen,
                                 .now_ms = env->now_ms}};
    if (q->src == 'c') {
        int64_t row_id = 0;
        e = wk_pay_counter_refund_of(env->hd, q->n, q->amount_fen, c->sess.user.login, q->reason, q->idem, env->now_ms,
                                     pw__audit_counter, &ca, &row_id, &existed, &d);
        if (e) {
            pw__fail_pay(c, e, &d);
            return;
        }
        snprintf(id, sizeof id, "counter-%lld", (long long)row_id);
    } else if (!q->book) {
        /* step 1: check (nothing changes); the channel is asked on the HTTP thread */
        e = wk_pay_refund_check(env->hd, q->out_trade_no, q->out_refund_no, q->amount_fen, env->now_ms, &q->o, &q->r,
                                &existed, &d);
        if (e) {
            pw__fail_pay(c, e, &d);
            return;
        }
        if (!existed) {
            q->need_channel = true;
            return;
        }
        pw__channel_refund_ref(env->st, q->out_refund_no, id, sizeof id);
    } else {
        /* step 2: book what the channel accepted, with the audit row */
        ca.a.posted = true;
        ca.a.what = q->out_refund_no;
        e = wk_pay_refund_book_with(env->hd, &q->r, c->sess.user.login, q->reason, env->now_ms, pw__audit, &ca.a,
                                    &existed, &d);
        if (e) {
            pw__fail_pay(c, e, &d);
            return;
        }
        pw__channel_refund_ref(env->st, q->out_refund_no, id, sizeof id);
    }
    pw__answer_booking(c, env, ref_sql, ref_cols, sizeof ref_cols / sizeof ref_cols[0], id, existed, &ca.a);
}

/* ---- reconciliations ---- */

static const wk_web_col rec_cols[] = {
    {"id", 'i'},
    {"channel", 's'},
    {"date_from", 'D'},
    {"date_to", 'D'},
    {"bill_payments", 'i'},
    {"bill_refunds", 'i'},
    {"matched", 'i'},
    {"credited_from_bill", 'i'},
    {"unattributable", 'i'},
    {"unknown_to_channel", 'i'},
    {"amount_mismatch", 'i'},
    {"refunds_unmatched", 'i'},
    {"created_ms", 'i'},
    {"uploaded_by", 'S'},
    {"own", 'i'},
};

/* ?1 company, ?2 id or NULL, ?3 channel or NULL, ?4 limit, ?5 offset */
static const char rec_sql[] =
    "SELECT x.id, x.channel, x.day_min, x.day_max, x.bill_payments, x.bill_refunds, x.matched,"
    " x.credited_from_bill, x.unattributable, x.unknown_to_channel, x.amount_mismatch, x.refunds_unmatched,"
    " x.created_ms, (SELECT login FROM app_user WHERE id = x.user_id), x.company_id IS NOT NULL"
    " FROM pay_recon x WHERE (x.company_id = ?1 OR x.company_id IS NULL)"
    " AND (?2 IS NULL OR x.id = ?2) AND (?3 IS NULL OR x.channel = ?3) ORDER BY x.id DESC LIMIT ?4 OFFSET ?5";

static void pw__recon_list(wk_web_call *c, const wk_serve_env *env, int64_t id)
{
    pw_req *q = c->arg;
    wk_diag d = {{0}};
    wk_stmt *st;
    if (wk_store_prepare(env->st, rec_sql, &st, &d)) {
        wk_web_internal(c, &d);
        return;
    }
    int64_t limit = id ? 1 : q->limit, offset = id ? 0 : q->offset;
    wk_err e = wk_stmt_bind_i64(st, 1, c->sess.user.company_id);
    if (!e)
        e = pw__bind_opt_i64(st, 2, id);
    if (!e)
        e = pw__bind_opt_text(st, 3, id ? NULL : q->channel);
    if (!e)
        e = wk_stmt_bind_i64(st, 4, limit);
    if (!e)
        e = wk_stmt_bind_i64(st, 5, offset);
    if (e) {
        wk_stmt_reset(st);
        wk_web_fail(c, 500, "internal", NULL, "bind failed");
        return;
    }
    pw__collect(c, st, rec_cols, sizeof rec_cols / sizeof rec_cols[0], id != 0, limit, offset);
}

static const wk_web_col line_cols[] = {{"kind", 's'},       {"txn_id", 'S'}, {"out_trade_no", 'S'},
                                   {"account_id", 'I'}, {"amount_fen", 'I'}, {"detail", 's'}};

/* The lines of run id the caller may see: touching an account in scope, or no account
 * when the run is the caller's company's own upload. ?1 company, ?2 assigned, ?3 run. */
static const char line_sql[] =
    "SELECT l.kind, l.txn_id, l.out_trade_no, l.account_id, l.amount_fen, l.detail FROM pay_recon_line l"
    " JOIN pay_recon r ON r.id = l.recon_id"
    " LEFT JOIN account a ON a.id = l.account_id LEFT JOIN unit u ON u.id = a.unit_id"
    " LEFT JOIN building b ON b.id = u.building_id LEFT JOIN community c ON c.id = b.community_id"
    " WHERE l.recon_id = ?3 AND ((l.account_id IS NULL AND r.company_id = ?1)"
    "  OR (l.account_id IS NOT NULL AND c.id IS NOT NULL AND " PW_SCOPE "))"
    " ORDER BY l.id";

static void pw__recon_one(wk_web_call *c, const wk_serve_env *env, int64_t id)
{
    pw__recon_list(c, env, id);
    if (c->status >= 400 || !c->body)
        return;
    json_t *run = c->body;
    json_object_set_new(run, "own", json_boolean(json_integer_value(json_object_get(run, "own")) != 0));
    wk_diag d = {{0}};
    wk_stmt *st;
    if (wk_store_prepare(env->st, line_sql, &st, &d)) {
        wk_web_internal(c, &d);
        return;
    }
    wk_err e = wk_stmt_bind_i64(st, 1, c->sess.user.company_id);
    if (!e)
        e = wk_web_bind_scope_user(st, 2, c);
    if (!e)
        e = wk_stmt_bind_i64(st, 3, id);
    json_t *lines = json_array();
    bool row = false;
    while (!e && lines && !(e = wk_stmt_step(st, &row, &d)) && row) {
        json_t *l = wk_web_row(st, line_cols, sizeof line_cols / sizeof line_cols[0]);
        if (!l || json_array_append_new(lines, l))
            e = wk_diag_set(&d, WK_ENOMEM, "out of memory");
    }
    wk_stmt_reset(st);
    int64_t total = 0;
    if (!e && !(e = wk_store_prepare(env->st, "SELECT count(*) FROM pay_recon_line WHERE recon_id = ?", &st, &d))) {
        if (!(e = wk_stmt_bind_i64(st, 1, id)) && !(e = wk_stmt_step(st, &row, &d)) && row)
            total = wk_stmt_i64(st, 0);
        wk_stmt_reset(st);
    }
    if (e || !lines) {
        json_decref(lines);
        wk_web_internal(c, &d);
        return;
    }
    json_object_set_new(run, "lines_hidden", json_integer(total - (int64_t)json_array_size(lines)));
    json_object_set_new(run, "lines", lines);
}

static void pw__op_recons(wk_web_call *c, const wk_serve_env *env)
{
    pw_req *q = c->arg;
    if (!wk_web_role(c, PW_MONEY, "admin or finance"))
        return;
    if (q->n) {
        pw__recon_one(c, env, q->n);
        return;
    }
    pw__recon_list(c, env, 0);
    json_t *it;
    size_t i;
    json_array_foreach(json_object_get(c->body, "items"), i, it)
        json_object_set_new(it, "own", json_boolean(json_integer_value(json_object_get(it, "own")) != 0));
}

typedef struct pw_recon_audit {
    wk_web_call *c;
    const int64_t *id;
    const wk_pay_recon_report *rep;
    int64_t now_ms;
} pw_recon_audit;

static wk_err pw__audit_recon(void *ctx, wk_store *st, wk_diag *d)
{
    pw_recon_audit *a = ctx;
    pw_req *q = a->c->arg;
    json_t *j = wk_serve_pay_report_json(q->bill.channel, a->rep);
    if (j)
        json_object_del(j, "discrepancies");
    char *after = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!after)
        return wk_diag_set(d, WK_ENOMEM, "audit: out of memory");
    wk_err e = wk_auth_audit(st, &a->c->sess.user, "reconciliation", "reconciliation", *a->id, q->reason, "{}", after,
                             a->now_ms, d);
    free(after);
    return e;
}

static void pw__op_recon_post(wk_web_call *c, const wk_serve_env *env)
{
    pw_req *q = c->arg;
    if (!wk_web_role(c, PW_MONEY, "admin or finance"))
        return;
    wk_pay_recon_report *rep = wk_calloc(1, sizeof *rep);
    if (!rep) {
        wk_web_fail(c, 500, "internal", NULL, "out of memory");
        return;
    }
    int64_t id = 0;
    pw_recon_audit a = {.c = c, .id = &id, .rep = rep, .now_ms = env->now_ms};
    wk_diag d = {{0}};
    wk_err e = wk_serve_pay_reconcile_run(env, &q->bill, c->sess.user.company_id, c->sess.user.id, pw__audit_recon,
                                          &a, rep, &id, &d);
    wk_free(rep);
    if (e) {
        pw__fail_pay(c, e, &d);
        return;
    }
    pw__recon_one(c, env, id);
    if (c->status == 200)
        c->status = 201;
}

/* ---- GET /api/v1/orders/{no} with a session (called by serve_pay.c) ---- */

int wk_web_payments_order_get(wk_http_req *req, wk_http_resp *resp)
{
    const char *no = wk_http_req_path_rest(req);
    size_t n = no ? strlen(no) : 0;
    if (!n || n >= WK_PAY_OUT_TRADE_NO_MAX || strchr(no, '/'))
        return wk_web_err(resp, 404, "not_found", "no such order", NULL);
    pw_req q = {0};
    memcpy(q.out_trade_no, no, n + 1);
    wk_web_call c;
    wk_web_call_init(&c, req, true);
    c.op = pw__op_orders;
    c.arg = &q;
    return wk_web_run(&c, resp);
}

/* ---- HTTP side: parsing ---- */

/* "channel-N" / "counter-N" into q->src, q->n, q->id_text. */
static bool pw__parse_id(const char *s, size_t len, pw_req *q)
{
    if (len > 8 && !memcmp(s, "channel-", 8) && wk_web_id(s + 8, len - 8, &q->n))
        q->src = 'h';
    else if (len > 8 && !memcmp(s, "counter-", 8) && wk_web_id(s + 8, len - 8, &q->n))
        q->src = 'c';
    else
        return false;
    snprintf(q->id_text, sizeof q->id_text, "%s-%lld", q->src == 'h' ? "channel" : "counter", (long long)q->n);
    return true;
}

/* ?from=YYYY-MM-DD&to=YYYY-MM-DD: Beijing days, both inclusive. */
static bool pw__dates(wk_http_req *req, wk_http_resp *resp, pw_req *q, int *rc)
{
    static const char *const names[] = {"from", "to"};
    const int64_t cst_ms = INT64_C(8) * 3600 * 1000, day_ms = INT64_C(86400000);
    for (int i = 0; i < 2; i++) {
        const char *v = wk_http_req_query(req, names[i]);
        if (!v)
            continue;
        int64_t days;
        wk_diag d = {{0}};
        if (wk_date_parse(v, strlen(v), &days, &d) || days < 0 || days > 200000) {
            *rc = wk_web_err(resp, 400, "invalid", "expected a date YYYY-MM-DD (China time)", names[i]);
            return false;
        }
        if (i == 0)
            q->from_ms = days * day_ms - cst_ms;
        else
            q->to_ms = (days + 1) * day_ms - cst_ms;
    }
    if (q->from_ms && q->to_ms && q->to_ms <= q->from_ms) {
        *rc = wk_web_err(resp, 400, "invalid", "to is before from", "to");
        return false;
    }
    return true;
}

static bool pw__page(wk_http_req *req, wk_http_resp *resp, pw_req *q, int *rc)
{
    return wk_web_qint(req, resp, "limit", 1, 200, 50, &q->limit, rc) &&
           wk_web_qint(req, resp, "offset", 0, INT64_C(1000000000), 0, &q->offset, rc) &&
           wk_web_qint(req, resp, "account", 1, INT64_C(1) << 53, 0, &q->account, rc);
}

/* GET /api/v1/payments[?account&channel&from&to&limit&offset], /api/v1/payments/{id} */
static int pw__payments(wk_http_req *req, wk_http_resp *resp, void *ctx)
{
    (void)ctx;
    pw_req q = {0};
    int rc = 0;
    const char *rest = strcmp(wk_http_req_path(req), "/api/v1/payments") ? wk_http_req_path_rest(req) : NULL;
    if (rest && !pw__parse_id(rest, strlen(rest), &q))
        return wk_web_err(resp, 404, "not_found", "no such payment", NULL);
    static const char *const channels[] = {"wechat", "alipay", "counter", NULL};
    if (!rest && (!pw__page(req, resp, &q, &rc) || !wk_web_qword(req, resp, "channel", channels, &q.channel, &rc) ||
                  !pw__dates(req, resp, &q, &rc)))
        return rc;
    wk_web_call c;
    wk_web_call_init(&c, req, true);
    c.op = pw__op_payments;
    c.arg = &q;
    return wk_web_run(&c, resp);
}

/* GET /api/v1/refunds[?account&channel&from&to&limit&offset] */
static int pw__refunds(wk_http_req *req, wk_http_resp *resp, void *ctx)
{
    (void)ctx;
    pw_req q = {0};
    int rc = 0;
    static const char *const channels[] = {"wechat", "alipay", "counter", NULL};
    if (!pw__page(req, resp, &q, &rc) || !wk_web_qword(req, resp, "channel", channels, &q.channel, &rc) ||
        !pw__dates(req, resp, &q, &rc))
        return rc;
    wk_web_call c;
    wk_web_call_init(&c, req, true);
    c.op = pw__op_refunds;
    c.arg = &q;
    return wk_web_run(&c, resp);
}

/* GET /api/v1/orders[?state&account&channel&limit&offset] */
static int pw__orders(wk_http_req *req, wk_http_resp *resp, void *ctx)
{
    (void)ctx;
    pw_req q = {0};
    int rc = 0;
    static const char *const channels[] = {"wechat", "alipay", NULL};
    static const char *const states[] = {"created", "paid", "credited", "closed", "expired", NULL};
    if (!pw__page(req, resp, &q, &rc) || !wk_web_qword(req, resp, "channel", channels, &q.channel, &rc) ||
        !wk_web_qword(req, resp, "state", states, &q.state, &rc))
        return rc;
    wk_web_call c;
    wk_web_call_init(&c, req, true);
    c.op = pw__op_orders;
    c.arg = &q;
    return wk_web_run(&c, resp);
}

/* amount_fen: a positive integer up to 10^8 fen (one million yuan). */
static bool pw__amount(json_t *j, pw_req *q, wk_http_resp *resp, int *rc)
{
    json_t *v = json_object_get(j, "amount_fen");
    if (!json_is_integer(v) || json_integer_value(v) <= 0 || json_integer_value(v) > INT64_C(100000000)) {
        *rc = wk_web_err(resp, 400, "invalid", "expected an integer number of fen, 1..100000000", "amount_fen");
        return false;
    }
    q->amount_fen = json_integer_value(v);
    return true;
}

static bool pw__idem(json_t *j, pw_req *q, wk_http_resp *resp, int *rc)
{
    json_t *v = json_object_get(j, "id");
    size_t n;
    if (!json_is_string(v) || json_string_length(v) != 32 ||
        wk_hex_decode(json_string_value(v), 32, q->idem, sizeof q->idem, &n) || n != 16) {
        *rc = wk_web_err(resp, 400, "invalid", "expected 32 hex digits (the idempotency key: the same for a retry)",
                         "id");
        return false;
    }
    return true;
}

static bool pw__reason(json_t *j, pw_req *q, wk_http_resp *resp, int *rc)
{
    const char *r = wk_web_str(j, "reason", 200, resp, rc);
    if (!r)
        return false;
    snprintf(q->reason, sizeof q->reason, "%s", r);
    return true;
}

/* POST /api/v1/payments/counter {"account_id", "amount_fen", "method": cash|card|transfer,
 * "reason", "id": 32 hex}; POST /api/v1/payments/{id}/refund {"amount_fen", "reason", "id"} */
static int pw__payments_post(wk_http_req *req, wk_http_resp *resp, void *ctx)
{
    (void)ctx;
    const char *rest = wk_http_req_path_rest(req);
    pw_req *q = wk_calloc(1, sizeof *q);
    if (!q)
        return -1;
    bool counter = !strcmp(wk_http_req_path(req), "/api/v1/payments/counter");
    int rc = 0;
    if (!counter) {
        const char *slash = rest ? strchr(rest, '/') : NULL;
        if (!slash || strcmp(slash, "/refund") || !pw__parse_id(rest, (size_t)(slash - rest), q)) {
            wk_free(q);
            return wk_web_err(resp, 404, "not_found", "no such route", NULL);
        }
    }
    json_t *j = wk_web_json_body(req, resp, &rc);
    if (!j) {
        wk_free(q);
        return rc;
    }
    static const char *const counter_keys[] = {"account_id", "amount_fen", "method", "reason", "id", NULL};
    static const char *const refund_keys[] = {"amount_fen", "reason", "id", NULL};
    bool ok = wk_web_only(j, counter ? counter_keys : refund_keys, resp, &rc);
    if (ok && counter) {
        json_t *acc = json_object_get(j, "account_id");
        if (!json_is_integer(acc) || json_integer_value(acc) <= 0) {
            rc = wk_web_err(resp, 400, "invalid", "expected a positive integer", "account_id");
            ok = false;
        } else {
            q->account = json_integer_value(acc);
        }
    }
    ok = ok && pw__amount(j, q, resp, &rc);
    if (ok && counter) {
        json_t *m = json_object_get(j, "method");
        const char *ms = json_is_string(m) ? json_string_value(m) : "";
        if (!strcmp(ms, "cash"))
            q->method = WK_PAY_CASH;
        else if (!strcmp(ms, "card"))
            q->method = WK_PAY_CARD;
        else if (!strcmp(ms, "transfer"))
            q->method = WK_PAY_BANK_TRANSFER;
        else {
            rc = wk_web_err(resp, 400, "invalid", "expected cash, card or transfer", "method");
            ok = false;
        }
    }
    ok = ok && pw__reason(j, q, resp, &rc) && pw__idem(j, q, resp, &rc);
    json_decref(j);
    if (!ok) {
        wk_free(q);
        return rc;
    }
    wk_web_call c;
    wk_web_call_init(&c, req, true);
    c.arg = q;
    if (counter) {
        c.op = pw__op_counter;
        rc = wk_web_run(&c, resp);
        wk_free(q);
        return rc;
    }
    /* our refund number for the channel: derived from the idempotency key, so a retry
     * asks the channel with the same number and books its one refund */
    char hex[33];
    wk_hex_encode(q->idem, 16, hex, sizeof hex);
    snprintf(q->out_refund_no, sizeof q->out_refund_no, "WR%s", hex);
    c.op = pw__op_refund;
    wk_web_exec(&c);
    if (c.status < 400 && q->need_channel) {
        wk_diag d = {{0}};
        wk_err e = wk_serve_pay_channel_refund(&q->o, q->out_refund_no, q->amount_fen, q->reason, &q->r, &d);
        if (e) {
            json_decref(c.body);
            wk_free(q);
            return wk_web_err(resp, e == WK_EINVAL || e == WK_ERANGE ? 400 : 502, "channel", d.msg, NULL);
        }
        json_decref(c.body);
        c.body = NULL;
        q->need_channel = false;
        q->book = true;
        wk_web_exec(&c);
    }
    rc = wk_web_answer(&c, resp);
    wk_free(q);
    return rc;
}

/* GET /api/v1/reconciliations[?channel&limit&offset], /api/v1/reconciliations/{id} */
static int pw__recons(wk_http_req *req, wk_http_resp *resp, void *ctx)
{
    (void)ctx;
    pw_req q = {0};
    int rc = 0;
    const char *rest =
        strcmp(wk_http_req_path(req), "/api/v1/reconciliations") ? wk_http_req_path_rest(req) : NULL;
    if (rest && !wk_web_id(rest, strlen(rest), &q.n))
        return wk_web_err(resp, 404, "not_found", "no such reconciliation", NULL);
    static const char *const channels[] = {"wechat", "alipay", NULL};
    if (!rest && (!wk_web_qint(req, resp, "limit", 1, 200, 50, &q.limit, &rc) ||
                  !wk_web_qint(req, resp, "offset", 0, INT64_C(1000000000), 0, &q.offset, &rc) ||
                  !wk_web_qword(req, resp, "channel", channels, &q.channel, &rc)))
        return rc;
    wk_web_call c;
    wk_web_call_init(&c, req, true);
    c.op = pw__op_recons;
    c.arg = &q;
    return wk_web_run(&c, resp);
}

/* POST /api/v1/reconciliations?channel=wechat|alipay, body = the channel's bill file */
static int pw__recon_post(wk_http_req *req, wk_http_resp *resp, void *ctx)
{
    (void)ctx;
    wk_pay_channel ch;
    if (wk_pay_channel_parse(wk_http_req_query(req, "channel"), &ch, NULL))
        return wk_web_err(resp, 400, "invalid", "expected ?channel=wechat or ?channel=alipay", "channel");
    size_t len;
    const char *body = wk_http_req_body(req, &len);
    pw_req *q = wk_calloc(1, sizeof *q);
    if (!q)
        return -1;
    wk_diag d = {{0}};
    int rc;
    if (!body || !len) {
        rc = wk_web_err(resp, 400, "bad_bill", "the body must be the channel's bill file", "bill");
    } else if (wk_pay_bill_parse(ch, body, len, &q->bill, &d)) {
        rc = wk_web_err(resp, 400, "bad_bill", d.msg, "bill");
    } else {
        snprintf(q->reason, sizeof q->reason, "%s bill upload", wk_pay_channel_str(ch));
        wk_web_call c;
        wk_web_call_init(&c, req, true);
        c.op = pw__op_recon_post;
        c.arg = q;
        rc = wk_web_run(&c, resp);
        wk_pay_bill_free(&q->bill);
    }
    wk_free(q);
    return rc;
}

const wk_http_route wk_web_payments_routes[] = {
    {"GET", "/api/v1/payments", pw__payments, NULL, 0, "payments"},
    {"GET", "/api/v1/payments/*", pw__payments, NULL, 0, "payment"},
    {"POST", "/api/v1/payments/*", pw__payments_post, NULL, PW_BODY_MAX, "payment_post"},
    {"GET", "/api/v1/orders", pw__orders, NULL, 0, "orders_list"},
    {"GET", "/api/v1/refunds", pw__refunds, NULL, 0, "refunds_list"},
    {"GET", "/api/v1/reconciliations", pw__recons, NULL, 0, "reconciliations"},
    {"GET", "/api/v1/reconciliations/*", pw__recons, NULL, 0, "reconciliation"},
    {"POST", "/api/v1/reconciliations", pw__recon_post, NULL, PW_BILL_MAX, "reconciliation_post"},
};
const size_t wk_web_payments_nroutes = sizeof wk_web_payments_routes / sizeof wk_web_payments_routes[0];
