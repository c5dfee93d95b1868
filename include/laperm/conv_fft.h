/* Stride-1 conv2d by 2-D FFTs (clFFT), an alternative to the im2col + GEMM path of
 * [conv2d] with the same layouts and the same correlation: x (n, cin, h, w) NCHW, kernel
 * W (F, cin, kh, kw), out (n, F, oh, ow). No bias or activation: the caller adds them.
 *
 * Every plane is zero-padded to one transform size (H', W') >= (oh + kh - 1, ow + kw - 1)
 * and >= (pad_top + h, pad_left + w), rounded up to a product of 2, 3, 5 and 7, large
 * enough that no circular wrap reaches a kept value. Per call, the operands are packed and
 * transformed (real to complex), multiplied and summed per frequency over the contracted
 * axis in a fixed order (no atomics, the same bits every run), transformed back and
 * cropped. Like laperm/ops.h, the calls enqueue work and never wait.
 *
 * Built without clFFT (LAPERM_HAVE_CLFFT unset), lp_conv_fft_create answers
 * LP_ERR_UNSUPPORTED and says so. */
#ifndef LAPERM_CONV_FFT_H
#define LAPERM_CONV_FFT_H

#include <stdbool.h>

#include "laperm/runtime.h"

/* n: the largest batch any call may pass. pad_top/pad_left: padding before the input,
 * as lp_window_axis gives it (same or valid); oh/ow: the output size. */
typedef struct {
    int n, cin, h, w;
    int filters, kh, kw;
    int pad_top, pad_left;
    int oh, ow;
} lp_conv_fft_shape;

typedef struct lp_conv_fft lp_conv_fft;

/* True when this build has the FFT path (clFFT was found at configure time). */
bool lp_conv_fft_available(void);

/* Checks the shape, picks the transform size, allocates every buffer and bakes the
 * transform plans for batches of s->n. Other batch sizes get their plans on first use. */
lp_status lp_conv_fft_create(lp_runtime *rt, const lp_conv_fft_shape *s, lp_conv_fft **out);
void lp_conv_fft_destroy(lp_conv_fft *f);

/* Device bytes lp_conv_fft_create allocates for shape s, at most: fixed + s->n * per_sample
 * (clFFT's own scratch aside). s->n is not read, so callers can size a batch to a budget. */
void lp_conv_fft_bytes(const lp_conv_fft_shape *s, size_t *fixed, size_t *per_sample);

/* The transform size (H', W') chosen for the shape. */
void lp_conv_fft_size(const lp_conv_fft *f, int *fh, int *fw);

/* out (n, F, oh, ow) = sum_c sum_ky,kx x_padded[n, c, y + ky, x + kx] * W[f, c, ky, kx].
 * W: a buffer with the kernel at float offset w_off. Overwrites out. */
lp_status lp_conv_fft_forward(lp_conv_fft *f, int n, cl_mem x, cl_mem w, size_t w_off, cl_mem out);

/* As lp_conv_fft_forward, for samples s0..s0+n-1 of x and out (whole-batch buffers), so
 * a batch larger than the object's can be run in chunks. */
lp_status lp_conv_fft_forward_at(lp_conv_fft *f, int s0, int n, cl_mem x, cl_mem w, size_t w_off,
                                 cl_mem out);

/* dx (n, cin, h, w) = the input gradient of forward for dout (n, F, oh, ow): the full
 * convolution of dout with each kernel, summed over filters. Overwrites dx. */
lp_status lp_conv_fft_backward_data(lp_conv_fft *f, int n, cl_mem dout, cl_mem w, size_t w_off,
                                    cl_mem dx);

/* dW (F, cin, kh, kw) at float offset dw_off = sum over the n samples of the correlation
 * of x_padded with dout. Overwrites dW. */
lp_status lp_conv_fft_backward_filter(lp_conv_fft *f, int n, cl_mem x, cl_mem dout, cl_mem dw,
                                      size_t dw_off);

/* Both gradients in one call, dout transformed once; dw or dx may be NULL (not wanted).
 * reuse_forward: x and W (and the batch n) are those of the last lp_conv_fft_forward on
 * this object, unchanged since, so their spectra are taken from it rather than recomputed
 * (ignored when another call came in between). The caller answers for "unchanged". */
lp_status lp_conv_fft_backward(lp_conv_fft *f, int n, cl_mem x, cl_mem dout, cl_mem w, size_t w_off,
                               cl_mem dw, size_t dw_off, cl_mem dx, bool reuse_forward);

/* As lp_conv_fft_backward, for samples s0..s0+n-1 of x, dout and dx; add_dw: add this
 * chunk's kernel gradient to dW rather than overwrite it. reuse_forward applies when the
 * last forward call had the same s0 and n. */
lp_status lp_conv_fft_backward_at(lp_conv_fft *f, int s0, int n, cl_mem x, cl_mem dout, cl_mem w,
                                  size_t w_off, cl_mem dw, size_t dw_off, bool add_dw, cl_mem dx,
                                  bool reuse_forward);

#endif
