/* [conv2d] through im2col and one CLBlast GEMM per chunk of samples: the chunk's column
 * matrix col (K, cn*P) holds every sample side by side, so the forward product, the
 * kernel gradient and the column gradient are each a single large GEMM (laperm/ops_conv.h
 * has the layouts). The kernel is (F, cin, kh, kw) = (F, K) row-major, one LaPerm group
 * per filter. */
#include <limits.h>
#include <stdlib.h>

#include "laperm/ops.h"
#include "laperm/ops_conv.h"
#include "layer.h"

/* Largest column buffer unless $LAPERM_CONV_COL_BYTES says otherwise (tests use it to
 * force several chunks). It bounds the memory a big layer takes at a big batch; even a
 * chunk of a few samples makes GEMMs with thousands of columns. */
#define COL_BUDGET_DEFAULT_ ((size_t)256 << 20)

typedef struct {
    lp_conv_geom g;
    int filters;
    size_t K, P;
    size_t w_off;
    int b_off; /* -1: no bias */
    bool relu;
    int chunk;       /* samples per chunk: col and rows hold this many */
    cl_mem col;      /* (K, chunk*P); also the column gradient in backward */
    cl_mem rows;     /* (F, chunk*P): forward output rows, then the output gradient rows */
    int col_samples; /* > 0: col holds im2col of the last forward's whole batch of this many */
} conv_state_;

/* out (n, F, oh, ow) = W . im2col(x) + b, then ReLU; x is prev->out (n, cin, ih, iw). */
static lp_status conv_forward_(lp_network *net, lp_layer *l, int n, bool training) {
    (void)training;
    conv_state_ *d = l->state;
    int F = d->filters;
    for (int s0 = 0; s0 < n; s0 += d->chunk) {
        int cn = n - s0 < d->chunk ? n - s0 : d->chunk;
        size_t cols = (size_t)cn * d->P;
        LP_TRY(lp_op_im2col(net->rt, &d->g, l->prev->out, s0, cn, d->col));
        /* rows (F, cn*P) = W (F, K) . col (K, cn*P) */
        LP_TRY(lp_op_gemm(net->rt, false, false, (size_t)F, cols, d->K, 1.0f, net->params, d->w_off,
                          d->K, d->col, 0, cols, 0.0f, d->rows, 0, cols, "conv_forward_gemm"));
        LP_TRY(lp_op_conv_rows_to_nchw(net->rt, d->rows, s0, cn, F, (int)d->P, net->params,
                                       d->b_off, d->relu, l->out));
    }
    /* The backward pass reuses the columns when one chunk held the whole batch. */
    d->col_samples = n <= d->chunk ? n : 0;
    return LP_OK;
}

/* dW (F, K) = sum_n dout_n . col_n^T, db = sum of dout per channel, and, if need_dx,
 * prev->dout = col2im(W^T . dout); dout is masked by the ReLU of the layer's output. */
static lp_status conv_backward_(lp_network *net, lp_layer *l, int n) {
    conv_state_ *d = l->state;
    int F = d->filters;
    if (d->b_off >= 0)
        LP_TRY(lp_op_conv_bias_grad(net->rt, l->dout, l->out, d->relu, n, F, (int)d->P, net->grads,
                                    d->b_off));
    for (int s0 = 0; s0 < n; s0 += d->chunk) {
        int cn = n - s0 < d->chunk ? n - s0 : d->chunk;
        size_t cols = (size_t)cn * d->P;
        if (d->col_samples != n) LP_TRY(lp_op_im2col(net->rt, &d->g, l->prev->out, s0, cn, d->col));
        LP_TRY(lp_op_conv_nchw_to_rows(net->rt, l->dout, l->out, d->relu, s0, cn, F, (int)d->P,
                                       d->rows));
        /* dW (F, K) (+)= rows (F, cn*P) . col^T (cn*P, K): the first chunk overwrites. */
        LP_TRY(lp_op_gemm(net->rt, false, true, (size_t)F, d->K, cols, 1.0f, d->rows, 0, cols,
                          d->col, 0, cols, s0 ? 1.0f : 0.0f, net->grads, d->w_off, d->K,
                          "conv_backward_dw_gemm"));
        if (!l->need_dx) continue;
        /* dcol (K, cn*P) = W^T (K, F) . rows (F, cn*P), written over the columns. */
        d->col_samples = 0;
        LP_TRY(lp_op_gemm(net->rt, true, false, d->K, cols, (size_t)F, 1.0f, net->params, d->w_off,
                          d->K, d->rows, 0, cols, 0.0f, d->col, 0, cols, "conv_backward_dx_gemm"));
        LP_TRY(lp_op_col2im(net->rt, &d->g, d->col, s0, cn, l->prev->dout));
    }
    return LP_OK;
}

static void conv_destroy_(lp_layer *l) {
    conv_state_ *d = l->state;
    if (!d) return;
    if (d->col) clReleaseMemObject(d->col);
    if (d->rows) clReleaseMemObject(d->rows);
    free(d);
}

static const lp_layer_ops conv_ops_ = {conv_forward_, conv_backward_, conv_destroy_};

/* Bytes allowed for the larger of the two chunk buffers. */
static size_t col_budget_(const lp_device_info *dev) {
    size_t budget = COL_BUDGET_DEFAULT_;
    const char *env = getenv("LAPERM_CONV_COL_BYTES");
    if (env && *env) {
        char *end;
        unsigned long long v = strtoull(env, &end, 10);
        if (*end == '\0' && v > 0) budget = (size_t)v;
    }
    if (dev->max_alloc && budget > dev->max_alloc) budget = (size_t)dev->max_alloc;
    return budget;
}

lp_status lp_layer_init_conv2d(lp_network *net, lp_layer *l) {
    const lp_conv2d_spec *spec = &l->spec->u.conv;
    const char *name = l->spec->name;
    if (l->first_tensor < 0)
        return lp_fail(LP_ERR_INVALID_ARG, "conv2d layer '%s' has no kernel", name);
    conv_state_ *d = calloc(1, sizeof *d);
    if (!d) return lp_fail(LP_ERR_NO_MEMORY, "out of host memory");
    l->state = d;
    l->ops = &conv_ops_;
    lp_status s = lp_conv_geom_make(l->spec->in, spec, &d->g);
    if (s != LP_OK) return lp_fail_context(s, "conv2d layer '%s': ", name);
    d->filters = spec->filters;
    d->K = lp_conv_geom_k(&d->g);
    d->P = lp_conv_geom_p(&d->g);
    lp_shape out = l->spec->out;
    if (out.c != d->filters || out.h != d->g.oh || out.w != d->g.ow)
        return lp_fail(LP_ERR_INVALID_ARG,
                       "conv2d layer '%s': output shape %dx%dx%d, expected %dx%dx%d", name, out.c,
                       out.h, out.w, d->filters, d->g.oh, d->g.ow);
    const lp_param_tensor *w = &net->tensors[l->first_tensor];
    if (w->layer != l->index || w->count != (size_t)d->filters * d->K)
        return lp_fail(LP_ERR_INVALID_ARG,
                       "conv2d layer '%s': kernel tensor of %zu values, "
                       "expected %d x %zu",
                       name, w->count, d->filters, d->K);
    d->w_off = w->offset;
    d->b_off = -1;
    if (spec->use_bias) {
        const lp_param_tensor *b =
            l->first_tensor + 1 < net->n_tensors ? &net->tensors[l->first_tensor + 1] : NULL;
        if (!b || b->layer != l->index || b->count != (size_t)d->filters || b->offset > INT_MAX)
            return lp_fail(LP_ERR_INVALID_ARG, "conv2d layer '%s': no bias tensor of %d values",
                           name, d->filters);
        d->b_off = (int)b->offset;
    }
    d->relu = spec->activation == LP_ACT_RELU;
    if (l->need_dx && !l->prev->dout)
        return lp_fail(LP_ERR_INVALID_ARG, "layer '%s': no gradient buffer upstream", name);

    /* Chunk: as many samples as the budget holds, at least one. */
    size_t per_sample = (d->K > (size_t)d->filters ? d->K : (size_t)d->filters) * d->P * 4;
    size_t budget = col_budget_(lp_runtime_device(net->rt));
    if (per_sample > budget)
        return lp_fail(LP_ERR_UNSUPPORTED,
                       "conv2d layer '%s': one sample's columns take %zu bytes, more than the "
                       "%zu the device allows in one buffer",
                       name, per_sample, budget);
    size_t chunk = budget / per_sample;
    d->chunk = chunk < (size_t)net->max_batch ? (int)chunk : net->max_batch;
    size_t cols = (size_t)d->chunk * d->P;
    LP_TRY(lp_buffer_create(net->rt, d->K * cols * 4, "conv2d columns", &d->col));
    LP_TRY(lp_buffer_create(net->rt, (size_t)d->filters * cols * 4, "conv2d rows", &d->rows));

    l->owns_buffers = true;
    size_t bytes = (size_t)net->max_batch * l->out_features * sizeof(float);
    LP_TRY(lp_buffer_create(net->rt, bytes, "conv2d activations", &l->out));
    return lp_buffer_create(net->rt, bytes, "conv2d gradients", &l->dout);
}
