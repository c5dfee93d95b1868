/* The register tile of the GEMM-style programs (gemm.cl, conv_direct.cl and the products
 * of conv_winograd.cl), built in after common.cl and before them. Its shape, vector width
 * and work-group size are -D options chosen per device (lp_gemm_variant):
 *   GEMM_VW  floats per vector (4, 8 or 16)
 *   GEMM_MR  rows per ap tile; GEMM_NV vectors per row (the tile is MR x VW*NV)
 *   GEMM_DM, GEMM_DN  rows and columns per nt tile (DM*DN vector accumulators)
 *   GEMM_LX  work-items per work-group along dimension 0 (1 on CPUs)
 * The defaults only let a program without options compile (the split-K reduction). */

#ifndef GEMM_VW
#define GEMM_VW 8
#endif
#ifndef GEMM_MR
#define GEMM_MR 6
#endif
#ifndef GEMM_NV
#define GEMM_NV 2
#endif
#ifndef GEMM_DM
#define GEMM_DM 4
#endif
#ifndef GEMM_DN
#define GEMM_DN 4
#endif
#ifndef GEMM_LX
#define GEMM_LX 1
#endif

#if GEMM_VW == 16
typedef float16 floatv;
#define FTZ_V_ LP_FTZ16
#define VLOAD_ vload16
#define VSTORE_ vstore16
#elif GEMM_VW == 8
typedef float8 floatv;
#define FTZ_V_ LP_FTZ8
#define VLOAD_ vload8
#define VSTORE_ vstore8
#elif GEMM_VW == 4
typedef float4 floatv;
#define FTZ_V_ LP_FTZ4
#define VLOAD_ vload4
#define VSTORE_ vstore4
#else
#error "GEMM_VW must be 4, 8 or 16"
#endif

#define GEMM_NR (GEMM_VW * GEMM_NV)

/* The products' multiply-add: fma() where the device has it in hardware; where it does
 * not (LP_NO_FMA from the host: CL_FP_FMA missing, as on Rusticl's llvmpipe) fma() is a
 * software routine per lane, and a multiply and an add are many times faster. Portable
 * bits (portable_math.cl): always a multiply and an add, the same on every device. */
#if defined(LP_NO_FMA) || defined(LP_PORTABLE_BITS)
#define LP_MULADD(a, b, c) ((a) * (b) + (c))
#else
#define LP_MULADD(a, b, c) fma((a), (b), (c))
#endif

inline float hsum_(floatv x) {
#if GEMM_VW == 16
    float8 h8 = x.lo + x.hi;
    float4 h4 = h8.lo + h8.hi;
#elif GEMM_VW == 8
    float4 h4 = x.lo + x.hi;
#else
    float4 h4 = x;
#endif
    float2 h2 = h4.lo + h4.hi;
    return h2.x + h2.y;
}

/* acc = 0, for an MR x NV tile of vectors. */
#define TILE_ZERO(acc)                                                                             \
    _Pragma("unroll") for (int r_ = 0; r_ < GEMM_MR; ++r_) {                                       \
        _Pragma("unroll") for (int v_ = 0; v_ < GEMM_NV; ++v_) {                                   \
            (acc)[r_][v_] = (floatv)(0.0f);                                                        \
        }                                                                                          \
    }

/* The tile's inner loop, shared by lp_gemm_ap and lp_conv_direct: for k in [k0, k1),
 * acc[r][v] += A[k][r] * B[k][v], A's row k the MR values at apan + k*MR (a packed
 * panel: each a load at a fixed offset, folded into the FMA as a broadcast) and B's row
 * k the NR floats at BROW, an expression of k. When !full only `lanes` of those may be
 * read; the others repeat the last. A macro, not a function, so the accumulators stay
 * the compiler's registers whatever it does with arrays passed by pointer. */
#define TILE_PRODUCT(acc, apan, k0, k1, BROW, full, lanes)                                         \
    for (int k = (k0); k < (k1); ++k) {                                                            \
        const __global float *brow_ = (BROW);                                                      \
        floatv b_[GEMM_NV];                                                                        \
        if (full) {                                                                                \
            _Pragma("unroll") for (int v_ = 0; v_ < GEMM_NV; ++v_) b_[v_] = VLOAD_(v_, brow_);     \
        } else {                                                                                   \
            float t_[GEMM_NR];                                                                     \
            for (int l_ = 0; l_ < GEMM_NR; ++l_)                                                   \
                t_[l_] = brow_[min(l_, (lanes)-1)];                                                \
            _Pragma("unroll") for (int v_ = 0; v_ < GEMM_NV; ++v_) b_[v_] = VLOAD_(v_, t_);        \
        }                                                                                          \
        _Pragma("unroll") for (int r_ = 0; r_ < GEMM_MR; ++r_) {                                   \
            const floatv a_ = (floatv)((apan)[(size_t)k * GEMM_MR + r_]);                          \
            _Pragma("unroll") for (int v_ = 0; v_ < GEMM_NV; ++v_) {                               \
                (acc)[r_][v_] = LP_MULADD(a_, b_[v_], (acc)[r_][v_]);                              \
            }                                                                                      \
        }                                                                                          \
    }
