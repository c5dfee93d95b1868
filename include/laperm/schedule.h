/* Schedules by epoch (0-based): the learning rate (constant, exponential, or steps) and
 * LaPerm's sync period k (--k-steps). */
#ifndef LAPERM_SCHEDULE_H
#define LAPERM_SCHEDULE_H

#include <stddef.h>

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

/* LaPerm's sync period by epoch (--k-steps, the authors' k_schedule): from epoch[i] on, k
 * is k[i]; before the first listed epoch (or with n 0) it is the base k (--k). The sync
 * comes right after the optimizer step whenever step % k(epoch) == 0, step counted from 1
 * over the whole run. */
#define LP_MAX_K_STEPS 16
typedef struct {
    int n;
    int epoch[LP_MAX_K_STEPS]; /* strictly ascending, 0 to 1000000 */
    int k[LP_MAX_K_STEPS];     /* 1 to 1000000000 */
} lp_k_schedule;

/* Parses "0:20,10:100,20:400" (EPOCH:K, epochs strictly ascending, K >= 1); a refusal
 * names --k-steps. */
lp_status lp_k_parse_steps(const char *text, lp_k_schedule *s);
/* k at an epoch: the schedule's, or base_k where it has none. */
int lp_k_at(const lp_k_schedule *s, int base_k, int epoch);
/* "0:20,10:100" as parsed ("" for none) into buf of cap bytes, truncated. */
void lp_k_steps_text(const lp_k_schedule *s, char *buf, size_t cap);

#endif
