/*
 * rules.c - the pure rules of notifications: names of kinds, channels and languages,
 * days-left wording, money as yuan text, quiet hours, retry backoff and the webhook
 * signature. No I/O, no clock: time is a parameter.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/civil.h"
#include "notify/notify.h"
#include "proto/encoding.h"
#include "proto/sha256.h"

static const struct {
    const char *event; /* as the head-end writes it */
    const char *name;  /* template name */
    bool staff;
} nt_kinds[WK_NK_COUNT] = {
    [WK_NK_WARN1] = {"warn1", "warn1", false},
    [WK_NK_WARN2] = {"warn2", "warn2", false},
    [WK_NK_TRIP] = {"decide_trip", "trip", false},
    [WK_NK_CLOSE] = {"decide_close", "close", false},
    [WK_NK_CREDIT] = {"credit", "credit", false},
    [WK_NK_OFFLINE] = {"offline", "offline", true},
    [WK_NK_REFUSED] = {"refused", "refused", true},
    [WK_NK_EXPIRED] = {"expired", "expired", true},
    [WK_NK_FOREIGN] = {"foreign_command", "foreign_command", true},
};

static const char *const nt_channels[WK_NC_COUNT] = {"webhook", "email", "sms", "wechat"};
static const char *const nt_langs[WK_NL_COUNT] = {"en", "zh-CN"};

bool wk_notify_kind_of_event(const char *event_kind, wk_notify_kind *out)
{
    for (int k = 0; k < WK_NK_COUNT; k++)
        if (!strcmp(nt_kinds[k].event, event_kind)) {
            *out = (wk_notify_kind)k;
            return true;
        }
    return false;
}

const char *wk_notify_kind_name(wk_notify_kind k)
{
    return (unsigned)k < WK_NK_COUNT ? nt_kinds[k].name : "?";
}

bool wk_notify_kind_staff(wk_notify_kind k)
{
    return (unsigned)k < WK_NK_COUNT && nt_kinds[k].staff;
}

const char *wk_notify_channel_name(wk_notify_channel c)
{
    return (unsigned)c < WK_NC_COUNT ? nt_channels[c] : "?";
}

wk_err wk_notify_channel_parse(const char *s, wk_notify_channel *out)
{
    for (int c = 0; c < WK_NC_COUNT; c++)
        if (!strcmp(nt_channels[c], s)) {
            *out = (wk_notify_channel)c;
            return WK_OK;
        }
    return WK_EINVAL;
}

const char *wk_notify_lang_name(wk_notify_lang l)
{
    return (unsigned)l < WK_NL_COUNT ? nt_langs[l] : "?";
}

wk_err wk_notify_lang_parse(const char *s, wk_notify_lang *out)
{
    for (int l = 0; l < WK_NL_COUNT; l++)
        if (!strcmp(nt_langs[l], s)) {
            *out = (wk_notify_lang)l;
            return WK_OK;
        }
    return WK_EINVAL;
}

const char *wk_notify_days_left_text(wk_notify_lang l, int32_t days_left, char *out, size_t cap)
{
    if (!cap)
        return out;
    out[0] = 0;
    if (days_left < 0)
        return out;
    if (l == WK_NL_ZH) {
        if (days_left == 0)
            snprintf(out, cap, "按目前用量可用不足1天。");
        else
            snprintf(out, cap, "按目前用量约可用%" PRId32 "天。", days_left);
    } else {
        if (days_left == 0)
            snprintf(out, cap, "Less than a day left at your usage.");
        else if (days_left == 1)
            snprintf(out, cap, "About 1 day left at your usage.");
        else
            snprintf(out, cap, "About %" PRId32 " days left at your usage.", days_left);
    }
    return out;
}

const char *wk_notify_yuan(int64_t fen, char *out, size_t cap)
{
    uint64_t a = fen < 0 ? (uint64_t)0 - (uint64_t)fen : (uint64_t)fen;
    snprintf(out, cap, "%s%" PRIu64 ".%02" PRIu64, fen < 0 ? "-" : "", a / 100, a % 100);
    return out;
}

int64_t wk_notify_quiet_until(int64_t now_ms, int32_t from_min, int32_t to_min,
                              int32_t utc_offset_s)
{
    if (from_min == to_min || from_min < 0 || to_min < 0 || from_min >= 1440 || to_min >= 1440)
        return now_ms;
    int64_t local_ms = now_ms + (int64_t)utc_offset_s * 1000;
    int64_t day_start = wk_floor_div(local_ms, 86400000) * 86400000;
    int64_t min = (local_ms - day_start) / 60000;
    bool inside = from_min < to_min ? (min >= from_min && min < to_min)
                                    : (min >= from_min || min < to_min);
    if (!inside)
        return now_ms;
    /* the end of the window: today at to_min, or tomorrow when it lies behind us */
    int64_t end = day_start + (int64_t)to_min * 60000;
    if (end <= local_ms)
        end += 86400000;
    return end - (int64_t)utc_offset_s * 1000;
}

int64_t wk_notify_backoff_ms(int32_t n, int64_t base_ms, int64_t max_ms)
{
    if (base_ms <= 0)
        base_ms = 1;
    if (max_ms < base_ms)
        max_ms = base_ms;
    if (n < 1)
        n = 1;
    int64_t d = base_ms;
    for (int32_t i = 1; i < n; i++) {
        if (d > max_ms / 2)
            return max_ms;
        d *= 2;
    }
    return d < max_ms ? d : max_ms;
}

const char *wk_notify_sign(const char *secret, int64_t timestamp_s, const char *body,
                           size_t body_len, char *out, size_t cap)
{
    char ts[32];
    int n = snprintf(ts, sizeof ts, "%" PRId64 ".", timestamp_s);
    uint8_t mac[WK_SHA256_LEN];
    wk_hmac_sha256((const uint8_t *)secret, strlen(secret), ts, (size_t)n, body, body_len, mac);
    char hex[2 * WK_SHA256_LEN + 1];
    wk_hex_encode(mac, sizeof mac, hex, sizeof hex);
    snprintf(out, cap, "v1=%s", hex);
    return out;
}

bool wk_notify_verify(const char *secret, int64_t timestamp_s, const char *body, size_t body_len,
                      const char *signature)
{
    char want[80];
    wk_notify_sign(secret, timestamp_s, body, body_len, want, sizeof want);
    size_t n = strlen(want);
    if (!signature || strlen(signature) != n)
        return false;
    return wk_mem_equal_ct((const uint8_t *)want, (const uint8_t *)signature, n) == 1;
}
