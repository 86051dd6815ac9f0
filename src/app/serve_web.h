/*
 * serve_web.h - what the web API modules of `wattkeeper serve` share (serve_web.c is the
 * core: sessions, CSRF, the read API, static pages). A module (serve_web_<name>.c) adds its
 * routes through a table wk_web_<name>_routes[] listed in serve_web.c, and answers each
 * request like this:
 *
 *   HTTP thread: parse and bound the request (wk_web_json_body, wk_web_str, wk_web_only,
 *   wk_web_qint, wk_web_id), answering 400 naming the field on anything wrong; then
 *   wk_web_call_init + c.op = my_op + c.arg = &my_inputs; return wk_web_run(&c, resp).
 *
 *   Main loop: my_op(c, env) runs after the session (cookie or API token) and, for state
 *   changes, the CSRF token were checked; it checks the role (wk_web_role) and tenancy
 *   (WK_WEB_SCOPE in its SQL, or wk_web_account_visible/wk_web_community_visible) before
 *   anything is written, does its work in one transaction with its audit row
 *   (wk_auth_audit), and sets c->body (JSON, owned) or fails with wk_web_fail.
 *
 * Another tenant's object answers 404 exactly like an id that does not exist.
 */
#ifndef WK_APP_SERVE_WEB_H
#define WK_APP_SERVE_WEB_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "api/auth.h"
#include "api/http.h"
#include "app/serve.h"

typedef struct wk_web_call wk_web_call;
typedef void (*wk_web_op)(wk_web_call *c, const wk_serve_env *env);

typedef enum wk_web_kind {
    WK_WEB_COMMUNITY = 1,
    WK_WEB_BUILDING,
    WK_WEB_UNIT,
    WK_WEB_METER,
    WK_WEB_ACCOUNT,
    WK_WEB_READING,
    WK_WEB_COMMAND,
    WK_WEB_EVENT,
    WK_WEB_AUDIT,
} wk_web_kind;

struct wk_web_call {
    /* inputs (borrowed from the handler's frame, which outlives the call) */
    char token[WK_TOKEN_HEX + 1]; /* session token from the cookie; "" when none */
    char bearer[WK_TOKEN_HEX + 8]; /* API token from Authorization: Bearer; "" when none */
    const char *csrf;             /* X-CSRF-Token header or NULL */
    bool need_session;
    bool state_change; /* needs the CSRF header (sessions; API tokens need none) */
    wk_web_op op;
    void *arg; /* the module's own inputs and outputs */
    /* inputs of the core routes */
    const char *login, *password, *new_password;
    wk_web_kind kind;
    int64_t id;           /* object id from the path; 0 = a list */
    int64_t limit, after; /* pagination: items with id > after, at most limit */
    int64_t f_parent;     /* filter: community / building / unit id; 0 = none */
    int f_online;         /* -1 = any, 0, 1 */
    const char *f_relay;  /* NULL = any */
    const char *f_status;
    const char *f_state; /* commands */
    const char *f_action;
    uint8_t transfer_id[16]; /* receipts */
    const char *action;      /* relay: trip, close, auto */
    const char *reason;
    int64_t hours;
    /* outputs */
    wk_session sess;
    bool via_token; /* authenticated by an API token */
    int status;     /* 200 unless set; 204 answers no body */
    const char *code;
    char msg[WK_DIAG_MAX];
    const char *field;
    json_t *body; /* the JSON answer on success (owned) */
    /* a non-JSON answer instead of body (owned, wk_malloc'd), e.g. CSV */
    char *raw;
    size_t raw_len;
    const char *raw_type;
    char raw_disposition[160]; /* Content-Disposition value or "" */
};

/* ---- HTTP thread ---- */

/* Sets up c for req: session cookie, API token, CSRF header; state_change for non-GET. */
void wk_web_call_init(wk_web_call *c, wk_http_req *req, bool need_session);
/* Queues c on the main loop and turns the outcome into the response. */
int wk_web_run(wk_web_call *c, wk_http_resp *resp);
/* wk_web_run in two steps, for handlers that do work on the HTTP thread between two ops
 * (e.g. a channel call): wk_web_exec runs c (session, CSRF, op) and leaves the outcome in
 * c->status (>= 400: failed; c->body owned by c); wk_web_answer answers it. */
void wk_web_exec(wk_web_call *c);
int wk_web_answer(wk_web_call *c, wk_http_resp *resp);
/* An error answer {"error": {code, message, field}}; returns the handler's value. */
int wk_web_err(wk_http_resp *resp, int status, const char *code, const char *msg,
               const char *field);
/* A JSON object body sent as application/json (415/400 answered otherwise: NULL, *rc). */
json_t *wk_web_json_body(wk_http_req *req, wk_http_resp *resp, int *rc);
/* String field of 1..max bytes (400 naming the field otherwise). */
const char *wk_web_str(json_t *j, const char *key, size_t max, wk_http_resp *resp, int *rc);
/* Rejects fields other than allowed (NULL-terminated list). */
bool wk_web_only(json_t *j, const char *const *allowed, wk_http_resp *resp, int *rc);
/* Positive decimal id that is the whole of s[0..len). */
bool wk_web_id(const char *s, size_t len, int64_t *out);
/* For a prefix route (path ending in a star) whose rest is "{id}/{action}": the id (positive decimal) into
 * *id and the action (what follows the slash); NULL when the rest has not that shape. */
const char *wk_web_path_action(wk_http_req *req, int64_t *id);
/* Query parameter as an integer in [min, max]; absent = dflt; false answered 400. */
bool wk_web_qint(wk_http_req *req, wk_http_resp *resp, const char *name, int64_t min,
                 int64_t max, int64_t dflt, int64_t *out, int *rc);
/* Query parameter from a fixed set of words; absent = NULL; false answered 400. */
bool wk_web_qword(wk_http_req *req, wk_http_resp *resp, const char *name,
                  const char *const *words, const char **out, int *rc);
/* Answers status with j (consumed). */
int wk_web_send_json(wk_http_resp *resp, int status, json_t *j);

/* ---- main loop ---- */

void wk_web_fail(wk_web_call *c, int status, const char *code, const char *field,
                 const char *msg);
void wk_web_internal(wk_web_call *c, const wk_diag *d);
/* The current row of a statement as a JSON object, by a compact column description that
 * keeps a query and its JSON in one place (column i of the row = cols[i]). Types: 'i'
 * integer, 'I' integer or null, 's' text, 'S' text or null, 'b' boolean, 'j' JSON text we
 * stored (embedded), 'D' a day number as "YYYY-MM-DD" or null, 'm' money in fen (adds
 * "<name>_fen" and "<name>" as a decimal string). NULL when out of memory. */
typedef struct wk_web_col {
    const char *name;
    char type;
} wk_web_col;
json_t *wk_web_row(wk_stmt *st, const wk_web_col *cols, size_t n);

/* Staff of a company (not a resident). */
bool wk_web_staff(const wk_session *s);
/* Role bits for wk_web_role. */
#define WK_WEB_ADMIN (1u << WK_ROLE_ADMIN)
#define WK_WEB_FINANCE (1u << WK_ROLE_FINANCE)
#define WK_WEB_SERVICE (1u << WK_ROLE_SERVICE)
#define WK_WEB_TECHNICIAN (1u << WK_ROLE_TECHNICIAN)
#define WK_WEB_RESIDENT (1u << WK_ROLE_RESIDENT)
#define WK_WEB_ANY_STAFF (WK_WEB_ADMIN | WK_WEB_FINANCE | WK_WEB_SERVICE | WK_WEB_TECHNICIAN)
/* True if the session's role is in mask (staff roles also need a company); otherwise
 * fails c with 403 naming what is needed and returns false. */
bool wk_web_role(wk_web_call *c, unsigned mask, const char *needed);

/* The tenancy condition on a community alias, for staff queries: the community belongs to
 * the company bound at pco and, for staff restricted to some communities, is one of them
 * (bind wk_web_scope_user at puser: NULL for unrestricted staff). Example:
 *   "... JOIN community c ON ... WHERE " WK_WEB_SCOPE("c", "?1", "?2") " AND ..."
 * and bind ?1 = c->sess.user.company_id, ?2 with wk_web_bind_scope_user. */
#define WK_WEB_SCOPE(alias, pco, puser)                                                     \
    "(" alias ".company_id = " pco " AND (" puser " IS NULL OR " alias ".id IN"            \
    " (SELECT community_id FROM staff_community WHERE user_id = " puser ")))"
wk_err wk_web_bind_scope_user(wk_stmt *st, int idx, const wk_web_call *c);

/* Whether the session may see the account (staff: in scope; resident: their own). Fails c
 * with 404 (not visible, or no such account) or 500 and returns false otherwise.
 * *community_id receives the account's community (may be NULL). */
bool wk_web_account_visible(wk_web_call *c, const wk_serve_env *env, int64_t account_id,
                            int64_t *community_id);
/* Whether the session's staff scope includes the community (404 otherwise). */
bool wk_web_community_visible(wk_web_call *c, const wk_serve_env *env, int64_t community_id);

/* The serve instance and its web directory (set by wk_serve_web_start). */
wk_serve *wk_web_serve(void);
const char *wk_web_dir(void);

/* ---- modules: each defines its route table (see serve_web.c for the list) ---- */
#define WK_WEB_MODULE(name)                                                                 \
    extern const wk_http_route wk_web_##name##_routes[];                                   \
    extern const size_t wk_web_##name##_nroutes

WK_WEB_MODULE(admin);     /* serve_web_admin.c: users, API tokens, community assignment */
WK_WEB_MODULE(tariffs);   /* serve_web_tariffs.c: tariff versions, matrix, bill explanation */
WK_WEB_MODULE(accounts);  /* serve_web_accounts.c: open, move-in/out, vacancy, shop transfer */
WK_WEB_MODULE(payments);  /* serve_web_payments.c: counter, refunds, reconciliation (staff) */
WK_WEB_MODULE(reports);   /* serve_web_reports.c: reports, CSV, dashboard, live events */
WK_WEB_MODULE(resident);  /* serve_web_resident.c: top-up, usage, contacts */

/* serve_web_accounts.c: POST /api/v1/accounts/{id}/{move-out,vacancy,transfer}, reached
 * through the prefix route of serve_http.c that also serves the admin token's /credits. */
int wk_web_accounts_post(wk_http_req *req, wk_http_resp *resp, void *ctx);

#endif
