/* Host-side initializers (see include/laperm/init.h for the formulas). */
#include "laperm/init.h"

#include <math.h>
#include <string.h>

#include "laperm/rng.h"

/* Keras' stddev correction for a normal truncated at +-2 standard deviations. */
#define LP_TRUNC_STD_CORRECTION 0.87962566103423978

void lp_init_fill(lp_init_kind kind, float *dst, size_t n, int fan_in, int fan_out,
                  uint64_t seed, uint32_t stream) {
    double fan_avg = (double)fan_in + (double)fan_out;
    switch (kind) {
    case LP_INIT_ZEROS:
        memset(dst, 0, n * sizeof *dst);
        return;
    case LP_INIT_ONES:
        for (size_t i = 0; i < n; ++i) dst[i] = 1.0f;
        return;
    case LP_INIT_HE_UNIFORM:
    case LP_INIT_GLOROT_UNIFORM: {
        float limit = (float)sqrt(6.0 / (kind == LP_INIT_HE_UNIFORM ? fan_in : fan_avg));
        /* One Philox call yields four uniforms: element i uses lane i % 4 of block i / 4. */
        for (size_t i = 0; i < n; i += 4) {
            float u[4];
            lp_uniform4(seed, i / 4, stream, 0, u);
            for (size_t j = 0; j < 4 && i + j < n; ++j) dst[i + j] = (2.0f * u[j] - 1.0f) * limit;
        }
        return;
    }
    case LP_INIT_HE_NORMAL:
    case LP_INIT_GLOROT_NORMAL: {
        double var = 2.0 / (kind == LP_INIT_HE_NORMAL ? fan_in : fan_avg);
        double sd = sqrt(var) / LP_TRUNC_STD_CORRECTION;
        for (size_t i = 0; i < n; ++i) dst[i] = (float)(sd * lp_normal(seed, i, stream, 2.0f));
        return;
    }
    }
}
