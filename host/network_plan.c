/* What a network would hold beyond the buffers every layer has (laperm/network.h,
 * lp_network_plan_held), from each kind's word (lp_layer_kind_desc.held), before anything
 * is allocated: the memory plan's figure for layer state and convolution paths. */
#include <stdlib.h>

#include "layer.h"

lp_status lp_network_plan_held(lp_runtime *rt, const lp_model_spec *spec, int max_batch,
                               const lp_network_options *opt, lp_held_bytes *out) {
    *out = (lp_held_bytes){0};
    if (max_batch <= 0 || spec->n_layers < 1)
        return lp_fail(LP_ERR_INVALID_ARG, "lp_network_plan_held: batch %d, %d layers", max_batch,
                       spec->n_layers);
    /* The network and layers as lp_network_create_opts sets them before each init. */
    lp_network net = {.rt = rt, .spec = spec, .max_batch = max_batch};
    if (opt)
        net.opt = *opt;
    else
        net.opt.conv_algo = LP_CONV_ALGO_GEMM;
    lp_param_tensor *t = NULL;
    int n_tensors = 0;
    LP_TRY(lp_model_params(spec, &t, &n_tensors));
    lp_layer *layers = calloc((size_t)spec->n_layers, sizeof *layers);
    if (!layers) {
        free(t);
        return lp_fail(LP_ERR_NO_MEMORY, "out of host memory");
    }
    net.layers = layers;
    net.n_layers = spec->n_layers;
    lp_status s = LP_OK;
    bool params_before = false;
    for (int i = 0; i < spec->n_layers && s == LP_OK; ++i) {
        lp_layer *l = &layers[i];
        l->spec = &spec->layers[i];
        l->prev = i ? &layers[i - 1] : NULL;
        l->out_features = lp_shape_size(l->spec->out);
        l->need_dx = params_before;
        l->first_tensor = -1;
        l->index = i;
        l->second_input = lp_layer_second_input(l->spec);
        const lp_layer_kind_desc *kind = lp_layer_kind_get(l->spec->kind);
        if (kind->held) {
            lp_held_bytes b;
            s = kind->held(&net, l, &b);
            if (s == LP_OK) lp_held_bytes_add(out, &b);
        }
        for (int k = 0; k < n_tensors; ++k)
            if (t[k].layer == i) params_before = true;
    }
    free(layers);
    free(t);
    return s;
}

lp_status lp_network_plan_held_at(void *ctx, int max_batch, int train_batch, uint64_t *bytes) {
    const lp_network_plan_ctx *c = ctx;
    lp_network_options opt = c->opt;
    opt.tune_batch = train_batch;
    lp_held_bytes held;
    LP_TRY(lp_network_plan_held(c->rt, c->spec, max_batch, &opt, &held));
    *bytes = lp_held_bytes_total(&held);
    return LP_OK;
}
