/*
 * ledger.h - the double-entry ledger and its tamper-evident log: the one place money moves.
 *
 * Accounts have a kind (wallet, revenue, clearing, refund, adjustment) and an optional
 * overdraft floor. A transfer moves a positive amount in fen from a debit account to a
 * credit account; it is immutable, identified by a client-chosen 128-bit id (the
 * idempotency key) and appended as one leaf of an RFC 9162 Merkle log in the same database
 * transaction. Balances (credits - debits) are kept on the account rows and always equal
 * the sum of the postings; `wk_ledger_verify` proves it, and proves the log.
 *
 * Rules enforced here (docs/ledger.md):
 *   - amount_fen in 1..WK_LEDGER_AMOUNT_MAX_FEN, debit != credit, both accounts exist;
 *   - same id + same content = the first result (existed = true), nothing written again;
 *     same id + other content = WK_EEXIST; the database's UNIQUE(id) arbitrates;
 *   - the debit account's balance may not fall below its floor unless the transfer has
 *     WK_TRANSFER_ALLOW_OVERDRAFT (meter deductions must always be booked);
 *   - a rejected transfer (or linked batch) changes nothing, also inside a caller's
 *     transaction (it runs in a savepoint).
 *
 * Transactions: every write function works standalone (it begins and commits its own
 * transaction, durable on return) or inside a transaction the caller opened with
 * wk_store_begin, so that a service can book a transfer and update its own tables
 * atomically; then nothing is durable until the caller's wk_store_commit.
 *
 * A wk_ledger borrows its wk_store (same thread rules: one thread at a time).
 */
#ifndef WK_LEDGER_LEDGER_H
#define WK_LEDGER_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "ledger/leaf.h"
#include "ledger/merkle.h"
#include "ledger/note.h"
#include "store/store.h"

#define WK_ACCOUNT_NAME_MAX 128
#define WK_LEDGER_AMOUNT_MAX_FEN INT64_C(1000000000000000) /* 10^13 yuan */
#define WK_LEDGER_LINKED_MAX 64                           /* transfers in one linked batch */

/* Transfer flags (stored, and part of the leaf). */
#define WK_TRANSFER_ALLOW_OVERDRAFT 0x1u
#define WK_TRANSFER_FLAGS_KNOWN 0x1u

typedef enum wk_account_kind {
    WK_ACCOUNT_WALLET = 1,
    WK_ACCOUNT_REVENUE,
    WK_ACCOUNT_CLEARING,
    WK_ACCOUNT_REFUND,
    WK_ACCOUNT_ADJUSTMENT,
} wk_account_kind;

/* "wallet", "revenue", ... ; NULL for an unknown value. */
const char *wk_account_kind_str(wk_account_kind k);
/* Parses a kind name; WK_EINVAL (d lists the kinds) otherwise. */
wk_err wk_account_kind_parse(const char *s, wk_account_kind *k, wk_diag *d) WK_MUST_CHECK;

typedef struct wk_account {
    int64_t id;
    char name[WK_ACCOUNT_NAME_MAX + 1];
    wk_account_kind kind;
    bool has_floor;
    int64_t floor_fen; /* balance may not go below this (<= 0) when has_floor */
    int64_t debits_fen;
    int64_t credits_fen;
    int64_t balance_fen; /* credits_fen - debits_fen */
} wk_account;

typedef struct wk_transfer {
    uint8_t id[16];            /* idempotency key, chosen by the caller */
    int64_t debit_account_id;  /* money leaves this account */
    int64_t credit_account_id; /* and arrives here */
    int64_t amount_fen;
    uint32_t flags;             /* WK_TRANSFER_* */
    const char *reason;         /* borrowed, NUL-terminated, <= WK_TRANSFER_REASON_MAX bytes */
} wk_transfer;

typedef struct wk_transfer_result {
    int64_t leaf_index; /* position in the log */
    int64_t time_s;     /* booking time of the first submission */
    bool existed;       /* true: an identical transfer was booked before; nothing changed */
} wk_transfer_result;

typedef struct wk_ledger_opts {
    /* Checkpoint policy for wk_ledger_checkpoint_maybe: issue when the tree grew by
     * checkpoint_every_leaves, or grew at all and checkpoint_interval_s passed. 0 = off. */
    int64_t checkpoint_every_leaves;
    int64_t checkpoint_interval_s;
    /* Clock (Unix seconds) for booking times and checkpoints; NULL = the system clock. */
    int64_t (*clock_s)(void *ctx);
    void *clock_ctx;
} wk_ledger_opts;

typedef struct wk_ledger wk_ledger;

/* The ledger's tables, for wk_store_open / wk_store_migrate. */
extern const wk_schema wk_ledger_schema;

/* Creates a ledger over an open, migrated store. signer (may be NULL: then checkpoints
 * cannot be issued) is copied. *out is freed with wk_ledger_close. */
wk_err wk_ledger_open(wk_store *st, const wk_ledger_opts *opts, const wk_note_signer *signer,
                      wk_ledger **out, wk_diag *d) WK_MUST_CHECK;
void wk_ledger_close(wk_ledger *lg);

/* Adds an account. overdraft_fen (NULL = default) is how far below zero the balance may
 * go: wallets default to 0 (never negative), other kinds to no floor at all. Names are
 * unique (WK_EEXIST). *id receives the new id. */
wk_err wk_ledger_account_add(wk_ledger *lg, const char *name, wk_account_kind kind,
                             const int64_t *overdraft_fen, int64_t *id, wk_diag *d) WK_MUST_CHECK;

/* Reads an account by id or by name; WK_ENOTFOUND when absent. */
wk_err wk_ledger_account_get(wk_ledger *lg, int64_t id, wk_account *out, wk_diag *d) WK_MUST_CHECK;
wk_err wk_ledger_account_find(wk_ledger *lg, const char *name, wk_account *out,
                              wk_diag *d) WK_MUST_CHECK;

/* Books one transfer (rules above). res may be NULL. On any error nothing changed and d
 * names the field or account: WK_EINVAL (bad field), WK_ENOTFOUND (unknown account),
 * WK_ECONFLICT (floor), WK_EEXIST (id reused with other content). */
wk_err wk_ledger_transfer(wk_ledger *lg, const wk_transfer *t, wk_transfer_result *res,
                          wk_diag *d) WK_MUST_CHECK;

/* Books n linked transfers all-or-nothing, in order. res (n entries, may be NULL). On
 * failure nothing of the batch changed and *failed (may be NULL) is the index of the
 * transfer that failed. */
wk_err wk_ledger_transfer_linked(wk_ledger *lg, const wk_transfer *t, size_t n,
                                 wk_transfer_result *res, size_t *failed,
                                 wk_diag *d) WK_MUST_CHECK;

/* Reads a booked transfer by id as its leaf record; WK_ENOTFOUND when absent. */
wk_err wk_ledger_transfer_get(wk_ledger *lg, const uint8_t id[16], wk_leaf_record *out,
                              wk_diag *d) WK_MUST_CHECK;

/* Calls fn for each transfer touching account_id, oldest first; stops at the first
 * non-zero return (which is passed back as WK_ELIMIT) or after `limit` rows (0 = all). */
typedef int (*wk_ledger_posting_fn)(void *ctx, const wk_leaf_record *r);
wk_err wk_ledger_postings(wk_ledger *lg, int64_t account_id, int64_t limit,
                          wk_ledger_posting_fn fn, void *ctx, wk_diag *d) WK_MUST_CHECK;

/* Number of leaves in the log (= transfers). */
wk_err wk_ledger_tree_size(wk_ledger *lg, int64_t *size, wk_diag *d) WK_MUST_CHECK;
/* Root of the first `size` leaves, from stored subtree hashes (O(log n) reads). */
wk_err wk_ledger_root(wk_ledger *lg, int64_t size, uint8_t root[WK_HASH_LEN],
                      wk_diag *d) WK_MUST_CHECK;
/* Inclusion proof of leaf index in the tree of size (O(log n) reads). */
wk_err wk_ledger_inclusion_proof(wk_ledger *lg, int64_t index, int64_t size,
                                 uint8_t proof[][WK_HASH_LEN], size_t *n,
                                 wk_diag *d) WK_MUST_CHECK;
wk_err wk_ledger_consistency_proof(wk_ledger *lg, int64_t size1, int64_t size2,
                                   uint8_t proof[][WK_HASH_LEN], size_t *n,
                                   wk_diag *d) WK_MUST_CHECK;

typedef struct wk_checkpoint {
    int64_t tree_size;
    uint8_t root[WK_HASH_LEN];
    int64_t time_s;
    char note[WK_CHECKPOINT_NOTE_MAX]; /* the signed note, NUL-terminated */
} wk_checkpoint;

/* Signs and stores a checkpoint of the current tree (on demand). If the latest checkpoint
 * already has this size it is returned instead (*issued = false). out/issued may be NULL.
 * Needs a signer (WK_EINVAL otherwise). */
wk_err wk_ledger_checkpoint(wk_ledger *lg, wk_checkpoint *out, bool *issued,
                            wk_diag *d) WK_MUST_CHECK;
/* Issues a checkpoint only when the policy in wk_ledger_opts says one is due. */
wk_err wk_ledger_checkpoint_maybe(wk_ledger *lg, bool *issued, wk_diag *d) WK_MUST_CHECK;
/* The latest checkpoint; *have = false when none exists. */
wk_err wk_ledger_checkpoint_latest(wk_ledger *lg, wk_checkpoint *out, bool *have,
                                   wk_diag *d) WK_MUST_CHECK;

/* The receipt JSON of transfer `id` (DESIGN.md contract), against the latest checkpoint
 * that covers it, issuing one on demand when none does. *json is allocated with wk_malloc
 * (caller wk_free). */
wk_err wk_ledger_receipt(wk_ledger *lg, const uint8_t id[16], char **json,
                         wk_diag *d) WK_MUST_CHECK;

typedef struct wk_ledger_verify_report {
    int64_t accounts;
    int64_t transfers;
    int64_t nodes;
    int64_t checkpoints;
} wk_ledger_verify_report;

/* Full audit of the stored ledger, reading only stored records: every balance against the
 * sum of its postings; every leaf re-encoded from its transfer row and hashed against the
 * stored log; every stored interior hash against its children; every checkpoint's
 * signature (by key), its fields and its root against the tree recomputed from the
 * records, and each checkpoint's consistency with the previous one. Returns WK_OK when all
 * hold; otherwise WK_ECRYPTO (or WK_EIO) with d naming the first broken account, leaf,
 * node or checkpoint. key may be NULL only when there are no checkpoints. */
wk_err wk_ledger_verify(wk_store *st, const wk_note_verifier *key, wk_ledger_verify_report *rep,
                        wk_diag *d) WK_MUST_CHECK;

/* Loads the log signing key from path, or generates one named `name` and writes it there
 * (mode 0600, created exclusively, fsynced) when the file does not exist. Refuses a key
 * file readable by group or others. *created (may be NULL) says which happened. */
wk_err wk_ledger_key_load_or_create(const char *path, const char *name, wk_note_signer *out,
                                    bool *created, wk_diag *d) WK_MUST_CHECK;

/* Parses a 32-hex-digit transfer id. */
wk_err wk_ledger_id_parse(const char *hex, uint8_t id[16], wk_diag *d) WK_MUST_CHECK;

#endif
