/* http_test.c - src/api/http.c through real sockets: a server on 127.0.0.1:0 hit with
 * libcurl. Routing (exact, prefix, HEAD), JSON 404/405/413/500 bodies, query and header
 * access, POST body echo (sized and chunked), /metrics format and counts, concurrent
 * clients all answered, start-up errors, and shutdown. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#define CURL_DISABLE_TYPECHECK /* curl's gcc type-check macros fail to compile in this file (pragma errors) */
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api/http.h"
#include "core/mem.h"
#include "core/metrics.h"

/* ---- handlers ---- */

static int h_health(wk_http_req *req, wk_http_resp *resp, void *ctx)
{
    (void)req;
    (void)ctx;
    return wk_http_resp_json(resp, 200, "{\"ok\":true}") != WK_OK;
}

static int h_echo(wk_http_req *req, wk_http_resp *resp, void *ctx)
{
    (void)ctx;
    size_t len;
    const char *body = wk_http_req_body(req, &len);
    if (body[len] != '\0')
        return 1;
    char n[32];
    snprintf(n, sizeof n, "%zu", len);
    const char *ct = wk_http_req_header(req, "content-type");
    wk_http_resp_status(resp, 201);
    if (wk_http_resp_header(resp, "X-Echo-Len", n) != WK_OK)
        return 1;
    return wk_http_resp_body(resp, ct ? ct : "application/octet-stream", body, len) != WK_OK;
}

static int h_query(wk_http_req *req, wk_http_resp *resp, void *ctx)
{
    (void)ctx;
    char out[512];
    const char *a = wk_http_req_query(req, "a"), *b = wk_http_req_query(req, "b");
    const char *flag = wk_http_req_query(req, "flag"), *none = wk_http_req_query(req, "none");
    const char *hdr = wk_http_req_header(req, "X-Test");
    snprintf(out, sizeof out, "a=%s;b=%s;flag=%s;none=%s;hdr=%s;method=%s;path=%s",
             a ? a : "(null)", b ? b : "(null)", flag ? flag : "(null)", none ? none : "(null)",
             hdr ? hdr : "(null)", wk_http_req_method(req), wk_http_req_path(req));
    return wk_http_resp_body(resp, "text/plain", out, strlen(out)) != WK_OK;
}

static int h_rest(wk_http_req *req, wk_http_resp *resp, void *ctx)
{
    char out[256];
    snprintf(out, sizeof out, "%s:%s", (const char *)ctx, wk_http_req_path_rest(req));
    return wk_http_resp_body(resp, "text/plain", out, strlen(out)) != WK_OK;
}

static int h_fail(wk_http_req *req, wk_http_resp *resp, void *ctx)
{
    (void)req;
    (void)ctx;
    if (wk_http_resp_body(resp, "text/plain", "partial", 7) != WK_OK)
        return 1;
    return 7;
}

static int h_slow(wk_http_req *req, wk_http_resp *resp, void *ctx)
{
    (void)req;
    (void)ctx;
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
    return wk_http_resp_body(resp, "text/plain", "slow", 4) != WK_OK;
}

static int h_headers(wk_http_req *req, wk_http_resp *resp, void *ctx)
{
    (void)req;
    (void)ctx;
    if (wk_http_resp_header(resp, "X-Bad", "a\r\nInjected: 1") != WK_EINVAL)
        return 1;
    if (wk_http_resp_header(resp, "Bad:Name", "x") != WK_EINVAL)
        return 1;
    for (int i = 0; i < WK_HTTP_RESP_HEADERS_MAX; i++) {
        char n[16];
        snprintf(n, sizeof n, "X-H%d", i);
        if (wk_http_resp_header(resp, n, "v") != WK_OK)
            return 1;
    }
    if (wk_http_resp_header(resp, "X-Too-Many", "v") != WK_ELIMIT)
        return 1;
    return wk_http_resp_error(resp, 422, "invalid", "amount \"x\" is not a number", "amount_fen") !=
           WK_OK;
}

static const wk_http_route routes[] = {
    {"GET", "/healthz", h_health, NULL, 0, NULL},
    {"GET", "/metrics", wk_http_metrics_handler, NULL, 0, NULL},
    {"POST", "/echo", h_echo, NULL, 64, NULL},
    {"PUT", "/echo", h_echo, NULL, 0, "echo-put"},
    {"GET", "/q", h_query, NULL, 0, NULL},
    {"GET", "/api/v1/*", h_rest, "prefix", 0, NULL},
    {"GET", "/api/v1/meters", h_rest, "exact", 0, NULL},
    {"GET", "/api/v1/meters/*", h_rest, "longer", 0, NULL},
    {"GET", "/fail", h_fail, NULL, 0, NULL},
    {"GET", "/slow", h_slow, NULL, 0, NULL},
    {"GET", "/headers", h_headers, NULL, 0, NULL},
};

static wk_http *srv;
static int port;

static int start_server(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    wk_http_opts o = wk_http_opts_default();
    o.port = 0;
    o.threads = 2;
    o.body_max_default = 1000;
    wk_diag d = {{0}};
    if (wk_http_start(&o, routes, sizeof routes / sizeof routes[0], &srv, &d) != WK_OK) {
        fprintf(stderr, "start: %s\n", d.msg);
        return -1;
    }
    port = wk_http_port(srv);
    return port > 0 ? 0 : -1;
}

static int stop_server(void **state)
{
    (void)state;
    wk_http_stop(srv);
    curl_global_cleanup();
    return 0;
}

/* ---- a small libcurl client ---- */

typedef struct reply {
    long status;
    char body[1 << 17];
    size_t len;
    char headers[4096];
    size_t hlen;
    CURLcode rc;
} reply;

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    reply *r = ud;
    size_t k = sz * n;
    if (r->len + k < sizeof r->body) {
        memcpy(r->body + r->len, p, k);
        r->len += k;
        r->body[r->len] = '\0';
    }
    return k;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    reply *r = ud;
    size_t k = sz * n;
    if (r->hlen + k < sizeof r->headers) {
        memcpy(r->headers + r->hlen, p, k);
        r->hlen += k;
        r->headers[r->hlen] = '\0';
    }
    return k;
}

typedef struct upload {
    const char *data;
    size_t len, off;
} upload;

static size_t on_read(char *buf, size_t sz, size_t n, void *ud)
{
    upload *u = ud;
    size_t k = sz * n;
    if (k > u->len - u->off)
        k = u->len - u->off;
    if (k > 10)
        k = 10; /* small chunks */
    memcpy(buf, u->data + u->off, k);
    u->off += k;
    return k;
}

/* method NULL = GET; body with len, or chunked when chunked is true. */
static void request(reply *r, const char *method, const char *path, const char *body, size_t len,
                    bool chunked, const char *header)
{
    memset(r, 0, sizeof *r);
    CURL *c = curl_easy_init();
    char url[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    struct curl_slist *h = NULL;
    if (header)
        h = curl_slist_append(h, header);
    upload u = {body, len, 0};
    if (method && strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (method && strcmp(method, "GET") != 0) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        if (chunked) {
            curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
            curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
            curl_easy_setopt(c, CURLOPT_READDATA, &u);
            h = curl_slist_append(h, "Transfer-Encoding: chunked");
            h = curl_slist_append(h, "Expect:");
        } else if (body) {
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
        }
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    r->rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
}

static void get(reply *r, const char *path)
{
    request(r, NULL, path, NULL, 0, false, NULL);
}

/* The JSON error body of the API contract. */
static void expect_error(const reply *r, long status, const char *code, const char *field)
{
    assert_int_equal(r->rc, CURLE_OK);
    assert_int_equal(r->status, status);
    assert_non_null(strstr(r->headers, "Content-Type: application/json"));
    json_error_t je;
    json_t *j = json_loads(r->body, JSON_REJECT_DUPLICATES, &je);
    assert_non_null(j);
    json_t *e = json_object_get(j, "error");
    assert_true(json_is_object(e));
    assert_int_equal(json_object_size(e), 3);
    assert_string_equal(json_string_value(json_object_get(e, "code")), code);
    assert_true(json_is_string(json_object_get(e, "message")));
    assert_true(strlen(json_string_value(json_object_get(e, "message"))) > 0);
    json_t *f = json_object_get(e, "field");
    if (field)
        assert_string_equal(json_string_value(f), field);
    else
        assert_true(json_is_null(f));
    json_decref(j);
}

/* ---- tests ---- */

static void test_routing(void **state)
{
    (void)state;
    reply r;
    get(&r, "/healthz");
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"ok\":true}");
    assert_non_null(strstr(r.headers, "Content-Type: application/json"));
    assert_non_null(strstr(r.headers, "X-Content-Type-Options: nosniff"));

    get(&r, "/nope");
    expect_error(&r, 404, "not_found", NULL);
    assert_non_null(strstr(r.body, "/nope"));
    get(&r, "/healthz/");
    expect_error(&r, 404, "not_found", NULL);

    request(&r, "POST", "/healthz", "x", 1, false, NULL);
    expect_error(&r, 405, "method_not_allowed", NULL);
    assert_non_null(strstr(r.headers, "Allow: GET"));
    request(&r, "DELETE", "/echo", NULL, 0, false, NULL);
    expect_error(&r, 405, "method_not_allowed", NULL);
    assert_non_null(strstr(r.headers, "Allow: POST, PUT"));

    /* exact beats prefix, the longer prefix beats the shorter */
    get(&r, "/api/v1/meters");
    assert_string_equal(r.body, "exact:");
    get(&r, "/api/v1/meters/000000000042");
    assert_string_equal(r.body, "longer:000000000042");
    get(&r, "/api/v1/accounts/7");
    assert_string_equal(r.body, "prefix:accounts/7");
    get(&r, "/api/v1");
    expect_error(&r, 404, "not_found", NULL);

    /* HEAD follows GET, without a body */
    request(&r, "HEAD", "/healthz", NULL, 0, false, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, 0);

    /* a failing handler: 500 with the JSON body, nothing of what it had set */
    get(&r, "/fail");
    expect_error(&r, 500, "internal_error", NULL);
    assert_null(strstr(r.body, "partial"));

    /* response helpers: bad headers refused, header limit, an error with a field */
    get(&r, "/headers");
    expect_error(&r, 422, "invalid", "amount_fen");
    assert_null(strstr(r.headers, "Injected"));
    assert_non_null(strstr(r.headers, "X-H15: v"));
    assert_non_null(strstr(r.body, "amount \\\"x\\\" is not a number"));
}

static void test_query_and_headers(void **state)
{
    (void)state;
    reply r;
    request(&r, NULL, "/q?a=1&b=x%20y%26z&flag&a=2", NULL, 0, false, "X-Test: hello");
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body,
                        "a=1;b=x y&z;flag=;none=(null);hdr=hello;method=GET;path=/q");
    get(&r, "/q");
    assert_string_equal(r.body, "a=(null);b=(null);flag=(null);none=(null);hdr=(null);"
                                "method=GET;path=/q");
}

static void test_bodies(void **state)
{
    (void)state;
    reply r;
    char body[200];
    for (size_t i = 0; i < sizeof body; i++)
        body[i] = (char)('a' + i % 26);
    body[10] = '\0'; /* binary-safe: an embedded NUL */

    request(&r, "POST", "/echo", body, 64, false, "Content-Type: application/x-test");
    assert_int_equal(r.status, 201);
    assert_int_equal(r.len, 64);
    assert_memory_equal(r.body, body, 64);
    assert_non_null(strstr(r.headers, "X-Echo-Len: 64"));
    assert_non_null(strstr(r.headers, "Content-Type: application/x-test"));

    /* one byte above the route's limit: 413, known from Content-Length */
    request(&r, "POST", "/echo", body, 65, false, NULL);
    expect_error(&r, 413, "payload_too_large", NULL);
    assert_non_null(strstr(r.body, "64 bytes"));

    /* chunked: the size is only known while reading */
    request(&r, "POST", "/echo", body, 60, true, NULL);
    assert_int_equal(r.status, 201);
    assert_non_null(strstr(r.headers, "X-Echo-Len: 60"));
    request(&r, "POST", "/echo", body, 200, true, NULL);
    expect_error(&r, 413, "payload_too_large", NULL);

    /* the server default (1000 bytes) applies to routes without their own limit */
    static char big[1001];
    memset(big, 'b', sizeof big);
    request(&r, "PUT", "/echo", big, 1000, false, NULL);
    assert_int_equal(r.status, 201);
    assert_int_equal(r.len, 1000);
    request(&r, "PUT", "/echo", big, 1001, false, NULL);
    expect_error(&r, 413, "payload_too_large", NULL);

    /* an empty body */
    request(&r, "POST", "/echo", "", 0, false, NULL);
    assert_int_equal(r.status, 201);
    assert_non_null(strstr(r.headers, "X-Echo-Len: 0"));
}

static long metric_value(const char *text, const char *series)
{
    char want[256];
    snprintf(want, sizeof want, "\n%s ", series);
    const char *p = strstr(text, want);
    if (!p)
        return -1;
    return strtol(p + strlen(want), NULL, 10);
}

static void test_metrics(void **state)
{
    (void)state;
    reply r;
    get(&r, "/metrics");
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.headers, "Content-Type: text/plain; version=0.0.4; charset=utf-8"));
    long ok0 = metric_value(r.body, "wk_http_requests_total{route=\"GET /healthz\",status=\"200\"}");
    if (ok0 < 1)
        fprintf(stderr, "%s\n", r.body);
    long nf0 = metric_value(r.body, "wk_http_requests_total{route=\"unmatched\",status=\"404\"}");
    assert_true(ok0 >= 1);
    assert_true(nf0 >= 1);
    for (int i = 0; i < 3; i++)
        get(&r, "/healthz");
    get(&r, "/nothing-here");
    get(&r, "/metrics");
    assert_int_equal(metric_value(r.body, "wk_http_requests_total{route=\"GET /healthz\",status=\"200\"}"),
                     ok0 + 3);
    assert_int_equal(metric_value(r.body, "wk_http_requests_total{route=\"unmatched\",status=\"404\"}"),
                     nf0 + 1);
    assert_true(metric_value(r.body, "wk_http_requests_total{route=\"echo-put\",status=\"413\"}") >= 1);
    /* the histogram: +Inf equals _count, buckets never decrease */
    long inf = metric_value(r.body, "wk_http_request_duration_seconds_bucket{route=\"GET /healthz\",le=\"+Inf\"}");
    long cnt = metric_value(r.body, "wk_http_request_duration_seconds_count{route=\"GET /healthz\"}");
    assert_int_equal(inf, cnt);
    assert_true(cnt >= ok0 + 3);
    const char *les[] = {"0.0005", "0.001", "0.002", "0.005", "0.01", "0.02", "0.05",
                         "0.1",    "0.25",  "0.5",   "1",     "2.5",  "5",    "+Inf"};
    long prev = 0;
    for (size_t i = 0; i < sizeof les / sizeof les[0]; i++) {
        char s[160];
        snprintf(s, sizeof s, "wk_http_request_duration_seconds_bucket{route=\"GET /healthz\",le=\"%s\"}",
                 les[i]);
        long v = metric_value(r.body, s);
        assert_true(v >= prev);
        prev = v;
    }
    /* HELP and TYPE once per family */
    int types = 0;
    for (const char *p = r.body; (p = strstr(p, "# TYPE wk_http_requests_total ")); p++)
        types++;
    assert_int_equal(types, 1);
    assert_non_null(strstr(r.body, "# TYPE wk_http_request_duration_seconds histogram\n"));
}

#define CLIENTS 8
#define PER_CLIENT 25

static void *client(void *arg)
{
    int *ok = arg;
    for (int i = 0; i < PER_CLIENT; i++) {
        reply r;
        get(&r, (i % 5 == 0) ? "/slow" : "/healthz");
        if (r.rc == CURLE_OK && r.status == 200)
            (*ok)++;
    }
    return NULL;
}

static void test_concurrent_clients(void **state)
{
    (void)state;
    reply r;
    get(&r, "/metrics");
    long before = metric_value(r.body, "wk_http_requests_total{route=\"GET /healthz\",status=\"200\"}");
    long slow_before = metric_value(r.body, "wk_http_requests_total{route=\"GET /slow\",status=\"200\"}");
    if (slow_before < 0)
        slow_before = 0;
    pthread_t t[CLIENTS];
    int ok[CLIENTS] = {0};
    for (int i = 0; i < CLIENTS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, client, &ok[i]), 0);
    for (int i = 0; i < CLIENTS; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < CLIENTS; i++)
        assert_int_equal(ok[i], PER_CLIENT);
    get(&r, "/metrics");
    long after = metric_value(r.body, "wk_http_requests_total{route=\"GET /healthz\",status=\"200\"}");
    long slow = metric_value(r.body, "wk_http_requests_total{route=\"GET /slow\",status=\"200\"}");
    assert_int_equal(after - before, CLIENTS * PER_CLIENT * 4 / 5);
    assert_int_equal(slow - slow_before, CLIENTS * PER_CLIENT / 5);
}

static void test_start_errors(void **state)
{
    (void)state;
    wk_http_opts o = wk_http_opts_default();
    o.port = 0;
    wk_http *h = NULL;
    wk_diag d = {{0}};
    wk_http_route bad[2] = {{"GET", "/a", h_health, NULL, 0, NULL}};

    bad[0].handler = NULL;
    assert_int_equal(wk_http_start(&o, bad, 1, &h, &d), WK_EINVAL);
    assert_non_null(strstr(d.msg, "no handler"));
    bad[0] = (wk_http_route){"GET", "a", h_health, NULL, 0, NULL};
    assert_int_equal(wk_http_start(&o, bad, 1, &h, &d), WK_EINVAL);
    assert_non_null(strstr(d.msg, "must start with '/'"));
    bad[0] = (wk_http_route){"get", "/a", h_health, NULL, 0, NULL};
    assert_int_equal(wk_http_start(&o, bad, 1, &h, &d), WK_EINVAL);
    assert_non_null(strstr(d.msg, "method 'get'"));
    bad[0] = (wk_http_route){"GET", "/a*/b", h_health, NULL, 0, NULL};
    assert_int_equal(wk_http_start(&o, bad, 1, &h, &d), WK_EINVAL);
    assert_non_null(strstr(d.msg, "only at the end"));
    bad[0] = (wk_http_route){"GET", "/a", h_health, NULL, 0, NULL};
    bad[1] = bad[0];
    assert_int_equal(wk_http_start(&o, bad, 2, &h, &d), WK_EINVAL);
    assert_non_null(strstr(d.msg, "registered twice"));

    wk_http_opts o2 = o;
    o2.threads = 0;
    assert_int_equal(wk_http_start(&o2, bad, 1, &h, &d), WK_EINVAL);
    assert_non_null(strstr(d.msg, "threads"));
    o2 = o;
    o2.timeout_s = 0;
    assert_int_equal(wk_http_start(&o2, bad, 1, &h, &d), WK_EINVAL);
    assert_non_null(strstr(d.msg, "timeout_s"));

    /* the port of the running server is taken */
    o2 = o;
    o2.port = (uint16_t)port;
    assert_int_equal(wk_http_start(&o2, bad, 1, &h, &d), WK_EIO);
    assert_non_null(strstr(d.msg, "cannot listen"));
    o2.host = "no-such-host.invalid";
    assert_int_equal(wk_http_start(&o2, bad, 1, &h, &d), WK_EIO);
    assert_non_null(strstr(d.msg, "resolve"));
}

static void test_ipv6_and_stop(void **state)
{
    (void)state;
    wk_http_opts o = wk_http_opts_default();
    o.port = 0;
    o.threads = 1;
    wk_http *h = NULL;
    wk_diag d = {{0}};
    wk_http_route one[] = {{"GET", "/healthz", h_health, NULL, 0, NULL}};
    assert_int_equal(wk_http_start(&o, one, 1, &h, &d), WK_OK);
    int p = wk_http_port(h);
    assert_true(p > 0 && p != port);
    int saved = port;
    port = p;
    reply r;
    get(&r, "/healthz");
    assert_int_equal(r.status, 200);
    wk_http_stop(h);
    get(&r, "/healthz");
    assert_int_equal(r.rc, CURLE_COULDNT_CONNECT);
    port = saved;
    wk_http_stop(NULL);

    o.host = "::1";
    if (wk_http_start(&o, one, 1, &h, &d) == WK_OK) { /* no IPv6 on this host: skip */
        char url[64];
        snprintf(url, sizeof url, "http://[::1]:%d/healthz", wk_http_port(h));
        CURL *c = curl_easy_init();
        reply r6;
        memset(&r6, 0, sizeof r6);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &r6);
        assert_int_equal(curl_easy_perform(c), CURLE_OK);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r6.status);
        curl_easy_cleanup(c);
        assert_int_equal(r6.status, 200);
        wk_http_stop(h);
    }
}

/* ---- streams ---- */

static pthread_mutex_t st_mu = PTHREAD_MUTEX_INITIALIZER;
static int st_produced;   /* items made by the ticks */
static int st_ticks;
static int st_dones;      /* done() calls */

static void st_tick(void *ctx)
{
    (void)ctx;
    pthread_mutex_lock(&st_mu);
    st_produced++;
    st_ticks++;
    pthread_mutex_unlock(&st_mu);
}

typedef struct st_state {
    int next;  /* the next item to send */
    int limit; /* end after this many; 0 = never */
    int sent;
} st_state;

static long st_pull(void *ctx, char *buf, size_t cap)
{
    st_state *s = ctx;
    pthread_mutex_lock(&st_mu);
    int avail = st_produced;
    pthread_mutex_unlock(&st_mu);
    if (s->limit && s->sent == s->limit)
        return -1;
    if (s->next >= avail)
        return 0; /* sleeps until the ticker's next round */
    int n = snprintf(buf, cap, "data: item %d\n\n", s->sent);
    s->next++;
    s->sent++;
    return n;
}

static void st_done(void *ctx)
{
    wk_free(ctx);
    pthread_mutex_lock(&st_mu);
    st_dones++;
    pthread_mutex_unlock(&st_mu);
}

/* done() runs when the server has finished with the connection, which may be just after the
 * client has read the whole answer: waits up to ms for `want` calls, returns the count. */
static int st_wait_dones(int want, int ms)
{
    int n = 0;
    for (int i = 0; i <= ms / 10; i++) {
        pthread_mutex_lock(&st_mu);
        n = st_dones;
        pthread_mutex_unlock(&st_mu);
        if (n >= want)
            break;
        struct timespec w = {0, 10000000};
        nanosleep(&w, NULL);
    }
    return n;
}

static int h_stream(wk_http_req *req, wk_http_resp *resp, void *ctx)
{
    st_state *s = wk_calloc(1, sizeof *s);
    if (!s)
        return 1;
    s->limit = (int)(intptr_t)ctx;
    pthread_mutex_lock(&st_mu);
    s->next = st_produced;
    pthread_mutex_unlock(&st_mu);
    if (wk_http_resp_header(resp, "X-Stream", "yes"))
        return 1;
    return wk_http_resp_stream(resp, "text/event-stream", st_pull, st_done, s, st_tick, NULL) ? 1 : 0;
}

static int h_stream_fail(wk_http_req *req, wk_http_resp *resp, void *ctx)
{
    st_state *s = wk_calloc(1, sizeof *s);
    if (!s || wk_http_resp_stream(resp, "text/event-stream", st_pull, st_done, s, st_tick, NULL))
        return 1;
    return 1; /* fails after setting a stream: done() must still run, and a 500 go out */
}

static void test_stream(void **state)
{
    (void)state;
    wk_http_opts o = wk_http_opts_default();
    o.port = 0;
    o.threads = 2;
    wk_http *h = NULL;
    wk_diag d = {{0}};
    wk_http_route rs[] = {{"GET", "/three", h_stream, (void *)(intptr_t)3, 0, NULL},
                          {"GET", "/endless", h_stream, NULL, 0, NULL},
                          {"GET", "/fail", h_stream_fail, NULL, 0, NULL}};
    assert_int_equal(wk_http_start(&o, rs, 3, &h, &d), WK_OK);
    int saved = port;
    port = wk_http_port(h);

    /* three items, one per tick: the body arrives over ~3 ticks, then the stream ends */
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    reply *r = calloc(1, sizeof *r);
    get(r, "/three");
    clock_gettime(CLOCK_MONOTONIC, &b);
    double secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    assert_int_equal(r->status, 200);
    assert_string_equal(r->body, "data: item 0\n\ndata: item 1\n\ndata: item 2\n\n");
    assert_non_null(strstr(r->headers, "Content-Type: text/event-stream"));
    assert_non_null(strstr(r->headers, "X-Stream: yes"));
    assert_non_null(strstr(r->headers, "Cache-Control: no-cache"));
    assert_true(secs > 1.5 && secs < 10);
    assert_int_equal(st_wait_dones(1, 3000), 1);

    /* a handler that fails after setting a stream: 500, and done() ran */
    get(r, "/fail");
    assert_int_equal(r->status, 500);
    assert_int_equal(st_wait_dones(2, 3000), 2);

    /* endless streams while the server stops: stop ends them all and returns promptly */
    int fds[3];
    for (int i = 0; i < 3; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_int_equal(connect(fds[i], (struct sockaddr *)&sa, sizeof sa), 0);
        const char *rq = "GET /endless HTTP/1.1\r\nHost: x\r\n\r\n";
        assert_int_equal(write(fds[i], rq, strlen(rq)), (ssize_t)strlen(rq));
        char buf[512];
        assert_true(read(fds[i], buf, sizeof buf) > 0); /* the headers */
    }
    /* one client goes away: noticed at the next write, done() runs */
    close(fds[2]);
    struct timespec w = {2, 500000000};
    nanosleep(&w, NULL);
    clock_gettime(CLOCK_MONOTONIC, &a);
    wk_http_stop(h);
    clock_gettime(CLOCK_MONOTONIC, &b);
    secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    assert_true(secs < 3);
    pthread_mutex_lock(&st_mu);
    assert_int_equal(st_dones, 5);
    assert_true(st_ticks >= 3);
    pthread_mutex_unlock(&st_mu);
    for (int i = 0; i < 2; i++)
        close(fds[i]);
    free(r);
    port = saved;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routing),       cmocka_unit_test(test_query_and_headers),
        cmocka_unit_test(test_bodies),        cmocka_unit_test(test_metrics),
        cmocka_unit_test(test_concurrent_clients), cmocka_unit_test(test_start_errors),
        cmocka_unit_test(test_ipv6_and_stop), cmocka_unit_test(test_stream),
    };
    return cmocka_run_group_tests(tests, start_server, stop_server);
}
