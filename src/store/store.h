/*
 * store.h - the storage interface every service uses, and its schema migrations.
 *
 * The interface is deliberately narrow: open a database by URL, run write transactions
 * (with nested savepoints), and run prepared statements with positional `?` parameters on
 * int64, text and blob values. Callers write SQL in the subset SQLite and PostgreSQL share
 * (INTEGER/BIGINT, TEXT, BLOB/BYTEA differences live only in migrations, which carry one
 * script per dialect). A PostgreSQL backend is a second `wk_store_ops` table behind the
 * same functions; no caller changes.
 *
 * Invariants: a write happens only inside wk_store_begin/commit; a failed statement inside
 * a savepoint is undone by wk_store_savepoint_rollback; constraint violations come back as
 * distinct errors (WK_EEXIST for UNIQUE/PRIMARY KEY, WK_ENOTFOUND for FOREIGN KEY,
 * WK_ECONFLICT for CHECK/NOT NULL) so callers can let the database arbitrate instead of
 * checking first. Nothing here knows any table of another layer.
 *
 * A wk_store is one connection: use it from one thread at a time.
 */
#ifndef WK_STORE_STORE_H
#define WK_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

typedef struct wk_store wk_store;
typedef struct wk_stmt wk_stmt;

/* One numbered schema change of one component. `sqlite` is the script for SQLite (several
 * statements allowed); `postgres` the one for PostgreSQL (NULL until that backend lands). */
typedef struct wk_migration {
    int32_t version; /* 1, 2, 3 ... strictly increasing within a component */
    const char *name;
    const char *sqlite;
    const char *postgres;
} wk_migration;

/* A component's migrations (e.g. "ledger"). Each layer that owns tables exports one of
 * these; the application passes the list of all of them, in dependency order. */
typedef struct wk_schema {
    const char *component;
    const wk_migration *migrations;
    size_t n_migrations;
} wk_schema;

typedef struct wk_store_opts {
    int32_t busy_timeout_ms; /* wait this long for another writer; 0 = default 5000 */
    bool migrate;            /* apply pending migrations at open (default path) */
    bool create;             /* create the database file if missing */
} wk_store_opts;

/* Opens the database named by url: "sqlite:PATH", a bare PATH, or ":memory:". With
 * opts->migrate, applies every pending migration of `schemas` first. On success *out owns
 * the connection (close with wk_store_close). On failure *out is NULL and d says why. */
wk_err wk_store_open(const char *url, const wk_store_opts *opts, const wk_schema *const *schemas,
                     size_t n_schemas, wk_store **out, wk_diag *d) WK_MUST_CHECK;

/* Closes the connection, rolling back an open transaction. NULL is a no-op. */
void wk_store_close(wk_store *st);

/* Applies pending migrations of each schema in order, each in its own transaction.
 * *n_applied (may be NULL) receives how many ran. Fails (and stops) at the first error; the
 * failing migration leaves nothing behind. Refuses a database that has a migration newer
 * than the code knows (a downgrade). */
wk_err wk_store_migrate(wk_store *st, const wk_schema *const *schemas, size_t n_schemas,
                        int32_t *n_applied, wk_diag *d) WK_MUST_CHECK;

/* Write transactions. begin takes the write lock at once (BEGIN IMMEDIATE on SQLite), so a
 * transaction never fails half-way for lock upgrade. commit makes it durable (the backend
 * syncs before returning). rollback cannot fail and is a no-op outside a transaction. */
wk_err wk_store_begin(wk_store *st, wk_diag *d) WK_MUST_CHECK;
wk_err wk_store_commit(wk_store *st, wk_diag *d) WK_MUST_CHECK;
void wk_store_rollback(wk_store *st);
bool wk_store_in_txn(const wk_store *st);

/* Marks the open transaction as unusable after a failure that left partial writes (like
 * PostgreSQL's aborted transaction): wk_store_commit then rolls back and fails with
 * WK_EIO. Rolling back the innermost savepoint open at the time of the failure undoes the
 * partial writes and clears the mark. Used by layers that cannot undo their own work. */
void wk_store_poison(wk_store *st);

/* Savepoints nest inside a transaction: release keeps the work, rollback undoes it (and
 * also releases the savepoint). Used for all-or-nothing steps in a caller's transaction. */
wk_err wk_store_savepoint(wk_store *st, wk_diag *d) WK_MUST_CHECK;
wk_err wk_store_savepoint_release(wk_store *st, wk_diag *d) WK_MUST_CHECK;
void wk_store_savepoint_rollback(wk_store *st);

/* Runs SQL without parameters or results (DDL, pragmas, test tampering). */
wk_err wk_store_exec(wk_store *st, const char *sql, wk_diag *d) WK_MUST_CHECK;

/* Returns a prepared statement for sql, from the connection's cache when the same text was
 * prepared before (string literals hit a pointer fast path). The statement is borrowed:
 * call wk_stmt_reset when done, never free it, and do not hold an unstepped statement
 * across another prepare (a full cache may replace statements that are not running). */
wk_err wk_store_prepare(wk_store *st, const char *sql, wk_stmt **out, wk_diag *d) WK_MUST_CHECK;

/* Prepares (cached), binds n integer parameters, steps once and resets: for the many
 * INSERT/UPDATE/DELETE statements whose parameters are all integers. */
wk_err wk_store_run_i64(wk_store *st, const char *sql, const int64_t *v, int n,
                        wk_diag *d) WK_MUST_CHECK;

/* Binds parameter idx (1-based). Text and blobs are copied. */
wk_err wk_stmt_bind_i64(wk_stmt *s, int idx, int64_t v) WK_MUST_CHECK;
wk_err wk_stmt_bind_text(wk_stmt *s, int idx, const char *v, size_t len) WK_MUST_CHECK;
wk_err wk_stmt_bind_blob(wk_stmt *s, int idx, const void *v, size_t len) WK_MUST_CHECK;
wk_err wk_stmt_bind_null(wk_stmt *s, int idx) WK_MUST_CHECK;

/* Advances: *row = true when a row is available. Constraint violations map to WK_EEXIST
 * (unique), WK_ENOTFOUND (foreign key), WK_ECONFLICT (check / not null); other failures to
 * WK_EIO. d names the statement's failure. */
wk_err wk_stmt_step(wk_stmt *s, bool *row, wk_diag *d) WK_MUST_CHECK;

/* Column accessors of the current row (0-based). Pointers stay valid until the next step or
 * reset. */
int64_t wk_stmt_i64(wk_stmt *s, int col);
bool wk_stmt_is_null(wk_stmt *s, int col);
const char *wk_stmt_text(wk_stmt *s, int col, size_t *len);
const void *wk_stmt_blob(wk_stmt *s, int col, size_t *len);

/* Resets the statement and clears its bindings; it goes back to the cache. NULL is a
 * no-op. */
void wk_stmt_reset(wk_stmt *s);

/* Rows changed by the last INSERT/UPDATE/DELETE on this connection. */
int64_t wk_store_changes(wk_store *st);

/* "sqlite" (or "postgres" later): lets the few dialect-specific paths choose. */
const char *wk_store_backend(const wk_store *st);

#endif
