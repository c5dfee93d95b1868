/* Strict parsing of option values: every failure names the option and what it expects.
 * And the one walk over a subcommand's arguments: its table of flags, "--flag value" and
 * "--flag=value", switches, and "did you mean" for a flag that is not in the table. */
#ifndef LAPERM_CLI_ARGS_H
#define LAPERM_CLI_ARGS_H

#include <stdbool.h>
#include <stddef.h>

/* Each returns false after printing "laperm CMD: --opt: expected ..., got '...'". */
bool arg_int(const char *cmd, const char *opt, const char *text, long long min, long long max,
             long long *out);
bool arg_double(const char *cmd, const char *opt, const char *text, double min, double max,
                double *out);
/* Index of `text` in the NULL-terminated `choices`, or -1 after printing the choices. */
int arg_choice(const char *cmd, const char *opt, const char *text, const char *const *choices);

/* The entry of `n` names closest to `word` by edit distance (a swap of two neighbouring
 * characters counts once), or NULL when none is near enough to be a typo. Each name is
 * the first member (a const char *) of an element of `stride` bytes from `table`, so the
 * command table and flag tables are searched as they are. */
const char *cli_closest(const char *word, const void *table, int n, size_t stride);

/* One flag a subcommand accepts; metavar "" for a switch (it takes no value). */
typedef struct {
    const char *name, *metavar;
} cli_flag;

typedef struct {
    const char *cmd; /* the subcommand, for messages: "train" */
    const cli_flag *flags;
    int n_flags;
    int argc, i; /* argv[i] is the next argument; start with i = 1 */
    char **argv;
    char split[96]; /* the flag part of the last "--flag=value" */
} cli_args;

typedef enum { CLI_ARG_END, CLI_ARG_FLAG, CLI_ARG_POSITIONAL, CLI_ARG_HELP, CLI_ARG_ERROR } cli_arg;

/* The next argument. CLI_ARG_FLAG: *flag is its table row, *value its value ("--flag
 * value" or "--flag=value"; NULL for a switch). CLI_ARG_POSITIONAL: *value is the
 * argument ("-" alone counts as one). CLI_ARG_HELP: -h or --help. CLI_ARG_ERROR after
 * printing what was wrong (an unknown flag with the closest one, a missing value, a value
 * given to a switch); the caller exits 2. */
cli_arg cli_args_next(cli_args *a, const cli_flag **flag, const char **value);

/* The whole parse of a subcommand whose one flag is --json: -h prints `help`; `usage` is
 * quoted in errors; with positional NULL no argument is accepted, else one, into
 * *positional. Returns 0 to go on, -1 after the help, 2 after an error. */
int cli_args_json_only(const char *cmd, int argc, char **argv, const char *help, const char *usage,
                       bool *json, const char **positional);

/* One row of a --help table: "  LHS  first line of help [default: DEF]", then the help's
 * further lines indented below it. */
void arg_help_row(const char *lhs, const char *help, const char *def);

#endif
