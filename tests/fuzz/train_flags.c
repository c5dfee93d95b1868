/* laperm train's flag parser (host/cli/train_options.c) on any argument list: the input's
 * lines are the arguments. Accepted flags give a configuration within the ranges the
 * options state; everything else is an exit status 2 (or -1 after --help). */
#include "cli/train_options.h"
#include "fuzz.h"

#define MAX_ARGS_ 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = fuzz_text(data, size);
    char *argv[MAX_ARGS_ + 1] = {"train"};
    int argc = 1;
    for (char *p = text; argc < MAX_ARGS_;) {
        argv[argc++] = p;
        char *nl = strchr(p, '\n');
        if (!nl) break;
        *nl = '\0';
        p = nl + 1;
    }
    cli_train_args a = {0};
    lp_train_config_defaults(&a.cfg);
    a.progress = "auto";
    int rc = cli_train_parse(argc, argv, &a);
    FUZZ_CHECK(rc == 0 || rc == 2 || rc == -1);
    if (rc == 0) {
        const lp_train_config *c = &a.cfg;
        FUZZ_CHECK(a.model || a.resume);
        FUZZ_CHECK(a.format && a.data);
        FUZZ_CHECK(c->batch >= 1 && c->epochs >= 1 && c->k >= 1 && c->eval_batch >= 0);
        FUZZ_CHECK(c->lr.base > 0 && c->l2_scale >= 0 && c->max_steps >= 0);
        FUZZ_CHECK(c->snapshot_every >= 0 && c->checkpoint_every >= 0 && c->eval_every >= 0);
        FUZZ_CHECK(c->inner && lp_optimizer_index(c->inner) >= 0);
        FUZZ_CHECK((unsigned)c->conv_algo < LP_CONV_ALGO_COUNT);
        FUZZ_CHECK(lp_augment_check(&c->augment) == LP_OK);
        FUZZ_CHECK(c->la_k >= 1 && c->la_alpha > 0 && c->la_alpha <= 1);
        FUZZ_CHECK(c->weight_decay >= 0 && c->weight_decay <= 1e6);
        FUZZ_CHECK(c->k_steps.n == 0 || c->laperm);
        FUZZ_CHECK(c->k_steps.n >= 0 && c->k_steps.n <= LP_MAX_K_STEPS);
        for (int i = 0; i < c->k_steps.n; ++i)
            FUZZ_CHECK(c->k_steps.k[i] >= 1 &&
                       (i == 0 || c->k_steps.epoch[i] > c->k_steps.epoch[i - 1]));
        const lp_init_override *o = &c->init_override;
        FUZZ_CHECK(o->keep >= 0 && o->keep <= 1 && o->keep_first >= 0 && o->keep_first <= 1);
        FUZZ_CHECK(o->opts.quantize == 0 || o->opts.quantize >= 2);
        FUZZ_CHECK(o->opts.values.n >= 0 && o->opts.values.n <= LP_INIT_VALUES_MAX);
        FUZZ_CHECK(!o->init_set || (unsigned)o->init < LP_INIT_KIND_COUNT);
        FUZZ_CHECK(!c->init_from_shuffle || c->init_from);
    }
    lp_clear_error();
    free(text);
    return 0;
}
