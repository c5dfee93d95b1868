/* [add]: the residual join out = a + b (then ReLU) and its gradients, one work-item per
 * value of the batch buffers, total = n * features. */

/* y = a + b, then ReLU when relu != 0. */
__kernel void lp_add_forward(__global const float *a, __global const float *b, __global float *y,
                             int total, int relu) {
    int i = get_global_id(0);
    if (i >= total) return;
    float v = a[i] + b[i];
    if (relu) v = fmax(v, 0.0f);
    y[i] = v;
}

/* g = dy, times (y > 0) when relu (the mask read from the layer's own output). With relu,
 * dy keeps g for the shortcut's half of the backward pass; with write_dx, dx = g (the
 * previous layer's gradient: the add passes it through unchanged). */
__kernel void lp_add_backward(__global float *dy, __global const float *y, __global float *dx,
                              int total, int relu, int write_dx) {
    int i = get_global_id(0);
    if (i >= total) return;
    float g = dy[i];
    if (relu && !(y[i] > 0.0f)) {
        g = 0.0f;
        dy[i] = g;
    }
    if (write_dx) dx[i] = g;
}

/* dst += src: the shortcut's gradient joins what the layer after `from` wrote. */
__kernel void lp_add_accumulate(__global float *dst, __global const float *src, int total) {
    int i = get_global_id(0);
    if (i >= total) return;
    dst[i] += src[i];
}
