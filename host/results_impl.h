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

#define LP_RESULTS_N_METRICS 12

typedef struct {
    char *layer, *tensor;
    int rank;
    hsize_t dims[4];
    size_t numel;
    int groups, group_size;
    bool permuted;
    hid_t rank_ds; /* /rankings/<layer>/<tensor>, open while in SWMR mode */
} lp_results_tensor_state;

struct lp_results {
    char *path, *part;
    hid_t file;
    int n_tensors;
    lp_results_tensor_state *t;
    hid_t metric[LP_RESULTS_N_METRICS];
    hid_t snap_step, snap_epoch; /* /rankings_step, /rankings_epoch */
    hsize_t n_epochs, n_snapshots;
    unsigned char *seen; /* scratch for the permutation check, max group_size bytes */
};

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
