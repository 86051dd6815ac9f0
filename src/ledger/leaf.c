/*
 * leaf.c - canonical leaf bytes of a transfer and the checkpoint text. Encoders and
 * decoders are exact inverses; decoders are strict and bounded (they parse untrusted
 * receipts).
 */
#include "ledger/leaf.h"

#include <stdio.h>
#include <string.h>

#include "proto/encoding.h"

bool wk_text_ok(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        unsigned char c = p[i];
        size_t n;
        uint32_t cp;
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7f)
                return false;
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            n = 2;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            n = 3;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            n = 4;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (i + n > len)
            return false;
        for (size_t j = 1; j < n; j++) {
            if ((p[i + j] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (p[i + j] & 0x3f);
        }
        if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n;
    }
    return true;
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static wk_err leaf__check(const wk_leaf_record *r, wk_diag *d)
{
    if (r->leaf_index < 0)
        return wk_diag_set(d, WK_EINVAL, "leaf_index: negative");
    if (r->debit_account_id <= 0 || r->credit_account_id <= 0)
        return wk_diag_set(d, WK_EINVAL, "account ids must be positive");
    if (r->amount_fen <= 0)
        return wk_diag_set(d, WK_EINVAL, "amount_fen: must be positive");
    if (r->reason_len > WK_TRANSFER_REASON_MAX)
        return wk_diag_set(d, WK_EINVAL, "reason: longer than %d bytes", WK_TRANSFER_REASON_MAX);
    if (!wk_text_ok(r->reason, r->reason_len))
        return wk_diag_set(d, WK_EINVAL, "reason: not one line of UTF-8 text");
    return WK_OK;
}

wk_err wk_leaf_encode(const wk_leaf_record *r, uint8_t *buf, size_t cap, size_t *len, wk_diag *d)
{
    wk_err e = leaf__check(r, d);
    if (e)
        return e;
    if (cap < WK_LEAF_FIXED_LEN + r->reason_len)
        return wk_diag_set(d, WK_ELIMIT, "leaf buffer too small");
    uint8_t *p = buf;
    *p++ = WK_LEAF_VERSION;
    *p++ = WK_LEAF_TYPE_TRANSFER;
    put_u64(p, (uint64_t)r->leaf_index), p += 8;
    memcpy(p, r->id, 16), p += 16;
    put_u64(p, (uint64_t)r->debit_account_id), p += 8;
    put_u64(p, (uint64_t)r->credit_account_id), p += 8;
    put_u64(p, (uint64_t)r->amount_fen), p += 8;
    *p++ = (uint8_t)(r->flags >> 24);
    *p++ = (uint8_t)(r->flags >> 16);
    *p++ = (uint8_t)(r->flags >> 8);
    *p++ = (uint8_t)r->flags;
    put_u64(p, (uint64_t)r->time_s), p += 8;
    *p++ = (uint8_t)(r->reason_len >> 8);
    *p++ = (uint8_t)r->reason_len;
    memcpy(p, r->reason, r->reason_len), p += r->reason_len;
    *len = (size_t)(p - buf);
    WK_ASSERT(*len == WK_LEAF_FIXED_LEN + r->reason_len);
    return WK_OK;
}

wk_err wk_leaf_decode(const uint8_t *buf, size_t len, wk_leaf_record *r, wk_diag *d)
{
    memset(r, 0, sizeof *r);
    if (len < WK_LEAF_FIXED_LEN)
        return wk_diag_set(d, WK_EINVAL, "leaf: %zu bytes is shorter than a transfer", len);
    const uint8_t *p = buf;
    if (p[0] != WK_LEAF_VERSION)
        return wk_diag_set(d, WK_EINVAL, "leaf: unknown version %u", p[0]);
    if (p[1] != WK_LEAF_TYPE_TRANSFER)
        return wk_diag_set(d, WK_EINVAL, "leaf: unknown record type %u", p[1]);
    p += 2;
    uint64_t idx = get_u64(p), deb, cred, amt;
    p += 8;
    memcpy(r->id, p, 16), p += 16;
    deb = get_u64(p), p += 8;
    cred = get_u64(p), p += 8;
    amt = get_u64(p), p += 8;
    r->flags = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    p += 4;
    r->time_s = (int64_t)get_u64(p), p += 8;
    size_t rl = (size_t)p[0] << 8 | p[1];
    p += 2;
    if (idx > INT64_MAX || deb > INT64_MAX || cred > INT64_MAX || amt > INT64_MAX)
        return wk_diag_set(d, WK_EINVAL, "leaf: integer field out of range");
    if (len != WK_LEAF_FIXED_LEN + rl)
        return wk_diag_set(d, WK_EINVAL, "leaf: length %zu does not match reason length %zu",
                           len, rl);
    if (rl > WK_TRANSFER_REASON_MAX)
        return wk_diag_set(d, WK_EINVAL, "leaf: reason longer than %d bytes",
                           WK_TRANSFER_REASON_MAX);
    r->leaf_index = (int64_t)idx;
    r->debit_account_id = (int64_t)deb;
    r->credit_account_id = (int64_t)cred;
    r->amount_fen = (int64_t)amt;
    memcpy(r->reason, p, rl);
    r->reason[rl] = '\0';
    r->reason_len = rl;
    return leaf__check(r, d);
}

wk_err wk_checkpoint_format(const wk_checkpoint_body *b, char *buf, size_t cap, size_t *len,
                            wk_diag *d)
{
    char root[48];
    if (!wk_note_name_ok(b->origin, strlen(b->origin)))
        return wk_diag_set(d, WK_EINVAL, "checkpoint: bad origin");
    if (b->tree_size > INT64_MAX)
        return wk_diag_set(d, WK_EINVAL, "checkpoint: tree size out of range");
    wk_base64_encode(b->root, WK_HASH_LEN, root, sizeof root);
    int n = snprintf(buf, cap, "%s\n%llu\n%s\ntime %lld\n", b->origin,
                     (unsigned long long)b->tree_size, root, (long long)b->time_s);
    if (n < 0 || (size_t)n >= cap)
        return wk_diag_set(d, WK_ELIMIT, "checkpoint: text buffer too small");
    *len = (size_t)n;
    return WK_OK;
}

/* Parses a decimal integer of exactly len bytes without sign or leading zeros. */
static bool leaf__uint(const char *s, size_t len, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (len == 0 || len > 20 || (len > 1 && s[0] == '0'))
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned dg = (unsigned)(s[i] - '0');
        if (v > (max - dg) / 10)
            return false;
        v = v * 10 + dg;
    }
    *out = v;
    return true;
}

wk_err wk_checkpoint_parse(const char *text, size_t len, wk_checkpoint_body *b, wk_diag *d)
{
    const char *line[4];
    size_t ll[4];
    size_t pos = 0;
    memset(b, 0, sizeof *b);
    for (int i = 0; i < 4; i++) {
        const char *nl = pos < len ? memchr(text + pos, '\n', len - pos) : NULL;
        if (!nl)
            return wk_diag_set(d, WK_EINVAL, "checkpoint: expected 4 lines");
        line[i] = text + pos;
        ll[i] = (size_t)(nl - line[i]);
        pos += ll[i] + 1;
    }
    if (pos != len)
        return wk_diag_set(d, WK_EINVAL, "checkpoint: unexpected lines after the time line");
    if (!wk_note_name_ok(line[0], ll[0]))
        return wk_diag_set(d, WK_EINVAL, "checkpoint: bad origin line");
    memcpy(b->origin, line[0], ll[0]);
    b->origin[ll[0]] = '\0';
    if (!leaf__uint(line[1], ll[1], INT64_MAX, &b->tree_size))
        return wk_diag_set(d, WK_EINVAL, "checkpoint: tree size is not a decimal number");
    size_t n = 0;
    if (wk_base64_decode(line[2], ll[2], b->root, sizeof b->root, &n) != WK_OK ||
        n != WK_HASH_LEN)
        return wk_diag_set(d, WK_EINVAL, "checkpoint: root is not base64 of 32 bytes");
    uint64_t t = 0;
    if (ll[3] < 6 || memcmp(line[3], "time ", 5) || !leaf__uint(line[3] + 5, ll[3] - 5,
                                                                 INT64_MAX, &t))
        return wk_diag_set(d, WK_EINVAL, "checkpoint: bad time line");
    b->time_s = (int64_t)t;
    return WK_OK;
}
