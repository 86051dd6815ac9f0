/*
 * dlt645.c - DL/T 645-2007 frames, values, data identifiers, deframer and relay commands
 * (see dlt645.h). Freestanding: only memcpy/memset from libc, no allocation, no globals
 * except constant tables. Every read of an input byte is preceded by a length check.
 */
#include "proto/dlt645.h"

#include <string.h>

#include "proto/sha256.h"

const char *wk_dlt645_reason_str(wk_dlt645_reason r)
{
    switch (r) {
    case WK_DLT645_R_OK: return "ok";
    case WK_DLT645_R_TRUNCATED: return "truncated frame";
    case WK_DLT645_R_OVERSIZED: return "oversized frame";
    case WK_DLT645_R_CHECKSUM: return "wrong checksum";
    case WK_DLT645_R_END: return "missing end byte 16";
    case WK_DLT645_R_ADDRESS: return "wrong address";
    case WK_DLT645_R_GARBAGE: return "garbage: no 68 A0..A5 68 header";
    case WK_DLT645_R_BAD_DATA: return "bad data for this control code or DI";
    case WK_DLT645_R_UNKNOWN_DI: return "unknown data identifier";
    case WK_DLT645_R_NEED_MORE: return "incomplete frame";
    }
    return "unknown reason";
}

/* ---- BCD helpers ---- */

static bool bcd_ok(uint8_t b) { return (b & 0x0F) <= 9 && (b >> 4) <= 9; }
static uint8_t bcd_from(unsigned v) { return (uint8_t)(((v / 10) % 10) << 4 | (v % 10)); }
static unsigned bcd_to(uint8_t b) { return (unsigned)(b >> 4) * 10 + (b & 0x0F); }

/* ---- addresses ---- */

wk_err wk_dlt645_addr_parse(const char *s, uint8_t addr[6])
{
    char digits[12];
    size_t n = 0;
    while (s[n] != '\0' && n <= 12)
        n++;
    if (n == 0 || n > 12)
        return WK_EINVAL;
    if (n == 12 && (s[0] == 'A' || s[0] == 'a')) {
        for (size_t i = 0; i < 12; i++)
            if (s[i] != 'A' && s[i] != 'a')
                return WK_EINVAL;
        memset(addr, 0xAA, 6);
        return WK_OK;
    }
    for (size_t i = 0; i < 12; i++) {
        char c = i < 12 - n ? '0' : s[i - (12 - n)];
        if (c < '0' || c > '9')
            return WK_EINVAL;
        digits[i] = c;
    }
    for (size_t i = 0; i < 6; i++) /* digits[0..1] are A5 */
        addr[5 - i] = (uint8_t)((digits[2 * i] - '0') << 4 | (digits[2 * i + 1] - '0'));
    return WK_OK;
}

void wk_dlt645_addr_format(const uint8_t addr[6], char out[13])
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < 6; i++) {
        out[2 * i] = hex[addr[5 - i] >> 4];
        out[2 * i + 1] = hex[addr[5 - i] & 0x0F];
    }
    out[12] = '\0';
}

bool wk_dlt645_addr_valid(const uint8_t addr[6])
{
    for (size_t i = 0; i < 6; i++)
        if (!bcd_ok(addr[i]))
            return false;
    return true;
}

bool wk_dlt645_addr_is_broadcast(const uint8_t addr[6])
{
    for (size_t i = 0; i < 6; i++)
        if (addr[i] != 0x99)
            return false;
    return true;
}

bool wk_dlt645_addr_matches(const uint8_t mine[6], const uint8_t dst[6])
{
    if (wk_dlt645_addr_is_broadcast(dst))
        return true;
    /* wildcard: the high bytes (from some byte up to A5) may be AA */
    bool wild = true;
    for (int i = 5; i >= 0; i--) {
        if (wild && dst[i] == 0xAA)
            continue;
        wild = false;
        if (dst[i] != mine[i])
            return false;
    }
    return true;
}

/* ---- frames ---- */

static uint8_t checksum(const uint8_t *p, size_t n)
{
    unsigned sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += p[i];
    return (uint8_t)sum;
}

wk_err wk_dlt645_encode(const wk_dlt645_frame *f, unsigned preamble, uint8_t *out, size_t cap,
                        size_t *out_len)
{
    if (preamble > WK_DLT645_PREAMBLE_MAX)
        return WK_EINVAL;
    if (f->len > WK_DLT645_DATA_MAX)
        return WK_ELIMIT;
    size_t need = preamble + WK_DLT645_FRAME_MIN + f->len;
    if (cap < need)
        return WK_ELIMIT;
    uint8_t *p = out;
    for (unsigned i = 0; i < preamble; i++)
        *p++ = 0xFE;
    uint8_t *start = p;
    *p++ = 0x68;
    memcpy(p, f->addr, 6);
    p += 6;
    *p++ = 0x68;
    *p++ = f->control;
    *p++ = f->len;
    for (size_t i = 0; i < f->len; i++)
        *p++ = (uint8_t)(f->data[i] + 0x33);
    *p = checksum(start, (size_t)(p - start));
    p++;
    *p++ = 0x16;
    *out_len = need;
    return WK_OK;
}

/* Checks a frame starting with 68 at buf[0], of which len bytes are available. Returns
 * R_OK with *flen = its length, R_NEED_MORE if the header is plausible but bytes are
 * missing, or the rejection reason. */
static wk_dlt645_reason frame_check(const uint8_t *buf, size_t len, size_t *flen)
{
    if (len < 10)
        return len >= 8 && buf[7] != 0x68 ? WK_DLT645_R_GARBAGE : WK_DLT645_R_NEED_MORE;
    if (buf[0] != 0x68 || buf[7] != 0x68)
        return WK_DLT645_R_GARBAGE;
    size_t l = buf[9];
    if (l > WK_DLT645_DATA_MAX)
        return WK_DLT645_R_OVERSIZED;
    size_t need = WK_DLT645_FRAME_MIN + l;
    if (len < need)
        return WK_DLT645_R_NEED_MORE;
    if (checksum(buf, 10 + l) != buf[10 + l])
        return WK_DLT645_R_CHECKSUM;
    if (buf[11 + l] != 0x16)
        return WK_DLT645_R_END;
    for (size_t i = 1; i <= 6; i++)
        if (!bcd_ok(buf[i]) && buf[i] != 0xAA)
            return WK_DLT645_R_ADDRESS;
    *flen = need;
    return WK_DLT645_R_OK;
}

static void frame_load(const uint8_t *buf, wk_dlt645_frame *f)
{
    memcpy(f->addr, buf + 1, 6);
    f->control = buf[8];
    f->len = buf[9];
    for (size_t i = 0; i < f->len; i++)
        f->data[i] = (uint8_t)(buf[10 + i] - 0x33);
}

wk_err wk_dlt645_decode(const uint8_t *buf, size_t len, wk_dlt645_frame *f,
                        wk_dlt645_reason *why)
{
    size_t i = 0;
    while (i < len && buf[i] == 0xFE && i < WK_DLT645_PREAMBLE_MAX)
        i++;
    buf += i;
    len -= i;
    size_t flen = 0;
    wk_dlt645_reason r;
    if (len == 0)
        r = WK_DLT645_R_TRUNCATED;
    else if (buf[0] != 0x68)
        r = WK_DLT645_R_GARBAGE;
    else {
        r = frame_check(buf, len, &flen);
        if (r == WK_DLT645_R_NEED_MORE)
            r = WK_DLT645_R_TRUNCATED;
        else if (r == WK_DLT645_R_OK && flen != len)
            r = WK_DLT645_R_OVERSIZED;
    }
    *why = r;
    if (r != WK_DLT645_R_OK)
        return WK_EINVAL;
    frame_load(buf, f);
    return WK_OK;
}

wk_err wk_dlt645_scan(const uint8_t *buf, size_t len, wk_dlt645_frame *f, size_t *consumed,
                      wk_dlt645_reason *why)
{
    *why = WK_DLT645_R_NEED_MORE;
    size_t i = 0;
    while (i < len) {
        if (buf[i] != 0x68) {
            i++;
            continue;
        }
        size_t flen = 0;
        wk_dlt645_reason r = frame_check(buf + i, len - i, &flen);
        if (r == WK_DLT645_R_OK) {
            frame_load(buf + i, f);
            *consumed = i + flen;
            *why = WK_DLT645_R_OK;
            return WK_OK;
        }
        if (r == WK_DLT645_R_NEED_MORE) {
            *consumed = i;
            return WK_ENOTFOUND;
        }
        *why = r;
        i++; /* resync at the next 68 */
    }
    *consumed = len;
    return WK_ENOTFOUND;
}

void wk_dlt645_deframer_init(wk_dlt645_deframer *d) { memset(d, 0, sizeof *d); }

void wk_dlt645_deframer_feed(wk_dlt645_deframer *d, const uint8_t *in, size_t len,
                             void (*on_frame)(void *ctx, const wk_dlt645_frame *f), void *ctx)
{
    wk_dlt645_frame f;
    while (len > 0) {
        size_t room = sizeof d->buf - d->n;
        size_t take = len < room ? len : room;
        memcpy(d->buf + d->n, in, take);
        d->n += (uint32_t)take;
        in += take;
        len -= take;
        for (;;) {
            size_t used = 0;
            wk_dlt645_reason why;
            wk_err e = wk_dlt645_scan(d->buf, d->n, &f, &used, &why);
            if (e == WK_OK) {
                /* bytes before the frame's 68 are garbage */
                size_t flen = WK_DLT645_FRAME_MIN + f.len;
                d->dropped_bytes += (uint32_t)(used - flen);
                d->frames++;
                on_frame(ctx, &f);
            } else {
                d->dropped_bytes += (uint32_t)used;
            }
            memmove(d->buf, d->buf + used, d->n - used);
            d->n -= (uint32_t)used;
            if (e != WK_OK)
                break;
        }
        if (d->n == sizeof d->buf) { /* cannot happen: a full buffer holds a frame or junk */
            d->dropped_bytes++;
            memmove(d->buf, d->buf + 1, d->n - 1);
            d->n--;
        }
    }
}

/* ---- values ---- */

static const wk_dlt645_fmt_info fmt_table[WK_DLT645_FMT_COUNT_] = {
    [WK_DLT645_FMT_ENERGY] = {4, 2, false, "kWh"},
    [WK_DLT645_FMT_VOLTAGE] = {2, 1, false, "V"},
    [WK_DLT645_FMT_CURRENT] = {3, 3, true, "A"},
    [WK_DLT645_FMT_POWER] = {3, 4, true, "kW"},
    [WK_DLT645_FMT_PF] = {2, 3, true, ""},
    [WK_DLT645_FMT_FREQ] = {2, 2, false, "Hz"},
    [WK_DLT645_FMT_MONEY] = {4, 2, false, "yuan"},
    [WK_DLT645_FMT_WORD] = {2, 0, false, ""},
    [WK_DLT645_FMT_DATE] = {4, 0, false, ""},
    [WK_DLT645_FMT_TIME] = {3, 0, false, ""},
    [WK_DLT645_FMT_DATETIME] = {6, 0, false, ""},
    [WK_DLT645_FMT_ADDR] = {6, 0, false, ""},
    [WK_DLT645_FMT_BCD1] = {1, 0, false, ""},
    [WK_DLT645_FMT_BCD2] = {2, 0, false, ""},
};

const wk_dlt645_fmt_info *wk_dlt645_fmt_get(wk_dlt645_fmt fmt)
{
    return (unsigned)fmt < WK_DLT645_FMT_COUNT_ ? &fmt_table[fmt] : NULL;
}

wk_err wk_dlt645_value_get(wk_dlt645_fmt fmt, const uint8_t *p, int64_t *v)
{
    const wk_dlt645_fmt_info *fi = wk_dlt645_fmt_get(fmt);
    if (!fi)
        return WK_EINVAL;
    if (fmt == WK_DLT645_FMT_WORD) {
        *v = (int64_t)(p[0] | (unsigned)p[1] << 8);
        return WK_OK;
    }
    if (fmt == WK_DLT645_FMT_DATETIME) { /* ssmmhhDDMMYY -> YYMMDDhhmmss */
        int64_t x = 0;
        for (int i = 5; i >= 0; i--) {
            if (!bcd_ok(p[i]))
                return WK_EINVAL;
            x = x * 100 + bcd_to(p[i]);
        }
        /* x is YYMMDDhhmmss already because the most significant byte is YY */
        *v = x;
        return WK_OK;
    }
    int64_t x = 0;
    bool neg = false;
    for (int i = fi->bytes - 1; i >= 0; i--) {
        uint8_t b = p[i];
        if (fi->is_signed && i == fi->bytes - 1) {
            neg = (b & 0x80) != 0;
            b &= 0x7F;
        }
        if (!bcd_ok(b))
            return WK_EINVAL;
        x = x * 100 + bcd_to(b);
    }
    *v = neg ? -x : x;
    return WK_OK;
}

wk_err wk_dlt645_value_put(wk_dlt645_fmt fmt, int64_t v, uint8_t *p)
{
    const wk_dlt645_fmt_info *fi = wk_dlt645_fmt_get(fmt);
    if (!fi)
        return WK_EINVAL;
    if (fmt == WK_DLT645_FMT_WORD) {
        if (v < 0 || v > 0xFFFF)
            return WK_ERANGE;
        p[0] = (uint8_t)v;
        p[1] = (uint8_t)(v >> 8);
        return WK_OK;
    }
    bool neg = v < 0;
    if (neg && !fi->is_signed)
        return WK_ERANGE;
    uint64_t x = neg ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    /* unsigned: bytes*2 digits; signed: the top byte keeps bit 7 for the sign, so its
     * high digit is at most 7 */
    uint64_t limit = 1;
    for (int i = 0; i < fi->bytes - 1; i++)
        limit *= 100;
    limit *= fi->is_signed ? 80 : 100;
    if (x >= limit)
        return WK_ERANGE;
    uint8_t tmp[6];
    for (int i = 0; i < fi->bytes; i++) {
        tmp[i] = bcd_from((unsigned)(x % 100));
        x /= 100;
    }
    if (neg)
        tmp[fi->bytes - 1] |= 0x80;
    memcpy(p, tmp, fi->bytes);
    return WK_OK;
}

/* ---- data identifiers ---- */

#define F1(f) 1, {f}, {NULL}
static const wk_dlt645_di_info di_table[] = {
    {WK_DI_COMBINED_TOTAL, "combined_active_total", F1(WK_DLT645_FMT_ENERGY), false},
    {WK_DI_FWD_TOTAL, "forward_active_total", F1(WK_DLT645_FMT_ENERGY), false},
    {WK_DI_FWD_T1, "forward_active_t1", F1(WK_DLT645_FMT_ENERGY), false},
    {WK_DI_FWD_T2, "forward_active_t2", F1(WK_DLT645_FMT_ENERGY), false},
    {WK_DI_FWD_T3, "forward_active_t3", F1(WK_DLT645_FMT_ENERGY), false},
    {WK_DI_FWD_T4, "forward_active_t4", F1(WK_DLT645_FMT_ENERGY), false},
    {WK_DI_FWD_BLOCK, "forward_active_block", 5,
     {WK_DLT645_FMT_ENERGY, WK_DLT645_FMT_ENERGY, WK_DLT645_FMT_ENERGY, WK_DLT645_FMT_ENERGY,
      WK_DLT645_FMT_ENERGY},
     {"total", "t1", "t2", "t3", "t4"}, false},
    {WK_DI_REV_TOTAL, "reverse_active_total", F1(WK_DLT645_FMT_ENERGY), false},
    {WK_DI_VOLTAGE_A, "voltage_a", F1(WK_DLT645_FMT_VOLTAGE), false},
    {0x02010200u, "voltage_b", F1(WK_DLT645_FMT_VOLTAGE), false},
    {0x02010300u, "voltage_c", F1(WK_DLT645_FMT_VOLTAGE), false},
    {0x0201FF00u, "voltage_block", 3,
     {WK_DLT645_FMT_VOLTAGE, WK_DLT645_FMT_VOLTAGE, WK_DLT645_FMT_VOLTAGE},
     {"a", "b", "c"}, false},
    {WK_DI_CURRENT_A, "current_a", F1(WK_DLT645_FMT_CURRENT), false},
    {0x02020200u, "current_b", F1(WK_DLT645_FMT_CURRENT), false},
    {0x02020300u, "current_c", F1(WK_DLT645_FMT_CURRENT), false},
    {0x0202FF00u, "current_block", 3,
     {WK_DLT645_FMT_CURRENT, WK_DLT645_FMT_CURRENT, WK_DLT645_FMT_CURRENT},
     {"a", "b", "c"}, false},
    {WK_DI_POWER_TOTAL, "active_power_total", F1(WK_DLT645_FMT_POWER), false},
    {0x02030100u, "active_power_a", F1(WK_DLT645_FMT_POWER), false},
    {WK_DI_POWER_FACTOR, "power_factor_total", F1(WK_DLT645_FMT_PF), false},
    {WK_DI_FREQUENCY, "frequency", F1(WK_DLT645_FMT_FREQ), false},
    {WK_DI_DATE, "date", F1(WK_DLT645_FMT_DATE), true},
    {WK_DI_TIME, "time", F1(WK_DLT645_FMT_TIME), true},
    {WK_DI_COMM_ADDR, "comm_address", F1(WK_DLT645_FMT_ADDR), false},
    {WK_DI_STATUS3, "status_word_3", F1(WK_DLT645_FMT_WORD), false},
    {WK_DI_ALARM1, "alarm_1_threshold", F1(WK_DLT645_FMT_MONEY), true},
    {WK_DI_ALARM2, "alarm_2_threshold", F1(WK_DLT645_FMT_MONEY), true},
    {WK_DI_OVERDRAFT_LIMIT, "overdraft_limit", F1(WK_DLT645_FMT_MONEY), true},
    {WK_DI_HOARDING_LIMIT, "hoarding_limit", F1(WK_DLT645_FMT_MONEY), true},
    {WK_DI_CLOSE_THRESHOLD, "close_threshold", F1(WK_DLT645_FMT_MONEY), true},
    {WK_DI_REMAINING_MONEY, "remaining_money", F1(WK_DLT645_FMT_MONEY), true},
    {WK_DI_OVERDRAFT_MONEY, "overdraft_money", F1(WK_DLT645_FMT_MONEY), true},
    {WK_DI_EVENT, "edge_event", 6,
     {WK_DLT645_FMT_BCD1, WK_DLT645_FMT_BCD1, WK_DLT645_FMT_DATETIME, WK_DLT645_FMT_BCD2,
      WK_DLT645_FMT_ENERGY, WK_DLT645_FMT_POWER},
     {"code", "phase", "time", "seq", "forward_active_total", "active_power"}, false},
};
#undef F1

const wk_dlt645_di_info *wk_dlt645_di_find(uint32_t di)
{
    for (size_t i = 0; i < sizeof di_table / sizeof di_table[0]; i++)
        if (di_table[i].di == di)
            return &di_table[i];
    return NULL;
}

const wk_dlt645_di_info *wk_dlt645_di_at(size_t i)
{
    return i < sizeof di_table / sizeof di_table[0] ? &di_table[i] : NULL;
}

size_t wk_dlt645_di_data_len(const wk_dlt645_di_info *info)
{
    size_t n = 0;
    for (size_t i = 0; i < info->nfields; i++)
        n += fmt_table[info->fmt[i]].bytes;
    return n;
}

uint32_t wk_dlt645_di_get(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void wk_dlt645_di_put(uint32_t di, uint8_t *p)
{
    p[0] = (uint8_t)di;
    p[1] = (uint8_t)(di >> 8);
    p[2] = (uint8_t)(di >> 16);
    p[3] = (uint8_t)(di >> 24);
}

wk_err wk_dlt645_values_put(uint32_t di, const int64_t *vals, size_t nvals, uint8_t *p)
{
    const wk_dlt645_di_info *info = wk_dlt645_di_find(di);
    if (!info)
        return WK_ENOTFOUND;
    if (nvals != info->nfields)
        return WK_EINVAL;
    uint8_t tmp[64];
    size_t off = 0;
    for (size_t i = 0; i < info->nfields; i++) {
        wk_err e = wk_dlt645_value_put((wk_dlt645_fmt)info->fmt[i], vals[i], tmp + off);
        if (e != WK_OK)
            return e;
        off += fmt_table[info->fmt[i]].bytes;
    }
    memcpy(p, tmp, off);
    return WK_OK;
}

wk_err wk_dlt645_values_get(uint32_t di, const uint8_t *p, size_t len, int64_t *vals,
                            size_t *nvals, wk_dlt645_reason *why)
{
    const wk_dlt645_di_info *info = wk_dlt645_di_find(di);
    if (!info) {
        *why = WK_DLT645_R_UNKNOWN_DI;
        return WK_EINVAL;
    }
    if (len != wk_dlt645_di_data_len(info)) {
        *why = len < wk_dlt645_di_data_len(info) ? WK_DLT645_R_TRUNCATED : WK_DLT645_R_OVERSIZED;
        return WK_EINVAL;
    }
    size_t off = 0;
    for (size_t i = 0; i < info->nfields; i++) {
        if (wk_dlt645_value_get((wk_dlt645_fmt)info->fmt[i], p + off, &vals[i]) != WK_OK) {
            *why = WK_DLT645_R_BAD_DATA;
            return WK_EINVAL;
        }
        off += fmt_table[info->fmt[i]].bytes;
    }
    *nvals = info->nfields;
    *why = WK_DLT645_R_OK;
    return WK_OK;
}

/* ---- builders ---- */

static void frame_init(wk_dlt645_frame *f, const uint8_t addr[6], uint8_t control)
{
    memcpy(f->addr, addr, 6);
    f->control = control;
    f->len = 0;
}

void wk_dlt645_build_read(const uint8_t addr[6], uint32_t di, wk_dlt645_frame *f)
{
    frame_init(f, addr, WK_DLT645_C_READ);
    wk_dlt645_di_put(di, f->data);
    f->len = 4;
}

void wk_dlt645_build_read_addr(wk_dlt645_frame *f)
{
    static const uint8_t any[6] = {0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA};
    frame_init(f, any, WK_DLT645_C_READ_ADDR);
}

wk_err wk_dlt645_build_read_reply(const uint8_t addr[6], uint32_t di, const int64_t *vals,
                                  size_t nvals, wk_dlt645_frame *f)
{
    const wk_dlt645_di_info *info = wk_dlt645_di_find(di);
    if (!info)
        return WK_ENOTFOUND;
    wk_err e = wk_dlt645_values_put(di, vals, nvals, f->data + 4);
    if (e != WK_OK)
        return e;
    frame_init(f, addr, WK_DLT645_C_READ | WK_DLT645_C_REPLY);
    wk_dlt645_di_put(di, f->data);
    f->len = (uint8_t)(4 + wk_dlt645_di_data_len(info));
    return WK_OK;
}

void wk_dlt645_build_error(const uint8_t addr[6], uint8_t request_control, uint8_t err,
                           wk_dlt645_frame *f)
{
    frame_init(f, addr, (uint8_t)((request_control & WK_DLT645_C_FUNC) | 0xC0));
    f->data[0] = err;
    f->len = 1;
}

void wk_dlt645_build_serr(const uint8_t addr[6], uint8_t request_control, uint16_t serr,
                          wk_dlt645_frame *f)
{
    frame_init(f, addr, (uint8_t)((request_control & WK_DLT645_C_FUNC) | 0xC0));
    f->data[0] = (uint8_t)serr;
    f->data[1] = (uint8_t)(serr >> 8);
    f->len = 2;
}

void wk_dlt645_build_ack(const uint8_t addr[6], uint8_t request_control, wk_dlt645_frame *f)
{
    frame_init(f, addr, (uint8_t)((request_control & WK_DLT645_C_FUNC) | WK_DLT645_C_REPLY));
}

/* ---- time ---- */

static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(unsigned y, unsigned m)
{
    static const uint8_t dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dm[(m - 1) % 12];
}

void wk_dlt645_time_from_unix(int64_t unix_s, int32_t offset_s, wk_dlt645_time *t)
{
    int64_t s = unix_s + offset_s;
    int64_t days = s >= 0 ? s / 86400 : (s - 86399) / 86400;
    int64_t sod = s - days * 86400;
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    int64_t y = yoe + era * 400 + (m <= 2);
    t->year = (uint16_t)y;
    t->month = (uint8_t)m;
    t->day = (uint8_t)d;
    t->hour = (uint8_t)(sod / 3600);
    t->minute = (uint8_t)(sod / 60 % 60);
    t->second = (uint8_t)(sod % 60);
}

int64_t wk_dlt645_time_to_unix(const wk_dlt645_time *t, int32_t offset_s)
{
    return days_from_civil(t->year, t->month, t->day) * 86400 + t->hour * 3600 +
           t->minute * 60 + t->second - offset_s;
}

bool wk_dlt645_time_valid(const wk_dlt645_time *t)
{
    return t->year >= 2000 && t->year <= 2099 && t->month >= 1 && t->month <= 12 &&
           t->day >= 1 && t->day <= days_in_month(t->year, t->month) && t->hour < 24 &&
           t->minute < 60 && t->second < 60;
}

void wk_dlt645_time_put(const wk_dlt645_time *t, uint8_t p[6])
{
    p[0] = bcd_from(t->second);
    p[1] = bcd_from(t->minute);
    p[2] = bcd_from(t->hour);
    p[3] = bcd_from(t->day);
    p[4] = bcd_from(t->month);
    p[5] = bcd_from((unsigned)(t->year % 100));
}

wk_err wk_dlt645_time_get(const uint8_t p[6], wk_dlt645_time *t)
{
    for (size_t i = 0; i < 6; i++)
        if (!bcd_ok(p[i]))
            return WK_EINVAL;
    wk_dlt645_time x = {(uint16_t)(2000 + bcd_to(p[5])), (uint8_t)bcd_to(p[4]),
                        (uint8_t)bcd_to(p[3]),           (uint8_t)bcd_to(p[2]),
                        (uint8_t)bcd_to(p[1]),           (uint8_t)bcd_to(p[0])};
    if (!wk_dlt645_time_valid(&x))
        return WK_EINVAL;
    *t = x;
    return WK_OK;
}

void wk_dlt645_build_broadcast_time(const wk_dlt645_time *t, wk_dlt645_frame *f)
{
    static const uint8_t all[6] = {0x99, 0x99, 0x99, 0x99, 0x99, 0x99};
    frame_init(f, all, WK_DLT645_C_BROADCAST_TIME);
    wk_dlt645_time_put(t, f->data);
    f->len = 6;
}

/* ---- relay control ---- */

static const char relay_mac_label[8] = {'W', 'K', '6', '4', '5', '-', '1', 'C'};

static void relay_fill(wk_dlt645_frame *f, const uint8_t addr[6], uint8_t pa,
                       const uint8_t password[3], const uint8_t operator_code[4], uint8_t n1,
                       const wk_dlt645_time *deadline)
{
    frame_init(f, addr, WK_DLT645_C_RELAY);
    f->data[0] = pa;
    memcpy(f->data + 1, password, 3);
    memcpy(f->data + 4, operator_code, 4);
    f->data[8] = n1;
    f->data[9] = 0;
    wk_dlt645_time_put(deadline, f->data + 10);
    f->len = 16;
}

void wk_dlt645_build_relay_plain(const uint8_t addr[6], uint8_t pa, const uint8_t password[3],
                                 const uint8_t operator_code[4], uint8_t n1,
                                 const wk_dlt645_time *deadline, wk_dlt645_frame *f)
{
    relay_fill(f, addr, pa, password, operator_code, n1, deadline);
}

static void relay_mac(const uint8_t *key, size_t key_len, const wk_dlt645_frame *f,
                      uint8_t mac[WK_DLT645_MAC_LEN])
{
    uint8_t head[sizeof relay_mac_label + 7];
    uint8_t full[WK_SHA256_LEN];
    memcpy(head, relay_mac_label, sizeof relay_mac_label);
    memcpy(head + sizeof relay_mac_label, f->addr, 6);
    head[sizeof relay_mac_label + 6] = f->control;
    wk_hmac_sha256(key, key_len, head, sizeof head, f->data, 20, full);
    memcpy(mac, full, WK_DLT645_MAC_LEN);
}

void wk_dlt645_build_relay_mac(const uint8_t addr[6], const uint8_t *key, size_t key_len,
                               const uint8_t operator_code[4], uint8_t n1,
                               const wk_dlt645_time *deadline, uint32_t counter,
                               wk_dlt645_frame *f)
{
    static const uint8_t zero[3] = {0, 0, 0};
    relay_fill(f, addr, WK_DLT645_PA_MAC, zero, operator_code, n1, deadline);
    f->data[16] = (uint8_t)counter;
    f->data[17] = (uint8_t)(counter >> 8);
    f->data[18] = (uint8_t)(counter >> 16);
    f->data[19] = (uint8_t)(counter >> 24);
    relay_mac(key, key_len, f, f->data + 20);
    f->len = 28;
}

wk_err wk_dlt645_relay_parse(const wk_dlt645_frame *f, wk_dlt645_relay *r, wk_dlt645_reason *why)
{
    if ((f->control & WK_DLT645_C_FUNC) != WK_DLT645_C_RELAY ||
        (f->control & WK_DLT645_C_REPLY)) {
        *why = WK_DLT645_R_BAD_DATA;
        return WK_EINVAL;
    }
    bool mac = f->len >= 1 && f->data[0] == WK_DLT645_PA_MAC;
    size_t want = mac ? 28 : 16;
    if (f->len != want) {
        *why = f->len < want ? WK_DLT645_R_TRUNCATED : WK_DLT645_R_OVERSIZED;
        return WK_EINVAL;
    }
    wk_dlt645_relay x;
    memset(&x, 0, sizeof x);
    if (wk_dlt645_time_get(f->data + 10, &x.deadline) != WK_OK) {
        *why = WK_DLT645_R_BAD_DATA;
        return WK_EINVAL;
    }
    x.pa = f->data[0];
    memcpy(x.password, f->data + 1, 3);
    memcpy(x.operator_code, f->data + 4, 4);
    x.n1 = f->data[8];
    if (mac) {
        x.has_mac = true;
        x.counter = (uint32_t)f->data[16] | (uint32_t)f->data[17] << 8 |
                    (uint32_t)f->data[18] << 16 | (uint32_t)f->data[19] << 24;
        memcpy(x.mac, f->data + 20, WK_DLT645_MAC_LEN);
    }
    *r = x;
    *why = WK_DLT645_R_OK;
    return WK_OK;
}

bool wk_dlt645_relay_mac_ok(const wk_dlt645_frame *f, const uint8_t *key, size_t key_len)
{
    if (f->control != WK_DLT645_C_RELAY || f->len != 28 || f->data[0] != WK_DLT645_PA_MAC)
        return false;
    uint8_t mac[WK_DLT645_MAC_LEN];
    relay_mac(key, key_len, f, mac);
    return wk_mem_equal_ct(mac, f->data + 20, WK_DLT645_MAC_LEN) != 0;
}

void wk_dlt645_key_derive(const uint8_t *master, size_t master_len, const uint8_t addr[6],
                          uint8_t key[32])
{
    static const char label[9] = {'W', 'K', '6', '4', '5', '-', 'K', 'E', 'Y'};
    char digits[13];
    wk_dlt645_addr_format(addr, digits);
    wk_hmac_sha256(master, master_len, label, sizeof label, digits, 12, key);
}

const char *wk_dlt645_func_name(uint8_t control)
{
    switch (control & WK_DLT645_C_FUNC) {
    case 0x03: return "security";
    case WK_DLT645_C_BROADCAST_TIME: return "broadcast_time";
    case WK_DLT645_C_READ: return "read";
    case WK_DLT645_C_READ_NEXT: return "read_next";
    case WK_DLT645_C_READ_ADDR: return "read_address";
    case WK_DLT645_C_WRITE: return "write";
    case 0x15: return "write_address";
    case 0x16: return "freeze";
    case 0x17: return "change_baud";
    case 0x18: return "change_password";
    case WK_DLT645_C_RELAY: return "relay";
    }
    return "unknown";
}

const char *wk_dlt645_n1_name(uint8_t n1)
{
    switch (n1) {
    case WK_DLT645_N1_TRIP: return "trip";
    case WK_DLT645_N1_CLOSE_PERMIT: return "close_permit";
    case WK_DLT645_N1_CLOSE: return "close";
    case WK_DLT645_N1_ALARM_ON: return "alarm_on";
    case WK_DLT645_N1_ALARM_OFF: return "alarm_off";
    case WK_DLT645_N1_GUARANTEE_ON: return "guarantee_on";
    case WK_DLT645_N1_GUARANTEE_OFF: return "guarantee_off";
    }
    return NULL;
}
