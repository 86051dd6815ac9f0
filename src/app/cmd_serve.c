/*
 * cmd_serve.c - `wattkeeper serve [--config FILE]`: the platform process. Wires the INI
 * config, the store, the ledger, the head-end, the MQTT session and the HTTP server
 * together and runs the single-threaded main loop that owns the database connection:
 *
 *   MQTT I/O (frames -> head-end batch) -> flush (commit, policy, commands) -> timers
 *   (retries, deferred trips, polls, checkpoints) -> requests queued by HTTP threads.
 *
 * HTTP handlers never touch the database: /healthz and /metrics read atomics, and state
 * changes (credits) are queued to the main loop and answered when done. SIGTERM/SIGINT
 * stop the loop cleanly; kill -9 at any time loses nothing acknowledged (every deduction
 * and credit is committed before anything depends on it; MQTT QoS 1 with a persistent
 * session redelivers what was in flight).
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/http.h"
#include "app/cli.h"
#include "app/db.h"
#include "app/logsink.h"
#include "app/serve.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/metrics.h"
#include "headend/headend.h"
#include "headend/mqtt.h"
#include "ledger/ledger.h"
#include "notify/notify.h"
#include "pay/pay.h"
#include "proto/config.h"
#include "proto/encoding.h"

static volatile sig_atomic_t serve_stop;

static void serve__on_signal(int sig)
{
    (void)sig;
    serve_stop = 1;
}

static int64_t serve__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct serve_metrics {
    wk_metric *frames, *frames_bad, *readings, *duplicates, *stale, *deductions, *deducted_fen,
        *warnings, *cmd_sent, *cmd_confirmed, *cmd_refused, *cmd_expired, *cmd_offline,
        *foreign, *polls, *batch_pending, *broker_up, *reconnects, *credit_to_close,
        *send_to_confirm, *credits, *loop_errors;
    wk_headend_stats last;
} serve_metrics;

struct wk_serve {
    wk_config cfg;
    wk_store *st;
    wk_ledger *lg;
    wk_headend *hd;
    wk_mqtt *mq;
    wk_http *http;
    wk_notify_worker *notify; /* NULL when [notify] enabled = false */
    bool notify_due;          /* a notifiable event was written: wake the worker */
    serve_metrics m;
    atomic_int db_ok;
    atomic_int broker_ok;
    /* requests from HTTP threads, executed by the main loop */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    wk_serve_req *queue_head;
    atomic_int stopping;
    char admin_token[65];
    int64_t frames_seen; /* main loop only */
};

const char *wk_serve_admin_token(wk_serve *s)
{
    return s->admin_token;
}

const struct wk_config *wk_serve_config(wk_serve *s)
{
    return &s->cfg;
}

/* Loads <db>.admin-token, or creates it (0600, exclusive) with 32 random bytes in hex. */
static wk_err serve__admin_token(wk_serve *s, wk_diag *d)
{
    char path[WK_APP_PATH_MAX];
    const char *db = s->cfg.server.db;
    if (!strncmp(db, "sqlite:", 7))
        db += 7;
    if (snprintf(path, sizeof path, "%s.admin-token", db) >= (int)sizeof path)
        return wk_diag_set(d, WK_ELIMIT, "database path too long");
    FILE *f = fopen(path, "r");
    if (f) {
        size_t n = fread(s->admin_token, 1, 64, f);
        fclose(f);
        s->admin_token[n] = '\0';
        if (n != 64)
            return wk_diag_set(d, WK_EINVAL, "%s: expected 64 hex digits", path);
        return WK_OK;
    }
    uint8_t raw[32];
    if (RAND_bytes(raw, sizeof raw) != 1)
        return wk_diag_set(d, WK_ECRYPTO, "no randomness");
    wk_hex_encode(raw, sizeof raw, s->admin_token, sizeof s->admin_token);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0)
        return wk_diag_set(d, WK_EIO, "%s: %s", path, strerror(errno));
    bool ok = write(fd, s->admin_token, 64) == 64 && fsync(fd) == 0;
    close(fd);
    if (!ok)
        return wk_diag_set(d, WK_EIO, "%s: write failed", path);
    wk_log(WK_LOG_INFO, "admin token created", "path=%s", path);
    return WK_OK;
}

static void serve__metrics_init(serve_metrics *m)
{
    m->frames = wk_metric_counter("wk_frames_total", "MQTT frames received from meters", NULL);
    m->frames_bad = wk_metric_counter("wk_frames_rejected_total",
                                      "frames that did not decode or named another meter", NULL);
    m->readings = wk_metric_counter("wk_readings_total", "register readings stored", NULL);
    m->duplicates = wk_metric_counter("wk_readings_duplicate_total",
                                      "redelivered readings (charged nothing)", NULL);
    m->stale = wk_metric_counter("wk_readings_stale_total",
                                 "reordered older readings (charged nothing)", NULL);
    m->deductions = wk_metric_counter("wk_deductions_total", "deductions booked", NULL);
    m->deducted_fen = wk_metric_counter("wk_deducted_fen_total", "money deducted, fen", NULL);
    m->warnings = wk_metric_counter("wk_warnings_total", "low-balance warnings decided", NULL);
    m->cmd_sent = wk_metric_counter("wk_commands_total", "relay commands by outcome",
                                    "outcome=\"sent\"");
    m->cmd_confirmed = wk_metric_counter("wk_commands_total", "relay commands by outcome",
                                         "outcome=\"confirmed\"");
    m->cmd_refused = wk_metric_counter("wk_commands_total", "relay commands by outcome",
                                       "outcome=\"refused\"");
    m->cmd_expired = wk_metric_counter("wk_commands_total", "relay commands by outcome",
                                       "outcome=\"expired\"");
    m->cmd_offline = wk_metric_counter("wk_commands_total", "relay commands by outcome",
                                       "outcome=\"offline\"");
    m->foreign = wk_metric_counter("wk_foreign_command_replies_total",
                                   "meter replies to commands the head-end did not send", NULL);
    m->polls = wk_metric_counter("wk_meter_polls_total", "reads sent to silent meters", NULL);
    m->batch_pending = wk_metric_gauge("wk_ingest_batch_pending",
                                       "frames in the open database transaction", NULL);
    m->broker_up = wk_metric_gauge("wk_broker_connected", "1 when connected to the broker", NULL);
    m->reconnects = wk_metric_counter("wk_broker_reconnects_total", "broker reconnections", NULL);
    m->credits = wk_metric_counter("wk_credits_total", "credits booked", NULL);
    m->loop_errors = wk_metric_counter("wk_loop_errors_total", "main loop steps that failed",
                                       NULL);
    m->credit_to_close = wk_metric_histogram(
        "wk_command_cause_to_confirm_seconds",
        "from the cause (credit, reading) to the meter's confirmation", "action=\"close\"",
        wk_metric_latency_ms, wk_metric_latency_ms_n);
    m->send_to_confirm = wk_metric_histogram("wk_command_send_to_confirm_seconds",
                                             "from the first send to the meter's confirmation",
                                             NULL, wk_metric_latency_ms, wk_metric_latency_ms_n);
}

static void serve__metrics_sync(wk_serve *s)
{
    wk_headend_stats st;
    wk_headend_stats_get(s->hd, &st);
    serve_metrics *m = &s->m;
#define D(metric, field) wk_metric_add(m->metric, st.field - m->last.field)
    D(frames, frames);
    D(frames_bad, frames_bad);
    D(readings, readings);
    D(duplicates, duplicates);
    D(stale, stale);
    D(deductions, deductions);
    D(deducted_fen, deducted_fen);
    D(warnings, warnings);
    D(cmd_sent, commands_sent);
    D(cmd_confirmed, commands_confirmed);
    D(cmd_refused, commands_refused);
    D(cmd_expired, commands_expired);
    D(cmd_offline, commands_offline);
    D(foreign, foreign_replies);
    D(polls, polls);
#undef D
    m->last = st;
    wk_metric_set(m->batch_pending, st.batch_pending);
    wk_metric_set(m->broker_up, s->mq && wk_mqtt_connected(s->mq));
    atomic_store(&s->broker_ok, s->mq && wk_mqtt_connected(s->mq));
}

static void serve__on_latency(void *ctx, const char *action, int64_t cause_ms, int64_t send_ms)
{
    wk_serve *s = ctx;
    if (strcmp(action, "trip"))
        wk_metric_observe_us(s->m.credit_to_close, cause_ms * 1000);
    wk_metric_observe_us(s->m.send_to_confirm, send_ms * 1000);
}

static void serve__on_event(void *ctx, const char *kind, const char *address, const char *detail)
{
    wk_serve *sv = ctx;
    wk_notify_kind nk;
    if (sv->notify && wk_notify_kind_of_event(kind, &nk))
        sv->notify_due = true; /* kicked after the commit, in the main loop */
    wk_log_level l = (!strcmp(kind, "refused") || !strcmp(kind, "foreign_command") ||
                      !strcmp(kind, "expired"))
                         ? WK_LOG_WARN
                         : WK_LOG_INFO;
    wk_log(l, kind, "meter=%s %s", address && *address ? address : "-", detail);
}

static wk_err serve__publish(void *ctx, const char *address, const uint8_t *frame, size_t len)
{
    wk_serve *s = ctx;
    char topic[64];
    snprintf(topic, sizeof topic, "wk/m/%s/down", address);
    return wk_mqtt_publish(s->mq, topic, frame, len);
}

static void serve__on_message(void *ctx, const char *topic, const uint8_t *payload, size_t len)
{
    wk_serve *s = ctx;
    char address[13];
    s->frames_seen++;
    if (!wk_mqtt_topic_address(topic, address))
        return;
    wk_diag d = {{0}};
    if (wk_headend_frame(s->hd, address, payload, len, serve__now_ms(), &d)) {
        atomic_store(&s->db_ok, 0);
        wk_metric_inc(s->m.loop_errors);
        wk_log(WK_LOG_ERROR, "ingest failed", "meter=%s error=%s", address,
               wk_log_quote(d.msg, (char[WK_DIAG_MAX + 8]){0}, WK_DIAG_MAX + 8));
    }
}

/* ---- requests from HTTP threads ---- */

wk_err wk_serve_submit(wk_serve *s, wk_serve_req *r, int timeout_ms)
{
    pthread_mutex_lock(&s->mu);
    if (atomic_load(&s->stopping)) {
        pthread_mutex_unlock(&s->mu);
        return WK_ECONFLICT;
    }
    r->done = false;
    r->next = s->queue_head;
    s->queue_head = r;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    int rc = 0;
    while (!r->done && rc == 0)
        rc = pthread_cond_timedwait(&s->cv, &s->mu, &until);
    bool done = r->done;
    if (!done) { /* withdraw it if the loop has not taken it */
        for (wk_serve_req **p = &s->queue_head; *p; p = &(*p)->next)
            if (*p == r) {
                *p = r->next;
                break;
            }
    }
    pthread_mutex_unlock(&s->mu);
    return done ? WK_OK : WK_ELIMIT;
}

static void serve__run_requests(wk_serve *s)
{
    pthread_mutex_lock(&s->mu);
    wk_serve_req *list = s->queue_head;
    s->queue_head = NULL;
    for (wk_serve_req *r = list; r; r = r->next) {
        r->result = WK_OK;
        r->diag.msg[0] = '\0';
        switch (r->kind) {
        case WK_SERVE_REQ_CREDIT:
            r->result = wk_headend_credit(s->hd, r->account_id, r->amount_fen, r->id, 0,
                                          r->reason, serve__now_ms(), &r->existed, &r->diag);
            if (!r->result && !r->existed)
                wk_metric_inc(s->m.credits);
            break;
        case WK_SERVE_REQ_CALL: {
            wk_serve_env env = {s->st, s->lg, s->hd, serve__now_ms()};
            r->result = r->fn ? r->fn(&env, r->ctx, &r->diag) : WK_EINVAL;
            break;
        }
        }
        r->done = true;
    }
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

int wk_serve_healthy(wk_serve *s, bool *db_ok, bool *broker_ok)
{
    *db_ok = atomic_load(&s->db_ok);
    *broker_ok = atomic_load(&s->broker_ok);
    return *db_ok && *broker_ok;
}

/* ---- main ---- */

static void serve__usage(FILE *f)
{
    fprintf(f, "usage: wattkeeper serve [--config FILE] [--print-config]\n\n"
               "Runs the platform: MQTT head-end, rating, ledger, HTTP (/healthz, /metrics,\n"
               "/api/v1). Every config key is in docs/config.md and can be overridden by\n"
               "an environment variable WK_<SECTION>_<KEY>. Stops cleanly on SIGTERM/SIGINT.\n");
}

static wk_err serve__policy(const wk_config *c, wk_policy *p, wk_diag *d)
{
    memset(p, 0, sizeof *p);
    p->warn_fen[0] = c->policy.warn1_fen;
    p->warn_fen[1] = c->policy.warn2_fen;
    p->warn_days[0] = (int32_t)c->policy.warn1_days;
    p->warn_days[1] = (int32_t)c->policy.warn2_days;
    p->hysteresis_fen = c->policy.hysteresis_fen;
    p->close_margin_fen = c->policy.close_margin_fen;
    p->emergency_fen = c->policy.emergency_credit_fen;
    p->friendly_from_min = (int32_t)c->policy.friendly_from_min;
    p->friendly_to_min = (int32_t)c->policy.friendly_to_min;
    p->friendly_weekends = c->policy.friendly_weekends;
    p->utc_offset_s = 8 * 3600;
    p->n_holidays = c->policy.holidays.n;
    memcpy(p->holidays, c->policy.holidays.days, sizeof p->holidays[0] * p->n_holidays);
    return wk_policy_validate(p, d);
}

/* Starts the notification worker on its own connection to the same database. */
static wk_err serve__notify_start(wk_serve *s, wk_diag *d)
{
    const wk_config *c = &s->cfg;
    if (strcmp(c->notify.sms_signature, "hmac-sha256") && strcmp(c->notify.sms_signature, "none"))
        return wk_diag_set(d, WK_EINVAL, "[notify] sms_signature: expected hmac-sha256 or none");
    wk_notify_opts o = {
        .templates_dir = c->notify.templates_dir,
        .poll_interval_ms = c->notify.poll_interval_ms,
        .max_attempts = (int32_t)c->notify.max_attempts,
        .retry_base_ms = c->notify.retry_base_ms,
        .retry_max_ms = c->notify.retry_max_ms,
        .rate_limit_per_hour = (int32_t)c->notify.rate_limit,
        .offline_alert_after_ms = c->notify.offline_alert_after_ms,
        .send_timeout_ms = c->notify.send_timeout_ms,
        .utc_offset_s = 8 * 3600, /* as the policy's */
        .webhook_secret = c->notify.webhook_secret,
        .smtp_url = c->notify.smtp_url,
        .smtp_username = c->notify.smtp_username,
        .smtp_password = c->notify.smtp_password,
        .smtp_from = c->notify.smtp_from,
        .smtp_ca_file = c->notify.smtp_ca_file,
        .smtp_starttls = c->notify.smtp_starttls,
        .sms_url = c->notify.sms_url,
        .sms_key_id = c->notify.sms_key_id,
        .sms_secret = c->notify.sms_secret,
        .sms_signature = c->notify.sms_signature,
        .wechat_base_url = c->notify.wechat_base_url,
        .wechat_appid = c->notify.wechat_appid,
        .wechat_secret = c->notify.wechat_secret,
    };
    wk_err e = wk_notify_worker_start(c->server.db, &o, &s->notify, d);
    if (!e)
        wk_log(WK_LOG_INFO, "notifications on", "templates=%s", WK_LOG_Q(o.templates_dir));
    return e;
}

int wk_cmd_serve(int argc, char **argv)
{
    const char *config_path = NULL;
    bool print_config = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < argc)
            config_path = argv[++i];
        else if (!strcmp(argv[i], "--print-config"))
            print_config = true;
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            serve__usage(stdout);
            return 0;
        } else {
            serve__usage(stderr);
            return 2;
        }
    }
    wk_serve *s = wk_calloc(1, sizeof *s);
    if (!s)
        return 1;
    int rc = 1;
    wk_diag d = {{0}};
    wk_pay_channels *pay = NULL;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    if (wk_config_load(config_path, &s->cfg, &d)) {
        fprintf(stderr, "wattkeeper serve: %s\n", d.msg);
        goto done;
    }
    if (print_config) {
        rc = wk_config_dump(&s->cfg, stdout) ? 1 : 0;
        goto done;
    }
    wk_log_set_clock(wk_logsink_now_ms);
    wk_log_set_sink(wk_logsink_stderr, NULL);
    wk_log_set_level(s->cfg.server.log_level);
    serve__metrics_init(&s->m);

    /* store and ledger (the log key is created at first start, mode 0600) */
    {
        char path[WK_APP_PATH_MAX];
        wk_note_signer signer;
        const char *key_file = s->cfg.ledger.key_file[0] ? s->cfg.ledger.key_file : NULL;
        if (!wk_app_db_open(s->cfg.server.db, &s->st))
            goto done;
        if (!wk_app_key_path(s->cfg.server.db, key_file, path, sizeof path) ||
            wk_ledger_key_load_or_create(path, s->cfg.ledger.log_name, &signer, NULL, &d)) {
            fprintf(stderr, "wattkeeper serve: log key: %s\n", d.msg[0] ? d.msg : "no path");
            goto done;
        }
        wk_ledger_opts lo = {.checkpoint_every_leaves = s->cfg.ledger.checkpoint_leaves,
                             .checkpoint_interval_s = s->cfg.ledger.checkpoint_interval_ms / 1000};
        if (wk_ledger_open(s->st, &lo, &signer, &s->lg, &d)) {
            fprintf(stderr, "wattkeeper serve: ledger: %s\n", d.msg);
            goto done;
        }
    }
    wk_headend_opts ho = {
        .tariff_dir = s->cfg.headend.tariff_dir,
        .report_interval_s = s->cfg.headend.report_interval_ms / 1000,
        .gap_intervals = (int32_t)s->cfg.headend.gap_intervals,
        .offline_after_s = s->cfg.headend.offline_after_ms / 1000,
        .command_deadline_s = s->cfg.headend.command_deadline_ms / 1000,
        .command_retries = (int32_t)s->cfg.headend.command_retries,
        .command_retry_base_ms = s->cfg.headend.command_retry_base_ms,
        .batch_max = (int32_t)s->cfg.headend.batch_max,
    };
    if (serve__policy(&s->cfg, &ho.policy, &d) ||
        wk_headend_open(s->st, s->lg, &ho, serve__publish, s, &s->hd, &d)) {
        fprintf(stderr, "wattkeeper serve: %s\n", d.msg);
        goto done;
    }
    wk_headend_on_event(s->hd, serve__on_event, s);
    wk_headend_on_latency(s->hd, serve__on_latency, s);
    { /* tariff files not yet in the database are copied in (docs/tariffs.md) */
        int added = 0, skipped = 0;
        if (wk_headend_tariffs_seed(s->hd, serve__now_ms(), &added, &skipped, &d))
            wk_log(WK_LOG_WARN, "tariff seed failed", "error=%s",
                   wk_log_quote(d.msg, (char[WK_DIAG_MAX + 8]){0}, WK_DIAG_MAX + 8));
        else if (added || skipped)
            wk_log(WK_LOG_INFO, "tariffs seeded", "added=%d skipped=%d", added, skipped);
    }
    int64_t swept = 0;
    if (wk_headend_sweep(s->hd, serve__now_ms(), &swept, &d)) {
        fprintf(stderr, "wattkeeper serve: start-up sweep: %s\n", d.msg);
        goto done;
    }
    atomic_store(&s->db_ok, 1);
    if (s->cfg.notify.enabled && serve__notify_start(s, &d)) {
        fprintf(stderr, "wattkeeper serve: notify: %s\n", d.msg);
        goto done;
    }

    /* MQTT */
    wk_mqtt_global_init();
    wk_mqtt_opts mo = {.host = s->cfg.mqtt.host,
                       .port = (int)s->cfg.mqtt.port,
                       .username = s->cfg.mqtt.username,
                       .password = s->cfg.mqtt.password,
                       .client_id = s->cfg.mqtt.client_id,
                       .keepalive_s = (int)(s->cfg.mqtt.keepalive_ms / 1000),
                       .max_inflight = (int)s->cfg.mqtt.max_inflight,
                       .reconnect_min_ms = s->cfg.mqtt.reconnect_min_ms,
                       .reconnect_max_ms = s->cfg.mqtt.reconnect_max_ms,
                       .subscribe = "wk/m/+/up"};
    if (wk_mqtt_open(&mo, serve__on_message, s, &s->mq, &d)) {
        fprintf(stderr, "wattkeeper serve: %s\n", d.msg);
        goto done;
    }
    /* HTTP */
    if (serve__admin_token(s, &d)) {
        fprintf(stderr, "wattkeeper serve: admin token: %s\n", d.msg);
        goto done;
    }
    if (wk_pay_channels_load(&s->cfg, &pay, &d)) {
        fprintf(stderr, "wattkeeper serve: %s\n", d.msg);
        goto done;
    }
    wk_serve_pay_set(pay);
    if (wk_serve_http_start(s, s->cfg.server.http_listen.host, (int)s->cfg.server.http_listen.port,
                            &s->http, &d)) {
        fprintf(stderr, "wattkeeper serve: http: %s\n", d.msg);
        goto done;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = serve__on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    wk_log(WK_LOG_INFO, "serving", "db=%s http_port=%d broker=%s:%lld", s->cfg.server.db,
           wk_http_port(s->http), s->cfg.mqtt.host, (long long)s->cfg.mqtt.port);
    printf("wattkeeper serve: http://%s:%d/ (pid %d)\n", s->cfg.server.http_listen.host,
           wk_http_port(s->http), (int)getpid());
    fflush(stdout);

    int64_t next_tick = 0;
    while (!serve_stop) {
        int64_t now = serve__now_ms();
        /* read everything the broker has for us (up to a batch), then commit once: one
         * fsync per batch instead of per frame */
        int64_t seen = s->frames_seen;
        wk_mqtt_loop(s->mq, 10, now);
        wk_headend_stats hs;
        for (int spins = 0; s->frames_seen != seen && spins < 4096; spins++) {
            wk_headend_stats_get(s->hd, &hs);
            if (hs.batch_pending >= s->cfg.headend.batch_max)
                break;
            seen = s->frames_seen;
            wk_mqtt_loop(s->mq, 0, now);
        }
        now = serve__now_ms();
        if (wk_headend_flush(s->hd, now, &d)) {
            atomic_store(&s->db_ok, 0);
            wk_metric_inc(s->m.loop_errors);
            wk_log(WK_LOG_ERROR, "commit failed", "error=\"%s\"", d.msg);
        } else {
            atomic_store(&s->db_ok, 1);
        }
        serve__run_requests(s);
        if (s->notify_due) {
            s->notify_due = false;
            wk_notify_worker_kick(s->notify);
        }
        if (now >= next_tick) {
            next_tick = now + 1000;
            if (wk_headend_tick(s->hd, now, &d)) {
                wk_metric_inc(s->m.loop_errors);
                wk_log(WK_LOG_ERROR, "timers failed", "error=\"%s\"", d.msg);
            }
            bool issued;
            if (wk_ledger_checkpoint_maybe(s->lg, &issued, &d))
                wk_log(WK_LOG_ERROR, "checkpoint failed", "error=\"%s\"", d.msg);
            wk_metric_add(s->m.reconnects, wk_mqtt_reconnects(s->mq) - wk_metric_value(s->m.reconnects));
        }
        serve__metrics_sync(s);
    }
    wk_log(WK_LOG_INFO, "stopping", "signal=1");
    rc = 0;
done:
    atomic_store(&s->stopping, 1);
    if (s->http)
        wk_http_stop(s->http);
    wk_serve_pay_set(NULL);
    wk_pay_channels_free(pay);
    serve__run_requests(s); /* answer anything still queued */
    if (s->hd && wk_headend_flush(s->hd, serve__now_ms(), &d))
        rc = 1;
    wk_notify_worker_stop(s->notify);
    wk_mqtt_close(s->mq);
    wk_headend_close(s->hd);
    wk_ledger_close(s->lg);
    wk_store_close(s->st);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    wk_free(s);
    return rc;
}
