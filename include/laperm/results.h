/* The HDF5 results file of a training run (schema: README, "Results file (HDF5)"). It is
 * written to <path>.part, can be followed with SWMR while the run goes on, and is renamed
 * to <path> only after a clean finish, so <path> never holds a half-written file. */
#ifndef LAPERM_RESULTS_H
#define LAPERM_RESULTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "laperm/status.h"

#define LP_RESULTS_FORMAT_VERSION 1

/* A root attribute: the run's seed, device, hyperparameters. `s` for strings, `i` for
 * integers (stored as int64), `d` for doubles (float64). */
typedef enum { LP_ATTR_STRING, LP_ATTR_INT, LP_ATTR_DOUBLE } lp_attr_type;
typedef struct {
    const char *name;
    lp_attr_type type;
    const char *s;
    long long i;
    double d;
} lp_attr;
#define LP_ATTR_S(n, v) ((lp_attr){.name = (n), .type = LP_ATTR_STRING, .s = (v)})
#define LP_ATTR_I(n, v) ((lp_attr){.name = (n), .type = LP_ATTR_INT, .i = (v)})
#define LP_ATTR_D(n, v) ((lp_attr){.name = (n), .type = LP_ATTR_DOUBLE, .d = (v)})

/* One trainable tensor. Values are row-major in the real shape (dense kernel (out, in),
 * conv kernel (cout, cin, kh, kw)); group g of a permuted tensor is the contiguous run of
 * elements [g * group_size, (g + 1) * group_size), so groups * group_size == numel.
 * Non-permuted tensors may give groups = group_size = 0. `init` is read during create. */
typedef struct {
    const char *layer, *tensor; /* HDF5 path components: non-empty, no '/' */
    int rank;                   /* 1..4 */
    int dims[4];
    int groups, group_size;
    bool permuted;
    const float *init; /* initial values after masking */
} lp_results_tensor;

typedef struct {
    int epoch; /* 1-based */
    long long step;
    double train_loss, train_accuracy, test_loss, test_accuracy, learning_rate;
    /* LaPerm: the test set on the inner optimizer's weights as they stand (not a
     * permutation of the initial ones); plain optimizers: equal to test_*. */
    double test_loss_unsynced, test_accuracy_unsynced;
    double epoch_seconds, elapsed_seconds;
    long long syncs;
    long long samples; /* images trained this epoch (for rates; not stored) */
} lp_epoch_metrics;

typedef struct lp_results lp_results;

/* Creates <path>.part (replacing a stale one, creating missing parent folders) with the
 * root attributes, /model_text, /init and empty extendible datasets, then switches to
 * SWMR writing. `attrs` must hold device, platform, driver (strings) and seed (int);
 * format_version, program_version, hdf5_version, start_time, end_time and status are
 * written by the library and may not be passed. <path> itself is not touched. */
lp_status lp_results_create(const char *path, const lp_attr *attrs, int n_attrs,
                            const char *model_text, const char *model_source,
                            const lp_results_tensor *tensors, int n_tensors, lp_results **out);

/* Appends one entry to every /metrics dataset and flushes them (followable with SWMR). */
lp_status lp_results_append_metrics(lp_results *r, const lp_epoch_metrics *m);

/* Appends a rankings snapshot: rankings[t] is (groups, group_size) int32 for each permuted
 * tensor in create() order (NULL for the others); every group must be a permutation of
 * 0..group_size-1. `epoch` is the epoch whose end the snapshot records, or 0 for a
 * snapshot taken elsewhere (the final state of a run interrupted mid-epoch). */
lp_status lp_results_append_rankings(lp_results *r, long long step, int epoch,
                                     const int32_t *const *rankings);

/* Checks that the last rankings snapshot reconstructs `final_weights` (one per tensor)
 * bit for bit, then writes /weights, end_time and status ("completed" | "interrupted"),
 * fsyncs and renames <path>.part to <path>. Always frees r; on failure <path>.part stays
 * (with every flushed epoch) and <path> is untouched. */
lp_status lp_results_finish(lp_results *r, const float *const *final_weights, const char *status);

/* Closes without renaming (after an error): <path>.part stays, <path> is untouched. */
void lp_results_abandon(lp_results *r);

const char *lp_results_partial_path(const lp_results *r);

/* Reading back from C (the tests use these; h5py needs none). Each opens the file read-only,
 * falling back to SWMR reading for a .part left by a killed run. *data is malloc'd (NULL when the
 * dataset is empty); dims beyond *rank are 1. The stored type must match: float32, float64, int32
 * or int64. A missing file or dataset is LP_ERR_NOT_FOUND, a non-HDF5 file or another
 * type LP_ERR_FORMAT. */
lp_status lp_results_read_float(const char *path, const char *dataset, float **data, int *rank,
                                size_t dims[4]);
lp_status lp_results_read_double(const char *path, const char *dataset, double **data, int *rank,
                                 size_t dims[4]);
lp_status lp_results_read_int32(const char *path, const char *dataset, int32_t **data, int *rank,
                                size_t dims[4]);
lp_status lp_results_read_int64(const char *path, const char *dataset, int64_t **data, int *rank,
                                size_t dims[4]);

/* A string attribute `attr` of `object` ("/" for the root), or, with attr NULL, the
 * scalar string dataset `object` (e.g. "/model_text"). *out is malloc'd. */
lp_status lp_results_read_string(const char *path, const char *object, const char *attr,
                                 char **out);
/* A numeric attribute, converted (integers to double are allowed, not the reverse). */
lp_status lp_results_read_attr_int(const char *path, const char *object, const char *attr,
                                   long long *out);
lp_status lp_results_read_attr_double(const char *path, const char *object, const char *attr,
                                      double *out);

#endif
