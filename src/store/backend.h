/*
 * backend.h - what a storage backend implements (internal to src/store). store.c parses the
 * URL, runs migrations and forwards every public call through one of these tables; a new
 * backend (PostgreSQL) adds a file implementing it and one line in store.c's URL switch.
 */
#ifndef WK_STORE_BACKEND_H
#define WK_STORE_BACKEND_H

#include "store/store.h"

/* A prepared statement: the backend owns and caches these; impl is its native handle. */
struct wk_stmt {
    const struct wk_store_ops *ops;
    void *impl;
    const char *sql; /* the caller's string last used (a lookup hint, never dereferenced) */
    void *conn;      /* the backend connection it belongs to */
};

typedef struct wk_store_ops {
    const char *name;
    wk_err (*open)(const char *target, const wk_store_opts *o, void **conn, wk_diag *d);
    void (*close)(void *conn);
    wk_err (*exec)(void *conn, const char *sql, wk_diag *d);
    wk_err (*prepare)(void *conn, const char *sql, wk_stmt **out, wk_diag *d);
    wk_err (*bind_i64)(wk_stmt *s, int idx, int64_t v);
    wk_err (*bind_text)(wk_stmt *s, int idx, const char *v, size_t len);
    wk_err (*bind_blob)(wk_stmt *s, int idx, const void *v, size_t len);
    wk_err (*bind_null)(wk_stmt *s, int idx);
    wk_err (*step)(wk_stmt *s, bool *row, wk_diag *d);
    int64_t (*col_i64)(wk_stmt *s, int col);
    bool (*col_is_null)(wk_stmt *s, int col);
    const char *(*col_text)(wk_stmt *s, int col, size_t *len);
    const void *(*col_blob)(wk_stmt *s, int col, size_t *len);
    void (*reset)(wk_stmt *s);
    int64_t (*changes)(void *conn);
} wk_store_ops;

extern const wk_store_ops wk_store__sqlite_ops;

#endif
