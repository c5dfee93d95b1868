/* laperm train's initial-weight options (--init, --init-value, --init-values, --quantize,
 * --keep, --keep-first, --init-from, --init-from-shuffle): their values and how they
 * combine. The rows --help prints are in train_options.c. */
#ifndef LAPERM_CLI_TRAIN_INIT_H
#define LAPERM_CLI_TRAIN_INIT_H

#include <stdbool.h>

#include "laperm/train.h"

/* Whether `opt` is one of those options. */
bool cli_init_is_option(const char *opt);
/* Reads option `opt` with value `v` (NULL for a switch) into c; false after printing what
 * was wrong. */
bool cli_init_option(const char *opt, const char *v, lp_train_config *c);
/* After every option: false after printing a combination that cannot work. */
bool cli_init_check(const lp_train_config *c);

#endif
