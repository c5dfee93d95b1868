/* The device's arithmetic peak and memory bandwidth, so benchmark figures can be read as
 * fractions of what the silicon does. PEAK_VW floats per vector (the device's preferred
 * width); 12 independent FMA chains per work-item hide the FMA latency (4-6 cycles
 * on current CPUs and GPUs, up to two FMA pipes). */
#ifndef PEAK_VW
#define PEAK_VW 4
#endif
#if PEAK_VW == 16
typedef float16 peakv;
#elif PEAK_VW == 8
typedef float8 peakv;
#else
typedef float4 peakv;
#endif

__kernel void lp_peak_fma(__global float *out, int iters, float a, float b) {
    peakv x0 = (peakv)(get_global_id(0) * 1e-9f), x1 = x0 + 1e-3f, x2 = x0 + 2e-3f, x3 = x0 + 3e-3f,
          x4 = x0 + 4e-3f, x5 = x0 + 5e-3f, x6 = x0 + 6e-3f, x7 = x0 + 7e-3f, x8 = x0 + 8e-3f,
          x9 = x0 + 9e-3f, xa = x0 + 1e-2f, xb = x0 + 1.1e-2f;
    const peakv va = (peakv)(a), vb = (peakv)(b);
    for (int i = 0; i < iters; ++i) {
        x0 = fma(x0, va, vb);
        x1 = fma(x1, va, vb);
        x2 = fma(x2, va, vb);
        x3 = fma(x3, va, vb);
        x4 = fma(x4, va, vb);
        x5 = fma(x5, va, vb);
        x6 = fma(x6, va, vb);
        x7 = fma(x7, va, vb);
        x8 = fma(x8, va, vb);
        x9 = fma(x9, va, vb);
        xa = fma(xa, va, vb);
        xb = fma(xb, va, vb);
    }
    peakv s = ((x0 + x1) + (x2 + x3)) + ((x4 + x5) + (x6 + x7)) + ((x8 + x9) + (xa + xb));
    float r = 0.0f;
    for (int l = 0; l < PEAK_VW; ++l)
        r += ((float *)&s)[l];
    /* Stored, so the compiler cannot drop the loop. */
    out[get_global_id(0)] = r;
}

/* Copies float4 i to i, one per work-item: neighbouring work-items touch neighbouring
 * addresses, which suits both GPUs (coalesced) and CPUs (a work-group is a linear run).
 * Read + write bandwidth. */
__kernel void lp_peak_copy(__global const float4 *src, __global float4 *dst, int n4) {
    const int i = (int)get_global_id(0);
    if (i < n4) dst[i] = src[i];
}
