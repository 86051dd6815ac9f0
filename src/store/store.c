/*
 * store.c - the backend-neutral half of the store: URL parsing, transactions and
 * savepoints, and numbered schema migrations recorded in `wk_schema_migrations`.
 *
 * Invariant: txn_depth counts open savepoints, in_txn says whether BEGIN ran; nested work
 * always uses savepoints, so a failed step inside a caller's transaction can be undone
 * without touching the caller's earlier work. Migrations run one per transaction and are
 * recorded in the same transaction, so a crash leaves each either applied or not.
 */
#include "store/store.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/mem.h"
#include "store/backend.h"

#define STORE_SAVEPOINT_MAX 32

struct wk_store {
    const wk_store_ops *ops;
    void *conn;
    bool in_txn;
    int savepoints;
    /* -1, or the savepoint depth whose work holds the partial writes of a failure: rolling
     * that savepoint back clears it; releasing it moves it one level out; 0 = only a full
     * rollback clears it. */
    int poison_level;
};

static wk_err store__parse_url(const char *url, const wk_store_ops **ops, const char **target,
                               wk_diag *d)
{
    if (!url || !*url)
        return wk_diag_set(d, WK_EINVAL, "--db: empty database URL");
    if (!strncmp(url, "sqlite:", 7)) {
        *ops = &wk_store__sqlite_ops;
        *target = url + 7;
        if (!**target)
            return wk_diag_set(d, WK_EINVAL, "--db: 'sqlite:' needs a path");
        return WK_OK;
    }
    if (!strncmp(url, "postgres://", 11) || !strncmp(url, "postgresql://", 13))
        return wk_diag_set(d, WK_EINVAL, "--db: the PostgreSQL backend is not built yet");
    const char *colon = strchr(url, ':');
    const char *slash = strchr(url, '/');
    if (colon && colon[1] == '/' && colon[2] == '/' && (!slash || colon < slash))
        return wk_diag_set(d, WK_EINVAL, "--db: unknown URL scheme in '%s'", url);
    *ops = &wk_store__sqlite_ops;
    *target = url;
    return WK_OK;
}

wk_err wk_store_open(const char *url, const wk_store_opts *opts, const wk_schema *const *schemas,
                     size_t n_schemas, wk_store **out, wk_diag *d)
{
    wk_err e;
    wk_store *st = NULL;
    const wk_store_ops *ops = NULL;
    const char *target = NULL;
    wk_store_opts o = {.busy_timeout_ms = 5000, .migrate = true, .create = true};
    if (opts)
        o = *opts;
    *out = NULL;
    e = store__parse_url(url, &ops, &target, d);
    if (e)
        goto fail;
    st = wk_calloc(1, sizeof *st);
    if (!st) {
        e = wk_diag_set(d, WK_ENOMEM, "store: out of memory");
        goto fail;
    }
    st->ops = ops;
    e = ops->open(target, &o, &st->conn, d);
    if (e)
        goto fail;
    if (o.migrate) {
        e = wk_store_migrate(st, schemas, n_schemas, NULL, d);
        if (e)
            goto fail;
    }
    *out = st;
    return WK_OK;
fail:
    wk_store_close(st);
    return e;
}

void wk_store_close(wk_store *st)
{
    if (!st)
        return;
    if (st->conn)
        st->ops->close(st->conn);
    wk_free(st);
}

wk_err wk_store_begin(wk_store *st, wk_diag *d)
{
    if (st->in_txn)
        return wk_diag_set(d, WK_EINTERNAL, "store: transaction already open");
    wk_err e = st->ops->exec(st->conn, "BEGIN IMMEDIATE", d);
    if (e)
        return e;
    st->in_txn = true;
    st->poison_level = -1;
    st->savepoints = 0;
    return WK_OK;
}

wk_err wk_store_commit(wk_store *st, wk_diag *d)
{
    if (!st->in_txn)
        return wk_diag_set(d, WK_EINTERNAL, "store: commit without a transaction");
    WK_ASSERT(st->savepoints == 0);
    if (st->poison_level >= 0) {
        wk_store_rollback(st);
        return wk_diag_set(d, WK_EIO, "store: transaction rolled back after an earlier failure");
    }
    wk_err e = st->ops->exec(st->conn, "COMMIT", d);
    if (e) {
        wk_store_rollback(st);
        return e;
    }
    st->in_txn = false;
    return WK_OK;
}

void wk_store_rollback(wk_store *st)
{
    if (!st || !st->in_txn)
        return;
    (void)st->ops->exec(st->conn, "ROLLBACK", NULL);
    st->in_txn = false;
    st->savepoints = 0;
}

bool wk_store_in_txn(const wk_store *st)
{
    return st->in_txn;
}

void wk_store_poison(wk_store *st)
{
    if (st->in_txn && (st->poison_level < 0 || st->savepoints < st->poison_level))
        st->poison_level = st->savepoints;
}

wk_err wk_store_savepoint(wk_store *st, wk_diag *d)
{
    if (!st->in_txn)
        return wk_diag_set(d, WK_EINTERNAL, "store: savepoint outside a transaction");
    if (st->savepoints >= STORE_SAVEPOINT_MAX)
        return wk_diag_set(d, WK_ELIMIT, "store: more than %d nested savepoints",
                           STORE_SAVEPOINT_MAX);
    wk_err e = st->ops->exec(st->conn, "SAVEPOINT wk_sp", d);
    if (e)
        return e;
    st->savepoints++;
    return WK_OK;
}

wk_err wk_store_savepoint_release(wk_store *st, wk_diag *d)
{
    WK_ASSERT(st->savepoints > 0);
    wk_err e = st->ops->exec(st->conn, "RELEASE wk_sp", d);
    if (e)
        return e;
    if (st->poison_level == st->savepoints)
        st->poison_level--; /* the partial writes now belong to the enclosing level */
    st->savepoints--;
    return WK_OK;
}

void wk_store_savepoint_rollback(wk_store *st)
{
    WK_ASSERT(st->savepoints > 0);
    /* ROLLBACK TO keeps the savepoint open; RELEASE then drops it. Savepoint names nest
     * (the innermost of the same name is used), so one name serves every depth. */
    wk_err e = st->ops->exec(st->conn, "ROLLBACK TO wk_sp; RELEASE wk_sp", NULL);
    if (e) {
        st->poison_level = 0; /* cannot tell what is left: only a full rollback is safe */
    } else if (st->poison_level == st->savepoints) {
        st->poison_level = -1; /* the partial writes were inside it: undone */
    }
    st->savepoints--;
}

wk_err wk_store_exec(wk_store *st, const char *sql, wk_diag *d)
{
    return st->ops->exec(st->conn, sql, d);
}

wk_err wk_store_prepare(wk_store *st, const char *sql, wk_stmt **out, wk_diag *d)
{
    return st->ops->prepare(st->conn, sql, out, d);
}

wk_err wk_store_run_i64(wk_store *st, const char *sql, const int64_t *v, int n, wk_diag *d)
{
    wk_stmt *s;
    wk_err e = wk_store_prepare(st, sql, &s, d);
    if (e)
        return e;
    for (int i = 0; i < n && !e; i++)
        e = wk_stmt_bind_i64(s, i + 1, v[i]);
    bool row;
    if (!e)
        e = wk_stmt_step(s, &row, d);
    wk_stmt_reset(s);
    return e;
}

wk_err wk_stmt_bind_i64(wk_stmt *s, int idx, int64_t v)
{
    return s->ops->bind_i64(s, idx, v);
}

wk_err wk_stmt_bind_text(wk_stmt *s, int idx, const char *v, size_t len)
{
    return s->ops->bind_text(s, idx, v, len);
}

wk_err wk_stmt_bind_blob(wk_stmt *s, int idx, const void *v, size_t len)
{
    return s->ops->bind_blob(s, idx, v, len);
}

wk_err wk_stmt_bind_null(wk_stmt *s, int idx)
{
    return s->ops->bind_null(s, idx);
}

wk_err wk_stmt_step(wk_stmt *s, bool *row, wk_diag *d)
{
    return s->ops->step(s, row, d);
}

int64_t wk_stmt_i64(wk_stmt *s, int col)
{
    return s->ops->col_i64(s, col);
}

bool wk_stmt_is_null(wk_stmt *s, int col)
{
    return s->ops->col_is_null(s, col);
}

const char *wk_stmt_text(wk_stmt *s, int col, size_t *len)
{
    return s->ops->col_text(s, col, len);
}

const void *wk_stmt_blob(wk_stmt *s, int col, size_t *len)
{
    return s->ops->col_blob(s, col, len);
}

void wk_stmt_reset(wk_stmt *s)
{
    if (s)
        s->ops->reset(s);
}

int64_t wk_store_changes(wk_store *st)
{
    return st->ops->changes(st->conn);
}

const char *wk_store_backend(const wk_store *st)
{
    return st->ops->name;
}

/* ---- migrations ---- */

static const char MIGRATIONS_TABLE_SQLITE[] =
    "CREATE TABLE IF NOT EXISTS wk_schema_migrations("
    " component TEXT NOT NULL,"
    " version INTEGER NOT NULL CHECK(version > 0),"
    " name TEXT NOT NULL,"
    " applied_s INTEGER NOT NULL,"
    " PRIMARY KEY(component, version)) STRICT";

static wk_err store__current_version(wk_store *st, const char *component, int32_t *version,
                                     wk_diag *d)
{
    static const char sql[] =
        "SELECT coalesce(max(version), 0) FROM wk_schema_migrations WHERE component = ?";
    wk_stmt *s = NULL;
    bool row = false;
    wk_err e = wk_store_prepare(st, sql, &s, d);
    if (e)
        return e;
    e = wk_stmt_bind_text(s, 1, component, strlen(component));
    if (!e)
        e = wk_stmt_step(s, &row, d);
    if (!e && row)
        *version = (int32_t)wk_stmt_i64(s, 0);
    wk_stmt_reset(s);
    return e;
}

/* Applies one migration in its own transaction unless another process applied it first
 * (the version is re-read under the write lock). *ran says whether it ran here. */
static wk_err store__apply(wk_store *st, const wk_schema *sc, const wk_migration *m, bool *ran,
                           wk_diag *d)
{
    static const char sql[] = "INSERT INTO wk_schema_migrations(component, version, name, "
                              "applied_s) VALUES(?, ?, ?, ?)";
    const char *script = !strcmp(st->ops->name, "sqlite") ? m->sqlite : m->postgres;
    wk_stmt *s = NULL;
    bool row;
    wk_err e;
    if (!script)
        return wk_diag_set(d, WK_EINTERNAL, "migration %s/%d has no %s script",
                           sc->component, m->version, st->ops->name);
    int32_t have = 0;
    *ran = false;
    e = wk_store_begin(st, d);
    if (e)
        return e;
    e = store__current_version(st, sc->component, &have, d);
    if (e)
        goto fail;
    if (have >= m->version) {
        wk_store_rollback(st);
        return WK_OK;
    }
    e = wk_store_exec(st, script, d);
    if (e)
        goto fail;
    e = wk_store_prepare(st, sql, &s, d);
    if (e)
        goto fail;
    if ((e = wk_stmt_bind_text(s, 1, sc->component, strlen(sc->component))) ||
        (e = wk_stmt_bind_i64(s, 2, m->version)) ||
        (e = wk_stmt_bind_text(s, 3, m->name, strlen(m->name))) ||
        (e = wk_stmt_bind_i64(s, 4, (int64_t)time(NULL))))
        goto fail;
    e = wk_stmt_step(s, &row, d);
    wk_stmt_reset(s);
    s = NULL;
    if (e)
        goto fail;
    e = wk_store_commit(st, d);
    if (e)
        goto fail;
    *ran = true;
    return WK_OK;
fail:
    wk_stmt_reset(s);
    wk_store_rollback(st);
    wk_diag_prefix(d, "migration %s/%d (%s)", sc->component, m->version, m->name);
    return e;
}

wk_err wk_store_migrate(wk_store *st, const wk_schema *const *schemas, size_t n_schemas,
                        int32_t *n_applied, wk_diag *d)
{
    int32_t applied = 0;
    wk_err e = wk_store_exec(st, MIGRATIONS_TABLE_SQLITE, d);
    if (e)
        goto done;
    for (size_t i = 0; i < n_schemas; i++) {
        const wk_schema *sc = schemas[i];
        int32_t have = 0;
        e = store__current_version(st, sc->component, &have, d);
        if (e)
            goto done;
        int32_t known = sc->n_migrations ? sc->migrations[sc->n_migrations - 1].version : 0;
        if (have > known) {
            e = wk_diag_set(d, WK_ECONFLICT,
                            "database has %s schema version %d but this build knows only %d "
                            "(downgrade refused)",
                            sc->component, have, known);
            goto done;
        }
        for (size_t j = 0; j < sc->n_migrations; j++) {
            const wk_migration *m = &sc->migrations[j];
            WK_ASSERT(j == 0 || m->version > sc->migrations[j - 1].version);
            if (m->version <= have)
                continue;
            bool ran = false;
            e = store__apply(st, sc, m, &ran, d);
            if (e)
                goto done;
            applied += ran;
        }
    }
done:
    if (n_applied)
        *n_applied = applied;
    return e;
}
