/* Internal: a convolution over a layer's buffers, an op that layer kinds share: [conv2d]
 * is one, and [add] builds one for its projection shortcut. It reads l->prev->out and
 * writes l->out (own buffers); backward writes the kernel and bias gradients and, with
 * need_dx, l->prev->dout. Its path (GEMM, FFT, direct) follows lp_network_options. */
#ifndef LAPERM_CONV2D_UNIT_H
#define LAPERM_CONV2D_UNIT_H

#include "layer.h"

/* Builds the unit into l: l->spec gives the name and output shape, l->prev the input,
 * l->first_tensor the kernel (then the bias if spec->use_bias); win is the window the
 * parser computed. */
lp_status lp_conv2d_unit_init(lp_network *net, lp_layer *l, const lp_conv2d_spec *spec,
                              const lp_window *win);

/* The device bytes lp_conv2d_unit_init with these arguments makes the unit hold beyond its
 * output and output gradient, and ask of the network's workspace, at most (the memory
 * plan's: memory_plan.h): those of the path the unit would take, or when auto times the
 * paths (--fast), the most of any that may win; for a unit already built
 * (l->conv_path set), those of its path. net and l as init gets them: net's runtime,
 * max_batch and options, l's spec, index and need_dx. Allocates nothing. */
lp_status lp_conv2d_unit_held(const lp_network *net, const lp_layer *l, const lp_conv2d_spec *spec,
                              const lp_window *win, lp_held_bytes *out);

/* A model file's [conv2d] defaults: stride 1, padding valid, bias, no activation,
 * he_uniform kernel, zero bias, no l2, permuted; filters and kernel size 0 (required). */
lp_conv2d_spec lp_conv2d_defaults(void);

/* The kernel (filters, cin, kh, kw), one LaPerm group per filter, and the bias of a
 * convolution of layer `layer` over cin channels; returns how many (1 or 2). */
int lp_conv2d_tensors(int layer, int cin, const lp_conv2d_spec *c, lp_param_tensor *t);

#endif
