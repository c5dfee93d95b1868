/* Inner optimizers, each one pass over the whole flat parameter buffer. */

/* Keras-style Adam: m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 * w -= lr_t m / (sqrt(v) + eps), with lr_t = lr sqrt(1-b2^t)/(1-b1^t) from the host. */
__kernel void lp_adam_update(__global float *w, __global const float *g, __global float *m,
                             __global float *v, int n, float lr_t, float beta1, float beta2,
                             float eps) {
    int i = get_global_id(0);
    if (i >= n) return;
    float gi = g[i];
    float mi = beta1 * m[i] + (1.0f - beta1) * gi;
    float vi = beta2 * v[i] + (1.0f - beta2) * gi * gi;
    m[i] = LP_FTZ(mi);
    v[i] = LP_FTZ(vi);
    w[i] = LP_FTZ(w[i] - LP_DIV(lr_t * mi, LP_SQRT(vi) + eps));
}

/* Keras-style SGD with momentum: vel = mu vel - lr g; w += vel (mu = 0: plain SGD). */
__kernel void lp_sgd_update(__global float *w, __global const float *g, __global float *vel, int n,
                            float lr, float momentum) {
    int i = get_global_id(0);
    if (i >= n) return;
    float vi = momentum * vel[i] - lr * g[i];
    vel[i] = LP_FTZ(vi);
    w[i] = LP_FTZ(w[i] + vi);
}

/* L2 regularisation of one tensor: g += 2 * coef * w (loss term coef * sum w^2). */
__kernel void lp_l2_grad(__global const float *w, __global float *g, int offset, int n,
                         float coef) {
    int i = get_global_id(0);
    if (i < n) g[offset + i] = LP_FTZ(g[offset + i] + 2.0f * coef * w[offset + i]);
}

/* Lookahead's slow-weight step (Zhang et al. 2019): slow += alpha (w - slow); w = slow.
 * Written as the convex combination (1 - alpha) slow + alpha w, the same up to rounding;
 * at alpha 1 a copy (the sum would turn a -0.0 weight into +0.0), so that Lookahead with
 * alpha 1 is the inner optimizer bit for bit. */
__kernel void lp_lookahead_update(__global float *w, __global float *slow, int n, float alpha) {
    int i = get_global_id(0);
    if (i >= n) return;
    float s = alpha == 1.0f ? w[i] : (1.0f - alpha) * slow[i] + alpha * w[i];
    s = LP_FTZ(s);
    slow[i] = s;
    w[i] = s;
}

/* Decoupled weight decay of one tensor (AdamW's, PyTorch's form): w *= keep, where the
 * host passes keep = 1 - lr * decay. */
__kernel void lp_weight_decay(__global float *w, int offset, int n, float keep) {
    int i = get_global_id(0);
    if (i < n) w[offset + i] = LP_FTZ(w[offset + i] * keep);
}
