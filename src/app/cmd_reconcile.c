/*
 * cmd_reconcile.c - `wattkeeper reconcile --channel wechat|alipay --bill FILE`: sends a
 * channel's daily bill to a running serve (POST /api/v1/reconcile), which reconciles it on
 * its main loop (the one writer of the database, and the one that can close relays), and
 * prints the report: paid at the channel but not credited (credited now, flagged),
 * unattributable, credited but unknown to the channel, amount mismatches, unmatched
 * refunds. Importing the same bill again changes nothing. Exit 0 when the bill is
 * reconciled without alarms, 3 when discrepancies were found, 1 on errors.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/args.h"
#include "app/cli.h"
#include "app/util.h"
#include "core/mem.h"

typedef struct recon_body {
    char *buf;
    size_t n, cap;
} recon_body;

static size_t recon__write(char *p, size_t size, size_t nmemb, void *ctx)
{
    recon_body *b = ctx;
    size_t n = size * nmemb, take = n < b->cap - 1 - b->n ? n : b->cap - 1 - b->n;
    memcpy(b->buf + b->n, p, take);
    b->n += take;
    b->buf[b->n] = 0;
    return n;
}

int wk_cmd_reconcile(int argc, char **argv)
{
    wk_opt o[] = {{"server", true, NULL}, {"token-file", true, NULL}, {"channel", true, NULL},
                  {"bill", true, NULL},   {"help", false, NULL}};
    wk_args a;
    const char *usage = "usage: wattkeeper reconcile --server URL --token-file FILE --channel wechat|alipay --bill FILE\n";
    if (!wk_args_parse("reconcile", argc, argv, 1, o, 5, &a) || a.n_pos) {
        fputs(usage, stderr);
        return 2;
    }
    if (o[4].value) {
        fputs(usage, stdout);
        puts("Reconciles a channel's daily bill (WeChat tradebill CSV, Alipay business bill) through a\n"
             "running serve. Exit 0: no discrepancy; 3: discrepancies (listed); 1: error.");
        return 0;
    }
    if (!o[0].value || !o[1].value || !o[2].value || !o[3].value ||
        (strcmp(o[2].value, "wechat") && strcmp(o[2].value, "alipay"))) {
        fputs(usage, stderr);
        return 2;
    }
    wk_diag d = {{0}};
    char *token = NULL, *bill = NULL;
    size_t tlen, blen;
    if (wk_app_read_file(o[1].value, 4096, &token, &tlen, &d) ||
        wk_app_read_file(o[3].value, 16u << 20, &bill, &blen, &d)) {
        fprintf(stderr, "wattkeeper reconcile: %s\n", d.msg);
        wk_free(token);
        return 1;
    }
    while (tlen && (token[tlen - 1] == '\n' || token[tlen - 1] == '\r'))
        token[--tlen] = '\0';
    char url[1024], auth[4200];
    snprintf(url, sizeof url, "%s/api/v1/reconcile?channel=%s", o[0].value, o[2].value);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    recon_body b = {.buf = wk_malloc(65536), .cap = 65536};
    int rc = 1;
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, auth);
    h = curl_slist_append(h, "Content-Type: text/csv");
    if (b.buf && c) {
        b.buf[0] = 0;
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, bill);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)blen);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, recon__write);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 120000L);
        CURLcode cr = curl_easy_perform(c);
        long status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        json_error_t je;
        json_t *j = status == 200 ? json_loads(b.buf, 0, &je) : NULL;
        if (cr != CURLE_OK) {
            fprintf(stderr, "wattkeeper reconcile: %s: %s\n", url, curl_easy_strerror(cr));
        } else if (!j) {
            fprintf(stderr, "wattkeeper reconcile: HTTP %ld: %s\n", status, b.buf);
        } else {
            static const char *const keys[] = {"bill_payments", "bill_refunds", "matched", "credited_from_bill",
                                               "unattributable", "unknown_to_channel", "amount_mismatch",
                                               "refunds_unmatched"};
            long long alarms = 0;
            for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
                long long v = (long long)json_integer_value(json_object_get(j, keys[i]));
                printf("%s=%lld\n", keys[i], v);
                if (i >= 3)
                    alarms += v;
            }
            fputs(json_string_value(json_object_get(j, "discrepancies")), stdout);
            rc = alarms ? 3 : 0;
        }
        json_decref(j);
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    wk_free(b.buf);
    wk_free(bill);
    wk_free(token);
    return rc;
}
