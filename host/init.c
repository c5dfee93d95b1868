/* Host-side initializers (see include/laperm/init.h for the formulas), one fill function
 * each, named in one table built from laperm/initializers.def. */
#include "laperm/init.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "laperm/rng.h"

/* Keras' stddev correction for a normal truncated at +-2 standard deviations. */
#define LP_TRUNC_STD_CORRECTION 0.87962566103423978

/* What every fill function gets: the tensor's fans, the counter-based PRNG's key and
 * stream, so element i is the same number on every machine, and the options (constant,
 * list). */
typedef struct {
    int fan_in, fan_out;
    uint64_t seed;
    uint32_t stream;
    const lp_init_opts *opts;
} init_args_;

typedef void (*fill_fn_)(const init_args_ *a, float *dst, size_t n);
/* The closed range [*lo, *hi] the fill function's values lie in: `quantize` spreads its
 * levels over it. */
typedef void (*range_fn_)(const init_args_ *a, double *lo, double *hi);

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

static void fill_constant_(const init_args_ *a, float *dst, size_t n) {
    for (size_t i = 0; i < n; ++i)
        dst[i] = a->opts->value;
}

/* Element i takes entry floor(u32 * count / 2^32) of the list (Lemire's multiply-shift:
 * every entry is hit with probability 1/count to within 2^-32). */
static void fill_choice_(const init_args_ *a, float *dst, size_t n) {
    const lp_float_list *l = &a->opts->values;
    for (size_t i = 0; i < n; ++i)
        dst[i] = l->n
                     ? l->v[((uint64_t)lp_random_u32(a->seed, i, a->stream) * (uint32_t)l->n) >> 32]
                     : 0.0f;
}

/* The ranges: [-limit, limit] for the uniform ones, the truncation at +-2 (corrected)
 * standard deviations for the normal ones, the values themselves for the others. */
static void symmetric_(double limit, double *lo, double *hi) {
    *lo = -limit;
    *hi = limit;
}

static void range_he_uniform_(const init_args_ *a, double *lo, double *hi) {
    symmetric_((float)sqrt(6.0 / a->fan_in), lo, hi);
}

static void range_glorot_uniform_(const init_args_ *a, double *lo, double *hi) {
    symmetric_((float)sqrt(6.0 / fan_sum_(a)), lo, hi);
}

static void range_he_normal_(const init_args_ *a, double *lo, double *hi) {
    symmetric_(2.0 * sqrt(2.0 / a->fan_in) / LP_TRUNC_STD_CORRECTION, lo, hi);
}

static void range_glorot_normal_(const init_args_ *a, double *lo, double *hi) {
    symmetric_(2.0 * sqrt(2.0 / fan_sum_(a)) / LP_TRUNC_STD_CORRECTION, lo, hi);
}

static void range_constant_(const init_args_ *a, double *lo, double *hi) {
    *lo = *hi = a->opts->value;
}

static void range_choice_(const init_args_ *a, double *lo, double *hi) {
    const lp_float_list *l = &a->opts->values;
    *lo = *hi = l->n ? l->v[0] : 0.0;
    for (int i = 1; i < l->n; ++i) {
        if (l->v[i] < *lo) *lo = l->v[i];
        if (l->v[i] > *hi) *hi = l->v[i];
    }
}

static void range_zeros_(const init_args_ *a, double *lo, double *hi) {
    (void)a;
    *lo = *hi = 0.0;
}

static void range_ones_(const init_args_ *a, double *lo, double *hi) {
    (void)a;
    *lo = *hi = 1.0;
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
    range_fn_ range;
} initializer_;

static const initializer_ initializers_[] = {
#define LP_INITIALIZER(id, name, use)                                                              \
    [LP_INIT_##id] = {#name, use, fill_##name##_, range_##name##_},
#include "laperm/initializers.def"
#undef LP_INITIALIZER
};
_Static_assert(sizeof initializers_ / sizeof *initializers_ == LP_INIT_KIND_COUNT,
               "one table entry per lp_init_kind");

/* Level j of `levels` over [lo, hi] is ((levels-1-j) lo + j hi) / (levels-1) in double:
 * the ends exactly, and for a symmetric range mirrored levels exactly opposite (0 itself
 * for an odd count). Each value goes to the nearest level (ties upwards). */
static void quantize_(float *dst, size_t n, double lo, double hi, int levels) {
    if (!(hi > lo)) return; /* one value: already on its only level */
    double steps = levels - 1;
    for (size_t i = 0; i < n; ++i) {
        double j = floor((dst[i] - lo) / (hi - lo) * steps + 0.5);
        j = j < 0 ? 0 : j > steps ? steps : j;
        dst[i] = (float)(((steps - j) * lo + j * hi) / steps);
    }
}

/* Keeps element i when lane i % 4 of the uniforms of block i / 4 on the mask's stream is
 * below `keep`; zeroes it otherwise. */
static void mask_(float *dst, size_t n, float keep, uint64_t seed, uint32_t stream) {
    for (size_t i = 0; i < n; i += 4) {
        float u[4];
        lp_uniform4(seed, i / 4, LP_STREAM_INIT_MASK + stream, 0, u);
        for (size_t j = 0; j < 4 && i + j < n; ++j)
            if (!(u[j] < keep)) dst[i + j] = 0.0f;
    }
}

void lp_init_fill_opts(lp_init_kind kind, const lp_init_opts *opts, float *dst, size_t n,
                       int fan_in, int fan_out, uint64_t seed, uint32_t stream) {
    static const lp_init_opts none = {0};
    init_args_ a = {.fan_in = fan_in,
                    .fan_out = fan_out,
                    .seed = seed,
                    .stream = stream,
                    .opts = opts ? opts : &none};
    if ((unsigned)kind >= LP_INIT_KIND_COUNT) return;
    initializers_[kind].fill(&a, dst, n);
    if (a.opts->quantize >= 2) {
        double lo, hi;
        initializers_[kind].range(&a, &lo, &hi);
        quantize_(dst, n, lo, hi, a.opts->quantize);
    }
    if (a.opts->keep > 0.0f && a.opts->keep < 1.0f) mask_(dst, n, a.opts->keep, seed, stream);
    /* One zero: the LaPerm sort orders -0 before +0, so a group holding both would sort
     * into two kinds of zero; no value but a zero changes. */
    for (size_t i = 0; i < n; ++i)
        if (dst[i] == 0.0f) dst[i] = 0.0f;
}

void lp_init_fill(lp_init_kind kind, float *dst, size_t n, int fan_in, int fan_out, uint64_t seed,
                  uint32_t stream) {
    lp_init_fill_opts(kind, NULL, dst, n, fan_in, fan_out, seed, stream);
}

void lp_init_shuffle_groups(float *x, int groups, int group_size, uint64_t seed, uint32_t stream) {
    for (int g = 0; g < groups; ++g) {
        float *v = x + (size_t)g * (size_t)group_size;
        for (uint32_t i = (uint32_t)group_size; i > 1; --i) {
            uint64_t counter = (uint64_t)(uint32_t)g << 32 | i;
            uint32_t j = (uint32_t)(((uint64_t)lp_random_u32(seed, counter, stream) * i) >> 32);
            float t = v[i - 1];
            v[i - 1] = v[j];
            v[j] = t;
        }
    }
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

lp_status lp_init_values_parse(const char *text, size_t n, lp_float_list *out) {
    lp_float_list l = {0};
    for (size_t at = 0;;) {
        const char *s = text + at, *comma = memchr(s, ',', n - at);
        size_t len = (size_t)((comma ? comma : text + n) - s);
        while (len && (*s == ' ' || *s == '\t'))
            s++, len--;
        while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
            len--;
        if (l.n == LP_INIT_VALUES_MAX)
            return lp_fail(LP_ERR_FORMAT, "expected at most %d values", LP_INIT_VALUES_MAX);
        char num[64];
        char *end = NULL;
        double x = 0.0;
        bool ok = len > 0 && len < sizeof num && strspn(s, "0123456789.eE+-") >= len;
        if (ok) {
            memcpy(num, s, len);
            num[len] = '\0';
            x = strtod(num, &end);
            ok = end == num + len && x >= -FLT_MAX && x <= FLT_MAX;
        }
        if (!ok)
            return lp_fail(LP_ERR_FORMAT,
                           "item %d is '%.*s': expected a comma-separated list of 1 to %d numbers "
                           "within +-%g, such as -0.05,0.05",
                           l.n + 1, (int)(len < 40 ? len : 40), s, LP_INIT_VALUES_MAX,
                           (double)FLT_MAX);
        l.v[l.n++] = (float)x + 0.0f; /* + 0.0f turns -0 into +0 */
        if (!comma) break;
        at = (size_t)(comma + 1 - text);
    }
    *out = l;
    return LP_OK;
}
