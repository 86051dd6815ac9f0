/*
 * serve_web_admin.c - people and integrations, for company admins (serve_web.h):
 *
 *   GET  /api/v1/users[/{id}]             the company's logins (admin); no hashes
 *   POST /api/v1/users                    add a staff or resident login (admin)
 *   POST /api/v1/users/{id}/communities   restrict staff to some communities ([] = all)
 *   POST /api/v1/users/{id}/unlock        end a lock-out after failed logins
 *   GET  /api/v1/tokens                   API tokens: one's own (admins: the company's)
 *   POST /api/v1/tokens                   a new API token for oneself, shown once
 *   POST /api/v1/tokens/{id}/revoke       revoke one's own token (admins: any of the company)
 *
 * Every change is audited in its own transaction. Token routes need a browser session: an
 * API token cannot mint or revoke tokens (a leaked token must not be able to renew
 * itself). Passwords are hashed on the HTTP thread, never on the main loop.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/serve_web.h"
#include "core/mem.h"

#define ADM_BODY_MAX 4096
#define ADM_COMMUNITIES_MAX 64

typedef struct adm_in {
    /* POST /users */
    const char *login;
    char hash[WK_AUTH_HASH_MAX];
    wk_role role;
    int64_t account_id;
    /* communities */
    int64_t communities[ADM_COMMUNITIES_MAX];
    size_t n_communities;
    bool set_communities;
    const char *reason;
    /* tokens */
    const char *name;
    int64_t ttl_days;
} adm_in;

static const char *adm__reason(const adm_in *in, const char *dflt)
{
    return in->reason ? in->reason : dflt;
}

/* Ends the change's transaction: commits when e is WK_OK, rolls back otherwise (also when
 * the commit fails). Returns the outcome. */
static wk_err adm__end(const wk_serve_env *env, wk_err e, wk_diag *d)
{
    if (!e)
        e = wk_store_commit(env->st, d);
    if (e)
        wk_store_rollback(env->st);
    return e;
}

/* ---- users ---- */

/* The user's communities as a JSON array, or null when unrestricted. */
static json_t *adm__communities(wk_web_call *c, const wk_serve_env *env, int64_t user_id)
{
    wk_diag d = {{0}};
    wk_stmt *st;
    if (wk_store_prepare(env->st,
                         "SELECT community_id FROM staff_community WHERE user_id = ? ORDER BY community_id",
                         &st, &d)) {
        wk_web_internal(c, &d);
        return NULL;
    }
    json_t *a = json_array();
    bool row = false;
    wk_err e = wk_stmt_bind_i64(st, 1, user_id);
    while (a && !e && !(e = wk_stmt_step(st, &row, &d)) && row)
        json_array_append_new(a, json_integer(wk_stmt_i64(st, 0)));
    wk_stmt_reset(st);
    if (e || !a) {
        json_decref(a);
        wk_web_internal(c, &d);
        return NULL;
    }
    if (json_array_size(a) == 0) {
        json_decref(a);
        return json_null();
    }
    return a;
}

/* Lists the company's users (c->id = one). Residents are the company's when their account
 * lies in one of its communities. */
static void adm__op_users(wk_web_call *c, const wk_serve_env *env)
{
    if (!wk_web_role(c, WK_WEB_ADMIN, "company admin"))
        return;
    wk_diag d = {{0}};
    wk_stmt *st;
    if (wk_store_prepare(env->st,
                         "SELECT u.id, u.login, u.role, u.company_id, u.account_id, u.locked_until_s,"
                         " u.created_s FROM app_user u WHERE u.id > ?2 AND (?3 IS NULL OR u.id = ?3)"
                         " AND (u.company_id = ?1 OR u.account_id IN (SELECT a.id FROM account a"
                         "  JOIN unit x ON x.id = a.unit_id JOIN building b ON b.id = x.building_id"
                         "  JOIN community c ON c.id = b.community_id WHERE c.company_id = ?1))"
                         " ORDER BY u.id LIMIT ?4",
                         &st, &d)) {
        wk_web_internal(c, &d);
        return;
    }
    json_t *items = json_array();
    bool row = false;
    int64_t last = 0;
    wk_err e = wk_stmt_bind_i64(st, 1, c->sess.user.company_id);
    if (!e)
        e = wk_stmt_bind_i64(st, 2, c->id ? 0 : c->after);
    if (!e)
        e = c->id ? wk_stmt_bind_i64(st, 3, c->id) : wk_stmt_bind_null(st, 3);
    if (!e)
        e = wk_stmt_bind_i64(st, 4, c->id ? 1 : c->limit);
    while (items && !e && !(e = wk_stmt_step(st, &row, &d)) && row) {
        size_t n1, n2;
        const char *login = wk_stmt_text(st, 1, &n1), *role = wk_stmt_text(st, 2, &n2);
        json_t *u = json_pack("{s:I, s:s%, s:s%, s:o, s:o, s:I, s:I}", "id",
                              (json_int_t)wk_stmt_i64(st, 0), "login", login, n1, "role", role, n2,
                              "company_id", wk_stmt_is_null(st, 3) ? json_null() : json_integer(wk_stmt_i64(st, 3)),
                              "account_id", wk_stmt_is_null(st, 4) ? json_null() : json_integer(wk_stmt_i64(st, 4)),
                              "locked_until_s", (json_int_t)wk_stmt_i64(st, 5), "created_s",
                              (json_int_t)wk_stmt_i64(st, 6));
        last = wk_stmt_i64(st, 0);
        if (!u || json_array_append_new(items, u))
            e = WK_ENOMEM;
    }
    wk_stmt_reset(st);
    if (e || !items) {
        json_decref(items);
        wk_web_internal(c, &d);
        return;
    }
    /* the community restriction of each (after the statement above is done) */
    size_t i;
    json_t *u;
    json_array_foreach(items, i, u)
    {
        json_t *cs = adm__communities(c, env, json_integer_value(json_object_get(u, "id")));
        if (!cs) {
            json_decref(items);
            return;
        }
        json_object_set_new(u, "communities", cs);
    }
    if (c->id) {
        if (json_array_size(items) == 0)
            wk_web_fail(c, 404, "not_found", NULL, "no such user");
        else
            c->body = json_incref(json_array_get(items, 0));
        json_decref(items);
        return;
    }
    c->body = json_pack("{s:o, s:o}", "items", items, "next_after",
                        (int64_t)json_array_size(items) == c->limit ? json_integer(last) : json_null());
}

static int adm__users_get(wk_http_req *req, wk_http_resp *resp, void *ctx)
{
    (void)ctx;
    wk_web_call c;
    wk_web_call_init(&c, req, true);
    int rc = 0;
    const char *rest = wk_http_req_path_rest(req);
    if (rest && *rest && !wk_web_id(rest, strlen(rest), &c.id))
        return wk_web_err(resp, 404, "not_found", "no such user", NULL);
    if (!wk_web_qint(req, resp, "limit", 1, 200, 50, &c.limit, &rc) ||
        !wk_web_qint(req, resp, "after", 0, INT64_MAX / 2, 0, &c.after, &rc))
        return rc;
    c.op = adm__op_users;
    return wk_web_run(&c, resp);
}

/* The target user of /users/{id}/...: a staff login of the caller's company. */
static bool adm__target_staff(wk_web_call *c, const wk_serve_env *env, char *login, size_t cap)
{
    wk_diag d = {{0}};
    wk_stmt *st;
    if (wk_store_prepare(env->st,
                         "SELECT login, role FROM app_user WHERE id = ? AND company_id = ?", &st, &d)) {
        wk_web_internal(c, &d);
        return false;
    }
    bool row = false;
    wk_err e = wk_stmt_bind_i64(st, 1, c->id);
    if (!e)
        e = wk_stmt_bind_i64(st, 2, c->sess.user.company_id);
    if (!e)
        e = wk_stmt_step(st, &row, &d);
    if (!e && row) {
        size_t n;
        snprintf(login, cap, "%s", wk_stmt_text(st, 0, &n));
    }
    wk_stmt_reset(st);
    if (e) {
        wk_web_internal(c, &d);
        return false;
    }
    if (!row)
        wk_web_fail(c, 404, "not_found", NULL, "no such user");
    return row;
}

static void adm__op_user_add(wk_web_call *c, const wk_serve_env *env)
{
    adm_in *in = c->arg;
    if (!wk_web_role(c, WK_WEB_ADMIN, "company admin"))
        return;
    if (in->role == WK_ROLE_RESIDENT && !wk_web_account_visible(c, env, in->account_id, NULL)) {
        c->field = "account_id";
        return;
    }
    for (size_t i = 0; i < in->n_communities; i++)
        if (!wk_web_community_visible(c, env, in->communities[i])) {
            c->field = "communities";
            return;
        }
    wk_diag d = {{0}};
    int64_t id = 0;
    wk_err e = wk_store_begin(env->st, &d);
    if (!e)
        e = wk_auth_user_add_hashed(env->st, in->login, in->hash, in->role,
                                    in->role == WK_ROLE_RESIDENT ? 0 : c->sess.user.company_id,
                                    in->role == WK_ROLE_RESIDENT ? in->account_id : 0,
                                    env->now_ms / 1000, &id, &d);
    for (size_t i = 0; !e && i < in->n_communities; i++) {
        int64_t v[2] = {id, in->communities[i]};
        e = wk_store_run_i64(env->st, "INSERT OR IGNORE INTO staff_community (user_id, community_id) VALUES (?, ?)",
                             v, 2, &d);
    }
    char after[160];
    snprintf(after, sizeof after, "{\"login\":\"%s\",\"role\":\"%s\",\"account_id\":%lld}", in->login,
             wk_role_name(in->role), (long long)in->account_id);
    if (!e)
        e = wk_auth_audit(env->st, &c->sess.user, "user_add", "user", id,
                          adm__reason(in, "new login"), "{}", after, env->now_ms, &d);
    if ((e = adm__end(env, e, &d))) {
        if (e == WK_EEXIST)
            wk_web_fail(c, 409, "conflict", "login", d.msg);
        else if (e == WK_EINVAL)
            wk_web_fail(c, 400, "invalid", NULL, d.msg);
        else
            wk_web_internal(c, &d);
        return;
    }
    c->status = 201;
    c->id = id;
    adm__op_users(c, env);
    if (c->status == 200)
        c->status = 201;
}

/* Reads "communities": an array of at most ADM_COMMUNITIES_MAX distinct positive ids. */
static bool adm__read_communities(json_t *j, adm_in *in, wk_http_resp *resp, int *rc)
{
    json_t *a = json_object_get(j, "communities");
    if (!a)
        return true;
    size_t i;
    json_t *v;
    if (!json_is_array(a) || json_array_size(a) > ADM_COMMUNITIES_MAX) {
        *rc = wk_web_err(resp, 400, "invalid", "expected an array of at most 64 community ids",
                         "communities");
        return false;
    }
    json_array_foreach(a, i, v)
    {
        if (!json_is_integer(v) || json_integer_value(v) <= 0) {
            *rc = wk_web_err(resp, 400, "invalid", "expected community ids (positive integers)",
                             "communities");
            return false;
        }
        for (size_t k = 0; k < in->n_communities; k++)
            if (in->communities[k] == json_integer_value(v)) {
                *rc = wk_web_err(resp, 400, "invalid", "a community is listed twice", "communities");
                return false;
            }
        in->communities[in->n_communities++] = json_integer_value(v);
    }
    in->set_communities = true;
    return true;
}

static bool adm__read_reason(json_t *j, adm_in *in, wk_http_resp *resp, int *rc)
{
    if (!json_object_get(j, "reason"))
        return true;
    return (in->reason = wk_web_str(j, "reason", 255, resp, rc)) != NULL;
}

/* POST /api/v1/users {"login", "password", "role", "account_id" (residents),
 * "communities" (staff, optional), "reason" (optional)} */
static int adm__users_post(wk_http_req *req, wk_http_resp *resp, void *ctx)
{
    (void)ctx;
    int rc = 0;
    json_t *j = wk_web_json_body(req, resp, &rc);
    if (!j)
        return rc;
    static const char *const keys[] = {"login", "password", "role", "account_id", "communities",
                                       "reason", NULL};
    adm_in in = {0};
    wk_web_call c;
    wk_web_call_init(&c, req, true);
    const char *password, *role;
    wk_diag d = {{0}};
    json_t *acct = json_object_get(j, "account_id");
    if (!wk_web_only(j, keys, resp, &rc) || !(in.login = wk_web_str(j, "login", 64, resp, &rc)) ||
        !(password = wk_web_str(j, "password", 128, resp, &rc)) ||
        !(role = wk_web_str(j, "role", 16, resp, &rc)) || !adm__read_communities(j, &in, resp, &rc) ||
        !adm__read_reason(j, &in, resp, &rc))
        goto out;
    if (!wk_auth_login_valid(in.login)) {
        rc = wk_web_err(resp, 400, "invalid", "expected 3..64 of a-z, 0-9, '.', '_' or '-'", "login");
        goto out;
    }
    if (wk_role_parse(role, &in.role, &d)) {
        rc = wk_web_err(resp, 400, "invalid", "expected admin, finance, service, technician or resident", "role");
        goto out;
    }
    if (in.role == WK_ROLE_RESIDENT) {
        if (!json_is_integer(acct) || json_integer_value(acct) <= 0) {
            rc = wk_web_err(resp, 400, "invalid", "a resident needs the id of their account", "account_id");
            goto out;
        }
        if (in.set_communities) {
            rc = wk_web_err(resp, 400, "invalid", "residents have no community list", "communities");
            goto out;
        }
        in.account_id = json_integer_value(acct);
    } else if (acct) {
        rc = wk_web_err(resp, 400, "invalid", "only residents are bound to an account", "account_id");
        goto out;
    }
    if (wk_auth_hash_password(NULL, password, in.hash, &d)) { /* here, not on the main loop */
        rc = wk_web_err(resp, 400, "invalid", "expected 10..128 bytes", "password");
        goto out;
    }
    c.arg = &in;
    c.op = adm__op_user_add;
    rc = wk_web_run(&c, resp);
out:
    json_decref(j);
    return rc;
}

static void adm__op_user_action(wk_web_call *c, const wk_serve_env *env)
{
    adm_in *in = c->arg;
    if (!wk_web_role(c, WK_WEB_ADMIN, "company admin"))
        return;
    char login[65];
    if (!adm__target_staff(c, env, login, sizeof login))
        return;
    wk_diag d = {{0}};
    json_t *before_j = NULL;
    char *before = NULL, after[64 + ADM_COMMUNITIES_MAX * 21];
    const char *action;
    if (in->set_communities) {
        for (size_t i = 0; i < in->n_communities; i++)
            if (!wk_web_community_visible(c, env, in->communities[i])) {
                c->field = "communities";
                return;
            }
        if (!(before_j = adm__communities(c, env, c->id)))
            return;
        before = json_dumps(before_j, JSON_COMPACT | JSON_ENCODE_ANY);
        json_decref(before_j);
        size_t at = (size_t)snprintf(after, sizeof after, "%s", in->n_communities ? "[" : "null");
        for (size_t i = 0; i < in->n_communities; i++)
            at += (size_t)snprintf(after + at, sizeof after - at, "%s%lld", i ? "," : "",
                                   (long long)in->communities[i]);
        if (in->n_communities)
            snprintf(after + at, sizeof after - at, "]");
        action = "user_communities";
    } else {
        before = strdup("{\"locked\":true}");
        snprintf(after, sizeof after, "{\"locked\":false}");
        action = "user_unlock";
    }
    if (!before) {
        wk_web_fail(c, 500, "internal", NULL, "out of memory");
        return;
    }
    int64_t v[1] = {c->id};
    wk_err e = wk_store_begin(env->st, &d);
    if (!e && in->set_communities) {
        e = wk_store_run_i64(env->st, "DELETE FROM staff_community WHERE user_id = ?", v, 1, &d);
        for (size_t i = 0; !e && i < in->n_communities; i++) {
            int64_t w[2] = {c->id, in->communities[i]};
            e = wk_store_run_i64(env->st, "INSERT INTO staff_community (user_id, community_id) VALUES (?, ?)",
                                 w, 2, &d);
        }
    } else if (!e)
        e = wk_store_run_i64(env->st, "UPDATE app_user SET failed = 0, locked_until_s = 0 WHERE id = ?",
                             v, 1, &d);
    if (!e)
        e = wk_auth_audit(env->st, &c->sess.user, action, "user", c->id,
                          adm__reason(in, in->set_communities ? "community assignment" : "unlock"),
                          before, after, env->now_ms, &d);
    free(before);
    if ((e = adm__end(env, e, &d))) {
        wk_web_internal(c, &d);
        return;
    }
    adm__op_users(c, env);
}

/* POST /api/v1/users/{id}/communities {"communities": [ids], "reason"?} and
 * POST /api/v1/users/{id}/unlock {"reason"?} */
static int adm__users_action(wk_http_req *req, wk_http_resp *resp, void *ctx)
{
    (void)ctx;
    wk_web_call c;
    wk_web_call_init(&c, req, true);
    const char *action = wk_web_path_action(req, &c.id);
    if (!action || (strcmp(action, "communities") && strcmp(action, "unlock")))
        return wk_web_err(resp, 404, "not_found", "no such route", NULL);
    bool comm = !strcmp(action, "communities");
    int rc = 0;
    json_t *j = wk_web_json_body(req, resp, &rc);
    if (!j)
        return rc;
    static const char *const kc[] = {"communities", "reason", NULL};
    static const char *const ku[] = {"reason", NULL};
    adm_in in = {0};
    if (wk_web_only(j, comm ? kc : ku, resp, &rc) && adm__read_reason(j, &in, resp, &rc)) {
        if (comm && !json_is_array(json_object_get(j, "communities")))
            rc = wk_web_err(resp, 400, "invalid", "expected an array of community ids ([] = all)",
                            "communities");
        else if (!comm || adm__read_communities(j, &in, resp, &rc)) {
            in.set_communities = comm;
            c.arg = &in;
            c.op = adm__op_user_action;
            rc = wk_web_run(&c, resp);
        }
    }
    json_decref(j);
    return rc;
}

/* ---- API tokens ---- */

static void adm__op_tokens(wk_web_call *c, const wk_serve_env *env)
{
    if (!wk_web_role(c, WK_WEB_ANY_STAFF, "staff"))
        return;
    bool admin = c->sess.user.role == WK_ROLE_ADMIN;
    wk_diag d = {{0}};
    wk_stmt *st;
    if (wk_store_prepare(env->st,
                         "SELECT t.id, t.name, t.user_id, u.login, t.created_s, t.expires_s, t.revoked_s"
                         " FROM api_token t JOIN app_user u ON u.id = t.user_id"
                         " WHERE (t.user_id = ?1 OR (?2 AND u.company_id = ?3))"
                         " AND (?4 IS NULL OR t.id = ?4) ORDER BY t.id DESC LIMIT 200",
                         &st, &d)) {
        wk_web_internal(c, &d);
        return;
    }
    json_t *items = json_array();
    bool row = false;
    wk_err e = wk_stmt_bind_i64(st, 1, c->sess.user.id);
    if (!e)
        e = wk_stmt_bind_i64(st, 2, admin);
    if (!e)
        e = wk_stmt_bind_i64(st, 3, c->sess.user.company_id);
    if (!e)
        e = c->id ? wk_stmt_bind_i64(st, 4, c->id) : wk_stmt_bind_null(st, 4);
    int64_t now_s = env->now_ms / 1000;
    while (items && !e && !(e = wk_stmt_step(st, &row, &d)) && row) {
        size_t n1, n2;
        const char *name = wk_stmt_text(st, 1, &n1), *login = wk_stmt_text(st, 3, &n2);
        bool revoked = !wk_stmt_is_null(st, 6);
        json_t *t = json_pack("{s:I, s:s%, s:I, s:s%, s:I, s:I, s:o, s:b}", "id",
                              (json_int_t)wk_stmt_i64(st, 0), "name", name, n1, "user_id",
                              (json_int_t)wk_stmt_i64(st, 2), "login", login, n2, "created_s",
                              (json_int_t)wk_stmt_i64(st, 4), "expires_s", (json_int_t)wk_stmt_i64(st, 5),
                              "revoked_s", revoked ? json_integer(wk_stmt_i64(st, 6)) : json_null(),
                              "active", !revoked && wk_stmt_i64(st, 5) > now_s);
        if (!t || json_array_append_new(items, t))
            e = WK_ENOMEM;
    }
    wk_stmt_reset(st);
    if (e || !items) {
        json_decref(items);
        wk_web_internal(c, &d);
        return;
    }
    if (c->id) {
        if (json_array_size(items) == 0)
            wk_web_fail(c, 404, "not_found", NULL, "no such token");
        else
            c->body = json_incref(json_array_get(items, 0));
        json_decref(items);
        return;
    }
    c->body = json_pack("{s:o}", "items", items);
}

static int adm__tokens_get(wk_http_req *req, wk_http_resp *resp, void *ctx)
{
    (void)ctx;
    wk_web_call c;
    wk_web_call_init(&c, req, true);
    c.op = adm__op_tokens;
    return wk_web_run(&c, resp);
}

static bool adm__session_only(wk_web_call *c)
{
    if (c->via_token)
        wk_web_fail(c, 403, "forbidden", NULL, "API tokens are managed from a logged-in session");
    return !c->via_token;
}

static void adm__op_token_add(wk_web_call *c, const wk_serve_env *env)
{
    adm_in *in = c->arg;
    if (!wk_web_role(c, WK_WEB_ANY_STAFF, "staff") || !adm__session_only(c))
        return;
    wk_diag d = {{0}};
    char tok[WK_API_TOKEN_LEN + 1], after[160];
    int64_t id = 0;
    wk_err e = wk_store_begin(env->st, &d);
    if (!e)
        e = wk_auth_token_create(env->st, c->sess.user.id, in->name, in->ttl_days * 86400,
                                 env->now_ms / 1000, tok, &id, &d);
    json_t *name = json_string(in->name);
    char *qname = name ? json_dumps(name, JSON_ENCODE_ANY) : NULL;
    json_decref(name);
    snprintf(after, sizeof after, "{\"name\":%s,\"ttl_days\":%lld}", qname ? qname : "null",
             (long long)in->ttl_days);
    free(qname);
    if (!e)
        e = wk_auth_audit(env->st, &c->sess.user, "token_add", "api_token", id,
                          adm__reason(in, "API token for an integration"), "{}", after, env->now_ms, &d);
    if ((e = adm__end(env, e, &d))) {
        if (e == WK_EINVAL)
            wk_web_fail(c, 400, "invalid", NULL, d.msg);
        else
            wk_web_internal(c, &d);
        return;
    }
    c->id = id;
    adm__op_tokens(c, env);
    if (c->status == 200 && c->body) {
        c->status = 201;
        json_object_set_new(c->body, "token", json_string(tok));
    }
    memset(tok, 0, sizeof tok);
}

/* POST /api/v1/tokens {"name", "ttl_days" (1..366, default 90), "reason"?} */
static int adm__tokens_post(wk_http_req *req, wk_http_resp *resp, void *ctx)
{
    (void)ctx;
    int rc = 0;
    json_t *j = wk_web_json_body(req, resp, &rc);
    if (!j)
        return rc;
    static const char *const keys[] = {"name", "ttl_days", "reason", NULL};
    adm_in in = {.ttl_days = 90};
    json_t *ttl = json_object_get(j, "ttl_days");
    wk_web_call c;
    wk_web_call_init(&c, req, true);
    if (wk_web_only(j, keys, resp, &rc) && (in.name = wk_web_str(j, "name", 64, resp, &rc)) &&
        adm__read_reason(j, &in, resp, &rc)) {
        if (ttl && (!json_is_integer(ttl) || json_integer_value(ttl) < 1 || json_integer_value(ttl) > 366))
            rc = wk_web_err(resp, 400, "invalid", "expected an integer 1..366", "ttl_days");
        else {
            if (ttl)
                in.ttl_days = json_integer_value(ttl);
            c.arg = &in;
            c.op = adm__op_token_add;
            rc = wk_web_run(&c, resp);
        }
    }
    json_decref(j);
    return rc;
}

static void adm__op_token_revoke(wk_web_call *c, const wk_serve_env *env)
{
    adm_in *in = c->arg;
    if (!wk_web_role(c, WK_WEB_ANY_STAFF, "staff") || !adm__session_only(c))
        return;
    adm__op_tokens(c, env); /* 404 unless one's own, or the company's for admins */
    if (c->status != 200)
        return;
    bool active = json_is_null(json_object_get(c->body, "revoked_s"));
    json_decref(c->body);
    c->body = NULL;
    if (!active) {
        wk_web_fail(c, 409, "conflict", NULL, "the token is already revoked");
        return;
    }
    wk_diag d = {{0}};
    int64_t v[2] = {env->now_ms / 1000, c->id};
    wk_err e = wk_store_begin(env->st, &d);
    if (!e)
        e = wk_store_run_i64(env->st, "UPDATE api_token SET revoked_s = ? WHERE id = ? AND revoked_s IS NULL",
                             v, 2, &d);
    if (!e)
        e = wk_auth_audit(env->st, &c->sess.user, "token_revoke", "api_token", c->id,
                          adm__reason(in, "revoked"), "{\"revoked\":false}", "{\"revoked\":true}",
                          env->now_ms, &d);
    if ((e = adm__end(env, e, &d))) {
        wk_web_internal(c, &d);
        return;
    }
    adm__op_tokens(c, env);
}

/* POST /api/v1/tokens/{id}/revoke {"reason"?} */
static int adm__tokens_action(wk_http_req *req, wk_http_resp *resp, void *ctx)
{
    (void)ctx;
    wk_web_call c;
    wk_web_call_init(&c, req, true);
    const char *action = wk_web_path_action(req, &c.id);
    if (!action || strcmp(action, "revoke"))
        return wk_web_err(resp, 404, "not_found", "no such route", NULL);
    int rc = 0;
    json_t *j = wk_web_json_body(req, resp, &rc);
    if (!j)
        return rc;
    static const char *const keys[] = {"reason", NULL};
    adm_in in = {0};
    if (wk_web_only(j, keys, resp, &rc) && adm__read_reason(j, &in, resp, &rc)) {
        c.arg = &in;
        c.op = adm__op_token_revoke;
        rc = wk_web_run(&c, resp);
    }
    json_decref(j);
    return rc;
}

const wk_http_route wk_web_admin_routes[] = {
    {"GET", "/api/v1/users", adm__users_get, NULL, 0, "users"},
    {"GET", "/api/v1/users/*", adm__users_get, NULL, 0, "user"},
    {"POST", "/api/v1/users", adm__users_post, NULL, ADM_BODY_MAX, "user_add"},
    {"POST", "/api/v1/users/*", adm__users_action, NULL, ADM_BODY_MAX, "user_action"},
    {"GET", "/api/v1/tokens", adm__tokens_get, NULL, 0, "tokens"},
    {"POST", "/api/v1/tokens", adm__tokens_post, NULL, ADM_BODY_MAX, "token_add"},
    {"POST", "/api/v1/tokens/*", adm__tokens_action, NULL, ADM_BODY_MAX, "token_revoke"},
};
const size_t wk_web_admin_nroutes = sizeof wk_web_admin_routes / sizeof wk_web_admin_routes[0];
