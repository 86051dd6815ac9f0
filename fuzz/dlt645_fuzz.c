/* dlt645_fuzz.c - libFuzzer driver for the DL/T 645 decoder, the stream deframer (fed in
 * chunks whose sizes come from the input) and the value/relay parsers of every frame it
 * yields. Any crash, hang or sanitizer report is a bug. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "proto/dlt645.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_frame(void *ctx, const wk_dlt645_frame *f)
{
    size_t *count = ctx;
    (*count)++;
    uint8_t wire[WK_DLT645_WIRE_MAX];
    size_t n = 0;
    wk_dlt645_frame g;
    wk_dlt645_reason why;
    /* a frame the deframer accepts must re-encode and decode to itself */
    if (wk_dlt645_encode(f, 0, wire, sizeof wire, &n) != WK_OK ||
        wk_dlt645_decode(wire, n, &g, &why) != WK_OK || g.len != f->len ||
        memcmp(g.data, f->data, f->len) != 0)
        __builtin_trap();
    if (f->len >= 4) {
        int64_t v[WK_DLT645_FIELDS_MAX];
        size_t nv;
        (void)wk_dlt645_values_get(wk_dlt645_di_get(f->data), f->data + 4, f->len - 4u, v, &nv,
                                   &why);
    }
    wk_dlt645_relay r;
    (void)wk_dlt645_relay_parse(f, &r, &why);
    static const uint8_t key[4] = {1, 2, 3, 4};
    (void)wk_dlt645_relay_mac_ok(f, key, sizeof key);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wk_dlt645_frame f;
    wk_dlt645_reason why;
    size_t count = 0;
    if (wk_dlt645_decode(data, size, &f, &why) == WK_OK)
        on_frame(&count, &f);
    static wk_dlt645_deframer d;
    wk_dlt645_deframer_init(&d);
    size_t off = 0, chunk = size ? (size_t)data[0] % 37 + 1 : 1;
    while (off < size) {
        size_t k = size - off < chunk ? size - off : chunk;
        wk_dlt645_deframer_feed(&d, data + off, k, on_frame, &count);
        off += k;
    }
    if (d.n > sizeof d.buf)
        __builtin_trap();
    return 0;
}
