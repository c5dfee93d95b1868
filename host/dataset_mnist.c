/* MNIST-layout folders (MNIST, Fashion-MNIST, or one's own IDX files under the same
 * names) read into NCHW floats in [0, 1]. The IDX files themselves are read by idx.c. */
#include "laperm/data.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MNIST_CLASSES_ 10

/* The names the files go by: the official ones, the dotted spelling some mirrors use,
 * and either gzipped (as Fashion-MNIST and the original site ship them). */
static const char *const name_forms_[] = {"%s-%s-idx%d-ubyte", "%s-%s.idx%d-ubyte",
                                          "%s-%s-idx%d-ubyte.gz", "%s-%s.idx%d-ubyte.gz"};
#define NAME_FORMS_ (sizeof name_forms_ / sizeof name_forms_[0])

/* Finds <dir>/<prefix>-<kind>-idx<rank>-ubyte under any accepted name. */
static lp_status find_file_(const char *dir, const char *prefix, const char *kind, int rank,
                            char *path, size_t cap) {
    struct stat st;
    for (size_t i = 0; i < NAME_FORMS_; ++i) {
        char name[64];
        snprintf(name, sizeof name, name_forms_[i], prefix, kind, rank);
        if ((size_t)snprintf(path, cap, "%s/%s", dir, name) >= cap)
            return lp_fail(LP_ERR_INVALID_ARG, "%s: folder path is too long", dir);
        if (stat(path, &st) == 0 && !S_ISDIR(st.st_mode)) return LP_OK;
    }
    return lp_fail(LP_ERR_NOT_FOUND,
                   "%s: no %s %s file (looked for %s-%s-idx%d-ubyte and %s-%s.idx%d-ubyte, "
                   "each also with .gz); for MNIST run scripts/fetch-mnist",
                   dir, prefix, kind, prefix, kind, rank, prefix, kind, rank);
}

/* Converts the image and label arrays into `out`, taking over the labels' buffer. */
static lp_status build_(const char *ipath, lp_idx *img, const char *lpath, lp_idx *lab,
                        lp_dataset *out) {
    if (img->ndims != 3)
        return lp_fail(LP_ERR_FORMAT,
                       "%s: images have %d dimensions, expected 3 (count, rows, "
                       "columns)",
                       ipath, img->ndims);
    if (lab->ndims != 1)
        return lp_fail(LP_ERR_FORMAT, "%s: labels have %d dimensions, expected 1 (count)", lpath,
                       lab->ndims);
    if (img->dims[0] != lab->dims[0])
        return lp_fail(LP_ERR_FORMAT, "%s: %u labels, but %s holds %u images", lpath,
                       (unsigned)lab->dims[0], ipath, (unsigned)img->dims[0]);
    /* Sizes are int across the library; the image size also bounds per-sample offsets. */
    if (img->dims[0] > INT_MAX || (uint64_t)img->dims[1] * img->dims[2] > INT_MAX)
        return lp_fail(LP_ERR_FORMAT, "%s: %ux%ux%u images are more than laperm handles", ipath,
                       (unsigned)img->dims[0], (unsigned)img->dims[1], (unsigned)img->dims[2]);
    for (size_t i = 0; i < lab->size; ++i)
        if (lab->data[i] >= MNIST_CLASSES_)
            return lp_fail(LP_ERR_FORMAT, "%s: label %zu is %u, expected 0 to %d", lpath, i,
                           lab->data[i], MNIST_CLASSES_ - 1);

    float *x = malloc(img->size * sizeof *x);
    if (!x) return lp_fail(LP_ERR_NO_MEMORY, "%s: cannot allocate %zu floats", ipath, img->size);
    for (size_t i = 0; i < img->size; ++i)
        x[i] = (float)img->data[i] / 255.0f;
    *out = (lp_dataset){.n = (int)img->dims[0],
                        .c = 1,
                        .h = (int)img->dims[1],
                        .w = (int)img->dims[2],
                        .classes = MNIST_CLASSES_,
                        .x = x,
                        .y = lab->data};
    lab->data = NULL;
    return LP_OK;
}

lp_status lp_mnist_load(const char *dir, const char *split, lp_dataset *out) {
    if (!dir || !split || !out)
        return lp_fail(LP_ERR_INVALID_ARG, "lp_mnist_load: dir, split and out are required");
    memset(out, 0, sizeof *out);
    const char *prefix = strcmp(split, "train") == 0  ? "train"
                         : strcmp(split, "test") == 0 ? "t10k"
                                                      : NULL;
    if (!prefix)
        return lp_fail(LP_ERR_INVALID_ARG, "split \"%s\" is neither \"train\" nor \"test\"", split);
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return lp_fail(LP_ERR_NOT_FOUND,
                       "%s: no such folder; for MNIST run scripts/fetch-mnist (it fills "
                       "data/mnist), or pass a folder holding IDX files",
                       dir);

    char ipath[4096], lpath[4096];
    LP_TRY(find_file_(dir, prefix, "images", 3, ipath, sizeof ipath));
    LP_TRY(find_file_(dir, prefix, "labels", 1, lpath, sizeof lpath));
    lp_idx img, lab;
    LP_TRY(lp_idx_read(ipath, &img));
    lp_status s = lp_idx_read(lpath, &lab);
    if (s == LP_OK) s = build_(ipath, &img, lpath, &lab, out);
    lp_idx_free(&img);
    lp_idx_free(&lab);
    return s;
}
