/*
 * db.c - database and log-key wiring for the subcommands (see db.h).
 */
#include "app/db.h"

#include "api/auth.h"
#include "headend/headend.h"
#include "notify/notify.h"
#include "pay/pay.h"

#include <stdio.h>
#include <string.h>

const wk_schema *const wk_app_schemas[] = {
    &wk_ledger_schema,
    &wk_headend_schema,
    &wk_headend_tariff_schema,
    &wk_pay_schema,
    &wk_auth_schema,
    &wk_notify_schema,
};
const size_t wk_app_n_schemas = sizeof wk_app_schemas / sizeof wk_app_schemas[0];

bool wk_app_db_open(const char *url, wk_store **st)
{
    wk_diag d = {{0}};
    wk_store_opts o = {.busy_timeout_ms = 10000, .migrate = true, .create = true};
    if (!url)
        url = WK_APP_DB_DEFAULT;
    wk_err e = wk_store_open(url, &o, wk_app_schemas, wk_app_n_schemas, st, &d);
    if (e) {
        fprintf(stderr, "wattkeeper: %s (%s)\n", d.msg, wk_err_str(e));
        return false;
    }
    return true;
}

bool wk_app_key_path(const char *url, const char *explicit_path, char *out, size_t cap)
{
    if (explicit_path) {
        if (strlen(explicit_path) >= cap)
            return false;
        snprintf(out, cap, "%s", explicit_path);
        return true;
    }
    if (!url)
        url = WK_APP_DB_DEFAULT;
    if (!strncmp(url, "sqlite:", 7))
        url += 7;
    if (!*url || !strcmp(url, ":memory:") || strstr(url, "://"))
        return false;
    int n = snprintf(out, cap, "%s.logkey", url);
    return n > 0 && (size_t)n < cap;
}

bool wk_app_ledger_open(const char *url, const char *key_file, const char *origin,
                        wk_store **st, wk_ledger **lg)
{
    char path[WK_APP_PATH_MAX];
    wk_note_signer signer;
    wk_diag d = {{0}};
    bool created = false;
    *st = NULL;
    *lg = NULL;
    if (!wk_app_db_open(url, st))
        return false;
    if (!wk_app_key_path(url, key_file, path, sizeof path)) {
        fprintf(stderr, "wattkeeper: --log-key-file: needed for this database URL\n");
        goto fail;
    }
    wk_err e = wk_ledger_key_load_or_create(path, origin ? origin : WK_APP_ORIGIN_DEFAULT,
                                            &signer, &created, &d);
    if (e) {
        fprintf(stderr, "wattkeeper: %s (%s)\n", d.msg, wk_err_str(e));
        goto fail;
    }
    if (created)
        fprintf(stderr, "wattkeeper: generated log key %s\n", path);
    wk_ledger_opts lo = {.checkpoint_every_leaves = 1000, .checkpoint_interval_s = 300};
    e = wk_ledger_open(*st, &lo, &signer, lg, &d);
    if (e) {
        fprintf(stderr, "wattkeeper: %s\n", d.msg);
        goto fail;
    }
    memset(&signer, 0, sizeof signer);
    return true;
fail:
    memset(&signer, 0, sizeof signer);
    wk_store_close(*st);
    *st = NULL;
    return false;
}
