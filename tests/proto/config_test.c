/* config_test.c - wattkeeper.ini loading of src/proto/config.c: documented defaults, every
 * value type, errors naming file:line, key and expectation, environment overrides naming
 * the variable, rules between keys, the inih line limit, dump round trip with secrets
 * masked, and the key table's own consistency. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/civil.h"
#include "proto/config.h"

static wk_config cfg;
static wk_diag d;

static wk_err load(const char *text)
{
    memset(&d, 0, sizeof d);
    return wk_config_load_string(text, "test.ini", &cfg, &d);
}

static void load_ok(const char *text)
{
    wk_err e = load(text);
    if (e != WK_OK)
        fprintf(stderr, "unexpected error: %s\n", d.msg);
    assert_int_equal(e, WK_OK);
}

/* Loading fails with code e and a message containing every one of the given parts. */
static void load_bad(const char *text, wk_err e, const char *part1, const char *part2)
{
    wk_err got = load(text);
    if (got != e || !strstr(d.msg, part1) || (part2 && !strstr(d.msg, part2)))
        fprintf(stderr, "for:\n%s\ngot %d: %s\n", text, got, d.msg);
    assert_int_equal(got, e);
    assert_non_null(strstr(d.msg, part1));
    if (part2)
        assert_non_null(strstr(d.msg, part2));
}

static void test_defaults(void **state)
{
    (void)state;
    wk_config_defaults(&cfg);
    assert_string_equal(cfg.server.db, "wattkeeper.db");
    assert_string_equal(cfg.server.http_listen.host, "127.0.0.1");
    assert_int_equal(cfg.server.http_listen.port, 8080);
    assert_int_equal(cfg.server.log_level, WK_LOG_INFO);
    assert_string_equal(cfg.server.data_dir, ".");
    assert_string_equal(cfg.mqtt.host, "127.0.0.1");
    assert_int_equal(cfg.mqtt.port, 1883);
    assert_string_equal(cfg.mqtt.username, "");
    assert_string_equal(cfg.mqtt.password, "");
    assert_string_equal(cfg.mqtt.client_id, "wattkeeper-headend");
    assert_int_equal(cfg.mqtt.keepalive_ms, 30000);
    assert_int_equal(cfg.mqtt.max_inflight, 1000);
    assert_int_equal(cfg.mqtt.reconnect_min_ms, 1000);
    assert_int_equal(cfg.mqtt.reconnect_max_ms, 30000);
    assert_int_equal(cfg.headend.report_interval_ms, 60000);
    assert_int_equal(cfg.headend.gap_intervals, 3);
    assert_int_equal(cfg.headend.offline_after_ms, 300000);
    assert_int_equal(cfg.headend.command_deadline_ms, 30000);
    assert_int_equal(cfg.headend.command_retries, 3);
    assert_int_equal(cfg.headend.command_retry_base_ms, 1000);
    assert_int_equal(cfg.headend.batch_max, 512);
    assert_string_equal(cfg.headend.tariff_dir, "examples/tariffs");
    assert_int_equal(cfg.policy.warn1_fen, 2000);
    assert_int_equal(cfg.policy.warn2_fen, 500);
    assert_int_equal(cfg.policy.warn1_days, 0);
    assert_int_equal(cfg.policy.warn2_days, 0);
    assert_int_equal(cfg.policy.hysteresis_fen, 300);
    assert_int_equal(cfg.policy.close_margin_fen, 0);
    assert_int_equal(cfg.policy.emergency_credit_fen, 1000);
    assert_int_equal(cfg.policy.friendly_from_min, 20 * 60);
    assert_int_equal(cfg.policy.friendly_to_min, 8 * 60);
    assert_true(cfg.policy.friendly_weekends);
    assert_int_equal(cfg.policy.holidays.n, 0);
    assert_string_equal(cfg.ledger.log_name, "wattkeeper.example/log");
    assert_string_equal(cfg.ledger.key_file, "./log.key");
    assert_int_equal(cfg.ledger.checkpoint_interval_ms, 60000);
    assert_int_equal(cfg.ledger.checkpoint_leaves, 10000);

    /* no file: the same as the defaults */
    wk_config c2;
    memset(&d, 0, sizeof d);
    assert_int_equal(wk_config_load(NULL, &c2, &d), WK_OK);
    assert_memory_equal(&c2, &cfg, sizeof cfg);
    /* an empty file and a file of comments too */
    load_ok("");
    assert_memory_equal(&c2, &cfg, sizeof cfg);
    load_ok("; a comment\n# another\n\n[server]\n");
    assert_memory_equal(&c2, &cfg, sizeof cfg);
}

static void test_every_type(void **state)
{
    (void)state;
    load_ok("[server]\n"
            "db = /var/lib/wk/wk.db\n"
            "http_listen = [::1]:0\n"
            "log_level = debug\n"
            "data_dir = /var/lib/wk\n"
            "[mqtt]\n"
            "host=broker.local\n"
            "port = 8883\n"
            "password = pa;ss #word\n"
            "keepalive = 1m\n"
            "reconnect_min = 250ms\n"
            "reconnect_max = 10m\n"
            "[headend]\n"
            "offline_after = 1d\n"
            "command_retry_base = 10ms\n"
            "[policy]\n"
            "warn1 = 30\n"
            "warn2 = 7.5\n"
            "warn1_days = 5\n"
            "warn2_days = 2\n"
            "emergency_credit = 0\n"
            "friendly_from = 00:00\n"
            "friendly_to = 23:59\n"
            "friendly_weekends = off\n"
            "holidays = 2026-10-01, 2026-01-01,2026-10-01 ,2026-05-01\n");
    assert_string_equal(cfg.server.db, "/var/lib/wk/wk.db");
    assert_string_equal(cfg.server.http_listen.host, "::1");
    assert_int_equal(cfg.server.http_listen.port, 0);
    assert_int_equal(cfg.server.log_level, WK_LOG_DEBUG);
    assert_string_equal(cfg.mqtt.host, "broker.local");
    assert_int_equal(cfg.mqtt.port, 8883);
    assert_string_equal(cfg.mqtt.password, "pa;ss #word"); /* no inline comments */
    assert_int_equal(cfg.mqtt.keepalive_ms, 60000);
    assert_int_equal(cfg.mqtt.reconnect_min_ms, 250);
    assert_int_equal(cfg.mqtt.reconnect_max_ms, 600000);
    assert_int_equal(cfg.headend.offline_after_ms, 86400000);
    assert_int_equal(cfg.headend.command_retry_base_ms, 10);
    assert_int_equal(cfg.policy.warn1_fen, 3000);
    assert_int_equal(cfg.policy.warn2_fen, 750);
    assert_int_equal(cfg.policy.warn1_days, 5);
    assert_int_equal(cfg.policy.emergency_credit_fen, 0);
    assert_int_equal(cfg.policy.friendly_from_min, 0);
    assert_int_equal(cfg.policy.friendly_to_min, 23 * 60 + 59);
    assert_false(cfg.policy.friendly_weekends);
    /* sorted, the duplicate dropped */
    assert_int_equal(cfg.policy.holidays.n, 3);
    assert_int_equal(cfg.policy.holidays.days[0], wk_days_from_civil(2026, 1, 1));
    assert_int_equal(cfg.policy.holidays.days[1], wk_days_from_civil(2026, 5, 1));
    assert_int_equal(cfg.policy.holidays.days[2], wk_days_from_civil(2026, 10, 1));
    /* key_file follows data_dir */
    assert_string_equal(cfg.ledger.key_file, "/var/lib/wk/log.key");
    load_ok("[ledger]\nkey_file = /etc/wk/log.key\n[server]\ndata_dir = /x\n");
    assert_string_equal(cfg.ledger.key_file, "/etc/wk/log.key");
    /* other spellings */
    load_ok("[policy]\nfriendly_weekends = yes\nholidays =\n[mqtt]\nkeepalive = 65535s\n"
            "[headend]\ncommand_retries = 0\n");
    assert_true(cfg.policy.friendly_weekends);
    assert_int_equal(cfg.policy.holidays.n, 0);
    assert_int_equal(cfg.mqtt.keepalive_ms, 65535000);
    assert_int_equal(cfg.headend.command_retries, 0);
    load_ok("[server]\nhttp_listen = localhost:65535\n");
    assert_string_equal(cfg.server.http_listen.host, "localhost");
    assert_int_equal(cfg.server.http_listen.port, 65535);
}

static void test_errors_name_line_key_expectation(void **state)
{
    (void)state;
    load_bad("[mqtt]\nhost = h\nportt = 1\n", WK_EINVAL, "test.ini:3:", "unknown key 'portt' in [mqtt]");
    load_bad("\n[mqqt]\nport = 1\n", WK_EINVAL, "test.ini:3:", "unknown section [mqqt]");
    load_bad("port = 1\n", WK_EINVAL, "test.ini:1:", "outside a section");
    load_bad("[server]\njunk line\n", WK_EINVAL, "test.ini:2: syntax error", NULL);
    load_bad("[server\n", WK_EINVAL, "test.ini:1: syntax error", NULL);
    load_bad("[mqtt]\n\n\nport = abc\n", WK_EINVAL, "test.ini:4: [mqtt] port:",
             "expected an integer 1..65535, got 'abc'");
    load_bad("[mqtt]\nport = 70000\n", WK_ERANGE, "test.ini:2: [mqtt] port:",
             "70000 is outside the range 1..65535");
    load_bad("[mqtt]\nport = 0\n", WK_ERANGE, "[mqtt] port", "outside the range");
    load_bad("[mqtt]\nport = 99999999999999999999\n", WK_EINVAL, "[mqtt] port", "integer");
    load_bad("[mqtt]\nport = 1883 ; comment\n", WK_EINVAL, "[mqtt] port", "got '1883 ; comment'");
    load_bad("[mqtt]\nkeepalive = 30\n", WK_EINVAL, "test.ini:2: [mqtt] keepalive:",
             "expected a duration like 250ms, 30s, 5m, 2h or 1d, got '30'");
    load_bad("[mqtt]\nkeepalive = 30 s\n", WK_EINVAL, "[mqtt] keepalive", "duration");
    load_bad("[mqtt]\nkeepalive = 1s\n", WK_ERANGE, "[mqtt] keepalive", "1s is outside the range 5s..65535s");
    load_bad("[mqtt]\nkeepalive = 9999999999999999d\n", WK_ERANGE, "[mqtt] keepalive", "too large");
    load_bad("[mqtt]\nkeepalive = -5s\n", WK_EINVAL, "[mqtt] keepalive", "duration");
    load_bad("[policy]\nwarn1 = 12.345\n", WK_EINVAL, "test.ini:2: [policy] warn1:",
             "expected an amount in yuan like 12.34, got '12.345'");
    load_bad("[policy]\nwarn1 = -1.00\n", WK_ERANGE, "[policy] warn1", "-1.00 is outside the range 0.00..1000000.00");
    load_bad("[policy]\nfriendly_from = 24:00\n", WK_EINVAL, "[policy] friendly_from", "HH:MM");
    load_bad("[policy]\nfriendly_from = 8:00\n", WK_EINVAL, "[policy] friendly_from", "HH:MM");
    load_bad("[policy]\nfriendly_to = 07:60\n", WK_EINVAL, "[policy] friendly_to", "HH:MM");
    load_bad("[policy]\nfriendly_weekends = maybe\n", WK_EINVAL, "[policy] friendly_weekends",
             "expected true or false");
    load_bad("[policy]\nholidays = 2026-02-30\n", WK_EINVAL, "[policy] holidays", "YYYY-MM-DD");
    load_bad("[policy]\nholidays = 2026-01-01,,2026-01-02\n", WK_EINVAL, "[policy] holidays",
             "empty entry");
    load_bad("[server]\nlog_level = verbose\n", WK_EINVAL, "test.ini:2: [server] log_level:",
             "debug, info, warn, error");
    load_bad("[server]\nhttp_listen = 8080\n", WK_EINVAL, "[server] http_listen", "host:port");
    load_bad("[server]\nhttp_listen = ::1:8080\n", WK_EINVAL, "[server] http_listen", "brackets");
    load_bad("[server]\nhttp_listen = :8080\n", WK_EINVAL, "[server] http_listen", "empty");
    load_bad("[server]\nhttp_listen = h:x\n", WK_EINVAL, "[server] http_listen", "port number");
    load_bad("[server]\nhttp_listen = h:-1\n", WK_EINVAL, "[server] http_listen", "port number");
    load_bad("[server]\nhttp_listen = h:65536\n", WK_ERANGE, "[server] http_listen", "above 65535");
    load_bad("[server]\ndb =\n", WK_ERANGE, "[server] db", "expected a string of 1..1023 bytes, got 0");
    load_bad("[mqtt]\nport = 1\nport = 2\n", WK_EINVAL, "test.ini:3: [mqtt] port is set twice", NULL);
    /* an error after the first: the first is reported */
    load_bad("[mqtt]\nport = x\nbogus = 1\n", WK_EINVAL, "test.ini:2:", "port");
}

static void test_secret_never_echoed(void **state)
{
    (void)state;
    char text[600] = "[mqtt]\npassword = ";
    size_t n = strlen(text);
    memset(text + n, 'S', 300);
    memcpy(text + n + 300, "\n", 2);
    load_bad(text, WK_ERANGE, "[mqtt] password", "0..255 bytes");
    assert_null(strstr(d.msg, "SSS"));
    setenv("WK_MQTT_PASSWORD", "ok\x01secret", 1);
    load_bad("", WK_EINVAL, "WK_MQTT_PASSWORD", "control character");
    assert_null(strstr(d.msg, "secret"));
    unsetenv("WK_MQTT_PASSWORD");
}

static void test_rules_between_keys(void **state)
{
    (void)state;
    load_bad("[mqtt]\nreconnect_min = 1m\nreconnect_max = 30s\n", WK_EINVAL,
             "[mqtt] reconnect_min (1m) must not exceed reconnect_max (30s)", NULL);
    load_bad("[policy]\nwarn1 = 5\nwarn2 = 6\n", WK_EINVAL, "[policy] warn2 (6.00) must not exceed warn1 (5.00)",
             NULL);
    load_bad("[policy]\nwarn1_days = 2\nwarn2_days = 3\n", WK_EINVAL, "warn2_days", NULL);
    load_ok("[policy]\nwarn1 = 5\nwarn2 = 5\nwarn1_days = 0\nwarn2_days = 0\n");
}

static void test_long_lines(void **state)
{
    (void)state;
    /* inih's default line limit is 200 bytes: a 1000-byte value must come through whole */
    static char text[4000];
    char dir[1001];
    memset(dir, 'd', 1000);
    dir[0] = '/';
    dir[1000] = '\0';
    snprintf(text, sizeof text, "[server]\ndata_dir = %s\n[mqtt]\nport = 1999\n", dir);
    load_ok(text);
    assert_string_equal(cfg.server.data_dir, dir);
    assert_int_equal(cfg.mqtt.port, 1999);
    /* 1016 + "/log.key" does not fit the key_file field */
    memset(dir, 'd', 1000);
    snprintf(text, sizeof text, "[server]\ndata_dir = %s%s\n", dir, "0123456789abcdef");
    load_bad(text, WK_ERANGE, "key_file", "longer than 1023");
    /* a 3000-byte value: too long for the field, reported as such (not a syntax error) */
    static char big[3100];
    memset(big, 'x', 3000);
    big[3000] = '\0';
    snprintf(text, sizeof text, "[mqtt]\nhost = %s\n", big);
    load_bad(text, WK_ERANGE, "test.ini:2: [mqtt] host", "got 3000");
}

static void test_env_overrides(void **state)
{
    (void)state;
    setenv("WK_MQTT_PORT", "2883", 1);
    setenv("WK_POLICY_FRIENDLY_WEEKENDS", "false", 1);
    setenv("WK_SERVER_HTTP_LISTEN", "0.0.0.0:0", 1);
    setenv("WK_MQTT_USERNAME", "", 1); /* set and empty: empty */
    load_ok("[mqtt]\nport = 1999\nusername = u\n");
    assert_int_equal(cfg.mqtt.port, 2883);
    assert_false(cfg.policy.friendly_weekends);
    assert_string_equal(cfg.server.http_listen.host, "0.0.0.0");
    assert_int_equal(cfg.server.http_listen.port, 0);
    assert_string_equal(cfg.mqtt.username, "");
    /* env alone, without a file */
    wk_config c2;
    assert_int_equal(wk_config_load(NULL, &c2, &d), WK_OK);
    assert_int_equal(c2.mqtt.port, 2883);
    /* a bad env value names the variable and the expectation; the file is fine */
    setenv("WK_MQTT_PORT", "http", 1);
    load_bad("[mqtt]\nport = 1999\n", WK_EINVAL, "environment variable WK_MQTT_PORT ([mqtt] port)",
             "expected an integer 1..65535, got 'http'");
    setenv("WK_HEADEND_COMMAND_DEADLINE", "2h", 1);
    setenv("WK_MQTT_PORT", "1", 1);
    load_bad("", WK_ERANGE, "WK_HEADEND_COMMAND_DEADLINE", "2h is outside the range 100ms..1h");
    unsetenv("WK_HEADEND_COMMAND_DEADLINE");
    /* rules between keys see the env values */
    setenv("WK_POLICY_WARN2", "50", 1);
    load_bad("", WK_EINVAL, "warn2 (50.00) must not exceed warn1 (20.00)", NULL);
    unsetenv("WK_POLICY_WARN2");
    unsetenv("WK_MQTT_PORT");
    unsetenv("WK_POLICY_FRIENDLY_WEEKENDS");
    unsetenv("WK_SERVER_HTTP_LISTEN");
    unsetenv("WK_MQTT_USERNAME");
    load_ok("");
    assert_int_equal(cfg.mqtt.port, 1883);
}

static void test_files(void **state)
{
    (void)state;
    char path[] = "/tmp/wk_config_testXXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char text[] = "\xef\xbb\xbf[headend]\r\nbatch_max = 64\r\n";
    assert_int_equal(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    close(fd);
    memset(&d, 0, sizeof d);
    assert_int_equal(wk_config_load(path, &cfg, &d), WK_OK);
    assert_int_equal(cfg.headend.batch_max, 64);
    /* errors name the path */
    FILE *f = fopen(path, "wb");
    fputs("[headend]\nbatch_max = 0\n", f);
    fclose(f);
    assert_int_equal(wk_config_load(path, &cfg, &d), WK_ERANGE);
    char want[128];
    snprintf(want, sizeof want, "%s:2: [headend] batch_max", path);
    assert_non_null(strstr(d.msg, want));
    f = fopen(path, "wb");
    fwrite("[server]\n\0x=1\n", 1, 14, f);
    fclose(f);
    assert_int_equal(wk_config_load(path, &cfg, &d), WK_EINVAL);
    assert_non_null(strstr(d.msg, "NUL byte"));
    unlink(path);
    assert_int_equal(wk_config_load(path, &cfg, &d), WK_EIO);
    assert_non_null(strstr(d.msg, path));
    assert_non_null(strstr(d.msg, "cannot open"));
}

static void test_dump_round_trip(void **state)
{
    (void)state;
    load_ok("[server]\nhttp_listen = [::1]:9000\nlog_level = warn\n[mqtt]\npassword = hunter2\n"
            "username = wk\nreconnect_min = 1500ms\n[policy]\nholidays = 2026-10-01,2026-01-01\n"
            "warn2 = 0.05\nfriendly_from = 21:30\n");
    wk_config before = cfg;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(wk_config_dump(&cfg, f), WK_OK);
    fclose(f);
    assert_null(strstr(buf, "hunter2"));
    assert_non_null(strstr(buf, "\n[mqtt]\n"));
    assert_non_null(strstr(buf, "\npassword = ***\n"));
    assert_non_null(strstr(buf, "\nhttp_listen = [::1]:9000\n"));
    assert_non_null(strstr(buf, "\nreconnect_min = 1500ms\n"));
    assert_non_null(strstr(buf, "\nkeepalive = 30s\n"));
    assert_non_null(strstr(buf, "\noffline_after = 5m\n"));
    assert_non_null(strstr(buf, "\nwarn2 = 0.05\n"));
    assert_non_null(strstr(buf, "\nfriendly_from = 21:30\n"));
    assert_non_null(strstr(buf, "\nholidays = 2026-01-01, 2026-10-01\n"));
    load_ok(buf);
    free(buf);
    assert_string_equal(cfg.mqtt.password, "***");
    memcpy(cfg.mqtt.password, before.mqtt.password, sizeof cfg.mqtt.password);
    const wk_config_key *keys;
    size_t n = wk_config_keys(&keys);
    for (size_t i = 0; i < n; i++) {
        char a[1100], b[1100];
        assert_string_equal(wk_config_format_value(&before, &keys[i], a, sizeof a),
                            wk_config_format_value(&cfg, &keys[i], b, sizeof b));
    }
}

static void test_table(void **state)
{
    (void)state;
    const wk_config_key *keys;
    size_t n = wk_config_keys(&keys);
    assert_true(n >= 36);
    char e1[96], e2[96];
    assert_string_equal(wk_config_env_name(&keys[1], e1, sizeof e1), "WK_SERVER_HTTP_LISTEN");
    for (size_t i = 0; i < n; i++) {
        assert_non_null(keys[i].doc);
        assert_true(strlen(keys[i].doc) > 10);
        assert_null(strchr(keys[i].doc, '\n'));
        assert_true(keys[i].min <= keys[i].max);
        assert_true(keys[i].offset + keys[i].size <= sizeof(wk_config));
        wk_config_env_name(&keys[i], e1, sizeof e1);
        for (size_t j = i + 1; j < n; j++) {
            /* distinct env names, distinct non-overlapping fields */
            assert_string_not_equal(e1, wk_config_env_name(&keys[j], e2, sizeof e2));
            assert_true(keys[i].offset + keys[i].size <= keys[j].offset ||
                        keys[j].offset + keys[j].size <= keys[i].offset);
        }
        /* every key can be set on its own from its own default */
        char text[256];
        snprintf(text, sizeof text, "[%s]\n%s = %s\n", keys[i].section, keys[i].key, keys[i].def);
        load_ok(text);
    }
    assert_string_equal(wk_config_env_name(&(wk_config_key){.section = "a.b", .key = "c-d"}, e1,
                                           sizeof e1),
                        "WK_A_B_C_D");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_every_type),
        cmocka_unit_test(test_errors_name_line_key_expectation),
        cmocka_unit_test(test_secret_never_echoed),
        cmocka_unit_test(test_rules_between_keys),
        cmocka_unit_test(test_long_lines),
        cmocka_unit_test(test_env_overrides),
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_dump_round_trip),
        cmocka_unit_test(test_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
