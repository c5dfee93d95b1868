/* A network's weights as named tensors, whatever file they came from (a results file's
 * snapshot or /weights, a Keras weights file, a .lpk): the one form that loaders fill and
 * that evaluation, export and packing read. Layout is laperm's (README, "Parameter
 * tensors"): dense kernel (out, in), conv kernel (cout, cin, kh, kw), 1-D biases, BatchNorm
 * gamma, beta and the state tensors running_mean and running_var. */
#ifndef LAPERM_WEIGHTS_H
#define LAPERM_WEIGHTS_H

#include <stddef.h>

#include "laperm/model.h"
#include "laperm/status.h"

#define LP_TENSOR_NAME_MAX 16 /* "running_mean", including the NUL */

typedef struct {
    char layer[LP_LAYER_NAME_MAX]; /* the model file's section name */
    char name[LP_TENSOR_NAME_MAX]; /* kernel, bias, gamma, beta, running_mean, running_var */
    int rank;                      /* 1..4 */
    int dims[4];
    size_t count; /* product of dims */
    float *data;  /* owned */
} lp_named_tensor;

/* Zero-initialise ({0}) before use; free with lp_weights_free. */
typedef struct {
    lp_named_tensor *tensors;
    int n, cap;
    char *model_text; /* the model these weights belong to when the file says (owned), or NULL */
} lp_weights;

/* Appends a copy of data (count = product of dims). A layer/name already present, a rank
 * outside 1..4, a dimension < 1 or a name too long is LP_ERR_INVALID_ARG. */
lp_status lp_weights_add(lp_weights *w, const char *layer, const char *name, int rank,
                         const int *dims, const float *data);
/* The tensor layer/name, or NULL. */
const lp_named_tensor *lp_weights_find(const lp_weights *w, const char *layer, const char *name);
/* Replaces w->model_text with a copy of text (NULL clears it). */
lp_status lp_weights_set_model_text(lp_weights *w, const char *text);
/* Frees everything and zeroes *w; safe on a zeroed set and on NULL. */
void lp_weights_free(lp_weights *w);

/* "300x784" for a rank/dims pair; writes into buf and returns it. */
const char *lp_dims_str(int rank, const int *dims, char *buf, size_t size);

/* Fills the flat parameter buffer `params` (lp_model_param_count floats, laid out by the
 * table t[0..n)) from w. Every tensor of the table must be present with the same shape:
 * otherwise LP_ERR_NOT_FOUND or LP_ERR_FORMAT naming `what` (the weights' file), the
 * layer, the tensor and both shapes. */
lp_status lp_weights_to_params(const lp_weights *w, const char *what, const lp_model_spec *m,
                               const lp_param_tensor *t, int n, float *params);

#endif
