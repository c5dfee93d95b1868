/* Writes what a run produced: root attributes with every hyperparameter, initial values,
 * per-epoch metrics and rankings, and the final (projected) weights. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trainer_results.h"

static const lp_perm_group_ *perm_of_(const lp_trainer_ *t, int tensor) {
    for (int i = 0; i < t->n_perm; ++i)
        if (t->perm[i].tensor == tensor) return &t->perm[i];
    return NULL;
}

lp_status lp_trainer_results_open_(lp_trainer_ *t, const lp_model_spec *model, lp_results **out) {
    const lp_train_config *c = t->cfg;
    const lp_device_info *dev = lp_runtime_device(t->rt);
    char steps[512] = "";
    size_t len = 0;
    for (int i = 0; i < c->lr.n_steps && len < sizeof steps - 40; ++i)
        len += (size_t)snprintf(steps + len, sizeof steps - len, "%s%d:%g", i ? "," : "",
                                c->lr.step_epoch[i], c->lr.step_factor[i]);
    lp_attr fixed[] = {
        LP_ATTR_S("device", dev->device_name),
        LP_ATTR_S("platform", dev->platform_name),
        LP_ATTR_S("driver", dev->driver_version),
        LP_ATTR_I("seed", (long long)c->seed),
        LP_ATTR_S("optimizer", lp_train_optimizer_name(c)),
        LP_ATTR_S("inner_optimizer", c->inner->name),
        LP_ATTR_S("loss", c->loss->name),
        LP_ATTR_I("k", c->laperm ? c->k : 0),
        LP_ATTR_I("perm_bias", c->perm_bias),
        LP_ATTR_I("perm_bn", c->perm_bn),
        LP_ATTR_S("group_scope", c->per_tensor_scope ? "tensor" : "unit"),
        LP_ATTR_I("epochs", c->epochs),
        LP_ATTR_I("batch", c->batch),
        LP_ATTR_I("eval_batch", lp_network_max_batch(t->net)),
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
    };
    /* Then every optimizer's hyper-parameters (adam_beta1, ..., sgd_momentum), not only
     * the inner one's, so that runs with different optimizers have the same attributes. */
    enum { N_FIXED_ = sizeof fixed / sizeof fixed[0] };
    lp_attr attrs[N_FIXED_ + LP_OPTIMIZER_SLOTS * LP_OPTIMIZER_MAX_PARAMS];
    memcpy(attrs, fixed, sizeof fixed);
    int n = N_FIXED_;
    const lp_optimizer *o;
    for (int i = 0; (o = lp_optimizer_at(i)); ++i)
        for (int j = 0; j < o->n_params; ++j)
            attrs[n++] = LP_ATTR_D(o->params[j].attr, c->optimizer_params[i][j]);
    lp_results_tensor *rt = calloc((size_t)t->n_tensors + 1, sizeof *rt);
    if (!rt) return lp_fail(LP_ERR_NO_MEMORY, "out of host memory");
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
    lp_status s =
        lp_results_create(c->out_path, attrs, n, model->text, model->source, rt, t->n_tensors, out);
    free(rt);
    return s;
}

lp_status lp_trainer_results_epoch_(lp_trainer_ *t, lp_results *r, const lp_epoch_metrics *m,
                                    int snapshot_epoch) {
    if (m) LP_TRY(lp_results_append_metrics(r, m));
    if (!t->n_perm) return LP_OK;
    int32_t *rank = malloc(t->n_params * sizeof *rank);
    const int32_t **per_tensor = calloc((size_t)t->n_tensors, sizeof *per_tensor);
    lp_status s = rank && per_tensor ? LP_OK : lp_fail(LP_ERR_NO_MEMORY, "out of host memory");
    if (s == LP_OK) s = lp_buffer_read(t->rt, t->rank, 0, t->n_params * sizeof *rank, rank);
    for (int i = 0; s == LP_OK && i < t->n_perm; ++i)
        per_tensor[t->perm[i].tensor] = rank + t->tensors[t->perm[i].tensor].offset;
    if (s == LP_OK) s = lp_results_append_rankings(r, t->step, snapshot_epoch, per_tensor);
    free(rank);
    free(per_tensor);
    return s;
}

lp_status lp_trainer_results_finish_(lp_trainer_ *t, lp_results *r, bool interrupted) {
    float *w = malloc(t->n_params * sizeof *w);
    const float **per_tensor = calloc((size_t)t->n_tensors + 1, sizeof *per_tensor);
    if (!w || !per_tensor) {
        free(w);
        free(per_tensor);
        lp_results_abandon(r);
        return lp_fail(LP_ERR_NO_MEMORY, "out of host memory");
    }
    /* LaPerm's result is the projected network evaluated last, not the raw weights. */
    cl_mem src = t->n_perm ? t->eval_params : lp_network_params(t->net);
    lp_status s = lp_buffer_read(t->rt, src, 0, t->n_params * sizeof *w, w);
    for (int i = 0; i < t->n_tensors; ++i)
        per_tensor[i] = w + t->tensors[i].offset;
    if (s == LP_OK)
        s = lp_results_finish(r, per_tensor, interrupted ? "interrupted" : "completed");
    else
        lp_results_abandon(r);
    free(w);
    free(per_tensor);
    return s;
}
