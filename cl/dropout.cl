/* Inverted dropout with a mask drawn from Philox4x32-10 (common.cl), recomputed from its
 * counter wherever it is needed, so no mask is stored and the host can check every bit.
 * Element i of the batch buffer keeps its value unless u < rate, where
 *   r = word (i mod 4) of Philox((i / 4, step, stream, 0), key = (seed_lo, seed_hi)),
 *   u = (r >> 8) * 2^-24,
 * so one Philox call (10 rounds) serves four elements. */

inline bool lp_dropout_keep_(uint r, float rate) {
    float u = (float)(r >> 8) * (1.0f / 16777216.0f); /* exact: 24 bits */
    return !(u < rate);
}

/* out = in * scale where kept, 0 where dropped (scale = 1 / (1 - rate)); a plain copy
 * when training == 0. One work-item per four values, total = n * features. Also the
 * backward pass, with in = dy and out = dx: the same counter gives the same mask. */
__kernel void lp_dropout_apply(__global const float *in, __global float *out, int total,
                               uint seed_lo, uint seed_hi, uint step, uint stream, float rate,
                               float scale, int training) {
    const int q = get_global_id(0), i0 = 4 * q;
    if (i0 >= total) return;
    uint4 r = (uint4)(0u);
    if (training) r = lp_philox4x32((uint4)((uint)q, step, stream, 0u), seed_lo, seed_hi);
    const uint words[4] = {r.x, r.y, r.z, r.w};
    for (int l = 0; l < 4 && i0 + l < total; ++l) {
        float v = in[i0 + l];
        if (training) v = lp_dropout_keep_(words[l], rate) ? v * scale : 0.0f;
        out[i0 + l] = v;
    }
}
