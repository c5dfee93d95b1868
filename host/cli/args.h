/* Strict parsing of option values: every failure names the option and what it expects. */
#ifndef LAPERM_CLI_ARGS_H
#define LAPERM_CLI_ARGS_H

#include <stdbool.h>

/* Each returns false after printing "laperm CMD: --opt: expected ..., got '...'". */
bool arg_int(const char *cmd, const char *opt, const char *text, long long min, long long max,
             long long *out);
bool arg_double(const char *cmd, const char *opt, const char *text, double min, double max,
                double *out);
/* Index of `text` in the NULL-terminated `choices`, or -1 after printing the choices. */
int arg_choice(const char *cmd, const char *opt, const char *text, const char *const *choices);

#endif
