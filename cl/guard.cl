/* The divergence guard: one pass per training step over the step's loss sum, the
 * gradients and the updated weights. The first step to find a non-finite value claims
 * flag[0] (its step number); within that step the lowest (kind, element) code wins:
 * code = kind * 2^28 + element, kind 0 loss, 1 gradient, 2 weight. The host reads the
 * flag only where it waits for the device anyway. flag = {step, code}, code starting at
 * INT_MAX. */
inline void guard_report_(__global volatile int *flag, int step, int code) {
    int old = atomic_cmpxchg(&flag[0], 0, step);
    if (old == 0 || old == step) atomic_min(&flag[1], code);
}

__kernel void lp_guard_finite(__global const float *w, __global const float *g, int n,
                              __global const float *stats, int loss_at, int step,
                              __global volatile int *flag) {
    int i = get_global_id(0);
    if (i >= n) return;
    const int element = min(i, (1 << 28) - 1);
    if (i == 0 && !isfinite(stats[loss_at])) guard_report_(flag, step, 0);
    if (!isfinite(g[i])) guard_report_(flag, step, (1 << 28) + element);
    if (!isfinite(w[i])) guard_report_(flag, step, (2 << 28) + element);
}
