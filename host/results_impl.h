/* Internal to the results writer (results.c creates and appends, results_finish.c
 * finishes): its state and lifetime. The HDF5 helpers both use are in results_h5.h. */
#ifndef LAPERM_RESULTS_IMPL_H
#define LAPERM_RESULTS_IMPL_H

#include <hdf5.h>
#include <stdbool.h>
#include <stdint.h>

#include "laperm/results.h"
#include "laperm/status.h"
#include "results_h5.h"

#define LP_RESULTS_N_METRICS 15
#define LP_RESULTS_N_EVALS 10

typedef struct {
    char *layer, *tensor;
    int rank;
    hsize_t dims[4];
    size_t numel;
    int groups, group_size;
    bool permuted;
    /* Snapshots, open while in SWMR mode: /rankings/<layer>/<tensor> for a permuted
     * tensor, /values/<layer>/<tensor> for any other (and /state/<layer>/<name> for a
     * state tensor). */
    hid_t snap_ds;
    hid_t best_ds; /* /best/<layer>/<tensor> (layout.best), else -1 */
} lp_results_tensor_state;

/* A checkpoint slot: /checkpoint/<slot>/{header, params, optimizer, state, stats,
 * gemm_choices, best_params, best_state}. */
enum {
    LP_CKPT_HEADER,
    LP_CKPT_PARAMS,
    LP_CKPT_OPTIMIZER,
    LP_CKPT_STATE,
    LP_CKPT_STATS,
    LP_CKPT_CHOICES,     /* uint8, LP_RESULTS_CHOICES_MAX bytes */
    LP_CKPT_BEST_PARAMS, /* these two only with size.best (--save-best) */
    LP_CKPT_BEST_STATE,
    LP_CKPT_N
};
/* header (int64): magic, valid, step, syncs, epoch, step_in_epoch, samples, metrics,
 * snapshots, hash of the arrays, the sizes they were written with, /evals entries, and the
 * best evaluation so far (its accuracy and loss as the bits of float64s) */
enum {
    LP_CKH_MAGIC,
    LP_CKH_VALID,
    LP_CKH_STEP,
    LP_CKH_SYNCS,
    LP_CKH_EPOCH,
    LP_CKH_STEP_IN_EPOCH,
    LP_CKH_SAMPLES,
    LP_CKH_METRICS,
    LP_CKH_SNAPSHOTS,
    LP_CKH_HASH,
    LP_CKH_PARAMS,
    LP_CKH_OPTIMIZER_BUFFERS,
    LP_CKH_STATE,
    LP_CKH_STATS,
    LP_CKH_EVALS,
    LP_CKH_BEST_SAVED, /* size.best */
    LP_CKH_BEST_STEP,
    LP_CKH_BEST_EPOCH,
    LP_CKH_BEST_ACCURACY,
    LP_CKH_BEST_LOSS,
    LP_CKH_N
};
#define LP_CKPT_MAGIC 0x4c50434b50543031ll /* "LPCKPT01" */

struct lp_results {
    char *path, *part;
    hid_t file;
    int n_tensors, n_state;
    lp_results_tensor_state *t, *state; /* state tensors: groups 0, never permuted */
    hid_t metric[LP_RESULTS_N_METRICS];
    hid_t eval[LP_RESULTS_N_EVALS]; /* /evals (layout.evals), else -1 */
    bool has_evals, has_best;
    hid_t best_group;            /* /best (layout.best), else -1 */
    hid_t snap_step, snap_epoch; /* /snapshot_step, /snapshot_epoch */
    lp_results_checkpoint_size ckpt_size;
    hid_t ckpt[2][LP_CKPT_N]; /* /checkpoint/0 and /checkpoint/1 */
    long long ckpt_step[2];   /* step of each slot's checkpoint, -1: none */
    hsize_t n_epochs, n_snapshots, n_evals;
    unsigned char *seen; /* scratch for the permutation check, max group_size bytes */
};

/* Checkpoint slots (results_checkpoint.c): created with the layout; with `from`, the
 * resumed checkpoint is written into slot 0 at once. */
lp_status lp_results_checkpoint_create(lp_results *r, const lp_results_checkpoint *from);
/* Snapshot and metrics datasets (results_append.c): the empty extendible ones, and when
 * resuming the first entries copied from the source file. */
lp_status lp_results_series_create(lp_results *r);
lp_status lp_results_series_copy(lp_results *r, const char *source, long long metrics,
                                 long long snapshots, long long evals);
/* /best/<layer>/<tensor> (and state), fixed-size, with its attributes: valid 0 until the
 * first lp_results_write_best (results_best.c). */
lp_status lp_results_best_create(lp_results *r);
/* Flushes the whole file (H5Fflush): SWMR readers and a killed run's .part need it. */
lp_status lp_results_flush(lp_results *r);

/* Closes every HDF5 handle (a clean close also ends SWMR mode). */
void lp_results_close_all(lp_results *r);
/* Closes and frees everything; the .part stays. */
void lp_results_free(lp_results *r);

/* Ascending IEEE 754 totalOrder key of a float's bits (-0.0 < +0.0, NaNs at the ends):
 * comparing keys as unsigned integers compares the floats, and equal keys mean equal bits. */
static inline uint32_t lp_float_order_key(uint32_t bits) {
    return bits ^ ((bits >> 31) ? 0xFFFFFFFFu : 0x80000000u);
}

#endif
