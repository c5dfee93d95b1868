/* Data augmentation on the device: each training batch is built straight from the byte
 * dataset, randomly rotated, shifted, zoomed and mirrored per sample, and normalised.
 * lp_augment_reference is the definition; the kernel reproduces it bit for bit.
 *
 * The definition, for output sample r of a batch (position p = first + r in the epoch's
 * order, source sample idx[p]), output row i < h and column j < w:
 *   draws   (u0,u1,u2,u3) = Philox4x32-10(key = seed, counter = (p, epoch, 0x41000000, 0));
 *           s_k = 2 * (u_k >> 8) / 2^24 - 1, uniform in [-1, 1) and exact in float
 *   angle   = s0 * rotate_deg degrees; theta = angle * (pi / 180) in float; cos/sin from a
 *           fixed float polynomial (portable: no libm, same bits everywhere)
 *   shift   tx = s1 * shift * w, ty = s2 * shift * h pixels (not rounded)
 *   zoom    z = 1 + s3 * zoom (z > 1 shows more of the image, as in Keras)
 *   flip    hflip and (u0 & 1): the output is mirrored left-right
 *   centre  cx = (w - 1) / 2, cy = (h - 1) / 2 (the true centre of the pixel grid)
 *   source  j' = flip ? w - 1 - j : j; xo = j' - cx; yo = i - cy;
 *           xs = cx + z * (cos * xo - sin * yo) + tx;  ys = cy + z * (sin * xo + cos * yo) + ty
 *           sx = clamp(floor(xs + 0.5), 0, w - 1), sy likewise (nearest pixel; outside the
 *           image the nearest edge pixel, Keras' fill_mode "nearest")
 *   value   x_out[r, ch, i, j] = (v / 255 - mean[g]) * inv_std[g] where v is the byte at
 *           (idx[p], ch, sy, sx) and g = (ch, sy, sx) its feature: the statistics travel
 *           with the pixel, which equals normalising the dataset first and augmenting
 *           second, as the Keras scripts do.
 * Every step is a single float operation in the order written (no fused multiply-add),
 * and v / 255 is computed correctly rounded, so host and device agree exactly. */
#ifndef LAPERM_AUGMENT_H
#define LAPERM_AUGMENT_H

#include <stdbool.h>
#include <stdint.h>

#include "laperm/runtime.h"

/* Philox stream of the augmentation draws (the counter's third word). */
#define LP_STREAM_AUGMENT 0x41000000u

typedef struct {
    float rotate_deg; /* angle uniform in [-rotate_deg, rotate_deg], 0 to 180 */
    float shift;      /* shifts uniform in [-shift, shift] times width / height, 0 to 1 */
    float zoom;       /* zoom factor uniform in [1 - zoom, 1 + zoom], 0 to < 1 */
    bool hflip;       /* mirror left-right with probability 1/2 */
} lp_augment_spec;

/* LP_OK when every field is in range (NaN is not); else LP_ERR_INVALID_ARG naming the
 * field, its value and the range. A NULL spec is valid (no augmentation). */
lp_status lp_augment_check(const lp_augment_spec *a);
/* True when `a` is NULL or changes nothing (all ranges 0, no flip). */
bool lp_augment_is_identity(const lp_augment_spec *a);

/* One sample's random transform, as defined above. */
typedef struct {
    float angle_deg, sin_t, cos_t; /* rotation */
    float tx, ty;                  /* shift in pixels along x (columns) and y (rows) */
    float zoom;                    /* z */
    bool flip;
} lp_augment_params;

/* The draws of epoch `epoch` for position `position` in that epoch's order, for h x w
 * images. A NULL spec gives the identity. */
void lp_augment_draw(const lp_augment_spec *a, uint64_t seed, int epoch, int position, int h, int w,
                     lp_augment_params *out);

/* Host reference of lp_op_augment_batch (the definition above): pixels (n, c, h, w)
 * bytes, labels (n), idx (>= first + rows entries), mean/inv_std (c*h*w, NULL for 0 and
 * 1), x_out (rows, c, h, w), y_out (rows, may be NULL). `a` may be NULL. */
void lp_augment_reference(const lp_augment_spec *a, uint64_t seed, int epoch, const uint8_t *pixels,
                          const int32_t *labels, const int32_t *idx, int first, int rows, int c,
                          int h, int w, const float *mean, const float *inv_std, float *x_out,
                          int32_t *y_out);

/* Enqueues the kernel: x_out (rows, c, h, w) floats and y_out (rows) ints from the uchar
 * pixels (n, c, h, w), int labels and the epoch's int order idx, with mean and inv_std
 * (c*h*w floats) already on the device. `a` NULL (or an identity spec) gives plain
 * normalised batches, e.g. for evaluation. Arguments are checked before the launch
 * (LP_ERR_INVALID_ARG); idx entries are trusted to be < n. rows == 0 enqueues nothing. */
lp_status lp_op_augment_batch(lp_runtime *rt, const lp_augment_spec *a, uint64_t seed, int epoch,
                              cl_mem pixels, cl_mem labels, cl_mem idx, int first, int rows, int c,
                              int h, int w, cl_mem mean, cl_mem inv_std, cl_mem x_out,
                              cl_mem y_out);
/* As lp_op_augment_batch, from float values (n, c, h, w) taken as they are instead of
 * bytes / 255 (lp_dataset.x_real data); the same transform picks the same sources. */
lp_status lp_op_augment_batch_real(lp_runtime *rt, const lp_augment_spec *a, uint64_t seed,
                                   int epoch, cl_mem values, cl_mem labels, cl_mem idx, int first,
                                   int rows, int c, int h, int w, cl_mem mean, cl_mem inv_std,
                                   cl_mem x_out, cl_mem y_out);

#endif
