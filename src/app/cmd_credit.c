/*
 * cmd_credit.c - `wattkeeper credit`: credits an account through a running `serve`
 * (POST /api/v1/accounts/{id}/credits with the admin token), so that the balance policy
 * runs at once inside serve and a tripped relay closes without waiting for any timer.
 * The transfer id is the idempotency key: repeating the command with the same --id books
 * once.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/args.h"
#include "app/cli.h"
#include "app/util.h"
#include "core/mem.h"
#include "core/units.h"
#include "proto/encoding.h"

typedef struct body {
    char buf[4096];
    size_t n;
} body;

static size_t credit__write(char *p, size_t size, size_t nmemb, void *ctx)
{
    body *b = ctx;
    size_t n = size * nmemb;
    size_t room = sizeof b->buf - 1 - b->n;
    size_t take = n < room ? n : room;
    memcpy(b->buf + b->n, p, take);
    b->n += take;
    b->buf[b->n] = '\0';
    return n;
}

int wk_cmd_credit(int argc, char **argv)
{
    wk_opt o[] = {{"server", true, NULL}, {"token-file", true, NULL}, {"account", true, NULL},
                  {"amount", true, NULL}, {"id", true, NULL},         {"reason", true, NULL},
                  {"help", false, NULL}};
    wk_args a;
    const char *usage =
        "usage: wattkeeper credit --server URL --token-file FILE --account ID --amount YUAN\n"
        "                         [--id HEX32] [--reason TEXT]\n";
    if (!wk_args_parse("credit", argc, argv, 1, o, 7, &a) || a.n_pos) {
        fputs(usage, stderr);
        return 2;
    }
    if (o[6].value) {
        fputs(usage, stdout);
        puts("Credits an account through a running serve; the relay policy runs at once.\n"
             "--id is the idempotency key (32 hex digits): the same id books once. Without\n"
             "it a random id is chosen and printed.");
        return 0;
    }
    if (!o[0].value || !o[1].value || !o[2].value || !o[3].value) {
        fputs(usage, stderr);
        return 2;
    }
    wk_diag d = {{0}};
    int64_t amount_fen, account;
    if (wk_dec_parse_str(o[3].value, WK_SCALE_YUAN, &amount_fen, &d) || amount_fen <= 0) {
        fprintf(stderr, "wattkeeper credit: --amount: expected positive yuan like 50.00\n");
        return 2;
    }
    if (wk_dec_parse_str(o[2].value, 0, &account, &d) || account <= 0) {
        fprintf(stderr, "wattkeeper credit: --account: expected an account id\n");
        return 2;
    }
    char idhex[33];
    if (o[4].value) {
        uint8_t id[16];
        size_t n;
        if (strlen(o[4].value) != 32 || wk_hex_decode(o[4].value, 32, id, sizeof id, &n)) {
            fprintf(stderr, "wattkeeper credit: --id: expected 32 hex digits\n");
            return 2;
        }
        wk_hex_encode(id, 16, idhex, sizeof idhex);
    } else {
        uint8_t id[16];
        if (RAND_bytes(id, sizeof id) != 1)
            return 1;
        wk_hex_encode(id, 16, idhex, sizeof idhex);
    }
    char *token = NULL;
    size_t tlen;
    if (wk_app_read_file(o[1].value, 4096, &token, &tlen, &d)) {
        fprintf(stderr, "wattkeeper credit: %s\n", d.msg);
        return 1;
    }
    while (tlen && (token[tlen - 1] == '\n' || token[tlen - 1] == '\r'))
        token[--tlen] = '\0';
    int rc = 1;
    json_t *req = json_pack("{s:I, s:s, s:s}", "amount_fen", (json_int_t)amount_fen, "id", idhex,
                            "reason", o[5].value ? o[5].value : "credit by staff (CLI)");
    char *payload = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    char url[1024], auth[4200];
    snprintf(url, sizeof url, "%s/api/v1/accounts/%lld/credits", o[0].value, (long long)account);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, auth);
    h = curl_slist_append(h, "Content-Type: application/json");
    body b = {.n = 0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, credit__write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 15000L);
    CURLcode cr = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (cr != CURLE_OK) {
        fprintf(stderr, "wattkeeper credit: %s: %s\n", url, curl_easy_strerror(cr));
    } else if (status / 100 != 2) {
        fprintf(stderr, "wattkeeper credit: HTTP %ld: %s\n", status, b.buf);
    } else {
        printf("%s\n", b.buf);
        rc = 0;
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    free(payload);
    wk_free(token);
    return rc;
}
