/* Device operations used by the layers and the trainer: thin, checked wrappers that
 * enqueue one kernel (or one CLBlast call) each and never wait for the device.
 * Buffer arguments take element offsets, so views into one big buffer need no
 * sub-buffers. */
#ifndef LAPERM_OPS_H
#define LAPERM_OPS_H

#include "laperm/runtime.h"

/* Row-major C (m, n) = alpha op(A) op(B) + beta C. lda/ldb/ldc are row strides of the
 * stored matrices. CLBlast or laperm's tiled kernels, whichever is faster for this
 * device and shape (laperm/gemm.h). */
lp_status lp_op_gemm(lp_runtime *rt, bool trans_a, bool trans_b, size_t m, size_t n, size_t k,
                     float alpha, cl_mem a, size_t a_off, size_t lda, cl_mem b, size_t b_off,
                     size_t ldb, float beta, cl_mem c, size_t c_off, size_t ldc, const char *label);

/* y (rows, cols) += params[bias_off..] (bias_off < 0: none); then ReLU if relu. */
lp_status lp_op_bias_act(lp_runtime *rt, cl_mem y, int rows, int cols, cl_mem params, int bias_off,
                         bool relu);
/* dy *= (y > 0) over n elements. */
lp_status lp_op_relu_backward(lp_runtime *rt, cl_mem dy, cl_mem y, int n);
/* grads[bias_off + c] = sum_r dy[r, c]. */
lp_status lp_op_bias_grad(lp_runtime *rt, cl_mem dy, int rows, int cols, cl_mem grads,
                          int bias_off);

/* Softmax cross-entropy over (rows, classes) logits. Adds the summed loss and the
 * number of correct predictions to stats[stats_off], stats[stats_off + 1]. When dlogits
 * is not NULL writes (softmax - onehot) * grad_scale there. */
lp_status lp_op_softmax_xent(lp_runtime *rt, cl_mem logits, cl_mem labels, int rows, int classes,
                             float grad_scale, cl_mem dlogits, cl_mem stats, int stats_off);
/* Mean squared error (Keras' mse) of (rows, outputs) predictions against float targets of
 * the same shape: adds the summed per-row mean of (x - t)^2 and of |x - t| to
 * stats[stats_off], stats[stats_off + 1]. When dpred is not NULL writes
 * 2 (x - t) / outputs * grad_scale there. */
lp_status lp_op_mse(lp_runtime *rt, cl_mem pred, cl_mem targets, int rows, int outputs,
                    float grad_scale, cl_mem dpred, cl_mem stats, int stats_off);
/* dst (rows, width) = rows idx[first .. first + rows) of src (n, width) floats. */
lp_status lp_op_gather_rows(lp_runtime *rt, cl_mem src, cl_mem idx, int first, int rows, int width,
                            cl_mem dst);

/* Optimizer passes over n elements of the flat buffers. */
lp_status lp_op_adam(lp_runtime *rt, cl_mem w, cl_mem g, cl_mem m, cl_mem v, int n, float lr_t,
                     float beta1, float beta2, float eps);
lp_status lp_op_sgd(lp_runtime *rt, cl_mem w, cl_mem g, cl_mem vel, int n, float lr,
                    float momentum);
/* g[off..off+n] += 2 coef w[off..off+n] */
lp_status lp_op_l2_grad(lp_runtime *rt, cl_mem w, cl_mem g, int offset, int n, float coef);
/* Decoupled weight decay (AdamW): w[off..off+n] *= keep (keep = 1 - lr * decay). */
lp_status lp_op_weight_decay(lp_runtime *rt, cl_mem w, int offset, int n, float keep);
/* Lookahead's slow-weight step over n elements: slow = (1 - alpha) slow + alpha w; w = slow
 * (alpha in (0, 1]; exact at 1: w is kept and copied into slow). */
lp_status lp_op_lookahead(lp_runtime *rt, cl_mem w, cl_mem slow, int n, float alpha);
/* Divergence guard (cl/guard.cl): flags the step (int32 flag[0], 0 until then) and the
 * lowest code (flag[1], INT_MAX until then; kind * 2^28 + element, kind 0: the loss sum
 * stats[loss_at], 1: gradient, 2: weight) of the first non-finite value. */
lp_status lp_op_guard_finite(lp_runtime *rt, cl_mem w, cl_mem g, int n, cl_mem stats, int loss_at,
                             int step, cl_mem flag);

#endif
