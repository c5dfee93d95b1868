/* CIFAR-10 loading (generated batch files: valid ones read back exactly, each way a folder
 * can be wrong with the exact message), loading by dataset kind, and the normalisation
 * statistics against hand-computed values. */
#include "laperm/data.h"
#include "lp_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RECORD_ 3073
#define SOURCE_HINT_                                                                               \
    "unpack cifar-10-binary.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html"

/* ---- helpers ------------------------------------------------------------------------------- */

/* A fresh folder <tmp>/<name> (and its parents), returned in buf. */
static const char *make_dir_(char *buf, size_t cap, const char *name) {
    snprintf(buf, cap, "%s/%s", lp_test_tmpdir(), name);
    for (char *p = buf + strlen(lp_test_tmpdir()) + 1; *p; ++p)
        if (*p == '/') {
            *p = '\0';
            mkdir(buf, 0755);
            *p = '/';
        }
    mkdir(buf, 0755);
    return buf;
}

/* Pixel byte of record `rec` of file `file` at plane offset `p` (ch * 1024 + row * 32 + col):
 * varies with all three, and covers every byte value over a few records. */
static uint8_t pixel_(int file, int rec, int p) {
    return (uint8_t)(p * 7 + rec * 31 + file * 101 + p / 1024 * 50);
}

static uint8_t label_(int file, int rec) {
    return (uint8_t)((file * 3 + rec * 7) % 10);
}

/* Writes `records` records of batch `file` to dir/name, then `extra` bytes of a record. */
static void write_batch_(const char *dir, const char *name, int file, int records, int extra) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    CU_ASSERT_FATAL(f != NULL);
    uint8_t rec[RECORD_];
    for (int r = 0; r <= records; ++r) {
        rec[0] = label_(file, r);
        for (int p = 0; p < 3072; ++p)
            rec[1 + p] = pixel_(file, r, p);
        size_t len = r < records ? RECORD_ : (size_t)extra;
        CU_ASSERT_FATAL(fwrite(rec, 1, len, f) == len);
    }
    fclose(f);
}

static const int train_records_[5] = {2, 1, 3, 1, 2};

/* data_batch_1..5 (records as train_records_) and test_batch.bin (3 records) in dir. */
static void write_folder_(const char *dir) {
    for (int i = 0; i < 5; ++i) {
        char name[32];
        snprintf(name, sizeof name, "data_batch_%d.bin", i + 1);
        write_batch_(dir, name, i + 1, train_records_[i], 0);
    }
    write_batch_(dir, "test_batch.bin", 0, 3, 0);
}

/* Checks the status and the exact message; `want_fmt` may use %s up to three times. */
static void expect_fail_(lp_status got, lp_status want, const char *want_fmt, const char *p1,
                         const char *p2, const char *p3) {
    char want_msg[4096];
    snprintf(want_msg, sizeof want_msg, want_fmt, p1, p2, p3);
    CU_ASSERT_EQUAL(got, want);
    CU_ASSERT_STRING_EQUAL(lp_last_error(), want_msg);
    if (got != want || strcmp(lp_last_error(), want_msg) != 0)
        printf("\n  got  %s: %s\n  want %s: %s\n", lp_status_name(got), lp_last_error(),
               lp_status_name(want), want_msg);
}

static void expect_load_fail_(const char *dir, const char *split, lp_status want,
                              const char *want_fmt, const char *p1, const char *p2,
                              const char *p3) {
    lp_dataset ds;
    expect_fail_(lp_cifar10_load(dir, split, &ds), want, want_fmt, p1, p2, p3);
    CU_ASSERT_PTR_NULL(ds.x); /* nothing to free after a failure */
    CU_ASSERT_PTR_NULL(ds.y);
    CU_ASSERT_EQUAL(ds.n, 0);
}

/* Every sample of `ds` against the generator, files in order. */
static void check_samples_(const lp_dataset *ds, const int *file_of, const int *rec_of, int n) {
    CU_ASSERT_EQUAL_FATAL(ds->n, n);
    CU_ASSERT_EQUAL(ds->c, 3);
    CU_ASSERT_EQUAL(ds->h, 32);
    CU_ASSERT_EQUAL(ds->w, 32);
    CU_ASSERT_EQUAL(ds->classes, 10);
    int bad = 0;
    for (int s = 0; s < n; ++s) {
        CU_ASSERT_EQUAL(ds->y[s], label_(file_of[s], rec_of[s]));
        for (int p = 0; p < 3072; ++p)
            bad += ds->x[(size_t)s * 3072 + p] != (float)pixel_(file_of[s], rec_of[s], p) / 255.0f;
    }
    CU_ASSERT_EQUAL(bad, 0);
}

/* ---- CIFAR-10: valid folders --------------------------------------------------------------- */

static void test_valid(void) {
    char dir[512];
    write_folder_(make_dir_(dir, sizeof dir, "valid"));
    lp_dataset ds;
    lp_status s = lp_cifar10_load(dir, "train", &ds);
    if (s != LP_OK) printf("\n  %s\n", lp_last_error());
    CU_ASSERT_EQUAL_FATAL(s, LP_OK);
    int file_of[9], rec_of[9], n = 0;
    for (int f = 0; f < 5; ++f)
        for (int r = 0; r < train_records_[f]; ++r, ++n)
            file_of[n] = f + 1, rec_of[n] = r;
    check_samples_(&ds, file_of, rec_of, n);
    lp_dataset_free(&ds);

    CU_ASSERT_EQUAL_FATAL(lp_cifar10_load(dir, "test", &ds), LP_OK);
    check_samples_(&ds, (int[]){0, 0, 0}, (int[]){0, 1, 2}, 3);
    lp_dataset_free(&ds);
    lp_dataset_free(&ds); /* freeing twice is harmless */
}

/* Planes are red, green, blue, each row-major: a record with distinct planes and one
 * marked pixel per plane lands where NCHW says. */
static void test_channel_order(void) {
    char dir[512], path[1024];
    make_dir_(dir, sizeof dir, "planes");
    uint8_t rec[RECORD_];
    rec[0] = 9;
    memset(rec + 1, 10, 1024);
    memset(rec + 1 + 1024, 20, 1024);
    memset(rec + 1 + 2048, 30, 1024);
    rec[1 + 1 * 32 + 2] = 200;         /* red, row 1, column 2 */
    rec[1 + 1024 + 31 * 32 + 0] = 201; /* green, row 31, column 0 */
    rec[1 + 2048 + 0 * 32 + 31] = 255; /* blue, row 0, column 31 */
    snprintf(path, sizeof path, "%s/test_batch.bin", dir);
    FILE *f = fopen(path, "wb");
    CU_ASSERT_FATAL(f && fwrite(rec, 1, sizeof rec, f) == sizeof rec);
    fclose(f);

    lp_dataset ds;
    CU_ASSERT_EQUAL_FATAL(lp_cifar10_load(dir, "test", &ds), LP_OK);
    CU_ASSERT_EQUAL(ds.n, 1);
    CU_ASSERT_EQUAL(ds.y[0], 9);
    const float *x = ds.x;
    CU_ASSERT_EQUAL(x[0], 10.0f / 255.0f);
    CU_ASSERT_EQUAL(x[1024 + 5], 20.0f / 255.0f);
    CU_ASSERT_EQUAL(x[2048 + 1000], 30.0f / 255.0f);
    CU_ASSERT_EQUAL(x[(0 * 32 + 1) * 32 + 2], 200.0f / 255.0f);
    CU_ASSERT_EQUAL(x[(1 * 32 + 31) * 32 + 0], 201.0f / 255.0f);
    CU_ASSERT_EQUAL(x[(2 * 32 + 0) * 32 + 31], 1.0f);
    lp_dataset_free(&ds);
}

/* The tarball unpacks into cifar-10-batches-bin: its parent folder works too. */
static void test_subfolder(void) {
    char parent[512], dir[512];
    make_dir_(parent, sizeof parent, "parent");
    write_folder_(make_dir_(dir, sizeof dir, "parent/cifar-10-batches-bin"));
    lp_dataset ds;
    CU_ASSERT_EQUAL_FATAL(lp_cifar10_load(parent, "train", &ds), LP_OK);
    CU_ASSERT_EQUAL(ds.n, 9);
    lp_dataset_free(&ds);
    CU_ASSERT_EQUAL_FATAL(lp_cifar10_load(parent, "test", &ds), LP_OK);
    CU_ASSERT_EQUAL(ds.n, 3);
    CU_ASSERT_EQUAL(ds.y[2], label_(0, 2));
    lp_dataset_free(&ds);
}

/* ---- CIFAR-10: wrong folders and files ------------------------------------------------------ */

static void test_truncated(void) {
    char dir[512], path[1024];
    write_folder_(make_dir_(dir, sizeof dir, "truncated"));
    write_batch_(dir, "data_batch_3.bin", 3, 2, 100);
    snprintf(path, sizeof path, "%s/data_batch_3.bin", dir);
    expect_load_fail_(dir, "train", LP_ERR_FORMAT,
                      "%s: 6246 bytes is not a whole number of 3073-byte records (1 label + 3072 "
                      "pixels): 2 complete records and 100 bytes left over (truncated download?)",
                      path, NULL, NULL);
    /* shorter than one record */
    write_batch_(dir, "test_batch.bin", 0, 0, 3072);
    snprintf(path, sizeof path, "%s/test_batch.bin", dir);
    expect_load_fail_(dir, "test", LP_ERR_FORMAT,
                      "%s: 3072 bytes is not a whole number of 3073-byte records (1 label + 3072 "
                      "pixels): 0 complete records and 3072 bytes left over (truncated download?)",
                      path, NULL, NULL);
    write_batch_(dir, "test_batch.bin", 0, 0, 0);
    expect_load_fail_(dir, "test", LP_ERR_FORMAT,
                      "%s: empty file, expected records of 3073 bytes (1 label + 3072 pixels)",
                      path, NULL, NULL);
}

static void test_bad_label(void) {
    char dir[512], path[1024];
    write_folder_(make_dir_(dir, sizeof dir, "label"));
    snprintf(path, sizeof path, "%s/test_batch.bin", dir);
    FILE *f = fopen(path, "r+b");
    CU_ASSERT_FATAL(f != NULL);
    fseek(f, 2L * RECORD_, SEEK_SET); /* the label of record 2 */
    fputc(10, f);
    fclose(f);
    expect_load_fail_(dir, "test", LP_ERR_FORMAT, "%s: record 2 has label 10, expected 0 to 9",
                      path, NULL, NULL);

    snprintf(path, sizeof path, "%s/data_batch_5.bin", dir);
    f = fopen(path, "r+b");
    CU_ASSERT_FATAL(f != NULL);
    fputc(255, f); /* record 0 */
    fclose(f);
    expect_load_fail_(dir, "train", LP_ERR_FORMAT, "%s: record 0 has label 255, expected 0 to 9",
                      path, NULL, NULL);
}

static void test_missing(void) {
    char dir[512], path[1024], missing[1024];
    write_folder_(make_dir_(dir, sizeof dir, "missing"));
    snprintf(path, sizeof path, "%s/data_batch_4.bin", dir);
    CU_ASSERT_FATAL(remove(path) == 0);
    expect_load_fail_(dir, "train", LP_ERR_NOT_FOUND,
                      "%s: no data_batch_4.bin; the CIFAR-10 train split needs data_batch_1.bin "
                      ".. data_batch_5.bin",
                      dir, NULL, NULL);
    /* a folder where a batch file should be */
    mkdir(path, 0755);
    expect_load_fail_(dir, "train", LP_ERR_FORMAT,
                      "%s: is a folder, expected a CIFAR-10 batch file", path, NULL, NULL);

    make_dir_(dir, sizeof dir, "empty");
    expect_load_fail_(dir, "train", LP_ERR_NOT_FOUND,
                      "%s: no data_batch_1.bin here or in %s/cifar-10-batches-bin; the CIFAR-10 "
                      "train split needs data_batch_1.bin .. data_batch_5.bin (" SOURCE_HINT_ ")",
                      dir, dir, NULL);
    expect_load_fail_(dir, "test", LP_ERR_NOT_FOUND,
                      "%s: no test_batch.bin here or in %s/cifar-10-batches-bin; the CIFAR-10 "
                      "test split needs test_batch.bin (" SOURCE_HINT_ ")",
                      dir, dir, NULL);

    snprintf(missing, sizeof missing, "%s/no-such-folder", lp_test_tmpdir());
    expect_load_fail_(missing, "train", LP_ERR_NOT_FOUND,
                      "%s: no such folder; pass the folder of the CIFAR-10 binary version "
                      "(" SOURCE_HINT_ ")",
                      missing, NULL, NULL);
    expect_load_fail_(dir, "validation", LP_ERR_INVALID_ARG,
                      "split \"validation\" is neither \"train\" nor \"test\"", NULL, NULL, NULL);
    lp_dataset ds;
    CU_ASSERT_EQUAL(lp_cifar10_load(NULL, "train", &ds), LP_ERR_INVALID_ARG);
}

/* ---- loading by kind ------------------------------------------------------------------------ */

/* A tiny MNIST-layout folder: 2 train and 1 test image of 2x3. */
static void write_idx_(const char *dir, const char *name, int ndims, const uint32_t *dims,
                       const uint8_t *data, size_t len) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    CU_ASSERT_FATAL(f != NULL);
    uint8_t head[4] = {0, 0, 8, (uint8_t)ndims};
    fwrite(head, 1, 4, f);
    for (int i = 0; i < ndims; ++i) {
        uint8_t d[4] = {(uint8_t)(dims[i] >> 24), (uint8_t)(dims[i] >> 16), (uint8_t)(dims[i] >> 8),
                        (uint8_t)dims[i]};
        fwrite(d, 1, 4, f);
    }
    CU_ASSERT_FATAL(fwrite(data, 1, len, f) == len);
    fclose(f);
}

static void test_dispatch(void) {
    char cifar[512], mnist[512];
    write_folder_(make_dir_(cifar, sizeof cifar, "kind-cifar"));
    make_dir_(mnist, sizeof mnist, "kind-mnist");
    static const uint8_t pix[12] = {0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255};
    static const uint8_t lab[2] = {7, 3};
    write_idx_(mnist, "train-images-idx3-ubyte", 3, (uint32_t[]){2, 2, 3}, pix, 12);
    write_idx_(mnist, "train-labels-idx1-ubyte", 1, (uint32_t[]){2}, lab, 2);

    lp_dataset ds;
    CU_ASSERT_EQUAL_FATAL(lp_dataset_load("cifar10", cifar, "train", &ds), LP_OK);
    CU_ASSERT_EQUAL(ds.n, 9);
    CU_ASSERT_EQUAL(ds.c, 3);
    lp_dataset_free(&ds);
    for (int i = 0; i < 2; ++i) {
        CU_ASSERT_EQUAL_FATAL(lp_dataset_load(i ? "fashion-mnist" : "mnist", mnist, "train", &ds),
                              LP_OK);
        CU_ASSERT_EQUAL(ds.n, 2);
        CU_ASSERT_EQUAL(ds.c, 1);
        CU_ASSERT_EQUAL(ds.h, 2);
        CU_ASSERT_EQUAL(ds.w, 3);
        CU_ASSERT_EQUAL(ds.y[1], 3);
        CU_ASSERT_EQUAL(ds.x[11], 1.0f);
        lp_dataset_free(&ds);
    }
    /* the kind decides the format: a CIFAR folder is no MNIST folder */
    CU_ASSERT_EQUAL(lp_dataset_load("mnist", cifar, "train", &ds), LP_ERR_NOT_FOUND);
    CU_ASSERT_PTR_NULL(ds.x);
    expect_fail_(lp_dataset_load("cifar-100", cifar, "train", &ds), LP_ERR_INVALID_ARG,
                 "unknown dataset \"cifar-100\": expected mnist, fashion-mnist, cifar10, cifar100, "
                 "cifar100-coarse or hdf5",
                 NULL, NULL, NULL);
    CU_ASSERT_PTR_NULL(ds.x);
    CU_ASSERT_EQUAL(lp_dataset_load(NULL, cifar, "train", &ds), LP_ERR_INVALID_ARG);
}

/* ---- normalisation statistics ---------------------------------------------------------------- */

/* 2 samples of 2 channels of 1x2 pixels:
 *   channel 0: sample 0 {0, 1}, sample 1 {1, 0}       -> mean 0.5, std 0.5
 *   channel 1: sample 0 {0.25, 0.75}, sample 1 {0.25, 0.75} -> mean 0.5, std 0.25 */
static float small_x_[8] = {0, 1, 0.25f, 0.75f, 1, 0, 0.25f, 0.75f};

static lp_dataset small_set_(void) {
    static uint8_t y[2] = {0, 1};
    return (lp_dataset){.n = 2, .c = 2, .h = 1, .w = 2, .classes = 2, .x = small_x_, .y = y};
}

static void check_stats_(lp_norm_mode mode, const float *want_mean, const float *want_inv) {
    lp_dataset ds = small_set_();
    float mean[4], inv[4];
    lp_status s = lp_dataset_norm(&ds, mode, mean, inv);
    CU_ASSERT_EQUAL_FATAL(s, LP_OK);
    for (int f = 0; f < 4; ++f) {
        CU_ASSERT_EQUAL(mean[f], want_mean[f]);
        CU_ASSERT_EQUAL(inv[f], want_inv[f]);
        if (mean[f] != want_mean[f] || inv[f] != want_inv[f])
            printf("\n  %s feature %d: mean %.9g inv_std %.9g, want %.9g %.9g\n",
                   lp_norm_mode_name(mode), f, mean[f], inv[f], want_mean[f], want_inv[f]);
    }
}

static void test_norm_small(void) {
    check_stats_(LP_NORM_NONE, (float[]){0, 0, 0, 0}, (float[]){1, 1, 1, 1});
    /* Keras divides by std + 1e-6 */
    float i0 = (float)(1 / (0.5 + 1e-6)), i1 = (float)(1 / (0.25 + 1e-6));
    check_stats_(LP_NORM_PER_CHANNEL, (float[]){0.5f, 0.5f, 0.5f, 0.5f}, (float[]){i0, i0, i1, i1});
    /* per feature over the 2 samples: (0+1)/2, (1+0)/2, 0.25, 0.75 */
    check_stats_(LP_NORM_PER_PIXEL_MEAN, (float[]){0.5f, 0.5f, 0.25f, 0.75f},
                 (float[]){1, 1, 1, 1});
}

/* A constant channel has std 0: inv_std is 1e6 (finite), and the centred values are 0. */
static void test_norm_constant(void) {
    float x[6] = {0.2f, 0.2f, 0.2f, 0.6f, 0.4f, 0.2f};
    uint8_t y[2] = {0, 0};
    lp_dataset ds = {.n = 2, .c = 1, .h = 1, .w = 3, .classes = 1, .x = x, .y = y};
    float mean[3], inv[3];
    CU_ASSERT_EQUAL_FATAL(lp_dataset_norm(&ds, LP_NORM_PER_CHANNEL, mean, inv), LP_OK);
    /* mean (0.2*4 + 0.6 + 0.4) / 6 = 0.3; deviations -0.1 x4, 0.3, 0.1 -> var 0.14 / 6 */
    double m = ((double)x[0] + x[1] + x[2] + x[3] + x[4] + x[5]) / 6, sq = 0;
    for (int i = 0; i < 6; ++i)
        sq += (x[i] - m) * (x[i] - m);
    CU_ASSERT(fabs(mean[0] - 0.3) < 1e-7);
    CU_ASSERT(fabs(inv[0] - 1 / (sqrt(0.14 / 6) + 1e-6)) < 1e-5);
    CU_ASSERT_EQUAL(inv[2], (float)(1 / (sqrt(sq / 6) + 1e-6)));
    CU_ASSERT_EQUAL(mean[1], mean[0]);

    float c[4] = {0.5f, 0.5f, 0.5f, 0.5f};
    lp_dataset flat = {.n = 4, .c = 1, .h = 1, .w = 1, .classes = 1, .x = c, .y = y};
    CU_ASSERT_EQUAL_FATAL(lp_dataset_norm(&flat, LP_NORM_PER_CHANNEL, mean, inv), LP_OK);
    CU_ASSERT_EQUAL(mean[0], 0.5f);
    CU_ASSERT_EQUAL(inv[0], (float)1e6);
}

/* A larger generated set (3 channels, 4x5, 37 samples of bytes / 255) against a plain
 * double loop written independently of the library's. */
static void test_norm_generated(void) {
    enum { N = 37, C = 3, H = 4, W = 5, F = C * H * W };
    float *x = malloc(sizeof(float) * N * F);
    uint8_t y[N] = {0};
    CU_ASSERT_FATAL(x != NULL);
    uint64_t rng = 42;
    for (int i = 0; i < N * F; ++i)
        x[i] = (float)(lp_test_next(&rng) % 256) / 255.0f;
    lp_dataset ds = {.n = N, .c = C, .h = H, .w = W, .classes = 10, .x = x, .y = y};
    float mean[F], inv[F];
    CU_ASSERT_EQUAL_FATAL(lp_dataset_norm(&ds, LP_NORM_PER_PIXEL_MEAN, mean, inv), LP_OK);
    for (int f = 0; f < F; ++f) {
        double s = 0;
        for (int n = 0; n < N; ++n)
            s += x[n * F + f];
        CU_ASSERT_EQUAL(mean[f], (float)(s / N));
        CU_ASSERT_EQUAL(inv[f], 1.0f);
    }
    CU_ASSERT_EQUAL_FATAL(lp_dataset_norm(&ds, LP_NORM_PER_CHANNEL, mean, inv), LP_OK);
    for (int ch = 0; ch < C; ++ch) {
        double s = 0, sq = 0;
        for (int n = 0; n < N; ++n)
            for (int p = 0; p < H * W; ++p)
                s += x[n * F + ch * H * W + p];
        double m = s / (N * H * W);
        for (int n = 0; n < N; ++n)
            for (int p = 0; p < H * W; ++p)
                sq += (x[n * F + ch * H * W + p] - m) * (x[n * F + ch * H * W + p] - m);
        float inv_want = (float)(1 / (sqrt(sq / (N * H * W)) + 1e-6));
        for (int p = 0; p < H * W; ++p) {
            CU_ASSERT_EQUAL(mean[ch * H * W + p], (float)m);
            CU_ASSERT_EQUAL(inv[ch * H * W + p], inv_want);
        }
    }
    free(x);
}

static void test_norm_arguments(void) {
    lp_dataset ds = small_set_(), empty = {0};
    float mean[4], inv[4];
    expect_fail_(lp_dataset_norm(&empty, LP_NORM_NONE, mean, inv), LP_ERR_INVALID_ARG,
                 "lp_dataset_norm: the training set is empty (0 samples of 0x0x0)", NULL, NULL,
                 NULL);
    CU_ASSERT_EQUAL(lp_dataset_norm(&ds, LP_NORM_NONE, NULL, inv), LP_ERR_INVALID_ARG);
    expect_fail_(lp_dataset_norm(&ds, (lp_norm_mode)7, mean, inv), LP_ERR_INVALID_ARG,
                 "lp_dataset_norm: unknown mode 7", NULL, NULL, NULL);

    lp_norm_mode m = LP_NORM_NONE;
    CU_ASSERT_EQUAL(lp_norm_mode_parse("per-channel", &m), LP_OK);
    CU_ASSERT_EQUAL(m, LP_NORM_PER_CHANNEL);
    CU_ASSERT_EQUAL(lp_norm_mode_parse("per-pixel-mean", &m), LP_OK);
    CU_ASSERT_EQUAL(m, LP_NORM_PER_PIXEL_MEAN);
    CU_ASSERT_EQUAL(lp_norm_mode_parse("none", &m), LP_OK);
    CU_ASSERT_EQUAL(m, LP_NORM_NONE);
    expect_fail_(lp_norm_mode_parse("zca", &m), LP_ERR_INVALID_ARG,
                 "unknown normalisation \"zca\": expected none, per-channel or per-pixel-mean",
                 NULL, NULL, NULL);
    CU_ASSERT_STRING_EQUAL(lp_norm_mode_name(LP_NORM_PER_PIXEL_MEAN), "per-pixel-mean");
    CU_ASSERT_STRING_EQUAL(lp_norm_mode_name((lp_norm_mode)9), "unknown");
}

/* ---- the real data, when it is there ----------------------------------------------------------
 */

static void test_real_cifar(void) {
    const char *dir = getenv("LAPERM_CIFAR10_DIR");
    if (!dir) dir = lp_test_source_path("data/cifar10");
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        printf("\n  note: %s is absent, real CIFAR-10 not checked (set LAPERM_CIFAR10_DIR)\n", dir);
        return;
    }
    static const struct {
        const char *split;
        int n, y0, y1;
    } want[2] = {{"train", 50000, 6, 9}, {"test", 10000, 3, 8}};
    for (int i = 0; i < 2; ++i) {
        lp_dataset ds;
        lp_status s = lp_cifar10_load(dir, want[i].split, &ds);
        if (s != LP_OK) printf("\n  %s\n", lp_last_error());
        CU_ASSERT_EQUAL_FATAL(s, LP_OK);
        CU_ASSERT_EQUAL(ds.n, want[i].n);
        CU_ASSERT_EQUAL(ds.y[0], want[i].y0);
        CU_ASSERT_EQUAL(ds.y[1], want[i].y1);
        int seen[10] = {0};
        for (int k = 0; k < ds.n; ++k)
            seen[ds.y[k]]++;
        for (int k = 0; k < 10; ++k)
            CU_ASSERT_EQUAL(seen[k], ds.n / 10);
        lp_dataset_free(&ds);
    }
}

/* ---- CIFAR-100 ------------------------------------------------------------------------------ */

#define RECORD100_ (2 + 3072)

/* `records` CIFAR-100 records to dir/name (coarse r % 20, fine (r * 7 + file) % 100), then
 * `extra` bytes of one more; `bad` >= 0: record `bad` gets coarse label 20. */
static void write_c100_(const char *dir, const char *name, int file, int records, int extra,
                        int bad) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    CU_ASSERT_FATAL(f != NULL);
    uint8_t rec[RECORD100_];
    for (int r = 0; r <= records; ++r) {
        rec[0] = (uint8_t)(r == bad ? 20 : r % 20);
        rec[1] = (uint8_t)((r * 7 + file) % 100);
        for (int p = 0; p < 3072; ++p)
            rec[2 + p] = pixel_(file, r, p);
        size_t len = r < records ? RECORD100_ : (size_t)extra;
        CU_ASSERT_FATAL(fwrite(rec, 1, len, f) == len);
    }
    fclose(f);
}

static void test_cifar100(void) {
    char dir[512], parent[512];
    make_dir_(parent, sizeof parent, "c100");
    make_dir_(dir, sizeof dir, "c100/cifar-100-binary"); /* the tarball's folder */
    write_c100_(dir, "train.bin", 1, 5, 0, -1);
    write_c100_(dir, "test.bin", 2, 3, 0, -1);
    lp_dataset ds;
    CU_ASSERT_EQUAL_FATAL(lp_cifar100_load(parent, "train", &ds), LP_OK);
    CU_ASSERT_EQUAL(ds.n, 5);
    CU_ASSERT_EQUAL(ds.classes, 100);
    CU_ASSERT(ds.c == 3 && ds.h == 32 && ds.w == 32);
    int bad = 0;
    for (int r = 0; r < 5; ++r) {
        CU_ASSERT_EQUAL(ds.y[r], (r * 7 + 1) % 100);
        for (int p = 0; p < 3072; ++p)
            bad += ds.x[(size_t)r * 3072 + p] != (float)pixel_(1, r, p) / 255.0f;
    }
    CU_ASSERT_EQUAL(bad, 0);
    lp_dataset_free(&ds);
    CU_ASSERT_EQUAL_FATAL(lp_dataset_load("cifar100-coarse", dir, "test", &ds), LP_OK);
    CU_ASSERT_EQUAL(ds.n, 3);
    CU_ASSERT_EQUAL(ds.classes, 20);
    for (int r = 0; r < 3; ++r)
        CU_ASSERT_EQUAL(ds.y[r], r % 20);
    lp_dataset_free(&ds);
}

static void test_cifar100_errors(void) {
    char dir[512], path[1024];
    make_dir_(dir, sizeof dir, "c100-bad");
    write_c100_(dir, "train.bin", 1, 4, 0, 2);
    write_c100_(dir, "test.bin", 2, 2, 100, -1);
    lp_dataset ds;
    snprintf(path, sizeof path, "%s/train.bin", dir);
    expect_fail_(lp_cifar100_load(dir, "train", &ds), LP_ERR_FORMAT,
                 "%s: record 2 has coarse label 20, expected 0 to 19", path, NULL, NULL);
    CU_ASSERT_PTR_NULL(ds.x);
    snprintf(path, sizeof path, "%s/test.bin", dir);
    expect_fail_(lp_cifar100_coarse_load(dir, "test", &ds), LP_ERR_FORMAT,
                 "%s: 6248 bytes is not a whole number of 3074-byte records (2 labels + 3072 "
                 "pixels): 2 complete records and 100 bytes left over (truncated download?)",
                 path, NULL, NULL);
    char empty[512];
    make_dir_(empty, sizeof empty, "c100-empty");
    expect_fail_(lp_cifar100_load(empty, "test", &ds), LP_ERR_NOT_FOUND,
                 "%s: no test.bin here or in %s/cifar-100-binary; the CIFAR-100 test split needs "
                 "test.bin (unpack cifar-100-binary.tar.gz from "
                 "https://www.cs.toronto.edu/~kriz/cifar.html)",
                 empty, empty, NULL);
}

static void register_suites(void) {
    CU_pSuite cifar = CU_add_suite("cifar10", NULL, NULL);
    CU_add_test(cifar, "valid batches read back exactly, in file order", test_valid);
    CU_add_test(cifar, "red, green, blue planes land in NCHW order", test_channel_order);
    CU_add_test(cifar, "batches inside cifar-10-batches-bin", test_subfolder);
    CU_add_test(cifar, "truncated and empty files", test_truncated);
    CU_add_test(cifar, "labels of 10 and more", test_bad_label);
    CU_add_test(cifar, "missing folder, batch file, bad split", test_missing);
    CU_add_test(cifar, "real CIFAR-10 (if present)", test_real_cifar);
    CU_pSuite c100 = CU_add_suite("cifar100", NULL, NULL);
    CU_add_test(c100, "fine and coarse labels, cifar-100-binary folder", test_cifar100);
    CU_add_test(c100, "bad label, truncated file, missing file", test_cifar100_errors);
    CU_pSuite kind = CU_add_suite("dataset kinds", NULL, NULL);
    CU_add_test(kind, "mnist, fashion-mnist, cifar10 and unknown kinds", test_dispatch);
    CU_pSuite norm = CU_add_suite("normalisation", NULL, NULL);
    CU_add_test(norm, "none, per-channel, per-pixel-mean on a 2-sample set", test_norm_small);
    CU_add_test(norm, "constant channels stay finite", test_norm_constant);
    CU_add_test(norm, "generated set against an independent loop", test_norm_generated);
    CU_add_test(norm, "bad arguments and mode names", test_norm_arguments);
}

int main(void) {
    return lp_test_main("test_cifar", register_suites);
}
