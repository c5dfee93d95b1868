/* Training data on the host: IDX files (plain or gzipped, idx.c) and the datasets built
 * from them (MNIST, Fashion-MNIST, or any folder holding files under the same names,
 * dataset_mnist.c), the CIFAR-10 and CIFAR-100 binary files (dataset_cifar.c), a user's
 * own data in HDF5 (dataset_hdf5.c), the table of formats (dataset.c), and the
 * normalisation statistics of a training set (normalize.c). */
#ifndef LAPERM_DATA_H
#define LAPERM_DATA_H

#include <stdbool.h>
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

/* A labelled image set (classification) or a set of inputs with float targets
 * (regression) in memory, ready to be copied to a device. */
typedef struct {
    int n, c, h, w; /* x is (n, c, h, w) */
    int classes;    /* classification: every y[i] < classes; regression: 0 */
    float *x;       /* pixels / 255, in [0, 1]; any finite values when x_real */
    uint8_t *y;     /* n labels (regression: all 0, so index-only code paths still work) */
    /* The values of x are real numbers (HDF5 float data), not bytes / 255: the device
     * keeps them as floats instead of bytes. */
    bool x_real;
    int outputs; /* regression: targets per sample; 0: classification */
    float *t;    /* regression: (n, outputs) targets; NULL for classification */
    /* Where x came from and its shape as stored, for messages ("" if not given). */
    char origin[320];
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

/* Loads the "train" or "test" split of the CIFAR-100 binary version (cifar-100-binary.tar.gz,
 * same page): train.bin and test.bin, found in `dir` or in `dir`/cifar-100-binary. Each
 * record is 1 coarse label byte (0..19), 1 fine label byte (0..99) and 3072 pixel bytes
 * laid out as CIFAR-10's. lp_cifar100_load keeps the fine labels (classes = 100),
 * lp_cifar100_coarse_load the coarse ones (classes = 20). Errors as lp_cifar10_load's,
 * with 3074-byte records and the label checked against its own range. */
lp_status lp_cifar100_load(const char *dir, const char *split, lp_dataset *out);
lp_status lp_cifar100_coarse_load(const char *dir, const char *split, lp_dataset *out);

/* Loads the "train" or "test" split of an HDF5 file (README, "HDF5 data"): /<split>/x is
 * float32, float64 or uint8 (divided by 255) of shape (n, features), stored as
 * c = features, h = w = 1, or (n, c, h, w); /<split>/y is any integer type of shape (n,)
 * (classification; classes = the root attribute `classes` if present, else the largest
 * label over both splits + 1, at most 256) or float32/float64 of shape (n,) or
 * (n, outputs) (regression targets). Both splits are looked at whichever is loaded, so
 * train and test always agree on shapes and classes. A missing file is
 * LP_ERR_NOT_FOUND; a file that is not HDF5, a missing dataset, a wrong type or rank, n
 * differing between x and y, an empty split, train and test feature shapes differing,
 * NaN or Inf in x or in float targets, or a label out of range is LP_ERR_FORMAT, each
 * naming the file and the dataset (and the first bad index). On failure *out is left
 * zeroed. */
lp_status lp_hdf5_data_load(const char *path, const char *split, lp_dataset *out);

/* Unlabeled inputs for prediction from an HDF5 file: /x if the file has one, else
 * /test/x, of the types and shapes /<split>/x takes above. Labels are all 0 and classes 0
 * (the caller sets them); errors as lp_hdf5_data_load's. */
lp_status lp_hdf5_inputs_load(const char *path, lp_dataset *out);

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
 * "fashion-mnist": lp_mnist_load; "cifar10": lp_cifar10_load; "cifar100" and
 * "cifar100-coarse": lp_cifar100_load and lp_cifar100_coarse_load; "hdf5":
 * lp_hdf5_data_load, `dir` being the file). An unknown kind is
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

/* 16 hex digits (and a NUL) of a hash of the samples, labels and regression targets: the
 * results file's train_data_hash and test_data_hash. */
void lp_dataset_hash(const lp_dataset *d, char out[24]);

/* Frees x, y and t and zeroes the struct; safe on a zeroed or already freed dataset. */
void lp_dataset_free(lp_dataset *ds);

#endif
