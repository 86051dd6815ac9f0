/*
 * receipt.h - the resident's receipt: one transfer, its exact leaf bytes, an inclusion
 * proof and a signed checkpoint, as JSON (DESIGN.md contract):
 *
 *   {"record": {...}, "leaf": "hex", "leaf_index": N, "tree_size": N,
 *    "inclusion": ["hex", ...], "root": "hex", "checkpoint": "signed note"}
 *
 * Checking one needs only SHA-256 and Ed25519: hash the leaf bytes as an RFC 9162 leaf,
 * verify the inclusion proof against root, verify the checkpoint's signature with the
 * log's verifier key and that it names the same tree size and root; the record is a
 * readable copy of the leaf fields and must match them. Parsing is bounded and strict (the
 * input is untrusted; fuzz/receipt_fuzz.c drives it).
 */
#ifndef WK_LEDGER_RECEIPT_H
#define WK_LEDGER_RECEIPT_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "ledger/leaf.h"
#include "ledger/merkle.h"
#include "ledger/note.h"

#define WK_RECEIPT_JSON_MAX 16384 /* bytes of receipt JSON accepted */

typedef struct wk_receipt {
    wk_leaf_record record;
    uint8_t leaf[WK_LEAF_MAX];
    size_t leaf_len;
    uint64_t leaf_index;
    uint64_t tree_size;
    uint8_t inclusion[WK_MERKLE_PROOF_MAX][WK_HASH_LEN];
    size_t n_inclusion;
    uint8_t root[WK_HASH_LEN];
    char checkpoint[WK_CHECKPOINT_NOTE_MAX];
} wk_receipt;

/* Serialises r (record built from r->record) as JSON; *json allocated with wk_malloc. */
wk_err wk_receipt_to_json(const wk_receipt *r, char **json, wk_diag *d) WK_MUST_CHECK;

/* Parses receipt JSON of len bytes into *r (no cryptographic checks). WK_EINVAL with d
 * naming the field on malformed input, WK_ELIMIT when over a bound. */
wk_err wk_receipt_parse(const char *json, size_t len, wk_receipt *r, wk_diag *d) WK_MUST_CHECK;

/* Verifies a parsed receipt against the log's verifier key: record == decoded leaf,
 * inclusion proof, checkpoint signature, origin = key name, checkpoint size and root =
 * receipt's. WK_OK or WK_ECRYPTO/WK_EINVAL with d naming what failed. */
wk_err wk_receipt_verify(const wk_receipt *r, const wk_note_verifier *key,
                         wk_diag *d) WK_MUST_CHECK;

#endif
