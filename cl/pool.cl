/* Max and average pooling over NCHW planes, forward and backward. Global average pooling
 * is the average pool whose one window covers the whole plane. Backward is a gather:
 * each input pixel sums over the windows that contain it, in a fixed order (no atomics).
 * Indices are split as q = i / d, r = i - q * d, never with `/` and `%` together: clang
 * turns that pair into an LLVM `freeze`, which Oclgrind 21.10 cannot interpret. */

#if !defined(LP_POOL_MAX) || !defined(LP_POOL_AVG)
#error "LP_POOL_MAX and LP_POOL_AVG come from the host (host/layer_pool.c)"
#endif

/* Input pixels of window (oy, ox) that lie inside the plane: rows [*y0, *y1), cols
 * [*x0, *x1). `same` padding puts pad_t rows above and pad_l columns left of the plane. */
inline void lp_pool_window_(int oy, int ox, int h, int w, int kh, int kw, int sh, int sw, int pad_t,
                            int pad_l, int *y0, int *y1, int *x0, int *x1) {
    int ys = oy * sh - pad_t, xs = ox * sw - pad_l;
    *y0 = max(ys, 0);
    *y1 = min(ys + kh, h);
    *x0 = max(xs, 0);
    *x1 = min(xs + kw, w);
}

/* Window (oy, ox) of plane xp: *y = max (with *at = y*w + x of the largest value inside
 * the plane; ties: the first in row-major window order; padding never wins) or mean over
 * the in-bounds pixels (valid windows are all in bounds, so that is the window size;
 * TensorFlow's `same`). */
inline void lp_pool_window_value_(__global const float *xp, int oy, int ox, int h, int w, int kh,
                                  int kw, int sh, int sw, int pad_t, int pad_l, int mode, float *y,
                                  int *at) {
    int y0, y1, x0, x1;
    lp_pool_window_(oy, ox, h, w, kh, kw, sh, sw, pad_t, pad_l, &y0, &y1, &x0, &x1);
    if (mode == LP_POOL_MAX) {
        float best = 0.0f;
        int where = -1;
        for (int iy = y0; iy < y1; ++iy)
            for (int ix = x0; ix < x1; ++ix) {
                float v = xp[iy * w + ix];
                if (where < 0 || v > best) {
                    best = v;
                    where = iy * w + ix;
                }
            }
        *y = best;
        *at = where;
    } else {
        float s = 0.0f;
        for (int iy = y0; iy < y1; ++iy)
            for (int ix = x0; ix < x1; ++ix)
                s += xp[iy * w + ix];
        *y = s / (float)((y1 - y0) * (x1 - x0));
        *at = -1;
    }
}

/* x (n, c, h, w) -> y (n, c, oh, ow); one work-item per output value, total = n*c*oh*ow.
 * Max pooling also writes argmax[o]; average pooling leaves it alone. */
__kernel void lp_pool_forward(__global const float *x, __global float *y, __global int *argmax,
                              int total, int h, int w, int oh, int ow, int kh, int kw, int sh,
                              int sw, int pad_t, int pad_l, int mode) {
    int o = get_global_id(0);
    if (o >= total) return;
    int q = o / ow, ox = o - q * ow, plane = q / oh, oy = q - plane * oh;
    float v;
    int at;
    lp_pool_window_value_(x + (size_t)plane * h * w, oy, ox, h, w, kh, kw, sh, sw, pad_t, pad_l,
                          mode, &v, &at);
    y[o] = v;
    if (mode == LP_POOL_MAX) argmax[o] = at;
}

/* First and last+1 window index along one axis whose window [o*s - pad, o*s - pad + k)
 * holds input position i, clamped to [0, n). */
inline int lp_pool_first_(int i, int k, int s, int pad) {
    int t = i + pad - k + 1;
    return t <= 0 ? 0 : (t + s - 1) / s;
}
inline int lp_pool_end_(int i, int s, int pad, int n) {
    return min((i + pad) / s + 1, n);
}

/* dx (n, c, h, w) from dy (n, c, oh, ow); one work-item per input pixel, total = n*c*h*w.
 * Overwrites dx everywhere (pixels in no window get 0). */
__kernel void lp_pool_backward(__global const float *dy, __global const int *argmax,
                               __global float *dx, int total, int h, int w, int oh, int ow, int kh,
                               int kw, int sh, int sw, int pad_t, int pad_l, int mode) {
    int i = get_global_id(0);
    if (i >= total) return;
    int q = i / w, ix = i - q * w, plane = q / h, iy = q - plane * h;
    size_t obase = (size_t)plane * oh * ow;
    int oy0 = lp_pool_first_(iy, kh, sh, pad_t), oy1 = lp_pool_end_(iy, sh, pad_t, oh);
    int ox0 = lp_pool_first_(ix, kw, sw, pad_l), ox1 = lp_pool_end_(ix, sw, pad_l, ow);
    int me = iy * w + ix;
    float g = 0.0f;
    for (int oy = oy0; oy < oy1; ++oy)
        for (int ox = ox0; ox < ox1; ++ox) {
            size_t o = obase + (size_t)oy * ow + ox;
            if (mode == LP_POOL_MAX) {
                if (argmax[o] == me) g += dy[o];
            } else {
                int y0, y1, x0, x1;
                lp_pool_window_(oy, ox, h, w, kh, kw, sh, sw, pad_t, pad_l, &y0, &y1, &x0, &x1);
                g += LP_DIV(dy[o], (float)((y1 - y0) * (x1 - x0)));
            }
        }
    dx[i] = g;
}

/* lp_pool_forward by plane (for CPUs): one work-item per (sample, channel) plane, total =
 * n*c planes, walking its outputs in row-major order: the same values without two
 * divisions per output. */
__kernel void lp_pool_forward_planes(__global const float *x, __global float *y,
                                     __global int *argmax, int total, int h, int w, int oh, int ow,
                                     int kh, int kw, int sh, int sw, int pad_t, int pad_l,
                                     int mode) {
    int plane = get_global_id(0);
    if (plane >= total) return;
    __global const float *xp = x + (size_t)plane * h * w;
    size_t o = (size_t)plane * oh * ow;
    for (int oy = 0; oy < oh; ++oy)
        for (int ox = 0; ox < ow; ++ox, ++o) {
            float v;
            int at;
            lp_pool_window_value_(xp, oy, ox, h, w, kh, kw, sh, sw, pad_t, pad_l, mode, &v, &at);
            y[o] = v;
            if (mode == LP_POOL_MAX) argmax[o] = at;
        }
}

/* Max pooling 2x2 at stride 2 with every window inside the plane (valid, or same on even
 * sizes), by output row for CPUs, the same values and argmax as lp_pool_window_value_
 * (the window's first pixel, then a later one only when strictly larger, so NaN never
 * displaces it): work-item r = plane * oh + oy takes 8 outputs at a time as float8
 * vectors of the windows' four corners, the rest one by one. The generic forms
 * walk each window with loops and clamps: on PoCL conv4's 64x32x32 pool took 3.8 ms at
 * batch 50 that way. total = planes * oh. */
__kernel void lp_pool_max2_rows(__global const float *x, __global float *y, __global int *argmax,
                                int total, int h, int w, int oh, int ow) {
    int r = get_global_id(0);
    if (r >= total) return;
    int plane = r / oh, oy = r - plane * oh;
    int top = 2 * oy * w; /* within the plane */
    __global const float *x0 = x + (size_t)plane * h * w + top, *x1 = x0 + w;
    __global float *yr = y + (size_t)r * ow;
    __global int *ar = argmax + (size_t)r * ow;
    int ox = 0;
    for (; ox + 8 <= ow; ox += 8) {
        /* each window's four pixels gathered by scalar loads (the compiler makes vector
         * loads and shuffles of them where it can): Oclgrind 21.10's uninitialised-value
         * plugin loses track of values through vload8/vload16 and reports their stores */
        __global const float *p0 = x0 + 2 * ox, *p1 = x1 + 2 * ox;
        float8 a0 = (float8)(p0[0], p0[2], p0[4], p0[6], p0[8], p0[10], p0[12], p0[14]);
        float8 a1 = (float8)(p0[1], p0[3], p0[5], p0[7], p0[9], p0[11], p0[13], p0[15]);
        float8 b0 = (float8)(p1[0], p1[2], p1[4], p1[6], p1[8], p1[10], p1[12], p1[14]);
        float8 b1 = (float8)(p1[1], p1[3], p1[5], p1[7], p1[9], p1[11], p1[13], p1[15]);
        int8 first = (int8)(top + 2 * ox) + (int8)(0, 2, 4, 6, 8, 10, 12, 14);
        float8 best = a0;
        int8 at = first;
        int8 gt = a1 > best; /* -1 where true, false with NaN */
        best = select(best, a1, gt);
        at = select(at, first + 1, gt);
        gt = b0 > best;
        best = select(best, b0, gt);
        at = select(at, first + w, gt);
        gt = b1 > best;
        best = select(best, b1, gt);
        at = select(at, first + w + 1, gt);
        vstore8(best, 0, yr + ox);
        vstore8(at, 0, ar + ox);
    }
    for (; ox < ow; ++ox) {
        int i = 2 * ox;
        float best = x0[i];
        int at = top + i;
        if (x0[i + 1] > best) best = x0[i + 1], at = top + i + 1;
        if (x1[i] > best) best = x1[i], at = top + w + i;
        if (x1[i + 1] > best) best = x1[i + 1], at = top + w + i + 1;
        yr[ox] = best;
        ar[ox] = at;
    }
}

/* lp_pool_backward by plane (for CPUs), the same bits: one work-item per plane, total =
 * n*c. The plane is zeroed, then each output in row-major order adds its gradient to the
 * pixels it came from, so every pixel receives its terms in the gather's order (oy, then
 * ox, ascending). */
__kernel void lp_pool_backward_planes(__global const float *dy, __global const int *argmax,
                                      __global float *dx, int total, int h, int w, int oh, int ow,
                                      int kh, int kw, int sh, int sw, int pad_t, int pad_l,
                                      int mode) {
    int plane = get_global_id(0);
    if (plane >= total) return;
    __global float *dp = dx + (size_t)plane * h * w;
    for (int e = 0; e < h * w; ++e)
        dp[e] = 0.0f;
    size_t o = (size_t)plane * oh * ow;
    for (int oy = 0; oy < oh; ++oy)
        for (int ox = 0; ox < ow; ++ox, ++o) {
            if (mode == LP_POOL_MAX) {
                int at = argmax[o];
                if (at >= 0) dp[at] += dy[o];
            } else {
                int y0, y1, x0, x1;
                lp_pool_window_(oy, ox, h, w, kh, kw, sh, sw, pad_t, pad_l, &y0, &y1, &x0, &x1);
                float g = LP_DIV(dy[o], (float)((y1 - y0) * (x1 - x0)));
                for (int iy = y0; iy < y1; ++iy)
                    for (int ix = x0; ix < x1; ++ix)
                        dp[iy * w + ix] += g;
            }
        }
}
