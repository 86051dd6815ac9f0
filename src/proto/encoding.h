/*
 * encoding.h - hex and base64 (RFC 4648, standard alphabet, padded) encoders and strict
 * decoders. Pure, no allocation: the caller passes bounded buffers. Decoders reject
 * anything that would not re-encode to the same text (wrong length, bad characters, stray
 * bits in the last group, whitespace), so a value has exactly one accepted spelling.
 */
#ifndef WK_PROTO_ENCODING_H
#define WK_PROTO_ENCODING_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* Writes 2*len lowercase hex digits and a NUL into out (cap >= 2*len+1). Returns out. */
char *wk_hex_encode(const void *data, size_t len, char *out, size_t cap);

/* Decodes exactly len hex characters (either case) into out (cap >= len/2); *n = bytes.
 * WK_EINVAL on odd length or a non-hex character, WK_ELIMIT if out is too small. */
wk_err wk_hex_decode(const char *s, size_t len, uint8_t *out, size_t cap,
                     size_t *n) WK_MUST_CHECK;

/* Size of the base64 text of len bytes, without the NUL. */
size_t wk_base64_len(size_t len);

/* Writes base64 and a NUL (cap >= wk_base64_len(len) + 1). Returns out. */
char *wk_base64_encode(const void *data, size_t len, char *out, size_t cap);

/* Strict decode of len base64 characters into out (cap bytes); *n = bytes written. */
wk_err wk_base64_decode(const char *s, size_t len, uint8_t *out, size_t cap,
                        size_t *n) WK_MUST_CHECK;

#endif
