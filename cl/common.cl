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
