/*
 * crash_test.c - kill -9 during load. A child process books transfers in a loop (plus
 * signed checkpoints) and reports each transfer number on a pipe only after its commit
 * returned; the parent kills it with SIGKILL at a random moment, CRASH_RUNS times, and
 * starts the next child where the reports stopped. The restarted child first re-submits
 * the numbers it may have committed without reporting, which must be idempotent. At the
 * end every reported transfer is present exactly once, balances equal postings, and both
 * wk_ledger_verify and `wattkeeper ledger verify` (the binary, when WK_BIN is set) pass.
 * The random kill times come from a seed printed at the start (WK_SEED to replay).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/mem.h"
#include "ledger/ledger.h"

#define CRASH_RUNS 60
#define CRASH_MAX_REPORTS 200000
#define CRASH_RESUBMIT 3 /* numbers re-submitted after a restart */

static char dir[64], url[128], keypath[160];

static uint64_t rng_state;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static wk_transfer crash_transfer(uint64_t n, uint8_t id[16])
{
    wk_transfer t;
    memset(&t, 0, sizeof t);
    memset(id, 0, 16);
    id[0] = 0xc7;
    for (int i = 0; i < 8; i++)
        id[15 - i] = (uint8_t)(n >> (8 * i));
    memcpy(t.id, id, 16);
    /* accounts 1 (clearing) -> 2 (wallet), every third one 2 -> 3 (revenue) allowed over */
    bool deduct = n % 3 == 2;
    t.debit_account_id = deduct ? 2 : 1;
    t.credit_account_id = deduct ? 3 : 2;
    t.amount_fen = (int64_t)(n % 997) + 1;
    t.flags = deduct ? WK_TRANSFER_ALLOW_OVERDRAFT : 0;
    t.reason = deduct ? "crash test deduction" : "crash test top-up";
    return t;
}

/* The child: never returns. */
static void child(int fd, uint64_t start)
{
    const wk_schema *schemas[] = {&wk_ledger_schema};
    wk_store *st = NULL;
    wk_ledger *lg = NULL;
    wk_note_signer key;
    wk_diag d = {{0}};
    wk_ledger_opts o = {.checkpoint_every_leaves = 7};
    if (wk_ledger_key_load_or_create(keypath, "crash.test/log", &key, NULL, &d) ||
        wk_store_open(url, NULL, schemas, 1, &st, &d) || wk_ledger_open(st, &o, &key, &lg, &d)) {
        fprintf(stderr, "crash child: %s\n", d.msg);
        _exit(3);
    }
    for (uint64_t n = start > CRASH_RESUBMIT ? start - CRASH_RESUBMIT : 0;; n++) {
        uint8_t id[16];
        wk_transfer t = crash_transfer(n, id);
        wk_transfer_result r;
        if (wk_ledger_transfer(lg, &t, &r, &d)) {
            fprintf(stderr, "crash child: transfer %llu: %s\n", (unsigned long long)n, d.msg);
            _exit(4);
        }
        /* committed: now, and only now, report it */
        if (write(fd, &n, sizeof n) != (ssize_t)sizeof n)
            _exit(5);
        if (wk_ledger_checkpoint_maybe(lg, NULL, &d)) {
            fprintf(stderr, "crash child: checkpoint: %s\n", d.msg);
            _exit(6);
        }
    }
}

static void test_crash(void **state)
{
    (void)state;
    const wk_schema *schemas[] = {&wk_ledger_schema};
    wk_store *st = NULL;
    wk_ledger *lg = NULL;
    wk_diag d = {{0}};
    const char *seed_env = getenv("WK_SEED");
    uint64_t seed = seed_env ? strtoull(seed_env, NULL, 10) : (uint64_t)time(NULL);
    rng_state = seed ? seed : 1;
    fprintf(stderr, "crash_test: WK_SEED=%llu\n", (unsigned long long)seed);

    snprintf(dir, sizeof dir, "/tmp/wk_crash_test.XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(url, sizeof url, "sqlite:%s/c.db", dir);
    snprintf(keypath, sizeof keypath, "%s/c.db.logkey", dir);
    /* accounts 1..3 */
    assert_int_equal(wk_store_open(url, NULL, schemas, 1, &st, &d), WK_OK);
    assert_int_equal(wk_ledger_open(st, NULL, NULL, &lg, &d), WK_OK);
    int64_t id;
    assert_int_equal(wk_ledger_account_add(lg, "clearing:test", WK_ACCOUNT_CLEARING, NULL, &id, &d), WK_OK);
    assert_int_equal(wk_ledger_account_add(lg, "wallet:test", WK_ACCOUNT_WALLET, NULL, &id, &d), WK_OK);
    assert_int_equal(wk_ledger_account_add(lg, "revenue", WK_ACCOUNT_REVENUE, NULL, &id, &d), WK_OK);
    wk_ledger_close(lg);
    wk_store_close(st);

    uint64_t *reported = wk_malloc(CRASH_MAX_REPORTS * sizeof *reported);
    size_t n_reported = 0;
    uint64_t next = 0;
    int killed_mid_run = 0;
    assert_non_null(reported);
    for (int run = 0; run < CRASH_RUNS; run++) {
        int p[2];
        assert_int_equal(pipe(p), 0);
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(p[0]);
            child(p[1], next);
        }
        close(p[1]);
        struct timespec ts = {0, (long)(2 + rng() % 60) * 1000000L};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
            killed_mid_run++;
        else
            fail_msg("child exited by itself with status %d", status);
        uint64_t n;
        ssize_t got;
        while ((got = read(p[0], &n, sizeof n)) == (ssize_t)sizeof n) {
            assert_true(n_reported < CRASH_MAX_REPORTS);
            reported[n_reported++] = n;
            if (n + 1 > next)
                next = n + 1;
        }
        assert_true(got == 0); /* no torn reports: writes of 8 bytes to a pipe are atomic */
        close(p[0]);
    }
    fprintf(stderr, "crash_test: %d kills, %zu reported commits, %llu distinct transfers\n",
            killed_mid_run, n_reported, (unsigned long long)next);
    assert_true(killed_mid_run >= 50);
    assert_true(next > 50); /* the children did real work */

    assert_int_equal(wk_store_open(url, NULL, schemas, 1, &st, &d), WK_OK);
    assert_int_equal(wk_ledger_open(st, NULL, NULL, &lg, &d), WK_OK);
    wk_stmt *s;
    for (size_t i = 0; i < n_reported; i++) {
        uint8_t tid[16];
        wk_transfer t = crash_transfer(reported[i], tid);
        bool row = false;
        assert_int_equal(wk_store_prepare(st, "SELECT count(*), min(amount_fen) FROM ledger_transfer WHERE id = ?", &s, &d), WK_OK);
        assert_int_equal(wk_stmt_bind_blob(s, 1, tid, 16), WK_OK);
        assert_int_equal(wk_stmt_step(s, &row, &d), WK_OK);
        assert_int_equal(wk_stmt_i64(s, 0), 1);
        assert_int_equal(wk_stmt_i64(s, 1), t.amount_fen);
        wk_stmt_reset(s);
    }
    /* nothing beyond what children could have committed: numbers 0..next (+1 unreported) */
    int64_t size = 0;
    assert_int_equal(wk_ledger_tree_size(lg, &size, &d), WK_OK);
    assert_true(size >= (int64_t)next && size <= (int64_t)next + 1);
    wk_note_signer key;
    assert_int_equal(wk_ledger_key_load_or_create(keypath, "crash.test/log", &key, NULL, &d), WK_OK);
    wk_ledger_verify_report rep;
    wk_err e = wk_ledger_verify(st, &key.v, &rep, &d);
    if (e)
        fail_msg("verify after crashes: %s", d.msg);
    assert_true(rep.checkpoints > 0);
    wk_ledger_close(lg);
    wk_store_close(st);
    const char *bin = getenv("WK_BIN");
    if (bin) {
        char cmd[512];
        snprintf(cmd, sizeof cmd, "'%s' ledger verify --db '%s' >/dev/null", bin, url);
        assert_int_equal(system(cmd), 0);
    }
    wk_free(reported);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_crash)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
