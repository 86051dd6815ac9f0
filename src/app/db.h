/*
 * db.h - how the binary opens its database: the list of every component's migrations (in
 * dependency order; later layers add their wk_schema here) and the default locations of
 * the database and of the log signing key.
 */
#ifndef WK_APP_DB_H
#define WK_APP_DB_H

#include <stdbool.h>
#include <stddef.h>

#include "ledger/ledger.h"
#include "store/store.h"

#define WK_APP_DB_DEFAULT "wattkeeper.db"
#define WK_APP_ORIGIN_DEFAULT "wattkeeper.local/ledger"
#define WK_APP_PATH_MAX 4096

extern const wk_schema *const wk_app_schemas[];
extern const size_t wk_app_n_schemas;

/* Opens (and migrates) the database at url (NULL = default). Prints the error and returns
 * false on failure. */
bool wk_app_db_open(const char *url, wk_store **st);

/* The log key file: explicit path, else "<database path>.logkey". false if it cannot be
 * derived (e.g. ":memory:" without --log-key-file). */
bool wk_app_key_path(const char *url, const char *explicit_path, char *out, size_t cap);

/* Opens the database and a ledger with the log key loaded (created at first start).
 * Prints errors; false on failure. On success the caller closes both. */
bool wk_app_ledger_open(const char *url, const char *key_file, const char *origin,
                        wk_store **st, wk_ledger **lg);

#endif
