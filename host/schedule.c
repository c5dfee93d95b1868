/* Learning-rate schedules (see include/laperm/schedule.h). */
#include "laperm/schedule.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

double lp_lr_at(const lp_lr_schedule *s, int epoch) {
    switch (s->kind) {
    case LP_LR_CONSTANT: return s->base;
    case LP_LR_EXPONENTIAL: return s->base * pow(s->decay, epoch);
    case LP_LR_STEPS: {
        double f = 1.0;
        for (int i = 0; i < s->n_steps; ++i)
            if (epoch >= s->step_epoch[i]) f = s->step_factor[i];
        return s->base * f;
    }
    }
    return s->base;
}

lp_status lp_lr_parse_steps(const char *text, lp_lr_schedule *s) {
    s->n_steps = 0;
    const char *p = text;
    while (*p) {
        if (s->n_steps == LP_MAX_LR_STEPS)
            return lp_fail(LP_ERR_INVALID_ARG, "--lr-steps: at most %d steps", LP_MAX_LR_STEPS);
        char *end;
        errno = 0;
        long e = strtol(p, &end, 10);
        if (end == p || *end != ':' || errno || e < 0 || e > 1000000)
            return lp_fail(LP_ERR_INVALID_ARG,
                           "--lr-steps '%s': expected EPOCH:FACTOR[,EPOCH:FACTOR...], e.g. "
                           "80:0.1,120:0.01",
                           text);
        p = end + 1;
        double f = strtod(p, &end);
        if (end == p || !(f > 0) || !isfinite(f) || (*end != ',' && *end != '\0'))
            return lp_fail(LP_ERR_INVALID_ARG,
                           "--lr-steps '%s': factor after '%ld:' must be a positive number", text,
                           e);
        if (s->n_steps > 0 && e <= s->step_epoch[s->n_steps - 1])
            return lp_fail(LP_ERR_INVALID_ARG, "--lr-steps '%s': epochs must be ascending", text);
        s->step_epoch[s->n_steps] = (int)e;
        s->step_factor[s->n_steps] = f;
        s->n_steps++;
        p = *end == ',' ? end + 1 : end;
    }
    if (s->n_steps == 0) return lp_fail(LP_ERR_INVALID_ARG, "--lr-steps: empty list");
    s->kind = LP_LR_STEPS;
    return LP_OK;
}
