/* log_test.c - logfmt lines of src/core/log.c: exact format, quoting, redaction of secret
 * keys, control bytes, truncation at the line limit, level filtering, the sink hand-off and
 * whole lines under concurrent logging. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"

static char line[WK_LOG_LINE_MAX];

static void test_format_exact(void **state)
{
    (void)state;
    size_t n = wk_log_format(line, sizeof line, 1795818601123, true, WK_LOG_INFO,
                             "deduction booked", "meter=%s amount_fen=%lld", "000000000001",
                             (long long)1234);
    const char *want = "ts=2026-11-27T22:30:01.123Z level=info msg=\"deduction booked\" "
                       "meter=000000000001 amount_fen=1234\n";
    assert_string_equal(line, want);
    assert_int_equal(n, strlen(want));

    /* no clock: no ts; single-word msg still quoted; no tail */
    wk_log_format(line, sizeof line, 0, false, WK_LOG_ERROR, "boom", NULL);
    assert_string_equal(line, "level=error msg=\"boom\"\n");
    /* milliseconds before the epoch floor correctly */
    wk_log_format(line, sizeof line, -1, true, WK_LOG_DEBUG, "x", NULL);
    assert_string_equal(line, "ts=1969-12-31T23:59:59.999Z level=debug msg=\"x\"\n");
    /* msg with quotes and newline is escaped */
    wk_log_format(line, sizeof line, 0, false, WK_LOG_WARN, "say \"hi\"\nnow", NULL);
    assert_string_equal(line, "level=warn msg=\"say \\\"hi\\\"\\nnow\"\n");
}

static void test_quote(void **state)
{
    (void)state;
    char b[64];
    assert_string_equal(wk_log_quote("plain-value_1.2", b, sizeof b), "plain-value_1.2");
    assert_string_equal(wk_log_quote("two words", b, sizeof b), "\"two words\"");
    assert_string_equal(wk_log_quote("", b, sizeof b), "\"\"");
    assert_string_equal(wk_log_quote(NULL, b, sizeof b), "\"\"");
    assert_string_equal(wk_log_quote("a=b", b, sizeof b), "\"a=b\"");
    assert_string_equal(wk_log_quote("q\"\\\t\x01", b, sizeof b), "\"q\\\"\\\\\\t\\x01\"");
    /* truncation keeps the closing quote and never splits an escape */
    char s[8];
    assert_string_equal(wk_log_quote("ab cdefgh", s, sizeof s), "\"ab cd\"");
    assert_string_equal(wk_log_quote("abcd\"efg h", s, sizeof s), "\"abcd\"");
    assert_string_equal(WK_LOG_Q("x y"), "\"x y\"");
}

static void test_redaction(void **state)
{
    (void)state;
    wk_log_format(line, sizeof line, 0, false, WK_LOG_INFO, "m",
                  "user=%s password=%s mqtt_password=%s token=%s key=%s Log_Key=%s "
                  "api_SECRET=%s keyboard=%s monkey=%s n=%d",
                  "alice", "hunter2", WK_LOG_Q("two words"), "t0k", "k3y", "/x/log.key", "s",
                  "qwerty", "m", 5);
    assert_string_equal(line, "level=info msg=\"m\" user=alice password=*** mqtt_password=*** "
                              "token=*** key=*** Log_Key=*** api_SECRET=*** keyboard=qwerty "
                              "monkey=m n=5\n");
    assert_null(strstr(line, "hunter2"));
    assert_null(strstr(line, "two"));

    /* a caller forgot to quote a secret with spaces: every word of it is dropped */
    wk_log_format(line, sizeof line, 0, false, WK_LOG_INFO, "m", "secret=%s meter=%s",
                  "my very secret", "7");
    assert_string_equal(line, "level=info msg=\"m\" secret=*** meter=7\n");
    /* a quoted secret containing key=value text is dropped whole */
    wk_log_format(line, sizeof line, 0, false, WK_LOG_INFO, "m", "password=%s after=1",
                  WK_LOG_Q("a b=c \"d"));
    assert_string_equal(line, "level=info msg=\"m\" password=*** after=1\n");
}

static void test_control_bytes(void **state)
{
    (void)state;
    size_t n = wk_log_format(line, sizeof line, 0, false, WK_LOG_INFO, "m", "v=%s w=%s",
                             "x\ny", "tab\there");
    assert_string_equal(line, "level=info msg=\"m\" v=x\\x0ay w=tab\\x09here\n");
    assert_ptr_equal(strchr(line, '\n'), line + n - 1);
}

static bool valid_utf8(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        size_t k = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : 4;
        if (i + k > n)
            return false;
        for (size_t j = 1; j < k; j++)
            if ((s[i + j] & 0xC0) != 0x80)
                return false;
        i += k;
    }
    return true;
}

static void test_truncation(void **state)
{
    (void)state;
    static char big[6000];
    /* two-byte characters, so the cut must respect UTF-8 */
    for (size_t i = 0; i + 2 < sizeof big; i += 2)
        memcpy(big + i, "\xc3\xa9", 2);
    big[sizeof big - 2] = '\0';
    size_t n = wk_log_format(line, sizeof line, 0, false, WK_LOG_INFO, "long", "v=%s w=1", big);
    assert_true(n <= WK_LOG_LINE_MAX - 1);
    assert_true(n >= WK_LOG_LINE_MAX - 10);
    assert_int_equal(strlen(line), n);
    assert_memory_equal(line + n - 4, "\xe2\x80\xa6\n", 4);
    assert_true(valid_utf8((const unsigned char *)line, n));
    assert_null(strstr(line, "w=1"));

    /* cut inside a quoted value: the quote is closed after the ellipsis */
    memset(big, 'a', 3000);
    big[1] = ' ';
    big[3000] = '\0';
    n = wk_log_format(line, sizeof line, 0, false, WK_LOG_INFO, "long", "v=%s", WK_LOG_Q(big));
    /* WK_LOG_Q cuts at 256 bytes: fits */
    assert_memory_equal(line + n - 2, "\"\n", 2);
    char q[4000];
    n = wk_log_format(line, sizeof line, 0, false, WK_LOG_INFO, "long", "v=%s",
                      wk_log_quote(big, q, sizeof q));
    assert_true(n <= WK_LOG_LINE_MAX - 1);
    assert_memory_equal(line + n - 5, "\xe2\x80\xa6\"\n", 5);
    /* a small caller buffer also works */
    char small[32];
    n = wk_log_format(small, sizeof small, 0, false, WK_LOG_INFO, "a long message here", "x=1");
    assert_int_equal(strlen(small), n);
    assert_true(n <= 31);
    assert_int_equal(small[n - 1], '\n');
}

static void test_level_parse(void **state)
{
    (void)state;
    wk_log_level l = WK_LOG_ERROR;
    wk_diag d = {{0}};
    assert_int_equal(wk_log_level_parse("debug", &l, &d), WK_OK);
    assert_int_equal(l, WK_LOG_DEBUG);
    assert_int_equal(wk_log_level_parse("warn", &l, &d), WK_OK);
    assert_int_equal(l, WK_LOG_WARN);
    assert_int_equal(wk_log_level_parse("WARN", &l, &d), WK_EINVAL);
    assert_int_equal(l, WK_LOG_WARN);
    assert_non_null(strstr(d.msg, "debug, info, warn, error"));
    assert_int_equal(wk_log_level_parse(NULL, &l, &d), WK_EINVAL);
    assert_string_equal(wk_log_level_name(WK_LOG_ERROR), "error");
}

/* ---- sink ---- */

typedef struct capture {
    char buf[1 << 20];
    size_t len;
    int lines;
    atomic_int inside; /* must never be seen > 0 on entry: the sink is serialised */
    atomic_int overlap;
} capture;

static capture cap;

static void cap_sink(const char *l, size_t n, void *ctx)
{
    capture *c = ctx;
    if (atomic_fetch_add(&c->inside, 1) != 0)
        atomic_fetch_add(&c->overlap, 1);
    assert_int_equal(l[n], '\0');
    if (c->len + n < sizeof c->buf) {
        memcpy(c->buf + c->len, l, n);
        c->len += n;
    }
    c->lines++;
    atomic_fetch_sub(&c->inside, 1);
}

static int64_t fixed_clock(void)
{
    return 1795818601123;
}

static void test_sink_and_level(void **state)
{
    (void)state;
    memset(&cap, 0, sizeof cap);
    wk_log_set_sink(NULL, NULL);
    wk_log_set_level(WK_LOG_INFO);
    assert_false(wk_log_enabled(WK_LOG_ERROR));
    wk_log(WK_LOG_ERROR, "nowhere", NULL); /* no sink: dropped, no crash */

    wk_log_set_sink(cap_sink, &cap);
    wk_log_set_clock(fixed_clock);
    wk_log_set_level(WK_LOG_WARN);
    assert_int_equal(wk_log_get_level(), WK_LOG_WARN);
    assert_false(wk_log_enabled(WK_LOG_INFO));
    assert_true(wk_log_enabled(WK_LOG_WARN));
    wk_log(WK_LOG_INFO, "dropped", "a=%d", 1);
    wk_log(WK_LOG_DEBUG, "dropped", NULL);
    assert_int_equal(cap.lines, 0);
    wk_log(WK_LOG_WARN, "kept", "a=%d password=%s", 2, "pw");
    wk_log(WK_LOG_ERROR, "kept too", NULL);
    assert_int_equal(cap.lines, 2);
    cap.buf[cap.len] = '\0';
    assert_string_equal(cap.buf,
                        "ts=2026-11-27T22:30:01.123Z level=warn msg=\"kept\" a=2 password=***\n"
                        "ts=2026-11-27T22:30:01.123Z level=error msg=\"kept too\"\n");
    wk_log_set_clock(NULL);
    wk_log_set_sink(NULL, NULL);
    wk_log_set_level(WK_LOG_INFO);
}

#define THREADS 4
#define PER_THREAD 500

static void *log_thread(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (int i = 0; i < PER_THREAD; i++)
        wk_log(WK_LOG_INFO, "tick", "thread=%d i=%d pad=%s", id, i,
               "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    return NULL;
}

static void test_threads_whole_lines(void **state)
{
    (void)state;
    memset(&cap, 0, sizeof cap);
    wk_log_set_sink(cap_sink, &cap);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, log_thread, (void *)(intptr_t)i), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    wk_log_set_sink(NULL, NULL);
    assert_int_equal(cap.lines, THREADS * PER_THREAD);
    assert_int_equal(atomic_load(&cap.overlap), 0);
    /* every line is whole, and each thread's counter is seen in order without gaps */
    int next[THREADS] = {0};
    cap.buf[cap.len] = '\0';
    char *save = cap.buf;
    for (int k = 0; k < THREADS * PER_THREAD; k++) {
        char *nl = strchr(save, '\n');
        assert_non_null(nl);
        *nl = '\0';
        int id = -1, i = -1;
        assert_int_equal(sscanf(save, "level=info msg=\"tick\" thread=%d i=%d", &id, &i), 2);
        assert_true(id >= 0 && id < THREADS);
        assert_int_equal(i, next[id]);
        next[id]++;
        assert_non_null(strstr(save, " pad=xxx"));
        save = nl + 1;
    }
    assert_int_equal(*save, '\0');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_exact),   cmocka_unit_test(test_quote),
        cmocka_unit_test(test_redaction),      cmocka_unit_test(test_control_bytes),
        cmocka_unit_test(test_truncation),     cmocka_unit_test(test_level_parse),
        cmocka_unit_test(test_sink_and_level), cmocka_unit_test(test_threads_whole_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
