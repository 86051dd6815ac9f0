/*
 * cmd_receipt.c - `wattkeeper receipt verify FILE --log-key FILE.pub`: checks a receipt
 * offline (no database): leaf bytes = record, inclusion proof, checkpoint signature.
 */
#include <stdio.h>
#include <string.h>

#include "app/args.h"
#include "app/cli.h"
#include "core/mem.h"
#include "ledger/receipt.h"

static const char RECEIPT_USAGE[] = "usage: wattkeeper receipt verify FILE.json --log-key FILE.pub\n";

/* Reads at most max bytes of path into a wk_malloc'd buffer. */
static char *read_file(const char *path, size_t max, size_t *len, const char *what)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    if (!f) {
        fprintf(stderr, "receipt: %s: cannot open %s\n", what, path);
        return NULL;
    }
    buf = wk_malloc(max + 1);
    if (!buf)
        goto fail;
    *len = fread(buf, 1, max + 1, f);
    if (ferror(f) || *len > max) {
        fprintf(stderr, "receipt: %s: %s is unreadable or larger than %zu bytes\n", what, path,
                max);
        wk_free(buf);
        buf = NULL;
        goto fail;
    }
    buf[*len] = '\0';
fail:
    fclose(f);
    return buf;
}

int wk_cmd_receipt(int argc, char **argv)
{
    wk_opt opts[] = {{"log-key", true, NULL}, {"help", false, NULL}};
    wk_args a;
    wk_diag d = {{0}};
    wk_note_verifier key;
    wk_receipt *r = NULL;
    char *json = NULL, *keytext = NULL;
    size_t jlen = 0, klen = 0;
    int rc = 1;
    if (!wk_args_parse("receipt", argc, argv, 1, opts, 2, &a)) {
        fputs(RECEIPT_USAGE, stderr);
        return 2;
    }
    if (opts[1].value) {
        fputs(RECEIPT_USAGE, stdout);
        return 0;
    }
    if (a.n_pos != 2 || strcmp(a.pos[0], "verify") || !opts[0].value) {
        fputs(RECEIPT_USAGE, stderr);
        return 2;
    }
    keytext = read_file(opts[0].value, 1024, &klen, "--log-key");
    if (!keytext)
        goto done;
    wk_err e = wk_note_verifier_parse(keytext, klen, &key, &d);
    if (e) {
        fprintf(stderr, "receipt: --log-key: %s\n", d.msg);
        goto done;
    }
    json = read_file(a.pos[1], WK_RECEIPT_JSON_MAX, &jlen, "FILE");
    r = wk_malloc(sizeof *r);
    if (!json || !r)
        goto done;
    e = wk_receipt_parse(json, jlen, r, &d);
    if (e) {
        fprintf(stderr, "receipt: %s: %s\n", a.pos[1], d.msg);
        goto done;
    }
    e = wk_receipt_verify(r, &key, &d);
    if (e) {
        fprintf(stderr, "receipt: %s: NOT VERIFIED: %s\n", a.pos[1], d.msg);
        goto done;
    }
    printf("receipt OK: transfer at leaf %llu of %llu in log %s, amount %lld fen\n",
           (unsigned long long)r->leaf_index, (unsigned long long)r->tree_size, key.name,
           (long long)r->record.amount_fen);
    rc = 0;
done:
    wk_free(r);
    wk_free(json);
    wk_free(keytext);
    return rc;
}
