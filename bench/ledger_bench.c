/*
 * ledger_bench.c - throughput of the ledger on SQLite and inclusion-proof latency.
 *
 *   ledger_bench [--db PATH] [--transfers N] [--batch B] [--proofs P] [--wallets W]
 *
 * Phase 1 books N transfers (clearing -> wallet top-ups and wallet -> revenue deductions
 * over W wallets), B per database transaction; a transfer counts only once the commit of
 * its transaction returned (synchronous=FULL, so it is on disk). Prints transfers+leaves
 * per second. Phase 2 draws P random (leaf, tree size) pairs over the whole log and times
 * wk_ledger_inclusion_proof (all database reads included), verifying each proof. Reusing a
 * --db that already holds transfers grows it (to build a 10-million-leaf log once).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/mem.h"
#include "core/units.h"
#include "ledger/ledger.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int64_t arg_i64(const char *s, const char *name)
{
    int64_t v = 0;
    wk_diag d;
    if (wk_dec_parse_str(s, 0, &v, &d) != WK_OK || v < 0) {
        fprintf(stderr, "ledger_bench: %s: not a count\n", name);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    const char *path = "/tmp/wk_ledger_bench.db";
    int64_t n = 1000000, batch = 1000, proofs = 10000, wallets = 1000;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--db"))
            path = argv[i + 1];
        else if (!strcmp(argv[i], "--transfers"))
            n = arg_i64(argv[i + 1], "--transfers");
        else if (!strcmp(argv[i], "--batch"))
            batch = arg_i64(argv[i + 1], "--batch");
        else if (!strcmp(argv[i], "--proofs"))
            proofs = arg_i64(argv[i + 1], "--proofs");
        else if (!strcmp(argv[i], "--wallets"))
            wallets = arg_i64(argv[i + 1], "--wallets");
        else {
            fprintf(stderr, "ledger_bench: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (batch < 1 || wallets < 1)
        return 2;
    const wk_schema *schemas[] = {&wk_ledger_schema};
    wk_store *st = NULL;
    wk_ledger *lg = NULL;
    wk_diag d = {{0}};
    wk_note_signer key;
    if (wk_store_open(path, NULL, schemas, 1, &st, &d) ||
        wk_note_signer_generate("bench.example/log", &key, &d) ||
        wk_ledger_open(st, NULL, &key, &lg, &d)) {
        fprintf(stderr, "ledger_bench: %s\n", d.msg);
        return 1;
    }
    int64_t size0 = 0;
    wk_account acc;
    if (wk_ledger_tree_size(lg, &size0, &d))
        return 1;
    if (wk_ledger_account_find(lg, "clearing:bench", &acc, &d) == WK_ENOTFOUND) {
        int64_t id;
        if (wk_ledger_account_add(lg, "clearing:bench", WK_ACCOUNT_CLEARING, NULL, &id, &d) ||
            wk_ledger_account_add(lg, "revenue:bench", WK_ACCOUNT_REVENUE, NULL, &id, &d))
            return 1;
        for (int64_t w = 0; w < wallets; w++) {
            char name[64];
            snprintf(name, sizeof name, "wallet:%lld", (long long)w);
            if (wk_ledger_account_add(lg, name, WK_ACCOUNT_WALLET, NULL, &id, &d))
                return 1;
        }
    }
    printf("ledger_bench: db %s, %lld leaves present, booking %lld transfers in batches of "
           "%lld over %lld wallets\n",
           path, (long long)size0, (long long)n, (long long)batch, (long long)wallets);

    /* Phase 1: transfers. Accounts: 1 clearing, 2 revenue, 3.. wallets. */
    double t0 = now_s(), last = t0;
    int64_t committed = 0;
    while (committed < n) {
        int64_t in_batch = n - committed < batch ? n - committed : batch;
        if (wk_store_begin(st, &d))
            goto fail;
        for (int64_t k = 0; k < in_batch; k++) {
            uint64_t seq = (uint64_t)(size0 + committed + k);
            wk_transfer t;
            memset(&t, 0, sizeof t);
            for (int b = 0; b < 8; b++)
                t.id[15 - b] = (uint8_t)(seq >> (8 * b));
            t.id[0] = 0xbe;
            int64_t wallet = 3 + (int64_t)(seq / 2 % (uint64_t)wallets);
            if (seq % 2 == 0) { /* top-up */
                t.debit_account_id = 1;
                t.credit_account_id = wallet;
                t.amount_fen = 10000;
                t.reason = "bench top-up";
            } else { /* deduction, always booked */
                t.debit_account_id = wallet;
                t.credit_account_id = 2;
                t.amount_fen = 123;
                t.flags = WK_TRANSFER_ALLOW_OVERDRAFT;
                t.reason = "bench deduction";
            }
            if (wk_ledger_transfer(lg, &t, NULL, &d)) {
                wk_store_rollback(st);
                goto fail;
            }
        }
        if (wk_store_commit(st, &d))
            goto fail;
        committed += in_batch; /* only now are they committed */
        double t = now_s();
        if (t - last > 10) {
            printf("  %lld committed, %.0f/s\n", (long long)committed, (double)committed / (t - t0));
            fflush(stdout);
            last = t;
        }
    }
    double t1 = now_s();
    if (n > 0)
        printf("transfers: %lld committed in %.2f s = %.0f transfers+leaves/s (batch %lld)\n",
               (long long)n, t1 - t0, (double)n / (t1 - t0), (long long)batch);

    /* Phase 2: inclusion proofs over the whole log. */
    int64_t size = 0;
    if (wk_ledger_tree_size(lg, &size, &d))
        goto fail;
    if (proofs > 0 && size > 0) {
        double *lat = wk_malloc((size_t)proofs * sizeof *lat);
        uint8_t root[WK_HASH_LEN], p[WK_MERKLE_PROOF_MAX][WK_HASH_LEN], lh[WK_HASH_LEN];
        size_t np = 0;
        if (!lat)
            goto fail;
        if (wk_store_exec(st, "BEGIN", &d))
            goto fail;
        for (int64_t i = 0; i < proofs; i++) {
            /* mostly the current size (what receipts use), some older sizes */
            int64_t sz = i % 4 ? size : 1 + (int64_t)(rng() % (uint64_t)size);
            int64_t idx = (int64_t)(rng() % (uint64_t)sz);
            double a = now_s();
            if (wk_ledger_inclusion_proof(lg, idx, sz, p, &np, &d))
                goto fail;
            lat[i] = now_s() - a;
            /* check every 1000th proof (outside the timing) against the leaf re-encoded
             * from its transfer and the root from stored nodes */
            if (i % 1000 == 0) {
                wk_leaf_record rec;
                uint8_t leaf[WK_LEAF_MAX];
                size_t ll;
                uint8_t id[16] = {0xbe};
                for (int b = 0; b < 8; b++)
                    id[15 - b] = (uint8_t)((uint64_t)idx >> (8 * b));
                if (wk_ledger_root(lg, sz, root, &d) || wk_ledger_transfer_get(lg, id, &rec, &d) ||
                    wk_leaf_encode(&rec, leaf, sizeof leaf, &ll, &d))
                    goto fail;
                wk_merkle_leaf_hash(leaf, ll, lh);
                if (wk_merkle_verify_inclusion((uint64_t)idx, (uint64_t)sz, lh, p, np, root, &d)) {
                    fprintf(stderr, "ledger_bench: proof %lld/%lld does not verify\n",
                            (long long)idx, (long long)sz);
                    goto fail;
                }
            }
        }
        if (wk_store_exec(st, "COMMIT", &d))
            goto fail;
        qsort(lat, (size_t)proofs, sizeof *lat, cmp_double);
        printf("inclusion proofs at %lld leaves: %lld proofs, median %.1f us, p99 %.1f us, max "
               "%.1f us\n",
               (long long)size, (long long)proofs, lat[proofs / 2] * 1e6,
               lat[proofs * 99 / 100] * 1e6, lat[proofs - 1] * 1e6);
        wk_free(lat);
    }
    wk_ledger_close(lg);
    wk_store_close(st);
    return 0;
fail:
    fprintf(stderr, "ledger_bench: %s\n", d.msg);
    return 1;
}
