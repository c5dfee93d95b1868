/* Internal to host/results_*.c: the writer's state, HDF5 error capture and the helpers
 * shared by the writer (results.c, results_finish.c) and the reader (results_read.c). */
#ifndef LAPERM_RESULTS_IMPL_H
#define LAPERM_RESULTS_IMPL_H

#include <hdf5.h>
#include <stdbool.h>
#include <stdint.h>

#include "laperm/results.h"
#include "laperm/status.h"

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

/* Turns off HDF5's printing of its error stack (library code never prints); errors are
 * captured into the message by lp_h5_fail instead. */
void lp_h5_quiet(void);

/* lp_fail with the formatted text, then ": HDF5: " and what the HDF5 error stack says
 * (its outermost and innermost entries); clears the stack. */
lp_status lp_h5_fail(lp_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* HDF5 clears its error stack on entry to every API call, cleanup calls included: keep a
 * failure's stack across cleanup with save ... restore (restore also frees the copy). */
static inline hid_t lp_h5_errors_save(void) {
    return H5Eget_current_stack();
}
static inline void lp_h5_errors_restore(hid_t saved) {
    if (saved >= 0) H5Eset_current_stack(saved);
}

/* File access list: newest file format (SWMR needs it) and "strong" close, so H5Fclose
 * really closes the file even if an object handle leaked. Caller closes it. */
hid_t lp_h5_fapl(void);

/* Scalar attributes, replacing an existing one. Strings are variable-length UTF-8
 * (h5py reads them as str), integers int64, doubles float64. */
lp_status lp_h5_attr_str(hid_t obj, const char *name, const char *value);
lp_status lp_h5_attr_int(hid_t obj, const char *name, long long value);
lp_status lp_h5_attr_double(hid_t obj, const char *name, double value);
/* A variable-length UTF-8 string type; caller closes it. */
hid_t lp_h5_str_type(void);

/* Creates dataset `name` (and missing groups). With `chunk` it is chunked with an
 * unlimited first dimension; `gzip` adds shuffle + deflate level 4. */
hid_t lp_h5_create_ds(hid_t loc, const char *name, hid_t type, int rank, const hsize_t *dims,
                      const hsize_t *chunk, bool gzip);
/* Grows `ds` to `new_dims`, then writes `buf` into the block at `start` of size `count`. */
herr_t lp_h5_extend_write(hid_t ds, int rank, const hsize_t *new_dims, const hsize_t *start,
                          const hsize_t *count, hid_t mem_type, const void *buf);

/* File system: mkdir -p; the folder holding `path` ("." for a bare name); fsync of a
 * file or folder by name; the current UTC time as ISO 8601 ("2025-01-31T12:00:00Z"). */
lp_status lp_fs_mkdir_p(const char *dir);
void lp_fs_parent_dir(const char *path, char *out, size_t cap);
lp_status lp_fs_fsync(const char *path);
void lp_iso_time_now(char buf[32]);

/* Ascending IEEE 754 totalOrder key of a float's bits (-0.0 < +0.0, NaNs at the ends):
 * comparing keys as unsigned integers compares the floats, and equal keys mean equal bits. */
static inline uint32_t lp_float_order_key(uint32_t bits) {
    return bits ^ ((bits >> 31) ? 0xFFFFFFFFu : 0x80000000u);
}

#endif
