/*
 * tariff_json_test.c - the JSON tariff format: every shipped example parses, and each kind
 * of malformed tariff is rejected with a message that names the key and what was expected.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_util.h"

/* A valid TOU tariff with placeholders: each case replaces one fragment. */
static const char *base =
    "{\"name\":\"t\",\"source\":\"test\",\"versions\":[{"
    "\"effective_from\":\"2026-01-01T00:00:00+08:00\","
    "\"tiers\":{\"cycle\":\"annual\",\"thresholds_kwh\":[\"2760\",\"4800\"]},"
    "\"prices\":{\"matrix\":{\"peak\":[\"0.568\",\"0.618\",\"0.868\"],"
    "\"valley\":[\"0.288\",\"0.338\",\"0.588\"]}},"
    "\"maps\":{\"day\":[{\"from\":\"00:00\",\"to\":\"08:00\",\"slot\":\"valley\"},"
    "{\"from\":\"08:00\",\"to\":\"22:00\",\"slot\":\"peak\"},"
    "{\"from\":\"22:00\",\"to\":\"24:00\",\"slot\":\"valley\"}]},"
    "\"seasons\":[{\"name\":\"all\",\"months\":[1,2,3,4,5,6,7,8,9,10,11,12],"
    "\"days\":{\"workday\":\"day\"}}]}]}";

/* Replaces the first occurrence of `from` in base by `to` and expects rejection with a
 * message containing `want`. */
static void reject(const char *from, const char *to, const char *want)
{
    const char *p = strstr(base, from);
    if (!p)
        fail_msg("fragment not in base: %s", from);
    char json[4096];
    snprintf(json, sizeof json, "%.*s%s%s", (int)(p - base), base, to, p + strlen(from));
    wk_diag d = {{0}};
    wk_tariff *t = tu_parse_tariff(json, &d);
    if (t) {
        wk_free(t);
        fail_msg("accepted a bad tariff (%s -> %s)", from, to);
    }
    if (!strstr(d.msg, want))
        fail_msg("message \"%s\" does not contain \"%s\"", d.msg, want);
}

static void test_base_and_examples_parse(void **state)
{
    (void)state;
    wk_diag d = {{0}};
    wk_tariff *t = tu_parse_tariff(base, &d);
    if (!t)
        fail_msg("base rejected: %s", d.msg);
    assert_int_equal(t->versions[0].n_tiers, 3);
    assert_int_equal(t->versions[0].price_uyuan[2][WK_SLOT_VALLEY], 588000);
    assert_int_equal(t->versions[0].effective_to_s, INT64_MAX);
    wk_free(t);
    const char *names[] = {"zhejiang-residential", "zhejiang-residential-flat",
                           "beijing-residential", "shanghai-residential", "guangdong-residential",
                           "guangdong-commercial-tou"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        wk_free(tu_load_tariff(names[i])); /* aborts with the message on failure */
    /* additive form gives the same matrix as the written-out one */
    wk_tariff *zj = tu_load_tariff("zhejiang-residential");
    assert_int_equal(zj->versions[0].price_uyuan[1][WK_SLOT_PEAK], 618000);
    assert_int_equal(zj->versions[0].price_uyuan[2][WK_SLOT_VALLEY], 588000);
    assert_true(zj->versions[0].unverified[0] != '\0');
    wk_free(zj);
}

static void test_rejections(void **state)
{
    (void)state;
    /* slot maps */
    reject("{\"from\":\"08:00\",\"to\":\"22:00\"", "{\"from\":\"09:00\",\"to\":\"22:00\"",
           "gap: starts at 09:00 but the previous range ended at 08:00");
    reject("{\"from\":\"08:00\",\"to\":\"22:00\"", "{\"from\":\"07:00\",\"to\":\"22:00\"",
           "overlap: starts at 07:00");
    reject("{\"from\":\"22:00\",\"to\":\"24:00\"", "{\"from\":\"22:00\",\"to\":\"23:00\"",
           "must end at 24:00");
    reject("\"slot\":\"peak\"", "\"slot\":\"noon\"", "unknown slot \"noon\"");
    reject("\"to\":\"08:00\"", "\"to\":\"8am\"", "expected a time of day");
    /* tiers */
    reject("[\"2760\",\"4800\"]", "[\"4800\",\"2760\"]", "strictly increasing");
    reject("[\"2760\",\"4800\"]", "[\"2760\",\"2760\"]", "strictly increasing");
    reject("\"cycle\":\"annual\"", "\"cycle\":\"weekly\"", "expected none, monthly or annual");
    reject("\"tiers\":{", "\"tiers\":{\"allocation\":\"fifo\",", "expected chronological or proportional");
    /* prices */
    reject("\"0.618\"", "\"-0.618\"", "price must be 0..20 yuan/kWh");
    reject("\"0.618\"", "\"618\"", "price must be 0..20 yuan/kWh");
    reject("\"0.618\"", "0.618", "write decimals as strings");
    reject("\"0.618\"", "\"0.6180001\"", "more than 6 decimal places");
    reject("\"peak\":[\"0.568\",\"0.618\",\"0.868\"],", "", "slot peak has no price");
    reject("[\"0.568\",\"0.618\",\"0.868\"]", "[\"0.568\",\"0.618\"]", "expected 3 prices");
    reject("\"matrix\":{", "\"matrix\":{\"midday\":[\"1\",\"1\",\"1\"],", "unknown slot \"midday\"");
    /* seasons and days */
    reject("[1,2,3,4,5,6,7,8,9,10,11,12]", "[1,2,3,4,5,6,7,8,9,10,11]",
           "12-01 is in 0 seasons, expected exactly 1");
    reject("\"days\":{\"workday\":\"day\"}", "\"days\":{\"workday\":\"night\"}",
           "expected the name of a map");
    reject("\"days\":{\"workday\":\"day\"}", "\"days\":{\"workday\":\"day\",\"hot\":\"day\"}",
           "unknown day type \"hot\"");
    reject("\"days\":{\"workday\":\"day\"}", "\"days\":{\"weekend\":\"day\"}",
           "days.workday missing");
    /* dates and versions */
    reject("\"2026-01-01T00:00:00+08:00\"", "\"2026-01-01T00:00:00\"", "has no UTC offset");
    reject("\"effective_from\":\"2026-01-01T00:00:00+08:00\",",
           "\"effective_from\":\"2026-01-01T00:00:00+08:00\",\"effective_to\":\"2025-01-01T00:00:00+08:00\",",
           "effective_to must be after effective_from");
    /* unknown keys everywhere */
    reject("{\"name\":\"t\",", "{\"name\":\"t\",\"colour\":\"red\",", "unknown key \"colour\"");
    reject("\"tiers\":{", "\"tiers\":{\"cylce\":\"annual\",", "versions[0].tiers: unknown key \"cylce\"");
    reject("\"from\":\"00:00\",", "\"from\":\"00:00\",\"note\":1,", "unknown key \"note\"");
    /* missing keys and malformed JSON */
    reject("\"source\":\"test\",", "", "missing key \"source\"");
    reject("{\"name\"", "{\"name\":1,\"name\"", "duplicate");
    reject("\"versions\":[{", "\"versions\":[{,", "line 1 column");
}

/* Versions that leave a gap between them are rejected; contiguous ones accepted. */
static void test_version_gaps(void **state)
{
    (void)state;
#define GAP_FMT \
        "{\"name\":\"v\",\"source\":\"s\",\"versions\":[" \
        "{\"effective_from\":\"2025-01-01T00:00:00+08:00\",\"effective_to\":\"%s\"," \
        "\"tiers\":{\"cycle\":\"none\"},\"prices\":{\"matrix\":{\"flat\":[\"0.5\"]}}}," \
        "{\"effective_from\":\"2026-01-01T00:00:00+08:00\"," \
        "\"tiers\":{\"cycle\":\"none\"},\"prices\":{\"matrix\":{\"flat\":[\"0.6\"]}}}]}"
    char json[1024];
    wk_diag d;
    snprintf(json, sizeof json, GAP_FMT, "2025-12-01T00:00:00+08:00");
    assert_null(tu_parse_tariff(json, &d));
    assert_non_null(strstr(d.msg, "without gaps or overlaps"));
    snprintf(json, sizeof json, GAP_FMT, "2026-01-01T00:00:00+08:00");
    wk_tariff *t = tu_parse_tariff(json, &d);
    assert_non_null(t);
    assert_int_equal(wk_tariff_version_at(t, t->versions[1].effective_from_s - 1), 0);
    assert_int_equal(wk_tariff_version_at(t, t->versions[1].effective_from_s), 1);
    assert_int_equal(wk_tariff_version_at(t, t->versions[0].effective_from_s - 1), -1);
    wk_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base_and_examples_parse),
        cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_version_gaps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
