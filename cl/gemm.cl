/* Register-tiled matrix products, C = alpha * op(A) . op(B) + beta * C, row-major.
 *
 * Written for devices where CLBlast's generic kernels leave most of the machine idle
 * (CPU devices above all): each work-item owns a whole tile of C in registers and walks
 * K once, so with one work-item per work-group the code is a plain vector loop that the
 * device compiler turns into broadcast + FMA instructions. The host (host/gemm.c) times
 * these against CLBlast per shape and keeps whichever is faster, so a device where they
 * lose never runs them.
 *
 * The layouts the layers use:
 *   lp_gemm_pack_a + lp_gemm_ap   C (M,N) = op(A) . B (K,N), op(A) = A (M,K) or A^T with
 *       A (K,M) stored, first packed into row panels: outer products, broadcast a,
 *       vector b
 *   lp_gemm_nt  C (M,N) = A . B^T, B (N,K) stored: dot products along K, both rows
 *       contiguous
 *
 * Split K: work-item dimension 2 is a slice of K (kslice values each). With several
 * slices each writes a partial product (alpha 1, beta 0) to C + slice * c_slice_stride,
 * and lp_gemm_reduce folds them into the real C; long-K shapes gain parallelism and keep
 * each slice's operands in cache.
 *
 * Tile shape, vector width and work-group size: cl/tile.cl (built in before this file).
 * Edges: rows past M are the zero padding of the packed A, columns past N (and nt's rows
 * past M) are clamped for loads (valid memory, results discarded); neither is stored. */

/* Writes one row segment of a tile: alpha * acc (+ beta * C, only read when beta != 0,
 * since C may hold anything, NaN included, when beta is 0). */
inline void store_row_(__global float *crow, int j0, int N, const floatv *acc, float alpha,
                       float beta) {
    if (j0 + GEMM_NR <= N) {
#pragma unroll
        for (int v = 0; v < GEMM_NV; ++v) {
            floatv r = alpha * acc[v];
            if (beta != 0.0f) r += beta * VLOAD_(v, crow + j0);
            VSTORE_(FTZ_V_(r), v, crow + j0);
        }
        return;
    }
    float out[GEMM_NR];
#pragma unroll
    for (int v = 0; v < GEMM_NV; ++v)
        VSTORE_(acc[v], v, out);
    for (int l = 0; j0 + l < N; ++l) {
        float r = alpha * out[l];
        if (beta != 0.0f) r += beta * crow[j0 + l];
        crow[j0 + l] = LP_FTZ(r);
    }
}

/* op(A) packed by lp_gemm_pack_a into row panels: panel p holds rows p*MR .. p*MR + MR-1
 * as (K, MR) row-major (the MR values of one k side by side), panels a_stride floats
 * apart, rows past M zero. Each value of A is then a load at a constant offset from one
 * pointer, which the compiler folds into the FMA as a broadcast operand. (Reading A in
 * place, PoCL kept a row offset per tile row as 64-bit lanes of a vector and extracted
 * them one by one: SGEMM 1024^3 ran at 155 instead of 212 GFLOP/s.) */
__kernel void lp_gemm_pack_a(int M, int K, int trans, __global const float *A, ulong a_off, int lda,
                             __global float *Ap) {
    const int i = (int)get_global_id(0), k = (int)get_global_id(1);
    const int rows = (M + GEMM_MR - 1) / GEMM_MR * GEMM_MR;
    if (i >= rows || k >= K) return;
    float v = 0.0f;
    if (i < M) v = trans ? A[a_off + (size_t)k * lda + i] : A[a_off + (size_t)i * lda + k];
    const int p = i / GEMM_MR, r = i - p * GEMM_MR;
    Ap[((size_t)p * K + k) * GEMM_MR + r] = v;
}

/* C (M,N) = alpha * op(A) . B + beta * C with op(A) packed (above), a_stride = K * MR. */
__kernel __attribute__((reqd_work_group_size(GEMM_LX, 1, 1))) void
lp_gemm_ap(int M, int N, int K, int kslice, float alpha, float beta, __global const float *Ap,
           ulong a_stride, __global const float *B, ulong b_off, int ldb, __global float *C,
           ulong c_off, int ldc, ulong c_slice_stride) {
    const int i0 = (int)get_global_id(0) * GEMM_MR, j0 = (int)get_global_id(1) * GEMM_NR;
    if (i0 >= M || j0 >= N) return;
    const int s = (int)get_global_id(2);
    const int k0 = s * kslice, k1 = min(K, k0 + kslice);
    const __global float *apan = Ap + (size_t)(i0 / GEMM_MR) * a_stride;
    B += b_off;
    C += c_off + s * c_slice_stride;
    floatv acc[GEMM_MR][GEMM_NV];
    TILE_ZERO(acc);
    const bool full = j0 + GEMM_NR <= N;
    TILE_PRODUCT(acc, apan, k0, k1, B + (size_t)k * ldb + j0, full, N - j0);
#pragma unroll
    for (int r = 0; r < GEMM_MR; ++r)
        if (i0 + r < M) store_row_(C + (size_t)(i0 + r) * ldc, j0, N, acc[r], alpha, beta);
}

/* C (M,N) = A (M,K) . B^T with B stored (N,K): each output is a dot product of two
 * contiguous rows, accumulated GEMM_VW lanes at a time and summed across lanes at the end. */
__kernel __attribute__((reqd_work_group_size(GEMM_LX, 1, 1))) void
lp_gemm_nt(int M, int N, int K, int kslice, float alpha, float beta, __global const float *A,
           ulong a_off, int lda, __global const float *B, ulong b_off, int ldb, __global float *C,
           ulong c_off, int ldc, ulong c_slice_stride) {
    const int i0 = (int)get_global_id(0) * GEMM_DM, j0 = (int)get_global_id(1) * GEMM_DN;
    if (i0 >= M || j0 >= N) return;
    const int s = (int)get_global_id(2);
    const int k0 = s * kslice, k1 = min(K, k0 + kslice);
    A += a_off;
    B += b_off;
    C += c_off + s * c_slice_stride;
    const __global float *ar[GEMM_DM];
    const __global float *br[GEMM_DN];
#pragma unroll
    for (int r = 0; r < GEMM_DM; ++r)
        ar[r] = A + (size_t)min(i0 + r, M - 1) * lda;
#pragma unroll
    for (int c = 0; c < GEMM_DN; ++c)
        br[c] = B + (size_t)min(j0 + c, N - 1) * ldb;
    floatv acc[GEMM_DM][GEMM_DN];
#pragma unroll
    for (int r = 0; r < GEMM_DM; ++r)
#pragma unroll
        for (int c = 0; c < GEMM_DN; ++c)
            acc[r][c] = (floatv)(0.0f);
    int k = k0;
    for (; k + GEMM_VW <= k1; k += GEMM_VW) {
        floatv a[GEMM_DM], b[GEMM_DN];
#pragma unroll
        for (int r = 0; r < GEMM_DM; ++r)
            a[r] = VLOAD_(0, ar[r] + k);
#pragma unroll
        for (int c = 0; c < GEMM_DN; ++c)
            b[c] = VLOAD_(0, br[c] + k);
#pragma unroll
        for (int r = 0; r < GEMM_DM; ++r)
#pragma unroll
            for (int c = 0; c < GEMM_DN; ++c)
                acc[r][c] = LP_MULADD(a[r], b[c], acc[r][c]);
    }
    float sum[GEMM_DM][GEMM_DN];
#pragma unroll
    for (int r = 0; r < GEMM_DM; ++r)
#pragma unroll
        for (int c = 0; c < GEMM_DN; ++c)
            sum[r][c] = hsum_(acc[r][c]);
    for (; k < k1; ++k)
#pragma unroll
        for (int r = 0; r < GEMM_DM; ++r)
#pragma unroll
            for (int c = 0; c < GEMM_DN; ++c)
                sum[r][c] = LP_MULADD(ar[r][k], br[c][k], sum[r][c]);
#pragma unroll
    for (int r = 0; r < GEMM_DM; ++r) {
        if (i0 + r >= M) break;
        __global float *crow = C + (size_t)(i0 + r) * ldc;
#pragma unroll
        for (int c = 0; c < GEMM_DN; ++c) {
            if (j0 + c >= N) break;
            float v = alpha * sum[r][c];
            if (beta != 0.0f) v += beta * crow[j0 + c];
            crow[j0 + c] = LP_FTZ(v);
        }
    }
}

/* C = alpha * (sum of `slices` partial products, each (M,N) dense at P + s*stride)
 *     + beta * C. One work-item per element of C. */
__kernel void lp_gemm_reduce(int M, int N, int slices, ulong stride, __global const float *P,
                             float alpha, float beta, __global float *C, ulong c_off, int ldc) {
    const size_t e = get_global_id(0);
    if (e >= (size_t)M * N) return;
    /* Not e % N: with / and % together clang emits an LLVM freeze, which Oclgrind 21.10
     * cannot interpret. */
    const int i = (int)(e / N), j = (int)(e - (size_t)i * N);
    float acc = 0.0f;
    for (int s = 0; s < slices; ++s)
        acc += P[s * stride + e];
    __global float *c = C + c_off + (size_t)i * ldc + j;
    float v = alpha * acc;
    if (beta != 0.0f) v += beta * *c;
    *c = LP_FTZ(v);
}
