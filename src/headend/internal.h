/*
 * internal.h - what headend.c shares with the other files of src/headend (not public).
 */
#ifndef WK_HEADEND_INTERNAL_H
#define WK_HEADEND_INTERNAL_H

#include <stdint.h>

#include "core/tariff.h"
#include "core/policy.h"
#include "headend/headend.h"

#define HD_TARIFFS_MAX 32
#define HD_TOUCHED_MAX 4096
#define HD_RATE_STATE_VERSION 1
#define HD_ADJUSTMENT_ACCOUNT "adjustment:headend"

#define HD_OUT_MAX 4096

typedef struct hd_out {
    char address[13];
    uint8_t wire[48]; /* commands and reads are at most 44 bytes with preamble */
    size_t len;
} hd_out;

typedef struct hd_tariff {
    char name[64];
    wk_tariff *t;
} hd_tariff;

struct wk_headend {
    wk_store *st;
    wk_ledger *lg;
    wk_headend_opts o;
    char tariff_dir[1024];
    uint8_t operator_code[4];
    wk_headend_publish_fn publish;
    void *publish_ctx;
    wk_headend_event_fn on_event;
    void *event_ctx;
    wk_headend_latency_fn on_latency;
    void *latency_ctx;
    hd_tariff tariffs[HD_TARIFFS_MAX];
    int n_tariffs;
    bool in_batch;
    int batch_n;
    int n_touched;
    int64_t touched[HD_TOUCHED_MAX];
    int64_t adjustment_id;
    int n_out;
    hd_out out[HD_OUT_MAX];
    bool event_failed; /* an event row failed to insert in the open transaction */
    /* meters last reported as rated by the clock (TOU registers for an unpriced slot), so
     * that the anomaly is an event once a day per meter, not once per reading */
    struct {
        int64_t meter_id, last_ms;
    } tou_noted[256];
    wk_headend_stats stats;
};


/* The tariff file <tariff_dir>/<name>.json, parsed once and cached; NULL + d on error. */
const wk_tariff *hd__tariff_get(wk_headend *hd, const char *name, wk_diag *d);
/* A 16-byte ledger id: SHA-256 of a domain-separated text, truncated. */
void hd__id_from(const char *text, uint8_t id[16]);
/* A community's policy: the default with the overrides of the JSON text applied (NULL or
 * "" = none). path names the JSON in messages. */
wk_err hd__policy_apply(const wk_policy *base, const char *json, const char *path, wk_policy *out,
                        wk_diag *d) WK_MUST_CHECK;

/* The ledger account that funds opening balances and staff credits. */
int64_t hd__adjustment_id(const wk_headend *hd);

/* Asks the meter of a unit for its registers now (a read request through the outbox of the
 * caller's transaction), when it has reported before and is online; nothing otherwise. */
wk_err hd__read_unit_meter(wk_headend *hd, int64_t unit_id, wk_diag *d);

#endif
