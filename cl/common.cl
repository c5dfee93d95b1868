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
 * key (k0, k1) = (seed low word, seed high word). */
inline uint4 lp_philox4x32(uint4 c, uint k0, uint k1) {
    for (int round = 0; round < 10; ++round) {
        uint hi0 = mul_hi(0xD2511F53u, c.x), lo0 = 0xD2511F53u * c.x;
        uint hi1 = mul_hi(0xCD9E8D57u, c.z), lo1 = 0xCD9E8D57u * c.z;
        c = (uint4)(hi1 ^ c.y ^ k0, lo1, hi0 ^ c.w ^ k1, lo0);
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    return c;
}
