/* Internal: how laperm's layers and tensors map onto a Keras model's (README, "laperm
 * export"): the layers with weights in model order, each with its Keras class name
 * (dense, conv2d for [conv2d] and an [add]'s projection, batch_normalization) and its
 * tensors in Keras' order with Keras' names and shapes, and the layout conversions
 * (kernels transposed; a dense layer after a [flatten] of a (c, h, w) map takes its
 * inputs in Keras' channels-last (h, w, c) order). Shared by the Keras reader and
 * writer so both directions follow one table. */
#ifndef LAPERM_KERAS_LAYOUT_H
#define LAPERM_KERAS_LAYOUT_H

#include <stdbool.h>

#include "laperm/model.h"

#define LP_KERAS_TENSORS_MAX 4

typedef struct {
    int layer;                            /* model layer index */
    const char *keras_class;              /* "dense", "conv2d", "batch_normalization" */
    int n;                                /* tensors, in Keras' order */
    char ours[LP_KERAS_TENSORS_MAX][16];  /* kernel, bias, gamma, beta, running_mean, ... */
    char keras[LP_KERAS_TENSORS_MAX][16]; /* kernel, bias, gamma, beta, moving_mean, ... */
    int rank[LP_KERAS_TENSORS_MAX], dims[LP_KERAS_TENSORS_MAX][4];             /* ours */
    int keras_rank[LP_KERAS_TENSORS_MAX], keras_dims[LP_KERAS_TENSORS_MAX][4]; /* Keras' */
    /* a dense kernel whose inputs come from a [flatten] of (c, h, w), h * w > 1 */
    bool flat_spatial;
    lp_shape flat_from;
} lp_keras_layer;

/* The model's layers with weights, in order; *out malloc'd. */
lp_status lp_keras_layers(const lp_model_spec *m, lp_keras_layer **out, int *n);

/* Converts tensor i of layer k between laperm's layout and Keras' (to_keras: src is
 * ours). src and dst hold the same number of floats and do not overlap. */
void lp_keras_convert(const lp_keras_layer *k, int i, const float *src, float *dst, bool to_keras);

#endif
