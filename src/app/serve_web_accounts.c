/*
 * serve_web_accounts.c - the staff account lifecycle of the web API (serve_web.h):
 *
 *   POST /api/v1/accounts                    open an account on a unit without one (move-in)
 *   POST /api/v1/accounts/{id}/move-out      final settlement, account closed, relay held open
 *   POST /api/v1/accounts/{id}/vacancy       mark the unit vacant / end the vacancy
 *   POST /api/v1/accounts/{id}/transfer      prepaid money from one account to another
 *
 * The /api/v1/accounts/{id}/... routes share the prefix route of serve_http.c with the admin
 * token's /credits; it hands every other suffix to wk_web_accounts_post.
 *
 * Nothing here books money by itself: the wallet is opened by the registry
 * (wk_headend_account_open), the settlement is the counter's (wk_pay_settle_with), a
 * transfer is a head-end credit from the other wallet (wk_headend_credit_with, so the relay
 * policy of the receiving account runs), holds go through wk_headend_set_hold. Each op checks
 * the role, then tenancy (another company's object answers 404 like a missing one), then
 * every precondition that can refuse the request, and only then writes: a rejected request
 * changes nothing. Every change carries its audit row (who, what, reason, before/after) in
 * the transaction that makes it.
 *
 * A move-out is two transactions, each with its audit row: first the hold (vacant: the
 * policy queues the trip while the account is still open), then the settlement that closes
 * the account. Everything that could refuse the settlement was checked before the hold on
 * this same main-loop thread (nothing else books in between); should the settlement still
 * fail (I/O), the hold is put back as it was.
 */
#include <jansson.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "app/serve_web.h"
#include "core/civil.h"
#include "core/log.h"
#include "core/units.h"
#include "headend/headend.h"
#include "ledger/ledger.h"
#include "pay/pay.h"
#include "proto/encoding.h"

#define ACC_BODY_MAX 4096
#define ACC_REASON_MAX 200 /* the counter's limit (pay_counter.reason) */
#define ACC_HOLDER_MAX 128
#define ACC_AMOUNT_MAX INT64_C(100000000) /* fen: 1,000,000 yuan */
#define ACC_AUDIT_MAX 512

typedef enum acc_settle { ACC_REFUND_CASH = 1, ACC_CARRY_OVER, ACC_KEEP } acc_settle;

/* The request's inputs (parsed on the HTTP thread) and what the op found and did. */
typedef struct acc_in {
    /* open */
    int64_t unit_id;
    const char *holder, *kind, *phone;
    int64_t opened_s; /* 0 = now */
    /* move-out */
    int64_t date_s; /* 0 = now */
    bool has_reading;
    int64_t reading_wh;
    acc_settle settle;
    const char *settle_word;
    int64_t to_account; /* move-out carry_over, transfer */
    /* vacancy */
    bool vacant;
    /* transfer */
    int64_t amount_fen; /* 0 = all */
    /* what the op read (state before) */
    int64_t now_ms;
    char before[ACC_AUDIT_MAX], after[ACC_AUDIT_MAX];
    const char *audit_action;
    int64_t audit_id;
} acc_in;

/* An account's state as the ops need it. */
typedef struct acc_state {
    int64_t id, unit_id, wallet_id;
    bool open, vacant;
    int64_t guarantee_until_s;
    int64_t balance_fen;
    int64_t meter_id; /* 0 = no meter on the unit */
    char relay[16];
    bool has_register;
    int64_t register_wh; /* the meter's last stored total register */
} acc_state;

/* Reads the account (which the caller checked is visible). Fails c on error. */
static bool acc__state(wk_web_call *c, const wk_serve_env *env, int64_t id, acc_state *a)
{
    wk_diag d = {{0}};
    wk_stmt *st;
    memset(a, 0, sizeof *a);
    if (wk_store_prepare(env->st,
                         "SELECT a.unit_id, a.wallet_account_id, a.status, a.vacant, a.guarantee_until_s,"
                         " m.id, m.relay, m.last_total_wh FROM account a"
                         " LEFT JOIN meter m ON m.unit_id = a.unit_id WHERE a.id = ?",
                         &st, &d)) {
        wk_web_internal(c, &d);
        return false;
    }
    bool row = false;
    wk_err e = wk_stmt_bind_i64(st, 1, id);
    if (!e)
        e = wk_stmt_step(st, &row, &d);
    if (!e && row) {
        size_t n;
        a->id = id;
        a->unit_id = wk_stmt_i64(st, 0);
        a->wallet_id = wk_stmt_i64(st, 1);
        const char *s = wk_stmt_text(st, 2, &n);
        a->open = n == 4 && !memcmp(s, "open", 4);
        a->vacant = wk_stmt_i64(st, 3) != 0;
        a->guarantee_until_s = wk_stmt_i64(st, 4);
        a->meter_id = wk_stmt_is_null(st, 5) ? 0 : wk_stmt_i64(st, 5);
        s = wk_stmt_is_null(st, 6) ? NULL : wk_stmt_text(st, 6, &n);
        snprintf(a->relay, sizeof a->relay, "%.*s", s ? (int)n : 0, s ? s : "");
        a->has_register = !wk_stmt_is_null(st, 7);
        a->register_wh = a->has_register ? wk_stmt_i64(st, 7) : 0;
    }
    wk_stmt_reset(st);
    if (e) {
        wk_web_internal(c, &d);
        return false;
    }
    if (!row) {
        wk_web_fail(c, 404, "not_found", NULL, "no such account");
        return false;
    }
    wk_account w;
    if ((e = wk_ledger_account_get(env->lg, a->wallet_id, &w, &d))) {
        wk_web_internal(c, &d);
        return false;
    }
    a->balance_fen = w.balance_fen;
    return true;
}

/* Commits what the head-end batched so far, so that the checks below see every booked
 * deduction; nothing else runs on this thread until the op returns. */
static bool acc__flush(wk_web_call *c, const wk_serve_env *env)
{
    wk_diag d = {{0}};
    if (wk_headend_flush(env->hd, env->now_ms, &d)) {
        wk_web_internal(c, &d);
        return false;
    }
    return true;
}

/* The audit row prepared in in->before/after, for the transaction hooks. */
static wk_err acc__audit_hook(void *ctx, wk_store *st, wk_diag *d)
{
    wk_web_call *c = ctx;
    acc_in *in = c->arg;
    return wk_auth_audit(st, &c->sess.user, in->audit_action, "account", in->audit_id, c->reason,
                         in->before, in->after, in->now_ms, d);
}

static const char *acc__bool(bool b)
{
    return b ? "true" : "false";
}

/* A JSON value for an optional integer: the number or null. */
static const char *acc__opt(bool has, int64_t v, char *buf, size_t n)
{
    if (!has)
        return "null";
    snprintf(buf, n, "%lld", (long long)v);
    return buf;
}

static json_t *acc__money(json_t *o, const char *name, int64_t fen)
{
    char buf[32], key[64];
    snprintf(key, sizeof key, "%s_fen", name);
    if (o && (json_object_set_new(o, key, json_integer(fen)) ||
              json_object_set_new(o, name, json_string(wk_dec_format(fen, 2, 2, buf, sizeof buf))))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static void acc__answer(wk_web_call *c, json_t *body, int status)
{
    if (!body) {
        wk_web_fail(c, 500, "internal", NULL, "out of memory");
        return;
    }
    c->body = body;
    c->status = status;
}

/* ---- POST /api/v1/accounts: open (move-in) ---- */

static void acc__op_open(wk_web_call *c, const wk_serve_env *env)
{
    acc_in *in = c->arg;
    in->now_ms = env->now_ms;
    if (!wk_web_role(c, WK_WEB_ADMIN | WK_WEB_SERVICE, "admin or service"))
        return;
    wk_diag d = {{0}};
    wk_stmt *st;
    /* the unit must be in the caller's scope (404 otherwise, like a missing unit) */
    if (wk_store_prepare(env->st,
                         "SELECT m.id, m.last_total_wh, (SELECT max(id) FROM account x WHERE x.unit_id = u.id),"
                         " (SELECT x.id FROM account x WHERE x.unit_id = u.id AND x.status = 'open')"
                         " FROM unit u JOIN building b ON b.id = u.building_id"
                         " JOIN community c ON c.id = b.community_id LEFT JOIN meter m ON m.unit_id = u.id"
                         " WHERE u.id = ?3 AND " WK_WEB_SCOPE("c", "?1", "?2"),
                         &st, &d)) {
        wk_web_internal(c, &d);
        return;
    }
    bool row = false;
    wk_err e = wk_stmt_bind_i64(st, 1, c->sess.user.company_id);
    if (!e)
        e = wk_web_bind_scope_user(st, 2, c);
    if (!e)
        e = wk_stmt_bind_i64(st, 3, in->unit_id);
    if (!e)
        e = wk_stmt_step(st, &row, &d);
    int64_t meter_id = 0, prev = 0, start_wh = 0;
    bool has_start = false, has_open = false;
    if (!e && row) {
        meter_id = wk_stmt_is_null(st, 0) ? 0 : wk_stmt_i64(st, 0);
        has_start = !wk_stmt_is_null(st, 1);
        start_wh = has_start ? wk_stmt_i64(st, 1) : 0;
        prev = wk_stmt_is_null(st, 2) ? 0 : wk_stmt_i64(st, 2);
        has_open = !wk_stmt_is_null(st, 3);
    }
    wk_stmt_reset(st);
    if (e) {
        wk_web_internal(c, &d);
        return;
    }
    if (!row) {
        wk_web_fail(c, 404, "not_found", "unit_id", "no such unit");
        return;
    }
    if (has_open) {
        wk_web_fail(c, 409, "conflict", "unit_id", "the unit already has an open account: move it out first");
        return;
    }
    if (!acc__flush(c, env))
        return;
    wk_headend_account_new na = {.unit_id = in->unit_id,
                                 .holder = in->holder,
                                 .kind = in->kind,
                                 .opened_s = in->opened_s ? in->opened_s : env->now_ms / 1000,
                                 .created_s = env->now_ms / 1000};
    int64_t id = 0, wallet = 0;
    if ((e = wk_store_begin(env->st, &d))) {
        wk_web_internal(c, &d);
        return;
    }
    e = wk_headend_account_open(env->hd, &na, &id, &wallet, &d);
    if (e == WK_ECONFLICT) {
        wk_store_rollback(env->st);
        wk_web_fail(c, 409, "conflict", "unit_id", "the unit already has an open account: move it out first");
        return;
    }
    if (!e && in->phone) { /* the holder's SMS contact (notify_contact, as `notify contact`) */
        wk_stmt *cs;
        if (!(e = wk_store_prepare(env->st,
                                   "INSERT INTO notify_contact (account_id, community_id, channel, address, lang)"
                                   " VALUES (?, 0, 'sms', ?, 'zh-CN')",
                                   &cs, &d))) {
            bool crow;
            if (!(e = wk_stmt_bind_i64(cs, 1, id)) && !(e = wk_stmt_bind_text(cs, 2, in->phone, strlen(in->phone))))
                e = wk_stmt_step(cs, &crow, &d);
            wk_stmt_reset(cs);
        }
    }
    if (!e) {
        char b1[24];
        snprintf(in->before, sizeof in->before, "{\"unit_id\":%lld,\"open_account\":null,\"previous_account\":%s}",
                 (long long)in->unit_id, acc__opt(prev != 0, prev, b1, sizeof b1));
        json_t *aj = json_pack("{s:s, s:s, s:s, s:I, s:I, s:o, s:b}", "status", "open", "holder", in->holder, "kind",
                               in->kind, "opened_s", (json_int_t)na.opened_s, "wallet_account_id", (json_int_t)wallet,
                               "start_wh", has_start ? json_integer(start_wh) : json_null(), "phone", in->phone != NULL);
        size_t n = aj ? json_dumpb(aj, in->after, sizeof in->after - 1, JSON_COMPACT | JSON_SORT_KEYS) : 0;
        json_decref(aj);
        if (n == 0 || n >= sizeof in->after)
            e = wk_diag_set(&d, WK_ENOMEM, "audit record too large");
        else
            in->after[n] = '\0';
    }
    if (!e) {
        in->audit_action = "account_open";
        in->audit_id = id;
        e = acc__audit_hook(c, env->st, &d);
    }
    if (!e)
        e = wk_store_commit(env->st, &d);
    else
        wk_store_rollback(env->st);
    if (e) {
        wk_web_internal(c, &d);
        return;
    }
    /* the balance decides the relay of the new account at once (it starts at 0: a
     * moved-out unit stays tripped until the first top-up); if this fails, the next
     * reading runs the same policy */
    wk_diag pd = {{0}};
    if (wk_headend_set_hold(env->hd, id, false, 0, "move_in", c->reason, env->now_ms, NULL, NULL, &pd))
        wk_log(WK_LOG_WARN, "accounts", "account=%lld move-in policy: %s", (long long)id, pd.msg);
    json_t *o = json_pack("{s:I, s:I, s:s, s:s, s:s, s:I, s:b, s:I, s:o, s:o, s:b}", "id", (json_int_t)id,
                          "unit_id", (json_int_t)in->unit_id, "holder", in->holder, "kind", in->kind, "status",
                          "open", "opened_s", (json_int_t)na.opened_s, "vacant", 0, "wallet_account_id",
                          (json_int_t)wallet, "meter_id", meter_id ? json_integer(meter_id) : json_null(),
                          "start_wh", has_start ? json_integer(start_wh) : json_null(), "phone_added",
                          in->phone != NULL);
    if (o)
        json_object_set_new(o, "previous_account", prev ? json_integer(prev) : json_null());
    acc__answer(c, acc__money(o, "balance", 0), 201);
}

/* ---- POST /api/v1/accounts/{id}/move-out ---- */

static void acc__op_move_out(wk_web_call *c, const wk_serve_env *env)
{
    acc_in *in = c->arg;
    in->now_ms = env->now_ms;
    if (!wk_web_role(c, WK_WEB_ADMIN | WK_WEB_SERVICE | WK_WEB_FINANCE, "admin, service or finance"))
        return;
    if (!wk_web_account_visible(c, env, c->id, NULL))
        return;
    if (in->settle == ACC_CARRY_OVER && !wk_web_account_visible(c, env, in->to_account, NULL)) {
        c->field = "to_account";
        return;
    }
    if (!acc__flush(c, env))
        return;
    acc_state a, b = {0};
    if (!acc__state(c, env, c->id, &a) || (in->settle == ACC_CARRY_OVER && !acc__state(c, env, in->to_account, &b)))
        return;
    /* every refusal before anything is written */
    if (!a.open) {
        wk_web_fail(c, 409, "conflict", NULL, "the account is already closed");
        return;
    }
    if (in->settle == ACC_CARRY_OVER && !b.open) {
        wk_web_fail(c, 409, "conflict", "to_account", "the account to carry over to is closed");
        return;
    }
    if (a.balance_fen < 0) {
        char m[128];
        snprintf(m, sizeof m, "the account owes %lld fen: take a counter payment first", (long long)-a.balance_fen);
        wk_web_fail(c, 409, "conflict", "balance", m);
        return;
    }
    /* the counter books "move-out settlement (<method>) by <login>: <reason>" as the ledger
     * transfer's reason, which the ledger bounds */
    if (strlen("move-out settlement (carry_over) by : ") + strlen(c->sess.user.login) + strlen(c->reason) >
        WK_TRANSFER_REASON_MAX) {
        wk_web_fail(c, 400, "invalid", "reason", "too long for the ledger's transfer reason");
        return;
    }
    if (in->has_reading && !a.meter_id) {
        wk_web_fail(c, 409, "conflict", "reading_wh", "the unit has no meter");
        return;
    }
    if (in->has_reading && (!a.has_register || in->reading_wh > a.register_wh)) {
        char m[160];
        snprintf(m, sizeof m, "the meter has not reported %lld Wh yet (last %lld Wh): settle after its report",
                 (long long)in->reading_wh, (long long)a.register_wh);
        wk_web_fail(c, 409, "conflict", "reading_wh", m);
        return;
    }
    char b1[24], b2[24], b3[24];
    /* 1. the hold: vacant, so the policy trips the relay while the account is still open */
    in->audit_action = "account_vacancy";
    in->audit_id = a.id;
    snprintf(in->before, sizeof in->before,
             "{\"vacant\":%s,\"guarantee_until_s\":%lld,\"relay\":\"%s\",\"meter_id\":%s}", acc__bool(a.vacant),
             (long long)a.guarantee_until_s, a.relay, acc__opt(a.meter_id != 0, a.meter_id, b1, sizeof b1));
    snprintf(in->after, sizeof in->after, "{\"vacant\":true,\"guarantee_until_s\":0,\"cause\":\"move_out\"}");
    wk_diag d = {{0}};
    wk_err e = wk_headend_set_hold(env->hd, a.id, true, 0, "move_out", c->reason, env->now_ms, acc__audit_hook, c, &d);
    if (e) {
        wk_web_internal(c, &d);
        return;
    }
    /* 2. the settlement, which closes the account */
    in->audit_action = "account_move_out";
    snprintf(in->before, sizeof in->before,
             "{\"status\":\"open\",\"balance_fen\":%lld,\"to_account\":%s,\"to_balance_fen\":%s,\"register_wh\":%s}",
             (long long)a.balance_fen, acc__opt(in->settle == ACC_CARRY_OVER, in->to_account, b1, sizeof b1),
             acc__opt(in->settle == ACC_CARRY_OVER, b.balance_fen, b2, sizeof b2),
             acc__opt(a.has_register, a.register_wh, b3, sizeof b3));
    char b4[24], b5[24];
    snprintf(in->after, sizeof in->after,
             "{\"status\":\"closed\",\"balance_fen\":%lld,\"settle\":\"%s\",\"settled_fen\":%lld,\"to_balance_fen\":%s,"
             "\"date_s\":%lld,\"reading_wh\":%s,\"vacant\":true}",
             in->settle == ACC_KEEP ? (long long)a.balance_fen : 0LL, in->settle_word,
             in->settle == ACC_KEEP ? 0LL : (long long)a.balance_fen,
             acc__opt(in->settle == ACC_CARRY_OVER, b.balance_fen + a.balance_fen, b4, sizeof b4),
             (long long)(in->date_s ? in->date_s : env->now_ms / 1000),
             acc__opt(in->has_reading, in->reading_wh, b5, sizeof b5));
    int64_t settled = 0;
    if (in->settle == ACC_KEEP) { /* closed; the balance stays in the wallet (a liability) */
        if (!(e = wk_store_begin(env->st, &d))) {
            int64_t v[1] = {a.id};
            if (!(e = wk_store_run_i64(env->st, "UPDATE account SET status = 'closed' WHERE id = ? AND status = 'open'",
                                       v, 1, &d)) &&
                !(e = acc__audit_hook(c, env->st, &d)))
                e = wk_store_commit(env->st, &d);
            else
                wk_store_rollback(env->st);
        }
    } else {
        e = wk_pay_settle_with(env->hd, a.id, WK_PAY_CASH, in->settle == ACC_CARRY_OVER ? in->to_account : 0,
                               c->sess.user.login, c->reason, env->now_ms, acc__audit_hook, c, &settled, &d);
    }
    if (e) { /* not expected after the checks above: put the hold back as it was */
        wk_diag ud = {{0}};
        in->audit_action = "account_vacancy";
        snprintf(in->before, sizeof in->before, "{\"vacant\":true,\"guarantee_until_s\":0}");
        snprintf(in->after, sizeof in->after, "{\"vacant\":%s,\"guarantee_until_s\":%lld,\"cause\":\"move_out_failed\"}",
                 acc__bool(a.vacant), (long long)a.guarantee_until_s);
        if (wk_headend_set_hold(env->hd, a.id, a.vacant, a.guarantee_until_s, "move_out_failed", c->reason, env->now_ms,
                                acc__audit_hook, c, &ud))
            wk_log(WK_LOG_ERROR, "accounts", "account=%lld hold not restored: %s", (long long)a.id, ud.msg);
        wk_web_internal(c, &d);
        return;
    }
    json_t *o = json_pack("{s:I, s:s, s:s, s:b, s:o, s:o, s:o}", "account_id", (json_int_t)a.id, "status", "closed",
                          "settle", in->settle_word, "vacant", 1, "to_account",
                          in->settle == ACC_CARRY_OVER ? json_integer(in->to_account) : json_null(), "meter_id",
                          a.meter_id ? json_integer(a.meter_id) : json_null(), "reading_wh",
                          in->has_reading ? json_integer(in->reading_wh) : json_null());
    o = acc__money(o, "settled", settled);
    o = acc__money(o, "balance", in->settle == ACC_KEEP ? a.balance_fen : 0);
    acc__answer(c, o, 200);
}

/* ---- POST /api/v1/accounts/{id}/vacancy ---- */

static void acc__op_vacancy(wk_web_call *c, const wk_serve_env *env)
{
    acc_in *in = c->arg;
    in->now_ms = env->now_ms;
    if (!wk_web_role(c, WK_WEB_ADMIN | WK_WEB_SERVICE, "admin or service"))
        return;
    if (!wk_web_account_visible(c, env, c->id, NULL) || !acc__flush(c, env))
        return;
    acc_state a;
    if (!acc__state(c, env, c->id, &a))
        return;
    if (!a.open) {
        wk_web_fail(c, 409, "conflict", NULL, "the account is closed");
        return;
    }
    char b1[24];
    in->audit_action = "account_vacancy";
    in->audit_id = a.id;
    snprintf(in->before, sizeof in->before,
             "{\"vacant\":%s,\"guarantee_until_s\":%lld,\"relay\":\"%s\",\"meter_id\":%s}", acc__bool(a.vacant),
             (long long)a.guarantee_until_s, a.relay, acc__opt(a.meter_id != 0, a.meter_id, b1, sizeof b1));
    snprintf(in->after, sizeof in->after, "{\"vacant\":%s,\"guarantee_until_s\":0}", acc__bool(in->vacant));
    wk_diag d = {{0}};
    if (wk_headend_set_hold(env->hd, a.id, in->vacant, 0, in->vacant ? "vacant_on" : "vacant_off", c->reason,
                            env->now_ms, acc__audit_hook, c, &d)) {
        wk_web_internal(c, &d);
        return;
    }
    acc__answer(c,
                json_pack("{s:I, s:b, s:I, s:o}", "account_id", (json_int_t)a.id, "vacant", (int)in->vacant,
                          "guarantee_until_s", (json_int_t)0, "meter_id",
                          a.meter_id ? json_integer(a.meter_id) : json_null()),
                200);
}

/* ---- POST /api/v1/accounts/{id}/transfer ---- */

static void acc__op_transfer(wk_web_call *c, const wk_serve_env *env)
{
    acc_in *in = c->arg;
    in->now_ms = env->now_ms;
    if (!wk_web_role(c, WK_WEB_ADMIN | WK_WEB_SERVICE, "admin or service"))
        return;
    if (!wk_web_account_visible(c, env, c->id, NULL))
        return;
    if (!wk_web_account_visible(c, env, in->to_account, NULL)) {
        c->field = "to_account";
        return;
    }
    if (!acc__flush(c, env))
        return;
    acc_state a, b;
    if (!acc__state(c, env, c->id, &a) || !acc__state(c, env, in->to_account, &b))
        return;
    if (!b.open) {
        wk_web_fail(c, 409, "conflict", "to_account", "the receiving account is closed");
        return;
    }
    int64_t amount = in->amount_fen ? in->amount_fen : a.balance_fen;
    if (amount <= 0) {
        wk_web_fail(c, 409, "conflict", "amount_fen", "the account holds nothing to transfer");
        return;
    }
    if (amount > a.balance_fen) {
        char m[128];
        snprintf(m, sizeof m, "the account holds %lld fen", (long long)(a.balance_fen > 0 ? a.balance_fen : 0));
        wk_web_fail(c, 409, "conflict", "amount_fen", m);
        return;
    }
    uint8_t tid[16];
    if (RAND_bytes(tid, sizeof tid) != 1) {
        wk_web_fail(c, 500, "internal", NULL, "no randomness for the transfer id");
        return;
    }
    char hex[33];
    wk_hex_encode(tid, sizeof tid, hex, sizeof hex);
    in->audit_action = "account_transfer";
    in->audit_id = a.id;
    snprintf(in->before, sizeof in->before,
             "{\"balance_fen\":%lld,\"to_account\":%lld,\"to_balance_fen\":%lld}", (long long)a.balance_fen,
             (long long)b.id, (long long)b.balance_fen);
    snprintf(in->after, sizeof in->after,
             "{\"balance_fen\":%lld,\"to_account\":%lld,\"to_balance_fen\":%lld,\"amount_fen\":%lld,"
             "\"transfer_id\":\"%s\"}",
             (long long)(a.balance_fen - amount), (long long)b.id, (long long)(b.balance_fen + amount),
             (long long)amount, hex);
    char why[WK_TRANSFER_REASON_MAX + 1];
    snprintf(why, sizeof why, "shop transfer from account %lld by %s: %.*s", (long long)a.id, c->sess.user.login,
             (int)(WK_TRANSFER_REASON_MAX - 120), c->reason);
    wk_diag d = {{0}};
    bool existed = false;
    wk_err e = wk_headend_credit_with(env->hd, b.id, amount, tid, a.wallet_id, why, env->now_ms, acc__audit_hook, c,
                                      &existed, &d);
    if (e == WK_ECONFLICT) { /* the source wallet's floor (not expected after the checks) */
        wk_web_fail(c, 409, "conflict", "amount_fen", d.msg);
        return;
    }
    if (e) {
        wk_web_internal(c, &d);
        return;
    }
    json_t *o = json_pack("{s:I, s:I, s:s}", "from_account", (json_int_t)a.id, "to_account", (json_int_t)b.id,
                          "transfer_id", hex);
    o = acc__money(o, "amount", amount);
    o = acc__money(o, "from_balance", a.balance_fen - amount);
    o = acc__money(o, "to_balance", b.balance_fen + amount);
    acc__answer(c, o, 200);
}

/* ---- HTTP side ---- */

/* "YYYY-MM-DD" (China time) as the Unix time of its midnight, +08:00. */
static bool acc__date(json_t *j, const char *key, int64_t *out, wk_http_resp *resp, int *rc)
{
    json_t *v = json_object_get(j, key);
    *out = 0;
    if (!v)
        return true;
    int64_t days;
    wk_diag d;
    if (!json_is_string(v) || json_string_length(v) != 10 ||
        wk_date_parse(json_string_value(v), 10, &days, &d) || days < 0) {
        *rc = wk_web_err(resp, 400, "invalid", "expected a date YYYY-MM-DD", key);
        return false;
    }
    *out = days * 86400 - 8 * 3600;
    return true;
}

/* An optional positive integer field up to max (0 when absent). */
static bool acc__int(json_t *j, const char *key, int64_t min, int64_t max, int64_t *out, wk_http_resp *resp,
                     int *rc)
{
    json_t *v = json_object_get(j, key);
    *out = 0;
    if (!v)
        return true;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        char m[96];
        snprintf(m, sizeof m, "expected an integer %lld..%lld", (long long)min, (long long)max);
        *rc = wk_web_err(resp, 400, "invalid", m, key);
        return false;
    }
    *out = json_integer_value(v);
    return true;
}

static int acc__required(wk_http_resp *resp, const char *key)
{
    return wk_web_err(resp, 400, "invalid", "required", key);
}

/* POST /api/v1/accounts {"unit_id", "holder", "kind": "resident"|"tenant", "phone"?,
 * "move_in": "YYYY-MM-DD"?, "reason"} (session + CSRF or API token; admin, service). */
static int acc__open(wk_http_req *req, wk_http_resp *resp, void *ctx)
{
    (void)ctx;
    wk_web_call c;
    wk_web_call_init(&c, req, true);
    acc_in in = {0};
    int rc = 0;
    json_t *j = wk_web_json_body(req, resp, &rc);
    if (!j)
        return rc;
    static const char *const keys[] = {"unit_id", "holder", "kind", "phone", "move_in", "reason", NULL};
    if (!wk_web_only(j, keys, resp, &rc))
        goto done;
    if (!json_object_get(j, "unit_id")) {
        rc = acc__required(resp, "unit_id");
        goto done;
    }
    if (!acc__int(j, "unit_id", 1, INT64_C(1) << 53, &in.unit_id, resp, &rc) ||
        !(in.holder = wk_web_str(j, "holder", ACC_HOLDER_MAX, resp, &rc)) ||
        !(in.kind = wk_web_str(j, "kind", 16, resp, &rc)))
        goto done;
    if (strcmp(in.kind, "resident") && strcmp(in.kind, "tenant")) {
        rc = wk_web_err(resp, 400, "invalid", "expected resident or tenant", "kind");
        goto done;
    }
    if (json_object_get(j, "phone")) {
        if (!(in.phone = wk_web_str(j, "phone", 21, resp, &rc)))
            goto done;
        size_t plus = in.phone[0] == '+', n = strlen(in.phone);
        if (n - plus < 5 || strspn(in.phone + plus, "0123456789") != n - plus) {
            rc = wk_web_err(resp, 400, "invalid", "expected a phone number: 5..20 digits, optionally after '+'",
                            "phone");
            goto done;
        }
    }
    if (!acc__date(j, "move_in", &in.opened_s, resp, &rc) ||
        !(c.reason = wk_web_str(j, "reason", ACC_REASON_MAX, resp, &rc)))
        goto done;
    c.arg = &in;
    c.op = acc__op_open;
    rc = wk_web_run(&c, resp);
done:
    json_decref(j);
    return rc;
}

static int acc__move_out(wk_http_req *req, wk_http_resp *resp, json_t *j, wk_web_call *c, acc_in *in)
{
    int rc = 0;
    static const char *const keys[] = {"date", "reading_wh", "settle", "to_account", "reason", NULL};
    static const char *const words[] = {[ACC_REFUND_CASH] = "refund_cash", [ACC_CARRY_OVER] = "carry_over",
                                        [ACC_KEEP] = "keep"};
    (void)req;
    if (!wk_web_only(j, keys, resp, &rc) || !acc__date(j, "date", &in->date_s, resp, &rc) ||
        !(in->settle_word = wk_web_str(j, "settle", 16, resp, &rc)))
        return rc;
    for (int i = ACC_REFUND_CASH; i <= ACC_KEEP; i++)
        if (!strcmp(in->settle_word, words[i])) {
            in->settle = (acc_settle)i;
            in->settle_word = words[i];
        }
    if (!in->settle)
        return wk_web_err(resp, 400, "invalid", "expected refund_cash, carry_over or keep", "settle");
    in->has_reading = json_object_get(j, "reading_wh") != NULL;
    if (!acc__int(j, "reading_wh", 0, INT64_C(1) << 50, &in->reading_wh, resp, &rc) ||
        !acc__int(j, "to_account", 1, INT64_C(1) << 53, &in->to_account, resp, &rc))
        return rc;
    if (in->settle == ACC_CARRY_OVER && !in->to_account)
        return wk_web_err(resp, 400, "invalid", "carry_over needs the account to carry over to", "to_account");
    if (in->settle != ACC_CARRY_OVER && in->to_account)
        return wk_web_err(resp, 400, "invalid", "only with settle carry_over", "to_account");
    if (in->to_account == c->id)
        return wk_web_err(resp, 400, "invalid", "the account itself", "to_account");
    if (!(c->reason = wk_web_str(j, "reason", ACC_REASON_MAX, resp, &rc)))
        return rc;
    c->op = acc__op_move_out;
    return wk_web_run(c, resp);
}

static int acc__vacancy(wk_http_resp *resp, json_t *j, wk_web_call *c, acc_in *in)
{
    int rc = 0;
    static const char *const keys[] = {"vacant", "reason", NULL};
    if (!wk_web_only(j, keys, resp, &rc))
        return rc;
    json_t *v = json_object_get(j, "vacant");
    if (!json_is_boolean(v))
        return wk_web_err(resp, 400, "invalid", "expected true or false", "vacant");
    in->vacant = json_is_true(v);
    if (!(c->reason = wk_web_str(j, "reason", ACC_REASON_MAX, resp, &rc)))
        return rc;
    c->op = acc__op_vacancy;
    return wk_web_run(c, resp);
}

static int acc__transfer(wk_http_resp *resp, json_t *j, wk_web_call *c, acc_in *in)
{
    int rc = 0;
    static const char *const keys[] = {"to_account", "amount_fen", "all", "reason", NULL};
    if (!wk_web_only(j, keys, resp, &rc))
        return rc;
    if (!json_object_get(j, "to_account"))
        return acc__required(resp, "to_account");
    if (!acc__int(j, "to_account", 1, INT64_C(1) << 53, &in->to_account, resp, &rc))
        return rc;
    if (in->to_account == c->id)
        return wk_web_err(resp, 400, "invalid", "the account itself", "to_account");
    json_t *all = json_object_get(j, "all");
    if (all && !json_is_true(all))
        return wk_web_err(resp, 400, "invalid", "expected true (or give amount_fen)", "all");
    if (!all == !json_object_get(j, "amount_fen"))
        return wk_web_err(resp, 400, "invalid", "give either amount_fen or \"all\": true", "amount_fen");
    if (!all && !acc__int(j, "amount_fen", 1, ACC_AMOUNT_MAX, &in->amount_fen, resp, &rc))
        return rc;
    if (!(c->reason = wk_web_str(j, "reason", ACC_REASON_MAX, resp, &rc)))
        return rc;
    c->op = acc__op_transfer;
    return wk_web_run(c, resp);
}

int wk_web_accounts_post(wk_http_req *req, wk_http_resp *resp, void *ctx)
{
    (void)ctx;
    const char *rest = wk_http_req_path_rest(req);
    const char *slash = rest ? strchr(rest, '/') : NULL;
    wk_web_call c;
    wk_web_call_init(&c, req, true);
    if (!slash || !wk_web_id(rest, (size_t)(slash - rest), &c.id) ||
        (strcmp(slash, "/move-out") && strcmp(slash, "/vacancy") && strcmp(slash, "/transfer")))
        return wk_web_err(resp, 404, "not_found", "no such route", NULL);
    int rc = 0;
    json_t *j = wk_web_json_body(req, resp, &rc);
    if (!j)
        return rc;
    acc_in in = {0};
    c.arg = &in;
    if (!strcmp(slash, "/move-out"))
        rc = acc__move_out(req, resp, j, &c, &in);
    else if (!strcmp(slash, "/vacancy"))
        rc = acc__vacancy(resp, j, &c, &in);
    else
        rc = acc__transfer(resp, j, &c, &in);
    json_decref(j);
    return rc;
}

const wk_http_route wk_web_accounts_routes[] = {
    {"POST", "/api/v1/accounts", acc__open, NULL, ACC_BODY_MAX, "accounts_open"},
};
const size_t wk_web_accounts_nroutes = sizeof wk_web_accounts_routes / sizeof wk_web_accounts_routes[0];
