/* Internal: the HDF5 and file-system helpers under the results writer (results.c,
 * results_finish.c) and reader (results_read.c): quiet error capture, attributes,
 * extendible datasets, and what makes the final rename crash-safe. They know nothing of
 * lp_results (results_impl.h), so the dependency points one way. */
#ifndef LAPERM_RESULTS_H5_H
#define LAPERM_RESULTS_H5_H

#include <hdf5.h>
#include <stdbool.h>
#include <stddef.h>

#include "laperm/results.h"
#include "laperm/status.h"

/* Turns off HDF5's printing of its error stack (library code never prints); errors are
 * captured into the message by lp_h5_fail instead. Call it before any other HDF5 call:
 * with HDF5 before 1.14 it also keeps HDF5 from installing its exit handler, which
 * crashes at exit after a file failed to close on a full disk (results_h5.c). */
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

/* Opens a results file read-only; a .part whose writer was killed (still marked open for
 * SWMR writing) is opened for SWMR reading. Missing: NOT_FOUND, not HDF5: FORMAT. */
lp_status lp_h5_open_read(const char *path, hid_t *out);

/* Scalar attributes, replacing an existing one. Strings are variable-length UTF-8
 * (h5py reads them as str), integers int64, doubles float64. */
lp_status lp_h5_attr_str(hid_t obj, const char *name, const char *value);
lp_status lp_h5_attr_int(hid_t obj, const char *name, long long value);
lp_status lp_h5_attr_double(hid_t obj, const char *name, double value);
/* Each of attrs[0..n) as one of the above (laperm/results.h: lp_attr). */
lp_status lp_h5_attrs(hid_t obj, const lp_attr *attrs, int n);
/* Writes a new value into an existing numeric attribute, in place: SWMR writing allows
 * that, but not creating or deleting one (as the functions above do). */
lp_status lp_h5_attr_rewrite(hid_t obj, const char *name, hid_t mem_type, const void *value);
/* A variable-length UTF-8 string type; caller closes it. */
hid_t lp_h5_str_type(void);

/* Creates dataset `name` (and missing groups). With `chunk` it is chunked with an
 * unlimited first dimension; `gzip` adds shuffle + deflate level 4. */
hid_t lp_h5_create_ds(hid_t loc, const char *name, hid_t type, int rank, const hsize_t *dims,
                      const hsize_t *chunk, bool gzip);
/* Grows `ds` to `new_dims`, then writes `buf` into the block at `start` of size `count`. */
herr_t lp_h5_extend_write(hid_t ds, int rank, const hsize_t *new_dims, const hsize_t *start,
                          const hsize_t *count, hid_t mem_type, const void *buf);

/* The current UTC time as ISO 8601 ("2025-01-31T12:00:00Z"). */
void lp_iso_time_now(char buf[32]);

#endif
