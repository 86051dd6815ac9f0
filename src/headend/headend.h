/*
 * headend.h - the head-end: meters' frames in, deductions booked, relays commanded.
 *
 * It owns the registry tables (communities, buildings, units, meters, accounts), the
 * readings, the command queue and the event log, and drives the main path of DESIGN.md:
 *
 *   frame from wk/m/<addr>/up -> decode -> reading (monotonic, duplicates and reordering
 *   harmless because registers are cumulative) -> rating (core) -> ledger transfer wallet
 *   -> revenue with an id derived from meter + register value -> account state, all in
 *   one DB transaction -> after commit: balance policy -> warning event | relay command.
 *
 * It does not own sockets or clocks: MQTT delivery and time are the caller's (serve, the
 * tests). Outgoing frames go through the publish callback; time is a parameter of every
 * call. One thread at a time (it borrows its store and ledger).
 */
#ifndef WK_HEADEND_HEADEND_H
#define WK_HEADEND_HEADEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/policy.h"
#include "core/tariff.h"
#include "ledger/ledger.h"
#include "store/store.h"

extern const wk_schema wk_headend_schema;
/* The tariff documents (src/headend/tariffs.c): table `tariff` (name, doc, origin, rev). */
extern const wk_schema wk_headend_tariff_schema;

typedef struct wk_headend_opts {
    const char *tariff_dir;       /* where community tariff files <name>.json live */
    int64_t report_interval_s;    /* meters' report interval */
    int32_t gap_intervals;        /* silent longer than this many intervals: poll */
    int64_t offline_after_s;      /* silent this long: offline (commands wait) */
    int64_t command_deadline_s;   /* deadline written into each 1C command */
    int32_t command_retries;      /* re-sends of an unanswered command before it expires */
    int64_t command_retry_base_ms; /* first retry after this, doubling */
    int32_t batch_max;            /* frames per DB transaction */
    wk_policy policy;             /* community default */
    const uint8_t *operator_code; /* 4 bytes written into commands (NULL = 0) */
} wk_headend_opts;

typedef struct wk_headend wk_headend;

/* Sends one frame to a meter: topic wk/m/<address>/down, QoS 1. */
typedef wk_err (*wk_headend_publish_fn)(void *ctx, const char *address, const uint8_t *frame,
                                        size_t len);
/* Observes every decision, command step and warning (for logs and metrics); may be NULL.
 * kind is a short word ("warn", "trip", "confirmed", ...), detail a key=value line. */
typedef void (*wk_headend_event_fn)(void *ctx, const char *kind, const char *address,
                                    const char *detail);

wk_err wk_headend_open(wk_store *st, wk_ledger *lg, const wk_headend_opts *o,
                       wk_headend_publish_fn publish, void *publish_ctx, wk_headend **out,
                       wk_diag *d) WK_MUST_CHECK;
void wk_headend_close(wk_headend *hd);
void wk_headend_on_event(wk_headend *hd, wk_headend_event_fn fn, void *ctx);

/* Creates the registry from a seed JSON document (docs/headend.md): communities with their
 * tariff, buildings, units, meters (address, key or master-derived key, close mode) and
 * accounts (holder, opening balance). Idempotent by natural keys; all or nothing. */
wk_err wk_headend_seed(wk_headend *hd, const char *json, size_t len, const uint8_t *master_key,
                       size_t master_len, int64_t now_ms, wk_diag *d) WK_MUST_CHECK;

/* A new account on a unit: holder, kind ("resident" or "tenant"), an overdraft (the wallet's
 * floor is -overdraft_fen), vacant, and when it opened (informational; charging starts with
 * the next reading of the unit's meter). */
typedef struct wk_headend_account_new {
    int64_t unit_id;
    const char *holder;
    const char *kind;
    int64_t overdraft_fen;
    bool vacant;
    int64_t opened_s;  /* the tenancy's start as agreed (a move-in date may be in the past) */
    int64_t created_s; /* platform time now: charging starts with the first reading after it */
} wk_headend_account_new;

/* Opens an account as the seed does: a wallet "wallet:<community>/<building>/<unit>#<n>" in
 * the ledger and the account row, inside the caller's transaction (no balance: credit it
 * afterwards). When the unit's meter has reported before, it is asked for a reading at once:
 * that reading is where the new holder's charging starts (the interval before it is the
 * previous holder's last usage and is charged to nobody). WK_EINVAL naming the field, WK_ENOTFOUND for an unknown unit, WK_ECONFLICT
 * when the unit already has an open account; on error the caller rolls back. *account_id
 * and *wallet_id (may be NULL) receive the new ids. */
wk_err wk_headend_account_open(wk_headend *hd, const wk_headend_account_new *a,
                               int64_t *account_id, int64_t *wallet_id, wk_diag *d) WK_MUST_CHECK;

/* One frame received on wk/m/<address>/up at now_ms. Frames are collected into a batch:
 * call wk_headend_flush to commit it (and to act on what it decided). A frame that does
 * not decode, comes from an unknown meter or is stale is counted and dropped, never an
 * error for the caller. */
wk_err wk_headend_frame(wk_headend *hd, const char *address, const uint8_t *buf, size_t len,
                        int64_t now_ms, wk_diag *d) WK_MUST_CHECK;
/* Commits the current batch (durably), then runs the balance policy for every account it
 * touched and sends the resulting commands. */
wk_err wk_headend_flush(wk_headend *hd, int64_t now_ms, wk_diag *d) WK_MUST_CHECK;
/* Timers: command retries and expiry, deferred trips at the end of friendly hours, polls
 * of silent meters, offline marking. Call at least once a second. */
wk_err wk_headend_tick(wk_headend *hd, int64_t now_ms, wk_diag *d) WK_MUST_CHECK;

/* Runs the balance policy for every open account (at start-up: what changed while the
 * process was down, e.g. a zero opening balance, a guarantee that expired). */
wk_err wk_headend_sweep(wk_headend *hd, int64_t now_ms, int64_t *n_accounts,
                        wk_diag *d) WK_MUST_CHECK;

/* Credits an account's wallet from a clearing/adjustment account (payments, the `credit`
 * command) with the given idempotency id, and runs the policy at once (close the relay).
 * from_account 0 = the adjustment account. *existed tells a repeated id. */
wk_err wk_headend_credit(wk_headend *hd, int64_t account_id, int64_t amount_fen,
                         const uint8_t id[16], int64_t from_account, const char *reason,
                         int64_t now_ms, bool *existed, wk_diag *d) WK_MUST_CHECK;

/* Same, running hook(hook_ctx, store) inside the credit's transaction first: a payment
 * writes its payment row (UNIQUE per channel transaction) and moves its order forward in
 * the same transaction as the ledger credit, so that all or none of it commits. A hook
 * error rolls everything back and is returned. */
typedef wk_err (*wk_headend_txn_hook)(void *ctx, wk_store *st, wk_diag *d);
wk_err wk_headend_credit_with(wk_headend *hd, int64_t account_id, int64_t amount_fen,
                              const uint8_t id[16], int64_t from_account, const char *reason,
                              int64_t now_ms, wk_headend_txn_hook hook, void *hook_ctx,
                              bool *existed, wk_diag *d) WK_MUST_CHECK;

/* The ledger and store the head-end works on (for modules that book in its transactions). */
wk_ledger *wk_headend_ledger(wk_headend *hd);
wk_store *wk_headend_store(wk_headend *hd);

/* Staff actions, each logged with its reason. */
wk_err wk_headend_set_vacant(wk_headend *hd, int64_t account_id, bool vacant, const char *reason,
                             int64_t now_ms, wk_diag *d) WK_MUST_CHECK;
wk_err wk_headend_set_guarantee(wk_headend *hd, int64_t account_id, int64_t until_s,
                                const char *reason, int64_t now_ms, wk_diag *d) WK_MUST_CHECK;

/* A staff relay hold in one transaction: sets the account's vacancy and power guarantee
 * (the policy keeps vacant units tripped and guaranteed ones closed until the guarantee
 * ends; with neither, the balance decides), runs hook(hook_ctx, store) inside the same
 * transaction before the change (e.g. the audit row, which may read the state before),
 * logs event `kind` with the reason and applies the policy, which queues the relay
 * command. A missing reason is WK_EINVAL, an unknown account WK_ENOTFOUND; a hook error
 * rolls everything back and is returned. */
wk_err wk_headend_set_hold(wk_headend *hd, int64_t account_id, bool vacant,
                           int64_t guarantee_until_s, const char *kind, const char *reason,
                           int64_t now_ms, wk_headend_txn_hook hook, void *hook_ctx,
                           wk_diag *d) WK_MUST_CHECK;
wk_err wk_headend_emergency(wk_headend *hd, int64_t account_id, int64_t now_ms,
                            wk_diag *d) WK_MUST_CHECK;

typedef struct wk_headend_stats {
    int64_t frames, frames_bad, frames_unknown_meter, readings, duplicates, stale, deductions;
    int64_t deducted_fen, warnings, commands_sent, commands_confirmed, commands_refused,
        commands_expired, commands_offline, polls;
    int64_t batch_pending;
    int64_t foreign_replies; /* relay replies to commands we never sent: an alarm */
    int64_t publish_failed;
} wk_headend_stats;
void wk_headend_stats_get(const wk_headend *hd, wk_headend_stats *out);

/* ---- tariffs (src/headend/tariffs.c) ---- */

/* Whether name is a tariff name: 1..63 bytes of a-z, 0-9, - or _. */
bool wk_headend_tariff_name_ok(const char *name);
/* Copies every <tariff_dir>/<name>.json that parses and whose name is not yet in the table
 * `tariff` into it (one transaction; existing rows are never overwritten: after the first
 * start the database copy is the reference). *added counts the copies, *skipped the files
 * that do not parse or are misnamed. Empties the cache on success. */
wk_err wk_headend_tariffs_seed(wk_headend *hd, int64_t now_ms, int *added, int *skipped,
                               wk_diag *d) WK_MUST_CHECK;
/* Forgets every parsed tariff: the next rating reads its document again (from the table,
 * else from the file). Call on the head-end's thread after a commit that changed a tariff. */
void wk_headend_tariffs_reload(wk_headend *hd);
/* The tariff the head-end rates `name` with (parsed and cached; borrowed until the next
 * reload or close). NULL + d if it does not exist or does not parse. */
const wk_tariff *wk_headend_tariff(wk_headend *hd, const char *name, wk_diag *d);

/* Latency of the last confirmed command whose cause was a credit (ms), for benchmarks. */
typedef void (*wk_headend_latency_fn)(void *ctx, const char *action, int64_t cause_to_confirm_ms,
                                      int64_t send_to_confirm_ms);
void wk_headend_on_latency(wk_headend *hd, wk_headend_latency_fn fn, void *ctx);

#endif
