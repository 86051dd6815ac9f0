/*
 * auth.h - people and their sessions: staff and resident logins with argon2id password
 * hashes (libsodium), per-login lock-out after repeated failures, a per-address rate
 * limiter, server-side sessions with a CSRF token, and roles with tenancy (a company owns
 * communities; a resident is bound to one account).
 *
 * Invariants: passwords and session tokens are never stored, only their argon2id hash and
 * their SHA-256; a session id is always chosen by the server and a new one is issued at
 * every login (no session fixation); an unknown login costs the same hash work as a wrong
 * password (no user enumeration by timing). One wk_store per thread, as everywhere.
 */
#ifndef WK_API_AUTH_H
#define WK_API_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "store/store.h"

extern const wk_schema wk_auth_schema;

typedef enum wk_role {
    WK_ROLE_ADMIN = 1, /* company admin */
    WK_ROLE_FINANCE,
    WK_ROLE_SERVICE,
    WK_ROLE_TECHNICIAN,
    WK_ROLE_RESIDENT,
} wk_role;

const char *wk_role_name(wk_role r);
wk_err wk_role_parse(const char *s, wk_role *out, wk_diag *d) WK_MUST_CHECK;

typedef struct wk_auth_opts {
    unsigned long long opslimit; /* argon2id cost; 0 = crypto_pwhash_OPSLIMIT_INTERACTIVE */
    size_t memlimit;             /* 0 = crypto_pwhash_MEMLIMIT_INTERACTIVE */
    int32_t lock_after;          /* failed logins before the lock-out (default 5) */
    int64_t lock_s;              /* lock-out duration (default 900) */
    int64_t session_s;           /* session lifetime (default 8 h) */
} wk_auth_opts;

typedef struct wk_user {
    int64_t id;
    char login[65];
    wk_role role;
    int64_t company_id; /* staff: their company; 0 = none */
    int64_t account_id; /* residents: their account; 0 = none */
    bool assigned;      /* staff: restricted to the communities in staff_community */
} wk_user;

#define WK_TOKEN_HEX 64 /* session tokens and CSRF tokens: 32 random bytes in hex */

typedef struct wk_session {
    char token[WK_TOKEN_HEX + 1]; /* give to the client (cookie); never stored */
    char csrf[WK_TOKEN_HEX + 1];  /* the client echoes it in X-CSRF-Token on state changes */
    int64_t expires_s;
    wk_user user;
} wk_session;

/* Creates a company (idempotent by name); *id receives its id. */
wk_err wk_auth_company_add(wk_store *st, const char *name, int64_t *id, wk_diag *d) WK_MUST_CHECK;

/* Adds a user. login: 3..64 of [a-z0-9._-]; password: 10..128 bytes; staff roles need a
 * company, residents an account. WK_EEXIST for a taken login. */
wk_err wk_auth_user_add(wk_store *st, const wk_auth_opts *o, const char *login,
                        const char *password, wk_role role, int64_t company_id,
                        int64_t account_id, int64_t now_s, int64_t *id, wk_diag *d) WK_MUST_CHECK;

/* wk_auth_user_add in two steps, so that the hash can be made away from the database
 * thread: hash_password checks the length (10..128 bytes) and hashes; add_hashed checks the
 * rest and inserts. */
#define WK_AUTH_HASH_MAX 128
bool wk_auth_login_valid(const char *login); /* 3..64 of [a-z0-9._-] */ /* crypto_pwhash_STRBYTES */
wk_err wk_auth_hash_password(const wk_auth_opts *o, const char *password,
                             char out[WK_AUTH_HASH_MAX], wk_diag *d) WK_MUST_CHECK;
wk_err wk_auth_user_add_hashed(wk_store *st, const char *login, const char *hash, wk_role role,
                               int64_t company_id, int64_t account_id, int64_t now_s,
                               int64_t *id, wk_diag *d) WK_MUST_CHECK;

/* Checks a login and opens a new session. WK_ECRYPTO for a wrong login or password (one
 * message for both), WK_ECONFLICT while the login is locked out (d says until when). */
wk_err wk_auth_login(wk_store *st, const wk_auth_opts *o, const char *login,
                     const char *password, int64_t now_s, wk_session *out,
                     wk_diag *d) WK_MUST_CHECK;

/* wk_auth_login in three steps, so that the slow hash check runs outside the thread that
 * owns the database: begin reads the user (no writes), check verifies the password
 * against the hash (no database; an unknown login costs the same work), finish applies
 * the lock-out and opens the session in one transaction (re-reading the lock state and
 * the hash, so a concurrent failure or password change is honoured). */
typedef struct wk_auth_pending {
    bool found;
    wk_user user;
    char hash[128];
} wk_auth_pending;
wk_err wk_auth_login_begin(wk_store *st, const char *login, wk_auth_pending *p,
                           wk_diag *d) WK_MUST_CHECK;
bool wk_auth_login_check(const wk_auth_opts *o, const wk_auth_pending *p, const char *password);
wk_err wk_auth_login_finish(wk_store *st, const wk_auth_opts *o, const wk_auth_pending *p,
                            bool good, int64_t now_s, wk_session *out, wk_diag *d) WK_MUST_CHECK;

/* The session of a token (from the cookie): WK_ENOTFOUND if unknown or expired. */
wk_err wk_auth_session(wk_store *st, const char *token, int64_t now_s, wk_session *out,
                       wk_diag *d) WK_MUST_CHECK;

/* Constant-time comparison of the session's CSRF token with the header value. */
bool wk_auth_csrf_ok(const wk_session *s, const char *header);

/* Ends a session (logout). Unknown tokens are fine. */
wk_err wk_auth_logout(wk_store *st, const char *token, wk_diag *d) WK_MUST_CHECK;

/* Changes a password after checking the old one; ends every session of the user. */
wk_err wk_auth_password_change(wk_store *st, const wk_auth_opts *o, int64_t user_id,
                               const char *old_password, const char *new_password,
                               wk_diag *d) WK_MUST_CHECK;

/* wk_auth_password_change in steps, so that both hash operations can run away from the
 * database thread: read the current hash, check the old password against it, hash the new
 * one, then replace compare-and-set (WK_ECONFLICT if the hash changed meanwhile), ending
 * every session of the user in the same transaction. */
wk_err wk_auth_user_hash(wk_store *st, int64_t user_id, char out[WK_AUTH_HASH_MAX],
                         wk_diag *d) WK_MUST_CHECK;
bool wk_auth_password_check(const char *hash, const char *password);
wk_err wk_auth_password_replace(wk_store *st, int64_t user_id, const char *old_hash,
                                const char *new_hash, wk_diag *d) WK_MUST_CHECK;

/* Appends one row to the audit log (who, what, when, why, before/after as JSON text) on
 * the caller's transaction: call it inside the transaction of the change it records so
 * that both or neither commit. before/after must be JSON texts (the caller formats them;
 * they are served as JSON). WK_EINVAL for a reason outside 1..255 bytes. The log is
 * append-only (triggers refuse UPDATE and DELETE). */
wk_err wk_auth_audit(wk_store *st, const wk_user *who, const char *action, const char *object,
                     int64_t object_id, const char *reason, const char *before,
                     const char *after, int64_t now_ms, wk_diag *d) WK_MUST_CHECK;

/* API tokens for integrations: "wkt_" + 64 hex, sent as Authorization: Bearer; they act as
 * their user (role and tenancy) without a session or CSRF token, until they expire or are
 * revoked. Only the SHA-256 is stored; the token is shown once, at creation. */
#define WK_API_TOKEN_PREFIX "wkt_"
#define WK_API_TOKEN_LEN (4 + WK_TOKEN_HEX)
wk_err wk_auth_token_create(wk_store *st, int64_t user_id, const char *name, int64_t ttl_s,
                            int64_t now_s, char out[WK_API_TOKEN_LEN + 1], int64_t *id,
                            wk_diag *d) WK_MUST_CHECK;
/* The user of an API token as a session (no token, no CSRF): WK_ENOTFOUND if unknown,
 * revoked or expired. */
wk_err wk_auth_token_session(wk_store *st, const char *token, int64_t now_s, wk_session *out,
                             wk_diag *d) WK_MUST_CHECK;

/* A fixed-size token bucket per client address, in memory: at most `burst` attempts, one
 * more every `refill_ms`. Not thread-safe by itself: callers hold their own lock. */
#define WK_LIMITER_SLOTS 1024
typedef struct wk_limiter {
    uint32_t burst;
    int64_t refill_ms;
    struct {
        uint64_t key;
        int64_t last_ms;
        uint32_t tokens;
    } slot[WK_LIMITER_SLOTS];
} wk_limiter;
void wk_limiter_init(wk_limiter *l, uint32_t burst, int64_t refill_ms);
/* True if the client (any string, e.g. its IP) may make one more attempt now. */
bool wk_limiter_allow(wk_limiter *l, const char *client, int64_t now_ms);

#endif
