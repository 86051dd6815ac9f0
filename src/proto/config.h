/*
 * config.h - the configuration of `wattkeeper serve`: one INI file (wattkeeper.ini), every
 * key overridable by an environment variable WK_<SECTION>_<KEY>, every key documented in
 * docs/config.md (a test holds the table and the page together).
 *
 * Table-driven: one row per key (section, key, type, default, range, doc line) maps the
 * text onto a named field of wk_config. Values are parsed into the project's integer units:
 * durations ("30s", "5m", "250ms") into ms, money ("12.34") into fen, times of day
 * ("20:00") into minutes after midnight. Anything not in the table is an error naming the
 * file, line and key; a bad value names the file, line, key and what was expected; a bad
 * environment value names the variable. Defaults are strings in the table, parsed by the
 * same code, so the documented default is the effective one.
 *
 * The INI syntax is inih's: `[section]`, `key = value`, comments on their own line
 * starting with ';' or '#'. Inline comments are off (a password may contain ';'), values
 * are taken verbatim after trimming spaces, a key may appear once per file.
 *
 * Loading sets libinih's process-wide knobs (line limit, heap buffer): call it from one
 * thread at start-up. No logging here: the caller reports the wk_diag.
 *
 * To add a key: a field in wk_config, a row in the table in config.c, a section in
 * docs/config.md (tests/proto/config_doc_test.c fails until all three agree).
 */
#ifndef WK_PROTO_CONFIG_H
#define WK_PROTO_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/err.h"
#include "core/log.h"

#define WK_CONFIG_PATH_MAX 1024 /* bytes incl. NUL of path-like strings */
#define WK_CONFIG_NAME_MAX 256  /* bytes incl. NUL of names, hosts, credentials */
#define WK_CONFIG_DATES_MAX 64  /* = WK_POLICY_HOLIDAYS_MAX */
#define WK_CONFIG_FILE_MAX (1u << 20) /* bytes of a config text */

typedef enum wk_config_type {
    WK_CFG_STRING,      /* char[size]; min/max = length in bytes */
    WK_CFG_INT,         /* int64_t */
    WK_CFG_BOOL,        /* bool: true/false, yes/no, on/off, 1/0 */
    WK_CFG_DURATION,    /* int64_t ms: <integer><unit>, unit ms s m h d ("0" alone too) */
    WK_CFG_MONEY,       /* int64_t fen: yuan with at most 2 decimals, "12.34" */
    WK_CFG_TIME_OF_DAY, /* int64_t minutes after midnight: "HH:MM", 00:00..23:59 */
    WK_CFG_HOSTPORT,    /* wk_config_hostport: "host:port" or "[v6addr]:port" */
    WK_CFG_LOG_LEVEL,   /* wk_log_level: debug, info, warn, error */
    WK_CFG_DATES,       /* wk_config_dates: "YYYY-MM-DD, YYYY-MM-DD, ..." (may be empty) */
} wk_config_type;

typedef struct wk_config_hostport {
    char host[WK_CONFIG_NAME_MAX];
    int64_t port; /* 0..65535; 0 = any free port */
} wk_config_hostport;

typedef struct wk_config_dates {
    uint16_t n;
    int64_t days[WK_CONFIG_DATES_MAX]; /* days since 1970-01-01, sorted, no duplicates */
} wk_config_dates;

typedef struct wk_config {
    struct {
        char db[WK_CONFIG_PATH_MAX];
        wk_config_hostport http_listen;
        wk_log_level log_level;
        char data_dir[WK_CONFIG_PATH_MAX];
        char web_dir[WK_CONFIG_PATH_MAX]; /* web files: openapi.json, later the pages */
    } server;
    struct {
        char host[WK_CONFIG_NAME_MAX];
        int64_t port;
        char username[WK_CONFIG_NAME_MAX];
        char password[WK_CONFIG_NAME_MAX]; /* secret: never logged, masked by dump */
        char client_id[WK_CONFIG_NAME_MAX];
        int64_t keepalive_ms;
        int64_t max_inflight;
        int64_t reconnect_min_ms;
        int64_t reconnect_max_ms;
    } mqtt;
    struct {
        int64_t report_interval_ms;
        int64_t gap_intervals;
        int64_t offline_after_ms;
        int64_t command_deadline_ms;
        int64_t command_retries;
        int64_t command_retry_base_ms;
        int64_t batch_max;
        char tariff_dir[WK_CONFIG_PATH_MAX];
    } headend;
    struct {
        int64_t warn1_fen;
        int64_t warn2_fen;
        int64_t warn1_days;
        int64_t warn2_days;
        int64_t hysteresis_fen;
        int64_t close_margin_fen;
        int64_t emergency_credit_fen;
        int64_t friendly_from_min;
        int64_t friendly_to_min;
        bool friendly_weekends;
        wk_config_dates holidays;
    } policy;
    struct {
        char log_name[WK_CONFIG_NAME_MAX];
        char key_file[WK_CONFIG_PATH_MAX]; /* "" in the file: <data_dir>/log.key */
        int64_t checkpoint_interval_ms;
        int64_t checkpoint_leaves;
    } ledger;
    struct {
        bool enabled;
        char templates_dir[WK_CONFIG_PATH_MAX];
        int64_t poll_interval_ms;
        int64_t max_attempts;
        int64_t retry_base_ms;
        int64_t retry_max_ms;
        int64_t rate_limit;
        int64_t offline_alert_after_ms;
        int64_t send_timeout_ms;
        char webhook_secret[WK_CONFIG_NAME_MAX]; /* secret */
        char smtp_url[WK_CONFIG_NAME_MAX];
        char smtp_username[WK_CONFIG_NAME_MAX];
        char smtp_password[WK_CONFIG_NAME_MAX]; /* secret */
        char smtp_from[WK_CONFIG_NAME_MAX];
        bool smtp_starttls;
        char smtp_ca_file[WK_CONFIG_PATH_MAX];
        char sms_url[WK_CONFIG_NAME_MAX];
        char sms_key_id[WK_CONFIG_NAME_MAX];
        char sms_secret[WK_CONFIG_NAME_MAX]; /* secret */
        char sms_signature[WK_CONFIG_NAME_MAX];
        char wechat_base_url[WK_CONFIG_NAME_MAX];
        char wechat_appid[WK_CONFIG_NAME_MAX];
        char wechat_secret[WK_CONFIG_NAME_MAX]; /* secret */
    } notify;
    struct {
        char wechat_mchid[WK_CONFIG_NAME_MAX];
        char wechat_appid[WK_CONFIG_NAME_MAX];
        char wechat_apiv3_key_file[WK_CONFIG_PATH_MAX]; /* the 32-byte APIv3 key (secret file) */
        char wechat_platform_cert[WK_CONFIG_PATH_MAX];  /* PEM certificate; serial from it */
        char wechat_pubkey_file[WK_CONFIG_PATH_MAX];    /* WeChat Pay public key (PEM) */
        char wechat_pubkey_id[WK_CONFIG_NAME_MAX];      /* its id, PUB_KEY_ID_... */
        char wechat_api_base[WK_CONFIG_PATH_MAX];       /* https://api.mch.weixin.qq.com */
        char wechat_merchant_key_file[WK_CONFIG_PATH_MAX]; /* merchant API private key (PEM) */
        char wechat_merchant_serial[WK_CONFIG_NAME_MAX]; /* serial of the merchant API cert */
        char notify_base_url[WK_CONFIG_PATH_MAX];       /* our public base URL for notify_url */
        char alipay_app_id[WK_CONFIG_NAME_MAX];
        char alipay_seller_id[WK_CONFIG_NAME_MAX];
        char alipay_public_key[WK_CONFIG_PATH_MAX];     /* Alipay's public key (PEM or base64) */
        char alipay_gateway[WK_CONFIG_PATH_MAX];        /* https://openapi.alipay.com/gateway.do */
        char alipay_app_private_key[WK_CONFIG_PATH_MAX]; /* our app's private key (PEM) */
        int64_t min_amount_fen;
        int64_t max_amount_fen;
        int64_t order_ttl_ms;
        int64_t notify_window_ms;
    } pay;
} wk_config;

typedef struct wk_config_key {
    const char *section;
    const char *key;
    wk_config_type type;
    size_t offset;     /* of the field in wk_config */
    size_t size;       /* of the field (strings: buffer size) */
    const char *def;   /* default, as it would be written in the file */
    int64_t min, max;  /* in the parsed unit (ms, fen, minutes; strings: length in bytes) */
    bool secret;       /* never printed: dump writes *** */
    const char *doc;   /* one line: what the key means */
} wk_config_key;

/* The key table (static, in file order) and its length. Cannot fail. */
size_t wk_config_keys(const wk_config_key **table);

/* Fills *out with the documented defaults (key_file resolved against data_dir). Cannot
 * fail. */
void wk_config_defaults(wk_config *out);

/* Loads defaults, then the INI file at path (NULL: no file), then WK_<SECTION>_<KEY>
 * environment variables, then checks the rules between keys (reconnect_min <=
 * reconnect_max, warn2 <= warn1) and resolves an empty ledger.key_file to
 * <data_dir>/log.key. On error returns WK_EIO (file unreadable), WK_EINVAL (syntax, unknown
 * key, bad value), WK_ERANGE (value outside its range) or WK_ENOMEM, with a message in d
 * naming the file and line or the variable, the key and what was expected; *out is then
 * unspecified. */
wk_err wk_config_load(const char *path, wk_config *out, wk_diag *d) WK_MUST_CHECK;

/* Same with the INI text in memory (NUL-terminated; at most WK_CONFIG_FILE_MAX bytes);
 * `origin` names it in messages (e.g. a file name). Environment overrides apply too. */
wk_err wk_config_load_string(const char *text, const char *origin, wk_config *out,
                             wk_diag *d) WK_MUST_CHECK;

/* The environment variable of a key: "WK_" + section + "_" + key, upper case, '.' and '-'
 * as '_'. Writes into buf (n >= 64 is enough for the table) and returns it. */
const char *wk_config_env_name(const wk_config_key *k, char *buf, size_t n);

/* Formats the value of key k in c as it would be written in the file (secrets as ***
 * when non-empty) into buf. Returns buf. */
const char *wk_config_format_value(const wk_config *c, const wk_config_key *k, char *buf,
                                   size_t n);

/* Name of a value type as docs/config.md writes it ("duration", "money", ...). */
const char *wk_config_type_name(wk_config_type t);

/* A key's allowed values as docs/config.md writes them ("1..65535", "5s..65535s",
 * "0.00..1000000.00 yuan", "1..1023 bytes", ...). Returns buf. */
const char *wk_config_range_text(const wk_config_key *k, char *buf, size_t n);

/* Writes the effective configuration as an INI file to f, every key, secrets masked.
 * WK_EIO when writing fails. */
wk_err wk_config_dump(const wk_config *c, FILE *f) WK_MUST_CHECK;

/* Parsers of the value types, for the fields the API and the CLI take (same rules and
 * messages as the file; the message does not name a key: the caller prefixes it). */
wk_err wk_config_parse_duration(const char *s, int64_t *ms, wk_diag *d) WK_MUST_CHECK;
wk_err wk_config_parse_hostport(const char *s, wk_config_hostport *out, wk_diag *d) WK_MUST_CHECK;

#endif
