/*
 * log.c - logfmt line building, redaction of secret keys, and the hand-off to the
 * application's sink. Lines are built in fixed stack buffers (never allocates) and handed
 * to the sink under one mutex. Never does I/O itself; never reads a clock itself.
 */
#include "core/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "core/civil.h"

static _Atomic int log_level = WK_LOG_INFO;
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static wk_log_sink log_sink;
static void *log_sink_ctx;
static int64_t (*log_clock)(void);

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void wk_log_set_level(wk_log_level l)
{
    if (l < WK_LOG_DEBUG || l > WK_LOG_ERROR)
        l = WK_LOG_INFO;
    atomic_store(&log_level, (int)l);
}

wk_log_level wk_log_get_level(void)
{
    return (wk_log_level)atomic_load(&log_level);
}

bool wk_log_enabled(wk_log_level l)
{
    if ((int)l < atomic_load(&log_level))
        return false;
    pthread_mutex_lock(&log_mu);
    bool has = log_sink != NULL;
    pthread_mutex_unlock(&log_mu);
    return has;
}

const char *wk_log_level_name(wk_log_level l)
{
    if (l < WK_LOG_DEBUG || l > WK_LOG_ERROR)
        return "info";
    return level_names[l];
}

wk_err wk_log_level_parse(const char *s, wk_log_level *out, wk_diag *d)
{
    for (int i = 0; i <= WK_LOG_ERROR; i++) {
        if (s && strcmp(s, level_names[i]) == 0) {
            *out = (wk_log_level)i;
            return WK_OK;
        }
    }
    return wk_diag_set(d, WK_EINVAL, "log level '%.40s' is not one of debug, info, warn, error",
                       s ? s : "");
}

void wk_log_set_sink(wk_log_sink fn, void *ctx)
{
    pthread_mutex_lock(&log_mu);
    log_sink = fn;
    log_sink_ctx = ctx;
    pthread_mutex_unlock(&log_mu);
}

void wk_log_set_clock(int64_t (*now_ms)(void))
{
    pthread_mutex_lock(&log_mu);
    log_clock = now_ms;
    pthread_mutex_unlock(&log_mu);
}

/* ---- bounded output buffer ---- */

typedef struct log__buf {
    char *p;
    size_t cap; /* bytes usable, the NUL excluded */
    size_t len;
} log__buf;

static void log__put(log__buf *b, const char *s, size_t n)
{
    if (b->len >= b->cap)
        return;
    if (n > b->cap - b->len)
        n = b->cap - b->len;
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void log__putc(log__buf *b, char c)
{
    log__put(b, &c, 1);
}

/* A byte as \xNN (control characters never reach the sink raw). */
static void log__put_escaped_byte(log__buf *b, unsigned char c)
{
    static const char hex[] = "0123456789abcdef";
    char e[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
    log__put(b, e, 4);
}

static void log__put_clean(log__buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            log__put_escaped_byte(b, c);
        else
            log__putc(b, (char)c);
    }
}

const char *wk_log_quote(const char *s, char *buf, size_t n)
{
    WK_ASSERT(n >= 3);
    if (!s)
        s = "";
    bool bare = *s != '\0';
    for (const char *q = s; *q && bare; q++) {
        unsigned char c = (unsigned char)*q;
        if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f)
            bare = false;
    }
    if (bare) {
        snprintf(buf, n, "%s", s);
        return buf;
    }
    /* leave room for the closing quote and the NUL */
    size_t cap = n - 2, len = 0;
    buf[len++] = '"';
    for (const char *q = s; *q; q++) {
        unsigned char c = (unsigned char)*q;
        char e[5];
        size_t el;
        switch (c) {
        case '"': memcpy(e, "\\\"", 2); el = 2; break;
        case '\\': memcpy(e, "\\\\", 2); el = 2; break;
        case '\n': memcpy(e, "\\n", 2); el = 2; break;
        case '\r': memcpy(e, "\\r", 2); el = 2; break;
        case '\t': memcpy(e, "\\t", 2); el = 2; break;
        default:
            if (c < 0x20 || c == 0x7f) {
                snprintf(e, sizeof e, "\\x%02x", c);
                el = 4;
            } else {
                e[0] = (char)c;
                el = 1;
            }
        }
        if (len + el > cap)
            break;
        memcpy(buf + len, e, el);
        len += el;
    }
    buf[len++] = '"';
    buf[len] = '\0';
    return buf;
}

/* ---- redaction ---- */

static bool log__ieq(const char *a, size_t an, const char *b)
{
    size_t bn = strlen(b);
    if (an != bn)
        return false;
    for (size_t i = 0; i < an; i++) {
        char c = a[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != b[i])
            return false;
    }
    return true;
}

static bool log__secret_key(const char *k, size_t n)
{
    static const char *const names[] = {"password", "passwd", "secret", "key", "token"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        size_t ln = strlen(names[i]);
        if (log__ieq(k, n, names[i]))
            return true;
        if (n > ln + 1 && k[n - ln - 1] == '_' && log__ieq(k + n - ln, ln, names[i]))
            return true;
    }
    return false;
}

/* Copies the formatted key=value tail into b token by token, replacing secret values by
 * *** and escaping control bytes. Tokens are separated by single spaces. */
static void log__put_tail(log__buf *b, const char *t)
{
    bool skipping_secret = false; /* inside an unquoted secret value with spaces */
    size_t i = 0, n = strlen(t);
    while (i < n) {
        while (i < n && t[i] == ' ')
            i++;
        if (i >= n)
            break;
        size_t ks = i;
        while (i < n && t[i] != '=' && t[i] != ' ')
            i++;
        size_t kn = i - ks;
        if (i >= n || t[i] != '=') { /* a bare word */
            if (!skipping_secret) {
                log__putc(b, ' ');
                log__put_clean(b, t + ks, kn);
            }
            continue;
        }
        i++; /* '=' */
        size_t vs = i;
        bool quoted = i < n && t[i] == '"';
        if (quoted) {
            i++;
            while (i < n && t[i] != '"') {
                if (t[i] == '\\' && i + 1 < n)
                    i++;
                i++;
            }
            if (i < n)
                i++; /* closing quote */
        } else {
            while (i < n && t[i] != ' ')
                i++;
        }
        log__putc(b, ' ');
        log__put_clean(b, t + ks, kn);
        log__putc(b, '=');
        if (log__secret_key(t + ks, kn)) {
            log__put(b, "***", 3);
            skipping_secret = !quoted;
        } else {
            log__put_clean(b, t + vs, i - vs);
            skipping_secret = false;
        }
    }
}

/* ---- line assembly ---- */

static void log__put_ts(log__buf *b, int64_t now_ms)
{
    int64_t s = wk_floor_div(now_ms, 1000);
    int ms = (int)(now_ms - s * 1000);
    char t[40];
    wk_time_format(s, 0, t, sizeof t); /* YYYY-MM-DDTHH:MM:SS+00:00 */
    char ts[64];
    int k = snprintf(ts, sizeof ts, "ts=%.19s.%03dZ ", t, ms);
    log__put(b, ts, (size_t)k);
}

/* Cuts an over-long line at a UTF-8 and escape boundary and ends it in "…" (closing an
 * open quote), then '\n'. `line` has room for n bytes; full is the untruncated length. */
static size_t log__finish(char *line, size_t len, size_t n, bool cut)
{
    if (cut) {
        size_t keep = n - 1 /*NUL*/ - 1 /*\n*/ - 3 /*…*/ - 1 /*quote*/;
        if (keep > len)
            keep = len;
        while (keep > 0 && ((unsigned char)line[keep] & 0xC0) == 0x80)
            keep--;
        /* find the quote state at keep, and do not split an escape sequence */
        bool inq = false;
        size_t esc_at = 0, esc_len = 0;
        for (size_t i = 0; i < keep; i++) {
            if (inq && line[i] == '\\' && i + 1 < len) {
                esc_at = i;
                esc_len = line[i + 1] == 'x' ? 4 : 2;
                i += esc_len - 1;
                continue;
            }
            if (line[i] == '"')
                inq = !inq;
        }
        if (esc_len && keep < esc_at + esc_len && keep > esc_at)
            keep = esc_at;
        len = keep;
        memcpy(line + len, "\xe2\x80\xa6", 3);
        len += 3;
        if (inq)
            line[len++] = '"';
    }
    line[len++] = '\n';
    line[len] = '\0';
    return len;
}

static size_t log__vformat(char *line, size_t n, int64_t now_ms, bool with_ts, wk_log_level l,
                           const char *msg, const char *fmt_kv, va_list ap) WK_PRINTF(7, 0);
static size_t log__vformat(char *line, size_t n, int64_t now_ms, bool with_ts, wk_log_level l,
                           const char *msg, const char *fmt_kv, va_list ap)
{
    WK_ASSERT(n >= 16 && n <= WK_LOG_LINE_MAX);
    char work[WK_LOG_LINE_MAX * 2];
    log__buf b = {work, sizeof work - 1, 0};
    if (with_ts)
        log__put_ts(&b, now_ms);
    log__put(&b, "level=", 6);
    const char *ln = wk_log_level_name(l);
    log__put(&b, ln, strlen(ln));
    log__put(&b, " msg=", 5);
    char q[WK_LOG_LINE_MAX];
    wk_log_quote(msg ? msg : "", q, sizeof q);
    if (q[0] != '"') { /* msg is always quoted, even a single word */
        log__putc(&b, '"');
        log__put(&b, q, strlen(q));
        log__putc(&b, '"');
    } else {
        log__put(&b, q, strlen(q));
    }
    if (fmt_kv && *fmt_kv) {
        char tail[WK_LOG_LINE_MAX * 2];
        vsnprintf(tail, sizeof tail, fmt_kv, ap);
        log__put_tail(&b, tail);
    }
    bool cut = b.len > n - 2;
    size_t len = cut ? n - 2 : b.len;
    memcpy(line, work, len);
    return log__finish(line, len, n, cut);
}

size_t wk_log_format(char *buf, size_t n, int64_t now_ms, bool with_ts, wk_log_level l,
                     const char *msg, const char *fmt_kv, ...)
{
    va_list ap;
    va_start(ap, fmt_kv);
    size_t len = log__vformat(buf, n, now_ms, with_ts, l, msg, fmt_kv, ap);
    va_end(ap);
    return len;
}

void wk_log(wk_log_level l, const char *msg, const char *fmt_kv, ...)
{
    if ((int)l < atomic_load(&log_level))
        return;
    pthread_mutex_lock(&log_mu);
    wk_log_sink sink = log_sink;
    void *ctx = log_sink_ctx;
    int64_t (*clock)(void) = log_clock;
    pthread_mutex_unlock(&log_mu);
    if (!sink)
        return;
    char line[WK_LOG_LINE_MAX];
    va_list ap;
    va_start(ap, fmt_kv);
    size_t len = log__vformat(line, sizeof line, clock ? clock() : 0, clock != NULL, l, msg,
                              fmt_kv, ap);
    va_end(ap);
    pthread_mutex_lock(&log_mu);
    sink(line, len, ctx);
    pthread_mutex_unlock(&log_mu);
}
