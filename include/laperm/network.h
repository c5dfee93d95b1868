/* A model instantiated on a device: one flat buffer each for parameters and gradients
 * (offsets from the model's tensor table), activation buffers sized for the largest
 * batch, and forward/backward passes that only enqueue work. */
#ifndef LAPERM_NETWORK_H
#define LAPERM_NETWORK_H

#include <stdbool.h>
#include <stdint.h>

#include "laperm/model.h"
#include "laperm/runtime.h"
#include "laperm/workspace.h"

typedef struct lp_network lp_network;

/* How [conv2d] layers compute: im2col + GEMM, FFTs (stride 1 only, needs clFFT), directly
 * from the images (laperm/conv_direct.h), or (auto) per layer whichever a timing of those
 * at the training batch finds fastest (the decision is cached on disk per device and
 * shape, next to the program cache), or with lp_network_options.exact a rule. */
typedef enum {
    LP_CONV_ALGO_AUTO,
    LP_CONV_ALGO_GEMM,
    LP_CONV_ALGO_FFT,
    LP_CONV_ALGO_DIRECT,
    LP_CONV_ALGO_WINOGRAD,
    LP_CONV_ALGO_COUNT
} lp_conv_algo;

/* "auto", "gemm", "fft", "direct", "winograd". */
const char *lp_conv_algo_name(lp_conv_algo a);

typedef struct {
    lp_conv_algo conv_algo;
    int tune_batch; /* the training batch: what auto times, and the FFT path's chunk (0: max) */
    /* auto decides by a rule on the layer's shape and the device's kind instead of by
     * timing, so that every run computes the same bits (training without --fast). */
    bool exact;
    /* Per model layer (n_layers entries), a path to take instead of choosing (a replayed
     * run's), or LP_CONV_ALGO_AUTO to choose; NULL: choose everywhere. */
    const lp_conv_algo *layer_algo;
    /* Told one line per [conv2d] on the path it got and why, and warnings (a damaged
     * decision cache); may be NULL. The library itself never prints. */
    void (*note)(void *ctx, bool warning, const char *line);
    void *note_ctx;
} lp_network_options;

/* Builds the layers and allocates every device buffer once (nothing is allocated per
 * step). Parameters start at zero: the trainer uploads the initial values. opt may be
 * NULL: every convolution through GEMM, no notes. */
lp_status lp_network_create_opts(lp_runtime *rt, const lp_model_spec *spec, int max_batch,
                                 const lp_network_options *opt, lp_network **out);
/* lp_network_create_opts with opt NULL. */
lp_status lp_network_create(lp_runtime *rt, const lp_model_spec *spec, int max_batch,
                            lp_network **out);
void lp_network_destroy(lp_network *net);

/* The device bytes the network lp_network_create_opts(rt, spec, max_batch, opt) builds would
 * hold beyond its parameters, their gradients, the layers' outputs and the shared gradient
 * buffers, at most: its layers' own (layer state, the convolution paths' buffers: those
 * of the path each layer would take, or with timing the most of any that may win) and its
 * workspace's slots (which the network fills when it is built); computed from the spec
 * and the device without allocating. Not counted: what the GEMM products keep on the
 * runtime (packed panels, split-K sums) and what timing makes and frees while the network
 * is built. */
lp_status lp_network_plan_held(lp_runtime *rt, const lp_model_spec *spec, int max_batch,
                               const lp_network_options *opt, lp_held_bytes *out);
/* Bytes the network's workspace holds now (the sum of its slots). */
uint64_t lp_network_workspace_bytes(const lp_network *net);
/* lp_network_plan_held's total in the form of the memory plan's layer_bytes
 * (memory_plan.h): ctx is an lp_network_plan_ctx, its options' tune_batch replaced by
 * train_batch. */
typedef struct {
    lp_runtime *rt;
    const lp_model_spec *spec;
    lp_network_options opt;
} lp_network_plan_ctx;
lp_status lp_network_plan_held_at(void *ctx, int max_batch, int train_batch, uint64_t *bytes);

/* The path a layer's convolution took (a [conv2d], or an [add]'s projection), or
 * LP_CONV_ALGO_AUTO for layers without one. */
lp_conv_algo lp_network_conv_path(const lp_network *net, int layer);

/* Layers, the input included (backward passes run from the last down to 1). */
int lp_network_layer_count(const lp_network *net);
/* The model's name of layer i ("dense_1"), "?" out of range. */
const char *lp_network_layer_name(const lp_network *net, int layer);

/* Table of parameter tensors (offsets into the flat buffers). */
const lp_param_tensor *lp_network_tensors(const lp_network *net, int *count);
size_t lp_network_param_count(const lp_network *net);
int lp_network_max_batch(const lp_network *net);
size_t lp_network_input_features(const lp_network *net);
int lp_network_classes(const lp_network *net);

cl_mem lp_network_params(const lp_network *net);
cl_mem lp_network_grads(const lp_network *net);
/* Makes the passes read parameters from `params` (e.g. a projected copy for evaluation);
 * returns the buffer used before. */
cl_mem lp_network_swap_params(lp_network *net, cl_mem params);

/* State that training passes change but no gradient reaches (BatchNorm's running
 * statistics): float32 tensors of one layer each, read and written whole by snapshots,
 * checkpoints and the results file's /weights. */
typedef struct {
    int layer;        /* index in the model */
    const char *name; /* "running_mean", "running_var" */
    int rank;         /* 1..4 */
    int dims[4];
    size_t count;
} lp_state_tensor;

/* The number of state tensors; entry i (NULL out of range). */
int lp_network_state_count(const lp_network *net);
const lp_state_tensor *lp_network_state_at(const lp_network *net, int i);
/* Total floats over every state tensor (the checkpoint's flat layout: in table order). */
size_t lp_network_state_floats(const lp_network *net);
/* Reads (waits) or writes (enqueues, from a host copy kept until it is done) every state
 * tensor into/from `flat`, in table order. */
lp_status lp_network_state_read(lp_network *net, float *flat);
lp_status lp_network_state_write(lp_network *net, const float *flat);

/* Input (max_batch, features) written by the caller before forward. */
cl_mem lp_network_input(const lp_network *net);
/* Logits (n, classes) after forward; the caller writes d loss/d logits to
 * lp_network_dlogits before backward. */
cl_mem lp_network_logits(const lp_network *net);
cl_mem lp_network_dlogits(const lp_network *net);

/* Seeds stochastic layers (dropout): a training forward pass draws from Philox with
 * key = seed and a counter made of (element, step, layer), so it is reproducible.
 * first_row: the row of the global batch that this batch's row 0 is (0 for a whole batch;
 * a process computing rows r .. r + n - 1 of it passes r), so every row draws the same
 * values however the global batch is split. The element is the value's index in the
 * global batch, first_row x features + its index here, which must stay below 2^34: a
 * training forward pass past it (or with first_row < 0) fails with LP_ERR_INVALID_ARG. */
void lp_network_set_rng(lp_network *net, uint64_t seed, long long step, long long first_row);

lp_status lp_network_forward(lp_network *net, int n, bool training);
/* Overwrites every gradient in the flat gradient buffer (no accumulation across calls). */
lp_status lp_network_backward(lp_network *net, int n);
/* The passes one layer at a time, as the two above run them (i from 1 up, then from the
 * last down; n unchecked): for timing a layer alone (laperm bench). The backward one
 * also adds the gradients of the second inputs it completes (a residual's shortcut). */
lp_status lp_network_forward_layer(lp_network *net, int i, int n, bool training);
lp_status lp_network_backward_layer(lp_network *net, int i, int n);
/* lp_network_backward_layer in its parts, to time each layer's own (laperm bench): layer
 * i's own pass; then, for each layer j > i whose second input is i - 1, in order of j,
 * j's second-input half (a residual's shortcut gradient, with its projection when it has
 * one). */
lp_status lp_network_backward_own(lp_network *net, int i, int n);
lp_status lp_network_backward_second(lp_network *net, int j, int n);

#endif
