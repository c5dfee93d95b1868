/* Matrix products through CLBlast, with its status codes turned into messages. */
#include <clblast_c.h>

#include "laperm/ops.h"

/* Names of CLBlast's own status codes (-1024..-1007 and -2050..-2039); codes above that
 * range are OpenCL's, passed through unchanged. */
static const char *clblast_name_(int s) {
    switch (s) {
#define N(x)                                                                                   \
    case x: return #x;
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

lp_status lp_op_gemm(lp_runtime *rt, bool trans_a, bool trans_b, size_t m, size_t n, size_t k,
                     float alpha, cl_mem a, size_t a_off, size_t lda, cl_mem b, size_t b_off,
                     size_t ldb, float beta, cl_mem c, size_t c_off, size_t ldc, const char *label) {
    if (m == 0 || n == 0) return LP_OK;
    CLBlastStatusCode s = CLBlastSgemm(
        CLBlastLayoutRowMajor, trans_a ? CLBlastTransposeYes : CLBlastTransposeNo,
        trans_b ? CLBlastTransposeYes : CLBlastTransposeNo, m, n, k, alpha, a, a_off, lda, b, b_off,
        ldb, beta, c, c_off, ldc, lp_runtime_queue_ptr(rt), lp_runtime_profile_event(rt, label));
    if (s == CLBlastSuccess) return LP_OK;
    if (s <= -1000) {
        const char *name = clblast_name_(s);
        return lp_fail(LP_ERR_CLBLAST, "%s: CLBlastSgemm(%zux%zux%zu) failed: %s (%d)", label, m, n,
                       k, name ? name : "CLBlast error", (int)s);
    }
    /* CLBlast passes OpenCL errors through unchanged (negative codes). */
    return lp_fail(LP_ERR_OPENCL, "%s: CLBlastSgemm(%zux%zux%zu) failed: %s (%d)", label, m, n, k,
                   lp_cl_error_name((int)s), (int)s);
}
