/*
 * units.c - overflow-checked integer arithmetic and exact decimal strings for money and
 * energy. Pure: no I/O, no allocation, no locale.
 */
#include "core/units.h"

#include <stdio.h>
#include <string.h>

wk_err wk_dec_parse(const char *s, size_t len, int scale, int64_t *out, wk_diag *d)
{
    WK_ASSERT(scale >= 0 && scale <= 18);
    size_t i = 0;
    bool neg = false;
    if (len == 0)
        return wk_diag_set(d, WK_EINVAL, "empty value, expected a decimal number");
    if (s[0] == '-') {
        neg = true;
        i = 1;
    }
    int64_t v = 0;
    size_t int_digits = 0, frac_digits = 0;
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++, int_digits++) {
        if (wk_mul_i64(v, 10, &v) || wk_add_i64(v, s[i] - '0', &v))
            return wk_diag_set(d, WK_ERANGE, "\"%.*s\" is too large", (int)len, s);
    }
    if (int_digits == 0)
        return wk_diag_set(d, WK_EINVAL, "\"%.*s\" is not a decimal number like 12.34", (int)len,
                           s);
    if (i < len && s[i] == '.') {
        i++;
        for (; i < len && s[i] >= '0' && s[i] <= '9'; i++, frac_digits++) {
            if ((int)frac_digits >= scale) {
                if (s[i] != '0')
                    return wk_diag_set(d, WK_EINVAL, "\"%.*s\" has more than %d decimal places",
                                       (int)len, s, scale);
                continue;
            }
            if (wk_mul_i64(v, 10, &v) || wk_add_i64(v, s[i] - '0', &v))
                return wk_diag_set(d, WK_ERANGE, "\"%.*s\" is too large", (int)len, s);
        }
        if (frac_digits == 0)
            return wk_diag_set(d, WK_EINVAL, "\"%.*s\" has no digit after the decimal point",
                               (int)len, s);
    }
    if (i != len)
        return wk_diag_set(d, WK_EINVAL, "\"%.*s\" is not a decimal number like 12.34", (int)len,
                           s);
    for (size_t k = frac_digits < (size_t)scale ? frac_digits : (size_t)scale; k < (size_t)scale;
         k++) {
        if (wk_mul_i64(v, 10, &v))
            return wk_diag_set(d, WK_ERANGE, "\"%.*s\" is too large", (int)len, s);
    }
    *out = neg ? -v : v;
    return WK_OK;
}

wk_err wk_dec_parse_str(const char *s, int scale, int64_t *out, wk_diag *d)
{
    return wk_dec_parse(s, strlen(s), scale, out, d);
}

char *wk_dec_format(int64_t v, int scale, int min_decimals, char *buf, size_t n)
{
    WK_ASSERT(scale >= 0 && scale <= 18 && min_decimals <= scale);
    uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    uint64_t div = 1;
    for (int i = 0; i < scale; i++)
        div *= 10;
    uint64_t ip = mag / div, fp = mag % div;
    char frac[24] = {0};
    for (int i = scale - 1; i >= 0; i--) {
        frac[i] = (char)('0' + fp % 10);
        fp /= 10;
    }
    int keep = scale;
    while (keep > min_decimals && frac[keep - 1] == '0')
        keep--;
    frac[keep] = '\0';
    snprintf(buf, n, "%s%llu%s%s", v < 0 ? "-" : "", (unsigned long long)ip, keep ? "." : "",
             frac);
    return buf;
}
