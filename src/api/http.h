/*
 * http.h - the HTTP server of `wattkeeper serve`: a thin layer on libmicrohttpd with a
 * fixed route table, bounded request bodies, JSON error bodies and per-route metrics.
 *
 * The server runs MHD's internal epoll threads (a pool of `threads`), with the connection
 * timeout, per-connection memory limit and connection limit always set explicitly. Routes
 * are given once at start and never change; handlers run on the pool threads, so they must
 * be thread-safe and should not block for long (a blocked handler holds a pool thread).
 *
 * Every request is answered: a route's handler, or 404 (no route for the path), 405 (the
 * path exists for other methods; with an Allow header), 413 (body above the route's limit)
 * or 500 (the handler failed), the errors with the JSON body of the API contract:
 *
 *   {"error": {"code": "not_found", "message": "no route for /x", "field": null}}
 *
 * Nothing is hard-wired: the application registers `GET /healthz` and `GET /metrics`
 * itself (wk_http_metrics_handler renders the metrics registry).
 *
 * Metrics (src/core/metrics): wk_http_requests_total{route,status} and the latency
 * histogram wk_http_request_duration_seconds{route}, where route is the route's name
 * ("GET /healthz" unless given) or "unmatched" for 404/405, so label values stay bounded.
 */
#ifndef WK_API_HTTP_H
#define WK_API_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define WK_HTTP_ROUTES_MAX 128
#define WK_HTTP_RESP_HEADERS_MAX 16
#define WK_HTTP_HEADER_MAX 1024 /* bytes of a response header name or value */

typedef struct wk_http wk_http;
typedef struct wk_http_req wk_http_req;
typedef struct wk_http_resp wk_http_resp;

/* A handler fills resp (status 200 and an empty body unless it sets them). It returns 0 on
 * success; any other value discards what it set and answers 500 internal_error. Called at
 * most once per request, after the whole body has arrived. */
typedef int (*wk_http_handler)(wk_http_req *req, wk_http_resp *resp, void *ctx);

typedef struct wk_http_route {
    const char *method;      /* "GET", "POST", ...; HEAD requests also match GET routes */
    const char *path;        /* exact path ("/healthz"), or a prefix: "/api/v1/" followed by a star */
    wk_http_handler handler;
    void *ctx;               /* passed to the handler, borrowed */
    size_t body_max;         /* bytes of request body accepted; 0 = the server default */
    const char *name;        /* metrics label; NULL = "METHOD path" */
} wk_http_route;

typedef struct wk_http_opts {
    const char *host;          /* numeric address or name to listen on ("127.0.0.1", "::1") */
    uint16_t port;             /* 0 = any free port (see wk_http_port) */
    unsigned threads;          /* MHD thread pool size, 1..64 */
    unsigned timeout_s;        /* idle connection timeout, 1..3600 */
    size_t conn_memory_bytes;  /* per-connection memory (headers, buffers), 8 KiB..16 MiB */
    unsigned conn_max;         /* concurrent connections, 1..65536 */
    size_t body_max_default;   /* request body limit of routes with body_max 0, <= 64 MiB */
} wk_http_opts;

/* The defaults: 127.0.0.1, port 8080, 4 threads, 30 s, 128 KiB, 1024 connections, 1 MiB. */
wk_http_opts wk_http_opts_default(void);

/* Starts a server. routes[0..n) is copied (the strings and ctx stay borrowed: keep them
 * alive until wk_http_stop). A route table error (no handler, bad method or path,
 * duplicate) or an option out of range is WK_EINVAL naming the route or option; failing to
 * bind is WK_EIO with the address. On success *out is running. */
wk_err wk_http_start(const wk_http_opts *o, const wk_http_route *routes, size_t n,
                     wk_http **out, wk_diag *d) WK_MUST_CHECK;

/* The bound TCP port (the real one when opts.port was 0). */
int wk_http_port(const wk_http *h);

/* Stops accepting, ends every stream, waits for running handlers and the ticker, closes
 * connections and frees h. NULL is allowed. */
void wk_http_stop(wk_http *h);

/* ---- the request (valid during the handler call only) ---- */

const char *wk_http_req_method(const wk_http_req *r);
/* The decoded path, without the query string ("/api/v1/meters"). */
const char *wk_http_req_path(const wk_http_req *r);
/* For a prefix route, the part of the path after the prefix ("" for exact routes). */
const char *wk_http_req_path_rest(const wk_http_req *r);
/* The first query parameter of that name, decoded; NULL when absent; "" for `?flag`. */
const char *wk_http_req_query(const wk_http_req *r, const char *name);
/* A request header (case-insensitive name); NULL when absent. */
const char *wk_http_req_header(const wk_http_req *r, const char *name);
/* The client's numeric address ("127.0.0.1", "::1") written into out[0..cap); "" when
 * unknown. Returns out. Cannot fail. */
const char *wk_http_req_client(const wk_http_req *r, char *out, size_t cap);
/* The request body (NUL-terminated for convenience; *len without it) or "" with *len 0. */
const char *wk_http_req_body(const wk_http_req *r, size_t *len);

/* ---- the response ---- */

void wk_http_resp_status(wk_http_resp *r, int status);
/* Adds a header (copied). WK_ELIMIT beyond WK_HTTP_RESP_HEADERS_MAX, WK_EINVAL for a
 * name or value too long or containing CR/LF, WK_ENOMEM. */
wk_err wk_http_resp_header(wk_http_resp *r, const char *name, const char *value) WK_MUST_CHECK;
/* Sets the body (copied) and its content type, replacing a previous one. WK_ENOMEM. */
wk_err wk_http_resp_body(wk_http_resp *r, const char *content_type, const void *body,
                         size_t len) WK_MUST_CHECK;
/* Same, taking ownership of a wk_malloc'd buffer (freed by the server, also on error). */
wk_err wk_http_resp_body_take(wk_http_resp *r, const char *content_type, char *body,
                              size_t len) WK_MUST_CHECK;
/* Status plus an application/json body (copied). */
wk_err wk_http_resp_json(wk_http_resp *r, int status, const char *json) WK_MUST_CHECK;
/* Status plus {"error": {"code": code, "message": message, "field": field or null}}, the
 * strings JSON-escaped. */
wk_err wk_http_resp_error(wk_http_resp *r, int status, const char *code, const char *message,
                          const char *field) WK_MUST_CHECK;

/* ---- streamed answers (Server-Sent Events) ----
 *
 * A handler may answer with a stream instead of a body: the headers (status, content type,
 * added headers) go out at once, then the body is pulled chunk by chunk (chunked transfer
 * encoding) until the stream ends.
 *
 *   pull(ctx, buf, cap) runs on a pool thread whenever the client can take more and must
 *   not block: it copies up to cap bytes into buf and returns their count, 0 when it has
 *   nothing now (the stream then sleeps, holding no thread and polling nothing, until the
 *   ticker's next round), or -1 to end the stream.
 *
 *   tick(tick_ctx) runs on the server's own ticker thread (never a pool thread) every
 *   WK_HTTP_TICK_MS, once per round for each distinct (tick, tick_ctx) among the open
 *   streams; it may block briefly (e.g. wait for the main loop) and is where the streams'
 *   data is produced. After each round every sleeping stream is woken and pulled again.
 *   tick_ctx must outlive the server (e.g. static); tick may be NULL.
 *
 *   done(ctx) is called exactly once when the stream is over for any reason (pull ended
 *   it, the client went away, the server stops, or the handler failed after setting it),
 *   never concurrently with pull; ctx may be freed there.
 *
 * A client that went away is noticed at the next write or wake-up. wk_http_stop ends every
 * stream before it returns. */
#define WK_HTTP_TICK_MS 1000
typedef long (*wk_http_pull)(void *ctx, char *buf, size_t cap);
typedef void (*wk_http_done)(void *ctx);
typedef void (*wk_http_tick)(void *tick_ctx);
/* Makes the answer a stream (replacing a body). On failure (WK_ENOMEM) done(ctx) has been
 * called. */
wk_err wk_http_resp_stream(wk_http_resp *r, const char *content_type, wk_http_pull pull,
                           wk_http_done done, void *ctx, wk_http_tick tick,
                           void *tick_ctx) WK_MUST_CHECK;

/* A handler for GET /metrics: wk_metrics_render() as text/plain; version=0.0.4. ctx is
 * unused. */
int wk_http_metrics_handler(wk_http_req *req, wk_http_resp *resp, void *ctx);

#endif
