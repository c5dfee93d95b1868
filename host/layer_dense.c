/* [dense]: y = x W^T + b, then the activation. W is (out, in) row-major so that one
 * LaPerm group (one output unit's incoming weights) is one contiguous row. */
#include <stdlib.h>

#include "laperm/ops.h"
#include "layer.h"

typedef struct {
    int in, out;
    size_t w_off;
    int b_off; /* -1: no bias */
    bool relu;
} dense_state_;

static lp_status dense_forward_(lp_network *net, lp_layer *l, int n, bool training) {
    (void)training;
    dense_state_ *d = l->state;
    /* out (n, out) = x (n, in) . W^T */
    LP_TRY(lp_op_gemm(net->rt, false, true, (size_t)n, (size_t)d->out, (size_t)d->in, 1.0f,
                      l->prev->out, 0, (size_t)d->in, net->params, d->w_off, (size_t)d->in, 0.0f,
                      l->out, 0, (size_t)d->out, "dense_forward_gemm"));
    return lp_op_bias_act(net->rt, l->out, n, d->out, net->params, d->b_off, d->relu);
}

static lp_status dense_backward_(lp_network *net, lp_layer *l, int n) {
    dense_state_ *d = l->state;
    if (d->relu) LP_TRY(lp_op_relu_backward(net->rt, l->dout, l->out, n * d->out));
    /* dW (out, in) = dy^T (out, n) . x (n, in) */
    LP_TRY(lp_op_gemm(net->rt, true, false, (size_t)d->out, (size_t)d->in, (size_t)n, 1.0f,
                      l->dout, 0, (size_t)d->out, l->prev->out, 0, (size_t)d->in, 0.0f, net->grads,
                      d->w_off, (size_t)d->in, "dense_backward_dw_gemm"));
    if (d->b_off >= 0) LP_TRY(lp_op_bias_grad(net->rt, l->dout, n, d->out, net->grads, d->b_off));
    if (!l->need_dx) return LP_OK;
    /* dx (n, in) = dy (n, out) . W (out, in) */
    return lp_op_gemm(net->rt, false, false, (size_t)n, (size_t)d->in, (size_t)d->out, 1.0f,
                      l->dout, 0, (size_t)d->out, net->params, d->w_off, (size_t)d->in, 0.0f,
                      l->prev->dout, 0, (size_t)d->in, "dense_backward_dx_gemm");
}

static void dense_destroy_(lp_layer *l) {
    free(l->state);
}

static const lp_layer_ops dense_ops_ = {dense_forward_, dense_backward_, dense_destroy_};

lp_status lp_layer_init_dense(lp_network *net, lp_layer *l) {
    const lp_dense_spec *spec = &l->spec->u.dense;
    if (l->first_tensor < 0)
        return lp_fail(LP_ERR_INVALID_ARG, "dense layer '%s' has no kernel", l->spec->name);
    dense_state_ *d = calloc(1, sizeof *d);
    if (!d) return lp_fail(LP_ERR_NO_MEMORY, "out of host memory");
    l->state = d;
    l->ops = &dense_ops_;
    const lp_param_tensor *w = &net->tensors[l->first_tensor];
    d->in = (int)lp_shape_size(l->spec->in);
    d->out = spec->units;
    d->w_off = w->offset;
    d->b_off = spec->use_bias ? (int)net->tensors[l->first_tensor + 1].offset : -1;
    d->relu = spec->activation == LP_ACT_RELU;
    if (l->need_dx && !l->prev->dout)
        return lp_fail(LP_ERR_INVALID_ARG, "layer '%s': no gradient buffer upstream",
                       l->spec->name);
    l->owns_buffers = true;
    size_t bytes = (size_t)net->max_batch * l->out_features * sizeof(float);
    LP_TRY(lp_buffer_create(net->rt, bytes, "dense activations", &l->out));
    return lp_buffer_create(net->rt, bytes, "dense gradients", &l->dout);
}
