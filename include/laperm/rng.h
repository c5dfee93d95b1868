/* Counter-based random numbers: Philox4x32-10 (Salmon et al., SC'11). Output depends
 * only on (key, counter), never on call order or thread count, and uses only 32-bit
 * integer arithmetic, so every machine and device produces the same bits.
 *
 * Conventions used across laperm (documented in README, "Reproducibility"):
 *   key     = the run's 64-bit seed (low word, high word)
 *   counter = (index low, index high, stream, draw)
 * where `stream` separates uses (each parameter tensor, the shuffle of each epoch, ...)
 * and `draw` counts rejections for samplers that may need more than one try. */
#ifndef LAPERM_RNG_H
#define LAPERM_RNG_H

#include <stdint.h>

typedef struct {
    uint32_t v[4];
} lp_philox_ctr;

/* Philox4x32-10 of `ctr` under the key formed from `seed`. */
lp_philox_ctr lp_philox4x32(lp_philox_ctr ctr, uint64_t seed);

/* Four uniform floats in [0, 1) with 24 random bits each, exactly representable. */
void lp_uniform4(uint64_t seed, uint64_t index, uint32_t stream, uint32_t draw, float out[4]);

/* One uint32 for (seed, index, stream), e.g. for Fisher-Yates shuffles. */
uint32_t lp_random_u32(uint64_t seed, uint64_t index, uint32_t stream);

/* Natural logarithm from IEEE +,-,*,/ only (no libm), so that normal samples are
 * bit-identical on every machine. Accurate to about 1 ulp of double for x > 0. */
double lp_portable_log(double x);

/* Standard normal sample (Marsaglia polar method on top of lp_uniform4), truncated to
 * |z| <= trunc when trunc > 0 (resampled with later draws). */
float lp_normal(uint64_t seed, uint64_t index, uint32_t stream, float trunc);

/* Seeded permutation of 0..n-1 (Fisher-Yates driven by lp_random_u32 on `stream`). */
void lp_shuffle_indices(uint32_t *idx, uint32_t n, uint64_t seed, uint32_t stream);

#endif
