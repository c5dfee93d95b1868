/* [dropout]: inverted dropout (kernels in cl/dropout.cl). The forward pass draws the mask
 * from Philox4x32-10 with key = net->seed and counter (c, low 32 bits of net->step,
 * 0x44000000 + layer index, 0): value i of the batch buffer takes word (i mod 32) / 8 of
 * counter c = (i / 32) * 8 + i mod 8, so one call serves four values and the host can
 * reproduce it (lp_philox4x32); it stores the mask, one byte per value, for the backward
 * pass. Inference copies the input:
 * the layer keeps its own output buffer in both modes, so the next layer and
 * lp_network_logits always see the same cl_mem. */
#include <limits.h>
#include <stdlib.h>

#include "layer.h"

/* Philox counter word 2 of dropout layers: 'D' << 24, plus the layer index. */
#define DROPOUT_STREAM_ 0x44000000u

typedef struct {
    float rate, scale;
    cl_uint stream;
    cl_mem mask; /* the last training forward's mask, max_batch * features bytes */
    int training; /* of the last forward pass: backward is the identity after inference */
} dropout_state_;

/* LP_DROPOUT_BLOCK (cl/dropout.cl) values per work-item: eight Philox calls. */
#define BLOCK_ 32
static lp_status launch_blocks_(lp_network *net, cl_kernel k, int total, const char *label) {
    size_t local = lp_runtime_wgs(net->rt, k, 64), global = ((size_t)total + BLOCK_ - 1) / BLOCK_;
    return lp_launch(net->rt, k, 1, &global, &local, label);
}

static lp_status dropout_forward_(lp_network *net, lp_layer *l, int n, bool training) {
    dropout_state_ *d = l->state;
    cl_kernel k;
    LP_TRY(lp_runtime_kernel(net->rt, "dropout", "lp_dropout_forward", NULL, &k));
    int total = n * (int)l->out_features;
    cl_uint seed_lo = (cl_uint)net->seed, seed_hi = (cl_uint)(net->seed >> 32);
    cl_uint step = (cl_uint)(unsigned long long)net->step;
    d->training = training;
    LP_ARG(k, 0, l->prev->out);
    LP_ARG(k, 1, l->out);
    LP_ARG(k, 2, d->mask);
    LP_ARG(k, 3, total);
    LP_ARG(k, 4, seed_lo);
    LP_ARG(k, 5, seed_hi);
    LP_ARG(k, 6, step);
    LP_ARG(k, 7, d->stream);
    LP_ARG(k, 8, d->rate);
    LP_ARG(k, 9, d->scale);
    LP_ARG(k, 10, d->training);
    return launch_blocks_(net, k, total, "dropout_forward");
}

/* dx = dy * mask / (1 - rate) with the last forward pass's mask (identity after an
 * inference pass). */
static lp_status dropout_backward_(lp_network *net, lp_layer *l, int n) {
    if (!l->need_dx) return LP_OK;
    dropout_state_ *d = l->state;
    cl_kernel k;
    LP_TRY(lp_runtime_kernel(net->rt, "dropout", "lp_dropout_backward", NULL, &k));
    int total = n * (int)l->out_features;
    LP_ARG(k, 0, l->dout);
    LP_ARG(k, 1, d->mask);
    LP_ARG(k, 2, l->prev->dout);
    LP_ARG(k, 3, total);
    LP_ARG(k, 4, d->scale);
    LP_ARG(k, 5, d->training);
    return launch_blocks_(net, k, total, "dropout_backward");
}

static void dropout_destroy_(lp_layer *l) {
    dropout_state_ *d = l->state;
    if (d && d->mask) clReleaseMemObject(d->mask);
    free(d);
}

static const lp_layer_ops dropout_ops_ = {dropout_forward_, dropout_backward_, dropout_destroy_};

lp_status lp_layer_init_dropout(lp_network *net, lp_layer *l) {
    const lp_layer_spec *ls = l->spec;
    float rate = ls->u.dropout.rate;
    if (!(rate >= 0.0f && rate < 1.0f))
        return lp_fail(LP_ERR_INVALID_ARG, "layer '%s' (line %d): rate %g (expected 0 <= rate < 1)",
                       ls->name, ls->line, (double)rate);
    if (lp_shape_size(ls->in) != l->out_features || l->out_features == 0)
        return lp_fail(LP_ERR_INVALID_ARG,
                       "layer '%s' (line %d): dropout maps %zu values to %zu (expected the same "
                       "shape)",
                       ls->name, ls->line, lp_shape_size(ls->in), l->out_features);
    if ((size_t)net->max_batch * l->out_features > INT_MAX)
        return lp_fail(LP_ERR_INVALID_ARG, "layer '%s': batch of %d x %zu values exceeds 2^31",
                       ls->name, net->max_batch, l->out_features);
    if (l->need_dx && !l->prev->dout)
        return lp_fail(LP_ERR_INVALID_ARG, "layer '%s': no gradient buffer upstream", ls->name);
    dropout_state_ *d = calloc(1, sizeof *d);
    if (!d) return lp_fail(LP_ERR_NO_MEMORY, "out of host memory");
    l->state = d;
    l->ops = &dropout_ops_;
    d->rate = rate;
    d->scale = 1.0f / (1.0f - rate);
    d->stream = DROPOUT_STREAM_ + (cl_uint)l->index;
    l->owns_buffers = true;
    size_t bytes = (size_t)net->max_batch * l->out_features * sizeof(float);
    LP_TRY(lp_buffer_create_zeroed(net->rt, bytes, "dropout activations", &l->out));
    LP_TRY(lp_buffer_create_zeroed(net->rt, bytes, "dropout gradients", &l->dout));
    return lp_buffer_create_zeroed(net->rt, bytes / sizeof(float), "dropout mask", &d->mask);
}
