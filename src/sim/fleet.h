/*
 * fleet.h - a fleet of simulated meters on MQTT: N meter cores (src/meter) fed by load
 * profiles (sim/profile), on simulated time that may run faster than real time, talking
 * DL/T 645 frames on wk/m/<address>/up|down at QoS 1 through libmosquitto. One client
 * per meter, or gateway clients that multiplex many meters over one connection. All
 * clients share ONE poll loop (mosquitto_socket + mosquitto_loop_read/write/misc); no
 * threads. Fault injection on the uplink: drop, duplicate, delay, reorder; random
 * disconnects; per-meter clock skew. Memory: one allocation for the meters and one for
 * the clients, sized at start (plus libmosquitto's own per client).
 */
#ifndef WK_SIM_FLEET_H
#define WK_SIM_FLEET_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/err.h"

#define WK_SIM_METERS_MAX 200000

typedef struct wk_sim_options {
    const char *host;
    int port;
    uint32_t meters;          /* 1..WK_SIM_METERS_MAX */
    uint32_t speed;           /* simulated seconds per wall second, >= 1 */
    uint64_t seed;
    uint32_t interval_s;      /* report interval (simulated seconds) */
    uint32_t duration_s;      /* simulated seconds to run; 0 = until signalled */
    uint32_t step_s;          /* integration step (simulated seconds), default 10 */
    int64_t start_unix_s;     /* simulated start time */
    uint64_t first_address;   /* address of meter 0; meter i has first_address + i */
    uint32_t gateway;         /* 0 = one client per meter, else meters per gateway client */
    const char *master_key;   /* per-meter keys and MQTT passwords derive from it */
    const char *credentials_file; /* "username:password" lines overriding derived ones */
    uint32_t vacant_pct, shop_pct, anomalous_pct;
    uint32_t drop_ppm, dup_ppm, delay_ppm, reorder_ppm; /* per uplink frame */
    uint32_t delay_max_s;     /* delayed frames wait 1..this simulated seconds */
    uint32_t disconnect_every_s; /* a random client drops its connection this often (sim) */
    uint32_t skew_max_s;      /* meter RTCs are off by up to +-this */
    uint32_t button_max_s;    /* residents press the button within this after a permit */
    uint32_t keepalive_s;
    uint32_t connect_per_tick; /* connection attempts per loop turn (spreads the storm) */
    int verbose;
} wk_sim_options;

typedef struct wk_sim_summary {
    uint64_t frames_out, frames_in, replies, reports, status_frames, events;
    uint64_t publish_acked;
    uint64_t commands_ok, commands_rejected, frames_bad, frames_ignored;
    uint64_t publish_failed, queued_offline, dropped, duplicated, delayed, reordered, disconnects, reconnects, connect_fail;
    uint64_t button_presses;
    uint64_t events_by_code[8];
    uint32_t clients, connected_max;
    int64_t sim_elapsed_s;
    double wall_s;
    uint64_t steps;
} wk_sim_summary;

/* Fills defaults: 127.0.0.1:1883, 10 meters, speed 1, seed 1, interval 60, step 10, start
 * = now, addresses from 240000000001, key "wattkeeper-demo", 10 % vacant, 15 % shops,
 * 3 % anomalous, no faults, button within 120 s, keepalive 60, 200 connects per turn. */
void wk_sim_options_default(wk_sim_options *o);

/* Runs the fleet until duration_s of simulated time passed or *stop becomes non-zero.
 * Writes the summary. WK_EINVAL for bad options, WK_ENOMEM, WK_EIO if no client could
 * ever connect. Progress lines go to `log` when verbose. */
wk_err wk_sim_run(const wk_sim_options *o, volatile sig_atomic_t *stop, wk_sim_summary *sum,
                  FILE *log) WK_MUST_CHECK;

/* MQTT password of a meter (or gateway name): hex of the first 16 bytes of
 * HMAC-SHA256(master, "WK645-MQTT" || username). out needs 33 bytes. */
void wk_sim_mqtt_password(const char *master, const char *username, char out[33]);

/* Writes "username:password" for every MQTT client of the fleet o describes (the
 * plaintext form `mosquitto_passwd -U` hashes in place). WK_EIO on a write error. */
wk_err wk_sim_write_credentials(const wk_sim_options *o, FILE *out) WK_MUST_CHECK;

/* Prints the summary as key=value lines. */
void wk_sim_summary_print(const wk_sim_summary *s, FILE *f);

#endif
