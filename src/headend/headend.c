/*
 * headend.c - ingest, deduction and relay control (see headend.h for the contract).
 *
 * Money safety rests on three database facts, not on checks in this file: a reading row is
 * keyed by (meter, register value), a deduction's ledger id is derived from the same pair,
 * and the reading, the transfer and the account's rating state are written in one
 * transaction. A redelivered or reordered frame therefore finds its key taken (or an older
 * register) and changes nothing. Commands: one active per meter (partial UNIQUE index), a
 * fresh counter and deadline for every send, confirmation only by the meter's own status
 * word 3.
 */
#include "headend/headend.h"
#include "headend/internal.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/civil.h"
#include "core/mem.h"
#include "core/rating.h"
#include "core/readings.h"
#include "core/units.h"
#include "proto/dlt645.h"
#include "proto/tariff_json.h"

/* ---- small helpers ---- */

static void hd__event(wk_headend *hd, int64_t now_ms, const char *kind, int64_t meter_id,
                      int64_t account_id, const char *address, const char *detail)
{
    wk_stmt *s;
    bool row, ok = false;
    if (!wk_store_prepare(hd->st,
                          "INSERT INTO event (time_ms, kind, meter_id, account_id, detail) "
                          "VALUES (?, ?, ?, ?, ?)",
                          &s, NULL)) {
        ok = !wk_stmt_bind_i64(s, 1, now_ms) && !wk_stmt_bind_text(s, 2, kind, strlen(kind)) &&
             !(meter_id ? wk_stmt_bind_i64(s, 3, meter_id) : wk_stmt_bind_null(s, 3)) &&
             !(account_id ? wk_stmt_bind_i64(s, 4, account_id) : wk_stmt_bind_null(s, 4)) &&
             !wk_stmt_bind_text(s, 5, detail, strlen(detail)) && !wk_stmt_step(s, &row, NULL);
        wk_stmt_reset(s);
    }
    if (!ok) /* the event rows are the notification outbox: the commit will refuse */
        hd->event_failed = true;
    if (hd->on_event)
        hd->on_event(hd->event_ctx, kind, address ? address : "", detail);
}

static wk_err hd__exec_i(wk_headend *hd, const char *sql, int n, const int64_t *v, wk_diag *d)
{
    return wk_store_run_i64(hd->st, sql, v, n, d);
}

/* 16-byte id from a domain string (SHA-256 truncated). */
void hd__id_from(const char *text, uint8_t id[16])
{
    uint8_t h[32];
    unsigned int n = 0;
    EVP_Digest(text, strlen(text), h, &n, EVP_sha256(), NULL);
    memcpy(id, h, 16);
}

static void hd__touch(wk_headend *hd, int64_t account_id)
{
    for (int i = 0; i < hd->n_touched; i++)
        if (hd->touched[i] == account_id)
            return;
    if (hd->n_touched < HD_TOUCHED_MAX)
        hd->touched[hd->n_touched++] = account_id;
}

/* Frames to publish once the current transaction has committed. */
static void hd__queue_publish(wk_headend *hd, const char *address, const uint8_t *wire, size_t len)
{
    if (hd->n_out == HD_OUT_MAX || len > sizeof hd->out[0].wire) {
        hd->stats.publish_failed++; /* the command stays 'sent': the retry timer resends it */
        return;
    }
    hd_out *o = &hd->out[hd->n_out++];
    memcpy(o->address, address, sizeof o->address);
    memcpy(o->wire, wire, len);
    o->len = len;
}

/* After a commit: sends the queued frames. After a rollback: forgets them. */
static void hd__after_txn(wk_headend *hd, bool committed)
{
    for (int i = 0; committed && i < hd->n_out; i++)
        if (hd->publish &&
            hd->publish(hd->publish_ctx, hd->out[i].address, hd->out[i].wire, hd->out[i].len))
            hd->stats.publish_failed++;
    hd->n_out = 0;
}

/* Commits and then publishes; on failure rolls back and forgets the queued frames. */
static wk_err hd__commit(wk_headend *hd, wk_diag *d)
{
    /* the event rows are the notification outbox: a state change whose event could not be
     * written must not commit without it */
    wk_err e = hd->event_failed ? wk_diag_set(d, WK_EIO, "writing the event log failed")
                                : wk_store_commit(hd->st, d);
    hd->event_failed = false;
    if (e)
        wk_store_rollback(hd->st);
    hd__after_txn(hd, e == WK_OK);
    return e;
}

static void hd__rollback(wk_headend *hd)
{
    hd->event_failed = false;
    wk_store_rollback(hd->st);
    hd__after_txn(hd, false);
}

/* ---- open / close ---- */

wk_err wk_headend_open(wk_store *st, wk_ledger *lg, const wk_headend_opts *o,
                       wk_headend_publish_fn publish, void *publish_ctx, wk_headend **out,
                       wk_diag *d)
{
    wk_diag sub;
    if (wk_policy_validate(&o->policy, &sub))
        return wk_diag_set(d, WK_EINVAL, "policy: %s", sub.msg);
    if (o->report_interval_s <= 0 || o->command_deadline_s <= 0 || o->batch_max <= 0 ||
        o->command_retries < 0 || o->command_retry_base_ms <= 0 || o->offline_after_s <= 0 ||
        o->gap_intervals <= 0)
        return wk_diag_set(d, WK_EINVAL,
                           "head-end options: intervals, deadline, batch size and retry base "
                           "must be positive");
    wk_headend *hd = wk_calloc(1, sizeof *hd);
    if (!hd)
        return wk_diag_set(d, WK_ENOMEM, "out of memory");
    hd->st = st;
    hd->lg = lg;
    hd->o = *o;
    snprintf(hd->tariff_dir, sizeof hd->tariff_dir, "%s", o->tariff_dir ? o->tariff_dir : ".");
    hd->o.tariff_dir = hd->tariff_dir;
    if (o->operator_code)
        memcpy(hd->operator_code, o->operator_code, 4);
    hd->publish = publish;
    hd->publish_ctx = publish_ctx;
    wk_account acc;
    wk_err e = wk_ledger_account_find(lg, HD_ADJUSTMENT_ACCOUNT, &acc, NULL);
    if (e == WK_ENOTFOUND)
        e = wk_ledger_account_add(lg, HD_ADJUSTMENT_ACCOUNT, WK_ACCOUNT_ADJUSTMENT, NULL,
                                  &acc.id, d);
    if (e) {
        wk_free(hd);
        return e;
    }
    hd->adjustment_id = acc.id;
    *out = hd;
    return WK_OK;
}

void wk_headend_close(wk_headend *hd)
{
    if (!hd)
        return;
    if (hd->in_batch)
        wk_store_rollback(hd->st);
    for (int i = 0; i < hd->n_tariffs; i++)
        wk_free(hd->tariffs[i].t);
    wk_free(hd);
}

void wk_headend_on_event(wk_headend *hd, wk_headend_event_fn fn, void *ctx)
{
    hd->on_event = fn;
    hd->event_ctx = ctx;
}

void wk_headend_on_latency(wk_headend *hd, wk_headend_latency_fn fn, void *ctx)
{
    hd->on_latency = fn;
    hd->latency_ctx = ctx;
}

wk_ledger *wk_headend_ledger(wk_headend *hd)
{
    return hd->lg;
}

wk_store *wk_headend_store(wk_headend *hd)
{
    return hd->st;
}

int64_t hd__adjustment_id(const wk_headend *hd)
{
    return hd->adjustment_id;
}

void wk_headend_stats_get(const wk_headend *hd, wk_headend_stats *out)
{
    *out = hd->stats;
    out->batch_pending = hd->batch_n;
}

/* ---- meters and accounts ---- */

typedef struct hd_meter {
    int64_t id;
    char address[13];
    uint8_t addr[6];
    bool permit;
    bool mac;
    uint8_t key[32];
    size_t key_len;
    int64_t counter;
    bool online;
    bool tripped;
    int64_t last_seen_s;
    bool has_last;
    int64_t last_reading_s;
    int64_t last_wh[5]; /* total, t1..t4 */
    int64_t account_id; /* open account of its unit, 0 = none */
    int64_t ct_ratio;   /* current-transformer ratio: energy = register delta x ratio */
} hd_meter;

static void hd__meter_row(wk_stmt *s, hd_meter *m)
{
    memset(m, 0, sizeof *m);
    m->id = wk_stmt_i64(s, 0);
    size_t n;
    const char *a = wk_stmt_text(s, 1, &n);
    memcpy(m->address, a, n < 12 ? n : 12);
    if (wk_dlt645_addr_parse(m->address, m->addr)) /* the schema CHECKs 12 digits */
        memset(m->addr, 0, sizeof m->addr);
    m->permit = !strcmp(wk_stmt_text(s, 2, &n), "permit");
    m->mac = !strcmp(wk_stmt_text(s, 3, &n), "mac");
    const void *k = wk_stmt_blob(s, 4, &n);
    m->key_len = n < 32 ? n : 32;
    memcpy(m->key, k, m->key_len);
    m->counter = wk_stmt_i64(s, 5);
    m->online = wk_stmt_i64(s, 6) != 0;
    m->tripped = !strcmp(wk_stmt_text(s, 7, &n), "tripped");
    m->last_seen_s = wk_stmt_i64(s, 8);
    m->has_last = !wk_stmt_is_null(s, 10);
    m->last_reading_s = wk_stmt_i64(s, 9);
    for (int i = 0; i < 5; i++)
        m->last_wh[i] = wk_stmt_i64(s, 10 + i);
    m->account_id = wk_stmt_is_null(s, 15) ? 0 : wk_stmt_i64(s, 15);
    m->ct_ratio = wk_stmt_i64(s, 16);
}

static wk_err hd__meter_by(wk_headend *hd, const char *sql, const char *address, int64_t id,
                           hd_meter *m, wk_diag *d)
{
    wk_stmt *s;
    wk_err e = wk_store_prepare(hd->st, sql, &s, d);
    if (e)
        return e;
    bool row = false;
    e = address ? wk_stmt_bind_text(s, 1, address, strlen(address)) : wk_stmt_bind_i64(s, 1, id);
    if (!e)
        e = wk_stmt_step(s, &row, d);
    if (!e && !row)
        e = WK_ENOTFOUND;
    if (!e)
        hd__meter_row(s, m);
    wk_stmt_reset(s);
    return e;
}

static wk_err hd__meter_by_address(wk_headend *hd, const char *address, hd_meter *m, wk_diag *d)
{
    static const char sql[] =
        "SELECT m.id, m.address, m.close_mode, m.auth, m.key, m.counter, m.online, m.relay,"
        " m.last_seen_s, m.last_reading_s, m.last_total_wh, m.last_t1_wh, m.last_t2_wh,"
        " m.last_t3_wh, m.last_t4_wh, a.id, m.ct_ratio"
        " FROM meter m LEFT JOIN account a ON a.unit_id = m.unit_id AND a.status = 'open'"
        " WHERE m.address = ?";
    return hd__meter_by(hd, sql, address, 0, m, d);
}

static wk_err hd__meter_by_id(wk_headend *hd, int64_t id, hd_meter *m, wk_diag *d)
{
    static const char sql[] =
        "SELECT m.id, m.address, m.close_mode, m.auth, m.key, m.counter, m.online, m.relay,"
        " m.last_seen_s, m.last_reading_s, m.last_total_wh, m.last_t1_wh, m.last_t2_wh,"
        " m.last_t3_wh, m.last_t4_wh, a.id, m.ct_ratio"
        " FROM meter m LEFT JOIN account a ON a.unit_id = m.unit_id AND a.status = 'open'"
        " WHERE m.id = ?";
    return hd__meter_by(hd, sql, NULL, id, m, d);
}

static wk_err hd__meter_of_account(wk_headend *hd, int64_t account_id, hd_meter *m, wk_diag *d)
{
    static const char sql[] =
        "SELECT m.id, m.address, m.close_mode, m.auth, m.key, m.counter, m.online, m.relay,"
        " m.last_seen_s, m.last_reading_s, m.last_total_wh, m.last_t1_wh, m.last_t2_wh,"
        " m.last_t3_wh, m.last_t4_wh, a.id, m.ct_ratio"
        " FROM account a JOIN meter m ON m.unit_id = a.unit_id WHERE a.id = ?";
    return hd__meter_by(hd, sql, NULL, account_id, m, d);
}

typedef struct hd_account {
    int64_t id;
    int64_t wallet_id;
    int64_t revenue_id;
    char tariff[64];
    bool open, vacant, emergency_taken;
    int64_t guarantee_until_s;
    int warned_level;
    int64_t deferred_until_s;
    int64_t created_s; /* charged only for intervals that start at or after it */
    bool has_state;
    wk_rate_state rate;
    char policy[1024]; /* the community's overrides (JSON), "" = none */
} hd_account;

static wk_err hd__account(wk_headend *hd, int64_t id, hd_account *a, wk_diag *d)
{
    static const char sql[] =
        "SELECT a.id, a.wallet_account_id, c.revenue_account_id, c.tariff, a.status, a.vacant,"
        " a.emergency_taken, a.guarantee_until_s, a.warned_level, a.deferred_until_s,"
        " a.rate_state, c.policy, a.created_s"
        " FROM account a JOIN unit u ON u.id = a.unit_id JOIN building b ON b.id = u.building_id"
        " JOIN community c ON c.id = b.community_id WHERE a.id = ?";
    wk_stmt *s;
    wk_err e = wk_store_prepare(hd->st, sql, &s, d);
    if (e)
        return e;
    bool row = false;
    e = wk_stmt_bind_i64(s, 1, id);
    if (!e)
        e = wk_stmt_step(s, &row, d);
    if (!e && !row)
        e = wk_diag_set(d, WK_ENOTFOUND, "account %lld does not exist", (long long)id);
    if (!e) {
        memset(a, 0, sizeof *a);
        size_t n;
        a->id = wk_stmt_i64(s, 0);
        a->wallet_id = wk_stmt_i64(s, 1);
        a->revenue_id = wk_stmt_i64(s, 2);
        const char *t = wk_stmt_text(s, 3, &n);
        snprintf(a->tariff, sizeof a->tariff, "%.*s", (int)n, t);
        a->open = !strcmp(wk_stmt_text(s, 4, &n), "open");
        a->vacant = wk_stmt_i64(s, 5) != 0;
        a->emergency_taken = wk_stmt_i64(s, 6) != 0;
        a->guarantee_until_s = wk_stmt_i64(s, 7);
        a->warned_level = (int)wk_stmt_i64(s, 8);
        a->deferred_until_s = wk_stmt_i64(s, 9);
        a->created_s = wk_stmt_i64(s, 12);
        const char *pol = wk_stmt_is_null(s, 11) ? NULL : wk_stmt_text(s, 11, &n);
        snprintf(a->policy, sizeof a->policy, "%s", pol ? pol : "");
        const uint8_t *blob = wk_stmt_blob(s, 10, &n);
        if (blob && n == 1 + sizeof a->rate && blob[0] == HD_RATE_STATE_VERSION) {
            memcpy(&a->rate, blob + 1, sizeof a->rate);
            a->has_state = true;
        }
    }
    wk_stmt_reset(s);
    return e;
}

static wk_err hd__save_rate_state(wk_headend *hd, int64_t account_id, const wk_rate_state *rs,
                                  wk_diag *d)
{
    uint8_t blob[1 + sizeof *rs];
    blob[0] = HD_RATE_STATE_VERSION;
    memcpy(blob + 1, rs, sizeof *rs);
    wk_stmt *s;
    wk_err e = wk_store_prepare(hd->st, "UPDATE account SET rate_state = ? WHERE id = ?", &s, d);
    if (e)
        return e;
    bool row;
    if (!(e = wk_stmt_bind_blob(s, 1, blob, sizeof blob)) && !(e = wk_stmt_bind_i64(s, 2, account_id)))
        e = wk_stmt_step(s, &row, d);
    wk_stmt_reset(s);
    return e;
}

/* ---- commands ---- */

/* Builds and publishes a fresh 1C frame (new counter, new deadline) for command id. */
static wk_err hd__command_send(wk_headend *hd, int64_t cmd_id, const hd_meter *m, const char *action,
                               int64_t now_ms, wk_diag *d)
{
    uint8_t n1 = !strcmp(action, "trip")           ? WK_DLT645_N1_TRIP
                 : !strcmp(action, "close_permit") ? WK_DLT645_N1_CLOSE_PERMIT
                                                   : WK_DLT645_N1_CLOSE;
    int64_t counter = m->counter + 1;
    int64_t deadline_s = now_ms / 1000 + hd->o.command_deadline_s;
    wk_dlt645_time dl;
    wk_dlt645_time_from_unix(deadline_s, 8 * 3600, &dl);
    wk_dlt645_frame f;
    if (m->mac)
        wk_dlt645_build_relay_mac(m->addr, m->key, m->key_len, hd->operator_code, n1, &dl,
                                  (uint32_t)counter, &f);
    else
        wk_dlt645_build_relay_plain(m->addr, m->key[0], m->key + 1, hd->operator_code, n1, &dl,
                                    &f);
    uint8_t wire[WK_DLT645_WIRE_MAX];
    size_t len;
    wk_err e = wk_dlt645_encode(&f, 4, wire, sizeof wire, &len);
    if (e)
        return wk_diag_set(d, e, "cannot encode the relay command");
    int64_t v1[2] = {counter, m->id};
    if ((e = hd__exec_i(hd, "UPDATE meter SET counter = ? WHERE id = ?", 2, v1, d)))
        return e;
    int64_t v2[5] = {counter, deadline_s, now_ms, now_ms, cmd_id};
    if ((e = hd__exec_i(hd,
                        "UPDATE command SET state = 'sent', counter = ?, deadline_s = ?,"
                        " attempts = attempts + 1, first_sent_ms = coalesce(first_sent_ms, ?),"
                        " last_sent_ms = ? WHERE id = ?",
                        5, v2, d)))
        return e;
    hd->stats.commands_sent++;
    /* sent only after the transaction commits (a close must never go out for a credit that
     * did not commit); a failed publish leaves the command 'sent' for the retry timer */
    hd__queue_publish(hd, m->address, wire, len);
    char detail[160];
    snprintf(detail, sizeof detail, "command=%lld action=%s counter=%lld deadline_s=%lld",
             (long long)cmd_id, action, (long long)counter, (long long)deadline_s);
    if (hd->on_event)
        hd->on_event(hd->event_ctx, "command_sent", m->address, detail);
    return WK_OK;
}

static wk_err hd__publish_read(wk_headend *hd, const hd_meter *m, uint32_t di, wk_diag *d)
{
    wk_dlt645_frame f;
    wk_dlt645_build_read(m->addr, di, &f);
    uint8_t wire[WK_DLT645_WIRE_MAX];
    size_t len;
    wk_err e = wk_dlt645_encode(&f, 4, wire, sizeof wire, &len);
    if (e)
        return wk_diag_set(d, e, "cannot encode a read for %s", m->address);
    hd__queue_publish(hd, m->address, wire, len);
    return WK_OK;
}

wk_err hd__read_unit_meter(wk_headend *hd, int64_t unit_id, wk_diag *d)
{
    wk_stmt *s;
    wk_err e = wk_store_prepare(hd->st, "SELECT id FROM meter WHERE unit_id = ?", &s, d);
    if (e)
        return e;
    bool row = false;
    if (!(e = wk_stmt_bind_i64(s, 1, unit_id)))
        e = wk_stmt_step(s, &row, d);
    int64_t id = row ? wk_stmt_i64(s, 0) : 0;
    wk_stmt_reset(s);
    hd_meter m;
    if (e || !id || (e = hd__meter_by_id(hd, id, &m, d)))
        return e;
    return m.online && m.has_last ? hd__publish_read(hd, &m, WK_DI_FWD_BLOCK, d) : WK_OK;
}

typedef struct hd_command {
    int64_t id;
    char action[16];
    char state[16];
    int64_t attempts, deadline_s, last_sent_ms, first_sent_ms, cause_ms, created_ms;
    bool found;
} hd_command;

static wk_err hd__active_command(wk_headend *hd, int64_t meter_id, hd_command *c, wk_diag *d)
{
    wk_stmt *s;
    wk_err e = wk_store_prepare(hd->st,
                                "SELECT id, action, state, attempts, coalesce(deadline_s, 0),"
                                " coalesce(last_sent_ms, 0), coalesce(first_sent_ms, 0),"
                                " coalesce(cause_ms, created_ms), created_ms FROM command"
                                " WHERE meter_id = ? AND state IN ('queued', 'sent', 'acked',"
                                " 'offline')",
                                &s, d);
    if (e)
        return e;
    bool row = false;
    memset(c, 0, sizeof *c);
    if (!(e = wk_stmt_bind_i64(s, 1, meter_id)))
        e = wk_stmt_step(s, &row, d);
    if (!e && row) {
        size_t n;
        c->found = true;
        c->id = wk_stmt_i64(s, 0);
        snprintf(c->action, sizeof c->action, "%s", wk_stmt_text(s, 1, &n));
        snprintf(c->state, sizeof c->state, "%s", wk_stmt_text(s, 2, &n));
        c->attempts = wk_stmt_i64(s, 3);
        c->deadline_s = wk_stmt_i64(s, 4);
        c->last_sent_ms = wk_stmt_i64(s, 5);
        c->first_sent_ms = wk_stmt_i64(s, 6);
        c->cause_ms = wk_stmt_i64(s, 7);
        c->created_ms = wk_stmt_i64(s, 8);
    }
    wk_stmt_reset(s);
    return e;
}

static wk_err hd__set_command_state(wk_headend *hd, int64_t id, const char *state, int64_t now_ms,
                                    const char *error, wk_diag *d)
{
    wk_stmt *s;
    wk_err e = wk_store_prepare(hd->st,
                                "UPDATE command SET state = ?, done_ms = ?, error = ? WHERE id = ?",
                                &s, d);
    if (e)
        return e;
    bool row;
    if (!(e = wk_stmt_bind_text(s, 1, state, strlen(state))) &&
        !(e = wk_stmt_bind_i64(s, 2, now_ms)) &&
        !(e = error ? wk_stmt_bind_text(s, 3, error, strlen(error)) : wk_stmt_bind_null(s, 3)) &&
        !(e = wk_stmt_bind_i64(s, 4, id)))
        e = wk_stmt_step(s, &row, d);
    wk_stmt_reset(s);
    return e;
}

/* Queues a relay command for meter m (superseding an active one of another action) and
 * sends it at once when the meter is online. Caller holds a transaction. */
static wk_err hd__command(wk_headend *hd, const hd_meter *m, const char *action, const char *reason,
                          const char *cause, int64_t cause_ms, int64_t now_ms, wk_diag *d)
{
    hd_command c;
    wk_err e = hd__active_command(hd, m->id, &c, d);
    if (e)
        return e;
    if (c.found) {
        bool same = !strcmp(c.action, action) ||
                    (strcmp(action, "trip") && strcmp(c.action, "trip")); /* both closes */
        if (same)
            return WK_OK;
        if ((e = hd__set_command_state(hd, c.id, "superseded", now_ms, NULL, d)))
            return e;
    }
    wk_stmt *s;
    if ((e = wk_store_prepare(hd->st,
                              "INSERT INTO command (meter_id, action, reason, state, cause,"
                              " cause_ms, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                              &s, d)))
        return e;
    bool row = false;
    const char *state = m->online ? "queued" : "offline";
    if (!(e = wk_stmt_bind_i64(s, 1, m->id)) &&
        !(e = wk_stmt_bind_text(s, 2, action, strlen(action))) &&
        !(e = wk_stmt_bind_text(s, 3, reason, strlen(reason))) &&
        !(e = wk_stmt_bind_text(s, 4, state, strlen(state))) &&
        !(e = cause ? wk_stmt_bind_text(s, 5, cause, strlen(cause)) : wk_stmt_bind_null(s, 5)) &&
        !(e = wk_stmt_bind_i64(s, 6, cause_ms ? cause_ms : now_ms)) &&
        !(e = wk_stmt_bind_i64(s, 7, now_ms)))
        e = wk_stmt_step(s, &row, d);
    int64_t id = row ? wk_stmt_i64(s, 0) : 0;
    wk_stmt_reset(s);
    if (e)
        return e;
    char detail[320];
    snprintf(detail, sizeof detail, "command=%lld action=%s reason=\"%s\"%s", (long long)id, action,
             reason, m->online ? "" : " meter=offline (waits)");
    hd__event(hd, now_ms, "command", m->id, m->account_id, m->address, detail);
    if (!m->online) {
        hd->stats.commands_offline++;
        return WK_OK;
    }
    return hd__command_send(hd, id, m, action, now_ms, d);
}

static void hd__confirm(wk_headend *hd, const hd_meter *m, bool relay_open, int64_t now_ms)
{
    hd_command c;
    if (hd__active_command(hd, m->id, &c, NULL) || !c.found || !strcmp(c.state, "offline") ||
        !strcmp(c.state, "queued"))
        return;
    bool want_open = !strcmp(c.action, "trip");
    if (want_open != relay_open)
        return;
    if (hd__set_command_state(hd, c.id, "confirmed", now_ms, NULL, NULL))
        return;
    hd->stats.commands_confirmed++;
    char detail[200];
    int64_t from_cause = now_ms - c.cause_ms,
            from_send = c.first_sent_ms ? now_ms - c.first_sent_ms : 0;
    snprintf(detail, sizeof detail,
             "command=%lld action=%s cause_to_confirm_ms=%lld send_to_confirm_ms=%lld",
             (long long)c.id, c.action, (long long)from_cause, (long long)from_send);
    hd__event(hd, now_ms, "confirmed", m->id, m->account_id, m->address, detail);
    if (hd->on_latency)
        hd->on_latency(hd->latency_ctx, c.action, from_cause, from_send);
}

/* ---- policy ---- */

static int64_t hd__daily_cost(wk_headend *hd, int64_t account_id, int64_t now_s)
{
    wk_stmt *s;
    int64_t sum = 0, first = 0;
    if (wk_store_prepare(hd->st,
                         "SELECT coalesce(sum(deduction_fen), 0), coalesce(min(time_s), 0)"
                         " FROM reading WHERE account_id = ? AND time_s > ?",
                         &s, NULL))
        return 0;
    bool row = false;
    if (!wk_stmt_bind_i64(s, 1, account_id) && !wk_stmt_bind_i64(s, 2, now_s - 7 * 86400) &&
        !wk_stmt_step(s, &row, NULL) && row) {
        sum = wk_stmt_i64(s, 0);
        first = wk_stmt_i64(s, 1);
    }
    wk_stmt_reset(s);
    int64_t days = first ? (now_s - first + 86399) / 86400 : 0;
    return days > 0 ? sum / days : 0;
}

/* Runs the balance policy for one account and acts. Caller holds a transaction. */
static wk_err hd__apply_policy(wk_headend *hd, int64_t account_id, const char *cause,
                               int64_t cause_ms, int64_t now_ms, wk_diag *d)
{
    hd_account a;
    hd_meter m;
    wk_account w;
    wk_err e = hd__account(hd, account_id, &a, d);
    if (e)
        return e;
    if (!a.open)
        return WK_OK;
    if ((e = hd__meter_of_account(hd, account_id, &m, d)) == WK_ENOTFOUND)
        return WK_OK; /* no meter installed */
    if (e || (e = wk_ledger_account_get(hd->lg, a.wallet_id, &w, d)))
        return e;
    hd_command c;
    if ((e = hd__active_command(hd, m.id, &c, d)))
        return e;
    wk_policy_account pa = {
        .balance_fen = w.balance_fen,
        .overdraft_floor_fen = w.has_floor ? w.floor_fen : 0,
        /* a pending command counts as done: the policy must not repeat it */
        .relay = c.found ? (!strcmp(c.action, "trip") ? WK_RELAY_TRIPPED : WK_RELAY_CLOSED)
                         : (m.tripped ? WK_RELAY_TRIPPED : WK_RELAY_CLOSED),
        .vacant = a.vacant,
        .emergency_taken = a.emergency_taken,
        .guarantee_until_s = a.guarantee_until_s,
        .daily_cost_fen = 0, /* set below once the community's policy is known */
        .warned_level = (uint8_t)a.warned_level,
    };
    wk_policy pol;
    wk_diag pd;
    if (hd__policy_apply(&hd->o.policy, a.policy, "community policy", &pol, &pd)) {
        /* validated when written; if the row was edited by hand, fall back to the default
         * and say so rather than stop booking */
        hd__event(hd, now_ms, "policy_invalid", m.id, account_id, m.address, pd.msg);
        pol = hd->o.policy;
    }
    if (pol.warn_days[0])
        pa.daily_cost_fen = hd__daily_cost(hd, account_id, now_ms / 1000);
    wk_policy_decision dec;
    wk_policy_decide(&pol, &pa, now_ms / 1000, &dec);
    int64_t deferred = dec.relay == WK_ACT_DEFER_TRIP ? dec.retry_at_s : 0;
    if (dec.warned_level != a.warned_level || deferred != a.deferred_until_s) {
        int64_t v[3] = {dec.warned_level, deferred, account_id};
        if ((e = hd__exec_i(hd,
                            "UPDATE account SET warned_level = ?, deferred_until_s = ? WHERE id = ?",
                            3, v, d)))
            return e;
    }
    char detail[400];
    if (dec.warn_level) {
        hd->stats.warnings++;
        snprintf(detail, sizeof detail, "account=%lld level=%d balance_fen=%lld days_left=%d why=\"%s\"",
                 (long long)account_id, dec.warn_level, (long long)w.balance_fen, dec.days_left,
                 dec.why);
        hd__event(hd, now_ms, dec.warn_level == 1 ? "warn1" : "warn2", m.id, account_id, m.address,
                  detail);
    }
    if (dec.relay == WK_ACT_NONE)
        return WK_OK;
    snprintf(detail, sizeof detail, "account=%lld balance_fen=%lld why=\"%s\"", (long long)account_id,
             (long long)w.balance_fen, dec.why);
    if (dec.relay == WK_ACT_DEFER_TRIP) {
        if (deferred != a.deferred_until_s)
            hd__event(hd, now_ms, "trip_deferred", m.id, account_id, m.address, detail);
        return WK_OK;
    }
    hd__event(hd, now_ms, dec.relay == WK_ACT_TRIP ? "decide_trip" : "decide_close", m.id, account_id,
              m.address, detail);
    const char *action = dec.relay == WK_ACT_TRIP ? "trip" : m.permit ? "close_permit" : "close";
    return hd__command(hd, &m, action, dec.why, cause, cause_ms, now_ms, d);
}

/* ---- ingest ---- */

static wk_err hd__begin_batch(wk_headend *hd, wk_diag *d)
{
    if (hd->in_batch)
        return WK_OK;
    wk_err e = wk_store_begin(hd->st, d);
    if (!e) {
        hd->in_batch = true;
        hd->batch_n = 0;
    }
    return e;
}

static wk_err hd__reading(wk_headend *hd, hd_meter *m, const int64_t *vals, int64_t now_ms,
                          wk_diag *d)
{
    wk_reading cur = {.time_s = now_ms / 1000, .offset_s = 8 * 3600, .has_tou = true};
    cur.total_wh = vals[0] * 10;
    for (int i = 0; i < 4; i++)
        cur.tou_wh[i] = vals[1 + i] * 10;
    wk_err e;
    int64_t energy = 0, deduction = 0;
    hd_account a;
    bool have_account = m->account_id != 0;
    if (m->has_last) {
        if (cur.total_wh == m->last_wh[0]) {
            hd->stats.duplicates++;
            return WK_OK; /* redelivery or no consumption: nothing to charge */
        }
        wk_reading prev = {.time_s = m->last_reading_s, .total_wh = m->last_wh[0], .has_tou = true};
        for (int i = 0; i < 4; i++)
            prev.tou_wh[i] = m->last_wh[1 + i];
        if (cur.time_s <= prev.time_s)
            cur.time_s = prev.time_s + 1; /* several reports within one second */
        wk_interval iv;
        bool empty;
        wk_diag why;
        if (wk_reading_interval(&prev, &cur, WK_REGISTER_MODULUS_WH, &iv, &empty, &why)) {
            /* an older register than the last one: a reordered redelivery */
            hd->stats.stale++;
            return WK_OK;
        }
        if (m->ct_ratio > 1) { /* a CT meter registers a fraction of the energy */
            iv.energy_wh *= m->ct_ratio;
            for (int i = 0; i < WK_SLOT_N; i++)
                iv.slot_wh[i] *= m->ct_ratio;
        }
        energy = iv.energy_wh;
        if (have_account) {
            if ((e = hd__account(hd, m->account_id, &a, d)))
                return e;
            /* an interval that began before the account existed holds the previous holder's
             * last usage (the time until the move-out trip): stored, charged to nobody. The
             * read request made at the opening (hd__read_unit_meter) ends it at once. */
            if (prev.time_s < a.created_s)
                have_account = false;
        }
        if (have_account) {
            if (!a.vacant) {
                const wk_tariff *t = hd__tariff_get(hd, a.tariff, d);
                if (!t)
                    return WK_EINVAL;
                wk_rate_state rs = a.rate;
                if (!a.has_state) {
                    memset(&rs, 0, sizeof rs);
                    rs.version = -1;
                }
                wk_rate_result res;
                if ((e = wk_rate_interval(t, NULL, &rs, &iv, &res, d)))
                    return e;
                if (res.by_clock) { /* an anomaly to fix at the meter; billing goes on */
                    size_t k = (size_t)m->id % (sizeof hd->tou_noted / sizeof hd->tou_noted[0]);
                    if (hd->tou_noted[k].meter_id != m->id ||
                        now_ms - hd->tou_noted[k].last_ms >= 86400000) {
                        hd->tou_noted[k].meter_id = m->id;
                        hd->tou_noted[k].last_ms = now_ms;
                        hd__event(hd, now_ms, "tou_mismatch", m->id, m->account_id, m->address,
                                  "the meter's TOU registers name a slot the tariff does not price:"
                                  " rated by the tariff's time map");
                    }
                }
                deduction = res.deduction_fen;
                if ((e = hd__save_rate_state(hd, a.id, &rs, d)))
                    return e;
                if (deduction > 0) {
                    char key[96], reason[WK_TRANSFER_REASON_MAX], kwh[32], fb[32], tb[32];
                    snprintf(key, sizeof key, "wk-deduct:%s:%lld", m->address, (long long)cur.total_wh);
                    wk_transfer tr = {.debit_account_id = a.wallet_id,
                                      .credit_account_id = a.revenue_id,
                                      .amount_fen = deduction,
                                      .flags = WK_TRANSFER_ALLOW_OVERDRAFT,
                                      .reason = reason};
                    hd__id_from(key, tr.id);
                    snprintf(reason, sizeof reason, "energy meter %s %s kWh %s..%s register %s",
                             m->address, wk_dec_format(energy, 3, 3, kwh, sizeof kwh),
                             wk_time_format(iv.from_s, 8 * 3600, fb, sizeof fb),
                             wk_time_format(iv.to_s, 8 * 3600, tb, sizeof tb),
                             wk_dec_format(cur.total_wh, 3, 2, key, sizeof key));
                    wk_transfer_result tres;
                    if ((e = wk_ledger_transfer(hd->lg, &tr, &tres, d)))
                        return e;
                    if (!tres.existed) {
                        hd->stats.deductions++;
                        hd->stats.deducted_fen += deduction;
                    }
                }
                hd__touch(hd, a.id);
            }
        }
    }
    wk_stmt *s;
    if ((e = wk_store_prepare(hd->st,
                              "INSERT INTO reading (meter_id, total_wh, time_s, t1_wh, t2_wh, t3_wh,"
                              " t4_wh, energy_wh, deduction_fen, account_id)"
                              " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                              &s, d)))
        return e;
    bool row;
    int64_t v[9] = {m->id, cur.total_wh, cur.time_s, cur.tou_wh[0], cur.tou_wh[1], cur.tou_wh[2],
                    cur.tou_wh[3], energy, deduction};
    e = WK_OK;
    for (int i = 0; i < 9 && !e; i++)
        e = wk_stmt_bind_i64(s, i + 1, v[i]);
    if (!e)
        e = have_account ? wk_stmt_bind_i64(s, 10, m->account_id) : wk_stmt_bind_null(s, 10);
    if (!e)
        e = wk_stmt_step(s, &row, d);
    wk_stmt_reset(s);
    if (e)
        return e; /* WK_EEXIST: this register value was stored before; caller rolls back */
    int64_t u[7] = {cur.time_s, cur.total_wh, cur.tou_wh[0], cur.tou_wh[1], cur.tou_wh[2],
                    cur.tou_wh[3], m->id};
    if ((e = hd__exec_i(hd,
                        "UPDATE meter SET last_reading_s = ?, last_total_wh = ?, last_t1_wh = ?,"
                        " last_t2_wh = ?, last_t3_wh = ?, last_t4_wh = ? WHERE id = ?",
                        7, u, d)))
        return e;
    hd->stats.readings++;
    return WK_OK;
}

static wk_err hd__status3(wk_headend *hd, hd_meter *m, int64_t sw3, int64_t now_ms, wk_diag *d)
{
    bool open = (sw3 & WK_DLT645_SW3_RELAY_OPEN) != 0;
    if (open != m->tripped) {
        wk_stmt *s;
        wk_err e = wk_store_prepare(hd->st, "UPDATE meter SET relay = ? WHERE id = ?", &s, d);
        if (e)
            return e;
        const char *r = open ? "tripped" : "closed";
        bool row;
        if (!(e = wk_stmt_bind_text(s, 1, r, strlen(r))) && !(e = wk_stmt_bind_i64(s, 2, m->id)))
            e = wk_stmt_step(s, &row, d);
        wk_stmt_reset(s);
        if (e)
            return e;
        char detail[64];
        snprintf(detail, sizeof detail, "relay=%s status3=0x%04llx", r, (unsigned long long)sw3);
        hd__event(hd, now_ms, "relay", m->id, m->account_id, m->address, detail);
        m->tripped = open;
    }
    hd__confirm(hd, m, open, now_ms);
    return WK_OK;
}

static wk_err hd__frame(wk_headend *hd, const char *address, const wk_dlt645_frame *f, int64_t now_ms,
                        wk_diag *d)
{
    char faddr[13];
    wk_dlt645_addr_format(f->addr, faddr);
    if (strcmp(faddr, address)) {
        hd->stats.frames_bad++;
        return WK_OK; /* a frame naming another meter than its topic: refuse it */
    }
    hd_meter m;
    wk_err e = hd__meter_by_address(hd, address, &m, d);
    if (e == WK_ENOTFOUND) {
        hd->stats.frames_unknown_meter++;
        return WK_OK;
    }
    if (e)
        return e;
    int64_t now_s = now_ms / 1000;
    if (!m.online || m.last_seen_s != now_s) {
        int64_t v[2] = {now_s, m.id};
        if ((e = hd__exec_i(hd, "UPDATE meter SET online = 1, last_seen_s = ? WHERE id = ?", 2, v,
                            d)))
            return e;
        if (!m.online) {
            m.online = true;
            hd__event(hd, now_ms, "online", m.id, m.account_id, m.address, "meter reconnected");
            /* re-issue a command that waited for this meter, fresh */
            hd_command c;
            if (!(e = hd__active_command(hd, m.id, &c, d)) && c.found && !strcmp(c.state, "offline"))
                e = hd__command_send(hd, c.id, &m, c.action, now_ms, d);
            if (e)
                return e;
            if (!hd__meter_by_id(hd, m.id, &m, NULL)) /* counter moved */
                m.online = true;
        }
    }
    uint8_t func = f->control & WK_DLT645_C_FUNC;
    bool reply = f->control & WK_DLT645_C_REPLY, error = f->control & WK_DLT645_C_ERROR;
    if (!reply)
        return WK_OK; /* meters send replies only */
    if (func == WK_DLT645_C_READ && !error && f->len >= 4) {
        uint32_t di = wk_dlt645_di_get(f->data);
        int64_t vals[WK_DLT645_FIELDS_MAX];
        size_t n;
        wk_dlt645_reason why;
        if (wk_dlt645_values_get(di, f->data + 4, f->len - 4u, vals, &n, &why)) {
            hd->stats.frames_bad++;
            return WK_OK;
        }
        if (di == WK_DI_FWD_BLOCK && n == 5)
            return hd__reading(hd, &m, vals, now_ms, d);
        if (di == WK_DI_STATUS3 && n == 1)
            return hd__status3(hd, &m, vals[0], now_ms, d);
        if (di == WK_DI_EVENT) {
            char detail[128];
            snprintf(detail, sizeof detail, "meter event record (%zu fields)", n);
            hd__event(hd, now_ms, "meter_event", m.id, m.account_id, m.address, detail);
        }
        return WK_OK;
    }
    if (func == WK_DLT645_C_RELAY) {
        hd_command c;
        if ((e = hd__active_command(hd, m.id, &c, d)))
            return e;
        if (!c.found) {
            /* a reply to a command we did not send: someone else is talking to the meter */
            hd->stats.foreign_replies++;
            char detail[96];
            snprintf(detail, sizeof detail, "relay %s for a command the head-end did not send",
                     error ? "refusal" : "acknowledgement");
            hd__event(hd, now_ms, "foreign_command", m.id, m.account_id, m.address, detail);
            return WK_OK;
        }
        if (!error) {
            int64_t v[2] = {now_ms, c.id};
            if ((e = hd__exec_i(hd, "UPDATE command SET state = 'acked', acked_ms = ? WHERE id = ? AND state = 'sent'",
                                2, v, d)))
                return e;
            /* read back status word 3; a close-permit is confirmed by the resident's button,
             * which the meter reports by itself */
            return hd__publish_read(hd, &m, WK_DI_STATUS3, d);
        }
        int64_t serr = f->len >= 2 ? (int64_t)(f->data[0] | (f->data[1] << 8)) : (f->len ? f->data[0] : 0);
        char err[96];
        snprintf(err, sizeof err, "meter refused: SERR=0x%04llx%s%s%s%s", (unsigned long long)serr,
                 serr & WK_DLT645_SERR_MAC ? " mac" : "", serr & WK_DLT645_SERR_REPEATED ? " replay" : "",
                 serr & WK_DLT645_SERR_EXPIRED ? " expired" : "",
                 serr & WK_DLT645_SERR_OTHER ? " other" : "");
        if ((e = hd__set_command_state(hd, c.id, "refused", now_ms, err, d)))
            return e;
        hd->stats.commands_refused++;
        hd__event(hd, now_ms, "refused", m.id, m.account_id, m.address, err);
    }
    return WK_OK;
}

wk_err wk_headend_frame(wk_headend *hd, const char *address, const uint8_t *buf, size_t len,
                        int64_t now_ms, wk_diag *d)
{
    hd->stats.frames++;
    wk_dlt645_frame f;
    wk_dlt645_reason why;
    if (wk_dlt645_decode(buf, len, &f, &why)) {
        hd->stats.frames_bad++;
        return WK_OK;
    }
    wk_err e = hd__begin_batch(hd, d);
    if (e)
        return e;
    if ((e = wk_store_savepoint(hd->st, d)))
        return e;
    e = hd__frame(hd, address, &f, now_ms, d);
    if (e == WK_EEXIST) { /* the reading's key was taken: a redelivery, nothing to do */
        wk_store_savepoint_rollback(hd->st);
        hd->stats.duplicates++;
        e = WK_OK;
    } else if (e) {
        wk_store_savepoint_rollback(hd->st);
        return e;
    } else if ((e = wk_store_savepoint_release(hd->st, d))) {
        return e;
    }
    if (++hd->batch_n >= hd->o.batch_max)
        return wk_headend_flush(hd, now_ms, d);
    return WK_OK;
}

wk_err wk_headend_flush(wk_headend *hd, int64_t now_ms, wk_diag *d)
{
    if (!hd->in_batch)
        return WK_OK;
    wk_err e = WK_OK;
    /* the policy runs inside the same transaction, after the deductions it depends on */
    for (int i = 0; i < hd->n_touched && !e; i++)
        e = hd__apply_policy(hd, hd->touched[i], "reading", now_ms, now_ms, d);
    if (e)
        hd__rollback(hd);
    else
        e = hd__commit(hd, d);
    hd->in_batch = false;
    hd->batch_n = 0;
    hd->n_touched = 0;
    return e;
}

/* ---- timers ---- */

wk_err wk_headend_tick(wk_headend *hd, int64_t now_ms, wk_diag *d)
{
    wk_err e = wk_headend_flush(hd, now_ms, d);
    if (e)
        return e;
    if ((e = wk_store_begin(hd->st, d)))
        return e;
    int64_t now_s = now_ms / 1000;
    /* 1. commands sent but unanswered: retry with a fresh counter, or expire */
    int64_t ids[256], n = 0;
    wk_stmt *s;
    if ((e = wk_store_prepare(hd->st,
                              "SELECT meter_id FROM command WHERE state IN ('sent', 'acked')"
                              " AND last_sent_ms < ? LIMIT 256",
                              &s, d)))
        goto fail;
    bool row;
    if (!(e = wk_stmt_bind_i64(s, 1, now_ms - hd->o.command_retry_base_ms)))
        while (!(e = wk_stmt_step(s, &row, d)) && row && n < 256)
            ids[n++] = wk_stmt_i64(s, 0);
    wk_stmt_reset(s);
    if (e)
        goto fail;
    for (int64_t i = 0; i < n; i++) {
        hd_meter m;
        hd_command c;
        if ((e = hd__meter_by_id(hd, ids[i], &m, d)) || (e = hd__active_command(hd, m.id, &c, d)))
            goto fail;
        if (!c.found)
            continue;
        int64_t wait = hd->o.command_retry_base_ms << (c.attempts > 10 ? 10 : c.attempts - 1 < 0 ? 0 : c.attempts - 1);
        if (now_ms - c.last_sent_ms < wait)
            continue;
        if (!strcmp(c.state, "acked")) {
            if (!strcmp(c.action, "close_permit"))
                continue; /* waits for the resident's button */
            int64_t v[2] = {now_ms, c.id};
            if ((e = hd__exec_i(hd, "UPDATE command SET last_sent_ms = ?, attempts = attempts + 1 WHERE id = ?", 2, v, d)) ||
                (e = hd__publish_read(hd, &m, WK_DI_STATUS3, d)))
                goto fail;
            if (c.attempts > hd->o.command_retries + 1) {
                if ((e = hd__set_command_state(hd, c.id, "expired", now_ms, "no status word 3 read-back", d)))
                    goto fail;
                hd->stats.commands_expired++;
            }
            continue;
        }
        if (!m.online) {
            int64_t v[1] = {c.id};
            if ((e = hd__exec_i(hd, "UPDATE command SET state = 'offline' WHERE id = ?", 1, v, d)))
                goto fail;
            hd->stats.commands_offline++;
            hd__event(hd, now_ms, "command_offline", m.id, m.account_id, m.address, "waits for the meter");
        } else if (c.attempts <= hd->o.command_retries && now_s < c.deadline_s) {
            if ((e = hd__command_send(hd, c.id, &m, c.action, now_ms, d)))
                goto fail;
        } else {
            if ((e = hd__set_command_state(hd, c.id, "expired", now_ms, "no reply before the deadline", d)))
                goto fail;
            hd->stats.commands_expired++;
            hd__event(hd, now_ms, "expired", m.id, m.account_id, m.address, "no reply before the deadline");
        }
    }
    /* 2. deferred trips whose friendly hours are over */
    n = 0;
    if ((e = wk_store_prepare(hd->st,
                              "SELECT id FROM account WHERE deferred_until_s > 0 AND deferred_until_s <= ?"
                              " LIMIT 256",
                              &s, d)))
        goto fail;
    if (!(e = wk_stmt_bind_i64(s, 1, now_s)))
        while (!(e = wk_stmt_step(s, &row, d)) && row && n < 256)
            ids[n++] = wk_stmt_i64(s, 0);
    wk_stmt_reset(s);
    for (int64_t i = 0; i < n && !e; i++)
        e = hd__apply_policy(hd, ids[i], "friendly hours over", now_ms, now_ms, d);
    if (e)
        goto fail;
    /* 3. meters silent for gap_intervals: poll; silent for offline_after: offline */
    n = 0;
    int64_t gap_s = hd->o.report_interval_s * hd->o.gap_intervals;
    if ((e = wk_store_prepare(hd->st,
                              "SELECT id FROM meter WHERE online = 1 AND last_seen_s < ?"
                              " AND last_poll_s < ? LIMIT 256",
                              &s, d)))
        goto fail;
    if (!(e = wk_stmt_bind_i64(s, 1, now_s - gap_s)) &&
        !(e = wk_stmt_bind_i64(s, 2, now_s - hd->o.report_interval_s)))
        while (!(e = wk_stmt_step(s, &row, d)) && row && n < 256)
            ids[n++] = wk_stmt_i64(s, 0);
    wk_stmt_reset(s);
    for (int64_t i = 0; i < n && !e; i++) {
        hd_meter m;
        if ((e = hd__meter_by_id(hd, ids[i], &m, d)))
            break;
        int64_t v[2] = {now_s, m.id};
        if (m.last_seen_s < now_s - hd->o.offline_after_s) {
            e = hd__exec_i(hd, "UPDATE meter SET online = 0, last_poll_s = ? WHERE id = ?", 2, v, d);
            hd__event(hd, now_ms, "offline", m.id, m.account_id, m.address, "meter silent");
        } else {
            e = hd__exec_i(hd, "UPDATE meter SET last_poll_s = ? WHERE id = ?", 2, v, d);
            if (!e)
                e = hd__publish_read(hd, &m, WK_DI_FWD_BLOCK, d);
            hd->stats.polls++;
        }
    }
    if (e)
        goto fail;
    return hd__commit(hd, d);
fail:
    hd__rollback(hd);
    return e;
}

/* ---- credits and staff actions ---- */

wk_err wk_headend_credit(wk_headend *hd, int64_t account_id, int64_t amount_fen, const uint8_t id[16],
                         int64_t from_account, const char *reason, int64_t now_ms, bool *existed,
                         wk_diag *d)
{
    return wk_headend_credit_with(hd, account_id, amount_fen, id, from_account, reason, now_ms,
                                  NULL, NULL, existed, d);
}

wk_err wk_headend_credit_with(wk_headend *hd, int64_t account_id, int64_t amount_fen,
                              const uint8_t id[16], int64_t from_account, const char *reason,
                              int64_t now_ms, wk_headend_txn_hook hook, void *hook_ctx,
                              bool *existed, wk_diag *d)
{
    wk_err e = wk_headend_flush(hd, now_ms, d);
    if (e)
        return e;
    if ((e = wk_store_begin(hd->st, d)))
        return e;
    hd_account a;
    if ((e = hd__account(hd, account_id, &a, d)))
        goto fail;
    if (!a.open) {
        e = wk_diag_set(d, WK_ECONFLICT, "account %lld is closed", (long long)account_id);
        goto fail;
    }
    if (hook && (e = hook(hook_ctx, hd->st, d)))
        goto fail; /* e.g. the payment row's UNIQUE key was taken: nothing is booked */
    wk_transfer tr = {.debit_account_id = from_account ? from_account : hd->adjustment_id,
                      .credit_account_id = a.wallet_id,
                      .amount_fen = amount_fen,
                      .reason = reason ? reason : "credit"};
    memcpy(tr.id, id, 16);
    wk_transfer_result res;
    if ((e = wk_ledger_transfer(hd->lg, &tr, &res, d)))
        goto fail;
    if (existed)
        *existed = res.existed;
    if (!res.existed) {
        int64_t v[1] = {account_id};
        /* a top-up offers emergency credit again */
        if ((e = hd__exec_i(hd, "UPDATE account SET emergency_taken = 0 WHERE id = ?", 1, v, d)))
            goto fail;
        char detail[160];
        snprintf(detail, sizeof detail, "account=%lld amount_fen=%lld leaf=%lld", (long long)account_id,
                 (long long)amount_fen, (long long)res.leaf_index);
        hd__event(hd, now_ms, "credit", 0, account_id, NULL, detail);
        if ((e = hd__apply_policy(hd, account_id, "credit", now_ms, now_ms, d)))
            goto fail;
    }
    return hd__commit(hd, d);
fail:
    hd__rollback(hd);
    return e;
}

static wk_err hd__staff(wk_headend *hd, int64_t account_id, const char *sql, int n, const int64_t *v,
                        const char *kind, const char *reason, int64_t now_ms,
                        wk_headend_txn_hook hook, void *hook_ctx, wk_diag *d)
{
    if (!reason || !*reason)
        return wk_diag_set(d, WK_EINVAL, "reason: a reason is required");
    wk_err e = wk_headend_flush(hd, now_ms, d);
    if (e || (e = wk_store_begin(hd->st, d)))
        return e;
    hd_account a;
    if ((e = hd__account(hd, account_id, &a, d)) || (hook && (e = hook(hook_ctx, hd->st, d))) ||
        (e = hd__exec_i(hd, sql, n, v, d)))
        goto fail;
    char detail[300];
    snprintf(detail, sizeof detail, "account=%lld reason=\"%s\"", (long long)account_id, reason);
    hd__event(hd, now_ms, kind, 0, account_id, NULL, detail);
    if ((e = hd__apply_policy(hd, account_id, kind, now_ms, now_ms, d)))
        goto fail;
    return hd__commit(hd, d);
fail:
    hd__rollback(hd);
    return e;
}

wk_err wk_headend_set_vacant(wk_headend *hd, int64_t account_id, bool vacant, const char *reason,
                             int64_t now_ms, wk_diag *d)
{
    int64_t v[2] = {vacant, account_id};
    return hd__staff(hd, account_id, "UPDATE account SET vacant = ? WHERE id = ?", 2, v,
                     vacant ? "vacant_on" : "vacant_off", reason, now_ms, NULL, NULL, d);
}

wk_err wk_headend_set_guarantee(wk_headend *hd, int64_t account_id, int64_t until_s,
                                const char *reason, int64_t now_ms, wk_diag *d)
{
    int64_t v[2] = {until_s, account_id};
    return hd__staff(hd, account_id, "UPDATE account SET guarantee_until_s = ? WHERE id = ?", 2, v,
                     until_s > now_ms / 1000 ? "guarantee_on" : "guarantee_off", reason, now_ms,
                     NULL, NULL, d);
}

wk_err wk_headend_set_hold(wk_headend *hd, int64_t account_id, bool vacant,
                           int64_t guarantee_until_s, const char *kind, const char *reason,
                           int64_t now_ms, wk_headend_txn_hook hook, void *hook_ctx, wk_diag *d)
{
    if (guarantee_until_s < 0)
        return wk_diag_set(d, WK_EINVAL, "guarantee_until_s: expected >= 0");
    int64_t v[3] = {vacant, guarantee_until_s, account_id};
    return hd__staff(hd, account_id,
                     "UPDATE account SET vacant = ?, guarantee_until_s = ? WHERE id = ?", 3, v,
                     kind, reason, now_ms, hook, hook_ctx, d);
}

wk_err wk_headend_emergency(wk_headend *hd, int64_t account_id, int64_t now_ms, wk_diag *d)
{
    wk_err e = wk_headend_flush(hd, now_ms, d);
    if (e || (e = wk_store_begin(hd->st, d)))
        return e;
    hd_account a;
    wk_account w;
    if ((e = hd__account(hd, account_id, &a, d)) || (e = wk_ledger_account_get(hd->lg, a.wallet_id, &w, d)))
        goto fail;
    wk_policy_account pa = {.balance_fen = w.balance_fen, .vacant = a.vacant,
                            .emergency_taken = a.emergency_taken};
    wk_policy pol;
    if (hd__policy_apply(&hd->o.policy, a.policy, "community policy", &pol, NULL))
        pol = hd->o.policy;
    if ((e = wk_policy_take_emergency(&pol, &pa, d)))
        goto fail;
    int64_t v[1] = {account_id};
    if ((e = hd__exec_i(hd, "UPDATE account SET emergency_taken = 1 WHERE id = ?", 1, v, d)))
        goto fail;
    hd__event(hd, now_ms, "emergency_credit", 0, account_id, NULL, "resident took emergency credit");
    if ((e = hd__apply_policy(hd, account_id, "emergency credit", now_ms, now_ms, d)))
        goto fail;
    return hd__commit(hd, d);
fail:
    hd__rollback(hd);
    return e;
}

wk_err wk_headend_sweep(wk_headend *hd, int64_t now_ms, int64_t *n_accounts, wk_diag *d)
{
    wk_err e = wk_headend_flush(hd, now_ms, d);
    if (e)
        return e;
    int64_t after = 0, n = 0;
    for (;;) { /* in pages, one transaction each */
        int64_t ids[256], got = 0;
        wk_stmt *s;
        if ((e = wk_store_begin(hd->st, d)))
            return e;
        if ((e = wk_store_prepare(hd->st,
                                  "SELECT id FROM account WHERE status = 'open' AND id > ?"
                                  " ORDER BY id LIMIT 256",
                                  &s, d)))
            goto fail;
        bool row;
        if (!(e = wk_stmt_bind_i64(s, 1, after)))
            while (!(e = wk_stmt_step(s, &row, d)) && row && got < 256)
                ids[got++] = wk_stmt_i64(s, 0);
        wk_stmt_reset(s);
        for (int64_t i = 0; i < got && !e; i++)
            e = hd__apply_policy(hd, ids[i], "start-up sweep", now_ms, now_ms, d);
        if (e || (e = hd__commit(hd, d)))
            goto fail;
        n += got;
        if (got < 256)
            break;
        after = ids[got - 1];
    }
    if (n_accounts)
        *n_accounts = n;
    return WK_OK;
fail:
    hd__rollback(hd);
    return e;
}
