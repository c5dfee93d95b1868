/* Inverted dropout with a mask drawn from Philox4x32-10 (common.cl). Value i of the batch
 * buffer has the global index g = base + i, base = first row x features (the rows of a
 * global batch that this process computes start at first_row: lp_network_set_rng), and
 * keeps its value unless u < rate, where
 *   counter c = (g / 32) * 8 + g mod 8,  word j = (g mod 32) / 8,
 *   r = word j of Philox((c, step, stream, 0), key = (seed_lo, seed_hi)),
 *   u = (r >> 8) * 2^-24,
 * so one Philox call (10 rounds) serves four values, the host can check every bit, and a
 * row's mask does not depend on how the global batch is split. That order lets a
 * work-item draw eight counters as uint8 vectors for a block of 32 global indices (word j
 * of all eight is values 8j .. 8j + 7 of its block): one counter per work-item left PoCL
 * with scalar code, 12x slower. The forward pass also stores the mask, one byte per value,
 * so the backward pass is a multiply, not a second round of Philox. */

#if LP_DROPOUT_BLOCK != 32 /* from the host (host/layer_dropout.c); the code below is 8 x 4 */
#error "LP_DROPOUT_BLOCK must be 32: eight Philox counters of four words per work-item"
#endif

/* All bits set where kept: u >= rate; u is exact, as r >> 8 has 24 bits. */
inline int8 lp_dropout_keep8_(uint8 r, float rate) {
    return isgreaterequal(convert_float8(r >> 8) * (1.0f / 16777216.0f), (float8)(rate));
}

/* Values 8j .. 8j + 7 of a full block: word j of the eight counters. */
#define LP_DROPOUT_STORE8_(j, words)                                                               \
    {                                                                                              \
        int8 keep = lp_dropout_keep8_(words, rate);                                                \
        vstore8(select((float8)(0.0f), vload8(j, in + i0) * scale, keep), j, out + i0);            \
        vstore8(convert_uchar8(keep & 1), j, mask + i0);                                           \
    }

/* out = in * scale where kept, 0 where dropped (scale = 1 / (1 - rate)), mask = 1 or 0;
 * a plain copy (mask untouched) when training == 0. total = n * features (the host keeps
 * total + 32 within int). Value i of the buffer has the global index g = base + i,
 * base = base_blk * 32 + base_off (base_off < 32; the host keeps g under 2^34, so
 * counters fit 32 bits). Work-item k serves the global block base_blk + k, buffer values
 * i0 .. i0 + 31 with i0 = 32k - base_off: by vectors when all of them are in the buffer
 * (base_off == 0 gives the buffer's own 32-value blocks), value by value otherwise (the
 * first block when base_off != 0 and the last partial one, under 64 values per launch). */
__kernel void lp_dropout_forward(__global const float *in, __global float *out,
                                 __global uchar *mask, int total, uint base_blk, int base_off,
                                 uint seed_lo, uint seed_hi, uint step, uint stream, float rate,
                                 float scale, int training) {
    const uint k = (uint)get_global_id(0), blk = base_blk + k;
    const int i0 = (int)k * LP_DROPOUT_BLOCK - base_off;
    if (i0 >= total) return;
    const bool full = i0 >= 0 && i0 + LP_DROPOUT_BLOCK <= total;
    if (!training) {
        if (full)
            for (int v = 0; v < LP_DROPOUT_BLOCK / 8; ++v)
                vstore8(vload8(v, in + i0), v, out + i0);
        else
            for (int i = max(i0, 0); i < min(i0 + LP_DROPOUT_BLOCK, total); ++i)
                out[i] = in[i];
        return;
    }
    if (full) {
        uint8 x = blk * 8u + (uint8)(0, 1, 2, 3, 4, 5, 6, 7);
        uint8 y = (uint8)(step), z = (uint8)(stream), w = (uint8)(0u);
        lp_philox4x32_x8(&x, &y, &z, &w, seed_lo, seed_hi);
        LP_DROPOUT_STORE8_(0, x)
        LP_DROPOUT_STORE8_(1, y)
        LP_DROPOUT_STORE8_(2, z)
        LP_DROPOUT_STORE8_(3, w)
        return;
    }
    /* A block cut by the buffer's start or end, value by value: each value's counter
     * drawn again as a scalar. */
    for (int i = max(i0, 0); i < min(i0 + LP_DROPOUT_BLOCK, total); ++i) {
        uint e = (uint)(i - i0), j = e / 8;
        uint4 w = lp_philox4x32((uint4)(blk * 8u + e % 8, step, stream, 0u), seed_lo, seed_hi);
        uint word = j == 0 ? w.x : j == 1 ? w.y : j == 2 ? w.z : w.w;
        bool keep = !((float)(word >> 8) * (1.0f / 16777216.0f) < rate);
        out[i] = keep ? in[i] * scale : 0.0f;
        mask[i] = keep ? 1 : 0;
    }
}

/* dx = dy * scale where the forward pass kept the value, else 0 (training == 1); a plain
 * copy after an inference pass. The buffer's own 32-value blocks: the stored mask is per
 * value, so the global index plays no part. */
__kernel void lp_dropout_backward(__global const float *dy, __global const uchar *mask,
                                  __global float *dx, int total, float scale, int training) {
    const int i0 = (int)get_global_id(0) * LP_DROPOUT_BLOCK;
    if (i0 >= total) return;
    if (i0 + LP_DROPOUT_BLOCK <= total) {
#pragma unroll
        for (int v = 0; v < LP_DROPOUT_BLOCK / 8; ++v) {
            float8 g = vload8(v, dy + i0);
            if (training)
                g = select((float8)(0.0f), g * scale, convert_int8(vload8(v, mask + i0)) != 0);
            vstore8(g, v, dx + i0);
        }
        return;
    }
    for (int i = i0; i < total; ++i)
        dx[i] = !training ? dy[i] : mask[i] ? dy[i] * scale : 0.0f;
}
