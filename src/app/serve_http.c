/*
 * serve_http.c - the HTTP routes of `wattkeeper serve`: /healthz, /metrics and the first
 * state-changing API route, POST /api/v1/accounts/{id}/credits (staff credit; guarded by
 * the admin token; the same prefix carries the staff account routes of
 * serve_web_accounts.c), and the payment routes of serve_pay.c. Handlers run on HTTP threads and never touch the database: they read
 * atomics or queue a request for the main loop (serve.h).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/serve.h"
#include "app/serve_web.h"
#include "core/units.h"
#include "pay/pay.h"
#include "proto/encoding.h"

static int http__healthz(wk_http_req *req, wk_http_resp *resp, void *ctx)
{
    (void)req;
    bool db, broker;
    int ok = wk_serve_healthy(ctx, &db, &broker);
    char body[128];
    snprintf(body, sizeof body, "{\"status\":\"%s\",\"db\":%s,\"broker\":%s}",
             ok ? "ok" : "degraded", db ? "true" : "false", broker ? "true" : "false");
    return wk_http_resp_json(resp, ok ? 200 : 503, body) ? -1 : 0;
}

bool wk_serve_http_authorized(wk_serve *s, wk_http_req *req)
{
    const char *h = wk_http_req_header(req, "Authorization");
    const char *tok = wk_serve_admin_token(s);
    if (!h || strncmp(h, "Bearer ", 7) || !tok || !*tok)
        return false;
    const char *given = h + 7;
    size_t n = strlen(tok);
    if (strlen(given) != n)
        return false;
    unsigned diff = 0; /* constant time */
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned)(given[i] ^ tok[i]);
    return diff == 0;
}

static int http__err(wk_http_resp *resp, int status, const char *code, const char *msg,
                     const char *field)
{
    return wk_http_resp_error(resp, status, code, msg, field) ? -1 : 0;
}

/* POST /api/v1/accounts/{id}/credits  {"amount_fen": N, "id": "32 hex", "reason": "..."}
 * (admin token). Every other suffix (move-out, vacancy, transfer) is a staff route of the
 * web API with sessions or API tokens: serve_web_accounts.c. */
static int http__accounts(wk_http_req *req, wk_http_resp *resp, void *ctx)
{
    wk_serve *s = ctx;
    const char *rest = wk_http_req_path_rest(req);
    const char *slash = rest ? strchr(rest, '/') : NULL;
    if (slash && strcmp(slash, "/credits"))
        return wk_web_accounts_post(req, resp, NULL);
    char *end = NULL;
    long long account = strtoll(rest ? rest : "", &end, 10);
    if (!rest || account <= 0 || !end || strcmp(end, "/credits"))
        return http__err(resp, 404, "not_found", "no such route", NULL);
    if (!wk_serve_http_authorized(s, req))
        return http__err(resp, 401, "unauthorized", "a valid admin token is required", NULL);
    int answered;
    json_t *j = wk_serve_http_json_body(req, resp, &answered);
    if (!j)
        return answered;
    wk_serve_req r = {.kind = WK_SERVE_REQ_CREDIT, .account_id = account};
    json_t *amount = json_object_get(j, "amount_fen"), *id = json_object_get(j, "id"),
           *reason = json_object_get(j, "reason");
    const char *bad = NULL, *why = NULL;
    size_t n;
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v)
    {
        if (strcmp(k, "amount_fen") && strcmp(k, "id") && strcmp(k, "reason")) {
            bad = k;
            why = "unknown field";
        }
    }
    if (!bad && (!json_is_integer(amount) || json_integer_value(amount) <= 0 ||
                 json_integer_value(amount) > INT64_C(100000000))) {
        bad = "amount_fen";
        why = "expected an integer number of fen, 1..100000000";
    } else if (!bad && (!json_is_string(id) || json_string_length(id) != 32 ||
                        wk_hex_decode(json_string_value(id), 32, r.id, sizeof r.id, &n))) {
        bad = "id";
        why = "expected 32 hex digits (the idempotency key)";
    } else if (!bad && reason && (!json_is_string(reason) || json_string_length(reason) == 0 ||
                                  json_string_length(reason) >= sizeof r.reason)) {
        bad = "reason";
        why = "expected a non-empty string of at most 255 bytes";
    }
    if (bad) {
        int rc = http__err(resp, 400, "invalid", why, bad);
        json_decref(j);
        return rc;
    }
    r.amount_fen = json_integer_value(amount);
    snprintf(r.reason, sizeof r.reason, "%s", reason ? json_string_value(reason) : "staff credit");
    json_decref(j);
    wk_err e = wk_serve_submit(s, &r, 10000);
    if (e == WK_ELIMIT)
        return http__err(resp, 503, "busy", "the server did not answer in time; retry with the same id",
                         NULL);
    if (e)
        return http__err(resp, 503, "stopping", "the server is stopping", NULL);
    if (r.result == WK_ENOTFOUND)
        return http__err(resp, 404, "not_found", r.diag.msg, NULL);
    if (r.result == WK_EEXIST)
        return http__err(resp, 409, "id_reused", "this id was used for another credit", "id");
    if (r.result)
        return http__err(resp, r.result == WK_ECONFLICT ? 409 : 500,
                         r.result == WK_ECONFLICT ? "conflict" : "internal", r.diag.msg, NULL);
    char out[160], hex[33];
    wk_hex_encode(r.id, 16, hex, sizeof hex);
    snprintf(out, sizeof out, "{\"account\":%lld,\"amount_fen\":%lld,\"id\":\"%s\",\"existed\":%s}",
             account, (long long)r.amount_fen, hex, r.existed ? "true" : "false");
    return wk_http_resp_json(resp, r.existed ? 200 : 201, out) ? -1 : 0;
}

json_t *wk_serve_http_json_body(wk_http_req *req, wk_http_resp *resp, int *rc)
{
    size_t len;
    const char *body = wk_http_req_body(req, &len);
    json_error_t je;
    json_t *j = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, &je);
    if (json_is_object(j))
        return j;
    json_decref(j);
    *rc = http__err(resp, 400, "bad_json", "the body must be a JSON object", NULL);
    return NULL;
}

wk_err wk_serve_http_start(wk_serve *s, const char *host, int port, wk_http **out, wk_diag *d)
{
    wk_http_opts o = wk_http_opts_default();
    o.host = host;
    o.port = (uint16_t)port;
    const wk_http_route routes[] = {
        {"GET", "/healthz", http__healthz, s, 0, "healthz"},
        {"GET", "/metrics", wk_http_metrics_handler, NULL, 0, "metrics"},
        {"POST", "/api/v1/accounts/*", http__accounts, s, 4096, "accounts"},
        {"POST", "/pay/wechat/notify", wk_serve_pay_wechat_notify, s, WK_PAY_BODY_MAX, "pay wechat notify"},
        {"POST", "/pay/alipay/notify", wk_serve_pay_alipay_notify, s, WK_PAY_BODY_MAX, "pay alipay notify"},
        {"POST", "/api/v1/orders", wk_serve_pay_orders_create, s, 4096, "orders create"},
        {"GET", "/api/v1/orders/*", wk_serve_pay_orders_get, s, 0, "orders get"},
        {"POST", "/api/v1/reconcile", wk_serve_pay_reconcile, s, 16u << 20, "reconcile"},
        {"POST", "/api/v1/counter/*", wk_serve_pay_counter, s, 4096, "counter"},
        {"POST", "/api/v1/orders/*", wk_serve_pay_orders_query, s, 0, "orders query"},
        {"POST", "/api/v1/refunds", wk_serve_pay_refunds, s, 4096, "refunds"},
    };
    return wk_serve_web_start(s, &o, routes, sizeof routes / sizeof routes[0], out, d);
}
