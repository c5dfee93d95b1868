/* conv2d by Winograd's minimal filtering (cl/conv_winograd.cl): a fourth path of
 * [conv2d] for 3x3 stride-1 layers (any padding up to 2 a side, any plane size and
 * channel count), F(2x2,3x3) or F(4x4,3x3). Same layouts as the other paths: x (n, cin, ih,
 * iw), kernel W (F, cin, 3, 3), out (n, F, oh, ow). Input tiles, output-gradient tiles and
 * the kernel are transformed to WG_P = (m+2)^2 points; per point the sums over channels
 * (forward, input gradient) or over tiles (kernel gradient) are matrix products, those of
 * all points in one launch (register tiles of cl/tile.cl). Samples go through in chunks
 * that fit a byte budget; the kernel gradient adds the chunks' products in order before
 * its inverse transform. On CPUs the input gradient goes in chunks of its own, about
 * LP_CONV_WINOGRAD_CPU_TILES tiles (its bits do not depend on them). Every sum has a
 * fixed order: the same bits every run for the same chunk size and device. Like
 * laperm/ops.h,
 * the calls enqueue work and never wait.
 *
 * Rounding: the transforms' constants (up to 8 and 1/24 for m = 4) make the error larger
 * than a direct sum's: |error| <= k u E, E the result of the same computation on the
 * absolute values (lp_ref_winograd_bound, host/reference.h), k = (terms summed per point)
 * + 25 (README, "Convolution paths"). */
#ifndef LAPERM_CONV_WINOGRAD_H
#define LAPERM_CONV_WINOGRAD_H

#include <stdbool.h>

#include "laperm/ops_conv.h"
#include "laperm/workspace.h"

typedef struct lp_conv_winograd lp_conv_winograd;

/* NULL when the Winograd path can run geometry g with this many filters (3x3, stride 1,
 * padding at most 2, planes and buffers within int offsets), else why not. */
const char *lp_conv_winograd_unfit(const lp_conv_geom *g, int filters);

/* The output tile the [conv2d] layers use: 4 (F(4x4,3x3), 36 points for 16 outputs)
 * unless $LAPERM_WINOGRAD_TILE is 2 (F(2x2,3x3), 16 points for 4: less rounding, 1.8 times
 * the products); README, "Convolution paths", has the measurements. */
int lp_conv_winograd_tile(void);
/* LP_ERR_INVALID_ARG, naming the variable, when $LAPERM_WINOGRAD_TILE is set to anything
 * but 2 or 4. */
lp_status lp_conv_winograd_tile_check(void);

/* Tiles a chunk holds on CPUs, whole samples, where a layer goes in chunks there (the
 * input gradient always, the other passes for large samples: conv2d_unit.c): small
 * enough for the transforms' output to be in the caches when the products read it. */
#define LP_CONV_WINOGRAD_CPU_TILES 512

/* Device bytes for output tile m (2 or 4), at most: fixed, plus per_sample for each sample
 * of a chunk (with_dx: the input gradient's buffers too, which on CPUs may take fewer). */
void lp_conv_winograd_bytes(const lp_conv_geom *g, int filters, int m, bool with_dx, size_t *fixed,
                            size_t *per_sample);

/* Device bytes lp_conv_winograd_create with these arguments makes the object hold on rt's
 * device, with its scratch shared (lp_conv_winograd_share_scratch): its own (the
 * transformed kernel, the input tiles) and what its passes ask of the workspace's slots. */
void lp_conv_winograd_held(lp_runtime *rt, const lp_conv_geom *g, int filters, int m, int chunk,
                           bool with_dx, lp_held_bytes *out);

/* Chunks of up to `chunk` samples, output tiles m x m (2 or 4). with_dx: backward passes
 * will ask for the input gradient. */
lp_status lp_conv_winograd_create(lp_runtime *rt, const lp_conv_geom *g, int filters, int m,
                                  int chunk, bool with_dx, lp_conv_winograd **out);
void lp_conv_winograd_destroy(lp_conv_winograd *w);
/* From now on the products' buffers (forward, kernel and input gradient) and the input
 * gradient's dy tiles, which live only within a pass, are borrowed from ws
 * (laperm/workspace.h) instead of held. */
void lp_conv_winograd_share_scratch(lp_conv_winograd *w, lp_workspace *ws);

/* y (n, F, oh, ow) = W . windows(x) (+ bias at params + b_off, b_off < 0: none; then ReLU
 * if relu), W at params + w_off. Overwrites y. Keeps the input's transform when one chunk
 * held the batch, for the backward pass. */
lp_status lp_conv_winograd_forward(lp_conv_winograd *w, int n, cl_mem x, cl_mem params,
                                   size_t w_off, int b_off, bool relu, cl_mem y);

/* For the last forward's x (same n) and dy (n, F, oh, ow) already masked by the ReLU: dW
 * overwritten at grads + gw_off and, with dx (the object made with_dx), the input gradient
 * (n, cin, ih, iw), overwritten. The bias gradient is the caller's. */
lp_status lp_conv_winograd_backward(lp_conv_winograd *w, int n, cl_mem x, cl_mem dy, cl_mem params,
                                    size_t w_off, cl_mem grads, size_t gw_off, cl_mem dx);

#endif
