/* The divergence guard: one pass per training step over the step's loss sum, the
 * gradients and the updated weights. The first step to find a non-finite value claims
 * flag[0] (its step number); within that step the lowest (kind, element) code wins:
 * code = kind * 2^28 + element, kind 0 loss, 1 gradient, 2 weight. The host reads the
 * flag only where it waits for the device anyway. flag = {step, code}, code starting at
 * INT_MAX.
 *
 * Finite means an exponent field that is not all ones, tested on the bits: a float test
 * such as x * 0 != 0 is folded to false by compilers that assume finite values (Mesa's
 * Rusticl rewrites x * 0.0 as 0.0, and there the guard never fired), an integer test
 * cannot be. Fast path without branches: one vector test of 16 gradients and 16 weights;
 * only a work-item that fails it looks at which. */
#define GUARD_EXP_ 0x7F800000u
inline bool finite_bits_(float x) {
    return (as_uint(x) & GUARD_EXP_) != GUARD_EXP_;
}

inline void guard_report_(__global volatile int *flag, int step, int code) {
    int old = atomic_cmpxchg(&flag[0], 0, step);
    if (old == 0 || old == step) atomic_min(&flag[1], code);
}

/* Work-item i checks elements [16i, 16i + 16): a vector test, then the slow look. */
__kernel void lp_guard_finite(__global const float *w, __global const float *g, int n,
                              __global const float *stats, int loss_at, int step,
                              __global volatile int *flag) {
    const int i = get_global_id(0), first = 16 * i;
    if (first >= n) return;
    bool bad = i == 0 && !finite_bits_(stats[loss_at]);
    if (first + 16 <= n) {
        const uint16 e = (uint16)GUARD_EXP_;
        const int16 inf_g = (as_uint16(vload16(i, g)) & e) == e;
        const int16 inf_w = (as_uint16(vload16(i, w)) & e) == e;
        bad = bad || any(inf_g | inf_w);
    } else {
        for (int j = first; j < n; ++j)
            bad = bad || !finite_bits_(g[j]) || !finite_bits_(w[j]);
    }
    if (!bad) return;
    if (i == 0 && !finite_bits_(stats[loss_at])) guard_report_(flag, step, 0);
    for (int j = first; j < n && j < first + 16; ++j) {
        const int element = min(j, (1 << 28) - 1);
        if (!finite_bits_(g[j])) guard_report_(flag, step, (1 << 28) + element);
        if (!finite_bits_(w[j])) guard_report_(flag, step, (2 << 28) + element);
    }
}
