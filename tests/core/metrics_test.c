/* metrics_test.c - the Prometheus registry of src/core/metrics.c: exact text format 0.0.4
 * (HELP/TYPE once per family, series grouped), cumulative histogram buckets with +Inf,
 * _sum in seconds and _count, validation of names and labels, bounds, and exact totals
 * under concurrent updates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/mem.h"
#include "core/metrics.h"

static int setup(void **state)
{
    (void)state;
    wk_metrics_reset();
    return 0;
}

static char *render(void)
{
    char *s = NULL;
    size_t n = 0;
    assert_int_equal(wk_metrics_render(&s, &n), WK_OK);
    assert_non_null(s);
    assert_int_equal(strlen(s), n);
    return s;
}

static void expect_render(const char *want)
{
    char *s = render();
    if (strcmp(s, want) != 0)
        fprintf(stderr, "got:\n%s\nwant:\n%s\n", s, want);
    assert_string_equal(s, want);
    wk_free(s);
}

static void test_empty(void **state)
{
    (void)state;
    expect_render("");
}

static void test_counters_and_gauges_grouped(void **state)
{
    (void)state;
    wk_metric *ok = wk_metric_counter("wk_commands_total", "Relay commands by outcome.",
                                      "outcome=\"confirmed\"");
    wk_metric *q = wk_metric_gauge("wk_queue_depth", "Commands waiting.", NULL);
    wk_metric *ex = wk_metric_counter("wk_commands_total", "Relay commands by outcome.",
                                      "outcome=\"expired\"");
    wk_metric *two = wk_metric_counter("wk_http_requests_total", "HTTP requests.",
                                       "route=\"/healthz\",status=\"200\"");
    assert_non_null(ok);
    assert_non_null(q);
    assert_non_null(ex);
    assert_non_null(two);
    /* same name and labels: same series */
    assert_ptr_equal(wk_metric_counter("wk_commands_total", "Relay commands by outcome.",
                                       "outcome=\"confirmed\""),
                     ok);
    wk_metric_add(ok, 5);
    wk_metric_inc(ok);
    wk_metric_add(ok, -3); /* counters never go down */
    wk_metric_inc(ex);
    wk_metric_set(q, 10);
    wk_metric_add(q, -12);
    wk_metric_set(ok, 100); /* not a gauge: ignored */
    wk_metric_add(two, 7);
    assert_int_equal(wk_metric_value(ok), 6);
    assert_int_equal(wk_metric_value(q), -2);
    expect_render("# HELP wk_commands_total Relay commands by outcome.\n"
                  "# TYPE wk_commands_total counter\n"
                  "wk_commands_total{outcome=\"confirmed\"} 6\n"
                  "wk_commands_total{outcome=\"expired\"} 1\n"
                  "# HELP wk_queue_depth Commands waiting.\n"
                  "# TYPE wk_queue_depth gauge\n"
                  "wk_queue_depth -2\n"
                  "# HELP wk_http_requests_total HTTP requests.\n"
                  "# TYPE wk_http_requests_total counter\n"
                  "wk_http_requests_total{route=\"/healthz\",status=\"200\"} 7\n");
    assert_int_equal(wk_metrics_count(), 4);
}

static int64_t read_ctx(void *ctx)
{
    return *(int64_t *)ctx;
}

static int64_t live_bytes(void *ctx)
{
    (void)ctx;
    return wk_mem_live_bytes();
}

static void test_gauge_fn(void **state)
{
    (void)state;
    int64_t depth = 3;
    wk_metric *g = wk_metric_gauge_fn("wk_ingest_queue", "Frames waiting.", "queue=\"up\"",
                                      read_ctx, &depth);
    assert_non_null(g);
    expect_render("# HELP wk_ingest_queue Frames waiting.\n# TYPE wk_ingest_queue gauge\n"
                  "wk_ingest_queue{queue=\"up\"} 3\n");
    depth = 41;
    assert_int_equal(wk_metric_value(g), 41);
    expect_render("# HELP wk_ingest_queue Frames waiting.\n# TYPE wk_ingest_queue gauge\n"
                  "wk_ingest_queue{queue=\"up\"} 41\n");
    /* a plain gauge cannot take over a computed series */
    assert_null(wk_metric_gauge("wk_ingest_queue", "Frames waiting.", "queue=\"up\""));
    assert_null(wk_metric_gauge_fn("x", "y", NULL, NULL, NULL));
    /* memory from the allocator: the value moves with allocations */
    wk_metric *m = wk_metric_gauge_fn("wk_memory_bytes", "Heap via wk_malloc.", NULL, live_bytes,
                                      NULL);
    int64_t before = wk_metric_value(m);
    void *p = wk_malloc(100000);
    assert_int_equal(wk_metric_value(m) - before, 100000);
    wk_free(p);
}

static void test_histogram(void **state)
{
    (void)state;
    static const double b[] = {0.5, 1, 2, 5};
    wk_metric *h = wk_metric_histogram("wk_close_latency_seconds", "Credit to confirmed close.",
                                       "mode=\"direct\"", b, 4);
    assert_non_null(h);
    const int64_t obs[] = {0, 500, 501, 1000, 3000, 10000, -5};
    for (size_t i = 0; i < sizeof obs / sizeof obs[0]; i++)
        wk_metric_observe_us(h, obs[i]);
    assert_int_equal(wk_metric_value(h), 7);
    assert_int_equal(wk_metric_sum_us(h), 15001);
    wk_metric *plain = wk_metric_histogram("wk_close_latency_seconds",
                                           "Credit to confirmed close.", NULL, b, 4);
    assert_non_null(plain);
    expect_render("# HELP wk_close_latency_seconds Credit to confirmed close.\n"
                  "# TYPE wk_close_latency_seconds histogram\n"
                  "wk_close_latency_seconds_bucket{mode=\"direct\",le=\"0.0005\"} 3\n"
                  "wk_close_latency_seconds_bucket{mode=\"direct\",le=\"0.001\"} 5\n"
                  "wk_close_latency_seconds_bucket{mode=\"direct\",le=\"0.002\"} 5\n"
                  "wk_close_latency_seconds_bucket{mode=\"direct\",le=\"0.005\"} 6\n"
                  "wk_close_latency_seconds_bucket{mode=\"direct\",le=\"+Inf\"} 7\n"
                  "wk_close_latency_seconds_sum{mode=\"direct\"} 0.015001\n"
                  "wk_close_latency_seconds_count{mode=\"direct\"} 7\n"
                  "wk_close_latency_seconds_bucket{le=\"0.0005\"} 0\n"
                  "wk_close_latency_seconds_bucket{le=\"0.001\"} 0\n"
                  "wk_close_latency_seconds_bucket{le=\"0.002\"} 0\n"
                  "wk_close_latency_seconds_bucket{le=\"0.005\"} 0\n"
                  "wk_close_latency_seconds_bucket{le=\"+Inf\"} 0\n"
                  "wk_close_latency_seconds_sum 0\n"
                  "wk_close_latency_seconds_count 0\n");
}

/* Checks the text format line by line, as a scraper would: every sample line belongs to
 * the family of the last TYPE line, every family has HELP then TYPE exactly once. */
static void test_default_buckets_line_by_line(void **state)
{
    (void)state;
    wk_metric *h = wk_metric_histogram("wk_http_request_duration_seconds", "Latency.",
                                       "route=\"/metrics\"", wk_metric_latency_ms,
                                       wk_metric_latency_ms_n);
    assert_non_null(h);
    assert_non_null(wk_metric_counter("wk_readings_total", "Readings.", NULL));
    wk_metric_observe_us(h, 7000);
    wk_metric_observe_us(h, 6000000);
    char *s = render();
    const char *want_le[] = {"0.0005", "0.001", "0.002", "0.005", "0.01", "0.02", "0.05",
                             "0.1",    "0.25",  "0.5",   "1",     "2.5",  "5",    "+Inf"};
    const int want_cum[] = {0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2};
    int bucket = 0, helps = 0, types = 0;
    char fam[128] = "";
    for (char *line = s, *nl; *line; line = nl + 1) {
        nl = strchr(line, '\n');
        assert_non_null(nl);
        *nl = '\0';
        if (strncmp(line, "# HELP ", 7) == 0) {
            helps++;
            continue;
        }
        if (strncmp(line, "# TYPE ", 7) == 0) {
            types++;
            assert_int_equal(sscanf(line, "# TYPE %127s", fam), 1);
            continue;
        }
        assert_int_equal(strncmp(line, fam, strlen(fam)), 0);
        char le[32];
        int cum;
        if (sscanf(line, "wk_http_request_duration_seconds_bucket{route=\"/metrics\",le=\"%31[^\"]\"} %d",
                   le, &cum) == 2) {
            assert_true(bucket < 14);
            assert_string_equal(le, want_le[bucket]);
            assert_int_equal(cum, want_cum[bucket]);
            bucket++;
        }
    }
    assert_int_equal(bucket, 14);
    assert_int_equal(helps, 2);
    assert_int_equal(types, 2);
    wk_free(s);
    s = render();
    assert_non_null(strstr(s, "wk_http_request_duration_seconds_sum{route=\"/metrics\"} 6.007\n"));
    assert_non_null(strstr(s, "wk_http_request_duration_seconds_count{route=\"/metrics\"} 2\n"));
    assert_non_null(strstr(s, "wk_readings_total 0\n"));
    wk_free(s);
}

static void test_help_escaping(void **state)
{
    (void)state;
    assert_non_null(wk_metric_gauge("wk_x", "a\\b\nc", NULL));
    expect_render("# HELP wk_x a\\\\b\\nc\n# TYPE wk_x gauge\nwk_x 0\n");
}

static void test_invalid(void **state)
{
    (void)state;
    static const double b[] = {1, 2};
    static const double dec[] = {2, 1};
    static const double fine[] = {0.0001};
    static const double zero[] = {0};
    assert_null(wk_metric_counter("", "h", NULL));
    assert_null(wk_metric_counter(NULL, "h", NULL));
    assert_null(wk_metric_counter("1abc", "h", NULL));
    assert_null(wk_metric_counter("a-b", "h", NULL));
    assert_null(wk_metric_counter("ok", "h", "outcome=confirmed"));
    assert_null(wk_metric_counter("ok", "h", "outcome=\"x"));
    assert_null(wk_metric_counter("ok", "h", "outcome=\"x\","));
    assert_null(wk_metric_counter("ok", "h", "=\"x\""));
    assert_null(wk_metric_counter("ok", "h", "a=\"x\"b=\"y\""));
    assert_null(wk_metric_counter("ok", "h", "a-b=\"x\""));
    assert_null(wk_metric_counter("ok", "h", "a=\"bad \\q escape\""));
    assert_non_null(wk_metric_counter("ok", "h", "a=\"x\",b=\"say \\\"hi\\\"\""));
    /* same name, other type or help */
    assert_null(wk_metric_gauge("ok", "h", NULL));
    assert_null(wk_metric_counter("ok", "other help", NULL));
    assert_null(wk_metric_histogram("h1", "h", NULL, dec, 2));
    assert_null(wk_metric_histogram("h1", "h", NULL, fine, 1));
    assert_null(wk_metric_histogram("h1", "h", NULL, zero, 1));
    assert_null(wk_metric_histogram("h1", "h", NULL, b, 0));
    assert_null(wk_metric_histogram("h1", "h", NULL, NULL, 2));
    assert_null(wk_metric_histogram("h1", "h", "le=\"1\"", b, 2));
    assert_non_null(wk_metric_histogram("h1", "h", NULL, b, 2));
    assert_null(wk_metric_histogram("h1", "h", "x=\"1\"", b, 1)); /* other bounds */
    /* updates on NULL are harmless */
    wk_metric_add(NULL, 1);
    wk_metric_set(NULL, 1);
    wk_metric_observe_us(NULL, 1);
    assert_int_equal(wk_metric_value(NULL), 0);
    assert_int_equal(wk_metrics_count(), 2);
}

static void test_bounds(void **state)
{
    (void)state;
    char labels[64];
    size_t made = 0;
    for (int i = 0; i < WK_METRICS_SERIES_MAX + 10; i++) {
        snprintf(labels, sizeof labels, "i=\"%d\"", i);
        if (wk_metric_counter("wk_many_total", "Many.", labels))
            made++;
    }
    assert_int_equal(made, WK_METRICS_SERIES_MAX);
    assert_null(wk_metric_counter("wk_other_total", "Other.", NULL));
    wk_metrics_reset();
    char name[32];
    made = 0;
    for (int i = 0; i < WK_METRICS_FAMILIES_MAX + 5; i++) {
        snprintf(name, sizeof name, "wk_f%d", i);
        if (wk_metric_gauge(name, "F.", NULL))
            made++;
    }
    assert_int_equal(made, WK_METRICS_FAMILIES_MAX);
    char big[WK_METRIC_LABELS_MAX + 8];
    memset(big, 'a', sizeof big);
    memcpy(big, "a=\"", 3);
    big[sizeof big - 2] = '"';
    big[sizeof big - 1] = '\0';
    assert_null(wk_metric_gauge("wk_f0", "F.", big));
}

#define THREADS 4
#define PER_THREAD 100000

typedef struct shared {
    wk_metric *c, *g, *h;
} shared;

static void *hammer(void *arg)
{
    shared *s = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        wk_metric_inc(s->c);
        wk_metric_add(s->g, (i & 1) ? 2 : -1);
        wk_metric_observe_us(s->h, i % 3000);
    }
    return NULL;
}

static void test_concurrent_updates(void **state)
{
    (void)state;
    shared s = {
        .c = wk_metric_counter("wk_c_total", "C.", NULL),
        .g = wk_metric_gauge("wk_g", "G.", NULL),
        .h = wk_metric_histogram("wk_h_seconds", "H.", NULL, wk_metric_latency_ms,
                                 wk_metric_latency_ms_n),
    };
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, hammer, &s), 0);
    /* render while they run: must not crash, each rendering is well formed */
    for (int k = 0; k < 20; k++) {
        char *r = render();
        assert_non_null(strstr(r, "# TYPE wk_h_seconds histogram\n"));
        wk_free(r);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(wk_metric_value(s.c), (int64_t)THREADS * PER_THREAD);
    assert_int_equal(wk_metric_value(s.g), (int64_t)THREADS * (PER_THREAD / 2));
    assert_int_equal(wk_metric_value(s.h), (int64_t)THREADS * PER_THREAD);
    int64_t sum = 0;
    for (int i = 0; i < PER_THREAD; i++)
        sum += i % 3000;
    assert_int_equal(wk_metric_sum_us(s.h), THREADS * sum);
    char *r = render();
    char want[128];
    snprintf(want, sizeof want, "wk_h_seconds_bucket{le=\"+Inf\"} %d\n", THREADS * PER_THREAD);
    assert_non_null(strstr(r, want));
    snprintf(want, sizeof want, "wk_c_total %d\n", THREADS * PER_THREAD);
    assert_non_null(strstr(r, want));
    wk_free(r);
}

static void test_render_oom(void **state)
{
    (void)state;
    assert_non_null(wk_metric_counter("wk_a_total", "A.", NULL));
    wk_mem_fail_after(1);
    char *s = NULL;
    size_t n = 0;
    assert_int_equal(wk_metrics_render(&s, &n), WK_ENOMEM);
    wk_mem_fail_after(0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_empty, setup),
        cmocka_unit_test_setup(test_counters_and_gauges_grouped, setup),
        cmocka_unit_test_setup(test_gauge_fn, setup),
        cmocka_unit_test_setup(test_histogram, setup),
        cmocka_unit_test_setup(test_default_buckets_line_by_line, setup),
        cmocka_unit_test_setup(test_help_escaping, setup),
        cmocka_unit_test_setup(test_invalid, setup),
        cmocka_unit_test_setup(test_bounds, setup),
        cmocka_unit_test_setup(test_concurrent_updates, setup),
        cmocka_unit_test_setup(test_render_oom, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
