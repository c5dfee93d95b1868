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

#endif
