/*
 * tariffs_test.c - src/headend/tariffs.c: the tariff documents in the database.
 *
 * Seeding copies every example file once and never overwrites a row (a restart must not
 * undo versions staff added); the head-end rates with the database copy, not the file;
 * wk_headend_tariffs_reload makes a changed row visible at once; a store without the table
 * falls back to the files; bad names are refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "headend/headend.h"
#include "store/store.h"

typedef struct fx {
    wk_store *st;
    wk_ledger *lg;
    wk_headend *hd;
} fx;

static void fx_open(fx *f, bool with_table)
{
    wk_diag d = {{0}};
    const wk_schema *schemas[] = {&wk_ledger_schema, &wk_headend_schema,
                                  &wk_headend_tariff_schema};
    assert_int_equal(wk_store_open(":memory:", NULL, schemas, with_table ? 3 : 2, &f->st, &d),
                     WK_OK);
    wk_ledger_opts lo = {0};
    assert_int_equal(wk_ledger_open(f->st, &lo, NULL, &f->lg, &d), WK_OK);
    static char tdir[1024];
    snprintf(tdir, sizeof tdir, "%s/examples/tariffs", getenv("WK_SOURCE_DIR"));
    wk_headend_opts o = {.tariff_dir = tdir, .report_interval_s = 60, .gap_intervals = 3,
                         .offline_after_s = 600, .command_deadline_s = 30, .command_retries = 3,
                         .command_retry_base_ms = 2000, .batch_max = 64,
                         .policy = {.warn_fen = {2000, 500}, .hysteresis_fen = 300,
                                    .emergency_fen = 1000, .utc_offset_s = 8 * 3600}};
    if (wk_headend_open(f->st, f->lg, &o, NULL, NULL, &f->hd, &d))
        fail_msg("open: %s", d.msg);
}

static void fx_close(fx *f)
{
    wk_headend_close(f->hd);
    wk_ledger_close(f->lg);
    wk_store_close(f->st);
}

static int64_t count(fx *f, const char *sql)
{
    wk_stmt *s;
    bool row = false;
    assert_int_equal(wk_store_prepare(f->st, sql, &s, NULL), WK_OK);
    assert_int_equal(wk_stmt_step(s, &row, NULL), WK_OK);
    assert_true(row);
    int64_t n = wk_stmt_i64(s, 0);
    wk_stmt_reset(s);
    return n;
}

/* Replaces the stored document of beijing-residential by one whose tier-1 price is 0.9. */
static void tamper(fx *f)
{
    static const char doc[] =
        "{\"name\": \"beijing-residential\", \"source\": \"test\", \"versions\": [{"
        "\"effective_from\": \"2012-07-01T00:00:00+08:00\","
        "\"tiers\": {\"cycle\": \"annual\", \"thresholds_kwh\": [\"2880\", \"4800\"]},"
        "\"prices\": {\"matrix\": {\"flat\": [\"0.9\", \"0.95\", \"1.2\"]}}}]}";
    wk_stmt *s;
    bool row;
    assert_int_equal(wk_store_prepare(f->st,
                                      "UPDATE tariff SET doc = ?, origin = 'web', rev = rev + 1"
                                      " WHERE name = 'beijing-residential'",
                                      &s, NULL),
                     WK_OK);
    assert_int_equal(wk_stmt_bind_text(s, 1, doc, strlen(doc)), WK_OK);
    assert_int_equal(wk_stmt_step(s, &row, NULL), WK_OK);
    wk_stmt_reset(s);
}

static void test_seed_once_and_rate_with_the_database_copy(void **state)
{
    (void)state;
    fx f;
    fx_open(&f, true);
    wk_diag d = {{0}};
    int added, skipped;
    assert_int_equal(wk_headend_tariffs_seed(f.hd, 1000, &added, &skipped, &d), WK_OK);
    assert_int_equal(added, 6); /* the six example files */
    assert_int_equal(skipped, 0);
    assert_int_equal(count(&f, "SELECT count(*) FROM tariff WHERE origin = 'file' AND rev = 1"), 6);
    const wk_tariff *t = wk_headend_tariff(f.hd, "beijing-residential", &d);
    assert_non_null(t);
    assert_int_equal(t->versions[0].price_uyuan[0][WK_SLOT_FLAT], 488300);
    /* a changed row is not seen until the cache is dropped, then it is */
    tamper(&f);
    assert_int_equal(wk_headend_tariff(f.hd, "beijing-residential", &d)->versions[0]
                         .price_uyuan[0][WK_SLOT_FLAT],
                     488300);
    wk_headend_tariffs_reload(f.hd);
    t = wk_headend_tariff(f.hd, "beijing-residential", &d);
    assert_non_null(t);
    assert_int_equal(t->versions[0].price_uyuan[0][WK_SLOT_FLAT], 900000);
    /* seeding again adds nothing and keeps the changed row */
    assert_int_equal(wk_headend_tariffs_seed(f.hd, 2000, &added, &skipped, &d), WK_OK);
    assert_int_equal(added, 0);
    assert_int_equal(count(&f, "SELECT rev FROM tariff WHERE name = 'beijing-residential'"), 2);
    t = wk_headend_tariff(f.hd, "beijing-residential", &d);
    assert_int_equal(t->versions[0].price_uyuan[0][WK_SLOT_FLAT], 900000);
    /* unknown and malformed names */
    assert_null(wk_headend_tariff(f.hd, "no-such-tariff", &d));
    assert_null(wk_headend_tariff(f.hd, "../etc/passwd", &d));
    assert_false(wk_headend_tariff_name_ok("Bad Name"));
    assert_false(wk_headend_tariff_name_ok(""));
    assert_true(wk_headend_tariff_name_ok("zhejiang-residential_2"));
    fx_close(&f);
}

static void test_without_the_table_the_files_are_used(void **state)
{
    (void)state;
    fx f;
    fx_open(&f, false);
    wk_diag d = {{0}};
    const wk_tariff *t = wk_headend_tariff(f.hd, "zhejiang-residential", &d);
    assert_non_null(t);
    assert_int_equal(t->versions[0].price_uyuan[1][WK_SLOT_PEAK], 618000);
    int added, skipped;
    assert_int_not_equal(wk_headend_tariffs_seed(f.hd, 1000, &added, &skipped, &d), WK_OK);
    fx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_once_and_rate_with_the_database_copy),
        cmocka_unit_test(test_without_the_table_the_files_are_used),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
