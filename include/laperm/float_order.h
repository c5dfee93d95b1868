/* The one total order on floats that LaPerm sorts by, everywhere (the device's segmented
 * sort, the host references, snapshot rebuilds, .lpk coding): IEEE 754 totalOrder as a
 * monotone unsigned key of the bits (README, "Groups and the ranking formula"). */
#ifndef LAPERM_FLOAT_ORDER_H
#define LAPERM_FLOAT_ORDER_H

#include <stdint.h>
#include <string.h>

/* Monotone unsigned key for a float (same as cl/common.cl): -inf < ... < -0 < +0 < ...
 * < +inf, NaNs at the ends by sign. Sorting by (key, index) is a strict total order;
 * equal keys are equal bits. */
static inline uint32_t lp_float_sort_key(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u ^ ((u >> 31) ? 0xFFFFFFFFu : 0x80000000u);
}

/* The float whose key is k (the inverse of lp_float_sort_key, bit for bit). */
static inline float lp_float_from_sort_key(uint32_t k) {
    uint32_t u = k ^ ((k >> 31) ? 0x80000000u : 0xFFFFFFFFu);
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

#endif
