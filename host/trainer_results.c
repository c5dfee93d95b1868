/* Writes what a run produced: root attributes with every hyperparameter and choice,
 * initial values, per-epoch metrics, snapshots (rankings of permuted tensors, values of the
 * others, state tensors), checkpoints, and the final (projected) weights. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "laperm/gemm.h"
#include "trainer_results.h"

static const lp_perm_group_ *perm_of_(const lp_trainer_ *t, int tensor) {
    for (int i = 0; i < t->n_perm; ++i)
        if (t->perm[i].tensor == tensor) return &t->perm[i];
    return NULL;
}

/* "conv2d_1=direct,conv2d_2=gemm": the path each convolution took. */
static void conv_paths_(const lp_trainer_ *t, const lp_model_spec *m, char *buf, size_t cap) {
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < m->n_layers && len < cap; ++i) {
        lp_conv_algo a = lp_network_conv_path(t->net, i);
        if (a == LP_CONV_ALGO_AUTO) continue;
        int n = snprintf(buf + len, cap - len, "%s%s=%s", len ? "," : "", m->layers[i].name,
                         lp_conv_algo_name(a));
        len += n > 0 ? (size_t)n : 0;
    }
}

lp_status lp_trainer_attrs_(const lp_trainer_ *t, const lp_model_spec *model,
                            const lp_train_data_ids_ *ids, lp_attr *out, int cap, int *n_out,
                            char *scratch, size_t scratch_cap) {
    const lp_train_config *c = t->cfg;
    const lp_device_info *dev = lp_runtime_device(t->rt);
    /* scratch: the lr steps, the k steps, then the conv paths */
    size_t quarter = scratch_cap / 4, len = 0;
    char *steps = scratch, *k_steps = scratch + quarter, *paths = scratch + 2 * quarter;
    steps[0] = '\0';
    for (int i = 0; i < c->lr.n_steps && len < quarter - 40; ++i)
        len += (size_t)snprintf(steps + len, quarter - len, "%s%d:%g", i ? "," : "",
                                c->lr.step_epoch[i], c->lr.step_factor[i]);
    lp_k_steps_text(&c->k_steps, k_steps, quarter);
    if (!c->laperm) k_steps[0] = '\0';
    conv_paths_(t, model, paths, scratch_cap - 2 * quarter);
    lp_attr fixed[] = {
        LP_ATTR_S("device", dev->device_name),
        LP_ATTR_S("platform", dev->platform_name),
        LP_ATTR_S("driver", dev->driver_version),
        LP_ATTR_I("seed", (long long)c->seed),
        LP_ATTR_S("init", c->init_override.init_set ? lp_init_name(c->init_override.init) : ""),
        LP_ATTR_D("init_value", c->init_override.opts.value),
        LP_ATTR_S("init_values", t->init_values_text),
        LP_ATTR_I("quantize", c->init_override.opts.quantize),
        LP_ATTR_D("keep", c->init_override.keep),
        LP_ATTR_D("keep_first", c->init_override.keep_first),
        LP_ATTR_S("init_from", c->init_from ? c->init_from : ""),
        LP_ATTR_S("init_from_hash", t->init_from_hash),
        LP_ATTR_I("init_from_shuffle", c->init_from_shuffle),
        LP_ATTR_S("optimizer", lp_train_optimizer_name(c)),
        LP_ATTR_S("inner_optimizer", c->inner->name),
        LP_ATTR_S("loss", c->loss->name),
        LP_ATTR_I("k", c->laperm ? c->k : 0),
        LP_ATTR_S("k_steps", k_steps),
        LP_ATTR_I("lookahead_k", c->lookahead ? c->la_k : 0),
        LP_ATTR_D("lookahead_alpha", c->lookahead ? c->la_alpha : 0.0),
        LP_ATTR_D("weight_decay", c->weight_decay),
        LP_ATTR_I("perm_bias", c->perm_bias),
        LP_ATTR_I("perm_bn", c->perm_bn),
        LP_ATTR_S("group_scope", c->per_tensor_scope ? "tensor" : "unit"),
        LP_ATTR_I("epochs", c->epochs),
        LP_ATTR_I("batch", c->batch),
        LP_ATTR_I("eval_batch", t->eval_batch),
        LP_ATTR_D("lr", c->lr.base),
        LP_ATTR_S("lr_schedule", lp_lr_kind_name(c->lr.kind)),
        LP_ATTR_D("lr_decay", c->lr.kind == LP_LR_EXPONENTIAL ? c->lr.decay : 1.0),
        LP_ATTR_S("lr_steps", steps),
        LP_ATTR_D("l2_scale", c->l2_scale),
        LP_ATTR_I("max_steps", c->max_steps),
        LP_ATTR_S("normalize", lp_norm_mode_name(c->norm)),
        LP_ATTR_D("augment_rotate_deg", c->augment.rotate_deg),
        LP_ATTR_D("augment_shift", c->augment.shift),
        LP_ATTR_D("augment_zoom", c->augment.zoom),
        LP_ATTR_I("augment_hflip", c->augment.hflip),
        LP_ATTR_S("command_line", c->command_line ? c->command_line : ""),
        LP_ATTR_S("dataset", c->dataset ? c->dataset : ""),
        LP_ATTR_S("data_dir", c->data_dir ? c->data_dir : ""),
        LP_ATTR_I("train_images", ids->train_n),
        LP_ATTR_I("test_images", ids->test_n),
        LP_ATTR_S("train_data_hash", ids->train_hash),
        LP_ATTR_S("test_data_hash", ids->test_hash),
        LP_ATTR_I("fast", c->fast),
        LP_ATTR_S("conv_algo", lp_conv_algo_name(c->conv_algo)),
        LP_ATTR_S("conv_paths", paths),
        LP_ATTR_S("gemm_mode", lp_gemm_mode_name(lp_gemm_get_mode(t->rt))),
        LP_ATTR_S("bits", lp_bits_name(lp_runtime_bits(t->rt))),
        LP_ATTR_I("snapshot_every", c->snapshot_every),
        LP_ATTR_I("checkpoint_every", c->checkpoint_every),
        LP_ATTR_I("eval_every", c->eval_every),
        LP_ATTR_I("save_best", c->save_best),
        /* An MPI job's ranks and each one's device (0 and "": one process) */
        LP_ATTR_I("mpi_world_size", lp_trainer_distributed_(t) ? lp_dist_size(c->dist) : 0),
        LP_ATTR_S("mpi_devices", t->devices),
    };
    enum { N_FIXED_ = sizeof fixed / sizeof fixed[0] };
    int n = 0;
    if (c->n_extra_attrs + N_FIXED_ + LP_OPTIMIZER_SLOTS * LP_OPTIMIZER_MAX_PARAMS > cap)
        return lp_fail(LP_ERR_INTERNAL, "too many results attributes");
    for (int i = 0; i < c->n_extra_attrs; ++i)
        out[n++] = c->extra_attrs[i];
    memcpy(out + n, fixed, sizeof fixed);
    n += N_FIXED_;
    /* Then every optimizer's hyper-parameters (adam_beta1, ..., sgd_momentum), not only
     * the inner one's, so that runs with different optimizers have the same attributes. */
    const lp_optimizer *o;
    for (int i = 0; (o = lp_optimizer_at(i)); ++i)
        for (int j = 0; j < o->n_params; ++j)
            out[n++] = LP_ATTR_D(o->params[j].attr, c->optimizer_params[i][j]);
    *n_out = n;
    return LP_OK;
}

lp_results_checkpoint_size lp_trainer_checkpoint_size_(const lp_trainer_ *t) {
    int buffers = lp_trainer_state_buffers_(t->cfg);
    return (lp_results_checkpoint_size){.params = t->n_params,
                                        .state = lp_network_state_floats(t->net),
                                        .stats = (size_t)t->steps_per_epoch * 2,
                                        .optimizer_buffers = buffers,
                                        .best = t->cfg->save_best};
}

lp_status lp_trainer_results_open_(lp_trainer_ *t, const lp_model_spec *model,
                                   const lp_train_data_ids_ *ids, lp_results **out) {
    const lp_train_config *c = t->cfg;
    lp_attr attrs[LP_TRAINER_MAX_ATTRS_];
    char scratch[8192];
    int n;
    LP_TRY(lp_trainer_attrs_(t, model, ids, attrs, LP_TRAINER_MAX_ATTRS_, &n, scratch,
                             sizeof scratch));
    /* Resuming: the run must be the one the file records (the choices were replayed, so
     * they match too); the command line and the environment may differ. */
    static const char *const free_[] = {"command_line", "argv", "env_*", NULL};
    if (c->resume)
        LP_TRY(lp_results_check_same_run(c->resume->source, attrs, n, free_, model->text));
    int n_state = lp_network_state_count(t->net);
    lp_results_tensor *rt = calloc((size_t)t->n_tensors + 1, sizeof *rt);
    lp_results_state *st = calloc((size_t)n_state + 1, sizeof *st);
    if (!rt || !st) {
        free(rt), free(st);
        return lp_fail(LP_ERR_NO_MEMORY, "out of host memory");
    }
    for (int i = 0; i < t->n_tensors; ++i) {
        const lp_param_tensor *p = &t->tensors[i];
        const lp_perm_group_ *g = perm_of_(t, i);
        rt[i].layer = model->layers[p->layer].name;
        rt[i].tensor = p->name;
        rt[i].rank = p->rank;
        memcpy(rt[i].dims, p->dims, sizeof rt[i].dims);
        rt[i].permuted = g != NULL;
        rt[i].groups = g ? g->groups : p->groups;
        rt[i].group_size = g ? g->group_size : p->group_size;
        rt[i].init = t->init_host + p->offset;
    }
    for (int i = 0; i < n_state; ++i) {
        const lp_state_tensor *s = lp_network_state_at(t->net, i);
        st[i] = (lp_results_state){
            .layer = model->layers[s->layer].name, .name = s->name, .rank = s->rank};
        memcpy(st[i].dims, s->dims, sizeof st[i].dims);
    }
    lp_results_resume resume = {0};
    if (c->resume) resume = (lp_results_resume){c->resume->source, &c->resume->checkpoint};
    lp_results_layout layout = {.tensors = rt,
                                .n_tensors = t->n_tensors,
                                .state = st,
                                .n_state = n_state,
                                .checkpoint = lp_trainer_checkpoint_size_(t),
                                .resume = c->resume ? &resume : NULL,
                                .evals = c->eval_every > 0,
                                .best = c->save_best};
    lp_status s =
        lp_results_create(c->out_path, attrs, n, model->text, model->source, &layout, out);
    free(rt);
    free(st);
    return s;
}

/* The projected network (eval_params and rank, fresh from lp_trainer_project_, or the
 * parameters themselves without LaPerm) and the state tensors, read into w, rank (unless
 * NULL) and state. */
static lp_status read_network_(lp_trainer_ *t, float *w, int32_t *rank, float *state) {
    cl_mem src = t->n_perm ? t->eval_params : lp_network_params(t->net);
    LP_TRY(lp_buffer_read(t->rt, src, 0, t->n_params * sizeof(float), w));
    if (t->n_perm && rank)
        LP_TRY(lp_buffer_read(t->rt, t->rank, 0, t->n_params * sizeof(int32_t), rank));
    return lp_network_state_read(t->net, state);
}

/* Per-tensor and per-state pointers into host arrays in the parameter layout (rank may
 * be NULL: no rankings). */
typedef struct {
    const int32_t **rank;
    const float **values, **state;
} views_;

static lp_status views_make_(lp_trainer_ *t, const float *w, const int32_t *rank,
                             const float *state, views_ *v) {
    int n_state = lp_network_state_count(t->net);
    v->rank = calloc((size_t)t->n_tensors + 1, sizeof *v->rank);
    v->values = calloc((size_t)t->n_tensors + 1, sizeof *v->values);
    v->state = calloc((size_t)n_state + 1, sizeof *v->state);
    if (!v->rank || !v->values || !v->state) return lp_fail(LP_ERR_NO_MEMORY, "out of memory");
    for (int i = 0; i < t->n_tensors; ++i) {
        size_t off = t->tensors[i].offset;
        if (rank && perm_of_(t, i)) v->rank[i] = rank + off;
        v->values[i] = w + off;
    }
    size_t off = 0;
    for (int i = 0; i < n_state; ++i) {
        v->state[i] = state + off;
        off += lp_network_state_at(t->net, i)->count;
    }
    return LP_OK;
}

static void views_free_(views_ *v) {
    free(v->rank);
    free(v->values);
    free(v->state);
}

lp_status lp_trainer_results_keep_best_(lp_trainer_ *t) {
    return read_network_(t, t->best_w, NULL, t->best_state);
}

lp_status lp_trainer_results_write_best_(lp_trainer_ *t, lp_results *r) {
    views_ v = {0};
    lp_status s = views_make_(t, t->best_w, NULL, t->best_state, &v);
    if (s == LP_OK) s = lp_results_write_best(r, &t->best, v.values, v.state);
    views_free_(&v);
    return s;
}

lp_status lp_trainer_results_epoch_(lp_trainer_ *t, lp_results *r, const lp_epoch_metrics *m,
                                    int snapshot_epoch) {
    if (m) LP_TRY(lp_results_append_metrics(r, m));
    LP_TRY(read_network_(t, t->snap_w, t->snap_rank, t->snap_state));
    views_ v = {0};
    lp_status s = views_make_(t, t->snap_w, t->snap_rank, t->snap_state, &v);
    for (int i = 0; s == LP_OK && i < t->n_tensors; ++i)
        if (v.rank[i]) v.values[i] = NULL; /* permuted: its ranking stands for it */
    lp_results_snapshot snap = {.step = t->step,
                                .epoch = snapshot_epoch,
                                .rankings = v.rank,
                                .values = v.values,
                                .state = v.state};
    if (s == LP_OK) s = lp_results_append_snapshot(r, &snap);
    views_free_(&v);
    return s;
}

lp_status lp_trainer_results_finish_(lp_trainer_ *t, lp_results *r, const lp_train_result *res) {
    lp_status s = read_network_(t, t->snap_w, t->snap_rank, t->snap_state);
    views_ v = {0};
    if (s == LP_OK) s = views_make_(t, t->snap_w, t->snap_rank, t->snap_state, &v);
    char gemm[LP_RESULTS_CHOICES_MAX];
    lp_gemm_choices_text(t->rt, gemm, sizeof gemm);
    lp_attr attrs[] = {
        LP_ATTR_S("gemm_choices", gemm),
        LP_ATTR_I("diverged_step", res->diverged ? res->diverged_step : 0),
        LP_ATTR_S("diverged_at", res->diverged ? res->diverged_what : ""),
        /* Over every evaluation; NaN and 0 when none was made. */
        LP_ATTR_D("best_test_accuracy", t->best.step ? t->best.test_accuracy : NAN),
        LP_ATTR_D("best_test_loss", t->best.step ? t->best.test_loss : NAN),
        LP_ATTR_I("best_step", t->best.step),
        LP_ATTR_I("best_epoch", t->best.epoch),
        /* Bytes rank 0 sent to the other ranks per training step, as measured (0: one
         * process) */
        LP_ATTR_D("mpi_bytes_per_step",
                  t->exchanges ? (double)t->exchange_bytes / (double)t->exchanges : 0.0),
    };
    const char *status = res->diverged      ? "diverged"
                         : res->interrupted ? "interrupted"
                                            : "completed";
    /* LaPerm's result is the projected network evaluated last, not the raw weights. */
    if (s == LP_OK)
        s = lp_results_finish(r, v.values, v.state, attrs, (int)(sizeof attrs / sizeof *attrs),
                              status);
    else
        lp_results_abandon(r);
    views_free_(&v);
    return s;
}
