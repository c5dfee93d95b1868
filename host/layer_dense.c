/* [dense]: y = x W^T + b, then the activation. W is (out, in) row-major so that one
 * LaPerm group (one output unit's incoming weights) is one contiguous row. */
#include <stdlib.h>

#include "laperm/init.h"
#include "laperm/ops.h"
#include "layer.h"

#define DENSE_(field) LP_SPEC_OFFSET(u.dense.field)
static const lp_key_def dense_keys_[] = {
    LP_KEY_NAME,
    {"units", LP_VAL_POS_INT, true, DENSE_(units), NULL, 0},
    LP_KERNEL_KEYS(lp_dense_spec, LP_SPEC_OFFSET(u.dense)),
};

static void dense_defaults_(lp_layer_spec *l) {
    l->u.dense = (lp_dense_spec){.units = 0,
                                 .use_bias = true,
                                 .activation = LP_ACT_NONE,
                                 .kernel_init = LP_INIT_HE_UNIFORM,
                                 .bias_init = LP_INIT_ZEROS,
                                 .l2 = 0.0f,
                                 .permute = true};
}

/* Dense takes (n,1,1) only: flattening implicitly would hide a missing [flatten] that
 * the next reader of the file (or a conv layer inserted later) would trip over. */
static lp_status dense_finish_(const lp_spec_ctx *c, lp_layer_spec *l, const lp_layer_spec *prev) {
    lp_dense_spec *d = &l->u.dense;
    LP_TRY(lp_spec_check_bias_init(c, d->use_bias));
    LP_TRY(lp_spec_check_init(c, d->kernel_init));
    l->in = prev->out;
    if (!lp_shape_is_flat(l->in)) {
        char buf[48];
        return lp_fail(LP_ERR_FORMAT,
                       "%s:%d: [dense] needs a flat input but gets %s from '%s': add [flatten] "
                       "before line %d",
                       c->src, l->line, lp_shape_str(l->in, buf, sizeof buf), prev->name, l->line);
    }
    int64_t weights = LP_SIZE_PRODUCT(d->units, l->in.c);
    char num[32];
    if (weights > LP_SPEC_ELEMS_MAX)
        return lp_fail(LP_ERR_FORMAT,
                       "%s:%d: [dense] kernel of %d x %d = %s weights exceeds the limit of %d "
                       "per tensor",
                       c->src, l->line, d->units, l->in.c, lp_size_str(weights, num, sizeof num),
                       INT_MAX);
    l->out = (lp_shape){d->units, 1, 1};
    return LP_OK;
}

/* Kernel (units, in), one LaPerm group per unit; Keras' fans (in, units). */
static int dense_tensors_(const lp_model_spec *m, int i, lp_param_tensor *t) {
    const lp_layer_spec *l = &m->layers[i];
    const lp_dense_spec *d = &l->u.dense;
    int in = (int)lp_shape_size(l->in);
    lp_kernel_desc k = {.rank = 2,
                        .dims = {d->units, in},
                        .groups = d->units,
                        .group_size = in,
                        .fan_in = in,
                        .fan_out = d->units,
                        .init = d->kernel_init,
                        .init_opts = d->init_opts,
                        .bias_init = d->bias_init,
                        .l2 = d->l2,
                        .permute = d->permute,
                        .use_bias = d->use_bias};
    return lp_param_kernel(i, &k, t);
}

static void dense_details_(const lp_layer_spec *l, lp_text *t) {
    const lp_dense_spec *d = &l->u.dense;
    lp_text_weights(t, d->activation, d->kernel_init, &d->init_opts, d->use_bias, d->l2,
                    d->permute);
}

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
    LP_TRY(lp_op_gemm(net->rt, true, false, (size_t)d->out, (size_t)d->in, (size_t)n, 1.0f, l->dout,
                      0, (size_t)d->out, l->prev->out, 0, (size_t)d->in, 0.0f, net->grads, d->w_off,
                      (size_t)d->in, "dense_backward_dw_gemm"));
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

static const lp_layer_ops dense_ops_ = {dense_forward_, dense_backward_, dense_destroy_, NULL};

static lp_status dense_init_(lp_network *net, lp_layer *l) {
    const lp_dense_spec *spec = &l->spec->u.dense;
    LP_ASSERT(l->first_tensor >= 0);
    LP_ASSERT(!l->need_dx || l->prev->dout);
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
    /* Zeroed although the product writes every value first: after the gradient buffers
     * came to be shared, Oclgrind 21.10's uninitialised-value check took the product's
     * output for uninitialised when its buffer reused the address of one an earlier
     * network had used and released (cltest_gradcheck's second network); a dense layer's
     * output is small. */
    return lp_layer_own_buffers(net, l, "dense", true);
}

const lp_layer_kind_desc lp_layer_dense = {
    .section = "dense",
    .keys = dense_keys_,
    .n_keys = LP_N_KEYS(dense_keys_),
    .defaults = dense_defaults_,
    .finish = dense_finish_,
    .tensors = dense_tensors_,
    .details = dense_details_,
    .init = dense_init_,
};
