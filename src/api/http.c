/*
 * http.c - the libmicrohttpd layer described in http.h: route matching, body collection
 * with a hard per-route cap, JSON error answers, response building and request metrics.
 *
 * MHD calls the access handler at least twice per request: once with the headers (we
 * match the route and may answer 404/405/413 at once, before any body is read), then
 * with body chunks (collected up to the route's limit; beyond it they are counted and
 * dropped, and after WK_HTTP_DISCARD_MAX dropped bytes the connection is closed), then a
 * last time with *upload_data_size == 0 (we run the handler and queue the answer). The
 * per-request state lives from the first call until MHD's completion callback frees it,
 * also when the client goes away mid-request.
 *
 * Streams (wk_http_resp_stream) use MHD's content-reader responses with suspend/resume: a
 * reader with nothing to send suspends its connection (no thread, no polling) and the
 * ticker thread resumes every suspended stream after each round of ticks (WK_HTTP_TICK_MS).
 * MHD must never be stopped with a suspended connection, so wk_http_stop first marks the
 * server stopping (readers then end their streams instead of suspending), resumes them all
 * and joins the ticker, all under `smu`, the lock that also covers every suspend.
 */
#include "api/http.h"

#include <jansson.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "core/log.h"
#include "core/mem.h"
#include "core/metrics.h"

#define WK_HTTP_DISCARD_MAX (1u << 20) /* body bytes dropped after a 413 before closing */
#define WK_HTTP_BODY_CAP_MAX (64u << 20)
#define STATUS_SLOTS 16

typedef struct route_rt {
    wk_http_route r;
    bool prefix;       /* path ends in '*' */
    size_t match_len;  /* exact: strlen(path); prefix: without the '*' */
    char name[128];    /* metrics label value, escaped */
    wk_metric *latency;
    struct {
        _Atomic int status;
        wk_metric *_Atomic m;
    } by_status[STATUS_SLOTS];
} route_rt;

typedef struct http_stream {
    struct wk_http *h;
    struct MHD_Connection *conn;
    wk_http_pull pull;
    wk_http_done done;
    void *ctx;
    wk_http_tick tick;
    void *tick_ctx;
    bool suspended; /* under h->smu */
    struct http_stream *prev, *next;
} http_stream;

struct wk_http {
    struct MHD_Daemon *daemon;
    pthread_mutex_t smu; /* streams, stopping, every suspend and resume */
    pthread_cond_t tcv;  /* wakes the ticker at stop */
    http_stream *streams;
    bool stopping;
    bool ticker_on;
    pthread_t ticker;
    route_rt *routes;
    size_t n_routes;
    route_rt unmatched; /* metrics of 404/405 */
    size_t body_max_default;
    int port;
};

struct wk_http_req {
    wk_http *h;
    struct MHD_Connection *conn;
    const char *method;
    const char *path;
    route_rt *route;
    char *body;
    size_t len, cap, limit;
    size_t discarded;
    bool too_large;
    bool answered;
    struct timespec start;
};

struct wk_http_resp {
    int status;
    char *ctype;
    struct {
        char *name, *value;
    } hdr[WK_HTTP_RESP_HEADERS_MAX];
    size_t n_hdr;
    char *body;
    size_t len;
    /* a stream instead of a body (wk_http_resp_stream) */
    wk_http_pull pull;
    wk_http_done done;
    void *sctx;
    wk_http_tick tick;
    void *tick_ctx;
};

wk_http_opts wk_http_opts_default(void)
{
    return (wk_http_opts){.host = "127.0.0.1", .port = 8080, .threads = 4, .timeout_s = 30,
                          .conn_memory_bytes = 128 * 1024, .conn_max = 1024,
                          .body_max_default = 1u << 20};
}

/* ---- metrics ---- */

/* Escapes a label value (backslash, quote, newline), bounded. */
static void http__label_value(const char *s, char *out, size_t n)
{
    size_t k = 0;
    for (; *s && k + 3 < n; s++) {
        if (*s == '\\' || *s == '"') {
            out[k++] = '\\';
            out[k++] = *s;
        } else if (*s == '\n') {
            out[k++] = '\\';
            out[k++] = 'n';
        } else {
            out[k++] = *s;
        }
    }
    out[k] = '\0';
}

static wk_metric *http__status_metric(route_rt *rt, int status)
{
    for (size_t i = 0; i < STATUS_SLOTS; i++) {
        int s = atomic_load(&rt->by_status[i].status);
        if (s == status) {
            wk_metric *m = atomic_load(&rt->by_status[i].m);
            if (m)
                return m;
            break; /* being filled by another thread: register below (idempotent) */
        }
        if (s == 0) {
            int zero = 0;
            if (atomic_compare_exchange_strong(&rt->by_status[i].status, &zero, status)) {
                char labels[200];
                snprintf(labels, sizeof labels, "route=\"%s\",status=\"%d\"", rt->name, status);
                wk_metric *m = wk_metric_counter("wk_http_requests_total",
                                                 "HTTP requests answered, by route and status.",
                                                 labels);
                atomic_store(&rt->by_status[i].m, m);
                return m;
            }
            if (zero == status) {
                wk_metric *m = atomic_load(&rt->by_status[i].m);
                if (m)
                    return m;
                break;
            }
        }
    }
    char labels[200];
    snprintf(labels, sizeof labels, "route=\"%s\",status=\"%d\"", rt->name, status);
    return wk_metric_counter("wk_http_requests_total",
                             "HTTP requests answered, by route and status.", labels);
}

static void http__init_metrics(route_rt *rt)
{
    char labels[160];
    snprintf(labels, sizeof labels, "route=\"%s\"", rt->name);
    rt->latency = wk_metric_histogram("wk_http_request_duration_seconds",
                                      "Time from request headers to queued answer, by route.",
                                      labels, wk_metric_latency_ms, wk_metric_latency_ms_n);
}

/* ---- responses ---- */

static void http__resp_clear(wk_http_resp *r)
{
    if (r->done)
        r->done(r->sctx);
    wk_free(r->ctype);
    wk_free(r->body);
    for (size_t i = 0; i < r->n_hdr; i++) {
        wk_free(r->hdr[i].name);
        wk_free(r->hdr[i].value);
    }
    memset(r, 0, sizeof *r);
    r->status = 200;
}

void wk_http_resp_status(wk_http_resp *r, int status)
{
    if (status >= 100 && status <= 599)
        r->status = status;
}

static bool http__header_text_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > WK_HTTP_HEADER_MAX)
        return false;
    return strpbrk(s, "\r\n") == NULL;
}

wk_err wk_http_resp_header(wk_http_resp *r, const char *name, const char *value)
{
    if (!name || !value || !http__header_text_ok(name) ||
        (value[0] && !http__header_text_ok(value)) || strchr(name, ':'))
        return WK_EINVAL;
    if (r->n_hdr == WK_HTTP_RESP_HEADERS_MAX)
        return WK_ELIMIT;
    char *n = wk_strdup(name), *v = wk_strdup(value);
    if (!n || !v) {
        wk_free(n);
        wk_free(v);
        return WK_ENOMEM;
    }
    r->hdr[r->n_hdr].name = n;
    r->hdr[r->n_hdr].value = v;
    r->n_hdr++;
    return WK_OK;
}

wk_err wk_http_resp_stream(wk_http_resp *r, const char *content_type, wk_http_pull pull,
                           wk_http_done done, void *ctx, wk_http_tick tick, void *tick_ctx)
{
    char *ct = wk_strdup(content_type ? content_type : "application/octet-stream");
    if (!ct) {
        if (done)
            done(ctx);
        return WK_ENOMEM;
    }
    if (r->done)
        r->done(r->sctx);
    wk_free(r->ctype);
    wk_free(r->body);
    r->ctype = ct;
    r->body = NULL;
    r->len = 0;
    r->pull = pull;
    r->done = done;
    r->sctx = ctx;
    r->tick = tick;
    r->tick_ctx = tick_ctx;
    return WK_OK;
}

wk_err wk_http_resp_body_take(wk_http_resp *r, const char *content_type, char *body, size_t len)
{
    char *ct = wk_strdup(content_type ? content_type : "application/octet-stream");
    if (!ct) {
        wk_free(body);
        return WK_ENOMEM;
    }
    if (r->done)
        r->done(r->sctx);
    r->done = NULL;
    r->pull = NULL;
    wk_free(r->ctype);
    wk_free(r->body);
    r->ctype = ct;
    r->body = body;
    r->len = body ? len : 0;
    return WK_OK;
}

wk_err wk_http_resp_body(wk_http_resp *r, const char *content_type, const void *body, size_t len)
{
    char *copy = wk_malloc(len ? len : 1);
    if (!copy)
        return WK_ENOMEM;
    if (len)
        memcpy(copy, body, len);
    return wk_http_resp_body_take(r, content_type, copy, len);
}

wk_err wk_http_resp_json(wk_http_resp *r, int status, const char *json)
{
    wk_http_resp_status(r, status);
    return wk_http_resp_body(r, "application/json", json, strlen(json));
}

wk_err wk_http_resp_error(wk_http_resp *r, int status, const char *code, const char *message,
                          const char *field)
{
    json_t *j = json_pack("{s:{s:s,s:s,s:o}}", "error", "code", code ? code : "error",
                          "message", message ? message : "", "field",
                          field ? json_string(field) : json_null());
    if (!j)
        return WK_ENOMEM; /* also: a string that is not valid UTF-8 */
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!s)
        return WK_ENOMEM;
    wk_err e = wk_http_resp_json(r, status, s);
    free(s); /* jansson's allocation */
    return e;
}

static void http__free_body(void *p)
{
    wk_free(p);
}

static int64_t http__elapsed_us(const struct timespec *a)
{
    struct timespec b;
    clock_gettime(CLOCK_MONOTONIC, &b);
    return (int64_t)(b.tv_sec - a->tv_sec) * 1000000 + (b.tv_nsec - a->tv_nsec) / 1000;
}

/* ---- streams ---- */

/* MHD's content reader: pulls from the stream, or suspends the connection when there is
 * nothing to send (resumed by the ticker or wk_http_stop). */
static ssize_t http__stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    http_stream *s = cls;
    wk_http *h = s->h;
    pthread_mutex_lock(&h->smu);
    long n = h->stopping ? -1 : s->pull(s->ctx, buf, max);
    if (n == 0) {
        MHD_suspend_connection(s->conn);
        s->suspended = true;
    }
    pthread_mutex_unlock(&h->smu);
    if (n < 0)
        return MHD_CONTENT_READER_END_OF_STREAM;
    return (ssize_t)(n > (long)max ? (long)max : n);
}

/* MHD frees the response: the connection is finished with it (never while suspended). */
static void http__stream_free(void *cls)
{
    http_stream *s = cls;
    wk_http *h = s->h;
    pthread_mutex_lock(&h->smu);
    if (s->prev)
        s->prev->next = s->next;
    else if (h->streams == s)
        h->streams = s->next;
    if (s->next)
        s->next->prev = s->prev;
    pthread_mutex_unlock(&h->smu);
    s->done(s->ctx);
    wk_free(s);
}

/* Resumes every suspended stream; caller holds smu. */
static void http__resume_all(wk_http *h)
{
    for (http_stream *s = h->streams; s; s = s->next)
        if (s->suspended) {
            s->suspended = false;
            MHD_resume_connection(s->conn);
        }
}

static void *http__ticker(void *arg)
{
    wk_http *h = arg;
    pthread_mutex_lock(&h->smu);
    while (!h->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += WK_HTTP_TICK_MS / 1000;
        until.tv_nsec += (long)(WK_HTTP_TICK_MS % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&h->tcv, &h->smu, &until);
        if (h->stopping)
            break;
        /* the distinct ticks of the open streams, called without the lock */
        enum { TICKS_MAX = 8 };
        struct {
            wk_http_tick fn;
            void *ctx;
        } ticks[TICKS_MAX];
        size_t nt = 0;
        for (http_stream *s = h->streams; s; s = s->next) {
            if (!s->tick)
                continue;
            size_t i = 0;
            while (i < nt && !(ticks[i].fn == s->tick && ticks[i].ctx == s->tick_ctx))
                i++;
            if (i == nt && nt < TICKS_MAX) {
                ticks[nt].fn = s->tick;
                ticks[nt].ctx = s->tick_ctx;
                nt++;
            }
        }
        pthread_mutex_unlock(&h->smu);
        for (size_t i = 0; i < nt; i++)
            ticks[i].fn(ticks[i].ctx);
        pthread_mutex_lock(&h->smu);
        if (!h->stopping)
            http__resume_all(h);
    }
    pthread_mutex_unlock(&h->smu);
    return NULL;
}

/* Queues a stream answer (rs->pull set); rs is emptied, its done() handed to the stream. */
static struct MHD_Response *http__stream_response(wk_http_req *rq, wk_http_resp *rs)
{
    http_stream *s = wk_calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->h = rq->h;
    s->conn = rq->conn;
    s->pull = rs->pull;
    s->done = rs->done;
    s->ctx = rs->sctx;
    s->tick = rs->tick;
    s->tick_ctx = rs->tick_ctx;
    struct MHD_Response *m =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, http__stream_read, s,
                                          http__stream_free);
    if (!m) {
        wk_free(s);
        return NULL;
    }
    rs->done = NULL; /* the stream's now: http__stream_free calls it */
    rs->pull = NULL;
    wk_http *h = rq->h;
    pthread_mutex_lock(&h->smu);
    s->next = h->streams;
    if (h->streams)
        h->streams->prev = s;
    h->streams = s;
    pthread_mutex_unlock(&h->smu);
    return m;
}

/* Queues resp on the request's connection and counts it; resp is emptied. */
static enum MHD_Result http__send(wk_http_req *rq, wk_http_resp *rs)
{
    struct MHD_Response *m;
    if (rs->pull) {
        m = http__stream_response(rq, rs);
        if (m)
            MHD_add_response_header(m, "Cache-Control", "no-cache");
    } else if (rs->body && rs->len) {
        m = MHD_create_response_from_buffer_with_free_callback(rs->len, rs->body, http__free_body);
        if (m)
            rs->body = NULL; /* MHD owns it now */
    } else {
        m = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    }
    if (!m) {
        http__resp_clear(rs);
        return MHD_NO;
    }
    if (rs->ctype)
        MHD_add_response_header(m, MHD_HTTP_HEADER_CONTENT_TYPE, rs->ctype);
    MHD_add_response_header(m, "X-Content-Type-Options", "nosniff");
    for (size_t i = 0; i < rs->n_hdr; i++)
        MHD_add_response_header(m, rs->hdr[i].name, rs->hdr[i].value);
    int status = rs->status;
    enum MHD_Result ok = MHD_queue_response(rq->conn, (unsigned)status, m);
    MHD_destroy_response(m);
    http__resp_clear(rs);
    rq->answered = true;
    route_rt *rt = rq->route ? rq->route : &rq->h->unmatched;
    wk_metric_inc(http__status_metric(rt, status));
    wk_metric_observe_us(rt->latency, http__elapsed_us(&rq->start));
    return ok;
}

static enum MHD_Result http__send_error(wk_http_req *rq, int status, const char *code,
                                        const char *message, const char *allow)
{
    wk_http_resp rs;
    memset(&rs, 0, sizeof rs);
    rs.status = status;
    if (wk_http_resp_error(&rs, status, code, message, NULL) != WK_OK) {
        /* a message that is not UTF-8 (from the path): say it without the detail */
        if (wk_http_resp_error(&rs, status, code, "request rejected", NULL) != WK_OK) {
            http__resp_clear(&rs);
            return MHD_NO;
        }
    }
    if (allow && wk_http_resp_header(&rs, "Allow", allow) != WK_OK) {
        http__resp_clear(&rs);
        return MHD_NO;
    }
    return http__send(rq, &rs);
}

/* ---- routing ---- */

static bool http__method_matches(const char *route_method, const char *method)
{
    return strcmp(route_method, method) == 0 ||
           (strcmp(method, "HEAD") == 0 && strcmp(route_method, "GET") == 0);
}

static bool http__path_matches(const route_rt *rt, const char *path)
{
    if (rt->prefix)
        return strncmp(path, rt->r.path, rt->match_len) == 0;
    return strcmp(path, rt->r.path) == 0;
}

/* The route for (method, path): exact routes win over prefixes, longer prefixes over
 * shorter. NULL when none; then `allow` lists the methods the path has (empty: 404). */
static route_rt *http__match(wk_http *h, const char *method, const char *path, char *allow,
                             size_t allow_n)
{
    route_rt *best = NULL;
    allow[0] = '\0';
    size_t allow_len = 0;
    for (size_t i = 0; i < h->n_routes; i++) {
        route_rt *rt = &h->routes[i];
        if (!http__path_matches(rt, path))
            continue;
        if (!http__method_matches(rt->r.method, method)) {
            if (!strstr(allow, rt->r.method) && allow_len + strlen(rt->r.method) + 3 < allow_n) {
                int w = snprintf(allow + allow_len, allow_n - allow_len, "%s%s",
                                 allow_len ? ", " : "", rt->r.method);
                if (w > 0)
                    allow_len += (size_t)w;
            }
            continue;
        }
        if (!best || (best->prefix && (!rt->prefix || rt->match_len > best->match_len)))
            best = rt;
    }
    return best;
}

/* ---- the MHD callbacks ---- */

static bool http__parse_size(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (!s || !*s)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return true;
}

static enum MHD_Result http__run(wk_http_req *rq)
{
    if (rq->too_large) {
        char msg[96];
        snprintf(msg, sizeof msg, "request body larger than %zu bytes", rq->limit);
        return http__send_error(rq, 413, "payload_too_large", msg, NULL);
    }
    wk_http_resp rs;
    memset(&rs, 0, sizeof rs);
    rs.status = 200;
    int rc = rq->route->r.handler(rq, &rs, rq->route->r.ctx);
    if (rc != 0) {
        http__resp_clear(&rs);
        wk_log(WK_LOG_ERROR, "http handler failed", "route=%s rc=%d", WK_LOG_Q(rq->route->name), rc);
        return http__send_error(rq, 500, "internal_error", "the server could not answer this request",
                                NULL);
    }
    return http__send(rq, &rs);
}

static enum MHD_Result http__on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                        const char *method, const char *version,
                                        const char *upload, size_t *upload_size, void **con_cls)
{
    (void)version;
    wk_http *h = cls;
    wk_http_req *rq = *con_cls;
    if (!rq) {
        rq = wk_calloc(1, sizeof *rq);
        if (!rq)
            return MHD_NO;
        *con_cls = rq;
        rq->h = h;
        rq->conn = conn;
        rq->method = method;
        rq->path = url;
        clock_gettime(CLOCK_MONOTONIC, &rq->start);
        char allow[128];
        rq->route = http__match(h, method, url, allow, sizeof allow);
        if (!rq->route) {
            char msg[300];
            if (allow[0]) {
                snprintf(msg, sizeof msg, "method %.16s is not allowed on %.200s", method, url);
                return http__send_error(rq, 405, "method_not_allowed", msg, allow);
            }
            snprintf(msg, sizeof msg, "no route for %.200s", url);
            return http__send_error(rq, 404, "not_found", msg, NULL);
        }
        rq->limit = rq->route->r.body_max ? rq->route->r.body_max : h->body_max_default;
        uint64_t cl;
        const char *cls_hdr = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                          MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cls_hdr && http__parse_size(cls_hdr, &cl) && cl > rq->limit) {
            rq->too_large = true;
            return http__run(rq); /* answer before reading: MHD drops the upload */
        }
        return MHD_YES;
    }
    rq->method = method;
    rq->path = url;
    if (*upload_size > 0) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (rq->answered)
            return MHD_YES;
        if (!rq->too_large && n > rq->limit - rq->len) {
            rq->too_large = true;
            wk_free(rq->body);
            rq->body = NULL;
            rq->len = rq->cap = 0;
        }
        if (rq->too_large) {
            rq->discarded += n;
            return rq->discarded > WK_HTTP_DISCARD_MAX ? MHD_NO : MHD_YES;
        }
        if (rq->len + n + 1 > rq->cap) {
            size_t cap = rq->cap ? rq->cap : 1024;
            while (cap < rq->len + n + 1)
                cap *= 2;
            if (cap > rq->limit + 1)
                cap = rq->limit + 1;
            char *b = wk_realloc(rq->body, cap);
            if (!b)
                return MHD_NO;
            rq->body = b;
            rq->cap = cap;
        }
        memcpy(rq->body + rq->len, upload, n);
        rq->len += n;
        rq->body[rq->len] = '\0';
        return MHD_YES;
    }
    if (rq->answered)
        return MHD_YES;
    return http__run(rq);
}

static void http__on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                               enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    wk_http_req *rq = *con_cls;
    if (!rq)
        return;
    wk_free(rq->body);
    wk_free(rq);
    *con_cls = NULL;
}

static void http__mhd_log(void *cls, const char *fmt, va_list ap) WK_PRINTF(2, 0);
static void http__mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char buf[512];
    vsnprintf(buf, sizeof buf, fmt, ap);
    size_t n = strlen(buf);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    wk_log(WK_LOG_WARN, "http server", "detail=%s", WK_LOG_Q(buf));
}

/* ---- request accessors ---- */

const char *wk_http_req_method(const wk_http_req *r)
{
    return r->method;
}

const char *wk_http_req_path(const wk_http_req *r)
{
    return r->path;
}

const char *wk_http_req_path_rest(const wk_http_req *r)
{
    if (!r->route || !r->route->prefix)
        return "";
    return r->path + r->route->match_len;
}

const char *wk_http_req_query(const wk_http_req *r, const char *name)
{
    const char *v = NULL;
    size_t vn = 0;
    if (MHD_lookup_connection_value_n(r->conn, MHD_GET_ARGUMENT_KIND, name, strlen(name), &v,
                                      &vn) != MHD_YES)
        return NULL;
    return v ? v : "";
}

const char *wk_http_req_header(const wk_http_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *wk_http_req_client(const wk_http_req *r, char *out, size_t cap)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!cap)
        return out;
    out[0] = '\0';
    if (!ci || !ci->client_addr)
        return out;
    socklen_t len = ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                           : sizeof(struct sockaddr_in);
    if (getnameinfo(ci->client_addr, len, out, (socklen_t)cap, NULL, 0, NI_NUMERICHOST) != 0)
        out[0] = '\0';
    return out;
}

const char *wk_http_req_body(const wk_http_req *r, size_t *len)
{
    *len = r->len;
    return r->body ? r->body : "";
}

int wk_http_metrics_handler(wk_http_req *req, wk_http_resp *resp, void *ctx)
{
    (void)req;
    (void)ctx;
    char *text;
    size_t len;
    if (wk_metrics_render(&text, &len) != WK_OK)
        return 1;
    return wk_http_resp_body_take(resp, "text/plain; version=0.0.4; charset=utf-8", text, len) !=
           WK_OK;
}

/* ---- start and stop ---- */

static wk_err http__check_routes(const wk_http_route *routes, size_t n, wk_diag *d)
{
    static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
    if (n > WK_HTTP_ROUTES_MAX)
        return wk_diag_set(d, WK_EINVAL, "%zu routes, at most %d", n, WK_HTTP_ROUTES_MAX);
    for (size_t i = 0; i < n; i++) {
        const wk_http_route *r = &routes[i];
        bool known = false;
        for (size_t m = 0; r->method && m < sizeof methods / sizeof methods[0]; m++)
            known = known || strcmp(r->method, methods[m]) == 0;
        if (!known)
            return wk_diag_set(d, WK_EINVAL, "route %zu: method '%.20s' is not one of GET, "
                               "POST, PUT, PATCH, DELETE, OPTIONS", i, r->method ? r->method : "");
        if (!r->path || r->path[0] != '/' || strlen(r->path) > 200)
            return wk_diag_set(d, WK_EINVAL, "route %zu (%s): path must start with '/' (at most "
                               "200 bytes)", i, r->method);
        const char *star = strchr(r->path, '*');
        if (star && star[1] != '\0')
            return wk_diag_set(d, WK_EINVAL, "route %s %.200s: '*' only at the end", r->method,
                               r->path);
        if (!r->handler)
            return wk_diag_set(d, WK_EINVAL, "route %s %.200s: no handler", r->method, r->path);
        if (r->body_max > WK_HTTP_BODY_CAP_MAX)
            return wk_diag_set(d, WK_EINVAL, "route %s %.200s: body_max above %u bytes",
                               r->method, r->path, WK_HTTP_BODY_CAP_MAX);
        for (size_t j = 0; j < i; j++)
            if (strcmp(routes[j].method, r->method) == 0 && strcmp(routes[j].path, r->path) == 0)
                return wk_diag_set(d, WK_EINVAL, "route %s %.200s is registered twice",
                                   r->method, r->path);
    }
    return WK_OK;
}

static wk_err http__check_opts(const wk_http_opts *o, wk_diag *d)
{
    if (!o->host || !o->host[0])
        return wk_diag_set(d, WK_EINVAL, "http: host is empty");
    if (o->threads < 1 || o->threads > 64)
        return wk_diag_set(d, WK_EINVAL, "http: threads %u not in 1..64", o->threads);
    if (o->timeout_s < 1 || o->timeout_s > 3600)
        return wk_diag_set(d, WK_EINVAL, "http: timeout_s %u not in 1..3600", o->timeout_s);
    if (o->conn_memory_bytes < 8192 || o->conn_memory_bytes > (16u << 20))
        return wk_diag_set(d, WK_EINVAL, "http: conn_memory_bytes %zu not in 8192..16777216",
                           o->conn_memory_bytes);
    if (o->conn_max < 1 || o->conn_max > 65536)
        return wk_diag_set(d, WK_EINVAL, "http: conn_max %u not in 1..65536", o->conn_max);
    if (o->body_max_default > WK_HTTP_BODY_CAP_MAX)
        return wk_diag_set(d, WK_EINVAL, "http: body_max_default above %u bytes",
                           WK_HTTP_BODY_CAP_MAX);
    return WK_OK;
}

wk_err wk_http_start(const wk_http_opts *o, const wk_http_route *routes, size_t n, wk_http **out,
                     wk_diag *d)
{
    wk_err e;
    if ((e = http__check_opts(o, d)) != WK_OK || (e = http__check_routes(routes, n, d)) != WK_OK)
        return e;

    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    int gai = getaddrinfo(o->host, NULL, &hints, &ai);
    if (gai != 0 || !ai)
        return wk_diag_set(d, WK_EIO, "http: cannot resolve listen host '%.100s': %s", o->host,
                           gai_strerror(gai));
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
    bool v6 = ai->ai_family == AF_INET6;
    freeaddrinfo(ai);
    if (v6)
        ((struct sockaddr_in6 *)&ss)->sin6_port = htons(o->port);
    else
        ((struct sockaddr_in *)&ss)->sin_port = htons(o->port);

    wk_http *h = wk_calloc(1, sizeof *h);
    if (!h)
        return wk_diag_set(d, WK_ENOMEM, "http: out of memory");
    h->routes = wk_calloc(n ? n : 1, sizeof *h->routes);
    if (!h->routes) {
        wk_free(h);
        return wk_diag_set(d, WK_ENOMEM, "http: out of memory");
    }
    h->n_routes = n;
    h->body_max_default = o->body_max_default;
    pthread_mutex_init(&h->smu, NULL);
    pthread_cond_init(&h->tcv, NULL);
    for (size_t i = 0; i < n; i++) {
        route_rt *rt = &h->routes[i];
        rt->r = routes[i];
        size_t pl = strlen(rt->r.path);
        rt->prefix = rt->r.path[pl - 1] == '*';
        rt->match_len = rt->prefix ? pl - 1 : pl;
        char name[200];
        if (rt->r.name)
            snprintf(name, sizeof name, "%s", rt->r.name);
        else
            snprintf(name, sizeof name, "%s %s", rt->r.method, rt->r.path);
        http__label_value(name, rt->name, sizeof rt->name);
        http__init_metrics(rt);
    }
    snprintf(h->unmatched.name, sizeof h->unmatched.name, "unmatched");
    http__init_metrics(&h->unmatched);

    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
                     MHD_ALLOW_SUSPEND_RESUME;
    if (v6)
        flags |= MHD_USE_IPv6;
    /* every option explicit; the pool option only for a real pool (MHD warns on 1) */
    struct MHD_OptionItem opts[] = {
        {MHD_OPTION_SOCK_ADDR, 0, &ss},
        {MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)o->timeout_s, NULL},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)o->conn_memory_bytes, NULL},
        {MHD_OPTION_CONNECTION_LIMIT, (intptr_t)o->conn_max, NULL},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)http__on_completed, h},
        {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)http__mhd_log, NULL},
        {o->threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, (intptr_t)o->threads,
         NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    h->daemon = MHD_start_daemon(flags, o->port, NULL, NULL, http__on_request, h,
                                 MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    if (!h->daemon) {
        pthread_cond_destroy(&h->tcv);
        pthread_mutex_destroy(&h->smu);
        wk_free(h->routes);
        wk_free(h);
        return wk_diag_set(d, WK_EIO, "http: cannot listen on %s%.100s%s:%u (address in use or "
                           "not local?)", v6 ? "[" : "", o->host, v6 ? "]" : "", o->port);
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : o->port;
    h->ticker_on = pthread_create(&h->ticker, NULL, http__ticker, h) == 0;
    if (!h->ticker_on) {
        wk_http_stop(h);
        return wk_diag_set(d, WK_ENOMEM, "http: cannot start the ticker thread");
    }
    *out = h;
    return WK_OK;
}

int wk_http_port(const wk_http *h)
{
    return h ? h->port : 0;
}

void wk_http_stop(wk_http *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->smu);
    h->stopping = true; /* readers end their streams from now on instead of suspending */
    http__resume_all(h);
    pthread_cond_broadcast(&h->tcv);
    pthread_mutex_unlock(&h->smu);
    if (h->ticker_on)
        pthread_join(h->ticker, NULL);
    MHD_stop_daemon(h->daemon);
    pthread_cond_destroy(&h->tcv);
    pthread_mutex_destroy(&h->smu);
    wk_free(h->routes);
    wk_free(h);
}
