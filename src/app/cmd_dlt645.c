/*
 * cmd_dlt645.c - `wattkeeper dlt645 decode HEX` and `wattkeeper dlt645 encode KIND ...`:
 * one DL/T 645-2007 frame to JSON and back (options in docs/protocol.md). A thin client of
 * src/proto/dlt645: all frame logic lives there; this file only parses arguments and
 * prints. Exit codes: 0 ok, 1 bad frame or value (reason on stderr), 2 usage.
 */
#include <stdio.h>
#include <string.h>

#include "app/cli.h"
#include "core/units.h"
#include "proto/dlt645.h"
#include "proto/encoding.h"

static int usage(FILE *f)
{
    fprintf(f,
            "usage: wattkeeper dlt645 decode HEX [HEX...]\n"
            "       wattkeeper dlt645 encode KIND [options]\n"
            "kinds:\n"
            "  read DI                      read data (11)\n"
            "  reply DI VALUE[,VALUE...]    normal read reply (91); values in the DI's unit\n"
            "  write DI VALUE               write data (14); needs --password\n"
            "  relay N1                     relay control (1C): trip, close-permit, close,\n"
            "                               alarm-on, alarm-off, guarantee-on, guarantee-off\n"
            "                               or a hex N1; needs --deadline, and --key+--counter\n"
            "                               (authenticated, PA 99) or --password (plain)\n"
            "  ack C                        normal reply with no data to request code C (hex)\n"
            "  error C ERR                  error reply (L=1) to request code C\n"
            "  time YYYY-MM-DDTHH:MM:SS     broadcast time (08) to 999999999999\n"
            "  read-address                 read address (13) to AAAAAAAAAAAA\n"
            "options:\n"
            "  --addr DIGITS        meter address, up to 12 digits (default 000000000000)\n"
            "  --preamble N         FE bytes before the frame, 0..4 (default 0)\n"
            "  --deadline TIME      relay command valid until TIME (meter local time)\n"
            "  --key HEX            per-meter key for the authenticated mode\n"
            "  --counter N          strictly increasing command counter (authenticated mode)\n"
            "  --password LLPPPPPP  password level and password, hex, e.g. 02000000\n"
            "  --operator HEX8      operator code C3..C0 (default 00000000)\n");
    return 2;
}

/* ---- hex ---- */

/* Parses hex digits, ignoring spaces, ':' and '-' (as frames are often printed). Returns
 * the byte count or -1. */
static long parse_hex(const char *s, uint8_t *out, size_t cap)
{
    char digits[2 * (WK_DLT645_WIRE_MAX + 64) + 1];
    size_t n = 0;
    for (; *s; s++) {
        if (*s == ' ' || *s == ':' || *s == '-' || *s == '\n' || *s == '\t')
            continue;
        if (n + 1 >= sizeof digits)
            return -1;
        digits[n++] = *s;
    }
    size_t bytes;
    if (wk_hex_decode(digits, n, out, cap, &bytes))
        return -1;
    return (long)bytes;
}

static void print_hex(const uint8_t *p, size_t n, const char *sep)
{
    for (size_t i = 0; i < n; i++)
        printf("%s%02X", i ? sep : "", p[i]);
}

/* ---- decode ---- */

static void print_value(wk_dlt645_fmt fmt, int64_t v)
{
    const wk_dlt645_fmt_info *fi = wk_dlt645_fmt_get(fmt);
    char buf[32];
    switch (fmt) {
    case WK_DLT645_FMT_DATE:
        printf("\"20%02d-%02d-%02d\",\"weekday\":%d", (int)(v / 1000000 % 100),
               (int)(v / 10000 % 100), (int)(v / 100 % 100), (int)(v % 100));
        return;
    case WK_DLT645_FMT_TIME:
        printf("\"%02d:%02d:%02d\"", (int)(v / 10000), (int)(v / 100 % 100), (int)(v % 100));
        return;
    case WK_DLT645_FMT_DATETIME:
        printf("\"20%02d-%02d-%02dT%02d:%02d:%02d\"", (int)(v / 10000000000 % 100),
               (int)(v / 100000000 % 100), (int)(v / 1000000 % 100), (int)(v / 10000 % 100),
               (int)(v / 100 % 100), (int)(v % 100));
        return;
    case WK_DLT645_FMT_ADDR:
        printf("\"%012lld\"", (long long)v);
        return;
    case WK_DLT645_FMT_WORD:
        printf("%lld,\"hex\":\"%04llX\"", (long long)v, (long long)v);
        return;
    default:
        printf("%s", wk_dec_format(v, fi->decimals, fi->decimals, buf, sizeof buf));
        if (fi->unit[0])
            printf(",\"unit\":\"%s\"", fi->unit);
    }
}

static void print_status3(int64_t w)
{
    printf(",\"status3\":{\"relay_open\":%s,\"relay_command_trip\":%s,\"alarm\":%s,"
           "\"guarantee\":%s}",
           (w & WK_DLT645_SW3_RELAY_OPEN) ? "true" : "false",
           (w & WK_DLT645_SW3_RELAY_CMD_TRIP) ? "true" : "false",
           (w & WK_DLT645_SW3_ALARM) ? "true" : "false",
           (w & WK_DLT645_SW3_GUARANTEE) ? "true" : "false");
}

/* Prints ,"di":...,"values":[...] for DI + data at p[0..len). Returns 0 or 1 (bad data). */
static int print_di_values(const uint8_t *p, size_t len, bool values_follow)
{
    if (len < 4) {
        fprintf(stderr, "dlt645: %s: no data identifier\n",
                wk_dlt645_reason_str(WK_DLT645_R_TRUNCATED));
        return 1;
    }
    uint32_t di = wk_dlt645_di_get(p);
    printf(",\"di\":\"%08X\"", di);
    const wk_dlt645_di_info *info = wk_dlt645_di_find(di);
    if (info)
        printf(",\"name\":\"%s\"", info->name);
    if (!values_follow) {
        if (len > 4) {
            printf(",\"extra\":\"");
            print_hex(p + 4, len - 4, "");
            printf("\"");
        }
        return 0;
    }
    if (!info) {
        printf(",\"data\":\"");
        print_hex(p + 4, len - 4, "");
        printf("\"");
        return 0;
    }
    int64_t v[WK_DLT645_FIELDS_MAX];
    size_t n = 0;
    wk_dlt645_reason why;
    if (wk_dlt645_values_get(di, p + 4, len - 4, v, &n, &why) != WK_OK) {
        fprintf(stderr, "dlt645: %s for DI %08X\n", wk_dlt645_reason_str(why), di);
        return 1;
    }
    printf(",\"values\":[");
    for (size_t i = 0; i < n; i++) {
        printf("%s{\"name\":\"%s\",\"value\":", i ? "," : "",
               info->field[i] ? info->field[i] : info->name);
        print_value((wk_dlt645_fmt)info->fmt[i], v[i]);
        printf("}");
    }
    printf("]");
    if (di == WK_DI_STATUS3)
        print_status3(v[0]);
    return 0;
}

static int decode(const char *hex_text)
{
    uint8_t wire[WK_DLT645_WIRE_MAX + 1];
    long n = parse_hex(hex_text, wire, sizeof wire);
    if (n < 0) {
        fprintf(stderr, "dlt645: not a hex string of at most %d bytes\n", WK_DLT645_WIRE_MAX);
        printf("{\"invalid\":\"not hex\"}\n");
        return 1;
    }
    wk_dlt645_frame f;
    wk_dlt645_reason why;
    if (wk_dlt645_decode(wire, (size_t)n, &f, &why) != WK_OK) {
        fprintf(stderr, "dlt645: %s\n", wk_dlt645_reason_str(why));
        printf("{\"invalid\":\"%s\"}\n", wk_dlt645_reason_str(why));
        return 1;
    }
    char addr[13];
    wk_dlt645_addr_format(f.addr, addr);
    uint8_t c = f.control, fn = c & WK_DLT645_C_FUNC;
    bool reply = c & WK_DLT645_C_REPLY, error = c & WK_DLT645_C_ERROR;
    /* output goes to a buffer-less stdout; on a data error we still exit 1 */
    printf("{\"address\":\"%s\",\"control\":\"%02X\",\"function\":\"%s\",\"reply\":%s,"
           "\"error\":%s,\"more\":%s,\"length\":%u",
           addr, c, wk_dlt645_func_name(c), reply ? "true" : "false", error ? "true" : "false",
           (c & WK_DLT645_C_MORE) ? "true" : "false", f.len);
    int rc = 0;
    if (error) {
        if (f.len == 1)
            printf(",\"err\":\"%02X\"", f.data[0]);
        else if (f.len == 2)
            printf(",\"serr\":\"%04X\"", f.data[0] | f.data[1] << 8);
        else
            rc = 1;
    } else if (fn == WK_DLT645_C_READ || fn == WK_DLT645_C_READ_NEXT) {
        if (f.len > 0 || !reply)
            rc = print_di_values(f.data, f.len, reply);
    } else if (fn == WK_DLT645_C_WRITE && !reply) {
        if (f.len < 12) {
            fprintf(stderr, "dlt645: %s: write needs DI, password and operator\n",
                    wk_dlt645_reason_str(WK_DLT645_R_TRUNCATED));
            rc = 1;
        } else {
            printf(",\"password_level\":\"%02X\",\"password\":\"%02X%02X%02X\","
                   "\"operator\":\"%02X%02X%02X%02X\"",
                   f.data[4], f.data[7], f.data[6], f.data[5], f.data[11], f.data[10], f.data[9],
                   f.data[8]);
            uint8_t tmp[WK_DLT645_DATA_MAX];
            memcpy(tmp, f.data, 4);
            memcpy(tmp + 4, f.data + 12, f.len - 12u);
            rc = print_di_values(tmp, f.len - 8u, true);
        }
    } else if (fn == WK_DLT645_C_RELAY && !reply) {
        wk_dlt645_relay r;
        if (wk_dlt645_relay_parse(&f, &r, &why) != WK_OK) {
            fprintf(stderr, "dlt645: %s in relay command\n", wk_dlt645_reason_str(why));
            rc = 1;
        } else {
            const char *nm = wk_dlt645_n1_name(r.n1);
            printf(",\"password_level\":\"%02X\",\"password\":\"%02X%02X%02X\","
                   "\"operator\":\"%02X%02X%02X%02X\",\"n1\":\"%02X\",\"command\":%s%s%s,"
                   "\"deadline\":\"%04u-%02u-%02uT%02u:%02u:%02u\"",
                   r.pa, r.password[2], r.password[1], r.password[0], r.operator_code[3],
                   r.operator_code[2], r.operator_code[1], r.operator_code[0], r.n1,
                   nm ? "\"" : "", nm ? nm : "null", nm ? "\"" : "", r.deadline.year,
                   r.deadline.month, r.deadline.day, r.deadline.hour, r.deadline.minute,
                   r.deadline.second);
            if (r.has_mac) {
                printf(",\"counter\":%u,\"mac\":\"", r.counter);
                print_hex(r.mac, sizeof r.mac, "");
                printf("\"");
            }
        }
    } else if (fn == WK_DLT645_C_BROADCAST_TIME && !reply) {
        wk_dlt645_time t;
        if (f.len != 6 || wk_dlt645_time_get(f.data, &t) != WK_OK) {
            fprintf(stderr, "dlt645: %s in broadcast time\n",
                    wk_dlt645_reason_str(WK_DLT645_R_BAD_DATA));
            rc = 1;
        } else {
            printf(",\"time\":\"%04u-%02u-%02uT%02u:%02u:%02u\"", t.year, t.month, t.day, t.hour,
                   t.minute, t.second);
        }
    } else if (fn == WK_DLT645_C_READ_ADDR && reply) {
        if (f.len != 6 || !wk_dlt645_addr_valid(f.data)) {
            fprintf(stderr, "dlt645: %s in read-address reply\n",
                    wk_dlt645_reason_str(WK_DLT645_R_BAD_DATA));
            rc = 1;
        } else {
            char a2[13];
            wk_dlt645_addr_format(f.data, a2);
            printf(",\"meter_address\":\"%s\"", a2);
        }
    } else if (f.len > 0) {
        printf(",\"data\":\"");
        print_hex(f.data, f.len, "");
        printf("\"");
    }
    if (rc)
        printf(",\"invalid\":\"bad data\"");
    printf("}\n");
    return rc;
}

/* ---- encode ---- */

/* Value of a decimal or hexadecimal digit, -1 for anything else. */
static int digit_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool parse_u32(const char *s, unsigned base, uint32_t *out)
{
    uint64_t v = 0;
    if (!*s)
        return false;
    for (; *s; s++) {
        int d = digit_value(*s);
        if (d < 0 || (unsigned)d >= base)
            return false;
        v = v * base + (unsigned)d;
        if (v > 0xFFFFFFFFu)
            return false;
    }
    *out = (uint32_t)v;
    return true;
}

/* "YYYY-MM-DDTHH:MM:SS" (T or space) -> time. */
static bool parse_time(const char *s, wk_dlt645_time *t)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd";
    if (strlen(s) != sizeof shape - 1)
        return false;
    unsigned v[6] = {0};
    int k = 0;
    for (size_t i = 0; shape[i]; i++) {
        if (shape[i] == 'd') {
            if (s[i] < '0' || s[i] > '9')
                return false;
            v[k] = v[k] * 10 + (unsigned)(s[i] - '0');
        } else {
            if (s[i] != shape[i] && !(shape[i] == 'T' && s[i] == ' '))
                return false;
            k++;
        }
    }
    wk_dlt645_time x = {(uint16_t)v[0], (uint8_t)v[1], (uint8_t)v[2],
                        (uint8_t)v[3],  (uint8_t)v[4], (uint8_t)v[5]};
    if (!wk_dlt645_time_valid(&x))
        return false;
    *t = x;
    return true;
}

static bool parse_value(const wk_dlt645_di_info *info, size_t i, const char *s, int64_t *v)
{
    wk_dlt645_fmt fmt = (wk_dlt645_fmt)info->fmt[i];
    const wk_dlt645_fmt_info *fi = wk_dlt645_fmt_get(fmt);
    wk_diag d = {{0}};
    if (fmt == WK_DLT645_FMT_WORD) {
        uint32_t w;
        if (!parse_u32(s[0] == '0' && s[1] == 'x' ? s + 2 : s, s[1] == 'x' ? 16 : 10, &w))
            return false;
        *v = w;
        return true;
    }
    if (wk_dec_parse_str(s, fi->decimals, v, &d) != WK_OK) {
        fprintf(stderr, "dlt645: value '%s': %s\n", s, d.msg);
        return false;
    }
    return true;
}

static const struct {
    const char *name;
    uint8_t n1;
} n1_names[] = {{"trip", 0x1A},          {"close-permit", 0x1B}, {"close", 0x1C},
                {"alarm-on", 0x2A},      {"alarm-off", 0x2B},    {"guarantee-on", 0x3A},
                {"guarantee-off", 0x3B}};

static int encode(int argc, char **argv)
{
    if (argc < 1)
        return usage(stderr);
    const char *kind = argv[0];
    const char *pos[3] = {NULL, NULL, NULL};
    size_t npos = 0;
    uint8_t addr[6] = {0};
    unsigned preamble = 0;
    bool have_deadline = false, have_pw = false, have_key = false, have_ctr = false;
    wk_dlt645_time deadline = {0};
    uint8_t pw[4] = {0}, op[4] = {0}, key[64];
    long key_len = 0;
    uint32_t counter = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        bool opt = a[0] == '-' && a[1] == '-';
        if (opt && !val) {
            fprintf(stderr, "dlt645: %s needs a value\n", a);
            return 2;
        }
        if (!opt) {
            if (npos >= 3)
                return usage(stderr);
            pos[npos++] = a;
            continue;
        }
        i++;
        if (!strcmp(a, "--addr")) {
            if (wk_dlt645_addr_parse(val, addr) != WK_OK) {
                fprintf(stderr, "dlt645: bad address '%s'\n", val);
                return 1;
            }
        } else if (!strcmp(a, "--preamble")) {
            uint32_t p;
            if (!parse_u32(val, 10, &p) || p > 4) {
                fprintf(stderr, "dlt645: --preamble must be 0..4\n");
                return 2;
            }
            preamble = p;
        } else if (!strcmp(a, "--deadline")) {
            if (!parse_time(val, &deadline)) {
                fprintf(stderr, "dlt645: bad --deadline '%s' (YYYY-MM-DDTHH:MM:SS)\n", val);
                return 2;
            }
            have_deadline = true;
        } else if (!strcmp(a, "--key")) {
            key_len = parse_hex(val, key, sizeof key);
            if (key_len <= 0) {
                fprintf(stderr, "dlt645: --key must be 1..64 bytes of hex\n");
                return 2;
            }
            have_key = true;
        } else if (!strcmp(a, "--counter")) {
            if (!parse_u32(val, 10, &counter)) {
                fprintf(stderr, "dlt645: bad --counter\n");
                return 2;
            }
            have_ctr = true;
        } else if (!strcmp(a, "--password") || !strcmp(a, "--operator")) {
            uint8_t b[4];
            if (parse_hex(val, b, sizeof b) != 4) {
                fprintf(stderr, "dlt645: %s takes 8 hex digits\n", a);
                return 2;
            }
            /* printed most significant first; the wire is low byte first */
            uint8_t *dst = a[2] == 'p' ? pw : op;
            if (a[2] == 'p') {
                dst[0] = b[0]; /* level */
                dst[1] = b[3];
                dst[2] = b[2];
                dst[3] = b[1];
                have_pw = true;
            } else {
                for (int k = 0; k < 4; k++)
                    dst[k] = b[3 - k];
            }
        } else {
            fprintf(stderr, "dlt645: unknown option %s\n", a);
            return 2;
        }
    }

    wk_dlt645_frame f;
    uint32_t di = 0;
    if ((!strcmp(kind, "read") || !strcmp(kind, "reply") || !strcmp(kind, "write")) &&
        (npos < 1 || !parse_u32(pos[0], 16, &di) || strlen(pos[0]) != 8)) {
        fprintf(stderr, "dlt645: %s needs a DI of 8 hex digits (DI3..DI0)\n", kind);
        return 2;
    }
    if (!strcmp(kind, "read")) {
        wk_dlt645_build_read(addr, di, &f);
    } else if (!strcmp(kind, "reply") || !strcmp(kind, "write")) {
        const wk_dlt645_di_info *info = wk_dlt645_di_find(di);
        if (!info) {
            fprintf(stderr, "dlt645: %s for %08X\n",
                    wk_dlt645_reason_str(WK_DLT645_R_UNKNOWN_DI), di);
            return 1;
        }
        if (npos < 2)
            return usage(stderr);
        int64_t v[WK_DLT645_FIELDS_MAX];
        size_t nv = 0;
        char list[256];
        snprintf(list, sizeof list, "%s", pos[1]);
        char *s = list;
        for (;;) {
            char *comma = strchr(s, ',');
            if (comma)
                *comma = '\0';
            if (nv >= info->nfields || !parse_value(info, nv, s, &v[nv])) {
                fprintf(stderr, "dlt645: %s takes %u value(s)\n", info->name, info->nfields);
                return 1;
            }
            nv++;
            if (!comma)
                break;
            s = comma + 1;
        }
        if (nv != info->nfields) {
            fprintf(stderr, "dlt645: %s takes %u value(s)\n", info->name, info->nfields);
            return 1;
        }
        if (!strcmp(kind, "reply")) {
            if (wk_dlt645_build_read_reply(addr, di, v, nv, &f) != WK_OK) {
                fprintf(stderr, "dlt645: value out of range for %s\n", info->name);
                return 1;
            }
        } else {
            if (!have_pw) {
                fprintf(stderr, "dlt645: write needs --password\n");
                return 2;
            }
            f.control = WK_DLT645_C_WRITE;
            memcpy(f.addr, addr, 6);
            wk_dlt645_di_put(di, f.data);
            memcpy(f.data + 4, pw, 4);
            memcpy(f.data + 8, op, 4);
            if (wk_dlt645_values_put(di, v, nv, f.data + 12) != WK_OK) {
                fprintf(stderr, "dlt645: value out of range for %s\n", info->name);
                return 1;
            }
            f.len = (uint8_t)(12 + wk_dlt645_di_data_len(info));
        }
    } else if (!strcmp(kind, "relay")) {
        uint32_t n1 = 0;
        bool found = false;
        if (npos < 1)
            return usage(stderr);
        for (size_t i = 0; i < sizeof n1_names / sizeof n1_names[0]; i++)
            if (!strcmp(pos[0], n1_names[i].name)) {
                n1 = n1_names[i].n1;
                found = true;
            }
        if (!found && !(strlen(pos[0]) == 2 && parse_u32(pos[0], 16, &n1))) {
            fprintf(stderr, "dlt645: unknown relay command '%s'\n", pos[0]);
            return 2;
        }
        if (!have_deadline) {
            fprintf(stderr, "dlt645: relay needs --deadline\n");
            return 2;
        }
        if (have_key) {
            if (!have_ctr) {
                fprintf(stderr, "dlt645: --key needs --counter\n");
                return 2;
            }
            wk_dlt645_build_relay_mac(addr, key, (size_t)key_len, op, (uint8_t)n1, &deadline,
                                      counter, &f);
        } else if (have_pw) {
            wk_dlt645_build_relay_plain(addr, pw[0], pw + 1, op, (uint8_t)n1, &deadline, &f);
        } else {
            fprintf(stderr, "dlt645: relay needs --key and --counter, or --password\n");
            return 2;
        }
    } else if (!strcmp(kind, "ack") || !strcmp(kind, "error")) {
        uint32_t c = 0, err = 0;
        if (npos < 1 || !parse_u32(pos[0], 16, &c) || c > 0x1F)
            return usage(stderr);
        if (!strcmp(kind, "ack")) {
            wk_dlt645_build_ack(addr, (uint8_t)c, &f);
        } else {
            if (npos < 2 || !parse_u32(pos[1], 16, &err) || err > 0xFFFF)
                return usage(stderr);
            if (err > 0xFF)
                wk_dlt645_build_serr(addr, (uint8_t)c, (uint16_t)err, &f);
            else
                wk_dlt645_build_error(addr, (uint8_t)c, (uint8_t)err, &f);
        }
    } else if (!strcmp(kind, "time")) {
        wk_dlt645_time t;
        if (npos < 1 || !parse_time(pos[0], &t)) {
            fprintf(stderr, "dlt645: time needs YYYY-MM-DDTHH:MM:SS (2000..2099)\n");
            return 2;
        }
        wk_dlt645_build_broadcast_time(&t, &f);
    } else if (!strcmp(kind, "read-address")) {
        wk_dlt645_build_read_addr(&f);
    } else {
        return usage(stderr);
    }

    uint8_t wire[WK_DLT645_WIRE_MAX];
    size_t n = 0;
    if (wk_dlt645_encode(&f, preamble, wire, sizeof wire, &n) != WK_OK) {
        fprintf(stderr, "dlt645: frame does not fit\n");
        return 1;
    }
    print_hex(wire, n, " ");
    printf("\n");
    return 0;
}

int wk_cmd_dlt645(int argc, char **argv)
{
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        usage(stdout);
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "decode"))
        return decode(argv[2]);
    if (argc > 3 && !strcmp(argv[1], "decode")) { /* several frames: one JSON line each */
        int rc = 0;
        for (int i = 2; i < argc; i++) {
            fflush(stdout);
            if (decode(argv[i]) != 0)
                rc = 1;
        }
        return rc;
    }
    if (argc >= 3 && !strcmp(argv[1], "encode"))
        return encode(argc - 2, argv + 2);
    return usage(stderr);
}
