/*
 * receipt.c - receipt JSON out (jansson) and in (strict: exact key set, bounded sizes,
 * duplicate keys rejected), and its offline verification. No database, no I/O.
 */
#include "ledger/receipt.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "core/civil.h"
#include "core/mem.h"
#include "proto/encoding.h"

#define WK_RECEIPT_TIME_MAX_S INT64_C(253402300799) /* 9999-12-31T23:59:59Z */

static json_t *receipt__record(const wk_leaf_record *r)
{
    char id[33], when[40];
    wk_hex_encode(r->id, 16, id, sizeof id);
    wk_time_format(r->time_s, 0, when, sizeof when);
    return json_pack("{s:i, s:s, s:I, s:s, s:I, s:I, s:I, s:I, s:I, s:s, s:s%}", "version",
                     WK_LEAF_VERSION, "type", "transfer", "leaf_index", (json_int_t)r->leaf_index,
                     "id", id, "debit_account", (json_int_t)r->debit_account_id,
                     "credit_account", (json_int_t)r->credit_account_id, "amount_fen",
                     (json_int_t)r->amount_fen, "flags", (json_int_t)r->flags, "time_s",
                     (json_int_t)r->time_s, "time", when, "reason", r->reason, r->reason_len);
}

wk_err wk_receipt_to_json(const wk_receipt *r, char **json, wk_diag *d)
{
    wk_err e = WK_OK;
    char hex[2 * WK_LEAF_MAX + 1];
    char *buf = NULL;
    json_t *root = NULL, *proof = NULL, *rec = receipt__record(&r->record);
    *json = NULL;
    proof = json_array();
    if (!rec || !proof) {
        e = wk_diag_set(d, WK_ENOMEM, "receipt: cannot build JSON");
        goto fail;
    }
    for (size_t i = 0; i < r->n_inclusion; i++) {
        char h[2 * WK_HASH_LEN + 1];
        wk_hex_encode(r->inclusion[i], WK_HASH_LEN, h, sizeof h);
        if (json_array_append_new(proof, json_string(h))) {
            e = wk_diag_set(d, WK_ENOMEM, "receipt: cannot build JSON");
            goto fail;
        }
    }
    char rh[2 * WK_HASH_LEN + 1];
    wk_hex_encode(r->leaf, r->leaf_len, hex, sizeof hex);
    wk_hex_encode(r->root, WK_HASH_LEN, rh, sizeof rh);
    root = json_pack("{s:o, s:s, s:I, s:I, s:o, s:s, s:s}", "record", rec, "leaf", hex,
                     "leaf_index", (json_int_t)r->leaf_index, "tree_size",
                     (json_int_t)r->tree_size, "inclusion", proof, "root", rh, "checkpoint",
                     r->checkpoint);
    rec = proof = NULL; /* stolen by json_pack, even on failure */
    if (!root) {
        e = wk_diag_set(d, WK_ENOMEM, "receipt: cannot build JSON");
        goto fail;
    }
    size_t need = json_dumpb(root, NULL, 0, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    buf = wk_malloc(need + 2);
    if (!buf) {
        e = wk_diag_set(d, WK_ENOMEM, "receipt: out of memory");
        goto fail;
    }
    json_dumpb(root, buf, need, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    buf[need] = '\n';
    buf[need + 1] = '\0';
    *json = buf;
    buf = NULL;
fail:
    wk_free(buf);
    json_decref(root);
    json_decref(rec);
    json_decref(proof);
    return e;
}

/* ---- parsing ---- */

static wk_err receipt__int(json_t *o, const char *key, int64_t min, int64_t *out, wk_diag *d)
{
    json_t *v = json_object_get(o, key);
    if (!v || !json_is_integer(v))
        return wk_diag_set(d, WK_EINVAL, "%s: missing or not an integer", key);
    json_int_t x = json_integer_value(v);
    if (x < min)
        return wk_diag_set(d, WK_EINVAL, "%s: out of range", key);
    *out = (int64_t)x;
    return WK_OK;
}

static wk_err receipt__str(json_t *o, const char *key, const char **s, size_t *len, wk_diag *d)
{
    json_t *v = json_object_get(o, key);
    if (!v || !json_is_string(v))
        return wk_diag_set(d, WK_EINVAL, "%s: missing or not a string", key);
    *s = json_string_value(v);
    *len = json_string_length(v);
    return WK_OK;
}

static wk_err receipt__hash(const char *s, size_t len, uint8_t out[WK_HASH_LEN], const char *what,
                            wk_diag *d)
{
    size_t n = 0;
    if (len != 2 * WK_HASH_LEN || wk_hex_decode(s, len, out, WK_HASH_LEN, &n) != WK_OK)
        return wk_diag_set(d, WK_EINVAL, "%s: not 64 hex digits", what);
    return WK_OK;
}

static wk_err receipt__keys(json_t *o, const char *const *keys, size_t n, const char *what,
                            wk_diag *d)
{
    if (json_object_size(o) != n) {
        const char *k;
        json_t *v;
        json_object_foreach(o, k, v)
        {
            bool known = false;
            for (size_t i = 0; i < n; i++)
                known |= !strcmp(k, keys[i]);
            if (!known)
                return wk_diag_set(d, WK_EINVAL, "%s: unknown field '%.64s'", what, k);
        }
        return wk_diag_set(d, WK_EINVAL, "%s: missing fields", what);
    }
    return WK_OK;
}

static wk_err receipt__parse_record(json_t *o, wk_leaf_record *r, wk_diag *d)
{
    static const char *const keys[] = {"version", "type",  "leaf_index", "id",
                                       "debit_account", "credit_account", "amount_fen",
                                       "flags", "time_s", "time", "reason"};
    const char *s;
    size_t len, n;
    int64_t v;
    wk_err e;
    memset(r, 0, sizeof *r);
    if (!json_is_object(o))
        return wk_diag_set(d, WK_EINVAL, "record: not an object");
    if ((e = receipt__keys(o, keys, sizeof keys / sizeof keys[0], "record", d)))
        return e;
    if ((e = receipt__int(o, "version", 0, &v, d)))
        return e;
    if (v != WK_LEAF_VERSION)
        return wk_diag_set(d, WK_EINVAL, "record.version: %lld is not supported", (long long)v);
    if ((e = receipt__str(o, "type", &s, &len, d)))
        return e;
    if (strcmp(s, "transfer"))
        return wk_diag_set(d, WK_EINVAL, "record.type: must be \"transfer\"");
    if ((e = receipt__int(o, "leaf_index", 0, &r->leaf_index, d)) ||
        (e = receipt__int(o, "debit_account", 1, &r->debit_account_id, d)) ||
        (e = receipt__int(o, "credit_account", 1, &r->credit_account_id, d)) ||
        (e = receipt__int(o, "amount_fen", 1, &r->amount_fen, d)) ||
        (e = receipt__int(o, "flags", 0, &v, d)))
        return e;
    if (v > UINT32_MAX)
        return wk_diag_set(d, WK_EINVAL, "record.flags: out of range");
    r->flags = (uint32_t)v;
    if ((e = receipt__int(o, "time_s", 0, &r->time_s, d)))
        return e;
    if (r->time_s > WK_RECEIPT_TIME_MAX_S) /* keeps the date arithmetic far from overflow */
        return wk_diag_set(d, WK_EINVAL, "record.time_s: after the year 9999");
    if ((e = receipt__str(o, "id", &s, &len, d)))
        return e;
    if (len != 32 || wk_hex_decode(s, len, r->id, sizeof r->id, &n) != WK_OK)
        return wk_diag_set(d, WK_EINVAL, "record.id: not 32 hex digits");
    if ((e = receipt__str(o, "time", &s, &len, d)))
        return e;
    char when[40];
    wk_time_format(r->time_s, 0, when, sizeof when);
    if (strlen(when) != len || memcmp(when, s, len))
        return wk_diag_set(d, WK_EINVAL, "record.time: does not match time_s");
    if ((e = receipt__str(o, "reason", &s, &len, d)))
        return e;
    if (len > WK_TRANSFER_REASON_MAX)
        return wk_diag_set(d, WK_EINVAL, "record.reason: longer than %d bytes",
                           WK_TRANSFER_REASON_MAX);
    memcpy(r->reason, s, len);
    r->reason[len] = '\0';
    r->reason_len = len;
    return WK_OK;
}

wk_err wk_receipt_parse(const char *json, size_t len, wk_receipt *r, wk_diag *d)
{
    static const char *const keys[] = {"record", "leaf", "leaf_index", "tree_size",
                                       "inclusion", "root", "checkpoint"};
    wk_err e = WK_OK;
    json_error_t jerr;
    json_t *o = NULL;
    const char *s;
    size_t sl, n;
    int64_t v;
    memset(r, 0, sizeof *r);
    if (len > WK_RECEIPT_JSON_MAX)
        return wk_diag_set(d, WK_ELIMIT, "receipt: larger than %d bytes", WK_RECEIPT_JSON_MAX);
    o = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!o)
        return wk_diag_set(d, WK_EINVAL, "receipt: not JSON (line %d column %d: %s)", jerr.line,
                           jerr.column, jerr.text);
    if (!json_is_object(o)) {
        e = wk_diag_set(d, WK_EINVAL, "receipt: not a JSON object");
        goto fail;
    }
    if ((e = receipt__keys(o, keys, sizeof keys / sizeof keys[0], "receipt", d)))
        goto fail;
    if ((e = receipt__parse_record(json_object_get(o, "record"), &r->record, d)))
        goto fail;
    if ((e = receipt__str(o, "leaf", &s, &sl, d)))
        goto fail;
    if (sl > 2 * WK_LEAF_MAX || wk_hex_decode(s, sl, r->leaf, sizeof r->leaf, &n) != WK_OK) {
        e = wk_diag_set(d, WK_EINVAL, "leaf: not hex of at most %d bytes", WK_LEAF_MAX);
        goto fail;
    }
    r->leaf_len = n;
    if ((e = receipt__int(o, "leaf_index", 0, &v, d)))
        goto fail;
    r->leaf_index = (uint64_t)v;
    if ((e = receipt__int(o, "tree_size", 1, &v, d)))
        goto fail;
    r->tree_size = (uint64_t)v;
    json_t *inc = json_object_get(o, "inclusion");
    if (!json_is_array(inc)) {
        e = wk_diag_set(d, WK_EINVAL, "inclusion: missing or not an array");
        goto fail;
    }
    if (json_array_size(inc) > WK_MERKLE_PROOF_MAX) {
        e = wk_diag_set(d, WK_ELIMIT, "inclusion: more than %d hashes", WK_MERKLE_PROOF_MAX);
        goto fail;
    }
    for (size_t i = 0; i < json_array_size(inc); i++) {
        json_t *h = json_array_get(inc, i);
        if (!json_is_string(h)) {
            e = wk_diag_set(d, WK_EINVAL, "inclusion[%zu]: not a string", i);
            goto fail;
        }
        char what[32];
        snprintf(what, sizeof what, "inclusion[%zu]", i);
        if ((e = receipt__hash(json_string_value(h), json_string_length(h), r->inclusion[i],
                               what, d)))
            goto fail;
    }
    r->n_inclusion = json_array_size(inc);
    if ((e = receipt__str(o, "root", &s, &sl, d)) || (e = receipt__hash(s, sl, r->root, "root", d)))
        goto fail;
    if ((e = receipt__str(o, "checkpoint", &s, &sl, d)))
        goto fail;
    if (sl >= sizeof r->checkpoint) {
        e = wk_diag_set(d, WK_ELIMIT, "checkpoint: longer than %zu bytes",
                        sizeof r->checkpoint - 1);
        goto fail;
    }
    memcpy(r->checkpoint, s, sl);
    r->checkpoint[sl] = '\0';
fail:
    json_decref(o);
    return e;
}

wk_err wk_receipt_verify(const wk_receipt *r, const wk_note_verifier *key, wk_diag *d)
{
    wk_leaf_record leaf;
    wk_checkpoint_body cp;
    uint8_t lh[WK_HASH_LEN];
    size_t text_len = 0;
    wk_err e = wk_leaf_decode(r->leaf, r->leaf_len, &leaf, d);
    if (e)
        return e;
    const wk_leaf_record *a = &leaf, *b = &r->record;
    if (a->leaf_index != b->leaf_index || memcmp(a->id, b->id, 16) ||
        a->debit_account_id != b->debit_account_id ||
        a->credit_account_id != b->credit_account_id || a->amount_fen != b->amount_fen ||
        a->flags != b->flags || a->time_s != b->time_s || a->reason_len != b->reason_len ||
        memcmp(a->reason, b->reason, a->reason_len))
        return wk_diag_set(d, WK_ECRYPTO, "record: does not match the leaf bytes");
    if ((uint64_t)a->leaf_index != r->leaf_index)
        return wk_diag_set(d, WK_ECRYPTO, "leaf_index: does not match the leaf bytes");
    wk_merkle_leaf_hash(r->leaf, r->leaf_len, lh);
    e = wk_merkle_verify_inclusion(r->leaf_index, r->tree_size, lh, r->inclusion, r->n_inclusion,
                                   r->root, d);
    if (e)
        return e;
    size_t clen = strlen(r->checkpoint);
    e = wk_note_verify(r->checkpoint, clen, key, &text_len, d);
    if (e) {
        wk_diag_prefix(d, "checkpoint");
        return e;
    }
    e = wk_checkpoint_parse(r->checkpoint, text_len, &cp, d);
    if (e)
        return e;
    if (strcmp(cp.origin, key->name))
        return wk_diag_set(d, WK_ECRYPTO, "checkpoint: origin '%s' is not the key's log '%s'",
                           cp.origin, key->name);
    if (cp.tree_size != r->tree_size)
        return wk_diag_set(d, WK_ECRYPTO, "checkpoint: tree size %llu is not tree_size %llu",
                           (unsigned long long)cp.tree_size, (unsigned long long)r->tree_size);
    if (memcmp(cp.root, r->root, WK_HASH_LEN))
        return wk_diag_set(d, WK_ECRYPTO, "checkpoint: root differs from the receipt's root");
    return WK_OK;
}
