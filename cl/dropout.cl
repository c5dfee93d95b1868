/* Inverted dropout with a mask drawn from Philox4x32-10 (common.cl), recomputed from its
 * counter wherever it is needed, so no mask is stored and the host can check every bit.
 * Element i of the batch buffer keeps its value unless u < rate, where
 *   r = Philox((i, step, stream, 0), key = (seed_lo, seed_hi)).x,  u = (r >> 8) * 2^-24. */

inline bool lp_dropout_keep_(uint i, uint seed_lo, uint seed_hi, uint step, uint stream,
                             float rate) {
    uint r = lp_philox4x32((uint4)(i, step, stream, 0u), seed_lo, seed_hi).x;
    float u = (float)(r >> 8) * (1.0f / 16777216.0f); /* exact: 24 bits */
    return !(u < rate);
}

/* out = in * scale where kept, 0 where dropped (scale = 1 / (1 - rate)); a plain copy
 * when training == 0. One work-item per value, total = n * features. Also the backward
 * pass, with in = dy and out = dx: the same counter gives the same mask. */
__kernel void lp_dropout_apply(__global const float *in, __global float *out, int total,
                               uint seed_lo, uint seed_hi, uint step, uint stream, float rate,
                               float scale, int training) {
    int i = get_global_id(0);
    if (i >= total) return;
    float v = in[i];
    if (training)
        v = lp_dropout_keep_((uint)i, seed_lo, seed_hi, step, stream, rate) ? v * scale : 0.0f;
    out[i] = v;
}
