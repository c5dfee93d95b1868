/* Initial weights, drawn on the host from the counter-based PRNG (laperm/rng.h), so the
 * same seed gives bit-identical values on every machine and device. */
#ifndef LAPERM_INIT_H
#define LAPERM_INIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "laperm/model.h"

/* Fills dst[0..n) for `kind`, element i from counter (i, stream = `stream`):
 *   he_uniform      U(-l, l), l = sqrt(6 / fan_in)
 *   glorot_uniform  U(-l, l), l = sqrt(6 / (fan_in + fan_out))
 *   he_normal       N(0, s) truncated at 2s, s = sqrt(2 / fan_in) / 0.87962566
 *   glorot_normal   same with s = sqrt(2 / (fan_in + fan_out)) / 0.87962566
 *   zeros, ones     0, 1
 * The normal forms follow Keras' VarianceScaling: the divisor restores the variance that
 * truncation at two standard deviations removes. */
void lp_init_fill(lp_init_kind kind, float *dst, size_t n, int fan_in, int fan_out, uint64_t seed,
                  uint32_t stream);

/* Which model-file keys accept an initializer (the `use` of laperm/initializers.def). */
#define LP_INIT_USE_KERNEL 1u /* `init` */
#define LP_INIT_USE_BIAS 2u   /* `bias_init` */

/* The initializer called `name` (n bytes, not NUL-terminated) that `use` allows; false if
 * there is none. */
bool lp_init_find(const char *name, size_t n, unsigned use, lp_init_kind *out);
/* "he_uniform, he_normal, ...": the names `use` allows, for messages and --help. */
const char *lp_init_list(unsigned use, char *buf, size_t size);

#endif
