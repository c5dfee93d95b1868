/* Initial weights, drawn on the host from the counter-based PRNG (laperm/rng.h), so the
 * same seed gives bit-identical values on every machine and device. */
#ifndef LAPERM_INIT_H
#define LAPERM_INIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "laperm/model.h"
#include "laperm/results.h"

/* Philox streams of the options (README, "Reproducibility"): the mask of the tensor whose
 * values come from stream t is drawn from LP_STREAM_INIT_MASK + t, the --init-from-shuffle
 * permutation of its groups from LP_STREAM_INIT_SHUFFLE + t. */
#define LP_STREAM_INIT_MASK 0x48000000u
#define LP_STREAM_INIT_SHUFFLE 0x4C000000u

/* Fills dst[0..n) for `kind`, element i from counter (i, stream = `stream`):
 *   he_uniform      U(-l, l), l = sqrt(6 / fan_in)                    range [-l, l]
 *   glorot_uniform  U(-l, l), l = sqrt(6 / (fan_in + fan_out))        range [-l, l]
 *   he_normal       N(0, s) truncated at 2s, s = sqrt(2 / fan_in) / 0.87962566
 *                                                                     range [-2s, 2s]
 *   glorot_normal   same with s = sqrt(2 / (fan_in + fan_out)) / 0.87962566
 *   constant        opts->value                                       range [value, value]
 *   choice          opts->values.v[floor(r * n / 2^32)], r = lp_random_u32(seed, i, stream)
 *                                                                     range [min, max]
 *   zeros, ones     0, 1
 * The normal forms follow Keras' VarianceScaling: the divisor restores the variance that
 * truncation at two standard deviations removes. Then, in this order:
 *   quantize = N >= 2: each value to the nearest of N evenly spaced levels over the range,
 *     level j = ((N-1-j) lo + j hi) / (N-1) (a range of one value is left as it is);
 *   0 < keep < 1: element i kept when lane i % 4 of lp_uniform4(seed, i / 4,
 *     LP_STREAM_INIT_MASK + stream, 0) is below keep, else 0 (a Bernoulli mask);
 *   every -0.0 becomes +0.0.
 * opts NULL: none of them (constant and choice then give 0). */
void lp_init_fill_opts(lp_init_kind kind, const lp_init_opts *opts, float *dst, size_t n,
                       int fan_in, int fan_out, uint64_t seed, uint32_t stream);
/* lp_init_fill_opts without options. */
void lp_init_fill(lp_init_kind kind, float *dst, size_t n, int fan_in, int fan_out, uint64_t seed,
                  uint32_t stream);

/* Permutes each of `groups` contiguous groups of x at random: Fisher-Yates from the top,
 * position i - 1 of group g swapped with floor(r * i / 2^32), r = lp_random_u32(seed,
 * g * 2^32 + i, stream). */
void lp_init_shuffle_groups(float *x, int groups, int group_size, uint64_t seed, uint32_t stream);

/* Parses text[0..n) as "a,b,...": 1 to LP_INIT_VALUES_MAX numbers in plain decimal or
 * exponent notation (blanks around each allowed), each finite as a float, -0 read as +0.
 * LP_ERR_FORMAT saying which item is wrong and what was expected. */
lp_status lp_init_values_parse(const char *text, size_t n, lp_float_list *out);

/* Which model-file keys accept an initializer (the `use` of laperm/initializers.def). */
#define LP_INIT_USE_KERNEL 1u /* `init` */
#define LP_INIT_USE_BIAS 2u   /* `bias_init` */

/* The initializer called `name` (n bytes, not NUL-terminated) that `use` allows; false if
 * there is none. */
bool lp_init_find(const char *name, size_t n, unsigned use, lp_init_kind *out);
/* "he_uniform, he_normal, ...": the names `use` allows, for messages and --help. */
const char *lp_init_list(unsigned use, char *buf, size_t size);

/* ---- a run's initial values -------------------------------------------------------------
 * One function computes them from the model and what the results file records, so that
 * training (host/trainer_state.c) and `laperm unpack` (host/lpk.c) give the same bits. */

/* Command-line overrides of the initial values of every permuted kernel (README,
 * "Initial weights"); zeroed: the model file's keys alone. */
typedef struct {
    bool init_set;     /* --init: `init` replaces each kernel's initializer */
    lp_init_kind init; /* with init_set; constant and choice take opts.value, opts.values */
    lp_init_opts opts; /* value, values (with init_set); quantize (>= 2: --quantize) */
    float keep;        /* --keep: every permuted kernel, the first max(keep, 0.8); 0: unset */
    float keep_first;  /* --keep-first: the first permuted kernel; 0: unset */
} lp_init_override;

/* Everything besides the model that decides a run's initial values and its LaPerm groups:
 * the results file's root attributes `seed`, `optimizer` (laperm or not), `perm_bias`,
 * `perm_bn`, `group_scope` and the overrides `init`, `init_value`, `init_values`,
 * `quantize`, `keep`, `keep_first`. (`init_from` runs start from another file's values:
 * not described here.) */
typedef struct {
    uint64_t seed;
    bool laperm;           /* a LaPerm run: tensors are permuted and the overrides apply */
    bool perm_bias;        /* biases permuted too */
    bool perm_bn;          /* BatchNorm gamma and beta permuted too */
    bool per_tensor_scope; /* one group per tensor instead of per output unit */
    lp_init_override override;
} lp_init_setup;

/* Whether LaPerm permutes tensor p in such a run: kernels as the model says (`permute`),
 * biases with perm_bias, gamma/beta with the layer's `permute` or perm_bn; never without
 * LaPerm. */
bool lp_init_permuted(const lp_init_setup *s, const lp_param_tensor *p);
/* Its LaPerm groups: the tensor's own (per unit), or one of every value (per tensor). */
void lp_init_groups(const lp_init_setup *s, const lp_param_tensor *p, int *groups, int *group_size);
/* The initial values of every tensor of the table t[0..n) into params (laid out by the
 * table's offsets): tensor i from stream i with its initializer and options, the
 * overrides replacing them on permuted kernels (the first permuted kernel keeps
 * keep_first, else max(keep, 0.8)). Bit-identical on every machine: integer Philox, IEEE
 * arithmetic and the exact libm functions sqrt, floor, frexp, fabs only, compiled without
 * floating-point contraction (CMakeLists.txt: -ffp-contract=off). */
void lp_init_run_values(const lp_init_setup *s, const lp_param_tensor *t, int n, float *params);

/* The setup from a results file's root attributes a[0..n) (those not listed are off: 0 or
 * ""). LP_ERR_FORMAT naming the attribute when one has the wrong type or an unknown
 * value. */
lp_status lp_init_setup_from_attrs(const lp_attr *a, int n, lp_init_setup *out);
/* The attributes lp_init_setup_from_attrs reads, NULL-terminated. */
extern const char *const lp_init_setup_attr_names[];

#endif
