/* laperm train's initial-weight options (train_init.h). */
#include "train_init.h"

#include <float.h>
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "laperm/init.h"

static const char *const options_[] = {
    "--init", "--init-value", "--init-values", "--quantize",
    "--keep", "--keep-first", "--init-from",   "--init-from-shuffle"};
#define N_OPTIONS_ (sizeof options_ / sizeof options_[0])

bool cli_init_is_option(const char *opt) {
    for (size_t i = 0; i < N_OPTIONS_; ++i)
        if (!strcmp(opt, options_[i])) return true;
    return false;
}

/* 0 < P <= 1 */
static bool keep_(const char *opt, const char *v, float *out) {
    double x;
    if (!arg_double("train", opt, v, 0, 1, &x)) return false;
    if (!(x > 0) || !((float)x > 0.0f)) {
        fprintf(stderr, "laperm train: %s: expected a fraction > 0 and <= 1, got '%s'\n", opt, v);
        return false;
    }
    *out = (float)x;
    return true;
}

bool cli_init_option(const char *opt, const char *v, lp_train_config *c) {
    lp_init_override *o = &c->init_override;
    double x;
    long long n;
    if (!strcmp(opt, "--init")) {
        char names[256];
        if (lp_init_find(v, strlen(v), LP_INIT_USE_KERNEL, &o->init)) return o->init_set = true;
        fprintf(stderr, "laperm train: --init: expected one of %s, got '%s'\n",
                lp_init_list(LP_INIT_USE_KERNEL, names, sizeof names), v);
        return false;
    }
    if (!strcmp(opt, "--init-value")) {
        if (!arg_double("train", opt, v, -FLT_MAX, FLT_MAX, &x)) return false;
        o->opts.value = (float)x + 0.0f;
        return true;
    }
    if (!strcmp(opt, "--init-values")) {
        if (lp_init_values_parse(v, strlen(v), &o->opts.values) == LP_OK) return true;
        fprintf(stderr, "laperm train: --init-values: %s\n", lp_last_error());
        return false;
    }
    if (!strcmp(opt, "--quantize")) {
        if (!arg_int("train", opt, v, 2, 1 << 24, &n)) return false;
        o->opts.quantize = (int)n;
        return true;
    }
    if (!strcmp(opt, "--keep")) return keep_(opt, v, &o->keep);
    if (!strcmp(opt, "--keep-first")) return keep_(opt, v, &o->keep_first);
    if (!strcmp(opt, "--init-from")) {
        c->init_from = v;
        return true;
    }
    if (!strcmp(opt, "--init-from-shuffle")) return c->init_from_shuffle = true;
    return false;
}

/* Prints "laperm train: <what>" and returns false. */
static bool refuse_(const char *what) {
    fprintf(stderr, "laperm train: %s\n", what);
    return false;
}

bool cli_init_check(const lp_train_config *c) {
    const lp_init_override *o = &c->init_override;
    bool constant = o->init_set && o->init == LP_INIT_CONSTANT;
    bool choice = o->init_set && o->init == LP_INIT_CHOICE;
    bool value = o->opts.value != 0.0f, values = o->opts.values.n > 0;
    bool any =
        o->init_set || value || values || o->opts.quantize || o->keep > 0 || o->keep_first > 0;
    if (constant && !value)
        return refuse_("--init constant needs --init-value V (a nonzero value)");
    if (value && !constant) return refuse_("--init-value is for --init constant: give that too");
    if (choice && !values) return refuse_("--init choice needs --init-values a,b,...");
    if (values && !choice) return refuse_("--init-values is for --init choice: give that too");
    if (c->init_from && any)
        return refuse_("--init-from gives the initial values: --init, --init-value, "
                       "--init-values, --quantize, --keep and --keep-first cannot be added");
    if (c->init_from_shuffle && !c->init_from)
        return refuse_("--init-from-shuffle shuffles the weights --init-from FILE loads: give "
                       "that too");
    if ((any || c->init_from_shuffle) && !c->laperm)
        return refuse_("--init, --init-value, --init-values, --quantize, --keep, --keep-first "
                       "and --init-from-shuffle act on the kernels LaPerm permutes: with a "
                       "plain --optimizer there are none (set the model file's keys instead)");
    return true;
}
