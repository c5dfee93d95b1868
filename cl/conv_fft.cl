/* The FFT convolution's own kernels (host/conv_fft.c; the transforms are clFFT's):
 * packing planes into zero-padded transform frames, the per-frequency complex
 * multiply-accumulate over the contracted axis, and cropping planes back out.
 *
 * A frame is (fh, fw) real values; a spectrum is its real-to-complex transform,
 * bins = fh * (fw/2 + 1) complex values (float2: re, im). Plane counts times frame sizes
 * can pass 2^31, so offsets are computed in 64 bits. Indices are split as q = i / d,
 * r = i - q * d, never with `/` and `%` together (Oclgrind 21.10 and clang's `freeze`,
 * see conv.cl). */

/* dst frame p = plane p of src (planes of sh x sw values from float src_off on), placed
 * with its top-left corner at (oy, ox), zeros elsewhere. Global (fh*fw, planes). */
__kernel void lp_conv_fft_pack(__global const float *src, ulong src_off, int planes, int sh, int sw,
                               int oy, int ox, int fh, int fw, __global float *dst) {
    int i = (int)get_global_id(0), p = (int)get_global_id(1);
    if (i >= fh * fw || p >= planes) return;
    int y = i / fw, x = i - y * fw;
    int sy = y - oy, sx = x - ox;
    float v = 0.0f;
    if (sy >= 0 && sy < sh && sx >= 0 && sx < sw)
        v = src[src_off + (size_t)p * sh * sw + (size_t)sy * sw + sx];
    dst[(size_t)p * fh * fw + i] = v;
}

/* plane p of dst (dh x dw values from float dst_off on) = frame p of src from (oy, ox).
 * Global (dh*dw, planes). */
__kernel void lp_conv_fft_crop(__global const float *src, int planes, int fh, int fw, int oy,
                               int ox, int dh, int dw, __global float *dst, ulong dst_off) {
    int i = (int)get_global_id(0), p = (int)get_global_id(1);
    if (i >= dh * dw || p >= planes) return;
    int y = i / dw, x = i - y * dw;
    dst[dst_off + (size_t)p * dh * dw + i] =
        src[(size_t)p * fh * fw + (size_t)(y + oy) * fw + x + ox];
}

/* As lp_conv_fft_crop, but adds to dst: the kernel gradient of a batch taken in chunks
 * sums the chunks' gradients, in chunk order. */
__kernel void lp_conv_fft_crop_add(__global const float *src, int planes, int fh, int fw, int oy,
                                   int ox, int dh, int dw, __global float *dst, ulong dst_off) {
    int i = (int)get_global_id(0), p = (int)get_global_id(1);
    if (i >= dh * dw || p >= planes) return;
    int y = i / dw, x = i - y * dw;
    dst[dst_off + (size_t)p * dh * dw + i] +=
        src[(size_t)p * fh * fw + (size_t)(y + oy) * fw + x + ox];
}

/* out spectrum (i0*n1 + i1) (re, im pairs) = sum over j = 0..nj-1, in that order, of
 * a[i0*sa0 + i1*sa1 + j*saj] * b[i0*sb0 + i1*sb1 + j*sbj], b conjugated when conj_b;
 * the indices count spectra. One work-item per (bin, i1, i0): global (bins, n1, n0), so
 * neighbouring work-items read neighbouring bins. */
__kernel void lp_conv_fft_mac(__global const float2 *a, __global const float2 *b, int conj_b,
                              int nj, int sa0, int sa1, int saj, int sb0, int sb1, int sbj, int n0,
                              int n1, int bins, __global float *out) {
    int k = (int)get_global_id(0), i1 = (int)get_global_id(1), i0 = (int)get_global_id(2);
    if (k >= bins || i1 >= n1 || i0 >= n0) return;
    __global const float2 *ap = a + (size_t)(i0 * sa0 + i1 * sa1) * bins + k;
    __global const float2 *bp = b + (size_t)(i0 * sb0 + i1 * sb1) * bins + k;
    size_t astep = (size_t)saj * bins, bstep = (size_t)sbj * bins;
    float sign = conj_b ? -1.0f : 1.0f;
    float re = 0.0f, im = 0.0f;
    for (int j = 0; j < nj; ++j) {
        float2 u = *ap, v = *bp;
        v.y *= sign;
        re += u.x * v.x - u.y * v.y;
        im += u.x * v.y + u.y * v.x;
        ap += astep;
        bp += bstep;
    }
    /* Two scalar stores: Oclgrind 21.10 reads a float2 store as one of an undefined
     * vector followed by its lanes, and reports it as uninitialised. */
    size_t o = 2 * ((size_t)(i0 * n1 + i1) * bins + k);
    out[o] = re;
    out[o + 1] = im;
}
