/*
 * serve_payments.h - what the payment routes with the admin token (serve_pay.c) share with
 * the staff payment routes (serve_web_payments.c): the configured channels, the channel
 * refund call, one reconciliation run (reconcile + store) and the JSON of an order and of
 * a report, so both sets of routes run the same code.
 */
#ifndef WK_APP_SERVE_PAYMENTS_H
#define WK_APP_SERVE_PAYMENTS_H

#include <jansson.h>

#include "api/http.h"
#include "app/serve.h"
#include "pay/pay.h"

/* The channels set by wk_serve_pay_set (NULL = payments off). */
const wk_pay_channels *wk_serve_pay_channels(void);

/* Asks order o's channel to refund amount_fen under our out_refund_no (HTTP thread, never
 * the main loop); *r receives the channel's verified answer. Errors as
 * wk_pay_wechat_refund; WK_EINVAL when payments are off. */
wk_err wk_serve_pay_channel_refund(const wk_pay_order *o, const char *out_refund_no, int64_t amount_fen,
                                   const char *reason, wk_pay_channel_refund *r, wk_diag *d) WK_MUST_CHECK;

/* One reconciliation on the main loop: wk_pay_reconcile, then wk_pay_recon_store (company
 * and user 0 for the admin token, hook e.g. the staff audit row), logging discrepancies.
 * *id receives the stored run's id. */
wk_err wk_serve_pay_reconcile_run(const wk_serve_env *env, const wk_pay_bill *b, int64_t company_id,
                                  int64_t user_id, wk_pay_hook hook, void *hook_ctx, wk_pay_recon_report *rep,
                                  int64_t *id, wk_diag *d) WK_MUST_CHECK;

/* {"channel", "bill_payments", ... "discrepancies"} of a report (NULL when out of memory). */
json_t *wk_serve_pay_report_json(wk_pay_channel ch, const wk_pay_recon_report *rep);

/* {"out_trade_no", "account_id", "channel", "amount_fen", "state", "created_ms", "expires_ms"}. */
json_t *wk_serve_pay_order_json(const wk_pay_order *o);

/* serve_web_payments.c: GET /api/v1/orders/{no} with a session or API token (staff,
 * tenancy-checked), called by the admin-token route when no admin token was sent. */
int wk_web_payments_order_get(wk_http_req *req, wk_http_resp *resp);

#endif
