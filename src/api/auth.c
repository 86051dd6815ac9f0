/*
 * auth.c - logins, sessions and lock-out (see auth.h). Hashing by libsodium's
 * crypto_pwhash_str (argon2id); tokens from OpenSSL's RAND_bytes, stored as SHA-256.
 */
#include "api/auth.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "proto/encoding.h"

static const char v1_sqlite[] =
    "CREATE TABLE company ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 128)"
    ") STRICT;"
    "CREATE TABLE app_user ("
    "  id INTEGER PRIMARY KEY,"
    "  login TEXT NOT NULL UNIQUE,"
    "  pass_hash TEXT NOT NULL CHECK (pass_hash LIKE '$argon2id$%'),"
    "  role TEXT NOT NULL CHECK (role IN ('admin','finance','service','technician','resident')),"
    "  company_id INTEGER REFERENCES company(id),"
    "  account_id INTEGER,"
    "  failed INTEGER NOT NULL DEFAULT 0,"
    "  locked_until_s INTEGER NOT NULL DEFAULT 0,"
    "  created_s INTEGER NOT NULL,"
    "  CHECK ((role = 'resident') = (account_id IS NOT NULL)),"
    "  CHECK (role = 'resident' OR company_id IS NOT NULL)"
    ") STRICT;"
    "CREATE TABLE app_session ("
    "  token_sha256 BLOB PRIMARY KEY CHECK (length(token_sha256) = 32),"
    "  user_id INTEGER NOT NULL REFERENCES app_user(id),"
    "  csrf TEXT NOT NULL,"
    "  created_s INTEGER NOT NULL,"
    "  expires_s INTEGER NOT NULL"
    ") STRICT;"
    "CREATE INDEX app_session_user ON app_session (user_id);";

/* v2: the audit log of staff actions: who (user id and login at the time), what (action,
 * object), when, why, and the object's state before and after as JSON. Append-only. */
static const char v2_sqlite[] =
    "CREATE TABLE audit ("
    "  id INTEGER PRIMARY KEY,"
    "  time_ms INTEGER NOT NULL,"
    "  user_id INTEGER NOT NULL REFERENCES app_user(id),"
    "  login TEXT NOT NULL,"
    "  company_id INTEGER REFERENCES company(id),"
    "  action TEXT NOT NULL CHECK (length(action) BETWEEN 1 AND 64),"
    "  object TEXT NOT NULL CHECK (length(object) BETWEEN 1 AND 64),"
    "  object_id INTEGER NOT NULL,"
    "  reason TEXT NOT NULL CHECK (length(reason) BETWEEN 1 AND 255),"
    "  before TEXT NOT NULL," /* JSON written by the caller (no json_valid(): SQLite */
    "  after TEXT NOT NULL"   /* refuses it in a CHECK with trusted_schema off) */
    ") STRICT;"
    "CREATE INDEX audit_company ON audit (company_id, id);"
    "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
    " BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
    "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
    " BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;";

/* v3: staff restricted to some of their company's communities (no rows = all of them),
 * and API tokens for integrations (stored as SHA-256; revoked tokens stay for the record). */
static const char v3_sqlite[] =
    "CREATE TABLE staff_community ("
    "  user_id INTEGER NOT NULL REFERENCES app_user(id),"
    "  community_id INTEGER NOT NULL,"
    "  PRIMARY KEY (user_id, community_id)"
    ") STRICT, WITHOUT ROWID;"
    "CREATE TABLE api_token ("
    "  id INTEGER PRIMARY KEY,"
    "  user_id INTEGER NOT NULL REFERENCES app_user(id),"
    "  name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 64),"
    "  token_sha256 BLOB NOT NULL UNIQUE CHECK (length(token_sha256) = 32),"
    "  created_s INTEGER NOT NULL,"
    "  expires_s INTEGER NOT NULL,"
    "  revoked_s INTEGER"
    ") STRICT;"
    "CREATE INDEX api_token_user ON api_token (user_id);";

static const wk_migration migrations[] = {{1, "companies, users, sessions", v1_sqlite, NULL},
                                          {2, "audit log", v2_sqlite, NULL},
                                          {3, "community assignment, API tokens", v3_sqlite, NULL}};
const wk_schema wk_auth_schema = {"auth", migrations, sizeof migrations / sizeof migrations[0]};

static const char *const role_names[] = {NULL, "admin", "finance", "service", "technician",
                                         "resident"};

const char *wk_role_name(wk_role r)
{
    return r >= WK_ROLE_ADMIN && r <= WK_ROLE_RESIDENT ? role_names[r] : "?";
}

wk_err wk_role_parse(const char *s, wk_role *out, wk_diag *d)
{
    for (int r = WK_ROLE_ADMIN; r <= WK_ROLE_RESIDENT; r++)
        if (!strcmp(s, role_names[r])) {
            *out = (wk_role)r;
            return WK_OK;
        }
    return wk_diag_set(d, WK_EINVAL,
                       "role \"%s\": expected admin, finance, service, technician or resident", s);
}

static void auth__defaults(const wk_auth_opts *in, wk_auth_opts *o)
{
    *o = in ? *in : (wk_auth_opts){0};
    if (!o->opslimit)
        o->opslimit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
    if (!o->memlimit)
        o->memlimit = crypto_pwhash_MEMLIMIT_INTERACTIVE;
    if (o->lock_after <= 0)
        o->lock_after = 5;
    if (o->lock_s <= 0)
        o->lock_s = 900;
    if (o->session_s <= 0)
        o->session_s = 8 * 3600;
}

static wk_err auth__hash(const wk_auth_opts *o, const char *password,
                         char out[crypto_pwhash_STRBYTES], wk_diag *d)
{
    if (sodium_init() < 0)
        return wk_diag_set(d, WK_ECRYPTO, "libsodium failed to initialise");
    if (crypto_pwhash_str_alg(out, password, strlen(password), o->opslimit, o->memlimit,
                              crypto_pwhash_ALG_ARGON2ID13) != 0)
        return wk_diag_set(d, WK_ENOMEM, "password hashing ran out of memory");
    return WK_OK;
}

static bool auth__login_ok(const char *login)
{
    size_t n = strlen(login);
    if (n < 3 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = login[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

wk_err wk_auth_company_add(wk_store *st, const char *name, int64_t *id, wk_diag *d)
{
    wk_stmt *s;
    bool row = false;
    wk_err e = wk_store_prepare(st, "INSERT INTO company (name) VALUES (?) ON CONFLICT DO NOTHING",
                                &s, d);
    if (!e && !(e = wk_stmt_bind_text(s, 1, name, strlen(name))))
        e = wk_stmt_step(s, &row, d);
    wk_stmt_reset(s);
    if (e || (e = wk_store_prepare(st, "SELECT id FROM company WHERE name = ?", &s, d)))
        return e;
    if (!(e = wk_stmt_bind_text(s, 1, name, strlen(name))) && !(e = wk_stmt_step(s, &row, d)))
        *id = row ? wk_stmt_i64(s, 0) : 0;
    wk_stmt_reset(s);
    return e;
}

bool wk_auth_login_valid(const char *login)
{
    return auth__login_ok(login);
}

wk_err wk_auth_hash_password(const wk_auth_opts *oin, const char *password,
                             char out[WK_AUTH_HASH_MAX], wk_diag *d)
{
    wk_auth_opts o;
    auth__defaults(oin, &o);
    size_t pl = strlen(password);
    if (pl < 10 || pl > 128)
        return wk_diag_set(d, WK_EINVAL, "password: expected 10..128 bytes");
    return auth__hash(&o, password, out, d);
}

wk_err wk_auth_user_add_hashed(wk_store *st, const char *login, const char *hash, wk_role role,
                               int64_t company_id, int64_t account_id, int64_t now_s,
                               int64_t *id, wk_diag *d)
{
    if (!auth__login_ok(login))
        return wk_diag_set(d, WK_EINVAL, "login: expected 3..64 of a-z, 0-9, '.', '_' or '-'");
    if (role == WK_ROLE_RESIDENT ? account_id <= 0 : company_id <= 0)
        return wk_diag_set(d, WK_EINVAL, role == WK_ROLE_RESIDENT
                                             ? "account: a resident is bound to one account"
                                             : "company: staff belong to a company");
    wk_stmt *s;
    wk_err e;
    if ((e = wk_store_prepare(st,
                              "INSERT INTO app_user (login, pass_hash, role, company_id, account_id,"
                              " created_s) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                              &s, d)))
        return e;
    bool row = false;
    const char *rn = wk_role_name(role);
    if (!(e = wk_stmt_bind_text(s, 1, login, strlen(login))) &&
        !(e = wk_stmt_bind_text(s, 2, hash, strlen(hash))) &&
        !(e = wk_stmt_bind_text(s, 3, rn, strlen(rn))) &&
        !(e = company_id > 0 ? wk_stmt_bind_i64(s, 4, company_id) : wk_stmt_bind_null(s, 4)) &&
        !(e = account_id > 0 ? wk_stmt_bind_i64(s, 5, account_id) : wk_stmt_bind_null(s, 5)) &&
        !(e = wk_stmt_bind_i64(s, 6, now_s)))
        e = wk_stmt_step(s, &row, d);
    if (!e && id)
        *id = wk_stmt_i64(s, 0);
    wk_stmt_reset(s);
    if (e == WK_EEXIST)
        wk_diag_set(d, e, "login \"%s\" is taken", login);
    return e;
}

wk_err wk_auth_user_add(wk_store *st, const wk_auth_opts *o, const char *login,
                        const char *password, wk_role role, int64_t company_id,
                        int64_t account_id, int64_t now_s, int64_t *id, wk_diag *d)
{
    if (!auth__login_ok(login))
        return wk_diag_set(d, WK_EINVAL, "login: expected 3..64 of a-z, 0-9, '.', '_' or '-'");
    char hash[WK_AUTH_HASH_MAX];
    wk_err e = wk_auth_hash_password(o, password, hash, d);
    if (!e)
        e = wk_auth_user_add_hashed(st, login, hash, role, company_id, account_id, now_s, id, d);
    return e;
}

static void auth__sha256(const char *token, uint8_t out[32])
{
    unsigned int n = 0;
    EVP_Digest(token, strlen(token), out, &n, EVP_sha256(), NULL);
}

static wk_err auth__random_hex(char out[WK_TOKEN_HEX + 1], wk_diag *d)
{
    uint8_t raw[32];
    if (RAND_bytes(raw, sizeof raw) != 1)
        return wk_diag_set(d, WK_ECRYPTO, "no randomness");
    wk_hex_encode(raw, sizeof raw, out, WK_TOKEN_HEX + 1);
    return WK_OK;
}

static void auth__user_row(wk_stmt *s, int first, wk_user *u)
{
    size_t n;
    memset(u, 0, sizeof *u);
    u->id = wk_stmt_i64(s, first);
    snprintf(u->login, sizeof u->login, "%s", wk_stmt_text(s, first + 1, &n));
    wk_diag d;
    if (wk_role_parse(wk_stmt_text(s, first + 2, &n), &u->role, &d))
        u->role = WK_ROLE_RESIDENT; /* the CHECK constraint makes this unreachable */
    u->company_id = wk_stmt_is_null(s, first + 3) ? 0 : wk_stmt_i64(s, first + 3);
    u->account_id = wk_stmt_is_null(s, first + 4) ? 0 : wk_stmt_i64(s, first + 4);
}

static char auth__dummy[crypto_pwhash_STRBYTES];
static wk_auth_opts auth__dummy_opts;
static void auth__dummy_init(void)
{
    wk_diag d;
    if (auth__hash(&auth__dummy_opts, "not a real password", auth__dummy, &d))
        auth__dummy[0] = '\0';
}

wk_err wk_auth_login_begin(wk_store *st, const char *login, wk_auth_pending *p, wk_diag *d)
{
    memset(p, 0, sizeof *p);
    wk_stmt *s;
    wk_err e = wk_store_prepare(st,
                                "SELECT id, login, role, company_id, account_id, pass_hash"
                                " FROM app_user WHERE login = ?",
                                &s, d);
    if (e)
        return e;
    bool row = false;
    if (!(e = wk_stmt_bind_text(s, 1, login, strlen(login))))
        e = wk_stmt_step(s, &row, d);
    if (!e && row) {
        auth__user_row(s, 0, &p->user);
        size_t n;
        const char *h = wk_stmt_text(s, 5, &n);
        snprintf(p->hash, sizeof p->hash, "%.*s", (int)n, h);
        p->found = true;
    }
    wk_stmt_reset(s);
    return e;
}

bool wk_auth_login_check(const wk_auth_opts *oin, const wk_auth_pending *p, const char *password)
{
    wk_auth_opts o;
    auth__defaults(oin, &o);
    /* a fixed hash of the same cost, checked when the login is unknown (timing) */
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    if (!auth__dummy[0])
        auth__dummy_opts = o; /* before the once: the first caller's cost */
    pthread_once(&once, auth__dummy_init);
    const char *h = p->found ? p->hash : auth__dummy;
    if (!h[0])
        return false;
    return crypto_pwhash_str_verify(h, password, strlen(password)) == 0 && p->found;
}

wk_err wk_auth_login_finish(wk_store *st, const wk_auth_opts *oin, const wk_auth_pending *p,
                            bool good, int64_t now_s, wk_session *out, wk_diag *d)
{
    wk_auth_opts o;
    auth__defaults(oin, &o);
    if (!p->found)
        return wk_diag_set(d, WK_ECRYPTO, "wrong login or password");
    wk_err e = wk_store_begin(st, d);
    if (e)
        return e;
    wk_stmt *s;
    /* the lock-out state now (another attempt may have run while the hash was checked),
     * and the same hash (a password changed meanwhile invalidates this check) */
    if ((e = wk_store_prepare(st, "SELECT failed, locked_until_s, pass_hash FROM app_user WHERE id = ?",
                              &s, d)))
        goto fail;
    bool row = false;
    int64_t failed = 0, locked_until = 0;
    bool same_hash = false;
    if (!(e = wk_stmt_bind_i64(s, 1, p->user.id)) && !(e = wk_stmt_step(s, &row, d)) && row) {
        failed = wk_stmt_i64(s, 0);
        locked_until = wk_stmt_i64(s, 1);
        size_t n;
        const char *h = wk_stmt_text(s, 2, &n);
        same_hash = n == strlen(p->hash) && !memcmp(h, p->hash, n);
    }
    wk_stmt_reset(s);
    if (e)
        goto fail;
    if (!row) {
        e = wk_diag_set(d, WK_ECRYPTO, "wrong login or password");
        goto fail;
    }
    if (locked_until > now_s) {
        e = wk_diag_set(d, WK_ECONFLICT, "too many failed logins: locked for %lld more seconds",
                        (long long)(locked_until - now_s));
        goto fail; /* commit nothing new, report the lock */
    }
    if (!good || !same_hash) {
        failed++;
        int64_t v[3] = {failed >= o.lock_after ? 0 : failed,
                        failed >= o.lock_after ? now_s + o.lock_s : 0, p->user.id};
        if ((e = wk_store_run_i64(st, "UPDATE app_user SET failed = ?, locked_until_s = ? WHERE id = ?",
                                  v, 3, d)))
            goto fail;
        if ((e = wk_store_commit(st, d)))
            return e;
        return wk_diag_set(d, WK_ECRYPTO, "wrong login or password");
    }
    /* success: a brand-new server-chosen session */
    memset(out, 0, sizeof *out);
    out->user = p->user;
    out->expires_s = now_s + o.session_s;
    if ((e = auth__random_hex(out->token, d)) || (e = auth__random_hex(out->csrf, d)))
        goto fail;
    uint8_t th[32];
    auth__sha256(out->token, th);
    if ((e = wk_store_prepare(st,
                              "INSERT INTO app_session (token_sha256, user_id, csrf, created_s,"
                              " expires_s) VALUES (?, ?, ?, ?, ?)",
                              &s, d)))
        goto fail;
    if (!(e = wk_stmt_bind_blob(s, 1, th, 32)) && !(e = wk_stmt_bind_i64(s, 2, p->user.id)) &&
        !(e = wk_stmt_bind_text(s, 3, out->csrf, WK_TOKEN_HEX)) &&
        !(e = wk_stmt_bind_i64(s, 4, now_s)) && !(e = wk_stmt_bind_i64(s, 5, out->expires_s)))
        e = wk_stmt_step(s, &row, d);
    wk_stmt_reset(s);
    int64_t v[2] = {p->user.id, now_s};
    if (!e)
        e = wk_store_run_i64(st, "UPDATE app_user SET failed = 0 WHERE id = ?", v, 1, d);
    if (!e) /* expired sessions of this user are removed on login */
        e = wk_store_run_i64(st, "DELETE FROM app_session WHERE user_id = ? AND expires_s <= ?", v, 2, d);
    if (e)
        goto fail;
    return wk_store_commit(st, d);
fail:
    wk_store_rollback(st);
    return e;
}

wk_err wk_auth_login(wk_store *st, const wk_auth_opts *o, const char *login,
                     const char *password, int64_t now_s, wk_session *out, wk_diag *d)
{
    wk_auth_pending p;
    wk_err e = wk_auth_login_begin(st, login, &p, d);
    if (e)
        return e;
    bool good = wk_auth_login_check(o, &p, password);
    e = wk_auth_login_finish(st, o, &p, good, now_s, out, d);
    sodium_memzero(&p, sizeof p);
    return e;
}

/* The user behind a bearer secret (session or API token), by its SHA-256: sql selects
 * user id, login, role, company, account, expires_s, assigned, csrf for one `?` (the hash).
 * *found: a row that has not expired (then *out is set, without the token). */
static wk_err auth__lookup(wk_store *st, const char *sql, const char *token, int64_t now_s,
                           wk_session *out, bool *found, wk_diag *d)
{
    uint8_t th[32];
    auth__sha256(token, th);
    wk_stmt *s;
    wk_err e = wk_store_prepare(st, sql, &s, d);
    if (e)
        return e;
    bool row = false;
    if (!(e = wk_stmt_bind_blob(s, 1, th, 32)))
        e = wk_stmt_step(s, &row, d);
    *found = !e && row && wk_stmt_i64(s, 5) > now_s;
    if (*found) {
        memset(out, 0, sizeof *out);
        auth__user_row(s, 0, &out->user);
        out->expires_s = wk_stmt_i64(s, 5);
        out->user.assigned = wk_stmt_i64(s, 6) != 0;
        size_t n;
        snprintf(out->csrf, sizeof out->csrf, "%s", wk_stmt_text(s, 7, &n));
    }
    wk_stmt_reset(s);
    return e;
}

wk_err wk_auth_session(wk_store *st, const char *token, int64_t now_s, wk_session *out, wk_diag *d)
{
    if (!token || strlen(token) != WK_TOKEN_HEX)
        return wk_diag_set(d, WK_ENOTFOUND, "no session");
    bool found = false;
    wk_err e = auth__lookup(st,
                            "SELECT u.id, u.login, u.role, u.company_id, u.account_id, s.expires_s,"
                            " EXISTS (SELECT 1 FROM staff_community x WHERE x.user_id = u.id),"
                            " s.csrf FROM app_session s JOIN app_user u ON u.id = s.user_id"
                            " WHERE s.token_sha256 = ?",
                            token, now_s, out, &found, d);
    if (!e && !found)
        e = wk_diag_set(d, WK_ENOTFOUND, "no session (unknown or expired)");
    if (!e)
        snprintf(out->token, sizeof out->token, "%s", token);
    return e;
}

bool wk_auth_csrf_ok(const wk_session *s, const char *header)
{
    if (!header || strlen(header) != WK_TOKEN_HEX)
        return false;
    return sodium_memcmp(s->csrf, header, WK_TOKEN_HEX) == 0;
}

wk_err wk_auth_logout(wk_store *st, const char *token, wk_diag *d)
{
    if (!token)
        return WK_OK;
    uint8_t th[32];
    auth__sha256(token, th);
    wk_stmt *s;
    wk_err e = wk_store_begin(st, d);
    if (e || (e = wk_store_prepare(st, "DELETE FROM app_session WHERE token_sha256 = ?", &s, d)))
        goto out;
    bool row;
    if (!(e = wk_stmt_bind_blob(s, 1, th, 32)))
        e = wk_stmt_step(s, &row, d);
    wk_stmt_reset(s);
out:
    if (e) {
        wk_store_rollback(st);
        return e;
    }
    return wk_store_commit(st, d);
}

wk_err wk_auth_user_hash(wk_store *st, int64_t user_id, char out[WK_AUTH_HASH_MAX], wk_diag *d)
{
    wk_stmt *s;
    wk_err e = wk_store_prepare(st, "SELECT pass_hash FROM app_user WHERE id = ?", &s, d);
    if (e)
        return e;
    bool row = false;
    if (!(e = wk_stmt_bind_i64(s, 1, user_id)) && !(e = wk_stmt_step(s, &row, d)) && row) {
        size_t n;
        const char *h = wk_stmt_text(s, 0, &n);
        snprintf(out, WK_AUTH_HASH_MAX, "%.*s", (int)n, h);
    }
    wk_stmt_reset(s);
    if (!e && !row)
        e = wk_diag_set(d, WK_ENOTFOUND, "no such user");
    return e;
}

bool wk_auth_password_check(const char *hash, const char *password)
{
    return crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
}

wk_err wk_auth_password_replace(wk_store *st, int64_t user_id, const char *old_hash,
                                const char *new_hash, wk_diag *d)
{
    wk_err e = wk_store_begin(st, d);
    if (e)
        return e;
    wk_stmt *s;
    bool row = false;
    if ((e = wk_store_prepare(st, "UPDATE app_user SET pass_hash = ? WHERE id = ? AND pass_hash = ?",
                              &s, d)))
        goto fail;
    if (!(e = wk_stmt_bind_text(s, 1, new_hash, strlen(new_hash))) &&
        !(e = wk_stmt_bind_i64(s, 2, user_id)) &&
        !(e = wk_stmt_bind_text(s, 3, old_hash, strlen(old_hash))))
        e = wk_stmt_step(s, &row, d);
    wk_stmt_reset(s);
    if (!e && wk_store_changes(st) != 1)
        e = wk_diag_set(d, WK_ECONFLICT, "the password was changed meanwhile");
    int64_t v[1] = {user_id};
    if (!e) /* every session of the user ends */
        e = wk_store_run_i64(st, "DELETE FROM app_session WHERE user_id = ?", v, 1, d);
    if (e)
        goto fail;
    return wk_store_commit(st, d);
fail:
    wk_store_rollback(st);
    return e;
}

wk_err wk_auth_password_change(wk_store *st, const wk_auth_opts *o, int64_t user_id,
                               const char *old_password, const char *new_password, wk_diag *d)
{
    size_t pl = strlen(new_password);
    if (pl < 10 || pl > 128)
        return wk_diag_set(d, WK_EINVAL, "new_password: expected 10..128 bytes");
    char old_hash[WK_AUTH_HASH_MAX], new_hash[WK_AUTH_HASH_MAX];
    wk_err e = wk_auth_user_hash(st, user_id, old_hash, d);
    if (e == WK_ENOTFOUND || (!e && !wk_auth_password_check(old_hash, old_password)))
        return wk_diag_set(d, WK_ECRYPTO, "old_password: wrong password");
    if (!e)
        e = wk_auth_hash_password(o, new_password, new_hash, d);
    if (!e)
        e = wk_auth_password_replace(st, user_id, old_hash, new_hash, d);
    return e;
}

void wk_limiter_init(wk_limiter *l, uint32_t burst, int64_t refill_ms)
{
    memset(l, 0, sizeof *l);
    l->burst = burst ? burst : 1;
    l->refill_ms = refill_ms > 0 ? refill_ms : 1000;
}

bool wk_limiter_allow(wk_limiter *l, const char *client, int64_t now_ms)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (const char *p = client; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ULL;
    h |= 1; /* 0 marks an empty slot */
    size_t i = (size_t)(h % WK_LIMITER_SLOTS);
    if (l->slot[i].key != h) { /* new client (or an evicted one: a fresh bucket) */
        l->slot[i].key = h;
        l->slot[i].tokens = l->burst;
        l->slot[i].last_ms = now_ms;
    }
    int64_t refill = (now_ms - l->slot[i].last_ms) / l->refill_ms;
    if (refill > 0) {
        uint64_t t = l->slot[i].tokens + (uint64_t)refill;
        l->slot[i].tokens = (uint32_t)(t > l->burst ? l->burst : t);
        l->slot[i].last_ms += refill * l->refill_ms;
    }
    if (l->slot[i].tokens == 0)
        return false;
    l->slot[i].tokens--;
    return true;
}

wk_err wk_auth_audit(wk_store *st, const wk_user *who, const char *action, const char *object,
                     int64_t object_id, const char *reason, const char *before,
                     const char *after, int64_t now_ms, wk_diag *d)
{
    if (!reason || !*reason || strlen(reason) > 255)
        return wk_diag_set(d, WK_EINVAL, "reason: expected 1..255 bytes");
    wk_stmt *s;
    bool row;
    wk_err e = wk_store_prepare(st,
                                "INSERT INTO audit (time_ms, user_id, login, company_id, action,"
                                " object, object_id, reason, before, after)"
                                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                &s, d);
    if (e)
        return e;
    if (!(e = wk_stmt_bind_i64(s, 1, now_ms)) && !(e = wk_stmt_bind_i64(s, 2, who->id)) &&
        !(e = wk_stmt_bind_text(s, 3, who->login, strlen(who->login))) &&
        !(e = who->company_id > 0 ? wk_stmt_bind_i64(s, 4, who->company_id)
                                  : wk_stmt_bind_null(s, 4)) &&
        !(e = wk_stmt_bind_text(s, 5, action, strlen(action))) &&
        !(e = wk_stmt_bind_text(s, 6, object, strlen(object))) &&
        !(e = wk_stmt_bind_i64(s, 7, object_id)) &&
        !(e = wk_stmt_bind_text(s, 8, reason, strlen(reason))) &&
        !(e = wk_stmt_bind_text(s, 9, before, strlen(before))) &&
        !(e = wk_stmt_bind_text(s, 10, after, strlen(after))))
        e = wk_stmt_step(s, &row, d);
    wk_stmt_reset(s);
    return e;
}

/* ---- API tokens ---- */

wk_err wk_auth_token_create(wk_store *st, int64_t user_id, const char *name, int64_t ttl_s,
                            int64_t now_s, char out[WK_API_TOKEN_LEN + 1], int64_t *id,
                            wk_diag *d)
{
    size_t nl = name ? strlen(name) : 0;
    if (nl == 0 || nl > 64)
        return wk_diag_set(d, WK_EINVAL, "name: expected 1..64 bytes");
    if (ttl_s < 3600 || ttl_s > 366 * 86400LL)
        return wk_diag_set(d, WK_EINVAL, "ttl_s: expected 3600..31622400 seconds");
    char hex[WK_TOKEN_HEX + 1];
    wk_err e = auth__random_hex(hex, d);
    if (e)
        return e;
    snprintf(out, WK_API_TOKEN_LEN + 1, "%s%s", WK_API_TOKEN_PREFIX, hex);
    uint8_t th[32];
    auth__sha256(out, th);
    wk_stmt *s;
    if ((e = wk_store_prepare(st,
                              "INSERT INTO api_token (user_id, name, token_sha256, created_s, expires_s)"
                              " VALUES (?, ?, ?, ?, ?) RETURNING id",
                              &s, d)))
        return e;
    bool row = false;
    if (!(e = wk_stmt_bind_i64(s, 1, user_id)) && !(e = wk_stmt_bind_text(s, 2, name, nl)) &&
        !(e = wk_stmt_bind_blob(s, 3, th, 32)) && !(e = wk_stmt_bind_i64(s, 4, now_s)) &&
        !(e = wk_stmt_bind_i64(s, 5, now_s + ttl_s)))
        e = wk_stmt_step(s, &row, d);
    if (!e && row && id)
        *id = wk_stmt_i64(s, 0);
    wk_stmt_reset(s);
    sodium_memzero(hex, sizeof hex);
    return e;
}

wk_err wk_auth_token_session(wk_store *st, const char *token, int64_t now_s, wk_session *out,
                             wk_diag *d)
{
    size_t pl = strlen(WK_API_TOKEN_PREFIX);
    if (!token || strlen(token) != WK_API_TOKEN_LEN || strncmp(token, WK_API_TOKEN_PREFIX, pl))
        return wk_diag_set(d, WK_ENOTFOUND, "no such API token");
    bool found = false;
    wk_err e = auth__lookup(st,
                            "SELECT u.id, u.login, u.role, u.company_id, u.account_id, t.expires_s,"
                            " EXISTS (SELECT 1 FROM staff_community x WHERE x.user_id = u.id),"
                            " '' FROM api_token t JOIN app_user u ON u.id = t.user_id"
                            " WHERE t.token_sha256 = ? AND t.revoked_s IS NULL",
                            token, now_s, out, &found, d);
    if (!e && !found)
        e = wk_diag_set(d, WK_ENOTFOUND, "no such API token (unknown, revoked or expired)");
    return e;
}
