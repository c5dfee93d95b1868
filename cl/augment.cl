/* Augmented, normalised training batches built on the device from the byte dataset.
 * The transform is defined by lp_augment_reference (host/augment.c, documented in
 * include/laperm/augment.h); this file repeats its float operations one for one so that
 * both give the same bits. */

/* a*b+c must stay two roundings, as on the host (OpenCL C allows fusing by default). */
#pragma OPENCL FP_CONTRACT OFF

#ifndef LP_AUG_STREAM /* LP_STREAM_AUGMENT, from the host (host/augment.c) */
#error "LP_AUG_STREAM comes from the host"
#endif
#define LP_DEG_TO_RAD 0x1.1df46ap-6f /* pi / 180 rounded to float */
#define LP_BYTE_RCP 0x1.010102p-8f   /* 1 / 255 rounded to float */

__constant float lp_aug_sin_c[8] = {0x1.555556p-3f,  0x1.111112p-7f,  0x1.a01a02p-13f,
                                    0x1.71de3ap-19f, 0x1.ae6456p-26f, 0x1.612462p-33f,
                                    0x1.ae7f3ep-41f, 0x1.952c78p-49f};
__constant float lp_aug_cos_c[9] = {0x1p-1f,         0x1.555556p-5f,  0x1.6c16c2p-10f,
                                    0x1.a01a02p-16f, 0x1.27e4fcp-22f, 0x1.1eed8ep-29f,
                                    0x1.93974ap-37f, 0x1.ae7f3ep-45f, 0x1.682786p-53f};

/* sin and cos from +, - and * only (Taylor to x^18), as sincos_ on the host. */
inline float2 lp_aug_sincos(float x) {
    float x2 = x * x;
    float p = lp_aug_sin_c[7];
    for (int k = 6; k >= 0; --k) {
        p = p * x2;
        p = (k & 1) ? p + lp_aug_sin_c[k] : p - lp_aug_sin_c[k];
    }
    p = p * x2;
    p = p * x;
    float s = x + p;
    float q = -lp_aug_cos_c[8];
    for (int k = 7; k >= 0; --k) {
        q = q * x2;
        q = (k & 1) ? q + lp_aug_cos_c[k] : q - lp_aug_cos_c[k];
    }
    q = q * x2;
    return (float2)(s, 1.0f + q);
}

inline float lp_aug_symmetric(uint u) {
    return (float)((int)(u >> 8) - 8388608) * 0x1p-23f;
}

inline int lp_aug_nearest(float s, int size) {
    float f = floor(s + 0.5f);
    return f < 0.0f ? 0 : f > (float)(size - 1) ? size - 1 : (int)f;
}

/* v / 255 correctly rounded without relying on the device's division (which OpenCL
 * allows to be 2.5 ulp off): one correction step with exact fma residuals, checked for
 * every byte by tests/cltest_augment.c. The quotient is never negative, and fabs only
 * clears a sign bit: Rusticl (no FMA in hardware, fma emulated) gives fma(-0, 255, +0)
 * as -0 where IEEE 754 says +0, so byte 0 came out as -0. */
inline float lp_aug_unit(uchar b) {
    float v = (float)b;
    float q = v * LP_BYTE_RCP;
    float e = fma(-q, 255.0f, v);
    return fabs(fma(e, LP_BYTE_RCP, q));
}

/* One work-item per output pixel (i, j) of sample r: gid0 = i * w + j, gid1 = r.
 * x_out (rows, c, h, w) = normalised, transformed pixels[idx[first + r]]; y_out[r] =
 * labels[idx[first + r]]. `identity` skips the draws (they would change nothing). */
/* LP_AUG_REAL: the dataset holds floats as they are (HDF5 float data) instead of bytes. */
#ifdef LP_AUG_REAL
typedef float lp_aug_pixel;
#define LP_AUG_VALUE(p) (p)
#else
typedef uchar lp_aug_pixel;
#define LP_AUG_VALUE(p) lp_aug_unit(p)
#endif

__kernel void lp_augment_batch(__global const lp_aug_pixel *pixels, __global const int *labels,
                               __global const int *idx, int first, int rows, int c, int h, int w,
                               float rotate_deg, float shift, float zoom, int hflip, int identity,
                               uint seed_lo, uint seed_hi, uint epoch, __global const float *mean,
                               __global const float *inv_std, __global float *x_out,
                               __global int *y_out) {
    int pix = get_global_id(0), r = get_global_id(1);
    if (r >= rows || pix >= h * w) return;
    int i = pix / w, j = pix - i * w;
    int pos = first + r, src = idx[pos];
    int sx = j, sy = i;
    if (!identity) {
        uint4 u = lp_philox4x32((uint4)((uint)pos, epoch, LP_AUG_STREAM, 0u), seed_lo, seed_hi);
        float angle = lp_aug_symmetric(u.x) * rotate_deg;
        float theta = angle * LP_DEG_TO_RAD;
        float2 sc = lp_aug_sincos(theta);
        float tx = lp_aug_symmetric(u.y) * shift;
        tx = tx * (float)w;
        float ty = lp_aug_symmetric(u.z) * shift;
        ty = ty * (float)h;
        float z = lp_aug_symmetric(u.w) * zoom;
        z = 1.0f + z;
        bool flip = hflip && (u.x & 1u);

        float cx = (float)(w - 1) * 0.5f, cy = (float)(h - 1) * 0.5f;
        float xo = (float)(flip ? w - 1 - j : j) - cx;
        float yo = (float)i - cy;
        float t1 = sc.y * xo, t2 = sc.x * yo;
        float xs = t1 - t2;
        xs = z * xs;
        xs = cx + xs;
        xs = xs + tx;
        t1 = sc.x * xo;
        t2 = sc.y * yo;
        float ys = t1 + t2;
        ys = z * ys;
        ys = cy + ys;
        ys = ys + ty;
        sx = lp_aug_nearest(xs, w);
        sy = lp_aug_nearest(ys, h);
    }
    size_t hw = (size_t)h * w, features = (size_t)c * hw;
    size_t g = (size_t)sy * w + sx;
    __global const lp_aug_pixel *in = pixels + (size_t)src * features;
    __global float *out = x_out + (size_t)r * features + pix;
    for (int ch = 0; ch < c; ++ch, g += hw) {
        float v = LP_AUG_VALUE(in[g]);
        v = v - mean[g];
        v = v * inv_std[g];
        out[(size_t)ch * hw] = v;
    }
    if (pix == 0) y_out[r] = labels[src];
}
