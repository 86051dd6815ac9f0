/*
 * template_test.c - templates data files (src/notify/template.c): the shipped en and zh-CN
 * files load; every kind of mistake is rejected with a message naming the field; rendering
 * substitutes, leaves unknown braces alone and reports truncation.
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
#include "notify/notify.h"

static char *read_example(const char *name, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/examples/notify/templates/%s", getenv("WK_SOURCE_DIR"), name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = wk_malloc(WK_NOTIFY_TEMPLATE_FILE_MAX + 1);
    assert_non_null(buf);
    *len = fread(buf, 1, WK_NOTIFY_TEMPLATE_FILE_MAX, f);
    buf[*len] = 0;
    fclose(f);
    return buf;
}

static void test_examples_load(void **state)
{
    (void)state;
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/examples/notify/templates", getenv("WK_SOURCE_DIR"));
    wk_notify_templates *t = wk_calloc(1, sizeof *t);
    wk_diag d = {{0}};
    assert_int_equal(wk_notify_templates_load(dir, t, &d), WK_OK);
    for (int l = 0; l < WK_NL_COUNT; l++)
        for (int k = 0; k < WK_NK_COUNT; k++)
            assert_true(t->t[l][k].present);
    assert_false(t->t[WK_NL_EN][WK_NK_WARN1].urgent);
    assert_true(t->t[WK_NL_ZH][WK_NK_TRIP].urgent);
    assert_string_equal(t->t[WK_NL_ZH][WK_NK_CREDIT].subject, "充值成功：{amount} 元");
    assert_int_equal(wk_notify_templates_load("/nonexistent", t, &d), WK_EIO);
    assert_non_null(strstr(d.msg, "/nonexistent/en.json"));
    wk_free(t);
}

/* Parses en.json with `from` replaced by `to` and expects error e with `msg` in d. */
static void expect_bad(const char *from, const char *to, wk_err e, const char *msg)
{
    size_t len;
    char *src = read_example("en.json", &len);
    char *at = strstr(src, from);
    assert_non_null(at);
    char *mod = wk_malloc(len + strlen(to) + 1);
    size_t pre = (size_t)(at - src);
    memcpy(mod, src, pre);
    memcpy(mod + pre, to, strlen(to));
    memcpy(mod + pre + strlen(to), at + strlen(from), len - pre - strlen(from) + 1);
    wk_notify_templates *t = wk_calloc(1, sizeof *t);
    wk_diag d = {{0}};
    wk_err got = wk_notify_templates_parse(mod, strlen(mod), t, &d);
    if (got != e || !strstr(d.msg, msg))
        fprintf(stderr, "replacing '%s' by '%s': got %s '%s', want '%s'\n", from, to,
                wk_err_str(got), d.msg, msg);
    assert_int_equal(got, e);
    assert_non_null(strstr(d.msg, msg));
    wk_free(t);
    wk_free(mod);
    wk_free(src);
}

static void test_rejects(void **state)
{
    (void)state;
    expect_bad("{balance}. Please top up. {days_left}", "{balanse}. Please top up. {days_left}", WK_EINVAL,
               "events.warn1.text: unknown placeholder {balanse}");
    expect_bad("\"warn2\": {", "\"warn3\": {", WK_EINVAL, "unknown event \"warn3\"");
    expect_bad("\"lang\": \"en\"", "\"lang\": \"fr\"", WK_EINVAL, "\"lang\"");
    expect_bad("\"lang\": \"en\"", "\"lang\": \"en\", \"lang\": \"en\"", WK_EINVAL, "duplicate");
    expect_bad("Power restored\"", "Power {restored\"", WK_EINVAL, "events.close.subject: '{' without '}'");
    expect_bad("Power restored\"", "Power restored}\"", WK_EINVAL, "events.close.subject: '}' without '{'");
    expect_bad("\"urgent\": true,\n      \"subject\": \"Power restored\"",
               "\"urgent\": \"yes\",\n      \"subject\": \"Power restored\"", WK_EINVAL,
               "events.close.urgent: expected true or false");
    expect_bad("\"subject\": \"Power restored\",", "", WK_EINVAL, "events.close: missing \"subject\"");
    expect_bad("\"subject\": \"Power restored\",", "\"subject\": 3,", WK_EINVAL,
               "events.close.subject: expected a string");
    expect_bad("\"subject\": \"Power restored\",", "\"subject\": \"\",", WK_EINVAL,
               "events.close.subject: empty");
    expect_bad("\"subject\": \"Power restored\",", "\"subjekt\": \"x\", \"subject\": \"x\",",
               WK_EINVAL, "unknown field \"subjekt\"");
    expect_bad("\"comment\"", "\"commentary\"", WK_EINVAL, "unknown field \"commentary\"");
    expect_bad("\"lang\": \"en\",", "\"lang\": \"en\", \"x\": [1,", WK_EINVAL, "line");
    /* a missing event: rename one to a duplicate of another is caught as a duplicate;
     * removing one is caught as missing */
    expect_bad("\"foreign_command\": {", "\"refused\": {", WK_EINVAL, "duplicate");
    /* a string too long */
    char big[WK_NOTIFY_SUBJECT_MAX + 32];
    memset(big, 'x', sizeof big);
    memcpy(big, "\"subject\": \"", 12);
    memcpy(big + sizeof big - 3, "\",", 3);
    expect_bad("\"subject\": \"Power restored\",", big, WK_ELIMIT, "events.close.subject:");
}

static void test_missing_event(void **state)
{
    (void)state;
    const char *doc = "{\"lang\":\"en\",\"events\":{\"warn1\":{\"subject\":\"s\",\"text\":\"t\"}}}";
    wk_notify_templates *t = wk_calloc(1, sizeof *t);
    wk_diag d = {{0}};
    assert_int_equal(wk_notify_templates_parse(doc, strlen(doc), t, &d), WK_EINVAL);
    assert_non_null(strstr(d.msg, "no template for \"warn2\""));
    assert_int_equal(wk_notify_templates_parse("[]", 2, t, &d), WK_EINVAL);
    wk_free(t);
}

static void test_render(void **state)
{
    (void)state;
    wk_notify_vars v = {.unit = "U01", .balance = "0.35", .days_left = "约3天"};
    char out[64];
    wk_diag d = {{0}};
    assert_int_equal(wk_notify_render("{unit}: ¥{balance}, {days_left}{holder}.", &v, out,
                                      sizeof out, &d), WK_OK);
    assert_string_equal(out, "U01: ¥0.35, 约3天.");
    assert_int_equal(wk_notify_render("{ {x} }", &v, out, sizeof out, &d), WK_OK);
    assert_string_equal(out, "{ {x} }");
    char small[8];
    assert_int_equal(wk_notify_render("{unit} {unit} {unit}", &v, small, sizeof small, &d), WK_ELIMIT);
    assert_int_equal(strlen(small), 7);
    assert_int_equal(wk_notify_render("", &v, small, sizeof small, &d), WK_OK);
    assert_string_equal(small, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_examples_load),
        cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_missing_event),
        cmocka_unit_test(test_render),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
