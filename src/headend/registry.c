/*
 * registry.c - creating communities, buildings, units, meters and accounts from a seed
 * document (docs/headend.md). Natural keys make it idempotent: seeding the same file twice
 * changes nothing; the whole document is one transaction, so a bad entry leaves no half.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/units.h"
#include "headend/headend.h"
#include "headend/internal.h"
#include "proto/dlt645.h"
#include "proto/encoding.h"
#include "proto/json.h"

static const char *reg__str(json_t *o, const char *key, const char *dflt)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : dflt;
}

/* INSERT ... ON CONFLICT DO NOTHING, then SELECT id by natural key. */
static wk_err reg__upsert(wk_store *st, const char *ins, const char *sel, int64_t parent,
                          const char *name, const char *extra, int64_t extra_i, int64_t *id,
                          wk_diag *d)
{
    wk_stmt *s;
    bool row;
    wk_err e = wk_store_prepare(st, ins, &s, d);
    if (e)
        return e;
    int i = 1;
    if (parent >= 0)
        e = wk_stmt_bind_i64(s, i++, parent);
    if (!e)
        e = wk_stmt_bind_text(s, i++, name, strlen(name));
    if (!e && extra)
        e = wk_stmt_bind_text(s, i++, extra, strlen(extra));
    if (!e && extra_i >= 0)
        e = wk_stmt_bind_i64(s, i++, extra_i);
    if (!e)
        e = wk_stmt_step(s, &row, d);
    wk_stmt_reset(s);
    if (e)
        return e;
    if ((e = wk_store_prepare(st, sel, &s, d)))
        return e;
    i = 1;
    if (parent >= 0)
        e = wk_stmt_bind_i64(s, i++, parent);
    if (!e)
        e = wk_stmt_bind_text(s, i++, name, strlen(name));
    row = false;
    if (!e)
        e = wk_stmt_step(s, &row, d);
    if (!e && !row)
        e = wk_diag_set(d, WK_EINTERNAL, "%s vanished after insert", name);
    if (!e)
        *id = wk_stmt_i64(s, 0);
    wk_stmt_reset(s);
    return e;
}

static wk_err reg__meter(wk_headend *hd, int64_t unit_id, json_t *jm, const char *path,
                         const uint8_t *master, size_t master_len, wk_diag *d)
{
    static const char *const keys[] = {"address", "close_mode", "auth", "key", "password",
                                       "model", "ct_ratio", NULL};
    wk_err e = wk_json_check_keys(jm, path, keys, d);
    if (e)
        return e;
    const char *address = reg__str(jm, "address", NULL);
    const char *close_mode = reg__str(jm, "close_mode", "direct");
    const char *auth = reg__str(jm, "auth", "mac");
    const char *model = reg__str(jm, "model", "wk-1");
    uint8_t addr[6];
    if (!address || strlen(address) != 12 || wk_dlt645_addr_parse(address, addr) ||
        !wk_dlt645_addr_valid(addr))
        return wk_diag_set(d, WK_EINVAL, "%s.address: expected the meter's 12 digits", path);
    if (strcmp(close_mode, "direct") && strcmp(close_mode, "permit"))
        return wk_diag_set(d, WK_EINVAL, "%s.close_mode: expected direct or permit", path);
    uint8_t key[32];
    size_t key_len = 0;
    if (!strcmp(auth, "mac")) {
        const char *hex = reg__str(jm, "key", NULL);
        if (hex) {
            if (wk_hex_decode(hex, strlen(hex), key, sizeof key, &key_len) || key_len < 16)
                return wk_diag_set(d, WK_EINVAL, "%s.key: expected 32..64 hex digits", path);
        } else if (master) {
            wk_dlt645_key_derive(master, master_len, addr, key);
            key_len = 32;
        } else {
            return wk_diag_set(d, WK_EINVAL, "%s.key: no key and no master key to derive one",
                               path);
        }
    } else if (!strcmp(auth, "plain")) {
        /* key = password level byte + 3 password bytes, e.g. "02123456" */
        const char *pw = reg__str(jm, "password", NULL);
        if (!pw || wk_hex_decode(pw, strlen(pw), key, sizeof key, &key_len) || key_len != 4)
            return wk_diag_set(d, WK_EINVAL,
                               "%s.password: expected 8 hex digits: level then 3 password bytes",
                               path);
    } else {
        return wk_diag_set(d, WK_EINVAL, "%s.auth: expected mac or plain", path);
    }
    json_t *ct = json_object_get(jm, "ct_ratio");
    int64_t ct_ratio = ct ? (json_is_integer(ct) ? json_integer_value(ct) : -1) : 1;
    if (ct_ratio < 1 || ct_ratio > 10000)
        return wk_diag_set(d, WK_EINVAL, "%s.ct_ratio: expected an integer 1..10000", path);
    wk_stmt *s;
    if ((e = wk_store_prepare(hd->st,
                              "INSERT INTO meter (address, unit_id, model, close_mode, auth, key,"
                              " ct_ratio) VALUES (?, ?, ?, ?, ?, ?, ?)"
                              " ON CONFLICT (address) DO NOTHING",
                              &s, d)))
        return e;
    bool row;
    if (!(e = wk_stmt_bind_text(s, 1, address, 12)) && !(e = wk_stmt_bind_i64(s, 2, unit_id)) &&
        !(e = wk_stmt_bind_text(s, 3, model, strlen(model))) &&
        !(e = wk_stmt_bind_text(s, 4, close_mode, strlen(close_mode))) &&
        !(e = wk_stmt_bind_text(s, 5, auth, strlen(auth))) &&
        !(e = wk_stmt_bind_blob(s, 6, key, key_len)) && !(e = wk_stmt_bind_i64(s, 7, ct_ratio)))
        e = wk_stmt_step(s, &row, d);
    wk_stmt_reset(s);
    if (e)
        wk_diag_prefix(d, "%s", path);
    return e;
}

/* The wallet's ledger name: "wallet:<community>/<building>/<unit>#<n>", n = 1 + the number
 * of accounts the unit had before (every tenancy of a unit has its own wallet). */
static wk_err reg__wallet_name(wk_store *st, int64_t unit_id, char *out, size_t out_len, wk_diag *d)
{
    wk_stmt *s;
    bool row = false;
    wk_err e = wk_store_prepare(st,
                                "SELECT c.name, b.name, u.name, (SELECT count(*) FROM account a"
                                " WHERE a.unit_id = u.id) FROM unit u JOIN building b ON b.id = u.building_id"
                                " JOIN community c ON c.id = b.community_id WHERE u.id = ?",
                                &s, d);
    if (e)
        return e;
    if (!(e = wk_stmt_bind_i64(s, 1, unit_id)))
        e = wk_stmt_step(s, &row, d);
    if (!e && !row)
        e = wk_diag_set(d, WK_ENOTFOUND, "unit_id: unit %lld does not exist", (long long)unit_id);
    if (!e) {
        size_t nc, nb, nu;
        const char *c = wk_stmt_text(s, 0, &nc), *b = wk_stmt_text(s, 1, &nb), *u = wk_stmt_text(s, 2, &nu);
        snprintf(out, out_len, "wallet:%.*s/%.*s/%.*s#%lld", (int)nc, c, (int)nb, b, (int)nu, u,
                 (long long)wk_stmt_i64(s, 3) + 1);
    }
    wk_stmt_reset(s);
    return e;
}

wk_err wk_headend_account_open(wk_headend *hd, const wk_headend_account_new *a, int64_t *account_id,
                               int64_t *wallet_id, wk_diag *d)
{
    WK_ASSERT(wk_store_in_txn(hd->st));
    if (!a->holder || !*a->holder)
        return wk_diag_set(d, WK_EINVAL, "holder: expected a name");
    if (!a->kind || (strcmp(a->kind, "resident") && strcmp(a->kind, "tenant")))
        return wk_diag_set(d, WK_EINVAL, "kind: expected resident or tenant");
    if (a->overdraft_fen < 0)
        return wk_diag_set(d, WK_EINVAL, "overdraft: expected >= 0");
    char wname[WK_ACCOUNT_NAME_MAX];
    wk_err e = reg__wallet_name(hd->st, a->unit_id, wname, sizeof wname, d);
    int64_t floor = -a->overdraft_fen, wallet;
    if (e || (e = wk_ledger_account_add(hd->lg, wname, WK_ACCOUNT_WALLET, &floor, &wallet, d)))
        return e;
    wk_stmt *s;
    if ((e = wk_store_prepare(hd->st,
                              "INSERT INTO account (unit_id, holder, kind, wallet_account_id,"
                              " opened_s, vacant, created_s) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                              &s, d)))
        return e;
    bool row = false;
    if (!(e = wk_stmt_bind_i64(s, 1, a->unit_id)) &&
        !(e = wk_stmt_bind_text(s, 2, a->holder, strlen(a->holder))) &&
        !(e = wk_stmt_bind_text(s, 3, a->kind, strlen(a->kind))) && !(e = wk_stmt_bind_i64(s, 4, wallet)) &&
        !(e = wk_stmt_bind_i64(s, 5, a->opened_s)) && !(e = wk_stmt_bind_i64(s, 6, a->vacant)) &&
        !(e = wk_stmt_bind_i64(s, 7, a->created_s)))
        e = wk_stmt_step(s, &row, d);
    int64_t id = row ? wk_stmt_i64(s, 0) : 0;
    wk_stmt_reset(s);
    if (e == WK_EEXIST) /* the partial UNIQUE index: one open account per unit */
        return wk_diag_set(d, WK_ECONFLICT, "unit_id: unit %lld already has an open account",
                           (long long)a->unit_id);
    if (e)
        return e;
    if ((e = hd__read_unit_meter(hd, a->unit_id, d)))
        return e;
    if (account_id)
        *account_id = id;
    if (wallet_id)
        *wallet_id = wallet;
    return WK_OK;
}

static wk_err reg__account(wk_headend *hd, int64_t unit_id, json_t *ja, const char *path,
                           int64_t now_ms, wk_diag *d)
{
    static const char *const keys[] = {"holder", "kind", "balance", "overdraft", "vacant", NULL};
    wk_err e = wk_json_check_keys(ja, path, keys, d);
    if (e)
        return e;
    const char *holder = reg__str(ja, "holder", NULL), *kind = reg__str(ja, "kind", "resident");
    if (!holder || !*holder)
        return wk_diag_set(d, WK_EINVAL, "%s.holder: expected a name", path);
    if (strcmp(kind, "resident") && strcmp(kind, "tenant"))
        return wk_diag_set(d, WK_EINVAL, "%s.kind: expected resident or tenant", path);
    int64_t balance = 0, overdraft = 0;
    wk_diag sub;
    const char *b = reg__str(ja, "balance", "0"), *o = reg__str(ja, "overdraft", "0");
    if (wk_dec_parse_str(b, WK_SCALE_YUAN, &balance, &sub) || balance < 0)
        return wk_diag_set(d, WK_EINVAL, "%s.balance: expected yuan like \"50.00\"", path);
    if (wk_dec_parse_str(o, WK_SCALE_YUAN, &overdraft, &sub) || overdraft < 0)
        return wk_diag_set(d, WK_EINVAL, "%s.overdraft: expected yuan like \"10.00\"", path);
    /* already has an open account: seeding again changes nothing */
    wk_stmt *s;
    bool row = false;
    if ((e = wk_store_prepare(hd->st, "SELECT id FROM account WHERE unit_id = ? AND status = 'open'",
                              &s, d)))
        return e;
    if (!(e = wk_stmt_bind_i64(s, 1, unit_id)))
        e = wk_stmt_step(s, &row, d);
    wk_stmt_reset(s);
    if (e || row)
        return e;
    wk_headend_account_new na = {.unit_id = unit_id,
                                 .holder = holder,
                                 .kind = kind,
                                 .overdraft_fen = overdraft,
                                 .vacant = json_is_true(json_object_get(ja, "vacant")),
                                 .opened_s = now_ms / 1000, .created_s = now_ms / 1000};
    int64_t wallet;
    if ((e = wk_headend_account_open(hd, &na, NULL, &wallet, d)))
        return e;
    if (balance > 0) {
        wk_account w;
        if ((e = wk_ledger_account_get(hd->lg, wallet, &w, d)))
            return e;
        char key[160];
        snprintf(key, sizeof key, "wk-opening:%s", w.name);
        wk_transfer t = {.debit_account_id = hd__adjustment_id(hd),
                         .credit_account_id = wallet,
                         .amount_fen = balance,
                         .reason = "opening balance"};
        hd__id_from(key, t.id);
        if ((e = wk_ledger_transfer(hd->lg, &t, NULL, d)))
            return e;
    }
    return WK_OK;
}

wk_err wk_headend_seed(wk_headend *hd, const char *json, size_t len, const uint8_t *master,
                       size_t master_len, int64_t now_ms, wk_diag *d)
{
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return wk_diag_set(d, WK_EINVAL, "line %d column %d: %s", jerr.line, jerr.column,
                           jerr.text);
    wk_err e = wk_headend_flush(hd, now_ms, d);
    if (e || (e = wk_store_begin(hd->st, d))) {
        json_decref(root);
        return e;
    }
    static const char *const root_keys[] = {"communities", NULL};
    static const char *const c_keys[] = {"name", "tariff", "policy", "buildings", "company", NULL};
    static const char *const b_keys[] = {"name", "units", NULL};
    static const char *const u_keys[] = {"name", "kind", "meter", "account", NULL};
    json_t *comms = json_object_get(root, "communities");
    if ((e = wk_json_check_keys(root, "(top level)", root_keys, d)))
        goto fail;
    if (!json_is_array(comms)) {
        e = wk_diag_set(d, WK_EINVAL, "communities: expected an array");
        goto fail;
    }
    size_t ci, bi, ui;
    json_t *jc, *jb, *ju;
    json_array_foreach(comms, ci, jc)
    {
        char cp[64];
        snprintf(cp, sizeof cp, "communities[%zu]", ci);
        if ((e = wk_json_check_keys(jc, cp, c_keys, d)))
            goto fail;
        const char *cname = reg__str(jc, "name", NULL), *tariff = reg__str(jc, "tariff", NULL);
        if (!cname || !*cname || !tariff) {
            e = wk_diag_set(d, WK_EINVAL, "%s: name and tariff are required", cp);
            goto fail;
        }
        if (!hd__tariff_get(hd, tariff, d)) {
            e = WK_EINVAL;
            wk_diag_prefix(d, "%s.tariff", cp);
            goto fail;
        }
        /* the community's revenue account */
        char rname[WK_ACCOUNT_NAME_MAX];
        snprintf(rname, sizeof rname, "revenue:%s", cname);
        wk_account racc;
        e = wk_ledger_account_find(hd->lg, rname, &racc, NULL);
        if (e == WK_ENOTFOUND)
            e = wk_ledger_account_add(hd->lg, rname, WK_ACCOUNT_REVENUE, NULL, &racc.id, d);
        if (e)
            goto fail;
        int64_t cid;
        if ((e = reg__upsert(hd->st,
                             "INSERT INTO community (name, tariff, revenue_account_id)"
                             " VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING",
                             "SELECT id FROM community WHERE name = ?", -1, cname, tariff, racc.id,
                             &cid, d)))
            goto fail;
        json_t *jp = json_object_get(jc, "policy");
        if (jp) { /* validated against the defaults now, so that serve can never load a bad one */
            char pp[80];
            snprintf(pp, sizeof pp, "%s.policy", cp);
            char *text = json_dumps(jp, JSON_COMPACT | JSON_SORT_KEYS);
            wk_policy check;
            wk_policy base = {.utc_offset_s = 8 * 3600};
            e = text ? hd__policy_apply(&base, text, pp, &check, d) : WK_ENOMEM;
            wk_stmt *ps;
            bool prow;
            if (!e && !(e = wk_store_prepare(hd->st, "UPDATE community SET policy = ? WHERE id = ?",
                                             &ps, d))) {
                if (!(e = wk_stmt_bind_text(ps, 1, text, strlen(text))) &&
                    !(e = wk_stmt_bind_i64(ps, 2, cid)))
                    e = wk_stmt_step(ps, &prow, d);
                wk_stmt_reset(ps);
            }
            free(text);
            if (e)
                goto fail;
        }
        /* optional owner: "company": "name" (created if new; needs the auth schema) */
        const char *company = reg__str(jc, "company", NULL);
        if (json_object_get(jc, "company") && (!company || !*company)) {
            e = wk_diag_set(d, WK_EINVAL, "%s.company: expected a company name", cp);
            goto fail;
        }
        if (company) {
            int64_t coid;
            if ((e = reg__upsert(hd->st, "INSERT INTO company (name) VALUES (?) ON CONFLICT DO NOTHING",
                                 "SELECT id FROM company WHERE name = ?", -1, company, NULL, -1,
                                 &coid, d)))
                goto fail;
            wk_stmt *us;
            bool urow;
            if ((e = wk_store_prepare(hd->st, "UPDATE community SET company_id = ? WHERE id = ?",
                                      &us, d)))
                goto fail;
            if (!(e = wk_stmt_bind_i64(us, 1, coid)) && !(e = wk_stmt_bind_i64(us, 2, cid)))
                e = wk_stmt_step(us, &urow, d);
            wk_stmt_reset(us);
            if (e)
                goto fail;
        }
        json_array_foreach(json_object_get(jc, "buildings"), bi, jb)
        {
            char bp[96];
            snprintf(bp, sizeof bp, "%s.buildings[%zu]", cp, bi);
            if ((e = wk_json_check_keys(jb, bp, b_keys, d)))
                goto fail;
            const char *bname = reg__str(jb, "name", NULL);
            if (!bname) {
                e = wk_diag_set(d, WK_EINVAL, "%s.name: required", bp);
                goto fail;
            }
            int64_t bid;
            if ((e = reg__upsert(hd->st,
                                 "INSERT INTO building (community_id, name) VALUES (?, ?)"
                                 " ON CONFLICT DO NOTHING",
                                 "SELECT id FROM building WHERE community_id = ? AND name = ?", cid,
                                 bname, NULL, -1, &bid, d)))
                goto fail;
            json_array_foreach(json_object_get(jb, "units"), ui, ju)
            {
                char up[128];
                snprintf(up, sizeof up, "%s.units[%zu]", bp, ui);
                if ((e = wk_json_check_keys(ju, up, u_keys, d)))
                    goto fail;
                const char *uname = reg__str(ju, "name", NULL), *kind = reg__str(ju, "kind", "home");
                if (!uname || (strcmp(kind, "home") && strcmp(kind, "shop"))) {
                    e = wk_diag_set(d, WK_EINVAL, "%s: name required, kind home or shop", up);
                    goto fail;
                }
                int64_t uid;
                if ((e = reg__upsert(hd->st,
                                     "INSERT INTO unit (building_id, name, kind) VALUES (?, ?, ?)"
                                     " ON CONFLICT DO NOTHING",
                                     "SELECT id FROM unit WHERE building_id = ? AND name = ?", bid,
                                     uname, kind, -1, &uid, d)))
                    goto fail;
                json_t *jm = json_object_get(ju, "meter"), *ja = json_object_get(ju, "account");
                char mp[160];
                snprintf(mp, sizeof mp, "%s.meter", up);
                if (jm && (e = reg__meter(hd, uid, jm, mp, master, master_len, d)))
                    goto fail;
                snprintf(mp, sizeof mp, "%s.account", up);
                if (ja && (e = reg__account(hd, uid, ja, mp, now_ms, d)))
                    goto fail;
            }
        }
    }
    json_decref(root);
    return wk_store_commit(hd->st, d);
fail:
    json_decref(root);
    wk_store_rollback(hd->st);
    return e;
}

/* ---- community policy overrides ---- */

static wk_err pol__money(json_t *v, const char *path, const char *key, int64_t *out, wk_diag *d)
{
    wk_diag sub;
    if (!json_is_string(v) || wk_dec_parse_str(json_string_value(v), WK_SCALE_YUAN, out, &sub) ||
        *out < 0)
        return wk_diag_set(d, WK_EINVAL, "%s.%s: expected yuan as a string like \"20.00\"", path,
                           key);
    return WK_OK;
}

static wk_err pol__hhmm(json_t *v, const char *path, const char *key, int32_t *out, wk_diag *d)
{
    const char *s = json_is_string(v) ? json_string_value(v) : "";
    if (strlen(s) != 5 || s[2] != ':' || s[0] < '0' || s[0] > '2' || s[1] < '0' || s[1] > '9' ||
        s[3] < '0' || s[3] > '5' || s[4] < '0' || s[4] > '9' || (s[0] - '0') * 10 + (s[1] - '0') > 23)
        return wk_diag_set(d, WK_EINVAL, "%s.%s: expected a time of day like \"20:00\"", path, key);
    *out = ((s[0] - '0') * 10 + (s[1] - '0')) * 60 + (s[3] - '0') * 10 + (s[4] - '0');
    return WK_OK;
}

wk_err hd__policy_apply(const wk_policy *base, const char *text, const char *path, wk_policy *out,
                        wk_diag *d)
{
    *out = *base;
    if (!text || !*text)
        return WK_OK;
    json_error_t je;
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    static const char *const keys[] = {"warn1", "warn2", "warn1_days", "warn2_days", "hysteresis",
                                       "close_margin", "emergency_credit", "friendly_from",
                                       "friendly_to", "friendly_weekends", NULL};
    wk_err e = j ? wk_json_check_keys(j, path, keys, d)
                 : wk_diag_set(d, WK_EINVAL, "%s: %s", path, je.text);
    const char *k;
    json_t *v;
    if (!e) {
        json_object_foreach(j, k, v)
        {
            if (!strcmp(k, "warn1"))
                e = pol__money(v, path, k, &out->warn_fen[0], d);
            else if (!strcmp(k, "warn2"))
                e = pol__money(v, path, k, &out->warn_fen[1], d);
            else if (!strcmp(k, "hysteresis"))
                e = pol__money(v, path, k, &out->hysteresis_fen, d);
            else if (!strcmp(k, "close_margin"))
                e = pol__money(v, path, k, &out->close_margin_fen, d);
            else if (!strcmp(k, "emergency_credit"))
                e = pol__money(v, path, k, &out->emergency_fen, d);
            else if (!strcmp(k, "friendly_from"))
                e = pol__hhmm(v, path, k, &out->friendly_from_min, d);
            else if (!strcmp(k, "friendly_to"))
                e = pol__hhmm(v, path, k, &out->friendly_to_min, d);
            else if (!strcmp(k, "friendly_weekends")) {
                if (!json_is_boolean(v))
                    e = wk_diag_set(d, WK_EINVAL, "%s.%s: expected true or false", path, k);
                else
                    out->friendly_weekends = json_is_true(v);
            } else { /* warn1_days, warn2_days */
                if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 365)
                    e = wk_diag_set(d, WK_EINVAL, "%s.%s: expected days 0..365", path, k);
                else
                    out->warn_days[k[4] == '1' ? 0 : 1] = (int32_t)json_integer_value(v);
            }
            if (e)
                break;
        }
    }
    json_decref(j);
    wk_diag sub;
    if (!e && wk_policy_validate(out, &sub))
        e = wk_diag_set(d, WK_EINVAL, "%s: %s", path, sub.msg);
    return e;
}
