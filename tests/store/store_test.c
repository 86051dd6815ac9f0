/*
 * store_test.c - src/store: URL forms, constraint errors mapped to distinct wk_err values,
 * savepoints nesting inside a transaction, poisoned transactions, the statement cache past
 * its size, durability settings actually applied, and two connections migrating the same
 * file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"

static char dir[64];

static const wk_migration M[] = {
    {1, "people", "CREATE TABLE p(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
                  " age INTEGER CHECK(age >= 0)) STRICT;", NULL},
    {2, "pets", "CREATE TABLE pet(id INTEGER PRIMARY KEY, owner INTEGER NOT NULL REFERENCES p(id))"
                " STRICT;", NULL},
};
static const wk_schema S = {"demo", M, 2};

static wk_store *open_db(const char *name)
{
    char url[160];
    wk_store *st = NULL;
    wk_diag d = {{0}};
    const wk_schema *schemas[] = {&S};
    snprintf(url, sizeof url, "sqlite:%s/%s", dir, name);
    wk_err e = wk_store_open(url, NULL, schemas, 1, &st, &d);
    if (e)
        print_error("%s\n", d.msg);
    assert_int_equal(e, WK_OK);
    return st;
}

static int64_t scalar(wk_store *st, const char *sql)
{
    wk_stmt *s;
    bool row = false;
    wk_diag d;
    assert_int_equal(wk_store_prepare(st, sql, &s, &d), WK_OK);
    assert_int_equal(wk_stmt_step(s, &row, &d), WK_OK);
    assert_true(row);
    int64_t v = wk_stmt_i64(s, 0);
    wk_stmt_reset(s);
    return v;
}

static void test_urls(void **state)
{
    (void)state;
    wk_store *st = NULL;
    wk_diag d = {{0}};
    char path[128];
    assert_int_equal(wk_store_open("", NULL, NULL, 0, &st, &d), WK_EINVAL);
    assert_non_null(strstr(d.msg, "--db"));
    assert_int_equal(wk_store_open("sqlite:", NULL, NULL, 0, &st, &d), WK_EINVAL);
    assert_int_equal(wk_store_open("postgres://u@h/db", NULL, NULL, 0, &st, &d), WK_EINVAL);
    assert_non_null(strstr(d.msg, "PostgreSQL"));
    assert_int_equal(wk_store_open("mysql://h/db", NULL, NULL, 0, &st, &d), WK_EINVAL);
    assert_null(st);
    /* a bare path works and is the same database as sqlite:path */
    snprintf(path, sizeof path, "%s/bare.db", dir);
    assert_int_equal(wk_store_open(path, NULL, NULL, 0, &st, &d), WK_OK);
    assert_string_equal(wk_store_backend(st), "sqlite");
    assert_int_equal(wk_store_exec(st, "CREATE TABLE x(a INTEGER) STRICT", &d), WK_OK);
    wk_store_close(st);
    wk_store *st2 = open_db("bare.db");
    assert_int_equal(scalar(st2, "SELECT count(*) FROM x"), 0);
    /* durability settings as documented */
    assert_int_equal(scalar(st2, "PRAGMA synchronous"), 2); /* FULL */
    assert_int_equal(scalar(st2, "PRAGMA foreign_keys"), 1);
    wk_stmt *s;
    bool row;
    assert_int_equal(wk_store_prepare(st2, "PRAGMA journal_mode", &s, &d), WK_OK);
    assert_int_equal(wk_stmt_step(s, &row, &d), WK_OK);
    assert_string_equal(wk_stmt_text(s, 0, NULL), "wal");
    wk_stmt_reset(s);
    wk_store_close(st2);
    /* opening a missing file without create fails */
    wk_store_opts o = {.create = false, .migrate = false};
    snprintf(path, sizeof path, "%s/missing.db", dir);
    assert_int_equal(wk_store_open(path, &o, NULL, 0, &st, &d), WK_EIO);
}

static void test_constraints(void **state)
{
    (void)state;
    wk_store *st = open_db("c.db");
    wk_diag d = {{0}};
    assert_int_equal(wk_store_exec(st, "INSERT INTO p(name, age) VALUES('a', 1)", &d), WK_OK);
    assert_int_equal(wk_store_exec(st, "INSERT INTO p(name, age) VALUES('a', 2)", &d), WK_EEXIST);
    assert_int_equal(wk_store_exec(st, "INSERT INTO p(name, age) VALUES('b', -1)", &d), WK_ECONFLICT);
    assert_int_equal(wk_store_exec(st, "INSERT INTO p(name, age) VALUES(NULL, 1)", &d), WK_ECONFLICT);
    assert_int_equal(wk_store_exec(st, "INSERT INTO pet(owner) VALUES(42)", &d), WK_ENOTFOUND);
    assert_int_equal(wk_store_exec(st, "INSERT INTO p(name, age) VALUES('c', 'old')", &d), WK_ECONFLICT); /* STRICT */
    assert_int_equal(wk_store_exec(st, "SELEC nonsense", &d), WK_EIO);
    assert_non_null(strstr(d.msg, "sqlite"));
    wk_store_close(st);
}

static void test_transactions(void **state)
{
    (void)state;
    wk_store *st = open_db("t.db");
    wk_diag d = {{0}};
    assert_int_equal(wk_store_savepoint(st, &d), WK_EINTERNAL); /* outside a transaction */
    assert_int_equal(wk_store_commit(st, &d), WK_EINTERNAL);
    assert_int_equal(wk_store_begin(st, &d), WK_OK);
    assert_true(wk_store_in_txn(st));
    assert_int_equal(wk_store_begin(st, &d), WK_EINTERNAL);
    assert_int_equal(wk_store_exec(st, "INSERT INTO p(name) VALUES('keep')", &d), WK_OK);
    assert_int_equal(wk_store_savepoint(st, &d), WK_OK);
    assert_int_equal(wk_store_exec(st, "INSERT INTO p(name) VALUES('inner-kept')", &d), WK_OK);
    assert_int_equal(wk_store_savepoint(st, &d), WK_OK);
    assert_int_equal(wk_store_exec(st, "INSERT INTO p(name) VALUES('undone')", &d), WK_OK);
    wk_store_savepoint_rollback(st);
    assert_int_equal(wk_store_savepoint_release(st, &d), WK_OK);
    assert_int_equal(wk_store_commit(st, &d), WK_OK);
    assert_false(wk_store_in_txn(st));
    assert_int_equal(scalar(st, "SELECT count(*) FROM p"), 2);
    assert_int_equal(scalar(st, "SELECT count(*) FROM p WHERE name = 'undone'"), 0);
    /* rollback */
    assert_int_equal(wk_store_begin(st, &d), WK_OK);
    assert_int_equal(wk_store_exec(st, "INSERT INTO p(name) VALUES('gone')", &d), WK_OK);
    wk_store_rollback(st);
    assert_int_equal(scalar(st, "SELECT count(*) FROM p"), 2);
    /* poisoned: commit rolls back and fails */
    assert_int_equal(wk_store_begin(st, &d), WK_OK);
    assert_int_equal(wk_store_exec(st, "INSERT INTO p(name) VALUES('half')", &d), WK_OK);
    wk_store_poison(st);
    assert_int_equal(wk_store_commit(st, &d), WK_EIO);
    assert_false(wk_store_in_txn(st));
    assert_int_equal(scalar(st, "SELECT count(*) FROM p"), 2);
    /* poisoned inside a savepoint: rolling that savepoint back clears it */
    assert_int_equal(wk_store_begin(st, &d), WK_OK);
    assert_int_equal(wk_store_exec(st, "INSERT INTO p(name) VALUES('outer')", &d), WK_OK);
    assert_int_equal(wk_store_savepoint(st, &d), WK_OK);
    assert_int_equal(wk_store_exec(st, "INSERT INTO p(name) VALUES('partial')", &d), WK_OK);
    wk_store_poison(st);
    wk_store_savepoint_rollback(st);
    assert_int_equal(wk_store_commit(st, &d), WK_OK);
    assert_int_equal(scalar(st, "SELECT count(*) FROM p WHERE name IN ('outer', 'partial')"), 1);
    /* ... but releasing it keeps the mark on the enclosing transaction */
    assert_int_equal(wk_store_begin(st, &d), WK_OK);
    assert_int_equal(wk_store_savepoint(st, &d), WK_OK);
    assert_int_equal(wk_store_exec(st, "INSERT INTO p(name) VALUES('partial2')", &d), WK_OK);
    wk_store_poison(st);
    assert_int_equal(wk_store_savepoint_release(st, &d), WK_OK);
    assert_int_equal(wk_store_commit(st, &d), WK_EIO);
    assert_int_equal(scalar(st, "SELECT count(*) FROM p WHERE name = 'partial2'"), 0);
    /* the next transaction is clean again */
    assert_int_equal(wk_store_begin(st, &d), WK_OK);
    assert_int_equal(wk_store_exec(st, "INSERT INTO p(name) VALUES('next')", &d), WK_OK);
    assert_int_equal(wk_store_commit(st, &d), WK_OK);
    assert_int_equal(scalar(st, "SELECT count(*) FROM p"), 4);
    wk_store_close(st);
}

static void test_statement_cache(void **state)
{
    (void)state;
    wk_store *st = open_db("s.db");
    wk_diag d = {{0}};
    static char sql[300][48];
    /* more distinct statements than the cache holds: old ones are evicted, all still work */
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < 300; i++) {
            snprintf(sql[i], sizeof sql[i], "SELECT %d + ?", i);
            wk_stmt *s;
            bool row;
            assert_int_equal(wk_store_prepare(st, sql[i], &s, &d), WK_OK);
            assert_int_equal(wk_stmt_bind_i64(s, 1, 1), WK_OK);
            assert_int_equal(wk_stmt_step(s, &row, &d), WK_OK);
            assert_int_equal(wk_stmt_i64(s, 0), i + 1);
            wk_stmt_reset(s);
        }
    /* text and blob round trip; NULL */
    wk_stmt *s;
    bool row;
    size_t len = 0;
    assert_int_equal(wk_store_prepare(st, "SELECT ?, ?, ?", &s, &d), WK_OK);
    assert_int_equal(wk_stmt_bind_text(s, 1, "héllo", strlen("héllo")), WK_OK);
    assert_int_equal(wk_stmt_bind_blob(s, 2, "\0\1\2", 3), WK_OK);
    assert_int_equal(wk_stmt_bind_null(s, 3), WK_OK);
    assert_int_equal(wk_stmt_step(s, &row, &d), WK_OK);
    assert_string_equal(wk_stmt_text(s, 0, &len), "héllo");
    assert_memory_equal(wk_stmt_blob(s, 1, &len), "\0\1\2", 3);
    assert_int_equal(len, 3);
    assert_true(wk_stmt_is_null(s, 2));
    wk_stmt_reset(s);
    wk_store_close(st);
}

static void test_two_connections_migrate(void **state)
{
    (void)state;
    wk_store *a = open_db("m.db"), *b = open_db("m.db");
    int32_t n = -1;
    wk_diag d = {{0}};
    const wk_schema *schemas[] = {&S};
    assert_int_equal(wk_store_migrate(b, schemas, 1, &n, &d), WK_OK);
    assert_int_equal(n, 0);
    assert_int_equal(scalar(a, "SELECT count(*) FROM wk_schema_migrations WHERE component = 'demo'"), 2);
    /* a write on one connection is visible to the other after commit */
    assert_int_equal(wk_store_begin(a, &d), WK_OK);
    assert_int_equal(wk_store_exec(a, "INSERT INTO p(name) VALUES('x')", &d), WK_OK);
    assert_int_equal(scalar(b, "SELECT count(*) FROM p"), 0); /* WAL: b reads the old snapshot */
    assert_int_equal(wk_store_commit(a, &d), WK_OK);
    assert_int_equal(scalar(b, "SELECT count(*) FROM p"), 1);
    wk_store_close(a);
    wk_store_close(b);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/wk_store_test.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_urls),         cmocka_unit_test(test_constraints),
        cmocka_unit_test(test_transactions), cmocka_unit_test(test_statement_cache),
        cmocka_unit_test(test_two_connections_migrate),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
