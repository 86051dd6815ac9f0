/*
 * civil.h - calendar arithmetic on integers: days since 1970-01-01 <-> (y, m, d), weekday,
 * and ISO 8601 timestamps with an explicit UTC offset. Time is always a parameter here;
 * nothing reads a clock. China has no daylight saving, so a tariff's local time is UTC plus
 * a fixed offset.
 */
#ifndef WK_CORE_CIVIL_H
#define WK_CORE_CIVIL_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

typedef struct wk_date {
    int32_t year;
    int32_t month; /* 1..12 */
    int32_t day;   /* 1..31 */
} wk_date;

/* Days since 1970-01-01 of a proleptic Gregorian date (no validation). */
int64_t wk_days_from_civil(int32_t y, int32_t m, int32_t d);
/* Inverse of wk_days_from_civil. */
wk_date wk_civil_from_days(int64_t days);
/* 0 = Monday .. 6 = Sunday. */
int wk_weekday(int64_t days);
/* Number of days in a month (leap years handled). */
int wk_days_in_month(int32_t y, int32_t m);
/* floor(a / b) for b > 0. */
int64_t wk_floor_div(int64_t a, int64_t b);

/* Parses "YYYY-MM-DDTHH:MM[:SS]" followed by "Z" or "+HH:MM"/"-HH:MM" (a space may stand
 * for 'T'). Writes Unix seconds and the offset in seconds. The offset is required: a time
 * without one is ambiguous and rejected. */
wk_err wk_time_parse(const char *s, size_t len, int64_t *unix_s, int32_t *offset_s,
                     wk_diag *d) WK_MUST_CHECK;
/* Parses "YYYY-MM-DD" into days since the epoch, validating the day of the month. */
wk_err wk_date_parse(const char *s, size_t len, int64_t *days, wk_diag *d) WK_MUST_CHECK;
/* Parses a UTC offset "+08:00" / "-05:30" / "Z" into seconds. */
wk_err wk_offset_parse(const char *s, size_t len, int32_t *offset_s, wk_diag *d) WK_MUST_CHECK;

/* Formats unix_s at offset_s as "YYYY-MM-DDTHH:MM:SS+HH:MM". Buffer of 32 is enough. */
char *wk_time_format(int64_t unix_s, int32_t offset_s, char *buf, size_t n);
/* Formats days since the epoch as "YYYY-MM-DD". */
char *wk_date_format(int64_t days, char *buf, size_t n);

#endif
