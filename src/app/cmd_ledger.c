/*
 * cmd_ledger.c - `wattkeeper ledger ...`: staff and script access to the ledger (account
 * add, transfer, show, receipt, checkpoint, log-key) and the audit (`ledger verify`).
 * Every subcommand accepts --db URL, --log-key-file FILE (default <db>.logkey) and
 * --origin NAME (used only when the key is first generated). Thin client of src/ledger.
 */
#include <stdio.h>
#include <string.h>

#include "app/args.h"
#include "app/cli.h"
#include "app/db.h"
#include "core/civil.h"
#include "core/mem.h"
#include "core/units.h"
#include "ledger/ledger.h"
#include "proto/encoding.h"

static const char LEDGER_USAGE[] =
    "usage: wattkeeper ledger <command> [--db URL] [--log-key-file FILE] [--origin NAME]\n"
    "  account add NAME --kind wallet|revenue|clearing|refund|adjustment [--overdraft FEN]\n"
    "  transfer --from ACCOUNT --to ACCOUNT --amount FEN --id HEX32 --reason TEXT\n"
    "           [--allow-overdraft]\n"
    "  show ACCOUNT [--limit N]\n"
    "  receipt TRANSFER_ID\n"
    "  checkpoint\n"
    "  log-key\n"
    "  verify [--log-key FILE.pub]\n"
    "ACCOUNT is an account id or name; --db takes PATH or sqlite:PATH (default " WK_APP_DB_DEFAULT
    ").\n";

enum { O_DB, O_KEYFILE, O_ORIGIN, O_KIND, O_OVERDRAFT, O_FROM, O_TO, O_AMOUNT, O_ID, O_REASON,
       O_ALLOW, O_LIMIT, O_LOGKEY, O_HELP, O_COUNT };

static void print_err(const char *what, wk_err e, const wk_diag *d)
{
    fprintf(stderr, "ledger %s: %s (%s)\n", what, d->msg, wk_err_str(e));
}

/* Resolves ACCOUNT (digits = id, otherwise a name) to an id. */
static wk_err resolve_account(wk_ledger *lg, const char *s, const char *field, int64_t *id,
                              wk_diag *d)
{
    wk_account a;
    wk_err e;
    if (!s || !*s)
        return wk_diag_set(d, WK_EINVAL, "%s: missing account", field);
    if (s[0] >= '0' && s[0] <= '9') {
        int64_t v = 0;
        wk_diag pd;
        if (wk_dec_parse_str(s, 0, &v, &pd) != WK_OK || v <= 0)
            return wk_diag_set(d, WK_EINVAL, "%s: '%.64s' is not an account id", field, s);
        e = wk_ledger_account_get(lg, v, &a, d);
    } else {
        e = wk_ledger_account_find(lg, s, &a, d);
    }
    if (e) {
        wk_diag_prefix(d, "%s", field);
        return e;
    }
    *id = a.id;
    return WK_OK;
}

/* Parses a whole number (fen, or a count when what says so). */
static wk_err parse_int(const char *s, const char *field, const char *what, int64_t *out,
                        wk_diag *d)
{
    wk_diag pd;
    if (!s)
        return wk_diag_set(d, WK_EINVAL, "%s: missing", field);
    if (wk_dec_parse_str(s, 0, out, &pd) != WK_OK)
        return wk_diag_set(d, WK_EINVAL, "%s: '%.64s' is not a whole number of %s (%s)", field,
                           s, what, pd.msg);
    return WK_OK;
}

static wk_err parse_fen(const char *s, const char *field, int64_t *out, wk_diag *d)
{
    return parse_int(s, field, "fen", out, d);
}

static int cmd_account_add(wk_ledger *lg, wk_args *a, wk_opt *o)
{
    wk_diag d = {{0}};
    wk_account_kind kind;
    int64_t overdraft = 0, id = 0;
    wk_err e;
    if (a->n_pos != 3 || strcmp(a->pos[1], "add")) {
        fputs(LEDGER_USAGE, stderr);
        return 2;
    }
    if (!o[O_KIND].value) {
        fprintf(stderr, "ledger account add: --kind: missing\n");
        return 2;
    }
    if ((e = wk_account_kind_parse(o[O_KIND].value, &kind, &d)) ||
        (o[O_OVERDRAFT].value && (e = parse_fen(o[O_OVERDRAFT].value, "--overdraft", &overdraft, &d))) ||
        (e = wk_ledger_account_add(lg, a->pos[2], kind, o[O_OVERDRAFT].value ? &overdraft : NULL,
                                   &id, &d))) {
        print_err("account add", e, &d);
        return 1;
    }
    printf("%lld\n", (long long)id);
    return 0;
}

static int cmd_transfer(wk_ledger *lg, wk_args *a, wk_opt *o)
{
    wk_diag d = {{0}};
    wk_transfer t;
    wk_transfer_result r;
    wk_err e;
    memset(&t, 0, sizeof t);
    if (a->n_pos != 1) {
        fputs(LEDGER_USAGE, stderr);
        return 2;
    }
    if (!o[O_ID].value) {
        e = wk_diag_set(&d, WK_EINVAL, "--id: missing (32 hex digits chosen by the caller)");
        goto fail;
    }
    if (!o[O_REASON].value) {
        e = wk_diag_set(&d, WK_EINVAL, "--reason: missing");
        goto fail;
    }
    if ((e = wk_ledger_id_parse(o[O_ID].value, t.id, &d)) ||
        (e = parse_fen(o[O_AMOUNT].value, "--amount", &t.amount_fen, &d)) ||
        (e = resolve_account(lg, o[O_FROM].value, "--from", &t.debit_account_id, &d)) ||
        (e = resolve_account(lg, o[O_TO].value, "--to", &t.credit_account_id, &d)))
        goto fail;
    t.reason = o[O_REASON].value;
    t.flags = o[O_ALLOW].value ? WK_TRANSFER_ALLOW_OVERDRAFT : 0;
    e = wk_ledger_transfer(lg, &t, &r, &d);
    if (e)
        goto fail;
    bool issued = false;
    e = wk_ledger_checkpoint_maybe(lg, &issued, &d);
    if (e)
        fprintf(stderr, "ledger transfer: booked, but checkpoint failed: %s\n", d.msg);
    char hex[33];
    wk_hex_encode(t.id, 16, hex, sizeof hex);
    printf("%s\n", hex);
    if (r.existed)
        fprintf(stderr, "ledger transfer: %s was booked before (leaf %lld); nothing changed\n",
                hex, (long long)r.leaf_index);
    return 0;
fail:
    print_err("transfer", e, &d);
    return 1;
}

static int show_row(void *ctx, const wk_leaf_record *r)
{
    int64_t account = *(const int64_t *)ctx;
    char when[40], hex[33], amt[32];
    bool debit = r->debit_account_id == account;
    wk_time_format(r->time_s, 0, when, sizeof when);
    wk_hex_encode(r->id, 16, hex, sizeof hex);
    snprintf(amt, sizeof amt, "%s%lld", debit ? "-" : "+", (long long)r->amount_fen);
    printf("%8lld  %s  %s  %14s  %s %lld  %s\n", (long long)r->leaf_index, when, hex, amt,
           debit ? "to" : "from", (long long)(debit ? r->credit_account_id : r->debit_account_id),
           r->reason);
    return 0;
}

static int cmd_show(wk_ledger *lg, wk_args *a, wk_opt *o)
{
    wk_diag d = {{0}};
    wk_account acc;
    int64_t id = 0, limit = 0;
    wk_err e;
    if (a->n_pos != 2) {
        fputs(LEDGER_USAGE, stderr);
        return 2;
    }
    if ((e = resolve_account(lg, a->pos[1], "ACCOUNT", &id, &d)) ||
        (o[O_LIMIT].value && (e = parse_int(o[O_LIMIT].value, "--limit", "rows", &limit, &d))) ||
        (e = wk_ledger_account_get(lg, id, &acc, &d)))
        goto fail;
    printf("account %lld %s kind=%s balance_fen=%lld debits_fen=%lld credits_fen=%lld", (long long)acc.id,
           acc.name, wk_account_kind_str(acc.kind), (long long)acc.balance_fen,
           (long long)acc.debits_fen, (long long)acc.credits_fen);
    if (acc.has_floor)
        printf(" floor_fen=%lld", (long long)acc.floor_fen);
    printf("\n%8s  %-25s  %-32s  %14s  %s\n", "leaf", "time (UTC)", "transfer id", "amount_fen",
           "counterparty  reason");
    e = wk_ledger_postings(lg, id, limit, show_row, &id, &d);
    if (e)
        goto fail;
    return 0;
fail:
    print_err("show", e, &d);
    return 1;
}

static int cmd_receipt_out(wk_ledger *lg, wk_args *a)
{
    wk_diag d = {{0}};
    uint8_t id[16];
    char *json = NULL;
    wk_err e;
    if (a->n_pos != 2) {
        fputs(LEDGER_USAGE, stderr);
        return 2;
    }
    if ((e = wk_ledger_id_parse(a->pos[1], id, &d)) || (e = wk_ledger_receipt(lg, id, &json, &d))) {
        wk_diag_prefix(&d, "TRANSFER_ID");
        print_err("receipt", e, &d);
        return 1;
    }
    fputs(json, stdout);
    wk_free(json);
    return 0;
}

static int cmd_checkpoint(wk_ledger *lg)
{
    wk_diag d = {{0}};
    wk_checkpoint cp;
    bool issued = false;
    wk_err e = wk_ledger_checkpoint(lg, &cp, &issued, &d);
    if (e) {
        print_err("checkpoint", e, &d);
        return 1;
    }
    fputs(cp.note, stdout);
    return 0;
}

static int cmd_verify(wk_opt *o)
{
    wk_diag d = {{0}};
    char path[WK_APP_PATH_MAX];
    wk_note_verifier key, *kp = NULL;
    wk_store *st = NULL;
    wk_ledger_verify_report rep;
    char text[1024];
    int rc = 1;
    const char *kfile = o[O_LOGKEY].value;
    if (kfile) {
        FILE *f = fopen(kfile, "rb");
        size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
        if (f)
            fclose(f);
        text[n] = '\0';
        wk_err e = f ? wk_note_verifier_parse(text, n, &key, &d)
                     : wk_diag_set(&d, WK_EIO, "cannot open %s", kfile);
        if (e) {
            fprintf(stderr, "ledger verify: --log-key: %s\n", d.msg);
            return 1;
        }
        kp = &key;
    } else if (wk_app_key_path(o[O_DB].value, o[O_KEYFILE].value, path, sizeof path)) {
        wk_note_signer s;
        FILE *f = fopen(path, "rb");
        if (f) {
            size_t n = fread(text, 1, sizeof text - 1, f);
            fclose(f);
            text[n] = '\0';
            if (wk_note_signer_parse(text, n, &s, &d) != WK_OK) {
                fprintf(stderr, "ledger verify: log key %s: %s\n", path, d.msg);
                return 1;
            }
            key = s.v;
            kp = &key;
            memset(&s, 0, sizeof s);
            memset(text, 0, sizeof text);
        }
    }
    if (!wk_app_db_open(o[O_DB].value, &st))
        return 1;
    wk_err e = wk_ledger_verify(st, kp, &rep, &d);
    if (e) {
        fprintf(stderr, "ledger verify: FAILED: %s\n", d.msg);
        goto done;
    }
    printf("ledger verify: OK: %lld accounts, %lld transfers, %lld log nodes, %lld checkpoints\n",
           (long long)rep.accounts, (long long)rep.transfers, (long long)rep.nodes,
           (long long)rep.checkpoints);
    rc = 0;
done:
    wk_store_close(st);
    return rc;
}

int wk_cmd_ledger(int argc, char **argv)
{
    wk_opt o[O_COUNT] = {
        [O_DB] = {"db", true, NULL},           [O_KEYFILE] = {"log-key-file", true, NULL},
        [O_ORIGIN] = {"origin", true, NULL},   [O_KIND] = {"kind", true, NULL},
        [O_OVERDRAFT] = {"overdraft", true, NULL}, [O_FROM] = {"from", true, NULL},
        [O_TO] = {"to", true, NULL},           [O_AMOUNT] = {"amount", true, NULL},
        [O_ID] = {"id", true, NULL},           [O_REASON] = {"reason", true, NULL},
        [O_ALLOW] = {"allow-overdraft", false, NULL}, [O_LIMIT] = {"limit", true, NULL},
        [O_LOGKEY] = {"log-key", true, NULL},  [O_HELP] = {"help", false, NULL},
    };
    wk_args a;
    wk_store *st = NULL;
    wk_ledger *lg = NULL;
    int rc = 2;
    if (!wk_args_parse("ledger", argc, argv, 1, o, O_COUNT, &a)) {
        fputs(LEDGER_USAGE, stderr);
        return 2;
    }
    if (o[O_HELP].value) {
        fputs(LEDGER_USAGE, stdout);
        return 0;
    }
    if (a.n_pos == 0) {
        fputs(LEDGER_USAGE, stderr);
        return 2;
    }
    const char *sub = a.pos[0];
    if (!strcmp(sub, "verify")) {
        if (a.n_pos != 1) {
            fputs(LEDGER_USAGE, stderr);
            return 2;
        }
        return cmd_verify(o);
    }
    if (strcmp(sub, "account") && strcmp(sub, "transfer") && strcmp(sub, "show") &&
        strcmp(sub, "receipt") && strcmp(sub, "checkpoint") && strcmp(sub, "log-key")) {
        fprintf(stderr, "ledger: unknown command '%s'\n", sub);
        fputs(LEDGER_USAGE, stderr);
        return 2;
    }
    if (!wk_app_ledger_open(o[O_DB].value, o[O_KEYFILE].value, o[O_ORIGIN].value, &st, &lg))
        return 1;
    if (!strcmp(sub, "account")) {
        rc = cmd_account_add(lg, &a, o);
    } else if (!strcmp(sub, "transfer")) {
        rc = cmd_transfer(lg, &a, o);
    } else if (!strcmp(sub, "show")) {
        rc = cmd_show(lg, &a, o);
    } else if (!strcmp(sub, "receipt")) {
        rc = cmd_receipt_out(lg, &a);
    } else if (!strcmp(sub, "checkpoint")) {
        rc = a.n_pos == 1 ? cmd_checkpoint(lg) : 2;
    } else {
        /* log-key: the verifier key, from the (possibly just generated) signing key. */
        char path[WK_APP_PATH_MAX], text[WK_NOTE_KEY_TEXT_MAX + 2];
        wk_note_signer s;
        wk_diag d = {{0}};
        rc = 1;
        if (wk_app_key_path(o[O_DB].value, o[O_KEYFILE].value, path, sizeof path) &&
            wk_ledger_key_load_or_create(path, WK_APP_ORIGIN_DEFAULT, &s, NULL, &d) == WK_OK) {
            printf("%s\n", wk_note_verifier_format(&s.v, text, sizeof text));
            memset(&s, 0, sizeof s);
            rc = 0;
        } else {
            fprintf(stderr, "ledger log-key: %s\n", d.msg);
        }
    }
    wk_ledger_close(lg);
    wk_store_close(st);
    return rc;
}
