/*
 * civil.c - Gregorian calendar arithmetic (after H. Hinnant's days_from_civil algorithms)
 * and strict ISO 8601 parsing. Pure integer code: no libc time functions (gmtime and
 * friends use global state and the process time zone).
 */
#include "core/civil.h"

#include <stdio.h>

int64_t wk_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

int64_t wk_days_from_civil(int32_t y, int32_t m, int32_t d)
{
    int64_t yy = (int64_t)y - (m <= 2);
    int64_t era = wk_floor_div(yy, 400);
    int64_t yoe = yy - era * 400;
    int64_t mp = (m + 9) % 12;
    int64_t doy = (153 * mp + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

wk_date wk_civil_from_days(int64_t z)
{
    z += 719468;
    int64_t era = wk_floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    wk_date r = {(int32_t)(y + (m <= 2)), (int32_t)m, (int32_t)d};
    return r;
}

int wk_weekday(int64_t days)
{
    /* 1970-01-01 was a Thursday (3 when Monday = 0) */
    int64_t w = (days + 3) % 7;
    return (int)(w < 0 ? w + 7 : w);
}

int wk_days_in_month(int32_t y, int32_t m)
{
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dm[(m - 1) % 12];
}

static int civil__num(const char *s, size_t len, size_t at, size_t n, int32_t *out)
{
    if (at + n > len)
        return 0;
    int32_t v = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[at + i];
        if (c < '0' || c > '9')
            return 0;
        v = v * 10 + (c - '0');
    }
    *out = v;
    return 1;
}

static int civil__date(const char *s, size_t len, int32_t *y, int32_t *m, int32_t *d)
{
    return civil__num(s, len, 0, 4, y) && len > 4 && s[4] == '-' && civil__num(s, len, 5, 2, m) &&
           len > 7 && s[7] == '-' && civil__num(s, len, 8, 2, d) && *m >= 1 && *m <= 12 &&
           *d >= 1 && *d <= wk_days_in_month(*y, *m);
}

wk_err wk_date_parse(const char *s, size_t len, int64_t *days, wk_diag *d)
{
    int32_t y, m, dd;
    if (len != 10 || !civil__date(s, len, &y, &m, &dd))
        return wk_diag_set(d, WK_EINVAL, "\"%.*s\" is not a date like 2026-07-01", (int)len, s);
    *days = wk_days_from_civil(y, m, dd);
    return WK_OK;
}

wk_err wk_offset_parse(const char *s, size_t len, int32_t *offset_s, wk_diag *d)
{
    int32_t hh, mm;
    if (len == 1 && s[0] == 'Z') {
        *offset_s = 0;
        return WK_OK;
    }
    if (len != 6 || (s[0] != '+' && s[0] != '-') || !civil__num(s, len, 1, 2, &hh) ||
        s[3] != ':' || !civil__num(s, len, 4, 2, &mm) || hh > 14 || mm > 59)
        return wk_diag_set(d, WK_EINVAL, "\"%.*s\" is not a UTC offset like +08:00", (int)len, s);
    *offset_s = (s[0] == '-' ? -1 : 1) * (hh * 3600 + mm * 60);
    return WK_OK;
}

wk_err wk_time_parse(const char *s, size_t len, int64_t *unix_s, int32_t *offset_s, wk_diag *d)
{
    int32_t y, m, dd, hh, mi, ss = 0;
    size_t at = 16;
    if (!civil__date(s, len, &y, &m, &dd) || len < 16 || (s[10] != 'T' && s[10] != ' ') ||
        !civil__num(s, len, 11, 2, &hh) || s[13] != ':' || !civil__num(s, len, 14, 2, &mi) ||
        hh > 23 || mi > 59)
        goto bad;
    if (len > 16 && s[16] == ':') {
        if (!civil__num(s, len, 17, 2, &ss) || ss > 59)
            goto bad;
        at = 19;
    }
    if (at == len)
        return wk_diag_set(d, WK_EINVAL,
                           "\"%.*s\" has no UTC offset, expected e.g. 2026-07-01T08:00:00+08:00",
                           (int)len, s);
    int32_t off;
    if (wk_offset_parse(s + at, len - at, &off, NULL) != WK_OK)
        goto bad;
    *unix_s = wk_days_from_civil(y, m, dd) * 86400 + hh * 3600 + mi * 60 + ss - off;
    *offset_s = off;
    return WK_OK;
bad:
    return wk_diag_set(d, WK_EINVAL,
                       "\"%.*s\" is not an ISO 8601 time like 2026-07-01T08:00:00+08:00",
                       (int)(len > 64 ? 64 : len), s);
}

char *wk_time_format(int64_t unix_s, int32_t offset_s, char *buf, size_t n)
{
    /* years 0000..9999 only: beyond, the calendar arithmetic below would overflow */
    if (unix_s < INT64_C(-62167219200) || unix_s > INT64_C(253402300799)) {
        snprintf(buf, n, "(time out of range)");
        return buf;
    }
    int64_t local = unix_s + offset_s;
    int64_t days = wk_floor_div(local, 86400);
    int64_t sod = local - days * 86400;
    wk_date dt = wk_civil_from_days(days);
    int32_t off = offset_s < 0 ? -offset_s : offset_s;
    snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", (int)dt.year, (int)dt.month,
             (int)dt.day, (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60),
             offset_s < 0 ? '-' : '+', (int)(off / 3600), (int)(off / 60 % 60));
    return buf;
}

char *wk_date_format(int64_t days, char *buf, size_t n)
{
    wk_date dt = wk_civil_from_days(days);
    snprintf(buf, n, "%04d-%02d-%02d", (int)dt.year, (int)dt.month, (int)dt.day);
    return buf;
}
