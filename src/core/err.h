/*
 * err.h - the one error type of Wattkeeper and its diagnostic context.
 *
 * Every function that can fail returns wk_err. A failing function that can tell the user
 * more (which field, which line, what was expected) writes one sentence into a wk_diag the
 * caller passes in; the caller prefixes its own context (file name) and shows it. A wk_diag
 * is a fixed buffer: it never allocates, so it is usable from the core and the meter.
 */
#ifndef WK_CORE_ERR_H
#define WK_CORE_ERR_H

#include <stddef.h>

#if defined(__GNUC__)
#define WK_MUST_CHECK __attribute__((warn_unused_result))
#define WK_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define WK_MUST_CHECK
#define WK_PRINTF(a, b)
#endif

typedef enum wk_err {
    WK_OK = 0,
    WK_EINVAL,    /* malformed or out-of-contract input */
    WK_ERANGE,    /* arithmetic overflow or a value outside its allowed range */
    WK_ENOMEM,    /* allocation failed */
    WK_EIO,       /* file, socket or database I/O failed */
    WK_ENOTFOUND, /* a referenced object does not exist */
    WK_EEXIST,    /* the object exists already (with other content) */
    WK_ECONFLICT, /* a constraint (balance, state machine) forbids the operation */
    WK_ELIMIT,    /* a configured bound (size, count, depth) was exceeded */
    WK_ECRYPTO,   /* a signature, MAC or checksum did not verify */
    WK_EINTERNAL, /* an invariant broke: a bug */
} wk_err;

/* Short stable name of an error ("invalid input", ...). Never NULL. */
const char *wk_err_str(wk_err e);

#define WK_DIAG_MAX 512

typedef struct wk_diag {
    char msg[WK_DIAG_MAX];
} wk_diag;

/* Sets d->msg from a printf format (truncating to WK_DIAG_MAX). d may be NULL: then nothing
 * is written. Returns `e` so that callers can write `return wk_diag_set(d, WK_EINVAL, ...)`. */
wk_err wk_diag_set(wk_diag *d, wk_err e, const char *fmt, ...) WK_PRINTF(3, 4);

/* Prefixes d->msg with "<prefix>: " (e.g. a file name and line), keeping it bounded. */
void wk_diag_prefix(wk_diag *d, const char *fmt, ...) WK_PRINTF(2, 3);

/* Always-on invariant check for the few that must stop the process (ledger imbalance). */
#define WK_PANIC_IF(cond)                                                                          \
    do {                                                                                           \
        if (cond)                                                                                  \
            wk_panic(__FILE__, __LINE__, #cond);                                                   \
    } while (0)

#ifdef NDEBUG
#define WK_ASSERT(cond) ((void)0)
#else
#define WK_ASSERT(cond) WK_PANIC_IF(!(cond))
#endif

void wk_panic(const char *file, int line, const char *what) __attribute__((noreturn));

#endif
