/* Batch normalisation per channel of NCHW activations (per feature for flat ones, where
 * the spatial size s is 1). Channel ch of sample i covers x[(i*ch_count + ch)*s ...+ s).
 * Per-channel sums use one work-group per channel and a tree in local memory, so their
 * order is fixed for a given work-group size: results repeat bit for bit. Remainders are
 * written a - (a / b) * b: a `/` and `%` pair becomes an LLVM `freeze`, which Oclgrind
 * 21.10 cannot interpret. */

/* Sum over the work-group of each item's v (local size a power of two); every item gets
 * the total. */
inline float lp_bn_group_sum_(float v, __local float *part) {
    int lid = get_local_id(0);
    part[lid] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = (int)get_local_size(0) / 2; s > 0; s >>= 1) {
        if (lid < s) part[lid] += part[lid + s];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    float total = part[0];
    barrier(CLK_LOCAL_MEM_FENCE); /* part is reused by the next call */
    return total;
}

/* Element j of the m = n*s values of channel ch. */
inline size_t lp_bn_at_(int j, int ch, int channels, int s) {
    int i = j / s;
    return ((size_t)i * channels + ch) * s + (size_t)(j - i * s);
}

/* Batch statistics of channel ch = group id over x (n, channels, s), m = n*s:
 * saved[ch] = mean, saved[channels + ch] = 1 / sqrt(var + eps) with the biased variance
 * (two passes: mean first, then squared deviations, which stays accurate when the mean
 * is large). running (mean then var, 2*channels) moves towards the batch by
 * (1 - momentum); its variance is the unbiased one, m / (m - 1) times the batch's
 * (see host/layer_batchnorm.c; m = 1 keeps the biased 0). */
__kernel void lp_bn_stats(__global const float *x, int n, int channels, int s, float eps,
                          float momentum, __global float *saved, __global float *running,
                          __local float *part) {
    int ch = get_group_id(0), lid = get_local_id(0), wgs = get_local_size(0);
    int m = n * s;
    float acc = 0.0f;
    for (int j = lid; j < m; j += wgs)
        acc += x[lp_bn_at_(j, ch, channels, s)];
    float mean = LP_DIV(lp_bn_group_sum_(acc, part), (float)m);
    acc = 0.0f;
    for (int j = lid; j < m; j += wgs) {
        float d = x[lp_bn_at_(j, ch, channels, s)] - mean;
        acc += d * d;
    }
    float sq = lp_bn_group_sum_(acc, part);
    if (lid == 0) {
        float var = LP_DIV(sq, (float)m);
        saved[ch] = mean;
        saved[channels + ch] = LP_RSQRT(var + eps);
        float unbiased = m > 1 ? LP_DIV(sq, (float)(m - 1)) : var;
        running[ch] = momentum * running[ch] + (1.0f - momentum) * mean;
        running[channels + ch] = momentum * running[channels + ch] + (1.0f - momentum) * unbiased;
    }
}

/* y = gamma * (x - mean) * rstd + beta, then ReLU when relu != 0; one work-item per
 * value, total = n*channels*s. stats holds (mean, rstd) per channel when stats_are_var
 * is 0 (training: lp_bn_stats' output) and (mean, var) when it is 1 (inference: the
 * running statistics). */
__kernel void lp_bn_apply(__global const float *x, __global float *y, int total, int channels,
                          int s, __global const float *params, int gamma_off, int beta_off,
                          __global const float *stats, int stats_are_var, float eps, int relu) {
    int i = get_global_id(0);
    if (i >= total) return;
    int q = i / s, ch = q - (q / channels) * channels;
    float mean = stats[ch], r = stats[channels + ch];
    if (stats_are_var) r = LP_RSQRT(r + eps);
    float v = params[gamma_off + ch] * ((x[i] - mean) * r) + params[beta_off + ch];
    if (relu) v = fmax(v, 0.0f);
    y[i] = v;
}

/* lp_bn_apply by plane (for CPUs): one work-item per (channel, sample) plane of s values,
 * float16 vectors along it, the same arithmetic per value; one work-item per value left
 * PoCL with two integer divisions per value and scalar code. Global (channels, n). */
__kernel void lp_bn_apply_planes(__global const float *x, __global float *y, int n, int channels,
                                 int s, __global const float *params, int gamma_off, int beta_off,
                                 __global const float *stats, int stats_are_var, float eps,
                                 int relu) {
    int ch = get_global_id(0), i = get_global_id(1);
    if (ch >= channels || i >= n) return;
    float mean = stats[ch], r = stats[channels + ch];
    if (stats_are_var) r = LP_RSQRT(r + eps);
    const float gamma = params[gamma_off + ch], beta = params[beta_off + ch];
    __global const float *xp = x + ((size_t)i * channels + ch) * s;
    __global float *yp = y + ((size_t)i * channels + ch) * s;
    int p = 0;
    for (; p + 16 <= s; p += 16) {
        float16 v = gamma * ((vload16(0, xp + p) - mean) * r) + beta;
        if (relu) v = fmax(v, (float16)(0.0f));
        vstore16(v, 0, yp + p);
    }
    for (; p < s; ++p) {
        float v = gamma * ((xp[p] - mean) * r) + beta;
        if (relu) v = fmax(v, 0.0f);
        yp[p] = v;
    }
}

/* Parameter gradients of channel ch = group id: dbeta = sum(g), dgamma = sum(g * xhat)
 * with xhat = (x - mean) * rstd recomputed from the input and g = dy, masked by y > 0
 * when the layer applies ReLU. Overwrites grads[gamma_off + ch] and grads[beta_off + ch]. */
__kernel void lp_bn_backward_params(__global const float *x, __global const float *y,
                                    __global const float *dy, int n, int channels, int s,
                                    __global const float *saved, int relu, __global float *grads,
                                    int gamma_off, int beta_off, __local float *part) {
    int ch = get_group_id(0), lid = get_local_id(0), wgs = get_local_size(0);
    int m = n * s;
    float mean = saved[ch], rstd = saved[channels + ch];
    float sg = 0.0f, sgx = 0.0f;
    for (int j = lid; j < m; j += wgs) {
        size_t at = lp_bn_at_(j, ch, channels, s);
        float g = dy[at];
        if (relu && !(y[at] > 0.0f)) g = 0.0f;
        sg += g;
        sgx += g * ((x[at] - mean) * rstd);
    }
    float dbeta = lp_bn_group_sum_(sg, part);
    float dgamma = lp_bn_group_sum_(sgx, part);
    if (lid == 0) {
        grads[gamma_off + ch] = dgamma;
        grads[beta_off + ch] = dbeta;
    }
}

/* dx = gamma * rstd / m * (m * g - dbeta - xhat * dgamma): the gradient through the batch
 * mean and variance, with dgamma and dbeta read back from grads (lp_bn_backward_params
 * ran first on the same queue). One work-item per value, total = n*channels*s. */
__kernel void lp_bn_backward_dx(__global const float *x, __global const float *y,
                                __global const float *dy, __global float *dx, int total, int n,
                                int channels, int s, __global const float *saved, int relu,
                                __global const float *params, __global const float *grads,
                                int gamma_off, int beta_off) {
    int i = get_global_id(0);
    if (i >= total) return;
    int q = i / s, ch = q - (q / channels) * channels;
    float m = (float)(n * s);
    float mean = saved[ch], rstd = saved[channels + ch];
    float g = dy[i];
    if (relu && !(y[i] > 0.0f)) g = 0.0f;
    float xhat = (x[i] - mean) * rstd;
    float dgamma = grads[gamma_off + ch], dbeta = grads[beta_off + ch];
    dx[i] = LP_DIV(params[gamma_off + ch] * rstd, m) * (m * g - dbeta - xhat * dgamma);
}

/* lp_bn_backward_dx by plane (for CPUs), the same arithmetic per value and the same
 * arguments (total unused): one work-item per (channel, sample) plane, float16 vectors
 * along it. Global (channels, n). */
__kernel void lp_bn_backward_dx_planes(__global const float *x, __global const float *y,
                                       __global const float *dy, __global float *dx, int total,
                                       int n, int channels, int s, __global const float *saved,
                                       int relu, __global const float *params,
                                       __global const float *grads, int gamma_off, int beta_off) {
    int ch = get_global_id(0), i = get_global_id(1);
    if (ch >= channels || i >= n) return;
    const float m = (float)(n * s);
    const float mean = saved[ch], rstd = saved[channels + ch];
    const float dgamma = grads[gamma_off + ch], dbeta = grads[beta_off + ch];
    const float scale = LP_DIV(params[gamma_off + ch] * rstd, m);
    size_t base = ((size_t)i * channels + ch) * s;
    int p = 0;
    for (; p + 16 <= s; p += 16) {
        float16 g = vload16(0, dy + base + p);
        if (relu)
            g = select((float16)(0.0f), g, isgreater(vload16(0, y + base + p), (float16)(0.0f)));
        float16 xhat = (vload16(0, x + base + p) - mean) * rstd;
        vstore16(scale * (m * g - dbeta - xhat * dgamma), 0, dx + base + p);
    }
    for (; p < s; ++p) {
        float g = dy[base + p];
        if (relu && !(y[base + p] > 0.0f)) g = 0.0f;
        float xhat = (x[base + p] - mean) * rstd;
        dx[base + p] = scale * (m * g - dbeta - xhat * dgamma);
    }
}

/* ---- per-channel sums by plane (for CPUs) ------------------------------------------------
 * One work-item per (sample, channel) plane leaves LP_BN_LANES (16) lane sums per plane
 * (lane l: values l, l + 16, ... in order, as float16 accumulators, the last partial vector
 * zero-padded); one work-item per channel then adds them: each plane's lanes by a fixed pairwise
 * tree, the planes in sample order. Fixed order, so the results repeat bit for bit; a work-group
 * per channel walking the values with a division per value ran at a fifth of the memory bandwidth
 * on PoCL. */

#ifndef LP_BN_LANES
#error "LP_BN_LANES comes from the host (host/layer_batchnorm.c)"
#endif

/* psum[(i*channels + ch)*16 + l] = lane sums of x over plane (i, ch), or of (x - mean)^2
 * with the channel mean from saved when squares != 0. Global (channels, n). */
__kernel void lp_bn_plane_sums(__global const float *x, int n, int channels, int s,
                               __global const float *saved, int squares, __global float *psum) {
    int ch = get_global_id(0), i = get_global_id(1);
    if (ch >= channels || i >= n) return;
    __global const float *xp = x + ((size_t)i * channels + ch) * s;
    __global float *ps = psum + ((size_t)i * channels + ch) * LP_BN_LANES;
    const float mean = squares ? saved[ch] : 0.0f;
    float16 acc = (float16)(0.0f);
    int p = 0;
    for (; p + LP_BN_LANES <= s; p += LP_BN_LANES) {
        float16 v = vload16(0, xp + p);
        if (squares) {
            v -= mean;
            v *= v;
        }
        acc += v;
    }
    /* The last s mod 16 values go to lanes 0, 1, ... through a zero-padded vector, so
     * that psum is written once (Oclgrind 21.10 reported the read-back of a vstore16 as
     * uninitialised here). */
    float tail[LP_BN_LANES] = {0.0f};
    for (int q = p; q < s; ++q) {
        float v = xp[q];
        if (squares) {
            v -= mean;
            v *= v;
        }
        tail[q - p] = v;
    }
    vstore16(acc + vload16(0, tail), 0, ps);
}

/* After lp_bn_plane_sums without squares: saved[ch] = the channel mean. After it with
 * squares: saved[channels + ch] = 1 / sqrt(var + eps) and the running statistics move,
 * as in lp_bn_stats. One work-item per channel. */
__kernel void lp_bn_plane_stats(__global const float *psum, int n, int channels, int s, int squares,
                                float eps, float momentum, __global float *saved,
                                __global float *running) {
    int ch = get_global_id(0);
    if (ch >= channels) return;
    float total = 0.0f;
    for (int i = 0; i < n; ++i)
        total += lp_tree16(psum + ((size_t)i * channels + ch) * LP_BN_LANES);
    int m = n * s;
    if (!squares) {
        saved[ch] = LP_DIV(total, (float)m);
        return;
    }
    float var = LP_DIV(total, (float)m), mean = saved[ch];
    saved[channels + ch] = LP_RSQRT(var + eps);
    float unbiased = m > 1 ? LP_DIV(total, (float)(m - 1)) : var;
    running[ch] = momentum * running[ch] + (1.0f - momentum) * mean;
    running[channels + ch] = momentum * running[channels + ch] + (1.0f - momentum) * unbiased;
}

/* The parameter gradients' lane sums per plane: g = dy (masked by y > 0 with relu) into
 * psum[(i*channels + ch)*32 + l], g * xhat into the 16 after. Global (channels, n). */
__kernel void lp_bn_plane_grads(__global const float *x, __global const float *y,
                                __global const float *dy, int n, int channels, int s,
                                __global const float *saved, int relu, __global float *psum) {
    int ch = get_global_id(0), i = get_global_id(1);
    if (ch >= channels || i >= n) return;
    size_t base = ((size_t)i * channels + ch) * s;
    __global float *ps = psum + ((size_t)i * channels + ch) * 2 * LP_BN_LANES;
    const float mean = saved[ch], rstd = saved[channels + ch];
    float16 sg = (float16)(0.0f), sgx = (float16)(0.0f);
    int p = 0;
    for (; p + LP_BN_LANES <= s; p += LP_BN_LANES) {
        float16 g = vload16(0, dy + base + p);
        if (relu)
            g = select((float16)(0.0f), g, isgreater(vload16(0, y + base + p), (float16)(0.0f)));
        sg += g;
        sgx += g * ((vload16(0, x + base + p) - mean) * rstd);
    }
    float tg[LP_BN_LANES] = {0.0f}, tgx[LP_BN_LANES] = {0.0f}; /* as in lp_bn_plane_sums */
    for (int q = p; q < s; ++q) {
        float g = dy[base + q];
        if (relu && !(y[base + q] > 0.0f)) g = 0.0f;
        tg[q - p] = g;
        tgx[q - p] = g * ((x[base + q] - mean) * rstd);
    }
    vstore16(sg + vload16(0, tg), 0, ps);
    vstore16(sgx + vload16(0, tgx), 0, ps + LP_BN_LANES);
}

/* grads[beta_off + ch] = dbeta, grads[gamma_off + ch] = dgamma from lp_bn_plane_grads' lane
 * sums, in the fixed order above. One work-item per channel. */
__kernel void lp_bn_plane_params(__global const float *psum, int n, int channels,
                                 __global float *grads, int gamma_off, int beta_off) {
    int ch = get_global_id(0);
    if (ch >= channels) return;
    float dbeta = 0.0f, dgamma = 0.0f;
    for (int i = 0; i < n; ++i) {
        __global const float *ps = psum + ((size_t)i * channels + ch) * 2 * LP_BN_LANES;
        dbeta += lp_tree16(ps);
        dgamma += lp_tree16(ps + LP_BN_LANES);
    }
    grads[gamma_off + ch] = dgamma;
    grads[beta_off + ch] = dbeta;
}
