/* laperm train's options: the one table --help prints and the parser accepts, built from
 * the library's tables (datasets, optimizers, schedules, conv paths, GEMM modes). */
#ifndef LAPERM_CLI_TRAIN_OPTIONS_H
#define LAPERM_CLI_TRAIN_OPTIONS_H

#include <stdbool.h>

#include "laperm/data.h"
#include "laperm/train.h"

typedef struct {
    const char *model, *data, *out, *device, *progress, *gemm, *resume, *replay;
    const lp_dataset_format *format;
    lp_bits bits; /* --bits, for the runtime (laperm/runtime.h) */
    bool no_out, profile;
    bool json;       /* --json: the end-of-run summary as JSON on stdout, the rest on stderr */
    bool verbose;    /* --verbose: the OpenCL compiler's own output too */
    bool loss_given; /* --loss: overrides the model file's `loss` */
    long long train_subset, test_subset;
    lp_train_config cfg;
} cli_train_args;

/* Parses argv[1..argc) into *a (which holds the defaults: lp_train_config_defaults and
 * progress "auto"). Returns 0 to go on, -1 after printing --help, or an exit status after
 * printing what was wrong. */
int cli_train_parse(int argc, char **argv, cli_train_args *a);

#endif
