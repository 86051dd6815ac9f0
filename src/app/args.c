/*
 * args.c - option parsing for subcommands (see args.h). No allocation.
 */
#include "app/args.h"

#include <stdio.h>
#include <string.h>

bool wk_args_parse(const char *cmd, int argc, char **argv, int first, wk_opt *opts, size_t n_opts,
                   wk_args *out)
{
    out->n_pos = 0;
    for (size_t i = 0; i < n_opts; i++)
        opts[i].value = NULL;
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) || !a[2]) {
            if (out->n_pos == WK_ARGS_POS_MAX) {
                fprintf(stderr, "%s: too many arguments\n", cmd);
                return false;
            }
            out->pos[out->n_pos++] = a;
            continue;
        }
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        wk_opt *o = NULL;
        for (size_t j = 0; j < n_opts; j++)
            if (strlen(opts[j].name) == nlen && !strncmp(opts[j].name, name, nlen))
                o = &opts[j];
        if (!o) {
            fprintf(stderr, "%s: unknown option --%.*s\n", cmd, (int)nlen, name);
            return false;
        }
        if (!o->takes_value) {
            if (eq) {
                fprintf(stderr, "%s: --%s takes no value\n", cmd, o->name);
                return false;
            }
            o->value = "";
            continue;
        }
        if (eq) {
            o->value = eq + 1;
        } else if (i + 1 < argc) {
            o->value = argv[++i];
        } else {
            fprintf(stderr, "%s: --%s needs a value\n", cmd, o->name);
            return false;
        }
    }
    return true;
}

const char *wk_args_get(const wk_opt *opts, size_t n_opts, const char *name)
{
    for (size_t i = 0; i < n_opts; i++)
        if (!strcmp(opts[i].name, name))
            return opts[i].value;
    return NULL;
}
