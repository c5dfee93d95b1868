/* JSON output of the subcommands (--json): strings escaped, numbers that JSON can hold. */
#ifndef LAPERM_CLI_JSON_H
#define LAPERM_CLI_JSON_H

#include <stdio.h>

/* s as a JSON string, quotes included. */
void cli_json_string(FILE *f, const char *s);
/* x with every significant digit (%.17g), or null when it is not finite. */
void cli_json_number(FILE *f, double x);

#endif
