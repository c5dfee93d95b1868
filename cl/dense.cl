/* Element-wise parts of dense layers; the matrix products go through CLBlast. */

/* y (rows, cols) += bias (cols), then ReLU when relu != 0. bias_off < 0: no bias. */
__kernel void lp_bias_act_forward(__global float *y, int rows, int cols,
                                  __global const float *params, int bias_off, int relu) {
    int c = get_global_id(0), r = get_global_id(1);
    if (r >= rows || c >= cols) return;
    size_t i = (size_t)r * cols + c;
    float v = y[i];
    if (bias_off >= 0) v += params[bias_off + c];
    if (relu) v = fmax(v, 0.0f);
    y[i] = LP_FTZ(v);
}

/* dy *= (y > 0): the ReLU derivative read from the layer's own output. */
__kernel void lp_relu_backward(__global float *dy, __global const float *y, int n) {
    int i = get_global_id(0);
    if (i < n && !(y[i] > 0.0f)) dy[i] = 0.0f;
}

/* grads[bias_off + c] = sum over rows of dy[r, c]. One work-item per column keeps the
 * summation order fixed, so the result is the same on every device. */
__kernel void lp_bias_grad(__global const float *dy, int rows, int cols, __global float *grads,
                           int bias_off) {
    int c = get_global_id(0);
    if (c >= cols) return;
    float s = 0.0f;
    for (int r = 0; r < rows; ++r)
        s += dy[(size_t)r * cols + c];
    grads[bias_off + c] = LP_FTZ(s);
}
