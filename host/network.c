/* Builds a network from a model spec, each layer by its kind's descriptor (layer.h),
 * and runs its passes layer by layer. */
#include <stdio.h>
#include <stdlib.h>

#include "gradient_plan.h"
#include "layer.h"

/* The shared gradient buffers of gradient_plan.h, zeroed (no pass reads them before a
 * write, but Oclgrind checks that no read is of memory never written). */
static lp_status gradient_buffers_(lp_network *net) {
    lp_gradient_plan plan;
    LP_TRY(lp_gradient_plan_make(net->spec, &plan));
    net->grad_slot = plan.slot; /* the network keeps the per-layer table */
    plan.slot = NULL;
    /* + 1: a network of views of its input alone has no gradient buffer */
    net->grad_bufs = calloc((size_t)plan.n_slots + 1, sizeof *net->grad_bufs);
    lp_status s = net->grad_bufs ? LP_OK : lp_fail(LP_ERR_NO_MEMORY, "out of host memory");
    for (int k = 0; k < plan.n_slots && s == LP_OK; ++k) {
        char label[64];
        snprintf(label, sizeof label, "layer gradients (shared buffer %d of %d)", k + 1,
                 plan.n_slots);
        size_t bytes = (size_t)net->max_batch * plan.slot_floats[k] * sizeof(float);
        s = lp_buffer_create_zeroed(net->rt, bytes, label, &net->grad_bufs[k]);
        if (s == LP_OK) net->n_grad_bufs = k + 1;
    }
    lp_gradient_plan_free(&plan);
    return s;
}

void lp_layer_frame(lp_network *net, int i, bool need_dx) {
    lp_layer *l = &net->layers[i];
    l->spec = &net->spec->layers[i];
    l->prev = i ? &net->layers[i - 1] : NULL;
    l->out_features = lp_shape_size(l->spec->out);
    l->need_dx = need_dx;
    l->first_tensor = -1;
    l->index = i;
    l->second_input = lp_layer_second_input(l->spec);
    for (int t = 0; t < net->n_tensors; ++t)
        if (net->tensors[t].layer == i) {
            l->first_tensor = t;
            break;
        }
}

lp_status lp_network_layers_held(const lp_network *net, lp_held_bytes *out) {
    *out = (lp_held_bytes){0};
    for (int i = 0; i < net->n_layers; ++i) {
        const lp_layer_kind_desc *kind = lp_layer_kind_get(net->layers[i].spec->kind);
        if (!kind->held) continue;
        lp_held_bytes b;
        LP_TRY(kind->held(net, &net->layers[i], &b));
        lp_held_bytes_add(out, &b);
    }
    return LP_OK;
}

/* The workspace at the largest ask of each slot, before any pass: a slot that a pass grows
 * holds its old and its new buffer at once (workspace.h). */
static lp_status reserve_workspace_(lp_network *net) {
    lp_held_bytes asks;
    LP_TRY(lp_network_layers_held(net, &asks));
    return lp_workspace_reserve(net->workspace, &asks);
}

lp_status lp_network_create(lp_runtime *rt, const lp_model_spec *spec, int max_batch,
                            lp_network **out) {
    return lp_network_create_opts(rt, spec, max_batch, NULL, out);
}

lp_status lp_network_create_opts(lp_runtime *rt, const lp_model_spec *spec, int max_batch,
                                 const lp_network_options *opt, lp_network **out) {
    *out = NULL;
    if (max_batch <= 0 || spec->n_layers < 2) {
        return lp_fail(LP_ERR_INVALID_ARG, "network needs a batch size > 0 and at least one "
                                           "layer after [input]");
    }
    lp_network *net = calloc(1, sizeof *net);
    if (!net) return lp_fail(LP_ERR_NO_MEMORY, "out of host memory");
    net->rt = rt;
    net->spec = spec;
    net->max_batch = max_batch;
    if (opt)
        net->opt = *opt;
    else
        net->opt.conv_algo = LP_CONV_ALGO_GEMM;
    lp_status s = lp_model_params(spec, &net->tensors, &net->n_tensors);
    if (s != LP_OK) goto fail;
    net->n_params = lp_model_param_count(spec);
    s = lp_buffer_create(rt, net->n_params * sizeof(float), "parameters", &net->params);
    if (s == LP_OK)
        s = lp_buffer_create(rt, net->n_params * sizeof(float), "gradients", &net->grads);
    if (s == LP_OK) s = lp_buffer_fill_zero(rt, net->params, 0, net->n_params * sizeof(float));
    if (s == LP_OK) s = lp_workspace_create(rt, &net->workspace);
    if (s == LP_OK) s = gradient_buffers_(net);
    if (s != LP_OK) goto fail;

    net->layers = calloc((size_t)spec->n_layers, sizeof *net->layers);
    if (!net->layers) {
        s = lp_fail(LP_ERR_NO_MEMORY, "out of host memory");
        goto fail;
    }
    net->n_layers = spec->n_layers;
    bool params_before = false;
    for (int i = 0; i < spec->n_layers; ++i) {
        lp_layer *l = &net->layers[i];
        lp_layer_frame(net, i, params_before);
        s = lp_layer_kind_get(l->spec->kind)->init(net, l);
        if (s != LP_OK) goto fail;
        /* The gradient plan took the kind's word for it. */
        LP_ASSERT(l->owns_buffers == !lp_layer_views_prev(l->spec));
        if (l->first_tensor >= 0) params_before = true;
    }
    s = reserve_workspace_(net);
    if (s != LP_OK) goto fail;
    *out = net;
    return LP_OK;
fail:
    lp_network_destroy(net);
    return s;
}

void lp_network_destroy(lp_network *net) {
    if (!net) return;
    for (int i = 0; i < net->n_layers; ++i) {
        lp_layer *l = &net->layers[i];
        if (l->ops && l->ops->destroy) l->ops->destroy(l);
        if (l->owns_buffers) {
            if (l->out) clReleaseMemObject(l->out);
            if (l->dout) clReleaseMemObject(l->dout);
        }
    }
    for (int k = 0; k < net->n_grad_bufs; ++k)
        clReleaseMemObject(net->grad_bufs[k]);
    free(net->grad_bufs);
    free(net->grad_slot);
    lp_workspace_destroy(net->workspace);
    if (net->params) clReleaseMemObject(net->params);
    if (net->grads) clReleaseMemObject(net->grads);
    free(net->layers);
    free(net->tensors);
    free(net->state);
    free(net);
}

uint64_t lp_network_workspace_bytes(const lp_network *net) {
    return lp_workspace_bytes(net->workspace);
}

const char *lp_network_layer_name(const lp_network *net, int layer) {
    return layer >= 0 && layer < net->n_layers ? net->spec->layers[layer].name : "?";
}

lp_conv_algo lp_network_conv_path(const lp_network *net, int layer) {
    return layer >= 0 && layer < net->n_layers ? net->layers[layer].conv_path : LP_CONV_ALGO_AUTO;
}

const lp_param_tensor *lp_network_tensors(const lp_network *net, int *count) {
    *count = net->n_tensors;
    return net->tensors;
}
size_t lp_network_param_count(const lp_network *net) {
    return net->n_params;
}
int lp_network_max_batch(const lp_network *net) {
    return net->max_batch;
}
size_t lp_network_input_features(const lp_network *net) {
    return net->layers[0].out_features;
}
int lp_network_classes(const lp_network *net) {
    return (int)net->layers[net->n_layers - 1].out_features;
}
cl_mem lp_network_params(const lp_network *net) {
    return net->params;
}
cl_mem lp_network_grads(const lp_network *net) {
    return net->grads;
}
cl_mem lp_network_swap_params(lp_network *net, cl_mem params) {
    cl_mem old = net->params;
    net->params = params;
    return old;
}
int lp_network_layer_count(const lp_network *net) {
    return net->n_layers;
}
cl_mem lp_network_input(const lp_network *net) {
    return net->layers[0].out;
}
cl_mem lp_network_logits(const lp_network *net) {
    return net->layers[net->n_layers - 1].out;
}
cl_mem lp_network_dlogits(const lp_network *net) {
    return net->layers[net->n_layers - 1].dout;
}

void lp_network_set_rng(lp_network *net, uint64_t seed, long long step, long long first_row) {
    net->seed = seed;
    net->step = step;
    net->first_row = first_row;
}

lp_status lp_network_forward(lp_network *net, int n, bool training) {
    if (n <= 0 || n > net->max_batch)
        return lp_fail(LP_ERR_INVALID_ARG, "batch of %d samples (expected 1..%d)", n,
                       net->max_batch);
    for (int i = 1; i < net->n_layers; ++i)
        LP_TRY(lp_network_forward_layer(net, i, n, training));
    return LP_OK;
}

lp_status lp_network_forward_layer(lp_network *net, int i, int n, bool training) {
    lp_layer *l = &net->layers[i];
    return l->ops->forward ? l->ops->forward(net, l, n, training) : LP_OK;
}

/* Second inputs (a residual's shortcut): layer `from`'s dout is complete only once layer
 * from+1's backward has overwritten it; then every layer that also reads `from` adds its
 * gradient, in layer order, so the sum is the same on every run. The scan starts at
 * from+2: from+1 reads `from` as its previous layer, never as a second input. */
static lp_status second_inputs_backward_(lp_network *net, int from, int n) {
    for (int j = from + 2; j < net->n_layers; ++j)
        if (net->layers[j].second_input == from) LP_TRY(lp_network_backward_second(net, j, n));
    return LP_OK;
}

lp_status lp_network_backward_second(lp_network *net, int j, int n) {
    lp_layer *l = &net->layers[j];
    return l->ops->backward_second ? l->ops->backward_second(net, l, n) : LP_OK;
}

lp_status lp_network_backward(lp_network *net, int n) {
    if (n <= 0 || n > net->max_batch)
        return lp_fail(LP_ERR_INVALID_ARG, "batch of %d samples (expected 1..%d)", n,
                       net->max_batch);
    for (int i = net->n_layers - 1; i >= 1; --i)
        LP_TRY(lp_network_backward_layer(net, i, n));
    return LP_OK;
}

lp_status lp_network_backward_own(lp_network *net, int i, int n) {
    lp_layer *l = &net->layers[i];
    return l->ops->backward ? l->ops->backward(net, l, n) : LP_OK;
}

lp_status lp_network_backward_layer(lp_network *net, int i, int n) {
    LP_TRY(lp_network_backward_own(net, i, n));
    return second_inputs_backward_(net, i - 1, n);
}
