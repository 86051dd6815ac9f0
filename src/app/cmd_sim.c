/*
 * cmd_sim.c - `wattkeeper sim`: runs a fleet of simulated meters against an MQTT broker
 * and prints a summary. Only parses options and signals; the fleet is src/sim/fleet.c.
 */
#include <mosquitto.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "app/cli.h"
#include "core/units.h"
#include "sim/fleet.h"

static volatile sig_atomic_t sim_stop;

static void on_signal(int sig)
{
    (void)sig;
    sim_stop = 1;
}

static int usage(FILE *f)
{
    fprintf(f,
            "usage: wattkeeper sim --broker HOST:PORT --meters N [options]\n"
            "  --speed X            simulated seconds per wall second (integer, default 1)\n"
            "  --seed S             PRNG seed (default 1): same seed, same fleet and loads\n"
            "  --interval SECONDS   report interval of every meter (default 60)\n"
            "  --duration SECONDS   simulated seconds to run (default: until SIGINT/SIGTERM)\n"
            "  --step SECONDS       integration step (default 10)\n"
            "  --start UNIX         simulated start time (default: now)\n"
            "  --first-address N    address of the first meter (default 240000000001)\n"
            "  --gateway M          multiplex M meters per MQTT connection (default: one\n"
            "                       connection per meter)\n"
            "  --key SECRET         master secret for per-meter keys and MQTT passwords\n"
            "                       (default wattkeeper-demo)\n"
            "  --credentials FILE   MQTT passwords from username:password lines\n"
            "  --write-credentials FILE  write username:password for every client and exit\n"
            "  --vacant PCT --shops PCT --anomalous PCT   fleet mix (default 10, 15, 3)\n"
            "  --drop P --dup P --delay P --reorder P     uplink faults, probability 0..1\n"
            "  --delay-max SECONDS  longest delay of a delayed frame (default 120)\n"
            "  --disconnect-every SECONDS   a random client drops its connection this often\n"
            "  --skew SECONDS       meter clocks are off by up to +-SECONDS\n"
            "  --button-max SECONDS residents press the button within this after a permit\n"
            "  --keepalive SECONDS  MQTT keepalive (default 60)\n"
            "  -v                   progress on stderr\n");
    return 2;
}

static bool num(const char *s, uint64_t max, uint64_t *out)
{
    int64_t v;
    wk_diag d = {{0}};
    if (wk_dec_parse_str(s, 0, &v, &d) != WK_OK || v < 0 || (uint64_t)v > max)
        return false;
    *out = (uint64_t)v;
    return true;
}

static bool prob_ppm(const char *s, uint32_t *out)
{
    int64_t v;
    wk_diag d = {{0}};
    if (wk_dec_parse_str(s, 6, &v, &d) != WK_OK || v < 0 || v > 1000000)
        return false;
    *out = (uint32_t)v;
    return true;
}

int wk_cmd_sim(int argc, char **argv)
{
    wk_sim_options o;
    wk_sim_options_default(&o);
    char host[256] = "";
    const char *write_creds = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "-v")) {
            o.verbose = 1;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "sim: %s needs a value\n", a);
            return 2;
        }
        const char *v = argv[++i];
        uint64_t n = 0;
        bool ok = true;
        if (!strcmp(a, "--broker")) {
            const char *colon = strrchr(v, ':');
            if (!colon || colon == v || (size_t)(colon - v) >= sizeof host ||
                !num(colon + 1, 65535, &n) || n == 0) {
                fprintf(stderr, "sim: --broker wants HOST:PORT\n");
                return 2;
            }
            memcpy(host, v, (size_t)(colon - v));
            host[colon - v] = '\0';
            o.host = host;
            o.port = (int)n;
        } else if (!strcmp(a, "--meters"))
            ok = num(v, WK_SIM_METERS_MAX, &n) && n > 0 && (o.meters = (uint32_t)n);
        else if (!strcmp(a, "--speed"))
            ok = num(v, 1000000, &n) && n > 0 && (o.speed = (uint32_t)n);
        else if (!strcmp(a, "--seed"))
            ok = num(v, UINT64_MAX >> 1, &n) && ((o.seed = n), true);
        else if (!strcmp(a, "--interval"))
            ok = num(v, 86400, &n) && n > 0 && (o.interval_s = (uint32_t)n);
        else if (!strcmp(a, "--duration"))
            ok = num(v, 100u * 365 * 86400, &n) && ((o.duration_s = (uint32_t)n), true);
        else if (!strcmp(a, "--step"))
            ok = num(v, 3600, &n) && n > 0 && (o.step_s = (uint32_t)n);
        else if (!strcmp(a, "--start"))
            ok = num(v, 4000000000u, &n) && ((o.start_unix_s = (int64_t)n), true);
        else if (!strcmp(a, "--first-address"))
            ok = num(v, 999999999999u, &n) && ((o.first_address = n), true);
        else if (!strcmp(a, "--gateway"))
            ok = num(v, WK_SIM_METERS_MAX, &n) && ((o.gateway = (uint32_t)n), true);
        else if (!strcmp(a, "--key"))
            o.master_key = v;
        else if (!strcmp(a, "--credentials"))
            o.credentials_file = v;
        else if (!strcmp(a, "--write-credentials"))
            write_creds = v;
        else if (!strcmp(a, "--vacant"))
            ok = num(v, 100, &n) && ((o.vacant_pct = (uint32_t)n), true);
        else if (!strcmp(a, "--shops"))
            ok = num(v, 100, &n) && ((o.shop_pct = (uint32_t)n), true);
        else if (!strcmp(a, "--anomalous"))
            ok = num(v, 100, &n) && ((o.anomalous_pct = (uint32_t)n), true);
        else if (!strcmp(a, "--drop"))
            ok = prob_ppm(v, &o.drop_ppm);
        else if (!strcmp(a, "--dup"))
            ok = prob_ppm(v, &o.dup_ppm);
        else if (!strcmp(a, "--delay"))
            ok = prob_ppm(v, &o.delay_ppm);
        else if (!strcmp(a, "--reorder"))
            ok = prob_ppm(v, &o.reorder_ppm);
        else if (!strcmp(a, "--delay-max"))
            ok = num(v, 86400, &n) && ((o.delay_max_s = (uint32_t)n), true);
        else if (!strcmp(a, "--disconnect-every"))
            ok = num(v, 86400 * 365, &n) && ((o.disconnect_every_s = (uint32_t)n), true);
        else if (!strcmp(a, "--skew"))
            ok = num(v, 86400, &n) && ((o.skew_max_s = (uint32_t)n), true);
        else if (!strcmp(a, "--button-max"))
            ok = num(v, 86400, &n) && ((o.button_max_s = (uint32_t)n), true);
        else if (!strcmp(a, "--keepalive"))
            ok = num(v, 65535, &n) && n >= 5 && (o.keepalive_s = (uint32_t)n);
        else {
            fprintf(stderr, "sim: unknown option %s\n", a);
            return usage(stderr);
        }
        if (!ok) {
            fprintf(stderr, "sim: bad value '%s' for %s\n", v, a);
            return 2;
        }
    }
    if (write_creds) {
        FILE *out = fopen(write_creds, "w");
        if (!out) {
            fprintf(stderr, "sim: cannot create %s\n", write_creds);
            return 1;
        }
        wk_err e = wk_sim_write_credentials(&o, out);
        if (fclose(out) != 0 || e != WK_OK) {
            fprintf(stderr, "sim: writing %s failed\n", write_creds);
            return 1;
        }
        return 0;
    }
    if (!host[0]) {
        fprintf(stderr, "sim: --broker HOST:PORT is required\n");
        return usage(stderr);
    }
    if (o.vacant_pct + o.shop_pct > 100) {
        fprintf(stderr, "sim: --vacant + --shops must not exceed 100\n");
        return 2;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    mosquitto_lib_init();
    wk_sim_summary sum;
    wk_err e = wk_sim_run(&o, &sim_stop, &sum, stderr);
    mosquitto_lib_cleanup();
    if (e != WK_OK) {
        fprintf(stderr, "sim: %s%s\n", wk_err_str(e),
                e == WK_EIO ? ": no client could connect to the broker" : "");
        return 1;
    }
    wk_sim_summary_print(&sum, stdout);
    return 0;
}
