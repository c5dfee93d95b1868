/* The dataset formats, one line each, and loading by format name. The first line is the
 * default --dataset. The command line (choices, --help, the default --data) and the
 * results file (`dataset`) read the names from here. Adding a format is its loader in
 * host/dataset_<format>.c, declared in laperm/data.h, and one line here (README, "How to
 * add a dataset format"). */
#include "laperm/data.h"

#include <stdio.h>
#include <string.h>

static const lp_dataset_format table_[] = {
    {"mnist", "data/mnist", "MNIST: IDX files train-*, t10k-*, plain or gzipped", lp_mnist_load},
    /* Fashion-MNIST uses MNIST's IDX layout and file names. */
    {"fashion-mnist", "/usr/share/datasets/fashion-mnist", "Fashion-MNIST: IDX files, as mnist",
     lp_mnist_load},
    {"cifar10", "data/cifar10", "CIFAR-10 binary version: *_batch*.bin", lp_cifar10_load},
    /* The label kind is part of the name, so the results file's `dataset` records it. */
    {"cifar100", "data/cifar100", "CIFAR-100 binary version: train.bin, test.bin; fine labels",
     lp_cifar100_load},
    {"cifar100-coarse", "data/cifar100", "CIFAR-100 as cifar100, its 20 coarse labels",
     lp_cifar100_coarse_load},
    {"hdf5", "data/data.h5", "HDF5 file (--data FILE): /train/x, /train/y, /test/x, /test/y",
     lp_hdf5_data_load},
};
#define N_ ((int)(sizeof table_ / sizeof table_[0]))

const lp_dataset_format *lp_dataset_format_at(int i) {
    return i >= 0 && i < N_ ? &table_[i] : NULL;
}

const lp_dataset_format *lp_dataset_format_find(const char *name) {
    for (int i = 0; name && i < N_; ++i)
        if (strcmp(table_[i].name, name) == 0) return &table_[i];
    return NULL;
}

lp_status lp_dataset_load(const char *kind, const char *dir, const char *split, lp_dataset *out) {
    if (!kind || !dir || !split || !out)
        return lp_fail(LP_ERR_INVALID_ARG,
                       "lp_dataset_load: kind, dir, split and out are required");
    memset(out, 0, sizeof *out);
    const lp_dataset_format *f = lp_dataset_format_find(kind);
    if (f) return f->load(dir, split, out);
    char known[256] = "";
    size_t len = 0;
    for (int i = 0; i < N_ && len < sizeof known; ++i)
        len += (size_t)snprintf(known + len, sizeof known - len, "%s%s",
                                i == 0        ? ""
                                : i == N_ - 1 ? " or "
                                              : ", ",
                                table_[i].name);
    return lp_fail(LP_ERR_INVALID_ARG, "unknown dataset \"%s\": expected %s", kind, known);
}
