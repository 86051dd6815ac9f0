/*
 * mem.h - the one allocation wrapper. Counts live bytes (for /metrics) and can be told to
 * fail the N-th allocation from now (for out-of-memory tests). Everything outside the meter
 * core allocates through here; src/meter never allocates.
 */
#ifndef WK_CORE_MEM_H
#define WK_CORE_MEM_H

#include <stddef.h>
#include <stdint.h>

/* Like malloc/calloc/realloc/free; NULL on failure (or an injected failure). */
void *wk_malloc(size_t n);
void *wk_calloc(size_t count, size_t size);
void *wk_realloc(void *p, size_t n);
void wk_free(void *p);
/* Duplicates a NUL-terminated string; NULL on failure. */
char *wk_strdup(const char *s);

/* Bytes currently allocated through the wrapper, and allocations made in total. */
int64_t wk_mem_live_bytes(void);
int64_t wk_mem_alloc_count(void);

/* Test hook: the n-th allocation from now fails (n >= 1); 0 turns injection off. */
void wk_mem_fail_after(int64_t n);

#endif
