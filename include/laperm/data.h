/* Training data on the host: IDX files (plain or gzipped, idx.c) and the datasets built
 * from them (MNIST, Fashion-MNIST, or any folder holding files under the same names,
 * dataset_mnist.c), the CIFAR-10 binary batches (dataset_cifar.c), the table of formats
 * (dataset.c), and the normalisation statistics of a training set (normalize.c). */
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

/* Loads the "train" or "test" split of the CIFAR-10 binary version (cifar-10-binary.tar.gz
 * from https://www.cs.toronto.edu/~kriz/cifar.html): train = data_batch_1.bin ..
 * data_batch_5.bin in that order, test = test_batch.bin, found in `dir` or in
 * `dir`/cifar-10-batches-bin. Each record is 1 label byte and 3072 pixel bytes (1024 red,
 * then 1024 green, then 1024 blue, each plane row-major 32x32), giving c = 3, h = w = 32,
 * classes = 10. The official files hold 10000 records each, but any whole, positive number
 * of records is accepted (so subsets made with `head -c` work). A missing folder or file is
 * LP_ERR_NOT_FOUND (naming the folder and the expected files); a size that is not a whole
 * number of 3073-byte records or a label >= 10 is LP_ERR_FORMAT (naming the file, and the
 * record); a file that cannot be read is LP_ERR_IO. On failure *out is left zeroed. */
lp_status lp_cifar10_load(const char *dir, const char *split, lp_dataset *out);

/* A dataset format: one line in the table of host/dataset.c, whose first line is the
 * default. The command line and the results file take the names from there. */
typedef struct {
    const char *name;        /* --dataset value; the results file's `dataset` */
    const char *default_dir; /* --data when none is given */
    const char *description; /* one line for --help */
    lp_status (*load)(const char *dir, const char *split, lp_dataset *out);
} lp_dataset_format;

/* Line i of the table, NULL past the end. */
const lp_dataset_format *lp_dataset_format_at(int i);
/* The format named `name`, or NULL. */
const lp_dataset_format *lp_dataset_format_find(const char *name);

/* Loads split "train" or "test" with the loader of the format named `kind` ("mnist" and
 * "fashion-mnist": lp_mnist_load; "cifar10": lp_cifar10_load). An unknown kind is
 * LP_ERR_INVALID_ARG listing the known ones. */
lp_status lp_dataset_load(const char *kind, const char *dir, const char *split, lp_dataset *out);

/* How inputs are normalised: a value is fed as (byte / 255 - mean[f]) * inv_std[f], with
 * mean and inv_std computed once on the training set and used for the test set too. */
typedef enum {
    LP_NORM_NONE,           /* mean 0, inv_std 1: inputs in [0, 1] (the MNIST models) */
    LP_NORM_PER_CHANNEL,    /* each channel's mean and 1 / (std + 1e-6) over all samples
                               and pixels, as Keras' featurewise_center and
                               featurewise_std_normalization */
    LP_NORM_PER_PIXEL_MEAN, /* each feature's mean over the samples, inv_std 1 (the Keras
                               CIFAR ResNet example's subtract_pixel_mean) */
} lp_norm_mode;

/* "none", "per-channel", "per-pixel-mean". */
const char *lp_norm_mode_name(lp_norm_mode mode);
/* Parses one of the names above; anything else is LP_ERR_INVALID_ARG listing them. */
lp_status lp_norm_mode_parse(const char *name, lp_norm_mode *out);

/* Fills mean[f] and inv_std[f] for every feature f < c*h*w of `train` (sums in double;
 * the standard deviation is the population one, as numpy's std). Per-channel values are
 * repeated over every pixel of the channel, so the device applies one formula per
 * feature whatever the mode. */
lp_status lp_dataset_norm(const lp_dataset *train, lp_norm_mode mode, float *mean, float *inv_std);

/* Copies samples [first, first + count) of `src` into a new dataset. */
lp_status lp_dataset_subset(const lp_dataset *src, int first, int count, lp_dataset *out);

/* Frees x and y and zeroes the struct; safe on a zeroed or already freed dataset. */
void lp_dataset_free(lp_dataset *ds);

#endif
