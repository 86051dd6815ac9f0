/*
 * dlt645.h - DL/T 645-2007 codec: frames, data identifiers, value formats, a stream
 * deframer and the authenticated relay-command scheme of Wattkeeper meters.
 *
 * Frame on the wire: [FE x 0..4] 68 A0..A5 68 C L DATA CS 16. The address is 12 BCD
 * digits, low byte first; every DATA byte is sent +0x33; CS is the byte sum from the first
 * 68 to the last DATA byte. A wk_dlt645_frame holds the address in wire order and DATA
 * already un-scrambled (-0x33); encode/decode do the scrambling.
 *
 * Freestanding: no allocation, no stdio, no clock; every buffer is the caller's. The meter
 * core (src/meter) uses this file on a Cortex-M4, the head-end and the CLI use it on the
 * host. Bad input is reported as a wk_dlt645_reason (with wk_dlt645_reason_str) and never
 * crashes: every length is checked before it is used.
 */
#ifndef WK_PROTO_DLT645_H
#define WK_PROTO_DLT645_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define WK_DLT645_DATA_MAX 200                       /* L <= 200 (read replies) */
#define WK_DLT645_PREAMBLE_MAX 4                     /* FE x 0..4 */
#define WK_DLT645_FRAME_MIN 12                       /* 68 A*6 68 C L CS 16, L = 0 */
#define WK_DLT645_WIRE_MAX (WK_DLT645_PREAMBLE_MAX + WK_DLT645_FRAME_MIN + WK_DLT645_DATA_MAX)

/* Control codes (requests; a normal reply is C|0x80, an error reply C|0xC0). */
enum {
    WK_DLT645_C_BROADCAST_TIME = 0x08,
    WK_DLT645_C_READ = 0x11,
    WK_DLT645_C_READ_NEXT = 0x12,
    WK_DLT645_C_READ_ADDR = 0x13,
    WK_DLT645_C_WRITE = 0x14,
    WK_DLT645_C_RELAY = 0x1C,
    WK_DLT645_C_REPLY = 0x80,  /* D7: slave -> master */
    WK_DLT645_C_ERROR = 0x40,  /* D6: error reply */
    WK_DLT645_C_MORE = 0x20,   /* D5: follow-up frames exist */
    WK_DLT645_C_FUNC = 0x1F,
};

/* ERR byte of an L=1 error reply. */
enum {
    WK_DLT645_ERR_OTHER = 0x01,
    WK_DLT645_ERR_NO_DATA = 0x02,
    WK_DLT645_ERR_PASSWORD = 0x04,
};

/* SERR word of an L=2 error reply to 1C on prepaid meters (low byte first on the wire).
 * Bit 10 is a Wattkeeper extension (the standard leaves bits 10..15 reserved). */
enum {
    WK_DLT645_SERR_OTHER = 0x0001,    /* unknown N1, malformed command, refused in state */
    WK_DLT645_SERR_REPEATED = 0x0002, /* counter not above the last accepted (replay) */
    WK_DLT645_SERR_MAC = 0x0004,      /* MAC verification failed */
    WK_DLT645_SERR_ADDRESS = 0x0080,  /* address error */
    WK_DLT645_SERR_RELAY = 0x0200,    /* close/restore failed */
    WK_DLT645_SERR_EXPIRED = 0x0400,  /* Wattkeeper: command deadline has passed */
};

/* Relay command N1 values. */
enum {
    WK_DLT645_N1_TRIP = 0x1A,
    WK_DLT645_N1_CLOSE_PERMIT = 0x1B,
    WK_DLT645_N1_CLOSE = 0x1C,
    WK_DLT645_N1_ALARM_ON = 0x2A,
    WK_DLT645_N1_ALARM_OFF = 0x2B,
    WK_DLT645_N1_GUARANTEE_ON = 0x3A,
    WK_DLT645_N1_GUARANTEE_OFF = 0x3B,
};

/* Password level of the Wattkeeper authenticated mode: "plaintext + MAC" (as 99H in the
 * 2013 State Grid scheme), with a counter and a truncated HMAC-SHA256 after N8. */
#define WK_DLT645_PA_MAC 0x99
#define WK_DLT645_MAC_LEN 8

/* Run-status word 3 bits. */
enum {
    WK_DLT645_SW3_RELAY_OPEN = 1u << 4,
    WK_DLT645_SW3_RELAY_CMD_TRIP = 1u << 6,
    WK_DLT645_SW3_ALARM = 1u << 7,
    WK_DLT645_SW3_PREPAID_MONEY = 2u << 8,
    WK_DLT645_SW3_GUARANTEE = 1u << 12,
    WK_DLT645_SW3_REMOTE_ACCOUNT = 1u << 15,
};

/* Data identifiers, DI3..DI0 as one number (DI3 is the most significant byte). */
#define WK_DI_COMBINED_TOTAL 0x00000000u
#define WK_DI_FWD_TOTAL 0x00010000u
#define WK_DI_FWD_T1 0x00010100u
#define WK_DI_FWD_T2 0x00010200u
#define WK_DI_FWD_T3 0x00010300u
#define WK_DI_FWD_T4 0x00010400u
#define WK_DI_FWD_BLOCK 0x0001FF00u
#define WK_DI_REV_TOTAL 0x00020000u
#define WK_DI_VOLTAGE_A 0x02010100u
#define WK_DI_CURRENT_A 0x02020100u
#define WK_DI_POWER_TOTAL 0x02030000u
#define WK_DI_POWER_FACTOR 0x02060000u
#define WK_DI_FREQUENCY 0x02800002u
#define WK_DI_DATE 0x04000101u
#define WK_DI_TIME 0x04000102u
#define WK_DI_COMM_ADDR 0x04000401u
#define WK_DI_STATUS3 0x04000503u
#define WK_DI_ALARM1 0x04001001u
#define WK_DI_ALARM2 0x04001002u
#define WK_DI_OVERDRAFT_LIMIT 0x04001003u
#define WK_DI_HOARDING_LIMIT 0x04001004u
#define WK_DI_CLOSE_THRESHOLD 0x04001005u
#define WK_DI_REMAINING_MONEY 0x00900200u
#define WK_DI_OVERDRAFT_MONEY 0x00900201u
#define WK_DI_EVENT 0x03A00001u /* Wattkeeper edge event record (vendor extension) */

typedef enum wk_dlt645_reason {
    WK_DLT645_R_OK = 0,
    WK_DLT645_R_TRUNCATED,    /* fewer bytes than the frame needs */
    WK_DLT645_R_OVERSIZED,    /* L > 200, bytes after the end, or a value too large */
    WK_DLT645_R_CHECKSUM,     /* CS does not match */
    WK_DLT645_R_END,          /* the last byte is not 16 */
    WK_DLT645_R_ADDRESS,      /* address not BCD/AA, or not this meter's */
    WK_DLT645_R_GARBAGE,      /* no 68 ... 68 header where a frame must start */
    WK_DLT645_R_BAD_DATA,     /* DATA does not fit the control code / DI, or bad BCD */
    WK_DLT645_R_UNKNOWN_DI,   /* the DI is not in the table */
    WK_DLT645_R_NEED_MORE,    /* deframer: no complete frame yet (not an error) */
} wk_dlt645_reason;

/* Stable English text of a reason ("wrong checksum", ...). Never NULL. */
const char *wk_dlt645_reason_str(wk_dlt645_reason r);

typedef struct wk_dlt645_frame {
    uint8_t addr[6]; /* wire order: A0 (lowest two digits) first */
    uint8_t control;
    uint8_t len;     /* L, 0..WK_DLT645_DATA_MAX */
    uint8_t data[WK_DLT645_DATA_MAX]; /* un-scrambled */
} wk_dlt645_frame;

/* ---- addresses ---- */

/* Parses 1..12 decimal digits (left-padded with 0) or "AAAAAAAAAAAA"/"999999999999" into
 * wire order. WK_EINVAL on anything else; addr untouched then. */
wk_err wk_dlt645_addr_parse(const char *s, uint8_t addr[6]) WK_MUST_CHECK;
/* Writes the 12 digits (A5 first, as printed on the meter) and a NUL into out[13]. AA
 * bytes print as "AA". */
void wk_dlt645_addr_format(const uint8_t addr[6], char out[13]);
/* True when every byte is two BCD digits (a real meter address). */
bool wk_dlt645_addr_valid(const uint8_t addr[6]);
/* True when a frame sent to dst is for the meter `mine`: equal, the AA wildcard in high
 * bytes (AA..AA included), or broadcast 99..99. */
bool wk_dlt645_addr_matches(const uint8_t mine[6], const uint8_t dst[6]);
bool wk_dlt645_addr_is_broadcast(const uint8_t addr[6]);

/* ---- frames ---- */

/* Encodes f with `preamble` FE bytes (0..4) into out. WK_ELIMIT if cap is too small or
 * f->len > 200, WK_EINVAL if preamble > 4. *out_len is set only on success. */
wk_err wk_dlt645_encode(const wk_dlt645_frame *f, unsigned preamble, uint8_t *out, size_t cap,
                        size_t *out_len) WK_MUST_CHECK;

/* Decodes exactly one frame occupying all of buf[0..len) (FE preamble allowed). On failure
 * returns WK_EINVAL with *why set; *f is then unspecified. */
wk_err wk_dlt645_decode(const uint8_t *buf, size_t len, wk_dlt645_frame *f,
                        wk_dlt645_reason *why) WK_MUST_CHECK;

/* Stream scan: looks for the first valid frame in buf[0..len). Returns WK_OK with *f and
 * *consumed = bytes up to and including its 16. Returns WK_ENOTFOUND when none is complete
 * yet; *consumed is then the number of leading bytes that can never start a frame and may
 * be dropped (garbage, and 68s whose frame failed its checks), *why the last rejection
 * (WK_DLT645_R_NEED_MORE if none). A false 68 inside garbage is skipped one byte at a time,
 * so a frame that follows garbage containing 68 and 16 is still found. */
wk_err wk_dlt645_scan(const uint8_t *buf, size_t len, wk_dlt645_frame *f, size_t *consumed,
                      wk_dlt645_reason *why);

/* Byte-stream deframer with a fixed buffer of one maximal frame. */
typedef struct wk_dlt645_deframer {
    uint8_t buf[WK_DLT645_WIRE_MAX];
    uint32_t n;
    uint32_t dropped_bytes; /* garbage discarded so far */
    uint32_t frames;        /* valid frames returned so far */
} wk_dlt645_deframer;

void wk_dlt645_deframer_init(wk_dlt645_deframer *d);
/* Feeds len bytes; for each complete frame found calls on_frame(ctx, frame). Never fails:
 * garbage is dropped and counted. Each call does work linear in len times the buffer. */
void wk_dlt645_deframer_feed(wk_dlt645_deframer *d, const uint8_t *in, size_t len,
                             void (*on_frame)(void *ctx, const wk_dlt645_frame *f), void *ctx);

/* ---- values ---- */

typedef enum wk_dlt645_fmt {
    WK_DLT645_FMT_ENERGY,   /* XXXXXX.XX kWh, 4 B BCD; value in 0.01 kWh */
    WK_DLT645_FMT_VOLTAGE,  /* XXX.X V, 2 B; value in 0.1 V */
    WK_DLT645_FMT_CURRENT,  /* XXX.XXX A signed, 3 B; value in mA */
    WK_DLT645_FMT_POWER,    /* XX.XXXX kW signed, 3 B; value in 0.1 W */
    WK_DLT645_FMT_PF,       /* X.XXX signed, 2 B */
    WK_DLT645_FMT_FREQ,     /* XX.XX Hz, 2 B */
    WK_DLT645_FMT_MONEY,    /* XXXXXX.XX yuan, 4 B; value in fen */
    WK_DLT645_FMT_WORD,     /* 2-byte binary word, low byte first (status words) */
    WK_DLT645_FMT_DATE,     /* YYMMDDWW, 4 B; value = decimal YYMMDDWW */
    WK_DLT645_FMT_TIME,     /* hhmmss, 3 B; value = decimal hhmmss */
    WK_DLT645_FMT_DATETIME, /* ssmmhhDDMMYY, 6 B; value = decimal YYMMDDhhmmss */
    WK_DLT645_FMT_ADDR,     /* 12 BCD digits, 6 B; value = the number */
    WK_DLT645_FMT_BCD1,     /* NN, 1 B BCD */
    WK_DLT645_FMT_BCD2,     /* NNNN, 2 B BCD */
    WK_DLT645_FMT_COUNT_
} wk_dlt645_fmt;

typedef struct wk_dlt645_fmt_info {
    uint8_t bytes;
    uint8_t decimals;  /* value / 10^decimals is the quantity in `unit` */
    bool is_signed;    /* sign in bit 7 of the most significant byte */
    const char *unit;  /* "kWh", "V", ... or "" */
} wk_dlt645_fmt_info;

const wk_dlt645_fmt_info *wk_dlt645_fmt_get(wk_dlt645_fmt fmt);

/* Reads one value of fmt from p (un-scrambled bytes). WK_EINVAL on a non-BCD digit. */
wk_err wk_dlt645_value_get(wk_dlt645_fmt fmt, const uint8_t *p, int64_t *v) WK_MUST_CHECK;
/* Writes one value; WK_ERANGE if it does not fit (negative for an unsigned format, or
 * too many digits); p untouched then. */
wk_err wk_dlt645_value_put(wk_dlt645_fmt fmt, int64_t v, uint8_t *p) WK_MUST_CHECK;

#define WK_DLT645_FIELDS_MAX 6

typedef struct wk_dlt645_di_info {
    uint32_t di;
    const char *name; /* snake_case */
    uint8_t nfields;
    uint8_t fmt[WK_DLT645_FIELDS_MAX];
    const char *field[WK_DLT645_FIELDS_MAX]; /* names of the fields of a block, or NULL */
    bool writable;
} wk_dlt645_di_info;

/* The table entry for di, or NULL. */
const wk_dlt645_di_info *wk_dlt645_di_find(uint32_t di);
/* Entry number i (0-based) of the table, or NULL past its end (for tests and docs). */
const wk_dlt645_di_info *wk_dlt645_di_at(size_t i);
/* Byte length of di's data (sum of its fields). */
size_t wk_dlt645_di_data_len(const wk_dlt645_di_info *info);

/* Reads the 4-byte DI at p (DI0 first). */
uint32_t wk_dlt645_di_get(const uint8_t *p);
void wk_dlt645_di_put(uint32_t di, uint8_t *p);

/* Packs the fields of di from vals[0..nfields) into p (wk_dlt645_di_data_len bytes).
 * WK_ENOTFOUND for an unknown DI, WK_ERANGE if a value does not fit. */
wk_err wk_dlt645_values_put(uint32_t di, const int64_t *vals, size_t nvals,
                            uint8_t *p) WK_MUST_CHECK;
/* Unpacks the fields of di from p[0..len) into vals (room for WK_DLT645_FIELDS_MAX). */
wk_err wk_dlt645_values_get(uint32_t di, const uint8_t *p, size_t len, int64_t *vals,
                            size_t *nvals, wk_dlt645_reason *why) WK_MUST_CHECK;

/* ---- builders for the frames the platform uses (all fill *f; never fail on sizes they
 * control themselves) ---- */

void wk_dlt645_build_read(const uint8_t addr[6], uint32_t di, wk_dlt645_frame *f);
void wk_dlt645_build_read_addr(wk_dlt645_frame *f);
/* Normal read reply (91) with di's fields; WK_ENOTFOUND/WK_ERANGE as values_put. */
wk_err wk_dlt645_build_read_reply(const uint8_t addr[6], uint32_t di, const int64_t *vals,
                                  size_t nvals, wk_dlt645_frame *f) WK_MUST_CHECK;
/* Error reply: control|0xC0 with one ERR byte. */
void wk_dlt645_build_error(const uint8_t addr[6], uint8_t request_control, uint8_t err,
                           wk_dlt645_frame *f);
/* Error reply to 1C with a 2-byte SERR word. */
void wk_dlt645_build_serr(const uint8_t addr[6], uint8_t request_control, uint16_t serr,
                          wk_dlt645_frame *f);
/* Normal reply with no data (9C, 94). */
void wk_dlt645_build_ack(const uint8_t addr[6], uint8_t request_control, wk_dlt645_frame *f);

/* Calendar time as the meter shows it (local time). year is 2000..2099. */
typedef struct wk_dlt645_time {
    uint16_t year;
    uint8_t month, day, hour, minute, second;
} wk_dlt645_time;

/* Unix seconds <-> local calendar time at a fixed UTC offset (China: +28800). */
void wk_dlt645_time_from_unix(int64_t unix_s, int32_t offset_s, wk_dlt645_time *t);
int64_t wk_dlt645_time_to_unix(const wk_dlt645_time *t, int32_t offset_s);
/* Validates ranges (2000..2099, month 1..12, day within the month, 23:59:59). */
bool wk_dlt645_time_valid(const wk_dlt645_time *t);
/* ssmmhhDDMMYY in BCD, 6 bytes, and back (WK_EINVAL for bad BCD or an invalid date). */
void wk_dlt645_time_put(const wk_dlt645_time *t, uint8_t p[6]);
wk_err wk_dlt645_time_get(const uint8_t p[6], wk_dlt645_time *t) WK_MUST_CHECK;

/* Broadcast time (08) to 99..99 with ssmmhhDDMMYY. */
void wk_dlt645_build_broadcast_time(const wk_dlt645_time *t, wk_dlt645_frame *f);

/* ---- relay control (1C) ---- */

typedef struct wk_dlt645_relay {
    uint8_t pa;             /* password level; WK_DLT645_PA_MAC = authenticated mode */
    uint8_t password[3];    /* P0..P2 as on the wire (unused, zero, in MAC mode) */
    uint8_t operator_code[4];
    uint8_t n1;
    wk_dlt645_time deadline; /* N3..N8 */
    uint32_t counter;        /* MAC mode only */
    uint8_t mac[WK_DLT645_MAC_LEN]; /* MAC mode only */
    bool has_mac;
} wk_dlt645_relay;

/* Plain relay command of ordinary meters (L = 16): PA P0..P2 C0..C3 N1 00 N3..N8. */
void wk_dlt645_build_relay_plain(const uint8_t addr[6], uint8_t pa, const uint8_t password[3],
                                 const uint8_t operator_code[4], uint8_t n1,
                                 const wk_dlt645_time *deadline, wk_dlt645_frame *f);

/* Authenticated relay command of Wattkeeper meters (L = 28): 99 00 00 00 C0..C3 N1 00
 * N3..N8 CTR0..CTR3 MAC0..MAC7, where CTR is the counter (binary, low byte first) and
 * MAC = the first 8 bytes of HMAC-SHA256(key, "WK645-1C" || A0..A5 || 1C || the 20 data
 * bytes before the MAC). See docs/protocol.md. */
void wk_dlt645_build_relay_mac(const uint8_t addr[6], const uint8_t *key, size_t key_len,
                               const uint8_t operator_code[4], uint8_t n1,
                               const wk_dlt645_time *deadline, uint32_t counter,
                               wk_dlt645_frame *f);

/* Parses the DATA of a 1C request (L = 16 plain, or L = 28 with PA = 99). WK_EINVAL and
 * *why on a wrong length or bad BCD deadline. Does not check the MAC. */
wk_err wk_dlt645_relay_parse(const wk_dlt645_frame *f, wk_dlt645_relay *r,
                             wk_dlt645_reason *why) WK_MUST_CHECK;
/* Recomputes the MAC of an L = 28 1C frame and compares in constant time. Returns true
 * only for a well-formed authenticated frame whose MAC matches. */
bool wk_dlt645_relay_mac_ok(const wk_dlt645_frame *f, const uint8_t *key, size_t key_len);

/* Per-meter key derivation used by the simulator and the head-end:
 * key = HMAC-SHA256(master, "WK645-KEY" || the 12 address digits). */
void wk_dlt645_key_derive(const uint8_t *master, size_t master_len, const uint8_t addr[6],
                          uint8_t key[32]);

/* Name of a control code's function ("read", "relay", ...) or "unknown". */
const char *wk_dlt645_func_name(uint8_t control);
/* Name of an N1 ("trip", ...) or NULL for an unknown one. */
const char *wk_dlt645_n1_name(uint8_t n1);

#endif
