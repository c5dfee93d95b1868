/* Internal: a layer is a small tagged struct plus a table of functions and a pointer to
 * its own state. New layer kinds add a file host/layer_<kind>.c and one line in
 * network.c's factory. */
#ifndef LAPERM_LAYER_H
#define LAPERM_LAYER_H

#include "laperm/network.h"

typedef struct lp_layer lp_layer;

typedef struct {
    /* Reads the previous layer's `out`, writes this layer's `out` (n samples). */
    lp_status (*forward)(lp_network *net, lp_layer *l, int n, bool training);
    /* Reads `dout`, writes this layer's parameter gradients and, if need_dx, the
     * previous layer's `dout`. */
    lp_status (*backward)(lp_network *net, lp_layer *l, int n);
    void (*destroy)(lp_layer *l);
} lp_layer_ops;

struct lp_layer {
    const lp_layer_spec *spec;
    const lp_layer_ops *ops;
    lp_layer *prev;
    size_t out_features; /* per sample */
    cl_mem out, dout;    /* (max_batch, out_features); views of prev's for shape-only layers */
    bool owns_buffers;
    bool need_dx; /* some earlier layer has parameters */
    int first_tensor; /* index into the tensor table, -1 if none */
    int index;        /* position in the model (Philox stream of stochastic layers) */
    void *state;
};

struct lp_network {
    lp_runtime *rt;
    const lp_model_spec *spec;
    lp_param_tensor *tensors;
    int n_tensors;
    size_t n_params;
    cl_mem params, grads;
    int max_batch;
    lp_network_options opt;
    uint64_t seed;   /* for stochastic layers, see lp_network_set_rng */
    long long step;
    lp_layer *layers;
    int n_layers;
};

/* Layer constructors: fill ops, buffers and state for layer l (prev already built). */
lp_status lp_layer_init_passthrough(lp_network *net, lp_layer *l);
lp_status lp_layer_init_dense(lp_network *net, lp_layer *l);
/* [maxpool], [avgpool] and [globalavgpool]. */
lp_status lp_layer_init_pool(lp_network *net, lp_layer *l);
lp_status lp_layer_init_batchnorm(lp_network *net, lp_layer *l);
lp_status lp_layer_init_dropout(lp_network *net, lp_layer *l);
lp_status lp_layer_init_conv2d(lp_network *net, lp_layer *l);
/* [add]. Its backward hands the gradient to prev; the shortcut's half, which ADDS into
 * the dout of the layer `from`, is lp_layer_add_backward_shortcut: lp_network_backward
 * calls it once the layer after `from` has written that dout. It also writes the
 * projection's parameter gradients. */
lp_status lp_layer_init_add(lp_network *net, lp_layer *l);
lp_status lp_layer_add_backward_shortcut(lp_network *net, lp_layer *l, int n);

#endif
