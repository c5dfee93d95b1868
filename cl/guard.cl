/* The divergence guard: one pass per training step over the step's loss sum, the
 * gradients and the updated weights. The first step to find a non-finite value claims
 * flag[0] (its step number); within that step the lowest (kind, element) code wins:
 * code = kind * 2^28 + element, kind 0 loss, 1 gradient, 2 weight. The host reads the
 * flag only where it waits for the device anyway. flag = {step, code}, code starting at
 * INT_MAX.
 *
 * Fast path without branches: x * 0 is 0 for every finite x and NaN for an infinity or
 * a NaN (IEEE 754; no fast-math option is ever given), so one vector comparison of
 * g * 0 + w * 0 with 0 tells whether 16 of each are finite; only a work-item that fails
 * it looks at which. */
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
    bool bad = i == 0 && stats[loss_at] * 0.0f != 0.0f;
    if (first + 16 <= n) {
        const float16 v = vload16(i, g) * 0.0f + vload16(i, w) * 0.0f;
        bad = bad || any(isnotequal(v, (float16)0.0f));
    } else {
        for (int j = first; j < n; ++j)
            bad = bad || g[j] * 0.0f + w[j] * 0.0f != 0.0f;
    }
    if (!bad) return;
    if (i == 0 && !isfinite(stats[loss_at])) guard_report_(flag, step, 0);
    for (int j = first; j < n && j < first + 16; ++j) {
        const int element = min(j, (1 << 28) - 1);
        if (!isfinite(g[j])) guard_report_(flag, step, (1 << 28) + element);
        if (!isfinite(w[j])) guard_report_(flag, step, (2 << 28) + element);
    }
}
