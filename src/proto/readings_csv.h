/*
 * readings_csv.h - the readings CSV of `wattkeeper rate` (contract in docs/tariffs.md):
 *
 *   time,meter,total_kwh[,t1_kwh,t2_kwh,t3_kwh,t4_kwh][,event]
 *
 * time is ISO 8601 with an offset, registers are kWh with at most 3 decimals, event is
 * empty, "rollover" or "exchange". Columns are found by the header; t1..t4 come all four
 * or not at all. Strict: any malformed field is an error naming the line and column.
 */
#ifndef WK_PROTO_READINGS_CSV_H
#define WK_PROTO_READINGS_CSV_H

#include <stddef.h>

#include "core/err.h"
#include "core/readings.h"

#define WK_METER_ID_MAX 32
#define WK_CSV_ROWS_MAX 5000000
#define WK_CSV_LINE_MAX 1024

typedef struct wk_csv_row {
    char meter[WK_METER_ID_MAX + 1];
    int line; /* 1-based line number in the file */
    wk_reading r;
} wk_csv_row;

/* Parses the whole buffer. On success *rows (allocated with wk_malloc; caller frees with
 * wk_free) holds *n rows in file order. On error nothing is allocated and d says
 * "line N: column: what was expected". */
wk_err wk_readings_csv_parse(const char *buf, size_t len, wk_csv_row **rows, size_t *n,
                             wk_diag *d) WK_MUST_CHECK;

#endif
