/*
 * ledger.c - accounts, transfers, the Merkle log kept in the database, checkpoints,
 * receipts and the full audit.
 *
 * Storage (migration ledger/1): ledger_account (balances as debits/credits columns),
 * ledger_transfer (INTEGER PRIMARY KEY = leaf index, UNIQUE id), ledger_node (hash of every
 * complete perfect subtree: level 0 = leaf hashes; a node (level, idx) is written once the
 * last leaf under it arrives, so the table holds < 2n rows and any root or proof needs
 * O(log n) point reads), ledger_checkpoint (signed notes). Triggers make transfers, nodes
 * and checkpoints append-only for anyone going through SQL without dropping them first;
 * wk_ledger_verify catches those who do.
 *
 * Invariants: one leaf per transfer, written in the same transaction as the transfer and
 * its balance updates. A transfer is checked completely by reads before its first write, so
 * a rejection writes nothing; a linked batch runs in a savepoint that a failing member
 * rolls back; a failure after a write (I/O) poisons the caller's transaction.
 */
#include "ledger/ledger.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/mem.h"
#include "ledger/receipt.h"
#include "proto/encoding.h"

/* ---- schema ---- */

static const char LEDGER_V1_SQLITE[] =
    "CREATE TABLE ledger_account("
    " id INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL UNIQUE CHECK(length(name) BETWEEN 1 AND 128),"
    " kind TEXT NOT NULL CHECK(kind IN ('wallet','revenue','clearing','refund','adjustment')),"
    " floor_fen INTEGER CHECK(floor_fen IS NULL OR floor_fen <= 0),"
    " debits_fen INTEGER NOT NULL DEFAULT 0 CHECK(debits_fen >= 0),"
    " credits_fen INTEGER NOT NULL DEFAULT 0 CHECK(credits_fen >= 0),"
    " created_s INTEGER NOT NULL) STRICT;"
    "CREATE TABLE ledger_transfer("
    " leaf_index INTEGER PRIMARY KEY CHECK(leaf_index >= 0),"
    " id BLOB NOT NULL UNIQUE CHECK(length(id) = 16),"
    " debit_account_id INTEGER NOT NULL REFERENCES ledger_account(id),"
    " credit_account_id INTEGER NOT NULL REFERENCES ledger_account(id),"
    " amount_fen INTEGER NOT NULL CHECK(amount_fen > 0),"
    " flags INTEGER NOT NULL CHECK(flags >= 0),"
    " time_s INTEGER NOT NULL,"
    " reason TEXT NOT NULL CHECK(length(CAST(reason AS BLOB)) <= 256),"
    " CHECK(debit_account_id <> credit_account_id)) STRICT;"
    "CREATE INDEX ledger_transfer_debit ON ledger_transfer(debit_account_id);"
    "CREATE INDEX ledger_transfer_credit ON ledger_transfer(credit_account_id);"
    "CREATE TABLE ledger_node("
    " level INTEGER NOT NULL CHECK(level BETWEEN 0 AND 63),"
    " idx INTEGER NOT NULL CHECK(idx >= 0),"
    " hash BLOB NOT NULL CHECK(length(hash) = 32),"
    " PRIMARY KEY(level, idx)) STRICT, WITHOUT ROWID;"
    "CREATE TABLE ledger_checkpoint("
    " tree_size INTEGER PRIMARY KEY CHECK(tree_size >= 0),"
    " root BLOB NOT NULL CHECK(length(root) = 32),"
    " time_s INTEGER NOT NULL,"
    " note TEXT NOT NULL) STRICT;"
    "CREATE TRIGGER ledger_transfer_no_update BEFORE UPDATE ON ledger_transfer"
    " BEGIN SELECT RAISE(ABORT, 'ledger transfers are immutable'); END;"
    "CREATE TRIGGER ledger_transfer_no_delete BEFORE DELETE ON ledger_transfer"
    " BEGIN SELECT RAISE(ABORT, 'ledger transfers are immutable'); END;"
    "CREATE TRIGGER ledger_node_no_update BEFORE UPDATE ON ledger_node"
    " BEGIN SELECT RAISE(ABORT, 'log nodes are immutable'); END;"
    "CREATE TRIGGER ledger_node_no_delete BEFORE DELETE ON ledger_node"
    " BEGIN SELECT RAISE(ABORT, 'log nodes are immutable'); END;"
    "CREATE TRIGGER ledger_checkpoint_no_update BEFORE UPDATE ON ledger_checkpoint"
    " BEGIN SELECT RAISE(ABORT, 'checkpoints are immutable'); END;"
    "CREATE TRIGGER ledger_checkpoint_no_delete BEFORE DELETE ON ledger_checkpoint"
    " BEGIN SELECT RAISE(ABORT, 'checkpoints are immutable'); END;";

static const wk_migration LEDGER_MIGRATIONS[] = {
    {1, "accounts, transfers, log nodes, checkpoints", LEDGER_V1_SQLITE, NULL},
};

const wk_schema wk_ledger_schema = {"ledger", LEDGER_MIGRATIONS,
                                    sizeof LEDGER_MIGRATIONS / sizeof LEDGER_MIGRATIONS[0]};

/* ---- handle ---- */

struct wk_ledger {
    wk_store *st;
    wk_ledger_opts opts;
    bool has_signer;
    wk_note_signer signer;
};

static int64_t ledger__now(wk_ledger *lg)
{
    if (lg->opts.clock_s)
        return lg->opts.clock_s(lg->opts.clock_ctx);
    return (int64_t)time(NULL);
}

wk_err wk_ledger_open(wk_store *st, const wk_ledger_opts *opts, const wk_note_signer *signer,
                      wk_ledger **out, wk_diag *d)
{
    wk_ledger *lg = wk_calloc(1, sizeof *lg);
    *out = NULL;
    if (!lg)
        return wk_diag_set(d, WK_ENOMEM, "ledger: out of memory");
    lg->st = st;
    if (opts)
        lg->opts = *opts;
    if (signer) {
        lg->signer = *signer;
        lg->has_signer = true;
    }
    *out = lg;
    return WK_OK;
}

void wk_ledger_close(wk_ledger *lg)
{
    if (!lg)
        return;
    memset(&lg->signer, 0, sizeof lg->signer);
    wk_free(lg);
}

/* Runs in the caller's transaction or in one of its own. Returns WK_OK if `own` says we
 * began one (the caller must then finish with ledger__end). */
static wk_err ledger__begin(wk_ledger *lg, bool *own, wk_diag *d)
{
    *own = !wk_store_in_txn(lg->st);
    if (*own)
        return wk_store_begin(lg->st, d);
    return WK_OK;
}

static wk_err ledger__end(wk_ledger *lg, bool own, wk_err e, wk_diag *d)
{
    if (!own)
        return e;
    if (e) {
        wk_store_rollback(lg->st);
        return e;
    }
    return wk_store_commit(lg->st, d);
}

/* ---- accounts ---- */

static const char *const KIND_NAMES[] = {NULL, "wallet", "revenue", "clearing", "refund",
                                         "adjustment"};

const char *wk_account_kind_str(wk_account_kind k)
{
    if (k < WK_ACCOUNT_WALLET || k > WK_ACCOUNT_ADJUSTMENT)
        return NULL;
    return KIND_NAMES[k];
}

wk_err wk_account_kind_parse(const char *s, wk_account_kind *k, wk_diag *d)
{
    for (int i = WK_ACCOUNT_WALLET; i <= WK_ACCOUNT_ADJUSTMENT; i++) {
        if (!strcmp(s, KIND_NAMES[i])) {
            *k = (wk_account_kind)i;
            return WK_OK;
        }
    }
    return wk_diag_set(d, WK_EINVAL,
                       "--kind: '%.64s' is not one of wallet, revenue, clearing, refund, "
                       "adjustment",
                       s);
}

wk_err wk_ledger_account_add(wk_ledger *lg, const char *name, wk_account_kind kind,
                             const int64_t *overdraft_fen, int64_t *id, wk_diag *d)
{
    static const char sql[] = "INSERT INTO ledger_account(name, kind, floor_fen, created_s) "
                              "VALUES(?, ?, ?, ?) RETURNING id";
    wk_stmt *s = NULL;
    bool own = false, row = false;
    size_t nlen = strlen(name);
    const char *ks = wk_account_kind_str(kind);
    if (nlen == 0 || nlen > WK_ACCOUNT_NAME_MAX || !wk_text_ok(name, nlen))
        return wk_diag_set(d, WK_EINVAL, "name: must be 1..%d bytes of one-line UTF-8 text",
                           WK_ACCOUNT_NAME_MAX);
    if (!ks)
        return wk_diag_set(d, WK_EINVAL, "kind: unknown account kind %d", (int)kind);
    if (overdraft_fen && (*overdraft_fen < 0 || *overdraft_fen > WK_LEDGER_AMOUNT_MAX_FEN))
        return wk_diag_set(d, WK_EINVAL, "--overdraft: must be 0..%lld fen",
                           (long long)WK_LEDGER_AMOUNT_MAX_FEN);
    wk_err e = ledger__begin(lg, &own, d);
    if (e)
        return e;
    e = wk_store_prepare(lg->st, sql, &s, d);
    if (e)
        goto fail;
    if ((e = wk_stmt_bind_text(s, 1, name, nlen)) || (e = wk_stmt_bind_text(s, 2, ks, strlen(ks))))
        goto fail;
    if (overdraft_fen)
        e = wk_stmt_bind_i64(s, 3, -*overdraft_fen);
    else if (kind == WK_ACCOUNT_WALLET)
        e = wk_stmt_bind_i64(s, 3, 0);
    else
        e = wk_stmt_bind_null(s, 3);
    if (e || (e = wk_stmt_bind_i64(s, 4, ledger__now(lg))))
        goto fail;
    e = wk_stmt_step(s, &row, d);
    if (e == WK_EEXIST) {
        e = wk_diag_set(d, WK_EEXIST, "name: an account named '%s' exists already", name);
        goto fail;
    }
    if (e)
        goto fail;
    if (!row) {
        e = wk_diag_set(d, WK_EINTERNAL, "ledger: INSERT returned no id");
        goto fail;
    }
    *id = wk_stmt_i64(s, 0);
    wk_stmt_reset(s);
    s = NULL;
    return ledger__end(lg, own, WK_OK, d);
fail:
    wk_stmt_reset(s);
    return ledger__end(lg, own, e, d);
}

static void ledger__row_account(wk_stmt *s, wk_account *a)
{
    size_t len = 0;
    const char *name = wk_stmt_text(s, 1, &len);
    const char *kind = wk_stmt_text(s, 2, NULL);
    memset(a, 0, sizeof *a);
    a->id = wk_stmt_i64(s, 0);
    if (len > WK_ACCOUNT_NAME_MAX)
        len = WK_ACCOUNT_NAME_MAX;
    memcpy(a->name, name, len);
    for (int i = WK_ACCOUNT_WALLET; i <= WK_ACCOUNT_ADJUSTMENT; i++)
        if (!strcmp(kind, KIND_NAMES[i]))
            a->kind = (wk_account_kind)i;
    a->has_floor = !wk_stmt_is_null(s, 3);
    a->floor_fen = a->has_floor ? wk_stmt_i64(s, 3) : 0;
    a->debits_fen = wk_stmt_i64(s, 4);
    a->credits_fen = wk_stmt_i64(s, 5);
    a->balance_fen = a->credits_fen - a->debits_fen;
}

static wk_err ledger__account_query(wk_ledger *lg, const char *sql, int64_t id, const char *name,
                                    wk_account *out, wk_diag *d)
{
    wk_stmt *s = NULL;
    bool row = false;
    wk_err e = wk_store_prepare(lg->st, sql, &s, d);
    if (e)
        return e;
    e = name ? wk_stmt_bind_text(s, 1, name, strlen(name)) : wk_stmt_bind_i64(s, 1, id);
    if (!e)
        e = wk_stmt_step(s, &row, d);
    if (!e && row)
        ledger__row_account(s, out);
    wk_stmt_reset(s);
    if (!e && !row)
        e = name ? wk_diag_set(d, WK_ENOTFOUND, "account '%.128s' does not exist", name)
                 : wk_diag_set(d, WK_ENOTFOUND, "account %lld does not exist", (long long)id);
    return e;
}

wk_err wk_ledger_account_get(wk_ledger *lg, int64_t id, wk_account *out, wk_diag *d)
{
    static const char sql[] = "SELECT id, name, kind, floor_fen, debits_fen, credits_fen "
                              "FROM ledger_account WHERE id = ?";
    return ledger__account_query(lg, sql, id, NULL, out, d);
}

wk_err wk_ledger_account_find(wk_ledger *lg, const char *name, wk_account *out, wk_diag *d)
{
    static const char sql[] = "SELECT id, name, kind, floor_fen, debits_fen, credits_fen "
                              "FROM ledger_account WHERE name = ?";
    return ledger__account_query(lg, sql, 0, name, out, d);
}

/* ---- log nodes ---- */

static wk_err ledger__node_get(wk_store *st, uint32_t level, uint64_t idx,
                               uint8_t out[WK_HASH_LEN], wk_diag *d)
{
    static const char sql[] = "SELECT hash FROM ledger_node WHERE level = ? AND idx = ?";
    wk_stmt *s = NULL;
    bool row = false;
    size_t len = 0;
    wk_err e = wk_store_prepare(st, sql, &s, d);
    if (e)
        return e;
    if ((e = wk_stmt_bind_i64(s, 1, level)) || (e = wk_stmt_bind_i64(s, 2, (int64_t)idx)))
        goto done;
    e = wk_stmt_step(s, &row, d);
    if (e)
        goto done;
    const void *h = row ? wk_stmt_blob(s, 0, &len) : NULL;
    if (!h || len != WK_HASH_LEN) {
        e = wk_diag_set(d, WK_ECRYPTO, "log node (level %u, index %llu) is missing", level,
                        (unsigned long long)idx);
        goto done;
    }
    memcpy(out, h, WK_HASH_LEN);
done:
    wk_stmt_reset(s);
    return e;
}

static wk_err ledger__node_fn(void *ctx, uint32_t level, uint64_t idx, uint8_t out[WK_HASH_LEN],
                              wk_diag *d)
{
    return ledger__node_get(ctx, level, idx, out, d);
}

static wk_err ledger__node_put(wk_store *st, uint32_t level, uint64_t idx,
                               const uint8_t h[WK_HASH_LEN], wk_diag *d)
{
    static const char sql[] = "INSERT INTO ledger_node(level, idx, hash) VALUES(?, ?, ?)";
    wk_stmt *s = NULL;
    bool row;
    wk_err e = wk_store_prepare(st, sql, &s, d);
    if (e)
        return e;
    if (!(e = wk_stmt_bind_i64(s, 1, level)) && !(e = wk_stmt_bind_i64(s, 2, (int64_t)idx)) &&
        !(e = wk_stmt_bind_blob(s, 3, h, WK_HASH_LEN)))
        e = wk_stmt_step(s, &row, d);
    wk_stmt_reset(s);
    return e;
}

/* Appends leaf `index` (must be the next one): stores its hash and every perfect subtree
 * it completes. */
static wk_err ledger__log_append(wk_store *st, uint64_t index, const uint8_t leaf_hash[WK_HASH_LEN],
                                 wk_diag *d)
{
    uint8_t h[WK_HASH_LEN], sib[WK_HASH_LEN];
    uint32_t level = 0;
    memcpy(h, leaf_hash, WK_HASH_LEN);
    wk_err e = ledger__node_put(st, 0, index, h, d);
    while (!e && (index & 1)) {
        e = ledger__node_get(st, level, index - 1, sib, d);
        if (e)
            break;
        wk_merkle_node_hash(sib, h, h);
        level++;
        index >>= 1;
        e = ledger__node_put(st, level, index, h, d);
    }
    return e;
}

wk_err wk_ledger_tree_size(wk_ledger *lg, int64_t *size, wk_diag *d)
{
    static const char sql[] = "SELECT coalesce(max(leaf_index) + 1, 0) FROM ledger_transfer";
    wk_stmt *s = NULL;
    bool row = false;
    wk_err e = wk_store_prepare(lg->st, sql, &s, d);
    if (e)
        return e;
    e = wk_stmt_step(s, &row, d);
    if (!e)
        *size = row ? wk_stmt_i64(s, 0) : 0;
    wk_stmt_reset(s);
    return e;
}

wk_err wk_ledger_root(wk_ledger *lg, int64_t size, uint8_t root[WK_HASH_LEN], wk_diag *d)
{
    if (size < 0)
        return wk_diag_set(d, WK_EINVAL, "tree size: negative");
    return wk_merkle_root(ledger__node_fn, lg->st, (uint64_t)size, root, d);
}

wk_err wk_ledger_inclusion_proof(wk_ledger *lg, int64_t index, int64_t size,
                                 uint8_t proof[][WK_HASH_LEN], size_t *n, wk_diag *d)
{
    if (index < 0 || size < 0)
        return wk_diag_set(d, WK_EINVAL, "leaf index and tree size must not be negative");
    return wk_merkle_inclusion_proof(ledger__node_fn, lg->st, (uint64_t)index, (uint64_t)size,
                                     proof, n, d);
}

wk_err wk_ledger_consistency_proof(wk_ledger *lg, int64_t size1, int64_t size2,
                                   uint8_t proof[][WK_HASH_LEN], size_t *n, wk_diag *d)
{
    if (size1 < 0 || size2 < 0)
        return wk_diag_set(d, WK_EINVAL, "tree sizes must not be negative");
    return wk_merkle_consistency_proof(ledger__node_fn, lg->st, (uint64_t)size1,
                                       (uint64_t)size2, proof, n, d);
}

/* ---- transfers ---- */

static void ledger__id_hex(const uint8_t id[16], char out[33])
{
    wk_hex_encode(id, 16, out, 33);
}

wk_err wk_ledger_id_parse(const char *hex, uint8_t id[16], wk_diag *d)
{
    size_t n = 0;
    if (strlen(hex) != 32 || wk_hex_decode(hex, 32, id, 16, &n) != WK_OK)
        return wk_diag_set(d, WK_EINVAL, "--id: '%.64s' is not 32 hex digits (128 bits)", hex);
    return WK_OK;
}

static const char TRANSFER_COLS_BY_ID[] =
    "SELECT leaf_index, id, debit_account_id, credit_account_id, amount_fen, flags, time_s, "
    "reason FROM ledger_transfer WHERE id = ?";

static void ledger__row_record(wk_stmt *s, wk_leaf_record *r)
{
    size_t len = 0;
    memset(r, 0, sizeof *r);
    r->leaf_index = wk_stmt_i64(s, 0);
    const void *id = wk_stmt_blob(s, 1, &len);
    if (id && len == 16)
        memcpy(r->id, id, 16);
    r->debit_account_id = wk_stmt_i64(s, 2);
    r->credit_account_id = wk_stmt_i64(s, 3);
    r->amount_fen = wk_stmt_i64(s, 4);
    r->flags = (uint32_t)wk_stmt_i64(s, 5);
    r->time_s = wk_stmt_i64(s, 6);
    const char *reason = wk_stmt_text(s, 7, &len);
    if (len > WK_TRANSFER_REASON_MAX)
        len = WK_TRANSFER_REASON_MAX + 1; /* too long: encode will reject it */
    r->reason_len = len;
    memcpy(r->reason, reason, len > WK_TRANSFER_REASON_MAX ? WK_TRANSFER_REASON_MAX : len);
}

wk_err wk_ledger_transfer_get(wk_ledger *lg, const uint8_t id[16], wk_leaf_record *out, wk_diag *d)
{
    wk_stmt *s = NULL;
    bool row = false;
    wk_err e = wk_store_prepare(lg->st, TRANSFER_COLS_BY_ID, &s, d);
    if (e)
        return e;
    if (!(e = wk_stmt_bind_blob(s, 1, id, 16)))
        e = wk_stmt_step(s, &row, d);
    if (!e && row)
        ledger__row_record(s, out);
    wk_stmt_reset(s);
    if (!e && !row) {
        char hex[33];
        ledger__id_hex(id, hex);
        e = wk_diag_set(d, WK_ENOTFOUND, "transfer %s does not exist", hex);
    }
    return e;
}

static wk_err ledger__check_transfer(const wk_transfer *t, wk_diag *d)
{
    if (t->amount_fen <= 0)
        return wk_diag_set(d, WK_EINVAL, "--amount: must be a positive number of fen (got %lld)",
                           (long long)t->amount_fen);
    if (t->amount_fen > WK_LEDGER_AMOUNT_MAX_FEN)
        return wk_diag_set(d, WK_EINVAL, "--amount: more than %lld fen",
                           (long long)WK_LEDGER_AMOUNT_MAX_FEN);
    if (t->debit_account_id <= 0)
        return wk_diag_set(d, WK_EINVAL, "--from: not an account id");
    if (t->credit_account_id <= 0)
        return wk_diag_set(d, WK_EINVAL, "--to: not an account id");
    if (t->debit_account_id == t->credit_account_id)
        return wk_diag_set(d, WK_EINVAL, "--to: must differ from --from");
    if (t->flags & ~WK_TRANSFER_FLAGS_KNOWN)
        return wk_diag_set(d, WK_EINVAL, "flags: unknown bits 0x%x", t->flags);
    const char *reason = t->reason ? t->reason : "";
    size_t rl = strlen(reason);
    if (rl > WK_TRANSFER_REASON_MAX)
        return wk_diag_set(d, WK_EINVAL, "--reason: longer than %d bytes", WK_TRANSFER_REASON_MAX);
    if (!wk_text_ok(reason, rl))
        return wk_diag_set(d, WK_EINVAL, "--reason: must be one line of UTF-8 text");
    return WK_OK;
}

/* Looks the id up: absent -> WK_ENOTFOUND; same content -> WK_OK with *res from the stored
 * row (existed); other content -> WK_EEXIST naming the first differing field. */
static wk_err ledger__replay(wk_ledger *lg, const wk_transfer *t, wk_transfer_result *res,
                             wk_diag *d)
{
    wk_leaf_record r;
    char hex[33];
    const char *reason = t->reason ? t->reason : "";
    wk_err e = wk_ledger_transfer_get(lg, t->id, &r, d);
    if (e)
        return e; /* WK_ENOTFOUND: a new transfer */
    ledger__id_hex(t->id, hex);
    const char *diff = NULL;
    if (r.debit_account_id != t->debit_account_id)
        diff = "debit account";
    else if (r.credit_account_id != t->credit_account_id)
        diff = "credit account";
    else if (r.amount_fen != t->amount_fen)
        diff = "amount";
    else if (r.flags != t->flags)
        diff = "flags";
    else if (r.reason_len != strlen(reason) || memcmp(r.reason, reason, r.reason_len))
        diff = "reason";
    if (diff)
        return wk_diag_set(d, WK_EEXIST, "--id: transfer %s exists with a different %s", hex,
                           diff);
    res->leaf_index = r.leaf_index;
    res->time_s = r.time_s;
    res->existed = true;
    return WK_OK;
}

/* Checks that an account exists and, for the debit side, that the amount keeps it at or
 * above its floor (unless the transfer may overdraw). Reads only. */
static wk_err ledger__check_account(wk_ledger *lg, const wk_transfer *t, bool debit, wk_diag *d)
{
    wk_account a;
    wk_diag tmp;
    int64_t id = debit ? t->debit_account_id : t->credit_account_id;
    const char *field = debit ? "--from" : "--to";
    wk_err e = wk_ledger_account_get(lg, id, &a, &tmp);
    if (e == WK_ENOTFOUND)
        return wk_diag_set(d, WK_ENOTFOUND, "%s: account %lld does not exist", field,
                           (long long)id);
    if (e)
        return wk_diag_set(d, e, "%s", tmp.msg);
    if (debit && a.has_floor && !(t->flags & WK_TRANSFER_ALLOW_OVERDRAFT) &&
        a.balance_fen - t->amount_fen < a.floor_fen)
        return wk_diag_set(d, WK_ECONFLICT,
                           "--amount: account %lld (%s) has balance %lld fen; debiting %lld "
                           "would go below its floor of %lld fen",
                           (long long)a.id, a.name, (long long)a.balance_fen,
                           (long long)t->amount_fen, (long long)a.floor_fen);
    return WK_OK;
}

/* Books one transfer. Every rule is checked by reads first and the first write is the
 * INSERT that UNIQUE(id) can refuse, so a rejection writes nothing (no savepoint needed for
 * a single transfer). *wrote says whether
 * a write happened: a failure after that (I/O, or an invariant the checks should have made
 * impossible, e.g. a concurrent writer on a server database) leaves partial work that the
 * caller must undo - by a savepoint or by rolling back the whole transaction. The database
 * still arbitrates: UNIQUE(id) makes a second booking of an id impossible, the floor is
 * re-checked in the UPDATE, and FOREIGN KEYs guard the account ids. */
static wk_err ledger__transfer_one(wk_ledger *lg, const wk_transfer *t, wk_transfer_result *res,
                                   bool *wrote, wk_diag *d)
{
    static const char ins[] =
        "INSERT INTO ledger_transfer(leaf_index, id, debit_account_id, credit_account_id, "
        "amount_fen, flags, time_s, reason) VALUES(?, ?, ?, ?, ?, ?, ?, ?)";
    static const char debit[] =
        "UPDATE ledger_account SET debits_fen = debits_fen + ?1 WHERE id = ?2 AND "
        "(?3 OR floor_fen IS NULL OR credits_fen - debits_fen - ?1 >= floor_fen)";
    static const char credit[] =
        "UPDATE ledger_account SET credits_fen = credits_fen + ?1 WHERE id = ?2";
    wk_stmt *s = NULL;
    bool row;
    int64_t index = 0;
    wk_leaf_record rec;
    uint8_t leaf[WK_LEAF_MAX], lh[WK_HASH_LEN];
    size_t leaf_len = 0;
    const char *reason = t->reason ? t->reason : "";
    *wrote = false;
    wk_err e = ledger__check_transfer(t, d);
    if (e)
        return e;
    /* A retry is recognised by its id: when a check fails (the balance may have moved
     * since the first booking) and when the INSERT hits UNIQUE(id). The happy path of a
     * new transfer thus pays no lookup by id. */
    if ((e = ledger__check_account(lg, t, true, d)) ||
        (e = ledger__check_account(lg, t, false, d))) {
        wk_diag rd;
        wk_err re = ledger__replay(lg, t, res, &rd);
        if (re == WK_ENOTFOUND)
            return e; /* a new transfer: the check's error stands */
        if (re)
            *d = rd;
        return re;
    }
    e = wk_ledger_tree_size(lg, &index, d);
    if (e)
        return e;
    int64_t now = ledger__now(lg);

    e = wk_store_prepare(lg->st, ins, &s, d);
    if (e)
        return e;
    if ((e = wk_stmt_bind_i64(s, 1, index)) || (e = wk_stmt_bind_blob(s, 2, t->id, 16)) ||
        (e = wk_stmt_bind_i64(s, 3, t->debit_account_id)) ||
        (e = wk_stmt_bind_i64(s, 4, t->credit_account_id)) ||
        (e = wk_stmt_bind_i64(s, 5, t->amount_fen)) || (e = wk_stmt_bind_i64(s, 6, t->flags)) ||
        (e = wk_stmt_bind_i64(s, 7, now)) ||
        (e = wk_stmt_bind_text(s, 8, reason, strlen(reason))))
        goto fail;
    e = wk_stmt_step(s, &row, d);
    wk_stmt_reset(s);
    s = NULL;
    if (e == WK_EEXIST) /* UNIQUE(id): a retry (or a reused id); the INSERT wrote nothing */
        return ledger__replay(lg, t, res, d);
    if (e)
        return e;
    *wrote = true;

    e = wk_store_prepare(lg->st, debit, &s, d);
    if (e)
        return e;
    if ((e = wk_stmt_bind_i64(s, 1, t->amount_fen)) ||
        (e = wk_stmt_bind_i64(s, 2, t->debit_account_id)) ||
        (e = wk_stmt_bind_i64(s, 3, (t->flags & WK_TRANSFER_ALLOW_OVERDRAFT) ? 1 : 0)))
        goto fail;
    e = wk_stmt_step(s, &row, d);
    wk_stmt_reset(s);
    s = NULL;
    if (e)
        return e;
    if (wk_store_changes(lg->st) != 1)
        return wk_diag_set(d, WK_ECONFLICT, "--amount: account %lld changed under the transfer",
                           (long long)t->debit_account_id);

    e = wk_store_prepare(lg->st, credit, &s, d);
    if (e)
        return e;
    if ((e = wk_stmt_bind_i64(s, 1, t->amount_fen)) ||
        (e = wk_stmt_bind_i64(s, 2, t->credit_account_id)))
        goto fail;
    e = wk_stmt_step(s, &row, d);
    wk_stmt_reset(s);
    s = NULL;
    if (e)
        return e;
    if (wk_store_changes(lg->st) != 1)
        return wk_diag_set(d, WK_EINTERNAL, "--to: account %lld vanished under the transfer",
                           (long long)t->credit_account_id);

    memset(&rec, 0, sizeof rec);
    rec.leaf_index = index;
    memcpy(rec.id, t->id, 16);
    rec.debit_account_id = t->debit_account_id;
    rec.credit_account_id = t->credit_account_id;
    rec.amount_fen = t->amount_fen;
    rec.flags = t->flags;
    rec.time_s = now;
    rec.reason_len = strlen(reason);
    memcpy(rec.reason, reason, rec.reason_len);
    e = wk_leaf_encode(&rec, leaf, sizeof leaf, &leaf_len, d);
    if (e)
        return e;
    wk_merkle_leaf_hash(leaf, leaf_len, lh);
    e = ledger__log_append(lg->st, (uint64_t)index, lh, d);
    if (e)
        return e;
    res->leaf_index = index;
    res->time_s = now;
    res->existed = false;
    return WK_OK;
fail:
    wk_stmt_reset(s);
    return e;
}

wk_err wk_ledger_transfer_linked(wk_ledger *lg, const wk_transfer *t, size_t n,
                                 wk_transfer_result *res, size_t *failed, wk_diag *d)
{
    bool own = false, wrote = false;
    bool sp = n > 1; /* earlier members must be undone if a later one fails */
    size_t i = 0;
    wk_err e;
    if (n == 0 || n > WK_LEDGER_LINKED_MAX)
        return wk_diag_set(d, WK_EINVAL, "linked transfers: 1..%d per batch",
                           WK_LEDGER_LINKED_MAX);
    e = ledger__begin(lg, &own, d);
    if (e)
        return e;
    if (sp) {
        e = wk_store_savepoint(lg->st, d);
        if (e)
            return ledger__end(lg, own, e, d);
    }
    for (i = 0; i < n; i++) {
        wk_transfer_result r;
        e = ledger__transfer_one(lg, &t[i], &r, &wrote, d);
        if (e)
            break;
        if (res)
            res[i] = r;
    }
    if (e) {
        if (sp)
            wk_store_savepoint_rollback(lg->st);
        else if (wrote && !own)
            wk_store_poison(lg->st); /* partial writes: the caller must roll back */
        if (failed)
            *failed = i;
        if (n > 1)
            wk_diag_prefix(d, "linked transfer %zu of %zu (none booked)", i + 1, n);
        return ledger__end(lg, own, e, d);
    }
    if (sp)
        e = wk_store_savepoint_release(lg->st, d);
    return ledger__end(lg, own, e, d);
}

wk_err wk_ledger_transfer(wk_ledger *lg, const wk_transfer *t, wk_transfer_result *res,
                          wk_diag *d)
{
    return wk_ledger_transfer_linked(lg, t, 1, res, NULL, d);
}

wk_err wk_ledger_postings(wk_ledger *lg, int64_t account_id, int64_t limit,
                          wk_ledger_posting_fn fn, void *ctx, wk_diag *d)
{
    static const char sql[] =
        "SELECT leaf_index, id, debit_account_id, credit_account_id, amount_fen, flags, time_s, "
        "reason FROM ledger_transfer WHERE debit_account_id = ?1 OR credit_account_id = ?1 "
        "ORDER BY leaf_index LIMIT ?2";
    wk_stmt *s = NULL;
    bool row = true;
    wk_leaf_record r;
    wk_err e = wk_store_prepare(lg->st, sql, &s, d);
    if (e)
        return e;
    if ((e = wk_stmt_bind_i64(s, 1, account_id)) ||
        (e = wk_stmt_bind_i64(s, 2, limit > 0 ? limit : -1)))
        goto done;
    while (!(e = wk_stmt_step(s, &row, d)) && row) {
        ledger__row_record(s, &r);
        if (fn(ctx, &r)) {
            e = WK_ELIMIT;
            break;
        }
    }
done:
    wk_stmt_reset(s);
    return e;
}

/* ---- checkpoints ---- */

static wk_err ledger__checkpoint_latest(wk_store *st, wk_checkpoint *out, bool *have, wk_diag *d)
{
    static const char sql[] = "SELECT tree_size, root, time_s, note FROM ledger_checkpoint "
                              "ORDER BY tree_size DESC LIMIT 1";
    wk_stmt *s = NULL;
    bool row = false;
    size_t len = 0;
    wk_err e = wk_store_prepare(st, sql, &s, d);
    if (e)
        return e;
    e = wk_stmt_step(s, &row, d);
    *have = !e && row;
    if (*have) {
        memset(out, 0, sizeof *out);
        out->tree_size = wk_stmt_i64(s, 0);
        const void *root = wk_stmt_blob(s, 1, &len);
        if (root && len == WK_HASH_LEN)
            memcpy(out->root, root, WK_HASH_LEN);
        out->time_s = wk_stmt_i64(s, 2);
        const char *note = wk_stmt_text(s, 3, &len);
        if (len >= sizeof out->note)
            len = sizeof out->note - 1;
        memcpy(out->note, note, len);
    }
    wk_stmt_reset(s);
    return e;
}

wk_err wk_ledger_checkpoint_latest(wk_ledger *lg, wk_checkpoint *out, bool *have, wk_diag *d)
{
    return ledger__checkpoint_latest(lg->st, out, have, d);
}

static wk_err ledger__issue(wk_ledger *lg, int64_t size, wk_checkpoint *cp, wk_diag *d)
{
    static const char sql[] =
        "INSERT INTO ledger_checkpoint(tree_size, root, time_s, note) VALUES(?, ?, ?, ?)";
    wk_checkpoint_body body;
    size_t text_len = 0;
    char line[WK_NOTE_SIGLINE_MAX];
    wk_stmt *s = NULL;
    bool row;
    memset(&body, 0, sizeof body);
    memset(cp, 0, sizeof *cp);
    memcpy(body.origin, lg->signer.v.name, sizeof body.origin);
    body.tree_size = (uint64_t)size;
    body.time_s = ledger__now(lg);
    wk_err e = wk_ledger_root(lg, size, body.root, d);
    if (e)
        return e;
    e = wk_checkpoint_format(&body, cp->note, sizeof cp->note, &text_len, d);
    if (e)
        return e;
    e = wk_note_sign(&lg->signer, cp->note, text_len, line, sizeof line, d);
    if (e)
        return e;
    snprintf(cp->note + text_len, sizeof cp->note - text_len, "\n%s", line);
    cp->tree_size = size;
    cp->time_s = body.time_s;
    memcpy(cp->root, body.root, WK_HASH_LEN);
    e = wk_store_prepare(lg->st, sql, &s, d);
    if (e)
        return e;
    if (!(e = wk_stmt_bind_i64(s, 1, size)) && !(e = wk_stmt_bind_blob(s, 2, cp->root, 32)) &&
        !(e = wk_stmt_bind_i64(s, 3, cp->time_s)) &&
        !(e = wk_stmt_bind_text(s, 4, cp->note, strlen(cp->note))))
        e = wk_stmt_step(s, &row, d);
    wk_stmt_reset(s);
    return e;
}

/* Issues a checkpoint when `force` or the policy says so. */
static wk_err ledger__checkpoint(wk_ledger *lg, bool force, wk_checkpoint *out, bool *issued,
                                 wk_diag *d)
{
    wk_checkpoint latest, fresh;
    bool have = false, own = false, did = false;
    int64_t size = 0;
    if (!lg->has_signer)
        return wk_diag_set(d, WK_EINVAL, "checkpoint: no log signing key configured");
    wk_err e = ledger__begin(lg, &own, d);
    if (e)
        return e;
    if ((e = wk_ledger_tree_size(lg, &size, d)) ||
        (e = ledger__checkpoint_latest(lg->st, &latest, &have, d)))
        goto done;
    bool due = force;
    if (!due && (!have || size > latest.tree_size)) {
        int64_t grown = size - (have ? latest.tree_size : 0);
        int64_t every = lg->opts.checkpoint_every_leaves;
        int64_t interval = lg->opts.checkpoint_interval_s;
        due = (every > 0 && grown >= every) ||
              (interval > 0 && grown > 0 && (!have || ledger__now(lg) - latest.time_s >= interval));
    }
    if (due && have && latest.tree_size == size)
        due = false; /* nothing new to sign */
    if (due) {
        e = ledger__issue(lg, size, &fresh, d);
        if (e)
            goto done;
        did = true;
        if (out)
            *out = fresh;
    } else if (out) {
        if (have)
            *out = latest;
        else
            memset(out, 0, sizeof *out);
    }
done:
    if (issued)
        *issued = did && !e;
    return ledger__end(lg, own, e, d);
}

wk_err wk_ledger_checkpoint(wk_ledger *lg, wk_checkpoint *out, bool *issued, wk_diag *d)
{
    return ledger__checkpoint(lg, true, out, issued, d);
}

wk_err wk_ledger_checkpoint_maybe(wk_ledger *lg, bool *issued, wk_diag *d)
{
    return ledger__checkpoint(lg, false, NULL, issued, d);
}

/* ---- receipts ---- */

wk_err wk_ledger_receipt(wk_ledger *lg, const uint8_t id[16], char **json, wk_diag *d)
{
    wk_err e;
    wk_checkpoint cp;
    bool have = false;
    wk_receipt *r = wk_calloc(1, sizeof *r);
    *json = NULL;
    if (!r)
        return wk_diag_set(d, WK_ENOMEM, "receipt: out of memory");
    e = wk_ledger_transfer_get(lg, id, &r->record, d);
    if (e)
        goto fail;
    e = ledger__checkpoint_latest(lg->st, &cp, &have, d);
    if (e)
        goto fail;
    if (!have || cp.tree_size <= r->record.leaf_index) {
        e = wk_ledger_checkpoint(lg, &cp, NULL, d);
        if (e)
            goto fail;
    }
    e = wk_leaf_encode(&r->record, r->leaf, sizeof r->leaf, &r->leaf_len, d);
    if (e)
        goto fail;
    r->leaf_index = (uint64_t)r->record.leaf_index;
    r->tree_size = (uint64_t)cp.tree_size;
    memcpy(r->root, cp.root, WK_HASH_LEN);
    memcpy(r->checkpoint, cp.note, sizeof r->checkpoint);
    e = wk_ledger_inclusion_proof(lg, r->record.leaf_index, cp.tree_size, r->inclusion,
                                  &r->n_inclusion, d);
    if (e)
        goto fail;
    e = wk_receipt_to_json(r, json, d);
fail:
    wk_free(r);
    return e;
}

/* ---- audit ---- */

static wk_err ledger__verify_accounts(wk_store *st, wk_ledger_verify_report *rep, wk_diag *d)
{
    static const char sql[] =
        "SELECT a.id, a.name, a.debits_fen, a.credits_fen,"
        " (SELECT coalesce(sum(amount_fen), 0) FROM ledger_transfer WHERE debit_account_id = a.id),"
        " (SELECT coalesce(sum(amount_fen), 0) FROM ledger_transfer WHERE credit_account_id = a.id)"
        " FROM ledger_account a ORDER BY a.id";
    wk_stmt *s = NULL;
    bool row = true;
    int64_t total_d = 0, total_c = 0;
    wk_err e = wk_store_prepare(st, sql, &s, d);
    if (e)
        return e;
    while (!(e = wk_stmt_step(s, &row, d)) && row) {
        int64_t id = wk_stmt_i64(s, 0);
        const char *name = wk_stmt_text(s, 1, NULL);
        int64_t deb = wk_stmt_i64(s, 2), cred = wk_stmt_i64(s, 3);
        int64_t pdeb = wk_stmt_i64(s, 4), pcred = wk_stmt_i64(s, 5);
        if (deb != pdeb || cred != pcred) {
            e = wk_diag_set(d, WK_ECRYPTO,
                            "account %lld (%.128s): stored debits/credits %lld/%lld fen but its "
                            "postings sum to %lld/%lld fen",
                            (long long)id, name, (long long)deb, (long long)cred,
                            (long long)pdeb, (long long)pcred);
            break;
        }
        total_d += deb;
        total_c += cred;
        rep->accounts++;
    }
    wk_stmt_reset(s);
    if (!e && total_d != total_c)
        e = wk_diag_set(d, WK_ECRYPTO, "ledger: total debits %lld != total credits %lld",
                        (long long)total_d, (long long)total_c);
    return e;
}

typedef struct verify_cp {
    int64_t tree_size;
    uint8_t root[WK_HASH_LEN];
    int64_t time_s;
    char note[WK_CHECKPOINT_NOTE_MAX];
} verify_cp;

/* Loads all checkpoints ordered by size (bounded: WK_LEDGER_VERIFY_CP_MAX). */
#define WK_LEDGER_VERIFY_CP_MAX 1000000
static wk_err ledger__load_checkpoints(wk_store *st, verify_cp **out, size_t *n, wk_diag *d)
{
    static const char sql[] = "SELECT tree_size, root, time_s, note FROM ledger_checkpoint "
                              "ORDER BY tree_size";
    wk_stmt *s = NULL;
    bool row = true;
    size_t cap = 0, cnt = 0, len = 0;
    verify_cp *v = NULL;
    wk_err e = wk_store_prepare(st, sql, &s, d);
    if (e)
        return e;
    while (!(e = wk_stmt_step(s, &row, d)) && row) {
        if (cnt == cap) {
            size_t nc = cap ? cap * 2 : 16;
            if (nc > WK_LEDGER_VERIFY_CP_MAX) {
                e = wk_diag_set(d, WK_ELIMIT, "more than %d checkpoints", WK_LEDGER_VERIFY_CP_MAX);
                break;
            }
            verify_cp *nv = wk_realloc(v, nc * sizeof *v);
            if (!nv) {
                e = wk_diag_set(d, WK_ENOMEM, "verify: out of memory");
                break;
            }
            v = nv;
            cap = nc;
        }
        verify_cp *c = &v[cnt++];
        memset(c, 0, sizeof *c);
        c->tree_size = wk_stmt_i64(s, 0);
        const void *root = wk_stmt_blob(s, 1, &len);
        if (root && len == WK_HASH_LEN)
            memcpy(c->root, root, WK_HASH_LEN);
        c->time_s = wk_stmt_i64(s, 2);
        const char *note = wk_stmt_text(s, 3, &len);
        if (len >= sizeof c->note)
            len = sizeof c->note - 1;
        memcpy(c->note, note, len);
    }
    wk_stmt_reset(s);
    if (e) {
        wk_free(v);
        return e;
    }
    *out = v;
    *n = cnt;
    return WK_OK;
}

/* Checks a checkpoint row's note against the key and its own columns. */
static wk_err ledger__verify_note(const verify_cp *c, const wk_note_verifier *key, wk_diag *d)
{
    size_t text_len = 0;
    wk_checkpoint_body b;
    if (!key)
        return wk_diag_set(d, WK_EINVAL, "checkpoint %lld: no log key given to verify it",
                           (long long)c->tree_size);
    wk_err e = wk_note_verify(c->note, strlen(c->note), key, &text_len, d);
    if (!e)
        e = wk_checkpoint_parse(c->note, text_len, &b, d);
    if (e) {
        wk_diag_prefix(d, "checkpoint %lld", (long long)c->tree_size);
        return WK_ECRYPTO;
    }
    if (strcmp(b.origin, key->name) || (int64_t)b.tree_size != c->tree_size ||
        memcmp(b.root, c->root, WK_HASH_LEN) || b.time_s != c->time_s)
        return wk_diag_set(d, WK_ECRYPTO,
                           "checkpoint %lld: signed note (origin %s, size %llu) does not match "
                           "the stored row",
                           (long long)c->tree_size, b.origin, (unsigned long long)b.tree_size);
    return WK_OK;
}

static wk_err ledger__verify_leaves(wk_store *st, const verify_cp *cps, size_t ncp, int64_t *size,
                                    wk_diag *d)
{
    static const char sql[] =
        "SELECT leaf_index, id, debit_account_id, credit_account_id, amount_fen, flags, time_s, "
        "reason FROM ledger_transfer ORDER BY leaf_index";
    wk_stmt *s = NULL;
    bool row = true;
    wk_merkle_range *range = wk_malloc(sizeof *range);
    int64_t expect = 0;
    size_t next_cp = 0;
    wk_leaf_record r;
    uint8_t leaf[WK_LEAF_MAX], lh[WK_HASH_LEN], stored[WK_HASH_LEN], root[WK_HASH_LEN];
    size_t leaf_len = 0;
    wk_err e;
    if (!range)
        return wk_diag_set(d, WK_ENOMEM, "verify: out of memory");
    wk_merkle_range_init(range);
    /* A checkpoint of size 0 is checked against the empty root. */
    while (next_cp < ncp && cps[next_cp].tree_size == 0) {
        wk_merkle_range_root(range, root);
        if (memcmp(root, cps[next_cp].root, WK_HASH_LEN)) {
            wk_free(range);
            return wk_diag_set(d, WK_ECRYPTO, "checkpoint 0: root is not the empty-tree hash");
        }
        next_cp++;
    }
    e = wk_store_prepare(st, sql, &s, d);
    if (e)
        goto done;
    while (!(e = wk_stmt_step(s, &row, d)) && row) {
        ledger__row_record(s, &r);
        if (r.leaf_index != expect) {
            e = wk_diag_set(d, WK_ECRYPTO, "leaf %lld: missing (next stored leaf is %lld)",
                            (long long)expect, (long long)r.leaf_index);
            break;
        }
        e = wk_leaf_encode(&r, leaf, sizeof leaf, &leaf_len, d);
        if (e) {
            wk_diag_prefix(d, "leaf %lld: stored transfer is malformed", (long long)expect);
            e = WK_ECRYPTO;
            break;
        }
        wk_merkle_leaf_hash(leaf, leaf_len, lh);
        e = ledger__node_get(st, 0, (uint64_t)expect, stored, d);
        if (e) {
            wk_diag_prefix(d, "leaf %lld", (long long)expect);
            break;
        }
        if (memcmp(lh, stored, WK_HASH_LEN)) {
            e = wk_diag_set(d, WK_ECRYPTO,
                            "leaf %lld: stored transfer does not match its log hash (record "
                            "edited or leaves reordered)",
                            (long long)expect);
            break;
        }
        wk_merkle_range_push(range, lh);
        expect++;
        while (next_cp < ncp && cps[next_cp].tree_size == expect) {
            wk_merkle_range_root(range, root);
            if (memcmp(root, cps[next_cp].root, WK_HASH_LEN)) {
                e = wk_diag_set(d, WK_ECRYPTO,
                                "checkpoint %lld: signed root differs from the root recomputed "
                                "from the stored transfers",
                                (long long)expect);
                break;
            }
            next_cp++;
        }
        if (e)
            break;
    }
    wk_stmt_reset(s);
    if (!e && next_cp < ncp)
        e = wk_diag_set(d, WK_ECRYPTO, "checkpoint %lld: the log has only %lld leaves",
                        (long long)cps[next_cp].tree_size, (long long)expect);
    *size = expect;
done:
    wk_free(range);
    return e;
}

/* Every stored node: exactly the complete subtrees of a tree of `size` leaves, each interior
 * one the hash of its stored children. */
static wk_err ledger__verify_nodes(wk_store *st, int64_t size, int64_t *nodes, wk_diag *d)
{
    static const char sql_level[] = "SELECT idx, hash FROM ledger_node WHERE level = ? ORDER BY idx";
    static const char sql_count[] = "SELECT count(*) FROM ledger_node";
    uint8_t l[WK_HASH_LEN], r[WK_HASH_LEN], h[WK_HASH_LEN];
    int64_t expected_total = 0;
    wk_stmt *s = NULL;
    bool row = true;
    wk_err e = WK_OK;
    for (uint32_t level = 1; level < 63 && (size >> level) > 0; level++) {
        int64_t want = size >> level, next = 0;
        e = wk_store_prepare(st, sql_level, &s, d);
        if (e)
            return e;
        if ((e = wk_stmt_bind_i64(s, 1, level)))
            goto done;
        while (!(e = wk_stmt_step(s, &row, d)) && row) {
            int64_t idx = wk_stmt_i64(s, 0);
            size_t len = 0;
            const void *hv = wk_stmt_blob(s, 1, &len);
            if (idx != next || idx >= want || len != WK_HASH_LEN) {
                e = wk_diag_set(d, WK_ECRYPTO, "log node (level %u, index %lld): %s", level,
                                (long long)(idx != next ? next : idx),
                                idx != next ? "missing" : "unexpected");
                goto done;
            }
            memcpy(h, hv, WK_HASH_LEN);
            /* The child lookups use another statement; this one stays open. */
            if ((e = ledger__node_get(st, level - 1, (uint64_t)(2 * idx), l, d)) ||
                (e = ledger__node_get(st, level - 1, (uint64_t)(2 * idx + 1), r, d)))
                goto done;
            wk_merkle_node_hash(l, r, l);
            if (memcmp(l, h, WK_HASH_LEN)) {
                e = wk_diag_set(d, WK_ECRYPTO,
                                "log node (level %u, index %lld): hash differs from its children",
                                level, (long long)idx);
                goto done;
            }
            next++;
        }
        if (e)
            goto done;
        if (next != want) {
            e = wk_diag_set(d, WK_ECRYPTO, "log node (level %u, index %lld): missing", level,
                            (long long)next);
            goto done;
        }
        wk_stmt_reset(s);
        s = NULL;
    }
    for (uint32_t level = 0; level < 63; level++)
        expected_total += size >> level;
    e = wk_store_prepare(st, sql_count, &s, d);
    if (e)
        return e;
    e = wk_stmt_step(s, &row, d);
    if (!e && row && wk_stmt_i64(s, 0) != expected_total)
        e = wk_diag_set(d, WK_ECRYPTO, "log: %lld stored nodes, a tree of %lld leaves has %lld",
                        (long long)wk_stmt_i64(s, 0), (long long)size, (long long)expected_total);
    *nodes = expected_total;
done:
    wk_stmt_reset(s);
    return e;
}

wk_err wk_ledger_verify(wk_store *st, const wk_note_verifier *key, wk_ledger_verify_report *rep,
                        wk_diag *d)
{
    wk_ledger_verify_report local;
    verify_cp *cps = NULL;
    size_t ncp = 0;
    int64_t size = 0;
    uint8_t proof[WK_MERKLE_PROOF_MAX][WK_HASH_LEN];
    size_t np = 0;
    if (!rep)
        rep = &local;
    memset(rep, 0, sizeof *rep);
    /* One read transaction: a consistent snapshot while writers continue (WAL). */
    wk_err e = wk_store_exec(st, "BEGIN", d);
    if (e)
        return e;
    if ((e = ledger__verify_accounts(st, rep, d)))
        goto done;
    if ((e = ledger__load_checkpoints(st, &cps, &ncp, d)))
        goto done;
    for (size_t i = 0; i < ncp; i++)
        if ((e = ledger__verify_note(&cps[i], key, d)))
            goto done;
    if ((e = ledger__verify_leaves(st, cps, ncp, &size, d)))
        goto done;
    rep->transfers = size;
    if ((e = ledger__verify_nodes(st, size, &rep->nodes, d)))
        goto done;
    for (size_t i = 0; i + 1 < ncp; i++) {
        const verify_cp *a = &cps[i], *b = &cps[i + 1];
        if (a->tree_size == 0)
            continue; /* nothing to be consistent with */
        e = wk_merkle_consistency_proof(ledger__node_fn, st, (uint64_t)a->tree_size,
                                        (uint64_t)b->tree_size, proof, &np, d);
        if (!e)
            e = wk_merkle_verify_consistency((uint64_t)a->tree_size, (uint64_t)b->tree_size,
                                             a->root, b->root, proof, np, d);
        if (e) {
            wk_diag_prefix(d, "checkpoint %lld -> %lld", (long long)a->tree_size,
                           (long long)b->tree_size);
            e = WK_ECRYPTO;
            goto done;
        }
    }
    rep->checkpoints = (int64_t)ncp;
done:
    {
        wk_err ignored = wk_store_exec(st, "COMMIT", NULL); /* read-only: cannot lose data */
        (void)ignored;
    }
    wk_free(cps);
    return e;
}

/* ---- key file ---- */

wk_err wk_ledger_key_load_or_create(const char *path, const char *name, wk_note_signer *out,
                                    bool *created, wk_diag *d)
{
    char buf[WK_NOTE_KEY_TEXT_MAX + 2];
    struct stat sb;
    wk_err e = WK_OK;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (created)
        *created = false;
    if (fd >= 0) {
        if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
            e = wk_diag_set(d, WK_EIO, "log key %s: not a regular file", path);
            goto fail;
        }
        if (sb.st_mode & 077) {
            e = wk_diag_set(d, WK_ECONFLICT,
                            "log key %s: readable by others (mode %03o); chmod 600 it", path,
                            (unsigned)(sb.st_mode & 0777));
            goto fail;
        }
        ssize_t n = read(fd, buf, sizeof buf - 1);
        if (n < 0 || n >= (ssize_t)sizeof buf - 1) {
            e = wk_diag_set(d, WK_EIO, "log key %s: unreadable or too long", path);
            goto fail;
        }
        buf[n] = '\0';
        e = wk_note_signer_parse(buf, (size_t)n, out, d);
        if (e)
            wk_diag_prefix(d, "log key %s", path);
        goto fail;
    }
    if (errno != ENOENT)
        return wk_diag_set(d, WK_EIO, "log key %s: %s", path, strerror(errno));
    e = wk_note_signer_generate(name, out, d);
    if (e)
        return e;
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return wk_diag_set(d, WK_EIO, "log key %s: cannot create: %s", path, strerror(errno));
    wk_note_signer_format(out, buf, sizeof buf);
    size_t len = strlen(buf);
    buf[len++] = '\n';
    if (write(fd, buf, len) != (ssize_t)len || fsync(fd) != 0) {
        e = wk_diag_set(d, WK_EIO, "log key %s: cannot write: %s", path, strerror(errno));
        unlink(path);
        goto fail;
    }
    if (created)
        *created = true;
fail:
    memset(buf, 0, sizeof buf);
    if (fd >= 0)
        close(fd);
    return e;
}
