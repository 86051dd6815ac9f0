/*
 * fleet.c - the simulated meter fleet on MQTT (see fleet.h). Owns every libmosquitto
 * client it creates and destroys them all before wk_sim_run returns. One thread, one
 * poll() loop: connection set-up is spread over loop turns, reads/writes are driven by
 * socket readiness, keepalives by mosquitto_loop_misc. Simulated time only moves the
 * meter cores; MQTT keepalive and reconnect backoff run on wall time.
 */
#include "sim/fleet.h"

#include <errno.h>
#include <mosquitto.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "core/mem.h"
#include "meter/meter.h"
#include "proto/dlt645.h"
#include "proto/sha256.h"
#include "sim/profile.h"

#define DELAY_QUEUE_MAX 4096
#define TOPIC_MAX 32

typedef struct sim_meter {
    wk_meter core;
    wk_sim_profile prof;
    wk_rng rng;
    uint32_t client;
    int32_t skew_s;
    int64_t next_step_s;
    int64_t button_at_s; /* -1: not pressing */
    uint16_t held_len;   /* a frame held back for reordering */
    uint8_t held[WK_DLT645_WIRE_MAX];
    char addr[13];
} sim_meter;

typedef struct sim_fleet sim_fleet;

typedef struct sim_client {
    struct mosquitto *mosq;
    sim_fleet *fleet;
    uint32_t first, count;
    bool connected, ever_connected;
    bool refused; /* a connection attempt failed (refused credentials, no broker) */
    int64_t retry_wall_ms;
    uint32_t backoff_ms;
    char user[24];
    char password[65]; /* from the credentials file; empty = derived */
} sim_client;

typedef struct delayed_frame {
    int64_t due_s;
    uint32_t meter;
    uint16_t len;
    uint8_t buf[WK_DLT645_WIRE_MAX];
} delayed_frame;

struct sim_fleet {
    const wk_sim_options *o;
    sim_meter *m;
    sim_client *c;
    uint32_t nclients;
    delayed_frame *dq;
    uint32_t dq_n;
    int64_t sim_now_ms;
    wk_rng rng;
    wk_sim_summary *sum;
    FILE *log;
};

void wk_sim_options_default(wk_sim_options *o)
{
    memset(o, 0, sizeof *o);
    o->host = "127.0.0.1";
    o->port = 1883;
    o->meters = 10;
    o->speed = 1;
    o->seed = 1;
    o->interval_s = 60;
    o->step_s = 10;
    o->start_unix_s = (int64_t)time(NULL);
    o->first_address = 240000000001u;
    o->master_key = "wattkeeper-demo";
    o->vacant_pct = 10;
    o->shop_pct = 15;
    o->anomalous_pct = 3;
    o->delay_max_s = 120;
    o->button_max_s = 120;
    o->keepalive_s = 60;
    o->connect_per_tick = 200;
}

void wk_sim_mqtt_password(const char *master, const char *username, char out[33])
{
    static const char label[10] = {'W', 'K', '6', '4', '5', '-', 'M', 'Q', 'T', 'T'};
    static const char hex[] = "0123456789abcdef";
    uint8_t mac[WK_SHA256_LEN];
    wk_hmac_sha256((const uint8_t *)master, strlen(master), label, sizeof label, username,
                   strlen(username), mac);
    for (int i = 0; i < 16; i++) {
        out[2 * i] = hex[mac[i] >> 4];
        out[2 * i + 1] = hex[mac[i] & 15];
    }
    out[32] = '\0';
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t rtc_ms(const sim_fleet *f, const sim_meter *m)
{
    return f->sim_now_ms + (int64_t)m->skew_s * 1000;
}

/* ---- uplink with fault injection ---- */

static void publish_raw(sim_fleet *f, uint32_t mi, const uint8_t *buf, size_t len)
{
    sim_meter *m = &f->m[mi];
    sim_client *c = &f->c[m->client];
    char topic[TOPIC_MAX];
    snprintf(topic, sizeof topic, "wk/m/%s/up", m->addr);
    int rc = mosquitto_publish(c->mosq, NULL, topic, (int)len, buf, 1, false);
    /* QoS 1 while disconnected: libmosquitto keeps the message in its queue, returns
     * NO_CONN, and sends it after the reconnect (like a meter's modem buffer) */
    if (rc == MOSQ_ERR_SUCCESS || rc == MOSQ_ERR_NO_CONN)
        f->sum->frames_out++;
    if (rc == MOSQ_ERR_NO_CONN)
        f->sum->queued_offline++;
    else if (rc != MOSQ_ERR_SUCCESS)
        f->sum->publish_failed++;
}

static void uplink(sim_fleet *f, uint32_t mi, const wk_dlt645_frame *fr)
{
    const wk_sim_options *o = f->o;
    sim_meter *m = &f->m[mi];
    uint8_t buf[WK_DLT645_WIRE_MAX];
    size_t len = 0;
    if (wk_dlt645_encode(fr, 0, buf, sizeof buf, &len) != WK_OK)
        return; /* cannot happen: the core builds frames within bounds */
    if (o->drop_ppm && wk_rng_chance_ppm(&f->rng, o->drop_ppm)) {
        f->sum->dropped++;
        return;
    }
    if (o->delay_ppm && f->dq_n < DELAY_QUEUE_MAX && wk_rng_chance_ppm(&f->rng, o->delay_ppm)) {
        delayed_frame *d = &f->dq[f->dq_n++];
        d->due_s = f->sim_now_ms / 1000 + 1 + wk_rng_below(&f->rng, o->delay_max_s + 1);
        d->meter = mi;
        d->len = (uint16_t)len;
        memcpy(d->buf, buf, len);
        f->sum->delayed++;
        return;
    }
    if (o->reorder_ppm && m->held_len == 0 && wk_rng_chance_ppm(&f->rng, o->reorder_ppm)) {
        memcpy(m->held, buf, len);
        m->held_len = (uint16_t)len;
        f->sum->reordered++;
        return;
    }
    publish_raw(f, mi, buf, len);
    if (o->dup_ppm && wk_rng_chance_ppm(&f->rng, o->dup_ppm)) {
        publish_raw(f, mi, buf, len);
        f->sum->duplicated++;
    }
    if (m->held_len) { /* the held frame goes out after a newer one */
        publish_raw(f, mi, m->held, m->held_len);
        m->held_len = 0;
    }
}

static void drain_meter(sim_fleet *f, uint32_t mi)
{
    wk_dlt645_frame out;
    while (wk_meter_poll(&f->m[mi].core, &out)) {
        uint32_t di = out.len >= 4 ? wk_dlt645_di_get(out.data) : 0;
        if (di == WK_DI_FWD_BLOCK)
            f->sum->reports++;
        else if (di == WK_DI_STATUS3)
            f->sum->status_frames++;
        else if (di == WK_DI_EVENT) {
            f->sum->events++;
            uint8_t code = out.data[4];
            if (code < 8 && out.data[5] == 1)
                f->sum->events_by_code[code]++;
        }
        uplink(f, mi, &out);
    }
}

/* ---- callbacks ---- */

static void on_connect(struct mosquitto *mosq, void *obj, int rc)
{
    sim_client *c = obj;
    if (rc != 0) {
        c->fleet->sum->connect_fail++;
        c->refused = true;
        if (c->fleet->log && c->fleet->o->verbose)
            fprintf(c->fleet->log, "sim: %s refused: %s\n", c->user,
                    mosquitto_connack_string(rc));
        return;
    }
    if (c->ever_connected)
        c->fleet->sum->reconnects++;
    c->connected = c->ever_connected = true;
    c->backoff_ms = 500;
    for (uint32_t i = 0; i < c->count; i++) {
        char topic[TOPIC_MAX];
        snprintf(topic, sizeof topic, "wk/m/%s/down", c->fleet->m[c->first + i].addr);
        if (mosquitto_subscribe(mosq, NULL, topic, 1) != MOSQ_ERR_SUCCESS)
            c->fleet->sum->connect_fail++;
    }
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc)
{
    (void)mosq;
    sim_client *c = obj;
    c->connected = false;
    c->retry_wall_ms = wall_ms() + c->backoff_ms;
    if (c->backoff_ms < 8000)
        c->backoff_ms *= 2;
    (void)rc;
}

static void on_publish(struct mosquitto *mosq, void *obj, int mid)
{
    (void)mosq;
    (void)mid;
    sim_client *c = obj;
    c->fleet->sum->publish_acked++;
}

static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *msg)
{
    (void)mosq;
    sim_client *c = obj;
    sim_fleet *f = c->fleet;
    f->sum->frames_in++;
    /* wk/m/<12 digits>/down */
    const char *t = msg->topic;
    if (strncmp(t, "wk/m/", 5) != 0 || strlen(t) != 5 + 12 + 5)
        return;
    uint64_t a = 0;
    for (int i = 0; i < 12; i++) {
        char ch = t[5 + i];
        if (ch < '0' || ch > '9')
            return;
        a = a * 10 + (uint64_t)(ch - '0');
    }
    if (a < f->o->first_address || a - f->o->first_address >= c->first + c->count ||
        a - f->o->first_address < c->first)
        return;
    uint32_t mi = (uint32_t)(a - f->o->first_address);
    sim_meter *m = &f->m[mi];
    wk_dlt645_frame reply;
    bool has = false;
    wk_dlt645_reason why;
    if (msg->payloadlen < 0)
        return;
    (void)wk_meter_receive(&m->core, rtc_ms(f, m), msg->payload, (size_t)msg->payloadlen, &reply,
                           &has, &why);
    if (has) {
        f->sum->replies++;
        uplink(f, mi, &reply);
    }
    drain_meter(f, mi);
}

/* ---- set-up ---- */

/* Client index of a username, or -1 if it is not one of this fleet's. */
static long client_of(const wk_sim_options *o, uint32_t nclients, const char *user, size_t n)
{
    uint64_t v = 0;
    size_t i = 0;
    bool gw = n > 2 && user[0] == 'g' && user[1] == 'w';
    if (gw)
        i = 2;
    if (i == n || n - i > 12)
        return -1;
    for (; i < n; i++) {
        if (user[i] < '0' || user[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(user[i] - '0');
    }
    if (gw != (o->gateway != 0))
        return -1;
    if (!gw) {
        if (v < o->first_address)
            return -1;
        v -= o->first_address;
    }
    return v < nclients ? (long)v : -1;
}

/* Reads "username:password" lines (# comments and blank lines allowed) into the clients
 * they name. Lines for other users are ignored. WK_EIO if the file cannot be read,
 * WK_EINVAL for a malformed line or a password over 64 bytes. */
static wk_err load_credentials(sim_fleet *f, const char *path)
{
    FILE *in = fopen(path, "r");
    if (!in) {
        if (f->log)
            fprintf(f->log, "sim: cannot open %s: %s\n", path, strerror(errno));
        return WK_EIO;
    }
    char line[256];
    unsigned lineno = 0;
    wk_err err = WK_OK;
    while (fgets(line, sizeof line, in)) {
        lineno++;
        size_t n = strcspn(line, "\r\n");
        line[n] = '\0';
        if (n == 0 || line[0] == '#')
            continue;
        char *colon = strchr(line, ':');
        size_t plen = colon ? strlen(colon + 1) : 0;
        if (!colon || colon == line || plen == 0 || plen > 64) {
            if (f->log)
                fprintf(f->log, "sim: %s:%u: want username:password (password 1..64 bytes)\n",
                        path, lineno);
            err = WK_EINVAL;
            break;
        }
        long k = client_of(f->o, f->nclients, line, (size_t)(colon - line));
        if (k >= 0)
            memcpy(f->c[k].password, colon + 1, plen + 1);
    }
    if (ferror(in))
        err = WK_EIO;
    fclose(in);
    return err;
}

static void client_user(const wk_sim_options *o, uint32_t k, char out[24])
{
    if (o->gateway)
        snprintf(out, 24, "gw%05u", k);
    else
        snprintf(out, 24, "%012llu", (unsigned long long)(o->first_address + k));
}

wk_err wk_sim_write_credentials(const wk_sim_options *o, FILE *out)
{
    uint32_t nclients = o->gateway ? (o->meters + o->gateway - 1) / o->gateway : o->meters;
    for (uint32_t k = 0; k < nclients; k++) {
        char user[24], pw[33];
        client_user(o, k, user);
        wk_sim_mqtt_password(o->master_key, user, pw);
        if (fprintf(out, "%s:%s\n", user, pw) < 0)
            return WK_EIO;
    }
    return fflush(out) == 0 ? WK_OK : WK_EIO;
}

static wk_err fleet_init(sim_fleet *f, const wk_sim_options *o, wk_sim_summary *sum, FILE *log)
{
    memset(f, 0, sizeof *f);
    f->o = o;
    f->sum = sum;
    f->log = log;
    wk_rng_seed(&f->rng, o->seed);
    f->m = wk_calloc(o->meters, sizeof *f->m);
    f->nclients = o->gateway ? (o->meters + o->gateway - 1) / o->gateway : o->meters;
    f->c = wk_calloc(f->nclients, sizeof *f->c);
    f->dq = (o->delay_ppm) ? wk_calloc(DELAY_QUEUE_MAX, sizeof *f->dq) : NULL;
    if (!f->m || !f->c || (o->delay_ppm && !f->dq))
        return WK_ENOMEM;
    f->sim_now_ms = o->start_unix_s * 1000;
    int64_t first_step = (o->start_unix_s / o->step_s + 1) * o->step_s;

    for (uint32_t i = 0; i < o->meters; i++) {
        sim_meter *m = &f->m[i];
        uint64_t a = o->first_address + i;
        for (int k = 11; k >= 0; k--) {
            m->addr[k] = (char)('0' + a % 10);
            a /= 10;
        }
        m->addr[12] = '\0';
        uint8_t addr[6], key[32];
        if (wk_dlt645_addr_parse(m->addr, addr) != WK_OK)
            return WK_EINVAL;
        wk_dlt645_key_derive((const uint8_t *)o->master_key, strlen(o->master_key), addr, key);
        wk_meter_config cfg;
        wk_meter_config_default(&cfg, addr, key, sizeof key);
        cfg.report_interval_s = o->interval_s;
        wk_rng_seed(&m->rng, o->seed * 1000003u + i);
        wk_sim_profile_init(&m->prof, &m->rng, o->vacant_pct, o->shop_pct, o->anomalous_pct);
        m->skew_s = o->skew_max_s ? (int32_t)wk_rng_below(&m->rng, 2 * o->skew_max_s + 1) -
                                        (int32_t)o->skew_max_s
                                  : 0;
        wk_meter_inputs in = {0, 2200, true, false, false, false};
        if (wk_meter_init(&m->core, &cfg, rtc_ms(f, m), &in) != WK_OK)
            return WK_EINVAL;
        m->next_step_s = first_step;
        m->button_at_s = -1;
        m->client = o->gateway ? i / o->gateway : i;
    }
    if (o->credentials_file) {
        wk_err e = load_credentials(f, o->credentials_file);
        if (e != WK_OK)
            return e;
    }
    for (uint32_t k = 0; k < f->nclients; k++) {
        sim_client *c = &f->c[k];
        c->fleet = f;
        c->first = o->gateway ? k * o->gateway : k;
        c->count = o->gateway ? (o->meters - c->first < o->gateway ? o->meters - c->first
                                                                   : o->gateway)
                              : 1;
        char id[48];
        client_user(o, k, c->user);
        snprintf(id, sizeof id, "wk-sim-%s", c->user);
        c->mosq = mosquitto_new(id, true, c);
        if (!c->mosq)
            return WK_ENOMEM;
        char pw[33];
        wk_sim_mqtt_password(o->master_key, c->user, pw);
        if (mosquitto_username_pw_set(c->mosq, c->user, c->password[0] ? c->password : pw) !=
                MOSQ_ERR_SUCCESS ||
            mosquitto_int_option(c->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311) !=
                MOSQ_ERR_SUCCESS ||
            mosquitto_max_inflight_messages_set(c->mosq, 20) != MOSQ_ERR_SUCCESS ||
            mosquitto_int_option(c->mosq, MOSQ_OPT_TCP_NODELAY, 1) != MOSQ_ERR_SUCCESS)
            return WK_EINVAL;
        mosquitto_connect_callback_set(c->mosq, on_connect);
        mosquitto_disconnect_callback_set(c->mosq, on_disconnect);
        mosquitto_publish_callback_set(c->mosq, on_publish);
        mosquitto_message_callback_set(c->mosq, on_message);
        c->backoff_ms = 500;
    }
    return WK_OK;
}

static void fleet_free(sim_fleet *f)
{
    if (f->c)
        for (uint32_t k = 0; k < f->nclients; k++)
            if (f->c[k].mosq)
                mosquitto_destroy(f->c[k].mosq);
    wk_free(f->c);
    wk_free(f->m);
    wk_free(f->dq);
}

/* Starts connections that are due, at most connect_per_tick per call. */
static void connect_some(sim_fleet *f, int64_t now_wall)
{
    uint32_t started = 0;
    for (uint32_t k = 0; k < f->nclients && started < f->o->connect_per_tick; k++) {
        sim_client *c = &f->c[k];
        if (c->connected || mosquitto_socket(c->mosq) >= 0 || now_wall < c->retry_wall_ms)
            continue;
        started++;
        int rc = c->ever_connected ? mosquitto_reconnect(c->mosq)
                                   : mosquitto_connect(c->mosq, f->o->host, f->o->port,
                                                       (int)f->o->keepalive_s);
        if (rc != MOSQ_ERR_SUCCESS) {
            c->refused = true;
            if (f->log && f->o->verbose && f->sum->connect_fail < 3)
                fprintf(f->log, "sim: connect %s: %s\n", c->user,
                        rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
            f->sum->connect_fail++;
            c->retry_wall_ms = now_wall + c->backoff_ms;
            if (c->backoff_ms < 8000)
                c->backoff_ms *= 2;
        }
    }
}

/* One poll() over every open socket, then read/write what is ready. */
static void service(sim_fleet *f, struct pollfd *pfd, uint32_t *owner, int timeout_ms)
{
    uint32_t n = 0;
    for (uint32_t k = 0; k < f->nclients; k++) {
        int s = mosquitto_socket(f->c[k].mosq);
        if (s < 0)
            continue;
        pfd[n].fd = s;
        pfd[n].events = (short)(POLLIN | (mosquitto_want_write(f->c[k].mosq) ? POLLOUT : 0));
        pfd[n].revents = 0;
        owner[n++] = k;
    }
    int r = poll(pfd, n, timeout_ms);
    if (r <= 0)
        return;
    for (uint32_t i = 0; i < n; i++) {
        struct mosquitto *mosq = f->c[owner[i]].mosq;
        if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
            mosquitto_loop_read(mosq, 1);
        if ((pfd[i].revents & POLLOUT) && mosquitto_socket(mosq) >= 0)
            mosquitto_loop_write(mosq, 1);
    }
}

static void misc_all(sim_fleet *f)
{
    for (uint32_t k = 0; k < f->nclients; k++)
        if (mosquitto_socket(f->c[k].mosq) >= 0)
            mosquitto_loop_misc(f->c[k].mosq);
}

/* Steps every meter whose next step is due at simulated time up to sim_s. Returns the
 * earliest next step (simulated seconds). */
static int64_t step_meters(sim_fleet *f, int64_t sim_s)
{
    int64_t next = INT64_MAX;
    const wk_sim_options *o = f->o;
    int64_t saved = f->sim_now_ms;
    for (uint32_t i = 0; i < o->meters; i++) {
        sim_meter *m = &f->m[i];
        while (m->next_step_s <= sim_s) {
            int64_t t = m->next_step_s;
            f->sim_now_ms = t * 1000;
            wk_meter_inputs in = {0, (uint16_t)(2150 + wk_rng_below(&m->rng, 150)), true, false,
                                  false, false};
            bool open = wk_meter_relay_open(&m->core);
            wk_sim_profile_step(&m->prof, &m->rng, t + m->core.cfg.utc_offset_s, o->step_s, open,
                                &in.power_w, &in.cover_open, &in.magnet);
            if (m->core.relay == WK_METER_RELAY_CLOSE_PERMITTED) {
                if (m->button_at_s < 0) {
                    m->button_at_s = t + 5 + wk_rng_below(&m->rng, o->button_max_s + 1);
                } else if (t >= m->button_at_s) {
                    if (t < m->button_at_s + (int64_t)o->step_s)
                        f->sum->button_presses++;
                    in.button = true;
                }
            } else {
                m->button_at_s = -1;
            }
            wk_meter_step(&m->core, rtc_ms(f, m), &in);
            f->sum->steps++;
            drain_meter(f, i);
            m->next_step_s += o->step_s;
        }
        if (m->next_step_s < next)
            next = m->next_step_s;
    }
    f->sim_now_ms = saved;
    return next;
}

static void release_delayed(sim_fleet *f, bool all)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < f->dq_n; i++) {
        delayed_frame *d = &f->dq[i];
        if (all || d->due_s <= f->sim_now_ms / 1000)
            publish_raw(f, d->meter, d->buf, d->len);
        else
            f->dq[k++] = *d;
    }
    f->dq_n = k;
}

/* Each libmosquitto client holds 3 descriptors (its socket and an internal socketpair),
 * so a fleet needs 3 per client. Raises the soft limit as far as the hard one allows;
 * WK_ELIMIT if that is not enough. */
static wk_err raise_fd_limit(uint32_t clients, FILE *log)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return WK_OK;
    rlim_t need = (rlim_t)clients * 3 + 64;
    if (rl.rlim_cur >= need)
        return WK_OK;
    rl.rlim_cur = need < rl.rlim_max ? need : rl.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur >= need)
        return WK_OK;
    if (log)
        fprintf(log,
                "sim: %u MQTT clients need %llu file descriptors, the hard limit is %llu; "
                "use --gateway to multiplex meters over fewer connections\n",
                clients, (unsigned long long)need, (unsigned long long)rl.rlim_max);
    return WK_ELIMIT;
}

wk_err wk_sim_run(const wk_sim_options *o, volatile sig_atomic_t *stop, wk_sim_summary *sum,
                  FILE *log)
{
    if (o->meters == 0 || o->meters > WK_SIM_METERS_MAX || o->speed == 0 || o->step_s == 0 ||
        o->port <= 0 || o->port > 65535 || o->first_address + o->meters > 999999999999u ||
        !o->master_key[0])
        return WK_EINVAL;
    memset(sum, 0, sizeof *sum);
    sim_fleet f;
    struct pollfd *pfd = NULL;
    uint32_t *owner = NULL;
    memset(&f, 0, sizeof f);
    uint32_t nclients = o->gateway ? (o->meters + o->gateway - 1) / o->gateway : o->meters;
    wk_err err = raise_fd_limit(nclients, log);
    if (err)
        return err;
    err = fleet_init(&f, o, sum, log);
    if (err)
        goto fail;
    sum->clients = f.nclients;
    pfd = wk_calloc(f.nclients, sizeof *pfd);
    owner = wk_calloc(f.nclients, sizeof *owner);
    if (!pfd || !owner) {
        err = WK_ENOMEM;
        goto fail;
    }

    /* connect everybody before simulated time starts (bounded: 30 s of wall time) */
    int64_t w0 = wall_ms();
    uint32_t up = 0;
    while (!*stop && wall_ms() - w0 < 30000) {
        connect_some(&f, wall_ms());
        service(&f, pfd, owner, 5);
        up = 0;
        uint32_t refused = 0;
        for (uint32_t k = 0; k < f.nclients; k++) {
            up += f.c[k].connected;
            refused += !f.c[k].connected && f.c[k].refused;
        }
        if (up + refused == f.nclients) /* all tried once; refused ones keep retrying */
            break;
    }
    if (up == 0) {
        err = WK_EIO;
        goto fail;
    }
    sum->connected_max = up;
    if (log && o->verbose)
        fprintf(log, "sim: %u/%u clients connected in %lld ms\n", up, f.nclients,
                (long long)(wall_ms() - w0));

    int64_t wall0 = wall_ms(), last_misc = wall0, last_log = wall0;
    int64_t start_ms = o->start_unix_s * 1000;
    int64_t end_ms = o->duration_s ? start_ms + (int64_t)o->duration_s * 1000 : INT64_MAX;
    int64_t next_disconnect_s =
        o->disconnect_every_s ? o->start_unix_s + o->disconnect_every_s : INT64_MAX;
    while (!*stop) {
        int64_t now_wall = wall_ms();
        int64_t sim_ms = start_ms + (now_wall - wall0) * (int64_t)o->speed;
        if (sim_ms > end_ms)
            sim_ms = end_ms;
        f.sim_now_ms = sim_ms;
        int64_t next_s = step_meters(&f, sim_ms / 1000);
        f.sim_now_ms = sim_ms;
        if (f.dq_n)
            release_delayed(&f, false);
        while (sim_ms / 1000 >= next_disconnect_s) {
            sim_client *c = &f.c[wk_rng_below(&f.rng, f.nclients)];
            if (c->connected) {
                mosquitto_disconnect(c->mosq);
                sum->disconnects++;
            }
            next_disconnect_s += o->disconnect_every_s;
        }
        connect_some(&f, now_wall);
        /* sleep in poll() until the next meter step is due (at most 50 ms, so keepalives,
         * reconnects and delayed frames stay timely); the poll set is rebuilt each turn,
         * so fewer turns is what keeps thousands of idle connections cheap */
        int64_t wait_ms = next_s == INT64_MAX ? 50 : (next_s * 1000 - sim_ms) / (int64_t)o->speed;
        if (wait_ms < 1)
            wait_ms = 1;
        if (wait_ms > 50)
            wait_ms = 50;
        for (uint32_t k = 0; k < f.nclients && wait_ms > 5; k++)
            if (!f.c[k].connected)
                wait_ms = 5; /* connections in progress */
        service(&f, pfd, owner, (int)wait_ms);
        if (now_wall - last_misc >= 250) {
            misc_all(&f);
            last_misc = now_wall;
        }
        if (log && o->verbose && now_wall - last_log >= 5000) {
            fprintf(log, "sim: t=+%llds out=%llu in=%llu acked=%llu\n",
                    (long long)((sim_ms - start_ms) / 1000), (unsigned long long)sum->frames_out,
                    (unsigned long long)sum->frames_in, (unsigned long long)sum->publish_acked);
            last_log = now_wall;
        }
        if (sim_ms >= end_ms)
            break;
    }
    sum->sim_elapsed_s = (f.sim_now_ms - start_ms) / 1000;

    /* flush held and delayed frames, then wait (bounded) for the broker's PUBACKs */
    for (uint32_t i = 0; i < o->meters; i++)
        if (f.m[i].held_len) {
            publish_raw(&f, i, f.m[i].held, f.m[i].held_len);
            f.m[i].held_len = 0;
        }
    if (f.dq_n)
        release_delayed(&f, true);
    int64_t wflush = wall_ms();
    while (sum->publish_acked < sum->frames_out && wall_ms() - wflush < 5000) {
        service(&f, pfd, owner, 5);
        misc_all(&f);
    }
    sum->wall_s = (double)(wall_ms() - wall0) / 1000.0;
    for (uint32_t i = 0; i < o->meters; i++) {
        const wk_meter_stats *s = &f.m[i].core.stats;
        sum->commands_ok += s->commands_ok;
        sum->commands_rejected += s->commands_rejected;
        sum->frames_bad += s->frames_bad;
        sum->frames_ignored += s->frames_ignored;
    }
    for (uint32_t k = 0; k < f.nclients; k++)
        if (f.c[k].connected)
            mosquitto_disconnect(f.c[k].mosq);
    service(&f, pfd, owner, 0);
    err = WK_OK;
fail:
    wk_free(owner);
    wk_free(pfd);
    fleet_free(&f);
    return err;
}

void wk_sim_summary_print(const wk_sim_summary *s, FILE *f)
{
    static const char *const names[8] = {"", "outage", "cover", "magnet", "bypass", "overload",
                                         "reverse", ""};
    fprintf(f,
            "clients=%u connected=%u sim_seconds=%lld wall_seconds=%.2f steps=%llu\n"
            "frames_out=%llu acked=%llu frames_in=%llu replies=%llu reports=%llu "
            "status_frames=%llu events=%llu\n"
            "commands_executed=%llu commands_rejected=%llu frames_bad=%llu frames_ignored=%llu "
            "button_presses=%llu\n"
            "faults: dropped=%llu duplicated=%llu delayed=%llu reordered=%llu disconnects=%llu "
            "reconnects=%llu connect_failures=%llu queued_offline=%llu publish_failed=%llu\n"
            "anomalies:",
            s->clients, s->connected_max, (long long)s->sim_elapsed_s, s->wall_s,
            (unsigned long long)s->steps, (unsigned long long)s->frames_out,
            (unsigned long long)s->publish_acked, (unsigned long long)s->frames_in,
            (unsigned long long)s->replies, (unsigned long long)s->reports,
            (unsigned long long)s->status_frames, (unsigned long long)s->events,
            (unsigned long long)s->commands_ok, (unsigned long long)s->commands_rejected,
            (unsigned long long)s->frames_bad, (unsigned long long)s->frames_ignored,
            (unsigned long long)s->button_presses, (unsigned long long)s->dropped,
            (unsigned long long)s->duplicated, (unsigned long long)s->delayed,
            (unsigned long long)s->reordered, (unsigned long long)s->disconnects,
            (unsigned long long)s->reconnects, (unsigned long long)s->connect_fail,
            (unsigned long long)s->queued_offline, (unsigned long long)s->publish_failed);
    for (int i = 1; i < 7; i++)
        fprintf(f, " %s=%llu", names[i], (unsigned long long)s->events_by_code[i]);
    fprintf(f, "\n");
}
