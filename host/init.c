/* Host-side initializers (see include/laperm/init.h for the formulas), one fill function
 * each, named in one table built from laperm/initializers.def. */
#include "laperm/init.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "laperm/rng.h"

/* Keras' stddev correction for a normal truncated at +-2 standard deviations. */
#define LP_TRUNC_STD_CORRECTION 0.87962566103423978

/* What every fill function gets: the tensor's fans and the counter-based PRNG's key and
 * stream, so element i is the same number on every machine. */
typedef struct {
    int fan_in, fan_out;
    uint64_t seed;
    uint32_t stream;
} init_args_;

typedef void (*fill_fn_)(const init_args_ *a, float *dst, size_t n);

/* U(-limit, limit): one Philox call yields four uniforms, element i uses lane i % 4 of
 * block i / 4. */
static void uniform_(const init_args_ *a, float limit, float *dst, size_t n) {
    for (size_t i = 0; i < n; i += 4) {
        float u[4];
        lp_uniform4(a->seed, i / 4, a->stream, 0, u);
        for (size_t j = 0; j < 4 && i + j < n; ++j)
            dst[i + j] = (2.0f * u[j] - 1.0f) * limit;
    }
}

/* N(0, sqrt(var)) truncated at two standard deviations, variance restored (Keras). */
static void truncated_normal_(const init_args_ *a, double var, float *dst, size_t n) {
    double sd = sqrt(var) / LP_TRUNC_STD_CORRECTION;
    for (size_t i = 0; i < n; ++i)
        dst[i] = (float)(sd * lp_normal(a->seed, i, a->stream, 2.0f));
}

static double fan_sum_(const init_args_ *a) {
    return (double)a->fan_in + (double)a->fan_out;
}

static void fill_he_uniform_(const init_args_ *a, float *dst, size_t n) {
    uniform_(a, (float)sqrt(6.0 / a->fan_in), dst, n);
}

static void fill_glorot_uniform_(const init_args_ *a, float *dst, size_t n) {
    uniform_(a, (float)sqrt(6.0 / fan_sum_(a)), dst, n);
}

static void fill_he_normal_(const init_args_ *a, float *dst, size_t n) {
    truncated_normal_(a, 2.0 / a->fan_in, dst, n);
}

static void fill_glorot_normal_(const init_args_ *a, float *dst, size_t n) {
    truncated_normal_(a, 2.0 / fan_sum_(a), dst, n);
}

static void fill_zeros_(const init_args_ *a, float *dst, size_t n) {
    (void)a;
    memset(dst, 0, n * sizeof *dst);
}

static void fill_ones_(const init_args_ *a, float *dst, size_t n) {
    (void)a;
    for (size_t i = 0; i < n; ++i)
        dst[i] = 1.0f;
}

typedef struct {
    const char *name;
    unsigned use;
    fill_fn_ fill;
} initializer_;

static const initializer_ initializers_[] = {
#define LP_INITIALIZER(id, name, use) [LP_INIT_##id] = {#name, use, fill_##name##_},
#include "laperm/initializers.def"
#undef LP_INITIALIZER
};
_Static_assert(sizeof initializers_ / sizeof *initializers_ == LP_INIT_KIND_COUNT,
               "one table entry per lp_init_kind");

void lp_init_fill(lp_init_kind kind, float *dst, size_t n, int fan_in, int fan_out, uint64_t seed,
                  uint32_t stream) {
    init_args_ a = {.fan_in = fan_in, .fan_out = fan_out, .seed = seed, .stream = stream};
    if ((unsigned)kind < LP_INIT_KIND_COUNT) initializers_[kind].fill(&a, dst, n);
}

const char *lp_init_name(lp_init_kind i) {
    return (unsigned)i < LP_INIT_KIND_COUNT ? initializers_[i].name : "?";
}

bool lp_init_find(const char *name, size_t n, unsigned use, lp_init_kind *out) {
    for (int i = 0; i < LP_INIT_KIND_COUNT; ++i)
        if ((initializers_[i].use & use) && strlen(initializers_[i].name) == n &&
            memcmp(initializers_[i].name, name, n) == 0) {
            *out = (lp_init_kind)i;
            return true;
        }
    return false;
}

const char *lp_init_list(unsigned use, char *buf, size_t size) {
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < LP_INIT_KIND_COUNT && len < size; ++i)
        if (initializers_[i].use & use) {
            int w = snprintf(buf + len, size - len, "%s%s", len ? ", " : "", initializers_[i].name);
            len = w < 0 ? size : len + (size_t)w;
        }
    return buf;
}
