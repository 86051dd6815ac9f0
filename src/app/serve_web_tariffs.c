/*
 * serve_web_tariffs.c - web API module (see serve_web.h): tariffs stored in the database
 * (list, price matrix of each version, adding a version) and the bill explanation of a
 * day (the deduction lines of an account, rated again from its stored readings).
 *
 * Tenancy (docs/api.md, "Tariffs and bills"): a staff member sees a tariff when at least
 * one community in their scope uses it (community.tariff); any other name answers 404
 * exactly like a missing one. Adding a version changes the prices of every community
 * using the tariff, so it needs the admin or finance role AND that no community of
 * another company (or one not yet assigned to a company) uses it: a shared tariff is
 * changed by the operator (files, then `wattkeeper serve` seeds them), never by one of
 * its tenants (403).
 *
 * A new version starts at 00:00 China time (+08:00) of a day strictly after today: rated
 * intervals are never re-priced, so a past bill never changes, and the bill explanation
 * (which re-rates the stored readings with the current document) explains exactly what
 * was deducted. After the commit the head-end's tariff cache is emptied on the main loop
 * (wk_headend_tariffs_reload): the next interval is rated with the new document, no
 * restart needed.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/serve_web.h"
#include "core/civil.h"
#include "core/mem.h"
#include "core/rating.h"
#include "core/readings.h"
#include "core/tariff.h"
#include "core/units.h"
#include "headend/headend.h"
#include "proto/tariff_json.h"
#include "store/store.h"

#define TW_BODY_MAX (64 * 1024) /* a version document with its calendar */
#define TW_CST (8 * 3600)
#define TW_COMMUNITIES_MAX 200
#define TW_READINGS_MAX 2000000 /* replayed readings of one meter for one bill */

typedef struct tw_args {
    char name[64];
    /* add a version */
    int64_t effective_day; /* days since the epoch (China date) */
    char effective_date[11];
    json_t *version; /* borrowed from the handler's body */
    const char *reason;
    char field[96]; /* the error's field (outlives the call) */
    /* bill */
    int64_t account_id;
    int64_t day;
} tw_args;

/* ---- helpers (main loop) ---- */

static json_t *tw__yuan(int64_t v, int scale, int min_dec)
{
    char b[40];
    return json_string(wk_dec_format(v, scale, min_dec, b, sizeof b));
}

static json_t *tw__time(int64_t s)
{
    char b[40];
    return json_string(wk_time_format(s, TW_CST, b, sizeof b));
}

static void tw__set(json_t *o, const char *k, json_t *v)
{
    if (o)
        json_object_set_new(o, k, v ? v : json_null());
}

/* The tariff row: document text (wk_malloc'd), rowid and revision. Returns false and
 * fails c with 404 when there is none, 500 on a database error. */
static bool tw__row(wk_web_call *c, const wk_serve_env *env, const char *name, char **doc,
                    int64_t *rowid, int64_t *rev, char *origin, size_t origin_cap)
{
    wk_diag d = {{0}};
    wk_stmt *st;
    if (wk_store_prepare(env->st, "SELECT doc, rowid, rev, origin FROM tariff WHERE name = ?",
                         &st, &d)) {
        wk_web_internal(c, &d);
        return false;
    }
    bool row = false;
    wk_err e = wk_stmt_bind_text(st, 1, name, strlen(name));
    if (!e)
        e = wk_stmt_step(st, &row, &d);
    if (!e && row) {
        size_t n, on;
        const char *t = wk_stmt_text(st, 0, &n);
        *doc = wk_malloc(n + 1);
        if (*doc) {
            memcpy(*doc, t, n);
            (*doc)[n] = '\0';
        } else
            e = wk_diag_set(&d, WK_ENOMEM, "out of memory");
        *rowid = wk_stmt_i64(st, 1);
        *rev = wk_stmt_i64(st, 2);
        const char *o = wk_stmt_text(st, 3, &on);
        snprintf(origin, origin_cap, "%.*s", (int)on, o);
    }
    wk_stmt_reset(st);
    if (e) {
        wk_web_internal(c, &d);
        return false;
    }
    if (!row) {
        wk_web_fail(c, 404, "not_found", NULL, "no such tariff");
        return false;
    }
    return true;
}

/* The caller's communities using `name` (JSON array of {id, name}) and whether any
 * community outside the caller's company (another company's, or unassigned) uses it. */
static bool tw__usage(wk_web_call *c, const wk_serve_env *env, const char *name, json_t **mine,
                      bool *foreign)
{
    wk_diag d = {{0}};
    wk_stmt *st;
    *mine = json_array();
    *foreign = false;
    if (!*mine || wk_store_prepare(env->st,
                                   "SELECT c.id, c.name, " WK_WEB_SCOPE("c", "?1", "?2") ","
                                   " c.company_id IS NULL OR c.company_id <> ?1"
                                   " FROM community c WHERE c.tariff = ?3 ORDER BY c.id",
                                   &st, &d)) {
        json_decref(*mine);
        *mine = NULL;
        wk_web_internal(c, &d);
        return false;
    }
    bool row = false;
    wk_err e = wk_stmt_bind_i64(st, 1, c->sess.user.company_id);
    if (!e)
        e = wk_web_bind_scope_user(st, 2, c);
    if (!e)
        e = wk_stmt_bind_text(st, 3, name, strlen(name));
    while (!e && !(e = wk_stmt_step(st, &row, &d)) && row) {
        if (wk_stmt_i64(st, 3))
            *foreign = true;
        if (wk_stmt_i64(st, 2) && json_array_size(*mine) < TW_COMMUNITIES_MAX) {
            size_t n;
            const char *cn = wk_stmt_text(st, 1, &n);
            json_array_append_new(*mine, json_pack("{s:I, s:s%}", "id",
                                                   (json_int_t)wk_stmt_i64(st, 0), "name", cn, n));
        }
    }
    wk_stmt_reset(st);
    if (e) {
        json_decref(*mine);
        *mine = NULL;
        wk_web_internal(c, &d);
        return false;
    }
    return true;
}

static bool tw__can_add(const wk_web_call *c, bool foreign)
{
    wk_role r = c->sess.user.role;
    return !foreign && (r == WK_ROLE_ADMIN || r == WK_ROLE_FINANCE);
}

static const char *const tw_daytypes[] = {"workday", "weekend", "holiday"};

/* One version in a shape a page renders: dates, tiers, the slot x tier price matrix
 * (micro-yuan per kWh and yuan strings), slot maps, seasons with their day types, and
 * the version's own JSON (raw, for the add form). */
static json_t *tw__version_json(const wk_tariff_version *v, int index, json_t *raw)
{
    json_t *o = json_object();
    static const char *const cycles[] = {"none", "monthly", "annual"};
    char b[40];
    tw__set(o, "index", json_integer(index));
    tw__set(o, "effective_from", tw__time(v->effective_from_s));
    tw__set(o, "effective_to",
            v->effective_to_s == INT64_MAX ? json_null() : tw__time(v->effective_to_s));
    tw__set(o, "utc_offset_s", json_integer(v->utc_offset_s));
    tw__set(o, "unverified", v->unverified[0] ? json_string(v->unverified) : json_null());
    tw__set(o, "cycle", json_string(cycles[v->cycle]));
    tw__set(o, "allocation",
            json_string(v->allocation == WK_ALLOC_PROPORTIONAL ? "proportional" : "chronological"));
    tw__set(o, "settlement_month", json_integer(v->settlement_month));
    tw__set(o, "settlement_day", json_integer(v->settlement_day));
    tw__set(o, "tiers", json_integer(v->n_tiers));
    json_t *thr = json_array(), *thw = json_array();
    for (int k = 0; k + 1 < v->n_tiers; k++) {
        json_array_append_new(thr, json_string(wk_dec_format(v->thresholds_wh[k], 3, 0, b, sizeof b)));
        json_array_append_new(thw, json_integer(v->thresholds_wh[k]));
    }
    tw__set(o, "thresholds_kwh", thr);
    tw__set(o, "thresholds_wh", thw);
    json_t *matrix = json_array();
    for (int s = 0; s < WK_SLOT_N; s++) {
        if (v->price_uyuan[0][s] < 0)
            continue;
        json_t *prices = json_array();
        for (int k = 0; k < v->n_tiers; k++)
            json_array_append_new(prices,
                                  json_pack("{s:i, s:I, s:o}", "tier", k + 1, "price_uyuan_per_kwh",
                                            (json_int_t)v->price_uyuan[k][s], "price_yuan",
                                            tw__yuan(v->price_uyuan[k][s], 6, 4)));
        json_array_append_new(matrix, json_pack("{s:s, s:o}", "slot", wk_slot_name((wk_slot)s),
                                                "prices", prices));
    }
    tw__set(o, "matrix", matrix);
    json_t *maps = json_array();
    for (int m = 0; m < v->n_maps; m++) {
        const wk_slot_map *map = &v->maps[m];
        json_t *ranges = json_array();
        for (int i = 0; i < map->n; i++) {
            int from = map->start_min[i], to = i + 1 < map->n ? map->start_min[i + 1] : 1440;
            char f[8], t[8];
            snprintf(f, sizeof f, "%02d:%02d", from / 60, from % 60);
            snprintf(t, sizeof t, "%02d:%02d", to / 60, to % 60);
            json_array_append_new(ranges, json_pack("{s:s, s:s, s:s}", "from", f, "to", t, "slot",
                                                    wk_slot_name((wk_slot)map->slot[i])));
        }
        json_array_append_new(maps, json_pack("{s:s, s:o}", "name", map->name, "ranges", ranges));
    }
    tw__set(o, "maps", maps);
    json_t *seasons = json_array();
    for (int si = 0; si < v->n_seasons; si++) {
        const wk_season *se = &v->seasons[si];
        json_t *js = json_object(), *months = json_array(), *days = json_object();
        for (int m = 1; m <= 12; m++)
            if (se->month_mask & (1u << m))
                json_array_append_new(months, json_integer(m));
        tw__set(js, "name", json_string(se->name));
        tw__set(js, "months", months);
        if (se->from_mmdd || se->to_mmdd) {
            char f[8], t[8];
            snprintf(f, sizeof f, "%02d-%02d", se->from_mmdd / 100, se->from_mmdd % 100);
            snprintf(t, sizeof t, "%02d-%02d", se->to_mmdd / 100, se->to_mmdd % 100);
            tw__set(js, "dates", json_pack("{s:s, s:s}", "from", f, "to", t));
        } else
            tw__set(js, "dates", json_null());
        /* day types with the fall-backs resolved: weekend -> workday, holiday -> weekend */
        int wd = se->map[WK_DAY_WORKDAY];
        int we = se->map[WK_DAY_WEEKEND] >= 0 ? se->map[WK_DAY_WEEKEND] : wd;
        int ho = se->map[WK_DAY_HOLIDAY] >= 0 ? se->map[WK_DAY_HOLIDAY] : we;
        int idx[3] = {wd, we, ho};
        for (int t = 0; t < 3; t++)
            if (idx[t] >= 0 && idx[t] < v->n_maps)
                tw__set(days, tw_daytypes[t], json_string(v->maps[idx[t]].name));
        for (int f = 0; f < v->n_flags; f++) {
            int mi = se->map[WK_DAY_FLAG0 + f];
            if (mi >= 0 && mi < v->n_maps)
                tw__set(days, v->flag_names[f], json_string(v->maps[mi].name));
        }
        tw__set(js, "days", days);
        json_t *st = json_array();
        for (int k = 0; k < se->n_thresholds; k++)
            json_array_append_new(st, json_string(wk_dec_format(se->thresholds_wh[k], 3, 0, b,
                                                                sizeof b)));
        tw__set(js, "thresholds_kwh", st);
        json_array_append_new(seasons, js);
    }
    tw__set(o, "seasons", seasons);
    tw__set(o, "json", raw ? json_incref(raw) : json_null());
    return o;
}

/* Parses the stored document. On failure fails c (500: a stored document always parsed
 * when it was written). *t is wk_calloc'd; *root the JSON (caller decrefs both). */
static bool tw__parse(wk_web_call *c, const char *doc, wk_tariff **t, json_t **root)
{
    wk_diag d = {{0}};
    json_error_t je;
    *t = wk_calloc(1, sizeof **t);
    *root = json_loads(doc, JSON_REJECT_DUPLICATES, &je);
    if (!*t || !*root || wk_tariff_json_parse(doc, strlen(doc), *t, &d)) {
        if (!d.msg[0])
            snprintf(d.msg, sizeof d.msg, "stored tariff does not parse");
        wk_free(*t);
        json_decref(*root);
        *t = NULL;
        *root = NULL;
        wk_web_internal(c, &d);
        return false;
    }
    return true;
}

/* The tariff as GET /api/v1/tariffs/{name} answers it (full = with every version's
 * matrix; otherwise only the versions' dates). Consumes mine. */
static json_t *tw__tariff_json(const wk_serve_env *env, const char *name, const wk_tariff *t,
                               json_t *root, int64_t rev, const char *origin, json_t *mine,
                               bool can_add, bool full)
{
    json_t *o = json_object();
    tw__set(o, "name", json_string(name));
    tw__set(o, "source", json_string(t->source));
    json_t *comment = json_object_get(root, "comment");
    tw__set(o, "comment", json_is_string(comment) ? json_incref(comment) : json_null());
    tw__set(o, "rev", json_integer(rev));
    tw__set(o, "origin", json_string(origin));
    tw__set(o, "communities", mine);
    tw__set(o, "can_add", json_boolean(can_add));
    json_t *vs = json_array(), *raw = json_object_get(root, "versions");
    for (int i = 0; i < t->n_versions; i++) {
        const wk_tariff_version *v = &t->versions[i];
        if (full)
            json_array_append_new(vs, tw__version_json(v, i, json_array_get(raw, (size_t)i)));
        else
            json_array_append_new(
                vs, json_pack("{s:i, s:o, s:o}", "index", i, "effective_from",
                              tw__time(v->effective_from_s), "effective_to",
                              v->effective_to_s == INT64_MAX ? json_null()
                                                             : tw__time(v->effective_to_s)));
    }
    tw__set(o, "versions", vs);
    int64_t now_s = env->now_ms / 1000;
    int cur = wk_tariff_version_at(t, now_s);
    tw__set(o, "current_version", cur >= 0 ? json_integer(cur) : json_null());
    if (full) { /* what the head-end rates with right now (its cache, reloaded on change) */
        wk_diag d = {{0}};
        const wk_tariff *e = wk_headend_tariff(env->hd, name, &d);
        json_t *ev = json_array();
        for (int i = 0; e && i < e->n_versions; i++)
            json_array_append_new(ev, tw__time(e->versions[i].effective_from_s));
        tw__set(o, "engine_versions", ev);
    }
    return o;
}

/* ---- GET /api/v1/tariffs ---- */

static void tw__op_list(wk_web_call *c, const wk_serve_env *env)
{
    if (!wk_web_role(c, WK_WEB_ANY_STAFF, "admin, finance, service or technician"))
        return;
    wk_diag d = {{0}};
    wk_stmt *st;
    /* names first (the statement is finished before the per-tariff queries) */
    char names[64][64];
    int n = 0;
    if (wk_store_prepare(env->st,
                         "SELECT t.name FROM tariff t WHERE EXISTS (SELECT 1 FROM community c"
                         " WHERE c.tariff = t.name AND " WK_WEB_SCOPE("c", "?1", "?2") ")"
                         " ORDER BY t.name",
                         &st, &d)) {
        wk_web_internal(c, &d);
        return;
    }
    bool row = false;
    wk_err e = wk_stmt_bind_i64(st, 1, c->sess.user.company_id);
    if (!e)
        e = wk_web_bind_scope_user(st, 2, c);
    while (!e && !(e = wk_stmt_step(st, &row, &d)) && row && n < 64) {
        size_t len;
        const char *t = wk_stmt_text(st, 0, &len);
        snprintf(names[n++], sizeof names[0], "%.*s", (int)len, t);
    }
    wk_stmt_reset(st);
    if (e) {
        wk_web_internal(c, &d);
        return;
    }
    json_t *items = json_array();
    for (int i = 0; i < n; i++) {
        char *doc = NULL, origin[16];
        int64_t rowid, rev;
        json_t *mine, *root;
        bool foreign;
        wk_tariff *t;
        if (!tw__row(c, env, names[i], &doc, &rowid, &rev, origin, sizeof origin))
            break;
        bool ok = tw__parse(c, doc, &t, &root);
        wk_free(doc);
        if (!ok)
            break;
        if (!tw__usage(c, env, names[i], &mine, &foreign)) {
            wk_free(t);
            json_decref(root);
            break;
        }
        json_array_append_new(items, tw__tariff_json(env, names[i], t, root, rev, origin, mine,
                                                     tw__can_add(c, foreign), false));
        wk_free(t);
        json_decref(root);
    }
    if (c->status != 200) {
        json_decref(items);
        return;
    }
    c->body = json_pack("{s:o}", "items", items);
}

static int tw__list(wk_http_req *req, wk_http_resp *resp, void *ctx)
{
    (void)req;
    (void)ctx;
    wk_web_call c;
    wk_web_call_init(&c, req, true);
    c.op = tw__op_list;
    return wk_web_run(&c, resp);
}

/* ---- GET /api/v1/tariffs/{name} ---- */

/* Loads the visible tariff a->name: fails c with 404 when it is not used in the caller's
 * scope (or does not exist). */
static bool tw__load(wk_web_call *c, const wk_serve_env *env, const char *name, wk_tariff **t,
                     json_t **root, int64_t *rowid, int64_t *rev, char *origin, size_t oc,
                     json_t **mine, bool *foreign)
{
    if (!tw__usage(c, env, name, mine, foreign))
        return false;
    if (json_array_size(*mine) == 0) {
        json_decref(*mine);
        wk_web_fail(c, 404, "not_found", NULL, "no such tariff");
        return false;
    }
    char *doc = NULL;
    if (!tw__row(c, env, name, &doc, rowid, rev, origin, oc)) {
        json_decref(*mine);
        return false;
    }
    bool ok = tw__parse(c, doc, t, root);
    wk_free(doc);
    if (!ok)
        json_decref(*mine);
    return ok;
}

static void tw__op_get(wk_web_call *c, const wk_serve_env *env)
{
    tw_args *a = c->arg;
    if (!wk_web_role(c, WK_WEB_ANY_STAFF, "admin, finance, service or technician"))
        return;
    wk_tariff *t;
    json_t *root, *mine;
    int64_t rowid, rev;
    char origin[16];
    bool foreign;
    if (!tw__load(c, env, a->name, &t, &root, &rowid, &rev, origin, sizeof origin, &mine,
                  &foreign))
        return;
    c->body = tw__tariff_json(env, a->name, t, root, rev, origin, mine, tw__can_add(c, foreign),
                              true);
    wk_free(t);
    json_decref(root);
}

/* The tariff name of rest ("name" or "name/versions"); false if malformed. */
static bool tw__name(const char *rest, char *out, size_t cap, const char **tail)
{
    const char *slash = strchr(rest, '/');
    size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
    if (n == 0 || n >= cap)
        return false;
    memcpy(out, rest, n);
    out[n] = '\0';
    *tail = slash ? slash : "";
    return wk_headend_tariff_name_ok(out);
}

static int tw__get(wk_http_req *req, wk_http_resp *resp, void *ctx)
{
    (void)ctx;
    tw_args a;
    memset(&a, 0, sizeof a);
    const char *tail;
    if (!tw__name(wk_http_req_path_rest(req), a.name, sizeof a.name, &tail) || *tail)
        return wk_web_err(resp, 404, "not_found", "no such tariff", NULL);
    wk_web_call c;
    wk_web_call_init(&c, req, true);
    c.op = tw__op_get;
    c.arg = &a;
    return wk_web_run(&c, resp);
}

/* ---- POST /api/v1/tariffs/{name}/versions ---- */

/* The JSON path a tariff parser message starts with, the new version's prefix
 * "versions[k]" written as "version" (the request's field): into field; msg rewritten
 * the same way. */
static void tw__error_path(const char *msg, int k, char *field, size_t fcap, char *out,
                           size_t ocap)
{
    char prefix[32];
    int pn = snprintf(prefix, sizeof prefix, "versions[%d]", k);
    if (!strncmp(msg, prefix, (size_t)pn) && (msg[pn] == '.' || msg[pn] == ':' || msg[pn] == ' '))
        snprintf(out, ocap, "version%s", msg + pn);
    else
        snprintf(out, ocap, "%s", msg);
    size_t n = strcspn(out, ": ");
    if (strncmp(out, "version", 7) && strncmp(out, "(top level)", 11))
        snprintf(field, fcap, "version"); /* a message without a path (e.g. JSON syntax) */
    else
        snprintf(field, fcap, "%.*s", (int)(n < fcap ? n : fcap - 1), out);
}

static json_t *tw__dates_json(const wk_tariff *t)
{
    json_t *a = json_array();
    for (int i = 0; i < t->n_versions; i++)
        json_array_append_new(a, tw__time(t->versions[i].effective_from_s));
    return json_pack("{s:i, s:o}", "versions", t->n_versions, "effective_from", a);
}

static void tw__op_add(wk_web_call *c, const wk_serve_env *env)
{
    tw_args *a = c->arg;
    if (!wk_web_role(c, WK_WEB_ADMIN | WK_WEB_FINANCE, "admin or finance"))
        return;
    wk_tariff *t = NULL, *nt = NULL;
    json_t *root = NULL, *mine = NULL;
    int64_t rowid, rev;
    char origin[16];
    bool foreign;
    char *text = NULL, *before = NULL, *after = NULL;
    if (!tw__load(c, env, a->name, &t, &root, &rowid, &rev, origin, sizeof origin, &mine,
                  &foreign))
        return;
    json_decref(mine);
    if (foreign) {
        wk_web_fail(c, 403, "forbidden", NULL,
                    "this tariff is also used by communities of another company: only the "
                    "operator can change it");
        goto done;
    }
    int64_t today = wk_floor_div(env->now_ms / 1000 + TW_CST, 86400);
    if (a->effective_day <= today) {
        wk_web_fail(c, 400, "invalid", "effective_date",
                    "must be after today (China time, +08:00): a past bill never changes");
        goto done;
    }
    if (t->n_versions >= WK_VERSIONS_MAX) {
        char m[64];
        snprintf(m, sizeof m, "a tariff holds at most %d versions", WK_VERSIONS_MAX);
        wk_web_fail(c, 409, "conflict", NULL, m);
        goto done;
    }
    int64_t from_s = a->effective_day * 86400 - TW_CST;
    char from[40];
    wk_time_format(from_s, TW_CST, from, sizeof from);
    json_t *v = json_deep_copy(a->version);
    if (!v) {
        wk_web_fail(c, 500, "internal", NULL, "out of memory");
        goto done;
    }
    json_t *ef = json_object_get(v, "effective_from");
    if (ef) {
        int64_t s;
        int32_t o;
        wk_diag sub;
        if (!json_is_string(ef) ||
            wk_time_parse(json_string_value(ef), json_string_length(ef), &s, &o, &sub) ||
            s != from_s) {
            json_decref(v);
            wk_web_fail(c, 400, "invalid", "version.effective_from",
                        "leave it out or give the effective date's 00:00+08:00");
            goto done;
        }
    }
    if (json_object_get(v, "effective_to")) {
        json_decref(v);
        wk_web_fail(c, 400, "invalid", "version.effective_to",
                    "a new version runs until the next one: leave effective_to out");
        goto done;
    }
    json_object_set_new(v, "effective_from", json_string(from));
    /* insert in order of effective_from */
    int k = 0;
    for (; k < t->n_versions; k++) {
        if (t->versions[k].effective_from_s == from_s) {
            json_decref(v);
            wk_web_fail(c, 409, "conflict", "effective_date",
                        "a version already starts on this date");
            goto done;
        }
        if (t->versions[k].effective_from_s > from_s)
            break;
    }
    json_t *versions = json_object_get(root, "versions");
    if (json_array_insert_new(versions, (size_t)k, v)) {
        wk_web_fail(c, 500, "internal", NULL, "out of memory");
        goto done;
    }
    text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    nt = wk_calloc(1, sizeof *nt);
    if (!text || !nt) {
        wk_web_fail(c, 500, "internal", NULL, "out of memory");
        goto done;
    }
    wk_diag pd = {{0}};
    if (wk_tariff_json_parse(text, strlen(text), nt, &pd)) {
        char field[96], msg[WK_DIAG_MAX + 16];
        tw__error_path(pd.msg, k, field, sizeof field, msg, sizeof msg);
        snprintf(a->field, sizeof a->field, "%s", field); /* outlives the call */
        wk_web_fail(c, 400, "invalid", a->field, msg);
        goto done;
    }
    json_t *bj = tw__dates_json(t), *aj = tw__dates_json(nt);
    before = json_dumps(bj, JSON_COMPACT);
    after = json_dumps(aj, JSON_COMPACT);
    json_decref(bj);
    json_decref(aj);
    char reason[300];
    if (a->reason)
        snprintf(reason, sizeof reason, "%s", a->reason);
    else
        snprintf(reason, sizeof reason, "new version of %s from %s", a->name, a->effective_date);
    wk_diag d = {{0}};
    wk_err e = wk_store_begin(env->st, &d);
    if (!e) {
        wk_stmt *st;
        bool row;
        if (!(e = wk_store_prepare(env->st,
                                   "UPDATE tariff SET doc = ?, origin = 'web', rev = rev + 1,"
                                   " updated_ms = ? WHERE name = ? AND rev = ?",
                                   &st, &d))) {
            if (!(e = wk_stmt_bind_text(st, 1, text, strlen(text))) &&
                !(e = wk_stmt_bind_i64(st, 2, env->now_ms)) &&
                !(e = wk_stmt_bind_text(st, 3, a->name, strlen(a->name))) &&
                !(e = wk_stmt_bind_i64(st, 4, rev)))
                e = wk_stmt_step(st, &row, &d);
            if (!e && wk_store_changes(env->st) != 1)
                e = wk_diag_set(&d, WK_ECONFLICT, "the tariff changed meanwhile");
            wk_stmt_reset(st);
        }
        if (!e)
            e = wk_auth_audit(env->st, &c->sess.user, "tariff_version_add", "tariff", rowid,
                              reason, before, after, env->now_ms, &d);
        if (!e)
            e = wk_store_commit(env->st, &d);
        if (e)
            wk_store_rollback(env->st);
    }
    if (e == WK_ECONFLICT) {
        wk_web_fail(c, 409, "conflict", NULL, d.msg);
        goto done;
    }
    if (e) {
        wk_web_internal(c, &d);
        goto done;
    }
    /* the head-end rates the next interval with the new document */
    wk_headend_tariffs_reload(env->hd);
    if (tw__usage(c, env, a->name, &mine, &foreign)) {
        json_t *nroot = json_loads(text, 0, NULL);
        c->body = tw__tariff_json(env, a->name, nt, nroot, rev + 1, "web", mine,
                                  tw__can_add(c, foreign), true);
        json_decref(nroot);
        c->status = 201;
    }
done:
    free(text);
    free(before);
    free(after);
    wk_free(nt);
    wk_free(t);
    json_decref(root);
}

static int tw__post(wk_http_req *req, wk_http_resp *resp, void *ctx)
{
    (void)ctx;
    tw_args a;
    memset(&a, 0, sizeof a);
    const char *tail;
    if (!tw__name(wk_http_req_path_rest(req), a.name, sizeof a.name, &tail) ||
        strcmp(tail, "/versions"))
        return wk_web_err(resp, 404, "not_found", "no such route", NULL);
    wk_web_call c;
    wk_web_call_init(&c, req, true);
    int rc = 0;
    json_t *j = wk_web_json_body(req, resp, &rc);
    if (!j)
        return rc;
    static const char *const keys[] = {"effective_date", "version", "reason", NULL};
    const char *date;
    if (wk_web_only(j, keys, resp, &rc) && (date = wk_web_str(j, "effective_date", 10, resp, &rc))) {
        wk_diag sub;
        a.version = json_object_get(j, "version");
        json_t *reason = json_object_get(j, "reason");
        if (strlen(date) != 10 || wk_date_parse(date, 10, &a.effective_day, &sub))
            rc = wk_web_err(resp, 400, "invalid", "expected a date YYYY-MM-DD", "effective_date");
        else if (!json_is_object(a.version))
            rc = wk_web_err(resp, 400, "invalid",
                            "expected the version as a JSON object in the tariff file format",
                            "version");
        else if (reason && !(a.reason = wk_web_str(j, "reason", 255, resp, &rc)))
            ; /* answered */
        else {
            snprintf(a.effective_date, sizeof a.effective_date, "%s", date);
            c.op = tw__op_add;
            c.arg = &a;
            rc = wk_web_run(&c, resp);
        }
    }
    json_decref(j);
    return rc;
}

/* ---- GET /api/v1/bills/{account_id}?date=YYYY-MM-DD ---- */

typedef struct tw_sum {
    int version, slot, tier;
    int64_t energy_wh, price, amount_nyuan;
} tw_sum;

static json_t *tw__line_json(const wk_tariff *t, int version, int slot, int tier, int64_t wh,
                             int64_t price, int64_t amount)
{
    json_t *o = json_object();
    tw__set(o, "version", json_integer(version));
    tw__set(o, "version_effective_from",
            version < t->n_versions ? tw__time(t->versions[version].effective_from_s) : NULL);
    tw__set(o, "slot", json_string(wk_slot_name((wk_slot)slot)));
    tw__set(o, "tier", json_integer(tier + 1));
    tw__set(o, "energy_wh", json_integer(wh));
    tw__set(o, "energy_kwh", tw__yuan(wh, 3, 3));
    tw__set(o, "price_uyuan_per_kwh", json_integer(price));
    tw__set(o, "price_yuan", tw__yuan(price, 6, 4));
    tw__set(o, "amount_nyuan", json_integer(amount));
    tw__set(o, "amount_yuan", tw__yuan(amount, 9, 2));
    return o;
}

/* One integer from a query with two integer parameters; *found false when no row or NULL. */
static wk_err tw__i64(const wk_serve_env *env, const char *sql, int64_t a, int64_t b, int64_t *out,
                      bool *found, wk_diag *d)
{
    wk_stmt *st;
    wk_err e = wk_store_prepare(env->st, sql, &st, d);
    if (e)
        return e;
    bool row = false;
    *found = false;
    if (!(e = wk_stmt_bind_i64(st, 1, a)) && !(e = wk_stmt_bind_i64(st, 2, b)) &&
        !(e = wk_stmt_step(st, &row, d)) && row && !wk_stmt_is_null(st, 0)) {
        *out = wk_stmt_i64(st, 0);
        *found = true;
    }
    wk_stmt_reset(st);
    return e;
}

/* Where the replay of a meter's readings may start so that every interval ending at or
 * after day_start is rated exactly as the head-end rated it: the time of the last reading
 * before the start of a billing cycle whose first interval (the one crossing the cycle
 * start) ends before day_start. A cycle start resets the rating state entirely
 * (rate__start_cycle), so what came before it cannot change anything after it. 0 = from
 * the first reading. *warmup: the first interval of the replay crosses that cycle start
 * (its earlier part is rated from an empty state: not to be compared). */
static wk_err tw__replay_from(const wk_serve_env *env, const wk_tariff *t, int64_t meter_id,
                              int64_t day_start, int64_t *from_s, bool *warmup, wk_diag *d)
{
    *from_s = 0;
    *warmup = false;
    int64_t at = day_start;
    for (int i = 0; i < 64; i++) { /* cycles back; a meter silent for 64 cycles replays all */
        int vi = wk_tariff_version_at(t, at);
        if (vi < 0)
            return WK_OK;
        int64_t cs, ce, first, last;
        bool found;
        wk_tariff_cycle(&t->versions[vi], at, &cs, &ce);
        wk_err e = tw__i64(env, "SELECT min(time_s) FROM reading WHERE meter_id = ? AND time_s >= ?",
                           meter_id, cs, &first, &found, d);
        if (e)
            return e;
        if (found && first < day_start) {
            if ((e = tw__i64(env, "SELECT max(time_s) FROM reading WHERE meter_id = ? AND time_s < ?",
                             meter_id, cs, &last, &found, d)))
                return e;
            if (found) {
                *from_s = last;
                *warmup = true;
            }
            return WK_OK;
        }
        at = cs - 1;
    }
    return WK_OK;
}

static void tw__op_bill(wk_web_call *c, const wk_serve_env *env)
{
    tw_args *a = c->arg;
    if (!wk_web_role(c, WK_WEB_ANY_STAFF | WK_WEB_RESIDENT, "staff or resident"))
        return;
    if (!wk_web_account_visible(c, env, a->account_id, NULL))
        return;
    wk_diag d = {{0}};
    wk_stmt *st;
    if (wk_store_prepare(env->st,
                         "SELECT c.tariff, m.id, m.ct_ratio, m.address FROM account a"
                         " JOIN unit u ON u.id = a.unit_id JOIN building b ON b.id = u.building_id"
                         " JOIN community c ON c.id = b.community_id"
                         " LEFT JOIN meter m ON m.unit_id = a.unit_id WHERE a.id = ?",
                         &st, &d)) {
        wk_web_internal(c, &d);
        return;
    }
    bool row = false;
    char tariff[64] = "", address[16] = "";
    int64_t meter_id = 0, ct = 1;
    wk_err e = wk_stmt_bind_i64(st, 1, a->account_id);
    if (!e)
        e = wk_stmt_step(st, &row, &d);
    if (!e && row) {
        size_t n;
        const char *tn = wk_stmt_text(st, 0, &n);
        snprintf(tariff, sizeof tariff, "%.*s", (int)n, tn);
        if (!wk_stmt_is_null(st, 1)) {
            meter_id = wk_stmt_i64(st, 1);
            ct = wk_stmt_i64(st, 2);
            const char *ad = wk_stmt_text(st, 3, &n);
            snprintf(address, sizeof address, "%.*s", (int)n, ad);
        }
    }
    wk_stmt_reset(st);
    if (e || !row) {
        if (!e)
            wk_diag_set(&d, WK_ENOTFOUND, "account vanished");
        wk_web_internal(c, &d);
        return;
    }
    const wk_tariff *t = wk_headend_tariff(env->hd, tariff, &d);
    if (!t) {
        wk_web_internal(c, &d);
        return;
    }
    int64_t day_start = a->day * 86400 - TW_CST, day_end = day_start + 86400;
    json_t *intervals = json_array();
    tw_sum sums[WK_RATE_LINES_MAX];
    int n_sums = 0;
    int64_t total_fen = 0, total_wh = 0, charge = 0, replayed = 0;
    bool consistent = true;
    int64_t replay_from = 0;
    bool warmup = false;
    if (meter_id && (e = tw__replay_from(env, t, meter_id, day_start, &replay_from, &warmup, &d))) {
        json_decref(intervals);
        wk_web_internal(c, &d);
        return;
    }
    if (meter_id) {
        if ((e = wk_store_prepare(env->st,
                                  "SELECT total_wh, time_s, t1_wh, t2_wh, t3_wh, t4_wh,"
                                  " deduction_fen, account_id, energy_wh FROM reading"
                                  " WHERE meter_id = ? AND time_s < ? AND time_s >= ?"
                                  " ORDER BY time_s, total_wh",
                                  &st, &d))) {
            json_decref(intervals);
            wk_web_internal(c, &d);
            return;
        }
        wk_rate_state rs;
        memset(&rs, 0, sizeof rs);
        rs.version = -1;
        wk_reading prev = {0};
        bool have_prev = false;
        if (!(e = wk_stmt_bind_i64(st, 1, meter_id)) && !(e = wk_stmt_bind_i64(st, 2, day_end)))
            e = wk_stmt_bind_i64(st, 3, replay_from);
        while (!e && !(e = wk_stmt_step(st, &row, &d)) && row) {
            if (++replayed > TW_READINGS_MAX) {
                e = wk_diag_set(&d, WK_ELIMIT, "more than %d readings to replay", TW_READINGS_MAX);
                break;
            }
            wk_reading cur = {.time_s = wk_stmt_i64(st, 1), .offset_s = TW_CST,
                              .total_wh = wk_stmt_i64(st, 0), .has_tou = !wk_stmt_is_null(st, 2)};
            for (int i = 0; i < 4; i++)
                cur.tou_wh[i] = wk_stmt_i64(st, 2 + i);
            int64_t stored_fen = wk_stmt_i64(st, 6);
            bool mine = !wk_stmt_is_null(st, 7) && wk_stmt_i64(st, 7) == a->account_id;
            wk_reading p = prev;
            prev = cur;
            bool had = have_prev;
            have_prev = true;
            if (!had)
                continue;
            /* the interval crossing the cycle start the replay began at: rated for the
             * state of the new cycle only (its earlier part is not comparable) */
            bool warm = warmup;
            warmup = false;
            if (!mine)
                continue;
            wk_interval iv;
            bool empty;
            wk_diag why;
            if (wk_reading_interval(&p, &cur, WK_REGISTER_MODULUS_WH, &iv, &empty, &why))
                continue; /* the head-end stores no such reading */
            if (ct > 1) {
                iv.energy_wh *= ct;
                for (int i = 0; i < WK_SLOT_N; i++)
                    iv.slot_wh[i] *= ct;
            }
            wk_rate_state before = rs;
            wk_rate_result res;
            if (wk_rate_interval(t, NULL, &rs, &iv, &res, &why)) {
                e = wk_diag_set(&d, WK_EINVAL, "replaying the readings: %s", why.msg);
                break;
            }
            bool rated = true;
            if (warm) /* ends before day_start (tw__replay_from): nothing to show */
                continue;
            if (res.deduction_fen != stored_fen) {
                if (stored_fen == 0) { /* not rated then (the unit was vacant) */
                    rs = before;
                    rated = false;
                } else
                    consistent = false;
            }
            if (cur.time_s < day_start)
                continue;
            json_t *lines = json_array();
            for (int i = 0; rated && i < res.n_lines; i++) {
                const wk_rate_line *l = &res.lines[i];
                json_array_append_new(lines, tw__line_json(t, l->version, l->slot, l->tier,
                                                           l->energy_wh, l->price_uyuan_per_kwh,
                                                           l->amount_nyuan));
                int j = 0;
                while (j < n_sums && !(sums[j].version == l->version && sums[j].slot == l->slot &&
                                       sums[j].tier == l->tier))
                    j++;
                if (j == n_sums && n_sums < WK_RATE_LINES_MAX)
                    sums[n_sums++] = (tw_sum){l->version, l->slot, l->tier, 0,
                                              l->price_uyuan_per_kwh, 0};
                if (j < n_sums) {
                    sums[j].energy_wh += l->energy_wh;
                    sums[j].amount_nyuan += l->amount_nyuan;
                }
            }
            int64_t ch = rated ? res.charge_nyuan : 0;
            json_t *io = json_object();
            tw__set(io, "from", tw__time(iv.from_s));
            tw__set(io, "to", tw__time(iv.to_s));
            tw__set(io, "register_kwh", tw__yuan(cur.total_wh, 3, 2));
            tw__set(io, "energy_wh", json_integer(wk_stmt_i64(st, 8)));
            tw__set(io, "energy_kwh", tw__yuan(wk_stmt_i64(st, 8), 3, 3));
            tw__set(io, "deduction_fen", json_integer(stored_fen));
            tw__set(io, "deduction", tw__yuan(stored_fen, 2, 2));
            tw__set(io, "exact_charge_yuan", tw__yuan(ch, 9, 2));
            tw__set(io, "rated", json_boolean(rated));
            tw__set(io, "lines", lines);
            json_array_append_new(intervals, io);
            total_fen += stored_fen;
            total_wh += wk_stmt_i64(st, 8);
            charge += ch;
        }
        wk_stmt_reset(st);
    }
    if (e) {
        json_decref(intervals);
        wk_web_internal(c, &d);
        return;
    }
    json_t *lines = json_array();
    for (int j = 0; j < n_sums; j++)
        json_array_append_new(lines, tw__line_json(t, sums[j].version, sums[j].slot, sums[j].tier,
                                                   sums[j].energy_wh, sums[j].price,
                                                   sums[j].amount_nyuan));
    char date[16];
    wk_date_format(a->day, date, sizeof date);
    json_t *o = json_object();
    tw__set(o, "account_id", json_integer(a->account_id));
    tw__set(o, "date", json_string(date));
    tw__set(o, "from", tw__time(day_start));
    tw__set(o, "to", tw__time(day_end));
    tw__set(o, "tariff", json_string(tariff));
    tw__set(o, "meter", address[0] ? json_string(address) : NULL);
    tw__set(o, "energy_wh", json_integer(total_wh));
    tw__set(o, "energy_kwh", tw__yuan(total_wh, 3, 3));
    tw__set(o, "total_fen", json_integer(total_fen));
    tw__set(o, "total", tw__yuan(total_fen, 2, 2));
    tw__set(o, "exact_charge_yuan", tw__yuan(charge, 9, 2));
    tw__set(o, "consistent", json_boolean(consistent));
    tw__set(o, "lines", lines);
    tw__set(o, "intervals", intervals);
    c->body = o;
}

static int tw__bill(wk_http_req *req, wk_http_resp *resp, void *ctx)
{
    (void)ctx;
    tw_args a;
    memset(&a, 0, sizeof a);
    const char *rest = wk_http_req_path_rest(req);
    if (!wk_web_id(rest, strlen(rest), &a.account_id))
        return wk_web_err(resp, 404, "not_found", "no such account", NULL);
    const char *date = wk_http_req_query(req, "date");
    wk_diag sub;
    if (!date || strlen(date) != 10 || wk_date_parse(date, 10, &a.day, &sub))
        return wk_web_err(resp, 400, "invalid", "expected a date YYYY-MM-DD (China time)", "date");
    wk_web_call c;
    wk_web_call_init(&c, req, true);
    c.op = tw__op_bill;
    c.arg = &a;
    return wk_web_run(&c, resp);
}

const wk_http_route wk_web_tariffs_routes[] = {
    {"GET", "/api/v1/tariffs", tw__list, NULL, 0, "tariffs"},
    {"GET", "/api/v1/tariffs/*", tw__get, NULL, 0, "tariff"},
    {"POST", "/api/v1/tariffs/*", tw__post, NULL, TW_BODY_MAX, "tariff_version_add"},
    {"GET", "/api/v1/bills/*", tw__bill, NULL, 0, "bill"},
};
const size_t wk_web_tariffs_nroutes = sizeof wk_web_tariffs_routes / sizeof wk_web_tariffs_routes[0];
