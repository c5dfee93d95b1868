/* conv2d computed from the images themselves (cl/conv_direct.cl): a third path of
 * [conv2d] beside im2col + GEMM and the FFTs, with the same layouts: x (n, cin, ih, iw)
 * NCHW, kernel W (F, cin, kh, kw) = (F, K) row-major, out (n, F, oh, ow). Any stride and
 * padding: the input is first split into its stride phases (zero-padded), which makes
 * every layer a stride-1 valid convolution. No column matrices: the forward product and
 * the input gradient read the planes through per-tap offsets, and the kernel gradient
 * reads them at offsets compiled into its program, against a pixel-major copy of the
 * output gradient. Every sum runs in a fixed order (no atomics, the same bits every run,
 * whatever the batch). Like laperm/ops.h, the calls enqueue work and never wait. */
#ifndef LAPERM_CONV_DIRECT_H
#define LAPERM_CONV_DIRECT_H

#include <stdbool.h>

#include "laperm/gemm.h"
#include "laperm/ops_conv.h"
#include "laperm/workspace.h"

typedef struct lp_conv_direct lp_conv_direct;

/* NULL when the direct path can run geometry g with this many filters, else why not. */
const char *lp_conv_direct_unfit(const lp_conv_geom *g, int filters);
/* The same, and on rt's device: NULL unless its loop limit (lp_device_info.loop_limit)
 * would end the products' loops early. */
const char *lp_conv_direct_unfit_on(lp_runtime *rt, const lp_conv_geom *g, int filters);

/* For batches of up to max_batch samples. Buffers come with the first call that needs
 * them, for its batch (an evaluation batch far above the training batch then costs only
 * what the forward pass uses). with_dx: backward passes will ask for the input gradient. */
lp_status lp_conv_direct_create(lp_runtime *rt, const lp_conv_geom *g, int filters, int max_batch,
                                bool with_dx, lp_conv_direct **out);
void lp_conv_direct_destroy(lp_conv_direct *d);
/* The backward pass's output-gradient layouts come from ws (laperm/workspace.h), shared
 * with the network's other layers, instead of buffers of d's own (the default). ws must
 * outlive d. */
void lp_conv_direct_share_backward(lp_conv_direct *d, lp_workspace *ws);

/* Device bytes an object made with these arguments holds, with its backward layouts
 * shared (lp_conv_direct_share_backward) and backward passes of at most train_batch
 * samples, at most: its own (the packed kernel, the taps, the phases of max_batch
 * samples) and what it asks of the workspace's slots. */
void lp_conv_direct_held(lp_runtime *rt, const lp_conv_geom *g, int filters, int max_batch,
                         int train_batch, bool with_dx, lp_held_bytes *out);

/* y (n, F, oh, ow) = W . windows(x) (+ bias, then ReLU if relu), W at params + w_off and
 * the bias at params + b_off (b_off < 0: none). Overwrites y. */
lp_status lp_conv_direct_forward(lp_conv_direct *d, int n, cl_mem x, cl_mem params, size_t w_off,
                                 int b_off, bool relu, cl_mem y);

/* The gradients of the last forward pass (same x and n) for dy (n, F, oh, ow), masked by
 * the ReLU read from y when relu: dW overwritten at grads + gw_off, and with dx (the
 * object made with_dx) the input gradient (n, cin, ih, iw), overwritten. The bias
 * gradient is the caller's (lp_op_conv_bias_grad). */
lp_status lp_conv_direct_backward(lp_conv_direct *d, int n, cl_mem x, cl_mem y, cl_mem dy,
                                  bool relu, cl_mem params, size_t w_off, cl_mem grads,
                                  size_t gw_off, cl_mem dx);

#endif
