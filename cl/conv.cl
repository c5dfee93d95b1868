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

/* im2col and col2im come in two forms with the same results, to the bit:
 * - by pixel (for GPUs): one work-item per column of col (im2col) or per input value
 *   (col2im), so that neighbouring work-items touch neighbouring addresses;
 * - by plane (for CPUs): one work-item per (row of col, sample) block of P columns
 *   (im2col) or per input plane (col2im). Its inner loops run along image rows without
 *   per-element division or bounds tests, so the compiler vectorizes them, and each
 *   reads or writes one block of col from start to end: consecutive work-items stream
 *   through col (one work-item per image row, writing kh*kw rows of col at once, ran 2x
 *   to 3x slower on 5x5 kernels on PoCL). */

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
    dx[((size_t)(s0 + s) * cin + c) * ih * iw + r] = LP_FTZ(sum);
}

/* The outputs [lo, hi) whose tap t (0..k-1) lands inside the input along one axis:
 * 0 <= o*stride - pad + t < in, 0 <= o < out. Two divisions per tap, not a bounds test
 * per element. */
inline int2 lp_conv_tap_span_(int t, int in, int stride, int pad, int out) {
    int before = pad - t, last = in - 1 + pad - t;
    int lo = before > 0 ? (before + stride - 1) / stride : 0;
    int hi = last >= 0 ? min(last / stride + 1, out) : 0;
    return (int2)(min(lo, hi), hi);
}

/* dst[ox] = src[ox*sw + off] for ox in span, 0 elsewhere in [0, ow). src is read only
 * inside the span, so off may point before the row. */
inline void lp_conv_copy_tap_(__global float *restrict dst, __global const float *restrict src,
                              int off, int sw, int2 span, int ow) {
    for (int ox = 0; ox < span.x; ++ox)
        dst[ox] = 0.0f;
    if (sw == 1) /* contiguous: a plain vector copy */
        for (int ox = span.x; ox < span.y; ++ox)
            dst[ox] = src[ox + off];
    else
        for (int ox = span.x; ox < span.y; ++ox)
            dst[ox] = src[ox * sw + off];
    for (int ox = span.y; ox < ow; ++ox)
        dst[ox] = 0.0f;
}

/* lp_conv_im2col by plane: work-item (k, g) writes col[k, s*P .. s*P + P) for samples
 * s = g*per .. g*per + per - 1 (contiguous), k = (c*kh + i)*kw + j, row oy from input row
 * oy*sh - pt + i. 1-D global K * ceil(cn / per). */
__kernel void lp_conv_im2col_planes(__global const float *x, int s0, int cn, int cin, int ih,
                                    int iw, int kh, int kw, int sh, int sw, int pt, int pl, int oh,
                                    int ow, __global float *restrict col, int per) {
    int groups = (cn + per - 1) / per;
    size_t t = get_global_id(0), k = t / (size_t)groups;
    if (k >= (size_t)cin * kh * kw) return;
    int g = (int)(t - k * groups), c = (int)k / (kh * kw), ij = (int)k - c * kh * kw;
    int i = ij / kw, j = ij - i * kw;
    int2 rows = lp_conv_tap_span_(i, ih, sh, pt, oh), cols = lp_conv_tap_span_(j, iw, sw, pl, ow);
    size_t P = (size_t)oh * ow;
    for (int s = g * per; s < min(g * per + per, cn); ++s) {
        __global const float *xp = x + ((size_t)(s0 + s) * cin + c) * ih * iw;
        __global float *cp = col + k * cn * P + (size_t)s * P;
        for (int oy = 0; oy < oh; ++oy, cp += ow) {
            bool in = oy >= rows.x && oy < rows.y;
            __global const float *xr = xp + (in ? (size_t)(oy * sh - pt + i) * iw : 0);
            lp_conv_copy_tap_(cp, xr, j - pl, sw, in ? cols : (int2)(0, 0), ow);
        }
    }
}

/* dst[ox*sw + off] += src[ox] for ox in span: one tap's outputs added into an input row. */
inline void lp_conv_add_tap_(__global float *restrict dst, __global const float *restrict src,
                             int off, int sw, int2 span) {
    if (sw == 1)
        for (int ox = span.x; ox < span.y; ++ox)
            dst[ox + off] += src[ox];
    else
        for (int ox = span.x; ox < span.y; ++ox)
            dst[ox * sw + off] += src[ox];
}

/* dx plane (s, c) = col2im of dcol's rows for channel c, block s, in the order below. */
inline void lp_conv_col2im_plane_(__global const float *restrict dcol, size_t stride,
                                  __global float *restrict dp, int ih, int iw, int kh, int kw,
                                  int sh, int sw, int pt, int pl, int oh, int ow) {
    for (int e = 0; e < ih * iw; ++e)
        dp[e] = 0.0f;
    for (int i = kh - 1; i >= 0; --i) {
        int2 rows = lp_conv_tap_span_(i, ih, sh, pt, oh);
        for (int j = kw - 1; j >= 0; --j) {
            int2 cols = lp_conv_tap_span_(j, iw, sw, pl, ow);
            __global const float *cp = dcol + (size_t)(i * kw + j) * stride;
            for (int oy = rows.x; oy < rows.y; ++oy)
                lp_conv_add_tap_(dp + (size_t)(oy * sh - pt + i) * iw, cp + (size_t)oy * ow, j - pl,
                                 sw, cols);
        }
    }
}

/* lp_conv_col2im by plane, with the same bits: work-item (c, g) handles the input planes
 * of samples s = g*per .. g*per + per - 1. Each plane is zeroed, then gets col rows
 * k = (c*kh + i)*kw + j, block s, added for i and j descending: an input value's terms
 * then come in the gather's order, oy = (y + pt - i) / sh ascending, then
 * ox = (x + pl - j) / sw ascending. 1-D global cin * ceil(cn / per). */
__kernel void lp_conv_col2im_planes(__global const float *dcol, int s0, int cn, int cin, int ih,
                                    int iw, int kh, int kw, int sh, int sw, int pt, int pl, int oh,
                                    int ow, __global float *restrict dx, int per) {
    int groups = (cn + per - 1) / per;
    size_t t = get_global_id(0), c = t / (size_t)groups;
    if (c >= (size_t)cin) return;
    int g = (int)(t - c * groups);
    size_t P = (size_t)oh * ow, stride = (size_t)cn * P;
    for (int s = g * per; s < min(g * per + per, cn); ++s)
        lp_conv_col2im_plane_(dcol + c * kh * kw * stride + (size_t)s * P, stride,
                              dx + ((size_t)(s0 + s) * cin + c) * ih * iw, ih, iw, kh, kw, sh, sw,
                              pt, pl, oh, ow);
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
    y[((size_t)(s0 + s) * filters + f) * P + p] = LP_FTZ(v);
}

/* lp_conv_rows_to_nchw by plane (for CPUs), the same bits: one work-item per plane (f, s),
 * float16 vectors along it. Global (F, cn). */
__kernel void lp_conv_rows_to_nchw_planes(__global const float *rows, int s0, int cn, int filters,
                                          int P, __global const float *params, int bias_off,
                                          int relu, __global float *y) {
    int f = (int)get_global_id(0), s = (int)get_global_id(1);
    if (f >= filters || s >= cn) return;
    __global const float *r = rows + ((size_t)f * cn + s) * P;
    __global float *o = y + ((size_t)(s0 + s) * filters + f) * P;
    const float b = bias_off >= 0 ? params[bias_off + f] : 0.0f;
    int p = 0;
    for (; p + 16 <= P; p += 16) {
        float16 v = vload16(0, r + p);
        if (bias_off >= 0) v += b;
        if (relu) v = fmax(v, (float16)(0.0f));
        vstore16(LP_FTZ16(v), 0, o + p);
    }
    for (; p < P; ++p) {
        float v = r[p];
        if (bias_off >= 0) v += b;
        if (relu) v = fmax(v, 0.0f);
        o[p] = LP_FTZ(v);
    }
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
    y[i] = LP_FTZ(v);
}

/* g = dy[s0 + s, f, p], times (y > 0) when relu: the ReLU derivative read from the
 * layer's own output, as in the dense layer. rows[f, s*P + p] = g when write_rows (the
 * inverse layout of the above); when has_psum, lane l adds up g over pixels l, l + LANES,
 * ... in that order and psum[((s0 + s) * filters + f) * LANES + l] gets the sum, for
 * lp_conv_bias_reduce. Global (LANES, filters, cn): the LANES work-items of a plane read
 * neighbouring addresses, which coalesce on GPUs and form one vector on CPUs. */
__kernel void lp_conv_grad_rows(__global const float *dy, __global const float *y, int relu, int s0,
                                int cn, int filters, int P, __global float *rows, int write_rows,
                                __global float *psum, int has_psum) {
    int l = (int)get_global_id(0), f = (int)get_global_id(1), s = (int)get_global_id(2);
    if (l >= LP_CONV_GRAD_LANES || f >= filters || s >= cn) return;
    size_t src = ((size_t)(s0 + s) * filters + f) * P, dst = ((size_t)f * cn + s) * P;
    float acc = 0.0f;
    /* The same trip count for every lane, so that PoCL vectorizes across the lanes. */
    for (int k = 0, steps = (P + LP_CONV_GRAD_LANES - 1) / LP_CONV_GRAD_LANES; k < steps; ++k) {
        int p = k * LP_CONV_GRAD_LANES + l;
        if (p < P) {
            float g = dy[src + p];
            if (relu && !(y[src + p] > 0.0f)) g = 0.0f;
            if (write_rows) rows[dst + p] = g;
            acc += g;
        }
    }
    if (has_psum) psum[((size_t)(s0 + s) * filters + f) * LP_CONV_GRAD_LANES + l] = acc;
}

/* lp_conv_grad_rows by plane (for CPUs), with the same bits: one work-item per plane
 * (f, s), its lanes the components of a float16 accumulator (vectors of 16 along the row
 * instead of one work-item per lane, which PoCL left scalar). The last P mod 16 pixels
 * are added to their lanes in psum itself, in the same order. Global (filters, cn). */
__kernel void lp_conv_grad_rows_planes(__global const float *dy, __global const float *y, int relu,
                                       int s0, int cn, int filters, int P, __global float *rows,
                                       int write_rows, __global float *psum, int has_psum) {
    int f = (int)get_global_id(0), s = (int)get_global_id(1);
    if (f >= filters || s >= cn) return;
    __global const float *d = dy + ((size_t)(s0 + s) * filters + f) * P;
    __global const float *yy = y + ((size_t)(s0 + s) * filters + f) * P;
    __global float *r = rows + ((size_t)f * cn + s) * P;
    __global float *ps = psum + ((size_t)(s0 + s) * filters + f) * LP_CONV_GRAD_LANES;
    float16 acc = (float16)(0.0f);
    int p = 0;
    for (; p + LP_CONV_GRAD_LANES <= P; p += LP_CONV_GRAD_LANES) {
        float16 g = vload16(0, d + p);
        if (relu) g = select((float16)(0.0f), g, isgreater(vload16(0, yy + p), (float16)(0.0f)));
        if (write_rows) vstore16(g, 0, r + p);
        acc += g;
    }
    if (has_psum) vstore16(acc, 0, ps);
    for (int q = p; q < P; ++q) {
        float g = d[q];
        if (relu && !(yy[q] > 0.0f)) g = 0.0f;
        if (write_rows) r[q] = g;
        if (has_psum) ps[q - p] += g;
    }
}

/* grads[bias_off + f] = sum over samples s = 0, 1, ..., n-1 of plane (s, f)'s total, a
 * plane's LANES partial sums added by lp_tree16 (common.cl). One work-item per channel. */
__kernel void lp_conv_bias_reduce(__global const float *psum, int n, int filters,
                                  __global float *grads, int bias_off) {
    int f = (int)get_global_id(0);
    if (f >= filters) return;
    float total = 0.0f;
    for (int s = 0; s < n; ++s)
        total += lp_tree16(psum + ((size_t)s * filters + f) * LP_CONV_GRAD_LANES);
    grads[bias_off + f] = LP_FTZ(total);
}
