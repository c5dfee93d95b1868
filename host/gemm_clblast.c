/* Matrix products through CLBlast, whole or split along K (a strided batch of partial
 * products into the workspace, then lp_gemm_reduce_: both in gemm_work.c), with its
 * status codes turned into messages. */
#include <clblast_c.h>

#include "gemm-impl.h"
#include "laperm/status.h"

/* Names of CLBlast's own status codes (-1024..-1007 and -2050..-2039); codes above that
 * range are OpenCL's, passed through unchanged. */
static const char *clblast_name_(int s) {
    switch (s) {
#define N(x)                                                                                       \
    case x:                                                                                        \
        return #x;
        N(CLBlastNotImplemented)
        N(CLBlastInvalidMatrixA)
        N(CLBlastInvalidMatrixB)
        N(CLBlastInvalidMatrixC)
        N(CLBlastInvalidVectorX)
        N(CLBlastInvalidVectorY)
        N(CLBlastInvalidDimension)
        N(CLBlastInvalidLeadDimA)
        N(CLBlastInvalidLeadDimB)
        N(CLBlastInvalidLeadDimC)
        N(CLBlastInvalidIncrementX)
        N(CLBlastInvalidIncrementY)
        N(CLBlastInsufficientMemoryA)
        N(CLBlastInsufficientMemoryB)
        N(CLBlastInsufficientMemoryC)
        N(CLBlastInsufficientMemoryX)
        N(CLBlastInsufficientMemoryY)
        N(CLBlastInsufficientMemoryTemp)
        N(CLBlastInvalidBatchCount)
        N(CLBlastInvalidOverrideKernel)
        N(CLBlastMissingOverrideParameter)
        N(CLBlastInvalidLocalMemUsage)
        N(CLBlastNoHalfPrecision)
        N(CLBlastNoDoublePrecision)
        N(CLBlastInvalidVectorScalar)
        N(CLBlastInsufficientMemoryScalar)
        N(CLBlastDatabaseError)
        N(CLBlastUnknownError)
        N(CLBlastUnexpectedError)
#undef N
    }
    return NULL;
}

static lp_status check_(CLBlastStatusCode s, const char *fn, const lp_gemm_args_ *g) {
    if (s == CLBlastSuccess) return LP_OK;
    if (s <= -1000) {
        const char *name = clblast_name_(s);
        return lp_fail(LP_ERR_CLBLAST, "%s: %s(%zux%zux%zu) failed: %s (%d)", g->label, fn, g->m,
                       g->n, g->k, name ? name : "CLBlast error", (int)s);
    }
    /* CLBlast passes OpenCL errors through unchanged (negative codes). */
    return lp_fail(LP_ERR_OPENCL, "%s: %s(%zux%zux%zu) failed: %s (%d)", g->label, fn, g->m, g->n,
                   g->k, lp_cl_error_name((int)s), (int)s);
}

static CLBlastTranspose tr_(bool t) {
    return t ? CLBlastTransposeYes : CLBlastTransposeNo;
}

lp_status lp_gemm_clblast_(lp_runtime *rt, const lp_gemm_args_ *g, int slices) {
    cl_command_queue *q = lp_runtime_queue_ptr(rt);
    size_t kslice;
    int full = lp_gemm_slices_(g->k, slices, &kslice);
    if (full <= 1)
        return check_(CLBlastSgemm(CLBlastLayoutRowMajor, tr_(g->ta), tr_(g->tb), g->m, g->n, g->k,
                                   g->alpha, g->a, g->a_off, g->lda, g->b, g->b_off, g->ldb,
                                   g->beta, g->c, g->c_off, g->ldc, q,
                                   lp_runtime_profile_event(rt, g->label)),
                      "CLBlastSgemm", g);
    /* Slice s covers k in [s*kslice, (s+1)*kslice); the last may be shorter, so the
     * batch takes the full slices and one more product the rest. */
    size_t rest = g->k - (size_t)(full - 1) * kslice;
    int batch = rest == kslice ? full : full - 1;
    size_t a_step = g->ta ? kslice * g->lda : kslice, b_step = g->tb ? kslice : kslice * g->ldb;
    size_t part = g->m * g->n;
    cl_mem work;
    LP_TRY(lp_gemm_buffer_(rt, LP_GEMM_WORKSPACE, part * (size_t)full, &work));
    LP_TRY(check_(CLBlastSgemmStridedBatched(
                      CLBlastLayoutRowMajor, tr_(g->ta), tr_(g->tb), g->m, g->n, kslice, 1.0f, g->a,
                      g->a_off, g->lda, a_step, g->b, g->b_off, g->ldb, b_step, 0.0f, work, 0, g->n,
                      part, (size_t)batch, q, lp_runtime_profile_event(rt, g->label)),
                  "CLBlastSgemmStridedBatched", g));
    if (batch < full)
        LP_TRY(check_(CLBlastSgemm(CLBlastLayoutRowMajor, tr_(g->ta), tr_(g->tb), g->m, g->n, rest,
                                   1.0f, g->a, g->a_off + (size_t)batch * a_step, g->lda, g->b,
                                   g->b_off + (size_t)batch * b_step, g->ldb, 0.0f, work,
                                   part * (size_t)batch, g->n, q,
                                   lp_runtime_profile_event(rt, g->label)),
                      "CLBlastSgemm", g));
    return lp_gemm_reduce_(rt, g, full, work);
}
