/*
 * notify.h - notifications: warnings, receipts and staff alerts that reach people.
 *
 * The head-end writes an `event` row in the same transaction as every state change that
 * matters (warn1, warn2, decide_trip, credit, offline, refused, ...). This layer turns
 * those rows into an outbox and delivers it:
 *
 *   event (headend, committed with its cause)
 *     --fan-out, one transaction: read events after the cursor, insert one notification
 *       row per (event, contact) with UNIQUE (event_id, contact_id), advance the cursor
 *     --> notification (pending)
 *     --delivery: attempts + 1 committed BEFORE the send, send with the row's idempotency
 *       key, then sent | retry with exponential backoff | dead after max_attempts
 *
 * Nothing is lost across kill -9: an event is either before the cursor (and its rows are
 * committed with the cursor) or after it (and is fanned out again). A crash between send
 * and mark resends the same message with the same key (webhook header Idempotency-Key,
 * SMTP Message-ID, SMS/WeChat body field): receivers that honour keys see it once; the
 * others see at most max_attempts copies.
 *
 * Rules applied at fan-out (pure functions below, tested on their own): the policy already
 * decides warn1/warn2 once per crossing (with hysteresis), so each warn event gives one
 * message; quiet hours per contact delay non-urgent messages to the end of the window;
 * a per-contact hourly rate limit suppresses non-urgent messages beyond it; days-left
 * wording from the policy's estimate; staff alerts go to the contacts of the meter's or
 * account's community. Per contact, messages leave in event order: a message being
 * retried holds back the later ones to the same contact.
 *
 * Threads: the worker (wk_notify_worker_*) runs on its own thread with its own store
 * connection; everything else is called from one thread with its store.
 */
#ifndef WK_NOTIFY_NOTIFY_H
#define WK_NOTIFY_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "store/store.h"

extern const wk_schema wk_notify_schema;

/* ---- bounds ---- */
#define WK_NOTIFY_TEMPLATE_FILE_MAX (256u * 1024) /* bytes of one templates file */
#define WK_NOTIFY_SUBJECT_MAX 256                 /* bytes of a rendered subject incl. NUL */
#define WK_NOTIFY_TEXT_MAX 2048                   /* bytes of a rendered text incl. NUL */
#define WK_NOTIFY_ADDRESS_MAX 512                 /* bytes of a contact address incl. NUL */
#define WK_NOTIFY_BATCH_MAX 64                    /* events or sends per worker step */
#define WK_NOTIFY_RESPONSE_MAX 4096               /* bytes of a receiver's reply we read */

/* ---- events, channels, languages ---- */
typedef enum wk_notify_kind {
    WK_NK_WARN1,
    WK_NK_WARN2,
    WK_NK_TRIP,     /* decide_trip: the power is being cut */
    WK_NK_CLOSE,    /* decide_close: the power is being restored */
    WK_NK_CREDIT,   /* credit: a receipt for a top-up */
    WK_NK_OFFLINE,  /* staff: meter offline longer than offline_alert_after */
    WK_NK_REFUSED,  /* staff: a command the meter refused */
    WK_NK_EXPIRED,  /* staff: a command without a reply before its deadline */
    WK_NK_FOREIGN,  /* staff: the relay moved for a command the head-end did not send */
    WK_NK_COUNT
} wk_notify_kind;

typedef enum wk_notify_channel {
    WK_NC_WEBHOOK,
    WK_NC_EMAIL,
    WK_NC_SMS,
    WK_NC_WECHAT,
    WK_NC_COUNT
} wk_notify_channel;

typedef enum wk_notify_lang { WK_NL_EN, WK_NL_ZH, WK_NL_COUNT } wk_notify_lang;

/* Event kind as the head-end writes it ("warn1", "decide_trip", ...) -> kind. False when
 * the event is not one this layer notifies about. */
bool wk_notify_kind_of_event(const char *event_kind, wk_notify_kind *out);
/* Template name of a kind ("warn1", "trip", "close", "credit", "offline", ...). */
const char *wk_notify_kind_name(wk_notify_kind k);
/* True for the staff alerts (routed to the community's contacts). */
bool wk_notify_kind_staff(wk_notify_kind k);
const char *wk_notify_channel_name(wk_notify_channel c);
wk_err wk_notify_channel_parse(const char *s, wk_notify_channel *out) WK_MUST_CHECK;
const char *wk_notify_lang_name(wk_notify_lang l); /* "en", "zh-CN" */
wk_err wk_notify_lang_parse(const char *s, wk_notify_lang *out) WK_MUST_CHECK;

/* ---- templates (data files, one per language) ---- */

/* One event's template: subject (e-mail, WeChat "first" line), text (all channels), and the
 * WeChat template id. Placeholders {name} are replaced from the event's values; the known
 * names are listed in docs/notifications.md and checked at load. */
typedef struct wk_notify_template {
    bool present;
    bool urgent; /* ignores quiet hours and the rate limit */
    char subject[WK_NOTIFY_SUBJECT_MAX];
    char text[WK_NOTIFY_TEXT_MAX];
    char wechat_template_id[128];
} wk_notify_template;

typedef struct wk_notify_templates {
    wk_notify_template t[WK_NL_COUNT][WK_NK_COUNT];
} wk_notify_templates;

/* Parses one templates file (JSON, docs/notifications.md) for its language into *tpl
 * (filling t[lang][*]; other languages untouched). Validates: object shape, the "lang"
 * field, known event names only, every event present, required fields, known
 * placeholders, balanced braces, sizes. WK_EINVAL / WK_ELIMIT with the field named in d.
 * On error *tpl is left partly written: load into a scratch copy. */
wk_err wk_notify_templates_parse(const char *json, size_t len, wk_notify_templates *tpl,
                                 wk_diag *d) WK_MUST_CHECK;
/* Loads dir/en.json and dir/zh-CN.json. d names the file on error. */
wk_err wk_notify_templates_load(const char *dir, wk_notify_templates *tpl,
                                wk_diag *d) WK_MUST_CHECK;

/* The values an event offers its template ({name} -> value). Borrowed strings. */
typedef struct wk_notify_vars {
    const char *holder, *unit, *building, *community, *meter, *time, *balance, *amount,
        *days_left, *reason, *level;
} wk_notify_vars;

/* Renders template text src with vars into out (cap bytes). Unknown names were rejected at
 * load; a missing (NULL) value renders as "". WK_ELIMIT when out is too small (out holds
 * a truncated text then). */
wk_err wk_notify_render(const char *src, const wk_notify_vars *v, char *out, size_t cap,
                        wk_diag *d) WK_MUST_CHECK;

/* ---- rules (pure) ---- */

/* Days-left wording from the policy's estimate (-1 unknown), a whole sentence so that a
 * template can place it last and lose nothing when it is empty: en "About 3 days left at
 * your usage.", "Less than a day left at your usage.", ""; zh-CN "按目前用量约可用3天。",
 * "按目前用量可用不足1天。", "". Returns out. */
const char *wk_notify_days_left_text(wk_notify_lang l, int32_t days_left, char *out, size_t cap);

/* Money in fen as yuan text "12.34" / "-0.05". Returns out. */
const char *wk_notify_yuan(int64_t fen, char *out, size_t cap);

/* Quiet hours [from, to) in local minutes (may wrap midnight; from == to: none). Returns
 * when a non-urgent message created at now_ms may leave: now_ms outside the window, else
 * the end of the window. utc_offset_s gives local time. */
int64_t wk_notify_quiet_until(int64_t now_ms, int32_t from_min, int32_t to_min,
                              int32_t utc_offset_s);

/* Delay before attempt n+1 after n failed attempts (n >= 1): base * 2^(n-1), capped at
 * max_ms, never negative or overflowing. */
int64_t wk_notify_backoff_ms(int32_t n, int64_t base_ms, int64_t max_ms);

/* The webhook signature: hex HMAC-SHA256(secret, timestamp "." body), written as
 * "v1=<64 hex>" into out (cap >= 68). Returns out. */
const char *wk_notify_sign(const char *secret, int64_t timestamp_s, const char *body,
                           size_t body_len, char *out, size_t cap);
/* Checks a signature header value in constant time. */
bool wk_notify_verify(const char *secret, int64_t timestamp_s, const char *body, size_t body_len,
                      const char *signature);

/* ---- configuration ---- */
typedef struct wk_notify_opts {
    const char *templates_dir;
    int64_t poll_interval_ms;     /* worker wakes at least this often */
    int32_t max_attempts;         /* then dead */
    int64_t retry_base_ms, retry_max_ms;
    int32_t rate_limit_per_hour;  /* non-urgent messages per contact per hour */
    int64_t offline_alert_after_ms; /* offline alerts wait this long, dropped if back online */
    int64_t send_timeout_ms;      /* per HTTP/SMTP exchange */
    int32_t utc_offset_s;         /* local time for quiet hours and message times */
    /* channels; an empty URL disables a channel (its messages go dead with a reason) */
    const char *webhook_secret;
    const char *smtp_url, *smtp_username, *smtp_password, *smtp_from, *smtp_ca_file;
    bool smtp_starttls; /* require STARTTLS */
    const char *sms_url, *sms_key_id, *sms_secret, *sms_signature; /* "hmac-sha256" | "none" */
    const char *wechat_base_url, *wechat_appid, *wechat_secret;
} wk_notify_opts;

/* ---- contacts ---- */
typedef struct wk_notify_contact {
    int64_t account_id;   /* resident contact: the account; else 0 */
    int64_t community_id; /* staff contact: the community; else 0 */
    wk_notify_channel channel;
    const char *address;  /* URL, e-mail address, phone number or WeChat openid */
    wk_notify_lang lang;
    int32_t quiet_from_min, quiet_to_min; /* equal: no quiet hours */
    uint32_t events_off;  /* kinds not wanted: bits 1u << wk_notify_kind; 0 = all */
} wk_notify_contact;

/* Adds a contact (a resident's or a community staff member's channel). Exactly one of
 * account_id / community_id must be set; the address is checked for its channel. The same
 * (owner, channel, address) again: WK_EEXIST. *id receives the new row id. */
wk_err wk_notify_contact_add(wk_store *st, const wk_notify_contact *c, int64_t *id,
                             wk_diag *d) WK_MUST_CHECK;

/* A resident's own contact (the web page's notification settings): c->account_id > 0,
 * no community. Inserts it, or, when the account has the same (channel, address) already,
 * enabled or not, enables it again with c's language, quiet hours and events_off. The address is
 * checked as by wk_notify_contact_add (WK_EINVAL naming it). The caller holds the
 * transaction. *id receives the row, *created whether it is new. */
wk_err wk_notify_contact_put(wk_store *st, const wk_notify_contact *c, int64_t *id, bool *created,
                             wk_diag *d) WK_MUST_CHECK;

/* Disables contact id of account_id: the fan-out no longer sends to it (the row stays for
 * the notifications it received). WK_ENOTFOUND when the account has no such enabled
 * contact. The caller holds the transaction. */
wk_err wk_notify_contact_disable(wk_store *st, int64_t account_id, int64_t id,
                                 wk_diag *d) WK_MUST_CHECK;

/* ---- outbox ---- */

/* Fans out up to WK_NOTIFY_BATCH_MAX events after the cursor into notification rows, in one
 * transaction (rendered with tpl, rules applied). *n_events receives how many events were
 * consumed. now_ms is used for the rate-limit window and quiet hours. */
wk_err wk_notify_fanout(wk_store *st, const wk_notify_opts *o, const wk_notify_templates *tpl,
                        int64_t now_ms, int32_t *n_events, wk_diag *d) WK_MUST_CHECK;

/* Outcome counters, process-wide, also on /metrics as wk_notifications_total{channel,
 * outcome}. Registering twice is harmless. */
void wk_notify_metrics_init(void);

/* One message to send: what wk_notify_send needs. */
typedef struct wk_notify_msg {
    int64_t id;
    wk_notify_channel channel;
    wk_notify_kind kind;
    wk_notify_lang lang;
    const char *address, *subject, *text, *idem_key, *wechat_template_id;
    int64_t event_id, event_time_ms;
} wk_notify_msg;

/* Result of one send: ok, or a temporary failure (retry), or a permanent one (dead now). */
typedef struct wk_notify_result {
    bool ok;
    bool permanent;
    char error[256];
} wk_notify_result;

typedef struct wk_notify_sender wk_notify_sender;
/* The channels (libcurl handles, WeChat access token cache). One thread. */
wk_err wk_notify_sender_open(const wk_notify_opts *o, wk_notify_sender **out,
                             wk_diag *d) WK_MUST_CHECK;
void wk_notify_sender_close(wk_notify_sender *s);
/* Sends one message on its channel, now_ms for the timestamp. Cannot fail otherwise than
 * through *r. */
void wk_notify_send(wk_notify_sender *s, const wk_notify_msg *m, int64_t now_ms,
                    wk_notify_result *r);

/* Delivers up to WK_NOTIFY_BATCH_MAX due messages (per contact in order). *n_sent receives
 * how many attempts were made. */
wk_err wk_notify_deliver(wk_store *st, const wk_notify_opts *o, wk_notify_sender *snd,
                         int64_t now_ms, int32_t *n_attempts, wk_diag *d) WK_MUST_CHECK;

/* Counts rows by state (for tests, /metrics): pending, sent, dead, suppressed, skipped. */
typedef struct wk_notify_counts {
    int64_t pending, sent, dead, suppressed, skipped;
} wk_notify_counts;
wk_err wk_notify_counts_get(wk_store *st, wk_notify_counts *out, wk_diag *d) WK_MUST_CHECK;

/* ---- the worker thread ---- */
typedef struct wk_notify_worker wk_notify_worker;
/* Loads the templates, opens its own connection to db_url and starts the thread. The
 * options' strings are copied. */
wk_err wk_notify_worker_start(const char *db_url, const wk_notify_opts *o,
                              wk_notify_worker **out, wk_diag *d) WK_MUST_CHECK;
/* Wakes the worker now (new events were committed). Any thread. */
void wk_notify_worker_kick(wk_notify_worker *w);
/* Stops the thread (finishing the send in progress) and frees everything. NULL is a no-op. */
void wk_notify_worker_stop(wk_notify_worker *w);

#endif
