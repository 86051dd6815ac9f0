/*
 * schema.c - the head-end's tables (registry, readings, commands, events) as numbered
 * migrations. Invariants live in the schema where a constraint can hold them:
 *   - reading: PRIMARY KEY (meter_id, total_wh): a redelivered frame cannot be stored or
 *     charged twice;
 *   - command: at most one active (queued/sent/acked/offline) command per meter, by a
 *     partial UNIQUE index;
 *   - account: at most one open account per unit, and one wallet per account.
 */
#include "headend/headend.h"

static const char v1_sqlite[] =
    "CREATE TABLE community ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  tariff TEXT NOT NULL,"
    "  revenue_account_id INTEGER NOT NULL"
    ") STRICT;"
    "CREATE TABLE building ("
    "  id INTEGER PRIMARY KEY,"
    "  community_id INTEGER NOT NULL REFERENCES community(id),"
    "  name TEXT NOT NULL,"
    "  UNIQUE (community_id, name)"
    ") STRICT;"
    "CREATE TABLE unit ("
    "  id INTEGER PRIMARY KEY,"
    "  building_id INTEGER NOT NULL REFERENCES building(id),"
    "  name TEXT NOT NULL,"
    "  kind TEXT NOT NULL CHECK (kind IN ('home', 'shop')),"
    "  UNIQUE (building_id, name)"
    ") STRICT;"
    "CREATE TABLE meter ("
    "  id INTEGER PRIMARY KEY,"
    "  address TEXT NOT NULL UNIQUE CHECK (length(address) = 12),"
    "  unit_id INTEGER NOT NULL UNIQUE REFERENCES unit(id),"
    "  model TEXT NOT NULL DEFAULT 'wk-1',"
    "  close_mode TEXT NOT NULL CHECK (close_mode IN ('direct', 'permit')),"
    "  auth TEXT NOT NULL CHECK (auth IN ('mac', 'plain')),"
    "  key BLOB NOT NULL,"
    "  ct_ratio INTEGER NOT NULL DEFAULT 1 CHECK (ct_ratio >= 1),"
    "  counter INTEGER NOT NULL DEFAULT 0,"
    "  online INTEGER NOT NULL DEFAULT 0,"
    "  relay TEXT NOT NULL DEFAULT 'closed' CHECK (relay IN ('closed', 'tripped')),"
    "  last_seen_s INTEGER NOT NULL DEFAULT 0,"
    "  last_poll_s INTEGER NOT NULL DEFAULT 0,"
    "  last_reading_s INTEGER,"
    "  last_total_wh INTEGER,"
    "  last_t1_wh INTEGER, last_t2_wh INTEGER, last_t3_wh INTEGER, last_t4_wh INTEGER"
    ") STRICT;"
    "CREATE INDEX meter_seen ON meter (online, last_seen_s);"
    "CREATE TABLE account ("
    "  id INTEGER PRIMARY KEY,"
    "  unit_id INTEGER NOT NULL REFERENCES unit(id),"
    "  holder TEXT NOT NULL,"
    "  kind TEXT NOT NULL CHECK (kind IN ('resident', 'tenant')),"
    "  wallet_account_id INTEGER NOT NULL UNIQUE,"
    "  status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),"
    "  opened_s INTEGER NOT NULL,"
    "  vacant INTEGER NOT NULL DEFAULT 0,"
    "  emergency_taken INTEGER NOT NULL DEFAULT 0,"
    "  guarantee_until_s INTEGER NOT NULL DEFAULT 0,"
    "  guarantee_reason TEXT,"
    "  warned_level INTEGER NOT NULL DEFAULT 0,"
    "  deferred_until_s INTEGER NOT NULL DEFAULT 0,"
    "  rate_state BLOB"
    ") STRICT;"
    "CREATE UNIQUE INDEX account_open_per_unit ON account (unit_id) WHERE status = 'open';"
    "CREATE INDEX account_deferred ON account (deferred_until_s) WHERE deferred_until_s > 0;"
    "CREATE TABLE reading ("
    "  meter_id INTEGER NOT NULL REFERENCES meter(id),"
    "  total_wh INTEGER NOT NULL,"
    "  time_s INTEGER NOT NULL,"
    "  t1_wh INTEGER, t2_wh INTEGER, t3_wh INTEGER, t4_wh INTEGER,"
    "  energy_wh INTEGER NOT NULL,"
    "  deduction_fen INTEGER NOT NULL,"
    "  account_id INTEGER,"
    "  PRIMARY KEY (meter_id, total_wh)"
    ") STRICT;"
    "CREATE INDEX reading_time ON reading (meter_id, time_s);"
    "CREATE TABLE command ("
    "  id INTEGER PRIMARY KEY,"
    "  meter_id INTEGER NOT NULL REFERENCES meter(id),"
    "  action TEXT NOT NULL CHECK (action IN ('trip', 'close', 'close_permit')),"
    "  reason TEXT NOT NULL,"
    "  state TEXT NOT NULL CHECK (state IN ('queued', 'sent', 'acked', 'offline', 'confirmed',"
    "    'refused', 'expired', 'superseded')),"
    "  cause TEXT,"
    "  cause_ms INTEGER,"
    "  created_ms INTEGER NOT NULL,"
    "  counter INTEGER,"
    "  deadline_s INTEGER,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  first_sent_ms INTEGER,"
    "  last_sent_ms INTEGER,"
    "  acked_ms INTEGER,"
    "  done_ms INTEGER,"
    "  error TEXT"
    ") STRICT;"
    "CREATE UNIQUE INDEX command_active_per_meter ON command (meter_id)"
    "  WHERE state IN ('queued', 'sent', 'acked', 'offline');"
    "CREATE INDEX command_state ON command (state, last_sent_ms);"
    "CREATE TABLE event ("
    "  id INTEGER PRIMARY KEY,"
    "  time_ms INTEGER NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  meter_id INTEGER,"
    "  account_id INTEGER,"
    "  detail TEXT NOT NULL"
    ") STRICT;"
    "CREATE INDEX event_time ON event (time_ms);";

/* per-community balance-policy overrides (JSON, validated when written; docs/headend.md) */
static const char v2_sqlite[] = "ALTER TABLE community ADD COLUMN policy TEXT;";

/* v3: tenancy. A property company (the auth schema's company table) owns communities;
 * NULL = not yet assigned (no staff sees it). No REFERENCES clause: the company table
 * belongs to the auth schema, and SQLite refuses every write to a table whose foreign key
 * names a missing table, which would break stores that carry only the head-end schema
 * (its tests). `wattkeeper seed` sets it only to ids it has just looked up or created. */
static const char v3_sqlite[] =
    "ALTER TABLE community ADD COLUMN company_id INTEGER;"
    "CREATE INDEX community_company ON community (company_id);";

/* v4: when the account row was made (platform time). The head-end charges an account only
 * for intervals that start after it: the interval that straddles a move-in holds the
 * previous holder's last usage, which the new holder must not pay (0 = before v4: always). */
static const char v4_sqlite[] = "ALTER TABLE account ADD COLUMN created_s INTEGER NOT NULL DEFAULT 0;";

static const wk_migration migrations[] = {
    {1, "registry, readings, commands, events", v1_sqlite, NULL},
    {2, "community policy overrides", v2_sqlite, NULL},
    {3, "community.company_id (tenancy)", v3_sqlite, NULL},
    {4, "account.created_s (charging starts after it)", v4_sqlite, NULL},
};

const wk_schema wk_headend_schema = {"headend", migrations,
                                     sizeof migrations / sizeof migrations[0]};
