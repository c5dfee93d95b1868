/* Internal: plain-C references of laperm's kernels, the definitions `laperm check` and
 * the kernel tests compare the device with. Sums run in double, so the reference's own
 * rounding is far below any float tolerance; where a value's float rounding scales with
 * its terms, `mag` (may be NULL) receives the sum of |terms| that made it. */
#ifndef LAPERM_REFERENCE_H
#define LAPERM_REFERENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "laperm/status.h"

/* C = alpha op(A) op(B) + beta C on row-major (m, n) with row strides lda, ldb, ldc: want
 * and mag (m * n, row-major dense) in double; c (ldc rows) is read only when beta != 0. */
void lp_ref_gemm(bool ta, bool tb, size_t m, size_t n, size_t k, double alpha, const float *a,
                 size_t lda, const float *b, size_t ldb, double beta, const float *c, size_t ldc,
                 double *want, double *mag);

/* Softmax cross-entropy: summed loss, correct count (first maximum wins ties) and
 * (softmax - onehot) * scale into dlogits (rows, classes). */
void lp_ref_softmax_xent(const float *x, const int *labels, int rows, int classes, double scale,
                         double *loss, double *correct, float *dlogits);
/* Keras' mse: the summed per-row mean of (x - t)^2 and of |x - t|, and the gradient
 * 2 (x - t) / outputs * scale into grad. */
void lp_ref_mse(const float *x, const float *t, int rows, int outputs, float scale, double *loss,
                double *mae, float *grad);

/* One SGD step with momentum over n values, in place: vel = momentum vel - lr g (in
 * double, rounded to float), w += vel (the same). */
void lp_ref_sgd(float *w, const float *g, float *vel, int n, double lr, double momentum);
/* One Adam step (lr_t already bias-corrected): m = b1 m + (1 - b1) g,
 * v = b2 v + (1 - b2) g^2, w -= lr_t m / (sqrt(v) + eps). */
void lp_ref_adam(double *w, const float *g, double *m, double *v, int n, double lr_t, double b1,
                 double b2, double eps);

/* Pooling over NCHW planes. The window is the layer's (pad_t, pad_l before the input). */
typedef struct {
    int c, h, w, kh, kw, sh, sw, oh, ow, pad_t, pad_l;
    bool max;
} lp_ref_pool;
/* y and argmax (plane-relative y*w + x, first maximum in row-major window order) for n
 * samples; windows see only in-bounds pixels, averages divide by their count. */
void lp_ref_pool_forward(const lp_ref_pool *g, int n, const float *x, float *y, int *arg);
/* dx (n samples) by scattering each dy over its window (the kernels gather): the argmax,
 * or every in-bounds pixel with 1 / count. mag: sums of |terms| (may be NULL). */
lp_status lp_ref_pool_backward(const lp_ref_pool *g, int n, const float *dy, const int *arg,
                               float *dx, double *mag);

/* BatchNorm over n samples of c channels of s values (s = 1 when flat). */
typedef struct {
    int n, c, s;
    double eps;
    bool relu;
} lp_ref_bn;
/* Training pass with batch statistics: y (and z, before the ReLU, if not NULL); mean and
 * biased variance per channel into mean_out, var_out when not NULL. */
void lp_ref_bn_train(const lp_ref_bn *g, const double *x, const double *gamma, const double *beta,
                     double *y, double *z, double *mean_out, double *var_out);
/* Inference pass with given statistics. */
void lp_ref_bn_infer(const lp_ref_bn *g, const double *x, const double *gamma, const double *beta,
                     const double *mean, const double *var, double *y);

/* Dropout's mask: the value of global index i (first_row x features + its index in the
 * batch buffer; lp_network_set_rng) in a training pass is kept unless u < rate, u = (word
 * (i mod 32) / 8 of Philox at counter ((i / 32) * 8 + i mod 8, step, 0x44000000 + layer,
 * 0)) >> 8) * 2^-24; i < 2^34. */
bool lp_ref_dropout_keep(uint64_t seed, long long step, int layer, uint64_t i, float rate);

/* A [conv2d] of cin x ih x iw inputs, filters x kh x kw kernels, stride sh x sw, padding
 * pt, pl before the input, giving oh x ow outputs; NCHW, kernel (F, cin, kh, kw). */
typedef struct {
    int cin, ih, iw, filters, kh, kw, sh, sw, pt, pl, oh, ow;
    bool bias, relu;
} lp_ref_conv;
/* z (n, F, oh, ow) = the convolution plus bias, before the activation; zabs (may be
 * NULL) the sums of absolute terms. */
void lp_ref_conv_forward(const lp_ref_conv *c, const float *x, const float *w, const float *b,
                         int n, double *z, double *zabs);
/* Gradients from g = dout masked by out > 0 when relu: dW (F, K), db (F), dx (n, cin, ih,
 * iw), each with its sums of |terms|. */
void lp_ref_conv_backward(const lp_ref_conv *c, const float *x, const float *w, const float *out,
                          const float *dout, int n, double *dw, double *dwabs, double *db,
                          double *dbabs, double *dx, double *dxabs);
/* The scale of Winograd F(m x m, 3x3)'s rounding error (m 2 or 4, laperm/conv_winograd.h):
 * for each output (n, R, OH, OW) of the 3x3 stride-1 correlation of in (n, Q, H, W),
 * padded by pt, pl before, with k (R, Q, 3, 3), the tile computation on absolute values,
 * |AT| (sum_q (|G| |g_q| |G|^T) . (|BT| |d_q| |BT|^T)) |AT|^T: the computed output is within
 * (Q + 34) u scale of the exact one (README, "Convolution paths", derives the 34). */
void lp_ref_winograd_scale(int m, const float *in, int n, int Q, int H, int W, int pt, int pl,
                           const float *k, int R, int OH, int OW, double *scale);
/* The same for the kernel gradient (F, C, 3, 3) of that layer from x (n, C, H, W) and dy
 * (n, F, OH, OW): |G|^T (sum over tiles (|A| |e| |A|^T) . (|BT| |d| |BT|^T)) |G|, within
 * (n tiles + 34) u scale. */
void lp_ref_winograd_dw_scale(int m, const float *x, const float *dy, int n, int C, int H, int W,
                              int pt, int pl, int F, int OH, int OW, double *scale);
/* The bias gradient of filter f in its documented float order (laperm/ops_conv.h): per
 * plane (s, f) lane l adds pixels l, l + lanes, ... of dy masked by y > 0; a pairwise tree
 * adds the lanes; the planes' totals are added for s = 0, 1, ... */
float lp_ref_conv_bias_grad(const float *dy, const float *y, int n, int F, int P, int f);

/* Frozen answers (host/reference_golden.c): Random123's known answers for Philox4x32-10,
 * and the first bits of two initializers, which must never change: they are every
 * published run's starting point. */
typedef struct {
    uint32_t ctr[4];
    uint64_t key;
    uint32_t want[4];
} lp_ref_philox_kat;
#define LP_REF_PHILOX_KATS 3
extern const lp_ref_philox_kat lp_ref_philox_kats[LP_REF_PHILOX_KATS];
/* lp_init_fill(LP_INIT_HE_UNIFORM, w, 8, 784, 300, seed 1, stream 0): w[0..3]'s bits, and
 * lp_init_fill(LP_INIT_HE_NORMAL, w, 4, 300, 100, seed 1, stream 2): w[0..3]'s. */
extern const uint32_t lp_ref_he_uniform_bits[4], lp_ref_he_normal_bits[4];
/* `laperm check`'s golden training run (host/check_golden.c) in portable-bits mode: the
 * hash of its /weights and each epoch's training loss as float64 bits; all 0 until they
 * are generated (README, "Testing your device"). */
#define LP_REF_GOLDEN_EPOCHS 3
extern const uint64_t lp_ref_golden_weights_hash, lp_ref_golden_losses[LP_REF_GOLDEN_EPOCHS];

#endif
