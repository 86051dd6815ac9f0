/*
 * metrics.c - the static metrics registry and its text rendering (see metrics.h).
 *
 * Invariants: families[0..n_families) and series[0..n_series) only grow (until the test
 * reset); a series' family, kind, labels and histogram bounds never change after
 * registration, so updaters touch only atomics and need no lock. Registration and
 * rendering take `reg_mu`. Histogram buckets are stored per bucket (not cumulative) and
 * summed while rendering, so _count always equals the +Inf bucket in one rendering.
 */
#include "core/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/mem.h"
#include "core/units.h"

typedef enum { KIND_COUNTER, KIND_GAUGE, KIND_HISTOGRAM } metric_kind;

typedef struct family {
    char name[WK_METRIC_NAME_MAX];
    char help[WK_METRIC_HELP_MAX];
    metric_kind kind;
    size_t n_bounds;
    int64_t bounds_us[WK_METRIC_BUCKETS_MAX];
} family;

struct wk_metric {
    int family;
    metric_kind kind;
    char labels[WK_METRIC_LABELS_MAX];
    _Atomic int64_t value; /* counter, gauge; unused by histograms */
    int64_t (*fn)(void *ctx);
    void *ctx;
    _Atomic int64_t buckets[WK_METRIC_BUCKETS_MAX + 1]; /* last: above every bound (+Inf) */
    _Atomic int64_t sum_us;
};

const double wk_metric_latency_ms[] = {0.5, 1, 2, 5, 10, 20, 50, 100, 250, 500, 1000, 2500, 5000};
const size_t wk_metric_latency_ms_n = sizeof wk_metric_latency_ms / sizeof wk_metric_latency_ms[0];

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static family families[WK_METRICS_FAMILIES_MAX];
static size_t n_families;
static wk_metric series[WK_METRICS_SERIES_MAX];
static size_t n_series;

/* ---- validation ---- */

static bool metrics__name_ok(const char *s, bool colon_ok)
{
    if (!s || !*s || strlen(s) >= WK_METRIC_NAME_MAX)
        return false;
    for (size_t i = 0; s[i]; i++) {
        char c = s[i];
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                     (colon_ok && c == ':');
        if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
            return false;
    }
    return true;
}

/* `k="v",k2="v2"`: label names valid, values quoted with only \" \\ \n escapes. A
 * histogram's labels must not use `le`. */
static bool metrics__labels_ok(const char *s, bool histogram)
{
    if (strlen(s) >= WK_METRIC_LABELS_MAX)
        return false;
    size_t i = 0;
    while (s[i]) {
        size_t ks = i;
        while (s[i] && s[i] != '=')
            i++;
        if (s[i] != '=' || i == ks || i - ks >= 64)
            return false;
        char key[64];
        memcpy(key, s + ks, i - ks);
        key[i - ks] = '\0';
        if (!metrics__name_ok(key, false) || (histogram && strcmp(key, "le") == 0))
            return false;
        i++;
        if (s[i] != '"')
            return false;
        i++;
        while (s[i] && s[i] != '"') {
            if (s[i] == '\\') {
                if (s[i + 1] != '"' && s[i + 1] != '\\' && s[i + 1] != 'n')
                    return false;
                i++;
            } else if (s[i] == '\n') {
                return false;
            }
            i++;
        }
        if (s[i] != '"')
            return false;
        i++;
        if (s[i] == ',' && s[i + 1] != '\0')
            i++;
        else if (s[i] != '\0')
            return false;
    }
    return true;
}

/* ---- registration ---- */

static wk_metric *metrics__register(const char *name, const char *help, const char *labels,
                                    metric_kind kind, const int64_t *bounds_us, size_t n_bounds,
                                    int64_t (*fn)(void *ctx), void *ctx)
{
    if (!labels)
        labels = "";
    if (!help)
        help = "";
    if (!metrics__name_ok(name, true) || strlen(help) >= WK_METRIC_HELP_MAX ||
        !metrics__labels_ok(labels, kind == KIND_HISTOGRAM))
        return NULL;
    wk_metric *m = NULL;
    pthread_mutex_lock(&reg_mu);
    size_t f = 0;
    while (f < n_families && strcmp(families[f].name, name) != 0)
        f++;
    if (f < n_families) {
        family *fa = &families[f];
        if (fa->kind != kind || strcmp(fa->help, help) != 0)
            goto out;
        if (kind == KIND_HISTOGRAM &&
            (fa->n_bounds != n_bounds ||
             memcmp(fa->bounds_us, bounds_us, n_bounds * sizeof *bounds_us) != 0))
            goto out;
        for (size_t i = 0; i < n_series; i++) {
            if (series[i].family == (int)f && strcmp(series[i].labels, labels) == 0) {
                m = &series[i];
                if ((m->fn == NULL) != (fn == NULL)) {
                    m = NULL; /* a plain gauge and a computed one cannot share a series */
                } else if (fn) {
                    m->fn = fn;
                    m->ctx = ctx;
                }
                goto out;
            }
        }
    } else {
        if (n_families == WK_METRICS_FAMILIES_MAX || n_series == WK_METRICS_SERIES_MAX)
            goto out;
        family *fa = &families[n_families++];
        memset(fa, 0, sizeof *fa);
        snprintf(fa->name, sizeof fa->name, "%s", name);
        snprintf(fa->help, sizeof fa->help, "%s", help);
        fa->kind = kind;
        fa->n_bounds = n_bounds;
        if (n_bounds)
            memcpy(fa->bounds_us, bounds_us, n_bounds * sizeof *bounds_us);
    }
    if (n_series == WK_METRICS_SERIES_MAX)
        goto out;
    m = &series[n_series];
    m->family = (int)f;
    m->kind = kind;
    snprintf(m->labels, sizeof m->labels, "%s", labels);
    atomic_store(&m->value, 0);
    atomic_store(&m->sum_us, 0);
    for (size_t b = 0; b <= WK_METRIC_BUCKETS_MAX; b++)
        atomic_store(&m->buckets[b], 0);
    m->fn = fn;
    m->ctx = ctx;
    n_series++;
out:
    pthread_mutex_unlock(&reg_mu);
    return m;
}

wk_metric *wk_metric_counter(const char *name, const char *help, const char *labels)
{
    return metrics__register(name, help, labels, KIND_COUNTER, NULL, 0, NULL, NULL);
}

wk_metric *wk_metric_gauge(const char *name, const char *help, const char *labels)
{
    return metrics__register(name, help, labels, KIND_GAUGE, NULL, 0, NULL, NULL);
}

wk_metric *wk_metric_gauge_fn(const char *name, const char *help, const char *labels,
                              int64_t (*fn)(void *ctx), void *ctx)
{
    if (!fn)
        return NULL;
    return metrics__register(name, help, labels, KIND_GAUGE, NULL, 0, fn, ctx);
}

wk_metric *wk_metric_histogram(const char *name, const char *help, const char *labels,
                               const double *bounds_ms, size_t n)
{
    if (!bounds_ms || n == 0 || n > WK_METRIC_BUCKETS_MAX)
        return NULL;
    int64_t us[WK_METRIC_BUCKETS_MAX];
    for (size_t i = 0; i < n; i++) {
        double x = bounds_ms[i] * 1000.0;
        if (!(x >= 1.0 && x <= 1e15))
            return NULL;
        double r = nearbyint(x);
        if (fabs(x - r) > 1e-6 * r)
            return NULL; /* finer than a microsecond */
        us[i] = (int64_t)r;
        if (i > 0 && us[i] <= us[i - 1])
            return NULL;
    }
    return metrics__register(name, help, labels, KIND_HISTOGRAM, us, n, NULL, NULL);
}

/* ---- updates ---- */

void wk_metric_add(wk_metric *m, int64_t v)
{
    if (!m || m->kind == KIND_HISTOGRAM)
        return;
    if (m->kind == KIND_COUNTER && v < 0)
        return;
    atomic_fetch_add_explicit(&m->value, v, memory_order_relaxed);
}

void wk_metric_inc(wk_metric *m)
{
    wk_metric_add(m, 1);
}

void wk_metric_set(wk_metric *m, int64_t v)
{
    if (!m || m->kind != KIND_GAUGE)
        return;
    atomic_store_explicit(&m->value, v, memory_order_relaxed);
}

void wk_metric_observe_us(wk_metric *m, int64_t us)
{
    if (!m || m->kind != KIND_HISTOGRAM)
        return;
    if (us < 0)
        us = 0;
    const family *fa = &families[m->family];
    size_t b = 0;
    while (b < fa->n_bounds && us > fa->bounds_us[b])
        b++;
    atomic_fetch_add_explicit(&m->buckets[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->sum_us, us, memory_order_relaxed);
}

int64_t wk_metric_value(const wk_metric *m)
{
    if (!m)
        return 0;
    if (m->kind == KIND_HISTOGRAM) {
        int64_t c = 0;
        for (size_t b = 0; b <= families[m->family].n_bounds; b++)
            c += atomic_load_explicit(&m->buckets[b], memory_order_relaxed);
        return c;
    }
    if (m->fn)
        return m->fn(m->ctx);
    return atomic_load_explicit(&m->value, memory_order_relaxed);
}

int64_t wk_metric_sum_us(const wk_metric *m)
{
    if (!m || m->kind != KIND_HISTOGRAM)
        return 0;
    return atomic_load_explicit(&m->sum_us, memory_order_relaxed);
}

size_t wk_metrics_count(void)
{
    pthread_mutex_lock(&reg_mu);
    size_t n = n_series;
    pthread_mutex_unlock(&reg_mu);
    return n;
}

void wk_metrics_reset(void)
{
    pthread_mutex_lock(&reg_mu);
    n_series = 0;
    n_families = 0;
    pthread_mutex_unlock(&reg_mu);
}

/* ---- rendering ---- */

typedef struct out_buf {
    char *p;
    size_t len, cap;
    wk_err err;
} out_buf;

static void metrics__put(out_buf *o, const char *s, size_t n)
{
    if (o->err)
        return;
    if (n > WK_METRICS_RENDER_MAX - 1 - o->len) {
        o->err = WK_ELIMIT;
        return;
    }
    if (o->len + n + 1 > o->cap) {
        size_t cap = o->cap ? o->cap : 16384;
        while (cap < o->len + n + 1)
            cap *= 2;
        char *q = wk_realloc(o->p, cap);
        if (!q) {
            o->err = WK_ENOMEM;
            return;
        }
        o->p = q;
        o->cap = cap;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
    o->p[o->len] = '\0';
}

static void metrics__puts(out_buf *o, const char *s)
{
    metrics__put(o, s, strlen(s));
}

/* HELP text escapes backslash and newline. */
static void metrics__put_help(out_buf *o, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\')
            metrics__put(o, "\\\\", 2);
        else if (*s == '\n')
            metrics__put(o, "\\n", 2);
        else
            metrics__put(o, s, 1);
    }
}

/* name{labels[,extra]} value\n */
static void metrics__put_sample(out_buf *o, const char *name, const char *suffix,
                                const char *labels, const char *extra, const char *value)
{
    metrics__puts(o, name);
    metrics__puts(o, suffix);
    bool any = labels[0] || (extra && extra[0]);
    if (any) {
        metrics__put(o, "{", 1);
        metrics__puts(o, labels);
        if (extra && extra[0]) {
            if (labels[0])
                metrics__put(o, ",", 1);
            metrics__puts(o, extra);
        }
        metrics__put(o, "}", 1);
    }
    metrics__put(o, " ", 1);
    metrics__puts(o, value);
    metrics__put(o, "\n", 1);
}

static void metrics__render_series(out_buf *o, const family *fa, const wk_metric *m)
{
    char v[48];
    if (fa->kind != KIND_HISTOGRAM) {
        int64_t x = m->fn ? m->fn(m->ctx) : atomic_load_explicit(&m->value, memory_order_relaxed);
        snprintf(v, sizeof v, "%lld", (long long)x);
        metrics__put_sample(o, fa->name, "", m->labels, NULL, v);
        return;
    }
    int64_t cum = 0;
    char le[64], num[32];
    for (size_t b = 0; b <= fa->n_bounds; b++) {
        cum += atomic_load_explicit(&m->buckets[b], memory_order_relaxed);
        if (b < fa->n_bounds)
            snprintf(le, sizeof le, "le=\"%s\"", wk_dec_format(fa->bounds_us[b], 6, 0, num, sizeof num));
        else
            snprintf(le, sizeof le, "le=\"+Inf\"");
        snprintf(v, sizeof v, "%lld", (long long)cum);
        metrics__put_sample(o, fa->name, "_bucket", m->labels, le, v);
    }
    wk_dec_format(atomic_load_explicit(&m->sum_us, memory_order_relaxed), 6, 0, v, sizeof v);
    metrics__put_sample(o, fa->name, "_sum", m->labels, NULL, v);
    snprintf(v, sizeof v, "%lld", (long long)cum);
    metrics__put_sample(o, fa->name, "_count", m->labels, NULL, v);
}

wk_err wk_metrics_render(char **out, size_t *len)
{
    static const char *const type_names[] = {"counter", "gauge", "histogram"};
    out_buf o = {0};
    metrics__put(&o, "", 0); /* an empty registry renders as an empty, valid document */
    pthread_mutex_lock(&reg_mu);
    for (size_t f = 0; f < n_families && !o.err; f++) {
        const family *fa = &families[f];
        metrics__puts(&o, "# HELP ");
        metrics__puts(&o, fa->name);
        metrics__puts(&o, " ");
        metrics__put_help(&o, fa->help);
        metrics__puts(&o, "\n# TYPE ");
        metrics__puts(&o, fa->name);
        metrics__puts(&o, " ");
        metrics__puts(&o, type_names[fa->kind]);
        metrics__puts(&o, "\n");
        for (size_t i = 0; i < n_series; i++)
            if (series[i].family == (int)f)
                metrics__render_series(&o, fa, &series[i]);
    }
    pthread_mutex_unlock(&reg_mu);
    if (o.err) {
        wk_free(o.p);
        return o.err;
    }
    *out = o.p;
    *len = o.len;
    return WK_OK;
}
