/* [activation] (host/layer_activation.c): y = f(x) one work-item per value, and
 * dx = dy * f'(x) written through the output y, so the backward pass reads only the
 * layer's own buffers. The host compiles one program per function, passing
 * -DLP_ACTIVATION_FN=<n> and the function numbers -DLP_FN_RELU=<n>, ... from its table, so
 * the two sides cannot disagree on them. Identity never gets here: it is a view. */

inline float lp_act_(float x) {
#if LP_ACTIVATION_FN == LP_FN_RELU
    return fmax(x, 0.0f);
#elif LP_ACTIVATION_FN == LP_FN_TANH
    return LP_TANH(x);
#elif LP_ACTIVATION_FN == LP_FN_SIGMOID
    return LP_SIGMOID(x);
#else
#error "unknown LP_ACTIVATION_FN"
#endif
}

/* f'(x) from y = f(x): relu (y > 0), tanh 1 - y^2, sigmoid y (1 - y). */
inline float lp_act_slope_(float y) {
#if LP_ACTIVATION_FN == LP_FN_RELU
    return y > 0.0f ? 1.0f : 0.0f;
#elif LP_ACTIVATION_FN == LP_FN_TANH
    return 1.0f - y * y;
#elif LP_ACTIVATION_FN == LP_FN_SIGMOID
    return y * (1.0f - y);
#endif
}

__kernel void lp_activation_forward(__global const float *x, __global float *y, int total) {
    int i = get_global_id(0);
    if (i >= total) return;
    y[i] = LP_FTZ(lp_act_(x[i]));
}

__kernel void lp_activation_backward(__global const float *dy, __global const float *y,
                                     __global float *dx, int total) {
    int i = get_global_id(0);
    if (i >= total) return;
    dx[i] = LP_FTZ(dy[i] * lp_act_slope_(y[i]));
}
