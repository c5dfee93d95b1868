/* A convolution unit over a layer's buffers: [conv2d] (layer_conv2d.c) and the projection
 * of [add] (layer_add.c) are each one (conv2d_unit.h).
 *
 * Through im2col and one GEMM per chunk of samples: the chunk's column matrix
 * col (K, cn*P) holds every sample side by side, so the forward product, the kernel
 * gradient and the column gradient are each a single large GEMM (laperm/ops_conv.h has
 * the layouts). The kernel is (F, cin, kh, kw) = (F, K) row-major, one LaPerm group per
 * filter. A layer can instead run directly from the images (laperm/conv_direct.h), at
 * stride 1 through FFTs (laperm/conv_fft.h), or, 3x3 at stride 1, by Winograd
 * (laperm/conv_winograd.h), as lp_network_options.conv_algo says; the paths are one table,
 * paths_. `auto` takes a path by rule, or with --fast times them once per shape
 * (conv_algo-impl.h keeps the decision). Only the chosen path's buffers stay allocated. */
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "conv2d_unit.h"
#include "conv_algo-impl.h"
#include "laperm/clock.h"
#include "laperm/conv_direct.h"
#include "laperm/conv_fft.h"
#include "laperm/conv_winograd.h"
#include "laperm/ops.h"
#include "laperm/ops_conv.h"
#include "tune-impl.h"

/* Largest column buffer unless $LAPERM_CONV_COL_BYTES says otherwise (tests use it to
 * force several chunks). It bounds the memory a big layer takes at a big batch; even a
 * chunk of a few samples makes GEMMs with thousands of columns. */
#define COL_BUDGET_DEFAULT_ ((size_t)256 << 20)
/* Timed runs per path for `auto` (at most: the budget, laperm/tune.h, may end them
 * sooner), after one warm-up run of each (kernel builds, FFT plans, CLBlast's own
 * compilation); the fastest counts. */
#define TUNE_REPS_ 4

typedef struct {
    lp_conv_geom g;
    int filters;
    size_t K, P;
    size_t w_off;
    int b_off; /* -1: no bias */
    bool relu;
    lp_conv_algo path; /* the path forward and backward take: a row of paths_ */
    cl_mem psum; /* with a bias: LP_CONV_PSUM_BYTES(max_batch, F), its gradient's partial sums */
    /* GEMM path; NULL buffers when another path runs, or when whole_window */
    bool whole_window; /* the window is the unpadded input: im2col would only transpose it */
    int chunk;         /* samples per chunk: col and rows hold this many */
    cl_mem col;        /* (K, chunk*P); also the column gradient in backward */
    cl_mem rows;       /* (F, chunk*P): forward output rows, then the output gradient rows */
    int col_samples;   /* > 0: col holds im2col of the last forward's whole batch of this many */
    /* FFT path; NULL when another path runs */
    lp_conv_fft *fft;
    int fft_chunk; /* samples per lp_conv_fft call */
    int fft_fwd_n; /* > 0: fft holds the spectra of the last forward's whole batch of this many */
    /* direct path; NULL otherwise */
    lp_conv_direct *direct;
    /* Winograd path; NULL otherwise */
    lp_conv_winograd *wino;
} conv_state_;

/* A layer whose window is its whole unpadded input (one output pixel: conv7's last conv)
 * is a dense layer over the flattened input x (n, K): its products take x as it lies,
 * with no column matrix and no layout passes (there were four launches around each
 * product, which at conv7's 64x4x4 > 128 cost more than the product). */
static lp_status whole_window_forward_(lp_network *net, lp_layer *l, int n) {
    conv_state_ *d = l->state;
    size_t F = (size_t)d->filters;
    /* out (n, F) = x (n, K) . W^T (K, F) */
    LP_TRY(lp_op_gemm(net->rt, false, true, (size_t)n, F, d->K, 1.0f, l->prev->out, 0, d->K,
                      net->params, d->w_off, d->K, 0.0f, l->out, 0, F, "conv_forward_gemm"));
    if (d->b_off < 0 && !d->relu) return LP_OK;
    return lp_op_conv_bias_act(net->rt, l->out, n, d->filters, 1, net->params, d->b_off, d->relu);
}

static lp_status mask_and_bias_grad_(lp_network *net, lp_layer *l, int n);

/* The gradients of whole_window_forward_, dout masked as the FFT path does. */
static lp_status whole_window_backward_(lp_network *net, lp_layer *l, int n) {
    conv_state_ *d = l->state;
    size_t F = (size_t)d->filters;
    LP_TRY(mask_and_bias_grad_(net, l, n));
    /* dW (F, K) = dout^T (F, n) . x (n, K) */
    LP_TRY(lp_op_gemm(net->rt, true, false, F, d->K, (size_t)n, 1.0f, l->dout, 0, F, l->prev->out,
                      0, d->K, 0.0f, net->grads, d->w_off, d->K, "conv_backward_dw_gemm"));
    if (!l->need_dx) return LP_OK;
    /* dx (n, K) = dout (n, F) . W (F, K) */
    return lp_op_gemm(net->rt, false, false, (size_t)n, d->K, F, 1.0f, l->dout, 0, F, net->params,
                      d->w_off, d->K, 0.0f, l->prev->dout, 0, d->K, "conv_backward_dx_gemm");
}

/* out (n, F, oh, ow) = W . im2col(x) + b, then ReLU; x is prev->out (n, cin, ih, iw). */
static lp_status gemm_forward_(lp_network *net, lp_layer *l, int n) {
    conv_state_ *d = l->state;
    int F = d->filters;
    if (d->whole_window) return whole_window_forward_(net, l, n);
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
static lp_status gemm_backward_(lp_network *net, lp_layer *l, int n) {
    conv_state_ *d = l->state;
    int F = d->filters;
    if (d->whole_window) return whole_window_backward_(net, l, n);
    for (int s0 = 0; s0 < n; s0 += d->chunk) {
        int cn = n - s0 < d->chunk ? n - s0 : d->chunk;
        size_t cols = (size_t)cn * d->P;
        if (d->col_samples != n) LP_TRY(lp_op_im2col(net->rt, &d->g, l->prev->out, s0, cn, d->col));
        /* The bias gradient's partial sums come from the same pass over dout. */
        LP_TRY(lp_op_conv_nchw_to_rows(net->rt, l->dout, l->out, d->relu, s0, cn, F, (int)d->P,
                                       d->rows, d->b_off >= 0 ? d->psum : NULL));
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
    if (d->b_off >= 0) LP_TRY(lp_op_conv_bias_reduce(net->rt, d->psum, n, F, net->grads, d->b_off));
    return LP_OK;
}

/* Same output as gemm_forward_: the FFT path writes the NCHW output directly, then bias
 * and ReLU are applied in place. */
static lp_status fft_forward_(lp_network *net, lp_layer *l, int n) {
    conv_state_ *d = l->state;
    for (int s0 = 0; s0 < n; s0 += d->fft_chunk) {
        int cn = n - s0 < d->fft_chunk ? n - s0 : d->fft_chunk;
        LP_TRY(lp_conv_fft_forward_at(d->fft, s0, cn, l->prev->out, net->params, d->w_off, l->out));
    }
    /* The backward pass reuses the spectra of x and W when one call held the whole batch. */
    d->fft_fwd_n = n <= d->fft_chunk ? n : 0;
    if (d->b_off < 0 && !d->relu) return LP_OK;
    return lp_op_conv_bias_act(net->rt, l->out, n, d->filters, (int)d->P, net->params, d->b_off,
                               d->relu);
}

/* dout masked by the ReLU in place (nothing reads it after this layer's backward, and
 * masking twice changes nothing), then the bias gradient from it: the FFT and Winograd
 * paths' first steps of backward. */
static lp_status mask_and_bias_grad_(lp_network *net, lp_layer *l, int n) {
    conv_state_ *d = l->state;
    int F = d->filters;
    if (d->relu) LP_TRY(lp_op_relu_backward(net->rt, l->dout, l->out, (int)((size_t)n * F * d->P)));
    if (d->b_off >= 0)
        LP_TRY(lp_op_conv_bias_grad(net->rt, l->dout, NULL, false, n, F, (int)d->P, d->psum,
                                    net->grads, d->b_off));
    return LP_OK;
}

/* Same gradients as gemm_backward_, dW overwritten by the first chunk and added to by the
 * others. dout is masked by the ReLU in place: nothing reads it after this layer's
 * backward, and masking twice changes nothing. */
static lp_status fft_backward_(lp_network *net, lp_layer *l, int n) {
    conv_state_ *d = l->state;
    LP_TRY(mask_and_bias_grad_(net, l, n));
    bool reuse = d->fft_fwd_n == n;
    cl_mem dx = l->need_dx ? l->prev->dout : NULL;
    for (int s0 = 0; s0 < n; s0 += d->fft_chunk) {
        int cn = n - s0 < d->fft_chunk ? n - s0 : d->fft_chunk;
        LP_TRY(lp_conv_fft_backward_at(d->fft, s0, cn, l->prev->out, l->dout, net->params, d->w_off,
                                       net->grads, d->w_off, s0 > 0, dx, reuse));
    }
    return LP_OK;
}

/* Same output as gemm_forward_, from the images (laperm/conv_direct.h). */
static lp_status direct_forward_(lp_network *net, lp_layer *l, int n) {
    conv_state_ *d = l->state;
    return lp_conv_direct_forward(d->direct, n, l->prev->out, net->params, d->w_off, d->b_off,
                                  d->relu, l->out);
}

/* Same gradients as gemm_backward_; the bias gradient in the same order, so the same bits. */
static lp_status direct_backward_(lp_network *net, lp_layer *l, int n) {
    conv_state_ *d = l->state;
    if (d->b_off >= 0)
        LP_TRY(lp_op_conv_bias_grad(net->rt, l->dout, l->out, d->relu, n, d->filters, (int)d->P,
                                    d->psum, net->grads, d->b_off));
    return lp_conv_direct_backward(d->direct, n, l->prev->out, l->out, l->dout, d->relu,
                                   net->params, d->w_off, net->grads, d->w_off,
                                   l->need_dx ? l->prev->dout : NULL);
}

static void gemm_release_(conv_state_ *d) {
    if (d->col) clReleaseMemObject(d->col);
    if (d->rows) clReleaseMemObject(d->rows);
    d->col = d->rows = NULL;
    d->col_samples = 0;
}

static void fft_release_(conv_state_ *d) {
    lp_conv_fft_destroy(d->fft);
    d->fft = NULL;
    d->fft_fwd_n = 0;
}

static void direct_release_(conv_state_ *d) {
    lp_conv_direct_destroy(d->direct);
    d->direct = NULL;
}

/* Bytes allowed for the larger of the two chunk buffers. */
static size_t col_budget_(lp_runtime *rt) {
    const lp_device_info *dev = lp_runtime_device(rt);
    size_t budget = COL_BUDGET_DEFAULT_;
    /* Portable bits: chunks group the weight gradient's sums, so their size must not
     * depend on the device: 128 MiB, the least CL_DEVICE_MAX_MEM_ALLOC_SIZE OpenCL allows. */
    if (lp_runtime_bits(rt) == LP_BITS_PORTABLE) budget = (size_t)128 << 20;
    const char *env = getenv("LAPERM_CONV_COL_BYTES");
    if (env && *env) {
        char *end;
        unsigned long long v = strtoull(env, &end, 10);
        if (*end == '\0' && v > 0) budget = (size_t)v;
    }
    if (dev->max_alloc && budget > dev->max_alloc) budget = (size_t)dev->max_alloc;
    return budget;
}

static bool whole_window_(const conv_state_ *d) {
    const lp_conv_geom *g = &d->g;
    return d->P == 1 && g->kh == g->ih && g->kw == g->iw && g->pad_top == 0 && g->pad_left == 0;
}

/* The larger of a sample's columns (K, P) and rows (F, P), in bytes. */
static size_t gemm_sample_bytes_(const conv_state_ *d) {
    return (d->K > (size_t)d->filters ? d->K : (size_t)d->filters) * d->P * 4;
}

/* The GEMM path's chunk: as many samples as the budget holds; 0 when not even one. */
static int gemm_chunk_(const lp_network *net, const conv_state_ *d) {
    size_t chunk = col_budget_(net->rt) / gemm_sample_bytes_(d);
    return chunk < (size_t)net->max_batch ? (int)chunk : net->max_batch;
}

/* The GEMM path's chunk buffers: as many samples as the budget holds, at least one. */
static lp_status gemm_setup_(lp_network *net, lp_layer *l) {
    conv_state_ *d = l->state;
    d->whole_window = whole_window_(d);
    if (d->whole_window) return LP_OK;
    d->chunk = gemm_chunk_(net, d);
    if (d->chunk < 1)
        return lp_fail(LP_ERR_UNSUPPORTED,
                       "conv2d layer '%s': one sample's columns take %zu bytes, more than the "
                       "%zu the device allows in one buffer",
                       l->spec->name, gemm_sample_bytes_(d), col_budget_(net->rt));
    size_t cols = (size_t)d->chunk * d->P;
    LP_TRY(lp_buffer_create(net->rt, d->K * cols * 4, "conv2d columns", &d->col));
    return lp_buffer_create(net->rt, (size_t)d->filters * cols * 4, "conv2d rows", &d->rows);
}

/* The batch `auto` times and the FFT path is planned for: the training batch when known. */
static int tune_batch_(const lp_network *net) {
    int n = net->opt.tune_batch;
    return n > 0 && n < net->max_batch ? n : net->max_batch;
}

static lp_conv_fft_shape fft_shape_(const conv_state_ *d, int n) {
    const lp_conv_geom *g = &d->g;
    return (lp_conv_fft_shape){.n = n,
                               .cin = g->cin,
                               .h = g->ih,
                               .w = g->iw,
                               .filters = d->filters,
                               .kh = g->kh,
                               .kw = g->kw,
                               .pad_top = g->pad_top,
                               .pad_left = g->pad_left,
                               .oh = g->oh,
                               .ow = g->ow};
}

/* Why the FFT path cannot run this layer, or NULL when it can; *chunk: the samples per
 * FFT call that fit the same budget as the GEMM columns. */
static const char *fft_fit_(const lp_network *net, const lp_layer *l, int *chunk) {
    const conv_state_ *d = l->state;
    if (!lp_conv_fft_available()) return "this build has no clFFT";
    if (d->g.stride_h != 1 || d->g.stride_w != 1) return "the FFT path needs stride 1";
    if ((size_t)net->max_batch * l->out_features > INT_MAX) return "too large for the FFT path";
    lp_conv_fft_shape sh = fft_shape_(d, 1);
    size_t fixed, per_sample;
    lp_conv_fft_bytes(&sh, &fixed, &per_sample);
    size_t budget = col_budget_(net->rt);
    if (fixed + per_sample > budget) return "one sample's FFT buffers exceed the budget";
    size_t fit = (budget - fixed) / per_sample;
    int n = tune_batch_(net);
    *chunk = fit < (size_t)n ? (int)fit : n;
    return NULL;
}

static const char *fft_unfit_(const lp_network *net, const lp_layer *l) {
    int chunk;
    return fft_fit_(net, l, &chunk);
}

/* Why choosing the FFT path by name is an error (not a fall-back to GEMM), or NULL. */
static const char *fft_refused_(const lp_network *net) {
    if (!lp_conv_fft_available())
        return "the FFT convolution (conv algorithm fft) needs clFFT, which was not found when "
               "laperm was configured (install clFFT's development files and re-run CMake, or "
               "choose gemm, direct or auto)";
    if (lp_runtime_bits(net->rt) == LP_BITS_PORTABLE)
        return "--bits portable has no FFT path (its twiddles and transforms are the device's "
               "and clFFT's): choose gemm, direct or auto";
    return NULL;
}

static lp_status fft_setup_(lp_network *net, lp_layer *l) {
    conv_state_ *d = l->state;
    int chunk = 0;
    const char *why = fft_fit_(net, l, &chunk);
    if (why) return lp_fail(LP_ERR_UNSUPPORTED, "conv2d layer '%s': %s", l->spec->name, why);
    d->fft_chunk = chunk;
    lp_conv_fft_shape sh = fft_shape_(d, chunk);
    lp_status s = lp_conv_fft_create(net->rt, &sh, &d->fft);
    return s == LP_OK ? s : lp_fail_context(s, "conv2d layer '%s': ", l->spec->name);
}

/* Why the direct path cannot run this layer, or NULL when it can: besides the shape, its
 * buffers (for the largest batch forward, the training batch backward) must fit the same
 * budget as the GEMM columns. */
static const char *direct_unfit_(const lp_network *net, const lp_layer *l) {
    const conv_state_ *d = l->state;
    const char *why = lp_conv_direct_unfit_on(net->rt, &d->g, d->filters);
    if (why) return why;
    lp_held_bytes held;
    lp_conv_direct_held(net->rt, &d->g, d->filters, net->max_batch, tune_batch_(net), true, &held);
    if (lp_held_bytes_total(&held) > col_budget_(net->rt))
        return "the direct path's buffers exceed the budget";
    return NULL;
}

static lp_status direct_setup_(lp_network *net, lp_layer *l) {
    conv_state_ *d = l->state;
    lp_status s =
        lp_conv_direct_create(net->rt, &d->g, d->filters, net->max_batch, l->need_dx, &d->direct);
    if (s != LP_OK) return lp_fail_context(s, "conv2d layer '%s': ", l->spec->name);
    lp_conv_direct_share_backward(d->direct, net->workspace);
    return LP_OK;
}

/* Why the Winograd path cannot run this layer, or NULL: besides the shape, one sample's
 * buffers must fit the same budget as the GEMM columns. */
static const char *wino_unfit_(const lp_network *net, const lp_layer *l) {
    const conv_state_ *d = l->state;
    const char *why = lp_conv_winograd_unfit(&d->g, d->filters);
    if (why) return why;
    size_t fixed, per_sample;
    lp_conv_winograd_bytes(&d->g, d->filters, lp_conv_winograd_tile(), l->need_dx, &fixed,
                           &per_sample);
    if (fixed + per_sample > col_budget_(net->rt))
        return "the Winograd path's buffers exceed the budget";
    return NULL;
}

/* Choosing Winograd by name under --bits portable is an error: its transforms round
 * differently from the direct sums every other device's portable run makes. */
static const char *wino_refused_(const lp_network *net) {
    if (lp_runtime_bits(net->rt) == LP_BITS_PORTABLE)
        return "--bits portable has no Winograd path (its transforms round differently from "
               "the direct sums): choose gemm, direct or auto";
    return NULL;
}

/* On CPUs, a layer whose tile buffers take at least WINO_CPU_BIG_ bytes a sample goes
 * through in chunks of about LP_CONV_WINOGRAD_CPU_TILES tiles (whole samples): the transforms move
 * 2.25 times the layer's data into those buffers and the products read it back, and a
 * smaller chunk's stay in the caches between launches, while 512 tiles still make long
 * products (conv4's 64x32x32 layer at batch 50, forward + backward, PoCL: chunks of 4-8
 * samples 31-34 ms against 41-47 ms for one chunk of 50, measured in turn, and in
 * --fast's timing 33.4 and 35.3 ms against 45.7 and 44.6; layers of smaller samples,
 * resnet20's and conv4's 128x16x16 among them, measured no steady gain). */
#define WINO_CPU_BIG_ ((size_t)2 << 20)

/* As many samples per chunk as the budget holds, at most the largest batch (and on CPUs
 * as above). */
static int wino_chunk_(const lp_network *net, const lp_layer *l, int m) {
    const conv_state_ *d = l->state;
    size_t fixed, per_sample;
    lp_conv_winograd_bytes(&d->g, d->filters, m, l->need_dx, &fixed, &per_sample);
    size_t budget = col_budget_(net->rt);
    size_t fit = budget > fixed ? (budget - fixed) / per_sample : 0;
    if ((lp_runtime_device(net->rt)->type & CL_DEVICE_TYPE_CPU) != 0 &&
        per_sample >= WINO_CPU_BIG_) {
        size_t tiles = (size_t)((d->g.oh + m - 1) / m) * (size_t)((d->g.ow + m - 1) / m);
        size_t most = (LP_CONV_WINOGRAD_CPU_TILES + tiles - 1) / tiles;
        if (fit > most) fit = most;
    }
    int chunk = fit < (size_t)net->max_batch ? (int)fit : net->max_batch;
    return chunk < 1 ? 1 : chunk;
}

static lp_status wino_setup_(lp_network *net, lp_layer *l) {
    conv_state_ *d = l->state;
    int m = lp_conv_winograd_tile(), chunk = wino_chunk_(net, l, m);
    lp_status s =
        lp_conv_winograd_create(net->rt, &d->g, d->filters, m, chunk, l->need_dx, &d->wino);
    if (s != LP_OK) return lp_fail_context(s, "conv2d layer '%s': ", l->spec->name);
    lp_conv_winograd_share_scratch(d->wino, net->workspace);
    return LP_OK;
}

/* Same output as gemm_forward_ to the transforms' rounding (conv_winograd.h). */
static lp_status wino_forward_(lp_network *net, lp_layer *l, int n) {
    conv_state_ *d = l->state;
    return lp_conv_winograd_forward(d->wino, n, l->prev->out, net->params, d->w_off, d->b_off,
                                    d->relu, l->out);
}

/* Same gradients as gemm_backward_ to rounding; dout masked as the FFT path does. */
static lp_status wino_backward_(lp_network *net, lp_layer *l, int n) {
    conv_state_ *d = l->state;
    LP_TRY(mask_and_bias_grad_(net, l, n));
    return lp_conv_winograd_backward(d->wino, n, l->prev->out, l->dout, net->params, d->w_off,
                                     net->grads, d->w_off, l->need_dx ? l->prev->dout : NULL);
}

static void wino_release_(conv_state_ *d) {
    lp_conv_winograd_destroy(d->wino);
    d->wino = NULL;
}

/* Each path's buffers as its setup makes them (laperm/workspace.h's lp_held_bytes). */
static void gemm_held_(const lp_network *net, const lp_layer *l, lp_held_bytes *out) {
    const conv_state_ *d = l->state;
    int chunk = whole_window_(d) ? 0 : gemm_chunk_(net, d);
    *out =
        (lp_held_bytes){.own = (uint64_t)(d->K + (size_t)d->filters) * (uint64_t)chunk * d->P * 4};
}

static void direct_held_(const lp_network *net, const lp_layer *l, lp_held_bytes *out) {
    const conv_state_ *d = l->state;
    lp_conv_direct_held(net->rt, &d->g, d->filters, net->max_batch, tune_batch_(net), l->need_dx,
                        out);
}

static void wino_held_(const lp_network *net, const lp_layer *l, lp_held_bytes *out) {
    const conv_state_ *d = l->state;
    int m = lp_conv_winograd_tile();
    lp_conv_winograd_held(net->rt, &d->g, d->filters, m, wino_chunk_(net, l, m), l->need_dx, out);
}

static void fft_held_(const lp_network *net, const lp_layer *l, lp_held_bytes *out) {
    const conv_state_ *d = l->state;
    int chunk = 0;
    *out = (lp_held_bytes){0};
    if (fft_fit_(net, l, &chunk)) return;
    lp_conv_fft_shape sh = fft_shape_(d, chunk);
    size_t fixed, per_sample;
    lp_conv_fft_bytes(&sh, &fixed, &per_sample);
    out->own = fixed + (uint64_t)chunk * per_sample;
}

static const char *gemm_unfit_(const lp_network *net, const lp_layer *l) {
    (void)net, (void)l;
    return NULL; /* every layer can take it: its chunks shrink to fit the budget */
}

/* The paths, one row each, in the order `auto` times them: GEMM first (every layer can
 * take it), FFT last (its plans take longest to make, and the budget may run out before
 * it). Each row's functions work on the layer's conv_state_; release may be called on a
 * state that holds none of the path's buffers. */
typedef struct {
    lp_conv_algo algo; /* its name: lp_conv_algo_name (conv_algo.c) */
    /* Why choosing the path by name is an error rather than a fall-back to GEMM (the
     * build or the bits mode rules it out), or NULL; NULL function: never. */
    const char *(*refused)(const lp_network *net);
    /* Why the path cannot run this layer (then GEMM does), or NULL. */
    const char *(*unfit)(const lp_network *net, const lp_layer *l);
    lp_status (*setup)(lp_network *net, lp_layer *l); /* allocates its buffers */
    lp_status (*forward)(lp_network *net, lp_layer *l, int n);
    lp_status (*backward)(lp_network *net, lp_layer *l, int n);
    void (*release)(conv_state_ *d); /* frees its buffers */
    /* The bytes setup allocates and the passes borrow, computed without allocating (the
     * memory plan's); for a layer the path fits. */
    void (*held)(const lp_network *net, const lp_layer *l, lp_held_bytes *out);
    size_t ms_at; /* offset of its time in lp_conv_choice */
} conv_path_;

static const conv_path_ paths_[] = {
    {LP_CONV_ALGO_GEMM, NULL, gemm_unfit_, gemm_setup_, gemm_forward_, gemm_backward_,
     gemm_release_, gemm_held_, offsetof(lp_conv_choice, gemm_ms)},
    {LP_CONV_ALGO_DIRECT, NULL, direct_unfit_, direct_setup_, direct_forward_, direct_backward_,
     direct_release_, direct_held_, offsetof(lp_conv_choice, direct_ms)},
    {LP_CONV_ALGO_WINOGRAD, wino_refused_, wino_unfit_, wino_setup_, wino_forward_, wino_backward_,
     wino_release_, wino_held_, offsetof(lp_conv_choice, winograd_ms)},
    {LP_CONV_ALGO_FFT, fft_refused_, fft_unfit_, fft_setup_, fft_forward_, fft_backward_,
     fft_release_, fft_held_, offsetof(lp_conv_choice, fft_ms)},
};
#define N_PATHS_ ((int)(sizeof paths_ / sizeof *paths_))
_Static_assert(N_PATHS_ == LP_CONV_ALGO_COUNT - 1, "one row per lp_conv_algo but auto");

/* The row of path a (GEMM's for a value no row has). */
static const conv_path_ *path_(lp_conv_algo a) {
    for (int i = 0; i < N_PATHS_; ++i)
        if (paths_[i].algo == a) return &paths_[i];
    return &paths_[0];
}

/* Where choice c keeps row p's time. */
static double *choice_ms_(lp_conv_choice *c, const conv_path_ *p) {
    return (double *)(void *)((char *)c + p->ms_at);
}

static lp_status conv_forward_(lp_network *net, lp_layer *l, int n, bool training) {
    (void)training;
    conv_state_ *d = l->state;
    return path_(d->path)->forward(net, l, n);
}

static lp_status conv_backward_(lp_network *net, lp_layer *l, int n) {
    conv_state_ *d = l->state;
    return path_(d->path)->backward(net, l, n);
}

static void conv_destroy_(lp_layer *l) {
    conv_state_ *d = l->state;
    if (!d) return;
    for (int i = 0; i < N_PATHS_; ++i)
        paths_[i].release(d);
    if (d->psum) clReleaseMemObject(d->psum);
    free(d);
}

static const lp_layer_ops conv_ops_ = {conv_forward_, conv_backward_, conv_destroy_, NULL};

/* Makes path the layer's and allocates its buffers. */
static lp_status path_setup_(lp_network *net, lp_layer *l, lp_conv_algo path) {
    conv_state_ *d = l->state;
    d->path = path;
    return path_(path)->setup(net, l);
}

/* Frees the buffers of every path but d->path. */
static void release_others_(conv_state_ *d) {
    for (int i = 0; i < N_PATHS_; ++i)
        if (paths_[i].algo != d->path) paths_[i].release(d);
}

static void note_(const lp_network *net, bool warning, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static void note_(const lp_network *net, bool warning, const char *fmt, ...) {
    if (!net->opt.note) return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    net->opt.note(net->opt.note_ctx, warning, line);
}

/* "conv2d_1 1x28x28 -> 32x26x26, 3x3: fft (why)" */
static void note_choice_(const lp_network *net, const lp_layer *l, const char *why) {
    const conv_state_ *d = l->state;
    const lp_conv_geom *g = &d->g;
    char stride[32] = "";
    if (g->stride_h != 1 || g->stride_w != 1)
        snprintf(stride, sizeof stride, " stride %dx%d", g->stride_h, g->stride_w);
    note_(net, false, "%s %dx%dx%d -> %dx%dx%d, %dx%d%s: %s (%s)", l->spec->name, g->cin, g->ih,
          g->iw, d->filters, g->oh, g->ow, g->kh, g->kw, stride, lp_conv_algo_name(d->path), why);
}

/* One forward + backward of n samples through the current path, as a run of candidate i
 * of race r: *ms its wall time less program builds; the run is abandoned between the
 * two when the race is over (*ms then INFINITY). */
static lp_status time_once_(lp_network *net, lp_layer *l, int n, lp_tune_race *r, int i,
                            double *ms) {
    *ms = INFINITY;
    double b0 = lp_runtime_build_stats(net->rt).build_seconds, t0 = lp_seconds();
    LP_TRY(conv_forward_(net, l, n, true));
    LP_TRY(lp_runtime_finish(net->rt));
    if (!lp_tune_mid(r, i)) return LP_OK;
    LP_TRY(conv_backward_(net, l, n));
    LP_TRY(lp_runtime_finish(net->rt));
    double builds = lp_runtime_build_stats(net->rt).build_seconds - b0;
    *ms = (lp_seconds() - t0 - builds) * 1e3;
    return LP_OK;
}

/* Times the paths the layer can take (the buffers of all of them held meanwhile) and
 * keeps the fastest, as a race bounded by the runtime's budget and stop flag
 * (tune-impl.h): GEMM first (every layer can take it), each path set up, run once
 * (kernel builds, plans, first-touch page faults) and timed once, then further rounds
 * (TUNE_REPS_ timed runs in all) that run the paths in turn, the fastest run of each
 * counting, so that a burst of load on a shared machine hits every path alike. A path
 * whose first timed run is over twice the fastest is dropped; when the budget is spent
 * the run under way is abandoned (between forward and backward) and the fastest timed
 * so far wins (GEMM when none finished). The layer's input and output gradient are
 * zeroed first, so no uninitialised memory is read; the buffers the runs write are all
 * rewritten before use in training. A failure of any path but GEMM (memory, clFFT)
 * is not fatal: that path is left out with a warning. *cache is false when the choice
 * is not to be kept (a path failed, or a stop request cut the timing short). */
static lp_status tune_(lp_network *net, lp_layer *l, int n, const bool *fits, lp_conv_choice *c,
                       bool *cache, char *how, size_t how_cap) {
    conv_state_ *d = l->state;
    *c = (lp_conv_choice){.algo = LP_CONV_ALGO_GEMM};
    *cache = true;
    LP_TRY(lp_buffer_fill_zero(net->rt, l->prev->out, 0, (size_t)n * l->prev->out_features * 4));
    LP_TRY(lp_buffer_fill_zero(net->rt, l->dout, 0, (size_t)n * l->out_features * 4));
    /* The paths that fit, in the table's order (GEMM first). */
    lp_conv_algo paths[N_PATHS_];
    double *ms[N_PATHS_];
    int np = 0;
    for (int i = 0; i < N_PATHS_; ++i) {
        if (!fits[paths_[i].algo]) continue;
        paths[np] = paths_[i].algo;
        ms[np++] = choice_ms_(c, &paths_[i]);
    }
    lp_tune_race r;
    lp_tune_race_start(&r, net->rt, np);
    lp_status s = LP_OK;
    /* Round 0: each path set up, warmed up and timed once before the next is set up, so
     * that a path whose set-up eats the budget (clFFT making its plans) leaves the
     * others timed. */
    for (int i = 0; s == LP_OK && i < np; ++i) {
        if (!lp_tune_go(&r, i)) continue;
        double warm;
        lp_status ps = path_setup_(net, l, paths[i]);
        if (ps == LP_OK) ps = time_once_(net, l, n, &r, i, &warm);
        if (ps == LP_OK) {
            lp_tune_warm(&r, i, warm);
            if (lp_tune_go(&r, i)) ps = time_once_(net, l, n, &r, i, &warm);
            if (ps == LP_OK && warm < INFINITY) lp_tune_done(&r, i, warm);
        }
        if (ps == LP_OK) continue;
        if (paths[i] == LP_CONV_ALGO_GEMM) {
            s = ps;
        } else {
            lp_tune_fail(&r, i);
            *cache = false;
            note_(net, true, "%s: the %s path failed while timing it, leaving it out: %s",
                  l->spec->name, lp_conv_algo_name(paths[i]), lp_last_error());
        }
    }
    for (int rep = 1; s == LP_OK && rep < TUNE_REPS_; ++rep)
        for (int i = 0; s == LP_OK && i < np; ++i) {
            if (!lp_tune_go(&r, i)) continue;
            double t;
            d->path = paths[i];
            s = time_once_(net, l, n, &r, i, &t);
            if (s == LP_OK && t < INFINITY) lp_tune_done(&r, i, t);
        }
    lp_tune_race_end(&r);
    LP_TRY(s);
    /* Each path's fastest timed run (a path with none: 0, not timed). */
    for (int i = 0; i < np; ++i)
        *ms[i] = r.timed[i] ? r.best[i] : 0;
    int best = lp_tune_best(&r);
    if (best < 0 || r.timed[best] == 0) best = 0; /* GEMM: every layer can take it */
    c->algo = paths[best];
    /* Not kept: a choice cut short by a stop, or made without a timed run (the budget
     * went on builds and first runs: a later run, with warm caches, times again). */
    if (r.stopped || r.timed[best] == 0) *cache = false;
    bool none = r.timed[best] == 0;
    int len = snprintf(how, how_cap, "%s",
                       r.stopped ? ", stop requested: timing cut short"
                       : none    ? ", the budget went on set-up and first runs"
                                 : "");
    for (int i = 0; !none && i < np && len >= 0 && (size_t)len < how_cap; ++i)
        if (r.state[i] == LP_TUNE_DROPPED)
            len += snprintf(how + len, how_cap - (size_t)len, "; %s dropped (over 2x the fastest)",
                            lp_conv_algo_name(paths[i]));
        else if (r.timed[i] == 0 && r.state[i] == LP_TUNE_ABANDONED && !r.stopped)
            len += snprintf(how + len, how_cap - (size_t)len, "; %s not timed (budget spent)",
                            lp_conv_algo_name(paths[i]));
    d->col_samples = d->fft_fwd_n = 0;
    d->path = c->algo;
    release_others_(d);
    /* A path abandoned before its set-up has no buffers; the chosen one must have its. */
    return d->path == LP_CONV_ALGO_GEMM && !d->col ? gemm_setup_(net, l) : LP_OK;
}

/* Everything a timing depends on besides the device (the file is per device). */
static void choice_key_(const lp_layer *l, int n, char *key, size_t cap) {
    const conv_state_ *d = l->state;
    const lp_conv_geom *g = &d->g;
    /* wg: the Winograd tile ($LAPERM_WINOGRAD_TILE) changes that path's time. */
    snprintf(key, cap, "n%d:in%dx%dx%d:f%d:k%dx%d:s%dx%d:pad%d,%d:out%dx%d:dx%d:bias%d:relu%d:wg%d",
             n, g->cin, g->ih, g->iw, d->filters, g->kh, g->kw, g->stride_h, g->stride_w,
             g->pad_top, g->pad_left, g->oh, g->ow, l->need_dx, d->b_off >= 0, d->relu,
             lp_conv_winograd_tile());
}

/* "gemm 16.2 ms, direct 11.0 ms": GEMM's time and those of the other paths timed. */
static void times_text_(lp_conv_choice *c, char *buf, size_t cap) {
    int len = 0;
    for (int i = 0; i < N_PATHS_ && len >= 0 && (size_t)len < cap; ++i) {
        double ms = *choice_ms_(c, &paths_[i]);
        if (i == 0 || ms > 0)
            len += snprintf(buf + len, cap - (size_t)len, "%s%s %.1f ms", i ? ", " : "",
                            lp_conv_algo_name(paths_[i].algo), ms);
    }
}

/* True when some path timed in c. */
static bool any_timed_(lp_conv_choice *c) {
    for (int i = 0; i < N_PATHS_; ++i)
        if (*choice_ms_(c, &paths_[i]) > 0) return true;
    return false;
}

/* auto: the cached decision for this shape on this device, else a timing (then cached).
 * A cached path that cannot be set up now (memory) falls back to GEMM with a warning. */
static lp_status choose_auto_(lp_network *net, lp_layer *l, const bool *fits) {
    conv_state_ *d = l->state;
    int n = tune_batch_(net);
    char key[LP_CONV_KEY_MAX], path[4608], why[400], times[120];
    choice_key_(l, n, key, sizeof key);
    bool disk = lp_conv_choice_path(net->rt, path, sizeof path);
    lp_conv_choice c;
    if (disk && lp_conv_choice_read(net->rt, key, &c, net->opt.note, net->opt.note_ctx)) {
        d->path = fits[c.algo] ? c.algo : LP_CONV_ALGO_GEMM;
        times_text_(&c, times, sizeof times);
        snprintf(why, sizeof why, "auto, cached: %s at batch %d", times, n);
        note_choice_(net, l, why);
        if (d->path == LP_CONV_ALGO_GEMM) return gemm_setup_(net, l);
        if (path_setup_(net, l, d->path) == LP_OK) return LP_OK;
        note_(net, true, "%s: %s; using GEMM", l->spec->name, lp_last_error());
        d->path = LP_CONV_ALGO_GEMM;
        release_others_(d);
        return gemm_setup_(net, l);
    }
    bool cache = false;
    char how[160];
    LP_TRY(tune_(net, l, n, fits, &c, &cache, how, sizeof how));
    times_text_(&c, times, sizeof times);
    if (any_timed_(&c))
        snprintf(why, sizeof why, "auto, timed: %s forward+backward at batch %d%s", times, n, how);
    else
        snprintf(why, sizeof why, "auto, nothing timed at batch %d%s", n, how);
    note_choice_(net, l, why);
    if (disk && cache && lp_conv_choice_write(net->rt, key, &c) != LP_OK)
        note_(net, true, "not caching the conv algorithm decision: %s", lp_last_error());
    return LP_OK;
}

/* auto's candidates: fits[a] for each path that can run the layer; true when one besides
 * GEMM can. When none can, *unfit is the last reason (the table's last path, FFT: the
 * widest). */
static bool auto_fits_(const lp_network *net, const lp_layer *l, bool *fits, const char **unfit) {
    const conv_state_ *d = l->state;
    bool other = false;
    for (int i = 0; i < N_PATHS_; ++i) {
        const char *why = paths_[i].unfit(net, l);
        /* A path left out by a rule on the device (tune.c) fits, but is not a candidate;
         * the note keeps the reasons of the paths that do not fit. */
        bool skip = !why && paths_[i].algo == LP_CONV_ALGO_FFT &&
                    lp_tune_skip_fft(net->rt, d->g.kh, d->g.kw);
        fits[paths_[i].algo] = !why && !skip;
        if (paths_[i].algo == LP_CONV_ALGO_GEMM) continue;
        if (why)
            *unfit = why;
        else if (!skip)
            other = true;
    }
    return other;
}

/* Picks the layer's path as net->opt.conv_algo says and allocates its buffers only. A
 * path chosen by name that the layer cannot take falls back to GEMM, and the note says
 * why; one the build or the bits mode rules out (its row's `refused`) is an error. */
static lp_conv_algo by_rule_(const lp_network *net, const lp_layer *l, const bool *fits);

static lp_status choose_(lp_network *net, lp_layer *l) {
    conv_state_ *d = l->state;
    lp_conv_algo mode = net->opt.conv_algo;
    d->path = LP_CONV_ALGO_GEMM;
    if (mode != LP_CONV_ALGO_AUTO) {
        const conv_path_ *p = path_(mode);
        const char *why = p->refused ? p->refused(net) : NULL;
        if (why) return lp_fail(LP_ERR_UNSUPPORTED, "conv2d layer '%s': %s", l->spec->name, why);
        why = p->unfit(net, l);
        if (why) {
            note_choice_(net, l, why);
            return gemm_setup_(net, l);
        }
        d->path = mode;
        char text[64];
        snprintf(text, sizeof text, "conv algorithm %s", lp_conv_algo_name(mode));
        note_choice_(net, l, text);
        return path_setup_(net, l, mode);
    }
    bool fits[LP_CONV_ALGO_COUNT] = {false};
    const char *unfit = NULL;
    if (!auto_fits_(net, l, fits, &unfit)) {
        note_choice_(net, l, unfit);
        return gemm_setup_(net, l);
    }
    if (net->opt.exact || lp_runtime_bits(net->rt) == LP_BITS_PORTABLE) {
        lp_conv_algo a = by_rule_(net, l, fits);
        d->path = a;
        note_choice_(net, l, "auto, by rule: --fast would time the paths");
        return path_setup_(net, l, a);
    }
    return choose_auto_(net, l, fits);
}

/* The path `auto` takes without timing: on CPUs Winograd (F(4x4,3x3)) for 3x3 stride-1
 * layers of at least 32 input channels and 4x4 outputs, never in portable-bits mode. On
 * PoCL (forward + both gradients, against the direct path unless said): 1.3-2.1x faster on
 * resnet20's 32x16x16 and 64x8x8 layers, conv7's 64x8x8 one and conv4's, 2.4-3x on
 * conv13's 64 to 512 channels at 32x32 to 4x4 outputs (against the faster of direct and
 * GEMM); even, within the spread of runs, on the other 32-channel layers measured
 * (conv7's 24x24 and 10x10 outputs, fmnist-bn's 14x14); slower with 16 channels
 * (resnet20's first stage: 15.5-16.8 ms against 13.9-14.7) and on 2x2 outputs (conv13's
 * last three: 27 ms against GEMM's 18). Then the direct path for layers with
 * enough input channels and output positions to fill its vector loops (timing picked it
 * for every such layer of conv4, conv6 and conv7 on PoCL, where GEMM won the first layers
 * and the small late ones); GEMM elsewhere, and on other devices. FFT never: it won no
 * timing on the devices measured. */
static lp_conv_algo by_rule_(const lp_network *net, const lp_layer *l, const bool *fits) {
    const conv_state_ *d = l->state;
    bool portable = lp_runtime_bits(net->rt) == LP_BITS_PORTABLE;
    /* Portable bits: one rule for every device (the CPU one), without Winograd. */
    bool cpu = (lp_runtime_device(net->rt)->type & CL_DEVICE_TYPE_CPU) != 0 || portable;
    if (cpu && !portable && fits[LP_CONV_ALGO_WINOGRAD] && d->g.cin >= 32 &&
        d->g.oh * d->g.ow >= 16)
        return LP_CONV_ALGO_WINOGRAD;
    if (cpu && fits[LP_CONV_ALGO_DIRECT] && d->g.cin >= 16 && d->g.oh * d->g.ow >= 64)
        return LP_CONV_ALGO_DIRECT;
    return LP_CONV_ALGO_GEMM;
}

/* The layer's path: a replayed one, or chosen as net->opt.conv_algo says. */
static lp_status take_path_(lp_network *net, lp_layer *l) {
    const lp_conv_algo *replay = net->opt.layer_algo;
    lp_conv_algo want = replay ? replay[l->index] : LP_CONV_ALGO_AUTO;
    lp_status s;
    if (want != LP_CONV_ALGO_AUTO) {
        lp_network_options saved = net->opt;
        net->opt.conv_algo = want;
        s = choose_(net, l);
        net->opt = saved;
        conv_state_ *d = l->state;
        if (s == LP_OK && d->path != want)
            s = lp_fail(LP_ERR_INVALID_ARG,
                        "conv layer '%s': the recorded path %s does not fit it here (took %s)",
                        l->spec->name, lp_conv_algo_name(want), lp_conv_algo_name(d->path));
    } else {
        s = choose_(net, l);
    }
    if (s == LP_OK) l->conv_path = ((conv_state_ *)l->state)->path;
    return s;
}

/* The unit's shape in d: geometry, filters, K and P. */
static lp_status geometry_(const lp_layer *l, const lp_conv2d_spec *spec, const lp_window *win,
                           conv_state_ *d) {
    lp_status s = lp_conv_geom_make(l->spec->in, win, &d->g);
    if (s != LP_OK) return lp_fail_context(s, "conv2d layer '%s': ", l->spec->name);
    d->filters = spec->filters;
    d->K = lp_conv_geom_k(&d->g);
    d->P = lp_conv_geom_p(&d->g);
    return LP_OK;
}

/* Into *into, the larger of its own bytes and b's, and of each slot's ask. */
static void held_max_(lp_held_bytes *into, const lp_held_bytes *b) {
    uint64_t own = into->own > b->own ? into->own : b->own;
    into->own = 0;
    lp_held_bytes_add(into, b);
    into->own = own;
}

lp_status lp_conv2d_unit_held(const lp_network *net, const lp_layer *l, const lp_conv2d_spec *spec,
                              const lp_window *win, lp_held_bytes *out) {
    *out = (lp_held_bytes){0};
    conv_state_ d = {0};
    LP_TRY(geometry_(l, spec, win, &d));
    lp_layer unit = *l;
    unit.state = &d;
    /* a built layer's own path; else a replayed one, or the options' */
    const lp_conv_algo *replay = net->opt.layer_algo;
    lp_conv_algo mode = l->conv_path;
    if (mode == LP_CONV_ALGO_AUTO)
        mode =
            replay && replay[l->index] != LP_CONV_ALGO_AUTO ? replay[l->index] : net->opt.conv_algo;
    bool fits[LP_CONV_ALGO_COUNT] = {false};
    const char *unfit = NULL;
    if (mode != LP_CONV_ALGO_AUTO) {
        /* choose_: a path refused is an error there, one that does not fit falls to GEMM */
        const conv_path_ *p = path_(mode);
        if ((p->refused && p->refused(net)) || p->unfit(net, &unit)) p = path_(LP_CONV_ALGO_GEMM);
        p->held(net, &unit, out);
    } else if (!auto_fits_(net, &unit, fits, &unfit)) {
        gemm_held_(net, &unit, out);
    } else if (net->opt.exact || lp_runtime_bits(net->rt) == LP_BITS_PORTABLE) {
        path_(by_rule_(net, &unit, fits))->held(net, &unit, out);
    } else {
        /* timed (or a cached timing): any path that fits may win */
        for (int i = 0; i < N_PATHS_; ++i) {
            if (!fits[paths_[i].algo]) continue;
            lp_held_bytes b;
            paths_[i].held(net, &unit, &b);
            held_max_(out, &b);
        }
    }
    if (spec->use_bias) out->own += LP_CONV_PSUM_BYTES(net->max_batch, spec->filters);
    return LP_OK;
}

lp_status lp_conv2d_unit_init(lp_network *net, lp_layer *l, const lp_conv2d_spec *spec,
                              const lp_window *win) {
    const char *name = l->spec->name;
    LP_ASSERT(l->first_tensor >= 0);
    LP_ASSERT(!l->need_dx || l->prev->dout);
    /* Checked here, before any path is chosen: the tile is in every decision's key. */
    LP_TRY(lp_conv_winograd_tile_check());
    conv_state_ *d = calloc(1, sizeof *d);
    if (!d) return lp_fail(LP_ERR_NO_MEMORY, "out of host memory");
    l->state = d;
    l->ops = &conv_ops_;
    LP_TRY(geometry_(l, spec, win, d));
    LP_ASSERT(l->out_features == (size_t)d->filters * d->P);
    const lp_param_tensor *w = &net->tensors[l->first_tensor];
    LP_ASSERT(w->count == (size_t)d->filters * d->K);
    d->w_off = w->offset;
    d->b_off = -1;
    if (spec->use_bias) {
        LP_ASSERT(l->first_tensor + 1 < net->n_tensors);
        const lp_param_tensor *b = &net->tensors[l->first_tensor + 1];
        LP_ASSERT(b->count == (size_t)d->filters);
        if (b->offset > INT_MAX)
            return lp_fail(LP_ERR_UNSUPPORTED, "conv2d layer '%s': bias beyond 2^31 parameters",
                           name);
        d->b_off = (int)b->offset;
    }
    d->relu = spec->activation == LP_ACT_RELU;
    LP_TRY(lp_layer_own_buffers(net, l, "conv2d", false));
    if (d->b_off >= 0)
        LP_TRY(lp_buffer_create_zeroed(net->rt, LP_CONV_PSUM_BYTES(net->max_batch, d->filters),
                                       "conv2d bias gradient partial sums", &d->psum));
    return take_path_(net, l);
}

lp_conv2d_spec lp_conv2d_defaults(void) {
    return (lp_conv2d_spec){.filters = 0,
                            .kh = 0,
                            .kw = 0,
                            .stride_h = 1,
                            .stride_w = 1,
                            .padding = LP_PAD_VALID,
                            .use_bias = true,
                            .activation = LP_ACT_NONE,
                            .kernel_init = LP_INIT_HE_UNIFORM,
                            .bias_init = LP_INIT_ZEROS,
                            .l2 = 0.0f,
                            .permute = true};
}

/* Keras' fans: in = cin*kh*kw (one filter's inputs), out = filters*kh*kw. */
int lp_conv2d_tensors(int layer, int cin, const lp_conv2d_spec *c, lp_param_tensor *t) {
    int per_filter = cin * c->kh * c->kw, fan_out = c->filters * c->kh * c->kw;
    lp_kernel_desc k = {.rank = 4,
                        .dims = {c->filters, cin, c->kh, c->kw},
                        .groups = c->filters,
                        .group_size = per_filter,
                        .fan_in = per_filter,
                        .fan_out = fan_out,
                        .init = c->kernel_init,
                        .init_opts = c->init_opts,
                        .bias_init = c->bias_init,
                        .l2 = c->l2,
                        .permute = c->permute,
                        .use_bias = c->use_bias};
    return lp_param_kernel(layer, &k, t);
}
