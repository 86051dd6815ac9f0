/*
 * serve_pay.c - the payment routes of `wattkeeper serve`:
 *
 *   POST /pay/wechat/notify   WeChat Pay v3 notification: 204 no body once the credit is
 *                             committed (or was before); 4xx/5xx with
 *                             {"code":"FAIL","message":"失败"} otherwise, so WeChat retries.
 *   POST /pay/alipay/notify   Alipay notification: body exactly "success" once committed;
 *                             "fail" otherwise.
 *   POST /api/v1/orders       create a top-up order (admin token); for WeChat with a
 *                             merchant key, the Native prepay's code_url is in the answer;
 *                             for Alipay with an app key, the precreate's qr_code.
 *   GET  /api/v1/orders/{no}  an order's state (admin token).
 *   POST /api/v1/reconcile?channel=C  a daily bill in, the discrepancy report out (admin).
 *   POST /api/v1/counter/{payments,refunds,settlements}  staff money at the office (admin).
 *   POST /api/v1/orders/{no}/query  ask the channel about an order stuck in created (admin).
 *   POST /api/v1/refunds      refund a credited order through its channel (admin).
 *
 * Verification (signature, window, decryption, business facts) runs on the HTTP thread and
 * touches no state; only the credit goes to the main loop (serve.h). The channel is
 * answered only after wk_pay_credit returned, i.e. after the commit.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app/serve.h"
#include "core/log.h"
#include "core/mem.h"
#include "pay/pay.h"
#include "proto/encoding.h"

#define PAY__SUBMIT_MS 4000 /* WeChat wants an answer within 5 s */

static wk_pay_channels *g_pay; /* set once before the server starts; immutable after */

void wk_serve_pay_set(wk_pay_channels *p)
{
    g_pay = p;
}

wk_pay_channels *wk_serve_pay_channels(void)
{
    return g_pay;
}

typedef struct pay_call {
    wk_pay_payment p;
    bool duplicate;
} pay_call;

static wk_err pay__credit_fn(const wk_serve_env *env, void *ctx, wk_diag *d)
{
    pay_call *c = ctx;
    return wk_pay_credit(env->hd, &c->p, "notify", env->now_ms, &c->duplicate, d);
}

/* Queues the credit and waits; returns the HTTP status class to answer with. */
static int pay__credit(wk_serve *s, const wk_pay_payment *p, wk_diag *d)
{
    pay_call c = {.p = *p};
    wk_serve_req r = {.kind = WK_SERVE_REQ_CALL, .fn = pay__credit_fn, .ctx = &c};
    wk_err e = wk_serve_submit(s, &r, PAY__SUBMIT_MS);
    const char *ch = wk_pay_channel_str(p->channel);
    if (e) {
        wk_diag_set(d, e, "%s", e == WK_ELIMIT ? "busy: not answered in time" : "stopping");
        wk_log(WK_LOG_WARN, "payment not credited yet", "channel=%s txn=%s why=%s", ch, WK_LOG_Q(p->txn_id),
               WK_LOG_Q(d->msg));
        return 503;
    }
    *d = r.diag;
    if (r.result) {
        wk_log(WK_LOG_WARN, "payment refused", "channel=%s txn=%s order=%s error=%s why=%s", ch,
               WK_LOG_Q(p->txn_id), WK_LOG_Q(p->out_trade_no), wk_err_str(r.result), WK_LOG_Q(r.diag.msg));
        return r.result == WK_ENOTFOUND ? 404 : r.result == WK_ECONFLICT ? 409 : 500;
    }
    wk_log(WK_LOG_INFO, c.duplicate ? "payment duplicate" : "payment credited",
           "channel=%s txn=%s order=%s amount_fen=%lld", ch, WK_LOG_Q(p->txn_id), WK_LOG_Q(p->out_trade_no),
           (long long)p->amount_fen);
    return 200;
}

typedef struct notice_call {
    wk_pay_channel channel;
    char kind[64], ref[WK_PAY_ID_MAX], out_trade_no[WK_PAY_OUT_TRADE_NO_MAX];
    int64_t amount_fen;
    bool duplicate, refund_known;
} notice_call;

static wk_err pay__notice_fn(const wk_serve_env *env, void *ctx, wk_diag *d)
{
    notice_call *c = ctx;
    return wk_pay_notice_record(env->st, c->channel, c->kind, c->ref, c->out_trade_no, c->amount_fen, env->now_ms,
                                &c->duplicate, &c->refund_known, d);
}

/* Records a verified notification that is not a payment; returns the HTTP status class. */
static int pay__notice(wk_serve *s, wk_pay_channel ch, const char *kind, const char *ref, const char *out_trade_no,
                       int64_t amount_fen, wk_diag *d)
{
    notice_call c = {.channel = ch, .amount_fen = amount_fen};
    snprintf(c.kind, sizeof c.kind, "%s", kind);
    snprintf(c.ref, sizeof c.ref, "%s", ref);
    snprintf(c.out_trade_no, sizeof c.out_trade_no, "%s", out_trade_no);
    wk_serve_req r = {.kind = WK_SERVE_REQ_CALL, .fn = pay__notice_fn, .ctx = &c};
    wk_err e = wk_serve_submit(s, &r, PAY__SUBMIT_MS);
    if (e || r.result) {
        *d = r.diag;
        wk_log(WK_LOG_WARN, "notification not recorded", "channel=%s kind=%s ref=%s why=%s", wk_pay_channel_str(ch),
               WK_LOG_Q(c.kind), WK_LOG_Q(c.ref), WK_LOG_Q(e ? "not answered in time" : r.diag.msg));
        return e ? 503 : 500;
    }
    wk_log(WK_LOG_INFO, c.duplicate ? "notification recorded before" : "notification recorded (not a payment)",
           "channel=%s kind=%s ref=%s order=%s refund_known=%s", wk_pay_channel_str(ch), WK_LOG_Q(c.kind),
           WK_LOG_Q(c.ref), WK_LOG_Q(c.out_trade_no), c.refund_known ? "true" : "false");
    return 200;
}

static int pay__wechat_fail(wk_http_resp *resp, int status)
{
    return wk_http_resp_json(resp, status, "{\"code\":\"FAIL\",\"message\":\"\xe5\xa4\xb1\xe8\xb4\xa5\"}") ? -1 : 0;
}

int wk_serve_pay_wechat_notify(wk_http_req *req, wk_http_resp *resp, void *ctx)
{
    wk_serve *s = ctx;
    if (!g_pay || !g_pay->wechat_on)
        return pay__wechat_fail(resp, 404);
    size_t len;
    const char *body = wk_http_req_body(req, &len);
    wk_pay_wechat_headers h = {
        .timestamp = wk_http_req_header(req, "Wechatpay-Timestamp"),
        .nonce = wk_http_req_header(req, "Wechatpay-Nonce"),
        .signature = wk_http_req_header(req, "Wechatpay-Signature"),
        .serial = wk_http_req_header(req, "Wechatpay-Serial"),
        .signature_type = wk_http_req_header(req, "Wechatpay-Signature-Type"),
    };
    wk_diag d = {{0}};
    wk_err e = wk_pay_wechat_authenticate(&g_pay->wechat, &h, body, len, (int64_t)time(NULL), &d);
    char ev[64] = "", plain[4096];
    size_t n = 0;
    wk_pay_payment p;
    if (!e)
        e = wk_pay_wechat_decrypt(&g_pay->wechat, body, len, ev, sizeof ev, plain, sizeof plain, &n, &d);
    if (!e && !strncmp(ev, "REFUND.", 7)) {
        /* authentic and not a payment: acknowledged and recorded, never credited */
        wk_pay_channel_refund rf;
        if (!(e = wk_pay_wechat_refund_notice(&g_pay->wechat, plain, n, &rf, &d))) {
            int st = pay__notice(s, WK_PAY_WECHAT, ev, rf.refund_id, rf.out_trade_no, rf.amount_fen, &d);
            if (st != 200)
                return pay__wechat_fail(resp, st);
            wk_http_resp_status(resp, 204);
            return 0;
        }
    } else if (!e && strcmp(ev, "TRANSACTION.SUCCESS")) {
        e = wk_diag_set(&d, WK_ECONFLICT, "event_type: %.40s is not a payment", ev);
    }
    if (!e)
        e = wk_pay_wechat_transaction(&g_pay->wechat, plain, n, &p, &d);
    if (e) {
        wk_log(WK_LOG_WARN, "wechat notification rejected", "error=%s why=%s serial=%s", wk_err_str(e),
               WK_LOG_Q(d.msg), WK_LOG_Q(h.serial));
        return pay__wechat_fail(resp, e == WK_ECRYPTO || e == WK_ERANGE ? 401 : 400);
    }
    int st = pay__credit(s, &p, &d);
    if (st != 200)
        return pay__wechat_fail(resp, st);
    wk_http_resp_status(resp, 204);
    return 0;
}

static int pay__alipay_answer(wk_http_resp *resp, int status, const char *text)
{
    wk_http_resp_status(resp, status);
    return wk_http_resp_body(resp, "text/plain; charset=utf-8", text, strlen(text)) ? -1 : 0;
}

int wk_serve_pay_alipay_notify(wk_http_req *req, wk_http_resp *resp, void *ctx)
{
    wk_serve *s = ctx;
    if (!g_pay || !g_pay->alipay_on)
        return pay__alipay_answer(resp, 404, "fail");
    size_t len;
    const char *body = wk_http_req_body(req, &len);
    wk_pay_form f;
    wk_diag d = {{0}};
    wk_pay_payment p;
    wk_err e = wk_pay_form_parse(body, len, &f, &d);
    if (!e) {
        e = wk_pay_alipay_verify(&g_pay->alipay, &f, &p, &d);
        wk_pay_form_free(&f);
    }
    if (e == WK_ECONFLICT && p.status[0]) {
        /* authentic and not a payment (TRADE_CLOSED, ...): acknowledged and recorded */
        int st = pay__notice(s, WK_PAY_ALIPAY, p.status, p.txn_id[0] ? p.txn_id : p.out_trade_no, p.out_trade_no, 0,
                             &d);
        return st == 200 ? pay__alipay_answer(resp, 200, "success") : pay__alipay_answer(resp, st, "fail");
    }
    if (e) {
        wk_log(WK_LOG_WARN, "alipay notification rejected", "error=%s why=%s", wk_err_str(e), WK_LOG_Q(d.msg));
        return pay__alipay_answer(resp, e == WK_ECRYPTO ? 401 : 400, "fail");
    }
    int st = pay__credit(s, &p, &d);
    return st == 200 ? pay__alipay_answer(resp, 200, "success") : pay__alipay_answer(resp, st, "fail");
}

/* ---- orders ---- */

typedef struct order_call {
    int64_t account_id, amount_fen;
    wk_pay_channel channel;
    char out_trade_no[WK_PAY_OUT_TRADE_NO_MAX];
    wk_pay_order o;
} order_call;

static wk_err pay__order_create_fn(const wk_serve_env *env, void *ctx, wk_diag *d)
{
    order_call *c = ctx;
    int64_t n;
    wk_err e = wk_pay_order_expire(env->st, env->now_ms, &n, d);
    if (e)
        return e;
    return wk_pay_order_create(env->st, c->account_id, c->channel, c->amount_fen, &g_pay->limits, env->now_ms,
                               &c->o, d);
}

static wk_err pay__order_get_fn(const wk_serve_env *env, void *ctx, wk_diag *d)
{
    order_call *c = ctx;
    return wk_pay_order_get(env->st, c->out_trade_no, &c->o, d);
}

static int pay__err(wk_http_resp *resp, int status, const char *code, const char *msg, const char *field)
{
    return wk_http_resp_error(resp, status, code, msg, field) ? -1 : 0;
}

/* The order as JSON; extra_key/extra_val (may be NULL) add one string member. */
static int pay__order_json(wk_http_resp *resp, int status, const wk_pay_order *o, const char *extra_key,
                           const char *extra_val)
{
    json_t *j = json_pack("{s:s, s:I, s:s, s:I, s:s, s:I, s:I}", "out_trade_no", o->out_trade_no, "account_id",
                          (json_int_t)o->account_id, "channel", wk_pay_channel_str(o->channel), "amount_fen",
                          (json_int_t)o->amount_fen, "state", wk_pay_order_state_str(o->state), "created_ms",
                          (json_int_t)o->created_ms, "expires_ms", (json_int_t)o->expires_ms);
    if (j && extra_key && extra_val)
        json_object_set_new(j, extra_key, json_string(extra_val));
    char *out = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    int rc = out && !wk_http_resp_json(resp, status, out) ? 0 : -1;
    free(out);
    return rc;
}

static int pay__submit_answer(wk_http_resp *resp, wk_err e, const wk_serve_req *r)
{
    if (e == WK_ELIMIT)
        return pay__err(resp, 503, "busy", "the server did not answer in time", NULL);
    if (e)
        return pay__err(resp, 503, "stopping", "the server is stopping", NULL);
    const char *field = NULL;
    if (!strncmp(r->diag.msg, "amount_fen", 10))
        field = "amount_fen";
    else if (!strncmp(r->diag.msg, "account_id", 10))
        field = "account_id";
    switch (r->result) {
    case WK_ERANGE:
    case WK_EINVAL:
        return pay__err(resp, 400, "invalid", r->diag.msg, field);
    case WK_ENOTFOUND:
        return pay__err(resp, 404, "not_found", r->diag.msg, field);
    case WK_ECONFLICT:
        return pay__err(resp, 409, "conflict", r->diag.msg, field);
    default:
        return pay__err(resp, 500, "internal", r->diag.msg, NULL);
    }
}

/* POST /api/v1/orders {"account_id": N, "amount_fen": N, "channel": "wechat"|"alipay"} */
int wk_serve_pay_orders_create(wk_http_req *req, wk_http_resp *resp, void *ctx)
{
    wk_serve *s = ctx;
    if (!wk_serve_http_authorized(s, req))
        return pay__err(resp, 401, "unauthorized", "a valid admin token is required", NULL);
    if (!g_pay)
        return pay__err(resp, 503, "unavailable", "payments are not configured", NULL);
    int answered;
    json_t *j = wk_serve_http_json_body(req, resp, &answered);
    if (!j)
        return answered;
    json_t *acc = json_object_get(j, "account_id"), *amt = json_object_get(j, "amount_fen"),
           *ch = json_object_get(j, "channel");
    order_call c = {0};
    const char *bad = NULL, *why = NULL, *k;
    json_t *v;
    json_object_foreach(j, k, v)
    {
        if (strcmp(k, "account_id") && strcmp(k, "amount_fen") && strcmp(k, "channel")) {
            bad = k;
            why = "unknown field";
        }
    }
    if (!bad && (!json_is_integer(acc) || json_integer_value(acc) <= 0)) {
        bad = "account_id";
        why = "expected a positive integer";
    } else if (!bad && !json_is_integer(amt)) {
        bad = "amount_fen";
        why = "expected an integer number of fen";
    } else if (!bad && (!json_is_string(ch) || wk_pay_channel_parse(json_string_value(ch), &c.channel, NULL))) {
        bad = "channel";
        why = "expected \"wechat\" or \"alipay\"";
    } else if (!bad && ((c.channel == WK_PAY_WECHAT && !g_pay->wechat_on) ||
                        (c.channel == WK_PAY_ALIPAY && !g_pay->alipay_on))) {
        bad = "channel";
        why = "this channel is not configured";
    }
    if (bad) {
        int rc = pay__err(resp, 400, "invalid", why, bad);
        json_decref(j);
        return rc;
    }
    c.account_id = json_integer_value(acc);
    c.amount_fen = json_integer_value(amt);
    json_decref(j);
    wk_serve_req r = {.kind = WK_SERVE_REQ_CALL, .fn = pay__order_create_fn, .ctx = &c};
    wk_err e = wk_serve_submit(s, &r, 10000);
    if (e || r.result)
        return pay__submit_answer(resp, e, &r);
    if (c.channel == WK_PAY_WECHAT && g_pay->merchant_key) {
        /* Native prepay on this HTTP thread: the payer opens code_url */
        char code_url[1024];
        wk_diag d = {{0}};
        if (wk_pay_wechat_prepay(g_pay, g_pay->notify_base_url, c.o.out_trade_no, c.o.amount_fen, (int64_t)time(NULL),
                                 code_url, sizeof code_url, &d)) {
            wk_log(WK_LOG_WARN, "prepay failed", "order=%s why=%s", WK_LOG_Q(c.o.out_trade_no), WK_LOG_Q(d.msg));
            return pay__order_json(resp, 201, &c.o, "prepay_error", d.msg);
        }
        return pay__order_json(resp, 201, &c.o, "code_url", code_url);
    }
    if (c.channel == WK_PAY_ALIPAY && g_pay->alipay_app_key) {
        /* precreate on this HTTP thread: the payer scans qr_code */
        char qr[1024];
        wk_diag d = {{0}};
        if (wk_pay_alipay_precreate(g_pay, g_pay->notify_base_url, c.o.out_trade_no, c.o.amount_fen,
                                    (int64_t)time(NULL), qr, sizeof qr, &d)) {
            wk_log(WK_LOG_WARN, "precreate failed", "order=%s why=%s", WK_LOG_Q(c.o.out_trade_no), WK_LOG_Q(d.msg));
            return pay__order_json(resp, 201, &c.o, "prepay_error", d.msg);
        }
        return pay__order_json(resp, 201, &c.o, "qr_code", qr);
    }
    return pay__order_json(resp, 201, &c.o, NULL, NULL);
}

/* GET /api/v1/orders/{out_trade_no} */
int wk_serve_pay_orders_get(wk_http_req *req, wk_http_resp *resp, void *ctx)
{
    wk_serve *s = ctx;
    if (!wk_serve_http_authorized(s, req))
        return pay__err(resp, 401, "unauthorized", "a valid admin token is required", NULL);
    const char *no = wk_http_req_path_rest(req);
    if (!no || !*no || strlen(no) >= WK_PAY_OUT_TRADE_NO_MAX)
        return pay__err(resp, 404, "not_found", "no such order", NULL);
    order_call c = {0};
    snprintf(c.out_trade_no, sizeof c.out_trade_no, "%s", no);
    wk_serve_req r = {.kind = WK_SERVE_REQ_CALL, .fn = pay__order_get_fn, .ctx = &c};
    wk_err e = wk_serve_submit(s, &r, 10000);
    if (e || r.result)
        return pay__submit_answer(resp, e, &r);
    return pay__order_json(resp, 200, &c.o, NULL, NULL);
}

/* ---- reconciliation ---- */

typedef struct recon_call {
    wk_pay_bill bill;
    wk_pay_recon_report rep;
} recon_call;

static wk_err pay__recon_fn(const wk_serve_env *env, void *ctx, wk_diag *d)
{
    recon_call *c = ctx;
    return wk_pay_reconcile(env->hd, &c->bill, env->now_ms, &c->rep, d);
}

/* POST /api/v1/reconcile?channel=wechat|alipay, body = the channel's daily bill file */
int wk_serve_pay_reconcile(wk_http_req *req, wk_http_resp *resp, void *ctx)
{
    wk_serve *s = ctx;
    if (!wk_serve_http_authorized(s, req))
        return pay__err(resp, 401, "unauthorized", "a valid admin token is required", NULL);
    wk_pay_channel ch;
    if (wk_pay_channel_parse(wk_http_req_query(req, "channel"), &ch, NULL))
        return pay__err(resp, 400, "invalid", "expected ?channel=wechat or ?channel=alipay", "channel");
    size_t len;
    const char *body = wk_http_req_body(req, &len);
    recon_call *c = wk_calloc(1, sizeof *c);
    if (!c)
        return -1;
    wk_diag d = {{0}};
    if (wk_pay_bill_parse(ch, body, len, &c->bill, &d)) {
        wk_free(c);
        return pay__err(resp, 400, "bad_bill", d.msg, "bill");
    }
    wk_serve_req r = {.kind = WK_SERVE_REQ_CALL, .fn = pay__recon_fn, .ctx = c};
    wk_err e = wk_serve_submit(s, &r, 60000);
    int rc;
    if (e || r.result) {
        rc = pay__submit_answer(resp, e, &r);
    } else {
        const wk_pay_recon_report *p = &c->rep;
        json_t *j = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s}", "channel",
                              wk_pay_channel_str(ch), "bill_payments", (json_int_t)p->bill_payments, "bill_refunds",
                              (json_int_t)p->bill_refunds, "matched", (json_int_t)p->matched, "credited_from_bill",
                              (json_int_t)p->credited_from_bill, "unattributable", (json_int_t)p->unattributable,
                              "unknown_to_channel", (json_int_t)p->unknown_to_channel, "amount_mismatch",
                              (json_int_t)p->amount_mismatch, "refunds_unmatched", (json_int_t)p->refunds_unmatched,
                              "discrepancies", p->lines);
        char *out = j ? json_dumps(j, JSON_COMPACT) : NULL;
        json_decref(j);
        rc = out && !wk_http_resp_json(resp, 200, out) ? 0 : -1;
        free(out);
        if (p->unattributable || p->unknown_to_channel || p->amount_mismatch || p->credited_from_bill)
            wk_log(WK_LOG_WARN, "reconciliation found discrepancies", "channel=%s paid_not_credited=%lld "
                   "unattributable=%lld unknown_to_channel=%lld amount_mismatch=%lld refunds_unmatched=%lld",
                   wk_pay_channel_str(ch), (long long)p->credited_from_bill, (long long)p->unattributable,
                   (long long)p->unknown_to_channel, (long long)p->amount_mismatch,
                   (long long)p->refunds_unmatched);
    }
    wk_pay_bill_free(&c->bill);
    wk_free(c);
    return rc;
}

/* ---- counter: payments, refunds, move-out settlements (staff, admin token) ---- */

typedef struct counter_call {
    const char *what; /* "payments", "refunds", "settlements" */
    int64_t account_id, amount_fen, carry_to;
    wk_pay_method method;
    char op[129], reason[201];
    uint8_t id[16];
    bool existed;
    int64_t settled_fen;
} counter_call;

static wk_err pay__counter_fn(const wk_serve_env *env, void *ctx, wk_diag *d)
{
    counter_call *c = ctx;
    if (!strcmp(c->what, "payments"))
        return wk_pay_counter_payment(env->hd, c->account_id, c->amount_fen, c->method, c->op, c->reason, c->id,
                                      env->now_ms, &c->existed, d);
    if (!strcmp(c->what, "refunds"))
        return wk_pay_refund(env->hd, c->account_id, c->amount_fen, c->method, c->op, c->reason, c->id, env->now_ms,
                             &c->existed, d);
    return wk_pay_settle(env->hd, c->account_id, c->method, c->carry_to, c->op, c->reason, env->now_ms,
                         &c->settled_fen, d);
}

/* POST /api/v1/counter/payments|refunds
 *   {"account_id": N, "amount_fen": N, "method": "cash"|"bank_transfer", "operator": "...",
 *    "reason": "...", "id": "32 hex"}
 * POST /api/v1/counter/settlements
 *   {"account_id": N, "method": "cash"|"bank_transfer", "carry_to_account": N (optional),
 *    "operator": "...", "reason": "..."} */
int wk_serve_pay_counter(wk_http_req *req, wk_http_resp *resp, void *ctx)
{
    wk_serve *s = ctx;
    const char *what = wk_http_req_path_rest(req);
    if (!what || (strcmp(what, "payments") && strcmp(what, "refunds") && strcmp(what, "settlements")))
        return pay__err(resp, 404, "not_found", "no such route", NULL);
    if (!wk_serve_http_authorized(s, req))
        return pay__err(resp, 401, "unauthorized", "a valid admin token is required", NULL);
    bool settle = !strcmp(what, "settlements");
    int answered;
    json_t *j = wk_serve_http_json_body(req, resp, &answered);
    if (!j)
        return answered;
    counter_call c = {.what = what};
    json_t *acc = json_object_get(j, "account_id"), *amt = json_object_get(j, "amount_fen"),
           *m = json_object_get(j, "method"), *op = json_object_get(j, "operator"),
           *rs = json_object_get(j, "reason"), *id = json_object_get(j, "id"),
           *carry = json_object_get(j, "carry_to_account");
    const char *bad = NULL, *why = NULL;
    size_t n;
    if (!json_is_integer(acc) || json_integer_value(acc) <= 0)
        bad = "account_id", why = "expected a positive integer";
    else if (!settle && (!json_is_integer(amt) || json_integer_value(amt) <= 0))
        bad = "amount_fen", why = "expected a positive integer number of fen";
    else if (!json_is_string(m) || wk_pay_method_parse(json_string_value(m), &c.method, NULL))
        bad = "method", why = "expected \"cash\" or \"bank_transfer\"";
    else if (!json_is_string(op) || json_string_length(op) == 0 || json_string_length(op) >= sizeof c.op)
        bad = "operator", why = "expected the operator's name (1..128 bytes)";
    else if (!json_is_string(rs) || json_string_length(rs) == 0 || json_string_length(rs) >= sizeof c.reason)
        bad = "reason", why = "expected a reason (1..200 bytes)";
    else if (!settle && (!json_is_string(id) || json_string_length(id) != 32 ||
                         wk_hex_decode(json_string_value(id), 32, c.id, sizeof c.id, &n)))
        bad = "id", why = "expected 32 hex digits (the idempotency key)";
    else if (settle && carry && (!json_is_integer(carry) || json_integer_value(carry) <= 0))
        bad = "carry_to_account", why = "expected a positive integer";
    if (bad) {
        int rc = pay__err(resp, 400, "invalid", why, bad);
        json_decref(j);
        return rc;
    }
    c.account_id = json_integer_value(acc);
    c.amount_fen = settle ? 0 : json_integer_value(amt);
    c.carry_to = carry ? json_integer_value(carry) : 0;
    snprintf(c.op, sizeof c.op, "%s", json_string_value(op));
    snprintf(c.reason, sizeof c.reason, "%s", json_string_value(rs));
    json_decref(j);
    wk_serve_req r = {.kind = WK_SERVE_REQ_CALL, .fn = pay__counter_fn, .ctx = &c};
    wk_err e = wk_serve_submit(s, &r, 10000);
    if (e || r.result)
        return pay__submit_answer(resp, e, &r);
    wk_log(WK_LOG_INFO, "counter", "what=%s account=%lld amount_fen=%lld operator=%s reason=%s", what,
           (long long)c.account_id, (long long)(settle ? c.settled_fen : c.amount_fen), WK_LOG_Q(c.op),
           WK_LOG_Q(c.reason));
    char out[256];
    if (settle)
        snprintf(out, sizeof out, "{\"account_id\":%lld,\"settled_fen\":%lld,\"closed\":true}",
                 (long long)c.account_id, (long long)c.settled_fen);
    else
        snprintf(out, sizeof out, "{\"account_id\":%lld,\"amount_fen\":%lld,\"existed\":%s}", (long long)c.account_id,
                 (long long)c.amount_fen, c.existed ? "true" : "false");
    return wk_http_resp_json(resp, c.existed ? 200 : 201, out) ? -1 : 0;
}

/* ---- order query (lost notifications) ---- */

typedef struct query_call {
    order_call oc;
    wk_pay_payment p;
    bool duplicate;
} query_call;

static wk_err pay__query_credit_fn(const wk_serve_env *env, void *ctx, wk_diag *d)
{
    query_call *c = ctx;
    wk_err e = wk_pay_credit(env->hd, &c->p, "query", env->now_ms, &c->duplicate, d);
    if (!e)
        e = wk_pay_order_get(env->st, c->oc.out_trade_no, &c->oc.o, d);
    return e;
}

/* POST /api/v1/orders/{out_trade_no}/query: asks the channel about an order still in
 * created (its notification may be lost) and credits it through the same path when the
 * channel says it was paid. The channel call runs on this HTTP thread. */
int wk_serve_pay_orders_query(wk_http_req *req, wk_http_resp *resp, void *ctx)
{
    wk_serve *s = ctx;
    if (!wk_serve_http_authorized(s, req))
        return pay__err(resp, 401, "unauthorized", "a valid admin token is required", NULL);
    const char *rest = wk_http_req_path_rest(req);
    size_t rl = rest ? strlen(rest) : 0;
    if (rl <= 6 || strcmp(rest + rl - 6, "/query") || rl - 6 >= WK_PAY_OUT_TRADE_NO_MAX)
        return pay__err(resp, 404, "not_found", "no such route", NULL);
    query_call *c = wk_calloc(1, sizeof *c);
    if (!c)
        return -1;
    snprintf(c->oc.out_trade_no, sizeof c->oc.out_trade_no, "%.*s", (int)(rl - 6), rest);
    wk_serve_req r = {.kind = WK_SERVE_REQ_CALL, .fn = pay__order_get_fn, .ctx = &c->oc};
    wk_err e = wk_serve_submit(s, &r, 10000);
    int rc;
    if (e || r.result) {
        rc = pay__submit_answer(resp, e, &r);
        goto done;
    }
    bool paid = false;
    wk_diag d = {{0}};
    if (c->oc.o.channel == WK_PAY_WECHAT)
        e = wk_pay_wechat_query(g_pay, c->oc.out_trade_no, (int64_t)time(NULL), &c->p, &paid, &d);
    else
        e = wk_pay_alipay_query(g_pay, c->oc.out_trade_no, (int64_t)time(NULL), &c->p, &paid, &d);
    if (e) {
        wk_log(WK_LOG_WARN, "order query failed", "order=%s error=%s why=%s", WK_LOG_Q(c->oc.out_trade_no),
               wk_err_str(e), WK_LOG_Q(d.msg));
        rc = pay__err(resp, e == WK_ENOTFOUND ? 404 : e == WK_EINVAL ? 400 : 502, "channel", d.msg, NULL);
        goto done;
    }
    if (paid) {
        wk_serve_req r2 = {.kind = WK_SERVE_REQ_CALL, .fn = pay__query_credit_fn, .ctx = c};
        e = wk_serve_submit(s, &r2, 10000);
        if (e || r2.result) {
            rc = pay__submit_answer(resp, e, &r2);
            goto done;
        }
        wk_log(WK_LOG_INFO, c->duplicate ? "order query: already credited" : "order query: credited",
               "order=%s txn=%s amount_fen=%lld", WK_LOG_Q(c->oc.out_trade_no), WK_LOG_Q(c->p.txn_id),
               (long long)c->p.amount_fen);
    }
    char out[400];
    snprintf(out, sizeof out, "{\"out_trade_no\":\"%s\",\"state\":\"%s\",\"channel_state\":\"%s\",\"credited_now\":%s}",
             c->oc.out_trade_no, wk_pay_order_state_str(c->oc.o.state), c->p.status,
             paid && !c->duplicate ? "true" : "false");
    rc = wk_http_resp_json(resp, 200, out) ? -1 : 0;
done:
    wk_free(c);
    return rc;
}

/* ---- channel refunds ---- */

/* Like pay__submit_answer, naming the refund fields. */
static int pay__refund_answer(wk_http_resp *resp, wk_err e, const wk_serve_req *r)
{
    static const char *const fields[] = {"amount_fen", "out_refund_no", "out_trade_no", "refund_id", "channel",
                                         "operator", "reason", "account_id"};
    if (e || !r->result)
        return pay__submit_answer(resp, e, r);
    const char *field = NULL;
    for (size_t i = 0; i < sizeof fields / sizeof fields[0] && !field; i++)
        if (!strncmp(r->diag.msg, fields[i], strlen(fields[i])))
            field = fields[i];
    int st = r->result == WK_ERANGE || r->result == WK_EINVAL ? 400
             : r->result == WK_ENOTFOUND                      ? 404
             : r->result == WK_ECONFLICT                      ? 409
                                                              : 500;
    return pay__err(resp, st, st == 400 ? "invalid" : st == 404 ? "not_found" : st == 409 ? "conflict" : "internal",
                    r->diag.msg, field);
}

typedef struct refund_call {
    char out_trade_no[WK_PAY_OUT_TRADE_NO_MAX], out_refund_no[WK_PAY_ID_MAX];
    char op[129], reason[201];
    int64_t amount_fen;
    wk_pay_order o;
    wk_pay_channel_refund r;
    bool existed;
} refund_call;

static wk_err pay__refund_check_fn(const wk_serve_env *env, void *ctx, wk_diag *d)
{
    refund_call *c = ctx;
    return wk_pay_refund_check(env->hd, c->out_trade_no, c->out_refund_no, c->amount_fen, env->now_ms, &c->o, &c->r,
                               &c->existed, d);
}

static wk_err pay__refund_book_fn(const wk_serve_env *env, void *ctx, wk_diag *d)
{
    refund_call *c = ctx;
    return wk_pay_refund_book(env->hd, &c->r, c->op, c->reason, env->now_ms, &c->existed, d);
}

static int pay__refund_json(wk_http_resp *resp, int status, const refund_call *c)
{
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:b}", "channel", wk_pay_channel_str(c->o.channel),
                          "out_trade_no", c->out_trade_no, "out_refund_no", c->out_refund_no, "refund_id",
                          c->r.refund_id, "amount_fen", (json_int_t)c->amount_fen, "status", c->r.status, "existed",
                          (int)c->existed);
    char *out = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    int rc = out && !wk_http_resp_json(resp, status, out) ? 0 : -1;
    free(out);
    return rc;
}

/* POST /api/v1/refunds {"out_trade_no": "...", "amount_fen": N, "out_refund_no": "...",
 *   "operator": "...", "reason": "..."}: refunds (part of) a credited order through its
 * channel. Checked on the main loop (nothing changed), the channel asked on this HTTP
 * thread (its answer verified), then booked once on the main loop. A repeated
 * out_refund_no answers the booked refund (200, existed); the channel deduplicates by
 * out_refund_no too, so a retry after a failed booking books the channel's refund once. */
int wk_serve_pay_refunds(wk_http_req *req, wk_http_resp *resp, void *ctx)
{
    wk_serve *s = ctx;
    if (!wk_serve_http_authorized(s, req))
        return pay__err(resp, 401, "unauthorized", "a valid admin token is required", NULL);
    if (!g_pay)
        return pay__err(resp, 503, "unavailable", "payments are not configured", NULL);
    int answered;
    json_t *j = wk_serve_http_json_body(req, resp, &answered);
    if (!j)
        return answered;
    refund_call *c = wk_calloc(1, sizeof *c);
    if (!c) {
        json_decref(j);
        return -1;
    }
    json_t *otn = json_object_get(j, "out_trade_no"), *amt = json_object_get(j, "amount_fen"),
           *orn = json_object_get(j, "out_refund_no"), *op = json_object_get(j, "operator"),
           *rs = json_object_get(j, "reason"), *v;
    const char *bad = NULL, *why = NULL, *k;
    json_object_foreach(j, k, v)
    {
        if (strcmp(k, "out_trade_no") && strcmp(k, "amount_fen") && strcmp(k, "out_refund_no") &&
            strcmp(k, "operator") && strcmp(k, "reason"))
            bad = k, why = "unknown field";
    }
    if (bad)
        ;
    else if (!json_is_string(otn) || json_string_length(otn) == 0 || json_string_length(otn) >= sizeof c->out_trade_no)
        bad = "out_trade_no", why = "expected the order number";
    else if (!json_is_integer(amt) || json_integer_value(amt) <= 0)
        bad = "amount_fen", why = "expected a positive integer number of fen";
    else if (!json_is_string(orn) || json_string_length(orn) == 0 || json_string_length(orn) >= sizeof c->out_refund_no)
        bad = "out_refund_no", why = "expected our refund number (1..63 characters, the idempotency key)";
    else if (!json_is_string(op) || json_string_length(op) == 0 || json_string_length(op) >= sizeof c->op)
        bad = "operator", why = "expected the operator's name (1..128 bytes)";
    else if (!json_is_string(rs) || json_string_length(rs) == 0 || json_string_length(rs) >= sizeof c->reason)
        bad = "reason", why = "expected a reason (1..200 bytes)";
    int rc;
    if (bad) {
        rc = pay__err(resp, 400, "invalid", why, bad);
        json_decref(j);
        goto done;
    }
    snprintf(c->out_trade_no, sizeof c->out_trade_no, "%s", json_string_value(otn));
    snprintf(c->out_refund_no, sizeof c->out_refund_no, "%s", json_string_value(orn));
    snprintf(c->op, sizeof c->op, "%s", json_string_value(op));
    snprintf(c->reason, sizeof c->reason, "%s", json_string_value(rs));
    c->amount_fen = json_integer_value(amt);
    json_decref(j);
    wk_serve_req r = {.kind = WK_SERVE_REQ_CALL, .fn = pay__refund_check_fn, .ctx = c};
    wk_err e = wk_serve_submit(s, &r, 10000);
    if (e || r.result) {
        rc = pay__refund_answer(resp, e, &r);
        goto done;
    }
    if (c->existed) {
        rc = pay__refund_json(resp, 200, c);
        goto done;
    }
    wk_diag d = {{0}};
    int64_t now_s = (int64_t)time(NULL);
    if (c->o.channel == WK_PAY_WECHAT)
        e = wk_pay_wechat_refund(g_pay, c->out_trade_no, c->out_refund_no, c->amount_fen, c->o.amount_fen, c->reason,
                                 now_s, &c->r, &d);
    else
        e = wk_pay_alipay_refund(g_pay, c->out_trade_no, c->out_refund_no, c->amount_fen, c->reason, now_s, &c->r,
                                 &d);
    if (e) {
        wk_log(WK_LOG_WARN, "channel refund failed", "order=%s out_refund_no=%s error=%s why=%s",
               WK_LOG_Q(c->out_trade_no), WK_LOG_Q(c->out_refund_no), wk_err_str(e), WK_LOG_Q(d.msg));
        rc = pay__err(resp, e == WK_EINVAL || e == WK_ERANGE ? 400 : 502, "channel", d.msg, NULL);
        goto done;
    }
    wk_serve_req r2 = {.kind = WK_SERVE_REQ_CALL, .fn = pay__refund_book_fn, .ctx = c};
    e = wk_serve_submit(s, &r2, 10000);
    if (e || r2.result) {
        /* the channel refunded and we could not book it: retrying the same out_refund_no
         * books it (the channel answers the same refund), reconciliation flags it meanwhile */
        wk_log(WK_LOG_ERROR, "channel refund not booked", "order=%s out_refund_no=%s refund_id=%s why=%s",
               WK_LOG_Q(c->out_trade_no), WK_LOG_Q(c->out_refund_no), WK_LOG_Q(c->r.refund_id),
               WK_LOG_Q(e ? "not answered" : r2.diag.msg));
        rc = pay__refund_answer(resp, e, &r2);
        goto done;
    }
    wk_log(WK_LOG_INFO, c->existed ? "channel refund: booked before" : "channel refund booked",
           "channel=%s order=%s refund_id=%s amount_fen=%lld operator=%s reason=%s", wk_pay_channel_str(c->r.channel),
           WK_LOG_Q(c->out_trade_no), WK_LOG_Q(c->r.refund_id), (long long)c->amount_fen, WK_LOG_Q(c->op),
           WK_LOG_Q(c->reason));
    rc = pay__refund_json(resp, c->existed ? 200 : 201, c);
done:
    wk_free(c);
    return rc;
}
