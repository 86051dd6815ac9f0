/*
 * json.h - small helpers shared by every strict JSON reader (tariffs, seed files, API
 * bodies): jansson does the parsing, these enforce the "unknown keys are errors" rule with
 * a message that names the path and lists what was expected.
 */
#ifndef WK_PROTO_JSON_H
#define WK_PROTO_JSON_H

#include <jansson.h>

#include "core/err.h"

/* WK_EINVAL unless obj is an object whose keys are all in the NULL-terminated `allowed`
 * list; d says "<path>: unknown key "k" (expected one of: a, b, c)". */
wk_err wk_json_check_keys(json_t *obj, const char *path, const char *const *allowed,
                          wk_diag *d) WK_MUST_CHECK;

#endif
