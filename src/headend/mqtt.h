/*
 * mqtt.h - the head-end's MQTT session (libmosquitto): one persistent session (clean
 * session off, fixed client id) subscribed to wk/m/+/up at QoS 1, publishing commands to
 * wk/m/<address>/down at QoS 1, reconnecting with exponential backoff. Driven from the
 * caller's loop (wk_mqtt_loop), never from a thread of its own, so the message callback
 * runs on the caller's thread and may use its database connection.
 */
#ifndef WK_HEADEND_MQTT_H
#define WK_HEADEND_MQTT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

typedef struct wk_mqtt_opts {
    const char *host;
    int port;
    const char *username; /* NULL or "" = anonymous */
    const char *password;
    const char *client_id;
    int keepalive_s;
    int max_inflight;
    int64_t reconnect_min_ms;
    int64_t reconnect_max_ms;
    const char *subscribe; /* topic filter, e.g. "wk/m/+/up"; NULL = none */
} wk_mqtt_opts;

typedef struct wk_mqtt wk_mqtt;
typedef void (*wk_mqtt_msg_fn)(void *ctx, const char *topic, const uint8_t *payload, size_t len);

/* Creates the client and starts connecting (a broker that is down is retried by
 * wk_mqtt_loop). Call mosquitto_lib_init() once per process first (wk_mqtt_global_init). */
wk_err wk_mqtt_open(const wk_mqtt_opts *o, wk_mqtt_msg_fn fn, void *ctx, wk_mqtt **out,
                    wk_diag *d) WK_MUST_CHECK;
void wk_mqtt_close(wk_mqtt *m);
void wk_mqtt_global_init(void);

/* Runs network I/O for up to timeout_ms; reconnects when due. Message callbacks run
 * inside. Never fails for a lost connection (it is retried); WK_EINVAL for misuse. */
wk_err wk_mqtt_loop(wk_mqtt *m, int timeout_ms, int64_t now_ms);
/* Publishes at QoS 1. WK_EIO when not connected (the caller keeps the work queued). */
wk_err wk_mqtt_publish(wk_mqtt *m, const char *topic, const void *payload, size_t len) WK_MUST_CHECK;
bool wk_mqtt_connected(const wk_mqtt *m);
int64_t wk_mqtt_reconnects(const wk_mqtt *m);

/* Extracts the 12-digit address from "wk/m/<address>/up"; false for any other topic. */
bool wk_mqtt_topic_address(const char *topic, char address[13]);

#endif
