/*
 * ledger_test.c - src/ledger/ledger.c on a real SQLite file: account and transfer rules
 * (idempotency, conflicts, overdraft floors, linked all-or-nothing, unknown accounts, bad
 * amounts), work inside a caller's transaction, the log kept in the database against an
 * in-memory recomputation, checkpoint policy, receipts (and their tampering), and
 * wk_ledger_verify catching edits made behind the ledger's back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/mem.h"
#include "ledger/ledger.h"
#include "ledger/receipt.h"
#include "proto/encoding.h"

typedef struct fx {
    char dir[64];
    char url[128];
    wk_store *st;
    wk_ledger *lg;
    wk_note_signer key;
    int64_t now;
    int64_t wallet, clearing, revenue;
} fx;

static int64_t fx_clock(void *ctx)
{
    return ((fx *)ctx)->now;
}

static void fx_open(fx *f, const wk_ledger_opts *o)
{
    const wk_schema *schemas[] = {&wk_ledger_schema};
    wk_diag d = {{0}};
    wk_ledger_opts lo = o ? *o : (wk_ledger_opts){0};
    lo.clock_s = fx_clock;
    lo.clock_ctx = f;
    assert_int_equal(wk_store_open(f->url, NULL, schemas, 1, &f->st, &d), WK_OK);
    assert_int_equal(wk_ledger_open(f->st, &lo, &f->key, &f->lg, &d), WK_OK);
}

static void fx_close(fx *f)
{
    wk_ledger_close(f->lg);
    wk_store_close(f->st);
    f->lg = NULL;
    f->st = NULL;
}

static int setup(void **state)
{
    fx *f = wk_calloc(1, sizeof *f);
    wk_diag d = {{0}};
    snprintf(f->dir, sizeof f->dir, "/tmp/wk_ledger_test.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->url, sizeof f->url, "sqlite:%s/l.db", f->dir);
    assert_int_equal(wk_note_signer_generate("test.example/log", &f->key, &d), WK_OK);
    f->now = 1790000000;
    fx_open(f, NULL);
    assert_int_equal(wk_ledger_account_add(f->lg, "wallet:301", WK_ACCOUNT_WALLET, NULL, &f->wallet, &d), WK_OK);
    assert_int_equal(wk_ledger_account_add(f->lg, "clearing:wechat", WK_ACCOUNT_CLEARING, NULL, &f->clearing, &d), WK_OK);
    assert_int_equal(wk_ledger_account_add(f->lg, "revenue", WK_ACCOUNT_REVENUE, NULL, &f->revenue, &d), WK_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    char cmd[256];
    fx_close(f);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    wk_free(f);
    return 0;
}

static wk_transfer tr(uint8_t idbyte, int64_t from, int64_t to, int64_t amount, const char *reason)
{
    wk_transfer t;
    memset(&t, 0, sizeof t);
    t.id[15] = idbyte;
    t.id[0] = 0xee;
    t.debit_account_id = from;
    t.credit_account_id = to;
    t.amount_fen = amount;
    t.reason = reason;
    return t;
}

static int64_t balance(fx *f, int64_t id)
{
    wk_account a;
    wk_diag d;
    assert_int_equal(wk_ledger_account_get(f->lg, id, &a, &d), WK_OK);
    return a.balance_fen;
}

static int64_t size_of(fx *f)
{
    int64_t n = -1;
    assert_int_equal(wk_ledger_tree_size(f->lg, &n, NULL), WK_OK);
    return n;
}

static void verify_ok(fx *f)
{
    wk_diag d = {{0}};
    wk_ledger_verify_report rep;
    wk_err e = wk_ledger_verify(f->st, &f->key.v, &rep, &d);
    if (e)
        print_error("verify: %s\n", d.msg);
    assert_int_equal(e, WK_OK);
}

static void test_accounts(void **state)
{
    fx *f = *state;
    wk_diag d = {{0}};
    int64_t id = 0, od = 500;
    wk_account a;
    assert_int_equal(wk_ledger_account_add(f->lg, "wallet:301", WK_ACCOUNT_WALLET, NULL, &id, &d), WK_EEXIST);
    assert_non_null(strstr(d.msg, "name"));
    assert_int_equal(wk_ledger_account_add(f->lg, "", WK_ACCOUNT_WALLET, NULL, &id, &d), WK_EINVAL);
    od = -1;
    assert_int_equal(wk_ledger_account_add(f->lg, "x", WK_ACCOUNT_WALLET, &od, &id, &d), WK_EINVAL);
    assert_non_null(strstr(d.msg, "--overdraft"));
    wk_account_kind k;
    assert_int_equal(wk_account_kind_parse("bank", &k, &d), WK_EINVAL);
    assert_non_null(strstr(d.msg, "--kind"));
    assert_int_equal(wk_ledger_account_find(f->lg, "wallet:301", &a, &d), WK_OK);
    assert_int_equal(a.id, f->wallet);
    assert_true(a.has_floor);
    assert_int_equal(a.floor_fen, 0);
    assert_int_equal(wk_ledger_account_get(f->lg, f->revenue, &a, &d), WK_OK);
    assert_false(a.has_floor);
    assert_int_equal(wk_ledger_account_get(f->lg, 999, &a, &d), WK_ENOTFOUND);
}

static void test_transfer_and_idempotency(void **state)
{
    fx *f = *state;
    wk_diag d = {{0}};
    wk_transfer_result r;
    wk_transfer t = tr(1, f->clearing, f->wallet, 5000, "wechat top-up");
    assert_int_equal(wk_ledger_transfer(f->lg, &t, &r, &d), WK_OK);
    assert_false(r.existed);
    assert_int_equal(r.leaf_index, 0);
    assert_int_equal(balance(f, f->wallet), 5000);
    assert_int_equal(balance(f, f->clearing), -5000);
    /* retry: same result, nothing new */
    f->now += 100;
    assert_int_equal(wk_ledger_transfer(f->lg, &t, &r, &d), WK_OK);
    assert_true(r.existed);
    assert_int_equal(r.leaf_index, 0);
    assert_int_equal(r.time_s, 1790000000);
    assert_int_equal(balance(f, f->wallet), 5000);
    assert_int_equal(size_of(f), 1);
    /* same id, other content: each field */
    wk_transfer bad = t;
    bad.amount_fen = 5001;
    assert_int_equal(wk_ledger_transfer(f->lg, &bad, &r, &d), WK_EEXIST);
    assert_non_null(strstr(d.msg, "amount"));
    bad = t;
    bad.reason = "other";
    assert_int_equal(wk_ledger_transfer(f->lg, &bad, &r, &d), WK_EEXIST);
    assert_non_null(strstr(d.msg, "reason"));
    bad = t;
    bad.credit_account_id = f->revenue;
    assert_int_equal(wk_ledger_transfer(f->lg, &bad, &r, &d), WK_EEXIST);
    bad = t;
    bad.flags = WK_TRANSFER_ALLOW_OVERDRAFT;
    assert_int_equal(wk_ledger_transfer(f->lg, &bad, &r, &d), WK_EEXIST);
    assert_int_equal(balance(f, f->wallet), 5000);
    assert_int_equal(size_of(f), 1);
    verify_ok(f);
}

static void test_rejections_change_nothing(void **state)
{
    fx *f = *state;
    wk_diag d = {{0}};
    wk_transfer_result r;
    wk_transfer t = tr(1, f->clearing, f->wallet, 1000, "top-up");
    assert_int_equal(wk_ledger_transfer(f->lg, &t, &r, &d), WK_OK);
    struct {
        wk_transfer t;
        wk_err want;
        const char *field;
    } cases[] = {
        {tr(2, f->clearing, f->wallet, 0, "zero"), WK_EINVAL, "--amount"},
        {tr(3, f->clearing, f->wallet, -5, "negative"), WK_EINVAL, "--amount"},
        {tr(4, f->clearing, f->wallet, WK_LEDGER_AMOUNT_MAX_FEN + 1, "huge"), WK_EINVAL, "--amount"},
        {tr(5, 77, f->wallet, 10, "unknown debit"), WK_ENOTFOUND, "--from"},
        {tr(6, f->clearing, 78, 10, "unknown credit"), WK_ENOTFOUND, "--to"},
        {tr(7, f->wallet, f->wallet, 10, "self"), WK_EINVAL, "--to"},
        {tr(8, f->wallet, f->revenue, 1001, "over the floor"), WK_ECONFLICT, "floor"},
        {tr(9, f->clearing, f->wallet, 10, "bad\x01text"), WK_EINVAL, "--reason"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        d.msg[0] = '\0';
        assert_int_equal(wk_ledger_transfer(f->lg, &cases[i].t, &r, &d), cases[i].want);
        if (!strstr(d.msg, cases[i].field))
            print_error("case %zu: '%s' lacks '%s'\n", i, d.msg, cases[i].field);
        assert_non_null(strstr(d.msg, cases[i].field));
        assert_int_equal(size_of(f), 1);
        assert_int_equal(balance(f, f->wallet), 1000);
        assert_int_equal(balance(f, f->clearing), -1000);
        assert_int_equal(balance(f, f->revenue), 0);
        /* a rejected id stays free */
        wk_leaf_record rec;
        assert_int_equal(wk_ledger_transfer_get(f->lg, cases[i].t.id, &rec, &d), WK_ENOTFOUND);
    }
    wk_transfer flags = tr(10, f->clearing, f->wallet, 10, "flags");
    flags.flags = 0x80;
    assert_int_equal(wk_ledger_transfer(f->lg, &flags, &r, &d), WK_EINVAL);
    char long_reason[WK_TRANSFER_REASON_MAX + 2];
    memset(long_reason, 'a', sizeof long_reason - 1);
    long_reason[sizeof long_reason - 1] = '\0';
    wk_transfer lr = tr(11, f->clearing, f->wallet, 10, long_reason);
    assert_int_equal(wk_ledger_transfer(f->lg, &lr, &r, &d), WK_EINVAL);
    assert_int_equal(size_of(f), 1);
    verify_ok(f);
}

static void test_overdraft(void **state)
{
    fx *f = *state;
    wk_diag d = {{0}};
    wk_transfer_result r;
    int64_t od = 500, shop = 0;
    assert_int_equal(wk_ledger_account_add(f->lg, "wallet:shop-7", WK_ACCOUNT_WALLET, &od, &shop, &d), WK_OK);
    wk_transfer t = tr(1, shop, f->revenue, 500, "deduction");
    assert_int_equal(wk_ledger_transfer(f->lg, &t, &r, &d), WK_OK); /* exactly to the floor */
    assert_int_equal(balance(f, shop), -500);
    t = tr(2, shop, f->revenue, 1, "one fen more");
    assert_int_equal(wk_ledger_transfer(f->lg, &t, &r, &d), WK_ECONFLICT);
    assert_int_equal(balance(f, shop), -500);
    /* a meter deduction is booked anyway when flagged */
    t.flags = WK_TRANSFER_ALLOW_OVERDRAFT;
    assert_int_equal(wk_ledger_transfer(f->lg, &t, &r, &d), WK_OK);
    assert_int_equal(balance(f, shop), -501);
    assert_int_equal(balance(f, f->revenue), 501);
    /* a retry of a deduction that emptied the wallet is still "existed", not a floor error */
    wk_transfer top = tr(20, f->clearing, f->wallet, 100, "top-up");
    assert_int_equal(wk_ledger_transfer(f->lg, &top, &r, &d), WK_OK);
    wk_transfer ded = tr(21, f->wallet, f->revenue, 100, "deduction to zero");
    assert_int_equal(wk_ledger_transfer(f->lg, &ded, &r, &d), WK_OK);
    assert_false(r.existed);
    assert_int_equal(wk_ledger_transfer(f->lg, &ded, &r, &d), WK_OK);
    assert_true(r.existed);
    ded.amount_fen = 99; /* same id, other content, while the floor check fails too */
    assert_int_equal(wk_ledger_transfer(f->lg, &ded, &r, &d), WK_EEXIST);
    assert_int_equal(balance(f, f->wallet), 0);
    /* a wallet without --overdraft never goes negative */
    t = tr(3, f->wallet, f->revenue, 1, "from empty wallet");
    assert_int_equal(wk_ledger_transfer(f->lg, &t, &r, &d), WK_ECONFLICT);
    /* accounts without a floor (clearing) may go negative */
    t = tr(4, f->clearing, f->wallet, 100, "top-up");
    assert_int_equal(wk_ledger_transfer(f->lg, &t, &r, &d), WK_OK);
    verify_ok(f);
}

static void test_linked(void **state)
{
    fx *f = *state;
    wk_diag d = {{0}};
    wk_transfer_result res[3];
    size_t failed = 99;
    wk_transfer batch[3] = {
        tr(1, f->clearing, f->wallet, 1000, "top-up"),
        tr(2, f->wallet, f->revenue, 300, "fee"),
        tr(3, f->wallet, f->revenue, 800, "too much"), /* 1000 - 300 - 800 < 0 */
    };
    assert_int_equal(wk_ledger_transfer_linked(f->lg, batch, 3, res, &failed, &d), WK_ECONFLICT);
    assert_int_equal(failed, 2);
    assert_non_null(strstr(d.msg, "linked transfer 3 of 3"));
    assert_int_equal(size_of(f), 0);
    assert_int_equal(balance(f, f->wallet), 0);
    assert_int_equal(balance(f, f->clearing), 0);
    batch[2].amount_fen = 700;
    assert_int_equal(wk_ledger_transfer_linked(f->lg, batch, 3, res, &failed, &d), WK_OK);
    assert_int_equal(size_of(f), 3);
    assert_int_equal(balance(f, f->wallet), 0);
    assert_int_equal(balance(f, f->revenue), 1000);
    assert_int_equal(res[2].leaf_index, 2);
    /* the whole batch again: every transfer reports existed */
    assert_int_equal(wk_ledger_transfer_linked(f->lg, batch, 3, res, &failed, &d), WK_OK);
    assert_true(res[0].existed && res[1].existed && res[2].existed);
    assert_int_equal(size_of(f), 3);
    /* a batch whose first member conflicts with a booked id changes nothing */
    wk_transfer b2[2] = {tr(4, f->clearing, f->wallet, 10, "new"), batch[0]};
    b2[1].amount_fen = 1;
    assert_int_equal(wk_ledger_transfer_linked(f->lg, b2, 2, NULL, &failed, &d), WK_EEXIST);
    assert_int_equal(failed, 1);
    assert_int_equal(size_of(f), 3);
    verify_ok(f);
}

static void test_in_caller_transaction(void **state)
{
    fx *f = *state;
    wk_diag d = {{0}};
    wk_transfer_result r;
    bool row;
    wk_stmt *s;
    assert_int_equal(wk_store_exec(f->st, "CREATE TABLE side(v INTEGER) STRICT", &d), WK_OK);
    /* caller rolls back: neither its row nor the transfer remain */
    assert_int_equal(wk_store_begin(f->st, &d), WK_OK);
    assert_int_equal(wk_store_exec(f->st, "INSERT INTO side VALUES(1)", &d), WK_OK);
    wk_transfer t = tr(1, f->clearing, f->wallet, 100, "in txn");
    assert_int_equal(wk_ledger_transfer(f->lg, &t, &r, &d), WK_OK);
    wk_store_rollback(f->st);
    assert_int_equal(size_of(f), 0);
    assert_int_equal(balance(f, f->wallet), 0);
    /* a rejected transfer inside the caller's transaction leaves the caller's work intact */
    assert_int_equal(wk_store_begin(f->st, &d), WK_OK);
    assert_int_equal(wk_store_exec(f->st, "INSERT INTO side VALUES(2)", &d), WK_OK);
    assert_int_equal(wk_ledger_transfer(f->lg, &t, &r, &d), WK_OK);
    wk_transfer bad = tr(2, f->wallet, f->revenue, 101, "over");
    assert_int_equal(wk_ledger_transfer(f->lg, &bad, &r, &d), WK_ECONFLICT);
    assert_int_equal(wk_store_commit(f->st, &d), WK_OK);
    assert_int_equal(size_of(f), 1);
    assert_int_equal(balance(f, f->wallet), 100);
    assert_int_equal(wk_store_prepare(f->st, "SELECT group_concat(v) FROM side", &s, &d), WK_OK);
    assert_int_equal(wk_stmt_step(s, &row, &d), WK_OK);
    assert_string_equal(wk_stmt_text(s, 0, NULL), "2");
    wk_stmt_reset(s);
    verify_ok(f);
}

/* The log in the database against a recomputation from the transfers. */
static void test_log_and_checkpoints(void **state)
{
    fx *f = *state;
    wk_diag d = {{0}};
    wk_transfer_result r;
    wk_merkle_range range;
    static uint8_t roots[101][WK_HASH_LEN];
    wk_merkle_range_init(&range);
    wk_merkle_range_root(&range, roots[0]);
    fx_close(f);
    wk_ledger_opts o = {.checkpoint_every_leaves = 10, .checkpoint_interval_s = 3600};
    fx_open(f, &o);
    for (int i = 0; i < 100; i++) {
        wk_transfer t = tr((uint8_t)i, f->clearing, f->wallet, 100 + i, "top-up");
        t.id[1] = 1;
        f->now++;
        assert_int_equal(wk_ledger_transfer(f->lg, &t, &r, &d), WK_OK);
        wk_leaf_record rec;
        uint8_t leaf[WK_LEAF_MAX], lh[WK_HASH_LEN];
        size_t n;
        assert_int_equal(wk_ledger_transfer_get(f->lg, t.id, &rec, &d), WK_OK);
        assert_int_equal(wk_leaf_encode(&rec, leaf, sizeof leaf, &n, &d), WK_OK);
        wk_merkle_leaf_hash(leaf, n, lh);
        wk_merkle_range_push(&range, lh);
        wk_merkle_range_root(&range, roots[i + 1]);
        bool issued = false;
        assert_int_equal(wk_ledger_checkpoint_maybe(f->lg, &issued, &d), WK_OK);
        /* the first leaf (no checkpoint yet, interval policy), then every 10 leaves */
        assert_int_equal(issued, i % 10 == 0);
    }
    /* the interval policy: 9 leaves since the last checkpoint, an hour later */
    bool issued = true;
    assert_int_equal(wk_ledger_checkpoint_maybe(f->lg, &issued, &d), WK_OK);
    assert_false(issued);
    f->now += 3600;
    assert_int_equal(wk_ledger_checkpoint_maybe(f->lg, &issued, &d), WK_OK);
    assert_true(issued);
    assert_int_equal(wk_ledger_checkpoint_maybe(f->lg, &issued, &d), WK_OK);
    assert_false(issued);
    for (int64_t size = 1; size <= 100; size++) {
        uint8_t root[WK_HASH_LEN], p[WK_MERKLE_PROOF_MAX][WK_HASH_LEN];
        size_t n = 0;
        assert_int_equal(wk_ledger_root(f->lg, size, root, &d), WK_OK);
        assert_memory_equal(root, roots[size], WK_HASH_LEN);
        int64_t idx = (size * 37) % size;
        assert_int_equal(wk_ledger_inclusion_proof(f->lg, idx, size, p, &n, &d), WK_OK);
        wk_leaf_record rec;
        uint8_t id[16] = {0xee, 1};
        id[15] = (uint8_t)idx;
        uint8_t leaf[WK_LEAF_MAX], lh[WK_HASH_LEN];
        size_t ll;
        assert_int_equal(wk_ledger_transfer_get(f->lg, id, &rec, &d), WK_OK);
        assert_int_equal(wk_leaf_encode(&rec, leaf, sizeof leaf, &ll, &d), WK_OK);
        wk_merkle_leaf_hash(leaf, ll, lh);
        assert_int_equal(wk_merkle_verify_inclusion((uint64_t)idx, (uint64_t)size, lh, p, n, root, &d), WK_OK);
        assert_int_equal(wk_ledger_consistency_proof(f->lg, (size + 1) / 2, size, p, &n, &d), WK_OK);
        assert_int_equal(wk_merkle_verify_consistency((uint64_t)(size + 1) / 2, (uint64_t)size,
                                                      roots[(size + 1) / 2], root, p, n, &d), WK_OK);
    }
    wk_ledger_verify_report rep;
    assert_int_equal(wk_ledger_verify(f->st, &f->key.v, &rep, &d), WK_OK);
    assert_int_equal(rep.transfers, 100);
    assert_int_equal(rep.checkpoints, 11);
    /* another key cannot vouch for these checkpoints */
    wk_note_signer other;
    assert_int_equal(wk_note_signer_generate("test.example/log", &other, &d), WK_OK);
    assert_int_equal(wk_ledger_verify(f->st, &other.v, &rep, &d), WK_ECRYPTO);
    assert_non_null(strstr(d.msg, "checkpoint 1:"));
}

static void test_receipt(void **state)
{
    fx *f = *state;
    wk_diag d = {{0}};
    wk_transfer_result r;
    char *json = NULL;
    wk_receipt *rc = wk_malloc(sizeof *rc);
    for (int i = 0; i < 13; i++) {
        wk_transfer t = tr((uint8_t)i, f->clearing, f->wallet, 100 + i, "充值 via WeChat");
        assert_int_equal(wk_ledger_transfer(f->lg, &t, &r, &d), WK_OK);
    }
    wk_transfer t = tr(5, 0, 0, 0, NULL);
    assert_int_equal(wk_ledger_receipt(f->lg, t.id, &json, &d), WK_OK); /* issues a checkpoint */
    assert_int_equal(wk_receipt_parse(json, strlen(json), rc, &d), WK_OK);
    assert_int_equal(rc->tree_size, 13);
    assert_int_equal(rc->leaf_index, 5);
    assert_int_equal(wk_receipt_verify(rc, &f->key.v, &d), WK_OK);
    wk_checkpoint cp;
    bool have;
    assert_int_equal(wk_ledger_checkpoint_latest(f->lg, &cp, &have, &d), WK_OK);
    assert_true(have);
    assert_int_equal(cp.tree_size, 13);
    /* tampering with each part fails */
    wk_receipt m = *rc;
    m.record.amount_fen += 1;
    assert_int_not_equal(wk_receipt_verify(&m, &f->key.v, &d), WK_OK);
    assert_non_null(strstr(d.msg, "record"));
    m = *rc;
    m.leaf[40] ^= 1;
    m.record.debit_account_id = 0; /* keep record == leaf impossible */
    assert_int_not_equal(wk_receipt_verify(&m, &f->key.v, &d), WK_OK);
    m = *rc;
    m.inclusion[1][3] ^= 4;
    assert_int_not_equal(wk_receipt_verify(&m, &f->key.v, &d), WK_OK);
    m = *rc;
    m.tree_size = 14;
    assert_int_not_equal(wk_receipt_verify(&m, &f->key.v, &d), WK_OK);
    m = *rc;
    m.root[0] ^= 1;
    assert_int_not_equal(wk_receipt_verify(&m, &f->key.v, &d), WK_OK);
    m = *rc;
    char *p = strstr(m.checkpoint, "\n13\n");
    p[2] = '4';
    assert_int_not_equal(wk_receipt_verify(&m, &f->key.v, &d), WK_OK);
    wk_note_signer other;
    assert_int_equal(wk_note_signer_generate("test.example/log", &other, &d), WK_OK);
    assert_int_equal(wk_receipt_verify(rc, &other.v, &d), WK_ECRYPTO);
    /* a receipt for a later leaf uses a newer checkpoint */
    wk_free(json);
    json = NULL;
    wk_transfer t2 = tr(50, f->clearing, f->wallet, 1, "later");
    assert_int_equal(wk_ledger_transfer(f->lg, &t2, &r, &d), WK_OK);
    assert_int_equal(wk_ledger_receipt(f->lg, t2.id, &json, &d), WK_OK);
    assert_int_equal(wk_receipt_parse(json, strlen(json), rc, &d), WK_OK);
    assert_int_equal(rc->tree_size, 14);
    assert_int_equal(wk_receipt_verify(rc, &f->key.v, &d), WK_OK);
    /* parse errors name the field */
    static const char bad[] = "{\"record\": 1}";
    assert_int_equal(wk_receipt_parse(bad, strlen(bad), rc, &d), WK_EINVAL);
    wk_free(json);
    wk_free(rc);
    verify_ok(f);
}

/* Edits behind the ledger's back (the CLI test does the same with sqlite3). */
static void test_verify_catches(void **state)
{
    fx *f = *state;
    wk_diag d = {{0}};
    wk_transfer_result r;
    for (int i = 0; i < 9; i++) {
        wk_transfer t = tr((uint8_t)i, f->clearing, f->wallet, 100, "top-up");
        assert_int_equal(wk_ledger_transfer(f->lg, &t, &r, &d), WK_OK);
    }
    assert_int_equal(wk_ledger_checkpoint(f->lg, NULL, NULL, &d), WK_OK);
    verify_ok(f);
    assert_int_equal(wk_store_exec(f->st, "DROP TRIGGER ledger_transfer_no_update", &d), WK_OK);
    /* the reason of leaf 4: balances still match, the log does not */
    assert_int_equal(wk_store_exec(f->st, "UPDATE ledger_transfer SET reason = 'x' WHERE leaf_index = 4", &d), WK_OK);
    assert_int_equal(wk_ledger_verify(f->st, &f->key.v, NULL, &d), WK_ECRYPTO);
    assert_non_null(strstr(d.msg, "leaf 4"));
    /* the amount and the balances together: the log still knows */
    assert_int_equal(wk_store_exec(f->st, "UPDATE ledger_transfer SET reason = 'top-up' WHERE leaf_index = 4", &d), WK_OK);
    verify_ok(f);
    assert_int_equal(wk_store_exec(f->st, "UPDATE ledger_transfer SET amount_fen = 1 WHERE leaf_index = 2;"
                                          "UPDATE ledger_account SET debits_fen = debits_fen - 99 WHERE id = 2;"
                                          "UPDATE ledger_account SET credits_fen = credits_fen - 99 WHERE id = 1", &d), WK_OK);
    assert_int_equal(wk_ledger_verify(f->st, &f->key.v, NULL, &d), WK_ECRYPTO);
    assert_non_null(strstr(d.msg, "leaf 2"));
    /* only a balance */
    assert_int_equal(wk_store_exec(f->st, "UPDATE ledger_account SET credits_fen = credits_fen + 1 WHERE id = 1", &d), WK_OK);
    assert_int_equal(wk_ledger_verify(f->st, &f->key.v, NULL, &d), WK_ECRYPTO);
    assert_non_null(strstr(d.msg, "account 1"));
}

static void test_migrations(void **state)
{
    fx *f = *state;
    wk_diag d = {{0}};
    int32_t n = -1;
    const wk_schema *schemas[] = {&wk_ledger_schema};
    assert_int_equal(wk_store_migrate(f->st, schemas, 1, &n, &d), WK_OK);
    assert_int_equal(n, 0); /* nothing pending */
    /* a database from a newer build is refused */
    assert_int_equal(wk_store_exec(f->st, "INSERT INTO wk_schema_migrations VALUES('ledger', 99, 'future', 0)", &d), WK_OK);
    assert_int_equal(wk_store_migrate(f->st, schemas, 1, &n, &d), WK_ECONFLICT);
    assert_non_null(strstr(d.msg, "downgrade"));
    /* a failing migration leaves nothing behind */
    static const wk_migration bad_m[] = {{1, "ok", "CREATE TABLE t1(a INTEGER) STRICT", NULL},
                                         {2, "broken", "CREATE TABLE t2(a INTEGER) STRICT; SELECT nope()", NULL}};
    static const wk_schema bad = {"demo", bad_m, 2};
    const wk_schema *bs[] = {&bad};
    assert_int_not_equal(wk_store_migrate(f->st, bs, 1, &n, &d), WK_OK);
    assert_non_null(strstr(d.msg, "demo/2"));
    assert_int_equal(n, 1);
    assert_int_equal(wk_store_exec(f->st, "SELECT * FROM t1", &d), WK_OK);
    assert_int_not_equal(wk_store_exec(f->st, "SELECT * FROM t2", &d), WK_OK);
    wk_store *st = NULL;
    assert_int_equal(wk_store_open("postgres://x", NULL, NULL, 0, &st, &d), WK_EINVAL);
    assert_int_equal(wk_store_open("ftp://x", NULL, NULL, 0, &st, &d), WK_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_accounts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transfer_and_idempotency, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rejections_change_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overdraft, setup, teardown),
        cmocka_unit_test_setup_teardown(test_linked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_in_caller_transaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_and_checkpoints, setup, teardown),
        cmocka_unit_test_setup_teardown(test_receipt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_catches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrations, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
