/*
 * args.h - the small option parser shared by subcommands: "--name value", "--name=value",
 * boolean "--flag", and positional arguments, with a fixed table per command. Errors are
 * printed naming the option; the caller exits with 2.
 */
#ifndef WK_APP_ARGS_H
#define WK_APP_ARGS_H

#include <stdbool.h>
#include <stddef.h>

#define WK_ARGS_POS_MAX 8

typedef struct wk_opt {
    const char *name;   /* without the leading "--" */
    bool takes_value;
    const char *value;  /* out: the value, or "" for a flag that was given; NULL if absent */
} wk_opt;

typedef struct wk_args {
    const char *pos[WK_ARGS_POS_MAX];
    size_t n_pos;
} wk_args;

/* Parses argv[first..argc) against opts. Returns false (after printing why to stderr,
 * prefixed with cmd) on an unknown option, a missing value or too many positionals. */
bool wk_args_parse(const char *cmd, int argc, char **argv, int first, wk_opt *opts, size_t n_opts,
                   wk_args *out);

/* The value of option name, or NULL. */
const char *wk_args_get(const wk_opt *opts, size_t n_opts, const char *name);

#endif
