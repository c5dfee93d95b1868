/* Internal pieces of the matrix-product dispatcher (gemm.c): the CLBlast and tiled
 * back ends and the split-K reduction they share. */
#ifndef LAPERM_GEMM_IMPL_H
#define LAPERM_GEMM_IMPL_H

#include "laperm/gemm.h"

/* Operands of one product, as lp_op_gemm takes them. */
typedef struct {
    bool ta, tb;
    size_t m, n, k;
    float alpha, beta;
    cl_mem a, b, c;
    size_t a_off, lda, b_off, ldb, c_off, ldc;
    const char *label;
} lp_gemm_args_;

/* The split-K workspace: at least `floats` floats, kept and grown by the dispatcher. */
lp_status lp_gemm_workspace_(lp_runtime *rt, size_t floats, cl_mem *out);

/* The buffer op(A) is packed into for the tiled kernels: at least `floats` floats. */
lp_status lp_gemm_panels_(lp_runtime *rt, size_t floats, cl_mem *out);

/* Slices actually used for k values split `slices` ways: empty slices are dropped. */
int lp_gemm_slices_(size_t k, int slices, size_t *kslice);

lp_status lp_gemm_clblast_(lp_runtime *rt, const lp_gemm_args_ *g, int slices);
lp_status lp_gemm_tiled_(lp_runtime *rt, const lp_gemm_variant *v, const lp_gemm_args_ *g);
/* C = alpha * sum of `slices` dense (m, n) partials in work + beta * C. */
lp_status lp_gemm_reduce_(lp_runtime *rt, const lp_gemm_args_ *g, int slices, cl_mem work);

#endif
