/*
 * util.h - small helpers shared by the subcommands: reading a whole file with a size cap,
 * and option parsing of the `--name value` form.
 */
#ifndef WK_APP_UTIL_H
#define WK_APP_UTIL_H

#include <stddef.h>

#include "core/err.h"

/* Reads a whole file (at most max_bytes) into a NUL-terminated wk_malloc'd buffer. */
wk_err wk_app_read_file(const char *path, size_t max_bytes, char **buf, size_t *len,
                        wk_diag *d) WK_MUST_CHECK;

/* If argv[*i] is `name`, stores the next argument in *value, advances *i and returns 1;
 * if the value is missing prints an error and returns -1; otherwise returns 0. */
int wk_app_opt(int argc, char **argv, int *i, const char *name, const char **value);

#endif
