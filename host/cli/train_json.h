/* laperm train --json: the end-of-run summary as one JSON object. */
#ifndef LAPERM_CLI_TRAIN_JSON_H
#define LAPERM_CLI_TRAIN_JSON_H

#include <stdio.h>

#include "laperm/runtime.h"
#include "train_options.h"

/* status: "done", "interrupted" or "diverged"; seconds: from process start to the end;
 * startup: to the first completed step; regression: the data has float targets. */
void cli_train_json(FILE *f, const cli_train_args *a, const lp_train_result *r,
                    const lp_device_info *dev, const char *status, bool regression, double seconds,
                    double startup);

#endif
