/*
 * receipt_fuzz.c - libFuzzer driver for the receipt parser and verifier
 * (src/ledger/receipt.c, leaf.c, note.c, merkle.c verification): arbitrary bytes as receipt
 * JSON, then verification against a fixed key. Must never crash, leak or read out of
 * bounds; a parse error is the normal outcome.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/mem.h"
#include "ledger/receipt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char VKEY[] = "wattkeeper.local/ledger+d082a091+AYUir174CEdFCzTRwjtQl4pYZw4KV9V2bzJGBPwWqjNO";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static wk_note_verifier key;
    static int have_key;
    wk_diag d;
    if (!have_key) {
        if (wk_note_verifier_parse(VKEY, strlen(VKEY), &key, &d) != WK_OK)
            __builtin_trap();
        have_key = 1;
    }
    wk_receipt *r = wk_malloc(sizeof *r);
    if (!r)
        return 0;
    if (wk_receipt_parse((const char *)data, size, r, &d) == WK_OK) {
        (void)!wk_receipt_verify(r, &key, &d);
        char *json = NULL;
        if (wk_receipt_to_json(r, &json, &d) == WK_OK)
            wk_free(json);
    }
    /* the signed-note verifier alone, on the raw bytes */
    size_t tl = 0;
    (void)!wk_note_verify((const char *)data, size, &key, &tl, &d);
    wk_free(r);
    return 0;
}
