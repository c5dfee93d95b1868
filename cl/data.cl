/* Batch assembly on the device: the datasets live on the device as bytes, and each
 * step gathers its (shuffled) rows, so the host uploads only an index list per epoch. */

/* x_out[r, f] = pixels[idx[first + r], f] / 255; y_out[r] = labels[idx[first + r]]. */
__kernel void lp_gather_batch(__global const uchar *pixels, __global const int *labels,
                              __global const int *idx, int first, int rows, int features,
                              __global float *x_out, __global int *y_out) {
    int f = get_global_id(0), r = get_global_id(1);
    if (r >= rows || f >= features) return;
    int src = idx[first + r];
    x_out[(size_t)r * features + f] = (float)pixels[(size_t)src * features + f] / 255.0f;
    if (f == 0) y_out[r] = labels[src];
}
