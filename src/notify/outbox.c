/*
 * outbox.c - the notification outbox on the store: contacts, fan-out of head-end events
 * into notification rows (one transaction with the cursor), and delivery with retries,
 * backoff, dead-letter and per-contact order. Sending itself is channel.c's; this file
 * decides what to send, when, and records what happened.
 *
 * Invariant: an event id is at or below notify_cursor.last_event_id exactly when its
 * notification rows are committed. A notification's attempts count is committed before
 * each send, so a crash mid-send costs at most one duplicate per attempt, never a loss.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/civil.h"
#include "core/log.h"
#include "core/metrics.h"
#include "notify/notify.h"

/* ---- metrics ---- */

enum { OUT_SENT, OUT_RETRY, OUT_DEAD, OUT_SUPPRESSED, OUT_SKIPPED, OUT_COUNT };
static const char *const out_names[OUT_COUNT] = {"sent", "retry", "dead", "suppressed",
                                                 "skipped"};
static wk_metric *out_metric[WK_NC_COUNT][OUT_COUNT];

void wk_notify_metrics_init(void)
{
    for (int c = 0; c < WK_NC_COUNT; c++)
        for (int o = 0; o < OUT_COUNT; o++) {
            char labels[96];
            snprintf(labels, sizeof labels, "channel=\"%s\",outcome=\"%s\"",
                     wk_notify_channel_name((wk_notify_channel)c), out_names[o]);
            out_metric[c][o] = wk_metric_counter(
                "wk_notifications_total", "notification attempts and decisions by channel and outcome",
                labels);
        }
}

static void ob__count(wk_notify_channel c, int outcome)
{
    if ((unsigned)c < WK_NC_COUNT)
        wk_metric_inc(out_metric[c][outcome]);
}

/* ---- small helpers ---- */

static wk_err ob__bind_text(wk_stmt *s, int i, const char *v)
{
    return v ? wk_stmt_bind_text(s, i, v, strlen(v)) : wk_stmt_bind_null(s, i);
}

/* Copies column col as text into out (bounded). */
static void ob__col(wk_stmt *s, int col, char *out, size_t cap)
{
    size_t n = 0;
    const char *t = wk_stmt_text(s, col, &n);
    if (!t)
        n = 0;
    if (n >= cap)
        n = cap - 1;
    if (n)
        memcpy(out, t, n);
    out[n] = 0;
}

/* Value of key in a head-end detail line `k=v k2="v 2"` into out; false when absent. */
static bool ob__detail(const char *detail, const char *key, char *out, size_t cap)
{
    size_t kl = strlen(key);
    for (const char *p = detail; p && *p;) {
        while (*p == ' ')
            p++;
        const char *eq = strchr(p, '=');
        if (!eq)
            return false;
        bool match = (size_t)(eq - p) == kl && !memcmp(p, key, kl);
        const char *v = eq + 1, *end;
        if (*v == '"') {
            v++;
            end = strchr(v, '"');
            if (!end)
                end = v + strlen(v);
        } else {
            end = strchr(v, ' ');
            if (!end)
                end = v + strlen(v);
        }
        if (match) {
            size_t n = (size_t)(end - v);
            if (n >= cap)
                n = cap - 1;
            memcpy(out, v, n);
            out[n] = 0;
            return true;
        }
        p = *end == '"' ? end + 1 : end;
    }
    return false;
}

static int64_t ob__i64(const char *s, int64_t def)
{
    if (!s[0])
        return def;
    bool neg = *s == '-';
    int64_t v = 0;
    for (const char *p = s + neg; *p; p++) {
        if (*p < '0' || *p > '9' || v > INT64_MAX / 10 - 10)
            return def;
        v = v * 10 + (*p - '0');
    }
    return neg ? -v : v;
}

/* ---- contacts ---- */

/* Checks a contact's owner, address and quiet hours (no state). */
static wk_err ob__contact_check(const wk_notify_contact *c, wk_diag *d)
{
    if ((c->account_id > 0) == (c->community_id > 0))
        return wk_diag_set(d, WK_EINVAL, "a contact belongs to an account or a community");
    size_t n = c->address ? strlen(c->address) : 0;
    if (n == 0 || n >= WK_NOTIFY_ADDRESS_MAX)
        return wk_diag_set(d, WK_EINVAL, "address: 1..%d bytes", WK_NOTIFY_ADDRESS_MAX - 1);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)c->address[i] < 0x21)
            return wk_diag_set(d, WK_EINVAL, "address: no spaces or control characters");
    switch (c->channel) {
    case WK_NC_WEBHOOK:
        if (strncmp(c->address, "http://", 7) && strncmp(c->address, "https://", 8))
            return wk_diag_set(d, WK_EINVAL, "webhook address: an http:// or https:// URL");
        break;
    case WK_NC_EMAIL: {
        const char *at = strchr(c->address, '@');
        if (!at || at == c->address || !at[1] || strchr(at + 1, '@') || strpbrk(c->address, "<>,;"))
            return wk_diag_set(d, WK_EINVAL, "e-mail address: expected name@domain");
        break;
    }
    case WK_NC_SMS:
        for (size_t i = c->address[0] == '+'; i < n; i++)
            if (c->address[i] < '0' || c->address[i] > '9')
                return wk_diag_set(d, WK_EINVAL, "phone number: digits, optionally after '+'");
        break;
    case WK_NC_WECHAT:
        break;
    default:
        return wk_diag_set(d, WK_EINVAL, "unknown channel");
    }
    if (c->quiet_from_min < 0 || c->quiet_from_min >= 1440 || c->quiet_to_min < 0 ||
        c->quiet_to_min >= 1440)
        return wk_diag_set(d, WK_ERANGE, "quiet hours: minutes 0..1439");
    return WK_OK;
}

wk_err wk_notify_contact_add(wk_store *st, const wk_notify_contact *c, int64_t *id, wk_diag *d)
{
    wk_err e = ob__contact_check(c, d);
    if (e)
        return e;
    wk_stmt *s;
    if ((e = wk_store_begin(st, d)))
        return e;
    if ((e = wk_store_prepare(st,
                              "INSERT INTO notify_contact (account_id, community_id, channel, "
                              "address, lang, quiet_from_min, quiet_to_min) VALUES (?,?,?,?,?,?,?)",
                              &s, d)))
        goto fail;
    bool row;
    if (!(e = wk_stmt_bind_i64(s, 1, c->account_id)) &&
        !(e = wk_stmt_bind_i64(s, 2, c->community_id)) &&
        !(e = ob__bind_text(s, 3, wk_notify_channel_name(c->channel))) &&
        !(e = ob__bind_text(s, 4, c->address)) &&
        !(e = ob__bind_text(s, 5, wk_notify_lang_name(c->lang))) &&
        !(e = wk_stmt_bind_i64(s, 6, c->quiet_from_min)) &&
        !(e = wk_stmt_bind_i64(s, 7, c->quiet_to_min)))
        e = wk_stmt_step(s, &row, d);
    wk_stmt_reset(s);
    if (e == WK_ENOTFOUND || e == WK_EEXIST)
        wk_diag_set(d, e, e == WK_EEXIST ? "this contact exists already" : "no such owner");
    if (e)
        goto fail;
    if ((e = wk_store_prepare(st, "SELECT max(id) FROM notify_contact", &s, d)))
        goto fail;
    if (!(e = wk_stmt_step(s, &row, d)) && id)
        *id = row ? wk_stmt_i64(s, 0) : 0;
    wk_stmt_reset(s);
    if (e)
        goto fail;
    return wk_store_commit(st, d);
fail:
    wk_store_rollback(st);
    return e;
}

wk_err wk_notify_contact_put(wk_store *st, const wk_notify_contact *c, int64_t *id, bool *created,
                             wk_diag *d)
{
    *id = 0;
    *created = false;
    if (c->account_id <= 0 || c->community_id)
        return wk_diag_set(d, WK_EINVAL, "a resident contact belongs to an account");
    wk_err e = ob__contact_check(c, d);
    if (e)
        return e;
    wk_stmt *s;
    bool row = false;
    if ((e = wk_store_prepare(st,
                              "SELECT id FROM notify_contact WHERE account_id = ? AND community_id = 0"
                              " AND channel = ? AND address = ?",
                              &s, d)))
        return e;
    if (!(e = wk_stmt_bind_i64(s, 1, c->account_id)) &&
        !(e = ob__bind_text(s, 2, wk_notify_channel_name(c->channel))) &&
        !(e = ob__bind_text(s, 3, c->address)) && !(e = wk_stmt_step(s, &row, d)) && row)
        *id = wk_stmt_i64(s, 0);
    wk_stmt_reset(s);
    if (e)
        return e;
    if (*id) {
        if ((e = wk_store_prepare(st,
                                  "UPDATE notify_contact SET enabled = 1, lang = ?, quiet_from_min = ?,"
                                  " quiet_to_min = ?, events_off = ? WHERE id = ?",
                                  &s, d)))
            return e;
        if (!(e = ob__bind_text(s, 1, wk_notify_lang_name(c->lang))) &&
            !(e = wk_stmt_bind_i64(s, 2, c->quiet_from_min)) &&
            !(e = wk_stmt_bind_i64(s, 3, c->quiet_to_min)) && !(e = wk_stmt_bind_i64(s, 4, c->events_off)) &&
            !(e = wk_stmt_bind_i64(s, 5, *id)))
            e = wk_stmt_step(s, &row, d);
        wk_stmt_reset(s);
        return e;
    }
    if ((e = wk_store_prepare(st,
                              "INSERT INTO notify_contact (account_id, community_id, channel, address,"
                              " lang, quiet_from_min, quiet_to_min, events_off) VALUES (?, 0, ?, ?, ?, ?, ?, ?)"
                              " RETURNING id",
                              &s, d)))
        return e;
    if (!(e = wk_stmt_bind_i64(s, 1, c->account_id)) &&
        !(e = ob__bind_text(s, 2, wk_notify_channel_name(c->channel))) &&
        !(e = ob__bind_text(s, 3, c->address)) &&
        !(e = ob__bind_text(s, 4, wk_notify_lang_name(c->lang))) &&
        !(e = wk_stmt_bind_i64(s, 5, c->quiet_from_min)) &&
        !(e = wk_stmt_bind_i64(s, 6, c->quiet_to_min)) && !(e = wk_stmt_bind_i64(s, 7, c->events_off)) &&
        !(e = wk_stmt_step(s, &row, d)) && row)
        *id = wk_stmt_i64(s, 0);
    wk_stmt_reset(s);
    if (!e && !*id)
        e = wk_diag_set(d, WK_EINTERNAL, "contact insert returned no id");
    *created = !e;
    return e;
}

wk_err wk_notify_contact_disable(wk_store *st, int64_t account_id, int64_t id, wk_diag *d)
{
    wk_stmt *s;
    bool row = false;
    wk_err e = wk_store_prepare(st,
                                "UPDATE notify_contact SET enabled = 0 WHERE id = ? AND account_id = ?"
                                " AND account_id > 0 AND enabled = 1 RETURNING id",
                                &s, d);
    if (e)
        return e;
    if (!(e = wk_stmt_bind_i64(s, 1, id)) && !(e = wk_stmt_bind_i64(s, 2, account_id)))
        e = wk_stmt_step(s, &row, d);
    /* RETURNING: the statement is finished by the reset, which applies the update */
    wk_stmt_reset(s);
    if (!e && !row)
        e = wk_diag_set(d, WK_ENOTFOUND, "no such contact");
    return e;
}

/* ---- fan-out ---- */

typedef struct ob_event {
    int64_t id, time_ms, meter_id, account_id;
    char kind[40];
    char detail[512];
} ob_event;

/* Registry names around an event (empty when unknown). */
typedef struct ob_ctx {
    int64_t community_id;
    char holder[128], unit[128], building[128], community[128], meter[16];
} ob_ctx;

static wk_err ob__context(wk_store *st, const ob_event *ev, ob_ctx *c, wk_diag *d)
{
    memset(c, 0, sizeof *c);
    wk_stmt *s;
    wk_err e;
    bool row = false;
    if (ev->account_id) {
        if ((e = wk_store_prepare(st,
                                  "SELECT a.holder, u.name, b.name, co.name, co.id,"
                                  " (SELECT address FROM meter WHERE unit_id = u.id)"
                                  " FROM account a JOIN unit u ON u.id = a.unit_id"
                                  " JOIN building b ON b.id = u.building_id"
                                  " JOIN community co ON co.id = b.community_id WHERE a.id = ?",
                                  &s, d)))
            return e;
        if (!(e = wk_stmt_bind_i64(s, 1, ev->account_id)))
            e = wk_stmt_step(s, &row, d);
        if (!e && row) {
            ob__col(s, 0, c->holder, sizeof c->holder);
            ob__col(s, 1, c->unit, sizeof c->unit);
            ob__col(s, 2, c->building, sizeof c->building);
            ob__col(s, 3, c->community, sizeof c->community);
            c->community_id = wk_stmt_i64(s, 4);
            ob__col(s, 5, c->meter, sizeof c->meter);
        }
        wk_stmt_reset(s);
        if (e || row)
            return e;
    }
    if (ev->meter_id) {
        if ((e = wk_store_prepare(st,
                                  "SELECT m.address, u.name, b.name, co.name, co.id"
                                  " FROM meter m JOIN unit u ON u.id = m.unit_id"
                                  " JOIN building b ON b.id = u.building_id"
                                  " JOIN community co ON co.id = b.community_id WHERE m.id = ?",
                                  &s, d)))
            return e;
        if (!(e = wk_stmt_bind_i64(s, 1, ev->meter_id)))
            e = wk_stmt_step(s, &row, d);
        if (!e && row) {
            ob__col(s, 0, c->meter, sizeof c->meter);
            ob__col(s, 1, c->unit, sizeof c->unit);
            ob__col(s, 2, c->building, sizeof c->building);
            ob__col(s, 3, c->community, sizeof c->community);
            c->community_id = wk_stmt_i64(s, 4);
        }
        wk_stmt_reset(s);
    }
    return e;
}

/* Non-urgent messages to contact since since_ms that count against the rate limit. */
static wk_err ob__recent(wk_store *st, int64_t contact_id, int64_t since_ms, int64_t *n, wk_diag *d)
{
    wk_stmt *s;
    wk_err e = wk_store_prepare(st,
                                "SELECT count(*) FROM notification WHERE contact_id = ?"
                                " AND created_ms > ? AND urgent = 0 AND state <> 'suppressed'",
                                &s, d);
    if (e)
        return e;
    bool row = false;
    if (!(e = wk_stmt_bind_i64(s, 1, contact_id)) && !(e = wk_stmt_bind_i64(s, 2, since_ms)))
        e = wk_stmt_step(s, &row, d);
    *n = row ? wk_stmt_i64(s, 0) : 0;
    wk_stmt_reset(s);
    return e;
}

typedef struct ob_contact {
    int64_t id;
    wk_notify_channel channel;
    wk_notify_lang lang;
    int32_t quiet_from, quiet_to;
    char address[WK_NOTIFY_ADDRESS_MAX];
} ob_contact;

#define OB_CONTACTS_MAX 64 /* contacts of one account or community that one event reaches */

/* The enabled contacts of owner that want events of kind. */
static wk_err ob__contacts(wk_store *st, bool staff, int64_t owner, wk_notify_kind kind, ob_contact *out,
                           size_t *n, wk_diag *d)
{
    wk_stmt *s;
    *n = 0;
    wk_err e = wk_store_prepare(
        st,
        staff ? "SELECT id, channel, lang, quiet_from_min, quiet_to_min, address FROM notify_contact"
                " WHERE community_id = ? AND enabled = 1 AND ((events_off >> ?) & 1) = 0 ORDER BY id"
              : "SELECT id, channel, lang, quiet_from_min, quiet_to_min, address FROM notify_contact"
                " WHERE account_id = ? AND enabled = 1 AND ((events_off >> ?) & 1) = 0 ORDER BY id",
        &s, d);
    if (e)
        return e;
    bool row = false;
    if ((e = wk_stmt_bind_i64(s, 1, owner)) || (e = wk_stmt_bind_i64(s, 2, (int64_t)kind)))
        goto done;
    while (*n < OB_CONTACTS_MAX && !(e = wk_stmt_step(s, &row, d)) && row) {
        ob_contact *c = &out[*n];
        char ch[16], lang[8];
        ob__col(s, 1, ch, sizeof ch);
        ob__col(s, 2, lang, sizeof lang);
        if (wk_notify_channel_parse(ch, &c->channel) || wk_notify_lang_parse(lang, &c->lang))
            continue; /* the CHECK constraints make this impossible */
        c->id = wk_stmt_i64(s, 0);
        c->quiet_from = (int32_t)wk_stmt_i64(s, 3);
        c->quiet_to = (int32_t)wk_stmt_i64(s, 4);
        ob__col(s, 5, c->address, sizeof c->address);
        (*n)++;
    }
done:
    wk_stmt_reset(s);
    return e;
}

/* Creates the notification rows of one event. Caller holds the transaction. */
static wk_err ob__fanout_event(wk_store *st, const wk_notify_opts *o,
                               const wk_notify_templates *tpl, const ob_event *ev, int64_t now_ms,
                               wk_diag *d)
{
    wk_notify_kind kind;
    if (!wk_notify_kind_of_event(ev->kind, &kind))
        return WK_OK;
    bool staff = wk_notify_kind_staff(kind);
    ob_ctx cx;
    wk_err e = ob__context(st, ev, &cx, d);
    if (e)
        return e;
    int64_t owner = staff ? cx.community_id : ev->account_id;
    if (!owner)
        return WK_OK;
    ob_contact contacts[OB_CONTACTS_MAX];
    size_t nc;
    if ((e = ob__contacts(st, staff, owner, kind, contacts, &nc, d)))
        return e;
    /* the event's values */
    char balance[32] = "", amount[32] = "", level[8] = "", reason[200] = "", tmp[64], time[40];
    if (ob__detail(ev->detail, "balance_fen", tmp, sizeof tmp))
        wk_notify_yuan(ob__i64(tmp, 0), balance, sizeof balance);
    if (ob__detail(ev->detail, "amount_fen", tmp, sizeof tmp))
        wk_notify_yuan(ob__i64(tmp, 0), amount, sizeof amount);
    ob__detail(ev->detail, "level", level, sizeof level);
    if (!ob__detail(ev->detail, "why", reason, sizeof reason))
        snprintf(reason, sizeof reason, "%s", ev->detail);
    int32_t days = -1;
    if (ob__detail(ev->detail, "days_left", tmp, sizeof tmp))
        days = (int32_t)ob__i64(tmp, -1);
    wk_time_format(wk_floor_div(ev->time_ms, 1000), o->utc_offset_s, time, sizeof time);
    for (size_t i = 0; i < nc; i++) {
        const ob_contact *c = &contacts[i];
        const wk_notify_template *t = &tpl->t[c->lang][kind];
        if (!t->present)
            continue;
        char days_text[48];
        wk_notify_vars v = {.holder = cx.holder, .unit = cx.unit, .building = cx.building,
                            .community = cx.community, .meter = cx.meter, .time = time,
                            .balance = balance, .amount = amount,
                            .days_left = wk_notify_days_left_text(c->lang, days, days_text,
                                                                  sizeof days_text),
                            .reason = reason, .level = level};
        char subject[WK_NOTIFY_SUBJECT_MAX], text[WK_NOTIFY_TEXT_MAX];
        wk_diag rd = {{0}};
        /* a text that does not fit is sent truncated rather than not at all */
        if (wk_notify_render(t->subject, &v, subject, sizeof subject, &rd) ||
            wk_notify_render(t->text, &v, text, sizeof text, &rd))
            wk_log(WK_LOG_WARN, "notification truncated", "event=%lld contact=%lld",
                   (long long)ev->id, (long long)c->id);
        /* an empty value at the end (days_left unknown) leaves no trailing space */
        for (size_t l = strlen(text); l && text[l - 1] == ' '; l--)
            text[l - 1] = 0;
        int64_t due = now_ms;
        if (kind == WK_NK_OFFLINE)
            due = ev->time_ms + o->offline_alert_after_ms;
        const char *state = "pending";
        if (!t->urgent) {
            due = wk_notify_quiet_until(due, c->quiet_from, c->quiet_to, o->utc_offset_s);
            int64_t recent = 0;
            if ((e = ob__recent(st, c->id, now_ms - 3600000, &recent, d)))
                return e;
            if (recent >= o->rate_limit_per_hour)
                state = "suppressed";
        }
        wk_stmt *s;
        if ((e = wk_store_prepare(
                 st,
                 "INSERT INTO notification (event_id, contact_id, kind, channel, lang, urgent,"
                 " address, subject, body, wechat_template_id, meter_id, idem_key, state,"
                 " next_attempt_ms, event_time_ms, created_ms, done_ms, last_error)"
                 " VALUES (?,?,?,?,?,?,?,?,?,?,?, 'wk-' || lower(hex(randomblob(16))),"
                 " ?,?,?,?,?,?)",
                 &s, d)))
            return e;
        bool supp = !strcmp(state, "suppressed"), row;
        if (!(e = wk_stmt_bind_i64(s, 1, ev->id)) && !(e = wk_stmt_bind_i64(s, 2, c->id)) &&
            !(e = ob__bind_text(s, 3, wk_notify_kind_name(kind))) &&
            !(e = ob__bind_text(s, 4, wk_notify_channel_name(c->channel))) &&
            !(e = ob__bind_text(s, 5, wk_notify_lang_name(c->lang))) &&
            !(e = wk_stmt_bind_i64(s, 6, t->urgent)) && !(e = ob__bind_text(s, 7, c->address)) &&
            !(e = ob__bind_text(s, 8, subject)) && !(e = ob__bind_text(s, 9, text)) &&
            !(e = ob__bind_text(s, 10, t->wechat_template_id)) &&
            !(e = ev->meter_id ? wk_stmt_bind_i64(s, 11, ev->meter_id) : wk_stmt_bind_null(s, 11)) &&
            !(e = ob__bind_text(s, 12, state)) && !(e = wk_stmt_bind_i64(s, 13, due)) &&
            !(e = wk_stmt_bind_i64(s, 14, ev->time_ms)) && !(e = wk_stmt_bind_i64(s, 15, now_ms)) &&
            !(e = supp ? wk_stmt_bind_i64(s, 16, now_ms) : wk_stmt_bind_null(s, 16)) &&
            !(e = ob__bind_text(s, 17, supp ? "rate limit" : NULL)))
            e = wk_stmt_step(s, &row, d);
        wk_stmt_reset(s);
        if (e == WK_EEXIST)
            e = WK_OK; /* fanned out before: the UNIQUE key keeps one row */
        if (e)
            return e;
        if (supp) {
            ob__count(c->channel, OUT_SUPPRESSED);
            wk_log(WK_LOG_INFO, "notification suppressed", "reason=rate_limit contact=%lld kind=%s",
                   (long long)c->id, wk_notify_kind_name(kind));
        }
    }
    return WK_OK;
}

wk_err wk_notify_fanout(wk_store *st, const wk_notify_opts *o, const wk_notify_templates *tpl,
                        int64_t now_ms, int32_t *n_events, wk_diag *d)
{
    *n_events = 0;
    wk_err e = wk_store_begin(st, d);
    if (e)
        return e;
    ob_event *evs = NULL;
    static const size_t cap = WK_NOTIFY_BATCH_MAX;
    ob_event buf[WK_NOTIFY_BATCH_MAX];
    evs = buf;
    size_t n = 0;
    wk_stmt *s;
    if ((e = wk_store_prepare(st,
                              "SELECT e.id, e.time_ms, e.kind, coalesce(e.meter_id, 0),"
                              " coalesce(e.account_id, 0), e.detail FROM event e, notify_cursor c"
                              " WHERE c.id = 1 AND e.id > c.last_event_id ORDER BY e.id LIMIT ?",
                              &s, d)))
        goto fail;
    bool row = false;
    if (!(e = wk_stmt_bind_i64(s, 1, (int64_t)cap)))
        while (n < cap && !(e = wk_stmt_step(s, &row, d)) && row) {
            ob_event *ev = &evs[n++];
            ev->id = wk_stmt_i64(s, 0);
            ev->time_ms = wk_stmt_i64(s, 1);
            ob__col(s, 2, ev->kind, sizeof ev->kind);
            ev->meter_id = wk_stmt_i64(s, 3);
            ev->account_id = wk_stmt_i64(s, 4);
            ob__col(s, 5, ev->detail, sizeof ev->detail);
        }
    wk_stmt_reset(s);
    if (e)
        goto fail;
    if (n == 0) {
        wk_store_rollback(st);
        return WK_OK;
    }
    for (size_t i = 0; i < n; i++)
        if ((e = ob__fanout_event(st, o, tpl, &evs[i], now_ms, d)))
            goto fail;
    if ((e = wk_store_prepare(st, "UPDATE notify_cursor SET last_event_id = ? WHERE id = 1", &s, d)))
        goto fail;
    if (!(e = wk_stmt_bind_i64(s, 1, evs[n - 1].id)))
        e = wk_stmt_step(s, &row, d);
    wk_stmt_reset(s);
    if (e || (e = wk_store_commit(st, d)))
        goto fail;
    *n_events = (int32_t)n;
    return WK_OK;
fail:
    wk_store_rollback(st);
    return e;
}

/* ---- delivery ---- */

typedef struct ob_msg {
    int64_t id, contact_id, event_id, event_time_ms, meter_id;
    int32_t attempts;
    char kind[24], channel[16], lang[8], idem[48], wechat_id[128];
    char address[WK_NOTIFY_ADDRESS_MAX], subject[WK_NOTIFY_SUBJECT_MAX], body[WK_NOTIFY_TEXT_MAX];
} ob_msg;

/* Runs a write statement with integer/text parameters in its own transaction. */
static wk_err ob__update(wk_store *st, const char *sql, int64_t a, int64_t b, const char *text,
                         int64_t id, wk_diag *d)
{
    wk_err e = wk_store_begin(st, d);
    if (e)
        return e;
    wk_stmt *s;
    bool row;
    if ((e = wk_store_prepare(st, sql, &s, d)))
        goto fail;
    if (!(e = wk_stmt_bind_i64(s, 1, a)) && !(e = wk_stmt_bind_i64(s, 2, b)) &&
        !(e = ob__bind_text(s, 3, text)) && !(e = wk_stmt_bind_i64(s, 4, id)))
        e = wk_stmt_step(s, &row, d);
    wk_stmt_reset(s);
    if (e || (e = wk_store_commit(st, d)))
        goto fail;
    return WK_OK;
fail:
    wk_store_rollback(st);
    return e;
}

static const char ob_sql_attempt[] =
    "UPDATE notification SET attempts = attempts + ?, next_attempt_ms = ?, last_error = ?"
    " WHERE id = ? AND state = 'pending'";
static const char ob_sql_done[] =
    "UPDATE notification SET state = CASE ? WHEN 1 THEN 'sent' WHEN 2 THEN 'dead'"
    " ELSE 'skipped' END, done_ms = ?, last_error = ? WHERE id = ? AND state = 'pending'";
static const char ob_sql_error[] =
    "UPDATE notification SET attempts = attempts + ?, next_attempt_ms = next_attempt_ms + ?,"
    " last_error = ? WHERE id = ? AND state = 'pending'";

static bool ob__meter_online(wk_store *st, int64_t meter_id)
{
    wk_stmt *s;
    bool row = false, online = false;
    if (wk_store_prepare(st, "SELECT online FROM meter WHERE id = ?", &s, NULL))
        return false;
    if (!wk_stmt_bind_i64(s, 1, meter_id) && !wk_stmt_step(s, &row, NULL) && row)
        online = wk_stmt_i64(s, 0) != 0;
    wk_stmt_reset(s);
    return online;
}

wk_err wk_notify_deliver(wk_store *st, const wk_notify_opts *o, wk_notify_sender *snd,
                         int64_t now_ms, int32_t *n_attempts, wk_diag *d)
{
    *n_attempts = 0;
    ob_msg *msgs = NULL;
    size_t n = 0;
    wk_stmt *s;
    /* due messages; a message already tried and waiting for its retry holds back the
     * later ones to the same contact, so that each contact gets its messages in order */
    wk_err e = wk_store_prepare(
        st,
        "SELECT n.id, n.contact_id, n.event_id, n.event_time_ms, coalesce(n.meter_id, 0),"
        " n.attempts, n.kind, n.channel, n.lang, n.idem_key, n.wechat_template_id, n.address,"
        " n.subject, n.body FROM notification n"
        " WHERE n.state = 'pending' AND n.next_attempt_ms <= ? AND NOT EXISTS ("
        "  SELECT 1 FROM notification p WHERE p.contact_id = n.contact_id"
        "  AND p.state = 'pending' AND p.attempts > 0 AND p.id < n.id)"
        " ORDER BY n.id LIMIT ?",
        &s, d);
    if (e)
        return e;
    static const size_t cap = 16; /* per step: bounds the stack and the step's duration */
    ob_msg buf[16];
    msgs = buf;
    bool row = false;
    if (!(e = wk_stmt_bind_i64(s, 1, now_ms)) && !(e = wk_stmt_bind_i64(s, 2, (int64_t)cap)))
        while (n < cap && !(e = wk_stmt_step(s, &row, d)) && row) {
            ob_msg *m = &msgs[n++];
            m->id = wk_stmt_i64(s, 0);
            m->contact_id = wk_stmt_i64(s, 1);
            m->event_id = wk_stmt_i64(s, 2);
            m->event_time_ms = wk_stmt_i64(s, 3);
            m->meter_id = wk_stmt_i64(s, 4);
            m->attempts = (int32_t)wk_stmt_i64(s, 5);
            ob__col(s, 6, m->kind, sizeof m->kind);
            ob__col(s, 7, m->channel, sizeof m->channel);
            ob__col(s, 8, m->lang, sizeof m->lang);
            ob__col(s, 9, m->idem, sizeof m->idem);
            ob__col(s, 10, m->wechat_id, sizeof m->wechat_id);
            ob__col(s, 11, m->address, sizeof m->address);
            ob__col(s, 12, m->subject, sizeof m->subject);
            ob__col(s, 13, m->body, sizeof m->body);
        }
    wk_stmt_reset(s);
    if (e)
        return e;
    int64_t held[16];
    size_t n_held = 0;
    for (size_t i = 0; i < n; i++) {
        ob_msg *m = &msgs[i];
        bool hold = false;
        for (size_t j = 0; j < n_held; j++)
            hold = hold || held[j] == m->contact_id;
        if (hold)
            continue; /* an earlier message to this contact failed in this step */
        wk_notify_msg nm = {.id = m->id, .address = m->address, .subject = m->subject,
                            .text = m->body, .idem_key = m->idem,
                            .wechat_template_id = m->wechat_id, .event_id = m->event_id,
                            .event_time_ms = m->event_time_ms};
        bool kind_ok = false;
        for (int k = 0; k < WK_NK_COUNT && !kind_ok; k++)
            if (!strcmp(m->kind, wk_notify_kind_name((wk_notify_kind)k))) {
                nm.kind = (wk_notify_kind)k;
                kind_ok = true;
            }
        if (!kind_ok || wk_notify_channel_parse(m->channel, &nm.channel) ||
            wk_notify_lang_parse(m->lang, &nm.lang))
            return wk_diag_set(d, WK_EINTERNAL, "notification %lld: bad kind, channel or language",
                               (long long)m->id);
        if (m->attempts >= o->max_attempts) {
            /* the last attempt was made before a crash: no more */
            if ((e = ob__update(st, ob_sql_done, 2, now_ms, "attempts exhausted", m->id, d)))
                return e;
            ob__count(nm.channel, OUT_DEAD);
            continue;
        }
        if (nm.kind == WK_NK_OFFLINE && m->meter_id && ob__meter_online(st, m->meter_id)) {
            if ((e = ob__update(st, ob_sql_done, 3, now_ms, "meter back online", m->id, d)))
                return e;
            ob__count(nm.channel, OUT_SKIPPED);
            continue;
        }
        /* commit the attempt before the send: a crash after it resends (same key) at the
         * next retry time, never loses the message, and never loops past max_attempts */
        int64_t next = now_ms + wk_notify_backoff_ms(m->attempts + 1, o->retry_base_ms,
                                                     o->retry_max_ms);
        if ((e = ob__update(st, ob_sql_attempt, 1, next, NULL, m->id, d)))
            return e;
        (*n_attempts)++;
        wk_notify_result r = {0};
        wk_notify_send(snd, &nm, now_ms, &r);
        int32_t attempts = m->attempts + 1;
        if (r.ok) {
            if ((e = ob__update(st, ob_sql_done, 1, now_ms, NULL, m->id, d)))
                return e;
            ob__count(nm.channel, OUT_SENT);
            wk_log(WK_LOG_INFO, "notification sent",
                   "id=%lld kind=%s channel=%s attempts=%d", (long long)m->id, m->kind, m->channel,
                   (int)attempts);
        } else if (r.permanent || attempts >= o->max_attempts) {
            if ((e = ob__update(st, ob_sql_done, 2, now_ms, r.error, m->id, d)))
                return e;
            ob__count(nm.channel, OUT_DEAD);
            wk_log(WK_LOG_WARN, "notification dead", "id=%lld kind=%s channel=%s attempts=%d error=%s",
                   (long long)m->id, m->kind, m->channel, (int)attempts, WK_LOG_Q(r.error));
            held[n_held++] = m->contact_id;
        } else {
            if ((e = ob__update(st, ob_sql_error, 0, 0, r.error, m->id, d)))
                return e;
            ob__count(nm.channel, OUT_RETRY);
            wk_log(WK_LOG_INFO, "notification retry",
                   "id=%lld kind=%s channel=%s attempts=%d retry_in_ms=%lld error=%s",
                   (long long)m->id, m->kind, m->channel, (int)attempts,
                   (long long)(next - now_ms), WK_LOG_Q(r.error));
            held[n_held++] = m->contact_id;
        }
    }
    return WK_OK;
}

wk_err wk_notify_counts_get(wk_store *st, wk_notify_counts *out, wk_diag *d)
{
    memset(out, 0, sizeof *out);
    wk_stmt *s;
    wk_err e = wk_store_prepare(st, "SELECT state, count(*) FROM notification GROUP BY state", &s, d);
    if (e)
        return e;
    bool row = false;
    while (!(e = wk_stmt_step(s, &row, d)) && row) {
        char st_name[16];
        ob__col(s, 0, st_name, sizeof st_name);
        int64_t v = wk_stmt_i64(s, 1);
        if (!strcmp(st_name, "pending"))
            out->pending = v;
        else if (!strcmp(st_name, "sent"))
            out->sent = v;
        else if (!strcmp(st_name, "dead"))
            out->dead = v;
        else if (!strcmp(st_name, "suppressed"))
            out->suppressed = v;
        else if (!strcmp(st_name, "skipped"))
            out->skipped = v;
    }
    wk_stmt_reset(s);
    return e;
}
