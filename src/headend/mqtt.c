/*
 * mqtt.c - libmosquitto session for the head-end (see mqtt.h). Every option is set
 * explicitly (protocol version, inflight, keepalive); the library's own threads are not
 * used.
 */
#include "headend/mqtt.h"

#include <mosquitto.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "core/mem.h"

struct wk_mqtt {
    struct mosquitto *mosq;
    wk_mqtt_opts o;
    char host[256], user[256], pass[256], client_id[128], sub[128];
    wk_mqtt_msg_fn fn;
    void *ctx;
    bool connected;  /* CONNACK accepted */
    bool connecting; /* socket up, waiting for the CONNACK */
    bool need_backoff;
    int64_t connect_started_ms;
    int64_t next_try_ms;
    int64_t backoff_ms;
    int64_t reconnects;
    bool ever_connected;
};

void wk_mqtt_global_init(void)
{
    mosquitto_lib_init();
}

static void mq__on_connect(struct mosquitto *mosq, void *obj, int rc)
{
    wk_mqtt *m = obj;
    if (rc != 0) {
        wk_log(WK_LOG_WARN, "mqtt connect refused", "rc=%d reason=%s", rc,
               mosquitto_connack_string(rc));
        m->connecting = false;
        m->need_backoff = true; /* the loop waits before the next try */
        return;
    }
    m->connected = true;
    m->connecting = false;
    m->backoff_ms = m->o.reconnect_min_ms;
    if (m->sub[0]) {
        int mrc = mosquitto_subscribe(mosq, NULL, m->sub, 1);
        if (mrc != MOSQ_ERR_SUCCESS)
            wk_log(WK_LOG_ERROR, "mqtt subscribe failed", "topic=%s rc=%d", m->sub, mrc);
    }
    wk_log(WK_LOG_INFO, "mqtt connected", "host=%s port=%d client_id=%s", m->host, m->o.port,
           m->client_id);
}

static void mq__on_disconnect(struct mosquitto *mosq, void *obj, int rc)
{
    (void)mosq;
    wk_mqtt *m = obj;
    if (m->connected)
        wk_log(WK_LOG_WARN, "mqtt disconnected", "rc=%d", rc);
    m->connected = m->connecting = false;
    m->need_backoff = true;
}

static void mq__on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *msg)
{
    (void)mosq;
    wk_mqtt *m = obj;
    if (m->fn && msg->payloadlen >= 0)
        m->fn(m->ctx, msg->topic, msg->payload, (size_t)msg->payloadlen);
}

wk_err wk_mqtt_open(const wk_mqtt_opts *o, wk_mqtt_msg_fn fn, void *ctx, wk_mqtt **out, wk_diag *d)
{
    if (!o->host || !o->client_id || o->port <= 0 || o->port > 65535 || o->keepalive_s < 5 ||
        o->max_inflight < 1 || o->reconnect_min_ms < 1 || o->reconnect_max_ms < o->reconnect_min_ms)
        return wk_diag_set(d, WK_EINVAL, "mqtt: bad options (host, port, keepalive >= 5 s, "
                                         "inflight >= 1, reconnect delays)");
    wk_mqtt *m = wk_calloc(1, sizeof *m);
    if (!m)
        return wk_diag_set(d, WK_ENOMEM, "out of memory");
    m->o = *o;
    snprintf(m->host, sizeof m->host, "%s", o->host);
    snprintf(m->client_id, sizeof m->client_id, "%s", o->client_id);
    snprintf(m->user, sizeof m->user, "%s", o->username ? o->username : "");
    snprintf(m->pass, sizeof m->pass, "%s", o->password ? o->password : "");
    snprintf(m->sub, sizeof m->sub, "%s", o->subscribe ? o->subscribe : "");
    m->fn = fn;
    m->ctx = ctx;
    m->backoff_ms = o->reconnect_min_ms;
    /* persistent session: the broker keeps our subscription and QoS 1 messages while we
     * are away (restart, crash) */
    m->mosq = mosquitto_new(m->client_id, false, m);
    if (!m->mosq) {
        wk_free(m);
        return wk_diag_set(d, WK_ENOMEM, "mqtt: cannot create a client");
    }
    mosquitto_int_option(m->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    mosquitto_int_option(m->mosq, MOSQ_OPT_RECEIVE_MAXIMUM, o->max_inflight);
    mosquitto_int_option(m->mosq, MOSQ_OPT_SEND_MAXIMUM, o->max_inflight);
    mosquitto_max_inflight_messages_set(m->mosq, (unsigned)o->max_inflight);
    /* commands are small and latency-bound: no Nagle delay (with delayed ACKs it adds
     * ~40 ms to every command round trip) */
    mosquitto_int_option(m->mosq, MOSQ_OPT_TCP_NODELAY, 1);
    if (m->user[0] && mosquitto_username_pw_set(m->mosq, m->user, m->pass) != MOSQ_ERR_SUCCESS) {
        mosquitto_destroy(m->mosq);
        wk_free(m);
        return wk_diag_set(d, WK_EINVAL, "mqtt: bad username/password");
    }
    mosquitto_connect_callback_set(m->mosq, mq__on_connect);
    mosquitto_disconnect_callback_set(m->mosq, mq__on_disconnect);
    mosquitto_message_callback_set(m->mosq, mq__on_message);
    *out = m;
    return WK_OK;
}

void wk_mqtt_close(wk_mqtt *m)
{
    if (!m)
        return;
    if (m->connected) {
        mosquitto_disconnect(m->mosq);
        mosquitto_loop(m->mosq, 100, 1);
    }
    mosquitto_destroy(m->mosq);
    wk_free(m);
}

static void mq__backoff(wk_mqtt *m, int64_t now_ms)
{
    m->next_try_ms = now_ms + m->backoff_ms;
    m->backoff_ms = m->backoff_ms * 2 > m->o.reconnect_max_ms ? m->o.reconnect_max_ms
                                                              : m->backoff_ms * 2;
}

wk_err wk_mqtt_loop(wk_mqtt *m, int timeout_ms, int64_t now_ms)
{
    if (m->need_backoff) {
        m->need_backoff = false;
        mq__backoff(m, now_ms);
    }
    if (!m->connected && !m->connecting) {
        if (now_ms < m->next_try_ms)
            return WK_OK;
        int rc = m->ever_connected ? mosquitto_reconnect(m->mosq)
                                   : mosquitto_connect(m->mosq, m->host, m->o.port, m->o.keepalive_s);
        if (rc != MOSQ_ERR_SUCCESS) {
            wk_log(WK_LOG_WARN, "mqtt connect failed", "host=%s port=%d rc=%d retry_ms=%lld",
                   m->host, m->o.port, rc, (long long)m->backoff_ms);
            mq__backoff(m, now_ms);
            return WK_OK;
        }
        if (m->ever_connected)
            m->reconnects++;
        m->ever_connected = true;
        m->connecting = true; /* TCP is up; the CONNACK arrives through the loop */
        m->connect_started_ms = now_ms;
    }
    int rc = mosquitto_loop(m->mosq, timeout_ms, 1);
    if (rc != MOSQ_ERR_SUCCESS) {
        if (rc != MOSQ_ERR_NO_CONN && rc != MOSQ_ERR_CONN_LOST)
            wk_log(WK_LOG_WARN, "mqtt loop", "rc=%d", rc);
        m->connected = m->connecting = false;
        mq__backoff(m, now_ms);
    } else if (m->connecting && !m->connected && now_ms - m->connect_started_ms > 10000) {
        wk_log(WK_LOG_WARN, "mqtt: no CONNACK within 10 s", "host=%s port=%d", m->host, m->o.port);
        mosquitto_disconnect(m->mosq);
        m->connecting = false;
        mq__backoff(m, now_ms);
    }
    return WK_OK;
}

wk_err wk_mqtt_publish(wk_mqtt *m, const char *topic, const void *payload, size_t len)
{
    if (!m->connected)
        return WK_EIO;
    int rc = mosquitto_publish(m->mosq, NULL, topic, (int)len, payload, 1, false);
    if (rc != MOSQ_ERR_SUCCESS)
        return WK_EIO;
    /* send now rather than at the next loop: this is the credit -> close latency path */
    rc = mosquitto_loop_write(m->mosq, 1);
    return rc == MOSQ_ERR_SUCCESS || rc == MOSQ_ERR_NO_CONN ? WK_OK : WK_EIO;
}

bool wk_mqtt_connected(const wk_mqtt *m)
{
    return m->connected;
}

int64_t wk_mqtt_reconnects(const wk_mqtt *m)
{
    return m->reconnects;
}

bool wk_mqtt_topic_address(const char *topic, char address[13])
{
    if (strncmp(topic, "wk/m/", 5) || strlen(topic) != 5 + 12 + 3 || strcmp(topic + 17, "/up"))
        return false;
    for (int i = 0; i < 12; i++) {
        char c = topic[5 + i];
        if (c < '0' || c > '9')
            return false;
        address[i] = c;
    }
    address[12] = '\0';
    return true;
}
