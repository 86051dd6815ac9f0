/*
 * note.h - C2SP signed notes (c2sp.org/signed-note) with Ed25519 keys, as used for log
 * checkpoints (c2sp.org/tlog-checkpoint).
 *
 * A note is text (non-empty, every line ending in '\n') + a blank line + signature lines
 * "\u2014 <key name> <base64(4-byte key id || 64-byte signature)>\n". The signature covers
 * the text including its final newline. Ed25519 key id = first 4 bytes (big-endian) of
 * SHA-256(name || 0x0A || 0x01 || public key). Keys are written as
 *   verifier: <name>+<8 hex key id>+<base64(0x01 || 32-byte public key)>
 *   signer:   PRIVATE+KEY+<name>+<8 hex key id>+<base64(0x01 || 32-byte seed)>
 * Pure apart from OpenSSL (Ed25519, SHA-256, random seed); no allocation of our own.
 */
#ifndef WK_LEDGER_NOTE_H
#define WK_LEDGER_NOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define WK_NOTE_NAME_MAX 128  /* bytes of a key name, without NUL */
#define WK_NOTE_KEY_TEXT_MAX 256
#define WK_NOTE_SIG_MAX 64    /* signature lines read from one note (>= 16 by the spec) */
#define WK_NOTE_SIGLINE_MAX (4 + WK_NOTE_NAME_MAX + 1 + 92 + 1)

typedef struct wk_note_verifier {
    char name[WK_NOTE_NAME_MAX + 1];
    uint32_t key_id;
    uint8_t pub[32];
} wk_note_verifier;

typedef struct wk_note_signer {
    wk_note_verifier v;
    uint8_t seed[32];
} wk_note_signer;

/* Key id of an Ed25519 public key under a name. */
uint32_t wk_note_key_id(const char *name, const uint8_t pub[32]);

/* A valid key name: 1..WK_NOTE_NAME_MAX bytes, printable ASCII/UTF-8 without '+' or
 * whitespace. */
bool wk_note_name_ok(const char *name, size_t len);

/* Generates a new Ed25519 key named name from the OS random generator. */
wk_err wk_note_signer_generate(const char *name, wk_note_signer *out, wk_diag *d) WK_MUST_CHECK;

/* Parses "PRIVATE+KEY+name+id+base64" (len bytes, trailing newline allowed) and checks
 * that the id matches the key. */
wk_err wk_note_signer_parse(const char *s, size_t len, wk_note_signer *out,
                            wk_diag *d) WK_MUST_CHECK;
/* Parses "name+id+base64" (trailing newline allowed) and checks the id. */
wk_err wk_note_verifier_parse(const char *s, size_t len, wk_note_verifier *out,
                              wk_diag *d) WK_MUST_CHECK;

/* Formats a key (no newline) into buf (WK_NOTE_KEY_TEXT_MAX is enough). Returns buf. */
char *wk_note_signer_format(const wk_note_signer *k, char *buf, size_t cap);
char *wk_note_verifier_format(const wk_note_verifier *k, char *buf, size_t cap);

/* Signs text (len bytes, must be non-empty and end with '\n') and writes the signature
 * line (with its '\n', NUL-terminated) into line (cap >= WK_NOTE_SIGLINE_MAX). The signed
 * note is text + "\n" + line. */
wk_err wk_note_sign(const wk_note_signer *k, const char *text, size_t len, char *line,
                    size_t cap, wk_diag *d) WK_MUST_CHECK;

/* Verifies a note: it must be well formed and carry a valid signature by key v
 * (signatures by other keys are ignored; a signature that claims v's name and id but does
 * not verify is an error). On success *text_len is the length of the signed text (the
 * text is note[0..*text_len)). WK_ECRYPTO for a bad or missing signature, WK_EINVAL for
 * a malformed note. */
wk_err wk_note_verify(const char *note, size_t len, const wk_note_verifier *v, size_t *text_len,
                      wk_diag *d) WK_MUST_CHECK;

#endif
