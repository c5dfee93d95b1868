/* Matrix products through CLBlast, with its status codes turned into messages. */
#include <clblast_c.h>

#include "laperm/ops.h"

static const char *clblast_name_(CLBlastStatusCode s) {
    switch (s) {
    case CLBlastNotImplemented: return "CLBlastNotImplemented";
    case CLBlastInvalidMatrixA: return "CLBlastInvalidMatrixA";
    case CLBlastInvalidMatrixB: return "CLBlastInvalidMatrixB";
    case CLBlastInvalidMatrixC: return "CLBlastInvalidMatrixC";
    case CLBlastInsufficientMemoryA: return "CLBlastInsufficientMemoryA";
    case CLBlastInsufficientMemoryB: return "CLBlastInsufficientMemoryB";
    case CLBlastInsufficientMemoryC: return "CLBlastInsufficientMemoryC";
    case CLBlastInvalidLocalMemUsage: return "CLBlastInvalidLocalMemUsage";
    case CLBlastNoHalfPrecision: return "CLBlastNoHalfPrecision";
    case CLBlastNoDoublePrecision: return "CLBlastNoDoublePrecision";
    case CLBlastInvalidVectorScalar: return "CLBlastInvalidVectorScalar";
    case CLBlastInsufficientMemoryScalar: return "CLBlastInsufficientMemoryScalar";
    case CLBlastDatabaseError: return "CLBlastDatabaseError";
    case CLBlastUnknownError: return "CLBlastUnknownError";
    case CLBlastUnexpectedError: return "CLBlastUnexpectedError";
    default: return NULL;
    }
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
    const char *name = clblast_name_(s);
    if (name) {
        return lp_fail(LP_ERR_CLBLAST, "%s: CLBlastSgemm(%zux%zux%zu) failed: %s (%d)", label, m, n,
                       k, name, (int)s);
    }
    /* CLBlast passes OpenCL errors through unchanged (negative codes). */
    return lp_fail(LP_ERR_OPENCL, "%s: CLBlastSgemm(%zux%zux%zu) failed: %s (%d)", label, m, n, k,
                   lp_cl_error_name((int)s), (int)s);
}
