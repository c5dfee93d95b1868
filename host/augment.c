/* Random rotation, shift, zoom and mirroring of training images: the host reference that
 * defines the transform (see include/laperm/augment.h) and the wrapper of the kernel in
 * cl/augment.cl, which repeats the reference's float operations one for one. */
#include "laperm/augment.h"

#include <limits.h>
#include <math.h>
#include <stddef.h>

#include "laperm/rng.h"

/* Written as single operations, one per statement, in the kernel's order: compilers may
 * fuse a*b+c within one expression (clang's default), never across statements. */

#define DEG_TO_RAD_ 0x1.1df46ap-6f /* pi / 180 rounded to float */

/* Taylor coefficients 1/k! rounded to float; the polynomials are accurate to about 1e-7
 * for |x| <= pi, which is all a rotation of at most 180 degrees needs. */

/* The Philox stream the kernel draws from, named once (laperm/augment.h). */
#define AUGMENT_OPTIONS_ LP_CL_DEFINE(LP_AUG_STREAM, LP_STREAM_AUGMENT)

static const float sin_c_[] = {0x1.555556p-3f,  0x1.111112p-7f,  0x1.a01a02p-13f,
                               0x1.71de3ap-19f, 0x1.ae6456p-26f, 0x1.612462p-33f,
                               0x1.ae7f3ep-41f, 0x1.952c78p-49f}; /* 1/3! .. 1/17! */
static const float cos_c_[] = {0x1p-1f,         0x1.555556p-5f,  0x1.6c16c2p-10f,
                               0x1.a01a02p-16f, 0x1.27e4fcp-22f, 0x1.1eed8ep-29f,
                               0x1.93974ap-37f, 0x1.ae7f3ep-45f, 0x1.682786p-53f}; /* 1/2!..1/18! */

/* sin and cos from +, - and * only, so the bits are the same on every machine. */
static void sincos_(float x, float *sin_out, float *cos_out) {
    float x2 = x * x;
    float p = sin_c_[7]; /* + x^17/17! */
    for (int k = 6; k >= 0; --k) {
        p = p * x2;
        p = (k & 1) ? p + sin_c_[k] : p - sin_c_[k]; /* - x^3/3!, + x^5/5!, ... */
    }
    p = p * x2;
    p = p * x;
    *sin_out = x + p;
    float q = -cos_c_[8]; /* - x^18/18! */
    for (int k = 7; k >= 0; --k) {
        q = q * x2;
        q = (k & 1) ? q + cos_c_[k] : q - cos_c_[k]; /* - x^2/2!, + x^4/4!, ... */
    }
    q = q * x2;
    *cos_out = 1.0f + q;
}

/* The 24 high bits of a Philox word as a float in [-1, 1): exact. */
static float symmetric_(uint32_t u) {
    return (float)((int32_t)(u >> 8) - 8388608) * 0x1p-23f;
}

lp_status lp_augment_check(const lp_augment_spec *a) {
    if (!a) return LP_OK;
    /* written so that NaN fails every test */
    if (!(a->rotate_deg >= 0.0f && a->rotate_deg <= 180.0f))
        return lp_fail(LP_ERR_INVALID_ARG,
                       "augmentation rotate_deg is %g, expected 0 to 180 (degrees)",
                       (double)a->rotate_deg);
    if (!(a->shift >= 0.0f && a->shift <= 1.0f))
        return lp_fail(LP_ERR_INVALID_ARG,
                       "augmentation shift is %g, expected 0 to 1 (a fraction of the image size)",
                       (double)a->shift);
    if (!(a->zoom >= 0.0f && a->zoom < 1.0f))
        return lp_fail(LP_ERR_INVALID_ARG,
                       "augmentation zoom is %g, expected 0 to less than 1 (the factor is drawn "
                       "from [1 - zoom, 1 + zoom])",
                       (double)a->zoom);
    return LP_OK;
}

bool lp_augment_is_identity(const lp_augment_spec *a) {
    return !a || (a->rotate_deg == 0.0f && a->shift == 0.0f && a->zoom == 0.0f && !a->hflip);
}

void lp_augment_draw(const lp_augment_spec *a, uint64_t seed, int epoch, int position, int h, int w,
                     lp_augment_params *out) {
    static const lp_augment_spec none = {0};
    if (!a) a = &none;
    lp_philox_ctr c = {{(uint32_t)position, (uint32_t)epoch, LP_STREAM_AUGMENT, 0}};
    lp_philox_ctr u = lp_philox4x32(c, seed);
    out->angle_deg = symmetric_(u.v[0]) * a->rotate_deg;
    float theta = out->angle_deg * DEG_TO_RAD_;
    sincos_(theta, &out->sin_t, &out->cos_t);
    out->tx = symmetric_(u.v[1]) * a->shift;
    out->tx = out->tx * (float)w;
    out->ty = symmetric_(u.v[2]) * a->shift;
    out->ty = out->ty * (float)h;
    out->zoom = symmetric_(u.v[3]) * a->zoom;
    out->zoom = 1.0f + out->zoom;
    out->flip = a->hflip && (u.v[0] & 1u);
}

/* Nearest source pixel index along one axis, clamped to the image. */
static int nearest_(float s, int size) {
    float f = floorf(s + 0.5f);
    return f < 0.0f ? 0 : f > (float)(size - 1) ? size - 1 : (int)f;
}

void lp_augment_reference(const lp_augment_spec *a, uint64_t seed, int epoch, const uint8_t *pixels,
                          const int32_t *labels, const int32_t *idx, int first, int rows, int c,
                          int h, int w, const float *mean, const float *inv_std, float *x_out,
                          int32_t *y_out) {
    size_t hw = (size_t)h * w, features = (size_t)c * hw;
    float cx = (float)(w - 1) * 0.5f, cy = (float)(h - 1) * 0.5f;
    for (int r = 0; r < rows; ++r) {
        int src = idx[first + r];
        lp_augment_params p;
        lp_augment_draw(a, seed, epoch, first + r, h, w, &p);
        if (y_out) y_out[r] = labels[src];
        for (int i = 0; i < h; ++i) {
            for (int j = 0; j < w; ++j) {
                float xo = (float)(p.flip ? w - 1 - j : j) - cx;
                float yo = (float)i - cy;
                float t1 = p.cos_t * xo, t2 = p.sin_t * yo;
                float xs = t1 - t2;
                xs = p.zoom * xs;
                xs = cx + xs;
                xs = xs + p.tx;
                t1 = p.sin_t * xo;
                t2 = p.cos_t * yo;
                float ys = t1 + t2;
                ys = p.zoom * ys;
                ys = cy + ys;
                ys = ys + p.ty;
                size_t g = (size_t)nearest_(ys, h) * w + (size_t)nearest_(xs, w);
                for (int ch = 0; ch < c; ++ch, g += hw) {
                    /* IEEE division: correctly rounded, as the kernel's fma form */
                    float v = (float)pixels[(size_t)src * features + g] / 255.0f;
                    v = v - (mean ? mean[g] : 0.0f);
                    v = v * (inv_std ? inv_std[g] : 1.0f);
                    x_out[(size_t)r * features + (size_t)ch * hw + (size_t)i * w + j] = v;
                }
            }
        }
    }
}

static lp_status need_bytes_(cl_mem buf, size_t need, const char *what, int count) {
    size_t have = 0;
    LP_TRY(lp_cl_check(clGetMemObjectInfo(buf, CL_MEM_SIZE, sizeof have, &have, NULL),
                       "clGetMemObjectInfo(CL_MEM_SIZE)"));
    if (have < need)
        return lp_fail(LP_ERR_INVALID_ARG,
                       "lp_op_augment_batch: %s holds %zu bytes, %d entries need %zu", what, have,
                       count, need);
    return LP_OK;
}

static lp_status augment_batch_(lp_runtime *rt, const lp_augment_spec *a, uint64_t seed, int epoch,
                                cl_mem pixels, bool real, cl_mem labels, cl_mem idx, int first,
                                int rows, int c, int h, int w, cl_mem mean, cl_mem inv_std,
                                cl_mem x_out, cl_mem y_out) {
    if (!rt || !pixels || !labels || !idx || !mean || !inv_std || !x_out || !y_out)
        return lp_fail(LP_ERR_INVALID_ARG,
                       "lp_op_augment_batch: rt and every buffer (pixels, labels, idx, mean, "
                       "inv_std, x_out, y_out) are required");
    LP_TRY(lp_augment_check(a));
    if (c < 1 || h < 1 || w < 1 || (int64_t)c * h * w > INT_MAX)
        return lp_fail(LP_ERR_INVALID_ARG,
                       "lp_op_augment_batch: image shape %dx%dx%d, expected positive sizes with "
                       "at most %d features",
                       c, h, w, INT_MAX);
    if (first < 0 || rows < 0 || epoch < 0 || first > INT_MAX - rows)
        return lp_fail(LP_ERR_INVALID_ARG,
                       "lp_op_augment_batch: first %d, rows %d and epoch %d must be >= 0 (and "
                       "first + rows fit an int)",
                       first, rows, epoch);
    if (rows == 0) return LP_OK;
    /* The kernel writes rows samples: outputs too small would be written past their end
     * (silent corruption on a real device), so they are refused here. */
    size_t feats = (size_t)c * h * w;
    LP_TRY(need_bytes_(idx, ((size_t)first + rows) * sizeof(uint32_t), "idx", first + rows));
    LP_TRY(need_bytes_(x_out, (size_t)rows * feats * sizeof(float), "x_out", rows));
    LP_TRY(need_bytes_(y_out, (size_t)rows * sizeof(int32_t), "y_out", rows));

    cl_kernel k;
    LP_TRY(lp_runtime_kernel(rt, "augment", "lp_augment_batch",
                             real ? AUGMENT_OPTIONS_ " -DLP_AUG_REAL=1" : AUGMENT_OPTIONS_, &k));
    static const lp_augment_spec none = {0};
    if (!a) a = &none;
    int hflip = a->hflip, identity = lp_augment_is_identity(a);
    cl_uint seed_lo = (cl_uint)seed, seed_hi = (cl_uint)(seed >> 32), ep = (cl_uint)epoch;
    cl_uint i = 0;
    LP_ARG(k, i++, pixels);
    LP_ARG(k, i++, labels);
    LP_ARG(k, i++, idx);
    LP_ARG(k, i++, first);
    LP_ARG(k, i++, rows);
    LP_ARG(k, i++, c);
    LP_ARG(k, i++, h);
    LP_ARG(k, i++, w);
    LP_ARG(k, i++, a->rotate_deg);
    LP_ARG(k, i++, a->shift);
    LP_ARG(k, i++, a->zoom);
    LP_ARG(k, i++, hflip);
    LP_ARG(k, i++, identity);
    LP_ARG(k, i++, seed_lo);
    LP_ARG(k, i++, seed_hi);
    LP_ARG(k, i++, ep);
    LP_ARG(k, i++, mean);
    LP_ARG(k, i++, inv_std);
    LP_ARG(k, i++, x_out);
    LP_ARG(k, i++, y_out);
    size_t hw = (size_t)h * w;
    size_t local[2] = {lp_runtime_wgs(rt, k, 64), 1};
    size_t global[2] = {hw, (size_t)rows};
    return lp_launch(rt, k, 2, global, local, "augment_batch");
}

lp_status lp_op_augment_batch(lp_runtime *rt, const lp_augment_spec *a, uint64_t seed, int epoch,
                              cl_mem pixels, cl_mem labels, cl_mem idx, int first, int rows, int c,
                              int h, int w, cl_mem mean, cl_mem inv_std, cl_mem x_out,
                              cl_mem y_out) {
    return augment_batch_(rt, a, seed, epoch, pixels, false, labels, idx, first, rows, c, h, w,
                          mean, inv_std, x_out, y_out);
}

lp_status lp_op_augment_batch_real(lp_runtime *rt, const lp_augment_spec *a, uint64_t seed,
                                   int epoch, cl_mem values, cl_mem labels, cl_mem idx, int first,
                                   int rows, int c, int h, int w, cl_mem mean, cl_mem inv_std,
                                   cl_mem x_out, cl_mem y_out) {
    return augment_batch_(rt, a, seed, epoch, values, true, labels, idx, first, rows, c, h, w, mean,
                          inv_std, x_out, y_out);
}
