/*
 * serve_web_resident.c - the resident's own side of the web API (serve_web.h): top-up
 * orders through the configured payment channel, the account summary with an estimate of
 * the days left, usage by day or month from the stored readings, and the notification
 * contacts. Every route is for resident sessions only (staff get 403) and takes no account
 * id: the account is always the session's, so another resident's account cannot even be
 * named; another resident's order or contact answers 404 like one that does not exist.
 *
 * Money moves only through the payment path: a top-up creates an order (state created)
 * and nothing else; the wallet is credited once, when the channel's signed notification
 * for it arrives (serve_pay.c, wk_pay_credit, UNIQUE per channel transaction). So a double
 * click makes two orders, never two credits of one payment.
 *
 * Like all handlers: the HTTP thread parses and bounds the request, the op runs on the main
 * loop (role check, then the work in one transaction); the channel's prepay call (blocking
 * HTTP) runs on the HTTP thread after the order is committed, never on the main loop.
 */
#include <jansson.h>
#include <qrencode.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "app/serve_payments.h"
#include "app/serve_web.h"
#include "core/civil.h"
#include "core/log.h"
#include "core/units.h"
#include "notify/notify.h"
#include "pay/pay.h"
#include "proto/encoding.h"
#include "store/store.h"

#define RES_BODY_MAX 2048
#define RES_TOPUP_MIN_FEN 100       /* ¥1 */
#define RES_TOPUP_MAX_FEN 500000    /* ¥5,000 */
#define RES_OPEN_ORDERS_MAX 10      /* unpaid, unexpired orders of one account */
#define RES_CONTACTS_MAX 10         /* enabled contacts of one account */
#define RES_DAYS_MAX 366            /* days in one usage answer */
#define RES_MONTHS_MAX 120          /* months in one usage answer */
#define RES_TZ_S (8 * 3600)         /* business time: China, UTC+8, no DST */
#define RES_MIN_SPAN_S 3600         /* days_left needs readings covering at least this */
#define RES_PAY_URL_MAX 1024

typedef struct res_call {
    /* top-up */
    wk_pay_channel channel;
    int64_t amount_fen;
    char order_no[WK_PAY_OUT_TRADE_NO_MAX];
    wk_pay_order o;
    bool credited;
    uint8_t transfer_id[16];
    /* summary / usage */
    int64_t window_days;
    bool by_month;
    int64_t from_day, to_day; /* days since 1970-01-01 (China date); -1 = default */
    /* contacts */
    wk_notify_contact ct;
    char address[WK_NOTIFY_ADDRESS_MAX];
    int64_t contact_id;
} res_call;

static const char *res__fen(int64_t fen, char buf[32])
{
    return wk_dec_format(fen, 2, 2, buf, 32);
}

/* China date (days since the epoch) of a Unix time. */
static int64_t res__day_of(int64_t unix_s)
{
    return wk_floor_div(unix_s + RES_TZ_S, 86400);
}

/* Unix time of 00:00 China time on day. */
static int64_t res__day_start(int64_t day)
{
    return day * 86400 - RES_TZ_S;
}

/* First day of the month of day, and of the month n months later. */
static int64_t res__month_add(int64_t day, int64_t n)
{
    wk_date dt = wk_civil_from_days(day);
    int64_t m = (int64_t)dt.year * 12 + (dt.month - 1) + n;
    return wk_days_from_civil((int32_t)wk_floor_div(m, 12), (int32_t)(m - wk_floor_div(m, 12) * 12) + 1, 1);
}

static void res__date(int64_t day, bool month, char out[16])
{
    wk_date dt = wk_civil_from_days(day);
    if (month)
        snprintf(out, 16, "%04d-%02d", (int)dt.year, (int)dt.month);
    else
        snprintf(out, 16, "%04d-%02d-%02d", (int)dt.year, (int)dt.month, (int)dt.day);
}

static bool res__resident(wk_web_call *c)
{
    return wk_web_role(c, WK_WEB_RESIDENT, "resident");
}

/* ---- top-up orders ---- */

/* The account's unpaid orders that have not expired yet. */
static wk_err res__open_orders(wk_store *st, int64_t account_id, int64_t now_ms, int64_t *n, wk_diag *d)
{
    wk_stmt *s;
    bool row = false;
    wk_err e = wk_store_prepare(st,
                                "SELECT count(*) FROM pay_order WHERE account_id = ? AND state = 'created'"
                                " AND expires_ms > ?",
                                &s, d);
    if (e)
        return e;
    if (!(e = wk_stmt_bind_i64(s, 1, account_id)) && !(e = wk_stmt_bind_i64(s, 2, now_ms)) &&
        !(e = wk_stmt_step(s, &row, d)))
        *n = row ? wk_stmt_i64(s, 0) : 0;
    wk_stmt_reset(s);
    return e;
}

static void res__op_topup(wk_web_call *c, const wk_serve_env *env)
{
    res_call *r = c->arg;
    if (!res__resident(c))
        return;
    const wk_pay_channels *pay = wk_serve_pay_channels();
    wk_diag d = {{0}};
    int64_t n = 0;
    wk_err e = wk_pay_order_expire(env->st, env->now_ms, &n, &d);
    if (!e)
        e = res__open_orders(env->st, c->sess.user.account_id, env->now_ms, &n, &d);
    if (e) {
        wk_web_internal(c, &d);
        return;
    }
    if (n >= RES_OPEN_ORDERS_MAX) {
        wk_web_fail(c, 409, "conflict", NULL,
                    "too many unpaid orders: pay one or wait until they expire");
        return;
    }
    e = wk_pay_order_create(env->st, c->sess.user.account_id, r->channel, r->amount_fen, &pay->limits,
                            env->now_ms, &r->o, &d);
    if (e == WK_ERANGE || e == WK_EINVAL)
        wk_web_fail(c, 400, "invalid", "amount_fen", d.msg);
    else if (e == WK_ECONFLICT || e == WK_ENOTFOUND)
        wk_web_fail(c, 409, "conflict", NULL, "the account is closed");
    else if (e)
        wk_web_internal(c, &d);
    else
        c->status = 204; /* the answer is built on the HTTP thread after the prepay */
}

static json_t *res__order_json(const wk_pay_order *o)
{
    char a[32];
    return json_pack("{s:s, s:s, s:I, s:s, s:s, s:I, s:I}", "order_no", o->out_trade_no, "channel",
                     wk_pay_channel_str(o->channel), "amount_fen", (json_int_t)o->amount_fen, "amount",
                     res__fen(o->amount_fen, a), "state", wk_pay_order_state_str(o->state), "created_ms",
                     (json_int_t)o->created_ms, "expires_ms", (json_int_t)o->expires_ms);
}

/* The QR code of text (libqrencode, level M, 8-bit mode) as {"size": n, "rows": [n strings
 * of '0'/'1']} for the page to draw (dark = '1'), or null when it cannot be encoded. */
static json_t *res__qr(const char *text)
{
    QRcode *q = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (!q)
        return json_null();
    json_t *rows = json_array();
    char line[177 + 1]; /* version 40 is 177 modules wide */
    for (int y = 0; rows && q->width <= 177 && y < q->width; y++) {
        for (int x = 0; x < q->width; x++)
            line[x] = (q->data[y * q->width + x] & 1) ? '1' : '0';
        line[q->width] = '\0';
        json_array_append_new(rows, json_string(line));
    }
    json_t *o = rows ? json_pack("{s:i, s:o}", "size", q->width, "rows", rows) : NULL;
    QRcode_free(q);
    return o ? o : json_null();
}

/* POST /api/v1/me/topups {"amount_fen": 100..500000, "channel": "wechat"|"alipay"}
 * (resident session + CSRF): an order for the session's own account through the channel;
 * 201 with the order, the channel's code_url (WeChat Native) or qr_code (Alipay
 * precreate) and pay_url, the link the phone opens to pay. */
static int res__topup(wk_http_req *req, wk_http_resp *resp, void *ctx)
{
    (void)ctx;
    wk_web_call c;
    res_call r = {0};
    wk_web_call_init(&c, req, true);
    int rc = 0;
    json_t *j = wk_web_json_body(req, resp, &rc);
    if (!j)
        return rc;
    static const char *const keys[] = {"amount_fen", "channel", NULL};
    const wk_pay_channels *pay = wk_serve_pay_channels();
    if (!wk_web_only(j, keys, resp, &rc))
        goto done;
    json_t *amt = json_object_get(j, "amount_fen");
    const char *ch = wk_web_str(j, "channel", 16, resp, &rc);
    if (!ch)
        goto done;
    if (!json_is_integer(amt) || json_integer_value(amt) < RES_TOPUP_MIN_FEN ||
        json_integer_value(amt) > RES_TOPUP_MAX_FEN) {
        rc = wk_web_err(resp, 400, "invalid", "expected an integer number of fen, 100..500000", "amount_fen");
        goto done;
    }
    if (wk_pay_channel_parse(ch, &r.channel, NULL)) {
        rc = wk_web_err(resp, 400, "invalid", "expected \"wechat\" or \"alipay\"", "channel");
        goto done;
    }
    if (!pay) {
        rc = wk_web_err(resp, 503, "unavailable", "payments are not configured", NULL);
        goto done;
    }
    if ((r.channel == WK_PAY_WECHAT && !pay->wechat_on) || (r.channel == WK_PAY_ALIPAY && !pay->alipay_on)) {
        rc = wk_web_err(resp, 400, "invalid", "this channel is not configured", "channel");
        goto done;
    }
    r.amount_fen = json_integer_value(amt);
    c.op = res__op_topup;
    c.arg = &r;
    rc = wk_web_run(&c, resp);
    if (rc || c.status != 204)
        goto done;
    /* the order is committed: ask the channel for the code the payer opens */
    char code[RES_PAY_URL_MAX] = "";
    wk_diag d = {{0}};
    wk_err e = WK_OK;
    const char *key = r.channel == WK_PAY_WECHAT ? "code_url" : "qr_code";
    if (r.channel == WK_PAY_WECHAT && pay->merchant_key)
        e = wk_pay_wechat_prepay(pay, pay->notify_base_url, r.o.out_trade_no, r.o.amount_fen, (int64_t)time(NULL),
                                 code, sizeof code, &d);
    else if (r.channel == WK_PAY_ALIPAY && pay->alipay_app_key)
        e = wk_pay_alipay_precreate(pay, pay->notify_base_url, r.o.out_trade_no, r.o.amount_fen,
                                    (int64_t)time(NULL), code, sizeof code, &d);
    else
        e = wk_diag_set(&d, WK_EINVAL, "the channel has no merchant key for a prepay");
    if (e) {
        wk_log(WK_LOG_WARN, "resident top-up: prepay failed", "order=%s why=%s", WK_LOG_Q(r.o.out_trade_no),
               WK_LOG_Q(d.msg));
        rc = wk_web_err(resp, 502, "channel", "the payment channel did not answer; try again", NULL);
        goto done;
    }
    json_t *o = res__order_json(&r.o);
    if (o) {
        json_object_set_new(o, key, json_string(code));
        json_object_set_new(o, "pay_url", json_string(code));
        json_object_set_new(o, "qr", res__qr(code));
    }
    wk_log(WK_LOG_INFO, "resident top-up order", "order=%s account=%lld amount_fen=%lld channel=%s",
           WK_LOG_Q(r.o.out_trade_no), (long long)r.o.account_id, (long long)r.o.amount_fen,
           wk_pay_channel_str(r.channel));
    rc = o ? wk_web_send_json(resp, 201, o) : -1;
done:
    json_decref(j);
    return rc;
}

static void res__op_order(wk_web_call *c, const wk_serve_env *env)
{
    res_call *r = c->arg;
    if (!res__resident(c))
        return;
    wk_diag d = {{0}};
    wk_err e = wk_pay_order_get(env->st, r->order_no, &r->o, &d);
    /* the page polls this: an order past its deadline is shown expired without a write
     * transaction per poll (the top-up route writes the expiries) */
    if (!e && r->o.state == WK_PAY_CREATED && r->o.expires_ms <= env->now_ms)
        r->o.state = WK_PAY_EXPIRED;
    if (e == WK_ENOTFOUND || (!e && r->o.account_id != c->sess.user.account_id)) {
        wk_web_fail(c, 404, "not_found", NULL, "no such order");
        return;
    }
    if (e) {
        wk_web_internal(c, &d);
        return;
    }
    /* the payment that credited it: its transfer is the receipt */
    wk_stmt *s;
    bool row = false;
    if ((e = wk_store_prepare(env->st,
                              "SELECT lower(hex(transfer_id)) FROM pay_payment WHERE order_id = ? ORDER BY id LIMIT 1",
                              &s, &d))) {
        wk_web_internal(c, &d);
        return;
    }
    char tid[33] = "";
    if (!(e = wk_stmt_bind_i64(s, 1, r->o.id)) && !(e = wk_stmt_step(s, &row, &d)) && row) {
        size_t len = 0;
        const char *t = wk_stmt_text(s, 0, &len);
        if (t && len == 32)
            memcpy(tid, t, 32); /* tid[32] stays NUL */
    }
    wk_stmt_reset(s);
    if (e) {
        wk_web_internal(c, &d);
        return;
    }
    c->body = res__order_json(&r->o);
    if (!c->body) {
        wk_web_fail(c, 500, "internal", NULL, "out of memory");
        return;
    }
    json_object_set_new(c->body, "credited", json_boolean(r->o.state == WK_PAY_CREDITED));
    json_object_set_new(c->body, "transfer_id", tid[0] && r->o.state == WK_PAY_CREDITED ? json_string(tid) : json_null());
}

/* GET /api/v1/me/topups/{order_no}: the state of one of the resident's own orders
 * (created, paid, credited, closed, expired) and, once credited, the transfer id of its
 * receipt. Another account's order is 404. */
static int res__order(wk_http_req *req, wk_http_resp *resp, void *ctx)
{
    (void)ctx;
    const char *no = wk_http_req_path_rest(req);
    size_t n = no ? strlen(no) : 0;
    bool ok = n >= 6 && n < WK_PAY_OUT_TRADE_NO_MAX;
    for (size_t i = 0; ok && i < n; i++)
        ok = (no[i] >= '0' && no[i] <= '9') || (no[i] >= 'a' && no[i] <= 'z') || (no[i] >= 'A' && no[i] <= 'Z');
    wk_web_call c;
    res_call r = {0};
    wk_web_call_init(&c, req, true);
    if (!ok) /* still answered after the session check: staff learn nothing either way */
        r.order_no[0] = '\0';
    else
        memcpy(r.order_no, no, n + 1);
    c.op = res__op_order;
    c.arg = &r;
    return wk_web_run(&c, resp);
}

/* ---- summary and usage ---- */

static wk_err res__i64(wk_store *st, const char *sql, int64_t a, int64_t b, int64_t cc, int64_t *out, bool *null,
                       wk_diag *d)
{
    wk_stmt *s;
    bool row = false;
    wk_err e = wk_store_prepare(st, sql, &s, d);
    if (e)
        return e;
    *out = 0;
    *null = true;
    if (!(e = wk_stmt_bind_i64(s, 1, a)) && !(e = wk_stmt_bind_i64(s, 2, b)) && !(e = wk_stmt_bind_i64(s, 3, cc)) &&
        !(e = wk_stmt_step(s, &row, d)) && row && !wk_stmt_is_null(s, 0)) {
        *out = wk_stmt_i64(s, 0);
        *null = false;
    }
    wk_stmt_reset(s);
    return e;
}

static void res__op_summary(wk_web_call *c, const wk_serve_env *env)
{
    res_call *r = c->arg;
    if (!res__resident(c))
        return;
    int64_t acc = c->sess.user.account_id;
    wk_diag d = {{0}};
    wk_stmt *s;
    if (wk_store_prepare(env->st,
                         "SELECT a.id, a.holder, a.status, la.credits_fen - la.debits_fen, u.name, b.name, c.name,"
                         " m.id, m.relay, m.online, m.last_reading_s FROM account a"
                         " JOIN ledger_account la ON la.id = a.wallet_account_id JOIN unit u ON u.id = a.unit_id"
                         " JOIN building b ON b.id = u.building_id JOIN community c ON c.id = b.community_id"
                         " LEFT JOIN meter m ON m.unit_id = a.unit_id WHERE a.id = ? ORDER BY m.id LIMIT 1",
                         &s, &d)) {
        wk_web_internal(c, &d);
        return;
    }
    bool row = false;
    wk_err e = wk_stmt_bind_i64(s, 1, acc);
    if (!e)
        e = wk_stmt_step(s, &row, &d);
    json_t *o = NULL;
    int64_t balance = 0;
    if (!e && row) {
        size_t l1, l2, l3, l4, l5, l6 = 0;
        const char *holder = wk_stmt_text(s, 1, &l1), *status = wk_stmt_text(s, 2, &l2),
                   *unit = wk_stmt_text(s, 4, &l3), *bld = wk_stmt_text(s, 5, &l4), *com = wk_stmt_text(s, 6, &l5);
        const char *relay = wk_stmt_is_null(s, 8) ? NULL : wk_stmt_text(s, 8, &l6);
        char a[32];
        balance = wk_stmt_i64(s, 3);
        o = json_pack("{s:I, s:s%, s:s%, s:I, s:s, s:s%, s:s%, s:s%}", "account_id", (json_int_t)acc, "holder",
                      holder ? holder : "", holder ? l1 : 0, "status", status ? status : "", status ? l2 : 0,
                      "balance_fen", (json_int_t)balance, "balance", res__fen(balance, a), "unit", unit ? unit : "",
                      unit ? l3 : 0, "building", bld ? bld : "", bld ? l4 : 0, "community", com ? com : "",
                      com ? l5 : 0);
        if (o) {
            bool meter = !wk_stmt_is_null(s, 7);
            json_object_set_new(o, "meter_id", meter ? json_integer(wk_stmt_i64(s, 7)) : json_null());
            json_object_set_new(o, "relay", relay ? json_stringn(relay, l6) : json_null());
            json_object_set_new(o, "online", meter ? json_boolean(wk_stmt_i64(s, 9) != 0) : json_null());
        }
    }
    wk_stmt_reset(s);
    if (e || !row || !o) {
        json_decref(o);
        if (e)
            wk_web_internal(c, &d);
        else
            wk_web_fail(c, row ? 500 : 404, row ? "internal" : "not_found", NULL, row ? "out of memory" : "no account");
        return;
    }
    /* days left: the balance over the average daily deduction of the readings in the
     * window (window_days before the newest reading); see docs/api.md */
    int64_t newest = 0, first = 0, spent = 0, wh = 0;
    bool none = true, n2, n3;
    e = res__i64(env->st, "SELECT max(time_s) FROM reading WHERE account_id = ?1 AND ?2 = ?2 AND ?3 = ?3", acc, 0,
                 0, &newest, &none, &d);
    if (!e && !none)
        e = res__i64(env->st, "SELECT min(time_s) FROM reading WHERE account_id = ?1 AND time_s > ?2 - ?3",
                     acc, newest, r->window_days * 86400, &first, &n2, &d);
    if (!e && !none)
        e = res__i64(env->st,
                     "SELECT sum(deduction_fen) FROM reading WHERE account_id = ?1 AND time_s > ?2 AND time_s <= ?3",
                     acc, first, newest, &spent, &n3, &d);
    if (!e && !none)
        e = res__i64(env->st,
                     "SELECT sum(energy_wh) FROM reading WHERE account_id = ?1 AND time_s > ?2 AND time_s <= ?3",
                     acc, first, newest, &wh, &n3, &d);
    if (e) {
        json_decref(o);
        wk_web_internal(c, &d);
        return;
    }
    int64_t span = none ? 0 : newest - first;
    json_t *days = json_null(), *avg = json_null();
    char a[32];
    if (span >= RES_MIN_SPAN_S && spent > 0) {
        /* exact integers: fen * s fits easily (balances < 10^12 fen, spans < 10^8 s) */
        int64_t per_day = spent * 86400 / span;
        days = json_integer(balance <= 0 ? 0 : balance * span / (spent * 86400));
        avg = json_pack("{s:I, s:s}", "fen", (json_int_t)per_day, "yuan", res__fen(per_day, a));
    } else if (span >= RES_MIN_SPAN_S && balance <= 0) {
        days = json_integer(0);
    }
    json_object_set_new(o, "last_reading_s", none ? json_null() : json_integer(newest));
    json_object_set_new(o, "days_left", days);
    json_object_set_new(o, "daily_deduction", avg);
    json_object_set_new(o, "days_left_basis",
                        json_pack("{s:I, s:o, s:o, s:I, s:I}", "window_days", (json_int_t)r->window_days, "from_s",
                                  none ? json_null() : json_integer(first), "to_s",
                                  none ? json_null() : json_integer(newest), "spent_fen", (json_int_t)spent,
                                  "energy_wh", (json_int_t)wh));
    c->body = o;
}

/* GET /api/v1/me/summary[?window=7|30]: the account, balance, power status and the days
 * left at the recent rate. */
static int res__summary(wk_http_req *req, wk_http_resp *resp, void *ctx)
{
    (void)ctx;
    wk_web_call c;
    res_call r = {0};
    wk_web_call_init(&c, req, true);
    int rc = 0;
    static const char *const windows[] = {"7", "30", NULL};
    const char *w = NULL;
    if (!wk_web_qword(req, resp, "window", windows, &w, &rc))
        return rc;
    r.window_days = w && !strcmp(w, "30") ? 30 : 7;
    c.op = res__op_summary;
    c.arg = &r;
    return wk_web_run(&c, resp);
}

static void res__op_usage(wk_web_call *c, const wk_serve_env *env)
{
    res_call *r = c->arg;
    if (!res__resident(c))
        return;
    int64_t acc = c->sess.user.account_id;
    wk_diag d = {{0}};
    if (r->to_day < 0) { /* default: up to today, or the newest reading if the meter is ahead */
        int64_t newest = 0;
        bool none = true;
        if (res__i64(env->st, "SELECT max(time_s) FROM reading WHERE account_id = ?1 AND ?2 = ?2 AND ?3 = ?3", acc,
                     0, 0, &newest, &none, &d)) {
            wk_web_internal(c, &d);
            return;
        }
        int64_t today = res__day_of(env->now_ms / 1000);
        r->to_day = !none && res__day_of(newest) > today ? res__day_of(newest) : today;
        if (r->by_month)
            r->to_day = res__month_add(r->to_day, 0);
    }
    if (r->from_day < 0)
        r->from_day = r->by_month ? res__month_add(r->to_day, -11) : r->to_day - 29;
    int64_t from_s = res__day_start(r->from_day);
    int64_t end_s = res__day_start(r->by_month ? res__month_add(r->to_day, 1) : r->to_day + 1);
    wk_stmt *s;
    if (wk_store_prepare(env->st,
                         r->by_month ? "SELECT strftime('%Y-%m', time_s + 28800, 'unixepoch') AS p, sum(energy_wh),"
                                       " sum(deduction_fen), count(*) FROM reading WHERE account_id = ?1"
                                       " AND time_s >= ?2 AND time_s < ?3 GROUP BY p ORDER BY p"
                                     : "SELECT strftime('%Y-%m-%d', time_s + 28800, 'unixepoch') AS p,"
                                       " sum(energy_wh), sum(deduction_fen), count(*) FROM reading"
                                       " WHERE account_id = ?1 AND time_s >= ?2 AND time_s < ?3 GROUP BY p ORDER BY p",
                         &s, &d)) {
        wk_web_internal(c, &d);
        return;
    }
    json_t *items = json_array();
    bool row = false;
    int64_t twh = 0, tfen = 0;
    wk_err e = items ? WK_OK : WK_ENOMEM;
    if (!e && !(e = wk_stmt_bind_i64(s, 1, acc)) && !(e = wk_stmt_bind_i64(s, 2, from_s)))
        e = wk_stmt_bind_i64(s, 3, end_s);
    while (!e && !(e = wk_stmt_step(s, &row, &d)) && row) {
        size_t len = 0;
        const char *p = wk_stmt_text(s, 0, &len);
        int64_t wh = wk_stmt_i64(s, 1), fen = wk_stmt_i64(s, 2);
        char k[32], f[32];
        twh += wh;
        tfen += fen;
        json_t *it = json_pack("{s:s%, s:I, s:s, s:I, s:s, s:I}", "period", p ? p : "", p ? len : 0, "energy_wh",
                               (json_int_t)wh, "energy_kwh", wk_dec_format(wh, 3, 3, k, sizeof k), "deduction_fen",
                               (json_int_t)fen, "deduction", res__fen(fen, f), "readings",
                               (json_int_t)wk_stmt_i64(s, 3));
        if (!it || json_array_append_new(items, it))
            e = WK_ENOMEM;
    }
    wk_stmt_reset(s);
    if (e) {
        json_decref(items);
        wk_web_internal(c, &d);
        return;
    }
    char fd[16], td[16], k[32], f[32];
    res__date(r->from_day, r->by_month, fd);
    res__date(r->to_day, r->by_month, td);
    c->body = json_pack("{s:s, s:s, s:s, s:o, s:I, s:s, s:I, s:s}", "by", r->by_month ? "month" : "day", "from", fd,
                        "to", td, "items", items, "total_energy_wh", (json_int_t)twh, "total_energy_kwh",
                        wk_dec_format(twh, 3, 3, k, sizeof k), "total_deduction_fen", (json_int_t)tfen,
                        "total_deduction", res__fen(tfen, f));
    if (!c->body)
        wk_web_fail(c, 500, "internal", NULL, "out of memory");
}

/* Parses query parameter name as YYYY-MM-DD (or YYYY-MM with month) into *day (the
 * month's first day); absent leaves -1. False answered 400 naming it. */
static bool res__qdate(wk_http_req *req, wk_http_resp *resp, const char *name, bool month, int64_t *day, int *rc)
{
    const char *v = wk_http_req_query(req, name);
    *day = -1;
    if (!v)
        return true;
    size_t n = strlen(v);
    bool ok = n == (month ? 7u : 10u);
    for (size_t i = 0; ok && i < n; i++)
        ok = (i == 4 || i == 7) ? v[i] == '-' : (v[i] >= '0' && v[i] <= '9');
    if (ok && month) {
        int y = (v[0] - '0') * 1000 + (v[1] - '0') * 100 + (v[2] - '0') * 10 + (v[3] - '0');
        int m = (v[5] - '0') * 10 + (v[6] - '0');
        ok = y >= 2000 && m >= 1 && m <= 12;
        if (ok)
            *day = wk_days_from_civil(y, m, 1);
    } else if (ok) {
        ok = !wk_date_parse(v, n, day, NULL) && *day >= wk_days_from_civil(2000, 1, 1);
    }
    if (!ok) {
        *day = -1;
        *rc = wk_web_err(resp, 400, "invalid", month ? "expected a month YYYY-MM (2000 or later)"
                                                     : "expected a date YYYY-MM-DD (2000 or later)",
                         name);
    }
    return ok;
}

/* GET /api/v1/me/usage?by=day|month&from&to: energy and deductions per China-time day
 * (from/to YYYY-MM-DD, at most 366 days) or month (YYYY-MM, at most 120 months). */
static int res__usage(wk_http_req *req, wk_http_resp *resp, void *ctx)
{
    (void)ctx;
    wk_web_call c;
    res_call r = {0};
    wk_web_call_init(&c, req, true);
    int rc = 0;
    static const char *const bys[] = {"day", "month", NULL};
    const char *by = NULL;
    if (!wk_web_qword(req, resp, "by", bys, &by, &rc))
        return rc;
    r.by_month = by && !strcmp(by, "month");
    if (!res__qdate(req, resp, "from", r.by_month, &r.from_day, &rc) ||
        !res__qdate(req, resp, "to", r.by_month, &r.to_day, &rc))
        return rc;
    if (r.from_day >= 0 && r.to_day < 0) /* a start alone: the longest range from it */
        r.to_day = r.by_month ? res__month_add(r.from_day, RES_MONTHS_MAX - 1) : r.from_day + RES_DAYS_MAX - 1;
    if (r.from_day >= 0 && r.to_day >= 0) {
        if (r.from_day > r.to_day)
            return wk_web_err(resp, 400, "invalid", "from is after to", "from");
        bool too_long = r.by_month ? res__month_add(r.from_day, RES_MONTHS_MAX) <= r.to_day
                                   : r.to_day - r.from_day + 1 > RES_DAYS_MAX;
        if (too_long)
            return wk_web_err(resp, 400, "invalid",
                              r.by_month ? "at most 120 months in one answer" : "at most 366 days in one answer",
                              "from");
    }
    c.op = res__op_usage;
    c.arg = &r;
    return wk_web_run(&c, resp);
}

/* ---- notification contacts ---- */

/* The events a resident can choose (the resident kinds of the notification layer). */
static const wk_notify_kind res_kinds[] = {WK_NK_WARN1, WK_NK_WARN2, WK_NK_TRIP, WK_NK_CLOSE, WK_NK_CREDIT};
#define RES_NKINDS (sizeof res_kinds / sizeof res_kinds[0])

static json_t *res__events_json(uint32_t off)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < RES_NKINDS; i++)
        if (!(off >> res_kinds[i] & 1u))
            json_array_append_new(a, json_string(wk_notify_kind_name(res_kinds[i])));
    return a;
}

static json_t *res__contact_json(wk_stmt *s)
{
    size_t l1 = 0, l2 = 0, l3 = 0;
    const char *ch = wk_stmt_text(s, 1, &l1), *addr = wk_stmt_text(s, 2, &l2), *lang = wk_stmt_text(s, 3, &l3);
    int64_t qf = wk_stmt_i64(s, 4), qt = wk_stmt_i64(s, 5);
    json_t *o = json_pack("{s:I, s:s%, s:s%, s:s%}", "id", (json_int_t)wk_stmt_i64(s, 0), "channel", ch ? ch : "",
                          ch ? l1 : 0, "address", addr ? addr : "", addr ? l2 : 0, "language", lang ? lang : "",
                          lang ? l3 : 0);
    char f[8], t[8];
    snprintf(f, sizeof f, "%02d:%02d", (int)(qf / 60), (int)(qf % 60));
    snprintf(t, sizeof t, "%02d:%02d", (int)(qt / 60), (int)(qt % 60));
    if (o) {
        json_object_set_new(o, "quiet_from", qf == qt ? json_null() : json_string(f));
        json_object_set_new(o, "quiet_to", qf == qt ? json_null() : json_string(t));
        json_object_set_new(o, "events", res__events_json((uint32_t)wk_stmt_i64(s, 6)));
    }
    return o;
}

#define RES_CONTACT_COLS "id, channel, address, lang, quiet_from_min, quiet_to_min, events_off"

/* The account's enabled contacts as {"items": [...]} into c->body; or one (id > 0). */
static void res__contacts_answer(wk_web_call *c, const wk_serve_env *env, int64_t id)
{
    wk_diag d = {{0}};
    wk_stmt *s;
    if (wk_store_prepare(env->st,
                         "SELECT " RES_CONTACT_COLS " FROM notify_contact WHERE account_id = ?1"
                         " AND account_id > 0 AND enabled = 1 AND (?2 = 0 OR id = ?2) ORDER BY id",
                         &s, &d)) {
        wk_web_internal(c, &d);
        return;
    }
    json_t *items = json_array();
    bool row = false;
    wk_err e = items ? WK_OK : WK_ENOMEM;
    if (!e && !(e = wk_stmt_bind_i64(s, 1, c->sess.user.account_id)))
        e = wk_stmt_bind_i64(s, 2, id);
    while (!e && !(e = wk_stmt_step(s, &row, &d)) && row) {
        json_t *it = res__contact_json(s);
        if (!it || json_array_append_new(items, it))
            e = WK_ENOMEM;
    }
    wk_stmt_reset(s);
    if (e) {
        json_decref(items);
        wk_web_internal(c, &d);
        return;
    }
    if (id) {
        c->body = json_incref(json_array_get(items, 0));
        json_decref(items);
        if (!c->body)
            wk_web_fail(c, 500, "internal", NULL, "contact vanished");
        return;
    }
    c->body = json_pack("{s:o}", "items", items);
    if (!c->body)
        wk_web_fail(c, 500, "internal", NULL, "out of memory");
}

static void res__op_contacts(wk_web_call *c, const wk_serve_env *env)
{
    if (res__resident(c))
        res__contacts_answer(c, env, 0);
}

/* GET /api/v1/me/contacts: the resident's notification contacts. */
static int res__contacts(wk_http_req *req, wk_http_resp *resp, void *ctx)
{
    (void)ctx;
    wk_web_call c;
    wk_web_call_init(&c, req, true);
    c.op = res__op_contacts;
    return wk_web_run(&c, resp);
}

static void res__op_contact_put(wk_web_call *c, const wk_serve_env *env)
{
    res_call *r = c->arg;
    if (!res__resident(c))
        return;
    wk_diag d = {{0}};
    int64_t n = 0, id = 0;
    bool created = false;
    r->ct.account_id = c->sess.user.account_id;
    r->ct.address = r->address;
    wk_err e = wk_store_begin(env->st, &d);
    if (e) {
        wk_web_internal(c, &d);
        return;
    }
    { /* the other enabled contacts: at most RES_CONTACTS_MAX in all */
        wk_stmt *s;
        bool row = false;
        if ((e = wk_store_prepare(env->st,
                                  "SELECT count(*) FROM notify_contact WHERE account_id = ? AND enabled = 1"
                                  " AND NOT (channel = ? AND address = ?)",
                                  &s, &d)))
            goto fail;
        const char *chn = wk_notify_channel_name(r->ct.channel);
        if (!(e = wk_stmt_bind_i64(s, 1, r->ct.account_id)) && !(e = wk_stmt_bind_text(s, 2, chn, strlen(chn))) &&
            !(e = wk_stmt_bind_text(s, 3, r->address, strlen(r->address))) && !(e = wk_stmt_step(s, &row, &d)))
            n = row ? wk_stmt_i64(s, 0) : 0;
        wk_stmt_reset(s);
        if (e)
            goto fail;
    }
    if (n >= RES_CONTACTS_MAX) {
        wk_store_rollback(env->st);
        wk_web_fail(c, 409, "conflict", NULL, "at most 10 contacts: delete one first");
        return;
    }
    if ((e = wk_notify_contact_put(env->st, &r->ct, &id, &created, &d))) {
        wk_store_rollback(env->st);
        if (e == WK_EINVAL || e == WK_ERANGE)
            wk_web_fail(c, 400, "invalid", strncmp(d.msg, "quiet", 5) ? "address" : "quiet_from", d.msg);
        else
            wk_web_internal(c, &d);
        return;
    }
    char after[WK_NOTIFY_ADDRESS_MAX + 160];
    json_t *a = json_pack("{s:s, s:s, s:s, s:i, s:i, s:o}", "channel", wk_notify_channel_name(r->ct.channel),
                          "address", r->address, "language", wk_notify_lang_name(r->ct.lang), "quiet_from_min",
                          (int)r->ct.quiet_from_min, "quiet_to_min", (int)r->ct.quiet_to_min, "events",
                          res__events_json(r->ct.events_off));
    size_t al = a ? json_dumpb(a, after, sizeof after - 1, JSON_COMPACT | JSON_SORT_KEYS) : 0;
    json_decref(a);
    after[al < sizeof after ? al : 0] = '\0';
    if ((e = wk_auth_audit(env->st, &c->sess.user, created ? "contact_add" : "contact_update", "notify_contact", id,
                           "resident notification settings", "{}", after[0] ? after : "{}", env->now_ms, &d)) ||
        (e = wk_store_commit(env->st, &d)))
        goto fail;
    res__contacts_answer(c, env, id);
    if (c->status == 200)
        c->status = created ? 201 : 200;
    return;
fail:
    wk_store_rollback(env->st);
    wk_web_internal(c, &d);
}

/* "HH:MM" -> minutes of the day; false otherwise. */
static bool res__hhmm(const char *v, int32_t *min)
{
    if (strlen(v) != 5 || v[2] != ':')
        return false;
    for (int i = 0; i < 5; i++)
        if (i != 2 && (v[i] < '0' || v[i] > '9'))
            return false;
    int h = (v[0] - '0') * 10 + (v[1] - '0'), m = (v[3] - '0') * 10 + (v[4] - '0');
    *min = h * 60 + m;
    return h < 24 && m < 60;
}

/* Checks and normalises an address for its channel into out (cap bytes); NULL when fine,
 * else what is wrong. */
static const char *res__address(wk_notify_channel ch, const char *v, char *out, size_t cap)
{
    size_t n = strlen(v);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] < 0x21 || (unsigned char)v[i] > 0x7e)
            return "no spaces, control or non-ASCII characters";
    switch (ch) {
    case WK_NC_EMAIL: {
        const char *at = strchr(v, '@');
        if (n > 254 || !at || strchr(at + 1, '@') || at == v || at - v > 64)
            return "expected an e-mail address name@example.com";
        for (const char *p = v; p < at; p++)
            if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.!#$%&'*+/=?^_`{|}~-", *p))
                return "expected an e-mail address name@example.com";
        const char *dom = at + 1;
        size_t label = 0, labels = 0;
        bool alpha_tld = true;
        for (const char *p = dom;; p++) {
            if (*p == '.' || !*p) {
                if (label == 0 || label > 63 || p[-1] == '-' || p[-(long)label] == '-')
                    return "expected an e-mail address name@example.com";
                labels++;
                if (!*p)
                    break;
                label = 0;
                alpha_tld = true;
                continue;
            }
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-'))
                return "expected an e-mail address name@example.com";
            alpha_tld = alpha_tld && ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'));
            label++;
        }
        if (labels < 2 || label < 2 || !alpha_tld)
            return "expected an e-mail address name@example.com";
        snprintf(out, cap, "%s", v);
        return NULL;
    }
    case WK_NC_SMS: {
        const char *d = v;
        if (!strncmp(v, "+86", 3))
            d = v + 3;
        bool ok = strlen(d) == 11 && d[0] == '1' && d[1] >= '3' && d[1] <= '9';
        for (size_t i = 0; ok && i < 11; i++)
            ok = d[i] >= '0' && d[i] <= '9';
        if (!ok)
            return "expected a mainland mobile number: +86 and 11 digits (1[3-9]xxxxxxxxx)";
        snprintf(out, cap, "+86%s", d);
        return NULL;
    }
    case WK_NC_WEBHOOK: {
        if (strncmp(v, "https://", 8) || n > 500)
            return "expected an https:// URL of at most 500 characters";
        const char *host = v + 8;
        size_t hl = strcspn(host, "/?#");
        if (hl == 0 || host[0] == ':' || host[0] == '@' || strpbrk(v, "\"<>\\^`{|}"))
            return "expected an https:// URL with a host";
        snprintf(out, cap, "%s", v);
        return NULL;
    }
    case WK_NC_WECHAT: {
        bool ok = n >= 6 && n <= 64;
        for (size_t i = 0; ok && i < n; i++)
            ok = (v[i] >= '0' && v[i] <= '9') || (v[i] >= 'a' && v[i] <= 'z') || (v[i] >= 'A' && v[i] <= 'Z') ||
                 v[i] == '_' || v[i] == '-';
        if (!ok)
            return "expected the WeChat openid: 6..64 letters, digits, _ or -";
        snprintf(out, cap, "%s", v);
        return NULL;
    }
    default:
        return "unknown channel";
    }
}

/* POST /api/v1/me/contacts {"channel": "email"|"sms"|"webhook"|"wechat", "address",
 * "language": "en"|"zh-CN" (default zh-CN), "quiet_from", "quiet_to": "HH:MM" (both or
 * neither), "events": ["warn1", "warn2", "trip", "close", "credit"] (a non-empty subset;
 * default all)}: adds a contact (201), or updates the one with the same channel and
 * address (200). Audited. */
static int res__contact_put(wk_http_req *req, wk_http_resp *resp, void *ctx)
{
    (void)ctx;
    wk_web_call c;
    res_call r = {0};
    wk_web_call_init(&c, req, true);
    int rc = 0;
    json_t *j = wk_web_json_body(req, resp, &rc);
    if (!j)
        return rc;
    static const char *const keys[] = {"channel", "address", "language", "quiet_from", "quiet_to", "events", NULL};
    const char *ch, *addr, *lang = "zh-CN", *why;
    json_t *qf = json_object_get(j, "quiet_from"), *qt = json_object_get(j, "quiet_to");
    if (!wk_web_only(j, keys, resp, &rc) || !(ch = wk_web_str(j, "channel", 16, resp, &rc)))
        goto done;
    if (wk_notify_channel_parse(ch, &r.ct.channel)) {
        rc = wk_web_err(resp, 400, "invalid", "expected email, sms, webhook or wechat", "channel");
        goto done;
    }
    if (!(addr = wk_web_str(j, "address", 500, resp, &rc)))
        goto done;
    if ((why = res__address(r.ct.channel, addr, r.address, sizeof r.address))) {
        rc = wk_web_err(resp, 400, "invalid", why, "address");
        goto done;
    }
    if (json_object_get(j, "language") && !(lang = wk_web_str(j, "language", 8, resp, &rc)))
        goto done;
    if (wk_notify_lang_parse(lang, &r.ct.lang)) {
        rc = wk_web_err(resp, 400, "invalid", "expected en or zh-CN", "language");
        goto done;
    }
    if (!qf != !qt) {
        rc = wk_web_err(resp, 400, "invalid", "give quiet_from and quiet_to together", qf ? "quiet_to" : "quiet_from");
        goto done;
    }
    if (qf && (!json_is_string(qf) || !res__hhmm(json_string_value(qf), &r.ct.quiet_from_min))) {
        rc = wk_web_err(resp, 400, "invalid", "expected HH:MM", "quiet_from");
        goto done;
    }
    if (qt && (!json_is_string(qt) || !res__hhmm(json_string_value(qt), &r.ct.quiet_to_min))) {
        rc = wk_web_err(resp, 400, "invalid", "expected HH:MM", "quiet_to");
        goto done;
    }
    json_t *ev = json_object_get(j, "events");
    if (ev) { /* the events wanted: a non-empty subset of the resident kinds; absent = all */
        uint32_t want = 0;
        bool ok = json_is_array(ev) && json_array_size(ev) > 0 && json_array_size(ev) <= RES_NKINDS;
        for (size_t i = 0; ok && i < json_array_size(ev); i++) {
            const char *name = json_string_value(json_array_get(ev, i));
            bool known = false;
            for (size_t k = 0; name && k < RES_NKINDS; k++)
                if (!strcmp(name, wk_notify_kind_name(res_kinds[k]))) {
                    known = !(want >> res_kinds[k] & 1u);
                    want |= 1u << res_kinds[k];
                }
            ok = known;
        }
        if (!ok) {
            rc = wk_web_err(resp, 400, "invalid",
                            "expected a non-empty list of distinct events: warn1, warn2, trip, close, credit", "events");
            goto done;
        }
        for (size_t k = 0; k < RES_NKINDS; k++)
            if (!(want >> res_kinds[k] & 1u))
                r.ct.events_off |= 1u << res_kinds[k];
    }
    c.op = res__op_contact_put;
    c.arg = &r;
    rc = wk_web_run(&c, resp);
done:
    json_decref(j);
    return rc;
}

static void res__op_contact_delete(wk_web_call *c, const wk_serve_env *env)
{
    res_call *r = c->arg;
    if (!res__resident(c))
        return;
    wk_diag d = {{0}};
    wk_err e = wk_store_begin(env->st, &d);
    if (!e)
        e = wk_notify_contact_disable(env->st, c->sess.user.account_id, r->contact_id, &d);
    if (e == WK_ENOTFOUND) {
        wk_store_rollback(env->st);
        wk_web_fail(c, 404, "not_found", NULL, "no such contact");
        return;
    }
    if (!e)
        e = wk_auth_audit(env->st, &c->sess.user, "contact_delete", "notify_contact", r->contact_id,
                          "resident notification settings", "{\"enabled\":true}", "{\"enabled\":false}",
                          env->now_ms, &d);
    if (!e)
        e = wk_store_commit(env->st, &d);
    if (e) {
        wk_store_rollback(env->st);
        wk_web_internal(c, &d);
        return;
    }
    c->status = 204;
}

/* POST /api/v1/me/contacts/{id}/delete: the contact gets no more notifications. */
static int res__contact_delete(wk_http_req *req, wk_http_resp *resp, void *ctx)
{
    (void)ctx;
    const char *rest = wk_http_req_path_rest(req);
    const char *slash = rest ? strchr(rest, '/') : NULL;
    wk_web_call c;
    res_call r = {0};
    wk_web_call_init(&c, req, true);
    if (!slash || strcmp(slash, "/delete") || !wk_web_id(rest, (size_t)(slash - rest), &r.contact_id))
        return wk_web_err(resp, 404, "not_found", "no such route", NULL);
    c.op = res__op_contact_delete;
    c.arg = &r;
    return wk_web_run(&c, resp);
}

const wk_http_route wk_web_resident_routes[] = {
    {"POST", "/api/v1/me/topups", res__topup, NULL, RES_BODY_MAX, "me_topup"},
    {"GET", "/api/v1/me/topups/*", res__order, NULL, 0, "me_topup_state"},
    {"GET", "/api/v1/me/summary", res__summary, NULL, 0, "me_summary"},
    {"GET", "/api/v1/me/usage", res__usage, NULL, 0, "me_usage"},
    {"GET", "/api/v1/me/contacts", res__contacts, NULL, 0, "me_contacts"},
    {"POST", "/api/v1/me/contacts", res__contact_put, NULL, RES_BODY_MAX, "me_contact_put"},
    {"POST", "/api/v1/me/contacts/*", res__contact_delete, NULL, 0, "me_contact_delete"},
};
const size_t wk_web_resident_nroutes = sizeof wk_web_resident_routes / sizeof wk_web_resident_routes[0];
