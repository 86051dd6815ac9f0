/*
 * worker.c - the delivery thread: its own store connection (SQLite WAL lets it read and
 * write beside the main loop), the templates, the channels. Each round fans out new events
 * until none are left, then delivers what is due, then sleeps until kicked, stopped or
 * poll_interval passes. Stopping waits for the send in progress (bounded by
 * send_timeout) and leaves every unsent message pending in the database.
 */
#include <curl/curl.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/mem.h"
#include "notify/notify.h"

#define NW_STR 1024 /* bytes of each copied option string */

struct wk_notify_worker {
    wk_notify_opts o;
    char strs[18][NW_STR];
    wk_notify_templates *tpl;
    wk_store *st;
    wk_notify_sender *snd;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop, kicked, started;
};

static int64_t nw__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Copies *p into the worker's own buffer so the caller's strings may go away. */
static void nw__own(wk_notify_worker *w, size_t i, const char **p)
{
    const char *s = *p ? *p : "";
    size_t n = strlen(s);
    if (n >= NW_STR)
        n = NW_STR - 1;
    memcpy(w->strs[i], s, n);
    w->strs[i][n] = 0;
    *p = w->strs[i];
}

static void *nw__main(void *arg)
{
    wk_notify_worker *w = arg;
    wk_diag d = {{0}};
    pthread_mutex_lock(&w->mu);
    while (!w->stop) {
        w->kicked = false;
        pthread_mutex_unlock(&w->mu);
        int32_t n = 0;
        int rounds = 0;
        wk_err e;
        do {
            e = wk_notify_fanout(w->st, &w->o, w->tpl, nw__now_ms(), &n, &d);
        } while (!e && n == WK_NOTIFY_BATCH_MAX && ++rounds < 16);
        if (e)
            wk_log(WK_LOG_ERROR, "notify fan-out failed", "error=%s", WK_LOG_Q(d.msg));
        int32_t sent = 0;
        bool more = false;
        if (!e) {
            if ((e = wk_notify_deliver(w->st, &w->o, w->snd, nw__now_ms(), &sent, &d)))
                wk_log(WK_LOG_ERROR, "notify delivery failed", "error=%s", WK_LOG_Q(d.msg));
            more = sent > 0 || n > 0;
        }
        pthread_mutex_lock(&w->mu);
        if (w->stop || w->kicked || more)
            continue;
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        int64_t ns = until.tv_nsec + (w->o.poll_interval_ms % 1000) * 1000000;
        until.tv_sec += (time_t)(w->o.poll_interval_ms / 1000 + ns / 1000000000);
        until.tv_nsec = (long)(ns % 1000000000);
        pthread_cond_timedwait(&w->cv, &w->mu, &until);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

wk_err wk_notify_worker_start(const char *db_url, const wk_notify_opts *o, wk_notify_worker **out,
                              wk_diag *d)
{
    *out = NULL;
    /* explicitly, before the thread exists (libcurl's global state is set up once) */
    if (curl_global_init(CURL_GLOBAL_DEFAULT))
        return wk_diag_set(d, WK_EIO, "notify: curl_global_init failed");
    wk_notify_worker *w = wk_calloc(1, sizeof *w);
    if (!w) {
        curl_global_cleanup();
        return wk_diag_set(d, WK_ENOMEM, "notify: out of memory");
    }
    w->o = *o;
    const char **strs[] = {&w->o.templates_dir, &w->o.webhook_secret, &w->o.smtp_url,
                           &w->o.smtp_username, &w->o.smtp_password, &w->o.smtp_from,
                           &w->o.smtp_ca_file, &w->o.sms_url, &w->o.sms_key_id,
                           &w->o.sms_secret, &w->o.sms_signature, &w->o.wechat_base_url,
                           &w->o.wechat_appid, &w->o.wechat_secret};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        nw__own(w, i, strs[i]);
    wk_err e;
    w->tpl = wk_calloc(1, sizeof *w->tpl);
    if (!w->tpl) {
        e = wk_diag_set(d, WK_ENOMEM, "notify: out of memory");
        goto fail;
    }
    if ((e = wk_notify_templates_load(w->o.templates_dir, w->tpl, d)))
        goto fail;
    wk_store_opts so = {.busy_timeout_ms = 10000, .migrate = false, .create = false};
    if ((e = wk_store_open(db_url, &so, NULL, 0, &w->st, d)))
        goto fail;
    if ((e = wk_notify_sender_open(&w->o, &w->snd, d)))
        goto fail;
    wk_notify_metrics_init();
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if (pthread_create(&w->thread, NULL, nw__main, w)) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        e = wk_diag_set(d, WK_EIO, "notify: cannot start the worker thread");
        goto fail;
    }
    w->started = true;
    *out = w;
    return WK_OK;
fail:
    wk_notify_sender_close(w->snd);
    wk_store_close(w->st);
    wk_free(w->tpl);
    memset(w, 0, sizeof *w); /* held secrets */
    wk_free(w);
    curl_global_cleanup();
    return e;
}

void wk_notify_worker_kick(wk_notify_worker *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->kicked = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

void wk_notify_worker_stop(wk_notify_worker *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    wk_notify_sender_close(w->snd);
    wk_store_close(w->st);
    wk_free(w->tpl);
    memset(w, 0, sizeof *w);
    wk_free(w);
    curl_global_cleanup();
}
