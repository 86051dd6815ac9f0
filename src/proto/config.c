/*
 * config.c - the key table of wattkeeper.ini, the value parsers (integers, durations,
 * money, times of day, host:port, date lists) and the inih/environment loading described
 * in config.h.
 *
 * Invariant: a field of wk_config is written only with a value its key's parser accepted
 * and whose range it checked; the table's defaults go through the same path. Errors never
 * echo the value of a secret key.
 */
#include "proto/config.h"

#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/civil.h"
#include "core/mem.h"
#include "core/units.h"

#define MS_S INT64_C(1000)
#define MS_M (60 * MS_S)
#define MS_H (60 * MS_M)
#define MS_D (24 * MS_H)
#define FEN_MAX INT64_C(100000000) /* 1,000,000.00 yuan: far above any sane threshold */

#define FIELD(sec, f) offsetof(wk_config, sec.f), sizeof(((wk_config *)0)->sec.f)

/* clang-format off */
static const wk_config_key cfg_keys[] = {
    {"server", "db", WK_CFG_STRING, FIELD(server, db), "wattkeeper.db",
     1, WK_CONFIG_PATH_MAX - 1, false, "SQLite database file; created and migrated if missing."},
    {"server", "http_listen", WK_CFG_HOSTPORT, FIELD(server, http_listen), "127.0.0.1:8080",
     0, 65535, false, "Address and port of the HTTP server (API, /healthz, /metrics); port 0 picks a free port."},
    {"server", "log_level", WK_CFG_LOG_LEVEL, FIELD(server, log_level), "info",
     0, 3, false, "Lowest level of log lines written to stderr."},
    {"server", "data_dir", WK_CFG_STRING, FIELD(server, data_dir), ".",
     1, WK_CONFIG_PATH_MAX - 1, false, "Directory for state files such as the log signing key."},
    {"server", "web_dir", WK_CFG_STRING, FIELD(server, web_dir), "web",
     1, WK_CONFIG_PATH_MAX - 1, false, "Directory of the web files served by the HTTP server (the OpenAPI document)."},

    {"mqtt", "host", WK_CFG_STRING, FIELD(mqtt, host), "127.0.0.1",
     1, WK_CONFIG_NAME_MAX - 1, false, "Host name or address of the MQTT broker."},
    {"mqtt", "port", WK_CFG_INT, FIELD(mqtt, port), "1883",
     1, 65535, false, "TCP port of the MQTT broker."},
    {"mqtt", "username", WK_CFG_STRING, FIELD(mqtt, username), "",
     0, WK_CONFIG_NAME_MAX - 1, false, "User name the head-end logs in to the broker with; empty: anonymous."},
    {"mqtt", "password", WK_CFG_STRING, FIELD(mqtt, password), "",
     0, WK_CONFIG_NAME_MAX - 1, true, "Password for the broker login; never logged."},
    {"mqtt", "client_id", WK_CFG_STRING, FIELD(mqtt, client_id), "wattkeeper-headend",
     1, 128, false, "MQTT client id of the head-end's persistent session; unique per serve process."},
    {"mqtt", "keepalive", WK_CFG_DURATION, FIELD(mqtt, keepalive_ms), "30s",
     5 * MS_S, 65535 * MS_S, false, "MQTT keepalive interval (whole seconds are sent to the broker)."},
    {"mqtt", "max_inflight", WK_CFG_INT, FIELD(mqtt, max_inflight), "1000",
     1, 65535, false, "QoS 1 messages the client may have unacknowledged at once."},
    {"mqtt", "reconnect_min", WK_CFG_DURATION, FIELD(mqtt, reconnect_min_ms), "1s",
     100, MS_H, false, "First delay before reconnecting to a lost broker; doubles up to reconnect_max."},
    {"mqtt", "reconnect_max", WK_CFG_DURATION, FIELD(mqtt, reconnect_max_ms), "30s",
     MS_S, MS_H, false, "Longest delay between reconnection attempts."},

    {"headend", "report_interval", WK_CFG_DURATION, FIELD(headend, report_interval_ms), "60s",
     MS_S, MS_D, false, "Interval at which meters report their registers."},
    {"headend", "gap_intervals", WK_CFG_INT, FIELD(headend, gap_intervals), "3",
     1, 1000, false, "A meter silent longer than this many report intervals is polled with a read request."},
    {"headend", "offline_after", WK_CFG_DURATION, FIELD(headend, offline_after_ms), "5m",
     MS_S, 7 * MS_D, false, "A meter not heard from for this long is considered offline."},
    {"headend", "command_deadline", WK_CFG_DURATION, FIELD(headend, command_deadline_ms), "30s",
     100, MS_H, false, "Deadline of a relay command frame; past it the command is expired."},
    {"headend", "command_retries", WK_CFG_INT, FIELD(headend, command_retries), "3",
     0, 100, false, "Retries of an unanswered command while its deadline allows."},
    {"headend", "command_retry_base", WK_CFG_DURATION, FIELD(headend, command_retry_base_ms), "1s",
     10, 10 * MS_M, false, "Delay before the first retry; doubles with each further retry."},
    {"headend", "batch_max", WK_CFG_INT, FIELD(headend, batch_max), "512",
     1, 100000, false, "Most readings booked in one database transaction."},
    {"headend", "tariff_dir", WK_CFG_STRING, FIELD(headend, tariff_dir), "examples/tariffs",
     1, WK_CONFIG_PATH_MAX - 1, false, "Directory of tariff JSON files."},

    {"policy", "warn1", WK_CFG_MONEY, FIELD(policy, warn1_fen), "20.00",
     0, FEN_MAX, false, "First low-balance warning at or below this balance (yuan)."},
    {"policy", "warn2", WK_CFG_MONEY, FIELD(policy, warn2_fen), "5.00",
     0, FEN_MAX, false, "Second, last warning at or below this balance (yuan); at most warn1."},
    {"policy", "warn1_days", WK_CFG_INT, FIELD(policy, warn1_days), "0",
     0, 365, false, "Also warn (level 1) when the estimated days left fall to this; 0 = off."},
    {"policy", "warn2_days", WK_CFG_INT, FIELD(policy, warn2_days), "0",
     0, 365, false, "Also warn (level 2) when the estimated days left fall to this; 0 = off; at most warn1_days."},
    {"policy", "hysteresis", WK_CFG_MONEY, FIELD(policy, hysteresis_fen), "3.00",
     0, FEN_MAX, false, "A warning level re-arms only when the balance climbs this far above it (yuan)."},
    {"policy", "close_margin", WK_CFG_MONEY, FIELD(policy, close_margin_fen), "0.00",
     0, FEN_MAX, false, "A tripped relay closes when the available credit exceeds this (yuan)."},
    {"policy", "emergency_credit", WK_CFG_MONEY, FIELD(policy, emergency_credit_fen), "10.00",
     0, FEN_MAX, false, "Emergency credit a resident may take once until the next top-up (yuan)."},
    {"policy", "friendly_from", WK_CFG_TIME_OF_DAY, FIELD(policy, friendly_from_min), "20:00",
     0, 1439, false, "Start of the daily friendly hours (local time) in which no trip is sent."},
    {"policy", "friendly_to", WK_CFG_TIME_OF_DAY, FIELD(policy, friendly_to_min), "08:00",
     0, 1439, false, "End of the daily friendly hours; may be before friendly_from (over midnight); equal: none."},
    {"policy", "friendly_weekends", WK_CFG_BOOL, FIELD(policy, friendly_weekends), "true",
     0, 1, false, "Saturdays and Sundays are friendly all day."},
    {"policy", "holidays", WK_CFG_DATES, FIELD(policy, holidays), "",
     0, WK_CONFIG_DATES_MAX, false, "Dates that are friendly all day, comma-separated."},

    {"ledger", "log_name", WK_CFG_STRING, FIELD(ledger, log_name), "wattkeeper.example/log",
     1, WK_CONFIG_NAME_MAX - 1, false, "Origin line of the signed checkpoints of the Merkle log."},
    {"ledger", "key_file", WK_CFG_STRING, FIELD(ledger, key_file), "",
     0, WK_CONFIG_PATH_MAX - 1, false, "Ed25519 signing key of the log; empty: <data_dir>/log.key."},
    {"ledger", "checkpoint_interval", WK_CFG_DURATION, FIELD(ledger, checkpoint_interval_ms), "60s",
     MS_S, MS_D, false, "A checkpoint is signed at least this often while the log grows."},
    {"ledger", "checkpoint_leaves", WK_CFG_INT, FIELD(ledger, checkpoint_leaves), "10000",
     1, 10000000, false, "A checkpoint is also signed after this many new leaves."},

    {"notify", "enabled", WK_CFG_BOOL, FIELD(notify, enabled), "false",
     0, 1, false, "Run the notification worker (outbox fan-out and delivery)."},
    {"notify", "templates_dir", WK_CFG_STRING, FIELD(notify, templates_dir), "examples/notify/templates",
     1, WK_CONFIG_PATH_MAX - 1, false, "Directory of the message templates en.json and zh-CN.json, validated at start."},
    {"notify", "poll_interval", WK_CFG_DURATION, FIELD(notify, poll_interval_ms), "1s",
     10, MS_M, false, "The worker looks for new events and due retries at least this often."},
    {"notify", "max_attempts", WK_CFG_INT, FIELD(notify, max_attempts), "8",
     1, 100, false, "Attempts of one message before it is dead-lettered."},
    {"notify", "retry_base", WK_CFG_DURATION, FIELD(notify, retry_base_ms), "2s",
     10, MS_H, false, "Delay after the first failed attempt; doubles with each further failure."},
    {"notify", "retry_max", WK_CFG_DURATION, FIELD(notify, retry_max_ms), "1h",
     10, MS_D, false, "Longest delay between two attempts of one message."},
    {"notify", "rate_limit", WK_CFG_INT, FIELD(notify, rate_limit), "10",
     1, 1000, false, "Non-urgent messages per contact per hour; more are suppressed."},
    {"notify", "offline_alert_after", WK_CFG_DURATION, FIELD(notify, offline_alert_after_ms), "30m",
     0, 7 * MS_D, false, "Staff are alerted when a meter stays offline this long (dropped if it comes back first)."},
    {"notify", "send_timeout", WK_CFG_DURATION, FIELD(notify, send_timeout_ms), "10s",
     100, 2 * MS_M, false, "Time limit of one delivery exchange (connect and transfer)."},
    {"notify", "webhook_secret", WK_CFG_STRING, FIELD(notify, webhook_secret), "",
     0, WK_CONFIG_NAME_MAX - 1, true, "Key of the HMAC-SHA256 webhook signature (X-Wattkeeper-Signature); never logged."},
    {"notify", "smtp_url", WK_CFG_STRING, FIELD(notify, smtp_url), "",
     0, WK_CONFIG_NAME_MAX - 1, false, "SMTP server for e-mail, smtp://host:port (STARTTLS) or smtps://host:port; empty: no e-mail."},
    {"notify", "smtp_username", WK_CFG_STRING, FIELD(notify, smtp_username), "",
     0, WK_CONFIG_NAME_MAX - 1, false, "SMTP login; empty: no authentication."},
    {"notify", "smtp_password", WK_CFG_STRING, FIELD(notify, smtp_password), "",
     0, WK_CONFIG_NAME_MAX - 1, true, "SMTP password; never logged."},
    {"notify", "smtp_from", WK_CFG_STRING, FIELD(notify, smtp_from), "",
     0, WK_CONFIG_NAME_MAX - 1, false, "Sender address of e-mails (also the Message-ID domain)."},
    {"notify", "smtp_starttls", WK_CFG_BOOL, FIELD(notify, smtp_starttls), "true",
     0, 1, false, "Require STARTTLS on smtp:// (the message is not sent in clear text)."},
    {"notify", "smtp_ca_file", WK_CFG_STRING, FIELD(notify, smtp_ca_file), "",
     0, WK_CONFIG_PATH_MAX - 1, false, "CA certificates (PEM) to verify the SMTP server with; empty: the system's."},
    {"notify", "sms_url", WK_CFG_STRING, FIELD(notify, sms_url), "",
     0, WK_CONFIG_NAME_MAX - 1, false, "SMS gateway endpoint (HTTP POST JSON); empty: no SMS."},
    {"notify", "sms_key_id", WK_CFG_STRING, FIELD(notify, sms_key_id), "",
     0, WK_CONFIG_NAME_MAX - 1, false, "Account or key id sent to the SMS gateway in the body."},
    {"notify", "sms_secret", WK_CFG_STRING, FIELD(notify, sms_secret), "",
     0, WK_CONFIG_NAME_MAX - 1, true, "Key of the SMS request signature; never logged."},
    {"notify", "sms_signature", WK_CFG_STRING, FIELD(notify, sms_signature), "hmac-sha256",
     1, 32, false, "SMS request signature scheme: hmac-sha256 (X-Sms-Signature) or none."},
    {"notify", "wechat_base_url", WK_CFG_STRING, FIELD(notify, wechat_base_url), "",
     0, WK_CONFIG_NAME_MAX - 1, false, "Base URL of the WeChat official-account API; empty: no WeChat."},
    {"notify", "wechat_appid", WK_CFG_STRING, FIELD(notify, wechat_appid), "",
     0, WK_CONFIG_NAME_MAX - 1, false, "AppID of the official account."},
    {"notify", "wechat_secret", WK_CFG_STRING, FIELD(notify, wechat_secret), "",
     0, WK_CONFIG_NAME_MAX - 1, true, "AppSecret of the official account (for access tokens); never logged."},
    {"pay", "wechat_mchid", WK_CFG_STRING, FIELD(pay, wechat_mchid), "",
     0, 32, false, "WeChat Pay merchant id (mchid); empty: WeChat Pay is off."},
    {"pay", "wechat_appid", WK_CFG_STRING, FIELD(pay, wechat_appid), "",
     0, 32, false, "WeChat app id (appid) the payments must carry."},
    {"pay", "wechat_apiv3_key_file", WK_CFG_STRING, FIELD(pay, wechat_apiv3_key_file), "",
     0, WK_CONFIG_PATH_MAX - 1, false, "File holding the 32-character APIv3 key that decrypts notifications."},
    {"pay", "wechat_platform_cert", WK_CFG_STRING, FIELD(pay, wechat_platform_cert), "",
     0, WK_CONFIG_PATH_MAX - 1, false, "WeChat Pay platform certificate (PEM); its serial selects it."},
    {"pay", "wechat_pubkey_file", WK_CFG_STRING, FIELD(pay, wechat_pubkey_file), "",
     0, WK_CONFIG_PATH_MAX - 1, false, "WeChat Pay public key (PEM), selected by wechat_pubkey_id."},
    {"pay", "wechat_pubkey_id", WK_CFG_STRING, FIELD(pay, wechat_pubkey_id), "",
     0, 64, false, "Id of the WeChat Pay public key (PUB_KEY_ID_...) as sent in Wechatpay-Serial."},
    {"pay", "wechat_api_base", WK_CFG_STRING, FIELD(pay, wechat_api_base), "https://api.mch.weixin.qq.com",
     1, WK_CONFIG_PATH_MAX - 1, false, "Base URL of the WeChat Pay API (order query)."},
    {"pay", "wechat_merchant_key_file", WK_CFG_STRING, FIELD(pay, wechat_merchant_key_file), "",
     0, WK_CONFIG_PATH_MAX - 1, false, "Merchant API private key (PEM) that signs requests to WeChat Pay; empty: no queries."},
    {"pay", "wechat_merchant_serial", WK_CFG_STRING, FIELD(pay, wechat_merchant_serial), "",
     0, 64, false, "Serial number of the merchant API certificate (serial_no in the request signature)."},
    {"pay", "notify_base_url", WK_CFG_STRING, FIELD(pay, notify_base_url), "",
     0, 512, false, "Public base URL of this server; notify_url = it + /pay/wechat/notify (prepay)."},
    {"pay", "alipay_app_id", WK_CFG_STRING, FIELD(pay, alipay_app_id), "",
     0, 32, false, "Alipay app id the notifications must carry; empty: Alipay is off."},
    {"pay", "alipay_seller_id", WK_CFG_STRING, FIELD(pay, alipay_seller_id), "",
     0, 32, false, "Alipay seller id (2088...) the notifications must carry."},
    {"pay", "alipay_public_key", WK_CFG_STRING, FIELD(pay, alipay_public_key), "",
     0, WK_CONFIG_PATH_MAX - 1, false, "File with Alipay's public key (PEM or the console's base64)."},
    {"pay", "alipay_gateway", WK_CFG_STRING, FIELD(pay, alipay_gateway), "https://openapi.alipay.com/gateway.do",
     1, WK_CONFIG_PATH_MAX - 1, false, "Alipay open API gateway (order query)."},
    {"pay", "alipay_app_private_key", WK_CFG_STRING, FIELD(pay, alipay_app_private_key), "",
     0, WK_CONFIG_PATH_MAX - 1, false, "Our Alipay app private key (PEM) that signs API requests; empty: no queries."},
    {"pay", "min_amount", WK_CFG_MONEY, FIELD(pay, min_amount_fen), "1.00",
     1, FEN_MAX, false, "Smallest top-up order (yuan)."},
    {"pay", "max_amount", WK_CFG_MONEY, FIELD(pay, max_amount_fen), "5000.00",
     1, FEN_MAX, false, "Largest top-up order (yuan)."},
    {"pay", "order_ttl", WK_CFG_DURATION, FIELD(pay, order_ttl_ms), "2h",
     MS_M, 7 * MS_D, false, "An unpaid order expires after this."},
    {"pay", "notify_window", WK_CFG_DURATION, FIELD(pay, notify_window_ms), "5m",
     MS_S, 5 * MS_M, false, "A WeChat notification must be signed within this of our clock."},
};
/* clang-format on */

#define N_KEYS (sizeof cfg_keys / sizeof cfg_keys[0])

size_t wk_config_keys(const wk_config_key **table)
{
    *table = cfg_keys;
    return N_KEYS;
}

/* ---- value parsers ---- */

/* "[-]digits" into *out; false on anything else or overflow. */
static bool cfg__int(const char *s, size_t n, int64_t *out)
{
    size_t i = 0;
    bool neg = n > 0 && s[0] == '-';
    if (neg)
        i++;
    if (i == n || n - i > 19)
        return false;
    int64_t v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        if (wk_mul_i64(v, 10, &v) || wk_add_i64(v, neg ? -(s[i] - '0') : s[i] - '0', &v))
            return false;
    }
    *out = v;
    return true;
}

wk_err wk_config_parse_duration(const char *s, int64_t *ms, wk_diag *d)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"ms", 1}, {"s", MS_S}, {"m", MS_M}, {"h", MS_H}, {"d", MS_D}};
    size_t n = strlen(s), digits = 0;
    while (digits < n && s[digits] >= '0' && s[digits] <= '9')
        digits++;
    int64_t v;
    if (digits > 0 && cfg__int(s, digits, &v)) {
        if (digits == n && v == 0) {
            *ms = 0;
            return WK_OK;
        }
        for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
            if (strcmp(s + digits, units[u].unit) == 0) {
                if (wk_mul_i64(v, units[u].ms, &v))
                    return wk_diag_set(d, WK_ERANGE, "duration '%.40s' is too large", s);
                *ms = v;
                return WK_OK;
            }
        }
    }
    return wk_diag_set(d, WK_EINVAL,
                       "expected a duration like 250ms, 30s, 5m, 2h or 1d, got '%.60s'", s);
}

wk_err wk_config_parse_hostport(const char *s, wk_config_hostport *out, wk_diag *d)
{
    const char *host = s, *colon;
    size_t host_n;
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (!rb || rb[1] != ':')
            return wk_diag_set(d, WK_EINVAL, "expected [address]:port, got '%.60s'", s);
        host = s + 1;
        host_n = (size_t)(rb - host);
        colon = rb + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            return wk_diag_set(d, WK_EINVAL, "expected host:port, got '%.60s'", s);
        if (memchr(s, ':', (size_t)(colon - s)))
            return wk_diag_set(d, WK_EINVAL,
                               "an IPv6 address needs brackets, [::1]:8080; got '%.60s'", s);
        host_n = (size_t)(colon - s);
    }
    if (host_n == 0)
        return wk_diag_set(d, WK_EINVAL, "the host before ':' is empty in '%.60s'", s);
    if (host_n >= sizeof out->host)
        return wk_diag_set(d, WK_ERANGE, "the host is longer than %zu bytes",
                           sizeof out->host - 1);
    for (size_t i = 0; i < host_n; i++)
        if ((unsigned char)host[i] <= ' ' || host[i] == '/' || host[i] == '[' || host[i] == ']')
            return wk_diag_set(d, WK_EINVAL, "the host in '%.60s' has a bad character", s);
    int64_t port;
    if (!cfg__int(colon + 1, strlen(colon + 1), &port) || colon[1] == '-')
        return wk_diag_set(d, WK_EINVAL, "expected a port number after ':', got '%.60s'", s);
    if (port > 65535)
        return wk_diag_set(d, WK_ERANGE, "port %lld is above 65535", (long long)port);
    memset(out->host, 0, sizeof out->host);
    memcpy(out->host, host, host_n);
    out->port = port;
    return WK_OK;
}

static wk_err cfg__dates(const char *s, wk_config_dates *out, wk_diag *d)
{
    wk_config_dates r = {0};
    const char *p = s;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '\0') {
        *out = r;
        return WK_OK;
    }
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        const char *e = p;
        while (*e && *e != ',')
            e++;
        size_t n = (size_t)(e - p);
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        if (n == 0)
            return wk_diag_set(d, WK_EINVAL, "an empty entry in the date list '%.60s'", s);
        int64_t day;
        wk_diag sub;
        if (wk_date_parse(p, n, &day, &sub) != WK_OK)
            return wk_diag_set(d, WK_EINVAL, "expected dates YYYY-MM-DD separated by commas: "
                               "'%.*s': %s", (int)(n > 40 ? 40 : n), p, sub.msg);
        size_t i = 0;
        while (i < r.n && r.days[i] < day)
            i++;
        if (i == r.n || r.days[i] != day) {
            if (r.n == WK_CONFIG_DATES_MAX)
                return wk_diag_set(d, WK_ERANGE, "more than %d dates", WK_CONFIG_DATES_MAX);
            memmove(&r.days[i + 1], &r.days[i], (r.n - i) * sizeof r.days[0]);
            r.days[i] = day;
            r.n++;
        }
        if (*e == '\0')
            break;
        p = e + 1;
    }
    *out = r;
    return WK_OK;
}

static const char *cfg__fmt_duration(int64_t ms, char *buf, size_t n)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"d", MS_D}, {"h", MS_H}, {"m", MS_M}, {"s", MS_S}};
    if (ms == 0) {
        snprintf(buf, n, "0s");
        return buf;
    }
    for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
        if (ms % units[u].ms == 0) {
            snprintf(buf, n, "%lld%s", (long long)(ms / units[u].ms), units[u].unit);
            return buf;
        }
    }
    snprintf(buf, n, "%lldms", (long long)ms);
    return buf;
}

/* One bound of a key's range in the key's own notation. */
static const char *cfg__fmt_bound(const wk_config_key *k, int64_t v, char *buf, size_t n)
{
    switch (k->type) {
    case WK_CFG_DURATION: return cfg__fmt_duration(v, buf, n);
    case WK_CFG_MONEY: return wk_dec_format(v, 2, 2, buf, n);
    case WK_CFG_TIME_OF_DAY:
        snprintf(buf, n, "%02lld:%02lld", (long long)(v / 60), (long long)(v % 60));
        return buf;
    default: snprintf(buf, n, "%lld", (long long)v); return buf;
    }
}

static void *cfg__field(wk_config *c, const wk_config_key *k)
{
    return (char *)c + k->offset;
}

static const void *cfg__cfield(const wk_config *c, const wk_config_key *k)
{
    return (const char *)c + k->offset;
}

static wk_err cfg__range(const wk_config_key *k, int64_t v, wk_diag *d)
{
    if (v >= k->min && v <= k->max)
        return WK_OK;
    char a[32], b[32], x[32];
    return wk_diag_set(d, WK_ERANGE, "%s is outside the range %s..%s", cfg__fmt_bound(k, v, x, sizeof x),
                       cfg__fmt_bound(k, k->min, a, sizeof a), cfg__fmt_bound(k, k->max, b, sizeof b));
}

/* Parses v for key k and stores it in c. The message names what was expected (and the
 * value, unless k is secret); the caller prefixes where and which key. */
static wk_err cfg__set(wk_config *c, const wk_config_key *k, const char *v, wk_diag *d)
{
    const char *shown = k->secret ? "***" : v;
    void *f = cfg__field(c, k);
    int64_t x = 0;
    wk_err e;
    switch (k->type) {
    case WK_CFG_STRING: {
        size_t n = strlen(v);
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
                return wk_diag_set(d, WK_EINVAL, "contains a control character");
        if ((int64_t)n < k->min || (int64_t)n > k->max || n >= k->size)
            return wk_diag_set(d, WK_ERANGE, "expected a string of %lld..%lld bytes, got %zu",
                               (long long)k->min, (long long)k->max, n);
        memcpy(f, v, n + 1);
        return WK_OK;
    }
    case WK_CFG_INT:
        if (!cfg__int(v, strlen(v), &x))
            return wk_diag_set(d, WK_EINVAL, "expected an integer %lld..%lld, got '%.60s'",
                               (long long)k->min, (long long)k->max, shown);
        break;
    case WK_CFG_BOOL: {
        static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no", "off", "0"};
        bool found = false;
        for (size_t i = 0; i < 4 && !found; i++) {
            if (strcmp(v, yes[i]) == 0)
                x = 1, found = true;
            else if (strcmp(v, no[i]) == 0)
                x = 0, found = true;
        }
        if (!found)
            return wk_diag_set(d, WK_EINVAL, "expected true or false (yes/no, on/off, 1/0), got '%.60s'",
                               shown);
        *(bool *)f = x != 0;
        return WK_OK;
    }
    case WK_CFG_DURATION:
        if ((e = wk_config_parse_duration(v, &x, d)) != WK_OK)
            return e;
        break;
    case WK_CFG_MONEY: {
        wk_diag sub;
        if (wk_dec_parse_str(v, WK_SCALE_YUAN, &x, &sub) != WK_OK)
            return wk_diag_set(d, WK_EINVAL, "expected an amount in yuan like 12.34, got '%.60s': %s",
                               shown, sub.msg);
        break;
    }
    case WK_CFG_TIME_OF_DAY:
        if (strlen(v) != 5 || v[2] != ':' || !cfg__int(v, 2, &x) || v[0] == '-' || v[3] == '-' ||
            !cfg__int(v + 3, 2, &x) || ((v[0] - '0') * 10 + (v[1] - '0')) > 23 ||
            ((v[3] - '0') * 10 + (v[4] - '0')) > 59)
            return wk_diag_set(d, WK_EINVAL, "expected a time of day HH:MM from 00:00 to 23:59, got '%.60s'",
                               shown);
        x = ((v[0] - '0') * 10 + (v[1] - '0')) * 60 + (v[3] - '0') * 10 + (v[4] - '0');
        break;
    case WK_CFG_HOSTPORT: {
        wk_config_hostport hp;
        memset(&hp, 0, sizeof hp);
        if ((e = wk_config_parse_hostport(v, &hp, d)) != WK_OK)
            return e;
        if ((e = cfg__range(k, hp.port, d)) != WK_OK)
            return e;
        *(wk_config_hostport *)f = hp;
        return WK_OK;
    }
    case WK_CFG_LOG_LEVEL: {
        wk_log_level l;
        if ((e = wk_log_level_parse(v, &l, d)) != WK_OK)
            return e;
        *(wk_log_level *)f = l;
        return WK_OK;
    }
    case WK_CFG_DATES:
        return cfg__dates(v, f, d);
    }
    if ((e = cfg__range(k, x, d)) != WK_OK)
        return e;
    *(int64_t *)f = x;
    return WK_OK;
}

/* ---- formatting and dump ---- */

const char *wk_config_env_name(const wk_config_key *k, char *buf, size_t n)
{
    snprintf(buf, n, "WK_%s_%s", k->section, k->key);
    for (char *p = buf; *p; p++) {
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
        else if (*p == '.' || *p == '-')
            *p = '_';
    }
    return buf;
}

const char *wk_config_format_value(const wk_config *c, const wk_config_key *k, char *buf,
                                   size_t n)
{
    const void *f = cfg__cfield(c, k);
    switch (k->type) {
    case WK_CFG_STRING:
        snprintf(buf, n, "%s", k->secret && *(const char *)f ? "***" : (const char *)f);
        break;
    case WK_CFG_BOOL: snprintf(buf, n, "%s", *(const bool *)f ? "true" : "false"); break;
    case WK_CFG_HOSTPORT: {
        const wk_config_hostport *hp = f;
        bool v6 = strchr(hp->host, ':') != NULL;
        snprintf(buf, n, "%s%s%s:%lld", v6 ? "[" : "", hp->host, v6 ? "]" : "", (long long)hp->port);
        break;
    }
    case WK_CFG_LOG_LEVEL: snprintf(buf, n, "%s", wk_log_level_name(*(const wk_log_level *)f)); break;
    case WK_CFG_DATES: {
        const wk_config_dates *ds = f;
        size_t len = 0;
        buf[0] = '\0';
        for (uint16_t i = 0; i < ds->n && len + 14 < n; i++) {
            char one[24];
            wk_date_format(ds->days[i], one, sizeof one);
            int w = snprintf(buf + len, n - len, "%s%s", i ? ", " : "", one);
            if (w < 0)
                break;
            len += (size_t)w;
        }
        break;
    }
    default: cfg__fmt_bound(k, *(const int64_t *)f, buf, n); break;
    }
    return buf;
}

const char *wk_config_type_name(wk_config_type t)
{
    switch (t) {
    case WK_CFG_STRING: return "string";
    case WK_CFG_INT: return "integer";
    case WK_CFG_BOOL: return "boolean";
    case WK_CFG_DURATION: return "duration";
    case WK_CFG_MONEY: return "money";
    case WK_CFG_TIME_OF_DAY: return "time of day";
    case WK_CFG_HOSTPORT: return "host:port";
    case WK_CFG_LOG_LEVEL: return "log level";
    case WK_CFG_DATES: return "date list";
    }
    return "?";
}

const char *wk_config_range_text(const wk_config_key *k, char *buf, size_t n)
{
    char a[32], b[32];
    switch (k->type) {
    case WK_CFG_STRING:
        snprintf(buf, n, "%lld..%lld bytes", (long long)k->min, (long long)k->max);
        break;
    case WK_CFG_BOOL: snprintf(buf, n, "true or false (also yes/no, on/off, 1/0)"); break;
    case WK_CFG_HOSTPORT:
        snprintf(buf, n, "host:port or [IPv6]:port, port %lld..%lld", (long long)k->min,
                 (long long)k->max);
        break;
    case WK_CFG_LOG_LEVEL: snprintf(buf, n, "debug, info, warn, error"); break;
    case WK_CFG_DATES: snprintf(buf, n, "0..%lld dates", (long long)k->max); break;
    default:
        snprintf(buf, n, "%s..%s%s", cfg__fmt_bound(k, k->min, a, sizeof a),
                 cfg__fmt_bound(k, k->max, b, sizeof b), k->type == WK_CFG_MONEY ? " yuan" : "");
        break;
    }
    return buf;
}

wk_err wk_config_dump(const wk_config *c, FILE *f)
{
    const char *section = "";
    char v[WK_CONFIG_PATH_MAX + 64];
    bool ok = fprintf(f, "; effective configuration of wattkeeper serve (secrets masked)\n") > 0;
    for (size_t i = 0; i < N_KEYS && ok; i++) {
        const wk_config_key *k = &cfg_keys[i];
        if (strcmp(section, k->section) != 0) {
            section = k->section;
            ok = fprintf(f, "\n[%s]\n", section) > 0;
        }
        wk_config_format_value(c, k, v, sizeof v);
        ok = ok && fprintf(f, "%s =%s%s\n", k->key, v[0] ? " " : "", v) > 0;
    }
    return ok && fflush(f) == 0 ? WK_OK : WK_EIO;
}

/* ---- loading ---- */

typedef struct cfg_ctx {
    wk_config *c;
    bool seen[N_KEYS];
    bool failed;
    wk_err code;
    wk_diag err;
} cfg_ctx;

static const wk_config_key *cfg__find(const char *section, const char *key, bool *section_known)
{
    *section_known = false;
    for (size_t i = 0; i < N_KEYS; i++) {
        if (strcmp(cfg_keys[i].section, section) != 0)
            continue;
        *section_known = true;
        if (strcmp(cfg_keys[i].key, key) == 0)
            return &cfg_keys[i];
    }
    return NULL;
}

/* inih callback: returns 0 on the first error so that inih reports its line. */
static int cfg__on_pair(void *user, const char *section, const char *name, const char *value)
{
    cfg_ctx *x = user;
    if (x->failed)
        return 0;
    x->code = WK_EINVAL;
    bool known;
    const wk_config_key *k = cfg__find(section, name, &known);
    if (!k) {
        x->failed = true;
        if (!section[0])
            wk_diag_set(&x->err, WK_EINVAL, "key '%.60s' outside a section; keys belong in "
                        "[server], [mqtt], [headend], [policy], [ledger], [notify] or [pay]", name);
        else if (!known)
            wk_diag_set(&x->err, WK_EINVAL, "unknown section [%.60s] (key '%.60s'); sections "
                        "are [server], [mqtt], [headend], [policy], [ledger], [notify] and [pay]", section, name);
        else
            wk_diag_set(&x->err, WK_EINVAL, "unknown key '%.60s' in [%s] (see docs/config.md)",
                        name, section);
        return 0;
    }
    size_t idx = (size_t)(k - cfg_keys);
    if (x->seen[idx]) {
        x->failed = true;
        wk_diag_set(&x->err, WK_EINVAL, "[%s] %s is set twice", k->section, k->key);
        return 0;
    }
    x->seen[idx] = true;
    if ((x->code = cfg__set(x->c, k, value, &x->err)) != WK_OK) {
        x->failed = true;
        wk_diag_prefix(&x->err, "[%s] %s", k->section, k->key);
        return 0;
    }
    return 1;
}

static void cfg__raw_defaults(wk_config *c)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < N_KEYS; i++) {
        wk_diag d;
        wk_err e = cfg__set(c, &cfg_keys[i], cfg_keys[i].def, &d);
        WK_PANIC_IF(e != WK_OK); /* a default outside its own range is a bug in the table */
    }
}

static wk_err cfg__finish(wk_config *c, wk_diag *d)
{
    char a[32], b[32];
    if (c->mqtt.reconnect_min_ms > c->mqtt.reconnect_max_ms)
        return wk_diag_set(d, WK_EINVAL, "[mqtt] reconnect_min (%s) must not exceed reconnect_max (%s)",
                           cfg__fmt_duration(c->mqtt.reconnect_min_ms, a, sizeof a),
                           cfg__fmt_duration(c->mqtt.reconnect_max_ms, b, sizeof b));
    if (c->policy.warn2_fen > c->policy.warn1_fen)
        return wk_diag_set(d, WK_EINVAL, "[policy] warn2 (%s) must not exceed warn1 (%s)",
                           wk_dec_format(c->policy.warn2_fen, 2, 2, a, sizeof a),
                           wk_dec_format(c->policy.warn1_fen, 2, 2, b, sizeof b));
    if (c->policy.warn2_days > 0 && c->policy.warn2_days > c->policy.warn1_days)
        return wk_diag_set(d, WK_EINVAL, "[policy] warn2_days (%lld) must not exceed warn1_days (%lld)",
                           (long long)c->policy.warn2_days, (long long)c->policy.warn1_days);
    if (c->ledger.key_file[0] == '\0') {
        int n = snprintf(c->ledger.key_file, sizeof c->ledger.key_file, "%s/log.key",
                         c->server.data_dir);
        if (n < 0 || (size_t)n >= sizeof c->ledger.key_file)
            return wk_diag_set(d, WK_ERANGE, "[ledger] key_file: <data_dir>/log.key is longer "
                               "than %zu bytes", sizeof c->ledger.key_file - 1);
    }
    return WK_OK;
}

void wk_config_defaults(wk_config *out)
{
    cfg__raw_defaults(out);
    wk_err e = cfg__finish(out, NULL);
    WK_PANIC_IF(e != WK_OK);
}

static wk_err cfg__env(wk_config *c, wk_diag *d)
{
    for (size_t i = 0; i < N_KEYS; i++) {
        char name[96];
        wk_config_env_name(&cfg_keys[i], name, sizeof name);
        const char *v = getenv(name);
        if (!v)
            continue;
        wk_err e = cfg__set(c, &cfg_keys[i], v, d);
        if (e != WK_OK) {
            wk_diag_prefix(d, "environment variable %s ([%s] %s)", name, cfg_keys[i].section,
                           cfg_keys[i].key);
            return e;
        }
    }
    return WK_OK;
}

static wk_err cfg__parse_text(const char *text, const char *origin, wk_config *c, wk_diag *d)
{
    /* Debian's inih: run-time knobs (see the reference notes): a heap line buffer that may
     * grow to 64 KiB, stop at the first error so its line is ours, no inline comments. */
    ini_use_stack = false;
    ini_allow_realloc = true;
    ini_max_line = 65536;
    ini_stop_on_first_error = true;
    ini_allow_inline_comments = false;
    ini_allow_multiline = false;
    ini_allow_no_value = false;
    ini_allow_bom = true;
    cfg_ctx *x = wk_calloc(1, sizeof *x);
    if (!x)
        return wk_diag_set(d, WK_ENOMEM, "%s: out of memory", origin);
    x->c = c;
    int line = ini_parse_string(text, cfg__on_pair, x);
    wk_err e = WK_OK;
    if (line == -2) {
        e = wk_diag_set(d, WK_ENOMEM, "%s: out of memory", origin);
    } else if (line != 0 && x->failed) {
        e = wk_diag_set(d, x->code, "%s:%d: %s", origin, line, x->err.msg);
    } else if (line != 0) {
        e = wk_diag_set(d, WK_EINVAL, "%s:%d: syntax error: expected [section], key = value "
                        "or a comment starting with ; or #", origin, line);
    }
    wk_free(x);
    return e;
}

wk_err wk_config_load_string(const char *text, const char *origin, wk_config *out, wk_diag *d)
{
    if (!origin)
        origin = "config";
    if (strlen(text) > WK_CONFIG_FILE_MAX)
        return wk_diag_set(d, WK_ELIMIT, "%s: longer than %u bytes", origin, WK_CONFIG_FILE_MAX);
    cfg__raw_defaults(out);
    wk_err e = cfg__parse_text(text, origin, out, d);
    if (e == WK_OK)
        e = cfg__env(out, d);
    if (e == WK_OK && (e = cfg__finish(out, d)) != WK_OK)
        wk_diag_prefix(d, "%s", origin);
    return e;
}

wk_err wk_config_load(const char *path, wk_config *out, wk_diag *d)
{
    if (!path)
        return wk_config_load_string("", "defaults", out, d);
    FILE *f = fopen(path, "rb");
    if (!f)
        return wk_diag_set(d, WK_EIO, "%s: cannot open: %s", path, strerror(errno));
    char *buf = wk_malloc(WK_CONFIG_FILE_MAX + 2);
    if (!buf) {
        fclose(f);
        return wk_diag_set(d, WK_ENOMEM, "%s: out of memory", path);
    }
    size_t n = fread(buf, 1, WK_CONFIG_FILE_MAX + 1, f);
    bool err = ferror(f) != 0;
    fclose(f);
    wk_err e;
    if (err)
        e = wk_diag_set(d, WK_EIO, "%s: read error", path);
    else if (n > WK_CONFIG_FILE_MAX)
        e = wk_diag_set(d, WK_ELIMIT, "%s: longer than %u bytes", path, WK_CONFIG_FILE_MAX);
    else if (memchr(buf, '\0', n))
        e = wk_diag_set(d, WK_EINVAL, "%s: contains a NUL byte (not a text file)", path);
    else {
        buf[n] = '\0';
        e = wk_config_load_string(buf, path, out, d);
    }
    wk_free(buf);
    return e;
}
