/* Learning-rate schedules by epoch (0-based): constant, exponential, or steps. */
#ifndef LAPERM_SCHEDULE_H
#define LAPERM_SCHEDULE_H

#include "laperm/status.h"

#define LP_MAX_LR_STEPS 16

typedef enum { LP_LR_CONSTANT, LP_LR_EXPONENTIAL, LP_LR_STEPS } lp_lr_kind;

typedef struct {
    lp_lr_kind kind;
    double base;  /* learning rate at epoch 0 */
    double decay; /* exponential: lr = base * decay^epoch */
    int n_steps;  /* steps: lr = base * factor[i] from epoch[i] on (epochs ascending) */
    int step_epoch[LP_MAX_LR_STEPS];
    double step_factor[LP_MAX_LR_STEPS];
} lp_lr_schedule;

double lp_lr_at(const lp_lr_schedule *s, int epoch);

/* Parses "80:0.1,120:0.01" (epoch:factor, epochs strictly ascending, factors > 0). */
lp_status lp_lr_parse_steps(const char *text, lp_lr_schedule *s);
/* Parses a decay from 1e-9 to 10: exponential, or constant for exactly 1. */
lp_status lp_lr_parse_decay(const char *text, lp_lr_schedule *s);

/* The kinds, one row each in host/schedule.c: the name the results file records
 * (`lr_schedule`), the command-line flag that selects the kind with its --help text
 * (option NULL: the default, which no flag selects), how the flag's value is parsed into
 * a schedule (base is kept) and the rate at an epoch. */
typedef struct {
    lp_lr_kind kind;
    const char *name;
    const char *option, *metavar, *def, *help;
    lp_status (*parse)(const char *text, lp_lr_schedule *s);
    double (*at)(const lp_lr_schedule *s, int epoch);
} lp_lr_schedule_kind;

/* Row i (in lp_lr_kind order), NULL past the end. */
const lp_lr_schedule_kind *lp_lr_schedule_at(int i);
/* "constant", "exponential", "steps"; "unknown" for a value outside the enum. */
const char *lp_lr_kind_name(lp_lr_kind kind);

#endif
