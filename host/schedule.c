/* Learning-rate schedules (see include/laperm/schedule.h): one row per kind in table_,
 * which the command line and the results file read their names and flags from; and
 * LaPerm's k by epoch (--k-steps), a sibling with one kind. */
#include "laperm/schedule.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static double constant_at_(const lp_lr_schedule *s, int epoch) {
    (void)epoch;
    return s->base;
}

static double exponential_at_(const lp_lr_schedule *s, int epoch) {
    return s->base * pow(s->decay, epoch);
}

static double steps_at_(const lp_lr_schedule *s, int epoch) {
    double f = 1.0;
    for (int i = 0; i < s->n_steps; ++i)
        if (epoch >= s->step_epoch[i]) f = s->step_factor[i];
    return s->base * f;
}

static const lp_lr_schedule_kind table_[] = {
    [LP_LR_CONSTANT] = {LP_LR_CONSTANT, "constant", NULL, NULL, NULL, NULL, NULL, constant_at_},
    [LP_LR_EXPONENTIAL] = {LP_LR_EXPONENTIAL, "exponential", "--lr-decay", "X", "1",
                           "exponential schedule: lr * X^epoch (1: constant)", lp_lr_parse_decay,
                           exponential_at_},
    [LP_LR_STEPS] = {LP_LR_STEPS, "steps", "--lr-steps", "LIST", "(none)",
                     "step schedule EPOCH:FACTOR,..., e.g. 80:0.1,120:0.01", lp_lr_parse_steps,
                     steps_at_},
};
#define N_ ((int)(sizeof table_ / sizeof table_[0]))

const lp_lr_schedule_kind *lp_lr_schedule_at(int i) {
    return i >= 0 && i < N_ ? &table_[i] : NULL;
}

const char *lp_lr_kind_name(lp_lr_kind kind) {
    const lp_lr_schedule_kind *k = lp_lr_schedule_at((int)kind);
    return k ? k->name : "unknown";
}

double lp_lr_at(const lp_lr_schedule *s, int epoch) {
    const lp_lr_schedule_kind *k = lp_lr_schedule_at((int)s->kind);
    return k ? k->at(s, epoch) : s->base;
}

lp_status lp_lr_parse_decay(const char *text, lp_lr_schedule *s) {
    const char *opt = table_[LP_LR_EXPONENTIAL].option;
    const double lo = 1e-9, hi = 10;
    char *end;
    errno = 0;
    double d = strtod(text, &end);
    if (end == text || *end || errno || !isfinite(d) || d < lo || d > hi)
        return lp_fail(LP_ERR_INVALID_ARG, "%s: expected a number from %g to %g, got '%s'", opt, lo,
                       hi, text);
    s->decay = d;
    if (d != 1.0) s->kind = LP_LR_EXPONENTIAL;
    return LP_OK;
}

lp_status lp_lr_parse_steps(const char *text, lp_lr_schedule *s) {
    const char *opt = table_[LP_LR_STEPS].option;
    s->n_steps = 0;
    const char *p = text;
    while (*p) {
        if (s->n_steps == LP_MAX_LR_STEPS)
            return lp_fail(LP_ERR_INVALID_ARG, "%s: at most %d steps", opt, LP_MAX_LR_STEPS);
        char *end;
        errno = 0;
        long e = strtol(p, &end, 10);
        if (end == p || *end != ':' || errno || e < 0 || e > 1000000)
            return lp_fail(LP_ERR_INVALID_ARG,
                           "%s '%s': expected EPOCH:FACTOR[,EPOCH:FACTOR...], e.g. "
                           "80:0.1,120:0.01",
                           opt, text);
        p = end + 1;
        double f = strtod(p, &end);
        if (end == p || !(f > 0) || !isfinite(f) || (*end != ',' && *end != '\0'))
            return lp_fail(LP_ERR_INVALID_ARG,
                           "%s '%s': factor after '%ld:' must be a positive number", opt, text, e);
        if (s->n_steps > 0 && e <= s->step_epoch[s->n_steps - 1])
            return lp_fail(LP_ERR_INVALID_ARG, "%s '%s': epochs must be ascending", opt, text);
        s->step_epoch[s->n_steps] = (int)e;
        s->step_factor[s->n_steps] = f;
        s->n_steps++;
        p = *end == ',' ? end + 1 : end;
    }
    if (s->n_steps == 0) return lp_fail(LP_ERR_INVALID_ARG, "%s: empty list", opt);
    s->kind = LP_LR_STEPS;
    return LP_OK;
}

/* ---- LaPerm's k by epoch ------------------------------------------------------------- */

#define K_OPTION_ "--k-steps"

lp_status lp_k_parse_steps(const char *text, lp_k_schedule *s) {
    s->n = 0;
    const char *p = text;
    while (*p) {
        if (s->n == LP_MAX_K_STEPS)
            return lp_fail(LP_ERR_INVALID_ARG, "%s: at most %d entries", K_OPTION_, LP_MAX_K_STEPS);
        char *end;
        errno = 0;
        long e = isdigit((unsigned char)*p) ? strtol(p, &end, 10) : -1;
        if (e < 0 || *end != ':' || errno || e > 1000000)
            return lp_fail(LP_ERR_INVALID_ARG,
                           "%s '%s': expected EPOCH:K[,EPOCH:K...] with 0-based epochs, e.g. "
                           "0:20,10:100,20:400",
                           K_OPTION_, text);
        p = end + 1;
        errno = 0;
        long k = isdigit((unsigned char)*p) ? strtol(p, &end, 10) : -1;
        if (k < 1 || errno || k > 1000000000 || (*end != ',' && *end != '\0'))
            return lp_fail(LP_ERR_INVALID_ARG,
                           "%s '%s': K after '%ld:' must be a whole number from 1 to 1000000000",
                           K_OPTION_, text, e);
        if (s->n > 0 && e <= s->epoch[s->n - 1])
            return lp_fail(LP_ERR_INVALID_ARG, "%s '%s': epochs must be ascending", K_OPTION_,
                           text);
        s->epoch[s->n] = (int)e;
        s->k[s->n] = (int)k;
        s->n++;
        p = *end == ',' ? end + 1 : end;
        if (*end == ',' && !*p)
            return lp_fail(LP_ERR_INVALID_ARG, "%s '%s': ends with a comma", K_OPTION_, text);
    }
    if (s->n == 0) return lp_fail(LP_ERR_INVALID_ARG, "%s: empty list", K_OPTION_);
    return LP_OK;
}

int lp_k_at(const lp_k_schedule *s, int base_k, int epoch) {
    int k = base_k;
    for (int i = 0; i < s->n; ++i)
        if (epoch >= s->epoch[i]) k = s->k[i];
    return k;
}

void lp_k_steps_text(const lp_k_schedule *s, char *buf, size_t cap) {
    size_t len = 0;
    if (cap) buf[0] = '\0';
    for (int i = 0; i < s->n && len < cap; ++i) {
        int w = snprintf(buf + len, cap - len, "%s%d:%d", i ? "," : "", s->epoch[i], s->k[i]);
        if (w < 0) break;
        len += (size_t)w;
    }
}
