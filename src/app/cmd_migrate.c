/* cmd_migrate.c - `wattkeeper migrate [--db URL]`: applies pending schema migrations. */
#include <stdio.h>

#include "app/args.h"
#include "app/cli.h"
#include "app/db.h"

int wk_cmd_migrate(int argc, char **argv)
{
    wk_opt opts[] = {{"db", true, NULL}, {"help", false, NULL}};
    wk_args a;
    wk_store *st = NULL;
    wk_diag d = {{0}};
    int32_t n = 0;
    if (!wk_args_parse("migrate", argc, argv, 1, opts, 2, &a) || a.n_pos) {
        fprintf(stderr, "usage: wattkeeper migrate [--db URL]\n");
        return 2;
    }
    if (opts[1].value) {
        printf("usage: wattkeeper migrate [--db URL]\n"
               "Applies every pending schema migration (URL: PATH or sqlite:PATH).\n");
        return 0;
    }
    wk_store_opts o = {.busy_timeout_ms = 10000, .migrate = false, .create = true};
    const char *url = opts[0].value ? opts[0].value : WK_APP_DB_DEFAULT;
    wk_err e = wk_store_open(url, &o, NULL, 0, &st, &d);
    if (!e)
        e = wk_store_migrate(st, wk_app_schemas, wk_app_n_schemas, &n, &d);
    wk_store_close(st);
    if (e) {
        fprintf(stderr, "migrate: %s (%s)\n", d.msg, wk_err_str(e));
        return 1;
    }
    printf("migrate: %d migration%s applied\n", n, n == 1 ? "" : "s");
    return 0;
}
