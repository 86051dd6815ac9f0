/*
 * outbox_test.c - the outbox on a real (in-memory) SQLite store: fan-out of head-end events
 * into one row per (event, contact) with the cursor, routing (resident vs community staff),
 * rendering with the contact's language, quiet hours, the rate limit, offline alerts
 * delayed and dropped when the meter is back, delivery with retries, backoff, per-contact
 * order and dead-letter (a webhook on a closed loopback port, an SMS channel without URL).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "headend/headend.h"
#include "ledger/ledger.h"
#include "notify/notify.h"

#define T_1200 INT64_C(1795752000000) /* 2026-11-27 12:00 +08:00 */

typedef struct fx {
    wk_store *st;
    wk_notify_templates *tpl;
    wk_notify_opts o;
} fx;

static void exec(wk_store *st, const char *sql)
{
    wk_diag d = {{0}};
    wk_err e = wk_store_exec(st, sql, &d);
    if (e)
        fprintf(stderr, "%s: %s\n", sql, d.msg);
    assert_int_equal(e, WK_OK);
}

static int64_t q1(wk_store *st, const char *sql)
{
    wk_stmt *s;
    bool row = false;
    assert_int_equal(wk_store_prepare(st, sql, &s, NULL), WK_OK);
    assert_int_equal(wk_stmt_step(s, &row, NULL), WK_OK);
    int64_t v = row ? wk_stmt_i64(s, 0) : -1;
    wk_stmt_reset(s);
    return v;
}

static char *qs(wk_store *st, const char *sql, char *out, size_t cap)
{
    wk_stmt *s;
    bool row = false;
    out[0] = 0;
    assert_int_equal(wk_store_prepare(st, sql, &s, NULL), WK_OK);
    assert_int_equal(wk_stmt_step(s, &row, NULL), WK_OK);
    if (row)
        snprintf(out, cap, "%s", wk_stmt_text(s, 0, NULL));
    wk_stmt_reset(s);
    return out;
}

static int setup(void **state)
{
    fx *f = wk_calloc(1, sizeof *f);
    wk_diag d = {{0}};
    const wk_schema *schemas[] = {&wk_ledger_schema, &wk_headend_schema, &wk_notify_schema};
    if (wk_store_open(":memory:", NULL, schemas, 3, &f->st, &d))
        return -1;
    f->tpl = wk_calloc(1, sizeof *f->tpl);
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/examples/notify/templates", getenv("WK_SOURCE_DIR"));
    if (wk_notify_templates_load(dir, f->tpl, &d))
        return -1;
    f->o = (wk_notify_opts){.poll_interval_ms = 100, .max_attempts = 3, .retry_base_ms = 1000,
                            .retry_max_ms = 60000, .rate_limit_per_hour = 2,
                            .offline_alert_after_ms = 600000, .send_timeout_ms = 2000,
                            .utc_offset_s = 8 * 3600, .webhook_secret = "s",
                            .sms_signature = "none"};
    exec(f->st, "BEGIN;"
                "INSERT INTO community (id, name, tariff, revenue_account_id) VALUES (1, 'Riverside', 't', 900);"
                "INSERT INTO community (id, name, tariff, revenue_account_id) VALUES (2, 'Hillside', 't', 901);"
                "INSERT INTO building (id, community_id, name) VALUES (1, 1, 'B7');"
                "INSERT INTO building (id, community_id, name) VALUES (2, 2, 'H1');"
                "INSERT INTO unit (id, building_id, name, kind) VALUES (1, 1, 'U01', 'home');"
                "INSERT INTO unit (id, building_id, name, kind) VALUES (2, 2, 'U09', 'home');"
                "INSERT INTO meter (id, address, unit_id, close_mode, auth, key) VALUES"
                " (1, '250000000001', 1, 'direct', 'mac', x'00');"
                "INSERT INTO meter (id, address, unit_id, close_mode, auth, key) VALUES"
                " (2, '250000000002', 2, 'direct', 'mac', x'00');"
                "INSERT INTO account (id, unit_id, holder, kind, wallet_account_id, opened_s)"
                " VALUES (1, 1, 'Li Lei', 'resident', 100, 0);"
                "INSERT INTO account (id, unit_id, holder, kind, wallet_account_id, opened_s)"
                " VALUES (2, 2, 'Han Mei', 'resident', 101, 0);"
                "COMMIT;");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    wk_store_close(f->st);
    wk_free(f->tpl);
    wk_free(f);
    return 0;
}

static int64_t contact(fx *f, int64_t account, int64_t community, wk_notify_channel ch,
                       const char *addr, wk_notify_lang lang, int32_t qf, int32_t qt)
{
    wk_notify_contact c = {.account_id = account, .community_id = community, .channel = ch,
                           .address = addr, .lang = lang, .quiet_from_min = qf, .quiet_to_min = qt};
    int64_t id = 0;
    wk_diag d = {{0}};
    assert_int_equal(wk_notify_contact_add(f->st, &c, &id, &d), WK_OK);
    return id;
}

static void event(fx *f, int64_t t, const char *kind, int64_t meter, int64_t account, const char *detail)
{
    char sql[1024];
    snprintf(sql, sizeof sql,
             "INSERT INTO event (time_ms, kind, meter_id, account_id, detail) VALUES"
             " (%lld, '%s', nullif(%lld, 0), nullif(%lld, 0), '%s')",
             (long long)t, kind, (long long)meter, (long long)account, detail);
    exec(f->st, sql);
}

static int32_t fanout(fx *f, int64_t now)
{
    int32_t n = -1;
    wk_diag d = {{0}};
    wk_err e = wk_notify_fanout(f->st, &f->o, f->tpl, now, &n, &d);
    if (e)
        fprintf(stderr, "fanout: %s\n", d.msg);
    assert_int_equal(e, WK_OK);
    return n;
}

static void test_contacts(void **state)
{
    fx *f = *state;
    wk_diag d = {{0}};
    int64_t id;
    wk_notify_contact c = {.account_id = 1, .channel = WK_NC_EMAIL, .address = "a@b.c"};
    assert_int_equal(wk_notify_contact_add(f->st, &c, &id, &d), WK_OK);
    assert_int_equal(wk_notify_contact_add(f->st, &c, &id, &d), WK_EEXIST);
    c.address = "nobody";
    assert_int_equal(wk_notify_contact_add(f->st, &c, &id, &d), WK_EINVAL);
    c = (wk_notify_contact){.account_id = 1, .community_id = 1, .channel = WK_NC_SMS, .address = "1"};
    assert_int_equal(wk_notify_contact_add(f->st, &c, &id, &d), WK_EINVAL);
    c = (wk_notify_contact){.community_id = 1, .channel = WK_NC_SMS, .address = "+86a"};
    assert_int_equal(wk_notify_contact_add(f->st, &c, &id, &d), WK_EINVAL);
    c = (wk_notify_contact){.account_id = 1, .channel = WK_NC_WEBHOOK, .address = "ftp://x"};
    assert_int_equal(wk_notify_contact_add(f->st, &c, &id, &d), WK_EINVAL);
    c = (wk_notify_contact){.account_id = 99, .channel = WK_NC_WECHAT, .address = "o1",
                            .quiet_from_min = 1440};
    assert_int_equal(wk_notify_contact_add(f->st, &c, &id, &d), WK_ERANGE);
}

/* A resident's own contacts (the web page): put inserts or re-enables and updates, disable
 * stops the fan-out to it; both inside the caller's transaction. */
static void test_contact_put_disable(void **state)
{
    fx *f = *state;
    wk_diag d = {{0}};
    int64_t id = 0, id2 = 0;
    bool created = false;
    wk_notify_contact c = {.account_id = 1, .channel = WK_NC_EMAIL, .address = "li@example.com", .lang = WK_NL_ZH};
    assert_int_equal(wk_store_begin(f->st, &d), WK_OK);
    assert_int_equal(wk_notify_contact_put(f->st, &c, &id, &created, &d), WK_OK);
    assert_true(created && id > 0);
    c.lang = WK_NL_EN;
    c.quiet_from_min = 22 * 60;
    c.quiet_to_min = 7 * 60;
    assert_int_equal(wk_notify_contact_put(f->st, &c, &id2, &created, &d), WK_OK);
    assert_true(!created && id2 == id);
    /* checked like wk_notify_contact_add; no community contacts here */
    wk_notify_contact bad = c;
    bad.address = "nobody";
    assert_int_equal(wk_notify_contact_put(f->st, &bad, &id2, &created, &d), WK_EINVAL);
    bad = c;
    bad.community_id = 1;
    assert_int_equal(wk_notify_contact_put(f->st, &bad, &id2, &created, &d), WK_EINVAL);
    /* another account cannot disable it */
    assert_int_equal(wk_notify_contact_disable(f->st, 2, id, &d), WK_ENOTFOUND);
    assert_int_equal(wk_notify_contact_disable(f->st, 1, id, &d), WK_OK);
    assert_int_equal(wk_notify_contact_disable(f->st, 1, id, &d), WK_ENOTFOUND);
    assert_int_equal(wk_store_commit(f->st, &d), WK_OK);
    assert_int_equal(q1(f->st, "SELECT count(*) FROM notify_contact WHERE enabled = 1"), 0);
    assert_int_equal(q1(f->st, "SELECT lang = 'en' AND quiet_from_min = 1320 FROM notify_contact"), 1);
    /* a disabled contact gets nothing; enabled again it does */
    int64_t now = T_1200;
    event(f, now, "credit", 0, 1, "account=1 amount_fen=5000 leaf=3");
    assert_int_equal(fanout(f, now), 1);
    assert_int_equal(q1(f->st, "SELECT count(*) FROM notification"), 0);
    assert_int_equal(wk_store_begin(f->st, &d), WK_OK);
    assert_int_equal(wk_notify_contact_put(f->st, &c, &id2, &created, &d), WK_OK);
    assert_int_equal(wk_store_commit(f->st, &d), WK_OK);
    assert_true(!created && id2 == id);
    event(f, now, "credit", 0, 1, "account=1 amount_fen=2000 leaf=4");
    assert_int_equal(fanout(f, now), 1);
    assert_int_equal(q1(f->st, "SELECT count(*) FROM notification WHERE kind = 'credit'"), 1);
    /* a contact that does not want receipts gets the warnings only */
    wk_notify_contact w = {.account_id = 1, .channel = WK_NC_SMS, .address = "+8613800000001", .lang = WK_NL_ZH,
                           .events_off = 1u << WK_NK_CREDIT};
    assert_int_equal(wk_store_begin(f->st, &d), WK_OK);
    assert_int_equal(wk_notify_contact_put(f->st, &w, &id2, &created, &d), WK_OK);
    assert_int_equal(wk_store_commit(f->st, &d), WK_OK);
    event(f, now, "credit", 0, 1, "account=1 amount_fen=1000 leaf=5");
    event(f, now, "warn1", 1, 1, "account=1 level=1 balance_fen=40 days_left=-1 why=\"x\"");
    assert_int_equal(fanout(f, now), 2);
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT group_concat(kind) FROM notification WHERE contact_id = %lld", (long long)id2);
    char b[64];
    assert_string_equal(qs(f->st, sql, b, sizeof b), "warn1");
}

static void test_fanout_routing(void **state)
{
    fx *f = *state;
    int64_t now = T_1200;
    /* events before any contact exists are behind the cursor once fanned out */
    event(f, now, "warn1", 1, 1, "account=1 level=1 balance_fen=40 days_left=-1 why=\"x\"");
    assert_int_equal(fanout(f, now), 1);
    assert_int_equal(q1(f->st, "SELECT count(*) FROM notification"), 0);
    contact(f, 1, 0, WK_NC_WEBHOOK, "http://127.0.0.1:1/hook", WK_NL_EN, 0, 0);
    contact(f, 1, 0, WK_NC_EMAIL, "li@example.com", WK_NL_ZH, 0, 0);
    contact(f, 2, 0, WK_NC_EMAIL, "han@example.com", WK_NL_EN, 0, 0);
    contact(f, 0, 1, WK_NC_SMS, "+8613800000000", WK_NL_ZH, 0, 0);
    contact(f, 0, 2, WK_NC_SMS, "+8613900000000", WK_NL_EN, 0, 0);
    event(f, now, "warn2", 1, 1, "account=1 level=2 balance_fen=19 days_left=2 why=\"x\"");
    event(f, now, "online", 1, 1, "meter reconnected");             /* not notified */
    event(f, now, "refused", 1, 1, "meter refused: SERR=0x0004 mac"); /* staff of community 1 */
    event(f, now, "credit", 0, 2, "account=2 amount_fen=1234 leaf=9");
    assert_int_equal(fanout(f, now), 4);
    assert_int_equal(fanout(f, now), 0); /* the cursor moved: nothing twice */
    assert_int_equal(q1(f->st, "SELECT count(*) FROM notification"), 4);
    char b[2048];
    assert_string_equal(qs(f->st, "SELECT body FROM notification WHERE kind='warn2' AND channel='webhook'", b, sizeof b),
                        "U01, B7: your electricity balance is down to ¥0.19. Power will be cut when it "
                        "runs out. Please top up soon. About 2 days left at your usage.");
    assert_string_equal(qs(f->st, "SELECT subject FROM notification WHERE kind='warn2' AND channel='email'", b, sizeof b),
                        "电费余额即将用完：0.19 元");
    assert_string_equal(qs(f->st, "SELECT address FROM notification WHERE kind='refused'", b, sizeof b),
                        "+8613800000000");
    assert_non_null(strstr(qs(f->st, "SELECT body FROM notification WHERE kind='refused'", b, sizeof b),
                           "Riverside"));
    assert_non_null(strstr(b, "SERR=0x0004 mac"));
    assert_string_equal(qs(f->st, "SELECT subject FROM notification WHERE kind='credit'", b, sizeof b),
                        "Top-up received: ¥12.34");
    assert_int_equal(q1(f->st, "SELECT count(DISTINCT idem_key) FROM notification"), 4);
    assert_int_equal(q1(f->st, "SELECT last_event_id FROM notify_cursor"), 5);
}

static void test_quiet_and_rate_limit(void **state)
{
    fx *f = *state;
    int64_t now = T_1200; /* 12:00 local: inside 11:00-13:00 */
    contact(f, 1, 0, WK_NC_EMAIL, "li@example.com", WK_NL_EN, 11 * 60, 13 * 60);
    event(f, now, "warn1", 1, 1, "account=1 level=1 balance_fen=40 days_left=-1");
    event(f, now, "decide_trip", 1, 1, "account=1 balance_fen=0 why=\"x\""); /* urgent */
    event(f, now, "warn1", 1, 1, "account=1 level=1 balance_fen=40 days_left=-1");
    event(f, now, "warn2", 1, 1, "account=1 level=2 balance_fen=40 days_left=-1");
    assert_int_equal(fanout(f, now), 4);
    assert_int_equal(q1(f->st, "SELECT next_attempt_ms FROM notification WHERE id = 1"), now + 3600000);
    assert_int_equal(q1(f->st, "SELECT next_attempt_ms FROM notification WHERE kind = 'trip'"), now);
    /* limit 2 non-urgent per hour: the third non-urgent one is suppressed */
    char b[64];
    assert_string_equal(qs(f->st, "SELECT group_concat(state, ',') FROM (SELECT state FROM notification ORDER BY id)",
                           b, sizeof b), "pending,pending,pending,suppressed");
    /* an hour later the window has room again */
    event(f, now + 3600001, "warn1", 1, 1, "account=1 level=1 balance_fen=40 days_left=-1");
    assert_int_equal(fanout(f, now + 3600001), 1);
    assert_string_equal(qs(f->st, "SELECT state FROM notification ORDER BY id DESC LIMIT 1", b, sizeof b), "pending");
}

static void test_offline_alert(void **state)
{
    fx *f = *state;
    int64_t now = T_1200;
    contact(f, 0, 1, WK_NC_SMS, "+8613800000000", WK_NL_EN, 0, 0);
    event(f, now, "offline", 1, 1, "meter silent");
    assert_int_equal(fanout(f, now), 1);
    assert_int_equal(q1(f->st, "SELECT next_attempt_ms FROM notification"), now + 600000);
    wk_notify_sender *snd;
    wk_diag d = {{0}};
    assert_int_equal(wk_notify_sender_open(&f->o, &snd, &d), WK_OK);
    int32_t n;
    assert_int_equal(wk_notify_deliver(f->st, &f->o, snd, now + 1000, &n, &d), WK_OK);
    assert_int_equal(n, 0); /* not due yet */
    exec(f->st, "UPDATE meter SET online = 1 WHERE id = 1");
    assert_int_equal(wk_notify_deliver(f->st, &f->o, snd, now + 600000, &n, &d), WK_OK);
    assert_int_equal(n, 0);
    char b[64];
    assert_string_equal(qs(f->st, "SELECT state || ' ' || last_error FROM notification", b, sizeof b),
                        "skipped meter back online");
    wk_notify_sender_close(snd);
}

static void test_delivery_retry_order_dead(void **state)
{
    fx *f = *state;
    int64_t now = T_1200;
    /* port 1 on loopback refuses connections: a temporary failure */
    contact(f, 1, 0, WK_NC_WEBHOOK, "http://127.0.0.1:1/hook", WK_NL_EN, 0, 0);
    contact(f, 2, 0, WK_NC_SMS, "+8613900000000", WK_NL_EN, 0, 0); /* no sms_url: permanent */
    event(f, now, "decide_trip", 1, 1, "account=1 balance_fen=0");
    event(f, now, "credit", 0, 1, "account=1 amount_fen=100");
    event(f, now, "credit", 0, 2, "account=2 amount_fen=100");
    assert_int_equal(fanout(f, now), 3);
    wk_notify_sender *snd;
    wk_diag d = {{0}};
    assert_int_equal(wk_notify_sender_open(&f->o, &snd, &d), WK_OK);
    int32_t n;
    assert_int_equal(wk_notify_deliver(f->st, &f->o, snd, now, &n, &d), WK_OK);
    assert_int_equal(n, 2); /* the trip (fails; the credit to the same contact waits) + the SMS */
    char b[256];
    assert_string_equal(qs(f->st, "SELECT group_concat(state || ':' || attempts, ',') FROM"
                                  " (SELECT state, attempts FROM notification ORDER BY id)", b, sizeof b),
                        "pending:1,pending:0,dead:1");
    assert_non_null(strstr(qs(f->st, "SELECT last_error FROM notification WHERE id = 3", b, sizeof b),
                           "no sms_url"));
    assert_int_equal(q1(f->st, "SELECT next_attempt_ms FROM notification WHERE id = 1"), now + 1000);
    /* before the retry time nothing is sent, and the credit stays behind the trip */
    assert_int_equal(wk_notify_deliver(f->st, &f->o, snd, now + 999, &n, &d), WK_OK);
    assert_int_equal(n, 0);
    assert_int_equal(wk_notify_deliver(f->st, &f->o, snd, now + 1000, &n, &d), WK_OK);
    assert_int_equal(n, 1);
    assert_int_equal(q1(f->st, "SELECT next_attempt_ms FROM notification WHERE id = 1"), now + 1000 + 2000);
    assert_int_equal(wk_notify_deliver(f->st, &f->o, snd, now + 3000, &n, &d), WK_OK);
    assert_int_equal(n, 1); /* third and last attempt: dead */
    assert_int_equal(wk_notify_deliver(f->st, &f->o, snd, now + 3000, &n, &d), WK_OK);
    assert_int_equal(n, 1); /* then the credit's first */
    assert_string_equal(qs(f->st, "SELECT group_concat(state || ':' || attempts, ',') FROM"
                                  " (SELECT state, attempts FROM notification ORDER BY id)", b, sizeof b),
                        "dead:3,pending:1,dead:1");
    /* a crash after the attempt was committed and before the send: attempts exhausted */
    exec(f->st, "UPDATE notification SET attempts = 3, next_attempt_ms = 0 WHERE id = 2");
    assert_int_equal(wk_notify_deliver(f->st, &f->o, snd, now + 4000, &n, &d), WK_OK);
    assert_int_equal(n, 0);
    assert_string_equal(qs(f->st, "SELECT state || ' ' || last_error FROM notification WHERE id = 2", b, sizeof b),
                        "dead attempts exhausted");
    wk_notify_counts c;
    assert_int_equal(wk_notify_counts_get(f->st, &c, &d), WK_OK);
    assert_int_equal(c.dead, 3);
    assert_int_equal(c.pending, 0);
    wk_notify_sender_close(snd);
}

int main(void)
{
    wk_notify_metrics_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_contacts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_contact_put_disable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fanout_routing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quiet_and_rate_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_offline_alert, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delivery_retry_order_dead, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
