/* Prepended to every program. Device limits arrive as -D options from the host
 * (runtime.c); the defaults below only keep a file compilable on its own. */
#ifndef LP_MAX_WGS
#define LP_MAX_WGS 256
#endif
#ifndef LP_LOCAL_MEM_BYTES
#define LP_LOCAL_MEM_BYTES 32768
#endif

/* Monotone unsigned key for a float: orders -inf < ... < -0 < +0 < ... < +inf (NaNs
 * at the ends), so sorting by it is a total order identical on every device. */
inline uint lp_float_sort_key(float x) {
    uint u = as_uint(x);
    return u ^ ((u >> 31) ? 0xFFFFFFFFu : 0x80000000u);
}

/* ---- Philox4x32-10 -------------------------------------------------------------------------
 * The device twin of lp_philox4x32 in host/rng.c (same rounds, constants and word order),
 * so a mask drawn here can be recomputed bit for bit on the host. Counter `c` under the
 * key (k0, k1) = (seed low word, seed high word). The 32x32 -> 64-bit products are
 * written out rather than mul_hi, which PoCL compiles to a call per element. */
inline uint4 lp_philox4x32(uint4 c, uint k0, uint k1) {
    for (int round = 0; round < 10; ++round) {
        ulong p0 = (ulong)0xD2511F53u * c.x, p1 = (ulong)0xCD9E8D57u * c.z;
        uint hi0 = (uint)(p0 >> 32), lo0 = (uint)p0, hi1 = (uint)(p1 >> 32), lo1 = (uint)p1;
        c = (uint4)(hi1 ^ c.y ^ k0, lo1, hi0 ^ c.w ^ k1, lo0);
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    return c;
}

/* lp_philox4x32 on eight counters at once, word by word: counter l is
 * (x.s_l, y.s_l, z.s_l, w.s_l) and so is its output. Explicit vectors, so the rounds run
 * as SIMD instructions whether or not the device compiler vectorizes across work-items. */
inline void lp_philox4x32_x8(uint8 *x, uint8 *y, uint8 *z, uint8 *w, uint k0, uint k1) {
    uint8 a = *x, b = *y, c = *z, d = *w;
    for (int round = 0; round < 10; ++round) {
        ulong8 p0 = convert_ulong8(a) * 0xD2511F53ul, p1 = convert_ulong8(c) * 0xCD9E8D57ul;
        uint8 hi0 = convert_uint8(p0 >> 32), lo0 = convert_uint8(p0);
        uint8 hi1 = convert_uint8(p1 >> 32), lo1 = convert_uint8(p1);
        a = hi1 ^ b ^ (uint8)(k0);
        b = lo1;
        c = hi0 ^ d ^ (uint8)(k1);
        d = lo0;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    *x = a;
    *y = b;
    *z = c;
    *w = d;
}

/* LP_CONV_GRAD_LANES, the partial sums per (sample, channel) plane of a conv bias
 * gradient (lp_conv_grad_rows, lp_conv_direct_grad_z), comes from the host
 * (laperm/ops_conv.h, LP_CONV_OPTIONS) to the programs that use it; lp_conv_bias_reduce
 * (lp_tree16) is written for 16. */
#if defined(LP_CONV_GRAD_LANES) && LP_CONV_GRAD_LANES != 16
#error "lp_tree16 adds 16 lane sums"
#endif

/* The pairwise tree over 16 lane sums t[0..15] (lane l + 8 into l, then + 4, + 2, + 1):
 * the fixed order in which the conv bias gradient and BatchNorm's by-plane reductions add
 * a plane's lanes. Spelled out in scalars: Oclgrind 21.10's uninitialised-value plugin
 * crashes on the vector-halves form. */
inline float lp_tree16(__global const float *t) {
    float b0 = t[0] + t[8], b1 = t[1] + t[9], b2 = t[2] + t[10], b3 = t[3] + t[11];
    float b4 = t[4] + t[12], b5 = t[5] + t[13], b6 = t[6] + t[14], b7 = t[7] + t[15];
    float c0 = b0 + b4, c1 = b1 + b5, c2 = b2 + b6, c3 = b3 + b7;
    return (c0 + c2) + (c1 + c3);
}
