/* [dropout]: inverted dropout (kernel in cl/dropout.cl). The mask is never stored: forward
 * and backward both recompute it from Philox4x32-10 with key = net->seed and counter
 * (element index in the batch buffer / 4, low 32 bits of net->step, 0x44000000 + layer
 * index, 0), output word (index mod 4), so it costs no memory, one call serves four
 * elements, and the host can reproduce it (lp_philox4x32). Inference
 * copies the input: the layer keeps its own output buffer in both modes, so the next
 * layer and lp_network_logits always see the same cl_mem. */
#include <limits.h>
#include <stdlib.h>

#include "layer.h"

/* Philox counter word 2 of dropout layers: 'D' << 24, plus the layer index. */
#define DROPOUT_STREAM_ 0x44000000u

typedef struct {
    float rate, scale;
    cl_uint stream;
    /* What the last forward pass used: backward replays its mask even if
     * lp_network_set_rng has moved on in between. */
    cl_uint seed_lo, seed_hi, step;
    int training;
} dropout_state_;

static lp_status dropout_run_(lp_network *net, dropout_state_ *d, cl_mem in, cl_mem out, int total,
                              const char *label) {
    cl_kernel k;
    LP_TRY(lp_runtime_kernel(net->rt, "dropout", "lp_dropout_apply", NULL, &k));
    LP_ARG(k, 0, in);
    LP_ARG(k, 1, out);
    LP_ARG(k, 2, total);
    LP_ARG(k, 3, d->seed_lo);
    LP_ARG(k, 4, d->seed_hi);
    LP_ARG(k, 5, d->step);
    LP_ARG(k, 6, d->stream);
    LP_ARG(k, 7, d->rate);
    LP_ARG(k, 8, d->scale);
    LP_ARG(k, 9, d->training);
    /* Four values per work-item (one Philox call). */
    size_t local = lp_runtime_wgs(net->rt, k, 256), global = ((size_t)total + 3) / 4;
    return lp_launch(net->rt, k, 1, &global, &local, label);
}

static lp_status dropout_forward_(lp_network *net, lp_layer *l, int n, bool training) {
    dropout_state_ *d = l->state;
    d->seed_lo = (cl_uint)net->seed;
    d->seed_hi = (cl_uint)(net->seed >> 32);
    d->step = (cl_uint)(unsigned long long)net->step;
    d->training = training;
    return dropout_run_(net, d, l->prev->out, l->out, n * (int)l->out_features, "dropout_forward");
}

/* dx = dy * mask / (1 - rate) with the last forward pass's mask (identity after an
 * inference pass). */
static lp_status dropout_backward_(lp_network *net, lp_layer *l, int n) {
    if (!l->need_dx) return LP_OK;
    return dropout_run_(net, l->state, l->dout, l->prev->dout, n * (int)l->out_features,
                        "dropout_backward");
}

static void dropout_destroy_(lp_layer *l) {
    free(l->state);
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
    return lp_buffer_create_zeroed(net->rt, bytes, "dropout gradients", &l->dout);
}
