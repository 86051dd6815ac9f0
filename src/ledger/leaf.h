/*
 * leaf.h - the canonical byte encoding of a ledger transfer as a Merkle log leaf, and the
 * signed checkpoint text. Both are contracts with residents' verifiers (docs/ledger.md):
 * change them only with a new version byte.
 *
 * Leaf, version 1 (all integers big-endian, unsigned unless noted):
 *   u8  version = 1        u8  type = 1 (transfer)      u64 leaf_index
 *   16  transfer id        u64 debit_account_id          u64 credit_account_id
 *   u64 amount_fen         u32 flags                     i64 time_s (two's complement)
 *   u16 reason length      reason bytes (UTF-8, <= WK_TRANSFER_REASON_MAX)
 *
 * Checkpoint text (c2sp.org/tlog-checkpoint, one extension line):
 *   <origin>\n<tree size, decimal>\n<base64 root>\ntime <unix seconds>\n
 * Pure: no I/O, no allocation.
 */
#ifndef WK_LEDGER_LEAF_H
#define WK_LEDGER_LEAF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "ledger/merkle.h"
#include "ledger/note.h"

#define WK_LEAF_VERSION 1
#define WK_LEAF_TYPE_TRANSFER 1
#define WK_TRANSFER_REASON_MAX 256
#define WK_LEAF_FIXED_LEN (1 + 1 + 8 + 16 + 8 + 8 + 8 + 4 + 8 + 2)
#define WK_LEAF_MAX (WK_LEAF_FIXED_LEN + WK_TRANSFER_REASON_MAX)
#define WK_CHECKPOINT_TEXT_MAX (WK_NOTE_NAME_MAX + 96)
#define WK_CHECKPOINT_NOTE_MAX (WK_CHECKPOINT_TEXT_MAX + 1 + WK_NOTE_SIGLINE_MAX + 1)

typedef struct wk_leaf_record {
    int64_t leaf_index;
    uint8_t id[16];
    int64_t debit_account_id;
    int64_t credit_account_id;
    int64_t amount_fen;
    uint32_t flags;
    int64_t time_s;
    size_t reason_len;
    char reason[WK_TRANSFER_REASON_MAX + 1]; /* NUL-terminated copy */
} wk_leaf_record;

/* True when s[0..len) is well-formed UTF-8 without NUL or other C0 control bytes except
 * none at all (reasons are one line of text). */
bool wk_text_ok(const char *s, size_t len);

/* Encodes r into buf (cap >= WK_LEAF_MAX); *len = bytes. WK_EINVAL if a field is outside
 * its contract (negative ids/amount, reason too long or not UTF-8). */
wk_err wk_leaf_encode(const wk_leaf_record *r, uint8_t *buf, size_t cap, size_t *len,
                      wk_diag *d) WK_MUST_CHECK;

/* Decodes exactly len bytes; rejects unknown versions/types, trailing bytes and fields
 * that encode would reject, so decode(encode(r)) == r and encode(decode(b)) == b. */
wk_err wk_leaf_decode(const uint8_t *buf, size_t len, wk_leaf_record *r,
                      wk_diag *d) WK_MUST_CHECK;

typedef struct wk_checkpoint_body {
    char origin[WK_NOTE_NAME_MAX + 1];
    uint64_t tree_size;
    uint8_t root[WK_HASH_LEN];
    int64_t time_s;
} wk_checkpoint_body;

/* Writes the checkpoint text (NUL-terminated) into buf (cap >= WK_CHECKPOINT_TEXT_MAX). */
wk_err wk_checkpoint_format(const wk_checkpoint_body *b, char *buf, size_t cap, size_t *len,
                            wk_diag *d) WK_MUST_CHECK;

/* Parses checkpoint text (exactly the format above, len bytes). */
wk_err wk_checkpoint_parse(const char *text, size_t len, wk_checkpoint_body *b,
                           wk_diag *d) WK_MUST_CHECK;

#endif
