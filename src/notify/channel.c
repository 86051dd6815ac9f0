/*
 * channel.c - the four delivery channels over libcurl: webhook (signed JSON POST), e-mail
 * (SMTP, STARTTLS required or tried), SMS gateway (JSON POST, optional HMAC signature) and
 * WeChat official-account template messages (access token cached per sender).
 *
 * Every exchange is bounded: connect and total timeouts, request bodies built in fixed
 * buffers, replies read up to WK_NOTIFY_RESPONSE_MAX bytes. Secrets (webhook and SMS keys,
 * SMTP password, WeChat app secret, access token) never reach an error text or a log line.
 * A result is ok (2xx / 250 / errcode 0), permanent (the receiver rejected this message:
 * most 4xx, SMTP 5xx, WeChat errors other than busy or token) or temporary (retry).
 */
#include <curl/curl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "core/civil.h"
#include "core/mem.h"
#include "notify/notify.h"
#include "proto/encoding.h"

struct wk_notify_sender {
    wk_notify_opts o;
    CURL *curl;
    char token[512];        /* WeChat access token; secret */
    int64_t token_until_ms; /* when to fetch a new one */
};

wk_err wk_notify_sender_open(const wk_notify_opts *o, wk_notify_sender **out, wk_diag *d)
{
    wk_notify_sender *s = wk_calloc(1, sizeof *s);
    if (!s)
        return wk_diag_set(d, WK_ENOMEM, "notify sender: out of memory");
    s->o = *o;
    s->curl = curl_easy_init();
    if (!s->curl) {
        wk_free(s);
        return wk_diag_set(d, WK_ENOMEM, "notify sender: curl_easy_init failed");
    }
    *out = s;
    return WK_OK;
}

void wk_notify_sender_close(wk_notify_sender *s)
{
    if (!s)
        return;
    curl_easy_cleanup(s->curl);
    memset(s->token, 0, sizeof s->token);
    wk_free(s);
}

/* ---- one HTTP exchange ---- */

typedef struct ch_buf {
    char data[WK_NOTIFY_RESPONSE_MAX + 1];
    size_t len;
} ch_buf;

static size_t ch__write(char *p, size_t size, size_t n, void *ctx)
{
    ch_buf *b = ctx;
    size_t len = size * n, room = WK_NOTIFY_RESPONSE_MAX - b->len;
    size_t take = len < room ? len : room;
    memcpy(b->data + b->len, p, take);
    b->len += take;
    b->data[b->len] = 0;
    return len; /* the rest is dropped, not an error */
}

static void ch__common(wk_notify_sender *s)
{
    CURL *c = s->curl;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)s->o.send_timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)s->o.send_timeout_ms);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE, (long)WK_NOTIFY_RESPONSE_MAX);
}

/* Classifies an HTTP status into r. */
static void ch__http_status(long status, const char *what, wk_notify_result *r)
{
    if (status >= 200 && status < 300) {
        r->ok = true;
        return;
    }
    r->permanent = status >= 400 && status < 500 && status != 408 && status != 429;
    snprintf(r->error, sizeof r->error, "%s: HTTP %ld", what, status);
}

/* POSTs body (JSON) to url with extra headers; reply into rb. Returns the curl code. */
static CURLcode ch__post(wk_notify_sender *s, const char *url, const char *body,
                         struct curl_slist *h, ch_buf *rb, long *status)
{
    ch__common(s);
    CURL *c = s->curl;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, ch__write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, rb);
    CURLcode cc = curl_easy_perform(c);
    *status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    return cc;
}

/* Adds "name: value" to a header list; false on allocation failure. */
static bool ch__header(struct curl_slist **h, const char *name, const char *value)
{
    char line[512];
    snprintf(line, sizeof line, "%s: %s", name, value);
    struct curl_slist *n = curl_slist_append(*h, line);
    if (!n)
        return false;
    *h = n;
    return true;
}

/* The JSON body of webhook and SMS messages (wk_malloc'd via json_dumps: caller frees). */
static char *ch__json(json_t *o)
{
    char *t = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return t;
}

static void ch__webhook(wk_notify_sender *s, const wk_notify_msg *m, int64_t now_ms,
                        wk_notify_result *r)
{
    char time[40], ts[24], sig[80];
    wk_time_format(wk_floor_div(m->event_time_ms, 1000), s->o.utc_offset_s, time, sizeof time);
    char *body = ch__json(json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:s}", "id", m->idem_key,
                                    "event", wk_notify_kind_name(m->kind), "event_id",
                                    (json_int_t)m->event_id, "time", time, "lang",
                                    wk_notify_lang_name(m->lang), "subject", m->subject, "text",
                                    m->text, "channel", "webhook"));
    if (!body) {
        snprintf(r->error, sizeof r->error, "webhook: out of memory");
        return;
    }
    int64_t now_s = wk_floor_div(now_ms, 1000);
    snprintf(ts, sizeof ts, "%" PRId64, now_s);
    wk_notify_sign(s->o.webhook_secret ? s->o.webhook_secret : "", now_s, body, strlen(body), sig,
                   sizeof sig);
    struct curl_slist *h = NULL;
    ch_buf rb = {.len = 0};
    if (!ch__header(&h, "Content-Type", "application/json") ||
        !ch__header(&h, "Idempotency-Key", m->idem_key) ||
        !ch__header(&h, "X-Wattkeeper-Timestamp", ts) ||
        !ch__header(&h, "X-Wattkeeper-Signature", sig)) {
        snprintf(r->error, sizeof r->error, "webhook: out of memory");
        goto done;
    }
    long status;
    CURLcode cc = ch__post(s, m->address, body, h, &rb, &status);
    if (cc != CURLE_OK)
        snprintf(r->error, sizeof r->error, "webhook: %s", curl_easy_strerror(cc));
    else
        ch__http_status(status, "webhook", r);
done:
    curl_slist_free_all(h);
    free(body); /* jansson's allocator */
}

/* ---- e-mail ---- */

typedef struct ch_upload {
    const char *data;
    size_t len, off;
} ch_upload;

static size_t ch__read(char *p, size_t size, size_t n, void *ctx)
{
    ch_upload *u = ctx;
    size_t room = size * n, left = u->len - u->off;
    size_t take = left < room ? left : room;
    memcpy(p, u->data + u->off, take);
    u->off += take;
    return take;
}

#define CH_MAIL_MAX (16u * 1024)

/* Builds the RFC 5322 message: UTF-8 subject as an RFC 2047 word, base64 body in 76-column
 * lines, Message-ID from the idempotency key. Returns the length, 0 when it does not fit. */
static size_t ch__mail(const wk_notify_sender *s, const wk_notify_msg *m, int64_t now_ms, char *out,
                       size_t cap)
{
    char subj[WK_NOTIFY_SUBJECT_MAX * 2], date[40], *body64;
    size_t tl = strlen(m->text);
    size_t bl = wk_base64_len(tl);
    if (wk_base64_len(strlen(m->subject)) + 1 > sizeof subj || bl + 1 > CH_MAIL_MAX / 2)
        return 0;
    wk_base64_encode(m->subject, strlen(m->subject), subj, sizeof subj);
    body64 = wk_malloc(bl + 1);
    if (!body64)
        return 0;
    wk_base64_encode(m->text, tl, body64, bl + 1);
    /* RFC 5322 date in UTC; the receiver shows local time */
    wk_time_format(wk_floor_div(now_ms, 1000), 0, date, sizeof date);
    const char *domain = strchr(s->o.smtp_from, '@');
    int n = snprintf(out, cap,
                     "From: %s\r\nTo: %s\r\nSubject: =?UTF-8?B?%s?=\r\n"
                     "Message-ID: <%s@%s>\r\nX-Wattkeeper-Event: %s\r\n"
                     "X-Wattkeeper-Date: %s\r\nMIME-Version: 1.0\r\n"
                     "Content-Type: text/plain; charset=UTF-8\r\n"
                     "Content-Transfer-Encoding: base64\r\n\r\n",
                     s->o.smtp_from, m->address, subj, m->idem_key,
                     domain ? domain + 1 : "wattkeeper.invalid", wk_notify_kind_name(m->kind), date);
    size_t o = n > 0 && (size_t)n < cap ? (size_t)n : cap;
    for (size_t i = 0; i < bl && o + 80 < cap; i += 76) {
        size_t k = bl - i < 76 ? bl - i : 76;
        memcpy(out + o, body64 + i, k);
        o += k;
        out[o++] = '\r';
        out[o++] = '\n';
    }
    bool fits = o + 80 < cap;
    wk_free(body64);
    return fits ? o : 0;
}

static void ch__email(wk_notify_sender *s, const wk_notify_msg *m, int64_t now_ms,
                      wk_notify_result *r)
{
    if (!s->o.smtp_url || !s->o.smtp_url[0] || !s->o.smtp_from || !s->o.smtp_from[0]) {
        r->permanent = true;
        snprintf(r->error, sizeof r->error, "email: no smtp_url/smtp_from configured");
        return;
    }
    char *msg = wk_malloc(CH_MAIL_MAX);
    if (!msg) {
        snprintf(r->error, sizeof r->error, "email: out of memory");
        return;
    }
    size_t len = ch__mail(s, m, now_ms, msg, CH_MAIL_MAX);
    if (!len) {
        r->permanent = true;
        snprintf(r->error, sizeof r->error, "email: message too large");
        wk_free(msg);
        return;
    }
    char from[WK_NOTIFY_ADDRESS_MAX + 2], to[WK_NOTIFY_ADDRESS_MAX + 2];
    snprintf(from, sizeof from, "<%s>", s->o.smtp_from);
    snprintf(to, sizeof to, "<%s>", m->address);
    struct curl_slist *rcpt = curl_slist_append(NULL, to);
    ch__common(s);
    CURL *c = s->curl;
    ch_upload up = {msg, len, 0};
    curl_easy_setopt(c, CURLOPT_URL, s->o.smtp_url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(c, CURLOPT_USE_SSL, s->o.smtp_starttls ? (long)CURLUSESSL_ALL
                                                            : (long)CURLUSESSL_NONE);
    if (s->o.smtp_ca_file && s->o.smtp_ca_file[0])
        curl_easy_setopt(c, CURLOPT_CAINFO, s->o.smtp_ca_file);
    if (s->o.smtp_username && s->o.smtp_username[0]) {
        curl_easy_setopt(c, CURLOPT_USERNAME, s->o.smtp_username);
        curl_easy_setopt(c, CURLOPT_PASSWORD, s->o.smtp_password ? s->o.smtp_password : "");
    }
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, ch__read);
    curl_easy_setopt(c, CURLOPT_READDATA, &up);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    CURLcode cc = rcpt ? curl_easy_perform(c) : CURLE_OUT_OF_MEMORY;
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    if (cc == CURLE_OK) {
        r->ok = true;
    } else {
        r->permanent = code >= 500 && code < 600;
        snprintf(r->error, sizeof r->error, "email: %s (SMTP %ld)", curl_easy_strerror(cc), code);
    }
    curl_slist_free_all(rcpt);
    wk_free(msg);
}

/* ---- SMS gateway ---- */

static void ch__sms(wk_notify_sender *s, const wk_notify_msg *m, int64_t now_ms, wk_notify_result *r)
{
    if (!s->o.sms_url || !s->o.sms_url[0]) {
        r->permanent = true;
        snprintf(r->error, sizeof r->error, "sms: no sms_url configured");
        return;
    }
    char *body = ch__json(json_pack("{s:s, s:s, s:s, s:s, s:s}", "key_id",
                                    s->o.sms_key_id ? s->o.sms_key_id : "", "to", m->address,
                                    "text", m->text, "idempotency_key", m->idem_key, "event",
                                    wk_notify_kind_name(m->kind)));
    if (!body) {
        snprintf(r->error, sizeof r->error, "sms: out of memory");
        return;
    }
    struct curl_slist *h = NULL;
    ch_buf rb = {.len = 0};
    int64_t now_s = wk_floor_div(now_ms, 1000);
    char ts[24], sig[80];
    snprintf(ts, sizeof ts, "%" PRId64, now_s);
    bool ok = ch__header(&h, "Content-Type", "application/json") &&
              ch__header(&h, "Idempotency-Key", m->idem_key);
    if (ok && s->o.sms_signature && !strcmp(s->o.sms_signature, "hmac-sha256")) {
        wk_notify_sign(s->o.sms_secret ? s->o.sms_secret : "", now_s, body, strlen(body), sig,
                       sizeof sig);
        ok = ch__header(&h, "X-Sms-Timestamp", ts) && ch__header(&h, "X-Sms-Signature", sig);
    }
    if (!ok) {
        snprintf(r->error, sizeof r->error, "sms: out of memory");
    } else {
        long status;
        CURLcode cc = ch__post(s, s->o.sms_url, body, h, &rb, &status);
        if (cc != CURLE_OK)
            snprintf(r->error, sizeof r->error, "sms: %s", curl_easy_strerror(cc));
        else
            ch__http_status(status, "sms", r);
    }
    curl_slist_free_all(h);
    free(body);
}

/* ---- WeChat official-account template message ---- */

/* Fetches an access token: GET {base}/cgi-bin/token?grant_type=client_credential&appid=&secret= */
static bool ch__wechat_token(wk_notify_sender *s, int64_t now_ms, wk_notify_result *r)
{
    if (s->token[0] && now_ms < s->token_until_ms)
        return true;
    char *appid = curl_easy_escape(s->curl, s->o.wechat_appid ? s->o.wechat_appid : "", 0);
    char *secret = curl_easy_escape(s->curl, s->o.wechat_secret ? s->o.wechat_secret : "", 0);
    char url[2048];
    int n = snprintf(url, sizeof url, "%s/cgi-bin/token?grant_type=client_credential&appid=%s&secret=%s",
                     s->o.wechat_base_url, appid ? appid : "", secret ? secret : "");
    curl_free(appid);
    curl_free(secret);
    bool got = false;
    if (n <= 0 || (size_t)n >= sizeof url) {
        r->permanent = true;
        snprintf(r->error, sizeof r->error, "wechat: token URL too long");
        goto done;
    }
    ch__common(s);
    ch_buf rb = {.len = 0};
    curl_easy_setopt(s->curl, CURLOPT_URL, url);
    curl_easy_setopt(s->curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(s->curl, CURLOPT_WRITEFUNCTION, ch__write);
    curl_easy_setopt(s->curl, CURLOPT_WRITEDATA, &rb);
    CURLcode cc = curl_easy_perform(s->curl);
    long status = 0;
    curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &status);
    if (cc != CURLE_OK || status != 200) {
        snprintf(r->error, sizeof r->error, "wechat token: %s (HTTP %ld)",
                 cc ? curl_easy_strerror(cc) : "bad status", status);
        goto done;
    }
    json_t *j = json_loadb(rb.data, rb.len, 0, NULL);
    const char *tok = json_string_value(json_object_get(j, "access_token"));
    json_int_t exp = json_integer_value(json_object_get(j, "expires_in"));
    if (tok && strlen(tok) < sizeof s->token && exp > 0) {
        snprintf(s->token, sizeof s->token, "%s", tok);
        s->token_until_ms = now_ms + (exp > 120 ? exp - 60 : exp / 2) * 1000;
        got = true;
    } else {
        snprintf(r->error, sizeof r->error, "wechat token: errcode %lld",
                 (long long)json_integer_value(json_object_get(j, "errcode")));
    }
    json_decref(j);
done:
    memset(url, 0, sizeof url); /* held the app secret */
    return got;
}

static void ch__wechat(wk_notify_sender *s, const wk_notify_msg *m, int64_t now_ms,
                       wk_notify_result *r)
{
    if (!s->o.wechat_base_url || !s->o.wechat_base_url[0] || !m->wechat_template_id ||
        !m->wechat_template_id[0]) {
        r->permanent = true;
        snprintf(r->error, sizeof r->error, "wechat: no base URL or template id configured");
        return;
    }
    if (!ch__wechat_token(s, now_ms, r))
        return;
    char time[40];
    wk_time_format(wk_floor_div(m->event_time_ms, 1000), s->o.utc_offset_s, time, sizeof time);
    char *body = ch__json(json_pack("{s:s, s:s, s:s, s:{s:{s:s}, s:{s:s}, s:{s:s}}}", "touser",
                                    m->address, "template_id", m->wechat_template_id,
                                    "client_msg_id", m->idem_key, "data", "first", "value",
                                    m->subject, "keyword1", "value", m->text, "remark", "value",
                                    time));
    if (!body) {
        snprintf(r->error, sizeof r->error, "wechat: out of memory");
        return;
    }
    char url[1200];
    snprintf(url, sizeof url, "%s/cgi-bin/message/template/send?access_token=%s",
             s->o.wechat_base_url, s->token);
    struct curl_slist *h = NULL;
    ch_buf rb = {.len = 0};
    if (!ch__header(&h, "Content-Type", "application/json")) {
        snprintf(r->error, sizeof r->error, "wechat: out of memory");
        goto done;
    }
    long status;
    CURLcode cc = ch__post(s, url, body, h, &rb, &status);
    if (cc != CURLE_OK) {
        snprintf(r->error, sizeof r->error, "wechat: %s", curl_easy_strerror(cc));
        goto done;
    }
    if (status != 200) {
        ch__http_status(status, "wechat", r);
        r->ok = false;
        if (!r->error[0])
            snprintf(r->error, sizeof r->error, "wechat: HTTP %ld", status);
        goto done;
    }
    json_t *j = json_loadb(rb.data, rb.len, 0, NULL);
    json_t *ec = json_object_get(j, "errcode");
    long long code = ec ? (long long)json_integer_value(ec) : -2;
    json_decref(j);
    if (code == 0) {
        r->ok = true;
    } else {
        /* 40001/40014/42001: the token is bad or expired; -1: busy: both worth a retry */
        if (code == 40001 || code == 40014 || code == 42001) {
            memset(s->token, 0, sizeof s->token);
            s->token_until_ms = 0;
        } else if (code != -1 && code != -2) {
            r->permanent = true;
        }
        snprintf(r->error, sizeof r->error, "wechat: errcode %lld", code);
    }
done:
    memset(url, 0, sizeof url); /* held the access token */
    curl_slist_free_all(h);
    free(body);
}

void wk_notify_send(wk_notify_sender *s, const wk_notify_msg *m, int64_t now_ms, wk_notify_result *r)
{
    memset(r, 0, sizeof *r);
    switch (m->channel) {
    case WK_NC_WEBHOOK:
        ch__webhook(s, m, now_ms, r);
        break;
    case WK_NC_EMAIL:
        ch__email(s, m, now_ms, r);
        break;
    case WK_NC_SMS:
        ch__sms(s, m, now_ms, r);
        break;
    case WK_NC_WECHAT:
        ch__wechat(s, m, now_ms, r);
        break;
    default:
        r->permanent = true;
        snprintf(r->error, sizeof r->error, "unknown channel");
    }
}
