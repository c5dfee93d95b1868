/* The HDF5 results file of a training run (schema: README, "Results file (HDF5)"). It is
 * written to <path>.part, can be followed with SWMR while the run goes on, and is renamed
 * to <path> only after a clean finish, so <path> never holds a half-written file. */
#ifndef LAPERM_RESULTS_H
#define LAPERM_RESULTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "laperm/status.h"

#define LP_RESULTS_FORMAT_VERSION 2

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
    /* Regression: mean absolute errors (the losses are then the MSE, the accuracies NaN);
     * classification: NaN. */
    double train_mae, test_mae, test_mae_unsynced;
    double epoch_seconds, elapsed_seconds;
    long long syncs;
    long long samples; /* images trained this epoch (for rates; not stored) */
} lp_epoch_metrics;

/* One evaluation of the test set every --eval-every steps (/evals). test_* are LaPerm's
 * permuted network (the network itself when `synced`: right after a sync); *_unsynced the
 * inner optimizer's weights as they stand; plain optimizers: both the same. */
typedef struct {
    long long step;
    int epoch;  /* 1-based, the epoch in progress */
    int synced; /* 1: right after a LaPerm sync, so one evaluation served both */
    double test_loss, test_accuracy, test_loss_unsynced, test_accuracy_unsynced;
    /* regression: mean absolute errors (the losses are the MSE, the accuracies NaN);
     * classification: NaN */
    double test_mae, test_mae_unsynced;
    double elapsed_seconds;
} lp_eval_metrics;

/* The best evaluation so far (epoch ends and --eval-every points): its step (0: none
 * yet), epoch and test loss and accuracy (LaPerm: of the permuted network). */
typedef struct {
    long long step;
    int epoch;
    double test_accuracy, test_loss;
} lp_results_best;

/* A state tensor (BatchNorm running statistics): float32, no gradient, recorded in every
 * snapshot and in /weights next to the layer's parameters. */
typedef struct {
    const char *layer, *name; /* HDF5 path components, as for lp_results_tensor */
    int rank;                 /* 1..4 */
    int dims[4];
} lp_results_state;

/* Sizes (in floats) of the checkpoint a run writes: its parameters, each optimizer state
 * buffer (n_params floats each), its state tensors and the running loss sums of an epoch.
 * params 0: the file holds no checkpoint. */
typedef struct {
    size_t params, state, stats;
    int optimizer_buffers;
    bool best; /* also the best evaluation's network (--save-best): params + state floats */
} lp_results_checkpoint_size;

/* Everything a run trains or keeps: its checkpoint's counters and buffers. Written by
 * lp_results_write_checkpoint (the arrays are the caller's), read by
 * lp_results_read_checkpoint (the arrays are malloc'd; lp_results_checkpoint_free). */
typedef struct {
    long long step, syncs; /* steps and LaPerm syncs done */
    int epoch;             /* the epoch under way (0-based) */
    int step_in_epoch;     /* its steps done (0: it starts afresh) */
    long long samples;     /* images trained in it so far */
    /* the file's /metrics entries, snapshots and /evals entries when it was written (set
     * by the writer) */
    long long metrics, snapshots, evals;
    lp_results_best best; /* the best evaluation so far */
    lp_results_checkpoint_size size;
    float *params, *optimizer, *state, *stats; /* optimizer: buffer after buffer */
    /* size.best: the best evaluation's network, parameters and state tensors as in
     * params and state (else NULL) */
    float *best_params, *best_state;
    /* The GEMM choices made so far (lp_gemm_choices_text), NUL-terminated, shorter than
     * LP_RESULTS_CHOICES_MAX; NULL when writing: none. */
    char *choices;
} lp_results_checkpoint;
#define LP_RESULTS_CHOICES_MAX 65536

/* Resuming: the new file copies the first `metrics` entries, `snapshots` snapshots and
 * `evals` /evals entries from `source` (the file the checkpoint came from) and starts with
 * that checkpoint. */
typedef struct {
    const char *source;
    const lp_results_checkpoint *checkpoint;
} lp_results_resume;

typedef struct {
    const lp_results_tensor *tensors;
    int n_tensors;
    const lp_results_state *state;
    int n_state;
    lp_results_checkpoint_size checkpoint;
    const lp_results_resume *resume; /* NULL: a new run */
    bool evals;                      /* the /evals series (--eval-every) */
    bool best; /* /best: the best evaluation's network, like /weights (--save-best) */
} lp_results_layout;

typedef struct lp_results lp_results;

/* Creates <path>.part (replacing a stale one, creating missing parent folders) with the
 * root attributes, /model_text, /init, empty extendible snapshot and metrics datasets
 * and the checkpoint slots, then switches to SWMR writing. `attrs` must hold device,
 * platform, driver (strings) and seed (int); format_version, program_version,
 * hdf5_version, start_time, end_time and status are written by the library and may not be
 * passed. <path> itself is not touched. The new .part is built as <path>.new and renamed
 * over the old .part (a killed run's, or the one a resumed run comes from) only once it
 * is whole (when resuming: holds the checkpoint), so a kill at any moment leaves a .part
 * that opens. */
lp_status lp_results_create(const char *path, const lp_attr *attrs, int n_attrs,
                            const char *model_text, const char *model_source,
                            const lp_results_layout *layout, lp_results **out);

/* Appends one entry to every /metrics dataset and flushes them (followable with SWMR). */
lp_status lp_results_append_metrics(lp_results *r, const lp_epoch_metrics *m);

/* Appends one entry to every /evals dataset and flushes them (layout.evals). */
lp_status lp_results_append_eval(lp_results *r, const lp_eval_metrics *e);

/* Overwrites /best (layout.best) with a network: w[t] for each tensor in create() order,
 * state[i] for each state tensor. Its attribute `valid` is 0 while the datasets are
 * rewritten and flushed, then `step`, `epoch`, `test_accuracy` and `test_loss` are set and
 * `valid` is 1 again, so a kill mid-write leaves valid = 0, never a mixed network marked
 * valid. */
lp_status lp_results_write_best(lp_results *r, const lp_results_best *b, const float *const *w,
                                const float *const *state);

/* One snapshot: for each tensor in create() order, rankings[t] ((groups, group_size) int32,
 * every group a permutation of 0..group_size-1) if it is permuted, else values[t] (its
 * float32 values); state[i] for each state tensor. `epoch` is the epoch whose end it
 * records, or 0 for a snapshot taken mid-epoch. */
typedef struct {
    long long step;
    int epoch;
    const int32_t *const *rankings;
    const float *const *values;
    const float *const *state;
} lp_results_snapshot;

lp_status lp_results_append_snapshot(lp_results *r, const lp_results_snapshot *snap);

/* Writes a checkpoint into the older of the file's two slots: the slot is marked invalid,
 * filled and flushed, then marked valid with a hash of its contents, so a kill at any
 * moment leaves at least one complete checkpoint. Sets c->metrics, c->snapshots and
 * c->evals. */
lp_status lp_results_write_checkpoint(lp_results *r, lp_results_checkpoint *c);

/* The newest valid checkpoint in a results file or a killed run's .part. NOT_FOUND when
 * the file holds none. A checkpoint written before /evals and the best evaluation (a
 * header of 14 values) reads with evals 0, size.best false and best.step 0. */
lp_status lp_results_read_checkpoint(const char *path, lp_results_checkpoint *out);
void lp_results_checkpoint_free(lp_results_checkpoint *c);

/* Checks that the last snapshot reconstructs `final_weights` (one per tensor) bit for bit,
 * then writes /weights (the tensors, then each state tensor from final_state), the extra
 * root attributes, end_time and status ("completed" | "interrupted" | "diverged"), fsyncs
 * and renames <path>.part to <path>. Always frees r; on failure <path>.part stays (with
 * every flushed epoch) and <path> is untouched. */
lp_status lp_results_finish(lp_results *r, const float *const *final_weights,
                            const float *const *final_state, const lp_attr *attrs, int n_attrs,
                            const char *status);

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

/* Clears the "open for writing" mark a writer killed outside SWMR mode (while finishing)
 * leaves, as `h5clear -s` does, so that the file opens again. */
lp_status lp_results_clear_open_mark(const char *path);

/* Whether `path` records the same run: its /model_text equals model_text and every root
 * attribute in attrs (bar the names in the NULL-terminated skip; "x_*" skips a prefix)
 * holds the same value. An attribute the file lacks (written by a laperm from before it)
 * counts as the same when attrs holds its "off" value, 0, +0.0 or "" (how every setting
 * added since is recorded when it is off). The error names the first attribute that
 * differs, with both values. */
lp_status lp_results_check_same_run(const char *path, const lp_attr *attrs, int n_attrs,
                                    const char *const *skip, const char *model_text);

#endif
