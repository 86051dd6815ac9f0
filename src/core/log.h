/*
 * log.h - structured log lines in logfmt: one event per line,
 *
 *   ts=2026-11-27T22:30:01.123Z level=info msg="deduction booked" meter=0001 amount_fen=12
 *
 * The core does no I/O: this module formats the line and hands it to a sink function the
 * application installs (src/app/logsink.c writes it to stderr with one write(2)). Until a
 * sink is installed nothing is printed. The wall clock is installed the same way; without
 * one the `ts=` field is left out (tests get deterministic lines).
 *
 * Process-wide state (level, sink, clock) is the one exception to "no globals in core":
 * a log has one destination per process. Set the sink and clock at start-up, before
 * threads start; wk_log() itself is thread-safe (lines are built on the stack and handed
 * to the sink under a mutex, so a sink sees one whole line per call and never two at once).
 *
 * Quoting: the key=value tail is a printf format. Numbers and identifiers without spaces
 * can be printed bare; any value that may contain a space, '"', '=' or a control character
 * must be passed through wk_log_quote() by the caller (or WK_LOG_Q for a quick stack
 * buffer). As a safety net wk_log() escapes control characters it finds in the tail, so a
 * line never spans two lines.
 *
 * Redaction: the value of any key named password, passwd, secret, key or token, or ending
 * in _password, _passwd, _secret, _key or _token (case-insensitive), is replaced by ***
 * whatever the caller formatted. An unquoted secret value with spaces is redacted up to
 * the next key=value token.
 *
 * Lines are at most WK_LOG_LINE_MAX bytes including the newline; longer ones are cut at a
 * UTF-8 character boundary and end in "…".
 */
#ifndef WK_CORE_LOG_H
#define WK_CORE_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define WK_LOG_LINE_MAX 2048

typedef enum { WK_LOG_DEBUG, WK_LOG_INFO, WK_LOG_WARN, WK_LOG_ERROR } wk_log_level;

/* Receives one complete line (ending in '\n', len bytes, also NUL-terminated). Called under
 * the log mutex: it must not call wk_log() itself. */
typedef void (*wk_log_sink)(const char *line, size_t len, void *ctx);

/* Lines below this level are dropped. Default WK_LOG_INFO. */
void wk_log_set_level(wk_log_level l);
wk_log_level wk_log_get_level(void);
/* True when a line of level l would be printed (a sink is set and l >= the level): lets a
 * caller skip building expensive arguments. */
bool wk_log_enabled(wk_log_level l);

/* Parses "debug", "info", "warn" or "error" (exactly, lower case). WK_EINVAL with the
 * accepted names in d otherwise; *out untouched then. */
wk_err wk_log_level_parse(const char *s, wk_log_level *out, wk_diag *d) WK_MUST_CHECK;
/* "debug", "info", "warn", "error". Never NULL. */
const char *wk_log_level_name(wk_log_level l);

/* Installs the sink (NULL = discard everything) and its context. */
void wk_log_set_sink(wk_log_sink fn, void *ctx);
/* Installs the wall clock: Unix time in milliseconds. NULL = no ts field. */
void wk_log_set_clock(int64_t (*now_ms)(void));

/* Logs one event: msg is printed quoted; fmt_kv (NULL for none) is a printf format for
 * the " key=value ..." tail, see the quoting and redaction rules above. Cannot fail; a line
 * that does not fit is truncated. */
void wk_log(wk_log_level l, const char *msg, const char *fmt_kv, ...) WK_PRINTF(3, 4);

/* Formats s as a logfmt value into buf: bare when it is non-empty and has no space, '"',
 * '=', '\\' or control byte; otherwise in double quotes with \" \\ \n \r \t and \xNN
 * escapes. Truncates (closing the quote) when buf is too small. Returns buf. s NULL is
 * printed as "". n must be at least 3. */
const char *wk_log_quote(const char *s, char *buf, size_t n);

/* A quoted value in a temporary stack buffer of 256 bytes, valid until the end of the
 * enclosing full expression: wk_log(WK_LOG_WARN, "x", "why=%s", WK_LOG_Q(reason)); */
#define WK_LOG_Q(s) wk_log_quote((s), (char[256]){0}, 256)

/* Builds the line wk_log would emit, without the level check and without a sink, into buf
 * (at most n bytes, n <= WK_LOG_LINE_MAX) and returns its length. For tests and for sinks
 * that want the exact bytes. */
size_t wk_log_format(char *buf, size_t n, int64_t now_ms, bool with_ts, wk_log_level l,
                     const char *msg, const char *fmt_kv, ...) WK_PRINTF(7, 8);

#endif
