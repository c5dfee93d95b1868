/* Device operations of [conv2d] besides the matrix products (those go through
 * lp_op_gemm): im2col / col2im and the layout kernels between NCHW activations and
 * batch-wide rows. Like laperm/ops.h, each wrapper enqueues one kernel and never waits.
 *
 * Layouts, for a chunk of cn samples starting at sample s0 of an NCHW batch buffer:
 *   col  (K, cn*P)  K = cin*kh*kw, row k = (c*kh + i)*kw + j; P = oh*ow, column s*P + p
 *   rows (F, cn*P)  one row per filter, columns as in col
 * so the forward pass of the chunk is rows = W (F, K) . col. */
#ifndef LAPERM_OPS_CONV_H
#define LAPERM_OPS_CONV_H

#include "laperm/model.h"
#include "laperm/runtime.h"

/* Sizes of one convolution; pad_top/pad_left are the padding before the input. */
typedef struct {
    int cin, ih, iw;
    int kh, kw, stride_h, stride_w;
    int pad_top, pad_left;
    int oh, ow;
} lp_conv_geom;

/* The geometry of a convolution over a (cin, ih, iw) input with the window the parser
 * worked out (lp_layer_spec.window, or lp_window_make). */
lp_status lp_conv_geom_make(lp_shape in, const lp_window *win, lp_conv_geom *g);

static inline size_t lp_conv_geom_k(const lp_conv_geom *g) {
    return (size_t)g->cin * (size_t)g->kh * (size_t)g->kw;
}
static inline size_t lp_conv_geom_p(const lp_conv_geom *g) {
    return (size_t)g->oh * (size_t)g->ow;
}

/* col (K, cn*P) = the windows of samples s0..s0+cn-1 of x (n, cin, ih, iw), zeros in the
 * padding. */
lp_status lp_op_im2col(lp_runtime *rt, const lp_conv_geom *g, cl_mem x, int s0, int cn, cl_mem col);
/* dx samples s0..s0+cn-1 = the adjoint of im2col applied to dcol (K, cn*P): each input
 * value sums, in a fixed order, the entries that were copied from it. Overwrites. */
lp_status lp_op_col2im(lp_runtime *rt, const lp_conv_geom *g, cl_mem dcol, int s0, int cn,
                       cl_mem dx);

/* How im2col and col2im spread their work; both forms give the same bits. */
typedef enum {
    LP_CONV_FORM_AUTO,   /* planes on CPUs (im2col: outputs 8 or more wide), else pixels */
    LP_CONV_FORM_PIXELS, /* a work-item per pixel: neighbours touch neighbouring addresses */
    LP_CONV_FORM_PLANES, /* a work-item per plane: vectorized loops along its rows */
} lp_conv_form;
/* lp_op_im2col / lp_op_col2im in a chosen form (tests compare the two). */
lp_status lp_op_im2col_form(lp_runtime *rt, const lp_conv_geom *g, cl_mem x, int s0, int cn,
                            cl_mem col, lp_conv_form form);
lp_status lp_op_col2im_form(lp_runtime *rt, const lp_conv_geom *g, cl_mem dcol, int s0, int cn,
                            cl_mem dx, lp_conv_form form);

/* y samples s0..s0+cn-1 (n, F, P) = rows (F, cn*P) + params[bias_off + f] (bias_off < 0:
 * none), then ReLU if relu. */
lp_status lp_op_conv_rows_to_nchw(lp_runtime *rt, cl_mem rows, int s0, int cn, int filters, int P,
                                  cl_mem params, int bias_off, bool relu, cl_mem y);
/* The same in a chosen form (planes: vectors along each plane on CPUs), the same bits. */
lp_status lp_op_conv_rows_to_nchw_form(lp_runtime *rt, cl_mem rows, int s0, int cn, int filters,
                                       int P, cl_mem params, int bias_off, bool relu, cl_mem y,
                                       lp_conv_form form);
/* y (n, F, P) += params[bias_off + f] (bias_off < 0: none), then ReLU if relu; in place. */
lp_status lp_op_conv_bias_act(lp_runtime *rt, cl_mem y, int n, int filters, int P, cl_mem params,
                              int bias_off, bool relu);
/* Partial sums per (sample, channel) plane that lp_op_conv_nchw_to_rows leaves in psum:
 * fixed (not taken from the device), so the bias gradient has the same bits everywhere.
 * The kernels get it as -DLP_CONV_GRAD_LANES from LP_CONV_OPTIONS, the build options of
 * every program that reads psum (cl/conv.cl, cl/conv_direct.cl). */
#define LP_CONV_GRAD_LANES 16
#define LP_CONV_OPTIONS LP_CL_DEFINE(LP_CONV_GRAD_LANES, LP_CONV_GRAD_LANES)
/* Bytes of psum for n samples of F channels. */
#define LP_CONV_PSUM_BYTES(n, F) ((size_t)(n) * (size_t)(F)*LP_CONV_GRAD_LANES * sizeof(float))

/* rows (F, cn*P) = dy samples s0..s0+cn-1, times (y > 0) when relu (y: the layer's
 * output, may be NULL when !relu). psum (NULL: none) gets those samples' partial sums
 * for lp_op_conv_bias_reduce, in the same pass. */
lp_status lp_op_conv_nchw_to_rows(lp_runtime *rt, cl_mem dy, cl_mem y, bool relu, int s0, int cn,
                                  int filters, int P, cl_mem rows, cl_mem psum);
/* The same in a chosen form (planes: float16 vectors along each plane; pixels: a
 * work-item per lane), with the same bits; tests compare the two. */
lp_status lp_op_conv_nchw_to_rows_form(lp_runtime *rt, cl_mem dy, cl_mem y, bool relu, int s0,
                                       int cn, int filters, int P, cl_mem rows, cl_mem psum,
                                       lp_conv_form form);
/* grads[bias_off + f] = the bias gradient from psum's first n samples. The summation
 * order is fixed, the same on every device and for any chunking of the samples. */
lp_status lp_op_conv_bias_reduce(lp_runtime *rt, cl_mem psum, int n, int filters, cl_mem grads,
                                 int bias_off);
/* Both of the above without writing rows: grads[bias_off + f] = sum over samples and
 * pixels of dy (n, F, P), masked by y > 0 when relu; psum is scratch of
 * LP_CONV_PSUM_BYTES(n, F). */
lp_status lp_op_conv_bias_grad(lp_runtime *rt, cl_mem dy, cl_mem y, bool relu, int n, int filters,
                               int P, cl_mem psum, cl_mem grads, int bias_off);

#endif
