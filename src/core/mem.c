/*
 * mem.c - counting allocator. Each block carries a 16-byte header holding its size, so
 * frees can be subtracted without the allocator's help. Counters are atomic so that every
 * thread can use it.
 */
#include "core/mem.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define HDR 16

static _Atomic int64_t live_bytes;
static _Atomic int64_t alloc_count;
static _Atomic int64_t fail_countdown;

static int mem__should_fail(void)
{
    int64_t n = atomic_load(&fail_countdown);
    while (n > 0) {
        if (atomic_compare_exchange_weak(&fail_countdown, &n, n - 1))
            return n == 1;
    }
    return 0;
}

void *wk_malloc(size_t n)
{
    if (n > SIZE_MAX - HDR || mem__should_fail())
        return NULL;
    unsigned char *p = malloc(n + HDR);
    if (!p)
        return NULL;
    memcpy(p, &n, sizeof n);
    atomic_fetch_add(&live_bytes, (int64_t)n);
    atomic_fetch_add(&alloc_count, 1);
    return p + HDR;
}

void *wk_calloc(size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size)
        return NULL;
    void *p = wk_malloc(count * size);
    if (p)
        memset(p, 0, count * size);
    return p;
}

void *wk_realloc(void *p, size_t n)
{
    if (!p)
        return wk_malloc(n);
    if (n > SIZE_MAX - HDR || mem__should_fail())
        return NULL;
    unsigned char *base = (unsigned char *)p - HDR;
    size_t old;
    memcpy(&old, base, sizeof old);
    unsigned char *q = realloc(base, n + HDR);
    if (!q)
        return NULL;
    memcpy(q, &n, sizeof n);
    atomic_fetch_add(&live_bytes, (int64_t)n - (int64_t)old);
    atomic_fetch_add(&alloc_count, 1);
    return q + HDR;
}

void wk_free(void *p)
{
    if (!p)
        return;
    unsigned char *base = (unsigned char *)p - HDR;
    size_t n;
    memcpy(&n, base, sizeof n);
    atomic_fetch_sub(&live_bytes, (int64_t)n);
    free(base);
}

char *wk_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = wk_malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

int64_t wk_mem_live_bytes(void)
{
    return atomic_load(&live_bytes);
}

int64_t wk_mem_alloc_count(void)
{
    return atomic_load(&alloc_count);
}

void wk_mem_fail_after(int64_t n)
{
    atomic_store(&fail_countdown, n < 0 ? 0 : n);
}
