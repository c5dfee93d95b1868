/* Limits on timed choices (the GEMM variant and, with --fast, the [conv2d] path of a
 * shape): the seconds of timed runs one decision may take, and a stop flag that ends
 * timing at the next run. Kept per runtime; until set, $LAPERM_TUNE_BUDGET (a bad value:
 * the default) and no flag. */
#ifndef LAPERM_TUNE_H
#define LAPERM_TUNE_H

#include <signal.h>

#include "laperm/runtime.h"

/* Seconds of timed runs per decision, unless $LAPERM_TUNE_BUDGET says otherwise. */
#define LP_TUNE_BUDGET_DEFAULT 2.0

typedef struct {
    double budget; /* seconds of timed runs per decision, > 0 (program builds not counted) */
    /* Non-zero (a signal handler sets it): time nothing more; each decision then takes the
     * fastest candidate timed so far, or its first. May be NULL. */
    const volatile sig_atomic_t *stop;
} lp_tune_limits;

lp_status lp_tune_set_limits(lp_runtime *rt, const lp_tune_limits *limits);
lp_tune_limits lp_tune_get_limits(lp_runtime *rt);

/* $LAPERM_TUNE_BUDGET (seconds, a number > 0 and at most 3600), else the default. Another
 * value is LP_ERR_INVALID_ARG naming the variable and what was expected. */
lp_status lp_tune_budget_from_env(double *out);

#endif
