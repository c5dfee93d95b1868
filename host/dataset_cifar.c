/* CIFAR-10 binary batches (1 label byte, then 32x32 red, green and blue planes) read into
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

#define CIFAR_CLASSES_ 10
#define CIFAR_SIDE_ 32
#define CIFAR_PIXELS_ (3 * CIFAR_SIDE_ * CIFAR_SIDE_)
#define CIFAR_RECORD_ (1 + CIFAR_PIXELS_)
#define CIFAR_SUBDIR_ "cifar-10-batches-bin"
#define CIFAR_SOURCE_                                                                              \
    "unpack cifar-10-binary.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html"
/* Records converted per read: about 3 MB of file at a time. */
#define CHUNK_RECORDS_ 1000

typedef struct {
    const char *const *files;
    int count;
    const char *needs; /* for messages */
} split_files_;

static const char *const train_names_[] = {"data_batch_1.bin", "data_batch_2.bin",
                                           "data_batch_3.bin", "data_batch_4.bin",
                                           "data_batch_5.bin"};
static const char *const test_names_[] = {"test_batch.bin"};

static bool is_dir_(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool exists_(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* The folder holding the batches: `dir` itself when it has the split's first file, else
 * its cifar-10-batches-bin folder (the tarball unpacks into one) when that has it. */
static lp_status find_folder_(const char *dir, const char *split, const split_files_ *sf,
                              char *folder, size_t cap) {
    if (!is_dir_(dir))
        return lp_fail(
            LP_ERR_NOT_FOUND,
            "%s: no such folder; pass the folder of the CIFAR-10 binary version (" CIFAR_SOURCE_
            ")",
            dir);
    char path[4096];
    const char *cands[2] = {"", "/" CIFAR_SUBDIR_};
    for (int i = 0; i < 2; ++i) {
        if ((size_t)snprintf(folder, cap, "%s%s", dir, cands[i]) >= cap ||
            (size_t)snprintf(path, sizeof path, "%s/%s", folder, sf->files[0]) >= sizeof path)
            return lp_fail(LP_ERR_INVALID_ARG, "%s: folder path is too long", dir);
        if (exists_(path)) return LP_OK;
    }
    return lp_fail(LP_ERR_NOT_FOUND,
                   "%s: no %s here or in %s/" CIFAR_SUBDIR_ "; the CIFAR-10 %s split needs %s "
                   "(" CIFAR_SOURCE_ ")",
                   dir, sf->files[0], dir, split, sf->needs);
}

/* The number of records in `path`, from its size. */
static lp_status count_records_(const char *path, const char *split, const split_files_ *sf,
                                const char *folder, const char *name, long long *records) {
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT)
            return lp_fail(LP_ERR_NOT_FOUND, "%s: no %s; the CIFAR-10 %s split needs %s", folder,
                           name, split, sf->needs);
        return lp_fail(LP_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    }
    if (S_ISDIR(st.st_mode))
        return lp_fail(LP_ERR_FORMAT, "%s: is a folder, expected a CIFAR-10 batch file", path);
    long long size = (long long)st.st_size;
    if (size == 0)
        return lp_fail(LP_ERR_FORMAT,
                       "%s: empty file, expected records of %d bytes (1 label + %d pixels)", path,
                       CIFAR_RECORD_, CIFAR_PIXELS_);
    if (size % CIFAR_RECORD_ != 0)
        return lp_fail(LP_ERR_FORMAT,
                       "%s: %lld bytes is not a whole number of %d-byte records (1 label + %d "
                       "pixels): %lld complete records and %lld bytes left over (truncated "
                       "download?)",
                       path, size, CIFAR_RECORD_, CIFAR_PIXELS_, size / CIFAR_RECORD_,
                       size % CIFAR_RECORD_);
    *records = size / CIFAR_RECORD_;
    return LP_OK;
}

/* Reads `records` records of `path` into samples [first, first + records) of `out`. */
static lp_status read_file_(const char *path, long long records, long long first, uint8_t *buf,
                            lp_dataset *out) {
    FILE *f = fopen(path, "rb");
    if (!f) return lp_fail(LP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    lp_status s = LP_OK;
    for (long long done = 0; s == LP_OK && done < records;) {
        long long want = records - done < CHUNK_RECORDS_ ? records - done : CHUNK_RECORDS_;
        size_t bytes = (size_t)want * CIFAR_RECORD_;
        size_t got = fread(buf, 1, bytes, f);
        if (got != bytes) {
            s = ferror(f)
                    ? lp_fail(LP_ERR_IO, "%s: read failed: %s", path, strerror(errno))
                    : lp_fail(LP_ERR_FORMAT,
                              "%s: file ended after %lld of %lld bytes (changed while "
                              "reading?)",
                              path, done * CIFAR_RECORD_ + (long long)got, records * CIFAR_RECORD_);
            break;
        }
        for (long long r = 0; r < want; ++r) {
            const uint8_t *rec = buf + (size_t)r * CIFAR_RECORD_;
            long long sample = first + done + r;
            if (rec[0] >= CIFAR_CLASSES_) {
                s = lp_fail(LP_ERR_FORMAT, "%s: record %lld has label %u, expected 0 to %d", path,
                            done + r, rec[0], CIFAR_CLASSES_ - 1);
                break;
            }
            out->y[sample] = rec[0];
            /* the record's planes are already in NCHW order */
            float *x = out->x + (size_t)sample * CIFAR_PIXELS_;
            for (int i = 0; i < CIFAR_PIXELS_; ++i)
                x[i] = (float)rec[1 + i] / 255.0f;
        }
        done += want;
    }
    fclose(f);
    return s;
}

lp_status lp_cifar10_load(const char *dir, const char *split, lp_dataset *out) {
    if (!dir || !split || !out)
        return lp_fail(LP_ERR_INVALID_ARG, "lp_cifar10_load: dir, split and out are required");
    memset(out, 0, sizeof *out);
    split_files_ sf;
    if (strcmp(split, "train") == 0)
        sf = (split_files_){train_names_, 5, "data_batch_1.bin .. data_batch_5.bin"};
    else if (strcmp(split, "test") == 0)
        sf = (split_files_){test_names_, 1, "test_batch.bin"};
    else
        return lp_fail(LP_ERR_INVALID_ARG, "split \"%s\" is neither \"train\" nor \"test\"", split);

    char folder[4096], paths[5][4096 + 32];
    long long records[5], total = 0;
    LP_TRY(find_folder_(dir, split, &sf, folder, sizeof folder));
    for (int i = 0; i < sf.count; ++i) {
        snprintf(paths[i], sizeof paths[i], "%s/%s", folder, sf.files[i]);
        LP_TRY(count_records_(paths[i], split, &sf, folder, sf.files[i], &records[i]));
        total += records[i];
    }
    if (total > INT_MAX)
        return lp_fail(LP_ERR_FORMAT, "%s: %lld records are more than laperm handles", folder,
                       total);

    out->x = malloc((size_t)total * CIFAR_PIXELS_ * sizeof *out->x);
    out->y = malloc((size_t)total);
    uint8_t *buf = malloc((size_t)CHUNK_RECORDS_ * CIFAR_RECORD_);
    lp_status s = LP_OK;
    if (!out->x || !out->y || !buf)
        s = lp_fail(LP_ERR_NO_MEMORY, "%s: cannot allocate %lld CIFAR-10 images", folder, total);
    for (int i = 0, first = 0; s == LP_OK && i < sf.count; first += (int)records[i++])
        s = read_file_(paths[i], records[i], first, buf, out);
    free(buf);
    if (s != LP_OK) {
        lp_dataset_free(out);
        return s;
    }
    out->n = (int)total;
    out->c = 3;
    out->h = out->w = CIFAR_SIDE_;
    out->classes = CIFAR_CLASSES_;
    return LP_OK;
}
