/*
 * tariff_json.h - the JSON tariff format (docs/tariffs.md) to the core tariff model.
 * Strict: unknown keys, JSON numbers with a fraction (inexact), missing keys and every
 * invariant of core/tariff.h are rejected with the JSON path and what was expected.
 */
#ifndef WK_PROTO_TARIFF_JSON_H
#define WK_PROTO_TARIFF_JSON_H

#include <stddef.h>

#include "core/err.h"
#include "core/tariff.h"

/* Parses len bytes of JSON into *out (caller-owned, overwritten). On error *out is
 * unspecified and d names the key path, e.g. "versions[0].prices.matrix.peak[2]: ...". */
wk_err wk_tariff_json_parse(const char *buf, size_t len, wk_tariff *out, wk_diag *d) WK_MUST_CHECK;

#endif
