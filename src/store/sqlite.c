/*
 * sqlite.c - the SQLite backend of the store (the embedded default).
 *
 * Every connection is configured explicitly, never relying on compile-time defaults:
 * journal_mode=WAL (readers never block the writer), synchronous=FULL (the WAL is fsynced
 * at every commit, so a committed transaction survives kill -9 and power loss; NORMAL
 * would only survive a process crash), foreign_keys=ON, a busy timeout, and
 * trusted_schema=OFF. Prepared statements are cached per connection (a small fixed table,
 * keyed by the caller's SQL pointer). Constraint failures are mapped to distinct wk_err
 * values so callers let UNIQUE/FOREIGN KEY/CHECK arbitrate.
 */
#include <sqlite3.h>
#include <string.h>

#include "core/mem.h"
#include "store/backend.h"

#define SQLITE_STMT_CACHE_MAX 96

typedef struct sqlite_conn {
    sqlite3 *db;
    size_t n_stmts;
    size_t next_victim; /* round-robin eviction when the cache is full */
    wk_stmt stmts[SQLITE_STMT_CACHE_MAX];
} sqlite_conn;

static wk_err sq__err(sqlite3 *db, int rc, const char *what, wk_diag *d)
{
    int ext = db ? sqlite3_extended_errcode(db) : rc;
    const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    wk_err e = WK_EIO;
    if ((rc & 0xff) == SQLITE_CONSTRAINT) {
        switch (ext) {
        case SQLITE_CONSTRAINT_UNIQUE:
        case SQLITE_CONSTRAINT_PRIMARYKEY:
        case SQLITE_CONSTRAINT_ROWID: e = WK_EEXIST; break;
        case SQLITE_CONSTRAINT_FOREIGNKEY: e = WK_ENOTFOUND; break;
        default: e = WK_ECONFLICT; break;
        }
    } else if ((rc & 0xff) == SQLITE_NOMEM) {
        e = WK_ENOMEM;
    } else if ((rc & 0xff) == SQLITE_TOOBIG) {
        e = WK_ELIMIT;
    }
    return wk_diag_set(d, e, "sqlite: %s: %s", what, msg);
}

static wk_err sq_exec(void *conn, const char *sql, wk_diag *d)
{
    sqlite_conn *c = conn;
    char *msg = NULL;
    int rc = sqlite3_exec(c->db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        wk_err e = sq__err(c->db, rc, "exec", d);
        sqlite3_free(msg);
        return e;
    }
    return WK_OK;
}

static void sq_close(void *conn)
{
    sqlite_conn *c = conn;
    if (!c)
        return;
    for (size_t i = 0; i < c->n_stmts; i++)
        sqlite3_finalize(c->stmts[i].impl);
    if (c->db) {
        if (!sqlite3_get_autocommit(c->db))
            sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_close(c->db);
    }
    wk_free(c);
}

static wk_err sq_open(const char *target, const wk_store_opts *o, void **conn, wk_diag *d)
{
    wk_err e = WK_OK;
    sqlite_conn *c = wk_calloc(1, sizeof *c);
    if (!c)
        return wk_diag_set(d, WK_ENOMEM, "sqlite: out of memory");
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
    if (o->create)
        flags |= SQLITE_OPEN_CREATE;
    int rc = sqlite3_open_v2(target, &c->db, flags, NULL);
    if (rc != SQLITE_OK) {
        e = wk_diag_set(d, WK_EIO, "sqlite: cannot open '%s': %s", target,
                        c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        goto fail;
    }
    sqlite3_extended_result_codes(c->db, 1);
    sqlite3_busy_timeout(c->db, o->busy_timeout_ms > 0 ? o->busy_timeout_ms : 5000);
    /* journal_mode returns a row; sqlite3_exec ignores it. On ":memory:" WAL is refused and
     * the mode stays "memory", which is fine for tests. */
    e = sq_exec(c, "PRAGMA journal_mode=WAL;"
                   "PRAGMA synchronous=FULL;"
                   "PRAGMA foreign_keys=ON;"
                   "PRAGMA trusted_schema=OFF;"
                   "PRAGMA temp_store=MEMORY;"
                   "PRAGMA cache_size=-65536;"
                   "PRAGMA wal_autocheckpoint=4096;",
                d);
    if (e)
        goto fail;
    *conn = c;
    return WK_OK;
fail:
    sq_close(c);
    return e;
}

static wk_err sq_prepare(void *conn, const char *sql, wk_stmt **out, wk_diag *d)
{
    sqlite_conn *c = conn;
    /* Same pointer first (string literals), always confirmed against SQLite's own copy of
     * the text: a caller's buffer may be reused at the same address with other SQL. */
    for (size_t i = 0; i < c->n_stmts; i++) {
        if (c->stmts[i].sql == sql && !strcmp(sqlite3_sql(c->stmts[i].impl), sql)) {
            *out = &c->stmts[i];
            return WK_OK;
        }
    }
    for (size_t i = 0; i < c->n_stmts; i++) {
        if (!strcmp(sqlite3_sql(c->stmts[i].impl), sql)) {
            c->stmts[i].sql = sql;
            *out = &c->stmts[i];
            return WK_OK;
        }
    }
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
    if (rc != SQLITE_OK)
        return sq__err(c->db, rc, "prepare", d);
    wk_stmt *s;
    if (c->n_stmts == SQLITE_STMT_CACHE_MAX) {
        /* Cache full: replace a statement not in use, in place, so that the addresses of
         * the others (which callers may hold) never change. */
        size_t victim = SQLITE_STMT_CACHE_MAX;
        for (size_t k = 0; k < SQLITE_STMT_CACHE_MAX; k++) {
            size_t i = (c->next_victim + k) % SQLITE_STMT_CACHE_MAX;
            if (!sqlite3_stmt_busy(c->stmts[i].impl)) {
                victim = i;
                break;
            }
        }
        if (victim == SQLITE_STMT_CACHE_MAX) {
            sqlite3_finalize(st);
            return wk_diag_set(d, WK_ELIMIT, "sqlite: more than %d statements in use",
                               SQLITE_STMT_CACHE_MAX);
        }
        sqlite3_finalize(c->stmts[victim].impl);
        c->next_victim = (victim + 1) % SQLITE_STMT_CACHE_MAX;
        s = &c->stmts[victim];
    } else {
        s = &c->stmts[c->n_stmts++];
    }
    s->ops = &wk_store__sqlite_ops;
    s->impl = st;
    s->sql = sql;
    s->conn = c;
    *out = s;
    return WK_OK;
}

static wk_err sq__bind_rc(int rc)
{
    if (rc == SQLITE_OK)
        return WK_OK;
    if (rc == SQLITE_NOMEM)
        return WK_ENOMEM;
    if (rc == SQLITE_TOOBIG)
        return WK_ELIMIT;
    return WK_EINTERNAL;
}

static wk_err sq_bind_i64(wk_stmt *s, int idx, int64_t v)
{
    return sq__bind_rc(sqlite3_bind_int64(s->impl, idx, v));
}

static wk_err sq_bind_text(wk_stmt *s, int idx, const char *v, size_t len)
{
    if (len > INT32_MAX)
        return WK_ELIMIT;
    return sq__bind_rc(sqlite3_bind_text(s->impl, idx, v, (int)len, SQLITE_TRANSIENT));
}

static wk_err sq_bind_blob(wk_stmt *s, int idx, const void *v, size_t len)
{
    if (len > INT32_MAX)
        return WK_ELIMIT;
    return sq__bind_rc(sqlite3_bind_blob(s->impl, idx, v, (int)len, SQLITE_TRANSIENT));
}

static wk_err sq_bind_null(wk_stmt *s, int idx)
{
    return sq__bind_rc(sqlite3_bind_null(s->impl, idx));
}

static wk_err sq_step(wk_stmt *s, bool *row, wk_diag *d)
{
    int rc = sqlite3_step(s->impl);
    if (rc == SQLITE_ROW) {
        *row = true;
        return WK_OK;
    }
    *row = false;
    if (rc == SQLITE_DONE)
        return WK_OK;
    sqlite_conn *c = s->conn;
    return sq__err(c->db, rc, "step", d);
}

static int64_t sq_col_i64(wk_stmt *s, int col)
{
    return sqlite3_column_int64(s->impl, col);
}

static bool sq_col_is_null(wk_stmt *s, int col)
{
    return sqlite3_column_type(s->impl, col) == SQLITE_NULL;
}

static const char *sq_col_text(wk_stmt *s, int col, size_t *len)
{
    const char *t = (const char *)sqlite3_column_text(s->impl, col);
    int n = sqlite3_column_bytes(s->impl, col);
    if (len)
        *len = t ? (size_t)n : 0;
    return t ? t : "";
}

static const void *sq_col_blob(wk_stmt *s, int col, size_t *len)
{
    const void *b = sqlite3_column_blob(s->impl, col);
    int n = sqlite3_column_bytes(s->impl, col);
    if (len)
        *len = b ? (size_t)n : 0;
    return b;
}

static void sq_reset(wk_stmt *s)
{
    sqlite3_reset(s->impl);
    sqlite3_clear_bindings(s->impl);
}

static int64_t sq_changes(void *conn)
{
    sqlite_conn *c = conn;
    return sqlite3_changes64(c->db);
}

const wk_store_ops wk_store__sqlite_ops = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .exec = sq_exec,
    .prepare = sq_prepare,
    .bind_i64 = sq_bind_i64,
    .bind_text = sq_bind_text,
    .bind_blob = sq_bind_blob,
    .bind_null = sq_bind_null,
    .step = sq_step,
    .col_i64 = sq_col_i64,
    .col_is_null = sq_col_is_null,
    .col_text = sq_col_text,
    .col_blob = sq_col_blob,
    .reset = sq_reset,
    .changes = sq_changes,
};
