/*
 * util.h - small helpers shared by the subcommands: reading a whole file with a size cap.
 * (Options are parsed by args.h.)
 */
#ifndef WK_APP_UTIL_H
#define WK_APP_UTIL_H

#include <stddef.h>

#include "core/err.h"

/* Reads a whole file (at most max_bytes) into a NUL-terminated wk_malloc'd buffer. */
wk_err wk_app_read_file(const char *path, size_t max_bytes, char **buf, size_t *len,
                        wk_diag *d) WK_MUST_CHECK;

#endif
