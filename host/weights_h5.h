/* Internal: HDF5 reading shared by the weights loaders (weights_results.c,
 * weights_keras.c) and the file-kind detection (weights_load.c). Errors name the file and
 * the object. */
#ifndef LAPERM_WEIGHTS_H5_H
#define LAPERM_WEIGHTS_H5_H

#include <hdf5.h>
#include <stdbool.h>
#include <stddef.h>

#include "laperm/status.h"

/* Whether object `name` (a path below loc; parents checked first) exists. */
bool lp_wh5_exists(hid_t loc, const char *name);

/* A float dataset (float32 or float64, converted to float32) of rank 1..4, whole, or with
 * slice >= 0 only its entry `slice` along the first axis (whose rank and dims are then the
 * rest). *data malloc'd. `file` is for messages. */
lp_status lp_wh5_read_float(hid_t loc, const char *name, long long slice, const char *file,
                            int *rank, int dims[4], float **data);
/* An int32 dataset's entry `slice` along its first axis (rank 2 or 3 in all). */
lp_status lp_wh5_read_int32_slice(hid_t loc, const char *name, long long slice, const char *file,
                                  int *rank, int dims[4], int32_t **data);
/* The length of a dataset's first axis (-1 after lp_fail). */
long long lp_wh5_length(hid_t loc, const char *name, const char *file);

/* A string attribute holding an array of strings (fixed or variable length, as h5py
 * writes numpy byte strings or str lists) or one string: *n strings, each malloc'd in
 * *out (free with lp_wh5_strings_free). Missing: LP_ERR_NOT_FOUND. */
lp_status lp_wh5_attr_strings(hid_t obj, const char *attr, const char *file, char ***out, int *n);
void lp_wh5_strings_free(char **s, int n);

#endif
