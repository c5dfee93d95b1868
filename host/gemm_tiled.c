/* Launches of the register-tiled products in cl/gemm.cl; split along K, the partial
 * products go to the workspace and are summed by lp_gemm_reduce_ (both in gemm_work.c).
 * Tile shape and vector width are compile-time options, so each variant is its own
 * program (built once, then from the program cache). */
#include <limits.h>
#include <stdio.h>

#include "gemm-impl.h"

/* Fixed, so that lp_gemm_nt's lane sums (GEMM_VW lanes, then a tree) are the same
 * everywhere; lp_gemm_ap's sums run along K in order whatever the tile. */
lp_gemm_variant lp_gemm_portable_tiled_(void) {
    return (lp_gemm_variant){.algo = LP_GEMM_ALGO_TILED,
                             .vw = 8,
                             .mr = 6,
                             .nv = 2,
                             .dm = 4,
                             .dn = 2,
                             .lx = 1,
                             .slices = 1};
}

/* Only the options a kernel reads go into its build, so variants that differ in
 * nothing it uses share one program. */
static void options_(const lp_gemm_variant *v, bool nt, char *buf, size_t cap) {
    if (nt)
        snprintf(buf, cap, "-DGEMM_VW=%d -DGEMM_DM=%d -DGEMM_DN=%d -DGEMM_LX=%d", v->vw, v->dm,
                 v->dn, v->lx);
    else
        snprintf(buf, cap, "-DGEMM_VW=%d -DGEMM_MR=%d -DGEMM_NV=%d -DGEMM_LX=%d", v->vw, v->mr,
                 v->nv, v->lx);
}

/* op(A) into row panels of v->mr rows (lp_gemm_pack_a), in the runtime's panel buffer
 * (gemm_work.c): a pass over A, small beside the product (M*K reads against M*N*K
 * FMAs). The queue is in order, so the buffer is free again once the product has run. */
static lp_status pack_a_(lp_runtime *rt, const lp_gemm_variant *v, const lp_gemm_args_ *g,
                         const char *opts, cl_mem *panels, cl_ulong *a_stride) {
    size_t rows = (g->m + (size_t)v->mr - 1) / (size_t)v->mr * (size_t)v->mr;
    size_t kk = g->k ? g->k : 1;
    LP_TRY(lp_gemm_buffer_(rt, LP_GEMM_PANELS, rows * kk, panels));
    cl_kernel k;
    LP_TRY(lp_runtime_kernel(rt, "gemm", "lp_gemm_pack_a", opts, &k));
    cl_int M = (cl_int)g->m, K = (cl_int)g->k, trans = g->ta, lda = (cl_int)g->lda;
    cl_ulong a_off = g->a_off;
    LP_ARG(k, 0, M);
    LP_ARG(k, 1, K);
    LP_ARG(k, 2, trans);
    LP_ARG(k, 3, g->a);
    LP_ARG(k, 4, a_off);
    LP_ARG(k, 5, lda);
    LP_ARG(k, 6, *panels);
    *a_stride = (cl_ulong)kk * (cl_ulong)v->mr;
    /* Along dimension 0 the rows of A^T (trans) or the columns of A are neighbours in
     * memory on the read side; the writes are scattered by MR either way. */
    size_t global[2] = {rows, g->k}, local[2] = {lp_runtime_wgs(rt, k, 64), 1};
    while (local[0] > 1 && local[0] > rows)
        local[0] /= 2;
    return lp_launch(rt, k, 2, global, local, "gemm_pack_a");
}

/* On a device that ends long loops (lp_device_info.loop_limit: Mesa's llvmpipe, which
 * also emulates fma() with loops) no slice may run out of iterations: the default 6x8
 * tile ran 27 per value of k there, so one slice stopped after k = 2428 and cltest_gemm's
 * long K came out wrong. A slice holds at most half the limit, at 4 per FMA of a step
 * along K plus the edge loop's NR lanes; more slices take the rest of K. */
static int min_slices_(lp_runtime *rt, const lp_gemm_variant *v, bool nt, size_t k) {
    size_t limit = lp_runtime_device(rt)->loop_limit;
    if (limit == 0) return 1;
    size_t fmas = nt ? (size_t)v->dm * v->dn : (size_t)v->mr * v->nv;
    size_t per_k = 4 * fmas + (size_t)v->vw * v->nv + 1;
    size_t max_kslice = limit / 2 / per_k > 0 ? limit / 2 / per_k : 1;
    return (int)((k + max_kslice - 1) / max_kslice);
}

lp_status lp_gemm_tiled_(lp_runtime *rt, const lp_gemm_variant *v, const lp_gemm_args_ *g) {
    if (g->ta && g->tb)
        return lp_fail(LP_ERR_UNSUPPORTED, "%s: tiled GEMM has no A^T.B^T kernel", g->label);
    if (g->m > INT_MAX || g->n > INT_MAX || g->k > INT_MAX || g->lda > INT_MAX ||
        g->ldb > INT_MAX || g->ldc > INT_MAX)
        return lp_fail(LP_ERR_UNSUPPORTED, "%s: tiled GEMM: a dimension exceeds INT_MAX", g->label);
    const bool nt = g->tb;
    char opts[160];
    options_(v, nt, opts, sizeof opts);
    cl_kernel k;
    LP_TRY(lp_runtime_kernel(rt, "gemm", nt ? "lp_gemm_nt" : "lp_gemm_ap", opts, &k));
    size_t kslice;
    int min_slices = min_slices_(rt, v, nt, g->k);
    int slices = lp_gemm_slices_(g->k, v->slices > min_slices ? v->slices : min_slices, &kslice);
    if (g->k == 0) slices = 1, kslice = 0;
    /* Split: each slice writes its partial product densely into the workspace. */
    cl_mem out = g->c;
    cl_ulong c_off = g->c_off, stride = 0;
    cl_int ldc = (cl_int)g->ldc;
    float alpha = g->alpha, beta = g->beta;
    if (slices > 1) {
        LP_TRY(lp_gemm_buffer_(rt, LP_GEMM_WORKSPACE, g->m * g->n * (size_t)slices, &out));
        c_off = 0;
        stride = (cl_ulong)g->m * g->n;
        ldc = (cl_int)g->n;
        alpha = 1.0f;
        beta = 0.0f;
    }
    cl_int M = (cl_int)g->m, N = (cl_int)g->n, K = (cl_int)g->k, ks = (cl_int)kslice;
    cl_int lda = (cl_int)g->lda, ldb = (cl_int)g->ldb;
    cl_ulong a_off = g->a_off, b_off = g->b_off;
    int a = 0;
    LP_ARG(k, a++, M);
    LP_ARG(k, a++, N);
    LP_ARG(k, a++, K);
    LP_ARG(k, a++, ks);
    LP_ARG(k, a++, alpha);
    LP_ARG(k, a++, beta);
    if (nt) {
        LP_ARG(k, a++, g->a);
        LP_ARG(k, a++, a_off);
        LP_ARG(k, a++, lda);
    } else {
        cl_mem panels;
        cl_ulong a_stride;
        LP_TRY(pack_a_(rt, v, g, opts, &panels, &a_stride));
        LP_ARG(k, a++, panels);
        LP_ARG(k, a++, a_stride);
    }
    LP_ARG(k, a++, g->b);
    LP_ARG(k, a++, b_off);
    LP_ARG(k, a++, ldb);
    LP_ARG(k, a++, out);
    LP_ARG(k, a++, c_off);
    LP_ARG(k, a++, ldc);
    LP_ARG(k, a++, stride);
    size_t tile_m = (size_t)(nt ? v->dm : v->mr), tile_n = (size_t)(nt ? v->dn : v->vw * v->nv);
    size_t global[3] = {(g->m + tile_m - 1) / tile_m, (g->n + tile_n - 1) / tile_n, (size_t)slices};
    size_t local[3] = {(size_t)v->lx, 1, 1};
    LP_TRY(lp_launch(rt, k, 3, global, local, g->label));
    return slices > 1 ? lp_gemm_reduce_(rt, g, slices, out) : LP_OK;
}
