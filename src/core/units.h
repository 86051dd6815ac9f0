/*
 * units.h - the integer units of money and energy, overflow-checked arithmetic, and exact
 * decimal parsing/printing. No floating point ever touches money or energy.
 *
 *   energy   int64 Wh                       (meters register 0.01 kWh = 10 Wh)
 *   price    int64 micro-yuan per kWh       (0.5380 yuan/kWh = 538000)
 *   charge   int64 nano-yuan (1e-9 yuan)    (Wh x uyuan/kWh, exact)
 *   balance  int64 fen (0.01 yuan)          (charges round half-up to fen only on the
 *                                            cumulative charge of a billing period)
 */
#ifndef WK_CORE_UNITS_H
#define WK_CORE_UNITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define WK_SCALE_KWH 3    /* decimals of a kWh string that fit Wh */
#define WK_SCALE_PRICE 6  /* decimals of a yuan/kWh string that fit micro-yuan */
#define WK_SCALE_YUAN 2   /* decimals of a yuan string that fit fen */
#define WK_SCALE_CHARGE 9 /* decimals of a yuan string that fit nano-yuan */
#define WK_NYUAN_PER_FEN INT64_C(10000000)

/* Overflow-checked arithmetic: *out is written only on success; WK_ERANGE on overflow.
 * Inline: they sit on the rating hot path. */
WK_MUST_CHECK static inline wk_err wk_add_i64(int64_t a, int64_t b, int64_t *out)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r))
        return WK_ERANGE;
    *out = r;
    return WK_OK;
}

WK_MUST_CHECK static inline wk_err wk_sub_i64(int64_t a, int64_t b, int64_t *out)
{
    int64_t r;
    if (__builtin_sub_overflow(a, b, &r))
        return WK_ERANGE;
    *out = r;
    return WK_OK;
}

WK_MUST_CHECK static inline wk_err wk_mul_i64(int64_t a, int64_t b, int64_t *out)
{
    int64_t r;
    if (__builtin_mul_overflow(a, b, &r))
        return WK_ERANGE;
    *out = r;
    return WK_OK;
}

/* Exact charge of energy_wh at price_uyuan_per_kwh, in nano-yuan. WK_ERANGE on overflow. */
WK_MUST_CHECK static inline wk_err wk_charge_nyuan(int64_t energy_wh, int64_t price_uyuan_per_kwh,
                                                   int64_t *charge_nyuan)
{
    return wk_mul_i64(energy_wh, price_uyuan_per_kwh, charge_nyuan);
}

/* Rounds nano-yuan to fen, half-up (towards +infinity at exactly half). Cannot fail. */
static inline int64_t wk_nyuan_to_fen(int64_t c)
{
    /* floor((c + half) / unit) without overflow near INT64_MAX */
    int64_t q = c / WK_NYUAN_PER_FEN, r = c % WK_NYUAN_PER_FEN;
    if (r < 0) {
        q -= 1;
        r += WK_NYUAN_PER_FEN;
    }
    return r >= WK_NYUAN_PER_FEN / 2 ? q + 1 : q;
}

/* Parses a decimal string "[-]D+[.D+]" of exactly len bytes into an integer scaled by
 * 10^scale ("0.538", scale 6 -> 538000). Rejects empty input, signs other than a leading
 * '-', spaces, exponents, a missing digit on either side of '.', non-zero digits beyond
 * `scale` decimals and values that do not fit int64. On error writes a reason into d
 * (without the field name; the caller adds it) and leaves *out unchanged. */
wk_err wk_dec_parse(const char *s, size_t len, int scale, int64_t *out, wk_diag *d) WK_MUST_CHECK;

/* Same for a NUL-terminated string. */
wk_err wk_dec_parse_str(const char *s, int scale, int64_t *out, wk_diag *d) WK_MUST_CHECK;

/* Formats v / 10^scale with at least min_decimals and at most scale decimals (trailing
 * zeros beyond min_decimals are dropped). Always NUL-terminates; returns buf. A buffer of
 * 32 bytes is always enough. */
char *wk_dec_format(int64_t v, int scale, int min_decimals, char *buf, size_t n);

#endif
