/* The run a results file records, as laperm eval and predict repeat its evaluation
 * (use_options.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "laperm/gemm.h"
#include "laperm/results.h"
#include "train_resume.h"
#include "use_options.h"

int cli_use_recorded_read(const char *name, const char *path, const lp_weights_origin *origin,
                          const lp_model_spec *model, cli_use_recorded *r) {
    memset(r, 0, sizeof *r);
    if (strcmp(origin->kind, "results") != 0) return 0;
    struct {
        const char *attr;
        char **s;
    } strs[] = {{"dataset", &r->dataset},
                {"data_dir", &r->data_dir},
                {"normalize", &r->normalize},
                {"loss", &r->loss},
                {"conv_algo", &r->conv_algo},
                {"conv_paths", &r->conv_paths},
                {"gemm_choices", &r->gemm_choices},
                {"gemm_mode", &r->gemm_mode},
                {"test_data_hash", &r->test_data_hash}};
    struct {
        const char *attr;
        long long *v;
    } ints[] = {{"train_images", &r->train_images},
                {"test_images", &r->test_images},
                {"batch", &r->batch},
                {"eval_batch", &r->eval_batch},
                {"fast", &r->fast}};
    /* Older files lack some (gemm_choices comes at finish): those stay empty. */
    for (size_t i = 0; i < sizeof strs / sizeof *strs; ++i)
        if (lp_results_read_string(path, "/", strs[i].attr, strs[i].s) != LP_OK) lp_clear_error();
    for (size_t i = 0; i < sizeof ints / sizeof *ints; ++i)
        if (lp_results_read_attr_int(path, "/", ints[i].attr, ints[i].v) != LP_OK) lp_clear_error();
    if (r->conv_paths && r->conv_paths[0]) {
        r->layer_algo = calloc((size_t)model->n_layers, sizeof *r->layer_algo);
        if (!r->layer_algo || cli_replay_conv(path, model, r->layer_algo)) {
            fprintf(stderr, "laperm %s: %s: cannot replay its convolution paths\n", name, path);
            cli_use_recorded_free(r);
            return 1;
        }
    }
    return 0;
}

void cli_use_recorded_free(cli_use_recorded *r) {
    char *s[] = {r->dataset,    r->data_dir,     r->normalize, r->loss,          r->conv_algo,
                 r->conv_paths, r->gemm_choices, r->gemm_mode, r->test_data_hash};
    for (size_t i = 0; i < sizeof s / sizeof *s; ++i)
        free(s[i]);
    free(r->layer_algo);
    memset(r, 0, sizeof *r);
}

void cli_use_eval_config(const cli_use_args *a, const cli_use_recorded *r, lp_eval_config *c) {
    memset(c, 0, sizeof *c);
    const char *norm = a->normalize ? a->normalize : r->normalize;
    if (norm && lp_norm_mode_parse(norm, &c->norm) != LP_OK) lp_clear_error();
    c->loss = r->loss ? lp_loss_find(r->loss) : NULL;
    c->eval_batch = (int)(a->eval_batch ? a->eval_batch : r->eval_batch);
    c->tune_batch = (int)r->batch;
    for (int i = 0; r->conv_algo && i < LP_CONV_ALGO_COUNT; ++i)
        if (!strcmp(lp_conv_algo_name((lp_conv_algo)i), r->conv_algo))
            c->conv_algo = (lp_conv_algo)i;
    c->fast = r->fast != 0;
    c->layer_algo = r->layer_algo;
    c->replay_gemm = r->gemm_choices && r->gemm_choices[0] ? r->gemm_choices : NULL;
}

int cli_use_open(const char *name, unsigned cmd, int argc, char **argv, cli_use *u) {
    memset(u, 0, sizeof *u);
    int rc = cli_use_parse(name, cmd, argc, argv, &u->a);
    if (rc) return rc;
    if ((rc = cli_use_load(name, &u->a, &u->model, &u->w, &u->origin))) return rc;
    if (cmd != CLI_USE_EXPORT &&
        (rc = cli_use_recorded_read(name, u->a.weights, &u->origin, &u->model, &u->rec))) {
        lp_weights_free(&u->w);
        lp_model_free(&u->model);
        return rc;
    }
    cli_use_eval_config(&u->a, &u->rec, &u->cfg);
    u->cfg.partial_state = u->origin.partial_state;
    u->cfg.weights_name = u->a.weights;
    return 0;
}

void cli_use_close(cli_use *u) {
    cli_use_recorded_free(&u->rec);
    lp_weights_free(&u->w);
    lp_model_free(&u->model);
}

lp_status cli_use_evaluate(cli_use *u, const lp_dataset *norm_from, const lp_dataset *data,
                           lp_eval_result *r) {
    lp_runtime *rt = NULL;
    lp_runtime_options ro = {.device = u->a.device};
    LP_TRY(lp_runtime_create(&ro, &rt));
    lp_gemm_mode mode;
    if (u->rec.gemm_mode && lp_gemm_mode_parse(u->rec.gemm_mode, &mode)) lp_gemm_set_mode(rt, mode);
    lp_status s = lp_evaluate(rt, &u->model, &u->w, norm_from, data, &u->cfg, r);
    lp_runtime_destroy(rt);
    return s;
}
