/*
 * serve.h - what the HTTP side of `wattkeeper serve` (serve_http.c) shares with its main
 * loop (cmd_serve.c). HTTP threads never touch the database: they read atomics, or queue a
 * request that the main loop executes and answers.
 */
#ifndef WK_APP_SERVE_H
#define WK_APP_SERVE_H

#include <stdbool.h>
#include <stdint.h>

#include "api/http.h"
#include "core/err.h"

typedef struct wk_serve wk_serve;

typedef enum wk_serve_req_kind {
    WK_SERVE_REQ_CREDIT = 1,
    WK_SERVE_REQ_CALL, /* run fn(ctx) on the main loop with the database objects */
} wk_serve_req_kind;

/* What a WK_SERVE_REQ_CALL function may use: it runs on the main loop thread, between
 * batches, so it owns the store connection for its duration. */
typedef struct wk_serve_env {
    struct wk_store *st;
    struct wk_ledger *lg;
    struct wk_headend *hd;
    int64_t now_ms;
} wk_serve_env;
typedef wk_err (*wk_serve_fn)(const wk_serve_env *env, void *ctx, wk_diag *d);

/* A request executed by the main loop (caller-owned; lives until wk_serve_submit returns). */
typedef struct wk_serve_req {
    wk_serve_req_kind kind;
    int64_t account_id;
    int64_t amount_fen;
    uint8_t id[16];
    char reason[256];
    wk_serve_fn fn; /* WK_SERVE_REQ_CALL */
    void *ctx;
    /* results */
    wk_err result;
    wk_diag diag;
    bool existed;
    /* queue */
    bool done;
    struct wk_serve_req *next;
} wk_serve_req;

/* Queues r for the main loop and waits up to timeout_ms for its result. WK_ELIMIT when it
 * timed out (then it was withdrawn, or it still completes: the id makes a retry safe);
 * WK_ECONFLICT when the server is stopping. */
wk_err wk_serve_submit(wk_serve *s, wk_serve_req *r, int timeout_ms) WK_MUST_CHECK;

/* Database and broker state for /healthz. Returns true when both are up. */
int wk_serve_healthy(wk_serve *s, bool *db_ok, bool *broker_ok);

/* Admin token that guards state-changing internal routes (the file <db>.admin-token, 0600,
 * created at first start). */
const char *wk_serve_admin_token(wk_serve *s);

/* Whether the request carries the admin token (Authorization: Bearer <token>), compared
 * in constant time. */
bool wk_serve_http_authorized(wk_serve *s, wk_http_req *req);

/* The request body parsed as a JSON object (duplicate keys refused); caller json_decrefs.
 * Anything else is answered 400 bad_json here: NULL is returned and *rc is the handler's
 * return value. */
struct json_t;
struct json_t *wk_serve_http_json_body(wk_http_req *req, wk_http_resp *resp, int *rc);

/* Payments (serve_pay.c): the channels the routes verify with (set before
 * wk_serve_http_start; NULL = payments off; borrowed) and the route handlers. */
struct wk_pay_channels;
void wk_serve_pay_set(struct wk_pay_channels *p);
/* The channels set by wk_serve_pay_set (NULL = payments off), for other route modules that
 * create orders (serve_web_resident.c). Borrowed; immutable while the server runs. */
struct wk_pay_channels *wk_serve_pay_channels(void);
int wk_serve_pay_wechat_notify(wk_http_req *req, wk_http_resp *resp, void *ctx);
int wk_serve_pay_alipay_notify(wk_http_req *req, wk_http_resp *resp, void *ctx);
int wk_serve_pay_orders_create(wk_http_req *req, wk_http_resp *resp, void *ctx);
int wk_serve_pay_orders_get(wk_http_req *req, wk_http_resp *resp, void *ctx);
int wk_serve_pay_reconcile(wk_http_req *req, wk_http_resp *resp, void *ctx);
int wk_serve_pay_counter(wk_http_req *req, wk_http_resp *resp, void *ctx);
int wk_serve_pay_orders_query(wk_http_req *req, wk_http_resp *resp, void *ctx);
int wk_serve_pay_refunds(wk_http_req *req, wk_http_resp *resp, void *ctx);

/* The loaded configuration (read-only; lives as long as s). */
const struct wk_config *wk_serve_config(wk_serve *s);

/* serve_web.c: appends the web API routes (/api/v1/login, /me, the read API, openapi.json)
 * to base[0..n) and starts the server with all of them (see wk_http_start). */
wk_err wk_serve_web_start(wk_serve *s, const wk_http_opts *o, const wk_http_route *base,
                          size_t n, wk_http **out, wk_diag *d) WK_MUST_CHECK;

/* Starts the HTTP server with serve's routes on host:port (0 = any free port). */
wk_err wk_serve_http_start(wk_serve *s, const char *host, int port, wk_http **out,
                           wk_diag *d) WK_MUST_CHECK;

#endif
