/*
 * pay.h - payments: channel notification verification (WeChat Pay API v3, Alipay RSA2),
 * top-up orders and the exactly-once credit of a verified payment.
 *
 * The flow (../shared/reference/payments-ledger.md §5.2), in processing order:
 *
 *   raw request -> authenticate (WeChat: probe/window/serial/RSA-SHA256 over the raw
 *   body, then AES-256-GCM; Alipay: RSA2 over the V1 signing string) -> business facts
 *   (mchid/appid or app_id/seller, trade state, currency) -> wk_pay_credit: order exists,
 *   channel and amount equal the order's, then ONE transaction through
 *   wk_headend_credit_with: payment row UNIQUE(channel, channel_txn_id), order moved
 *   forward, ledger transfer clearing:<channel> -> wallet with an id derived from the
 *   channel transaction id, relay policy -> commit -> only then the channel is answered.
 *
 * Verification (wechat.c, alipay.c, crypto.c) is pure: no database, no clock (time is a
 * parameter), safe on HTTP threads. Orders and crediting (order.c) run on the thread that
 * owns the store (serve's main loop). A rejected notification changes no state.
 */
#ifndef WK_PAY_PAY_H
#define WK_PAY_PAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "store/store.h"

struct wk_headend;
struct wk_ledger;
struct wk_pay_channel_refund;

#define WK_PAY_ID_MAX 64         /* bytes of a channel id (mchid, appid, txn id) incl. NUL */
#define WK_PAY_OUT_TRADE_NO_MAX 33 /* our order number: 6..32 chars + NUL */
#define WK_PAY_KEYS_MAX 4        /* WeChat verification keys configured at once */
#define WK_PAY_BODY_MAX 16384    /* bytes of a notification body accepted */
#define WK_PAY_FORM_MAX 64       /* parameters of an Alipay notification */

typedef enum wk_pay_channel {
    WK_PAY_WECHAT = 1,
    WK_PAY_ALIPAY,
} wk_pay_channel;

/* "wechat" / "alipay"; NULL for an unknown value. */
const char *wk_pay_channel_str(wk_pay_channel c);
/* WK_EINVAL for anything but "wechat" / "alipay". */
wk_err wk_pay_channel_parse(const char *s, wk_pay_channel *c, wk_diag *d) WK_MUST_CHECK;

/* ---- crypto (crypto.c): OpenSSL 3 EVP ---- */

typedef struct wk_pay_pubkey wk_pay_pubkey;
typedef struct wk_pay_privkey wk_pay_privkey; /* sandbox.c */

/* Loads an RSA public key from PEM text: a certificate ("BEGIN CERTIFICATE"; serial, when
 * not NULL, receives its serial as uppercase hex without leading zero bytes, as WeChat's
 * Wechatpay-Serial carries it), a SubjectPublicKeyInfo ("BEGIN PUBLIC KEY") or bare base64
 * of the SPKI DER (how Alipay's console shows its key). WK_ECRYPTO when it does not parse
 * or is not RSA >= 2048 bits. *out is freed with wk_pay_pubkey_free. */
wk_err wk_pay_pubkey_parse(const char *text, size_t len, wk_pay_pubkey **out, char *serial,
                           size_t serial_cap, wk_diag *d) WK_MUST_CHECK;
/* Same from a file (at most 64 KiB); WK_EIO when unreadable. */
wk_err wk_pay_pubkey_load(const char *path, wk_pay_pubkey **out, char *serial, size_t serial_cap,
                          wk_diag *d) WK_MUST_CHECK;
void wk_pay_pubkey_free(wk_pay_pubkey *k);

/* Verifies base64 sig_b64 (RSASSA-PKCS1-v1_5 / SHA-256) over msg. WK_ECRYPTO when the
 * base64 is malformed or the signature does not verify. */
wk_err wk_pay_rsa_verify(const wk_pay_pubkey *k, const void *msg, size_t len, const char *sig_b64,
                         size_t sig_len, wk_diag *d) WK_MUST_CHECK;

/* Decrypts AEAD_AES_256_GCM as WeChat uses it: key = the ASCII key bytes (32, or 16 for
 * the SDKs' AES-128 test vectors), nonce = 12 bytes, ct_b64 = base64(ciphertext || 16-byte
 * tag). Writes the plaintext and a NUL into out (cap bytes). WK_ECRYPTO when the base64,
 * sizes or the tag are wrong; WK_ELIMIT when out is too small. */
wk_err wk_pay_aes_gcm_decrypt(const uint8_t *key, size_t key_len, const char *nonce,
                              size_t nonce_len, const char *aad, size_t aad_len,
                              const char *ct_b64, size_t ct_len, char *out, size_t cap,
                              size_t *n, wk_diag *d) WK_MUST_CHECK;

/* ---- WeChat Pay API v3 notification (wechat.c) ---- */

typedef struct wk_pay_wechat_cfg {
    char mchid[WK_PAY_ID_MAX];
    char appid[WK_PAY_ID_MAX];
    uint8_t apiv3_key[32];
    size_t apiv3_key_len;                   /* 32 in production */
    wk_pay_pubkey *keys[WK_PAY_KEYS_MAX];   /* owned by whoever filled them */
    char serials[WK_PAY_KEYS_MAX][WK_PAY_ID_MAX]; /* cert serial or PUB_KEY_ID_... */
    size_t n_keys;
    int64_t window_s; /* |now - Wechatpay-Timestamp| must be below this: 300 */
} wk_pay_wechat_cfg;

/* The notification headers as received (borrowed; NULL when absent). */
typedef struct wk_pay_wechat_headers {
    const char *timestamp, *nonce, *signature, *serial, *signature_type;
} wk_pay_wechat_headers;

/* Authenticates a notification: rejects probe signatures (WECHATPAY/SIGNTEST/), a
 * signature type other than WECHATPAY2-SHA256-RSA2048 (absent = that), a timestamp not
 * within window_s of now_s (checked before the signature), a serial that names no
 * configured key (no trying of other keys), then verifies RSA-SHA256 over
 * "timestamp\nnonce\nbody\n" with the raw body bytes. WK_ECRYPTO (signature, probe,
 * serial), WK_ERANGE (window), WK_EINVAL (a header missing or malformed); d names it. */
wk_err wk_pay_wechat_authenticate(const wk_pay_wechat_cfg *c, const wk_pay_wechat_headers *h,
                                  const char *body, size_t len, int64_t now_s,
                                  wk_diag *d) WK_MUST_CHECK;

/* Decrypts an authenticated envelope's resource (algorithm must be AEAD_AES_256_GCM) into
 * out (NUL-terminated); event_type (cap 64) receives the envelope's event_type. WK_EINVAL
 * for a malformed envelope, WK_ECRYPTO when it does not decrypt. */
wk_err wk_pay_wechat_decrypt(const wk_pay_wechat_cfg *c, const char *body, size_t len,
                             char *event_type, size_t event_cap, char *out, size_t cap,
                             size_t *n, wk_diag *d) WK_MUST_CHECK;

/* A verified payment, channel-neutral. */
typedef struct wk_pay_payment {
    wk_pay_channel channel;
    char txn_id[WK_PAY_ID_MAX];                    /* the channel's id: the idempotency key */
    char out_trade_no[WK_PAY_OUT_TRADE_NO_MAX];    /* our order */
    int64_t amount_fen;
    char status[32];                               /* SUCCESS / TRADE_SUCCESS / ... */
} wk_pay_payment;

/* Parses a decrypted transaction and checks mchid, appid, trade_state SUCCESS and
 * currency CNY against c. WK_EINVAL for a malformed transaction (d names the field),
 * WK_ECONFLICT for a fact that does not match (field named). */
wk_err wk_pay_wechat_transaction(const wk_pay_wechat_cfg *c, const char *json, size_t len,
                                 wk_pay_payment *out, wk_diag *d) WK_MUST_CHECK;

/* Parses a decrypted refund notification resource (event types REFUND.SUCCESS,
 * REFUND.ABNORMAL, REFUND.CLOSED) and checks mchid (WK_ECONFLICT). out receives refund_id,
 * out_refund_no, out_trade_no, refund_status (in status) and amount.refund. WK_EINVAL
 * naming a missing or malformed field. Never a payment: the caller records it. */
wk_err wk_pay_wechat_refund_notice(const wk_pay_wechat_cfg *c, const char *json, size_t len,
                                   struct wk_pay_channel_refund *out, wk_diag *d) WK_MUST_CHECK;

/* ---- Alipay asynchronous notification (alipay.c) ---- */

typedef struct wk_pay_form {
    size_t n;
    char *key[WK_PAY_FORM_MAX];
    char *val[WK_PAY_FORM_MAX];
    char *buf; /* one allocation holding all strings */
} wk_pay_form;

/* Parses an application/x-www-form-urlencoded body, decoding each key and value exactly
 * once ('+' -> space, %XX -> byte). WK_EINVAL on a malformed escape or an empty key,
 * WK_ELIMIT beyond WK_PAY_FORM_MAX pairs, WK_EEXIST for a repeated key. On success free
 * with wk_pay_form_free; on failure nothing is left allocated. */
wk_err wk_pay_form_parse(const char *body, size_t len, wk_pay_form *out, wk_diag *d) WK_MUST_CHECK;
void wk_pay_form_free(wk_pay_form *f);
/* The value of key, or NULL. */
const char *wk_pay_form_get(const wk_pay_form *f, const char *key);

/* Builds the signing string: every parameter except sign (and sign_type unless
 * keep_sign_type: payment notifications drop it, gateway messages keep it), empty keys or
 * values skipped, keys in byte order, "k=v" joined by '&'. Writes it and a NUL into out;
 * WK_ELIMIT when out is too small. */
wk_err wk_pay_alipay_sign_string(const wk_pay_form *f, bool keep_sign_type, char *out, size_t cap,
                                 size_t *n, wk_diag *d) WK_MUST_CHECK;

typedef struct wk_pay_alipay_cfg {
    char app_id[WK_PAY_ID_MAX];
    char seller_id[WK_PAY_ID_MAX];
    wk_pay_pubkey *key; /* Alipay's public key (owned by whoever filled it) */
} wk_pay_alipay_cfg;

/* Verifies a payment notification: sign_type RSA2, the RSA2 signature over the V1 signing
 * string, app_id and seller_id equal to c's, trade_status TRADE_SUCCESS or TRADE_FINISHED,
 * total_amount a yuan decimal; fills out. WK_ECRYPTO (signature), WK_ECONFLICT (a fact
 * that does not match; d names it), WK_EINVAL (missing or malformed parameter). An
 * authentic notification of ours whose trade_status is not a payment (TRADE_CLOSED,
 * WAIT_BUYER_PAY) is WK_ECONFLICT naming trade_status with out->status, out_trade_no and
 * (when present) txn_id filled: the caller may record it, never credit it; out->status
 * stays empty for every other failure. */
wk_err wk_pay_alipay_verify(const wk_pay_alipay_cfg *c, const wk_pay_form *f, wk_pay_payment *out,
                            wk_diag *d) WK_MUST_CHECK;

/* ---- orders and crediting (order.c); the thread that owns the store ---- */

extern const wk_schema wk_pay_schema;

typedef enum wk_pay_order_state {
    WK_PAY_CREATED = 1,
    WK_PAY_PAID,
    WK_PAY_CREDITED,
    WK_PAY_CLOSED,
    WK_PAY_EXPIRED,
} wk_pay_order_state;
const char *wk_pay_order_state_str(wk_pay_order_state s);

typedef struct wk_pay_order {
    int64_t id;
    char out_trade_no[WK_PAY_OUT_TRADE_NO_MAX];
    int64_t account_id;
    wk_pay_channel channel;
    int64_t amount_fen;
    wk_pay_order_state state;
    int64_t created_ms, expires_ms;
} wk_pay_order;

typedef struct wk_pay_limits {
    int64_t min_fen, max_fen; /* an order's amount must be within */
    int64_t ttl_ms;           /* an unpaid order expires after this */
} wk_pay_limits;

/* Creates an order in state created for an open head-end account. out_trade_no is
 * generated ("WK" + 30 hex digits, random). WK_ERANGE (amount outside the limits, field
 * amount_fen), WK_ENOTFOUND (no such account), WK_ECONFLICT (account closed). */
wk_err wk_pay_order_create(wk_store *st, int64_t account_id, wk_pay_channel channel,
                           int64_t amount_fen, const wk_pay_limits *lim, int64_t now_ms,
                           wk_pay_order *out, wk_diag *d) WK_MUST_CHECK;
/* Reads an order by out_trade_no; WK_ENOTFOUND when absent. */
wk_err wk_pay_order_get(wk_store *st, const char *out_trade_no, wk_pay_order *out,
                        wk_diag *d) WK_MUST_CHECK;
/* Moves created orders past their expiry to expired; *n = how many. */
wk_err wk_pay_order_expire(wk_store *st, int64_t now_ms, int64_t *n, wk_diag *d) WK_MUST_CHECK;

/* The ledger transfer id of a channel payment: the first 16 bytes of
 * SHA-256("<channel>:" || txn_id), so notification, query and reconciliation collapse to
 * one credit. Cannot fail. */
void wk_pay_transfer_id(wk_pay_channel c, const char *txn_id, uint8_t id[16]);

/* Credits a verified payment exactly once. Checks first (no state changed on failure):
 * the order exists (WK_ENOTFOUND), its channel and amount equal the payment's
 * (WK_ECONFLICT naming amount_fen or channel). Then one transaction through
 * wk_headend_credit_with: payment row (UNIQUE(channel, txn_id)), order -> credited
 * (from created or paid; a closed/expired order keeps its state: money that arrives late
 * is still credited, never dropped), ledger transfer clearing:<channel> -> wallet with
 * wk_pay_transfer_id, relay policy, commit. *duplicate = true when this channel
 * transaction was credited before: nothing changed, and the caller acknowledges it like a
 * first delivery. source is "notify", "query" or "reconcile". */
wk_err wk_pay_credit(struct wk_headend *hd, const wk_pay_payment *p, const char *source,
                     int64_t now_ms, bool *duplicate, wk_diag *d) WK_MUST_CHECK;

/* Finds or creates the ledger clearing account "clearing:<channel>". */
wk_err wk_pay_clearing_account(struct wk_ledger *lg, wk_pay_channel c, int64_t *id,
                               wk_diag *d) WK_MUST_CHECK;

/* ---- counter: staff payments, refunds, move-out settlement (counter.c) ---- */

typedef enum wk_pay_method {
    WK_PAY_CASH = 1,
    WK_PAY_BANK_TRANSFER,
    WK_PAY_CARD, /* a bank card at the office's POS terminal */
} wk_pay_method;
/* "cash" / "bank_transfer" / "card"; WK_EINVAL (field method) otherwise. */
wk_err wk_pay_method_parse(const char *s, wk_pay_method *m, wk_diag *d) WK_MUST_CHECK;
/* The method's name as stored; NULL for an unknown value. */
const char *wk_pay_method_str(wk_pay_method m);

/* Runs inside a booking's transaction (same shape as wk_headend_txn_hook): e.g. the staff
 * audit row, so that the booking and its audit commit together or not at all. */
typedef wk_err (*wk_pay_hook)(void *ctx, wk_store *st, wk_diag *d);

/* A payment taken at the counter: ledger transfer counter:<method> -> wallet through
 * wk_headend_credit_with (relay policy runs: a tripped meter closes), with a pay_counter
 * row (operator, reason) in the same transaction. id is the idempotency key: repeating it
 * books nothing (*existed). operator and reason are required (WK_EINVAL naming them). */
wk_err wk_pay_counter_payment(struct wk_headend *hd, int64_t account_id, int64_t amount_fen,
                              wk_pay_method method, const char *operator_name, const char *reason,
                              const uint8_t id[16], int64_t now_ms, bool *existed,
                              wk_diag *d) WK_MUST_CHECK;

/* Same, running hook(hook_ctx) in the transaction after the pay_counter row is written
 * (not for a repeated id: then *existed and the hook does not run). *row_id (may be NULL)
 * receives the pay_counter row's id (the first booking's on a repeat). */
wk_err wk_pay_counter_payment_with(struct wk_headend *hd, int64_t account_id, int64_t amount_fen,
                                   wk_pay_method method, const char *operator_name, const char *reason,
                                   const uint8_t id[16], int64_t now_ms, wk_pay_hook hook, void *hook_ctx,
                                   int64_t *row_id, bool *existed, wk_diag *d) WK_MUST_CHECK;

/* A refund of counter payment payment_id (a pay_counter row of kind payment) paid out at
 * the counter with the payment's method: ledger transfer wallet -> refund:<method> and a
 * pay_counter refund row pointing at the payment, in one transaction with hook (not run
 * for a repeated id: *existed). WK_ENOTFOUND (payment_id), WK_ERANGE (amount_fen above
 * what is left of the payment after its refunds), WK_ECONFLICT (the wallet does not hold
 * it; a repeated id used for another payment or amount). *row_id as above. */
wk_err wk_pay_counter_refund_of(struct wk_headend *hd, int64_t payment_id, int64_t amount_fen,
                                const char *operator_name, const char *reason, const uint8_t id[16],
                                int64_t now_ms, wk_pay_hook hook, void *hook_ctx, int64_t *row_id,
                                bool *existed, wk_diag *d) WK_MUST_CHECK;

/* A refund paid out at the counter: ledger transfer wallet -> refund:<method>, in one
 * transaction with its pay_counter row. The wallet's floor makes an over-refund
 * WK_ECONFLICT (nothing booked). Idempotent by id. Channel refunds: wk_pay_refund_book. */
wk_err wk_pay_refund(struct wk_headend *hd, int64_t account_id, int64_t amount_fen,
                     wk_pay_method method, const char *operator_name, const char *reason,
                     const uint8_t id[16], int64_t now_ms, bool *existed, wk_diag *d) WK_MUST_CHECK;

/* Move-out settlement: in one transaction, the wallet's whole remaining balance is either
 * refunded (wallet -> refund:<method>) or carried over to another open account's wallet
 * (carry_to_account > 0), and the account is closed (no further credits; readings of its
 * meter are the next tenant's business after a shop transfer). The final reading and
 * deduction are those already booked in real time: settle after the meter's last report.
 * A balance below zero is WK_ECONFLICT (take a counter payment first). *settled_fen
 * receives the amount moved. WK_ECONFLICT when the account is already closed. */
wk_err wk_pay_settle(struct wk_headend *hd, int64_t account_id, wk_pay_method method,
                     int64_t carry_to_account, const char *operator_name, const char *reason,
                     int64_t now_ms, int64_t *settled_fen, wk_diag *d) WK_MUST_CHECK;
/* Same, running hook(hook_ctx) inside the settlement's transaction after the account was
 * closed (e.g. the staff audit row, which may read the state before): a hook error rolls
 * everything back and is returned. */
wk_err wk_pay_settle_with(struct wk_headend *hd, int64_t account_id, wk_pay_method method,
                          int64_t carry_to_account, const char *operator_name, const char *reason,
                          int64_t now_ms, wk_err (*hook)(void *ctx, wk_store *st, wk_diag *d),
                          void *hook_ctx, int64_t *settled_fen, wk_diag *d) WK_MUST_CHECK;

/* ---- channel refunds (refund.c: the store side; client.c: the channel calls) ---- */

/* A channel refund as the channel's verified answer states it. */
typedef struct wk_pay_channel_refund {
    wk_pay_channel channel;
    char refund_id[WK_PAY_ID_MAX];     /* the channel's refund id: UNIQUE per channel */
    char out_refund_no[WK_PAY_ID_MAX]; /* ours: the idempotency key of the request */
    char out_trade_no[WK_PAY_OUT_TRADE_NO_MAX];
    int64_t amount_fen;                /* refunded */
    char status[32];                   /* SUCCESS / PROCESSING (WeChat); SUCCESS (Alipay) */
} wk_pay_channel_refund;

/* The ledger transfer id of a channel refund: the first 16 bytes of
 * SHA-256("refund:<channel>:" || refund_id). Cannot fail. */
void wk_pay_refund_transfer_id(wk_pay_channel c, const char *refund_id, uint8_t id[16]);

/* Before the channel is asked (store thread, nothing changed): out_refund_no is 1..63 of
 * [0-9A-Za-z_-|*@] (WK_EINVAL); when it was booked before, *existed = true and *booked
 * holds that refund (WK_ECONFLICT if it was for another order or amount); otherwise the
 * order exists (WK_ENOTFOUND) and is credited (WK_ECONFLICT), amount_fen is within what
 * is left of it after booked refunds (WK_ERANGE, field amount_fen) and the wallet holds it
 * (WK_ECONFLICT). *o receives the order. */
wk_err wk_pay_refund_check(struct wk_headend *hd, const char *out_trade_no, const char *out_refund_no,
                           int64_t amount_fen, int64_t now_ms, wk_pay_order *o, wk_pay_channel_refund *booked,
                           bool *existed, wk_diag *d) WK_MUST_CHECK;

/* Books a channel refund the channel has accepted (its answer verified) exactly once: in one
 * transaction a pay_refund row (UNIQUE(channel, refund_id), UNIQUE out_refund_no) and the
 * ledger transfer wallet -> clearing:<channel> with wk_pay_refund_transfer_id; the order's
 * channel must be r->channel and the checks of wk_pay_refund_check hold again (the wallet's
 * floor included). *existed = true when this out_refund_no was booked with the same channel
 * refund id (nothing changed); WK_ECONFLICT naming refund_id / out_refund_no when either is
 * booked otherwise. operator and reason are required (WK_EINVAL naming them). */
wk_err wk_pay_refund_book(struct wk_headend *hd, const wk_pay_channel_refund *r, const char *operator_name,
                          const char *reason, int64_t now_ms, bool *existed, wk_diag *d) WK_MUST_CHECK;

/* Same, running hook(hook_ctx) in the booking's transaction after the refund row and the
 * transfer are written (not when *existed). */
wk_err wk_pay_refund_book_with(struct wk_headend *hd, const wk_pay_channel_refund *r, const char *operator_name,
                               const char *reason, int64_t now_ms, wk_pay_hook hook, void *hook_ctx, bool *existed,
                               wk_diag *d) WK_MUST_CHECK;

/* Records a verified notification that is not a payment, exactly once per (channel, kind,
 * ref) in pay_notice: kind is the WeChat event type (REFUND.SUCCESS, ...) or the Alipay
 * trade_status (TRADE_CLOSED, ...); ref the channel refund id (refunds) or trade number
 * (out_trade_no when the channel gave none). REFUND.SUCCESS sets the matching pay_refund
 * row's status to SUCCESS (*refund_known says whether one matched); TRADE_CLOSED moves an
 * order still created to closed. Nothing is credited or booked in the ledger. One
 * transaction; *duplicate when recorded before. */
wk_err wk_pay_notice_record(wk_store *st, wk_pay_channel c, const char *kind, const char *ref,
                            const char *out_trade_no, int64_t amount_fen, int64_t now_ms, bool *duplicate,
                            bool *refund_known, wk_diag *d) WK_MUST_CHECK;

/* ---- daily bills and reconciliation (bill.c) ---- */

#define WK_PAY_BILL_ROWS_MAX 100000

typedef struct wk_pay_bill_row {
    char txn_id[WK_PAY_ID_MAX];
    char out_trade_no[WK_PAY_OUT_TRADE_NO_MAX];
    char refund_id[WK_PAY_ID_MAX]; /* refund rows */
    bool refund;
    int64_t amount_fen; /* payment: order amount; refund: refunded amount (positive) */
    int64_t day;        /* Beijing-time day of the row (days since 1970-01-01) */
} wk_pay_bill_row;

typedef struct wk_pay_bill {
    wk_pay_channel channel;
    size_t n;
    wk_pay_bill_row *rows; /* wk_malloc'd */
    int64_t day_min, day_max;
} wk_pay_bill;

/* Parses a WeChat trade bill (CSV, UTF-8 with or without BOM, CRLF, backtick-prefixed
 * fields, columns found by header name, summary header + row checked against the rows:
 * count and total order amount) or an Alipay business bill (GBK or UTF-8, '#' preamble
 * and footer lines, header found by 支付宝交易号, tab-padded fields, 业务类型 交易/退款; the
 * 交易合计 footer count is checked when present). Amounts are yuan decimals -> fen, never
 * floating point. WK_EINVAL naming the line and column; *out freed with wk_pay_bill_free. */
wk_err wk_pay_bill_parse(wk_pay_channel c, const char *text, size_t len, wk_pay_bill *out,
                         wk_diag *d) WK_MUST_CHECK;
void wk_pay_bill_free(wk_pay_bill *b);

typedef struct wk_pay_recon_report {
    int64_t bill_payments, bill_refunds;
    int64_t matched;              /* payments that agree, and bill refunds booked here with the same amount */
    int64_t credited_from_bill;   /* paid at the channel, not credited: credited now (flagged) */
    int64_t unattributable;       /* paid at the channel, no matching order: alarm */
    int64_t unknown_to_channel;   /* credited here, not in the bill for its days: alarm */
    int64_t amount_mismatch;      /* both sides know it, amounts differ: alarm */
    int64_t refunds_unmatched;    /* refunds in the bill with no refund booked here */
    char lines[8192];             /* one line per discrepancy, bounded (truncated) */
} wk_pay_recon_report;

/* Reconciles a parsed bill against pay_payment for the bill's channel and days, and its
 * refund rows against pay_refund (WeChat 微信退款单号 = refund_id; Alipay
 * "<支付宝交易号>:<退款批次号/请求号>" = refund_id): see the report fields. Payments missing here are credited through wk_pay_credit with source
 * "reconcile" (the same transfer id as the notification would have used, so running it
 * twice, or a late notification, credits nothing more). Runs on the store's thread. */
wk_err wk_pay_reconcile(struct wk_headend *hd, const wk_pay_bill *b, int64_t now_ms,
                        wk_pay_recon_report *rep, wk_diag *d) WK_MUST_CHECK;

/* Stores a reconciliation run (pay_recon: channel, the bill's days, the report's counts,
 * who ran it) and one pay_recon_line per discrepancy line of rep (kind, txn, order,
 * amount and the account found through the order or the channel transaction, or NULL), in
 * one transaction with hook (may be NULL). company_id / user_id 0 = none (the admin token
 * or the CLI). *id receives the run's id. */
wk_err wk_pay_recon_store(wk_store *st, const wk_pay_bill *b, const wk_pay_recon_report *rep, int64_t company_id,
                          int64_t user_id, int64_t now_ms, wk_pay_hook hook, void *hook_ctx, int64_t *id,
                          wk_diag *d) WK_MUST_CHECK;

/* ---- channel configuration (channels.c) ---- */

struct wk_config;

typedef struct wk_pay_channels {
    bool wechat_on, alipay_on;
    wk_pay_wechat_cfg wechat; /* keys owned by this struct */
    wk_pay_alipay_cfg alipay;
    wk_pay_limits limits;
    /* WeChat API client (order query): on when a merchant key is configured */
    wk_pay_privkey *merchant_key;
    char merchant_serial[WK_PAY_ID_MAX];
    char api_base[1024];
    char notify_base_url[520];
    /* Alipay API client (order query): on when our app key is configured */
    wk_pay_privkey *alipay_app_key;
    char alipay_gateway[1024];
} wk_pay_channels;

/* Builds the channels from [pay]: WeChat Pay is on when wechat_mchid is set (then appid,
 * the APIv3 key file holding exactly 32 characters, and at least one of
 * wechat_platform_cert / wechat_pubkey_file+wechat_pubkey_id are required); Alipay is on
 * when alipay_app_id is set (then alipay_seller_id and alipay_public_key are required).
 * min_amount <= max_amount. WK_EINVAL naming the [pay] key, WK_EIO / WK_ECRYPTO for a key
 * file. *out is freed with wk_pay_channels_free. */
wk_err wk_pay_channels_load(const struct wk_config *c, wk_pay_channels **out,
                            wk_diag *d) WK_MUST_CHECK;
void wk_pay_channels_free(wk_pay_channels *p);

/* ---- channel API client (client.c): blocking HTTP, never on the main loop ---- */

/* The Authorization header value of a WeChat Pay API v3 request: WECHATPAY2-SHA256-RSA2048
 * with mchid, nonce_str, timestamp, serial_no and the signature over
 * "METHOD\nURL path+query\ntimestamp\nnonce\nbody\n". out cap >= 1024. */
wk_err wk_pay_wechat_authorization(const char *mchid, const wk_pay_privkey *k, const char *serial,
                                   const char *method, const char *path_query, const char *body,
                                   int64_t ts_s, char *out, size_t cap, wk_diag *d) WK_MUST_CHECK;

/* Queries WeChat Pay for our order (GET <api_base>/v3/pay/transactions/out-trade-no/{no}
 * ?mchid=...), signed with the merchant key. The response is authenticated like a
 * notification (Wechatpay-* headers, same keys and window) and its transaction checked by
 * wk_pay_wechat_transaction; out is filled. *paid = true for trade_state SUCCESS; false
 * with out->status set (NOTPAY, CLOSED, ...) otherwise. WK_ENOTFOUND when WeChat does not
 * know the order, WK_EIO for transport failures, WK_ECRYPTO when the response does not
 * verify, WK_EINVAL when no merchant key is configured. */
wk_err wk_pay_wechat_query(const wk_pay_channels *ch, const char *out_trade_no, int64_t now_s,
                           wk_pay_payment *out, bool *paid, wk_diag *d) WK_MUST_CHECK;

/* Native prepay: POST <api_base>/v3/pay/transactions/native with appid, mchid,
 * out_trade_no, amount (fen, CNY) and notify_url = notify_base_url + /pay/wechat/notify,
 * signed with the merchant key; the signed answer's code_url (what the payer opens or
 * scans) is written into code_url. Errors as wk_pay_wechat_query. */
wk_err wk_pay_wechat_prepay(const wk_pay_channels *ch, const char *notify_base_url,
                            const char *out_trade_no, int64_t amount_fen, int64_t now_s,
                            char *code_url, size_t cap, wk_diag *d) WK_MUST_CHECK;

/* Queries Alipay for our order: alipay.trade.query posted to the gateway, signed RSA2 with
 * our app key (signing string keeps sign_type, as Alipay's request rule says); the answer's
 * alipay_trade_query_response object is verified RSA2 with Alipay's public key over its
 * exact bytes before it is read. *paid for TRADE_SUCCESS / TRADE_FINISHED (out filled);
 * WK_ENOTFOUND for ACQ.TRADE_NOT_EXIST; other errors as wk_pay_wechat_query. */
wk_err wk_pay_alipay_query(const wk_pay_channels *ch, const char *out_trade_no, int64_t now_s,
                           wk_pay_payment *out, bool *paid, wk_diag *d) WK_MUST_CHECK;

/* WeChat refund: POST <api_base>/v3/refund/domestic/refunds with out_trade_no,
 * out_refund_no, reason and amount {refund, total, currency CNY}, signed with the merchant
 * key. The answer is authenticated like a notification before it is read; its
 * out_refund_no, out_trade_no and amount.refund must equal the request's (WK_ECONFLICT
 * naming the field) and its status be SUCCESS or PROCESSING (the channel accepted it);
 * out is filled (refund_id = the answer's refund_id). WK_EIO for transport failures and
 * refusals (the channel's code in d), other errors as wk_pay_wechat_query. */
wk_err wk_pay_wechat_refund(const wk_pay_channels *ch, const char *out_trade_no, const char *out_refund_no,
                            int64_t amount_fen, int64_t total_fen, const char *reason, int64_t now_s,
                            wk_pay_channel_refund *out, wk_diag *d) WK_MUST_CHECK;

/* Alipay refund: alipay.trade.refund (biz_content out_trade_no, refund_amount in yuan,
 * out_request_no = out_refund_no, refund_reason) posted to the gateway, signed RSA2; the
 * alipay_trade_refund_response object is verified over its exact bytes before it is read.
 * code 10000 with fund_change Y, the same out_trade_no and refund_fee >= amount is
 * accepted; the refund id is "<trade_no>:<out_request_no>" (Alipay has no separate refund
 * id; its bill names the request number). Errors as wk_pay_wechat_refund. */
wk_err wk_pay_alipay_refund(const wk_pay_channels *ch, const char *out_trade_no, const char *out_refund_no,
                            int64_t amount_fen, const char *reason, int64_t now_s, wk_pay_channel_refund *out,
                            wk_diag *d) WK_MUST_CHECK;

/* Alipay precreate (the QR code the payer scans): alipay.trade.precreate posted to the
 * gateway with biz_content out_trade_no, total_amount (yuan) and subject, and notify_url =
 * notify_base_url + /pay/alipay/notify, signed RSA2 with our app key (signing string keeps
 * sign_type); the alipay_trade_precreate_response object is verified over its exact bytes
 * before it is read; code 10000 and the same out_trade_no are required and its qr_code is
 * written into qr_code. Errors as wk_pay_wechat_prepay. */
wk_err wk_pay_alipay_precreate(const wk_pay_channels *ch, const char *notify_base_url, const char *out_trade_no,
                               int64_t amount_fen, int64_t now_s, char *qr_code, size_t cap,
                               wk_diag *d) WK_MUST_CHECK;

/* The raw text of the JSON value of member `name` of the top-level object in json (no
 * parsing of the value: its exact bytes are what Alipay signed). start and vlen locate it.
 * WK_EINVAL when absent or unbalanced. */
wk_err wk_pay_json_member_raw(const char *json, size_t len, const char *name, size_t *start,
                              size_t *vlen, wk_diag *d) WK_MUST_CHECK;

/* ---- sandbox signing (sandbox.c): what the channels do, for paysim and the tests ---- */

/* Generates an RSA-2048 key pair. *out is freed with wk_pay_privkey_free. */
wk_err wk_pay_privkey_generate(wk_pay_privkey **out, wk_diag *d) WK_MUST_CHECK;
/* Loads a PEM private key (PKCS#8 or PKCS#1) from a file. */
wk_err wk_pay_privkey_load(const char *path, wk_pay_privkey **out, wk_diag *d) WK_MUST_CHECK;
/* Writes the private key (PKCS#8 PEM, mode 0600) and/or its public key (SPKI PEM) to
 * files; either path may be NULL. */
wk_err wk_pay_privkey_save(const wk_pay_privkey *k, const char *priv_path, const char *pub_path,
                           wk_diag *d) WK_MUST_CHECK;
void wk_pay_privkey_free(wk_pay_privkey *k);

/* Signs msg with RSASSA-PKCS1-v1_5 / SHA-256 into base64 sig (cap >= 512). */
wk_err wk_pay_rsa_sign(const wk_pay_privkey *k, const void *msg, size_t len, char *sig, size_t cap,
                       wk_diag *d) WK_MUST_CHECK;

/* The transaction JSON WeChat returns for p (query answers, notification plaintext);
 * returns its length or -1 when cap is too small. */
int wk_pay_wechat_transaction_json(const wk_pay_wechat_cfg *c, const wk_pay_payment *p,
                                   const char *trade_state, char *out, size_t cap);

/* Builds a WeChat TRANSACTION.SUCCESS notification for p (mchid/appid from c) as WeChat
 * does: transaction JSON encrypted with c->apiv3_key (AES-256-GCM, AAD "transaction",
 * random 12-char nonce), envelope body, and the signature over "ts\nnonce\nbody\n".
 * body (cap bytes) receives the JSON body, nonce (cap 33) the header nonce, sig (cap 512)
 * the Wechatpay-Signature value. */
wk_err wk_pay_wechat_sign_notification(const wk_pay_wechat_cfg *c, const wk_pay_privkey *k,
                                       const wk_pay_payment *p, const char *trade_state,
                                       int64_t ts_s, char *body, size_t cap, char *nonce,
                                       char *sig, wk_diag *d) WK_MUST_CHECK;

/* Builds a WeChat refund notification (event type "REFUND.<r->status>", resource
 * original_type / AAD "refund") for r as WeChat does, signed like
 * wk_pay_wechat_sign_notification; total_fen is the order's amount. */
wk_err wk_pay_wechat_sign_refund_notification(const wk_pay_wechat_cfg *c, const wk_pay_privkey *k,
                                              const struct wk_pay_channel_refund *r, int64_t total_fen,
                                              int64_t ts_s, char *body, size_t cap, char *nonce, char *sig,
                                              wk_diag *d) WK_MUST_CHECK;

/* Builds an Alipay trade_status_sync notification body (form-encoded, signed RSA2 with
 * sign_type RSA2) for p with app_id/seller_id from c and the given trade_status. */
wk_err wk_pay_alipay_sign_notification(const wk_pay_alipay_cfg *c, const wk_pay_privkey *k,
                                       const wk_pay_payment *p, const char *trade_status,
                                       const char *notify_time, char *body, size_t cap,
                                       wk_diag *d) WK_MUST_CHECK;

#endif
