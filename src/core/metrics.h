/*
 * metrics.h - in-process Prometheus metrics: counters, gauges, gauges computed at scrape
 * time, and latency histograms with fixed buckets, rendered in the text exposition format
 * 0.0.4 for `GET /metrics`.
 *
 * A series is a metric name plus one fixed label set given as a constant string at
 * registration (`outcome="confirmed"`, or `route="/healthz",status="200"`); each label
 * combination is registered as its own series. Series of one name form a family: HELP and
 * TYPE are printed once per family, its series grouped under it, families in registration
 * order.
 *
 * Register at start-up (registration takes a mutex and may fail); update from any thread
 * afterwards (updates are single atomic operations, lock-free, never allocate). The
 * registry is process-wide, static and bounded: at most WK_METRICS_SERIES_MAX series and
 * WK_METRICS_FAMILIES_MAX names; names, help and labels are copied.
 *
 * Histograms observe durations in integer microseconds; bucket bounds are given in
 * milliseconds at registration and rendered in seconds (the Prometheus convention for
 * `_seconds` metrics), exactly, without floating point in the output.
 */
#ifndef WK_CORE_METRICS_H
#define WK_CORE_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define WK_METRICS_SERIES_MAX 512
#define WK_METRICS_FAMILIES_MAX 128
#define WK_METRIC_NAME_MAX 96    /* bytes incl. NUL */
#define WK_METRIC_HELP_MAX 192   /* bytes incl. NUL */
#define WK_METRIC_LABELS_MAX 160 /* bytes incl. NUL */
#define WK_METRIC_BUCKETS_MAX 24 /* finite bounds per histogram (+Inf is implicit) */
#define WK_METRICS_RENDER_MAX (4u << 20) /* bytes of one rendering */

typedef struct wk_metric wk_metric;

/* The default latency buckets in milliseconds: 0.5 1 2 5 10 20 50 100 250 500 1000 2500 5000. */
extern const double wk_metric_latency_ms[];
extern const size_t wk_metric_latency_ms_n;

/* Registers (or finds) a counter series. `labels` is NULL/"" or a label list without braces,
 * `k="v",k2="v2"` (names [a-zA-Z_][a-zA-Z0-9_]*, values with \" \\ \n escapes). Registering
 * the same name and labels again returns the same series. Returns NULL when the name or
 * labels are malformed, the name is registered with another type or help, or a bound is
 * reached; updating NULL is a no-op (so a failed registration never crashes the service;
 * registration failures are bugs the tests catch). */
wk_metric *wk_metric_counter(const char *name, const char *help, const char *labels);
/* Same for a gauge (a value that goes up and down). */
wk_metric *wk_metric_gauge(const char *name, const char *help, const char *labels);
/* A gauge whose value is computed at render time by fn(ctx) (memory in use, queue depth).
 * fn is called from the rendering thread with the registry lock held: it must be
 * thread-safe, quick, and must not register metrics. Registering the same name and labels again replaces fn and ctx. */
wk_metric *wk_metric_gauge_fn(const char *name, const char *help, const char *labels,
                              int64_t (*fn)(void *ctx), void *ctx);
/* A latency histogram with n (1..WK_METRIC_BUCKETS_MAX) strictly increasing bucket bounds
 * in milliseconds, each a multiple of 0.001 ms and positive. The name should end in
 * _seconds. Series of one family must have the same bounds. */
wk_metric *wk_metric_histogram(const char *name, const char *help, const char *labels,
                               const double *bounds_ms, size_t n);

/* Counter: adds v (must be >= 0; negative values are ignored). Gauge: adds v (any sign).
 * On a computed (fn) gauge or a histogram it has no visible effect. */
void wk_metric_add(wk_metric *m, int64_t v);
/* Counter or gauge + 1. */
void wk_metric_inc(wk_metric *m);
/* Gauge: sets v. Ignored on other types. */
void wk_metric_set(wk_metric *m, int64_t v);
/* Histogram: records one duration in microseconds (negative counts as 0). */
void wk_metric_observe_us(wk_metric *m, int64_t us);

/* Current value of a counter or gauge (fn gauges: calls fn); a histogram's count. 0 for
 * NULL. */
int64_t wk_metric_value(const wk_metric *m);
/* Histogram: sum of the observations in microseconds. */
int64_t wk_metric_sum_us(const wk_metric *m);

/* Renders every family into a wk_malloc'd NUL-terminated buffer (*out, *len without the
 * NUL; caller wk_frees). WK_ENOMEM, or WK_ELIMIT beyond WK_METRICS_RENDER_MAX. */
wk_err wk_metrics_render(char **out, size_t *len) WK_MUST_CHECK;

/* Number of registered series. */
size_t wk_metrics_count(void);

/* Test hook: forgets every series. Not safe while other threads use metrics. */
void wk_metrics_reset(void);

#endif
