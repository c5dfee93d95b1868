/* The run a results file records, as laperm eval and predict repeat its evaluation
 * (use_options.h). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "laperm/gemm.h"
#include "laperm/lpk.h"
#include "laperm/results.h"
#include "train_resume.h"
#include "use_options.h"

/* The recorded settings, one table for every kind of file: string and integer root
 * attributes and where each goes. A .lpk keeps the data ones only (lpk_pack.c). */
static const struct {
    const char *attr;
    size_t offset;
} strs_[] = {{"dataset", offsetof(cli_use_recorded, dataset)},
             {"data_dir", offsetof(cli_use_recorded, data_dir)},
             {"normalize", offsetof(cli_use_recorded, normalize)},
             {"loss", offsetof(cli_use_recorded, loss)},
             {"conv_algo", offsetof(cli_use_recorded, conv_algo)},
             {"conv_paths", offsetof(cli_use_recorded, conv_paths)},
             {"gemm_choices", offsetof(cli_use_recorded, gemm_choices)},
             {"gemm_mode", offsetof(cli_use_recorded, gemm_mode)},
             {"bits", offsetof(cli_use_recorded, bits)},
             {"test_data_hash", offsetof(cli_use_recorded, test_data_hash)}},
  ints_[] = {{"train_images", offsetof(cli_use_recorded, train_images)},
             {"test_images", offsetof(cli_use_recorded, test_images)},
             {"batch", offsetof(cli_use_recorded, batch)},
             {"eval_batch", offsetof(cli_use_recorded, eval_batch)},
             {"fast", offsetof(cli_use_recorded, fast)}};
#define N_(a) (sizeof a / sizeof *a)
#define FIELD_(r, type, f) ((type *)((char *)(r) + (f).offset))

/* From a .lpk's attributes. */
static int lpk_recorded_(const char *name, const char *path, cli_use_recorded *r) {
    lp_lpk p = {0};
    if (lp_lpk_load(path, &p) != LP_OK) {
        fprintf(stderr, "laperm %s: %s\n", name, lp_last_error());
        return 1;
    }
    int rc = 0;
    for (int k = 0; k < p.n_attrs && !rc; ++k) {
        const lp_attr *a = &p.attrs[k];
        for (size_t i = 0; i < N_(strs_); ++i)
            if (a->type == LP_ATTR_STRING && !strcmp(a->name, strs_[i].attr)) {
                size_t n = strlen(a->s) + 1;
                char *copy = malloc(n);
                if (!copy)
                    rc = 1;
                else
                    *FIELD_(r, char *, strs_[i]) = memcpy(copy, a->s, n);
            }
        for (size_t i = 0; i < N_(ints_); ++i)
            if (a->type == LP_ATTR_INT && !strcmp(a->name, ints_[i].attr))
                *FIELD_(r, long long, ints_[i]) = a->i;
    }
    lp_lpk_free(&p);
    if (rc) fprintf(stderr, "laperm %s: out of memory\n", name);
    return rc;
}

int cli_use_recorded_read(const char *name, const char *path, const lp_weights_origin *origin,
                          const lp_model_spec *model, cli_use_recorded *r) {
    memset(r, 0, sizeof *r);
    if (!strcmp(origin->kind, "lpk")) return lpk_recorded_(name, path, r);
    /* A results file, or the weights file laperm unpack writes (the data settings only). */
    if (strcmp(origin->kind, "results") != 0 && strcmp(origin->kind, "weights") != 0) return 0;
    /* Older files lack some (gemm_choices comes at finish): those stay empty. */
    for (size_t i = 0; i < N_(strs_); ++i)
        if (lp_results_read_string(path, "/", strs_[i].attr, FIELD_(r, char *, strs_[i])) != LP_OK)
            lp_clear_error();
    for (size_t i = 0; i < N_(ints_); ++i)
        if (lp_results_read_attr_int(path, "/", ints_[i].attr, FIELD_(r, long long, ints_[i])) !=
            LP_OK)
            lp_clear_error();
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
    char *s[] = {r->dataset,    r->data_dir,     r->normalize, r->loss,           r->conv_algo,
                 r->conv_paths, r->gemm_choices, r->gemm_mode, r->test_data_hash, r->bits};
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
    /* A portable run is evaluated in portable mode (older files: fast). */
    if (u->rec.bits && !lp_bits_parse(u->rec.bits, &ro.bits))
        return lp_fail(LP_ERR_FORMAT, "%s: root attribute bits '%s': expected fast or portable",
                       u->a.weights, u->rec.bits);
    LP_TRY(lp_runtime_create(&ro, &rt));
    lp_gemm_mode mode;
    if (u->rec.gemm_mode && lp_gemm_mode_parse(u->rec.gemm_mode, &mode)) lp_gemm_set_mode(rt, mode);
    lp_status s = lp_evaluate(rt, &u->model, &u->w, norm_from, data, &u->cfg, r);
    lp_runtime_destroy(rt);
    return s;
}

lp_status cli_use_load_split(const lp_dataset_format *fmt, const char *dir, const char *split,
                             long long keep, lp_dataset *out) {
    LP_TRY(fmt->load(dir, split, out));
    if (keep <= 0 || keep >= out->n) return LP_OK;
    lp_dataset sub;
    lp_status s = lp_dataset_subset(out, 0, (int)keep, &sub);
    lp_dataset_free(out);
    if (s == LP_OK) *out = sub;
    return s;
}
