/* A network's weights as named tensors, whatever file they came from (a results file's
 * snapshot or /weights, a Keras weights file, a .lpk): the one form that loaders fill and
 * that evaluation, export and packing read. Layout is laperm's (README, "Parameter
 * tensors"): dense kernel (out, in), conv kernel (cout, cin, kh, kw), 1-D biases, BatchNorm
 * gamma, beta and the state tensors running_mean and running_var. */
#ifndef LAPERM_WEIGHTS_H
#define LAPERM_WEIGHTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* ---- loading: one function for every kind of weights file ------------------------------ */

/* Which network of a results file: its final one (/weights; a killed run's .part, which
 * has none: its last snapshot), snapshot `snapshot` (0-based; negative counts from the
 * end, -1 the last), the end-of-epoch snapshot of `epoch` (1-based, as /metrics/epoch),
 * the best evaluation's (/best, --save-best) or the initial one (/init, BatchNorm running
 * statistics as a new network has them). Files that hold one network take only the
 * default. */
typedef enum {
    LP_PICK_FINAL,
    LP_PICK_SNAPSHOT,
    LP_PICK_EPOCH,
    LP_PICK_BEST,
    LP_PICK_INIT
} lp_weights_pick_kind;
typedef struct {
    lp_weights_pick_kind kind;
    long long snapshot; /* LP_PICK_SNAPSHOT */
    int epoch;          /* LP_PICK_EPOCH */
} lp_weights_pick;

/* What a load read: the file's kind ("results", "weights", "keras", "lpk") and which of its
 * networks, for messages and the attributes of a predictions file. */
typedef struct {
    const char *kind;
    char what[96];      /* "/weights", "snapshot 2 (epoch 3, step 1407)", "/best", "/init" */
    long long snapshot; /* -1: not a snapshot */
    int epoch;          /* the snapshot's or /best's epoch; 0: none or mid-epoch */
    long long step;     /* the snapshot's or /best's global step; 0: none */
    bool partial_state; /* BatchNorm running statistics are absent (/init): keep a new
                           network's */
} lp_weights_origin;

/* Reads the network `pick` names from `path` into *out (zeroed first; freed on failure),
 * whatever the file's kind, found from its content (not its name): a laperm results file
 * (or its .part), a weights file as `laperm unpack` writes (/weights/<layer>/<tensor> and
 * /model_text), a .lpk (laperm/lpk.h), or a Keras save_weights file (root attribute layer_names;
 * its layers are matched to `model`'s by order and shape, so model may not be NULL there).
 * out->model_text is the file's model when it records one. */
lp_status lp_weights_load(const char *path, const lp_weights_pick *pick, const lp_model_spec *model,
                          lp_weights *out, lp_weights_origin *origin);

/* The loaders lp_weights_load dispatches to (weights_results.c, weights_keras.c): path is
 * known to be of their kind; a kind holding one network is given only the final pick. */
lp_status lp_weights_load_results(const char *path, const lp_weights_pick *pick,
                                  const lp_model_spec *model, lp_weights *out,
                                  lp_weights_origin *origin);
lp_status lp_weights_load_keras(const char *path, const lp_weights_pick *pick,
                                const lp_model_spec *model, lp_weights *out,
                                lp_weights_origin *origin);

/* Rebuilds a permuted tensor from its initial values and rankings (README, "Groups and the
 * ranking formula"): out[g, j] = sort(init[g])[rank[g, j]], the sort ascending in IEEE
 * totalOrder on the bits. Each rank row must be a permutation of 0..group_size-1, else
 * LP_ERR_FORMAT naming `what`, the group and the value. */
lp_status lp_weights_rebuild(const float *init, const int32_t *rank, int groups, int group_size,
                             const char *what, float *out);

/* ---- writing ------------------------------------------------------------------------- */

/* A Keras save_weights file (HDF5) of w for model m's architecture: Keras layer names
 * (conv2d, conv2d_1, dense, batch_normalization, ...) in model order, Keras layouts
 * (README, "laperm export"); written to path.part, then renamed. */
lp_status lp_weights_write_keras(const lp_weights *w, const lp_model_spec *m, const char *path);
/* A NumPy .npz (stored zip of .npy v1.0 files) with arrays <layer>.<torch name> in PyTorch
 * layout; written to path.part, then renamed. */
lp_status lp_weights_write_npz(const lp_weights *w, const lp_model_spec *m, const char *path);

#endif
