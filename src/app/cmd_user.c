/*
 * cmd_user.c - `wattkeeper user add LOGIN --role ROLE [--company NAME] [--account ID]
 * [--db URL]`: creates a staff or resident login. The password is read from the
 * environment variable WK_PASSWORD or, if unset, from the first line of standard input, so
 * it never appears in the process list or the shell history.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/auth.h"
#include "app/args.h"
#include "app/cli.h"
#include "app/db.h"
#include "core/units.h"

int wk_cmd_user(int argc, char **argv)
{
    wk_opt o[] = {{"db", true, NULL}, {"role", true, NULL}, {"company", true, NULL},
                  {"account", true, NULL}, {"help", false, NULL}};
    wk_args a;
    const char *usage = "usage: wattkeeper user add LOGIN --role admin|finance|service|technician|"
                        "resident [--company NAME] [--account ID] [--db URL]\n"
                        "       (password from WK_PASSWORD or the first line of stdin)\n";
    if (!wk_args_parse("user", argc, argv, 1, o, 5, &a) ||
        (!o[4].value && (a.n_pos != 2 || strcmp(a.pos[0], "add") || !o[1].value))) {
        fputs(usage, stderr);
        return 2;
    }
    if (o[4].value) {
        fputs(usage, stdout);
        return 0;
    }
    wk_diag d = {{0}};
    wk_role role;
    if (wk_role_parse(o[1].value, &role, &d)) {
        fprintf(stderr, "wattkeeper user: --%s\n", d.msg);
        return 2;
    }
    int64_t account = 0;
    if (o[3].value && (wk_dec_parse_str(o[3].value, 0, &account, &d) || account <= 0)) {
        fprintf(stderr, "wattkeeper user: --account: expected an account id\n");
        return 2;
    }
    char pw[256];
    const char *env = getenv("WK_PASSWORD");
    if (env) {
        snprintf(pw, sizeof pw, "%s", env);
    } else if (!fgets(pw, sizeof pw, stdin)) {
        fprintf(stderr, "wattkeeper user: no password on stdin\n");
        return 2;
    }
    pw[strcspn(pw, "\r\n")] = '\0';
    wk_store *st = NULL;
    if (!wk_app_db_open(o[0].value, &st))
        return 1;
    int rc = 1;
    int64_t company = 0, id = 0;
    wk_err e = wk_store_begin(st, &d);
    if (!e && o[2].value)
        e = wk_auth_company_add(st, o[2].value, &company, &d);
    if (!e)
        e = wk_auth_user_add(st, NULL, a.pos[1], pw, role, company, account, (int64_t)time(NULL),
                             &id, &d);
    if (!e)
        e = wk_store_commit(st, &d);
    else
        wk_store_rollback(st);
    if (e) {
        fprintf(stderr, "wattkeeper user: %s\n", d.msg);
    } else {
        printf("user %s (%s) id %lld\n", a.pos[1], wk_role_name(role), (long long)id);
        rc = 0;
    }
    memset(pw, 0, sizeof pw);
    wk_store_close(st);
    return rc;
}
