/*
 * main.c - entry point of the `wattkeeper` binary: dispatches to a subcommand. Owns no
 * logic of its own; every subcommand is a thin client of libwk (like curl's tool).
 */
#include <stdio.h>
#include <string.h>

#include "app/cli.h"

typedef struct cmd {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} cmd;

static const cmd commands[] = {
    {"version", wk_cmd_version, "print the version"},
    {"serve", wk_cmd_serve, "run the platform: head-end, rating, ledger, HTTP"},
    {"rate", wk_cmd_rate, "rate cumulative register readings under a tariff"},
    {"migrate", wk_cmd_migrate, "apply pending database schema migrations"},
    {"ledger", wk_cmd_ledger, "accounts, transfers, receipts, checkpoints, verify"},
    {"receipt", wk_cmd_receipt, "verify a transfer receipt offline"},
    {"dlt645", wk_cmd_dlt645, "decode or encode one DL/T 645-2007 frame"},
    {"seed", wk_cmd_seed, "create communities, meters and accounts from a seed file"},
    {"credit", wk_cmd_credit, "credit an account through a running serve (closes the relay)"},
    {"reconcile", wk_cmd_reconcile, "reconcile a channel's daily bill through a running serve"},
    {"paysim", wk_cmd_paysim, "sandbox stand-in for WeChat Pay / Alipay: keys and signed notifications"},
    {"user", wk_cmd_user, "add a staff or resident login"},
    {"sim", wk_cmd_sim, "run a fleet of simulated meters against an MQTT broker"},
    {"notify", wk_cmd_notify, "notification contacts, the outbox, template checks"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: wattkeeper <command> [options]\n\n"
               "Wattkeeper - prepaid electricity platform.\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'wattkeeper <command> --help' shows a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version"))
        return wk_cmd_version(argc - 1, argv + 1);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "wattkeeper: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
