/* [conv2d] around the matrix products (CLBlast): im2col and its gather-form adjoint
 * col2im, the layout kernels between batch-wide rows and NCHW, and the bias gradient.
 *
 * A chunk of `cn` samples is handled at once. Its column matrix is col (K, cn*P), with
 * K = cin*kh*kw (row k = (c*kh + i)*kw + j) and P = oh*ow (column s*P + oy*ow + ox), so
 * every product over the chunk is one GEMM. Its filter rows are rows (F, cn*P) in the
 * same column order. Plane sizes (ih*iw, P) fit in an int (the host checks); offsets into
 * whole buffers are computed in 64 bits, as col grows with the batch.
 * Indices are split as q = i / d, r = i - q * d, never with `/` and `%` together: clang
 * turns that pair into an LLVM `freeze`, which Oclgrind 21.10 cannot interpret. */

#ifndef LP_CONV_LANES
#define LP_CONV_LANES 64 /* partial sums per channel in lp_conv_bias_grad; a power of two */
#endif

/* col[k, s*P + p] = x[s0 + s, c, oy*sh - pt + i, ox*sw - pl + j], 0 in the padding, for
 * the kh*kw rows k = (c*kh + i)*kw + j of one channel. Global (P, cin, cn): neighbouring
 * work-items write neighbouring columns of each row. */
__kernel void lp_conv_im2col(__global const float *x, int s0, int cn, int cin, int ih, int iw,
                             int kh, int kw, int sh, int sw, int pt, int pl, int oh, int ow,
                             __global float *col) {
    int p = (int)get_global_id(0), c = (int)get_global_id(1), s = (int)get_global_id(2);
    int P = oh * ow;
    if (p >= P || c >= cin || s >= cn) return;
    int oy = p / ow, ox = p - oy * ow;
    int y0 = oy * sh - pt, x0 = ox * sw - pl;
    size_t ncols = (size_t)cn * P;
    __global const float *xp = x + ((size_t)(s0 + s) * cin + c) * ih * iw;
    __global float *cp = col + (size_t)c * kh * kw * ncols + (size_t)s * P + p;
    for (int i = 0; i < kh; ++i) {
        int y = y0 + i;
        bool row_in = y >= 0 && y < ih;
        for (int j = 0; j < kw; ++j) {
            int xx = x0 + j;
            *cp = row_in && xx >= 0 && xx < iw ? xp[y * iw + xx] : 0.0f;
            cp += ncols;
        }
    }
}

/* dx[s0 + s, c, y, x] = sum of dcol over every (kernel tap, output pixel) that read the
 * input pixel: a gather, so no atomics, and a fixed order (oy, then ox, ascending).
 * Global (ih*iw, cin, cn), one work-item per input value; overwrites dx. */
__kernel void lp_conv_col2im(__global const float *dcol, int s0, int cn, int cin, int ih, int iw,
                             int kh, int kw, int sh, int sw, int pt, int pl, int oh, int ow,
                             __global float *dx) {
    int r = (int)get_global_id(0), c = (int)get_global_id(1), s = (int)get_global_id(2);
    if (r >= ih * iw || c >= cin || s >= cn) return;
    int y = r / iw, xx = r - y * iw;
    int P = oh * ow;
    size_t ncols = (size_t)cn * P;
    /* Output rows whose window covers y: oy*sh - pt <= y <= oy*sh - pt + kh - 1. */
    int ty = y + pt, tx = xx + pl;
    int oy0 = ty - kh + 1 > 0 ? (ty - kh + 1 + sh - 1) / sh : 0;
    int oy1 = min(ty / sh, oh - 1);
    int ox0 = tx - kw + 1 > 0 ? (tx - kw + 1 + sw - 1) / sw : 0;
    int ox1 = min(tx / sw, ow - 1);
    __global const float *dp = dcol + (size_t)c * kh * kw * ncols + (size_t)s * P;
    float sum = 0.0f;
    for (int oy = oy0; oy <= oy1; ++oy) {
        int i = ty - oy * sh;
        for (int ox = ox0; ox <= ox1; ++ox) {
            int j = tx - ox * sw;
            sum += dp[(size_t)(i * kw + j) * ncols + oy * ow + ox];
        }
    }
    dx[((size_t)(s0 + s) * cin + c) * ih * iw + r] = sum;
}

/* y[s0 + s, f, p] = rows[f, s*P + p] + bias[f] (bias_off < 0: none), then ReLU if relu.
 * Global (P, F, cn). */
__kernel void lp_conv_rows_to_nchw(__global const float *rows, int s0, int cn, int filters, int P,
                                   __global const float *params, int bias_off, int relu,
                                   __global float *y) {
    int p = (int)get_global_id(0), f = (int)get_global_id(1), s = (int)get_global_id(2);
    if (p >= P || f >= filters || s >= cn) return;
    float v = rows[((size_t)f * cn + s) * P + p];
    if (bias_off >= 0) v += params[bias_off + f];
    if (relu) v = fmax(v, 0.0f);
    y[((size_t)(s0 + s) * filters + f) * P + p] = v;
}

/* y[s, f, p] += bias[f] (bias_off < 0: none), then ReLU if relu, in place: the FFT path
 * writes its NCHW output directly, so bias and activation come after. Global (P, F, n). */
__kernel void lp_conv_bias_act(__global float *y, int n, int filters, int P,
                               __global const float *params, int bias_off, int relu) {
    int p = (int)get_global_id(0), f = (int)get_global_id(1), s = (int)get_global_id(2);
    if (p >= P || f >= filters || s >= n) return;
    size_t i = ((size_t)s * filters + f) * P + p;
    float v = y[i];
    if (bias_off >= 0) v += params[bias_off + f];
    if (relu) v = fmax(v, 0.0f);
    y[i] = v;
}

/* rows[f, s*P + p] = dy[s0 + s, f, p], times (y > 0) when relu: the ReLU derivative read
 * from the layer's own output, as in the dense layer. The inverse layout of the above. */
__kernel void lp_conv_nchw_to_rows(__global const float *dy, __global const float *y, int relu,
                                   int s0, int cn, int filters, int P, __global float *rows) {
    int p = (int)get_global_id(0), f = (int)get_global_id(1), s = (int)get_global_id(2);
    if (p >= P || f >= filters || s >= cn) return;
    size_t src = ((size_t)(s0 + s) * filters + f) * P + p;
    float g = dy[src];
    if (relu && !(y[src] > 0.0f)) g = 0.0f;
    rows[((size_t)f * cn + s) * P + p] = g;
}

/* grads[bias_off + f] = sum over (s, p) of dy[s, f, p] (masked by y > 0 when relu).
 * One work-group per channel. The order is fixed by LP_CONV_LANES, not by the work-group
 * size: lane v sums pixels v, v + LANES, ... of sample 0, then of sample 1, ...; then a
 * fixed pairwise tree adds the lanes, so every device gives the same bits. */
__kernel void lp_conv_bias_grad(__global const float *dy, __global const float *y, int relu, int n,
                                int filters, int P, __global float *grads, int bias_off) {
    __local float part[LP_CONV_LANES];
    int f = (int)get_group_id(0);
    int t = (int)get_local_id(0), lsize = (int)get_local_size(0);
    for (int v = t; v < LP_CONV_LANES; v += lsize) {
        float acc = 0.0f;
        for (int s = 0; s < n; ++s) {
            size_t base = ((size_t)s * filters + f) * P;
            for (int p = v; p < P; p += LP_CONV_LANES) {
                float g = dy[base + p];
                if (relu && !(y[base + p] > 0.0f)) g = 0.0f;
                acc += g;
            }
        }
        part[v] = acc;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int w = LP_CONV_LANES / 2; w > 0; w >>= 1) {
        for (int v = t; v < w; v += lsize)
            part[v] += part[v + w];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (t == 0) grads[bias_off + f] = part[0];
}
