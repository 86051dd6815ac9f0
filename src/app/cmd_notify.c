/*
 * cmd_notify.c - `wattkeeper notify`: manage who is notified and look at the outbox.
 *
 *   notify contact --db URL (--account ID | --community NAME) --channel C --address A
 *                  [--lang en|zh-CN] [--quiet HH:MM-HH:MM]
 *   notify list --db URL            one line per notification, oldest first
 *   notify check-templates DIR      validates DIR/en.json and DIR/zh-CN.json
 *
 * A client of src/notify; the web pages will offer the same later.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/args.h"
#include "app/cli.h"
#include "app/db.h"
#include "core/mem.h"
#include "notify/notify.h"

static void notify__usage(FILE *f)
{
    fprintf(f, "usage: wattkeeper notify contact --db URL (--account ID | --community NAME)\n"
               "                                --channel webhook|email|sms|wechat --address A\n"
               "                                [--lang en|zh-CN] [--quiet HH:MM-HH:MM]\n"
               "       wattkeeper notify list --db URL\n"
               "       wattkeeper notify check-templates DIR\n");
}

/* "HH:MM" -> minutes; -1 when malformed. */
static int notify__hhmm(const char *s)
{
    if (strlen(s) != 5 || s[2] != ':')
        return -1;
    for (int i = 0; i < 5; i++)
        if (i != 2 && (s[i] < '0' || s[i] > '9'))
            return -1;
    int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
    return h < 24 && m < 60 ? h * 60 + m : -1;
}

static int notify__contact(int argc, char **argv)
{
    wk_opt opts[] = {{"db", true, NULL},      {"account", true, NULL}, {"community", true, NULL},
                     {"channel", true, NULL}, {"address", true, NULL}, {"lang", true, NULL},
                     {"quiet", true, NULL}};
    size_t no = sizeof opts / sizeof opts[0];
    wk_args a;
    if (!wk_args_parse("notify contact", argc, argv, 2, opts, no, &a) || a.n_pos)
        return 2;
    const char *account = wk_args_get(opts, no, "account"), *community = wk_args_get(opts, no, "community"),
               *channel = wk_args_get(opts, no, "channel"), *address = wk_args_get(opts, no, "address"),
               *lang = wk_args_get(opts, no, "lang"), *quiet = wk_args_get(opts, no, "quiet");
    wk_notify_contact c = {.address = address, .lang = WK_NL_ZH};
    if (!channel || !address || !account == !community) {
        notify__usage(stderr);
        return 2;
    }
    if (wk_notify_channel_parse(channel, &c.channel)) {
        fprintf(stderr, "wattkeeper notify: --channel: webhook, email, sms or wechat\n");
        return 2;
    }
    if (lang && wk_notify_lang_parse(lang, &c.lang)) {
        fprintf(stderr, "wattkeeper notify: --lang: en or zh-CN\n");
        return 2;
    }
    if (quiet) {
        char from[8] = "", to[8] = "";
        const char *dash = strchr(quiet, '-');
        if (dash && dash - quiet == 5 && strlen(dash + 1) == 5) {
            memcpy(from, quiet, 5);
            memcpy(to, dash + 1, 5);
        }
        c.quiet_from_min = notify__hhmm(from);
        c.quiet_to_min = notify__hhmm(to);
        if (c.quiet_from_min < 0 || c.quiet_to_min < 0) {
            fprintf(stderr, "wattkeeper notify: --quiet: HH:MM-HH:MM, e.g. 22:00-07:30\n");
            return 2;
        }
    }
    wk_store *st;
    if (!wk_app_db_open(wk_args_get(opts, no, "db"), &st))
        return 1;
    int rc = 1;
    wk_diag d = {{0}};
    if (account) {
        char *end;
        long long v = strtoll(account, &end, 10);
        if (*end || v <= 0) {
            fprintf(stderr, "wattkeeper notify: --account: a positive account id\n");
            rc = 2;
            goto done;
        }
        c.account_id = v;
    } else {
        wk_stmt *s;
        bool row = false;
        if (!wk_store_prepare(st, "SELECT id FROM community WHERE name = ?", &s, &d) &&
            !wk_stmt_bind_text(s, 1, community, strlen(community)) && !wk_stmt_step(s, &row, &d) &&
            row)
            c.community_id = wk_stmt_i64(s, 0);
        wk_stmt_reset(s);
        if (!c.community_id) {
            fprintf(stderr, "wattkeeper notify: no community named '%s'\n", community);
            goto done;
        }
    }
    int64_t id = 0;
    wk_err e = wk_notify_contact_add(st, &c, &id, &d);
    if (e) {
        fprintf(stderr, "wattkeeper notify: %s (%s)\n", d.msg, wk_err_str(e));
        goto done;
    }
    printf("contact %lld\n", (long long)id);
    rc = 0;
done:
    wk_store_close(st);
    return rc;
}

static int notify__list(int argc, char **argv)
{
    wk_opt opts[] = {{"db", true, NULL}};
    wk_args a;
    if (!wk_args_parse("notify list", argc, argv, 2, opts, 1, &a) || a.n_pos)
        return 2;
    wk_store *st;
    if (!wk_app_db_open(wk_args_get(opts, 1, "db"), &st))
        return 1;
    wk_diag d = {{0}};
    wk_stmt *s;
    bool row = false;
    wk_err e = wk_store_prepare(st,
                                "SELECT id, event_id, kind, channel, lang, address, state, attempts,"
                                " idem_key FROM notification ORDER BY id",
                                &s, &d);
    while (!e && !(e = wk_stmt_step(s, &row, &d)) && row)
        printf("%lld event=%lld kind=%s channel=%s lang=%s address=%s state=%s attempts=%lld key=%s\n",
               (long long)wk_stmt_i64(s, 0), (long long)wk_stmt_i64(s, 1), wk_stmt_text(s, 2, NULL),
               wk_stmt_text(s, 3, NULL), wk_stmt_text(s, 4, NULL), wk_stmt_text(s, 5, NULL),
               wk_stmt_text(s, 6, NULL), (long long)wk_stmt_i64(s, 7), wk_stmt_text(s, 8, NULL));
    if (!e || s)
        wk_stmt_reset(s);
    wk_store_close(st);
    if (e) {
        fprintf(stderr, "wattkeeper notify: %s\n", d.msg);
        return 1;
    }
    return 0;
}

static int notify__check(int argc, char **argv)
{
    if (argc != 3) {
        notify__usage(stderr);
        return 2;
    }
    wk_notify_templates *t = wk_calloc(1, sizeof *t);
    if (!t)
        return 1;
    wk_diag d = {{0}};
    wk_err e = wk_notify_templates_load(argv[2], t, &d);
    wk_free(t);
    if (e) {
        fprintf(stderr, "wattkeeper notify: %s\n", d.msg);
        return 1;
    }
    printf("templates ok\n");
    return 0;
}

int wk_cmd_notify(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        notify__usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "contact"))
        return notify__contact(argc, argv);
    if (!strcmp(argv[1], "list"))
        return notify__list(argc, argv);
    if (!strcmp(argv[1], "check-templates"))
        return notify__check(argc, argv);
    notify__usage(stderr);
    return 2;
}
