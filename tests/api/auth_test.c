/*
 * auth_test.c - logins and sessions: argon2id hashes (never the password), lock-out after
 * repeated failures (even for the right password while locked), server-chosen sessions
 * renewed at every login (no fixation), tokens stored only as hashes, CSRF comparison,
 * logout, password change ending other sessions, and the per-address rate limiter.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <string.h>

#include "api/auth.h"

typedef struct fx {
    wk_store *st;
    wk_auth_opts o;
    int64_t company, staff;
} fx;

static int setup(void **state)
{
    static fx f;
    memset(&f, 0, sizeof f);
    wk_diag d = {{0}};
    const wk_schema *schemas[] = {&wk_auth_schema};
    assert_int_equal(wk_store_open(":memory:", NULL, schemas, 1, &f.st, &d), WK_OK);
    f.o = (wk_auth_opts){.opslimit = crypto_pwhash_OPSLIMIT_MIN,
                         .memlimit = crypto_pwhash_MEMLIMIT_MIN};
    assert_int_equal(wk_store_begin(f.st, &d), WK_OK);
    assert_int_equal(wk_auth_company_add(f.st, "Lakeside Property", &f.company, &d), WK_OK);
    assert_int_equal(wk_auth_user_add(f.st, &f.o, "li.finance", "correct horse battery",
                                      WK_ROLE_FINANCE, f.company, 0, 1000, &f.staff, &d),
                     WK_OK);
    assert_int_equal(wk_store_commit(f.st, &d), WK_OK);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    wk_store_close(f->st);
    return 0;
}

static void test_hash_is_argon2id(void **state)
{
    fx *f = *state;
    wk_stmt *s;
    wk_diag d;
    bool row;
    assert_int_equal(wk_store_prepare(f->st, "SELECT pass_hash FROM app_user", &s, &d), WK_OK);
    assert_int_equal(wk_stmt_step(s, &row, &d), WK_OK);
    size_t n;
    const char *h = wk_stmt_text(s, 0, &n);
    assert_true(n > 20 && !strncmp(h, "$argon2id$", 10));
    assert_null(strstr(h, "correct horse")); /* the password itself is nowhere */
    wk_stmt_reset(s);
    /* the default cost is libsodium's interactive level (64 MiB) */
    assert_int_equal(wk_store_begin(f->st, &d), WK_OK);
    int64_t id;
    assert_int_equal(wk_auth_user_add(f->st, NULL, "default.cost", "another long password",
                                      WK_ROLE_SERVICE, f->company, 0, 1000, &id, &d),
                     WK_OK);
    assert_int_equal(wk_store_commit(f->st, &d), WK_OK);
    assert_int_equal(wk_store_prepare(f->st, "SELECT pass_hash FROM app_user WHERE login = 'default.cost'", &s, &d), WK_OK);
    assert_int_equal(wk_stmt_step(s, &row, &d), WK_OK);
    assert_non_null(strstr(wk_stmt_text(s, 0, &n), "m=65536"));
    wk_stmt_reset(s);
}

static void test_bad_users_rejected(void **state)
{
    fx *f = *state;
    wk_diag d;
    int64_t id;
    assert_int_equal(wk_store_begin(f->st, &d), WK_OK);
    assert_int_equal(wk_auth_user_add(f->st, &f->o, "li.finance", "correct horse battery",
                                      WK_ROLE_FINANCE, f->company, 0, 1, &id, &d),
                     WK_EEXIST);
    assert_int_equal(wk_auth_user_add(f->st, &f->o, "Bad Login", "long enough password",
                                      WK_ROLE_FINANCE, f->company, 0, 1, &id, &d),
                     WK_EINVAL);
    assert_non_null(strstr(d.msg, "login"));
    assert_int_equal(wk_auth_user_add(f->st, &f->o, "shorty", "short", WK_ROLE_FINANCE,
                                      f->company, 0, 1, &id, &d),
                     WK_EINVAL);
    assert_non_null(strstr(d.msg, "password"));
    assert_int_equal(wk_auth_user_add(f->st, &f->o, "res.one", "long enough password",
                                      WK_ROLE_RESIDENT, 0, 0, 1, &id, &d),
                     WK_EINVAL);
    assert_non_null(strstr(d.msg, "account"));
    wk_store_rollback(f->st);
}

static void test_login_session_logout(void **state)
{
    fx *f = *state;
    wk_diag d;
    wk_session s1, s2, got;
    assert_int_equal(wk_auth_login(f->st, &f->o, "li.finance", "correct horse battery", 2000, &s1, &d), WK_OK);
    assert_int_equal(strlen(s1.token), WK_TOKEN_HEX);
    assert_int_equal(s1.user.role, WK_ROLE_FINANCE);
    assert_int_equal(s1.user.company_id, f->company);
    /* a second login gets a different session (never a client-chosen or reused id) */
    assert_int_equal(wk_auth_login(f->st, &f->o, "li.finance", "correct horse battery", 2001, &s2, &d), WK_OK);
    assert_string_not_equal(s1.token, s2.token);
    assert_string_not_equal(s1.csrf, s2.csrf);
    /* sessions are found by token; the token is stored only as its SHA-256 */
    assert_int_equal(wk_auth_session(f->st, s1.token, 2002, &got, &d), WK_OK);
    assert_int_equal(got.user.id, f->staff);
    wk_stmt *st;
    bool row;
    assert_int_equal(wk_store_prepare(f->st, "SELECT count(*) FROM app_session WHERE hex(token_sha256) = upper(?)", &st, &d), WK_OK);
    assert_int_equal(wk_stmt_bind_text(st, 1, s1.token, WK_TOKEN_HEX), WK_OK);
    assert_int_equal(wk_stmt_step(st, &row, &d), WK_OK);
    assert_int_equal(wk_stmt_i64(st, 0), 0);
    wk_stmt_reset(st);
    /* a made-up token (e.g. planted by an attacker before login) is no session */
    char planted[WK_TOKEN_HEX + 1];
    memset(planted, 'a', WK_TOKEN_HEX);
    planted[WK_TOKEN_HEX] = 0;
    assert_int_equal(wk_auth_session(f->st, planted, 2002, &got, &d), WK_ENOTFOUND);
    /* CSRF: only the session's own token passes */
    assert_true(wk_auth_csrf_ok(&s1, s1.csrf));
    assert_false(wk_auth_csrf_ok(&s1, s2.csrf));
    assert_false(wk_auth_csrf_ok(&s1, NULL));
    assert_false(wk_auth_csrf_ok(&s1, ""));
    /* expiry and logout */
    assert_int_equal(wk_auth_session(f->st, s1.token, s1.expires_s, &got, &d), WK_ENOTFOUND);
    assert_int_equal(wk_auth_logout(f->st, s2.token, &d), WK_OK);
    assert_int_equal(wk_auth_session(f->st, s2.token, 2003, &got, &d), WK_ENOTFOUND);
    /* unknown login and wrong password say the same thing */
    wk_diag d1, d2;
    assert_int_equal(wk_auth_login(f->st, &f->o, "nobody", "whatever password", 2004, &got, &d1), WK_ECRYPTO);
    assert_int_equal(wk_auth_login(f->st, &f->o, "li.finance", "wrong password!", 2004, &got, &d2), WK_ECRYPTO);
    assert_string_equal(d1.msg, d2.msg);
}

static void test_lockout(void **state)
{
    fx *f = *state;
    wk_diag d;
    wk_session s;
    for (int i = 0; i < 5; i++)
        assert_int_equal(wk_auth_login(f->st, &f->o, "li.finance", "guess number x", 3000 + i, &s, &d), WK_ECRYPTO);
    /* locked: even the right password is refused, and the message says so */
    assert_int_equal(wk_auth_login(f->st, &f->o, "li.finance", "correct horse battery", 3010, &s, &d), WK_ECONFLICT);
    assert_non_null(strstr(d.msg, "locked"));
    /* after the lock-out period the right password works again */
    assert_int_equal(wk_auth_login(f->st, &f->o, "li.finance", "correct horse battery", 3004 + 901, &s, &d), WK_OK);
}

static void test_password_change(void **state)
{
    fx *f = *state;
    wk_diag d;
    wk_session a, b, got;
    assert_int_equal(wk_auth_login(f->st, &f->o, "li.finance", "correct horse battery", 4000, &a, &d), WK_OK);
    assert_int_equal(wk_auth_password_change(f->st, &f->o, f->staff, "not the old one", "a brand new secret", &d), WK_ECRYPTO);
    assert_int_equal(wk_auth_password_change(f->st, &f->o, f->staff, "correct horse battery", "short", &d), WK_EINVAL);
    assert_int_equal(wk_auth_password_change(f->st, &f->o, f->staff, "correct horse battery", "a brand new secret", &d), WK_OK);
    assert_int_equal(wk_auth_session(f->st, a.token, 4001, &got, &d), WK_ENOTFOUND); /* ended */
    assert_int_equal(wk_auth_login(f->st, &f->o, "li.finance", "correct horse battery", 4002, &b, &d), WK_ECRYPTO);
    assert_int_equal(wk_auth_login(f->st, &f->o, "li.finance", "a brand new secret", 4003, &b, &d), WK_OK);
}

static void test_limiter(void **state)
{
    (void)state;
    static wk_limiter l;
    wk_limiter_init(&l, 5, 1000);
    int allowed = 0;
    for (int i = 0; i < 20; i++)
        allowed += wk_limiter_allow(&l, "203.0.113.7", 10000);
    assert_int_equal(allowed, 5);
    assert_true(wk_limiter_allow(&l, "198.51.100.1", 10000)); /* another address */
    assert_false(wk_limiter_allow(&l, "203.0.113.7", 10999));
    assert_true(wk_limiter_allow(&l, "203.0.113.7", 11000)); /* one token per second */
    assert_false(wk_limiter_allow(&l, "203.0.113.7", 11001));
}

/* The three-step login: the hash check needs no database; a password changed between the
 * check and the finish makes the old check worthless (counted as a failure). */
static void test_login_steps(void **state)
{
    fx *f = *state;
    wk_diag d = {{0}};
    wk_auth_pending p;
    wk_session s;
    assert_int_equal(wk_auth_login_begin(f->st, "li.finance", &p, &d), WK_OK);
    assert_true(p.found);
    assert_false(wk_auth_login_check(&f->o, &p, "wrong password!"));
    assert_true(wk_auth_login_check(&f->o, &p, "correct horse battery"));
    assert_int_equal(wk_auth_login_finish(f->st, &f->o, &p, true, 2000, &s, &d), WK_OK);
    assert_int_equal(s.user.id, f->staff);
    /* unknown login: found = false, the check still runs (dummy hash) and fails */
    wk_auth_pending q;
    assert_int_equal(wk_auth_login_begin(f->st, "nobody", &q, &d), WK_OK);
    assert_false(q.found);
    assert_false(wk_auth_login_check(&f->o, &q, "correct horse battery"));
    assert_int_equal(wk_auth_login_finish(f->st, &f->o, &q, true, 2000, &s, &d), WK_ECRYPTO);
    /* a password change after begin: the finish refuses the stale success */
    assert_int_equal(wk_auth_login_begin(f->st, "li.finance", &p, &d), WK_OK);
    assert_true(wk_auth_login_check(&f->o, &p, "correct horse battery"));
    assert_int_equal(wk_auth_password_change(f->st, &f->o, f->staff, "correct horse battery",
                                             "another horse battery", &d),
                     WK_OK);
    assert_int_equal(wk_auth_login_finish(f->st, &f->o, &p, true, 2001, &s, &d), WK_ECRYPTO);
}

/* API tokens: shown once, stored as SHA-256, act as their user, end when revoked or
 * expired; malformed tokens are simply unknown. */
static void test_api_tokens(void **state)
{
    fx *f = *state;
    wk_diag d = {{0}};
    char tok[WK_API_TOKEN_LEN + 1];
    int64_t id = 0;
    assert_int_equal(wk_auth_token_create(f->st, f->staff, "", 86400, 1000, tok, &id, &d), WK_EINVAL);
    assert_int_equal(wk_auth_token_create(f->st, f->staff, "erp", 60, 1000, tok, &id, &d), WK_EINVAL);
    assert_int_equal(wk_auth_token_create(f->st, f->staff, "erp", 86400, 1000, tok, &id, &d), WK_OK);
    assert_true(id > 0);
    assert_int_equal(strlen(tok), WK_API_TOKEN_LEN);
    assert_int_equal(strncmp(tok, "wkt_", 4), 0);
    wk_session s;
    assert_int_equal(wk_auth_token_session(f->st, tok, 2000, &s, &d), WK_OK);
    assert_int_equal(s.user.id, f->staff);
    assert_int_equal(s.user.role, WK_ROLE_FINANCE);
    assert_int_equal(s.token[0], 0); /* no session token, no CSRF token */
    assert_int_equal(s.csrf[0], 0);
    /* stored only as its hash */
    wk_stmt *st;
    bool row;
    assert_int_equal(wk_store_prepare(f->st, "SELECT count(*) FROM api_token WHERE"
                                             " instr(CAST(token_sha256 AS TEXT), 'wkt_') > 0", &st, &d),
                     WK_OK);
    assert_int_equal(wk_stmt_step(st, &row, &d), WK_OK);
    assert_int_equal(wk_stmt_i64(st, 0), 0);
    wk_stmt_reset(st);
    assert_int_equal(wk_auth_token_session(f->st, tok, 1000 + 86400, &s, &d), WK_ENOTFOUND); /* expired */
    char bad[WK_API_TOKEN_LEN + 1];
    memcpy(bad, tok, sizeof bad);
    bad[10] = bad[10] == 'a' ? 'b' : 'a';
    assert_int_equal(wk_auth_token_session(f->st, bad, 2000, &s, &d), WK_ENOTFOUND);
    assert_int_equal(wk_auth_token_session(f->st, "wkt_short", 2000, &s, &d), WK_ENOTFOUND);
    int64_t v[2] = {2500, id};
    assert_int_equal(wk_store_run_i64(f->st, "UPDATE api_token SET revoked_s = ? WHERE id = ?", v, 2, &d),
                     WK_OK);
    assert_int_equal(wk_auth_token_session(f->st, tok, 3000, &s, &d), WK_ENOTFOUND); /* revoked */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hash_is_argon2id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_users_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_login_session_logout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lockout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_password_change, setup, teardown),
        cmocka_unit_test(test_limiter),
        cmocka_unit_test_setup_teardown(test_login_steps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_tokens, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
