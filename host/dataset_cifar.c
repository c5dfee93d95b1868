/* CIFAR-10 binary batches (1 label byte, then 32x32 red, green and blue planes) and
 * CIFAR-100 binary files (a coarse and a fine label byte, then the same planes) read into
 * NCHW floats in [0, 1]. Every file's size is checked before any is read, so a truncated
 * download is reported with its name and how much of it is there. */
#include "laperm/data.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CIFAR_SIDE_ 32
#define CIFAR_PIXELS_ (3 * CIFAR_SIDE_ * CIFAR_SIDE_)
#define CIFAR_SOURCE_ "from https://www.cs.toronto.edu/~kriz/cifar.html"
/* Records converted per read: about 3 MB of file at a time. */
#define CHUNK_RECORDS_ 1000

typedef struct {
    const char *const *files;
    int count;
    const char *needs; /* for messages */
} split_files_;

/* One of the binary versions and which of its labels to keep. */
typedef struct {
    const char *title;   /* "CIFAR-10", for messages */
    const char *subdir;  /* the folder the tarball unpacks into */
    const char *tarball; /* for messages */
    int labels;          /* label bytes before the pixels */
    int label;           /* the label byte kept */
    int classes;
    split_files_ train, test;
} variant_;

static const char *const c10_train_[] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                                         "data_batch_4.bin", "data_batch_5.bin"};
static const char *const c10_test_[] = {"test_batch.bin"};
static const char *const c100_train_[] = {"train.bin"};
static const char *const c100_test_[] = {"test.bin"};

static const variant_ cifar10_ = {"CIFAR-10",
                                  "cifar-10-batches-bin",
                                  "cifar-10-binary.tar.gz",
                                  1,
                                  0,
                                  10,
                                  {c10_train_, 5, "data_batch_1.bin .. data_batch_5.bin"},
                                  {c10_test_, 1, "test_batch.bin"}};
/* CIFAR-100: the fine label (second byte) by default, the coarse one (first) on request. */
static const variant_ cifar100_fine_ = {"CIFAR-100",
                                        "cifar-100-binary",
                                        "cifar-100-binary.tar.gz",
                                        2,
                                        1,
                                        100,
                                        {c100_train_, 1, "train.bin"},
                                        {c100_test_, 1, "test.bin"}};
static const variant_ cifar100_coarse_ = {"CIFAR-100",
                                          "cifar-100-binary",
                                          "cifar-100-binary.tar.gz",
                                          2,
                                          0,
                                          20,
                                          {c100_train_, 1, "train.bin"},
                                          {c100_test_, 1, "test.bin"}};

static int record_bytes_(const variant_ *v) {
    return v->labels + CIFAR_PIXELS_;
}

static bool is_dir_(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool exists_(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* The folder holding the split's files: `dir` itself when it has the split's first file,
 * else its v->subdir folder (cifar-10-batches-bin, cifar-100-binary: the tarball unpacks
 * into one) when that has it. */
static lp_status find_folder_(const variant_ *v, const char *dir, const char *split,
                              const split_files_ *sf, char *folder, size_t cap) {
    if (!is_dir_(dir))
        return lp_fail(LP_ERR_NOT_FOUND,
                       "%s: no such folder; pass the folder of the %s binary version (unpack %s "
                       "" CIFAR_SOURCE_ ")",
                       dir, v->title, v->tarball);
    char path[4096];
    for (int i = 0; i < 2; ++i) {
        if ((size_t)snprintf(folder, cap, "%s%s%s", dir, i ? "/" : "", i ? v->subdir : "") >= cap ||
            (size_t)snprintf(path, sizeof path, "%s/%s", folder, sf->files[0]) >= sizeof path)
            return lp_fail(LP_ERR_INVALID_ARG, "%s: folder path is too long", dir);
        if (exists_(path)) return LP_OK;
    }
    return lp_fail(LP_ERR_NOT_FOUND,
                   "%s: no %s here or in %s/%s; the %s %s split needs %s (unpack %s " CIFAR_SOURCE_
                   ")",
                   dir, sf->files[0], dir, v->subdir, v->title, split, sf->needs, v->tarball);
}

/* The number of records in `path`, from its size. */
static lp_status count_records_(const variant_ *v, const char *path, const char *split,
                                const split_files_ *sf, const char *folder, const char *name,
                                long long *records) {
    const int record = record_bytes_(v);
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT)
            return lp_fail(LP_ERR_NOT_FOUND, "%s: no %s; the %s %s split needs %s", folder, name,
                           v->title, split, sf->needs);
        return lp_fail(LP_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    }
    if (S_ISDIR(st.st_mode))
        return lp_fail(LP_ERR_FORMAT, "%s: is a folder, expected a %s batch file", path, v->title);
    long long size = (long long)st.st_size;
    const char *labels = v->labels == 1 ? "1 label" : "2 labels";
    if (size == 0)
        return lp_fail(LP_ERR_FORMAT,
                       "%s: empty file, expected records of %d bytes (%s + %d pixels)", path,
                       record, labels, CIFAR_PIXELS_);
    if (size % record != 0)
        return lp_fail(LP_ERR_FORMAT,
                       "%s: %lld bytes is not a whole number of %d-byte records (%s + %d "
                       "pixels): %lld complete records and %lld bytes left over (truncated "
                       "download?)",
                       path, size, record, labels, CIFAR_PIXELS_, size / record, size % record);
    *records = size / record;
    return LP_OK;
}

/* Reads `records` records of `path` into samples [first, first + records) of `out`. */
static lp_status read_file_(const variant_ *v, const char *path, long long records, long long first,
                            uint8_t *buf, lp_dataset *out) {
    const int record = record_bytes_(v);
    FILE *f = fopen(path, "rb");
    if (!f) return lp_fail(LP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    lp_status s = LP_OK;
    for (long long done = 0; s == LP_OK && done < records;) {
        long long want = records - done < CHUNK_RECORDS_ ? records - done : CHUNK_RECORDS_;
        size_t bytes = (size_t)want * (size_t)record;
        size_t got = fread(buf, 1, bytes, f);
        if (got != bytes) {
            s = ferror(f) ? lp_fail(LP_ERR_IO, "%s: read failed: %s", path, strerror(errno))
                          : lp_fail(LP_ERR_FORMAT,
                                    "%s: file ended after %lld of %lld bytes (changed while "
                                    "reading?)",
                                    path, done * record + (long long)got, records * record);
            break;
        }
        for (long long r = 0; r < want; ++r) {
            const uint8_t *rec = buf + (size_t)r * (size_t)record;
            long long sample = first + done + r;
            for (int l = 0; l < v->labels; ++l) {
                /* CIFAR-100 checks both label bytes, whichever it keeps */
                int classes = v->labels == 1 ? v->classes : l == 0 ? 20 : 100;
                if (rec[l] >= classes) {
                    s = lp_fail(LP_ERR_FORMAT, "%s: record %lld has %slabel %u, expected 0 to %d",
                                path, done + r,
                                v->labels == 1 ? ""
                                : l == 0       ? "coarse "
                                               : "fine ",
                                rec[l], classes - 1);
                    break;
                }
            }
            if (s != LP_OK) break;
            out->y[sample] = rec[v->label];
            /* the record's planes are already in NCHW order */
            float *x = out->x + (size_t)sample * CIFAR_PIXELS_;
            for (int i = 0; i < CIFAR_PIXELS_; ++i)
                x[i] = (float)rec[v->labels + i] / 255.0f;
        }
        done += want;
    }
    fclose(f);
    return s;
}

static lp_status load_(const variant_ *v, const char *fn, const char *dir, const char *split,
                       lp_dataset *out) {
    if (!dir || !split || !out)
        return lp_fail(LP_ERR_INVALID_ARG, "%s: dir, split and out are required", fn);
    memset(out, 0, sizeof *out);
    split_files_ sf;
    if (strcmp(split, "train") == 0)
        sf = v->train;
    else if (strcmp(split, "test") == 0)
        sf = v->test;
    else
        return lp_fail(LP_ERR_INVALID_ARG, "split \"%s\" is neither \"train\" nor \"test\"", split);

    char folder[4096], paths[5][4096 + 32];
    long long records[5], total = 0;
    LP_TRY(find_folder_(v, dir, split, &sf, folder, sizeof folder));
    for (int i = 0; i < sf.count; ++i) {
        snprintf(paths[i], sizeof paths[i], "%s/%s", folder, sf.files[i]);
        LP_TRY(count_records_(v, paths[i], split, &sf, folder, sf.files[i], &records[i]));
        total += records[i];
    }
    if (total > INT_MAX)
        return lp_fail(LP_ERR_FORMAT, "%s: %lld records are more than laperm handles", folder,
                       total);

    out->x = malloc((size_t)total * CIFAR_PIXELS_ * sizeof *out->x);
    out->y = malloc((size_t)total);
    uint8_t *buf = malloc((size_t)CHUNK_RECORDS_ * (size_t)record_bytes_(v));
    lp_status s = LP_OK;
    if (!out->x || !out->y || !buf)
        s = lp_fail(LP_ERR_NO_MEMORY, "%s: cannot allocate %lld %s images", folder, total,
                    v->title);
    for (int i = 0, first = 0; s == LP_OK && i < sf.count; first += (int)records[i++])
        s = read_file_(v, paths[i], records[i], first, buf, out);
    free(buf);
    if (s != LP_OK) {
        lp_dataset_free(out);
        return s;
    }
    out->n = (int)total;
    out->c = 3;
    out->h = out->w = CIFAR_SIDE_;
    out->classes = v->classes;
    return LP_OK;
}

lp_status lp_cifar10_load(const char *dir, const char *split, lp_dataset *out) {
    return load_(&cifar10_, "lp_cifar10_load", dir, split, out);
}

lp_status lp_cifar100_load(const char *dir, const char *split, lp_dataset *out) {
    return load_(&cifar100_fine_, "lp_cifar100_load", dir, split, out);
}

lp_status lp_cifar100_coarse_load(const char *dir, const char *split, lp_dataset *out) {
    return load_(&cifar100_coarse_, "lp_cifar100_coarse_load", dir, split, out);
}
