/*
 * serve_web_reports.c - the staff reports and the live dashboard (docs/api.md "Reports and
 * live events"):
 *
 *   GET /api/v1/reports/dashboard    meters online/offline/tripped, low balances, today's
 *                                    collections, arrears rate, money held, recent events
 *   GET /api/v1/reports/collections  top-ups and refunds per day or month and channel
 *   GET /api/v1/reports/consumption  kWh and money charged per building per day or month
 *   GET /api/v1/reports/liability    money held for residents and arrears, per community
 *   GET /api/v1/events/stream        Server-Sent Events: dashboard numbers and new events
 *
 * Any staff role may read them; every query carries the tenancy condition (WK_WEB_SCOPE),
 * so a company sees only its (assigned) communities. Days and months are China time
 * (UTC+08:00). Money comes from the ledger itself: collections are the transfers between a
 * wallet and a channel's clearing account (clearing:wechat, clearing:alipay) or the counter
 * (counter:<method> in, refund:<method> out); balances are the wallets' ledger balances.
 * CSV answers (format=csv) follow RFC 4180 (CRLF, quoted where needed, UTF-8, a header row)
 * with amounts as decimal yuan strings.
 *
 * The stream never touches the database from an HTTP thread: a connection's first frames
 * are computed by its request's op on the main loop; after that one tick per second (the
 * HTTP server's ticker thread, see wk_http_resp_stream) submits ONE op for all open streams
 * that re-checks each stream's session (a logout ends the stream), collects the events
 * after each stream's cursor and, only when something changed (the newest event, ledger
 * transfer, account or the day), recomputes the dashboards. The op's output is appended to
 * each stream's bounded buffer, which MHD pulls without blocking. A round that has nothing
 * for a stream sends it one empty line (ignored by EventSource), so that a client that went
 * away is noticed by the failing write within seconds. At most REP_STREAMS_MAX streams are
 * open at once (503 beyond).
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app/serve_web.h"
#include "core/civil.h"
#include "core/mem.h"
#include "core/units.h"
#include "proto/config.h"
#include "store/store.h"

#define REP_CST_S 28800          /* China time, UTC+08:00 */
#define REP_DAYS_MAX 366         /* by=day: days in one report */
#define REP_MONTHS_MAX 120       /* by=month: months in one report */
#define REP_STREAMS_MAX 64       /* open event streams */
#define REP_STREAM_BUF_MAX (256 * 1024) /* bytes queued for a client that does not read */
#define REP_HEARTBEAT_S 15       /* a comment line when nothing else was sent */
#define REP_BACKLOG 20           /* events sent to a fresh stream without Last-Event-ID */
#define REP_EVENT_BATCH 200      /* events per stream per round */
#define REP_RECENT 10            /* recent events in the dashboard */
#define REP_TICK_TIMEOUT_MS 1000 /* a tick's wait for the main loop */
#define REP_ROWS_MAX 100000      /* rows in one report (a bound; far above real use) */

/* ---- a growing byte buffer with a hard cap ---- */

typedef struct rep_buf {
    char *p;
    size_t n, cap;
    bool bad; /* out of memory or over the cap: contents incomplete */
} rep_buf;

static void rep__put(rep_buf *b, const char *s, size_t n)
{
    if (b->bad)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->n + n + 1)
            cap *= 2;
        if (cap > (64u << 20)) {
            b->bad = true;
            return;
        }
        char *p = wk_realloc(b->p, cap);
        if (!p) {
            b->bad = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void rep__puts(rep_buf *b, const char *s)
{
    rep__put(b, s, strlen(s));
}

static void rep__printf(rep_buf *b, const char *fmt, ...) WK_PRINTF(2, 3);
static void rep__printf(rep_buf *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp)
        b->bad = true;
    else
        rep__put(b, tmp, (size_t)n);
}

/* One CSV field (RFC 4180: quoted when it holds a comma, quote, CR or LF). */
static void rep__csv(rep_buf *b, const char *s, bool last)
{
    if (strpbrk(s, ",\"\r\n")) {
        rep__put(b, "\"", 1);
        for (const char *p = s; *p; p++)
            rep__put(b, *p == '"' ? "\"\"" : p, *p == '"' ? 2 : 1);
        rep__put(b, "\"", 1);
    } else {
        rep__puts(b, s);
    }
    rep__puts(b, last ? "\r\n" : ",");
}

static void rep__csv_i(rep_buf *b, int64_t v, bool last)
{
    char s[32];
    snprintf(s, sizeof s, "%lld", (long long)v);
    rep__csv(b, s, last);
}

static void rep__csv_yuan(rep_buf *b, int64_t fen, bool last)
{
    char s[32];
    rep__csv(b, wk_dec_format(fen, 2, 2, s, sizeof s), last);
}

/* Adds "<key>_fen": fen and "<key>": "12.34" to o. */
static void rep__money(json_t *o, const char *key, int64_t fen)
{
    char k[64], s[32];
    snprintf(k, sizeof k, "%s_fen", key);
    json_object_set_new(o, k, json_integer(fen));
    json_object_set_new(o, key, json_string(wk_dec_format(fen, 2, 2, s, sizeof s)));
}

/* ---- inputs ---- */

typedef enum rep_kind { REP_DASHBOARD = 1, REP_COLLECTIONS, REP_CONSUMPTION, REP_LIABILITY } rep_kind;

typedef struct rep_query {
    rep_kind kind;
    bool month;          /* by=month */
    int64_t from_day;    /* days since 1970-01-01, China time, inclusive */
    int64_t to_day;      /* inclusive */
    int64_t community;   /* 0 = every visible community */
    bool csv;
    /* the stream's first frames (REP stream op) */
    bool stream;
    bool has_last_id;
    int64_t last_id;
    rep_buf first;
    int64_t cursor;
    char *dash; /* the dashboard JSON sent first (owned) */
} rep_query;

static int64_t rep__today(int64_t now_ms)
{
    return wk_floor_div(now_ms / 1000 + REP_CST_S, 86400);
}

static void rep__day_text(int64_t day, char out[11])
{
    wk_date d = wk_civil_from_days(day);
    snprintf(out, 11, "%04d-%02d-%02d", (int)d.year, (int)d.month, (int)d.day);
}

/* Binds ?1 company and ?2 the restricted staff user (or NULL) of WK_WEB_SCOPE("c","?1","?2"). */
static wk_err rep__bind_scope(wk_stmt *st, const wk_user *u)
{
    wk_err e = wk_stmt_bind_i64(st, 1, u->company_id);
    if (!e)
        e = u->assigned ? wk_stmt_bind_i64(st, 2, u->id) : wk_stmt_bind_null(st, 2);
    return e;
}

#define REP_UNIT_JOIN                                                                        \
    " JOIN unit u ON u.id = a.unit_id JOIN building b ON b.id = u.building_id"               \
    " JOIN community c ON c.id = b.community_id"
#define REP_SCOPE " " WK_WEB_SCOPE("c", "?1", "?2")

/* ---- collections ---- */

/* Top-ups (clearing:<channel> or counter:<method> -> wallet) and refunds (wallet ->
 * clearing:<channel> or refund:<method>), driven from the few clearing/counter/refund
 * accounts through the ledger's debit/credit indexes. ?3 community or NULL, ?4 from (s,
 * inclusive), ?5 to (s, exclusive), ?6 strftime format of the period. */
static const char REP_COLLECTIONS_SQL[] =
    "WITH x(p, ch, dir, fen) AS ("
    " SELECT strftime(?6, t.time_s + 28800, 'unixepoch'),"
    "  CASE WHEN o.name LIKE 'clearing:%' THEN substr(o.name, 10) ELSE 'counter' END, 1, t.amount_fen"
    " FROM ledger_account o JOIN ledger_transfer t ON t.debit_account_id = o.id"
    " JOIN account a ON a.wallet_account_id = t.credit_account_id" REP_UNIT_JOIN
    " WHERE (o.name LIKE 'clearing:%' OR o.name LIKE 'counter:%') AND" REP_SCOPE
    " AND (?3 IS NULL OR c.id = ?3) AND t.time_s >= ?4 AND t.time_s < ?5"
    " UNION ALL"
    " SELECT strftime(?6, t.time_s + 28800, 'unixepoch'),"
    "  CASE WHEN o.name LIKE 'clearing:%' THEN substr(o.name, 10) ELSE 'counter' END, -1, t.amount_fen"
    " FROM ledger_account o JOIN ledger_transfer t ON t.credit_account_id = o.id"
    " JOIN account a ON a.wallet_account_id = t.debit_account_id" REP_UNIT_JOIN
    " WHERE (o.name LIKE 'clearing:%' OR o.name LIKE 'refund:%') AND" REP_SCOPE
    " AND (?3 IS NULL OR c.id = ?3) AND t.time_s >= ?4 AND t.time_s < ?5)"
    " SELECT p, ch, sum(dir = 1), coalesce(sum(CASE WHEN dir = 1 THEN fen END), 0),"
    " sum(dir = -1), coalesce(sum(CASE WHEN dir = -1 THEN fen END), 0)"
    " FROM x GROUP BY p, ch ORDER BY p, ch";

typedef struct rep_coll {
    int64_t n, fen, rn, rfen;
} rep_coll;

static json_t *rep__coll_json(const rep_coll *r)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "count", json_integer(r->n));
    rep__money(o, "amount", r->fen);
    json_object_set_new(o, "refund_count", json_integer(r->rn));
    rep__money(o, "refunds", r->rfen);
    rep__money(o, "net", r->fen - r->rfen);
    return o;
}

static const char *const rep_channels[] = {"wechat", "alipay", "counter"};

/* Runs the collections query for [from_s, to_s). Per row: calls back with period, channel
 * index (0..2) and sums. */
typedef void (*rep_coll_row)(void *ctx, const char *period, int ch, const rep_coll *r);

static wk_err rep__collections(const wk_serve_env *env, const wk_user *u, int64_t community,
                               int64_t from_s, int64_t to_s, bool month, rep_coll_row fn,
                               void *ctx, wk_diag *d)
{
    wk_stmt *st;
    wk_err e = wk_store_prepare(env->st, REP_COLLECTIONS_SQL, &st, d);
    if (e)
        return e;
    const char *fmt = month ? "%Y-%m" : "%Y-%m-%d";
    e = rep__bind_scope(st, u);
    if (!e)
        e = community ? wk_stmt_bind_i64(st, 3, community) : wk_stmt_bind_null(st, 3);
    if (!e)
        e = wk_stmt_bind_i64(st, 4, from_s);
    if (!e)
        e = wk_stmt_bind_i64(st, 5, to_s);
    if (!e)
        e = wk_stmt_bind_text(st, 6, fmt, strlen(fmt));
    bool row = false;
    while (!e && !(e = wk_stmt_step(st, &row, d)) && row) {
        size_t len;
        const char *ch = wk_stmt_text(st, 1, &len);
        int k = -1;
        for (int i = 0; ch && i < 3; i++)
            if (!strcmp(ch, rep_channels[i]))
                k = i;
        if (k < 0)
            continue; /* a clearing account of a channel we do not know */
        rep_coll r = {wk_stmt_i64(st, 2), wk_stmt_i64(st, 3), wk_stmt_i64(st, 4), wk_stmt_i64(st, 5)};
        const char *p = wk_stmt_text(st, 0, &len);
        fn(ctx, p ? p : "", k, &r);
    }
    wk_stmt_reset(st);
    return e;
}

/* ---- the dashboard ---- */

/* The community's first warning level: its policy override "warn1" or [policy] warn1. */
static int64_t rep__warn1(const char *policy, int64_t dflt)
{
    if (!policy || !*policy)
        return dflt;
    json_error_t je;
    json_t *j = json_loads(policy, 0, &je);
    json_t *v = json_object_get(j, "warn1");
    int64_t fen = dflt;
    wk_diag d;
    if (json_is_string(v) && wk_dec_parse_str(json_string_value(v), 2, &fen, &d))
        fen = dflt;
    json_decref(j);
    return fen;
}

static void rep__coll_today(void *ctx, const char *period, int ch, const rep_coll *r)
{
    (void)period;
    (void)ch;
    rep_coll *t = ctx;
    t->n += r->n;
    t->fen += r->fen;
    t->rn += r->rn;
    t->rfen += r->rfen;
}

/* Events visible to u with id > after, ascending (newest first when desc: the last
 * `limit`). */
static const char REP_EVENTS_SQL[] =
    "SELECT e.id, e.time_ms, e.kind, e.meter_id, e.account_id, e.detail FROM event e"
    " LEFT JOIN meter m ON m.id = e.meter_id LEFT JOIN account a ON a.id = e.account_id"
    " JOIN unit u ON u.id = coalesce(m.unit_id, a.unit_id) JOIN building b ON b.id = u.building_id"
    " JOIN community c ON c.id = b.community_id"
    " WHERE" REP_SCOPE " AND e.id > ?3 ORDER BY e.id LIMIT ?4";
static const char REP_EVENTS_DESC_SQL[] =
    "SELECT e.id, e.time_ms, e.kind, e.meter_id, e.account_id, e.detail FROM event e"
    " LEFT JOIN meter m ON m.id = e.meter_id LEFT JOIN account a ON a.id = e.account_id"
    " JOIN unit u ON u.id = coalesce(m.unit_id, a.unit_id) JOIN building b ON b.id = u.building_id"
    " JOIN community c ON c.id = b.community_id"
    " WHERE" REP_SCOPE " AND e.id > ?3 ORDER BY e.id DESC LIMIT ?4";

static json_t *rep__event_json(wk_stmt *st)
{
    size_t kl, dl;
    const char *kind = wk_stmt_text(st, 2, &kl), *detail = wk_stmt_text(st, 5, &dl);
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "id", json_integer(wk_stmt_i64(st, 0)));
    json_object_set_new(o, "time_ms", json_integer(wk_stmt_i64(st, 1)));
    json_object_set_new(o, "kind", kind ? json_stringn(kind, kl) : json_string(""));
    json_object_set_new(o, "meter_id",
                        wk_stmt_is_null(st, 3) ? json_null() : json_integer(wk_stmt_i64(st, 3)));
    json_object_set_new(o, "account_id",
                        wk_stmt_is_null(st, 4) ? json_null() : json_integer(wk_stmt_i64(st, 4)));
    json_object_set_new(o, "detail", detail ? json_stringn(detail, dl) : json_string(""));
    return o;
}

/* Events of u after `after` (ascending), at most limit; desc: the newest `limit`, returned
 * oldest first. */
static wk_err rep__events(const wk_serve_env *env, const wk_user *u, int64_t after, int64_t limit,
                          bool desc, json_t *arr, wk_diag *d)
{
    wk_stmt *st;
    wk_err e = wk_store_prepare(env->st, desc ? REP_EVENTS_DESC_SQL : REP_EVENTS_SQL, &st, d);
    if (e)
        return e;
    e = rep__bind_scope(st, u);
    if (!e)
        e = wk_stmt_bind_i64(st, 3, after);
    if (!e)
        e = wk_stmt_bind_i64(st, 4, limit);
    bool row = false;
    while (!e && !(e = wk_stmt_step(st, &row, d)) && row) {
        json_t *ev = rep__event_json(st);
        if (!ev || (desc ? json_array_insert_new(arr, 0, ev) : json_array_append_new(arr, ev)))
            e = wk_diag_set(d, WK_ENOMEM, "out of memory");
    }
    wk_stmt_reset(st);
    return e;
}

static wk_err rep__i64(const wk_serve_env *env, const char *sql, int64_t *out, wk_diag *d)
{
    wk_stmt *st;
    wk_err e = wk_store_prepare(env->st, sql, &st, d);
    bool row = false;
    if (!e)
        e = wk_stmt_step(st, &row, d);
    if (!e)
        *out = row && !wk_stmt_is_null(st, 0) ? wk_stmt_i64(st, 0) : 0;
    if (st)
        wk_stmt_reset(st);
    return e;
}

/* The dashboard numbers of u (without recent events). */
static wk_err rep__dashboard(const wk_serve_env *env, const wk_user *u, json_t **out, wk_diag *d)
{
    int64_t meters = 0, online = 0, tripped = 0;
    int64_t open = 0, low = 0, arrears_n = 0, held = 0, arrears = 0;
    wk_stmt *st;
    wk_err e = wk_store_prepare(
        env->st,
        "SELECT count(*), coalesce(sum(m.online != 0), 0), coalesce(sum(m.relay = 'tripped'), 0)"
        " FROM meter m JOIN unit u ON u.id = m.unit_id JOIN building b ON b.id = u.building_id"
        " JOIN community c ON c.id = b.community_id WHERE" REP_SCOPE,
        &st, d);
    if (e)
        return e;
    bool row = false;
    e = rep__bind_scope(st, u);
    if (!e && !(e = wk_stmt_step(st, &row, d)) && row) {
        meters = wk_stmt_i64(st, 0);
        online = wk_stmt_i64(st, 1);
        tripped = wk_stmt_i64(st, 2);
    }
    wk_stmt_reset(st);
    if (e)
        return e;
    /* every account's wallet: open ones for the rates, all of them for the money held */
    if ((e = wk_store_prepare(env->st,
                              "SELECT c.id, c.policy, a.status = 'open',"
                              " la.credits_fen - la.debits_fen FROM account a"
                              " JOIN ledger_account la ON la.id = a.wallet_account_id" REP_UNIT_JOIN
                              " WHERE" REP_SCOPE " ORDER BY c.id",
                              &st, d)))
        return e;
    const wk_config *cfg = wk_serve_config(wk_web_serve());
    int64_t dflt = cfg->policy.warn1_fen, cur_c = -1, warn1 = dflt;
    e = rep__bind_scope(st, u);
    while (!e && !(e = wk_stmt_step(st, &row, d)) && row) {
        int64_t cid = wk_stmt_i64(st, 0), bal = wk_stmt_i64(st, 3);
        if (cid != cur_c) {
            size_t len;
            cur_c = cid;
            warn1 = rep__warn1(wk_stmt_is_null(st, 1) ? NULL : wk_stmt_text(st, 1, &len), dflt);
        }
        if (bal > 0)
            held += bal;
        else if (bal < 0)
            arrears -= bal;
        if (wk_stmt_i64(st, 2)) {
            open++;
            low += bal <= warn1;
            arrears_n += bal < 0;
        }
    }
    wk_stmt_reset(st);
    if (e)
        return e;
    int64_t today = rep__today(env->now_ms);
    rep_coll t = {0};
    int64_t from_s = today * 86400 - REP_CST_S;
    if ((e = rep__collections(env, u, 0, from_s, from_s + 86400, false, rep__coll_today, &t, d)))
        return e;
    char day[11], rate[32];
    rep__day_text(today, day);
    int64_t rate_e4 = open ? (arrears_n * 10000 + open / 2) / open : 0;
    json_t *o = json_object();
    if (!o)
        return wk_diag_set(d, WK_ENOMEM, "out of memory");
    json_object_set_new(o, "as_of_ms", json_integer(env->now_ms));
    json_object_set_new(o, "day", json_string(day));
    json_object_set_new(o, "meters", json_integer(meters));
    json_object_set_new(o, "online", json_integer(online));
    json_object_set_new(o, "offline", json_integer(meters - online));
    json_object_set_new(o, "tripped", json_integer(tripped));
    json_object_set_new(o, "open_accounts", json_integer(open));
    json_object_set_new(o, "low_balance", json_integer(low));
    json_object_set_new(o, "arrears_accounts", json_integer(arrears_n));
    json_object_set_new(o, "arrears_rate", json_string(wk_dec_format(rate_e4, 4, 4, rate, sizeof rate)));
    rep__money(o, "collections_today", t.fen);
    json_object_set_new(o, "collections_today_count", json_integer(t.n));
    rep__money(o, "refunds_today", t.rfen);
    rep__money(o, "liability", held);
    rep__money(o, "arrears", arrears);
    *out = o;
    return WK_OK;
}

static void rep__op_dashboard(wk_web_call *c, const wk_serve_env *env)
{
    if (!wk_web_role(c, WK_WEB_ANY_STAFF, "staff"))
        return;
    wk_diag d = {{0}};
    json_t *o = NULL, *evs = json_array();
    wk_err e = evs ? rep__dashboard(env, &c->sess.user, &o, &d) : WK_ENOMEM;
    if (!e)
        e = rep__events(env, &c->sess.user, 0, REP_RECENT, true, evs, &d);
    if (e) {
        json_decref(o);
        json_decref(evs);
        wk_web_internal(c, &d);
        return;
    }
    /* newest first, like GET /events */
    json_t *rev = json_array();
    for (size_t i = json_array_size(evs); rev && i > 0; i--)
        json_array_append(rev, json_array_get(evs, i - 1));
    json_decref(evs);
    json_object_set_new(o, "recent_events", rev ? rev : json_array());
    c->body = o;
}

/* ---- period reports ---- */

typedef struct rep_out {
    wk_web_call *c;
    rep_query *q;
    json_t *items;
    rep_buf csv;
    int64_t rows;
    rep_coll tot[3];
} rep_out;

static void rep__coll_item(void *ctx, const char *period, int ch, const rep_coll *r)
{
    rep_out *o = ctx;
    if (++o->rows > REP_ROWS_MAX)
        return;
    o->tot[ch].n += r->n;
    o->tot[ch].fen += r->fen;
    o->tot[ch].rn += r->rn;
    o->tot[ch].rfen += r->rfen;
    if (o->q->csv) {
        rep__csv(&o->csv, period, false);
        rep__csv(&o->csv, rep_channels[ch], false);
        rep__csv_i(&o->csv, r->n, false);
        rep__csv_yuan(&o->csv, r->fen, false);
        rep__csv_i(&o->csv, r->rn, false);
        rep__csv_yuan(&o->csv, r->rfen, false);
        rep__csv_yuan(&o->csv, r->fen - r->rfen, true);
        return;
    }
    json_t *it = rep__coll_json(r);
    if (it) {
        json_object_set_new(it, "period", json_string(period));
        json_object_set_new(it, "channel", json_string(rep_channels[ch]));
    }
    if (!it || json_array_append_new(o->items, it))
        o->csv.bad = true;
}

/* The report's header fields (by, from, to, community_id). */
static json_t *rep__head(const rep_query *q)
{
    char f[11], t[11];
    rep__day_text(q->from_day, f);
    rep__day_text(q->to_day, t);
    json_t *o = json_pack("{s:s, s:s, s:s}", "by", q->month ? "month" : "day", "from", f, "to", t);
    if (o)
        json_object_set_new(o, "community_id", q->community ? json_integer(q->community) : json_null());
    return o;
}

static void rep__csv_answer(wk_web_call *c, const rep_query *q, rep_out *o, const char *what)
{
    if (o->csv.bad) {
        wk_free(o->csv.p);
        wk_web_fail(c, 500, "internal", NULL, "out of memory");
        return;
    }
    /* UTF-8 with a byte-order mark: without it Excel (what a property office opens a CSV
     * with) reads the file as the local code page and garbles Chinese names */
    char *withbom = wk_malloc(o->csv.n + 3);
    if (!withbom) {
        wk_free(o->csv.p);
        wk_web_fail(c, 500, "internal", NULL, "out of memory");
        return;
    }
    memcpy(withbom, "\xEF\xBB\xBF", 3);
    memcpy(withbom + 3, o->csv.p, o->csv.n);
    wk_free(o->csv.p);
    o->csv.p = NULL;
    char f[11], t[11];
    rep__day_text(q->from_day, f);
    rep__day_text(q->to_day, t);
    c->raw = withbom;
    c->raw_len = o->csv.n + 3;
    c->raw_type = "text/csv; charset=utf-8; header=present";
    if (q->kind == REP_LIABILITY)
        snprintf(c->raw_disposition, sizeof c->raw_disposition,
                 "attachment; filename=\"wattkeeper-%s-%s.csv\"", what, t);
    else
        snprintf(c->raw_disposition, sizeof c->raw_disposition,
                 "attachment; filename=\"wattkeeper-%s-%s-%s-to-%s.csv\"", what,
                 q->month ? "monthly" : "daily", f, t);
}

/* Role, the community filter's tenancy, and [from_s, to_s). */
static bool rep__begin(wk_web_call *c, const wk_serve_env *env, const rep_query *q, int64_t *from_s,
                       int64_t *to_s)
{
    if (!wk_web_role(c, WK_WEB_ANY_STAFF, "staff"))
        return false;
    if (q->community && !wk_web_community_visible(c, env, q->community))
        return false;
    *from_s = q->from_day * 86400 - REP_CST_S;
    *to_s = (q->to_day + 1) * 86400 - REP_CST_S;
    return true;
}

static void rep__op_collections(wk_web_call *c, const wk_serve_env *env)
{
    rep_query *q = c->arg;
    int64_t from_s, to_s;
    if (!rep__begin(c, env, q, &from_s, &to_s))
        return;
    rep_out o = {.c = c, .q = q, .items = json_array()};
    if (q->csv)
        rep__puts(&o.csv, "period,channel,count,amount,refund_count,refunds,net\r\n");
    wk_diag d = {{0}};
    wk_err e = o.items ? rep__collections(env, &c->sess.user, q->community, from_s, to_s, q->month,
                                          rep__coll_item, &o, &d)
                       : wk_diag_set(&d, WK_ENOMEM, "out of memory");
    if (!e && o.rows > REP_ROWS_MAX)
        e = wk_diag_set(&d, WK_ELIMIT, "more than %d rows: ask for a shorter range", REP_ROWS_MAX);
    if (e) {
        json_decref(o.items);
        wk_free(o.csv.p);
        wk_web_internal(c, &d);
        return;
    }
    if (q->csv) {
        json_decref(o.items);
        rep__csv_answer(c, q, &o, "collections");
        return;
    }
    json_t *body = rep__head(q), *totals = json_object();
    rep_coll all = {0};
    for (int i = 0; totals && i < 3; i++) {
        json_object_set_new(totals, rep_channels[i], rep__coll_json(&o.tot[i]));
        all.n += o.tot[i].n;
        all.fen += o.tot[i].fen;
        all.rn += o.tot[i].rn;
        all.rfen += o.tot[i].rfen;
    }
    if (!body || !totals || o.csv.bad) {
        json_decref(body);
        json_decref(totals);
        json_decref(o.items);
        wk_web_fail(c, 500, "internal", NULL, "out of memory");
        return;
    }
    json_object_set_new(body, "items", o.items);
    json_object_set_new(body, "channels", totals);
    json_object_set_new(body, "total", rep__coll_json(&all));
    c->body = body;
}

static void rep__op_consumption(wk_web_call *c, const wk_serve_env *env)
{
    rep_query *q = c->arg;
    int64_t from_s, to_s;
    if (!rep__begin(c, env, q, &from_s, &to_s))
        return;
    wk_diag d = {{0}};
    wk_stmt *st;
    if (wk_store_prepare(env->st,
                         "SELECT strftime(?6, r.time_s + 28800, 'unixepoch') AS p, c.id, c.name, b.id,"
                         " b.name, count(*), sum(r.energy_wh), sum(r.deduction_fen) FROM reading r"
                         " JOIN meter m ON m.id = r.meter_id JOIN unit u ON u.id = m.unit_id"
                         " JOIN building b ON b.id = u.building_id JOIN community c ON c.id = b.community_id"
                         " WHERE" REP_SCOPE " AND (?3 IS NULL OR c.id = ?3) AND r.time_s >= ?4"
                         " AND r.time_s < ?5 GROUP BY p, b.id ORDER BY p, c.id, b.id",
                         &st, &d)) {
        wk_web_internal(c, &d);
        return;
    }
    const char *fmt = q->month ? "%Y-%m" : "%Y-%m-%d";
    wk_err e = rep__bind_scope(st, &c->sess.user);
    if (!e)
        e = q->community ? wk_stmt_bind_i64(st, 3, q->community) : wk_stmt_bind_null(st, 3);
    if (!e)
        e = wk_stmt_bind_i64(st, 4, from_s);
    if (!e)
        e = wk_stmt_bind_i64(st, 5, to_s);
    if (!e)
        e = wk_stmt_bind_text(st, 6, fmt, strlen(fmt));
    json_t *items = json_array();
    rep_buf csv = {0};
    if (q->csv)
        rep__puts(&csv, "period,community_id,community,building_id,building,readings,energy_wh,"
                        "energy_kwh,charged\r\n");
    int64_t tot_wh = 0, tot_fen = 0, tot_n = 0, rows = 0;
    bool row = false;
    while (!e && items && !(e = wk_stmt_step(st, &row, &d)) && row) {
        if (++rows > REP_ROWS_MAX) {
            e = wk_diag_set(&d, WK_ELIMIT, "more than %d rows: ask for a shorter range", REP_ROWS_MAX);
            break;
        }
        size_t pl, cl, bl;
        const char *p = wk_stmt_text(st, 0, &pl), *cn = wk_stmt_text(st, 2, &cl),
                   *bn = wk_stmt_text(st, 4, &bl);
        int64_t n = wk_stmt_i64(st, 5), wh = wk_stmt_i64(st, 6), fen = wk_stmt_i64(st, 7);
        tot_wh += wh;
        tot_fen += fen;
        tot_n += n;
        char kwh[32];
        wk_dec_format(wh, 3, 3, kwh, sizeof kwh);
        if (q->csv) {
            rep__csv(&csv, p ? p : "", false);
            rep__csv_i(&csv, wk_stmt_i64(st, 1), false);
            rep__csv(&csv, cn ? cn : "", false);
            rep__csv_i(&csv, wk_stmt_i64(st, 3), false);
            rep__csv(&csv, bn ? bn : "", false);
            rep__csv_i(&csv, n, false);
            rep__csv_i(&csv, wh, false);
            rep__csv(&csv, kwh, false);
            rep__csv_yuan(&csv, fen, true);
            continue;
        }
        json_t *it = json_pack("{s:s#, s:I, s:s#, s:I, s:s#, s:I, s:I, s:s}", "period", p ? p : "",
                               p ? (int)pl : 0, "community_id", (json_int_t)wk_stmt_i64(st, 1),
                               "community", cn ? cn : "", cn ? (int)cl : 0, "building_id",
                               (json_int_t)wk_stmt_i64(st, 3), "building", bn ? bn : "",
                               bn ? (int)bl : 0, "readings", (json_int_t)n, "energy_wh",
                               (json_int_t)wh, "energy_kwh", kwh);
        if (it)
            rep__money(it, "charged", fen);
        if (!it || json_array_append_new(items, it))
            e = wk_diag_set(&d, WK_ENOMEM, "out of memory");
    }
    wk_stmt_reset(st);
    if (!e && (!items || csv.bad))
        e = wk_diag_set(&d, WK_ENOMEM, "out of memory");
    if (e) {
        json_decref(items);
        wk_free(csv.p);
        wk_web_internal(c, &d);
        return;
    }
    if (q->csv) {
        json_decref(items);
        rep_out o = {.csv = csv};
        rep__csv_answer(c, q, &o, "consumption");
        return;
    }
    char kwh[32];
    json_t *body = rep__head(q), *tot = json_pack("{s:I, s:I, s:s}", "readings", (json_int_t)tot_n,
                                                  "energy_wh", (json_int_t)tot_wh, "energy_kwh",
                                                  wk_dec_format(tot_wh, 3, 3, kwh, sizeof kwh));
    if (!body || !tot) {
        json_decref(body);
        json_decref(tot);
        json_decref(items);
        wk_web_fail(c, 500, "internal", NULL, "out of memory");
        return;
    }
    rep__money(tot, "charged", tot_fen);
    json_object_set_new(body, "items", items);
    json_object_set_new(body, "total", tot);
    c->body = body;
}

typedef struct rep_liab {
    int64_t accounts, credit_n, held, arrears_n, arrears;
} rep_liab;

static json_t *rep__liab_json(const rep_liab *l)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "accounts", json_integer(l->accounts));
    json_object_set_new(o, "accounts_in_credit", json_integer(l->credit_n));
    rep__money(o, "held", l->held);
    json_object_set_new(o, "accounts_in_arrears", json_integer(l->arrears_n));
    rep__money(o, "arrears", l->arrears);
    rep__money(o, "net", l->held - l->arrears);
    return o;
}

static void rep__csv_liab(rep_buf *b, const char *cid, const char *name, const rep_liab *l)
{
    rep__csv(b, cid, false);
    rep__csv(b, name, false);
    rep__csv_i(b, l->accounts, false);
    rep__csv_i(b, l->credit_n, false);
    rep__csv_yuan(b, l->held, false);
    rep__csv_i(b, l->arrears_n, false);
    rep__csv_yuan(b, l->arrears, false);
    rep__csv_yuan(b, l->held - l->arrears, true);
}

static void rep__op_liability(wk_web_call *c, const wk_serve_env *env)
{
    rep_query *q = c->arg;
    if (!wk_web_role(c, WK_WEB_ANY_STAFF, "staff"))
        return;
    wk_diag d = {{0}};
    wk_stmt *st;
    if (wk_store_prepare(env->st,
                         "SELECT c.id, c.name, count(*),"
                         " coalesce(sum(la.credits_fen - la.debits_fen > 0), 0),"
                         " coalesce(sum(max(la.credits_fen - la.debits_fen, 0)), 0),"
                         " coalesce(sum(la.credits_fen - la.debits_fen < 0), 0),"
                         " coalesce(sum(max(la.debits_fen - la.credits_fen, 0)), 0)"
                         " FROM account a JOIN ledger_account la ON la.id = a.wallet_account_id" REP_UNIT_JOIN
                         " WHERE" REP_SCOPE " GROUP BY c.id ORDER BY c.id",
                         &st, &d)) {
        wk_web_internal(c, &d);
        return;
    }
    wk_err e = rep__bind_scope(st, &c->sess.user);
    json_t *items = json_array();
    rep_buf csv = {0};
    if (q->csv)
        rep__puts(&csv, "community_id,community,accounts,accounts_in_credit,held,"
                        "accounts_in_arrears,arrears,net\r\n");
    rep_liab tot = {0};
    bool row = false;
    while (!e && items && !(e = wk_stmt_step(st, &row, &d)) && row) {
        rep_liab l = {wk_stmt_i64(st, 2), wk_stmt_i64(st, 3), wk_stmt_i64(st, 4), wk_stmt_i64(st, 5),
                      wk_stmt_i64(st, 6)};
        tot.accounts += l.accounts;
        tot.credit_n += l.credit_n;
        tot.held += l.held;
        tot.arrears_n += l.arrears_n;
        tot.arrears += l.arrears;
        size_t nl;
        const char *name = wk_stmt_text(st, 1, &nl);
        if (q->csv) {
            char cid[32];
            snprintf(cid, sizeof cid, "%lld", (long long)wk_stmt_i64(st, 0));
            rep__csv_liab(&csv, cid, name ? name : "", &l);
            continue;
        }
        json_t *it = rep__liab_json(&l);
        if (it) {
            json_object_set_new(it, "community_id", json_integer(wk_stmt_i64(st, 0)));
            json_object_set_new(it, "community", json_stringn(name ? name : "", name ? nl : 0));
        }
        if (!it || json_array_append_new(items, it))
            e = wk_diag_set(&d, WK_ENOMEM, "out of memory");
    }
    wk_stmt_reset(st);
    if (!e && (!items || csv.bad))
        e = wk_diag_set(&d, WK_ENOMEM, "out of memory");
    if (e) {
        json_decref(items);
        wk_free(csv.p);
        wk_web_internal(c, &d);
        return;
    }
    if (q->csv) {
        json_decref(items);
        rep__csv_liab(&csv, "", "total", &tot);
        q->to_day = rep__today(env->now_ms);
        rep_out o = {.csv = csv};
        rep__csv_answer(c, q, &o, "liability");
        return;
    }
    json_t *body = json_object();
    if (!body) {
        json_decref(items);
        wk_web_fail(c, 500, "internal", NULL, "out of memory");
        return;
    }
    json_object_set_new(body, "as_of_ms", json_integer(env->now_ms));
    json_object_set_new(body, "items", items);
    json_object_set_new(body, "total", rep__liab_json(&tot));
    c->body = body;
}

/* ---- HTTP side ---- */

/* A date query parameter "YYYY-MM-DD" (400 naming it otherwise); absent = dflt. */
static bool rep__qdate(wk_http_req *req, wk_http_resp *resp, const char *name, int64_t dflt,
                       int64_t *out, int *rc)
{
    const char *v = wk_http_req_query(req, name);
    *out = dflt;
    if (!v)
        return true;
    wk_diag d;
    int64_t day;
    if (strlen(v) != 10 || wk_date_parse(v, 10, &day, &d) || day < wk_days_from_civil(2000, 1, 1) ||
        day > wk_days_from_civil(2099, 12, 31)) {
        *rc = wk_web_err(resp, 400, "invalid", "expected a date YYYY-MM-DD (2000..2099)", name);
        return false;
    }
    *out = day;
    return true;
}

static int64_t rep__month_index(int64_t day)
{
    wk_date d = wk_civil_from_days(day);
    return (int64_t)d.year * 12 + d.month - 1;
}

/* Parses by, from, to, community, format for a period report; false answered 400. */
static bool rep__parse(wk_http_req *req, wk_http_resp *resp, rep_query *q, bool periods, int *rc)
{
    static const char *const by_words[] = {"day", "month", NULL};
    static const char *const fmt_words[] = {"json", "csv", NULL};
    const char *by = NULL, *fmt = NULL;
    if (!wk_web_qword(req, resp, "format", fmt_words, &fmt, rc))
        return false;
    q->csv = fmt && !strcmp(fmt, "csv");
    if (!periods)
        return true;
    if (!wk_web_qword(req, resp, "by", by_words, &by, rc))
        return false;
    q->month = by && !strcmp(by, "month");
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t today = rep__today((int64_t)ts.tv_sec * 1000);
    if (!rep__qdate(req, resp, "to", today, &q->to_day, rc))
        return false;
    int64_t dflt_from = q->to_day - 29;
    if (q->month) {
        wk_date d = wk_civil_from_days(q->to_day);
        int64_t mi = (int64_t)d.year * 12 + d.month - 1 - 11;
        dflt_from = wk_days_from_civil((int32_t)(mi / 12), (int32_t)(mi % 12 + 1), 1);
    }
    if (!rep__qdate(req, resp, "from", dflt_from, &q->from_day, rc))
        return false;
    if (q->from_day > q->to_day) {
        *rc = wk_web_err(resp, 400, "invalid", "from is after to", "from");
        return false;
    }
    if (!q->month && q->to_day - q->from_day + 1 > REP_DAYS_MAX) {
        *rc = wk_web_err(resp, 400, "invalid", "at most 366 days with by=day (use by=month)", "to");
        return false;
    }
    if (q->month && rep__month_index(q->to_day) - rep__month_index(q->from_day) + 1 > REP_MONTHS_MAX) {
        *rc = wk_web_err(resp, 400, "invalid", "at most 120 months with by=month", "to");
        return false;
    }
    return wk_web_qint(req, resp, "community", 1, INT64_C(1) << 53, 0, &q->community, rc);
}

static int rep__report(wk_http_req *req, wk_http_resp *resp, void *ctx)
{
    rep_query q = {.kind = (rep_kind)(intptr_t)ctx};
    int rc = 0;
    if (!rep__parse(req, resp, &q, q.kind == REP_COLLECTIONS || q.kind == REP_CONSUMPTION, &rc))
        return rc;
    wk_web_call c;
    wk_web_call_init(&c, req, true);
    c.arg = &q;
    c.op = q.kind == REP_DASHBOARD     ? rep__op_dashboard
           : q.kind == REP_COLLECTIONS ? rep__op_collections
           : q.kind == REP_CONSUMPTION ? rep__op_consumption
                                       : rep__op_liability;
    return wk_web_run(&c, resp);
}

/* ---- the event stream ---- */

typedef struct rep_stream {
    uint64_t serial;
    wk_web_call auth; /* token / bearer of the request (only those fields are used) */
    int64_t cursor;   /* the last event id sent */
    char *dash;       /* the last dashboard JSON sent */
    time_t last_write;
    rep_buf out;
    size_t off; /* bytes of out already pulled */
    bool ending;
} rep_stream;

static struct {
    pthread_mutex_t mu;
    rep_stream *slot[REP_STREAMS_MAX];
    size_t reserved; /* slots taken or promised to a request in flight */
    uint64_t serial;
    /* main loop only (the tick op) */
    int64_t sig[5];
} rep = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void rep__stream_free(rep_stream *s)
{
    wk_free(s->out.p);
    wk_free(s->dash);
    wk_free(s);
}

static long rep__pull(void *ctx, char *buf, size_t cap)
{
    rep_stream *s = ctx;
    pthread_mutex_lock(&rep.mu);
    long n = 0;
    if (s->off < s->out.n) {
        size_t k = s->out.n - s->off;
        if (k > cap)
            k = cap;
        memcpy(buf, s->out.p + s->off, k);
        s->off += k;
        if (s->off == s->out.n)
            s->off = s->out.n = 0;
        n = (long)k;
    } else if (s->ending) {
        n = -1;
    }
    pthread_mutex_unlock(&rep.mu);
    return n;
}

static void rep__done(void *ctx)
{
    rep_stream *s = ctx;
    pthread_mutex_lock(&rep.mu);
    for (size_t i = 0; i < REP_STREAMS_MAX; i++)
        if (rep.slot[i] == s) {
            rep.slot[i] = NULL;
            rep.reserved--;
        }
    pthread_mutex_unlock(&rep.mu);
    rep__stream_free(s);
}

/* Appends the SSE messages of events (array, ascending) to b; returns the last id. */
static int64_t rep__sse_events(rep_buf *b, json_t *events, int64_t cursor)
{
    size_t i;
    json_t *ev;
    json_array_foreach(events, i, ev)
    {
        char *text = json_dumps(ev, JSON_COMPACT);
        if (!text) {
            b->bad = true;
            break;
        }
        int64_t id = json_integer_value(json_object_get(ev, "id"));
        rep__printf(b, "id: %lld\nevent: event\ndata: ", (long long)id);
        rep__puts(b, text);
        rep__puts(b, "\n\n");
        free(text);
        cursor = id;
    }
    return cursor;
}

static void rep__sse_dash(rep_buf *b, const char *dash)
{
    rep__puts(b, "event: dashboard\ndata: ");
    rep__puts(b, dash);
    rep__puts(b, "\n\n");
}

/* The dashboard of u as compact JSON text (owned), or NULL with d set. */
static char *rep__dash_text(const wk_serve_env *env, const wk_user *u, wk_diag *d)
{
    json_t *o = NULL;
    if (rep__dashboard(env, u, &o, d))
        return NULL;
    json_object_del(o, "as_of_ms"); /* sent when the numbers change, not the clock */
    char *t = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!t) {
        wk_diag_set(d, WK_ENOMEM, "out of memory");
        return NULL;
    }
    char *mine = wk_strdup(t);
    free(t);
    return mine;
}

/* What changes the dashboard: the newest event, ledger transfer, account, audit row and
 * the day. */
static wk_err rep__signature(const wk_serve_env *env, int64_t sig[5], wk_diag *d)
{
    wk_err e = rep__i64(env, "SELECT max(id) FROM event", &sig[0], d);
    if (!e)
        e = rep__i64(env, "SELECT max(leaf_index) FROM ledger_transfer", &sig[1], d);
    if (!e)
        e = rep__i64(env, "SELECT max(id) FROM account", &sig[2], d);
    if (!e)
        e = rep__i64(env, "SELECT count(*) FROM account WHERE status = 'open'", &sig[3], d);
    sig[4] = rep__today(env->now_ms);
    return e;
}

/* GET /api/v1/events/stream: the first frames, on the main loop. */
static void rep__op_stream(wk_web_call *c, const wk_serve_env *env)
{
    rep_query *q = c->arg;
    if (!wk_web_role(c, WK_WEB_ANY_STAFF, "staff"))
        return;
    wk_diag d = {{0}};
    json_t *evs = json_array();
    wk_err e = evs ? WK_OK : WK_ENOMEM;
    q->dash = e ? NULL : rep__dash_text(env, &c->sess.user, &d);
    if (!q->dash)
        e = e ? e : WK_EIO;
    if (!e && q->has_last_id)
        e = rep__events(env, &c->sess.user, q->last_id, REP_EVENT_BATCH, false, evs, &d);
    else if (!e)
        e = rep__events(env, &c->sess.user, 0, REP_BACKLOG, true, evs, &d);
    int64_t newest = 0;
    if (!e)
        e = rep__i64(env, "SELECT max(id) FROM event", &newest, &d);
    if (e) {
        json_decref(evs);
        wk_free(q->dash);
        q->dash = NULL;
        wk_web_internal(c, &d);
        return;
    }
    /* resume after Last-Event-ID; a fresh stream starts after the newest event */
    rep__puts(&q->first, "retry: 3000\n\n");
    rep__sse_dash(&q->first, q->dash);
    int64_t last = rep__sse_events(&q->first, evs, q->has_last_id ? q->last_id : newest);
    q->cursor = q->has_last_id ? last : newest;
    json_decref(evs);
    c->body = json_object();
}

/* One round for every open stream (ticker thread). */
typedef struct rep_job {
    uint64_t serial;
    char token[WK_TOKEN_HEX + 1];
    char bearer[WK_TOKEN_HEX + 8];
    int64_t cursor;
    /* results */
    bool gone;         /* the session ended or is no staff session any more */
    rep_buf text;      /* events */
    int64_t new_cursor;
    char *dash;        /* NULL = unchanged */
    int64_t company, user; /* the dashboard's scope, for sharing it */
    bool assigned;
} rep_job;

typedef struct rep_round {
    rep_job *jobs;
    size_t n;
} rep_round;

static wk_err rep__tick_fn(const wk_serve_env *env, void *ctx, wk_diag *d)
{
    rep_round *r = ctx;
    int64_t sig[5];
    wk_err e = rep__signature(env, sig, d);
    if (e)
        return e;
    bool changed = memcmp(sig, rep.sig, sizeof sig) != 0;
    for (size_t i = 0; i < r->n; i++) {
        rep_job *j = &r->jobs[i];
        wk_session s;
        wk_diag sd = {{0}};
        wk_err se = j->token[0] ? wk_auth_session(env->st, j->token, env->now_ms / 1000, &s, &sd)
                                : wk_auth_token_session(env->st, j->bearer, env->now_ms / 1000, &s, &sd);
        if (se || !wk_web_staff(&s)) {
            j->gone = true;
            continue;
        }
        j->company = s.user.company_id;
        j->user = s.user.id;
        j->assigned = s.user.assigned;
        json_t *evs = json_array();
        if (!evs || rep__events(env, &s.user, j->cursor, REP_EVENT_BATCH, false, evs, d)) {
            json_decref(evs);
            return d->msg[0] ? WK_EIO : wk_diag_set(d, WK_ENOMEM, "out of memory");
        }
        j->new_cursor = rep__sse_events(&j->text, evs, j->cursor);
        json_decref(evs);
        if (!changed)
            continue;
        for (size_t k = 0; k < i && !j->dash; k++) /* same scope: same numbers */
            if (r->jobs[k].dash && r->jobs[k].company == j->company &&
                r->jobs[k].assigned == j->assigned && (!j->assigned || r->jobs[k].user == j->user))
                j->dash = wk_strdup(r->jobs[k].dash);
        if (!j->dash && !(j->dash = rep__dash_text(env, &s.user, d)))
            return WK_EIO;
    }
    memcpy(rep.sig, sig, sizeof sig); /* only after every dashboard was made */
    return WK_OK;
}

static void rep__tick(void *tick_ctx)
{
    (void)tick_ctx;
    rep_round r = {0};
    pthread_mutex_lock(&rep.mu);
    r.jobs = wk_calloc(REP_STREAMS_MAX, sizeof *r.jobs);
    for (size_t i = 0; r.jobs && i < REP_STREAMS_MAX; i++) {
        rep_stream *s = rep.slot[i];
        if (!s || s->ending)
            continue;
        rep_job *j = &r.jobs[r.n++];
        j->serial = s->serial;
        memcpy(j->token, s->auth.token, sizeof j->token);
        memcpy(j->bearer, s->auth.bearer, sizeof j->bearer);
        j->cursor = j->new_cursor = s->cursor;
    }
    pthread_mutex_unlock(&rep.mu);
    if (!r.jobs)
        return;
    wk_serve_req req = {.kind = WK_SERVE_REQ_CALL, .fn = rep__tick_fn, .ctx = &r};
    bool ok = r.n > 0 && wk_serve_submit(wk_web_serve(), &req, REP_TICK_TIMEOUT_MS) == WK_OK &&
              req.result == WK_OK;
    time_t now = time(NULL);
    pthread_mutex_lock(&rep.mu);
    for (size_t i = 0; i < REP_STREAMS_MAX; i++) {
        rep_stream *s = rep.slot[i];
        if (!s || s->ending)
            continue;
        rep_job *j = NULL;
        for (size_t k = 0; ok && k < r.n && !j; k++)
            if (r.jobs[k].serial == s->serial)
                j = &r.jobs[k];
        if (j && j->gone) {
            rep__puts(&s->out, "event: end\ndata: {\"reason\":\"session ended\"}\n\n");
            s->ending = true;
            continue;
        }
        if (j && j->text.n) {
            rep__put(&s->out, j->text.p, j->text.n);
            s->cursor = j->new_cursor;
            s->last_write = now;
        }
        if (j && j->dash && (!s->dash || strcmp(s->dash, j->dash))) {
            rep__sse_dash(&s->out, j->dash);
            wk_free(s->dash);
            s->dash = j->dash;
            j->dash = NULL;
            s->last_write = now;
        }
        if (now - s->last_write >= REP_HEARTBEAT_S) {
            rep__puts(&s->out, ": heartbeat\n\n");
            s->last_write = now;
        } else if (s->out.n == s->off) {
            /* nothing to say: one empty line (ignored by EventSource between messages) so
             * that a client that went away is noticed within seconds, not at the heartbeat */
            rep__puts(&s->out, "\n");
        }
        if (s->out.bad || s->out.n > REP_STREAM_BUF_MAX)
            s->ending = true; /* a client that does not read: let it reconnect and resume */
    }
    pthread_mutex_unlock(&rep.mu);
    for (size_t k = 0; k < r.n; k++) {
        wk_free(r.jobs[k].text.p);
        wk_free(r.jobs[k].dash);
    }
    wk_free(r.jobs);
}

static int rep__stream(wk_http_req *req, wk_http_resp *resp, void *ctx)
{
    (void)ctx;
    const char *accept = wk_http_req_header(req, "Accept");
    if (!accept || !strstr(accept, "text/event-stream"))
        return wk_web_err(resp, 406, "not_acceptable",
                          "this is an event stream: send Accept: text/event-stream", "Accept");
    rep_query q = {.stream = true};
    const char *lid = wk_http_req_header(req, "Last-Event-ID");
    if (lid && *lid) {
        size_t n = strlen(lid);
        if (!wk_web_id(lid, n, &q.last_id) && strcmp(lid, "0"))
            return wk_web_err(resp, 400, "invalid", "expected an event id", "Last-Event-ID");
        q.has_last_id = true;
    }
    pthread_mutex_lock(&rep.mu);
    bool room = rep.reserved < REP_STREAMS_MAX;
    if (room)
        rep.reserved++;
    pthread_mutex_unlock(&rep.mu);
    if (!room)
        return wk_web_err(resp, 503, "too_many_streams", "too many event streams are open; retry later",
                          NULL);
    wk_web_call c;
    wk_web_call_init(&c, req, true);
    c.arg = &q;
    c.op = rep__op_stream;
    int rc = wk_web_run(&c, resp);
    rep_stream *s = NULL;
    if (rc == 0 && q.dash && !q.first.bad)
        s = wk_calloc(1, sizeof *s);
    if (!s) {
        pthread_mutex_lock(&rep.mu);
        rep.reserved--;
        pthread_mutex_unlock(&rep.mu);
        wk_free(q.first.p);
        wk_free(q.dash);
        return rc == 0 && q.dash ? -1 : rc;
    }
    memcpy(s->auth.token, c.token, sizeof s->auth.token);
    memcpy(s->auth.bearer, c.bearer, sizeof s->auth.bearer);
    s->cursor = q.cursor;
    s->dash = q.dash;
    s->out = q.first;
    s->last_write = time(NULL);
    pthread_mutex_lock(&rep.mu);
    s->serial = ++rep.serial;
    for (size_t i = 0; i < REP_STREAMS_MAX; i++)
        if (!rep.slot[i]) {
            rep.slot[i] = s;
            break;
        }
    pthread_mutex_unlock(&rep.mu);
    if (wk_http_resp_header(resp, "X-Accel-Buffering", "no")) {
        rep__done(s);
        return -1;
    }
    return wk_http_resp_stream(resp, "text/event-stream; charset=utf-8", rep__pull, rep__done, s,
                               rep__tick, NULL)
               ? -1
               : 0;
}

const wk_http_route wk_web_reports_routes[] = {
    {"GET", "/api/v1/reports/dashboard", rep__report, (void *)(intptr_t)REP_DASHBOARD, 0, "reports_dashboard"},
    {"GET", "/api/v1/reports/collections", rep__report, (void *)(intptr_t)REP_COLLECTIONS, 0, "reports_collections"},
    {"GET", "/api/v1/reports/consumption", rep__report, (void *)(intptr_t)REP_CONSUMPTION, 0, "reports_consumption"},
    {"GET", "/api/v1/reports/liability", rep__report, (void *)(intptr_t)REP_LIABILITY, 0, "reports_liability"},
    {"GET", "/api/v1/events/stream", rep__stream, NULL, 0, "events_stream"},
};
const size_t wk_web_reports_nroutes = sizeof wk_web_reports_routes / sizeof wk_web_reports_routes[0];
