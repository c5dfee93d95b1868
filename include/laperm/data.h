/* Training data on the host: IDX files (plain or gzipped) and the datasets built from
 * them (MNIST, Fashion-MNIST, or any folder holding files under the same names). */
#ifndef LAPERM_DATA_H
#define LAPERM_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "laperm/status.h"

/* One IDX array of unsigned bytes (type code 0x08), row-major, dims[0] outermost. */
typedef struct {
    int ndims;        /* 1..4 */
    uint32_t dims[4]; /* unused entries are 0 */
    uint8_t *data;    /* size bytes, malloc'd */
    size_t size;      /* product of dims */
} lp_idx;

/* Reads a plain or gzip-compressed IDX file. The data must be exactly the size the
 * header describes: a short file and trailing bytes are both LP_ERR_FORMAT; a file that
 * cannot be opened or read is LP_ERR_IO. Every message starts with `path`.
 * On failure *out is left zeroed. */
lp_status lp_idx_read(const char *path, lp_idx *out);
void lp_idx_free(lp_idx *idx);

/* A labelled image set in memory, ready to be copied to a device. */
typedef struct {
    int n, c, h, w; /* x is (n, c, h, w) */
    int classes;    /* every y[i] < classes */
    float *x;       /* pixels / 255, in [0, 1] */
    uint8_t *y;     /* n labels */
} lp_dataset;

/* Loads the "train" or "test" split of an MNIST-layout folder: <p>-images-idx3-ubyte and
 * <p>-labels-idx1-ubyte with p = "train" or "t10k"; the variants "<p>-images.idx3-ubyte"
 * and a ".gz" suffix on either are accepted too (Fashion-MNIST ships gzipped files).
 * A missing folder or file is LP_ERR_NOT_FOUND (the message names what was looked for
 * and suggests scripts/fetch-mnist); bad shapes or labels >= 10 are LP_ERR_FORMAT. */
lp_status lp_mnist_load(const char *dir, const char *split, lp_dataset *out);

/* Copies samples [first, first + count) of `src` into a new dataset. */
lp_status lp_dataset_subset(const lp_dataset *src, int first, int count, lp_dataset *out);

/* Frees x and y and zeroes the struct; safe on a zeroed or already freed dataset. */
void lp_dataset_free(lp_dataset *ds);

#endif
