/* The portable-bits math functions of cl/portable_math.cl, compiled here as C (this
 * project builds with -ffp-contract=off, as the kernels are built in portable mode),
 * against libm in double: the ulp bounds the file states, over sweeps of every range and
 * at the odd inputs (zeros, denormals, infinities, NaN, the ends of exp's range). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "lp_test.h"

/* The OpenCL built-ins the file uses, for C. */
typedef uint32_t uint;
static uint as_uint(float x) {
    uint u;
    memcpy(&u, &x, sizeof u);
    return u;
}
static float as_float(uint u) {
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}
static int clamp(int x, int lo, int hi) {
    return x < lo ? lo : x > hi ? hi : x;
}
#define LP_PORTABLE_BITS 1
#define inline static inline
#include "../cl/portable_math.cl"
#undef inline

/* |got - want| in units of the last place of want rounded to float (at 2^-126 for
 * results below it: portable mode flushes those). */
static double ulps_(float got, double want) {
    float w = (float)want;
    int e;
    frexpf(fabsf(w) < 0x1p-126f ? 0x1p-126f : w, &e);
    return fabs((double)got - want) / ldexp(1.0, e - 24);
}

/* Every 97th float bit pattern from lo to hi (both positive or both negative), so that
 * a few hundred thousand inputs cover every binade. */
typedef double (*ref_fn_)(double);
static double sweep_(float (*fn)(float), ref_fn_ ref, float lo, float hi, double *worst_at) {
    double worst = 0;
    uint a = as_uint(lo), b = as_uint(hi);
    if (a > b) {
        uint t = a;
        a = b;
        b = t;
    }
    for (uint u = a; u <= b && u >= a; u += 97) {
        float x = as_float(u);
        double e = ulps_(fn(x), ref((double)x));
        if (e > worst) worst = e, *worst_at = x;
    }
    return worst;
}

static double rsqrt_(double x) {
    return 1.0 / sqrt(x);
}

static void test_exp(void) {
    double at = 0;
    CU_ASSERT(sweep_(lp_exp, exp, 0x1p-30f, 88.7f, &at) <= 2.0);
    CU_ASSERT(sweep_(lp_exp, exp, -0x1p-30f, -87.3f, &at) <= 2.0);
    CU_ASSERT_EQUAL(lp_exp(0.0f), 1.0f);
    CU_ASSERT_EQUAL(lp_exp(-0.0f), 1.0f);
    CU_ASSERT(isinf(lp_exp(89.0f)) && lp_exp(89.0f) > 0);
    CU_ASSERT(isinf(lp_exp(INFINITY)));
    CU_ASSERT_EQUAL(lp_exp(-INFINITY), 0.0f);
    CU_ASSERT(isnan(lp_exp(NAN)));
    CU_ASSERT(ulps_(lp_exp(88.72f), exp((double)88.72f)) <= 2.0); /* n = 128: the two-step scale */
    /* Underflow: below 2^-126 the result is flushed, never a denormal. */
    for (float x = -87.2f; x > -104.0f; x -= 0.01f) {
        float y = lp_exp(x);
        CU_ASSERT(y == 0.0f || y >= 0x1p-126f);
    }
}

static void test_log(void) {
    double at = 0;
    CU_ASSERT(sweep_(lp_log, log, 0x1p-126f, 3.0e38f, &at) <= 2.0);
    CU_ASSERT(sweep_(lp_log, log, 0.99f, 1.01f, &at) <= 2.0);
    CU_ASSERT_EQUAL(lp_log(1.0f), 0.0f);
    CU_ASSERT(isinf(lp_log(0.0f)) && lp_log(0.0f) < 0);
    CU_ASSERT(isinf(lp_log(0x1p-140f)) && lp_log(0x1p-140f) < 0); /* a denormal is 0 */
    CU_ASSERT(isnan(lp_log(-1.0f)));
    CU_ASSERT(isnan(lp_log(NAN)));
    CU_ASSERT(isinf(lp_log(INFINITY)) && lp_log(INFINITY) > 0);
}

static void test_sqrt(void) {
    double at = 0;
    CU_ASSERT(sweep_(lp_sqrt, sqrt, 0x1p-126f, 3.4e38f, &at) <= 2.0);
    CU_ASSERT(sweep_(lp_rsqrt, rsqrt_, 0x1p-126f, 3.4e38f, &at) <= 3.0);
    CU_ASSERT_EQUAL(lp_sqrt(4.0f), 2.0f);
    CU_ASSERT_EQUAL(as_uint(lp_sqrt(-0.0f)), as_uint(-0.0f));
    CU_ASSERT_EQUAL(lp_sqrt(0x1p-140f), 0.0f);
    CU_ASSERT(isnan(lp_sqrt(-1.0f)));
    CU_ASSERT(isinf(lp_sqrt(INFINITY)));
    CU_ASSERT(isinf(lp_rsqrt(0.0f)));
}

static void test_div(void) {
    /* Quotients over the whole exponent range, both signs. */
    double worst = 0;
    uint32_t s = 12345;
    for (int i = 0; i < 400000; ++i) {
        s = s * 1664525u + 1013904223u;
        uint32_t t = s * 22695477u + 1u;
        float a = as_float((s & 0x807fffffu) | ((1u + (s >> 8) % 253u) << 23));
        float b = as_float((t & 0x807fffffu) | ((1u + (t >> 9) % 253u) << 23));
        double want = (double)a / (double)b;
        if (fabs(want) >= 0x1p-126 && fabs(want) < 3.4e38) {
            double e = ulps_(lp_div(a, b), want);
            if (e > worst) worst = e;
        } else if (fabs(want) < 0x1p-127) {
            CU_ASSERT_EQUAL(lp_div(a, b), 0.0f); /* flushed */
        }
    }
    CU_ASSERT(worst <= 2.0);
    CU_ASSERT_EQUAL(lp_div(1.0f, 3.0f), 1.0f / 3.0f);
    CU_ASSERT_EQUAL(lp_div(6.0f, 3.0f), 2.0f);
    CU_ASSERT(isinf(lp_div(1.0f, 0.0f)) && lp_div(1.0f, 0.0f) > 0);
    CU_ASSERT(isinf(lp_div(-1.0f, 0.0f)) && lp_div(-1.0f, 0.0f) < 0);
    CU_ASSERT(isinf(lp_div(1.0f, 0x1p-140f))); /* a denormal divisor is 0 */
    CU_ASSERT(isnan(lp_div(0.0f, 0.0f)));
    CU_ASSERT(isnan(lp_div(INFINITY, INFINITY)));
    CU_ASSERT(isnan(lp_div(NAN, 1.0f)));
    CU_ASSERT_EQUAL(as_uint(lp_div(-0.0f, 2.0f)), as_uint(-0.0f));
    CU_ASSERT_EQUAL(lp_div(1.0f, INFINITY), 0.0f);
    CU_ASSERT(isinf(lp_div(3e38f, 1e-38f)));
    CU_ASSERT_EQUAL(lp_div(1e-38f, 3e38f), 0.0f);
}

static void test_tanh_sigmoid_ftz(void) {
    double worst_t = 0, worst_s = 0; /* relative, in units of 2^-24 */
    for (float x = -20.0f; x <= 20.0f; x += 0.000037f) {
        if (fabsf(x) < 0x1p-12f) continue; /* tanh x = x there, checked below */
        double t = tanh((double)x), s = 1.0 / (1.0 + exp(-(double)x));
        double et = fabs((double)lp_tanh(x) - t) / (fabs(t) * 0x1p-24);
        double es = fabs((double)lp_sigmoid(x) - s) / (s * 0x1p-24);
        if (et > worst_t) worst_t = et;
        if (es > worst_s) worst_s = es;
    }
    /* Measured 2.98 and 3.10; an absolute bound missed tanh's 7000 units near 0 once. */
    CU_ASSERT(worst_t <= 4.0);
    CU_ASSERT(worst_s <= 4.0);
    CU_ASSERT_EQUAL(lp_tanh(1e-5f), 1e-5f);
    CU_ASSERT_EQUAL(lp_tanh(-30.0f), -1.0f);
    CU_ASSERT_EQUAL(lp_sigmoid(-200.0f), 0.0f);
    CU_ASSERT_EQUAL(lp_sigmoid(200.0f), 1.0f);
    CU_ASSERT_EQUAL(as_uint(lp_ftz(0x1p-140f)), 0u);
    CU_ASSERT_EQUAL(as_uint(lp_ftz(-0x1p-140f)), 0x80000000u);
    CU_ASSERT_EQUAL(lp_ftz(0x1p-126f), 0x1p-126f);
    CU_ASSERT(isnan(lp_ftz(NAN)));
}

static void register_suites(void) {
    CU_pSuite s = CU_add_suite("portable-bits math (cl/portable_math.cl)", NULL, NULL);
    CU_add_test(s, "exp: 2 ulp, range ends, flushed underflow", test_exp);
    CU_add_test(s, "log: 2 ulp, zeros, denormals, negatives", test_log);
    CU_add_test(s, "sqrt 2 ulp, rsqrt 3 ulp", test_sqrt);
    CU_add_test(s, "division: 2 ulp over the exponent range, special operands", test_div);
    CU_add_test(s, "tanh, sigmoid 4 units of 2^-24 relative; flush to zero", test_tanh_sigmoid_ftz);
}

int main(void) {
    return lp_test_main("test_portable_math", register_suites);
}
