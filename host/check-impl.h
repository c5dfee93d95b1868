/* Internal to `laperm check`: the context each check function gets, and the comparisons
 * that fill its row (host/check_compare.c). The table itself is in host/check.c. */
#ifndef LAPERM_CHECK_IMPL_H
#define LAPERM_CHECK_IMPL_H

#include <stdint.h>

#include "laperm/check.h"

/* Unit roundoff of float32 (2^-24): the rounding of one correctly rounded operation is at
 * most u times its result. */
#define LP_CHECK_U (1.0 / 16777216.0)
/* Added to every bound: a device without denormals (Rusticl on llvmpipe) flushes results
 * below FLT_MIN (1.2e-38) to zero, an absolute error no relative bound covers. */
#define LP_CHECK_TINY 1e-30

typedef struct {
    lp_runtime *rt;
    bool quick;
    lp_check_result *r;
} lp_check_ctx;

/* A check: runs its cases on c->rt, comparing through the functions below. A failing
 * library call is returned (the row becomes an error naming it); a mismatch is not. */
typedef lp_status (*lp_check_fn)(lp_check_ctx *c);

/* Values computed in float against the reference in double: value i passes when
 * |got - want| <= k * u * mag[i] + LP_CHECK_TINY, mag[i] being the sum of the magnitudes
 * of the terms that made want[i] (mag NULL: |want[i]|). `what` names the case in the
 * row's note on the first failure. NaN in got fails unless want is NaN too. */
void lp_check_values(lp_check_ctx *c, const char *what, const float *got, const double *want,
                     const double *mag, size_t n, double k);
/* Bit identity of n 4-byte words (floats compared as bits: -0.0 is not +0.0). */
void lp_check_bits(lp_check_ctx *c, const char *what, const void *got, const void *want, size_t n);
/* The row cannot run here; why goes to its note (the first reason wins). */
void lp_check_skip(lp_check_ctx *c, const char *why);

/* Device buffers of floats/ints, created from host data (src NULL: zeroed). */
lp_status lp_check_upload(lp_check_ctx *c, const void *src, size_t bytes, cl_mem *out);

/* Deterministic test data (splitmix64), uniform in [lo, hi). */
uint64_t lp_check_next(uint64_t *state);
void lp_check_fill(float *x, size_t n, uint64_t *state, float lo, float hi);

/* The checks, grouped by file. */
lp_status lp_check_gemm(lp_check_ctx *c);    /* check_linalg.c */
lp_status lp_check_dense(lp_check_ctx *c);   /* check_linalg.c */
lp_status lp_check_softmax(lp_check_ctx *c); /* check_loss.c */
lp_status lp_check_mse(lp_check_ctx *c);     /* check_loss.c */
lp_status lp_check_sgd(lp_check_ctx *c);     /* check_optim.c */
lp_status lp_check_adam(lp_check_ctx *c);    /* check_optim.c */
lp_status lp_check_lookahead(lp_check_ctx *c);
lp_status lp_check_train_ops(lp_check_ctx *c); /* check_optim.c */
lp_status lp_check_conv_gemm(lp_check_ctx *c); /* check_conv.c */
lp_status lp_check_conv_direct(lp_check_ctx *c);
lp_status lp_check_conv_fft(lp_check_ctx *c);
lp_status lp_check_conv_winograd(lp_check_ctx *c);
lp_status lp_check_conv_bias(lp_check_ctx *c);
lp_status lp_check_pool(lp_check_ctx *c); /* check_layers.c */
lp_status lp_check_batchnorm(lp_check_ctx *c);
lp_status lp_check_activation(lp_check_ctx *c);
lp_status lp_check_dropout(lp_check_ctx *c);
lp_status lp_check_add(lp_check_ctx *c);
lp_status lp_check_sort(lp_check_ctx *c); /* check_bits.c */
lp_status lp_check_sync(lp_check_ctx *c);
lp_status lp_check_philox(lp_check_ctx *c);
lp_status lp_check_augment(lp_check_ctx *c);
lp_status lp_check_init(lp_check_ctx *c);
lp_status lp_check_golden(lp_check_ctx *c); /* check_golden.c */

/* What the golden run gave: the hash (host/hash.h) of its final /weights, and each
 * epoch's training loss as float64 bits. */
typedef struct {
    uint64_t weights_hash, losses[3];
} lp_check_golden_values;
lp_status lp_check_golden_run(lp_runtime *rt, lp_check_golden_values *out);

#endif
