/*
 * cli.h - the subcommands of the `wattkeeper` binary. Each lives in its own cmd_<name>.c,
 * takes the arguments after its name (argv[0] is the subcommand name) and returns the
 * process exit code: 0 success, 1 the input was rejected or a check failed, 2 usage error.
 */
#ifndef WK_APP_CLI_H
#define WK_APP_CLI_H

int wk_cmd_version(int argc, char **argv);
int wk_cmd_rate(int argc, char **argv);
int wk_cmd_migrate(int argc, char **argv);
int wk_cmd_ledger(int argc, char **argv);
int wk_cmd_receipt(int argc, char **argv);
int wk_cmd_dlt645(int argc, char **argv);
int wk_cmd_seed(int argc, char **argv);
int wk_cmd_credit(int argc, char **argv);
int wk_cmd_serve(int argc, char **argv);
int wk_cmd_paysim(int argc, char **argv);
int wk_cmd_reconcile(int argc, char **argv);
int wk_cmd_user(int argc, char **argv);
int wk_cmd_sim(int argc, char **argv);
int wk_cmd_notify(int argc, char **argv);


#endif
