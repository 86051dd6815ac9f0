/*
 * serve_web.c - the web API of `wattkeeper serve` for staff and residents: login, logout,
 * the current user and password change over HTTP (on src/api/auth), the read API
 * (communities, buildings, units, meters, accounts, readings) with roles and tenancy, and
 * the OpenAPI document.
 *
 * Like every HTTP handler, these never touch the database themselves: a handler parses and
 * bounds the request on its HTTP thread, queues one WK_SERVE_REQ_CALL whose function runs
 * on the main loop (session lookup, CSRF check, role and tenancy checks, the query) and
 * answers from the result. A rejected request changes no state: the session, CSRF and role
 * checks run before anything is written.
 *
 * Sessions: the token travels only in the cookie `wk_session` (HttpOnly, SameSite=Strict,
 * Path=/), is chosen by the server at every login (a cookie the client brings to the login
 * is ended, never adopted: no session fixation) and is stored only as its SHA-256. Every
 * state-changing request (POST) with a session must echo the session's CSRF token in the
 * X-CSRF-Token header, and JSON bodies must be sent as application/json (a cross-site form
 * cannot send that without a CORS preflight, which this server never grants).
 *
 * Tenancy: staff see only the communities of their company (community.company_id) and
 * what hangs below them; a resident sees only their own account. Another tenant's object
 * answers 404, exactly like an id that does not exist, so ids cannot be probed.
 *
 * One server per process: the login rate limiter and the web directory live in a static
 * state set by wk_serve_web_start.
 */
#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "api/auth.h"
#include "app/serve.h"
#include "app/serve_web.h"
#include "core/civil.h"
#include "core/mem.h"
#include "core/units.h"
#include "proto/config.h"
#include "store/store.h"
#include "app/db.h"
#include "headend/headend.h"
#include "ledger/ledger.h"
#include "ledger/note.h"
#include "proto/encoding.h"

#define WEB_COOKIE "wk_session"
#define WEB_LIMIT_DEFAULT 50
#define WEB_LIMIT_MAX 200
#define WEB_LOGIN_BURST 10       /* login attempts per client address ... */
#define WEB_LOGIN_REFILL_MS 6000 /* ... refilled at one per 6 s (10 a minute) */
#define WEB_BODY_MAX 4096        /* bytes of a JSON request body */
#define WEB_OPENAPI_MAX (512 * 1024)
#define WEB_TIMEOUT_MS 15000

static struct {
    wk_serve *s;
    pthread_mutex_t mu; /* guards lim */
    wk_limiter lim;
    char web_dir[WK_CONFIG_PATH_MAX];
    char verifier[WK_NOTE_KEY_TEXT_MAX]; /* the log's verifier key, "" if not loaded */
} web = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* ---- one request executed on the main loop ---- */

typedef wk_web_call web_call;
typedef wk_web_op web_op;

static void web__fail(web_call *c, int status, const char *code, const char *field,
                      const char *msg)
{
    c->status = status;
    c->code = code;
    c->field = field;
    snprintf(c->msg, sizeof c->msg, "%s", msg);
    json_decref(c->body);
    c->body = NULL;
    wk_free(c->raw);
    c->raw = NULL;
}

static void web__internal(web_call *c, const wk_diag *d)
{
    web__fail(c, 500, "internal", NULL, d->msg[0] ? d->msg : "internal error");
}

static wk_err web__main(const wk_serve_env *env, void *ctx, wk_diag *d)
{
    (void)d;
    web_call *c = ctx;
    c->status = 200;
    if (c->need_session) {
        wk_diag sd = {{0}};
        wk_err e;
        if (c->token[0])
            e = wk_auth_session(env->st, c->token, env->now_ms / 1000, &c->sess, &sd);
        else if (c->bearer[0]) {
            e = wk_auth_token_session(env->st, c->bearer, env->now_ms / 1000, &c->sess, &sd);
            c->via_token = !e;
        } else
            e = WK_ENOTFOUND;
        if (e == WK_ENOTFOUND) {
            web__fail(c, 401, "unauthorized", NULL,
                      c->bearer[0] && !c->token[0] ? "unknown, revoked or expired API token"
                                                   : "log in first");
            return WK_OK;
        }
        if (e) {
            web__internal(c, &sd);
            return WK_OK;
        }
        /* an API token is no ambient credential: a cross-site page cannot send it */
        if (c->state_change && !c->via_token && !wk_auth_csrf_ok(&c->sess, c->csrf)) {
            web__fail(c, 403, "csrf", "X-CSRF-Token",
                      "the X-CSRF-Token header must carry the session's CSRF token");
            return WK_OK;
        }
    }
    c->op(c, env);
    return WK_OK;
}

/* ---- HTTP-side helpers ---- */

static int web__err(wk_http_resp *resp, int status, const char *code, const char *msg,
                    const char *field)
{
    return wk_http_resp_error(resp, status, code, msg, field) ? -1 : 0;
}

/* Finds the session token in the Cookie header. Anything malformed counts as no cookie. */
static void web__cookie(wk_http_req *req, char out[WK_TOKEN_HEX + 1])
{
    out[0] = '\0';
    const char *h = wk_http_req_header(req, "Cookie");
    size_t nl = strlen(WEB_COOKIE);
    for (const char *p = h; p && *p;) {
        while (*p == ' ' || *p == ';')
            p++;
        const char *end = strchr(p, ';');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == nl + 1 + WK_TOKEN_HEX && !strncmp(p, WEB_COOKIE "=", nl + 1)) {
            memcpy(out, p + nl + 1, WK_TOKEN_HEX);
            out[WK_TOKEN_HEX] = '\0';
            for (size_t i = 0; i < WK_TOKEN_HEX; i++)
                if (!((out[i] >= '0' && out[i] <= '9') || (out[i] >= 'a' && out[i] <= 'f')))
                    out[0] = '\0';
            return;
        }
        p = end;
    }
}

static wk_err web__set_cookie(wk_http_resp *resp, const char *token, int64_t max_age_s)
{
    char v[WK_TOKEN_HEX + 128];
    snprintf(v, sizeof v, WEB_COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%lld",
             token, (long long)max_age_s);
    return wk_http_resp_header(resp, "Set-Cookie", v);
}

/* Parses a JSON object body sent as application/json; on failure answers and returns
 * NULL with *rc set. */
static json_t *web__json_body(wk_http_req *req, wk_http_resp *resp, int *rc)
{
    const char *ct = wk_http_req_header(req, "Content-Type");
    if (!ct || strncasecmp(ct, "application/json", 16) || (ct[16] && ct[16] != ';' && ct[16] != ' ')) {
        *rc = web__err(resp, 415, "unsupported_media_type",
                       "send the body as Content-Type: application/json", NULL);
        return NULL;
    }
    size_t len;
    const char *body = wk_http_req_body(req, &len);
    json_error_t je;
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(j)) {
        json_decref(j);
        *rc = web__err(resp, 400, "bad_json", "the body must be a JSON object", NULL);
        return NULL;
    }
    return j;
}

/* The string field `key` of j: present, a string of 1..max bytes without NUL. Answers 400
 * naming the field otherwise. */
static const char *web__str(json_t *j, const char *key, size_t max, wk_http_resp *resp, int *rc)
{
    json_t *v = json_object_get(j, key);
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > max ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        char m[96];
        snprintf(m, sizeof m, "expected a string of 1..%zu bytes", max);
        *rc = web__err(resp, 400, "invalid", m, key);
        return NULL;
    }
    return json_string_value(v);
}

/* Rejects fields other than the allowed ones (NULL-terminated). */
static bool web__only(json_t *j, const char *const *allowed, wk_http_resp *resp, int *rc)
{
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v)
    {
        bool ok = false;
        for (const char *const *a = allowed; *a; a++)
            ok = ok || !strcmp(*a, k);
        if (!ok) {
            *rc = web__err(resp, 400, "invalid", "unknown field", k);
            return false;
        }
    }
    return true;
}

/* Answers status with j serialised compactly (into a wk_malloc'd buffer the server takes).
 * Consumes j. -1 on allocation failure. */
static int web__send_json(wk_http_resp *resp, int status, json_t *j)
{
    size_t n = j ? json_dumpb(j, NULL, 0, JSON_COMPACT) : 0;
    char *buf = n ? wk_malloc(n) : NULL;
    if (!buf || json_dumpb(j, buf, n, JSON_COMPACT) != n) {
        wk_free(buf);
        json_decref(j);
        return -1;
    }
    json_decref(j);
    wk_http_resp_status(resp, status);
    return wk_http_resp_body_take(resp, "application/json", buf, n) ? -1 : 0;
}

/* Queues c on the main loop and turns the outcome into the response. Consumes c->body. */
/* Runs c on the main loop without answering: afterwards c->status (and c->code, c->msg,
 * c->field, c->body) hold the outcome. */
static void web__exec(web_call *c)
{
    wk_serve_req r = {.kind = WK_SERVE_REQ_CALL, .fn = web__main, .ctx = c};
    wk_err e = wk_serve_submit(web.s, &r, WEB_TIMEOUT_MS);
    if (e == WK_ELIMIT)
        web__fail(c, 503, "busy", NULL, "the server did not answer in time; retry");
    else if (e)
        web__fail(c, 503, "stopping", NULL, "the server is stopping");
    else if (r.result)
        web__fail(c, 500, "internal", NULL, r.diag.msg);
}

/* Turns the outcome of web__exec into the response. */
static int web__answer(web_call *c, wk_http_resp *resp)
{
    if (c->status >= 400) {
        json_decref(c->body);
        wk_free(c->raw);
        return web__err(resp, c->status, c->code, c->msg, c->field);
    }
    if (c->status == 204) {
        wk_http_resp_status(resp, 204);
        return 0;
    }
    if (c->raw) {
        json_decref(c->body);
        wk_http_resp_status(resp, c->status);
        if (c->raw_disposition[0] &&
            wk_http_resp_header(resp, "Content-Disposition", c->raw_disposition)) {
            wk_free(c->raw);
            return -1;
        }
        char *raw = c->raw;
        c->raw = NULL;
        return wk_http_resp_body_take(resp, c->raw_type ? c->raw_type : "text/plain; charset=utf-8",
                                      raw, c->raw_len) ? -1 : 0;
    }
    json_t *body = c->body;
    c->body = NULL;
    return web__send_json(resp, c->status, body);
}

static int web__run(web_call *c, wk_http_resp *resp)
{
    web__exec(c);
    return web__answer(c, resp);
}

static void web__call_init(web_call *c, wk_http_req *req, bool need_session)
{
    memset(c, 0, sizeof *c);
    web__cookie(req, c->token);
    const char *auth = wk_http_req_header(req, "Authorization");
    if (auth && !strncmp(auth, "Bearer ", 7)) /* checked on the main loop; too long = unknown */
        snprintf(c->bearer, sizeof c->bearer, "%s", strlen(auth + 7) < sizeof c->bearer ? auth + 7 : "x");
    c->csrf = wk_http_req_header(req, "X-CSRF-Token");
    c->need_session = need_session;
    c->state_change = strcmp(wk_http_req_method(req), "GET") != 0 &&
                      strcmp(wk_http_req_method(req), "HEAD") != 0;
    c->f_online = -1;
}

static json_t *web__user_json(const wk_session *s, bool with_csrf)
{
    json_t *u = json_pack("{s:I, s:s, s:s, s:I}", "id", (json_int_t)s->user.id, "login",
                          s->user.login, "role", wk_role_name(s->user.role), "expires_s",
                          (json_int_t)s->expires_s);
    if (!u)
        return NULL;
    json_object_set_new(u, "company_id", s->user.company_id ? json_integer(s->user.company_id)
                                                            : json_null());
    json_object_set_new(u, "account_id", s->user.account_id ? json_integer(s->user.account_id)
                                                            : json_null());
    if (with_csrf)
        json_object_set_new(u, "csrf", json_string(s->csrf));
    return u;
}

/* ---- auth routes ---- */

/* Login runs in two main-loop steps around the argon2id check, which runs on the HTTP
 * thread (tens of milliseconds of CPU that must not stall metering): begin ends the
 * session the client brings (never carried over) and reads the user; finish applies the
 * lock-out and opens the new session. */
typedef struct web_login {
    wk_auth_pending p;
    bool good; /* the password matched (decided on the HTTP thread) */
} web_login;

static void web__op_login_begin(web_call *c, const wk_serve_env *env)
{
    wk_diag d = {{0}};
    if (c->token[0] && wk_auth_logout(env->st, c->token, &d)) {
        web__internal(c, &d);
        return;
    }
    web_login *l = c->arg;
    if (wk_auth_login_begin(env->st, c->login, &l->p, &d))
        web__internal(c, &d);
}

static void web__op_login_finish(web_call *c, const wk_serve_env *env)
{
    wk_diag d = {{0}};
    const web_login *l = c->arg;
    wk_err e = wk_auth_login_finish(env->st, NULL, &l->p, l->good, env->now_ms / 1000, &c->sess, &d);
    if (e == WK_ECRYPTO) {
        web__fail(c, 401, "bad_credentials", NULL, "wrong login or password");
        return;
    }
    if (e == WK_ECONFLICT) {
        web__fail(c, 423, "locked", "login", d.msg);
        return;
    }
    if (e) {
        web__internal(c, &d);
        return;
    }
    c->body = web__user_json(&c->sess, true);
    if (!c->body)
        web__fail(c, 500, "internal", NULL, "out of memory");
}

/* POST /api/v1/login {"login", "password"} */
static int web__login(wk_http_req *req, wk_http_resp *resp, void *ctx)
{
    (void)ctx;
    char client[64];
    wk_http_req_client(req, client, sizeof client);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    pthread_mutex_lock(&web.mu);
    bool allowed = wk_limiter_allow(&web.lim, client,
                                    (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
    pthread_mutex_unlock(&web.mu);
    if (!allowed) {
        if (wk_http_resp_header(resp, "Retry-After", "6"))
            return -1;
        return web__err(resp, 429, "rate_limited", "too many login attempts from this address",
                        NULL);
    }
    int rc = 0;
    json_t *j = web__json_body(req, resp, &rc);
    if (!j)
        return rc;
    static const char *const keys[] = {"login", "password", NULL};
    web_call c;
    web__call_init(&c, req, false);
    if (web__only(j, keys, resp, &rc) && (c.login = web__str(j, "login", 64, resp, &rc)) &&
        (c.password = web__str(j, "password", 128, resp, &rc))) {
        web_login pending;
        c.arg = &pending;
        c.op = web__op_login_begin;
        wk_serve_req r = {.kind = WK_SERVE_REQ_CALL, .fn = web__main, .ctx = &c};
        wk_err e = wk_serve_submit(web.s, &r, WEB_TIMEOUT_MS);
        if (!e && !r.result && c.status == 200) {
            pending.good = wk_auth_login_check(NULL, &pending.p, c.password); /* the slow part */
            c.op = web__op_login_finish;
            rc = web__run(&c, resp);
        } else if (e)
            rc = web__err(resp, 503, e == WK_ELIMIT ? "busy" : "stopping",
                          "the server did not answer in time; retry", NULL);
        else if (r.result)
            rc = web__err(resp, 500, "internal", r.diag.msg, NULL);
        else
            rc = web__err(resp, c.status, c.code, c.msg, c.field);
        sodium_memzero(&pending, sizeof pending);
        if (!rc && c.status == 200) {
            int64_t age = c.sess.expires_s - (int64_t)time(NULL);
            if (web__set_cookie(resp, c.sess.token, age > 0 ? age : 1))
                rc = -1;
            if (wk_http_resp_header(resp, "Cache-Control", "no-store"))
                rc = -1;
        }
        memset(&c.sess, 0, sizeof c.sess);
    }
    json_decref(j);
    return rc;
}

static void web__op_logout(web_call *c, const wk_serve_env *env)
{
    wk_diag d = {{0}};
    if (wk_auth_logout(env->st, c->token, &d))
        web__internal(c, &d);
    else
        c->status = 204;
}

/* POST /api/v1/logout (session + CSRF) */
static int web__logout(wk_http_req *req, wk_http_resp *resp, void *ctx)
{
    (void)ctx;
    web_call c;
    web__call_init(&c, req, true);
    c.op = web__op_logout;
    int rc = web__run(&c, resp);
    if (!rc && c.status == 204 && web__set_cookie(resp, "", 0))
        rc = -1;
    return rc;
}

static void web__op_me(web_call *c, const wk_serve_env *env)
{
    (void)env;
    c->body = web__user_json(&c->sess, true);
    if (!c->body)
        web__fail(c, 500, "internal", NULL, "out of memory");
}

/* GET /api/v1/me: the user and the session's CSRF token (for pages that were reloaded). */
static int web__me(wk_http_req *req, wk_http_resp *resp, void *ctx)
{
    (void)ctx;
    web_call c;
    web__call_init(&c, req, true);
    c.op = web__op_me;
    int rc = web__run(&c, resp);
    if (!rc && wk_http_resp_header(resp, "Cache-Control", "no-store"))
        rc = -1;
    return rc;
}

/* Password change in two main-loop steps around the hash work, which runs on the HTTP
 * thread: read the current hash, then replace it compare-and-set (a concurrent change
 * makes this one fail rather than be lost) and end every session. */
typedef struct web_pw {
    char old_hash[WK_AUTH_HASH_MAX];
    char new_hash[WK_AUTH_HASH_MAX];
} web_pw;

static void web__op_password_read(web_call *c, const wk_serve_env *env)
{
    wk_diag d = {{0}};
    web_pw *pw = c->arg;
    if (wk_auth_user_hash(env->st, c->sess.user.id, pw->old_hash, &d))
        web__internal(c, &d);
}

static void web__op_password(web_call *c, const wk_serve_env *env)
{
    wk_diag d = {{0}};
    web_pw *pw = c->arg;
    wk_err e = wk_auth_password_replace(env->st, c->sess.user.id, pw->old_hash, pw->new_hash, &d);
    if (e == WK_ECONFLICT)
        web__fail(c, 409, "conflict", NULL, d.msg);
    else if (e)
        web__internal(c, &d);
    else
        c->status = 204;
}

/* POST /api/v1/me/password {"old_password", "new_password"} (session + CSRF). Every
 * session of the user ends, this one too: the client logs in again. */
static int web__password(wk_http_req *req, wk_http_resp *resp, void *ctx)
{
    (void)ctx;
    int rc = 0;
    web_call c;
    web__call_init(&c, req, true);
    /* a malformed body is answered before the session and CSRF checks: it changes nothing */
    json_t *j = web__json_body(req, resp, &rc);
    if (!j)
        return rc;
    static const char *const keys[] = {"old_password", "new_password", NULL};
    web_pw pw;
    memset(&pw, 0, sizeof pw);
    wk_diag d = {{0}};
    if (web__only(j, keys, resp, &rc) &&
        (c.password = web__str(j, "old_password", 128, resp, &rc)) &&
        (c.new_password = web__str(j, "new_password", 128, resp, &rc))) {
        c.arg = &pw;
        c.op = web__op_password_read; /* session and CSRF are checked here first */
        wk_serve_req r = {.kind = WK_SERVE_REQ_CALL, .fn = web__main, .ctx = &c};
        wk_err e = wk_serve_submit(web.s, &r, WEB_TIMEOUT_MS);
        if (e)
            rc = web__err(resp, 503, e == WK_ELIMIT ? "busy" : "stopping",
                          "the server did not answer in time; retry", NULL);
        else if (r.result)
            rc = web__err(resp, 500, "internal", r.diag.msg, NULL);
        else if (c.status != 200)
            rc = web__err(resp, c.status, c.code, c.msg, c.field);
        else if (!wk_auth_password_check(pw.old_hash, c.password))
            rc = web__err(resp, 403, "bad_credentials", "wrong password", "old_password");
        else if (wk_auth_hash_password(NULL, c.new_password, pw.new_hash, &d))
            rc = web__err(resp, 400, "invalid", d.msg, "new_password");
        else {
            c.op = web__op_password;
            rc = web__run(&c, resp);
            if (!rc && c.status == 204 && web__set_cookie(resp, "", 0))
                rc = -1;
        }
    }
    sodium_memzero(&pw, sizeof pw);
    json_decref(j);
    return rc;
}

/* ---- read API ---- */

static bool web__staff(const wk_session *s)
{
    return s->user.role != WK_ROLE_RESIDENT && s->user.company_id > 0;
}

/* Column descriptions: wk_web_col in serve_web.h. */
typedef wk_web_col web_col;

json_t *wk_web_row(wk_stmt *st, const wk_web_col *cols, size_t n)
{
    json_t *o = json_object();
    for (size_t i = 0; o && i < n; i++) {
        int col = (int)i;
        json_t *v = NULL;
        bool null = wk_stmt_is_null(st, col);
        switch (cols[i].type) {
        case 'i': v = json_integer(wk_stmt_i64(st, col)); break;
        case 'I': v = null ? json_null() : json_integer(wk_stmt_i64(st, col)); break;
        case 'b': v = json_boolean(wk_stmt_i64(st, col) != 0); break;
        case 's':
        case 'S': {
            size_t len;
            const char *t = null ? NULL : wk_stmt_text(st, col, &len);
            v = t ? json_stringn(t, len) : json_null();
            break;
        }
        case 'j': { /* JSON text stored by us: embedded as JSON */
            size_t len;
            const char *t = null ? NULL : wk_stmt_text(st, col, &len);
            json_error_t je;
            v = t ? json_loadb(t, len, JSON_REJECT_DUPLICATES, &je) : json_null();
            break;
        }
        case 'D': {
            char buf[32];
            v = null ? json_null() : json_string(wk_date_format(wk_stmt_i64(st, col), buf, sizeof buf));
            break;
        }
        case 'm': {
            char buf[32], key[64];
            int64_t fen = wk_stmt_i64(st, col);
            snprintf(key, sizeof key, "%s_fen", cols[i].name);
            json_object_set_new(o, key, json_integer(fen));
            v = json_string(wk_dec_format(fen, 2, 2, buf, sizeof buf));
            break;
        }
        }
        if (!v || json_object_set_new(o, cols[i].name, v)) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

/* Each object type: its columns, and one query for lists and single objects. Parameters:
 * ?1 company id (staff) or -1, ?2 account id (residents) or -1, ?3 after, ?4 limit,
 * ?5 object id or NULL, ?6 parent filter or NULL, ?7 online or NULL, ?8 relay or NULL,
 * ?9 status or NULL. The tenancy condition is in every query, so another tenant's id
 * yields no row (404), never a row that is filtered afterwards. */
#define WEB_SCOPE_COMMUNITY WK_WEB_SCOPE("c", "?1", "?10")
typedef struct web_type {
    wk_web_kind kind;
    const char *name; /* path segment */
    bool resident_ok;
    const web_col *cols;
    size_t n_cols;
    const char *sql;
} web_type;

static const web_col c_cols[] = {{"id", 'i'}, {"name", 's'}, {"tariff", 's'}, {"company_id", 'I'}};
static const web_col b_cols[] = {{"id", 'i'}, {"community_id", 'i'}, {"name", 's'}};
static const web_col u_cols[] = {{"id", 'i'}, {"building_id", 'i'}, {"name", 's'}, {"kind", 's'}};
static const web_col m_cols[] = {{"id", 'i'},           {"address", 's'},       {"unit_id", 'i'},
                                 {"model", 's'},        {"close_mode", 's'},    {"ct_ratio", 'i'},
                                 {"online", 'b'},       {"relay", 's'},         {"last_seen_s", 'i'},
                                 {"last_reading_s", 'I'}, {"last_total_wh", 'I'}, {"community_id", 'i'},
                                 {"building_id", 'i'}};
static const web_col a_cols[] = {{"id", 'i'},          {"unit_id", 'i'},         {"holder", 's'},
                                 {"kind", 's'},        {"status", 's'},          {"opened_s", 'i'},
                                 {"vacant", 'b'},      {"guarantee_until_s", 'i'}, {"balance", 'm'},
                                 {"meter_id", 'I'},    {"relay", 'S'},           {"unit", 's'},
                                 {"building", 's'},    {"community", 's'}};
static const web_col r_cols[] = {{"meter_id", 'i'}, {"time_s", 'i'},   {"total_wh", 'i'},
                                 {"t1_wh", 'I'},    {"t2_wh", 'I'},    {"t3_wh", 'I'},
                                 {"t4_wh", 'I'},    {"energy_wh", 'i'}, {"deduction", 'm'}};

static const web_col cmd_cols[] = {{"id", 'i'},         {"meter_id", 'i'},    {"action", 's'},
                                   {"reason", 's'},     {"state", 's'},       {"cause", 'S'},
                                   {"created_ms", 'i'}, {"first_sent_ms", 'I'}, {"done_ms", 'I'},
                                   {"attempts", 'i'},   {"error", 'S'},       {"latency_ms", 'I'},
                                   {"address", 's'}};
static const web_col ev_cols[] = {{"id", 'i'},         {"time_ms", 'i'}, {"kind", 's'},
                                  {"meter_id", 'I'},   {"account_id", 'I'}, {"detail", 's'}};
static const web_col au_cols[] = {{"id", 'i'},     {"time_ms", 'i'},   {"user_id", 'i'},
                                  {"login", 's'},  {"action", 's'},    {"object", 's'},
                                  {"object_id", 'i'}, {"reason", 's'}, {"before", 'j'},
                                  {"after", 'j'}};
static const web_col t_cols[] = {{"id", 's'},        {"leaf_index", 'i'}, {"time_s", 'i'},
                                 {"amount", 'm'},    {"direction", 's'},  {"reason", 's'}};

#define N(a) (sizeof a / sizeof a[0])
static const web_type web_types[] = {
    {WK_WEB_COMMUNITY, "communities", false, c_cols, N(c_cols),
     "SELECT c.id, c.name, c.tariff, c.company_id FROM community c"
     " WHERE " WEB_SCOPE_COMMUNITY " AND c.id > ?3 AND (?5 IS NULL OR c.id = ?5)"
     " ORDER BY c.id LIMIT ?4"},
    {WK_WEB_BUILDING, "buildings", false, b_cols, N(b_cols),
     "SELECT b.id, b.community_id, b.name FROM building b JOIN community c ON c.id = b.community_id"
     " WHERE " WEB_SCOPE_COMMUNITY " AND b.id > ?3 AND (?5 IS NULL OR b.id = ?5)"
     " AND (?6 IS NULL OR b.community_id = ?6) ORDER BY b.id LIMIT ?4"},
    {WK_WEB_UNIT, "units", false, u_cols, N(u_cols),
     "SELECT u.id, u.building_id, u.name, u.kind FROM unit u JOIN building b ON b.id = u.building_id"
     " JOIN community c ON c.id = b.community_id"
     " WHERE " WEB_SCOPE_COMMUNITY " AND u.id > ?3 AND (?5 IS NULL OR u.id = ?5)"
     " AND (?6 IS NULL OR u.building_id = ?6) ORDER BY u.id LIMIT ?4"},
    {WK_WEB_METER, "meters", false, m_cols, N(m_cols),
     "SELECT m.id, m.address, m.unit_id, m.model, m.close_mode, m.ct_ratio, m.online, m.relay,"
     " m.last_seen_s, m.last_reading_s, m.last_total_wh, c.id, b.id FROM meter m"
     " JOIN unit u ON u.id = m.unit_id JOIN building b ON b.id = u.building_id"
     " JOIN community c ON c.id = b.community_id"
     " WHERE " WEB_SCOPE_COMMUNITY " AND m.id > ?3 AND (?5 IS NULL OR m.id = ?5)"
     " AND (?6 IS NULL OR u.building_id = ?6) AND (?7 IS NULL OR m.online = ?7)"
     " AND (?8 IS NULL OR m.relay = ?8) ORDER BY m.id LIMIT ?4"},
    {WK_WEB_ACCOUNT, "accounts", true, a_cols, N(a_cols),
     "SELECT a.id, a.unit_id, a.holder, a.kind, a.status, a.opened_s, a.vacant,"
     " a.guarantee_until_s, la.credits_fen - la.debits_fen, m.id, m.relay, u.name, b.name, c.name"
     " FROM account a JOIN ledger_account la ON la.id = a.wallet_account_id"
     " JOIN unit u ON u.id = a.unit_id JOIN building b ON b.id = u.building_id"
     " JOIN community c ON c.id = b.community_id LEFT JOIN meter m ON m.unit_id = a.unit_id"
     " WHERE (" WEB_SCOPE_COMMUNITY " OR a.id = ?2) AND a.id > ?3 AND (?5 IS NULL OR a.id = ?5)"
     " AND (?6 IS NULL OR a.unit_id = ?6) AND (?9 IS NULL OR a.status = ?9)"
     " ORDER BY a.id LIMIT ?4"},
    /* newest first: ids below `after` (0 = from the newest) */
    {WK_WEB_COMMAND, "commands", false, cmd_cols, N(cmd_cols),
     "SELECT k.id, k.meter_id, k.action, k.reason, k.state, k.cause, k.created_ms,"
     " k.first_sent_ms, k.done_ms, k.attempts, k.error,"
     " CASE WHEN k.state = 'confirmed' THEN k.done_ms - coalesce(k.cause_ms, k.created_ms) END,"
     " m.address"
     " FROM command k JOIN meter m ON m.id = k.meter_id JOIN unit u ON u.id = m.unit_id"
     " JOIN building b ON b.id = u.building_id JOIN community c ON c.id = b.community_id"
     " WHERE " WEB_SCOPE_COMMUNITY " AND (?3 = 0 OR k.id < ?3) AND (?5 IS NULL OR k.id = ?5)"
     " AND (?6 IS NULL OR k.meter_id = ?6) AND (?8 IS NULL OR k.state = ?8)"
     " AND (?9 IS NULL OR k.action = ?9) ORDER BY k.id DESC LIMIT ?4"},
    {WK_WEB_EVENT, "events", false, ev_cols, N(ev_cols),
     "SELECT e.id, e.time_ms, e.kind, e.meter_id, e.account_id, e.detail FROM event e"
     " LEFT JOIN meter m ON m.id = e.meter_id LEFT JOIN account a ON a.id = e.account_id"
     " JOIN unit u ON u.id = coalesce(m.unit_id, a.unit_id) JOIN building b ON b.id = u.building_id"
     " JOIN community c ON c.id = b.community_id"
     " WHERE " WEB_SCOPE_COMMUNITY " AND (?3 = 0 OR e.id < ?3) AND (?5 IS NULL OR e.id = ?5)"
     " AND (?6 IS NULL OR e.meter_id = ?6) AND (?8 IS NULL OR e.kind = ?8)"
     " ORDER BY e.id DESC LIMIT ?4"},
    /* staff actions of the company (admins only: see web__op_list) */
    {WK_WEB_AUDIT, "audit", false, au_cols, N(au_cols),
     "SELECT x.id, x.time_ms, x.user_id, x.login, x.action, x.object, x.object_id, x.reason,"
     " x.before, x.after FROM audit x WHERE x.company_id = ?1 AND (?3 = 0 OR x.id < ?3)"
     " AND (?10 IS NULL OR x.user_id = ?10)"
     " AND (?5 IS NULL OR x.id = ?5) AND (?8 IS NULL OR x.action = ?8) ORDER BY x.id DESC LIMIT ?4"},
};

static const web_type *web__type(wk_web_kind k)
{
    for (size_t i = 0; i < N(web_types); i++)
        if (web_types[i].kind == k)
            return &web_types[i];
    return NULL;
}

static wk_err web__bind_opt_i64(wk_stmt *s, int idx, int64_t v, bool present)
{
    return present ? wk_stmt_bind_i64(s, idx, v) : wk_stmt_bind_null(s, idx);
}

static wk_err web__bind_opt_text(wk_stmt *s, int idx, const char *v)
{
    return v ? wk_stmt_bind_text(s, idx, v, strlen(v)) : wk_stmt_bind_null(s, idx);
}

/* Runs a prepared list query into {"items": [...], "next_after": id|null} (or the single
 * object when c->id). */
static void web__collect(web_call *c, wk_stmt *st, const web_col *cols, size_t n_cols,
                         const char *id_col, const char *next_key, wk_diag *d)
{
    json_t *items = json_array();
    bool row = false;
    wk_err e = items ? WK_OK : WK_ENOMEM;
    int64_t last = 0, count = 0;
    while (!e && !(e = wk_stmt_step(st, &row, d)) && row) {
        json_t *it = wk_web_row(st, cols, n_cols);
        if (!it || json_array_append_new(items, it)) {
            e = WK_ENOMEM;
            break;
        }
        last = json_integer_value(json_object_get(it, id_col));
        count++;
    }
    wk_stmt_reset(st);
    if (e) {
        json_decref(items);
        web__internal(c, d);
        return;
    }
    if (c->id) {
        if (json_array_size(items) == 0) {
            json_decref(items);
            web__fail(c, 404, "not_found", NULL, "no such object");
            return;
        }
        c->body = json_incref(json_array_get(items, 0));
        json_decref(items);
        return;
    }
    c->body = json_pack("{s:o}", "items", items);
    if (c->body)
        json_object_set_new(c->body, next_key, count == c->limit ? json_integer(last) : json_null());
    else
        web__fail(c, 500, "internal", NULL, "out of memory");
}

static void web__op_list(web_call *c, const wk_serve_env *env)
{
    const web_type *t = web__type(c->kind);
    bool staff = web__staff(&c->sess);
    if (!staff && !(t->resident_ok && c->sess.user.account_id > 0)) {
        web__fail(c, 403, "forbidden", NULL, "staff only");
        return;
    }
    if (c->kind == WK_WEB_AUDIT && c->sess.user.role != WK_ROLE_ADMIN) {
        web__fail(c, 403, "forbidden", NULL, "company admins only");
        return;
    }
    wk_diag d = {{0}};
    wk_stmt *st;
    if (wk_store_prepare(env->st, t->sql, &st, &d)) {
        web__internal(c, &d);
        return;
    }
    int64_t limit = c->id ? 1 : c->limit;
    wk_err e = wk_stmt_bind_i64(st, 1, staff ? c->sess.user.company_id : -1);
    if (!e)
        e = wk_stmt_bind_i64(st, 2, staff ? -1 : c->sess.user.account_id);
    if (!e)
        e = wk_stmt_bind_i64(st, 3, c->id ? 0 : c->after);
    if (!e)
        e = wk_stmt_bind_i64(st, 4, limit);
    if (!e)
        e = web__bind_opt_i64(st, 5, c->id, c->id != 0);
    if (!e && (c->kind != WK_WEB_COMMUNITY))
        e = web__bind_opt_i64(st, 6, c->f_parent, c->f_parent != 0);
    if (!e && c->kind == WK_WEB_METER) {
        e = web__bind_opt_i64(st, 7, c->f_online, c->f_online >= 0);
        if (!e)
            e = web__bind_opt_text(st, 8, c->f_relay);
    }
    if (!e && c->kind == WK_WEB_ACCOUNT)
        e = web__bind_opt_text(st, 9, c->f_status);
    if (!e && (c->kind == WK_WEB_COMMAND || c->kind == WK_WEB_EVENT || c->kind == WK_WEB_AUDIT))
        e = web__bind_opt_text(st, 8, c->f_state);
    if (!e && c->kind == WK_WEB_COMMAND)
        e = web__bind_opt_text(st, 9, c->f_action);
    if (!e)
        e = wk_web_bind_scope_user(st, 10, c);
    if (e) {
        wk_stmt_reset(st);
        web__fail(c, 500, "internal", NULL, "bind failed");
        return;
    }
    bool newest_first = c->kind == WK_WEB_COMMAND || c->kind == WK_WEB_EVENT || c->kind == WK_WEB_AUDIT;
    web__collect(c, st, t->cols, t->n_cols, "id", newest_first ? "next_before" : "next_after", &d);
}

/* One page of an account's own rows (readings, transfers), newest first: the account must be
 * visible to the caller (tenancy as GET /accounts/{id}); sql binds ?1 account, ?2 the
 * `before` cursor, ?3 the limit. */
static void web__account_page(web_call *c, const wk_serve_env *env, const char *sql,
                              const web_col *cols, size_t n_cols, const char *id_col)
{
    int64_t id = c->id;
    c->kind = WK_WEB_ACCOUNT;
    web__op_list(c, env); /* the account itself: 403/404 unless visible */
    if (c->status != 200)
        return;
    json_decref(c->body);
    c->body = NULL;
    wk_diag d = {{0}};
    wk_stmt *st;
    if (wk_store_prepare(env->st, sql, &st, &d)) {
        web__internal(c, &d);
        return;
    }
    if (wk_stmt_bind_i64(st, 1, id) || wk_stmt_bind_i64(st, 2, c->after) ||
        wk_stmt_bind_i64(st, 3, c->limit)) {
        wk_stmt_reset(st);
        web__fail(c, 500, "internal", NULL, "bind failed");
        return;
    }
    c->id = 0; /* a list from here on */
    web__collect(c, st, cols, n_cols, id_col, "next_before", &d);
}

/* GET /api/v1/accounts/{id}/readings: newest first by time, paged by `before` time. The
 * account must pass the same tenancy check as GET /accounts/{id}. */
static void web__op_readings(web_call *c, const wk_serve_env *env)
{
    web__account_page(c, env,
                      "SELECT meter_id, time_s, total_wh, t1_wh, t2_wh, t3_wh, t4_wh,"
                      " energy_wh, deduction_fen FROM reading WHERE account_id = ?1"
                      " AND time_s < ?2 ORDER BY time_s DESC, total_wh DESC LIMIT ?3",
                      r_cols, N(r_cols), "time_s");
}

/* GET /api/v1/accounts/{id}/transfers: the account's ledger transfers (top-ups "in",
 * deductions "out"), newest first, paged by `before` leaf index. Same tenancy check as
 * GET /accounts/{id}. */
static void web__op_transfers(web_call *c, const wk_serve_env *env)
{
    web__account_page(c, env,
                      "SELECT lower(hex(t.id)), t.leaf_index, t.time_s, t.amount_fen,"
                      " CASE WHEN t.credit_account_id = a.wallet_account_id THEN 'in' ELSE"
                      " 'out' END, t.reason FROM account a JOIN ledger_transfer t"
                      " ON a.wallet_account_id IN (t.debit_account_id, t.credit_account_id)"
                      " WHERE a.id = ?1 AND t.leaf_index < ?2 ORDER BY t.leaf_index DESC LIMIT ?3",
                      t_cols, N(t_cols), "leaf_index");
}

/* Parses a positive decimal id (1..2^53) that is the whole string. */
static bool web__id(const char *s, size_t len, int64_t *out)
{
    if (len == 0 || len > 16)
        return false;
    int64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return v > 0;
}

/* Query parameter as an integer in [min, max]; absent = dflt. False answers 400. */
static bool web__qint(wk_http_req *req, wk_http_resp *resp, const char *name, int64_t min,
                      int64_t max, int64_t dflt, int64_t *out, int *rc)
{
    const char *v = wk_http_req_query(req, name);
    *out = dflt;
    if (!v)
        return true;
    int64_t x = 0;
    bool ok = *v && strlen(v) <= 18;
    for (const char *p = v; ok && *p; p++)
        ok = *p >= '0' && *p <= '9';
    for (const char *p = v; ok && *p; p++)
        x = x * 10 + (*p - '0');
    if (!ok || x < min || x > max) {
        char m[96];
        snprintf(m, sizeof m, "expected an integer %lld..%lld", (long long)min, (long long)max);
        *rc = web__err(resp, 400, "invalid", m, name);
        return false;
    }
    *out = x;
    return true;
}

/* Query parameter from a fixed set of words; absent = NULL. */
static bool web__qword(wk_http_req *req, wk_http_resp *resp, const char *name,
                       const char *const *words, const char **out, int *rc)
{
    const char *v = wk_http_req_query(req, name);
    *out = NULL;
    if (!v)
        return true;
    for (const char *const *w = words; *w; w++)
        if (!strcmp(v, *w)) {
            *out = *w;
            return true;
        }
    *rc = web__err(resp, 400, "invalid", "value not allowed", name);
    return false;
}

/* GET /api/v1/{communities,buildings,units,meters,accounts,commands,events}[/{id}] and
 * /api/v1/accounts/{id}/{readings,transfers} */
static int web__read(wk_http_req *req, wk_http_resp *resp, void *ctx)
{
    const web_type *t = ctx;
    const char *rest = wk_http_req_path_rest(req);
    web_call c;
    web__call_init(&c, req, true);
    c.kind = t->kind;
    c.op = web__op_list;
    int rc = 0;
    if (*rest) { /* prefix route: "{id}" or "{id}/readings" */
        const char *slash = strchr(rest, '/');
        size_t idlen = slash ? (size_t)(slash - rest) : strlen(rest);
        if (!web__id(rest, idlen, &c.id))
            return web__err(resp, 404, "not_found", "no such object", NULL);
        if (slash && t->kind == WK_WEB_ACCOUNT && !strcmp(slash, "/readings"))
            c.op = web__op_readings;
        else if (slash && t->kind == WK_WEB_ACCOUNT && !strcmp(slash, "/transfers"))
            c.op = web__op_transfers;
        else if (slash)
            return web__err(resp, 404, "not_found", "no such object", NULL);
    }
    if (c.id && c.op == web__op_list)
        return web__run(&c, resp);
    /* lists: newest-first ones page with `before`, the registry with `after` */
    bool newest_first = c.op != web__op_list || t->kind == WK_WEB_COMMAND || t->kind == WK_WEB_EVENT ||
                        t->kind == WK_WEB_AUDIT;
    if (!web__qint(req, resp, "limit", 1, WEB_LIMIT_MAX, WEB_LIMIT_DEFAULT, &c.limit, &rc) ||
        !web__qint(req, resp, newest_first ? "before" : "after", newest_first ? 1 : 0,
                   INT64_C(1) << 53, newest_first && c.op != web__op_list ? INT64_C(1) << 53 : 0,
                   &c.after, &rc))
        return rc;
    if (c.op != web__op_list)
        return web__run(&c, resp);
    static const char *const parent[] = {[WK_WEB_BUILDING] = "community", [WK_WEB_UNIT] = "building",
                                         [WK_WEB_METER] = "building",     [WK_WEB_ACCOUNT] = "unit",
                                         [WK_WEB_COMMAND] = "meter",      [WK_WEB_EVENT] = "meter",
                                         [WK_WEB_AUDIT] = NULL};
    const char *pname = parent[t->kind];
    if (pname && !web__qint(req, resp, pname, 1, INT64_C(1) << 53, 0, &c.f_parent, &rc))
        return rc;
    static const char *const online_words[] = {"true", "false", NULL};
    static const char *const relay_words[] = {"closed", "tripped", NULL};
    static const char *const status_words[] = {"open", "closed", NULL};
    static const char *const state_words[] = {"queued",    "sent",    "acked",   "offline",
                                              "confirmed", "refused", "expired", "superseded",
                                              NULL};
    static const char *const action_words[] = {"trip", "close", "close_permit", NULL};
    const char *online = NULL;
    if (t->kind == WK_WEB_METER && (!web__qword(req, resp, "online", online_words, &online, &rc) ||
                                 !web__qword(req, resp, "relay", relay_words, &c.f_relay, &rc)))
        return rc;
    if (online)
        c.f_online = !strcmp(online, "true");
    if (t->kind == WK_WEB_ACCOUNT && !web__qword(req, resp, "status", status_words, &c.f_status, &rc))
        return rc;
    if (t->kind == WK_WEB_COMMAND && (!web__qword(req, resp, "state", state_words, &c.f_state, &rc) ||
                                   !web__qword(req, resp, "action", action_words, &c.f_action, &rc)))
        return rc;
    if (t->kind == WK_WEB_EVENT || t->kind == WK_WEB_AUDIT) { /* a word of [a-z_], 1..32 */
        const char *qn = t->kind == WK_WEB_EVENT ? "kind" : "action";
        const char *k = wk_http_req_query(req, qn);
        size_t n = k ? strspn(k, "abcdefghijklmnopqrstuvwxyz_") : 0;
        if (k && (n == 0 || n > 32 || k[n]))
            return web__err(resp, 400, "invalid", "expected a word of [a-z_]{1,32}", qn);
        c.f_state = k;
    }
    return web__run(&c, resp);
}

static void web__op_receipt(web_call *c, const wk_serve_env *env)
{
    wk_diag d = {{0}};
    wk_stmt *st;
    if (wk_store_prepare(env->st,
                         "SELECT a.id FROM ledger_transfer t JOIN account a"
                         " ON a.wallet_account_id IN (t.debit_account_id, t.credit_account_id)"
                         " WHERE t.id = ?1 ORDER BY a.id",
                         &st, &d)) {
        web__internal(c, &d);
        return;
    }
    int64_t accounts[2] = {0, 0};
    int n = 0;
    bool row = false;
    wk_err e = wk_stmt_bind_blob(st, 1, c->transfer_id, 16);
    while (!e && !(e = wk_stmt_step(st, &row, &d)) && row && n < 2)
        accounts[n++] = wk_stmt_i64(st, 0);
    wk_stmt_reset(st);
    if (e) {
        web__internal(c, &d);
        return;
    }
    /* visible when one of the transfer's resident accounts is visible to the user */
    bool visible = false;
    for (int i = 0; i < n && !visible; i++) {
        c->kind = WK_WEB_ACCOUNT;
        c->id = accounts[i];
        c->status = 200;
        web__op_list(c, env);
        visible = c->status == 200;
        json_decref(c->body);
        c->body = NULL;
    }
    if (!visible) {
        web__fail(c, 404, "not_found", NULL, "no such receipt");
        return;
    }
    c->status = 200;
    char *json = NULL;
    if ((e = wk_ledger_receipt(env->lg, c->transfer_id, &json, &d))) {
        web__internal(c, &d);
        return;
    }
    json_error_t je;
    c->body = json_loads(json, JSON_REJECT_DUPLICATES, &je);
    wk_free(json);
    if (!c->body)
        web__fail(c, 500, "internal", NULL, "receipt JSON did not parse");
}

/* GET /api/v1/receipts/{transfer id, 32 hex}: the receipt (DESIGN.md contract) of a top-up
 * or deduction of an account the user may see. */
static int web__receipt(wk_http_req *req, wk_http_resp *resp, void *ctx)
{
    (void)ctx;
    const char *rest = wk_http_req_path_rest(req);
    web_call c;
    web__call_init(&c, req, true);
    size_t n = 0;
    if (strlen(rest) != 32 || wk_hex_decode(rest, 32, c.transfer_id, sizeof c.transfer_id, &n) ||
        n != 16)
        return web__err(resp, 404, "not_found", "no such receipt", NULL);
    c.op = web__op_receipt;
    return web__run(&c, resp);
}

/* GET /api/v1/ledger/key: the log's verifier key (public; residents compare it out of
 * band with the one the property office publishes). */
static int web__ledger_key(wk_http_req *req, wk_http_resp *resp, void *ctx)
{
    (void)req;
    (void)ctx;
    if (!web.verifier[0])
        return web__err(resp, 404, "not_found", "no log key loaded", NULL);
    return web__send_json(resp, 200, json_pack("{s:s}", "verifier", web.verifier));
}

/* ---- staff actions ---- */

typedef struct web_hold {
    web_call *c;
    int64_t account_id;
    bool vacant;
    int64_t until_s;
    int64_t now_ms;
} web_hold;

/* Runs inside the head-end's transaction before the change: the audit row with the state
 * before (read now) and after (as requested). */
static wk_err web__audit_hold(void *ctx, wk_store *st, wk_diag *d)
{
    web_hold *h = ctx;
    wk_stmt *s;
    wk_err e = wk_store_prepare(st,
                                "SELECT a.vacant, a.guarantee_until_s, m.relay, m.id FROM account a"
                                " LEFT JOIN meter m ON m.unit_id = a.unit_id WHERE a.id = ?",
                                &s, d);
    if (e)
        return e;
    bool row = false;
    char before[192] = "";
    if (!(e = wk_stmt_bind_i64(s, 1, h->account_id)) && !(e = wk_stmt_step(s, &row, d)) && row) {
        size_t n = 0;
        const char *relay = wk_stmt_is_null(s, 2) ? "" : wk_stmt_text(s, 2, &n);
        snprintf(before, sizeof before,
                 "{\"vacant\":%s,\"guarantee_until_s\":%lld,\"relay\":\"%.*s\",\"meter_id\":%lld}",
                 wk_stmt_i64(s, 0) ? "true" : "false", (long long)wk_stmt_i64(s, 1), (int)n, relay,
                 (long long)wk_stmt_i64(s, 3));
    }
    wk_stmt_reset(s);
    if (e)
        return e;
    if (!row)
        return wk_diag_set(d, WK_ENOTFOUND, "account %lld does not exist", (long long)h->account_id);
    char after[128], action[32];
    snprintf(after, sizeof after, "{\"vacant\":%s,\"guarantee_until_s\":%lld}",
             h->vacant ? "true" : "false", (long long)h->until_s);
    snprintf(action, sizeof action, "relay_%s", h->c->action);
    return wk_auth_audit(st, &h->c->sess.user, action, "account", h->account_id, h->c->reason,
                         before, after, h->now_ms, d);
}

static void web__op_relay(web_call *c, const wk_serve_env *env)
{
    wk_role r = c->sess.user.role;
    if (!web__staff(&c->sess) ||
        !(r == WK_ROLE_ADMIN || r == WK_ROLE_SERVICE || r == WK_ROLE_TECHNICIAN)) {
        web__fail(c, 403, "forbidden", NULL, "relay actions need the admin, service or technician role");
        return;
    }
    int64_t meter_id = c->id;
    c->kind = WK_WEB_METER;
    web__op_list(c, env); /* 404 unless the meter is the company's */
    if (c->status != 200)
        return;
    json_decref(c->body);
    c->body = NULL;
    wk_diag d = {{0}};
    wk_stmt *st;
    if (wk_store_prepare(env->st,
                         "SELECT a.id FROM account a JOIN meter m ON m.unit_id = a.unit_id"
                         " WHERE m.id = ? AND a.status = 'open'",
                         &st, &d)) {
        web__internal(c, &d);
        return;
    }
    bool row = false;
    wk_err e = wk_stmt_bind_i64(st, 1, meter_id);
    if (!e)
        e = wk_stmt_step(st, &row, &d);
    int64_t account = row ? wk_stmt_i64(st, 0) : 0;
    wk_stmt_reset(st);
    if (e) {
        web__internal(c, &d);
        return;
    }
    if (!account) {
        web__fail(c, 409, "conflict", NULL, "the meter's unit has no open account");
        return;
    }
    web_hold h = {.c = c, .account_id = account, .now_ms = env->now_ms};
    if (!strcmp(c->action, "trip"))
        h.vacant = true;
    else if (!strcmp(c->action, "close"))
        h.until_s = env->now_ms / 1000 + c->hours * 3600;
    char kind[32];
    snprintf(kind, sizeof kind, "relay_%s", c->action);
    e = wk_headend_set_hold(env->hd, account, h.vacant, h.until_s, kind, c->reason, env->now_ms,
                            web__audit_hold, &h, &d);
    if (e == WK_ENOTFOUND) {
        web__fail(c, 404, "not_found", NULL, d.msg);
        return;
    }
    if (e) {
        web__internal(c, &d);
        return;
    }
    c->body = json_pack("{s:I, s:I, s:s, s:b, s:I}", "meter_id", (json_int_t)meter_id,
                        "account_id", (json_int_t)account, "action", c->action, "vacant",
                        (int)h.vacant, "guarantee_until_s", (json_int_t)h.until_s);
    if (!c->body)
        web__fail(c, 500, "internal", NULL, "out of memory");
}

/* POST /api/v1/meters/{id}/relay {"action": "trip"|"close"|"auto", "reason": "...",
 * "hours": 1..720 (close only, default 24)} (session + CSRF; admin, service, technician).
 * trip holds the relay open (the unit is marked vacant), close holds it closed (a power
 * guarantee for `hours`), auto ends both holds and lets the balance decide. The head-end
 * queues the command; it shows up in GET /api/v1/commands. Audited. */
static int web__relay(wk_http_req *req, wk_http_resp *resp, void *ctx)
{
    (void)ctx;
    web_call c;
    web__call_init(&c, req, true);
    const char *action = wk_web_path_action(req, &c.id);
    if (!action || strcmp(action, "relay"))
        return web__err(resp, 404, "not_found", "no such route", NULL);
    int rc = 0;
    json_t *j = web__json_body(req, resp, &rc);
    if (!j)
        return rc;
    static const char *const keys[] = {"action", "reason", "hours", NULL};
    static const char *const actions[] = {"trip", "close", "auto", NULL};
    json_t *hours = json_object_get(j, "hours");
    if (web__only(j, keys, resp, &rc) && (c.action = web__str(j, "action", 16, resp, &rc)) &&
        (c.reason = web__str(j, "reason", 255, resp, &rc))) {
        bool known = false;
        for (const char *const *a = actions; *a; a++)
            known = known || !strcmp(*a, c.action);
        c.hours = 24;
        if (!known)
            rc = web__err(resp, 400, "invalid", "expected trip, close or auto", "action");
        else if (hours && (strcmp(c.action, "close") || !json_is_integer(hours) ||
                           json_integer_value(hours) < 1 || json_integer_value(hours) > 720))
            rc = web__err(resp, 400, "invalid", "close only: an integer 1..720", "hours");
        else {
            if (hours)
                c.hours = json_integer_value(hours);
            c.op = web__op_relay;
            rc = web__run(&c, resp);
        }
    }
    json_decref(j);
    return rc;
}

/* ---- static files: the pages ---- */

#define WEB_FILE_MAX (4 * 1024 * 1024) /* bytes of one served file (echarts.min.js ~1 MB) */

static const char *web__content_type(const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {{".html", "text/html; charset=utf-8"},
                 {".js", "text/javascript; charset=utf-8"},
                 {".mjs", "text/javascript; charset=utf-8"},
                 {".css", "text/css; charset=utf-8"},
                 {".json", "application/json"},
                 {".svg", "image/svg+xml"},
                 {".png", "image/png"},
                 {".ico", "image/x-icon"}};
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (!strcmp(dot, types[i].ext))
            return types[i].type;
    return NULL;
}

/* GET /, /staff/..., /resident/..., /assets/..., /vendor/...: files under web_dir. The path
 * is checked character by character ([A-Za-z0-9._-/], no "..", no empty segment), so
 * nothing outside web_dir can be named; a directory path serves its index.html; unknown
 * extensions are 404. ctx is the sub-directory ("staff/") or "" for the root. */
static int web__static(wk_http_req *req, wk_http_resp *resp, void *ctx)
{
    const char *dir = ctx;
    const char *rest = wk_http_req_path_rest(req);
    char rel[256];
    int n = snprintf(rel, sizeof rel, "%s%s", dir, rest);
    if (n < 0 || (size_t)n >= sizeof rel - 16)
        return web__err(resp, 404, "not_found", "no such file", NULL);
    if (n == 0 || rel[n - 1] == '/')
        snprintf(rel + n, sizeof rel - (size_t)n, "index.html");
    for (const char *p = rel; *p; p++) {
        char ch = *p;
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                  ch == '.' || ch == '_' || ch == '-' || ch == '/';
        if (!ok || (ch == '/' && (p == rel || p[1] == '/')) ||
            (ch == '.' && (p == rel || p[-1] == '/')))
            return web__err(resp, 404, "not_found", "no such file", NULL);
    }
    const char *type = web__content_type(rel);
    if (!type)
        return web__err(resp, 404, "not_found", "no such file", NULL);
    char path[WK_CONFIG_PATH_MAX + 300];
    snprintf(path, sizeof path, "%s/%s", web.web_dir, rel);
    FILE *f = fopen(path, "rb");
    struct stat sb;
    if (!f || fstat(fileno(f), &sb) || !S_ISREG(sb.st_mode) || sb.st_size > WEB_FILE_MAX) {
        if (f)
            fclose(f);
        return web__err(resp, 404, "not_found", "no such file", NULL);
    }
    size_t len = (size_t)sb.st_size;
    char *buf = wk_malloc(len ? len : 1);
    size_t got = buf ? fread(buf, 1, len, f) : 0;
    fclose(f);
    if (!buf)
        return -1;
    if (got != len) {
        wk_free(buf);
        return -1;
    }
    /* X-Content-Type-Options: nosniff comes with every response from src/api/http.c */
    if (wk_http_resp_header(resp, "Cache-Control", "no-cache") ||
        wk_http_resp_header(resp, "Referrer-Policy", "no-referrer") ||
        wk_http_resp_header(resp, "X-Frame-Options", "DENY") ||
        (!strncmp(type, "text/html", 9) &&
         wk_http_resp_header(resp, "Content-Security-Policy",
                             "default-src 'self'; script-src 'self'; style-src 'self' "
                             "'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
                             "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"))) {
        wk_free(buf);
        return -1;
    }
    return wk_http_resp_body_take(resp, type, buf, len) ? -1 : 0;
}

/* GET /api/v1/openapi.json: <web_dir>/openapi.json, read at each request (small, rare). */
static int web__openapi(wk_http_req *req, wk_http_resp *resp, void *ctx)
{
    (void)req;
    (void)ctx;
    char path[WK_CONFIG_PATH_MAX + 32];
    if (snprintf(path, sizeof path, "%s/openapi.json", web.web_dir) >= (int)sizeof path)
        return web__err(resp, 500, "internal", "web_dir too long", NULL);
    FILE *f = fopen(path, "rb");
    if (!f)
        return web__err(resp, 404, "not_found", "openapi.json is not installed in web_dir", NULL);
    char *buf = wk_malloc(WEB_OPENAPI_MAX);
    size_t n = buf ? fread(buf, 1, WEB_OPENAPI_MAX, f) : 0;
    bool too_big = buf && n == WEB_OPENAPI_MAX;
    fclose(f);
    if (!buf)
        return -1;
    if (too_big) {
        wk_free(buf);
        return web__err(resp, 500, "internal", "openapi.json is larger than its limit", NULL);
    }
    return wk_http_resp_body_take(resp, "application/json", buf, n) ? -1 : 0;
}

/* ---- what the modules share (serve_web.h) ---- */

void wk_web_call_init(wk_web_call *c, wk_http_req *req, bool need_session)
{
    web__call_init(c, req, need_session);
}
int wk_web_run(wk_web_call *c, wk_http_resp *resp)
{
    return web__run(c, resp);
}
void wk_web_exec(wk_web_call *c)
{
    web__exec(c);
}

int wk_web_answer(wk_web_call *c, wk_http_resp *resp)
{
    return web__answer(c, resp);
}

int wk_web_err(wk_http_resp *resp, int status, const char *code, const char *msg, const char *field)
{
    return web__err(resp, status, code, msg, field);
}
json_t *wk_web_json_body(wk_http_req *req, wk_http_resp *resp, int *rc)
{
    return web__json_body(req, resp, rc);
}
const char *wk_web_str(json_t *j, const char *key, size_t max, wk_http_resp *resp, int *rc)
{
    return web__str(j, key, max, resp, rc);
}
bool wk_web_only(json_t *j, const char *const *allowed, wk_http_resp *resp, int *rc)
{
    return web__only(j, allowed, resp, rc);
}
bool wk_web_id(const char *s, size_t len, int64_t *out)
{
    return web__id(s, len, out);
}
const char *wk_web_path_action(wk_http_req *req, int64_t *id)
{
    const char *rest = wk_http_req_path_rest(req);
    const char *slash = rest ? strchr(rest, '/') : NULL;
    if (!slash || !web__id(rest, (size_t)(slash - rest), id))
        return NULL;
    return slash + 1;
}

bool wk_web_qint(wk_http_req *req, wk_http_resp *resp, const char *name, int64_t min, int64_t max,
                 int64_t dflt, int64_t *out, int *rc)
{
    return web__qint(req, resp, name, min, max, dflt, out, rc);
}
bool wk_web_qword(wk_http_req *req, wk_http_resp *resp, const char *name,
                  const char *const *words, const char **out, int *rc)
{
    return web__qword(req, resp, name, words, out, rc);
}
int wk_web_send_json(wk_http_resp *resp, int status, json_t *j)
{
    return web__send_json(resp, status, j);
}
void wk_web_fail(wk_web_call *c, int status, const char *code, const char *field, const char *msg)
{
    web__fail(c, status, code, field, msg);
}
void wk_web_internal(wk_web_call *c, const wk_diag *d)
{
    web__internal(c, d);
}
bool wk_web_staff(const wk_session *s)
{
    return web__staff(s);
}

bool wk_web_role(wk_web_call *c, unsigned mask, const char *needed)
{
    wk_role r = c->sess.user.role;
    bool ok = (mask & (1u << r)) && (r == WK_ROLE_RESIDENT ? c->sess.user.account_id > 0
                                                           : c->sess.user.company_id > 0);
    if (!ok) {
        char m[160];
        snprintf(m, sizeof m, "this needs the %s role", needed);
        web__fail(c, 403, "forbidden", NULL, m);
    }
    return ok;
}

wk_err wk_web_bind_scope_user(wk_stmt *st, int idx, const wk_web_call *c)
{
    return c->sess.user.assigned ? wk_stmt_bind_i64(st, idx, c->sess.user.id)
                                 : wk_stmt_bind_null(st, idx);
}

bool wk_web_account_visible(wk_web_call *c, const wk_serve_env *env, int64_t account_id,
                            int64_t *community_id)
{
    wk_diag d = {{0}};
    wk_stmt *st;
    if (wk_store_prepare(env->st,
                         "SELECT c.id FROM account a JOIN unit u ON u.id = a.unit_id"
                         " JOIN building b ON b.id = u.building_id JOIN community c ON c.id = b.community_id"
                         " WHERE a.id = ?3 AND (a.id = ?4 OR " WK_WEB_SCOPE("c", "?1", "?2") ")",
                         &st, &d)) {
        web__internal(c, &d);
        return false;
    }
    bool staff = web__staff(&c->sess), row = false;
    wk_err e = wk_stmt_bind_i64(st, 1, staff ? c->sess.user.company_id : -1);
    if (!e)
        e = wk_web_bind_scope_user(st, 2, c);
    if (!e)
        e = wk_stmt_bind_i64(st, 3, account_id);
    if (!e)
        e = wk_stmt_bind_i64(st, 4, staff ? -1 : c->sess.user.account_id);
    if (!e)
        e = wk_stmt_step(st, &row, &d);
    if (!e && row && community_id)
        *community_id = wk_stmt_i64(st, 0);
    wk_stmt_reset(st);
    if (e)
        web__internal(c, &d);
    else if (!row)
        web__fail(c, 404, "not_found", NULL, "no such account");
    return !e && row;
}

bool wk_web_community_visible(wk_web_call *c, const wk_serve_env *env, int64_t community_id)
{
    wk_diag d = {{0}};
    wk_stmt *st;
    if (!web__staff(&c->sess)) {
        web__fail(c, 404, "not_found", NULL, "no such community");
        return false;
    }
    if (wk_store_prepare(env->st,
                         "SELECT 1 FROM community c WHERE c.id = ?3 AND " WK_WEB_SCOPE("c", "?1", "?2"),
                         &st, &d)) {
        web__internal(c, &d);
        return false;
    }
    bool row = false;
    wk_err e = wk_stmt_bind_i64(st, 1, c->sess.user.company_id);
    if (!e)
        e = wk_web_bind_scope_user(st, 2, c);
    if (!e)
        e = wk_stmt_bind_i64(st, 3, community_id);
    if (!e)
        e = wk_stmt_step(st, &row, &d);
    wk_stmt_reset(st);
    if (e)
        web__internal(c, &d);
    else if (!row)
        web__fail(c, 404, "not_found", NULL, "no such community");
    return !e && row;
}

wk_serve *wk_web_serve(void)
{
    return web.s;
}

const char *wk_web_dir(void)
{
    return web.web_dir;
}

wk_err wk_serve_web_start(wk_serve *s, const wk_http_opts *o, const wk_http_route *base,
                          size_t n, wk_http **out, wk_diag *d)
{
    web.s = s;
    const wk_config *cfg = wk_serve_config(s);
    snprintf(web.web_dir, sizeof web.web_dir, "%s", cfg->server.web_dir);
    { /* the public half of the log key, for receipts checked in the browser */
        char path[WK_APP_PATH_MAX];
        wk_note_signer signer;
        wk_diag kd = {{0}};
        web.verifier[0] = '\0';
        if (wk_app_key_path(cfg->server.db, cfg->ledger.key_file[0] ? cfg->ledger.key_file : NULL,
                            path, sizeof path) &&
            !wk_ledger_key_load_or_create(path, cfg->ledger.log_name, &signer, NULL, &kd))
            wk_note_verifier_format(&signer.v, web.verifier, sizeof web.verifier);
        memset(&signer, 0, sizeof signer);
    }
    pthread_mutex_lock(&web.mu);
    wk_limiter_init(&web.lim, WEB_LOGIN_BURST, WEB_LOGIN_REFILL_MS);
    pthread_mutex_unlock(&web.mu);
    const wk_http_route mine[] = {
        {"POST", "/api/v1/login", web__login, NULL, WEB_BODY_MAX, "login"},
        {"POST", "/api/v1/logout", web__logout, NULL, 0, "logout"},
        {"GET", "/api/v1/me", web__me, NULL, 0, "me"},
        {"POST", "/api/v1/me/password", web__password, NULL, WEB_BODY_MAX, "password"},
        {"GET", "/api/v1/communities", web__read, (void *)&web_types[0], 0, "communities"},
        {"GET", "/api/v1/communities/*", web__read, (void *)&web_types[0], 0, "community"},
        {"GET", "/api/v1/buildings", web__read, (void *)&web_types[1], 0, "buildings"},
        {"GET", "/api/v1/buildings/*", web__read, (void *)&web_types[1], 0, "building"},
        {"GET", "/api/v1/units", web__read, (void *)&web_types[2], 0, "units"},
        {"GET", "/api/v1/units/*", web__read, (void *)&web_types[2], 0, "unit"},
        {"GET", "/api/v1/meters", web__read, (void *)&web_types[3], 0, "meters"},
        {"GET", "/api/v1/meters/*", web__read, (void *)&web_types[3], 0, "meter"},
        {"GET", "/api/v1/accounts", web__read, (void *)&web_types[4], 0, "accounts_list"},
        {"GET", "/api/v1/accounts/*", web__read, (void *)&web_types[4], 0, "account"},
        {"GET", "/api/v1/commands", web__read, (void *)&web_types[5], 0, "commands"},
        {"GET", "/api/v1/commands/*", web__read, (void *)&web_types[5], 0, "command"},
        {"GET", "/api/v1/events", web__read, (void *)&web_types[6], 0, "events"},
        {"GET", "/api/v1/events/*", web__read, (void *)&web_types[6], 0, "event"},
        {"POST", "/api/v1/meters/*", web__relay, NULL, WEB_BODY_MAX, "meter_relay"},
        {"GET", "/api/v1/audit", web__read, (void *)&web_types[7], 0, "audit"},
        {"GET", "/api/v1/audit/*", web__read, (void *)&web_types[7], 0, "audit_entry"},
        {"GET", "/api/v1/receipts/*", web__receipt, NULL, 0, "receipt"},
        {"GET", "/api/v1/ledger/key", web__ledger_key, NULL, 0, "ledger_key"},
        {"GET", "/api/v1/openapi.json", web__openapi, NULL, 0, "openapi"},
        {"GET", "/", web__static, (void *)"", 0, "page_index"},
        {"GET", "/staff/*", web__static, (void *)"staff/", 0, "page_staff"},
        {"GET", "/resident/*", web__static, (void *)"resident/", 0, "page_resident"},
        {"GET", "/assets/*", web__static, (void *)"assets/", 0, "page_assets"},
        {"GET", "/vendor/*", web__static, (void *)"vendor/", 0, "page_vendor"},
    };
    /* the modules' routes (serve_web.h) */
    const struct {
        const wk_http_route *r;
        size_t n;
    } mods[] = {
        {wk_web_admin_routes, wk_web_admin_nroutes},
        {wk_web_tariffs_routes, wk_web_tariffs_nroutes},
        {wk_web_accounts_routes, wk_web_accounts_nroutes},
        {wk_web_payments_routes, wk_web_payments_nroutes},
        {wk_web_reports_routes, wk_web_reports_nroutes},
        {wk_web_resident_routes, wk_web_resident_nroutes},
    };
    size_t total = n + N(mine);
    for (size_t i = 0; i < N(mods); i++)
        total += mods[i].n;
    if (total > WK_HTTP_ROUTES_MAX)
        return wk_diag_set(d, WK_ELIMIT, "too many HTTP routes (%zu)", total);
    wk_http_route all[WK_HTTP_ROUTES_MAX];
    memcpy(all, base, n * sizeof *base);
    memcpy(all + n, mine, sizeof mine);
    size_t at = n + N(mine);
    for (size_t i = 0; i < N(mods); i++) {
        memcpy(all + at, mods[i].r, mods[i].n * sizeof *all);
        at += mods[i].n;
    }
    return wk_http_start(o, all, total, out, d);
}
