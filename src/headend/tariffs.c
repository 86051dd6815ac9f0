/*
 * tariffs.c - the tariff documents in the database (table `tariff`), which the head-end
 * rates with, and the head-end's cache of parsed tariffs.
 *
 * A tariff is one JSON document (docs/tariffs.md) keyed by the name communities use
 * (community.tariff). The files in [headend] tariff_dir are the initial source: `wattkeeper
 * serve` copies every file whose name is not yet in the table at start-up
 * (wk_headend_tariffs_seed, idempotent); from then on the row is the reference and staff add
 * versions to it over the web API (serve_web_tariffs.c), which calls
 * wk_headend_tariffs_reload after its commit so that the next interval is rated with the
 * new document. A store without the table (the head-end's own tests) falls back to the
 * files, as before.
 */
#include "headend/headend.h"
#include "headend/internal.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>

#include "core/mem.h"
#include "proto/tariff_json.h"

#define HD_TARIFF_FILE_MAX (1 << 20)

static const char v1_sqlite[] =
    "CREATE TABLE tariff ("
    "  name TEXT PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 63),"
    "  doc TEXT NOT NULL,"
    "  origin TEXT NOT NULL CHECK (origin IN ('file', 'web')),"
    "  rev INTEGER NOT NULL DEFAULT 1 CHECK (rev >= 1),"
    "  updated_ms INTEGER NOT NULL"
    ") STRICT;";

static const wk_migration migrations[] = {
    {1, "tariff documents (seeded from tariff_dir, versions added over the web API)", v1_sqlite,
     NULL},
};

const wk_schema wk_headend_tariff_schema = {"tariffs", migrations,
                                            sizeof migrations / sizeof migrations[0]};

bool wk_headend_tariff_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 63)
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
            return false;
    return true;
}

/* Reads <dir>/<name>.json into a wk_malloc'd buffer (*len bytes). NULL + d on error. */
static char *hd__tariff_file(const char *dir, const char *name, size_t *len, wk_diag *d)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s.json", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        wk_diag_set(d, WK_ENOTFOUND, "tariff %s: cannot open %s", name, path);
        return NULL;
    }
    char *buf = wk_malloc(HD_TARIFF_FILE_MAX);
    size_t n = buf ? fread(buf, 1, HD_TARIFF_FILE_MAX, f) : 0;
    fclose(f);
    if (!buf) {
        wk_diag_set(d, WK_ENOMEM, "out of memory");
        return NULL;
    }
    if (n == HD_TARIFF_FILE_MAX) {
        wk_free(buf);
        wk_diag_set(d, WK_ELIMIT, "%s: larger than %d bytes", path, HD_TARIFF_FILE_MAX);
        return NULL;
    }
    *len = n;
    return buf;
}

/* The document of `name` from the table: wk_malloc'd text, or NULL when the table or the
 * row does not exist (then *err is WK_OK) or on a database error (*err set). */
static char *hd__tariff_row(wk_headend *hd, const char *name, size_t *len, wk_err *err, wk_diag *d)
{
    *err = WK_OK;
    wk_stmt *s;
    if (wk_store_prepare(hd->st, "SELECT doc FROM tariff WHERE name = ?", &s, NULL))
        return NULL; /* no such table: a store with the head-end schema only */
    bool row = false;
    char *out = NULL;
    wk_err e = wk_stmt_bind_text(s, 1, name, strlen(name));
    if (!e)
        e = wk_stmt_step(s, &row, d);
    if (!e && row) {
        size_t n;
        const char *t = wk_stmt_text(s, 0, &n);
        out = wk_malloc(n + 1);
        if (!out)
            e = wk_diag_set(d, WK_ENOMEM, "out of memory");
        else {
            memcpy(out, t, n);
            out[n] = '\0';
            *len = n;
        }
    }
    wk_stmt_reset(s);
    *err = e;
    return out;
}

const wk_tariff *hd__tariff_get(wk_headend *hd, const char *name, wk_diag *d)
{
    for (int i = 0; i < hd->n_tariffs; i++)
        if (!strcmp(hd->tariffs[i].name, name))
            return hd->tariffs[i].t;
    if (hd->n_tariffs == HD_TARIFFS_MAX) {
        wk_diag_set(d, WK_ELIMIT, "more than %d tariffs", HD_TARIFFS_MAX);
        return NULL;
    }
    if (!wk_headend_tariff_name_ok(name)) {
        wk_diag_set(d, WK_EINVAL, "tariff name \"%s\": expected a-z, 0-9, - or _", name);
        return NULL;
    }
    size_t n = 0;
    wk_err e;
    char where[1200];
    char *buf = hd__tariff_row(hd, name, &n, &e, d);
    if (e)
        return NULL;
    if (buf)
        snprintf(where, sizeof where, "tariff %s (database)", name);
    else {
        snprintf(where, sizeof where, "%s/%s.json", hd->tariff_dir, name);
        buf = hd__tariff_file(hd->tariff_dir, name, &n, d);
        if (!buf)
            return NULL;
    }
    wk_tariff *t = wk_calloc(1, sizeof *t);
    wk_diag sub;
    if (!t || wk_tariff_json_parse(buf, n, t, &sub)) {
        wk_diag_set(d, WK_EINVAL, "%s: %s", where, t ? sub.msg : "out of memory");
        wk_free(buf);
        wk_free(t);
        return NULL;
    }
    wk_free(buf);
    hd_tariff *slot = &hd->tariffs[hd->n_tariffs++];
    snprintf(slot->name, sizeof slot->name, "%s", name);
    slot->t = t;
    return t;
}

const wk_tariff *wk_headend_tariff(wk_headend *hd, const char *name, wk_diag *d)
{
    return hd__tariff_get(hd, name, d);
}

void wk_headend_tariffs_reload(wk_headend *hd)
{
    for (int i = 0; i < hd->n_tariffs; i++)
        wk_free(hd->tariffs[i].t);
    hd->n_tariffs = 0;
}

wk_err wk_headend_tariffs_seed(wk_headend *hd, int64_t now_ms, int *added, int *skipped,
                               wk_diag *d)
{
    *added = 0;
    *skipped = 0;
    DIR *dir = opendir(hd->tariff_dir);
    if (!dir)
        return wk_diag_set(d, WK_ENOTFOUND, "tariff_dir %s: cannot open", hd->tariff_dir);
    wk_err e = wk_store_begin(hd->st, d);
    if (e) {
        closedir(dir);
        return e;
    }
    struct dirent *de;
    while (!e && (de = readdir(dir))) {
        char name[64];
        size_t len = strlen(de->d_name);
        if (len < 6 || len - 5 >= sizeof name || strcmp(de->d_name + len - 5, ".json"))
            continue;
        memcpy(name, de->d_name, len - 5);
        name[len - 5] = '\0';
        if (!wk_headend_tariff_name_ok(name)) {
            (*skipped)++;
            continue;
        }
        size_t n = 0;
        wk_diag sub = {{0}};
        char *buf = hd__tariff_file(hd->tariff_dir, name, &n, &sub);
        wk_tariff *t = buf ? wk_calloc(1, sizeof *t) : NULL;
        bool ok = t && !wk_tariff_json_parse(buf, n, t, &sub);
        wk_free(t);
        if (!ok) { /* a bad file is left to the file fallback, which reports it when used */
            (*skipped)++;
            wk_free(buf);
            continue;
        }
        wk_stmt *s;
        bool row;
        if (!(e = wk_store_prepare(hd->st,
                                   "INSERT INTO tariff (name, doc, origin, updated_ms)"
                                   " VALUES (?, ?, 'file', ?) ON CONFLICT (name) DO NOTHING",
                                   &s, d))) {
            if (!(e = wk_stmt_bind_text(s, 1, name, strlen(name))) &&
                !(e = wk_stmt_bind_text(s, 2, buf, n)) && !(e = wk_stmt_bind_i64(s, 3, now_ms)))
                e = wk_stmt_step(s, &row, d);
            if (!e && wk_store_changes(hd->st) > 0)
                (*added)++;
            wk_stmt_reset(s);
        }
        wk_free(buf);
    }
    closedir(dir);
    if (!e)
        e = wk_store_commit(hd->st, d);
    if (e)
        wk_store_rollback(hd->st);
    else
        wk_headend_tariffs_reload(hd);
    return e;
}
