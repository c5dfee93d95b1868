/* Subcommands of the laperm program; each returns the process exit status. */
#ifndef LAPERM_CLI_H
#define LAPERM_CLI_H

int cli_bench(int argc, char **argv);
int cli_check(int argc, char **argv);
int cli_devices(int argc, char **argv);
int cli_eval(int argc, char **argv);
int cli_export(int argc, char **argv);
int cli_pack(int argc, char **argv);
int cli_predict(int argc, char **argv);
int cli_summary(int argc, char **argv);
int cli_train(int argc, char **argv);
int cli_unpack(int argc, char **argv);

#endif
