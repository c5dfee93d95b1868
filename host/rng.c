/* Philox4x32-10 and the samplers built on it; see include/laperm/rng.h for the
 * counter conventions that make results identical on every machine. */
#include "laperm/rng.h"

#include <math.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

static void mulhilo_(uint32_t a, uint32_t b, uint32_t *hi, uint32_t *lo) {
    uint64_t p = (uint64_t)a * b;
    *hi = (uint32_t)(p >> 32);
    *lo = (uint32_t)p;
}

lp_philox_ctr lp_philox4x32(lp_philox_ctr c, uint64_t seed) {
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int round = 0; round < 10; ++round) {
        uint32_t hi0, lo0, hi1, lo1;
        mulhilo_(PHILOX_M0, c.v[0], &hi0, &lo0);
        mulhilo_(PHILOX_M1, c.v[2], &hi1, &lo1);
        lp_philox_ctr n = {{hi1 ^ c.v[1] ^ k0, lo1, hi0 ^ c.v[3] ^ k1, lo0}};
        c = n;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    return c;
}

void lp_uniform4(uint64_t seed, uint64_t index, uint32_t stream, uint32_t draw, float out[4]) {
    lp_philox_ctr c = {{(uint32_t)index, (uint32_t)(index >> 32), stream, draw}};
    lp_philox_ctr r = lp_philox4x32(c, seed);
    for (int i = 0; i < 4; ++i)
        out[i] = (float)(r.v[i] >> 8) * (1.0f / 16777216.0f);
}

uint32_t lp_random_u32(uint64_t seed, uint64_t index, uint32_t stream) {
    lp_philox_ctr c = {{(uint32_t)index, (uint32_t)(index >> 32), stream, 0}};
    return lp_philox4x32(c, seed).v[0];
}

double lp_portable_log(double x) {
    /* x = m * 2^e with m in [sqrt(1/2), sqrt(2)); log m = 2 atanh(z), z = (m-1)/(m+1),
     * |z| < 0.172, so the odd series below converges to double precision in 13 terms. */
    int e;
    double m = frexp(x, &e); /* exact: only adjusts the exponent */
    if (m < 0.70710678118654752440) {
        m *= 2.0;
        e -= 1;
    }
    double z = (m - 1.0) / (m + 1.0), z2 = z * z, term = z, sum = 0.0;
    for (int k = 1; k <= 25; k += 2) {
        sum += term / k;
        term *= z2;
    }
    return 2.0 * sum + e * 0.69314718055994530942;
}

float lp_normal(uint64_t seed, uint64_t index, uint32_t stream, float trunc) {
    for (uint32_t draw = 0;; ++draw) {
        float u[4];
        lp_uniform4(seed, index, stream, draw, u);
        for (int pair = 0; pair < 2; ++pair) {
            double a = 2.0 * u[2 * pair] - 1.0, b = 2.0 * u[2 * pair + 1] - 1.0;
            double s = a * a + b * b;
            if (s >= 1.0 || s == 0.0) continue;
            double z = a * sqrt(-2.0 * lp_portable_log(s) / s); /* sqrt is exact IEEE */
            if (trunc > 0 && fabs(z) > trunc) continue;
            return (float)z;
        }
    }
}

void lp_shuffle_indices(uint32_t *idx, uint32_t n, uint64_t seed, uint32_t stream) {
    for (uint32_t i = 0; i < n; ++i)
        idx[i] = i;
    for (uint32_t i = n; i > 1; --i) {
        /* Unbiased bound by 64-bit multiply-shift (Lemire); the bias is below 2^-32
         * per draw, irrelevant for data order and identical on every machine. */
        uint32_t j = (uint32_t)(((uint64_t)lp_random_u32(seed, i, stream) * i) >> 32);
        uint32_t t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}
