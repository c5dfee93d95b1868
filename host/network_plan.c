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
    /* The network and its layers as lp_network_create_opts has them before each init: no
     * buffer, no layer state. */
    lp_network net = {.rt = rt, .spec = spec, .max_batch = max_batch};
    if (opt)
        net.opt = *opt;
    else
        net.opt.conv_algo = LP_CONV_ALGO_GEMM;
    LP_TRY(lp_model_params(spec, &net.tensors, &net.n_tensors));
    net.layers = calloc((size_t)spec->n_layers, sizeof *net.layers);
    if (!net.layers) {
        free(net.tensors);
        return lp_fail(LP_ERR_NO_MEMORY, "out of host memory");
    }
    net.n_layers = spec->n_layers;
    bool params_before = false;
    for (int i = 0; i < spec->n_layers; ++i) {
        lp_layer_frame(&net, i, params_before);
        if (net.layers[i].first_tensor >= 0) params_before = true;
    }
    lp_status s = lp_network_layers_held(&net, out);
    free(net.layers);
    free(net.tensors);
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
