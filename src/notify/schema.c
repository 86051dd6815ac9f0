/*
 * schema.c - the notification tables as numbered migrations (component "notify", after
 * "headend": the cursor starts at the newest event so an upgrade does not notify history).
 *   - notify_contact: a resident's (account_id) or a community staff member's
 *     (community_id) channel, address, language and quiet hours; exactly one owner;
 *     events_off: the events a resident chose not to get (bits 1 << wk_notify_kind);
 *   - notify_cursor: the last event fanned out (one row);
 *   - notification: the outbox, one row per (event, contact) by UNIQUE key, with its
 *     idempotency key, state, attempts and next attempt time.
 */
#include "notify/notify.h"

static const char v1_sqlite[] =
    "CREATE TABLE notify_contact ("
    "  id INTEGER PRIMARY KEY,"
    "  account_id INTEGER NOT NULL DEFAULT 0,"
    "  community_id INTEGER NOT NULL DEFAULT 0,"
    "  channel TEXT NOT NULL CHECK (channel IN ('webhook', 'email', 'sms', 'wechat')),"
    "  address TEXT NOT NULL CHECK (length(address) BETWEEN 1 AND 511),"
    "  lang TEXT NOT NULL CHECK (lang IN ('en', 'zh-CN')),"
    "  quiet_from_min INTEGER NOT NULL DEFAULT 0 CHECK (quiet_from_min BETWEEN 0 AND 1439),"
    "  quiet_to_min INTEGER NOT NULL DEFAULT 0 CHECK (quiet_to_min BETWEEN 0 AND 1439),"
    "  enabled INTEGER NOT NULL DEFAULT 1,"
    "  CHECK ((account_id > 0) + (community_id > 0) = 1),"
    "  UNIQUE (account_id, community_id, channel, address)"
    ") STRICT;"
    "CREATE INDEX notify_contact_account ON notify_contact (account_id) WHERE account_id > 0;"
    "CREATE INDEX notify_contact_community ON notify_contact (community_id)"
    "  WHERE community_id > 0;"
    "CREATE TABLE notify_cursor ("
    "  id INTEGER PRIMARY KEY CHECK (id = 1),"
    "  last_event_id INTEGER NOT NULL"
    ") STRICT;"
    "INSERT INTO notify_cursor (id, last_event_id) SELECT 1, coalesce(max(id), 0) FROM event;"
    "CREATE TABLE notification ("
    "  id INTEGER PRIMARY KEY,"
    "  event_id INTEGER NOT NULL,"
    "  contact_id INTEGER NOT NULL REFERENCES notify_contact(id),"
    "  kind TEXT NOT NULL,"
    "  channel TEXT NOT NULL,"
    "  lang TEXT NOT NULL,"
    "  urgent INTEGER NOT NULL,"
    "  address TEXT NOT NULL,"
    "  subject TEXT NOT NULL,"
    "  body TEXT NOT NULL,"
    "  wechat_template_id TEXT NOT NULL DEFAULT '',"
    "  meter_id INTEGER,"
    "  idem_key TEXT NOT NULL UNIQUE,"
    "  state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'dead', 'suppressed', 'skipped')),"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  next_attempt_ms INTEGER NOT NULL,"
    "  event_time_ms INTEGER NOT NULL,"
    "  created_ms INTEGER NOT NULL,"
    "  done_ms INTEGER,"
    "  last_error TEXT,"
    "  UNIQUE (event_id, contact_id)"
    ") STRICT;"
    "CREATE INDEX notification_due ON notification (next_attempt_ms) WHERE state = 'pending';"
    "CREATE INDEX notification_contact ON notification (contact_id, created_ms);";

/* v2: per-contact choice of the resident events (bit 1 << wk_notify_kind set = not wanted;
 * 0 = everything, what every contact had before) */
static const char v2_sqlite[] =
    "ALTER TABLE notify_contact ADD COLUMN events_off INTEGER NOT NULL DEFAULT 0"
    "  CHECK (events_off >= 0);";

static const wk_migration migrations[] = {
    {1, "contacts, cursor, outbox", v1_sqlite, NULL},
    {2, "contact event choice", v2_sqlite, NULL},
};

const wk_schema wk_notify_schema = {"notify", migrations, sizeof migrations / sizeof migrations[0]};
