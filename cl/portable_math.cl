/* The float operations whose bits differ between OpenCL implementations, named once:
 * built first into every program (before common.cl). In fast mode (the default) they are the
 * device's own (exp, log, sqrt, rsqrt, division; denormals as the device keeps them;
 * the products' fma is tile.cl's LP_MULADD, a multiply and an add in portable mode).
 * With -DLP_PORTABLE_BITS=1 (`--bits portable`, host/runtime.c) every result is a
 * function of the inputs alone: contraction is off, so a*b+c is two correctly rounded
 * operations everywhere, and the functions below are built only from +, -, *,
 * comparisons and integer bit operations, which OpenCL requires to be correctly rounded
 * or exact (its exp, log, division and sqrt may be off by ulps, and differ per
 * implementation). Their accuracy, checked against libm by tests/test_portable_math.c:
 * lp_exp, lp_log 2 ulp, lp_div, lp_sqrt 2 ulp, lp_rsqrt 3 ulp, lp_tanh and lp_sigmoid
 * within 4 x 2^-24 of their value (relative).
 *
 * Denormals: some devices flush single-precision denormals (Mesa's llvmpipe), others
 * keep them (PoCL). Portable mode flushes them to a zero of the same sign (lp_ftz) in
 * these functions and wherever training stores a value (weights, gradients, optimizer
 * moments, activations, loss gradients), so stored state never differs. Inside one
 * expression intermediates are assumed normal: a product or sum below 2^-126 from
 * operands of training's magnitudes (weights near 0.01-1, gradients above 1e-20) needs
 * both tiny, and a denormal added to a normal number moves it only if that number is
 * itself within a factor 2^24 of 2^-126. The file also compiles as C (the test). */

#if defined(__OPENCL_C_VERSION__) && defined(LP_PORTABLE_BITS)
#pragma OPENCL FP_CONTRACT OFF
#endif

#ifdef LP_PORTABLE_BITS

/* x, or a zero of its sign when x is a denormal. */
inline float lp_ftz(float x) {
    uint u = as_uint(x);
    return (u & 0x7f800000u) == 0 ? as_float(u & 0x80000000u) : x;
}

/* 2^n for n in [-126, 127], exactly. */
inline float lp_pow2_(int n) {
    return as_float((uint)(n + 127) << 23);
}

/* The nearest integer to t, |t| < 2^22 (ties to even): adding and removing 1.5 * 2^23
 * leaves no fraction bits. Exact, as each step is correctly rounded. */
inline float lp_round_(float t) {
    return (t + 12582912.0f) - 12582912.0f;
}

/* Every function below is written without early returns: the special cases are
 * selected at the end, so compilers that vectorise across work-items (PoCL) keep the
 * loop vectorised (with branches Adam's update ran 30 times slower). The lanes of the
 * special cases run the main path on a harmless stand-in value. */

/* e^x: x = n ln2 + r, |r| <= ln2/2 (Cody-Waite with ln2 in two parts, n ln2_hi exact),
 * e^r by its Taylor polynomial to r^7 (truncation below 2^-27 relative), times 2^n.
 * Below -87.33 the result would be under 2^-126: 0. */
inline float lp_exp(float x) {
    float xs = x == x && x >= -88.0f && x <= 89.0f ? x : 0.0f; /* n stays in int range */
    float n = lp_round_(xs * 1.44269502162933349609375f);
    float r = (xs - n * 0.693145751953125f) - n * 1.428606765330187045037746429443359375e-6f;
    float p = 1.98412698412698412698e-4f;
    p = p * r + 1.38888888888888888889e-3f;
    p = p * r + 8.33333333333333333333e-3f;
    p = p * r + 4.16666666666666666667e-2f;
    p = p * r + 1.66666666666666666667e-1f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    int k = (int)n;
    /* 2^128 is not a float: two steps at the top. */
    float y = k > 127 ? p * 2.0f * lp_pow2_(k - 1) : p * lp_pow2_(k < -126 ? -126 : k);
    y = lp_ftz(y);
    y = x < -87.33654022216796875f ? 0.0f : y;
    y = x > 88.72283935546875f ? INFINITY : y;
    return x == x ? y : x;
}

/* m in [1, 2) of a positive normal x with x = m 2^e. */
inline float lp_mant_(float x, int *e) {
    uint u = as_uint(x);
    *e = (int)((u >> 23) & 0xffu) - 127;
    return as_float((u & 0x007fffffu) | 0x3f800000u);
}

/* 1/m for m in [1, 2): linear start 24/17 - 8/17 m (relative error <= 1/17), three
 * Newton steps r (2 - m r) square it to below 2^-27. */
inline float lp_rcp_mant_(float m) {
    float r = 1.4117647058823529f - 0.47058823529411764f * m;
    r = r * (2.0f - m * r);
    r = r * (2.0f - m * r);
    r = r * (2.0f - m * r);
    return r;
}

/* a / b. On mantissas: q = ma / mb from the reciprocal and one residual correction,
 * then scaled by 2^(ea - eb) in two exact steps (or to inf / 0). Denormal operands count
 * as zeros of their sign. The special cases come from the bit patterns (integer tests
 * only: with float ones PoCL left the function unvectorised, 20 times slower). */
inline float lp_div(float a, float b) {
    uint ua = as_uint(a), ub = as_uint(b);
    uint sign = (ua ^ ub) & 0x80000000u;
    uint aa = ua & 0x7fffffffu, ab = ub & 0x7fffffffu;
    int xa = (int)(aa >> 23), xb = (int)(ab >> 23);
    int za = xa == 0, zb = xb == 0; /* zero or denormal */
    int ia = aa == 0x7f800000u, ib = ab == 0x7f800000u;
    int nan_ = (aa > 0x7f800000u) | (ab > 0x7f800000u) | (za & zb) | (ia & ib);
    int zero_ = za | ib, inf_ = ia | zb;
    float ma = as_float((aa & 0x007fffffu) | 0x3f800000u);
    float mb = as_float((ab & 0x007fffffu) | 0x3f800000u);
    float r = lp_rcp_mant_(mb);
    float q = ma * r;
    q = q + (ma - q * mb) * r; /* q in (0.5, 2) */
    int d = xa - xb;
    int dc = clamp(d, -128, 128);
    int d1 = dc >> 1;
    q = q * lp_pow2_(d1) * lp_pow2_(dc - d1); /* one rounding at most: the second step */
    uint uq = as_uint(q);
    uq = ((uq & 0x7f800000u) == 0 ? 0u : uq) | sign; /* flushed */
    uq = (d > 128) | inf_ ? sign | 0x7f800000u : uq;
    uq = (d < -128) | zero_ ? sign : uq;
    return as_float(nan_ ? 0x7fc00000u : uq);
}

/* sqrt(x): x = m 4^h with m in [1, 4); 1/sqrt(m) from the bit-pattern start and three
 * Newton steps, sqrt(m) = m y with one residual correction, times 2^h. Negative: NaN;
 * denormal: a zero of its sign. */
inline float lp_sqrt(float x) {
    x = lp_ftz(x);
    bool special = x == 0.0f || x == INFINITY || !(x == x) || x < 0.0f;
    int e;
    float m = lp_mant_(special ? 1.0f : x, &e);
    int odd = e & 1;
    m = odd ? m * 2.0f : m;
    e -= odd;
    float y = as_float(0x5f3759dfu - (as_uint(m) >> 1));
    float hm = 0.5f * m;
    y = y * (1.5f - hm * y * y);
    y = y * (1.5f - hm * y * y);
    y = y * (1.5f - hm * y * y);
    float s = m * y;
    s = s + 0.5f * y * (m - s * s);
    s = s * lp_pow2_(e / 2);
    return special ? (x < 0.0f ? NAN : x) : s;
}

inline float lp_rsqrt(float x) {
    return lp_div(1.0f, lp_sqrt(x));
}

/* log(x): FreeBSD's logf (x = 2^k (1 + f), log(1 + f) = 2 atanh(s), s = f / (2 + f),
 * by its polynomial), with lp_div for the quotient. Denormals count as zeros: -inf. */
inline float lp_log(float x) {
    x = lp_ftz(x);
    bool special = !(x == x) || x <= 0.0f || x == INFINITY;
    const float ln2_hi = 6.9313812256e-01f, ln2_lo = 9.0580006145e-06f;
    const float lg1 = 0.66666662693f, lg2 = 0.40000972152f, lg3 = 0.28498786688f,
                lg4 = 0.24279078841f;
    int ix = (int)as_uint(special ? 1.0f : x);
    int k = (ix >> 23) - 127;
    ix &= 0x007fffff;
    int i = (ix + (0x95f64 << 3)) & 0x800000;
    float m = as_float((uint)(ix | (i ^ 0x3f800000))); /* normalises x or x/2 */
    k += i >> 23;
    float f = m - 1.0f;
    float dk = (float)k;
    /* -2^-9 <= f < 2^-9 */
    float rs = f * f * (0.5f - 0.33333333333333333f * f);
    float small = k == 0 ? f - rs : dk * ln2_hi - ((rs - dk * ln2_lo) - f);
    small = f == 0.0f ? (k == 0 ? 0.0f : dk * ln2_hi + dk * ln2_lo) : small;
    float s = lp_div(f, 2.0f + f);
    float z = s * s;
    float w = z * z;
    float t1 = w * (lg2 + w * lg4);
    float t2 = z * (lg1 + w * lg3);
    float rr = t2 + t1;
    int hi = (ix - (0x6147a << 3)) | ((0x6b851 << 3) - ix);
    float hfsq = 0.5f * f * f;
    float big_hi = k == 0 ? f - (hfsq - s * (hfsq + rr))
                          : dk * ln2_hi - ((hfsq - (s * (hfsq + rr) + dk * ln2_lo)) - f);
    float big_lo = k == 0 ? f - s * (f - rr) : dk * ln2_hi - ((s * (f - rr) - dk * ln2_lo) - f);
    float y = (0x007fffff & (0x8000 + ix)) < 0xc000 ? small : hi > 0 ? big_hi : big_lo;
    y = x == 0.0f ? -INFINITY : y;
    y = x < 0.0f ? NAN : y;
    return special && !(x <= 0.0f) ? x : y; /* NaN and +inf themselves */
}

/* 1 / (1 + e^-x). */
inline float lp_sigmoid(float x) {
    return lp_div(1.0f, 1.0f + lp_exp(-x));
}

/* tanh x = sign(x) (1 - 2 / (e^(2|x|) + 1)) from |x| = 0.5, where the subtraction loses
 * under 1.2x of its operands' error; below, its Taylor series to x^17 (the next term is
 * under 5e-10 of tanh x at 0.5), which keeps small x relative-accurate where 1 - 2/(...)
 * cancels; x itself below 2^-12, where tanh x = x in float. */
inline float lp_tanh(float x) {
    float ax = fabs(x);
    float t = 1.0f - lp_div(2.0f, lp_exp(2.0f * ax) + 1.0f);
    t = ax > 9.0f ? 1.0f : t;
    t = x < 0.0f ? -t : t;
    float x2 = x * x;
    float p = 5.900274409e-4f;    /* 6404582/10854718875 */
    p = p * x2 - 1.455834387e-3f; /* 929569/638512875 */
    p = p * x2 + 3.592128037e-3f; /* 21844/6081075 */
    p = p * x2 - 8.863235530e-3f; /* 1382/155925 */
    p = p * x2 + 2.186948854e-2f; /* 62/2835 */
    p = p * x2 - 5.396825397e-2f; /* 17/315 */
    p = p * x2 + 1.333333333e-1f; /* 2/15 */
    p = p * x2 - 3.333333333e-1f; /* 1/3 */
    float series = x + x * (x2 * p);
    t = ax < 0.5f ? series : t;
    t = ax < 2.44140625e-4f ? lp_ftz(x) : t;
    return ax == ax ? t : x;
}

/* lp_ftz on vectors, for the kernels that store them. */
#ifdef __OPENCL_C_VERSION__
#define LP_FTZ_VEC_(n)                                                                             \
    inline float##n lp_ftz##n(float##n x) {                                                        \
        uint##n u = as_uint##n(x);                                                                 \
        return as_float##n(select(u, u & 0x80000000u, (u & 0x7f800000u) == 0));                    \
    }
LP_FTZ_VEC_(4)
LP_FTZ_VEC_(8)
LP_FTZ_VEC_(16)
#endif

#define LP_EXP lp_exp
#define LP_LOG lp_log
#define LP_DIV lp_div
#define LP_SQRT lp_sqrt
#define LP_RSQRT lp_rsqrt
#define LP_TANH lp_tanh
#define LP_SIGMOID lp_sigmoid
#define LP_FTZ lp_ftz
#define LP_FTZ4 lp_ftz4
#define LP_FTZ8 lp_ftz8
#define LP_FTZ16 lp_ftz16

#else /* fast: the device's own, exactly the code laperm had before portable mode */

#define LP_EXP exp
#define LP_LOG log
#define LP_DIV(a, b) ((a) / (b))
#define LP_SQRT sqrt
#define LP_RSQRT rsqrt
#define LP_TANH tanh
#define LP_SIGMOID(x) (1.0f / (1.0f + exp(-(x))))
#define LP_FTZ(x) (x)
#define LP_FTZ4(x) (x)
#define LP_FTZ8(x) (x)
#define LP_FTZ16(x) (x)

#endif
