/*
 * encoding.c - hex and strict base64. No allocation, no I/O.
 */
#include "proto/encoding.h"

#include <stdbool.h>
#include <string.h>

static const char HEX[] = "0123456789abcdef";
static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *wk_hex_encode(const void *data, size_t len, char *out, size_t cap)
{
    const uint8_t *p = data;
    WK_PANIC_IF(cap < 2 * len + 1);
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = HEX[p[i] >> 4];
        out[2 * i + 1] = HEX[p[i] & 15];
    }
    out[2 * len] = '\0';
    return out;
}

static int enc__hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

wk_err wk_hex_decode(const char *s, size_t len, uint8_t *out, size_t cap, size_t *n)
{
    if (len % 2)
        return WK_EINVAL;
    if (len / 2 > cap)
        return WK_ELIMIT;
    for (size_t i = 0; i < len; i += 2) {
        int hi = enc__hexval(s[i]), lo = enc__hexval(s[i + 1]);
        if (hi < 0 || lo < 0)
            return WK_EINVAL;
        out[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    *n = len / 2;
    return WK_OK;
}

size_t wk_base64_len(size_t len)
{
    return (len + 2) / 3 * 4;
}

char *wk_base64_encode(const void *data, size_t len, char *out, size_t cap)
{
    const uint8_t *p = data;
    size_t o = 0;
    WK_PANIC_IF(cap < wk_base64_len(len) + 1);
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < len)
            v |= p[i + 2];
        out[o++] = B64[v >> 18 & 63];
        out[o++] = B64[v >> 12 & 63];
        out[o++] = i + 1 < len ? B64[v >> 6 & 63] : '=';
        out[o++] = i + 2 < len ? B64[v & 63] : '=';
    }
    out[o] = '\0';
    return out;
}

static int enc__b64val(char c)
{
    const char *p = c ? strchr(B64, c) : NULL;
    return p ? (int)(p - B64) : -1;
}

wk_err wk_base64_decode(const char *s, size_t len, uint8_t *out, size_t cap, size_t *n)
{
    size_t o = 0;
    if (len % 4)
        return WK_EINVAL;
    for (size_t i = 0; i < len; i += 4) {
        bool last = i + 4 == len;
        int v[4];
        int pad = 0;
        for (int j = 0; j < 4; j++) {
            if (s[i + j] == '=' && last && j >= 2) {
                v[j] = 0;
                pad++;
                continue;
            }
            if (pad)
                return WK_EINVAL; /* data after padding */
            v[j] = enc__b64val(s[i + j]);
            if (v[j] < 0)
                return WK_EINVAL;
        }
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        size_t nb = 3 - (size_t)pad;
        if ((pad == 1 && (w & 0xff)) || (pad == 2 && (w & 0xffff)))
            return WK_EINVAL; /* non-zero bits that do not encode a byte */
        if (o + nb > cap)
            return WK_ELIMIT;
        out[o++] = (uint8_t)(w >> 16);
        if (nb > 1)
            out[o++] = (uint8_t)(w >> 8);
        if (nb > 2)
            out[o++] = (uint8_t)w;
    }
    *n = o;
    return WK_OK;
}
