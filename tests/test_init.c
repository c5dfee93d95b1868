/* The initial-value options against plain-C references on odd sizes: Bernoulli masks
 * (kept fraction within a binomial bound, masked weights exactly +0.0, the mask its own
 * stream), constant and choice initializers, quantisation to exactly N levels, no -0.0
 * anywhere, the per-group shuffle of --init-from-shuffle, and the list parser. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "laperm/init.h"
#include "laperm/rng.h"
#include "lp_test.h"

static const size_t sizes_[] = {1, 7, 1001, 100003};
#define N_SIZES_ (sizeof sizes_ / sizeof sizes_[0])

static uint32_t bits_(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static bool no_negative_zero_(const float *w, size_t n) {
    for (size_t i = 0; i < n; ++i)
        if (bits_(w[i]) == 0x80000000u) return false;
    return true;
}

/* |count - n p| within 5 standard deviations (and one for rounding). */
static bool binomial_ok_(size_t count, size_t n, double p) {
    double sd = sqrt((double)n * p * (1.0 - p));
    return fabs((double)count - (double)n * p) <= 5.0 * sd + 1.0;
}

/* The mask's rule written out: kept when the mask stream's uniform is below keep. */
static bool kept_ref_(size_t i, float keep, uint64_t seed, uint32_t stream) {
    float u[4];
    lp_uniform4(seed, i / 4, LP_STREAM_INIT_MASK + stream, 0, u);
    return u[i % 4] < keep;
}

static void test_mask(void) {
    const float keeps[] = {0.1f, (float)(4.0 / 7.0), 0.9f};
    for (size_t s = 0; s < N_SIZES_; ++s)
        for (size_t k = 0; k < 3; ++k) {
            size_t n = sizes_[s];
            float *plain = malloc(n * 4), *masked = malloc(n * 4), *other = malloc(n * 4);
            CU_ASSERT_FATAL(plain && masked && other);
            lp_init_opts o = {.keep = keeps[k]};
            lp_init_fill(LP_INIT_HE_UNIFORM, plain, n, 9, 4, 5, 3);
            lp_init_fill_opts(LP_INIT_HE_UNIFORM, &o, masked, n, 9, 4, 5, 3);
            lp_init_fill_opts(LP_INIT_GLOROT_NORMAL, &o, other, n, 9, 4, 5, 3);
            size_t kept = 0, bad = 0;
            for (size_t i = 0; i < n; ++i) {
                bool want = kept_ref_(i, keeps[k], 5, 3);
                kept += want;
                /* kept: the unmasked bits; masked: +0.0 exactly; the same positions for
                 * another initializer (the mask has its own stream) */
                if (want ? bits_(masked[i]) != bits_(plain[i]) : bits_(masked[i]) != 0u) bad++;
                if (!want && bits_(other[i]) != 0u) bad++;
                if (want && other[i] == 0.0f && plain[i] != 0.0f) bad++;
            }
            CU_ASSERT_EQUAL(bad, 0);
            CU_ASSERT(binomial_ok_(kept, n, keeps[k]));
            CU_ASSERT(no_negative_zero_(masked, n));
            free(plain);
            free(masked);
            free(other);
        }
    /* keep = 1 and no options are the plain initializer, bit for bit */
    float a[1001], b[1001];
    lp_init_opts one = {.keep = 1.0f};
    lp_init_fill(LP_INIT_HE_NORMAL, a, 1001, 30, 7, 2, 1);
    lp_init_fill_opts(LP_INIT_HE_NORMAL, &one, b, 1001, 30, 7, 2, 1);
    CU_ASSERT(memcmp(a, b, sizeof a) == 0);
    lp_init_fill_opts(LP_INIT_HE_NORMAL, NULL, b, 1001, 30, 7, 2, 1);
    CU_ASSERT(memcmp(a, b, sizeof a) == 0);
}

static void test_constant(void) {
    for (size_t s = 0; s < N_SIZES_; ++s) {
        size_t n = sizes_[s], kept = 0, bad = 0;
        float *w = malloc(n * 4);
        CU_ASSERT_FATAL(w != NULL);
        lp_init_opts o = {.value = -0.08f, .keep = 1.0f / 15.0f};
        lp_init_fill_opts(LP_INIT_CONSTANT, &o, w, n, 784, 128, 1, 0);
        for (size_t i = 0; i < n; ++i) {
            bool want = kept_ref_(i, o.keep, 1, 0);
            kept += want;
            if (bits_(w[i]) != (want ? bits_(-0.08f) : 0u)) bad++;
        }
        CU_ASSERT_EQUAL(bad, 0);
        CU_ASSERT(binomial_ok_(kept, n, 1.0 / 15.0));
        /* quantize leaves a one-value range alone */
        o.keep = 0.0f;
        o.quantize = 3;
        lp_init_fill_opts(LP_INIT_CONSTANT, &o, w, n, 784, 128, 1, 0);
        for (size_t i = 0; i < n; ++i)
            bad += bits_(w[i]) != bits_(-0.08f);
        CU_ASSERT_EQUAL(bad, 0);
        free(w);
    }
}

static void test_choice(void) {
    const lp_float_list lists[] = {{2, {0.0f, 1.0f}}, {2, {-0.05f, 0.05f}}, {3, {-1, -0.0f, 1}}};
    for (size_t s = 0; s < N_SIZES_; ++s)
        for (size_t l = 0; l < 3; ++l) {
            size_t n = sizes_[s], count[3] = {0}, bad = 0;
            float *w = malloc(n * 4);
            CU_ASSERT_FATAL(w != NULL);
            lp_init_opts o = {.values = lists[l]};
            lp_init_fill_opts(LP_INIT_CHOICE, &o, w, n, 9, 9, 11, 2);
            for (size_t i = 0; i < n; ++i) {
                uint32_t r = lp_random_u32(11, i, 2);
                int j = (int)(((uint64_t)r * (uint32_t)lists[l].n) >> 32);
                count[j]++;
                float want = lists[l].v[j] == 0.0f ? 0.0f : lists[l].v[j];
                if (bits_(w[i]) != bits_(want)) bad++;
            }
            CU_ASSERT_EQUAL(bad, 0);
            CU_ASSERT(no_negative_zero_(w, n));
            for (int j = 0; j < lists[l].n; ++j)
                CU_ASSERT(binomial_ok_(count[j], n, 1.0 / lists[l].n));
            free(w);
        }
}

/* Distinct values of w, sorted, into out (room for n); returns how many. */
static int distinct_(const float *w, size_t n, float *out) {
    memcpy(out, w, n * 4);
    size_t m = 0;
    for (size_t i = 0; i < n; ++i) {
        size_t j = 0;
        while (j < m && bits_(out[j]) != bits_(w[i]))
            j++;
        if (j == m) {
            if (m > 64) return (int)m + 1; /* far too many: not quantised */
            out[m++] = w[i];
        }
    }
    return (int)m;
}

static void test_quantize(void) {
    const int levels[] = {2, 3, 4, 16};
    const lp_init_kind kinds[] = {LP_INIT_HE_UNIFORM, LP_INIT_GLOROT_UNIFORM, LP_INIT_HE_NORMAL,
                                  LP_INIT_GLOROT_NORMAL};
    const size_t n = 100003;
    float *w = malloc(n * 4), *d = malloc(n * 4);
    CU_ASSERT_FATAL(w && d);
    for (int k = 0; k < 4; ++k)
        for (int q = 0; q < 4; ++q) {
            int N = levels[q];
            lp_init_opts o = {.quantize = N};
            lp_init_fill_opts(kinds[k], &o, w, n, 25, 12, 4, 1);
            /* the ranges init.h states */
            bool uniform = kinds[k] == LP_INIT_HE_UNIFORM || kinds[k] == LP_INIT_GLOROT_UNIFORM;
            double fan = kinds[k] == LP_INIT_HE_UNIFORM || kinds[k] == LP_INIT_HE_NORMAL ? 25 : 37;
            double hi =
                uniform ? (float)sqrt(6.0 / fan) : 2.0 * sqrt(2.0 / fan) / 0.87962566103423978;
            int m = distinct_(w, n, d);
            CU_ASSERT_EQUAL(m, N);
            size_t bad = 0;
            for (int i = 0; i < m; ++i) {
                /* each value is a level ((N-1-j) lo + j hi) / (N-1), lo = -hi */
                double j = floor((d[i] + hi) / (2 * hi) * (N - 1) + 0.5);
                float level = (float)(((N - 1 - j) * -hi + j * hi) / (N - 1));
                if (bits_(level) != bits_(d[i])) bad++;
            }
            CU_ASSERT_EQUAL(bad, 0);
            CU_ASSERT(no_negative_zero_(w, n));
            if (N % 2) { /* an odd count has 0 in the middle */
                bool zero = false;
                for (int i = 0; i < m; ++i)
                    zero = zero || bits_(d[i]) == 0u;
                CU_ASSERT(zero);
            }
            /* quantized, then masked: the levels and +0 */
            o.keep = 0.5f;
            lp_init_fill_opts(kinds[k], &o, w, n, 25, 12, 4, 1);
            m = distinct_(w, n, d);
            CU_ASSERT(m == N + 1 || (m == N && N % 2));
            CU_ASSERT(no_negative_zero_(w, n));
        }
    /* a list's range is its least to its largest value */
    lp_init_opts o = {.values = {3, {0.0f, 0.3f, 1.0f}}, .quantize = 2};
    lp_init_fill_opts(LP_INIT_CHOICE, &o, w, 1001, 1, 1, 8, 0);
    size_t bad = 0;
    for (size_t i = 0; i < 1001; ++i)
        bad += !(w[i] == 0.0f || w[i] == 1.0f);
    CU_ASSERT_EQUAL(bad, 0);
    free(w);
    free(d);
}

static int cmp_float_(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static void test_shuffle_groups(void) {
    const int shapes[][2] = {{1, 1}, {3, 1}, {7, 13}, {5, 1001}};
    for (int s = 0; s < 4; ++s) {
        int groups = shapes[s][0], gs = shapes[s][1];
        size_t n = (size_t)groups * gs;
        float *x = malloc(n * 4), *y = malloc(n * 4), *z = malloc(n * 4);
        CU_ASSERT_FATAL(x && y && z);
        for (size_t i = 0; i < n; ++i)
            x[i] = (float)(i % (size_t)gs); /* every group 0..gs-1 */
        memcpy(y, x, n * 4);
        memcpy(z, x, n * 4);
        lp_init_shuffle_groups(y, groups, gs, 9, LP_STREAM_INIT_SHUFFLE);
        lp_init_shuffle_groups(z, groups, gs, 9, LP_STREAM_INIT_SHUFFLE);
        CU_ASSERT(memcmp(y, z, n * 4) == 0); /* from the seed alone */
        int moved = 0, same_as_first = 0;
        for (int g = 0; g < groups; ++g) {
            float *row = z + (size_t)g * gs;
            moved += memcmp(y + (size_t)g * gs, x + (size_t)g * gs, (size_t)gs * 4) != 0;
            if (g) same_as_first += memcmp(y + (size_t)g * gs, y, (size_t)gs * 4) == 0;
            qsort(row, (size_t)gs, 4, cmp_float_);
        }
        CU_ASSERT(memcmp(z, x, n * 4) == 0); /* each group a permutation of itself */
        if (gs > 100) {
            CU_ASSERT_EQUAL(moved, groups);
            CU_ASSERT_EQUAL(same_as_first, 0); /* groups are shuffled independently */
        }
        free(x);
        free(y);
        free(z);
    }
}

static void test_values_parse(void) {
    lp_float_list l;
    CU_ASSERT_EQUAL(lp_init_values_parse("0,1", 3, &l), LP_OK);
    CU_ASSERT(l.n == 2 && l.v[0] == 0.0f && l.v[1] == 1.0f);
    const char *spaced = " -0.05 , 5e-2,-0";
    CU_ASSERT_EQUAL(lp_init_values_parse(spaced, strlen(spaced), &l), LP_OK);
    CU_ASSERT(l.n == 3 && l.v[0] == -0.05f && l.v[1] == 0.05f && bits_(l.v[2]) == 0u);
    const char *bad[] = {"",     ",",    "1,",
                         "a",    "0x10", "inf",
                         "1e39", "1 2",  "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i)
        CU_ASSERT_EQUAL(lp_init_values_parse(bad[i], strlen(bad[i]), &l), LP_ERR_FORMAT);
    const char *sixteen = "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16";
    CU_ASSERT_EQUAL(lp_init_values_parse(sixteen, strlen(sixteen), &l), LP_OK);
    CU_ASSERT_EQUAL(l.n, 16);
    CU_ASSERT_STRING_EQUAL(lp_init_values_parse("0,x", 3, &l) == LP_ERR_FORMAT ? lp_last_error()
                                                                               : "",
                           "item 2 is 'x': expected a comma-separated list of 1 to 16 numbers "
                           "within +-3.40282e+38, such as -0.05,0.05");
}

static void register_suites(void) {
    CU_pSuite s = CU_add_suite("initial values: masks, constant, choice, quantize", NULL, NULL);
    CU_add_test(s, "Bernoulli masks", test_mask);
    CU_add_test(s, "constant", test_constant);
    CU_add_test(s, "choice", test_choice);
    CU_add_test(s, "quantize", test_quantize);
    CU_add_test(s, "per-group shuffle", test_shuffle_groups);
    CU_add_test(s, "value lists", test_values_parse);
}

int main(void) {
    return lp_test_main("test_init", register_suites);
}
