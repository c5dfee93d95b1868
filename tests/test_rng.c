/* Philox against the published known-answer vectors, the samplers' statistics, the
 * initializers' bounds and golden bits (the cross-machine promise), shuffles and
 * learning-rate schedules. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "laperm/init.h"
#include "laperm/rng.h"
#include "laperm/schedule.h"
#include "lp_test.h"
#include "reference.h"

/* Random123's known-answer tests for philox4x32_10 (kat_vectors). */
static void test_philox_kat(void) {
    const lp_ref_philox_kat *kat = lp_ref_philox_kats;
    for (size_t i = 0; i < LP_REF_PHILOX_KATS; ++i) {
        lp_philox_ctr c = {{kat[i].ctr[0], kat[i].ctr[1], kat[i].ctr[2], kat[i].ctr[3]}};
        lp_philox_ctr r = lp_philox4x32(c, kat[i].key);
        for (int j = 0; j < 4; ++j)
            CU_ASSERT_EQUAL(r.v[j], kat[i].want[j]);
    }
}

static void test_uniform_and_normal_statistics(void) {
    enum { N = 200000 };
    double sum = 0, sum2 = 0, nsum = 0, nsum2 = 0, tmax = 0;
    for (uint64_t i = 0; i < N / 4; ++i) {
        float u[4];
        lp_uniform4(42, i, 3, 0, u);
        for (int j = 0; j < 4; ++j) {
            CU_ASSERT(u[j] >= 0.0f && u[j] < 1.0f);
            sum += u[j];
            sum2 += (double)u[j] * u[j];
        }
    }
    for (uint64_t i = 0; i < N; ++i) {
        double z = lp_normal(42, i, 5, 0.0f), t = lp_normal(42, i, 6, 2.0f);
        nsum += z;
        nsum2 += z * z;
        if (fabs(t) > tmax) tmax = fabs(t);
    }
    CU_ASSERT_DOUBLE_EQUAL(sum / N, 0.5, 0.005);
    CU_ASSERT_DOUBLE_EQUAL(sum2 / N - (sum / N) * (sum / N), 1.0 / 12, 0.002);
    CU_ASSERT_DOUBLE_EQUAL(nsum / N, 0.0, 0.01);
    CU_ASSERT_DOUBLE_EQUAL(nsum2 / N, 1.0, 0.015);
    CU_ASSERT(tmax <= 2.0);
    CU_ASSERT(tmax > 1.9);
}

static void test_portable_log(void) {
    const double xs[] = {1e-300, 1e-30,     1e-7, 0.3,     0.5, 0.70710678, 0.9999999,
                         1.0,    1.0000001, 2.0,  3.14159, 1e7, 1e300};
    for (size_t i = 0; i < sizeof xs / sizeof *xs; ++i) {
        double want = log(xs[i]), got = lp_portable_log(xs[i]);
        CU_ASSERT(fabs(got - want) <= 4e-16 * (fabs(want) > 1 ? fabs(want) : 1));
    }
}

/* The initial weights are a promise across machines: these bits must never change
 * for (he_uniform, fan_in 784, seed 1, stream 0) and (he_normal, fan_in 300, seed 1,
 * stream 2). A change here changes every published run's starting point. */
static void test_initializer_golden_bits(void) {
    float w[8];
    lp_init_fill(LP_INIT_HE_UNIFORM, w, 8, 784, 300, 1, 0);
    float limit = (float)sqrt(6.0 / 784);
    for (int i = 0; i < 8; ++i)
        CU_ASSERT(w[i] >= -limit && w[i] < limit);
    /* Recompute element 5 from its definition: lane 1 of counter block 1. */
    float u[4];
    lp_uniform4(1, 1, 0, 0, u);
    CU_ASSERT(w[5] == (2.0f * u[1] - 1.0f) * limit);
    /* Golden values, printed once by this very code and frozen in host/reference_golden.c
     * (laperm check compares with them too). */
    const uint32_t *golden_uniform = lp_ref_he_uniform_bits;
    for (int i = 0; i < 4; ++i) {
        uint32_t bits;
        memcpy(&bits, &w[i], 4);
        if (bits != golden_uniform[i]) printf("\n  he_uniform[%d] bits 0x%08x\n", i, bits);
        CU_ASSERT_EQUAL(bits, golden_uniform[i]);
    }
    float n[4];
    lp_init_fill(LP_INIT_HE_NORMAL, n, 4, 300, 100, 1, 2);
    const uint32_t *golden_normal = lp_ref_he_normal_bits;
    for (int i = 0; i < 4; ++i) {
        uint32_t bits;
        memcpy(&bits, &n[i], 4);
        if (bits != golden_normal[i]) printf("\n  he_normal[%d] bits 0x%08x\n", i, bits);
        CU_ASSERT_EQUAL(bits, golden_normal[i]);
    }
}

static void test_initializer_statistics(void) {
    enum { N = 100000 };
    float *w = malloc(N * sizeof *w);
    CU_ASSERT_FATAL(w != NULL);
    struct {
        lp_init_kind kind;
        int fan_in, fan_out;
        double want_var;
        double bound;
    } cases[] = {
        {LP_INIT_HE_UNIFORM, 784, 300, 2.0 / 784, sqrt(6.0 / 784)},
        {LP_INIT_GLOROT_UNIFORM, 784, 300, 2.0 / 1084, sqrt(6.0 / 1084)},
        {LP_INIT_HE_NORMAL, 784, 300, 2.0 / 784, 2 * sqrt(2.0 / 784) / 0.87962566},
        {LP_INIT_GLOROT_NORMAL, 784, 300, 2.0 / 1084, 2 * sqrt(2.0 / 1084) / 0.87962566},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; ++c) {
        lp_init_fill(cases[c].kind, w, N, cases[c].fan_in, cases[c].fan_out, 9, 1);
        double s = 0, s2 = 0, mx = 0;
        for (int i = 0; i < N; ++i) {
            s += w[i];
            s2 += (double)w[i] * w[i];
            if (fabs(w[i]) > mx) mx = fabs(w[i]);
        }
        double var = s2 / N - (s / N) * (s / N);
        CU_ASSERT(fabs(var / cases[c].want_var - 1.0) < 0.03);
        CU_ASSERT(mx <= cases[c].bound * (1 + 1e-6));
    }
    lp_init_fill(LP_INIT_ZEROS, w, N, 1, 1, 9, 1);
    for (int i = 0; i < N; ++i)
        CU_ASSERT_EQUAL_FATAL(w[i], 0.0f);
    free(w);
}

static void test_shuffle(void) {
    enum { N = 1000 };
    uint32_t a[N], b[N], c[N];
    lp_shuffle_indices(a, N, 7, 100);
    lp_shuffle_indices(b, N, 7, 100);
    lp_shuffle_indices(c, N, 7, 101);
    CU_ASSERT(memcmp(a, b, sizeof a) == 0);
    CU_ASSERT(memcmp(a, c, sizeof a) != 0);
    int seen[N] = {0}, fixed = 0;
    for (int i = 0; i < N; ++i) {
        CU_ASSERT_FATAL(a[i] < N);
        seen[a[i]]++;
        fixed += a[i] == (uint32_t)i;
    }
    for (int i = 0; i < N; ++i)
        CU_ASSERT_EQUAL(seen[i], 1);
    CU_ASSERT(fixed < 10); /* a shuffle, not the identity */
    uint32_t one;
    lp_shuffle_indices(&one, 1, 7, 0);
    CU_ASSERT_EQUAL(one, 0);
}

static void test_lr_schedules(void) {
    lp_lr_schedule s = {.kind = LP_LR_CONSTANT, .base = 1e-3};
    CU_ASSERT_DOUBLE_EQUAL(lp_lr_at(&s, 7), 1e-3, 1e-15);
    s.kind = LP_LR_EXPONENTIAL;
    s.decay = 0.95;
    CU_ASSERT_DOUBLE_EQUAL(lp_lr_at(&s, 0), 1e-3, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(lp_lr_at(&s, 9), 1e-3 * pow(0.95, 9), 1e-15);
    CU_ASSERT_EQUAL(lp_lr_parse_steps("80:0.1,120:0.01,160:1e-3,180:5e-4", &s), LP_OK);
    CU_ASSERT_DOUBLE_EQUAL(lp_lr_at(&s, 79), 1e-3, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(lp_lr_at(&s, 80), 1e-4, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(lp_lr_at(&s, 150), 1e-5, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(lp_lr_at(&s, 199), 5e-7, 1e-18);
    CU_ASSERT_EQUAL(lp_lr_parse_steps("80:0.1,80:0.01", &s), LP_ERR_INVALID_ARG);
    CU_ASSERT_STRING_EQUAL(lp_last_error(),
                           "--lr-steps '80:0.1,80:0.01': epochs must be ascending");
    CU_ASSERT_EQUAL(lp_lr_parse_steps("80", &s), LP_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(lp_lr_parse_steps("80:-1", &s), LP_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(lp_lr_parse_steps("", &s), LP_ERR_INVALID_ARG);
}

static void register_suites(void) {
    CU_pSuite s = CU_add_suite("rng, initializers, schedules", NULL, NULL);
    CU_add_test(s, "Philox4x32-10 known answers", test_philox_kat);
    CU_add_test(s, "uniform and normal statistics", test_uniform_and_normal_statistics);
    CU_add_test(s, "libm-free logarithm", test_portable_log);
    CU_add_test(s, "initializer golden bits", test_initializer_golden_bits);
    CU_add_test(s, "initializer variances and bounds", test_initializer_statistics);
    CU_add_test(s, "seeded shuffles", test_shuffle);
    CU_add_test(s, "learning-rate schedules", test_lr_schedules);
}

int main(void) {
    return lp_test_main("test_rng", register_suites);
}
