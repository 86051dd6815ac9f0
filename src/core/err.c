/*
 * err.c - names of wk_err values and the bounded diagnostic buffer.
 * No allocation; the only output is wk_panic's last words on stderr.
 */
#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *wk_err_str(wk_err e)
{
    switch (e) {
    case WK_OK: return "ok";
    case WK_EINVAL: return "invalid input";
    case WK_ERANGE: return "out of range";
    case WK_ENOMEM: return "out of memory";
    case WK_EIO: return "I/O error";
    case WK_ENOTFOUND: return "not found";
    case WK_EEXIST: return "already exists";
    case WK_ECONFLICT: return "conflict";
    case WK_ELIMIT: return "limit exceeded";
    case WK_ECRYPTO: return "verification failed";
    case WK_EINTERNAL: return "internal error";
    }
    return "unknown error";
}

wk_err wk_diag_set(wk_diag *d, wk_err e, const char *fmt, ...)
{
    if (d) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(d->msg, sizeof d->msg, fmt, ap);
        va_end(ap);
    }
    return e;
}

void wk_diag_prefix(wk_diag *d, const char *fmt, ...)
{
    if (!d)
        return;
    char head[WK_DIAG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    char tail[WK_DIAG_MAX];
    memcpy(tail, d->msg, sizeof tail);
    tail[sizeof tail - 1] = '\0';
    snprintf(d->msg, sizeof d->msg, "%s: %s", head, tail);
}

void wk_panic(const char *file, int line, const char *what)
{
    fprintf(stderr, "wattkeeper: invariant broken at %s:%d: %s\n", file, line, what);
    abort();
}
